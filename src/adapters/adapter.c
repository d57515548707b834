/* adapters/adapter.c: loading LoRA adapters into compute layout. PEFT tensors are named
 * base_model.model.<module>.lora_A.weight [r][in] and .lora_B.weight [out][r], with
 * <module> = model.layers.N.{self_attn.{q,k,v,o}_proj | mlp.{gate,up,down}_proj}; llama.cpp
 * GGUF LoRA tensors are blk.N.<name>.weight.lora_a ne=[in,r] and .lora_b ne=[r,out] (same
 * bytes as PEFT A and B). For GGUF arch "llama" the converter permuted q/k rows per head, so a
 * PEFT lora_B for q_proj/k_proj gets the same row permutation here (ARCHITECTURES.md §3). */
#include "adapters.h"

#include "backend/cpu/ops.h"
#include "format/gguf.h"
#include "format/peft.h"
#include "format/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ol_adapter {
    ol_adapter_source source;
    ol_lora_weights w;
    ol_lora_mat *mats; /* [n_layer][OL_PROJ_COUNT] */
    float *mem;        /* all A and Bt matrices */
    size_t bytes;
    ol_adapter_module *modules;
    int n_modules;
};

/* A source tensor in its file: dtype F32, F16 or BF16, row-major rows x cols. */
typedef struct {
    const void *data;
    int dtype; /* 0 f32, 1 f16, 2 bf16 */
    int64_t rows, cols;
    const char *name;
} src_mat;

typedef struct {
    src_mat a, b;
    bool have_a, have_b;
    int rank;
    double scale;
} slot;

static const char *const g_gguf_proj[OL_PROJ_COUNT] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

static float load_elem(const src_mat *m, int64_t i) {
    uint16_t h;
    float f;
    switch (m->dtype) {
    case 0:
        memcpy(&f, (const char *)m->data + i * 4, 4);
        return f;
    case 1:
        memcpy(&h, (const char *)m->data + i * 2, 2);
        return ol_f16_to_f32(h);
    default:
        memcpy(&h, (const char *)m->data + i * 2, 2);
        return ol_bf16_to_f32(h);
    }
}

void ol_adapter_destroy(ol_adapter *a) {
    if (!a) return;
    free(a->mats);
    ol_free_aligned(a->mem);
    free(a->modules);
    free(a);
}

const ol_lora_weights *ol_adapter_weights(const ol_adapter *a) {
    return &a->w;
}
size_t ol_adapter_bytes(const ol_adapter *a) {
    return a->bytes;
}
ol_adapter_source ol_adapter_source_of(const ol_adapter *a) {
    return a->source;
}
int ol_adapter_n_modules(const ol_adapter *a) {
    return a->n_modules;
}
const ol_adapter_module *ol_adapter_module_at(const ol_adapter *a, int i) {
    return i >= 0 && i < a->n_modules ? &a->modules[i] : NULL;
}

/* Convert the collected slots into compute layout. permute_qk: apply the llama converter's
 * per-head row permutation to B of q and k. */
static ol_adapter *build(const ol_model *m, slot *slots, bool permute_qk, ol_adapter_source src,
                         ol_err *err) {
    const ol_hparams *hp = ol_model_hparams(m);
    const int n = hp->n_layer * OL_PROJ_COUNT;
    size_t total = 0;
    int n_mod = 0;
    for (int i = 0; i < n; i++) {
        if (!slots[i].have_a && !slots[i].have_b) continue;
        const char *pn = ol_proj_name((ol_proj)(i % OL_PROJ_COUNT));
        if (!slots[i].have_a || !slots[i].have_b) {
            ol_err_set(err, OL_EFORMAT, "adapter: layer %d %s has lora_%s but not lora_%s",
                       i / OL_PROJ_COUNT, pn, slots[i].have_a ? "A" : "B",
                       slots[i].have_a ? "B" : "A");
            return NULL;
        }
        int64_t n_in, n_out;
        ol_model_proj_shape(m, (ol_proj)(i % OL_PROJ_COUNT), &n_in, &n_out);
        const src_mat *A = &slots[i].a, *B = &slots[i].b;
        const int64_t r = A->rows;
        if (r < 1 || r > OL_LORA_MAX_RANK)
            return ol_err_set(err, OL_ENOTSUP,
                              "adapter: tensor '%s' has rank %lld; supported 1..%d", A->name,
                              (long long)r, OL_LORA_MAX_RANK),
                   NULL;
        if (A->cols != n_in || B->rows != n_out || B->cols != r)
            return ol_err_set(
                       err, OL_EFORMAT,
                       "adapter: layer %d %s: lora_A is [%lld, %lld] and lora_B [%lld, %lld]; "
                       "the model needs A [r, %lld] and B [%lld, r]",
                       i / OL_PROJ_COUNT, pn, (long long)A->rows, (long long)A->cols,
                       (long long)B->rows, (long long)B->cols, (long long)n_in, (long long)n_out),
                   NULL;
        if (slots[i].rank != r) {
            ol_err_set(err, OL_EFORMAT,
                       "adapter: layer %d %s: tensors have rank %lld but the config says %d",
                       i / OL_PROJ_COUNT, pn, (long long)r, slots[i].rank);
            return NULL;
        }
        if (!isfinite(slots[i].scale)) {
            ol_err_set(err, OL_EFORMAT, "adapter: layer %d %s: scale is not finite",
                       i / OL_PROJ_COUNT, pn);
            return NULL;
        }
        total += (size_t)r * (size_t)(n_in + n_out);
        n_mod++;
    }
    if (n_mod == 0) {
        ol_err_set(err, OL_EFORMAT, "adapter: no LoRA tensors found");
        return NULL;
    }
    ol_adapter *a = calloc(1, sizeof(*a));
    if (!a) goto nomem;
    a->source = src;
    a->mats = calloc((size_t)n, sizeof(ol_lora_mat));
    a->modules = calloc((size_t)n_mod, sizeof(ol_adapter_module));
    a->mem = ol_alloc_aligned(total * sizeof(float));
    if (!a->mats || !a->modules || !a->mem) goto nomem;
    a->bytes = total * sizeof(float);
    a->w.n_layer = hp->n_layer;
    a->w.mats = a->mats;
    float *p = a->mem;
    const int D = hp->head_dim;
    for (int i = 0; i < n; i++) {
        if (!slots[i].have_a) continue;
        const ol_proj pj = (ol_proj)(i % OL_PROJ_COUNT);
        int64_t n_in, n_out;
        ol_model_proj_shape(m, pj, &n_in, &n_out);
        const src_mat *A = &slots[i].a, *B = &slots[i].b;
        const int64_t r = A->rows;
        float *fa = p, *fbt = p + r * n_in;
        p += r * (n_in + n_out);
        for (int64_t k = 0; k < r * n_in; k++) {
            fa[k] = load_elem(A, k);
            if (!isfinite(fa[k])) {
                ol_err_set(err, OL_EFORMAT, "adapter: tensor '%s' holds NaN or Inf", A->name);
                ol_adapter_destroy(a);
                return NULL;
            }
        }
        const bool perm = permute_qk && (pj == OL_PROJ_Q || pj == OL_PROJ_K);
        for (int64_t o = 0; o < n_out; o++) {
            /* output row o of the GGUF layout takes HF row: within a head, 2i+s <- s*D/2+i */
            int64_t src_row = o;
            if (perm) {
                const int64_t h = o / D, j = o % D;
                src_row = h * D + (j % 2) * (D / 2) + j / 2;
            }
            for (int64_t k = 0; k < r; k++) {
                const float v = load_elem(B, src_row * r + k);
                if (!isfinite(v)) {
                    ol_err_set(err, OL_EFORMAT, "adapter: tensor '%s' holds NaN or Inf", B->name);
                    ol_adapter_destroy(a);
                    return NULL;
                }
                fbt[k * n_out + o] = (float)(v * slots[i].scale);
            }
        }
        a->mats[i] = (ol_lora_mat){(int32_t)r, fa, fbt};
        a->modules[a->n_modules++] =
            (ol_adapter_module){i / OL_PROJ_COUNT, pj, (int)r, (float)slots[i].scale};
    }
    return a;
nomem:
    ol_adapter_destroy(a);
    ol_err_set(err, OL_ENOMEM, "adapter: out of memory for %zu bytes of weights", total * 4);
    return NULL;
}

/* ---- PEFT -------------------------------------------------------------------------------- */

static int st_dtype(const ol_safetensors_tensor *t) {
    switch (t->dtype) {
    case OL_SAFETENSORS_DTYPE_F32:
        return 0;
    case OL_SAFETENSORS_DTYPE_F16:
        return 1;
    case OL_SAFETENSORS_DTYPE_BF16:
        return 2;
    default:
        return -1;
    }
}

/* Map a PEFT module path to (layer, proj); refuse what openlora cannot run, by name. */
static int parse_module(const char *name, const char *module, int n_layer, int *layer,
                        ol_proj *proj, ol_err *err) {
    if (strstr(module, "embed_tokens") || strstr(module, "lm_head"))
        return ol_err_set(err, OL_ENOTSUP,
                          "adapter: tensor '%s': LoRA on embeddings or lm_head is not supported",
                          name);
    const char *l = strstr(module, "layers.");
    if (!l) goto unknown;
    char *end;
    long li = strtol(l + 7, &end, 10);
    if (end == l + 7 || *end != '.' || li < 0) goto unknown;
    if (li >= n_layer)
        return ol_err_set(err, OL_EFORMAT,
                          "adapter: tensor '%s' targets layer %ld; the model has %d", name, li,
                          n_layer);
    const char *rest = end + 1;
    static const char *const full[OL_PROJ_COUNT] = {
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};
    for (int p = 0; p < OL_PROJ_COUNT; p++)
        if (!strcmp(rest, full[p])) {
            *layer = (int)li;
            *proj = (ol_proj)p;
            return 0;
        }
unknown:
    return ol_err_set(err, OL_ENOTSUP,
                      "adapter: tensor '%s' targets module '%s', which openlora does not support "
                      "(q/k/v/o_proj, gate/up/down_proj of a decoder layer)",
                      name, module);
}

static int peft_tensor(const ol_safetensors_tensor *t, const ol_peft_config *cfg, const ol_model *m,
                       slot *slots, ol_err *err) {
    const char *name = t->name;
    static const struct {
        const char *needle, *feature;
    } refused[] = {
        {"lora_magnitude_vector", "DoRA (use_dora)"},
        {"lora_embedding_", "LoRA on embeddings"},
        {"modules_to_save", "modules_to_save"},
        {".lora_A.bias", "LoRA bias"},
        {".lora_B.bias", "LoRA bias"},
    };
    for (size_t i = 0; i < OL_ARRAY_LEN(refused); i++)
        if (strstr(name, refused[i].needle))
            return ol_err_set(err, OL_ENOTSUP, "adapter: tensor '%s': %s is not supported", name,
                              refused[i].feature);
    const char *prefix = "base_model.model.";
    size_t n = strlen(name), pl = strlen(prefix);
    bool is_a = n > 14 && !strcmp(name + n - 14, ".lora_A.weight");
    bool is_b = n > 14 && !strcmp(name + n - 14, ".lora_B.weight");
    if (strncmp(name, prefix, pl) || (!is_a && !is_b))
        return ol_err_set(err, OL_ENOTSUP,
                          "adapter: tensor '%s' is not a PEFT LoRA weight "
                          "(base_model.model.<module>.lora_A/B.weight)",
                          name);
    char module[256];
    size_t ml = n - pl - 14;
    if (ml == 0 || ml >= sizeof(module))
        return ol_err_set(err, OL_EFORMAT, "adapter: tensor name '%s' is malformed", name);
    memcpy(module, name + pl, ml);
    module[ml] = 0;
    int layer = 0;
    ol_proj proj = OL_PROJ_Q;
    int rc = parse_module(name, module, ol_model_hparams(m)->n_layer, &layer, &proj, err);
    if (rc) return rc;
    if (st_dtype(t) < 0 || t->n_dims != 2)
        return ol_err_set(
            err, OL_EFORMAT,
            "adapter: tensor '%s' must be a 2-D F32, F16 or BF16 matrix (is %s, %d-D)", name,
            ol_safetensors_dtype_name(t->dtype), t->n_dims);
    slot *s = &slots[layer * OL_PROJ_COUNT + proj];
    src_mat sm = {t->data, st_dtype(t), t->shape[0], t->shape[1], t->name};
    if (is_a ? s->have_a : s->have_b)
        return ol_err_set(err, OL_EFORMAT, "adapter: tensor '%s' appears twice", name);
    if (is_a)
        s->a = sm, s->have_a = true;
    else
        s->b = sm, s->have_b = true;
    double scale;
    if (ol_peft_scale(cfg, module, &s->rank, &scale))
        return ol_err_set(err, OL_EFORMAT, "adapter: cannot resolve rank/alpha of '%s'", module);
    s->scale = scale;
    return 0;
}

static ol_adapter *load_peft(const char *dir, const ol_model *m, ol_err *err) {
    char path[4096];
    struct stat st;
    ol_adapter *a = NULL;
    ol_peft_config *cfg = NULL;
    ol_safetensors *sf = NULL;
    slot *slots = NULL;
    snprintf(path, sizeof(path), "%s/adapter_model.safetensors", dir);
    if (stat(path, &st) != 0) {
        char bin[4096];
        snprintf(bin, sizeof(bin), "%s/adapter_model.bin", dir);
        if (stat(bin, &st) == 0)
            ol_err_set(err, OL_ENOTSUP,
                       "%s: adapter_model.bin is a pickle file, which openlora refuses to load; "
                       "convert it to adapter_model.safetensors",
                       dir);
        else
            ol_err_set(err, OL_ENOENT, "%s: no adapter_model.safetensors", dir);
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/adapter_config.json", dir);
    cfg = ol_peft_config_load(path, err);
    if (!cfg) goto done;
    snprintf(path, sizeof(path), "%s/adapter_model.safetensors", dir);
    sf = ol_safetensors_open(path, err);
    if (!sf) goto done;
    const int n = ol_model_hparams(m)->n_layer * OL_PROJ_COUNT;
    slots = calloc((size_t)n, sizeof(slot));
    if (!slots) {
        ol_err_set(err, OL_ENOMEM, "adapter: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < ol_safetensors_n_tensors(sf); i++)
        if (peft_tensor(ol_safetensors_tensor_at(sf, i), cfg, m, slots, err)) goto done;
    a = build(m, slots, ol_model_hparams(m)->arch == OL_ARCH_LLAMA, OL_ADAPTER_PEFT, err);
done:
    if (!a) ol_err_prefix(err, dir);
    free(slots);
    ol_safetensors_close(sf);
    ol_peft_config_destroy(cfg);
    return a;
}

/* ---- llama.cpp GGUF LoRA ------------------------------------------------------------------ */

static ol_adapter *load_gguf(const char *path, const ol_model *m, ol_err *err) {
    ol_adapter *a = NULL;
    slot *slots = NULL;
    ol_gguf *g = ol_gguf_open(path, err);
    if (!g) return NULL;
    const ol_hparams *hp = ol_model_hparams(m);
    ol_gguf_str s;
    float alpha = 0;
    if (ol_gguf_get_str(g, "general.type", &s, err) || !ol_gguf_str_eq(s, "adapter")) {
        ol_err_set(err, OL_EFORMAT, "adapter: general.type is not 'adapter'");
        goto done;
    }
    if (ol_gguf_get_str(g, "adapter.type", &s, err) || !ol_gguf_str_eq(s, "lora")) {
        ol_err_set(err, OL_ENOTSUP, "adapter: adapter.type is not 'lora'");
        goto done;
    }
    if (ol_gguf_get_str(g, "general.architecture", &s, err) || !ol_gguf_str_eq(s, hp->arch_name)) {
        ol_err_set(err, OL_EFORMAT, "adapter: made for another architecture than '%s'",
                   hp->arch_name);
        goto done;
    }
    int rc = ol_gguf_get_f32(g, "adapter.lora.alpha", &alpha, err);
    if (rc && rc != OL_ENOENT) goto done;
    ol_err_clear(err);
    if (!isfinite(alpha)) {
        ol_err_set(err, OL_EFORMAT, "adapter: adapter.lora.alpha is not finite");
        goto done;
    }
    const int n = hp->n_layer * OL_PROJ_COUNT;
    slots = calloc((size_t)n, sizeof(slot));
    if (!slots) {
        ol_err_set(err, OL_ENOMEM, "adapter: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < ol_gguf_n_tensors(g); i++) {
        const ol_gguf_tensor *t = ol_gguf_tensor_at(g, i);
        int layer, used = 0;
        char proj[32], ab;
        if (sscanf(t->name, "blk.%d.%31[a-z_].weight.lora_%c%n", &layer, proj, &ab, &used) != 3 ||
            t->name[used] != 0 || (ab != 'a' && ab != 'b') || layer < 0 || layer >= hp->n_layer) {
            ol_err_set(err, OL_ENOTSUP,
                       "adapter: tensor '%s' is not a LoRA weight of a decoder layer openlora runs",
                       t->name);
            goto done;
        }
        int p = -1;
        for (int k = 0; k < OL_PROJ_COUNT; k++)
            if (!strcmp(proj, g_gguf_proj[k])) p = k;
        if (p < 0) {
            ol_err_set(err, OL_ENOTSUP, "adapter: tensor '%s' targets '%s', not supported", t->name,
                       proj);
            goto done;
        }
        int dt = t->ggml_type == 0 ? 0 : t->ggml_type == 1 ? 1 : t->ggml_type == 30 ? 2 : -1;
        if (dt < 0 || t->n_dims != 2) {
            ol_err_set(err, OL_EFORMAT, "adapter: tensor '%s' must be 2-D F32, F16 or BF16",
                       t->name);
            goto done;
        }
        slot *sl = &slots[layer * OL_PROJ_COUNT + p];
        /* ne = [in, r] for a (rows r of in), [r, out] for b (rows out of r) */
        src_mat sm = {t->data, dt, t->ne[1], t->ne[0], t->name};
        if (ab == 'a' ? sl->have_a : sl->have_b) {
            ol_err_set(err, OL_EFORMAT, "adapter: tensor '%s' appears twice", t->name);
            goto done;
        }
        if (ab == 'a')
            sl->a = sm, sl->have_a = true;
        else
            sl->b = sm, sl->have_b = true;
    }
    for (int i = 0; i < n; i++) {
        if (!slots[i].have_a) continue;
        slots[i].rank = (int)slots[i].a.rows; /* r = lora_b ne[0] = lora_a rows, checked in build */
        slots[i].scale = alpha != 0 ? alpha / (double)slots[i].a.rows : 1.0;
    }
    a = build(m, slots, false, OL_ADAPTER_GGUF, err);
done:
    if (!a) ol_err_prefix(err, path);
    free(slots);
    ol_gguf_close(g);
    return a;
}

ol_adapter *ol_adapter_load(const char *path, const ol_model *m, ol_err *err) {
    struct stat st;
    if (stat(path, &st) != 0) {
        ol_err_set(err, OL_ENOENT, "%s: no such adapter file or directory", path);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) return load_peft(path, m, err);
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".gguf")) return load_gguf(path, m, err);
    ol_err_set(err, OL_EINVAL,
               "%s: an adapter is a PEFT directory (adapter_config.json + "
               "adapter_model.safetensors) or a llama.cpp .gguf LoRA file",
               path);
    return NULL;
}
