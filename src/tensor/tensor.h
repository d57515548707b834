/* tensor: data types, quant block layouts, the tensor descriptor, and the scalar reference
 * ("_ref") dequantization, activation quantization and dot products that define every
 * kernel's result. Block layouts and formulas: shared/FORMATS.md §2. */
#ifndef OL_TENSOR_H
#define OL_TENSOR_H

#include "base/base.h"

/* dtype, ggml id, elements per block, bytes per block */
#define OL_DTYPES(X)                                                                               \
    X(F32, 0, 1, 4)                                                                                \
    X(F16, 1, 1, 2)                                                                                \
    X(BF16, 30, 1, 2)                                                                              \
    X(Q4_0, 2, 32, 18)                                                                             \
    X(Q4_1, 3, 32, 20)                                                                             \
    X(Q5_0, 6, 32, 22)                                                                             \
    X(Q5_1, 7, 32, 24)                                                                             \
    X(Q8_0, 8, 32, 34)                                                                             \
    X(Q8_1, 9, 32, 36)                                                                             \
    X(Q4_K, 12, 256, 144)                                                                          \
    X(Q5_K, 13, 256, 176)                                                                          \
    X(Q6_K, 14, 256, 210)                                                                          \
    X(Q8_K, 15, 256, 292)

typedef enum ol_dtype {
#define X(name, id, blck, bytes) OL_DTYPE_##name,
    OL_DTYPES(X)
#undef X
        OL_DTYPE_COUNT
} ol_dtype;

#define OL_QK   32  /* elements per block of the 32-element formats */
#define OL_QK_K 256 /* elements per super-block of the K formats */

/* Block structs (packed exactly as in the file; static_asserts in dtype.c). */
typedef struct {
    ol_f16 d;
    uint8_t qs[16];
} ol_block_q4_0;
typedef struct {
    ol_f16 d, m;
    uint8_t qs[16];
} ol_block_q4_1;
typedef struct {
    ol_f16 d;
    uint8_t qh[4];
    uint8_t qs[16];
} ol_block_q5_0;
typedef struct {
    ol_f16 d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} ol_block_q5_1;
typedef struct {
    ol_f16 d;
    int8_t qs[32];
} ol_block_q8_0;
typedef struct {
    ol_f16 d, s;
    int8_t qs[32];
} ol_block_q8_1;
typedef struct {
    ol_f16 d, dmin;
    uint8_t scales[12];
    uint8_t qs[128];
} ol_block_q4_K;
typedef struct {
    ol_f16 d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
} ol_block_q5_K;
typedef struct {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    ol_f16 d;
} ol_block_q6_K;
typedef struct {
    float d;
    int8_t qs[256];
    int16_t bsums[16];
} ol_block_q8_K;

const char *ol_dtype_name(ol_dtype t);
int ol_dtype_block_elems(ol_dtype t);
int ol_dtype_block_bytes(ol_dtype t);
int ol_dtype_ggml_id(ol_dtype t);
/* Map a ggml type id to a dtype this engine computes with: 0 or OL_ENOTSUP. */
int ol_dtype_from_ggml(int ggml_type, ol_dtype *out);
/* Bytes of a row of n elements (n a multiple of the block size). */
size_t ol_dtype_row_bytes(ol_dtype t, int64_t n);
/* The type activations are converted to before a dot product with weights of type t:
 * Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the K types, and F32/F16/BF16 for
 * themselves (as llama.cpp does: see FORMATS.md §2 column "act"). */
ol_dtype ol_dtype_vec_dot_type(ol_dtype t);

/* A tensor view over memory it does not own (usually the model mmap). */
typedef struct ol_tensor {
    const char *name;
    ol_dtype dtype;
    int n_dims;
    int64_t ne[4];    /* ggml order: ne[0] = row length (contiguous) */
    size_t row_bytes; /* bytes of one row of ne[0] elements */
    const void *data;
} ol_tensor;

/* ---- reference kernels: scalar C, define every other tier's result ----------------------- */
/* y[0..n) = dequantized src; n a multiple of the block size of t. Any dtype incl. Q8_K. */
void ol_dequant_row_ref(ol_dtype t, const void *src, float *y, int64_t n);
/* Quantize an activation row to Q8_0 / Q8_1 / Q8_K (n a multiple of 32 or 256). */
void ol_quant_row_q8_0_ref(const float *x, void *dst, int64_t n);
void ol_quant_row_q8_1_ref(const float *x, void *dst, int64_t n);
void ol_quant_row_q8_K_ref(const float *x, void *dst, int64_t n);
/* Convert an activation row to its vec_dot type for weight type w (F32: copy). */
void ol_quant_row_ref(ol_dtype w, const float *x, void *dst, int64_t n);
/* Dot product of one weight row of type w with one activation row already converted to
 * ol_dtype_vec_dot_type(w); n elements. */
float ol_vec_dot_ref(ol_dtype w, int64_t n, const void *wrow, const void *xrow);

/* Quantize f32 weights to type t (reference quantizer, used by tests and fixtures only;
 * round-to-nearest with the block's max for 32-element types, simple search for K types). */
void ol_quant_weights_ref(ol_dtype t, const float *x, void *dst, int64_t n);

#endif
