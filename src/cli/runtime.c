/* cli/runtime.c: single-sequence runtime used by generate and bench. */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_rt_load(cli_rt *rt, const char *model_path) {
    ol_err err = {0};
    memset(rt, 0, sizeof(*rt));
    ol_kv_seq_init(&rt->seq);
    rt->model = ol_model_load(model_path, &err);
    if (!rt->model) {
        fprintf(stderr, "openlora: %s\n", err.msg[0] ? err.msg : "cannot load the model");
        return -1;
    }
    return 0;
}

int cli_rt_start(cli_rt *rt, int n_threads, int n_ctx, int n_batch) {
    ol_err err = {0};
    const ol_hparams *hp = ol_model_hparams(rt->model);
    rt->cpu = ol_cpu_create(n_threads, OL_CPU_TIER_COUNT, &err);
    if (!rt->cpu) goto fail;
    ol_kv_config kc = {.n_layer = hp->n_layer,
                       .kv_dim = hp->n_head_kv * hp->head_dim,
                       .block_size = OL_KV_BLOCK_SIZE_DEFAULT,
                       .dtype = OL_DTYPE_F16};
    size_t blocks = (size_t)(n_ctx + kc.block_size - 1) / (size_t)kc.block_size;
    rt->kv = ol_model_kv_pool_create(rt->model, OL_DTYPE_F16, blocks * ol_kv_block_bytes(&kc),
                                     kc.block_size, &err);
    if (!rt->kv) goto fail;
    rt->n_ctx = n_ctx;
    rt->n_batch = n_batch;
    rt->ctx = ol_model_ctx_create(rt->model, rt->cpu, n_batch, &err);
    if (!rt->ctx) goto fail;
    rt->logits = malloc(sizeof(float) * (size_t)hp->n_vocab);
    if (!rt->logits) {
        ol_err_set(&err, OL_ENOMEM, "out of memory");
        goto fail;
    }
    return 0;
fail:
    fprintf(stderr, "openlora: %s\n", err.msg[0] ? err.msg : "cannot start");
    return -1;
}

int cli_rt_open(cli_rt *rt, const char *model_path, int n_threads, int n_ctx, int n_batch) {
    if (cli_rt_load(rt, model_path) || cli_rt_start(rt, n_threads, n_ctx, n_batch)) {
        cli_rt_close(rt);
        return -1;
    }
    return 0;
}

void cli_rt_close(cli_rt *rt) {
    if (rt->kv) ol_kv_seq_release(rt->kv, &rt->seq);
    ol_model_ctx_destroy(rt->ctx);
    ol_kv_pool_destroy(rt->kv);
    ol_cpu_destroy(rt->cpu);
    for (int i = 0; i < rt->n_adapters; i++) ol_adapter_destroy(rt->adapters[i]);
    ol_model_destroy(rt->model);
    free(rt->logits);
    memset(rt, 0, sizeof(*rt));
}

int cli_rt_add_adapter(cli_rt *rt, const char *path, float w) {
    ol_err err = {0};
    if (rt->n_adapters == CLI_MAX_ADAPTERS) {
        fprintf(stderr, "openlora: at most %d adapters\n", CLI_MAX_ADAPTERS);
        return -1;
    }
    ol_adapter *a = ol_adapter_load(path, rt->model, &err);
    if (!a) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        return -1;
    }
    rt->adapters[rt->n_adapters] = a;
    rt->adapter_weights[rt->n_adapters++] = w;
    return 0;
}

void cli_rt_reset(cli_rt *rt) {
    ol_kv_seq_release(rt->kv, &rt->seq);
}

int cli_rt_eval(cli_rt *rt, const int32_t *tokens, int n) {
    ol_err err = {0};
    if (n < 1) return 0;
    if (rt->seq.n_tokens + n > rt->n_ctx) {
        fprintf(stderr, "openlora: context full: %d + %d tokens exceed the context of %d\n",
                rt->seq.n_tokens, n, rt->n_ctx);
        return -1;
    }
    int rc = ol_kv_seq_reserve(rt->kv, &rt->seq, rt->seq.n_tokens + n);
    if (rc) {
        fprintf(stderr, "openlora: cannot reserve KV cache: %s\n", ol_strerror(rc));
        return -1;
    }
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)rt->n_batch);
    int32_t *sid = calloc((size_t)rt->n_batch, sizeof(int32_t));
    if (!pos || !sid) {
        free(pos), free(sid);
        fprintf(stderr, "openlora: out of memory\n");
        return -1;
    }
    ol_kv_seq *seqs[1] = {&rt->seq};
    for (int done = 0; done < n && rc == 0;) {
        int c = n - done < rt->n_batch ? n - done : rt->n_batch;
        for (int i = 0; i < c; i++) pos[i] = rt->seq.n_tokens + i;
        ol_batch_lora bl[CLI_MAX_ADAPTERS];
        for (int i = 0; i < rt->n_adapters; i++)
            bl[i] =
                (ol_batch_lora){0, c, ol_adapter_weights(rt->adapters[i]), rt->adapter_weights[i]};
        ol_batch b = {.n_tokens = c,
                      .tokens = tokens + done,
                      .pos = pos,
                      .seq = sid,
                      .logits = NULL,
                      .n_seqs = 1,
                      .seqs = seqs,
                      .n_lora = rt->n_adapters,
                      .lora = bl};
        rc = ol_model_forward(rt->ctx, rt->kv, &b, rt->logits, &err);
        done += c;
    }
    free(pos);
    free(sid);
    if (rc) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        return -1;
    }
    return 0;
}
