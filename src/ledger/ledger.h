/* ledger/ledger.h: the attribution ledger. Every finished request appends one usage record,
 * every adapter version one registry record, to a hash chain kept in a store (SQLite by default,
 * PostgreSQL for a fleet). One ledger thread group-commits appends; callers learn of the commit
 * through a callback, so a response's last bytes can wait for its record. Signed checkpoints
 * (Ed25519, key kept outside the database) make tail truncation detectable. Readers (verify,
 * report, export, GET /v1/usage) open their own connection from the same URL.
 *
 * Entry hash (all integers big-endian, strings length-prefixed with a u32):
 *   SHA-256("openlora-ledger-entry-v1\0" || u64 seq || i64 time_ns || str kind || str key_id ||
 *           u8 has_request_id || str request_id || str body || prev_hash[32])
 * with prev_hash of seq 1 all zeros. Sequence numbers are assigned under the store's append
 * lock and are contiguous from 1, so a missing number is a deletion.
 * Checkpoint signature: Ed25519 over
 *   "openlora-ledger-checkpoint-v1\0" || u64 size || head_hash[32] || i64 time_ns. */
#ifndef OL_LEDGER_H
#define OL_LEDGER_H

#include "base/base.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define OL_LEDGER_ID_MAX 128 /* request ids and key ids: bytes, printable ASCII */

typedef struct ol_ledger ol_ledger;

/* Strings are borrowed for the call to ol_ledger_open. */
typedef struct ol_ledger_config {
    const char *url;            /* "sqlite:PATH", a plain PATH, or "postgresql://..." */
    const char *checkpoint_dir; /* NULL: no checkpoints */
    const char *key_path; /* Ed25519 private key (PEM); created 0600 when missing; NULL: unsigned */
    int checkpoint_interval_s; /* default 60; checkpoints also at close */
    int batch_max;             /* records per group commit, default 512 */
    int retry_ms;              /* wait before retrying a failed commit, default 1000 */
} ol_ledger_config;

void ol_ledger_config_default(ol_ledger_config *c);

/* Open the store (creating the schema), load or create the signing key, start the ledger
 * thread. NULL with err filled. */
ol_ledger *ol_ledger_open(const ol_ledger_config *c, ol_err *err);
/* Commit what is queued (waits up to timeout_ms; what cannot be written by then is reported
 * as lost in the log), write a final checkpoint, stop the thread, free. Accepts NULL. */
void ol_ledger_close(ol_ledger *l, int timeout_ms);

/* Append outcome, given once to the callback (ledger thread). */
typedef enum ol_ledger_status {
    OL_LEDGER_COMMITTED = 0, /* durable; seq is its place in the chain */
    OL_LEDGER_DUPLICATE,     /* (key_id, request_id) was already recorded: nothing added */
    OL_LEDGER_FAILED,        /* the store failed; the record stays queued and is retried */
} ol_ledger_status;

typedef void (*ol_ledger_done_fn)(void *ud, ol_ledger_status st, int64_t seq);

/* Queue a record. kind: "usage" or "adapter"; key_id: "" when none; request_id: dedup key
 * within key_id, or NULL; body: a JSON object, serialized canonically (sorted keys, compact),
 * borrowed. done (may be NULL) runs on the ledger thread exactly once, at the first commit or
 * the first failure. Never blocks on the store. 0, OL_EINVAL (bad id, body not an object),
 * OL_ENOMEM, OL_ECANCELED (closing). */
int ol_ledger_append(ol_ledger *l, const char *kind, const char *key_id, const char *request_id,
                     json_t *body, ol_ledger_done_fn done, void *ud);
/* ol_ledger_append and wait for the outcome (up to timeout_ms): the status as a non-negative
 * value, or OL_EAGAIN on timeout, or a queueing error. Not from the ledger thread. */
int ol_ledger_append_wait(ol_ledger *l, const char *kind, const char *key_id,
                          const char *request_id, json_t *body, int timeout_ms, int64_t *seq);

/* False from a failed commit until a commit succeeds again (records are then waiting). */
bool ol_ledger_healthy(const ol_ledger *l);

typedef struct ol_ledger_stats {
    uint64_t committed, duplicates, batches, failures, checkpoints;
    uint64_t queued; /* waiting to be committed now */
    int64_t head_seq;
    bool healthy;
    char last_error[256];
} ol_ledger_stats;
void ol_ledger_stats_get(ol_ledger *l, ol_ledger_stats *st);

/* The URL the ledger was opened with, for readers. */
const char *ol_ledger_url(const ol_ledger *l);

/* ---- reading ------------------------------------------------------------------------------ */

/* One stored entry, borrowed for the callback. */
typedef struct ol_ledger_entry {
    int64_t seq, time_ns;
    const char *kind, *key_id, *request_id; /* request_id may be NULL */
    const char *body;
    size_t body_len;
    uint8_t prev[32], hash[32];
} ol_ledger_entry;

typedef int (*ol_ledger_entry_fn)(void *ud, const ol_ledger_entry *e); /* nonzero: stop */

/* Entries with since_ns <= time_ns < until_ns (0 = unbounded) in sequence order, on a
 * connection of its own. 0, or the callback's nonzero value, or a negative error. */
int ol_ledger_scan(const char *url, int64_t since_ns, int64_t until_ns, ol_ledger_entry_fn fn,
                   void *ud, ol_err *err);

/* The entry hash defined above. */
void ol_ledger_entry_hash(const ol_ledger_entry *e, uint8_t out[32]);

typedef struct ol_ledger_verify_result {
    int64_t n_entries, head_seq;
    uint8_t head[32];
    int n_checkpoints; /* checked and valid */
    int64_t bad_seq;   /* 0: the ledger verifies; else the first sequence number at fault */
    char problem[512]; /* what is wrong, when bad_seq != 0 */
} ol_ledger_verify_result;

/* Recompute the chain from genesis and check it against every checkpoint in checkpoint_dir
 * (NULL: none), whose signatures must verify with one of the keys (PEM, private or public).
 * 0 with r filled (r->bad_seq says the verdict), or a negative error when it could not run. */
int ol_ledger_verify(const char *url, const char *checkpoint_dir, const char *const *key_paths,
                     int n_keys, ol_ledger_verify_result *r, ol_err *err);

typedef struct ol_ledger_report_params {
    int64_t since_ns, until_ns; /* 0 = unbounded */
    double price_per_1k;        /* < 0: no payouts */
} ol_ledger_report_params;

/* Tokens (and payouts) per adapter, owner and contributor over the usage records in range.
 * A request's tokens (prompt + completion) are split among its adapters by weight; an adapter's
 * share among its contributors by their registered shares. Caller json_decref's. NULL with err. */
json_t *ol_ledger_report(const char *url, const ol_ledger_report_params *p, ol_err *err);

typedef enum ol_ledger_format { OL_LEDGER_CSV, OL_LEDGER_JSONL } ol_ledger_format;
/* Every entry in range, one line each. 0 or a negative error. */
int ol_ledger_export(const char *url, int64_t since_ns, int64_t until_ns, ol_ledger_format fmt,
                     FILE *out, ol_err *err);

/* Parse a time for --since/--until: unix seconds, or RFC 3339 / ISO 8601 ("2026-11-28",
 * "2026-11-28T10:00:00Z"). 0 and *ns, or OL_EINVAL. */
int ol_ledger_time_parse(const char *s, int64_t *ns);

#endif
