/* cli/bench_cmd.c: `openlora bench`: prompt processing (one prefill of --pp tokens) and
 * generation (--tg single-token decodes from an empty context) on a model, best of --reps,
 * with the weight bytes read per generated token, as text or one JSON line (bench/decode).
 * --adapter applies LoRA adapters to every token (bench/decode --lora). */
#include "cli.h"
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(
        f, "usage: openlora bench [-m MODEL] [--pp N] [--tg N] [-t THREADS] [--reps R]\n"
           "                      [--adapter PATH[:WEIGHT]]... [--json]\n"
           "\n"
           "  -m, --model PATH   GGUF model (default: $OPENLORA_MODEL or the cached Gemma 3 270M)\n"
           "  --pp N             prompt tokens processed in one batch (default 512, 0 = skip)\n"
           "  --tg N             tokens generated one at a time (default 128, 0 = skip)\n"
           "  -t, --threads N    worker threads (default: all online CPUs)\n"
           "  --reps R           repetitions, best is reported (default 3)\n"
           "  -a, --adapter P[:W] apply a LoRA adapter (PEFT directory or .gguf) with weight W\n"
           "                     (default 1) to every token; repeatable\n"
           "  --json             print one JSON line instead of text\n");
}

int ol_cli_bench(int argc, char **argv) {
    const char *model_arg = NULL;
    long pp = 512, tg = 128, threads = ol_cpu_n_physical(), reps = 3;
    bool json = false, bad = false;
    int n_adapters = 0;
    static char adapter_paths[CLI_MAX_ADAPTERS][4096];
    float adapter_weights[CLI_MAX_ADAPTERS];
    for (int i = 1; i < argc && !bad; i++) {
        const char *v;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-m", "--model", &bad))) {
            model_arg = v;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--pp", &bad))) {
            bad = ol_cli_parse_int("--pp", v, 0, 8192, &pp) != 0;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--tg", &bad))) {
            bad = ol_cli_parse_int("--tg", v, 0, 8192, &tg) != 0;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-t", "--threads", &bad))) {
            bad = ol_cli_parse_int("--threads", v, 1, 256, &threads) != 0;
        } else if ((v = ol_cli_opt(argc, argv, &i, NULL, "--reps", &bad))) {
            bad = ol_cli_parse_int("--reps", v, 1, 100, &reps) != 0;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-a", "--adapter", &bad))) {
            if (n_adapters == CLI_MAX_ADAPTERS) {
                fprintf(stderr, "openlora: --adapter: at most %d adapters\n", CLI_MAX_ADAPTERS);
                bad = true;
            } else if (ol_cli_parse_adapter_arg(v, adapter_paths[n_adapters],
                                                sizeof(adapter_paths[0]),
                                                &adapter_weights[n_adapters])) {
                bad = true;
            } else {
                n_adapters++;
            }
        } else if (!bad) {
            fprintf(stderr, "openlora: bench: unknown option '%s'\n", argv[i]);
            bad = true;
        }
    }
    if (bad) return 2;
    char path[4096];
    if (ol_cli_model_path(model_arg, path, sizeof(path))) return 1;
    cli_rt rt;
    int n_ctx = (int)(pp > tg ? pp : tg) + 16;
    if (cli_rt_open(&rt, path, (int)threads, n_ctx, pp > 0 ? (int)pp : 1)) return 1;
    for (int i = 0; i < n_adapters; i++)
        if (cli_rt_add_adapter(&rt, adapter_paths[i], adapter_weights[i])) {
            cli_rt_close(&rt);
            return 1;
        }
    const ol_hparams *hp = ol_model_hparams(rt.model);
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)(pp > 0 ? pp : 1));
    if (!toks) {
        fprintf(stderr, "openlora: out of memory\n");
        cli_rt_close(&rt);
        return 1;
    }
    uint64_t rng = 42;
    for (long i = 0; i < pp; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((rng >> 33) % (uint64_t)hp->n_vocab);
    }
    double best_pp = 0, best_tg = 0;
    int rc = 0;
    /* warm-up: touch the weights once */
    int32_t t0 = 1 % hp->n_vocab;
    if (cli_rt_eval(&rt, &t0, 1)) rc = 1;
    cli_rt_reset(&rt);
    for (long r = 0; r < reps && !rc; r++) {
        if (pp > 0) {
            uint64_t a = ol_time_ns();
            if (cli_rt_eval(&rt, toks, (int)pp)) rc = 1;
            double s = (double)(ol_time_ns() - a) / 1e9;
            if ((double)pp / s > best_pp) best_pp = (double)pp / s;
            cli_rt_reset(&rt);
        }
        if (tg > 0 && !rc) {
            int32_t tok = t0;
            uint64_t a = ol_time_ns();
            for (long i = 0; i < tg && !rc; i++) {
                if (cli_rt_eval(&rt, &tok, 1)) rc = 1;
                int bi = 0;
                for (int j = 1; j < hp->n_vocab; j++)
                    if (rt.logits[j] > rt.logits[bi]) bi = j;
                tok = bi;
            }
            double s = (double)(ol_time_ns() - a) / 1e9;
            if ((double)tg / s > best_tg) best_tg = (double)tg / s;
            cli_rt_reset(&rt);
        }
    }
    size_t wb = ol_model_weight_bytes_per_token(rt.model);
    if (!rc) {
        if (json)
            printf("{\"model\":\"%s\",\"threads\":%ld,\"pp_tokens\":%ld,\"pp_tok_s\":%.3f,"
                   "\"tg_tokens\":%ld,\"tg_tok_s\":%.3f,\"weight_bytes_per_token\":%zu,"
                   "\"adapters\":%d}\n",
                   hp->arch_name, threads, pp, best_pp, tg, best_tg, wb, n_adapters);
        else
            printf("model %s (%s), %ld threads, best of %ld\n"
                   "  pp%-5ld %10.2f tok/s\n  tg%-5ld %10.2f tok/s  (%.1f GB/s of weights)\n",
                   path, hp->arch_name, threads, reps, pp, best_pp, tg, best_tg,
                   best_tg * (double)wb / 1e9);
    }
    free(toks);
    cli_rt_close(&rt);
    return rc;
}
