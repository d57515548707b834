/* tests/golden.h: reader for the golden-logits files written by tools/gen_tiny_models.py and
 * tools/gen_tiny_adapters.py (format: "openlora-logits 1", "n_seqs K", then per sequence
 * "seq <n_tokens> <n_vocab>", the token ids, and one row of logits per position). */
#ifndef OL_TEST_GOLDEN_H
#define OL_TEST_GOLDEN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int n_tokens, n_vocab;
    int32_t *ids;
    float *logits; /* [n_tokens][n_vocab] */
} golden_seq;

typedef struct {
    int n_seqs;
    golden_seq seqs[8];
} golden;

static int read_golden(const char *path, golden *g) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char magic[64];
    int ver;
    memset(g, 0, sizeof(*g));
    if (fscanf(f, "%63s %d", magic, &ver) != 2 || strcmp(magic, "openlora-logits") ||
        fscanf(f, " n_seqs %d", &g->n_seqs) != 1 || g->n_seqs < 1 || g->n_seqs > 8)
        goto bad;
    for (int s = 0; s < g->n_seqs; s++) {
        golden_seq *q = &g->seqs[s];
        if (fscanf(f, " seq %d %d", &q->n_tokens, &q->n_vocab) != 2 || q->n_tokens < 1 ||
            q->n_tokens > 4096 || q->n_vocab < 1 || q->n_vocab > 1 << 20)
            goto bad;
        q->ids = malloc(sizeof(int32_t) * (size_t)q->n_tokens);
        q->logits = malloc(sizeof(float) * (size_t)q->n_tokens * (size_t)q->n_vocab);
        for (int i = 0; i < q->n_tokens; i++)
            if (fscanf(f, "%d", &q->ids[i]) != 1) goto bad;
        for (size_t i = 0; i < (size_t)q->n_tokens * (size_t)q->n_vocab; i++)
            if (fscanf(f, "%f", &q->logits[i]) != 1) goto bad;
    }
    fclose(f);
    return 0;
bad:
    fclose(f);
    return -2;
}

static void free_golden(golden *g) {
    for (int s = 0; s < g->n_seqs; s++) {
        free(g->seqs[s].ids);
        free(g->seqs[s].logits);
    }
}

/* max |a-b| over n, and max |b| */
static double max_diff(const float *a, const float *b, size_t n, double *scale) {
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as failure */
        if (fabs(b[i]) > s) s = fabs(b[i]);
    }
    *scale = s;
    return m;
}

#endif
