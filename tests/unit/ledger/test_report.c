/* tests/unit/ledger/test_report.c: ol_ledger_report over a SQLite ledger written here row by row
 * (a known workload whose split is worked out by hand below, time filters, hostile bodies that
 * must be skipped and counted), ol_ledger_export as CSV and JSONL, and ol_ledger_time_parse on
 * good and bad input. Hashes are zeros: the report and export do not check the chain. */
#define _GNU_SOURCE
#include "ledger/ledger.h"
#include "test.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#define S  1000000000LL        /* ns per second */
#define T0 1795824000000000000 /* 2026-11-28T00:00:00Z in ns */

#define SHA_A "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"
#define SHA_B "bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222"

/* Adapter objects as the server writes them into usage records; %s is the weight. */
#define ADAPTER_A                                                                                  \
    "{\"name\":\"A\",\"version\":1,\"sha256\":\"" SHA_A "\",\"weight\":%s,\"owner\":\"acme\","     \
    "\"contributors\":[{\"id\":\"alice\",\"share\":0.75},{\"id\":\"bob\",\"share\":0.25}],"        \
    "\"datanet\":null,\"license\":\"mit\"}"
#define ADAPTER_B                                                                                  \
    "{\"name\":\"B\",\"version\":3,\"sha256\":\"" SHA_B "\",\"weight\":%s,\"owner\":\"zed\","      \
    "\"contributors\":[{\"id\":\"carol\",\"share\":1.0}],\"datanet\":\"dn1\",\"license\":null}"
#define ADAPTER_C                                                                                  \
    "{\"name\":\"C\",\"version\":1,\"sha256\":null,\"weight\":0,\"owner\":null,"                   \
    "\"contributors\":[{\"id\":\"dave\",\"share\":0.5}],\"datanet\":null,\"license\":null}"

static sqlite3 *g_db;
static int64_t g_seq;

static void put(int64_t time_ns, const char *kind, const char *request_id, const char *body,
                int body_len) {
    static const uint8_t zeros[32];
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(g_db,
                                "INSERT INTO ledger (seq, time_ns, kind, key_id, request_id, body,"
                                " prev_hash, hash) VALUES (?1, ?2, ?3, '', ?4, ?5, ?6, ?7)",
                                -1, &st, NULL);
    CHECK_EQ_INT(rc, SQLITE_OK);
    sqlite3_bind_int64(st, 1, ++g_seq);
    sqlite3_bind_int64(st, 2, time_ns);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    if (request_id)
        sqlite3_bind_text(st, 4, request_id, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, body, body_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, zeros, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, zeros, 32, SQLITE_STATIC);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* A usage record; adapters is the JSON array's inside. */
static void usage(int64_t time_ns, const char *rid, const char *adapters, int prompt,
                  int completion) {
    char body[4096];
    snprintf(body, sizeof(body),
             "{\"adapters\":[%s],\"cached_tokens\":0,\"completion_tokens\":%d,"
             "\"endpoint\":\"chat.completions\",\"finish_reason\":\"stop\",\"key_id\":\"k1\","
             "\"model\":\"gemma-3-270m\",\"n\":1,\"prompt_tokens\":%d,\"queue_ms\":1.5,"
             "\"request_id\":\"%s\",\"total_ms\":20,\"ttft_ms\":5,\"type\":\"usage\",\"user\":null,"
             "\"v\":1}",
             adapters, completion, prompt, rid);
    put(time_ns, "usage", rid, body, -1);
}

static const char *const HOSTILE[] = {
    "not json",
    "{\"type\":\"usage\",\"completion_tokens\":1,\"adapters\":[]}", /* no prompt_tokens */
    "{\"type\":\"usage\",\"prompt_tokens\":-5,\"completion_tokens\":1,\"adapters\":[]}",
    "{\"type\":\"usage\",\"prompt_tokens\":1.5,\"completion_tokens\":1,\"adapters\":[]}",
    "{\"type\":\"usage\",\"prompt_tokens\":1e30,\"completion_tokens\":1,\"adapters\":[]}",
    "{\"type\":\"usage\",\"prompt_tokens\":99999999999999999999999,\"completion_tokens\":1,"
    "\"adapters\":[]}",
    "{\"type\":\"usage\",\"prompt_tokens\":1,\"completion_tokens\":1,\"adapters\":{}}",
    "{\"type\":\"usage\",\"prompt_tokens\":1,\"completion_tokens\":1,\"adapters\":["
    "{\"name\":\"A\",\"weight\":\"1\"}]}",
    "{\"type\":\"usage\",\"prompt_tokens\":1,\"completion_tokens\":1,\"adapters\":["
    "{\"name\":\"A\",\"weight\":NaN}]}",
    "{\"type\":\"usage\",\"prompt_tokens\":1,\"completion_tokens\":1,\"adapters\":["
    "{\"name\":7,\"weight\":1}]}",
    "{\"type\":\"usage\",\"prompt_tokens\":1,\"completion_tokens\":1,\"adapters\":["
    "{\"name\":\"A\",\"weight\":1,\"contributors\":[{\"id\":\"x\",\"share\":0.9},"
    "{\"id\":\"y\",\"share\":0.6}]}]}", /* shares add up to 1.5 */
    "{\"type\":\"usage\",\"prompt_tokens\":1,\"completion_tokens\":1,\"adapters\":["
    "{\"name\":\"A\",\"weight\":1,\"contributors\":[{\"id\":\"x\",\"share\":-0.5}]}]}",
    "{\"type\":\"usage\",\"prompt_tokens\":1,\"completion_tokens\":1,\"adapters\":["
    "{\"name\":\"A\",\"weight\":1,\"owner\":5}]}",
    "{\"type\":\"usage\",\"prompt_tokens\":1,\"completion_tokens\":1,\"adapters\":["
    "{\"name\":\"A\",\"weight\":1e308},{\"name\":\"B\",\"weight\":1e308}]}", /* sum overflows */
    "{\"type\":\"adapter\",\"prompt_tokens\":1,\"completion_tokens\":1,\"adapters\":[]}",
    "[1,2,3]",
    "{\"a\":\n1}", /* valid JSON over two lines, not a usage record */
    "",
};
#define N_HOSTILE ((int)OL_ARRAY_LEN(HOSTILE))

/* The ledger:
 *   seq 1      t0+1.123456789 s  kind "adapter" (registry record: the report ignores it)
 *   seq 2      t0+2 s   A alone (weight 1), 100 prompt + 300 completion
 *   seq 3      t0+3 s   hostile: "not json"
 *   seq 4      t0+4 s   B alone (weight 1), 50 + 50
 *   seq 5      t0+5 s   merge A:0.5 + B:1.5, 120 + 80
 *   seq 6      t0+6 s   base model, 30 + 10
 *   seq 7..    t0+10 s+ the other hostile bodies, then one with invalid UTF-8
 *   last       t0+100 s C:0 + B:0 (all weights zero: equal split), 60 + 40 */
static int build(const char *path) {
    if (sqlite3_open(path, &g_db) != SQLITE_OK) return -1;
    int rc = sqlite3_exec(g_db,
                          "CREATE TABLE ledger (seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,"
                          " kind TEXT NOT NULL, key_id TEXT NOT NULL, request_id TEXT,"
                          " body TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL)",
                          NULL, NULL, NULL);
    CHECK_EQ_INT(rc, SQLITE_OK);
    char a[1024];
    put(T0 + S + 123456789, "adapter", NULL,
        "{\"name\":\"A\",\"owner\":\"acme\",\"sha256\":\"" SHA_A "\",\"type\":\"adapter\"}", -1);
    snprintf(a, sizeof(a), ADAPTER_A, "1");
    usage(T0 + 2 * S, "r2", a, 100, 300);
    put(T0 + 3 * S, "usage", "r3", HOSTILE[0], -1);
    snprintf(a, sizeof(a), ADAPTER_B, "1");
    usage(T0 + 4 * S, "r4", a, 50, 50);
    int n = snprintf(a, sizeof(a), ADAPTER_A, "0.5");
    snprintf(a + n, sizeof(a) - (size_t)n, "," ADAPTER_B, "1.5");
    usage(T0 + 5 * S, "r5", a, 120, 80);
    usage(T0 + 6 * S, "r6", "", 30, 10);
    for (int i = 1; i < N_HOSTILE; i++) put(T0 + (10 + i) * S, "usage", NULL, HOSTILE[i], -1);
    put(T0 + 40 * S, "usage", NULL, "{\"x\":\"\xff\xfe\"}", -1); /* not UTF-8 */
    n = snprintf(a, sizeof(a), ADAPTER_C ",");
    snprintf(a + n, sizeof(a) - (size_t)n, ADAPTER_B, "0");
    usage(T0 + 100 * S, "r100", a, 60, 40);
    sqlite3_close(g_db);
    return 0;
}

static json_t *find(json_t *arr, const char *key, const char *value) {
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        const char *s = json_string_value(json_object_get(x, key));
        if (s && !strcmp(s, value)) return x;
    }
    return NULL;
}

static double num(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str(json_t *arr, size_t i, const char *k) {
    const char *s = json_string_value(json_object_get(json_array_get(arr, i), k));
    return s ? s : "(null)";
}

static void check_adapter(json_t *rep, const char *name, double requests, double prompt,
                          double completion, double tokens, double revenue) {
    json_t *a = find(json_object_get(rep, "adapters"), "name", name);
    CHECK(a != NULL);
    CHECK_NEAR(num(a, "requests"), requests, 0);
    CHECK_NEAR(num(a, "prompt_tokens"), prompt, 1e-9);
    CHECK_NEAR(num(a, "completion_tokens"), completion, 1e-9);
    CHECK_NEAR(num(a, "tokens"), tokens, 1e-9);
    CHECK_NEAR(num(a, "revenue"), revenue, 1e-12);
}

static void check_person(json_t *rep, const char *section, const char *key, const char *id,
                         double tokens, const char *money, double amount) {
    json_t *x = find(json_object_get(rep, section), key, id);
    CHECK(x != NULL);
    if (!x) fprintf(stderr, "  missing %s '%s'\n", section, id);
    CHECK_NEAR(num(x, "tokens"), tokens, 1e-9);
    CHECK_NEAR(num(x, money), amount, 1e-12);
}

/* The workload t0+0..50 s at 2.0 per 1k tokens, worked out by hand (T = prompt + completion):
 *   seq 2  A alone: T = 100 + 300 = 400          -> A 400
 *   seq 4  B alone: T = 50 + 50 = 100            -> B 100
 *   seq 5  merge:   T = 120 + 80 = 200, |w| sum 0.5 + 1.5 = 2
 *          A gets 200 * 0.5/2 = 50 (prompt 120 * 0.25 = 30, completion 80 * 0.25 = 20)
 *          B gets 200 * 1.5/2 = 150 (prompt 120 * 0.75 = 90, completion 80 * 0.75 = 60)
 *   seq 6  base:    T = 30 + 10 = 40             -> (base) 40
 * Adapters: A 400 + 50 = 450 (prompt 100 + 30 = 130, completion 300 + 20 = 320, 2 requests)
 *           B 100 + 150 = 250 (prompt 50 + 90 = 140, completion 50 + 60 = 110, 2 requests)
 *           (base) 40 (prompt 30, completion 10, 1 request)
 * Contributors: alice = 0.75 * 450 = 337.5, bob = 0.25 * 450 = 112.5, carol = 1.0 * 250 = 250,
 *               (base)         = the base's 40 (it has no contributors)
 * Money = tokens / 1000 * 2.0: A 0.9, B 0.5, (base) 0.08; alice 0.675, bob 0.225, carol 0.5,
 *         (base) 0.08; total 740 / 1000 * 2 = 1.48.
 * Requests 4, prompt 100 + 50 + 120 + 30 = 300, completion 300 + 50 + 80 + 10 = 440. */
static void test_workload(const char *url) {
    ol_ledger_report_params p = {.since_ns = T0, .until_ns = T0 + 50 * S, .price_per_1k = 2.0};
    ol_err err = {0};
    json_t *rep = ol_ledger_report(url, &p, &err);
    CHECK(rep != NULL);
    if (!rep) {
        fprintf(stderr, "  report: %s\n", err.msg);
        return;
    }
    CHECK(!strcmp(json_string_value(json_object_get(rep, "object")), "ledger.report"));
    CHECK_NEAR(num(rep, "since"), (double)T0, 0);
    CHECK_NEAR(num(rep, "requests"), 4, 0);
    CHECK_NEAR(num(rep, "prompt_tokens"), 300, 0);
    CHECK_NEAR(num(rep, "completion_tokens"), 440, 0);
    CHECK_NEAR(num(rep, "total_tokens"), 740, 0);
    CHECK_NEAR(num(rep, "revenue"), 1.48, 1e-12);
    CHECK_NEAR(num(rep, "price_per_1k_tokens"), 2.0, 0);
    CHECK_NEAR(num(rep, "skipped"), N_HOSTILE + 1, 0);
    CHECK_NEAR(num(rep, "first_skipped_seq"), 3, 0);
    check_adapter(rep, "A", 2, 130, 320, 450, 0.9);
    check_adapter(rep, "B", 2, 140, 110, 250, 0.5);
    check_adapter(rep, "(base)", 1, 30, 10, 40, 0.08);
    json_t *ads = json_object_get(rep, "adapters");
    CHECK_EQ_INT(json_array_size(ads), 3);
    CHECK(!strcmp(str(ads, 0, "name"), "A") && !strcmp(str(ads, 1, "name"), "B"));
    CHECK(!strcmp(str(ads, 0, "sha256"), SHA_A) && !strcmp(str(ads, 0, "owner"), "acme"));
    CHECK(!strcmp(str(ads, 2, "owner"), "(base)"));
    CHECK(json_is_null(json_object_get(json_array_get(ads, 2), "sha256")));
    check_person(rep, "owners", "owner", "acme", 450, "revenue", 0.9);
    check_person(rep, "owners", "owner", "zed", 250, "revenue", 0.5);
    check_person(rep, "owners", "owner", "(base)", 40, "revenue", 0.08);
    CHECK_NEAR(num(find(json_object_get(rep, "owners"), "owner", "acme"), "adapters"), 1, 0);
    json_t *cs = json_object_get(rep, "contributors");
    CHECK_EQ_INT(json_array_size(cs), 4);
    check_person(rep, "contributors", "id", "alice", 337.5, "payout", 0.675);
    check_person(rep, "contributors", "id", "bob", 112.5, "payout", 0.225);
    check_person(rep, "contributors", "id", "carol", 250, "payout", 0.5);
    check_person(rep, "contributors", "id", "(base)", 40, "payout", 0.08);
    /* tokens descending */
    CHECK(!strcmp(str(cs, 0, "id"), "alice") && !strcmp(str(cs, 1, "id"), "carol"));
    CHECK(!strcmp(str(cs, 2, "id"), "bob") && !strcmp(str(cs, 3, "id"), "(base)"));
    json_decref(rep);
}

/* Filters: [t0+4 s, t0+6 s) holds seq 4 and 5 only: B 100 + 150 = 250, A 50, so alice 37.5,
 * bob 12.5, carol 250; total 300 tokens, no hostile record. [t0+4 s, t0+5 s): seq 4 alone. */
static void test_filters(const char *url) {
    ol_ledger_report_params p = {
        .since_ns = T0 + 4 * S, .until_ns = T0 + 6 * S, .price_per_1k = -1};
    ol_err err = {0};
    json_t *rep = ol_ledger_report(url, &p, &err);
    CHECK(rep != NULL);
    if (!rep) return;
    CHECK_NEAR(num(rep, "requests"), 2, 0);
    CHECK_NEAR(num(rep, "total_tokens"), 300, 0);
    CHECK_NEAR(num(rep, "skipped"), 0, 0);
    CHECK(json_is_null(json_object_get(rep, "first_skipped_seq")));
    CHECK(json_is_null(json_object_get(rep, "revenue")));
    CHECK(json_is_null(json_object_get(rep, "price_per_1k_tokens")));
    json_t *alice = find(json_object_get(rep, "contributors"), "id", "alice");
    CHECK(json_is_null(json_object_get(alice, "payout")));
    CHECK_NEAR(num(alice, "tokens"), 37.5, 1e-9);
    CHECK_NEAR(num(find(json_object_get(rep, "contributors"), "id", "bob"), "tokens"), 12.5, 1e-9);
    CHECK_NEAR(num(find(json_object_get(rep, "contributors"), "id", "carol"), "tokens"), 250, 1e-9);
    CHECK(find(json_object_get(rep, "adapters"), "name", "(base)") == NULL);
    json_decref(rep);

    p.until_ns = T0 + 5 * S; /* until is exclusive */
    rep = ol_ledger_report(url, &p, &err);
    CHECK(rep != NULL);
    CHECK_NEAR(num(rep, "requests"), 1, 0);
    CHECK_NEAR(num(rep, "total_tokens"), 100, 0);
    CHECK_EQ_INT(json_array_size(json_object_get(rep, "contributors")), 1);
    json_decref(rep);
}

/* The last record, t0+100 s: C:0 + B:0 with T = 60 + 40 = 100, all weights zero -> 50 each.
 * C's contributors: dave 0.5 -> 25, the rest (unattributed) 25; C has no owner -> "(none)".
 * B: carol 50. At 1.0 per 1k: dave 0.025, carol 0.05. */
static void test_equal_split(const char *url) {
    ol_ledger_report_params p = {.since_ns = T0 + 100 * S, .price_per_1k = 1.0};
    ol_err err = {0};
    json_t *rep = ol_ledger_report(url, &p, &err);
    CHECK(rep != NULL);
    if (!rep) return;
    CHECK_NEAR(num(rep, "requests"), 1, 0);
    check_adapter(rep, "C", 1, 30, 20, 50, 0.05);
    check_adapter(rep, "B", 1, 30, 20, 50, 0.05);
    check_person(rep, "contributors", "id", "dave", 25, "payout", 0.025);
    check_person(rep, "contributors", "id", "(unattributed)", 25, "payout", 0.025);
    check_person(rep, "contributors", "id", "carol", 50, "payout", 0.05);
    check_person(rep, "owners", "owner", "(none)", 50, "revenue", 0.05);
    CHECK(json_is_null(json_object_get(rep, "until")));
    json_decref(rep);

    /* the whole ledger: 4 + 1 requests, 740 + 100 tokens */
    p.since_ns = 0;
    rep = ol_ledger_report(url, &p, &err);
    CHECK_NEAR(num(rep, "requests"), 5, 0);
    CHECK_NEAR(num(rep, "total_tokens"), 840, 0);
    json_decref(rep);
    rep = ol_ledger_report(url, NULL, &err); /* NULL params: everything, no money */
    CHECK_NEAR(num(rep, "total_tokens"), 840, 0);
    CHECK(json_is_null(json_object_get(rep, "revenue")));
    json_decref(rep);
}

static void test_errors(const char *dir) {
    char path[512];
    ol_err err = {0};
    snprintf(path, sizeof(path), "%s/missing.db", dir);
    ol_ledger_report_params p = {.price_per_1k = -1};
    CHECK(ol_ledger_report(path, &p, &err) == NULL);
    CHECK(err.code < 0 && err.msg[0]);
    CHECK(access(path, F_OK) != 0); /* a reader creates nothing */
    p.price_per_1k = NAN;
    CHECK(ol_ledger_report(path, &p, &err) == NULL);
    CHECK_EQ_INT(err.code, OL_EINVAL);
}

/* The whole stream written to a temporary file, returned malloc'ed. */
static char *export_all(const char *url, ol_ledger_format fmt, int *rc) {
    FILE *f = tmpfile();
    ol_err err = {0};
    *rc = ol_ledger_export(url, 0, 0, fmt, f, &err);
    if (*rc) fprintf(stderr, "  export: %s\n", err.msg);
    long n = ftell(f);
    char *buf = calloc(1, (size_t)n + 1);
    rewind(f);
    CHECK_EQ_INT(fread(buf, 1, (size_t)n, f), n);
    fclose(f);
    return buf;
}

static void test_export_csv(const char *url) {
    int rc;
    char *csv = export_all(url, OL_LEDGER_CSV, &rc);
    CHECK_EQ_INT(rc, 0);
    const char *zeros = "0000000000000000000000000000000000000000000000000000000000000000";
    char want[512];
    CHECK(!strncmp(csv, "seq,time,kind,key_id,request_id,prev_hash,hash,body\n", 52));
    snprintf(want, sizeof(want),
             "\n1,2026-11-28T00:00:01.123Z,adapter,,,%s,%s,\"{\"\"name\"\":", zeros, zeros);
    CHECK_STR_CONTAINS(csv, want);
    CHECK_STR_CONTAINS(csv, "\n2,2026-11-28T00:00:02.000Z,usage,,r2,");
    CHECK_STR_CONTAINS(csv, ",\"not json\"\n");
    CHECK_STR_CONTAINS(csv, "\"{\"\"a\"\":\n1}\"\n"); /* a line break stays inside the quotes */
    int lines = 0;
    for (const char *p = csv; *p; p++) lines += *p == '\n';
    CHECK_EQ_INT(lines, 1 + g_seq + 1); /* header, one per entry, the quoted line break */
    free(csv);
}

static void test_export_jsonl(const char *url) {
    int rc, n = 0;
    char *text = export_all(url, OL_LEDGER_JSONL, &rc);
    CHECK_EQ_INT(rc, 0);
    for (char *line = text, *nl; *line; line = nl + 1, n++) {
        CHECK((nl = strchr(line, '\n')) != NULL);
        if (!nl) break;
        *nl = 0;
        json_t *j = json_loads(line, 0, NULL);
        CHECK(j != NULL);
        if (!j) fprintf(stderr, "  line %d: %s\n", n + 1, line);
        json_t *body = json_object_get(j, "body");
        CHECK_NEAR(num(j, "seq"), n + 1, 0);
        CHECK_EQ_INT(strlen(json_string_value(json_object_get(j, "hash"))), 64);
        if (n == 0) {
            CHECK(json_is_null(json_object_get(j, "request_id")));
            CHECK(
                !strcmp(json_string_value(json_object_get(j, "time")), "2026-11-28T00:00:01.123Z"));
            CHECK_NEAR(num(j, "time_ns"), (double)(T0 + S + 123456789), 256);
        }
        if (n == 1) {
            CHECK(json_is_object(body));
            CHECK(!strcmp(json_string_value(json_object_get(body, "type")), "usage"));
            CHECK_STR_CONTAINS(line, ",\"body\":{\"adapters\":[{\"name\":\"A\""); /* verbatim */
            CHECK(!strcmp(json_string_value(json_object_get(j, "request_id")), "r2"));
        }
        if (n == 2) CHECK(json_is_string(body) && !strcmp(json_string_value(body), "not json"));
        if (n == 5 + N_HOSTILE) /* seq 6 + N_HOSTILE: invalid UTF-8 */
            CHECK(json_is_string(body) && strstr(json_string_value(body), "\xef\xbf\xbd"));
        json_decref(j);
    }
    CHECK_EQ_INT(n, g_seq);
    free(text);
}

static void test_time_parse(void) {
    static const struct {
        const char *s;
        int64_t ns;
    } good[] = {
        {"0", 0},
        {"1795824000", T0},
        {"1795824000.5", T0 + 500000000},
        {"1795824000.1234567899", T0 + 123456789}, /* past nanoseconds: dropped */
        {"2026-11-28", T0},
        {"2026-11-28T10:00Z", T0 + 10 * 3600 * S},
        {"2026-11-28T10:00:05", T0 + 36005 * S},
        {"2026-11-28t10:00:05.25z", T0 + 36005 * S + 250000000},
        {"2026-11-28 10:00:00+02:00", T0 + 8 * 3600 * S},
        {"2026-11-28T00:30:00.001-01:30", T0 + 2 * 3600 * S + 1000000},
        {"2024-02-29", 1709164800 * S},
        {"1969-12-31T23:59:59Z", -S},
    };
    static const char *const bad[] = {
        "",
        "abc",
        " 1",
        "1 ",
        "-5",
        "+5",
        "1e9",
        ".5",
        "1.",
        "1795824000.x",
        "99999999999",
        "2026-13-01",
        "2026-00-10",
        "2026-02-29",
        "2026-04-31",
        "2026-11-28T24:00",
        "2026-11-28T10",
        "2026-11-28T10:60",
        "2026-11-28T10:00:5",
        "2026-11-28T10:00:00+2",
        "2026-11-28T10:00:00+0200",
        "2026-11-28x",
        "2026-11-28T10:00:00.Z",
        "2026-11-28T10:00:00ZZ",
        "2026-1-1",
        "26-11-28",
        "1000-01-01",
        "9999-12-31",
    };
    for (size_t i = 0; i < OL_ARRAY_LEN(good); i++) {
        int64_t ns = 42;
        int rc = ol_ledger_time_parse(good[i].s, &ns);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(ns, good[i].ns);
        if (rc || ns != good[i].ns) fprintf(stderr, "  input '%s'\n", good[i].s);
    }
    for (size_t i = 0; i < OL_ARRAY_LEN(bad); i++) {
        int64_t ns = 42;
        int rc = ol_ledger_time_parse(bad[i], &ns);
        CHECK_EQ_INT(rc, OL_EINVAL);
        if (rc != OL_EINVAL) fprintf(stderr, "  input '%s' gave %lld\n", bad[i], (long long)ns);
    }
    int64_t ns;
    CHECK_EQ_INT(ol_ledger_time_parse(NULL, &ns), OL_EINVAL);
}

int main(void) {
    char dir[] = "/tmp/ol_test_report_XXXXXX", path[512];
    test_time_parse();
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/ledger.db", dir);
    CHECK_EQ_INT(build(path), 0);
    test_workload(path);
    test_filters(path);
    test_equal_split(path);
    test_errors(dir);
    char url[600];
    snprintf(url, sizeof(url), "sqlite:%s", path);
    test_export_csv(url);
    test_export_jsonl(path);
    unlink(path);
    rmdir(dir);
    return test_done("test_report");
}
