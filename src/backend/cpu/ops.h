/* backend/cpu/ops.h: the non-matmul CPU kernels of a forward pass: RMSNorm, RoPE, gated
 * activations, residual add, KV row stores and paged attention with online softmax. Part of
 * the backend/cpu public interface (included by cpu.h). Rows are f32 unless stated. */
#ifndef OL_CPU_OPS_H
#define OL_CPU_OPS_H

#include "base/base.h"
#include "tensor/tensor.h"

typedef struct ol_cpu ol_cpu;

/* y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w, for n_rows rows of n (row stride ld for x and
 * y; y may equal x). w may be NULL (no weight). Sum of squares in double, as ggml does. */
void ol_cpu_rmsnorm(float *y, const float *x, const float *w, int64_t n, int64_t n_rows, int64_t ld,
                    float eps);

/* Rotary embedding in place on x: [n_tok][n_heads][head_dim] (row stride ld per token). The
 * first n_rot dims of each head rotate; angle for pair i = pos * freq_scale * base^(-2i/n_rot)
 * / factors[i] (factors may be NULL), built by repeated multiplication like ggml. neox = 1
 * rotates (i, i + n_rot/2); 0 rotates (2i, 2i+1). */
void ol_cpu_rope(float *x, int64_t ld, int n_tok, int n_heads, int head_dim, int n_rot,
                 const int32_t *pos, float base, float freq_scale, const float *factors, int neox);

/* g = act(g) * u, n elements: silu (SwiGLU) or tanh-approximated GELU (GeGLU). */
void ol_cpu_silu_mul(float *g, const float *u, int64_t n);
void ol_cpu_gelu_mul(float *g, const float *u, int64_t n);
/* y += x */
void ol_cpu_add(float *y, const float *x, int64_t n);
/* y *= s */
void ol_cpu_scale(float *y, float s, int64_t n);
/* y = cap * tanh(y / cap) */
void ol_cpu_softcap(float *y, float cap, int64_t n);

/* Store an f32 row as dtype (F32 or F16) at dst. */
void ol_cpu_store_row(ol_dtype dtype, const float *src, void *dst, int64_t n);

/* Paged attention over a ragged batch. Each token attends to the keys of its own sequence at
 * positions p <= pos[t] (and pos[t] - p < window when window > 0). K/V of every batch token
 * must already be stored. GQA: query head h reads kv head h / (n_head / n_head_kv). */
typedef struct ol_attn_seq {
    const int32_t *blocks; /* block ids of the sequence, position p in blocks[p / block_size] */
    int n_blocks;
} ol_attn_seq;

typedef struct ol_attn_args {
    int n_tokens, n_head, n_head_kv, head_dim;
    float scale;    /* multiplies q·k */
    int window;     /* 0 = full causal */
    const float *q; /* [n_tokens][n_head * head_dim], row stride ldq */
    int64_t ldq;
    float *out; /* [n_tokens][n_head * head_dim], row stride ldo */
    int64_t ldo;
    const int32_t *pos;          /* [n_tokens] */
    const int32_t *seq_of_token; /* [n_tokens] index into seqs */
    const ol_attn_seq *seqs;
    const uint8_t *k_base, *v_base; /* this layer's K/V in block 0: [block_size][kv_dim] */
    size_t block_stride;            /* bytes between consecutive blocks */
    int block_size;
    ol_dtype kv_dtype; /* F16 or F32 */
} ol_attn_args;

void ol_cpu_attention(ol_cpu *cpu, const ol_attn_args *a);

/* LoRA deltas over a batch, SGMV-style: segment s adds to the rows y[t] of its tokens
 * t in [t0, t0 + n):  y[t] += scale · Bt^T (A x[t])  (shrink to rank r, then expand).
 * A: [r][n_in] f32, Bt: [r][n_out] f32 (B transposed, the adapter's alpha/r already folded
 * in); scale is the request's weight for that adapter. Segments may overlap (a weighted mix
 * of adapters is one segment per adapter) and have different ranks. */
typedef struct ol_lora_seg {
    int32_t t0, n;
    int32_t r; /* 1..OL_LORA_MAX_RANK */
    const float *a, *bt;
    float scale;
} ol_lora_seg;
#define OL_LORA_MAX_RANK 256

void ol_cpu_lora(ol_cpu *cpu, const ol_lora_seg *segs, int n_segs, const float *x, int64_t ldx,
                 int64_t n_in, float *y, int64_t ldy, int64_t n_out);
/* Several projections' segments in one pass over the worker pool (e.g. Q, K and V of one
 * layer): each job is one ol_cpu_lora call's arguments. */
typedef struct ol_lora_job {
    const ol_lora_seg *segs;
    int n_segs;
    const float *x;
    int64_t ldx, n_in;
    float *y;
    int64_t ldy, n_out;
} ol_lora_job;
void ol_cpu_lora_jobs(ol_cpu *cpu, const ol_lora_job *jobs, int n_jobs);
/* The scalar reference that defines the result. */
void ol_cpu_lora_ref(const ol_lora_seg *segs, int n_segs, const float *x, int64_t ldx, int64_t n_in,
                     float *y, int64_t ldy, int64_t n_out);

#endif
