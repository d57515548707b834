/* adapters/cache.c: the adapter registry and host cache (adapters.h, "registry and host
 * cache"). One mutex guards everything; loader threads take versions off a FIFO queue, fetch
 * and convert them outside the mutex, then admit them under it, evicting unpinned resident
 * versions by policy (LRU, or LFU with lazy aging) until the budget holds. Entries are
 * reference counted: the registry, callers, pins and the load queue each hold references. */
#include "adapters_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SOURCES        16   /* added sources; the two built-ins come after them */
#define LFU_AGING_PERIOD   1024 /* uses between halvings of every frequency count */
#define HASH_BUCKETS_FIRST 64

typedef enum {
    ST_COLD,     /* on storage only */
    ST_QUEUED,   /* in the load queue */
    ST_LOADING,  /* a loader is fetching, converting or admitting it */
    ST_RESIDENT, /* weights in the host cache */
    ST_FAILED,   /* last load failed; the error is owed to fail_left more pins */
} entry_state;

struct ol_adapter_entry {
    /* immutable once registered (the strings live in the same allocation) */
    uint64_t version;
    const char *name, *source, *sha256, *meta; /* sha256 NULL when not pinned */
    const ol_adapter_source_vt *src;
    size_t alloc_bytes;
    /* the rest under the cache mutex */
    int refs; /* registry (while current) + callers + pins + queued/running load */
    int pins; /* nested pins; > 0 = never evicted */
    entry_state st;
    bool registered; /* current version of its name (in the hash table) */
    bool prefetch;   /* the queued/running load was started by a prefetch */
    int n_waiting;   /* callers owed this load's result: OL_EAGAIN answers, clamped (pin) */
    int fail_left, fail_code;
    char *fail_msg; /* malloc'ed, with ST_FAILED */
    ol_adapter *a;  /* with ST_RESIDENT */
    size_t bytes;   /* ol_adapter_bytes of the last load; 0 until one succeeded */
    uint64_t last_use;
    uint64_t t_loaded;               /* ol_time_ns when it became resident */
    uint32_t freq, freq_epoch;       /* LFU count as of aging epoch freq_epoch */
    ol_adapter_entry *hnext;         /* hash chain */
    ol_adapter_entry *qnext;         /* load queue */
    ol_adapter_entry *rprev, *rnext; /* resident list */
};

struct ol_adapter_cache {
    ol_adapter_cache_config cfg; /* tmp_dir points into http.tmp_dir */
    const ol_model *model;
    ol_adapter_http_opts http;
    ol_adapter_source_vt sources[MAX_SOURCES + 2]; /* added ones, then http, dir */
    int n_added;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* loaders: a job was queued, room was freed, or stop */
    pthread_t *threads;
    int n_threads;
    bool stop;

    ol_adapter_entry **buckets; /* registered names; chained */
    size_t n_buckets;
    ol_adapter_entry *q_head, *q_tail;
    ol_adapter_entry *r_head; /* resident versions, any order */
    int n_prefetch_inflight;
    uint64_t next_version, tick, n_uses;
    uint32_t lfu_epoch;
    size_t pinned_bytes;
    ol_adapter_cache_stats s; /* counters kept up to date */
};

/* Adapters and entries to free once the mutex is released. */
typedef struct {
    ol_adapter *a[16];
    ol_adapter_entry *e[16];
    int na, ne;
} graveyard;

static void graveyard_flush(graveyard *g) {
    for (int i = 0; i < g->na; i++) ol_adapter_destroy(g->a[i]);
    for (int i = 0; i < g->ne; i++) {
        ol_adapter_destroy(g->e[i]->a);
        free(g->e[i]->fail_msg);
        free(g->e[i]);
    }
    g->na = g->ne = 0;
}

/* ---- names, config ---------------------------------------------------------------------- */

bool ol_adapter_name_valid(const char *name) {
    if (!name || !name[0] || name[0] == '.') return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok || n >= OL_ADAPTER_NAME_MAX) return false;
    }
    return true;
}

const char *ol_adapter_policy_name(ol_adapter_policy p) {
    switch (p) {
    case OL_ADAPTER_POLICY_LRU:
        return "lru";
    case OL_ADAPTER_POLICY_LFU:
        return "lfu";
    default:
        return "unknown";
    }
}

void ol_adapter_cache_config_default(ol_adapter_cache_config *c) {
    *c = (ol_adapter_cache_config){
        .budget_bytes = (size_t)1 << 30,
        .n_loaders = 2,
        .policy = OL_ADAPTER_POLICY_LRU,
        .http_timeout_ms = 30000,
        .http_connect_timeout_ms = 5000,
        .http_max_bytes = (size_t)512 << 20,
    };
}

/* Text without control characters (allow_ws: tab, CR and LF allowed), 1..max bytes. */
static bool text_ok(const char *s, size_t max, bool allow_ws) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (n >= max) return false;
        if (*p == 0x7f || (*p < 0x20 && !(allow_ws && (*p == '\t' || *p == '\n' || *p == '\r'))))
            return false;
    }
    return n > 0;
}

/* ---- registry --------------------------------------------------------------------------- */

static size_t name_hash(const char *name) {
    return (size_t)ol_hash_fnv1a(name, strlen(name), 0);
}

static ol_adapter_entry **find_slot(ol_adapter_cache *c, const char *name) {
    ol_adapter_entry **p = &c->buckets[name_hash(name) & (c->n_buckets - 1)];
    while (*p && strcmp((*p)->name, name) != 0) p = &(*p)->hnext;
    return p;
}

/* Double the bucket array when names outnumber buckets; on OOM keep the longer chains. */
static void maybe_grow(ol_adapter_cache *c) {
    if ((size_t)c->s.n_registered <= c->n_buckets) return;
    size_t nb = c->n_buckets * 2;
    ol_adapter_entry **b = calloc(nb, sizeof(*b));
    if (!b) return;
    for (size_t i = 0; i < c->n_buckets; i++) {
        for (ol_adapter_entry *e = c->buckets[i], *next; e; e = next) {
            next = e->hnext;
            ol_adapter_entry **slot = &b[name_hash(e->name) & (nb - 1)];
            e->hnext = *slot;
            *slot = e;
        }
    }
    free(c->buckets);
    c->s.registry_bytes += (nb - c->n_buckets) * sizeof(*b);
    c->buckets = b;
    c->n_buckets = nb;
}

/* Take e out of the resident set; returns its weights for the caller to free. */
static ol_adapter *resident_unlink(ol_adapter_cache *c, ol_adapter_entry *e) {
    if (e->rprev)
        e->rprev->rnext = e->rnext;
    else
        c->r_head = e->rnext;
    if (e->rnext) e->rnext->rprev = e->rprev;
    e->rprev = e->rnext = NULL;
    c->s.resident_bytes -= e->bytes;
    c->s.n_resident--;
    ol_adapter *a = e->a;
    e->a = NULL;
    e->st = ST_COLD;
    e->n_waiting = 0;
    return a;
}

/* Drop one reference; the last one unlinks the entry and hands it to the graveyard. */
static void unref(ol_adapter_cache *c, ol_adapter_entry *e, graveyard *g) {
    OL_ASSERT(e->refs > 0);
    if (--e->refs > 0) return;
    OL_ASSERT(e->pins == 0 && !e->registered && e->st != ST_QUEUED && e->st != ST_LOADING);
    if (e->st == ST_RESIDENT) {
        e->a = resident_unlink(c, e);   /* freed with the entry */
        pthread_cond_broadcast(&c->cv); /* room freed */
    }
    c->s.n_versions_live--;
    c->s.registry_bytes -= e->alloc_bytes + (e->fail_msg ? strlen(e->fail_msg) + 1 : 0);
    g->e[g->ne++] = e;
}

static const ol_adapter_source_vt *claiming_source(ol_adapter_cache *c, const char *source) {
    for (int i = 0; i < c->n_added + 2; i++) {
        int k = i < c->n_added ? i : MAX_SOURCES + (i - c->n_added);
        if (c->sources[k].claims(source)) return &c->sources[k];
    }
    return NULL;
}

static int check_register_args(const char *name, const char *source, const char *sha256,
                               const char *meta, ol_err *err) {
    if (!ol_adapter_name_valid(name))
        return ol_err_set(err, OL_EINVAL,
                          "bad adapter name '%.80s': 1..%d bytes of [A-Za-z0-9._-], not "
                          "starting with '.'",
                          name ? name : "(null)", OL_ADAPTER_NAME_MAX);
    if (!source || !text_ok(source, OL_ADAPTER_SOURCE_MAX, false))
        return ol_err_set(err, OL_EINVAL,
                          "adapter '%s': source must be 1..%d bytes without control characters",
                          name, OL_ADAPTER_SOURCE_MAX);
    if (sha256 && !ol_adapter_sha256_valid(sha256))
        return ol_err_set(err, OL_EINVAL, "adapter '%s': sha256 must be 64 hex digits", name);
    if (meta && meta[0] && !text_ok(meta, OL_ADAPTER_META_MAX, true))
        return ol_err_set(err, OL_EINVAL,
                          "adapter '%s': metadata must be at most %d bytes without control "
                          "characters other than tab and newline",
                          name, OL_ADAPTER_META_MAX);
    return 0;
}

static ol_adapter_entry *entry_new(const char *name, const char *source, const char *sha256,
                                   const char *meta) {
    size_t ln = strlen(name) + 1, ls = strlen(source) + 1, lh = sha256 ? 65 : 0;
    size_t lm = strlen(meta ? meta : "") + 1;
    size_t total = sizeof(ol_adapter_entry) + ln + ls + lh + lm;
    ol_adapter_entry *e = calloc(1, total);
    if (!e) return NULL;
    char *p = (char *)(e + 1);
    e->name = memcpy(p, name, ln), p += ln;
    e->source = memcpy(p, source, ls), p += ls;
    if (sha256) {
        for (int i = 0; i < 64; i++) p[i] = (char)(sha256[i] | 0x20); /* hex to lowercase */
        p[64] = '\0';
        e->sha256 = p, p += lh;
    }
    e->meta = memcpy(p, meta ? meta : "", lm);
    e->alloc_bytes = total;
    return e;
}

int ol_adapter_cache_register(ol_adapter_cache *c, const char *name, const char *source,
                              const char *sha256, const char *meta, uint64_t *version_out,
                              ol_err *err) {
    int rc = check_register_args(name, source, sha256, meta, err);
    if (rc) return rc;
    ol_adapter_entry *e = entry_new(name, source, sha256, meta);
    if (!e) return ol_err_set(err, OL_ENOMEM, "adapter '%s': out of memory", name);
    graveyard g = {0};
    pthread_mutex_lock(&c->mu);
    e->src = claiming_source(c, source);
    if (!e->src) {
        pthread_mutex_unlock(&c->mu);
        free(e);
        return ol_err_set(err, OL_EINVAL, "adapter '%s': no source handles '%.200s'", name, source);
    }
    e->version = ++c->next_version;
    e->refs = 1;
    e->registered = true;
    ol_adapter_entry **slot = find_slot(c, name), *old = *slot;
    if (old) { /* replace in the chain */
        e->hnext = old->hnext;
        old->hnext = NULL;
        old->registered = false;
    } else {
        c->s.n_registered++;
    }
    *slot = e;
    c->s.n_versions_live++;
    c->s.registry_bytes += e->alloc_bytes;
    if (old)
        unref(c, old, &g);
    else
        maybe_grow(c);
    if (version_out) *version_out = e->version;
    pthread_mutex_unlock(&c->mu);
    graveyard_flush(&g);
    return 0;
}

int ol_adapter_cache_unregister(ol_adapter_cache *c, const char *name, ol_err *err) {
    if (!ol_adapter_name_valid(name))
        return ol_err_set(err, OL_ENOENT, "no adapter named '%.80s'", name ? name : "(null)");
    graveyard g = {0};
    pthread_mutex_lock(&c->mu);
    ol_adapter_entry **slot = find_slot(c, name), *e = *slot;
    if (e) {
        *slot = e->hnext;
        e->hnext = NULL;
        e->registered = false;
        c->s.n_registered--;
        unref(c, e, &g);
    }
    pthread_mutex_unlock(&c->mu);
    graveyard_flush(&g);
    return e ? 0 : ol_err_set(err, OL_ENOENT, "no adapter named '%s'", name);
}

ol_adapter_entry *ol_adapter_cache_lookup(ol_adapter_cache *c, const char *name) {
    if (!ol_adapter_name_valid(name)) return NULL;
    pthread_mutex_lock(&c->mu);
    ol_adapter_entry *e = *find_slot(c, name);
    if (e) e->refs++;
    pthread_mutex_unlock(&c->mu);
    return e;
}

void ol_adapter_entry_retain(ol_adapter_cache *c, ol_adapter_entry *e) {
    pthread_mutex_lock(&c->mu);
    OL_ASSERT(e->refs > 0);
    e->refs++;
    pthread_mutex_unlock(&c->mu);
}

void ol_adapter_entry_release(ol_adapter_cache *c, ol_adapter_entry *e) {
    if (!e) return;
    graveyard g = {0};
    pthread_mutex_lock(&c->mu);
    unref(c, e, &g);
    pthread_mutex_unlock(&c->mu);
    graveyard_flush(&g);
}

bool ol_adapter_cache_is_loading(ol_adapter_cache *c, const ol_adapter_entry *e) {
    pthread_mutex_lock(&c->mu);
    const bool busy = e->st == ST_QUEUED || e->st == ST_LOADING;
    pthread_mutex_unlock(&c->mu);
    return busy;
}

uint64_t ol_adapter_entry_version(const ol_adapter_entry *e) {
    return e->version;
}
const char *ol_adapter_entry_name(const ol_adapter_entry *e) {
    return e->name;
}
const char *ol_adapter_entry_source(const ol_adapter_entry *e) {
    return e->source;
}
const char *ol_adapter_entry_meta(const ol_adapter_entry *e) {
    return e->meta;
}

/* ---- policy ----------------------------------------------------------------------------- */

/* LFU count after lazy aging: halved once per LFU_AGING_PERIOD uses since it was stored. */
static uint32_t freq_now(const ol_adapter_cache *c, const ol_adapter_entry *e) {
    uint32_t age = c->lfu_epoch - e->freq_epoch;
    return age >= 32 ? 0 : e->freq >> age;
}

/* A use: recency always, frequency when counted (a successful pin or a miss). */
static void touch(ol_adapter_cache *c, ol_adapter_entry *e, bool count) {
    e->last_use = ++c->tick;
    if (!count) return;
    e->freq = freq_now(c, e) + 1;
    e->freq_epoch = c->lfu_epoch;
    if (++c->n_uses % LFU_AGING_PERIOD == 0) c->lfu_epoch++;
}

/* True when a should be evicted before b. */
static bool evict_before(const ol_adapter_cache *c, const ol_adapter_entry *a,
                         const ol_adapter_entry *b) {
    if (c->cfg.policy == OL_ADAPTER_POLICY_LFU) {
        uint32_t fa = freq_now(c, a), fb = freq_now(c, b);
        if (fa != fb) return fa < fb;
    }
    return a->last_use < b->last_use;
}

/* The unpinned resident version to evict next, or NULL. Versions just loaded whose waiters
 * have not pinned them yet go last. For a prefetch (pf != NULL) only versions that the policy
 * ranks below pf are candidates, and never those with waiters. */
/* A version loaded for callers that have not collected it yet is not evicted for CLAIM_NS: the
 * requests that asked for it are about to pin it, and evicting it would only make another load
 * (under a small budget and many distinct adapters that turns into thrashing). A load that
 * finds no other victim waits instead (see admit). After CLAIM_NS it is fair game, so a waiter
 * that went away (a cancelled request) cannot hold budget for ever. */
#define CLAIM_NS 2000000000ull

static ol_adapter_entry *pick_victim(ol_adapter_cache *c, const ol_adapter_entry *pf) {
    ol_adapter_entry *best = NULL;
    const uint64_t now = ol_time_ns();
    for (ol_adapter_entry *e = c->r_head; e; e = e->rnext) {
        if (e->pins > 0) continue;
        if (e->n_waiting > 0 && now - e->t_loaded < CLAIM_NS) continue;
        if (pf && (e->n_waiting > 0 || !evict_before(c, e, pf))) continue;
        if (!best || (best->n_waiting > 0 && e->n_waiting == 0) ||
            ((best->n_waiting > 0) == (e->n_waiting > 0) && evict_before(c, e, best)))
            best = e;
    }
    return best;
}

/* ---- pin, unpin, prefetch --------------------------------------------------------------- */

static void enqueue(ol_adapter_cache *c, ol_adapter_entry *e) {
    e->st = ST_QUEUED;
    e->refs++; /* the queue's, dropped when the load finishes */
    e->qnext = NULL;
    if (c->q_tail)
        c->q_tail->qnext = e;
    else
        c->q_head = e;
    c->q_tail = e;
    c->s.n_loading++;
    pthread_cond_broadcast(&c->cv);
}

static void pin_resident(ol_adapter_cache *c, ol_adapter_entry *e, const ol_adapter **out) {
    if (e->pins++ == 0) {
        c->s.n_pinned++;
        c->pinned_bytes += e->bytes;
    }
    e->refs++;
    touch(c, e, true);
    if (e->n_waiting > 0)
        e->n_waiting--; /* completes a load this caller waited for */
    else
        c->s.hits++;
    *out = e->a;
}

int ol_adapter_cache_pin(ol_adapter_cache *c, ol_adapter_entry *e, const ol_adapter **out,
                         ol_err *err) {
    int rc = OL_EAGAIN;
    pthread_mutex_lock(&c->mu);
    switch (e->st) {
    case ST_RESIDENT:
        pin_resident(c, e, out);
        rc = 0;
        break;
    case ST_QUEUED:
    case ST_LOADING:
        e->n_waiting++;
        break;
    case ST_FAILED:
        rc = ol_err_set(err, e->fail_code, "adapter '%s' version %llu: %s", e->name,
                        (unsigned long long)e->version, e->fail_msg);
        if (--e->fail_left <= 0) {
            c->s.registry_bytes -= strlen(e->fail_msg) + 1;
            free(e->fail_msg);
            e->fail_msg = NULL;
            e->st = ST_COLD;
        }
        break;
    case ST_COLD:
        if (e->bytes > c->cfg.budget_bytes) {
            rc = ol_err_set(err, OL_EFULL,
                            "adapter '%s' version %llu: %zu bytes, more than the whole cache "
                            "budget of %zu bytes",
                            e->name, (unsigned long long)e->version, e->bytes, c->cfg.budget_bytes);
            break;
        }
        c->s.misses++;
        touch(c, e, true);
        e->n_waiting = 1;
        enqueue(c, e);
        break;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == OL_EAGAIN)
        ol_err_set(err, OL_EAGAIN, "adapter '%s' version %llu: loading", e->name,
                   (unsigned long long)e->version);
    return rc;
}

void ol_adapter_cache_unpin(ol_adapter_cache *c, ol_adapter_entry *e) {
    graveyard g = {0};
    pthread_mutex_lock(&c->mu);
    OL_ASSERT(e->pins > 0 && e->st == ST_RESIDENT);
    touch(c, e, false);
    if (--e->pins == 0) {
        c->s.n_pinned--;
        c->pinned_bytes -= e->bytes;
        pthread_cond_broadcast(&c->cv); /* a load may be waiting for room */
    }
    unref(c, e, &g);
    pthread_mutex_unlock(&c->mu);
    graveyard_flush(&g);
}

/* A prefetch starts only into free room: the version's size when known from an earlier load,
 * else the average resident size, must fit beside what is resident now. Into a full cache it
 * would load and then drop the weights (nothing older to evict) over and over. */
void ol_adapter_cache_prefetch(ol_adapter_cache *c, ol_adapter_entry *e) {
    pthread_mutex_lock(&c->mu);
    size_t need = e->bytes;
    if (!need && c->s.n_resident > 0) need = c->s.resident_bytes / (size_t)c->s.n_resident;
    const bool room = c->s.resident_bytes + need <= c->cfg.budget_bytes;
    if (e->st == ST_COLD && !c->stop && c->n_prefetch_inflight < c->n_threads &&
        e->bytes <= c->cfg.budget_bytes && room) {
        e->prefetch = true;
        c->n_prefetch_inflight++;
        c->s.prefetches++;
        enqueue(c, e);
    }
    pthread_mutex_unlock(&c->mu);
}

/* ---- loaders ---------------------------------------------------------------------------- */

/* First queued version that may start: one whose size (when known from an earlier load) fits
 * beside the pinned versions; with an unknown size, some unpinned room must exist. */
static ol_adapter_entry *take_job(ol_adapter_cache *c) {
    for (ol_adapter_entry **p = &c->q_head, *prev = NULL; *p; prev = *p, p = &(*p)->qnext) {
        ol_adapter_entry *e = *p;
        size_t need = e->bytes ? e->bytes : 1;
        if (c->pinned_bytes + need > c->cfg.budget_bytes) continue;
        *p = e->qnext;
        if (c->q_tail == e) c->q_tail = prev;
        e->qnext = NULL;
        e->st = ST_LOADING;
        return e;
    }
    return NULL;
}

/* Record a failed load: owed to every caller that was waiting (none: straight back to cold). */
static void load_failed(ol_adapter_cache *c, ol_adapter_entry *e, const ol_err *err) {
    c->s.load_failures++;
    e->fail_code = err->code < 0 ? err->code : OL_EIO;
    e->fail_left = e->n_waiting;
    e->n_waiting = 0;
    e->st = ST_COLD;
    if (e->fail_left > 0) {
        e->fail_msg = strdup(err->msg[0] ? err->msg : ol_strerror(e->fail_code));
        if (!e->fail_msg) e->fail_code = OL_ENOMEM, e->fail_msg = strdup("");
        if (e->fail_msg) {
            c->s.registry_bytes += strlen(e->fail_msg) + 1;
            e->st = ST_FAILED;
        }
    }
    ol_log(OL_LOG_WARN, "adapter '%s' version %llu: load failed: %s", e->name,
           (unsigned long long)e->version, err->msg);
}

/* Make room for a (e's freshly loaded weights) and make it resident. Waits (unlocking) while
 * the budget is held by pinned versions. Returns false when the weights were dropped: a
 * prefetch without room, nobody left referencing e, or the cache stopping. */
static bool admit(ol_adapter_cache *c, ol_adapter_entry *e, ol_adapter *a, graveyard *g) {
    size_t bytes = ol_adapter_bytes(a);
    for (;;) {
        if (c->stop || e->refs == 1) return false;
        if (c->s.resident_bytes + bytes <= c->cfg.budget_bytes) break;
        bool pf = e->n_waiting == 0;               /* a prefetch nobody has asked for yet */
        if (g->na < (int)OL_ARRAY_LEN(g->a) - 1) { /* keep a slot for finish_load */
            ol_adapter_entry *v = pick_victim(c, pf ? e : NULL);
            if (v) {
                g->a[g->na++] = resident_unlink(c, v);
                c->s.evictions++;
                continue;
            }
        }
        if (g->na > 0) { /* free what was evicted, without the mutex, then look again */
            pthread_mutex_unlock(&c->mu);
            graveyard_flush(g);
            pthread_mutex_lock(&c->mu);
            continue;
        }
        if (pf) return false;
        /* room comes from an unpin (broadcast) or from a claim window running out (no signal:
         * look again every 100 ms) */
        const struct timespec ts = ol_deadline_ms(100);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    e->a = a;
    e->bytes = bytes;
    e->t_loaded = ol_time_ns();
    e->st = ST_RESIDENT;
    e->rprev = NULL;
    e->rnext = c->r_head;
    if (c->r_head) c->r_head->rprev = e;
    c->r_head = e;
    c->s.n_resident++;
    c->s.resident_bytes += bytes;
    if (c->s.resident_bytes > c->s.peak_resident_bytes)
        c->s.peak_resident_bytes = c->s.resident_bytes;
    touch(c, e, false);
    return true;
}

/* Fetch and convert e without the mutex: the weights, or NULL with err filled. */
static ol_adapter *fetch_and_load(ol_adapter_cache *c, ol_adapter_entry *e, ol_err *err) {
    ol_adapter_fetch f = {0};
    int rc = e->src->fetch(e->src->ctx, e->source, e->sha256, &f, err);
    if (rc) {
        if (err->code >= 0) ol_err_set(err, rc, "%s", ol_strerror(rc));
        return NULL;
    }
    f.path[sizeof(f.path) - 1] = '\0';
    ol_adapter *a = ol_adapter_load(f.path, c->model, err);
    if (f.remove_after) ol_adapter_fetch_remove(f.path);
    if (!a && err->code >= 0) ol_err_set(err, OL_EFORMAT, "%s: cannot load", f.path);
    return a;
}

/* A caller asking again before the load finished got OL_EAGAIN twice but waits once: no more
 * waiters than unpinned caller references (all refs less the registry's, the queue's, pins). */
static void clamp_waiters(ol_adapter_entry *e) {
    int holders = e->refs - (e->registered ? 1 : 0) - 1 - e->pins;
    if (e->n_waiting > holders) e->n_waiting = holders > 0 ? holders : 0;
}

/* Finish e's load under the mutex: admit or record the failure, then drop the queue's ref. */
static void finish_load(ol_adapter_cache *c, ol_adapter_entry *e, ol_adapter *a, ol_err *err,
                        uint64_t ns, graveyard *g) {
    clamp_waiters(e);
    c->s.loads++;
    c->s.load_ns_total += (int64_t)ns;
    if ((int64_t)ns > c->s.load_ns_max) c->s.load_ns_max = (int64_t)ns;
    if (a && ol_adapter_bytes(a) > c->cfg.budget_bytes) {
        e->bytes = ol_adapter_bytes(a);
        ol_err_set(err, OL_EFULL, "%zu bytes, more than the whole cache budget of %zu bytes",
                   e->bytes, c->cfg.budget_bytes);
        g->a[g->na++] = a;
        a = NULL;
    }
    if (!a) {
        load_failed(c, e, err);
    } else if (!admit(c, e, a, g)) {
        e->st = ST_COLD;
        e->n_waiting = 0;
        g->a[g->na++] = a;
    } else {
        clamp_waiters(e); /* more asks may have come while waiting for room */
    }
    if (e->prefetch) {
        e->prefetch = false;
        c->n_prefetch_inflight--;
    }
    c->s.n_loading--;
    unref(c, e, g);
}

static void *loader_main(void *arg) {
    ol_adapter_cache *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        ol_adapter_entry *e = NULL;
        while (!c->stop && !(e = take_job(c))) pthread_cond_wait(&c->cv, &c->mu);
        if (!e) break;
        pthread_mutex_unlock(&c->mu);

        ol_err err;
        ol_err_clear(&err);
        uint64_t t0 = ol_time_ns();
        ol_adapter *a = fetch_and_load(c, e, &err);
        uint64_t ns = ol_time_ns() - t0;

        graveyard g = {0};
        pthread_mutex_lock(&c->mu);
        finish_load(c, e, a, &err, ns, &g);
        pthread_mutex_unlock(&c->mu);
        graveyard_flush(&g);
        if (c->cfg.on_load_done) c->cfg.on_load_done(c->cfg.ud);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* ---- lifecycle, stats, listing ---------------------------------------------------------- */

static int check_config(const ol_adapter_cache_config *cfg, ol_err *err) {
    if (cfg->budget_bytes == 0) return ol_err_set(err, OL_EINVAL, "adapter cache: budget is 0");
    if (cfg->n_loaders < 1 || cfg->n_loaders > 64)
        return ol_err_set(err, OL_EINVAL, "adapter cache: %d loaders (1..64)", cfg->n_loaders);
    if ((unsigned)cfg->policy >= OL_ADAPTER_POLICY_COUNT)
        return ol_err_set(err, OL_EINVAL, "adapter cache: unknown policy %d", (int)cfg->policy);
    if (cfg->http_timeout_ms <= 0 || cfg->http_connect_timeout_ms <= 0 || !cfg->http_max_bytes)
        return ol_err_set(err, OL_EINVAL, "adapter cache: http timeouts and size must be > 0");
    return 0;
}

static int setup_sources(ol_adapter_cache *c, ol_err *err) {
    const char *tmp = c->cfg.tmp_dir;
    if (!tmp || !tmp[0]) tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0]) tmp = "/tmp";
    if (strlen(tmp) >= sizeof(c->http.tmp_dir) - 64)
        return ol_err_set(err, OL_EINVAL, "adapter cache: tmp_dir too long");
    snprintf(c->http.tmp_dir, sizeof(c->http.tmp_dir), "%s", tmp);
    c->cfg.tmp_dir = c->http.tmp_dir;
    c->http.timeout_ms = c->cfg.http_timeout_ms;
    c->http.connect_timeout_ms = c->cfg.http_connect_timeout_ms;
    c->http.max_bytes = c->cfg.http_max_bytes;
    ol_adapter_source_http_init(&c->sources[MAX_SOURCES], &c->http);
    ol_adapter_source_dir_init(&c->sources[MAX_SOURCES + 1]);
    return 0;
}

ol_adapter_cache *ol_adapter_cache_create(const ol_adapter_cache_config *cfg, const ol_model *m,
                                          ol_err *err) {
    if (check_config(cfg, err)) return NULL;
    ol_adapter_cache *c = calloc(1, sizeof(*c));
    if (!c) goto oom;
    c->cfg = *cfg;
    c->model = m;
    c->s.budget_bytes = cfg->budget_bytes;
    if (setup_sources(c, err)) goto fail;
    c->n_buckets = HASH_BUCKETS_FIRST;
    c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
    c->threads = calloc((size_t)cfg->n_loaders, sizeof(*c->threads));
    if (!c->buckets || !c->threads) goto oom;
    c->s.registry_bytes = c->n_buckets * sizeof(*c->buckets);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    for (; c->n_threads < cfg->n_loaders; c->n_threads++) {
        if (pthread_create(&c->threads[c->n_threads], NULL, loader_main, c) != 0) {
            ol_err_set(err, OL_ENOMEM, "adapter cache: cannot start loader thread %d",
                       c->n_threads);
            ol_adapter_cache_destroy(c);
            return NULL;
        }
    }
    return c;
oom:
    ol_err_set(err, OL_ENOMEM, "adapter cache: out of memory");
fail:
    if (c) free(c->buckets), free(c->threads);
    free(c);
    return NULL;
}

void ol_adapter_cache_destroy(ol_adapter_cache *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->n_threads; i++) pthread_join(c->threads[i], NULL);

    graveyard g = {0};
    pthread_mutex_lock(&c->mu);
    while (c->q_head) { /* loads that never started */
        ol_adapter_entry *e = c->q_head;
        c->q_head = e->qnext;
        e->st = ST_COLD;
        c->s.n_loading--;
        unref(c, e, &g);
        if (g.ne == (int)OL_ARRAY_LEN(g.e) || g.na == (int)OL_ARRAY_LEN(g.a)) graveyard_flush(&g);
    }
    for (size_t i = 0; i < c->n_buckets; i++) {
        while (c->buckets[i]) {
            ol_adapter_entry *e = c->buckets[i];
            c->buckets[i] = e->hnext;
            e->registered = false;
            unref(c, e, &g);
            if (g.ne == (int)OL_ARRAY_LEN(g.e) || g.na == (int)OL_ARRAY_LEN(g.a))
                graveyard_flush(&g);
        }
    }
    graveyard_flush(&g);
    if (c->s.n_versions_live > 0)
        ol_log(OL_LOG_WARN, "adapter cache destroyed with %lld versions still referenced",
               (long long)c->s.n_versions_live);
    pthread_mutex_unlock(&c->mu);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->buckets);
    free(c->threads);
    free(c);
}

int ol_adapter_cache_add_source(ol_adapter_cache *c, const ol_adapter_source_vt *vt, ol_err *err) {
    if (!vt || !vt->claims || !vt->fetch)
        return ol_err_set(err, OL_EINVAL, "adapter source: claims and fetch are required");
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    if (c->n_added == MAX_SOURCES)
        rc = ol_err_set(err, OL_EFULL, "adapter cache: more than %d sources", MAX_SOURCES);
    else
        c->sources[c->n_added++] = *vt;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void ol_adapter_cache_stats_get(ol_adapter_cache *c, ol_adapter_cache_stats *s) {
    pthread_mutex_lock(&c->mu);
    *s = c->s;
    pthread_mutex_unlock(&c->mu);
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(ol_adapter_entry *const *)a)->name, (*(ol_adapter_entry *const *)b)->name);
}

/* Under the cache mutex. */
static void fill_listing(const ol_adapter_entry *e, ol_adapter_listing *l) {
    snprintf(l->name, sizeof(l->name), "%s", e->name);
    l->version = e->version;
    l->resident = e->st == ST_RESIDENT;
    l->loading = e->st == ST_QUEUED || e->st == ST_LOADING;
    l->bytes = l->resident ? e->bytes : 0;
}

void ol_adapter_cache_describe(ol_adapter_cache *c, const ol_adapter_entry *e,
                               ol_adapter_listing *l) {
    pthread_mutex_lock(&c->mu);
    fill_listing(e, l);
    pthread_mutex_unlock(&c->mu);
}

int ol_adapter_cache_list(ol_adapter_cache *c, ol_adapter_listing *out, int cap) {
    pthread_mutex_lock(&c->mu);
    int n = (int)c->s.n_registered, k = 0;
    ol_adapter_entry **all = malloc(sizeof(*all) * (size_t)(n ? n : 1));
    if (!all) {
        pthread_mutex_unlock(&c->mu);
        return OL_ENOMEM;
    }
    for (size_t i = 0; i < c->n_buckets; i++)
        for (ol_adapter_entry *e = c->buckets[i]; e; e = e->hnext) all[k++] = e;
    qsort(all, (size_t)k, sizeof(*all), by_name);
    for (int i = 0; i < k && i < cap; i++) fill_listing(all[i], &out[i]);
    pthread_mutex_unlock(&c->mu);
    free(all);
    return n;
}
