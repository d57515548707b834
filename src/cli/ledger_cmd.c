/* cli/ledger_cmd.c: `openlora ledger verify|report|export`: check the attribution ledger's hash
 * chain against its signed checkpoints, print tokens and money per adapter, owner and
 * contributor, or dump the entries as CSV / JSONL. Each opens its own read connection from
 * --ledger (a SQLite path or a postgresql:// URL). Exit 0 ok, 1 tampered / failed, 2 usage. */
#include "cli.h"
#include "ledger/ledger.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_LEDGER      "openlora-ledger.db"
#define DEFAULT_CHECKPOINTS "openlora-ledger-checkpoints"
#define DEFAULT_KEY         "openlora-ledger.key"
#define DEFAULT_KEY_PUB     "openlora-ledger.key.pub"
#define MAX_KEYS            16

typedef enum { CMD_VERIFY, CMD_REPORT, CMD_EXPORT } ledger_cmd;

typedef struct ledger_opts {
    ledger_cmd cmd;
    const char *url, *checkpoints, *format, *output;
    const char *keys[MAX_KEYS];
    int n_keys;
    bool checkpoints_given, json;
    int64_t since, until; /* 0: unbounded */
    double price;         /* < 0: none */
} ledger_opts;

static void usage(FILE *f) {
    fprintf(f, "usage: openlora ledger verify|report|export [options]\n"
               "\n"
               "  verify   recompute the hash chain and check it against the signed checkpoints\n"
               "  report   tokens and money per adapter, owner and contributor\n"
               "  export   every entry as CSV or JSON lines\n"
               "\n"
               "Run 'openlora ledger <command> --help' for the options of a command.\n");
}

static void usage_common(FILE *f) {
    fprintf(f, "  --ledger URL       SQLite file or postgresql:// URL (default: $OPENLORA_LEDGER, "
               "else\n"
               "                     " DEFAULT_LEDGER ")\n");
}

static void usage_range(FILE *f) {
    fprintf(f, "  --since T          from time T on (unix seconds, 2026-11-28, or\n"
               "                     2026-11-28T10:00:00Z; no zone means UTC)\n"
               "  --until T          before time T\n");
}

static void usage_cmd(FILE *f, ledger_cmd cmd) {
    if (cmd == CMD_VERIFY) {
        fprintf(f,
                "usage: openlora ledger verify [--ledger URL] [--checkpoints DIR] [--key FILE]... "
                "[--json]\n\n"
                "Recompute the chain from the first entry and check it against every signed "
                "checkpoint.\nExit 0: intact; 1: TAMPERED; 2: could not check.\n");
        usage_common(f);
        fprintf(f, "  --checkpoints DIR  signed checkpoints (default " DEFAULT_CHECKPOINTS ")\n"
                   "  --key FILE         PEM key, private or public, that signed them; "
                   "repeatable\n"
                   "                     (default " DEFAULT_KEY ", else " DEFAULT_KEY_PUB ")\n"
                   "  --json             print the result as JSON\n");
    } else if (cmd == CMD_REPORT) {
        fprintf(f, "usage: openlora ledger report [--ledger URL] [--since T] [--until T]\n"
                   "                              [--price-per-1k-tokens X] [--format "
                   "table|csv|json]\n\n"
                   "Split each request's tokens among its adapters by weight, and each adapter's "
                   "among its\ncontributors by share; with a price, revenue and payouts too.\n");
        usage_common(f);
        usage_range(f);
        fprintf(f, "  --price-per-1k-tokens X  price of 1000 tokens, for revenue and payouts\n"
                   "  --format F         table (default), csv (one table, a 'section' column; "
                   "'amount'\n"
                   "                     is revenue or payout) or json\n");
    } else {
        fprintf(f, "usage: openlora ledger export [--ledger URL] [--since T] [--until T]\n"
                   "                              [--format csv|jsonl] [--output FILE]\n\n"
                   "Write every entry in range, one per line, with its hashes.\n");
        usage_common(f);
        usage_range(f);
        fprintf(f, "  --format F         jsonl (default) or csv\n"
                   "  --output FILE      write there instead of standard output\n");
    }
}

static int time_opt(const char *opt, const char *v, int64_t *ns) {
    if (ol_ledger_time_parse(v, ns) == 0) return 0;
    fprintf(stderr,
            "openlora: %s: '%s' is not a time (unix seconds, 2026-11-28, "
            "2026-11-28T10:00:00Z or 2026-11-28T10:00:00+02:00)\n",
            opt, v);
    return -1;
}

/* --since/--until/--ledger, for every command; hit set when argv[*i] was one of them. */
static int parse_common(int argc, char **argv, int *i, ledger_opts *o, bool *bad, bool *hit) {
    const char *v;
    *hit = true;
    if ((v = ol_cli_opt(argc, argv, i, NULL, "--ledger", bad))) {
        o->url = v;
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--since", bad))) {
        if (o->cmd == CMD_VERIFY) goto no_range;
        return time_opt("--since", v, &o->since);
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--until", bad))) {
        if (o->cmd == CMD_VERIFY) goto no_range;
        return time_opt("--until", v, &o->until);
    } else {
        *hit = false;
    }
    return *bad ? -1 : 0;
no_range:
    fprintf(stderr, "openlora: ledger verify checks the whole chain; --since and --until do not "
                    "apply\n");
    return -1;
}

static int parse_specific(int argc, char **argv, int *i, ledger_opts *o, bool *bad) {
    const char *v;
    ledger_cmd c = o->cmd;
    if (c == CMD_VERIFY && !strcmp(argv[*i], "--json")) {
        o->json = true;
    } else if (c == CMD_VERIFY && (v = ol_cli_opt(argc, argv, i, NULL, "--checkpoints", bad))) {
        o->checkpoints = v, o->checkpoints_given = true;
    } else if (c == CMD_VERIFY && (v = ol_cli_opt(argc, argv, i, NULL, "--key", bad))) {
        if (o->n_keys == MAX_KEYS) {
            fprintf(stderr, "openlora: --key: at most %d keys\n", MAX_KEYS);
            return -1;
        }
        o->keys[o->n_keys++] = v;
    } else if (c == CMD_REPORT &&
               (v = ol_cli_opt(argc, argv, i, NULL, "--price-per-1k-tokens", bad))) {
        return ol_cli_parse_float("--price-per-1k-tokens", v, 0, 1e12, &o->price);
    } else if (c != CMD_VERIFY && (v = ol_cli_opt(argc, argv, i, NULL, "--format", bad))) {
        o->format = v;
    } else if (c == CMD_EXPORT && (v = ol_cli_opt(argc, argv, i, "-o", "--output", bad))) {
        o->output = v;
    } else if (!*bad) {
        fprintf(stderr, "openlora: ledger %s: unknown option '%s' (see --help)\n",
                c == CMD_VERIFY   ? "verify"
                : c == CMD_REPORT ? "report"
                                  : "export",
                argv[*i]);
        return -1;
    }
    return *bad ? -1 : 0;
}

/* 1: --help was given; 0: parsed; -1: bad (message printed). */
static int parse(int argc, char **argv, ledger_opts *o) {
    const char *env = getenv("OPENLORA_LEDGER");
    o->url = env && *env ? env : DEFAULT_LEDGER;
    o->checkpoints = DEFAULT_CHECKPOINTS;
    o->price = -1;
    bool bad = false, hit;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
        if (parse_common(argc, argv, &i, o, &bad, &hit)) return -1;
        if (!hit && parse_specific(argc, argv, &i, o, &bad)) return -1;
    }
    if (o->since && o->until && o->since >= o->until) {
        fprintf(stderr, "openlora: --since must be earlier than --until\n");
        return -1;
    }
    return 0;
}

/* A SQLite ledger must exist: a reader that created an empty one would report a typo as
 * "nothing happened". */
static int ledger_exists(const char *url) {
    if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) return 0;
    const char *path = !strncmp(url, "sqlite:", 7) ? url + 7 : url;
    struct stat st;
    if (stat(path, &st) == 0) return 0;
    fprintf(stderr, "openlora: no ledger at '%s': %s (give --ledger or set OPENLORA_LEDGER)\n",
            path, strerror(errno));
    return -1;
}

static void hex(const uint8_t *b, size_t n, char *out) {
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = 0;
}

/* ---- verify --------------------------------------------------------------------------------- */

static bool is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int verify_print(const ledger_opts *o, const ol_ledger_verify_result *r) {
    char head[65];
    hex(r->head, 32, head);
    if (o->json) {
        json_t *j =
            json_pack("{s:b, s:I, s:I, s:s, s:i, s:o, s:o}", "ok", r->bad_seq == 0, "entries",
                      (json_int_t)r->n_entries, "head_seq", (json_int_t)r->head_seq, "head_hash",
                      head, "checkpoints", r->n_checkpoints, "bad_seq",
                      r->bad_seq ? json_integer(r->bad_seq) : json_null(), "problem",
                      r->bad_seq ? json_string(r->problem) : json_null());
        if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "openlora: ledger verify: could not print the result as JSON\n");
            json_decref(j);
            return 2;
        }
        putchar('\n');
        json_decref(j);
    } else if (r->bad_seq == 0) {
        printf("ok: %lld entries, head seq %lld hash %s, %d checkpoints verified\n",
               (long long)r->n_entries, (long long)r->head_seq, head, r->n_checkpoints);
    } else {
        printf("TAMPERED: %s\nfirst bad seq: %lld\n", r->problem, (long long)r->bad_seq);
    }
    if (r->bad_seq == 0 && r->n_checkpoints == 0 && r->n_entries > 0)
        fprintf(stderr, "openlora: note: no signed checkpoint was checked, so entries removed from "
                        "the end would go unnoticed\n");
    return r->bad_seq ? 1 : 0;
}

static int cmd_verify(ledger_opts *o) {
    struct stat st;
    const char *dir = o->checkpoints;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (o->checkpoints_given) {
            fprintf(stderr, "openlora: --checkpoints: '%s' is not a directory\n", dir);
            return 2;
        }
        dir = NULL; /* the default directory is optional */
    }
    if (o->n_keys == 0 && is_file(DEFAULT_KEY)) o->keys[o->n_keys++] = DEFAULT_KEY;
    if (o->n_keys == 0 && is_file(DEFAULT_KEY_PUB)) o->keys[o->n_keys++] = DEFAULT_KEY_PUB;
    if (ledger_exists(o->url)) return 2;
    ol_ledger_verify_result r = {0};
    ol_err err = {0};
    if (ol_ledger_verify(o->url, dir, o->keys, o->n_keys, &r, &err) < 0) {
        ol_err_prefix(&err, "ledger verify");
        fprintf(stderr, "openlora: %s\n", err.msg);
        return 2;
    }
    return verify_print(o, &r);
}

/* ---- report --------------------------------------------------------------------------------- */

static const char *str_at(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double num_at(json_t *o, const char *k) {
    return json_number_value(json_object_get(o, k));
}

/* Terminal columns of a UTF-8 string, roughly: one per character. */
static int width_of(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

/* s left-aligned in width columns; control bytes (from ledger records) print as '?'. */
static void cell(const char *s, int width) {
    for (const char *p = s; *p; p++) putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
    printf("%*s", OL_MAX(width - width_of(s), 0), "");
}

static int col_width(json_t *arr, const char *key, const char *title) {
    int w = width_of(title);
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) w = OL_MAX(w, width_of(str_at(x, key)));
    return w;
}

static void table_adapters(json_t *arr, bool money) {
    int wn = col_width(arr, "name", "ADAPTER"), wo = col_width(arr, "owner", "OWNER");
    size_t i;
    json_t *a;
    printf("adapters\n  ");
    cell("ADAPTER", wn);
    printf("  %-12s  ", "SHA256");
    cell("OWNER", wo);
    printf("  %8s  %14s  %14s  %14s%s\n", "REQUESTS", "PROMPT", "COMPLETION", "TOKENS",
           money ? "         REVENUE" : "");
    json_array_foreach(arr, i, a) {
        char sha[13];
        snprintf(sha, sizeof(sha), "%s",
                 json_is_string(json_object_get(a, "sha256")) ? str_at(a, "sha256") : "-");
        printf("  ");
        cell(str_at(a, "name"), wn);
        printf("  ");
        cell(sha, 12);
        printf("  ");
        cell(str_at(a, "owner"), wo);
        printf("  %8lld  %14.3f  %14.3f  %14.3f", (long long)num_at(a, "requests"),
               num_at(a, "prompt_tokens"), num_at(a, "completion_tokens"), num_at(a, "tokens"));
        if (money) printf("  %14.6f", num_at(a, "revenue"));
        putchar('\n');
    }
    if (json_array_size(arr) == 0) printf("  (none)\n");
}

/* Owners and contributors: name, [count,] tokens, [money]. */
static void table_simple(const char *title, json_t *arr, const char *key, const char *head,
                         const char *count, const char *amount) {
    int wn = col_width(arr, key, head);
    size_t i;
    json_t *x;
    printf("%s\n  ", title);
    cell(head, wn);
    if (count) printf("  %8s", "ADAPTERS");
    printf("  %14s", "TOKENS");
    if (amount) printf("  %14s", !strcmp(amount, "payout") ? "PAYOUT" : "REVENUE");
    putchar('\n');
    json_array_foreach(arr, i, x) {
        printf("  ");
        cell(str_at(x, key), wn);
        if (count) printf("  %8lld", (long long)num_at(x, count));
        printf("  %14.3f", num_at(x, "tokens"));
        if (amount) printf("  %14.6f", num_at(x, amount));
        putchar('\n');
    }
    if (json_array_size(arr) == 0) printf("  (none)\n");
}

static void print_table(json_t *rep) {
    bool money = json_is_number(json_object_get(rep, "price_per_1k_tokens"));
    table_adapters(json_object_get(rep, "adapters"), money);
    printf("\n");
    table_simple("owners", json_object_get(rep, "owners"), "owner", "OWNER", "adapters",
                 money ? "revenue" : NULL);
    printf("\n");
    table_simple("contributors", json_object_get(rep, "contributors"), "id", "CONTRIBUTOR", NULL,
                 money ? "payout" : NULL);
    printf("\ntotal: %lld requests, %lld prompt + %lld completion = %lld tokens",
           (long long)num_at(rep, "requests"), (long long)num_at(rep, "prompt_tokens"),
           (long long)num_at(rep, "completion_tokens"), (long long)num_at(rep, "total_tokens"));
    if (money)
        printf(", revenue %.6f at %g per 1k tokens", num_at(rep, "revenue"),
               num_at(rep, "price_per_1k_tokens"));
    printf("\n");
}

/* RFC 4180 field: quoted when it holds a comma, quote or line break. */
static void csv_str(const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* One row: section, name, sha256, owner, then the numeric columns as preformatted text. */
static void csv_row(const char *section, const char *name, const char *sha, const char *owner,
                    const char *nums) {
    printf("%s,", section);
    csv_str(name);
    putchar(',');
    csv_str(sha);
    putchar(',');
    csv_str(owner);
    printf(",%s\n", nums);
}

static void money_col(char *buf, size_t cap, json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    if (json_is_number(v))
        snprintf(buf, cap, "%.6f", json_number_value(v));
    else
        buf[0] = 0;
}

static void print_csv(json_t *rep) {
    char nums[256], m[64];
    size_t i;
    json_t *x;
    printf("section,name,sha256,owner,requests,adapters,prompt_tokens,completion_tokens,tokens,"
           "amount\n");
    json_array_foreach(json_object_get(rep, "adapters"), i, x) {
        money_col(m, sizeof(m), x, "revenue");
        snprintf(nums, sizeof(nums), "%lld,,%.3f,%.3f,%.3f,%s", (long long)num_at(x, "requests"),
                 num_at(x, "prompt_tokens"), num_at(x, "completion_tokens"), num_at(x, "tokens"),
                 m);
        csv_row("adapter", str_at(x, "name"), str_at(x, "sha256"), str_at(x, "owner"), nums);
    }
    json_array_foreach(json_object_get(rep, "owners"), i, x) {
        money_col(m, sizeof(m), x, "revenue");
        snprintf(nums, sizeof(nums), ",%lld,,,%.3f,%s", (long long)num_at(x, "adapters"),
                 num_at(x, "tokens"), m);
        csv_row("owner", str_at(x, "owner"), "", str_at(x, "owner"), nums);
    }
    json_array_foreach(json_object_get(rep, "contributors"), i, x) {
        money_col(m, sizeof(m), x, "payout");
        snprintf(nums, sizeof(nums), ",,,,%.3f,%s", num_at(x, "tokens"), m);
        csv_row("contributor", str_at(x, "id"), "", "", nums);
    }
    money_col(m, sizeof(m), rep, "revenue");
    snprintf(nums, sizeof(nums), "%lld,%zu,%lld,%lld,%lld,%s", (long long)num_at(rep, "requests"),
             json_array_size(json_object_get(rep, "adapters")),
             (long long)num_at(rep, "prompt_tokens"), (long long)num_at(rep, "completion_tokens"),
             (long long)num_at(rep, "total_tokens"), m);
    csv_row("total", "", "", "", nums);
}

static int cmd_report(const ledger_opts *o) {
    const char *f = o->format ? o->format : "table";
    if (strcmp(f, "table") && strcmp(f, "csv") && strcmp(f, "json")) {
        fprintf(stderr, "openlora: --format: '%s' is not table, csv or json\n", f);
        return 2;
    }
    if (ledger_exists(o->url)) return 1;
    ol_ledger_report_params p = {
        .since_ns = o->since, .until_ns = o->until, .price_per_1k = o->price};
    ol_err err = {0};
    json_t *rep = ol_ledger_report(o->url, &p, &err);
    if (!rep) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        return 1;
    }
    if (!strcmp(f, "table")) {
        print_table(rep);
    } else if (!strcmp(f, "csv")) {
        print_csv(rep);
    } else {
        json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        putchar('\n');
    }
    if (num_at(rep, "skipped") > 0)
        fprintf(stderr,
                "openlora: warning: skipped %lld malformed usage records (first at seq %lld)\n",
                (long long)num_at(rep, "skipped"), (long long)num_at(rep, "first_skipped_seq"));
    json_decref(rep);
    return 0;
}

/* ---- export --------------------------------------------------------------------------------- */

static int cmd_export(const ledger_opts *o) {
    const char *f = o->format ? o->format : "jsonl";
    ol_ledger_format fmt = OL_LEDGER_JSONL;
    if (!strcmp(f, "csv"))
        fmt = OL_LEDGER_CSV;
    else if (strcmp(f, "jsonl")) {
        fprintf(stderr, "openlora: --format: '%s' is not csv or jsonl\n", f);
        return 2;
    }
    if (ledger_exists(o->url)) return 1;
    bool to_file = o->output && strcmp(o->output, "-");
    FILE *out = to_file ? fopen(o->output, "w") : stdout;
    if (!out) {
        fprintf(stderr, "openlora: --output: cannot write '%s': %s\n", o->output, strerror(errno));
        return 1;
    }
    ol_err err = {0};
    int rc = ol_ledger_export(o->url, o->since, o->until, fmt, out, &err);
    if (to_file && fclose(out) != 0 && !rc)
        rc = ol_err_set(&err, OL_EIO, "error writing '%s': %s", o->output, strerror(errno));
    if (rc) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        /* a truncated export must not pass for a whole one */
        if (to_file && is_file(o->output) && unlink(o->output) == 0)
            fprintf(stderr, "openlora: removed the incomplete '%s'\n", o->output);
        return 1;
    }
    return 0;
}

int ol_cli_ledger(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    ledger_opts o = {0};
    if (!strcmp(argv[1], "verify")) {
        o.cmd = CMD_VERIFY;
    } else if (!strcmp(argv[1], "report")) {
        o.cmd = CMD_REPORT;
    } else if (!strcmp(argv[1], "export")) {
        o.cmd = CMD_EXPORT;
    } else {
        fprintf(stderr, "openlora: unknown ledger command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    int rc = parse(argc, argv, &o);
    if (rc == 1) usage_cmd(stdout, o.cmd);
    if (rc) return rc == 1 ? 0 : 2;
    if (o.cmd == CMD_VERIFY) return cmd_verify(&o);
    return o.cmd == CMD_REPORT ? cmd_report(&o) : cmd_export(&o);
}
