/* kv/kv.c: the paged KV block pool and per-sequence block tables. A free list of block ids
 * (a stack) makes alloc and free O(1); reference counts let sequences and the prefix cache
 * (prefix.c) share blocks. */
#include "kv_internal.h"

#include <stdlib.h>
#include <string.h>

size_t ol_kv_block_bytes(const ol_kv_config *cfg) {
    size_t eb = cfg->dtype == OL_DTYPE_F32 ? 4 : 2;
    return (size_t)cfg->n_layer * 2 * (size_t)cfg->block_size * (size_t)cfg->kv_dim * eb;
}

ol_kv_pool *ol_kv_pool_create(const ol_kv_config *cfg, ol_err *err) {
    if (cfg->n_layer < 1 || cfg->kv_dim < 1 || cfg->block_size < 1 || cfg->block_size > 4096 ||
        (cfg->dtype != OL_DTYPE_F16 && cfg->dtype != OL_DTYPE_F32)) {
        ol_err_set(err, OL_EINVAL, "kv: invalid pool configuration");
        return NULL;
    }
    size_t bb = ol_kv_block_bytes(cfg);
    size_t n = cfg->budget_bytes / bb;
    if (n < 1) {
        ol_err_set(err, OL_EINVAL,
                   "kv: budget of %zu bytes holds no block (one block is %zu bytes)",
                   cfg->budget_bytes, bb);
        return NULL;
    }
    if (n > INT32_MAX / 2) n = INT32_MAX / 2;
    ol_kv_pool *p = calloc(1, sizeof(*p));
    if (!p) goto nomem;
    p->cfg = *cfg;
    p->elem_bytes = cfg->dtype == OL_DTYPE_F32 ? 4 : 2;
    p->block_bytes = bb;
    p->n_blocks = (int)n;
    p->mem = ol_alloc_aligned(n * bb);
    p->free_ids = malloc(n * sizeof(int32_t));
    p->refs = calloc(n, sizeof(uint16_t));
    if (!p->mem || !p->free_ids || !p->refs) goto nomem;
    /* lowest ids on top of the stack: blocks handed out in address order */
    for (int i = 0; i < p->n_blocks; i++) p->free_ids[i] = p->n_blocks - 1 - i;
    p->n_free = p->n_blocks;
    return p;
nomem:
    ol_kv_pool_destroy(p);
    ol_err_set(err, OL_ENOMEM, "kv: cannot allocate %zu bytes for the KV pool", n * bb);
    return NULL;
}

void ol_kv_pool_destroy(ol_kv_pool *p) {
    if (!p) return;
    OL_ASSERT(!p->prefix); /* destroy the prefix cache first: it borrows the pool */
    ol_free_aligned(p->mem);
    free(p->free_ids);
    free(p->refs);
    free(p);
}

const ol_kv_config *ol_kv_pool_config(const ol_kv_pool *p) {
    return &p->cfg;
}
int ol_kv_pool_n_blocks(const ol_kv_pool *p) {
    return p->n_blocks;
}
int ol_kv_pool_n_free(const ol_kv_pool *p) {
    return p->n_free;
}

int ol_kv_blocks_for(const ol_kv_pool *p, int n_positions) {
    return (n_positions + p->cfg.block_size - 1) / p->cfg.block_size;
}

void ol_kv_seq_init(ol_kv_seq *s) {
    memset(s, 0, sizeof(*s));
}

/* Make room in seq's table for need block ids. 0 or OL_ENOMEM. */
static int seq_grow(ol_kv_seq *s, int need) {
    if (need <= s->cap_blocks) return 0;
    int cap = s->cap_blocks ? s->cap_blocks : 8;
    while (cap < need) cap *= 2;
    int32_t *nb = realloc(s->blocks, (size_t)cap * sizeof(int32_t));
    if (!nb) return OL_ENOMEM;
    s->blocks = nb;
    s->cap_blocks = cap;
    return 0;
}

int ol_kv_seq_reserve(ol_kv_pool *p, ol_kv_seq *s, int n_positions) {
    if (n_positions < 0) return OL_EINVAL;
    int need = ol_kv_blocks_for(p, n_positions);
    if (need <= s->n_blocks) return 0;
    if (need - s->n_blocks > p->n_free) return OL_EFULL;
    if (seq_grow(s, need)) return OL_ENOMEM;
    while (s->n_blocks < need) {
        int32_t id = p->free_ids[--p->n_free];
        OL_ASSERT(p->refs[id] == 0);
        p->refs[id] = 1; /* a free block is never cached: no hook */
        s->blocks[s->n_blocks++] = id;
    }
    return 0;
}

void ol_kv_seq_release(ol_kv_pool *p, ol_kv_seq *s) {
    for (int i = 0; i < s->n_blocks; i++) ol_kv_block_release(p, s->blocks[i]);
    free(s->blocks);
    ol_kv_seq_init(s);
}

void ol_kv_block_retain(ol_kv_pool *p, int32_t block) {
    OL_ASSERT(block >= 0 && block < p->n_blocks);
    OL_ASSERT(p->refs[block] > 0 && p->refs[block] < UINT16_MAX); /* live, no overflow */
    p->refs[block]++;
    if (p->prefix) ol_kv_prefix_on_refs(p->prefix, block, 0);
}

void ol_kv_block_release(ol_kv_pool *p, int32_t block) {
    OL_ASSERT(block >= 0 && block < p->n_blocks);
    OL_ASSERT(p->refs[block] > 0);
    if (--p->refs[block] == 0) p->free_ids[p->n_free++] = block;
    if (p->prefix) ol_kv_prefix_on_refs(p->prefix, block, 1);
}

int ol_kv_block_refs(const ol_kv_pool *p, int32_t block) {
    OL_ASSERT(block >= 0 && block < p->n_blocks);
    return p->refs[block];
}

int ol_kv_seq_push_block(ol_kv_seq *s, ol_kv_pool *p, int32_t block) {
    if (seq_grow(s, s->n_blocks + 1)) return OL_ENOMEM;
    ol_kv_block_retain(p, block);
    s->blocks[s->n_blocks++] = block;
    return 0;
}

void *ol_kv_block_layer(ol_kv_pool *p, int32_t block, int layer, int is_v) {
    size_t per = (size_t)p->cfg.block_size * (size_t)p->cfg.kv_dim * p->elem_bytes;
    return p->mem + (size_t)block * p->block_bytes + ((size_t)layer * 2 + (size_t)is_v) * per;
}

void *ol_kv_row(ol_kv_pool *p, int32_t block, int layer, int is_v, int slot) {
    return (uint8_t *)ol_kv_block_layer(p, block, layer, is_v) +
           (size_t)slot * (size_t)p->cfg.kv_dim * p->elem_bytes;
}
