/* tests/unit/sampling/test_sampling.c: the sampler chain (greedy, top-k, temperature, top-p,
 * min-p, penalties), its seeded reproducibility and empirical distribution, logprobs and
 * parameter validation. */
#include "sampling/sampling.h"
#include "test.h"

#include <float.h>

static uint64_t lcg_state = 12345;
static float frand(void) { /* [0, 1) */
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((lcg_state >> 40) * 0x1.0p-24);
}

static ol_sampling_params plain(float temperature) {
    ol_sampling_params p;
    ol_sampling_params_default(&p);
    p.temperature = temperature;
    p.top_k = 0, p.top_p = 1.0f, p.min_p = 0.0f;
    p.seed = 42;
    return p;
}

static ol_sampler *make(const ol_sampling_params *p, int32_t n) {
    ol_err err;
    ol_sampler *s = ol_sampler_create(p, n, &err);
    if (!s) fprintf(stderr, "create failed: %s\n", err.msg);
    CHECK(s != NULL);
    return s;
}

/* ---- parameters ------------------------------------------------------------------------- */
static void expect_invalid(ol_sampling_params p, const char *field) {
    ol_err err;
    ol_err_clear(&err);
    CHECK_EQ_INT(ol_sampling_params_validate(&p, &err), OL_EINVAL);
    CHECK_STR_CONTAINS(err.msg, field);
    CHECK(ol_sampler_create(&p, 10, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, field);
}

static void test_params(void) {
    ol_sampling_params p, d;
    ol_sampling_params_default(&d);
    CHECK_NEAR(d.temperature, 0.8, 1e-7);
    CHECK_EQ_INT(d.top_k, 40);
    CHECK_NEAR(d.top_p, 0.95, 1e-7);
    CHECK_NEAR(d.min_p, 0.05, 1e-7);
    CHECK_NEAR(d.repeat_penalty, 1.0, 0);
    CHECK_EQ_INT(d.repeat_last_n, 64);
    CHECK(d.seed == OL_SAMPLING_SEED_RANDOM);
    CHECK_EQ_INT(ol_sampling_params_validate(&d, NULL), 0);
    CHECK_EQ_INT(ol_sampling_params_validate(NULL, NULL), OL_EINVAL);

    float nan = NAN;
    p = d, p.temperature = -0.1f, expect_invalid(p, "temperature");
    p = d, p.temperature = 100.5f, expect_invalid(p, "temperature");
    p = d, p.temperature = nan, expect_invalid(p, "temperature");
    p = d, p.temperature = INFINITY, expect_invalid(p, "temperature");
    p = d, p.top_p = 0.0f, expect_invalid(p, "top_p");
    p = d, p.top_p = 1.01f, expect_invalid(p, "top_p");
    p = d, p.top_p = nan, expect_invalid(p, "top_p");
    p = d, p.min_p = -0.01f, expect_invalid(p, "min_p");
    p = d, p.min_p = 1.5f, expect_invalid(p, "min_p");
    p = d, p.min_p = nan, expect_invalid(p, "min_p");
    p = d, p.top_k = -1, expect_invalid(p, "top_k");
    p = d, p.repeat_penalty = 0.0f, expect_invalid(p, "repeat_penalty");
    p = d, p.repeat_penalty = 10.5f, expect_invalid(p, "repeat_penalty");
    p = d, p.repeat_penalty = nan, expect_invalid(p, "repeat_penalty");
    p = d, p.presence_penalty = 2.01f, expect_invalid(p, "presence_penalty");
    p = d, p.presence_penalty = -2.5f, expect_invalid(p, "presence_penalty");
    p = d, p.presence_penalty = nan, expect_invalid(p, "presence_penalty");
    p = d, p.frequency_penalty = -INFINITY, expect_invalid(p, "frequency_penalty");
    p = d, p.frequency_penalty = nan, expect_invalid(p, "frequency_penalty");
    p = d, p.repeat_last_n = -2, expect_invalid(p, "repeat_last_n");

    /* the edges of every range are allowed */
    p = d, p.temperature = 0, p.top_p = 1, p.min_p = 1, p.repeat_penalty = 10;
    p.presence_penalty = -2, p.frequency_penalty = 2, p.repeat_last_n = -1, p.top_k = 0;
    CHECK_EQ_INT(ol_sampling_params_validate(&p, NULL), 0);
    p = d, p.temperature = 100, p.min_p = 0, p.presence_penalty = 2, p.frequency_penalty = -2;
    CHECK_EQ_INT(ol_sampling_params_validate(&p, NULL), 0);

    ol_err err;
    CHECK(ol_sampler_create(&d, 0, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "n_vocab");
    CHECK(ol_sampler_create(&d, -5, &err) == NULL);
    ol_sampler *s = make(&d, 1);
    float one = 0.5f;
    if (s) {
        CHECK_EQ_INT(ol_sampler_sample(s, &one), 0); /* a one-token vocabulary */
        CHECK_EQ_INT(ol_sampler_params(s)->top_k, 40);
    }
    ol_sampler_destroy(s);
    ol_sampler_destroy(NULL);
}

/* ---- greedy and top-k ------------------------------------------------------------------- */
static void test_greedy(void) {
    float l[] = {1.0f, 3.0f, -2.0f, 3.0f, 2.5f};
    ol_sampling_params p = plain(0);
    ol_sampler *s = make(&p, 5);
    if (!s) return;
    CHECK_EQ_INT(ol_sampler_sample(s, l), 1); /* tie between 1 and 3: lowest id */
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(ol_sampler_sample(s, l), 1);
    CHECK_NEAR(l[1], 3.0, 0); /* logits untouched */
    float bad[] = {NAN, -INFINITY, 1.0f, NAN, 0.5f};
    CHECK_EQ_INT(ol_sampler_sample(s, bad), 2); /* NaN counts as -inf */
    float inf[] = {1.0f, INFINITY, 2.0f, INFINITY, 0.0f};
    CHECK_EQ_INT(ol_sampler_sample(s, inf), 1);
    ol_sampler_destroy(s);

    /* top_k = 1 is greedy at any temperature, including with ties and large vocabularies */
    int32_t n = 5000;
    float *big = malloc((size_t)n * sizeof(float));
    for (int32_t i = 0; i < n; i++) big[i] = frand() * 10.0f - 5.0f;
    big[777] = 9.0f, big[4000] = 9.0f, big[3000] = 8.999f;
    float temps[] = {0.01f, 0.5f, 1.0f, 5.0f, 100.0f};
    for (int t = 0; t < 5; t++) {
        ol_sampling_params q = plain(temps[t]);
        q.top_k = 1;
        s = make(&q, n);
        if (!s) continue;
        for (int r = 0; r < 20; r++) CHECK_EQ_INT(ol_sampler_sample(s, big), 777);
        ol_sampler_destroy(s);
    }
    free(big);

    /* tiny temperatures (1/T overflows) behave as greedy, with no NaN */
    float tiny[] = {1e-30f, 1e-40f, 1e-45f};
    for (int t = 0; t < 3; t++) {
        ol_sampling_params q = plain(tiny[t]);
        s = make(&q, 5);
        for (int r = 0; s && r < 20; r++) {
            int32_t tok = ol_sampler_sample(s, l);
            if (t == 0)
                CHECK(tok == 1 || tok == 3); /* 1/T finite: the tie splits evenly */
            else
                CHECK_EQ_INT(tok, 1);
        }
        ol_sampler_destroy(s);
    }

    /* all -inf: any token, no crash; uniform over the vocabulary */
    float ninf[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    ol_sampling_params q = plain(1.0f);
    s = make(&q, 4);
    if (s) {
        int seen[4] = {0};
        for (int r = 0; r < 400; r++) {
            int32_t t = ol_sampler_sample(s, ninf);
            CHECK(t >= 0 && t < 4);
            if (t >= 0 && t < 4) seen[t]++;
        }
        CHECK(seen[0] && seen[1] && seen[2] && seen[3]);
    }
    ol_sampler_destroy(s);
}

/* ---- reproducibility -------------------------------------------------------------------- */
static void draw_seq(uint64_t seed, int32_t *out, int n_draw, const ol_sampling_params *base) {
    ol_sampling_params p = *base;
    p.seed = seed;
    int32_t n = 300;
    ol_sampler *s = make(&p, n);
    float *l = malloc((size_t)n * sizeof(float));
    uint64_t saved = lcg_state;
    lcg_state = 99;
    for (int d = 0; d < n_draw; d++) {
        for (int32_t i = 0; i < n; i++) l[i] = frand() * 4.0f;
        out[d] = s ? ol_sampler_sample(s, l) : -1;
        if (s) ol_sampler_accept(s, out[d]);
    }
    lcg_state = saved;
    free(l);
    ol_sampler_destroy(s);
}

static void test_seeds(void) {
    ol_sampling_params p;
    ol_sampling_params_default(&p);
    p.repeat_penalty = 1.3f, p.presence_penalty = 0.5f;
    int32_t a[200], b[200], c[200];
    draw_seq(7, a, 200, &p);
    draw_seq(7, b, 200, &p);
    draw_seq(8, c, 200, &p);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    CHECK(memcmp(a, c, sizeof(a)) != 0);
    /* also without top-k (quickselect and nucleus paths) */
    p.top_k = 0, p.top_p = 0.9f;
    draw_seq(7, a, 200, &p);
    draw_seq(7, b, 200, &p);
    draw_seq(9, c, 200, &p);
    CHECK(memcmp(a, b, sizeof(a)) == 0);
    CHECK(memcmp(a, c, sizeof(a)) != 0);

    /* reset restarts the stream */
    ol_sampling_params q = plain(1.0f);
    q.seed = 1234;
    float l[16];
    for (int i = 0; i < 16; i++) l[i] = (float)(i % 5);
    ol_sampler *s = make(&q, 16);
    if (!s) return;
    int32_t first[50], again[50];
    for (int i = 0; i < 50; i++) first[i] = ol_sampler_sample(s, l);
    ol_sampler_reset(s);
    for (int i = 0; i < 50; i++) again[i] = ol_sampler_sample(s, l);
    CHECK(memcmp(first, again, sizeof(first)) == 0);
    ol_sampler_destroy(s);
}

/* ---- distributions ---------------------------------------------------------------------- */
/* Draw n_draw tokens and return the chi-square statistic against expected probabilities. */
static double chi_square(ol_sampler *s, const float *l, int32_t n, const double *expect, int n_draw,
                         int *counts) {
    memset(counts, 0, (size_t)n * sizeof(int));
    for (int d = 0; d < n_draw; d++) {
        int32_t t = ol_sampler_sample(s, l);
        if (t >= 0 && t < n) counts[t]++;
    }
    double chi = 0;
    for (int32_t i = 0; i < n; i++) {
        if (expect[i] == 0) {
            CHECK_EQ_INT(counts[i], 0);
            continue;
        }
        double e = expect[i] * n_draw;
        chi += (counts[i] - e) * (counts[i] - e) / e;
    }
    return chi;
}

static void softmax_ref(const float *l, int n, float t, double *out) {
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++) mx = l[i] > mx ? l[i] : mx;
    for (int i = 0; i < n; i++) sum += out[i] = exp((l[i] - mx) / t);
    for (int i = 0; i < n; i++) out[i] /= sum;
}

static void test_distribution(void) {
    float l[8] = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, 1.5f, -1.0f, 0.7f};
    double e[8];
    int counts[8];
    float temps[] = {0.7f, 1.0f, 2.0f};
    for (int t = 0; t < 3; t++) {
        ol_sampling_params p = plain(temps[t]);
        p.seed = 1000 + (uint64_t)t;
        ol_sampler *s = make(&p, 8);
        if (!s) continue;
        softmax_ref(l, 8, temps[t], e);
        double chi = chi_square(s, l, 8, e, 20000, counts);
        /* 7 degrees of freedom: P(chi2 > 24.3) = 0.001 */
        if (chi > 24.3) fprintf(stderr, "T=%g chi2=%g\n", (double)temps[t], chi);
        CHECK(chi < 24.3);
        ol_sampler_destroy(s);
    }

    /* top-k = 4 through the heap: softmax over the 4 best, the rest never drawn */
    ol_sampling_params p = plain(1.0f);
    p.top_k = 4;
    ol_sampler *s = make(&p, 8);
    if (s) {
        float top[8];
        for (int i = 0; i < 8; i++) top[i] = (i == 3 || i == 5 || i == 0 || i == 7) ? l[i] : -1e30f;
        softmax_ref(top, 8, 1.0f, e);
        for (int i = 0; i < 8; i++) e[i] = top[i] < -1e29f ? 0 : e[i];
        double chi = chi_square(s, l, 8, e, 20000, counts);
        CHECK(chi < 16.3); /* 3 degrees of freedom, P = 0.001 */
        ol_sampler_destroy(s);
    }

    /* top-k = 300 of 1000 through quickselect: only the 300 best are ever drawn */
    int32_t n = 1000;
    float *big = malloc((size_t)n * sizeof(float));
    for (int32_t i = 0; i < n; i++) big[i] = (float)((i * 617) % 1000) / 100.0f; /* distinct */
    p = plain(50.0f); /* flat: every kept token is likely */
    p.top_k = 300;
    s = make(&p, n);
    if (s) {
        int bad = 0, distinct = 0;
        char *seen = calloc((size_t)n, 1);
        for (int d = 0; d < 20000; d++) {
            int32_t t = ol_sampler_sample(s, big);
            if (big[t] < 7.0f) bad++; /* the 300 best are exactly the values >= 7.00 */
            if (!seen[t]++) distinct++;
        }
        CHECK_EQ_INT(bad, 0);
        CHECK(distinct > 290);
        free(seen);
        ol_sampler_destroy(s);
    }
    free(big);
}

static void test_top_p_min_p(void) {
    /* probabilities 0.5 0.3 0.1 0.06 0.04 at T = 1 */
    float l[5] = {logf(0.06f), logf(0.3f), logf(0.04f), logf(0.5f), logf(0.1f)};
    int counts[5];
    struct {
        float top_p, min_p;
        int keep[5];
    } cases[] = {
        {0.75f, 0, {0, 1, 0, 1, 0}},    /* 0.5 + 0.3 >= 0.75 */
        {0.85f, 0, {0, 1, 0, 1, 1}},    /* + 0.1 */
        {0.45f, 0, {0, 0, 0, 1, 0}},    /* the top token alone */
        {0.97f, 0, {1, 1, 1, 1, 1}},    /* 0.96 < 0.97: everything */
        {1.0f, 0.15f, {0, 1, 0, 1, 1}}, /* p >= 0.075 */
        {1.0f, 0.7f, {0, 0, 0, 1, 0}},  /* p >= 0.35 */
        {1.0f, 0.1f, {1, 1, 0, 1, 1}},  /* p >= 0.05 */
        {0.85f, 0.3f, {0, 1, 0, 1, 0}}, /* nucleus {3,1,4}, then p >= 0.15 */
    };
    for (size_t c = 0; c < OL_ARRAY_LEN(cases); c++) {
        ol_sampling_params p = plain(1.0f);
        p.top_p = cases[c].top_p, p.min_p = cases[c].min_p;
        ol_sampler *s = make(&p, 5);
        if (!s) continue;
        double e[5], sum = 0;
        softmax_ref(l, 5, 1.0f, e);
        for (int i = 0; i < 5; i++) sum += e[i] *= cases[c].keep[i];
        for (int i = 0; i < 5; i++) e[i] /= sum;
        double chi = chi_square(s, l, 5, e, 20000, counts);
        for (int i = 0; i < 5; i++)
            if (cases[c].keep[i] && !counts[i]) fprintf(stderr, "case %zu: %d unseen\n", c, i);
        if (chi > 18.5) fprintf(stderr, "case %zu: chi2 %g\n", c, chi);
        CHECK(chi < 18.5); /* <= 4 degrees of freedom, P = 0.001 */
        ol_sampler_destroy(s);
    }
}

/* top-p without top-k over a big vocabulary: every draw lies in the nucleus found by sorting */
static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

static void test_big_vocab(void) {
    int32_t n = 262144;
    float *l = malloc((size_t)n * sizeof(float));
    double *pr = malloc((size_t)n * sizeof(double));
    for (int32_t i = 0; i < n; i++) l[i] = frand() * 8.0f;
    softmax_ref(l, n, 1.0f, pr);
    qsort(pr, (size_t)n, sizeof(double), cmp_desc);
    double acc = 0, p_min_kept = 0;
    for (int32_t i = 0; i < n; i++) {
        acc += pr[i];
        if (acc >= 0.5) {
            p_min_kept = pr[i];
            break;
        }
    }
    double m = -INFINITY, z = 0;
    for (int32_t i = 0; i < n; i++) m = l[i] > m ? l[i] : m;
    for (int32_t i = 0; i < n; i++) z += exp(l[i] - m);
    z = log(z) + m; /* log of the softmax denominator */
    ol_sampling_params p = plain(1.0f);
    p.top_p = 0.5f;
    ol_sampler *s = make(&p, n);
    if (s) {
        int bad = 0;
        for (int d = 0; d < 200; d++) {
            int32_t t = ol_sampler_sample(s, l);
            /* t is in the nucleus iff its probability is >= the smallest kept one */
            if (exp(l[t] - z) < p_min_kept * (1 - 1e-5)) bad++;
        }
        CHECK_EQ_INT(bad, 0);
        ol_sampler_destroy(s);
    }
    /* defaults (top-k 40 heap) and plain sampling over the full vocabulary */
    ol_sampling_params_default(&p);
    p.seed = 5;
    p.repeat_penalty = 1.1f, p.frequency_penalty = 0.2f;
    s = make(&p, n);
    if (s) {
        for (int d = 0; d < 50; d++) {
            int32_t t = ol_sampler_sample(s, l);
            CHECK(t >= 0 && t < n);
            CHECK_EQ_INT(ol_sampler_accept(s, t), 0);
        }
        ol_sampler_destroy(s);
    }
    free(l);
    free(pr);
}

/* ---- penalties -------------------------------------------------------------------------- */
static void check_penalized(const ol_sampling_params *p, const int32_t *hist, int n_hist,
                            const float *want) {
    float l[6] = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 1.0f}, out[6];
    ol_sampler *s = make(p, 6);
    if (!s) return;
    for (int i = 0; i < n_hist; i++) CHECK_EQ_INT(ol_sampler_accept(s, hist[i]), 0);
    ol_sampler_penalized_logits(s, l, out);
    for (int i = 0; i < 6; i++) {
        if (out[i] != want[i]) fprintf(stderr, "token %d: %.9g want %.9g\n", i, out[i], want[i]);
        CHECK(out[i] == want[i]);
    }
    ol_sampler_reset(s); /* history gone */
    ol_sampler_penalized_logits(s, l, out);
    CHECK(memcmp(out, l, sizeof(l)) == 0);
    ol_sampler_destroy(s);
}

static void test_penalties(void) {
    int32_t hist[] = {0, 1, 3, 4, 0, 2}; /* last 3: 4 0 2; counts 0:2 1:1 2:1 3:1 4:1 */
    ol_sampling_params p = plain(1.0f);
    p.repeat_penalty = 2.0f, p.repeat_last_n = 3;
    float rep[6] = {1.0f, -1.0f, 0.25f, 3.0f, -4.0f, 1.0f};
    check_penalized(&p, hist, 6, rep);

    p.repeat_last_n = -1; /* whole history */
    float rep_all[6] = {1.0f, -2.0f, 0.25f, 1.5f, -4.0f, 1.0f};
    check_penalized(&p, hist, 6, rep_all);

    p.repeat_last_n = 0; /* off */
    float none[6] = {2.0f, -1.0f, 0.5f, 3.0f, -2.0f, 1.0f};
    check_penalized(&p, hist, 6, none);

    p = plain(1.0f);
    p.frequency_penalty = 0.5f, p.presence_penalty = 0.25f;
    float oai[6] = {2.0f - 1.0f - 0.25f, -1.75f, -0.25f, 2.25f, -2.75f, 1.0f};
    check_penalized(&p, hist, 6, oai);

    p.presence_penalty = -0.5f, p.frequency_penalty = 0; /* negative: encourage */
    float enc[6] = {2.5f, -0.5f, 1.0f, 3.5f, -1.5f, 1.0f};
    check_penalized(&p, hist, 6, enc);

    p = plain(1.0f); /* repeat first, then OpenAI */
    p.repeat_penalty = 2.0f, p.repeat_last_n = 3;
    p.frequency_penalty = 0.5f, p.presence_penalty = 0.25f;
    float both[6] = {1.0f - 1.25f, -1.0f - 0.75f, 0.25f - 0.75f, 3.0f - 0.75f, -4.0f - 0.75f, 1.0f};
    check_penalized(&p, hist, 6, both);

    /* penalties steer greedy decoding */
    p = plain(0);
    p.repeat_penalty = 1.1f;
    float l2[2] = {5.0f, 4.9f};
    ol_sampler *s = make(&p, 2);
    if (s) {
        CHECK_EQ_INT(ol_sampler_sample(s, l2), 0);
        ol_sampler_accept(s, 0);
        CHECK_EQ_INT(ol_sampler_sample(s, l2), 1); /* 5 / 1.1 < 4.9 */
        CHECK_EQ_INT(ol_sampler_accept(s, 2), OL_EINVAL);
        CHECK_EQ_INT(ol_sampler_accept(s, -1), OL_EINVAL);
        ol_sampler_destroy(s);
    }

    /* a long history grows the map and keeps exact counts */
    p = plain(1.0f);
    p.frequency_penalty = 0.125f;
    int32_t n = 5000;
    s = make(&p, n);
    if (s) {
        for (int r = 0; r < 3; r++)
            for (int32_t t = 0; t < n; t += 2) CHECK_EQ_INT(ol_sampler_accept(s, t), 0);
        float *l = calloc((size_t)n, sizeof(float)), *out = malloc((size_t)n * sizeof(float));
        ol_sampler_penalized_logits(s, l, out);
        int bad = 0;
        for (int32_t t = 0; t < n; t++) bad += out[t] != (t % 2 ? 0.0f : -0.375f);
        CHECK_EQ_INT(bad, 0);
        free(l);
        free(out);
        ol_sampler_destroy(s);
    }
}

/* ---- logprobs --------------------------------------------------------------------------- */
static void test_logprobs(void) {
    float l[5] = {1.0f, 2.0f, 3.0f, 3.0f, -INFINITY};
    double lse = log(exp(1.0) + exp(2.0) + 2 * exp(3.0));
    float lp = 0, top_lp[3];
    int32_t top_id[3];
    CHECK_EQ_INT(ol_sampler_logprobs(l, 5, 2, 3, &lp, top_id, top_lp), 0);
    CHECK_NEAR(lp, 3.0 - lse, 1e-6);
    CHECK_EQ_INT(top_id[0], 2);
    CHECK_EQ_INT(top_id[1], 3);
    CHECK_EQ_INT(top_id[2], 1);
    CHECK_NEAR(top_lp[0], 3.0 - lse, 1e-6);
    CHECK_NEAR(top_lp[2], 2.0 - lse, 1e-6);
    CHECK_EQ_INT(ol_sampler_logprobs(l, 5, 4, 0, &lp, NULL, NULL), 0);
    CHECK(lp == -INFINITY);
    CHECK_EQ_INT(ol_sampler_logprobs(l, 5, 5, 0, &lp, NULL, NULL), OL_EINVAL);
    CHECK_EQ_INT(ol_sampler_logprobs(l, 5, -1, 0, &lp, NULL, NULL), OL_EINVAL);
    CHECK_EQ_INT(ol_sampler_logprobs(l, 5, 0, 21, &lp, top_id, top_lp), OL_EINVAL);
    CHECK_EQ_INT(ol_sampler_logprobs(l, 5, 0, 6, &lp, top_id, top_lp), OL_EINVAL);
    CHECK_EQ_INT(ol_sampler_logprobs(l, 5, 0, 2, &lp, NULL, NULL), OL_EINVAL);
    CHECK_EQ_INT(ol_sampler_logprobs(l, 0, 0, 0, &lp, NULL, NULL), OL_EINVAL);

    /* 20 best of a big row; NaN as -inf; the probabilities sum to 1 */
    int32_t n = 10000;
    float *big = malloc((size_t)n * sizeof(float));
    for (int32_t i = 0; i < n; i++) big[i] = frand() * 20.0f;
    big[17] = NAN;
    float tl[20];
    int32_t ti[20];
    CHECK_EQ_INT(ol_sampler_logprobs(big, n, 17, 20, &lp, ti, tl), 0);
    CHECK(lp == -INFINITY);
    int sorted = 1;
    for (int i = 1; i < 20; i++) sorted &= tl[i] <= tl[i - 1];
    CHECK(sorted);
    double z = 0, total = 0;
    float mx = 0;
    for (int32_t i = 0; i < n; i++) mx = big[i] > mx ? big[i] : mx;
    for (int32_t i = 0; i < n; i++)
        if (i != 17) z += exp(big[i] - mx);
    CHECK_NEAR(tl[0], -log(z), 1e-5);
    CHECK(big[ti[0]] == mx);
    for (int32_t i = 0; i < n; i++) {
        CHECK_EQ_INT(ol_sampler_logprobs(big, n, i, 0, &lp, NULL, NULL), 0);
        total += exp(lp);
    }
    CHECK_NEAR(total, 1.0, 1e-4);
    free(big);

    float ninf[3] = {-INFINITY, -INFINITY, -INFINITY};
    CHECK_EQ_INT(ol_sampler_logprobs(ninf, 3, 1, 0, &lp, NULL, NULL), 0);
    CHECK_NEAR(lp, -log(3.0), 1e-6);
}

int main(void) {
    test_params();
    test_greedy();
    test_seeds();
    test_distribution();
    test_top_p_min_p();
    test_big_vocab();
    test_penalties();
    test_logprobs();
    return test_done("test_sampling");
}
