/* ledger/checkpoint.h: reading a signed checkpoint back, for verify. Internal to ledger/ like
 * ledger_internal.h (which declares the writer); kept apart only while that header is frozen,
 * and meant to be folded into it. */
#ifndef OL_LEDGER_CHECKPOINT_H
#define OL_LEDGER_CHECKPOINT_H

#include "ledger/ledger_internal.h"

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

#endif
