/* ledger/checkpoint.c: signed checkpoints, the ledger's defence against a rewritten or truncated
 * tail. A checkpoint is a small JSON file, written atomically (temp file, fsync, rename, fsync
 * of the directory), holding an Ed25519 signature over the message in ledger.h's opening comment:
 *   {"version":1,"size":N,"head":"<64 hex>","time_ns":T,"public_key":"<64 hex>",
 *    "signature":"<128 hex>"}
 * Readers treat the file as hostile: every field is type- and length-checked. */
#include "ledger/ledger_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#define CP_DOMAIN   "openlora-ledger-checkpoint-v1" /* signed with its NUL: 30 bytes */
#define CP_MSG_LEN  (sizeof(CP_DOMAIN) + 8 + 32 + 8)
#define CP_FILE_MAX 4096 /* a checkpoint is ~300 bytes */

static void put_be64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* domain || u64 size || head[32] || i64 time_ns, big-endian */
static void message(int64_t size, const uint8_t head[32], int64_t time_ns, uint8_t m[CP_MSG_LEN]) {
    memcpy(m, CP_DOMAIN, sizeof(CP_DOMAIN));
    put_be64(m + sizeof(CP_DOMAIN), (uint64_t)size);
    memcpy(m + sizeof(CP_DOMAIN) + 8, head, 32);
    put_be64(m + sizeof(CP_DOMAIN) + 40, (uint64_t)time_ns);
}

/* mkdir -p, new directories 0700. */
static int mkdir_p(const char *dir, ol_err *err) {
    char *p = strdup(dir);
    if (!p) return ol_err_set(err, OL_ENOMEM, "%s: out of memory", dir);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != 0) continue;
        const char c = *s;
        *s = 0;
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            rc = ol_err_set(err, OL_EIO, "%s: cannot create directory: %s", p, strerror(errno));
            break;
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    struct stat st;
    if (rc == 0 && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
        rc = ol_err_set(err, OL_EIO, "%s: not a directory", dir);
    return rc;
}

static int sign(EVP_PKEY *key, const uint8_t *msg, size_t n, uint8_t sig[64], ol_err *err) {
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t len = 64;
    int ok = c && EVP_DigestSignInit(c, NULL, NULL, NULL, key) == 1 &&
             EVP_DigestSign(c, sig, &len, msg, n) == 1 && len == 64;
    EVP_MD_CTX_free(c);
    ERR_clear_error();
    return ok ? 0
              : ol_err_set(err, OL_EINVAL, "cannot sign checkpoint (not an Ed25519 private key?)");
}

/* Write text to dir/name so that a crash leaves either the old file or the whole new one. */
static int write_atomic(const char *dir, const char *name, const char *text, ol_err *err) {
    char tmp[4096], dst[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= sizeof(tmp) ||
        (size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= sizeof(dst))
        return ol_err_set(err, OL_EINVAL, "%s: checkpoint path too long", dir);
    int fd = mkstemp(tmp), rc = 0;
    if (fd < 0) return ol_err_set(err, OL_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    if (ol_ledger_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
        rc = ol_err_set(err, OL_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        close(fd);
        goto fail;
    }
    if (close(fd) < 0 || rename(tmp, dst) < 0) {
        rc = ol_err_set(err, OL_EIO, "%s: cannot write: %s", dst, strerror(errno));
        goto fail;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0)
        rc = ol_err_set(err, OL_EIO, "%s: cannot sync directory: %s", dir, strerror(errno));
    if (dfd >= 0) close(dfd);
    return rc;
fail:
    unlink(tmp);
    return rc;
}

int ol_ledger_checkpoint_write(const char *dir, EVP_PKEY *key, int64_t size, const uint8_t head[32],
                               int64_t time_ns, ol_err *err) {
    uint8_t pub[32], sig[64], msg[CP_MSG_LEN];
    if (!dir || !*dir || !key || size < 0)
        return ol_err_set(err, OL_EINVAL, "checkpoint: needs a directory, a key and a size >= 0");
    if (ol_ledger_key_public(key, pub) < 0)
        return ol_err_set(err, OL_EINVAL, "checkpoint: the signing key is not Ed25519");
    message(size, head, time_ns, msg);
    int rc = sign(key, msg, sizeof(msg), sig, err);
    if (rc < 0) return rc;
    if ((rc = mkdir_p(dir, err)) < 0) return rc;

    char head_hex[65], pub_hex[65], sig_hex[129], name[64], text[512];
    ol_ledger_hex(head, 32, head_hex);
    ol_ledger_hex(pub, 32, pub_hex);
    ol_ledger_hex(sig, 64, sig_hex);
    snprintf(name, sizeof(name), "checkpoint-%012lld.json", (long long)size);
    snprintf(text, sizeof(text),
             "{\"version\":1,\"size\":%lld,\"head\":\"%s\",\"time_ns\":%lld,"
             "\"public_key\":\"%s\",\"signature\":\"%s\"}\n",
             (long long)size, head_hex, (long long)time_ns, pub_hex, sig_hex);
    return write_atomic(dir, name, text, err);
}

/* ---- reading ---------------------------------------------------------------------------- */

static int read_bounded(const char *path, char *buf, size_t cap, size_t *n, ol_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ol_err_set(err, OL_EIO, "cannot open: %s", strerror(errno));
    *n = fread(buf, 1, cap, f);
    const int bad = ferror(f);
    fclose(f);
    if (bad) return ol_err_set(err, OL_EIO, "read error");
    if (*n == cap) return ol_err_set(err, OL_EFORMAT, "larger than %zu bytes", cap - 1);
    return 0;
}

static int get_int(json_t *o, const char *k, int64_t *v, ol_err *err) {
    json_t *j = json_object_get(o, k);
    if (!json_is_integer(j)) return ol_err_set(err, OL_EFORMAT, "\"%s\" is not an integer", k);
    *v = (int64_t)json_integer_value(j);
    return 0;
}

static int get_hex(json_t *o, const char *k, uint8_t *b, size_t n, ol_err *err) {
    json_t *j = json_object_get(o, k);
    if (!json_is_string(j) || ol_ledger_unhex(json_string_value(j), b, n) < 0)
        return ol_err_set(err, OL_EFORMAT, "\"%s\" is not %zu hex digits", k, 2 * n);
    return 0;
}

static int parse(const char *text, size_t n, ol_ledger_checkpoint *cp, ol_err *err) {
    json_error_t je;
    json_t *o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    int64_t version = 0;
    int rc = 0;
    if (!json_is_object(o)) {
        rc = o ? ol_err_set(err, OL_EFORMAT, "not a JSON object")
               : ol_err_set(err, OL_EFORMAT, "invalid JSON at line %d: %s", je.line, je.text);
        goto done;
    }
    if ((rc = get_int(o, "version", &version, err)) < 0) goto done;
    if (version != 1) {
        rc = ol_err_set(err, OL_EFORMAT, "version %lld is not 1", (long long)version);
        goto done;
    }
    int64_t size = -1;
    if ((rc = get_int(o, "size", &size, err)) < 0) goto done;
    if (size < 0) {
        rc = ol_err_set(err, OL_EFORMAT, "\"size\" %lld is negative", (long long)size);
        goto done;
    }
    cp->size = size;
    if ((rc = get_int(o, "time_ns", &cp->time_ns, err)) < 0 ||
        (rc = get_hex(o, "head", cp->head, 32, err)) < 0 ||
        (rc = get_hex(o, "public_key", cp->public_key, 32, err)) < 0 ||
        (rc = get_hex(o, "signature", cp->signature, 64, err)) < 0)
        goto done;
done:
    json_decref(o);
    return rc;
}

int ol_ledger_checkpoint_read(const char *path, ol_ledger_checkpoint *cp, ol_err *err) {
    memset(cp, 0, sizeof(*cp));
    cp->size = -1;
    char buf[CP_FILE_MAX + 1];
    size_t n = 0;
    int rc = read_bounded(path, buf, sizeof(buf), &n, err);
    if (rc == 0) rc = parse(buf, n, cp, err);
    if (rc < 0) ol_err_prefix(err, path);
    return rc;
}

bool ol_ledger_checkpoint_signed_by(const ol_ledger_checkpoint *cp, EVP_PKEY *key) {
    uint8_t msg[CP_MSG_LEN];
    message(cp->size, cp->head, cp->time_ns, msg);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    const bool ok = c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, key) == 1 &&
                    EVP_DigestVerify(c, cp->signature, 64, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(c);
    ERR_clear_error();
    return ok;
}
