/* tests/unit/adapters/test_adapter_hostile.c: hostile PEFT adapters
 * (tools/gen_hostile_adapters.py): wrong shapes, rank 0 and absurd ranks, NaN/Inf weights,
 * truncated or lying safetensors, bad JSON, a non-LoRA config, unknown target modules, DoRA
 * (config and tensor), modules_to_save, LoRA on embeddings/lm_head, LoRA bias, a missing
 * lora_B, config/tensor rank mismatch, layers past the model, integer tensors, a pickle file,
 * no config, no LoRA tensors. Each is refused with a message naming the problem; the control
 * loads. Plus: a GGUF LoRA made for another model, a plain GGUF model given as adapter, a
 * missing path, and an unrecognised file. */
#include "adapters/adapters.h"
#include "test.h"

int main(void) {
    ol_err err;
    char mpath[4096];
    snprintf(mpath, sizeof(mpath), "%s", test_data("models/tiny_llama.gguf"));
    ol_model *m = ol_model_load(mpath, &err);
    CHECK(m != NULL);
    if (!m) return test_done("test_adapter_hostile");
    FILE *f = fopen(test_data("hostile_adapters/cases.txt"), "r");
    CHECK(f != NULL);
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = 0;
        char path[4096 + 512];
        snprintf(path, sizeof(path), "%s", test_data("hostile_adapters/"));
        strncat(path, line, sizeof(path) - strlen(path) - 1);
        ol_err e = {0};
        ol_adapter *a = ol_adapter_load(path, m, &e);
        n++;
        if (!strcmp(sp + 1, "OK")) {
            if (!a) fprintf(stderr, "%s: %s\n", line, e.msg);
            CHECK(a != NULL);
        } else {
            CHECK(a == NULL);
            CHECK(e.code < 0);
            CHECK_STR_CONTAINS(e.msg, sp + 1);
            printf("%-20s -> %s\n", line, e.msg);
        }
        ol_adapter_destroy(a);
    }
    if (f) fclose(f);
    CHECK(n >= 25);

    /* a GGUF LoRA for the llama fixture, loaded against the gemma fixture */
    ol_model *g = ol_model_load(test_data("models/tiny_gemma3.gguf"), &err);
    CHECK(g != NULL);
    CHECK(ol_adapter_load(test_data("adapters/tiny_llama/all_r8.gguf"), g, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "another architecture");
    /* and a PEFT adapter for llama against gemma: shapes differ */
    CHECK(ol_adapter_load(test_data("adapters/tiny_llama/all_r8"), g, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "the model needs");
    ol_model_destroy(g);
    /* a model file is not an adapter */
    CHECK(ol_adapter_load(mpath, m, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "general.type");
    CHECK(ol_adapter_load("/nonexistent/adapter", m, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "no such adapter");
    CHECK(ol_adapter_load(test_data("hostile/cases.txt"), m, &err) == NULL);
    CHECK_STR_CONTAINS(err.msg, "PEFT directory");
    ol_model_destroy(m);
    return test_done("test_adapter_hostile");
}
