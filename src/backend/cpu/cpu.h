/* backend/cpu: CPU kernels behind one context. Each kernel has a scalar _ref tier (in
 * tensor/ for quant math, here for the rest) and AVX2 / AVX-512 tiers in their own files,
 * chosen once at ol_cpu_create from the detected CPU features. Kernels trust their inputs:
 * shapes are validated once where tensors are bound (model/). The context owns the worker
 * pool and a scratch buffer; it is used by one thread at a time (the engine thread). */
#ifndef OL_CPU_H
#define OL_CPU_H

#include "base/base.h"
#include "tensor/tensor.h"

typedef enum ol_cpu_tier {
    OL_CPU_TIER_REF,
    OL_CPU_TIER_AVX2,
    OL_CPU_TIER_AVX512,
    OL_CPU_TIER_COUNT
} ol_cpu_tier;
const char *ol_cpu_tier_name(ol_cpu_tier t);

/* Micro-kernels of one tier. NULL entries fall back to the ref tier. */
typedef struct ol_cpu_kernels {
    /* convert an f32 activation row (n elements) to the vec-dot type of weight type w */
    void (*quant_row[OL_DTYPE_COUNT])(const float *x, void *dst, int64_t n);
    /* out[c] = dot(weight row w, activation row c) for c < nc (1..OL_CPU_MAX_NC); the
     * activation rows are x + c*x_stride bytes, already converted for this weight type. */
    void (*vec_dot[OL_DTYPE_COUNT])(int64_t n, const void *w, const void *x, size_t x_stride,
                                    int nc, float *out);
    /* Optional: two weight rows (w, w + w_stride) against nc activation rows at once;
     * out[r * OL_CPU_MAX_NC + c] for r < 2, c < nc. Used for nc >= 2 where it is faster.
     * Comes with (and needs) the same tier's quant_row and vec_dot. */
    void (*vec_dot_2r[OL_DTYPE_COUNT])(int64_t n, const void *w, size_t w_stride, const void *x,
                                       size_t x_stride, int nc, float *out);
    /* Bytes quant_row writes for a row of n elements. A SIMD tier may append tier-private
     * data after the standard vec-dot-type row (which always comes first, so the ref
     * vec_dot can read it); NULL = just the standard row. quant_row, vec_dot and
     * act_row_bytes of one dtype always come from the same tier. */
    size_t (*act_row_bytes[OL_DTYPE_COUNT])(int64_t n);
} ol_cpu_kernels;
#define OL_CPU_MAX_NC 8

/* Fill k with the kernels of tier t (entries a tier lacks, or that need CPU features this
 * machine lacks, are left NULL). Used by tests and benches. */
void ol_cpu_kernels_get(ol_cpu_tier t, ol_cpu_kernels *k);
/* Bytes of one converted activation row of n elements for weight type w under k. */
size_t ol_cpu_act_row_bytes(const ol_cpu_kernels *k, ol_dtype w, int64_t n);
/* The best tier this CPU supports (honours ol_cpu_features_mask). */
ol_cpu_tier ol_cpu_best_tier(void);

typedef struct ol_cpu ol_cpu;
/* n_threads >= 1; tier OL_CPU_TIER_COUNT = best available. NULL + err on failure. */
ol_cpu *ol_cpu_create(int n_threads, ol_cpu_tier tier, ol_err *err);
void ol_cpu_destroy(ol_cpu *cpu);
ol_pool *ol_cpu_pool(ol_cpu *cpu);
ol_cpu_tier ol_cpu_tier_of(const ol_cpu *cpu);
const ol_cpu_kernels *ol_cpu_kernels_of(const ol_cpu *cpu);

/* y[t][0..n_out) = W · x[t] for t < n_tok, with W = [n_out rows][n_in] of any compute dtype.
 * x: [n_tok][n_in] f32 (row stride n_in); y: [n_tok][n_out] f32 (row stride ldy >= n_out).
 * Activations are converted to the weight's vec-dot type once, then the rows of W are split
 * over the pool's threads. Returns 0 or OL_ENOMEM (scratch growth). */
int ol_cpu_matmul(ol_cpu *cpu, const ol_tensor *w, const float *x, int64_t n_tok, float *y,
                  int64_t ldy);
/* Same, but only rows [row0, row0+n_rows) of W (used for the output head on a vocab slice);
 * y[t][0..n_rows) receives rows row0.. (column r - row0). */
int ol_cpu_matmul_rows(ol_cpu *cpu, const ol_tensor *w, int64_t row0, int64_t n_rows,
                       const float *x, int64_t n_tok, float *y, int64_t ldy);

/* Dequantize row r of W into y (n_in floats): used for embeddings lookup. */
void ol_cpu_get_row(const ol_tensor *w, int64_t r, float *y);

#endif
