/* openlora.h: the C API of the openlora engine. One engine = one base model, a paged KV cache,
 * a just-in-time adapter cache and one engine thread that runs continuous batching: requests
 * for different adapters (and weighted merges of adapters) share every step. The CLI and the
 * HTTP server use only this API.
 *
 * Threads: every function may be called from any thread, except where noted. Callbacks run on
 * the engine thread: they must return quickly, must not block, and may call only
 * ol_engine_cancel (not submit, register or destroy). */
#ifndef OPENLORA_H
#define OPENLORA_H

#include "base/base.h"         /* ol_err, OL_E* codes */
#include "sampling/sampling.h" /* ol_sampling_params */

#include <stdbool.h>
#include <stdint.h>

typedef struct ol_engine ol_engine;

/* ---- engine ------------------------------------------------------------------------------ */

typedef struct ol_engine_params {
    const char *model_path;        /* GGUF base model (required) */
    int n_threads;                 /* kernel worker threads; 0 = physical cores */
    size_t kv_budget_bytes;        /* KV pool; default 256 MiB (F16 K/V, 16-token blocks) */
    int kv_block_size;             /* tokens per KV block; default 16 */
    bool prefix_cache;             /* reuse KV of identical prompt prefixes (same adapter set and
                                      versions); default true */
    size_t adapter_cache_bytes;    /* host bytes for resident adapter weights; default 1 GiB */
    int n_adapter_loaders;         /* loader threads; default 2 */
    int adapter_policy;            /* ol_adapter_policy (adapters/adapters.h); default LRU */
    long adapter_http_timeout_ms;  /* whole download of an http(s) adapter; 0 = 30000 */
    size_t adapter_http_max_bytes; /* largest download; 0 = 512 MiB */
    int n_batch;                   /* tokens per step (decodes + prefill chunks); default 512 */
    int max_running;               /* sequences per step; default 64 */
    int max_waiting;               /* bounded queue: submit refuses beyond it; default 1024 */
    int max_context;               /* prompt + max_tokens per request; default: the model's
                                      training context, capped at 8192 */
    int starvation_steps;          /* fairness: see ol_engine_submit; default 256 */
    bool serialize_adapters;       /* baseline for benchmarks: run one adapter set at a time (what
                                      llama.cpp's server does): requests of other sets wait until
                                      the running set drains; default false */
    bool manual_step;              /* no engine thread: the caller drives ol_engine_step (tests,
                                      single-threaded tools); default false */
} ol_engine_params;
void ol_engine_params_default(ol_engine_params *p);

/* Loads the model and starts the engine thread. NULL with err filled. */
ol_engine *ol_engine_create(const ol_engine_params *p, ol_err *err);
/* Cancels every unfinished request (each gets its on_done with OL_FINISH_ABORT), stops the
 * engine thread and frees everything. Registered adapters are forgotten. */
void ol_engine_destroy(ol_engine *e);

/* Facts of the loaded model for callers (server, CLI): borrowed until destroy. */
const char *ol_engine_model_name(const ol_engine *e); /* file name without .gguf */
int ol_engine_n_vocab(const ol_engine *e);
int ol_engine_max_context(const ol_engine *e);
/* Opaque handles for callers that need the tokenizer or model (cli, server): borrowed until
 * destroy. Cast to ol_tokenizer * (tokenizer/tokenizer.h) and ol_model * (model/model.h). */
const void *ol_engine_tokenizer(const ol_engine *e);
const void *ol_engine_model(const ol_engine *e);

/* ---- adapters ----------------------------------------------------------------------------
 * name -> source (a local PEFT directory or .gguf LoRA, or an http(s) URL; sha256 optional,
 * 64 hex chars, pins the downloaded file), meta: opaque JSON text kept with the version (the
 * server stores owner, contributors, datanet, license there). Re-registering a name makes a
 * new version; requests already running keep the version they started with. */
int ol_engine_adapter_register(ol_engine *e, const char *name, const char *source,
                               const char *sha256, const char *meta, uint64_t *version_out,
                               ol_err *err);
int ol_engine_adapter_unregister(ol_engine *e, const char *name, ol_err *err);

/* The current version of a registered name and whether its weights are in the host cache. */
typedef struct ol_engine_adapter_state {
    uint64_t version;
    bool resident, loading;
    size_t bytes; /* compute-layout bytes when resident, else 0 */
} ol_engine_adapter_state;
/* 0 and *out, or OL_ENOENT when the name is not registered. */
int ol_engine_adapter_state_get(ol_engine *e, const char *name, ol_engine_adapter_state *out);

/* ---- requests ---------------------------------------------------------------------------- */

#define OL_MAX_ADAPTERS_PER_REQUEST 4

typedef struct ol_adapter_weight {
    const char *name; /* registered adapter name */
    float weight;     /* finite, |weight| <= 100; 1 = the adapter as trained */
} ol_adapter_weight;

typedef enum ol_finish {
    OL_FINISH_STOP,   /* end-of-generation token, stop string, or on_token asked to stop */
    OL_FINISH_LENGTH, /* max_tokens reached */
    OL_FINISH_ABORT,  /* cancelled (ol_engine_cancel, destroy) */
    OL_FINISH_ERROR,  /* adapter load failed, or the request cannot fit the KV cache */
    OL_FINISH_COUNT
} ol_finish;
const char *ol_finish_name(ol_finish f); /* "stop", "length", "abort", "error" */

typedef struct ol_token_event {
    int32_t token;    /* sampled id (never an end-of-generation id) */
    int index;        /* 0 for the first generated token */
    const char *text; /* newly released text (valid UTF-8; stop strings and what follows them
                         withheld); borrowed for the callback; may be empty */
    size_t text_len;
    /* when the request asked for logprobs (>= 0): log p(token) under the raw logits and the
     * n_top most likely alternatives (borrowed for the callback); else 0 / 0 / NULL */
    float logprob;
    int n_top;
    const int32_t *top_ids;
    const float *top_logprobs;
} ol_token_event;

typedef struct ol_request_result {
    uint64_t id;
    ol_finish finish;
    int n_prompt;    /* prompt tokens */
    int n_cached;    /* prompt tokens whose KV came from the prefix cache (first admission) */
    int n_generated; /* tokens delivered through on_token */
    int n_preempted; /* times the request lost its KV and was recomputed */
    int64_t queue_ns, ttft_ns, total_ns; /* submit -> first admission, -> first token, -> done */
    int n_adapters;
    uint64_t adapter_versions[OL_MAX_ADAPTERS_PER_REQUEST];
    const char *text_tail; /* text released at the end (held-back bytes); borrowed */
    size_t text_tail_len;
    int err_code;      /* OL_FINISH_ERROR: the OL_E* code */
    char err_msg[512]; /* OL_FINISH_ERROR: why */
} ol_request_result;

typedef struct ol_request_params {
    /* The prompt: token ids (copied), or text (tokenized with the model's BOS rule) when
     * tokens is NULL. */
    const int32_t *tokens;
    int n_tokens;
    const char *prompt;
    int max_tokens; /* >= 1 */
    ol_sampling_params sampling;
    const char *const *stop; /* up to 4 stop strings (1..256 bytes each) */
    int n_stop;
    bool ignore_eos;
    int logprobs; /* -1 = none (default); 0..20 = logprob of each token plus that many top
                     alternatives */
    const ol_adapter_weight *adapters; /* 0..OL_MAX_ADAPTERS_PER_REQUEST; copied */
    int n_adapters;
    /* Called for each generated token; return nonzero to finish the request now (OL_FINISH_STOP,
     * e.g. the client went away). May be NULL. */
    int (*on_token)(void *ud, const ol_token_event *ev);
    /* Called exactly once per accepted request, last. May be NULL. */
    void (*on_done)(void *ud, const ol_request_result *res);
    void *ud;
} ol_request_params;
/* max_tokens 16, default sampling (ol_sampling_params_default), everything else empty. */
void ol_request_params_default(ol_request_params *p);

/* Queue a request. 0 and *id_out, or:
 *   OL_EINVAL  bad parameters (err says which: empty prompt, token out of range, prompt +
 *              max_tokens beyond the context or the KV cache, bad sampling values, bad stop
 *              strings, too many adapters, bad weight)
 *   OL_ENOENT  an adapter name is not registered
 *   OL_EFULL   the waiting queue holds max_waiting requests (try later)
 *   OL_ECANCELED the engine is shutting down
 * On error no callback is ever called.
 *
 * Scheduling, per step: first one token for every running request in decode, then prefill
 * chunks of running requests, then admission of waiting requests, all within n_batch tokens
 * and max_running sequences; the batch is ordered by adapter set so each set's tokens form one
 * LoRA segment per adapter. Fairness: waiting requests are admitted in arrival order among
 * those whose adapters are resident; a request whose adapter is still loading keeps its place
 * and never blocks the ones behind it. If the oldest waiting request has waited
 * starvation_steps steps, nothing newer is admitted until it is (so running requests drain,
 * their adapters unpin, and its load can get cache room). When KV blocks run out, the most
 * recently admitted running request is preempted (its KV dropped; it goes back to the queue in
 * its arrival place and is recomputed later, giving the same tokens). */
int ol_engine_submit(ol_engine *e, const ol_request_params *p, uint64_t *id_out, ol_err *err);

/* Cancel a request: it finishes with OL_FINISH_ABORT within one step and frees its KV and
 * adapter pins. OL_ENOENT if id is unknown or already finished. */
int ol_engine_cancel(ol_engine *e, uint64_t id);

/* manual_step engines only (not thread-safe against itself): run one step. Returns the number
 * of unfinished requests, or a negative OL_E* on an internal failure. */
int ol_engine_step(ol_engine *e);

/* ---- statistics -------------------------------------------------------------------------- */

typedef struct ol_engine_stats {
    int64_t n_waiting, n_loading, n_running; /* now */
    int64_t steps, tokens_prefill, tokens_decode, tokens_cached;
    int64_t submitted, refused_full, finished[OL_FINISH_COUNT], preemptions;
    int64_t kv_blocks_total, kv_blocks_used, kv_blocks_cached;
    int64_t prefix_lookups, prefix_hits;
    /* adapter cache */
    int64_t adapters_registered, adapters_resident, adapters_pinned, adapters_loading;
    size_t adapter_bytes_resident, adapter_bytes_budget, adapter_bytes_peak, registry_bytes;
    int64_t adapter_hits, adapter_misses, adapter_loads, adapter_load_failures, adapter_evictions,
        adapter_prefetches;
    int64_t adapter_load_ns_total;
} ol_engine_stats;
void ol_engine_stats_get(ol_engine *e, ol_engine_stats *s);

#endif
