/* backend/cpu/ops.c: norms, RoPE, activations and paged attention (online softmax per KV
 * block, GQA heads sharing one K/V read). AVX2/FMA/F16C is the build baseline, so these use
 * 8-wide intrinsics directly; the paged attention fans out over the worker pool. */
#include "cpu.h"
#include "ops.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void ol_cpu_rmsnorm(float *y, const float *x, const float *w, int64_t n, int64_t n_rows, int64_t ld,
                    float eps) {
    for (int64_t r = 0; r < n_rows; r++) {
        const float *xr = x + r * ld;
        float *yr = y + r * ld;
        /* sum of squares in double, as ggml does, 8 lanes at a time */
        __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
        int64_t i = 0;
        for (; i + 8 <= n; i += 8) {
            const __m256 v = _mm256_loadu_ps(xr + i);
            const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
            const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
            a0 = _mm256_fmadd_pd(lo, lo, a0);
            a1 = _mm256_fmadd_pd(hi, hi, a1);
        }
        double part[4];
        _mm256_storeu_pd(part, _mm256_add_pd(a0, a1));
        double sum = part[0] + part[1] + part[2] + part[3];
        for (; i < n; i++) sum += (double)xr[i] * (double)xr[i];
        const float scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
        const __m256 vs = _mm256_set1_ps(scale);
        i = 0;
        if (w) {
            for (; i + 8 <= n; i += 8)
                _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), vs),
                                                       _mm256_loadu_ps(w + i)));
            for (; i < n; i++) yr[i] = xr[i] * scale * w[i];
        } else {
            for (; i + 8 <= n; i += 8)
                _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_loadu_ps(xr + i), vs));
            for (; i < n; i++) yr[i] = xr[i] * scale;
        }
    }
}

void ol_cpu_rope(float *x, int64_t ld, int n_tok, int n_heads, int head_dim, int n_rot,
                 const int32_t *pos, float base, float freq_scale, const float *factors, int neox) {
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

/* e^x for 8 floats: x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two parts so n·ln2 is
 * exact), e^r by a degree-6 Taylor polynomial (relative error < 2e-7 on that range), then 2^n
 * added to the exponent bits. Inputs are clamped to [-87.3, 88.7], the finite f32 range. */
static inline __m256 exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^n for n in [-126, 128]: split in two halves so neither overflows the exponent field */
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i h = _mm256_srai_epi32(ni, 1);
    const __m256 s1 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
    const __m256 s2 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, h), _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* x / (1 + e^(-z)) for 8 floats: silu when z = x, tanh-GELU when z = 2·sqrt(2/pi)·(x + 0.044715x³)
 * (since 0.5·x·(1 + tanh(u)) = x / (1 + e^(-2u))). */
static inline __m256 x_sigmoid256(__m256 x, __m256 z) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), z));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

static inline __m256 gelu_z256(__m256 x) {
    const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    return _mm256_mul_ps(_mm256_set1_ps(1.5957691216057308f), /* 2·sqrt(2/pi) */
                         _mm256_fmadd_ps(x3, _mm256_set1_ps(0.044715f), x));
}

static float gelu_tanh(float z) {
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * z * (1.0f + tanhf(c * z * (1.0f + 0.044715f * z * z)));
}

void ol_cpu_silu_mul(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        _mm256_storeu_ps(g + i, _mm256_mul_ps(x_sigmoid256(x, x), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void ol_cpu_gelu_mul(float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        _mm256_storeu_ps(g + i,
                         _mm256_mul_ps(x_sigmoid256(x, gelu_z256(x)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) g[i] = gelu_tanh(g[i]) * u[i];
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

/* out[k] = a · b_k for 4 rows b_k (row stride D): a is loaded once for the 4 dots */
static inline void dot4_f32(const float *a, const float *b, int D, float *out) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    int i = 0;
    for (; i + 8 <= D; i += 8) {
        const __m256 va = _mm256_loadu_ps(a + i);
        c0 = _mm256_fmadd_ps(va, _mm256_loadu_ps(b + i), c0);
        c1 = _mm256_fmadd_ps(va, _mm256_loadu_ps(b + D + i), c1);
        c2 = _mm256_fmadd_ps(va, _mm256_loadu_ps(b + 2 * D + i), c2);
        c3 = _mm256_fmadd_ps(va, _mm256_loadu_ps(b + 3 * D + i), c3);
    }
    /* transpose-add the 4 accumulators */
    const __m256 s01 = _mm256_hadd_ps(c0, c1), s23 = _mm256_hadd_ps(c2, c3);
    const __m256 s = _mm256_hadd_ps(s01, s23);
    const __m128 r = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    _mm_storeu_ps(out, r);
    for (; i < D; i++)
        for (int k = 0; k < 4; k++) out[k] += a[i] * b[(size_t)k * D + i];
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

#define ATTN_MAX_REP      32
#define ATTN_MAX_HEAD_DIM 512
#define ATTN_MAX_BLOCK    256
#define ATTN_QT           8  /* query tokens of one sequence handled together */
#define ATTN_MAX_ROWS     64 /* ATTN_QT * rep query rows per work item, at most */

/* A work item: up to ATTN_QT consecutive batch tokens of one sequence (consecutive
 * positions) and one kv head, i.e. nq = n_tok * rep query rows that all read the same K/V
 * rows. Each K and V row is converted to f32 once per item and used by every row that can see
 * it. Softmax is online per KV block: scores of the block, then one rescale per row. */
typedef struct {
    int t0, n_tok, g;
} attn_work;

/* o[0..D) += sum_j p[j] * v[j][0..D) over n rows of v (row stride D), 64 columns at a time
 * so the accumulator stays in registers. */
static void pv_accumulate(float *o, const float *p, const float *v, int n, int D) {
    int d0 = 0;
    for (; d0 + 64 <= D; d0 += 64) {
        __m256 acc[8];
        for (int k = 0; k < 8; k++) acc[k] = _mm256_loadu_ps(o + d0 + 8 * k);
        for (int j = 0; j < n; j++) {
            if (p[j] == 0.0f) continue;
            const __m256 pj = _mm256_set1_ps(p[j]);
            const float *vr = v + (size_t)j * D + d0;
            for (int k = 0; k < 8; k++)
                acc[k] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr + 8 * k), acc[k]);
        }
        for (int k = 0; k < 8; k++) _mm256_storeu_ps(o + d0 + 8 * k, acc[k]);
    }
    for (; d0<D; d0 += 8> D - d0 ? D - d0 : 8) {
        if (D - d0 >= 8) {
            __m256 acc = _mm256_loadu_ps(o + d0);
            for (int j = 0; j < n; j++)
                acc = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(v + (size_t)j * D + d0),
                                      acc);
            _mm256_storeu_ps(o + d0, acc);
        } else {
            for (int c = d0; c < D; c++)
                for (int j = 0; j < n; j++) o[c] += p[j] * v[(size_t)j * D + c];
        }
    }
}

/* kbuf, vbuf: [block_size][head_dim] f32 scratch of this thread */
static void attn_item(const ol_attn_args *a, const attn_work *w, float *kbuf, float *vbuf) {
    const int D = a->head_dim, rep = a->n_head / a->n_head_kv, g = w->g;
    const int kv_dim = a->n_head_kv * D, nq = w->n_tok * rep, bs = a->block_size;
    const size_t eb = a->kv_dtype == OL_DTYPE_F32 ? 4 : 2;
    const ol_attn_seq *sq = &a->seqs[a->seq_of_token[w->t0]];
    float m[ATTN_MAX_ROWS], l[ATTN_MAX_ROWS];
    float s[ATTN_MAX_ROWS][ATTN_MAX_BLOCK];
    const float *q[ATTN_MAX_ROWS];
    float *o[ATTN_MAX_ROWS];
    int32_t lo[ATTN_MAX_ROWS], hi[ATTN_MAX_ROWS]; /* visible key positions, inclusive */
    int32_t p_min = INT32_MAX, p_max = -1;
    for (int i = 0; i < nq; i++) {
        const int t = w->t0 + i / rep, h = g * rep + i % rep;
        m[i] = -INFINITY;
        l[i] = 0.0f;
        q[i] = a->q + (int64_t)t * a->ldq + (int64_t)h * D;
        o[i] = a->out + (int64_t)t * a->ldo + (int64_t)h * D;
        memset(o[i], 0, (size_t)D * sizeof(float));
        hi[i] = a->pos[t];
        lo[i] = a->window > 0 && hi[i] - a->window + 1 > 0 ? hi[i] - a->window + 1 : 0;
        p_min = lo[i] < p_min ? lo[i] : p_min;
        p_max = hi[i] > p_max ? hi[i] : p_max;
    }
    for (int32_t b = p_min / bs; b <= p_max / bs; b++) {
        const int32_t blk = sq->blocks[b];
        const uint8_t *kb = a->k_base + (size_t)blk * a->block_stride;
        const uint8_t *vb = a->v_base + (size_t)blk * a->block_stride;
        const int32_t base = b * bs;
        const int j0 = base < p_min ? p_min - base : 0;
        const int j1 = base + bs - 1 > p_max ? p_max - base : bs - 1;
        const int nj = j1 - j0 + 1;
        for (int j = 0; j < nj; j++) {
            const size_t off = ((size_t)(j0 + j) * kv_dim + (size_t)g * D) * eb;
            load_row(a->kv_dtype, kb + off, kbuf + (size_t)j * D, D);
            load_row(a->kv_dtype, vb + off, vbuf + (size_t)j * D, D);
        }
        for (int i = 0; i < nq; i++) {
            float *si = s[i];
            float mb = m[i];
            /* visible slots of this row in the block: [va, vb] relative to j0 */
            const int va = lo[i] > base + j0 ? lo[i] - base - j0 : 0;
            const int vb = hi[i] < base + j0 + nj - 1 ? hi[i] - base - j0 : nj - 1;
            for (int j = 0; j < nj; j++) si[j] = -INFINITY;
            int j = va;
            for (; j + 4 <= vb + 1; j += 4) dot4_f32(q[i], kbuf + (size_t)j * D, D, si + j);
            for (; j <= vb; j++) si[j] = dot_f32(q[i], kbuf + (size_t)j * D, D);
            for (j = va; j <= vb; j++) {
                si[j] *= a->scale;
                mb = si[j] > mb ? si[j] : mb;
            }
            if (mb == -INFINITY) continue; /* nothing visible in this block */
            if (mb > m[i]) {
                const float c = m[i] == -INFINITY ? 0.0f : expf(m[i] - mb);
                if (c != 1.0f) ol_cpu_scale(o[i], c, D);
                l[i] *= c;
                m[i] = mb;
            }
            for (int j = 0; j < nj; j++) {
                si[j] = si[j] == -INFINITY ? 0.0f : expf(si[j] - m[i]);
                l[i] += si[j];
            }
            pv_accumulate(o[i], si, vbuf, nj, D);
        }
    }
    for (int i = 0; i < nq; i++) ol_cpu_scale(o[i], l[i] > 0.0f ? 1.0f / l[i] : 0.0f, D);
}

typedef struct {
    const ol_attn_args *a;
    const attn_work *items;
    int n_items;
    float *scratch; /* per thread: K and V of one block in f32 */
} attn_task;

static void attn_worker(void *ctx, int ith, int nth) {
    const attn_task *tk = ctx;
    const size_t per = (size_t)tk->a->block_size * (size_t)tk->a->head_dim;
    float *kbuf = tk->scratch + (size_t)ith * 2 * per, *vbuf = kbuf + per;
    /* interleave items over threads: late tokens of a causal prefill cost more */
    for (int it = ith; it < tk->n_items; it += nth) attn_item(tk->a, &tk->items[it], kbuf, vbuf);
}

void ol_cpu_attention(ol_cpu *cpu, const ol_attn_args *a) {
    const int rep = a->n_head / a->n_head_kv;
    OL_ASSERT(a->n_head % a->n_head_kv == 0 && rep <= ATTN_MAX_REP);
    OL_ASSERT(a->head_dim <= ATTN_MAX_HEAD_DIM && a->block_size <= ATTN_MAX_BLOCK);
    ol_pool *pool = cpu ? ol_cpu_pool(cpu) : NULL;
    const int nth = pool ? ol_pool_n_threads(pool) : 1;
    /* group consecutive tokens of one sequence with consecutive positions */
    int qt = ATTN_MAX_ROWS / rep;
    qt = qt < 1 ? 1 : qt > ATTN_QT ? ATTN_QT : qt;
    const size_t per = (size_t)a->block_size * (size_t)a->head_dim;
    attn_work stack_items[256];
    attn_task tk = {a, stack_items, 0, NULL};
    const size_t cap = (size_t)a->n_tokens * (size_t)a->n_head_kv; /* upper bound on items */
    attn_work *heap_items =
        cap > OL_ARRAY_LEN(stack_items) ? malloc(sizeof(attn_work) * cap) : NULL;
    tk.scratch = ol_alloc_aligned((size_t)nth * 2 * per * sizeof(float));
    /* out of memory is not an option mid-forward: fall back to one thread and stack buffers
     * (the result is identical) */
    if (!tk.scratch || (cap > OL_ARRAY_LEN(stack_items) && !heap_items)) {
        static _Thread_local float fallback[2 * ATTN_MAX_BLOCK * 64];
        OL_ASSERT(2 * per <= OL_ARRAY_LEN(fallback)); /* only reachable for small heads */
        for (int t = 0; t < a->n_tokens; t++)
            for (int g = 0; g < a->n_head_kv; g++) {
                attn_work w1 = {t, 1, g};
                attn_item(a, &w1, fallback, fallback + per);
            }
        free(heap_items);
        ol_free_aligned(tk.scratch);
        return;
    }
    attn_work *items = heap_items ? heap_items : stack_items;
    int n = 0;
    for (int t = 0; t < a->n_tokens;) {
        int k = 1;
        while (k < qt && t + k < a->n_tokens && a->seq_of_token[t + k] == a->seq_of_token[t] &&
               a->pos[t + k] == a->pos[t] + k)
            k++;
        for (int g = 0; g < a->n_head_kv; g++) items[n++] = (attn_work){t, k, g};
        t += k;
    }
    tk.items = items;
    tk.n_items = n;
    if (pool && n > 1)
        ol_pool_run(pool, attn_worker, &tk);
    else
        attn_worker(&tk, 0, 1);
    free(heap_items);
    ol_free_aligned(tk.scratch);
}
