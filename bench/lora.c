/* bench/lora.c: cost of LoRA adapters in a 32-sequence decode step (built and run by bench/lora).
 *
 * Loads a model and the random PEFT adapters of tools/gen_bench_adapters.py
 * (<adapters>/r<rank>/<i>/), prefills S sequences (default 32) with P random tokens each
 * (default 32), then times decode steps of one token per sequence at a fixed position (the same
 * position is re-decoded every step, so the KV length stays P + 1). Configurations:
 *   base          no LoRA
 *   r<R> x1       all S tokens on adapter 0 (one segment)
 *   r<R> x8       8 distinct adapters, S/8 consecutive sequences each (8 segments)
 *   r<R> x32      32 distinct adapters (32 segments of one token)
 * Sequences are ordered so that each adapter's tokens are contiguous: one ol_batch_lora per group.
 * The configurations are run in interleaved rounds (one step of each per round, W warm-up rounds,
 * then N timed rounds) so that load changes on a shared machine hit them alike; the median step
 * time of each is reported.
 *
 * Besides the whole step, the LoRA kernel alone is timed (column "kern ms"): ol_cpu_lora on the
 * same segments for every (layer, projection) with random activations, median of N, run in the
 * same rounds right after the step (so the adapters are cold, as they are in a real step where the
 * base weights pass through the caches in between).
 *
 * Memory read bandwidth: T threads sum a 1 GiB buffer with AVX2 loads, best of 5, measured before
 * and after the rounds; the higher figure is used.
 *
 * Columns: ms/step (median), overhead vs base, adapter MB read per step (sum of ol_adapter_bytes
 * over the distinct adapters used), floor % = adapter bytes / bandwidth / base step time (the
 * least overhead a bandwidth-bound kernel can have), eff bw % = adapter bytes / (step - base) /
 * bandwidth, kern ms and kern bw % = adapter bytes / kern ms / bandwidth.
 *
 * Usage: lora -m MODEL.gguf -a ADAPTER_DIR [-t 2] [-n 20] [-w 2] [-s 32] [-p 32] [-r 8,16]
 *             [-c r8x1,r16x32] [--no-kernel] [--json]
 * -c runs only the listed configurations (and base), e.g. for profiling one of them.
 */
#include "adapters/adapters.h"
#include "backend/cpu/cpu.h"
#include "backend/cpu/ops.h"
#include "model/model.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_AD    32
#define MAX_RANKS 4

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- bandwidth probe ----------------------------------------------------------------------- */
typedef struct {
    const __m256i *p;
    size_t n;
    uint64_t s;
} bw_job;

static void *bw_run(void *arg) {
    bw_job *j = arg;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i + 4 <= j->n; i += 4) {
        s0 = _mm256_add_epi64(s0, _mm256_load_si256(j->p + i));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256(j->p + i + 1));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256(j->p + i + 2));
        s3 = _mm256_add_epi64(s3, _mm256_load_si256(j->p + i + 3));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    uint64_t v[4];
    memcpy(v, &s, sizeof(v));
    j->s = v[0] + v[1] + v[2] + v[3];
    return NULL;
}

static double measure_bandwidth(int nt) {
    const size_t bytes = (size_t)1 << 30, n = bytes / 32;
    __m256i *buf = aligned_alloc(64, bytes);
    if (!buf) return 0;
    uint64_t *u = (uint64_t *)buf;
    for (size_t i = 0; i < bytes / 8; i++) u[i] = i * 2654435761u;
    pthread_t th[64];
    bw_job jb[64];
    if (nt > 64) nt = 64;
    double best = 1e30;
    volatile uint64_t chk = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        for (int k = 0; k < nt; k++) {
            size_t a = n * (size_t)k / (size_t)nt, b = n * (size_t)(k + 1) / (size_t)nt;
            jb[k] = (bw_job){buf + a, b - a, 0};
            pthread_create(&th[k], NULL, bw_run, &jb[k]);
        }
        for (int k = 0; k < nt; k++) {
            pthread_join(th[k], NULL);
            chk += jb[k].s;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    free(buf);
    return (double)bytes / best;
}

/* ---- configurations -------------------------------------------------------------------------- */
typedef struct {
    char name[32];
    int rank_idx; /* -1: base */
    int n_ad;     /* distinct adapters */
    ol_batch_lora lora[MAX_AD];
    int n_lora;
    size_t bytes; /* adapter bytes read per step */
    double *step, *kern;
    int n_step, n_kern;
} config;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(double *v, int n) {
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void usage(void) {
    fprintf(stderr,
            "usage: lora -m MODEL.gguf -a ADAPTER_DIR [-t 2] [-n 20] [-w 2] [-s 32] [-p 32] "
            "[-r 8,16] [-c r8x1,...] [--no-kernel] [--json]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *ad_dir = NULL;
    int n_threads = 2, n_rounds = 20, n_warm = 2, S = 32, P = 32, json = 0, do_kern = 1;
    int ranks[MAX_RANKS] = {8, 16}, n_ranks = 2;
    const char *only =
        NULL; /* -c: comma-separated config names to run besides base ("r8x1,r16x32") */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json"))
            json = 1;
        else if (!strcmp(a, "--no-kernel"))
            do_kern = 0;
        else if (!v)
            usage();
        else if (!strcmp(a, "-m"))
            model_path = v, i++;
        else if (!strcmp(a, "-a"))
            ad_dir = v, i++;
        else if (!strcmp(a, "-c"))
            only = v, i++;
        else if (!strcmp(a, "-t"))
            n_threads = atoi(v), i++;
        else if (!strcmp(a, "-n"))
            n_rounds = atoi(v), i++;
        else if (!strcmp(a, "-w"))
            n_warm = atoi(v), i++;
        else if (!strcmp(a, "-s"))
            S = atoi(v), i++;
        else if (!strcmp(a, "-p"))
            P = atoi(v), i++;
        else if (!strcmp(a, "-r")) {
            n_ranks = 0;
            for (char *p = (char *)v; *p && n_ranks < MAX_RANKS;) {
                ranks[n_ranks++] = (int)strtol(p, &p, 10);
                if (*p == ',')
                    p++;
                else
                    break;
            }
            i++;
        } else
            usage();
    }
    if (!model_path || !ad_dir || n_threads < 1 || n_rounds < 1 || S < 1 || P < 1 || S % 8 ||
        S > MAX_AD * 8)
        usage();

    ol_err err;
    double bw0 = measure_bandwidth(n_threads);
    ol_model *m = ol_model_load(model_path, &err);
    if (!m) return fprintf(stderr, "%s: %s\n", model_path, err.msg), 1;
    const ol_hparams *hp = ol_model_hparams(m);
    ol_cpu *cpu = ol_cpu_create(n_threads, OL_CPU_TIER_COUNT, &err);
    if (!cpu) return fprintf(stderr, "cpu: %s\n", err.msg), 1;
    const size_t kv_tok = (size_t)hp->n_layer * 2 * (size_t)hp->n_head_kv * hp->head_dim * 2;
    ol_kv_pool *kv = ol_model_kv_pool_create(m, OL_DTYPE_F16,
                                             kv_tok * (size_t)S * (P + 32) + (64 << 20), 16, &err);
    if (!kv) return fprintf(stderr, "kv: %s\n", err.msg), 1;
    const int n_batch_max = S > P ? S : P;
    ol_model_ctx *ctx = ol_model_ctx_create(m, cpu, n_batch_max, &err);
    if (!ctx) return fprintf(stderr, "ctx: %s\n", err.msg), 1;
    const int V = hp->n_vocab;
    float *logits = malloc(sizeof(float) * (size_t)V * (size_t)(S > P ? S : P));

    /* load adapters: per rank, MAX_AD (fewer if S < 32 is asked: min(S, 32)) */
    const int n_ad_max = S < MAX_AD ? S : MAX_AD;
    ol_adapter *ads[MAX_RANKS][MAX_AD] = {{0}};
    double t_load = now();
    for (int ri = 0; ri < n_ranks; ri++)
        for (int i = 0; i < n_ad_max; i++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/r%d/%d", ad_dir, ranks[ri], i);
            ads[ri][i] = ol_adapter_load(path, m, &err);
            if (!ads[ri][i]) return fprintf(stderr, "%s: %s\n", path, err.msg), 1;
        }
    t_load = now() - t_load;

    /* prefill S sequences of P random tokens, one sequence per batch, base model only */
    ol_kv_seq *seq = calloc((size_t)S, sizeof(ol_kv_seq));
    ol_kv_seq **seqp = calloc((size_t)S, sizeof(ol_kv_seq *));
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)n_batch_max);
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)n_batch_max);
    int32_t *sid = malloc(sizeof(int32_t) * (size_t)n_batch_max);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
#define RND() (rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17, rng)
    double t_pf = now();
    for (int s = 0; s < S; s++) {
        ol_kv_seq_init(&seq[s]);
        seqp[s] = &seq[s];
        if (ol_kv_seq_reserve(kv, &seq[s], P + 1)) return fprintf(stderr, "kv: full\n"), 1;
        for (int i = 0; i < P; i++) tok[i] = (int32_t)(RND() % (uint64_t)V), pos[i] = i, sid[i] = 0;
        ol_batch b = {P, tok, pos, sid, NULL, 1, &seqp[s], 0, NULL};
        if (ol_model_forward(ctx, kv, &b, logits, &err))
            return fprintf(stderr, "prefill: %s\n", err.msg), 1;
    }
    t_pf = now() - t_pf;

    /* the decode batch: token s belongs to sequence s at position P */
    int32_t *dtok = malloc(sizeof(int32_t) * (size_t)S),
            *dpos = malloc(sizeof(int32_t) * (size_t)S),
            *dsid = malloc(sizeof(int32_t) * (size_t)S);
    for (int s = 0; s < S; s++) dtok[s] = (int32_t)(RND() % (uint64_t)V), dpos[s] = P, dsid[s] = s;

    config cfg[1 + MAX_RANKS * 3];
    int n_cfg = 0;
    cfg[n_cfg++] = (config){.name = "base", .rank_idx = -1};
    const int groups[3] = {1, 8, 32};
    for (int ri = 0; ri < n_ranks; ri++)
        for (int gi = 0; gi < 3; gi++) {
            int g = groups[gi];
            if (g > n_ad_max) continue;
            if (only) {
                char key[32];
                snprintf(key, sizeof(key), "r%dx%d", ranks[ri], g);
                const char *f = strstr(only, key);
                if (!f || (f[strlen(key)] && f[strlen(key)] != ',') || (f > only && f[-1] != ','))
                    continue;
            }
            config *c = &cfg[n_cfg++];
            *c = (config){.rank_idx = ri, .n_ad = g};
            snprintf(c->name, sizeof(c->name), "r%d x%d", ranks[ri], g);
            for (int k = 0; k < g; k++) {
                int t0 = (int)((long)S * k / g), t1 = (int)((long)S * (k + 1) / g);
                c->lora[k] = (ol_batch_lora){t0, t1 - t0, ol_adapter_weights(ads[ri][k]), 1.0f};
                c->bytes += ol_adapter_bytes(ads[ri][k]);
            }
            c->n_lora = g;
        }
    for (int i = 0; i < n_cfg; i++) {
        cfg[i].step = calloc((size_t)n_rounds, sizeof(double));
        cfg[i].kern = calloc((size_t)n_rounds, sizeof(double));
    }

    /* kernel-only inputs: random activations for the widest projection */
    int64_t max_in = 0, max_out = 0;
    for (int p = 0; p < OL_PROJ_COUNT; p++) {
        int64_t ni, no;
        ol_model_proj_shape(m, (ol_proj)p, &ni, &no);
        if (ni > max_in) max_in = ni;
        if (no > max_out) max_out = no;
    }
    float *kx = ol_alloc_aligned(sizeof(float) * (size_t)S * (size_t)max_in);
    float *ky = ol_alloc_aligned(sizeof(float) * (size_t)S * (size_t)max_out);
    for (int64_t i = 0; i < (int64_t)S * max_in; i++) kx[i] = (float)(RND() % 2001) * 1e-3f - 1.0f;
    memset(ky, 0, sizeof(float) * (size_t)S * (size_t)max_out);
    ol_lora_seg segs[MAX_AD];

    double t_run = now();
    for (int round = -n_warm; round < n_rounds; round++) {
        for (int i = 0; i < n_cfg; i++) {
            config *c = &cfg[i];
            ol_batch b = {
                S, dtok, dpos, dsid, NULL, S, seqp, c->n_lora, c->n_lora ? c->lora : NULL};
            double t0 = now();
            if (ol_model_forward(ctx, kv, &b, logits, &err))
                return fprintf(stderr, "decode %s: %s\n", c->name, err.msg), 1;
            double dt = now() - t0;
            if (round >= 0) c->step[c->n_step++] = dt;
            if (!do_kern || c->rank_idx < 0) continue;
            t0 = now();
            for (int il = 0; il < hp->n_layer; il++)
                for (int p = 0; p < OL_PROJ_COUNT; p++) {
                    int64_t ni, no;
                    ol_model_proj_shape(m, (ol_proj)p, &ni, &no);
                    int n = 0;
                    for (int k = 0; k < c->n_lora; k++) {
                        const ol_lora_mat *mt = &c->lora[k].w->mats[(size_t)il * OL_PROJ_COUNT + p];
                        if (mt->r == 0) continue;
                        segs[n++] = (ol_lora_seg){c->lora[k].t0, c->lora[k].n, mt->r,
                                                  mt->a,         mt->bt,       c->lora[k].weight};
                    }
                    if (n) ol_cpu_lora(cpu, segs, n, kx, ni, ni, ky, no, no);
                }
            dt = now() - t0;
            if (round >= 0) c->kern[c->n_kern++] = dt;
        }
    }
    t_run = now() - t_run;
    double bw1 = measure_bandwidth(n_threads);
    const double bw = bw0 > bw1 ? bw0 : bw1;

    for (int i = 0; i < n_cfg; i++) {
        /* keep the raw order for nothing: medians only */
        cfg[i].step[0] = median(cfg[i].step, cfg[i].n_step);
        cfg[i].kern[0] = median(cfg[i].kern, cfg[i].n_kern);
    }
    const double tb = cfg[0].step[0];
    const char *slash = strrchr(model_path, '/');
    printf("model %s (%s, %d layers, n_embd %d, n_ff %d, %.1f MB weights/token), tier %s, -t %d\n",
           slash ? slash + 1 : model_path, hp->arch_name, hp->n_layer, hp->n_embd, hp->n_ff,
           ol_model_weight_bytes_per_token(m) / 1e6, ol_cpu_tier_name(ol_cpu_tier_of(cpu)),
           n_threads);
    printf("batch: %d sequences x 1 token at position %d (prefill %d x %d tokens: %.1f s); "
           "adapters loaded in %.1f s\n",
           S, P, S, P, t_pf, t_load);
    printf("bandwidth %.1f GB/s (probe: %.1f before, %.1f after; %d threads, 1 GiB, best of 5); "
           "%d timed rounds after %d warm-up, medians; rounds took %.1f s\n",
           bw / 1e9, bw0 / 1e9, bw1 / 1e9, n_threads, n_rounds, n_warm, t_run);
    printf("%-9s %9s %9s %10s %8s %9s %9s %9s\n", "config", "ms/step", "overhead", "adapter MB",
           "floor %", "eff bw %", "kern ms", "kern bw %");
    for (int i = 0; i < n_cfg; i++) {
        const config *c = &cfg[i];
        const double t = c->step[0];
        if (c->rank_idx < 0) {
            printf("%-9s %9.2f %9s %10s %8s %9s %9s %9s\n", c->name, t * 1e3, "-", "0", "-", "-",
                   "-", "-");
            continue;
        }
        const double mb = (double)c->bytes / 1e6, floor_pct = 100.0 * (double)c->bytes / bw / tb,
                     over = 100.0 * (t - tb) / tb;
        char eff[32] = "n/a", kms[32] = "-", kbw[32] = "-";
        if (t > tb) snprintf(eff, sizeof(eff), "%.0f", 100.0 * (double)c->bytes / (t - tb) / bw);
        if (c->n_kern) {
            snprintf(kms, sizeof(kms), "%.2f", c->kern[0] * 1e3);
            snprintf(kbw, sizeof(kbw), "%.0f", 100.0 * (double)c->bytes / c->kern[0] / bw);
        }
        printf("%-9s %9.2f %8.1f%% %10.1f %8.2f %9s %9s %9s\n", c->name, t * 1e3, over, mb,
               floor_pct, eff, kms, kbw);
    }
    if (json) {
        printf("{\"model\":\"%s\",\"threads\":%d,\"bandwidth\":%.6e,\"base_ms\":%.4f,\"configs\":[",
               slash ? slash + 1 : model_path, n_threads, bw, tb * 1e3);
        for (int i = 1; i < n_cfg; i++)
            printf("%s{\"name\":\"%s\",\"ms\":%.4f,\"kern_ms\":%.4f,\"adapter_bytes\":%zu}",
                   i > 1 ? "," : "", cfg[i].name, cfg[i].step[0] * 1e3, cfg[i].kern[0] * 1e3,
                   cfg[i].bytes);
        printf("]}\n");
    }

    for (int i = 0; i < n_cfg; i++) free(cfg[i].step), free(cfg[i].kern);
    ol_free_aligned(kx);
    ol_free_aligned(ky);
    for (int s = 0; s < S; s++) ol_kv_seq_release(kv, &seq[s]);
    for (int ri = 0; ri < n_ranks; ri++)
        for (int i = 0; i < n_ad_max; i++) ol_adapter_destroy(ads[ri][i]);
    free(seq), free(seqp), free(tok), free(pos), free(sid), free(dtok), free(dpos), free(dsid);
    free(logits);
    ol_model_ctx_destroy(ctx);
    ol_kv_pool_destroy(kv);
    ol_cpu_destroy(cpu);
    ol_model_destroy(m);
    return 0;
}
