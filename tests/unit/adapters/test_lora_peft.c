/* tests/unit/adapters/test_lora_peft.c: LoRA adapters against HF + PEFT float32 logits
 * (tools/gen_tiny_adapters.py, listed in tests/data/adapters/manifest.txt) on the tiny Llama
 * and Gemma 3 fixtures: every adapter alone (ranks 4-16, attention-only, all-linear, rsLoRA,
 * rank/alpha patterns with layers_to_transform), a weighted mix of two, an adapter at weight
 * 0.5, the same adapter from a llama.cpp GGUF LoRA file, and base only; then one ragged batch
 * per base holding every one of those adapter sets at once, each sequence equal to its run
 * alone. */
#include "adapters/adapters.h"
#include "golden.h"
#include "test.h"

#define MAX_CASES 32
#define MAX_AD    4

typedef struct {
    char base[256], golden_path[256];
    int n_ad;
    char ad[MAX_AD][256];
    float w[MAX_AD];
    golden g;
    ol_adapter *adapters[MAX_AD];
    float *alone[8]; /* per golden sequence */
} tcase;

static tcase g_cases[MAX_CASES];
static int g_n;

static void read_manifest(void) {
    FILE *f = fopen(test_data("adapters/manifest.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[2048];
    while (fgets(line, sizeof(line), f) && g_n < MAX_CASES) {
        if (line[0] == '#' || line[0] == '\n') continue;
        tcase *c = &g_cases[g_n];
        int off = 0;
        if (sscanf(line, "%255s %255s %d%n", c->base, c->golden_path, &c->n_ad, &off) != 3 ||
            c->n_ad < 0 || c->n_ad > MAX_AD) {
            CHECK(0);
            continue;
        }
        char *p = line + off;
        for (int i = 0; i < c->n_ad; i++) {
            int k = 0;
            if (sscanf(p, "%255s %f%n", c->ad[i], &c->w[i], &k) != 2) CHECK(0);
            p += k;
        }
        g_n++;
    }
    fclose(f);
}

static char *path_of(const char *rel) {
    static char buf[2][4096];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof(buf[k]), "%s", test_data(rel));
    return buf[k];
}

/* Run sequence ids[0..n) alone with the case's adapters; logits at every position. */
static float *run_alone(ol_model_ctx *ctx, ol_kv_pool *kv, const ol_model *m, tcase *c,
                        const golden_seq *q) {
    ol_err err;
    const int V = ol_model_hparams(m)->n_vocab;
    ol_kv_seq seq;
    ol_kv_seq_init(&seq);
    CHECK_EQ_INT(ol_kv_seq_reserve(kv, &seq, q->n_tokens), 0);
    int32_t pos[64], sid[64] = {0};
    int8_t want[64];
    for (int i = 0; i < q->n_tokens; i++) pos[i] = i, want[i] = 1;
    ol_batch_lora bl[MAX_AD];
    for (int i = 0; i < c->n_ad; i++)
        bl[i] = (ol_batch_lora){0, q->n_tokens, ol_adapter_weights(c->adapters[i]), c->w[i]};
    ol_kv_seq *seqs[1] = {&seq};
    ol_batch b = {q->n_tokens, q->ids, pos, sid, want, 1, seqs, c->n_ad, bl};
    float *out = malloc(sizeof(float) * (size_t)q->n_tokens * (size_t)V);
    if (ol_model_forward(ctx, kv, &b, out, &err)) {
        fprintf(stderr, "forward: %s\n", err.msg);
        CHECK(0);
    }
    ol_kv_seq_release(kv, &seq);
    return out;
}

static void check_base(const char *base, double rel_tol) {
    ol_err err;
    ol_model *m = ol_model_load(path_of(base), &err);
    CHECK(m != NULL);
    if (!m) return;
    const int V = ol_model_hparams(m)->n_vocab;
    ol_cpu *cpu = ol_cpu_create(2, OL_CPU_TIER_COUNT, &err);
    ol_kv_pool *kv = ol_model_kv_pool_create(m, OL_DTYPE_F32, 4 << 20, 4, &err);
    ol_model_ctx *ctx = ol_model_ctx_create(m, cpu, 256, &err);
    CHECK(cpu && kv && ctx);
    int idx[MAX_CASES], n = 0;
    for (int i = 0; i < g_n; i++)
        if (!strcmp(g_cases[i].base, base)) idx[n++] = i;
    CHECK(n >= 5);
    for (int k = 0; k < n; k++) {
        tcase *c = &g_cases[idx[k]];
        CHECK_EQ_INT(read_golden(path_of(c->golden_path), &c->g), 0);
        for (int i = 0; i < c->n_ad; i++) {
            c->adapters[i] = ol_adapter_load(path_of(c->ad[i]), m, &err);
            if (!c->adapters[i]) fprintf(stderr, "%s: %s\n", c->ad[i], err.msg);
            CHECK(c->adapters[i] != NULL);
        }
        bool ok = true;
        for (int i = 0; i < c->n_ad; i++) ok &= c->adapters[i] != NULL;
        if (!ok || c->g.n_seqs < 1) continue;
        double worst = 0;
        for (int s = 0; s < c->g.n_seqs; s++) {
            const golden_seq *q = &c->g.seqs[s];
            c->alone[s] = run_alone(ctx, kv, m, c, q);
            for (int t = 0; t < q->n_tokens; t++) {
                double sc, d = max_diff(c->alone[s] + (size_t)t * V, q->logits + (size_t)t * V,
                                        (size_t)V, &sc);
                d /= sc > 1 ? sc : 1;
                if (d > worst) worst = d;
            }
        }
        printf("%-60s %d adapter(s): worst relative logit error vs PEFT %.2e\n", c->golden_path,
               c->n_ad, worst);
        CHECK_NEAR(worst, 0, rel_tol);
    }
    /* one ragged batch: the longest golden sequence once per case, each with its adapter set */
    int32_t tok[512], pos[512], sid[512];
    int8_t want[512];
    ol_batch_lora bl[MAX_CASES * MAX_AD];
    ol_kv_seq kseq[MAX_CASES];
    ol_kv_seq *seqs[MAX_CASES];
    int nt = 0, nl = 0, ns = 0, first[MAX_CASES], used[MAX_CASES];
    for (int k = 0; k < n; k++) {
        tcase *c = &g_cases[idx[k]];
        if (!c->alone[0]) continue;
        int s = k % c->g.n_seqs; /* vary which sequence each case contributes */
        const golden_seq *q = &c->g.seqs[s];
        if (nt + q->n_tokens > 256) break;
        ol_kv_seq_init(&kseq[ns]);
        CHECK_EQ_INT(ol_kv_seq_reserve(kv, &kseq[ns], q->n_tokens), 0);
        seqs[ns] = &kseq[ns];
        first[ns] = nt;
        used[ns] = idx[k] * 8 + s;
        for (int i = 0; i < c->n_ad; i++)
            bl[nl++] =
                (ol_batch_lora){nt, q->n_tokens, ol_adapter_weights(c->adapters[i]), c->w[i]};
        for (int t = 0; t < q->n_tokens; t++, nt++)
            tok[nt] = q->ids[t], pos[nt] = t, sid[nt] = ns, want[nt] = 1;
        ns++;
    }
    float *out = malloc(sizeof(float) * (size_t)nt * (size_t)V);
    ol_batch b = {nt, tok, pos, sid, want, ns, seqs, nl, bl};
    CHECK_EQ_INT(ol_model_forward(ctx, kv, &b, out, &err), 0);
    double worst = 0;
    for (int s = 0; s < ns; s++) {
        const tcase *c = &g_cases[used[s] / 8];
        const int gs = used[s] % 8;
        for (int t = 0; t < c->g.seqs[gs].n_tokens; t++) {
            double sc, d = max_diff(out + (size_t)(first[s] + t) * V, c->alone[gs] + (size_t)t * V,
                                    (size_t)V, &sc);
            if (d > worst) worst = d;
        }
        ol_kv_seq_release(kv, &kseq[s]);
    }
    printf("%s: one batch of %d sequences, %d tokens, %d LoRA segments: max |batch - alone| %.2e\n",
           base, ns, nt, nl, worst);
    CHECK(ns >= 5);
    CHECK_NEAR(worst, 0, 1e-4);
    free(out);
    for (int k = 0; k < n; k++) {
        tcase *c = &g_cases[idx[k]];
        for (int i = 0; i < c->n_ad; i++) ol_adapter_destroy(c->adapters[i]);
        for (int s = 0; s < 8; s++) free(c->alone[s]);
        free_golden(&c->g);
    }
    ol_model_ctx_destroy(ctx);
    ol_kv_pool_destroy(kv);
    ol_cpu_destroy(cpu);
    ol_model_destroy(m);
}

int main(void) {
    read_manifest();
    CHECK(g_n >= 10);
    check_base("models/tiny_llama.gguf", 1e-4);
    /* F16 weights: activations are rounded to F16 for the base matmuls, as llama.cpp does */
    check_base("models/tiny_gemma3.gguf", 5e-3);
    return test_done("test_lora_peft");
}
