/* tests/unit/model/test_real_greedy.c: greedy continuations on the real default model (Gemma 3
 * 270M Q4_K_M) against llama.cpp's (golden from tools/gen_real_goldens.py via llama-cpp-python).
 * Our tokenizer must reproduce llama.cpp's prompt ids. Then, feeding llama.cpp's tokens
 * (teacher forcing), our argmax must equal llama.cpp's at every one of the 32 steps of every
 * case, except at a near-tie: where the two engines' relative logit of their two picks differs
 * by less than NEAR_TIE (llama.cpp's top-2 gap + our gap between our pick and its pick). At
 * least 90% of all steps must agree exactly. Why a tie band at all: both engines
 * quantize activations to 8 bits, and moving a handful of roundings by one step (half-to-even
 * versus half-away, which is all that separates our scalar and SIMD tiers) moves this model's
 * logits by 0.06-0.17 on average and up to ~1.1 (measured). The model comes from $OL_MODEL or
 * the cache; without it the test skips, unless OL_REQUIRE_MODEL=1. */
#include "model/model.h"
#include "test.h"
#include "tokenizer/tokenizer.h"

#include <stdbool.h>

#define NEAR_TIE 0.6

static const char *model_path(void) {
    static char buf[4096];
    const char *e = getenv("OL_MODEL");
    if (e && *e) return e;
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (x && *x)
        snprintf(buf, sizeof(buf), "%s/openlora/gemma-3-270m-q4_k_m.gguf", x);
    else
        snprintf(buf, sizeof(buf), "%s/.cache/openlora/gemma-3-270m-q4_k_m.gguf", h ? h : ".");
    return buf;
}

/* decode a JSON string literal line (the prompt) in place; returns length */
static size_t json_unescape(char *s) {
    char *r = s, *w = s;
    if (*r == '"') r++;
    while (*r && *r != '"') {
        if (*r == '\\' && r[1]) {
            r++;
            char c = *r++;
            if (c == 'n')
                *w++ = '\n';
            else if (c == 't')
                *w++ = '\t';
            else if (c == 'r')
                *w++ = '\r';
            else if (c == 'u') {
                unsigned cp = 0;
                sscanf(r, "%4x", &cp);
                r += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && r[0] == '\\' && r[1] == 'u') {
                    unsigned lo = 0;
                    sscanf(r + 2, "%4x", &lo);
                    r += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp < 0x80)
                    *w++ = (char)cp;
                else if (cp < 0x800)
                    *w++ = (char)(0xC0 | cp >> 6), *w++ = (char)(0x80 | (cp & 63));
                else if (cp < 0x10000)
                    *w++ = (char)(0xE0 | cp >> 12), *w++ = (char)(0x80 | ((cp >> 6) & 63)),
                    *w++ = (char)(0x80 | (cp & 63));
                else
                    *w++ = (char)(0xF0 | cp >> 18), *w++ = (char)(0x80 | ((cp >> 12) & 63)),
                    *w++ = (char)(0x80 | ((cp >> 6) & 63)), *w++ = (char)(0x80 | (cp & 63));
            } else
                *w++ = c;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

int main(void) {
    const char *mp = model_path();
    FILE *mf = fopen(mp, "rb");
    if (!mf) {
        const char *req = getenv("OL_REQUIRE_MODEL");
        printf("SKIP: default model not found at %s (run scripts/fetch_model.sh)\n", mp);
        if (req && !strcmp(req, "1")) {
            CHECK(0);
            return test_done("test_real_greedy");
        }
        return 0;
    }
    fclose(mf);
    FILE *f = fopen(test_data("real/gemma3_greedy.txt"), "r");
    CHECK(f != NULL);
    if (!f) return test_done("test_real_greedy");
    ol_err err;
    ol_model *m = ol_model_load(mp, &err);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return test_done("test_real_greedy");
    }
    ol_tokenizer *tok = ol_tokenizer_create(ol_model_gguf(m), &err);
    CHECK(tok != NULL);
    const ol_hparams *hp = ol_model_hparams(m);
    ol_cpu *cpu = ol_cpu_create(2, OL_CPU_TIER_COUNT, &err);
    ol_kv_pool *kv = ol_model_kv_pool_create(m, OL_DTYPE_F16, 64u << 20, 16, &err);
    ol_model_ctx *ctx = ol_model_ctx_create(m, cpu, 256, &err);
    CHECK(cpu && kv && ctx && tok);
    float *logits = malloc(sizeof(float) * (size_t)hp->n_vocab);
    char magic[64], *line = malloc(1 << 16);
    int ver, n_cases = 0, n_exact = 0, n_tie = 0, n_steps = 0, n_equal = 0;
    if (fscanf(f, "%63s %d", magic, &ver) != 2 || strcmp(magic, "openlora-greedy")) CHECK(0);
    int np, ng;
    while (fscanf(f, " case %d %d ", &np, &ng) == 2) {
        if (np < 1 || np > 256 || ng < 1 || ng > 256) {
            CHECK(0);
            break;
        }
        if (!fgets(line, 1 << 16, f)) break;
        line[strcspn(line, "\n")] = 0;
        size_t plen = json_unescape(line);
        int32_t pids[256], gids[256];
        double margins[256] = {0};
        int32_t second[256];
        bool have_second = false;
        for (int i = 0; i < np; i++) CHECK(fscanf(f, "%d", &pids[i]) == 1);
        for (int i = 0; i < ng; i++) CHECK(fscanf(f, "%d", &gids[i]) == 1);
        char word[32];
        for (int k = 0; k < 2; k++) {
            long at = ftell(f);
            if (fscanf(f, " %31s", word) != 1) break;
            if (!strcmp(word, "margins")) {
                for (int i = 0; i < ng; i++) CHECK(fscanf(f, "%lf", &margins[i]) == 1);
            } else if (!strcmp(word, "second")) {
                for (int i = 0; i < ng; i++) CHECK(fscanf(f, "%d", &second[i]) == 1);
                have_second = true;
            } else {
                fseek(f, at, SEEK_SET);
                break;
            }
        }
        n_cases++;
        /* our tokenizer gives llama.cpp's prompt ids */
        int32_t *ours = NULL;
        int n_ours = 0;
        CHECK_EQ_INT(ol_tokenizer_encode(tok, line, plen, true, false, &ours, &n_ours, &err), 0);
        CHECK_EQ_INT(n_ours, np);
        int same = n_ours == np;
        for (int i = 0; same && i < np; i++) same = ours[i] == pids[i];
        CHECK(same);
        free(ours);
        /* greedy from llama.cpp's prompt ids */
        ol_kv_seq seq;
        ol_kv_seq_init(&seq);
        CHECK_EQ_INT(ol_kv_seq_reserve(kv, &seq, np + ng), 0);
        int32_t pos[256], sid[256] = {0};
        for (int i = 0; i < np; i++) pos[i] = i;
        ol_kv_seq *seqs[1] = {&seq};
        ol_batch b = {np, pids, pos, sid, NULL, 1, seqs, 0, NULL};
        CHECK_EQ_INT(ol_model_forward(ctx, kv, &b, logits, &err), 0);
        int n_tie_case = 0, n_bad_case = 0;
        for (int i = 0; i < ng; i++) {
            int t = argmax(logits, hp->n_vocab);
            n_steps++;
            if (t == gids[i]) {
                n_equal++;
            } else if (margins[i] + (logits[t] - logits[gids[i]]) < NEAR_TIE) {
                /* llama.cpp's top-2 gap plus our gap between our pick and its pick is how far
                 * the two engines disagree on the relative logit of those two tokens: within
                 * the noise band, this is a near-tie, not an error */
                n_tie_case++;
                printf("case %d step %d: near-tie (llama.cpp gap %.4f, ours %.4f): ours %d%s\n",
                       n_cases, i, margins[i], logits[t] - logits[gids[i]], t,
                       have_second && t == second[i] ? " = its runner-up" : "");
            } else {
                n_bad_case++;
                printf("case %d '%s' step %d: ours %d, llama.cpp %d (its gap %.4f, ours %.4f, "
                       "its runner-up %d)\n",
                       n_cases, line, i, t, gids[i], margins[i], logits[t] - logits[gids[i]],
                       have_second ? second[i] : -1);
            }
            if (i + 1 == ng) break;
            int32_t p1 = np + i; /* teacher forcing: continue from llama.cpp's token */
            ol_batch d = {1, &gids[i], &p1, sid, NULL, 1, seqs, 0, NULL};
            CHECK_EQ_INT(ol_model_forward(ctx, kv, &d, logits, &err), 0);
        }
        CHECK_EQ_INT(n_bad_case, 0);
        n_tie += n_tie_case;
        n_exact += n_tie_case == 0 && n_bad_case == 0;
        ol_kv_seq_release(kv, &seq);
    }
    printf("real model: %d cases, %d steps: %d argmax equal to llama.cpp, %d near-ties; "
           "%d cases equal at every step\n",
           n_cases, n_steps, n_equal, n_tie, n_exact);
    CHECK(n_cases >= 5);
    CHECK(n_equal >= n_steps * 9 / 10); /* ties are the exception, not the rule */
    fclose(f);
    free(line);
    free(logits);
    ol_model_ctx_destroy(ctx);
    ol_kv_pool_destroy(kv);
    ol_cpu_destroy(cpu);
    ol_tokenizer_destroy(tok);
    ol_model_destroy(m);
    return test_done("test_real_greedy");
}
