/* ledger/key.c: the Ed25519 signing key for checkpoints, kept as PEM outside the database so that
 * whoever can rewrite the database cannot re-sign it. The server loads its private key or creates
 * one (0600, with PATH.pub beside it for verifiers); verify loads private or public keys. Also the
 * small byte helpers the ledger shares: hex and id validation. */
#include "ledger/ledger_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#define KEY_FILE_MAX 65536 /* a PEM Ed25519 key is ~120 bytes; anything this big is not one */

void ol_ledger_hex(const uint8_t *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int ol_ledger_unhex(const char *s, uint8_t *b, size_t n) {
    if (!s || strlen(s) != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

bool ol_ledger_id_valid(const char *s, bool may_be_empty) {
    if (!s) return false;
    size_t n = 0;
    for (; s[n]; n++) {
        if ((unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e) return false;
        if (n >= OL_LEDGER_ID_MAX) return false;
    }
    return n > 0 || may_be_empty;
}

int ol_ledger_key_public(EVP_PKEY *k, uint8_t pub[32]) {
    size_t n = 32;
    if (!k || !EVP_PKEY_is_a(k, "ED25519") || EVP_PKEY_get_raw_public_key(k, pub, &n) != 1 ||
        n != 32) {
        ERR_clear_error();
        return OL_EINVAL;
    }
    return 0;
}

/* Read a whole small file. OL_ENOENT (err untouched) when it does not exist. */
static int read_small(const char *path, char **out, size_t *len, ol_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return OL_ENOENT;
        return ol_err_set(err, OL_EIO, "%s: cannot open key: %s", path, strerror(errno));
    }
    char *buf = malloc(KEY_FILE_MAX + 1);
    size_t n = 0;
    int rc = 0;
    if (!buf) {
        rc = ol_err_set(err, OL_ENOMEM, "%s: out of memory reading key", path);
        goto fail;
    }
    for (;;) {
        ssize_t got = read(fd, buf + n, KEY_FILE_MAX + 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            rc = ol_err_set(err, OL_EIO, "%s: cannot read key: %s", path, strerror(errno));
            goto fail;
        }
        if (got == 0) break;
        n += (size_t)got;
        if (n > KEY_FILE_MAX) {
            rc = ol_err_set(err, OL_EFORMAT, "%s: too large to be a PEM key", path);
            goto fail;
        }
    }
    close(fd);
    *out = buf;
    *len = n;
    return 0;
fail:
    free(buf);
    close(fd);
    return rc;
}

/* Refuse anything but Ed25519, naming the file and what it holds instead. */
static EVP_PKEY *check_ed25519(EVP_PKEY *k, const char *path, ol_err *err) {
    if (EVP_PKEY_is_a(k, "ED25519")) return k;
    const char *type = EVP_PKEY_get0_type_name(k);
    ol_err_set(err, OL_EFORMAT, "%s: key is %s, not Ed25519 (the ledger signs with Ed25519)", path,
               type ? type : "of an unknown type");
    EVP_PKEY_free(k);
    return NULL;
}

/* Keys are not passphrase-protected: without this OpenSSL would prompt on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
    return -1;
}

/* Parse PEM text: a private key, or (when allow_public) a public key. */
static EVP_PKEY *parse_pem(const char *pem, size_t len, const char *path, bool allow_public,
                           ol_err *err) {
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        ol_err_set(err, OL_ENOMEM, "%s: out of memory parsing key", path);
        return NULL;
    }
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (!k && allow_public && BIO_reset(bio) == 1)
        k = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (!k) {
        ol_err_set(err, OL_EFORMAT, "%s: not a PEM %s key", path,
                   allow_public ? "Ed25519 private or public" : "Ed25519 private");
        return NULL;
    }
    return check_ed25519(k, path, err);
}

EVP_PKEY *ol_ledger_key_load(const char *path, ol_err *err) {
    char *pem = NULL;
    size_t len = 0;
    int rc = read_small(path, &pem, &len, err);
    if (rc == OL_ENOENT) ol_err_set(err, OL_ENOENT, "%s: key file does not exist", path);
    if (rc < 0) return NULL;
    EVP_PKEY *k = parse_pem(pem, len, path, true, err);
    OPENSSL_cleanse(pem, len);
    free(pem);
    return k;
}

int ol_ledger_write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync the directory holding path, so a new name in it survives a crash. */
static void fsync_parent(const char *path) {
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

/* Create path (flags include O_CREAT) holding the PEM that write_pem puts in a memory BIO. */
static int write_pem_file(const char *path, int flags, mode_t mode, EVP_PKEY *k, bool private,
                          ol_err *err) {
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = bio && (private ? PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)
                             : PEM_write_bio_PUBKEY(bio, k));
    ERR_clear_error();
    if (!ok) {
        BIO_free(bio);
        return ol_err_set(err, OL_ENOMEM, "%s: cannot encode key as PEM", path);
    }
    char *pem = NULL;
    long len = BIO_get_mem_data(bio, &pem);
    int rc = 0, fd = open(path, flags | O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = ol_err_set(err, errno == EEXIST ? OL_EAGAIN : OL_EIO, "%s: cannot create: %s", path,
                        strerror(errno));
        goto done;
    }
    if (ol_ledger_write_all(fd, pem, (size_t)len) < 0 || fsync(fd) < 0) {
        rc = ol_err_set(err, OL_EIO, "%s: cannot write: %s", path, strerror(errno));
        unlink(path); /* a partial key would be refused at every later start */
    }
    close(fd);
    if (rc == 0) fsync_parent(path);
done:
    BIO_free(bio); /* a mem BIO clears its buffer on free */
    return rc;
}

static int write_pub(const char *path, EVP_PKEY *k, ol_err *err) {
    size_t n = strlen(path) + 5;
    char *pub = malloc(n);
    if (!pub) return ol_err_set(err, OL_ENOMEM, "%s: out of memory", path);
    snprintf(pub, n, "%s.pub", path);
    int rc = write_pem_file(pub, O_CREAT | O_TRUNC, 0644, k, false, err);
    free(pub);
    return rc;
}

static EVP_PKEY *create_key(const char *path, ol_err *err) {
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!k) {
        ERR_clear_error();
        ol_err_set(err, OL_ENOMEM, "%s: cannot generate an Ed25519 key", path);
        return NULL;
    }
    /* Written whole under a temporary name, then linked into place: link() fails if the name
     * exists, so of two servers creating the key at once one wins and the other reads a complete
     * file, never a half-written one. */
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        EVP_PKEY_free(k);
        ol_err_set(err, OL_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    unlink(tmp);
    int rc = write_pem_file(tmp, O_CREAT | O_EXCL, 0600, k, true, err);
    if (rc == 0 && link(tmp, path) != 0)
        rc = ol_err_set(err, errno == EEXIST ? OL_EAGAIN : OL_EIO, "%s: cannot create: %s", path,
                        strerror(errno));
    else if (rc == 0)
        fsync_parent(path);
    unlink(tmp);
    free(tmp);
    if (rc == 0 && (rc = write_pub(path, k, err)) < 0)
        unlink(path); /* all or nothing: the next start creates both again */
    if (rc < 0) {
        EVP_PKEY_free(k);
        return NULL;
    }
    ol_log(OL_LOG_INFO, "ledger: created signing key %s (public key in %s.pub)", path, path);
    return k;
}

EVP_PKEY *ol_ledger_key_load_or_create(const char *path, ol_err *err) {
    char *pem = NULL;
    size_t len = 0;
    int rc = read_small(path, &pem, &len, err);
    if (rc == OL_ENOENT) {
        ol_err err2;
        EVP_PKEY *k = create_key(path, &err2);
        if (k || err2.code != OL_EAGAIN) {
            if (!k && err) *err = err2;
            return k;
        }
        /* Another process created it between our open and O_EXCL: use theirs. */
        rc = read_small(path, &pem, &len, err);
        if (rc == OL_ENOENT) ol_err_set(err, OL_EIO, "%s: key file vanished", path);
    }
    if (rc < 0) return NULL;
    EVP_PKEY *k = parse_pem(pem, len, path, false, err);
    OPENSSL_cleanse(pem, len);
    free(pem);
    struct stat st;
    if (k && stat(path, &st) == 0 && (st.st_mode & 077))
        ol_log(OL_LOG_WARN, "ledger: signing key %s is readable by others (mode %03o); chmod 600",
               path, (unsigned)(st.st_mode & 0777));
    return k;
}
