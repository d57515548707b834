/* backend/cpu/kernels_ref.c: the scalar reference tier, wrapping tensor/'s _ref quant math in
 * the micro-kernel shape (one weight row against up to 8 activation rows). Every SIMD tier is
 * tested against it; it also backs dtypes a SIMD tier does not cover. */
#include "cpu_internal.h"

#include <string.h>

#define REF_KERNELS(X)                                                                             \
    X(F32) X(F16) X(BF16) X(Q4_0) X(Q4_1) X(Q5_0) X(Q5_1) X(Q8_0) X(Q4_K) X(Q5_K) X(Q6_K)

#define X(T)                                                                                       \
    static void quant_##T(const float *x, void *dst, int64_t n) {                                  \
        ol_quant_row_ref(OL_DTYPE_##T, x, dst, n);                                                 \
    }                                                                                              \
    static void dot_##T(int64_t n, const void *w, const void *x, size_t x_stride, int nc,          \
                        float *out) {                                                              \
        for (int c = 0; c < nc; c++)                                                               \
            out[c] = ol_vec_dot_ref(OL_DTYPE_##T, n, w, (const uint8_t *)x + c * x_stride);        \
    }
REF_KERNELS(X)
#undef X

void ol_cpu_kernels_ref(ol_cpu_kernels *k) {
    memset(k, 0, sizeof(*k));
#define X(T)                                                                                       \
    k->quant_row[OL_DTYPE_##T] = quant_##T;                                                        \
    k->vec_dot[OL_DTYPE_##T] = dot_##T;
    REF_KERNELS(X)
#undef X
}
