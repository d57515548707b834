/* tests/fuzz/fuzz_tokenizer: libFuzzer target encoding arbitrary bytes with the small
 * Llama-3-style and Qwen2-style vocabularies (tests/data/tokenizer/{llama3,qwen2}-vocab.gguf, found
 * via OL_TEST_DATA or relative to the repository root), then streaming the ids back through the
 * detokenizer and checking that what comes out is always valid UTF-8.
 * Build: cmake -DOL_FUZZ=ON -DCMAKE_C_COMPILER=clang; run from the repository root. */
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ol_tokenizer *vocabs[2];

static ol_tokenizer *load(const char *name) {
    char path[4096];
    const char *dir = getenv("OL_TEST_DATA");
    snprintf(path, sizeof(path), "%s/tokenizer/%s", dir ? dir : "tests/data", name);
    ol_err err = {0};
    ol_gguf *g = ol_gguf_open(path, &err);
    if (!g) {
        fprintf(stderr, "fuzz_tokenizer: %s (set OL_TEST_DATA)\n", err.msg);
        abort();
    }
    ol_tokenizer *tok = ol_tokenizer_create(g, &err);
    ol_gguf_close(g);
    if (!tok) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
        abort();
    }
    return tok;
}

static bool utf8_valid(const unsigned char *u, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char b = u[i];
        size_t k = b < 0x80                 ? 1
                   : b >= 0xC2 && b <= 0xDF ? 2
                   : b >= 0xE0 && b <= 0xEF ? 3
                   : b >= 0xF0 && b <= 0xF4 ? 4
                                            : 0;
        if (!k || i + k > n) return false;
        unsigned char lo = b == 0xE0 ? 0xA0 : b == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = b == 0xED ? 0x9F : b == 0xF4 ? 0x8F : 0xBF;
        for (size_t j = 1; j < k; j++)
            if (u[i + j] < (j == 1 ? lo : 0x80) || u[i + j] > (j == 1 ? hi : 0xBF)) return false;
        i += k;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!vocabs[0]) {
        vocabs[0] = load("llama3-vocab.gguf");
        vocabs[1] = load("qwen2-vocab.gguf");
    }
    if (size < 1) return 0;
    uint8_t flags = data[0];
    const ol_tokenizer *tok = vocabs[flags & 1];
    int32_t *ids = NULL;
    int n = 0;
    ol_err err = {0};
    int rc = ol_tokenizer_encode(tok, (const char *)data + 1, size - 1, flags & 2, flags & 4, &ids,
                                 &n, &err);
    if (rc) abort(); /* any bytes must encode */
    ol_detok d;
    ol_detok_init(&d, tok, flags & 8);
    size_t cap = OL_DETOK_CAP(tok);
    char *out = malloc(cap);
    for (int i = 0; i <= n; i++) {
        int k = i < n ? ol_detok_push(&d, ids[i], out, cap) : ol_detok_flush(&d, out, cap);
        if (k < 0 || !utf8_valid((const unsigned char *)out, (size_t)k)) abort();
    }
    ol_detok_deinit(&d);
    free(out);
    free(ids);
    return 0;
}
