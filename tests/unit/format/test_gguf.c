/* tests/unit/format/test_gguf.c: the GGUF reader against files built here byte by byte: a valid
 * baseline (every scalar type, strings, arrays, three tensors of different ggml types) read
 * through every accessor, then hostile variants that must each be refused with a message naming
 * the problem. Every input is an exact-size heap copy, so ASan sees any read past the end. */
#include "format/gguf.h"
#include "test.h"

#include <stdint.h>
#include <unistd.h>

/* ---- a little GGUF writer ----------------------------------------------------------------- */
typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u8(buf *b, uint8_t v) {
    put(b, &v, 1);
}
static void put_u16(buf *b, uint16_t v) {
    put(b, &v, 2);
}
static void put_u32(buf *b, uint32_t v) {
    put(b, &v, 4);
}
static void put_i32(buf *b, int32_t v) {
    put(b, &v, 4);
}
static void put_u64(buf *b, uint64_t v) {
    put(b, &v, 8);
}
static void put_i64(buf *b, int64_t v) {
    put(b, &v, 8);
}
static void put_f32(buf *b, float v) {
    put(b, &v, 4);
}
static void put_f64(buf *b, double v) {
    put(b, &v, 8);
}
static void put_str(buf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void put_key(buf *b, const char *key, ol_gguf_type t) {
    put_str(b, key);
    put_i32(b, (int32_t)t);
}
static void patch_u32(buf *b, size_t pos, uint32_t v) {
    memcpy(b->p + pos, &v, 4);
}
static void patch_u64(buf *b, size_t pos, uint64_t v) {
    memcpy(b->p + pos, &v, 8);
}

enum { ALIGN_U32, ALIGN_I32, ALIGN_U64, ALIGN_NONE };

/* What the baseline writes; tests change fields to make hostile variants. */
typedef struct {
    uint32_t version;
    int align_mode;
    uint32_t align;
    const char *names[3];
    uint32_t n_dims[3];
    int64_t ne[3][5];
    int32_t type[3];
    uint64_t offset[3];
    size_t data_len;           /* bytes written after data_start */
    void (*extra_kvs)(buf *b); /* appended after the baseline KVs */
    int n_extra_kvs;
} spec;

/* Where the writer put things, for patching. */
typedef struct {
    size_t version, n_tensors, n_kv, arch_len, u8_type, arr_count, align_val;
    size_t t_type[3], t_offset[3];
    size_t header_end, data_start;
} layout;

#define N_BASE_KVS 19

static spec spec_default(void) {
    spec s = {
        .version = 3,
        .align_mode = ALIGN_U32,
        .align = 64,
        .names = {"t.a", "t.b", "t.c"},
        .n_dims = {2, 2, 1},
        .ne = {{4, 2, 1, 1, 1}, {64, 1, 1, 1, 1}, {3, 1, 1, 1, 1}},
        .type = {0, 8, 1},      /* F32 32 bytes, Q8_0 68 bytes, F16 6 bytes */
        .offset = {0, 64, 192}, /* aligned to 64, packed */
        .data_len = 256,
    };
    return s;
}

static size_t align_up(size_t x, size_t a) {
    return (x + a - 1) / a * a;
}

static buf build(const spec *s, layout *L) {
    buf b = {0};
    layout l = {0};
    put(&b, "GGUF", 4);
    l.version = b.n;
    put_u32(&b, s->version);
    l.n_tensors = b.n;
    put_i64(&b, 3);
    l.n_kv = b.n;
    put_i64(&b, N_BASE_KVS - (s->align_mode == ALIGN_NONE) + s->n_extra_kvs);

    put_key(&b, "general.architecture", OL_GGUF_TYPE_STRING);
    l.arch_len = b.n;
    put_str(&b, "llama");
    if (s->align_mode != ALIGN_NONE) {
        ol_gguf_type t = s->align_mode == ALIGN_U32   ? OL_GGUF_TYPE_U32
                         : s->align_mode == ALIGN_I32 ? OL_GGUF_TYPE_I32
                                                      : OL_GGUF_TYPE_U64;
        put_key(&b, "general.alignment", t);
        l.align_val = b.n;
        if (t == OL_GGUF_TYPE_U64)
            put_u64(&b, s->align);
        else
            put_u32(&b, s->align);
    }
    put_str(&b, "k.u8");
    l.u8_type = b.n;
    put_i32(&b, OL_GGUF_TYPE_U8);
    put_u8(&b, 200);
    put_key(&b, "k.i8", OL_GGUF_TYPE_I8), put_u8(&b, (uint8_t)-5);
    put_key(&b, "k.u16", OL_GGUF_TYPE_U16), put_u16(&b, 60000);
    put_key(&b, "k.i16", OL_GGUF_TYPE_I16), put_u16(&b, (uint16_t)-30000);
    put_key(&b, "k.u32", OL_GGUF_TYPE_U32), put_u32(&b, 4000000000u);
    put_key(&b, "k.i32", OL_GGUF_TYPE_I32), put_i32(&b, -2000000000);
    put_key(&b, "k.f32", OL_GGUF_TYPE_F32), put_f32(&b, 1.5f);
    put_key(&b, "k.bool", OL_GGUF_TYPE_BOOL), put_u8(&b, 1);
    put_key(&b, "k.u64", OL_GGUF_TYPE_U64), put_u64(&b, 1ull << 40);
    put_key(&b, "k.u64max", OL_GGUF_TYPE_U64), put_u64(&b, UINT64_MAX);
    put_key(&b, "k.i64", OL_GGUF_TYPE_I64), put_i64(&b, -(1ll << 40));
    put_key(&b, "k.f64", OL_GGUF_TYPE_F64), put_f64(&b, 2.25);
    put_key(&b, "k.arr_i32", OL_GGUF_TYPE_ARRAY), put_i32(&b, OL_GGUF_TYPE_I32);
    l.arr_count = b.n;
    put_u64(&b, 3), put_i32(&b, 1), put_i32(&b, -2), put_i32(&b, 3);
    put_key(&b, "k.arr_str", OL_GGUF_TYPE_ARRAY), put_i32(&b, OL_GGUF_TYPE_STRING);
    put_u64(&b, 3), put_str(&b, "a"), put_str(&b, ""), put_str(&b, "ccc");
    put_key(&b, "k.arr_f32", OL_GGUF_TYPE_ARRAY), put_i32(&b, OL_GGUF_TYPE_F32);
    put_u64(&b, 2), put_f32(&b, 0.5f), put_f32(&b, -1.5f);
    put_key(&b, "k.arr_empty", OL_GGUF_TYPE_ARRAY), put_i32(&b, OL_GGUF_TYPE_U8), put_u64(&b, 0);
    put_key(&b, "k.str_empty", OL_GGUF_TYPE_STRING), put_str(&b, "");
    if (s->extra_kvs) s->extra_kvs(&b);

    for (int i = 0; i < 3; i++) {
        put_str(&b, s->names[i]);
        put_u32(&b, s->n_dims[i]);
        for (uint32_t d = 0; d < s->n_dims[i] && d < 5; d++) put_i64(&b, s->ne[i][d]);
        l.t_type[i] = b.n;
        put_i32(&b, s->type[i]);
        l.t_offset[i] = b.n;
        put_u64(&b, s->offset[i]);
    }
    l.header_end = b.n;
    size_t a = s->align_mode == ALIGN_NONE ? 32 : s->align ? s->align : 1;
    l.data_start = align_up(b.n, a);
    while (b.n < l.data_start) put_u8(&b, 0);
    for (size_t i = 0; i < s->data_len; i++) put_u8(&b, (uint8_t)(i * 7 + 1));
    if (L) *L = l;
    return b;
}

/* Open an exact-size heap copy of b[0..n); returns the reader or NULL with err filled. */
static ol_gguf *open_copy(const buf *b, size_t n, uint8_t **copy, ol_err *err) {
    *copy = malloc(n ? n : 1);
    if (n) memcpy(*copy, b->p, n);
    ol_err_clear(err);
    return ol_gguf_open_memory(*copy, n, err);
}

/* Expect b to be refused with a message containing want1 and want2 (either may be NULL). */
static void expect_fail_(const buf *b, const char *want1, const char *want2, int line) {
    uint8_t *copy;
    ol_err err;
    ol_gguf *g = open_copy(b, b->n, &copy, &err);
    if (g) fprintf(stderr, "line %d: hostile file accepted\n", line);
    CHECK(g == NULL);
    ol_gguf_close(g);
    CHECK(err.code < 0);
    if ((want1 && !strstr(err.msg, want1)) || (want2 && !strstr(err.msg, want2)))
        fprintf(stderr, "line %d: unexpected message\n", line);
    if (want1) CHECK_STR_CONTAINS(err.msg, want1);
    if (want2) CHECK_STR_CONTAINS(err.msg, want2);
    free(copy);
}
#define expect_fail(b, w1, w2) expect_fail_(b, w1, w2, __LINE__)

static void expect_spec_fail(const spec *s, const char *w1, const char *w2) {
    buf b = build(s, NULL);
    expect_fail(&b, w1, w2);
    free(b.p);
}

/* ---- the valid file ----------------------------------------------------------------------- */
static void check_valid(ol_gguf *g, const uint8_t *base, const layout *l) {
    ol_err err;
    CHECK_EQ_INT(ol_gguf_version(g), 3);
    CHECK_EQ_INT(ol_gguf_alignment(g), 64);
    CHECK_EQ_INT(ol_gguf_n_kv(g), N_BASE_KVS);
    CHECK_EQ_INT(ol_gguf_n_tensors(g), 3);
    CHECK_EQ_INT(ol_gguf_data_offset(g), l->data_start);
    CHECK_EQ_INT(ol_gguf_data_offset(g) % 64, 0);
    CHECK_EQ_INT(ol_gguf_file_size(g), l->data_start + 256);

    uint32_t u32 = 0;
    int64_t i64 = 0;
    float f = 0;
    bool bo = false;
    ol_gguf_str s = {0};
    CHECK_EQ_INT(ol_gguf_get_u32(g, "k.u8", &u32, &err), 0);
    CHECK_EQ_INT(u32, 200);
    CHECK_EQ_INT(ol_gguf_get_u32(g, "k.u16", &u32, &err), 0);
    CHECK_EQ_INT(u32, 60000);
    CHECK_EQ_INT(ol_gguf_get_u32(g, "k.u32", &u32, &err), 0);
    CHECK_EQ_INT(u32, 4000000000u);
    CHECK_EQ_INT(ol_gguf_get_u32(g, "general.alignment", &u32, &err), 0);
    CHECK_EQ_INT(u32, 64);
    CHECK_EQ_INT(ol_gguf_get_u32(g, "k.u64", &u32, &err), OL_EFORMAT); /* 2^40 */
    CHECK_STR_CONTAINS(err.msg, "k.u64");
    CHECK_STR_CONTAINS(err.msg, "u32");
    CHECK_EQ_INT(ol_gguf_get_u32(g, "k.i8", &u32, &err), OL_EFORMAT); /* negative */
    CHECK_STR_CONTAINS(err.msg, "k.i8");
    CHECK_EQ_INT(ol_gguf_get_i64(g, "k.i8", &i64, &err), 0);
    CHECK_EQ_INT(i64, -5);
    CHECK_EQ_INT(ol_gguf_get_i64(g, "k.i16", &i64, &err), 0);
    CHECK_EQ_INT(i64, -30000);
    CHECK_EQ_INT(ol_gguf_get_i64(g, "k.i32", &i64, &err), 0);
    CHECK_EQ_INT(i64, -2000000000);
    CHECK_EQ_INT(ol_gguf_get_i64(g, "k.u32", &i64, &err), 0);
    CHECK_EQ_INT(i64, 4000000000ll);
    CHECK_EQ_INT(ol_gguf_get_i64(g, "k.u64", &i64, &err), 0);
    CHECK_EQ_INT(i64, 1ll << 40);
    CHECK_EQ_INT(ol_gguf_get_i64(g, "k.i64", &i64, &err), 0);
    CHECK_EQ_INT(i64, -(1ll << 40));
    CHECK_EQ_INT(ol_gguf_get_i64(g, "k.u64max", &i64, &err), OL_EFORMAT);
    CHECK_STR_CONTAINS(err.msg, "k.u64max");
    CHECK_EQ_INT(ol_gguf_get_i64(g, "k.f32", &i64, &err), OL_EFORMAT);
    CHECK_STR_CONTAINS(err.msg, "f32");
    CHECK_EQ_INT(ol_gguf_get_i64(g, "k.bool", &i64, &err), OL_EFORMAT);
    CHECK_EQ_INT(ol_gguf_get_i64(g, "k.nope", &i64, &err), OL_ENOENT);
    CHECK_STR_CONTAINS(err.msg, "k.nope");
    CHECK_EQ_INT(ol_gguf_get_f32(g, "k.f32", &f, &err), 0);
    CHECK_NEAR(f, 1.5, 0);
    CHECK_EQ_INT(ol_gguf_get_f32(g, "k.f64", &f, &err), 0);
    CHECK_NEAR(f, 2.25, 0);
    CHECK_EQ_INT(ol_gguf_get_f32(g, "k.u8", &f, &err), OL_EFORMAT);
    CHECK_STR_CONTAINS(err.msg, "u8");
    CHECK_EQ_INT(ol_gguf_get_bool(g, "k.bool", &bo, &err), 0);
    CHECK(bo);
    CHECK_EQ_INT(ol_gguf_get_bool(g, "k.u8", &bo, &err), OL_EFORMAT);
    CHECK_EQ_INT(ol_gguf_get_str(g, "general.architecture", &s, &err), 0);
    CHECK(ol_gguf_str_eq(s, "llama"));
    CHECK(!ol_gguf_str_eq(s, "llam"));
    CHECK(!ol_gguf_str_eq(s, "llamas"));
    CHECK_EQ_INT(ol_gguf_get_str(g, "k.str_empty", &s, &err), 0);
    CHECK_EQ_INT(s.len, 0);
    CHECK_EQ_INT(ol_gguf_get_str(g, "k.u32", &s, &err), OL_EFORMAT);
    CHECK_STR_CONTAINS(err.msg, "string");

    const ol_gguf_kv *kv = NULL;
    CHECK_EQ_INT(ol_gguf_get_arr(g, "k.arr_i32", OL_GGUF_TYPE_I32, &kv, &err), 0);
    CHECK_EQ_INT(kv->arr_n, 3);
    CHECK_EQ_INT(ol_gguf_arr_int(kv, 0), 1);
    CHECK_EQ_INT(ol_gguf_arr_int(kv, 1), -2);
    CHECK_EQ_INT(ol_gguf_arr_int(kv, 2), 3);
    CHECK_NEAR(ol_gguf_arr_float(kv, 1), -2.0, 0);
    CHECK_EQ_INT(ol_gguf_get_arr(g, "k.arr_i32", OL_GGUF_TYPE_F32, &kv, &err), OL_EFORMAT);
    CHECK_STR_CONTAINS(err.msg, "k.arr_i32");
    CHECK_EQ_INT(ol_gguf_get_arr(g, "k.u8", OL_GGUF_TYPE_U8, &kv, &err), OL_EFORMAT);
    CHECK_EQ_INT(ol_gguf_get_arr(g, "k.arr_str", OL_GGUF_TYPE_STRING, &kv, &err), 0);
    CHECK_EQ_INT(kv->arr_n, 3);
    CHECK(ol_gguf_str_eq(kv->strs[0], "a"));
    CHECK(ol_gguf_str_eq(kv->strs[1], ""));
    CHECK(ol_gguf_str_eq(kv->strs[2], "ccc"));
    CHECK_EQ_INT(ol_gguf_get_arr(g, "k.arr_f32", OL_GGUF_TYPE_F32, &kv, &err), 0);
    CHECK_NEAR(ol_gguf_arr_float(kv, 0), 0.5, 0);
    CHECK_NEAR(ol_gguf_arr_float(kv, 1), -1.5, 0);
    CHECK_EQ_INT(ol_gguf_get_arr(g, "k.arr_empty", OL_GGUF_TYPE_U8, &kv, &err), 0);
    CHECK_EQ_INT(kv->arr_n, 0);

    kv = ol_gguf_find(g, "k.i16");
    CHECK(kv && kv->type == OL_GGUF_TYPE_I16);
    if (kv) CHECK_EQ_INT(ol_gguf_kv_int(kv), -30000);
    kv = ol_gguf_find(g, "k.f64");
    if (kv) CHECK_NEAR(ol_gguf_kv_float(kv), 2.25, 0);
    CHECK(ol_gguf_find(g, "k") == NULL);
    CHECK(ol_gguf_kv_at(g, -1) == NULL);
    CHECK(ol_gguf_kv_at(g, N_BASE_KVS) == NULL);
    kv = ol_gguf_kv_at(g, 0);
    CHECK(kv && ol_gguf_str_eq(kv->key, "general.architecture"));

    static const struct {
        const char *name;
        int type, n_dims;
        int64_t ne0, ne1;
        uint64_t offset;
        size_t nbytes;
    } want[3] = {
        {"t.a", 0, 2, 4, 2, 0, 32}, {"t.b", 8, 2, 64, 1, 64, 68}, {"t.c", 1, 1, 3, 1, 192, 6}};
    for (int i = 0; i < 3; i++) {
        const ol_gguf_tensor *t = ol_gguf_find_tensor(g, want[i].name);
        CHECK(t != NULL);
        if (!t) continue;
        CHECK(t == ol_gguf_tensor_at(g, i));
        CHECK_EQ_INT(t->ggml_type, want[i].type);
        CHECK_EQ_INT(t->n_dims, want[i].n_dims);
        CHECK_EQ_INT(t->ne[0], want[i].ne0);
        CHECK_EQ_INT(t->ne[1], want[i].ne1);
        CHECK_EQ_INT(t->ne[2], 1);
        CHECK_EQ_INT(t->ne[3], 1);
        CHECK_EQ_INT(t->offset, want[i].offset);
        CHECK_EQ_INT(t->nbytes, want[i].nbytes);
        CHECK(t->data == base + l->data_start + want[i].offset);
        /* data bytes as written: byte j of the data section is j*7+1 */
        const uint8_t *d = t->data;
        CHECK_EQ_INT(d[0], (uint8_t)(want[i].offset * 7 + 1));
        CHECK_EQ_INT(d[t->nbytes - 1], (uint8_t)((want[i].offset + t->nbytes - 1) * 7 + 1));
    }
    CHECK(ol_gguf_find_tensor(g, "t.d") == NULL);
    CHECK(ol_gguf_find_tensor(g, "") == NULL);
    CHECK(ol_gguf_tensor_at(g, 3) == NULL);
    CHECK(ol_gguf_tensor_at(g, -1) == NULL);
}

static void test_valid(void) {
    spec s = spec_default();
    layout l;
    buf b = build(&s, &l);
    uint8_t *copy;
    ol_err err;
    ol_gguf *g = open_copy(&b, b.n, &copy, &err);
    CHECK(g != NULL);
    if (!g) fprintf(stderr, "valid file refused: %s\n", err.msg);
    if (g) check_valid(g, copy, &l);
    ol_gguf_close(g);
    free(copy);

    /* the trailing padding after the last tensor is optional */
    g = open_copy(&b, l.data_start + 198, &copy, &err);
    CHECK(g != NULL);
    ol_gguf_close(g);
    free(copy);

    /* no general.alignment: default 32; version 2 parses the same */
    s.align_mode = ALIGN_NONE;
    s.version = 2;
    s.offset[1] = 32, s.offset[2] = 128; /* 32 + 68 = 100 -> 128 */
    free(b.p);
    b = build(&s, &l);
    g = open_copy(&b, b.n, &copy, &err);
    CHECK(g != NULL);
    if (g) {
        CHECK_EQ_INT(ol_gguf_alignment(g), 32);
        CHECK_EQ_INT(ol_gguf_version(g), 2);
        CHECK_EQ_INT(ol_gguf_data_offset(g) % 32, 0);
        CHECK_EQ_INT(ol_gguf_find_tensor(g, "t.c")->offset, 128);
    }
    ol_gguf_close(g);
    free(copy);
    free(b.p);

    /* a 63-byte name is the longest allowed; gaps between tensors are tolerated */
    s = spec_default();
    s.names[2] = "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    s.offset[2] = 256, s.data_len = 320;
    b = build(&s, &l);
    g = open_copy(&b, b.n, &copy, &err);
    CHECK(g != NULL);
    if (g) CHECK(ol_gguf_find_tensor(g, s.names[2]) != NULL);
    ol_gguf_close(g);
    free(copy);
    free(b.p);

    /* header only: no KVs, no tensors */
    buf h = {0};
    put(&h, "GGUF", 4), put_u32(&h, 3), put_i64(&h, 0), put_i64(&h, 0);
    g = open_copy(&h, h.n, &copy, &err);
    CHECK(g != NULL);
    if (g) CHECK_EQ_INT(ol_gguf_n_kv(g) + ol_gguf_n_tensors(g), 0);
    ol_gguf_close(g);
    free(copy);
    free(h.p);
}

/* ---- hostile files ------------------------------------------------------------------------ */
static void test_truncated(void) {
    spec s = spec_default();
    layout l;
    buf b = build(&s, &l);
    size_t end = l.data_start + 192 + 6; /* end of the last tensor */
    int n_bad = 0;
    for (size_t n = 0; n < end; n++) {
        uint8_t *copy;
        ol_err err;
        ol_gguf *g = open_copy(&b, n, &copy, &err);
        if (g || err.code >= 0 || !err.msg[0] || !strstr(err.msg, "offset")) {
            if (n_bad++ < 5) fprintf(stderr, "prefix %zu: g=%p msg='%s'\n", n, (void *)g, err.msg);
        }
        ol_gguf_close(g);
        free(copy);
    }
    CHECK_EQ_INT(n_bad, 0);

    /* specific messages */
    uint8_t *copy;
    ol_err err;
    ol_gguf *g = open_copy(&b, 2, &copy, &err);
    CHECK_STR_CONTAINS(err.msg, "magic");
    free(copy);
    g = open_copy(&b, l.t_offset[1] + 3, &copy, &err);
    CHECK(!g);
    CHECK_STR_CONTAINS(err.msg, "tensor offset");
    CHECK_STR_CONTAINS(err.msg, "t.b");
    free(copy);
    /* the header is complete but the file stops before the aligned data section */
    CHECK(l.data_start > l.header_end);
    g = open_copy(&b, l.header_end + 1, &copy, &err);
    CHECK(!g);
    CHECK_STR_CONTAINS(err.msg, "before the data section");
    free(copy);
    g = open_copy(&b, l.data_start + 100, &copy, &err);
    CHECK(!g);
    CHECK_STR_CONTAINS(err.msg, "t.b");
    CHECK_STR_CONTAINS(err.msg, "past the end");
    free(copy);
    free(b.p);
}

static void patched(void (*fn)(buf *, const layout *), const char *w1, const char *w2) {
    spec s = spec_default();
    layout l;
    buf b = build(&s, &l);
    fn(&b, &l);
    expect_fail(&b, w1, w2);
    free(b.p);
}

static void p_magic(buf *b, const layout *l) {
    b->p[3] = 'G';
}
static void p_v0(buf *b, const layout *l) {
    patch_u32(b, l->version, 0);
}
static void p_v1(buf *b, const layout *l) {
    patch_u32(b, l->version, 1);
}
static void p_v4(buf *b, const layout *l) {
    patch_u32(b, l->version, 4);
}
static void p_vbe(buf *b, const layout *l) {
    patch_u32(b, l->version, 0x03000000u);
}
static void p_nkv_huge(buf *b, const layout *l) {
    patch_u64(b, l->n_kv, (uint64_t)INT64_MAX);
}
static void p_nkv_neg(buf *b, const layout *l) {
    patch_u64(b, l->n_kv, (uint64_t)-1);
}
static void p_nkv_more(buf *b, const layout *l) {
    patch_u64(b, l->n_kv, 40);
}
static void p_nt_huge(buf *b, const layout *l) {
    patch_u64(b, l->n_tensors, 1ull << 40);
}
static void p_nt_neg(buf *b, const layout *l) {
    patch_u64(b, l->n_tensors, 1ull << 63);
}
static void p_str_huge(buf *b, const layout *l) {
    patch_u64(b, l->arch_len, 1ull << 40);
}
static void p_str_past(buf *b, const layout *l) {
    patch_u64(b, l->arch_len, b->n);
}
static void p_str_max(buf *b, const layout *l) {
    patch_u64(b, l->arch_len, UINT64_MAX);
}
static void p_arr_huge(buf *b, const layout *l) {
    patch_u64(b, l->arr_count, 1ull << 31);
}
static void p_arr_past(buf *b, const layout *l) {
    patch_u64(b, l->arr_count, 1ull << 20);
}
static void p_arr_max(buf *b, const layout *l) {
    patch_u64(b, l->arr_count, UINT64_MAX);
}
static void p_vtype(buf *b, const layout *l) {
    patch_u32(b, l->u8_type, 13);
}
static void p_vtype_neg(buf *b, const layout *l) {
    patch_u32(b, l->u8_type, (uint32_t)-1);
}
static void p_gtype99(buf *b, const layout *l) {
    patch_u32(b, l->t_type[1], 99);
}
static void p_gtype4(buf *b, const layout *l) {
    patch_u32(b, l->t_type[1], 4);
}
static void p_gtype5(buf *b, const layout *l) {
    patch_u32(b, l->t_type[1], 5);
}
static void p_gtype31(buf *b, const layout *l) {
    patch_u32(b, l->t_type[1], 31);
}
static void p_gtype_neg(buf *b, const layout *l) {
    patch_u32(b, l->t_type[1], (uint32_t)-8);
}
static void p_off_past(buf *b, const layout *l) {
    patch_u64(b, l->t_offset[2], 256);
}
static void p_off_huge(buf *b, const layout *l) {
    patch_u64(b, l->t_offset[2], UINT64_MAX - 63);
}
static void p_off_unal(buf *b, const layout *l) {
    patch_u64(b, l->t_offset[2], 200);
}
static void p_overlap(buf *b, const layout *l) {
    patch_u64(b, l->t_offset[2], 128);
}
static void p_align0(buf *b, const layout *l) {
    patch_u32(b, l->align_val, 0);
}
static void p_align3(buf *b, const layout *l) {
    patch_u32(b, l->align_val, 48);
}

static void kv_nested(buf *b) {
    put_key(b, "k.nested", OL_GGUF_TYPE_ARRAY), put_i32(b, OL_GGUF_TYPE_ARRAY), put_u64(b, 1);
    put_i32(b, OL_GGUF_TYPE_U8), put_u64(b, 1), put_u8(b, 0);
}
static void kv_badelem(buf *b) {
    put_key(b, "k.badelem", OL_GGUF_TYPE_ARRAY), put_i32(b, 77), put_u64(b, 1), put_u8(b, 0);
}
static void kv_dup(buf *b) {
    put_key(b, "k.u16", OL_GGUF_TYPE_U16), put_u16(b, 1);
}
static void kv_empty(buf *b) {
    put_key(b, "", OL_GGUF_TYPE_U8), put_u8(b, 1);
}
static void kv_strarr_past(buf *b) {
    put_key(b, "k.sa", OL_GGUF_TYPE_ARRAY), put_i32(b, OL_GGUF_TYPE_STRING), put_u64(b, 2);
    put_str(b, "x"), put_u64(b, 1ull << 35);
}

static void test_hostile_header(void) {
    patched(p_magic, "bad magic", "offset");
    patched(p_v0, "version 0", "offset");
    patched(p_v1, "version 1", "offset");
    patched(p_v4, "version 4", "offset");
    patched(p_vbe, "big-endian", "offset");
    patched(p_nkv_huge, "metadata count", "offset");
    patched(p_nkv_neg, "metadata count", "offset");
    patched(p_nkv_more, "gguf: ", "offset"); /* plausible count: tensor infos read as KVs */
    patched(p_nt_huge, "tensor count", "offset");
    patched(p_nt_neg, "tensor count", "offset");
    patched(p_str_huge, "exceeds 1 GiB", "general.architecture");
    patched(p_str_past, "truncated", "general.architecture");
    patched(p_str_max, "exceeds 1 GiB", "offset");
    patched(p_arr_huge, "array count", "k.arr_i32");
    patched(p_arr_past, "past the end", "k.arr_i32");
    patched(p_arr_max, "array count", "offset");
    patched(p_vtype, "unknown value type 13", "k.u8");
    patched(p_vtype_neg, "unknown value type -1", "k.u8");

    spec s = spec_default();
    s.extra_kvs = kv_nested, s.n_extra_kvs = 1;
    expect_spec_fail(&s, "nested", "k.nested");
    s.extra_kvs = kv_badelem;
    expect_spec_fail(&s, "unknown array element type 77", "k.badelem");
    s.extra_kvs = kv_dup;
    expect_spec_fail(&s, "duplicate key", "k.u16");
    s.extra_kvs = kv_empty;
    expect_spec_fail(&s, "empty key", "offset");
    s.extra_kvs = kv_strarr_past;
    expect_spec_fail(&s, "array string", "k.sa");
}

static void test_hostile_tensors(void) {
    patched(p_gtype99, "ggml type 99", "t.b");
    patched(p_gtype4, "ggml type 4", "t.b");
    patched(p_gtype5, "ggml type 5", "t.b");
    patched(p_gtype31, "ggml type 31", "t.b");
    patched(p_gtype_neg, "ggml type -8", "t.b");
    patched(p_off_past, "past the end", "t.c");
    patched(p_off_huge, "past the end", "t.c");
    patched(p_off_unal, "not aligned", "t.c");
    patched(p_off_unal, "offset 200", NULL);
    patched(p_overlap, "overlap", "t.c");

    spec s = spec_default();
    s.n_dims[0] = 0;
    expect_spec_fail(&s, "n_dims 0", "t.a");
    s = spec_default();
    s.n_dims[0] = 5;
    expect_spec_fail(&s, "n_dims 5", "t.a");
    s = spec_default();
    s.n_dims[0] = 0xFFFFFFFFu;
    expect_spec_fail(&s, "n_dims 4294967295", "t.a");
    s = spec_default();
    s.ne[0][1] = -2;
    expect_spec_fail(&s, "negative dimension", "t.a");
    s = spec_default();
    s.ne[1][0] = 48; /* Q8_0 blocks are 32 */
    expect_spec_fail(&s, "not a multiple", "t.b");
    /* Q2_K: 2^40 x 2^24 elements overflow int64 while nbytes (84 per 256) still fits */
    s = spec_default();
    s.type[1] = 10, s.ne[1][0] = 1ll << 40, s.ne[1][1] = 1ll << 24;
    expect_spec_fail(&s, "element count overflows", "t.b");
    s = spec_default();
    s.n_dims[1] = 4, s.ne[1][1] = 1ll << 20, s.ne[1][2] = 1ll << 20, s.ne[1][3] = 1ll << 20;
    expect_spec_fail(&s, "overflows", "t.b");
    /* F32 2^62 elements: the count fits int64 but 4 bytes each overflow size_t */
    s = spec_default();
    s.n_dims[0] = 1, s.ne[0][0] = 1ll << 62;
    expect_spec_fail(&s, "tensor size overflows", "t.a");
    /* fits size_t, but not the file */
    s = spec_default();
    s.ne[0][1] = 1ll << 40;
    expect_spec_fail(&s, "past the end", "t.a");
    s = spec_default();
    s.names[1] = "t.a";
    expect_spec_fail(&s, "duplicate tensor name", "t.a");
    s = spec_default();
    s.names[1] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"; /* 64 */
    expect_spec_fail(&s, "longer than 63", "offset");
    s = spec_default();
    s.names[1] = "";
    expect_spec_fail(&s, "empty tensor name", "offset");
    /* overlap hidden behind an empty tensor: A=[0,256) B=[64,64) C=[128,134) */
    s = spec_default();
    s.n_dims[0] = 1, s.ne[0][0] = 64;
    s.ne[1][0] = 0;
    s.offset[2] = 128;
    expect_spec_fail(&s, "overlap", "t.c");
    /* an empty tensor inside another one is harmless */
    s = spec_default();
    s.ne[1][0] = 0, s.offset[1] = 0;
    buf b = build(&s, NULL);
    uint8_t *copy;
    ol_err err;
    ol_gguf *g = open_copy(&b, b.n, &copy, &err);
    CHECK(g != NULL);
    if (!g) fprintf(stderr, "empty tensor refused: %s\n", err.msg);
    ol_gguf_close(g);
    free(copy);
    free(b.p);

    patched(p_align0, "general.alignment", "power of two");
    patched(p_align3, "general.alignment", "power of two");
    s = spec_default();
    s.align_mode = ALIGN_I32;
    expect_spec_fail(&s, "general.alignment", "want u32");
    s.align_mode = ALIGN_U64;
    expect_spec_fail(&s, "general.alignment", "want u32");
}

/* ---- files on disk ------------------------------------------------------------------------ */
static void test_open_file(void) {
    ol_err err;
    ol_err_clear(&err);
    CHECK(ol_gguf_open("/nonexistent/dir/model.gguf", &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "/nonexistent/dir/model.gguf");
    CHECK(err.code < 0);
    ol_err_clear(&err);
    CHECK(ol_gguf_open("/tmp", &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "not a regular file");
    CHECK(ol_gguf_open("/tmp", NULL) == NULL); /* err is optional */

    char path[128];
    snprintf(path, sizeof(path), "/tmp/ol_test_gguf_%d.gguf", (int)getpid());
    spec s = spec_default();
    layout l;
    buf b = build(&s, &l);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    fwrite(b.p, 1, b.n, f);
    fclose(f);
    ol_gguf *g = ol_gguf_open(path, &err);
    CHECK(g != NULL);
    if (g) {
        const ol_gguf_tensor *t = ol_gguf_find_tensor(g, "t.b");
        CHECK(t && memcmp(t->data, b.p + l.data_start + 64, 68) == 0);
        CHECK_EQ_INT(ol_gguf_file_size(g), b.n);
    }
    ol_gguf_close(g);

    /* a damaged file on disk: the message names the path and the problem */
    f = fopen(path, "wb");
    fwrite(b.p, 1, l.t_offset[1] + 3, f);
    fclose(f);
    CHECK(ol_gguf_open(path, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, path);
    CHECK_STR_CONTAINS(err.msg, "truncated");
    /* an empty file */
    f = fopen(path, "wb");
    fclose(f);
    CHECK(ol_gguf_open(path, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "magic");
    unlink(path);
    free(b.p);
}

static void test_type_table(void) {
    CHECK(strcmp(ol_ggml_type_name(8), "Q8_0") == 0);
    CHECK_EQ_INT(ol_ggml_type_block_elems(8), 32);
    CHECK_EQ_INT(ol_ggml_type_block_bytes(8), 34);
    CHECK_EQ_INT(ol_ggml_type_block_elems(12), 256);
    CHECK_EQ_INT(ol_ggml_type_block_bytes(14), 210);
    CHECK_EQ_INT(ol_ggml_type_block_bytes(30), 2);
    CHECK_EQ_INT(ol_ggml_type_block_elems(4), 0);
    CHECK_EQ_INT(ol_ggml_type_block_elems(5), 0);
    CHECK_EQ_INT(ol_ggml_type_block_elems(-1), 0);
    CHECK_EQ_INT(ol_ggml_type_block_elems(1000), 0);
    CHECK(strcmp(ol_ggml_type_name(4), "unknown") == 0);
    CHECK(strcmp(ol_gguf_type_name(OL_GGUF_TYPE_F64), "f64") == 0);
    CHECK(strcmp(ol_gguf_type_name((ol_gguf_type)99), "unknown") == 0);
}

int main(void) {
    test_valid();
    test_truncated();
    test_hostile_header();
    test_hostile_tensors();
    test_open_file();
    test_type_table();
    return test_done("test_gguf");
}
