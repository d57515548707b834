/* format/gguf.c: GGUF reader. Layout enforced (all little-endian):
 *   u32 magic "GGUF" | u32 version (2 or 3) | i64 n_tensors | i64 n_kv
 *   n_kv × { str key | i32 type | value }            str = u64 len + bytes (no NUL)
 *       value: scalar bytes, string, or { i32 elem_type | u64 n | n elements }
 *   n_tensors × { str name | u32 n_dims (1..4) | n_dims × i64 ne | i32 ggml_type | u64 offset }
 *   zero padding to general.alignment (u32, power of two, default 32)
 *   data section: tensor i at data_start + offset[i], aligned, inside the file, no overlaps.
 * Limits follow the reference reader (shared/FORMATS.md §1): strings ≤ 1 GiB, arrays ≤ 2^30
 * elements, no nested arrays, names < 64 bytes, unique keys and tensor names. */
#define _GNU_SOURCE
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAX_STRING    (1ull << 30)
#define GGUF_MAX_ARRAY     (1ull << 30)
#define GGUF_DEFAULT_ALIGN 32

/* ggml types: id, name, block elements, block bytes (0 = removed id). */
#define OL_GGML_TYPES(X)                                                                           \
    X(0, "F32", 1, 4)                                                                              \
    X(1, "F16", 1, 2)                                                                              \
    X(2, "Q4_0", 32, 18)                                                                           \
    X(3, "Q4_1", 32, 20)                                                                           \
    X(6, "Q5_0", 32, 22)                                                                           \
    X(7, "Q5_1", 32, 24)                                                                           \
    X(8, "Q8_0", 32, 34)                                                                           \
    X(9, "Q8_1", 32, 36)                                                                           \
    X(10, "Q2_K", 256, 84)                                                                         \
    X(11, "Q3_K", 256, 110)                                                                        \
    X(12, "Q4_K", 256, 144)                                                                        \
    X(13, "Q5_K", 256, 176)                                                                        \
    X(14, "Q6_K", 256, 210)                                                                        \
    X(15, "Q8_K", 256, 292)                                                                        \
    X(16, "IQ2_XXS", 256, 66)                                                                      \
    X(17, "IQ2_XS", 256, 74)                                                                       \
    X(18, "IQ3_XXS", 256, 98)                                                                      \
    X(19, "IQ1_S", 256, 50)                                                                        \
    X(20, "IQ4_NL", 32, 18)                                                                        \
    X(21, "IQ3_S", 256, 110)                                                                       \
    X(22, "IQ2_S", 256, 82)                                                                        \
    X(23, "IQ4_XS", 256, 136)                                                                      \
    X(24, "I8", 1, 1)                                                                              \
    X(25, "I16", 1, 2)                                                                             \
    X(26, "I32", 1, 4)                                                                             \
    X(27, "I64", 1, 8)                                                                             \
    X(28, "F64", 1, 8)                                                                             \
    X(29, "IQ1_M", 256, 56)                                                                        \
    X(30, "BF16", 1, 2)                                                                            \
    X(34, "TQ1_0", 256, 54)                                                                        \
    X(35, "TQ2_0", 256, 66)                                                                        \
    X(39, "MXFP4", 32, 17)

typedef struct {
    const char *name;
    int blck, bytes;
} ggml_type_info;

static const ggml_type_info *type_info(int id) {
    static const ggml_type_info table[64] = {
#define X(id, name, blck, bytes) [id] = {name, blck, bytes},
        OL_GGML_TYPES(X)
#undef X
    };
    if (id < 0 || id >= 64 || table[id].blck == 0) return NULL;
    return &table[id];
}

const char *ol_ggml_type_name(int t) {
    const ggml_type_info *ti = type_info(t);
    return ti ? ti->name : "unknown";
}
int ol_ggml_type_block_elems(int t) {
    const ggml_type_info *ti = type_info(t);
    return ti ? ti->blck : 0;
}
int ol_ggml_type_block_bytes(int t) {
    const ggml_type_info *ti = type_info(t);
    return ti ? ti->bytes : 0;
}

static const int scalar_size[OL_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *ol_gguf_type_name(ol_gguf_type t) {
    static const char *n[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                              "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < OL_GGUF_TYPE_COUNT ? n[t] : "unknown";
}

struct ol_gguf {
    const uint8_t *base;
    size_t size;
    int mapped; /* 1: munmap at close */
    uint32_t version;
    size_t align;
    size_t data_start;
    int64_t n_kv, n_tensors;
    ol_gguf_kv *kvs;
    ol_gguf_tensor *tensors;
    int64_t *tensor_index; /* open-addressing hash of tensor names, -1 = empty */
    size_t index_cap;
};

/* ---- a bounds-checked cursor ------------------------------------------------------------- */
typedef struct {
    const uint8_t *base;
    size_t size, pos;
    ol_err *err;
    const char *what; /* context for messages: "key 'x'" or "tensor 'y'" */
    char what_buf[160];
} cursor;

static int fail(cursor *c, const char *fmt, const char *detail) {
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, detail ? detail : "");
    return ol_err_set(c->err, OL_EFORMAT, "gguf: %s%s%s at offset %zu", msg, c->what ? " in " : "",
                      c->what ? c->what : "", c->pos);
}

static int need(cursor *c, size_t n, const char *field) {
    if (n > c->size - c->pos) return fail(c, "truncated file reading %s", field);
    return 0;
}

static int rd(cursor *c, void *out, size_t n, const char *field) {
    int rc = need(c, n, field);
    if (rc) return rc;
    memcpy(out, c->base + c->pos, n);
    c->pos += n;
    return 0;
}

static int rd_str(cursor *c, ol_gguf_str *s, const char *field) {
    uint64_t len;
    int rc = rd(c, &len, 8, field);
    if (rc) return rc;
    if (len > GGUF_MAX_STRING) return fail(c, "%s length exceeds 1 GiB", field);
    if ((rc = need(c, (size_t)len, field))) return rc;
    s->ptr = (const char *)c->base + c->pos;
    s->len = len;
    c->pos += (size_t)len;
    return 0;
}

bool ol_gguf_str_eq(ol_gguf_str s, const char *cs) {
    size_t n = strlen(cs);
    return s.len == n && memcmp(s.ptr, cs, n) == 0;
}

static void set_what(cursor *c, const char *kind, ol_gguf_str name) {
    int n = name.len > 100 ? 100 : (int)name.len;
    snprintf(c->what_buf, sizeof(c->what_buf), "%s '%.*s'", kind, n, name.ptr);
    c->what = c->what_buf;
}

/* ---- metadata ---------------------------------------------------------------------------- */
static int parse_value(cursor *c, ol_gguf_kv *kv) {
    int32_t t;
    int rc = rd(c, &t, 4, "value type");
    if (rc) return rc;
    if (t < 0 || t >= OL_GGUF_TYPE_COUNT) {
        char d[32];
        snprintf(d, sizeof(d), "%d", t);
        return fail(c, "unknown value type %s", d);
    }
    kv->type = (ol_gguf_type)t;
    if (t == OL_GGUF_TYPE_STRING) {
        kv->strs = malloc(sizeof(ol_gguf_str));
        if (!kv->strs) return ol_err_set(c->err, OL_ENOMEM, "gguf: out of memory");
        kv->data = c->base + c->pos;
        return rd_str(c, kv->strs, "string value");
    }
    if (t != OL_GGUF_TYPE_ARRAY) {
        kv->data = c->base + c->pos;
        if ((rc = need(c, (size_t)scalar_size[t], "scalar value"))) return rc;
        c->pos += (size_t)scalar_size[t];
        return 0;
    }
    int32_t et;
    uint64_t n;
    if ((rc = rd(c, &et, 4, "array element type"))) return rc;
    if (et < 0 || et >= OL_GGUF_TYPE_COUNT) {
        char d[32];
        snprintf(d, sizeof(d), "%d", et);
        return fail(c, "unknown array element type %s", d);
    }
    if (et == OL_GGUF_TYPE_ARRAY) return fail(c, "nested arrays are not allowed%s", NULL);
    if ((rc = rd(c, &n, 8, "array count"))) return rc;
    if (n > GGUF_MAX_ARRAY) return fail(c, "array count exceeds 2^30%s", NULL);
    kv->arr_type = (ol_gguf_type)et;
    kv->arr_n = n;
    kv->data = c->base + c->pos;
    size_t esz = et == OL_GGUF_TYPE_STRING ? 8 : (size_t)scalar_size[et];
    /* each element takes at least esz bytes: check before allocating anything */
    if (n > (c->size - c->pos) / esz)
        return fail(c, "array of %s elements runs past the end of the file", ol_gguf_type_name(et));
    if (et != OL_GGUF_TYPE_STRING) {
        c->pos += (size_t)n * esz;
        return 0;
    }
    kv->strs = malloc((size_t)(n ? n : 1) * sizeof(ol_gguf_str));
    if (!kv->strs)
        return ol_err_set(c->err, OL_ENOMEM, "gguf: out of memory for %llu strings",
                          (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++)
        if ((rc = rd_str(c, &kv->strs[i], "array string"))) return rc;
    return 0;
}

/* Insert kvs[i].key into the open-addressing set idx (cap a power of two, -1 = empty);
 * returns 1 if an equal key is already there. Linear in n_kv, where a pairwise scan would let
 * a hostile file with millions of keys stall the loader. */
static int key_seen(const ol_gguf *g, int64_t *idx, size_t cap, int64_t i) {
    ol_gguf_str k = g->kvs[i].key;
    size_t h = (size_t)ol_hash_fnv1a(k.ptr, (size_t)k.len, 0) & (cap - 1);
    for (; idx[h] >= 0; h = (h + 1) & (cap - 1)) {
        ol_gguf_str o = g->kvs[idx[h]].key;
        if (o.len == k.len && !memcmp(o.ptr, k.ptr, (size_t)k.len)) return 1;
    }
    idx[h] = i;
    return 0;
}

static int parse_kvs(ol_gguf *g, cursor *c) {
    size_t cap = 16;
    while (cap < (size_t)g->n_kv * 2) cap *= 2;
    int64_t *idx = malloc(cap * sizeof(int64_t));
    if (!idx) return ol_err_set(c->err, OL_ENOMEM, "gguf: out of memory");
    for (size_t i = 0; i < cap; i++) idx[i] = -1;
    int rc = 0;
    for (int64_t i = 0; i < g->n_kv && !rc; i++) {
        ol_gguf_kv *kv = &g->kvs[i];
        c->what = NULL;
        if ((rc = rd_str(c, &kv->key, "key"))) break;
        if (kv->key.len == 0) {
            rc = fail(c, "empty key%s", NULL);
            break;
        }
        set_what(c, "key", kv->key);
        if (key_seen(g, idx, cap, i)) {
            rc = fail(c, "duplicate key%s", NULL);
            break;
        }
        rc = parse_value(c, kv);
    }
    free(idx);
    c->what = NULL;
    return rc;
}

/* ---- tensor infos ------------------------------------------------------------------------ */
static int parse_tensor_info(ol_gguf *g, cursor *c, ol_gguf_tensor *t) {
    ol_gguf_str name;
    c->what = NULL;
    int rc = rd_str(c, &name, "tensor name");
    if (rc) return rc;
    set_what(c, "tensor", name);
    if (name.len == 0) return fail(c, "empty tensor name%s", NULL);
    if (name.len >= OL_GGUF_MAX_NAME) return fail(c, "tensor name longer than 63 bytes%s", NULL);
    if (memchr(name.ptr, 0, name.len)) return fail(c, "tensor name contains a NUL byte%s", NULL);
    memcpy(t->name, name.ptr, name.len);
    t->name[name.len] = 0;
    uint32_t n_dims;
    if ((rc = rd(c, &n_dims, 4, "n_dims"))) return rc;
    if (n_dims < 1 || n_dims > OL_GGUF_MAX_DIMS) {
        char d[16];
        snprintf(d, sizeof(d), "%u", n_dims);
        return fail(c, "n_dims %s outside 1..4", d);
    }
    t->n_dims = (int)n_dims;
    for (int d = 0; d < OL_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if ((rc = rd(c, &t->ne[d], 8, "dimension"))) return rc;
        if (t->ne[d] < 0) return fail(c, "negative dimension%s", NULL);
    }
    int32_t type;
    if ((rc = rd(c, &type, 4, "tensor type"))) return rc;
    const ggml_type_info *ti = type_info(type);
    if (!ti) {
        char d[16];
        snprintf(d, sizeof(d), "%d", type);
        return fail(c, "unknown or removed ggml type %s", d);
    }
    t->ggml_type = type;
    if ((rc = rd(c, &t->offset, 8, "tensor offset"))) return rc;
    if (t->ne[0] % ti->blck != 0) {
        char d[64];
        snprintf(d, sizeof(d), "%lld is not a multiple of %s block size %d", (long long)t->ne[0],
                 ti->name, ti->blck);
        return fail(c, "row length %s", d);
    }
    /* the element count must fit int64 (running products, as the reference checks) */
    int64_t ne = 1;
    for (int d = 0; d < OL_GGUF_MAX_DIMS; d++) {
        if (t->ne[d] != 0 && ne > INT64_MAX / t->ne[d])
            return fail(c, "element count overflows%s", NULL);
        ne *= t->ne[d];
    }
    /* nbytes = ne0/blck * bytes * ne1 * ne2 * ne3, overflow-checked */
    size_t nb = (size_t)(t->ne[0] / ti->blck);
    if (ol_mul_size(nb, (size_t)ti->bytes, &nb)) return fail(c, "tensor size overflows%s", NULL);
    for (int d = 1; d < OL_GGUF_MAX_DIMS; d++)
        if (ol_mul_size(nb, (size_t)t->ne[d], &nb)) return fail(c, "tensor size overflows%s", NULL);
    t->nbytes = nb;
    (void)g;
    return 0;
}

static int cmp_off(const void *a, const void *b, void *ts) {
    const ol_gguf_tensor *t = ts;
    uint64_t x = t[*(const int64_t *)a].offset, y = t[*(const int64_t *)b].offset;
    return x < y ? -1 : x > y;
}

static int check_tensor_layout(ol_gguf *g, ol_err *err) {
    size_t data_size = g->size - g->data_start;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        ol_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->align)
            return ol_err_set(err, OL_EFORMAT,
                              "gguf: tensor '%s' offset %llu is not aligned to %zu", t->name,
                              (unsigned long long)t->offset, g->align);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return ol_err_set(err, OL_EFORMAT,
                              "gguf: tensor '%s' data [%llu, +%zu) runs past the end of the file "
                              "(data section is %zu bytes at offset %zu)",
                              t->name, (unsigned long long)t->offset, t->nbytes, data_size,
                              g->data_start);
        t->data = g->base + g->data_start + t->offset;
    }
    /* no two tensors may overlap */
    if (g->n_tensors > 1) {
        int64_t *ord = malloc((size_t)g->n_tensors * sizeof(int64_t));
        if (!ord) return ol_err_set(err, OL_ENOMEM, "gguf: out of memory");
        for (int64_t i = 0; i < g->n_tensors; i++) ord[i] = i;
        qsort_r(ord, (size_t)g->n_tensors, sizeof(int64_t), cmp_off, g->tensors);
        /* sorted by offset, b overlaps an earlier tensor iff it starts before the furthest
         * end so far; empty tensors are skipped (comparing sorted neighbours alone misses
         * A=[0,100) C=[50,60) when an empty B sits between them) */
        const ol_gguf_tensor *a = NULL; /* non-empty tensor with the furthest end so far */
        for (int64_t i = 0; i < g->n_tensors; i++) {
            const ol_gguf_tensor *b = &g->tensors[ord[i]];
            if (b->nbytes == 0) continue;
            if (!a || a->offset + a->nbytes <= b->offset) {
                a = b; /* b starts at or after every earlier end, so it now ends furthest */
                continue;
            }
            int rc = ol_err_set(err, OL_EFORMAT,
                                "gguf: tensors '%s' and '%s' overlap at data offset %llu", a->name,
                                b->name, (unsigned long long)b->offset);
            free(ord);
            return rc;
        }
        free(ord);
    }
    return 0;
}

static int build_index(ol_gguf *g, ol_err *err) {
    size_t cap = 16;
    while (cap < (size_t)g->n_tensors * 2) cap *= 2;
    g->tensor_index = malloc(cap * sizeof(int64_t));
    if (!g->tensor_index) return ol_err_set(err, OL_ENOMEM, "gguf: out of memory");
    g->index_cap = cap;
    for (size_t i = 0; i < cap; i++) g->tensor_index[i] = -1;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const char *name = g->tensors[i].name;
        size_t h = (size_t)ol_hash_fnv1a(name, strlen(name), 0) & (cap - 1);
        while (g->tensor_index[h] >= 0) {
            if (!strcmp(g->tensors[g->tensor_index[h]].name, name))
                return ol_err_set(err, OL_EFORMAT, "gguf: duplicate tensor name '%s'", name);
            h = (h + 1) & (cap - 1);
        }
        g->tensor_index[h] = i;
    }
    return 0;
}

static int parse(ol_gguf *g, ol_err *err) {
    cursor c = {.base = g->base, .size = g->size, .err = err};
    uint32_t magic;
    int64_t n_tensors, n_kv;
    int rc;
    if ((rc = rd(&c, &magic, 4, "magic"))) return rc;
    if (memcmp(&magic, "GGUF", 4)) return fail(&c, "bad magic (not a GGUF file)%s", NULL);
    if ((rc = rd(&c, &g->version, 4, "version"))) return rc;
    if (g->version != 0 && (g->version & 0xffff) == 0)
        return fail(&c, "big-endian GGUF files are not supported%s", NULL);
    if (g->version < 2 || g->version > 3) {
        char d[16];
        snprintf(d, sizeof(d), "%u", g->version);
        return fail(&c, "unsupported GGUF version %s (need 2 or 3)", d);
    }
    if ((rc = rd(&c, &n_tensors, 8, "tensor count"))) return rc;
    if ((rc = rd(&c, &n_kv, 8, "metadata count"))) return rc;
    /* each KV takes >= 8+1+4 bytes, each tensor info >= 8+1+4+8+4+8 bytes */
    if (n_kv < 0 || (uint64_t)n_kv > (g->size - c.pos) / 13)
        return fail(&c, "metadata count larger than the file can hold%s", NULL);
    if (n_tensors < 0 || (uint64_t)n_tensors > (g->size - c.pos) / 33)
        return fail(&c, "tensor count larger than the file can hold%s", NULL);
    g->n_kv = n_kv;
    g->n_tensors = n_tensors;
    g->kvs = calloc((size_t)(n_kv ? n_kv : 1), sizeof(ol_gguf_kv));
    g->tensors = calloc((size_t)(n_tensors ? n_tensors : 1), sizeof(ol_gguf_tensor));
    if (!g->kvs || !g->tensors) return ol_err_set(err, OL_ENOMEM, "gguf: out of memory");
    if ((rc = parse_kvs(g, &c))) return rc;

    g->align = GGUF_DEFAULT_ALIGN;
    const ol_gguf_kv *akv = ol_gguf_find(g, "general.alignment");
    if (akv) {
        uint32_t a;
        if (akv->type != OL_GGUF_TYPE_U32)
            return ol_err_set(err, OL_EFORMAT,
                              "gguf: key 'general.alignment' has type %s, want u32",
                              ol_gguf_type_name(akv->type));
        memcpy(&a, akv->data, 4);
        if (a == 0 || (a & (a - 1)) || a > (1u << 20))
            return ol_err_set(err, OL_EFORMAT,
                              "gguf: key 'general.alignment' = %u is not a power of two <= 2^20",
                              a);
        g->align = a;
    }
    for (int64_t i = 0; i < n_tensors; i++)
        if ((rc = parse_tensor_info(g, &c, &g->tensors[i]))) return rc;
    c.what = NULL;
    size_t ds = (c.pos + g->align - 1) & ~(g->align - 1);
    if (n_tensors > 0 && ds > g->size) return fail(&c, "file ends before the data section%s", NULL);
    g->data_start = ds > g->size ? g->size : ds;
    if ((rc = build_index(g, err))) return rc;
    return check_tensor_layout(g, err);
}

static ol_gguf *open_common(ol_gguf *g, const char *label, ol_err *err) {
    ol_err local;
    ol_err *e = err ? err : &local;
    int rc = parse(g, e);
    if (rc) {
        if (label) ol_err_prefix(e, label);
        ol_gguf_close(g);
        return NULL;
    }
    return g;
}

ol_gguf *ol_gguf_open_memory(const void *data, size_t size, ol_err *err) {
    ol_gguf *g = calloc(1, sizeof(*g));
    if (!g) {
        ol_err_set(err, OL_ENOMEM, "gguf: out of memory");
        return NULL;
    }
    g->base = data;
    g->size = size;
    return open_common(g, NULL, err);
}

ol_gguf *ol_gguf_open(const char *path, ol_err *err) {
    const void *p;
    size_t size;
    if (ol_file_map(path, &p, &size, err)) return NULL;
    ol_gguf *g = calloc(1, sizeof(*g));
    if (!g) {
        ol_file_unmap(p, size);
        ol_err_set(err, OL_ENOMEM, "gguf: out of memory");
        return NULL;
    }
    g->base = p;
    g->size = size;
    g->mapped = 1;
    return open_common(g, path, err);
}

void ol_gguf_close(ol_gguf *g) {
    if (!g) return;
    if (g->kvs)
        for (int64_t i = 0; i < g->n_kv; i++) free(g->kvs[i].strs);
    free(g->kvs);
    free(g->tensors);
    free(g->tensor_index);
    if (g->mapped) ol_file_unmap(g->base, g->size);
    free(g);
}

/* ---- accessors --------------------------------------------------------------------------- */
uint32_t ol_gguf_version(const ol_gguf *g) {
    return g->version;
}
size_t ol_gguf_alignment(const ol_gguf *g) {
    return g->align;
}
size_t ol_gguf_file_size(const ol_gguf *g) {
    return g->size;
}
size_t ol_gguf_data_offset(const ol_gguf *g) {
    return g->data_start;
}
int64_t ol_gguf_n_kv(const ol_gguf *g) {
    return g->n_kv;
}
int64_t ol_gguf_n_tensors(const ol_gguf *g) {
    return g->n_tensors;
}

const ol_gguf_kv *ol_gguf_kv_at(const ol_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL;
}

const ol_gguf_kv *ol_gguf_find(const ol_gguf *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (g->kvs[i].key.ptr && ol_gguf_str_eq(g->kvs[i].key, key)) return &g->kvs[i];
    return NULL;
}

const ol_gguf_tensor *ol_gguf_tensor_at(const ol_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const ol_gguf_tensor *ol_gguf_find_tensor(const ol_gguf *g, const char *name) {
    if (!g->tensor_index) return NULL;
    size_t h = (size_t)ol_hash_fnv1a(name, strlen(name), 0) & (g->index_cap - 1);
    while (g->tensor_index[h] >= 0) {
        const ol_gguf_tensor *t = &g->tensors[g->tensor_index[h]];
        if (!strcmp(t->name, name)) return t;
        h = (h + 1) & (g->index_cap - 1);
    }
    return NULL;
}

static int is_int_type(ol_gguf_type t) {
    return t <= OL_GGUF_TYPE_I32 || t == OL_GGUF_TYPE_U64 || t == OL_GGUF_TYPE_I64 ||
           t == OL_GGUF_TYPE_BOOL;
}

/* read element i of numeric type t at p as int64 (u64 above INT64_MAX saturates to -1 flag) */
static int load_int(ol_gguf_type t, const uint8_t *p, int64_t *out) {
    switch (t) {
    case OL_GGUF_TYPE_U8:
        *out = *p;
        return 0;
    case OL_GGUF_TYPE_BOOL:
        *out = *p != 0;
        return 0;
    case OL_GGUF_TYPE_I8:
        *out = (int8_t)*p;
        return 0;
    case OL_GGUF_TYPE_U16: {
        uint16_t v;
        memcpy(&v, p, 2);
        *out = v;
        return 0;
    }
    case OL_GGUF_TYPE_I16: {
        int16_t v;
        memcpy(&v, p, 2);
        *out = v;
        return 0;
    }
    case OL_GGUF_TYPE_U32: {
        uint32_t v;
        memcpy(&v, p, 4);
        *out = v;
        return 0;
    }
    case OL_GGUF_TYPE_I32: {
        int32_t v;
        memcpy(&v, p, 4);
        *out = v;
        return 0;
    }
    case OL_GGUF_TYPE_I64: {
        int64_t v;
        memcpy(&v, p, 8);
        *out = v;
        return 0;
    }
    case OL_GGUF_TYPE_U64: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v > INT64_MAX) return -1;
        *out = (int64_t)v;
        return 0;
    }
    default:
        return -1;
    }
}

static double load_float(ol_gguf_type t, const uint8_t *p) {
    if (t == OL_GGUF_TYPE_F32) {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    if (t == OL_GGUF_TYPE_F64) {
        double v;
        memcpy(&v, p, 8);
        return v;
    }
    int64_t i = 0;
    load_int(t, p, &i);
    return (double)i;
}

int64_t ol_gguf_arr_int(const ol_gguf_kv *kv, uint64_t i) {
    int64_t v = 0;
    load_int(kv->arr_type, kv->data + i * (uint64_t)scalar_size[kv->arr_type], &v);
    return v;
}

double ol_gguf_arr_float(const ol_gguf_kv *kv, uint64_t i) {
    return load_float(kv->arr_type, kv->data + i * (uint64_t)scalar_size[kv->arr_type]);
}

int64_t ol_gguf_kv_int(const ol_gguf_kv *kv) {
    int64_t v = 0;
    load_int(kv->type, kv->data, &v);
    return v;
}

double ol_gguf_kv_float(const ol_gguf_kv *kv) {
    return load_float(kv->type, kv->data);
}

static int want(const ol_gguf *g, const char *key, const ol_gguf_kv **kv, ol_err *err) {
    *kv = ol_gguf_find(g, key);
    if (!*kv) return ol_err_set(err, OL_ENOENT, "gguf: missing key '%s'", key);
    return 0;
}

static int bad_type(const char *key, const ol_gguf_kv *kv, const char *wanted, ol_err *err) {
    return ol_err_set(err, OL_EFORMAT, "gguf: key '%s' has type %s, want %s", key,
                      ol_gguf_type_name(kv->type), wanted);
}

int ol_gguf_get_i64(const ol_gguf *g, const char *key, int64_t *out, ol_err *err) {
    const ol_gguf_kv *kv;
    int rc = want(g, key, &kv, err);
    if (rc) return rc;
    if (!is_int_type(kv->type) || kv->type == OL_GGUF_TYPE_BOOL)
        return bad_type(key, kv, "an integer", err);
    if (load_int(kv->type, kv->data, out))
        return ol_err_set(err, OL_EFORMAT, "gguf: key '%s' (u64) does not fit i64", key);
    return 0;
}

int ol_gguf_get_u32(const ol_gguf *g, const char *key, uint32_t *out, ol_err *err) {
    int64_t v;
    int rc = ol_gguf_get_i64(g, key, &v, err);
    if (rc) return rc;
    if (v < 0 || v > UINT32_MAX)
        return ol_err_set(err, OL_EFORMAT, "gguf: key '%s' = %lld does not fit u32", key,
                          (long long)v);
    *out = (uint32_t)v;
    return 0;
}

int ol_gguf_get_f32(const ol_gguf *g, const char *key, float *out, ol_err *err) {
    const ol_gguf_kv *kv;
    int rc = want(g, key, &kv, err);
    if (rc) return rc;
    if (kv->type != OL_GGUF_TYPE_F32 && kv->type != OL_GGUF_TYPE_F64)
        return bad_type(key, kv, "f32", err);
    *out = (float)load_float(kv->type, kv->data);
    return 0;
}

int ol_gguf_get_bool(const ol_gguf *g, const char *key, bool *out, ol_err *err) {
    const ol_gguf_kv *kv;
    int rc = want(g, key, &kv, err);
    if (rc) return rc;
    if (kv->type != OL_GGUF_TYPE_BOOL) return bad_type(key, kv, "bool", err);
    *out = kv->data[0] != 0;
    return 0;
}

int ol_gguf_get_str(const ol_gguf *g, const char *key, ol_gguf_str *out, ol_err *err) {
    const ol_gguf_kv *kv;
    int rc = want(g, key, &kv, err);
    if (rc) return rc;
    if (kv->type != OL_GGUF_TYPE_STRING) return bad_type(key, kv, "string", err);
    *out = kv->strs[0];
    return 0;
}

int ol_gguf_get_arr(const ol_gguf *g, const char *key, ol_gguf_type elem, const ol_gguf_kv **out,
                    ol_err *err) {
    const ol_gguf_kv *kv;
    int rc = want(g, key, &kv, err);
    if (rc) return rc;
    if (kv->type != OL_GGUF_TYPE_ARRAY || kv->arr_type != elem)
        return ol_err_set(err, OL_EFORMAT, "gguf: key '%s' has type %s[%s], want %s array", key,
                          ol_gguf_type_name(kv->type),
                          kv->type == OL_GGUF_TYPE_ARRAY ? ol_gguf_type_name(kv->arr_type) : "",
                          ol_gguf_type_name(elem));
    *out = kv;
    return 0;
}
