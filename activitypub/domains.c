/* The admin's domain policy in memory: read at start, read again on NOTIFY and on reconnect. */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "dblisten.h"
#include "domains.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "xmalloc.h"

#define DOMAINS_RETRY_S 1 /* a read that failed is tried again this long after */

#define M_LOADS "passerelle_domain_policy_loads_total"

static const char sql_load[] =
    "SELECT domain, blocked, allowed FROM instances WHERE blocked OR allowed";

/* Sorted, so that a candidate is found by bisection. */
struct domains_set {
    char **names;
    size_t n;
};

/* One read in flight; outlives domains_free (d is then NULL). */
struct domains_load {
    struct domains *d;
    unsigned long gen; /* d->gen when it started */
};

struct domains {
    struct db *db;
    struct dblisten *listen;
    struct event *retry;
    struct domains_set blocked, allowed;
    unsigned long gen;  /* changes heard of (notifications, reconnections) */
    unsigned long done; /* gen of the copy held; current when it is gen */
    int have;           /* a copy was read at least once */
    struct domains_load *load;
    unsigned long loads;
};

static void domains_read(struct domains *d);

static void
domains_set_free(struct domains_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    s->names = NULL;
    s->n = 0;
}

static int
domains_span_cmp(const struct policy_span *a, const char *name)
{
    int c = strncmp(a->s, name, a->len);

    return c != 0 ? c : name[a->len] == '\0' ? 0 : -1;
}

static int
domains_set_has(const struct domains_set *s, const struct policy_span *c)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = domains_span_cmp(c, s->names[mid]);

        if (r == 0)
            return 1;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* 1 when one of domain's candidates is in s. */
static int
domains_set_lists(const struct domains_set *s, const char *domain)
{
    struct policy_span c[POLICY_CANDIDATES_MAX];
    int n = policy_candidates(domain, c, POLICY_CANDIDATES_MAX);

    for (int i = 0; i < n; i++)
        if (domains_set_has(s, &c[i]))
            return 1;
    return 0;
}

int
domains_judge(const struct domains *d, const char *key_domain, const char *actor_domain,
              int *blocked, int *allowed)
{
    if (d == NULL || !d->have || d->done != d->gen || !dblisten_ready(d->listen))
        return -1;
    *blocked =
        domains_set_lists(&d->blocked, key_domain) || domains_set_lists(&d->blocked, actor_domain);
    *allowed = domains_set_lists(&d->allowed, actor_domain);
    return 0;
}

static void
domains_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    domains_read(arg);
}

/* Sorted here in byte order, whatever the database's collation. */
static int
domains_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
domains_loaded_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct domains_load *ld = arg;
    struct domains *d = ld->d;
    int rows = outcome == DB_OK ? PQntuples(res) : 0;

    if (d == NULL) {
        PQclear(res);
        free(ld);
        return;
    }
    d->load = NULL;
    if (outcome != DB_OK) {
        struct timeval tv = { DOMAINS_RETRY_S, 0 };

        log_warn("domain_policy_load_failed", "error=%s", log_q(err));
        evtimer_add(d->retry, &tv);
        free(ld);
        return;
    }
    domains_set_free(&d->blocked);
    domains_set_free(&d->allowed);
    d->blocked.names = xcalloc((size_t)rows + 1, sizeof(char *));
    d->allowed.names = xcalloc((size_t)rows + 1, sizeof(char *));
    for (int i = 0; i < rows; i++) {
        if (strcmp(PQgetvalue(res, i, 1), "t") == 0)
            d->blocked.names[d->blocked.n++] = xstrdup(PQgetvalue(res, i, 0));
        if (strcmp(PQgetvalue(res, i, 2), "t") == 0)
            d->allowed.names[d->allowed.n++] = xstrdup(PQgetvalue(res, i, 0));
    }
    PQclear(res);
    qsort(d->blocked.names, d->blocked.n, sizeof(char *), domains_name_cmp);
    qsort(d->allowed.names, d->allowed.n, sizeof(char *), domains_name_cmp);
    d->have = 1;
    d->done = ld->gen;
    d->loads++;
    metrics_add(M_LOADS, "", 1);
    log_info("domain_policy_loaded", "blocked=%zu allowed=%zu current=%s", d->blocked.n,
             d->allowed.n, d->done == d->gen ? "yes" : "no");
    free(ld);
    /* Notified while it was read: what it read may already be old. */
    if (d->done != d->gen)
        domains_read(d);
}

static void
domains_read(struct domains *d)
{
    if (d->load != NULL)
        return; /* it reads again when this one ends, gen having moved */
    evtimer_del(d->retry);
    d->load = xcalloc(1, sizeof(*d->load));
    d->load->d = d;
    d->load->gen = d->gen;
    db_query(d->db, sql_load, 0, NULL, domains_loaded_cb, d->load);
}

static void
domains_changed(void *arg)
{
    struct domains *d = arg;

    d->gen++;
    domains_read(d);
}

struct domains *
domains_new(struct event_base *base, struct db *db, const char *conninfo)
{
    struct domains *d = xcalloc(1, sizeof(*d));

    metrics_describe(M_LOADS, METRICS_COUNTER,
                     "Reads of the admin's domain policy (at start, on NOTIFY, on reconnect).");
    d->db = db;
    d->retry = evtimer_new(base, domains_retry_cb, d);
    /* The first read comes once the LISTEN is in place: nothing changed before is missed. */
    d->listen = dblisten_new(base, conninfo, DOMAINS_CHANNEL, domains_changed, d);
    return d;
}

unsigned long
domains_loads(const struct domains *d)
{
    return d->loads;
}

void
domains_free(struct domains *d)
{
    if (d == NULL)
        return;
    if (d->load != NULL)
        d->load->d = NULL;
    dblisten_free(d->listen);
    event_free(d->retry);
    domains_set_free(&d->blocked);
    domains_set_free(&d->allowed);
    free(d);
}
