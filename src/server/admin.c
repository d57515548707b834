/* server/admin.c: GET /v1/models, adapter administration (/v1/adapters, vLLM's
 * load_lora_adapter / unload_lora_adapter) and the start-up scan of --adapters-dir. Sources are
 * confined: local paths must resolve (realpath) inside an adapters dir, URLs must start with an
 * allowed prefix. The table here is for listings; the engine holds the real registry. */
#define _GNU_SOURCE /* strcasestr */
#include "server_internal.h"

#include "model/model.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the table ---------------------------------------------------------------------------- */

bool srv_adapter_name_valid(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > SRV_NAME_MAX || name[0] == '.') return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i])) return false;
    return true;
}

static srv_adapter **table_find(ol_server *s, const char *name) {
    srv_adapter **p = &s->adapters;
    while (*p && strcmp((*p)->name, name) < 0) p = &(*p)->next;
    return p;
}

bool srv_adapter_exists(ol_server *s, const char *name) {
    pthread_mutex_lock(&s->ad_mu);
    srv_adapter **p = table_find(s, name);
    bool found = *p && !strcmp((*p)->name, name);
    pthread_mutex_unlock(&s->ad_mu);
    return found;
}

static void adapter_free(srv_adapter *a) {
    if (!a) return;
    free(a->name);
    free(a->source);
    free(a->meta);
    free(a->sha256);
    json_decref(a->attrib);
    free(a);
}

/* Insert or replace (a newer version of the name). Takes a. */
static void table_put(ol_server *s, srv_adapter *a) {
    pthread_mutex_lock(&s->ad_mu);
    srv_adapter **p = table_find(s, a->name), *old = NULL;
    if (*p && !strcmp((*p)->name, a->name)) old = *p, *p = old->next;
    a->next = *p;
    *p = a;
    pthread_mutex_unlock(&s->ad_mu);
    adapter_free(old);
}

static bool table_del(ol_server *s, const char *name) {
    pthread_mutex_lock(&s->ad_mu);
    srv_adapter **p = table_find(s, name), *old = NULL;
    if (*p && !strcmp((*p)->name, name)) old = *p, *p = old->next;
    pthread_mutex_unlock(&s->ad_mu);
    adapter_free(old);
    return old != NULL;
}

void srv_adapters_free(ol_server *s) {
    for (srv_adapter *a = s->adapters, *next; a; a = next) next = a->next, adapter_free(a);
    s->adapters = NULL;
}

/* Register with the engine, record it in the table and in the ledger's registry. Returns the
 * engine's code (OL_EIO: the ledger could not record it; the registration is undone); a is
 * taken. sha256: pinned digest or NULL (then the files' digest for local sources). */
static int adapter_add(ol_server *s, srv_adapter *a, const char *resolved, const char *sha256,
                       ol_err *err) {
    char hex[65];
    if (sha256 || !srv_source_sha256(resolved, hex)) {
        if (!(a->sha256 = strdup(sha256 ? sha256 : hex))) {
            adapter_free(a);
            return ol_err_set(err, OL_ENOMEM, "out of memory");
        }
        for (char *p = a->sha256; *p; p++) *p = (char)tolower((unsigned char)*p);
    }
    int rc =
        ol_engine_adapter_register(s->eng, a->name, resolved, sha256, a->meta, &a->version, err);
    if (rc) {
        adapter_free(a);
        return rc;
    }
    a->created = srv_unix_time();
    if (!(a->attrib = srv_adapter_attribution(a))) rc = ol_err_set(err, OL_ENOMEM, "out of memory");
    if (rc || (rc = srv_ledger_register(s, a, err))) {
        ol_engine_adapter_unregister(s->eng, a->name, NULL);
        adapter_free(a);
        return rc;
    }
    table_put(s, a);
    return 0;
}

static srv_adapter *adapter_new(const char *name, const char *source, const char *meta) {
    srv_adapter *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->name = strdup(name);
    a->source = strdup(source);
    a->meta = meta ? strdup(meta) : NULL;
    if (!a->name || !a->source || (meta && !a->meta)) {
        adapter_free(a);
        return NULL;
    }
    return a;
}

/* ---- start-up scan ------------------------------------------------------------------------ */

/* openlora.json next to the adapter, as compact JSON text (NULL if absent or not an object). */
static char *dir_meta(const char *path) {
    char file[4200];
    if ((size_t)snprintf(file, sizeof(file), "%s/openlora.json", path) >= sizeof(file)) return NULL;
    json_t *j = json_load_file(file, JSON_REJECT_DUPLICATES, NULL);
    char *text = json_is_object(j) ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

static void scan_entry(ol_server *s, const char *dir, const char *entry) {
    char path[4096], name[SRV_NAME_MAX + 8], probe[4200];
    struct stat st;
    if (entry[0] == '.' ||
        (size_t)snprintf(path, sizeof(path), "%s/%s", dir, entry) >= sizeof(path))
        return;
    if (stat(path, &st)) return;
    size_t n = strlen(entry);
    if (S_ISDIR(st.st_mode)) {
        snprintf(probe, sizeof(probe), "%s/adapter_config.json", path);
        if (access(probe, R_OK) || n > SRV_NAME_MAX) return;
        memcpy(name, entry, n + 1);
    } else if (S_ISREG(st.st_mode) && n > 5 && n - 5 <= SRV_NAME_MAX &&
               !strcmp(entry + n - 5, ".gguf")) {
        memcpy(name, entry, n - 5);
        name[n - 5] = 0;
    } else {
        return;
    }
    if (!srv_adapter_name_valid(name) || srv_adapter_exists(s, name)) return;
    char *meta = S_ISDIR(st.st_mode) ? dir_meta(path) : NULL;
    srv_adapter *a = adapter_new(name, path, meta);
    free(meta);
    ol_err err = {0};
    if (!a || adapter_add(s, a, path, NULL, &err))
        ol_log(OL_LOG_WARN, "serve: adapter %s (%s) not registered: %s", name, path,
               a ? err.msg : "out of memory");
}

int srv_adapters_scan(ol_server *s, ol_err *err) {
    for (int i = 0; i < s->n_dirs; i++) {
        DIR *d = opendir(s->dirs_real[i]);
        if (!d)
            return ol_err_set(err, OL_EIO, "serve: --adapters-dir %s: %s", s->dirs_real[i],
                              strerror(errno));
        for (struct dirent *de; (de = readdir(d));) scan_entry(s, s->dirs_real[i], de->d_name);
        closedir(d);
    }
    return 0;
}

/* ---- source confinement ------------------------------------------------------------------- */

static bool url_safe(const char *u) {
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '\\' || *p == '@' || *p == 0x7f) return false;
    return !strstr(u, "..") && !strcasestr(u, "%2e") && !strcasestr(u, "%2f") &&
           !strcasestr(u, "%5c");
}

static char *inside_dir(ol_server *s, const char *real) {
    for (int i = 0; i < s->n_dirs; i++) {
        size_t n = strlen(s->dirs_real[i]);
        if (!strncmp(real, s->dirs_real[i], n) && real[n] == '/' && real[n + 1])
            return (char *)real;
    }
    return NULL;
}

/* The source to hand the engine: a URL under an allowed prefix, or the real path of a local
 * source inside an adapters dir (relative paths are taken relative to each dir). malloc'd, or
 * NULL with e filled (400 source_not_allowed). */
static char *resolve_source(ol_server *s, const char *src, srv_error *e) {
    if (!strncasecmp(src, "http://", 7) || !strncasecmp(src, "https://", 8)) {
        for (int i = 0; url_safe(src) && i < s->cfg.n_url_prefixes; i++)
            if (!strncmp(src, s->cfg.url_prefixes[i], strlen(s->cfg.url_prefixes[i])))
                return strdup(src);
        srv_fail(e, 400, "source", "source_not_allowed",
                 "The source URL is not under an allowed prefix (--allow-url-prefix).");
        return NULL;
    }
    if (!strstr(src, "://")) {
        char *real = src[0] == '/' ? realpath(src, NULL) : NULL;
        if (real && inside_dir(s, real)) return real;
        free(real);
        for (int i = 0; src[0] != '/' && i < s->n_dirs; i++) {
            char path[4096];
            if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->dirs_real[i], src) >= sizeof(path))
                continue;
            if ((real = realpath(path, NULL)) && inside_dir(s, real)) return real;
            free(real);
        }
    }
    srv_fail(e, 400, "source", "source_not_allowed",
             "The source must be an existing path inside an --adapters-dir, or an allowed URL.");
    return NULL;
}

/* ---- validation --------------------------------------------------------------------------- */

static int check_name(json_t *v, const char *param, srv_error *e) {
    if (!json_is_string(v) || !srv_adapter_name_valid(json_string_value(v)))
        return srv_fail(e, 400, param, NULL,
                        "`%s` must be 1..64 characters of [A-Za-z0-9._-], not starting with '.'.",
                        param);
    return 0;
}

static int check_contributors(json_t *c, srv_error *e) {
    if (!json_is_array(c) || json_array_size(c) == 0)
        return srv_fail(e, 400, "metadata.contributors", NULL,
                        "`metadata.contributors` must be a non-empty array.");
    double sum = 0;
    size_t i;
    json_t *it;
    json_array_foreach(c, i, it) {
        json_t *id = json_object_get(it, "id"), *sh = json_object_get(it, "share");
        double v = json_is_number(sh) ? json_number_value(sh) : -1;
        if (!json_is_object(it) || !json_is_string(id) || !(v > 0 && v <= 1))
            return srv_fail(e, 400, "metadata.contributors", NULL,
                            "`metadata.contributors[%zu]` must be {\"id\": string, \"share\": "
                            "number in (0, 1]}.",
                            i);
        sum += v;
    }
    if (fabs(sum - 1.0) > 1e-6)
        return srv_fail(e, 400, "metadata.contributors", NULL,
                        "Contributor shares must sum to 1, got %.9g.", sum);
    return 0;
}

/* metadata: {"owner", "contributors", "datanet", "license"}; other fields are kept as given. */
static int check_metadata(json_t *m, srv_error *e) {
    if (!json_is_object(m))
        return srv_fail(e, 400, "metadata", NULL, "`metadata` must be an object.");
    static const char *const strs[] = {"owner", "datanet", "license"};
    for (size_t i = 0; i < OL_ARRAY_LEN(strs); i++) {
        json_t *v = json_object_get(m, strs[i]);
        if (v && !json_is_string(v))
            return srv_fail(e, 400, "metadata", NULL, "`metadata.%s` must be a string.", strs[i]);
    }
    json_t *c = json_object_get(m, "contributors");
    return c ? check_contributors(c, e) : 0;
}

static int check_sha(json_t *v, srv_error *e) {
    if (!v || json_is_null(v)) return 0;
    const char *s = json_string_value(v);
    bool ok = s && strlen(s) == 64;
    for (int i = 0; ok && i < 64; i++) ok = isxdigit((unsigned char)s[i]);
    return ok ? 0 : srv_fail(e, 400, "sha256", NULL, "`sha256` must be 64 hex characters.");
}

static json_t *adapter_json(ol_server *s, const srv_adapter *a) {
    json_t *meta = a->meta ? json_loads(a->meta, 0, NULL) : NULL;
    ol_engine_adapter_state st = {0};
    const bool known =
        ol_engine_adapter_state_get(s->eng, a->name, &st) == 0 && st.version == a->version;
    return json_pack("{s:s,s:s,s:I,s:s,s:I,s:b,s:I,s:o}", "object", "adapter", "name", a->name,
                     "version", (json_int_t)a->version, "source", a->source, "created",
                     (json_int_t)a->created, "resident", known && st.resident, "resident_bytes",
                     (json_int_t)(known ? st.bytes : 0), "metadata", meta ? meta : json_null());
}

/* Register name -> source from an admin request: 0 and *out (a JSON of the new version), or -1
 * with e filled. */
static int admin_register(srv_conn *c, const char *name, const char *source, const char *sha,
                          json_t *meta, json_t **out, srv_error *e) {
    ol_server *s = c->s;
    if (!strcmp(name, s->served_name))
        return srv_fail(e, 400, "name", NULL, "`%s` is the base model's name.", name);
    char *resolved = resolve_source(s, source, e);
    if (!resolved) return -1;
    char *mtext = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    srv_adapter *a = adapter_new(name, source, mtext);
    free(mtext);
    ol_err err = {0};
    int rc = a ? adapter_add(s, a, resolved, sha, &err) : OL_ENOMEM;
    free(resolved);
    if (rc == OL_ENOMEM) return srv_fail(e, 500, NULL, NULL, "Out of memory.");
    if (rc == OL_EIO && !strncmp(err.msg, "the usage ledger", 16))
        return srv_fail(e, 503, NULL, "ledger_unavailable", "%s", err.msg);
    if (rc) return srv_fail(e, 400, "source", NULL, "%s", err.msg);
    pthread_mutex_lock(&s->ad_mu);
    srv_adapter **p = table_find(s, name);
    *out = *p && !strcmp((*p)->name, name) ? adapter_json(s, *p) : json_object();
    pthread_mutex_unlock(&s->ad_mu);
    return 0;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

static const char *meta_owner(const srv_adapter *a, char *buf, size_t cap) {
    json_t *m = a->meta ? json_loads(a->meta, 0, NULL) : NULL;
    const char *o = json_string_value(json_object_get(m, "owner"));
    snprintf(buf, cap, "%s", o && *o ? o : "openlora");
    json_decref(m);
    return buf;
}

enum MHD_Result srv_handle_models(srv_conn *c) {
    ol_server *s = c->s;
    json_t *data = json_array();
    json_array_append_new(data,
                          json_pack("{s:s,s:s,s:I,s:s}", "id", s->served_name, "object", "model",
                                    "created", (json_int_t)s->created, "owned_by", "openlora"));
    pthread_mutex_lock(&s->ad_mu);
    for (const srv_adapter *a = s->adapters; a; a = a->next) {
        if (!srv_key_allows(c, a->name)) continue;
        char owner[256];
        json_array_append_new(data, json_pack("{s:s,s:s,s:I,s:s,s:s}", "id", a->name, "object",
                                              "model", "created", (json_int_t)a->created,
                                              "owned_by", meta_owner(a, owner, sizeof(owner)),
                                              "parent", s->served_name));
    }
    pthread_mutex_unlock(&s->ad_mu);
    return srv_reply_json(c, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
}

static enum MHD_Result adapters_post(srv_conn *c) {
    srv_error e;
    json_t *out = NULL, *j = srv_parse_body(c, &e);
    if (!j) return srv_reply_error(c, &e);
    json_t *name = json_object_get(j, "name"), *src = json_object_get(j, "source");
    json_t *meta = json_object_get(j, "metadata");
    if (json_is_null(meta)) meta = NULL;
    int rc = check_name(name, "name", &e);
    if (!rc && !json_is_string(src))
        rc = srv_fail(&e, 400, "source", NULL, "`source` is required and must be a string.");
    if (!rc) rc = check_sha(json_object_get(j, "sha256"), &e);
    if (!rc && meta) rc = check_metadata(meta, &e);
    if (!rc)
        rc = admin_register(c, json_string_value(name), json_string_value(src),
                            json_string_value(json_object_get(j, "sha256")), meta, &out, &e);
    json_decref(j);
    return rc ? srv_reply_error(c, &e) : srv_reply_json(c, 201, out);
}

static enum MHD_Result adapters_list(srv_conn *c) {
    json_t *data = json_array();
    pthread_mutex_lock(&c->s->ad_mu);
    for (const srv_adapter *a = c->s->adapters; a; a = a->next)
        json_array_append_new(data, adapter_json(c->s, a));
    pthread_mutex_unlock(&c->s->ad_mu);
    return srv_reply_json(c, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
}

static enum MHD_Result adapter_one(srv_conn *c, const char *method, const char *name) {
    ol_server *s = c->s;
    srv_error e;
    if (!srv_adapter_name_valid(name)) {
        srv_fail(&e, 404, NULL, "adapter_not_found", "No adapter named `%.64s`.", name);
        return srv_reply_error(c, &e);
    }
    if (!strcmp(method, "DELETE")) {
        ol_err err = {0};
        int rc = ol_engine_adapter_unregister(s->eng, name, &err);
        bool had = table_del(s, name);
        if (!rc || had)
            return srv_reply_json(c, 200,
                                  json_pack("{s:s,s:s,s:b}", "object", "adapter.deleted", "name",
                                            name, "deleted", 1));
    } else {
        json_t *j = NULL;
        pthread_mutex_lock(&s->ad_mu);
        srv_adapter **p = table_find(s, name);
        if (*p && !strcmp((*p)->name, name)) j = adapter_json(s, *p);
        pthread_mutex_unlock(&s->ad_mu);
        if (j) return srv_reply_json(c, 200, j);
    }
    srv_fail(&e, 404, NULL, "adapter_not_found", "No adapter named `%s`.", name);
    return srv_reply_error(c, &e);
}

enum MHD_Result srv_handle_adapters(srv_conn *c, const char *method, const char *url) {
    if (!strcmp(url, "/v1/adapters"))
        return strcmp(method, "POST") ? adapters_list(c) : adapters_post(c);
    const char *name = url + strlen("/v1/adapters/");
    if (!strcmp(method, "POST") || !strcmp(method, "GET") || !strcmp(method, "DELETE"))
        return adapter_one(c, method, name);
    return MHD_NO;
}

enum MHD_Result srv_handle_vllm_load(srv_conn *c) {
    srv_error e;
    json_t *out = NULL, *j = srv_parse_body(c, &e);
    if (!j) return srv_reply_error(c, &e);
    json_t *name = json_object_get(j, "lora_name"), *path = json_object_get(j, "lora_path");
    int rc = check_name(name, "lora_name", &e);
    if (!rc && !json_is_string(path))
        rc = srv_fail(&e, 400, "lora_path", NULL, "`lora_path` is required and must be a string.");
    if (!rc)
        rc = admin_register(c, json_string_value(name), json_string_value(path), NULL, NULL, &out,
                            &e);
    char msg[200];
    if (!rc)
        snprintf(msg, sizeof(msg), "Success: LoRA adapter '%s' added successfully.",
                 json_string_value(name));
    json_decref(out);
    json_decref(j);
    return rc ? srv_reply_error(c, &e) : srv_reply_text(c, 200, "text/plain", msg, strlen(msg));
}

enum MHD_Result srv_handle_vllm_unload(srv_conn *c) {
    srv_error e;
    json_t *j = srv_parse_body(c, &e);
    if (!j) return srv_reply_error(c, &e);
    json_t *name = json_object_get(j, "lora_name");
    int rc = check_name(name, "lora_name", &e);
    char msg[200];
    if (!rc) {
        const char *n = json_string_value(name);
        ol_err err = {0};
        int urc = ol_engine_adapter_unregister(c->s->eng, n, &err);
        if (!table_del(c->s, n) && urc)
            rc = srv_fail(&e, 404, "lora_name", "adapter_not_found", "No adapter named `%s`.", n);
        snprintf(msg, sizeof(msg), "Success: LoRA adapter '%s' removed successfully.", n);
    }
    json_decref(j);
    return rc ? srv_reply_error(c, &e) : srv_reply_text(c, 200, "text/plain", msg, strlen(msg));
}

void ol_server_describe(ol_server *s, FILE *f) {
    const ol_server_config *c = &s->cfg;
    const ol_hparams *hp = ol_model_hparams((const ol_model *)ol_engine_model(s->eng));
    fprintf(f,
            "openlora: model `%s` (%s, %d layers, vocab %d), context %d tokens per request, "
            "chat format %s\n",
            s->served_name, hp->arch_name, hp->n_layer, hp->n_vocab, s->max_ctx,
            ol_chat_format_name(s->chat));
    fprintf(f,
            "openlora: engine: %d tokens / %d sequences per step, queue %d, KV cache %zu MiB, "
            "adapter cache %zu MiB\n",
            c->n_batch, c->max_running, c->max_queue, c->kv_cache_mb, c->adapter_cache_mb);
    pthread_mutex_lock(&s->ad_mu);
    int n = 0;
    for (const srv_adapter *a = s->adapters; a; a = a->next) n++;
    fprintf(f, "openlora: %d adapter%s registered%s", n, n == 1 ? "" : "s", n ? ":" : "");
    int shown = 0;
    for (const srv_adapter *a = s->adapters; a && shown < 16; a = a->next, shown++)
        fprintf(f, " %s", a->name);
    fprintf(f, "%s\n", n > shown ? " ..." : "");
    pthread_mutex_unlock(&s->ad_mu);
    fprintf(f, "openlora: API keys: %s\n",
            s->n_keys ? "required (Authorization: Bearer KEY or X-Api-Key)" : "none (open)");
}
