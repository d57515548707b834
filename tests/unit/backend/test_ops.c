/* tests/unit/backend/test_ops.c: RMSNorm, RoPE (both pairings), activations and the paged
 * attention (ragged batch, shuffled blocks, GQA, sliding window, F32 and F16 KV, 1 and 2
 * threads) against straightforward dense double-precision references. */
#include "backend/cpu/cpu.h"
#include "backend/cpu/ops.h"
#include "test.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void test_rmsnorm(void) {
    float x[3 * 40], y[3 * 40], w[40];
    for (int i = 0; i < 120; i++) x[i] = frand() * 3;
    for (int i = 0; i < 40; i++) w[i] = frand();
    ol_cpu_rmsnorm(y, x, w, 37, 3, 40, 1e-5f);
    for (int r = 0; r < 3; r++) {
        double ss = 0;
        for (int i = 0; i < 37; i++) ss += (double)x[r * 40 + i] * x[r * 40 + i];
        double sc = 1.0 / sqrt(ss / 37 + 1e-5);
        for (int i = 0; i < 37; i++) CHECK_NEAR(y[r * 40 + i], x[r * 40 + i] * sc * w[i], 1e-5);
    }
}

static void test_rope(void) {
    const int D = 16, H = 3, T = 4;
    float x[4 * 48], y[4 * 48];
    int32_t pos[4] = {0, 1, 7, 1000};
    for (int neox = 0; neox < 2; neox++) {
        for (int i = 0; i < T * H * D; i++) x[i] = y[i] = frand();
        ol_cpu_rope(y, H * D, T, H, D, D, pos, 10000.0f, 0.5f, NULL, neox);
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < D / 2; i++) {
                    double th = pos[t] * 0.5 * pow(10000.0, -2.0 * i / D);
                    int a = neox ? i : 2 * i, b = neox ? i + D / 2 : 2 * i + 1;
                    const float *xs = x + t * H * D + h * D;
                    const float *ys = y + t * H * D + h * D;
                    double e0 = xs[a] * cos(th) - xs[b] * sin(th);
                    double e1 = xs[a] * sin(th) + xs[b] * cos(th);
                    /* the angle is built by repeated float multiplication, like ggml */
                    double tol = 2e-4 * (1 + pos[t] * 0.01);
                    CHECK_NEAR(ys[a], e0, tol);
                    CHECK_NEAR(ys[b], e1, tol);
                }
    }
}

static void test_act(void) {
    enum { N = 203 }; /* vector body and scalar tail */
    float x[N], g[N], g2[N], u[N];
    for (int i = 0; i < N; i++) x[i] = g[i] = g2[i] = frand() * 14, u[i] = frand();
    x[0] = g[0] = g2[0] = -100, x[1] = g[1] = g2[1] = 100, x[2] = g[2] = g2[2] = 0;
    ol_cpu_silu_mul(g, u, N);
    ol_cpu_gelu_mul(g2, u, N);
    for (int i = 0; i < N; i++) {
        double s = x[i] / (1 + exp(-(double)x[i])) * u[i];
        double ge =
            0.5 * x[i] * (1 + tanh(sqrt(2 / M_PI) * (x[i] + 0.044715 * pow(x[i], 3)))) * u[i];
        CHECK_NEAR(g[i], s, 1e-6 + 2e-6 * fabs(s));
        CHECK_NEAR(g2[i], ge, 1e-6 + 2e-6 * fabs(ge));
    }
}

/* paged attention vs dense reference */
static void test_attention(ol_cpu *cpu, ol_dtype kvt, int window, int full, int NH) {
    enum { NKV = 2, D = 32, BS = 4, NBLK = 32, KVD = NKV * D };
    const size_t eb = kvt == OL_DTYPE_F32 ? 4 : 2;
    const size_t stride = (size_t)2 * BS * KVD * eb; /* one layer: K then V per block */
    uint8_t *mem = calloc(NBLK, stride);
    /* two sequences: A has 11 positions, B 6; blocks assigned in a shuffled order */
    int32_t blocks_a[3] = {7, 2, 30}, blocks_b[2] = {5, 19};
    ol_attn_seq seqs[2] = {{blocks_a, 3}, {blocks_b, 2}};
    int lens[2] = {11, 6};
    static float kf[2][16][KVD], vf[2][16][KVD];
    for (int s = 0; s < 2; s++)
        for (int p = 0; p < lens[s]; p++) {
            for (int i = 0; i < KVD; i++) kf[s][p][i] = frand(), vf[s][p][i] = frand();
            int32_t blk = seqs[s].blocks[p / BS];
            uint8_t *kb = mem + (size_t)blk * stride, *vb = kb + (size_t)BS * KVD * eb;
            ol_cpu_store_row(kvt, kf[s][p], kb + (size_t)(p % BS) * KVD * eb, KVD);
            ol_cpu_store_row(kvt, vf[s][p], vb + (size_t)(p % BS) * KVD * eb, KVD);
            if (kvt == OL_DTYPE_F16) /* reference sees what was stored */
                for (int i = 0; i < KVD; i++)
                    kf[s][p][i] = ol_f16_to_f32(ol_f32_to_f16(kf[s][p][i])),
                    vf[s][p][i] = ol_f16_to_f32(ol_f32_to_f16(vf[s][p][i]));
        }
    /* batch: A positions 0..10 (a whole prefill, longer than one query tile) or 8..10 (a
     * chunk), then B position 5 (decode) */
    int32_t pos[12], sot[12];
    int nt = 0;
    for (int p = full ? 0 : 8; p <= 10; p++) pos[nt] = p, sot[nt++] = 0;
    pos[nt] = 5, sot[nt++] = 1;
    float q[12][NH * D], out[12][NH * D];
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < NH * D; i++) q[t][i] = frand();
    ol_attn_args a = {.n_tokens = nt,
                      .n_head = NH,
                      .n_head_kv = NKV,
                      .head_dim = D,
                      .scale = 0.17f,
                      .window = window,
                      .q = &q[0][0],
                      .ldq = NH * D,
                      .out = &out[0][0],
                      .ldo = NH * D,
                      .pos = pos,
                      .seq_of_token = sot,
                      .seqs = seqs,
                      .k_base = mem,
                      .v_base = mem + (size_t)BS * KVD * eb,
                      .block_stride = stride,
                      .block_size = BS,
                      .kv_dtype = kvt};
    ol_cpu_attention(cpu, &a);
    double worst = 0;
    for (int t = 0; t < nt; t++) {
        int s = sot[t];
        for (int h = 0; h < NH; h++) {
            int g = h / (NH / NKV);
            double sc[16], mx = -1e300, sum = 0, o[D] = {0};
            int p0 = window > 0 && pos[t] - window + 1 > 0 ? pos[t] - window + 1 : 0;
            for (int p = p0; p <= pos[t]; p++) {
                double d = 0;
                for (int i = 0; i < D; i++) d += (double)q[t][h * D + i] * kf[s][p][g * D + i];
                sc[p] = d * 0.17f;
                if (sc[p] > mx) mx = sc[p];
            }
            for (int p = p0; p <= pos[t]; p++) sum += exp(sc[p] - mx);
            for (int p = p0; p <= pos[t]; p++)
                for (int i = 0; i < D; i++) o[i] += exp(sc[p] - mx) / sum * vf[s][p][g * D + i];
            for (int i = 0; i < D; i++) {
                double d = fabs(o[i] - out[t][h * D + i]);
                if (d > worst) worst = d;
            }
        }
    }
    CHECK_NEAR(worst, 0, 2e-5);
    free(mem);
}

int main(void) {
    ol_err err;
    test_rmsnorm();
    test_rope();
    test_act();
    for (int th = 1; th <= 2; th++) {
        ol_cpu *cpu = ol_cpu_create(th, OL_CPU_TIER_COUNT, &err);
        CHECK(cpu != NULL);
        for (int w = 0; w <= 3; w += 3)
            for (int full = 0; full < 2; full++)
                for (int nh = 2; nh <= 16; nh *= 2) {
                    test_attention(cpu, OL_DTYPE_F32, w, full, nh);
                    test_attention(cpu, OL_DTYPE_F16, w, full, nh);
                }
        test_attention(NULL, OL_DTYPE_F32, 5, 1, 8);
        ol_cpu_destroy(cpu);
    }
    return test_done("test_ops");
}
