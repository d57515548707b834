/* tests/unit/tensor/test_dequant.c: the reference quant math against independent
 * implementations: ol_dequant_row_ref against the gguf Python package's dequantizers and the
 * reference quantizers against gguf.quants.quantize (fixtures from tools/gen_dequant_golden.py),
 * plus self-consistency of the activation quantizers and dot products. */
#include "tensor/tensor.h"
#include "test.h"

static void *read_all(const char *rel, size_t *n) {
    ol_err err;
    void *p = ol_read_file(test_data(rel), n, &err);
    if (!p) fprintf(stderr, "cannot read %s: %s\n", rel, err.msg);
    return p;
}

/* Dequantization must be exact: both sides compute d*q (+m) in f32. */
static void check_dequant(ol_dtype t) {
    char rel[128];
    size_t nblk = 0, nf = 0;
    snprintf(rel, sizeof(rel), "dequant/%s.blk", ol_dtype_name(t));
    uint8_t *blk = read_all(rel, &nblk);
    snprintf(rel, sizeof(rel), "dequant/%s.f32", ol_dtype_name(t));
    float *want = read_all(rel, &nf);
    CHECK(blk && want);
    if (!blk || !want) goto out;
    int64_t n = (int64_t)(nf / 4);
    CHECK_EQ_INT(ol_dtype_row_bytes(t, n), nblk);
    float *got = malloc(nf);
    ol_dequant_row_ref(t, blk, got, n);
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        float tol = 1e-6f * fabsf(want[i]);
        if (!(fabsf(got[i] - want[i]) <= tol) && bad++ < 4)
            fprintf(stderr, "%s[%lld]: got %.9g want %.9g\n", ol_dtype_name(t), (long long)i,
                    got[i], want[i]);
    }
    CHECK_EQ_INT(bad, 0);
    free(got);
out:
    free(blk);
    free(want);
}

/* Quantizers vs gguf.quants.quantize, which is bit-exact with ggml's reference. */
static void check_quant(ol_dtype t) {
    char rel[128];
    size_t nin = 0, nblk = 0;
    snprintf(rel, sizeof(rel), "dequant/quant_%s.in", ol_dtype_name(t));
    float *x = read_all(rel, &nin);
    snprintf(rel, sizeof(rel), "dequant/quant_%s.blk", ol_dtype_name(t));
    uint8_t *want = read_all(rel, &nblk);
    CHECK(x && want);
    if (!x || !want) goto out;
    int64_t n = (int64_t)(nin / 4);
    CHECK_EQ_INT(ol_dtype_row_bytes(t, n), nblk);
    uint8_t *got = calloc(1, nblk);
    if (t == OL_DTYPE_Q8_0) {
        ol_quant_row_q8_0_ref(x, got, n);
        uint8_t *got2 = calloc(1, nblk);
        ol_quant_row_ref(OL_DTYPE_Q4_0, x, got2, n); /* Q4_0's vec-dot type is Q8_0 */
        CHECK(memcmp(got, got2, nblk) == 0);
        free(got2);
    } else {
        ol_quant_weights_ref(t, x, got, n);
    }
    size_t diff = 0;
    for (size_t i = 0; i < nblk; i++) diff += got[i] != want[i];
    if (diff) fprintf(stderr, "quant %s: %zu bytes differ\n", ol_dtype_name(t), diff);
    CHECK_EQ_INT(diff, 0);
    free(got);
out:
    free(x);
    free(want);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform [-1, 1) */
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* Activation quantizers: Q8_1 matches Q8_0 plus s; Q8_K follows its definition. */
static void check_act_quant(void) {
    enum { N = 512 };
    float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = frand() * (i < 256 ? 3.0f : 0.01f);
    for (int i = 300; i < 332; i++) x[i] = 0.0f;
    ol_block_q8_0 q0[N / 32];
    ol_block_q8_1 q1[N / 32];
    ol_block_q8_K qk[N / 256];
    ol_quant_row_q8_0_ref(x, q0, N);
    ol_quant_row_q8_1_ref(x, q1, N);
    for (int b = 0; b < N / 32; b++) {
        CHECK_EQ_INT(q0[b].d, q1[b].d);
        int s = 0;
        for (int j = 0; j < 32; j++) {
            CHECK_EQ_INT(q0[b].qs[j], q1[b].qs[j]);
            s += q1[b].qs[j];
        }
        CHECK_NEAR(ol_f16_to_f32(q1[b].s), s * ol_f16_to_f32(q1[b].d),
                   1e-3 * fabs(s * ol_f16_to_f32(q1[b].d)) + 1e-9);
    }
    ol_quant_row_q8_K_ref(x, qk, N);
    ol_dequant_row_ref(OL_DTYPE_Q8_K, qk, y, N);
    for (int b = 0; b < N / 256; b++) {
        float amax = 0.0f;
        for (int j = 0; j < 256; j++) amax = fmaxf(amax, fabsf(x[256 * b + j]));
        for (int j = 0; j < 256; j++) CHECK_NEAR(y[256 * b + j], x[256 * b + j], amax / 127.0f);
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += qk[b].qs[16 * g + j];
            CHECK_EQ_INT(qk[b].bsums[g], s);
        }
    }
    CHECK(qk[0].d != 0.0f);
    ol_block_q8_K z;
    float zeros[256] = {0};
    ol_quant_row_q8_K_ref(zeros, &z, 256);
    CHECK(z.d == 0.0f && z.qs[5] == 0 && z.bsums[3] == 0);
}

/* Dot products: vec_dot(w, quant(x)) equals the f64 dot of dequant(w) and dequant(quant(x)). */
static void check_dots(void) {
    static const ol_dtype ws[] = {OL_DTYPE_F32,  OL_DTYPE_F16,  OL_DTYPE_BF16, OL_DTYPE_Q4_0,
                                  OL_DTYPE_Q4_1, OL_DTYPE_Q5_0, OL_DTYPE_Q5_1, OL_DTYPE_Q8_0,
                                  OL_DTYPE_Q4_K, OL_DTYPE_Q5_K, OL_DTYPE_Q6_K};
    enum { N = 1024 };
    static float w[N], x[N], wd[N], xd[N];
    static uint8_t wq[N * 4 + 64], xq[N * 4 + 64];
    for (size_t k = 0; k < OL_ARRAY_LEN(ws); k++) {
        ol_dtype t = ws[k], at = ol_dtype_vec_dot_type(t);
        for (int i = 0; i < N; i++) w[i] = frand() + 0.3f * frand(), x[i] = frand();
        ol_quant_weights_ref(t, w, wq, N);
        ol_dequant_row_ref(t, wq, wd, N);
        double err = 0, wn = 0;
        for (int i = 0; i < N; i++) err += (wd[i] - w[i]) * (wd[i] - w[i]), wn += w[i] * w[i];
        /* the simple quantizers keep relative RMS error small (4-bit: ~10%) */
        CHECK(sqrt(err / wn) < 0.12);
        ol_quant_row_ref(t, x, xq, N);
        ol_dequant_row_ref(at, xq, xd, N);
        double want = 0, mag = 0;
        for (int i = 0; i < N; i++) want += (double)wd[i] * xd[i], mag += fabs(wd[i] * xd[i]);
        if (t == OL_DTYPE_Q4_1 || t == OL_DTYPE_Q5_1) mag *= 4; /* s is rounded to f16 */
        float got = ol_vec_dot_ref(t, N, wq, xq);
        CHECK_NEAR(got, want, 2e-5 * mag + 1e-6);
        if (!(fabs(got - want) <= 2e-5 * mag + 1e-6))
            fprintf(stderr, "  dtype %s\n", ol_dtype_name(t));
    }
}

int main(void) {
    static const ol_dtype all[] = {OL_DTYPE_F32,  OL_DTYPE_F16,  OL_DTYPE_BF16, OL_DTYPE_Q4_0,
                                   OL_DTYPE_Q4_1, OL_DTYPE_Q5_0, OL_DTYPE_Q5_1, OL_DTYPE_Q8_0,
                                   OL_DTYPE_Q8_1, OL_DTYPE_Q4_K, OL_DTYPE_Q5_K, OL_DTYPE_Q6_K,
                                   OL_DTYPE_Q8_K};
    for (size_t i = 0; i < OL_ARRAY_LEN(all); i++) check_dequant(all[i]);
    check_quant(OL_DTYPE_Q8_0);
    check_quant(OL_DTYPE_Q4_0);
    check_quant(OL_DTYPE_Q4_1);
    check_quant(OL_DTYPE_Q5_0);
    check_quant(OL_DTYPE_Q5_1);
    check_act_quant();
    check_dots();
    return test_done("test_dequant");
}
