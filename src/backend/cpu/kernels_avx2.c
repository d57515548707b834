/* backend/cpu/kernels_avx2.c: the AVX2/FMA/F16C tier for x86-64 CPUs without AVX-512. Integer
 * products use vpmaddubsw (u8 x s8 -> s16 pairs) + vpmaddwd: unsigned 4/5/6-bit weights go in
 * as they are (no saturation: 63*127*2 < 32767), Q8_0 weights use the sign trick |w| x sign(a,w).
 * Offsets (-8, -16) come from the activation row's per-block sums (cpu_internal.h), so the
 * activation rows are the same tier-private layout as the AVX-512 tier's, written bit-exactly
 * like the _ref quantizers. */
#include "cpu_internal.h"

#include <immintrin.h>
#include <string.h>

#define AI     static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 8")

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

AI float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AI int hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

AI float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AI __m256 abs8(__m256 v) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

/* int32 x8 -> int8 x8 (values already in [-127, 127]) in the low 8 bytes */
AI __m128i pack8(__m256i q) {
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    return _mm_packs_epi16(w, w);
}

/* ---- activation quantizers --------------------------------------------------------------- */

AI __m256 round_away(__m256 v) {
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 up = _mm256_cmp_ps(abs8(_mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

AI void quant_q8_x(const float *x, uint8_t *dst, int64_t n, int q81) {
    int64_t nb = n / 32;
    size_t bsize = q81 ? sizeof(ol_block_q8_1) : sizeof(ol_block_q8_0);
    ol_act32_layout L = ol_act32_layout_of(nb, bsize);
    int8_t *qs = (int8_t *)(dst + L.qs);
    float *da = (float *)(dst + L.da);
    uint8_t *ex = dst + L.ex;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int j = 0; j < 4; j++)
            v[j] = _mm256_loadu_ps(x + 8 * j), m = _mm256_max_ps(m, abs8(v[j]));
        float amax = hmax8(m);
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        __m256i sum = _mm256_setzero_si256();
        uint8_t *blk = dst + (size_t)i * bsize;
        int8_t *bq = (int8_t *)blk + (q81 ? 4 : 2);
        for (int j = 0; j < 4; j++) {
            __m256i q = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v[j], _mm256_set1_ps(id))));
            sum = _mm256_add_epi32(sum, q);
            __m128i b = pack8(q);
            _mm_storel_epi64((__m128i *)(bq + 8 * j), b);
            _mm_storel_epi64((__m128i *)(qs + 32 * i + 8 * j), b);
        }
        int s = hsum8i(sum);
        uint16_t dh = _cvtss_sh(d, 0);
        memcpy(blk, &dh, 2);
        _mm256_storeu_ps(da + 8 * i, _mm256_set1_ps(_cvtsh_ss(dh)));
        __m256i e;
        if (q81) {
            uint16_t sh = _cvtss_sh((float)s * d, 0);
            memcpy(blk + 2, &sh, 2);
            e = _mm256_castps_si256(_mm256_set_ps(0, 0, 0, 0, 0, 0, 0, _cvtsh_ss(sh)));
        } else {
            e = _mm256_set_epi32(0, 0, 0, 0, 0, 0, 0, -128 * s);
        }
        _mm256_storeu_si256((__m256i *)(ex + 32 * i), e);
    }
    if (nb & 1) {
        memset(qs + 32 * nb, 0, 32);
        memset(da + 8 * nb, 0, 32);
        memset(ex + 32 * nb, 0, 32);
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
        __m256 vmax = _mm256_setzero_ps();
        for (int j = 0; j < 32; j++) vmax = _mm256_max_ps(vmax, abs8(_mm256_loadu_ps(x + 8 * j)));
        float amax = hmax8(vmax);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        float max = 0.0f;
        for (int j = 0; j < 256; j++)
            if (x[j] == amax || x[j] == -amax) {
                max = x[j];
                break;
            }
        float iscale = -127.0f / max;
        __m256 vs = _mm256_set1_ps(iscale);
        for (int g = 0; g < 16; g++) {
            __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * g), vs));
            __m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16 * g + 8), vs));
            q0 = _mm256_min_epi32(q0, _mm256_set1_epi32(127));
            q1 = _mm256_min_epi32(q1, _mm256_set1_epi32(127));
            _mm_storel_epi64((__m128i *)(y[i].qs + 16 * g), pack8(q0));
            _mm_storel_epi64((__m128i *)(y[i].qs + 16 * g + 8), pack8(q1));
            y[i].bsums[g] = (int16_t)hsum8i(_mm256_add_epi32(q0, q1));
        }
        y[i].d = 1.0f / iscale;
    }
}

static void quant_f32(const float *x, void *dst, int64_t n) {
    memcpy(dst, x, (size_t)n * 4);
}

static void quant_f16(const float *x, void *dst, int64_t n) {
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), 0));
    for (; i < n; i++) y[i] = _cvtss_sh(x[i], 0);
}

static void quant_bf16(const float *x, void *dst, int64_t n) {
    uint16_t *y = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + i));
        __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
        __m256i r = _mm256_srli_epi32(
            _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), odd), 16);
        /* NaN: keep it a (quiet) NaN like ol_f32_to_bf16 */
        __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF)),
                                         _mm256_set1_epi32(0x7F800000));
        __m256i qn = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
        r = _mm256_blendv_epi8(r, qn, nan);
        __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(y + i), p);
    }
    for (; i < n; i++) y[i] = ol_f32_to_bf16(x[i]);
}

/* ---- 32-element formats against Q8_0 / Q8_1 ---------------------------------------------- */
enum { K_Q4_0, K_Q4_1, K_Q5_0, K_Q5_1, K_Q8_0 };

AI size_t kind_bsize(int kind) {
    return kind == K_Q4_0   ? 18
           : kind == K_Q4_1 ? 20
           : kind == K_Q5_0 ? 22
           : kind == K_Q5_1 ? 24
                            : 34;
}

/* 16 qs bytes -> 32 unsigned nibbles in element order (low nibbles first). */
AI __m256i nibbles(const uint8_t *q) {
    __m128i b = _mm_loadu_si128((const __m128i *)q);
    __m256i z = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(z, _mm256_set1_epi8(0x0F));
}

/* Byte j = 0x10 where bit j of the 32-bit qh is set. */
AI __m256i qh_bytes(const uint8_t *p) {
    uint32_t h;
    memcpy(&h, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), shuf);
    const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bits), bits);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

#define DOT32_BODY(NC, kind)                                                                       \
    do {                                                                                           \
        const int q81 = (kind) == K_Q4_1 || (kind) == K_Q5_1;                                      \
        const size_t bs = kind_bsize(kind);                                                        \
        const int64_t nb = n / 32;                                                                 \
        const ol_act32_layout L = ol_act32_layout_of(nb, q81 ? 36 : 34);                           \
        const __m256i ones = _mm256_set1_epi16(1);                                                 \
        __m256 acc[NC];                                                                            \
        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();                          \
        for (int64_t b = 0; b < nb; b++) {                                                         \
            const uint8_t *wb = (const uint8_t *)w + b * bs;                                       \
            __m256i u;                                                                             \
            __m256i sgn = _mm256_setzero_si256();                                                  \
            if ((kind) == K_Q8_0) {                                                                \
                sgn = _mm256_loadu_si256((const __m256i *)(wb + 2));                               \
                u = _mm256_sign_epi8(sgn, sgn);                                                    \
            } else if ((kind) == K_Q4_0) {                                                         \
                u = nibbles(wb + 2);                                                               \
            } else if ((kind) == K_Q4_1) {                                                         \
                u = nibbles(wb + 4);                                                               \
            } else if ((kind) == K_Q5_0) {                                                         \
                u = _mm256_or_si256(nibbles(wb + 6), qh_bytes(wb + 2));                            \
            } else {                                                                               \
                u = _mm256_or_si256(nibbles(wb + 8), qh_bytes(wb + 4));                            \
            }                                                                                      \
            __m256 dw = _mm256_set1_ps(f16_load(wb));                                              \
            __m256 mw = q81 ? _mm256_set1_ps(f16_load(wb + 2)) : _mm256_setzero_ps();              \
            size_t o = (size_t)b * 32;                                                             \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const uint8_t *xc = (const uint8_t *)x + c * xs;                                   \
                __m256i a = _mm256_loadu_si256((const __m256i *)(xc + L.qs + o));                  \
                if ((kind) == K_Q8_0) a = _mm256_sign_epi8(a, sgn);                                \
                __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), ones);                   \
                if ((kind) == K_Q4_0 || (kind) == K_Q5_0) {                                        \
                    __m256i e = _mm256_loadu_si256((const __m256i *)(xc + L.ex + o));              \
                    p = _mm256_add_epi32(p, _mm256_srai_epi32(e, (kind) == K_Q4_0 ? 4 : 3));       \
                }                                                                                  \
                __m256 s = _mm256_mul_ps(dw, _mm256_loadu_ps((const float *)(xc + L.da + o)));     \
                acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), s, acc[c]);                        \
                if (q81)                                                                           \
                    acc[c] = _mm256_fmadd_ps(mw, _mm256_loadu_ps((const float *)(xc + L.ex + o)),  \
                                             acc[c]);                                              \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) out[c] = hsum8(acc[c]);                                \
    } while (0)

#define DOT32_FN(name, kind)                                                                       \
    static void name(int64_t n, const void *w, const void *x, size_t xs, int nc, float *out) {     \
        NC_SWITCH(DOT32_BODY, kind)                                                                \
    }
DOT32_FN(dot_q4_0, K_Q4_0)
DOT32_FN(dot_q4_1, K_Q4_1)
DOT32_FN(dot_q5_0, K_Q5_0)
DOT32_FN(dot_q5_1, K_Q5_1)
DOT32_FN(dot_q8_0, K_Q8_0)

/* ---- K-quants against Q8_K: one 32-element sub-block per step ----------------------------- */

AI void k4_scales(const uint8_t *s, uint8_t sc[8], uint8_t m[8]) {
    uint32_t a0, a1, a2, v[4];
    memcpy(&a0, s, 4);
    memcpy(&a1, s + 4, 4);
    memcpy(&a2, s + 8, 4);
    v[0] = a0 & 0x3f3f3f3f;
    v[1] = (a2 & 0x0f0f0f0f) | ((a0 >> 6) & 0x03030303) << 4;
    v[2] = a1 & 0x3f3f3f3f;
    v[3] = ((a2 >> 4) & 0x0f0f0f0f) | ((a1 >> 6) & 0x03030303) << 4;
    memcpy(sc, v, 8);
    memcpy(m, v + 2, 8);
}

#define QK45_BODY(NC, five)                                                                        \
    do {                                                                                           \
        const size_t bs = (five) ? 176 : 144;                                                      \
        const int64_t nb = n / 256;                                                                \
        const __m256i lo4 = _mm256_set1_epi8(0x0F), b4 = _mm256_set1_epi8(0x10);                   \
        __m256 acc[NC];                                                                            \
        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();                          \
        for (int64_t i = 0; i < nb; i++) {                                                         \
            const uint8_t *blk = (const uint8_t *)w + i * bs;                                      \
            const uint8_t *qs = blk + ((five) ? 48 : 16);                                          \
            float dw = f16_load(blk), dmin = -f16_load(blk + 2);                                   \
            uint8_t sc[8], mn[8];                                                                  \
            k4_scales(blk + 4, sc, mn);                                                            \
            /* mins as int16 pairs matching the 16 bsums: [m0,m0,m1,m1,...] */                     \
            __m256i mm = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(                                   \
                _mm_loadl_epi64((const __m128i *)mn), _mm_loadl_epi64((const __m128i *)mn)));      \
            __m256i qh =                                                                           \
                (five) ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256(); \
            __m256i isum[NC];                                                                      \
            UNROLL for (int c = 0; c < NC; c++) isum[c] = _mm256_setzero_si256();                  \
            for (int j = 0; j < 4; j++) {                                                          \
                __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));                    \
                __m256i w0 = _mm256_and_si256(q, lo4);                                             \
                __m256i w1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4);                       \
                if (five) {                                                                        \
                    __m256i h0 = _mm256_srli_epi16(qh, 2 * j),                                     \
                            h1 = _mm256_srli_epi16(qh, 2 * j + 1);                                 \
                    w0 = _mm256_or_si256(w0, _mm256_and_si256(_mm256_slli_epi16(h0, 4), b4));      \
                    w1 = _mm256_or_si256(w1, _mm256_and_si256(_mm256_slli_epi16(h1, 4), b4));      \
                }                                                                                  \
                __m256i s0 = _mm256_set1_epi16(sc[2 * j]), s1 = _mm256_set1_epi16(sc[2 * j + 1]);  \
                UNROLL for (int c = 0; c < NC; c++) {                                              \
                    const ol_block_q8_K *xb =                                                      \
                        (const ol_block_q8_K *)((const uint8_t *)x + c * xs) + i;                  \
                    __m256i a0 = _mm256_loadu_si256((const __m256i *)(xb->qs + 64 * j));           \
                    __m256i a1 = _mm256_loadu_si256((const __m256i *)(xb->qs + 64 * j + 32));      \
                    __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(w0, a0), s0);              \
                    __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(w1, a1), s1);              \
                    isum[c] = _mm256_add_epi32(isum[c], _mm256_add_epi32(p0, p1));                 \
                }                                                                                  \
            }                                                                                      \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const ol_block_q8_K *xb =                                                          \
                    (const ol_block_q8_K *)((const uint8_t *)x + c * xs) + i;                      \
                __m256i ms =                                                                       \
                    _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), mm);         \
                acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_set1_ps(dw * xb->d),  \
                                         acc[c]);                                                  \
                acc[c] =                                                                           \
                    _mm256_fmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_set1_ps(dmin * xb->d), acc[c]); \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) out[c] = hsum8(acc[c]);                                \
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
        const __m256i lo4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);                  \
        __m256 acc[NC];                                                                            \
        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();                          \
        for (int64_t i = 0; i < nb; i++) {                                                         \
            const ol_block_q6_K *b = (const ol_block_q6_K *)w + i;                                 \
            float dw = f16_load(&b->d);                                                            \
            __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));       \
            __m256i scn = _mm256_mullo_epi16(s16, _mm256_set1_epi16(-32));                         \
            __m256i isum[NC];                                                                      \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const ol_block_q8_K *xb =                                                          \
                    (const ol_block_q8_K *)((const uint8_t *)x + c * xs) + i;                      \
                isum[c] = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), scn);  \
            }                                                                                      \
            for (int h = 0; h < 2; h++) {                                                          \
                __m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));                \
                __m256i l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));           \
                __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));                \
                __m256i wq[4];                                                                     \
                wq[0] = _mm256_or_si256(_mm256_and_si256(l0, lo4),                                 \
                                        _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));          \
                wq[1] = _mm256_or_si256(_mm256_and_si256(l1, lo4),                                 \
                                        _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));          \
                wq[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), lo4),           \
                                        _mm256_and_si256(qh, m30));                                \
                wq[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), lo4),           \
                                        _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));          \
                for (int k = 0; k < 4; k++) {                                                      \
                    int g = 8 * h + 2 * k; /* sub-blocks g, g+1 of 16 elements */                  \
                    __m256i sc = _mm256_set_m128i(_mm_set1_epi16(b->scales[g + 1]),                \
                                                  _mm_set1_epi16(b->scales[g]));                   \
                    UNROLL for (int c = 0; c < NC; c++) {                                          \
                        const ol_block_q8_K *xb =                                                  \
                            (const ol_block_q8_K *)((const uint8_t *)x + c * xs) + i;              \
                        __m256i a = _mm256_loadu_si256((const __m256i *)(xb->qs + 16 * g));        \
                        isum[c] = _mm256_add_epi32(                                                \
                            isum[c], _mm256_madd_epi16(_mm256_maddubs_epi16(wq[k], a), sc));       \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
            UNROLL for (int c = 0; c < NC; c++) {                                                  \
                const ol_block_q8_K *xb =                                                          \
                    (const ol_block_q8_K *)((const uint8_t *)x + c * xs) + i;                      \
                acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_set1_ps(dw * xb->d),  \
                                         acc[c]);                                                  \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) out[c] = hsum8(acc[c]);                                \
    } while (0)

static void dot_q6_K(int64_t n, const void *w, const void *x, size_t xs, int nc,
                     float *out){NC_SWITCH(Q6K_BODY, 0)}

/* ---- float formats ------------------------------------------------------------------------ */

/* Elements [i, i+8) of an f32/f16/bf16 row as f32; the tail (< 8 left) is zero-padded. */
AI __m256 load8(int fmt, const void *p, int64_t i, int64_t n) {
    if (n - i >= 8) {
        if (fmt == 0) return _mm256_loadu_ps((const float *)p + i);
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)p + i));
        if (fmt == 1) return _mm256_cvtph_ps(h);
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    float t[8] = {0};
    for (int64_t j = i; j < n; j++) {
        if (fmt == 0)
            t[j - i] = ((const float *)p)[j];
        else if (fmt == 1)
            t[j - i] = _cvtsh_ss(((const uint16_t *)p)[j]);
        else
            t[j - i] = ol_bf16_to_f32(((const uint16_t *)p)[j]);
    }
    return _mm256_loadu_ps(t);
}

#define FLT_BODY(NC, fmt)                                                                          \
    do {                                                                                           \
        __m256 acc[NC];                                                                            \
        UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();                          \
        for (int64_t i = 0; i < n; i += 8) {                                                       \
            __m256 wv = load8(fmt, w, i, n);                                                       \
            UNROLL for (int c = 0; c < NC; c++) acc[c] =                                           \
                _mm256_fmadd_ps(wv, load8(fmt, (const uint8_t *)x + c * xs, i, n), acc[c]);        \
        }                                                                                          \
        UNROLL for (int c = 0; c < NC; c++) out[c] = hsum8(acc[c]);                                \
    } while (0)

#define FLT_FN(name, fmt)                                                                          \
    static void name(int64_t n, const void *w, const void *x, size_t xs, int nc, float *out) {     \
        NC_SWITCH(FLT_BODY, fmt)                                                                   \
    }
FLT_FN(dot_f32, 0)
FLT_FN(dot_f16, 1)
FLT_FN(dot_bf16, 2)

void ol_cpu_kernels_avx2(ol_cpu_kernels *k) {
    memset(k, 0, sizeof(*k));
    k->quant_row[OL_DTYPE_F32] = quant_f32;
    k->vec_dot[OL_DTYPE_F32] = dot_f32;
    k->quant_row[OL_DTYPE_F16] = quant_f16;
    k->vec_dot[OL_DTYPE_F16] = dot_f16;
    k->quant_row[OL_DTYPE_BF16] = quant_bf16;
    k->vec_dot[OL_DTYPE_BF16] = dot_bf16;
    static const struct {
        ol_dtype t;
        void (*dot)(int64_t, const void *, const void *, size_t, int, float *);
        int q81;
    } q32[] = {{OL_DTYPE_Q4_0, dot_q4_0, 0},
               {OL_DTYPE_Q4_1, dot_q4_1, 1},
               {OL_DTYPE_Q5_0, dot_q5_0, 0},
               {OL_DTYPE_Q5_1, dot_q5_1, 1},
               {OL_DTYPE_Q8_0, dot_q8_0, 0}};
    for (size_t i = 0; i < OL_ARRAY_LEN(q32); i++) {
        k->quant_row[q32[i].t] = q32[i].q81 ? quant_q8_1x : quant_q8_0x;
        k->vec_dot[q32[i].t] = q32[i].dot;
        k->act_row_bytes[q32[i].t] = q32[i].q81 ? ol_act32_row_bytes_q8_1 : ol_act32_row_bytes_q8_0;
    }
    k->quant_row[OL_DTYPE_Q4_K] = quant_q8_K;
    k->vec_dot[OL_DTYPE_Q4_K] = dot_q4_K;
    k->quant_row[OL_DTYPE_Q5_K] = quant_q8_K;
    k->vec_dot[OL_DTYPE_Q5_K] = dot_q5_K;
    k->quant_row[OL_DTYPE_Q6_K] = quant_q8_K;
    k->vec_dot[OL_DTYPE_Q6_K] = dot_q6_K;
}
