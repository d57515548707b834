/* engine/sched.c: one engine step. Cancellations first; then the batch: one token for every
 * running request in decode, prefill chunks of running requests, then admission of waiting
 * requests in arrival order among those whose adapters are resident, all within the token and
 * sequence budgets; KV blocks come from the pool, the prefix cache, or by preempting the most
 * recently admitted request. The batch is sorted by adapter set (one LoRA segment per adapter
 * per set), run through the model, and every sequence that reached its last token samples. */
#include "engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_queued(ol_engine *e, int delta) {
    pthread_mutex_lock(&e->mu);
    e->n_queued += delta;
    pthread_mutex_unlock(&e->mu);
}

static void finish_waiting(ol_engine *e, req *r, ol_finish f, int code, const char *msg) {
    ol_engine_list_remove(&e->waiting, r);
    set_queued(e, -1);
    ol_engine_req_finish(e, r, f, code, msg);
}

static void finish_running(ol_engine *e, req *r, ol_finish f, int code, const char *msg) {
    ol_engine_list_remove(&e->running, r);
    ol_engine_req_finish(e, r, f, code, msg);
}

static void process_cancels(ol_engine *e) {
    for (req *r = e->waiting.head, *n; r; r = n) {
        n = r->next;
        if (atomic_load(&r->cancel)) finish_waiting(e, r, OL_FINISH_ABORT, OL_ECANCELED, NULL);
    }
    for (req *r = e->running.head, *n; r; r = n) {
        n = r->next;
        if (atomic_load(&r->cancel)) finish_running(e, r, OL_FINISH_ABORT, OL_ECANCELED, NULL);
    }
}

/* Drop r's KV and pins and put it back in the queue at its arrival place. */
static void preempt(ol_engine *e, req *r) {
    ol_engine_list_remove(&e->running, r);
    ol_kv_seq_release(e->kv, &r->seq);
    r->n_kv = 0;
    ol_engine_req_unpin(e, r);
    r->n_preempted++;
    r->wait_steps = 0;
    e->preemptions++;
    ol_engine_list_insert_by_id(&e->waiting, r);
    set_queued(e, +1);
}

/* Blocks for r to hold n positions: from the free list, then by evicting prefix-cache
 * blocks. 0 or OL_EFULL. */
static int reserve(ol_engine *e, req *r, int n) {
    int rc = ol_kv_seq_reserve(e->kv, &r->seq, n);
    if (rc != OL_EFULL || !e->prefix) return rc;
    const int need = ol_kv_blocks_for(e->kv, n) - r->seq.n_blocks;
    ol_kv_prefix_evict(e->prefix, need);
    return ol_kv_seq_reserve(e->kv, &r->seq, n);
}

/* Try to pin every adapter of r: 0 (all pinned), OL_EAGAIN (a load is pending; nothing stays
 * pinned) or an error (err filled). */
static int pin_all(ol_engine *e, req *r, ol_err *err) {
    if (r->pinned) return 0;
    /* while one of its loads is still pending, asking again would only re-pin (and count) the
     * resident ones */
    if (r->loading)
        for (int i = 0; i < r->n_ad; i++)
            if (ol_adapter_cache_is_loading(e->cache, r->ent[i])) return OL_EAGAIN;
    for (int i = 0; i < r->n_ad; i++) {
        int rc = ol_adapter_cache_pin(e->cache, r->ent[i], &r->ad[i], err);
        if (rc) {
            for (int j = 0; j < i; j++) ol_adapter_cache_unpin(e->cache, r->ent[j]);
            return rc;
        }
    }
    r->pinned = true;
    return 0;
}

/* Running requests first (decodes, then prefill continuations, in admission order), each
 * reserving KV for its tokens; on a full pool the newest running request without tokens in this
 * step is preempted (possibly the one asking). */
static int schedule_running(ol_engine *e, int *budget) {
    int n = 0;
    for (int pass = 0; pass < 2; pass++) { /* 0: decodes (one token), 1: prefill chunks */
        for (req *r = e->running.head, *next; r; r = next) {
            next = r->next;
            const int need = r->n_tok - r->n_kv;
            if ((pass == 0) != (need == 1)) continue;
            if (*budget < 1 || n == e->p.max_running) return n;
            const int chunk = need < *budget ? need : *budget;
            bool ok = true;
            while (ok && reserve(e, r, r->n_kv + chunk) != 0) {
                req *v = e->running.tail;
                while (v && v->in_step) v = v->prev;
                if (!v) {
                    ok = false; /* everyone else runs this step: r waits for the next one */
                    break;
                }
                if (v == next) next = v->next;
                preempt(e, v);
                if (v == r) ok = false;
            }
            if (!ok) continue;
            r->in_step = true;
            e->ents[n] = (entry){r, chunk, r->n_kv + chunk == r->n_tok, n};
            n++;
            *budget -= chunk;
        }
    }
    return n;
}

/* Admission in arrival order among requests whose adapters are resident. */
static int admit_waiting(ol_engine *e, int n, int *budget) {
    const req *oldest = e->waiting.head;
    const bool starving = oldest && oldest->wait_steps >= e->p.starvation_steps;
    const req *only = e->p.serialize_adapters ? e->running.head : NULL;
    int prefetched = 0;
    for (req *r = e->waiting.head, *next; r; r = next) {
        next = r->next;
        if (n == e->p.max_running || *budget < 1 || (starving && r != oldest)) {
            /* no room this step: warm the cache for what comes next */
            if (prefetched < 2 * e->p.max_running)
                for (int i = 0; i < r->n_ad; i++, prefetched++)
                    ol_adapter_cache_prefetch(e->cache, r->ent[i]);
            if (prefetched >= 2 * e->p.max_running) break;
            continue;
        }
        if (e->p.serialize_adapters) {
            /* one adapter set at a time: the running one, or the first admitted now */
            if (only && !ol_engine_same_set(only, r)) continue;
        }
        ol_err err = {0};
        int rc = pin_all(e, r, &err);
        if (rc == OL_EAGAIN) {
            r->loading = true;
            continue;
        }
        if (rc) {
            finish_waiting(e, r, OL_FINISH_ERROR, rc, err.msg);
            continue;
        }
        r->loading = false;
        if (e->prefix && r->n_kv == 0 && r->seq.n_blocks == 0) {
            int m = ol_kv_prefix_match(e->prefix, r->set_key, r->toks, r->n_tok, &r->seq);
            r->n_kv = m;
            if (!r->t_admit) r->n_cached = m;
            e->tokens_cached += m;
        }
        const int need = r->n_tok - r->n_kv;
        const int chunk = need < *budget ? need : *budget;
        if (reserve(e, r, r->n_kv + chunk) != 0) {
            /* no KV room: keep it waiting (with its place), stop admitting */
            ol_kv_seq_release(e->kv, &r->seq);
            r->n_kv = 0;
            ol_engine_req_unpin(e, r);
            break;
        }
        ol_engine_list_remove(&e->waiting, r);
        set_queued(e, -1);
        ol_engine_list_push(&e->running, r);
        if (!only) only = r;
        r->in_step = true;
        if (!r->t_admit) r->t_admit = ol_time_ns();
        e->ents[n] = (entry){r, chunk, r->n_kv + chunk == r->n_tok, n};
        n++;
        *budget -= chunk;
    }
    for (req *r = e->waiting.head; r; r = r->next) r->wait_steps++;
    return n;
}

static int cmp_entry(const void *pa, const void *pb) {
    const entry *a = pa, *b = pb;
    if (a->r->set_key != b->r->set_key) return a->r->set_key < b->r->set_key ? -1 : 1;
    return a->order - b->order;
}

/* Tokens, positions and LoRA segments of the sorted entries into the batch buffers. */
static void build_batch(ol_engine *e, int n, ol_batch *b) {
    int t = 0, nl = 0;
    for (int i = 0; i < n; i++) {
        const entry *en = &e->ents[i];
        req *r = en->r;
        const int t0 = t;
        for (int k = 0; k < en->n; k++, t++) {
            e->b_tok[t] = r->toks[r->n_kv + k];
            e->b_pos[t] = r->n_kv + k;
            e->b_seq[t] = i;
            e->b_want[t] = en->want && k == en->n - 1;
        }
        e->b_seqs[i] = &r->seq;
        /* extend the previous sequence's segments when the set is the same */
        if (i > 0 && ol_engine_same_set(e->ents[i - 1].r, r)) {
            for (int a = 0; a < r->n_ad; a++) e->b_lora[nl - r->n_ad + a].n += en->n;
        } else {
            for (int a = 0; a < r->n_ad; a++)
                e->b_lora[nl++] = (ol_batch_lora){t0, en->n, ol_adapter_weights(r->ad[a]), r->w[a]};
        }
    }
    *b = (ol_batch){.n_tokens = t,
                    .tokens = e->b_tok,
                    .pos = e->b_pos,
                    .seq = e->b_seq,
                    .logits = e->b_want,
                    .n_seqs = n,
                    .seqs = e->b_seqs,
                    .n_lora = nl,
                    .lora = nl ? e->b_lora : NULL};
}

/* Sample r's next token from its logits row and deliver it. Returns true if r finished. */
static bool sample_and_emit(ol_engine *e, req *r, const float *row) {
    const int32_t tok = ol_sampler_sample(r->sampler, row);
    ol_sampler_accept(r->sampler, tok);
    if (!r->t_first) r->t_first = ol_time_ns();
    if (!r->ignore_eos && e->tok && ol_tokenizer_is_eog(e->tok, tok)) {
        finish_running(e, r, OL_FINISH_STOP, 0, NULL);
        return true;
    }
    r->toks[r->n_tok++] = tok;
    ol_token_event ev = {.token = tok, .index = r->n_gen};
    int32_t top_ids[OL_SAMPLING_MAX_TOP_LOGPROBS];
    float top_lp[OL_SAMPLING_MAX_TOP_LOGPROBS];
    if (r->logprobs >= 0) {
        const int top = r->logprobs < e->n_vocab ? r->logprobs : e->n_vocab;
        if (ol_sampler_logprobs(row, e->n_vocab, tok, top, &ev.logprob, top_ids, top_lp) == 0) {
            ev.n_top = top;
            ev.top_ids = top_ids;
            ev.top_logprobs = top_lp;
        }
    }
    int n = e->tok ? ol_detok_push(&r->detok, tok, e->text, e->text_cap) : 0;
    const char *em = "";
    size_t ne = 0;
    int stopped = 0;
    if (n > 0) stopped = ol_stop_matcher_feed(&r->stop, e->text, (size_t)n, &em, &ne) == 1;
    ev.text = em;
    ev.text_len = ne;
    r->n_gen++;
    int want_stop = r->on_token ? r->on_token(r->ud, &ev) : 0;
    if (stopped || want_stop) {
        finish_running(e, r, OL_FINISH_STOP, 0, NULL);
        return true;
    }
    if (r->n_gen >= r->max_tokens) {
        finish_running(e, r, OL_FINISH_LENGTH, 0, NULL);
        return true;
    }
    return false;
}

static void publish_stats(ol_engine *e) {
    ol_engine_stats s;
    memset(&s, 0, sizeof(s));
    int n_loading = 0;
    for (req *r = e->waiting.head; r; r = r->next) n_loading += r->loading;
    s.n_waiting = e->waiting.n;
    s.n_loading = n_loading;
    s.n_running = e->running.n;
    s.steps = e->steps;
    s.tokens_prefill = e->tokens_prefill;
    s.tokens_decode = e->tokens_decode;
    s.tokens_cached = e->tokens_cached;
    s.preemptions = e->preemptions;
    s.kv_blocks_total = ol_kv_pool_n_blocks(e->kv);
    s.kv_blocks_used = s.kv_blocks_total - ol_kv_pool_n_free(e->kv);
    if (e->prefix) {
        ol_kv_prefix_stats ps;
        ol_kv_prefix_stats_get(e->prefix, &ps);
        s.kv_blocks_cached = ps.n_blocks;
        s.prefix_lookups = ps.lookups;
        s.prefix_hits = ps.hits;
    }
    pthread_mutex_lock(&e->mu);
    s.n_waiting += e->inbox.n;
    e->stats = s;
    pthread_mutex_unlock(&e->mu);
}

int ol_engine_step_internal(ol_engine *e) {
    ol_engine_drain_inbox(e);
    process_cancels(e);
    int budget = e->p.n_batch;
    int n = schedule_running(e, &budget);
    n = admit_waiting(e, n, &budget);
    if (n == 0) {
        publish_stats(e);
        return 0;
    }
    qsort(e->ents, (size_t)n, sizeof(entry), cmp_entry);
    ol_batch b;
    build_batch(e, n, &b);
    ol_err err = {0};
    int rc = ol_model_forward(e->ctx, e->kv, &b, e->logits, &err);
    if (rc) {
        /* a bug, not bad input (everything was validated at submit): fail the step's requests */
        ol_log(OL_LOG_ERROR, "engine: forward failed: %s", err.msg);
        for (int i = 0; i < n; i++) {
            e->ents[i].r->in_step = false;
            finish_running(e, e->ents[i].r, OL_FINISH_ERROR, rc, err.msg);
        }
        publish_stats(e);
        return rc;
    }
    e->steps++;
    int row = 0;
    for (int i = 0; i < n; i++) {
        entry *en = &e->ents[i];
        req *r = en->r;
        r->in_step = false;
        if (en->n == 1 && r->n_gen > 0)
            e->tokens_decode++;
        else
            e->tokens_prefill += en->n;
        r->n_kv += en->n;
        if (en->want) sample_and_emit(e, r, e->logits + (size_t)row++ * (size_t)e->n_vocab);
    }
    publish_stats(e);
    return b.n_tokens;
}
