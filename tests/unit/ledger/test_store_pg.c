/* tests/unit/ledger/test_store_pg.c: the PostgreSQL ledger store against the live server named by
 * OL_TEST_PG_URL (ctest ledger/test_store_pg_live starts a throwaway one with tests/e2e/pgtemp.py):
 * schema, appends, dedup, rollback, scan order, time filter and paging, exact round-trips,
 * hostile rows, two stores serializing on the append lock, reconnecting after the connection
 * drops. Works in a schema of its own, dropped at the end. Skipped without the variable. */
#include "ledger/ledger_internal.h"
#include "test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define N_PAGED 2500 /* more than two scan pages */

static char g_url[2048];  /* OL_TEST_PG_URL with search_path set to g_schema */
static char g_schema[64]; /* ol_test_store_pg_<pid> */
static PGconn *g_admin;   /* a plain libpq connection, search_path = g_schema */

/* ---- helpers -------------------------------------------------------------------------------- */

/* base with search_path set to schema: a URI gets an options parameter. */
static void url_with_schema(const char *base, const char *schema, char *out, size_t n) {
    snprintf(out, n, "%s%soptions=-c%%20search_path%%3D%s", base, strchr(base, '?') ? "&" : "?",
             schema);
}

static int admin_exec(const char *sql) {
    PGresult *r = PQexec(g_admin, sql);
    const int st = PQresultStatus(r);
    const int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) fprintf(stderr, "admin: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

static long long admin_count(const char *sql) {
    PGresult *r = PQexec(g_admin, sql);
    long long v =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? atoll(PQgetvalue(r, 0, 0)) : -1;
    if (v < 0) fprintf(stderr, "admin: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return v;
}

static int open_store(bool read_only, ol_ledger_store *st, ol_err *err) {
    return ol_ledger_store_open(g_url, read_only, st, err);
}

/* An entry with owned strings; hash bytes cover 0x00 and 0xff. */
typedef struct {
    ol_ledger_entry e;
    char key_id[32], request_id[32], body[256];
} entry;

static void entry_make(entry *x, int64_t seq, int64_t time_ns, const char *key_id,
                       const char *request_id, const uint8_t prev[32]) {
    memset(x, 0, sizeof(*x));
    snprintf(x->key_id, sizeof(x->key_id), "%s", key_id);
    if (request_id) snprintf(x->request_id, sizeof(x->request_id), "%s", request_id);
    snprintf(x->body, sizeof(x->body),
             "{\"n\":%lld,\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \\\" \\\\ \\u0000\"}",
             (long long)seq);
    x->e = (ol_ledger_entry){.seq = seq,
                             .time_ns = time_ns,
                             .kind = "usage",
                             .key_id = x->key_id,
                             .request_id = request_id ? x->request_id : NULL,
                             .body = x->body,
                             .body_len = strlen(x->body)};
    memcpy(x->e.prev, prev, 32);
    for (int i = 0; i < 32; i++) x->e.hash[i] = (uint8_t)(seq * 37 + i * 8 - 1);
}

/* scan collector */
typedef struct {
    int n, stop_after;
    int64_t seq[8];
    bool ordered;
    int64_t last;
    const entry *expect; /* expect[seq - 1], when set */
    int n_mismatch;
} collect;

static int on_entry(void *ud, const ol_ledger_entry *e) {
    collect *c = ud;
    if (e->seq <= c->last) c->ordered = false;
    c->last = e->seq;
    if (c->n < 8) c->seq[c->n] = e->seq;
    c->n++;
    if (c->expect) {
        const ol_ledger_entry *x = &c->expect[e->seq - 1].e;
        bool same = e->time_ns == x->time_ns && !strcmp(e->kind, x->kind) &&
                    !strcmp(e->key_id, x->key_id) && (!e->request_id == !x->request_id) &&
                    (!e->request_id || !strcmp(e->request_id, x->request_id)) &&
                    e->body_len == x->body_len && !memcmp(e->body, x->body, x->body_len) &&
                    !memcmp(e->prev, x->prev, 32) && !memcmp(e->hash, x->hash, 32);
        if (!same) c->n_mismatch++;
    }
    return c->stop_after && c->n == c->stop_after ? 7 : 0;
}

static collect scan(ol_ledger_store *st, int64_t since, int64_t until, const entry *expect) {
    collect c = {.ordered = true, .expect = expect};
    ol_err err = {0};
    int rc = st->scan(st->ctx, since, until, on_entry, &c, &err);
    if (rc) fprintf(stderr, "scan: %d %s\n", rc, err.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK(c.ordered);
    return c;
}

/* ---- cases ---------------------------------------------------------------------------------- */

static entry g_e[4];

/* Empty head, three appends, head, exists, scans with filters, early stop. */
static void test_basic(ol_ledger_store *st) {
    ol_err err = {0};
    int64_t seq = -1;
    uint8_t h[32], zero[32] = {0};
    memset(h, 0xaa, 32);
    CHECK_EQ_INT(st->head(st->ctx, &seq, h, &err), 0);
    CHECK_EQ_INT(seq, 0);
    CHECK(!memcmp(h, zero, 32));

    entry_make(&g_e[0], 1, 100, "k1", "r1", zero);
    entry_make(&g_e[1], 2, 200, "k1", "r2", g_e[0].e.hash);
    entry_make(&g_e[2], 3, 300, "", NULL, g_e[1].e.hash);
    CHECK_EQ_INT(st->begin(st->ctx, &err), 0);
    CHECK_EQ_INT(st->head(st->ctx, &seq, h, &err), 0);
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(st->insert(st->ctx, &g_e[i].e, &err), 0);
    CHECK_EQ_INT(st->exists(st->ctx, "k1", "r2", &err), 1); /* also by this transaction */
    CHECK_EQ_INT(st->commit(st->ctx, &err), 0);

    CHECK_EQ_INT(st->head(st->ctx, &seq, h, &err), 0);
    CHECK_EQ_INT(seq, 3);
    CHECK(!memcmp(h, g_e[2].e.hash, 32));
    CHECK_EQ_INT(st->exists(st->ctx, "k1", "r1", &err), 1);
    CHECK_EQ_INT(st->exists(st->ctx, "k1", "nope", &err), 0);
    CHECK_EQ_INT(st->exists(st->ctx, "k2", "r1", &err), 0);

    collect c = scan(st, 0, 0, g_e);
    CHECK_EQ_INT(c.n, 3);
    CHECK_EQ_INT(c.n_mismatch, 0);
    c = scan(st, 200, 0, g_e);
    CHECK(c.n == 2 && c.seq[0] == 2 && c.seq[1] == 3);
    c = scan(st, 0, 300, g_e);
    CHECK(c.n == 2 && c.seq[0] == 1 && c.seq[1] == 2);
    c = scan(st, 150, 250, g_e);
    CHECK(c.n == 1 && c.seq[0] == 2);
    c = scan(st, 301, 0, NULL);
    CHECK_EQ_INT(c.n, 0);
    collect stop = {.ordered = true, .stop_after = 1};
    CHECK_EQ_INT(st->scan(st->ctx, 0, 0, on_entry, &stop, &err), 7);
    CHECK_EQ_INT(stop.n, 1);
}

/* A rolled-back insert leaves nothing; a duplicate (key_id, request_id), a NUL or bad UTF-8 in
 * the body fail with an error; commit after a failed statement reports the failure. */
static void test_failures(ol_ledger_store *st) {
    ol_err err = {0};
    int64_t seq;
    uint8_t h[32];
    entry x;
    entry_make(&x, 4, 400, "k1", "r4", g_e[2].e.hash);
    CHECK_EQ_INT(st->begin(st->ctx, &err), 0);
    CHECK_EQ_INT(st->insert(st->ctx, &x.e, &err), 0);
    st->rollback(st->ctx);
    CHECK_EQ_INT(st->head(st->ctx, &seq, h, &err), 0);
    CHECK_EQ_INT(seq, 3);
    CHECK_EQ_INT(st->exists(st->ctx, "k1", "r4", &err), 0);

    entry_make(&x, 4, 400, "k1", "r1", g_e[2].e.hash); /* r1 is taken */
    CHECK_EQ_INT(st->begin(st->ctx, &err), 0);
    err = (ol_err){0};
    CHECK_EQ_INT(st->insert(st->ctx, &x.e, &err), OL_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "ledger (postgresql)");
    CHECK_STR_CONTAINS(err.msg, "23505");
    CHECK(st->commit(st->ctx, &err) < 0); /* the transaction failed: commit must not succeed */
    st->rollback(st->ctx);

    static const char nul[] = "{\"a\":\"x\0y\"}", utf8[] = "{\"a\":\"\xff\xfe\"}";
    const char *bad[] = {nul, utf8};
    const size_t bad_len[] = {sizeof(nul) - 1, sizeof(utf8) - 1};
    for (int i = 0; i < 2; i++) {
        entry_make(&x, 4, 400, "k1", "rb", g_e[2].e.hash);
        x.e.body = bad[i], x.e.body_len = bad_len[i];
        CHECK_EQ_INT(st->begin(st->ctx, &err), 0);
        err = (ol_err){0};
        CHECK(st->insert(st->ctx, &x.e, &err) < 0);
        CHECK_STR_CONTAINS(err.msg, "ledger (postgresql)");
        st->rollback(st->ctx);
    }
    CHECK_EQ_INT(st->head(st->ctx, &seq, h, &err), 0);
    CHECK_EQ_INT(seq, 3);
}

/* More rows than a scan page: all come, in order. */
static void test_paging(ol_ledger_store *st) {
    ol_err err = {0};
    int64_t seq;
    uint8_t h[32];
    CHECK_EQ_INT(st->begin(st->ctx, &err), 0);
    CHECK_EQ_INT(st->head(st->ctx, &seq, h, &err), 0);
    int rc = 0;
    for (int i = 0; i < N_PAGED && !rc; i++) {
        entry x;
        char rid[32];
        snprintf(rid, sizeof(rid), "p%d", i);
        entry_make(&x, seq + 1, 1000 + i, "k3", rid, h);
        rc = st->insert(st->ctx, &x.e, &err);
        seq++, memcpy(h, x.e.hash, 32);
    }
    if (rc) fprintf(stderr, "paging insert: %s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(st->commit(st->ctx, &err), 0);
    collect c = scan(st, 0, 0, NULL);
    CHECK_EQ_INT(c.n, 3 + N_PAGED);
    CHECK_EQ_INT(c.last, 3 + N_PAGED);
    c = scan(st, 1000 + 1200, 1000 + 2300, NULL);
    CHECK_EQ_INT(c.n, 1100);
}

static void test_read_only(void) {
    ol_err err = {0};
    ol_ledger_store ro;
    CHECK_EQ_INT(open_store(true, &ro, &err), 0);
    if (!ro.ctx) return;
    int64_t seq;
    uint8_t h[32];
    CHECK_EQ_INT(ro.head(ro.ctx, &seq, h, &err), 0);
    CHECK_EQ_INT(seq, 3 + N_PAGED);
    collect c = scan(&ro, 0, 300, g_e);
    CHECK(c.n == 2 && c.n_mismatch == 0);
    CHECK(ro.begin(ro.ctx, &err) < 0);
    ro.close(ro.ctx);

    /* read-only on a database without the table: an error, not an empty ledger */
    char url[2200];
    url_with_schema(getenv("OL_TEST_PG_URL"), "pg_catalog", url, sizeof(url));
    err = (ol_err){0};
    CHECK_EQ_INT(ol_ledger_store_open(url, true, &ro, &err), OL_ENOENT);
    CHECK_STR_CONTAINS(err.msg, "ledger (postgresql)");
}

typedef struct {
    ol_ledger_store *st;
    int rc;
    atomic_int done;
} begin_job;

static void *begin_thread(void *p) {
    begin_job *j = p;
    ol_err err = {0};
    j->rc = j->st->begin(j->st->ctx, &err);
    atomic_store(&j->done, 1);
    return NULL;
}

/* Two stores on one database: the second begin waits for the first commit, then sees it. */
static void test_two_writers(ol_ledger_store *a) {
    ol_err err = {0};
    ol_ledger_store b;
    CHECK_EQ_INT(open_store(false, &b, &err), 0); /* schema creation again: a no-op */
    if (!b.ctx) return;
    int64_t seq;
    uint8_t h[32];
    CHECK_EQ_INT(a->begin(a->ctx, &err), 0);
    CHECK_EQ_INT(a->head(a->ctx, &seq, h, &err), 0);
    begin_job j = {.st = &b};
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, begin_thread, &j), 0);
    long long waiting = 0;
    for (int i = 0; i < 6000 && waiting < 1; i++) { /* until b waits on the lock (<= 60 s) */
        waiting = admin_count(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
        if (waiting < 1) usleep(10000);
    }
    CHECK_EQ_INT(waiting, 1);
    CHECK_EQ_INT(atomic_load(&j.done), 0);
    entry x;
    entry_make(&x, seq + 1, 5000, "k4", "w1", h);
    CHECK_EQ_INT(a->insert(a->ctx, &x.e, &err), 0);
    CHECK_EQ_INT(a->commit(a->ctx, &err), 0);
    pthread_join(t, NULL);
    CHECK_EQ_INT(j.rc, 0);
    int64_t seq_b;
    CHECK_EQ_INT(b.head(b.ctx, &seq_b, h, &err), 0);
    CHECK_EQ_INT(seq_b, seq + 1); /* b's chain continues a's: no fork */
    CHECK(!memcmp(h, x.e.hash, 32));
    b.rollback(b.ctx);
    b.close(b.ctx);
}

static void kill_store_connections(void) {
    CHECK(admin_count("SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity"
                      " WHERE application_name = 'openlora-ledger'"
                      " AND datname = current_database() AND pid <> pg_backend_pid()") >= 1);
}

/* The server drops the connection: the next call fails cleanly, begin reconnects. */
static void test_reconnect(ol_ledger_store *st) {
    ol_err err = {0};
    int64_t seq, seq0;
    uint8_t h[32];
    CHECK_EQ_INT(st->head(st->ctx, &seq0, h, &err), 0);
    kill_store_connections();
    err = (ol_err){0};
    CHECK(st->head(st->ctx, &seq, h, &err) < 0);
    CHECK_STR_CONTAINS(err.msg, "ledger (postgresql)");
    CHECK_EQ_INT(st->begin(st->ctx, &err), 0);
    CHECK_EQ_INT(st->head(st->ctx, &seq, h, &err), 0);
    CHECK_EQ_INT(seq, seq0);
    st->rollback(st->ctx);

    kill_store_connections(); /* dropped while idle, found by begin itself */
    CHECK_EQ_INT(st->begin(st->ctx, &err), 0);
    CHECK_EQ_INT(st->exists(st->ctx, "k1", "r1", &err), 1);
    st->rollback(st->ctx);
    collect c = scan(st, 0, 0, NULL);
    CHECK_EQ_INT(c.last, seq0);
}

/* Rows edited behind the store's back: hashes of the wrong length, NULL where the schema
 * forbids it. The scan survives and hands out zero-filled hashes. */
static void test_hostile(ol_ledger_store *st) {
    CHECK_EQ_INT(admin_exec("ALTER TABLE ledger DROP CONSTRAINT ledger_hash_check,"
                            " DROP CONSTRAINT ledger_prev_hash_check,"
                            " ALTER COLUMN kind DROP NOT NULL, ALTER COLUMN body DROP NOT NULL"),
                 0);
    CHECK_EQ_INT(admin_exec("UPDATE ledger SET hash = '\\x0102', kind = NULL, body = NULL,"
                            " prev_hash = decode(repeat('ab', 40), 'hex') WHERE seq = 2"),
                 0);
    CHECK_EQ_INT(
        admin_exec("UPDATE ledger SET hash = '' WHERE seq = (SELECT max(seq) FROM ledger)"), 0);
    collect c = {.ordered = true, .stop_after = 2};
    ol_err err = {0};
    CHECK_EQ_INT(st->scan(st->ctx, 0, 0, on_entry, &c, &err), 7);
    int64_t seq;
    uint8_t h[32], zero[32] = {0};
    CHECK_EQ_INT(st->head(st->ctx, &seq, h, &err), 0);
    CHECK(!memcmp(h, zero, 32));
    c = scan(st, 0, 0, NULL);
    CHECK_EQ_INT(c.last, seq);
}

typedef struct {
    uint8_t hash[32], prev[32];
    const char *kind;
    size_t body_len;
} seq2;

static int grab_seq2(void *ud, const ol_ledger_entry *e) {
    seq2 *g = ud;
    if (e->seq != 2) return 0;
    memcpy(g->hash, e->hash, 32);
    memcpy(g->prev, e->prev, 32);
    g->kind = strcmp(e->kind, "") ? "x" : "";
    g->body_len = e->body_len;
    return 1;
}

static void test_hostile_values(ol_ledger_store *st) {
    seq2 g = {.kind = "?"};
    ol_err err = {0};
    CHECK_EQ_INT(st->scan(st->ctx, 0, 0, grab_seq2, &g, &err), 1);
    uint8_t want_hash[32] = {1, 2}, want_prev[32];
    memset(want_prev, 0xab, 32);
    CHECK(!memcmp(g.hash, want_hash, 32));
    CHECK(!memcmp(g.prev, want_prev, 32));
    CHECK(!strcmp(g.kind, ""));
    CHECK_EQ_INT(g.body_len, 0);
}

/* ---- main ----------------------------------------------------------------------------------- */

static int setup(const char *base) {
    snprintf(g_schema, sizeof(g_schema), "ol_test_store_pg_%d", (int)getpid());
    url_with_schema(base, g_schema, g_url, sizeof(g_url));
    PGconn *c = PQconnectdb(base);
    char sql[256];
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", g_schema);
    PGresult *r = PQexec(c, sql);
    const int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "setup: %s%s", PQerrorMessage(c), PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    if (!ok) return -1;
    g_admin = PQconnectdb(g_url);
    if (PQstatus(g_admin) != CONNECTION_OK) return -1;
    return admin_exec("SET client_min_messages = error"); /* no NOTICEs from the admin's DDL */
}

static void teardown(void) {
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", g_schema);
    CHECK_EQ_INT(admin_exec(sql), 0);
    PQfinish(g_admin);
}

int main(void) {
    const char *base = getenv("OL_TEST_PG_URL");
    if (!base || !*base) {
        printf("skipped: OL_TEST_PG_URL not set\n");
        return 0;
    }
    if (setup(base)) {
        fprintf(stderr, "cannot prepare schema on OL_TEST_PG_URL\n");
        return 1;
    }
    ol_err err = {0};
    ol_ledger_store st;
    int rc = open_store(false, &st, &err);
    if (rc) fprintf(stderr, "open: %s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    if (!rc) {
        CHECK(!strcmp(st.name, "postgresql"));
        test_basic(&st);
        test_failures(&st);
        test_paging(&st);
        test_read_only();
        test_two_writers(&st);
        test_reconnect(&st);
        test_hostile(&st);
        test_hostile_values(&st);
        st.close(st.ctx);
    }
    teardown();
    return test_done("test_store_pg");
}
