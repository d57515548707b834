/* ledger/chain.c: the entry hash that links the ledger into a chain. The byte layout is the one in
 * ledger.h's opening comment; tools/ledger_hash.py reimplements it independently and
 * tests/unit/ledger/test_checkpoint.c holds a digest computed there. */
#include "ledger/ledger_internal.h"

#include <string.h>

static const char entry_domain[] = "openlora-ledger-entry-v1"; /* hashed with its NUL: 25 bytes */

static void put_u64(EVP_MD_CTX *c, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (56 - 8 * i));
    EVP_DigestUpdate(c, b, 8);
}

/* u32 big-endian length, then the bytes. Lengths here are ids (<= 128) and bodies the ledger
 * produced itself; a body past 4 GiB cannot be represented and is cut to keep the layout. */
static void put_str(EVP_MD_CTX *c, const char *s, size_t n) {
    if (n > UINT32_MAX) n = UINT32_MAX;
    const uint8_t b[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    EVP_DigestUpdate(c, b, 4);
    EVP_DigestUpdate(c, s, n);
}

/* Streams the fields through SHA-256 rather than building the message, so a large body is not
 * copied. The only possible failure is OpenSSL running out of memory for its context; out is then
 * all zeros, which SHA-256 does not produce in practice, so the entry fails verification instead of
 * silently carrying a wrong hash. */
void ol_ledger_entry_hash(const ol_ledger_entry *e, uint8_t out[32]) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
    if (ok) {
        EVP_DigestUpdate(c, entry_domain, sizeof(entry_domain));
        put_u64(c, (uint64_t)e->seq);
        put_u64(c, (uint64_t)e->time_ns);
        put_str(c, e->kind, strlen(e->kind));
        put_str(c, e->key_id, strlen(e->key_id));
        const uint8_t has_request_id = e->request_id != NULL;
        EVP_DigestUpdate(c, &has_request_id, 1);
        if (has_request_id) put_str(c, e->request_id, strlen(e->request_id));
        put_str(c, e->body, e->body_len);
        EVP_DigestUpdate(c, e->prev, 32);
        ok = EVP_DigestFinal_ex(c, out, &n) == 1 && n == 32;
    }
    EVP_MD_CTX_free(c);
    if (!ok) {
        memset(out, 0, 32);
        ol_log(OL_LOG_ERROR, "ledger: cannot compute SHA-256 of seq %lld (out of memory)",
               (long long)e->seq);
    }
}
