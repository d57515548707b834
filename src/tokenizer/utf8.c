/* tokenizer/utf8: UTF-8 helpers for the byte-level BPE path. The decoder reproduces
 * llama.cpp's lenient one (FORMATS.md §4: each invalid byte becomes U+FFFD) so that ids match
 * on malformed input; its output is always well-formed enough for PCRE2. */
#include "tokenizer/tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

size_t ol_tok_utf8_encode(uint32_t cp, char *out) {
    uint8_t *o = (uint8_t *)out;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* One code point at s[*i]; invalid -> U+FFFD consuming one byte. Lead bytes are trusted for
 * their length and continuation bytes only for their top two bits, as llama.cpp does. A value
 * above U+10FFFF (llama.cpp throws there) becomes U+FFFD too. */
static uint32_t decode_one(const uint8_t *s, size_t n, size_t *i) {
    size_t p = *i;
    uint8_t b = s[p];
    if (b < 0x80) {
        *i = p + 1;
        return b;
    }
    size_t need = 0;
    uint32_t cp = 0;
    if ((b & 0xE0) == 0xC0)
        need = 2, cp = b & 0x1F;
    else if ((b & 0xF0) == 0xE0)
        need = 3, cp = b & 0x0F;
    else if ((b & 0xF8) == 0xF0)
        need = 4, cp = b & 0x07;
    if (need == 0 || p + need > n) goto bad;
    for (size_t k = 1; k < need; k++) {
        if ((s[p + k] & 0xC0) != 0x80) goto bad;
        cp = (cp << 6) | (s[p + k] & 0x3F);
    }
    if (cp > 0x10FFFF) goto bad;
    *i = p + need;
    return cp;
bad:
    *i = p + 1;
    return 0xFFFD;
}

int ol_tok_utf8_sanitize(const char *text, size_t len, char **out, char **subject,
                         size_t *out_len) {
    *out = *subject = NULL;
    /* Each input byte yields at most 3 output bytes (U+FFFD); a valid sequence keeps its size
     * except overlong forms, which only shrink. */
    size_t cap;
    if (ol_mul_size(len, 3, &cap) || cap > SIZE_MAX - 1) return OL_ENOMEM;
    char *o = malloc(cap + 1), *sub = malloc(cap + 1);
    if (!o || !sub) {
        free(o);
        free(sub);
        return OL_ENOMEM;
    }
    const uint8_t *s = (const uint8_t *)text;
    size_t i = 0, n = 0;
    while (i < len) {
        uint32_t cp = decode_one(s, len, &i);
        size_t k = ol_tok_utf8_encode(cp, o + n);
        if (cp >= 0xD800 && cp <= 0xDFFF)
            ol_tok_utf8_encode(0xE000, sub + n);
        else
            memcpy(sub + n, o + n, k);
        n += k;
    }
    o[n] = sub[n] = 0;
    *out = o;
    *subject = sub;
    *out_len = n;
    return 0;
}
