/* ledger/verify.c: recompute the chain from genesis in one streaming scan and check it against the
 * signed checkpoints. Per entry, in this order: its seq follows the previous one (a gap is a
 * deletion), its prev is the previous entry's hash (else reordered or inserted), its recomputed
 * hash is its stored hash (else edited), and, where a checkpoint covers exactly that many entries,
 * its hash is the checkpoint's head. A checkpoint past the last entry means the tail was cut.
 * Memory holds the checkpoints, never the entries. The verdict names the lowest faulty seq. */
#include "ledger/ledger_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A checkpoint whose signature verified under a trusted key. */
typedef struct {
    int64_t size;
    uint8_t head[32];
    char *name; /* file name, for messages */
} trusted_cp;

typedef struct {
    EVP_PKEY **keys;
    uint8_t (*pubs)[32];
    int n_keys;
    trusted_cp *cps; /* sorted by size */
    int n_cps, cap_cps, next_cp;
    int n_files;                  /* checkpoint-*.json files seen */
    ol_ledger_verify_result file; /* the lowest-seq problem with a checkpoint file itself */
    ol_ledger_verify_result *r;
    int64_t last_seq;
    uint8_t last_hash[32];
} verify_state;

/* Keep the problem with the lowest seq; on a tie, the one found first. A seq below 1 (a hostile
 * store) is reported as 1, since 0 would read as "verifies". */
__attribute__((format(printf, 3, 4))) static void problem(ol_ledger_verify_result *r, int64_t seq,
                                                          const char *fmt, ...) {
    if (seq < 1) seq = 1;
    if (r->bad_seq != 0 && r->bad_seq <= seq) return;
    r->bad_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->problem, sizeof(r->problem), fmt, ap);
    va_end(ap);
}

static void check_cp_head(verify_state *v, const trusted_cp *c, int64_t seq, const uint8_t h[32]) {
    if (memcmp(h, c->head, 32) == 0) {
        v->r->n_checkpoints++;
        return;
    }
    if (seq == 0)
        problem(v->r, 1, "checkpoint %s: signed an empty ledger, but its head is not zeros",
                c->name);
    else
        problem(v->r, seq,
                "seq %lld: differs from signed checkpoint %s (history rewritten at or before seq "
                "%lld)",
                (long long)seq, c->name, (long long)seq);
}

static int on_entry(void *ud, const ol_ledger_entry *e) {
    verify_state *v = ud;
    ol_ledger_verify_result *r = v->r;
    const int64_t want = v->last_seq + 1;
    uint8_t h[32];
    r->n_entries++;
    if (e->seq > want) {
        problem(r, want, "seq %lld: missing (deleted); the next entry is seq %lld", (long long)want,
                (long long)e->seq);
    } else if (e->seq < want) {
        problem(r, e->seq, "seq %lld: out of order (it follows seq %lld)", (long long)e->seq,
                (long long)v->last_seq);
    } else if (memcmp(e->prev, v->last_hash, 32) != 0) {
        if (e->seq == 1)
            problem(r, 1, "seq 1: does not start the chain (its prev hash is not zeros)");
        else
            problem(r, e->seq, "seq %lld: does not link to seq %lld (reordered or inserted)",
                    (long long)e->seq, (long long)v->last_seq);
    } else {
        ol_ledger_entry_hash(e, h);
        if (memcmp(h, e->hash, 32) != 0)
            problem(r, e->seq, "seq %lld: contents do not match its hash (the entry was edited)",
                    (long long)e->seq);
    }
    /* Checkpoints at a seq the scan skipped name a gap already reported at a lower seq. */
    while (v->next_cp < v->n_cps && v->cps[v->next_cp].size < e->seq) v->next_cp++;
    for (; v->next_cp < v->n_cps && v->cps[v->next_cp].size == e->seq; v->next_cp++)
        check_cp_head(v, &v->cps[v->next_cp], e->seq, e->hash);
    v->last_seq = e->seq;
    memcpy(v->last_hash, e->hash, 32);
    r->head_seq = e->seq;
    memcpy(r->head, e->hash, 32);
    return 0;
}

static int cmp_cp(const void *a, const void *b) {
    const trusted_cp *x = a, *y = b;
    return x->size < y->size ? -1 : x->size > y->size;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_trusted(verify_state *v, const ol_ledger_checkpoint *cp, const char *name) {
    if (v->n_cps == v->cap_cps) {
        const int cap = v->cap_cps ? 2 * v->cap_cps : 16;
        trusted_cp *n = realloc(v->cps, (size_t)cap * sizeof(*n));
        if (!n) return OL_ENOMEM;
        v->cps = n;
        v->cap_cps = cap;
    }
    trusted_cp *c = &v->cps[v->n_cps];
    if (!(c->name = strdup(name))) return OL_ENOMEM;
    c->size = cp->size;
    memcpy(c->head, cp->head, 32);
    v->n_cps++;
    return 0;
}

/* The error text without the "PATH: " prefix ol_ledger_checkpoint_read puts on it. */
static const char *detail(const ol_err *e, const char *path) {
    const size_t n = strlen(path);
    return strncmp(e->msg, path, n) == 0 && e->msg[n] == ':' ? e->msg + n + 2 : e->msg;
}

/* Read, authenticate and keep one checkpoint file; its problems go to v->file. */
static int check_file(verify_state *v, const char *dir, const char *name) {
    char path[4096];
    ol_ledger_checkpoint cp;
    ol_err e = {0};
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    v->n_files++;
    int rc = ol_ledger_checkpoint_read(path, &cp, &e);
    if (rc == OL_ENOMEM) return rc;
    const int64_t seq = cp.size > 0 ? cp.size : 1;
    const char *why = cp.size > 0 ? "" : " (seq 1 is named because its size is unknown or 0)";
    if (rc < 0) {
        problem(&v->file, seq, "checkpoint %s: %s (%s)%s", name,
                rc == OL_EIO ? "cannot be read" : "malformed", detail(&e, path), why);
        return 0;
    }
    if (v->n_keys == 0) {
        problem(&v->file, seq,
                "checkpoint %s: cannot be trusted: no public key was given to check its "
                "signature (pass the ledger key's .pub)%s",
                name, why);
        return 0;
    }
    for (int i = 0; i < v->n_keys; i++) {
        if (memcmp(v->pubs[i], cp.public_key, 32) != 0) continue;
        if (ol_ledger_checkpoint_signed_by(&cp, v->keys[i])) return add_trusted(v, &cp, name);
        problem(&v->file, seq, "checkpoint %s: signature does not verify (altered or forged)%s",
                name, why);
        return 0;
    }
    char hex[65];
    ol_ledger_hex(cp.public_key, 32, hex);
    problem(&v->file, seq, "checkpoint %s: signed by key %.16s..., which is not a trusted key%s",
            name, hex, why);
    return 0;
}

static bool is_checkpoint_name(const char *s) {
    const size_t n = strlen(s);
    return n > 16 && strncmp(s, "checkpoint-", 11) == 0 && strcmp(s + n - 5, ".json") == 0;
}

/* Every checkpoint-*.json in dir, in name order. A missing dir has none. */
static int load_checkpoints(verify_state *v, const char *dir, ol_err *err) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            problem(&v->file, 1, "checkpoint directory %s cannot be read: %s", dir,
                    strerror(errno));
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!is_checkpoint_name(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) goto oom;
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) goto oom;
        n++;
    }
    if (n > 1) qsort(names, n, sizeof(*names), cmp_name);
    for (size_t i = 0; i < n && rc == 0; i++) rc = check_file(v, dir, names[i]);
    if (rc < 0) goto oom;
    goto done;
oom:
    rc = ol_err_set(err, OL_ENOMEM, "%s: out of memory reading checkpoints", dir);
done:
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    closedir(d);
    if (v->n_cps > 1) qsort(v->cps, (size_t)v->n_cps, sizeof(*v->cps), cmp_cp);
    return rc;
}

static int load_keys(verify_state *v, const char *const *paths, int n, ol_err *err) {
    v->keys = calloc(n > 0 ? (size_t)n : 1, sizeof(*v->keys));
    v->pubs = calloc(n > 0 ? (size_t)n : 1, sizeof(*v->pubs));
    if (!v->keys || !v->pubs) return ol_err_set(err, OL_ENOMEM, "out of memory loading keys");
    for (; v->n_keys < n; v->n_keys++) {
        EVP_PKEY *k = ol_ledger_key_load(paths[v->n_keys], err);
        if (!k) return err ? err->code : OL_EFORMAT;
        v->keys[v->n_keys] = k;
        ol_ledger_key_public(k, v->pubs[v->n_keys]); /* cannot fail: the key is Ed25519 */
    }
    return 0;
}

/* After the scan: checkpoints past the last entry mean the tail was cut. */
static void check_tail(verify_state *v) {
    for (; v->next_cp < v->n_cps; v->next_cp++) {
        const trusted_cp *c = &v->cps[v->next_cp];
        if (c->size <= v->last_seq) continue; /* its seq was missing: reported as a gap */
        if (v->last_seq == 0)
            problem(v->r, 1,
                    "ledger truncated: checkpoint %s signed %lld entries, the ledger is "
                    "empty",
                    c->name, (long long)c->size);
        else
            problem(v->r, v->last_seq + 1,
                    "ledger truncated: checkpoint %s signed %lld entries, the ledger ends at seq "
                    "%lld",
                    c->name, (long long)c->size, (long long)v->last_seq);
    }
}

int ol_ledger_verify(const char *url, const char *checkpoint_dir, const char *const *key_paths,
                     int n_keys, ol_ledger_verify_result *r, ol_err *err) {
    verify_state v = {.r = r};
    memset(r, 0, sizeof(*r));
    int rc = n_keys < 0 || (n_keys > 0 && !key_paths) ? OL_EINVAL : 0;
    if (rc < 0) {
        ol_err_set(err, rc, "ledger verify: bad key list");
        goto done;
    }
    if ((rc = load_keys(&v, key_paths, n_keys, err)) < 0) goto done;
    if (checkpoint_dir && (rc = load_checkpoints(&v, checkpoint_dir, err)) < 0) goto done;
    static const uint8_t zeros[32];
    for (; v.next_cp < v.n_cps && v.cps[v.next_cp].size == 0; v.next_cp++)
        check_cp_head(&v, &v.cps[v.next_cp], 0, zeros);
    rc = ol_ledger_scan(url, 0, 0, on_entry, &v, err);
    if (rc < 0) goto done;
    rc = 0;
    check_tail(&v);
    if (v.file.bad_seq) problem(r, v.file.bad_seq, "%s", v.file.problem);
done:
    for (int i = 0; i < v.n_keys; i++) EVP_PKEY_free(v.keys[i]);
    free(v.keys);
    free(v.pubs);
    for (int i = 0; i < v.n_cps; i++) free(v.cps[i].name);
    free(v.cps);
    return rc;
}
