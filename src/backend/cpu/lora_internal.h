/* backend/cpu/lora_internal.h: the per-tier LoRA block kernels behind ol_cpu_lora. A block
 * kernel applies one segment to nt (1..LORA_TB) consecutive tokens: rows x[j] (stride ldx) and
 * y[j] (stride ldy), j < nt. */
#ifndef OL_CPU_LORA_INTERNAL_H
#define OL_CPU_LORA_INTERNAL_H

#include "ops.h"

#define LORA_TB 4 /* tokens sharing each load of A and Bt */

typedef void (*ol_lora_block_fn)(const ol_lora_seg *g, const float *x, int64_t ldx, int nt,
                                 int64_t n_in, float *y, int64_t ldy, int64_t n_out);

void ol_lora_block_ref(const ol_lora_seg *g, const float *x, int64_t ldx, int nt, int64_t n_in,
                       float *y, int64_t ldy, int64_t n_out);
void ol_lora_block_avx2(const ol_lora_seg *g, const float *x, int64_t ldx, int nt, int64_t n_in,
                        float *y, int64_t ldy, int64_t n_out);
void ol_lora_block_avx512(const ol_lora_seg *g, const float *x, int64_t ldx, int nt, int64_t n_in,
                          float *y, int64_t ldy, int64_t n_out);

#endif
