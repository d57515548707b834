/* tests/unit/ledger/test_ledger.c: the ledger thread on the SQLite store: concurrent appends
 * from several threads end up as one contiguous chain that verifies, each callback runs once,
 * request ids dedup per key, close commits what is queued and signs a checkpoint, and a store
 * that cannot write (file-size limit: EFBIG, as on a full disk) keeps the records, reports
 * FAILED once, turns unhealthy, and commits them when writing works again. */
#include "ledger/ledger.h"
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_THREADS 4
#define N_PER     200

static char dir[256], db[300], ckpt[300], key[300];

typedef struct counts {
    atomic_int committed, duplicate, failed, calls;
} counts;

static void on_done(void *ud, ol_ledger_status st, int64_t seq) {
    counts *c = ud;
    atomic_fetch_add(&c->calls, 1);
    if (st == OL_LEDGER_COMMITTED) atomic_fetch_add(&c->committed, seq > 0);
    if (st == OL_LEDGER_DUPLICATE) atomic_fetch_add(&c->duplicate, 1);
    if (st == OL_LEDGER_FAILED) atomic_fetch_add(&c->failed, 1);
}

typedef struct worker {
    ol_ledger *l;
    counts *c;
    int id;
} worker;

static void *append_many(void *arg) {
    worker *w = arg;
    for (int i = 0; i < N_PER; i++) {
        char rid[64];
        snprintf(rid, sizeof(rid), "t%d-r%d", w->id, i);
        json_t *body = json_pack("{s:s,s:i,s:i}", "type", "usage", "thread", w->id, "i", i);
        int rc = ol_ledger_append(w->l, "usage", "key-a", rid, body, on_done, w->c);
        json_decref(body);
        if (rc) atomic_fetch_add(&w->c->failed, 1000);
    }
    return NULL;
}

typedef struct scan_state {
    int64_t n, last_seq;
    bool contiguous;
} scan_state;

static int count_entry(void *ud, const ol_ledger_entry *e) {
    scan_state *s = ud;
    s->contiguous = s->contiguous && e->seq == s->last_seq + 1;
    s->last_seq = e->seq;
    s->n++;
    return 0;
}

static ol_ledger *open_ledger(void) {
    ol_ledger_config c;
    ol_ledger_config_default(&c);
    c.url = db;
    c.checkpoint_dir = ckpt;
    c.key_path = key;
    c.retry_ms = 50;
    ol_err err = {0};
    ol_ledger *l = ol_ledger_open(&c, &err);
    if (!l) fprintf(stderr, "open: %s\n", err.msg);
    return l;
}

static void verify_ok(int64_t want_entries) {
    const char *keys[1] = {key};
    ol_ledger_verify_result r;
    ol_err err = {0};
    CHECK_EQ_INT(ol_ledger_verify(db, ckpt, keys, 1, &r, &err), 0);
    CHECK_EQ_INT(r.bad_seq, 0);
    if (r.bad_seq) fprintf(stderr, "verify: %s\n", r.problem);
    CHECK_EQ_INT(r.n_entries, want_entries);
    CHECK(r.n_checkpoints >= 1);
}

static void test_concurrent(void) {
    ol_ledger *l = open_ledger();
    CHECK(l != NULL);
    if (!l) return;
    counts c = {0};
    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){l, &c, i};
        pthread_create(&th[i], NULL, append_many, &w[i]);
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    /* the same ids again, once more under another key: dedup is per (key, id) */
    json_t *body = json_pack("{s:s}", "type", "usage");
    int64_t seq = 0;
    CHECK_EQ_INT(ol_ledger_append_wait(l, "usage", "key-a", "t0-r0", body, 10000, &seq),
                 OL_LEDGER_DUPLICATE);
    CHECK_EQ_INT(ol_ledger_append_wait(l, "usage", "key-b", "t0-r0", body, 10000, &seq),
                 OL_LEDGER_COMMITTED);
    CHECK_EQ_INT(seq, N_THREADS * N_PER + 1);
    CHECK_EQ_INT(ol_ledger_append(l, "usage", "key-a", "bad id", body, NULL, NULL), OL_EINVAL);
    CHECK_EQ_INT(ol_ledger_append(l, "usage", "key-a", "", body, NULL, NULL), OL_EINVAL);
    json_decref(body);
    ol_ledger_stats st;
    ol_ledger_stats_get(l, &st);
    CHECK_EQ_INT(st.committed, N_THREADS * N_PER + 1);
    CHECK_EQ_INT(st.duplicates, 1);
    CHECK(st.batches >= 2 && st.batches <= st.committed + st.duplicates);
    CHECK(st.healthy);
    ol_ledger_close(l, 10000);
    CHECK_EQ_INT(atomic_load(&c.calls), N_THREADS * N_PER);
    CHECK_EQ_INT(atomic_load(&c.committed), N_THREADS * N_PER);
    CHECK_EQ_INT(atomic_load(&c.failed), 0);
    scan_state s = {.contiguous = true};
    ol_err err = {0};
    CHECK_EQ_INT(ol_ledger_scan(db, 0, 0, count_entry, &s, &err), 0);
    CHECK_EQ_INT(s.n, N_THREADS * N_PER + 1);
    CHECK(s.contiguous);
    verify_ok(N_THREADS * N_PER + 1);
}

/* Appends queued right before close are all committed by it. */
static void test_close_flushes(void) {
    ol_ledger *l = open_ledger();
    CHECK(l != NULL);
    if (!l) return;
    counts c = {0};
    for (int i = 0; i < 300; i++) {
        json_t *body = json_pack("{s:i}", "i", i);
        CHECK_EQ_INT(ol_ledger_append(l, "usage", "", NULL, body, on_done, &c), 0);
        json_decref(body);
    }
    ol_ledger_close(l, 10000);
    CHECK_EQ_INT(atomic_load(&c.committed), 300);
    verify_ok(N_THREADS * N_PER + 1 + 300);
}

/* A file-size limit of one page makes the next WAL frame write fail with EFBIG (a frame is a
 * page plus its header, wherever the WAL restarts). */
static void test_write_failure(void) {
    ol_ledger *l = open_ledger();
    CHECK(l != NULL);
    if (!l) return;
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit lim = {4096, old.rlim_max};
    CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    counts c = {0};
    int64_t before = 0;
    {
        ol_ledger_stats st;
        ol_ledger_stats_get(l, &st);
        before = st.head_seq;
    }
    for (int i = 0; i < 50; i++) {
        json_t *body =
            json_pack("{s:s,s:i}", "pad", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "i", i);
        char rid[32];
        snprintf(rid, sizeof(rid), "fail-%d", i);
        CHECK_EQ_INT(ol_ledger_append(l, "usage", "k", rid, body, on_done, &c), 0);
        json_decref(body);
    }
    for (int i = 0; i < 500 && atomic_load(&c.calls) < 50; i++) usleep(10000);
    CHECK_EQ_INT(atomic_load(&c.failed), 50);
    CHECK(!ol_ledger_healthy(l));
    ol_ledger_stats st;
    ol_ledger_stats_get(l, &st);
    CHECK(st.failures >= 1);
    CHECK_EQ_INT(st.queued, 50);
    CHECK(st.last_error[0] != 0);
    /* writing works again: the kept records go in, once each, and callbacks do not run again */
    CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
    for (int i = 0; i < 500 && !ol_ledger_healthy(l); i++) usleep(10000);
    CHECK(ol_ledger_healthy(l));
    ol_ledger_close(l, 10000);
    CHECK_EQ_INT(atomic_load(&c.calls), 50);
    scan_state s = {.contiguous = true};
    ol_err err = {0};
    CHECK_EQ_INT(ol_ledger_scan(db, 0, 0, count_entry, &s, &err), 0);
    CHECK_EQ_INT(s.n, before + 50);
    CHECK(s.contiguous);
    verify_ok(before + 50);
}

static void test_bad_open(void) {
    ol_ledger_config c;
    ol_ledger_config_default(&c);
    ol_err err = {0};
    c.url = "/nonexistent-dir/x/ledger.db";
    CHECK(ol_ledger_open(&c, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "nonexistent-dir");
    /* a file that is not a database */
    char junk[320];
    snprintf(junk, sizeof(junk), "%s/junk.db", dir);
    FILE *f = fopen(junk, "w");
    fputs("this is not sqlite, just text that is long enough to look like a header..........\n", f);
    fclose(f);
    c.url = junk;
    CHECK(ol_ledger_open(&c, &err) == NULL);
    CHECK(ol_ledger_scan(junk, 0, 0, count_entry, &(scan_state){0}, &err) < 0);
}

int main(void) {
    signal(SIGXFSZ, SIG_IGN);
    snprintf(dir, sizeof(dir), "/tmp/ol_test_ledger_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(db, sizeof(db), "%s/ledger.db", dir);
    snprintf(ckpt, sizeof(ckpt), "%s/ckpt", dir);
    snprintf(key, sizeof(key), "%s/ledger.key", dir);
    test_concurrent();
    test_close_flushes();
    test_write_failure();
    test_bad_open();
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "cleanup failed\n");
    return test_done("test_ledger");
}
