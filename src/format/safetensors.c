/* format/safetensors.c: safetensors reader. Layout enforced:
 *   u64 LE N (<= 100,000,000, 8+N <= file size) | N bytes UTF-8 JSON header | data buffer
 *   header = {"name": {"dtype": D, "shape": [d0, ...], "data_offsets": [BEGIN, END]}, ...,
 *             "__metadata__": {"k": "v", ...} (optional, may be null)}
 *   sorted by (BEGIN, END): first BEGIN = 0, each BEGIN = previous END, END - BEGIN =
 *   prod(shape) * bits(D) / 8, last END = file size - 8 - N (no trailing bytes). */
#define _GNU_SOURCE
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include "format_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* A valid header nests 3 deep (root, entry, shape) and no array holds more than 8 values; the
 * pre-scan refuses far deeper or longer ones before jansson allocates a tree for them. */
#define PRESCAN_MAX_DEPTH 3
#define PRESCAN_MAX_ARRAY 64

static const struct {
    const char *name;
    int bits;
} dtype_table[OL_SAFETENSORS_DTYPE_COUNT] = {
#define X(id, name, bits) [OL_SAFETENSORS_DTYPE_##id] = {name, bits},
    OL_SAFETENSORS_DTYPES(X)
#undef X
};

const char *ol_safetensors_dtype_name(ol_safetensors_dtype t) {
    return (unsigned)t < OL_SAFETENSORS_DTYPE_COUNT ? dtype_table[t].name : "unknown";
}
int ol_safetensors_dtype_bits(ol_safetensors_dtype t) {
    return (unsigned)t < OL_SAFETENSORS_DTYPE_COUNT ? dtype_table[t].bits : 0;
}

struct ol_safetensors {
    const uint8_t *base;
    size_t size;
    int mapped; /* 1: munmap at close */
    size_t data_start;
    int64_t n_tensors, n_meta;
    ol_safetensors_tensor *tensors; /* data order */
    ol_safetensors_kv *meta;
    char *strings;  /* every name, key and value, NUL-terminated, back to back */
    int64_t *index; /* open-addressing hash of tensor names, -1 = empty */
    size_t index_cap;
};

#define FAIL(err, ...) ol_err_set(err, OL_EFORMAT, "safetensors: " __VA_ARGS__)

/* ---- header bytes ------------------------------------------------------------------------ */
/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF); returns the offset of
 * the first bad byte, or n. */
static size_t utf8_check(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, min = 0x10000, cp = c & 0x07;
        } else {
            return i;
        }
        if (len > n - i) return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += len;
    }
    return n;
}

/* Refuse nesting deeper than PRESCAN_MAX_DEPTH or arrays longer than PRESCAN_MAX_ARRAY, so a
 * hostile header cannot make jansson build a huge tree. Malformed JSON passes through to
 * jansson, which reports it. */
static int prescan(const uint8_t *h, size_t n, ol_err *err) {
    char kind[PRESCAN_MAX_DEPTH + 1];
    size_t count[PRESCAN_MAX_DEPTH + 1];
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = h[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > PRESCAN_MAX_DEPTH)
                return FAIL(err, "header nests deeper than %d levels at offset %zu",
                            PRESCAN_MAX_DEPTH, 8 + i);
            kind[depth] = (char)c;
            count[depth] = 0;
        } else if (c == '}' || c == ']') {
            if (--depth < 0) return 0; /* unbalanced: jansson says where */
        } else if (c == ',' && depth > 0 && kind[depth] == '[') {
            if (++count[depth] >= PRESCAN_MAX_ARRAY)
                return FAIL(err, "header array has more than %d elements at offset %zu",
                            PRESCAN_MAX_ARRAY, 8 + i);
        }
    }
    return 0;
}

/* ---- JSON helpers ------------------------------------------------------------------------ */
/* Non-negative JSON integer at v (field[i] names it in messages). */
static int get_u64(const json_t *v, const char *tname, const char *field, size_t i, uint64_t *out,
                   ol_err *err) {
    if (!json_is_integer(v))
        return FAIL(err, "tensor '%s': %s[%zu] is %s, want a non-negative integer", tname, field, i,
                    ol_format_json_kind(v));
    json_int_t x = json_integer_value(v);
    if (x < 0)
        return FAIL(err, "tensor '%s': %s[%zu] = %lld is negative", tname, field, i, (long long)x);
    *out = (uint64_t)x;
    return 0;
}

static char *copy_str(char **cursor, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = *cursor;
    memcpy(d, s, n);
    *cursor += n;
    return d;
}

/* ---- one tensor entry -------------------------------------------------------------------- */
static int parse_dtype(const json_t *v, const char *name, ol_safetensors_tensor *t, ol_err *err) {
    if (!json_is_string(v))
        return FAIL(err, "tensor '%s': dtype is %s, want a string", name, ol_format_json_kind(v));
    const char *s = json_string_value(v);
    for (int d = 0; d < OL_SAFETENSORS_DTYPE_COUNT; d++)
        if (!strcmp(s, dtype_table[d].name)) {
            t->dtype = (ol_safetensors_dtype)d;
            return 0;
        }
    return FAIL(err, "tensor '%s': unknown dtype '%.64s'", name, s);
}

static int parse_shape(const json_t *v, const char *name, ol_safetensors_tensor *t, ol_err *err) {
    if (!json_is_array(v))
        return FAIL(err, "tensor '%s': shape is %s, want an array", name, ol_format_json_kind(v));
    size_t n = json_array_size(v);
    if (n > OL_SAFETENSORS_MAX_DIMS)
        return FAIL(err, "tensor '%s': shape has %zu dimensions, more than %d", name, n,
                    OL_SAFETENSORS_MAX_DIMS);
    t->n_dims = (int)n;
    for (size_t i = 0; i < n; i++) {
        uint64_t d;
        int rc = get_u64(json_array_get(v, i), name, "shape", i, &d, err);
        if (rc) return rc;
        t->shape[i] = (int64_t)d; /* jansson integers are at most INT64_MAX */
    }
    return 0;
}

static int parse_offsets(const json_t *v, const char *name, uint64_t *begin, uint64_t *end,
                         ol_err *err) {
    if (!json_is_array(v) || json_array_size(v) != 2)
        return FAIL(err, "tensor '%s': data_offsets is %s%s, want [BEGIN, END]", name,
                    ol_format_json_kind(v), json_is_array(v) ? " of the wrong length" : "");
    int rc = get_u64(json_array_get(v, 0), name, "data_offsets", 0, begin, err);
    if (!rc) rc = get_u64(json_array_get(v, 1), name, "data_offsets", 1, end, err);
    if (rc) return rc;
    if (*end < *begin)
        return FAIL(err, "tensor '%s': data_offsets end %llu is before begin %llu", name,
                    (unsigned long long)*end, (unsigned long long)*begin);
    return 0;
}

/* nbytes = prod(shape) * bits / 8, every product overflow-checked (reference step 5). */
static int compute_nbytes(const char *name, ol_safetensors_tensor *t, ol_err *err) {
    uint64_t ne = 1;
    for (int d = 0; d < t->n_dims; d++) {
        uint64_t x = (uint64_t)t->shape[d];
        if (x != 0 && ne > UINT64_MAX / x)
            return FAIL(err, "tensor '%s': element count of the shape overflows", name);
        ne *= x;
    }
    uint64_t bits = (uint64_t)dtype_table[t->dtype].bits;
    if (ne > UINT64_MAX / bits) return FAIL(err, "tensor '%s': size in bits overflows", name);
    bits *= ne;
    if (bits % 8)
        return FAIL(err, "tensor '%s': %llu elements of %s are not a whole number of bytes", name,
                    (unsigned long long)ne, dtype_table[t->dtype].name);
#if SIZE_MAX < UINT64_MAX
    if (bits / 8 > SIZE_MAX) return FAIL(err, "tensor '%s': size overflows size_t", name);
#endif
    t->n_elements = (int64_t)ne; /* < 2^62: at least 4 bits per element */
    t->nbytes = (size_t)(bits / 8);
    return 0;
}

static int parse_entry(const char *name, const json_t *v, ol_safetensors_tensor *t, ol_err *err) {
    if (!json_is_object(v))
        return FAIL(err, "tensor '%s': entry is %s, want an object", name, ol_format_json_kind(v));
    const json_t *dtype = NULL, *shape = NULL, *offs = NULL;
    const char *k;
    json_t *f;
    json_object_foreach((json_t *)v, k, f) {
        if (!strcmp(k, "dtype"))
            dtype = f;
        else if (!strcmp(k, "shape"))
            shape = f;
        else if (!strcmp(k, "data_offsets"))
            offs = f;
        else
            return FAIL(err, "tensor '%s': unknown field '%.64s'", name, k);
    }
    if (!dtype) return FAIL(err, "tensor '%s': missing field 'dtype'", name);
    if (!shape) return FAIL(err, "tensor '%s': missing field 'shape'", name);
    if (!offs) return FAIL(err, "tensor '%s': missing field 'data_offsets'", name);
    uint64_t begin, end;
    int rc = parse_dtype(dtype, name, t, err);
    if (!rc) rc = parse_shape(shape, name, t, err);
    if (!rc) rc = parse_offsets(offs, name, &begin, &end, err);
    if (!rc) rc = compute_nbytes(name, t, err);
    if (rc) return rc;
    if (end - begin != t->nbytes)
        return FAIL(
            err, "tensor '%s': data_offsets [%llu, %llu) hold %llu bytes but %s%s needs %zu", name,
            (unsigned long long)begin, (unsigned long long)end, (unsigned long long)(end - begin),
            dtype_table[t->dtype].name, t->n_dims ? " of this shape" : " scalar", t->nbytes);
    t->offset = begin;
    return 0;
}

static int parse_metadata(ol_safetensors *st, const json_t *m, char **cursor, ol_err *err) {
    if (json_is_null(m)) return 0;
    if (!json_is_object(m))
        return FAIL(err, "__metadata__ is %s, want an object", ol_format_json_kind(m));
    st->n_meta = (int64_t)json_object_size(m);
    st->meta = calloc((size_t)(st->n_meta ? st->n_meta : 1), sizeof(ol_safetensors_kv));
    if (!st->meta) return ol_err_set(err, OL_ENOMEM, "safetensors: out of memory");
    int64_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) {
        if (!json_is_string(v))
            return FAIL(err, "__metadata__ '%.64s' is %s, want a string", k,
                        ol_format_json_kind(v));
        st->meta[i].key = copy_str(cursor, k);
        st->meta[i].value = copy_str(cursor, json_string_value(v));
        i++;
    }
    return 0;
}

/* ---- layout ------------------------------------------------------------------------------ */
static int cmp_layout(const void *a, const void *b) {
    const ol_safetensors_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return x->name < y->name ? -1 : x->name > y->name; /* names are in header order in the blob */
}

/* Reference steps 4 and 6: contiguous from 0, no holes, no overlaps, no trailing bytes. */
static int check_layout(ol_safetensors *st, ol_err *err) {
    qsort(st->tensors, (size_t)st->n_tensors, sizeof(ol_safetensors_tensor), cmp_layout);
    size_t data_size = st->size - st->data_start;
    uint64_t pos = 0;
    const char *prev = NULL;
    for (int64_t i = 0; i < st->n_tensors; i++) {
        ol_safetensors_tensor *t = &st->tensors[i];
        if (t->offset != pos) {
            if (!prev)
                return FAIL(err, "first tensor '%s' begins at data offset %llu, not 0", t->name,
                            (unsigned long long)t->offset);
            return FAIL(err,
                        "tensor '%s' begins at data offset %llu but tensor '%s' ends at %llu (%s)",
                        t->name, (unsigned long long)t->offset, prev, (unsigned long long)pos,
                        t->offset > pos ? "hole" : "overlap");
        }
        if (t->nbytes > data_size || t->offset > data_size - t->nbytes)
            return FAIL(err,
                        "tensor '%s' data [%llu, %llu) runs past the end of the file (data buffer "
                        "is %zu bytes at offset %zu)",
                        t->name, (unsigned long long)t->offset,
                        (unsigned long long)(t->offset + t->nbytes), data_size, st->data_start);
        t->data = st->base + st->data_start + t->offset;
        pos = t->offset + t->nbytes;
        prev = t->name;
    }
    if (pos != data_size)
        return FAIL(err,
                    "%zu trailing bytes after the last tensor (data ends at file offset %llu, "
                    "file is %zu bytes)",
                    data_size - (size_t)pos, (unsigned long long)(st->data_start + pos), st->size);
    return 0;
}

static int build_index(ol_safetensors *st, ol_err *err) {
    size_t cap = 16;
    while (cap < (size_t)st->n_tensors * 2) cap *= 2;
    st->index = malloc(cap * sizeof(int64_t));
    if (!st->index) return ol_err_set(err, OL_ENOMEM, "safetensors: out of memory");
    st->index_cap = cap;
    for (size_t i = 0; i < cap; i++) st->index[i] = -1;
    for (int64_t i = 0; i < st->n_tensors; i++) {
        const char *name = st->tensors[i].name;
        size_t h = (size_t)ol_hash_fnv1a(name, strlen(name), 0) & (cap - 1);
        while (st->index[h] >= 0) {
            if (!strcmp(st->tensors[st->index[h]].name, name))
                return FAIL(err, "duplicate tensor name '%s'", name);
            h = (h + 1) & (cap - 1);
        }
        st->index[h] = i;
    }
    return 0;
}

/* ---- parse ------------------------------------------------------------------------------- */
static int parse_tree(ol_safetensors *st, json_t *root, ol_err *err) {
    if (!json_is_object(root))
        return FAIL(err, "header is %s, want an object", ol_format_json_kind(root));
    /* one allocation for every string; its size is bounded by the header size */
    size_t total = 1;
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        total += strlen(k) + 1;
        if (strcmp(k, "__metadata__")) continue;
        const char *mk;
        json_t *mv;
        if (json_is_object(v)) json_object_foreach(v, mk, mv) {
                total += strlen(mk) + 1;
                if (json_is_string(mv)) total += json_string_length(mv) + 1;
            }
    }
    st->strings = malloc(total);
    size_t n = json_object_size(root);
    st->tensors = calloc(n ? n : 1, sizeof(ol_safetensors_tensor));
    if (!st->strings || !st->tensors)
        return ol_err_set(err, OL_ENOMEM, "safetensors: out of memory");
    char *cursor = st->strings;
    int rc = 0;
    json_object_foreach(root, k, v) {
        if (!strcmp(k, "__metadata__")) {
            if ((rc = parse_metadata(st, v, &cursor, err))) return rc;
            continue;
        }
        ol_safetensors_tensor *t = &st->tensors[st->n_tensors];
        t->name = copy_str(&cursor, k);
        if ((rc = parse_entry(t->name, v, t, err))) return rc;
        st->n_tensors++;
    }
    if ((rc = check_layout(st, err))) return rc;
    return build_index(st, err);
}

static int parse(ol_safetensors *st, ol_err *err) {
    uint64_t n;
    if (st->size < 8)
        return FAIL(err, "file is %zu bytes, too small for the 8-byte header length", st->size);
    memcpy(&n, st->base, 8); /* little-endian host */
    if (n > OL_SAFETENSORS_MAX_HEADER_SIZE)
        return FAIL(err, "header length %llu at offset 0 exceeds %llu", (unsigned long long)n,
                    OL_SAFETENSORS_MAX_HEADER_SIZE);
    if (n > st->size - 8)
        return FAIL(err, "header length %llu at offset 0 runs past the end of the file (%zu bytes)",
                    (unsigned long long)n, st->size);
    const uint8_t *h = st->base + 8;
    st->data_start = 8 + (size_t)n;
    size_t bad = utf8_check(h, (size_t)n);
    if (bad != n) return FAIL(err, "header is not valid UTF-8 at offset %zu", 8 + bad);
    int rc = prescan(h, (size_t)n, err);
    if (rc) return rc;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)h, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return FAIL(err, "header is not valid JSON at offset %zu: %s", 8 + (size_t)jerr.position,
                    jerr.text);
    rc = parse_tree(st, root, err);
    json_decref(root);
    return rc;
}

static ol_safetensors *open_common(ol_safetensors *st, const char *label, ol_err *err) {
    ol_err local;
    ol_err *e = err ? err : &local;
    if (!parse(st, e)) return st;
    if (label && label[0]) {
        char tmp[sizeof(e->msg)];
        memcpy(tmp, e->msg, sizeof(tmp));
        int n = snprintf(e->msg, sizeof(e->msg), "%s: ", label);
        if (n > 0 && (size_t)n < sizeof(e->msg))
            memcpy(e->msg + n, tmp, sizeof(e->msg) - (size_t)n - 1);
        e->msg[sizeof(e->msg) - 1] = 0;
    }
    ol_safetensors_close(st);
    return NULL;
}

ol_safetensors *ol_safetensors_open_memory(const void *data, size_t size, ol_err *err) {
    ol_safetensors *st = calloc(1, sizeof(*st));
    if (!st) {
        ol_err_set(err, OL_ENOMEM, "safetensors: out of memory");
        return NULL;
    }
    st->base = size ? data : (const uint8_t *)"";
    st->size = size;
    return open_common(st, NULL, err);
}

ol_safetensors *ol_safetensors_open(const char *path, ol_err *err) {
    const void *p;
    size_t size;
    if (ol_file_map(path, &p, &size, err)) return NULL;
    ol_safetensors *s = calloc(1, sizeof(*s));
    if (!s) {
        ol_file_unmap(p, size);
        ol_err_set(err, OL_ENOMEM, "safetensors: out of memory");
        return NULL;
    }
    s->base = p;
    s->size = size;
    s->mapped = 1;
    return open_common(s, path, err);
}

void ol_safetensors_close(ol_safetensors *st) {
    if (!st) return;
    free(st->tensors);
    free(st->meta);
    free(st->strings);
    free(st->index);
    if (st->mapped) ol_file_unmap(st->base, st->size);
    free(st);
}

/* ---- accessors --------------------------------------------------------------------------- */
size_t ol_safetensors_file_size(const ol_safetensors *st) {
    return st->size;
}
size_t ol_safetensors_data_offset(const ol_safetensors *st) {
    return st->data_start;
}
int64_t ol_safetensors_n_tensors(const ol_safetensors *st) {
    return st->n_tensors;
}
const ol_safetensors_tensor *ol_safetensors_tensor_at(const ol_safetensors *st, int64_t i) {
    return i >= 0 && i < st->n_tensors ? &st->tensors[i] : NULL;
}

const ol_safetensors_tensor *ol_safetensors_find(const ol_safetensors *st, const char *name) {
    if (!st->index) return NULL;
    size_t h = (size_t)ol_hash_fnv1a(name, strlen(name), 0) & (st->index_cap - 1);
    for (; st->index[h] >= 0; h = (h + 1) & (st->index_cap - 1)) {
        const ol_safetensors_tensor *t = &st->tensors[st->index[h]];
        if (!strcmp(t->name, name)) return t;
    }
    return NULL;
}

bool ol_safetensors_tensor_aligned(const ol_safetensors_tensor *t, size_t align) {
    OL_ASSERT(align && !(align & (align - 1)));
    return ((uintptr_t)t->data & (align - 1)) == 0;
}

int64_t ol_safetensors_n_metadata(const ol_safetensors *st) {
    return st->n_meta;
}
const ol_safetensors_kv *ol_safetensors_metadata_at(const ol_safetensors *st, int64_t i) {
    return i >= 0 && i < st->n_meta ? &st->meta[i] : NULL;
}
const char *ol_safetensors_metadata_get(const ol_safetensors *st, const char *key) {
    for (int64_t i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta[i].key, key)) return st->meta[i].value;
    return NULL;
}
