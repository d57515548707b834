/* tokenizer/spm: SentencePiece-style BPE by scores ("llama" vocabularies: Gemma, Llama 2).
 * Symbols start as UTF-8 characters; the adjacent pair whose concatenation is the vocabulary
 * entry with the highest score merges first (ties: leftmost), via a binary heap with lazy
 * invalidation. Unmergeable characters fall back to <0xXX> byte tokens (FORMATS.md §4). */
#include "tokenizer/tokenizer_internal.h"

#include <stdlib.h>

typedef struct sym {
    int prev, next;    /* -1 at the ends */
    uint32_t start, n; /* byte range in the fragment; n = 0 once merged into its left */
} sym;

typedef struct bigram {
    float score;
    int left, right;
    uint32_t size;
} bigram;

typedef struct heap {
    bigram *v;
    size_t n, cap;
} heap;

/* a pops before b: higher score, then smaller left index. */
static bool before(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(heap *h, bigram b) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        bigram *v = realloc(h->v, cap * sizeof(bigram));
        if (!v) return OL_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&b, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = b;
    return 0;
}

static bigram heap_pop(heap *h) {
    bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

static int try_pair(const ol_tokenizer *t, const char *text, const sym *syms, int l, int r,
                    heap *h) {
    if (l < 0 || r < 0) return 0;
    uint32_t size = syms[l].n + syms[r].n;
    int32_t id = ol_tok_lookup(t, text + syms[l].start, size);
    if (id < 0) return 0;
    return heap_push(h, (bigram){.score = t->scores[id], .left = l, .right = r, .size = size});
}

static int emit_symbol(const ol_tokenizer *t, const char *text, const sym *s, ol_tok_ids *out,
                       ol_err *err) {
    int32_t id = ol_tok_lookup(t, text + s->start, s->n);
    if (id >= 0) return ol_tok_ids_push(out, id);
    /* Merged symbols are vocabulary entries by construction, so only a single character can
     * miss: fall back per byte. */
    for (uint32_t k = 0; k < s->n; k++) {
        uint8_t b = (uint8_t)text[s->start + k];
        if (t->byte_tok[b] < 0)
            return ol_err_set(err, OL_EFORMAT,
                              "tokenizer: byte 0x%02X has no <0x%02X> or 1-byte token", b, b);
        int rc = ol_tok_ids_push(out, t->byte_tok[b]);
        if (rc) return rc;
    }
    return 0;
}

int ol_tok_spm_encode(const ol_tokenizer *t, const char *text, size_t len, ol_tok_ids *out,
                      ol_err *err) {
    if (len == 0) return 0;
    if (len > INT32_MAX / 2) return ol_err_set(err, OL_ERANGE, "tokenizer: text too long");
    int rc = 0;
    heap h = {0};
    sym *syms = malloc(len * sizeof(sym));
    if (!syms) return ol_err_set(err, OL_ENOMEM, "tokenizer: out of memory");
    int n = 0;
    for (size_t off = 0; off < len; n++) {
        size_t cl = ol_tok_utf8_len((uint8_t)text[off]);
        if (cl > len - off) cl = len - off;
        syms[n] = (sym){.prev = n - 1,
                        .next = off + cl == len ? -1 : n + 1,
                        .start = (uint32_t)off,
                        .n = (uint32_t)cl};
        off += cl;
    }
    for (int i = 1; i < n && !rc; i++) rc = try_pair(t, text, syms, i - 1, i, &h);
    while (h.n && !rc) {
        bigram b = heap_pop(&h);
        sym *l = &syms[b.left], *r = &syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) syms[r->next].prev = b.left;
        rc = try_pair(t, text, syms, l->prev, b.left, &h);
        if (!rc) rc = try_pair(t, text, syms, b.left, l->next, &h);
    }
    for (int i = 0; i >= 0 && !rc && n > 0; i = syms[i].next)
        rc = emit_symbol(t, text, &syms[i], out, err);
    if (rc == OL_ENOMEM) ol_err_set(err, rc, "tokenizer: out of memory");
    free(h.v);
    free(syms);
    return rc;
}
