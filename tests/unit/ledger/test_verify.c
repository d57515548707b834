/* tests/unit/ledger/test_verify.c: ol_ledger_verify against SQLite ledgers built here with the
 * sqlite3 API (the store's schema) and then tampered with: an edited field, a deleted row, two rows
 * swapped, a cut tail, a consistently rewritten history, forged / untrusted / malformed
 * checkpoints. Each must name the right seq. */
#define _GNU_SOURCE /* nftw */
#include "ledger/ledger_internal.h"
#include "test.h"

#include <ftw.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_ROWS 6

static char g_root[256];
static EVP_PKEY *g_key, *g_other;
static char g_pub[512], g_other_pub[512];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(p);
}

static void exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sql failed: %s: %s\n", sql, msg);
        CHECK(0);
    }
    sqlite3_free(msg);
}

static void insert(sqlite3 *db, const ol_ledger_entry *e) {
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "INSERT INTO ledger VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &st,
                       NULL);
    sqlite3_bind_int64(st, 1, e->seq);
    sqlite3_bind_int64(st, 2, e->time_ns);
    sqlite3_bind_text(st, 3, e->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, e->key_id, -1, SQLITE_STATIC);
    if (e->request_id) sqlite3_bind_text(st, 5, e->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, e->body, (int)e->body_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, e->prev, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, e->hash, 32, SQLITE_STATIC);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* Rows from..N_ROWS, chained on prev; body_tag changes the bodies (a rewritten history). */
static void append_rows(sqlite3 *db, int from, const uint8_t prev[32], const char *body_tag) {
    uint8_t last[32];
    memcpy(last, prev, 32);
    for (int i = from; i <= N_ROWS; i++) {
        char key_id[32], req[32], body[64];
        snprintf(key_id, sizeof(key_id), "key-%d", i % 2);
        snprintf(req, sizeof(req), "req-%d", i);
        snprintf(body, sizeof(body), "{\"n\":%d,\"tag\":\"%s\"}", i, body_tag);
        ol_ledger_entry e = {.seq = i,
                             .time_ns = 1764320000000000000LL + i * 1000,
                             .kind = i % 3 ? "usage" : "adapter",
                             .key_id = i == 4 ? "" : key_id,
                             .request_id = i % 3 ? req : NULL,
                             .body = body,
                             .body_len = strlen(body)};
        memcpy(e.prev, last, 32);
        ol_ledger_entry_hash(&e, e.hash);
        insert(db, &e);
        memcpy(last, e.hash, 32);
    }
}

static sqlite3 *make_db(const char *name, char *path, int n_rows) {
    snprintf(path, 512, "%s/%s.sqlite", g_root, name);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    exec(db, "CREATE TABLE ledger(seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, kind TEXT NOT "
             "NULL, key_id TEXT NOT NULL, request_id TEXT, body TEXT NOT NULL, prev_hash BLOB NOT "
             "NULL, hash BLOB NOT NULL)");
    static const uint8_t zeros[32];
    if (n_rows) append_rows(db, 1, zeros, "orig");
    if (n_rows < N_ROWS) {
        char sql[64];
        snprintf(sql, sizeof(sql), "DELETE FROM ledger WHERE seq > %d", n_rows);
        exec(db, sql);
    }
    return db;
}

static void hash_at(sqlite3 *db, int seq, uint8_t h[32]) {
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT hash FROM ledger WHERE seq = ?1", -1, &st, NULL);
    sqlite3_bind_int(st, 1, seq);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    memcpy(h, sqlite3_column_blob(st, 0), 32);
    sqlite3_finalize(st);
}

/* A checkpoint of the first size entries, signed by key, in <root>/<name>.cp. */
static const char *checkpoint(sqlite3 *db, const char *name, EVP_PKEY *key, int size) {
    static char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s.cp", g_root, name);
    uint8_t h[32] = {0};
    if (size) hash_at(db, size, h);
    ol_err err = {0};
    CHECK_EQ_INT(ol_ledger_checkpoint_write(dir, key, size, h, 1000 + size, &err), 0);
    return dir;
}

/* Verify path/dir trusting g_key's public key; check the verdict and the problem's words. */
static void expect(const char *path, const char *dir, int64_t bad_seq, const char *words) {
    const char *keys[] = {g_pub};
    ol_ledger_verify_result r;
    ol_err err = {0};
    CHECK_EQ_INT(ol_ledger_verify(path, dir, keys, 1, &r, &err), 0);
    CHECK_EQ_INT(r.bad_seq, bad_seq);
    if (words) CHECK_STR_CONTAINS(r.problem, words);
    if (r.bad_seq != bad_seq || (words && !strstr(r.problem, words)))
        fprintf(stderr, "  %s: problem was: %s\n", path, r.problem);
}

static void test_clean(void) {
    char path[512];
    sqlite3 *db = make_db("clean", path, N_ROWS);
    const char *dir = checkpoint(db, "clean", g_key, 0);
    checkpoint(db, "clean", g_key, 2);
    checkpoint(db, "clean", g_key, N_ROWS);
    const char *keys[] = {g_pub};
    ol_ledger_verify_result r;
    ol_err err = {0};
    CHECK_EQ_INT(ol_ledger_verify(path, dir, keys, 1, &r, &err), 0);
    CHECK_EQ_INT(r.bad_seq, 0);
    CHECK_EQ_INT(r.n_entries, N_ROWS);
    CHECK_EQ_INT(r.head_seq, N_ROWS);
    CHECK_EQ_INT(r.n_checkpoints, 3);
    uint8_t h[32];
    hash_at(db, N_ROWS, h);
    CHECK(memcmp(r.head, h, 32) == 0);
    expect(path, NULL, 0, NULL);
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", g_root);
    expect(path, missing, 0, NULL);
    /* No checkpoints and no keys is fine: there is nothing to trust. */
    CHECK_EQ_INT(ol_ledger_verify(path, missing, NULL, 0, &r, &err), 0);
    CHECK_EQ_INT(r.bad_seq, 0);
    sqlite3_close(db);

    db = make_db("empty", path, 0);
    dir = checkpoint(db, "empty", g_key, 0);
    CHECK_EQ_INT(ol_ledger_verify(path, dir, keys, 1, &r, &err), 0);
    CHECK_EQ_INT(r.bad_seq, 0);
    CHECK_EQ_INT(r.n_entries, 0);
    CHECK_EQ_INT(r.n_checkpoints, 1);
    sqlite3_close(db);
}

static void test_tamper(void) {
    char path[512];
    sqlite3 *db = make_db("edit", path, N_ROWS);
    exec(db, "UPDATE ledger SET body = '{\"n\":3,\"tag\":\"forged\"}' WHERE seq = 3");
    expect(path, NULL, 3, "seq 3: contents do not match its hash");
    sqlite3_close(db);

    db = make_db("edit_time", path, N_ROWS);
    exec(db, "UPDATE ledger SET time_ns = time_ns + 1 WHERE seq = 5");
    expect(path, NULL, 5, "seq 5: contents do not match");
    sqlite3_close(db);

    db = make_db("edit_hash", path, N_ROWS); /* the stored hash itself: seq 5, not 6 */
    exec(db, "UPDATE ledger SET hash = zeroblob(32) WHERE seq = 5");
    expect(path, NULL, 5, "seq 5:");
    sqlite3_close(db);

    db = make_db("delete", path, N_ROWS);
    exec(db, "DELETE FROM ledger WHERE seq = 3");
    expect(path, NULL, 3, "seq 3: missing (deleted); the next entry is seq 4");
    sqlite3_close(db);

    db = make_db("delete_first", path, N_ROWS);
    exec(db, "DELETE FROM ledger WHERE seq <= 2");
    expect(path, NULL, 1, "seq 1: missing (deleted); the next entry is seq 3");
    sqlite3_close(db);

    db = make_db("swap", path, N_ROWS); /* rows 3 and 4 trade places, seq numbers stay */
    exec(db, "UPDATE ledger SET seq = -3 WHERE seq = 3; UPDATE ledger SET seq = 3 WHERE seq = 4;"
             "UPDATE ledger SET seq = 4 WHERE seq = -3");
    expect(path, NULL, 3, "seq 3: does not link to seq 2 (reordered or inserted)");
    sqlite3_close(db);

    db = make_db("swap_data", path, N_ROWS); /* contents swapped, hash columns left in place */
    exec(db, "CREATE TEMP TABLE t AS SELECT * FROM ledger WHERE seq IN (3, 4);"
             "UPDATE ledger SET (time_ns, kind, key_id, request_id, body) = (SELECT time_ns, "
             "kind, key_id, request_id, body FROM t WHERE t.seq = 7 - ledger.seq) "
             "WHERE seq IN (3, 4)");
    expect(path, NULL, 3, "seq 3: contents do not match its hash");
    sqlite3_close(db);
}

static void test_checkpoints(void) {
    char path[512];
    sqlite3 *db = make_db("truncate", path, N_ROWS);
    checkpoint(db, "truncate", g_key, 2);
    const char *dir = checkpoint(db, "truncate", g_key, N_ROWS);
    exec(db, "DELETE FROM ledger WHERE seq > 4");
    expect(path, dir, 5,
           "ledger truncated: checkpoint checkpoint-000000000006.json signed 6 entries, the ledger "
           "ends at seq 4");
    expect(path, NULL, 0, NULL); /* without checkpoints a cut tail cannot be seen */
    exec(db, "DELETE FROM ledger");
    expect(path, dir, 1, "the ledger is empty");
    sqlite3_close(db);

    /* Row 3 edited and every hash from there recomputed: the chain is consistent, only the
     * checkpoints see it. The one at 2 still matches; the one at 5 names seq 5. */
    db = make_db("rewrite", path, N_ROWS);
    checkpoint(db, "rewrite", g_key, 2);
    dir = checkpoint(db, "rewrite", g_key, 5);
    uint8_t h2[32];
    hash_at(db, 2, h2);
    exec(db, "DELETE FROM ledger WHERE seq >= 3");
    append_rows(db, 3, h2, "rewritten");
    expect(path, NULL, 0, NULL);
    expect(path, dir, 5,
           "seq 5: differs from signed checkpoint checkpoint-000000000005.json (history "
           "rewritten at or before seq 5)");
    sqlite3_close(db);
}

static void test_checkpoint_files(void) {
    char path[512], file[600];
    sqlite3 *db = make_db("untrusted", path, N_ROWS);
    const char *dir = checkpoint(db, "untrusted", g_other, 4);
    expect(path, dir, 4, "checkpoint checkpoint-000000000004.json: signed by key");
    expect(path, dir, 4, "not a trusted key");
    const char *both[] = {g_pub, g_other_pub};
    ol_ledger_verify_result r;
    ol_err err = {0};
    CHECK_EQ_INT(ol_ledger_verify(path, dir, both, 2, &r, &err), 0);
    CHECK_EQ_INT(r.bad_seq, 0);
    CHECK_EQ_INT(r.n_checkpoints, 1);
    CHECK_EQ_INT(ol_ledger_verify(path, dir, NULL, 0, &r, &err), 0);
    CHECK_EQ_INT(r.bad_seq, 4);
    CHECK_STR_CONTAINS(r.problem, "no public key was given");
    sqlite3_close(db);

    db = make_db("forged", path, N_ROWS);
    dir = checkpoint(db, "forged", g_key, 3);
    snprintf(file, sizeof(file), "%s/checkpoint-000000000003.json", dir);
    json_t *o = json_load_file(file, 0, NULL);
    json_object_set_new(o, "time_ns", json_integer(7)); /* any signed field */
    json_dump_file(o, file, 0);
    json_decref(o);
    expect(path, dir, 3, "checkpoint checkpoint-000000000003.json: signature does not verify");
    sqlite3_close(db);

    db = make_db("malformed", path, N_ROWS);
    dir = checkpoint(db, "malformed", g_key, 3);
    snprintf(file, sizeof(file), "%s/checkpoint-000000000009.json", dir);
    FILE *f = fopen(file, "w");
    fputs("{\"version\":1,\"size\":9,\"head\":12}", f);
    fclose(f);
    expect(path, dir, 9, "checkpoint checkpoint-000000000009.json: malformed");
    f = fopen(file, "w");
    fputs("{\"version\":1,\"size\":\"9\"}", f);
    fclose(f);
    expect(path, dir, 1, "size is unknown");
    /* A chain fault below the checkpoint file's seq wins. */
    exec(db, "UPDATE ledger SET kind = 'usage' WHERE seq = 3");
    snprintf(file, sizeof(file), "%s/checkpoint-000000000009.json", dir);
    f = fopen(file, "w");
    fputs("{\"version\":1,\"size\":9,\"head\":12}", f);
    fclose(f);
    expect(path, dir, 3, "seq 3: contents do not match");
    sqlite3_close(db);
}

/* Could not run: a key that is no key, a store that does not exist. */
static void test_errors(void) {
    char path[512], bad_key[512];
    sqlite3 *db = make_db("errors", path, N_ROWS);
    sqlite3_close(db);
    snprintf(bad_key, sizeof(bad_key), "%s/not-a-key.pem", g_root);
    const char *keys[] = {bad_key};
    ol_ledger_verify_result r;
    ol_err err = {0};
    CHECK(ol_ledger_verify(path, NULL, keys, 1, &r, &err) < 0);
    CHECK_STR_CONTAINS(err.msg, bad_key);
    snprintf(path, sizeof(path), "%s/no-such-ledger.sqlite", g_root);
    CHECK(ol_ledger_verify(path, NULL, NULL, 0, &r, &err) < 0);
}

int main(void) {
    snprintf(g_root, sizeof(g_root), "%s/ol_test_verify_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        return 1;
    }
    char priv[400], other[400];
    snprintf(priv, sizeof(priv), "%s/key.pem", g_root);
    snprintf(other, sizeof(other), "%s/other.pem", g_root);
    snprintf(g_pub, sizeof(g_pub), "%s.pub", priv);
    snprintf(g_other_pub, sizeof(g_other_pub), "%s.pub", other);
    ol_err err = {0};
    g_key = ol_ledger_key_load_or_create(priv, &err);
    g_other = ol_ledger_key_load_or_create(other, &err);
    CHECK(g_key && g_other);
    if (g_key && g_other) {
        test_clean();
        test_tamper();
        test_checkpoints();
        test_checkpoint_files();
        test_errors();
    }
    EVP_PKEY_free(g_key);
    EVP_PKEY_free(g_other);
    if (!getenv("OL_TEST_KEEP"))
        nftw(g_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    else
        printf("kept %s\n", g_root);
    return test_done("test_verify");
}
