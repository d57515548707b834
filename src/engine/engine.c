/* engine/engine.c: the openlora engine (include/openlora.h). Callers submit requests from any
 * thread into an inbox; one engine thread moves them through waiting -> (adapter loading) ->
 * running -> finished, and runs step(): continuous batching of decodes and chunked prefills
 * from many requests and adapter sets in one forward pass, over the paged KV cache with a
 * prefix cache, preempting by recompute when KV blocks run out. */
#include "engine_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ----------------------------------------------------------------------- */

static const char *const g_finish_names[OL_FINISH_COUNT] = {"stop", "length", "abort", "error"};
const char *ol_finish_name(ol_finish f) {
    return (unsigned)f < OL_FINISH_COUNT ? g_finish_names[f] : "?";
}

static void list_push(rlist *l, req *r) {
    r->prev = l->tail, r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

static void list_remove(rlist *l, req *r) {
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
}

/* Insert keeping the list sorted by id (arrival order): preempted requests go back to their
 * place. */
static void list_insert_by_id(rlist *l, req *r) {
    req *at = l->tail;
    while (at && at->id > r->id) at = at->prev;
    if (!at) {
        r->prev = NULL, r->next = l->head;
        if (l->head)
            l->head->prev = r;
        else
            l->tail = r;
        l->head = r;
    } else {
        r->prev = at, r->next = at->next;
        if (at->next)
            at->next->prev = r;
        else
            l->tail = r;
        at->next = r;
    }
    l->n++;
}

/* The context key of the prefix cache: adapter versions and weights, in request order. */
static uint64_t set_key_of(const req *r) {
    uint64_t h = ol_hash_fnv1a(&r->n_ad, sizeof(r->n_ad), 0x6F6C2D6B76ull);
    for (int i = 0; i < r->n_ad; i++) {
        const uint64_t v = ol_adapter_entry_version(r->ent[i]);
        h = ol_hash_fnv1a(&v, sizeof(v), h);
        h = ol_hash_fnv1a(&r->w[i], sizeof(float), h);
    }
    return h;
}

static bool same_set(const req *a, const req *b) {
    if (a->set_key != b->set_key || a->n_ad != b->n_ad) return false;
    for (int i = 0; i < a->n_ad; i++)
        if (a->ent[i] != b->ent[i] || a->w[i] != b->w[i]) return false;
    return true;
}

/* ---- engine lifecycle -------------------------------------------------------------------- */

void ol_engine_params_default(ol_engine_params *p) {
    memset(p, 0, sizeof(*p));
    p->kv_budget_bytes = (size_t)256 << 20;
    p->kv_block_size = OL_KV_BLOCK_SIZE_DEFAULT;
    p->prefix_cache = true;
    p->adapter_cache_bytes = (size_t)1 << 30;
    p->n_adapter_loaders = 2;
    p->adapter_policy = OL_ADAPTER_POLICY_LRU;
    p->n_batch = 512;
    p->max_running = 64;
    p->max_waiting = 1024;
    p->starvation_steps = 256;
}

void ol_request_params_default(ol_request_params *p) {
    memset(p, 0, sizeof(*p));
    p->max_tokens = 16;
    p->logprobs = -1;
    ol_sampling_params_default(&p->sampling);
}

static void on_load_done(void *ud) {
    ol_engine *e = ud;
    pthread_mutex_lock(&e->mu);
    e->wake = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static void *engine_main(void *arg);

static int check_params(const ol_engine_params *p, ol_err *err) {
    if (!p->model_path || !*p->model_path) return ol_err_set(err, OL_EINVAL, "engine: no model");
    if (p->n_threads < 0 || p->n_threads > 1024)
        return ol_err_set(err, OL_EINVAL, "engine: n_threads %d outside 0..1024", p->n_threads);
    if (p->n_batch < 1 || p->n_batch > 65536)
        return ol_err_set(err, OL_EINVAL, "engine: n_batch %d outside 1..65536", p->n_batch);
    if (p->max_running < 1 || p->max_running > p->n_batch)
        return ol_err_set(err, OL_EINVAL, "engine: max_running %d outside 1..n_batch (%d)",
                          p->max_running, p->n_batch);
    if (p->max_waiting < 1 || p->max_waiting > (1 << 24))
        return ol_err_set(err, OL_EINVAL, "engine: max_waiting %d outside 1..16777216",
                          p->max_waiting);
    if (p->kv_block_size < 1 || p->kv_block_size > 1024)
        return ol_err_set(err, OL_EINVAL, "engine: kv_block_size %d outside 1..1024",
                          p->kv_block_size);
    if (p->max_context < 0 || p->starvation_steps < 1)
        return ol_err_set(err, OL_EINVAL, "engine: bad max_context or starvation_steps");
    if ((unsigned)p->adapter_policy >= OL_ADAPTER_POLICY_COUNT)
        return ol_err_set(err, OL_EINVAL, "engine: unknown adapter policy %d", p->adapter_policy);
    return 0;
}

ol_engine *ol_engine_create(const ol_engine_params *p, ol_err *err) {
    if (check_params(p, err)) return NULL;
    ol_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        ol_err_set(err, OL_ENOMEM, "engine: out of memory");
        return NULL;
    }
    e->p = *p;
    e->p.model_path = NULL; /* borrowed only for create */
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    const char *base = strrchr(p->model_path, '/');
    snprintf(e->model_name, sizeof(e->model_name), "%s", base ? base + 1 : p->model_path);
    char *dot = strstr(e->model_name, ".gguf");
    if (dot && dot[5] == '\0') *dot = '\0';

    if (!(e->model = ol_model_load(p->model_path, err))) goto fail;
    const ol_hparams *hp = ol_model_hparams(e->model);
    e->n_vocab = hp->n_vocab;
    {
        /* a model without a tokenizer (test fixtures) serves token ids only */
        ol_err terr = {0};
        e->tok = ol_tokenizer_create(ol_model_gguf(e->model), &terr);
        if (!e->tok) ol_log(OL_LOG_WARN, "engine: no tokenizer (%s): token ids only", terr.msg);
    }
    if (e->tok && ol_tokenizer_n_vocab(e->tok) > e->n_vocab) {
        ol_err_set(err, OL_EFORMAT, "engine: tokenizer has %d tokens, the model %d",
                   ol_tokenizer_n_vocab(e->tok), e->n_vocab);
        goto fail;
    }
    int ctx_max = hp->n_ctx_train > 0 ? hp->n_ctx_train : 8192;
    if (ctx_max > 8192) ctx_max = 8192;
    e->max_context = p->max_context > 0 ? p->max_context : ctx_max;
    int nt = p->n_threads > 0 ? p->n_threads : ol_cpu_n_physical();
    if (!(e->cpu = ol_cpu_create(nt, OL_CPU_TIER_COUNT, err))) goto fail;
    if (!(e->kv = ol_model_kv_pool_create(e->model, OL_DTYPE_F16, p->kv_budget_bytes,
                                          p->kv_block_size, err)))
        goto fail;
    e->kv_capacity_tokens = ol_kv_pool_n_blocks(e->kv) * p->kv_block_size;
    if (p->prefix_cache && !(e->prefix = ol_kv_prefix_create(e->kv, 0, err))) goto fail;
    if (!(e->ctx = ol_model_ctx_create(e->model, e->cpu, p->n_batch, err))) goto fail;
    ol_adapter_cache_config cc;
    ol_adapter_cache_config_default(&cc);
    cc.budget_bytes = p->adapter_cache_bytes;
    cc.n_loaders = p->n_adapter_loaders > 0 ? p->n_adapter_loaders : cc.n_loaders;
    cc.policy = (ol_adapter_policy)p->adapter_policy;
    if (p->adapter_http_timeout_ms > 0) cc.http_timeout_ms = p->adapter_http_timeout_ms;
    if (p->adapter_http_max_bytes > 0) cc.http_max_bytes = p->adapter_http_max_bytes;
    cc.on_load_done = on_load_done;
    cc.ud = e;
    if (!(e->cache = ol_adapter_cache_create(&cc, e->model, err))) goto fail;

    const size_t B = (size_t)p->n_batch, S = (size_t)p->max_running;
    e->b_tok = malloc(B * sizeof(int32_t));
    e->b_pos = malloc(B * sizeof(int32_t));
    e->b_seq = malloc(B * sizeof(int32_t));
    e->b_want = malloc(B);
    e->b_seqs = malloc(S * sizeof(ol_kv_seq *));
    e->b_lora = malloc(S * OL_MAX_ADAPTERS_PER_REQUEST * sizeof(ol_batch_lora));
    e->ents = malloc(S * sizeof(entry));
    e->logits = malloc(S * (size_t)e->n_vocab * sizeof(float));
    e->text_cap = e->tok ? OL_DETOK_CAP(e->tok) : 64;
    e->text = malloc(e->text_cap);
    if (!e->b_tok || !e->b_pos || !e->b_seq || !e->b_want || !e->b_seqs || !e->b_lora || !e->ents ||
        !e->logits || !e->text) {
        ol_err_set(err, OL_ENOMEM, "engine: out of memory for batch buffers");
        goto fail;
    }
    if (!p->manual_step) {
        if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
            ol_err_set(err, OL_ENOMEM, "engine: cannot start the engine thread");
            goto fail;
        }
        e->has_thread = true;
    }
    return e;
fail:
    ol_engine_destroy(e);
    return NULL;
}

const char *ol_engine_model_name(const ol_engine *e) {
    return e->model_name;
}
int ol_engine_n_vocab(const ol_engine *e) {
    return e->n_vocab;
}
int ol_engine_max_context(const ol_engine *e) {
    return e->max_context;
}
const void *ol_engine_tokenizer(const ol_engine *e) {
    return e->tok;
}
const void *ol_engine_model(const ol_engine *e) {
    return e->model;
}

int ol_engine_adapter_register(ol_engine *e, const char *name, const char *source,
                               const char *sha256, const char *meta, uint64_t *version_out,
                               ol_err *err) {
    return ol_adapter_cache_register(e->cache, name, source, sha256, meta, version_out, err);
}

int ol_engine_adapter_unregister(ol_engine *e, const char *name, ol_err *err) {
    return ol_adapter_cache_unregister(e->cache, name, err);
}

int ol_engine_adapter_state_get(ol_engine *e, const char *name, ol_engine_adapter_state *out) {
    ol_adapter_entry *en = ol_adapter_cache_lookup(e->cache, name);
    if (!en) return OL_ENOENT;
    ol_adapter_listing l;
    ol_adapter_cache_describe(e->cache, en, &l);
    ol_adapter_entry_release(e->cache, en);
    *out = (ol_engine_adapter_state){l.version, l.resident, l.loading, l.bytes};
    return 0;
}

/* ---- requests: creation and the end of their life ----------------------------------------- */

static void req_free(ol_engine *e, req *r) {
    if (!r) return;
    for (int i = 0; i < r->n_ad; i++) ol_adapter_entry_release(e->cache, r->ent[i]);
    ol_sampler_destroy(r->sampler);
    ol_stop_matcher_deinit(&r->stop);
    ol_detok_deinit(&r->detok);
    free(r->toks);
    free(r);
}

static void unpin_all(ol_engine *e, req *r) {
    if (!r->pinned) return;
    for (int i = 0; i < r->n_ad; i++) ol_adapter_cache_unpin(e->cache, r->ent[i]);
    r->pinned = false;
}

/* Finish r (engine thread or destroy): the caller has already unlinked it from waiting/running.
 * Publishes its KV to the prefix cache, frees KV and pins, reports, frees. */
static void req_finish(ol_engine *e, req *r, ol_finish f, int code, const char *msg) {
    if (e->prefix && r->n_kv > 0 && f != OL_FINISH_ERROR)
        ol_kv_prefix_insert(e->prefix, r->set_key, r->toks, r->n_kv, &r->seq);
    ol_kv_seq_release(e->kv, &r->seq);
    unpin_all(e, r);
    ol_request_result res;
    memset(&res, 0, sizeof(res));
    res.id = r->id;
    res.finish = f;
    res.n_prompt = r->n_prompt;
    res.n_cached = r->n_cached;
    res.n_generated = r->n_gen;
    res.n_preempted = r->n_preempted;
    const uint64_t now = ol_time_ns();
    res.queue_ns = r->t_admit ? (int64_t)(r->t_admit - r->t_submit) : (int64_t)(now - r->t_submit);
    res.ttft_ns = r->t_first ? (int64_t)(r->t_first - r->t_submit) : 0;
    res.total_ns = (int64_t)(now - r->t_submit);
    res.n_adapters = r->n_ad;
    for (int i = 0; i < r->n_ad; i++) res.adapter_versions[i] = ol_adapter_entry_version(r->ent[i]);
    /* release held-back text: an incomplete UTF-8 tail, then what the stop matcher holds */
    size_t n_tail = 0;
    const char *tail = "";
    if (f != OL_FINISH_ERROR && !r->stop.stopped && e->text) {
        int n = e->tok ? ol_detok_flush(&r->detok, e->text, e->text_cap) : 0;
        const char *em;
        size_t ne;
        if (n > 0) ol_stop_matcher_feed(&r->stop, e->text, (size_t)n, &em, &ne);
        if (!r->stop.stopped) {
            /* what feed just released plus what flush releases must both reach the client:
             * collect them in the (large enough) text buffer */
            size_t k = 0;
            if (n > 0 && ne) memmove(e->text, em, ne), k = ne;
            ol_stop_matcher_flush(&r->stop, &em, &ne);
            if (ne && k + ne <= e->text_cap) memmove(e->text + k, em, ne), k += ne;
            tail = e->text, n_tail = k;
        } else if (n > 0) {
            tail = em, n_tail = ne;
        }
    }
    res.text_tail = tail;
    res.text_tail_len = n_tail;
    res.err_code = code;
    if (msg) snprintf(res.err_msg, sizeof(res.err_msg), "%s", msg);
    if (r->on_done) r->on_done(r->ud, &res);
    pthread_mutex_lock(&e->mu);
    e->finished[f]++;
    if (r->all_prev)
        r->all_prev->all_next = r->all_next;
    else
        e->all = r->all_next;
    if (r->all_next) r->all_next->all_prev = r->all_prev;
    e->n_live--;
    pthread_mutex_unlock(&e->mu);
    req_free(e, r);
}

static int tokenize_prompt(ol_engine *e, const ol_request_params *p, int32_t **out, int *n,
                           ol_err *err) {
    if (p->tokens) {
        if (p->n_tokens < 1) return ol_err_set(err, OL_EINVAL, "request: empty prompt");
        *out = malloc((size_t)p->n_tokens * sizeof(int32_t));
        if (!*out) return ol_err_set(err, OL_ENOMEM, "request: out of memory");
        memcpy(*out, p->tokens, (size_t)p->n_tokens * sizeof(int32_t));
        *n = p->n_tokens;
        return 0;
    }
    if (!p->prompt) return ol_err_set(err, OL_EINVAL, "request: no prompt");
    if (!e->tok)
        return ol_err_set(err, OL_EINVAL, "request: the model has no tokenizer: send token ids");
    int rc = ol_tokenizer_encode(e->tok, p->prompt, strlen(p->prompt), true, true, out, n, err);
    if (rc) return rc;
    if (*n < 1) {
        free(*out);
        *out = NULL;
        return ol_err_set(err, OL_EINVAL, "request: empty prompt");
    }
    return 0;
}

int ol_engine_submit(ol_engine *e, const ol_request_params *p, uint64_t *id_out, ol_err *err) {
    int rc;
    if (p->max_tokens < 1)
        return ol_err_set(err, OL_EINVAL, "request: max_tokens %d must be >= 1", p->max_tokens);
    if (p->n_adapters < 0 || p->n_adapters > OL_MAX_ADAPTERS_PER_REQUEST ||
        (p->n_adapters > 0 && !p->adapters))
        return ol_err_set(err, OL_EINVAL, "request: %d adapters, allowed 0..%d", p->n_adapters,
                          OL_MAX_ADAPTERS_PER_REQUEST);
    if (p->logprobs < -1 || p->logprobs > OL_SAMPLING_MAX_TOP_LOGPROBS)
        return ol_err_set(err, OL_EINVAL, "request: logprobs %d outside -1..%d", p->logprobs,
                          OL_SAMPLING_MAX_TOP_LOGPROBS);
    if ((rc = ol_sampling_params_validate(&p->sampling, err))) return rc;
    req *r = calloc(1, sizeof(*r));
    if (!r) return ol_err_set(err, OL_ENOMEM, "request: out of memory");
    ol_detok_init(&r->detok, e->tok, false);
    if (!e->tok && p->stop && p->n_stop > 0) {
        rc = ol_err_set(err, OL_EINVAL, "request: stop strings need a tokenizer");
        goto fail;
    }
    if ((rc = ol_stop_matcher_init(&r->stop, p->stop, p->stop ? p->n_stop : 0, err))) goto fail;
    int32_t *prompt = NULL;
    int n_prompt = 0;
    if ((rc = tokenize_prompt(e, p, &prompt, &n_prompt, err))) goto fail;
    r->toks = prompt;
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= e->n_vocab) {
            rc = ol_err_set(err, OL_EINVAL, "request: prompt token %d (%d) outside 0..%d", i,
                            prompt[i], e->n_vocab - 1);
            goto fail;
        }
    const int64_t total = (int64_t)n_prompt + p->max_tokens;
    if (total > e->max_context || total > e->kv_capacity_tokens) {
        rc = ol_err_set(err, OL_EINVAL,
                        "request: %d prompt tokens + max_tokens %d exceed the context of %d "
                        "tokens",
                        n_prompt, p->max_tokens,
                        e->max_context < e->kv_capacity_tokens ? e->max_context
                                                               : e->kv_capacity_tokens);
        goto fail;
    }
    int32_t *grown = realloc(r->toks, (size_t)total * sizeof(int32_t));
    if (!grown) {
        rc = ol_err_set(err, OL_ENOMEM, "request: out of memory");
        goto fail;
    }
    r->toks = grown;
    r->n_prompt = r->n_tok = n_prompt;
    r->max_tokens = p->max_tokens;
    for (int i = 0; i < p->n_adapters; i++) {
        const ol_adapter_weight *aw = &p->adapters[i];
        if (!aw->name || !(aw->weight == aw->weight) || aw->weight > 100.0f ||
            aw->weight < -100.0f) {
            rc = ol_err_set(err, OL_EINVAL,
                            "request: adapter %d: missing name or weight "
                            "outside -100..100",
                            i);
            goto fail;
        }
        r->ent[i] = ol_adapter_cache_lookup(e->cache, aw->name);
        if (!r->ent[i]) {
            rc = ol_err_set(err, OL_ENOENT, "request: adapter '%.64s' is not registered", aw->name);
            goto fail;
        }
        r->w[i] = aw->weight;
        r->n_ad = i + 1;
    }
    r->set_key = set_key_of(r);
    if (!(r->sampler = ol_sampler_create(&p->sampling, e->n_vocab, err))) {
        rc = err ? err->code : OL_ENOMEM;
        goto fail;
    }
    r->ignore_eos = p->ignore_eos;
    r->logprobs = p->logprobs;
    r->on_token = p->on_token;
    r->on_done = p->on_done;
    r->ud = p->ud;
    r->t_submit = ol_time_ns();
    ol_kv_seq_init(&r->seq);

    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        pthread_mutex_unlock(&e->mu);
        rc = ol_err_set(err, OL_ECANCELED, "engine: shutting down");
        goto fail;
    }
    if (e->n_queued >= e->p.max_waiting) {
        e->refused_full++;
        pthread_mutex_unlock(&e->mu);
        rc = ol_err_set(err, OL_EFULL, "engine: %d requests are waiting (the limit)",
                        e->p.max_waiting);
        goto fail;
    }
    const uint64_t id = r->id = (uint64_t)++e->next_id;
    e->n_queued++;
    e->n_live++;
    e->submitted++;
    list_push(&e->inbox, r);
    r->all_next = e->all;
    if (e->all) e->all->all_prev = r;
    e->all = r;
    e->wake = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    /* r belongs to the engine thread now (it may already be finished and freed) */
    if (id_out) *id_out = id;
    return 0;
fail:
    req_free(e, r);
    return rc;
}

int ol_engine_cancel(ol_engine *e, uint64_t id) {
    int rc = OL_ENOENT;
    pthread_mutex_lock(&e->mu);
    for (req *r = e->all; r; r = r->all_next)
        if (r->id == id) {
            atomic_store(&r->cancel, true);
            rc = 0;
            break;
        }
    e->wake = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- the engine thread ------------------------------------------------------------------- */

static void *engine_main(void *arg) {
    ol_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        e->wake = false;
        pthread_mutex_unlock(&e->mu);
        int computed = ol_engine_step_internal(e);
        pthread_mutex_lock(&e->mu);
        if (computed == 0 && !e->wake && !e->stopping) {
            /* nothing ran: wait for a submit, a cancel or a finished adapter load (with a
             * timeout as a safety net) */
            const struct timespec ts = ol_deadline_ms(50);
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        }
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int ol_engine_step(ol_engine *e) {
    if (e->has_thread) return OL_EINVAL;
    int rc = ol_engine_step_internal(e);
    if (rc < 0) return rc;
    pthread_mutex_lock(&e->mu);
    int live = (int)e->n_live;
    pthread_mutex_unlock(&e->mu);
    return live;
}

void ol_engine_destroy(ol_engine *e) {
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (e->has_thread) pthread_join(e->thread, NULL);
    /* everything still alive is aborted, on this thread */
    ol_engine_drain_inbox(e);
    for (rlist *l = &e->running; l->head;) {
        req *r = l->head;
        list_remove(l, r);
        req_finish(e, r, OL_FINISH_ABORT, OL_ECANCELED, "engine shut down");
    }
    for (rlist *l = &e->waiting; l->head;) {
        req *r = l->head;
        list_remove(l, r);
        req_finish(e, r, OL_FINISH_ABORT, OL_ECANCELED, "engine shut down");
    }
    ol_kv_prefix_destroy(e->prefix);
    ol_adapter_cache_destroy(e->cache);
    ol_model_ctx_destroy(e->ctx);
    ol_kv_pool_destroy(e->kv);
    ol_cpu_destroy(e->cpu);
    ol_tokenizer_destroy(e->tok);
    ol_model_destroy(e->model);
    free(e->b_tok), free(e->b_pos), free(e->b_seq), free(e->b_want), free(e->b_seqs);
    free(e->b_lora), free(e->ents), free(e->logits), free(e->text);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

/* Move submitted requests into the waiting list (engine thread). */
void ol_engine_drain_inbox(ol_engine *e) {
    pthread_mutex_lock(&e->mu);
    req *r = e->inbox.head;
    e->inbox.head = e->inbox.tail = NULL;
    e->inbox.n = 0;
    pthread_mutex_unlock(&e->mu);
    while (r) {
        req *next = r->next;
        r->prev = r->next = NULL;
        list_push(&e->waiting, r);
        r = next;
    }
}

void ol_engine_stats_get(ol_engine *e, ol_engine_stats *s) {
    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&e->mu);
    *s = e->stats;
    s->submitted = e->submitted;
    s->refused_full = e->refused_full;
    for (int i = 0; i < OL_FINISH_COUNT; i++) s->finished[i] = e->finished[i];
    pthread_mutex_unlock(&e->mu);
    ol_adapter_cache_stats cs;
    ol_adapter_cache_stats_get(e->cache, &cs);
    s->adapters_registered = cs.n_registered;
    s->adapters_resident = cs.n_resident;
    s->adapters_pinned = cs.n_pinned;
    s->adapters_loading = cs.n_loading;
    s->adapter_bytes_resident = cs.resident_bytes;
    s->adapter_bytes_budget = cs.budget_bytes;
    s->adapter_bytes_peak = cs.peak_resident_bytes;
    s->registry_bytes = cs.registry_bytes;
    s->adapter_hits = cs.hits;
    s->adapter_misses = cs.misses;
    s->adapter_loads = cs.loads;
    s->adapter_load_failures = cs.load_failures;
    s->adapter_evictions = cs.evictions;
    s->adapter_prefetches = cs.prefetches;
    s->adapter_load_ns_total = cs.load_ns_total;
}

/* exported for sched.c */
void ol_engine_req_finish(ol_engine *e, req *r, ol_finish f, int code, const char *msg) {
    req_finish(e, r, f, code, msg);
}
void ol_engine_req_unpin(ol_engine *e, req *r) {
    unpin_all(e, r);
}
void ol_engine_list_remove(rlist *l, req *r) {
    list_remove(l, r);
}
void ol_engine_list_push(rlist *l, req *r) {
    list_push(l, r);
}
void ol_engine_list_insert_by_id(rlist *l, req *r) {
    list_insert_by_id(l, r);
}
bool ol_engine_same_set(const req *a, const req *b) {
    return same_set(a, b);
}
