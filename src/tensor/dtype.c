/* tensor/dtype.c: the dtype table (names, block sizes, ggml ids) and block-size checks. */
#include "tensor.h"

#include <assert.h>

static_assert(sizeof(ol_block_q4_0) == 18, "q4_0 block");
static_assert(sizeof(ol_block_q4_1) == 20, "q4_1 block");
static_assert(sizeof(ol_block_q5_0) == 22, "q5_0 block");
static_assert(sizeof(ol_block_q5_1) == 24, "q5_1 block");
static_assert(sizeof(ol_block_q8_0) == 34, "q8_0 block");
static_assert(sizeof(ol_block_q8_1) == 36, "q8_1 block");
static_assert(sizeof(ol_block_q4_K) == 144, "q4_K block");
static_assert(sizeof(ol_block_q5_K) == 176, "q5_K block");
static_assert(sizeof(ol_block_q6_K) == 210, "q6_K block");
static_assert(sizeof(ol_block_q8_K) == 292, "q8_K block");

static const struct {
    const char *name;
    int ggml, blck, bytes;
} g_dtypes[OL_DTYPE_COUNT] = {
#define X(name, id, blck, bytes) {#name, id, blck, bytes},
    OL_DTYPES(X)
#undef X
};

const char *ol_dtype_name(ol_dtype t) {
    return (unsigned)t < OL_DTYPE_COUNT ? g_dtypes[t].name : "?";
}
int ol_dtype_block_elems(ol_dtype t) {
    return g_dtypes[t].blck;
}
int ol_dtype_block_bytes(ol_dtype t) {
    return g_dtypes[t].bytes;
}
int ol_dtype_ggml_id(ol_dtype t) {
    return g_dtypes[t].ggml;
}

int ol_dtype_from_ggml(int ggml_type, ol_dtype *out) {
    for (int i = 0; i < OL_DTYPE_COUNT; i++)
        if (g_dtypes[i].ggml == ggml_type) {
            *out = (ol_dtype)i;
            return 0;
        }
    return OL_ENOTSUP;
}

size_t ol_dtype_row_bytes(ol_dtype t, int64_t n) {
    return (size_t)(n / g_dtypes[t].blck) * (size_t)g_dtypes[t].bytes;
}

ol_dtype ol_dtype_vec_dot_type(ol_dtype t) {
    switch (t) {
    case OL_DTYPE_Q4_0:
    case OL_DTYPE_Q5_0:
    case OL_DTYPE_Q8_0:
        return OL_DTYPE_Q8_0;
    case OL_DTYPE_Q4_1:
    case OL_DTYPE_Q5_1:
        return OL_DTYPE_Q8_1;
    case OL_DTYPE_Q4_K:
    case OL_DTYPE_Q5_K:
    case OL_DTYPE_Q6_K:
        return OL_DTYPE_Q8_K;
    default:
        return t;
    }
}
