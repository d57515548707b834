/* model/model.c: loading (common hyper-parameters, the arch table, weight binding with shape
 * checks), the forward driver for ragged batches over the paged KV cache, and the attention
 * and FFN building blocks the architectures share. */
#include "model_internal.h"

#define LINEAR_MAX_FUSED 3 /* projections sharing one LoRA pass (Q, K, V) */

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const ol_arch_ops *const g_archs[] = {&ol_arch_llama_ops, &ol_arch_qwen2_ops,
                                             &ol_arch_gemma3_ops};

const char *ol_arch_name(ol_arch a) {
    for (size_t i = 0; i < OL_ARRAY_LEN(g_archs); i++)
        if (g_archs[i]->arch == a) return g_archs[i]->name;
    return "unknown";
}

static const char *const g_proj_names[OL_PROJ_COUNT] = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

const char *ol_proj_name(ol_proj p) {
    return (unsigned)p < OL_PROJ_COUNT ? g_proj_names[p] : "unknown";
}

void ol_model_proj_shape(const ol_model *m, ol_proj p, int64_t *n_in, int64_t *n_out) {
    const ol_hparams *hp = &m->hp;
    const int64_t d = hp->n_embd, qd = (int64_t)hp->n_head * hp->head_dim,
                  kvd = (int64_t)hp->n_head_kv * hp->head_dim, f = hp->n_ff;
    static const int in_is[OL_PROJ_COUNT] = {0, 0, 0, 1, 0, 0, 2}; /* 0 = d, 1 = qd, 2 = f */
    const int64_t dims[3] = {d, qd, f};
    *n_in = dims[in_is[p]];
    switch (p) {
    case OL_PROJ_Q:
        *n_out = qd;
        break;
    case OL_PROJ_K:
    case OL_PROJ_V:
        *n_out = kvd;
        break;
    case OL_PROJ_GATE:
    case OL_PROJ_UP:
        *n_out = f;
        break;
    default:
        *n_out = d;
        break;
    }
}

/* ---- binding ----------------------------------------------------------------------------- */
int ol_model_bind(ol_model *m, const char *name, int64_t ne0, int64_t ne1, bool required,
                  bool float_only, ol_tensor *out, ol_err *err) {
    memset(out, 0, sizeof(*out));
    const ol_gguf_tensor *t = ol_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (required) return ol_err_set(err, OL_EFORMAT, "model: missing tensor '%s'", name);
        return 0;
    }
    int64_t want1 = ne1 ? ne1 : 1;
    if (t->ne[0] != ne0 || t->ne[1] != want1 || t->ne[2] != 1 || t->ne[3] != 1)
        return ol_err_set(
            err, OL_EFORMAT,
            "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]", name,
            (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
            (long long)ne0, (long long)want1);
    ol_dtype dt;
    if (ol_dtype_from_ggml(t->ggml_type, &dt) || dt == OL_DTYPE_Q8_1 || dt == OL_DTYPE_Q8_K)
        return ol_err_set(err, OL_ENOTSUP, "model: tensor '%s' has type %s, which is not supported",
                          name, ol_ggml_type_name(t->ggml_type));
    if (float_only && dt != OL_DTYPE_F32)
        return ol_err_set(err, OL_ENOTSUP, "model: tensor '%s' must be F32, found %s", name,
                          ol_dtype_name(dt));
    out->name = t->name;
    out->dtype = dt;
    out->n_dims = t->n_dims;
    memcpy(out->ne, t->ne, sizeof(out->ne));
    out->row_bytes = ol_dtype_row_bytes(dt, t->ne[0]);
    out->data = t->data;
    return 0;
}

int ol_model_bind_layer(ol_model *m, int il, const char *suffix, int64_t ne0, int64_t ne1,
                        bool required, bool float_only, ol_tensor *out, ol_err *err) {
    char name[OL_GGUF_MAX_NAME];
    snprintf(name, sizeof(name), "blk.%d.%s", il, suffix);
    return ol_model_bind(m, name, ne0, ne1, required, float_only, out, err);
}

/* ---- hyper-parameters -------------------------------------------------------------------- */
static int get_u32_key(const ol_gguf *g, const char *arch, const char *key, bool required,
                       uint32_t def, int *out, ol_err *err) {
    char full[128];
    snprintf(full, sizeof(full), "%s.%s", arch, key);
    uint32_t v;
    int rc = ol_gguf_get_u32(g, full, &v, err);
    if (rc == OL_ENOENT && !required) {
        *out = (int)def;
        ol_err_clear(err);
        return 0;
    }
    if (rc) return rc;
    if (v > (1u << 30))
        return ol_err_set(err, OL_EFORMAT, "model: key '%s' = %u is absurd", full, v);
    *out = (int)v;
    return 0;
}

static int get_f32_key(const ol_gguf *g, const char *arch, const char *key, bool required,
                       float def, float *out, ol_err *err) {
    char full[128];
    snprintf(full, sizeof(full), "%s.%s", arch, key);
    int rc = ol_gguf_get_f32(g, full, out, err);
    if (rc == OL_ENOENT && !required) {
        *out = def;
        ol_err_clear(err);
        return 0;
    }
    if (rc) return rc;
    if (!isfinite(*out)) return ol_err_set(err, OL_EFORMAT, "model: key '%s' is not finite", full);
    return 0;
}

static int load_common_hparams(const ol_gguf *g, ol_hparams *hp, ol_err *err) {
    const char *a = hp->arch_name;
    int rc;
    /* per-layer arrays (feed_forward_length, head_count) are not supported: refuse clearly */
    const char *scalar_keys[] = {"feed_forward_length", "attention.head_count",
                                 "attention.head_count_kv"};
    for (size_t i = 0; i < OL_ARRAY_LEN(scalar_keys); i++) {
        char full[128];
        snprintf(full, sizeof(full), "%s.%s", a, scalar_keys[i]);
        const ol_gguf_kv *kv = ol_gguf_find(g, full);
        if (kv && kv->type == OL_GGUF_TYPE_ARRAY)
            return ol_err_set(err, OL_ENOTSUP, "model: per-layer '%s' arrays are not supported",
                              full);
    }
    if ((rc = get_u32_key(g, a, "context_length", true, 0, &hp->n_ctx_train, err)) ||
        (rc = get_u32_key(g, a, "embedding_length", true, 0, &hp->n_embd, err)) ||
        (rc = get_u32_key(g, a, "block_count", true, 0, &hp->n_layer, err)) ||
        (rc = get_u32_key(g, a, "feed_forward_length", true, 0, &hp->n_ff, err)) ||
        (rc = get_u32_key(g, a, "attention.head_count", true, 0, &hp->n_head, err)))
        return rc;
    if ((rc = get_u32_key(g, a, "attention.head_count_kv", false, (uint32_t)hp->n_head,
                          &hp->n_head_kv, err)))
        return rc;
    if (hp->n_embd < 1 || hp->n_layer < 1 || hp->n_layer > OL_MAX_LAYERS || hp->n_ff < 1 ||
        hp->n_head < 1 || hp->n_head_kv < 1 || hp->n_head % hp->n_head_kv != 0 ||
        hp->n_head / hp->n_head_kv > 32)
        return ol_err_set(err, OL_EFORMAT,
                          "model: inconsistent sizes (n_embd %d, n_layer %d, n_ff %d, n_head %d, "
                          "n_head_kv %d)",
                          hp->n_embd, hp->n_layer, hp->n_ff, hp->n_head, hp->n_head_kv);
    int kl, vl;
    if ((rc = get_u32_key(g, a, "attention.key_length", false, (uint32_t)(hp->n_embd / hp->n_head),
                          &kl, err)) ||
        (rc = get_u32_key(g, a, "attention.value_length", false, (uint32_t)kl, &vl, err)))
        return rc;
    if (kl != vl || kl < 2 || kl > 512 || kl % 2)
        return ol_err_set(err, OL_ENOTSUP, "model: head sizes key %d / value %d not supported", kl,
                          vl);
    hp->head_dim = kl;
    if ((rc = get_u32_key(g, a, "rope.dimension_count", false, (uint32_t)kl, &hp->n_rot, err)))
        return rc;
    if (hp->n_rot < 2 || hp->n_rot > kl || hp->n_rot % 2)
        return ol_err_set(err, OL_EFORMAT,
                          "model: rope.dimension_count %d invalid for head size %d", hp->n_rot, kl);
    if ((rc = get_f32_key(g, a, "rope.freq_base", false, 10000.0f, &hp->rope_base, err)) ||
        (rc = get_f32_key(g, a, "attention.layer_norm_rms_epsilon", true, 0, &hp->rms_eps, err)))
        return rc;
    float factor = 0;
    if ((rc = get_f32_key(g, a, "rope.scaling.factor", false, 0.0f, &factor, err))) return rc;
    char key[128];
    snprintf(key, sizeof(key), "%s.rope.scaling.type", a);
    ol_gguf_str st;
    if (ol_gguf_get_str(g, key, &st, NULL) == 0 && !ol_gguf_str_eq(st, "none") &&
        !ol_gguf_str_eq(st, "linear"))
        return ol_err_set(err, OL_ENOTSUP, "model: rope scaling type '%.*s' is not supported",
                          (int)(st.len > 32 ? 32 : st.len), st.ptr);
    if (ol_gguf_get_str(g, key, &st, NULL) == 0 && ol_gguf_str_eq(st, "none")) factor = 0;
    hp->rope_freq_scale = factor > 0 ? 1.0f / factor : 1.0f;
    if (hp->rope_base <= 0 || hp->rms_eps <= 0 || hp->rms_eps > 1)
        return ol_err_set(err, OL_EFORMAT, "model: rope base %g or rms epsilon %g invalid",
                          (double)hp->rope_base, (double)hp->rms_eps);
    hp->rope_base_swa = hp->rope_base;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    hp->embd_scale = 1.0f;
    return 0;
}

/* ---- load -------------------------------------------------------------------------------- */
ol_model *ol_model_load(const char *path, ol_err *err) {
    ol_model *m = calloc(1, sizeof(*m));
    if (!m) {
        ol_err_set(err, OL_ENOMEM, "model: out of memory");
        return NULL;
    }
    m->gguf = ol_gguf_open(path, err);
    if (!m->gguf) goto fail;
    ol_gguf_str arch;
    if (ol_gguf_get_str(m->gguf, "general.architecture", &arch, err)) goto fail;
    for (size_t i = 0; i < OL_ARRAY_LEN(g_archs); i++)
        if (ol_gguf_str_eq(arch, g_archs[i]->name)) m->ops = g_archs[i];
    if (!m->ops) {
        ol_err_set(err, OL_ENOTSUP,
                   "%s: architecture '%.*s' is not supported (llama, qwen2, gemma3)", path,
                   (int)(arch.len > 40 ? 40 : arch.len), arch.ptr);
        goto fail;
    }
    ol_hparams *hp = &m->hp;
    hp->arch = m->ops->arch;
    snprintf(hp->arch_name, sizeof(hp->arch_name), "%s", m->ops->name);
    if (load_common_hparams(m->gguf, hp, err) || m->ops->load_hparams(m->gguf, hp, err)) goto fail;

    /* vocabulary size from the embedding matrix */
    const ol_gguf_tensor *te = ol_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te || te->ne[1] < 1 || te->ne[1] > (1 << 24)) {
        ol_err_set(err, OL_EFORMAT, "%s: missing or invalid tensor 'token_embd.weight'", path);
        goto fail;
    }
    hp->n_vocab = (int)te->ne[1];
    const int64_t d = hp->n_embd, qd = (int64_t)hp->n_head * hp->head_dim,
                  kvd = (int64_t)hp->n_head_kv * hp->head_dim;
    (void)qd, (void)kvd;
    if (ol_model_bind(m, "token_embd.weight", d, hp->n_vocab, true, false, &m->tok_embd, err) ||
        ol_model_bind(m, "output_norm.weight", d, 0, true, true, &m->output_norm, err) ||
        ol_model_bind(m, "output.weight", d, hp->n_vocab, false, false, &m->output, err) ||
        ol_model_bind(m, "rope_freqs.weight", hp->n_rot / 2, 0, false, true, &m->rope_freqs, err))
        goto fail;
    if (!m->output.data) m->output = m->tok_embd; /* tied embeddings */
    m->layers = calloc((size_t)hp->n_layer, sizeof(ol_layer_w));
    m->swa = calloc((size_t)hp->n_layer, sizeof(bool));
    if (!m->layers || !m->swa) {
        ol_err_set(err, OL_ENOMEM, "model: out of memory");
        goto fail;
    }
    for (int il = 0; il < hp->n_layer; il++) {
        if (m->ops->bind_layer(m, il, &m->layers[il], err)) goto fail;
        m->swa[il] =
            hp->n_swa > 0 && hp->swa_pattern > 0 && il % hp->swa_pattern < hp->swa_pattern - 1;
    }
    return m;
fail:
    if (err && err->code == 0) ol_err_set(err, OL_EFORMAT, "cannot load model");
    ol_err_prefix(err, path); /* name the file */
    ol_model_destroy(m);
    return NULL;
}

void ol_model_destroy(ol_model *m) {
    if (!m) return;
    ol_gguf_close(m->gguf);
    free(m->layers);
    free(m->swa);
    free(m);
}

const ol_hparams *ol_model_hparams(const ol_model *m) {
    return &m->hp;
}
const ol_gguf *ol_model_gguf(const ol_model *m) {
    return m->gguf;
}
bool ol_model_layer_is_swa(const ol_model *m, int il) {
    return m->swa[il];
}

static size_t tbytes(const ol_tensor *t) {
    return t->data ? t->row_bytes * (size_t)t->ne[1] : 0;
}

size_t ol_model_weight_bytes_per_token(const ol_model *m) {
    size_t n = tbytes(&m->output) + (size_t)m->tok_embd.row_bytes;
    for (int il = 0; il < m->hp.n_layer; il++) {
        const ol_layer_w *w = &m->layers[il];
        n += tbytes(&w->wq) + tbytes(&w->wk) + tbytes(&w->wv) + tbytes(&w->wo) +
             tbytes(&w->w_gate) + tbytes(&w->w_up) + tbytes(&w->w_down);
    }
    return n;
}

ol_kv_pool *ol_model_kv_pool_create(const ol_model *m, ol_dtype dtype, size_t budget_bytes,
                                    int block_size, ol_err *err) {
    ol_kv_config cfg = {.n_layer = m->hp.n_layer,
                        .kv_dim = m->hp.n_head_kv * m->hp.head_dim,
                        .block_size = block_size > 0 ? block_size : OL_KV_BLOCK_SIZE_DEFAULT,
                        .dtype = dtype,
                        .budget_bytes = budget_bytes};
    return ol_kv_pool_create(&cfg, err);
}

/* ---- context ----------------------------------------------------------------------------- */
ol_model_ctx *ol_model_ctx_create(const ol_model *m, ol_cpu *cpu, int n_batch_max, ol_err *err) {
    if (n_batch_max < 1 || n_batch_max > 65536) {
        ol_err_set(err, OL_EINVAL, "model: batch size %d out of range [1, 65536]", n_batch_max);
        return NULL;
    }
    ol_model_ctx *c = calloc(1, sizeof(*c));
    if (!c) goto nomem;
    const ol_hparams *hp = &m->hp;
    const size_t B = (size_t)n_batch_max, qd = (size_t)hp->n_head * hp->head_dim,
                 kvd = (size_t)hp->n_head_kv * hp->head_dim;
    c->m = m;
    c->cpu = cpu;
    c->n_batch_max = n_batch_max;
    c->x = ol_alloc_aligned(B * hp->n_embd * 4);
    c->h = ol_alloc_aligned(B * hp->n_embd * 4);
    c->y = ol_alloc_aligned(B * hp->n_embd * 4);
    c->q = ol_alloc_aligned(B * qd * 4);
    c->k = ol_alloc_aligned(B * kvd * 4);
    c->v = ol_alloc_aligned(B * kvd * 4);
    c->att = ol_alloc_aligned(B * qd * 4);
    c->g = ol_alloc_aligned(B * hp->n_ff * 4);
    c->u = ol_alloc_aligned(B * hp->n_ff * 4);
    c->aseqs = calloc(B, sizeof(ol_attn_seq));
    c->seq_next = calloc(B, sizeof(int32_t));
    c->lseg_cap = 4 * n_batch_max; /* up to 4 adapters mixed per token */
    c->lseg = calloc((size_t)c->lseg_cap * LINEAR_MAX_FUSED, sizeof(ol_lora_seg));
    if (!c->lseg || !c->seq_next || !c->x || !c->h || !c->y || !c->q || !c->k || !c->v || !c->att ||
        !c->g || !c->u || !c->aseqs)
        goto nomem;
    return c;
nomem:
    ol_model_ctx_destroy(c);
    ol_err_set(err, OL_ENOMEM, "model: out of memory for a batch of %d tokens", n_batch_max);
    return NULL;
}

void ol_model_ctx_destroy(ol_model_ctx *c) {
    if (!c) return;
    ol_free_aligned(c->x);
    ol_free_aligned(c->h);
    ol_free_aligned(c->y);
    ol_free_aligned(c->q);
    ol_free_aligned(c->k);
    ol_free_aligned(c->v);
    ol_free_aligned(c->att);
    ol_free_aligned(c->g);
    ol_free_aligned(c->u);
    free(c->aseqs);
    free(c->seq_next);
    free(c->lseg);
    free(c);
}

/* ---- building blocks --------------------------------------------------------------------- */
static void add_bias(float *y, const ol_tensor *b, int n_tok, int64_t n) {
    if (!b->data) return;
    for (int t = 0; t < n_tok; t++) ol_cpu_add(y + (int64_t)t * n, b->data, n);
}

/* Up to LINEAR_MAX_FUSED projections of one input: base matmuls, then every projection's
 * LoRA segments in one pass over the worker pool. */
static void linear_n(ol_model_ctx *ctx, int il, int np, const ol_proj *p, const ol_tensor *const *w,
                     const float *x, float *const *y, const int64_t *ld_out) {
    const ol_batch *b = ctx->batch;
    ol_lora_job jobs[LINEAR_MAX_FUSED];
    int nj = 0, n = 0;
    for (int i = 0; i < np; i++) {
        ol_cpu_matmul(ctx->cpu, w[i], x, b->n_tokens, y[i], ld_out[i]);
        const int first = n;
        for (int k = 0; k < b->n_lora; k++) {
            const ol_batch_lora *bl = &b->lora[k];
            const ol_lora_mat *mt = &bl->w->mats[(size_t)il * OL_PROJ_COUNT + p[i]];
            if (mt->r == 0 || bl->weight == 0.0f) continue;
            ctx->lseg[n++] = (ol_lora_seg){bl->t0, bl->n, mt->r, mt->a, mt->bt, bl->weight};
        }
        if (n > first)
            jobs[nj++] = (ol_lora_job){ctx->lseg + first, n - first, x,         w[i]->ne[0],
                                       w[i]->ne[0],       y[i],      ld_out[i], w[i]->ne[1]};
    }
    if (nj > 0) ol_cpu_lora_jobs(ctx->cpu, jobs, nj);
}

void ol_model_linear(ol_model_ctx *ctx, int il, ol_proj p, const ol_tensor *w, const float *x,
                     float *y, int64_t ld_out) {
    linear_n(ctx, il, 1, &p, &w, x, &y, &ld_out);
}

void ol_model_attn(ol_model_ctx *ctx, int il, const float *in, float *out) {
    const ol_model *m = ctx->m;
    const ol_hparams *hp = &m->hp;
    const ol_layer_w *w = &m->layers[il];
    const ol_batch *b = ctx->batch;
    const int T = b->n_tokens, D = hp->head_dim;
    const int64_t qd = (int64_t)hp->n_head * D, kvd = (int64_t)hp->n_head_kv * D;
    {
        const ol_proj p[3] = {OL_PROJ_Q, OL_PROJ_K, OL_PROJ_V};
        const ol_tensor *ws[3] = {&w->wq, &w->wk, &w->wv};
        float *ys[3] = {ctx->q, ctx->k, ctx->v};
        const int64_t ld[3] = {qd, kvd, kvd};
        linear_n(ctx, il, 3, p, ws, in, ys, ld);
    }
    add_bias(ctx->q, &w->bq, T, qd);
    add_bias(ctx->k, &w->bk, T, kvd);
    add_bias(ctx->v, &w->bv, T, kvd);
    if (w->q_norm.data) {
        ol_cpu_rmsnorm(ctx->q, ctx->q, w->q_norm.data, D, (int64_t)T * hp->n_head, D, hp->rms_eps);
        ol_cpu_rmsnorm(ctx->k, ctx->k, w->k_norm.data, D, (int64_t)T * hp->n_head_kv, D,
                       hp->rms_eps);
    }
    const bool swa = m->swa[il];
    const float base = swa ? hp->rope_base_swa : hp->rope_base;
    const float fscale = swa ? 1.0f : hp->rope_freq_scale;
    const float *factors = m->rope_freqs.data;
    ol_cpu_rope(ctx->q, qd, T, hp->n_head, D, hp->n_rot, b->pos, base, fscale, factors,
                hp->rope_neox);
    ol_cpu_rope(ctx->k, kvd, T, hp->n_head_kv, D, hp->n_rot, b->pos, base, fscale, factors,
                hp->rope_neox);
    /* store K/V of every batch token, then attend */
    const ol_kv_config *kc = ol_kv_pool_config(ctx->kv);
    for (int t = 0; t < T; t++) {
        const ol_kv_seq *s = b->seqs[b->seq[t]];
        const int p = b->pos[t];
        const int32_t blk = s->blocks[p / kc->block_size];
        ol_cpu_store_row(kc->dtype, ctx->k + (int64_t)t * kvd,
                         ol_kv_row(ctx->kv, blk, il, 0, p % kc->block_size), kvd);
        ol_cpu_store_row(kc->dtype, ctx->v + (int64_t)t * kvd,
                         ol_kv_row(ctx->kv, blk, il, 1, p % kc->block_size), kvd);
    }
    const uint8_t *k0 = ol_kv_block_layer(ctx->kv, 0, il, 0);
    const uint8_t *v0 = ol_kv_block_layer(ctx->kv, 0, il, 1);
    const uint8_t *k1 = ol_kv_block_layer(ctx->kv, 1 < ol_kv_pool_n_blocks(ctx->kv) ? 1 : 0, il, 0);
    ol_attn_args a = {.n_tokens = T,
                      .n_head = hp->n_head,
                      .n_head_kv = hp->n_head_kv,
                      .head_dim = D,
                      .scale = hp->attn_scale,
                      .window = swa ? hp->n_swa : 0,
                      .q = ctx->q,
                      .ldq = qd,
                      .out = ctx->att,
                      .ldo = qd,
                      .pos = b->pos,
                      .seq_of_token = b->seq,
                      .seqs = ctx->aseqs,
                      .k_base = k0,
                      .v_base = v0,
                      .block_stride = (size_t)(k1 - k0),
                      .block_size = kc->block_size,
                      .kv_dtype = kc->dtype};
    ol_cpu_attention(ctx->cpu, &a);
    ol_model_linear(ctx, il, OL_PROJ_O, &w->wo, ctx->att, out, hp->n_embd);
    add_bias(out, &w->bo, T, hp->n_embd);
}

void ol_model_ffn(ol_model_ctx *ctx, int il, const float *in, float *out, int gelu) {
    const ol_hparams *hp = &ctx->m->hp;
    const ol_layer_w *w = &ctx->m->layers[il];
    const int T = ctx->batch->n_tokens;
    const int64_t F = hp->n_ff;
    {
        const ol_proj p[2] = {OL_PROJ_GATE, OL_PROJ_UP};
        const ol_tensor *ws[2] = {&w->w_gate, &w->w_up};
        float *ys[2] = {ctx->g, ctx->u};
        const int64_t ld[2] = {F, F};
        linear_n(ctx, il, 2, p, ws, in, ys, ld);
    }
    if (gelu)
        ol_cpu_gelu_mul(ctx->g, ctx->u, (int64_t)T * F);
    else
        ol_cpu_silu_mul(ctx->g, ctx->u, (int64_t)T * F);
    ol_model_linear(ctx, il, OL_PROJ_DOWN, &w->w_down, ctx->g, out, hp->n_embd);
}

/* ---- forward ----------------------------------------------------------------------------- */
static int validate_batch(ol_model_ctx *ctx, ol_kv_pool *kv, const ol_batch *b, ol_err *err) {
    const ol_hparams *hp = &ctx->m->hp;
    const ol_kv_config *kc = ol_kv_pool_config(kv);
    if (b->n_tokens < 1 || b->n_tokens > ctx->n_batch_max)
        return ol_err_set(err, OL_EINVAL, "batch: %d tokens, allowed 1..%d", b->n_tokens,
                          ctx->n_batch_max);
    if (b->n_seqs < 1 || b->n_seqs > b->n_tokens)
        return ol_err_set(err, OL_EINVAL, "batch: %d sequences for %d tokens", b->n_seqs,
                          b->n_tokens);
    if (kc->n_layer != hp->n_layer || kc->kv_dim != hp->n_head_kv * hp->head_dim)
        return ol_err_set(err, OL_EINVAL, "batch: KV pool shaped for another model");
    int32_t *next = ctx->seq_next;
    for (int s = 0; s < b->n_seqs; s++) next[s] = -1;
    for (int i = 0; i < b->n_tokens; i++) {
        const int s = b->seq[i], p = b->pos[i];
        if (b->tokens[i] < 0 || b->tokens[i] >= hp->n_vocab)
            return ol_err_set(err, OL_EINVAL,
                              "batch: token %d at index %d outside vocabulary of %d", b->tokens[i],
                              i, hp->n_vocab);
        if (s < 0 || s >= b->n_seqs)
            return ol_err_set(err, OL_EINVAL, "batch: token %d has sequence %d of %d", i, s,
                              b->n_seqs);
        const ol_kv_seq *sq = b->seqs[s];
        if (p < 0 || p >= sq->n_blocks * kc->block_size)
            return ol_err_set(
                err, OL_EINVAL,
                "batch: token %d position %d has no reserved KV block (sequence %d holds %d)", i, p,
                s, sq->n_blocks * kc->block_size);
        if (next[s] < 0) {
            if (p > sq->n_tokens)
                return ol_err_set(err, OL_EINVAL,
                                  "batch: sequence %d starts at position %d but holds KV for %d", s,
                                  p, sq->n_tokens);
        } else if (p != next[s]) {
            return ol_err_set(err, OL_EINVAL,
                              "batch: sequence %d positions not consecutive at token %d", s, i);
        }
        next[s] = p + 1;
    }
    if (b->n_lora < 0 || b->n_lora > ctx->lseg_cap || (b->n_lora > 0 && !b->lora))
        return ol_err_set(err, OL_EINVAL, "batch: %d LoRA segments, allowed 0..%d", b->n_lora,
                          ctx->lseg_cap);
    for (int i = 0; i < b->n_lora; i++) {
        const ol_batch_lora *bl = &b->lora[i];
        if (bl->t0 < 0 || bl->n < 1 || bl->t0 > b->n_tokens - bl->n)
            return ol_err_set(err, OL_EINVAL,
                              "batch: LoRA segment %d covers tokens [%d, +%d) of %d", i, bl->t0,
                              bl->n, b->n_tokens);
        if (!bl->w || bl->w->n_layer != hp->n_layer || !bl->w->mats)
            return ol_err_set(err, OL_EINVAL,
                              "batch: LoRA segment %d has weights for another model", i);
        if (!isfinite(bl->weight))
            return ol_err_set(err, OL_EINVAL, "batch: LoRA segment %d weight is not finite", i);
    }
    for (int s = 0; s < b->n_seqs; s++) {
        if (next[s] < 0) return ol_err_set(err, OL_EINVAL, "batch: sequence %d has no token", s);
        ctx->aseqs[s].blocks = b->seqs[s]->blocks;
        ctx->aseqs[s].n_blocks = b->seqs[s]->n_blocks;
    }
    return 0;
}

int ol_model_forward(ol_model_ctx *ctx, ol_kv_pool *kv, const ol_batch *b, float *out_logits,
                     ol_err *err) {
    const ol_model *m = ctx->m;
    const ol_hparams *hp = &m->hp;
    int rc = validate_batch(ctx, kv, b, err);
    if (rc) return rc;
    ctx->batch = b;
    ctx->kv = kv;
    const int T = b->n_tokens, d = hp->n_embd;
    for (int t = 0; t < T; t++) {
        ol_cpu_get_row(&m->tok_embd, b->tokens[t], ctx->x + (int64_t)t * d);
        if (hp->embd_scale != 1.0f) ol_cpu_scale(ctx->x + (int64_t)t * d, hp->embd_scale, d);
    }
    for (int il = 0; il < hp->n_layer; il++) m->ops->layer(ctx, il);

    /* gather the rows that want logits into h, normalise, project */
    int n_out = 0;
    for (int t = 0; t < T; t++) {
        bool want = b->logits ? b->logits[t] != 0 : (t == T - 1 || b->seq[t + 1] != b->seq[t]);
        if (!want) continue;
        memcpy(ctx->h + (int64_t)n_out * d, ctx->x + (int64_t)t * d, (size_t)d * 4);
        n_out++;
    }
    /* update sequence lengths */
    for (int t = 0; t < T; t++) {
        ol_kv_seq *s = b->seqs[b->seq[t]];
        if (b->pos[t] + 1 > s->n_tokens) s->n_tokens = b->pos[t] + 1;
    }
    ctx->batch = NULL;
    if (n_out == 0) return 0;
    ol_cpu_rmsnorm(ctx->h, ctx->h, m->output_norm.data, d, n_out, d, hp->rms_eps);
    if (ol_cpu_matmul(ctx->cpu, &m->output, ctx->h, n_out, out_logits, hp->n_vocab))
        return ol_err_set(err, OL_ENOMEM, "model: out of memory in the output head");
    if (hp->final_softcap > 0)
        ol_cpu_softcap(out_logits, hp->final_softcap, (int64_t)n_out * hp->n_vocab);
    return 0;
}
