/* tokenizer/detok: streaming detokenizer. Token pieces may end in the middle of a UTF-8
 * character (byte tokens, byte-level BPE), so bytes run through a strict UTF-8 validator
 * (Unicode Table 3-7: no overlongs, surrogates or values above U+10FFFF): complete characters
 * go out, a partial one is held back, and bytes that cannot be valid come out as U+FFFD. */
#include "tokenizer/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct sink {
    char *out;
    size_t cap, n;
    bool full;
} sink;

static void put(sink *s, const void *p, size_t n) {
    if (s->full || n > s->cap - s->n) {
        s->full = true;
        return;
    }
    memcpy(s->out + s->n, p, n);
    s->n += n;
}

static void put_fffd(sink *s) {
    put(s, "\xEF\xBF\xBD", 3);
}

/* Allowed range of the second byte after lead b (the rest are always 80..BF). */
static void second_range(uint8_t b, uint8_t *lo, uint8_t *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (b == 0xE0)
        *lo = 0xA0;
    else if (b == 0xED)
        *hi = 0x9F;
    else if (b == 0xF0)
        *lo = 0x90;
    else if (b == 0xF4)
        *hi = 0x8F;
}

static void feed(ol_detok *d, uint8_t b, sink *s) {
    for (;;) {
        if (d->n_pend == 0) {
            if (b < 0x80)
                put(s, &b, 1);
            else if (b >= 0xC2 && b <= 0xF4) {
                d->pend[0] = b;
                d->n_pend = 1;
                d->n_need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
            } else
                put_fffd(s);
            return;
        }
        uint8_t lo = 0x80, hi = 0xBF;
        if (d->n_pend == 1) second_range(d->pend[0], &lo, &hi);
        if (b >= lo && b <= hi) {
            d->pend[d->n_pend++] = b;
            if (d->n_pend == d->n_need) {
                put(s, d->pend, (size_t)d->n_pend);
                d->n_pend = 0;
            }
            return;
        }
        put_fffd(s); /* the held sequence can never complete; b starts afresh */
        d->n_pend = 0;
    }
}

void ol_detok_init(ol_detok *d, const ol_tokenizer *tok, bool render_special) {
    memset(d, 0, sizeof(*d));
    d->tok = tok;
    d->render_special = render_special;
}

void ol_detok_deinit(ol_detok *d) {
    memset(d, 0, sizeof(*d));
}

int ol_detok_push(ol_detok *d, int32_t id, char *out, size_t cap) {
    const ol_tokenizer *t = d->tok;
    if (id < 0 || id >= t->n_vocab) return OL_EINVAL;
    char small[256];
    char *buf = t->max_tok_len <= sizeof(small) ? small : malloc(t->max_tok_len);
    if (!buf) return OL_ENOMEM;
    int n = ol_tokenizer_token_to_piece(t, id, buf, t->max_tok_len, d->render_special);
    if (n >= 0) {
        ol_detok saved = *d;
        sink s = {.out = out, .cap = cap};
        for (int i = 0; i < n; i++) feed(d, (uint8_t)buf[i], &s);
        if (s.full) {
            *d = saved;
            n = OL_EFULL;
        } else
            n = (int)s.n;
    }
    if (buf != small) free(buf);
    return n;
}

int ol_detok_flush(ol_detok *d, char *out, size_t cap) {
    if (d->n_pend == 0) return 0;
    if (cap < 3) return OL_EFULL;
    memcpy(out, "\xEF\xBF\xBD", 3);
    d->n_pend = 0;
    return 3;
}
