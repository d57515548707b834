/* model/arch_gemma3.c: Gemma 3 text. Embeddings × sqrt(n_embd); per-head QK-norm before NEOX
 * RoPE; four norms per layer (GGUF norm weights already hold 1+w); GeGLU with tanh GELU on the
 * gate; sliding-window layers (il % P < P-1) with their own RoPE base; Q scaled by
 * 1/sqrt(head_dim) (1/sqrt(n_embd/n_head) for the 62-layer 27B), as llama.cpp does. */
#include "model_internal.h"

#include <math.h>

static int gemma3_hparams(const ol_gguf *g, ol_hparams *hp, ol_err *err) {
    uint32_t v;
    int rc;
    hp->rope_neox = true;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    hp->attn_scale = hp->n_layer == 62 ? 1.0f / sqrtf((float)hp->n_embd / (float)hp->n_head)
                                       : 1.0f / sqrtf((float)hp->head_dim);
    hp->n_swa = 0;
    if ((rc = ol_gguf_get_u32(g, "gemma3.attention.sliding_window", &v, err)) == 0)
        hp->n_swa = (int)v;
    else if (rc != OL_ENOENT)
        return rc;
    hp->swa_pattern = 6;
    const ol_gguf_kv *kv = ol_gguf_find(g, "gemma3.attention.sliding_window_pattern");
    if (kv && kv->type != OL_GGUF_TYPE_ARRAY) { /* an array value is ignored, as llama.cpp does */
        if ((rc = ol_gguf_get_u32(g, "gemma3.attention.sliding_window_pattern", &v, err)))
            return rc;
        if (v < 1 || v > OL_MAX_LAYERS)
            return ol_err_set(err, OL_EFORMAT, "model: sliding_window_pattern %u invalid", v);
        hp->swa_pattern = (int)v;
    }
    hp->rope_base_swa = 10000.0f;
    float f;
    if ((rc = ol_gguf_get_f32(g, "gemma3.rope.freq_base_swa", &f, err)) == 0) {
        if (!(f > 0) || !isfinite(f))
            return ol_err_set(err, OL_EFORMAT, "model: gemma3.rope.freq_base_swa invalid");
        hp->rope_base_swa = f;
    } else if (rc != OL_ENOENT) {
        return rc;
    }
    hp->final_softcap = 0;
    if ((rc = ol_gguf_get_f32(g, "gemma3.final_logit_softcapping", &f, err)) == 0) {
        if (!(f >= 0) || !isfinite(f))
            return ol_err_set(err, OL_EFORMAT, "model: gemma3.final_logit_softcapping invalid");
        hp->final_softcap = f;
    } else if (rc != OL_ENOENT) {
        return rc;
    }
    ol_err_clear(err);
    return 0;
}

static int bind_layer(ol_model *m, int il, ol_layer_w *w, ol_err *err) {
    const ol_hparams *hp = &m->hp;
    const int64_t d = hp->n_embd, D = hp->head_dim, qd = (int64_t)hp->n_head * D,
                  kvd = (int64_t)hp->n_head_kv * D, f = hp->n_ff;
    int rc;
    if ((rc = ol_model_bind_layer(m, il, "attn_norm.weight", d, 0, true, true, &w->attn_norm,
                                  err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_q.weight", d, qd, true, false, &w->wq, err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_k.weight", d, kvd, true, false, &w->wk, err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_v.weight", d, kvd, true, false, &w->wv, err)) ||
        (rc = ol_model_bind_layer(m, il, "attn_output.weight", qd, d, true, false, &w->wo, err)) ||
        (rc =
             ol_model_bind_layer(m, il, "attn_q_norm.weight", D, 0, true, true, &w->q_norm, err)) ||
        (rc =
             ol_model_bind_layer(m, il, "attn_k_norm.weight", D, 0, true, true, &w->k_norm, err)) ||
        (rc = ol_model_bind_layer(m, il, "post_attention_norm.weight", d, 0, true, true,
                                  &w->post_attn_norm, err)) ||
        (rc = ol_model_bind_layer(m, il, "ffn_norm.weight", d, 0, true, true, &w->ffn_norm, err)) ||
        (rc = ol_model_bind_layer(m, il, "ffn_gate.weight", d, f, true, false, &w->w_gate, err)) ||
        (rc = ol_model_bind_layer(m, il, "ffn_up.weight", d, f, true, false, &w->w_up, err)) ||
        (rc = ol_model_bind_layer(m, il, "ffn_down.weight", f, d, true, false, &w->w_down, err)) ||
        (rc = ol_model_bind_layer(m, il, "post_ffw_norm.weight", d, 0, true, true,
                                  &w->post_ffw_norm, err)))
        return rc;
    return 0;
}

static void layer(ol_model_ctx *ctx, int il) {
    const ol_hparams *hp = &ctx->m->hp;
    const ol_layer_w *w = &ctx->m->layers[il];
    const int T = ctx->batch->n_tokens, d = hp->n_embd;
    ol_cpu_rmsnorm(ctx->h, ctx->x, w->attn_norm.data, d, T, d, hp->rms_eps);
    ol_model_attn(ctx, il, ctx->h, ctx->y);
    ol_cpu_rmsnorm(ctx->y, ctx->y, w->post_attn_norm.data, d, T, d, hp->rms_eps);
    ol_cpu_add(ctx->x, ctx->y, (int64_t)T * d);
    ol_cpu_rmsnorm(ctx->h, ctx->x, w->ffn_norm.data, d, T, d, hp->rms_eps);
    ol_model_ffn(ctx, il, ctx->h, ctx->y, 1);
    ol_cpu_rmsnorm(ctx->y, ctx->y, w->post_ffw_norm.data, d, T, d, hp->rms_eps);
    ol_cpu_add(ctx->x, ctx->y, (int64_t)T * d);
}

const ol_arch_ops ol_arch_gemma3_ops = {"gemma3", OL_ARCH_GEMMA3, gemma3_hparams, bind_layer,
                                        layer};
