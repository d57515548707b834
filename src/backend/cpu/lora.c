/* backend/cpu/lora.c: LoRA segment kernels (shrink x·Aᵀ to rank r, expand by Btᵀ) for a
 * ragged batch. The _ref version defines the result; the AVX2 block kernel lives here, the
 * AVX-512 one in lora_avx512.c; ol_cpu_lora_jobs fans the tokens of several projections'
 * segments out over the worker pool in one run. */
#include "cpu.h"
#include "lora_internal.h"

#include <immintrin.h>

void ol_cpu_lora_ref(const ol_lora_seg *segs, int n_segs, const float *x, int64_t ldx, int64_t n_in,
                     float *y, int64_t ldy, int64_t n_out) {
    float h[OL_LORA_MAX_RANK];
    for (int s = 0; s < n_segs; s++) {
        const ol_lora_seg *g = &segs[s];
        for (int32_t t = g->t0; t < g->t0 + g->n; t++) {
            const float *xt = x + (int64_t)t * ldx;
            for (int32_t k = 0; k < g->r; k++) {
                const float *ak = g->a + (int64_t)k * n_in;
                float acc = 0.0f;
                for (int64_t i = 0; i < n_in; i++) acc += ak[i] * xt[i];
                h[k] = acc * g->scale;
            }
            float *yt = y + (int64_t)t * ldy;
            for (int32_t k = 0; k < g->r; k++) {
                const float *bk = g->bt + (int64_t)k * n_out;
                for (int64_t o = 0; o < n_out; o++) yt[o] += h[k] * bk[o];
            }
        }
    }
}

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void ol_lora_block_ref(const ol_lora_seg *g, const float *x, int64_t ldx, int nt, int64_t n_in,
                       float *y, int64_t ldy, int64_t n_out) {
    ol_lora_seg one = *g;
    one.t0 = 0, one.n = nt;
    ol_cpu_lora_ref(&one, 1, x, ldx, n_in, y, ldy, n_out);
}

/* h[j][k] = scale · a_k · x_j for nt <= LORA_TB tokens (rows of x, stride ldx), k < r. Each
 * token's sum uses the same operations whatever nt is, so results do not depend on how
 * tokens are grouped. */
static void shrink(const ol_lora_seg *g, const float *x, int64_t ldx, int nt, int64_t n,
                   float h[][OL_LORA_MAX_RANK]) {
    for (int32_t k = 0; k < g->r; k++) {
        const float *ak = g->a + (int64_t)k * n;
        __m256 c0[LORA_TB], c1[LORA_TB];
        for (int j = 0; j < nt; j++) c0[j] = c1[j] = _mm256_setzero_ps();
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) {
            const __m256 a0 = _mm256_loadu_ps(ak + i), a1 = _mm256_loadu_ps(ak + i + 8);
            for (int j = 0; j < nt; j++) {
                const float *xj = x + (int64_t)j * ldx + i;
                c0[j] = _mm256_fmadd_ps(a0, _mm256_loadu_ps(xj), c0[j]);
                c1[j] = _mm256_fmadd_ps(a1, _mm256_loadu_ps(xj + 8), c1[j]);
            }
        }
        for (int j = 0; j < nt; j++) {
            float acc = hsum256(_mm256_add_ps(c0[j], c1[j]));
            for (int64_t t = i; t < n; t++) acc += ak[t] * x[(int64_t)j * ldx + t];
            h[j][k] = acc * g->scale;
        }
    }
}

/* y_j[o] += Σ_k h[j][k] · bt[k][o] for nt tokens, 16 outputs at a time in registers */
static void expand(const ol_lora_seg *g, float h[][OL_LORA_MAX_RANK], int nt, int64_t n_out,
                   float *y, int64_t ldy) {
    int64_t o = 0;
    for (; o + 16 <= n_out; o += 16) {
        __m256 c0[LORA_TB], c1[LORA_TB];
        for (int j = 0; j < nt; j++) {
            c0[j] = _mm256_loadu_ps(y + (int64_t)j * ldy + o);
            c1[j] = _mm256_loadu_ps(y + (int64_t)j * ldy + o + 8);
        }
        for (int32_t k = 0; k < g->r; k++) {
            const float *b = g->bt + (int64_t)k * n_out + o;
            const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            for (int j = 0; j < nt; j++) {
                const __m256 hk = _mm256_set1_ps(h[j][k]);
                c0[j] = _mm256_fmadd_ps(hk, b0, c0[j]);
                c1[j] = _mm256_fmadd_ps(hk, b1, c1[j]);
            }
        }
        for (int j = 0; j < nt; j++) {
            _mm256_storeu_ps(y + (int64_t)j * ldy + o, c0[j]);
            _mm256_storeu_ps(y + (int64_t)j * ldy + o + 8, c1[j]);
        }
    }
    for (; o < n_out; o++)
        for (int j = 0; j < nt; j++) {
            float acc = y[(int64_t)j * ldy + o];
            for (int32_t k = 0; k < g->r; k++) acc += h[j][k] * g->bt[(int64_t)k * n_out + o];
            y[(int64_t)j * ldy + o] = acc;
        }
}

void ol_lora_block_avx2(const ol_lora_seg *g, const float *x, int64_t ldx, int nt, int64_t n_in,
                        float *y, int64_t ldy, int64_t n_out) {
    float h[LORA_TB][OL_LORA_MAX_RANK];
    shrink(g, x, ldx, nt, n_in, h);
    expand(g, h, nt, n_out, y, ldy);
}

typedef struct {
    const ol_lora_job *jobs;
    int n_jobs;
    ol_lora_block_fn block;
    int32_t t_lo, t_hi; /* tokens covered by any segment */
} lora_task;

/* Threads split the batch's tokens (rows of y): each thread applies, for its rows, every
 * job's segments in order, LORA_TB tokens at a time. So every output element is written by
 * one thread in a fixed order (results do not depend on the thread count), and with many
 * adapters each thread reads only the adapters of its own tokens. */
static void lora_worker(void *ctx, int ith, int nth) {
    const lora_task *t = ctx;
    int64_t r0, r1;
    ol_split_range(t->t_hi - t->t_lo, 1, ith, nth, &r0, &r1);
    r0 += t->t_lo, r1 += t->t_lo;
    for (int jb = 0; jb < t->n_jobs; jb++) {
        const ol_lora_job *J = &t->jobs[jb];
        for (int s = 0; s < J->n_segs; s++) {
            const ol_lora_seg *g = &J->segs[s];
            int64_t b = g->t0 > r0 ? g->t0 : r0, e = g->t0 + g->n < r1 ? g->t0 + g->n : r1;
            for (int64_t tok = b; tok < e; tok += LORA_TB) {
                const int nt = (int)(e - tok < LORA_TB ? e - tok : LORA_TB);
                t->block(g, J->x + tok * J->ldx, J->ldx, nt, J->n_in, J->y + tok * J->ldy, J->ldy,
                         J->n_out);
            }
        }
    }
}

static ol_lora_block_fn block_for(ol_cpu_tier tier) {
    switch (tier) {
    case OL_CPU_TIER_REF:
        return ol_lora_block_ref;
    case OL_CPU_TIER_AVX2:
        return ol_lora_block_avx2;
    default:
        return ol_lora_block_avx512;
    }
}

void ol_cpu_lora_jobs(ol_cpu *cpu, const ol_lora_job *jobs, int n_jobs) {
    int32_t lo = INT32_MAX, hi = 0;
    for (int j = 0; j < n_jobs; j++)
        for (int s = 0; s < jobs[j].n_segs; s++) {
            const ol_lora_seg *g = &jobs[j].segs[s];
            lo = g->t0 < lo ? g->t0 : lo;
            hi = g->t0 + g->n > hi ? g->t0 + g->n : hi;
        }
    if (hi <= lo) return;
    lora_task t = {jobs, n_jobs, block_for(cpu ? ol_cpu_tier_of(cpu) : ol_cpu_best_tier()), lo, hi};
    ol_pool *pool = cpu ? ol_cpu_pool(cpu) : NULL;
    if (pool && hi - lo >= 2)
        ol_pool_run(pool, lora_worker, &t);
    else
        lora_worker(&t, 0, 1);
}

void ol_cpu_lora(ol_cpu *cpu, const ol_lora_seg *segs, int n_segs, const float *x, int64_t ldx,
                 int64_t n_in, float *y, int64_t ldy, int64_t n_out) {
    if (n_segs <= 0) return;
    const ol_lora_job j = {segs, n_segs, x, ldx, n_in, y, ldy, n_out};
    ol_cpu_lora_jobs(cpu, &j, 1);
}
