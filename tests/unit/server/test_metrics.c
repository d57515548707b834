/* tests/unit/server/test_metrics.c: the Prometheus registry. Every render is parsed back by a
 * strict reader of the 0.0.4 text format (HELP/TYPE lines, label escapes, numbers) and checked
 * for values, cumulative buckets, escaping, folding into "other", bad registrations, and exact
 * totals after 4 threads update at once (run it under TSan: -DOL_SANITIZE=thread). */
#include "server/metrics.h"
#include "test.h"

#include <pthread.h>

/* ---- a strict reader of the text format --------------------------------------------------- */

typedef struct sample {
    char name[128];
    char labels[512]; /* unescaped, as k=v pairs joined by ',' in source order */
    double value;
} sample;

typedef struct parsed {
    sample s[512];
    int n;
    int n_help, n_type, errors;
} parsed;

static int name_char(char c, int first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

static const char *parse_name(const char *p, char *out, size_t n) {
    size_t i = 0;
    if (!name_char(*p, 1)) return NULL;
    while (name_char(*p, i == 0) && i + 1 < n) out[i++] = *p++;
    out[i] = '\0';
    return p;
}

static int parse_value(const char *p, const char *end, double *v) {
    char tmp[64];
    size_t n = (size_t)(end - p);
    if (n == 0 || n >= sizeof(tmp)) return 0;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (strcmp(tmp, "+Inf") == 0)
        *v = INFINITY;
    else if (strcmp(tmp, "-Inf") == 0)
        *v = -INFINITY;
    else if (strcmp(tmp, "NaN") == 0)
        *v = NAN;
    else {
        char *e;
        if (strchr(tmp, 'n') || strchr(tmp, 'N') || strchr(tmp, 'x')) return 0; /* inf, nan, hex */
        *v = strtod(tmp, &e);
        if (*e) return 0;
    }
    return 1;
}

static int parse_sample(const char *p, const char *eol, sample *s) {
    if (!(p = parse_name(p, s->name, sizeof(s->name)))) return 0;
    size_t nl = 0;
    s->labels[0] = '\0';
    if (*p == '{') {
        p++;
        while (*p != '}') {
            char key[64];
            if (!(p = parse_name(p, key, sizeof(key))) || *p++ != '=' || *p++ != '"') return 0;
            nl += (size_t)snprintf(s->labels + nl, sizeof(s->labels) - nl, "%s%s=", nl ? "," : "",
                                   key);
            for (; *p != '"'; p++) {
                if (p >= eol || nl + 2 >= sizeof(s->labels)) return 0;
                char c = *p;
                if (c == '\\') {
                    c = *++p;
                    if (c == 'n')
                        c = '\n';
                    else if (c != '\\' && c != '"')
                        return 0;
                }
                s->labels[nl++] = c;
                s->labels[nl] = '\0';
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return 0;
        }
        p++;
    }
    if (*p++ != ' ') return 0;
    return parse_value(p, eol, &s->value);
}

static void parse(const char *text, size_t len, parsed *out) {
    memset(out, 0, sizeof(*out));
    if (strlen(text) != len) out->errors++;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        if (!eol) { /* every line ends with \n */
            out->errors++;
            break;
        }
        char name[128];
        if (strncmp(p, "# HELP ", 7) == 0) {
            out->n_help++;
            if (!parse_name(p + 7, name, sizeof(name)) || strncmp(name, "openlora_", 9) != 0)
                out->errors++;
        } else if (strncmp(p, "# TYPE ", 7) == 0) {
            const char *q = parse_name(p + 7, name, sizeof(name));
            out->n_type++;
            if (!q || *q != ' ' ||
                !(strncmp(q + 1, "counter\n", 8) == 0 || strncmp(q + 1, "gauge\n", 6) == 0 ||
                  strncmp(q + 1, "histogram\n", 10) == 0))
                out->errors++;
        } else if (out->n < (int)OL_ARRAY_LEN(out->s) && parse_sample(p, eol, &out->s[out->n])) {
            out->n++;
        } else {
            fprintf(stderr, "bad line: %.*s\n", (int)(eol - p), p);
            out->errors++;
        }
        p = eol + 1;
    }
}

/* The value of name{labels}, or -12345 when absent. */
static double get(const parsed *ps, const char *name, const char *labels) {
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->s[i].name, name) == 0 && strcmp(ps->s[i].labels, labels) == 0)
            return ps->s[i].value;
    return -12345;
}

static char *render_parse(ol_metrics *m, parsed *ps) {
    size_t len = 0;
    char *text = ol_metrics_render(m, &len);
    CHECK(text != NULL);
    if (!text) {
        memset(ps, 0, sizeof(*ps));
        return NULL;
    }
    parse(text, len, ps);
    CHECK_EQ_INT(ps->errors, 0);
    return text;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_exact_text(void) {
    ol_metrics *m = ol_metrics_create();
    ol_metric *req = ol_metrics_add(m, OL_METRIC_COUNTER, "requests_total", "HTTP requests.",
                                    "endpoint", "status", NULL, 0, 0);
    ol_metric *up =
        ol_metrics_add(m, OL_METRIC_GAUGE, "up", "1 when serving.", NULL, NULL, NULL, 0, 0);
    double b[] = {0.1, 1, 2.5};
    ol_metric *lat = ol_metrics_add(m, OL_METRIC_HISTOGRAM, "latency_seconds", "Latency.",
                                    "adapter", NULL, b, 3, 0);
    CHECK(req && up && lat);
    ol_metric_inc(req, "/v1/completions", "200", 1);
    ol_metric_inc(req, "/v1/completions", "200", 2);
    ol_metric_inc(req, "/metrics", "200", 1);
    ol_metric_observe(lat, "a1", NULL, 0.05);
    ol_metric_observe(lat, "a1", NULL, 1);   /* on a bound: counted in le="1" */
    ol_metric_observe(lat, "a1", NULL, 100); /* only +Inf */
    size_t len;
    char *text = ol_metrics_render(m, &len);
    const char *want = "# HELP openlora_requests_total HTTP requests.\n"
                       "# TYPE openlora_requests_total counter\n"
                       "openlora_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 3\n"
                       "openlora_requests_total{endpoint=\"/metrics\",status=\"200\"} 1\n"
                       "# HELP openlora_up 1 when serving.\n"
                       "# TYPE openlora_up gauge\n"
                       "openlora_up 0\n"
                       "# HELP openlora_latency_seconds Latency.\n"
                       "# TYPE openlora_latency_seconds histogram\n"
                       "openlora_latency_seconds_bucket{adapter=\"a1\",le=\"0.1\"} 1\n"
                       "openlora_latency_seconds_bucket{adapter=\"a1\",le=\"1\"} 2\n"
                       "openlora_latency_seconds_bucket{adapter=\"a1\",le=\"2.5\"} 2\n"
                       "openlora_latency_seconds_bucket{adapter=\"a1\",le=\"+Inf\"} 3\n"
                       "openlora_latency_seconds_sum{adapter=\"a1\"} 101.05\n"
                       "openlora_latency_seconds_count{adapter=\"a1\"} 3\n";
    CHECK(text && strcmp(text, want) == 0);
    if (text && strcmp(text, want) != 0) fprintf(stderr, "got:\n%s\nwant:\n%s\n", text, want);
    CHECK_EQ_INT(len, strlen(want));
    free(text);

    ol_metrics *empty = ol_metrics_create();
    text = ol_metrics_render(empty, &len);
    CHECK(text && len == 0 && text[0] == '\0');
    free(text);
    ol_metrics_destroy(empty);
    ol_metrics_destroy(m);
}

static void test_values_and_numbers(void) {
    ol_metrics *m = ol_metrics_create();
    ol_metric *c =
        ol_metrics_add(m, OL_METRIC_COUNTER, "tokens_total", "t", "kind", NULL, NULL, 0, 0);
    ol_metric *g = ol_metrics_add(m, OL_METRIC_GAUGE, "g", "g", "k", NULL, NULL, 0, 0);
    ol_metric_inc(c, "prompt", NULL, 5);
    ol_metric_inc(c, "prompt", NULL, -3); /* ignored: counters only go up */
    ol_metric_inc(c, "prompt", NULL, NAN);
    ol_metric_set(c, "prompt", NULL, 0);               /* ignored: not a gauge */
    ol_metric_observe(c, "prompt", NULL, 1);           /* ignored: not a histogram */
    ol_metric_inc(c, "big", NULL, 9007199254740992.0); /* 2^53, no exponent */
    ol_metric_inc(c, "huge", NULL, 1e300);
    ol_metric_set(g, "frac", NULL, 0.1);
    ol_metric_set(g, "third", NULL, 1.0 / 3);
    ol_metric_set(g, "neg", NULL, -2.5);
    ol_metric_set(g, "pinf", NULL, INFINITY);
    ol_metric_set(g, "ninf", NULL, -INFINITY);
    ol_metric_set(g, "nan", NULL, NAN);
    ol_metric_set(g, "negzero", NULL, -0.0);
    ol_metric_set(g, "tiny", NULL, 5e-324);
    ol_metric_set(g, "up", NULL, 3);
    ol_metric_inc(g, "up", NULL, -1);  /* gauges go both ways */
    ol_metric_inc(NULL, "x", NULL, 1); /* a failed registration is a no-op */
    ol_metric_set(NULL, "x", NULL, 1);
    ol_metric_observe(NULL, "x", NULL, 1);
    parsed ps;
    char *text = render_parse(m, &ps);
    CHECK_EQ_INT(ps.n_help, 2);
    CHECK_EQ_INT(ps.n_type, 2);
    CHECK(get(&ps, "openlora_tokens_total", "kind=prompt") == 5);
    CHECK_STR_CONTAINS(text, "{kind=\"big\"} 9007199254740992\n");
    CHECK(get(&ps, "openlora_tokens_total", "kind=huge") == 1e300);
    CHECK_STR_CONTAINS(text, "{k=\"frac\"} 0.1\n");
    CHECK(get(&ps, "openlora_g", "k=third") == 1.0 / 3); /* round-trips exactly */
    CHECK_STR_CONTAINS(text, "{k=\"neg\"} -2.5\n");
    CHECK_STR_CONTAINS(text, "{k=\"pinf\"} +Inf\n");
    CHECK_STR_CONTAINS(text, "{k=\"ninf\"} -Inf\n");
    CHECK_STR_CONTAINS(text, "{k=\"nan\"} NaN\n");
    CHECK_STR_CONTAINS(text, "{k=\"negzero\"} 0\n");
    CHECK(get(&ps, "openlora_g", "k=tiny") == 5e-324);
    CHECK(get(&ps, "openlora_g", "k=up") == 2);
    free(text);
    ol_metrics_destroy(m);
}

static void test_histogram(void) {
    ol_metrics *m = ol_metrics_create();
    ol_metric *h =
        ol_metrics_add(m, OL_METRIC_HISTOGRAM, "ttft_seconds", "Time to first token.", "adapter",
                       "status", OL_METRICS_LATENCY_BUCKETS, OL_METRICS_N_LATENCY_BUCKETS, 0);
    CHECK(h != NULL);
    CHECK_EQ_INT(OL_METRICS_N_LATENCY_BUCKETS, 13);
    CHECK(OL_METRICS_LATENCY_BUCKETS[0] == 0.005);
    CHECK(OL_METRICS_LATENCY_BUCKETS[OL_METRICS_N_LATENCY_BUCKETS - 1] == 60);
    double sum = 0;
    for (int i = 0; i < 1000; i++) {
        double v = i * 0.07; /* 0 .. 69.93 */
        ol_metric_observe(h, "base", "ok", v);
        sum += v;
    }
    ol_metric_observe(h, "base", "ok", NAN); /* ignored */
    ol_metric_observe(h, "base", "ok", -1);  /* negative: lands in the first bucket */
    sum += -1;
    parsed ps;
    char *text = render_parse(m, &ps);
    double prev = -1;
    int n_buckets = 0;
    for (int i = 0; i < ps.n; i++) {
        if (strcmp(ps.s[i].name, "openlora_ttft_seconds_bucket") != 0) continue;
        CHECK(ps.s[i].value >= prev); /* cumulative */
        prev = ps.s[i].value;
        n_buckets++;
    }
    CHECK_EQ_INT(n_buckets, OL_METRICS_N_LATENCY_BUCKETS + 1);
    for (int b = 0; b < OL_METRICS_N_LATENCY_BUCKETS; b++) {
        double le = OL_METRICS_LATENCY_BUCKETS[b];
        int want = 1; /* the -1 */
        for (int i = 0; i < 1000; i++) want += i * 0.07 <= le;
        char labels[128];
        snprintf(labels, sizeof(labels), "adapter=base,status=ok,le=%g", le);
        CHECK_EQ_INT(get(&ps, "openlora_ttft_seconds_bucket", labels), want);
    }
    CHECK_EQ_INT(get(&ps, "openlora_ttft_seconds_bucket", "adapter=base,status=ok,le=+Inf"), 1001);
    CHECK_EQ_INT(get(&ps, "openlora_ttft_seconds_count", "adapter=base,status=ok"), 1001);
    CHECK_NEAR(get(&ps, "openlora_ttft_seconds_sum", "adapter=base,status=ok"), sum, 1e-9);
    CHECK_STR_CONTAINS(text, "le=\"0.005\"");
    CHECK_STR_CONTAINS(text, "le=\"60\"");
    CHECK_STR_CONTAINS(text, "le=\"2.5\"");
    free(text);

    /* an explicit +Inf bound is the implied one; an unlabelled histogram shows zeros at once */
    double b[] = {1, INFINITY};
    ol_metric *h2 = ol_metrics_add(m, OL_METRIC_HISTOGRAM, "h2", "h", NULL, NULL, b, 2, 0);
    CHECK(h2 != NULL);
    text = render_parse(m, &ps);
    CHECK_STR_CONTAINS(text, "openlora_h2_bucket{le=\"1\"} 0\nopenlora_h2_bucket{le=\"+Inf\"} 0\n"
                             "openlora_h2_sum 0\nopenlora_h2_count 0\n");
    free(text);
    ol_metrics_destroy(m);
}

static void test_escaping(void) {
    ol_metrics *m = ol_metrics_create();
    ol_metric *c = ol_metrics_add(m, OL_METRIC_COUNTER, "esc_total", "Help with \\ and\nnewline.",
                                  "a", "b", NULL, 0, 0);
    const char *nasty = "q\"uote\\back\nnl}{,=";
    ol_metric_inc(c, nasty, "ünï 🌍", 1);
    ol_metric_inc(c, "", NULL, 1); /* NULL value = "" */
    ol_metric_inc(c, NULL, "", 1);
    parsed ps;
    char *text = render_parse(m, &ps);
    CHECK_STR_CONTAINS(text, "# HELP openlora_esc_total Help with \\\\ and\\nnewline.\n");
    CHECK_STR_CONTAINS(text, "a=\"q\\\"uote\\\\back\\nnl}{,=\"");
    CHECK(get(&ps, "openlora_esc_total", "a=q\"uote\\back\nnl}{,=,b=ünï 🌍") == 1);
    CHECK(get(&ps, "openlora_esc_total", "a=,b=") == 2);
    CHECK_EQ_INT(ps.n, 2);
    free(text);
    ol_metrics_destroy(m);
}

static void test_cap(void) {
    ol_metrics *m = ol_metrics_create();
    ol_metric *c = ol_metrics_add(m, OL_METRIC_COUNTER, "adapter_requests_total", "r", "adapter",
                                  NULL, NULL, 0, 3);
    ol_metric *c2 = ol_metrics_add(m, OL_METRIC_GAUGE, "pair", "p", "x", "y", NULL, 0, 2);
    ol_metric *dflt =
        ol_metrics_add(m, OL_METRIC_COUNTER, "dflt_total", "d", "x", NULL, NULL, 0, 0);
    char name[32];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "adapter-%d", i);
        ol_metric_inc(c, name, NULL, i + 1);
    }
    ol_metric_inc(c, "adapter-1", NULL, 100); /* known sets keep their own series */
    ol_metric_set(c2, "a", "1", 1);
    ol_metric_set(c2, "a", "2", 2);
    ol_metric_set(c2, "b", "1", 3); /* folded */
    ol_metric_set(c2, "b", "2", 4); /* folded: a gauge set overwrites */
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "v%d", i);
        ol_metric_inc(dflt, name, NULL, 1);
    }
    parsed ps;
    char *text = render_parse(m, &ps);
    CHECK(get(&ps, "openlora_adapter_requests_total", "adapter=adapter-0") == 1);
    CHECK(get(&ps, "openlora_adapter_requests_total", "adapter=adapter-1") == 102);
    CHECK(get(&ps, "openlora_adapter_requests_total", "adapter=adapter-2") == 3);
    CHECK(get(&ps, "openlora_adapter_requests_total", "adapter=other") ==
          4 + 5 + 6 + 7 + 8 + 9 + 10);
    CHECK(get(&ps, "openlora_adapter_requests_total", "adapter=adapter-3") == -12345);
    CHECK(get(&ps, "openlora_pair", "x=a,y=2") == 2);
    CHECK(get(&ps, "openlora_pair", "x=other,y=other") == 4);
    int n_dflt = 0;
    for (int i = 0; i < ps.n; i++) n_dflt += strcmp(ps.s[i].name, "openlora_dflt_total") == 0;
    CHECK_EQ_INT(n_dflt, 64 + 1);
    CHECK(get(&ps, "openlora_dflt_total", "x=other") == 1000 - 64);
    free(text);
    ol_metrics_destroy(m);
}

static void test_bad_registrations(void) {
    ol_metrics *m = ol_metrics_create();
    double ok[] = {1, 2}, desc[] = {2, 1}, dup[] = {1, 1}, withnan[] = {1, NAN},
           inf_mid[] = {1, INFINITY, 3}, neg_inf[] = {-INFINITY};
    CHECK(ol_metrics_add(NULL, OL_METRIC_COUNTER, "a", "h", NULL, NULL, NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_KIND_COUNT, "a", "h", NULL, NULL, NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, NULL, "h", NULL, NULL, NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "", "h", NULL, NULL, NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "has space", "h", NULL, NULL, NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "a-b", "h", NULL, NULL, NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "a", "h", NULL, "x", NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "a", "h", "x", "x", NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "a", "h", "1x", NULL, NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "a", "h", "__x", NULL, NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "a", "h", "a:b", NULL, NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "a", "h", NULL, NULL, ok, 2, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "a", "h", NULL, NULL, NULL, 0, -1) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_HISTOGRAM, "a", "h", NULL, NULL, NULL, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_HISTOGRAM, "a", "h", NULL, NULL, ok, 0, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_HISTOGRAM, "a", "h", NULL, NULL, desc, 2, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_HISTOGRAM, "a", "h", NULL, NULL, dup, 2, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_HISTOGRAM, "a", "h", NULL, NULL, withnan, 2, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_HISTOGRAM, "a", "h", NULL, NULL, inf_mid, 3, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_HISTOGRAM, "a", "h", NULL, NULL, neg_inf, 1, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_HISTOGRAM, "a", "h", "le", NULL, ok, 2, 0) == NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_COUNTER, "a:b_total", NULL, "le", NULL, NULL, 0, 0) != NULL);
    CHECK(ol_metrics_add(m, OL_METRIC_GAUGE, "a:b_total", "dup", NULL, NULL, NULL, 0, 0) == NULL);
    parsed ps;
    char *text = render_parse(m, &ps);
    CHECK_STR_CONTAINS(text, "# HELP openlora_a:b_total \n# TYPE openlora_a:b_total counter\n");
    CHECK_EQ_INT(ps.n_type, 1);
    free(text);
    CHECK(ol_metrics_render(NULL, NULL) == NULL);
    ol_metrics_destroy(m);
    ol_metrics_destroy(NULL);
}

/* ---- concurrent updates: 4 threads, exact totals ------------------------------------------- */

typedef struct worker {
    ol_metric *c, *g, *h;
    ol_metrics *m;
    int id;
} worker;

#define N_ITER 20000

static void *work(void *arg) {
    worker *w = arg;
    static const char *adapters[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < N_ITER; i++) {
        const char *a = adapters[(i + w->id) % 5];
        ol_metric_inc(w->c, a, i % 2 ? "200" : "500", 1);
        ol_metric_inc(w->g, NULL, NULL, (i % 2) ? 1 : -1);
        ol_metric_observe(w->h, a, NULL, (double)(i % 4));      /* 0,1,2,3: sum exact */
        if (i % 1000 == 0) free(ol_metrics_render(w->m, NULL)); /* rendering races updates */
    }
    return NULL;
}

static void test_threads(void) {
    ol_metrics *m = ol_metrics_create();
    worker w[4];
    pthread_t t[4];
    ol_metric *c = ol_metrics_add(m, OL_METRIC_COUNTER, "req_total", "r", "adapter", "status", NULL,
                                  0, 6); /* 10 sets, cap 6: folding under contention */
    ol_metric *g = ol_metrics_add(m, OL_METRIC_GAUGE, "inflight", "i", NULL, NULL, NULL, 0, 0);
    double b[] = {0.5, 1.5, 2.5};
    ol_metric *h =
        ol_metrics_add(m, OL_METRIC_HISTOGRAM, "dur_seconds", "d", "adapter", NULL, b, 3, 0);
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){c, g, h, m, i};
        CHECK_EQ_INT(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    parsed ps;
    char *text = render_parse(m, &ps);
    double total = 0, count = 0, sum = 0, le05 = 0;
    int n_req = 0;
    for (int i = 0; i < ps.n; i++) {
        if (strcmp(ps.s[i].name, "openlora_req_total") == 0) total += ps.s[i].value, n_req++;
        if (strcmp(ps.s[i].name, "openlora_dur_seconds_count") == 0) count += ps.s[i].value;
        if (strcmp(ps.s[i].name, "openlora_dur_seconds_sum") == 0) sum += ps.s[i].value;
        if (strcmp(ps.s[i].name, "openlora_dur_seconds_bucket") == 0 &&
            strstr(ps.s[i].labels, "le=0.5"))
            le05 += ps.s[i].value;
    }
    CHECK_EQ_INT(n_req, 7); /* 6 kept + other */
    CHECK(get(&ps, "openlora_req_total", "adapter=other,status=other") > 0);
    CHECK_EQ_INT(total, 4 * N_ITER);
    CHECK_EQ_INT(get(&ps, "openlora_inflight", ""), 0);
    CHECK_EQ_INT(count, 4 * N_ITER);
    CHECK_EQ_INT(sum, 4 * (N_ITER / 4) * (0 + 1 + 2 + 3));
    CHECK_EQ_INT(le05, 4 * N_ITER / 4);
    free(text);
    ol_metrics_destroy(m);
}

int main(void) {
    test_exact_text();
    test_values_and_numbers();
    test_histogram();
    test_escaping();
    test_cap();
    test_bad_registrations();
    test_threads();
    return test_done("test_metrics");
}
