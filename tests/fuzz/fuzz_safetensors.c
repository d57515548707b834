/* tests/fuzz/fuzz_safetensors.c: libFuzzer target for the safetensors reader. Opens the input
 * with ol_safetensors_open_memory and, when it parses, reads every name, shape, metadata string
 * and the first and last byte of every tensor, so ASan flags any pointer the reader let escape. */
#include "format/safetensors.h"

#include <stdint.h>
#include <string.h>

static volatile uint64_t sink;

static void touch(const void *p, size_t n) {
    if (n == 0) return;
    const volatile uint8_t *b = p;
    sink += b[0];
    sink += b[n - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ol_err err;
    ol_safetensors *st = ol_safetensors_open_memory(data, size, &err);
    if (!st) {
        sink += strlen(err.msg);
        return 0;
    }
    size_t end = ol_safetensors_data_offset(st);
    for (int64_t i = 0; i < ol_safetensors_n_tensors(st); i++) {
        const ol_safetensors_tensor *t = ol_safetensors_tensor_at(st, i);
        touch(t->name, strlen(t->name) + 1);
        touch(t->data, t->nbytes);
        if (ol_safetensors_find(st, t->name) != t) __builtin_trap();
        if (t->n_dims < 0 || t->n_dims > OL_SAFETENSORS_MAX_DIMS) __builtin_trap();
        /* data order, contiguous from the data buffer's start */
        if ((const uint8_t *)t->data != data + end) __builtin_trap();
        end += t->nbytes;
        for (int d = 0; d < t->n_dims; d++) sink += (uint64_t)t->shape[d];
        sink += ol_safetensors_tensor_aligned(t, 4);
        sink += strlen(ol_safetensors_dtype_name(t->dtype));
    }
    if (end != size) __builtin_trap();
    for (int64_t i = 0; i < ol_safetensors_n_metadata(st); i++) {
        const ol_safetensors_kv *kv = ol_safetensors_metadata_at(st, i);
        touch(kv->key, strlen(kv->key) + 1);
        touch(kv->value, strlen(kv->value) + 1);
        if (!ol_safetensors_metadata_get(st, kv->key)) __builtin_trap();
    }
    ol_safetensors_close(st);
    return 0;
}
