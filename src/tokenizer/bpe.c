/* tokenizer/bpe: byte-level BPE ("gpt2" vocabularies: Llama 3, Qwen2). Each pre-token's bytes
 * go through the GPT-2 byte->unicode map, then the adjacent pair with the lowest merge rank
 * merges first (ties: leftmost). Symbols missing from the vocabulary fall back to their single
 * bytes, and misses are dropped, as llama.cpp does (FORMATS.md §4). */
#include "tokenizer/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

/* GPT-2 byte->unicode: printable Latin-1 bytes map to themselves, the other 68 bytes (in
 * increasing order) to U+0100 + n. */
static bool byte_is_self(unsigned b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

static void byte_map(uint16_t map[256]) {
    unsigned n = 0;
    for (unsigned b = 0; b < 256; b++)
        map[b] = byte_is_self(b) ? (uint16_t)b : (uint16_t)(0x100 + n++);
}

size_t ol_tok_bpe_decode(const char *s, size_t n, char *out) {
    uint8_t inv[0x144 - 0x100];
    unsigned k = 0;
    for (unsigned b = 0; b < 256; b++)
        if (!byte_is_self(b)) inv[k++] = (uint8_t)b;
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        /* Code points come from well-formed 1- and 2-byte sequences; anything else (not a
         * byte-level character) is copied through unchanged. */
        uint32_t cp = u[i];
        size_t cl = 1;
        if ((u[i] & 0xE0) == 0xC0 && i + 1 < n && (u[i + 1] & 0xC0) == 0x80) {
            cp = ((uint32_t)(u[i] & 0x1F) << 6) | (u[i + 1] & 0x3F);
            cl = 2;
        }
        if (cl == 1 && cp < 0x80 && byte_is_self(cp))
            out[o++] = (char)cp;
        else if (cl == 2 && cp < 0x100 && byte_is_self(cp))
            out[o++] = (char)cp;
        else if (cl == 2 && cp >= 0x100 && cp < 0x144)
            out[o++] = (char)inv[cp - 0x100];
        else {
            size_t m = cl == 1 ? ol_tok_utf8_len(u[i]) : cl;
            if (m > n - i) m = n - i;
            memcpy(out + o, s + i, m);
            o += m;
            cl = m;
        }
        i += cl;
    }
    return o;
}

int ol_tok_bpe_load_merges(ol_tokenizer *t, const ol_gguf *g, ol_err *err) {
    const ol_gguf_kv *kv = NULL;
    int rc = ol_gguf_get_arr(g, "tokenizer.ggml.merges", OL_GGUF_TYPE_STRING, &kv, err);
    if (rc == OL_ENOENT)
        return ol_err_set(err, OL_EFORMAT,
                          "tokenizer: gpt2 vocabulary without tokenizer.ggml.merges");
    if (rc) return rc;
    if (kv->arr_n > INT32_MAX / 2)
        return ol_err_set(err, OL_ERANGE, "tokenizer: %llu merges", (unsigned long long)kv->arr_n);
    uint32_t n = (uint32_t)kv->arr_n;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += kv->strs[i].len + 4;
    if (total > UINT32_MAX) return ol_err_set(err, OL_ERANGE, "tokenizer: merges too large");
    t->mblob = malloc(total + 1);
    t->m_off = malloc((n + 1) * sizeof(uint32_t));
    t->m_len = malloc((n + 1) * sizeof(uint32_t));
    if (!t->mblob || !t->m_off || !t->m_len)
        return ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
    uint32_t pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *s = kv->strs[i].ptr;
        size_t len = kv->strs[i].len;
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        t->m_off[i] = pos;
        t->m_len[i] = 0;
        if (!sp) continue; /* no "A B" split: can never match (llama.cpp keys it as ("","")) */
        uint32_t la = (uint32_t)(sp - s), lb = (uint32_t)(len - la - 1);
        memcpy(t->mblob + pos, &la, 4);
        memcpy(t->mblob + pos + 4, s, la);
        memcpy(t->mblob + pos + 4 + la, sp + 1, lb);
        t->m_len[i] = 4 + la + lb;
        pos += t->m_len[i];
    }
    t->n_merges = n;
    if (ol_tok_strmap_init(&t->merges, n, t->mblob, t->m_off, t->m_len))
        return ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
    for (uint32_t i = 0; i < n; i++)
        if (t->m_len[i]) ol_tok_strmap_insert(&t->merges, i); /* duplicates: first rank wins */
    return 0;
}

typedef struct sym {
    int prev, next;
    uint32_t start, n;
} sym;

typedef struct bigram {
    int32_t rank;
    int left, right;
    uint32_t size;
} bigram;

typedef struct work {
    sym *syms;
    size_t cap_syms;
    bigram *heap;
    size_t n_heap, cap_heap;
    char *key;
    size_t cap_key;
    char *word;
    size_t cap_word;
} work;

static bool before(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return OL_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int heap_push(work *w, bigram b) {
    if (grow((void **)&w->heap, &w->cap_heap, w->n_heap + 1, sizeof(bigram))) return OL_ENOMEM;
    size_t i = w->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&b, &w->heap[p])) break;
        w->heap[i] = w->heap[p];
        i = p;
    }
    w->heap[i] = b;
    return 0;
}

static bigram heap_pop(work *w) {
    bigram top = w->heap[0], last = w->heap[--w->n_heap];
    size_t i = 0, n = w->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

static int try_pair(const ol_tokenizer *t, work *w, int l, int r) {
    if (l < 0 || r < 0) return 0;
    const sym *a = &w->syms[l], *b = &w->syms[r];
    uint32_t la = a->n;
    if (grow((void **)&w->key, &w->cap_key, 4 + (size_t)a->n + b->n, 1)) return OL_ENOMEM;
    memcpy(w->key, &la, 4);
    memcpy(w->key + 4, w->word + a->start, a->n);
    memcpy(w->key + 4 + a->n, w->word + b->start, b->n);
    int64_t rank = ol_tok_strmap_find(&t->merges, w->key, 4 + (size_t)a->n + b->n);
    if (rank < 0) return 0;
    return heap_push(w,
                     (bigram){.rank = (int32_t)rank, .left = l, .right = r, .size = a->n + b->n});
}

/* BPE over one mapped word w->word[0, len). */
static int encode_word(const ol_tokenizer *t, work *w, size_t len, ol_tok_ids *out) {
    const char *word = w->word;
    if (t->ignore_merges) {
        int32_t id = ol_tok_lookup(t, word, len);
        if (id >= 0) return ol_tok_ids_push(out, id);
    }
    if (grow((void **)&w->syms, &w->cap_syms, len, sizeof(sym))) return OL_ENOMEM;
    int n = 0, rc = 0;
    for (size_t off = 0; off < len; n++) {
        size_t cl = ol_tok_utf8_len((uint8_t)word[off]);
        if (cl > len - off) cl = len - off;
        w->syms[n] = (sym){.prev = n - 1,
                           .next = off + cl == len ? -1 : n + 1,
                           .start = (uint32_t)off,
                           .n = (uint32_t)cl};
        off += cl;
    }
    w->n_heap = 0;
    for (int i = 1; i < n && !rc; i++) rc = try_pair(t, w, i - 1, i);
    while (w->n_heap && !rc) {
        bigram b = heap_pop(w);
        sym *l = &w->syms[b.left], *r = &w->syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->syms[r->next].prev = b.left;
        rc = try_pair(t, w, l->prev, b.left);
        if (!rc) rc = try_pair(t, w, b.left, l->next);
    }
    for (int i = 0; i >= 0 && !rc && n > 0; i = w->syms[i].next) {
        const sym *s = &w->syms[i];
        int32_t id = ol_tok_lookup(t, word + s->start, s->n);
        if (id >= 0) {
            rc = ol_tok_ids_push(out, id);
            continue;
        }
        for (uint32_t k = 0; k < s->n && !rc; k++) { /* single (mapped) bytes; misses dropped */
            id = ol_tok_lookup(t, word + s->start + k, 1);
            if (id >= 0) rc = ol_tok_ids_push(out, id);
        }
    }
    return rc;
}

int ol_tok_bpe_encode(const ol_tokenizer *t, const char *text, size_t len, ol_tok_ids *out,
                      ol_err *err) {
    if (len == 0) return 0;
    if (len > INT32_MAX / 8) return ol_err_set(err, OL_ERANGE, "tokenizer: text too long");
    char *clean = NULL, *subject = NULL;
    size_t n_clean = 0, *pieces = NULL, n_pieces = 0;
    work w = {0};
    uint16_t map[256];
    byte_map(map);
    int rc = ol_tok_utf8_sanitize(text, len, &clean, &subject, &n_clean);
    if (rc) goto done;
    rc = ol_tok_pretok_split(t, subject, n_clean, &pieces, &n_pieces, err);
    if (rc) goto done;
    for (size_t p = 0; p < n_pieces && !rc; p++) {
        size_t start = pieces[2 * p], plen = pieces[2 * p + 1];
        if (grow((void **)&w.word, &w.cap_word, 2 * plen + 1, 1)) {
            rc = OL_ENOMEM;
            break;
        }
        size_t wl = 0;
        for (size_t k = 0; k < plen; k++)
            wl += ol_tok_utf8_encode(map[(uint8_t)clean[start + k]], w.word + wl);
        rc = encode_word(t, &w, wl, out);
    }
done:
    if (rc == OL_ENOMEM) ol_err_set(err, rc, "tokenizer: out of memory");
    free(w.syms);
    free(w.heap);
    free(w.key);
    free(w.word);
    free(pieces);
    free(clean);
    free(subject);
    return rc;
}
