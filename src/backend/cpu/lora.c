/* backend/cpu/lora.c: LoRA segment kernels (shrink x·Aᵀ to rank r, expand by Btᵀ) for a
 * ragged batch. The _ref version defines the result; the default one vectorizes both steps
 * and fans segments' tokens out over the worker pool. */
#include "cpu.h"
#include "ops.h"

#include <immintrin.h>

void ol_cpu_lora_ref(const ol_lora_seg *segs, int n_segs, const float *x, int64_t ldx,
                     int64_t n_in, float *y, int64_t ldy, int64_t n_out) {
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

/* h[k] = scale · a_k · x over n elements, for k < r */
static void shrink(const ol_lora_seg *g, const float *xt, int64_t n, float *h) {
    for (int32_t k = 0; k < g->r; k++) {
        const float *ak = g->a + (int64_t)k * n;
        __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();
        int64_t i = 0;
        for (; i + 16 <= n; i += 16) {
            c0 = _mm256_fmadd_ps(_mm256_loadu_ps(ak + i), _mm256_loadu_ps(xt + i), c0);
            c1 = _mm256_fmadd_ps(_mm256_loadu_ps(ak + i + 8), _mm256_loadu_ps(xt + i + 8), c1);
        }
        float acc = hsum256(_mm256_add_ps(c0, c1));
        for (; i < n; i++) acc += ak[i] * xt[i];
        h[k] = acc * g->scale;
    }
}

/* y[o0..o1) += Σ_k h[k] · bt[k][o], 32 outputs at a time kept in registers */
static void expand(const ol_lora_seg *g, const float *h, int64_t n_out, int64_t o0, int64_t o1,
                   float *yt) {
    int64_t o = o0;
    for (; o + 32 <= o1; o += 32) {
        __m256 c0 = _mm256_loadu_ps(yt + o), c1 = _mm256_loadu_ps(yt + o + 8);
        __m256 c2 = _mm256_loadu_ps(yt + o + 16), c3 = _mm256_loadu_ps(yt + o + 24);
        for (int32_t k = 0; k < g->r; k++) {
            const __m256 hk = _mm256_set1_ps(h[k]);
            const float *b = g->bt + (int64_t)k * n_out + o;
            c0 = _mm256_fmadd_ps(hk, _mm256_loadu_ps(b), c0);
            c1 = _mm256_fmadd_ps(hk, _mm256_loadu_ps(b + 8), c1);
            c2 = _mm256_fmadd_ps(hk, _mm256_loadu_ps(b + 16), c2);
            c3 = _mm256_fmadd_ps(hk, _mm256_loadu_ps(b + 24), c3);
        }
        _mm256_storeu_ps(yt + o, c0);
        _mm256_storeu_ps(yt + o + 8, c1);
        _mm256_storeu_ps(yt + o + 16, c2);
        _mm256_storeu_ps(yt + o + 24, c3);
    }
    for (; o < o1; o++) {
        float acc = yt[o];
        for (int32_t k = 0; k < g->r; k++) acc += h[k] * g->bt[(int64_t)k * n_out + o];
        yt[o] = acc;
    }
}

typedef struct {
    const ol_lora_seg *segs;
    int n_segs;
    const float *x;
    int64_t ldx, n_in;
    float *y;
    int64_t ldy, n_out;
} lora_task;

/* Every thread walks all (segment, token) pairs in the same order and expands its own slice
 * of the output columns, so no two threads write one element and the per-element order of
 * additions (segment order) is fixed: results do not depend on the thread count. The shrink
 * (r dot products) is repeated per thread; it is the cheap half for r << n_out. */
static void lora_worker(void *ctx, int ith, int nth) {
    const lora_task *t = ctx;
    int64_t o0, o1;
    ol_split_range(t->n_out, 32, ith, nth, &o0, &o1);
    if (o0 >= o1) return;
    float h[OL_LORA_MAX_RANK];
    for (int s = 0; s < t->n_segs; s++) {
        const ol_lora_seg *g = &t->segs[s];
        for (int32_t tok = g->t0; tok < g->t0 + g->n; tok++) {
            shrink(g, t->x + (int64_t)tok * t->ldx, t->n_in, h);
            expand(g, h, t->n_out, o0, o1, t->y + (int64_t)tok * t->ldy);
        }
    }
}

void ol_cpu_lora(ol_cpu *cpu, const ol_lora_seg *segs, int n_segs, const float *x, int64_t ldx,
                 int64_t n_in, float *y, int64_t ldy, int64_t n_out) {
    if (n_segs <= 0) return;
    lora_task t = {segs, n_segs, x, ldx, n_in, y, ldy, n_out};
    ol_pool *pool = cpu ? ol_cpu_pool(cpu) : NULL;
    if (pool && n_out >= 256)
        ol_pool_run(pool, lora_worker, &t);
    else
        lora_worker(&t, 0, 1);
}
