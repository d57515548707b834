/* kv/prefix.c: the prefix cache. Cached full blocks form a tree of entries (key, parent entry,
 * block_size tokens, block id) found through a chained hash table and verified exactly. The
 * evictable entries (leaves that only the cache references) sit in a min-heap on last use, kept
 * exact by the pool's reference-count hook; every operation is O(1) or O(log n) per block. All
 * memory is allocated at create, bounded by max_blocks. */
#include "kv_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint64_t key;
    uint64_t hash;  /* of (key, parent, tokens), masked by hash_mask */
    uint64_t stamp; /* last use: tick of the last match, insert or release by a holder */
    int32_t parent; /* entry id of the previous block's entry, -1 for the first block */
    int32_t block;  /* pool block id; -1 when the slot is free */
    int32_t next;   /* next entry in the same bucket, or next free slot */
    int32_t n_children;
    int32_t heap_pos; /* index in the evictable heap, -1 when not evictable */
    int32_t idle;     /* only the cache references the block (counted in n_idle) */
} entry;

struct ol_kv_prefix {
    ol_kv_pool *pool; /* borrowed */
    int block_size;
    int max_entries;
    entry *entries;          /* [max_entries] */
    int32_t *tokens;         /* [max_entries][block_size]: the tokens of each entry's block */
    int32_t *buckets;        /* [bucket_mask + 1] first entry id of each chain, -1 if empty */
    uint64_t bucket_mask;    /* bucket count - 1 (a power of two >= max_entries) */
    int32_t *entry_of_block; /* [pool n_blocks] the entry caching each block, -1 if none */
    int32_t *heap;           /* [max_entries] evictable entry ids, min-heap on stamp */
    int heap_n;
    int n_entries;
    int n_idle;        /* entries whose block only the cache references (leaves or not) */
    int32_t free_slot; /* head of the free slot list, -1 when full */
    uint64_t tick;
    uint64_t hash_mask; /* ~0 except in collision tests */
    ol_kv_prefix_stats st;
};

/* ---- hashing ----------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) { /* splitmix64 finalizer */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t hash_block(const ol_kv_prefix *pc, uint64_t key, int32_t parent,
                           const int32_t *tk) {
    uint64_t h = mix64(key ^ mix64((uint64_t)(uint32_t)parent + 0x9e3779b97f4a7c15ull));
    for (int i = 0; i < pc->block_size; i++) {
        h = (h ^ (uint32_t)tk[i]) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    return mix64(h) & pc->hash_mask;
}

static const int32_t *entry_tokens(const ol_kv_prefix *pc, int32_t e) {
    return pc->tokens + (size_t)e * (size_t)pc->block_size;
}

/* The entry for exactly (key, parent, tokens), or -1. */
static int32_t find(const ol_kv_prefix *pc, uint64_t h, uint64_t key, int32_t parent,
                    const int32_t *tk) {
    size_t tk_bytes = (size_t)pc->block_size * sizeof(int32_t);
    for (int32_t e = pc->buckets[h & pc->bucket_mask]; e >= 0; e = pc->entries[e].next) {
        const entry *E = &pc->entries[e];
        if (E->hash == h && E->key == key && E->parent == parent &&
            !memcmp(entry_tokens(pc, e), tk, tk_bytes))
            return e;
    }
    return -1;
}

/* ---- evictable heap (min on stamp) ------------------------------------------------------- */

static void heap_set(ol_kv_prefix *pc, int i, int32_t e) {
    pc->heap[i] = e;
    pc->entries[e].heap_pos = i;
}

static int heap_less(const ol_kv_prefix *pc, int i, int j) {
    return pc->entries[pc->heap[i]].stamp < pc->entries[pc->heap[j]].stamp;
}

static void heap_swap(ol_kv_prefix *pc, int i, int j) {
    int32_t a = pc->heap[i], b = pc->heap[j];
    heap_set(pc, i, b);
    heap_set(pc, j, a);
}

static void heap_sift(ol_kv_prefix *pc, int i) {
    while (i > 0 && heap_less(pc, i, (i - 1) / 2)) {
        heap_swap(pc, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < pc->heap_n && heap_less(pc, l, m)) m = l;
        if (r < pc->heap_n && heap_less(pc, r, m)) m = r;
        if (m == i) return;
        heap_swap(pc, i, m);
        i = m;
    }
}

static void heap_remove(ol_kv_prefix *pc, int32_t e) {
    int i = pc->entries[e].heap_pos;
    pc->entries[e].heap_pos = -1;
    int32_t last = pc->heap[--pc->heap_n];
    if (i == pc->heap_n) return;
    heap_set(pc, i, last);
    heap_sift(pc, i);
}

/* Put e in or out of the heap by its state: evictable = a leaf only the cache references. Also
 * restores the heap order after e's stamp changed. */
static void settle(ol_kv_prefix *pc, int32_t e) {
    entry *E = &pc->entries[e];
    int idle = pc->pool->refs[E->block] == 1;
    pc->n_idle += idle - E->idle;
    E->idle = idle;
    int evictable = E->n_children == 0 && idle;
    if (evictable && E->heap_pos < 0) {
        OL_ASSERT(pc->heap_n < pc->max_entries);
        heap_set(pc, pc->heap_n++, e);
        heap_sift(pc, E->heap_pos);
    } else if (!evictable && E->heap_pos >= 0) {
        heap_remove(pc, e);
    } else if (E->heap_pos >= 0) {
        heap_sift(pc, E->heap_pos);
    }
}

static void touch(ol_kv_prefix *pc, int32_t e) {
    pc->entries[e].stamp = ++pc->tick;
    if (pc->entries[e].heap_pos >= 0) heap_sift(pc, pc->entries[e].heap_pos);
}

void ol_kv_prefix_on_refs(ol_kv_prefix *pc, int32_t block, int released) {
    int32_t e = pc->entry_of_block[block];
    if (e < 0) return;
    OL_ASSERT(pc->pool->refs[block] >= 1);           /* the cache's own reference is still there */
    if (released) pc->entries[e].stamp = ++pc->tick; /* in use until now */
    settle(pc, e);
}

/* ---- entries ----------------------------------------------------------------------------- */

static int32_t entry_add(ol_kv_prefix *pc, uint64_t h, uint64_t key, int32_t parent,
                         const int32_t *tk, int32_t block) {
    int32_t e = pc->free_slot;
    OL_ASSERT(e >= 0);
    entry *E = &pc->entries[e];
    pc->free_slot = E->next;
    ol_kv_block_retain(pc->pool, block); /* before entry_of_block is set: no hook */
    *E = (entry){.key = key,
                 .hash = h,
                 .stamp = ++pc->tick,
                 .parent = parent,
                 .block = block,
                 .heap_pos = -1};
    memcpy(pc->tokens + (size_t)e * (size_t)pc->block_size, tk,
           (size_t)pc->block_size * sizeof(int32_t));
    uint64_t b = h & pc->bucket_mask;
    E->next = pc->buckets[b];
    pc->buckets[b] = e;
    pc->entry_of_block[block] = e;
    if (parent >= 0) {
        pc->entries[parent].n_children++;
        settle(pc, parent); /* no longer a leaf */
    }
    settle(pc, e);
    pc->n_entries++;
    pc->st.inserted++;
    return e;
}

/* Unlink a leaf entry and drop the cache's reference on its block. */
static void entry_drop(ol_kv_prefix *pc, int32_t e) {
    entry *E = &pc->entries[e];
    OL_ASSERT(E->n_children == 0);
    if (E->heap_pos >= 0) heap_remove(pc, e);
    pc->n_idle -= E->idle;
    int32_t *link = &pc->buckets[E->hash & pc->bucket_mask];
    while (*link != e) link = &pc->entries[*link].next;
    *link = E->next;
    if (E->parent >= 0) {
        pc->entries[E->parent].n_children--;
        settle(pc, E->parent); /* may have become an evictable leaf */
    }
    int32_t block = E->block;
    pc->entry_of_block[block] = -1; /* before the release: no hook */
    E->block = -1;
    E->next = pc->free_slot;
    pc->free_slot = e;
    pc->n_entries--;
    ol_kv_block_release(pc->pool, block);
}

/* Evict the least recently used evictable leaf; 0 when there is none. */
static int evict_one(ol_kv_prefix *pc) {
    if (pc->heap_n == 0) return 0;
    entry_drop(pc, pc->heap[0]);
    pc->st.evicted++;
    return 1;
}

/* Free one entry slot by evicting, never evicting keep (the parent about to get a child). */
static int make_room(ol_kv_prefix *pc, int32_t keep) {
    int kept = keep >= 0 && pc->entries[keep].heap_pos >= 0;
    if (kept) heap_remove(pc, keep);
    int ok = evict_one(pc);
    if (kept) settle(pc, keep);
    return ok;
}

/* ---- public ------------------------------------------------------------------------------ */

ol_kv_prefix *ol_kv_prefix_create(ol_kv_pool *pool, int max_blocks, ol_err *err) {
    if (max_blocks < 0) {
        ol_err_set(err, OL_EINVAL, "kv: prefix cache max_blocks %d is negative", max_blocks);
        return NULL;
    }
    if (pool->prefix) {
        ol_err_set(err, OL_EINVAL, "kv: the pool already has a prefix cache");
        return NULL;
    }
    /* each entry holds a distinct block, so more entries than blocks is never needed */
    int n = max_blocks == 0 || max_blocks > pool->n_blocks ? pool->n_blocks : max_blocks;
    uint64_t n_buckets = 16;
    while (n_buckets < (uint64_t)n) n_buckets *= 2;
    ol_kv_prefix *pc = calloc(1, sizeof(*pc));
    if (!pc) goto nomem;
    pc->pool = pool;
    pc->block_size = pool->cfg.block_size;
    pc->max_entries = n;
    pc->bucket_mask = n_buckets - 1;
    pc->hash_mask = ~0ull;
    pc->entries = malloc((size_t)n * sizeof(entry));
    pc->tokens = malloc((size_t)n * (size_t)pc->block_size * sizeof(int32_t));
    pc->buckets = malloc(n_buckets * sizeof(int32_t));
    pc->entry_of_block = malloc((size_t)pool->n_blocks * sizeof(int32_t));
    pc->heap = malloc((size_t)n * sizeof(int32_t));
    if (!pc->entries || !pc->tokens || !pc->buckets || !pc->entry_of_block || !pc->heap) goto nomem;
    for (int b = 0; b < pool->n_blocks; b++) pc->entry_of_block[b] = -1;
    for (int e = 0; e < n; e++) pc->entries[e].block = -1;
    ol_kv_prefix_clear(pc);
    pool->prefix = pc;
    return pc;
nomem:
    if (pc) pc->pool = NULL; /* not attached yet: destroy must not detach or clear */
    ol_kv_prefix_destroy(pc);
    ol_err_set(err, OL_ENOMEM, "kv: cannot allocate a prefix cache of %d blocks", n);
    return NULL;
}

void ol_kv_prefix_destroy(ol_kv_prefix *pc) {
    if (!pc) return;
    if (pc->pool) {
        ol_kv_prefix_clear(pc);
        pc->pool->prefix = NULL;
    }
    free(pc->entries);
    free(pc->tokens);
    free(pc->buckets);
    free(pc->entry_of_block);
    free(pc->heap);
    free(pc);
}

void ol_kv_prefix_clear(ol_kv_prefix *pc) {
    for (int32_t e = 0; e < pc->max_entries; e++) {
        int32_t block = pc->entries[e].block;
        if (block < 0) continue;
        pc->entry_of_block[block] = -1; /* before the release: no hook */
        pc->entries[e].block = -1;
        ol_kv_block_release(pc->pool, block);
    }
    for (uint64_t b = 0; b <= pc->bucket_mask; b++) pc->buckets[b] = -1;
    for (int32_t e = 0; e < pc->max_entries; e++) {
        pc->entries[e].next = e + 1 < pc->max_entries ? e + 1 : -1;
        pc->entries[e].heap_pos = -1;
    }
    pc->free_slot = 0;
    pc->n_entries = 0;
    pc->n_idle = 0;
    pc->heap_n = 0;
}

int ol_kv_prefix_match(ol_kv_prefix *pc, uint64_t key, const int32_t *tokens, int n,
                       ol_kv_seq *seq) {
    OL_ASSERT(seq->n_blocks == 0);
    int bs = pc->block_size;
    int n_max = n > 0 ? (n - 1) / bs : 0; /* the last token always stays uncached */
    int32_t parent = -1;
    int i = 0;
    for (; i < n_max; i++) {
        const int32_t *tk = tokens + (size_t)i * (size_t)bs;
        int32_t e = find(pc, hash_block(pc, key, parent, tk), key, parent, tk);
        if (e < 0 || ol_kv_seq_push_block(seq, pc->pool, pc->entries[e].block)) break;
        touch(pc, e);
        parent = e;
    }
    seq->n_tokens = i * bs;
    pc->st.lookups++;
    pc->st.hits += i > 0;
    pc->st.tokens_looked_up += n > 0 ? n : 0;
    pc->st.tokens_hit += seq->n_tokens;
    return seq->n_tokens;
}

void ol_kv_prefix_insert(ol_kv_prefix *pc, uint64_t key, const int32_t *tokens, int n,
                         const ol_kv_seq *seq) {
    OL_ASSERT(n <= seq->n_tokens);
    int bs = pc->block_size;
    int n_full = n > 0 ? n / bs : 0;
    OL_ASSERT(n_full <= seq->n_blocks);
    int32_t parent = -1;
    for (int i = 0; i < n_full; i++) {
        const int32_t *tk = tokens + (size_t)i * (size_t)bs;
        uint64_t h = hash_block(pc, key, parent, tk);
        int32_t e = find(pc, h, key, parent, tk);
        if (e >= 0) { /* same block: refresh; another block: keep it, ours stays private */
            touch(pc, e);
            parent = e;
            continue;
        }
        int32_t block = seq->blocks[i];
        /* already cached under another prefix (inserted under a second key): the tree can hold
         * a block once, so the rest of this sequence stays private */
        if (pc->entry_of_block[block] >= 0) return;
        if (pc->n_entries == pc->max_entries && !make_room(pc, parent)) return;
        parent = entry_add(pc, h, key, parent, tk, block);
    }
}

int ol_kv_prefix_evict(ol_kv_prefix *pc, int n_free_wanted) {
    int n = 0;
    while (pc->pool->n_free < n_free_wanted && evict_one(pc)) n++;
    return n;
}

void ol_kv_prefix_stats_get(const ol_kv_prefix *pc, ol_kv_prefix_stats *s) {
    *s = pc->st;
    s->n_blocks = pc->n_entries;
    s->n_evictable = pc->n_idle;
}

void ol_kv_prefix_set_hash_mask(ol_kv_prefix *pc, uint64_t mask) {
    OL_ASSERT(pc->n_entries == 0);
    pc->hash_mask = mask;
}
