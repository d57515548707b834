/* adapters/source_dir.c: the "dir" adapter source (a local PEFT directory or .gguf file, used
 * in place) and the local-file helpers every source shares: SHA-256 of a file (OpenSSL EVP)
 * and recursive removal of a fetched temporary copy. Confinement of paths is the server's job;
 * here a path only has to exist. */
#include "adapters_internal.h"

#include <errno.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static bool dir_claims(const char *source) {
    return strstr(source, "://") == NULL;
}

static int dir_fetch(void *ctx, const char *source, const char *expected_sha256,
                     ol_adapter_fetch *out, ol_err *err) {
    struct stat st;
    if (stat(source, &st) != 0)
        return ol_err_set(err, OL_ENOENT, "%s: %s", source, strerror(errno));
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return ol_err_set(err, OL_EINVAL, "%s: not a directory or regular file", source);
    size_t n = strlen(source);
    if (n >= sizeof(out->path)) return ol_err_set(err, OL_EINVAL, "%s: path too long", source);
    if (expected_sha256) {
        char file[sizeof(out->path) + 32], hex[65];
        snprintf(file, sizeof(file), "%s%s", source,
                 S_ISDIR(st.st_mode) ? "/adapter_model.safetensors" : "");
        int rc = ol_adapter_sha256_file(file, hex, err);
        if (rc) return rc;
        rc = ol_adapter_sha256_check(file, hex, expected_sha256, err);
        if (rc) return rc;
    }
    memcpy(out->path, source, n + 1);
    out->remove_after = false;
    return 0;
}

void ol_adapter_source_dir_init(ol_adapter_source_vt *vt) {
    *vt = (ol_adapter_source_vt){.name = "dir", .claims = dir_claims, .fetch = dir_fetch};
}

bool ol_adapter_sha256_valid(const char *s) {
    for (int i = 0; i < 64; i++) {
        char ch = s[i];
        bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
        if (!hex) return false;
    }
    return s[64] == '\0';
}

int ol_adapter_sha256_file(const char *path, char hex[65], ol_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ol_err_set(err, OL_EIO, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = 0;
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        rc = ol_err_set(err, OL_ENOMEM, "%s: cannot start SHA-256", path);
        goto done;
    }
    unsigned char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof(buf), f)) > 0) EVP_DigestUpdate(md, buf, k);
    if (ferror(f)) {
        rc = ol_err_set(err, OL_EIO, "%s: read error", path);
        goto done;
    }
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(md, dig, &n);
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    hex[64] = '\0';
done:
    EVP_MD_CTX_free(md);
    fclose(f);
    return rc;
}

int ol_adapter_sha256_check(const char *what, const char *got, const char *want, ol_err *err) {
    if (strncasecmp(got, want, 64) == 0) return 0;
    return ol_err_set(err, OL_EFORMAT, "%s: sha256 mismatch: expected %.64s, got %.64s", what, want,
                      got);
}

void ol_adapter_fetch_remove(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        char sub[4400];
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < (int)sizeof(sub))
                ol_adapter_fetch_remove(sub);
        }
        closedir(d);
    }
    rmdir(path);
}
