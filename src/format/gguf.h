/* format/gguf: a GGUF v2/v3 reader over mmap (or a caller's buffer). The whole header is
 * validated at open: every string, array, count, dimension, type, offset and size is checked
 * against the file before anything is used, so callers may trust what the accessors return.
 * Byte layout: see shared/FORMATS.md §1. Little-endian files only. */
#ifndef OL_GGUF_H
#define OL_GGUF_H

#include "base/base.h"

#include <stdbool.h>

typedef enum ol_gguf_type {
    OL_GGUF_TYPE_U8 = 0,
    OL_GGUF_TYPE_I8 = 1,
    OL_GGUF_TYPE_U16 = 2,
    OL_GGUF_TYPE_I16 = 3,
    OL_GGUF_TYPE_U32 = 4,
    OL_GGUF_TYPE_I32 = 5,
    OL_GGUF_TYPE_F32 = 6,
    OL_GGUF_TYPE_BOOL = 7,
    OL_GGUF_TYPE_STRING = 8,
    OL_GGUF_TYPE_ARRAY = 9,
    OL_GGUF_TYPE_U64 = 10,
    OL_GGUF_TYPE_I64 = 11,
    OL_GGUF_TYPE_F64 = 12,
    OL_GGUF_TYPE_COUNT
} ol_gguf_type;

const char *ol_gguf_type_name(ol_gguf_type t);

/* A string inside the file: not NUL-terminated; borrowed until ol_gguf_close. */
typedef struct ol_gguf_str {
    const char *ptr;
    uint64_t len;
} ol_gguf_str;

typedef struct ol_gguf_kv {
    ol_gguf_str key;
    ol_gguf_type type;
    ol_gguf_type arr_type; /* element type when type == ARRAY */
    uint64_t arr_n;        /* element count when type == ARRAY */
    const uint8_t *data;   /* scalar value, or first array element (unaligned: use accessors) */
    ol_gguf_str *strs;     /* string value (1 entry) or string-array elements (arr_n entries) */
} ol_gguf_kv;

#define OL_GGUF_MAX_DIMS 4
#define OL_GGUF_MAX_NAME 64

typedef struct ol_gguf_tensor {
    char name[OL_GGUF_MAX_NAME]; /* NUL-terminated, <= 63 bytes */
    int n_dims;
    int64_t ne[OL_GGUF_MAX_DIMS]; /* ggml order: ne[0] is the contiguous row length; unused = 1 */
    int ggml_type;                /* ggml type id, a known type with nonzero block size */
    uint64_t offset;              /* relative to the data section */
    size_t nbytes;
    const void *data; /* inside the mapping, within the file */
} ol_gguf_tensor;

/* ggml type table (facts from ggml.h): name, elements per block, bytes per block.
 * Returns 0 block size for unknown or removed ids. */
const char *ol_ggml_type_name(int ggml_type);
int ol_ggml_type_block_elems(int ggml_type);
int ol_ggml_type_block_bytes(int ggml_type);

typedef struct ol_gguf ol_gguf;

/* Map and validate a file. NULL on failure with err filled (file, key or tensor, offset). */
ol_gguf *ol_gguf_open(const char *path, ol_err *err);
/* Validate a caller's buffer (borrowed until close): used by the fuzz target and tests. */
ol_gguf *ol_gguf_open_memory(const void *data, size_t size, ol_err *err);
void ol_gguf_close(ol_gguf *g);

uint32_t ol_gguf_version(const ol_gguf *g);
size_t ol_gguf_alignment(const ol_gguf *g);
size_t ol_gguf_file_size(const ol_gguf *g);
size_t ol_gguf_data_offset(const ol_gguf *g); /* absolute offset of the data section */

int64_t ol_gguf_n_kv(const ol_gguf *g);
const ol_gguf_kv *ol_gguf_kv_at(const ol_gguf *g, int64_t i);
const ol_gguf_kv *ol_gguf_find(const ol_gguf *g, const char *key); /* NULL if absent */

/* Typed getters. Integers widen losslessly across integer types (a u32 key stored as u64 or
 * i32 is accepted when the value fits). Return 0, OL_ENOENT if the key is absent, or
 * OL_EFORMAT (err names the key and its stored type) if the type or value does not fit. */
int ol_gguf_get_u32(const ol_gguf *g, const char *key, uint32_t *out, ol_err *err);
int ol_gguf_get_i64(const ol_gguf *g, const char *key, int64_t *out, ol_err *err);
int ol_gguf_get_f32(const ol_gguf *g, const char *key, float *out, ol_err *err);
int ol_gguf_get_bool(const ol_gguf *g, const char *key, bool *out, ol_err *err);
int ol_gguf_get_str(const ol_gguf *g, const char *key, ol_gguf_str *out, ol_err *err);
/* Array of the given element type (string arrays: use kv->strs). */
int ol_gguf_get_arr(const ol_gguf *g, const char *key, ol_gguf_type elem, const ol_gguf_kv **out,
                    ol_err *err);

/* Element accessors for numeric arrays (unaligned-safe). i < kv->arr_n is the caller's duty. */
int64_t ol_gguf_arr_int(const ol_gguf_kv *kv, uint64_t i);  /* any integer or bool element */
double ol_gguf_arr_float(const ol_gguf_kv *kv, uint64_t i); /* any numeric element */
/* Scalar value as integer/float regardless of numeric type (for printing). */
int64_t ol_gguf_kv_int(const ol_gguf_kv *kv);
double ol_gguf_kv_float(const ol_gguf_kv *kv);

int64_t ol_gguf_n_tensors(const ol_gguf *g);
const ol_gguf_tensor *ol_gguf_tensor_at(const ol_gguf *g, int64_t i);
const ol_gguf_tensor *ol_gguf_find_tensor(const ol_gguf *g, const char *name); /* NULL if absent */

/* Compare a file string with a C string. */
bool ol_gguf_str_eq(ol_gguf_str s, const char *c);

#endif
