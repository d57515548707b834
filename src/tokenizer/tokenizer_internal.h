/* tokenizer internals shared by tokenizer.c (loading, specials, pieces), strmap.c (hash
 * tables), spm.c, bpe.c, pretok.c (PCRE2 pre-tokenizer) and utf8.c. No other module
 * includes this. */
#ifndef OL_TOKENIZER_INTERNAL_H
#define OL_TOKENIZER_INTERNAL_H

#include "tokenizer/tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- string -> index hash table --------------------------------------------------------
 * Open addressing over keys that live in a caller's blob: key i is blob[off[i], +len[i]).
 * The table keeps only (hash, index + 1) per slot; the key arrays are borrowed. */
typedef struct ol_tok_strmap {
    uint64_t *slots; /* hi 32 bits: hash, lo 32 bits: index + 1; 0 = empty */
    size_t mask;
    const char *blob;
    const uint32_t *off;
    const uint32_t *len;
} ol_tok_strmap;

int ol_tok_strmap_init(ol_tok_strmap *m, size_t n_keys, const char *blob, const uint32_t *off,
                       const uint32_t *len);
void ol_tok_strmap_deinit(ol_tok_strmap *m);
/* Insert key index i; returns the index already holding an equal key, or -1 if inserted. */
int64_t ol_tok_strmap_insert(ol_tok_strmap *m, uint32_t i);
int64_t ol_tok_strmap_find(const ol_tok_strmap *m, const char *key, size_t n); /* -1 if absent */

/* ---- growable id vector ----------------------------------------------------------------- */
typedef struct ol_tok_ids {
    int32_t *v;
    size_t n, cap;
} ol_tok_ids;

int ol_tok_ids_push(ol_tok_ids *ids, int32_t id);

/* ---- the tokenizer ---------------------------------------------------------------------- */
typedef struct ol_tok_regex ol_tok_regex; /* pretok.c */

struct ol_tokenizer {
    ol_tokenizer_kind kind;
    int32_t n_vocab;
    char *blob; /* all token texts back to back */
    uint32_t *tok_off, *tok_len;
    float *scores;
    uint8_t *type; /* ol_token_type, after forcing EOG texts to CONTROL */
    uint8_t *eog;  /* 1 if end-of-generation */
    ol_tok_strmap vocab;
    size_t max_tok_len;

    int32_t bos, eos, eot, eom, unk;
    bool add_bos, add_eos, add_space_prefix;

    /* Special-token candidates for ol_tokenizer_encode: CONTROL, USER_DEFINED, UNKNOWN ids
     * sorted by text length, longest first (ties by id). */
    int32_t *specials;
    int32_t n_specials;

    /* SPM: token for each raw byte (<0xXX>, else the 1-byte string), -1 if none. */
    int32_t byte_tok[256];

    /* BPE: merges as keys "u32 len(A) | A | B"; the key index is the rank. */
    char *mblob;
    uint32_t *m_off, *m_len;
    uint32_t n_merges;
    ol_tok_strmap merges;
    bool ignore_merges;
    ol_tok_regex **regexes; /* applied in order, each re-splitting the previous pieces */
    int n_regexes;
};

static inline const char *ol_tok_text(const ol_tokenizer *t, int32_t id) {
    return t->blob + t->tok_off[id];
}
static inline int32_t ol_tok_lookup(const ol_tokenizer *t, const char *s, size_t n) {
    return (int32_t)ol_tok_strmap_find(&t->vocab, s, n);
}

/* spm.c: encode one raw-text fragment (spaces already escaped to U+2581) into ids. */
int ol_tok_spm_encode(const ol_tokenizer *t, const char *text, size_t len, ol_tok_ids *out,
                      ol_err *err);

/* bpe.c: byte<->unicode map, merges, and encoding of one raw-text fragment. */
int ol_tok_bpe_load_merges(ol_tokenizer *t, const ol_gguf *g, ol_err *err);
int ol_tok_bpe_encode(const ol_tokenizer *t, const char *text, size_t len, ol_tok_ids *out,
                      ol_err *err);
/* Decode a byte-level token text into raw bytes; returns the length (<= n). */
size_t ol_tok_bpe_decode(const char *s, size_t n, char *out);

/* pretok.c: pre-tokenizer regexes chosen by tokenizer.ggml.pre. */
int ol_tok_pretok_init(ol_tokenizer *t, const char *pre, size_t pre_len, ol_err *err);
void ol_tok_pretok_deinit(ol_tokenizer *t);
/* Split text (valid UTF-8, as produced by ol_tok_utf8_sanitize) into pieces: *pieces gets
 * n_pieces (start, len) byte-range pairs, malloc'ed, caller frees. */
int ol_tok_pretok_split(const ol_tokenizer *t, const char *text, size_t len, size_t **pieces,
                        size_t *n_pieces, ol_err *err);

/* utf8.c */
/* Length of a UTF-8 sequence from its lead byte, llama.cpp style: 1,1,...,2,2,3,4 by the high
 * nibble (continuation bytes count as 1). */
static inline size_t ol_tok_utf8_len(uint8_t lead) {
    static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lens[lead >> 4];
}
/* Decode text into code points the way llama.cpp does (an invalid byte becomes U+FFFD and
 * decoding resumes at the next byte; overlong forms and surrogates are accepted), then
 * re-encode. *out is malloc'ed; *subject gets the same bytes with surrogates replaced by
 * U+E000 (same length) so PCRE2 accepts it. Caller frees both. */
int ol_tok_utf8_sanitize(const char *text, size_t len, char **out, char **subject, size_t *out_len);
size_t ol_tok_utf8_encode(uint32_t cp, char *out); /* out >= 4 bytes */

#endif
