/* tests/unit/server/test_chat.c: chat templates. Renders are compared byte-for-byte with the
 * real Jinja templates rendered by jinja2 (tests/data/chat/goldens.json, made by
 * tools/gen_chat_goldens.py); detection runs on the real templates in tests/data/chat; hostile
 * inputs (NULL fields, unknown roles, 10 MB contents, broken UTF-8) get errors, never crashes. */
#include "server/chat.h"
#include "test.h"

#include <jansson.h>
#include <stdint.h>

static char *render(ol_chat_format f, const ol_chat_message *m, int n) {
    ol_err err = {0};
    char *s = ol_chat_render(f, m, n, &err);
    if (!s) fprintf(stderr, "render failed: %s\n", err.msg);
    return s;
}

static void check_same(const char *name, const char *got, const char *want) {
    test_n_checks++;
    if (got && strcmp(got, want) == 0) return;
    test_n_failed++;
    size_t i = 0;
    while (got && got[i] && got[i] == want[i]) i++;
    fprintf(stderr, "%s: render differs at byte %zu\n  got:  '%s'\n  want: '%s'\n", name, i,
            got ? got : "(null)", want);
}

static void test_goldens(void) {
    json_error_t jerr;
    json_t *root = json_load_file(test_data("chat/goldens.json"), 0, &jerr);
    CHECK(root != NULL);
    if (!root) {
        fprintf(stderr, "goldens.json: %s (line %d)\n", jerr.text, jerr.line);
        return;
    }
    json_t *cases = json_object_get(root, "cases");
    CHECK(json_array_size(cases) >= 40);
    int seen[OL_CHAT_FORMAT_COUNT] = {0};
    size_t k;
    json_t *c;
    json_array_foreach(cases, k, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        ol_chat_format f;
        CHECK_EQ_INT(ol_chat_format_parse(json_string_value(json_object_get(c, "format")), &f), 0);
        json_t *msgs = json_object_get(c, "messages");
        int n = (int)json_array_size(msgs);
        ol_chat_message m[16];
        CHECK(n > 0 && n <= 16);
        if (n <= 0 || n > 16) continue;
        for (int i = 0; i < n; i++) {
            json_t *mi = json_array_get(msgs, (size_t)i);
            m[i].role = json_string_value(json_object_get(mi, "role"));
            m[i].content = json_string_value(json_object_get(mi, "content"));
        }
        char *got = render(f, m, n);
        check_same(name, got, json_string_value(json_object_get(c, "expected")));
        free(got);
        seen[f]++;
    }
    for (int f = 0; f < OL_CHAT_FORMAT_COUNT; f++) CHECK(seen[f] >= 10);

    /* Jinja's trim is Python's str.strip(): check every code point against Python's set. */
    json_t *ws = json_object_get(root, "python_whitespace");
    static unsigned char is_ws[0x110000];
    json_array_foreach(ws, k, c) {
        json_int_t cp = json_integer_value(c);
        if (cp > 0 && cp < 0x110000) is_ws[cp] = 1;
    }
    CHECK(json_array_size(ws) >= 25);
    int n_bad = 0;
    for (uint32_t cp = 1; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        char u[5] = {0}, content[16];
        if (cp < 0x80)
            u[0] = (char)cp;
        else if (cp < 0x800)
            u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F));
        else if (cp < 0x10000)
            u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
            u[2] = (char)(0x80 | (cp & 0x3F));
        else
            u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
            u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F));
        snprintf(content, sizeof(content), "%sx%s", u, u);
        ol_chat_message m = {"user", content};
        char *s = ol_chat_render(OL_CHAT_LLAMA3, &m, 1, NULL);
        const char *body = s ? strstr(s, "\n\n") + 2 : "";
        int trimmed = strncmp(body, "x<|eot_id|>", 11) == 0;
        if (!s || trimmed != is_ws[cp]) {
            if (n_bad++ < 5)
                fprintf(stderr, "U+%04X: trimmed %d, python %d\n", cp, trimmed, is_ws[cp]);
        }
        free(s);
    }
    CHECK_EQ_INT(n_bad, 0);
    json_decref(root);
}

static void test_detect(void) {
    static const struct {
        const char *file;
        ol_chat_format f;
    } cases[] = {{"chat/gemma3.jinja", OL_CHAT_GEMMA},
                 {"chat/llama3.jinja", OL_CHAT_LLAMA3},
                 {"chat/llama32.jinja", OL_CHAT_LLAMA3},
                 {"chat/chatml.jinja", OL_CHAT_CHATML},
                 {"chat/qwen2.jinja", OL_CHAT_CHATML}};
    for (size_t i = 0; i < OL_ARRAY_LEN(cases); i++) {
        ol_err err = {0};
        char *t = ol_read_file(test_data(cases[i].file), NULL, &err);
        CHECK(t != NULL);
        ol_chat_format f = OL_CHAT_FORMAT_COUNT;
        CHECK_EQ_INT(ol_chat_format_detect(t, &f, &err), 0);
        CHECK_EQ_INT(f, cases[i].f);
        free(t);
    }
    const char *unknown[] = {
        "", "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}", /* Mistral */
        "{% for m in messages %}<|user|>\n{{ m['content'] }}<|end|>\n{% endfor %}", /* Phi-3 */
        "<start_of_turn> and <|im_start|>",                                         /* ambiguous */
    };
    for (size_t i = 0; i < OL_ARRAY_LEN(unknown); i++) {
        ol_err err = {0};
        ol_chat_format f = OL_CHAT_GEMMA;
        CHECK_EQ_INT(ol_chat_format_detect(unknown[i], &f, &err), OL_ENOTSUP);
        CHECK_EQ_INT(err.code, OL_ENOTSUP);
        CHECK_STR_CONTAINS(err.msg, "--chat-template");
        CHECK_STR_CONTAINS(err.msg, "gemma, llama3, chatml");
    }
    ol_err err = {0};
    ol_chat_format f;
    CHECK_EQ_INT(ol_chat_format_detect(NULL, &f, &err), OL_ENOTSUP);
    CHECK_STR_CONTAINS(err.msg, "no chat template");
    CHECK_STR_CONTAINS(err.msg, "gemma, llama3, chatml");
    CHECK_EQ_INT(ol_chat_format_detect("x", NULL, NULL), OL_EINVAL);

    /* 10 MB of noise without markers, then with one at the very end */
    size_t n = 10u << 20;
    char *big = malloc(n + 32);
    CHECK(big != NULL);
    if (!big) return;
    for (size_t i = 0; i < n; i++) big[i] = (char)('!' + (i * 7919u) % 90);
    big[n] = '\0';
    CHECK_EQ_INT(ol_chat_format_detect(big, &f, NULL), OL_ENOTSUP);
    strcpy(big + n, "<|im_start|>");
    CHECK_EQ_INT(ol_chat_format_detect(big, &f, NULL), 0);
    CHECK_EQ_INT(f, OL_CHAT_CHATML);
    free(big);
}

static void test_names(void) {
    for (int i = 0; i < OL_CHAT_FORMAT_COUNT; i++) {
        ol_chat_format f = OL_CHAT_FORMAT_COUNT;
        CHECK_EQ_INT(ol_chat_format_parse(ol_chat_format_name((ol_chat_format)i), &f), 0);
        CHECK_EQ_INT(f, i);
    }
    ol_chat_format f;
    CHECK_EQ_INT(ol_chat_format_parse("ChatML", &f), 0);
    CHECK_EQ_INT(f, OL_CHAT_CHATML);
    CHECK_EQ_INT(ol_chat_format_parse("jinja", &f), OL_EINVAL);
    CHECK_EQ_INT(ol_chat_format_parse("", &f), OL_EINVAL);
    CHECK_EQ_INT(ol_chat_format_parse(NULL, &f), OL_EINVAL);
    CHECK_EQ_INT(ol_chat_format_parse("gemma", NULL), OL_EINVAL);
    CHECK(strcmp(ol_chat_format_name(OL_CHAT_GEMMA), "gemma") == 0);
    CHECK(strcmp(ol_chat_format_name(OL_CHAT_LLAMA3), "llama3") == 0);
    CHECK(strcmp(ol_chat_format_name(OL_CHAT_CHATML), "chatml") == 0);
    CHECK(strcmp(ol_chat_format_name(OL_CHAT_FORMAT_COUNT), "unknown") == 0);
    CHECK(strcmp(ol_chat_turn_end(OL_CHAT_GEMMA), "<end_of_turn>") == 0);
    CHECK(strcmp(ol_chat_turn_end(OL_CHAT_LLAMA3), "<|eot_id|>") == 0);
    CHECK(strcmp(ol_chat_turn_end(OL_CHAT_CHATML), "<|im_end|>") == 0);
    CHECK(ol_chat_turn_end(OL_CHAT_FORMAT_COUNT) == NULL);
}

/* Conversations Gemma's Jinja template refuses (roles not alternating): we still render. */
static void test_gemma_beyond_jinja(void) {
    static const struct {
        ol_chat_message m[4];
        int n;
        const char *want;
    } cases[] = {
        {{{"system", " S "}}, 1, "<start_of_turn>user\nS<end_of_turn>\n<start_of_turn>model\n"},
        {{{"system", "S"}, {"assistant", "A"}, {"user", "U"}},
         3,
         "<start_of_turn>user\nS<end_of_turn>\n<start_of_turn>model\nA<end_of_turn>\n"
         "<start_of_turn>user\nU<end_of_turn>\n<start_of_turn>model\n"},
        {{{"user", "U"}, {"system", "S"}, {"user", "V"}},
         3,
         "<start_of_turn>user\nU<end_of_turn>\n<start_of_turn>user\nS<end_of_turn>\n"
         "<start_of_turn>user\nV<end_of_turn>\n<start_of_turn>model\n"},
        {{{"system", "S"}, {"developer", "D"}, {"user", "U"}},
         3,
         "<start_of_turn>user\nS\n\nD<end_of_turn>\n<start_of_turn>user\nU<end_of_turn>\n"
         "<start_of_turn>model\n"},
        {{{"assistant", "A"}}, 1, "<start_of_turn>model\nA<end_of_turn>\n<start_of_turn>model\n"},
        /* malformed UTF-8 and a truncated sequence at the edges are kept, not trimmed */
        {{{"user", " \xC3 x \xE3\x80"}},
         1,
         "<start_of_turn>user\n\xC3 x \xE3\x80<end_of_turn>\n"
         "<start_of_turn>model\n"},
        {{{"user", "\xE3\x80\x80\xFF\xE3\x80\x80"}},
         1,
         "<start_of_turn>user\n\xFF<end_of_turn>\n"
         "<start_of_turn>model\n"},
    };
    for (size_t i = 0; i < OL_ARRAY_LEN(cases); i++) {
        char *s = render(OL_CHAT_GEMMA, cases[i].m, cases[i].n);
        char name[32];
        snprintf(name, sizeof(name), "gemma extra %zu", i);
        check_same(name, s, cases[i].want);
        free(s);
    }
}

static void test_hostile(void) {
    ol_chat_message ok = {"user", "hi"};
    ol_err err = {0};
    for (int f = 0; f < OL_CHAT_FORMAT_COUNT; f++) {
        ol_chat_format cf = (ol_chat_format)f;
        err = (ol_err){0};
        CHECK(ol_chat_render(cf, &ok, 0, &err) == NULL);
        CHECK_EQ_INT(err.code, OL_EINVAL);
        CHECK(ol_chat_render(cf, &ok, -3, &err) == NULL);
        CHECK(ol_chat_render(cf, NULL, 1, &err) == NULL);
        CHECK_EQ_INT(err.code, OL_EINVAL);
        ol_chat_message bad[2] = {ok, {NULL, "x"}};
        CHECK(ol_chat_render(cf, bad, 2, &err) == NULL);
        CHECK_STR_CONTAINS(err.msg, "message 1 has no role");
        bad[1] = (ol_chat_message){"assistant", NULL};
        CHECK(ol_chat_render(cf, bad, 2, &err) == NULL);
        CHECK_STR_CONTAINS(err.msg, "message 1 has no content");
        bad[1] = (ol_chat_message){"tool", "x"};
        CHECK(ol_chat_render(cf, bad, 2, &err) == NULL);
        CHECK_EQ_INT(err.code, OL_EINVAL);
        CHECK_STR_CONTAINS(err.msg, "unknown role 'tool'");
        bad[1] = (ol_chat_message){"User", "x"}; /* roles are case-sensitive, as in Jinja */
        CHECK(ol_chat_render(cf, bad, 2, NULL) == NULL);
        bad[1] = (ol_chat_message){"", "x"};
        CHECK(ol_chat_render(cf, bad, 2, NULL) == NULL);
    }
    char longrole[2000];
    memset(longrole, 'r', sizeof(longrole) - 1);
    longrole[sizeof(longrole) - 1] = '\0';
    ol_chat_message lr = {longrole, "x"};
    CHECK(ol_chat_render(OL_CHAT_CHATML, &lr, 1, &err) == NULL);
    CHECK(strlen(err.msg) < 200);
    CHECK(ol_chat_render(OL_CHAT_FORMAT_COUNT, &ok, 1, &err) == NULL);
    CHECK_EQ_INT(err.code, OL_EINVAL);
    CHECK(ol_chat_render((ol_chat_format)-1, &ok, 1, NULL) == NULL);

    /* 10 MB content, padded with whitespace (trimmed by Gemma and Llama 3, kept by ChatML) */
    size_t n = 10u << 20;
    char *big = malloc(n + 1);
    CHECK(big != NULL);
    if (!big) return;
    memset(big, 'a', n);
    memcpy(big, "  \n", 3);
    memcpy(big + n - 3, "\t \n", 3);
    big[n] = '\0';
    ol_chat_message m[3] = {{"system", big}, {"user", big}, {"assistant", big}};
    for (int f = 0; f < OL_CHAT_FORMAT_COUNT; f++) {
        char *s = render((ol_chat_format)f, m, 3);
        CHECK(s != NULL);
        if (!s) continue;
        size_t len = strlen(s);
        const char *end = f == OL_CHAT_GEMMA ? "<start_of_turn>model\n"
                          : f == OL_CHAT_LLAMA3
                              ? "<|start_header_id|>assistant<|end_header_id|>\n\n"
                              : "<|im_start|>assistant\n";
        CHECK(len > 3 * (n - 6));
        CHECK(len < 3 * n + 200);
        CHECK(strcmp(s + len - strlen(end), end) == 0);
        if (f == OL_CHAT_GEMMA) /* system kept verbatim, then "\n\n", then trimmed user */
            CHECK_EQ_INT(len, strlen("<start_of_turn>user\n") + n + 2 + (n - 6) +
                                  strlen("<end_of_turn>\n<start_of_turn>model\n") + (n - 6) +
                                  strlen("<end_of_turn>\n") + strlen(end));
        if (f == OL_CHAT_CHATML) CHECK_STR_CONTAINS(s, "<|im_start|>user\n  \naaaa");
        free(s);
    }
    free(big);
}

int main(void) {
    test_goldens();
    test_detect();
    test_names();
    test_gemma_beyond_jinja();
    test_hostile();
    return test_done("test_chat");
}
