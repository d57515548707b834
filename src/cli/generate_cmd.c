/* cli/generate_cmd.c: `openlora generate`: tokenize a prompt, prefill it, then sample and
 * stream text to stdout (valid UTF-8 only, stop strings honoured); timings on stderr. */
#include "cli.h"
#include "runtime.h"
#include "sampling/sampling.h"
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STOPS    4
#define DEFAULT_SEED 42

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: openlora generate [-m MODEL] -p PROMPT [options]\n"
        "       openlora generate [-m MODEL] --batch-file FILE [options]\n"
        "\n"
        "  -m, --model PATH        GGUF model (default: $OPENLORA_MODEL or the cached Gemma 3 "
        "270M)\n"
        "  -p, --prompt TEXT       the prompt (special tokens like <start_of_turn> are parsed)\n"
        "  -f, --file PATH         read the prompt from a file\n"
        "  --batch-file FILE       run many requests concurrently through the engine: JSON\n"
        "                          Lines {\"prompt\": ..., \"adapters\": [\"PATH[:W]\"...],\n"
        "                          \"max_tokens\": N, \"temperature\": T, \"seed\": S}; prints\n"
        "                          each result in order and the aggregate throughput\n"
        "  -n, --n-predict N       tokens to generate (default 128)\n"
        "  -c, --ctx-size N        context size in tokens (default: prompt + n); prompt + n\n"
        "                          must fit it, and it must fit the model's training context\n"
        "  -t, --threads N         worker threads (default: all online CPUs)\n"
        "  -b, --batch-size N      prompt tokens per forward pass (default 512)\n"
        "  --temp T                temperature, 0 = greedy (default 0.8)\n"
        "  --top-k K               keep the K most likely tokens, 0 = off (default 40)\n"
        "  --top-p P               nucleus sampling (default 0.95)\n"
        "  --min-p P               drop tokens below P x the top probability (default 0.05)\n"
        "  --repeat-penalty F      penalise the last --repeat-last-n tokens (default 1.0 = off)\n"
        "  --repeat-last-n N       window of the repeat penalty (default 64)\n"
        "  --presence-penalty F    OpenAI-style presence penalty (default 0)\n"
        "  --frequency-penalty F   OpenAI-style frequency penalty (default 0)\n"
        "  --seed S                random seed, 0 .. 2^64-2 (default 42, so runs repeat)\n"
        "  --stop TEXT             stop when TEXT is generated (up to 4)\n"
        "  --ignore-eos            keep generating past end-of-generation tokens\n"
        "  --no-display-prompt     print only the generated text (default)\n"
        "  --display-prompt        print the prompt before the generated text\n");
}

typedef struct {
    const char *model, *prompt, *prompt_file, *batch_file;
    long n_predict, n_ctx, threads, n_batch, repeat_last_n;
    ol_sampling_params sp;
    const char *stops[MAX_STOPS];
    int n_adapters;
    char adapter_paths[CLI_MAX_ADAPTERS][4096];
    float adapter_weights[CLI_MAX_ADAPTERS];
    int n_stops;
    bool ignore_eos, display_prompt;
} gen_opts;

static int parse(int argc, char **argv, gen_opts *o) {
    bool bad = false;
    double d;
    long l;
    uint64_t u;
    memset(o, 0, sizeof(*o));
    o->n_predict = 128;
    o->threads = ol_cpu_n_physical();
    o->n_batch = 512;
    ol_sampling_params_default(&o->sp);
    o->sp.seed = DEFAULT_SEED; /* the library defaults to a random seed; the CLI promises runs
                                * that repeat */
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--ignore-eos")) {
            o->ignore_eos = true;
        } else if (!strcmp(a, "--display-prompt")) {
            o->display_prompt = true;
        } else if (!strcmp(a, "--no-display-prompt")) {
            o->display_prompt = false;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-m", "--model", &bad))) {
            o->model = v;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-p", "--prompt", &bad))) {
            o->prompt = v;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-f", "--file", &bad))) {
            o->prompt_file = v;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--batch-file", &bad))) {
            o->batch_file = v;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-n", "--n-predict", &bad))) {
            bad = ol_cli_parse_int("--n-predict", v, 0, 1 << 20, &o->n_predict) != 0;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-c", "--ctx-size", &bad))) {
            bad = ol_cli_parse_int("--ctx-size", v, 1, 1 << 20, &o->n_ctx) != 0;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-t", "--threads", &bad))) {
            bad = ol_cli_parse_int("--threads", v, 1, 256, &o->threads) != 0;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-b", "--batch-size", &bad))) {
            bad = ol_cli_parse_int("--batch-size", v, 1, 8192, &o->n_batch) != 0;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--temp", &bad))) {
            bad = ol_cli_parse_float("--temp", v, 0, 100, &d) != 0;
            o->sp.temperature = (float)d;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--top-k", &bad))) {
            bad = ol_cli_parse_int("--top-k", v, 0, 1 << 24, &l) != 0;
            o->sp.top_k = (int32_t)l;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--top-p", &bad))) {
            bad = ol_cli_parse_float_gt("--top-p", v, 0, 1, &d) != 0;
            o->sp.top_p = (float)d;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--min-p", &bad))) {
            bad = ol_cli_parse_float("--min-p", v, 0, 1, &d) != 0;
            o->sp.min_p = (float)d;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--repeat-penalty", &bad))) {
            bad = ol_cli_parse_float_gt("--repeat-penalty", v, 0, 10, &d) != 0;
            o->sp.repeat_penalty = (float)d;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--repeat-last-n", &bad))) {
            bad = ol_cli_parse_int("--repeat-last-n", v, 0, 1 << 20, &l) != 0;
            o->sp.repeat_last_n = (int32_t)l;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--presence-penalty", &bad))) {
            bad = ol_cli_parse_float("--presence-penalty", v, -2, 2, &d) != 0;
            o->sp.presence_penalty = (float)d;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--frequency-penalty", &bad))) {
            bad = ol_cli_parse_float("--frequency-penalty", v, -2, 2, &d) != 0;
            o->sp.frequency_penalty = (float)d;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--seed", &bad))) {
            bad = ol_cli_parse_u64("--seed", v, &u) != 0;
            if (!bad && u == OL_SAMPLING_SEED_RANDOM) {
                fprintf(stderr, "openlora: --seed: %s is reserved; use 0 .. 2^64-2\n", v);
                bad = true;
            }
            o->sp.seed = u;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-a", "--adapter", &bad))) {
            if (o->n_adapters == CLI_MAX_ADAPTERS) {
                fprintf(stderr, "openlora: --adapter: at most %d adapters\n", CLI_MAX_ADAPTERS);
                bad = true;
            } else if (ol_cli_parse_adapter_arg(v, o->adapter_paths[o->n_adapters],
                                                sizeof(o->adapter_paths[0]),
                                                &o->adapter_weights[o->n_adapters])) {
                bad = true;
            } else {
                o->n_adapters++;
            }
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--stop", &bad))) {
            if (o->n_stops == MAX_STOPS || !*v || strlen(v) > 256) {
                fprintf(stderr, "openlora: --stop: at most %d non-empty strings of <= 256 bytes\n",
                        MAX_STOPS);
                bad = true;
            } else {
                o->stops[o->n_stops++] = v;
            }
        } else if (!bad) {
            fprintf(stderr, "openlora: generate: unknown option '%s' (see --help)\n", a);
            bad = true;
        }
    }
    if (bad) return -1;
    if ((o->prompt != NULL) + (o->prompt_file != NULL) + (o->batch_file != NULL) != 1) {
        fprintf(stderr, "openlora: generate: give exactly one of -p PROMPT, -f FILE or "
                        "--batch-file FILE\n");
        return -1;
    }
    if (o->batch_file && o->n_adapters) {
        fprintf(stderr, "openlora: generate: with --batch-file, adapters go in the file\n");
        return -1;
    }
    ol_err err;
    if (ol_sampling_params_validate(&o->sp, &err)) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void emit(const char *s, size_t n) {
    fwrite(s, 1, n, stdout);
    fflush(stdout);
}

int ol_cli_generate(int argc, char **argv) {
    gen_opts o;
    int prc = parse(argc, argv, &o);
    if (prc) return prc > 0 ? 0 : 2;
    char path[4096];
    if (ol_cli_model_path(o.model, path, sizeof(path))) return 1;
    if (o.batch_file)
        return ol_cli_generate_batch(path, o.batch_file, (int)o.threads,
                                     o.n_predict > 0 ? o.n_predict : 1, &o.sp, o.stops, o.n_stops,
                                     o.ignore_eos);
    char *file_text = NULL;
    size_t prompt_len;
    ol_err err;
    if (o.prompt_file) {
        file_text = ol_read_file(o.prompt_file, &prompt_len, &err);
        if (!file_text) {
            fprintf(stderr, "openlora: %s\n", err.msg);
            return 1;
        }
        o.prompt = file_text;
    } else {
        prompt_len = strlen(o.prompt);
    }
    int rc = 1;
    cli_rt rt = {0};
    ol_tokenizer *tok = NULL;
    ol_sampler *smp = NULL;
    ol_stop_matcher stop;
    bool stop_init = false;
    int32_t *ids = NULL;
    int n_ids = 0;
    ol_detok dt;
    bool dt_init = false;
    char *piece = NULL;

    /* Load the model first, so a file the engine cannot run is reported by the model loader
     * (naming the key or tensor), then build the tokenizer from the GGUF the model holds. The
     * context size depends on the prompt's length, so the KV pool comes after tokenizing. */
    if (cli_rt_load(&rt, path)) goto done;
    for (int i = 0; i < o.n_adapters; i++)
        if (cli_rt_add_adapter(&rt, o.adapter_paths[i], o.adapter_weights[i])) goto done;
    const ol_hparams *hp = ol_model_hparams(rt.model);
    tok = ol_tokenizer_create(ol_model_gguf(rt.model), &err);
    if (!tok) {
        fprintf(stderr, "openlora: %s: %s\n", path, err.msg);
        goto done;
    }
    if (ol_tokenizer_n_vocab(tok) > hp->n_vocab) {
        fprintf(stderr, "openlora: %s: tokenizer has %d tokens but the model only %d\n", path,
                ol_tokenizer_n_vocab(tok), hp->n_vocab);
        goto done;
    }
    if (ol_tokenizer_encode(tok, o.prompt, prompt_len, true, true, &ids, &n_ids, &err)) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        goto done;
    }
    if (n_ids == 0) {
        fprintf(stderr, "openlora: the prompt encodes to no tokens\n");
        goto done;
    }
    long n_ctx = o.n_ctx ? o.n_ctx : n_ids + o.n_predict;
    if (n_ids > n_ctx) {
        fprintf(stderr, "openlora: the prompt is %d tokens, longer than --ctx-size %ld\n", n_ids,
                n_ctx);
        goto done;
    }
    if (n_ids + o.n_predict > n_ctx) {
        fprintf(stderr,
                "openlora: the prompt (%d tokens) + --n-predict (%ld) exceed --ctx-size %ld\n",
                n_ids, o.n_predict, n_ctx);
        goto done;
    }
    if (n_ctx > hp->n_ctx_train) {
        fprintf(stderr, "openlora: a context of %ld tokens exceeds the model's %d\n", n_ctx,
                hp->n_ctx_train);
        goto done;
    }
    if (cli_rt_start(&rt, (int)o.threads, (int)n_ctx, (int)o.n_batch)) goto done;
    smp = ol_sampler_create(&o.sp, hp->n_vocab, &err);
    if (!smp) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        goto done;
    }
    if (ol_stop_matcher_init(&stop, o.stops, o.n_stops, &err)) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        goto done;
    }
    stop_init = true;
    for (int i = 0; i < n_ids; i++) ol_sampler_accept(smp, ids[i]);
    if (o.display_prompt) emit(o.prompt, prompt_len);

    uint64_t t0 = ol_time_ns();
    if (cli_rt_eval(&rt, ids, n_ids)) goto done;
    uint64_t t1 = ol_time_ns();
    ol_detok_init(&dt, tok, false);
    dt_init = true;
    /* one token's text, sized by the vocabulary's longest piece (a fixed buffer would drop
     * the text of a model with long tokens) */
    size_t piece_cap = OL_DETOK_CAP(tok);
    piece = malloc(piece_cap);
    if (!piece) {
        fprintf(stderr, "openlora: out of memory\n");
        goto done;
    }
    const char *out;
    size_t n_out;
    long n_gen = 0;
    int stopped = 0;
    /* a write error (reported by main) ends the generation: nobody reads the rest */
    while (n_gen < o.n_predict && !stopped && !ferror(stdout)) {
        int32_t id = ol_sampler_sample(smp, rt.logits);
        ol_sampler_accept(smp, id);
        n_gen++;
        if (!o.ignore_eos && ol_tokenizer_is_eog(tok, id)) break;
        int n = ol_detok_push(&dt, id, piece, piece_cap);
        if (n < 0) {
            fprintf(stderr, "openlora: cannot detokenize token %d: %s\n", (int)id, ol_strerror(n));
            goto done;
        }
        if (n > 0) {
            stopped = ol_stop_matcher_feed(&stop, piece, (size_t)n, &out, &n_out);
            if (stopped < 0) {
                fprintf(stderr, "openlora: out of memory\n");
                goto done;
            }
            emit(out, n_out);
        }
        if (stopped || n_gen == o.n_predict) break;
        if (cli_rt_eval(&rt, &id, 1)) goto done;
    }
    if (!stopped) {
        int n = ol_detok_flush(&dt, piece, piece_cap);
        if (n > 0) {
            stopped = ol_stop_matcher_feed(&stop, piece, (size_t)n, &out, &n_out);
            if (stopped < 0) {
                fprintf(stderr, "openlora: out of memory\n");
                goto done;
            }
            emit(out, n_out);
        }
        if (!stopped) {
            ol_stop_matcher_flush(&stop, &out, &n_out);
            emit(out, n_out);
        }
    }
    emit("\n", 1);
    uint64_t t2 = ol_time_ns();
    /* The first generated token comes from the prefill's logits and the last one is never
     * evaluated, so generation ran n_gen - 1 forward passes; with none, the rate is 0, not
     * one sampling step's absurd 5000 tok/s. */
    double pp_s = (double)(t1 - t0) / 1e9, tg_s = (double)(t2 - t1) / 1e9;
    long n_decode = n_gen > 1 ? n_gen - 1 : 0;
    fprintf(stderr,
            "openlora: prompt %d tokens in %.3f s (%.2f tok/s); generated %ld tokens in %.3f s "
            "(%.2f tok/s)\n",
            n_ids, pp_s, n_ids / (pp_s > 0 ? pp_s : 1e-9), n_gen, tg_s,
            n_decode / (tg_s > 0 ? tg_s : 1e-9));
    rc = 0;
done:
    free(piece);
    if (dt_init) ol_detok_deinit(&dt);
    if (stop_init) ol_stop_matcher_deinit(&stop);
    ol_sampler_destroy(smp);
    free(ids);
    cli_rt_close(&rt);
    ol_tokenizer_destroy(tok);
    free(file_text);
    return rc;
}
