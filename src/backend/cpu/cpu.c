/* backend/cpu/cpu.c: the CPU context (worker pool, activation scratch, kernel tier) and the
 * matmul driver. Decode-shaped calls (few tokens) stream each weight row once, threads taking
 * contiguous row chunks; prefill-shaped calls quantize activations once, then tile rows into
 * L2-sized blocks and tokens into groups of OL_CPU_MAX_NC so each decoded weight row is reused
 * against 8 activation rows in registers. */
#include "cpu_internal.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct ol_cpu {
    ol_pool *pool;
    ol_cpu_tier tier;
    ol_cpu_kernels k; /* resolved: every computable dtype has quant_row and vec_dot */
    uint8_t *scratch; /* activation rows converted to the vec-dot type, 64-byte aligned */
    size_t scratch_size;
    _Atomic int *grp_state; /* per group of 8 activation rows: 0 raw, 1 converting, 2 ready */
    int64_t grp_cap;
};

static const char *const g_tier_names[OL_CPU_TIER_COUNT] = {"ref", "avx2", "avx512"};

const char *ol_cpu_tier_name(ol_cpu_tier t) {
    return (unsigned)t < OL_CPU_TIER_COUNT ? g_tier_names[t] : "?";
}

static int tier_supported(ol_cpu_tier t) {
    unsigned f = ol_cpu_features();
    unsigned avx2 = OL_CPU_AVX2 | OL_CPU_FMA | OL_CPU_F16C;
    unsigned avx512 = avx2 | OL_CPU_AVX512F | OL_CPU_AVX512BW | OL_CPU_AVX512VL | OL_CPU_AVX512VNNI;
    switch (t) {
    case OL_CPU_TIER_REF:
        return 1;
    case OL_CPU_TIER_AVX2:
        return (f & avx2) == avx2;
    case OL_CPU_TIER_AVX512:
        return (f & avx512) == avx512;
    default:
        return 0;
    }
}

void ol_cpu_kernels_get(ol_cpu_tier t, ol_cpu_kernels *k) {
    memset(k, 0, sizeof(*k));
    if (!tier_supported(t)) return;
    switch (t) {
    case OL_CPU_TIER_REF:
        ol_cpu_kernels_ref(k);
        break;
    case OL_CPU_TIER_AVX2:
        ol_cpu_kernels_avx2(k);
        break;
    case OL_CPU_TIER_AVX512:
        ol_cpu_kernels_avx512(k);
        break;
    default:
        break;
    }
}

ol_cpu_tier ol_cpu_best_tier(void) {
    for (int t = OL_CPU_TIER_COUNT - 1; t > 0; t--)
        if (tier_supported((ol_cpu_tier)t)) return (ol_cpu_tier)t;
    return OL_CPU_TIER_REF;
}

size_t ol_cpu_act_row_bytes(const ol_cpu_kernels *k, ol_dtype w, int64_t n) {
    if (k->act_row_bytes[w]) return k->act_row_bytes[w](n);
    return ol_dtype_row_bytes(ol_dtype_vec_dot_type(w), n);
}

/* Per dtype, the highest tier <= top that has a vec_dot, with its quant_row and layout. */
static void resolve_kernels(ol_cpu_tier top, ol_cpu_kernels *out) {
    memset(out, 0, sizeof(*out));
    for (int t = 0; t <= (int)top; t++) {
        ol_cpu_kernels k;
        ol_cpu_kernels_get((ol_cpu_tier)t, &k);
        for (int d = 0; d < OL_DTYPE_COUNT; d++) {
            if (!k.vec_dot[d] || !k.quant_row[d]) continue;
            out->vec_dot[d] = k.vec_dot[d];
            out->quant_row[d] = k.quant_row[d];
            out->act_row_bytes[d] = k.act_row_bytes[d];
            out->vec_dot_2r[d] = k.vec_dot_2r[d];
        }
    }
}

ol_cpu *ol_cpu_create(int n_threads, ol_cpu_tier tier, ol_err *err) {
    if (tier == OL_CPU_TIER_COUNT) tier = ol_cpu_best_tier();
    if ((unsigned)tier >= OL_CPU_TIER_COUNT || !tier_supported(tier)) {
        ol_err_set(err, OL_ENOTSUP, "CPU tier %s is not supported on this machine",
                   ol_cpu_tier_name(tier));
        return NULL;
    }
    ol_cpu *cpu = calloc(1, sizeof(*cpu));
    if (!cpu) {
        ol_err_set(err, OL_ENOMEM, "out of memory creating the CPU backend");
        return NULL;
    }
    cpu->pool = ol_pool_create(n_threads, err);
    if (!cpu->pool) {
        free(cpu);
        return NULL;
    }
    cpu->tier = tier;
    resolve_kernels(tier, &cpu->k);
    return cpu;
}

void ol_cpu_destroy(ol_cpu *cpu) {
    if (!cpu) return;
    ol_pool_destroy(cpu->pool);
    ol_free_aligned(cpu->scratch);
    free((void *)cpu->grp_state);
    free(cpu);
}

ol_pool *ol_cpu_pool(ol_cpu *cpu) {
    return cpu->pool;
}
ol_cpu_tier ol_cpu_tier_of(const ol_cpu *cpu) {
    return cpu->tier;
}
const ol_cpu_kernels *ol_cpu_kernels_of(const ol_cpu *cpu) {
    return &cpu->k;
}

/* ---- matmul ---------------------------------------------------------------------------------
 * Work items are (row block, token block) pairs handed out through an atomic counter, so a
 * thread that falls behind (noise, a slower core) does less of the work. Activations are
 * converted lazily, per group of 8 rows, by whichever thread first needs the group: no
 * barrier between conversion and products, and the conversion is spread over the threads. */
typedef struct {
    void (*quant)(const float *x, void *dst, int64_t n);
    void (*dot)(int64_t n, const void *w, const void *x, size_t x_stride, int nc, float *out);
    void (*dot2)(int64_t n, const void *w, size_t w_stride, const void *x, size_t x_stride, int nc,
                 float *out); /* may be NULL */
    const uint8_t *w;         /* first row of the slice */
    size_t w_row_bytes;       /* [n_rows][w_row_bytes] */
    int64_t n_rows, n_in;
    const float *x; /* [n_tok][n_in] f32, converted in the task when grp_state != NULL */
    int64_t n_tok;
    uint8_t *act; /* [n_tok][act_stride] */
    size_t act_stride;
    float *y; /* [n_tok][ldy] */
    int64_t ldy;
    int64_t rows_per_item, toks_per_item, n_row_items, n_items;
    _Atomic int *grp_state; /* NULL: all rows converted before the task */
    _Atomic int64_t next;
} mm_task;

/* Make activation rows [8g, 8g+8) ready: convert them, or wait for the thread doing so. */
static void mm_ensure_group(const mm_task *t, int64_t g) {
    _Atomic int *st = &t->grp_state[g];
    int s = atomic_load_explicit(st, memory_order_acquire);
    if (s == 2) return;
    int zero = 0;
    if (s == 0 && atomic_compare_exchange_strong_explicit(st, &zero, 1, memory_order_acq_rel,
                                                          memory_order_acquire)) {
        int64_t k1 = OL_MIN(t->n_tok, (g + 1) * OL_CPU_MAX_NC);
        for (int64_t k = g * OL_CPU_MAX_NC; k < k1; k++)
            t->quant(t->x + k * t->n_in, t->act + k * t->act_stride, t->n_in);
        atomic_store_explicit(st, 2, memory_order_release);
        return;
    }
    while (atomic_load_explicit(st, memory_order_acquire) != 2) _mm_pause();
}

/* Rows [r0, r1) against tokens [k0, k1): token groups of 8 outer, rows inner, so the group's
 * activation rows stay in L1 while the row block (sized for L2) streams past them. Results go
 * to a small tile first and then out row-contiguous, instead of 8 scattered stores per row. */
#define MM_MAX_ROWS 256
static void mm_item(const mm_task *t, int64_t r0, int64_t r1, int64_t k0, int64_t k1) {
    float tile[OL_CPU_MAX_NC][MM_MAX_ROWS];
    float out[OL_CPU_MAX_NC];
    for (int64_t k = k0; k < k1; k += OL_CPU_MAX_NC) {
        int nc = (int)OL_MIN(OL_CPU_MAX_NC, k1 - k);
        if (t->grp_state) mm_ensure_group(t, k / OL_CPU_MAX_NC);
        const uint8_t *xa = t->act + k * t->act_stride;
        float *yk = t->y + k * t->ldy;
        if (nc == 1) { /* decode: straight into y */
            for (int64_t r = r0; r < r1; r++)
                t->dot(t->n_in, t->w + r * t->w_row_bytes, xa, t->act_stride, 1, yk + r);
            continue;
        }
        for (int64_t r0b = r0; r0b < r1; r0b += MM_MAX_ROWS) {
            int64_t r1b = OL_MIN(r1, r0b + MM_MAX_ROWS);
            int64_t r = r0b;
            if (t->dot2)
                for (; r + 2 <= r1b; r += 2) {
                    float out2[2 * OL_CPU_MAX_NC];
                    t->dot2(t->n_in, t->w + r * t->w_row_bytes, t->w_row_bytes, xa, t->act_stride,
                            nc, out2);
                    for (int c = 0; c < nc; c++) {
                        tile[c][r - r0b] = out2[c];
                        tile[c][r + 1 - r0b] = out2[OL_CPU_MAX_NC + c];
                    }
                }
            for (; r < r1b; r++) {
                t->dot(t->n_in, t->w + r * t->w_row_bytes, xa, t->act_stride, nc, out);
                for (int c = 0; c < nc; c++) tile[c][r - r0b] = out[c];
            }
            for (int c = 0; c < nc; c++)
                memcpy(yk + c * t->ldy + r0b, tile[c], (size_t)(r1b - r0b) * sizeof(float));
        }
    }
}

static void mm_run(void *ctx, int ith, int nth) {
    mm_task *t = ctx;
    (void)ith, (void)nth;
    for (;;) {
        int64_t i = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        if (i >= t->n_items) break;
        int64_t ri = i % t->n_row_items, ki = i / t->n_row_items;
        int64_t r0 = ri * t->rows_per_item, k0 = ki * t->toks_per_item;
        mm_item(t, r0, OL_MIN(t->n_rows, r0 + t->rows_per_item), k0,
                OL_MIN(t->n_tok, k0 + t->toks_per_item));
    }
}

static int grow_scratch(ol_cpu *cpu, size_t size) {
    if (size <= cpu->scratch_size) return 0;
    size_t cap = size + size / 4;
    void *p = ol_alloc_aligned(cap);
    if (!p) return OL_ENOMEM;
    ol_free_aligned(cpu->scratch);
    cpu->scratch = p;
    cpu->scratch_size = cap;
    return 0;
}

/* Split the work: decode shapes get contiguous row chunks (a long sequential stream per
 * thread, a few chunks per thread for balance); prefill shapes get L2-sized row blocks, and
 * tokens are split too when there are too few row blocks to go round. */
static void plan(mm_task *t, int nth) {
    int64_t rows = t->n_rows;
    if (t->n_tok <= OL_CPU_MAX_NC) {
        int64_t per = (rows + nth * 4 - 1) / (nth * 4);
        per = OL_MAX(per, 16);
        t->rows_per_item = (per + 7) & ~(int64_t)7;
        t->toks_per_item = t->n_tok;
    } else {
        int64_t per = (int64_t)((48 * 1024) / OL_MAX(t->w_row_bytes, 1));
        per = OL_MAX(4, OL_MIN(per, 256)) & ~(int64_t)1; /* even: the 2-row kernels pair rows */
        t->rows_per_item = per;
        int64_t n_ri = (rows + per - 1) / per;
        int64_t n_ki = (nth * 4 + n_ri - 1) / n_ri;
        int64_t toks = (t->n_tok + n_ki - 1) / n_ki;
        toks = (toks + OL_CPU_MAX_NC - 1) / OL_CPU_MAX_NC * OL_CPU_MAX_NC;
        t->toks_per_item = OL_MAX(toks, OL_CPU_MAX_NC);
    }
    t->n_row_items = (rows + t->rows_per_item - 1) / t->rows_per_item;
    t->n_items = t->n_row_items * ((t->n_tok + t->toks_per_item - 1) / t->toks_per_item);
}

int ol_cpu_matmul_rows(ol_cpu *cpu, const ol_tensor *w, int64_t row0, int64_t n_rows,
                       const float *x, int64_t n_tok, float *y, int64_t ldy) {
    if (n_rows <= 0 || n_tok <= 0) return 0;
    ol_dtype wt = w->dtype;
    const ol_cpu_kernels *k = &cpu->k;
    OL_ASSERT(k->vec_dot[wt] && k->quant_row[wt]);
    mm_task t = {0};
    t.quant = k->quant_row[wt];
    t.dot = k->vec_dot[wt];
    t.dot2 = k->vec_dot_2r[wt];
    t.w_row_bytes = w->row_bytes;
    t.w = (const uint8_t *)w->data + (size_t)row0 * w->row_bytes;
    t.n_rows = n_rows;
    t.n_in = w->ne[0];
    t.x = x;
    t.n_tok = n_tok;
    t.act_stride = (ol_cpu_act_row_bytes(k, wt, t.n_in) + 63) & ~(size_t)63;
    size_t need;
    if (ol_mul_size(t.act_stride, (size_t)n_tok, &need)) return OL_ENOMEM;
    if (grow_scratch(cpu, need)) return OL_ENOMEM;
    t.act = cpu->scratch;
    t.y = y;
    t.ldy = ldy;
    int nth = ol_pool_n_threads(cpu->pool);
    /* tiny products are not worth waking the workers */
    double work = (double)n_rows * (double)w->row_bytes * (double)n_tok;
    if (work < 32 * 1024) nth = 1;
    plan(&t, nth);
    int64_t n_grp = (n_tok + OL_CPU_MAX_NC - 1) / OL_CPU_MAX_NC;
    if (nth > 1 && n_grp > 1) {
        if (n_grp > cpu->grp_cap) {
            _Atomic int *g = realloc((void *)cpu->grp_state, (size_t)n_grp * sizeof(*g));
            if (!g) return OL_ENOMEM;
            cpu->grp_state = g;
            cpu->grp_cap = n_grp;
        }
        for (int64_t i = 0; i < n_grp; i++) atomic_init(&cpu->grp_state[i], 0);
        t.grp_state = cpu->grp_state;
    } else {
        for (int64_t i = 0; i < n_tok; i++)
            t.quant(x + i * t.n_in, t.act + i * t.act_stride, t.n_in);
    }
    if (nth == 1)
        mm_run(&t, 0, 1);
    else
        ol_pool_run(cpu->pool, mm_run, &t);
    return 0;
}

int ol_cpu_matmul(ol_cpu *cpu, const ol_tensor *w, const float *x, int64_t n_tok, float *y,
                  int64_t ldy) {
    return ol_cpu_matmul_rows(cpu, w, 0, w->ne[1], x, n_tok, y, ldy);
}

void ol_cpu_get_row(const ol_tensor *w, int64_t r, float *y) {
    ol_dequant_row_ref(w->dtype, (const uint8_t *)w->data + (size_t)r * w->row_bytes, y, w->ne[0]);
}
