/* tokenizer: text <-> token ids for GGUF vocabularies, following llama.cpp's semantics
 * (shared/FORMATS.md §4): "llama" = SentencePiece-style BPE by scores (Gemma, Llama 2) and
 * "gpt2" = byte-level BPE with merges and a pre-tokenizer regex chosen by tokenizer.ggml.pre.
 * Plus a streaming detokenizer that only ever emits complete, valid UTF-8. */
#ifndef OL_TOKENIZER_H
#define OL_TOKENIZER_H

#include "base/base.h"
#include "format/gguf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Token types as stored in tokenizer.ggml.token_type. */
typedef enum ol_token_type {
    OL_TOKEN_TYPE_UNDEFINED = 0,
    OL_TOKEN_TYPE_NORMAL = 1,
    OL_TOKEN_TYPE_UNKNOWN = 2,
    OL_TOKEN_TYPE_CONTROL = 3,
    OL_TOKEN_TYPE_USER_DEFINED = 4,
    OL_TOKEN_TYPE_UNUSED = 5,
    OL_TOKEN_TYPE_BYTE = 6,
    OL_TOKEN_TYPE_COUNT
} ol_token_type;

typedef enum ol_tokenizer_kind {
    OL_TOKENIZER_KIND_SPM = 0, /* tokenizer.ggml.model = "llama" */
    OL_TOKENIZER_KIND_BPE = 1, /* tokenizer.ggml.model = "gpt2" */
    OL_TOKENIZER_KIND_COUNT
} ol_tokenizer_kind;

/* Immutable after create: every function below taking a const ol_tokenizer * is thread-safe. */
typedef struct ol_tokenizer ol_tokenizer;

/* Build from the tokenizer.ggml.* keys of g. Everything needed is copied, so g may be closed
 * afterwards. NULL on failure with err naming the key: unknown model or pre, missing or
 * mismatched arrays, duplicate tokens, out-of-memory. Destroy with ol_tokenizer_destroy. */
ol_tokenizer *ol_tokenizer_create(const ol_gguf *g, ol_err *err);
void ol_tokenizer_destroy(ol_tokenizer *tok); /* accepts NULL */

/* Encode len bytes of text (any bytes; invalid UTF-8 is tolerated as llama.cpp does).
 * add_special: prepend BOS / append EOS per the vocabulary's add_bos / add_eos flags.
 * parse_special: match CONTROL and UNKNOWN token texts in the text (USER_DEFINED tokens are
 * always matched). On success *ids_out is a malloc'ed array the caller frees with free()
 * (non-NULL even when *n_out is 0). Returns 0 or a negative OL_E* code with err filled. */
int ol_tokenizer_encode(const ol_tokenizer *tok, const char *text, size_t len, bool add_special,
                        bool parse_special, int32_t **ids_out, int *n_out, ol_err *err);

ol_tokenizer_kind ol_tokenizer_kind_get(const ol_tokenizer *tok);
int ol_tokenizer_n_vocab(const ol_tokenizer *tok);
/* Special ids, -1 if none. Absent keys take llama.cpp's defaults: SPM bos 1, eos 2; BPE bos = eos
 * = 11 (legacy); eot found by text (<|eot_id|>, <|im_end|>, <end_of_turn>, ...). */
int32_t ol_tokenizer_bos(const ol_tokenizer *tok);
int32_t ol_tokenizer_eos(const ol_tokenizer *tok);
int32_t ol_tokenizer_eot(const ol_tokenizer *tok);
bool ol_tokenizer_add_bos(const ol_tokenizer *tok);
bool ol_tokenizer_add_eos(const ol_tokenizer *tok);
/* End of generation: eos, eot, eom and tokens named <end_of_turn>, <|eot_id|>, <|im_end|>,
 * <|endoftext|>, ... False for ids out of range. */
bool ol_tokenizer_is_eog(const ol_tokenizer *tok, int32_t id);
/* Type of a token (OL_TOKEN_TYPE_UNDEFINED for ids out of range). End-of-generation texts
 * found in the vocabulary are reported as CONTROL, as llama.cpp forces them. */
ol_token_type ol_tokenizer_token_type(const ol_tokenizer *tok, int32_t id);
/* Raw vocabulary string (not NUL-terminated), borrowed until destroy; NULL for bad ids. */
const char *ol_tokenizer_token_text(const ol_tokenizer *tok, int32_t id, size_t *len);
/* Id of the token whose raw text is exactly `text` (NUL-terminated), or -1. */
int32_t ol_tokenizer_find_token(const ol_tokenizer *tok, const char *text);

/* Upper bound on the bytes ol_tokenizer_token_to_piece writes for any token. */
size_t ol_tokenizer_max_piece_len(const ol_tokenizer *tok);
/* Bytes of one token as text: SPM "▁" -> ' ', <0xXX> byte tokens -> the raw byte; BPE inverts
 * the GPT-2 byte<->unicode map; CONTROL/UNKNOWN render as "" unless render_special, and
 * USER_DEFINED verbatim. The piece may be a fragment of a multi-byte character. Not
 * NUL-terminated. Returns the length, OL_EINVAL for a bad id, OL_EFULL if cap is too small. */
int ol_tokenizer_token_to_piece(const ol_tokenizer *tok, int32_t id, char *buf, size_t cap,
                                bool render_special);

/* Streaming detokenizer: pieces go in, only complete valid UTF-8 comes out. A partial
 * multi-byte sequence is held back until it completes; bytes that can never form valid UTF-8
 * come out as U+FFFD. Caller-allocated; tok is borrowed for the detok's lifetime. Owned by
 * one thread. */
typedef struct ol_detok {
    const ol_tokenizer *tok;
    bool render_special;
    uint8_t pend[4]; /* bytes of the incomplete character held back */
    int n_pend;
    int n_need; /* total length of that character */
} ol_detok;

/* out capacity that always suffices for one push or a flush. */
#define OL_DETOK_CAP(tok) (3 * ol_tokenizer_max_piece_len(tok) + 16)

void ol_detok_init(ol_detok *d, const ol_tokenizer *tok, bool render_special);
void ol_detok_deinit(ol_detok *d);
/* Append token id; writes the newly completed text to out. Returns bytes written (0 when
 * everything is held back), OL_EINVAL for a bad id, or OL_EFULL when cap is too small (the
 * state is then unchanged: retry with OL_DETOK_CAP bytes). */
int ol_detok_push(ol_detok *d, int32_t id, char *out, size_t cap);
/* End of stream: a held-back incomplete character comes out as U+FFFD. Returns bytes written
 * or OL_EFULL (cap >= 3 always suffices). */
int ol_detok_flush(ol_detok *d, char *out, size_t cap);

#endif
