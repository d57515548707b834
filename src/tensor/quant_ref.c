/* tensor/quant_ref.c: the scalar reference quant math that defines every kernel tier's result:
 * dequantization of every dtype, activation quantization to Q8_0/Q8_1/Q8_K, dot products of
 * each weight type with its activation type, and simple weight quantizers for tests. Layouts
 * and formulas: shared/FORMATS.md §2 (they follow ggml's reference and generic kernels, so
 * results agree with llama.cpp up to float summation order). */
#include "tensor.h"

#include <math.h>
#include <string.h>

#define F16(h) ol_f16_to_f32(h)

/* Round to nearest, halves to even (ggml's nearest_int for |v| < 2^22). rintf rather than the
 * 1.5*2^23 addition trick: GCC would contract that addition with the caller's multiply into an
 * FMA, changing results near ties. */
static inline int nearest_int(float v) {
    return (int)__builtin_rintf(v);
}

/* Unpack the 12 scale bytes of Q4_K/Q5_K into 8 six-bit scales and 8 six-bit mins. */
static void unpack_scales_k4(const uint8_t *b, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = b[j] & 63;
        m[j] = b[j + 4] & 63;
        sc[j + 4] = (uint8_t)((b[j + 8] & 0xF) | ((b[j] >> 6) << 4));
        m[j + 4] = (uint8_t)((b[j + 8] >> 4) | ((b[j + 4] >> 6) << 4));
    }
}

/* ---- dequantization ------------------------------------------------------------------------ */

static void dq_q4_0(const ol_block_q4_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = F16(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)((x[i].qs[j] & 0xF) - 8);
            y[j + 16] = d * (float)((x[i].qs[j] >> 4) - 8);
        }
    }
}

static void dq_q4_1(const ol_block_q4_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = F16(x[i].d), m = F16(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)(x[i].qs[j] & 0xF) + m;
            y[j + 16] = d * (float)(x[i].qs[j] >> 4) + m;
        }
    }
}

static void dq_q5_0(const ol_block_q5_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = F16(x[i].d);
        uint32_t h;
        memcpy(&h, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int q0 = (x[i].qs[j] & 0xF) | (int)((h >> j) & 1) << 4;
            int q1 = (x[i].qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4;
            y[j] = d * (float)(q0 - 16);
            y[j + 16] = d * (float)(q1 - 16);
        }
    }
}

static void dq_q5_1(const ol_block_q5_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = F16(x[i].d), m = F16(x[i].m);
        uint32_t h;
        memcpy(&h, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int q0 = (x[i].qs[j] & 0xF) | (int)((h >> j) & 1) << 4;
            int q1 = (x[i].qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4;
            y[j] = d * (float)q0 + m;
            y[j + 16] = d * (float)q1 + m;
        }
    }
}

static void dq_q4_K(const ol_block_q4_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        float d = F16(x[i].d), dmin = F16(x[i].dmin);
        uint8_t sc[8], m[8];
        unpack_scales_k4(x[i].scales, sc, m);
        for (int c = 0; c < 4; c++) {
            const uint8_t *q = x[i].qs + 32 * c;
            float d1 = d * sc[2 * c], m1 = dmin * m[2 * c];
            float d2 = d * sc[2 * c + 1], m2 = dmin * m[2 * c + 1];
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

static void dq_q5_K(const ol_block_q5_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        float d = F16(x[i].d), dmin = F16(x[i].dmin);
        uint8_t sc[8], m[8];
        unpack_scales_k4(x[i].scales, sc, m);
        for (int c = 0; c < 4; c++) {
            const uint8_t *q = x[i].qs + 32 * c;
            int b0 = 2 * c, b1 = 2 * c + 1;
            float d1 = d * sc[b0], m1 = dmin * m[b0];
            float d2 = d * sc[b1], m2 = dmin * m[b1];
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)((q[l] & 0xF) + (((x[i].qh[l] >> b0) & 1) << 4)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)((q[l] >> 4) + (((x[i].qh[l] >> b1) & 1) << 4)) - m2;
        }
    }
}

/* Q6_K element e of a block as an integer in [-32, 31]. */
static inline int q6_K_value(const ol_block_q6_K *b, int e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    uint8_t lb = b->ql[64 * h + l + 32 * (k & 1)];
    int nib = k < 2 ? (lb & 0xF) : (lb >> 4);
    int hi2 = (b->qh[32 * h + l] >> (2 * k)) & 3;
    return (nib | hi2 << 4) - 32;
}

static void dq_q6_K(const ol_block_q6_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 256) {
        float d = F16(x[i].d);
        for (int e = 0; e < 256; e++)
            y[e] = d * (float)x[i].scales[e / 16] * (float)q6_K_value(&x[i], e);
    }
}

void ol_dequant_row_ref(ol_dtype t, const void *src, float *y, int64_t n) {
    int64_t nb = n / ol_dtype_block_elems(t);
    switch (t) {
    case OL_DTYPE_F32:
        memcpy(y, src, (size_t)n * sizeof(float));
        break;
    case OL_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) y[i] = F16(((const ol_f16 *)src)[i]);
        break;
    case OL_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) y[i] = ol_bf16_to_f32(((const ol_bf16 *)src)[i]);
        break;
    case OL_DTYPE_Q4_0:
        dq_q4_0(src, y, nb);
        break;
    case OL_DTYPE_Q4_1:
        dq_q4_1(src, y, nb);
        break;
    case OL_DTYPE_Q5_0:
        dq_q5_0(src, y, nb);
        break;
    case OL_DTYPE_Q5_1:
        dq_q5_1(src, y, nb);
        break;
    case OL_DTYPE_Q8_0:
        for (int64_t i = 0; i < nb; i++) {
            const ol_block_q8_0 *b = (const ol_block_q8_0 *)src + i;
            float d = F16(b->d);
            for (int j = 0; j < 32; j++) y[32 * i + j] = d * (float)b->qs[j];
        }
        break;
    case OL_DTYPE_Q8_1:
        for (int64_t i = 0; i < nb; i++) {
            const ol_block_q8_1 *b = (const ol_block_q8_1 *)src + i;
            float d = F16(b->d);
            for (int j = 0; j < 32; j++) y[32 * i + j] = d * (float)b->qs[j];
        }
        break;
    case OL_DTYPE_Q4_K:
        dq_q4_K(src, y, nb);
        break;
    case OL_DTYPE_Q5_K:
        dq_q5_K(src, y, nb);
        break;
    case OL_DTYPE_Q6_K:
        dq_q6_K(src, y, nb);
        break;
    case OL_DTYPE_Q8_K:
        for (int64_t i = 0; i < nb; i++) {
            const ol_block_q8_K *b = (const ol_block_q8_K *)src + i;
            for (int j = 0; j < 256; j++) y[256 * i + j] = b->d * (float)b->qs[j];
        }
        break;
    default:
        OL_ASSERT(!"dtype");
    }
}

/* ---- activation quantization --------------------------------------------------------------- */

void ol_quant_row_q8_0_ref(const float *x, void *dst, int64_t n) {
    ol_block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = ol_f32_to_f16(d);
        for (int j = 0; j < 32; j++) y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

void ol_quant_row_q8_1_ref(const float *x, void *dst, int64_t n) {
    ol_block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = ol_f32_to_f16(d);
        y[i].s = ol_f32_to_f16((float)sum * d);
    }
}

void ol_quant_row_q8_K_ref(const float *x, void *dst, int64_t n) {
    ol_block_q8_K *y = dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < 256; j++) {
            float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) { /* ggml leaves bsums unwritten here; we zero them */
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        float iscale = -127.0f / max;
        for (int j = 0; j < 256; j++) {
            int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += y[i].qs[16 * g + j];
            y[i].bsums[g] = (int16_t)s;
        }
        y[i].d = 1.0f / iscale;
    }
}

void ol_quant_row_ref(ol_dtype w, const float *x, void *dst, int64_t n) {
    switch (ol_dtype_vec_dot_type(w)) {
    case OL_DTYPE_F32:
        memcpy(dst, x, (size_t)n * sizeof(float));
        break;
    case OL_DTYPE_F16:
        for (int64_t i = 0; i < n; i++) ((ol_f16 *)dst)[i] = ol_f32_to_f16(x[i]);
        break;
    case OL_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++) ((ol_bf16 *)dst)[i] = ol_f32_to_bf16(x[i]);
        break;
    case OL_DTYPE_Q8_0:
        ol_quant_row_q8_0_ref(x, dst, n);
        break;
    case OL_DTYPE_Q8_1:
        ol_quant_row_q8_1_ref(x, dst, n);
        break;
    case OL_DTYPE_Q8_K:
        ol_quant_row_q8_K_ref(x, dst, n);
        break;
    default:
        OL_ASSERT(!"vec_dot type");
    }
}

/* ---- dot products (weight row · activation row of its vec-dot type) ------------------------ */

static float dot_q4_0(int64_t nb, const ol_block_q4_0 *x, const ol_block_q8_0 *y) {
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        sum += (float)s * (F16(x[i].d) * F16(y[i].d));
    }
    return sum;
}

static float dot_q4_1(int64_t nb, const ol_block_q4_1 *x, const ol_block_q8_1 *y) {
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += (x[i].qs[j] & 0xF) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        sum += (F16(x[i].d) * F16(y[i].d)) * (float)s + F16(x[i].m) * F16(y[i].s);
    }
    return sum;
}

static int q5_dot(const uint8_t *qs, const uint8_t *qh, const int8_t *a, int off) {
    uint32_t h;
    memcpy(&h, qh, 4);
    int s = 0;
    for (int j = 0; j < 16; j++) {
        int q0 = ((qs[j] & 0xF) | (int)((h >> j) & 1) << 4) - off;
        int q1 = ((qs[j] >> 4) | (int)((h >> (j + 16)) & 1) << 4) - off;
        s += q0 * a[j] + q1 * a[j + 16];
    }
    return s;
}

static float dot_q5_0(int64_t nb, const ol_block_q5_0 *x, const ol_block_q8_0 *y) {
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++)
        sum += (F16(x[i].d) * F16(y[i].d)) * (float)q5_dot(x[i].qs, x[i].qh, y[i].qs, 16);
    return sum;
}

static float dot_q5_1(int64_t nb, const ol_block_q5_1 *x, const ol_block_q8_1 *y) {
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++)
        sum += (F16(x[i].d) * F16(y[i].d)) * (float)q5_dot(x[i].qs, x[i].qh, y[i].qs, 0) +
               F16(x[i].m) * F16(y[i].s);
    return sum;
}

static float dot_q8_0(int64_t nb, const ol_block_q8_0 *x, const ol_block_q8_0 *y) {
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int s = 0;
        for (int j = 0; j < 32; j++) s += x[i].qs[j] * y[i].qs[j];
        sum += (float)s * (F16(x[i].d) * F16(y[i].d));
    }
    return sum;
}

/* Q4_K / Q5_K: sum = d_a*d*Σ_b sc_b*Σ q*a − d_a*dmin*Σ_b m_b*(bsums of sub-block b). */
static float dot_q45_K(int64_t nb, const void *wv, size_t wsize, int five, const ol_block_q8_K *y) {
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *blk = (const uint8_t *)wv + (size_t)i * wsize;
        ol_f16 dh, dminh;
        memcpy(&dh, blk, 2);
        memcpy(&dminh, blk + 2, 2);
        const uint8_t *qh = blk + 16, *qs = blk + (five ? 48 : 16);
        uint8_t sc[8], m[8];
        unpack_scales_k4(blk + 4, sc, m);
        int isum = 0, msum = 0;
        for (int b = 0; b < 8; b++) {
            const uint8_t *q = qs + 32 * (b / 2);
            const int8_t *a = y[i].qs + 32 * b;
            int s = 0;
            for (int l = 0; l < 32; l++) {
                int v = (b & 1) ? (q[l] >> 4) : (q[l] & 0xF);
                if (five) v += ((qh[l] >> b) & 1) << 4;
                s += v * a[l];
            }
            isum += sc[b] * s;
            msum += m[b] * (y[i].bsums[2 * b] + y[i].bsums[2 * b + 1]);
        }
        sum += F16(dh) * y[i].d * (float)isum - F16(dminh) * y[i].d * (float)msum;
    }
    return sum;
}

static float dot_q6_K(int64_t nb, const ol_block_q6_K *x, const ol_block_q8_K *y) {
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int isum = 0;
        for (int g = 0; g < 16; g++) {
            int s = 0;
            for (int e = 16 * g; e < 16 * g + 16; e++) s += q6_K_value(&x[i], e) * y[i].qs[e];
            isum += x[i].scales[g] * s;
        }
        sum += F16(x[i].d) * y[i].d * (float)isum;
    }
    return sum;
}

float ol_vec_dot_ref(ol_dtype w, int64_t n, const void *wrow, const void *xrow) {
    int64_t nb = n / ol_dtype_block_elems(w);
    switch (w) {
    case OL_DTYPE_F32: {
        const float *a = wrow, *b = xrow;
        double s = 0.0; /* ggml's ref dot sums f32 in double (ggml_vec_dot_f32 generic) */
        for (int64_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
        return (float)s;
    }
    case OL_DTYPE_F16: {
        const ol_f16 *a = wrow, *b = xrow;
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += (double)(F16(a[i]) * F16(b[i]));
        return (float)s;
    }
    case OL_DTYPE_BF16: {
        const ol_bf16 *a = wrow, *b = xrow;
        double s = 0.0;
        for (int64_t i = 0; i < n; i++) s += (double)(ol_bf16_to_f32(a[i]) * ol_bf16_to_f32(b[i]));
        return (float)s;
    }
    case OL_DTYPE_Q4_0:
        return dot_q4_0(nb, wrow, xrow);
    case OL_DTYPE_Q4_1:
        return dot_q4_1(nb, wrow, xrow);
    case OL_DTYPE_Q5_0:
        return dot_q5_0(nb, wrow, xrow);
    case OL_DTYPE_Q5_1:
        return dot_q5_1(nb, wrow, xrow);
    case OL_DTYPE_Q8_0:
        return dot_q8_0(nb, wrow, xrow);
    case OL_DTYPE_Q4_K:
        return dot_q45_K(nb, wrow, sizeof(ol_block_q4_K), 0, xrow);
    case OL_DTYPE_Q5_K:
        return dot_q45_K(nb, wrow, sizeof(ol_block_q5_K), 1, xrow);
    case OL_DTYPE_Q6_K:
        return dot_q6_K(nb, wrow, xrow);
    default:
        OL_ASSERT(!"no dot product for this weight type");
        return 0.0f;
    }
}

/* ---- weight quantizers (tests and fixtures only) ------------------------------------------- */

/* Signed value of largest magnitude in x[0..n). */
static float signed_amax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void qw_q4_0(const float *x, ol_block_q4_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float d = signed_amax(x, 32) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = ol_f32_to_f16(d);
        for (int j = 0; j < 16; j++) {
            int q0 = OL_MIN(15, (int)(int8_t)(x[j] * id + 8.5f));
            int q1 = OL_MIN(15, (int)(int8_t)(x[j + 16] * id + 8.5f));
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void minmax(const float *x, int n, float *mn, float *mx) {
    *mn = *mx = x[0];
    for (int j = 1; j < n; j++) {
        *mn = fminf(*mn, x[j]);
        *mx = fmaxf(*mx, x[j]);
    }
}

static void qw_q4_1(const float *x, ol_block_q4_1 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float mn, mx;
        minmax(x, 32, &mn, &mx);
        float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = ol_f32_to_f16(d);
        y[i].m = ol_f32_to_f16(mn);
        for (int j = 0; j < 16; j++) {
            int q0 = OL_MIN(15, (int)(int8_t)((x[j] - mn) * id + 0.5f));
            int q1 = OL_MIN(15, (int)(int8_t)((x[j + 16] - mn) * id + 0.5f));
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

/* Shared by Q5_0 (off = 16.5, mn = 0 and d from the signed max) and Q5_1. */
static void q5_pack(const float *x, float mn, float id, float off, uint8_t *qs, uint8_t *qhb) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int q0 = OL_MIN(31, (int)(int8_t)((x[j] - mn) * id + off));
        int q1 = OL_MIN(31, (int)(int8_t)((x[j + 16] - mn) * id + off));
        qs[j] = (uint8_t)((q0 & 0xF) | (q1 & 0xF) << 4);
        qh |= (uint32_t)((q0 >> 4) & 1) << j | (uint32_t)((q1 >> 4) & 1) << (j + 16);
    }
    memcpy(qhb, &qh, 4);
}

static void qw_q5_0(const float *x, ol_block_q5_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float d = signed_amax(x, 32) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = ol_f32_to_f16(d);
        q5_pack(x, 0.0f, id, 16.5f, y[i].qs, y[i].qh);
    }
}

static void qw_q5_1(const float *x, ol_block_q5_1 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float mn, mx;
        minmax(x, 32, &mn, &mx);
        float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = ol_f32_to_f16(d);
        y[i].m = ol_f32_to_f16(mn);
        q5_pack(x, mn, id, 0.5f, y[i].qs, y[i].qh);
    }
}

/* Q4_K / Q5_K: per 32-element sub-block a scale (max-min)/qmax and a min (<= 0), both then
 * quantized to 6 bits against the block's d and dmin; elements round to nearest. */
static void qw_q45_K(const float *x, uint8_t *blk, int five) {
    int qmax = five ? 31 : 15;
    float scale[8], mins[8], max_scale = 0.0f, max_min = 0.0f;
    for (int b = 0; b < 8; b++) {
        float mn, mx;
        minmax(x + 32 * b, 32, &mn, &mx);
        mn = fminf(mn, 0.0f);
        scale[b] = (mx - mn) / (float)qmax;
        mins[b] = -mn;
        max_scale = fmaxf(max_scale, scale[b]);
        max_min = fmaxf(max_min, mins[b]);
    }
    float d = max_scale / 63.0f, dmin = max_min / 63.0f;
    ol_f16 dh = ol_f32_to_f16(d), dminh = ol_f32_to_f16(dmin);
    d = F16(dh), dmin = F16(dminh);
    uint8_t sc[8], m[8], *scales = blk + 4;
    for (int b = 0; b < 8; b++) {
        sc[b] = (uint8_t)OL_MIN(63, d > 0.0f ? nearest_int(scale[b] / d) : 0);
        m[b] = (uint8_t)OL_MIN(63, dmin > 0.0f ? nearest_int(mins[b] / dmin) : 0);
    }
    for (int j = 0; j < 4; j++) {
        scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        scales[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        scales[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | (m[j + 4] & 0xF) << 4);
    }
    memcpy(blk, &dh, 2);
    memcpy(blk + 2, &dminh, 2);
    uint8_t *qh = blk + 16, *qs = blk + (five ? 48 : 16);
    if (five) memset(qh, 0, 32);
    memset(qs, 0, 128);
    for (int b = 0; b < 8; b++) {
        float ds = d * sc[b], dm = dmin * m[b];
        for (int l = 0; l < 32; l++) {
            int q = ds > 0.0f ? nearest_int((x[32 * b + l] + dm) / ds) : 0;
            q = OL_MAX(0, OL_MIN(qmax, q));
            qs[32 * (b / 2) + l] |= (uint8_t)((q & 0xF) << (4 * (b & 1)));
            if (five) qh[l] |= (uint8_t)(((q >> 4) & 1) << b);
        }
    }
}

static void qw_q6_K(const float *x, ol_block_q6_K *y) {
    float scale[16], amax_scale = 0.0f;
    for (int g = 0; g < 16; g++) {
        scale[g] = signed_amax(x + 16 * g, 16) / -32.0f;
        amax_scale = fmaxf(amax_scale, fabsf(scale[g]));
    }
    float d = amax_scale / 127.0f;
    y->d = ol_f32_to_f16(d);
    d = F16(y->d);
    memset(y->ql, 0, sizeof(y->ql));
    memset(y->qh, 0, sizeof(y->qh));
    for (int g = 0; g < 16; g++) {
        int s = d > 0.0f ? nearest_int(scale[g] / d) : 0;
        y->scales[g] = (int8_t)OL_MAX(-128, OL_MIN(127, s));
    }
    for (int e = 0; e < 256; e++) {
        float ds = d * y->scales[e / 16];
        int q = ds != 0.0f ? nearest_int(x[e] / ds) : 0;
        q = OL_MAX(-32, OL_MIN(31, q)) + 32;
        int h = e / 128, k = (e % 128) / 32, l = e % 32;
        y->ql[64 * h + l + 32 * (k & 1)] |= (uint8_t)((q & 0xF) << (k < 2 ? 0 : 4));
        y->qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * k));
    }
}

void ol_quant_weights_ref(ol_dtype t, const float *x, void *dst, int64_t n) {
    int64_t nb = n / ol_dtype_block_elems(t);
    switch (t) {
    case OL_DTYPE_F32:
    case OL_DTYPE_F16:
    case OL_DTYPE_BF16:
        ol_quant_row_ref(t, x, dst, n);
        break;
    case OL_DTYPE_Q4_0:
        qw_q4_0(x, dst, nb);
        break;
    case OL_DTYPE_Q4_1:
        qw_q4_1(x, dst, nb);
        break;
    case OL_DTYPE_Q5_0:
        qw_q5_0(x, dst, nb);
        break;
    case OL_DTYPE_Q5_1:
        qw_q5_1(x, dst, nb);
        break;
    case OL_DTYPE_Q8_0:
        ol_quant_row_q8_0_ref(x, dst, n);
        break;
    case OL_DTYPE_Q8_1:
        ol_quant_row_q8_1_ref(x, dst, n);
        break;
    case OL_DTYPE_Q8_K:
        ol_quant_row_q8_K_ref(x, dst, n);
        break;
    case OL_DTYPE_Q4_K:
        for (int64_t i = 0; i < nb; i++) qw_q45_K(x + 256 * i, (uint8_t *)dst + 144 * i, 0);
        break;
    case OL_DTYPE_Q5_K:
        for (int64_t i = 0; i < nb; i++) qw_q45_K(x + 256 * i, (uint8_t *)dst + 176 * i, 1);
        break;
    case OL_DTYPE_Q6_K:
        for (int64_t i = 0; i < nb; i++) qw_q6_K(x + 256 * i, (ol_block_q6_K *)dst + i);
        break;
    default:
        OL_ASSERT(!"dtype");
    }
}
