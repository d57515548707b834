/* adapters_internal.h: what the adapter cache (cache.c) shares with its built-in sources
 * (source_dir.c, source_http.c): their vtable constructors, SHA-256 helpers and the removal of
 * fetched temporary copies. No other module includes this. */
#ifndef OL_ADAPTERS_INTERNAL_H
#define OL_ADAPTERS_INTERNAL_H

#include "adapters.h"

/* Options of the http source, copied from ol_adapter_cache_config at cache creation. */
typedef struct ol_adapter_http_opts {
    long timeout_ms, connect_timeout_ms;
    size_t max_bytes;
    char tmp_dir[1024];
} ol_adapter_http_opts;

/* "dir": claims every string that is not a URL (has no "scheme://"); fetch checks the path
 * exists and, with a pin, hashes the .gguf file or the directory's adapter_model.safetensors. */
void ol_adapter_source_dir_init(ol_adapter_source_vt *vt);
/* "http": claims http:// and https:// URLs. o is borrowed for the vtable's lifetime. */
void ol_adapter_source_http_init(ol_adapter_source_vt *vt, const ol_adapter_http_opts *o);

/* True when s is 64 hex digits (either case). */
bool ol_adapter_sha256_valid(const char *s);
/* SHA-256 of a whole file as 64 lowercase hex digits. 0 or OL_EIO with err naming the path. */
int ol_adapter_sha256_file(const char *path, char hex[65], ol_err *err);
/* Compare a computed digest with a pin (case-insensitive): 0 or OL_EFORMAT naming what. */
int ol_adapter_sha256_check(const char *what, const char *got, const char *want, ol_err *err);

/* Delete a fetched temporary copy: a file, or a directory and everything under it. */
void ol_adapter_fetch_remove(const char *path);

#endif
