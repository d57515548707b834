/* adapters: a LoRA adapter = its weights converted once, at load, into the compute layout the
 * forward pass wants (f32 A [r][in] and B transposed [r][out] with the module's scale folded
 * in), checked against the base model. Sources: a PEFT directory (adapter_config.json +
 * adapter_model.safetensors) or a llama.cpp GGUF LoRA file. Anything PEFT can express that
 * openlora does not run (DoRA, modules_to_save, LoRA on embeddings or lm_head, LoRA biases,
 * pickle weights, ...) is refused with an error that names it. */
#ifndef OL_ADAPTERS_H
#define OL_ADAPTERS_H

#include "model/model.h"

typedef enum ol_adapter_source { OL_ADAPTER_PEFT, OL_ADAPTER_GGUF } ol_adapter_source;

typedef struct ol_adapter ol_adapter;

/* Load from a PEFT directory or a .gguf LoRA file, for model m (borrowed: the adapter is only
 * valid with this model). NULL with err filled (naming the file, tensor or field). */
ol_adapter *ol_adapter_load(const char *path, const ol_model *m, ol_err *err);
void ol_adapter_destroy(ol_adapter *a); /* accepts NULL */

/* What the forward pass consumes; borrowed until destroy. */
const ol_lora_weights *ol_adapter_weights(const ol_adapter *a);
/* Bytes of the compute-layout weights (what a cache budget counts). */
size_t ol_adapter_bytes(const ol_adapter *a);
ol_adapter_source ol_adapter_source_of(const ol_adapter *a);

/* Per targeted (layer, projection): rank and folded scale, for `adapter inspect`. */
typedef struct ol_adapter_module {
    int layer;
    ol_proj proj;
    int rank;
    float scale;
} ol_adapter_module;
int ol_adapter_n_modules(const ol_adapter *a);
const ol_adapter_module *ol_adapter_module_at(const ol_adapter *a, int i);

#endif
