/* base/pool.c: the worker pool that kernels fan out over. One task at a time; workers spin
 * for a short while between tasks (a forward pass launches hundreds back to back), then sleep
 * on a condition variable so an idle server burns no CPU. */
#include "base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <immintrin.h>
#include <sched.h>

#define SPIN_ITERS 200000 /* roughly 1-5 ms of pause instructions before sleeping */

struct ol_pool {
    int n_threads;
    pthread_t *threads;
    ol_pool_fn fn; /* written by the owner before gen is bumped */
    void *ctx;
    _Atomic unsigned gen;    /* bumped once per task */
    _Atomic int n_remaining; /* workers still running the current task */
    _Atomic int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n_sleeping; /* guarded by mu */
};

typedef struct {
    ol_pool *pool;
    int ith;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg *wa = p;
    ol_pool *pool = wa->pool;
    int ith = wa->ith;
    free(wa);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) == seen) {
            if (++spins < SPIN_ITERS) {
                _mm_pause();
                if ((spins & 1023) == 0) sched_yield(); /* oversubscribed: let others run */
                continue;
            }
            pthread_mutex_lock(&pool->mu);
            pool->n_sleeping++;
            while (atomic_load_explicit(&pool->gen, memory_order_acquire) == seen)
                pthread_cond_wait(&pool->cv, &pool->mu);
            pool->n_sleeping--;
            pthread_mutex_unlock(&pool->mu);
            spins = 0;
        }
        seen = g;
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) break;
        pool->fn(pool->ctx, ith, pool->n_threads);
        atomic_fetch_sub_explicit(&pool->n_remaining, 1, memory_order_acq_rel);
    }
    return NULL;
}

static void wake_all(ol_pool *pool) {
    pthread_mutex_lock(&pool->mu);
    if (pool->n_sleeping > 0) pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
}

ol_pool *ol_pool_create(int n_threads, ol_err *err) {
    if (n_threads < 1 || n_threads > 1024) {
        ol_err_set(err, OL_EINVAL, "thread count %d out of range [1, 1024]", n_threads);
        return NULL;
    }
    ol_pool *pool = calloc(1, sizeof(*pool));
    if (!pool) goto nomem;
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv, NULL);
    pool->threads = calloc((size_t)n_threads, sizeof(pthread_t));
    if (!pool->threads) goto nomem;
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof(*wa));
        if (!wa) {
            pool->n_threads = i;
            ol_pool_destroy(pool);
            ol_err_set(err, OL_ENOMEM, "out of memory creating thread pool");
            return NULL;
        }
        wa->pool = pool;
        wa->ith = i;
        if (pthread_create(&pool->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            pool->n_threads = i; /* destroy joins only the started ones */
            ol_pool_destroy(pool);
            ol_err_set(err, OL_ENOMEM, "cannot start worker thread %d", i);
            return NULL;
        }
    }
    return pool;
nomem:
    if (pool) {
        pthread_mutex_destroy(&pool->mu);
        pthread_cond_destroy(&pool->cv);
        free(pool);
    }
    ol_err_set(err, OL_ENOMEM, "out of memory creating thread pool");
    return NULL;
}

static void noop(void *ctx, int ith, int nth) {
    (void)ctx, (void)ith, (void)nth;
}

void ol_pool_destroy(ol_pool *pool) {
    if (!pool) return;
    if (pool->threads) {
        pool->fn = noop;
        atomic_store(&pool->stop, 1);
        atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
        wake_all(pool);
        for (int i = 1; i < pool->n_threads; i++)
            if (pool->threads[i]) pthread_join(pool->threads[i], NULL);
        free(pool->threads);
    }
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv);
    free(pool);
}

int ol_pool_n_threads(const ol_pool *pool) {
    return pool ? pool->n_threads : 1;
}

void ol_pool_run(ol_pool *pool, ol_pool_fn fn, void *ctx) {
    if (!pool || pool->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->ctx = ctx;
    atomic_store_explicit(&pool->n_remaining, pool->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
    wake_all(pool);
    fn(ctx, 0, pool->n_threads);
    for (unsigned spins = 1; atomic_load_explicit(&pool->n_remaining, memory_order_acquire) > 0;
         spins++) {
        _mm_pause();
        if ((spins & 1023) == 0) sched_yield();
    }
}
