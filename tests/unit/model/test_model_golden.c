/* tests/unit/model/test_model_golden.c: our logits on tiny random-weight Llama, Qwen2 and
 * Gemma 3 fixtures against HF transformers (float32) logits computed by
 * tools/gen_tiny_models.py — for every position of each sequence run alone, and for one mixed
 * ragged batch (a decode token, a whole prefill and a prefill chunk in one call) whose every
 * sequence must equal its run alone. F32 and F16 KV caches, 1 and 2 threads. */
#include "model/model.h"
#include "golden.h"
#include "test.h"

#include <math.h>

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Run one sequence alone: all tokens in one prefill call, logits at every position. */
static float *run_alone(ol_model_ctx *ctx, ol_kv_pool *kv, const golden_seq *q, int n_vocab) {
    ol_err err;
    ol_kv_seq seq;
    ol_kv_seq_init(&seq);
    if (ol_kv_seq_reserve(kv, &seq, q->n_tokens)) return NULL;
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)q->n_tokens);
    int32_t *sid = calloc((size_t)q->n_tokens, sizeof(int32_t));
    int8_t *want = malloc((size_t)q->n_tokens);
    for (int i = 0; i < q->n_tokens; i++) pos[i] = i, want[i] = 1;
    float *out = malloc(sizeof(float) * (size_t)q->n_tokens * (size_t)n_vocab);
    ol_kv_seq *seqs[1] = {&seq};
    ol_batch b = {.n_tokens = q->n_tokens,
                  .tokens = q->ids,
                  .pos = pos,
                  .seq = sid,
                  .logits = want,
                  .n_seqs = 1,
                  .seqs = seqs};
    int rc = ol_model_forward(ctx, kv, &b, out, &err);
    if (rc) {
        fprintf(stderr, "forward failed: %s\n", err.msg);
        free(out);
        out = NULL;
    }
    CHECK_EQ_INT(seq.n_tokens, q->n_tokens);
    ol_kv_seq_release(kv, &seq);
    free(pos);
    free(sid);
    free(want);
    return out;
}

/* Mixed ragged batches over three sequences A, B, C (needs >= 3 golden sequences, with
 * lengths a >= 2, c >= 3): step 1: A[0..a-1) alone. Step 2: A's last token (decode), all of B
 * (prefill) and C[0..c/2) (chunk), in one call. Step 3: C[c/2..c). Every logit row produced is
 * compared with the sequence's run-alone row at the same position. */
static void run_mixed(ol_model_ctx *ctx, ol_kv_pool *kv, const golden *g, float *const alone[],
                      int n_vocab, double tol) {
    const golden_seq *A = &g->seqs[2], *B = &g->seqs[0], *C = &g->seqs[1];
    if (A->n_tokens < 2 || C->n_tokens < 3) return;
    ol_err err;
    ol_kv_seq sa, sb, sc;
    ol_kv_seq_init(&sa), ol_kv_seq_init(&sb), ol_kv_seq_init(&sc);
    CHECK_EQ_INT(ol_kv_seq_reserve(kv, &sa, A->n_tokens), 0);
    CHECK_EQ_INT(ol_kv_seq_reserve(kv, &sb, B->n_tokens), 0);
    CHECK_EQ_INT(ol_kv_seq_reserve(kv, &sc, C->n_tokens), 0);
    int cap = A->n_tokens + B->n_tokens + C->n_tokens;
    int32_t *tok = malloc(sizeof(int32_t) * cap), *pos = malloc(sizeof(int32_t) * cap),
            *sid = malloc(sizeof(int32_t) * cap);
    int8_t *want = malloc((size_t)cap);
    int *src_seq = malloc(sizeof(int) * cap), *src_pos = malloc(sizeof(int) * cap);
    float *out = malloc(sizeof(float) * (size_t)cap * (size_t)n_vocab);
    /* step 1 */
    int n = 0;
    for (int i = 0; i < A->n_tokens - 1; i++, n++)
        tok[n] = A->ids[i], pos[n] = i, sid[n] = 0, want[n] = 1;
    ol_kv_seq *seqs1[1] = {&sa};
    ol_batch b1 = {n, tok, pos, sid, want, 1, seqs1, 0, NULL};
    CHECK_EQ_INT(ol_model_forward(ctx, kv, &b1, out, &err), 0);
    for (int i = 0; i < n; i++) {
        double s,
            d = max_diff(out + (size_t)i * n_vocab, alone[2] + (size_t)i * n_vocab, n_vocab, &s);
        CHECK_NEAR(d, 0, tol);
    }
    /* step 2: sequences 0 = A (decode), 1 = B (full prefill), 2 = C (first chunk) */
    n = 0;
    int na = A->n_tokens - 1, cc = C->n_tokens / 2;
    tok[n] = A->ids[na], pos[n] = na, sid[n] = 0, want[n] = 1, src_seq[n] = 2, src_pos[n] = na, n++;
    for (int i = 0; i < B->n_tokens; i++, n++)
        tok[n] = B->ids[i], pos[n] = i, sid[n] = 1, want[n] = 1, src_seq[n] = 0, src_pos[n] = i;
    for (int i = 0; i < cc; i++, n++)
        tok[n] = C->ids[i], pos[n] = i, sid[n] = 2, want[n] = 1, src_seq[n] = 1, src_pos[n] = i;
    ol_kv_seq *seqs2[3] = {&sa, &sb, &sc};
    ol_batch b2 = {n, tok, pos, sid, want, 3, seqs2, 0, NULL};
    CHECK_EQ_INT(ol_model_forward(ctx, kv, &b2, out, &err), 0);
    for (int i = 0; i < n; i++) {
        double s, d = max_diff(out + (size_t)i * n_vocab,
                               alone[src_seq[i]] + (size_t)src_pos[i] * n_vocab, n_vocab, &s);
        if (d > tol)
            printf("mixed step 2: batch row %d (sequence %d position %d) differs by %g\n", i,
                   src_seq[i], src_pos[i], d);
        CHECK_NEAR(d, 0, tol);
    }
    CHECK_EQ_INT(sa.n_tokens, A->n_tokens);
    CHECK_EQ_INT(sc.n_tokens, cc);
    /* step 3: rest of C, only the last logits (default selection) */
    n = 0;
    for (int i = cc; i < C->n_tokens; i++, n++) tok[n] = C->ids[i], pos[n] = i, sid[n] = 0;
    ol_kv_seq *seqs3[1] = {&sc};
    ol_batch b3 = {n, tok, pos, sid, NULL, 1, seqs3, 0, NULL};
    CHECK_EQ_INT(ol_model_forward(ctx, kv, &b3, out, &err), 0);
    double s, d = max_diff(out, alone[1] + (size_t)(C->n_tokens - 1) * n_vocab, n_vocab, &s);
    CHECK_NEAR(d, 0, tol);
    /* a bad batch is refused with a message, and changes nothing */
    pos[0] = C->n_tokens + 5;
    ol_batch bad = {1, tok, pos, sid, NULL, 1, seqs3, 0, NULL};
    CHECK(ol_model_forward(ctx, kv, &bad, out, &err) != 0);
    tok[0] = n_vocab;
    pos[0] = 0;
    CHECK(ol_model_forward(ctx, kv, &bad, out, &err) != 0);
    CHECK_STR_CONTAINS(err.msg, "outside vocabulary");
    ol_kv_seq_release(kv, &sa), ol_kv_seq_release(kv, &sb), ol_kv_seq_release(kv, &sc);
    free(tok), free(pos), free(sid), free(want), free(src_seq), free(src_pos), free(out);
}

/* tol_abs: allowed max |ours - HF| per logit row, relative to the row's logit scale. */
static void check_model(const char *name, double rel_tol) {
    char path[512], gpath[512];
    snprintf(path, sizeof(path), "%s", test_data(name));
    snprintf(gpath, sizeof(gpath), "%s", path);
    char *dot = strrchr(gpath, '.');
    strcpy(dot, ".logits.txt");
    golden g;
    if (read_golden(gpath, &g)) {
        fprintf(stderr, "%s: missing or malformed golden %s\n", name, gpath);
        CHECK(0);
        return;
    }
    ol_err err;
    ol_model *m = ol_model_load(path, &err);
    if (!m) fprintf(stderr, "%s: %s\n", name, err.msg);
    CHECK(m != NULL);
    if (!m) return;
    const ol_hparams *hp = ol_model_hparams(m);
    for (int threads = 1; threads <= 2; threads++) {
        for (int kvt = 0; kvt < 2; kvt++) {
            ol_dtype kvd = kvt ? OL_DTYPE_F16 : OL_DTYPE_F32;
            /* an F16 KV cache rounds K and V to 11 significant bits */
            double tol = kvt ? (rel_tol * 4 > 2e-3 ? rel_tol * 4 : 2e-3) : rel_tol;
            ol_cpu *cpu = ol_cpu_create(threads, OL_CPU_TIER_COUNT, &err);
            ol_kv_pool *kv = ol_model_kv_pool_create(m, kvd, 1 << 20, 4, &err);
            ol_model_ctx *ctx = ol_model_ctx_create(m, cpu, 64, &err);
            CHECK(cpu && kv && ctx);
            if (!cpu || !kv || !ctx) return;
            float *alone[8] = {0};
            double worst = 0;
            int argmax_bad = 0;
            for (int s = 0; s < g.n_seqs; s++) {
                const golden_seq *q = &g.seqs[s];
                CHECK_EQ_INT(q->n_vocab, hp->n_vocab);
                alone[s] = run_alone(ctx, kv, q, hp->n_vocab);
                CHECK(alone[s] != NULL);
                if (!alone[s]) continue;
                for (int i = 0; i < q->n_tokens; i++) {
                    const float *ours = alone[s] + (size_t)i * hp->n_vocab;
                    const float *ref = q->logits + (size_t)i * q->n_vocab;
                    double sc, d = max_diff(ours, ref, (size_t)hp->n_vocab, &sc);
                    if (d / (sc > 1 ? sc : 1) > worst) worst = d / (sc > 1 ? sc : 1);
                    CHECK_NEAR(d / (sc > 1 ? sc : 1), 0, tol);
                    /* the top token must agree unless HF's own top-2 gap is within tolerance */
                    int ra = argmax(ref, hp->n_vocab), oa = argmax(ours, hp->n_vocab);
                    if (ra != oa && ref[ra] - ref[oa] > 2 * tol * (sc > 1 ? sc : 1)) argmax_bad++;
                }
            }
            printf("%s: threads %d kv %s: worst relative logit error %.2e, argmax mismatches %d\n",
                   name, threads, ol_dtype_name(kvd), worst, argmax_bad);
            CHECK_EQ_INT(argmax_bad, 0);
            /* batch invariance: tight, since the same kernels run */
            if (g.n_seqs >= 3) run_mixed(ctx, kv, &g, alone, hp->n_vocab, 1e-4 * (kvt ? 10 : 1));
            for (int s = 0; s < g.n_seqs; s++) free(alone[s]);
            CHECK_EQ_INT(ol_kv_pool_n_free(kv), ol_kv_pool_n_blocks(kv));
            ol_model_ctx_destroy(ctx);
            ol_kv_pool_destroy(kv);
            ol_cpu_destroy(cpu);
        }
    }
    ol_model_destroy(m);
    free_golden(&g);
}

int main(void) {
    check_model("models/tiny_llama.gguf", 1e-4);
    /* F16 weights: activations are rounded to F16 for the dot products, as llama.cpp does */
    check_model("models/tiny_qwen2.gguf", 5e-3);
    check_model("models/tiny_gemma3.gguf", 5e-3);
    /* quantized weights: HF ran on the dequantized weights; our activations are quantized to
     * 8 bits for the dot products (as llama.cpp does), hence the looser bound */
    check_model("models/tiny_llama_q8_0.gguf", 3e-2);
    FILE *f = fopen(test_data("models/tiny_llama_q4_k.gguf"), "rb");
    if (f) {
        fclose(f);
        check_model("models/tiny_llama_q4_k.gguf", 5e-2);
    }
    return test_done("test_model_golden");
}
