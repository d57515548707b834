/* server/http.c: the server's life (engine, keys, metrics, libmicrohttpd daemon) and the HTTP
 * layer: limits (body, headers, connections, idle timeout), API-key auth in constant time,
 * routing by exact path, JSON error replies, drain. Endpoints live in openai.c and admin.c. */
#include "server_internal.h"

#include "format/gguf.h"
#include "model/model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

void ol_server_config_default(ol_server_config *c) {
    memset(c, 0, sizeof(*c));
    c->host = "127.0.0.1";
    c->port = 8080;
    c->n_batch = 512;
    c->max_running = 64;
    c->max_queue = 256;
    c->kv_cache_mb = 256;
    c->adapter_cache_mb = 1024;
    c->max_body_kb = 1024;
    c->max_header_kb = 16;
    c->timeout_s = 30;
    c->max_connections = 1024;
    c->max_per_key = 64;
    c->max_n = 8;
    c->drain_timeout_s = 30;
    c->ledger_url = "openlora-ledger.db";
    c->ledger_checkpoint_dir = "openlora-ledger-checkpoints";
    c->ledger_key = "openlora-ledger.key";
    c->ledger_checkpoint_s = 60;
}

int64_t srv_unix_time(void) {
    return (int64_t)time(NULL);
}

/* ---- errors and replies ------------------------------------------------------------------- */

static const char *error_type(unsigned status) {
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 429:
        return "rate_limit_error";
    case 503:
        return "service_unavailable_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

int srv_fail(srv_error *e, unsigned status, const char *param, const char *code, const char *fmt,
             ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->status = status;
    e->type = error_type(status);
    e->param = param;
    e->code = code;
    return -1;
}

int srv_fail_model(srv_error *e, const char *name) {
    return srv_fail(e, 404, "model", "model_not_found",
                    "The model `%.100s` does not exist or you do not have access to it.", name);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static int utf8_seq(const unsigned char *s, size_t n) {
    if (s[0] < 0x80) return 1;
    int len = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
              : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
              : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                             : 0;
    if (!len || (size_t)len > n) return 0;
    for (int i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* A JSON string of n bytes; invalid UTF-8 (a token piece may be half a character) becomes
 * U+FFFD, so every text the server emits is valid UTF-8. */
json_t *srv_json_str_lossy(const char *p, size_t n) {
    json_t *j = json_stringn(p, n);
    if (j) return j;
    char *buf = malloc(n * 3 + 1);
    if (!buf) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int l = utf8_seq((const unsigned char *)p + i, n - i);
        if (l > 0) {
            memcpy(buf + k, p + i, (size_t)l);
            k += (size_t)l, i += (size_t)l;
        } else {
            memcpy(buf + k, "\xEF\xBF\xBD", 3);
            k += 3, i++;
        }
    }
    j = json_stringn(buf, k);
    free(buf);
    return j;
}

enum MHD_Result srv_queue(srv_conn *c, unsigned status, struct MHD_Response *r) {
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Server", "openlora");
    if (status == 429 || status == 503) MHD_add_response_header(r, "Retry-After", "1");
    c->status = status;
    c->replied = true;
    enum MHD_Result ret = MHD_queue_response(c->mc, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result srv_reply_text(srv_conn *c, unsigned status, const char *type, const char *text,
                               size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    return srv_queue(c, status, r);
}

enum MHD_Result srv_reply_json(srv_conn *c, unsigned status, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    return srv_queue(c, status, r);
}

enum MHD_Result srv_reply_error(srv_conn *c, const srv_error *e) {
    json_t *err =
        json_pack("{s:s,s:s,s:s?,s:s?}", "message", e->msg, "type",
                  e->type ? e->type : error_type(e->status), "param", e->param, "code", e->code);
    if (err && !json_object_get(err, "param")) json_object_set_new(err, "param", json_null());
    if (err && !json_object_get(err, "code")) json_object_set_new(err, "code", json_null());
    return srv_reply_json(c, e->status, json_pack("{s:o}", "error", err));
}

json_t *srv_parse_body(srv_conn *c, srv_error *e) {
    json_error_t je;
    json_t *j = NULL;
    if (!c->len) {
        srv_fail(e, 400, NULL, NULL, "The request body is empty; expected a JSON object.");
        return NULL;
    }
    j = json_loadb(c->body, c->len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        srv_fail(e, 400, NULL, NULL, "Invalid JSON body: %s (line %d, column %d).", je.text,
                 je.line, je.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        srv_fail(e, 400, NULL, NULL, "The request body must be a JSON object.");
        return NULL;
    }
    return j;
}

/* ---- API keys ----------------------------------------------------------------------------- */

static int key_add(ol_server *s, const char *key, bool admin, const char *list, ol_err *err) {
    if (!*key) return ol_err_set(err, OL_EINVAL, "serve: empty API key");
    srv_key *grown = realloc(s->keys, (size_t)(s->n_keys + 1) * sizeof(*grown));
    if (!grown) return ol_err_set(err, OL_ENOMEM, "serve: out of memory");
    s->keys = grown;
    srv_key *k = &s->keys[s->n_keys++];
    memset(k, 0, sizeof(*k));
    SHA256((const unsigned char *)key, strlen(key), k->hash);
    k->admin = admin;
    if (!list) return 0;
    char *dup = strdup(list), *save = NULL;
    if (!dup) return ol_err_set(err, OL_ENOMEM, "serve: out of memory");
    for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char **a = realloc(k->adapters, (size_t)(k->n_adapters + 1) * sizeof(*a));
        if (!a || !(a[k->n_adapters] = strdup(t))) {
            if (a) k->adapters = a;
            free(dup);
            return ol_err_set(err, OL_ENOMEM, "serve: out of memory");
        }
        k->adapters = a;
        k->n_adapters++;
    }
    free(dup);
    if (!k->adapters) k->adapters = calloc(1, sizeof(char *)); /* "adapters=": none allowed */
    return 0;
}

/* One line of --api-key-file: `KEY [admin] [adapters=NAME,NAME]`. */
static int key_line(ol_server *s, char *line, int lineno, ol_err *err) {
    char *save = NULL, *key = strtok_r(line, " \t\r\n", &save);
    if (!key || *key == '#') return 0;
    bool admin = false;
    const char *list = NULL;
    for (char *t; (t = strtok_r(NULL, " \t\r\n", &save));) {
        if (*t == '#') break;
        if (!strcmp(t, "admin"))
            admin = true;
        else if (!strncmp(t, "adapters=", 9))
            list = t + 9;
        else
            return ol_err_set(err, OL_EINVAL, "%s:%d: unknown word '%.64s'", s->cfg.api_key_file,
                              lineno, t);
    }
    return key_add(s, key, admin, list, err);
}

static int keys_load(ol_server *s, ol_err *err) {
    for (int i = 0; i < s->cfg.n_api_keys; i++)
        if (key_add(s, s->cfg.api_keys[i], true, NULL, err)) return -1;
    if (!s->cfg.api_key_file) return 0;
    FILE *f = fopen(s->cfg.api_key_file, "r");
    if (!f) return ol_err_set(err, OL_EIO, "%s: %s", s->cfg.api_key_file, strerror(errno));
    char line[4096];
    int rc = 0;
    for (int n = 1; !rc && fgets(line, sizeof(line), f); n++) rc = key_line(s, line, n, err);
    fclose(f);
    if (!rc && s->n_keys == 0)
        rc = ol_err_set(err, OL_EINVAL, "%s: no keys in the file", s->cfg.api_key_file);
    return rc;
}

/* The key of "Authorization: Bearer KEY", compared by SHA-256 digest in constant time against
 * every configured key (no early exit, so timing reveals neither which nor how much). */
static const srv_key *key_find(ol_server *s, const char *auth) {
    if (!auth || strncasecmp(auth, "Bearer ", 7)) return NULL;
    auth += 7;
    while (*auth == ' ') auth++;
    unsigned char h[32];
    SHA256((const unsigned char *)auth, strlen(auth), h);
    const srv_key *found = NULL;
    for (int i = 0; i < s->n_keys; i++)
        if (CRYPTO_memcmp(h, s->keys[i].hash, sizeof(h)) == 0) found = &s->keys[i];
    return found;
}

bool srv_key_allows(const srv_conn *c, const char *name) {
    if (!c->key || !c->key->adapters) return true;
    for (int i = 0; i < c->key->n_adapters; i++)
        if (!strcmp(c->key->adapters[i], name)) return true;
    return false;
}

static void key_release(ol_server *s, const srv_key *key) {
    if (!key) return;
    pthread_mutex_lock(&s->keys_mu);
    ((srv_key *)key)->inflight--;
    pthread_mutex_unlock(&s->keys_mu);
}

int srv_inflight_acquire(srv_conn *c, srv_error *e) {
    ol_server *s = c->s;
    if (c->key) {
        srv_key *k = (srv_key *)c->key;
        pthread_mutex_lock(&s->keys_mu);
        bool over = k->inflight >= s->cfg.max_per_key;
        if (!over) k->inflight++;
        pthread_mutex_unlock(&s->keys_mu);
        if (over)
            return srv_fail(e, 429, NULL, "rate_limit_exceeded",
                            "Too many concurrent requests for this API key (limit %d).",
                            s->cfg.max_per_key);
    }
    pthread_mutex_lock(&s->mu);
    bool draining = atomic_load(&s->draining);
    if (!draining) s->n_inflight++;
    pthread_mutex_unlock(&s->mu);
    if (draining) {
        key_release(s, c->key);
        return srv_fail(e, 503, NULL, "draining", "The server is shutting down.");
    }
    return 0;
}

void srv_inflight_release(ol_server *s, const srv_key *key) {
    key_release(s, key);
    pthread_mutex_lock(&s->mu);
    s->n_inflight--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* ---- metrics ------------------------------------------------------------------------------
 * Engine families come from ol_engine_stats on each scrape: gauges take the current value,
 * counters grow by the change of the engine's total since the previous scrape (so they stay
 * monotonic even if a scrape is lost). The per-request families (tokens, TTFT, inter-token,
 * end-to-end and queue latencies) are fed by openai.c as requests run. */

/* X(kind, name, help, ol_engine_stats field) */
#define ENGINE_METRICS(X)                                                                          \
    X(GAUGE, "requests_running", "Requests in the running batch", n_running)                       \
    X(GAUGE, "requests_waiting", "Requests queued in the engine, not yet admitted", n_waiting)     \
    X(GAUGE, "requests_loading_adapter", "Waiting requests whose adapter is loading", n_loading)   \
    X(GAUGE, "kv_blocks_used", "KV cache blocks in use", kv_blocks_used)                           \
    X(GAUGE, "kv_blocks_total", "KV cache blocks in the pool", kv_blocks_total)                    \
    X(GAUGE, "kv_blocks_cached", "KV cache blocks held by the prefix cache", kv_blocks_cached)     \
    X(GAUGE, "adapters_registered", "Registered adapters", adapters_registered)                    \
    X(GAUGE, "adapters_resident", "Adapters resident in the adapter cache", adapters_resident)     \
    X(GAUGE, "adapter_cache_resident_bytes", "Bytes of resident adapter weights",                  \
      adapter_bytes_resident)                                                                      \
    X(GAUGE, "adapter_cache_budget_bytes", "Adapter cache budget in bytes", adapter_bytes_budget)  \
    X(COUNTER, "adapter_cache_hits_total", "Adapter acquisitions served from the cache",           \
      adapter_hits)                                                                                \
    X(COUNTER, "adapter_cache_misses_total", "Adapter acquisitions that needed a load",            \
      adapter_misses)                                                                              \
    X(COUNTER, "adapter_cache_loads_total", "Adapter loads finished (failed ones included)",       \
      adapter_loads)                                                                               \
    X(COUNTER, "adapter_cache_load_failures_total", "Adapter loads that failed",                   \
      adapter_load_failures)                                                                       \
    X(COUNTER, "adapter_cache_evictions_total", "Adapters evicted from the cache",                 \
      adapter_evictions)                                                                           \
    X(COUNTER, "engine_steps_total", "Engine steps (batched forward passes)", steps)               \
    X(COUNTER, "preemptions_total", "Requests preempted (KV dropped, recomputed later)",           \
      preemptions)

/* The usage ledger's (ol_ledger_stats), after the engine's in the same arrays. */
#define LEDGER_METRICS(X)                                                                          \
    X(COUNTER, "ledger_records_total", "Records committed to the usage ledger", committed)         \
    X(COUNTER, "ledger_duplicates_total", "Records not added: their request id was recorded",      \
      duplicates)                                                                                  \
    X(COUNTER, "ledger_commits_total", "Group commits (transactions) of the usage ledger",         \
      batches)                                                                                     \
    X(COUNTER, "ledger_failures_total", "Failed ledger commits (the records are retried)",         \
      failures)                                                                                    \
    X(COUNTER, "ledger_checkpoints_total", "Signed checkpoints written", checkpoints)              \
    X(GAUGE, "ledger_queued", "Records waiting to be committed", queued)                           \
    X(GAUGE, "ledger_head_seq", "Sequence number of the last committed entry", head_seq)           \
    X(GAUGE, "ledger_healthy", "1 while the ledger can write, 0 after a failed commit", healthy)

enum {
#define X(kind, name, help, field) EM_##field,
    ENGINE_METRICS(X)
#undef X
        EM_COUNT
};
enum {
#define X(kind, name, help, field) LM_##field,
    LEDGER_METRICS(X)
#undef X
        LM_COUNT
};
_Static_assert(LM_COUNT <= SRV_LEDGER_METRICS_MAX, "raise SRV_LEDGER_METRICS_MAX");
_Static_assert(EM_COUNT <= SRV_ENGINE_METRICS_MAX, "raise SRV_ENGINE_METRICS_MAX");

/* Inter-token gaps are shorter than request latencies: finer buckets at the low end. */
static const double ITL_BUCKETS[] = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                     0.15,  0.2,    0.3,   0.5,  0.75, 1,    2.5,  5,    10};

static int metrics_init(ol_server *s) {
    ol_metrics *m = s->metrics = ol_metrics_create();
    if (!m) return -1;
    const double *lb = OL_METRICS_LATENCY_BUCKETS;
    const int nlb = OL_METRICS_N_LATENCY_BUCKETS;
    const ol_metric_kind H = OL_METRIC_HISTOGRAM;
    s->m_requests =
        ol_metrics_add(m, OL_METRIC_COUNTER, "http_requests_total",
                       "HTTP requests by endpoint and status", "endpoint", "status", NULL, 0, 0);
    s->m_duration =
        ol_metrics_add(m, H, "http_request_duration_seconds",
                       "HTTP request latency, until the last byte", "endpoint", NULL, lb, nlb, 0);
    s->m_prompt_tokens =
        ol_metrics_add(m, OL_METRIC_COUNTER, "prompt_tokens_total",
                       "Prompt tokens of accepted requests by model (base or first adapter)",
                       "model", NULL, NULL, 0, SRV_MAX_MODEL_SERIES);
    s->m_gen_tokens = ol_metrics_add(
        m, OL_METRIC_COUNTER, "generation_tokens_total",
        "Generated tokens by model (base or first adapter), counted when a request finishes",
        "model", NULL, NULL, 0, SRV_MAX_MODEL_SERIES);
    s->m_ttft =
        ol_metrics_add(m, H, "time_to_first_token_seconds",
                       "Time from submit to the first generated token", NULL, NULL, lb, nlb, 0);
    s->m_itl = ol_metrics_add(m, H, "inter_token_latency_seconds",
                              "Time between consecutive generated tokens of a request", NULL, NULL,
                              ITL_BUCKETS, (int)OL_ARRAY_LEN(ITL_BUCKETS), 0);
    s->m_e2e = ol_metrics_add(m, H, "e2e_request_latency_seconds",
                              "Time from submit to the end of a request", NULL, NULL, lb, nlb, 0);
    s->m_queue = ol_metrics_add(m, H, "queue_time_seconds",
                                "Time from submit to admission into the running batch", NULL, NULL,
                                lb, nlb, 0);
    s->m_adapter_load =
        ol_metrics_add(m, H, "adapter_load_seconds",
                       "Adapter load time; between two scrapes each load counts as their average",
                       NULL, NULL, lb, nlb, 0);
    bool ok = s->m_requests && s->m_duration && s->m_prompt_tokens && s->m_gen_tokens &&
              s->m_ttft && s->m_itl && s->m_e2e && s->m_queue && s->m_adapter_load;
#define X(kind, name, help, field)                                                                 \
    ok = ok && (s->m_engine[EM_##field] =                                                          \
                    ol_metrics_add(m, OL_METRIC_##kind, name, help, NULL, NULL, NULL, 0, 0));
    ENGINE_METRICS(X)
#undef X
#define X(kind, name, help, field)                                                                 \
    ok = ok && (!s->ledger || (s->m_ledger[LM_##field] = ol_metrics_add(                           \
                                   m, OL_METRIC_##kind, name, help, NULL, NULL, NULL, 0, 0)));
    LEDGER_METRICS(X)
#undef X
    return ok ? 0 : -1;
}

/* Counter families grow by what the engine's total grew since the last scrape. Under
 * metrics_mu: two scrapes at once must not count one change twice. */
static void counter_advance(ol_metric *m, double *last, double total) {
    if (total > *last) ol_metric_inc(m, NULL, NULL, total - *last);
    *last = OL_MAX(total, *last);
}

/* The engine only keeps the count and total time of loads: each load since the previous scrape
 * is observed as their average, so _count and _sum are exact and the buckets approximate. */
static void adapter_load_observe(ol_server *s, const ol_engine_stats *st, double loads_before) {
    const double n = (double)st->adapter_loads - loads_before;
    const double ns = (double)st->adapter_load_ns_total - s->m_load_ns_last;
    if (n <= 0) return;
    s->m_load_ns_last = (double)st->adapter_load_ns_total;
    const double avg = ns > 0 ? ns / n / 1e9 : 0;
    for (int64_t i = 0; i < (int64_t)n; i++) ol_metric_observe(s->m_adapter_load, NULL, NULL, avg);
}

static void metrics_refresh(ol_server *s) {
    ol_engine_stats st;
    pthread_mutex_lock(&s->metrics_mu);
    ol_engine_stats_get(s->eng, &st);
    const double loads_before = s->m_engine_last[EM_adapter_loads];
#define X(kind, name, help, field)                                                                 \
    if (OL_METRIC_##kind == OL_METRIC_GAUGE)                                                       \
        ol_metric_set(s->m_engine[EM_##field], NULL, NULL, (double)st.field);                      \
    else                                                                                           \
        counter_advance(s->m_engine[EM_##field], &s->m_engine_last[EM_##field], (double)st.field);
    ENGINE_METRICS(X)
#undef X
    if (s->ledger) {
        ol_ledger_stats ls;
        ol_ledger_stats_get(s->ledger, &ls);
#define X(kind, name, help, field)                                                                 \
    if (OL_METRIC_##kind == OL_METRIC_GAUGE)                                                       \
        ol_metric_set(s->m_ledger[LM_##field], NULL, NULL, (double)ls.field);                      \
    else                                                                                           \
        counter_advance(s->m_ledger[LM_##field], &s->m_ledger_last[LM_##field], (double)ls.field);
        LEDGER_METRICS(X)
#undef X
    }
    adapter_load_observe(s, &st, loads_before);
    pthread_mutex_unlock(&s->metrics_mu);
}

static enum MHD_Result handle_metrics(srv_conn *c) {
    ol_server *s = c->s;
    metrics_refresh(s);
    size_t len = 0;
    char *text = ol_metrics_render(s->metrics, &len);
    if (!text) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return srv_queue(c, 200, r);
}

/* ---- routing ------------------------------------------------------------------------------ */

typedef enum { AUTH_NONE, AUTH_KEY, AUTH_ADMIN } auth_level;

typedef struct route {
    const char *path;
    const char *methods; /* space-separated */
    auth_level auth;
    const char *endpoint;
} route;

static const route ROUTES[] = {
    {"/health", "GET", AUTH_NONE, "health"},
    {"/ready", "GET", AUTH_NONE, "ready"},
    {"/metrics", "GET", AUTH_NONE, "metrics"},
    {"/v1/models", "GET", AUTH_KEY, "models"},
    {"/v1/completions", "POST", AUTH_KEY, "completions"},
    {"/v1/chat/completions", "POST", AUTH_KEY, "chat_completions"},
    {"/v1/adapters", "GET POST", AUTH_ADMIN, "adapters"},
    {"/v1/adapters/", "GET DELETE", AUTH_ADMIN, "adapters"}, /* prefix: /v1/adapters/{name} */
    {"/v1/load_lora_adapter", "POST", AUTH_ADMIN, "load_lora_adapter"},
    {"/v1/unload_lora_adapter", "POST", AUTH_ADMIN, "unload_lora_adapter"},
    {"/v1/usage", "GET", AUTH_ADMIN, "usage"},
};

static const route *route_find(const char *url) {
    for (size_t i = 0; i < OL_ARRAY_LEN(ROUTES); i++) {
        const char *p = ROUTES[i].path;
        size_t n = strlen(p);
        if (p[n - 1] == '/' ? !strncmp(url, p, n) : !strcmp(url, p)) return &ROUTES[i];
    }
    return NULL;
}

static bool method_ok(const route *r, const char *method) {
    size_t n = strlen(method);
    for (const char *m = r->methods; *m;) {
        size_t k = strcspn(m, " ");
        if (k == n && !strncmp(m, method, n)) return true;
        m += k + (m[k] == ' ');
    }
    return false;
}

/* Auth for r: 0, or -1 with e filled (401, 403). Sets c->key and c->admin. */
static int authorize(srv_conn *c, const route *r, srv_error *e) {
    ol_server *s = c->s;
    if (r->auth == AUTH_NONE || s->n_keys == 0) {
        c->admin = true;
        return 0;
    }
    const char *auth = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Authorization");
    c->key = key_find(s, auth);
    if (!c->key)
        return srv_fail(e, 401, NULL, "invalid_api_key",
                        auth ? "Incorrect API key provided."
                             : "Missing API key: send 'Authorization: Bearer KEY'.");
    c->admin = c->key->admin;
    if (r->auth == AUTH_ADMIN && !c->admin)
        return srv_fail(
            e, 403, NULL, "insufficient_permissions",
            "This API key lacks the admin scope (adapter administration, usage reports).");
    return 0;
}

static enum MHD_Result dispatch(srv_conn *c, const char *method, const char *url) {
    ol_server *s = c->s;
    srv_error e;
    const route *r = route_find(url);
    if (!r) {
        srv_fail(&e, 404, NULL, NULL, "Unknown path: %.200s", url);
        return srv_reply_error(c, &e);
    }
    c->endpoint = r->endpoint;
    if (!method_ok(r, method)) {
        srv_fail(&e, 405, NULL, "method_not_allowed", "Method %.16s is not allowed on %.200s.",
                 method, url);
        return srv_reply_error(c, &e);
    }
    if (!strcmp(r->path, "/health"))
        return srv_reply_json(c, 200, json_pack("{s:s}", "status", "ok"));
    if (!strcmp(r->path, "/ready")) {
        /* a load balancer moves traffic away from a server whose ledger cannot write */
        if (atomic_load(&s->draining))
            return srv_reply_json(c, 503, json_pack("{s:s}", "status", "draining"));
        if (s->ledger && !ol_ledger_healthy(s->ledger))
            return srv_reply_json(c, 503, json_pack("{s:s}", "status", "ledger_unavailable"));
        return srv_reply_json(c, 200, json_pack("{s:s}", "status", "ready"));
    }
    if (!strcmp(r->path, "/metrics")) return handle_metrics(c);
    if (atomic_load(&s->draining)) {
        srv_fail(&e, 503, NULL, "draining", "The server is shutting down.");
        return srv_reply_error(c, &e);
    }
    if (authorize(c, r, &e)) return srv_reply_error(c, &e);
    if (!strcmp(r->path, "/v1/models")) return srv_handle_models(c);
    if (!strcmp(r->path, "/v1/completions")) return srv_handle_completions(c, false);
    if (!strcmp(r->path, "/v1/chat/completions")) return srv_handle_completions(c, true);
    if (!strcmp(r->path, "/v1/load_lora_adapter")) return srv_handle_vllm_load(c);
    if (!strcmp(r->path, "/v1/unload_lora_adapter")) return srv_handle_vllm_unload(c);
    if (!strcmp(r->path, "/v1/usage")) return srv_handle_usage(c);
    return srv_handle_adapters(c, method, url);
}

/* ---- libmicrohttpd callbacks -------------------------------------------------------------- */

static enum MHD_Result reply_too_large(srv_conn *c) {
    srv_error e;
    srv_fail(&e, 413, NULL, "request_too_large", "The request body exceeds %zu KiB.",
             c->s->cfg.max_body_kb);
    return srv_reply_error(c, &e);
}

/* First call for a request: a Content-Length beyond the limit is refused before the body. */
static enum MHD_Result conn_begin(ol_server *s, struct MHD_Connection *mc, const char *url,
                                  void **con_cls) {
    srv_conn *c = calloc(1, sizeof(*c));
    if (!c) return MHD_NO;
    c->s = s;
    c->mc = mc;
    const route *r = route_find(url);
    c->endpoint = r ? r->endpoint : "other";
    c->t0 = ol_time_ns();
    *con_cls = c;
    const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body_kb * 1024) {
        c->too_large = true;
        return reply_too_large(c);
    }
    return MHD_YES;
}

/* Body bytes: kept up to the limit; beyond it the request is answered 413 at its end (MHD
 * cannot queue a reply in the middle of an upload) and a flood is cut off. */
static enum MHD_Result conn_body(srv_conn *c, const char *data, size_t *size) {
    const size_t limit = c->s->cfg.max_body_kb * 1024;
    size_t n = *size;
    *size = 0;
    if (c->too_large || c->len + n > limit) {
        c->too_large = true;
        c->len += n;
        return c->len > 4 * limit + (1u << 20) ? MHD_NO : MHD_YES;
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = OL_MAX(c->cap * 2, c->len + n + 1);
        cap = OL_MIN(cap, limit + 1);
        char *b = realloc(c->body, cap);
        if (!b) return MHD_NO;
        c->body = b;
        c->cap = cap;
    }
    memcpy(c->body + c->len, data, n);
    c->len += n;
    c->body[c->len] = 0;
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *mc, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls) {
    srv_conn *c = *con_cls;
    if (!c) return conn_begin(cls, mc, url, con_cls);
    if (*upload_data_size) return conn_body(c, upload_data, upload_data_size);
    if (c->replied) return MHD_YES;
    srv_watchdog_request_read(c->s, mc);
    if (c->too_large) return reply_too_large(c);
    return dispatch(c, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    ol_server *s = cls;
    srv_conn *c = *con_cls;
    srv_watchdog_request_done(s, mc);
    if (!c) return;
    if (c->status) {
        char st[16];
        snprintf(st, sizeof(st), "%u", c->status);
        ol_metric_inc(s->m_requests, c->endpoint, st, 1);
        ol_metric_observe(s->m_duration, c->endpoint, NULL, (double)(ol_time_ns() - c->t0) / 1e9);
    }
    free(c->body);
    free(c);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == '\n') buf[--n] = 0;
    /* clients that go away or send oversized headers are routine, not warnings */
    const bool routine = strstr(buf, "no longer available") || strstr(buf, "Closing connection");
    ol_log(routine ? OL_LOG_DEBUG : OL_LOG_WARN, "http: %s", buf);
}

static int daemon_start(ol_server *s, ol_err *err) {
    char port[16];
    snprintf(port, sizeof(port), "%d", s->cfg.port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(s->cfg.host, port, &hints, &ai);
    if (g || !ai)
        return ol_err_set(err, OL_EINVAL, "serve: --host %s: %s", s->cfg.host, gai_strerror(g));
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)s->cfg.port, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        s, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(s->cfg.max_header_kb * 1024 + 8192), MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s->cfg.timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
        srv_watchdog_callback(), s, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon)
        return ol_err_set(err, OL_EIO, "serve: cannot listen on %s:%d (in use? bad address?)",
                          s->cfg.host, s->cfg.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->cfg.port;
    return 0;
}

/* ---- life --------------------------------------------------------------------------------- */

static int chat_init(ol_server *s, ol_err *err) {
    if (s->cfg.chat_template) {
        if (ol_chat_format_parse(s->cfg.chat_template, &s->chat))
            return ol_err_set(err, OL_EINVAL,
                              "serve: --chat-template %s: expected gemma, llama3 or chatml",
                              s->cfg.chat_template);
        return 0;
    }
    const ol_gguf *g = ol_model_gguf((const ol_model *)ol_engine_model(s->eng));
    ol_gguf_str str;
    char *jinja = NULL;
    if (g && ol_gguf_get_str(g, "tokenizer.chat_template", &str, NULL) == 0) {
        if (!(jinja = strndup(str.ptr, (size_t)str.len)))
            return ol_err_set(err, OL_ENOMEM, "serve: out of memory");
    }
    int rc = ol_chat_format_detect(jinja, &s->chat, err);
    const bool had_template = jinja != NULL;
    free(jinja);
    if (rc == 0 || had_template || !s->tok) return rc;
    /* no template in the file (the default Gemma 3 270M GGUF has none): the vocabulary's turn
     * markers name the format */
    static const char *const marks[OL_CHAT_FORMAT_COUNT] = {
        [OL_CHAT_GEMMA] = "<start_of_turn>",
        [OL_CHAT_LLAMA3] = "<|start_header_id|>",
        [OL_CHAT_CHATML] = "<|im_start|>",
    };
    for (int f = 0; f < OL_CHAT_FORMAT_COUNT; f++)
        if (ol_tokenizer_find_token(s->tok, marks[f]) >= 0) {
            s->chat = (ol_chat_format)f;
            ol_err_clear(err);
            return 0;
        }
    return rc;
}

static int engine_init(ol_server *s, ol_err *err) {
    ol_engine_params p;
    ol_engine_params_default(&p);
    p.model_path = s->cfg.model_path;
    if (s->cfg.n_threads > 0) p.n_threads = s->cfg.n_threads;
    if (s->cfg.kv_cache_mb) p.kv_budget_bytes = s->cfg.kv_cache_mb << 20;
    if (s->cfg.adapter_cache_mb) p.adapter_cache_bytes = s->cfg.adapter_cache_mb << 20;
    if (s->cfg.n_batch > 0) p.n_batch = s->cfg.n_batch;
    if (s->cfg.max_running > 0) p.max_running = s->cfg.max_running;
    if (s->cfg.max_queue > 0) p.max_waiting = s->cfg.max_queue;
    if (s->cfg.ctx_size > 0) p.max_context = s->cfg.ctx_size;
    if (!(s->eng = ol_engine_create(&p, err))) return -1;
    s->tok = ol_engine_tokenizer(s->eng);
    s->max_ctx = ol_engine_max_context(s->eng);
    const char *name =
        s->cfg.served_model_name ? s->cfg.served_model_name : ol_engine_model_name(s->eng);
    if (!(s->served_name = strdup(name))) return ol_err_set(err, OL_ENOMEM, "out of memory");
    return 0;
}

static int dirs_init(ol_server *s, ol_err *err) {
    for (int i = 0; i < s->cfg.n_adapters_dirs; i++) {
        char *r = realpath(s->cfg.adapters_dirs[i], NULL);
        if (!r)
            return ol_err_set(err, OL_EINVAL, "serve: --adapters-dir %s: %s",
                              s->cfg.adapters_dirs[i], strerror(errno));
        s->dirs_real[s->n_dirs++] = r;
    }
    return 0;
}

ol_server *ol_server_create(const ol_server_config *cfg, ol_err *err) {
    ol_server *s = calloc(1, sizeof(*s));
    if (!s) {
        ol_err_set(err, OL_ENOMEM, "serve: out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->created = srv_unix_time();
    pthread_mutex_init(&s->keys_mu, NULL);
    pthread_mutex_init(&s->socks_mu, NULL);
    pthread_mutex_init(&s->ad_mu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->metrics_mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (!cfg->model_path) {
        ol_err_set(err, OL_EINVAL, "serve: no model");
        goto fail;
    }
    if (keys_load(s, err) || dirs_init(s, err) || engine_init(s, err) || chat_init(s, err) ||
        srv_ledger_open(s, err))
        goto fail;
    if (metrics_init(s)) {
        ol_err_set(err, OL_ENOMEM, "serve: cannot create the metrics registry");
        goto fail;
    }
    if (srv_adapters_scan(s, err) || daemon_start(s, err)) goto fail;
    if (srv_watchdog_start(s)) {
        ol_err_set(err, OL_ENOMEM, "serve: cannot start the watchdog thread");
        goto fail;
    }
    return s;
fail:
    ol_server_destroy(s);
    return NULL;
}

int ol_server_port(const ol_server *s) {
    return s->port;
}

/* Wait until no generation request is left or the deadline (CLOCK_REALTIME) passes. */
static bool wait_idle(ol_server *s, int seconds) {
    const struct timespec dl = ol_deadline_ms((long)seconds * 1000);
    pthread_mutex_lock(&s->mu);
    while (s->n_inflight > 0)
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) break;
    bool idle = s->n_inflight == 0;
    pthread_mutex_unlock(&s->mu);
    return idle;
}

void ol_server_drain(ol_server *s) {
    atomic_store(&s->draining, true);
    if (!wait_idle(s, s->cfg.drain_timeout_s)) {
        ol_log(OL_LOG_WARN, "serve: drain timeout: cancelling the requests left");
        atomic_store(&s->stopping, true);
        wait_idle(s, 10);
    }
}

void ol_server_destroy(ol_server *s) {
    if (!s) return;
    atomic_store(&s->draining, true);
    atomic_store(&s->stopping, true);
    if (s->daemon) {
        wait_idle(s, 10);
        MHD_stop_daemon(s->daemon);
    }
    srv_watchdog_stop(s);
    pthread_mutex_destroy(&s->socks_mu);
    ol_engine_destroy(s->eng); /* its last callbacks queue the records of cancelled requests */
    ol_ledger_close(s->ledger, 30000);
    srv_adapters_free(s);
    ol_metrics_destroy(s->metrics);
    for (int i = 0; i < s->n_keys; i++) {
        for (int j = 0; j < s->keys[i].n_adapters; j++) free(s->keys[i].adapters[j]);
        free(s->keys[i].adapters);
    }
    free(s->keys);
    for (int i = 0; i < s->n_dirs; i++) free(s->dirs_real[i]);
    free(s->served_name);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->metrics_mu);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->ad_mu);
    pthread_mutex_destroy(&s->keys_mu);
    free(s);
}
