/* backend/cpu/cpu_internal.h: what the CPU backend's own files share: the kernel tables of
 * each tier and the AVX2 tier's private activation layout appended to Q8_0/Q8_1 rows (the
 * AVX-512 tier has its own, in kernels_avx512.c). No other module includes this. */
#ifndef OL_CPU_INTERNAL_H
#define OL_CPU_INTERNAL_H

#include "cpu.h"

void ol_cpu_kernels_ref(ol_cpu_kernels *k);
void ol_cpu_kernels_avx2(ol_cpu_kernels *k);
void ol_cpu_kernels_avx512(ol_cpu_kernels *k);

/* AVX2 activation rows for the 32-element formats (vec-dot types Q8_0 and Q8_1), for a row of
 * nb blocks. Every region starts 64-byte aligned (rows themselves are 64-byte aligned):
 *   [0, qs)   the standard row: nb blocks of ol_block_q8_0 / ol_block_q8_1
 *   [qs, da)  int8 qs of all blocks, contiguous: [nb][32]
 * Each region is padded with zeros to a multiple of 64 bytes.
 *   [da, ex)  f32 d of each block repeated 8 times: [nb][8]
 *   [ex, end) per block 8 lanes, lane 0 holding the block's extra term and lanes 1-7 zero:
 *             Q8_0: int32 -128*Σqs (lets weights enter vpdpbusd as unsigned q+128);
 *             Q8_1: f32 s as stored (f16) in the block, for the m·s term of Q4_1/Q5_1. */
typedef struct {
    size_t qs, da, ex, end;
} ol_act32_layout;

static inline ol_act32_layout ol_act32_layout_of(int64_t nb, size_t block_bytes) {
    ol_act32_layout l;
    l.qs = ((size_t)nb * block_bytes + 63) & ~(size_t)63;
    l.da = l.qs + (((size_t)nb * 32 + 63) & ~(size_t)63);
    l.ex = l.da + (((size_t)nb * 32 + 63) & ~(size_t)63);
    l.end = l.ex + (((size_t)nb * 32 + 63) & ~(size_t)63);
    return l;
}

/* Standard row plus the SIMD regions (act_row_bytes of the AVX2 tier). */
static inline size_t ol_act32_row_bytes_q8_0(int64_t n) {
    return ol_act32_layout_of(n / 32, sizeof(ol_block_q8_0)).end;
}
static inline size_t ol_act32_row_bytes_q8_1(int64_t n) {
    return ol_act32_layout_of(n / 32, sizeof(ol_block_q8_1)).end;
}

#endif
