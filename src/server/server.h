/* server/server.h: `openlora serve`, an OpenAI-compatible HTTP server (libmicrohttpd + jansson)
 * over the engine's C API: completions, chat completions (plain and SSE streamed), models,
 * adapter administration, health/ready/metrics. One server owns one engine. The HTTP spec is
 * docs/http-api.md. */
#ifndef OL_SERVER_H
#define OL_SERVER_H

#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define OL_SERVER_MAX_LIST 16 /* adapters dirs, URL prefixes */

/* Configuration: strings are borrowed for the server's lifetime (argv, env). */
typedef struct ol_server_config {
    const char *model_path; /* required */
    const char *host;       /* default "127.0.0.1" */
    int port;               /* 0 = pick a free port */
    int ctx_size;           /* 0 = engine default */
    int n_threads;          /* 0 = engine default */
    int n_batch, max_running, max_queue;
    size_t kv_cache_mb, adapter_cache_mb;
    const char *adapters_dirs[OL_SERVER_MAX_LIST];
    int n_adapters_dirs;
    const char *url_prefixes[OL_SERVER_MAX_LIST];
    int n_url_prefixes;
    const char *const *api_keys; /* plain keys (full access) */
    int n_api_keys;
    const char *api_key_file;  /* lines `KEY [admin] [adapters=A,B]`, NULL = none */
    const char *chat_template; /* "gemma", "llama3", "chatml" or NULL = detect */
    size_t max_body_kb, max_header_kb;
    int timeout_s, max_connections, max_per_key, max_n, drain_timeout_s;
    const char *served_model_name; /* NULL = the model file stem */
    /* the usage ledger (ledger/ledger.h); ledger_url NULL = off */
    const char *ledger_url;            /* default "openlora-ledger.db" */
    const char *ledger_checkpoint_dir; /* default "openlora-ledger-checkpoints"; NULL = none */
    const char *ledger_key;            /* default "openlora-ledger.key"; NULL = unsigned */
    int ledger_checkpoint_s;           /* default 60 */
} ol_server_config;

/* The defaults of the spec (port 8080, body 1024 KiB, ...). */
void ol_server_config_default(ol_server_config *c);

typedef struct ol_server ol_server;

/* Load the model, start the engine, register the adapters found in the adapters dirs and
 * start listening. NULL with err filled (bad config, model, unknown chat template, port in
 * use). The listening line is NOT printed here: see ol_server_port. */
ol_server *ol_server_create(const ol_server_config *c, ol_err *err);
/* Start-up summary lines, each "openlora: ...\n": served model name, architecture, context,
 * chat format, engine limits, adapters registered at start. */
void ol_server_describe(ol_server *s, FILE *f);
/* The bound TCP port (the real one when config port was 0). */
int ol_server_port(const ol_server *s);
/* Drain: /ready turns 503, new requests get 503 "draining", in-flight requests may finish for
 * up to drain_timeout_s seconds (then they are cancelled). Blocks; thread-safe. */
void ol_server_drain(ol_server *s);
/* Stop listening, cancel what is left, stop the engine and free. Accepts NULL. */
void ol_server_destroy(ol_server *s);

#endif
