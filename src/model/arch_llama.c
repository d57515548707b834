/* model/arch_llama.c: the Llama family — Llama 2/3.x, Mistral and SmolLM (GGUF arch "llama",
 * RoPE on adjacent pairs over the converter's permuted q/k rows) and Qwen2 (arch "qwen2":
 * q/k/v biases, NEOX RoPE). Block: x += Wo·Attn(RMSNorm(x)); x += FFN_SwiGLU(RMSNorm(x)). */
#include "model_internal.h"

static int llama_hparams(const ol_gguf *g, ol_hparams *hp, ol_err *err) {
    (void)g, (void)err;
    hp->rope_neox = false;
    if (hp->n_rot != hp->head_dim)
        return ol_err_set(err, OL_EFORMAT,
                          "model: llama needs rope.dimension_count (%d) == head size (%d)",
                          hp->n_rot, hp->head_dim);
    return 0;
}

static int qwen2_hparams(const ol_gguf *g, ol_hparams *hp, ol_err *err) {
    (void)g, (void)err;
    hp->rope_neox = true;
    return 0;
}

static int bind_layer(ol_model *m, int il, ol_layer_w *w, ol_err *err) {
    const ol_hparams *hp = &m->hp;
    const int64_t d = hp->n_embd, qd = (int64_t)hp->n_head * hp->head_dim,
                  kvd = (int64_t)hp->n_head_kv * hp->head_dim, f = hp->n_ff;
    int rc;
    if ((rc = ol_model_bind_layer(m, il, "attn_norm.weight", d, 0, true, true, &w->attn_norm,
                                  err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_q.weight", d, qd, true, false, &w->wq, err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_k.weight", d, kvd, true, false, &w->wk, err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_v.weight", d, kvd, true, false, &w->wv, err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_output.weight", qd, d, true, false, &w->wo, err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_q.bias", qd, 0, false, true, &w->bq, err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_k.bias", kvd, 0, false, true, &w->bk, err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_v.bias", kvd, 0, false, true, &w->bv, err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_output.bias", d, 0, false, true, &w->bo, err)) ||
        (rc = ol_model_bind_layer(m, il, "ffn_norm.weight", d, 0, true, true, &w->ffn_norm, err)) ||
        (rc = ol_model_bind_layer(m, il, "ffn_gate.weight", d, f, true, false, &w->w_gate, err)) ||
        (rc = ol_model_bind_layer(m, il, "ffn_up.weight", d, f, true, false, &w->w_up, err)) ||
        (rc = ol_model_bind_layer(m, il, "ffn_down.weight", f, d, true, false, &w->w_down, err)))
        return rc;
    return 0;
}

static void layer(ol_model_ctx *ctx, int il) {
    const ol_hparams *hp = &ctx->m->hp;
    const ol_layer_w *w = &ctx->m->layers[il];
    const int T = ctx->batch->n_tokens, d = hp->n_embd;
    ol_cpu_rmsnorm(ctx->h, ctx->x, w->attn_norm.data, d, T, d, hp->rms_eps);
    ol_model_attn(ctx, il, ctx->h, ctx->y);
    ol_cpu_add(ctx->x, ctx->y, (int64_t)T * d);
    ol_cpu_rmsnorm(ctx->h, ctx->x, w->ffn_norm.data, d, T, d, hp->rms_eps);
    ol_model_ffn(ctx, il, ctx->h, ctx->y, 0);
    ol_cpu_add(ctx->x, ctx->y, (int64_t)T * d);
}

const ol_arch_ops ol_arch_llama_ops = {"llama", OL_ARCH_LLAMA, llama_hparams, bind_layer, layer};
const ol_arch_ops ol_arch_qwen2_ops = {"qwen2", OL_ARCH_QWEN2, qwen2_hparams, bind_layer, layer};
