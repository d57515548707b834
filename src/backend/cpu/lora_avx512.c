/* backend/cpu/lora_avx512.c: the AVX-512 tier of the LoRA segment kernel. One call handles up
 * to LORA_TB (4) tokens of one segment: shrink h = scale · A x over 4 tokens × 4 rank rows at a
 * time (16 accumulators, masked tails), then expand y += Bt^T h over 4 tokens × 64 outputs.
 * Every (token, rank) sum and every (token, output) update runs the same instruction sequence
 * whatever the number of tokens in the call, so results do not depend on batching. */
#include "lora_internal.h"

#include <immintrin.h>

#define KB 4 /* rank rows per shrink tile */
/* the tile loops must unroll so that accumulators stay in registers (-O2 does not by itself) */
#define UNROLL _Pragma("GCC unroll 16")

static inline __attribute__((always_inline)) void shrink_tile(const int NT,
                                                              const float *const xr[LORA_TB],
                                                              const float *const ar[KB], int64_t n,
                                                              float out[LORA_TB][KB]) {
    __m512 c[LORA_TB][KB];
    UNROLL
    for (int j = 0; j < NT; j++) UNROLL
    for (int k = 0; k < KB; k++) c[j][k] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 av[KB];
        UNROLL
        for (int k = 0; k < KB; k++) av[k] = _mm512_loadu_ps(ar[k] + i);
        UNROLL
        for (int j = 0; j < NT; j++) {
            const __m512 xv = _mm512_loadu_ps(xr[j] + i);
            UNROLL
            for (int k = 0; k < KB; k++) c[j][k] = _mm512_fmadd_ps(av[k], xv, c[j][k]);
        }
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 av[KB];
        UNROLL
        for (int k = 0; k < KB; k++) av[k] = _mm512_maskz_loadu_ps(m, ar[k] + i);
        UNROLL
        for (int j = 0; j < NT; j++) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, xr[j] + i);
            UNROLL
            for (int k = 0; k < KB; k++) c[j][k] = _mm512_fmadd_ps(av[k], xv, c[j][k]);
        }
    }
    UNROLL
    for (int j = 0; j < NT; j++) UNROLL
    for (int k = 0; k < KB; k++) out[j][k] = _mm512_reduce_add_ps(c[j][k]);
}

static inline __attribute__((always_inline)) void shrink_nt(const int NT, const ol_lora_seg *g,
                                                            const float *x, int64_t ldx, int64_t n,
                                                            float h[][OL_LORA_MAX_RANK]) {
    const float *xr[LORA_TB];
    UNROLL
    for (int j = 0; j < LORA_TB; j++) xr[j] = x + (int64_t)(j < NT ? j : 0) * ldx;
    for (int32_t k0 = 0; k0 < g->r; k0 += KB) {
        const float *ar[KB];
        /* rank rows past r re-read row k0; their sums are discarded */
        UNROLL
        for (int k = 0; k < KB; k++) ar[k] = g->a + (int64_t)(k0 + k < g->r ? k0 + k : k0) * n;
        float out[LORA_TB][KB];
        shrink_tile(NT, xr, ar, n, out);
        UNROLL
        for (int j = 0; j < NT; j++)
            for (int k = 0; k < KB && k0 + k < g->r; k++) h[j][k0 + k] = out[j][k] * g->scale;
    }
}

#define OB 4 /* 16-float vectors of outputs per expand tile */

static inline __attribute__((always_inline)) void expand_nt(const int NT, const ol_lora_seg *g,
                                                            float h[][OL_LORA_MAX_RANK],
                                                            int64_t n_out, float *y, int64_t ldy) {
    const float *bt = g->bt;
    const int32_t r = g->r;
    int64_t o = 0;
    for (; o + 16 * OB <= n_out; o += 16 * OB) {
        __m512 c[LORA_TB][OB];
        UNROLL
        for (int j = 0; j < NT; j++) UNROLL
        for (int v = 0; v < OB; v++) c[j][v] = _mm512_loadu_ps(y + (int64_t)j * ldy + o + 16 * v);
        for (int32_t k = 0; k < r; k++) {
            const float *b = bt + (int64_t)k * n_out + o;
            __m512 bv[OB];
            UNROLL
            for (int v = 0; v < OB; v++) bv[v] = _mm512_loadu_ps(b + 16 * v);
            UNROLL
            for (int j = 0; j < NT; j++) {
                const __m512 hk = _mm512_set1_ps(h[j][k]);
                UNROLL
                for (int v = 0; v < OB; v++) c[j][v] = _mm512_fmadd_ps(hk, bv[v], c[j][v]);
            }
        }
        UNROLL
        for (int j = 0; j < NT; j++) UNROLL
        for (int v = 0; v < OB; v++) _mm512_storeu_ps(y + (int64_t)j * ldy + o + 16 * v, c[j][v]);
    }
    /* the rest, 16 outputs at a time (the last one masked): same per-element sequence */
    for (; o < n_out; o += 16) {
        const int64_t w = n_out - o < 16 ? n_out - o : 16;
        const __mmask16 m = (__mmask16)((1u << w) - 1);
        __m512 c[LORA_TB];
        UNROLL
        for (int j = 0; j < NT; j++) c[j] = _mm512_maskz_loadu_ps(m, y + (int64_t)j * ldy + o);
        for (int32_t k = 0; k < r; k++) {
            const __m512 bv = _mm512_maskz_loadu_ps(m, bt + (int64_t)k * n_out + o);
            UNROLL
            for (int j = 0; j < NT; j++) c[j] = _mm512_fmadd_ps(_mm512_set1_ps(h[j][k]), bv, c[j]);
        }
        UNROLL
        for (int j = 0; j < NT; j++) _mm512_mask_storeu_ps(y + (int64_t)j * ldy + o, m, c[j]);
    }
}

void ol_lora_block_avx512(const ol_lora_seg *g, const float *x, int64_t ldx, int nt, int64_t n_in,
                          float *y, int64_t ldy, int64_t n_out) {
    float h[LORA_TB][OL_LORA_MAX_RANK];
    switch (nt) {
    case 1:
        shrink_nt(1, g, x, ldx, n_in, h);
        expand_nt(1, g, h, n_out, y, ldy);
        break;
    case 2:
        shrink_nt(2, g, x, ldx, n_in, h);
        expand_nt(2, g, h, n_out, y, ldy);
        break;
    case 3:
        shrink_nt(3, g, x, ldx, n_in, h);
        expand_nt(3, g, h, n_out, y, ldy);
        break;
    default:
        shrink_nt(4, g, x, ldx, n_in, h);
        expand_nt(4, g, h, n_out, y, ldy);
        break;
    }
}
