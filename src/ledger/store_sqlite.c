/* ledger/store_sqlite.c: the embedded ledger store. One SQLite file in WAL mode with
 * synchronous=FULL (a commit is on disk when COMMIT returns) and a busy timeout, so readers
 * (verify, report, /v1/usage) and a second writer wait instead of failing. Appends take the
 * write lock with BEGIN IMMEDIATE. Also: the URL dispatcher and ol_ledger_scan. */
#include "ledger/ledger_internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_TIMEOUT_MS 10000

typedef struct sq_store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *head, *exists, *insert;
} sq_store;

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS ledger ("
    " seq INTEGER PRIMARY KEY,"
    " time_ns INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " key_id TEXT NOT NULL,"
    " request_id TEXT,"
    " body TEXT NOT NULL,"
    " prev_hash BLOB NOT NULL,"
    " hash BLOB NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS ledger_request ON ledger(key_id, request_id)"
    " WHERE request_id IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS ledger_time ON ledger(time_ns);";

static int sq_fail(sq_store *s, ol_err *err, const char *what) {
    const int code = sqlite3_errcode(s->db);
    const int rc = code == SQLITE_FULL || code == SQLITE_IOERR ? OL_EIO
                   : code == SQLITE_BUSY                       ? OL_EAGAIN
                                                               : OL_EIO;
    return ol_err_set(err, rc, "ledger (sqlite %s): %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int sq_exec(sq_store *s, const char *sql, ol_err *err) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    int rc = ol_err_set(err, OL_EIO, "ledger (sqlite %s): %s: %s", s->path, sql,
                        msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    return rc;
}

static int sq_begin(void *ctx, ol_err *err) {
    return sq_exec(ctx, "BEGIN IMMEDIATE", err);
}

static int sq_head(void *ctx, int64_t *seq, uint8_t hash[32], ol_err *err) {
    sq_store *s = ctx;
    sqlite3_reset(s->head);
    int rc = sqlite3_step(s->head);
    *seq = 0;
    memset(hash, 0, 32);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(s->head, 0);
        const void *h = sqlite3_column_blob(s->head, 1);
        if (h && sqlite3_column_bytes(s->head, 1) == 32) memcpy(hash, h, 32);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s->head);
    return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "reading the head");
}

static int sq_exists(void *ctx, const char *key_id, const char *request_id, ol_err *err) {
    sq_store *s = ctx;
    sqlite3_reset(s->exists);
    sqlite3_bind_text(s->exists, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s->exists, 2, request_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s->exists);
    sqlite3_reset(s->exists);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "looking up a request id");
}

static int sq_insert(void *ctx, const ol_ledger_entry *e, ol_err *err) {
    sq_store *s = ctx;
    sqlite3_stmt *st = s->insert;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, e->seq);
    sqlite3_bind_int64(st, 2, e->time_ns);
    sqlite3_bind_text(st, 3, e->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->key_id, -1, SQLITE_STATIC);
    if (e->request_id)
        sqlite3_bind_text(st, 5, e->request_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_text(st, 6, e->body, (int)e->body_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, e->prev, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, e->hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "inserting an entry");
}

static int sq_commit(void *ctx, ol_err *err) {
    return sq_exec(ctx, "COMMIT", err);
}

static void sq_rollback(void *ctx) {
    sq_store *s = ctx;
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static const char *col_text(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL
                                                     : (const char *)sqlite3_column_text(st, i);
}

static void col_hash(sqlite3_stmt *st, int i, uint8_t out[32]) {
    memset(out, 0, 32);
    const void *p = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (p) memcpy(out, p, (size_t)OL_MIN(n, 32));
}

static int sq_scan(void *ctx, int64_t since_ns, int64_t until_ns, ol_ledger_entry_fn fn, void *ud,
                   ol_err *err) {
    sq_store *s = ctx;
    sqlite3_stmt *st = NULL;
    /* unbounded sides are left out, so no stored time (even INT64_MAX) hides an entry */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT seq, time_ns, kind, key_id, request_id, body, prev_hash, hash FROM ledger"
             " WHERE %s AND %s ORDER BY seq",
             since_ns ? "time_ns >= ?1" : "?1 IS NULL", until_ns ? "time_ns < ?2" : "?2 IS NULL");
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "preparing a scan");
    if (since_ns) sqlite3_bind_int64(st, 1, since_ns);
    if (until_ns) sqlite3_bind_int64(st, 2, until_ns);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ol_ledger_entry e = {.seq = sqlite3_column_int64(st, 0),
                             .time_ns = sqlite3_column_int64(st, 1),
                             .kind = col_text(st, 2),
                             .key_id = col_text(st, 3),
                             .request_id = col_text(st, 4),
                             .body = col_text(st, 5)};
        if (!e.kind) e.kind = "";
        if (!e.key_id) e.key_id = "";
        if (!e.body) e.body = "";
        e.body_len = (size_t)sqlite3_column_bytes(st, 5);
        col_hash(st, 6, e.prev);
        col_hash(st, 7, e.hash);
        if ((ret = fn(ud, &e))) break;
    }
    if (!ret && rc != SQLITE_DONE) ret = sq_fail(s, err, "scanning");
    sqlite3_finalize(st);
    return ret;
}

static void sq_close(void *ctx) {
    sq_store *s = ctx;
    if (!s) return;
    sqlite3_finalize(s->head);
    sqlite3_finalize(s->exists);
    sqlite3_finalize(s->insert);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static int sq_prepare(sq_store *s, ol_err *err) {
    static const char *const sql[3] = {
        "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1",
        "SELECT 1 FROM ledger WHERE key_id = ?1 AND request_id = ?2",
        ("INSERT INTO ledger (seq, time_ns, kind, key_id, request_id, body, prev_hash, hash)"
         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")};
    sqlite3_stmt **out[3] = {&s->head, &s->exists, &s->insert};
    for (int i = 0; i < 3; i++)
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, out[i], NULL) !=
            SQLITE_OK)
            return sq_fail(s, err, "preparing statements (is this an openlora ledger?)");
    return 0;
}

int ol_ledger_store_sqlite_open(const char *path, bool read_only, ol_ledger_store *st,
                                ol_err *err) {
    sq_store *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return ol_err_set(err, OL_ENOMEM, "ledger: out of memory");
    }
    const int flags =
        (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
        SQLITE_OPEN_NOMUTEX;
    int rc;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = ol_err_set(err, OL_EIO, "ledger (sqlite %s): cannot open: %s", path,
                        s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(s->db, 0);
    if (!read_only &&
        ((rc = sq_exec(s, "PRAGMA journal_mode=WAL", err)) ||
         (rc = sq_exec(s, "PRAGMA synchronous=FULL", err)) || (rc = sq_exec(s, SCHEMA, err))))
        goto fail;
    if (!read_only && sqlite3_db_readonly(s->db, "main") == 1) {
        rc = ol_err_set(err, OL_EIO, "ledger (sqlite %s): the file is read-only", path);
        goto fail;
    }
    if ((rc = sq_prepare(s, err))) goto fail;
    *st = (ol_ledger_store){.name = "sqlite",
                            .ctx = s,
                            .begin = sq_begin,
                            .head = sq_head,
                            .exists = sq_exists,
                            .insert = sq_insert,
                            .commit = sq_commit,
                            .rollback = sq_rollback,
                            .scan = sq_scan,
                            .close = sq_close};
    return 0;
fail:
    sq_close(s);
    return rc;
}

int ol_ledger_store_open(const char *url, bool read_only, ol_ledger_store *st, ol_err *err) {
    if (!url || !*url) return ol_err_set(err, OL_EINVAL, "ledger: empty URL");
    if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11))
        return ol_ledger_store_pg_open(url, read_only, st, err);
    if (!strncmp(url, "sqlite:", 7)) url += 7;
    if (!*url) return ol_err_set(err, OL_EINVAL, "ledger: empty SQLite path");
    return ol_ledger_store_sqlite_open(url, read_only, st, err);
}

int ol_ledger_scan(const char *url, int64_t since_ns, int64_t until_ns, ol_ledger_entry_fn fn,
                   void *ud, ol_err *err) {
    ol_ledger_store st;
    int rc = ol_ledger_store_open(url, true, &st, err);
    if (rc) return rc;
    rc = st.scan(st.ctx, since_ns, until_ns, fn, ud, err);
    st.close(st.ctx);
    return rc;
}
