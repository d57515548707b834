/* tokenizer/strmap: open-addressing hash table from byte strings to indices, used for the
 * vocabulary (text -> id, 262144 entries for Gemma 3) and for BPE merges (pair -> rank).
 * Keys stay in the caller's blob; a slot holds a 32-bit hash and the index. */
#include "tokenizer/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

static uint32_t key_hash(const char *s, size_t n) {
    uint64_t h = ol_hash_fnv1a(s, n, 0);
    return (uint32_t)(h ^ (h >> 32));
}

int ol_tok_strmap_init(ol_tok_strmap *m, size_t n_keys, const char *blob, const uint32_t *off,
                       const uint32_t *len) {
    memset(m, 0, sizeof(*m));
    size_t cap = 16;
    while (cap < n_keys * 2) {
        if (cap > SIZE_MAX / 4) return OL_ENOMEM;
        cap *= 2;
    }
    m->slots = calloc(cap, sizeof(uint64_t));
    if (!m->slots) return OL_ENOMEM;
    m->mask = cap - 1;
    m->blob = blob;
    m->off = off;
    m->len = len;
    return 0;
}

void ol_tok_strmap_deinit(ol_tok_strmap *m) {
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static bool key_eq(const ol_tok_strmap *m, uint32_t i, const char *s, size_t n) {
    return m->len[i] == n && memcmp(m->blob + m->off[i], s, n) == 0;
}

int64_t ol_tok_strmap_insert(ol_tok_strmap *m, uint32_t i) {
    const char *s = m->blob + m->off[i];
    size_t n = m->len[i];
    uint32_t h = key_hash(s, n);
    for (size_t p = h & m->mask;; p = (p + 1) & m->mask) {
        uint64_t slot = m->slots[p];
        if (!slot) {
            m->slots[p] = ((uint64_t)h << 32) | ((uint64_t)i + 1);
            return -1;
        }
        uint32_t j = (uint32_t)slot - 1;
        if ((uint32_t)(slot >> 32) == h && key_eq(m, j, s, n)) return j;
    }
}

int64_t ol_tok_strmap_find(const ol_tok_strmap *m, const char *s, size_t n) {
    if (!m->slots) return -1;
    uint32_t h = key_hash(s, n);
    for (size_t p = h & m->mask;; p = (p + 1) & m->mask) {
        uint64_t slot = m->slots[p];
        if (!slot) return -1;
        uint32_t j = (uint32_t)slot - 1;
        if ((uint32_t)(slot >> 32) == h && key_eq(m, j, s, n)) return j;
    }
}

int ol_tok_ids_push(ol_tok_ids *ids, int32_t id) {
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? ids->cap * 2 : 64;
        int32_t *v = realloc(ids->v, cap * sizeof(int32_t));
        if (!v) return OL_ENOMEM;
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
    return 0;
}
