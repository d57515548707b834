/* sampling: turns one row of logits into the next token (penalties, top-k, temperature, top-p,
 * min-p, seeded draw), computes logprobs for the API, and matches stop strings in the streamed
 * text. Pure CPU code over caller-owned logits; one sampler per sequence, used by one thread. */
#ifndef OL_SAMPLING_H
#define OL_SAMPLING_H

#include "base/base.h"

#include <stdbool.h>

/* ---- parameters ------------------------------------------------------------------------- */

/* The seed that asks for a non-reproducible stream: the sampler seeds itself from the clock
 * and its own address. Any other value gives the same tokens for the same logits sequence. */
#define OL_SAMPLING_SEED_RANDOM UINT64_MAX

typedef struct ol_sampling_params {
    float temperature;       /* [0, 100]; 0 = greedy argmax (ties -> lowest id) */
    int32_t top_k;           /* >= 0; 0 or >= n_vocab = off */
    float top_p;             /* (0, 1]; 1 = off */
    float min_p;             /* [0, 1]; 0 = off; keeps p >= min_p * p_max */
    float repeat_penalty;    /* (0, 10]; 1 = off (llama.cpp style, last repeat_last_n tokens) */
    int32_t repeat_last_n;   /* >= -1: window of the repeat penalty; 0 = off, -1 = all history */
    float presence_penalty;  /* [-2, 2]; 0 = off (OpenAI style, all accepted tokens) */
    float frequency_penalty; /* [-2, 2]; 0 = off (OpenAI style, all accepted tokens) */
    uint64_t seed;           /* OL_SAMPLING_SEED_RANDOM or any fixed value */
} ol_sampling_params;

/* temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, repeat_penalty 1 (off),
 * repeat_last_n 64, presence/frequency 0 (off), seed OL_SAMPLING_SEED_RANDOM. */
void ol_sampling_params_default(ol_sampling_params *p);

/* 0, or OL_EINVAL with err naming the field and the allowed range (NaN is always refused). */
int ol_sampling_params_validate(const ol_sampling_params *p, ol_err *err);

/* ---- sampler ----------------------------------------------------------------------------
 * The chain, in order, over the logits of one position:
 *   1. penalties on tokens in the history (see ol_sampler_accept):
 *        repeat (tokens among the last repeat_last_n): l > 0 ? l / repeat_penalty
 *                                                            : l * repeat_penalty
 *        then OpenAI:  l -= frequency_penalty * count + presence_penalty * (count > 0)
 *   2. temperature 0: return the argmax (ties -> lowest id); nothing below runs.
 *   3. top-k: keep the k largest (ties -> lower ids first)
 *   4. temperature: l /= temperature
 *   5. softmax over the kept tokens
 *   6. top-p: keep the smallest set of most likely tokens whose mass >= top_p
 *   7. min-p: keep tokens with p >= min_p * p_max
 *   8. draw from what is left, in proportion to p (the kept mass is renormalized).
 * NaN logits count as -inf and +inf as the largest finite float.
 * Cost: O(n_vocab) per call (a bounded heap for top_k <= 4096, quickselect otherwise, and an
 * expected-linear selection for top-p); nothing is allocated per call. */
typedef struct ol_sampler ol_sampler;

/* params are validated and copied. n_vocab in [1, 2^30]. NULL with err filled on bad params
 * or out of memory. Memory: n_vocab/8 bytes, plus 8*n_vocab when top_k is 0 or > 4096
 * (8*top_k otherwise). */
ol_sampler *ol_sampler_create(const ol_sampling_params *params, int32_t n_vocab, ol_err *err);
void ol_sampler_destroy(ol_sampler *s); /* accepts NULL */

/* Sample one token from logits[0..n_vocab) (read only, borrowed for the call). Returns a token
 * id in [0, n_vocab). Never fails: bad values in logits are tolerated as described above. */
int32_t ol_sampler_sample(ol_sampler *s, const float *logits);

/* Add token to the history the penalties look at. Call it for every generated token (and for
 * prompt tokens too if they should be penalized). 0, OL_EINVAL for a token outside
 * [0, n_vocab) (ignored), or OL_ENOMEM (the token is not recorded). */
int ol_sampler_accept(ol_sampler *s, int32_t token);

/* out[0..n_vocab) = logits after step 1 (penalties), NaN/inf handled as in sampling. For
 * tests, and for callers that report what the sampler saw. */
void ol_sampler_penalized_logits(const ol_sampler *s, const float *logits, float *out);

/* Forget the history and restart the random stream from the seed. */
void ol_sampler_reset(ol_sampler *s);

const ol_sampling_params *ol_sampler_params(const ol_sampler *s);

/* ---- logprobs ---------------------------------------------------------------------------
 * log-softmax of the raw logits (no penalties, no temperature), as the OpenAI API reports.
 * *logprob_out = log p(token). top_n in [0, OL_SAMPLING_MAX_TOP_LOGPROBS]: top_ids and
 * top_logprobs (top_n entries each, may be NULL when top_n is 0) get the most likely tokens,
 * most likely first, ties -> lower id. Returns 0 or OL_EINVAL (n_vocab < 1, token or top_n
 * out of range, top_n > n_vocab). */
#define OL_SAMPLING_MAX_TOP_LOGPROBS 20
int ol_sampler_logprobs(const float *logits, int32_t n_vocab, int32_t token, int top_n,
                        float *logprob_out, int32_t *top_ids, float *top_logprobs);

/* ---- stop strings -----------------------------------------------------------------------
 * Streams generated text and finds the first occurrence of any stop string. Text that could
 * still turn into a stop string (a suffix equal to a proper prefix of one) is held back until
 * the next chunk decides it; once a stop string matches, only the text before it is released
 * and the matcher stays stopped. Matching is on bytes, so UTF-8 stop strings work as is.
 * Caller-allocated; one per request; owned by one thread. */
#define OL_STOP_MAX_STRINGS 4
#define OL_STOP_MAX_LEN     256

typedef struct ol_stop_matcher {
    char stops[OL_STOP_MAX_STRINGS][OL_STOP_MAX_LEN];
    size_t stop_len[OL_STOP_MAX_STRINGS];
    int n_stops;
    bool stopped;
    char *buf;  /* held-back text, then the chunk being examined */
    size_t len; /* bytes in buf */
    size_t cap;
    size_t emitted; /* bytes at the front of buf handed out by the previous call */
} ol_stop_matcher;

/* stops[i] are NUL-terminated, 1..OL_STOP_MAX_LEN bytes, n_stops in [0, OL_STOP_MAX_STRINGS];
 * they are copied. 0 or OL_EINVAL with err filled. Release with ol_stop_matcher_deinit. */
int ol_stop_matcher_init(ol_stop_matcher *m, const char *const *stops, int n_stops, ol_err *err);
void ol_stop_matcher_deinit(ol_stop_matcher *m);

/* Feed chunk[0..len). On return *emit and *n_emit give the bytes to send to the client now
 * (borrowed: valid until the next call on m). Returns 1 if a stop string matched (emit ends
 * right before it; later feeds emit nothing), 0 if not, or OL_ENOMEM (nothing consumed). */
int ol_stop_matcher_feed(ol_stop_matcher *m, const char *chunk, size_t len, const char **emit,
                         size_t *n_emit);

/* End of generation: release whatever is held back (nothing if stopped). */
void ol_stop_matcher_flush(ol_stop_matcher *m, const char **emit, size_t *n_emit);

#endif
