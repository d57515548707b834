/* cli/main.c: the openlora command dispatcher: generate, bench, serve, model inspect,
 * adapter inspect, ledger verify|report|export. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "openlora %s: one base model, thousands of LoRA adapters\n"
            "\n"
            "usage: openlora <command> [options]\n"
            "\n"
            "commands:\n"
            "  generate        generate text from a prompt on the CPU\n"
            "  bench           measure prompt processing and generation speed\n"
            "  serve           run the OpenAI-compatible HTTP server\n"
            "  model inspect   print a GGUF model's metadata and tensors\n"
            "  adapter inspect check a LoRA adapter against the model and describe it\n"
            "  ledger verify   check the attribution ledger's hash chain and signed checkpoints\n"
            "  ledger report   tokens and money per adapter, owner and contributor\n"
            "  ledger export   dump the ledger's entries as CSV or JSON lines\n"
            "\n"
            "Run 'openlora <command> --help' for the options of a command.\n",
            OL_VERSION);
}

static int dispatch(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("openlora %s\n", OL_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "generate")) return ol_cli_generate(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return ol_cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return ol_cli_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "model")) return ol_cli_model(argc - 1, argv + 1);
    if (!strcmp(cmd, "adapter")) return ol_cli_adapter(argc - 1, argv + 1);
    if (!strcmp(cmd, "ledger")) return ol_cli_ledger(argc - 1, argv + 1);
    fprintf(stderr, "openlora: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv) {
    int rc = dispatch(argc, argv);
    /* Output that never arrived (a full disk, a closed file) is a failure, not a success: a
     * script checking the exit status must not take a truncated result for a whole one. */
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "openlora: error writing standard output%s%s\n", errno ? ": " : "",
                errno ? strerror(errno) : "");
        return rc ? rc : 1;
    }
    return rc;
}
