/* ledger/ledger.c: the ledger thread. Appends queue here (any thread, never blocking on the
 * store); one thread takes everything queued (up to batch_max) and commits it in one
 * transaction: group commit, so one fsync covers every record that arrived meanwhile. A failed
 * commit keeps the batch at the front of the queue and retries it; nothing queued is dropped
 * while the process lives. Checkpoints are signed here, on a timer and at close. */
#include "ledger/ledger_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 200000 /* records waiting; beyond this appends fail (the store is down) */

typedef struct rec {
    struct rec *next;
    char kind[16];
    char *key_id, *request_id, *body;
    size_t body_len;
    int64_t time_ns;
    ol_ledger_done_fn done; /* NULL once notified */
    void *ud;
} rec;

struct ol_ledger {
    char *url, *ckpt_dir;
    int ckpt_interval_s, batch_max, retry_ms;
    ol_ledger_store st;
    EVP_PKEY *key;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    rec *head, *tail;
    uint64_t n_queued;
    bool closing;
    int64_t close_deadline_ns;
    ol_ledger_stats stats;
    /* ledger thread */
    uint8_t head_hash[32]; /* of stats.head_seq */
    bool reopen;           /* the last commit failed: start the next try on a new connection */
    int64_t ckpt_seq;
    int64_t ckpt_ns;
    atomic_bool healthy;
};

void ol_ledger_config_default(ol_ledger_config *c) {
    memset(c, 0, sizeof(*c));
    c->checkpoint_interval_s = 60;
    c->batch_max = 512;
    c->retry_ms = 1000;
}

static int64_t unix_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void rec_free(rec *r) {
    if (!r) return;
    free(r->key_id);
    free(r->request_id);
    free(r->body);
    free(r);
}

/* ---- the commit ----------------------------------------------------------------------------- */

/* Write the batch in one transaction; st[i]: committed or duplicate, seq[i]. */
static int commit_batch(ol_ledger *l, rec **b, int n, ol_ledger_status *st, int64_t *seq,
                        ol_err *err) {
    ol_ledger_store *s = &l->st;
    int64_t head;
    uint8_t hash[32];
    if (l->reopen) {
        /* a connection that failed may stay broken (a lost PostgreSQL session, an SQLite handle
         * after an I/O error): retry on a fresh one */
        if (s->close) s->close(s->ctx);
        memset(s, 0, sizeof(*s));
        int rc = ol_ledger_store_open(l->url, false, s, err);
        if (rc) {
            memset(s, 0, sizeof(*s));
            return rc;
        }
        l->reopen = false;
    }
    int rc = s->begin(s->ctx, err);
    if (!rc) rc = s->head(s->ctx, &head, hash, err);
    for (int i = 0; !rc && i < n; i++) {
        rec *r = b[i];
        if (r->request_id) {
            int ex = s->exists(s->ctx, r->key_id, r->request_id, err);
            if (ex < 0) {
                rc = ex;
                break;
            }
            if (ex) {
                st[i] = OL_LEDGER_DUPLICATE, seq[i] = 0;
                continue;
            }
        }
        ol_ledger_entry e = {.seq = head + 1,
                             .time_ns = r->time_ns,
                             .kind = r->kind,
                             .key_id = r->key_id,
                             .request_id = r->request_id,
                             .body = r->body,
                             .body_len = r->body_len};
        memcpy(e.prev, hash, 32);
        ol_ledger_entry_hash(&e, e.hash);
        if ((rc = s->insert(s->ctx, &e, err))) break;
        head = e.seq;
        memcpy(hash, e.hash, 32);
        st[i] = OL_LEDGER_COMMITTED, seq[i] = e.seq;
    }
    if (!rc) rc = s->commit(s->ctx, err);
    if (rc) {
        s->rollback(s->ctx);
        l->reopen = true;
        return rc;
    }
    pthread_mutex_lock(&l->mu);
    l->stats.head_seq = head;
    pthread_mutex_unlock(&l->mu);
    memcpy(l->head_hash, hash, 32);
    return 0;
}

/* Call each record's callback once (outside mu). */
static void notify(rec **b, int n, const ol_ledger_status *st, const int64_t *seq) {
    for (int i = 0; i < n; i++) {
        ol_ledger_done_fn fn = b[i]->done;
        b[i]->done = NULL;
        if (fn) fn(b[i]->ud, st ? st[i] : OL_LEDGER_FAILED, seq ? seq[i] : 0);
    }
}

static void maybe_checkpoint(ol_ledger *l, bool force) {
    if (!l->key || !l->ckpt_dir) return;
    pthread_mutex_lock(&l->mu);
    const int64_t head = l->stats.head_seq;
    pthread_mutex_unlock(&l->mu);
    const int64_t now = unix_ns();
    if (head == 0 || head == l->ckpt_seq) return;
    if (!force && now - l->ckpt_ns < (int64_t)l->ckpt_interval_s * 1000000000) return;
    ol_err err = {0};
    if (ol_ledger_checkpoint_write(l->ckpt_dir, l->key, head, l->head_hash, now, &err)) {
        ol_log(OL_LOG_ERROR, "%s", err.msg);
        l->ckpt_ns = now; /* retry at the next interval, not in a loop */
        return;
    }
    l->ckpt_seq = head, l->ckpt_ns = now;
    pthread_mutex_lock(&l->mu);
    l->stats.checkpoints++;
    pthread_mutex_unlock(&l->mu);
}

/* Detach up to batch_max records from the queue front (under mu). */
static int take(ol_ledger *l, rec **b) {
    int n = 0;
    while (l->head && n < l->batch_max) {
        b[n++] = l->head;
        l->head = l->head->next;
    }
    if (!l->head) l->tail = NULL;
    return n;
}

/* Put a failed batch back at the front, in order (under mu). */
static void put_back(ol_ledger *l, rec **b, int n) {
    for (int i = n - 1; i >= 0; i--) {
        b[i]->next = l->head;
        l->head = b[i];
        if (!l->tail) l->tail = b[i];
    }
}

static void wait_ms(ol_ledger *l, int ms) {
    const struct timespec dl = ol_deadline_ms(ms);
    pthread_cond_timedwait(&l->cv, &l->mu, &dl);
}

/* One round: commit what is queued, or wait. Returns false when the thread should end. */
static bool round_once(ol_ledger *l, rec **b, ol_ledger_status *st, int64_t *seq) {
    pthread_mutex_lock(&l->mu);
    if (!l->head && !l->closing) wait_ms(l, l->ckpt_dir && l->key ? 1000 : 60000);
    if (!l->head) {
        const bool more = !l->closing;
        pthread_mutex_unlock(&l->mu);
        if (more) maybe_checkpoint(l, false);
        return more;
    }
    int n = take(l, b);
    pthread_mutex_unlock(&l->mu);
    ol_err err = {0};
    int rc = commit_batch(l, b, n, st, seq, &err);
    pthread_mutex_lock(&l->mu);
    if (!rc) {
        l->n_queued -= (uint64_t)n;
        l->stats.batches++;
        for (int i = 0; i < n; i++) {
            if (st[i] == OL_LEDGER_COMMITTED)
                l->stats.committed++;
            else
                l->stats.duplicates++;
        }
        atomic_store(&l->healthy, true);
        pthread_mutex_unlock(&l->mu);
        notify(b, n, st, seq);
        for (int i = 0; i < n; i++) rec_free(b[i]);
        maybe_checkpoint(l, false);
        return true;
    }
    l->stats.failures++;
    snprintf(l->stats.last_error, sizeof(l->stats.last_error), "%.255s", err.msg);
    const bool was_healthy = atomic_exchange(&l->healthy, false);
    const bool give_up = l->closing && unix_ns() >= l->close_deadline_ns;
    if (!give_up) put_back(l, b, n);
    pthread_mutex_unlock(&l->mu);
    if (was_healthy) ol_log(OL_LOG_ERROR, "%s (records are kept and retried)", err.msg);
    notify(b, n, NULL, NULL); /* the waiting responses fail now; the records stay queued */
    if (give_up) {
        ol_log(OL_LOG_ERROR, "ledger: closing with %d records that could not be written: %s", n,
               err.msg);
        pthread_mutex_lock(&l->mu);
        l->n_queued -= (uint64_t)n;
        pthread_mutex_unlock(&l->mu);
        for (int i = 0; i < n; i++) rec_free(b[i]);
        return true;
    }
    pthread_mutex_lock(&l->mu);
    if (!l->closing || unix_ns() < l->close_deadline_ns) wait_ms(l, l->retry_ms);
    pthread_mutex_unlock(&l->mu);
    return true;
}

static void *ledger_main(void *arg) {
    ol_ledger *l = arg;
    rec **b = malloc(sizeof(rec *) * (size_t)l->batch_max);
    ol_ledger_status *st = malloc(sizeof(*st) * (size_t)l->batch_max);
    int64_t *seq = malloc(sizeof(*seq) * (size_t)l->batch_max);
    OL_ASSERT(b && st && seq); /* allocated before the thread starts serving: tiny */
    while (round_once(l, b, st, seq)) {
    }
    maybe_checkpoint(l, true);
    free(b);
    free(st);
    free(seq);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

/* Everything but the thread (not running, or joined). */
static void ledger_free(ol_ledger *l) {
    if (l->st.close) l->st.close(l->st.ctx);
    EVP_PKEY_free(l->key);
    free(l->url);
    free(l->ckpt_dir);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

ol_ledger *ol_ledger_open(const ol_ledger_config *c, ol_err *err) {
    ol_ledger *l = calloc(1, sizeof(*l));
    if (!l) {
        ol_err_set(err, OL_ENOMEM, "ledger: out of memory");
        return NULL;
    }
    l->ckpt_interval_s = c->checkpoint_interval_s > 0 ? c->checkpoint_interval_s : 60;
    l->batch_max = c->batch_max > 0 ? OL_MIN(c->batch_max, 65536) : 512;
    l->retry_ms = c->retry_ms > 0 ? c->retry_ms : 1000;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    atomic_store(&l->healthy, true);
    if (!c->url || !(l->url = strdup(c->url)) ||
        (c->checkpoint_dir && !(l->ckpt_dir = strdup(c->checkpoint_dir)))) {
        ol_err_set(err, c->url ? OL_ENOMEM : OL_EINVAL, "ledger: %s",
                   c->url ? "out of memory" : "no URL");
        goto fail;
    }
    if (ol_ledger_store_open(l->url, false, &l->st, err)) goto fail;
    if (c->key_path && !(l->key = ol_ledger_key_load_or_create(c->key_path, err))) goto fail;
    if (l->st.head(l->st.ctx, &l->stats.head_seq, l->head_hash, err)) goto fail;
    if (pthread_create(&l->thread, NULL, ledger_main, l)) {
        ol_err_set(err, OL_ENOMEM, "ledger: cannot start its thread");
        goto fail;
    }
    return l;
fail:
    ledger_free(l);
    return NULL;
}

void ol_ledger_close(ol_ledger *l, int timeout_ms) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->closing = true;
    l->close_deadline_ns = unix_ns() + (int64_t)OL_MAX(timeout_ms, 0) * 1000000;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    ledger_free(l);
}

/* ---- appends -------------------------------------------------------------------------------- */

int ol_ledger_append(ol_ledger *l, const char *kind, const char *key_id, const char *request_id,
                     json_t *body, ol_ledger_done_fn done, void *ud) {
    if (!kind || strlen(kind) >= sizeof(((rec *)0)->kind) || !json_is_object(body) ||
        !ol_ledger_id_valid(key_id ? key_id : "", true) ||
        (request_id && !ol_ledger_id_valid(request_id, false)))
        return OL_EINVAL;
    rec *r = calloc(1, sizeof(*r));
    if (!r) return OL_ENOMEM;
    snprintf(r->kind, sizeof(r->kind), "%s", kind);
    r->key_id = strdup(key_id ? key_id : "");
    r->request_id = request_id ? strdup(request_id) : NULL;
    r->body = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
    if (!r->key_id || (request_id && !r->request_id) || !r->body) {
        rec_free(r);
        return OL_ENOMEM;
    }
    r->body_len = strlen(r->body);
    r->time_ns = unix_ns();
    r->done = done, r->ud = ud;
    pthread_mutex_lock(&l->mu);
    int rc = l->closing ? OL_ECANCELED : l->n_queued >= QUEUE_MAX ? OL_EFULL : 0;
    if (!rc) {
        if (l->tail)
            l->tail->next = r;
        else
            l->head = r;
        l->tail = r;
        l->n_queued++;
        pthread_cond_signal(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    if (rc) rec_free(r);
    return rc;
}

/* A waiter shared by ol_ledger_append_wait and the callback: two references. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    ol_ledger_status st;
    int64_t seq;
} waiter;

static void waiter_unref(waiter *w) {
    pthread_mutex_lock(&w->mu);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (!last) return;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static void waiter_done(void *ud, ol_ledger_status st, int64_t seq) {
    waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->done = true, w->st = st, w->seq = seq;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    waiter_unref(w);
}

int ol_ledger_append_wait(ol_ledger *l, const char *kind, const char *key_id,
                          const char *request_id, json_t *body, int timeout_ms, int64_t *seq) {
    waiter *w = calloc(1, sizeof(*w));
    if (!w) return OL_ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->refs = 2;
    int rc = ol_ledger_append(l, kind, key_id, request_id, body, waiter_done, w);
    if (rc) {
        w->refs = 1;
        waiter_unref(w);
        return rc;
    }
    const struct timespec dl = ol_deadline_ms(timeout_ms);
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &dl)) break;
    rc = w->done ? (int)w->st : OL_EAGAIN;
    if (seq) *seq = w->done ? w->seq : 0;
    pthread_mutex_unlock(&w->mu);
    waiter_unref(w);
    return rc;
}

bool ol_ledger_healthy(const ol_ledger *l) {
    return atomic_load(&((ol_ledger *)l)->healthy);
}

void ol_ledger_stats_get(ol_ledger *l, ol_ledger_stats *st) {
    pthread_mutex_lock(&l->mu);
    *st = l->stats;
    st->queued = l->n_queued;
    pthread_mutex_unlock(&l->mu);
    st->healthy = atomic_load(&l->healthy);
}

const char *ol_ledger_url(const ol_ledger *l) {
    return l->url;
}
