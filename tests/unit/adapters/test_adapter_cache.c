/* tests/unit/adapters/test_adapter_cache.c: the adapter registry and host cache. 100 names over
 * a budget of 8 adapters pinned by 3 threads with Zipf-distributed names (LRU and LFU); 16
 * threads pinning one cold version (one load); failures (missing dir, bad pins, HTTP 404, HTTP
 * timeout, download limit, larger than the budget) from a real local HTTP server
 * (tools/test_http_server.py) and http loads of a .gguf and a pinned PEFT directory;
 * re-registration and version lifetimes; LRU and LFU eviction order; prefetch; name checks. */
#include "adapters/adapters.h"
#include "adapters/adapters_internal.h"
#include "test.h"
#include "test_http.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const ol_model *g_model;
static size_t g_bytes; /* ol_adapter_bytes of the qv_r4 fixture */
static size_t g_bytes_r8;
static double g_sum;    /* its checksum */
static double g_sum_r8; /* checksum of all_r8.gguf */
static char g_qv[4096], g_tmp[256];
static int g_port;

/* ---- waiting for loads: the on_load_done callback bumps a counter ----------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t n_done;
} waker;

static waker g_w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void on_done(void *ud) {
    waker *w = ud;
    pthread_mutex_lock(&w->mu);
    w->n_done++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static uint64_t done_count(void) {
    pthread_mutex_lock(&g_w.mu);
    uint64_t n = g_w.n_done;
    pthread_mutex_unlock(&g_w.mu);
    return n;
}

/* Wait until more than `seen` loads finished; false after 60 s (a hang, not a speed check). */
static bool wait_done(uint64_t seen) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 60;
    bool ok = true;
    pthread_mutex_lock(&g_w.mu);
    while (ok && g_w.n_done == seen) ok = pthread_cond_timedwait(&g_w.cv, &g_w.mu, &dl) == 0;
    pthread_mutex_unlock(&g_w.mu);
    return ok;
}

/* Pin, waiting for loads as the engine would: retry after each on_load_done. */
static int pin_wait(ol_adapter_cache *c, ol_adapter_entry *e, const ol_adapter **out, ol_err *err) {
    for (;;) {
        uint64_t seen = done_count();
        int rc = ol_adapter_cache_pin(c, e, out, err);
        if (rc != OL_EAGAIN) return rc;
        if (!wait_done(seen)) return ol_err_set(err, OL_EIO, "no load finished in 60 s");
    }
}

static double checksum(const ol_adapter *a) {
    const ol_lora_weights *w = ol_adapter_weights(a);
    double s = 0;
    for (int i = 0; i < w->n_layer * OL_PROJ_COUNT; i++) {
        const ol_lora_mat *m = &w->mats[i];
        if (m->r == 0) continue;
        for (int k = 0; k < 16; k++) s += (double)m->a[k] * (k + 1) + (double)m->bt[k] * (k + 2);
    }
    return s;
}

static ol_adapter_cache *make_cache(size_t budget, int n_loaders, ol_adapter_policy p) {
    ol_adapter_cache_config cfg;
    ol_adapter_cache_config_default(&cfg);
    cfg.budget_bytes = budget;
    cfg.n_loaders = n_loaders;
    cfg.policy = p;
    cfg.http_timeout_ms = 500;
    cfg.http_connect_timeout_ms = 2000;
    cfg.tmp_dir = g_tmp;
    cfg.on_load_done = on_done;
    cfg.ud = &g_w;
    ol_err err = {0};
    ol_adapter_cache *c = ol_adapter_cache_create(&cfg, g_model, &err);
    if (!c) fprintf(stderr, "cache: %s\n", err.msg);
    CHECK(c != NULL);
    return c;
}

static ol_adapter_entry *reg_lookup(ol_adapter_cache *c, const char *name, const char *src,
                                    const char *sha) {
    ol_err err = {0};
    int rc = ol_adapter_cache_register(c, name, src, sha, NULL, NULL, &err);
    if (rc) fprintf(stderr, "register %s: %s\n", name, err.msg);
    CHECK_EQ_INT(rc, 0);
    return ol_adapter_cache_lookup(c, name);
}

/* Pin name (registered), check its weights, unpin. Returns the pin's result. */
static int use(ol_adapter_cache *c, const char *name, ol_err *err) {
    ol_adapter_entry *e = ol_adapter_cache_lookup(c, name);
    CHECK(e != NULL);
    if (!e) return OL_ENOENT;
    const ol_adapter *a = NULL;
    int rc = pin_wait(c, e, &a, err);
    if (rc == 0) {
        CHECK_NEAR(checksum(a), g_sum, 0);
        ol_adapter_cache_unpin(c, e);
    }
    ol_adapter_entry_release(c, e);
    return rc;
}

static bool resident(ol_adapter_cache *c, const char *name) {
    ol_adapter_listing l[16];
    int n = ol_adapter_cache_list(c, l, 16);
    for (int i = 0; i < n && i < 16; i++)
        if (!strcmp(l[i].name, name)) return l[i].resident;
    return false;
}

/* ---- (1) Zipf traffic from 3 threads ---------------------------------------------------- */

#define N_NAMES 100
#define N_PINS  1000

typedef struct {
    ol_adapter_cache *c;
    const double *cdf;
    unsigned seed;
    int n, n_ok, n_bad;
} zipf_job;

static void *zipf_thread(void *arg) {
    zipf_job *j = arg;
    for (int i = 0; i < j->n; i++) {
        double u = (double)rand_r(&j->seed) / ((double)RAND_MAX + 1);
        int k = 0;
        while (k < N_NAMES - 1 && j->cdf[k] < u) k++;
        char name[16];
        snprintf(name, sizeof(name), "z%03d", k);
        ol_adapter_entry *e = ol_adapter_cache_lookup(j->c, name);
        const ol_adapter *a = NULL;
        ol_err err = {0};
        if (!e || pin_wait(j->c, e, &a, &err) != 0) {
            fprintf(stderr, "zipf pin %s: %s\n", name, err.msg);
            j->n_bad++;
            ol_adapter_entry_release(j->c, e);
            continue;
        }
        /* while pinned the weights stay put, whatever the other threads load and evict */
        double s0 = checksum(a);
        ol_adapter_cache_stats st;
        for (int y = 0; y < 3; y++) {
            sched_yield();
            ol_adapter_cache_stats_get(j->c, &st);
            if (st.resident_bytes > st.budget_bytes) j->n_bad++;
        }
        if (s0 != g_sum || checksum(a) != s0) j->n_bad++;
        ol_adapter_cache_unpin(j->c, e);
        ol_adapter_entry_release(j->c, e);
        j->n_ok++;
    }
    return NULL;
}

static void test_zipf(ol_adapter_policy policy) {
    ol_adapter_cache *c = make_cache(8 * g_bytes, 2, policy);
    if (!c) return;
    for (int i = 0; i < N_NAMES; i++) {
        char name[16];
        snprintf(name, sizeof(name), "z%03d", i);
        ol_adapter_entry_release(c, reg_lookup(c, name, g_qv, NULL));
    }
    double cdf[N_NAMES], z = 0;
    for (int i = 0; i < N_NAMES; i++) z += 1.0 / (i + 1);
    double acc = 0;
    for (int i = 0; i < N_NAMES; i++) cdf[i] = (acc += 1.0 / (i + 1) / z);
    zipf_job jobs[3];
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
        jobs[t] = (zipf_job){c, cdf, 1234u + (unsigned)t * 77u, N_PINS / 3 + (t == 0), 0, 0};
        pthread_create(&th[t], NULL, zipf_thread, &jobs[t]);
    }
    int n_ok = 0;
    for (int t = 0; t < 3; t++) {
        pthread_join(th[t], NULL);
        n_ok += jobs[t].n_ok;
        CHECK_EQ_INT(jobs[t].n_bad, 0);
    }
    CHECK_EQ_INT(n_ok, N_PINS);
    ol_adapter_cache_stats s;
    ol_adapter_cache_stats_get(c, &s);
    printf("zipf %s: hits %lld misses %lld loads %lld evictions %lld peak %zu / %zu bytes, "
           "registry %zu bytes for %lld names\n",
           ol_adapter_policy_name(policy), (long long)s.hits, (long long)s.misses,
           (long long)s.loads, (long long)s.evictions, s.peak_resident_bytes, s.budget_bytes,
           s.registry_bytes, (long long)s.n_registered);
    CHECK_EQ_INT(s.loads, s.misses);
    CHECK_EQ_INT(s.load_failures, 0);
    CHECK(s.misses > 8 && s.evictions > 0);
    CHECK(s.peak_resident_bytes <= s.budget_bytes);
    CHECK(s.resident_bytes <= s.budget_bytes);
    CHECK_EQ_INT(s.n_pinned, 0);
    CHECK_EQ_INT(s.n_loading, 0);
    CHECK(s.n_resident <= 8);
    CHECK_EQ_INT(s.n_registered, N_NAMES);
    CHECK_EQ_INT(s.n_versions_live, N_NAMES);
    CHECK(s.registry_bytes / (size_t)s.n_registered <= 2048);
    ol_adapter_cache_destroy(c);
}

/* ---- (2) single flight ------------------------------------------------------------------ */

typedef struct {
    ol_adapter_cache *c;
    pthread_barrier_t *bar;
    int rc;
} sf_job;

static void *sf_thread(void *arg) {
    sf_job *j = arg;
    ol_adapter_entry *e = ol_adapter_cache_lookup(j->c, "one");
    const ol_adapter *a = NULL;
    ol_err err = {0};
    pthread_barrier_wait(j->bar);
    j->rc = pin_wait(j->c, e, &a, &err);
    if (j->rc == 0) {
        if (checksum(a) != g_sum) j->rc = -100;
        ol_adapter_cache_unpin(j->c, e);
    }
    ol_adapter_entry_release(j->c, e);
    return NULL;
}

static void test_single_flight(void) {
    ol_adapter_cache *c = make_cache(8 * g_bytes, 4, OL_ADAPTER_POLICY_LRU);
    if (!c) return;
    ol_adapter_entry_release(c, reg_lookup(c, "one", g_qv, NULL));
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 16);
    sf_job jobs[16];
    pthread_t th[16];
    for (int t = 0; t < 16; t++) {
        jobs[t] = (sf_job){c, &bar, -1};
        pthread_create(&th[t], NULL, sf_thread, &jobs[t]);
    }
    for (int t = 0; t < 16; t++) {
        pthread_join(th[t], NULL);
        CHECK_EQ_INT(jobs[t].rc, 0);
    }
    pthread_barrier_destroy(&bar);
    ol_adapter_cache_stats s;
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.loads, 1);
    CHECK_EQ_INT(s.misses, 1);
    CHECK_EQ_INT(s.n_resident, 1);
    ol_adapter_cache_destroy(c);
}

/* ---- (3) failures and http -------------------------------------------------------------- */

static pid_t start_server(const char *dir) {
    pid_t pid = test_http_server_start(dir, g_tmp, &g_port);
    CHECK(g_port > 0);
    return pid;
}

static int n_tmp_files(void) {
    DIR *d = opendir(g_tmp);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) n += de->d_name[0] != '.' || strlen(de->d_name) > 2;
    if (d) closedir(d);
    return n;
}

static void expect_fail(ol_adapter_cache *c, const char *name, const char *src, const char *sha,
                        int code, const char *needle) {
    ol_adapter_entry *e = reg_lookup(c, name, src, sha);
    const ol_adapter *a = NULL;
    ol_err err = {0};
    int rc = pin_wait(c, e, &a, &err);
    printf("%-10s -> %s\n", name, err.msg);
    CHECK_EQ_INT(rc, code);
    CHECK_STR_CONTAINS(err.msg, needle);
    CHECK_STR_CONTAINS(err.msg, name);
    if (rc == 0) ol_adapter_cache_unpin(c, e);
    ol_adapter_entry_release(c, e);
}

static void test_failures(void) {
    ol_adapter_cache *c = make_cache(8 * g_bytes + g_bytes_r8, 2, OL_ADAPTER_POLICY_LRU);
    if (!c) return;
    ol_err err = {0};
    ol_adapter_entry_release(c, reg_lookup(c, "good", g_qv, NULL));
    CHECK_EQ_INT(use(c, "good", &err), 0);

    expect_fail(c, "missing", "/nonexistent/adapter/dir", NULL, OL_ENOENT, "/nonexistent");
    /* the failure was reported to its waiter; the next pin is a fresh attempt */
    ol_adapter_cache_stats s0, s;
    ol_adapter_cache_stats_get(c, &s0);
    CHECK_EQ_INT(use(c, "missing", &err), OL_ENOENT);
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.loads, s0.loads + 1);
    CHECK_EQ_INT(s.load_failures, s0.load_failures + 1);

    const char *zeros = "0000000000000000000000000000000000000000000000000000000000000000";
    expect_fail(c, "badpin", g_qv, zeros, OL_EFORMAT, "sha256 mismatch");

    char url[512], sha[65], st[4200];
    snprintf(st, sizeof(st), "%s/adapter_model.safetensors", g_qv);
    CHECK_EQ_INT(ol_adapter_sha256_file(st, sha, &err), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope.gguf", g_port);
    expect_fail(c, "h404", url, NULL, OL_EIO, "HTTP status 404");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/qv_r4_missing/", g_port);
    expect_fail(c, "h404dir", url, sha, OL_EIO, "404");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow/all_r8.gguf", g_port);
    expect_fail(c, "hslow", url, NULL, OL_EIO, "timed out");
    /* one caller asking repeatedly while the load runs is owed the failure once: its next ask
     * is a fresh attempt, not the stale error */
    ol_adapter_entry *e = reg_lookup(c, "hpoll", url, NULL);
    const ol_adapter *a = NULL;
    int rc = 0;
    for (int i = 0; i < 5 && (rc = ol_adapter_cache_pin(c, e, &a, &err)) == OL_EAGAIN; i++) {
    }
    if (rc == OL_EAGAIN) rc = pin_wait(c, e, &a, &err);
    CHECK_EQ_INT(rc, OL_EIO);
    CHECK_EQ_INT(ol_adapter_cache_pin(c, e, &a, &err), OL_EAGAIN);
    CHECK_EQ_INT(pin_wait(c, e, &a, &err), OL_EIO);
    ol_adapter_entry_release(c, e);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/qv_r4/", g_port);
    expect_fail(c, "hbadpin", url, zeros, OL_EFORMAT, "sha256 mismatch");
    CHECK_EQ_INT(n_tmp_files(), 0); /* nothing left behind by failed downloads */

    /* successful http loads: a .gguf file, and a PEFT directory with the right pin */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/all_r8.gguf", g_port);
    e = reg_lookup(c, "hgguf", url, NULL);
    a = NULL;
    CHECK_EQ_INT(pin_wait(c, e, &a, &err), 0);
    if (a) CHECK_NEAR(checksum(a), g_sum_r8, 0);
    if (a) ol_adapter_cache_unpin(c, e);
    ol_adapter_entry_release(c, e);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/qv_r4/", g_port);
    ol_adapter_entry_release(c, reg_lookup(c, "hpeft", url, sha));
    rc = use(c, "hpeft", &err);
    if (rc) fprintf(stderr, "hpeft: %s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(n_tmp_files(), 0); /* temporary copies removed after load */

    /* the cache keeps serving */
    CHECK_EQ_INT(use(c, "good", &err), 0);
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.load_failures, 9);
    CHECK_EQ_INT(s.n_loading, 0);
    ol_adapter_cache_destroy(c);

    /* download size limit, and a version larger than the whole budget */
    ol_adapter_cache_config cfg;
    ol_adapter_cache_config_default(&cfg);
    cfg.budget_bytes = g_bytes - 1;
    cfg.http_max_bytes = 1000;
    cfg.tmp_dir = g_tmp;
    cfg.on_load_done = on_done;
    cfg.ud = &g_w;
    c = ol_adapter_cache_create(&cfg, g_model, &err);
    CHECK(c != NULL);
    if (!c) return;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/all_r8.gguf", g_port);
    expect_fail(c, "hbig", url, NULL, OL_ERANGE, "download limit");
    expect_fail(c, "huge", g_qv, NULL, OL_EFULL, "budget");
    ol_adapter_cache_stats_get(c, &s0);
    CHECK_EQ_INT(use(c, "huge", &err), OL_EFULL); /* known now: refused without a load */
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.loads, s0.loads);
    CHECK_EQ_INT(s.resident_bytes, 0);
    CHECK_EQ_INT(n_tmp_files(), 0);
    ol_adapter_cache_destroy(c);
}

/* ---- (4) re-registration, unregister; names --------------------------------------------- */

static void test_versions(void) {
    ol_adapter_cache *c = make_cache(8 * g_bytes, 2, OL_ADAPTER_POLICY_LRU);
    if (!c) return;
    ol_err err = {0};
    uint64_t v1 = 0, v2 = 0, vx = 0;
    CHECK_EQ_INT(ol_adapter_cache_register(c, "rr", g_qv, NULL, "{\"a\":1}", &v1, &err), 0);
    CHECK_EQ_INT(ol_adapter_cache_register(c, "other", g_qv, NULL, NULL, &vx, &err), 0);
    ol_adapter_entry *e1 = ol_adapter_cache_lookup(c, "rr");
    CHECK(e1 && ol_adapter_entry_version(e1) == v1);
    CHECK(!strcmp(ol_adapter_entry_meta(e1), "{\"a\":1}"));
    CHECK(!strcmp(ol_adapter_entry_name(e1), "rr"));
    CHECK(!strcmp(ol_adapter_entry_source(e1), g_qv));
    const ol_adapter *a1 = NULL;
    CHECK_EQ_INT(pin_wait(c, e1, &a1, &err), 0);
    CHECK_EQ_INT(ol_adapter_cache_register(c, "rr", g_qv, NULL, NULL, &v2, &err), 0);
    CHECK(vx > v1 && v2 > vx); /* one counter for every name */
    ol_adapter_cache_stats s;
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.n_registered, 2);
    CHECK_EQ_INT(s.n_versions_live, 3);
    ol_adapter_entry *e2 = ol_adapter_cache_lookup(c, "rr");
    CHECK(e2 && e2 != e1 && ol_adapter_entry_version(e2) == v2);
    CHECK(!strcmp(ol_adapter_entry_meta(e2), ""));
    /* the old version is still usable by its holder */
    if (a1) CHECK_NEAR(checksum(a1), g_sum, 0);
    const ol_adapter *a2 = NULL;
    CHECK_EQ_INT(pin_wait(c, e2, &a2, &err), 0);
    CHECK(a2 && a2 != a1);
    ol_adapter_cache_unpin(c, e2);
    if (a1) ol_adapter_cache_unpin(c, e1);
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.n_versions_live, 3);
    CHECK_EQ_INT(s.n_resident, 2);
    ol_adapter_entry_release(c, e1); /* last reference to v1: freed, with its weights */
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.n_versions_live, 2);
    CHECK_EQ_INT(s.n_resident, 1);
    CHECK_EQ_INT(s.resident_bytes, g_bytes);

    CHECK_EQ_INT(ol_adapter_cache_unregister(c, "rr", &err), 0);
    CHECK(ol_adapter_cache_lookup(c, "rr") == NULL);
    CHECK_EQ_INT(ol_adapter_cache_unregister(c, "rr", &err), OL_ENOENT);
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.n_registered, 1);
    CHECK_EQ_INT(s.n_versions_live, 2); /* e2 still held */
    ol_adapter_entry_release(c, e2);
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.n_versions_live, 1);
    CHECK_EQ_INT(s.resident_bytes, 0);
    ol_adapter_cache_destroy(c);
}

/* Names, sources, pins and metadata are checked for form; listings are sorted by name. */
static void test_names(void) {
    ol_adapter_cache *c = make_cache(8 * g_bytes, 1, OL_ADAPTER_POLICY_LRU);
    if (!c) return;
    ol_err err = {0};
    CHECK_EQ_INT(ol_adapter_cache_register(c, "other", g_qv, NULL, NULL, NULL, &err), 0);
    char long_name[80];
    memset(long_name, 'a', 65);
    long_name[65] = 0;
    const char *bad_names[] = {"", ".hidden", "a/b", "a b", "ä", long_name, "x\n"};
    for (size_t i = 0; i < OL_ARRAY_LEN(bad_names); i++) {
        CHECK(!ol_adapter_name_valid(bad_names[i]));
        CHECK_EQ_INT(ol_adapter_cache_register(c, bad_names[i], g_qv, NULL, NULL, NULL, &err),
                     OL_EINVAL);
    }
    long_name[64] = 0;
    CHECK(ol_adapter_name_valid(long_name));
    CHECK(ol_adapter_name_valid("Qwen2.5-7B_lora.v1"));
    CHECK_EQ_INT(ol_adapter_cache_register(c, "s", "", NULL, NULL, NULL, &err), OL_EINVAL);
    CHECK_EQ_INT(ol_adapter_cache_register(c, "s", "a\nb", NULL, NULL, NULL, &err), OL_EINVAL);
    CHECK_EQ_INT(ol_adapter_cache_register(c, "s", "ftp://x/y", NULL, NULL, NULL, &err), OL_EINVAL);
    CHECK_STR_CONTAINS(err.msg, "no source");
    CHECK_EQ_INT(ol_adapter_cache_register(c, "s", g_qv, "abc", NULL, NULL, &err), OL_EINVAL);
    char big[1100];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    CHECK_EQ_INT(ol_adapter_cache_register(c, "s", big, NULL, NULL, NULL, &err), OL_EINVAL);
    CHECK_EQ_INT(ol_adapter_cache_register(c, "s", g_qv, NULL, big, NULL, &err), OL_EINVAL);
    CHECK_EQ_INT(ol_adapter_cache_register(c, "b", g_qv, NULL, NULL, NULL, &err), 0);
    ol_adapter_listing l[4];
    CHECK_EQ_INT(ol_adapter_cache_list(c, l, 4), 2);
    CHECK(!strcmp(l[0].name, "b") && !strcmp(l[1].name, "other"));
    CHECK(!l[0].resident && l[0].bytes == 0);
    ol_adapter_cache_destroy(c);
}

/* ---- (5) eviction order, prefetch ------------------------------------------------------- */

static void test_order(void) {
    ol_err err = {0};
    const char *names[] = {"a", "b", "c", "d"};
    /* LRU: a b a c -> c evicts b; then b evicts a (a older than c) */
    ol_adapter_cache *c = make_cache(2 * g_bytes, 1, OL_ADAPTER_POLICY_LRU);
    if (!c) return;
    for (int i = 0; i < 4; i++) ol_adapter_entry_release(c, reg_lookup(c, names[i], g_qv, NULL));
    CHECK_EQ_INT(use(c, "a", &err) | use(c, "b", &err) | use(c, "a", &err), 0);
    CHECK_EQ_INT(use(c, "c", &err), 0);
    CHECK(resident(c, "a") && !resident(c, "b") && resident(c, "c"));
    CHECK_EQ_INT(use(c, "b", &err), 0);
    CHECK(!resident(c, "a") && resident(c, "b") && resident(c, "c"));
    /* prefetch of d into a full cache: not even started (it would load and drop the weights),
     * nothing evicted */
    ol_adapter_cache_stats s0, s;
    ol_adapter_cache_stats_get(c, &s0);
    ol_adapter_entry *d = ol_adapter_cache_lookup(c, "d");
    ol_adapter_cache_prefetch(c, d);
    ol_adapter_cache_stats_get(c, &s);
    CHECK(!ol_adapter_cache_is_loading(c, d));
    CHECK(!resident(c, "d") && resident(c, "b") && resident(c, "c"));
    CHECK_EQ_INT(s.evictions, s0.evictions);
    CHECK_EQ_INT(s.misses, s0.misses);
    CHECK_EQ_INT(s.loads, s0.loads);
    CHECK_EQ_INT(s.prefetches, s0.prefetches);
    ol_adapter_entry_release(c, d);
    ol_adapter_cache_destroy(c);

    /* LFU: a x3, b x1, then c evicts b; b again (count 3 with its history) evicts c (2) */
    c = make_cache(2 * g_bytes, 1, OL_ADAPTER_POLICY_LFU);
    if (!c) return;
    for (int i = 0; i < 4; i++) ol_adapter_entry_release(c, reg_lookup(c, names[i], g_qv, NULL));
    CHECK_EQ_INT(use(c, "a", &err) | use(c, "a", &err) | use(c, "a", &err), 0);
    CHECK_EQ_INT(use(c, "b", &err), 0);
    CHECK_EQ_INT(use(c, "c", &err), 0);
    CHECK(resident(c, "a") && !resident(c, "b") && resident(c, "c"));
    CHECK_EQ_INT(use(c, "b", &err), 0);
    CHECK(resident(c, "a") && resident(c, "b") && !resident(c, "c"));
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.evictions, 2);
    CHECK_EQ_INT(s.misses, 4);
    ol_adapter_cache_destroy(c);

    /* prefetch into free room: loaded, not a miss; the next pin is a hit */
    c = make_cache(2 * g_bytes, 1, OL_ADAPTER_POLICY_LRU);
    if (!c) return;
    for (int i = 0; i < 2; i++) ol_adapter_entry_release(c, reg_lookup(c, names[i], g_qv, NULL));
    CHECK_EQ_INT(use(c, "a", &err), 0);
    d = ol_adapter_cache_lookup(c, "b");
    uint64_t seen = done_count();
    ol_adapter_cache_prefetch(c, d);
    CHECK(wait_done(seen));
    CHECK(resident(c, "b"));
    ol_adapter_cache_stats_get(c, &s0);
    CHECK_EQ_INT(use(c, "b", &err), 0);
    ol_adapter_cache_stats_get(c, &s);
    CHECK_EQ_INT(s.misses, 1);
    CHECK_EQ_INT(s.prefetches, 1);
    CHECK_EQ_INT(s.hits, s0.hits + 1);
    ol_adapter_entry_release(c, d);
    ol_adapter_cache_destroy(c);
}

int main(void) {
    ol_err err = {0};
    CHECK(realpath(test_data("adapters/tiny_llama/qv_r4"), g_qv) != NULL);
    snprintf(g_tmp, sizeof(g_tmp), "/tmp/ol-test-cache-XXXXXX");
    CHECK(mkdtemp(g_tmp) != NULL);
    char dir[4096];
    CHECK(realpath(test_data("adapters/tiny_llama"), dir) != NULL);
    pid_t server = start_server(dir); /* before any thread exists */

    ol_model *m = ol_model_load(test_data("models/tiny_llama.gguf"), &err);
    CHECK(m != NULL);
    ol_adapter *a = m ? ol_adapter_load(g_qv, m, &err) : NULL;
    ol_adapter *r8 =
        m ? ol_adapter_load(test_data("adapters/tiny_llama/all_r8.gguf"), m, &err) : NULL;
    CHECK(a != NULL && r8 != NULL);
    if (a && r8) {
        g_model = m;
        g_bytes = ol_adapter_bytes(a);
        g_sum = checksum(a);
        g_sum_r8 = checksum(r8);
        g_bytes_r8 = ol_adapter_bytes(r8);
        test_zipf(OL_ADAPTER_POLICY_LRU);
        test_zipf(OL_ADAPTER_POLICY_LFU);
        test_single_flight();
        test_failures();
        test_versions();
        test_names();
        test_order();
    }
    ol_adapter_destroy(a);
    ol_adapter_destroy(r8);
    ol_model_destroy(m);
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
    }
    rmdir(g_tmp);
    return test_done("test_adapter_cache");
}
