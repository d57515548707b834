/* cli/cli.h: what the openlora subcommands share: option parsing helpers and the default
 * model location. The CLI uses only public module headers. */
#ifndef OL_CLI_H
#define OL_CLI_H

#include "base/base.h"

#include <stdbool.h>

#define OL_VERSION            "0.1.0"
#define OL_DEFAULT_MODEL_FILE "gemma-3-270m-q4_k_m.gguf"

int ol_cli_generate(int argc, char **argv);
int ol_cli_bench(int argc, char **argv);
int ol_cli_model(int argc, char **argv);
int ol_cli_adapter(int argc, char **argv);
int ol_cli_serve(int argc, char **argv);  /* serve_cmd.c */
int ol_cli_ledger(int argc, char **argv); /* ledger_cmd.c: verify, report, export */
/* generate --batch-file (batch_cmd.c) */
typedef struct ol_sampling_params ol_sampling_params;
int ol_cli_generate_batch(const char *model_path, const char *file, int threads, long n_predict,
                          const ol_sampling_params *sp, const char *const *stops, int n_stops,
                          bool ignore_eos);

/* "PATH" or "PATH:WEIGHT" (WEIGHT a finite number in [-100, 100]); a colon followed by
 * something that is not a number stays part of the path. Prints an error and returns -1. */
int ol_cli_parse_adapter_arg(const char *arg, char *path, size_t cap, float *weight);

/* Resolve -m: the given path, else $OPENLORA_MODEL, else the cache file
 * ${XDG_CACHE_HOME:-~/.cache}/openlora/gemma-3-270m-q4_k_m.gguf. Writes into buf. Returns 0,
 * or prints a clear message (how to fetch the default model) and returns -1. */
int ol_cli_model_path(const char *given, char *buf, size_t cap);

/* Strict number parsing for option values: the whole string must parse and lie in range;
 * otherwise prints "openlora: OPTION: ..." and returns -1. */
int ol_cli_parse_int(const char *opt, const char *s, long lo, long hi, long *out);
int ol_cli_parse_float(const char *opt, const char *s, double lo, double hi, double *out);
/* The same over (lo, hi]: for parameters where lo itself is meaningless (top-p 0). */
int ol_cli_parse_float_gt(const char *opt, const char *s, double lo, double hi, double *out);
int ol_cli_parse_u64(const char *opt, const char *s, uint64_t *out);

/* Option matching: returns the value for "-x V", "--xx V" or "--xx=V" at argv[*i] (advancing
 * *i), NULL if argv[*i] is not this option; prints an error and sets *bad if V is missing. */
const char *ol_cli_opt(int argc, char **argv, int *i, const char *short_name, const char *long_name,
                       bool *bad);

#endif
