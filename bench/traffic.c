/* bench/traffic.c: many-adapter serving under Poisson traffic, through the engine's C API
 * (include/openlora.h); built and run by bench/traffic, documented in bench/README.md.
 * Per configuration (base only; adapter mix x cache budget; one adapter set per batch) it
 * reports throughput, TTFT and inter-token latency percentiles, adapter-cache hit rate, loads/s
 * and preemptions, then throughput ratios and pass/fail lines against the targets. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include "openlora.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_GEN     64 /* max_tokens is drawn from 32..64 */
#define MAX_BUDGETS 8

/* ---- small helpers ------------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s) { /* (0, 1) */
    return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}
static int rng_range(uint64_t *s, int lo, int hi) { /* [lo, hi] */
    return lo + (int)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
/* Nearest-rank percentile of v[0..n) (sorted in place); NAN when empty. */
static double pct(double *v, size_t n, double p) {
    if (n == 0) return NAN;
    qsort(v, n, sizeof(double), cmp_d);
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    if (k < 1) k = 1;
    return v[k - 1];
}

/* ---- the workload ------------------------------------------------------------------------- */

typedef struct {
    uint64_t t_arrive; /* ns after the run's start (open loop) */
    int n_prompt, max_tokens;
    int adapter; /* index into the adapter list */
    const int32_t *prompt;
} item;

/* Per submitted request: written by the arrival thread (submit) and by the engine thread
 * (callbacks), read after the engine is destroyed. */
typedef struct {
    uint64_t t_submit, t_first, t_done;
    uint64_t *tok_t; /* [MAX_GEN] time of each generated token */
    int n_prompt, max_tokens, n_tok, n_gen, n_preempted;
    int finish; /* -1 until on_done */
    int state;  /* 0 not submitted, 1 accepted, 2 refused (OL_EFULL), 3 other submit error */
    bool measured;
    atomic_int *done_counter; /* measured requests only */
} rec;

static int on_token(void *ud, const ol_token_event *ev) {
    rec *r = ud;
    const uint64_t t = ol_time_ns();
    if (r->n_tok == 0) r->t_first = t;
    if (ev->index < MAX_GEN) r->tok_t[ev->index] = t;
    r->n_tok++;
    return 0;
}

static void on_done(void *ud, const ol_request_result *res) {
    rec *r = ud;
    r->t_done = ol_time_ns();
    r->finish = (int)res->finish;
    r->n_gen = res->n_generated;
    r->n_preempted = res->n_preempted;
    if (r->done_counter) atomic_fetch_add(r->done_counter, 1);
}

typedef struct {
    const char *model_path, *adapter_dir;
    int n_threads, n_req, n_warm, n_adapters;
    double rate, duration, max_seconds, trace;
    bool no_prefix;
    int policy; /* ol_adapter_policy: 0 LRU, 1 LFU */
    size_t kv_bytes;
    uint64_t seed;
    char (*names)[16];
    char (*sources)[4096];
    double avg_adapter_bytes;
} options;

/* Items 0..n-1 of one mix: arrival times, lengths and prompts come from one seeded stream (the
 * same for every mix, so every configuration sees the same requests), adapters from another. */
static item *make_items(const options *o, int n, int n_vocab, double rate, int mix,
                        int32_t **pool_out) {
    item *it = calloc((size_t)n, sizeof(item));
    int32_t *pool = malloc(sizeof(int32_t) * 128 * (size_t)n);
    if (!it || !pool) exit(fprintf(stderr, "out of memory\n"));
    uint64_t s = o->seed, sa = o->seed ^ 0xA5A5A5A5DEADBEEFull;
    /* Zipf(1.0) over a fixed random permutation of the adapters */
    const int N = o->n_adapters;
    int *perm = malloc(sizeof(int) * (size_t)N);
    double *cdf = malloc(sizeof(double) * (size_t)N);
    uint64_t sp = o->seed ^ 0x5EED5EEDull;
    for (int i = 0; i < N; i++) perm[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(rng_next(&sp) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    double acc = 0;
    for (int k = 0; k < N; k++) cdf[k] = (acc += 1.0 / (k + 1));
    double t = 0;
    for (int i = 0; i < n; i++) {
        t += -log(rng_unit(&s)) / rate;
        it[i].t_arrive = (uint64_t)(t * 1e9);
        it[i].n_prompt = rng_range(&s, 32, 128);
        it[i].max_tokens = rng_range(&s, 32, MAX_GEN);
        int32_t *p = pool + (size_t)i * 128;
        for (int k = 0; k < it[i].n_prompt; k++) p[k] = rng_range(&s, 1, n_vocab - 1);
        it[i].prompt = p;
        if (mix == 0) { /* zipf */
            double u = rng_unit(&sa) * acc;
            int lo = 0, hi = N - 1;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (cdf[mid] < u)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            it[i].adapter = perm[lo];
        } else {
            it[i].adapter = rng_range(&sa, 0, N - 1);
        }
    }
    free(perm), free(cdf);
    *pool_out = pool;
    return it;
}

/* ---- one configuration -------------------------------------------------------------------- */

typedef struct {
    char name[32];
    int mix;          /* -1 base only, 0 zipf, 1 uniform */
    int budget_count; /* adapters the cache budget holds (0: base) */
    size_t budget_bytes;
    bool serialize;
    /* results */
    double window_s, gen_tok_s, total_tok_s, req_s;
    double ttft_p50, ttft_p99, itl_p50, itl_p99; /* ms */
    double hit_rate, loads_s;
    int64_t hits, misses, loads, prefetches, evictions, preemptions, steps;
    double tok_per_step, step_ms, load_ms;
    int completed, refused, errors, censored;
    bool capped;
} result;

typedef struct {
    ol_engine *e;
    const options *o;
    const item *it;
    rec *recs;
    const ol_adapter_weight *aw; /* per adapter index; NULL for base */
    int n_items, first_measured, end_measured;
    atomic_int stop, measured_refused, next;
    atomic_int done;
    uint64_t t0;
    atomic_ullong t_window_start;
    ol_engine_stats st_start;
} run_ctx;

static int submit_one(run_ctx *c, int i) {
    const item *it = &c->it[i];
    rec *r = &c->recs[i];
    r->n_prompt = it->n_prompt;
    r->max_tokens = it->max_tokens;
    r->finish = -1;
    ol_request_params p;
    ol_request_params_default(&p);
    p.tokens = it->prompt;
    p.n_tokens = it->n_prompt;
    p.max_tokens = it->max_tokens;
    p.sampling.temperature = 0;
    p.ignore_eos = true;
    if (c->aw) p.adapters = &c->aw[it->adapter], p.n_adapters = 1;
    p.on_token = on_token;
    p.on_done = on_done;
    p.ud = r;
    ol_err err = {0};
    r->t_submit = ol_time_ns();
    int rc = ol_engine_submit(c->e, &p, NULL, &err);
    if (rc == 0) {
        r->state = 1;
    } else if (rc == OL_EFULL) {
        r->state = 2;
    } else {
        r->state = 3;
        fprintf(stderr, "submit: %s\n", err.msg);
    }
    return rc;
}

/* Open loop: submit item i at t0 + t_arrive[i]; items before first_measured are warm-up, items
 * from end_measured on keep the load up until the measured ones are done (main sets stop). */
static void *arrival_main(void *arg) {
    run_ctx *c = arg;
    for (int i = 0; i < c->n_items && !atomic_load(&c->stop); i++) {
        for (;;) {
            const uint64_t now = ol_time_ns(), due = c->t0 + c->it[i].t_arrive;
            if (now >= due || atomic_load(&c->stop)) break;
            const uint64_t d = due - now;
            sleep_ns(d < 10000000ull ? d : 10000000ull);
        }
        if (atomic_load(&c->stop)) break;
        if (i == c->first_measured) {
            ol_engine_stats_get(c->e, &c->st_start);
            atomic_store(&c->t_window_start, ol_time_ns());
        }
        c->recs[i].measured = i >= c->first_measured && i < c->end_measured;
        if (c->recs[i].measured) c->recs[i].done_counter = &c->done;
        int rc = submit_one(c, i);
        if (rc && c->recs[i].measured) atomic_fetch_add(&c->measured_refused, 1);
        atomic_store(&c->next, i + 1);
    }
    return NULL;
}

static ol_engine *make_engine(const options *o, size_t budget, bool serialize,
                              const ol_adapter_weight **aw_out, ol_adapter_weight *aw) {
    ol_engine_params ep;
    ol_engine_params_default(&ep);
    ep.model_path = o->model_path;
    ep.n_threads = o->n_threads;
    ep.kv_budget_bytes = o->kv_bytes;
    ep.n_batch = 512;
    ep.max_running = 64;
    if (budget) ep.adapter_cache_bytes = budget;
    ep.serialize_adapters = serialize;
    ep.prefix_cache = !o->no_prefix;
    ep.adapter_policy = o->policy;
    ol_err err = {0};
    ol_engine *e = ol_engine_create(&ep, &err);
    if (!e) exit(fprintf(stderr, "engine: %s\n", err.msg));
    for (int i = 0; i < o->n_adapters; i++) {
        if (ol_engine_adapter_register(e, o->names[i], o->sources[i], NULL, NULL, NULL, &err))
            exit(fprintf(stderr, "register %s (%s): %s\n", o->names[i], o->sources[i], err.msg));
        aw[i] = (ol_adapter_weight){o->names[i], 1.0f};
    }
    *aw_out = budget ? aw : NULL;
    return e;
}

static void run_config(const options *o, result *res, const item *it, int n_items,
                       ol_adapter_weight *aw_all) {
    rec *recs = calloc((size_t)n_items, sizeof(rec));
    uint64_t *tok_t = calloc((size_t)n_items * MAX_GEN, sizeof(uint64_t));
    if (!recs || !tok_t) exit(fprintf(stderr, "out of memory\n"));
    for (int i = 0; i < n_items; i++) recs[i].tok_t = tok_t + (size_t)i * MAX_GEN;
    run_ctx c = {.o = o, .it = it, .recs = recs, .n_items = n_items};
    c.e = make_engine(o, res->budget_bytes, res->serialize, &c.aw, aw_all);
    c.first_measured = o->n_warm;
    c.end_measured = o->n_warm + o->n_req;
    c.t0 = ol_time_ns();
    pthread_t th;
    pthread_create(&th, NULL, arrival_main, &c);

    /* wait for every measured request to finish (or be refused), or for the cap */
    uint64_t t_end = 0;
    uint64_t t_trace = c.t0;
    for (;;) {
        sleep_ns(2000000);
        if (o->trace > 0 && ol_time_ns() - t_trace >= (uint64_t)(o->trace * 1e9)) {
            t_trace = ol_time_ns();
            ol_engine_stats s;
            ol_engine_stats_get(c.e, &s);
            fprintf(stderr,
                    "   t=%6.1f s: waiting %lld (loading %lld), running %lld, steps %lld, "
                    "adapters resident %lld pinned %lld loading %lld, loads %lld (%.0f ms avg), "
                    "prefetches %lld, evictions %lld, done %d\n",
                    (t_trace - c.t0) * 1e-9, (long long)s.n_waiting, (long long)s.n_loading,
                    (long long)s.n_running, (long long)s.steps, (long long)s.adapters_resident,
                    (long long)s.adapters_pinned, (long long)s.adapters_loading,
                    (long long)s.adapter_loads,
                    s.adapter_loads ? s.adapter_load_ns_total * 1e-6 / s.adapter_loads : 0.0,
                    (long long)s.adapter_prefetches, (long long)s.adapter_evictions,
                    atomic_load(&c.done));
        }
        const uint64_t ws = atomic_load(&c.t_window_start);
        const int fin = atomic_load(&c.done) + atomic_load(&c.measured_refused);
        if (atomic_load(&c.next) >= c.end_measured && fin >= o->n_req) {
            t_end = ol_time_ns();
            break;
        }
        if (ws && (double)(ol_time_ns() - ws) * 1e-9 > o->max_seconds) {
            t_end = ol_time_ns();
            res->capped = true;
            break;
        }
    }
    ol_engine_stats st;
    ol_engine_stats_get(c.e, &st);
    atomic_store(&c.stop, 1);
    pthread_join(th, NULL);
    ol_engine_destroy(c.e); /* aborts the tail; every callback has run when it returns */
    const uint64_t t_start = atomic_load(&c.t_window_start);
    if (!t_end) t_end = ol_time_ns();

    /* ---- figures over the window [t_start, t_end] ---- */
    const double win = (double)(t_end - t_start) * 1e-9;
    int64_t gen = 0, prompt = 0;
    size_t n_ttft = 0, n_itl = 0;
    double *ttft = malloc(sizeof(double) * (size_t)n_items);
    double *itl = malloc(sizeof(double) * (size_t)n_items * MAX_GEN);
    for (int i = 0; i < n_items; i++) {
        const rec *r = &recs[i];
        if (r->state != 1) {
            if (r->measured) {
                if (r->state == 2)
                    res->refused++;
                else if (r->state == 3)
                    res->errors++;
            }
            continue;
        }
        const int nt = r->n_tok < MAX_GEN ? r->n_tok : MAX_GEN;
        for (int k = 0; k < nt; k++) gen += r->tok_t[k] >= t_start && r->tok_t[k] <= t_end;
        if (r->t_first && r->t_first >= t_start && r->t_first <= t_end) prompt += r->n_prompt;
        if (!r->measured) continue;
        if (r->finish == OL_FINISH_ERROR) res->errors++;
        if (r->t_done && r->t_done <= t_end && r->finish != OL_FINISH_ABORT) res->completed++;
        if (r->t_first && r->t_first <= t_end) {
            ttft[n_ttft++] = (double)(r->t_first - r->t_submit) * 1e-6;
        } else { /* still waiting at the cap: counted with the time waited so far */
            ttft[n_ttft++] = (double)(t_end - r->t_submit) * 1e-6;
            res->censored++;
        }
        for (int k = 1; k < nt; k++)
            if (r->tok_t[k] <= t_end) itl[n_itl++] = (double)(r->tok_t[k] - r->tok_t[k - 1]) * 1e-6;
    }
    res->window_s = win;
    res->gen_tok_s = (double)gen / win;
    res->total_tok_s = (double)(gen + prompt) / win;
    res->req_s = res->completed / win;
    res->ttft_p50 = pct(ttft, n_ttft, 50), res->ttft_p99 = pct(ttft, n_ttft, 99);
    res->itl_p50 = pct(itl, n_itl, 50), res->itl_p99 = pct(itl, n_itl, 99);
    res->hits = st.adapter_hits - c.st_start.adapter_hits;
    res->misses = st.adapter_misses - c.st_start.adapter_misses;
    res->loads = st.adapter_loads - c.st_start.adapter_loads;
    res->evictions = st.adapter_evictions - c.st_start.adapter_evictions;
    res->prefetches = st.adapter_prefetches - c.st_start.adapter_prefetches;
    res->preemptions = st.preemptions - c.st_start.preemptions;
    if (res->loads > 0)
        res->load_ms = (double)(st.adapter_load_ns_total - c.st_start.adapter_load_ns_total) *
                       1e-6 / res->loads;
    res->steps = st.steps - c.st_start.steps;
    if (res->steps > 0) {
        res->tok_per_step = (double)(st.tokens_prefill + st.tokens_decode -
                                     c.st_start.tokens_prefill - c.st_start.tokens_decode) /
                            res->steps;
        res->step_ms = win * 1e3 / res->steps;
    }
    res->hit_rate = res->hits + res->misses ? (double)res->hits / (res->hits + res->misses) : NAN;
    res->loads_s = res->loads / win;
    if (res->budget_count && st.adapters_resident > 0)
        fprintf(stderr, "   %s: %lld adapters resident (%.1f MB, peak %.1f MB of %.1f MB)\n",
                res->name, (long long)st.adapters_resident, st.adapter_bytes_resident / 1e6,
                st.adapter_bytes_peak / 1e6, st.adapter_bytes_budget / 1e6);
    free(ttft), free(itl), free(recs), free(tok_t);
}

/* Closed loop, base only: keep `conc` requests in flight; from the end of the first wave (conc
 * completions) over `m` more completions, count the tokens processed (prompt tokens at their
 * request's first token, generated tokens as they come). Returns the request rate that work
 * amounts to: tokens/s over the mean prompt + max_tokens of a request (every request generates
 * exactly max_tokens: ignore_eos). That is steadier than counting the few completions of a short
 * window, which come in lumps after the first wave. *gen_s: generated tokens/s; *done_s:
 * completions/s in the window, for comparison. */
static double measure_saturation(const options *o, int conc, int m, const item *it, int n_items,
                                 ol_adapter_weight *aw_all, double *gen_s, double *done_s) {
    rec *recs = calloc((size_t)n_items, sizeof(rec));
    uint64_t *tok_t = calloc((size_t)n_items * MAX_GEN, sizeof(uint64_t));
    if (!recs || !tok_t) exit(fprintf(stderr, "out of memory\n"));
    for (int i = 0; i < n_items; i++) recs[i].tok_t = tok_t + (size_t)i * MAX_GEN;
    run_ctx c = {.o = o, .it = it, .recs = recs, .n_items = n_items};
    c.e = make_engine(o, 0, false, &c.aw, aw_all);
    int next = 0;
    uint64_t t_a = 0, t_b = 0;
    for (;;) {
        const int d = atomic_load(&c.done);
        if (!t_a && d >= conc) t_a = ol_time_ns();
        if (t_a && d >= conc + m) {
            t_b = ol_time_ns();
            break;
        }
        while (next < n_items && next - d < conc) {
            recs[next].done_counter = &c.done;
            if (submit_one(&c, next++)) exit(fprintf(stderr, "saturation: submit failed\n"));
        }
        if (next >= n_items && d >= next) break;
        sleep_ns(1000000);
    }
    if (!t_b) t_b = ol_time_ns();
    ol_engine_destroy(c.e);
    int64_t gen = 0, prompt = 0;
    double mean_len = 0;
    for (int i = 0; i < n_items; i++) {
        const rec *r = &recs[i];
        for (int k = 0; k < r->n_tok && k < MAX_GEN; k++)
            gen += r->tok_t[k] >= t_a && r->tok_t[k] <= t_b;
        if (r->t_first >= t_a && r->t_first <= t_b) prompt += r->n_prompt;
        mean_len += it[i].n_prompt + it[i].max_tokens;
    }
    mean_len /= n_items;
    const double dt = (double)(t_b - t_a) * 1e-9;
    *gen_s = (double)gen / dt;
    *done_s = m / dt;
    free(recs), free(tok_t);
    return (double)(gen + prompt) / dt / mean_len;
}

/* ---- main --------------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: traffic -m MODEL.gguf -a ADAPTER_DIR [-t 2] [-n 400] [-w WARMUP] [-d SECONDS]\n"
            "               [--rate R] [--budgets 16,64,256] [--mixes zipf,uniform]\n"
            "               [--kv-mib 256] [--max-seconds 600] [--adapters N] [--seed S]\n"
            "               [--json PATH] [--trace SECONDS] [--no-prefix-cache] [--quick]\n"
            "               [--policy lru|lfu]\n");
    exit(2);
}

static void load_manifest(options *o) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/manifest.json", o->adapter_dir);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        exit(fprintf(stderr, "%s: %s (make the adapters with tools/gen_traffic_adapters.py)\n",
                     path, je.text));
    json_t *ads = json_object_get(j, "adapters");
    const int n = (int)json_array_size(ads);
    if (n < 1) exit(fprintf(stderr, "%s: no adapters\n", path));
    if (o->n_adapters <= 0 || o->n_adapters > n) o->n_adapters = n;
    o->names = calloc((size_t)o->n_adapters, sizeof(*o->names));
    o->sources = calloc((size_t)o->n_adapters, sizeof(*o->sources));
    double sum = 0;
    for (int i = 0; i < o->n_adapters; i++) {
        json_t *a = json_array_get(ads, (size_t)i);
        const char *name = json_string_value(json_object_get(a, "name"));
        const char *dir = json_string_value(json_object_get(a, "dir"));
        if (!name || !dir) exit(fprintf(stderr, "%s: adapter %d: no name or dir\n", path, i));
        snprintf(o->names[i], sizeof(o->names[i]), "%s", name);
        snprintf(o->sources[i], sizeof(o->sources[i]), "%s/%s", o->adapter_dir, dir);
        sum += json_number_value(json_object_get(a, "f32_bytes"));
    }
    o->avg_adapter_bytes = sum / o->n_adapters;
    json_decref(j);
}

static void print_ms(FILE *f, double v) {
    if (isnan(v))
        fprintf(f, " %8s |", "-");
    else
        fprintf(f, " %8.0f |", v);
}

static void json_num(FILE *f, const char *k, double v, bool comma) {
    if (isnan(v) || isinf(v))
        fprintf(f, "\"%s\": null%s", k, comma ? ", " : "");
    else
        fprintf(f, "\"%s\": %.6g%s", k, v, comma ? ", " : "");
}

int main(int argc, char **argv) {
    options o = {.n_threads = 2,
                 .n_req = 400,
                 .n_warm = -1,
                 .kv_bytes = (size_t)256 << 20,
                 .max_seconds = 600,
                 .seed = 20261128};
    const char *json_path = NULL, *budgets_s = "16,64,256", *mixes_s = "zipf,uniform";
    bool quick = false, n_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            quick = true;
            continue;
        }
        if (!strcmp(a, "--no-prefix-cache")) {
            o.no_prefix = true;
            continue;
        }
        if (!v) usage();
        i++;
        if (!strcmp(a, "-m"))
            o.model_path = v;
        else if (!strcmp(a, "-a"))
            o.adapter_dir = v;
        else if (!strcmp(a, "-t"))
            o.n_threads = atoi(v);
        else if (!strcmp(a, "-n"))
            o.n_req = atoi(v), n_set = true;
        else if (!strcmp(a, "-w"))
            o.n_warm = atoi(v);
        else if (!strcmp(a, "-d"))
            o.duration = atof(v);
        else if (!strcmp(a, "--policy")) {
            if (strcmp(v, "lru") && strcmp(v, "lfu")) usage();
            o.policy = !strcmp(v, "lfu");
        } else if (!strcmp(a, "--rate"))
            o.rate = atof(v);
        else if (!strcmp(a, "--budgets"))
            budgets_s = v;
        else if (!strcmp(a, "--mixes"))
            mixes_s = v;
        else if (!strcmp(a, "--kv-mib"))
            o.kv_bytes = (size_t)atol(v) << 20;
        else if (!strcmp(a, "--max-seconds"))
            o.max_seconds = atof(v);
        else if (!strcmp(a, "--adapters"))
            o.n_adapters = atoi(v);
        else if (!strcmp(a, "--seed"))
            o.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--trace"))
            o.trace = atof(v);
        else if (!strcmp(a, "--json"))
            json_path = v;
        else
            usage();
    }
    if (!o.model_path || !o.adapter_dir || o.n_threads < 1 || o.rate < 0) usage();
    if (quick) {
        if (!n_set) o.n_req = 16;
        if (o.n_warm < 0) o.n_warm = 4;
        if (o.max_seconds == 600) o.max_seconds = 25;
    }
    int budgets[MAX_BUDGETS], n_budgets = 0;
    for (const char *p = budgets_s; *p && n_budgets < MAX_BUDGETS;) {
        char *end;
        long b = strtol(p, &end, 10);
        if (end == p || b < 1) usage();
        budgets[n_budgets++] = (int)b;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') usage();
    }
    bool mix_on[2] = {strstr(mixes_s, "zipf") != NULL, strstr(mixes_s, "uniform") != NULL};
    if (!mix_on[0] && !mix_on[1]) usage();
    load_manifest(&o);
    ol_log_set_level(OL_LOG_WARN);

    ol_adapter_weight *aw_all = calloc((size_t)o.n_adapters, sizeof(ol_adapter_weight));
    int n_vocab;
    const char *model_name;
    char model_name_buf[256];
    {
        ol_engine_params ep;
        ol_engine_params_default(&ep);
        ep.model_path = o.model_path;
        ep.n_threads = 1;
        ep.kv_budget_bytes = 16 << 20;
        ep.manual_step = true;
        ol_err err = {0};
        ol_engine *e = ol_engine_create(&ep, &err);
        if (!e) return fprintf(stderr, "%s: %s\n", o.model_path, err.msg), 1;
        n_vocab = ol_engine_n_vocab(e);
        snprintf(model_name_buf, sizeof(model_name_buf), "%s", ol_engine_model_name(e));
        model_name = model_name_buf;
        ol_engine_destroy(e);
    }

    /* saturation: base only, closed loop with max_running requests in flight */
    double sat_req_s = NAN, sat_gen_s = NAN, sat_done_s = NAN;
    if (o.rate <= 0) {
        const int conc = 64, m = quick ? 24 : 192;
        const int n_items = conc + m + conc;
        int32_t *pool;
        item *it = make_items(&o, n_items, n_vocab, 1.0, 1, &pool);
        fprintf(stderr, "saturation: closed loop, %d in flight, %d requests timed...\n", conc, m);
        sat_req_s = measure_saturation(&o, conc, m, it, n_items, aw_all, &sat_gen_s, &sat_done_s);
        fprintf(stderr, "   %.2f req/s from tokens processed (%.2f completions/s)\n", sat_req_s,
                sat_done_s);
        o.rate = 0.9 * sat_req_s;
        free(it), free(pool);
    }
    if (o.duration > 0) o.n_req = (int)ceil(o.duration * o.rate);
    if (o.n_warm < 0) o.n_warm = o.n_req / 10 > 8 ? o.n_req / 10 : 8;
    if (o.n_req < 1) usage();

    /* the configurations */
    result res[2 + 2 * (MAX_BUDGETS + 1)];
    int n_res = 0;
    res[n_res++] = (result){.name = "base", .mix = -1};
    const char *mix_names[2] = {"zipf", "uniform"};
    int i_serial[2] = {-1, -1}, i_cfg[2][MAX_BUDGETS];
    for (int mx = 0; mx < 2; mx++) {
        if (!mix_on[mx]) continue;
        int bmax = 0;
        for (int b = 0; b < n_budgets; b++) {
            result *r = &res[n_res];
            *r = (result){.mix = mx, .budget_count = budgets[b]};
            r->budget_bytes = (size_t)(budgets[b] * o.avg_adapter_bytes);
            snprintf(r->name, sizeof(r->name), "%s/%d", mix_names[mx], budgets[b]);
            i_cfg[mx][b] = n_res++;
            if (budgets[b] > bmax) bmax = budgets[b];
        }
        result *r = &res[n_res];
        *r = (result){.mix = mx, .budget_count = bmax, .serialize = true};
        r->budget_bytes = (size_t)(bmax * o.avg_adapter_bytes);
        snprintf(r->name, sizeof(r->name), "%s serial/%d", mix_names[mx], bmax);
        i_serial[mx] = n_res++;
    }

    /* workload: warm-up + measured + a tail that keeps arriving until the measured are done */
    const int n_items = o.n_warm + o.n_req + (o.n_req * 4 > 1024 ? o.n_req * 4 : 1024);
    item *items[2] = {NULL, NULL};
    int32_t *pools[2] = {NULL, NULL};
    for (int mx = 0; mx < 2; mx++)
        if (mix_on[mx]) items[mx] = make_items(&o, n_items, n_vocab, o.rate, mx, &pools[mx]);
    const int base_mix = mix_on[0] ? 0 : 1; /* base only ignores the adapter of each item */

    printf("model %s, %d adapters (average %.2f MB in f32), -t %d, KV %zu MiB, n_batch 512, "
           "max_running 64, adapter cache policy %s\n",
           model_name, o.n_adapters, o.avg_adapter_bytes / 1e6, o.n_threads, o.kv_bytes >> 20,
           o.policy ? "lfu" : "lru");
    if (!isnan(sat_req_s))
        printf("base saturation (closed loop, 64 in flight): %.2f req/s, %.1f generated tok/s; "
               "arrival rate 90%%: %.2f req/s\n",
               sat_req_s, sat_gen_s, o.rate);
    else
        printf("arrival rate (--rate): %.2f req/s\n", o.rate);
    printf("requests: %d warm-up + %d measured (Poisson), prompts 32-128 random tokens, "
           "max_tokens 32-64, greedy, ignore_eos\n\n",
           o.n_warm, o.n_req);
    fflush(stdout);

    for (int k = 0; k < n_res; k++) {
        result *r = &res[k];
        const int mx = r->mix < 0 ? base_mix : r->mix;
        fprintf(stderr, "[%d/%d] %s (budget %.0f MB)...\n", k + 1, n_res, r->name,
                r->budget_bytes / 1e6);
        const uint64_t t = ol_time_ns();
        run_config(&o, r, items[mx], n_items, aw_all);
        fprintf(stderr,
                "   %.1f s, %.1f gen tok/s, %lld steps of %.1f tokens, %.1f ms/step; adapters: "
                "%lld hits, %lld misses, %lld loads of %.0f ms, %lld prefetches, %lld evictions\n",
                (ol_time_ns() - t) * 1e-9, r->gen_tok_s, (long long)r->steps, r->tok_per_step,
                r->step_ms, (long long)r->hits, (long long)r->misses, (long long)r->loads,
                r->load_ms, (long long)r->prefetches, (long long)r->evictions);
    }

    const double base_thr = res[0].gen_tok_s;
    printf("| config | budget MB | gen tok/s | total tok/s | x base | TTFT p50 ms | TTFT p99 ms "
           "| ITL p50 ms | ITL p99 ms | hit %% | loads/s | preempt | refused | done |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < n_res; k++) {
        const result *r = &res[k];
        printf("| %s%s |", r->name, r->capped ? " *" : "");
        if (r->budget_count)
            printf(" %6.0f |", r->budget_bytes / 1e6);
        else
            printf(" %6s |", "-");
        printf(" %7.1f | %7.1f | %5.2f |", r->gen_tok_s, r->total_tok_s, r->gen_tok_s / base_thr);
        print_ms(stdout, r->ttft_p50);
        print_ms(stdout, r->ttft_p99);
        printf(" %6.1f | %6.1f |", r->itl_p50, r->itl_p99);
        if (r->budget_count)
            printf(" %5.1f | %6.2f |", 100 * r->hit_rate, r->loads_s);
        else
            printf(" %5s | %6s |", "-", "-");
        printf(" %lld | %d | %d/%d |\n", (long long)r->preemptions, r->refused, r->completed,
               o.n_req);
    }
    bool any_capped = false, any_err = false;
    for (int k = 0; k < n_res; k++) any_capped |= res[k].capped, any_err |= res[k].errors > 0;
    if (any_capped)
        printf("\n* stopped at --max-seconds %.0f: requests still waiting count in TTFT with the "
               "time waited so far (a lower bound)\n",
               o.max_seconds);
    if (any_err)
        for (int k = 0; k < n_res; k++)
            if (res[k].errors)
                printf("%s: %d measured requests failed (OL_FINISH_ERROR or submit error)\n",
                       res[k].name, res[k].errors);

    /* ratios and targets */
    typedef struct {
        char what[96];
        double value, threshold;
    } target;
    target tg[3 * MAX_BUDGETS];
    int n_tg = 0;
    printf("\nthroughput ratios (generated tok/s):\n");
    for (int mx = 0; mx < 2; mx++) {
        if (!mix_on[mx]) continue;
        const result *s = &res[i_serial[mx]];
        printf("  %-16s %5.2f x base\n", s->name, s->gen_tok_s / base_thr);
        for (int b = 0; b < n_budgets; b++) {
            const result *r = &res[i_cfg[mx][b]];
            printf("  %-16s %5.2f x base, %5.2f x %s\n", r->name, r->gen_tok_s / base_thr,
                   r->gen_tok_s / s->gen_tok_s, s->name);
            target *t = &tg[n_tg++];
            snprintf(t->what, sizeof(t->what), "%s throughput / base-only", r->name);
            t->value = r->gen_tok_s / base_thr, t->threshold = mx == 0 ? 0.85 : 0.60;
            if (mx == 1) {
                t = &tg[n_tg++];
                snprintf(t->what, sizeof(t->what), "%s throughput / %s", r->name, s->name);
                t->value = r->gen_tok_s / s->gen_tok_s, t->threshold = 3.0;
            }
        }
    }
    printf("\ntargets (zipf >= 0.85 x base; uniform >= 0.60 x base; uniform >= 3 x serial):\n");
    for (int k = 0; k < n_tg; k++)
        printf("  %s: %s %.2f (target >= %.2f)\n", tg[k].value >= tg[k].threshold ? "PASS" : "FAIL",
               tg[k].what, tg[k].value, tg[k].threshold);

    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) return fprintf(stderr, "%s: cannot write\n", json_path), 1;
        fprintf(f, "{\"model\": \"%s\", \"threads\": %d, \"n_adapters\": %d, ", model_name,
                o.n_threads, o.n_adapters);
        json_num(f, "avg_adapter_bytes", o.avg_adapter_bytes, true);
        json_num(f, "saturation_req_s", sat_req_s, true);
        json_num(f, "saturation_gen_tok_s", sat_gen_s, true);
        json_num(f, "rate_req_s", o.rate, true);
        fprintf(f, "\"n_warmup\": %d, \"n_requests\": %d, \"quick\": %s,\n \"runs\": [\n", o.n_warm,
                o.n_req, quick ? "true" : "false");
        for (int k = 0; k < n_res; k++) {
            const result *r = &res[k];
            fprintf(f, "  {\"name\": \"%s\", \"mix\": ", r->name);
            if (r->mix < 0)
                fprintf(f, "null, ");
            else
                fprintf(f, "\"%s\", ", mix_names[r->mix]);
            fprintf(f, "\"serialize\": %s, \"budget_adapters\": %d, \"budget_bytes\": %zu, ",
                    r->serialize ? "true" : "false", r->budget_count, r->budget_bytes);
            json_num(f, "window_s", r->window_s, true);
            json_num(f, "gen_tok_s", r->gen_tok_s, true);
            json_num(f, "total_tok_s", r->total_tok_s, true);
            json_num(f, "ratio_base", r->gen_tok_s / base_thr, true);
            json_num(f, "req_s", r->req_s, true);
            json_num(f, "ttft_p50_ms", r->ttft_p50, true);
            json_num(f, "ttft_p99_ms", r->ttft_p99, true);
            json_num(f, "itl_p50_ms", r->itl_p50, true);
            json_num(f, "itl_p99_ms", r->itl_p99, true);
            json_num(f, "tokens_per_step", r->tok_per_step, true);
            json_num(f, "step_ms", r->step_ms, true);
            json_num(f, "load_ms_avg", r->budget_count ? r->load_ms : NAN, true);
            json_num(f, "hit_rate", r->budget_count ? r->hit_rate : NAN, true);
            json_num(f, "loads_per_s", r->budget_count ? r->loads_s : NAN, true);
            fprintf(f,
                    "\"hits\": %lld, \"misses\": %lld, \"loads\": %lld, \"prefetches\": %lld, "
                    "\"evictions\": %lld, "
                    "\"preemptions\": %lld, \"steps\": %lld, \"completed\": %d, \"refused\": %d, "
                    "\"errors\": %d, "
                    "\"censored_ttft\": %d, \"capped\": %s}%s\n",
                    (long long)r->hits, (long long)r->misses, (long long)r->loads,
                    (long long)r->prefetches, (long long)r->evictions, (long long)r->preemptions,
                    (long long)r->steps, r->completed, r->refused, r->errors, r->censored,
                    r->capped ? "true" : "false", k + 1 < n_res ? "," : "");
        }
        fprintf(f, " ],\n \"targets\": [\n");
        for (int k = 0; k < n_tg; k++) {
            fprintf(f, "  {\"what\": \"%s\", ", tg[k].what);
            json_num(f, "value", tg[k].value, true);
            json_num(f, "threshold", tg[k].threshold, true);
            fprintf(f, "\"pass\": %s}%s\n", tg[k].value >= tg[k].threshold ? "true" : "false",
                    k + 1 < n_tg ? "," : "");
        }
        fprintf(f, " ]}\n");
        fclose(f);
    }
    for (int mx = 0; mx < 2; mx++) free(items[mx]), free(pools[mx]);
    free(aw_all), free(o.names), free(o.sources);
    return 0;
}
