/* tests/test.h: the minimal check harness every unit test uses. A failing check prints both
 * values and the location, and the test keeps going; main returns test_done(). */
#ifndef OL_TEST_H
#define OL_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_n_checks, test_n_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        test_n_checks++;                                                                           \
        if (!(cond)) {                                                                             \
            test_n_failed++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        test_n_checks++;                                                                           \
        if (va_ != vb_) {                                                                          \
            test_n_failed++;                                                                       \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld vs %lld\n", __FILE__, __LINE__, #a, #b,  \
                    va_, vb_);                                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double va_ = (double)(a), vb_ = (double)(b);                                               \
        test_n_checks++;                                                                           \
        if (!(fabs(va_ - vb_) <= (tol))) {                                                         \
            test_n_failed++;                                                                       \
            fprintf(stderr, "%s:%d: |%s - %s| <= %g failed: %.9g vs %.9g\n", __FILE__, __LINE__,   \
                    #a, #b, (double)(tol), va_, vb_);                                              \
        }                                                                                          \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                            \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        test_n_checks++;                                                                           \
        if (!h_ || !strstr(h_, n_)) {                                                              \
            test_n_failed++;                                                                       \
            fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__,             \
                    h_ ? h_ : "(null)", n_);                                                       \
        }                                                                                          \
    } while (0)

static inline int test_done(const char *name) {
    printf("%s: %d checks, %d failed\n", name, test_n_checks, test_n_failed);
    return test_n_failed ? 1 : 0;
}

/* Path of a file under tests/data (OL_TEST_DATA), in a static buffer. */
static inline const char *test_data(const char *rel) {
    static char buf[4096];
    const char *d = getenv("OL_TEST_DATA");
    snprintf(buf, sizeof(buf), "%s/%s", d ? d : "tests/data", rel);
    return buf;
}

#endif
