/* kv: the paged KV cache. One pool of fixed-size blocks, allocated once from a byte budget, is
 * the only KV memory; each sequence holds a block table mapping its positions to blocks.
 * Block layout (dtype F16 or F32): [n_layer][2 (K,V)][block_size][kv_dim], so one layer's K
 * (or V) for one block is contiguous. Blocks carry a reference count so a future prefix cache
 * can share them. Owned by one thread (the engine thread); not thread-safe. */
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

/* K or V row for (layer, block, slot): kv_dim elements of the pool dtype. */
void *ol_kv_row(ol_kv_pool *pool, int32_t block, int layer, int is_v, int slot);
/* Base of one layer's K (is_v=0) or V (1) in a block: [block_size][kv_dim]. */
void *ol_kv_block_layer(ol_kv_pool *pool, int32_t block, int layer, int is_v);

#endif
