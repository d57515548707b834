/* ledger/ledger_internal.h: what the ledger's files share: the store vtable (SQLite, PostgreSQL),
 * the Ed25519 key helpers and hex. Not included outside ledger/. */
#ifndef OL_LEDGER_INTERNAL_H
#define OL_LEDGER_INTERNAL_H

#include "ledger/ledger.h"

#include <openssl/evp.h>

/* A store keeps the entries. One store handle is used by one thread at a time.
 * Appends run as: begin (takes the append lock: SQLite BEGIN IMMEDIATE, PostgreSQL a
 * transaction-scoped advisory lock, so two servers on one database never fork the chain) ->
 * head -> for each record: exists? -> insert -> commit (durable on return) or rollback. */
typedef struct ol_ledger_store {
    const char *name; /* "sqlite", "postgresql" */
    void *ctx;
    int (*begin)(void *ctx, ol_err *err);
    /* The last entry: seq (0 when empty) and its hash (zeros when empty). */
    int (*head)(void *ctx, int64_t *seq, uint8_t hash[32], ol_err *err);
    /* 1 if (key_id, request_id) is recorded (also by this transaction), 0 if not, < 0 error. */
    int (*exists)(void *ctx, const char *key_id, const char *request_id, ol_err *err);
    int (*insert)(void *ctx, const ol_ledger_entry *e, ol_err *err);
    int (*commit)(void *ctx, ol_err *err);
    void (*rollback)(void *ctx);
    /* Entries in seq order with since_ns <= time_ns < until_ns (0 = unbounded). fn's nonzero
     * return stops the scan and is returned. */
    int (*scan)(void *ctx, int64_t since_ns, int64_t until_ns, ol_ledger_entry_fn fn, void *ud,
                ol_err *err);
    void (*close)(void *ctx);
} ol_ledger_store;

/* Open by URL: "postgresql://" or "postgres://" -> PostgreSQL (libpq connection string);
 * "sqlite:PATH" or any other text -> SQLite file. Creates the schema unless read_only.
 * 0 or a negative error with err filled. */
int ol_ledger_store_open(const char *url, bool read_only, ol_ledger_store *st, ol_err *err);
int ol_ledger_store_sqlite_open(const char *path, bool read_only, ol_ledger_store *st, ol_err *err);
int ol_ledger_store_pg_open(const char *conninfo, bool read_only, ol_ledger_store *st, ol_err *err);

/* Ed25519 keys (key.c). Load a PEM private key, creating it (0600) when missing. */
EVP_PKEY *ol_ledger_key_load_or_create(const char *path, ol_err *err);
/* Load a PEM key, private or public (verification uses only its public half). */
EVP_PKEY *ol_ledger_key_load(const char *path, ol_err *err);
int ol_ledger_key_public(EVP_PKEY *k, uint8_t pub[32]);

/* Checkpoints (checkpoint.c). Sign and write <dir>/checkpoint-<seq>.json atomically. */
int ol_ledger_checkpoint_write(const char *dir, EVP_PKEY *key, int64_t size, const uint8_t head[32],
                               int64_t time_ns, ol_err *err);

/* Reading one back, for verify. */
typedef struct ol_ledger_checkpoint {
    int64_t size, time_ns; /* size: entries covered, i.e. the seq whose hash is head */
    uint8_t head[32], public_key[32], signature[64];
} ol_ledger_checkpoint;

/* Parse <path> (the JSON ol_ledger_checkpoint_write produces). Hostile input is expected: 0, or
 * OL_EIO (unreadable) / OL_EFORMAT (malformed) / OL_ENOMEM with err naming what is wrong. cp->size
 * is -1 until the "size" field has been read, so a caller can name the checkpoint's seq even for a
 * file that fails later. The signature is not checked here. */
int ol_ledger_checkpoint_read(const char *path, ol_ledger_checkpoint *cp, ol_err *err);

/* True if cp's signature verifies under key (an Ed25519 key; only its public half is used). */
bool ol_ledger_checkpoint_signed_by(const ol_ledger_checkpoint *cp, EVP_PKEY *key);

/* All of buf to fd, retrying short writes and EINTR: 0 or -1 (errno set). */
int ol_ledger_write_all(int fd, const char *buf, size_t n);

void ol_ledger_hex(const uint8_t *b, size_t n, char *out); /* out: 2n+1 */
int ol_ledger_unhex(const char *s, uint8_t *b, size_t n);  /* exactly 2n hex chars; 0 or -1 */
/* Request/key ids: 1..OL_LEDGER_ID_MAX printable ASCII bytes (key ids may be empty). */
bool ol_ledger_id_valid(const char *s, bool may_be_empty);

#endif
