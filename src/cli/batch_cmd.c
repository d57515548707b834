/* cli/batch_cmd.c: `openlora generate --batch-file FILE`: many prompts, each with its own
 * adapters, run concurrently through the engine (continuous batching over one base model);
 * prints every result in input order, then the aggregate throughput. FILE is JSON Lines:
 *   {"prompt": "...", "adapters": ["DIR_OR_GGUF[:WEIGHT]", ...], "max_tokens": N,
 *    "temperature": T, "seed": S}
 * Only "prompt" is required; the rest default to the command line's values. */
#include "cli.h"
#include "openlora.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX_LINES 100000

typedef struct batch batch;
typedef struct job {
    batch *b;
    char *prompt;
    int max_tokens;
    ol_sampling_params sp;
    int n_ad;
    ol_adapter_weight ad[OL_MAX_ADAPTERS_PER_REQUEST];
    /* result */
    char *text;
    size_t len, cap;
    ol_request_result res;
    bool done;
} job;

struct batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n_done;
    bool oom;
    /* distinct adapter paths, registered as a0, a1, ... */
    char **paths;
    char **names;
    int n_paths;
};

static int append(job *j, const char *s, size_t n) {
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 256;
        while (cap < j->len + n + 1) cap *= 2;
        char *t = realloc(j->text, cap);
        if (!t) return -1;
        j->text = t, j->cap = cap;
    }
    memcpy(j->text + j->len, s, n);
    j->len += n;
    j->text[j->len] = '\0';
    return 0;
}

static int on_token(void *ud, const ol_token_event *ev) {
    job *j = ud;
    if (ev->text_len && append(j, ev->text, ev->text_len)) j->b->oom = true;
    return 0;
}

static void on_done(void *ud, const ol_request_result *res) {
    job *j = ud;
    if (res->text_tail_len && append(j, res->text_tail, res->text_tail_len)) j->b->oom = true;
    pthread_mutex_lock(&j->b->mu);
    j->res = *res;
    j->done = true;
    j->b->n_done++;
    pthread_cond_signal(&j->b->cv);
    pthread_mutex_unlock(&j->b->mu);
}

/* Adapter name for a path: registered once per distinct path. */
static const char *adapter_name(batch *b, ol_engine *e, const char *path) {
    for (int i = 0; i < b->n_paths; i++)
        if (!strcmp(b->paths[i], path)) return b->names[i];
    char **np = realloc(b->paths, sizeof(char *) * (size_t)(b->n_paths + 1));
    if (!np) return NULL;
    b->paths = np;
    char **nn = realloc(b->names, sizeof(char *) * (size_t)(b->n_paths + 1));
    if (!nn) return NULL;
    b->names = nn;
    char name[32];
    snprintf(name, sizeof(name), "a%d", b->n_paths);
    ol_err err = {0};
    if (ol_engine_adapter_register(e, name, path, NULL, NULL, NULL, &err)) {
        fprintf(stderr, "openlora: adapter %s: %s\n", path, err.msg);
        return NULL;
    }
    b->paths[b->n_paths] = strdup(path);
    b->names[b->n_paths] = strdup(name);
    if (!b->paths[b->n_paths] || !b->names[b->n_paths]) return NULL;
    return b->names[b->n_paths++];
}

/* One JSON line into a job. Prints "FILE:LINE: ..." and returns -1 on bad input. */
static int parse_line(const char *file, int ln, const char *line, job *j, batch *b, ol_engine *e,
                      const ol_sampling_params *sp, long n_predict) {
    json_error_t je;
    json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    int rc = -1;
    if (!o || !json_is_object(o)) {
        fprintf(stderr, "openlora: %s:%d: not a JSON object (%s)\n", file, ln,
                o ? "other JSON value" : je.text);
        goto done;
    }
    json_t *p = json_object_get(o, "prompt");
    if (!json_is_string(p) || json_string_length(p) == 0) {
        fprintf(stderr, "openlora: %s:%d: \"prompt\" must be a non-empty string\n", file, ln);
        goto done;
    }
    j->prompt = strdup(json_string_value(p));
    j->sp = *sp;
    j->max_tokens = (int)n_predict;
    json_t *v;
    if ((v = json_object_get(o, "max_tokens"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1 << 20) {
            fprintf(stderr, "openlora: %s:%d: \"max_tokens\" must be an integer 1..1048576\n", file,
                    ln);
            goto done;
        }
        j->max_tokens = (int)json_integer_value(v);
    }
    if ((v = json_object_get(o, "temperature"))) {
        if (!json_is_number(v)) {
            fprintf(stderr, "openlora: %s:%d: \"temperature\" must be a number\n", file, ln);
            goto done;
        }
        j->sp.temperature = (float)json_number_value(v);
    }
    if ((v = json_object_get(o, "seed"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            fprintf(stderr, "openlora: %s:%d: \"seed\" must be a non-negative integer\n", file, ln);
            goto done;
        }
        j->sp.seed = (uint64_t)json_integer_value(v);
    }
    if ((v = json_object_get(o, "adapters"))) {
        if (!json_is_array(v) || json_array_size(v) > OL_MAX_ADAPTERS_PER_REQUEST) {
            fprintf(stderr, "openlora: %s:%d: \"adapters\" must be an array of up to %d strings\n",
                    file, ln, OL_MAX_ADAPTERS_PER_REQUEST);
            goto done;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *a = json_array_get(v, i);
            char path[4096];
            float w;
            if (!json_is_string(a) ||
                ol_cli_parse_adapter_arg(json_string_value(a), path, sizeof(path), &w)) {
                fprintf(stderr, "openlora: %s:%d: adapter %zu must be \"PATH[:WEIGHT]\"\n", file,
                        ln, i);
                goto done;
            }
            const char *name = adapter_name(b, e, path);
            if (!name) goto done;
            j->ad[j->n_ad++] = (ol_adapter_weight){name, w};
        }
    }
    ol_err err;
    if (ol_sampling_params_validate(&j->sp, &err)) {
        fprintf(stderr, "openlora: %s:%d: %s\n", file, ln, err.msg);
        goto done;
    }
    rc = 0;
done:
    json_decref(o);
    return rc;
}

int ol_cli_generate_batch(const char *model_path, const char *file, int threads, long n_predict,
                          const ol_sampling_params *sp, const char *const *stops, int n_stops,
                          bool ignore_eos) {
    size_t size;
    ol_err err = {0};
    char *text = ol_read_file(file, &size, &err);
    if (!text) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        return 1;
    }
    ol_engine_params ep;
    ol_engine_params_default(&ep);
    ep.model_path = model_path;
    ep.n_threads = threads;
    ep.max_waiting = BATCH_MAX_LINES;
    ol_engine *e = ol_engine_create(&ep, &err);
    if (!e) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        free(text);
        return 1;
    }
    batch b = {0};
    pthread_mutex_init(&b.mu, NULL);
    pthread_cond_init(&b.cv, NULL);
    job *jobs = NULL;
    int n_jobs = 0, rc = 1, submitted = 0, ln = 0;
    for (char *line = text, *next; line && *line; line = next) {
        ln++;
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        while (*line == ' ' || *line == '\t' || *line == '\r') line++;
        if (!*line) continue;
        if (n_jobs == BATCH_MAX_LINES) {
            fprintf(stderr, "openlora: %s: more than %d requests\n", file, BATCH_MAX_LINES);
            goto done;
        }
        job *nj = realloc(jobs, sizeof(job) * (size_t)(n_jobs + 1));
        if (!nj) goto done;
        jobs = nj;
        memset(&jobs[n_jobs], 0, sizeof(job));
        jobs[n_jobs].b = &b;
        if (parse_line(file, ln, line, &jobs[n_jobs++], &b, e, sp, n_predict)) goto done;
    }
    if (n_jobs == 0) {
        fprintf(stderr, "openlora: %s: no requests\n", file);
        goto done;
    }
    uint64_t t0 = ol_time_ns();
    for (int i = 0; i < n_jobs; i++) {
        ol_request_params rp;
        ol_request_params_default(&rp);
        rp.prompt = jobs[i].prompt;
        rp.max_tokens = jobs[i].max_tokens;
        rp.sampling = jobs[i].sp;
        rp.stop = stops;
        rp.n_stop = n_stops;
        rp.ignore_eos = ignore_eos;
        rp.adapters = jobs[i].ad;
        rp.n_adapters = jobs[i].n_ad;
        rp.on_token = on_token;
        rp.on_done = on_done;
        rp.ud = &jobs[i];
        if (ol_engine_submit(e, &rp, NULL, &err)) {
            fprintf(stderr, "openlora: request %d: %s\n", i + 1, err.msg);
            jobs[i].done = true;
            jobs[i].res.finish = OL_FINISH_ERROR;
            snprintf(jobs[i].res.err_msg, sizeof(jobs[i].res.err_msg), "%s", err.msg);
            continue;
        }
        submitted++;
    }
    pthread_mutex_lock(&b.mu);
    while (b.n_done < submitted) pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    double secs = (double)(ol_time_ns() - t0) / 1e9;
    long n_prompt = 0, n_gen = 0;
    int n_failed = 0;
    for (int i = 0; i < n_jobs; i++) {
        const job *j = &jobs[i];
        printf("=== request %d", i + 1);
        for (int a = 0; a < j->n_ad; a++)
            printf("%s%s:%g", a ? " + " : " [", b.paths[atoi(j->ad[a].name + 1)], j->ad[a].weight);
        printf("%s: %d prompt + %d generated tokens, %s ===\n", j->n_ad ? "]" : "", j->res.n_prompt,
               j->res.n_generated, ol_finish_name(j->res.finish));
        if (j->res.finish == OL_FINISH_ERROR) {
            printf("error: %s\n", j->res.err_msg);
            n_failed++;
        } else {
            printf("%s\n", j->text ? j->text : "");
        }
        n_prompt += j->res.n_prompt;
        n_gen += j->res.n_generated;
    }
    ol_engine_stats st;
    ol_engine_stats_get(e, &st);
    fprintf(stderr,
            "openlora: %d requests (%d failed), %ld prompt + %ld generated tokens in %.2f s: "
            "%.1f generated tok/s, %.1f total tok/s; %lld steps, %lld adapter loads, %lld "
            "prefix-cached tokens\n",
            n_jobs, n_failed, n_prompt, n_gen, secs, n_gen / (secs > 0 ? secs : 1e-9),
            (n_prompt + n_gen) / (secs > 0 ? secs : 1e-9), (long long)st.steps,
            (long long)st.adapter_loads, (long long)st.tokens_cached);
    rc = b.oom ? 1 : (n_failed ? 1 : 0);
done:
    ol_engine_destroy(e);
    for (int i = 0; i < n_jobs; i++) free(jobs[i].prompt), free(jobs[i].text);
    free(jobs);
    for (int i = 0; i < b.n_paths; i++) free(b.paths[i]), free(b.names[i]);
    free(b.paths);
    free(b.names);
    pthread_mutex_destroy(&b.mu);
    pthread_cond_destroy(&b.cv);
    free(text);
    return rc;
}
