/* format/format_internal.h: what the format readers share and no other module includes. */
#ifndef OL_FORMAT_INTERNAL_H
#define OL_FORMAT_INTERNAL_H

#include <jansson.h>

/* "an object", "an array", "a string", ... for error messages about JSON values. */
const char *ol_format_json_kind(const json_t *v);

#endif
