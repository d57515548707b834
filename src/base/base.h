/* base: errors, logging, time, CPU features, half-float conversion, small helpers and the
 * worker thread pool. Everything in openlora sits on this module; it knows nothing above it. */
#ifndef OL_BASE_H
#define OL_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>

/* ---- errors ------------------------------------------------------------------------------
 * A call that can fail returns 0 or a negative OL_E* code. Loaders also fill an ol_err with a
 * message naming the file, field and offset. */
#define OL_ERRORS(X)                                                                               \
    X(OK, 0, "success")                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(EIO, -3, "input/output error")                                                               \
    X(EFORMAT, -4, "malformed file")                                                               \
    X(ERANGE, -5, "value out of range")                                                            \
    X(ENOTSUP, -6, "not supported")                                                                \
    X(ENOENT, -7, "not found")                                                                     \
    X(EFULL, -8, "capacity exhausted")                                                             \
    X(EAGAIN, -9, "not ready yet, try again")                                                      \
    X(ECANCELED, -10, "cancelled")

enum {
#define X(name, val, str) OL_##name = val,
    OL_ERRORS(X)
#undef X
};

const char *ol_strerror(int code);

typedef struct ol_err {
    int code;
    char msg[512];
} ol_err;

/* Fill err (may be NULL) with code and a printf-style message; returns code. */
int ol_err_set(ol_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ol_err_clear(ol_err *err);
/* Prefix err's message with "PREFIX: " (e.g. the file name), unless it already starts with it.
 * Does nothing when err is NULL. */
void ol_err_prefix(ol_err *err, const char *prefix);

/* Abort only on bugs: always on, reports file:line. */
#define OL_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) ol_assert_fail(__FILE__, __LINE__, #cond);                                    \
    } while (0)
_Noreturn void ol_assert_fail(const char *file, int line, const char *cond);

/* ---- logging ----------------------------------------------------------------------------- */
typedef enum {
    OL_LOG_DEBUG,
    OL_LOG_INFO,
    OL_LOG_WARN,
    OL_LOG_ERROR,
    OL_LOG_LEVEL_COUNT
} ol_log_level;
void ol_log_set_level(ol_log_level level);
void ol_log(ol_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- time -------------------------------------------------------------------------------- */
uint64_t ol_time_ns(void); /* monotonic */
/* The CLOCK_REALTIME instant ms milliseconds from now, for pthread_cond_timedwait. */
struct timespec ol_deadline_ms(long ms);

/* ---- memory ------------------------------------------------------------------------------ */
/* 64-byte aligned allocation; NULL on failure or size 0 overflow. Free with ol_free_aligned. */
void *ol_alloc_aligned(size_t size);
void ol_free_aligned(void *p);
/* a*b with overflow check: returns 0 and sets *out, or OL_ERANGE. */
static inline int ol_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return OL_ERANGE;
    *out = a * b;
    return 0;
}

/* ---- CPU features (detected once, then read-only) ---------------------------------------- */
enum {
    OL_CPU_AVX2 = 1u << 0,
    OL_CPU_FMA = 1u << 1,
    OL_CPU_F16C = 1u << 2,
    OL_CPU_AVX512F = 1u << 3,
    OL_CPU_AVX512BW = 1u << 4,
    OL_CPU_AVX512VL = 1u << 5,
    OL_CPU_AVX512VNNI = 1u << 6,
    OL_CPU_AVX512BF16 = 1u << 7,
    OL_CPU_AVXVNNI = 1u << 8,
};
unsigned ol_cpu_features(void);
/* Restrict features (tests and benches force a tier); mask is ANDed with what was detected. */
void ol_cpu_features_mask(unsigned mask);
int ol_cpu_n_physical(void); /* online CPUs, at least 1 */

/* ---- half floats ------------------------------------------------------------------------- */
typedef uint16_t ol_f16;
typedef uint16_t ol_bf16;
float ol_f16_to_f32(ol_f16 h);
ol_f16 ol_f32_to_f16(float f); /* round to nearest even */
static inline float ol_bf16_to_f32(ol_bf16 h) {
    union {
        uint32_t u;
        float f;
    } v = {.u = (uint32_t)h << 16};
    return v.f;
}
ol_bf16 ol_f32_to_bf16(float f); /* round to nearest even, NaN kept NaN */

/* ---- thread pool -------------------------------------------------------------------------
 * A fixed set of workers that run one parallel task at a time. ol_pool_run calls
 * fn(ctx, ith, nth) on every thread, the caller being thread 0, and returns when all are done.
 * Workers spin briefly between tasks (kernels are launched back to back during a forward pass)
 * and then sleep. Owned by one thread: ol_pool_run is not reentrant and not thread-safe. */
typedef struct ol_pool ol_pool;
typedef void (*ol_pool_fn)(void *ctx, int ith, int nth);
ol_pool *ol_pool_create(int n_threads, ol_err *err); /* n_threads >= 1, includes the caller */
void ol_pool_destroy(ol_pool *pool);
int ol_pool_n_threads(const ol_pool *pool);
void ol_pool_run(ol_pool *pool, ol_pool_fn fn, void *ctx);
/* Split [0,n) into nth nearly equal parts, aligned to `align` elements; returns part ith. */
void ol_split_range(int64_t n, int64_t align, int ith, int nth, int64_t *begin, int64_t *end);

/* ---- small helpers ----------------------------------------------------------------------- */
#define OL_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define OL_MAX(a, b)    ((a) > (b) ? (a) : (b))
#define OL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Map a regular file read-only. An empty file gives *data pointing at a static empty
 * string (nothing to unmap). 0, or OL_EIO with err naming the path. Release with
 * ol_file_unmap(*data, *size). */
int ol_file_map(const char *path, const void **data, size_t *size, ol_err *err);
void ol_file_unmap(const void *data, size_t size);

/* Read a whole file into a malloc'ed, NUL-terminated buffer. Caller frees. */
char *ol_read_file(const char *path, size_t *size_out, ol_err *err);

/* FNV-1a 64-bit hash. */
uint64_t ol_hash_fnv1a(const void *data, size_t n, uint64_t seed);

#endif
