/* tests/unit/sampling/test_stop.c: the stop-string matcher fed in awkward chunks: stop strings
 * split across chunks, held-back prefixes released, several and overlapping stop strings,
 * UTF-8 stop strings split inside a code point, and bad stop strings refused. */
#include "sampling/sampling.h"
#include "test.h"

/* Feed chunks; append everything emitted to out; return the final rc of the last feed. */
static int feed_all(ol_stop_matcher *m, const char *const *chunks, int n, char *out) {
    int rc = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        const char *e;
        size_t ne;
        rc = ol_stop_matcher_feed(m, chunks[i], strlen(chunks[i]), &e, &ne);
        strncat(out, e, ne);
    }
    if (rc == 0) {
        const char *e;
        size_t ne;
        ol_stop_matcher_flush(m, &e, &ne);
        strncat(out, e, ne);
    }
    return rc;
}

static void test_stop(void) {
    ol_stop_matcher m;
    ol_err err;
    const char *e;
    size_t ne;
    char out[512];

    /* split across chunks: "Hello</s>" as "Hel", "lo<", "/", "s>tail" */
    const char *stop1[] = {"</s>"};
    CHECK_EQ_INT(ol_stop_matcher_init(&m, stop1, 1, &err), 0);
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "Hel", 3, &e, &ne), 0);
    CHECK_EQ_INT(ne, 3);
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "lo<", 3, &e, &ne), 0);
    CHECK_EQ_INT(ne, 2); /* "<" held back */
    CHECK(memcmp(e, "lo", 2) == 0);
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "/", 1, &e, &ne), 0);
    CHECK_EQ_INT(ne, 0); /* "</" held */
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "s>tail", 6, &e, &ne), 1);
    CHECK_EQ_INT(ne, 0);
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "more", 4, &e, &ne), 1); /* stays stopped */
    CHECK_EQ_INT(ne, 0);
    ol_stop_matcher_flush(&m, &e, &ne);
    CHECK_EQ_INT(ne, 0);
    ol_stop_matcher_deinit(&m);

    /* a held prefix that turns out not to be a stop string is released */
    CHECK_EQ_INT(ol_stop_matcher_init(&m, stop1, 1, &err), 0);
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "a</", 3, &e, &ne), 0);
    CHECK_EQ_INT(ne, 1);
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "b>", 2, &e, &ne), 0);
    CHECK_EQ_INT(ne, 4);
    CHECK(memcmp(e, "</b>", 4) == 0);
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "x</s", 4, &e, &ne), 0);
    CHECK_EQ_INT(ne, 1);
    ol_stop_matcher_flush(&m, &e, &ne); /* end of generation: the held "</s" goes out */
    CHECK_EQ_INT(ne, 3);
    CHECK(memcmp(e, "</s", 3) == 0);
    ol_stop_matcher_deinit(&m);

    /* several stop strings: the earliest occurrence wins */
    const char *stops[] = {"STOP", "\n\n", "User:", "xyz"};
    CHECK_EQ_INT(ol_stop_matcher_init(&m, stops, 4, &err), 0);
    const char *c1[] = {"answer is 4", "2.\n", "\nUser: hi STOP"};
    CHECK_EQ_INT(feed_all(&m, c1, 3, out), 1);
    CHECK(strcmp(out, "answer is 42.") == 0);
    ol_stop_matcher_deinit(&m);
    CHECK_EQ_INT(ol_stop_matcher_init(&m, stops, 4, &err), 0);
    const char *c2[] = {"Us", "er", ":", " ignored"};
    CHECK_EQ_INT(feed_all(&m, c2, 4, out), 1);
    CHECK(strcmp(out, "") == 0);
    ol_stop_matcher_deinit(&m);
    CHECK_EQ_INT(ol_stop_matcher_init(&m, stops, 4, &err), 0);
    const char *c3[] = {"no stop ", "here: xy", "z"};
    CHECK_EQ_INT(feed_all(&m, c3, 3, out), 1);
    CHECK(strcmp(out, "no stop here: ") == 0);
    ol_stop_matcher_deinit(&m);

    /* overlapping prefixes: "abab" vs "abac" and a self-overlapping "aab" */
    const char *ov[] = {"abac", "aab"};
    CHECK_EQ_INT(ol_stop_matcher_init(&m, ov, 2, &err), 0);
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "xaba", 4, &e, &ne), 0);
    CHECK_EQ_INT(ne, 1); /* "aba" could start "abac" */
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "b", 1, &e, &ne), 0);
    CHECK_EQ_INT(ne, 2); /* "abab": only "ab" can still start a stop string */
    CHECK(memcmp(e, "ab", 2) == 0);
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "aa", 2, &e, &ne), 0);
    CHECK_EQ_INT(ne, 2); /* "abaa": "aa" could start "aab" */
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "ab", 2, &e, &ne), 1); /* "aaab" has "aab" at 1 */
    CHECK_EQ_INT(ne, 1);
    CHECK(memcmp(e, "a", 1) == 0);
    ol_stop_matcher_deinit(&m);

    /* UTF-8: a multi-byte stop string split inside a code point */
    const char *u[] = {"\xe3\x80\x82\xe2\x9c\x93"}; /* "。✓" */
    CHECK_EQ_INT(ol_stop_matcher_init(&m, u, 1, &err), 0);
    const char *cu[] = {"caf\xc3\xa9 \xe3", "\x80\x82", "\xe2\x9c", "\x93 rest"};
    CHECK_EQ_INT(feed_all(&m, cu, 4, out), 1);
    CHECK(strcmp(out, "caf\xc3\xa9 ") == 0);
    ol_stop_matcher_deinit(&m);
    CHECK_EQ_INT(ol_stop_matcher_init(&m, u, 1, &err), 0);
    const char *cu2[] = {"\xe3\x80\x82", "\xe3\x80\x82\xe2", "!"};
    CHECK_EQ_INT(feed_all(&m, cu2, 3, out), 0);
    CHECK(strcmp(out, "\xe3\x80\x82\xe3\x80\x82\xe2!") == 0);
    ol_stop_matcher_deinit(&m);

    /* no stop strings: everything passes; a long chunk grows the buffer */
    CHECK_EQ_INT(ol_stop_matcher_init(&m, NULL, 0, &err), 0);
    char big[5000];
    memset(big, 'q', sizeof(big));
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, big, sizeof(big), &e, &ne), 0);
    CHECK_EQ_INT(ne, sizeof(big));
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "", 0, &e, &ne), 0);
    CHECK_EQ_INT(ne, 0);
    ol_stop_matcher_deinit(&m);

    /* a 256-byte stop string at the end of a long stream */
    char longstop[257];
    memset(longstop, 'z', 256);
    longstop[255] = '!';
    longstop[256] = 0;
    const char *ls[] = {longstop};
    CHECK_EQ_INT(ol_stop_matcher_init(&m, ls, 1, &err), 0);
    size_t total = 0;
    for (int i = 0; i < 300; i++) { /* 300 'z' one at a time: 255 of them stay held */
        ol_stop_matcher_feed(&m, "z", 1, &e, &ne);
        total += ne;
    }
    CHECK_EQ_INT(total, 45);
    CHECK_EQ_INT(ol_stop_matcher_feed(&m, "!", 1, &e, &ne), 1);
    CHECK_EQ_INT(ne, 0); /* the 45 'z' before the stop string were already out */
    ol_stop_matcher_deinit(&m);

    /* bad stop strings */
    const char *empty[] = {"ok", ""};
    CHECK_EQ_INT(ol_stop_matcher_init(&m, empty, 2, &err), OL_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "empty");
    char toolong[300];
    memset(toolong, 'a', 299);
    toolong[299] = 0;
    const char *tl[] = {toolong};
    CHECK_EQ_INT(ol_stop_matcher_init(&m, tl, 1, &err), OL_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "too long");
    const char *five[] = {"a", "b", "c", "d", "e"};
    CHECK_EQ_INT(ol_stop_matcher_init(&m, five, 5, &err), OL_EINVAL);
    const char *nul[] = {NULL};
    CHECK_EQ_INT(ol_stop_matcher_init(&m, nul, 1, &err), OL_EINVAL);
    ol_stop_matcher_deinit(&m);
}

int main(void) {
    test_stop();
    return test_done("test_stop");
}
