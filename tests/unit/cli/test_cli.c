/* tests/unit/cli/test_cli.c: end-to-end test of the `openlora` binary ($OL_BIN) as a user runs
 * it: help and usage errors, refusal of bad option values, missing / hostile / truncated model
 * files, `model inspect`, and, with the real default model, generate (determinism, seeds, stop
 * strings, -f, context limits, odd prompts) and bench --json. Each run is fork/exec with stdout,
 * stderr and the exit status captured separately and a 120 s timeout. The real-model part
 * skips without the model unless OL_REQUIRE_MODEL=1. */
#define _GNU_SOURCE
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RUN_TIMEOUT_S 120
#define MAX_ARGS      64
#define MAX_CAPTURE   (64u << 20)

typedef struct {
    int code; /* exit status, or -1 when killed by a signal or the run failed */
    int sig;  /* the signal that ended it, 0 if none */
    bool timed_out;
    char *out, *err; /* NUL-terminated captures (may hold other NULs) */
    size_t n_out, n_err;
} run_result;

static const char *g_bin;
static const char *g_stdout_file; /* when set, the child's stdout goes there, not to a pipe */
static char g_tmp[64];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_free(run_result *r) {
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

/* Append what fd has to *buf; returns false at EOF or error. */
static bool drain(int fd, char **buf, size_t *n, size_t *cap) {
    char chunk[65536];
    ssize_t k = read(fd, chunk, sizeof(chunk));
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (k <= 0) return false;
    if (*n + (size_t)k + 1 > *cap) {
        size_t nc = (*n + (size_t)k + 1) * 2;
        char *nb = realloc(*buf, nc);
        if (!nb) return false;
        *buf = nb, *cap = nc;
    }
    if (*n + (size_t)k < MAX_CAPTURE) {
        memcpy(*buf + *n, chunk, (size_t)k);
        *n += (size_t)k;
    }
    (*buf)[*n] = 0;
    return true;
}

/* Child side: env entries "K=V" set K, "K" alone unsets it; stdin is /dev/null. */
static void child_exec(char *const *argv, const char *const *env, int fd_out, int fd_err) {
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (g_stdout_file) fd_out = open(g_stdout_file, O_WRONLY | O_CLOEXEC);
    if (null_fd < 0 || fd_out < 0 || dup2(null_fd, 0) < 0 || dup2(fd_out, 1) < 0 ||
        dup2(fd_err, 2) < 0)
        _exit(126);
    for (int i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        if (eq) {
            char key[256];
            snprintf(key, sizeof(key), "%.*s", (int)(eq - env[i]), env[i]);
            setenv(key, eq + 1, 1);
        } else {
            unsetenv(env[i]);
        }
    }
    execv(g_bin, argv);
    _exit(127);
}

/* Run g_bin with the NULL-terminated arguments args (after argv[0]) and environment changes
 * env (may be NULL); fills r, which the caller frees with run_free. */
static void run_env(run_result *r, const char *const *env, const char *const *args) {
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)g_bin;
    for (int i = 0; args[i] && argc <= MAX_ARGS; i++) argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    memset(r, 0, sizeof(*r));
    r->code = -1;
    size_t cap_out = 4096, cap_err = 4096;
    r->out = calloc(cap_out, 1);
    r->err = calloc(cap_err, 1);
    int po[2], pe[2];
    if (!r->out || !r->err || pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
        fprintf(stderr, "test_cli: cannot set up a run: %s\n", strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid == 0) child_exec(argv, env, po[1], pe[1]);
    close(po[1]);
    close(pe[1]);
    double deadline = now_s() + RUN_TIMEOUT_S;
    bool open_out = pid > 0, open_err = pid > 0;
    while (open_out || open_err) {
        struct pollfd p[2] = {{.fd = open_out ? po[0] : -1, .events = POLLIN},
                              {.fd = open_err ? pe[0] : -1, .events = POLLIN}};
        int left_ms = (int)((deadline - now_s()) * 1000);
        if (left_ms <= 0) {
            r->timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        int k = poll(p, 2, left_ms);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) break;
        if (p[0].revents && !drain(po[0], &r->out, &r->n_out, &cap_out)) open_out = false;
        if (p[1].revents && !drain(pe[0], &r->err, &r->n_err, &cap_err)) open_err = false;
    }
    close(po[0]);
    close(pe[0]);
    int st = 0;
    if (pid > 0 && waitpid(pid, &st, 0) == pid) {
        if (WIFEXITED(st)) r->code = WEXITSTATUS(st);
        if (WIFSIGNALED(st)) r->sig = WTERMSIG(st);
    }
    if (r->sig || r->timed_out || r->code == 126 || r->code == 127) {
        fprintf(stderr, "test_cli: run of");
        for (int i = 0; i < argc; i++) fprintf(stderr, " '%s'", argv[i]);
        fprintf(stderr, " ended: code %d, signal %d, timed out %d; stderr:\n%s\n", r->code, r->sig,
                (int)r->timed_out, r->err);
    }
}

#define RUN(r, ...)          run_env((r), NULL, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_ENV(r, env, ...) run_env((r), (env), (const char *const[]){__VA_ARGS__, NULL})

/* Checks every run gets: it ended by itself (no signal, no timeout) and no sanitizer spoke. */
static void check_clean(const run_result *r) {
    CHECK_EQ_INT(r->sig, 0);
    CHECK(!r->timed_out);
    CHECK(!strstr(r->err, "Sanitizer"));
    CHECK(!strstr(r->err, "runtime error"));
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. Returns the offset of
 * the first bad byte, or -1 when s is valid. */
static long utf8_bad_at(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t len = c < 0x80                 ? 1
                     : c >= 0xC2 && c <= 0xDF ? 2
                     : (c & 0xF0) == 0xE0     ? 3
                     : c >= 0xF0 && c <= 0xF4 ? 4
                                              : 0;
        if (!len || i + len > n) return (long)i;
        for (size_t k = 1; k < len; k++)
            if ((u[i + k] & 0xC0) != 0x80) return (long)i;
        if (c == 0xE0 && u[i + 1] < 0xA0) return (long)i;  /* overlong */
        if (c == 0xED && u[i + 1] >= 0xA0) return (long)i; /* surrogate */
        if (c == 0xF0 && u[i + 1] < 0x90) return (long)i;  /* overlong */
        if (c == 0xF4 && u[i + 1] >= 0x90) return (long)i; /* > U+10FFFF */
        i += len;
    }
    return -1;
}

#define CHECK_UTF8(r)                                                                              \
    do {                                                                                           \
        long bad_ = utf8_bad_at((r)->out, (r)->n_out);                                             \
        if (bad_ >= 0) fprintf(stderr, "invalid UTF-8 at byte %ld of '%s'\n", bad_, (r)->out);     \
        CHECK_EQ_INT(bad_, -1);                                                                    \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        test_n_checks++;                                                                           \
        if (strcmp(sa_, sb_)) {                                                                    \
            test_n_failed++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed:\n  '%s'\n  vs\n  '%s'\n", __FILE__, __LINE__, \
                    #a, #b, sa_, sb_);                                                             \
        }                                                                                          \
    } while (0)

/* Two runs printed the same bytes (stdout may hold NULs: byte tokens like <0x00> exist). */
#define CHECK_SAME_OUT(a, b)                                                                       \
    do {                                                                                           \
        const run_result *ra_ = (a), *rb_ = (b);                                                   \
        test_n_checks++;                                                                           \
        if (ra_->n_out != rb_->n_out || memcmp(ra_->out, rb_->out, ra_->n_out)) {                  \
            test_n_failed++;                                                                       \
            fprintf(stderr, "%s:%d: outputs differ (%zu vs %zu bytes):\n  '%s'\n  vs\n  '%s'\n",   \
                    __FILE__, __LINE__, ra_->n_out, rb_->n_out, ra_->out, rb_->out);               \
        }                                                                                          \
    } while (0)

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ_INT(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *read_whole(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) len = 0;
    fclose(f);
    if (b) b[len] = 0;
    *n = (size_t)len;
    return b;
}

static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", g_tmp, name);
    return buf[k];
}

/* ---- help, version, usage errors ---- */

static void test_help(void) {
    run_result r;
    RUN(&r, "--help");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "usage: openlora <command>");
    CHECK_STR_CONTAINS(r.out, "generate");
    CHECK_STR_CONTAINS(r.out, "model inspect");
    CHECK_EQ_INT(r.n_err, 0);
    run_free(&r);

    if (access("/dev/full", W_OK) == 0) {
        g_stdout_file = "/dev/full";
        RUN(&r, "--help");
        g_stdout_file = NULL;
        check_clean(&r);
        CHECK_EQ_INT(r.code, 1);
        CHECK_STR_CONTAINS(r.err, "error writing standard output");
        run_free(&r);
    }

    RUN(&r, "--version");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 0);
    CHECK(!strncmp(r.out, "openlora ", 9));
    run_free(&r);

    static const char *const cmds[][4] = {{"generate", "--help", NULL},
                                          {"generate", "-h", NULL},
                                          {"bench", "--help", NULL},
                                          {"model", "--help", NULL},
                                          {"model", "inspect", "--help"}};
    static const char *const want[] = {"usage: openlora generate", "usage: openlora generate",
                                       "usage: openlora bench", "usage: openlora model inspect",
                                       "usage: openlora model inspect"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        run_env(&r, NULL, cmds[i]);
        check_clean(&r);
        CHECK_EQ_INT(r.code, 0);
        CHECK_STR_CONTAINS(r.out, want[i]);
        CHECK_EQ_INT(r.n_err, 0);
        run_free(&r);
    }
    /* every option the generate help promises is accepted by the parser (with --help after
     * it, so nothing runs): the help and the parser agree */
    RUN(&r, "generate", "--help");
    /* clang-format off */
    static const char *const gen_opts[] = {
        "--model", "--prompt", "--file", "--n-predict", "--ctx-size", "--threads",
        "--batch-size", "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty",
        "--repeat-last-n", "--presence-penalty", "--frequency-penalty", "--seed", "--stop",
        "--ignore-eos", "--no-display-prompt", "--display-prompt"};
    /* clang-format on */
    for (size_t i = 0; i < sizeof(gen_opts) / sizeof(gen_opts[0]); i++) {
        CHECK_STR_CONTAINS(r.out, gen_opts[i]);
        bool flag = !strcmp(gen_opts[i], "--ignore-eos") || strstr(gen_opts[i], "display");
        run_result q;
        if (flag)
            RUN(&q, "generate", gen_opts[i], "--help");
        else
            RUN(&q, "generate", gen_opts[i], "1", "--help");
        check_clean(&q);
        if (q.code != 0) fprintf(stderr, "option %s: %s\n", gen_opts[i], q.err);
        CHECK_EQ_INT(q.code, 0);
        run_free(&q);
    }
    run_free(&r);
}

static void test_usage_errors(void) {
    run_result r;
    RUN(&r, NULL); /* no arguments at all */
    check_clean(&r);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "usage: openlora");
    CHECK_EQ_INT(r.n_out, 0);
    run_free(&r);

    static const char *const bad[][5] = {{"frobnicate", NULL, NULL, NULL},
                                         {"generate", "--bogus", NULL, NULL},
                                         {"generate", "-p", "x", "--tmep=1"},
                                         {"bench", "--bogus", NULL, NULL},
                                         {"model", NULL, NULL, NULL},
                                         {"model", "frob", NULL, NULL},
                                         {"model", "inspect", NULL, NULL},
                                         {"model", "inspect", "--bogus", NULL},
                                         {"model", "inspect", "a.gguf", "b.gguf"}};
    static const char *const want[] = {
        "unknown command 'frobnicate'",  "unknown option '--bogus'",
        "unknown option '--tmep=1'",     "unknown option '--bogus'",
        "usage: openlora model",         "unknown model command 'frob'",
        "usage: openlora model inspect", "unexpected argument '--bogus'",
        "unexpected argument 'b.gguf'"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        run_env(&r, NULL, bad[i]);
        check_clean(&r);
        CHECK_EQ_INT(r.code, 2);
        CHECK_STR_CONTAINS(r.err, want[i]);
        CHECK_EQ_INT(r.n_out, 0);
        run_free(&r);
    }
}

/* Bad option values: refused before any model is touched (-m points nowhere, so reaching the
 * loader would give exit 1, not 2), with a message naming the option. */
static void test_bad_values(void) {
    /* clang-format off */
    static const struct {
        const char *want;     /* in the message on stderr */
        const char *args[11]; /* after "generate -m /nonexistent/m.gguf -p x" */
    } cases[] = {
        {"--n-predict: '-1'", {"-n", "-1"}},
        {"--n-predict: 'abc'", {"-n", "abc"}},
        {"--n-predict: ''", {"-n", ""}},
        {"--n-predict: '5x'", {"--n-predict=5x"}},
        {"--temp: 'nan'", {"--temp", "nan"}},
        {"--temp: '-1'", {"--temp", "-1"}},
        {"--temp: 'inf'", {"--temp", "inf"}},
        {"--temp: ''", {"--temp="}},
        {"--top-p: '1.5'", {"--top-p", "1.5"}},
        {"--top-p: '0'", {"--top-p", "0"}},
        {"--top-k: '-2'", {"--top-k", "-2"}},
        {"--min-p: '2'", {"--min-p", "2"}},
        {"--seed: '-3'", {"--seed", "-3"}},
        {"--seed: ' -3'", {"--seed", " -3"}},
        {"--seed: '99999999999999999999999'", {"--seed", "99999999999999999999999"}},
        {"--seed: 18446744073709551615 is reserved", {"--seed", "18446744073709551615"}},
        {"--threads: '0'", {"-t", "0"}},
        {"--threads: '100000'", {"--threads", "100000"}},
        {"--ctx-size: '0'", {"--ctx-size", "0"}},
        {"--batch-size: '0'", {"-b", "0"}},
        {"--repeat-penalty: '-1'", {"--repeat-penalty", "-1"}},
        {"--repeat-penalty: '0'", {"--repeat-penalty", "0"}},
        {"--stop: at most 4", {"--stop", "a", "--stop", "b", "--stop", "c", "--stop", "d",
                               "--stop", "e"}},
        {"--stop: at most 4 non-empty", {"--stop", ""}},
    };
    /* clang-format on */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[16] = {"generate", "-m", "/nonexistent/m.gguf", "-p", "x"};
        int n = 5;
        for (int k = 0; k < 11 && cases[i].args[k]; k++) args[n++] = cases[i].args[k];
        args[n] = NULL;
        run_result r;
        run_env(&r, NULL, args);
        check_clean(&r);
        CHECK_EQ_INT(r.code, 2);
        CHECK_STR_CONTAINS(r.err, cases[i].want);
        CHECK_EQ_INT(r.n_out, 0);
        run_free(&r);
    }

    /* a value missing at the end of argv, for several options */
    static const char *const last[] = {"-n", "-m", "-p", "--stop", "--temp", "-f", "--seed"};
    for (size_t i = 0; i < sizeof(last) / sizeof(last[0]); i++) {
        run_result r;
        if (!strcmp(last[i], "-p"))
            RUN(&r, "generate", "-m", "/nonexistent/m.gguf", last[i]);
        else
            RUN(&r, "generate", "-m", "/nonexistent/m.gguf", "-p", "x", last[i]);
        check_clean(&r);
        CHECK_EQ_INT(r.code, 2);
        char want_msg[64];
        snprintf(want_msg, sizeof(want_msg), "option %s needs a value", last[i]);
        CHECK_STR_CONTAINS(r.err, want_msg);
        run_free(&r);
    }
    run_result r;
    RUN(&r, "bench", "-m", "/nonexistent/m.gguf", "--pp");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "option --pp needs a value");
    run_free(&r);
    RUN(&r, "bench", "-m", "/nonexistent/m.gguf", "--reps", "0");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--reps: '0'");
    run_free(&r);
    RUN(&r, "bench", "-m", "/nonexistent/m.gguf", "--tg", "-5");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "--tg: '-5'");
    run_free(&r);

    /* prompt sources: both -p and -f, or neither */
    RUN(&r, "generate", "-m", "/nonexistent/m.gguf", "-p", "x", "-f", "/etc/hostname");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "exactly one of -p PROMPT");
    run_free(&r);
    RUN(&r, "generate", "-m", "/nonexistent/m.gguf", "-n", "4");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "exactly one of -p PROMPT");
    run_free(&r);
    RUN(&r, "generate");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 2);
    CHECK_STR_CONTAINS(r.err, "exactly one of -p PROMPT");
    run_free(&r);
}

/* ---- model files the engine must refuse without crashing ---- */

static void check_refused(const run_result *r, const char *path, const char *msg) {
    check_clean(r);
    CHECK_EQ_INT(r->code, 1);
    CHECK_STR_CONTAINS(r->err, path);
    if (msg) CHECK_STR_CONTAINS(r->err, msg);
}

static void test_bad_models(void) {
    run_result r;
    RUN(&r, "generate", "-m", "/nonexistent/dir/model.gguf", "-p", "x");
    check_refused(&r, "/nonexistent/dir/model.gguf", "No such file");
    CHECK_EQ_INT(r.n_out, 0);
    run_free(&r);
    RUN(&r, "bench", "-m", "/nonexistent/dir/model.gguf", "--pp", "4", "--tg", "2");
    check_refused(&r, "/nonexistent/dir/model.gguf", "No such file");
    run_free(&r);
    RUN(&r, "generate", "-m", g_tmp, "-p", "x"); /* a directory */
    check_refused(&r, g_tmp, "not a regular file");
    run_free(&r);
    RUN(&r, "model", "inspect", g_tmp);
    check_refused(&r, g_tmp, "not a regular file");
    run_free(&r);

    /* a prompt file that cannot be read */
    RUN(&r, "generate", "-f", "/nonexistent/prompt.txt", "-m", "/nonexistent/m.gguf");
    check_refused(&r, "/nonexistent/prompt.txt", NULL);
    run_free(&r);
    RUN(&r, "generate", "-f", g_tmp, "-m", "/nonexistent/m.gguf");
    check_refused(&r, g_tmp, NULL);
    run_free(&r);

    /* no -m: $OPENLORA_MODEL, else the cache path, and a hint to fetch the model */
    RUN_ENV(&r, ((const char *const[]){"OPENLORA_MODEL=/nonexistent/env.gguf", NULL}), "generate",
            "-p", "x");
    check_refused(&r, "/nonexistent/env.gguf", NULL);
    run_free(&r);
    RUN_ENV(&r,
            ((const char *const[]){"OPENLORA_MODEL", "XDG_CACHE_HOME=/nonexistent/cache", NULL}),
            "generate", "-p", "x");
    check_refused(&r, "/nonexistent/cache/openlora/", "fetch");
    run_free(&r);

    /* a path longer than the CLI's buffer is refused, not silently cut */
    char *longp = malloc(5001);
    memset(longp, 'a', 5000);
    longp[5000] = 0;
    RUN(&r, "generate", "-m", longp, "-p", "x");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "longer than");
    run_free(&r);
    free(longp);

    /* hostile files: generate, bench and inspect all report the loader's message */
    FILE *cf = fopen(test_data("hostile/cases.txt"), "r");
    CHECK(cf != NULL);
    char line[512];
    int n_cases = 0;
    while (cf && fgets(line, sizeof(line), cf)) {
        char *sp = strchr(line, ' ');
        if (!sp || line[0] == '#') continue;
        *sp = 0;
        char *want = sp + 1;
        want[strcspn(want, "\n")] = 0;
        char path[8192]; /* test_data's 4096 plus the line's 512 */
        snprintf(path, sizeof(path), "%s%s", test_data("hostile/"), line);
        n_cases++;
        bool ok = !strcmp(want, "OK");
        /* ok.gguf is a valid model without a vocabulary: generate stops at the tokenizer */
        RUN(&r, "generate", "-m", path, "-p", "x", "-n", "2");
        check_refused(&r, path, ok ? "tokenizer" : want);
        run_free(&r);
        RUN(&r, "bench", "-m", path, "--pp", "4", "--tg", "2", "--reps", "1");
        if (ok) {
            check_clean(&r);
            CHECK_EQ_INT(r.code, 0);
        } else {
            check_refused(&r, path, want);
        }
        run_free(&r);
        RUN(&r, "model", "inspect", path);
        check_clean(&r);
        CHECK_EQ_INT(r.code, 0);
        CHECK_STR_CONTAINS(r.out, "general.architecture");
        if (ok) {
            CHECK_STR_CONTAINS(r.out, "runnable: yes");
        } else {
            CHECK_STR_CONTAINS(r.out, "runnable: no (");
            CHECK_STR_CONTAINS(r.out, want);
        }
        run_free(&r);
    }
    if (cf) fclose(cf);
    CHECK(n_cases >= 10);

    /* truncated copies of a fixture: inside the tensor data, and inside the header */
    size_t n;
    char *img = read_whole(test_data("models/tiny_llama.gguf"), &n);
    CHECK(img != NULL && n > 4096);
    if (img && n > 4096) {
        static const size_t cuts[] = {0, 3, 100, 1000, 0};
        const char *names[] = {"empty.gguf", "magic.gguf", "hdr.gguf", "tensors.gguf", "half.gguf"};
        for (int i = 0; i < 5; i++) {
            const char *p = tmp_path(names[i]);
            write_file(p, img, i == 4 ? n / 2 : cuts[i]);
            RUN(&r, "generate", "-m", p, "-p", "x", "-n", "1");
            check_refused(&r, p, "gguf: ");
            run_free(&r);
            RUN(&r, "model", "inspect", p);
            check_refused(&r, p, "gguf: ");
            run_free(&r);
        }
        free(img);
    }

    /* not GGUF at all */
    const char *txt = tmp_path("notes.gguf");
    write_file(txt, "hello, this is not a model\n", 27);
    RUN(&r, "model", "inspect", txt);
    check_refused(&r, txt, "not a GGUF");
    CHECK_EQ_INT(r.n_out, 0);
    run_free(&r);
    RUN(&r, "generate", "-m", txt, "-p", "x");
    check_refused(&r, txt, "not a GGUF");
    run_free(&r);
    RUN(&r, "model", "inspect", "/nonexistent/x.gguf");
    check_refused(&r, "/nonexistent/x.gguf", NULL);
    run_free(&r);
}

/* bench --json printed exactly one line: an object with the documented keys. */
static void check_bench_json(const run_result *r, const char *arch, int pp, int tg) {
    CHECK(r->n_out > 2 && r->out[0] == '{' && !strcmp(r->out + r->n_out - 2, "}\n"));
    const char *nl = strchr(r->out, '\n');
    CHECK_EQ_INT(nl ? nl - r->out : -1, (long)r->n_out - 1);
    char keys[7][64];
    snprintf(keys[0], 64, "{\"model\":\"%s\",", arch);
    snprintf(keys[1], 64, ",\"threads\":");
    snprintf(keys[2], 64, ",\"pp_tokens\":%d,", pp);
    snprintf(keys[3], 64, ",\"pp_tok_s\":");
    snprintf(keys[4], 64, ",\"tg_tokens\":%d,", tg);
    snprintf(keys[5], 64, ",\"tg_tok_s\":");
    snprintf(keys[6], 64, ",\"weight_bytes_per_token\":");
    for (int i = 0; i < 7; i++) CHECK_STR_CONTAINS(r->out, keys[i]);
}

static void test_inspect_fixtures(void) {
    static const char *const fx[][3] = {{"models/tiny_llama.gguf", "llama", "blk.1.ffn_up.weight"},
                                        {"models/tiny_llama_q4_k.gguf", "llama", "Q4_K"},
                                        {"models/tiny_llama_q8_0.gguf", "llama", "Q8_0"},
                                        {"models/tiny_qwen2.gguf", "qwen2", "attn_q.bias"},
                                        {"models/tiny_gemma3.gguf", "gemma3", "attn_q_norm"}};
    for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s", test_data(fx[i][0]));
        run_result r;
        RUN(&r, "model", "inspect", path);
        check_clean(&r);
        CHECK_EQ_INT(r.code, 0);
        CHECK_STR_CONTAINS(r.out, "\"general.architecture\" string = ");
        CHECK_STR_CONTAINS(r.out, fx[i][1]);
        CHECK_STR_CONTAINS(r.out, "token_embd.weight");
        CHECK_STR_CONTAINS(r.out, fx[i][2]);
        char want[64];
        snprintf(want, sizeof(want), "runnable: yes, arch %s", fx[i][1]);
        CHECK_STR_CONTAINS(r.out, want);
        CHECK_EQ_INT(r.n_err, 0);
        run_free(&r);
    }
    /* the fixtures have no vocabulary: generate says so, bench runs them */
    run_result r;
    char path[4096];
    snprintf(path, sizeof(path), "%s", test_data("models/tiny_qwen2.gguf"));
    RUN(&r, "generate", "-m", path, "-p", "x", "-n", "1");
    check_refused(&r, path, "tokenizer");
    run_free(&r);
    RUN(&r, "bench", "-m", path, "--pp", "8", "--tg", "3", "--reps", "2", "-t", "2", "--json");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 0);
    check_bench_json(&r, "qwen2", 8, 3);
    run_free(&r);
    RUN(&r, "bench", "-m", path, "--pp", "8", "--tg", "0", "--reps", "1");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "tok/s");
    run_free(&r);

    /* --all on a fixture: every tensor listed */
    snprintf(path, sizeof(path), "%s", test_data("models/tiny_gemma3.gguf"));
    RUN(&r, "model", "inspect", "--all", path);
    check_clean(&r);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "blk.3.");
    run_free(&r);
}

/* ---- the real model ---- */

static const char *real_model(void) {
    static char buf[4096];
    const char *names[] = {"OPENLORA_MODEL", "OL_MODEL"};
    for (int i = 0; i < 2; i++) {
        const char *e = getenv(names[i]);
        if (e && *e) return e;
    }
    const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (x && *x)
        snprintf(buf, sizeof(buf), "%s/openlora/gemma-3-270m-q4_k_m.gguf", x);
    else
        snprintf(buf, sizeof(buf), "%s/.cache/openlora/gemma-3-270m-q4_k_m.gguf", h ? h : ".");
    return buf;
}

/* generate with the real model: -m M -n N then extra args; checks a clean exit 0, valid UTF-8
 * on stdout ending in the newline, and the timing line on stderr. */
static void gen(run_result *r, const char *m, const char *n, const char *const *extra) {
    const char *args[32] = {"generate", "-m", m, "-n", n};
    int k = 5;
    for (int i = 0; extra[i] && k < 31; i++) args[k++] = extra[i];
    args[k] = NULL;
    run_env(r, NULL, args);
    check_clean(r);
    if (r->code != 0) fprintf(stderr, "generate failed: %s\n", r->err);
    CHECK_EQ_INT(r->code, 0);
    CHECK_UTF8(r);
    CHECK(r->n_out >= 1 && r->out[r->n_out - 1] == '\n');
    CHECK_STR_CONTAINS(r->err, "tok/s");
}

#define GEN(r, m, n, ...) gen((r), (m), (n), (const char *const[]){__VA_ARGS__, NULL})

/* The prompt length generate reports on stderr ("prompt N tokens"), -1 if absent. */
static int n_prompt_tokens(const run_result *r) {
    const char *p = strstr(r->err, "prompt ");
    int n = -1;
    if (!p || sscanf(p, "prompt %d tokens", &n) != 1) return -1;
    return n;
}

/* A stop string taken from the middle of text (whole UTF-8 characters, 4-8 bytes, no newline),
 * or "" when the text is too short. */
static void pick_stop(const char *text, char *stop, size_t cap) {
    size_t n = strlen(text), at = n / 2;
    stop[0] = 0;
    if (n < 12) return;
    while (at > 0 && ((unsigned char)text[at] & 0xC0) == 0x80) at--;
    size_t len = 0;
    while (at + len < n && len < 6 && text[at + len] != '\n') {
        len++;
        while (at + len < n && ((unsigned char)text[at + len] & 0xC0) == 0x80) len++;
    }
    if (len < 2 || len + 1 > cap) return;
    memcpy(stop, text + at, len);
    stop[len] = 0;
}

/* generate --batch-file: the engine runs the requests concurrently (mixed adapters, a merge,
 * the base) and each result equals `generate` run alone with the same adapters, text for text;
 * a bad line is refused with FILE:LINE. */
static void test_batch_file(const char *m) {
    char french[4096], caps[4096];
    snprintf(french, sizeof(french), "%s", test_data("../../adapters/french"));
    snprintf(caps, sizeof(caps), "%s", test_data("../../adapters/caps"));
    const char *q[3] = {"<start_of_turn>user\nWhat is the capital of Italy?<end_of_turn>\n"
                        "<start_of_turn>model\n",
                        "<start_of_turn>user\nName a fruit.<end_of_turn>\n<start_of_turn>model\n",
                        "The capital of France is"};
    const char *qj[3] = {"<start_of_turn>user\\nWhat is the capital of Italy?<end_of_turn>\\n"
                         "<start_of_turn>model\\n",
                         "<start_of_turn>user\\nName a fruit.<end_of_turn>\\n<start_of_turn>"
                         "model\\n",
                         "The capital of France is"};
    /* request i: prompt q[i % 3]; adapters: none, french, caps, french:0.5 + caps:0.5 */
    char line[8192], *body = NULL;
    size_t nb = 0;
    FILE *f = open_memstream(&body, &nb);
    for (int i = 0; i < 6; i++) {
        char ads[8300] = "";
        if (i % 4 == 1) snprintf(ads, sizeof(ads), ", \"adapters\": [\"%s\"]", french);
        if (i % 4 == 2) snprintf(ads, sizeof(ads), ", \"adapters\": [\"%s\"]", caps);
        if (i % 4 == 3)
            snprintf(ads, sizeof(ads), ", \"adapters\": [\"%s:0.5\", \"%s:0.5\"]", french, caps);
        snprintf(line, sizeof(line), "{\"prompt\": \"%s\", \"max_tokens\": 12%s}\n", qj[i % 3],
                 ads);
        fputs(line, f);
    }
    fclose(f);
    const char *bf = tmp_path("batch.jsonl");
    write_file(bf, body, nb);
    free(body);
    run_result r, g;
    RUN(&r, "generate", "-m", m, "--batch-file", bf, "--temp", "0", "-t", "2");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 0);
    CHECK_UTF8(&r);
    CHECK_STR_CONTAINS(r.err, "6 requests (0 failed)");
    for (int i = 0; i < 6; i++) {
        char head[64];
        snprintf(head, sizeof(head), "=== request %d", i + 1);
        const char *at = strstr(r.out, head);
        CHECK(at != NULL);
        if (!at) continue;
        at = strstr(at, " ===\n");
        if (!at) continue;
        at += 5;
        const char *end = strstr(at, "\n=== request ");
        size_t n = end ? (size_t)(end - at) : strlen(at) - 1; /* text, without its newline */
        char a1[8300], a2[8300];
        snprintf(a1, sizeof(a1), "%s:0.5", french);
        snprintf(a2, sizeof(a2), "%s:0.5", caps);
        switch (i % 4) {
        case 0:
            GEN(&g, m, "12", "-p", q[i % 3], "--temp", "0");
            break;
        case 1:
            GEN(&g, m, "12", "-p", q[i % 3], "--temp", "0", "--adapter", french);
            break;
        case 2:
            GEN(&g, m, "12", "-p", q[i % 3], "--temp", "0", "--adapter", caps);
            break;
        default:
            GEN(&g, m, "12", "-p", q[i % 3], "--temp", "0", "--adapter", a1, "--adapter", a2);
            break;
        }
        const bool same = g.n_out == n + 1 && !memcmp(g.out, at, n);
        if (!same)
            printf("batch request %d: '%.*s' vs generate alone: '%s'\n", i + 1, (int)n, at, g.out);
        CHECK(same);
        run_free(&g);
    }
    run_free(&r);
    /* a bad line */
    const char *bad1 = "{\"prompt\": \"x\"}\n{\"prompt\": 5}\n";
    write_file(bf, bad1, strlen(bad1));
    RUN(&r, "generate", "-m", m, "--batch-file", bf);
    check_clean(&r);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "batch.jsonl:2: \"prompt\" must be a non-empty string");
    run_free(&r);
    const char *bad2 = "{\"prompt\": \"x\", \"adapters\": [\"/nonexistent/ad\"]}\n";
    write_file(bf, bad2, strlen(bad2));
    RUN(&r, "generate", "-m", m, "--batch-file", bf);
    check_clean(&r);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.out, "error: ");
    run_free(&r);
}

static void test_real_model(const char *m) {
    run_result r, r2, r3;
    RUN(&r, "model", "inspect", m);
    check_clean(&r);
    CHECK_EQ_INT(r.code, 0);
    CHECK_STR_CONTAINS(r.out, "\"general.architecture\" string = \"gemma3\"");
    CHECK_STR_CONTAINS(r.out, "token_embd.weight");
    CHECK_STR_CONTAINS(r.out, "tokenizer.ggml.tokens");
    CHECK_STR_CONTAINS(r.out, "runnable: yes, arch gemma3");
    run_free(&r);

    /* greedy is deterministic */
    const char *prompt = "The capital of France is";
    GEN(&r, m, "16", "-p", prompt, "--temp", "0");
    GEN(&r2, m, "16", "-p", prompt, "--temp", "0");
    CHECK_SAME_OUT(&r, &r2);
    CHECK(r.n_out > 4); /* some text, not just the newline */
    CHECK_STR_CONTAINS(r.err, "generated 16 tokens");
    run_free(&r2);
    char *greedy = strdup(r.out);
    run_free(&r);

    /* a prefill in chunks of 2 tokens (-b 2) works; its text is not compared with the one-chunk
     * prefill, since kernels need not give bit-equal logits for different batch shapes and a
     * near-tie could flip */
    GEN(&r, m, "4", "-p", prompt, "--temp", "0", "-b", "2");
    CHECK_EQ_INT(n_prompt_tokens(&r), 6);
    CHECK(r.n_out > 1);
    run_free(&r);

    /* --stop: output ends right before the first occurrence of the stop string */
    char stop[32];
    pick_stop(greedy, stop, sizeof(stop));
    CHECK(stop[0] != 0);
    if (stop[0]) {
        GEN(&r, m, "16", "-p", prompt, "--temp", "0", "--stop", stop);
        const char *hit = strstr(greedy, stop);
        char want[1024];
        snprintf(want, sizeof(want), "%.*s\n", (int)(hit - greedy), greedy);
        CHECK_STR_EQ(r.out, want);
        run_free(&r);
    }
    /* a stop string whose head matches the very end of the output: the held-back tail must
     * still come out when generation ends */
    size_t gl = strlen(greedy);
    if (gl > 5) {
        char tail[32];
        size_t at = gl - 4; /* the last 3 bytes before the newline, then bytes never produced */
        while (at > 0 && ((unsigned char)greedy[at] & 0xC0) == 0x80) at--;
        snprintf(tail, sizeof(tail), "%.*s\x01\x02", (int)(gl - 1 - at), greedy + at);
        GEN(&r, m, "16", "-p", prompt, "--temp", "0", "--stop", tail, "--stop", "zzqj");
        CHECK_STR_EQ(r.out, greedy);
        run_free(&r);
    }

    /* --display-prompt echoes the prompt first */
    GEN(&r, m, "2", "-p", prompt, "--temp", "0", "--display-prompt");
    CHECK(!strncmp(r.out, prompt, strlen(prompt)));
    run_free(&r);

    /* seeded sampling: same seed, same text; another seed differs on at least one prompt */
    static const char *const prompts[] = {"Once upon a time", "My favourite food is"};
    int n_diff = 0;
    for (int i = 0; i < 2; i++) {
        GEN(&r, m, "10", "-p", prompts[i], "--seed", "5", "--temp", "0.9");
        GEN(&r2, m, "10", "-p", prompts[i], "--seed", "5", "--temp", "0.9");
        GEN(&r3, m, "10", "-p", prompts[i], "--seed", "6", "--temp", "0.9");
        CHECK_SAME_OUT(&r, &r2);
        n_diff += r.n_out != r3.n_out || memcmp(r.out, r3.out, r.n_out) != 0;
        run_free(&r);
        run_free(&r2);
        run_free(&r3);
    }
    CHECK(n_diff >= 1);

    /* without --seed the seed is fixed, so sampled runs repeat */
    GEN(&r, m, "8", "-p", prompts[0]);
    GEN(&r2, m, "8", "-p", prompts[0]);
    CHECK_SAME_OUT(&r, &r2);
    run_free(&r);
    run_free(&r2);

    /* output that cannot be written is an error: exit 1, not 0 */
    if (access("/dev/full", W_OK) == 0) {
        g_stdout_file = "/dev/full";
        RUN(&r, "generate", "-m", m, "-p", prompt, "-n", "4");
        g_stdout_file = NULL;
        check_clean(&r);
        CHECK_EQ_INT(r.code, 1);
        CHECK_STR_CONTAINS(r.err, "error writing standard output");
        run_free(&r);
    }

    /* -n 0: just the newline */
    GEN(&r, m, "0", "-p", prompt);
    CHECK_STR_EQ(r.out, "\n");
    CHECK_EQ_INT(r.n_out, 1);
    run_free(&r);

    /* -f FILE equals -p with the same bytes (no trailing newline added or dropped) */
    const char *pf = tmp_path("prompt.txt");
    const char *fprompt = "Here is a list of three colours:\n1.";
    write_file(pf, fprompt, strlen(fprompt));
    GEN(&r, m, "6", "-f", pf, "--temp", "0");
    GEN(&r2, m, "6", "-p", fprompt, "--temp", "0");
    CHECK_SAME_OUT(&r, &r2);
    CHECK(n_prompt_tokens(&r) > 5);
    CHECK_EQ_INT(n_prompt_tokens(&r), n_prompt_tokens(&r2));
    run_free(&r);
    run_free(&r2);

    /* context limits: a prompt longer than --ctx-size, and prompt + -n over it */
    RUN(&r, "generate", "-m", m, "-p", prompt, "-c", "3", "-n", "1");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "longer than --ctx-size 3");
    CHECK_EQ_INT(r.n_out, 0);
    run_free(&r);
    RUN(&r, "generate", "-m", m, "-p", prompt, "-c", "8", "-n", "16");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "exceed --ctx-size 8");
    run_free(&r);
    RUN(&r, "generate", "-m", m, "-p", prompt, "-c", "1000000", "-n", "1");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 1);
    CHECK_STR_CONTAINS(r.err, "exceeds the model's 32768");
    run_free(&r);
    /* exactly full context is fine: 6 prompt tokens + 2 */
    GEN(&r, m, "2", "-p", prompt, "-c", "8", "--temp", "0");
    run_free(&r);

    /* hostile prompts: invalid UTF-8 bytes, special-token text, a lone control token */
    GEN(&r, m, "4", "-p", "caf\xc3 \xff\xfe\x80 \xed\xa0\x80 x\xf4\x90\x80\x80");
    run_free(&r);
    GEN(&r, m, "6", "-p", "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
        "--temp", "0");
    run_free(&r);
    GEN(&r, m, "3", "-p", "<end_of_turn><start_of_turn<bos><eos><pad>", "--temp", "0");
    run_free(&r);
    const char *bf = tmp_path("binary.txt");
    write_file(bf, "\x00\x01\xff\n\x00zz", 7);
    GEN(&r, m, "3", "-f", bf);
    run_free(&r);

    /* bench --json: one line, the documented keys */
    RUN(&r, "bench", "-m", m, "--pp", "16", "--tg", "4", "--reps", "1", "--json");
    check_clean(&r);
    CHECK_EQ_INT(r.code, 0);
    check_bench_json(&r, "gemma3", 16, 4);
    run_free(&r);
    free(greedy);
}

int main(void) {
    double t0 = now_s();
    g_bin = getenv("OL_BIN");
    if (!g_bin || !*g_bin) g_bin = "./openlora";
    if (access(g_bin, X_OK)) {
        fprintf(stderr, "test_cli: openlora binary not found at '%s' (set OL_BIN)\n", g_bin);
        CHECK(0);
        return test_done("test_cli");
    }
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/ol_test_cli_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        CHECK(0);
        return test_done("test_cli");
    }
    signal(SIGPIPE, SIG_IGN);

    test_help();
    test_usage_errors();
    test_bad_values();
    test_bad_models();
    test_inspect_fixtures();

    const char *m = real_model();
    if (access(m, R_OK) == 0) {
        test_real_model(m);
        test_batch_file(m);
    } else {
        const char *req = getenv("OL_REQUIRE_MODEL");
        printf("SKIP: real-model checks: no model at %s (run scripts/fetch_model.sh)\n", m);
        if (req && !strcmp(req, "1")) CHECK(0);
    }

    static const char *const tmp_files[] = {"empty.gguf",   "magic.gguf", "hdr.gguf",
                                            "tensors.gguf", "half.gguf",  "notes.gguf",
                                            "prompt.txt",   "binary.txt", "batch.jsonl"};
    for (size_t i = 0; i < sizeof(tmp_files) / sizeof(tmp_files[0]); i++)
        unlink(tmp_path(tmp_files[i]));
    rmdir(g_tmp);
    printf("test_cli: %.1f s\n", now_s() - t0);
    return test_done("test_cli");
}
