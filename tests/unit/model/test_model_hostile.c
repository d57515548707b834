/* tests/unit/model/test_model_hostile.c: valid GGUF containers with wrong model content
 * (tools/gen_hostile_models.py): unknown architecture, missing tensors and keys, wrong shapes
 * and key types, inconsistent head counts, absurd sizes, per-layer arrays, bad epsilon, NaN
 * RoPE base, unsupported tensor types. Each load must fail with a message naming the problem
 * (and never crash); the control file must load. Also: a batch that lies (bad token, sequence,
 * position, no KV reserved) is refused by forward. */
#include "model/model.h"
#include "test.h"

static void test_files(void) {
    FILE *f = fopen(test_data("hostile/cases.txt"), "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = 0;
        const char *expect = sp + 1;
        char path[4096 + 512];
        snprintf(path, sizeof(path), "%s", test_data("hostile/"));
        strncat(path, line, sizeof(path) - strlen(path) - 1);
        ol_err err = {0};
        ol_model *m = ol_model_load(path, &err);
        n++;
        if (!strcmp(expect, "OK")) {
            if (!m) fprintf(stderr, "%s: %s\n", line, err.msg);
            CHECK(m != NULL);
        } else {
            CHECK(m == NULL);
            CHECK(err.code != 0);
            CHECK_STR_CONTAINS(err.msg, expect);
            printf("%-28s -> %s\n", line, err.msg);
        }
        ol_model_destroy(m);
    }
    fclose(f);
    CHECK(n >= 15);
    ol_err err;
    CHECK(ol_model_load("/nonexistent/model.gguf", &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "cannot open");
}

static void test_bad_batches(void) {
    ol_err err;
    ol_model *m = ol_model_load(test_data("hostile/ok.gguf"), &err);
    CHECK(m != NULL);
    if (!m) return;
    ol_cpu *cpu = ol_cpu_create(1, OL_CPU_TIER_COUNT, &err);
    ol_kv_pool *kv = ol_model_kv_pool_create(m, OL_DTYPE_F32, 1 << 16, 4, &err);
    ol_model_ctx *ctx = ol_model_ctx_create(m, cpu, 8, &err);
    CHECK(cpu && kv && ctx);
    float logits[64 * 8];
    ol_kv_seq s;
    ol_kv_seq_init(&s);
    CHECK_EQ_INT(ol_kv_seq_reserve(kv, &s, 4), 0);
    ol_kv_seq *seqs[1] = {&s};
    int32_t tok[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, pos[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8},
            sid[9] = {0};
    struct {
        int n_tokens, n_seqs;
        int32_t t0, p0, s0;
        const char *msg;
    } cases[] = {
        {0, 1, 1, 0, 0, "0 tokens"},
        {9, 1, 1, 0, 0, "9 tokens"},
        {1, 1, 64, 0, 0, "outside vocabulary"},
        {1, 1, -1, 0, 0, "outside vocabulary"},
        {1, 1, 1, 0, 1, "sequence 1 of 1"},
        {1, 1, 1, -3, 0, "no reserved KV block"},
        {1, 1, 1, 4, 0, "no reserved KV block"},
        {1, 1, 1, 2, 0, "starts at position 2 but holds KV for 0"},
        {1, 2, 1, 0, 0, "2 sequences for 1 tokens"},
    };
    for (size_t i = 0; i < OL_ARRAY_LEN(cases); i++) {
        tok[0] = cases[i].t0, pos[0] = cases[i].p0, sid[0] = cases[i].s0;
        ol_batch b = {cases[i].n_tokens, tok, pos, sid, NULL, cases[i].n_seqs, seqs, 0, NULL};
        CHECK_EQ_INT(ol_model_forward(ctx, kv, &b, logits, &err), OL_EINVAL);
        CHECK_STR_CONTAINS(err.msg, cases[i].msg);
        CHECK_EQ_INT(s.n_tokens, 0);
    }
    /* non-consecutive positions inside one sequence */
    int32_t p2[2] = {0, 2}, s2[2] = {0, 0};
    ol_batch b2 = {2, tok, p2, s2, NULL, 1, seqs, 0, NULL};
    CHECK_EQ_INT(ol_model_forward(ctx, kv, &b2, logits, &err), OL_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "not consecutive");
    /* and a good one still works afterwards */
    tok[0] = 1, pos[0] = 0, sid[0] = 0;
    ol_batch ok = {1, tok, pos, sid, NULL, 1, seqs, 0, NULL};
    CHECK_EQ_INT(ol_model_forward(ctx, kv, &ok, logits, &err), 0);
    CHECK_EQ_INT(s.n_tokens, 1);
    ol_kv_seq_release(kv, &s);
    ol_model_ctx_destroy(ctx);
    ol_kv_pool_destroy(kv);
    ol_cpu_destroy(cpu);
    ol_model_destroy(m);
}

int main(void) {
    test_files();
    test_bad_batches();
    return test_done("test_model_hostile");
}
