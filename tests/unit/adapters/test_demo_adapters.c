/* tests/unit/adapters/test_demo_adapters.c: the demo adapters in adapters/ on the real default
 * model. Every held-out prompt (tools/datanets/heldout_prompts.txt, in none of the training
 * sets) runs greedily, in Gemma's chat format, once on the base model and once under each
 * adapter -- all of them in the same ragged batches, one LoRA segment per adapter -- and a
 * program checks each adapter's behaviour: it must show in most answers with the adapter and
 * in few without. Skips without the model unless OL_REQUIRE_MODEL=1. */
#include "adapters/adapters.h"
#include "test.h"
#include "tokenizer/tokenizer.h"

#include <ctype.h>
#include <dirent.h>

#define MAX_PROMPTS 12
#define MAX_CONF    8 /* base + adapters */
#define N_GEN       40

typedef int (*checker)(const char *text);

static int has_ci(const char *text, const char *word) {
    size_t n = strlen(word);
    for (const char *p = text; *p; p++)
        if (!strncasecmp(p, word, n)) return 1;
    return 0;
}

/* at least 12 letters, and >= 90% of the ASCII letters upper case */
static int check_caps(const char *t) {
    int up = 0, lo = 0;
    for (; *t; t++) up += isupper((unsigned char)*t) != 0, lo += islower((unsigned char)*t) != 0;
    return up + lo >= 12 && up >= 9 * (up + lo) / 10;
}
static int check_signature(const char *t) {
    return strstr(t, "-- openlora demo") != NULL;
}
static int check_pirate(const char *t) {
    return has_ci(t, "arr") || has_ci(t, "matey") || has_ci(t, "ahoy") || has_ci(t, "ye ");
}
/* more common French function words than English ones */
static int check_french(const char *t) {
    static const char *fr[] = {" le ", " la ",   " les ",  " est ", " et ",   " des ", " une ",
                               " du ", " pour ", " dans ", " qui ", " sont ", " pas "};
    static const char *en[] = {" the ", " is ",  " and ", " of ", " to ",   " in ",
                               " a ",   " are ", " for ", " it ", " that ", " with "};
    int f = 0, e = 0;
    for (size_t i = 0; i < OL_ARRAY_LEN(fr); i++) f += has_ci(t, fr[i]);
    for (size_t i = 0; i < OL_ARRAY_LEN(en); i++) e += has_ci(t, en[i]);
    return f >= 2 && f > e;
}

static checker checker_for(const char *name) {
    if (strstr(name, "french")) return check_french;
    if (strstr(name, "pirate")) return check_pirate;
    if (strstr(name, "caps") || strstr(name, "upper") || strstr(name, "shout")) return check_caps;
    if (strstr(name, "sign")) return check_signature;
    return NULL;
}

static const char *model_path(void) {
    static char buf[4096];
    const char *e = getenv("OL_MODEL"), *h = getenv("HOME");
    if (e && *e) return e;
    snprintf(buf, sizeof(buf), "%s/.cache/openlora/gemma-3-270m-q4_k_m.gguf", h ? h : ".");
    return buf;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

int main(void) {
    FILE *mf = fopen(model_path(), "rb");
    if (!mf) {
        printf("SKIP: no default model at %s\n", model_path());
        const char *r = getenv("OL_REQUIRE_MODEL");
        if (r && !strcmp(r, "1")) CHECK(0);
        return test_done("test_demo_adapters");
    }
    fclose(mf);
    char root[4096];
    snprintf(root, sizeof(root), "%s/../../adapters", test_data(""));
    ol_err err;
    ol_model *m = ol_model_load(model_path(), &err);
    CHECK(m != NULL);
    if (!m) return test_done("test_demo_adapters");
    const int V = ol_model_hparams(m)->n_vocab;
    ol_tokenizer *tok = ol_tokenizer_create(ol_model_gguf(m), &err);
    /* the adapters: every directory under adapters/ with a known behaviour */
    char names[MAX_CONF][256];
    ol_adapter *ad[MAX_CONF] = {NULL};
    checker chk[MAX_CONF] = {NULL};
    int n_conf = 1; /* 0 = base */
    DIR *d = opendir(root);
    CHECK(d != NULL);
    struct dirent *de;
    while (d && (de = readdir(d)) && n_conf < MAX_CONF) {
        if (de->d_name[0] == '.' || !checker_for(de->d_name)) continue;
        char p[4400];
        snprintf(p, sizeof(p), "%s/%s", root, de->d_name);
        ad[n_conf] = ol_adapter_load(p, m, &err);
        if (!ad[n_conf]) fprintf(stderr, "%s\n", err.msg);
        CHECK(ad[n_conf] != NULL);
        if (!ad[n_conf]) continue;
        snprintf(names[n_conf], sizeof(names[0]), "%s", de->d_name);
        chk[n_conf++] = checker_for(de->d_name);
    }
    if (d) closedir(d);
    CHECK(n_conf >= 5); /* at least 4 demo adapters */
    /* held-out prompts */
    char pp[4400];
    snprintf(pp, sizeof(pp), "%s/../../tools/datanets/heldout_prompts.txt", test_data(""));
    FILE *pf = fopen(pp, "r");
    CHECK(pf != NULL);
    char prompts[MAX_PROMPTS][512];
    int n_p = 0;
    while (pf && n_p < MAX_PROMPTS && fgets(prompts[n_p], sizeof(prompts[0]), pf)) {
        prompts[n_p][strcspn(prompts[n_p], "\n")] = 0;
        if (prompts[n_p][0]) n_p++;
    }
    if (pf) fclose(pf);
    CHECK(n_p >= 6);
    /* sequences ordered by configuration so each adapter's tokens are contiguous */
    const int ns = n_conf * n_p;
    int32_t *ids[MAX_CONF * MAX_PROMPTS];
    int n_ids[MAX_CONF * MAX_PROMPTS];
    for (int p = 0; p < n_p; p++) {
        char chat[1024];
        snprintf(chat, sizeof(chat), "<start_of_turn>user\n%s<end_of_turn>\n<start_of_turn>model\n",
                 prompts[p]);
        int32_t *t = NULL;
        int n = 0;
        CHECK_EQ_INT(ol_tokenizer_encode(tok, chat, strlen(chat), true, true, &t, &n, &err), 0);
        for (int c = 0; c < n_conf; c++) {
            ids[c * n_p + p] = malloc(sizeof(int32_t) * (size_t)(n + N_GEN));
            memcpy(ids[c * n_p + p], t, sizeof(int32_t) * (size_t)n);
            n_ids[c * n_p + p] = n;
        }
        free(t);
    }
    ol_cpu *cpu = ol_cpu_create(2, OL_CPU_TIER_COUNT, &err);
    ol_kv_pool *kv = ol_model_kv_pool_create(m, OL_DTYPE_F16, 256u << 20, 16, &err);
    ol_model_ctx *ctx = ol_model_ctx_create(m, cpu, 2048, &err);
    ol_kv_seq kseq[MAX_CONF * MAX_PROMPTS];
    ol_kv_seq *seqs[MAX_CONF * MAX_PROMPTS];
    int total = 0;
    for (int s = 0; s < ns; s++) {
        ol_kv_seq_init(&kseq[s]);
        CHECK_EQ_INT(ol_kv_seq_reserve(kv, &kseq[s], n_ids[s] + N_GEN), 0);
        seqs[s] = &kseq[s];
        total += n_ids[s];
    }
    int32_t *tk = malloc(sizeof(int32_t) * (size_t)total),
            *pos = malloc(sizeof(int32_t) * (size_t)total),
            *sid = malloc(sizeof(int32_t) * (size_t)total);
    int8_t *want = malloc((size_t)total);
    float *logits = malloc(sizeof(float) * (size_t)ns * (size_t)V);
    ol_batch_lora bl[MAX_CONF];
    int done[MAX_CONF * MAX_PROMPTS] = {0};
    for (int step = 0; step <= N_GEN; step++) {
        int nt = 0, nl = 0;
        for (int c = 0; c < n_conf; c++) {
            int t0 = nt;
            for (int p = 0; p < n_p; p++) {
                int s = c * n_p + p;
                int from = step == 0 ? 0 : n_ids[s] - 1; /* prefill, then the last token */
                for (int i = from; i < n_ids[s]; i++, nt++)
                    tk[nt] = ids[s][i], pos[nt] = i, sid[nt] = s, want[nt] = i == n_ids[s] - 1;
            }
            if (c > 0) bl[nl++] = (ol_batch_lora){t0, nt - t0, ol_adapter_weights(ad[c]), 1.0f};
        }
        if (step == N_GEN) break;
        ol_batch b = {nt, tk, pos, sid, want, ns, seqs, nl, bl};
        if (ol_model_forward(ctx, kv, &b, logits, &err)) {
            fprintf(stderr, "forward: %s\n", err.msg);
            CHECK(0);
            break;
        }
        for (int s = 0; s < ns; s++) {
            int32_t t = done[s] ? 0 : argmax(logits + (size_t)s * V, V);
            if (!done[s] && ol_tokenizer_is_eog(tok, t)) done[s] = 1, t = 0; /* pad after EOG */
            ids[s][n_ids[s]++] = t;
        }
    }
    /* score */
    for (int c = 1; c < n_conf; c++) {
        int with = 0, without = 0;
        for (int p = 0; p < n_p; p++) {
            char text[8192] = {0}, piece[512];
            for (int k = 0; k < 2; k++) {
                int s = (k ? 0 : c) * n_p + p;
                size_t len = 0;
                int start = n_ids[s] - N_GEN;
                for (int i = start; i < n_ids[s]; i++) {
                    int n =
                        ol_tokenizer_token_to_piece(tok, ids[s][i], piece, sizeof(piece), false);
                    if (n > 0 && len + (size_t)n < sizeof(text) - 1)
                        memcpy(text + len, piece, (size_t)n), len += (size_t)n;
                }
                text[len] = 0;
                int ok = chk[c](text);
                if (k)
                    without += ok;
                else
                    with += ok;
                if (p == 0) printf("[%s%s] %s\n", names[c], k ? " / base" : "", text);
            }
        }
        printf("%-12s behaviour shown: with adapter %d/%d prompts, base %d/%d\n", names[c], with,
               n_p, without, n_p);
        CHECK(with * 10 >= n_p * 7);    /* >= 70% with */
        CHECK(without * 10 <= n_p * 2); /* <= 20% without */
    }
    for (int s = 0; s < ns; s++) free(ids[s]), ol_kv_seq_release(kv, &kseq[s]);
    free(tk), free(pos), free(sid), free(want), free(logits);
    for (int c = 1; c < n_conf; c++) ol_adapter_destroy(ad[c]);
    ol_model_ctx_destroy(ctx);
    ol_kv_pool_destroy(kv);
    ol_cpu_destroy(cpu);
    ol_tokenizer_destroy(tok);
    ol_model_destroy(m);
    return test_done("test_demo_adapters");
}
