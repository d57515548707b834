/* sampling/stop.c: the stop-string matcher. Text arrives in chunks (one detokenized piece per
 * token); it is released as soon as no stop string can start in it, held back while its tail
 * is a proper prefix of a stop string, and cut right before the first stop string found. */
#define _GNU_SOURCE
#include "sampling.h"

#include <stdlib.h>
#include <string.h>

int ol_stop_matcher_init(ol_stop_matcher *m, const char *const *stops, int n_stops, ol_err *err) {
    memset(m, 0, sizeof(*m));
    if (n_stops < 0 || n_stops > OL_STOP_MAX_STRINGS || (n_stops > 0 && !stops))
        return ol_err_set(err, OL_EINVAL, "stop: %d stop strings, at most %d allowed", n_stops,
                          OL_STOP_MAX_STRINGS);
    for (int i = 0; i < n_stops; i++) {
        size_t n = stops[i] ? strnlen(stops[i], OL_STOP_MAX_LEN + 1) : 0;
        if (n == 0 || n > OL_STOP_MAX_LEN)
            return ol_err_set(err, OL_EINVAL, "stop: stop string %d is %s (1..%d bytes allowed)", i,
                              n == 0 ? "empty" : "too long", OL_STOP_MAX_LEN);
        memcpy(m->stops[i], stops[i], n);
        m->stop_len[i] = n;
    }
    m->n_stops = n_stops;
    return 0;
}

void ol_stop_matcher_deinit(ol_stop_matcher *m) {
    free(m->buf);
    memset(m, 0, sizeof(*m));
}

/* drop the bytes handed out by the previous call */
static void consume_emitted(ol_stop_matcher *m) {
    if (m->emitted == 0) return;
    memmove(m->buf, m->buf + m->emitted, m->len - m->emitted);
    m->len -= m->emitted;
    m->emitted = 0;
}

/* length of the longest suffix of buf that is a proper prefix of some stop string */
static size_t held_suffix(const ol_stop_matcher *m) {
    size_t hold = 0;
    for (int i = 0; i < m->n_stops; i++) {
        size_t k = m->stop_len[i] - 1;
        if (k > m->len) k = m->len;
        for (; k > hold; k--)
            if (!memcmp(m->buf + m->len - k, m->stops[i], k)) {
                hold = k;
                break;
            }
    }
    return hold;
}

int ol_stop_matcher_feed(ol_stop_matcher *m, const char *chunk, size_t len, const char **emit,
                         size_t *n_emit) {
    *emit = "";
    *n_emit = 0;
    if (m->stopped) return 1;
    if (len > 0 && !chunk) return OL_EINVAL;
    consume_emitted(m);
    if (len > SIZE_MAX / 2 - m->len) return OL_ENOMEM;
    if (m->len + len > m->cap) {
        size_t cap = m->cap * 2 > m->len + len ? m->cap * 2 : m->len + len;
        if (cap < 256) cap = 256;
        char *b = realloc(m->buf, cap);
        if (!b) return OL_ENOMEM;
        m->buf = b;
        m->cap = cap;
    }
    if (len) memcpy(m->buf + m->len, chunk, len);
    m->len += len;
    if (m->len == 0) return 0;

    /* the earliest stop string wins; only text before it is released */
    size_t first = SIZE_MAX;
    for (int i = 0; i < m->n_stops; i++) {
        const char *hit = memmem(m->buf, m->len, m->stops[i], m->stop_len[i]);
        if (hit && (size_t)(hit - m->buf) < first) first = (size_t)(hit - m->buf);
    }
    *emit = m->buf;
    if (first != SIZE_MAX) {
        m->stopped = true;
        *n_emit = first;
        m->emitted = m->len;
        return 1;
    }
    *n_emit = m->len - held_suffix(m);
    m->emitted = *n_emit;
    return 0;
}

void ol_stop_matcher_flush(ol_stop_matcher *m, const char **emit, size_t *n_emit) {
    *emit = "";
    *n_emit = 0;
    if (m->stopped || !m->buf) return;
    consume_emitted(m);
    *emit = m->buf;
    *n_emit = m->len;
    m->emitted = m->len;
}
