/* adapters/source_http.c: the "http" adapter source. Downloads an http(s) URL with libcurl into
 * tmp_dir: each file goes to a mkstemp temporary, is hashed on the fly (SHA-256, checked against
 * the pin), then renamed into place, so the returned path never holds a partial file; on any
 * failure everything created goes. A URL ending in '/' is a PEFT directory (adapter_config.json
 * + adapter_model.safetensors into a mkdtemp directory, the pin covering the safetensors); any
 * other URL is one .gguf LoRA file. */
#include "adapters_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* curl_global_init is not thread-safe and must run once per process. */
static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool http_claims(const char *source) {
    return strncasecmp(source, "http://", 7) == 0 || strncasecmp(source, "https://", 8) == 0;
}

/* State of one transfer, seen by the write callback. */
typedef struct {
    CURL *h;
    FILE *f;
    EVP_MD_CTX *md;
    size_t n, max;
    long status;  /* HTTP status seen before any body byte was written */
    bool too_big; /* stopped by the max-size check */
    bool io_error;
} transfer;

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud) {
    transfer *t = ud;
    size_t k = size * nmemb;
    if (t->n == 0 && t->status == 0) {
        curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->status);
        if (t->status < 200 || t->status >= 300) return 0; /* do not store an error page */
    }
    if (k > t->max - t->n) { /* the server did not announce a length, or lied about it */
        t->too_big = true;
        return 0;
    }
    if (fwrite(p, 1, k, t->f) != k) {
        t->io_error = true;
        return 0;
    }
    EVP_DigestUpdate(t->md, p, k);
    t->n += k;
    return k;
}

static int perform_error(const ol_adapter_http_opts *o, const char *url, transfer *t, CURLcode cc,
                         const char *errbuf, ol_err *err) {
    if (t->status >= 300 && t->status < 400)
        return ol_err_set(err, OL_EIO,
                          "%s: HTTP status %ld (redirects are not followed: register the final "
                          "URL)",
                          url, t->status);
    if (t->status >= 400 || (t->status > 0 && t->status < 200))
        return ol_err_set(err, OL_EIO, "%s: HTTP status %ld", url, t->status);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return ol_err_set(err, OL_EIO, "%s: timed out after %ld ms (%s)", url, o->timeout_ms,
                          errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (t->too_big || cc == CURLE_FILESIZE_EXCEEDED)
        return ol_err_set(err, OL_ERANGE, "%s: larger than the %zu-byte download limit", url,
                          o->max_bytes);
    if (t->io_error) return ol_err_set(err, OL_EIO, "%s: cannot write the download", url);
    return ol_err_set(err, OL_EIO, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
}

static void set_options(CURL *h, const ol_adapter_http_opts *o, const char *url, transfer *t,
                        char *errbuf) {
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* loader threads: no SIGALRM for timeouts */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
    /* Redirects are not followed: a redirect could lead a download past the URL prefixes an
     * operator allowed (SSRF). A 3xx answer is an error naming the status. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_USERAGENT, "openlora");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
}

/* Download url to `final` through a mkstemp temporary in dir (final's directory, so the
 * rename is atomic); check the pin if given. */
static int download(const ol_adapter_http_opts *o, const char *url, const char *dir,
                    const char *final, const char *pin, ol_err *err) {
    char part[4200], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(part, sizeof(part), "%s/.ol-part-XXXXXX", dir);
    transfer t = {.max = o->max_bytes};
    int rc = 0, fd = mkstemp(part);
    if (fd < 0)
        return ol_err_set(err, OL_EIO, "%s: cannot create a temporary file: %s", part,
                          strerror(errno));
    t.f = fdopen(fd, "wb");
    t.md = EVP_MD_CTX_new();
    t.h = curl_easy_init();
    if (!t.f || !t.md || !t.h || !EVP_DigestInit_ex(t.md, EVP_sha256(), NULL)) {
        if (!t.f) close(fd);
        rc = ol_err_set(err, OL_ENOMEM, "%s: cannot start the download", url);
        goto done;
    }
    set_options(t.h, o, url, &t, errbuf);
    CURLcode cc = curl_easy_perform(t.h);
    long status = 0;
    curl_easy_getinfo(t.h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) t.status = status;
    if (cc != CURLE_OK || t.status < 200 || t.status >= 300) {
        rc = perform_error(o, url, &t, cc, errbuf, err);
        goto done;
    }
    if (fflush(t.f) != 0 || ferror(t.f)) {
        rc = ol_err_set(err, OL_EIO, "%s: cannot write the download", part);
        goto done;
    }
    if (pin) {
        unsigned char dig[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        char hex[65];
        EVP_DigestFinal_ex(t.md, dig, &n);
        for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", dig[i]);
        rc = ol_adapter_sha256_check(url, hex, pin, err);
        if (rc) goto done;
    }
done:
    if (t.f && fclose(t.f) != 0 && !rc) rc = ol_err_set(err, OL_EIO, "%s: close failed", part);
    if (!rc && rename(part, final) != 0)
        rc = ol_err_set(err, OL_EIO, "%s: cannot rename into place: %s", final, strerror(errno));
    if (rc) unlink(part);
    curl_easy_cleanup(t.h);
    EVP_MD_CTX_free(t.md);
    return rc;
}

static int http_fetch(void *ctx, const char *source, const char *expected_sha256,
                      ol_adapter_fetch *out, ol_err *err) {
    const ol_adapter_http_opts *o = ctx;
    pthread_once(&g_curl_once, curl_init_once);
    size_t len = strlen(source);
    if (len == 0 || len > OL_ADAPTER_SOURCE_MAX)
        return ol_err_set(err, OL_EINVAL, "source URL empty or too long (%zu bytes)", len);
    bool is_dir = source[len - 1] == '/';
    /* the path returned: a fresh directory (PEFT) or a reserved empty file name (.gguf) */
    char path[sizeof(out->path)], url[OL_ADAPTER_SOURCE_MAX + 64], file[sizeof(path) + 64];
    int n =
        snprintf(path, sizeof(path), "%s/ol-adapter-XXXXXX%s", o->tmp_dir, is_dir ? "" : ".gguf");
    if (n < 0 || (size_t)n + 64 >= sizeof(path))
        return ol_err_set(err, OL_EINVAL, "%s: tmp_dir path too long", o->tmp_dir);
    int fd = -1;
    if (is_dir ? !mkdtemp(path) : (fd = mkstemps(path, 5)) < 0)
        return ol_err_set(err, OL_EIO, "%s: cannot create a download target: %s", o->tmp_dir,
                          strerror(errno));
    if (fd >= 0) close(fd);
    int rc;
    if (is_dir) {
        snprintf(url, sizeof(url), "%sadapter_config.json", source);
        snprintf(file, sizeof(file), "%s/adapter_config.json", path);
        rc = download(o, url, path, file, NULL, err);
        if (!rc) {
            snprintf(url, sizeof(url), "%sadapter_model.safetensors", source);
            snprintf(file, sizeof(file), "%s/adapter_model.safetensors", path);
            rc = download(o, url, path, file, expected_sha256, err);
        }
    } else {
        rc = download(o, source, o->tmp_dir, path, expected_sha256, err);
    }
    if (rc) {
        ol_adapter_fetch_remove(path);
        return rc;
    }
    memcpy(out->path, path, sizeof(path));
    out->remove_after = true;
    return 0;
}

void ol_adapter_source_http_init(ol_adapter_source_vt *vt, const ol_adapter_http_opts *o) {
    *vt = (ol_adapter_source_vt){
        .name = "http", .claims = http_claims, .fetch = http_fetch, .ctx = (void *)o};
}
