/* tests/fuzz/fuzz_tokenizer_vocab: libFuzzer target for hostile vocabulary metadata. The input
 * is a whole GGUF file; when the reader and ol_tokenizer_create accept it, a fixed mixed text
 * is encoded with every flag combination and the ids are streamed back through a detok.
 * Seed it with the GGUFs under tests/data/tokenizer. Build: cmake -DOL_FUZZ=ON with clang. */
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

static const char TEXT[] = "Hello world! <|im_end|><s> it's 12345 \xE4\xB8\xAD\xE6\x96\x87 "
                           "\xF0\x9F\x98\x80\n\n\t  x \xFF\xC3 <start_of_turn>user\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ol_err err = {0};
    ol_gguf *g = ol_gguf_open_memory(data, size, &err);
    if (!g) return 0;
    ol_tokenizer *tok = ol_tokenizer_create(g, &err);
    ol_gguf_close(g);
    if (!tok) return 0;
    size_t cap = OL_DETOK_CAP(tok);
    char *out = malloc(cap);
    for (int flags = 0; flags < 4; flags++) {
        int32_t *ids = NULL;
        int n = 0;
        if (ol_tokenizer_encode(tok, TEXT, sizeof(TEXT) - 1, flags & 1, flags & 2, &ids, &n, &err))
            continue; /* e.g. an SPM vocabulary without byte fallback: an error, not a crash */
        ol_detok d;
        ol_detok_init(&d, tok, flags & 2);
        for (int i = 0; i < n; i++)
            if (ol_detok_push(&d, ids[i], out, cap) < 0) abort();
        if (ol_detok_flush(&d, out, cap) < 0) abort();
        ol_detok_deinit(&d);
        free(ids);
    }
    free(out);
    ol_tokenizer_destroy(tok);
    return 0;
}
