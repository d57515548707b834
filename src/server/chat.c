/* server/chat.c: the three chat formats openlora renders natively, byte-for-byte what the
 * models' own Jinja templates produce with add_generation_prompt=True and no BOS (checked by
 * tests/unit/server/test_chat.c against jinja2). Detection looks for each format's turn-start
 * marker in the template text; it never interprets Jinja. */
#include "server/chat.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* name, turn-start marker that identifies the template, end-of-turn string */
#define OL_CHAT_FORMATS(X)                                                                         \
    X(GEMMA, "gemma", "<start_of_turn>", "<end_of_turn>")                                          \
    X(LLAMA3, "llama3", "<|start_header_id|>", "<|eot_id|>")                                       \
    X(CHATML, "chatml", "<|im_start|>", "<|im_end|>")

static const struct {
    const char *name, *marker, *turn_end;
} formats[OL_CHAT_FORMAT_COUNT] = {
#define X(e, name, marker, end) [OL_CHAT_##e] = {name, marker, end},
    OL_CHAT_FORMATS(X)
#undef X
};

#define ACCEPTED "gemma, llama3, chatml"

const char *ol_chat_format_name(ol_chat_format f) {
    return (unsigned)f < OL_CHAT_FORMAT_COUNT ? formats[f].name : "unknown";
}

const char *ol_chat_turn_end(ol_chat_format f) {
    return (unsigned)f < OL_CHAT_FORMAT_COUNT ? formats[f].turn_end : NULL;
}

int ol_chat_format_parse(const char *name, ol_chat_format *out) {
    if (!name || !out) return OL_EINVAL;
    for (int f = 0; f < OL_CHAT_FORMAT_COUNT; f++) {
        if (strcasecmp(name, formats[f].name) == 0) {
            *out = (ol_chat_format)f;
            return 0;
        }
    }
    return OL_EINVAL;
}

int ol_chat_format_detect(const char *jinja, ol_chat_format *out, ol_err *err) {
    if (!out) return ol_err_set(err, OL_EINVAL, "chat template: no output");
    if (!jinja)
        return ol_err_set(err, OL_ENOTSUP,
                          "the model has no chat template (tokenizer.chat_template); "
                          "pass --chat-template with one of: " ACCEPTED);
    int found = -1, n_found = 0;
    for (int f = 0; f < OL_CHAT_FORMAT_COUNT; f++) {
        if (strstr(jinja, formats[f].marker)) {
            if (found < 0) found = f;
            n_found++;
        }
    }
    if (n_found == 1) {
        *out = (ol_chat_format)found;
        return 0;
    }
    return ol_err_set(err, OL_ENOTSUP,
                      "%s chat template (%s); pass --chat-template with one of: " ACCEPTED,
                      n_found ? "ambiguous" : "unknown",
                      n_found ? "it has the markers of several formats"
                              : "no <start_of_turn>, <|start_header_id|> or <|im_start|> marker");
}

/* ---- whitespace trimming as Jinja's `trim` filter (Python str.strip()) -------------------- */

/* Python's str.isspace(): Unicode White_Space plus the ASCII separators 0x1C..0x1F. */
static int is_py_space(uint32_t c) {
    if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return 1;
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Decode one UTF-8 character at s[0..n): its length, or 0 if malformed (such bytes are never
 * whitespace, so trimming stops at them). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (len == 0 || len > n || s[0] > 0xF4) return 0;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

typedef struct span {
    const char *p;
    size_t n;
} span;

static span trim(const char *s) {
    const unsigned char *b = (const unsigned char *)s, *e = b + strlen(s);
    uint32_t c;
    size_t k;
    while ((k = utf8_decode(b, (size_t)(e - b), &c)) && is_py_space(c)) b += k;
    while (e > b) {
        const unsigned char *q = e - 1;
        while (q > b && e - q < 4 && (*q & 0xC0) == 0x80) q--;
        k = utf8_decode(q, (size_t)(e - q), &c);
        if (k != (size_t)(e - q) || !is_py_space(c)) break;
        e = q;
    }
    return (span){(const char *)b, (size_t)(e - b)};
}

/* ---- rendering: one pass to size the output, one to write it ------------------------------ */

typedef struct out {
    char *buf; /* NULL while sizing */
    size_t len;
    int overflow;
} out;

static void put_n(out *o, const char *p, size_t n) {
    if (o->len > SIZE_MAX - 1 - n) {
        o->overflow = 1;
        return;
    }
    if (o->buf) memcpy(o->buf + o->len, p, n);
    o->len += n;
}
static void put(out *o, const char *s) {
    put_n(o, s, strlen(s));
}
static void put_span(out *o, span s) {
    put_n(o, s.p, s.n);
}

enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT };

static int role_of(const char *r) {
    if (strcmp(r, "user") == 0) return ROLE_USER;
    if (strcmp(r, "assistant") == 0) return ROLE_ASSISTANT;
    if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0) return ROLE_SYSTEM;
    return -1;
}

static const char *const role_names[] = {"system", "user", "assistant"};

/* Gemma 3: roles user and model; a leading system message becomes the start of the first
 * user turn followed by "\n\n" (not trimmed, as the template does); contents are trimmed.
 * Where Gemma's template would raise (roles not alternating) we still render: a system
 * message elsewhere is a user turn, and a leading system message not followed by a user
 * message becomes a user turn of its own. */
static void render_gemma(out *o, const ol_chat_message *msgs, int n) {
    int i = 0;
    const char *prefix = NULL;
    if (role_of(msgs[0].role) == ROLE_SYSTEM) {
        prefix = msgs[0].content;
        i = 1;
        if (i == n || role_of(msgs[i].role) == ROLE_ASSISTANT) {
            put(o, "<start_of_turn>user\n");
            put_span(o, trim(prefix));
            put(o, "<end_of_turn>\n");
            prefix = NULL;
        }
    }
    for (; i < n; i++) {
        int assistant = role_of(msgs[i].role) == ROLE_ASSISTANT;
        put(o, assistant ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
        if (prefix) {
            put(o, prefix);
            put(o, "\n\n");
            prefix = NULL;
        }
        put_span(o, trim(msgs[i].content));
        put(o, "<end_of_turn>\n");
    }
    put(o, "<start_of_turn>model\n");
}

/* Llama 3: every message in its own header block, content trimmed. */
static void render_llama3(out *o, const ol_chat_message *msgs, int n) {
    for (int i = 0; i < n; i++) {
        put(o, "<|start_header_id|>");
        put(o, role_names[role_of(msgs[i].role)]);
        put(o, "<|end_header_id|>\n\n");
        put_span(o, trim(msgs[i].content));
        put(o, "<|eot_id|>");
    }
    put(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* ChatML: content verbatim. */
static void render_chatml(out *o, const ol_chat_message *msgs, int n) {
    for (int i = 0; i < n; i++) {
        put(o, "<|im_start|>");
        put(o, role_names[role_of(msgs[i].role)]);
        put(o, "\n");
        put(o, msgs[i].content);
        put(o, "<|im_end|>\n");
    }
    put(o, "<|im_start|>assistant\n");
}

static void render(ol_chat_format f, out *o, const ol_chat_message *msgs, int n) {
    switch (f) {
    case OL_CHAT_GEMMA:
        render_gemma(o, msgs, n);
        break;
    case OL_CHAT_LLAMA3:
        render_llama3(o, msgs, n);
        break;
    default:
        render_chatml(o, msgs, n);
        break;
    }
}

char *ol_chat_render(ol_chat_format f, const ol_chat_message *msgs, int n_msgs, ol_err *err) {
    if ((unsigned)f >= OL_CHAT_FORMAT_COUNT) {
        ol_err_set(err, OL_EINVAL, "chat: unknown format %d", (int)f);
        return NULL;
    }
    if (n_msgs <= 0 || !msgs) {
        ol_err_set(err, OL_EINVAL, "chat: no messages");
        return NULL;
    }
    for (int i = 0; i < n_msgs; i++) {
        if (!msgs[i].role) {
            ol_err_set(err, OL_EINVAL, "chat: message %d has no role", i);
            return NULL;
        }
        if (role_of(msgs[i].role) < 0) {
            ol_err_set(err, OL_EINVAL,
                       "chat: message %d has unknown role '%.32s' (expected system, developer, "
                       "user or assistant)",
                       i, msgs[i].role);
            return NULL;
        }
        if (!msgs[i].content) {
            ol_err_set(err, OL_EINVAL, "chat: message %d has no content", i);
            return NULL;
        }
    }
    out o = {0};
    render(f, &o, msgs, n_msgs);
    char *buf = o.overflow ? NULL : malloc(o.len + 1);
    if (!buf) {
        ol_err_set(err, OL_ENOMEM, "chat: out of memory rendering %d messages", n_msgs);
        return NULL;
    }
    size_t want = o.len;
    o = (out){.buf = buf};
    render(f, &o, msgs, n_msgs);
    OL_ASSERT(o.len == want);
    buf[o.len] = '\0';
    return buf;
}
