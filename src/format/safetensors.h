/* format/safetensors: a safetensors reader over mmap (or a caller's buffer). The header is
 * validated at open exactly as the reference reader does, and more strictly where the README
 * says so (unknown fields, duplicate names): sizes, UTF-8, JSON schema, dtypes, shapes, offsets
 * contiguous from 0 with no holes, overlaps or trailing bytes. Byte layout: shared/FORMATS.md §5.
 * Tensor data is NOT guaranteed aligned: memcpy, or check ol_safetensors_tensor_aligned. */
#ifndef OL_SAFETENSORS_H
#define OL_SAFETENSORS_H

#include "base/base.h"

#include <stdbool.h>

/* Every dtype of the format: enum suffix, name in the file, bits per element. */
#define OL_SAFETENSORS_DTYPES(X)                                                                   \
    X(BOOL, "BOOL", 8)                                                                             \
    X(F4, "F4", 4)                                                                                 \
    X(F6_E2M3, "F6_E2M3", 6)                                                                       \
    X(F6_E3M2, "F6_E3M2", 6)                                                                       \
    X(U8, "U8", 8)                                                                                 \
    X(I8, "I8", 8)                                                                                 \
    X(F8_E5M2, "F8_E5M2", 8)                                                                       \
    X(F8_E4M3, "F8_E4M3", 8)                                                                       \
    X(F8_E8M0, "F8_E8M0", 8)                                                                       \
    X(F8_E4M3FNUZ, "F8_E4M3FNUZ", 8)                                                               \
    X(F8_E5M2FNUZ, "F8_E5M2FNUZ", 8)                                                               \
    X(I16, "I16", 16)                                                                              \
    X(U16, "U16", 16)                                                                              \
    X(F16, "F16", 16)                                                                              \
    X(BF16, "BF16", 16)                                                                            \
    X(I32, "I32", 32)                                                                              \
    X(U32, "U32", 32)                                                                              \
    X(F32, "F32", 32)                                                                              \
    X(C64, "C64", 64)                                                                              \
    X(F64, "F64", 64)                                                                              \
    X(I64, "I64", 64)                                                                              \
    X(U64, "U64", 64)

typedef enum ol_safetensors_dtype {
#define X(id, name, bits) OL_SAFETENSORS_DTYPE_##id,
    OL_SAFETENSORS_DTYPES(X)
#undef X
        OL_SAFETENSORS_DTYPE_COUNT
} ol_safetensors_dtype;

const char *ol_safetensors_dtype_name(ol_safetensors_dtype t); /* "unknown" if out of range */
int ol_safetensors_dtype_bits(ol_safetensors_dtype t);         /* 0 if out of range */

#define OL_SAFETENSORS_MAX_DIMS        8
#define OL_SAFETENSORS_MAX_HEADER_SIZE 100000000ull /* the reference's MAX_HEADER_SIZE */

/* One tensor. All pointers borrowed until ol_safetensors_close. */
typedef struct ol_safetensors_tensor {
    const char *name; /* NUL-terminated copy (names with NUL bytes are refused) */
    ol_safetensors_dtype dtype;
    int n_dims;                             /* 0 (scalar) .. OL_SAFETENSORS_MAX_DIMS */
    int64_t shape[OL_SAFETENSORS_MAX_DIMS]; /* row-major, shape[0] outermost; unused = 0 */
    int64_t n_elements;                     /* product of shape (1 for a scalar) */
    uint64_t offset;                        /* BEGIN, relative to the data buffer */
    size_t nbytes;                          /* END - BEGIN = n_elements * bits / 8 */
    const void *data; /* inside the file; little-endian, any alignment (may be 0 bytes) */
} ol_safetensors_tensor;

/* One __metadata__ entry; both strings NUL-terminated copies, borrowed until close. */
typedef struct ol_safetensors_kv {
    const char *key;
    const char *value;
} ol_safetensors_kv;

typedef struct ol_safetensors ol_safetensors;

/* Map and validate a file. NULL on failure with err filled (path, tensor, field, offset). */
ol_safetensors *ol_safetensors_open(const char *path, ol_err *err);
/* Validate a caller's buffer (borrowed until close): used by the fuzz target and tests. */
ol_safetensors *ol_safetensors_open_memory(const void *data, size_t size, ol_err *err);
void ol_safetensors_close(ol_safetensors *st); /* accepts NULL */

size_t ol_safetensors_file_size(const ol_safetensors *st);
size_t ol_safetensors_data_offset(const ol_safetensors *st); /* 8 + N: start of the data buffer */

/* Tensors in data order: sorted by offset, then size (empty tensors first), then header order. */
int64_t ol_safetensors_n_tensors(const ol_safetensors *st);
const ol_safetensors_tensor *ol_safetensors_tensor_at(const ol_safetensors *st, int64_t i);
const ol_safetensors_tensor *ol_safetensors_find(const ol_safetensors *st,
                                                 const char *name); /* NULL if absent */

/* Whether t->data is a multiple of align (a power of two), so it may be read through a typed
 * pointer; otherwise copy it out with memcpy. */
bool ol_safetensors_tensor_aligned(const ol_safetensors_tensor *t, size_t align);

/* __metadata__ entries in header order (absent or null: none). */
int64_t ol_safetensors_n_metadata(const ol_safetensors *st);
const ol_safetensors_kv *ol_safetensors_metadata_at(const ol_safetensors *st, int64_t i);
const char *ol_safetensors_metadata_get(const ol_safetensors *st,
                                        const char *key); /* NULL if absent */

#endif
