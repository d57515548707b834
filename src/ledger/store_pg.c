/* ledger/store_pg.c: the PostgreSQL ledger store (libpq), for a fleet of servers sharing one
 * ledger. Appends serialize on a transaction-scoped advisory lock, so two servers never fork the
 * chain; scans page through a cursor, so memory stays bounded however long the ledger grows.
 * Parameters and results travel in binary: bytea and bigint round-trip exactly, text unescaped. */
#include "ledger/ledger_internal.h"

#include <libpq-fe.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Advisory lock keys, fixed for every server on a database: "olledger" (APPEND_LOCK, held from
 * begin to commit/rollback) and "olschema" (SCHEMA_LOCK, schema creation) as big-endian ASCII. */
#define APPEND_LOCK_SQL "SELECT pg_advisory_xact_lock(8028911418426746226)"
#define SCAN_PAGE       1000 /* rows per FETCH */
#define STR_(x)         #x
#define STR(x)          STR_(x)
#define SCAN_CURSOR     "ol_ledger_scan"
#define ENTRY_COLUMNS   "seq, time_ns, kind, key_id, request_id, body, prev_hash, hash"

enum { OID_BYTEA = 17, OID_INT8 = 20, OID_TEXT = 25 }; /* pg_type.h, stable across versions */

/* One connection; used by one thread at a time (the store contract). */
typedef struct pg_store {
    PGconn *conn;
    bool read_only;
    bool broken; /* a call found the connection bad: PQreset at the next begin or scan */
} pg_store;

/* One Query message of several statements runs as one implicit transaction, so the lock is
 * held until the schema exists: two servers starting at once do not race on the catalog. */
static const char schema_sql[] =
    "SELECT pg_advisory_xact_lock(8028919106485185889);" /* SCHEMA_LOCK */
    "CREATE TABLE IF NOT EXISTS ledger ("
    " seq bigint PRIMARY KEY CHECK (seq >= 1),"
    " time_ns bigint NOT NULL,"
    " kind text NOT NULL,"
    " key_id text NOT NULL,"
    " request_id text NULL,"
    " body text NOT NULL,"
    " prev_hash bytea NOT NULL CHECK (octet_length(prev_hash) = 32),"
    " hash bytea NOT NULL CHECK (octet_length(hash) = 32));"
    "CREATE UNIQUE INDEX IF NOT EXISTS ledger_key_id_request_id"
    " ON ledger (key_id, request_id) WHERE request_id IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS ledger_time_ns ON ledger (time_ns);";

/* ---- errors ------------------------------------------------------------------------------- */

/* Fill err from a failed result (or the connection when r is NULL) and free r. Constraint and
 * data errors (SQLSTATE classes 23, 22: a duplicate, bad UTF-8, a NUL in text) are OL_EINVAL;
 * everything else, the connection included, is OL_EIO. Returns the code. */
static int fail_result(pg_store *s, PGresult *r, const char *what, ol_err *err) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg || !*msg) msg = r ? PQresultErrorMessage(r) : NULL;
    if (!msg || !*msg) msg = PQerrorMessage(s->conn);
    if (!msg || !*msg) msg = r ? PQresStatus(PQresultStatus(r)) : "out of memory";
    int code = OL_EIO;
    if (state && (!strncmp(state, "23", 2) || !strncmp(state, "22", 2))) code = OL_EINVAL;
    if (PQstatus(s->conn) != CONNECTION_OK) s->broken = true;

    char buf[400]; /* libpq's messages span lines and end with one: make them one line */
    snprintf(buf, sizeof(buf), "%s", msg);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
    if (state)
        ol_err_set(err, code, "ledger (postgresql): %s: %s (SQLSTATE %s)", what, buf, state);
    else
        ol_err_set(err, code, "ledger (postgresql): %s: %s", what, buf);
    PQclear(r);
    return code;
}

/* 0 when r has status want (r kept), else fail_result. */
static int check(pg_store *s, PGresult *r, ExecStatusType want, const char *what, ol_err *err) {
    if (r && PQresultStatus(r) == want) return 0;
    return fail_result(s, r, what, err);
}

static int exec_command(pg_store *s, const char *sql, const char *what, ol_err *err) {
    PGresult *r = PQexec(s->conn, sql);
    int rc = check(s, r, PGRES_COMMAND_OK, what, err);
    if (rc == 0) PQclear(r);
    return rc;
}

static int exec_tuples(pg_store *s, const char *sql, const char *what, ol_err *err) {
    PGresult *r = PQexec(s->conn, sql);
    int rc = check(s, r, PGRES_TUPLES_OK, what, err);
    if (rc == 0) PQclear(r);
    return rc;
}

/* A call other than begin found the connection down: fail now, reset at the next begin. */
static int check_connection(pg_store *s, const char *what, ol_err *err) {
    if (!s->broken && PQstatus(s->conn) == CONNECTION_OK) return 0;
    s->broken = true;
    return fail_result(s, NULL, what, err);
}

static void notice(void *arg, const char *msg) {
    (void)arg;
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n') n--;
    ol_log(OL_LOG_WARN, "ledger (postgresql): %.*s", (int)n, msg);
}

/* ---- connection ---------------------------------------------------------------------------- */

/* Settings for every (re)connected session. synchronous_commit on: commit returns only once
 * the record is durable, whatever the server's default. */
static int session_setup(pg_store *s, ol_err *err) {
    PQsetNoticeProcessor(s->conn, notice, NULL);
    int rc = exec_command(s, "SET synchronous_commit = on; SET client_min_messages = warning",
                          "session setup", err);
    if (rc == 0 && s->read_only)
        rc = exec_command(s, "SET default_transaction_read_only = on", "session setup", err);
    return rc;
}

static int reconnect(pg_store *s, ol_err *err) {
    ol_log(OL_LOG_WARN, "ledger (postgresql): connection lost, reconnecting");
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        s->broken = true;
        return fail_result(s, NULL, "reconnect", err);
    }
    s->broken = false;
    return session_setup(s, err);
}

/* ---- binary values ------------------------------------------------------------------------- */

static void put_be64(char out[8], int64_t v) {
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8) out[i] = (char)(u & 0xff);
}

/* A bigint column of row: 0, or OL_EFORMAT when NULL or not 8 bytes (a tampered schema). */
static int get_i64(const PGresult *r, int row, int col, int64_t *v) {
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8 || PQfformat(r, col) != 1)
        return OL_EFORMAT;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = u << 8 | p[i];
    *v = (int64_t)u;
    return 0;
}

/* A 32-byte hash column: what fits is copied, the rest zeroed, so a stored value of the wrong
 * length gives a hash that verify reports as a mismatch instead of a crash. */
static void get_hash(const PGresult *r, int row, int col, uint8_t out[32]) {
    memset(out, 0, 32);
    if (PQgetisnull(r, row, col)) return;
    int n = PQgetlength(r, row, col);
    memcpy(out, PQgetvalue(r, row, col), (size_t)(n < 32 ? (n > 0 ? n : 0) : 32));
}

/* Text columns: libpq NUL-terminates every value, binary ones too. NULL becomes "" where the
 * schema forbids it (only a tampered table has one), so the hash check reports the row. */
static const char *get_text(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

/* ---- the vtable ----------------------------------------------------------------------------- */

static int pg_begin(void *ctx, ol_err *err) {
    pg_store *s = ctx;
    if (s->read_only)
        return ol_err_set(err, OL_EINVAL, "ledger (postgresql): begin: store opened read-only");
    bool reset = false;
    int rc;
    if (s->broken || PQstatus(s->conn) != CONNECTION_OK) {
        if ((rc = reconnect(s, err))) return rc;
        reset = true;
    }
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE) exec_command(s, "ROLLBACK", "rollback", NULL);
    /* READ COMMITTED whatever the server's default: head must see the commit of the server
     * that held the lock before us, so each statement needs a fresh snapshot. */
    rc = exec_command(s, "BEGIN ISOLATION LEVEL READ COMMITTED", "begin", err);
    if (rc && !reset && s->broken) { /* the connection dropped while idle: one reset, retry */
        if ((rc = reconnect(s, err))) return rc;
        rc = exec_command(s, "BEGIN ISOLATION LEVEL READ COMMITTED", "begin", err);
    }
    if (rc) return rc;
    if ((rc = exec_tuples(s, APPEND_LOCK_SQL, "append lock", err))) {
        exec_command(s, "ROLLBACK", "rollback", NULL);
        return rc;
    }
    return 0;
}

static int pg_head(void *ctx, int64_t *seq, uint8_t hash[32], ol_err *err) {
    pg_store *s = ctx;
    int rc = check_connection(s, "head", err);
    if (rc) return rc;
    PGresult *r = PQexecParams(s->conn, "SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1", 0,
                               NULL, NULL, NULL, NULL, 1);
    if ((rc = check(s, r, PGRES_TUPLES_OK, "head", err))) return rc;
    *seq = 0;
    memset(hash, 0, 32);
    if (PQntuples(r) > 0 && PQnfields(r) == 2) {
        if (get_i64(r, 0, 0, seq)) {
            PQclear(r);
            return ol_err_set(err, OL_EFORMAT, "ledger (postgresql): head: malformed seq");
        }
        get_hash(r, 0, 1, hash);
    }
    PQclear(r);
    return 0;
}

static int pg_exists(void *ctx, const char *key_id, const char *request_id, ol_err *err) {
    pg_store *s = ctx;
    if (!key_id || !request_id) return 0; /* no request id: nothing to deduplicate on */
    int rc = check_connection(s, "exists", err);
    if (rc) return rc;
    const Oid types[2] = {OID_TEXT, OID_TEXT};
    const char *values[2] = {key_id, request_id};
    PGresult *r =
        PQexecParams(s->conn, "SELECT 1 FROM ledger WHERE key_id = $1 AND request_id = $2 LIMIT 1",
                     2, types, values, NULL, NULL, 0);
    if ((rc = check(s, r, PGRES_TUPLES_OK, "exists", err))) return rc;
    rc = PQntuples(r) > 0;
    PQclear(r);
    return rc;
}

static int pg_insert(void *ctx, const ol_ledger_entry *e, ol_err *err) {
    pg_store *s = ctx;
    if (s->read_only)
        return ol_err_set(err, OL_EINVAL, "ledger (postgresql): insert: store opened read-only");
    if (!e->kind || !e->key_id || (!e->body && e->body_len))
        return ol_err_set(err, OL_EINVAL, "ledger (postgresql): insert: missing field");
    if (e->body_len > INT_MAX || strlen(e->kind) > INT_MAX || strlen(e->key_id) > INT_MAX ||
        (e->request_id && strlen(e->request_id) > INT_MAX))
        return ol_err_set(err, OL_ERANGE, "ledger (postgresql): insert: field too long");
    int rc = check_connection(s, "insert", err);
    if (rc) return rc;

    /* All binary: bigint as 8 big-endian bytes, text as its bytes (the server checks they are
     * UTF-8 without NUL), bytea as is. */
    char seq[8], time_ns[8];
    put_be64(seq, e->seq);
    put_be64(time_ns, e->time_ns);
    const Oid types[8] = {OID_INT8, OID_INT8, OID_TEXT,  OID_TEXT,
                          OID_TEXT, OID_TEXT, OID_BYTEA, OID_BYTEA};
    const char *values[8] = {seq,
                             time_ns,
                             e->kind,
                             e->key_id,
                             e->request_id,
                             e->body ? e->body : "",
                             (const char *)e->prev,
                             (const char *)e->hash};
    const int lengths[8] = {8,
                            8,
                            (int)strlen(e->kind),
                            (int)strlen(e->key_id),
                            e->request_id ? (int)strlen(e->request_id) : 0,
                            (int)e->body_len,
                            32,
                            32};
    const int formats[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    PGresult *r = PQexecParams(s->conn,
                               "INSERT INTO ledger (" ENTRY_COLUMNS ")"
                               " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                               8, types, values, lengths, formats, 0);
    if ((rc = check(s, r, PGRES_COMMAND_OK, "insert", err))) return rc;
    PQclear(r);
    return 0;
}

static int pg_commit(void *ctx, ol_err *err) {
    pg_store *s = ctx;
    int rc = check_connection(s, "commit", err);
    if (rc) return rc;
    PGresult *r = PQexec(s->conn, "COMMIT");
    if ((rc = check(s, r, PGRES_COMMAND_OK, "commit", err))) return rc;
    /* COMMIT of a transaction that already failed succeeds as a ROLLBACK. */
    bool committed = !strcmp(PQcmdStatus(r), "COMMIT");
    PQclear(r);
    if (!committed)
        return ol_err_set(err, OL_EIO,
                          "ledger (postgresql): commit: the transaction had failed and was "
                          "rolled back");
    return 0;
}

static void pg_rollback(void *ctx) {
    pg_store *s = ctx;
    if (PQstatus(s->conn) != CONNECTION_OK) {
        s->broken = true;
        return;
    }
    if (PQtransactionStatus(s->conn) != PQTRANS_IDLE) exec_command(s, "ROLLBACK", "rollback", NULL);
}

/* Entries of one fetched page to fn. 0, fn's nonzero value, or a negative error. */
static int scan_page(const PGresult *r, ol_ledger_entry_fn fn, void *ud, ol_err *err) {
    if (PQnfields(r) != 8)
        return ol_err_set(err, OL_EFORMAT, "ledger (postgresql): scan: unexpected columns");
    for (int i = 0; i < PQntuples(r); i++) {
        ol_ledger_entry e = {0};
        if (get_i64(r, i, 0, &e.seq) || get_i64(r, i, 1, &e.time_ns))
            return ol_err_set(err, OL_EFORMAT,
                              "ledger (postgresql): scan: malformed seq or time_ns in a row");
        e.kind = get_text(r, i, 2);
        e.key_id = get_text(r, i, 3);
        e.request_id = PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4);
        e.body = get_text(r, i, 5);
        e.body_len = PQgetisnull(r, i, 5) ? 0 : (size_t)PQgetlength(r, i, 5);
        get_hash(r, i, 6, e.prev);
        get_hash(r, i, 7, e.hash);
        int ret = fn(ud, &e);
        if (ret) return ret;
    }
    return 0;
}

/* A cursor in a REPEATABLE READ transaction: one consistent snapshot, FETCH pages of rows.
 * Inside a transaction the caller opened, the cursor lives in that one and is closed after. */
static int pg_scan(void *ctx, int64_t since_ns, int64_t until_ns, ol_ledger_entry_fn fn, void *ud,
                   ol_err *err) {
    pg_store *s = ctx;
    int rc;
    if ((s->broken || PQstatus(s->conn) != CONNECTION_OK) && (rc = reconnect(s, err))) return rc;
    const bool own = PQtransactionStatus(s->conn) == PQTRANS_IDLE;
    if (own &&
        (rc = exec_command(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "scan", err)))
        return rc;

    char sql[512], where[128] = "";
    if (since_ns && until_ns)
        snprintf(where, sizeof(where), " WHERE time_ns >= %lld AND time_ns < %lld",
                 (long long)since_ns, (long long)until_ns);
    else if (since_ns)
        snprintf(where, sizeof(where), " WHERE time_ns >= %lld", (long long)since_ns);
    else if (until_ns)
        snprintf(where, sizeof(where), " WHERE time_ns < %lld", (long long)until_ns);
    snprintf(sql, sizeof(sql),
             "DECLARE " SCAN_CURSOR " NO SCROLL CURSOR FOR SELECT " ENTRY_COLUMNS
             " FROM ledger%s ORDER BY seq",
             where);
    if ((rc = exec_command(s, sql, "scan", err))) goto fail;

    int ret = 0;
    for (;;) {
        /* Binary results through the extended protocol, whatever the cursor was declared as. */
        PGresult *r = PQexecParams(s->conn, "FETCH " STR(SCAN_PAGE) " FROM " SCAN_CURSOR, 0, NULL,
                                   NULL, NULL, NULL, 1);
        if ((rc = check(s, r, PGRES_TUPLES_OK, "scan", err))) goto fail;
        const int n = PQntuples(r);
        ret = scan_page(r, fn, ud, err);
        PQclear(r);
        if (ret < 0) {
            rc = ret;
            goto fail;
        }
        if (ret || n < SCAN_PAGE) break;
    }
    exec_command(s, own ? "ROLLBACK" : "CLOSE " SCAN_CURSOR, "scan", NULL);
    return ret;

fail:
    if (PQstatus(s->conn) == CONNECTION_OK)
        exec_command(s, own ? "ROLLBACK" : "CLOSE " SCAN_CURSOR, "scan", NULL);
    return rc;
}

static void pg_close(void *ctx) {
    pg_store *s = ctx;
    if (!s) return;
    PQfinish(s->conn); /* an open transaction is rolled back by the server */
    free(s);
}

/* ---- open ----------------------------------------------------------------------------------- */

int ol_ledger_store_pg_open(const char *conninfo, bool read_only, ol_ledger_store *st,
                            ol_err *err) {
    if (!conninfo || !st) return ol_err_set(err, OL_EINVAL, "ledger (postgresql): no conninfo");
    memset(st, 0, sizeof(*st));
    int rc;
    pg_store *s = calloc(1, sizeof(*s));
    if (!s) return ol_err_set(err, OL_ENOMEM, "ledger (postgresql): out of memory");
    s->read_only = read_only;

    /* conninfo (a URI or key=value string) is expanded in place of dbname: its own settings
     * override the defaults before it; client_encoding after it is forced. */
    const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname",
                                "client_encoding", NULL};
    const char *const values[] = {"10", "openlora-ledger", conninfo, "UTF8", NULL};
    s->conn = PQconnectdbParams(keys, values, 1);
    if (!s->conn) {
        rc = ol_err_set(err, OL_ENOMEM, "ledger (postgresql): out of memory");
        goto fail;
    }
    if (PQstatus(s->conn) != CONNECTION_OK) {
        rc = fail_result(s, NULL, "connect", err);
        goto fail;
    }
    if ((rc = session_setup(s, err))) goto fail;
    if (!read_only) {
        if ((rc = exec_command(s, schema_sql, "create schema", err))) goto fail;
    } else {
        PGresult *r = PQexec(s->conn, "SELECT to_regclass('ledger') IS NOT NULL");
        if ((rc = check(s, r, PGRES_TUPLES_OK, "open", err))) goto fail;
        bool found = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
        PQclear(r);
        if (!found) {
            rc = ol_err_set(err, OL_ENOENT,
                            "ledger (postgresql): open: no table \"ledger\" in "
                            "the database");
            goto fail;
        }
    }

    *st = (ol_ledger_store){
        .name = "postgresql",
        .ctx = s,
        .begin = pg_begin,
        .head = pg_head,
        .exists = pg_exists,
        .insert = pg_insert,
        .commit = pg_commit,
        .rollback = pg_rollback,
        .scan = pg_scan,
        .close = pg_close,
    };
    return 0;

fail:
    pg_close(s);
    return rc;
}
