/* tests/fuzz/fuzz_gguf.c: libFuzzer target for the GGUF reader. Opens the input with
 * ol_gguf_open_memory and, when it parses, reads every key, string, array element and the
 * first and last byte of every tensor, so ASan flags any pointer the reader let escape. */
#include "format/gguf.h"

#include <stdint.h>
#include <string.h>

static volatile uint64_t sink;

static void touch(const void *p, uint64_t n) {
    if (n == 0) return;
    const volatile uint8_t *b = p;
    sink += b[0];
    sink += b[n - 1];
}

static void walk_kv(const ol_gguf *g, const ol_gguf_kv *kv) {
    touch(kv->key.ptr, kv->key.len);
    if (kv->type == OL_GGUF_TYPE_STRING) {
        touch(kv->strs[0].ptr, kv->strs[0].len);
        return;
    }
    if (kv->type != OL_GGUF_TYPE_ARRAY) {
        sink += (uint64_t)ol_gguf_kv_int(kv);
        sink += ol_gguf_kv_float(kv) > 0;
        return;
    }
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        if (kv->arr_type == OL_GGUF_TYPE_STRING) {
            touch(kv->strs[i].ptr, kv->strs[i].len);
        } else {
            sink += (uint64_t)ol_gguf_arr_int(kv, i);
            sink += ol_gguf_arr_float(kv, i) > 0;
        }
    }
    (void)g;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ol_err err;
    ol_gguf *g = ol_gguf_open_memory(data, size, &err);
    if (!g) {
        sink += strlen(err.msg);
        return 0;
    }
    int64_t n_kv = ol_gguf_n_kv(g), n_t = ol_gguf_n_tensors(g);
    for (int64_t i = 0; i < n_kv; i++) walk_kv(g, ol_gguf_kv_at(g, i));
    /* typed getters on well-known keys exercise the widening paths */
    uint32_t u32;
    int64_t i64;
    float f32;
    bool b;
    ol_gguf_str s;
    const ol_gguf_kv *arr;
    const char *keys[] = {"general.alignment", "general.architecture", "a", "b", "c", "s"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        sink += (uint64_t)ol_gguf_get_u32(g, keys[k], &u32, &err);
        sink += (uint64_t)ol_gguf_get_i64(g, keys[k], &i64, &err);
        sink += (uint64_t)ol_gguf_get_f32(g, keys[k], &f32, &err);
        sink += (uint64_t)ol_gguf_get_bool(g, keys[k], &b, &err);
        if (ol_gguf_get_str(g, keys[k], &s, &err) == 0) touch(s.ptr, s.len);
        sink += (uint64_t)ol_gguf_get_arr(g, keys[k], OL_GGUF_TYPE_STRING, &arr, &err);
    }
    size_t data_off = ol_gguf_data_offset(g), file_size = ol_gguf_file_size(g);
    sink += data_off <= file_size;
    for (int64_t i = 0; i < n_t; i++) {
        const ol_gguf_tensor *t = ol_gguf_tensor_at(g, i);
        touch(t->data, t->nbytes);
        sink += strlen(t->name);
        if (ol_gguf_find_tensor(g, t->name) != t) __builtin_trap();
    }
    ol_gguf_close(g);
    return 0;
}
