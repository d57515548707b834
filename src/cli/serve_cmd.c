/* cli/serve_cmd.c: `openlora serve`: options (flags win over OPENLORA_* environment variables),
 * the start-up summary (the line `openlora: listening on http://HOST:PORT` is what scripts
 * wait for), then SIGTERM/SIGINT: drain the in-flight requests and exit 0. */
#include "cli.h"
#include "server/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 64

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: openlora serve [options]\n"
        "\n"
        "An OpenAI-compatible HTTP server: /v1/completions, /v1/chat/completions, /v1/models,\n"
        "adapter administration (/v1/adapters), /health, /ready, /metrics.\n"
        "\n"
        "  -m, --model PATH          GGUF base model [OPENLORA_MODEL] (default: the cached\n"
        "                            Gemma 3 270M)\n"
        "  --host ADDR               address to listen on [OPENLORA_HOST] (default 127.0.0.1)\n"
        "  --port N                  TCP port, 0 = any free port [OPENLORA_PORT] (default 8080)\n"
        "  -c, --ctx-size N          max prompt + max_tokens per request (default: the engine's)\n"
        "  -t, --threads N           kernel threads (default: all CPUs)\n"
        "  --n-batch N               tokens per engine step (default 512)\n"
        "  --max-running N           sequences per step (default 64)\n"
        "  --max-queue N             waiting requests; beyond: 503 + Retry-After (default 256)\n"
        "  --kv-cache-mb N           KV cache size (default 256)\n"
        "  --adapter-cache-mb N      resident adapter weights (default 1024)\n"
        "  --adapters-dir DIR        register every adapter in DIR at start; local sources of\n"
        "                            admin registrations must lie inside one (repeatable)\n"
        "                            [OPENLORA_ADAPTERS_DIR]\n"
        "  --allow-url-prefix P      allow http(s) adapter sources starting with P (repeatable;\n"
        "                            none = URLs refused)\n"
        "  --api-key KEY             accept this key, with admin scope (repeatable)\n"
        "                            [OPENLORA_API_KEY]; no key at all = open server\n"
        "  --api-key-file FILE       lines `KEY [admin] [adapters=NAME,NAME]`, # comments\n"
        "  --chat-template NAME      gemma, llama3 or chatml (default: detect from the model)\n"
        "  --max-body-kb N           request body limit, 413 beyond (default 1024)\n"
        "  --max-header-kb N         request header limit (default 16)\n"
        "  --timeout S               idle connection timeout in seconds (default 30)\n"
        "  --max-connections N       concurrent connections (default 1024)\n"
        "  --max-per-key N           concurrent requests per API key, 429 beyond (default 64)\n"
        "  --max-n N                 largest `n` (default 8)\n"
        "  --drain-timeout S         on SIGTERM/SIGINT, wait this long for requests (default 30)\n"
        "  --served-model-name NAME  the base model's name in the API (default: file stem)\n"
        "\n"
        "Usage ledger (every finished request is recorded before its answer ends):\n"
        "  --ledger URL              SQLite file (sqlite:PATH or PATH) or postgresql://... URL\n"
        "                            [OPENLORA_LEDGER] (default openlora-ledger.db)\n"
        "  --ledger-checkpoints DIR  signed checkpoints go here (default\n"
        "                            openlora-ledger-checkpoints)\n"
        "  --ledger-key FILE         Ed25519 signing key, PEM, created 0600 when missing; keep\n"
        "                            it away from the database (default openlora-ledger.key)\n"
        "  --ledger-checkpoint-interval S  seconds between checkpoints (default 60)\n"
        "  --no-ledger               serve without recording usage (benchmarks only)\n");
}

typedef struct serve_opts {
    ol_server_config cfg;
    const char *model;
    const char *keys[MAX_KEYS];
    int n_keys;
    bool no_ledger;
} serve_opts;

static int add_list(const char **list, int *n, int cap, const char *opt, const char *v) {
    if (*n == cap) {
        fprintf(stderr, "openlora: %s: at most %d\n", opt, cap);
        return -1;
    }
    list[(*n)++] = v;
    return 0;
}

/* Integer options: flag, bounds and where the value goes. */
static int parse_num(int argc, char **argv, int *i, serve_opts *o, bool *bad, bool *hit) {
    ol_server_config *c = &o->cfg;
    struct {
        const char *s, *l;
        long lo, hi;
        int *ip;
        size_t *zp;
    } nums[] = {
        {NULL, "--port", 0, 65535, &c->port, NULL},
        {"-c", "--ctx-size", 1, 1 << 20, &c->ctx_size, NULL},
        {"-t", "--threads", 1, 1024, &c->n_threads, NULL},
        {NULL, "--n-batch", 1, 1 << 16, &c->n_batch, NULL},
        {NULL, "--max-running", 1, 4096, &c->max_running, NULL},
        {NULL, "--max-queue", 1, 1 << 20, &c->max_queue, NULL},
        {NULL, "--kv-cache-mb", 1, 1 << 20, NULL, &c->kv_cache_mb},
        {NULL, "--adapter-cache-mb", 1, 1 << 20, NULL, &c->adapter_cache_mb},
        {NULL, "--max-body-kb", 1, 1 << 20, NULL, &c->max_body_kb},
        {NULL, "--max-header-kb", 1, 1024, NULL, &c->max_header_kb},
        {NULL, "--timeout", 1, 86400, &c->timeout_s, NULL},
        {NULL, "--max-connections", 1, 1 << 16, &c->max_connections, NULL},
        {NULL, "--max-per-key", 1, 1 << 20, &c->max_per_key, NULL},
        {NULL, "--max-n", 1, 128, &c->max_n, NULL},
        {NULL, "--drain-timeout", 0, 86400, &c->drain_timeout_s, NULL},
        {NULL, "--ledger-checkpoint-interval", 1, 86400, &c->ledger_checkpoint_s, NULL},
    };
    for (size_t k = 0; k < OL_ARRAY_LEN(nums); k++) {
        const char *v = ol_cli_opt(argc, argv, i, nums[k].s, nums[k].l, bad);
        if (!v) continue;
        long x;
        *hit = true;
        if (ol_cli_parse_int(nums[k].l, v, nums[k].lo, nums[k].hi, &x)) return -1;
        if (nums[k].ip) *nums[k].ip = (int)x;
        if (nums[k].zp) *nums[k].zp = (size_t)x;
        return 0;
    }
    return 0;
}

static int parse_one(int argc, char **argv, int *i, serve_opts *o, bool *bad) {
    ol_server_config *c = &o->cfg;
    const char *v;
    bool hit = false;
    if (parse_num(argc, argv, i, o, bad, &hit)) return -1;
    if (hit || *bad) return *bad ? -1 : 0;
    if ((v = ol_cli_opt(argc, argv, i, "-m", "--model", bad))) {
        o->model = v;
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--host", bad))) {
        c->host = v;
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--adapters-dir", bad))) {
        return add_list(c->adapters_dirs, &c->n_adapters_dirs, OL_SERVER_MAX_LIST, "--adapters-dir",
                        v);
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--allow-url-prefix", bad))) {
        return add_list(c->url_prefixes, &c->n_url_prefixes, OL_SERVER_MAX_LIST,
                        "--allow-url-prefix", v);
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--api-key", bad))) {
        return add_list(o->keys, &o->n_keys, MAX_KEYS, "--api-key", v);
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--api-key-file", bad))) {
        c->api_key_file = v;
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--chat-template", bad))) {
        c->chat_template = v;
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--served-model-name", bad))) {
        c->served_model_name = v;
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--ledger", bad))) {
        c->ledger_url = v;
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--ledger-checkpoints", bad))) {
        c->ledger_checkpoint_dir = v;
    } else if ((v = ol_cli_opt(argc, argv, i, NULL, "--ledger-key", bad))) {
        c->ledger_key = v;
    } else if (!strcmp(argv[*i], "--no-ledger")) {
        o->no_ledger = true;
    } else if (!*bad) {
        fprintf(stderr, "openlora: serve: unknown option '%s' (see --help)\n", argv[*i]);
        return -1;
    }
    return *bad ? -1 : 0;
}

/* Environment first, so that flags parsed afterwards override it. */
static int parse_env(serve_opts *o) {
    const char *v;
    long x;
    if ((v = getenv("OPENLORA_HOST")) && *v) o->cfg.host = v;
    if ((v = getenv("OPENLORA_PORT")) && *v) {
        if (ol_cli_parse_int("$OPENLORA_PORT", v, 0, 65535, &x)) return -1;
        o->cfg.port = (int)x;
    }
    if ((v = getenv("OPENLORA_ADAPTERS_DIR")) && *v)
        o->cfg.adapters_dirs[o->cfg.n_adapters_dirs++] = v;
    if ((v = getenv("OPENLORA_API_KEY")) && *v) o->keys[o->n_keys++] = v;
    if ((v = getenv("OPENLORA_LEDGER")) && *v) o->cfg.ledger_url = v;
    return 0;
}

/* 1: --help printed; 0: ok; -1: bad options. */
static int parse(int argc, char **argv, serve_opts *o) {
    memset(o, 0, sizeof(*o));
    ol_server_config_default(&o->cfg);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 1;
        }
    if (parse_env(o)) return -1;
    /* a flag replaces the environment's value of a list option rather than adding to it */
    bool env_dirs = o->cfg.n_adapters_dirs > 0, env_keys = o->n_keys > 0;
    for (int i = 1; i < argc; i++) {
        bool bad = false;
        if (env_dirs && strstr(argv[i], "--adapters-dir") == argv[i])
            o->cfg.n_adapters_dirs = 0, env_dirs = false;
        if (env_keys && strstr(argv[i], "--api-key") == argv[i] &&
            strstr(argv[i], "--api-key-file") != argv[i])
            o->n_keys = 0, env_keys = false;
        if (parse_one(argc, argv, &i, o, &bad)) return -1;
    }
    if (o->no_ledger) o->cfg.ledger_url = NULL;
    o->cfg.api_keys = o->keys;
    o->cfg.n_api_keys = o->n_keys;
    return 0;
}

/* A ledger URL for the log: a postgresql:// password becomes ***. */
static void url_redacted(const char *url, char *out, size_t cap) {
    const char *p = strstr(url, "://"), *at = p ? strchr(p + 3, '@') : NULL;
    const char *colon = at ? memchr(p + 3, ':', (size_t)(at - p - 3)) : NULL;
    if (!colon) {
        snprintf(out, cap, "%s", url);
        return;
    }
    snprintf(out, cap, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

static void summary(ol_server *s, const ol_server_config *c, const char *model, int port) {
    fprintf(stderr, "openlora: serving %s\n", model);
    ol_server_describe(s, stderr);
    if (c->n_api_keys == 0 && !c->api_key_file)
        fprintf(stderr, "openlora: WARNING: no API key configured: the server is open and every "
                        "client has admin rights\n");
    for (int i = 0; i < c->n_adapters_dirs; i++)
        fprintf(stderr, "openlora: adapters dir %s\n", c->adapters_dirs[i]);
    char url[1024];
    if (c->ledger_url) url_redacted(c->ledger_url, url, sizeof(url));
    if (c->ledger_url)
        fprintf(stderr, "openlora: usage ledger %s (checkpoints %s, key %s)\n", url,
                c->ledger_checkpoint_dir ? c->ledger_checkpoint_dir : "off",
                c->ledger_key ? c->ledger_key : "none");
    const char *host = c->host;
    bool v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "openlora: listening on http://%s%s%s:%d\n", v6 ? "[" : "", host, v6 ? "]" : "",
            port);
    fflush(stderr);
}

int ol_cli_serve(int argc, char **argv) {
    serve_opts o;
    int prc = parse(argc, argv, &o);
    if (prc) return prc > 0 ? 0 : 2;
    char path[4096];
    if (ol_cli_model_path(o.model, path, sizeof(path))) return 1;
    o.cfg.model_path = path;
    /* Block the signals before any thread starts (all inherit the mask); sigwait takes them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit: the ledger write fails with EFBIG, no crash */
    ol_err err = {0};
    ol_server *s = ol_server_create(&o.cfg, &err);
    if (!s) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        return 1;
    }
    summary(s, &o.cfg, path, ol_server_port(s));
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "openlora: %s: draining (up to %d s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
            o.cfg.drain_timeout_s);
    ol_server_drain(s);
    ol_server_destroy(s);
    fprintf(stderr, "openlora: stopped\n");
    return 0;
}
