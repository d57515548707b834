/* cli/model_cmd.c: `openlora model inspect FILE`: header facts, every metadata key (long
 * arrays abbreviated), every tensor with type, shape and offset, and the architecture the
 * engine would run. */
#include "cli.h"
#include "format/gguf.h"
#include "model/model.h"

#include <stdio.h>
#include <string.h>

static void print_str(FILE *f, ol_gguf_str s, size_t max) {
    size_t n = s.len < max ? (size_t)s.len : max;
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
    if (n < s.len) fprintf(f, "...(%llu bytes)", (unsigned long long)s.len);
}

static void print_scalar(FILE *f, ol_gguf_type t, const ol_gguf_kv *kv, uint64_t i, bool arr) {
    if (t == OL_GGUF_TYPE_F32 || t == OL_GGUF_TYPE_F64)
        fprintf(f, "%g", arr ? ol_gguf_arr_float(kv, i) : ol_gguf_kv_float(kv));
    else if (t == OL_GGUF_TYPE_BOOL)
        fputs((arr ? ol_gguf_arr_int(kv, i) : ol_gguf_kv_int(kv)) ? "true" : "false", f);
    else
        fprintf(f, "%lld", (long long)(arr ? ol_gguf_arr_int(kv, i) : ol_gguf_kv_int(kv)));
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: openlora model inspect FILE [--all]\n"
            "\n"
            "Print a GGUF file's header, metadata and tensors, then whether openlora can run it.\n"
            "  --all   print every array element and every tensor (default: abbreviated)\n");
}

static int inspect(const char *path, bool all) {
    ol_err err;
    ol_gguf *g = ol_gguf_open(path, &err);
    if (!g) {
        fprintf(stderr, "openlora: %s\n", err.msg);
        return 1;
    }
    printf("file: %s\nversion: %u\nsize: %zu bytes\nalignment: %zu\ndata offset: %zu\n", path,
           ol_gguf_version(g), ol_gguf_file_size(g), ol_gguf_alignment(g), ol_gguf_data_offset(g));
    printf("metadata: %lld keys\n", (long long)ol_gguf_n_kv(g));
    for (int64_t i = 0; i < ol_gguf_n_kv(g); i++) {
        const ol_gguf_kv *kv = ol_gguf_kv_at(g, i);
        printf("  ");
        print_str(stdout, kv->key, 200);
        if (kv->type == OL_GGUF_TYPE_ARRAY) {
            uint64_t show = all ? kv->arr_n : (kv->arr_n < 8 ? kv->arr_n : 8);
            printf(" %s[%llu] = [", ol_gguf_type_name(kv->arr_type), (unsigned long long)kv->arr_n);
            for (uint64_t j = 0; j < show; j++) {
                if (j) printf(", ");
                if (kv->arr_type == OL_GGUF_TYPE_STRING)
                    print_str(stdout, kv->strs[j], 60);
                else
                    print_scalar(stdout, kv->arr_type, kv, j, true);
            }
            printf("%s]\n", show < kv->arr_n ? ", ..." : "");
        } else if (kv->type == OL_GGUF_TYPE_STRING) {
            printf(" string = ");
            print_str(stdout, kv->strs[0], all ? (size_t)-1 : 300);
            printf("\n");
        } else {
            printf(" %s = ", ol_gguf_type_name(kv->type));
            print_scalar(stdout, kv->type, kv, 0, false);
            printf("\n");
        }
    }
    int64_t nt = ol_gguf_n_tensors(g);
    size_t total = 0;
    printf("tensors: %lld\n", (long long)nt);
    for (int64_t i = 0; i < nt; i++) {
        const ol_gguf_tensor *t = ol_gguf_tensor_at(g, i);
        total += t->nbytes;
        if (!all && nt > 40 && i >= 20 && i < nt - 10) {
            if (i == 20) printf("  ... (%lld more; --all shows them)\n", (long long)(nt - 30));
            continue;
        }
        printf("  %-40s %-6s [", t->name, ol_ggml_type_name(t->ggml_type));
        for (int d = 0; d < t->n_dims; d++) printf("%s%lld", d ? ", " : "", (long long)t->ne[d]);
        printf("] offset %llu, %zu bytes\n", (unsigned long long)t->offset, t->nbytes);
    }
    printf("tensor bytes: %zu\n", total);
    ol_gguf_close(g);

    ol_model *m = ol_model_load(path, &err);
    if (!m) {
        printf("runnable: no (%s)\n", err.msg);
        return 0;
    }
    const ol_hparams *hp = ol_model_hparams(m);
    printf("runnable: yes, arch %s: n_vocab %d, n_embd %d, n_layer %d, n_head %d, n_head_kv %d, "
           "head_dim %d, n_ff %d, n_ctx_train %d, rope base %g%s, sliding window %d\n",
           hp->arch_name, hp->n_vocab, hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv,
           hp->head_dim, hp->n_ff, hp->n_ctx_train, (double)hp->rope_base,
           hp->rope_neox ? " (neox)" : "", hp->n_swa);
    printf("weights read per generated token: %zu bytes\n", ol_model_weight_bytes_per_token(m));
    ol_model_destroy(m);
    return 0;
}

int ol_cli_model(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "inspect")) {
        fprintf(stderr, "openlora: unknown model command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    const char *path = NULL;
    bool all = false;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--all")) {
            all = true;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "openlora: model inspect: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    return inspect(path, all);
}
