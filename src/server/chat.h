/* server/chat.h: chat templates. The model's tokenizer.chat_template (Jinja text in the GGUF) is
 * recognised as one of a few known formats, which openlora renders natively (no Jinja engine):
 * Gemma (<start_of_turn>user ... <end_of_turn>), Llama 3 (<|start_header_id|>role
 * <|end_header_id|> ... <|eot_id|>) and ChatML (<|im_start|>role ... <|im_end|>). An unknown
 * template is refused unless the operator names a format. */
#ifndef OL_SERVER_CHAT_H
#define OL_SERVER_CHAT_H

#include "base/base.h"

#include <stddef.h>

typedef enum ol_chat_format {
    OL_CHAT_GEMMA,
    OL_CHAT_LLAMA3,
    OL_CHAT_CHATML,
    OL_CHAT_FORMAT_COUNT
} ol_chat_format;

const char *ol_chat_format_name(ol_chat_format f); /* "gemma", "llama3", "chatml"; else "unknown" */
/* Parse a name as above (case-insensitive): 0 and *out, or OL_EINVAL. */
int ol_chat_format_parse(const char *name, ol_chat_format *out);

/* Recognise a Jinja template (NULL = the model has none). 0 and *out, or OL_ENOTSUP with err
 * saying that the template is unknown and which formats --chat-template accepts. Recognised by
 * its turn-start marker: "<start_of_turn>" gemma, "<|start_header_id|>" llama3, "<|im_start|>"
 * chatml; none of them, or more than one, is unknown. (The default Gemma 3 270M GGUF carries no
 * tokenizer.chat_template, so it gets OL_ENOTSUP here.) */
int ol_chat_format_detect(const char *jinja, ol_chat_format *out, ol_err *err);

typedef struct ol_chat_message {
    const char *role;    /* "system", "user", "assistant" (also "developer" = system) */
    const char *content; /* UTF-8 text */
} ol_chat_message;

/* Render messages followed by the opening of the assistant's turn, as the model was trained
 * to see them (the BOS token is NOT included: the tokenizer adds it). Byte-for-byte what the
 * models' Jinja templates give (add_generation_prompt, bos_token ""), as Gemma 3's, Llama 3's
 * and ChatML's do:
 *   gemma:  <start_of_turn>user\n{content}<end_of_turn>\n ... <start_of_turn>model\n, the
 *           assistant role written "model", content trimmed of whitespace (Python str.strip).
 *           Gemma has no system role: a leading system message is prepended, untrimmed, to the
 *           first user turn followed by a blank line ("\n\n"), as Gemma 3's template does.
 *           Where that template would refuse (roles not alternating) we still render: a system
 *           message elsewhere, or one not followed by a user message, is a user turn.
 *   llama3: <|start_header_id|>{role}<|end_header_id|>\n\n{content trimmed}<|eot_id|> ...
 *           <|start_header_id|>assistant<|end_header_id|>\n\n (Llama 3.0's template; 3.1+'s
 *           also add a "Cutting Knowledge Date" system header, which is not rendered).
 *   chatml: <|im_start|>{role}\n{content verbatim}<|im_end|>\n ... <|im_start|>assistant\n (no
 *           default system prompt, unlike Qwen2's template).
 * "developer" is written as "system". Roles are case-sensitive. Returns a malloc'd
 * NUL-terminated string, or NULL with err filled (OL_EINVAL: unknown role, no messages, a
 * roleless or contentless message, a bad format; OL_ENOMEM). err may be NULL. Thread-safe. */
char *ol_chat_render(ol_chat_format f, const ol_chat_message *msgs, int n_msgs, ol_err *err);

/* The string that ends an assistant turn in that format ("<end_of_turn>", "<|eot_id|>",
 * "<|im_end|>"; NULL for a bad format): the server adds it as a stop string (most models also
 * emit it as an end-of-generation token). Static storage. */
const char *ol_chat_turn_end(ol_chat_format f);

#endif
