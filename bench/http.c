/* bench/http.c: one closed-loop workload, run in-process (the engine C API) or over HTTP
 * against `openlora serve` (libcurl, streamed completions), so the two throughputs compare;
 * then the rate of 1-token completions at a few concurrencies. Built and run by bench/http
 * (which starts the server), documented in bench/README.md. Prints KEY=VALUE result lines that
 * the script reads. */
#define _GNU_SOURCE /* strdup, strtok_r */
#include "openlora.h"

#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC   16 /* entries of --tiny */
#define MAX_MODELS 16 /* entries of --models */

/* ---- options and the workload --------------------------------------------------------------- */

typedef struct options {
    bool http;
    const char *model_path, *url;
    int server_pid;
    int n_threads, streams, n_req, max_tokens, tiny[MAX_CONC], n_tiny;
    int tiny_rounds;
    uint64_t seed;
    const char *tiny_prompt;
    bool no_gen;
    const char *models[MAX_MODELS]; /* --models: request i asks for models[i % n_models] */
    int n_models;
} options;

/* One request of the closed loop. Prompts are token ids (gen) or text (tiny). */
typedef struct item {
    const int32_t *toks;
    int n_toks;
    const char *text;
    int max_tokens;
    bool stream;
    char *body;        /* HTTP: the JSON body, built before the clock starts */
    const char *model; /* HTTP: `model` (NULL: the served base model) */
} item;

/* What one request did, seen from the client. */
typedef struct outcome {
    int ok;          /* finished with generated tokens */
    int n_generated; /* usage.completion_tokens / ol_request_result.n_generated */
    double ttft_s;   /* submit -> first token (NAN: none) */
} outcome;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Seeded token prompts of 32..96 ids in [1000, 60000): the same ids for both sides. */
static int32_t **make_prompts(int n, uint64_t seed, int **lens) {
    int32_t **p = calloc((size_t)n, sizeof(*p));
    *lens = calloc((size_t)n, sizeof(int));
    uint64_t s = seed;
    for (int i = 0; i < n; i++) {
        int len = 32 + (int)(rng_next(&s) % 65);
        p[i] = malloc((size_t)len * sizeof(int32_t));
        for (int k = 0; k < len; k++) p[i][k] = 1000 + (int32_t)(rng_next(&s) % 59000);
        (*lens)[i] = len;
    }
    return p;
}

/* CPU seconds (user + system) of this process, and of another one from /proc (0 if unknown). */
static double cpu_self(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of /proc/<pid> or /proc/<pid>/task/<tid> (dir), in seconds; 0 if gone. */
static double cpu_stat(const char *dir) {
    char path[128], buf[1024];
    snprintf(path, sizeof(path), "%s/stat", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* fields after the command name */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy CPU seconds of the whole machine (/proc/stat: all but idle and iowait), 0 if unknown:
 * with the serving process's own CPU it tells a run that lost cores to other work from one
 * whose server was waiting. */
static double cpu_machine(void) {
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                       &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f) fclose(f);
    if (n < 5) return 0;
    unsigned long long busy = 0;
    for (int i = 0; i < 8; i++)
        if (i != 3 && i != 4) busy += v[i];
    return (double)busy / (double)sysconf(_SC_CLK_TCK);
}

static double cpu_pid(int pid) {
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d", pid);
    return pid > 0 ? cpu_stat(dir) : 0;
}

/* ---- clients: in-process and HTTP, one per closed-loop stream ---------------------------- */

typedef struct client client;
typedef struct backend {
    client *(*open)(void *ctx);
    void (*request)(client *c, const item *it, outcome *out);
    void (*close)(client *c);
    void *ctx;
} backend;

/* In-process: submit, then wait on a condition variable for on_done. */
struct client {
    ol_engine *eng;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    uint64_t t_submit, t_first;
    ol_request_result res;
    /* HTTP */
    CURL *curl;
    struct curl_slist *hdrs;
    const char *url;
    char *buf; /* response bytes not yet parsed */
    size_t len, cap;
    outcome *out;
    uint64_t t0;
    bool stream;
};

static int ip_on_token(void *ud, const ol_token_event *ev) {
    client *c = ud;
    if (ev->index == 0) c->t_first = now_ns();
    return 0;
}

static void ip_on_done(void *ud, const ol_request_result *res) {
    client *c = ud;
    pthread_mutex_lock(&c->mu);
    c->res = *res;
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static client *ip_open(void *ctx) {
    client *c = calloc(1, sizeof(*c));
    c->eng = ctx;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    return c;
}

/* The sampling the server uses for `temperature: 0` (OpenAI's defaults, then greedy). */
static void greedy(ol_sampling_params *sp) {
    ol_sampling_params_default(sp);
    sp->temperature = 0, sp->top_k = 0, sp->top_p = 1.0f, sp->min_p = 0.0f;
}

static void ip_request(client *c, const item *it, outcome *out) {
    ol_request_params rp;
    ol_request_params_default(&rp);
    rp.tokens = it->toks;
    rp.n_tokens = it->n_toks;
    rp.prompt = it->text;
    rp.max_tokens = it->max_tokens;
    greedy(&rp.sampling);
    rp.ignore_eos = true;
    rp.on_token = ip_on_token;
    rp.on_done = ip_on_done;
    rp.ud = c;
    c->done = false;
    c->t_first = 0;
    c->t_submit = now_ns();
    ol_err err = {0};
    uint64_t id;
    memset(out, 0, sizeof(*out));
    if (ol_engine_submit(c->eng, &rp, &id, &err)) {
        fprintf(stderr, "submit: %s\n", err.msg);
        return;
    }
    pthread_mutex_lock(&c->mu);
    while (!c->done) pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    out->ok = c->res.finish == OL_FINISH_LENGTH || c->res.finish == OL_FINISH_STOP;
    out->n_generated = c->res.n_generated;
    out->ttft_s = c->t_first ? (double)(c->t_first - c->t_submit) / 1e9 : NAN;
}

static void ip_close(client *c) {
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* HTTP: one keep-alive connection per stream. */
static client *http_open(void *ctx) {
    client *c = calloc(1, sizeof(*c));
    c->url = ctx;
    c->curl = curl_easy_init();
    c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    return c;
}

/* usage.completion_tokens of a JSON text (0 if absent). */
static int usage_tokens(const char *p, size_t n) {
    json_t *j = json_loadb(p, n, 0, NULL);
    int v =
        (int)json_integer_value(json_object_get(json_object_get(j, "usage"), "completion_tokens"));
    json_decref(j);
    return v;
}

/* SSE: the first event carrying text marks the first token; the usage chunk gives the count.
 * Only those two are parsed, so the client stays cheap. */
static void sse_events(client *c) {
    size_t off = 0;
    for (char *e; (e = memmem(c->buf + off, c->len - off, "\n\n", 2));
         off = (size_t)(e - c->buf) + 2) {
        const char *d = c->buf + off;
        size_t n = (size_t)(e - d);
        if (n < 6 || memcmp(d, "data: ", 6)) continue;
        d += 6, n -= 6;
        if (!c->out->ttft_s && memmem(d, n, "\"text\":\"", 8) && !memmem(d, n, "\"text\":\"\"", 9))
            c->out->ttft_s = (double)(now_ns() - c->t0) / 1e9;
        if (memmem(d, n, "\"usage\":{", 9)) c->out->n_generated = usage_tokens(d, n);
        if (n == 6 && !memcmp(d, "[DONE]", 6)) c->out->ok = c->out->n_generated > 0;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static size_t http_write(char *p, size_t sz, size_t nm, void *ud) {
    client *c = ud;
    size_t n = sz * nm;
    if (c->len + n + 1 > c->cap) {
        c->cap = (c->len + n + 1) * 2;
        c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    if (c->stream) sse_events(c);
    return n;
}

static void http_request(client *c, const item *it, outcome *out) {
    memset(out, 0, sizeof(*out));
    c->out = out;
    c->len = 0;
    c->stream = it->stream;
    c->t0 = now_ns();
    curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, it->body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
    CURLcode rc = curl_easy_perform(c->curl);
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status != 200) {
        fprintf(stderr, "http: %s, status %ld: %.200s\n", curl_easy_strerror(rc), status,
                c->buf ? c->buf : "");
        out->ok = 0;
        return;
    }
    if (!it->stream) { /* one token: its arrival is the answer */
        out->n_generated = usage_tokens(c->buf, c->len);
        out->ok = out->n_generated > 0;
        out->ttft_s = (double)(now_ns() - c->t0) / 1e9;
    }
    if (!out->ttft_s) out->ttft_s = NAN;
}

static void http_close(client *c) {
    curl_slist_free_all(c->hdrs);
    curl_easy_cleanup(c->curl);
    free(c->buf);
    free(c);
}

/* ---- the closed loop ---------------------------------------------------------------------- */

typedef struct loop {
    const backend *be;
    const item *items;
    int n_items;     /* request i runs items[i % n_items] */
    int n_run;       /* requests to run */
    atomic_int next; /* next request index */
    atomic_llong tokens, done, errors;
    double *ttft; /* [n_run] */
    double *lat;  /* [n_run]: submit -> last byte / on_done (NAN: failed) */
    uint64_t t_last;
    pthread_mutex_t mu;
    client **clients; /* one per stream; closed after the CPU is read (keeps the server's
                         connection threads alive until then) */
    atomic_int next_client;
} loop;

static void *loop_thread(void *arg) {
    loop *L = arg;
    client *c = L->clients[atomic_fetch_add(&L->next_client, 1)];
    for (int i; (i = atomic_fetch_add(&L->next, 1)) < L->n_run;) {
        outcome o;
        const uint64_t t_req = now_ns();
        L->be->request(c, &L->items[i % L->n_items], &o);
        const uint64_t t = now_ns();
        atomic_fetch_add(&L->tokens, o.n_generated);
        atomic_fetch_add(o.ok ? &L->done : &L->errors, 1);
        L->ttft[i] = o.ttft_s;
        L->lat[i] = o.ok ? (double)(t - t_req) / 1e9 : NAN;
        pthread_mutex_lock(&L->mu);
        if (t > L->t_last) L->t_last = t;
        pthread_mutex_unlock(&L->mu);
    }
    return NULL;
}

typedef struct result {
    long long tokens, done, errors;
    double wall_s, ttft_p50, ttft_p99, lat_p50, lat_p99; /* percentiles: nearest rank */
    double cpu_self, cpu_server; /* cores busy: this process, the server (0 in-process) */
    double cpu_s;                /* CPU seconds of the serving process: this one or the server */
    double cpu_conn;             /* cores busy in the server's connection threads (HTTP layer) */
    double cpu_machine;          /* cores busy on the whole machine */
    double cpu_writers;          /* cores busy in server threads that wrote files (the ledger) */
} result;

/* The server's threads (task ids) before a run; the threads that appear during it are the
 * connection threads (libmicrohttpd: one per connection), whose CPU is the HTTP layer's. */
typedef struct tasks {
    int *tid;
    double *cpu, *wbytes; /* per thread: CPU seconds (schedstat), write_bytes of /proc/.../io */
    int n;
} tasks;

static int tasks_find(const tasks *t, int tid) {
    for (int i = 0; i < t->n; i++)
        if (t->tid[i] == tid) return i;
    return -1;
}

static bool tasks_has(const tasks *t, int tid) {
    return tasks_find(t, tid) >= 0;
}

/* CPU seconds of a thread (schedstat: ns on the CPU) and the bytes it sent toward storage
 * (write_bytes of io: files, not sockets); 0 when unreadable. */
static void task_stat(int pid, int tid, double *cpu, double *wbytes) {
    char tp[96];
    unsigned long long ns = 0, wb = 0;
    snprintf(tp, sizeof(tp), "/proc/%d/task/%d/schedstat", pid, tid);
    FILE *f = fopen(tp, "r");
    if (f && fscanf(f, "%llu", &ns) != 1) ns = 0;
    if (f) fclose(f);
    snprintf(tp, sizeof(tp), "/proc/%d/task/%d/io", pid, tid);
    if ((f = fopen(tp, "r"))) {
        char line[128];
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "write_bytes: %llu", &wb) == 1) break;
        fclose(f);
    }
    *cpu = (double)ns / 1e9, *wbytes = (double)wb;
}

/* CPU seconds of pid's threads not in `before` (when `before` is NULL: fills `into`). */
static double tasks_scan(int pid, const tasks *before, tasks *into) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    DIR *d = pid > 0 ? opendir(path) : NULL;
    double sum = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        int tid = atoi(e->d_name);
        if (tid <= 0) continue;
        if (into) {
            into->tid = realloc(into->tid, (size_t)(into->n + 1) * sizeof(int));
            into->cpu = realloc(into->cpu, (size_t)(into->n + 1) * sizeof(double));
            into->wbytes = realloc(into->wbytes, (size_t)(into->n + 1) * sizeof(double));
            task_stat(pid, tid, &into->cpu[into->n], &into->wbytes[into->n]);
            into->tid[into->n++] = tid;
        } else if (!tasks_has(before, tid)) {
            /* schedstat: ns on the CPU, exact (stat's clock ticks round a short-lived
             * connection thread's few milliseconds down to 0) */
            char tp[96];
            snprintf(tp, sizeof(tp), "/proc/%d/task/%d/schedstat", pid, tid);
            FILE *f = fopen(tp, "r");
            unsigned long long ns = 0;
            if (f && fscanf(f, "%llu", &ns) == 1) sum += (double)ns / 1e9;
            if (f) fclose(f);
        }
    }
    if (d) closedir(d);
    return sum;
}

/* CPU seconds, since `before`, of pid's threads (other than the main one) that existed then and
 * wrote to files since: the server's storage writers (with the usage ledger on, its thread). */
static double tasks_writers(int pid, const tasks *before) {
    double sum = 0;
    for (int i = 0; i < before->n; i++) {
        double cpu, wb;
        if (before->tid[i] == pid) continue;
        task_stat(pid, before->tid[i], &cpu, &wb);
        if (wb > before->wbytes[i] && cpu > before->cpu[i]) sum += cpu - before->cpu[i];
    }
    return sum;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentiles p (0..1, nearest rank) of the non-NAN values of v[n] (sorted in place). */
static void pctl(double *v, int n, double p50_p99[2]) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) v[k++] = v[i];
    qsort(v, (size_t)k, sizeof(double), cmp_d);
    const double ps[2] = {0.50, 0.99};
    for (int j = 0; j < 2; j++) {
        int r = (int)ceil(ps[j] * k);
        p50_p99[j] = k ? v[r < 1 ? 0 : r - 1] : NAN;
    }
}

/* n_conc streams over items: n_run requests; the clock stops at the last answer. */
static result run_loop(const options *o, const backend *be, const item *items, int n_items,
                       int n_run, int n_conc) {
    loop L = {.be = be, .items = items, .n_items = n_items, .n_run = n_run};
    pthread_mutex_init(&L.mu, NULL);
    L.ttft = calloc((size_t)n_run, sizeof(double));
    L.lat = calloc((size_t)n_run, sizeof(double));
    pthread_t *th = calloc((size_t)n_conc, sizeof(*th));
    L.clients = calloc((size_t)n_conc, sizeof(client *));
    for (int i = 0; i < n_conc; i++) L.clients[i] = be->open(be->ctx);
    tasks before = {0};
    tasks_scan(o->server_pid, NULL, &before);
    const double c0 = cpu_self(), s0 = cpu_pid(o->server_pid), m0 = cpu_machine();
    const uint64_t t0 = now_ns();
    for (int i = 0; i < n_conc; i++) pthread_create(&th[i], NULL, loop_thread, &L);
    for (int i = 0; i < n_conc; i++) pthread_join(th[i], NULL);
    /* read before the clients close: their connection threads end with the connections */
    const double c1 = cpu_self(), s1 = cpu_pid(o->server_pid), m1 = cpu_machine();
    const double conn = tasks_scan(o->server_pid, &before, NULL);
    const double writers = tasks_writers(o->server_pid, &before);
    const double w = (double)(now_ns() - t0) / 1e9;
    for (int i = 0; i < n_conc; i++) be->close(L.clients[i]);
    free(L.clients);
    free(before.tid), free(before.cpu), free(before.wbytes);
    result r = {.tokens = L.tokens, .done = L.done, .errors = L.errors};
    r.wall_s = (double)(L.t_last - t0) / 1e9;
    r.cpu_self = (c1 - c0) / w; /* cores busy */
    r.cpu_server = o->server_pid > 0 ? (s1 - s0) / w : 0;
    r.cpu_s = o->server_pid > 0 ? s1 - s0 : c1 - c0;
    r.cpu_conn = conn / w;
    r.cpu_writers = writers / w;
    r.cpu_machine = (m1 - m0) / w;
    double q[2];
    pctl(L.ttft, n_run, q);
    r.ttft_p50 = q[0], r.ttft_p99 = q[1];
    pctl(L.lat, n_run, q);
    r.lat_p50 = q[0], r.lat_p99 = q[1];
    free(L.ttft);
    free(L.lat);
    free(th);
    pthread_mutex_destroy(&L.mu);
    return r;
}

/* ---- HTTP bodies -------------------------------------------------------------------------- */

static char *body_of(const item *it, const char *model) {
    if (it->model) model = it->model;
    json_t *p;
    if (it->toks) {
        p = json_array();
        for (int k = 0; k < it->n_toks; k++) json_array_append_new(p, json_integer(it->toks[k]));
    } else {
        p = json_string(it->text);
    }
    json_t *j = json_pack("{s:s,s:o,s:i,s:i,s:b,s:b}", "model", model, "prompt", p, "max_tokens",
                          it->max_tokens, "temperature", 0, "ignore_eos", 1, "stream", it->stream);
    if (it->stream)
        json_object_set_new(j, "stream_options", json_pack("{s:b}", "include_usage", 1));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* The served model name: the first entry of GET /v1/models. */
static char *served_model(const char *base) {
    char url[512];
    snprintf(url, sizeof(url), "%s/v1/models", base);
    client *c = http_open(url);
    c->out = &(outcome){0};
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    char *name = NULL;
    if (curl_easy_perform(c->curl) == CURLE_OK) {
        json_t *j = json_loadb(c->buf, c->len, 0, NULL);
        const char *id =
            json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), 0), "id"));
        if (id) name = strdup(id);
        json_decref(j);
    }
    http_close(c);
    return name;
}

/* Series of the server's GET /metrics (Prometheus text) whose growth over a run this bench
 * reports when they exist: the usage ledger's records and group commits, and the request
 * duration histograms (until the last byte / from submit until the engine is done), whose mean
 * difference is the time a request spends in the server after the engine has finished it
 * (with the ledger on, the wait for its record's commit is in it). */
enum { SC_RECORDS, SC_COMMITS, SC_DUR_SUM, SC_DUR_N, SC_E2E_SUM, SC_E2E_N, SC_STEPS, N_SCRAPED };
static const char *const SCRAPED[N_SCRAPED] = {
    "openlora_ledger_records_total",
    "openlora_ledger_commits_total",
    "openlora_http_request_duration_seconds_sum{endpoint=\"completions\"}",
    "openlora_http_request_duration_seconds_count{endpoint=\"completions\"}",
    "openlora_e2e_request_latency_seconds_sum",
    "openlora_e2e_request_latency_seconds_count",
    "openlora_engine_steps_total"};

/* v[k] = the value of SCRAPED[k], NAN where absent or unreachable. */
static void scrape(const char *base, double v[N_SCRAPED]) {
    for (int k = 0; k < N_SCRAPED; k++) v[k] = NAN;
    if (!base) return;
    char url[512];
    snprintf(url, sizeof(url), "%s/metrics", base);
    client *c = http_open(url);
    c->out = &(outcome){0};
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_write);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    long status = 0;
    if (curl_easy_perform(c->curl) == CURLE_OK &&
        !curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status) && status == 200 && c->buf) {
        c->buf[c->len] = 0;
        for (char *line = c->buf; line && *line;) {
            for (int k = 0; k < N_SCRAPED; k++) {
                const size_t n = strlen(SCRAPED[k]);
                if (!strncmp(line, SCRAPED[k], n) && line[n] == ' ')
                    v[k] = strtod(line + n + 1, NULL);
            }
            line = strchr(line, '\n');
            if (line) line++;
        }
    }
    http_close(c);
}

/* RESULT lines of what grew between a and b (present series only). */
static void report_scraped(const char *what, const double a[N_SCRAPED], const double b[N_SCRAPED]) {
    double d[N_SCRAPED];
    for (int k = 0; k < N_SCRAPED; k++) d[k] = b[k] - a[k];
    if (!isnan(d[SC_RECORDS])) printf("RESULT %s_ledger_records=%.0f\n", what, d[SC_RECORDS]);
    if (!isnan(d[SC_COMMITS])) printf("RESULT %s_ledger_commits=%.0f\n", what, d[SC_COMMITS]);
    if (!isnan(d[SC_STEPS])) printf("RESULT %s_engine_steps=%.0f\n", what, d[SC_STEPS]);
    if (d[SC_DUR_N] > 0 && d[SC_E2E_N] > 0) /* NAN compares false */
        printf("RESULT %s_after_engine_ms=%.3f\n", what,
               (d[SC_DUR_SUM] / d[SC_DUR_N] - d[SC_E2E_SUM] / d[SC_E2E_N]) * 1e3);
}

/* ---- main --------------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr, "usage: bench_http (-m MODEL | --url http://HOST:PORT [--server-pid PID])\n"
                    "       [-t 2] [--streams 32] [-n 256] [--max-tokens 64] [--tiny 32,64]\n"
                    "       [--tiny-rounds 10] [--seed 1] [--no-gen] [--models NAME,...]\n"
                    "--models (HTTP only): request i asks for the i-th name, round robin\n"
                    "(adapters; `base` = the served model)\n");
    exit(2);
}

static void parse(options *o, int argc, char **argv) {
    *o = (options){.n_threads = 2,
                   .streams = 32,
                   .n_req = 256,
                   .max_tokens = 64,
                   .tiny = {32, 64},
                   .n_tiny = 2,
                   .tiny_rounds = 10,
                   .seed = 1,
                   .tiny_prompt = "The capital of France is"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-gen")) {
            o->no_gen = true;
            continue;
        }
        if (!v) usage();
        i++;
        if (!strcmp(a, "-m"))
            o->model_path = v;
        else if (!strcmp(a, "--url"))
            o->url = v, o->http = true;
        else if (!strcmp(a, "--server-pid"))
            o->server_pid = atoi(v);
        else if (!strcmp(a, "-t"))
            o->n_threads = atoi(v);
        else if (!strcmp(a, "--streams"))
            o->streams = atoi(v);
        else if (!strcmp(a, "-n"))
            o->n_req = atoi(v);
        else if (!strcmp(a, "--max-tokens"))
            o->max_tokens = atoi(v);
        else if (!strcmp(a, "--tiny-rounds"))
            o->tiny_rounds = atoi(v);
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--models")) {
            char *d = strdup(v), *save = NULL; /* kept: o->models points into it */
            o->n_models = 0;
            for (char *t = strtok_r(d, ",", &save); t && o->n_models < MAX_MODELS;
                 t = strtok_r(NULL, ",", &save))
                o->models[o->n_models++] = strcmp(t, "base") ? t : NULL;
        } else if (!strcmp(a, "--tiny")) {
            char *d = strdup(v), *save = NULL;
            o->n_tiny = 0;
            for (char *t = strtok_r(d, ",", &save); t && o->n_tiny < MAX_CONC;
                 t = strtok_r(NULL, ",", &save))
                if (atoi(t) > 0) o->tiny[o->n_tiny++] = atoi(t);
            free(d);
        } else
            usage();
    }
    if (!o->model_path == !o->url || o->streams < 1 || o->n_req < 1 || o->max_tokens < 1 ||
        o->tiny_rounds < 1 || (o->n_models && !o->url))
        usage();
}

/* Engine parameters equal to `openlora serve`'s defaults (src/server/http.c). */
static ol_engine *make_engine(const options *o) {
    ol_engine_params ep;
    ol_engine_params_default(&ep);
    ep.model_path = o->model_path;
    ep.n_threads = o->n_threads;
    ep.kv_budget_bytes = (size_t)256 << 20;
    ep.adapter_cache_bytes = (size_t)1024 << 20;
    ep.n_batch = 512;
    ep.max_running = 64;
    ep.max_waiting = 256;
    ol_err err = {0};
    ol_engine *e = ol_engine_create(&ep, &err);
    if (!e) exit(fprintf(stderr, "engine: %s\n", err.msg) > 0);
    return e;
}

static void report(const char *what, const result *r, bool http) {
    char ttft[32] = "-", lat[48] = "-";
    if (!isnan(r->ttft_p50)) snprintf(ttft, sizeof(ttft), "%.0f ms", r->ttft_p50 * 1e3);
    if (!isnan(r->lat_p50))
        snprintf(lat, sizeof(lat), "%.0f/%.0f ms", r->lat_p50 * 1e3, r->lat_p99 * 1e3);
    printf("%-22s %5lld req %6lld tok %6.2f s %8.1f tok/s %7.1f req/s  ttft p50 %8s  "
           "latency p50/p99 %13s  cpu ",
           what, r->done, r->tokens, r->wall_s, (double)r->tokens / r->wall_s,
           (double)r->done / r->wall_s, ttft, lat);
    if (http)
        printf("client %.2f server %.2f (HTTP threads %.3f) machine %.2f\n", r->cpu_self,
               r->cpu_server, r->cpu_conn, r->cpu_machine);
    else
        printf("process %.2f machine %.2f\n", r->cpu_self, r->cpu_machine);
    if (r->errors) printf("  !! %lld requests failed\n", r->errors);
    fflush(stdout);
}

int main(int argc, char **argv) {
    options o;
    parse(&o, argc, argv);
    const char *side = o.http ? "http" : "inproc";
    ol_engine *eng = NULL;
    backend be;
    char url[512], *model = NULL;
    if (o.http) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        snprintf(url, sizeof(url), "%s/v1/completions", o.url);
        if (!(model = served_model(o.url))) return fprintf(stderr, "%s: no /v1/models\n", o.url), 1;
        be = (backend){http_open, http_request, http_close, url};
    } else {
        eng = make_engine(&o);
        be = (backend){ip_open, ip_request, ip_close, eng};
    }
    int *lens;
    /* n_req prompts for the run, then o.streams others for the warm-up (no prefix-cache hits
     * carried into the run) */
    int32_t **prompts = make_prompts(o.n_req + o.streams, o.seed, &lens);
    item *gen = calloc((size_t)o.n_req, sizeof(item)),
         *warm = calloc((size_t)o.n_req, sizeof(item));
    for (int i = 0; i < o.n_req; i++) {
        const char *m = o.n_models ? o.models[i % o.n_models] : NULL;
        gen[i] = (item){prompts[i], lens[i], NULL, o.max_tokens, true, NULL, m};
        const int w = o.n_req + i % o.streams;
        warm[i] = (item){prompts[w], lens[w], NULL, 4, true, NULL, m};
        if (o.http) gen[i].body = body_of(&gen[i], model), warm[i].body = body_of(&warm[i], model);
    }
    /* 1-token requests: one item per model of --models (the base model without) */
    const int n_tiny_items = o.n_models ? o.n_models : 1;
    item tiny[MAX_MODELS];
    for (int k = 0; k < n_tiny_items; k++) {
        tiny[k] = (item){NULL, 0, o.tiny_prompt, 1, false, NULL, o.n_models ? o.models[k] : NULL};
        if (o.http) tiny[k].body = body_of(&tiny[k], model);
    }
    double m0[N_SCRAPED], m1[N_SCRAPED];

    if (!o.no_gen) {
        run_loop(&o, &be, warm, o.n_req, o.streams, o.streams); /* warm-up: one round */
        scrape(o.url, m0);
        result r = run_loop(&o, &be, gen, o.n_req, o.n_req, o.streams);
        scrape(o.url, m1);
        char what[64];
        snprintf(what, sizeof(what), "%s gen x%d", side, o.streams);
        report(what, &r, o.http);
        printf("RESULT %s_gen_tok_s=%.2f\n", side, (double)r.tokens / r.wall_s);
        printf("RESULT %s_gen_tok_cpu=%.2f\n", side, (double)r.tokens / r.cpu_s);
        printf("RESULT %s_gen_req_s=%.2f\n", side, (double)r.done / r.wall_s);
        printf("RESULT %s_gen_wall_s=%.3f\n", side, r.wall_s);
        printf("RESULT %s_gen_ttft_p50_ms=%.1f\n", side, r.ttft_p50 * 1e3);
        printf("RESULT %s_gen_ttft_p99_ms=%.1f\n", side, r.ttft_p99 * 1e3);
        printf("RESULT %s_gen_lat_p50_ms=%.1f\n", side, r.lat_p50 * 1e3);
        printf("RESULT %s_gen_lat_p99_ms=%.1f\n", side, r.lat_p99 * 1e3);
        printf("RESULT %s_gen_errors=%lld\n", side, r.errors);
        printf("RESULT %s_gen_server_cores=%.3f\n", side, o.http ? r.cpu_server : r.cpu_self);
        printf("RESULT %s_gen_machine_cores=%.3f\n", side, r.cpu_machine);
        if (o.http) {
            printf("RESULT http_gen_conn_cores=%.4f\n", r.cpu_conn);
            printf("RESULT http_gen_writer_cores=%.4f\n", r.cpu_writers);
        }
        if (o.http) printf("RESULT http_gen_conn_share=%.4f\n", r.cpu_conn / r.cpu_server);
        report_scraped("http_gen", m0, m1);
        if (r.errors || r.tokens != (long long)o.n_req * o.max_tokens)
            printf("  !! expected %lld tokens\n", (long long)o.n_req * o.max_tokens);
    }
    for (int k = 0; k < o.n_tiny; k++) {
        const int c = o.tiny[k];
        run_loop(&o, &be, tiny, n_tiny_items, c, c); /* warm-up: one round */
        scrape(o.url, m0);
        result r = run_loop(&o, &be, tiny, n_tiny_items, o.tiny_rounds * c, c);
        scrape(o.url, m1);
        char what[64];
        snprintf(what, sizeof(what), "%s 1-token x%d", side, c);
        report(what, &r, o.http);
        printf("RESULT %s_tiny_%d_req_s=%.2f\n", side, c, (double)r.done / r.wall_s);
        printf("RESULT %s_tiny_%d_req_cpu=%.2f\n", side, c, (double)r.done / r.cpu_s);
        printf("RESULT %s_tiny_%d_tok_s=%.2f\n", side, c, (double)r.tokens / r.wall_s);
        printf("RESULT %s_tiny_%d_wall_s=%.3f\n", side, c, r.wall_s);
        printf("RESULT %s_tiny_%d_lat_p50_ms=%.1f\n", side, c, r.lat_p50 * 1e3);
        printf("RESULT %s_tiny_%d_lat_p99_ms=%.1f\n", side, c, r.lat_p99 * 1e3);
        printf("RESULT %s_tiny_%d_errors=%lld\n", side, c, r.errors);
        printf("RESULT %s_tiny_%d_server_cores=%.3f\n", side, c,
               o.http ? r.cpu_server : r.cpu_self);
        printf("RESULT %s_tiny_%d_machine_cores=%.3f\n", side, c, r.cpu_machine);
        if (o.http) {
            printf("RESULT http_tiny_%d_conn_cores=%.4f\n", c, r.cpu_conn);
            printf("RESULT http_tiny_%d_writer_cores=%.4f\n", c, r.cpu_writers);
        }
        char key[64];
        snprintf(key, sizeof(key), "http_tiny_%d", c);
        report_scraped(key, m0, m1);
    }
    fflush(stdout);
    for (int i = 0; i < o.n_req; i++) free(gen[i].body), free(warm[i].body);
    for (int i = 0; i < o.n_req + o.streams; i++) free(prompts[i]);
    for (int k = 0; k < n_tiny_items; k++) free(tiny[k].body);
    free(prompts), free(lens), free(gen), free(warm), free(model);
    ol_engine_destroy(eng);
    if (o.http) curl_global_cleanup();
    return 0;
}
