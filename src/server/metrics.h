/* server/metrics.h: Prometheus metrics. Counters, gauges and histograms registered by name
 * (one prefix "openlora_", base units: seconds, bytes), optionally with up to two label
 * values; rendered in the Prometheus text exposition format (version 0.0.4). Label values
 * beyond a per-metric cap fold into "other" so a thousand adapters cannot explode the series
 * count. Thread-safe: updates come from HTTP and engine threads (one mutex; updates are
 * cheap). */
#ifndef OL_SERVER_METRICS_H
#define OL_SERVER_METRICS_H

#include "base/base.h"

#include <stddef.h>

typedef struct ol_metrics ol_metrics;
typedef struct ol_metric ol_metric; /* one family; owned by the registry */

typedef enum ol_metric_kind {
    OL_METRIC_COUNTER,
    OL_METRIC_GAUGE,
    OL_METRIC_HISTOGRAM,
    OL_METRIC_KIND_COUNT
} ol_metric_kind;

ol_metrics *ol_metrics_create(void);
void ol_metrics_destroy(ol_metrics *m);

/* Register a family. name without the prefix (e.g. "requests_total"); help is one line;
 * label_names: 0..2 names (NULL entries = none), e.g. {"endpoint", "status"}; buckets: upper
 * bounds for histograms (ascending, +Inf implied), NULL otherwise; max_series: distinct label
 * value sets kept before folding into "other" (0 = 64). NULL on bad arguments or OOM.
 * Bad arguments: a name or label name Prometheus refuses, label2 without label1, equal label
 * names, "le" on a histogram, a name already registered, buckets not strictly ascending or
 * given for a non-histogram (a final +Inf bucket is accepted and dropped), max_series < 0.
 * Once max_series sets exist, every new set folds into one series whose label values are all
 * "other". A family without labels shows its zero value from registration on. Families render
 * in registration order, series in first-seen order. Valid until ol_metrics_destroy. */
ol_metric *ol_metrics_add(ol_metrics *m, ol_metric_kind kind, const char *name, const char *help,
                          const char *label1, const char *label2, const double *buckets,
                          int n_buckets, int max_series);

/* Updates. l1/l2 are label values (NULL when the family has fewer labels; NULL for a label the
 * family has means ""); they are copied (escaped on output). Counters only go up (negative v
 * ignored); inc also works on gauges, either way. NaN is ignored by inc and observe. A call of
 * the wrong kind, or on a NULL family (a failed add), does nothing. An allocation failure
 * drops the update. */
void ol_metric_inc(ol_metric *f, const char *l1, const char *l2, double v);
void ol_metric_set(ol_metric *f, const char *l1, const char *l2, double v);     /* gauges */
void ol_metric_observe(ol_metric *f, const char *l1, const char *l2, double v); /* histograms */

/* The whole registry as Prometheus text; malloc'd (caller frees), *len set (len may be NULL).
 * NULL on OOM. Serve it as "text/plain; version=0.0.4; charset=utf-8". */
char *ol_metrics_render(ol_metrics *m, size_t *len);

/* Default histogram buckets in seconds for latencies: 0.005 .. 60 (exponential-ish). */
extern const double OL_METRICS_LATENCY_BUCKETS[];
extern const int OL_METRICS_N_LATENCY_BUCKETS;

#endif
