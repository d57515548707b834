/* tests/fuzz/fuzz_peft_config.c: libFuzzer target for the adapter_config.json reader. Parses the
 * input and, when it parses, reads every field and asks target_matches and scale about fixed
 * module names and about every name and pattern key the config itself contains. */
#include "format/peft.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static volatile uint64_t sink;

static void query(const ol_peft_config *c, const char *name) {
    int r = 0;
    double s = 0;
    sink += ol_peft_target_matches(c, name);
    if (ol_peft_scale(c, name, &r, &s) != 0) __builtin_trap();
    if (r < 1 || r > OL_PEFT_MAX_RANK) __builtin_trap();
    sink += (uint64_t)r + (isfinite(s) ? 1 : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ol_err err;
    ol_peft_config *c = ol_peft_config_parse((const char *)data, size, &err);
    if (!c) {
        sink += strlen(err.msg);
        return 0;
    }
    static const char *names[] = {
        "base_model.model.model.layers.0.self_attn.q_proj",
        "base_model.model.model.layers.13.mlp.down_proj",
        "model.layers.2.self_attn.v_proj",
        "lm_head",
        "q_proj",
        "",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) query(c, names[i]);
    for (int i = 0; i < c->n_target_modules; i++) query(c, c->target_modules[i]);
    for (int i = 0; i < c->n_exclude_modules; i++) query(c, c->exclude_modules[i]);
    for (int i = 0; i < c->n_rank_pattern; i++) query(c, c->rank_pattern[i].key);
    for (int i = 0; i < c->n_alpha_pattern; i++) query(c, c->alpha_pattern[i].key);
    for (int i = 0; i < c->n_layers_pattern; i++) query(c, c->layers_pattern[i]);
    for (int i = 0; i < c->n_layers_to_transform; i++) sink += (uint64_t)c->layers_to_transform[i];
    if (c->target_regex) query(c, c->target_regex);
    if (c->task_type) sink += strlen(c->task_type);
    if (c->base_model_name_or_path) sink += strlen(c->base_model_name_or_path);
    ol_peft_config_destroy(c);
    return 0;
}
