/* cli/runtime.h: a single-sequence runtime for the CLI commands: model, CPU backend, KV pool
 * and forward context, plus chunked prefill and one-token decode. (The engine with continuous
 * batching replaces this for serving.) */
#ifndef OL_CLI_RUNTIME_H
#define OL_CLI_RUNTIME_H

#include "adapters/adapters.h"
#include "model/model.h"

#define CLI_MAX_ADAPTERS 8

typedef struct cli_rt {
    ol_model *model;
    ol_cpu *cpu;
    ol_kv_pool *kv;
    ol_model_ctx *ctx;
    int n_batch;
    int n_ctx; /* positions the KV pool holds for the one sequence */
    ol_kv_seq seq;
    float *logits; /* [n_vocab] of the last evaluated token */
    /* adapters applied to every evaluated token, with weights (owned) */
    int n_adapters;
    ol_adapter *adapters[CLI_MAX_ADAPTERS];
    float adapter_weights[CLI_MAX_ADAPTERS];
} cli_rt;

/* Load an adapter (PEFT directory or .gguf LoRA) for the loaded model and apply it with
 * weight w to every token evaluated from now on. Prints the error and returns -1. */
int cli_rt_add_adapter(cli_rt *rt, const char *path, float w);

/* Load everything; n_ctx positions of F16 KV. Prints the error and returns -1 on failure
 * (rt is then closed). Same as cli_rt_load then cli_rt_start. */
int cli_rt_open(cli_rt *rt, const char *model_path, int n_threads, int n_ctx, int n_batch);
/* The two halves of cli_rt_open, for callers that need the model (its hyper-parameters,
 * its GGUF for the tokenizer) before they know the context size. Each prints the error and
 * returns -1 on failure; the caller then still calls cli_rt_close. */
int cli_rt_load(cli_rt *rt, const char *model_path);
int cli_rt_start(cli_rt *rt, int n_threads, int n_ctx, int n_batch);
void cli_rt_close(cli_rt *rt);
/* Evaluate tokens at the end of the sequence (chunks of n_batch); logits of the last one land
 * in rt->logits. Returns 0 or -1 with a printed error. */
int cli_rt_eval(cli_rt *rt, const int32_t *tokens, int n);
/* Forget the sequence (keeps the pool). */
void cli_rt_reset(cli_rt *rt);

#endif
