/* cli/common.c: option parsing helpers and default-model resolution for the subcommands. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int path_too_long(const char *what, size_t cap) {
    fprintf(stderr, "openlora: the model path from %s is longer than %zu bytes\n", what, cap - 1);
    return -1;
}

int ol_cli_model_path(const char *given, char *buf, size_t cap) {
    if (given) {
        if ((size_t)snprintf(buf, cap, "%s", given) >= cap) return path_too_long("-m", cap);
        return 0;
    }
    const char *env = getenv("OPENLORA_MODEL");
    if (env && *env) {
        if ((size_t)snprintf(buf, cap, "%s", env) >= cap)
            return path_too_long("$OPENLORA_MODEL", cap);
        return 0;
    }
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && *xdg)
        n = snprintf(buf, cap, "%s/openlora/%s", xdg, OL_DEFAULT_MODEL_FILE);
    else
        n = snprintf(buf, cap, "%s/.cache/openlora/%s", home ? home : ".", OL_DEFAULT_MODEL_FILE);
    if ((size_t)n >= cap) return path_too_long("the cache directory", cap);
    struct stat st;
    if (stat(buf, &st) != 0) {
        fprintf(stderr,
                "openlora: no model given (-m) and the default model is not at %s\n"
                "          fetch it with: scripts/fetch_model.sh  (or: make model)\n",
                buf);
        return -1;
    }
    return 0;
}

int ol_cli_parse_int(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "openlora: %s: '%s' is not an integer in [%ld, %ld]\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int ol_cli_parse_float(const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "openlora: %s: '%s' is not a number in [%g, %g]\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int ol_cli_parse_float_gt(const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= lo || v > hi) {
        fprintf(stderr, "openlora: %s: '%s' is not a number in (%g, %g]\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int ol_cli_parse_u64(const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    /* strtoull skips blanks and negates "-3" to 2^64-3, so insist on a leading digit */
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !isdigit((unsigned char)s[0]) || *end) {
        fprintf(stderr, "openlora: %s: '%s' is not a non-negative integer\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

const char *ol_cli_opt(int argc, char **argv, int *i, const char *short_name, const char *long_name,
                       bool *bad) {
    const char *a = argv[*i];
    size_t ln = long_name ? strlen(long_name) : 0;
    if (long_name && !strncmp(a, long_name, ln) && a[ln] == '=') return a + ln + 1;
    if ((short_name && !strcmp(a, short_name)) || (long_name && !strcmp(a, long_name))) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "openlora: option %s needs a value\n", a);
            *bad = true;
            return NULL;
        }
        *i += 1;
        return argv[*i];
    }
    return NULL;
}

int ol_cli_parse_adapter_arg(const char *arg, char *path, size_t cap, float *weight) {
    const char *colon = strrchr(arg, ':');
    size_t n = strlen(arg);
    *weight = 1.0f;
    if (colon && colon[1]) {
        char *end;
        errno = 0;
        double w = strtod(colon + 1, &end);
        if (!errno && *end == 0 && end != colon + 1) {
            if (!isfinite(w) || w < -100 || w > 100) {
                fprintf(stderr, "openlora: --adapter: weight '%s' is not in [-100, 100]\n",
                        colon + 1);
                return -1;
            }
            *weight = (float)w;
            n = (size_t)(colon - arg);
        }
    }
    if (n == 0 || n >= cap) {
        fprintf(stderr, "openlora: --adapter: path is empty or longer than %zu bytes\n", cap - 1);
        return -1;
    }
    memcpy(path, arg, n);
    path[n] = 0;
    return 0;
}
