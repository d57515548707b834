/* server/openai.c: POST /v1/completions and /v1/chat/completions: strict validation of the
 * OpenAI request body, one engine request per choice (prompts x n), and the answer either as
 * one JSON object or as a Server-Sent-Events stream fed by the engine callbacks through a
 * small shared queue (engine thread -> connection thread). */
#define _GNU_SOURCE /* POLLRDHUP */
#include "server_internal.h"

#include <errno.h>
#include <math.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CHOICES  128 /* prompts x n per HTTP request */
#define MAX_STOPS    4
#define MAX_TOP      OL_SAMPLING_MAX_TOP_LOGPROBS
#define STREAM_BLOCK 16384
#define MAX_USER     1024 /* bytes of the `user` field (it goes into the usage record) */

/* ---- the parsed request ------------------------------------------------------------------- */

typedef struct oa_params {
    bool chat;
    const char *model; /* borrowed from the JSON body */
    ol_adapter_weight adapters[OL_MAX_ADAPTERS_PER_REQUEST];
    int n_adapters;
    int max_tokens; /* -1: default */
    ol_sampling_params sp;
    bool seed_set;
    const char *stops[MAX_STOPS + 1];
    int n_stops;
    int n;
    bool stream, include_usage, ignore_eos;
    int logprobs;                  /* -1 none, else top alternatives (engine's convention) */
    int32_t *prompts[MAX_CHOICES]; /* token prompts, malloc'd */
    int n_toks[MAX_CHOICES];
    int n_prompts;
    const char *user;                      /* borrowed from the JSON body, or NULL */
    char request_id[OL_LEDGER_ID_MAX + 1]; /* X-Request-Id, or "" */
} oa_params;

static void params_free(oa_params *p) {
    for (int i = 0; i < p->n_prompts; i++) free(p->prompts[i]);
}

/* ---- field validation: each returns 0, or -1 with e filled (400 naming the field) ---------- */

static int get_int(json_t *j, const char *k, long long lo, long long hi, long long *out,
                   srv_error *e) {
    json_t *v = json_object_get(j, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return srv_fail(e, 400, k, NULL, "`%s` must be an integer.", k);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return srv_fail(e, 400, k, NULL, "`%s` must be between %lld and %lld, got %lld.", k, lo, hi,
                        x);
    *out = x;
    return 0;
}

/* lo_open: the lower bound itself is refused. */
static int get_num(json_t *j, const char *k, double lo, double hi, bool lo_open, float *out,
                   srv_error *e) {
    json_t *v = json_object_get(j, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return srv_fail(e, 400, k, NULL, "`%s` must be a number.", k);
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi) || (lo_open && x == lo))
        return srv_fail(e, 400, k, NULL, "`%s` must be in %c%g, %g], got %g.", k,
                        lo_open ? '(' : '[', lo, hi, x);
    *out = (float)x;
    return 0;
}

static int get_bool(json_t *j, const char *k, bool *out, srv_error *e) {
    json_t *v = json_object_get(j, k);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return srv_fail(e, 400, k, NULL, "`%s` must be a boolean.", k);
    *out = json_is_true(v);
    return 0;
}

static int get_sampling(json_t *j, oa_params *p, srv_error *e) {
    ol_sampling_params *sp = &p->sp;
    ol_sampling_params_default(sp);
    /* OpenAI's defaults, not the library's: plain sampling at temperature 1 */
    sp->temperature = 1.0f, sp->top_k = 0, sp->top_p = 1.0f, sp->min_p = 0.0f;
    long long top_k = 0, seed = -1;
    if (get_num(j, "temperature", 0, 2, false, &sp->temperature, e) ||
        get_num(j, "top_p", 0, 1, true, &sp->top_p, e) ||
        get_int(j, "top_k", 0, 1 << 30, &top_k, e) ||
        get_num(j, "min_p", 0, 1, false, &sp->min_p, e) ||
        get_num(j, "presence_penalty", -2, 2, false, &sp->presence_penalty, e) ||
        get_num(j, "frequency_penalty", -2, 2, false, &sp->frequency_penalty, e) ||
        get_num(j, "repetition_penalty", 0, 10, true, &sp->repeat_penalty, e) ||
        get_int(j, "seed", 0, INT64_MAX, &seed, e))
        return -1;
    sp->top_k = (int32_t)top_k;
    if (seed >= 0) sp->seed = (uint64_t)seed, p->seed_set = true;
    return 0;
}

static int get_stop(json_t *j, oa_params *p, srv_error *e) {
    json_t *v = json_object_get(j, "stop");
    if (!v || json_is_null(v)) return 0;
    const bool arr = json_is_array(v);
    const size_t n = arr ? json_array_size(v) : 1;
    if (n > MAX_STOPS)
        return srv_fail(e, 400, "stop", NULL, "`stop` takes at most %d strings.", MAX_STOPS);
    for (size_t i = 0; i < n; i++) {
        json_t *s = arr ? json_array_get(v, i) : v;
        if (!json_is_string(s) || json_string_length(s) == 0 || json_string_length(s) > 256 ||
            strlen(json_string_value(s)) != json_string_length(s))
            return srv_fail(e, 400, "stop", NULL,
                            "`stop` must be a string or an array of up to %d non-empty strings "
                            "of at most 256 bytes (no NUL).",
                            MAX_STOPS);
        p->stops[p->n_stops++] = json_string_value(s);
    }
    return 0;
}

static int get_logprobs(json_t *j, oa_params *p, srv_error *e) {
    p->logprobs = -1;
    if (!p->chat) {
        long long lp = -1;
        if (get_int(j, "logprobs", 0, MAX_TOP, &lp, e)) return -1;
        p->logprobs = (int)lp;
        return 0;
    }
    bool on = false;
    long long top = -1;
    if (get_bool(j, "logprobs", &on, e) || get_int(j, "top_logprobs", 0, MAX_TOP, &top, e))
        return -1;
    if (top >= 0 && !on)
        return srv_fail(e, 400, "top_logprobs", NULL,
                        "`top_logprobs` needs `logprobs` set to true.");
    if (on) p->logprobs = top > 0 ? (int)top : 0;
    return 0;
}

static int get_misc(srv_conn *c, json_t *j, oa_params *p, srv_error *e) {
    long long n = 1, mt = -1;
    const char *mt_key = p->chat && json_object_get(j, "max_completion_tokens")
                             ? "max_completion_tokens"
                             : "max_tokens";
    bool echo = false;
    if (get_int(j, "n", 1, c->s->cfg.max_n, &n, e) ||
        get_int(j, mt_key, 1, c->s->max_ctx, &mt, e) || get_bool(j, "stream", &p->stream, e) ||
        get_bool(j, "ignore_eos", &p->ignore_eos, e) || get_bool(j, "echo", &echo, e))
        return -1;
    p->n = (int)n;
    p->max_tokens = (int)mt;
    if (echo) return srv_fail(e, 400, "echo", NULL, "`echo` is not supported.");
    json_t *u = json_object_get(j, "user");
    if (u && !json_is_null(u) && (!json_is_string(u) || json_string_length(u) > MAX_USER))
        return srv_fail(e, 400, "user", NULL, "`user` must be a string of at most %d bytes.",
                        MAX_USER);
    p->user = json_string_value(u);
    json_t *so = json_object_get(j, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so))
            return srv_fail(e, 400, "stream_options", NULL, "`stream_options` must be an object.");
        if (get_bool(so, "include_usage", &p->include_usage, e)) {
            e->param = "stream_options.include_usage";
            return -1;
        }
    }
    return 0;
}

/* ---- model and adapters ------------------------------------------------------------------- */

static int use_adapter(srv_conn *c, const char *name, srv_error *e) {
    if (!srv_adapter_exists(c->s, name) || !srv_key_allows(c, name)) return srv_fail_model(e, name);
    return 0;
}

static int get_adapters_ext(srv_conn *c, json_t *j, oa_params *p, srv_error *e) {
    json_t *a = json_object_get(j, "adapters");
    if (!a || json_is_null(a)) return 0;
    if (!json_is_array(a) || json_array_size(a) > OL_MAX_ADAPTERS_PER_REQUEST)
        return srv_fail(e, 400, "adapters", NULL,
                        "`adapters` must be an array of at most %d {\"name\", \"weight\"} objects.",
                        OL_MAX_ADAPTERS_PER_REQUEST);
    size_t i;
    json_t *it;
    json_array_foreach(a, i, it) {
        json_t *nm = json_object_get(it, "name");
        json_t *w = json_object_get(it, "weight");
        if (!json_is_object(it) || !json_is_string(nm) || (w && !json_is_number(w)))
            return srv_fail(e, 400, "adapters", NULL,
                            "`adapters[%zu]` must be {\"name\": string, \"weight\": number}.", i);
        double wv = w ? json_number_value(w) : 1.0;
        if (!(fabs(wv) <= 100))
            return srv_fail(e, 400, "adapters", NULL,
                            "`adapters[%zu].weight` must be finite with |weight| <= 100.", i);
        const char *name = json_string_value(nm);
        for (int k = 0; k < p->n_adapters; k++)
            if (!strcmp(p->adapters[k].name, name))
                return srv_fail(e, 400, "adapters", NULL, "Adapter `%.64s` is listed twice.", name);
        if (use_adapter(c, name, e)) return -1;
        p->adapters[p->n_adapters++] = (ol_adapter_weight){name, (float)wv};
    }
    return 0;
}

/* `model` is the served name or an adapter (with `adapters`, the base name or one of them). */
static int get_model(srv_conn *c, json_t *j, oa_params *p, srv_error *e) {
    json_t *m = json_object_get(j, "model");
    if (!json_is_string(m))
        return srv_fail(e, 400, "model", NULL, "`model` is required and must be a string.");
    p->model = json_string_value(m);
    if (get_adapters_ext(c, j, p, e)) return -1;
    if (!strcmp(p->model, c->s->served_name)) return 0;
    for (int k = 0; k < p->n_adapters; k++)
        if (!strcmp(p->adapters[k].name, p->model)) return 0;
    if (p->n_adapters) return srv_fail_model(e, p->model);
    if (use_adapter(c, p->model, e)) return -1;
    p->adapters[0] = (ol_adapter_weight){p->model, 1.0f};
    p->n_adapters = 1;
    return 0;
}

/* ---- prompts ------------------------------------------------------------------------------ */

static int add_tokens(srv_conn *c, oa_params *p, const char *text, size_t len, srv_error *e) {
    if (p->n_prompts == MAX_CHOICES)
        return srv_fail(e, 400, "prompt", NULL, "At most %d prompts.", MAX_CHOICES);
    if (!c->s->tok)
        return srv_fail(e, 400, "prompt", NULL,
                        "The model has no tokenizer: send the prompt as token ids.");
    ol_err err;
    int32_t *ids = NULL;
    int n = 0;
    if (ol_tokenizer_encode(c->s->tok, text, len, true, true, &ids, &n, &err))
        return srv_fail(e, err.code == OL_ENOMEM ? 500 : 400, "prompt", NULL, "%s", err.msg);
    p->prompts[p->n_prompts] = ids;
    p->n_toks[p->n_prompts++] = n;
    return 0;
}

/* A JSON array of token ids. */
static int add_ids(srv_conn *c, oa_params *p, json_t *a, srv_error *e) {
    size_t n = json_array_size(a);
    const int n_vocab = ol_engine_n_vocab(c->s->eng);
    if (p->n_prompts == MAX_CHOICES)
        return srv_fail(e, 400, "prompt", NULL, "At most %d prompts.", MAX_CHOICES);
    if (n == 0 || n > (size_t)c->s->max_ctx)
        return srv_fail(e, 400, "prompt", NULL, "A token prompt needs 1..%d ids.", c->s->max_ctx);
    int32_t *ids = malloc(n * sizeof(int32_t));
    if (!ids) return srv_fail(e, 500, NULL, NULL, "Out of memory.");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        long long x = json_is_integer(v) ? json_integer_value(v) : -1;
        if (x < 0 || x >= n_vocab) {
            free(ids);
            return srv_fail(e, 400, "prompt", NULL, "Token ids must be integers in 0..%d.",
                            n_vocab - 1);
        }
        ids[i] = (int32_t)x;
    }
    p->prompts[p->n_prompts] = ids;
    p->n_toks[p->n_prompts++] = (int)n;
    return 0;
}

static int get_prompt(srv_conn *c, json_t *j, oa_params *p, srv_error *e) {
    json_t *v = json_object_get(j, "prompt");
    if (json_is_string(v)) return add_tokens(c, p, json_string_value(v), json_string_length(v), e);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return srv_fail(e, 400, "prompt", NULL,
                        "`prompt` is required: a string, an array of strings or of token ids.");
    json_t *first = json_array_get(v, 0);
    if (json_is_integer(first)) return add_ids(c, p, v, e);
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        int rc = json_is_string(it)
                     ? add_tokens(c, p, json_string_value(it), json_string_length(it), e)
                 : json_is_array(it) ? add_ids(c, p, it, e)
                                     : srv_fail(e, 400, "prompt", NULL,
                                                "`prompt[%zu]` must be a string or token ids.", i);
        if (rc) return rc;
    }
    return 0;
}

/* content: a string, or an array of {"type":"text","text":...} parts (joined by newlines);
 * *owned is set when the text was allocated. */
static const char *message_text(json_t *content, char **owned, size_t i, srv_error *e) {
    *owned = NULL;
    if (json_is_string(content)) return json_string_value(content);
    if (!json_is_array(content)) {
        srv_fail(e, 400, "messages", NULL,
                 "`messages[%zu].content` must be a string or an array "
                 "of text parts.",
                 i);
        return NULL;
    }
    size_t total = 1, k;
    json_t *part;
    json_array_foreach(content, k, part) {
        json_t *t = json_object_get(part, "text");
        json_t *ty = json_object_get(part, "type");
        if (!json_is_string(t) || !json_is_string(ty) || strcmp(json_string_value(ty), "text")) {
            srv_fail(e, 400, "messages", NULL,
                     "`messages[%zu].content[%zu]` must be {\"type\": \"text\", \"text\": ...}.", i,
                     k);
            return NULL;
        }
        total += json_string_length(t) + 1;
    }
    char *s = *owned = malloc(total);
    if (!s) {
        srv_fail(e, 500, NULL, NULL, "Out of memory.");
        return NULL;
    }
    size_t off = 0;
    json_array_foreach(content, k, part) {
        const char *t = json_string_value(json_object_get(part, "text"));
        off += (size_t)sprintf(s + off, "%s%s", k ? "\n" : "", t);
    }
    s[off] = 0;
    return s;
}

static int chat_fill(json_t *msgs, ol_chat_message *out, char **owned, srv_error *e) {
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_object(m) || !json_is_string(role))
            return srv_fail(e, 400, "messages", NULL, "`messages[%zu]` needs a string `role`.", i);
        out[i].role = json_string_value(role);
        if (json_is_null(content) || !content) {
            /* only an assistant turn may come without content (OpenAI: tool calls) */
            if (strcmp(out[i].role, "assistant") != 0)
                return srv_fail(e, 400, "messages", NULL,
                                "`messages[%zu].content` is required for role `%.32s`.", i,
                                out[i].role);
            out[i].content = "";
            continue;
        }
        if (!(out[i].content = message_text(content, &owned[i], i, e))) return -1;
    }
    return 0;
}

static int get_messages(srv_conn *c, json_t *j, oa_params *p, srv_error *e) {
    json_t *msgs = json_object_get(j, "messages");
    size_t n = json_array_size(msgs);
    if (!json_is_array(msgs) || n == 0)
        return srv_fail(e, 400, "messages", NULL, "`messages` must be a non-empty array.");
    ol_chat_message *cm = calloc(n, sizeof(*cm));
    char **owned = calloc(n, sizeof(*owned));
    int rc = -1;
    if (!cm || !owned) {
        srv_fail(e, 500, NULL, NULL, "Out of memory.");
        goto done;
    }
    if (chat_fill(msgs, cm, owned, e)) goto done;
    ol_err err;
    char *text = ol_chat_render(c->s->chat, cm, (int)n, &err);
    if (!text) {
        srv_fail(e, err.code == OL_ENOMEM ? 500 : 400, "messages", NULL, "%s", err.msg);
        goto done;
    }
    rc = add_tokens(c, p, text, strlen(text), e);
    if (rc) e->param = "messages";
    free(text);
    if (!rc && p->n_stops < MAX_STOPS) p->stops[p->n_stops++] = ol_chat_turn_end(c->s->chat);
done:
    for (size_t i = 0; owned && i < n; i++) free(owned[i]);
    free(owned);
    free(cm);
    return rc;
}

/* max_tokens default (16 for completions, the rest of the context for chat) and the
 * context check of every prompt. */
static int check_context(srv_conn *c, oa_params *p, srv_error *e) {
    const int ctx = c->s->max_ctx;
    const char *param = p->chat ? "messages" : "prompt";
    int longest = 0;
    for (int i = 0; i < p->n_prompts; i++) longest = OL_MAX(longest, p->n_toks[i]);
    if (p->max_tokens < 0) p->max_tokens = p->chat ? OL_MAX(ctx - longest, 1) : 16;
    if (p->n_prompts * p->n > MAX_CHOICES)
        return srv_fail(e, 400, "n", NULL, "At most %d choices per request (prompts x n).",
                        MAX_CHOICES);
    if ((long)longest + p->max_tokens > ctx)
        return srv_fail(e, 400, param, "context_length_exceeded",
                        "This model's maximum context length is %d tokens. However, you requested "
                        "%d tokens (%d in the prompt, %d for the completion). Please reduce the "
                        "prompt or max_tokens.",
                        ctx, longest + p->max_tokens, longest, p->max_tokens);
    return 0;
}

/* X-Request-Id: the client's id for the request, so that a retry is charged once. */
static int get_request_id(srv_conn *c, oa_params *p, srv_error *e) {
    const char *v = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "X-Request-Id");
    if (!v) return 0;
    size_t n = strlen(v);
    bool ok = n >= 1 && n <= OL_LEDGER_ID_MAX;
    for (size_t i = 0; ok && i < n; i++) ok = v[i] > 0x20 && v[i] < 0x7f;
    if (!ok)
        return srv_fail(e, 400, NULL, "invalid_request_id",
                        "X-Request-Id must be 1..%d printable ASCII characters without spaces.",
                        OL_LEDGER_ID_MAX);
    memcpy(p->request_id, v, n + 1);
    return 0;
}

static int parse_request(srv_conn *c, json_t *j, oa_params *p, srv_error *e) {
    if (get_model(c, j, p, e) || get_sampling(j, p, e) || get_stop(j, p, e) ||
        get_logprobs(j, p, e) || get_misc(c, j, p, e) || get_request_id(c, p, e))
        return -1;
    if (p->chat ? get_messages(c, j, p, e) : get_prompt(c, j, p, e)) return -1;
    return check_context(c, p, e);
}

/* ---- the shared state of one HTTP request ------------------------------------------------
 * Engine callbacks push events under mu; the connection thread pops them. refs: one for the
 * HTTP side plus one per submitted engine request (dropped by its on_done). */

typedef struct oa_event {
    struct oa_event *next;
    int choice;
    bool done;
    ol_finish finish;          /* done */
    int n_generated, err_code; /* done */
    int32_t token;             /* token */
    float logprob;             /* token, when logprobs >= 0 */
    int n_top;                 /* token */
    int32_t top_ids[MAX_TOP];  /* token */
    float top_lps[MAX_TOP];    /* token */
    char err_msg[256];         /* done with OL_FINISH_ERROR */
    size_t len;                /* text (the token's, or the held-back tail at done) */
    char text[];
} oa_event;

/* One choice: an engine request. Fields after `id` are the connection thread's. */
typedef struct oa_choice {
    struct oa_req *rq;
    uint64_t t_token_ns;   /* engine thread: when the previous token came (inter-token latency) */
    ol_request_result res; /* engine thread: the outcome, for the usage record */
    uint64_t id;           /* 0 until submitted; under mu */
    bool done;             /* under mu */
    bool started;
    ol_finish finish;
    int prompt, n_generated;
    char *text; /* non-streamed answer */
    size_t len, cap;
    json_t *lp; /* non-streamed logprobs */
} oa_choice;

typedef struct oa_req {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs, n_done;
    bool oom;
    bool ledger_pending; /* the usage record is queued, not yet committed */
    bool ledger_failed;  /* it could not be committed: the answer ends in an error */
    oa_event *head, *tail;
    /* immutable after submission */
    ol_server *s;
    const srv_key *key;
    bool chat, include_usage, has_adapters;
    int logprobs, n_choices, n_prompts;
    int n_toks[MAX_CHOICES];
    char id[40], *model, *adapter_label;
    int64_t created;
    oa_choice *ch;
    /* for the usage record */
    char request_id[OL_LEDGER_ID_MAX + 1], key_id[SRV_KEY_ID_MAX];
    char *user;
    json_t *attrib; /* srv_usage_adapters at admission */
    /* connection thread */
    int fd; /* the client's socket, to notice it going away */
    bool cancelled, finished;
    char *out;
    size_t out_len, out_off, out_cap;
} oa_req;

static void oa_unref(oa_req *rq) {
    pthread_mutex_lock(&rq->mu);
    bool last = --rq->refs == 0;
    pthread_mutex_unlock(&rq->mu);
    if (!last) return;
    for (oa_event *ev = rq->head, *next; ev; ev = next) next = ev->next, free(ev);
    for (int i = 0; i < rq->n_choices; i++) {
        free(rq->ch[i].text);
        json_decref(rq->ch[i].lp);
    }
    pthread_cond_destroy(&rq->cv);
    pthread_mutex_destroy(&rq->mu);
    free(rq->ch);
    free(rq->model);
    free(rq->adapter_label);
    free(rq->user);
    json_decref(rq->attrib);
    free(rq->out);
    free(rq);
}

/* Queue ev (NULL: out of memory); done_choice: the choice this event finishes, or NULL. */
static void push_event(oa_req *rq, oa_event *ev, oa_choice *done_choice) {
    pthread_mutex_lock(&rq->mu);
    if (done_choice) {
        done_choice->done = true;
        rq->n_done++;
    }
    if (ev) {
        ev->next = NULL;
        if (rq->tail)
            rq->tail->next = ev;
        else
            rq->head = ev;
        rq->tail = ev;
    } else {
        rq->oom = true;
    }
    pthread_cond_signal(&rq->cv);
    pthread_mutex_unlock(&rq->mu);
}

/* Engine thread: copy the event out and return at once. */
static int on_token(void *ud, const ol_token_event *te) {
    oa_choice *ch = ud;
    const uint64_t now = ol_time_ns();
    if (te->index > 0 && ch->t_token_ns)
        ol_metric_observe(ch->rq->s->m_itl, NULL, NULL, (double)(now - ch->t_token_ns) / 1e9);
    ch->t_token_ns = now;
    oa_event *ev = malloc(sizeof(*ev) + te->text_len);
    if (ev) {
        memset(ev, 0, sizeof(*ev));
        ev->choice = (int)(ch - ch->rq->ch);
        ev->token = te->token;
        ev->logprob = te->logprob;
        ev->n_top = OL_MIN(te->n_top, MAX_TOP);
        for (int i = 0; i < ev->n_top; i++)
            ev->top_ids[i] = te->top_ids[i], ev->top_lps[i] = te->top_logprobs[i];
        memcpy(ev->text, te->text, te->text_len);
        ev->len = te->text_len;
    }
    push_event(ch->rq, ev, NULL);
    return ev ? 0 : 1;
}

/* Engine thread: the per-request metrics, before the HTTP side can see the end (so a client
 * that scrapes after its answer finds it counted), whether or not the client is still there. */
static void count_done(oa_req *rq, const ol_request_result *res) {
    ol_server *s = rq->s;
    if (res->ttft_ns > 0) ol_metric_observe(s->m_ttft, NULL, NULL, (double)res->ttft_ns / 1e9);
    ol_metric_observe(s->m_e2e, NULL, NULL, (double)res->total_ns / 1e9);
    ol_metric_observe(s->m_queue, NULL, NULL, (double)res->queue_ns / 1e9);
    ol_metric_inc(s->m_gen_tokens, rq->adapter_label, NULL, res->n_generated);
}

/* Ledger thread: the usage record is committed (or could not be). */
static void on_recorded(void *ud, ol_ledger_status st, int64_t seq) {
    oa_req *rq = ud;
    pthread_mutex_lock(&rq->mu);
    rq->ledger_pending = false;
    rq->ledger_failed = st == OL_LEDGER_FAILED;
    pthread_cond_signal(&rq->cv);
    pthread_mutex_unlock(&rq->mu);
    oa_unref(rq);
}

static int finish_rank(ol_finish f) {
    return f == OL_FINISH_ERROR ? 3 : f == OL_FINISH_ABORT ? 2 : f == OL_FINISH_LENGTH ? 1 : 0;
}

/* Engine thread, last choice done: queue the request's usage record (one per HTTP request).
 * Nothing is recorded for a request that failed before producing any token. */
static void record_usage(oa_req *rq) {
    srv_usage u = {.request_id = rq->request_id,
                   .key_id = rq->key_id,
                   .user = rq->user,
                   .endpoint = rq->chat ? "chat.completions" : "completions",
                   .model = rq->model,
                   .adapters = rq->attrib,
                   .n = rq->n_choices};
    ol_finish fin = OL_FINISH_STOP;
    for (int i = 0; i < rq->n_prompts; i++) u.prompt_tokens += rq->n_toks[i];
    for (int i = 0; i < rq->n_choices; i++) {
        const ol_request_result *r = &rq->ch[i].res;
        u.completion_tokens += r->n_generated;
        if (i % (rq->n_choices / rq->n_prompts) == 0) u.cached_tokens += r->n_cached;
        if (finish_rank(r->finish) > finish_rank(fin)) fin = r->finish;
        u.total_ms = OL_MAX(u.total_ms, (double)r->total_ns / 1e6);
    }
    if (fin == OL_FINISH_ERROR && u.completion_tokens == 0) return;
    u.finish = ol_finish_name(fin);
    u.queue_ms = (double)rq->ch[0].res.queue_ns / 1e6;
    u.ttft_ms = (double)rq->ch[0].res.ttft_ns / 1e6;
    u.versions = rq->ch[0].res.adapter_versions;
    u.n_versions = rq->ch[0].res.n_adapters;
    json_t *body = srv_usage_body(&u);
    pthread_mutex_lock(&rq->mu);
    rq->refs++;
    rq->ledger_pending = true;
    pthread_mutex_unlock(&rq->mu);
    int rc = body ? ol_ledger_append(rq->s->ledger, "usage", rq->key_id, rq->request_id, body,
                                     on_recorded, rq)
                  : OL_ENOMEM;
    json_decref(body);
    if (rc) {
        ol_log(OL_LOG_ERROR, "serve: request %s: usage record not queued: %s", rq->request_id,
               ol_strerror(rc));
        on_recorded(rq, OL_LEDGER_FAILED, 0);
    }
}

static void on_done(void *ud, const ol_request_result *res) {
    oa_choice *ch = ud;
    oa_req *rq = ch->rq;
    count_done(rq, res);
    ch->res = *res;
    ch->res.text_tail = NULL;
    pthread_mutex_lock(&rq->mu);
    const bool last = rq->n_done + 1 == rq->n_choices;
    pthread_mutex_unlock(&rq->mu);
    if (last && rq->s->ledger) record_usage(rq); /* before the HTTP side can see the end */
    oa_event *ev = malloc(sizeof(*ev) + res->text_tail_len);
    if (ev) {
        memset(ev, 0, sizeof(*ev));
        ev->choice = (int)(ch - rq->ch);
        ev->done = true;
        ev->finish = res->finish;
        ev->n_generated = res->n_generated;
        ev->err_code = res->err_code;
        snprintf(ev->err_msg, sizeof(ev->err_msg), "%.255s", res->err_msg);
        memcpy(ev->text, res->text_tail, res->text_tail_len);
        ev->len = res->text_tail_len;
    }
    push_event(rq, ev, ch); /* with n_done, in one critical section */
    oa_unref(rq);
}

/* Cancel every engine request of rq still running (client gone, drain timeout). */
static void cancel_all(oa_req *rq) {
    uint64_t ids[MAX_CHOICES];
    int n = 0;
    pthread_mutex_lock(&rq->mu);
    for (int i = 0; i < rq->n_choices; i++)
        if (rq->ch[i].id && !rq->ch[i].done) ids[n++] = rq->ch[i].id;
    pthread_mutex_unlock(&rq->mu);
    for (int i = 0; i < n; i++) ol_engine_cancel(rq->s->eng, ids[i]);
    rq->cancelled = true;
}

/* The HTTP side is finished with rq (answered, or the client went away). */
static void oa_http_done(oa_req *rq) {
    if (!rq->cancelled) cancel_all(rq);
    srv_inflight_release(rq->s, rq->key);
    oa_unref(rq);
}

/* Has the client closed its side (it went away while we wait for the engine)? */
static bool client_gone(int fd) {
    if (fd < 0) return false;
    struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Wait (connection thread) for an event, in short slices so that a drain timeout or a client
 * that went away cancels the engine requests. Called with mu held. */
static void wait_slice(oa_req *rq, int ms) {
    const struct timespec dl = ol_deadline_ms(ms);
    pthread_cond_timedwait(&rq->cv, &rq->mu, &dl);
    if (!rq->cancelled && (atomic_load(&rq->s->stopping) || client_gone(rq->fd))) {
        pthread_mutex_unlock(&rq->mu);
        cancel_all(rq);
        pthread_mutex_lock(&rq->mu);
    }
}

static oa_event *pop_all(oa_req *rq) {
    oa_event *h = rq->head;
    rq->head = rq->tail = NULL;
    return h;
}

/* ---- submission --------------------------------------------------------------------------- */

static oa_req *req_new(srv_conn *c, const oa_params *p) {
    oa_req *rq = calloc(1, sizeof(*rq));
    int n = p->n_prompts * p->n;
    if (!rq || !(rq->ch = calloc((size_t)n, sizeof(oa_choice))) || !(rq->model = strdup(p->model)))
        goto fail;
    pthread_mutex_init(&rq->mu, NULL);
    pthread_cond_init(&rq->cv, NULL);
    rq->refs = 1;
    rq->s = c->s;
    rq->key = c->key;
    rq->chat = p->chat;
    rq->include_usage = p->include_usage;
    rq->has_adapters = p->n_adapters > 0;
    rq->adapter_label = strdup(p->n_adapters ? p->adapters[0].name : c->s->served_name);
    rq->logprobs = p->logprobs;
    rq->n_choices = n;
    rq->n_prompts = p->n_prompts;
    memcpy(rq->n_toks, p->n_toks, sizeof(int) * (size_t)p->n_prompts);
    rq->created = srv_unix_time();
    srv_key_id(c->key, rq->key_id);
    if ((p->user && !(rq->user = strdup(p->user))) ||
        (c->s->ledger && !(rq->attrib = srv_usage_adapters(c->s, p->adapters, p->n_adapters)))) {
        oa_unref(rq);
        return NULL;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    rq->fd = ci ? ci->connect_fd : -1;
    unsigned char rnd[12];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) memset(rnd, 0, sizeof(rnd));
    int k = snprintf(rq->id, sizeof(rq->id), "%s", p->chat ? "chatcmpl-" : "cmpl-");
    for (size_t i = 0; i < sizeof(rnd); i++) k += sprintf(rq->id + k, "%02x", rnd[i]);
    snprintf(rq->request_id, sizeof(rq->request_id), "%s",
             p->request_id[0] ? p->request_id : rq->id);
    for (int i = 0; i < n; i++) rq->ch[i] = (oa_choice){.rq = rq, .prompt = i / p->n};
    return rq;
fail:
    if (rq) free(rq->ch);
    free(rq);
    return NULL;
}

static int map_submit_error(int rc, const ol_err *err, const oa_params *p, srv_error *e) {
    switch (rc) {
    case OL_EFULL:
        return srv_fail(e, 503, NULL, "overloaded", "The server is overloaded; retry later.");
    case OL_ECANCELED:
        return srv_fail(e, 503, NULL, "draining", "The server is shutting down.");
    case OL_ENOENT:
        return srv_fail_model(e, p->model);
    case OL_EINVAL:
        return srv_fail(e, 400, NULL,
                        strstr(err->msg, "exceed the context") ? "context_length_exceeded" : NULL,
                        "%s", err->msg);
    default:
        return srv_fail(e, 500, NULL, NULL, "Internal error: %s", err->msg);
    }
}

static int submit_all(oa_req *rq, const oa_params *p, srv_error *e) {
    for (int i = 0; i < rq->n_choices; i++) {
        oa_choice *ch = &rq->ch[i];
        ol_request_params rp;
        ol_request_params_default(&rp);
        rp.tokens = p->prompts[ch->prompt];
        rp.n_tokens = p->n_toks[ch->prompt];
        rp.max_tokens = p->max_tokens;
        rp.sampling = p->sp;
        if (p->seed_set) rp.sampling.seed = p->sp.seed + (uint64_t)(i % p->n);
        rp.stop = p->stops;
        rp.n_stop = p->n_stops;
        rp.ignore_eos = p->ignore_eos;
        rp.logprobs = p->logprobs;
        rp.adapters = p->adapters;
        rp.n_adapters = p->n_adapters;
        rp.on_token = on_token;
        rp.on_done = on_done;
        rp.ud = ch;
        pthread_mutex_lock(&rq->mu);
        rq->refs++;
        pthread_mutex_unlock(&rq->mu);
        uint64_t id = 0;
        ol_err err = {0};
        int rc = ol_engine_submit(rq->s->eng, &rp, &id, &err);
        pthread_mutex_lock(&rq->mu);
        if (rc) rq->refs--;
        ch->id = id;
        pthread_mutex_unlock(&rq->mu);
        if (rc) return map_submit_error(rc, &err, p, e);
    }
    return 0;
}

/* A choice that ended in OL_FINISH_ERROR: an adapter that failed to load (server side, 503),
 * else an internal failure (500). */
static void finish_error(const oa_req *rq, const oa_event *ev, srv_error *e) {
    if (rq->has_adapters && ev->err_code != OL_ENOMEM)
        srv_fail(e, 503, NULL, "adapter_load_failed", "%s", ev->err_msg);
    else
        srv_fail(e, 500, NULL, NULL, "Generation failed: %s", ev->err_msg);
}

static json_t *usage_json(const oa_req *rq) {
    long prompt = 0, gen = 0;
    for (int i = 0; i < rq->n_prompts; i++) prompt += rq->n_toks[i];
    for (int i = 0; i < rq->n_choices; i++) gen += rq->ch[i].n_generated;
    return json_pack("{s:i,s:i,s:i}", "prompt_tokens", (json_int_t)prompt, "completion_tokens",
                     (json_int_t)gen, "total_tokens", (json_int_t)(prompt + gen));
}

/* ---- JSON of generated text and logprobs --------------------------------------------------- */

static json_t *token_str(const oa_req *rq, int32_t id, json_t **bytes) {
    char buf[1024];
    int n = rq->s->tok ? ol_tokenizer_token_to_piece(rq->s->tok, id, buf, sizeof(buf), true) : 0;
    if (n < 0) n = 0;
    if (bytes) {
        *bytes = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(*bytes, json_integer((unsigned char)buf[i]));
    }
    return srv_json_str_lossy(buf, (size_t)n);
}

static json_t *lp_real(float lp) {
    return json_real(isfinite(lp) ? lp : -9999.0);
}

/* Completions: parallel arrays tokens, token_logprobs, top_logprobs, text_offset. */
static json_t *cmpl_lp_new(void) {
    return json_pack("{s:[],s:[],s:[],s:[]}", "tokens", "token_logprobs", "top_logprobs",
                     "text_offset");
}

static void cmpl_lp_add(const oa_req *rq, json_t *lp, const oa_event *ev, size_t offset) {
    json_array_append_new(json_object_get(lp, "tokens"), token_str(rq, ev->token, NULL));
    json_array_append_new(json_object_get(lp, "token_logprobs"), lp_real(ev->logprob));
    json_t *top = json_object();
    for (int i = 0; i < ev->n_top; i++) {
        json_t *t = token_str(rq, ev->top_ids[i], NULL);
        if (t && !json_object_get(top, json_string_value(t)))
            json_object_set_new(top, json_string_value(t), lp_real(ev->top_lps[i]));
        json_decref(t);
    }
    json_array_append_new(json_object_get(lp, "top_logprobs"), top);
    json_array_append_new(json_object_get(lp, "text_offset"), json_integer((json_int_t)offset));
}

/* Chat: one entry of logprobs.content. */
static json_t *chat_lp_entry(const oa_req *rq, const oa_event *ev) {
    json_t *bytes, *tok = token_str(rq, ev->token, &bytes);
    json_t *top = json_array();
    for (int i = 0; i < ev->n_top; i++) {
        json_t *tb, *tt = token_str(rq, ev->top_ids[i], &tb);
        json_array_append_new(top, json_pack("{s:o,s:o,s:o}", "token", tt, "logprob",
                                             lp_real(ev->top_lps[i]), "bytes", tb));
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "token", tok, "logprob", lp_real(ev->logprob), "bytes",
                     bytes, "top_logprobs", top);
}

/* ---- non-streamed answer ------------------------------------------------------------------ */

static int text_add(oa_choice *ch, const char *p, size_t n) {
    if (ch->len + n + 1 > ch->cap) {
        size_t cap = OL_MAX(ch->cap * 2, ch->len + n + 64);
        char *t = realloc(ch->text, cap);
        if (!t) return -1;
        ch->text = t, ch->cap = cap;
    }
    memcpy(ch->text + ch->len, p, n);
    ch->len += n;
    return 0;
}

/* Fold one event into its choice; returns -1 on out of memory. */
static int full_apply(oa_req *rq, const oa_event *ev) {
    oa_choice *ch = &rq->ch[ev->choice];
    if (!ev->done && rq->logprobs >= 0) {
        if (!ch->lp) ch->lp = rq->chat ? json_array() : cmpl_lp_new();
        if (rq->chat)
            json_array_append_new(ch->lp, chat_lp_entry(rq, ev));
        else
            cmpl_lp_add(rq, ch->lp, ev, ch->len);
    }
    if (ev->done) {
        ch->finish = ev->finish;
        ch->n_generated = ev->n_generated;
    }
    return text_add(ch, ev->text, ev->len);
}

static json_t *full_choice(const oa_req *rq, int i) {
    const oa_choice *ch = &rq->ch[i];
    json_t *text = srv_json_str_lossy(ch->text ? ch->text : "", ch->len);
    json_t *lp = ch->lp ? json_incref(ch->lp) : json_null();
    if (rq->chat && ch->lp) {
        json_decref(lp);
        lp = json_pack("{s:O}", "content", ch->lp);
    }
    const char *fin = ol_finish_name(ch->finish);
    if (!rq->chat)
        return json_pack("{s:i,s:o,s:o,s:s}", "index", i, "text", text, "logprobs", lp,
                         "finish_reason", fin);
    return json_pack("{s:i,s:{s:s,s:o},s:o,s:s}", "index", i, "message", "role", "assistant",
                     "content", text, "logprobs", lp, "finish_reason", fin);
}

static void fail_ledger(srv_error *e) {
    srv_fail(e, 503, NULL, "ledger_unavailable",
             "The usage ledger cannot record this request, so its answer is withheld; retry "
             "later with the same X-Request-Id.");
}

static enum MHD_Result reply_full(srv_conn *c, oa_req *rq) {
    pthread_mutex_lock(&rq->mu);
    while (rq->n_done < rq->n_choices || rq->ledger_pending) wait_slice(rq, 200);
    oa_event *evs = pop_all(rq);
    bool oom = rq->oom;
    const bool unrecorded = rq->ledger_failed;
    pthread_mutex_unlock(&rq->mu);
    srv_error e = {0};
    if (unrecorded) fail_ledger(&e);
    for (oa_event *ev = evs, *next; ev; ev = next) {
        next = ev->next;
        if (ev->done && ev->finish == OL_FINISH_ERROR && !e.status) finish_error(rq, ev, &e);
        if (full_apply(rq, ev)) oom = true;
        free(ev);
    }
    if (oom && !e.status) srv_fail(&e, 500, NULL, NULL, "Out of memory.");
    if (e.status) return srv_reply_error(c, &e);
    json_t *choices = json_array();
    for (int i = 0; i < rq->n_choices; i++) json_array_append_new(choices, full_choice(rq, i));
    return srv_reply_json(c, 200,
                          json_pack("{s:s,s:s,s:I,s:s,s:o,s:o}", "id", rq->id, "object",
                                    rq->chat ? "chat.completion" : "text_completion", "created",
                                    (json_int_t)rq->created, "model", rq->model, "choices", choices,
                                    "usage", usage_json(rq)));
}

/* ---- streamed answer (Server-Sent Events) --------------------------------------------------- */

static void out_add(oa_req *rq, const char *p, size_t n) {
    if (rq->out_len + n > rq->out_cap) {
        size_t cap = OL_MAX(rq->out_cap * 2, rq->out_len + n + 256);
        char *o = realloc(rq->out, cap);
        if (!o) return; /* dropped: the stream stays well-formed event by event */
        rq->out = o, rq->out_cap = cap;
    }
    memcpy(rq->out + rq->out_len, p, n);
    rq->out_len += n;
}

/* `data: {json}\n\n`; takes j. */
static void out_event(oa_req *rq, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return;
    out_add(rq, "data: ", 6);
    out_add(rq, s, strlen(s));
    out_add(rq, "\n\n", 2);
    free(s);
}

static void out_chunk(oa_req *rq, json_t *choices, json_t *usage) {
    json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:o}", "id", rq->id, "object",
                          rq->chat ? "chat.completion.chunk" : "text_completion", "created",
                          (json_int_t)rq->created, "model", rq->model, "choices", choices);
    if (j && usage) json_object_set_new(j, "usage", usage);
    out_event(rq, j);
}

static json_t *stream_choice(oa_req *rq, const oa_event *ev, json_t *delta) {
    json_t *lp = json_null();
    if (!ev->done && rq->logprobs >= 0) {
        json_decref(lp);
        if (rq->chat) {
            lp = json_pack("{s:[o]}", "content", chat_lp_entry(rq, ev));
        } else {
            lp = cmpl_lp_new();
            cmpl_lp_add(rq, lp, ev, 0);
        }
    }
    json_t *fin = ev->done ? json_string(ol_finish_name(ev->finish)) : json_null();
    if (rq->chat)
        return json_pack("{s:i,s:o,s:o,s:o}", "index", ev->choice, "delta", delta, "logprobs", lp,
                         "finish_reason", fin);
    json_decref(delta);
    return json_pack("{s:i,s:o,s:o,s:o}", "index", ev->choice, "text",
                     srv_json_str_lossy(ev->text, ev->len), "logprobs", lp, "finish_reason", fin);
}

static void stream_error(oa_req *rq, const oa_event *ev) {
    srv_error e;
    finish_error(rq, ev, &e);
    out_event(rq, json_pack("{s:{s:s,s:s,s:n,s:s?}}", "error", "message", e.msg, "type", e.type,
                            "param", "code", e.code));
}

static void stream_apply(oa_req *rq, const oa_event *ev) {
    oa_choice *ch = &rq->ch[ev->choice];
    if (ev->done) {
        ch->finish = ev->finish;
        ch->n_generated = ev->n_generated;
        if (ev->finish == OL_FINISH_ERROR) return stream_error(rq, ev);
    }
    if (rq->chat && !ch->started) {
        oa_event first = {.choice = ev->choice};
        out_chunk(rq,
                  json_pack("[o]", stream_choice(
                                       rq, &first,
                                       json_pack("{s:s,s:s}", "role", "assistant", "content", ""))),
                  NULL);
    }
    ch->started = true;
    if (!ev->done && ev->len == 0 && rq->logprobs < 0) return;
    json_t *delta = ev->len || !ev->done
                        ? json_pack("{s:o}", "content", srv_json_str_lossy(ev->text, ev->len))
                        : json_object();
    out_chunk(rq, json_pack("[o]", stream_choice(rq, ev, delta)), NULL);
}

/* Turn pending events into SSE text (waits briefly when there are none). */
static void stream_fill(oa_req *rq) {
    pthread_mutex_lock(&rq->mu);
    if (!rq->head && rq->n_done < rq->n_choices) wait_slice(rq, 200);
    /* the last events (the finish reasons) go out only once the usage record is committed */
    while (rq->n_done == rq->n_choices && rq->ledger_pending) wait_slice(rq, 200);
    oa_event *evs = pop_all(rq);
    bool all_done = rq->n_done == rq->n_choices;
    const bool unrecorded = all_done && rq->ledger_failed;
    pthread_mutex_unlock(&rq->mu);
    if (unrecorded) {
        for (oa_event *ev = evs, *next; ev; ev = next) next = ev->next, free(ev);
        srv_error e;
        fail_ledger(&e);
        out_event(rq, json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message", e.msg, "type", e.type,
                                "param", "code", e.code));
        rq->finished = true;
        return;
    }
    for (oa_event *ev = evs, *next; ev; ev = next) {
        next = ev->next;
        stream_apply(rq, ev);
        free(ev);
    }
    if (!all_done) return;
    if (rq->include_usage) out_chunk(rq, json_array(), usage_json(rq));
    out_add(rq, "data: [DONE]\n\n", 14);
    rq->finished = true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    oa_req *rq = cls;
    if (rq->out_off == rq->out_len) {
        rq->out_off = rq->out_len = 0;
        if (rq->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        stream_fill(rq);
        if (rq->out_len == 0) return 0; /* nothing yet: MHD calls again */
    }
    size_t n = OL_MIN(max, rq->out_len - rq->out_off);
    memcpy(buf, rq->out + rq->out_off, n);
    rq->out_off += n;
    return (ssize_t)n;
}

/* The response is gone: finished, or the client went away (then cancel the engine work). */
static void stream_free(void *cls) {
    oa_http_done(cls);
}

static enum MHD_Result reply_stream(srv_conn *c, oa_req *rq) {
    /* Hold the headers until the first event, so a request that fails before its first token
     * (an adapter that cannot load) still gets a proper status. */
    pthread_mutex_lock(&rq->mu);
    while (!rq->head && rq->n_done < rq->n_choices) wait_slice(rq, 200);
    bool failed = rq->head && rq->head->done && rq->head->finish == OL_FINISH_ERROR;
    pthread_mutex_unlock(&rq->mu);
    if (failed) {
        enum MHD_Result r = reply_full(c, rq);
        oa_http_done(rq);
        return r;
    }
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                               stream_read, rq, stream_free);
    if (!r) {
        oa_http_done(rq);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return srv_queue(c, 200, r);
}

/* ---- the endpoint ------------------------------------------------------------------------- */

/* Prompt tokens of an accepted request (each prompt once, as in `usage`, whatever n is). */
static void count_prompt(const oa_req *rq) {
    long n = 0;
    for (int i = 0; i < rq->n_prompts; i++) n += rq->n_toks[i];
    ol_metric_inc(rq->s->m_prompt_tokens, rq->adapter_label, NULL, (double)n);
}

/* Serve no unattributed tokens: while the ledger cannot write, generation answers 503. */
static int ledger_check(srv_conn *c, srv_error *e) {
    if (!c->s->ledger || ol_ledger_healthy(c->s->ledger)) return 0;
    return srv_fail(e, 503, NULL, "ledger_unavailable",
                    "The usage ledger cannot write; generation is paused until it can.");
}

enum MHD_Result srv_handle_completions(srv_conn *c, bool chat) {
    srv_error e;
    oa_params p;
    memset(&p, 0, sizeof(p));
    p.chat = chat;
    json_t *j = srv_parse_body(c, &e);
    if (!j || parse_request(c, j, &p, &e) || ledger_check(c, &e) || srv_inflight_acquire(c, &e)) {
        params_free(&p);
        json_decref(j);
        return srv_reply_error(c, &e);
    }
    enum MHD_Result ret;
    oa_req *rq = req_new(c, &p);
    if (!rq) {
        srv_inflight_release(c->s, c->key);
        srv_fail(&e, 500, NULL, NULL, "Out of memory.");
        ret = srv_reply_error(c, &e);
    } else if (submit_all(rq, &p, &e)) {
        oa_http_done(rq);
        ret = srv_reply_error(c, &e);
    } else {
        count_prompt(rq);
        if (p.stream) {
            ret = reply_stream(c, rq);
        } else {
            ret = reply_full(c, rq);
            oa_http_done(rq);
        }
    }
    params_free(&p);
    json_decref(j);
    return ret;
}
