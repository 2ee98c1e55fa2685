/* Prometheus counters and gauges kept in process, rendered as text on /metrics. */
#ifndef PASSERELLE_METRICS_H
#define PASSERELLE_METRICS_H

struct evbuffer;

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE };

/* Declares a family once (HELP and TYPE lines); samples of an undeclared family are refused. */
void metrics_describe(const char *name, enum metrics_type type, const char *help);

/*
 * Adds delta to the sample name{labels}. labels is the inside of the braces,
 * already formatted (e.g. "route=\"actor\",status=\"200\""), or "" for none.
 * Label values must not come from the network unbounded: keep their set small.
 */
void metrics_add(const char *name, const char *labels, double delta);
void metrics_set(const char *name, const char *labels, double value);
double metrics_get(const char *name, const char *labels);

/* Appends the text exposition format to out. */
void metrics_render(struct evbuffer *out);

void metrics_free(void);

#endif
