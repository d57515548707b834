/* tests/unit/backend/test_kernels.c: every SIMD tier this CPU runs (AVX2, AVX-512) against the
 * _ref tier for every dtype: activation quantization (bit-exact for the standard row), vec_dot
 * and vec_dot_2r for nc = 1..8 on random blocks (and that a row's result is bit-identical for
 * every nc: batch invariance), and ol_cpu_matmul / ol_cpu_matmul_rows on shapes that split
 * rows and tokens over 1 and 2 threads.
 * Tolerance: integer sums are exact in every tier, so results differ from _ref only by float
 * summation order: |got - ref| <= 2e-5 * Σ|w_i·a_i| (+1e-6), the same for all dtypes. */
#include "backend/cpu/cpu.h"
#include "test.h"

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t urand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static float frand(void) {
    return (float)(urand() >> 8) * (1.0f / 8388608.0f) - 1.0f;
}

static const ol_dtype WTYPES[] = {OL_DTYPE_F32,  OL_DTYPE_F16,  OL_DTYPE_BF16, OL_DTYPE_Q4_0,
                                  OL_DTYPE_Q4_1, OL_DTYPE_Q5_0, OL_DTYPE_Q5_1, OL_DTYPE_Q8_0,
                                  OL_DTYPE_Q4_K, OL_DTYPE_Q5_K, OL_DTYPE_Q6_K};

/* f16 field offsets per block that must hold finite values */
static void f16_fields(ol_dtype t, int off[2], int *n) {
    *n = 0;
    switch (t) {
    case OL_DTYPE_Q4_0:
    case OL_DTYPE_Q5_0:
    case OL_DTYPE_Q8_0:
        off[(*n)++] = 0;
        break;
    case OL_DTYPE_Q4_1:
    case OL_DTYPE_Q5_1:
    case OL_DTYPE_Q4_K:
    case OL_DTYPE_Q5_K:
        off[(*n)++] = 0, off[(*n)++] = 2;
        break;
    case OL_DTYPE_Q6_K:
        off[(*n)++] = 208;
        break;
    default:
        break;
    }
}

/* n_rows random rows of type t: random bytes (every bit pattern of q, scales, mins) with
 * f16 scales in a sane range; float types get random floats. */
static void rand_weights(ol_dtype t, int64_t n, int64_t n_rows, uint8_t *dst) {
    size_t rb = ol_dtype_row_bytes(t, n);
    for (int64_t r = 0; r < n_rows; r++) {
        uint8_t *row = dst + r * rb;
        if (t == OL_DTYPE_F32 || t == OL_DTYPE_F16 || t == OL_DTYPE_BF16) {
            float tmp[4096];
            for (int64_t i = 0; i < n; i++) tmp[i] = frand();
            ol_quant_row_ref(t, tmp, row, n);
            continue;
        }
        for (size_t i = 0; i < rb; i++) row[i] = (uint8_t)urand();
        int off[2], nf;
        f16_fields(t, off, &nf);
        int bb = ol_dtype_block_bytes(t);
        for (int64_t b = 0; b < (int64_t)(rb / bb); b++)
            for (int f = 0; f < nf; f++) {
                ol_f16 h = ol_f32_to_f16(frand() * 0.01f);
                memcpy(row + b * bb + off[f], &h, 2);
            }
    }
}

static void rand_acts(float *x, int64_t n) {
    float scale = 0.5f + 4.0f * (frand() + 1.0f);
    for (int64_t i = 0; i < n; i++) x[i] = frand() * scale;
    if (n >= 64) memset(x + 32, 0, 32 * sizeof(float)); /* an all-zero block */
}

/* Σ|w_i·a_i| over dequantized values: the scale of a dot product's rounding error. */
static double dot_mag(ol_dtype t, int64_t n, const void *w, const void *a) {
    float *wd = malloc(n * sizeof(float)), *ad = malloc(n * sizeof(float));
    ol_dequant_row_ref(t, w, wd, n);
    ol_dequant_row_ref(ol_dtype_vec_dot_type(t), a, ad, n);
    double m = 0;
    for (int64_t i = 0; i < n; i++) m += fabs((double)wd[i] * ad[i]);
    free(wd);
    free(ad);
    return m;
}

#define TOL(mag) (2e-5 * (mag) + 1e-6)

static void check_tier_dtype(ol_cpu_tier tier, const ol_cpu_kernels *k, ol_dtype t, int64_t n) {
    const char *tn = ol_cpu_tier_name(tier), *dn = ol_dtype_name(t);
    size_t std_bytes = ol_dtype_row_bytes(ol_dtype_vec_dot_type(t), n);
    size_t stride = (ol_cpu_act_row_bytes(k, t, n) + 63) & ~(size_t)63;
    float *x = malloc(8 * n * sizeof(float));
    uint8_t *act = ol_alloc_aligned(8 * stride), *ref = malloc(std_bytes);
    size_t rb = ol_dtype_row_bytes(t, n);
    uint8_t *w = malloc(2 * rb); /* two rows, for vec_dot_2r */
    rand_weights(t, n, 2, w);
    int bad_q = 0, bad_d = 0;
    for (int c = 0; c < 8; c++) {
        rand_acts(x + c * n, n);
        k->quant_row[t](x + c * n, act + c * stride, n);
        ol_quant_row_ref(t, x + c * n, ref, n);
        if (memcmp(act + c * stride, ref, std_bytes) != 0 && bad_q++ < 3) {
            size_t i = 0;
            while (act[c * stride + i] == ref[i]) i++;
            fprintf(stderr, "%s quant_row %s n=%lld row %d: byte %zu differs: %d vs %d\n", tn, dn,
                    (long long)n, c, i, act[c * stride + i], ref[i]);
        }
    }
    CHECK_EQ_INT(bad_q, 0);
    for (int nc = 1; nc <= 8; nc++) {
        float out[8];
        k->vec_dot[t](n, w, act, stride, nc, out);
        for (int c = 0; c < nc; c++) {
            const uint8_t *a = act + c * stride;
            float want = ol_vec_dot_ref(t, n, w, a);
            double tol = TOL(dot_mag(t, n, w, a));
            if (!(fabs(out[c] - want) <= tol) && bad_d++ < 3)
                fprintf(stderr, "%s %s n=%lld nc=%d c=%d: got %.9g want %.9g tol %.3g\n", tn, dn,
                        (long long)n, nc, c, out[c], want, tol);
        }
    }
    CHECK_EQ_INT(bad_d, 0);
    /* batch invariance: a row's result is bit-identical whatever nc (and the 2-row kernel)
     * it was computed with, so serving results do not depend on the batch composition */
    float one[8], all[8], two[2 * OL_CPU_MAX_NC];
    int bad_inv = 0;
    for (int c = 0; c < 8; c++) k->vec_dot[t](n, w, act + c * stride, stride, 1, &one[c]);
    k->vec_dot[t](n, w, act, stride, 8, all);
    for (int c = 0; c < 8; c++) bad_inv += memcmp(&one[c], &all[c], sizeof(float)) != 0;
    if (k->vec_dot_2r[t]) {
        k->vec_dot_2r[t](n, w, rb, act, stride, 8, two);
        for (int c = 0; c < 8; c++) bad_inv += memcmp(&one[c], &two[c], sizeof(float)) != 0;
    }
    if (bad_inv) fprintf(stderr, "%s %s n=%lld: result depends on nc\n", tn, dn, (long long)n);
    CHECK_EQ_INT(bad_inv, 0);
    for (int nc = 1; nc <= 8 && k->vec_dot_2r[t]; nc++) {
        float out[2 * OL_CPU_MAX_NC];
        k->vec_dot_2r[t](n, w, rb, act, stride, nc, out);
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < nc; c++) {
                const uint8_t *a = act + c * stride;
                float want = ol_vec_dot_ref(t, n, w + r * rb, a);
                double tol = TOL(dot_mag(t, n, w + r * rb, a));
                float got = out[r * OL_CPU_MAX_NC + c];
                if (!(fabs(got - want) <= tol) && bad_d++ < 3)
                    fprintf(stderr, "%s %s 2r n=%lld nc=%d r=%d c=%d: got %.9g want %.9g\n", tn, dn,
                            (long long)n, nc, r, c, got, want);
            }
    }
    CHECK_EQ_INT(bad_d, 0);
    free(x);
    ol_free_aligned(act);
    free(ref);
    free(w);
}

static void check_kernels(void) {
    for (int ti = OL_CPU_TIER_AVX2; ti < OL_CPU_TIER_COUNT; ti++) {
        ol_cpu_tier tier = (ol_cpu_tier)ti;
        ol_cpu_kernels k;
        ol_cpu_kernels_get(tier, &k);
        int any = 0;
        for (size_t i = 0; i < OL_ARRAY_LEN(WTYPES); i++) {
            ol_dtype t = WTYPES[i];
            if (!k.vec_dot[t]) continue;
            any = 1;
            CHECK(k.quant_row[t] != NULL);
            int be = ol_dtype_block_elems(t);
            /* lengths: one block, odd block counts, a partial gather group, big rows */
            int64_t lens_f[] = {1, 17, 100, 640, 2048};
            int64_t lens_32[] = {32, 96, 640, 1056, 2048};
            int64_t lens_k[] = {256, 768, 1024, 2560, 256 * 9};
            int64_t *lens = be == 1 ? lens_f : be == 32 ? lens_32 : lens_k;
            for (int j = 0; j < 5; j++) check_tier_dtype(tier, &k, t, lens[j]);
        }
        printf("tier %s: %s\n", ol_cpu_tier_name(tier), any ? "tested" : "not available");
    }
}

/* ol_cpu_matmul(_rows) of a tier against vec_dot_ref row by row. */
static void check_matmul_case(ol_cpu *cpu, ol_dtype t, int64_t n_in, int64_t n_out, int64_t n_tok,
                              int64_t row0, int64_t n_rows) {
    size_t rb = ol_dtype_row_bytes(t, n_in);
    uint8_t *wd = malloc(rb * n_out);
    rand_weights(t, n_in, n_out, wd);
    ol_tensor w = {.name = "w",
                   .dtype = t,
                   .n_dims = 2,
                   .ne = {n_in, n_out, 1, 1},
                   .row_bytes = rb,
                   .data = wd};
    float *x = malloc(n_tok * n_in * sizeof(float));
    for (int64_t i = 0; i < n_tok; i++) rand_acts(x + i * n_in, n_in);
    int64_t ldy = n_rows + 3;
    float *y = malloc(n_tok * ldy * sizeof(float));
    for (int64_t i = 0; i < n_tok * ldy; i++) y[i] = NAN;
    int rc = row0 == 0 && n_rows == n_out
                 ? ol_cpu_matmul(cpu, &w, x, n_tok, y, ldy)
                 : ol_cpu_matmul_rows(cpu, &w, row0, n_rows, x, n_tok, y, ldy);
    CHECK_EQ_INT(rc, 0);
    uint8_t *a = malloc(ol_dtype_row_bytes(ol_dtype_vec_dot_type(t), n_in));
    int bad = 0;
    for (int64_t k = 0; k < n_tok; k++) {
        ol_quant_row_ref(t, x + k * n_in, a, n_in);
        for (int64_t r = 0; r < n_rows; r++) {
            const uint8_t *wr = wd + (row0 + r) * rb;
            float want = ol_vec_dot_ref(t, n_in, wr, a), got = y[k * ldy + r];
            double tol = TOL(dot_mag(t, n_in, wr, a));
            if (!(fabs(got - want) <= tol) && bad++ < 3)
                fprintf(stderr, "matmul %s %s [%lld x %lld] tok %lld/%lld row %lld: %.9g vs %.9g\n",
                        ol_cpu_tier_name(ol_cpu_tier_of(cpu)), ol_dtype_name(t), (long long)n_out,
                        (long long)n_in, (long long)k, (long long)n_tok, (long long)r, got, want);
        }
        for (int64_t r = n_rows; r < ldy; r++) bad += !isnan(y[k * ldy + r]); /* untouched */
    }
    CHECK_EQ_INT(bad, 0);
    free(wd);
    free(x);
    free(y);
    free(a);
}

static void check_matmul(void) {
    for (int ti = 0; ti < OL_CPU_TIER_COUNT; ti++) {
        for (int nth = 1; nth <= 2; nth++) {
            ol_err err;
            ol_cpu *cpu = ol_cpu_create(nth, (ol_cpu_tier)ti, &err);
            if (!cpu) continue;
            for (size_t i = 0; i < OL_ARRAY_LEN(WTYPES); i++) {
                ol_dtype t = WTYPES[i];
                int64_t n_in = ol_dtype_block_elems(t) == 256 ? 512 : 320;
                static const int64_t toks[] = {1, 3, 8, 13, 40};
                static const int64_t outs[] = {1, 37, 300};
                for (int a = 0; a < 5; a++)
                    for (int b = 0; b < 3; b++)
                        check_matmul_case(cpu, t, n_in, outs[b], toks[a], 0, outs[b]);
                check_matmul_case(cpu, t, n_in, 301, 1, 17, 250);
                check_matmul_case(cpu, t, n_in, 301, 21, 33, 201);
            }
            ol_cpu_destroy(cpu);
        }
    }
}

/* Masking CPU features forces lower tiers. */
static void check_tier_choice(void) {
    ol_cpu_tier best = ol_cpu_best_tier();
    printf("best tier: %s\n", ol_cpu_tier_name(best));
    ol_cpu_features_mask(~(unsigned)(OL_CPU_AVX512F | OL_CPU_AVX512BW | OL_CPU_AVX512VL |
                                     OL_CPU_AVX512VNNI | OL_CPU_AVX512BF16));
    CHECK(ol_cpu_best_tier() <= OL_CPU_TIER_AVX2);
    ol_cpu_features_mask(0);
    CHECK_EQ_INT(ol_cpu_best_tier(), OL_CPU_TIER_REF);
    ol_err err;
    CHECK(ol_cpu_create(1, OL_CPU_TIER_AVX2, &err) == NULL);
    ol_cpu_features_mask(~0u);
    CHECK_EQ_INT(ol_cpu_best_tier(), best);
}

int main(void) {
    check_tier_choice();
    check_kernels();
    check_matmul();
    return test_done("test_kernels");
}
