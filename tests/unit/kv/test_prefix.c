/* tests/unit/kv/test_prefix.c: the prefix cache. Sharing and key isolation, never covering the
 * last token, eviction order (leaves first, LRU, never a block a live sequence holds), the
 * max_blocks bound, stats, and a long random run with forced hash collisions checked against a
 * reference model and against a signature written into every block's K row. */
#include "kv/kv_internal.h"
#include "test.h"

#include <stdint.h>

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t rnd(void) { /* xorshift64 */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* The "K/V" a block would hold: a hash of the key and all tokens up to the block's end. */
static uint64_t sig(uint64_t key, const int32_t *tokens, int n) {
    uint64_t h = 1469598103934665603ull ^ key;
    for (int i = 0; i < n; i++) h = (h ^ (uint32_t)tokens[i]) * 1099511628211ull;
    return h;
}
static uint64_t block_sig(ol_kv_pool *p, int32_t block) {
    uint64_t v;
    memcpy(&v, ol_kv_row(p, block, 0, 0, 0), sizeof(v));
    return v;
}

/* Match, then "compute" the rest: reserve blocks for n positions and write the signature of each
 * block not taken from the cache. Returns the matched token count. */
static int run_seq(ol_kv_prefix *pc, ol_kv_pool *p, uint64_t key, const int32_t *tk, int n,
                   ol_kv_seq *s) {
    int bs = ol_kv_pool_config(p)->block_size;
    ol_kv_seq_init(s);
    int hit = ol_kv_prefix_match(pc, key, tk, n, s);
    int n_hit_blocks = s->n_blocks;
    if (ol_kv_seq_reserve(p, s, n)) return -1;
    for (int j = n_hit_blocks; j < s->n_blocks; j++) {
        int end = (j + 1) * bs < n ? (j + 1) * bs : n;
        uint64_t v = sig(key, tk, end);
        memcpy(ol_kv_row(p, s->blocks[j], 0, 0, 0), &v, sizeof(v));
    }
    s->n_tokens = n;
    return hit;
}

static ol_kv_pool *make_pool(int block_size, int n_blocks) {
    ol_err err;
    ol_kv_config cfg = {.n_layer = 2, .kv_dim = 2, .block_size = block_size, .dtype = OL_DTYPE_F32};
    cfg.budget_bytes = ol_kv_block_bytes(&cfg) * (size_t)n_blocks;
    ol_kv_pool *p = ol_kv_pool_create(&cfg, &err);
    OL_ASSERT(p && ol_kv_pool_n_blocks(p) == n_blocks);
    return p;
}

/* (1) sharing, key isolation, divergence; (2) the last token; (6) stats */
static void test_share(void) {
    ol_kv_pool *p = make_pool(4, 16);
    ol_err err;
    ol_kv_prefix *pc = ol_kv_prefix_create(p, 0, &err);
    CHECK(pc != NULL);
    CHECK(ol_kv_prefix_create(p, 0, &err) == NULL); /* one cache per pool */
    CHECK(ol_kv_prefix_create(p, -1, &err) == NULL);
    int32_t t[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    ol_kv_seq a, b, c;
    CHECK_EQ_INT(run_seq(pc, p, 7, t, 10, &a), 0);
    CHECK_EQ_INT(a.n_blocks, 3);
    int32_t ab[3] = {a.blocks[0], a.blocks[1], a.blocks[2]};
    ol_kv_prefix_insert(pc, 7, t, 10, &a);
    CHECK_EQ_INT(ol_kv_block_refs(p, ab[0]), 2);
    CHECK_EQ_INT(ol_kv_block_refs(p, ab[1]), 2);
    CHECK_EQ_INT(ol_kv_block_refs(p, ab[2]), 1); /* partial block: not cached */
    ol_kv_prefix_insert(pc, 7, t, 10, &a);       /* again: refreshed, no new reference */
    CHECK_EQ_INT(ol_kv_block_refs(p, ab[0]), 2);
    ol_kv_prefix_insert(pc, 8, t, 10, &a); /* under a second key: blocks are cached once */
    CHECK_EQ_INT(ol_kv_block_refs(p, ab[0]), 2);
    ol_kv_prefix_stats st;
    ol_kv_prefix_stats_get(pc, &st);
    CHECK_EQ_INT(st.n_blocks, 2);
    CHECK_EQ_INT(st.n_evictable, 0);
    CHECK_EQ_INT(st.inserted, 2);
    ol_kv_seq_release(p, &a);
    CHECK_EQ_INT(ol_kv_block_refs(p, ab[0]), 1);
    CHECK_EQ_INT(ol_kv_block_refs(p, ab[2]), 0);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 14);
    ol_kv_prefix_stats_get(pc, &st);
    CHECK_EQ_INT(st.n_evictable, 2); /* only the cache references them */

    /* same key, same tokens: both full blocks, same memory and contents */
    ol_kv_seq_init(&b);
    CHECK_EQ_INT(ol_kv_prefix_match(pc, 7, t, 10, &b), 8);
    CHECK_EQ_INT(b.n_tokens, 8);
    CHECK_EQ_INT(b.n_blocks, 2);
    for (int j = 0; j < 2 && j < b.n_blocks; j++) {
        CHECK_EQ_INT(b.blocks[j], ab[j]);
        CHECK_EQ_INT(ol_kv_block_refs(p, b.blocks[j]), 2);
        CHECK(ol_kv_row(p, b.blocks[j], 1, 1, 3) == ol_kv_row(p, ab[j], 1, 1, 3));
        CHECK(block_sig(p, b.blocks[j]) == sig(7, t, 4 * (j + 1)));
    }
    ol_kv_prefix_stats_get(pc, &st);
    CHECK_EQ_INT(st.n_evictable, 0);
    ol_kv_seq_release(p, &b);

    /* another key: nothing */
    ol_kv_seq_init(&c);
    CHECK_EQ_INT(ol_kv_prefix_match(pc, 8, t, 10, &c), 0);
    CHECK_EQ_INT(c.n_blocks, 0);
    CHECK_EQ_INT(c.n_tokens, 0);
    /* a different token in block 2: exactly one block */
    int32_t u[10] = {1, 2, 3, 4, 5, 6, 99, 8, 9, 10};
    CHECK_EQ_INT(ol_kv_prefix_match(pc, 7, u, 10, &c), 4);
    CHECK_EQ_INT(c.n_blocks, 1);
    CHECK_EQ_INT(c.blocks[0], ab[0]);
    ol_kv_seq_release(p, &c);
    /* never the last token: 8 tokens = 2 full blocks -> 1; 9 -> 2; <= 4 -> 0 */
    int want[10] = {0, 0, 0, 0, 0, 4, 4, 4, 4, 8};
    for (int n = 0; n <= 9; n++) {
        ol_kv_seq_init(&c);
        CHECK_EQ_INT(ol_kv_prefix_match(pc, 7, t, n, &c), want[n]);
        CHECK_EQ_INT(c.n_blocks * 4, want[n]);
        ol_kv_seq_release(p, &c);
    }
    ol_kv_prefix_stats_get(pc, &st);
    CHECK_EQ_INT(st.lookups, 14);
    CHECK_EQ_INT(st.hits, 7); /* b, u, n = 5..9 */
    CHECK_EQ_INT(st.tokens_looked_up, 10 + 10 + 10 + 10 + 45);
    CHECK_EQ_INT(st.tokens_hit, 8 + 4 + 4 * 4 + 8);
    CHECK_EQ_INT(st.inserted, 2);
    CHECK_EQ_INT(st.evicted, 0);
    CHECK_EQ_INT(st.n_blocks, 2);
    CHECK_EQ_INT(st.n_evictable, 2);

    /* clear drops every reference; destroy too */
    ol_kv_prefix_clear(pc);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 16);
    CHECK_EQ_INT(run_seq(pc, p, 7, t, 10, &a), 0);
    ol_kv_prefix_insert(pc, 7, t, 9, &a);
    ol_kv_seq_release(p, &a);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 14);
    ol_kv_prefix_destroy(pc);
    ol_kv_prefix_destroy(NULL);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 16);
    ol_kv_pool_destroy(p);
}

/* (3) eviction: leaves before parents, least recently used first, never a live block */
static void test_evict(void) {
    ol_kv_pool *p = make_pool(4, 16);
    ol_err err;
    ol_kv_prefix *pc = ol_kv_prefix_create(p, 0, &err);
    int32_t x[13] = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 0};
    int32_t y[13] = {1, 1, 1, 1, 5, 5, 5, 5, 6, 6, 6, 6, 0};
    int32_t z[9] = {9, 9, 9, 9, 8, 8, 8, 8, 0};
    ol_kv_seq sx, sy, sz;
    CHECK_EQ_INT(run_seq(pc, p, 1, x, 13, &sx), 0);
    ol_kv_prefix_insert(pc, 1, x, 12, &sx);
    CHECK_EQ_INT(run_seq(pc, p, 1, y, 13, &sy), 4); /* shares x's first block */
    ol_kv_prefix_insert(pc, 1, y, 12, &sy);
    CHECK_EQ_INT(run_seq(pc, p, 1, z, 9, &sz), 0);
    ol_kv_prefix_insert(pc, 1, z, 8, &sz);
    int32_t x0 = sx.blocks[0], x1 = sx.blocks[1], x2 = sx.blocks[2];
    int32_t y1 = sy.blocks[1], y2 = sy.blocks[2], z0 = sz.blocks[0], z1 = sz.blocks[1];
    CHECK_EQ_INT(sy.blocks[0], x0);
    ol_kv_prefix_stats st;
    ol_kv_prefix_stats_get(pc, &st);
    CHECK_EQ_INT(st.n_blocks, 7);
    CHECK_EQ_INT(ol_kv_prefix_evict(pc, 16), 0); /* everything is held */
    ol_kv_seq_release(p, &sx);                   /* x used before y */
    ol_kv_seq_release(p, &sy);
    /* free now: 16 - 7 cached - sz's partial block = 8 */
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 8);
    ol_kv_prefix_stats_get(pc, &st);
    CHECK_EQ_INT(st.n_evictable, 5); /* x0, x1, x2, y1, y2; z is live */
    int32_t order[5] = {x2, x1, y2, y1, x0};
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(ol_kv_prefix_evict(pc, 9 + i), 1);
        CHECK_EQ_INT(ol_kv_block_refs(p, order[i]), 0);
        for (int j = i + 1; j < 5; j++) CHECK_EQ_INT(ol_kv_block_refs(p, order[j]), 1);
    }
    CHECK_EQ_INT(ol_kv_prefix_evict(pc, 16), 0); /* z is still live */
    CHECK_EQ_INT(ol_kv_block_refs(p, z0), 2);
    CHECK_EQ_INT(ol_kv_block_refs(p, z1), 2);
    ol_kv_prefix_evict(pc, 13); /* already 13 free: nothing to do */
    CHECK_EQ_INT(ol_kv_block_refs(p, z1), 2);
    ol_kv_seq_release(p, &sz);
    CHECK_EQ_INT(ol_kv_prefix_evict(pc, 15), 1);
    CHECK_EQ_INT(ol_kv_block_refs(p, z1), 0); /* leaf first */
    CHECK_EQ_INT(ol_kv_block_refs(p, z0), 1);
    ol_kv_prefix_stats_get(pc, &st);
    CHECK_EQ_INT(st.evicted, 6);
    CHECK_EQ_INT(st.n_blocks, 1);

    /* a match refreshes: p1 inserted before p2, then matched, so p2 goes first */
    ol_kv_prefix_clear(pc);
    int32_t p1[5] = {1, 2, 3, 4, 0}, p2[5] = {4, 3, 2, 1, 0};
    ol_kv_seq s1, s2, s3;
    run_seq(pc, p, 3, p1, 5, &s1);
    ol_kv_prefix_insert(pc, 3, p1, 5, &s1);
    int32_t b1 = s1.blocks[0];
    ol_kv_seq_release(p, &s1);
    run_seq(pc, p, 3, p2, 5, &s2);
    ol_kv_prefix_insert(pc, 3, p2, 5, &s2);
    int32_t b2 = s2.blocks[0];
    ol_kv_seq_release(p, &s2);
    CHECK_EQ_INT(run_seq(pc, p, 3, p1, 5, &s3), 4);
    ol_kv_seq_release(p, &s3);
    CHECK_EQ_INT(ol_kv_prefix_evict(pc, ol_kv_pool_n_free(p) + 1), 1);
    CHECK_EQ_INT(ol_kv_block_refs(p, b2), 0);
    CHECK_EQ_INT(ol_kv_block_refs(p, b1), 1);
    /* a sequence holding a block uses it until its release: p3 inserted first, released last */
    int32_t p3[5] = {5, 5, 5, 5, 0}, p4[5] = {6, 6, 6, 6, 0};
    ol_kv_seq s4, s5;
    run_seq(pc, p, 3, p3, 5, &s4);
    ol_kv_prefix_insert(pc, 3, p3, 5, &s4);
    run_seq(pc, p, 3, p4, 5, &s5);
    ol_kv_prefix_insert(pc, 3, p4, 5, &s5);
    int32_t b3 = s4.blocks[0], b4 = s5.blocks[0];
    ol_kv_seq_release(p, &s5);
    ol_kv_seq_release(p, &s4);
    CHECK_EQ_INT(ol_kv_prefix_evict(pc, ol_kv_pool_n_free(p) + 2), 2); /* b1, then b4 */
    CHECK_EQ_INT(ol_kv_block_refs(p, b1), 0);
    CHECK_EQ_INT(ol_kv_block_refs(p, b4), 0);
    CHECK_EQ_INT(ol_kv_block_refs(p, b3), 1);
    ol_kv_prefix_destroy(pc);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 16);
    ol_kv_pool_destroy(p);
}

/* (4) the max_blocks bound; full: make room by LRU leaves, or skip when none is evictable */
static void test_bound(void) {
    ol_kv_pool *p = make_pool(2, 20);
    ol_err err;
    ol_kv_prefix *pc = ol_kv_prefix_create(p, 3, &err);
    int32_t a[11] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6};
    int32_t b[5] = {7, 7, 8, 8, 9};
    ol_kv_seq sa, sb;
    run_seq(pc, p, 1, a, 11, &sa);
    ol_kv_prefix_insert(pc, 1, a, 10, &sa); /* 5 full blocks, room for 3, none evictable */
    ol_kv_prefix_stats st;
    ol_kv_prefix_stats_get(pc, &st);
    CHECK_EQ_INT(st.n_blocks, 3);
    CHECK_EQ_INT(st.inserted, 3);
    CHECK_EQ_INT(ol_kv_block_refs(p, sa.blocks[2]), 2);
    CHECK_EQ_INT(ol_kv_block_refs(p, sa.blocks[3]), 1);
    int32_t a1 = sa.blocks[1], a2 = sa.blocks[2];
    ol_kv_seq_release(p, &sa);
    run_seq(pc, p, 1, b, 5, &sb);
    ol_kv_prefix_insert(pc, 1, b, 4, &sb); /* evicts a2 then a1 (now a leaf) */
    ol_kv_prefix_stats_get(pc, &st);
    CHECK_EQ_INT(st.n_blocks, 3);
    CHECK_EQ_INT(st.evicted, 2);
    CHECK_EQ_INT(ol_kv_block_refs(p, a1), 0);
    CHECK_EQ_INT(ol_kv_block_refs(p, a2), 0);
    CHECK_EQ_INT(ol_kv_block_refs(p, sb.blocks[1]), 2);
    ol_kv_seq_release(p, &sb);
    ol_kv_seq sc;
    CHECK_EQ_INT(run_seq(pc, p, 1, a, 11, &sc), 2);
    ol_kv_seq_release(p, &sc);
    ol_kv_prefix_destroy(pc);
    /* two sequences computed the same first block; the second's insert continues from the
     * first's entry, which must not be evicted to make room for its own child */
    pc = ol_kv_prefix_create(p, 1, &err);
    int32_t d[5] = {3, 3, 4, 4, 5};
    ol_kv_seq sd, se;
    run_seq(pc, p, 1, d, 5, &sd);
    run_seq(pc, p, 1, d, 5, &se);
    ol_kv_prefix_insert(pc, 1, d, 2, &sd);
    int32_t d0 = sd.blocks[0];
    ol_kv_seq_release(p, &sd);
    ol_kv_prefix_insert(pc, 1, d, 4, &se);
    CHECK_EQ_INT(ol_kv_block_refs(p, d0), 1);
    CHECK_EQ_INT(ol_kv_block_refs(p, se.blocks[0]), 1); /* stays private */
    CHECK_EQ_INT(ol_kv_block_refs(p, se.blocks[1]), 1); /* no room */
    ol_kv_seq_release(p, &se);
    CHECK_EQ_INT(run_seq(pc, p, 1, d, 5, &sd), 2);
    CHECK_EQ_INT(sd.blocks[0], d0);
    ol_kv_seq_release(p, &sd);
    ol_kv_prefix_destroy(pc);
    /* max_blocks above the pool's count is the pool's count */
    pc = ol_kv_prefix_create(p, 1000, &err);
    CHECK(pc != NULL);
    ol_kv_prefix_destroy(pc);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 20);
    ol_kv_pool_destroy(p);
}

/* ---- (5) random run against a reference model ------------------------------------------- */

enum { R_BS = 2, R_MAXN = 11, R_POOL = 512, R_LIVE = 4 };
typedef struct ref_entry { /* what the reference believes pool block b caches */
    int valid, len;        /* len in blocks */
    uint64_t key;
    int32_t tokens[R_MAXN];
} ref_entry;
static ref_entry ref[R_POOL];

static int32_t ref_find(uint64_t key, const int32_t *tk, int len) {
    for (int32_t b = 0; b < R_POOL; b++)
        if (ref[b].valid && ref[b].len == len && ref[b].key == key &&
            !memcmp(ref[b].tokens, tk, (size_t)(len * R_BS) * sizeof(int32_t)))
            return b;
    return -1;
}
static void ref_sync(ol_kv_pool *p) {
    for (int b = 0; b < R_POOL; b++)
        if (ol_kv_block_refs(p, b) == 0) ref[b].valid = 0;
}
/* Cached blocks by the reference: count, orphans (cached with their prefix not cached), idle
 * (only the cache references them) and idle leaves (what evict can free now). */
typedef struct ref_counts {
    int n, orphans, n_idle, n_idle_leaves;
} ref_counts;
static ref_counts ref_count(ol_kv_pool *p) {
    ref_counts r = {0};
    for (int b = 0; b < R_POOL; b++) {
        if (!ref[b].valid) continue;
        r.n++;
        if (ref[b].len > 1 && ref_find(ref[b].key, ref[b].tokens, ref[b].len - 1) < 0) r.orphans++;
        int leaf = 1;
        for (int c = 0; c < R_POOL && leaf; c++)
            if (ref[c].valid && ref[c].len == ref[b].len + 1 && ref[c].key == ref[b].key &&
                !memcmp(ref[c].tokens, ref[b].tokens, (size_t)(ref[b].len * R_BS) * 4))
                leaf = 0;
        int idle = ol_kv_block_refs(p, b) == 1;
        r.n_idle += idle;
        r.n_idle_leaves += idle && leaf;
    }
    return r;
}
static void ref_check(ol_kv_prefix *pc, ol_kv_pool *p, int max_blocks) {
    ref_counts r = ref_count(p);
    ol_kv_prefix_stats st;
    ol_kv_prefix_stats_get(pc, &st);
    CHECK_EQ_INT(st.n_blocks, r.n);
    CHECK(r.n <= max_blocks);
    CHECK_EQ_INT(r.orphans, 0);
    CHECK_EQ_INT(st.n_evictable, r.n_idle);
}

typedef struct live {
    ol_kv_seq s;
    uint64_t key;
    int32_t tokens[R_MAXN];
    int n, used, hit;
} live;
static int n_kept; /* blocks computed privately whose prefix another sequence cached first */

static void finish(ol_kv_prefix *pc, ol_kv_pool *p, live *l, int *bad_ref) {
    if (!l->used) return;
    int n_ins = rnd() % 3 ? l->n : l->n - 1 - (int)(rnd() % 3);
    if (n_ins < 0) n_ins = 0;
    ol_kv_prefix_insert(pc, l->key, l->tokens, n_ins, &l->s);
    ref_sync(p); /* insert may have evicted to make room */
    for (int j = 0; j < n_ins / R_BS; j++) {
        int32_t b = l->s.blocks[j];
        int len = j + 1;
        if (ref_find(l->key, l->tokens, len) >= 0) { /* cached already, kept */
            n_kept += j >= l->hit / R_BS;
            continue;
        }
        if (ol_kv_block_refs(p, b) != 2) break; /* not cached (full or stopped) */
        if (ref[b].valid) (*bad_ref)++;         /* a block cached twice */
        ref[b].valid = 1;
        ref[b].len = len;
        ref[b].key = l->key;
        memcpy(ref[b].tokens, l->tokens, sizeof(l->tokens));
    }
    ol_kv_seq_release(p, &l->s);
    l->used = 0;
    ref_sync(p);
}

static void random_run(uint64_t hash_mask, int iters, int max_blocks) {
    ol_kv_pool *p = make_pool(R_BS, R_POOL);
    ol_err err;
    ol_kv_prefix *pc = ol_kv_prefix_create(p, max_blocks, &err);
    ol_kv_prefix_set_hash_mask(pc, hash_mask);
    memset(ref, 0, sizeof(ref));
    n_kept = 0;
    live lv[R_LIVE];
    memset(lv, 0, sizeof(lv));
    int bad_match = 0, bad_sig = 0, bad_ref = 0, bad_evict = 0, n_hit = 0;
    for (int it = 0; it < iters; it++) {
        live *l = &lv[it % R_LIVE]; /* insert R_LIVE iterations after the match */
        finish(pc, p, l, &bad_ref);
        l->key = 1 + rnd() % 2;
        l->n = 1 + (int)(rnd() % R_MAXN);
        for (int i = 0; i < R_MAXN; i++) l->tokens[i] = (int32_t)(rnd() % 2);
        int32_t want[R_MAXN];
        int n_want = 0;
        while ((n_want + 1) * R_BS <= l->n - 1) {
            int32_t b = ref_find(l->key, l->tokens, n_want + 1);
            if (b < 0) break;
            want[n_want++] = b;
        }
        int hit = run_seq(pc, p, l->key, l->tokens, l->n, &l->s);
        OL_ASSERT(hit >= 0); /* the pool is big enough for R_LIVE sequences + the cache */
        l->used = 1;
        l->hit = hit;
        n_hit += hit > 0;
        if (hit != n_want * R_BS) bad_match++;
        for (int j = 0; j < hit / R_BS && j < n_want; j++) {
            bad_match += l->s.blocks[j] != want[j];
            bad_sig += block_sig(p, l->s.blocks[j]) != sig(l->key, l->tokens, (j + 1) * R_BS);
        }
        if (rnd() % 40 == 0) {
            int n_free = ol_kv_pool_n_free(p), wanted = n_free + (int)(rnd() % 30);
            int freed = ol_kv_prefix_evict(pc, wanted);
            bad_evict += ol_kv_pool_n_free(p) != n_free + freed;
            ref_sync(p);
            /* stopped early only when no leaf was left to free */
            if (ol_kv_pool_n_free(p) < wanted) bad_evict += ref_count(p).n_idle_leaves != 0;
        }
        if (rnd() % 3000 == 0) {
            ol_kv_prefix_clear(pc);
            memset(ref, 0, sizeof(ref));
        }
        if (it % 500 == 499) ref_check(pc, p, max_blocks);
    }
    for (int i = 0; i < R_LIVE; i++) finish(pc, p, &lv[i], &bad_ref);
    ref_check(pc, p, max_blocks);
    CHECK_EQ_INT(bad_match, 0);
    CHECK_EQ_INT(bad_sig, 0);
    CHECK_EQ_INT(bad_ref, 0);
    CHECK_EQ_INT(bad_evict, 0);
    CHECK(n_hit > iters / 4); /* the run did exercise sharing */
    CHECK(n_kept > 0);        /* and two sequences computing the same block */
    ol_kv_prefix_stats st;
    ol_kv_prefix_stats_get(pc, &st);
    CHECK(st.evicted > 0);
    ol_kv_prefix_evict(pc, R_POOL);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), R_POOL);
    ol_kv_prefix_destroy(pc);
    ol_kv_pool_destroy(p);
}

int main(void) {
    test_share();
    test_evict();
    test_bound();
    random_run(0x3, 10000, 200); /* 4 distinct hashes: nearly every lookup meets collisions */
    random_run(~0ull, 5000, 300);
    return test_done("test_prefix");
}
