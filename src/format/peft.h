/* format/peft: a PEFT LoRA adapter_config.json reader (peft_type "LORA") and PEFT's rules for
 * which modules an adapter targets and which rank and alpha each gets. Unimplemented features
 * (DoRA, modules_to_save, LoRA bias, layer replication, …) are refused naming the key; unknown
 * keys are ignored. Rules: huggingface/peft tuners_utils.check_target_module_exists and
 * utils/other.get_pattern_key; regexes are Python syntax run by PCRE2 (common subset agrees). */
#ifndef OL_PEFT_H
#define OL_PEFT_H

#include "base/base.h"

#include <stdbool.h>

#define OL_PEFT_MAX_RANK        4096
#define OL_PEFT_MAX_CONFIG_SIZE (4u << 20) /* bytes of adapter_config.json */

typedef enum ol_peft_targets {
    OL_PEFT_TARGETS_LIST,       /* target_modules: a module name or its suffix after a '.' */
    OL_PEFT_TARGETS_REGEX,      /* target_modules: one regex that must match the full name */
    OL_PEFT_TARGETS_ALL_LINEAR, /* "all-linear": every linear layer except the output head */
    OL_PEFT_TARGETS_COUNT
} ol_peft_targets;

/* One rank_pattern or alpha_pattern entry, in file order (the first match wins). */
typedef struct ol_peft_pattern {
    char *key;    /* a module name or a regex, as written */
    double value; /* rank (an integer 1..OL_PEFT_MAX_RANK) or alpha */
} ol_peft_pattern;

typedef struct ol_peft_regexes ol_peft_regexes; /* private: compiled PCRE2 patterns */

/* A parsed config. Everything is owned by the struct; free with ol_peft_config_destroy.
 * Read-only after parse, so several threads may query it at once. */
typedef struct ol_peft_config {
    int r;             /* default rank, 1..OL_PEFT_MAX_RANK (PEFT default 8) */
    double lora_alpha; /* finite (PEFT default 8) */
    bool use_rslora;   /* scale = alpha / sqrt(r) instead of alpha / r */
    bool fan_in_fan_out;

    ol_peft_targets targets;
    int n_target_modules;
    char **target_modules; /* LIST */
    char *target_regex;    /* REGEX; for ALL_LINEAR the string as written */

    int n_exclude_modules; /* exclude_modules: a list (name or suffix) or a regex */
    char **exclude_modules;
    char *exclude_regex;

    int n_rank_pattern, n_alpha_pattern;
    ol_peft_pattern *rank_pattern, *alpha_pattern;

    int n_layers_to_transform; /* 0: every layer; an int in the file becomes a list of one */
    int *layers_to_transform;
    int n_layers_pattern; /* a string in the file becomes a list of one */
    char **layers_pattern;

    char *task_type;               /* NULL if absent or null */
    char *base_model_name_or_path; /* NULL if absent or null */

    ol_peft_regexes *re;
} ol_peft_config;

/* Parse adapter_config.json text (len bytes, need not be NUL-terminated). NULL on failure with
 * err naming the key; OL_ENOTSUP for features the engine refuses, OL_EFORMAT otherwise. */
ol_peft_config *ol_peft_config_parse(const char *json, size_t len, ol_err *err);
/* Read and parse a file (at most OL_PEFT_MAX_CONFIG_SIZE bytes); messages start with path. */
ol_peft_config *ol_peft_config_load(const char *path, ol_err *err);
void ol_peft_config_destroy(ol_peft_config *cfg); /* accepts NULL */

/* Module names are PEFT's: "base_model.model.model.layers.3.self_attn.q_proj". A leading
 * "base_model.model." is removed first, since PEFT matches names relative to the base model
 * ("model.layers.3.self_attn.q_proj"). */

/* Whether the adapter targets this module: exclude_modules first, then target_modules (list:
 * equal name, or suffix after '.', the suffix case filtered by layers_to_transform, the layer
 * index found after layers_pattern or else after any ".<name>."; regex: full match). A regex
 * that exceeds PCRE2's match limit counts as no match. ALL_LINEAR matches every name whose last
 * component is not an embedding or output head: intersect with the adapter's tensors. */
bool ol_peft_target_matches(const ol_peft_config *cfg, const char *module_name);

/* Rank and scale for a module: the first rank_pattern (alpha_pattern) key K for which the name
 * matches the regex "(.*\.)?(K)$" from its start gives the rank (alpha), else the defaults;
 * scale = alpha / rank, or alpha / sqrt(rank) with use_rslora. Returns 0 or OL_EINVAL. */
int ol_peft_scale(const ol_peft_config *cfg, const char *module_name, int *rank, double *scale);

#endif
