/* kv/kv_internal.h: what the kv module's own files share (the pool body and the hook through
 * which the pool tells an attached prefix cache that a block's reference count changed). No
 * other module includes this; the module's own unit tests may (for the hash-collision knob). */
#ifndef OL_KV_INTERNAL_H
#define OL_KV_INTERNAL_H

#include "kv.h"

struct ol_kv_pool {
    ol_kv_config cfg;
    size_t elem_bytes;  /* 2 (F16) or 4 (F32) */
    size_t block_bytes; /* n_layer * 2 * block_size * kv_dim * elem_bytes */
    int n_blocks;
    uint8_t *mem;      /* [n_blocks][n_layer][2][block_size][kv_dim] */
    int32_t *free_ids; /* stack of free block ids */
    int n_free;
    uint16_t *refs;       /* per block; 0 = free */
    ol_kv_prefix *prefix; /* the prefix cache attached to this pool, or NULL (at most one) */
};

/* Called by the pool after the reference count of block changed while a prefix cache is
 * attached; released is 1 when a holder dropped a reference (the block was in use until now).
 * Keeps the cache's set of evictable entries (cache-only leaves) exact. */
void ol_kv_prefix_on_refs(ol_kv_prefix *pc, int32_t block, int released);

/* Test-only: AND every entry hash with mask (e.g. 0x7) so most prefixes collide; lookups must
 * still be exact. Call on an empty cache. */
void ol_kv_prefix_set_hash_mask(ol_kv_prefix *pc, uint64_t mask);

#endif
