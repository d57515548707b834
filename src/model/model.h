/* model: architectures (Llama family incl. Qwen2/Mistral/SmolLM, and Gemma 3), their
 * hyper-parameters read from GGUF metadata, weights bound to the mmap'ed tensors, and
 * forward(batch): one call runs a ragged batch of several sequences — prefill chunks and single
 * decode tokens mixed — over the paged KV cache and returns logits where asked. */
#ifndef OL_MODEL_H
#define OL_MODEL_H

#include "backend/cpu/cpu.h"
#include "format/gguf.h"
#include "kv/kv.h"

#include <stdbool.h>

typedef enum ol_arch { OL_ARCH_LLAMA, OL_ARCH_QWEN2, OL_ARCH_GEMMA3, OL_ARCH_COUNT } ol_arch;

#define OL_MAX_LAYERS 512

typedef struct ol_hparams {
    ol_arch arch;
    char arch_name[32];
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    int n_rot;
    bool rope_neox;        /* rotate (i, i+n_rot/2) instead of (2i, 2i+1) */
    float rope_base;       /* global layers */
    float rope_freq_scale; /* global layers (1/linear factor) */
    float rope_base_swa;   /* sliding-window layers (Gemma 3) */
    float rms_eps;
    float attn_scale;    /* multiplies q·k */
    float embd_scale;    /* multiplies token embeddings (Gemma: sqrt(n_embd)); 1 otherwise */
    float final_softcap; /* 0 = off */
    int n_swa;           /* sliding window (tokens); 0 = none */
    int swa_pattern;     /* layer il slides iff il % P < P-1 (Gemma 3), when n_swa > 0 */
} ol_hparams;

typedef struct ol_model ol_model;

/* Open a GGUF model and bind its weights; the file stays mapped until destroy. Every tensor's
 * presence, dtype and shape is checked against the hyper-parameters. */
ol_model *ol_model_load(const char *path, ol_err *err);
void ol_model_destroy(ol_model *m);
const ol_hparams *ol_model_hparams(const ol_model *m);
const ol_gguf *ol_model_gguf(const ol_model *m); /* borrowed until destroy (tokenizer, inspect) */
bool ol_model_layer_is_swa(const ol_model *m, int il);
/* Bytes of weights read to generate one token (all layers + output head). */
size_t ol_model_weight_bytes_per_token(const ol_model *m);
const char *ol_arch_name(ol_arch a);

/* A KV pool shaped for this model (dtype F16 or F32, budget in bytes). */
ol_kv_pool *ol_model_kv_pool_create(const ol_model *m, ol_dtype dtype, size_t budget_bytes,
                                    int block_size, ol_err *err);

/* The linear projections of a transformer block that LoRA adapters may target. */
typedef enum ol_proj {
    OL_PROJ_Q,
    OL_PROJ_K,
    OL_PROJ_V,
    OL_PROJ_O,
    OL_PROJ_GATE,
    OL_PROJ_UP,
    OL_PROJ_DOWN,
    OL_PROJ_COUNT
} ol_proj;
const char *ol_proj_name(ol_proj p); /* PEFT module name: "q_proj", ..., "down_proj" */
/* Input and output widths of projection p of this model. */
void ol_model_proj_shape(const ol_model *m, ol_proj p, int64_t *n_in, int64_t *n_out);

/* LoRA weights of one adapter in compute layout, as the forward pass consumes them (the
 * adapters module builds them). mats[il * OL_PROJ_COUNT + p] with r = 0 when absent. */
typedef struct ol_lora_mat {
    int32_t r;
    const float *a;  /* [r][n_in] */
    const float *bt; /* [r][n_out], B transposed with the module's scale folded in */
} ol_lora_mat;
typedef struct ol_lora_weights {
    int n_layer;
    const ol_lora_mat *mats;
} ol_lora_weights;

/* Tokens [t0, t0 + n) of the batch use adapter w with weight `weight` (a mix of adapters is
 * several entries over the same tokens). */
typedef struct ol_batch_lora {
    int32_t t0, n;
    const ol_lora_weights *w;
    float weight;
} ol_batch_lora;

/* The batch of one forward call. Token i belongs to sequence seq[i] (an index into seqs) at
 * position pos[i]; the tokens of a sequence appear in increasing position order, and its KV
 * for positions below its first position in the batch must already be in the cache. The
 * caller reserves KV blocks (ol_kv_seq_reserve) for every position before the call; forward
 * stores K/V and then sets seqs[s]->n_tokens to (last position + 1). Logits are written for
 * the tokens with logits[i] != 0, in batch order, as rows of n_vocab floats. */
typedef struct ol_batch {
    int n_tokens;
    const int32_t *tokens;
    const int32_t *pos;
    const int32_t *seq;
    const int8_t *logits; /* NULL = only the last token of each sequence */
    int n_seqs;
    ol_kv_seq *const *seqs;
    int n_lora; /* LoRA segments (0: base model only) */
    const ol_batch_lora *lora;
} ol_batch;

/* Per-engine forward state: the backend and scratch for up to n_batch_max tokens. Owned by
 * one thread. */
typedef struct ol_model_ctx ol_model_ctx;
ol_model_ctx *ol_model_ctx_create(const ol_model *m, ol_cpu *cpu, int n_batch_max, ol_err *err);
void ol_model_ctx_destroy(ol_model_ctx *ctx);
/* Run one batch. out_logits: [n_out][n_vocab] where n_out = number of tokens asking for
 * logits (the caller sizes it). Returns 0, OL_EINVAL (bad batch: the message says why),
 * OL_ENOMEM. */
int ol_model_forward(ol_model_ctx *ctx, ol_kv_pool *kv, const ol_batch *batch, float *out_logits,
                     ol_err *err);

#endif
