/* model/model_internal.h: what the model's files share: the model struct, per-layer weights,
 * the architecture table each arch_*.c fills, and the shared attention/FFN building blocks. */
#ifndef OL_MODEL_INTERNAL_H
#define OL_MODEL_INTERNAL_H

#include "model.h"

#include "backend/cpu/ops.h"

typedef struct ol_layer_w {
    ol_tensor attn_norm, wq, wk, wv, wo;
    ol_tensor bq, bk, bv, bo; /* optional biases (data NULL when absent), f32 */
    ol_tensor q_norm, k_norm; /* Gemma 3 QK-norm, f32 [head_dim] */
    ol_tensor post_attn_norm; /* Gemma 3 */
    ol_tensor ffn_norm, w_gate, w_up, w_down;
    ol_tensor post_ffw_norm; /* Gemma 3 */
} ol_layer_w;

typedef struct ol_arch_ops {
    const char *name; /* general.architecture */
    ol_arch arch;
    /* fill the arch-specific hyper-parameters (common ones are already read) */
    int (*load_hparams)(const ol_gguf *g, ol_hparams *hp, ol_err *err);
    /* bind per-layer tensors of layer il */
    int (*bind_layer)(ol_model *m, int il, ol_layer_w *w, ol_err *err);
    /* one transformer block on ctx's residual stream */
    void (*layer)(ol_model_ctx *ctx, int il);
} ol_arch_ops;

extern const ol_arch_ops ol_arch_llama_ops, ol_arch_qwen2_ops, ol_arch_gemma3_ops;

struct ol_model {
    ol_gguf *gguf;
    ol_hparams hp;
    const ol_arch_ops *ops;
    ol_tensor tok_embd, output_norm, output, rope_freqs;
    ol_layer_w *layers;
    bool *swa; /* [n_layer] */
};

/* Scratch buffers for n_batch_max tokens; the residual stream is x. */
struct ol_model_ctx {
    const ol_model *m;
    ol_cpu *cpu;
    int n_batch_max;
    float *x;           /* [B][n_embd] residual */
    float *h;           /* [B][n_embd] normed input of a sub-block */
    float *y;           /* [B][n_embd] sub-block output */
    float *q;           /* [B][n_head*head_dim] */
    float *k;           /* [B][n_head_kv*head_dim] */
    float *v;           /* [B][n_head_kv*head_dim] */
    float *att;         /* [B][n_head*head_dim] */
    float *g;           /* [B][n_ff] */
    float *u;           /* [B][n_ff] */
    ol_attn_seq *aseqs; /* per batch sequence, during a forward */
    int32_t *seq_next;  /* per batch sequence: next expected position (validation) */
    ol_lora_seg *lseg;  /* scratch: kernel segments of one projection */
    int lseg_cap;
    /* the batch being run (valid during ol_model_forward) */
    const ol_batch *batch;
    ol_kv_pool *kv;
};

/* Bind a tensor by name and check its shape (ne1 = 0 means a 1-D tensor of ne0). Required
 * tensors missing → OL_EFORMAT naming the tensor. float_only: must be F32 (norms, biases). */
int ol_model_bind(ol_model *m, const char *name, int64_t ne0, int64_t ne1, bool required,
                  bool float_only, ol_tensor *out, ol_err *err);
int ol_model_bind_layer(ol_model *m, int il, const char *suffix, int64_t ne0, int64_t ne1,
                        bool required, bool float_only, ol_tensor *out, ol_err *err);

/* Shared building blocks, operating on ctx's buffers for the current batch:
 * attention sub-block: reads in [B][n_embd], writes out [B][n_embd] (= Wo · attn). */
void ol_model_attn(ol_model_ctx *ctx, int il, const float *in, float *out);
/* y (+)= W·x for projection p of layer il over the batch, then the batch's LoRA deltas. */
void ol_model_linear(ol_model_ctx *ctx, int il, ol_proj p, const ol_tensor *w, const float *x,
                     float *y, int64_t ld_out);
/* gated FFN: out = Wdown · (act(Wgate·in) ⊙ Wup·in); gelu = 0 → SiLU, 1 → GELU(tanh). */
void ol_model_ffn(ol_model_ctx *ctx, int il, const float *in, float *out, int gelu);

#endif
