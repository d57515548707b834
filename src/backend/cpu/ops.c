/* backend/cpu/ops.c: norms, RoPE, activations and paged attention (online softmax per KV
 * block, GQA heads sharing one K/V read). AVX2/FMA/F16C is the build baseline, so these use
 * 8-wide intrinsics directly; the paged attention fans out over the worker pool. */
#include "cpu.h"
#include "ops.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

void ol_cpu_rmsnorm(float *y, const float *x, const float *w, int64_t n, int64_t n_rows,
                    int64_t ld, float eps) {
    for (int64_t r = 0; r < n_rows; r++) {
        const float *xr = x + r * ld;
        float *yr = y + r * ld;
        double sum = 0.0;
        for (int64_t i = 0; i < n; i++) sum += (double)xr[i] * (double)xr[i];
        const float scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
        if (w)
            for (int64_t i = 0; i < n; i++) yr[i] = xr[i] * scale * w[i];
        else
            for (int64_t i = 0; i < n; i++) yr[i] = xr[i] * scale;
    }
}

void ol_cpu_rope(float *x, int64_t ld, int n_tok, int n_heads, int head_dim, int n_rot,
                 const int32_t *pos, float base, float freq_scale, const float *factors,
                 int neox) {
    float cs[2 * 512]; /* cos/sin per pair; n_rot <= 1024 */
    const int half = n_rot / 2;
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    for (int t = 0; t < n_tok; t++) {
        float theta = (float)pos[t];
        for (int i = 0; i < half; i++) {
            float th = freq_scale * (factors ? theta / factors[i] : theta);
            cs[2 * i] = cosf(th);
            cs[2 * i + 1] = sinf(th);
            theta *= theta_scale;
        }
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (int64_t)t * ld + (int64_t)h * head_dim;
            for (int i = 0; i < half; i++) {
                const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
                const float c = cs[2 * i], s = cs[2 * i + 1];
                const float x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
}

void ol_cpu_silu_mul(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static float gelu_tanh(float z) {
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * z * (1.0f + tanhf(c * z * (1.0f + 0.044715f * z * z)));
}

void ol_cpu_gelu_mul(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) g[i] = gelu_tanh(g[i]) * u[i];
}

void ol_cpu_add(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void ol_cpu_scale(float *y, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] *= s;
}

void ol_cpu_softcap(float *y, float cap, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = cap * tanhf(y[i] / cap);
}

void ol_cpu_store_row(ol_dtype dtype, const float *src, void *dst, int64_t n) {
    if (dtype == OL_DTYPE_F32) {
        memcpy(dst, src, (size_t)n * 4);
        return;
    }
    uint16_t *d = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(d + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) d[i] = ol_f32_to_f16(src[i]);
}

/* ---- paged attention --------------------------------------------------------------------- */

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* row of K or V (head slice) to f32 */
static inline void load_row(ol_dtype dt, const void *src, float *dst, int n) {
    if (dt == OL_DTYPE_F32) {
        memcpy(dst, src, (size_t)n * 4);
        return;
    }
    const uint16_t *s = src;
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    for (; i < n; i++) dst[i] = ol_f16_to_f32(s[i]);
}

static inline float dot_f32(const float *a, const float *b, int n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float s = hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static inline void axpy_f32(float *y, float a, const float *x, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

#define ATTN_MAX_REP 32
#define ATTN_MAX_HEAD_DIM 512
#define ATTN_MAX_BLOCK 256

typedef struct {
    const ol_attn_args *a;
} attn_task;

/* One (token, kv head) work item: the rep query heads that share this kv head. */
static void attn_item(const ol_attn_args *a, int t, int g, float *kbuf, float *vbuf) {
    const int D = a->head_dim, rep = a->n_head / a->n_head_kv;
    const int kv_dim = a->n_head_kv * D;
    const size_t eb = a->kv_dtype == OL_DTYPE_F32 ? 4 : 2;
    const ol_attn_seq *sq = &a->seqs[a->seq_of_token[t]];
    const int32_t p_end = a->pos[t]; /* inclusive */
    int32_t p_begin = 0;
    if (a->window > 0 && p_end - a->window + 1 > 0) p_begin = p_end - a->window + 1;
    float m[ATTN_MAX_REP], l[ATTN_MAX_REP], s[ATTN_MAX_REP][ATTN_MAX_BLOCK];
    const float *q[ATTN_MAX_REP];
    float *o[ATTN_MAX_REP];
    for (int r = 0; r < rep; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
        q[r] = a->q + (int64_t)t * a->ldq + (int64_t)(g * rep + r) * D;
        o[r] = a->out + (int64_t)t * a->ldo + (int64_t)(g * rep + r) * D;
        memset(o[r], 0, (size_t)D * sizeof(float));
    }
    const int bs = a->block_size;
    for (int32_t b = p_begin / bs; b <= p_end / bs; b++) {
        const int32_t blk = sq->blocks[b];
        const uint8_t *kb = a->k_base + (size_t)blk * a->block_stride;
        const uint8_t *vb = a->v_base + (size_t)blk * a->block_stride;
        int j0 = b * bs < p_begin ? p_begin - b * bs : 0;
        int j1 = (b + 1) * bs - 1 > p_end ? p_end - b * bs : bs - 1;
        /* scores for the block's visible slots */
        for (int j = j0; j <= j1; j++) {
            load_row(a->kv_dtype, kb + ((size_t)j * kv_dim + (size_t)g * D) * eb, kbuf, D);
            for (int r = 0; r < rep; r++) s[r][j] = dot_f32(q[r], kbuf, D) * a->scale;
        }
        for (int r = 0; r < rep; r++) {
            float mb = m[r];
            for (int j = j0; j <= j1; j++) mb = s[r][j] > mb ? s[r][j] : mb;
            if (mb > m[r]) {
                const float c = m[r] == -INFINITY ? 0.0f : expf(m[r] - mb);
                if (c != 1.0f) ol_cpu_scale(o[r], c, D);
                l[r] *= c;
                m[r] = mb;
            }
            for (int j = j0; j <= j1; j++) {
                s[r][j] = expf(s[r][j] - m[r]);
                l[r] += s[r][j];
            }
        }
        for (int j = j0; j <= j1; j++) {
            load_row(a->kv_dtype, vb + ((size_t)j * kv_dim + (size_t)g * D) * eb, vbuf, D);
            for (int r = 0; r < rep; r++) axpy_f32(o[r], s[r][j], vbuf, D);
        }
    }
    for (int r = 0; r < rep; r++) ol_cpu_scale(o[r], l[r] > 0.0f ? 1.0f / l[r] : 0.0f, D);
}

static void attn_worker(void *ctx, int ith, int nth) {
    const ol_attn_args *a = ctx;
    float kbuf[ATTN_MAX_HEAD_DIM], vbuf[ATTN_MAX_HEAD_DIM];
    int64_t n_items = (int64_t)a->n_tokens * a->n_head_kv, b, e;
    ol_split_range(n_items, 1, ith, nth, &b, &e);
    for (int64_t it = b; it < e; it++)
        attn_item(a, (int)(it / a->n_head_kv), (int)(it % a->n_head_kv), kbuf, vbuf);
}

void ol_cpu_attention(ol_cpu *cpu, const ol_attn_args *a) {
    OL_ASSERT(a->n_head % a->n_head_kv == 0 && a->n_head / a->n_head_kv <= ATTN_MAX_REP);
    OL_ASSERT(a->head_dim <= ATTN_MAX_HEAD_DIM && a->block_size <= ATTN_MAX_BLOCK);
    ol_pool *pool = cpu ? ol_cpu_pool(cpu) : NULL;
    if (pool && (int64_t)a->n_tokens * a->n_head_kv > 1)
        ol_pool_run(pool, attn_worker, (void *)a);
    else
        attn_worker((void *)a, 0, 1);
}
