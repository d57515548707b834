/* tests/unit/format/test_safetensors.c: the safetensors reader against headers built here (a
 * valid baseline read through every accessor, then hostile variants that must each be refused
 * with a message naming the tensor, field or offset) and against files written by the reference
 * Python package (tests/data/safetensors, tools/gen_safetensors_fixtures.py). Every in-memory
 * input is an exact-size heap copy, so ASan sees any read past the end. */
#include "format/safetensors.h"
#include "test.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* u64 N | header | data, in an exact-size heap buffer. */
static uint8_t *make(const char *header, const void *data, size_t data_len, size_t *len) {
    size_t n = strlen(header);
    *len = 8 + n + data_len;
    uint8_t *b = malloc(*len ? *len : 1);
    uint64_t n64 = n;
    memcpy(b, &n64, 8);
    memcpy(b + 8, header, n);
    if (data_len) memcpy(b + 8 + n, data, data_len);
    return b;
}

/* Open header+data; expect refusal with a message containing want. */
static void refuse_n(const char *header, size_t data_len, const char *want, int line) {
    static const uint8_t zeros[256];
    size_t len;
    uint8_t *b = make(header, zeros, data_len, &len);
    ol_err err = {0};
    ol_safetensors *st = ol_safetensors_open_memory(b, len, &err);
    if (st) fprintf(stderr, "line %d: header accepted: %s\n", line, header);
    CHECK(st == NULL);
    CHECK_EQ_INT(err.code, OL_EFORMAT);
    if (!strstr(err.msg, want)) fprintf(stderr, "line %d: header %s\n", line, header);
    CHECK_STR_CONTAINS(err.msg, want);
    ol_safetensors_close(st);
    free(b);
}
#define refuse(h, n, want) refuse_n(h, n, want, __LINE__)

static const char *VALID =
    "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    "\"__metadata__\":{\"format\":\"pt\",\"who\":\"test\"},"
    "\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[16,18]},"
    "\"z\":{\"dtype\":\"U8\",\"shape\":[0,3],\"data_offsets\":[18,18]},"
    "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[18,26]},"
    "\"f4\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[26,27]},"
    "\"f6\":{\"dtype\":\"F6_E2M3\",\"shape\":[1,4],\"data_offsets\":[27,30]}}";

static void test_valid(void) {
    uint8_t data[30];
    float w[4] = {1, -2, 3.5f, 0.25f};
    memcpy(data, w, 16);
    uint16_t s = 0x3f80; /* bf16 1.0 */
    memcpy(data + 16, &s, 2);
    int64_t i = -42;
    memcpy(data + 18, &i, 8);
    memset(data + 26, 0xab, 4);
    size_t len;
    uint8_t *b = make(VALID, data, sizeof(data), &len);
    ol_err err = {0};
    ol_safetensors *st = ol_safetensors_open_memory(b, len, &err);
    CHECK(st != NULL);
    if (!st) {
        fprintf(stderr, "%s\n", err.msg);
        free(b);
        return;
    }
    CHECK_EQ_INT(ol_safetensors_n_tensors(st), 6);
    CHECK_EQ_INT(ol_safetensors_file_size(st), len);
    CHECK_EQ_INT(ol_safetensors_data_offset(st), 8 + strlen(VALID));
    /* data order: w, s, z (empty, at 18, before i), i, f4, f6 */
    const char *order[] = {"w", "s", "z", "i", "f4", "f6"};
    for (int k = 0; k < 6; k++) {
        const ol_safetensors_tensor *t = ol_safetensors_tensor_at(st, k);
        CHECK(t && !strcmp(t->name, order[k]));
        CHECK(ol_safetensors_find(st, order[k]) == t);
    }
    CHECK(ol_safetensors_tensor_at(st, 6) == NULL);
    CHECK(ol_safetensors_tensor_at(st, -1) == NULL);
    CHECK(ol_safetensors_find(st, "nope") == NULL);
    const ol_safetensors_tensor *t = ol_safetensors_find(st, "w");
    CHECK_EQ_INT(t->dtype, OL_SAFETENSORS_DTYPE_F32);
    CHECK_EQ_INT(t->n_dims, 2);
    CHECK_EQ_INT(t->shape[0], 2);
    CHECK_EQ_INT(t->shape[1], 2);
    CHECK_EQ_INT(t->n_elements, 4);
    CHECK_EQ_INT(t->nbytes, 16);
    CHECK_EQ_INT(t->offset, 0);
    CHECK((const uint8_t *)t->data == b + 8 + strlen(VALID));
    float got[4];
    memcpy(got, t->data, 16);
    CHECK_NEAR(got[2], 3.5, 0);
    t = ol_safetensors_find(st, "s");
    CHECK_EQ_INT(t->n_dims, 0);
    CHECK_EQ_INT(t->n_elements, 1);
    CHECK_EQ_INT(t->nbytes, 2);
    uint16_t sv;
    memcpy(&sv, t->data, 2);
    CHECK_NEAR(ol_bf16_to_f32(sv), 1.0, 0);
    t = ol_safetensors_find(st, "z");
    CHECK_EQ_INT(t->n_elements, 0);
    CHECK_EQ_INT(t->nbytes, 0);
    t = ol_safetensors_find(st, "i");
    int64_t iv;
    memcpy(&iv, t->data, 8);
    CHECK_EQ_INT(iv, -42);
    CHECK_EQ_INT(ol_safetensors_find(st, "f4")->nbytes, 1);
    CHECK_EQ_INT(ol_safetensors_find(st, "f6")->nbytes, 3);
    CHECK_EQ_INT(ol_safetensors_find(st, "f6")->dtype, OL_SAFETENSORS_DTYPE_F6_E2M3);
    /* alignment follows the address */
    CHECK(ol_safetensors_tensor_aligned(t, 1));
    CHECK_EQ_INT(ol_safetensors_tensor_aligned(t, 8), ((uintptr_t)t->data % 8) == 0);
    /* metadata */
    CHECK_EQ_INT(ol_safetensors_n_metadata(st), 2);
    CHECK(!strcmp(ol_safetensors_metadata_at(st, 0)->key, "format"));
    CHECK(!strcmp(ol_safetensors_metadata_at(st, 1)->value, "test"));
    CHECK(ol_safetensors_metadata_at(st, 2) == NULL);
    CHECK(!strcmp(ol_safetensors_metadata_get(st, "format"), "pt"));
    CHECK(ol_safetensors_metadata_get(st, "nope") == NULL);
    ol_safetensors_close(st);
    ol_safetensors_close(NULL);

    /* cut the file at every byte: header length, header and data all refused, never a crash */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, b, cut);
        st = ol_safetensors_open_memory(c, cut, &err);
        CHECK(st == NULL);
        if (cut < 8)
            CHECK_STR_CONTAINS(err.msg, "too small");
        else if (cut < 8 + strlen(VALID))
            CHECK_STR_CONTAINS(err.msg, "runs past the end");
        else
            CHECK_STR_CONTAINS(err.msg, "past the end of the file");
        ol_safetensors_close(st);
        free(c);
    }
    /* every prefix of the header, with its length told truthfully */
    for (size_t k = 0; k < strlen(VALID); k++) {
        char *h = strndup(VALID, k);
        size_t l2;
        uint8_t *c = make(h, data, sizeof(data), &l2);
        st = ol_safetensors_open_memory(c, l2, &err);
        CHECK(st == NULL);
        CHECK_STR_CONTAINS(err.msg, "safetensors: ");
        ol_safetensors_close(st);
        free(c);
        free(h);
    }
    free(b);
}

static void test_header_bytes(void) {
    /* lying lengths */
    size_t len;
    uint8_t *b = make("{}", NULL, 0, &len);
    ol_err err;
    uint64_t n = 3;
    memcpy(b, &n, 8);
    ol_safetensors *st = ol_safetensors_open_memory(b, len, &err);
    CHECK(st == NULL);
    CHECK_STR_CONTAINS(err.msg, "runs past the end of the file");
    n = 100000001;
    memcpy(b, &n, 8);
    st = ol_safetensors_open_memory(b, len, &err);
    CHECK_STR_CONTAINS(err.msg, "header length 100000001 at offset 0 exceeds 100000000");
    n = UINT64_MAX;
    memcpy(b, &n, 8);
    st = ol_safetensors_open_memory(b, len, &err);
    CHECK(st == NULL);
    CHECK_STR_CONTAINS(err.msg, "exceeds");
    free(b);
    st = ol_safetensors_open_memory("", 0, &err);
    CHECK(st == NULL);
    CHECK_STR_CONTAINS(err.msg, "too small");

    /* an empty header object and spaces as padding are fine */
    b = make("{}      ", NULL, 0, &len);
    st = ol_safetensors_open_memory(b, len, &err);
    CHECK(st != NULL);
    if (st) CHECK_EQ_INT(ol_safetensors_n_tensors(st), 0);
    ol_safetensors_close(st);
    free(b);
    b = make("{\"__metadata__\":null}", NULL, 0, &len);
    st = ol_safetensors_open_memory(b, len, &err);
    CHECK(st != NULL);
    if (st) CHECK_EQ_INT(ol_safetensors_n_metadata(st), 0);
    ol_safetensors_close(st);
    free(b);

    /* UTF-8 */
    refuse("{\"a\xff\":{}}", 0, "not valid UTF-8 at offset 11");
    refuse("{\"\xc0\xaf\":{}}", 0, "not valid UTF-8");         /* overlong '/' */
    refuse("{\"\xed\xa0\x80\":{}}", 0, "not valid UTF-8");     /* surrogate */
    refuse("{\"\xf4\x90\x80\x80\":{}}", 0, "not valid UTF-8"); /* past U+10FFFF */
    refuse("{\"\xe2\x82\":{}}", 0, "not valid UTF-8");         /* truncated sequence */
    /* JSON */
    refuse("{\"a\":", 0, "not valid JSON");
    refuse("{\"a\":{},}", 0, "not valid JSON");
    refuse("{} x", 0, "not valid JSON");
    refuse("{\"a\\u0000b\":{}}", 0, "not valid JSON"); /* NUL inside a name */
    refuse("[]", 0, "header is an array, want an object");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}",
           8, "duplicate");
    refuse("{\"a\":{\"b\":{\"c\":[[1]]}}}", 0, "deeper than 3 levels");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
           "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"
           "\"data_offsets\":[0,4]}}",
           4, "more than 64 elements");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}", 4,
           "not valid JSON"); /* jansson: too big integer */
}

static void test_schema(void) {
    refuse("{\"a\":5}", 0, "tensor 'a': entry is an integer, want an object");
    refuse("{\"a\":{\"dtype\":5,\"shape\":[],\"data_offsets\":[0,4]}}", 4,
           "tensor 'a': dtype is an integer");
    refuse("{\"a\":{\"dtype\":\"Q4_0\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
           "tensor 'a': unknown dtype 'Q4_0'");
    refuse("{\"a\":{\"dtype\":\"f32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
           "unknown dtype 'f32'");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,4]}}", 4,
           "tensor 'a': shape is a string");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4,
           "tensor 'a': shape[0] is a real number");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,-1],\"data_offsets\":[0,4]}}", 4,
           "tensor 'a': shape[1] = -1 is negative");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
           "tensor 'a': shape has 9 dimensions, more than 8");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}",
           4, "tensor 'a': element count of the shape overflows");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4,
           "tensor 'a': size in bits overflows");
    refuse("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2,
           "not a whole number of bytes");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0]}}", 4,
           "tensor 'a': data_offsets is an array of the wrong length");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":{}}}", 4,
           "tensor 'a': data_offsets is an object");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[\"0\",4]}}", 4,
           "tensor 'a': data_offsets[0] is a string");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,-4]}}", 4,
           "tensor 'a': data_offsets[1] = -4 is negative");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,0]}}", 4,
           "tensor 'a': data_offsets end 0 is before begin 4");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}", 4,
           "tensor 'a': unknown field 'x'");
    refuse("{\"a\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing field 'dtype'");
    refuse("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
           "tensor 'a': missing field 'shape'");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}", 4,
           "tensor 'a': missing field 'data_offsets'");
    refuse("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
           "tensor 'a': data_offsets [0, 8) hold 8 bytes but F32 of this shape needs 12");
    refuse("{\"__metadata__\":[]}", 0, "__metadata__ is an array, want an object");
    refuse("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ 'k' is an integer, want a string");
}

static void test_layout(void) {
    const char *a = "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":";
    const char *b = "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":";
    char h[512];
    snprintf(h, sizeof(h), "{%s[0,4]},%s[8,12]}}", a, b);
    refuse(h, 12, "tensor 'b' begins at data offset 8 but tensor 'a' ends at 4 (hole)");
    snprintf(h, sizeof(h), "{%s[0,4]},%s[2,6]}}", a, b);
    refuse(h, 6, "tensor 'b' begins at data offset 2 but tensor 'a' ends at 4 (overlap)");
    snprintf(h, sizeof(h), "{%s[0,4]},%s[0,4]}}", a, b);
    refuse(h, 8, "(overlap)");
    snprintf(h, sizeof(h), "{%s[4,8]}}", a);
    refuse(h, 8, "first tensor 'a' begins at data offset 4, not 0");
    snprintf(h, sizeof(h), "{%s[0,4]},%s[4,8]}}", a, b);
    refuse(h, 6, "tensor 'b' data [4, 8) runs past the end of the file");
    refuse(h, 9, "1 trailing bytes after the last tensor");
    /* the same two tensors, listed in reverse order, are fine */
    snprintf(h, sizeof(h), "{%s[4,8]},%s[0,4]}}", a, b);
    static const uint8_t zeros[8];
    size_t len;
    uint8_t *f = make(h, zeros, 8, &len);
    ol_err err;
    ol_safetensors *st = ol_safetensors_open_memory(f, len, &err);
    CHECK(st != NULL);
    if (st) CHECK(!strcmp(ol_safetensors_tensor_at(st, 0)->name, "b"));
    ol_safetensors_close(st);
    free(f);
    /* data with no tensors is trailing */
    refuse("{}", 1, "1 trailing bytes");
}

/* ---- fixtures from the reference writer --------------------------------------------------- */
static int hexval(char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static double element(const ol_safetensors_tensor *t, long idx) {
    const uint8_t *p = (const uint8_t *)t->data + idx * ol_safetensors_dtype_bits(t->dtype) / 8;
    union {
        float f;
        double d;
        int64_t i64;
        uint64_t u64;
        int32_t i32;
        uint32_t u32;
        int16_t i16;
        uint16_t u16;
        int8_t i8;
        uint8_t u8;
    } v;
    memcpy(&v, p, (size_t)ol_safetensors_dtype_bits(t->dtype) / 8);
    switch (t->dtype) {
    case OL_SAFETENSORS_DTYPE_F32:
        return v.f;
    case OL_SAFETENSORS_DTYPE_F64:
        return v.d;
    case OL_SAFETENSORS_DTYPE_F16:
        return ol_f16_to_f32(v.u16);
    case OL_SAFETENSORS_DTYPE_I64:
        return (double)v.i64;
    case OL_SAFETENSORS_DTYPE_I32:
        return v.i32;
    case OL_SAFETENSORS_DTYPE_I16:
        return v.i16;
    case OL_SAFETENSORS_DTYPE_U16:
        return v.u16;
    case OL_SAFETENSORS_DTYPE_I8:
        return v.i8;
    case OL_SAFETENSORS_DTYPE_U8:
    case OL_SAFETENSORS_DTYPE_BOOL:
        return v.u8;
    default:
        return NAN;
    }
}

static void test_fixtures(void) {
    char path[4096];
    snprintf(path, sizeof(path), "%s", test_data("safetensors/expected.txt"));
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[8192], dir[4096];
    snprintf(dir, sizeof(dir), "%s", test_data("safetensors"));
    ol_safetensors *st = NULL;
    ol_err err;
    int n_files = 0, n_tensors = 0, n_values = 0;
    while (fgets(line, sizeof(line), f)) {
        char kind[16], name[256], s1[256];
        if (sscanf(line, "%15s %255s", kind, name) != 2) continue;
        const char *rest = line + strlen(kind) + 1 + strlen(name) + 1;
        if (!strcmp(kind, "file")) {
            long n, off, size;
            CHECK(sscanf(rest, "%ld %ld %ld", &n, &off, &size) == 3);
            ol_safetensors_close(st);
            char fp[8192];
            snprintf(fp, sizeof(fp), "%s/%s", dir, name);
            st = ol_safetensors_open(fp, &err);
            CHECK(st != NULL);
            if (!st) {
                fprintf(stderr, "%s\n", err.msg);
                break;
            }
            n_files++;
            CHECK_EQ_INT(ol_safetensors_n_tensors(st), n);
            CHECK_EQ_INT(ol_safetensors_data_offset(st), off);
            CHECK_EQ_INT(ol_safetensors_file_size(st), size);
        } else if (!strcmp(kind, "tensor")) {
            const ol_safetensors_tensor *t = ol_safetensors_find(st, name);
            CHECK(t != NULL);
            if (!t) continue;
            n_tensors++;
            int nd, used;
            CHECK(sscanf(rest, "%255s %d%n", s1, &nd, &used) == 2);
            CHECK(!strcmp(ol_safetensors_dtype_name(t->dtype), s1));
            CHECK_EQ_INT(t->n_dims, nd);
            rest += used;
            for (int d = 0; d < nd; d++) {
                long dim;
                CHECK(sscanf(rest, "%ld%n", &dim, &used) == 1);
                rest += used;
                CHECK_EQ_INT(t->shape[d], dim);
            }
            long begin, nbytes;
            static char hex[8192];
            CHECK(sscanf(rest, "%ld %ld %8191s", &begin, &nbytes, hex) == 3);
            CHECK_EQ_INT(t->offset, begin);
            CHECK_EQ_INT(t->nbytes, nbytes);
            int same = strlen(hex) == (hex[0] == '-' ? 1 : 2 * t->nbytes);
            const uint8_t *p = t->data;
            for (size_t i = 0; same && i < t->nbytes; i++)
                same = p[i] == (hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
            CHECK(same);
        } else if (!strcmp(kind, "value")) {
            long idx;
            double want;
            CHECK(sscanf(rest, "%ld %lf", &idx, &want) == 2);
            const ol_safetensors_tensor *t = ol_safetensors_find(st, name);
            CHECK(t && idx < t->n_elements);
            if (t && idx < t->n_elements) CHECK_NEAR(element(t, idx), want, 0);
            n_values++;
        } else if (!strcmp(kind, "meta")) {
            CHECK(sscanf(rest, "%255s", s1) == 1);
            const char *v = ol_safetensors_metadata_get(st, name);
            CHECK(v && !strcmp(v, s1));
        }
    }
    fclose(f);
    ol_safetensors_close(st);
    CHECK_EQ_INT(n_files, 3);
    CHECK(n_tensors >= 12);
    CHECK(n_values >= 12);
}

static void test_open_errors(void) {
    ol_err err;
    CHECK(ol_safetensors_open("/nonexistent/x.safetensors", &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "/nonexistent/x.safetensors: cannot open");
    char dir[] = "/tmp/ol_st_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK(ol_safetensors_open(dir, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "not a regular file");
    char path[64];
    snprintf(path, sizeof(path), "%s/bad.safetensors", dir);
    static const uint8_t zeros[8];
    size_t len;
    uint8_t *b =
        make("{\"t\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", zeros, 5, &len);
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, len, f);
    fclose(f);
    CHECK(ol_safetensors_open(path, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, path);
    CHECK_STR_CONTAINS(err.msg, "1 trailing bytes");
    /* an empty file */
    f = fopen(path, "wb");
    fclose(f);
    CHECK(ol_safetensors_open(path, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "too small");
    /* the same file made valid opens through mmap, and its data is page-aligned + offset */
    f = fopen(path, "wb");
    fwrite(b, 1, len - 1, f);
    fclose(f);
    ol_safetensors *st = ol_safetensors_open(path, &err);
    CHECK(st != NULL);
    if (st) {
        const ol_safetensors_tensor *t = ol_safetensors_tensor_at(st, 0);
        CHECK_EQ_INT(ol_safetensors_tensor_aligned(t, 2),
                     (ol_safetensors_data_offset(st) % 2) == 0);
    }
    ol_safetensors_close(st);
    free(b);
    unlink(path);
    rmdir(dir);
}

static void test_dtype_table(void) {
    CHECK(!strcmp(ol_safetensors_dtype_name(OL_SAFETENSORS_DTYPE_BF16), "BF16"));
    CHECK_EQ_INT(ol_safetensors_dtype_bits(OL_SAFETENSORS_DTYPE_F6_E3M2), 6);
    CHECK_EQ_INT(ol_safetensors_dtype_bits(OL_SAFETENSORS_DTYPE_C64), 64);
    CHECK(!strcmp(ol_safetensors_dtype_name(OL_SAFETENSORS_DTYPE_COUNT), "unknown"));
    CHECK_EQ_INT(ol_safetensors_dtype_bits(OL_SAFETENSORS_DTYPE_COUNT), 0);
    CHECK_EQ_INT(OL_SAFETENSORS_DTYPE_COUNT, 22);
}

int main(void) {
    test_dtype_table();
    test_valid();
    test_header_bytes();
    test_schema();
    test_layout();
    test_fixtures();
    test_open_errors();
    return test_done("test_safetensors");
}
