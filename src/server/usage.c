/* server/usage.c: the server's side of the attribution ledger: opening it, the usage record of a
 * finished request (built on the engine thread from what the request snapshot at admission),
 * registry records for adapter versions, the digest that identifies an adapter's files, and
 * GET /v1/usage (the ledger report over HTTP, admin scope). */
#include "server/server_internal.h"

#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int srv_ledger_open(ol_server *s, ol_err *err) {
    if (!s->cfg.ledger_url) {
        ol_log(OL_LOG_WARN, "serve: the usage ledger is off (--no-ledger): served tokens are "
                            "not attributed");
        return 0;
    }
    ol_ledger_config lc;
    ol_ledger_config_default(&lc);
    lc.url = s->cfg.ledger_url;
    lc.checkpoint_dir = s->cfg.ledger_checkpoint_dir;
    lc.key_path = s->cfg.ledger_key;
    if (s->cfg.ledger_checkpoint_s > 0) lc.checkpoint_interval_s = s->cfg.ledger_checkpoint_s;
    s->ledger = ol_ledger_open(&lc, err);
    return s->ledger ? 0 : -1;
}

void srv_key_id(const srv_key *k, char out[SRV_KEY_ID_MAX]) {
    if (!k) {
        out[0] = 0;
        return;
    }
    memcpy(out, "key-", 4);
    for (int i = 0; i < 6; i++) sprintf(out + 4 + 2 * i, "%02x", k->hash[i]);
}

/* ---- adapter identity ----------------------------------------------------------------------- */

static int digest_file(EVP_MD_CTX *md, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) EVP_DigestUpdate(md, buf, (size_t)n);
    close(fd);
    return n < 0 ? -1 : 0;
}

/* Finish md into 64 lowercase hex digits; frees md. 0 or -1. */
static int digest_hex(EVP_MD_CTX *md, char hex[65]) {
    unsigned char h[32];
    unsigned int n = 0;
    const bool ok = EVP_DigestFinal_ex(md, h, &n) && n == 32;
    EVP_MD_CTX_free(md);
    if (!ok) return -1;
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", h[i]);
    return 0;
}

static EVP_MD_CTX *digest_new(void) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        md = NULL;
    }
    return md;
}

int srv_source_sha256(const char *path, char hex[65]) {
    static const char *const files[] = {"adapter_config.json", "adapter_model.safetensors"};
    struct stat st;
    if (stat(path, &st)) return -1;
    EVP_MD_CTX *md = digest_new();
    if (!md) return -1;
    int rc = 0;
    if (S_ISDIR(st.st_mode)) {
        /* a PEFT directory: each weight-bearing file, named, in a fixed order */
        for (size_t i = 0; !rc && i < OL_ARRAY_LEN(files); i++) {
            char f[4200];
            snprintf(f, sizeof(f), "%s/%s", path, files[i]);
            EVP_DigestUpdate(md, files[i], strlen(files[i]) + 1);
            rc = digest_file(md, f);
        }
    } else {
        rc = digest_file(md, path);
    }
    if (rc) {
        EVP_MD_CTX_free(md);
        return -1;
    }
    return digest_hex(md, hex);
}

/* Contributors as registered, normalized to [{"id", "share"}] (openlora.json may say "name"). */
static json_t *contributors(json_t *meta) {
    json_t *out = json_array(), *c = json_object_get(meta, "contributors"), *it;
    size_t i;
    json_array_foreach(c, i, it) {
        json_t *id = json_object_get(it, "id");
        if (!json_is_string(id)) id = json_object_get(it, "name");
        json_t *sh = json_object_get(it, "share");
        if (json_is_string(id) && json_is_number(sh))
            json_array_append_new(out,
                                  json_pack("{s:O,s:f}", "id", id, "share", json_number_value(sh)));
    }
    return out;
}

static json_t *str_or_null(json_t *meta, const char *k) {
    json_t *v = json_object_get(meta, k);
    return json_is_string(v) ? json_incref(v) : json_null();
}

json_t *srv_adapter_attribution(const srv_adapter *a) {
    json_t *meta = a->meta ? json_loads(a->meta, 0, NULL) : NULL;
    json_t *j = json_pack("{s:s,s:I,s:o,s:o,s:o,s:o,s:o}", "name", a->name, "version",
                          (json_int_t)a->version, "sha256",
                          a->sha256 ? json_string(a->sha256) : json_null(), "owner",
                          str_or_null(meta, "owner"), "contributors", contributors(meta), "datanet",
                          str_or_null(meta, "datanet"), "license", str_or_null(meta, "license"));
    json_decref(meta);
    return j;
}

json_t *srv_usage_adapters(ol_server *s, const ol_adapter_weight *w, int n) {
    json_t *arr = json_array();
    pthread_mutex_lock(&s->ad_mu);
    for (int i = 0; arr && i < n; i++) {
        json_t *j = NULL;
        for (const srv_adapter *a = s->adapters; a; a = a->next)
            if (!strcmp(a->name, w[i].name)) {
                j = json_deep_copy(a->attrib); /* built once, at registration */
                break;
            }
        if (!j) j = json_pack("{s:s}", "name", w[i].name); /* unregistered meanwhile */
        if (j) json_object_set_new(j, "weight", json_real(w[i].weight));
        json_array_append_new(arr, j);
    }
    pthread_mutex_unlock(&s->ad_mu);
    return arr;
}

json_t *srv_usage_body(const srv_usage *u) {
    json_t *ads = json_deep_copy(u->adapters);
    if (!ads) ads = json_array();
    for (int i = 0; i < u->n_versions && i < (int)json_array_size(ads); i++)
        json_object_set_new(json_array_get(ads, (size_t)i), "version",
                            json_integer((json_int_t)u->versions[i]));
    return json_pack("{s:i,s:s,s:s,s:s,s:o,s:s,s:s,s:o,s:i,s:i,s:i,s:i,s:s,s:f,s:f,s:f}", "v", 1,
                     "type", "usage", "request_id", u->request_id, "key_id", u->key_id, "user",
                     u->user ? json_string(u->user) : json_null(), "endpoint", u->endpoint, "model",
                     u->model, "adapters", ads, "n", u->n, "prompt_tokens", u->prompt_tokens,
                     "completion_tokens", u->completion_tokens, "cached_tokens", u->cached_tokens,
                     "finish_reason", u->finish, "queue_ms", u->queue_ms, "ttft_ms", u->ttft_ms,
                     "total_ms", u->total_ms);
}

/* ---- registry records ----------------------------------------------------------------------- */

int srv_ledger_register(ol_server *s, const srv_adapter *a, ol_err *err) {
    if (!s->ledger) return 0;
    json_t *body = json_deep_copy(a->attrib);
    if (!body) return ol_err_set(err, OL_ENOMEM, "out of memory");
    json_object_set_new(body, "v", json_integer(1));
    json_object_set_new(body, "type", json_string("adapter"));
    json_object_set_new(body, "source", json_string(a->source));
    json_object_set_new(body, "served_model", json_string(s->served_name));
    /* one record per (name, files): a restart re-registering the same files adds nothing. The
     * dedup id is SHA-256(name NUL sha256) in hex: 64 characters whatever the name's length. */
    char rid[65] = "";
    if (a->sha256) {
        EVP_MD_CTX *md = digest_new();
        bool ok = md && EVP_DigestUpdate(md, a->name, strlen(a->name) + 1) &&
                  EVP_DigestUpdate(md, a->sha256, strlen(a->sha256));
        if (!ok) EVP_MD_CTX_free(md);
        if (!ok || digest_hex(md, rid)) { /* digest_hex frees md */
            json_decref(body);
            return ol_err_set(err, OL_ENOMEM, "out of memory");
        }
    }
    int64_t seq = 0;
    int rc = ol_ledger_append_wait(s->ledger, "adapter", "registry", a->sha256 ? rid : NULL, body,
                                   30000, &seq);
    json_decref(body);
    if (rc == OL_LEDGER_COMMITTED || rc == OL_LEDGER_DUPLICATE) return 0;
    return ol_err_set(err, OL_EIO, "the usage ledger could not record adapter %s (%s)", a->name,
                      rc == OL_LEDGER_FAILED ? "store failure" : ol_strerror(rc));
}

/* ---- GET /v1/usage ------------------------------------------------------------------------ */

static int arg_time(srv_conn *c, const char *k, int64_t *ns, srv_error *e) {
    const char *v = MHD_lookup_connection_value(c->mc, MHD_GET_ARGUMENT_KIND, k);
    *ns = 0;
    if (!v || !*v) return 0;
    if (ol_ledger_time_parse(v, ns))
        return srv_fail(e, 400, k, NULL,
                        "`%s` must be unix seconds or an ISO 8601 time (2026-11-28T10:00:00Z).", k);
    return 0;
}

enum MHD_Result srv_handle_usage(srv_conn *c) {
    ol_server *s = c->s;
    srv_error e;
    if (!s->ledger) {
        srv_fail(&e, 404, NULL, "ledger_off", "The usage ledger is off on this server.");
        return srv_reply_error(c, &e);
    }
    ol_ledger_report_params p = {.price_per_1k = -1};
    const char *price =
        MHD_lookup_connection_value(c->mc, MHD_GET_ARGUMENT_KIND, "price_per_1k_tokens");
    if (arg_time(c, "since", &p.since_ns, &e) || arg_time(c, "until", &p.until_ns, &e))
        return srv_reply_error(c, &e);
    if (price && *price) {
        char *end;
        p.price_per_1k = strtod(price, &end);
        if (*end || !isfinite(p.price_per_1k) || p.price_per_1k < 0) {
            srv_fail(&e, 400, "price_per_1k_tokens", NULL,
                     "`price_per_1k_tokens` must be a non-negative number.");
            return srv_reply_error(c, &e);
        }
    }
    ol_err err = {0};
    json_t *r = ol_ledger_report(ol_ledger_url(s->ledger), &p, &err);
    if (!r) {
        srv_fail(&e, 503, NULL, "ledger_unavailable", "The usage ledger cannot be read: %.400s",
                 err.msg);
        return srv_reply_error(c, &e);
    }
    return srv_reply_json(c, 200, r);
}
