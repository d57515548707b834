/* sampling/sampling.c: parameters, the sampler chain (penalties -> top-k -> temperature ->
 * softmax -> top-p -> min-p -> draw) and logprobs. The history lives in a small hash map keyed
 * by token plus a one-bit-per-token mask, so a sampler costs n_vocab/8 bytes plus its
 * candidate buffer, and the vocabulary scan pays one bit test per token for penalties. */
#include "sampling.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HEAP_MAX_K        4096 /* top_k up to this uses a bounded heap; larger: quickselect */
#define MAX_SELECT_ROUNDS 64   /* quickselect rounds before falling back to qsort */

/* ---- parameters ------------------------------------------------------------------------- */
void ol_sampling_params_default(ol_sampling_params *p) {
    *p = (ol_sampling_params){
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .seed = OL_SAMPLING_SEED_RANDOM,
    };
}

/* lo/hi inclusive unless the open flags say otherwise; NaN fails every comparison */
static int check_range(float v, float lo, bool lo_open, float hi, const char *name, ol_err *err) {
    bool ok = (lo_open ? v > lo : v >= lo) && v <= hi;
    if (ok) return 0;
    return ol_err_set(err, OL_EINVAL, "sampling: %s = %g outside %c%g, %g]", name, (double)v,
                      lo_open ? '(' : '[', (double)lo, (double)hi);
}

int ol_sampling_params_validate(const ol_sampling_params *p, ol_err *err) {
    int rc;
    if (!p) return ol_err_set(err, OL_EINVAL, "sampling: no parameters");
    if ((rc = check_range(p->temperature, 0, false, 100, "temperature", err))) return rc;
    if ((rc = check_range(p->top_p, 0, true, 1, "top_p", err))) return rc;
    if ((rc = check_range(p->min_p, 0, false, 1, "min_p", err))) return rc;
    if ((rc = check_range(p->repeat_penalty, 0, true, 10, "repeat_penalty", err))) return rc;
    if ((rc = check_range(p->presence_penalty, -2, false, 2, "presence_penalty", err))) return rc;
    if ((rc = check_range(p->frequency_penalty, -2, false, 2, "frequency_penalty", err))) return rc;
    if (p->top_k < 0)
        return ol_err_set(err, OL_EINVAL, "sampling: top_k = %d is negative", (int)p->top_k);
    if (p->repeat_last_n < -1)
        return ol_err_set(err, OL_EINVAL, "sampling: repeat_last_n = %d is below -1",
                          (int)p->repeat_last_n);
    return 0;
}

/* ---- random numbers: xoshiro256** seeded through splitmix64 ------------------------------ */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t st[4]) {
    uint64_t r = rotl(st[1] * 5, 7) * 9, t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl(st[3], 45);
    return r;
}

static double rng_uniform(uint64_t st[4]) {
    return (double)(rng_next(st) >> 11) * 0x1.0p-53;
}

/* ---- the sampler ------------------------------------------------------------------------ */
typedef struct {
    float v; /* logit, then probability */
    int32_t id;
} cand;

typedef struct {
    int32_t token; /* -1 = empty slot */
    int32_t count; /* times accepted */
    int64_t last;  /* history position of the latest acceptance */
} hist_entry;

struct ol_sampler {
    ol_sampling_params p;
    int32_t n_vocab;
    bool penalties; /* any penalty active */
    uint64_t seed;  /* the seed actually used (resolved when p.seed is random) */
    uint64_t rng[4];
    int64_t n_accepted;
    hist_entry *map; /* open addressing, map_cap a power of two, at most half full */
    size_t map_cap, map_n;
    uint64_t *mask; /* bit t set iff token t is in map */
    cand *cand;     /* candidates: top_k entries (heap) or n_vocab */
    int32_t cand_cap;
};

static size_t map_slot(const hist_entry *map, size_t cap, int32_t token) {
    size_t h = ((uint32_t)token * 2654435761u) & (cap - 1);
    while (map[h].token >= 0 && map[h].token != token) h = (h + 1) & (cap - 1);
    return h;
}

static void reseed(ol_sampler *s) {
    uint64_t x = s->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
}

ol_sampler *ol_sampler_create(const ol_sampling_params *params, int32_t n_vocab, ol_err *err) {
    if (ol_sampling_params_validate(params, err)) return NULL;
    if (n_vocab < 1 || n_vocab > (1 << 30)) {
        ol_err_set(err, OL_EINVAL, "sampling: n_vocab = %d outside [1, 2^30]", (int)n_vocab);
        return NULL;
    }
    ol_sampler *s = calloc(1, sizeof(*s));
    if (!s) goto oom;
    s->p = *params;
    s->n_vocab = n_vocab;
    s->penalties = (params->repeat_penalty != 1.0f && params->repeat_last_n != 0) ||
                   params->presence_penalty != 0.0f || params->frequency_penalty != 0.0f;
    s->seed = params->seed;
    if (s->seed == OL_SAMPLING_SEED_RANDOM) {
        uint64_t x = ol_time_ns() ^ (uint64_t)(uintptr_t)s;
        s->seed = splitmix64(&x);
    }
    reseed(s);
    s->map_cap = 64;
    s->map = malloc(s->map_cap * sizeof(hist_entry));
    s->mask = calloc(((size_t)n_vocab + 63) / 64, sizeof(uint64_t));
    bool heap = params->top_k > 0 && params->top_k <= HEAP_MAX_K && params->top_k < n_vocab;
    s->cand_cap = heap ? params->top_k : n_vocab;
    s->cand = malloc((size_t)s->cand_cap * sizeof(cand));
    if (!s->map || !s->mask || !s->cand) goto oom;
    for (size_t i = 0; i < s->map_cap; i++) s->map[i].token = -1;
    return s;
oom:
    ol_sampler_destroy(s);
    ol_err_set(err, OL_ENOMEM, "sampling: out of memory for a sampler over %d tokens",
               (int)n_vocab);
    return NULL;
}

void ol_sampler_destroy(ol_sampler *s) {
    if (!s) return;
    free(s->map);
    free(s->mask);
    free(s->cand);
    free(s);
}

const ol_sampling_params *ol_sampler_params(const ol_sampler *s) {
    return &s->p;
}

void ol_sampler_reset(ol_sampler *s) {
    for (size_t i = 0; i < s->map_cap; i++) {
        int32_t t = s->map[i].token;
        if (t >= 0) s->mask[t >> 6] &= ~(1ull << (t & 63));
        s->map[i].token = -1;
    }
    s->map_n = 0;
    s->n_accepted = 0;
    reseed(s);
}

static int map_grow(ol_sampler *s) {
    size_t cap = s->map_cap * 2;
    hist_entry *m = malloc(cap * sizeof(hist_entry));
    if (!m) return OL_ENOMEM;
    for (size_t i = 0; i < cap; i++) m[i].token = -1;
    for (size_t i = 0; i < s->map_cap; i++)
        if (s->map[i].token >= 0) m[map_slot(m, cap, s->map[i].token)] = s->map[i];
    free(s->map);
    s->map = m;
    s->map_cap = cap;
    return 0;
}

int ol_sampler_accept(ol_sampler *s, int32_t token) {
    if (token < 0 || token >= s->n_vocab) return OL_EINVAL;
    size_t h = map_slot(s->map, s->map_cap, token);
    if (s->map[h].token < 0) {
        if ((s->map_n + 1) * 2 > s->map_cap) {
            if (map_grow(s)) return OL_ENOMEM;
            h = map_slot(s->map, s->map_cap, token);
        }
        s->map[h] = (hist_entry){.token = token, .count = 0};
        s->map_n++;
        s->mask[token >> 6] |= 1ull << (token & 63);
    }
    s->map[h].count++;
    s->map[h].last = s->n_accepted++;
    return 0;
}

/* NaN -> -inf, beyond the finite range -> +-FLT_MAX (keeps softmax free of inf - inf) */
static inline float sanitize(float l) {
    if (l != l) return -INFINITY;
    if (l > FLT_MAX) return FLT_MAX;
    return l;
}

static float penalize(const ol_sampler *s, int32_t token, float l) {
    const hist_entry *e = &s->map[map_slot(s->map, s->map_cap, token)];
    int32_t n = s->p.repeat_last_n;
    bool in_window = n < 0 || (n > 0 && e->last >= s->n_accepted - n);
    if (in_window) l = l > 0 ? l / s->p.repeat_penalty : l * s->p.repeat_penalty;
    l -= s->p.frequency_penalty * (float)e->count + s->p.presence_penalty * (e->count > 0);
    return sanitize(l);
}

static inline bool penalized(const ol_sampler *s, int32_t i) {
    return s->penalties && (s->mask[i >> 6] >> (i & 63) & 1);
}

static inline float logit_at(const ol_sampler *s, const float *logits, int32_t i) {
    float l = sanitize(logits[i]);
    return penalized(s, i) ? penalize(s, i, l) : l;
}

void ol_sampler_penalized_logits(const ol_sampler *s, const float *logits, float *out) {
    for (int32_t i = 0; i < s->n_vocab; i++) out[i] = logit_at(s, logits, i);
}

/* the order every selection uses: larger value first, then lower id */
static inline bool better(cand a, cand b) {
    return a.v > b.v || (a.v == b.v && a.id < b.id);
}

static int cmp_cand(const void *pa, const void *pb) {
    cand a = *(const cand *)pa, b = *(const cand *)pb;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

static inline void swap_cand(cand *a, cand *b) {
    cand t = *a;
    *a = *b;
    *b = t;
}

/* Partition a[lo, hi) (hi - lo >= 2) around a median-of-three pivot: returns its final index
 * p; a[lo, p) are better than the pivot and a(p, hi) worse. */
static int32_t partition(cand *a, int32_t lo, int32_t hi) {
    int32_t mid = lo + (hi - lo) / 2, last = hi - 1;
    if (better(a[mid], a[lo])) swap_cand(&a[mid], &a[lo]);
    if (better(a[last], a[lo])) swap_cand(&a[last], &a[lo]);
    if (better(a[mid], a[last])) swap_cand(&a[mid], &a[last]); /* median now at last */
    cand piv = a[last];
    int32_t st = lo;
    for (int32_t i = lo; i < last; i++)
        if (better(a[i], piv)) swap_cand(&a[i], &a[st++]);
    swap_cand(&a[st], &a[last]);
    return st;
}

/* Reorder a[0, n) so that a[0, k) are the k best (in no particular order); 0 < k < n. */
static void select_top(cand *a, int32_t n, int32_t k) {
    int32_t lo = 0, hi = n;
    for (int round = 0; hi - lo > 1; round++) {
        if (round == MAX_SELECT_ROUNDS) { /* adversarial pivots: finish with a sort */
            qsort(a + lo, (size_t)(hi - lo), sizeof(cand), cmp_cand);
            return;
        }
        int32_t p = partition(a, lo, hi);
        if (p == k || p == k - 1) return;
        if (p > k)
            hi = p;
        else
            lo = p + 1;
    }
}

/* The k best of all tokens into s->cand[0, k) through a heap whose root is the worst kept. */
static void heap_top_k(ol_sampler *s, const float *logits, int32_t k) {
    cand *h = s->cand;
    int32_t n = 0;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        int32_t j;
        if (n < k) { /* push, sift up */
            cand c = {logit_at(s, logits, i), i};
            for (j = n++; j > 0 && better(h[(j - 1) / 2], c); j = (j - 1) / 2)
                h[j] = h[(j - 1) / 2];
            h[j] = c;
            continue;
        }
        /* fast reject: ids only grow, so a raw value not above the root (NaN included) cannot
         * enter unless a penalty changes it */
        if (!(logits[i] > h[0].v) && !penalized(s, i)) continue;
        cand c = {logit_at(s, logits, i), i};
        if (!better(c, h[0])) continue;
        for (j = 0;;) { /* replace the root, sift down */
            int32_t l = 2 * j + 1, w = l;
            if (l >= n) break;
            if (l + 1 < n && better(h[l], h[l + 1])) w = l + 1;
            if (!better(c, h[w])) break;
            h[j] = h[w];
            j = w;
        }
        h[j] = c;
    }
}

/* a[0, m) hold probabilities: reorder so the nucleus, the smallest set of best tokens whose
 * mass reaches need, is a[0, result). Expected O(m): recurse into one side per partition. */
static int32_t nucleus(cand *a, int32_t m, double need) {
    int32_t lo = 0, hi = m; /* a[0, lo) is inside; the boundary lies in [lo, hi) */
    for (int round = 0; hi - lo > 1; round++) {
        if (round == MAX_SELECT_ROUNDS) {
            qsort(a + lo, (size_t)(hi - lo), sizeof(cand), cmp_cand);
            for (int32_t i = lo; i < hi; i++)
                if ((need -= a[i].v) <= 0) return i + 1;
            return hi;
        }
        int32_t p = partition(a, lo, hi);
        double mass = 0;
        for (int32_t i = lo; i < p; i++) mass += a[i].v;
        if (mass >= need) {
            hi = p;
            continue;
        }
        need -= mass;
        if (a[p].v >= need) return p + 1;
        need -= a[p].v;
        lo = p + 1;
    }
    return hi > lo ? lo + 1 : lo;
}

static int32_t argmax(const ol_sampler *s, const float *logits) {
    int32_t best = 0;
    if (!s->penalties) { /* raw compare: NaN never wins, the first +inf does */
        float bv = -INFINITY;
        for (int32_t i = 0; i < s->n_vocab; i++)
            if (logits[i] > bv) bv = logits[i], best = i;
        return best;
    }
    float bv = logit_at(s, logits, 0);
    for (int32_t i = 1; i < s->n_vocab; i++) {
        float v = logit_at(s, logits, i);
        if (v > bv) bv = v, best = i;
    }
    return best;
}

int32_t ol_sampler_sample(ol_sampler *s, const float *logits) {
    /* a temperature so small that 1/T overflows is greedy too (0 * inf would give NaN) */
    if (s->p.temperature == 0.0f || isinf(1.0f / s->p.temperature)) return argmax(s, logits);
    int32_t n = s->n_vocab, k = s->p.top_k > 0 && s->p.top_k < n ? s->p.top_k : n, m = k;
    cand *c = s->cand;
    if (k <= s->cand_cap && s->cand_cap < n) {
        heap_top_k(s, logits, k);
    } else {
        for (int32_t i = 0; i < n; i++) c[i] = (cand){logit_at(s, logits, i), i};
        if (k < n) select_top(c, n, k);
    }
    if (m == 1) return c[0].id;

    /* temperature + softmax; an all -inf row becomes uniform */
    float mx = c[0].v;
    for (int32_t i = 1; i < m; i++) mx = c[i].v > mx ? c[i].v : mx;
    float inv_t = 1.0f / s->p.temperature;
    double sum = 0;
    for (int32_t i = 0; i < m; i++) {
        c[i].v = mx == -INFINITY ? 1.0f : expf((c[i].v - mx) * inv_t);
        sum += c[i].v;
    }
    float p_max = (float)(1.0 / sum);
    for (int32_t i = 0; i < m; i++) c[i].v = (float)(c[i].v / sum);

    if (s->p.top_p < 1.0f) m = nucleus(c, m, s->p.top_p);
    if (s->p.min_p > 0.0f) {
        float cut = s->p.min_p * p_max;
        int32_t j = 0;
        for (int32_t i = 0; i < m; i++)
            if (c[i].v >= cut) c[j++] = c[i];
        m = j > 0 ? j : 1; /* the best token always passes; guard against rounding anyway */
    }

    double total = 0;
    for (int32_t i = 0; i < m; i++) total += c[i].v;
    double r = rng_uniform(s->rng) * total, acc = 0;
    for (int32_t i = 0; i < m; i++) {
        acc += c[i].v;
        if (r < acc) return c[i].id;
    }
    return c[m - 1].id;
}

/* ---- logprobs --------------------------------------------------------------------------- */
static float logprob_of(float l, double lse, double uniform) {
    return (float)(lse == -INFINITY ? uniform : (double)l - lse);
}

int ol_sampler_logprobs(const float *logits, int32_t n_vocab, int32_t token, int top_n,
                        float *logprob_out, int32_t *top_ids, float *top_logprobs) {
    if (!logits || n_vocab < 1 || token < 0 || token >= n_vocab || top_n < 0 ||
        top_n > OL_SAMPLING_MAX_TOP_LOGPROBS || top_n > n_vocab ||
        (top_n > 0 && (!top_ids || !top_logprobs)))
        return OL_EINVAL;
    float mx = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++) {
        float l = sanitize(logits[i]);
        mx = l > mx ? l : mx;
    }
    double lse;
    if (mx == -INFINITY) {
        lse = -INFINITY;
    } else {
        double sum = 0;
        for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)sanitize(logits[i]) - mx);
        lse = mx + log(sum);
    }
    /* every logit -inf: report the uniform distribution */
    double uniform = mx == -INFINITY ? -log((double)n_vocab) : NAN;
    if (logprob_out) *logprob_out = logprob_of(sanitize(logits[token]), lse, uniform);

    /* top_n best by insertion into a sorted list, ties -> lower id (scan order keeps it) */
    cand top[OL_SAMPLING_MAX_TOP_LOGPROBS];
    int n_top = 0;
    for (int32_t i = 0; i < n_vocab && top_n > 0; i++) {
        cand c = {sanitize(logits[i]), i};
        if (n_top == top_n && !better(c, top[n_top - 1])) continue;
        int j = n_top < top_n ? n_top++ : top_n - 1;
        for (; j > 0 && better(c, top[j - 1]); j--) top[j] = top[j - 1];
        top[j] = c;
    }
    for (int i = 0; i < n_top; i++) {
        top_ids[i] = top[i].id;
        top_logprobs[i] = logprob_of(top[i].v, lse, uniform);
    }
    return 0;
}
