/* tests/unit/format/test_peft.c: adapter_config.json parsing (every supported field, every
 * refused feature named in its error, wrong types), PEFT's target_modules / layers_to_transform
 * matching, and rank/alpha resolution with scales computed by hand from PEFT's rules
 * (get_pattern_key: re.match(rf"(.*\.)?({key})$", name), first key in file order wins). */
#include "format/peft.h"
#include "test.h"

#include <unistd.h>

static ol_peft_config *parse(const char *json, ol_err *err) {
    size_t n = strlen(json);
    char *copy = malloc(n ? n : 1); /* exact size, not NUL-terminated: ASan checks the bound */
    memcpy(copy, json, n);
    ol_peft_config *c = ol_peft_config_parse(copy, n, err);
    free(copy);
    return c;
}

static void refuse_n(const char *json, int code, const char *want, int line) {
    ol_err err = {0};
    ol_peft_config *c = parse(json, &err);
    if (c) fprintf(stderr, "line %d: accepted: %s\n", line, json);
    CHECK(c == NULL);
    if (err.code != code) fprintf(stderr, "line %d: %s\n", line, err.msg);
    CHECK_EQ_INT(err.code, code);
    CHECK_STR_CONTAINS(err.msg, want);
    ol_peft_config_destroy(c);
}
#define refuse(j, code, want) refuse_n(j, code, want, __LINE__)

/* A config as PEFT 0.17 saves it, with patterns. */
static const char *FULL =
    "{\"alpha_pattern\":{\"q_proj\":32,\"layers\\\\.1\\\\..*v_proj\":12.5},\"auto_mapping\":null,"
    "\"base_model_name_or_path\":\"HuggingFaceTB/SmolLM2-135M\",\"bias\":\"none\","
    "\"corda_config\":null,\"eva_config\":null,\"exclude_modules\":null,\"fan_in_fan_out\":false,"
    "\"inference_mode\":true,\"init_lora_weights\":true,\"layer_replication\":null,"
    "\"layers_pattern\":null,\"layers_to_transform\":null,\"loftq_config\":{},\"lora_alpha\":16,"
    "\"lora_bias\":false,\"lora_dropout\":0.05,\"megatron_config\":null,"
    "\"megatron_core\":\"megatron.core\",\"modules_to_save\":null,\"peft_type\":\"LORA\",\"r\":8,"
    "\"rank_pattern\":{\"q_proj\":4,\"model.layers.2.mlp.down_proj\":16},\"revision\":null,"
    "\"target_modules\":[\"q_proj\",\"v_proj\",\"down_proj\"],\"task_type\":\"CAUSAL_LM\","
    "\"trainable_token_indices\":null,\"use_dora\":false,\"use_rslora\":false}";

static void check_scale(const ol_peft_config *c, const char *name, int want_r, double want_s) {
    int r = -1;
    double s = -1;
    CHECK_EQ_INT(ol_peft_scale(c, name, &r, &s), 0);
    if (r != want_r || fabs(s - want_s) > 1e-12) fprintf(stderr, "  module %s\n", name);
    CHECK_EQ_INT(r, want_r);
    CHECK_NEAR(s, want_s, 1e-12);
}

static void test_full(void) {
    ol_err err = {0};
    ol_peft_config *c = parse(FULL, &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK_EQ_INT(c->r, 8);
    CHECK_NEAR(c->lora_alpha, 16, 0);
    CHECK(!c->use_rslora && !c->fan_in_fan_out);
    CHECK_EQ_INT(c->targets, OL_PEFT_TARGETS_LIST);
    CHECK_EQ_INT(c->n_target_modules, 3);
    CHECK(!strcmp(c->target_modules[2], "down_proj"));
    CHECK_EQ_INT(c->n_rank_pattern, 2);
    CHECK(!strcmp(c->rank_pattern[1].key, "model.layers.2.mlp.down_proj"));
    CHECK_NEAR(c->rank_pattern[1].value, 16, 0);
    CHECK_EQ_INT(c->n_alpha_pattern, 2);
    CHECK(!strcmp(c->alpha_pattern[1].key, "layers\\.1\\..*v_proj"));
    CHECK_NEAR(c->alpha_pattern[1].value, 12.5, 0);
    CHECK_EQ_INT(c->n_layers_to_transform, 0);
    CHECK_EQ_INT(c->n_layers_pattern, 0);
    CHECK(c->task_type && !strcmp(c->task_type, "CAUSAL_LM"));
    CHECK(c->base_model_name_or_path &&
          !strcmp(c->base_model_name_or_path, "HuggingFaceTB/SmolLM2-135M"));

    /* by hand: q_proj → r 4 (key "q_proj"), alpha 32 (key "q_proj") → 32/4 */
    check_scale(c, "base_model.model.model.layers.0.self_attn.q_proj", 4, 8.0);
    check_scale(c, "model.layers.0.self_attn.q_proj", 4, 8.0);
    /* layer 1 q_proj: alpha keys "q_proj" and "layers\.1\..*v_proj"... the first wins */
    check_scale(c, "base_model.model.model.layers.1.self_attn.q_proj", 4, 8.0);
    /* layer 1 v_proj: no rank key → 8; alpha "layers\.1\..*v_proj" after "model." → 12.5/8 */
    check_scale(c, "base_model.model.model.layers.1.self_attn.v_proj", 8, 1.5625);
    /* layer 2 down_proj: the whole name matches the key with an empty prefix → 16; alpha 16 */
    check_scale(c, "base_model.model.model.layers.2.mlp.down_proj", 16, 1.0);
    /* layer 12 down_proj: key "model.layers.2..." matches no suffix after a '.' → defaults */
    check_scale(c, "base_model.model.model.layers.12.mlp.down_proj", 8, 2.0);
    /* v_proj of layer 11: "layers\.1\." needs a '.' right after the 1 → alpha 16 */
    check_scale(c, "base_model.model.model.layers.11.self_attn.v_proj", 8, 2.0);
    /* a key must match at a '.' boundary: "xq_proj" is not "q_proj" */
    check_scale(c, "model.layers.0.self_attn.xq_proj", 8, 2.0);
    int r;
    double s;
    CHECK_EQ_INT(ol_peft_scale(c, NULL, &r, &s), OL_EINVAL);

    CHECK(ol_peft_target_matches(c, "base_model.model.model.layers.0.self_attn.q_proj"));
    CHECK(ol_peft_target_matches(c, "model.layers.5.mlp.down_proj"));
    CHECK(ol_peft_target_matches(c, "q_proj"));
    CHECK(!ol_peft_target_matches(c, "model.layers.0.self_attn.k_proj"));
    CHECK(!ol_peft_target_matches(c, "model.layers.0.self_attn.xq_proj"));
    CHECK(!ol_peft_target_matches(c, "model.layers.0.self_attn.q_proj.lora_A"));
    ol_peft_config_destroy(c);
    ol_peft_config_destroy(NULL);
}

static void test_rslora_and_defaults(void) {
    ol_err err;
    ol_peft_config *c =
        parse("{\"peft_type\":\"LORA\",\"r\":16,\"lora_alpha\":32,\"use_rslora\":true,"
              "\"target_modules\":[\"q_proj\",\"v_proj\"],\"rank_pattern\":{\"v_proj\":4},"
              "\"alpha_pattern\":{\"v_proj\":2.5},\"fan_in_fan_out\":true}",
              &err);
    CHECK(c != NULL);
    if (c) {
        CHECK(c->use_rslora && c->fan_in_fan_out);
        check_scale(c, "base_model.model.model.layers.0.self_attn.q_proj", 16, 32.0 / 4.0);
        check_scale(c, "base_model.model.model.layers.0.self_attn.v_proj", 4, 2.5 / 2.0);
    }
    ol_peft_config_destroy(c);
    /* r and lora_alpha default to 8 (LoraConfig) */
    c = parse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q_proj\"]}", &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_INT(c->r, 8);
        check_scale(c, "model.layers.0.self_attn.q_proj", 8, 1.0);
        CHECK(c->task_type == NULL);
    }
    ol_peft_config_destroy(c);
    /* a rank_pattern key whose regex does not match its own text is still found by name */
    c = parse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q+proj\"],\"rank_pattern\":"
              "{\"q+proj\":2}}",
              &err);
    CHECK(c != NULL);
    if (c) check_scale(c, "q+proj", 2, 4.0);
    ol_peft_config_destroy(c);
}

static void test_targets(void) {
    ol_err err;
    /* layers_to_transform with layers_pattern */
    ol_peft_config *c =
        parse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q_proj\"],\"layers_to_transform\":"
              "[0,2],\"layers_pattern\":\"layers\"}",
              &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_INT(c->n_layers_to_transform, 2);
        CHECK_EQ_INT(c->n_layers_pattern, 1);
        CHECK(ol_peft_target_matches(c, "base_model.model.model.layers.0.self_attn.q_proj"));
        CHECK(!ol_peft_target_matches(c, "base_model.model.model.layers.1.self_attn.q_proj"));
        CHECK(ol_peft_target_matches(c, "base_model.model.model.layers.2.self_attn.q_proj"));
        CHECK(!ol_peft_target_matches(c, "base_model.model.model.layers.20.self_attn.q_proj"));
        CHECK(!ol_peft_target_matches(c, "model.blocks.0.attn.q_proj")); /* no "layers" */
        CHECK(!ol_peft_target_matches(c, "model.q_proj"));               /* no index at all */
        CHECK(ol_peft_target_matches(c, "q_proj")); /* an exact name skips the layer filter */
    }
    ol_peft_config_destroy(c);
    /* an int, and the default layer pattern (any ".<name>.<digits>.") */
    c = parse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q_proj\"],\"layers_to_transform\":1,"
              "\"layers_pattern\":[]}",
              &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_INT(c->n_layers_to_transform, 1);
        CHECK(ol_peft_target_matches(c, "model.layers.1.self_attn.q_proj"));
        CHECK(ol_peft_target_matches(c, "transformer.h.1.attn.q_proj"));
        CHECK(!ol_peft_target_matches(c, "model.layers.10.self_attn.q_proj"));
    }
    ol_peft_config_destroy(c);
    /* an empty layers_to_transform list means every layer */
    c = parse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q_proj\"],\"layers_to_transform\":[]}",
              &err);
    CHECK(c != NULL);
    if (c) CHECK(ol_peft_target_matches(c, "model.layers.7.self_attn.q_proj"));
    ol_peft_config_destroy(c);
    /* regex: full match against the name relative to the base model */
    c = parse("{\"peft_type\":\"LORA\",\"target_modules\":"
              "\"model\\\\.layers\\\\.\\\\d+\\\\.self_attn\\\\.(q|v)_proj\"}",
              &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_INT(c->targets, OL_PEFT_TARGETS_REGEX);
        CHECK(ol_peft_target_matches(c, "base_model.model.model.layers.3.self_attn.v_proj"));
        CHECK(ol_peft_target_matches(c, "model.layers.3.self_attn.q_proj"));
        CHECK(!ol_peft_target_matches(c, "model.layers.3.self_attn.k_proj"));
        CHECK(!ol_peft_target_matches(c, "x.model.layers.3.self_attn.q_proj"));
        CHECK(!ol_peft_target_matches(c, "model.layers.3.self_attn.q_proj.x"));
    }
    ol_peft_config_destroy(c);
    /* all-linear (any case), with exclude_modules as a list */
    c = parse("{\"peft_type\":\"LORA\",\"target_modules\":\"ALL-LINEAR\",\"exclude_modules\":"
              "[\"layers.1.self_attn.q_proj\"]}",
              &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_INT(c->targets, OL_PEFT_TARGETS_ALL_LINEAR);
        CHECK(ol_peft_target_matches(c, "model.layers.0.mlp.up_proj"));
        CHECK(!ol_peft_target_matches(c, "lm_head"));
        CHECK(!ol_peft_target_matches(c, "base_model.model.model.layers.1.self_attn.q_proj"));
        CHECK(ol_peft_target_matches(c, "base_model.model.model.layers.11.self_attn.q_proj"));
    }
    ol_peft_config_destroy(c);
    /* exclude_modules as a regex */
    c = parse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q_proj\"],\"exclude_modules\":"
              "\".*\\\\.1\\\\..*\"}",
              &err);
    CHECK(c != NULL);
    if (c) {
        CHECK(!ol_peft_target_matches(c, "model.layers.1.self_attn.q_proj"));
        CHECK(ol_peft_target_matches(c, "model.layers.2.self_attn.q_proj"));
    }
    ol_peft_config_destroy(c);
    /* a falsy exclude_modules ("" or []) excludes nothing, as in PEFT */
    c = parse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q_proj\"],\"exclude_modules\":\"\"}",
              &err);
    CHECK(c != NULL);
    if (c) CHECK(ol_peft_target_matches(c, "model.layers.1.self_attn.q_proj"));
    ol_peft_config_destroy(c);
    /* a catastrophic regex hits PCRE2's limit and counts as no match, quickly */
    c = parse("{\"peft_type\":\"LORA\",\"target_modules\":\"(x+x+)+y\"}", &err);
    CHECK(c != NULL);
    if (c)
        CHECK(!ol_peft_target_matches(c, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
    ol_peft_config_destroy(c);
}

static void test_refused(void) {
    const char *pre = "{\"peft_type\":\"LORA\",\"target_modules\":[\"q_proj\"],";
    char j[1024];
#define REF(body, code, want)                                                                      \
    do {                                                                                           \
        snprintf(j, sizeof(j), "%s%s}", pre, body);                                                \
        refuse(j, code, want);                                                                     \
    } while (0)
    /* unsupported features, each named */
    REF("\"use_dora\":true", OL_ENOTSUP, "use_dora is set: DoRA is not supported");
    REF("\"lora_bias\":true", OL_ENOTSUP, "lora_bias is set");
    REF("\"use_qalora\":true", OL_ENOTSUP, "use_qalora is set: QA-LoRA");
    REF("\"modules_to_save\":[\"lm_head\"]", OL_ENOTSUP, "modules_to_save is set");
    REF("\"layer_replication\":[[0,4],[2,5]]", OL_ENOTSUP, "layer_replication is set");
    REF("\"target_parameters\":[\"experts.w1\"]", OL_ENOTSUP, "target_parameters is set");
    REF("\"trainable_token_indices\":[1,2]", OL_ENOTSUP, "trainable_token_indices is set");
    REF("\"alora_invocation_tokens\":[5]", OL_ENOTSUP, "alora_invocation_tokens is set");
    REF("\"arrow_config\":{\"top_k\":2}", OL_ENOTSUP, "arrow_config is set");
    REF("\"bias\":\"all\"", OL_ENOTSUP, "bias all is not supported");
    REF("\"bias\":\"lora_only\"", OL_ENOTSUP, "bias lora_only");
    REF("\"bias\":false", OL_ENOTSUP, "bias a boolean");
    refuse("{\"peft_type\":\"IA3\",\"target_modules\":[\"q_proj\"]}", OL_ENOTSUP,
           "peft_type \"IA3\" is not supported");
    refuse("{\"target_modules\":[\"q_proj\"]}", OL_EFORMAT, "missing peft_type");
    refuse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q_proj\",\"lm_head\"]}", OL_ENOTSUP,
           "target_modules names 'lm_head': LoRA on lm_head is not supported");
    refuse("{\"peft_type\":\"LORA\",\"target_modules\":[\"model.embed_tokens\"]}", OL_ENOTSUP,
           "LoRA on embed_tokens");
    refuse("{\"peft_type\":\"LORA\",\"target_modules\":\".*\"}", OL_ENOTSUP,
           "target_modules regex '.*' matches embed_tokens");
    refuse("{\"peft_type\":\"LORA\",\"target_modules\":\"lm_head|.*q_proj\"}", OL_ENOTSUP,
           "matches lm_head");
    /* falsy values of those keys are fine */
    ol_err err;
    ol_peft_config *c = parse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q_proj\"],"
                              "\"use_dora\":false,\"modules_to_save\":[],\"lora_bias\":null,"
                              "\"arrow_config\":{},\"layer_replication\":null,\"bias\":null}",
                              &err);
    CHECK(c != NULL);
    ol_peft_config_destroy(c);

    /* types and ranges */
    REF("\"r\":0", OL_EFORMAT, "r = 0 is outside 1..4096");
    REF("\"r\":5000", OL_EFORMAT, "r = 5000 is outside");
    REF("\"r\":8.0", OL_EFORMAT, "r is a real number, want an integer");
    REF("\"r\":\"8\"", OL_EFORMAT, "r is a string");
    REF("\"r\":true", OL_EFORMAT, "r is a boolean");
    REF("\"lora_alpha\":\"16\"", OL_EFORMAT, "lora_alpha is a string, want a number");
    REF("\"use_rslora\":\"yes\"", OL_EFORMAT, "use_rslora is a string, want a boolean");
    REF("\"fan_in_fan_out\":1", OL_EFORMAT, "fan_in_fan_out is an integer");
    REF("\"task_type\":5", OL_EFORMAT, "task_type is an integer, want a string");
    REF("\"rank_pattern\":[]", OL_EFORMAT, "rank_pattern is an array, want an object");
    REF("\"rank_pattern\":{\"q\":0}", OL_EFORMAT, "rank_pattern 'q' = 0 is outside");
    REF("\"rank_pattern\":{\"q\":2.5}", OL_EFORMAT, "rank_pattern 'q' is a real number");
    REF("\"rank_pattern\":{\"(\":4}", OL_EFORMAT, "rank_pattern key '(' is not a valid regex");
    REF("\"alpha_pattern\":{\"q\":\"x\"}", OL_EFORMAT, "alpha_pattern 'q' is a string");
    REF("\"alpha_pattern\":{\"[\":1}", OL_EFORMAT, "alpha_pattern key '[' is not a valid regex");
    REF("\"layers_to_transform\":\"0\"", OL_EFORMAT, "layers_to_transform is a string");
    REF("\"layers_to_transform\":[-1]", OL_EFORMAT, "layers_to_transform[0] = -1 is not a layer");
    REF("\"layers_to_transform\":[0,1.5]", OL_EFORMAT, "layers_to_transform[1] is a real number");
    REF("\"layers_pattern\":\"layers\"", OL_EFORMAT,
        "layers_pattern is set but layers_to_transform is not");
    REF("\"layers_to_transform\":[1],\"layers_pattern\":5", OL_EFORMAT,
        "layers_pattern is an integer");
    REF("\"layers_to_transform\":[1],\"layers_pattern\":\"(\"", OL_EFORMAT,
        "layers_pattern '(' is not a valid regex");
    REF("\"exclude_modules\":7", OL_EFORMAT, "exclude_modules is an integer");
    REF("\"exclude_modules\":\"(\"", OL_EFORMAT, "exclude_modules '(' is not a valid regex");
    refuse("{\"peft_type\":\"LORA\"}", OL_EFORMAT, "target_modules is missing");
    refuse("{\"peft_type\":\"LORA\",\"target_modules\":[]}", OL_EFORMAT,
           "target_modules is an empty list");
    refuse("{\"peft_type\":\"LORA\",\"target_modules\":5}", OL_EFORMAT,
           "target_modules is an integer");
    refuse("{\"peft_type\":\"LORA\",\"target_modules\":[\"q\",1]}", OL_EFORMAT,
           "target_modules[1] is an integer");
    refuse("{\"peft_type\":\"LORA\",\"target_modules\":\"(\"}", OL_EFORMAT,
           "target_modules '(' is not a valid regex");
    refuse("{\"peft_type\":\"LORA\",\"target_modules\":\".*q_proj\",\"layers_to_transform\":[0]}",
           OL_EFORMAT, "layers_to_transform cannot be used when target_modules is a string");
    refuse("{\"peft_type\":\"LORA\",\"target_modules\":\"all-linear\",\"layers_pattern\":\"h\"}",
           OL_EFORMAT, "layers_pattern cannot be used");
    /* JSON itself */
    refuse("", OL_EFORMAT, "not valid JSON");
    refuse("{\"peft_type\":\"LORA\",", OL_EFORMAT, "not valid JSON at line 1");
    refuse("[1]", OL_EFORMAT, "top level is an array, want an object");
    refuse("{\"peft_type\":\"LORA\",\"r\":4,\"r\":8,\"target_modules\":[\"q\"]}", OL_EFORMAT,
           "duplicate");
    refuse("{\"peft_type\":\"LORA\",\"r\":99999999999999999999}", OL_EFORMAT, "not valid JSON");
#undef REF
}

static void test_load(void) {
    ol_err err;
    CHECK(ol_peft_config_load("/nonexistent/adapter_config.json", &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "/nonexistent/adapter_config.json");
    char dir[] = "/tmp/ol_peft_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof(path), "%s/adapter_config.json", dir);
    FILE *f = fopen(path, "w");
    fputs(FULL, f);
    fclose(f);
    ol_peft_config *c = ol_peft_config_load(path, &err);
    CHECK(c != NULL);
    if (c) CHECK_EQ_INT(c->n_rank_pattern, 2);
    ol_peft_config_destroy(c);
    f = fopen(path, "w");
    fputs("{\"peft_type\":\"LORA\",\"target_modules\":[\"q\"],\"use_dora\":true}", f);
    fclose(f);
    CHECK(ol_peft_config_load(path, &err) == NULL);
    CHECK_EQ_INT(err.code, OL_ENOTSUP);
    CHECK_STR_CONTAINS(err.msg, path);
    CHECK_STR_CONTAINS(err.msg, "use_dora");
    /* too big: refused from its size, before reading */
    f = fopen(path, "w");
    fseek(f, OL_PEFT_MAX_CONFIG_SIZE, SEEK_SET);
    fputc(' ', f);
    fclose(f);
    CHECK(ol_peft_config_load(path, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "more than the");
    unlink(path);
    rmdir(dir);
}

int main(void) {
    test_full();
    test_rslora_and_defaults();
    test_targets();
    test_refused();
    test_load();
    return test_done("test_peft");
}
