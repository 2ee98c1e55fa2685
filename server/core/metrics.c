/* In-process Prometheus counters and gauges, rendered in the text exposition format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "metrics.h"
#include "xmalloc.h"

struct metrics_sample {
    char *labels;
    double value;
};

struct metrics_family {
    char *name;
    char *help;
    enum metrics_type type;
    struct metrics_sample *samples;
    size_t nsamples, cap;
};

/*
 * One process, one registry: metrics are process-wide by nature (Prometheus
 * scrapes each process), so a module-level table is the honest shape here.
 * Families and label sets are few, so a linear scan is cheaper than hashing.
 */
static struct metrics_family *families;
static size_t nfamilies;

static struct metrics_family *
metrics_family(const char *name)
{
    for (size_t i = 0; i < nfamilies; i++)
        if (strcmp(families[i].name, name) == 0)
            return &families[i];
    return NULL;
}

void
metrics_describe(const char *name, enum metrics_type type, const char *help)
{
    struct metrics_family *f;

    if (metrics_family(name) != NULL)
        return;
    families = xrealloc(families, (nfamilies + 1) * sizeof(*families));
    f = &families[nfamilies++];
    memset(f, 0, sizeof(*f));
    f->name = xstrdup(name);
    f->help = xstrdup(help);
    f->type = type;
}

static struct metrics_sample *
metrics_sample(const char *name, const char *labels)
{
    struct metrics_family *f = metrics_family(name);
    struct metrics_sample *s;

    if (f == NULL) {
        log_error("metrics_undeclared", "name=%s", name);
        return NULL;
    }
    if (labels == NULL)
        labels = "";
    for (size_t i = 0; i < f->nsamples; i++)
        if (strcmp(f->samples[i].labels, labels) == 0)
            return &f->samples[i];
    if (f->nsamples == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->samples = xrealloc(f->samples, f->cap * sizeof(*f->samples));
    }
    s = &f->samples[f->nsamples++];
    s->labels = xstrdup(labels);
    s->value = 0;
    return s;
}

void
metrics_add(const char *name, const char *labels, double delta)
{
    struct metrics_sample *s = metrics_sample(name, labels);

    if (s != NULL)
        s->value += delta;
}

void
metrics_set(const char *name, const char *labels, double value)
{
    struct metrics_sample *s = metrics_sample(name, labels);

    if (s != NULL)
        s->value = value;
}

double
metrics_get(const char *name, const char *labels)
{
    struct metrics_family *f = metrics_family(name);

    if (f == NULL)
        return 0;
    for (size_t i = 0; i < f->nsamples; i++)
        if (strcmp(f->samples[i].labels, labels ? labels : "") == 0)
            return f->samples[i].value;
    return 0;
}

void
metrics_render(struct evbuffer *out)
{
    for (size_t i = 0; i < nfamilies; i++) {
        struct metrics_family *f = &families[i];

        evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                            f->type == METRICS_COUNTER ? "counter" : "gauge");
        /* A counter family with no sample yet still shows 0, so dashboards see it. */
        if (f->nsamples == 0)
            evbuffer_add_printf(out, "%s 0\n", f->name);
        for (size_t j = 0; j < f->nsamples; j++) {
            if (*f->samples[j].labels != '\0')
                evbuffer_add_printf(out, "%s{%s} %.17g\n", f->name, f->samples[j].labels,
                                    f->samples[j].value);
            else
                evbuffer_add_printf(out, "%s %.17g\n", f->name, f->samples[j].value);
        }
    }
}

void
metrics_free(void)
{
    for (size_t i = 0; i < nfamilies; i++) {
        for (size_t j = 0; j < families[i].nsamples; j++)
            free(families[i].samples[j].labels);
        free(families[i].samples);
        free(families[i].name);
        free(families[i].help);
    }
    free(families);
    families = NULL;
    nfamilies = 0;
}
