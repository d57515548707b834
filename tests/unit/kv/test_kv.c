/* tests/unit/kv/test_kv.c: the paged block pool: budget → block count, reserve/release,
 * all-or-nothing reservation when the pool runs out, row addressing without overlap. */
#include "kv/kv.h"
#include "test.h"

int main(void) {
    ol_err err;
    ol_kv_config cfg = {.n_layer = 3, .kv_dim = 8, .block_size = 4, .dtype = OL_DTYPE_F16};
    size_t bb = ol_kv_block_bytes(&cfg);
    CHECK_EQ_INT(bb, 3 * 2 * 4 * 8 * 2);
    cfg.budget_bytes = bb * 10 + bb / 2;
    ol_kv_pool *p = ol_kv_pool_create(&cfg, &err);
    CHECK(p != NULL);
    CHECK_EQ_INT(ol_kv_pool_n_blocks(p), 10);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 10);

    ol_kv_seq a, b;
    ol_kv_seq_init(&a);
    ol_kv_seq_init(&b);
    CHECK_EQ_INT(ol_kv_seq_reserve(p, &a, 0), 0);
    CHECK_EQ_INT(a.n_blocks, 0);
    CHECK_EQ_INT(ol_kv_seq_reserve(p, &a, 5), 0); /* 2 blocks */
    CHECK_EQ_INT(a.n_blocks, 2);
    CHECK_EQ_INT(ol_kv_seq_reserve(p, &a, 8), 0); /* still 2 */
    CHECK_EQ_INT(a.n_blocks, 2);
    CHECK_EQ_INT(ol_kv_seq_reserve(p, &a, 9), 0);
    CHECK_EQ_INT(a.n_blocks, 3);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 7);
    /* asking for more than is free allocates nothing */
    CHECK_EQ_INT(ol_kv_seq_reserve(p, &b, 4 * 8), OL_EFULL);
    CHECK_EQ_INT(b.n_blocks, 0);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 7);
    CHECK_EQ_INT(ol_kv_seq_reserve(p, &b, 4 * 7), 0);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 0);
    CHECK_EQ_INT(ol_kv_seq_reserve(p, &a, 13), OL_EFULL);
    CHECK_EQ_INT(ol_kv_seq_reserve(p, &a, -1), OL_EINVAL);

    /* every (block, layer, k/v, slot) row is distinct and inside the pool */
    uint8_t *lo = ol_kv_row(p, 0, 0, 0, 0), *hi = lo + bb * 10;
    int distinct = 1;
    for (int blk = 0; blk < 10; blk++)
        for (int l = 0; l < 3; l++)
            for (int v = 0; v < 2; v++)
                for (int s = 0; s < 4; s++) {
                    uint8_t *r = ol_kv_row(p, blk, l, v, s);
                    size_t idx = (size_t)(((blk * 3 + l) * 2 + v) * 4 + s);
                    if (r != lo + idx * 16 || r + 16 > hi) distinct = 0;
                }
    CHECK(distinct);
    /* a sequence's blocks are distinct */
    int dup = 0;
    for (int i = 0; i < a.n_blocks; i++)
        for (int j = 0; j < b.n_blocks; j++) dup |= a.blocks[i] == b.blocks[j];
    CHECK(!dup);

    ol_kv_seq_release(p, &a);
    CHECK_EQ_INT(a.n_blocks, 0);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 3);
    ol_kv_seq_release(p, &b);
    CHECK_EQ_INT(ol_kv_pool_n_free(p), 10);

    cfg.budget_bytes = bb - 1;
    CHECK(ol_kv_pool_create(&cfg, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "holds no block");
    cfg.budget_bytes = bb;
    cfg.block_size = 0;
    CHECK(ol_kv_pool_create(&cfg, &err) == NULL);
    ol_kv_pool_destroy(p);
    ol_kv_pool_destroy(NULL);
    return test_done("test_kv");
}
