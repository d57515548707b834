/* tokenizer: loading a GGUF vocabulary (tokenizer.ggml.*), special-token handling, the encode
 * driver (split out special tokens, then SPM or BPE per raw fragment) and token pieces.
 * Semantics follow llama.cpp (shared/FORMATS.md §4); every metadata field is validated. */
#define _GNU_SOURCE /* qsort_r, memmem */
#include "tokenizer/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

/* Texts that end generation; llama.cpp also forces them to CONTROL (checked against
 * llama-cpp-python 0.3.36: "<|end|>" is only an EOT candidate, "</s>" is on this list). */
#define DEEPSEEK_EOS                                                                               \
    "<\xEF\xBD\x9C"                                                                                \
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"
static const char *const EOG_TEXTS[] = {
    "<|eot_id|>",         "<|im_end|>",    "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>",      "<|endoftext|>", "<|eom_id|>", "<EOT>",    "_<EOT>",    "<|end_of_text|>",
    "<end_of_utterance>", "</s>",          DEEPSEEK_EOS, "[EOS]",    "<eos>",     "<turn|>",
};
/* Texts llama.cpp picks the EOT token from when tokenizer.ggml.eot_token_id is absent. */
static const char *const EOT_TEXTS[] = {
    "<|eot_id|>",      "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>", "<EOT>",      "_<EOT>",  DEEPSEEK_EOS,    "<end_of_utterance>",
};

static int load_tokens(ol_tokenizer *t, const ol_gguf *g, ol_err *err) {
    const ol_gguf_kv *kv = NULL;
    int rc = ol_gguf_get_arr(g, "tokenizer.ggml.tokens", OL_GGUF_TYPE_STRING, &kv, err);
    if (rc == OL_ENOENT)
        return ol_err_set(err, OL_EFORMAT, "tokenizer: missing tokenizer.ggml.tokens");
    if (rc) return rc;
    if (kv->arr_n == 0 || kv->arr_n > (1u << 26))
        return ol_err_set(err, OL_ERANGE, "tokenizer: tokenizer.ggml.tokens has %llu entries",
                          (unsigned long long)kv->arr_n);
    int32_t n = (int32_t)kv->arr_n;
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) total += kv->strs[i].len ? kv->strs[i].len : 24;
    if (total > UINT32_MAX - 1) return ol_err_set(err, OL_ERANGE, "tokenizer: tokens too large");
    t->n_vocab = n;
    t->blob = malloc(total + 1);
    t->tok_off = malloc((size_t)n * sizeof(uint32_t));
    t->tok_len = malloc((size_t)n * sizeof(uint32_t));
    t->scores = calloc((size_t)n, sizeof(float));
    t->type = malloc((size_t)n);
    t->eog = calloc((size_t)n, 1);
    if (!t->blob || !t->tok_off || !t->tok_len || !t->scores || !t->type || !t->eog)
        return ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
    uint32_t pos = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t len = kv->strs[i].len;
        t->tok_off[i] = pos;
        if (len)
            memcpy(t->blob + pos, kv->strs[i].ptr, len);
        else
            len = (size_t)snprintf(t->blob + pos, 24, "[EMPTY_%d]", (int)i); /* llama.cpp's name */
        t->tok_len[i] = (uint32_t)len;
        pos += (uint32_t)len;
        if (len > t->max_tok_len) t->max_tok_len = len;
    }
    if (ol_tok_strmap_init(&t->vocab, (size_t)n, t->blob, t->tok_off, t->tok_len))
        return ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
    for (int32_t i = 0; i < n; i++) {
        int64_t dup = ol_tok_strmap_insert(&t->vocab, (uint32_t)i);
        if (dup >= 0)
            return ol_err_set(err, OL_EFORMAT,
                              "tokenizer: tokenizer.ggml.tokens[%d] duplicates [%lld]", (int)i,
                              (long long)dup);
    }
    return 0;
}

/* Optional numeric array of length >= n_vocab. */
static int numeric_arr(const ol_gguf *g, const char *key, int32_t n, bool want_int,
                       const ol_gguf_kv **out, ol_err *err) {
    *out = NULL;
    const ol_gguf_kv *kv = ol_gguf_find(g, key);
    if (!kv) return 0;
    bool ok = kv->type == OL_GGUF_TYPE_ARRAY;
    if (ok && want_int)
        ok = kv->arr_type != OL_GGUF_TYPE_F32 && kv->arr_type != OL_GGUF_TYPE_F64 &&
             kv->arr_type != OL_GGUF_TYPE_STRING && kv->arr_type != OL_GGUF_TYPE_ARRAY &&
             kv->arr_type != OL_GGUF_TYPE_BOOL;
    if (ok && !want_int)
        ok = kv->arr_type != OL_GGUF_TYPE_STRING && kv->arr_type != OL_GGUF_TYPE_ARRAY;
    if (!ok) return ol_err_set(err, OL_EFORMAT, "tokenizer: %s is not a numeric array", key);
    if (kv->arr_n < (uint64_t)n)
        return ol_err_set(err, OL_EFORMAT, "tokenizer: %s has %llu entries, need %d", key,
                          (unsigned long long)kv->arr_n, (int)n);
    *out = kv;
    return 0;
}

static int load_scores_types(ol_tokenizer *t, const ol_gguf *g, ol_err *err) {
    const ol_gguf_kv *sc, *ty;
    int rc = numeric_arr(g, "tokenizer.ggml.scores", t->n_vocab, false, &sc, err);
    if (!rc) rc = numeric_arr(g, "tokenizer.ggml.token_type", t->n_vocab, true, &ty, err);
    if (rc) return rc;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        t->scores[i] = sc ? (float)ol_gguf_arr_float(sc, (uint64_t)i) : 0.0f;
        int64_t ty_i = ty ? ol_gguf_arr_int(ty, (uint64_t)i) : OL_TOKEN_TYPE_NORMAL;
        t->type[i] =
            ty_i >= 0 && ty_i < OL_TOKEN_TYPE_COUNT ? (uint8_t)ty_i : OL_TOKEN_TYPE_UNDEFINED;
    }
    return 0;
}

/* u32 id key: absent keeps *id; out of range is ignored (llama.cpp warns); wrong type fails. */
static int special_id(const ol_tokenizer *t, const ol_gguf *g, const char *key, int32_t *id,
                      ol_err *err) {
    uint32_t v;
    int rc = ol_gguf_get_u32(g, key, &v, err);
    if (rc == OL_ENOENT) return 0;
    if (rc) return rc;
    if (v < (uint32_t)t->n_vocab)
        *id = (int32_t)v;
    else
        ol_log(OL_LOG_WARN, "tokenizer: %s = %u out of range, ignored", key, v);
    return 0;
}

static int opt_bool(const ol_gguf *g, const char *key, bool *val, ol_err *err) {
    int rc = ol_gguf_get_bool(g, key, val, err);
    return rc == OL_ENOENT ? 0 : rc;
}

static int load_specials(ol_tokenizer *t, const ol_gguf *g, ol_err *err) {
    int32_t n = t->n_vocab;
    bool spm = t->kind == OL_TOKENIZER_KIND_SPM;
    t->bos = spm ? 1 : 11; /* llama.cpp defaults (11: legacy GPT-2 era value) */
    t->eos = spm ? 2 : 11;
    t->unk = spm ? 0 : -1;
    t->eot = t->eom = -1;
    if (t->bos >= n) t->bos = -1;
    if (t->eos >= n) t->eos = -1;
    int rc = special_id(t, g, "tokenizer.ggml.bos_token_id", &t->bos, err);
    if (!rc) rc = special_id(t, g, "tokenizer.ggml.eos_token_id", &t->eos, err);
    if (!rc) rc = special_id(t, g, "tokenizer.ggml.eot_token_id", &t->eot, err);
    if (!rc) rc = special_id(t, g, "tokenizer.ggml.eom_token_id", &t->eom, err);
    if (!rc) rc = special_id(t, g, "tokenizer.ggml.unknown_token_id", &t->unk, err);
    if (!rc) rc = opt_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos, err);
    if (!rc) rc = opt_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos, err);
    if (!rc) rc = opt_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, err);
    if (rc) return rc;
    if (t->add_bos && t->bos < 0) t->add_bos = false;
    if (t->add_eos && t->eos < 0) t->add_eos = false;

    if (t->eot < 0)
        for (size_t k = 0; k < OL_ARRAY_LEN(EOT_TEXTS) && t->eot < 0; k++)
            t->eot = ol_tokenizer_find_token(t, EOT_TEXTS[k]);
    if (t->eom < 0) t->eom = ol_tokenizer_find_token(t, "<|eom_id|>");
    if (t->eot >= 0) t->type[t->eot] = OL_TOKEN_TYPE_CONTROL;
    if (t->eom >= 0) t->type[t->eom] = OL_TOKEN_TYPE_CONTROL;
    for (size_t k = 0; k < OL_ARRAY_LEN(EOG_TEXTS); k++) {
        int32_t id = ol_tokenizer_find_token(t, EOG_TEXTS[k]);
        if (id < 0) continue;
        t->eog[id] = 1;
        t->type[id] = OL_TOKEN_TYPE_CONTROL;
    }
    if (t->eos >= 0) t->eog[t->eos] = 1;
    if (t->eot >= 0) t->eog[t->eot] = 1;
    if (t->eom >= 0) t->eog[t->eom] = 1;
    return 0;
}

static int cmp_special(const void *a, const void *b, void *ctx) {
    const ol_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->tok_len[x] != t->tok_len[y]) return t->tok_len[x] > t->tok_len[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int build_specials(ol_tokenizer *t, ol_err *err) {
    int32_t n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        uint8_t ty = t->type[i];
        n += ty == OL_TOKEN_TYPE_CONTROL || ty == OL_TOKEN_TYPE_USER_DEFINED ||
             ty == OL_TOKEN_TYPE_UNKNOWN;
    }
    t->specials = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    if (!t->specials) return ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
    t->n_specials = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        uint8_t ty = t->type[i];
        if (ty == OL_TOKEN_TYPE_CONTROL || ty == OL_TOKEN_TYPE_USER_DEFINED ||
            ty == OL_TOKEN_TYPE_UNKNOWN)
            t->specials[t->n_specials++] = i;
    }
    qsort_r(t->specials, (size_t)t->n_specials, sizeof(int32_t), cmp_special, t);
    return 0;
}

static void build_byte_tokens(ol_tokenizer *t) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
        char one = (char)b;
        int32_t id = ol_tok_lookup(t, name, 6);
        t->byte_tok[b] = id >= 0 ? id : ol_tok_lookup(t, &one, 1);
    }
}

ol_tokenizer *ol_tokenizer_create(const ol_gguf *g, ol_err *err) {
    ol_gguf_str model = {0}, pre = {0};
    int rc = ol_gguf_get_str(g, "tokenizer.ggml.model", &model, err);
    if (rc == OL_ENOENT) ol_err_set(err, OL_EFORMAT, "tokenizer: missing tokenizer.ggml.model");
    if (rc) return NULL;
    ol_tokenizer *t = calloc(1, sizeof(*t));
    if (!t) {
        ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
        return NULL;
    }
    if (ol_gguf_str_eq(model, "llama"))
        t->kind = OL_TOKENIZER_KIND_SPM;
    else if (ol_gguf_str_eq(model, "gpt2"))
        t->kind = OL_TOKENIZER_KIND_BPE;
    else {
        ol_err_set(err, OL_ENOTSUP, "tokenizer: unsupported tokenizer.ggml.model '%.*s'",
                   (int)OL_MIN(model.len, 64), model.ptr);
        goto fail;
    }
    bool spm = t->kind == OL_TOKENIZER_KIND_SPM;
    if (!spm) {
        rc = ol_gguf_get_str(g, "tokenizer.ggml.pre", &pre, err);
        if (rc == OL_ENOENT)
            pre = (ol_gguf_str){"default", 7};
        else if (rc)
            goto fail;
    }
    t->add_bos = spm;
    t->add_space_prefix = spm;
    if (!spm)
        t->add_bos = ol_gguf_str_eq(pre, "llama-bpe") || ol_gguf_str_eq(pre, "llama3") ||
                     ol_gguf_str_eq(pre, "llama-v3");
    if (load_tokens(t, g, err) || load_scores_types(t, g, err) || load_specials(t, g, err) ||
        build_specials(t, err))
        goto fail;
    if (spm)
        build_byte_tokens(t);
    else if (ol_tok_bpe_load_merges(t, g, err) || ol_tok_pretok_init(t, pre.ptr, pre.len, err))
        goto fail;
    return t;
fail:
    ol_tokenizer_destroy(t);
    return NULL;
}

void ol_tokenizer_destroy(ol_tokenizer *t) {
    if (!t) return;
    ol_tok_pretok_deinit(t);
    ol_tok_strmap_deinit(&t->merges);
    free(t->mblob);
    free(t->m_off);
    free(t->m_len);
    ol_tok_strmap_deinit(&t->vocab);
    free(t->specials);
    free(t->blob);
    free(t->tok_off);
    free(t->tok_len);
    free(t->scores);
    free(t->type);
    free(t->eog);
    free(t);
}

/* ---- accessors -------------------------------------------------------------------------- */

ol_tokenizer_kind ol_tokenizer_kind_get(const ol_tokenizer *t) {
    return t->kind;
}
int ol_tokenizer_n_vocab(const ol_tokenizer *t) {
    return t->n_vocab;
}
int32_t ol_tokenizer_bos(const ol_tokenizer *t) {
    return t->bos;
}
int32_t ol_tokenizer_eos(const ol_tokenizer *t) {
    return t->eos;
}
int32_t ol_tokenizer_eot(const ol_tokenizer *t) {
    return t->eot;
}
bool ol_tokenizer_add_bos(const ol_tokenizer *t) {
    return t->add_bos;
}
bool ol_tokenizer_add_eos(const ol_tokenizer *t) {
    return t->add_eos;
}
size_t ol_tokenizer_max_piece_len(const ol_tokenizer *t) {
    return t->max_tok_len;
}

bool ol_tokenizer_is_eog(const ol_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->eog[id];
}

ol_token_type ol_tokenizer_token_type(const ol_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? (ol_token_type)t->type[id] : OL_TOKEN_TYPE_UNDEFINED;
}

const char *ol_tokenizer_token_text(const ol_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    if (len) *len = t->tok_len[id];
    return ol_tok_text(t, id);
}

int32_t ol_tokenizer_find_token(const ol_tokenizer *t, const char *text) {
    return text ? ol_tok_lookup(t, text, strlen(text)) : -1;
}

/* ---- encode ----------------------------------------------------------------------------- */

/* The text cut into raw stretches and special tokens, as a singly linked list in an array. */
typedef struct frag {
    int32_t id; /* -1: raw text [off, off+len) */
    int next;
    size_t off, len;
} frag;

typedef struct frags {
    frag *v;
    int n, cap;
} frags;

static int frag_new(frags *f, int32_t id, size_t off, size_t len) {
    if (f->n == f->cap) {
        if (f->cap > INT32_MAX / 4) return OL_ENOMEM;
        int cap = f->cap ? f->cap * 2 : 16;
        frag *v = realloc(f->v, (size_t)cap * sizeof(frag));
        if (!v) return OL_ENOMEM;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n] = (frag){.id = id, .next = -1, .off = off, .len = len};
    return f->n++;
}

/* Cut every occurrence of special token id out of the raw fragments, left to right. */
static int cut_special(const ol_tokenizer *t, int32_t id, const char *text, frags *f) {
    const char *s = ol_tok_text(t, id);
    size_t sl = t->tok_len[id];
    for (int i = 0; i >= 0; i = f->v[i].next) {
        if (f->v[i].id >= 0 || f->v[i].len < sl) continue;
        const char *base = text + f->v[i].off;
        const char *hit = memmem(base, f->v[i].len, s, sl);
        if (!hit) continue;
        size_t pre = (size_t)(hit - base), rest = f->v[i].len - pre - sl;
        size_t rest_off = f->v[i].off + pre + sl;
        int after = f->v[i].next;
        if (rest) {
            int r = frag_new(f, -1, rest_off, rest);
            if (r < 0) return r;
            f->v[r].next = after;
            after = r;
        }
        if (pre == 0) { /* the token takes this node's place */
            f->v[i] = (frag){.id = id, .next = after};
        } else {
            int tok = frag_new(f, id, 0, 0);
            if (tok < 0) return tok;
            f->v[tok].next = after;
            f->v[i].len = pre;
            f->v[i].next = tok;
        }
        /* the loop continues at i's next: the token (skipped), then the rest */
    }
    return 0;
}

static int split_specials(const ol_tokenizer *t, const char *text, size_t len, bool parse_special,
                          frags *f) {
    int rc = frag_new(f, -1, 0, len);
    if (rc < 0 || len == 0) return rc < 0 ? rc : 0;
    /* Prefilter: a candidate can only match if its first two bytes occur in the text. */
    uint64_t *pairs = calloc(65536 / 64, sizeof(uint64_t));
    uint8_t bytes[256] = {0};
    if (!pairs) return OL_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        bytes[(uint8_t)text[i]] = 1;
        if (i + 1 < len) {
            unsigned p = ((unsigned)(uint8_t)text[i] << 8) | (uint8_t)text[i + 1];
            pairs[p >> 6] |= 1ull << (p & 63);
        }
    }
    for (int32_t k = 0; k < t->n_specials && !rc; k++) {
        int32_t id = t->specials[k];
        uint8_t ty = t->type[id];
        if (!parse_special && (ty == OL_TOKEN_TYPE_CONTROL || ty == OL_TOKEN_TYPE_UNKNOWN))
            continue;
        const uint8_t *s = (const uint8_t *)ol_tok_text(t, id);
        size_t sl = t->tok_len[id];
        if (sl > len || !bytes[s[0]]) continue;
        if (sl >= 2) {
            unsigned p = ((unsigned)s[0] << 8) | s[1];
            if (!(pairs[p >> 6] >> (p & 63) & 1)) continue;
        }
        rc = cut_special(t, id, text, f);
    }
    free(pairs);
    return rc;
}

static int encode_spm_fragment(const ol_tokenizer *t, const char *text, size_t len, bool prefix,
                               ol_tok_ids *out, ol_err *err) {
    size_t n_sp = prefix;
    for (size_t i = 0; i < len; i++) n_sp += text[i] == ' ';
    if (len > SIZE_MAX / 4) return ol_err_set(err, OL_ERANGE, "tokenizer: text too long");
    char *buf = malloc(len + 2 * n_sp + 4);
    if (!buf) return ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
    size_t o = 0;
    if (prefix) memcpy(buf + o, "\xE2\x96\x81", 3), o += 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ')
            memcpy(buf + o, "\xE2\x96\x81", 3), o += 3;
        else
            buf[o++] = text[i];
    }
    int rc = ol_tok_spm_encode(t, buf, o, out, err);
    free(buf);
    return rc;
}

int ol_tokenizer_encode(const ol_tokenizer *t, const char *text, size_t len, bool add_special,
                        bool parse_special, int32_t **ids_out, int *n_out, ol_err *err) {
    *ids_out = NULL;
    *n_out = 0;
    if (!text && len) return ol_err_set(err, OL_EINVAL, "tokenizer: NULL text");
    if (len > INT32_MAX / 8) return ol_err_set(err, OL_ERANGE, "tokenizer: text of %zu bytes", len);
    frags f = {0};
    ol_tok_ids out = {0};
    int rc = split_specials(t, text, len, parse_special, &f);
    if (rc < 0) {
        ol_err_set(err, rc, "tokenizer: out of memory");
        goto done;
    }
    if (add_special && t->add_bos) rc = ol_tok_ids_push(&out, t->bos);
    bool prev_special = true; /* SPM: the first fragment gets the space prefix */
    for (int i = 0; len && i >= 0 && !rc; i = f.v[i].next) {
        const frag *fr = &f.v[i];
        if (fr->id >= 0) {
            rc = ol_tok_ids_push(&out, fr->id);
            prev_special = true;
        } else if (t->kind == OL_TOKENIZER_KIND_SPM) {
            rc = encode_spm_fragment(t, text + fr->off, fr->len,
                                     t->add_space_prefix && prev_special, &out, err);
            prev_special = false;
        } else {
            rc = ol_tok_bpe_encode(t, text + fr->off, fr->len, &out, err);
        }
    }
    if (!rc && add_special && t->add_eos) rc = ol_tok_ids_push(&out, t->eos);
    if (!rc && !out.v) { /* the result is non-NULL even when empty */
        rc = ol_tok_ids_push(&out, 0);
        out.n = 0;
    }
    if (rc == OL_ENOMEM) ol_err_set(err, rc, "tokenizer: out of memory");
done:
    free(f.v);
    if (rc) {
        free(out.v);
        return rc;
    }
    *ids_out = out.v;
    *n_out = (int)out.n;
    return 0;
}

/* ---- pieces ----------------------------------------------------------------------------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Piece into buf (>= max_tok_len bytes); returns its length. */
static size_t piece(const ol_tokenizer *t, int32_t id, char *buf, bool render_special) {
    const char *s = ol_tok_text(t, id);
    size_t n = t->tok_len[id];
    uint8_t ty = t->type[id];
    if (ty == OL_TOKEN_TYPE_CONTROL || ty == OL_TOKEN_TYPE_UNKNOWN) {
        if (!render_special) return 0;
        memcpy(buf, s, n);
        return n;
    }
    if (ty == OL_TOKEN_TYPE_USER_DEFINED) {
        memcpy(buf, s, n);
        return n;
    }
    if (t->kind == OL_TOKENIZER_KIND_BPE)
        return ty == OL_TOKEN_TYPE_NORMAL ? ol_tok_bpe_decode(s, n, buf) : 0;
    if (ty == OL_TOKEN_TYPE_BYTE) { /* "<0xXX>" */
        if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return 0;
        int hi = hexval(s[3]), lo = hexval(s[4]);
        if (hi < 0 || lo < 0) return 0;
        buf[0] = (char)(hi * 16 + lo);
        return 1;
    }
    if (ty != OL_TOKEN_TYPE_NORMAL) return 0;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0)
            buf[o++] = ' ', i += 3;
        else
            buf[o++] = s[i++];
    }
    return o;
}

int ol_tokenizer_token_to_piece(const ol_tokenizer *t, int32_t id, char *buf, size_t cap,
                                bool render_special) {
    if (id < 0 || id >= t->n_vocab) return OL_EINVAL;
    char small[256];
    char *tmp = t->max_tok_len <= sizeof(small) ? small : malloc(t->max_tok_len);
    if (!tmp) return OL_ENOMEM;
    size_t n = piece(t, id, tmp, render_special);
    int rc = n <= cap ? (int)n : OL_EFULL;
    if (rc >= 0 && n) memcpy(buf, tmp, n);
    if (tmp != small) free(tmp);
    return rc;
}
