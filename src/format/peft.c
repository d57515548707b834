/* format/peft.c: adapter_config.json (JSON object, jansson) → ol_peft_config. Known keys are
 * type-checked; the unsupported-feature table below is checked for truthy values; every regex
 * (target/exclude regex, pattern keys, layers_pattern) is compiled at parse time so a bad one
 * is refused at registration rather than at first use. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "peft.h"

#include "format_internal.h"

#include <jansson.h>
#include <math.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Keys whose truthy value asks for something the engine does not implement: key, feature. */
#define OL_PEFT_UNSUPPORTED(X)                                                                     \
    X("use_dora", "DoRA")                                                                          \
    X("lora_bias", "LoRA bias on lora_B")                                                          \
    X("use_qalora", "QA-LoRA")                                                                     \
    X("modules_to_save", "fully trained extra modules (modules_to_save)")                          \
    X("layer_replication", "layer replication")                                                    \
    X("target_parameters", "LoRA on parameters (target_parameters)")                               \
    X("trainable_token_indices", "trainable token embeddings")                                     \
    X("alora_invocation_tokens", "activated LoRA (aLoRA)")                                         \
    X("arrow_config", "Arrow routing")

/* Modules LoRA may not target: embeddings and the output head (last name component). */
static const char *const untargetable[] = {"embed_tokens", "lm_head"};

#define PREFIX "base_model.model."

/* PCRE2 limits: patterns come from a file, so a catastrophic one must stop, not hang. */
#define MATCH_LIMIT 1000000u
#define DEPTH_LIMIT 10000u

struct ol_peft_regexes {
    pcre2_match_context *mctx;
    pcre2_code *target, *exclude;
    pcre2_code **rank, **alpha, **layers; /* one per entry; layers: the default when none */
    int n_layers;
};

#define FAIL(err, ...)  ol_err_set(err, OL_EFORMAT, "adapter_config: " __VA_ARGS__)
#define UNSUP(err, ...) ol_err_set(err, OL_ENOTSUP, "adapter_config: " __VA_ARGS__)
#define NOMEM(err)      ol_err_set(err, OL_ENOMEM, "adapter_config: out of memory")

/* Python truthiness of a JSON value. */
static bool truthy(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return json_object_size(v) > 0;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0;
    case JSON_TRUE:
        return true;
    default:
        return false;
    }
}

/* ---- regexes ----------------------------------------------------------------------------- */
/* Compile pre + src + post; src is the file's text (field names it in messages). */
static int compile(const char *pre, const char *src, const char *post, uint32_t opts,
                   const char *field, pcre2_code **out, ol_err *err) {
    size_t n = strlen(pre) + strlen(src) + strlen(post) + 1;
    char *pat = malloc(n);
    if (!pat) return NOMEM(err);
    snprintf(pat, n, "%s%s%s", pre, src, post);
    int ec;
    PCRE2_SIZE eo;
    /* Python str patterns work on code points, and \d, \w are Unicode-aware */
    opts |= PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
    *out = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
    free(pat);
    if (*out) return 0;
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(ec, msg, sizeof(msg));
    return FAIL(err, "%s '%.100s' is not a valid regex: %s", field, src, (const char *)msg);
}

/* 1 match, 0 no match (or a limit hit); group > 0: also store that group's digits in *num. */
static int match(const ol_peft_config *cfg, const pcre2_code *re, const char *s, int group,
                 int64_t *num) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) return 0;
    int rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, cfg->re->mctx);
    int ok = rc > 0;
    if (ok && group > 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        ok = group < rc && ov[2 * group] != PCRE2_UNSET;
        int64_t v = 0;
        for (PCRE2_SIZE i = ok ? ov[2 * group] : 0; ok && i < ov[2 * group + 1]; i++) {
            if (s[i] < '0' || s[i] > '9')
                ok = 0;
            else
                v = v > INT32_MAX ? v : v * 10 + (s[i] - '0'); /* saturates past any layer */
        }
        *num = v;
    }
    pcre2_match_data_free(md);
    return ok;
}

/* ---- field readers ----------------------------------------------------------------------- */
static char *dup_str(const json_t *v) {
    size_t n = json_string_length(v);
    char *s = malloc(n + 1);
    if (s) memcpy(s, json_string_value(v), n + 1);
    return s;
}

static int get_bool(const json_t *root, const char *key, bool *out, ol_err *err) {
    const json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v))
        return FAIL(err, "%s is %s, want a boolean", key, ol_format_json_kind(v));
    *out = json_is_true(v);
    return 0;
}

static int get_opt_str(const json_t *root, const char *key, char **out, ol_err *err) {
    const json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v))
        return FAIL(err, "%s is %s, want a string", key, ol_format_json_kind(v));
    return (*out = dup_str(v)) ? 0 : NOMEM(err);
}

static int get_rank(const json_t *v, const char *field, const char *key, int *out, ol_err *err) {
    if (!json_is_integer(v))
        return FAIL(err, "%s%s%s%s is %s, want an integer", field, key ? " '" : "", key ? key : "",
                    key ? "'" : "", ol_format_json_kind(v));
    json_int_t r = json_integer_value(v);
    if (r < 1 || r > OL_PEFT_MAX_RANK)
        return FAIL(err, "%s%s%s%s = %lld is outside 1..%d", field, key ? " '" : "", key ? key : "",
                    key ? "'" : "", (long long)r, OL_PEFT_MAX_RANK);
    *out = (int)r;
    return 0;
}

static int get_alpha(const json_t *v, const char *field, const char *key, double *out,
                     ol_err *err) {
    if (!json_is_number(v))
        return FAIL(err, "%s%s%s%s is %s, want a number", field, key ? " '" : "", key ? key : "",
                    key ? "'" : "", ol_format_json_kind(v));
    *out = json_number_value(v);
    if (!isfinite(*out)) return FAIL(err, "%s is not finite", field);
    return 0;
}

/* A string or a list of strings → list (names), or with regex_out the string kept as is. */
static int get_names(const json_t *v, const char *field, char ***list, int *n, ol_err *err) {
    if (json_is_string(v)) {
        *list = malloc(sizeof(char *));
        if (!*list || !((*list)[0] = dup_str(v))) return NOMEM(err);
        *n = 1;
        return 0;
    }
    if (!json_is_array(v))
        return FAIL(err, "%s is %s, want a string or a list of strings", field,
                    ol_format_json_kind(v));
    size_t len = json_array_size(v);
    *list = calloc(len ? len : 1, sizeof(char *));
    if (!*list) return NOMEM(err);
    for (size_t i = 0; i < len; i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return FAIL(err, "%s[%zu] is %s, want a string", field, i, ol_format_json_kind(e));
        if (!((*list)[i] = dup_str(e))) return NOMEM(err);
        *n = (int)i + 1;
    }
    return 0;
}

static int get_patterns(const json_t *root, const char *field, bool rank, ol_peft_pattern **out,
                        int *n, pcre2_code ***codes, ol_err *err) {
    const json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v))
        return FAIL(err, "%s is %s, want an object", field, ol_format_json_kind(v));
    size_t len = json_object_size(v);
    *out = calloc(len ? len : 1, sizeof(ol_peft_pattern));
    *codes = calloc(len ? len : 1, sizeof(pcre2_code *));
    if (!*out || !*codes) return NOMEM(err);
    const char *k;
    json_t *e;
    int rc;
    json_object_foreach((json_t *)v, k, e) { /* jansson keeps file order */
        ol_peft_pattern *p = &(*out)[*n];
        if (!(p->key = strdup(k))) return NOMEM(err);
        (*n)++;
        if (rank) {
            int r;
            if ((rc = get_rank(e, field, k, &r, err))) return rc;
            p->value = r;
        } else if ((rc = get_alpha(e, field, k, &p->value, err))) {
            return rc;
        }
        /* PEFT: re.match(rf"(.*\.)?({key})$", name) */
        char what[48];
        snprintf(what, sizeof(what), "%s key", field);
        if ((rc = compile("(.*\\.)?(", k, ")$", PCRE2_ANCHORED, what, &(*codes)[*n - 1], err)))
            return rc;
    }
    return 0;
}

/* ---- sections ---------------------------------------------------------------------------- */
static int check_unsupported(const json_t *root, ol_err *err) {
    const json_t *v = json_object_get(root, "peft_type");
    if (!v) return FAIL(err, "missing peft_type");
    if (!json_is_string(v) || strcmp(json_string_value(v), "LORA"))
        return UNSUP(err, "peft_type %s%.40s%s is not supported (only \"LORA\")",
                     json_is_string(v) ? "\"" : "",
                     json_is_string(v) ? json_string_value(v) : ol_format_json_kind(v),
                     json_is_string(v) ? "\"" : "");
#define X(key, what)                                                                               \
    if ((v = json_object_get(root, key)) && truthy(v))                                             \
        return UNSUP(err, "%s is set: %s is not supported", key, what);
    OL_PEFT_UNSUPPORTED(X)
#undef X
    v = json_object_get(root, "bias");
    if (v && !json_is_null(v) && (!json_is_string(v) || strcmp(json_string_value(v), "none")))
        return UNSUP(err, "bias %.40s is not supported (only \"none\")",
                     json_is_string(v) ? json_string_value(v) : ol_format_json_kind(v));
    return 0;
}

static int parse_targets(ol_peft_config *c, const json_t *root, ol_err *err) {
    const json_t *v = json_object_get(root, "target_modules");
    int rc;
    if (!v || json_is_null(v))
        return FAIL(err, "target_modules is missing (PEFT would guess it from the model type)");
    if (json_is_string(v)) {
        if (!(c->target_regex = dup_str(v))) return NOMEM(err);
        if (!strcasecmp(c->target_regex, "all-linear")) {
            c->targets = OL_PEFT_TARGETS_ALL_LINEAR;
        } else {
            c->targets = OL_PEFT_TARGETS_REGEX;
            if ((rc = compile("", c->target_regex, "", PCRE2_ANCHORED | PCRE2_ENDANCHORED,
                              "target_modules", &c->re->target, err)))
                return rc;
        }
    } else if (json_is_array(v)) {
        c->targets = OL_PEFT_TARGETS_LIST;
        if ((rc = get_names(v, "target_modules", &c->target_modules, &c->n_target_modules, err)))
            return rc;
        if (c->n_target_modules == 0) return FAIL(err, "target_modules is an empty list");
    } else {
        return FAIL(err, "target_modules is %s, want a list of names or a regex",
                    ol_format_json_kind(v));
    }
    v = json_object_get(root, "exclude_modules");
    if (v && !truthy(v)) v = NULL; /* PEFT applies it only when truthy */
    if (v && json_is_string(v)) {
        if (!(c->exclude_regex = dup_str(v))) return NOMEM(err);
        return compile("", c->exclude_regex, "", PCRE2_ANCHORED | PCRE2_ENDANCHORED,
                       "exclude_modules", &c->re->exclude, err);
    }
    if (v && !json_is_null(v))
        return get_names(v, "exclude_modules", &c->exclude_modules, &c->n_exclude_modules, err);
    return 0;
}

static int parse_layers(ol_peft_config *c, const json_t *root, ol_err *err) {
    const json_t *lt = json_object_get(root, "layers_to_transform");
    const json_t *lp = json_object_get(root, "layers_pattern");
    int rc;
    if (lt && json_is_null(lt)) lt = NULL;
    if (lp && json_is_null(lp)) lp = NULL;
    /* LoraConfig.__post_init__ refuses these combinations */
    if (c->targets != OL_PEFT_TARGETS_LIST && (lt || lp))
        return FAIL(err, "%s cannot be used when target_modules is a string",
                    lt ? "layers_to_transform" : "layers_pattern");
    if (lp && truthy(lp) && (!lt || !truthy(lt)))
        return FAIL(err, "layers_pattern is set but layers_to_transform is not");
    if (lp && !json_is_string(lp) && !json_is_array(lp))
        return FAIL(err, "layers_pattern is %s, want a string or a list of strings",
                    ol_format_json_kind(lp));
    if (lp && !truthy(lp)) lp = NULL; /* "" or []: any layer name, like None */
    if (lt) {
        size_t n = json_is_array(lt) ? json_array_size(lt) : 1;
        if (!json_is_array(lt) && !json_is_integer(lt))
            return FAIL(err, "layers_to_transform is %s, want an integer or a list of integers",
                        ol_format_json_kind(lt));
        if (!(c->layers_to_transform = calloc(n ? n : 1, sizeof(int)))) return NOMEM(err);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_is_array(lt) ? json_array_get(lt, i) : lt;
            if (!json_is_integer(e))
                return FAIL(err, "layers_to_transform[%zu] is %s, want an integer", i,
                            ol_format_json_kind(e));
            json_int_t x = json_integer_value(e);
            if (x < 0 || x > INT32_MAX)
                return FAIL(err, "layers_to_transform[%zu] = %lld is not a layer index", i,
                            (long long)x);
            c->layers_to_transform[c->n_layers_to_transform++] = (int)x;
        }
    }
    if (lp && (rc = get_names(lp, "layers_pattern", &c->layers_pattern, &c->n_layers_pattern, err)))
        return rc;
    /* PEFT: re.match(rf".*\.{pattern}\.(\d+)\.", key), or r".*\.[^.]*\.(\d+)\." without one */
    int n = c->n_layers_pattern ? c->n_layers_pattern : 1;
    if (!(c->re->layers = calloc((size_t)n, sizeof(pcre2_code *)))) return NOMEM(err);
    c->re->n_layers = n;
    for (int i = 0; i < n; i++)
        if ((rc =
                 compile(".*\\.", c->n_layers_pattern ? c->layers_pattern[i] : "[^.]*",
                         "\\.(\\d+)\\.", PCRE2_ANCHORED, "layers_pattern", &c->re->layers[i], err)))
            return rc;
    return 0;
}

/* LoRA on embeddings or the output head is not supported. */
static int check_targets(const ol_peft_config *c, ol_err *err) {
    for (size_t u = 0; u < OL_ARRAY_LEN(untargetable); u++) {
        for (int i = 0; i < c->n_target_modules; i++) {
            const char *t = c->target_modules[i], *dot = strrchr(t, '.');
            if (!strcmp(dot ? dot + 1 : t, untargetable[u]))
                return UNSUP(err, "target_modules names '%.100s': LoRA on %s is not supported", t,
                             untargetable[u]);
        }
        char probe[64];
        snprintf(probe, sizeof(probe), "model.%s", untargetable[u]);
        if (c->targets == OL_PEFT_TARGETS_REGEX &&
            (ol_peft_target_matches(c, probe) || ol_peft_target_matches(c, untargetable[u])))
            return UNSUP(err,
                         "target_modules regex '%.100s' matches %s: LoRA on %s is not supported",
                         c->target_regex, untargetable[u], untargetable[u]);
    }
    return 0;
}

static int parse_root(ol_peft_config *c, const json_t *root, ol_err *err) {
    if (!json_is_object(root))
        return FAIL(err, "top level is %s, want an object", ol_format_json_kind(root));
    int rc = check_unsupported(root, err);
    if (rc) return rc;
    const json_t *v;
    c->r = 8; /* LoraConfig defaults */
    c->lora_alpha = 8;
    if ((v = json_object_get(root, "r")) && (rc = get_rank(v, "r", NULL, &c->r, err))) return rc;
    if ((v = json_object_get(root, "lora_alpha")) &&
        (rc = get_alpha(v, "lora_alpha", NULL, &c->lora_alpha, err)))
        return rc;
    if ((rc = get_bool(root, "use_rslora", &c->use_rslora, err))) return rc;
    if ((rc = get_bool(root, "fan_in_fan_out", &c->fan_in_fan_out, err))) return rc;
    if ((rc = get_opt_str(root, "task_type", &c->task_type, err))) return rc;
    if ((rc = get_opt_str(root, "base_model_name_or_path", &c->base_model_name_or_path, err)))
        return rc;
    if (!(c->re->mctx = pcre2_match_context_create(NULL))) return NOMEM(err);
    pcre2_set_match_limit(c->re->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(c->re->mctx, DEPTH_LIMIT);
    if ((rc = get_patterns(root, "rank_pattern", true, &c->rank_pattern, &c->n_rank_pattern,
                           &c->re->rank, err)))
        return rc;
    if ((rc = get_patterns(root, "alpha_pattern", false, &c->alpha_pattern, &c->n_alpha_pattern,
                           &c->re->alpha, err)))
        return rc;
    if ((rc = parse_targets(c, root, err))) return rc;
    if ((rc = parse_layers(c, root, err))) return rc;
    return check_targets(c, err);
}

ol_peft_config *ol_peft_config_parse(const char *json, size_t len, ol_err *err) {
    ol_peft_config *c = calloc(1, sizeof(*c));
    if (c) c->re = calloc(1, sizeof(*c->re));
    if (!c || !c->re) {
        NOMEM(err);
        free(c);
        return NULL;
    }
    if (len > OL_PEFT_MAX_CONFIG_SIZE) {
        FAIL(err, "%zu bytes, more than the %u allowed", len, OL_PEFT_MAX_CONFIG_SIZE);
        ol_peft_config_destroy(c);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = root ? parse_root(c, root, err)
                  : FAIL(err, "not valid JSON at line %d column %d (offset %d): %s", jerr.line,
                         jerr.column, jerr.position, jerr.text);
    json_decref(root);
    if (rc) {
        ol_peft_config_destroy(c);
        return NULL;
    }
    return c;
}

ol_peft_config *ol_peft_config_load(const char *path, ol_err *err) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > OL_PEFT_MAX_CONFIG_SIZE) {
        ol_err_set(err, OL_EFORMAT, "%s: %lld bytes, more than the %u allowed", path,
                   (long long)sb.st_size, OL_PEFT_MAX_CONFIG_SIZE);
        return NULL;
    }
    size_t size;
    char *text = ol_read_file(path, &size, err);
    if (!text) return NULL;
    ol_err local;
    ol_err *e = err ? err : &local;
    ol_peft_config *c = ol_peft_config_parse(text, size, e);
    free(text);
    if (!c) {
        char tmp[sizeof(e->msg)];
        memcpy(tmp, e->msg, sizeof(tmp));
        int n = snprintf(e->msg, sizeof(e->msg), "%s: ", path);
        if (n > 0 && (size_t)n < sizeof(e->msg))
            memcpy(e->msg + n, tmp, sizeof(e->msg) - (size_t)n - 1);
        e->msg[sizeof(e->msg) - 1] = 0;
    }
    return c;
}

static void free_list(char **l, int n) {
    for (int i = 0; l && i < n; i++) free(l[i]);
    free(l);
}

static void free_patterns(ol_peft_pattern *p, pcre2_code **codes, int n) {
    for (int i = 0; i < n; i++) {
        if (p) free(p[i].key);
        if (codes) pcre2_code_free(codes[i]);
    }
    free(p);
    free(codes);
}

void ol_peft_config_destroy(ol_peft_config *c) {
    if (!c) return;
    /* entries are counted as they are filled, so partial parses free exactly what exists */
    free_list(c->target_modules, c->n_target_modules);
    free_list(c->exclude_modules, c->n_exclude_modules);
    free_list(c->layers_pattern, c->n_layers_pattern);
    free(c->target_regex);
    free(c->exclude_regex);
    free(c->layers_to_transform);
    free(c->task_type);
    free(c->base_model_name_or_path);
    ol_peft_regexes *re = c->re;
    free_patterns(c->rank_pattern, re ? re->rank : NULL, c->n_rank_pattern);
    free_patterns(c->alpha_pattern, re ? re->alpha : NULL, c->n_alpha_pattern);
    if (re) {
        for (int i = 0; i < re->n_layers; i++) pcre2_code_free(re->layers[i]);
        free(re->layers);
        pcre2_code_free(re->target);
        pcre2_code_free(re->exclude);
        pcre2_match_context_free(re->mctx);
        free(re);
    }
    free(c);
}

/* ---- queries ----------------------------------------------------------------------------- */
static const char *relative(const char *name) {
    return strncmp(name, PREFIX, strlen(PREFIX)) ? name : name + strlen(PREFIX);
}

/* key == t, or key ends with "." + t */
static bool name_or_suffix(const char *key, const char *t) {
    size_t n = strlen(key), m = strlen(t);
    if (n == m) return !strcmp(key, t);
    return n > m && key[n - m - 1] == '.' && !strcmp(key + n - m, t);
}

static bool layer_selected(const ol_peft_config *c, const char *key) {
    if (c->n_layers_to_transform == 0) return true;
    for (int p = 0; p < c->re->n_layers; p++) {
        const pcre2_code *re = c->re->layers[p];
        uint32_t groups = 0;
        pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
        int64_t layer;
        if (!match(c, re, key, (int)groups, &layer)) continue; /* (\d+) is the last group */
        for (int i = 0; i < c->n_layers_to_transform; i++)
            if (c->layers_to_transform[i] == layer) return true;
        return false;
    }
    return false;
}

bool ol_peft_target_matches(const ol_peft_config *c, const char *module_name) {
    const char *key = relative(module_name);
    if (c->re->exclude && match(c, c->re->exclude, key, 0, NULL)) return false;
    for (int i = 0; i < c->n_exclude_modules; i++)
        if (name_or_suffix(key, c->exclude_modules[i])) return false;
    switch (c->targets) {
    case OL_PEFT_TARGETS_REGEX:
        return match(c, c->re->target, key, 0, NULL);
    case OL_PEFT_TARGETS_ALL_LINEAR: {
        const char *dot = strrchr(key, '.');
        for (size_t u = 0; u < OL_ARRAY_LEN(untargetable); u++)
            if (!strcmp(dot ? dot + 1 : key, untargetable[u])) return false;
        return true;
    }
    default:
        break;
    }
    for (int i = 0; i < c->n_target_modules; i++) /* an exact name skips the layer filter */
        if (!strcmp(key, c->target_modules[i])) return true;
    for (int i = 0; i < c->n_target_modules; i++)
        if (name_or_suffix(key, c->target_modules[i])) return layer_selected(c, key);
    return false;
}

/* PEFT: rank_pattern.get(get_pattern_key(keys, name), default) */
static double lookup(const ol_peft_config *c, const ol_peft_pattern *p, pcre2_code **codes, int n,
                     const char *key, double dflt) {
    for (int i = 0; i < n; i++)
        if (match(c, codes[i], key, 0, NULL)) return p[i].value;
    for (int i = 0; i < n; i++)
        if (!strcmp(p[i].key, key)) return p[i].value;
    return dflt;
}

int ol_peft_scale(const ol_peft_config *c, const char *module_name, int *rank, double *scale) {
    if (!c || !module_name || !rank || !scale) return OL_EINVAL;
    const char *key = relative(module_name);
    int r = (int)lookup(c, c->rank_pattern, c->re->rank, c->n_rank_pattern, key, c->r);
    double alpha =
        lookup(c, c->alpha_pattern, c->re->alpha, c->n_alpha_pattern, key, c->lora_alpha);
    *rank = r;
    *scale = c->use_rslora ? alpha / sqrt((double)r) : alpha / r;
    return 0;
}
