/* ledger/report.c: the readers that need no key: the attribution report (tokens and money per
 * adapter, owner and contributor, from the usage records), the CSV / JSONL export, and the time
 * parser behind --since/--until. Both stream through ol_ledger_scan; the report's memory grows
 * with the number of distinct adapters, owners and contributors, never with the records. */
#include "ledger/ledger_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_S   1000000000LL
#define SHARE_TOL  1e-6
#define MAX_TOKENS (1LL << 32) /* per record and field: more is hostile, and totals stay int64 */
#define TIME_CAP   80          /* room for any struct tm, not just years 1678..2262 */

/* ---- a string-keyed table of rows ---------------------------------------------------------- */

/* One line of the report. The key is the identity: an adapter's is name \0 tag sha256, where
 * tag is 's' (sha256 follows), 'n' (no sha256) or 'b' (the "(base)" pseudo-adapter), so no real
 * adapter collides with the base; owners and contributors are keyed by their name alone. */
typedef struct row {
    char *key; /* NUL-terminated after key_len bytes; name is its first string */
    size_t key_len;
    const char *name, *sha; /* into key; sha NULL when absent */
    char *owner;            /* adapters: the owner of the first record seen */
    int64_t requests, n_adapters;
    double prompt, completion, tokens; /* fractional: a merge splits a request's tokens */
} row;

typedef struct table {
    row **slots; /* open addressing, linear probing; cap a power of two, at most half full */
    size_t cap, n;
} table;

static void table_free(table *t) {
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i]) {
            free(t->slots[i]->key);
            free(t->slots[i]->owner);
            free(t->slots[i]);
        }
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static int table_grow(table *t) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    row **slots = calloc(cap, sizeof(*slots));
    if (!slots) return OL_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        row *r = t->slots[i];
        if (!r) continue;
        size_t j = ol_hash_fnv1a(r->key, r->key_len, 0) & (cap - 1);
        while (slots[j]) j = (j + 1) & (cap - 1);
        slots[j] = r;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

/* The row for key, created zeroed (*created set) when new. NULL when out of memory. */
static row *table_get(table *t, const char *key, size_t len, bool *created) {
    *created = false;
    if (2 * (t->n + 1) > t->cap && table_grow(t)) return NULL;
    size_t mask = t->cap - 1, i = ol_hash_fnv1a(key, len, 0) & mask;
    for (; t->slots[i]; i = (i + 1) & mask)
        if (t->slots[i]->key_len == len && !memcmp(t->slots[i]->key, key, len)) return t->slots[i];
    row *r = calloc(1, sizeof(*r));
    char *k = malloc(len + 1);
    if (!r || !k) {
        free(r);
        free(k);
        return NULL;
    }
    memcpy(k, key, len);
    k[len] = 0;
    r->key = k, r->key_len = len, r->name = k;
    t->slots[i] = r;
    t->n++;
    *created = true;
    return r;
}

static row *table_get_str(table *t, const char *s) {
    bool created;
    return table_get(t, s, strlen(s), &created);
}

/* ---- the report's state and one usage record ------------------------------------------------ */

typedef struct report {
    table adapters, owners, contributors;
    int64_t requests, prompt, completion, skipped, first_skipped_seq;
} report;

/* A usage body that passed every check; nothing is added to the report before that. */
typedef struct usage {
    int64_t prompt, completion;
    json_t *adapters; /* array of checked adapter objects, borrowed from the body */
    double weight_sum;
} usage;

static bool count_get(json_t *o, const char *k, int64_t *v) {
    json_t *x = json_object_get(o, k);
    if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > MAX_TOKENS)
        return false;
    *v = json_integer_value(x);
    return true;
}

/* A string or null; a missing key counts as null. */
static bool opt_string(json_t *o, const char *k) {
    json_t *x = json_object_get(o, k);
    return !x || json_is_null(x) || json_is_string(x);
}

/* Contributors: an array (or null / missing: none) of {"id": str, "share": 0..1} whose shares
 * add up to at most 1. */
static bool contributors_valid(json_t *cs) {
    if (cs && !json_is_null(cs) && !json_is_array(cs)) return false;
    double sum = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cs, i, c) {
        json_t *sh = json_object_get(c, "share");
        if (!json_is_string(json_object_get(c, "id")) || !json_is_number(sh)) return false;
        double s = json_number_value(sh);
        if (!isfinite(s) || s < 0 || s > 1 + SHARE_TOL) return false;
        sum += s;
    }
    return sum <= 1 + SHARE_TOL;
}

static bool adapter_valid(json_t *a, double *abs_w) {
    json_t *w = json_object_get(a, "weight");
    if (!json_is_object(a) || !json_is_string(json_object_get(a, "name")) || !json_is_number(w))
        return false;
    if (!opt_string(a, "sha256") || !opt_string(a, "owner")) return false;
    if (!isfinite(json_number_value(w))) return false;
    *abs_w = fabs(json_number_value(w));
    return contributors_valid(json_object_get(a, "contributors"));
}

static bool usage_parse(json_t *body, usage *u) {
    json_t *type = json_object_get(body, "type");
    if (!json_is_object(body) || !json_is_string(type) || strcmp(json_string_value(type), "usage"))
        return false;
    if (!count_get(body, "prompt_tokens", &u->prompt) ||
        !count_get(body, "completion_tokens", &u->completion))
        return false;
    u->adapters = json_object_get(body, "adapters");
    if (!json_is_array(u->adapters)) return false;
    u->weight_sum = 0;
    size_t i;
    json_t *a;
    json_array_foreach(u->adapters, i, a) {
        double w;
        if (!adapter_valid(a, &w)) return false;
        u->weight_sum += w;
    }
    return isfinite(u->weight_sum);
}

/* The adapter's row, keyed by (name, sha256); a new row takes this record's owner. */
static row *adapter_row(report *r, const char *name, const char *sha, char tag, const char *owner) {
    size_t nn = strlen(name), ns = sha ? strlen(sha) : 0;
    char *key = malloc(nn + ns + 2);
    if (!key) return NULL;
    memcpy(key, name, nn + 1);
    key[nn + 1] = tag;
    memcpy(key + nn + 2, sha ? sha : "", ns);
    bool created;
    row *a = table_get(&r->adapters, key, nn + ns + 2, &created);
    free(key);
    if (a && created) {
        a->sha = sha ? a->key + nn + 2 : NULL;
        if (!(a->owner = strdup(owner))) return NULL; /* the row stays, freed with the table */
    }
    return a;
}

/* Credit frac of the request to adapter a (NULL: the base model) and its contributors. */
static int adapter_credit(report *r, json_t *a, double frac, const usage *u) {
    const char *name = a ? json_string_value(json_object_get(a, "name")) : "(base)";
    const char *sha = a ? json_string_value(json_object_get(a, "sha256")) : NULL;
    const char *owner = a ? json_string_value(json_object_get(a, "owner")) : "(base)";
    row *ar = adapter_row(r, name, sha, a ? (sha ? 's' : 'n') : 'b', owner ? owner : "(none)");
    if (!ar) return OL_ENOMEM;
    double tokens = frac * (double)(u->prompt + u->completion);
    ar->requests++;
    ar->prompt += frac * (double)u->prompt;
    ar->completion += frac * (double)u->completion;
    ar->tokens += tokens;
    double sum = 0;
    size_t i;
    json_t *c, *cs = a ? json_object_get(a, "contributors") : NULL;
    json_array_foreach(cs, i, c) {
        double share = json_number_value(json_object_get(c, "share"));
        row *cr = table_get_str(&r->contributors, json_string_value(json_object_get(c, "id")));
        if (!cr) return OL_ENOMEM;
        cr->tokens += tokens * share;
        sum += share;
    }
    if (json_array_size(cs) == 0 || fabs(sum - 1) > SHARE_TOL) {
        /* the base model's tokens are its own line, apart from adapters missing their shares */
        row *cr = table_get_str(&r->contributors, a ? "(unattributed)" : "(base)");
        if (!cr) return OL_ENOMEM;
        cr->tokens += tokens * (1 - sum);
    }
    return 0;
}

/* A request's tokens go to its adapters by |weight| (equally when every weight is 0). */
static int usage_credit(report *r, const usage *u) {
    size_t n = json_array_size(u->adapters), i;
    json_t *a;
    int rc = n == 0 ? adapter_credit(r, NULL, 1.0, u) : 0;
    json_array_foreach(u->adapters, i, a) {
        double w = fabs(json_number_value(json_object_get(a, "weight")));
        if (rc) break;
        rc = adapter_credit(r, a, u->weight_sum > 0 ? w / u->weight_sum : 1.0 / (double)n, u);
    }
    if (rc) return rc;
    r->requests++;
    r->prompt += u->prompt;
    r->completion += u->completion;
    return 0;
}

/* Scan callback: a malformed usage body is counted and skipped, never half-credited. */
static int on_entry(void *ud, const ol_ledger_entry *e) {
    report *r = ud;
    if (strcmp(e->kind, "usage")) return 0; /* registry records: usage records carry all */
    json_t *body = json_loadb(e->body, e->body_len, 0, NULL);
    usage u;
    int rc = 0;
    if (body && usage_parse(body, &u))
        rc = usage_credit(r, &u);
    else if (r->skipped++ == 0)
        r->first_skipped_seq = e->seq;
    json_decref(body);
    return rc;
}

/* ---- the report as JSON --------------------------------------------------------------------- */

/* An owner's row is the sum of its adapters' rows. */
static int owners_collect(report *r) {
    for (size_t i = 0; i < r->adapters.cap; i++) {
        row *a = r->adapters.slots[i];
        if (!a) continue;
        row *o = table_get_str(&r->owners, a->owner);
        if (!o) return OL_ENOMEM;
        o->n_adapters++;
        o->tokens += a->tokens;
    }
    return 0;
}

/* Tokens descending, then the key: name, then base / no sha256 / sha256 (tags b n s), sha256. */
static int row_cmp(const void *pa, const void *pb) {
    const row *a = *(row *const *)pa, *b = *(row *const *)pb;
    if (a->tokens != b->tokens) return a->tokens > b->tokens ? -1 : 1;
    int c = memcmp(a->key, b->key, OL_MIN(a->key_len, b->key_len));
    return c ? c : (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static double round_to(double x, double scale) {
    return round(x * scale) / scale;
}

/* Tokens to 3 decimals, money to 6: enough for cents on a billion tokens, and no float noise. */
static json_t *money(double tokens, double price) {
    return price < 0 ? json_null() : json_real(round_to(tokens / 1000 * price, 1e6));
}

static json_t *adapter_json(const row *a, double price) {
    return json_pack("{s:s, s:s?, s:s, s:I, s:f, s:f, s:f, s:o}", "name", a->name, "sha256", a->sha,
                     "owner", a->owner, "requests", (json_int_t)a->requests, "prompt_tokens",
                     round_to(a->prompt, 1e3), "completion_tokens", round_to(a->completion, 1e3),
                     "tokens", round_to(a->tokens, 1e3), "revenue", money(a->tokens, price));
}

static json_t *owner_json(const row *o, double price) {
    return json_pack("{s:s, s:I, s:f, s:o}", "owner", o->name, "adapters",
                     (json_int_t)o->n_adapters, "tokens", round_to(o->tokens, 1e3), "revenue",
                     money(o->tokens, price));
}

static json_t *contributor_json(const row *c, double price) {
    return json_pack("{s:s, s:f, s:o}", "id", c->name, "tokens", round_to(c->tokens, 1e3), "payout",
                     money(c->tokens, price));
}

/* The table's rows, sorted, as a JSON array. NULL when out of memory. */
static json_t *rows_json(const table *t, json_t *(*fn)(const row *, double), double price) {
    row **v = malloc((t->n ? t->n : 1) * sizeof(*v));
    json_t *arr = json_array();
    size_t n = 0;
    if (!v || !arr) goto fail;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i]) v[n++] = t->slots[i];
    qsort(v, n, sizeof(*v), row_cmp);
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(arr, fn(v[i], price))) goto fail;
    free(v);
    return arr;
fail:
    free(v);
    json_decref(arr);
    return NULL;
}

static json_t *int_or_null(int64_t v, bool present) {
    return present ? json_integer((json_int_t)v) : json_null();
}

static json_t *report_json(const report *r, const ol_ledger_report_params *p) {
    double price = p->price_per_1k;
    int64_t total = r->prompt + r->completion;
    json_t *ads = rows_json(&r->adapters, adapter_json, price);
    json_t *ows = rows_json(&r->owners, owner_json, price);
    json_t *cs = rows_json(&r->contributors, contributor_json, price);
    if (!ads || !ows || !cs) {
        json_decref(ads);
        json_decref(ows);
        json_decref(cs);
        return NULL;
    }
    /* json_pack releases the stolen ("o") references when it fails */
    return json_pack(
        "{s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:o, s:o, s:o, s:o}", "object",
        "ledger.report", "since", int_or_null(p->since_ns, p->since_ns), "until",
        int_or_null(p->until_ns, p->until_ns), "requests", (json_int_t)r->requests, "prompt_tokens",
        (json_int_t)r->prompt, "completion_tokens", (json_int_t)r->completion, "total_tokens",
        (json_int_t)total, "revenue", money((double)total, price), "price_per_1k_tokens",
        price < 0 ? json_null() : json_real(price), "skipped", (json_int_t)r->skipped,
        "first_skipped_seq", int_or_null(r->first_skipped_seq, r->skipped > 0), "adapters", ads,
        "owners", ows, "contributors", cs);
}

json_t *ol_ledger_report(const char *url, const ol_ledger_report_params *p, ol_err *err) {
    static const ol_ledger_report_params unbounded = {.price_per_1k = -1};
    report r = {0};
    json_t *out = NULL;
    if (!p) p = &unbounded;
    if (!(p->price_per_1k < INFINITY)) { /* NaN or +inf */
        ol_err_set(err, OL_EINVAL, "ledger report: the price per 1k tokens is not a number");
        return NULL;
    }
    int rc = ol_ledger_scan(url, p->since_ns, p->until_ns, on_entry, &r, err);
    if (rc == OL_ENOMEM) ol_err_set(err, rc, "ledger report: out of memory");
    if (rc) goto fail;
    if (owners_collect(&r) || !(out = report_json(&r, p))) {
        ol_err_set(err, OL_ENOMEM, "ledger report: out of memory");
        goto fail;
    }
fail:
    table_free(&r.contributors);
    table_free(&r.owners);
    table_free(&r.adapters);
    return out;
}

/* ---- export --------------------------------------------------------------------------------- */

/* RFC 3339 UTC with milliseconds: 2026-11-28T10:00:00.123Z (out: TIME_CAP bytes). */
static void time_format(int64_t ns, char *out) {
    int64_t s = ns / NS_PER_S, rem = ns % NS_PER_S;
    if (rem < 0) rem += NS_PER_S, s--;
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, TIME_CAP, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / 1000000));
}

/* RFC 4180: quoted when asked or when the field holds a comma, quote or line break; quotes
 * inside doubled. */
static void csv_field(FILE *f, const char *s, size_t n, bool quote) {
    for (size_t i = 0; i < n && !quote; i++) quote = strchr(",\"\r\n", s[i]) && s[i];
    if (!quote) {
        fwrite(s, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static int export_csv(const ol_ledger_entry *e, FILE *f) {
    char t[TIME_CAP], prev[65], hash[65];
    time_format(e->time_ns, t);
    ol_ledger_hex(e->prev, 32, prev);
    ol_ledger_hex(e->hash, 32, hash);
    fprintf(f, "%lld,%s,", (long long)e->seq, t);
    csv_field(f, e->kind, strlen(e->kind), false);
    fputc(',', f);
    csv_field(f, e->key_id, strlen(e->key_id), false);
    fputc(',', f);
    if (e->request_id) csv_field(f, e->request_id, strlen(e->request_id), false);
    fprintf(f, ",%s,%s,", prev, hash);
    csv_field(f, e->body, e->body_len, true);
    fputc('\n', f);
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 when there is none. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    uint32_t c = s[0], min;
    size_t len;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0)
        len = 2, min = 0x80, c &= 0x1f;
    else if ((c & 0xf0) == 0xe0)
        len = 3, min = 0x800, c &= 0x0f;
    else if ((c & 0xf8) == 0xf0)
        len = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    return c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ? 0 : len;
}

/* A JSON string of n bytes, each byte that is not UTF-8 replaced by U+FFFD. NULL: no memory. */
static json_t *jstr(const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    if (j || !s) return j;
    unsigned char *buf = malloc(3 * n + 1), *o = buf;
    if (!buf) return NULL;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq((const unsigned char *)s + i, n - i);
        if (k)
            memcpy(o, s + i, k), o += k, i += k;
        else
            memcpy(o, "\xef\xbf\xbd", 3), o += 3, i++;
    }
    j = json_stringn((const char *)buf, (size_t)(o - buf));
    free(buf);
    return j;
}

/* One line: the entry's fields, then "body": the stored body verbatim when it is one line of
 * valid JSON (so its bytes, hence its hash, survive), else re-encoded, else as a string. */
static int export_jsonl(const ol_ledger_entry *e, FILE *f) {
    char t[TIME_CAP], prev[65], hash[65];
    time_format(e->time_ns, t);
    ol_ledger_hex(e->prev, 32, prev);
    ol_ledger_hex(e->hash, 32, hash);
    json_t *head =
        json_pack("{s:I, s:I, s:s, s:o, s:o, s:o, s:s, s:s}", "seq", (json_int_t)e->seq, "time_ns",
                  (json_int_t)e->time_ns, "time", t, "kind", jstr(e->kind, strlen(e->kind)),
                  "key_id", jstr(e->key_id, strlen(e->key_id)), "request_id",
                  e->request_id ? jstr(e->request_id, strlen(e->request_id)) : json_null(),
                  "prev_hash", prev, "hash", hash);
    json_t *body = json_loadb(e->body, e->body_len, JSON_DECODE_ANY, NULL);
    bool verbatim =
        body && !memchr(e->body, '\n', e->body_len) && !memchr(e->body, '\r', e->body_len);
    if (!body) body = jstr(e->body, e->body_len);
    char *hs = head ? json_dumps(head, JSON_COMPACT) : NULL;
    char *bs = body && !verbatim ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int rc = hs && (verbatim || bs) ? 0 : OL_ENOMEM;
    if (!rc) {
        fwrite(hs, 1, strlen(hs) - 1, f); /* all but the closing brace */
        fputs(",\"body\":", f);
        if (verbatim)
            fwrite(e->body, 1, e->body_len, f);
        else
            fputs(bs, f);
        fputs("}\n", f);
    }
    free(bs);
    free(hs);
    json_decref(body);
    json_decref(head);
    return rc;
}

typedef struct export_ctx {
    FILE *out;
    ol_ledger_format fmt;
    int rc; /* the first failure of ours, to tell it from the scan's */
} export_ctx;

static int on_export(void *ud, const ol_ledger_entry *e) {
    export_ctx *x = ud;
    x->rc = x->fmt == OL_LEDGER_CSV ? export_csv(e, x->out) : export_jsonl(e, x->out);
    if (!x->rc && ferror(x->out)) x->rc = OL_EIO;
    return x->rc;
}

int ol_ledger_export(const char *url, int64_t since_ns, int64_t until_ns, ol_ledger_format fmt,
                     FILE *out, ol_err *err) {
    export_ctx x = {.out = out, .fmt = fmt};
    if (fmt != OL_LEDGER_CSV && fmt != OL_LEDGER_JSONL)
        return ol_err_set(err, OL_EINVAL, "ledger export: unknown format %d", (int)fmt);
    if (fmt == OL_LEDGER_CSV) fputs("seq,time,kind,key_id,request_id,prev_hash,hash,body\n", out);
    int rc = ol_ledger_scan(url, since_ns, until_ns, on_export, &x, err);
    if (rc && rc == x.rc)
        return ol_err_set(err, rc, "ledger export: %s",
                          rc == OL_EIO ? "error writing the output" : "out of memory");
    if (rc) return rc;
    if (fflush(out) != 0 || ferror(out))
        return ol_err_set(err, OL_EIO, "ledger export: error writing the output");
    return 0;
}

/* ---- time parsing --------------------------------------------------------------------------- */

/* Exactly n decimal digits at s (stops at the NUL, never reads past it). */
static bool digits(const char *s, int n, int *v) {
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* ".ddd..." at *p, any number of digits, at least one; nanoseconds kept, the rest dropped. */
static bool fraction(const char **p, int64_t *ns) {
    const char *s = *p + 1;
    int k = 0;
    *ns = 0;
    if (!isdigit((unsigned char)*s)) return false;
    for (; isdigit((unsigned char)*s); s++, k++)
        if (k < 9) *ns = *ns * 10 + (*s - '0');
    for (; k < 9; k++) *ns *= 10;
    *p = s;
    return true;
}

static int unix_parse(const char *s, int64_t *ns) {
    int64_t sec = 0, frac = 0;
    if (!isdigit((unsigned char)*s)) return OL_EINVAL;
    for (; isdigit((unsigned char)*s); s++) {
        if (sec > INT64_MAX / NS_PER_S) return OL_EINVAL; /* past 2262: no int64 nanoseconds */
        sec = sec * 10 + (*s - '0');
    }
    if (*s == '.' && !fraction(&s, &frac)) return OL_EINVAL;
    if (*s || sec >= INT64_MAX / NS_PER_S) return OL_EINVAL;
    *ns = sec * NS_PER_S + frac;
    return 0;
}

static int days_in_month(int y, int m) {
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

/* "THH:MM[:SS[.fff]][Z|±HH:MM]" at p; *off_min east of UTC (none: UTC). */
static bool clock_parse(const char *p, struct tm *tm, int64_t *frac, int *off_min) {
    int oh, om;
    if ((*p != 'T' && *p != 't' && *p != ' ') || !digits(p + 1, 2, &tm->tm_hour) || p[3] != ':' ||
        !digits(p + 4, 2, &tm->tm_min))
        return false;
    p += 6;
    if (*p == ':') {
        if (!digits(p + 1, 2, &tm->tm_sec)) return false;
        p += 3;
        if (*p == '.' && !fraction(&p, frac)) return false;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        *off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    }
    return *p == 0 && tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 60;
}

static int date_parse(const char *s, int64_t *ns) {
    struct tm tm = {0};
    int y, mo, d, off_min = 0;
    int64_t frac = 0;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return OL_EINVAL;
    if (s[10] && !clock_parse(s + 10, &tm, &frac, &off_min)) return OL_EINVAL;
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    int64_t sec = (int64_t)timegm(&tm) - (int64_t)off_min * 60;
    if (sec <= INT64_MIN / NS_PER_S || sec >= INT64_MAX / NS_PER_S) return OL_EINVAL;
    *ns = sec * NS_PER_S + frac;
    return 0;
}

int ol_ledger_time_parse(const char *s, int64_t *ns) {
    if (!s || !*s) return OL_EINVAL;
    if (strlen(s) >= 10 && s[4] == '-') return date_parse(s, ns);
    return unix_parse(s, ns);
}
