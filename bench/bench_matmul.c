/* bench/bench_matmul.c: ol_cpu_matmul speed per kernel tier. Decode shapes (1 token) report GB/s
 * of weights streamed, with enough copies of the matrix to defeat the caches (as in a real
 * forward pass); prefill shapes (512 tokens) report GFLOP/s. Not a test.
 * Build (after building the library in build-kern):
 *   gcc -O2 -march=x86-64-v3 -Isrc bench/bench_matmul.c build-kern/libopenlora_core.a \
 *       -lm -lpthread -lpcre2-8 -o build-kern/bench_matmul
 * Run: build-kern/bench_matmul [n_threads (2)] [filter: decode|prefill|kernel|all (all)]
 * "kernel" times one vec_dot call on cache-hot data (min over many tries, so it is robust to
 * a busy machine) and reports GMAC/s of the micro-kernel alone for nc = 1 and 8. */
#include "backend/cpu/cpu.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    ol_dtype t;
    int64_t n_out, n_in, n_tok;
} shape;

static const shape SHAPES[] = {
    {"output head", OL_DTYPE_Q8_0, 262144, 640, 1}, {"ffn_up/gate", OL_DTYPE_Q5_0, 2048, 640, 1},
    {"attn_q", OL_DTYPE_Q8_0, 1024, 640, 1},        {"ffn_down", OL_DTYPE_Q4_K, 640, 2048, 1},
    {"ffn_down", OL_DTYPE_Q6_K, 640, 2048, 1},      {"ffn_down", OL_DTYPE_Q5_K, 640, 2048, 1},
    {"ffn_up", OL_DTYPE_Q4_0, 2048, 640, 1},        {"ffn_up", OL_DTYPE_Q4_1, 2048, 640, 1},
    {"ffn_up", OL_DTYPE_Q5_1, 2048, 640, 1},        {"ffn_up", OL_DTYPE_F16, 2048, 640, 1},
    {"ffn_up", OL_DTYPE_BF16, 2048, 640, 1},        {"ffn_up", OL_DTYPE_F32, 2048, 640, 1},
    {"ffn_up/gate", OL_DTYPE_Q5_0, 2048, 640, 512}, {"attn_q", OL_DTYPE_Q8_0, 1024, 640, 512},
    {"ffn_down", OL_DTYPE_Q4_K, 640, 2048, 512},    {"ffn_down", OL_DTYPE_Q6_K, 640, 2048, 512},
    {"ffn_down", OL_DTYPE_Q5_K, 640, 2048, 512},    {"ffn_up", OL_DTYPE_Q4_0, 2048, 640, 512},
    {"ffn_up", OL_DTYPE_F16, 2048, 640, 512},       {"ffn_up", OL_DTYPE_BF16, 2048, 640, 512},
};

static uint64_t rng = 88172645463325252ull;
static uint32_t urand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static void fill_weights(ol_dtype t, uint8_t *p, int64_t n_in, int64_t rows) {
    float x[4096];
    size_t rb = ol_dtype_row_bytes(t, n_in);
    for (int64_t r = 0; r < rows; r++) {
        if (r < 64) {
            for (int64_t i = 0; i < n_in; i++) x[i] = (float)(urand() >> 8) / 8388608.0f - 1.0f;
            ol_quant_weights_ref(t, x, p + r * rb, n_in);
        } else {
            memcpy(p + r * rb, p + (r % 64) * rb, rb);
        }
    }
}

static double run_shape(ol_cpu *cpu, const shape *s) {
    size_t rb = ol_dtype_row_bytes(s->t, s->n_in), bytes = rb * s->n_out;
    /* decode: rotate through copies totalling >= 512 MB so weights come from DRAM */
    int n_copies = s->n_tok == 1 ? (int)OL_MAX(1, (512u << 20) / bytes) : 1;
    uint8_t *w = ol_alloc_aligned(bytes * n_copies);
    fill_weights(s->t, w, s->n_in, s->n_out);
    for (int c = 1; c < n_copies; c++) memcpy(w + c * bytes, w, bytes);
    float *x = malloc(sizeof(float) * s->n_in * s->n_tok);
    for (int64_t i = 0; i < s->n_in * s->n_tok; i++)
        x[i] = (float)(urand() >> 8) / 8388608.0f - 1.0f;
    float *y = malloc(sizeof(float) * s->n_out * s->n_tok);
    ol_tensor tw = {.name = s->name,
                    .dtype = s->t,
                    .n_dims = 2,
                    .ne = {s->n_in, s->n_out, 1, 1},
                    .row_bytes = rb};
    double total = 0, best = 1e30;
    int iters = 0;
    uint64_t t_start = ol_time_ns();
    for (int rep = 0; rep < 1000000 && (ol_time_ns() - t_start < 600000000ull || iters < 3);
         rep++) {
        tw.data = w + (rep % n_copies) * bytes;
        uint64_t t0 = ol_time_ns();
        ol_cpu_matmul(cpu, &tw, x, s->n_tok, y, s->n_out);
        double dt = (double)(ol_time_ns() - t0) * 1e-9;
        if (rep >= 1) total += dt, iters++; /* weights are cold on each decode call */
        if (rep >= 1 && dt < best) best = dt;
    }
    ol_free_aligned(w);
    free(x);
    free(y);
    /* decode: mean (cold weights each call); prefill: best (robust to a busy machine) */
    return s->n_tok == 1 ? total / iters : best;
}

/* Micro-kernel alone: 16 weight rows x 8 act rows of N, hot in L1/L2; min time over tries. */
static void bench_kernels(ol_cpu_tier tier, int N) {
    static const ol_dtype ts[] = {OL_DTYPE_Q8_0, OL_DTYPE_Q5_0, OL_DTYPE_Q4_0, OL_DTYPE_Q4_1,
                                  OL_DTYPE_Q5_1, OL_DTYPE_Q4_K, OL_DTYPE_Q5_K, OL_DTYPE_Q6_K,
                                  OL_DTYPE_F16,  OL_DTYPE_BF16, OL_DTYPE_F32};
    ol_cpu_kernels k;
    ol_cpu_kernels_get(tier, &k);
    enum { ROWS = 16 };
    for (size_t i = 0; i < OL_ARRAY_LEN(ts); i++) {
        ol_dtype t = ts[i];
        if (!k.vec_dot[t]) continue;
        size_t rb = ol_dtype_row_bytes(t, N);
        size_t st = (ol_cpu_act_row_bytes(&k, t, N) + 63) & ~(size_t)63;
        uint8_t *w = ol_alloc_aligned(rb * ROWS), *a = ol_alloc_aligned(st * 8);
        fill_weights(t, w, N, ROWS);
        float x[4096];
        for (int c = 0; c < 8; c++) {
            for (int j = 0; j < N; j++) x[j] = (float)(urand() >> 8) / 8388608.0f - 1.0f;
            k.quant_row[t](x, a + c * st, N);
        }
        if (N % ol_dtype_block_elems(t)) continue;
        printf("kernel %-5s n=%-5d", ol_dtype_name(t), N);
        for (int nc = 1; nc <= 8; nc += 7) {
            double best = 1e30;
            float out[8];
            for (int tries = 0; tries < 2000; tries++) {
                uint64_t t0 = ol_time_ns();
                for (int r = 0; r < ROWS; r++) k.vec_dot[t](N, w + r * rb, a, st, nc, out);
                double dt = (double)(ol_time_ns() - t0) * 1e-9;
                if (dt < best) best = dt;
            }
            printf("  nc=%d %6.1f GMAC/s (%5.1f GB/s of weights)", nc,
                   (double)N * ROWS * nc / best * 1e-9, (double)rb * ROWS / best * 1e-9);
        }
        if (k.vec_dot_2r[t]) {
            double best = 1e30;
            float out[16];
            for (int tries = 0; tries < 2000; tries++) {
                uint64_t t0 = ol_time_ns();
                for (int r = 0; r < ROWS; r += 2) k.vec_dot_2r[t](N, w + r * rb, rb, a, st, 8, out);
                double dt = (double)(ol_time_ns() - t0) * 1e-9;
                if (dt < best) best = dt;
            }
            printf("  2 rows nc=8 %6.1f GMAC/s", (double)N * ROWS * 8 / best * 1e-9);
        }
        printf("\n");
        ol_free_aligned(w);
        ol_free_aligned(a);
    }
}

int main(int argc, char **argv) {
    int nth = argc > 1 ? atoi(argv[1]) : 2;
    const char *filter = argc > 2 ? argv[2] : "all";
    if (!strcmp(filter, "kernel")) {
        for (int ti = OL_CPU_TIER_AVX2; ti < OL_CPU_TIER_COUNT; ti++) {
            printf("== tier %s micro-kernels\n", ol_cpu_tier_name((ol_cpu_tier)ti));
            bench_kernels((ol_cpu_tier)ti, 640);
            bench_kernels((ol_cpu_tier)ti, 2048);
        }
        return 0;
    }
    int do_decode = !strcmp(filter, "decode") || !strcmp(filter, "all");
    int do_prefill = !strcmp(filter, "prefill") || !strcmp(filter, "all");
    for (int ti = OL_CPU_TIER_AVX2; ti < OL_CPU_TIER_COUNT; ti++) {
        ol_err err;
        ol_cpu *cpu = ol_cpu_create(nth, (ol_cpu_tier)ti, &err);
        if (!cpu) continue;
        printf("== tier %s, %d threads\n", ol_cpu_tier_name((ol_cpu_tier)ti), nth);
        for (size_t i = 0; i < OL_ARRAY_LEN(SHAPES); i++) {
            const shape *s = &SHAPES[i];
            if ((s->n_tok == 1 && !do_decode) || (s->n_tok > 1 && !do_prefill)) continue;
            double t = run_shape(cpu, s);
            size_t bytes = ol_dtype_row_bytes(s->t, s->n_in) * s->n_out;
            double flop = 2.0 * s->n_out * s->n_in * s->n_tok;
            if (s->n_tok == 1)
                printf("decode  %-12s %-5s %6lld x %-5lld %8.1f us  %6.1f GB/s\n", s->name,
                       ol_dtype_name(s->t), (long long)s->n_out, (long long)s->n_in, t * 1e6,
                       bytes / t * 1e-9);
            else
                printf("prefill %-12s %-5s %6lld x %-5lld x %lld tok %8.1f us  %6.1f GFLOP/s\n",
                       s->name, ol_dtype_name(s->t), (long long)s->n_out, (long long)s->n_in,
                       (long long)s->n_tok, t * 1e6, flop / t * 1e-9);
            fflush(stdout);
        }
        ol_cpu_destroy(cpu);
    }
    return 0;
}
