/* base/err.c: error codes, messages, assertions and the log sink. */
#include "base.h"

#include <stdlib.h>
#include <string.h>

const char *ol_strerror(int code) {
    switch (code) {
#define X(name, val, str)                                                                          \
    case val:                                                                                      \
        return str;
        OL_ERRORS(X)
#undef X
    default:
        return "unknown error";
    }
}

int ol_err_set(ol_err *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void ol_err_clear(ol_err *err) {
    if (err) {
        err->code = 0;
        err->msg[0] = 0;
    }
}

void ol_err_prefix(ol_err *err, const char *prefix) {
    size_t pl = strlen(prefix);
    if (!err || !pl ||
        (strncmp(err->msg, prefix, pl) == 0 && (err->msg[pl] == ':' || err->msg[pl] == '/')))
        return; /* already names it (or a file inside it) */
    char tmp[sizeof(err->msg)];
    memcpy(tmp, err->msg, sizeof(tmp));
    int n = snprintf(err->msg, sizeof(err->msg), "%s: ", prefix);
    if (n > 0 && (size_t)n < sizeof(err->msg))
        memcpy(err->msg + n, tmp, sizeof(err->msg) - (size_t)n - 1);
    err->msg[sizeof(err->msg) - 1] = 0;
}

void ol_assert_fail(const char *file, int line, const char *cond) {
    fprintf(stderr, "openlora: assertion failed at %s:%d: %s\n", file, line, cond);
    fflush(stderr);
    abort();
}

static ol_log_level g_log_level = OL_LOG_INFO; /* set once at start-up */

void ol_log_set_level(ol_log_level level) {
    g_log_level = level;
}

void ol_log(ol_log_level level, const char *fmt, ...) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < g_log_level || level >= OL_LOG_LEVEL_COUNT) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "openlora %s: %s\n", names[level], buf);
}
