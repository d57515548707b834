/* server/server_internal.h: what http.c, openai.c and admin.c share: the server struct, the
 * per-HTTP-request context, API keys, the adapter table and the JSON reply helpers. Threads:
 * MHD runs one thread per connection; the engine thread only runs the callbacks in openai.c. */
#ifndef OL_SERVER_INTERNAL_H
#define OL_SERVER_INTERNAL_H

#include "ledger/ledger.h"
#include "openlora.h"
#include "server/chat.h"
#include "server/metrics.h"
#include "server/server.h"
#include "tokenizer/tokenizer.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SRV_NAME_MAX           64 /* adapter names: [A-Za-z0-9._-], 1..64, not starting with '.' */
#define SRV_ENGINE_METRICS_MAX 24 /* room for http.c's ENGINE_METRICS list */
#define SRV_LEDGER_METRICS_MAX 8  /* and its LEDGER_METRICS list */
#define SRV_MAX_MODEL_SERIES   32 /* distinct `model` label values before "other" */
#define SRV_KEY_ID_MAX         24 /* "key-" + 12 hex digits of the key's SHA-256 */

/* One API key: only its SHA-256 is kept, so comparisons are constant-time and length-blind. */
typedef struct srv_key {
    unsigned char hash[32];
    bool admin;
    char **adapters; /* allow-list; NULL = every adapter */
    int n_adapters;
    int inflight; /* concurrent generation requests; under ol_server.keys_mu */
} srv_key;

/* One registered adapter, for listings (the engine keeps the real registry). */
typedef struct srv_adapter {
    char *name, *source, *meta; /* meta: compact JSON object text or NULL */
    char *sha256;               /* digest of the files (srv_source_sha256) or the pinned one */
    json_t *attrib;             /* srv_adapter_attribution, made once at registration */
    uint64_t version;
    int64_t created; /* unix seconds */
    struct srv_adapter *next;
} srv_adapter;

typedef struct srv_sock srv_sock; /* watchdog.c: one TCP connection */

struct ol_server {
    ol_server_config cfg;
    ol_engine *eng;
    const ol_tokenizer *tok; /* NULL: token-id prompts only */
    ol_chat_format chat;
    char *served_name;
    int max_ctx;
    int64_t created;
    char *dirs_real[OL_SERVER_MAX_LIST]; /* realpath of each --adapters-dir */
    int n_dirs;
    srv_key *keys; /* n_keys == 0: open server, everyone is admin */
    int n_keys;
    pthread_mutex_t keys_mu; /* srv_key.inflight */
    pthread_mutex_t ad_mu;   /* adapters */
    srv_adapter *adapters;   /* sorted by name */
    /* metrics (http.c registers them): per-request families fed by openai.c (the token and
     * latency ones from the engine callbacks), engine families refreshed on each scrape */
    ol_metrics *metrics;
    ol_metric *m_requests, *m_duration;           /* HTTP, counted when a request completes */
    ol_metric *m_prompt_tokens, *m_gen_tokens;    /* {model}: capped at SRV_MAX_MODEL_SERIES */
    ol_metric *m_ttft, *m_itl, *m_e2e, *m_queue;  /* per engine request (one per choice) */
    ol_metric *m_adapter_load;                    /* fed per scrape from the engine's totals */
    ol_metric *m_engine[SRV_ENGINE_METRICS_MAX];  /* gauges and counters from ol_engine_stats */
    double m_engine_last[SRV_ENGINE_METRICS_MAX]; /* counter totals at the last scrape */
    double m_load_ns_last;                        /* adapter_load_ns_total at the last scrape */
    ol_metric *m_ledger[SRV_LEDGER_METRICS_MAX];  /* from ol_ledger_stats, when the ledger is on */
    double m_ledger_last[SRV_LEDGER_METRICS_MAX];
    pthread_mutex_t metrics_mu; /* the two *_last above: scrapes may overlap */
    ol_ledger *ledger;          /* NULL: --no-ledger */
    struct MHD_Daemon *daemon;
    int port;
    atomic_bool draining; /* /ready 503, new requests 503 */
    atomic_bool stopping; /* drain timed out: waiters cancel their engine requests */
    pthread_mutex_t mu;   /* n_inflight */
    pthread_cond_t cv;
    int n_inflight; /* generation requests not yet answered */
    /* watchdog.c: a deadline for reading each request (slowloris) */
    pthread_mutex_t socks_mu;
    srv_sock *socks;
    pthread_t wd_thread;
    bool wd_running;
    atomic_bool wd_stop;
};

/* One HTTP request (MHD's con_cls): body, identity, what to count in the metrics. */
typedef struct srv_conn {
    ol_server *s;
    struct MHD_Connection *mc;
    char *body;
    size_t len, cap;
    bool too_large, replied;
    const srv_key *key; /* NULL on an open server */
    bool admin;
    const char *endpoint; /* metrics label: a static string */
    unsigned status;
    uint64_t t0;
} srv_conn;

/* An error reply: status, OpenAI error type, message, param and code (may be NULL). */
typedef struct srv_error {
    unsigned status;
    const char *type, *param, *code;
    char msg[600];
} srv_error;

/* Fill e and return -1 (so validators can `return srv_fail(...)`). */
int srv_fail(srv_error *e, unsigned status, const char *param, const char *code, const char *fmt,
             ...) __attribute__((format(printf, 5, 6)));
/* 404 model_not_found for name (also used for adapters the key may not use). */
int srv_fail_model(srv_error *e, const char *name);

/* Replies: take ownership of j; return an MHD_Result. srv_reply_error adds Retry-After: 1 to
 * 429 and 503. */
enum MHD_Result srv_reply_json(srv_conn *c, unsigned status, json_t *j);
enum MHD_Result srv_reply_error(srv_conn *c, const srv_error *e);
enum MHD_Result srv_reply_text(srv_conn *c, unsigned status, const char *type, const char *text,
                               size_t len);
enum MHD_Result srv_queue(srv_conn *c, unsigned status, struct MHD_Response *r);
/* A JSON string of n bytes; invalid UTF-8 (a token piece may be half a character, a message
 * may quote a client's bytes) becomes U+FFFD, so every text the server emits is valid UTF-8. */
json_t *srv_json_str_lossy(const char *p, size_t n);
/* Parse the body as a JSON object (duplicates refused); NULL with e filled (400). */
json_t *srv_parse_body(srv_conn *c, srv_error *e);

/* Key policy: may this request use adapter `name`? */
bool srv_key_allows(const srv_conn *c, const char *name);
/* Per-key and global accounting of generation requests: 0, or -1 with e filled (429/503). */
int srv_inflight_acquire(srv_conn *c, srv_error *e);
void srv_inflight_release(ol_server *s, const srv_key *key);

/* Adapters (admin.c). */
bool srv_adapter_name_valid(const char *name);
bool srv_adapter_exists(ol_server *s, const char *name);
/* Scan the adapters dirs and register what they hold. 0 or -1 with err filled. */
int srv_adapters_scan(ol_server *s, ol_err *err);
void srv_adapters_free(ol_server *s);

/* Endpoints. */
enum MHD_Result srv_handle_models(srv_conn *c);
enum MHD_Result srv_handle_adapters(srv_conn *c, const char *method, const char *url);
enum MHD_Result srv_handle_vllm_load(srv_conn *c);
enum MHD_Result srv_handle_vllm_unload(srv_conn *c);
enum MHD_Result srv_handle_completions(srv_conn *c, bool chat);

int64_t srv_unix_time(void);

/* usage.c: the ledger. */
int srv_ledger_open(ol_server *s, ol_err *err); /* 0 (also when off) or -1 */
/* The non-secret id of an API key in usage records ("" for an open server). */
void srv_key_id(const srv_key *k, char out[SRV_KEY_ID_MAX]);
/* SHA-256 identifying a local adapter source: a PEFT directory's config and weights files
 * (each name NUL-terminated, then its bytes), or a file's bytes. 0, or -1 if unreadable. */
int srv_source_sha256(const char *path, char hex[65]);
/* {name, version, sha256, owner, contributors, datanet, license} of a registered adapter, from
 * its metadata (parsed here, once per registration). NULL on out of memory. */
json_t *srv_adapter_attribution(const srv_adapter *a);
/* Attribution of the adapters of a request as registered now: [{name, version, sha256, owner,
 * contributors, datanet, license, weight}]. */
json_t *srv_usage_adapters(ol_server *s, const ol_adapter_weight *w, int n);
/* One finished request, for its usage record. Strings borrowed. */
typedef struct srv_usage {
    const char *request_id, *key_id, *user, *endpoint, *model, *finish;
    json_t *adapters; /* from srv_usage_adapters; versions replaced by the ones that ran */
    const uint64_t *versions;
    int n_versions;
    int n, prompt_tokens, completion_tokens, cached_tokens;
    double queue_ms, ttft_ms, total_ms;
} srv_usage;
json_t *srv_usage_body(const srv_usage *u);
/* Registry record of a newly registered adapter version (waits for its commit). */
int srv_ledger_register(ol_server *s, const srv_adapter *a, ol_err *err);
enum MHD_Result srv_handle_usage(srv_conn *c);

/* watchdog.c */
MHD_NotifyConnectionCallback srv_watchdog_callback(void);
int srv_watchdog_start(ol_server *s);
void srv_watchdog_stop(ol_server *s);
void srv_watchdog_request_read(ol_server *s, struct MHD_Connection *mc); /* whole request in */
void srv_watchdog_request_done(ol_server *s, struct MHD_Connection *mc); /* answered */

#endif
