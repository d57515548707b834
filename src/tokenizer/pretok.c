/* tokenizer/pretok: the byte-level BPE pre-tokenizer. tokenizer.ggml.pre picks a list of
 * regexes (FORMATS.md §4), compiled with PCRE2 in UTF+UCP mode; each regex re-splits every
 * piece of the previous one, and unmatched stretches stay pieces of their own. \s is spelled
 * out as llama.cpp's whitespace set so that PCRE2's wider notion of space does not leak in. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/tokenizer_internal.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

struct ol_tok_regex {
    pcre2_code *code;
};

/* llama.cpp's whitespace: U+0009-000D, 0020, 0085, 00A0, 1680, 2000-200A, 2028, 2029, 202F,
 * 205F, 3000. */
#define WS                                                                                         \
    "\\t-\\r "                                                                                     \
    "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

#define RE_CONTRACTIONS_CI "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3_TAIL                                                                             \
    "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+"

static const char RE_LLAMA3[] =
    RE_CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" RE_LLAMA3_TAIL;
static const char RE_QWEN2[] =
    RE_CONTRACTIONS_CI "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" RE_LLAMA3_TAIL;
static const char RE_GPT2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])";
static const char RE_DIGIT[] = "\\p{N}";
static const char RE_DEFAULT_PUNCT[] = "[\\p{P}\\$\\+<=>\\^~\\|]+";
static const char RE_DIGITS[] = "\\p{N}+";
static const char RE_DIGITS3[] = "[0-9][0-9][0-9]";

typedef struct pre_entry {
    const char *name;
    bool ignore_merges;
    const char *regexes[4];
} pre_entry;

static const pre_entry PRE_TABLE[] = {
    {"llama-bpe", true, {RE_LLAMA3}},
    {"llama3", true, {RE_LLAMA3}},
    {"llama-v3", true, {RE_LLAMA3}},
    {"qwen2", false, {RE_QWEN2}},
    {"deepseek-r1-qwen", false, {RE_QWEN2}},
    {"gpt-2", false, {RE_GPT2}},
    {"smollm", false, {RE_DIGIT, RE_GPT2}},
    {"default", false, {RE_DEFAULT_PUNCT, RE_GPT2, RE_DIGITS, RE_DIGITS3}},
};

int ol_tok_pretok_init(ol_tokenizer *t, const char *pre, size_t pre_len, ol_err *err) {
    const pre_entry *e = NULL;
    for (size_t i = 0; i < OL_ARRAY_LEN(PRE_TABLE); i++)
        if (strlen(PRE_TABLE[i].name) == pre_len && memcmp(PRE_TABLE[i].name, pre, pre_len) == 0)
            e = &PRE_TABLE[i];
    if (!e)
        return ol_err_set(err, OL_ENOTSUP, "tokenizer: unsupported tokenizer.ggml.pre '%.*s'",
                          (int)OL_MIN(pre_len, 64), pre);
    t->ignore_merges = e->ignore_merges;
    int n = 0;
    while (n < 4 && e->regexes[n]) n++;
    t->regexes = calloc((size_t)n, sizeof(*t->regexes));
    if (!t->regexes) return ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
    t->n_regexes = n;
    for (int i = 0; i < n; i++) {
        int ec = 0;
        PCRE2_SIZE eo = 0;
        t->regexes[i] = calloc(1, sizeof(ol_tok_regex));
        if (!t->regexes[i]) return ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
        t->regexes[i]->code = pcre2_compile((PCRE2_SPTR)e->regexes[i], PCRE2_ZERO_TERMINATED,
                                            PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
        if (!t->regexes[i]->code) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(ec, msg, sizeof(msg));
            return ol_err_set(err, OL_EINVAL, "tokenizer: regex %d of pre '%s' at %zu: %s", i,
                              e->name, (size_t)eo, (const char *)msg);
        }
        pcre2_jit_compile(t->regexes[i]->code, PCRE2_JIT_COMPLETE); /* optional speed-up */
    }
    return 0;
}

void ol_tok_pretok_deinit(ol_tokenizer *t) {
    for (int i = 0; i < t->n_regexes; i++) {
        if (t->regexes[i]) pcre2_code_free(t->regexes[i]->code);
        free(t->regexes[i]);
    }
    free(t->regexes);
    t->regexes = NULL;
    t->n_regexes = 0;
}

typedef struct pieces {
    size_t *v; /* (start, len) pairs */
    size_t n, cap;
} pieces;

static int piece_add(pieces *p, size_t start, size_t len) {
    if (len == 0) return 0;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        size_t *v = realloc(p->v, cap * 2 * sizeof(size_t));
        if (!v) return OL_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    p->v[2 * p->n] = start;
    p->v[2 * p->n + 1] = len;
    p->n++;
    return 0;
}

/* Split text[start, start+len) with one regex, appending pieces to out. */
static int split_one(const pcre2_code *code, pcre2_match_data *md, const char *text, size_t start,
                     size_t len, pieces *out, ol_err *err) {
    PCRE2_SPTR subj = (PCRE2_SPTR)(text + start);
    size_t pos = 0, prev = 0;
    int rc = 0;
    while (pos < len && !rc) {
        int m = pcre2_match(code, subj, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) {
            PCRE2_UCHAR msg[128];
            pcre2_get_error_message(m, msg, sizeof(msg));
            return ol_err_set(err, OL_EINVAL, "tokenizer: pre-tokenizer regex failed: %s",
                              (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) { /* empty match: step one character */
            pos = ms + ol_tok_utf8_len((uint8_t)text[start + ms]);
            continue;
        }
        rc = piece_add(out, start + prev, ms - prev); /* unmatched stretch */
        if (!rc) rc = piece_add(out, start + ms, me - ms);
        prev = pos = me;
    }
    if (!rc) rc = piece_add(out, start + prev, len - prev);
    if (rc) ol_err_set(err, rc, "tokenizer: out of memory");
    return rc;
}

int ol_tok_pretok_split(const ol_tokenizer *t, const char *text, size_t len, size_t **pieces_out,
                        size_t *n_out, ol_err *err) {
    pieces cur = {0}, next = {0};
    int rc = piece_add(&cur, 0, len);
    pcre2_match_data *md = NULL;
    for (int r = 0; r < t->n_regexes && !rc; r++) {
        md = pcre2_match_data_create_from_pattern(t->regexes[r]->code, NULL);
        if (!md) {
            rc = ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
            break;
        }
        next.n = 0;
        for (size_t i = 0; i < cur.n && !rc; i++)
            rc = split_one(t->regexes[r]->code, md, text, cur.v[2 * i], cur.v[2 * i + 1], &next,
                           err);
        pcre2_match_data_free(md);
        pieces tmp = cur;
        cur = next;
        next = tmp;
    }
    free(next.v);
    if (rc) {
        free(cur.v);
        return rc;
    }
    *pieces_out = cur.v;
    *n_out = cur.n;
    return 0;
}
