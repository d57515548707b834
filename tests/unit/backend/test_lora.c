/* tests/unit/backend/test_lora.c: the LoRA segment kernel (shrink, then expand) against its
 * scalar _ref and against a plain double-precision evaluation of y += w·s·B(Ax): ragged
 * segments, overlapping segments (mixes), ranks 1..64 in one call, widths that are not a
 * multiple of the vector length, 1 and 2 threads (results must not depend on the thread
 * count), every kernel tier this CPU has; and several projections in one ol_cpu_lora_jobs
 * call equal to separate calls. */
#include "backend/cpu/cpu.h"
#include "backend/cpu/ops.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

int main(void) {
    ol_err err;
    const int shapes[][2] = {{128, 64}, {640, 1024}, {96, 300}, {2048, 640}, {40, 7}};
    for (size_t si = 0; si < OL_ARRAY_LEN(shapes); si++) {
        const int n_in = shapes[si][0], n_out = shapes[si][1], T = 23;
        float *x = malloc(sizeof(float) * (size_t)T * n_in);
        for (int i = 0; i < T * n_in; i++) x[i] = frand();
        const int ranks[] = {1, 8, 16, 64, 3};
        float *a[5], *bt[5];
        for (int k = 0; k < 5; k++) {
            a[k] = malloc(sizeof(float) * (size_t)ranks[k] * n_in);
            bt[k] = malloc(sizeof(float) * (size_t)ranks[k] * n_out);
            for (int i = 0; i < ranks[k] * n_in; i++) a[k][i] = frand() * 0.1f;
            for (int i = 0; i < ranks[k] * n_out; i++) bt[k][i] = frand() * 0.1f;
        }
        /* tokens 0..4 adapter 0; 5 alone base; 6..15 a mix of adapters 1 (0.7) and 2 (0.3);
         * 16 adapter 3; 17..22 adapter 4 and again adapter 1 at -0.5 */
        ol_lora_seg segs[] = {
            {0, 5, ranks[0], a[0], bt[0], 1.0f},  {6, 10, ranks[1], a[1], bt[1], 0.7f},
            {6, 10, ranks[2], a[2], bt[2], 0.3f}, {16, 1, ranks[3], a[3], bt[3], 1.0f},
            {17, 6, ranks[4], a[4], bt[4], 2.0f}, {17, 6, ranks[1], a[1], bt[1], -0.5f}};
        const int ns = (int)OL_ARRAY_LEN(segs);
        float *y0 = malloc(sizeof(float) * (size_t)T * n_out),
              *yr = malloc(sizeof(float) * (size_t)T * n_out);
        float *y1 = malloc(sizeof(float) * (size_t)T * n_out),
              *y2 = malloc(sizeof(float) * (size_t)T * n_out);
        for (int i = 0; i < T * n_out; i++) y0[i] = frand();
        memcpy(yr, y0, sizeof(float) * (size_t)T * n_out);
        memcpy(y1, y0, sizeof(float) * (size_t)T * n_out);
        memcpy(y2, y0, sizeof(float) * (size_t)T * n_out);
        ol_cpu_lora_ref(segs, ns, x, n_in, n_in, yr, n_out, n_out);
        /* the double-precision result, once: h = A x per (token, segment, rank) first */
        double *exact = malloc(sizeof(double) * (size_t)T * n_out);
        for (int i = 0; i < T * n_out; i++) exact[i] = y0[i];
        for (int t = 0; t < T; t++)
            for (int s = 0; s < ns; s++) {
                if (t < segs[s].t0 || t >= segs[s].t0 + segs[s].n) continue;
                for (int k = 0; k < segs[s].r; k++) {
                    double h = 0;
                    for (int i = 0; i < n_in; i++)
                        h += (double)segs[s].a[(size_t)k * n_in + i] * x[(size_t)t * n_in + i];
                    for (int o = 0; o < n_out; o++)
                        exact[(size_t)t * n_out + o] +=
                            segs[s].scale * h * segs[s].bt[(size_t)k * n_out + o];
                }
            }
        for (int tier = 0; tier < OL_CPU_TIER_COUNT; tier++) {
            ol_cpu *c1 = ol_cpu_create(1, (ol_cpu_tier)tier, &err),
                   *c2 = ol_cpu_create(2, (ol_cpu_tier)tier, &err);
            if (!c1 || !c2) { /* tier not available here */
                ol_cpu_destroy(c1), ol_cpu_destroy(c2);
                continue;
            }
            memcpy(y1, y0, sizeof(float) * (size_t)T * n_out);
            memcpy(y2, y0, sizeof(float) * (size_t)T * n_out);
            ol_cpu_lora(c1, segs, ns, x, n_in, n_in, y1, n_out, n_out);
            ol_cpu_lora(c2, segs, ns, x, n_in, n_in, y2, n_out, n_out);
            double worst_ref = 0, worst_exact = 0;
            int thread_diff = 0;
            for (int t = 0; t < T; t++)
                for (int o = 0; o < n_out; o++) {
                    size_t j = (size_t)t * n_out + o;
                    const double e = exact[j];
                    worst_ref = fmax(worst_ref, fabs(y1[j] - yr[j]));
                    worst_exact = fmax(worst_exact, fabs(y1[j] - e));
                    thread_diff += y1[j] != y2[j];
                }
            printf("lora %s %dx%d: |fast - ref| %.2e, |fast - exact| %.2e\n",
                   ol_cpu_tier_name((ol_cpu_tier)tier), n_in, n_out, worst_ref, worst_exact);
            CHECK_NEAR(worst_ref, 0, 1e-4);
            CHECK_NEAR(worst_exact, 0, 1e-4);
            CHECK_EQ_INT(thread_diff, 0);

            /* jobs: the segments split over two outputs (first three / last three) in one
             * call give the same bits as two separate calls */
            float *ya = malloc(sizeof(float) * (size_t)T * n_out),
                  *yb = malloc(sizeof(float) * (size_t)T * n_out);
            memcpy(ya, y0, sizeof(float) * (size_t)T * n_out);
            memcpy(yb, y0, sizeof(float) * (size_t)T * n_out);
            const ol_lora_job jobs[2] = {{segs, 3, x, n_in, n_in, ya, n_out, n_out},
                                         {segs + 3, ns - 3, x, n_in, n_in, yb, n_out, n_out}};
            ol_cpu_lora_jobs(c2, jobs, 2);
            memcpy(y1, y0, sizeof(float) * (size_t)T * n_out);
            memcpy(y2, y0, sizeof(float) * (size_t)T * n_out);
            ol_cpu_lora(c1, segs, 3, x, n_in, n_in, y1, n_out, n_out);
            ol_cpu_lora(c1, segs + 3, ns - 3, x, n_in, n_in, y2, n_out, n_out);
            CHECK(memcmp(ya, y1, sizeof(float) * (size_t)T * n_out) == 0);
            CHECK(memcmp(yb, y2, sizeof(float) * (size_t)T * n_out) == 0);
            free(ya), free(yb);
            ol_cpu_destroy(c1);
            ol_cpu_destroy(c2);
        }
        free(exact);
        for (int k = 0; k < 5; k++) free(a[k]), free(bt[k]);
        free(x), free(y0), free(yr), free(y1), free(y2);
    }
    return test_done("test_lora");
}
