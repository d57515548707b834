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

const char *ol_chat_format_name(ol_chat_format f); /* "gemma", "llama3", "chatml" */
/* Parse a name as above: 0 and *out, or OL_EINVAL. */
int ol_chat_format_parse(const char *name, ol_chat_format *out);

/* Recognise a Jinja template (NULL = the model has none). 0 and *out, or OL_ENOTSUP with err
 * saying that the template is unknown and which formats --chat-template accepts. */
int ol_chat_format_detect(const char *jinja, ol_chat_format *out, ol_err *err);

typedef struct ol_chat_message {
    const char *role;    /* "system", "user", "assistant" (also "developer" = system) */
    const char *content; /* UTF-8 text */
} ol_chat_message;

/* Render messages followed by the opening of the assistant's turn, as the model was trained
 * to see them (the BOS token is NOT included: the tokenizer adds it). Gemma has no system
 * role: a system message is prepended to the first user turn followed by a blank line, as
 * Gemma 3's template does. Returns a malloc'd NUL-terminated string, or NULL with err filled
 * (OL_EINVAL: unknown role, no messages, a roleless or contentless message; OL_ENOMEM). */
char *ol_chat_render(ol_chat_format f, const ol_chat_message *msgs, int n_msgs, ol_err *err);

/* The strings that end an assistant turn in that format (e.g. "<end_of_turn>"): the server
 * adds them as stop strings (most models also emit them as end-of-generation tokens). */
const char *ol_chat_turn_end(ol_chat_format f);

#endif
