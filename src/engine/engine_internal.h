/* engine/engine_internal.h: what engine.c (lifecycle, submit, cancel) and sched.c (the step)
 * share: the request and engine structs. No other module includes it. */
#ifndef OL_ENGINE_INTERNAL_H
#define OL_ENGINE_INTERNAL_H

#include "adapters/adapters.h"
#include "kv/kv.h"
#include "model/model.h"
#include "openlora.h"
#include "sampling/sampling.h"
#include "tokenizer/tokenizer.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct req req;
struct req {
    uint64_t id;
    req *prev, *next;         /* inbox, waiting or running list (owner: engine thread; the
                                 inbox under ol_engine.mu) */
    req *all_prev, *all_next; /* every live request, under ol_engine.mu (cancel looks here) */
    atomic_bool cancel;
    int32_t *toks; /* [n_prompt + max_tokens]: prompt, then generated tokens */
    int n_prompt, n_tok, max_tokens, n_gen;
    int n_kv; /* leading tokens whose K/V is in seq */
    ol_kv_seq seq;
    ol_sampler *sampler;
    ol_detok detok;
    ol_stop_matcher stop;
    bool ignore_eos;
    int logprobs;
    /* adapter set: references held from submit to the end; pinned while running */
    int n_ad;
    ol_adapter_entry *ent[OL_MAX_ADAPTERS_PER_REQUEST];
    const ol_adapter *ad[OL_MAX_ADAPTERS_PER_REQUEST];
    float w[OL_MAX_ADAPTERS_PER_REQUEST];
    bool pinned, loading;
    bool in_step;       /* has tokens in the step being built */
    uint64_t set_key;   /* prefix-cache context key: versions and weights */
    int64_t wait_steps; /* steps spent waiting since submit or preemption */
    int n_cached, n_preempted;
    uint64_t t_submit, t_admit, t_first;
    int (*on_token)(void *ud, const ol_token_event *ev);
    void (*on_done)(void *ud, const ol_request_result *res);
    void *ud;
};

typedef struct rlist {
    req *head, *tail;
    int n;
} rlist;

/* One sequence's share of a step. */
typedef struct entry {
    req *r;
    int n;     /* tokens this step, from position r->n_kv */
    bool want; /* logits of its last token (the request reaches its end of prompt) */
    int order; /* position before sorting by adapter set */
} entry;

struct ol_engine {
    ol_engine_params p;
    char model_name[256];
    ol_model *model;
    ol_tokenizer *tok;
    ol_cpu *cpu;
    ol_kv_pool *kv;
    ol_kv_prefix *prefix; /* NULL when disabled */
    ol_model_ctx *ctx;
    ol_adapter_cache *cache;
    int n_vocab, max_context, kv_capacity_tokens;

    /* shared with submitting threads, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool wake, stopping;
    rlist inbox;
    req *all;
    int64_t n_live, n_queued, next_id;
    int64_t submitted, refused_full, finished[OL_FINISH_COUNT];
    ol_engine_stats stats; /* engine-thread figures, copied in at the end of each step */
    pthread_t thread;
    bool has_thread;

    /* engine thread only */
    rlist waiting, running;
    int64_t steps, tokens_prefill, tokens_decode, tokens_cached, preemptions;
    int32_t *b_tok, *b_pos, *b_seq;
    int8_t *b_want;
    ol_kv_seq **b_seqs;
    ol_batch_lora *b_lora;
    entry *ents;
    float *logits; /* [max_running][n_vocab] */
    char *text;
    size_t text_cap;
};

/* engine.c */
void ol_engine_drain_inbox(ol_engine *e);
void ol_engine_req_finish(ol_engine *e, req *r, ol_finish f, int code, const char *msg);
void ol_engine_req_unpin(ol_engine *e, req *r);
void ol_engine_list_remove(rlist *l, req *r);
void ol_engine_list_push(rlist *l, req *r);
void ol_engine_list_insert_by_id(rlist *l, req *r);
bool ol_engine_same_set(const req *a, const req *b);
/* sched.c: one step. Returns the number of tokens computed (0 = nothing could run), or a
 * negative OL_E* on an internal failure. */
int ol_engine_step_internal(ol_engine *e);

#endif
