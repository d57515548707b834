/* adapters: a LoRA adapter = its weights converted once, at load, into the compute layout the
 * forward pass wants (f32 A [r][in] and B transposed [r][out] with the module's scale folded
 * in), checked against the base model. Sources: a PEFT directory (adapter_config.json +
 * adapter_model.safetensors) or a llama.cpp GGUF LoRA file. Anything PEFT can express that
 * openlora does not run (DoRA, modules_to_save, LoRA on embeddings or lm_head, LoRA biases,
 * pickle weights, ...) is refused with an error that names it. */
#ifndef OL_ADAPTERS_H
#define OL_ADAPTERS_H

#include "model/model.h"

typedef enum ol_adapter_source { OL_ADAPTER_PEFT, OL_ADAPTER_GGUF } ol_adapter_source;

typedef struct ol_adapter ol_adapter;

/* Load from a PEFT directory or a .gguf LoRA file, for model m (borrowed: the adapter is only
 * valid with this model). NULL with err filled (naming the file, tensor or field). */
ol_adapter *ol_adapter_load(const char *path, const ol_model *m, ol_err *err);
void ol_adapter_destroy(ol_adapter *a); /* accepts NULL */

/* What the forward pass consumes; borrowed until destroy. */
const ol_lora_weights *ol_adapter_weights(const ol_adapter *a);
/* Bytes of the compute-layout weights (what a cache budget counts). */
size_t ol_adapter_bytes(const ol_adapter *a);
ol_adapter_source ol_adapter_source_of(const ol_adapter *a);

/* Per targeted (layer, projection): rank and folded scale, for `adapter inspect`. */
typedef struct ol_adapter_module {
    int layer;
    ol_proj proj;
    int rank;
    float scale;
} ol_adapter_module;
int ol_adapter_n_modules(const ol_adapter *a);
const ol_adapter_module *ol_adapter_module_at(const ol_adapter *a, int i);

/* ==== registry and host cache ===============================================================
 * The registry maps a name to its current version: source + metadata, a few hundred bytes
 * (<= 2 KB unless source and metadata are both near their maximum sizes) while not resident.
 * A version's weights are loaded just in time, by loader threads, into a host cache bounded by
 * a byte budget (the sum of ol_adapter_bytes of resident versions never exceeds it). Loading is
 * single-flight: however many callers ask for one cold version, one load runs and all get its
 * result. A pinned version (used by a running request) is never evicted; eviction picks among
 * the unpinned resident versions by the configured policy. Re-registering a name creates a new
 * version (versions are unique across the whole cache: one global counter); the old version
 * stays usable by whoever holds a reference and is freed when the last one goes.
 *
 * Thread safety: every function may be called from any thread (one mutex inside); loads run on
 * the cache's own loader threads, never under the mutex. */

/* Where an adapter's files come from: a vtable, so more sources can be added. A source turns
 * a source string into a local path that ol_adapter_load can read (a directory or a .gguf),
 * possibly by downloading it. */
typedef struct ol_adapter_fetch {
    char path[4096];   /* local PEFT directory or .gguf file to load */
    bool remove_after; /* the path is a temporary copy: delete it (recursively) after load */
} ol_adapter_fetch;
typedef struct ol_adapter_source_vt {
    const char *name;                   /* "dir", "http" */
    bool (*claims)(const char *source); /* true if this source handles the string */
    /* Fetch source (expected_sha256: 64 lowercase hex chars or NULL = no pinning). 0 or a
     * negative OL_E* with err filled; never leaves a half-written file at out->path. */
    int (*fetch)(void *ctx, const char *source, const char *expected_sha256, ol_adapter_fetch *out,
                 ol_err *err);
    void *ctx;
} ol_adapter_source_vt;

typedef enum ol_adapter_policy {
    OL_ADAPTER_POLICY_LRU, /* least recently used */
    OL_ADAPTER_POLICY_LFU, /* least frequently used, with aging (counts halve periodically) */
    OL_ADAPTER_POLICY_COUNT
} ol_adapter_policy;
const char *ol_adapter_policy_name(ol_adapter_policy p);

typedef struct ol_adapter_cache_config {
    size_t budget_bytes;      /* host bytes for resident weights; > 0 (default 1 GiB) */
    int n_loaders;            /* loader threads, 1..64 (default 2) */
    ol_adapter_policy policy; /* default LRU (see bench/traffic for the measurement) */
    /* http(s) sources */
    long http_timeout_ms;         /* whole transfer; default 30000 */
    long http_connect_timeout_ms; /* default 5000 */
    size_t http_max_bytes;        /* largest download accepted; default 512 MiB */
    const char *tmp_dir;          /* for downloads; default $TMPDIR or /tmp */
    /* Called on a loader thread after any load finishes, successfully or not (the engine
     * wakes its step loop with it). Must not call back into the cache. May be NULL. */
    void (*on_load_done)(void *ud);
    void *ud;
} ol_adapter_cache_config;
void ol_adapter_cache_config_default(ol_adapter_cache_config *c);

typedef struct ol_adapter_cache ol_adapter_cache;
typedef struct ol_adapter_entry ol_adapter_entry; /* one registered version; reference counted */

/* model is borrowed for the cache's lifetime. Built-in sources: "dir" (a local path: PEFT
 * directory or .gguf file) and "http" (http:// and https:// URLs via libcurl, with timeouts, a
 * size limit and optional SHA-256 pinning, downloaded into tmp_dir then renamed into place). A
 * URL ending in '/' is a PEFT directory (its adapter_config.json and adapter_model.safetensors
 * are fetched; the pin covers the safetensors file); any other URL is one .gguf LoRA file. */
ol_adapter_cache *ol_adapter_cache_create(const ol_adapter_cache_config *cfg, const ol_model *m,
                                          ol_err *err);
/* Waits for running loads to finish. Entries still referenced by callers must be released
 * before destroy. */
void ol_adapter_cache_destroy(ol_adapter_cache *c);
/* Add a source (tried before the built-in ones); vt copied. */
int ol_adapter_cache_add_source(ol_adapter_cache *c, const ol_adapter_source_vt *vt, ol_err *err);

#define OL_ADAPTER_NAME_MAX   64 /* bytes, without NUL: [A-Za-z0-9._-], not starting with '.' */
#define OL_ADAPTER_SOURCE_MAX 1024
#define OL_ADAPTER_META_MAX   1024 /* opaque metadata (JSON text) kept with the version */

/* Register name -> source as a new version (replacing the current version of that name, if
 * any). Nothing is loaded now; the source is only checked for form (a source claims it). meta
 * may be NULL. 0 and *version_out, or OL_EINVAL (bad name, source or sizes) with err filled. */
int ol_adapter_cache_register(ol_adapter_cache *c, const char *name, const char *source,
                              const char *sha256, const char *meta, uint64_t *version_out,
                              ol_err *err);
/* Remove the name. Its version is freed once no one references it. OL_ENOENT if unknown. */
int ol_adapter_cache_unregister(ol_adapter_cache *c, const char *name, ol_err *err);

/* The current version of name with a reference taken (release it with
 * ol_adapter_entry_release), or NULL when the name is not registered. */
ol_adapter_entry *ol_adapter_cache_lookup(ol_adapter_cache *c, const char *name);
void ol_adapter_entry_release(ol_adapter_cache *c, ol_adapter_entry *e); /* accepts NULL */
void ol_adapter_entry_retain(ol_adapter_cache *c, ol_adapter_entry *e);
/* Immutable facts of a version (valid while a reference is held). */
uint64_t ol_adapter_entry_version(const ol_adapter_entry *e);
const char *ol_adapter_entry_name(const ol_adapter_entry *e);
const char *ol_adapter_entry_source(const ol_adapter_entry *e);
const char *ol_adapter_entry_meta(const ol_adapter_entry *e); /* "" when none */

/* Ask for e's weights, pinned.
 *   0:            resident; *out is valid until ol_adapter_cache_unpin (pins nest: one unpin
 *                 per successful pin). Counts a hit, or nothing if this call completes a load
 *                 the caller was waiting for (see below).
 *   OL_EAGAIN:    not resident yet; a load was started (counted as a miss: exactly one load per
 *                 miss) or is already queued/running (joined, not counted again). Call again
 *                 after on_load_done fires.
 *   other < 0:    the last load of this version failed (err says why: missing file, bad
 *                 checksum, HTTP status, timeout, bad adapter, larger than the whole budget).
 *                 The failure is reported once to every caller that was waiting for that load;
 *                 the next pin after that starts a fresh attempt.
 * Waiters are counted as the OL_EAGAIN answers given while the load was queued or running, but
 * at most one per unpinned reference to e that callers hold when it finishes: each waiting
 * request should hold its own reference (from lookup or retain); asking again before
 * on_load_done fires is harmless.
 * A load waits (stays queued) while the budget is full of pinned versions. While a load's
 * weights wait for room (they are not counted as resident yet), up to n_loaders adapters may
 * be in memory outside the budget. */
int ol_adapter_cache_pin(ol_adapter_cache *c, ol_adapter_entry *e, const ol_adapter **out,
                         ol_err *err);
/* True while e's load is queued or running: a caller that got OL_EAGAIN can poll this (no
 * counting, no waiter registered) and call pin again once it turns false. */
bool ol_adapter_cache_is_loading(ol_adapter_cache *c, const ol_adapter_entry *e);
void ol_adapter_cache_unpin(ol_adapter_cache *c, ol_adapter_entry *e);
/* A queued request will need e soon: load it if there is room without evicting anything
 * pinned or more recently used (never counted as a miss; at most one prefetch in flight per
 * loader). */
void ol_adapter_cache_prefetch(ol_adapter_cache *c, ol_adapter_entry *e);

typedef struct ol_adapter_cache_stats {
    int64_t n_registered, n_versions_live;   /* names; versions not yet freed */
    int64_t n_resident, n_pinned, n_loading; /* n_loading: queued or being loaded */
    size_t resident_bytes, budget_bytes, peak_resident_bytes;
    size_t registry_bytes; /* memory of the registry itself (entries, strings) */
    int64_t hits, misses, loads, load_failures, evictions, prefetches;
    int64_t load_ns_total, load_ns_max;
} ol_adapter_cache_stats;
void ol_adapter_cache_stats_get(ol_adapter_cache *c, ol_adapter_cache_stats *s);

/* One line per registered name, for listings: a snapshot copy. */
typedef struct ol_adapter_listing {
    char name[OL_ADAPTER_NAME_MAX + 1];
    uint64_t version;
    bool resident, loading;
    size_t bytes; /* 0 when not resident */
} ol_adapter_listing;
/* The state of one version (a reference must be held). */
void ol_adapter_cache_describe(ol_adapter_cache *c, const ol_adapter_entry *e,
                               ol_adapter_listing *out);
/* Fills up to cap entries (sorted by name); returns the number of registered names. */
int ol_adapter_cache_list(ol_adapter_cache *c, ol_adapter_listing *out, int cap);

/* Name syntax check used by register (and by the server before it touches the filesystem). */
bool ol_adapter_name_valid(const char *name);

#endif
