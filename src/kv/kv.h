/* kv: the paged KV cache. One pool of fixed-size blocks, allocated once from a byte budget, is
 * the only KV memory; each sequence holds a block table mapping its positions to blocks.
 * Block layout (dtype F16 or F32): [n_layer][2 (K,V)][block_size][kv_dim], so one layer's K
 * (or V) for one block is contiguous. Blocks carry a reference count so sequences and the
 * prefix cache can share them. Owned by one thread (the engine thread); not thread-safe. */
#ifndef OL_KV_H
#define OL_KV_H

#include "base/base.h"
#include "tensor/tensor.h"

#define OL_KV_BLOCK_SIZE_DEFAULT 16

typedef struct ol_kv_config {
    int n_layer;
    int kv_dim;          /* n_head_kv * head_dim */
    int block_size;      /* tokens per block, >= 1 */
    ol_dtype dtype;      /* OL_DTYPE_F16 (default) or OL_DTYPE_F32 */
    size_t budget_bytes; /* pool size; the block count is budget / block bytes */
} ol_kv_config;

typedef struct ol_kv_pool ol_kv_pool;

/* A sequence's block table. Caller-allocated: ol_kv_seq_init / ol_kv_seq_release. */
typedef struct ol_kv_seq {
    int32_t *blocks; /* [n_blocks] pool block ids */
    int n_blocks, cap_blocks;
    int n_tokens; /* positions [0, n_tokens) have K/V written (maintained by the caller) */
} ol_kv_seq;

ol_kv_pool *ol_kv_pool_create(const ol_kv_config *cfg, ol_err *err);
void ol_kv_pool_destroy(ol_kv_pool *pool);
const ol_kv_config *ol_kv_pool_config(const ol_kv_pool *pool);
int ol_kv_pool_n_blocks(const ol_kv_pool *pool);
int ol_kv_pool_n_free(const ol_kv_pool *pool);
size_t ol_kv_block_bytes(const ol_kv_config *cfg);

void ol_kv_seq_init(ol_kv_seq *seq);
/* Make seq hold blocks for positions [0, n_positions). 0, or OL_EFULL when the pool has too
 * few free blocks (nothing is allocated then), or OL_ENOMEM. */
int ol_kv_seq_reserve(ol_kv_pool *pool, ol_kv_seq *seq, int n_positions);
/* Return all blocks of seq to the pool (dropping references) and reset it. */
void ol_kv_seq_release(ol_kv_pool *pool, ol_kv_seq *seq);
/* Blocks needed to hold n positions. */
int ol_kv_blocks_for(const ol_kv_pool *pool, int n_positions);

/* Shared blocks: take / drop one reference. A block returns to the free list when its last
 * reference goes. */
void ol_kv_block_retain(ol_kv_pool *pool, int32_t block);
void ol_kv_block_release(ol_kv_pool *pool, int32_t block);
int ol_kv_block_refs(const ol_kv_pool *pool, int32_t block);
/* Append an existing block (already holding K/V) to seq's table, taking a reference. 0 or
 * OL_ENOMEM. seq->n_tokens is the caller's to update. */
int ol_kv_seq_push_block(ol_kv_seq *seq, ol_kv_pool *pool, int32_t block);

/* ---- prefix cache -------------------------------------------------------------------------
 * Full blocks of finished (or running) sequences are kept, keyed by (context key, all tokens
 * up to the end of the block), so a later sequence with the same context and the same leading
 * tokens reuses their K/V instead of recomputing it. The context key must identify everything
 * besides the tokens that changes K/V: the engine derives it from the adapter set WITH each
 * adapter's version and weight, so KV computed under another adapter or an older upload of the
 * same name is never reused. Entries are verified by their tokens and parent entry (a hash
 * collision cannot alias two prefixes). The cache holds one reference per cached block;
 * blocks referenced only by the cache are evictable (least recently used first, leaves before
 * their parents; a block is used when matched, inserted, or released by a sequence). Owned by
 * the engine thread; not thread-safe. */
typedef struct ol_kv_prefix ol_kv_prefix;

/* pool borrowed (destroy the cache first); one cache per pool. max_blocks bounds the number of
 * cached blocks (0 or more than the pool holds = the pool's block count). All memory is
 * allocated here. */
ol_kv_prefix *ol_kv_prefix_create(ol_kv_pool *pool, int max_blocks, ol_err *err);
/* Drops every cached reference. */
void ol_kv_prefix_destroy(ol_kv_prefix *pc);

/* seq must be empty. Finds the longest cached run of full blocks matching tokens[0..n) under
 * key, leaving at least one token uncached (the caller needs logits for the last one): pushes
 * those blocks onto seq (references taken), sets seq->n_tokens and returns the number of
 * tokens covered (a multiple of block_size, 0 when nothing matched). */
int ol_kv_prefix_match(ol_kv_prefix *pc, uint64_t key, const int32_t *tokens, int n,
                       ol_kv_seq *seq);
/* seq holds K/V for tokens[0..n) (n <= seq->n_tokens): cache its full blocks under key (blocks
 * already cached are refreshed; a block whose prefix is cached with a different block id is
 * left alone). When max_blocks are cached, least recently used evictable blocks make room; if
 * none is evictable, or a block is already cached under another prefix (e.g. inserted under a
 * second key), the remaining blocks are not cached. */
void ol_kv_prefix_insert(ol_kv_prefix *pc, uint64_t key, const int32_t *tokens, int n,
                         const ol_kv_seq *seq);
/* Free cached blocks that only the cache references until the pool has at least n_free_wanted
 * free blocks or nothing more is evictable. Returns the number of blocks freed. */
int ol_kv_prefix_evict(ol_kv_prefix *pc, int n_free_wanted);
/* Drop every entry (e.g. when a model or adapter set changes globally). */
void ol_kv_prefix_clear(ol_kv_prefix *pc);

typedef struct ol_kv_prefix_stats {
    int64_t n_blocks;      /* cached blocks now */
    int64_t n_evictable;   /* of which only the cache references */
    int64_t lookups, hits; /* match calls; calls that matched >= 1 block */
    int64_t tokens_looked_up, tokens_hit;
    int64_t inserted, evicted; /* blocks */
} ol_kv_prefix_stats;
void ol_kv_prefix_stats_get(const ol_kv_prefix *pc, ol_kv_prefix_stats *s);

/* K or V row for (layer, block, slot): kv_dim elements of the pool dtype. */
void *ol_kv_row(ol_kv_pool *pool, int32_t block, int layer, int is_v, int slot);
/* Base of one layer's K (is_v=0) or V (1) in a block: [block_size][kv_dim]. */
void *ol_kv_block_layer(ol_kv_pool *pool, int32_t block, int layer, int is_v);

#endif
