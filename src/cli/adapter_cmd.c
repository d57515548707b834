/* cli/adapter_cmd.c: `openlora adapter inspect PATH [-m MODEL]`: loads a LoRA adapter against
 * the base model (every shape checked), and prints its source, its config (for PEFT), each
 * targeted module with rank and folded scale, and its bytes in compute layout. */
#include "adapters/adapters.h"
#include "cli.h"
#include "format/peft.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: openlora adapter inspect PATH [-m MODEL]\n"
        "\n"
        "Load a LoRA adapter (a PEFT directory with adapter_config.json and\n"
        "adapter_model.safetensors, or a llama.cpp .gguf LoRA file) against the base model,\n"
        "check it, and print its configuration, targeted modules, ranks, scales and size.\n"
        "  -m, --model PATH   base model (default: $OPENLORA_MODEL or the cached Gemma 3 270M)\n");
}

static int inspect(const char *path, const char *model_arg) {
    char mpath[4096];
    if (ol_cli_model_path(model_arg, mpath, sizeof(mpath))) return 1;
    ol_err err = {0};
    ol_model *m = ol_model_load(mpath, &err);
    if (!m) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        return 1;
    }
    ol_adapter *a = ol_adapter_load(path, m, &err);
    if (!a) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        ol_model_destroy(m);
        return 1;
    }
    printf("adapter: %s\nsource: %s\nbase model: %s (%s)\n", path,
           ol_adapter_source_of(a) == OL_ADAPTER_PEFT ? "PEFT directory" : "llama.cpp GGUF LoRA",
           mpath, ol_model_hparams(m)->arch_name);
    struct stat st;
    if (ol_adapter_source_of(a) == OL_ADAPTER_PEFT) {
        char cpath[4200];
        snprintf(cpath, sizeof(cpath), "%s/adapter_config.json", path);
        ol_peft_config *cfg = stat(cpath, &st) == 0 ? ol_peft_config_load(cpath, &err) : NULL;
        if (cfg) {
            printf("config: r %d, lora_alpha %g, use_rslora %s, targets ", cfg->r, cfg->lora_alpha,
                   cfg->use_rslora ? "true" : "false");
            if (cfg->targets == OL_PEFT_TARGETS_LIST)
                for (int i = 0; i < cfg->n_target_modules; i++)
                    printf("%s%s", i ? "," : "", cfg->target_modules[i]);
            else
                printf("%s", cfg->target_regex ? cfg->target_regex : "(none)");
            printf("\n");
            ol_peft_config_destroy(cfg);
        }
    }
    int n = ol_adapter_n_modules(a), rmin = 1 << 30, rmax = 0;
    printf("modules: %d\n", n);
    for (int i = 0; i < n; i++) {
        const ol_adapter_module *md = ol_adapter_module_at(a, i);
        printf("  layer %3d %-10s rank %3d scale %g\n", md->layer, ol_proj_name(md->proj), md->rank,
               (double)md->scale);
        rmin = md->rank < rmin ? md->rank : rmin;
        rmax = md->rank > rmax ? md->rank : rmax;
    }
    printf("ranks: %d..%d\nbytes (f32 compute layout): %zu\n", rmin, rmax, ol_adapter_bytes(a));
    ol_adapter_destroy(a);
    ol_model_destroy(m);
    return 0;
}

int ol_cli_adapter(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "inspect")) {
        fprintf(stderr, "openlora: unknown adapter command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    const char *path = NULL, *model = NULL;
    bool bad = false;
    for (int i = 2; i < argc && !bad; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((v = ol_cli_opt(argc, argv, &i, "-m", "--model", &bad))) {
            model = v;
        } else if (!bad && (argv[i][0] == '-' || path)) {
            fprintf(stderr, "openlora: adapter inspect: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else if (!bad) {
            path = argv[i];
        }
    }
    if (bad) return 2;
    if (!path) {
        usage(stderr);
        return 2;
    }
    return inspect(path, model);
}
