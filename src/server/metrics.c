/* server/metrics.c: the Prometheus registry. Families live in a list in registration order;
 * each keeps its label-value sets (series) in first-seen order, at most max_series of them plus
 * one "other" series that takes every later set. One registry mutex guards everything: an
 * update is a short scan of a family's series and an add. Rendering follows the text
 * exposition format 0.0.4 (HELP, TYPE, samples; histograms as cumulative _bucket, _sum, _count). */
#include "server/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const double OL_METRICS_LATENCY_BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1,     2.5,  5,     10,   30,  60};
const int OL_METRICS_N_LATENCY_BUCKETS =
    (int)(sizeof(OL_METRICS_LATENCY_BUCKETS) / sizeof(OL_METRICS_LATENCY_BUCKETS[0]));

#define PREFIX             "openlora_"
#define DEFAULT_MAX_SERIES 64
#define OTHER              "other"

typedef struct series {
    char *l[2];        /* label values (NULL beyond the family's labels) */
    double value;      /* counter, gauge; histogram: sum of observations */
    uint64_t count;    /* histogram: observations */
    uint64_t *buckets; /* histogram: [n_bounds + 1] per-bucket (not cumulative) counts, last +Inf */
} series;

struct ol_metric {
    ol_metrics *reg;
    ol_metric_kind kind;
    char *name; /* with the prefix */
    char *help;
    char *label[2];
    int n_labels;
    double *bounds; /* histogram upper bounds, ascending, finite */
    int n_bounds;
    int max_series;
    series *series;
    int n_series, cap_series;
    int other; /* index of the "other" series, or -1 */
    ol_metric *next;
};

struct ol_metrics {
    pthread_mutex_t mu;
    ol_metric *head, *tail;
};

static const char *const kind_names[OL_METRIC_KIND_COUNT] = {"counter", "gauge", "histogram"};

ol_metrics *ol_metrics_create(void) {
    ol_metrics *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

static void family_free(ol_metric *f) {
    for (int i = 0; i < f->n_series; i++) {
        free(f->series[i].l[0]);
        free(f->series[i].l[1]);
        free(f->series[i].buckets);
    }
    free(f->series);
    free(f->bounds);
    free(f->label[0]);
    free(f->label[1]);
    free(f->help);
    free(f->name);
    free(f);
}

void ol_metrics_destroy(ol_metrics *m) {
    if (!m) return;
    for (ol_metric *f = m->head, *next; f; f = next) {
        next = f->next;
        family_free(f);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; label names also refuse ':' and a leading "__". */
static int valid_name(const char *s, int label) {
    if (!s || !*s || (label && strncmp(s, "__", 2) == 0)) return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (!label && c == ':') || (p > s && c >= '0' && c <= '9');
        if (!ok) return 0;
    }
    return 1;
}

static series *series_new(ol_metric *f, const char *l1, const char *l2);

static int check_args(ol_metrics *m, ol_metric_kind kind, const char *name, const char *label1,
                      const char *label2, const double *buckets, int n_buckets, int max_series) {
    if (!m || (unsigned)kind >= OL_METRIC_KIND_COUNT || !valid_name(name, 0)) return 0;
    if (strlen(name) > 200 || max_series < 0) return 0;
    if (label2 && !label1) return 0;
    for (int i = 0; i < 2; i++) {
        const char *l = i ? label2 : label1;
        if (l && (!valid_name(l, 1) || (kind == OL_METRIC_HISTOGRAM && strcmp(l, "le") == 0)))
            return 0;
    }
    if (label1 && label2 && strcmp(label1, label2) == 0) return 0;
    if (kind != OL_METRIC_HISTOGRAM) return buckets == NULL;
    if (!buckets || n_buckets <= 0) return 0;
    for (int i = 0; i < n_buckets; i++) {
        if (isnan(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1]))) return 0;
        if (isinf(buckets[i]) && (buckets[i] < 0 || i != n_buckets - 1)) return 0;
    }
    return 1;
}

ol_metric *ol_metrics_add(ol_metrics *m, ol_metric_kind kind, const char *name, const char *help,
                          const char *label1, const char *label2, const double *buckets,
                          int n_buckets, int max_series) {
    if (!check_args(m, kind, name, label1, label2, buckets, n_buckets, max_series)) return NULL;
    ol_metric *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->reg = m;
    f->kind = kind;
    f->max_series = max_series ? max_series : DEFAULT_MAX_SERIES;
    f->other = -1;
    size_t nl = strlen(PREFIX) + strlen(name) + 1;
    f->name = malloc(nl);
    f->help = strdup(help ? help : "");
    f->n_labels = label2 ? 2 : label1 ? 1 : 0;
    if (label1) f->label[0] = strdup(label1);
    if (label2) f->label[1] = strdup(label2);
    if (!f->name || !f->help || (label1 && !f->label[0]) || (label2 && !f->label[1])) goto fail;
    snprintf(f->name, nl, "%s%s", PREFIX, name);
    if (kind == OL_METRIC_HISTOGRAM) {
        f->n_bounds = isinf(buckets[n_buckets - 1]) ? n_buckets - 1 : n_buckets; /* +Inf implied */
        if (f->n_bounds > 0) {
            f->bounds = malloc((size_t)f->n_bounds * sizeof(double));
            if (!f->bounds) goto fail;
            memcpy(f->bounds, buckets, (size_t)f->n_bounds * sizeof(double));
        }
    }
    if (f->n_labels == 0 && !series_new(f, NULL, NULL)) goto fail; /* shows 0 from the start */
    pthread_mutex_lock(&m->mu);
    for (ol_metric *g = m->head; g; g = g->next) {
        if (strcmp(g->name, f->name) == 0) {
            pthread_mutex_unlock(&m->mu);
            goto fail;
        }
    }
    if (m->tail)
        m->tail->next = f;
    else
        m->head = f;
    m->tail = f;
    pthread_mutex_unlock(&m->mu);
    return f;
fail:
    family_free(f);
    return NULL;
}

/* ---- updates (called with the registry mutex held) ----------------------------------------- */

static int same(const char *a, const char *b) {
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static series *series_new(ol_metric *f, const char *l1, const char *l2) {
    if (f->n_series == f->cap_series) {
        int cap = f->cap_series ? f->cap_series * 2 : 4;
        series *s = realloc(f->series, (size_t)cap * sizeof(*s));
        if (!s) return NULL;
        f->series = s;
        f->cap_series = cap;
    }
    series *s = &f->series[f->n_series];
    memset(s, 0, sizeof(*s));
    const char *v[2] = {l1, l2};
    for (int i = 0; i < f->n_labels; i++)
        if (!(s->l[i] = strdup(v[i] ? v[i] : ""))) goto fail;
    if (f->kind == OL_METRIC_HISTOGRAM &&
        !(s->buckets = calloc((size_t)f->n_bounds + 1, sizeof(uint64_t))))
        goto fail;
    f->n_series++;
    return s;
fail:
    free(s->l[0]);
    free(s->l[1]);
    return NULL;
}

/* The series for (l1, l2): found, created, or the "other" series once max_series are taken.
 * NULL only on OOM (the update is then dropped). */
static series *series_get(ol_metric *f, const char *l1, const char *l2) {
    if (f->n_labels < 2) l2 = NULL;
    if (f->n_labels < 1) l1 = NULL;
    for (int i = 0; i < f->n_series; i++) {
        if (i == f->other) continue;
        series *s = &f->series[i];
        if (same(s->l[0], l1) && same(s->l[1], l2)) return s;
    }
    int n_named = f->n_series - (f->other >= 0);
    if (n_named < f->max_series || f->n_labels == 0) return series_new(f, l1, l2);
    if (f->other < 0) {
        if (!series_new(f, OTHER, f->n_labels > 1 ? OTHER : NULL)) return NULL;
        f->other = f->n_series - 1;
    }
    return &f->series[f->other];
}

void ol_metric_inc(ol_metric *f, const char *l1, const char *l2, double v) {
    if (!f || f->kind == OL_METRIC_HISTOGRAM || isnan(v)) return;
    if (f->kind == OL_METRIC_COUNTER && v < 0) return;
    pthread_mutex_lock(&f->reg->mu);
    series *s = series_get(f, l1, l2);
    if (s) s->value += v;
    pthread_mutex_unlock(&f->reg->mu);
}

void ol_metric_set(ol_metric *f, const char *l1, const char *l2, double v) {
    if (!f || f->kind != OL_METRIC_GAUGE) return;
    pthread_mutex_lock(&f->reg->mu);
    series *s = series_get(f, l1, l2);
    if (s) s->value = v;
    pthread_mutex_unlock(&f->reg->mu);
}

void ol_metric_observe(ol_metric *f, const char *l1, const char *l2, double v) {
    if (!f || f->kind != OL_METRIC_HISTOGRAM || isnan(v)) return;
    int b = 0;
    while (b < f->n_bounds && v > f->bounds[b]) b++; /* first bucket with v <= le */
    pthread_mutex_lock(&f->reg->mu);
    series *s = series_get(f, l1, l2);
    if (s) {
        s->buckets[b]++;
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&f->reg->mu);
}

/* ---- rendering ---------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put_n(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}
static void sb_put(sbuf *b, const char *s) {
    sb_put_n(b, s, strlen(s));
}

/* Label values escape \ " and newline; HELP text escapes \ and newline. */
static void sb_escaped(sbuf *b, const char *s, int quote) {
    const char *run = s;
    for (; *s; s++) {
        const char *e = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : quote && *s == '"' ? "\\\"" : 0;
        if (!e) continue;
        sb_put_n(b, run, (size_t)(s - run));
        sb_put(b, e);
        run = s + 1;
    }
    sb_put_n(b, run, (size_t)(s - run));
}

/* Prometheus numbers: +Inf, -Inf, NaN; integers without exponent or fraction; otherwise the
 * shortest %g that reads back to the same double. */
static void fmt_num(char *out, size_t n, double v) {
    if (isnan(v))
        snprintf(out, n, "NaN");
    else if (isinf(v))
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
    else if (v == 0)
        snprintf(out, n, "0");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, n, "%.0f", v);
    else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(out, n, "%.*g", prec, v);
            if (strtod(out, NULL) == v) break;
        }
    }
}

static void sb_num(sbuf *b, double v) {
    char tmp[64];
    fmt_num(tmp, sizeof(tmp), v);
    sb_put(b, tmp);
}

/* name{l1="v1",l2="v2",le="x"} value */
static void sample(sbuf *b, const ol_metric *f, const char *suffix, const series *s, const char *le,
                   double v) {
    sb_put(b, f->name);
    sb_put(b, suffix);
    if (f->n_labels || le) {
        sb_put(b, "{");
        for (int i = 0; i < f->n_labels; i++) {
            if (i) sb_put(b, ",");
            sb_put(b, f->label[i]);
            sb_put(b, "=\"");
            sb_escaped(b, s->l[i], 1);
            sb_put(b, "\"");
        }
        if (le) {
            sb_put(b, f->n_labels ? ",le=\"" : "le=\"");
            sb_put(b, le);
            sb_put(b, "\"");
        }
        sb_put(b, "}");
    }
    sb_put(b, " ");
    sb_num(b, v);
    sb_put(b, "\n");
}

static void render_series(sbuf *b, const ol_metric *f, const series *s) {
    if (f->kind != OL_METRIC_HISTOGRAM) {
        sample(b, f, "", s, NULL, s->value);
        return;
    }
    uint64_t cum = 0;
    char le[64];
    for (int i = 0; i < f->n_bounds; i++) {
        cum += s->buckets[i];
        fmt_num(le, sizeof(le), f->bounds[i]);
        sample(b, f, "_bucket", s, le, (double)cum);
    }
    sample(b, f, "_bucket", s, "+Inf", (double)s->count);
    sample(b, f, "_sum", s, NULL, s->value);
    sample(b, f, "_count", s, NULL, (double)s->count);
}

char *ol_metrics_render(ol_metrics *m, size_t *len) {
    if (len) *len = 0;
    if (!m) return NULL;
    sbuf b = {0};
    sb_put_n(&b, "", 0); /* an empty registry renders as "" */
    pthread_mutex_lock(&m->mu);
    for (ol_metric *f = m->head; f; f = f->next) {
        sb_put(&b, "# HELP ");
        sb_put(&b, f->name);
        sb_put(&b, " ");
        sb_escaped(&b, f->help, 0);
        sb_put(&b, "\n# TYPE ");
        sb_put(&b, f->name);
        sb_put(&b, " ");
        sb_put(&b, kind_names[f->kind]);
        sb_put(&b, "\n");
        for (int i = 0; i < f->n_series; i++) render_series(&b, f, &f->series[i]);
    }
    pthread_mutex_unlock(&m->mu);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len) *len = b.len;
    return b.p;
}
