/* tests/unit/engine/test_engine.c: the engine through its C API (include/openlora.h) on the
 * tiny Llama fixture and its PEFT adapters. Continuous batching (requests arriving at different
 * steps, different adapters and merges, chunked prefill, preemption under KV pressure) gives
 * exactly the greedy tokens of each request run alone; the prefix cache never crosses adapter
 * sets or versions; cancellation, queue overflow and failed loads; and 1,000 Zipf-distributed
 * requests over 100 registered adapters with a cache for 8, on the threaded engine. */
#include "openlora.h"
#include "test.h"
#include "test_http.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_GEN 64

typedef struct out {
    int32_t toks[MAX_GEN];
    int n;
    bool done;
    ol_request_result res;
    int stop_after; /* on_token returns 1 after this many tokens (0 = never) */
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
} out;

static int on_token(void *ud, const ol_token_event *ev) {
    out *o = ud;
    if (o->n < MAX_GEN) o->toks[o->n] = ev->token;
    o->n++;
    return o->stop_after && o->n >= o->stop_after;
}

static void on_done(void *ud, const ol_request_result *res) {
    out *o = ud;
    if (o->mu) pthread_mutex_lock(o->mu);
    o->res = *res;
    o->done = true;
    if (o->cv) pthread_cond_broadcast(o->cv);
    if (o->mu) pthread_mutex_unlock(o->mu);
}

typedef struct spec {
    int32_t prompt[64];
    int n_prompt, max_tokens;
    int n_ad;
    ol_adapter_weight ad[2];
} spec;

static uint64_t rng = 12345;
static uint32_t rnd(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
}

/* One thread, 4 MiB of KV, manual steps, the tiny Llama fixture (its path copied into model:
 * test_data's buffer is reused by the next call). */
static void tiny_params(ol_engine_params *p, char *model, size_t cap) {
    ol_engine_params_default(p);
    snprintf(model, cap, "%s", test_data("models/tiny_llama.gguf"));
    p->model_path = model;
    p->n_threads = 1;
    p->kv_budget_bytes = 4 << 20;
    p->manual_step = true;
}

static ol_engine *make_engine(size_t kv_bytes, int n_batch, int max_running, bool prefix) {
    ol_engine_params p;
    ol_engine_params_default(&p);
    p.model_path = test_data("models/tiny_llama.gguf");
    p.n_threads = 2;
    p.kv_budget_bytes = kv_bytes;
    p.n_batch = n_batch;
    p.max_running = max_running;
    p.manual_step = true;
    p.prefix_cache = prefix;
    p.adapter_cache_bytes = 64 << 20;
    ol_err err = {0};
    ol_engine *e = ol_engine_create(&p, &err);
    if (!e) printf("engine: %s\n", err.msg);
    CHECK(e != NULL);
    return e;
}

static void register_fixtures(ol_engine *e) {
    const char *names[] = {"qv", "all", "rs", "pat"};
    const char *dirs[] = {"adapters/tiny_llama/qv_r4", "adapters/tiny_llama/all_r8",
                          "adapters/tiny_llama/rslora_r16", "adapters/tiny_llama/pattern_r8"};
    for (int i = 0; i < 4; i++) {
        ol_err err = {0};
        uint64_t v;
        int rc = ol_engine_adapter_register(e, names[i], test_data(dirs[i]), NULL, NULL, &v, &err);
        if (rc) printf("register %s: %s\n", names[i], err.msg);
        CHECK_EQ_INT(rc, 0);
    }
}

static int submit(ol_engine *e, const spec *s, out *o, uint64_t *id) {
    ol_request_params rp;
    ol_request_params_default(&rp);
    rp.tokens = s->prompt;
    rp.n_tokens = s->n_prompt;
    rp.max_tokens = s->max_tokens;
    rp.sampling.temperature = 0;
    rp.ignore_eos = true;
    rp.adapters = s->ad;
    rp.n_adapters = s->n_ad;
    rp.on_token = on_token;
    rp.on_done = on_done;
    rp.ud = o;
    ol_err err = {0};
    int rc = ol_engine_submit(e, &rp, id, &err);
    if (rc && rc != OL_EFULL) printf("submit: %s\n", err.msg);
    return rc;
}

static void run_until_done(ol_engine *e, out *o, int n) {
    for (int guard = 0; guard < 100000; guard++) {
        bool all = true;
        for (int i = 0; i < n; i++) all &= o[i].done;
        if (all) return;
        int rc = ol_engine_step(e);
        if (rc < 0) {
            CHECK(rc >= 0);
            return;
        }
        if (guard > 1000) usleep(100); /* an adapter load is running on a loader thread */
    }
    CHECK(!"requests never finished");
}

#define N_SPECS 12
static void make_specs(spec *s) {
    const char *names[] = {"qv", "all", "rs", "pat"};
    for (int i = 0; i < N_SPECS; i++) {
        memset(&s[i], 0, sizeof(s[i]));
        s[i].n_prompt = 3 + (int)(rnd() % 40);
        for (int k = 0; k < s[i].n_prompt; k++) s[i].prompt[k] = (int32_t)(rnd() % 512);
        s[i].max_tokens = 6 + (int)(rnd() % 14);
        switch (i % 4) {
        case 0:
            break; /* base only */
        case 1:
            s[i].n_ad = 1;
            s[i].ad[0] = (ol_adapter_weight){names[rnd() % 4], 1.0f};
            break;
        case 2:
            s[i].n_ad = 2;
            s[i].ad[0] = (ol_adapter_weight){"all", 0.7f};
            s[i].ad[1] = (ol_adapter_weight){"rs", 0.3f};
            break;
        default:
            s[i].n_ad = 1;
            s[i].ad[0] = (ol_adapter_weight){names[i % 4], 0.5f};
            break;
        }
    }
    /* two requests share a prompt under different adapter sets */
    memcpy(&s[5].prompt, &s[4].prompt, sizeof(s[4].prompt));
    s[5].n_prompt = s[4].n_prompt;
}

static void alone(const spec *s, out *ref) {
    ol_engine *e = make_engine(8 << 20, 64, 8, false);
    if (!e) return;
    register_fixtures(e);
    for (int i = 0; i < N_SPECS; i++) {
        memset(&ref[i], 0, sizeof(ref[i]));
        CHECK_EQ_INT(submit(e, &s[i], &ref[i], NULL), 0);
        run_until_done(e, &ref[i], 1);
        CHECK_EQ_INT(ref[i].res.finish, OL_FINISH_LENGTH);
        CHECK_EQ_INT(ref[i].n, s[i].max_tokens);
    }
    ol_engine_destroy(e);
}

static int compare(const spec *s, const out *a, const out *b) {
    int bad = 0;
    for (int i = 0; i < N_SPECS; i++) {
        if (a[i].n != b[i].n || memcmp(a[i].toks, b[i].toks, sizeof(int32_t) * (size_t)a[i].n)) {
            printf("  request %d (%d adapters): differs from its run alone\n", i, s[i].n_ad);
            bad++;
        }
    }
    return bad;
}

/* Staggered arrivals into one engine: the same tokens as alone. n_batch small enough that
 * prompts are chunked; kv_bytes small enough (when tight) that preemption happens. */
static void batched(const spec *s, const out *ref, size_t kv_bytes, int n_batch, bool prefix,
                    int64_t *preemptions) {
    ol_engine *e = make_engine(kv_bytes, n_batch, n_batch < 8 ? n_batch : 8, prefix);
    if (!e) return;
    register_fixtures(e);
    out o[N_SPECS];
    memset(o, 0, sizeof(o));
    int next = 0;
    for (int step = 0; step < 100000 && next < N_SPECS; step++) {
        /* 1..3 new requests every other step */
        if (step % 2 == 0)
            for (int k = 1 + (int)(rnd() % 3); k > 0 && next < N_SPECS; k--, next++)
                CHECK_EQ_INT(submit(e, &s[next], &o[next], NULL), 0);
        CHECK(ol_engine_step(e) >= 0);
    }
    run_until_done(e, o, N_SPECS);
    CHECK_EQ_INT(compare(s, ref, o), 0);
    ol_engine_stats st;
    ol_engine_stats_get(e, &st);
    *preemptions = st.preemptions;
    CHECK_EQ_INT((int)st.finished[OL_FINISH_LENGTH], N_SPECS);
    CHECK_EQ_INT((int)st.n_running, 0);
    CHECK_EQ_INT((int)(st.kv_blocks_used - st.kv_blocks_cached), 0); /* nothing leaked */
    ol_engine_destroy(e);
}

static void test_prefix_versions(void) {
    /* one prompt under A, under B, and under A re-registered with other weights: three
     * distinct outputs (each equal to its own fresh run), no cache hit across them; repeating
     * each hits the cache and gives the same output */
    ol_engine *e = make_engine(8 << 20, 64, 8, true);
    if (!e) return;
    ol_err err = {0};
    uint64_t v1, v2, v3;
    CHECK_EQ_INT(ol_engine_adapter_register(e, "A", test_data("adapters/tiny_llama/all_r8"), NULL,
                                            NULL, &v1, &err),
                 0);
    CHECK_EQ_INT(ol_engine_adapter_register(e, "B", test_data("adapters/tiny_llama/rslora_r16"),
                                            NULL, NULL, &v2, &err),
                 0);
    spec s;
    memset(&s, 0, sizeof(s));
    s.n_prompt = 40; /* 2 full blocks of 16 cached, the rest computed */
    for (int k = 0; k < s.n_prompt; k++) s.prompt[k] = (int32_t)(rnd() % 512);
    s.max_tokens = 8;
    s.n_ad = 1;
    out o[6];
    memset(o, 0, sizeof(o));
    s.ad[0] = (ol_adapter_weight){"A", 1.0f};
    submit(e, &s, &o[0], NULL);
    run_until_done(e, &o[0], 1);
    s.ad[0] = (ol_adapter_weight){"B", 1.0f};
    submit(e, &s, &o[1], NULL);
    run_until_done(e, &o[1], 1);
    CHECK_EQ_INT(ol_engine_adapter_register(e, "A", test_data("adapters/tiny_llama/pattern_r8"),
                                            NULL, NULL, &v3, &err),
                 0);
    CHECK(v3 != v1);
    s.ad[0] = (ol_adapter_weight){"A", 1.0f};
    submit(e, &s, &o[2], NULL);
    run_until_done(e, &o[2], 1);
    CHECK_EQ_INT(o[0].res.n_cached, 0);
    CHECK_EQ_INT(o[1].res.n_cached, 0);
    CHECK_EQ_INT(o[2].res.n_cached, 0); /* new version: no reuse of the old KV */
    CHECK(o[0].res.adapter_versions[0] == v1 && o[2].res.adapter_versions[0] == v3);
    CHECK(memcmp(o[0].toks, o[1].toks, sizeof(int32_t) * 8) != 0);
    CHECK(memcmp(o[0].toks, o[2].toks, sizeof(int32_t) * 8) != 0);
    /* repeats: B and new A hit, and give the same tokens */
    s.ad[0] = (ol_adapter_weight){"B", 1.0f};
    submit(e, &s, &o[3], NULL);
    run_until_done(e, &o[3], 1);
    s.ad[0] = (ol_adapter_weight){"A", 1.0f};
    submit(e, &s, &o[4], NULL);
    run_until_done(e, &o[4], 1);
    CHECK_EQ_INT(o[3].res.n_cached, 32);
    CHECK_EQ_INT(o[4].res.n_cached, 32);
    CHECK(memcmp(o[3].toks, o[1].toks, sizeof(int32_t) * 8) == 0);
    CHECK(memcmp(o[4].toks, o[2].toks, sizeof(int32_t) * 8) == 0);
    /* the same three outputs from a fresh engine without prefix cache */
    ol_engine *f = make_engine(8 << 20, 64, 8, false);
    if (f) {
        CHECK_EQ_INT(ol_engine_adapter_register(f, "A", test_data("adapters/tiny_llama/pattern_r8"),
                                                NULL, NULL, NULL, &err),
                     0);
        s.ad[0] = (ol_adapter_weight){"A", 1.0f};
        submit(f, &s, &o[5], NULL);
        run_until_done(f, &o[5], 1);
        CHECK(memcmp(o[5].toks, o[2].toks, sizeof(int32_t) * 8) == 0);
        ol_engine_destroy(f);
    }
    ol_engine_destroy(e);
}

static void test_cancel_overflow_failures(void) {
    ol_engine_params p;
    char model[4096];
    tiny_params(&p, model, sizeof(model));
    p.max_waiting = 4;
    ol_err err = {0};
    ol_engine *e = ol_engine_create(&p, &err);
    CHECK(e != NULL);
    if (!e) return;
    register_fixtures(e);
    CHECK_EQ_INT(ol_engine_adapter_register(e, "missing", "/nonexistent/adapter/dir", NULL, NULL,
                                            NULL, &err),
                 0);
    spec s;
    memset(&s, 0, sizeof(s));
    s.n_prompt = 8;
    for (int k = 0; k < 8; k++) s.prompt[k] = k + 1;
    s.max_tokens = 40;
    out o[6];
    memset(o, 0, sizeof(o));
    uint64_t id0, id1;
    s.max_tokens = 1000; /* still running when cancelled */
    CHECK_EQ_INT(submit(e, &s, &o[0], &id0), 0);
    s.max_tokens = 40;
    s.n_ad = 1;
    s.ad[0] = (ol_adapter_weight){"missing", 1.0f};
    CHECK_EQ_INT(submit(e, &s, &o[1], &id1), 0);
    s.ad[0] = (ol_adapter_weight){"qv", 1.0f};
    CHECK_EQ_INT(submit(e, &s, &o[2], NULL), 0);
    CHECK_EQ_INT(submit(e, &s, &o[3], NULL), 0);
    /* queue overflow: the fifth waiting request is refused, nothing is called for it */
    CHECK_EQ_INT(submit(e, &s, &o[4], NULL), OL_EFULL);
    /* unknown adapter */
    s.ad[0] = (ol_adapter_weight){"nope", 1.0f};
    CHECK_EQ_INT(submit(e, &s, &o[5], NULL), OL_ENOENT);
    /* step until the failed load reaches its request (loads run on loader threads: wait for
     * them between steps), then cancel the first: it ends within one step */
    for (int i = 0; i < 100000 && !o[1].done; i++) {
        ol_engine_step(e);
        if (!o[1].done) usleep(1000);
    }
    CHECK(o[1].done);
    CHECK_EQ_INT(o[1].res.finish, OL_FINISH_ERROR);
    CHECK_STR_CONTAINS(o[1].res.err_msg, "nonexistent");
    CHECK(!o[0].done);
    CHECK_EQ_INT(ol_engine_cancel(e, id0), 0);
    ol_engine_step(e);
    CHECK(o[0].done);
    CHECK_EQ_INT(o[0].res.finish, OL_FINISH_ABORT);
    CHECK_EQ_INT(ol_engine_cancel(e, id0), OL_ENOENT);
    /* the others still complete */
    run_until_done(e, &o[2], 2);
    CHECK_EQ_INT(o[2].res.finish, OL_FINISH_LENGTH);
    CHECK_EQ_INT(o[3].res.finish, OL_FINISH_LENGTH);
    CHECK(!o[4].done && !o[5].done);
    /* on_token asking to stop */
    out st = {.stop_after = 3};
    s.ad[0] = (ol_adapter_weight){"qv", 1.0f};
    CHECK_EQ_INT(submit(e, &s, &st, NULL), 0);
    run_until_done(e, &st, 1);
    CHECK_EQ_INT(st.res.finish, OL_FINISH_STOP);
    CHECK_EQ_INT(st.n, 3);
    /* bad requests */
    ol_request_params rp;
    ol_request_params_default(&rp);
    rp.tokens = s.prompt;
    rp.n_tokens = 8;
    rp.max_tokens = 0;
    CHECK_EQ_INT(ol_engine_submit(e, &rp, NULL, &err), OL_EINVAL);
    rp.max_tokens = 1 << 20;
    CHECK_EQ_INT(ol_engine_submit(e, &rp, NULL, &err), OL_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "exceed the context");
    int32_t badtok = 512;
    rp.tokens = &badtok;
    rp.n_tokens = 1;
    rp.max_tokens = 4;
    CHECK_EQ_INT(ol_engine_submit(e, &rp, NULL, &err), OL_EINVAL);
    rp.prompt = "text";
    rp.tokens = NULL;
    CHECK_EQ_INT(ol_engine_submit(e, &rp, NULL, &err), OL_EINVAL); /* no tokenizer */
    ol_engine_destroy(e);
}

/* ---- adapter loads over HTTP: 404, timeout, bad checksum fail their requests; a good URL
 * serves; a base request runs meanwhile ------------------------------------------------ */

static void sha256_of(const char *path, char out[65]) {
    char cmd[4400];
    snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    out[0] = 0;
    if (p) {
        if (fscanf(p, "%64s", out) != 1) out[0] = 0;
        pclose(p);
    }
}

static void test_http_failures(void) {
    char tmp[] = "/tmp/ol_test_engine_XXXXXX";
    if (!mkdtemp(tmp)) {
        CHECK(0);
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", test_data("adapters/tiny_llama"));
    int port = 0;
    pid_t srv = test_http_server_start(dir, tmp, &port);
    CHECK(port > 0);
    if (port <= 0) {
        if (srv > 0) kill(srv, SIGKILL), waitpid(srv, NULL, 0);
        rmdir(tmp);
        return;
    }
    ol_engine_params p;
    char model[4096];
    tiny_params(&p, model, sizeof(model));
    p.adapter_http_timeout_ms = 500;
    ol_err err = {0};
    ol_engine *e = ol_engine_create(&p, &err);
    CHECK(e != NULL);
    char url[4200], sha[65];
    char gguf[4200];
    snprintf(gguf, sizeof(gguf), "%s/all_r8.gguf", dir);
    sha256_of(gguf, sha);
    CHECK_EQ_INT((int)strlen(sha), 64);
    struct {
        const char *name, *path, *sha, *why;
    } cases[] = {{"h404", "/nope.gguf", NULL, "404"},
                 {"hslow", "/slow/all_r8.gguf", NULL, "timed out"},
                 {"hbad", "/all_r8.gguf",
                  "0000000000000000000000000000000000000000000000000000000000000000", "sha256"},
                 {"hok", "/all_r8.gguf", sha, NULL},
                 {"local", NULL, NULL, NULL}};
    enum { NC = 5 };
    out o[NC + 1];
    memset(o, 0, sizeof(o));
    spec s;
    memset(&s, 0, sizeof(s));
    s.n_prompt = 10;
    for (int k = 0; k < 10; k++) s.prompt[k] = 7 * k + 3;
    s.max_tokens = 8;
    for (int i = 0; e && i < NC; i++) {
        if (cases[i].path)
            snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, cases[i].path);
        else
            snprintf(url, sizeof(url), "%s", gguf);
        CHECK_EQ_INT(
            ol_engine_adapter_register(e, cases[i].name, url, cases[i].sha, NULL, NULL, &err), 0);
        s.n_ad = 1;
        s.ad[0] = (ol_adapter_weight){cases[i].name, 1.0f};
        CHECK_EQ_INT(submit(e, &s, &o[i], NULL), 0);
    }
    s.n_ad = 0; /* and a base request */
    if (e) CHECK_EQ_INT(submit(e, &s, &o[NC], NULL), 0);
    if (e) run_until_done(e, o, NC + 1);
    for (int i = 0; e && i < NC; i++) {
        if (cases[i].why) {
            CHECK_EQ_INT(o[i].res.finish, OL_FINISH_ERROR);
            CHECK_STR_CONTAINS(o[i].res.err_msg, cases[i].why);
            CHECK_EQ_INT(o[i].n, 0);
        } else {
            CHECK_EQ_INT(o[i].res.finish, OL_FINISH_LENGTH);
        }
    }
    if (e) {
        CHECK_EQ_INT(o[NC].res.finish, OL_FINISH_LENGTH);
        /* the adapter fetched over HTTP computes exactly what the local file does */
        CHECK(o[3].n == 8 && memcmp(o[3].toks, o[4].toks, sizeof(int32_t) * 8) == 0);
        ol_engine_stats st;
        ol_engine_stats_get(e, &st);
        CHECK_EQ_INT((int)st.adapter_load_failures, 3);
    }
    ol_engine_destroy(e);
    kill(srv, SIGKILL);
    waitpid(srv, NULL, 0);
    rmdir(tmp);
}

/* ---- fairness: a steady stream for a popular adapter does not starve a rare one ----------
 * The cache holds one adapter, so the rare adapter's load cannot start while the popular one
 * is pinned by running requests; the starvation rule stops admitting newer requests once the
 * rare request has waited starvation_steps steps, the popular requests drain, and it runs. */
static void test_fairness(void) {
    ol_engine_params p;
    char model[4096];
    tiny_params(&p, model, sizeof(model));
    p.n_batch = 16;
    p.max_running = 4;
    p.starvation_steps = 8;
    p.adapter_cache_bytes = 150000; /* all_r8 (131072 bytes) or pattern_r8 (30208), not both */
    ol_err err = {0};
    ol_engine *e = ol_engine_create(&p, &err);
    CHECK(e != NULL);
    if (!e) return;
    CHECK_EQ_INT(ol_engine_adapter_register(e, "pop", test_data("adapters/tiny_llama/all_r8"), NULL,
                                            NULL, NULL, &err),
                 0);
    CHECK_EQ_INT(ol_engine_adapter_register(e, "rare", test_data("adapters/tiny_llama/pattern_r8"),
                                            NULL, NULL, NULL, &err),
                 0);
    enum { NP = 200 };
    out *o = calloc(NP + 1, sizeof(out));
    spec s;
    memset(&s, 0, sizeof(s));
    s.n_prompt = 4;
    for (int k = 0; k < 4; k++) s.prompt[k] = k + 1;
    s.max_tokens = 6;
    s.n_ad = 1;
    s.ad[0] = (ol_adapter_weight){"pop", 1.0f};
    int next = 0, rare_done_at = -1;
    for (int step = 0; step < 100000 && (next < NP || !o[NP].done); step++) {
        /* keep 4 popular requests queued at all times */
        int queued = 0;
        for (int i = 0; i < next; i++) queued += !o[i].done;
        while (next < NP && queued < 8) {
            s.max_tokens = 3 + next % 7; /* staggered ends: some popular request always runs */
            CHECK_EQ_INT(submit(e, &s, &o[next++], NULL), 0);
            queued++;
        }
        if (step == 5) {
            spec r = s;
            r.ad[0] = (ol_adapter_weight){"rare", 1.0f};
            CHECK_EQ_INT(submit(e, &r, &o[NP], NULL), 0);
        }
        ol_engine_step(e);
        if (o[NP].done && rare_done_at < 0) rare_done_at = next;
        if (step > 1000) usleep(100);
    }
    printf("fairness: the rare request finished after %d popular submissions\n", rare_done_at);
    CHECK(o[NP].done && o[NP].res.finish == OL_FINISH_LENGTH);
    CHECK(rare_done_at > 0 && rare_done_at < NP); /* while the popular stream still ran */
    run_until_done(e, o, NP + 1);
    ol_engine_destroy(e);
    free(o);
}

/* ---- threaded: 1,000 Zipf requests over 100 adapters, cache for 8 ------------------------ */

typedef struct zipf_ctx {
    ol_engine *e;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n_done, n_ok;
} zipf_ctx;

typedef struct zreq {
    out o;
    zipf_ctx *z;
} zreq;

static void z_done(void *ud, const ol_request_result *res) {
    zreq *q = ud;
    pthread_mutex_lock(&q->z->mu);
    q->o.res = *res;
    q->o.done = true;
    q->z->n_done++;
    q->z->n_ok += res->finish == OL_FINISH_LENGTH;
    pthread_cond_broadcast(&q->z->cv);
    pthread_mutex_unlock(&q->z->mu);
}

static void test_zipf_threaded(void) {
    ol_engine_params p;
    ol_engine_params_default(&p);
    char model[4096];
    snprintf(model, sizeof(model), "%s", test_data("models/tiny_llama.gguf"));
    p.model_path = model;
    p.n_threads = 1;
    p.kv_budget_bytes = 4 << 20;
    p.n_batch = 128;
    p.max_running = 32;
    p.max_waiting = 2000;
    ol_err err = {0};
    /* the budget: 8 copies of the all_r8 adapter's bytes, measured by loading one */
    {
        ol_engine_params q = p;
        q.manual_step = true;
        ol_engine *probe = ol_engine_create(&q, &err);
        CHECK(probe != NULL);
        if (!probe) return;
        ol_engine_adapter_register(probe, "x", test_data("adapters/tiny_llama/all_r8"), NULL, NULL,
                                   NULL, &err);
        out o = {0};
        spec s = {.n_prompt = 2, .max_tokens = 1, .n_ad = 1};
        s.ad[0] = (ol_adapter_weight){"x", 1.0f};
        submit(probe, &s, &o, NULL);
        run_until_done(probe, &o, 1);
        ol_engine_stats st;
        ol_engine_stats_get(probe, &st);
        p.adapter_cache_bytes = 8 * st.adapter_bytes_peak;
        ol_engine_destroy(probe);
    }
    zipf_ctx z = {0};
    pthread_mutex_init(&z.mu, NULL);
    pthread_cond_init(&z.cv, NULL);
    z.e = ol_engine_create(&p, &err);
    if (!z.e) printf("engine: %s\n", err.msg);
    CHECK(z.e != NULL);
    if (!z.e) return;
    char name[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "ad%03d", i);
        CHECK_EQ_INT(ol_engine_adapter_register(z.e, name, test_data("adapters/tiny_llama/all_r8"),
                                                NULL, NULL, NULL, &err),
                     0);
    }
    /* Zipf(1.0) over 100 names */
    double cdf[100], sum = 0;
    for (int i = 0; i < 100; i++) cdf[i] = (sum += 1.0 / (i + 1));
    enum { N = 1000 };
    zreq *q = calloc(N, sizeof(zreq));
    char(*names)[32] = calloc(N, 32);
    int submitted = 0;
    for (int i = 0; i < N; i++) {
        double u = (rnd() / 2147483648.0) * sum; /* rnd() has 31 bits */
        int k = 0;
        while (k < 99 && cdf[k] < u) k++;
        snprintf(names[i], 32, "ad%03d", k);
        spec s = {.n_prompt = 4 + (int)(rnd() % 12), .max_tokens = 2 + (int)(rnd() % 4), .n_ad = 1};
        for (int t = 0; t < s.n_prompt; t++) s.prompt[t] = (int32_t)(rnd() % 512);
        s.ad[0] = (ol_adapter_weight){names[i], 1.0f};
        q[i].z = &z;
        ol_request_params rp;
        ol_request_params_default(&rp);
        rp.tokens = s.prompt;
        rp.n_tokens = s.n_prompt;
        rp.max_tokens = s.max_tokens;
        rp.sampling.temperature = 0;
        rp.ignore_eos = true;
        rp.adapters = s.ad;
        rp.n_adapters = 1;
        rp.on_done = z_done;
        rp.ud = &q[i];
        if (ol_engine_submit(z.e, &rp, NULL, &err) == 0) submitted++;
        /* check the budgets while traffic runs */
        if (i % 50 == 0) {
            ol_engine_stats st;
            ol_engine_stats_get(z.e, &st);
            CHECK(st.adapter_bytes_resident <= st.adapter_bytes_budget);
            CHECK(st.kv_blocks_used <= st.kv_blocks_total);
        }
    }
    CHECK_EQ_INT(submitted, N);
    pthread_mutex_lock(&z.mu);
    while (z.n_done < submitted) pthread_cond_wait(&z.cv, &z.mu);
    pthread_mutex_unlock(&z.mu);
    CHECK_EQ_INT(z.n_ok, N);
    ol_engine_stats st;
    ol_engine_stats_get(z.e, &st);
    printf("zipf: %lld steps, adapter hits %lld misses %lld prefetches %lld loads %lld evictions "
           "%lld, peak %zu of %zu bytes, registry %zu bytes for %lld names\n",
           (long long)st.steps, (long long)st.adapter_hits, (long long)st.adapter_misses,
           (long long)st.adapter_prefetches, (long long)st.adapter_loads,
           (long long)st.adapter_evictions, st.adapter_bytes_peak, st.adapter_bytes_budget,
           st.registry_bytes, (long long)st.adapters_registered);
    /* exactly one load per miss (prefetches load too, without a miss) */
    CHECK_EQ_INT((int)st.adapter_loads, (int)(st.adapter_misses + st.adapter_prefetches));
    /* every distinct adapter was loaded at least once; popular ones were hit */
    int distinct = 0;
    for (int k = 0; k < 100; k++) {
        char nm[32];
        snprintf(nm, sizeof(nm), "ad%03d", k);
        for (int i = 0; i < N; i++)
            if (!strcmp(names[i], nm)) {
                distinct++;
                break;
            }
    }
    printf("zipf: %d distinct adapters requested\n", distinct);
    CHECK(distinct > 8);
    CHECK(st.adapter_misses >= distinct);
    /* requests for one adapter share its loads (a request that joins a running load and then
     * collects it counts neither as a miss nor as a hit), so far fewer loads than requests */
    CHECK(st.adapter_loads < N);
    CHECK(st.adapter_evictions > 0);
    CHECK(st.adapter_bytes_peak <= st.adapter_bytes_budget);
    CHECK(st.registry_bytes <= 2048 * 100);
    CHECK_EQ_INT((int)st.adapter_load_failures, 0);
    ol_engine_destroy(z.e);
    free(q);
    free(names);
    pthread_mutex_destroy(&z.mu);
    pthread_cond_destroy(&z.cv);
}

int main(void) {
    spec s[N_SPECS];
    make_specs(s);
    out ref[N_SPECS];
    alone(s, ref);
    int64_t pre = 0;
    printf("batched, roomy KV, n_batch 64\n");
    batched(s, ref, 8 << 20, 64, false, &pre);
    printf("batched, roomy KV, n_batch 7 (chunked prefill), prefix cache\n");
    batched(s, ref, 8 << 20, 7, true, &pre);
    /* tight KV: one block is 2 layers * 2 * 16 * 64 * 2 bytes = 8 KiB; 12 blocks hold 192
     * positions, fewer than the 12 requests need together */
    printf("batched, 12 KV blocks (preemption)\n");
    batched(s, ref, 12 * 8192, 64, false, &pre);
    printf("  preemptions: %lld\n", (long long)pre);
    CHECK(pre > 0);
    test_prefix_versions();
    test_cancel_overflow_failures();
    test_http_failures();
    test_fairness();
    test_zipf_threaded();
    return test_done("test_engine");
}
