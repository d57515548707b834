/* tests/unit/base/test_base.c: the worker pool (every thread runs every task exactly once,
 * back-to-back tasks, sleep/wake after idling), range splitting, half-float conversions. */
#include "base/base.h"
#include "test.h"

#include <stdatomic.h>
#include <unistd.h>

typedef struct {
    _Atomic int calls;
    _Atomic int mask;
    _Atomic int nth_seen;
} task;

static void fn(void *ctx, int ith, int nth) {
    task *t = ctx;
    atomic_fetch_add(&t->calls, 1);
    atomic_fetch_or(&t->mask, 1 << ith);
    t->nth_seen = nth;
}

/* ol_deadline_ms: a normalised instant about ms after now (carries nanoseconds into seconds) */
static void test_deadline(void) {
    const long ms[] = {0, 50, 999, 1500, 30000};
    for (size_t i = 0; i < OL_ARRAY_LEN(ms); i++) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        const struct timespec d = ol_deadline_ms(ms[i]);
        CHECK(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
        const double dt = (double)(d.tv_sec - now.tv_sec) + (d.tv_nsec - now.tv_nsec) / 1e9;
        CHECK_NEAR(dt, ms[i] / 1000.0, 0.25); /* the clock moves a little between the calls */
    }
}

int main(void) {
    test_deadline();
    ol_err err;
    for (int n = 1; n <= 4; n++) {
        ol_pool *p = ol_pool_create(n, &err);
        CHECK(p != NULL);
        CHECK_EQ_INT(ol_pool_n_threads(p), n);
        int ok = 1;
        for (int r = 0; r < 2000; r++) {
            task t = {0};
            ol_pool_run(p, fn, &t);
            ok &= atomic_load(&t.calls) == n && atomic_load(&t.mask) == (1 << n) - 1 &&
                  t.nth_seen == n;
        }
        CHECK(ok);
        usleep(20000); /* let workers fall asleep, then wake them */
        task t = {0};
        ol_pool_run(p, fn, &t);
        CHECK_EQ_INT(atomic_load(&t.calls), n);
        ol_pool_destroy(p);
    }
    CHECK(ol_pool_create(0, &err) == NULL);
    ol_pool_destroy(NULL);

    /* split covers [0,n) exactly, aligned */
    for (int64_t n = 0; n < 300; n += 7)
        for (int nth = 1; nth <= 5; nth++) {
            int64_t prev = 0;
            for (int i = 0; i < nth; i++) {
                int64_t b, e;
                ol_split_range(n, 16, i, nth, &b, &e);
                CHECK_EQ_INT(b, prev);
                CHECK(e >= b && (b % 16 == 0 || b == n));
                prev = e;
            }
            CHECK_EQ_INT(prev, n);
        }

    /* f16: exact round trip of every finite half, and round-to-nearest-even from f32 */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        float f = ol_f16_to_f32((ol_f16)h);
        if (ol_f32_to_f16(f) != h && !(f == 0 && (h & 0x7fff) == 0)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(ol_f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ_INT(ol_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ_INT(ol_f32_to_f16(1e6f), 0x7c00);
    CHECK_EQ_INT(ol_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie -> even */
    CHECK_EQ_INT(ol_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);
    CHECK_EQ_INT(ol_f32_to_f16(5.9604645e-08f), 0x0001);
    CHECK(isnan(ol_f16_to_f32(ol_f32_to_f16(NAN))));
    CHECK_EQ_INT(ol_f32_to_bf16(1.0f), 0x3f80);
    CHECK(ol_bf16_to_f32(ol_f32_to_bf16(3.140625f)) == 3.140625f);
    CHECK(isnan(ol_bf16_to_f32(ol_f32_to_bf16(NAN))));

    CHECK(strcmp(ol_strerror(OL_ENOMEM), "out of memory") == 0);
    CHECK_EQ_INT(ol_err_set(&err, OL_EINVAL, "x=%d", 5), OL_EINVAL);
    CHECK(strcmp(err.msg, "x=5") == 0);
    size_t out;
    CHECK_EQ_INT(ol_mul_size(SIZE_MAX / 2, 3, &out), OL_ERANGE);
    CHECK_EQ_INT(ol_mul_size(1000, 1000, &out), 0);
    CHECK_EQ_INT(out, 1000000);
    return test_done("test_base");
}
