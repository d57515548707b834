/* backend/cpu/kernels_avx512.c: the AVX-512 tier (F/BW/VL/VNNI, BF16 when present). 32-element
 * formats: vpdpbusd over activations re-laid out so one instruction covers 4 or 8 blocks (see
 * act4_layout); one weight row against 1 activation row (decode) or two rows against up to 8
 * (prefill). K-quants: vpmaddubsw + vpdpwssd fuse the sub-block scales into the accumulation.
 * Activation quantizers are bit-exact with the _ref ones. */
#include "cpu_internal.h"

#include <immintrin.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))
/* -O2 does not fully unroll the loops over activation rows; accumulators must stay in registers */
#define UNROLL _Pragma("GCC unroll 8")

/* Instantiate body(NC, ...) for the constant nc = 1..8 so accumulators live in registers. */
#define NC_SWITCH(body, ...)                                                                       \
    switch (nc) {                                                                                  \
    case 1:                                                                                        \
        body(1, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    case 2:                                                                                        \
        body(2, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    case 3:                                                                                        \
        body(3, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    case 4:                                                                                        \
        body(4, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    case 5:                                                                                        \
        body(5, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    case 6:                                                                                        \
        body(6, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    case 7:                                                                                        \
        body(7, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    default:                                                                                       \
        body(8, __VA_ARGS__);                                                                      \
        break;                                                                                     \
    }

AI float f16_load(const void *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* ---- activation quantizers --------------------------------------------------------------- */

/* roundf (halves away from zero) of integral-range floats, exactly. */
AI __m512 round_away(__m512 v) {
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f),
                              _mm512_and_ps(v, _mm512_castsi512_ps(_mm512_set1_epi32(INT32_MIN))));
    return _mm512_mask_add_ps(t, up, t, one);
}

/* Tier-private activation rows for the 32-element formats: the standard Q8_0/Q8_1 row, then
 * regions (64-byte aligned; missing blocks of a last partial group are q = 0, d = 0):
 *   qs:  [ng][2][4][16] u8 = q + 128, groups of 4 blocks: half h = elements 16h..16h+15 of the
 *        4 blocks, so a zmm puts each block in 4 dword lanes and one vpdpbusd (u8 activation x
 *        s8 weight) covers 4 blocks; the +128 comes back out as -128*Σw from the weight side;
 *   qss: the same as plain s8 q, for the one-row kernel (nc = 1), which makes the weights the
 *        unsigned side instead (q + 128; no per-step weight sums);
 *   da:  [ng][4][4] f32: d of each block over its 4 lanes;
 *   ex:  [ng][4][4] 32-bit: Q8_0 rows: int32 -128*Σq over the elements of each lane (nc = 1);
 *        Q8_1 rows: f32 s as stored in lane 0 of each block, for the m·s term;
 *   q8/da8/ex8/q8s: the same for groups of 8 blocks: [ng8][4][8][8] where chunk k holds
 *        elements 8k..8k+7 of the 8 blocks (each block in 2 dword lanes: half the float work
 *        per block of the 4-block layout); da8/ex8 [ng8][8][2]. Rows of Q4_0/Q4_1/Q5_0/Q5_1
 *        weights use 8-block steps and 4-block steps after the last full group of 8; Q8_0 only
 *        4-block steps (its 8-block transpose costs more than it saves).
 * Every nc takes the same steps and the same per-lane integer sums (exact) and float
 * operations, so a row's result is bit-identical whatever batch it is computed in. */
typedef struct {
    size_t qs, qss, da, ex, q8, da8, ex8, q8s, end;
} act4_layout;

AI act4_layout act4_layout_of(int64_t nb, size_t block_bytes) {
    size_t ng = (size_t)(nb + 3) / 4;
    act4_layout l;
    l.qs = ((size_t)nb * block_bytes + 63) & ~(size_t)63;
    l.qss = l.qs + ng * 128;
    l.da = l.qss + ng * 128;
    l.ex = l.da + ng * 64;
    size_t ng8 = (size_t)(nb + 7) / 8;
    l.q8 = l.ex + ng * 64;
    l.da8 = l.q8 + ng8 * 256;
    l.ex8 = l.da8 + ng8 * 64;
    l.q8s = l.ex8 + ng8 * 64;
    l.end = l.q8s + ng8 * 256;
    return l;
}

static size_t act4_bytes_q8_0(int64_t n) {
    return act4_layout_of(n / 32, 34).end;
}
static size_t act4_bytes_q8_1(int64_t n) {
    return act4_layout_of(n / 32, 36).end;
}

/* Q8_0 (q81 = 0) or Q8_1 (q81 = 1) row plus the act4 regions. */
AI void quant_q8_x(const float *x, uint8_t *dst, int64_t n, int q81) {
    int64_t nb = n / 32;
    size_t bsize = q81 ? sizeof(ol_block_q8_1) : sizeof(ol_block_q8_0);
    act4_layout L = act4_layout_of(nb, bsize);
    int64_t ng = (nb + 3) / 4;
    if (nb & 3) { /* the missing blocks of the last group: q = 0 (stored as 128), d = 0 */
        memset(dst + L.qs + (ng - 1) * 128, 0x80, 128);
        memset(dst + L.qss + (ng - 1) * 128, 0, 128);
        memset(dst + L.da + (ng - 1) * 64, 0, 64);
        memset(dst + L.ex + (ng - 1) * 64, 0, 64);
    }
    int64_t ng8 = (nb + 7) / 8;
    if (nb & 7) {
        memset(dst + L.q8 + (ng8 - 1) * 256, 0x80, 256);
        memset(dst + L.da8 + (ng8 - 1) * 64, 0, 64);
        memset(dst + L.ex8 + (ng8 - 1) * 64, 0, 64);
        memset(dst + L.q8s + (ng8 - 1) * 256, 0, 256);
    }
    for (int64_t i = 0; i < nb; i++, x += 32) {
        __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        __m512i q0 = _mm512_cvtps_epi32(round_away(_mm512_mul_ps(x0, _mm512_set1_ps(id))));
        __m512i q1 = _mm512_cvtps_epi32(round_away(_mm512_mul_ps(x1, _mm512_set1_ps(id))));
        __m128i b0 = _mm512_cvtsepi32_epi8(q0), b1 = _mm512_cvtsepi32_epi8(q1);
        int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
        uint16_t dh = _cvtss_sh(d, 0);
        uint8_t *blk = dst + (size_t)i * bsize;
        memcpy(blk, &dh, 2);
        int8_t *bq = (int8_t *)blk + (q81 ? 4 : 2);
        _mm_storeu_si128((__m128i *)bq, b0);
        _mm_storeu_si128((__m128i *)(bq + 16), b1);
        size_t g = (size_t)(i / 4), j = (size_t)(i % 4);
        const __m128i x80 = _mm_set1_epi8(-128);
        _mm_storeu_si128((__m128i *)(dst + L.qs + g * 128 + 16 * j), _mm_xor_si128(b0, x80));
        _mm_storeu_si128((__m128i *)(dst + L.qs + g * 128 + 64 + 16 * j), _mm_xor_si128(b1, x80));
        _mm_storeu_si128((__m128i *)(dst + L.qss + g * 128 + 16 * j), b0);
        _mm_storeu_si128((__m128i *)(dst + L.qss + g * 128 + 64 + 16 * j), b1);
        _mm_storeu_ps((float *)(dst + L.da + g * 64 + 16 * j), _mm_set1_ps(_cvtsh_ss(dh)));
        size_t g8 = (size_t)(i / 8), j8 = (size_t)(i % 8);
        uint8_t *q8 = dst + L.q8 + g8 * 256 + 8 * j8;
        __m128i u0 = _mm_xor_si128(b0, x80), u1 = _mm_xor_si128(b1, x80);
        _mm_storel_epi64((__m128i *)q8, u0);
        _mm_storel_epi64((__m128i *)(q8 + 64), _mm_unpackhi_epi64(u0, u0));
        _mm_storel_epi64((__m128i *)(q8 + 128), u1);
        _mm_storel_epi64((__m128i *)(q8 + 192), _mm_unpackhi_epi64(u1, u1));
        uint8_t *q8s = dst + L.q8s + g8 * 256 + 8 * j8;
        _mm_storel_epi64((__m128i *)q8s, b0);
        _mm_storel_epi64((__m128i *)(q8s + 64), _mm_unpackhi_epi64(b0, b0));
        _mm_storel_epi64((__m128i *)(q8s + 128), b1);
        _mm_storel_epi64((__m128i *)(q8s + 192), _mm_unpackhi_epi64(b1, b1));
        float *da8 = (float *)(dst + L.da8 + g8 * 64 + 8 * j8);
        da8[0] = da8[1] = _cvtsh_ss(dh);
        int32_t *ex4 = (int32_t *)(dst + L.ex + g * 64 + 16 * j);
        int32_t *ex8 = (int32_t *)(dst + L.ex8 + g8 * 64 + 8 * j8);
        if (q81) {
            uint16_t sh = _cvtss_sh((float)sum * d, 0);
            memcpy(blk + 2, &sh, 2);
            float s = _cvtsh_ss(sh), z = 0.0f;
            memcpy(ex4, &s, 4), memcpy(ex4 + 1, &z, 4), memcpy(ex4 + 2, &z, 4);
            memcpy(ex4 + 3, &z, 4), memcpy(ex8, &s, 4), memcpy(ex8 + 1, &z, 4);
        } else { /* -128 * Σq over the elements of each dword lane (nc = 1 kernel) */
            for (int m = 0; m < 4; m++) {
                int t = 0;
                for (int e = 0; e < 4; e++) t += bq[4 * m + e] + bq[16 + 4 * m + e];
                ex4[m] = -128 * t;
            }
            for (int h = 0; h < 2; h++) {
                int t = 0;
                for (int k = 0; k < 4; k++)
                    for (int e = 0; e < 4; e++) t += bq[8 * k + 4 * h + e];
                ex8[h] = -128 * t;
            }
        }
    }
}

static void quant_q8_0x(const float *x, void *dst, int64_t n) {
    quant_q8_x(x, dst, n, 0);
}
static void quant_q8_1x(const float *x, void *dst, int64_t n) {
    quant_q8_x(x, dst, n, 1);
}

static void quant_q8_K(const float *x, void *dst, int64_t n) {
    ol_block_q8_K *y = dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        __m512 vmax = _mm512_setzero_ps();
        for (int j = 0; j < 16; j++)
            vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + 16 * j)));
        float amax = _mm512_reduce_max_ps(vmax);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        float max = 0.0f; /* the first element of largest magnitude, with its sign */
        for (int j = 0; j < 16; j++) {
            __mmask16 m = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * j)),
                                             _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (m) {
                max = x[16 * j + __builtin_ctz(m)];
                break;
            }
        }
        float iscale = -127.0f / max;
        __m512 vs = _mm512_set1_ps(iscale);
        for (int j = 0; j < 16; j++) {
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * j), vs));
            q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
            _mm_storeu_si128((__m128i *)(y[i].qs + 16 * j), _mm512_cvtsepi32_epi8(q));
            y[i].bsums[j] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        y[i].d = 1.0f / iscale;
    }
}

/* Q8_K rows for Q4_K/Q5_K weights: the standard row, then (64-byte aligned) d*bsums[g] as f32,
 * [nb][16], so the min term of a super-block is one FMA per activation row instead of an
 * integer madd, a conversion, a scale and an FMA. */
AI size_t q8K_dbs_off(int64_t n) {
    return ((size_t)(n / 256) * sizeof(ol_block_q8_K) + 63) & ~(size_t)63;
}
static size_t act_bytes_q8_Kx(int64_t n) {
    return q8K_dbs_off(n) + (size_t)(n / 256) * 64;
}

static void quant_q8_Kx(const float *x, void *dst, int64_t n) {
    quant_q8_K(x, dst, n);
    const ol_block_q8_K *y = dst;
    float *dbs = (float *)((uint8_t *)dst + q8K_dbs_off(n));
    for (int64_t i = 0; i < n / 256; i++) {
        __m512 b = _mm512_cvtepi32_ps(
            _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)y[i].bsums)));
        _mm512_storeu_ps(dbs + 16 * i, _mm512_mul_ps(b, _mm512_set1_ps(y[i].d)));
    }
}

static void quant_f32(const float *x, void *dst, int64_t n) {
    memcpy(dst, x, (size_t)n * 4);
}

/* F16 activations: the standard f16 row, then (64-byte aligned) the same values widened to f32,
 * so the dot product does one conversion per weight vector instead of one per pair. */
AI size_t f16_wide_off(int64_t n) {
    return ((size_t)n * 2 + 63) & ~(size_t)63;
}
static size_t act_bytes_f16(int64_t n) {
    return f16_wide_off(n) + (size_t)n * 4;
}

static void quant_f16(const float *x, void *dst, int64_t n) {
    uint16_t *y = dst;
    float *yf = (float *)((uint8_t *)dst + f16_wide_off(n));
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(x + i), 0);
        _mm256_storeu_si256((__m256i *)(y + i), h);
        _mm512_storeu_ps(yf + i, _mm512_cvtph_ps(h));
    }
    for (; i < n; i++) y[i] = _cvtss_sh(x[i], 0), yf[i] = _cvtsh_ss(y[i]);
}

static void quant_bf16(const float *x, void *dst, int64_t n) {
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256bh b = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
        _mm256_storeu_si256((__m256i *)(y + i), (__m256i)b);
    }
    for (; i < n; i++) y[i] = ol_f32_to_bf16(x[i]);
}

/* ---- 32-element formats against Q8_0 / Q8_1 ----------------------------------------------
 * Four blocks per step, laid out like the act4 rows: U0 holds elements 0..15 of the 4 blocks
 * (16 bytes each), U1 elements 16..31, as s8 weights; DW their d over each block's 4 dword
 * lanes; C = -128*Σw per lane starts each block's integer sum. */
enum { K_Q4_0, K_Q4_1, K_Q5_0, K_Q5_1, K_Q8_0 };

AI size_t kind_bsize(int kind) {
    return kind == K_Q4_0   ? 18
           : kind == K_Q4_1 ? 20
           : kind == K_Q5_0 ? 22
           : kind == K_Q5_1 ? 24
                            : 34;
}

/* The 16 bytes at offset off of 4 blocks into the 4 lanes of a zmm. */
AI __m512i load4x16(const uint8_t *b, size_t bs, size_t off) {
    __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(b + off)));
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(b + bs + off)), 1);
    z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(b + 2 * bs + off)), 2);
    return _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(b + 3 * bs + off)), 3);
}

/* 4 consecutive blocks -> U0 (elements 0..15 of each) and U1 (16..31): s8 weights, or, when
 * uns, u8 = w + 128 for Q4_0/Q5_0/Q8_0 (the 1-row scheme; Q4_1/Q5_1 are unsigned anyway). */
AI void unpack4(int kind, const uint8_t *b, __m512i *u0, __m512i *u1, int uns) {
    const size_t bs = kind_bsize(kind);
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    if (kind == K_Q8_0) {
        const __m512i i0 = _mm512_set_epi64(13, 12, 9, 8, 5, 4, 1, 0);
        const __m512i i1 = _mm512_set_epi64(15, 14, 11, 10, 7, 6, 3, 2);
        __m512i x =
            _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b + 2))),
                               _mm256_loadu_si256((const __m256i *)(b + bs + 2)), 1);
        __m512i y = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b + 2 * bs + 2))),
            _mm256_loadu_si256((const __m256i *)(b + 3 * bs + 2)), 1);
        *u0 = _mm512_permutex2var_epi64(x, i0, y);
        *u1 = _mm512_permutex2var_epi64(x, i1, y);
        if (uns) {
            *u0 = _mm512_xor_si512(*u0, _mm512_set1_epi8(-128));
            *u1 = _mm512_xor_si512(*u1, _mm512_set1_epi8(-128));
        }
        return;
    }
    size_t qs_off = kind == K_Q4_0 ? 2 : kind == K_Q4_1 ? 4 : kind == K_Q5_0 ? 6 : 8;
    __m512i z = load4x16(b, bs, qs_off);
    *u0 = _mm512_and_si512(z, lo4);
    *u1 = _mm512_and_si512(_mm512_srli_epi16(z, 4), lo4);
    if (kind == K_Q5_0 || kind == K_Q5_1) {
        /* lane j's dword 0 = qh of block j; byte e of U0 (U1) takes bit e (16 + e) */
        __m512i q = load4x16(b, bs, kind == K_Q5_0 ? 2 : 4);
        const __m512i s0 =
            _mm512_broadcast_i32x4(_mm_set_epi64x(0x0101010101010101, 0x0000000000000000));
        const __m512i s1 =
            _mm512_broadcast_i32x4(_mm_set_epi64x(0x0303030303030303, 0x0202020202020202));
        const __m512i bits = _mm512_set1_epi64((long long)0x8040201008040201ull);
        const __m512i k16 = _mm512_set1_epi8(16);
        __m512i h0 = _mm512_shuffle_epi8(q, s0), h1 = _mm512_shuffle_epi8(q, s1);
        if (kind == K_Q5_1) {
            *u0 = _mm512_mask_add_epi8(*u0, _mm512_test_epi8_mask(h0, bits), *u0, k16);
            *u1 = _mm512_mask_add_epi8(*u1, _mm512_test_epi8_mask(h1, bits), *u1, k16);
            return;
        }
        /* Q5_0: q - 16 = nibble - 16 where the high bit is clear, the nibble where it is set;
         * plus 128 when uns */
        if (uns) {
            *u0 = _mm512_or_si512(*u0, _mm512_set1_epi8(-128));
            *u1 = _mm512_or_si512(*u1, _mm512_set1_epi8(-128));
        }
        *u0 = _mm512_mask_sub_epi8(*u0, _mm512_testn_epi8_mask(h0, bits), *u0, k16);
        *u1 = _mm512_mask_sub_epi8(*u1, _mm512_testn_epi8_mask(h1, bits), *u1, k16);
        return;
    }
    if (kind == K_Q4_0) { /* q - 8, or q - 8 + 128 when uns */
        const __m512i off = _mm512_set1_epi8((char)(uns ? 120 : -8));
        *u0 = _mm512_add_epi8(*u0, off);
        *u1 = _mm512_add_epi8(*u1, off);
    }
}

/* The f16 at byte offset off of 4 blocks as 16 floats, each block's over its 4 lanes. Scalar
 * loads beat vpgatherdd here (microcoded on AMD). Zero blocks give 0. */
AI __m512 f16x4(const uint8_t *b, size_t bs, size_t off) {
    uint16_t h0, h1, h2, h3;
    memcpy(&h0, b + off, 2);
    memcpy(&h1, b + bs + off, 2);
    memcpy(&h2, b + 2 * bs + off, 2);
    memcpy(&h3, b + 3 * bs + off, 2);
    uint64_t v = (uint64_t)h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 | (uint64_t)h3 << 48;
    __m128 f = _mm_cvtph_ps(_mm_cvtsi64_si128((long long)v));
    const __m512i idx = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(f));
}

/* One weight row's step of 4 blocks for nc >= 2 (activations u8 = q + 128): U0, U1, -128*Σw
 * per lane, d (and m) per lane. */
AI void prep4(int kind, const uint8_t *wb, int64_t left, uint8_t *tmp, __m512i *u0, __m512i *u1,
              __m512i *cw, __m512 *dw, __m512 *mw) {
    const size_t bs = kind_bsize(kind);
    if (left < 4) { /* last partial group: pad with zero blocks, stay in the row */
        memset(tmp, 0, 4 * 34);
        memcpy(tmp, wb, (size_t)left * bs);
        wb = tmp;
    }
    unpack4(kind, wb, u0, u1, 0);
    const __m512i k80 = _mm512_set1_epi8(-128);
    __m512i c = _mm512_dpbusd_epi32(_mm512_setzero_si512(), k80, *u0);
    *cw = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(c, k80, *u1));
    *dw = f16x4(wb, bs, 0);
    *mw = (kind == K_Q4_1 || kind == K_Q5_1) ? f16x4(wb, bs, 2) : *dw;
}

/* ---- eight blocks per step (activation rows with nc >= 2) ----------------------------------
 * z[k] holds elements 8k..8k+7 of 8 blocks (8 bytes each), so a vpdpbusd leaves each block in
 * 2 dword lanes and 4 of them cover 8 blocks: half the float work per block of the 4-block
 * layout. Activations: the q8/da8/ex8 regions, u8 = q + 128 (see act4_layout). */
AI void unpack8(int kind, const uint8_t *b, __m512i z[4], int uns) {
    const size_t bs = kind_bsize(kind);
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    if (kind == K_Q8_0) {
        __m512i x[4];
        for (int i = 0; i < 4; i++)
            x[i] = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b + 2 * i * bs + 2))),
                _mm256_loadu_si256((const __m256i *)(b + (2 * i + 1) * bs + 2)), 1);
        const __m512i ie = _mm512_set_epi64(13, 9, 5, 1, 12, 8, 4, 0);
        const __m512i io = _mm512_set_epi64(15, 11, 7, 3, 14, 10, 6, 2);
        __m512i te = _mm512_permutex2var_epi64(x[0], ie, x[1]);
        __m512i to = _mm512_permutex2var_epi64(x[0], io, x[1]);
        __m512i ue = _mm512_permutex2var_epi64(x[2], ie, x[3]);
        __m512i uo = _mm512_permutex2var_epi64(x[2], io, x[3]);
        z[0] = _mm512_shuffle_i64x2(te, ue, 0x44);
        z[1] = _mm512_shuffle_i64x2(te, ue, 0xEE);
        z[2] = _mm512_shuffle_i64x2(to, uo, 0x44);
        z[3] = _mm512_shuffle_i64x2(to, uo, 0xEE);
        if (uns)
            UNROLL for (int k = 0; k < 4; k++) z[k] =
                _mm512_xor_si512(z[k], _mm512_set1_epi8(-128));
        return;
    }
    const __m512i iev = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i iod = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    size_t qs_off = kind == K_Q4_0 ? 2 : kind == K_Q4_1 ? 4 : kind == K_Q5_0 ? 6 : 8;
    __m512i x = load4x16(b, bs, qs_off), y = load4x16(b + 4 * bs, bs, qs_off);
    __m512i z0 = _mm512_permutex2var_epi64(x, iev, y), z1 = _mm512_permutex2var_epi64(x, iod, y);
    z[0] = _mm512_and_si512(z0, lo4);
    z[1] = _mm512_and_si512(z1, lo4);
    z[2] = _mm512_and_si512(_mm512_srli_epi16(z0, 4), lo4);
    z[3] = _mm512_and_si512(_mm512_srli_epi16(z1, 4), lo4);
    if (kind == K_Q5_0 || kind == K_Q5_1) {
        size_t qh_off = kind == K_Q5_0 ? 2 : 4;
        __m512i q = _mm512_permutex2var_epi64(load4x16(b, bs, qh_off), iev,
                                              load4x16(b + 4 * bs, bs, qh_off));
        const __m512i bits = _mm512_set1_epi64((long long)0x8040201008040201ull);
        const __m512i k16 = _mm512_set1_epi8(16);
        UNROLL for (int k = 0; k < 4; k++) {
            /* byte 8j + e of z[k] takes bit e of byte k of qh_j */
            const long long lo = 0x0101010101010101ll * k, hi = 0x0101010101010101ll * (8 + k);
            __m512i h = _mm512_shuffle_epi8(q, _mm512_broadcast_i32x4(_mm_set_epi64x(hi, lo)));
            if (kind == K_Q5_0 && uns) z[k] = _mm512_or_si512(z[k], _mm512_set1_epi8(-128));
            if (kind == K_Q5_0)
                z[k] = _mm512_mask_sub_epi8(z[k], _mm512_testn_epi8_mask(h, bits), z[k], k16);
            else
                z[k] = _mm512_mask_add_epi8(z[k], _mm512_test_epi8_mask(h, bits), z[k], k16);
        }
    }
    if (kind == K_Q4_0) /* q - 8, or q - 8 + 128 when uns */
        UNROLL for (int k = 0; k < 4; k++) z[k] =
            _mm512_add_epi8(z[k], _mm512_set1_epi8(uns ? 120 : -8));
}

/* The f16 at byte offset off of 8 blocks, each over 2 lanes. */
AI __m512 f16x8(const uint8_t *b, size_t bs, size_t off) {
    uint16_t h[8];
    for (int j = 0; j < 8; j++) memcpy(&h[j], b + j * bs + off, 2);
    __m128i v = _mm_loadu_si128((const __m128i *)h);
    const __m512i idx = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(_mm256_cvtph_ps(v)));
}

/* As f16x8, assembled in general registers: no store-forwarding stall on the 16-byte load
 * (which the one-row kernel would wait for every step). */
AI __m512 f16x8_r(const uint8_t *b, size_t bs, size_t off) {
    uint16_t h0, h1, h2, h3, h4, h5, h6, h7;
    memcpy(&h0, b + off, 2), memcpy(&h1, b + bs + off, 2), memcpy(&h2, b + 2 * bs + off, 2);
    memcpy(&h3, b + 3 * bs + off, 2), memcpy(&h4, b + 4 * bs + off, 2);
    memcpy(&h5, b + 5 * bs + off, 2), memcpy(&h6, b + 6 * bs + off, 2);
    memcpy(&h7, b + 7 * bs + off, 2);
    uint64_t lo = (uint64_t)h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 | (uint64_t)h3 << 48;
    uint64_t hi = (uint64_t)h4 | (uint64_t)h5 << 16 | (uint64_t)h6 << 32 | (uint64_t)h7 << 48;
    __m128i v = _mm_insert_epi64(_mm_cvtsi64_si128((long long)lo), (long long)hi, 1);
    const __m512i idx = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(_mm256_cvtph_ps(v)));
}

/* One weight row's step of 8 blocks: z, -128*Σw per lane, d (and m) per lane. */
AI void prep8(int kind, const uint8_t *wb, int64_t left, uint8_t *tmp, __m512i z[4], __m512i *cw,
              __m512 *dw, __m512 *mw) {
    const size_t bs = kind_bsize(kind);
    if (left < 8) { /* last partial group: pad with zero blocks, stay in the row */
        memset(tmp, 0, 8 * 34);
        memcpy(tmp, wb, (size_t)left * bs);
        wb = tmp;
    }
    unpack8(kind, wb, z, 0);
    const __m512i k80 = _mm512_set1_epi8(-128);
    __m512i c = _mm512_dpbusd_epi32(_mm512_setzero_si512(), k80, z[0]);
    c = _mm512_dpbusd_epi32(c, k80, z[1]);
    c = _mm512_dpbusd_epi32(c, k80, z[2]);
    *cw = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(c, k80, z[3]));
    *dw = f16x8(wb, bs, 0);
    *mw = (kind == K_Q4_1 || kind == K_Q5_1) ? f16x8(wb, bs, 2) : *dw;
}

#define DOT32_8_BODY(NC, kind)                                                                     \
    do {                                                                                           \
        const int q81 = (kind) == K_Q4_1 || (kind) == K_Q5_1;                                      \
        const size_t bs = kind_bsize(kind);                                                        \
        const int64_t nb = n / 32;                                                                 \
        const act4_layout L = act4_layout_of(nb, q81 ? 36 : 34);                                   \
        __m512 acc[NC];                                                                            \
        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm512_setzero_ps();                          \
        uint8_t tmp[8 * 34];                                                                       \
        const int64_t nb8 = (kind) == K_Q8_0 ? 0 : nb / 8 * 8;                                     \
        for (int64_t j = 0; j < nb8; j += 8) {                                                     \
            __m512i z[4], cw;                                                                      \
            __m512 dw, mw;                                                                         \
            prep8(kind, (const uint8_t *)w + j * bs, 8, tmp, z, &cw, &dw, &mw);                    \
            size_t grp = (size_t)j / 8;                                                            \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const uint8_t *xc = (const uint8_t *)x + c * xs;                                   \
                const uint8_t *aq = xc + L.q8 + grp * 256;                                         \
                __m512i p = _mm512_dpbusd_epi32(cw, _mm512_loadu_si512(aq), z[0]);                 \
                p = _mm512_dpbusd_epi32(p, _mm512_loadu_si512(aq + 64), z[1]);                     \
                p = _mm512_dpbusd_epi32(p, _mm512_loadu_si512(aq + 128), z[2]);                    \
                p = _mm512_dpbusd_epi32(p, _mm512_loadu_si512(aq + 192), z[3]);                    \
                __m512 s =                                                                         \
                    _mm512_mul_ps(dw, _mm512_loadu_ps((const float *)(xc + L.da8 + grp * 64)));    \
                acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc[c]);                        \
                if (q81)                                                                           \
                    acc[c] = _mm512_fmadd_ps(                                                      \
                        mw, _mm512_loadu_ps((const float *)(xc + L.ex8 + grp * 64)), acc[c]);      \
            }                                                                                      \
        }                                                                                          \
        for (int64_t j = nb8; j < nb; j += 4) { /* the rest in 4-block steps (act4 layout) */      \
            __m512i u0, u1, cw;                                                                    \
            __m512 dw, mw;                                                                         \
            prep4(kind, (const uint8_t *)w + j * bs, nb - j, tmp, &u0, &u1, &cw, &dw, &mw);        \
            size_t grp = (size_t)j / 4;                                                            \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const uint8_t *xc = (const uint8_t *)x + c * xs;                                   \
                const uint8_t *aq = xc + L.qs + grp * 128;                                         \
                __m512i p = _mm512_dpbusd_epi32(cw, _mm512_loadu_si512(aq), u0);                   \
                p = _mm512_dpbusd_epi32(p, _mm512_loadu_si512(aq + 64), u1);                       \
                __m512 s =                                                                         \
                    _mm512_mul_ps(dw, _mm512_loadu_ps((const float *)(xc + L.da + grp * 64)));     \
                acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc[c]);                        \
                if (q81)                                                                           \
                    acc[c] = _mm512_fmadd_ps(                                                      \
                        mw, _mm512_loadu_ps((const float *)(xc + L.ex + grp * 64)), acc[c]);       \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) out[c] = _mm512_reduce_add_ps(acc[c]);                 \
    } while (0)

/* One activation row (decode): the same block grouping, per-lane integer sums and float
 * operations as DOT32_8_BODY / DOT32_2R8_BODY, so a row's result does not depend on the batch
 * it came in. Here the weights are the unsigned side (q + 128 for Q4_0/Q5_0/Q8_0) against
 * signed activations, with -128*Σa per lane from the row (ex/ex8): one load per step instead
 * of the four vpdpbusd of the weight sums. */
#define DOT32_1_BODY(kind)                                                                         \
    do {                                                                                           \
        const int q81 = (kind) == K_Q4_1 || (kind) == K_Q5_1;                                      \
        const size_t bs = kind_bsize(kind);                                                        \
        const int64_t nb = n / 32, nb8 = (kind) == K_Q8_0 ? 0 : nb / 8 * 8;                        \
        const act4_layout L = act4_layout_of(nb, q81 ? 36 : 34);                                   \
        const uint8_t *xc = (const uint8_t *)x;                                                    \
        __m512 acc = _mm512_setzero_ps();                                                          \
        for (int64_t j = 0; j < nb8; j += 8) {                                                     \
            const uint8_t *wb = (const uint8_t *)w + j * bs;                                       \
            __m512i z[4];                                                                          \
            unpack8(kind, wb, z, 1);                                                               \
            __m512 dw = f16x8_r(wb, bs, 0);                                                        \
            size_t grp = (size_t)j / 8;                                                            \
            const uint8_t *aq = xc + L.q8s + grp * 256;                                            \
            __m512i p = q81 ? _mm512_setzero_si512() : _mm512_loadu_si512(xc + L.ex8 + grp * 64);  \
            UNROLL for (int k = 0; k < 4; k++) p =                                                 \
                _mm512_dpbusd_epi32(p, z[k], _mm512_loadu_si512(aq + 64 * k));                     \
            __m512 s = _mm512_mul_ps(dw, _mm512_loadu_ps((const float *)(xc + L.da8 + grp * 64))); \
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc);                                  \
            if (q81)                                                                               \
                acc =                                                                              \
                    _mm512_fmadd_ps(f16x8_r(wb, bs, 2),                                            \
                                    _mm512_loadu_ps((const float *)(xc + L.ex8 + grp * 64)), acc); \
        }                                                                                          \
        uint8_t tmp[4 * 34];                                                                       \
        for (int64_t j = nb8; j < nb; j += 4) {                                                    \
            const uint8_t *wb = (const uint8_t *)w + j * bs;                                       \
            if (nb - j < 4) {                                                                      \
                memset(tmp, 0, sizeof(tmp));                                                       \
                memcpy(tmp, wb, (size_t)(nb - j) * bs);                                            \
                wb = tmp;                                                                          \
            }                                                                                      \
            __m512i u0, u1;                                                                        \
            unpack4(kind, wb, &u0, &u1, 1);                                                        \
            __m512 dw = f16x4(wb, bs, 0);                                                          \
            size_t grp = (size_t)j / 4;                                                            \
            const uint8_t *as = xc + L.qss + grp * 128;                                            \
            __m512i p = q81 ? _mm512_setzero_si512() : _mm512_loadu_si512(xc + L.ex + grp * 64);   \
            p = _mm512_dpbusd_epi32(p, u0, _mm512_loadu_si512(as));                                \
            p = _mm512_dpbusd_epi32(p, u1, _mm512_loadu_si512(as + 64));                           \
            __m512 s = _mm512_mul_ps(dw, _mm512_loadu_ps((const float *)(xc + L.da + grp * 64)));  \
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc);                                  \
            if (q81)                                                                               \
                acc =                                                                              \
                    _mm512_fmadd_ps(f16x4(wb, bs, 2),                                              \
                                    _mm512_loadu_ps((const float *)(xc + L.ex + grp * 64)), acc);  \
        }                                                                                          \
        out[0] = _mm512_reduce_add_ps(acc);                                                        \
    } while (0)

#define DOT32_FN(name, kind)                                                                       \
    static void name(int64_t n, const void *w, const void *x, size_t xs, int nc, float *out) {     \
        if (nc == 1) {                                                                             \
            DOT32_1_BODY(kind);                                                                    \
            return;                                                                                \
        }                                                                                          \
        NC_SWITCH(DOT32_8_BODY, kind)                                                              \
    }
DOT32_FN(dot_q4_0, K_Q4_0)
DOT32_FN(dot_q4_1, K_Q4_1)
DOT32_FN(dot_q5_0, K_Q5_0)
DOT32_FN(dot_q5_1, K_Q5_1)
DOT32_FN(dot_q8_0, K_Q8_0)

/* Two weight rows against nc activation rows, 8-block steps then 4-block steps for the rest
 * (as DOT32_8_BODY): each activation vector loaded feeds both rows, halving the loads per
 * product, which limit the one-row kernel at nc = 8. */
#define DOT32_2R8_BODY(NC, kind)                                                                   \
    do {                                                                                           \
        const int q81 = (kind) == K_Q4_1 || (kind) == K_Q5_1;                                      \
        const size_t bs = kind_bsize(kind);                                                        \
        const int64_t nb = n / 32, nb8 = (kind) == K_Q8_0 ? 0 : nb / 8 * 8;                        \
        const act4_layout L = act4_layout_of(nb, q81 ? 36 : 34);                                   \
        const uint8_t *w0 = (const uint8_t *)w, *w1 = (const uint8_t *)w + ws;                     \
        __m512 acc0[NC], acc1[NC];                                                                 \
        UNROLL for (int c = 0; c < NC; c++) acc0[c] = acc1[c] = _mm512_setzero_ps();               \
        uint8_t tmp0[8 * 34], tmp1[8 * 34];                                                        \
        for (int64_t j = 0; j < nb8; j += 8) {                                                     \
            __m512i z0[4], z1[4], cw0, cw1;                                                        \
            __m512 dw0, dw1, mw0, mw1;                                                             \
            prep8(kind, w0 + j * bs, 8, tmp0, z0, &cw0, &dw0, &mw0);                               \
            prep8(kind, w1 + j * bs, 8, tmp1, z1, &cw1, &dw1, &mw1);                               \
            size_t grp = (size_t)j / 8;                                                            \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const uint8_t *xc = (const uint8_t *)x + c * xs;                                   \
                const uint8_t *aq = xc + L.q8 + grp * 256;                                         \
                __m512i p0 = cw0, p1 = cw1;                                                        \
                UNROLL for (int k = 0; k < 4; k++) {                                               \
                    __m512i a = _mm512_loadu_si512(aq + 64 * k);                                   \
                    p0 = _mm512_dpbusd_epi32(p0, a, z0[k]);                                        \
                    p1 = _mm512_dpbusd_epi32(p1, a, z1[k]);                                        \
                }                                                                                  \
                __m512 da = _mm512_loadu_ps((const float *)(xc + L.da8 + grp * 64));               \
                acc0[c] =                                                                          \
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(p0), _mm512_mul_ps(dw0, da), acc0[c]);      \
                acc1[c] =                                                                          \
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(p1), _mm512_mul_ps(dw1, da), acc1[c]);      \
                if (q81) {                                                                         \
                    __m512 e = _mm512_loadu_ps((const float *)(xc + L.ex8 + grp * 64));            \
                    acc0[c] = _mm512_fmadd_ps(mw0, e, acc0[c]);                                    \
                    acc1[c] = _mm512_fmadd_ps(mw1, e, acc1[c]);                                    \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        for (int64_t j = nb8; j < nb; j += 4) {                                                    \
            __m512i u00, u01, u10, u11, cw0, cw1;                                                  \
            __m512 dw0, dw1, mw0, mw1;                                                             \
            prep4(kind, w0 + j * bs, nb - j, tmp0, &u00, &u01, &cw0, &dw0, &mw0);                  \
            prep4(kind, w1 + j * bs, nb - j, tmp1, &u10, &u11, &cw1, &dw1, &mw1);                  \
            size_t grp = (size_t)j / 4;                                                            \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const uint8_t *xc = (const uint8_t *)x + c * xs;                                   \
                __m512i a0 = _mm512_loadu_si512(xc + L.qs + grp * 128);                            \
                __m512i a1 = _mm512_loadu_si512(xc + L.qs + grp * 128 + 64);                       \
                __m512 da = _mm512_loadu_ps((const float *)(xc + L.da + grp * 64));                \
                __m512i p0 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(cw0, a0, u00), a1, u01);      \
                __m512i p1 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(cw1, a0, u10), a1, u11);      \
                acc0[c] =                                                                          \
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(p0), _mm512_mul_ps(dw0, da), acc0[c]);      \
                acc1[c] =                                                                          \
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(p1), _mm512_mul_ps(dw1, da), acc1[c]);      \
                if (q81) {                                                                         \
                    __m512 e = _mm512_loadu_ps((const float *)(xc + L.ex + grp * 64));             \
                    acc0[c] = _mm512_fmadd_ps(mw0, e, acc0[c]);                                    \
                    acc1[c] = _mm512_fmadd_ps(mw1, e, acc1[c]);                                    \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) {                                                      \
            out[c] = _mm512_reduce_add_ps(acc0[c]);                                                \
            out[OL_CPU_MAX_NC + c] = _mm512_reduce_add_ps(acc1[c]);                                \
        }                                                                                          \
    } while (0)

#define DOT32_2R_FN(name, kind)                                                                    \
    static void name(int64_t n, const void *w, size_t ws, const void *x, size_t xs, int nc,        \
                     float *out) {                                                                 \
        NC_SWITCH(DOT32_2R8_BODY, kind)                                                            \
    }
DOT32_2R_FN(dot2_q4_0, K_Q4_0)
DOT32_2R_FN(dot2_q4_1, K_Q4_1)
DOT32_2R_FN(dot2_q5_0, K_Q5_0)
DOT32_2R_FN(dot2_q5_1, K_Q5_1)
DOT32_2R_FN(dot2_q8_0, K_Q8_0)

/* ---- K-quants against Q8_K ----------------------------------------------------------------
 * Per super-block, four 64-element pieces: maddubs gives int16 pairs, dpwssd multiplies them by
 * the sub-block scale and accumulates in int32; one float FMA per super-block and act row. */

AI __m512i bcast256(const uint8_t *p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

/* Q4_K/Q5_K scale bytes -> 16 int16: [sc0..sc7, m0..m7]. */
AI __m256i k4_scales(const uint8_t *s) {
    uint32_t a0, a1, a2;
    memcpy(&a0, s, 4);
    memcpy(&a1, s + 4, 4);
    memcpy(&a2, s + 8, 4);
    uint32_t sc03 = a0 & 0x3f3f3f3f, m03 = a1 & 0x3f3f3f3f;
    uint32_t sc47 = (a2 & 0x0f0f0f0f) | ((a0 >> 6) & 0x03030303) << 4;
    uint32_t m47 = ((a2 >> 4) & 0x0f0f0f0f) | ((a1 >> 6) & 0x03030303) << 4;
    return _mm256_cvtepu8_epi16(_mm_set_epi32((int)m47, (int)m03, (int)sc47, (int)sc03));
}

#define QK45_BODY(NC, five)                                                                        \
    do {                                                                                           \
        const size_t bs = (five) ? 176 : 144;                                                      \
        const float *dbs = (const float *)((const uint8_t *)x + q8K_dbs_off(n));                   \
        const int64_t nb = n / 256;                                                                \
        const __m512i sh4 = _mm512_set_epi64(0x0004000400040004, 0x0004000400040004,               \
                                             0x0004000400040004, 0x0004000400040004, 0, 0, 0, 0);  \
        const __m512i lo4 = _mm512_set1_epi8(0x0F);                                                \
        const __m256i idxm =                                                                       \
            _mm256_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8);          \
        __m512 acc[NC];                                                                            \
        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm512_setzero_ps();                          \
        for (int64_t i = 0; i < nb; i++) {                                                         \
            const uint8_t *blk = (const uint8_t *)w + i * bs;                                      \
            const uint8_t *qs = blk + ((five) ? 48 : 16);                                          \
            float dw = f16_load(blk), dmin = -f16_load(blk + 2);                                   \
            __m256i s16 = k4_scales(blk + 4);                                                      \
            __m512i s16z = _mm512_castsi256_si512(s16);                                            \
            /* -dmin*m_b over the 16 bsums of the super-block: [m0,m0,m1,m1,...] */                \
            __m512 mw = _mm512_mul_ps(                                                             \
                _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm256_permutexvar_epi16(idxm, s16))),    \
                _mm512_set1_ps(dmin));                                                             \
            __m512i wq[4], sc[4];                                                                  \
            __m512i qh = (five) ? bcast256(blk + 16) : _mm512_setzero_si512();                     \
            __m512i bit = _mm512_set_epi64(                                                        \
                0x0202020202020202, 0x0202020202020202, 0x0202020202020202, 0x0202020202020202,    \
                0x0101010101010101, 0x0101010101010101, 0x0101010101010101, 0x0101010101010101);   \
            __m512i sidx = _mm512_set_epi64(0x0001000100010001, 0x0001000100010001,                \
                                            0x0001000100010001, 0x0001000100010001, 0, 0, 0, 0);   \
            UNROLL for (int p = 0; p < 4; p++) {                                                   \
                wq[p] = _mm512_and_si512(_mm512_srlv_epi16(bcast256(qs + 32 * p), sh4), lo4);      \
                if (five) {                                                                        \
                    __mmask64 k = _mm512_test_epi8_mask(qh, bit);                                  \
                    wq[p] = _mm512_mask_add_epi8(wq[p], k, wq[p], _mm512_set1_epi8(16));           \
                    bit = _mm512_slli_epi16(bit, 2);                                               \
                }                                                                                  \
                sc[p] = _mm512_permutexvar_epi16(sidx, s16z);                                      \
                sidx = _mm512_add_epi16(sidx, _mm512_set1_epi16(2));                               \
            }                                                                                      \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const ol_block_q8_K *xb =                                                          \
                    (const ol_block_q8_K *)((const uint8_t *)x + c * xs) + i;                      \
                __m512i isum = _mm512_setzero_si512();                                             \
                UNROLL for (int p = 0; p < 4; p++) {                                               \
                    __m512i a = _mm512_loadu_si512(xb->qs + 64 * p);                               \
                    isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(wq[p], a), sc[p]);       \
                }                                                                                  \
                acc[c] =                                                                           \
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(dw * xb->d), acc[c]); \
                acc[c] = _mm512_fmadd_ps(                                                          \
                    mw, _mm512_loadu_ps((const float *)((const uint8_t *)dbs + c * xs) + 16 * i),  \
                    acc[c]);                                                                       \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) out[c] = _mm512_reduce_add_ps(acc[c]);                 \
    } while (0)

static void dot_q4_K(int64_t n, const void *w, const void *x, size_t xs, int nc, float *out) {
    NC_SWITCH(QK45_BODY, 0)
}
static void dot_q5_K(int64_t n, const void *w, const void *x, size_t xs, int nc, float *out) {
    NC_SWITCH(QK45_BODY, 1)
}

#define Q6K_BODY(NC, unused)                                                                       \
    do {                                                                                           \
        const int64_t nb = n / 256;                                                                \
        const __m512i lo4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);                  \
        const __m512i shl = _mm512_set_epi64(                                                      \
            0x0002000200020002, 0x0002000200020002, 0x0002000200020002, 0x0002000200020002,        \
            0x0004000400040004, 0x0004000400040004, 0x0004000400040004, 0x0004000400040004);       \
        const __m512i shr = _mm512_set_epi64(0x0002000200020002, 0x0002000200020002,               \
                                             0x0002000200020002, 0x0002000200020002, 0, 0, 0, 0);  \
        __m512 acc[NC];                                                                            \
        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm512_setzero_ps();                          \
        for (int64_t i = 0; i < nb; i++) {                                                         \
            const ol_block_q6_K *b = (const ol_block_q6_K *)w + i;                                 \
            float dw = f16_load(&b->d);                                                            \
            __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));       \
            __m512i s16z = _mm512_castsi256_si512(s16);                                            \
            __m512i scn = _mm512_zextsi256_si512(_mm256_mullo_epi16(s16, _mm256_set1_epi16(-32))); \
            __m512i wq[4], sc[4];                                                                  \
            __m512i sidx = _mm512_set_epi64(0x0003000300030003, 0x0003000300030003,                \
                                            0x0002000200020002, 0x0002000200020002,                \
                                            0x0001000100010001, 0x0001000100010001, 0, 0);         \
            UNROLL for (int h = 0; h < 2; h++) {                                                   \
                __m512i l = _mm512_loadu_si512(b->ql + 64 * h);                                    \
                __m512i qh = bcast256(b->qh + 32 * h);                                             \
                wq[2 * h] = _mm512_or_si512(_mm512_and_si512(l, lo4),                              \
                                            _mm512_and_si512(_mm512_sllv_epi16(qh, shl), m30));    \
                wq[2 * h + 1] =                                                                    \
                    _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), lo4),                \
                                    _mm512_and_si512(_mm512_srlv_epi16(qh, shr), m30));            \
            }                                                                                      \
            UNROLL for (int p = 0; p < 4; p++) {                                                   \
                sc[p] = _mm512_permutexvar_epi16(sidx, s16z);                                      \
                sidx = _mm512_add_epi16(sidx, _mm512_set1_epi16(4));                               \
            }                                                                                      \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const ol_block_q8_K *xb =                                                          \
                    (const ol_block_q8_K *)((const uint8_t *)x + c * xs) + i;                      \
                __m512i bsum =                                                                     \
                    _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)xb->bsums));        \
                __m512i isum = _mm512_dpwssd_epi32(_mm512_setzero_si512(), bsum, scn);             \
                UNROLL for (int p = 0; p < 4; p++) {                                               \
                    __m512i a = _mm512_loadu_si512(xb->qs + 64 * p);                               \
                    isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(wq[p], a), sc[p]);       \
                }                                                                                  \
                acc[c] =                                                                           \
                    _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(dw * xb->d), acc[c]); \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) out[c] = _mm512_reduce_add_ps(acc[c]);                 \
    } while (0)

static void dot_q6_K(int64_t n, const void *w, const void *x, size_t xs, int nc, float *out) {
    NC_SWITCH(Q6K_BODY, 0)
}

/* ---- float formats --------------------------------------------------------------------- */

#define F32_BODY(NC, unused)                                                                       \
    do {                                                                                           \
        const float *wf = w;                                                                       \
        __m512 acc[NC];                                                                            \
        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm512_setzero_ps();                          \
        for (int64_t i = 0; i < n; i += 16) {                                                      \
            __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);                 \
            __m512 wv = _mm512_maskz_loadu_ps(m, wf + i);                                          \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const float *xc = (const float *)((const uint8_t *)x + c * xs);                    \
                acc[c] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, xc + i), acc[c]);            \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) out[c] = _mm512_reduce_add_ps(acc[c]);                 \
    } while (0)

static void dot_f32(int64_t n, const void *w, const void *x, size_t xs, int nc, float *out) {
    NC_SWITCH(F32_BODY, 0)
}

#define F16_BODY(NC, unused)                                                                       \
    do {                                                                                           \
        const uint16_t *wh = w;                                                                    \
        const size_t xo = f16_wide_off(n);                                                         \
        __m512 acc[NC];                                                                            \
        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm512_setzero_ps();                          \
        for (int64_t i = 0; i < n; i += 16) {                                                      \
            __mmask16 m = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1);                 \
            __m512 wv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, wh + i));                      \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const float *xc = (const float *)((const uint8_t *)x + c * xs + xo);               \
                acc[c] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, xc + i), acc[c]);            \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) out[c] = _mm512_reduce_add_ps(acc[c]);                 \
    } while (0)

static void dot_f16(int64_t n, const void *w, const void *x, size_t xs, int nc, float *out) {
    NC_SWITCH(F16_BODY, 0)
}

#define BF16_BODY(NC, unused)                                                                      \
    do {                                                                                           \
        const uint16_t *wh = w;                                                                    \
        __m512 acc[NC];                                                                            \
        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm512_setzero_ps();                          \
        for (int64_t i = 0; i < n; i += 32) {                                                      \
            __mmask32 m = n - i >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << (n - i)) - 1);            \
            __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(m, wh + i);                           \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const uint16_t *xc = (const uint16_t *)((const uint8_t *)x + c * xs);              \
                __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(m, xc + i);                       \
                acc[c] = _mm512_dpbf16_ps(acc[c], wv, xv);                                         \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) out[c] = _mm512_reduce_add_ps(acc[c]);                 \
    } while (0)

static void dot_bf16(int64_t n, const void *w, const void *x, size_t xs, int nc, float *out) {
    NC_SWITCH(BF16_BODY, 0)
}

void ol_cpu_kernels_avx512(ol_cpu_kernels *k) {
    memset(k, 0, sizeof(*k));
    k->quant_row[OL_DTYPE_F32] = quant_f32;
    k->vec_dot[OL_DTYPE_F32] = dot_f32;
    k->quant_row[OL_DTYPE_F16] = quant_f16;
    k->vec_dot[OL_DTYPE_F16] = dot_f16;
    k->act_row_bytes[OL_DTYPE_F16] = act_bytes_f16;
    if (ol_cpu_features() & OL_CPU_AVX512BF16) {
        k->quant_row[OL_DTYPE_BF16] = quant_bf16;
        k->vec_dot[OL_DTYPE_BF16] = dot_bf16;
    }
    static const struct {
        ol_dtype t;
        void (*dot)(int64_t, const void *, const void *, size_t, int, float *);
        void (*dot2)(int64_t, const void *, size_t, const void *, size_t, int, float *);
        int q81;
    } q32[] = {{OL_DTYPE_Q4_0, dot_q4_0, dot2_q4_0, 0},
               {OL_DTYPE_Q4_1, dot_q4_1, dot2_q4_1, 1},
               {OL_DTYPE_Q5_0, dot_q5_0, dot2_q5_0, 0},
               {OL_DTYPE_Q5_1, dot_q5_1, dot2_q5_1, 1},
               {OL_DTYPE_Q8_0, dot_q8_0, dot2_q8_0, 0}};
    for (size_t i = 0; i < OL_ARRAY_LEN(q32); i++) {
        k->quant_row[q32[i].t] = q32[i].q81 ? quant_q8_1x : quant_q8_0x;
        k->vec_dot[q32[i].t] = q32[i].dot;
        k->vec_dot_2r[q32[i].t] = q32[i].dot2;
        k->act_row_bytes[q32[i].t] = q32[i].q81 ? act4_bytes_q8_1 : act4_bytes_q8_0;
    }
    k->quant_row[OL_DTYPE_Q4_K] = quant_q8_Kx;
    k->vec_dot[OL_DTYPE_Q4_K] = dot_q4_K;
    k->act_row_bytes[OL_DTYPE_Q4_K] = act_bytes_q8_Kx;
    k->quant_row[OL_DTYPE_Q5_K] = quant_q8_Kx;
    k->vec_dot[OL_DTYPE_Q5_K] = dot_q5_K;
    k->act_row_bytes[OL_DTYPE_Q5_K] = act_bytes_q8_Kx;
    k->quant_row[OL_DTYPE_Q6_K] = quant_q8_K;
    k->vec_dot[OL_DTYPE_Q6_K] = dot_q6_K;
}
