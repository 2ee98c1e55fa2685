/* One PostgreSQL connection that LISTENs on a channel: notifications reach the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "db_internal.h"
#include "dblisten.h"
#include "log.h"
#include "xmalloc.h"

#define DBLISTEN_BACKOFF_MIN_MS 250
#define DBLISTEN_BACKOFF_MAX_MS 5000

enum dblisten_state {
    DBLISTEN_DOWN,       /* waiting for the reconnect timer (or a conninfo that never parses) */
    DBLISTEN_CONNECTING, /* PQconnectPoll in progress */
    DBLISTEN_STARTING,   /* the LISTEN sent, its answer awaited */
    DBLISTEN_READY,      /* listening: every read may bring notifications */
};

struct dblisten {
    struct event_base *base;
    struct db_conninfo ci;
    int parsed;
    char *channel;
    dblisten_fn changed;
    void *arg;
    PGconn *pg;
    enum dblisten_state state;
    struct event *ev; /* the socket, or the reconnect timer: one at a time */
    int backoff_ms;
    unsigned long connects;
};

static void dblisten_connect(struct dblisten *l);
static void dblisten_io_cb(evutil_socket_t fd, short what, void *arg);

static void
dblisten_wait(struct dblisten *l, short what, int timeout_s)
{
    struct timeval tv = { timeout_s, 0 };

    event_del(l->ev);
    event_assign(l->ev, l->base, PQsocket(l->pg), what, dblisten_io_cb, l);
    event_add(l->ev, timeout_s > 0 ? &tv : NULL);
}

static void
dblisten_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    dblisten_connect(arg);
}

/* The connection is gone: close it and plan the next one; what it cached reloads then. */
static void
dblisten_fail(struct dblisten *l, const char *why)
{
    char msg[DB_ERR_MAX];
    struct timeval tv = { l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000 };

    db_job_message(msg, sizeof(msg), why);
    log_warn("db_listen_lost", "channel=%s error=%s retry_ms=%d", l->channel, log_q(msg),
             l->backoff_ms);
    PQfinish(l->pg);
    l->pg = NULL;
    l->state = DBLISTEN_DOWN;
    event_del(l->ev);
    event_assign(l->ev, l->base, -1, 0, dblisten_retry_cb, l);
    event_add(l->ev, &tv);
    l->backoff_ms =
        l->backoff_ms * 2 > DBLISTEN_BACKOFF_MAX_MS ? DBLISTEN_BACKOFF_MAX_MS : l->backoff_ms * 2;
}

static void
dblisten_connect(struct dblisten *l)
{
    l->pg = PQconnectStartParams((const char *const *)l->ci.keywords,
                                 (const char *const *)l->ci.values, 0);
    if (l->pg == NULL || PQstatus(l->pg) == CONNECTION_BAD) {
        dblisten_fail(l, l->pg ? PQerrorMessage(l->pg) : "out of memory");
        return;
    }
    l->state = DBLISTEN_CONNECTING;
    dblisten_wait(l, EV_WRITE, l->ci.connect_timeout_s);
}

/* Connected: name the session (so it can be found in pg_stat_activity) and LISTEN. */
static void
dblisten_start(struct dblisten *l)
{
    char *ident = PQescapeIdentifier(l->pg, l->channel, strlen(l->channel));
    char *sql;
    int sent;

    if (ident == NULL || PQsetnonblocking(l->pg, 1) != 0) {
        PQfreemem(ident);
        dblisten_fail(l, PQerrorMessage(l->pg));
        return;
    }
    sql = xasprintf("SET application_name = 'passerelle-listen'; LISTEN %s", ident);
    PQfreemem(ident);
    sent = PQsendQuery(l->pg, sql);
    free(sql);
    if (!sent || PQflush(l->pg) != 0) {
        dblisten_fail(l, PQerrorMessage(l->pg));
        return;
    }
    l->state = DBLISTEN_STARTING;
    dblisten_wait(l, EV_READ, l->ci.connect_timeout_s);
}

/* Reads what the LISTEN answered; 1 once it is in place, 0 to wait, -1 when it failed. */
static int
dblisten_started(struct dblisten *l)
{
    PGresult *r;
    int failed = 0;

    while (!PQisBusy(l->pg)) {
        r = PQgetResult(l->pg);
        if (r == NULL)
            return failed ? -1 : 1;
        failed |= PQresultStatus(r) != PGRES_COMMAND_OK;
        PQclear(r);
    }
    return 0;
}

static void
dblisten_io_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dblisten *l = arg;
    PGnotify *n;
    int got = 0, r;

    (void)fd;
    if (what & EV_TIMEOUT) {
        dblisten_fail(l, "connect timed out");
        return;
    }
    if (l->state == DBLISTEN_CONNECTING) {
        switch (PQconnectPoll(l->pg)) {
        case PGRES_POLLING_READING:
            dblisten_wait(l, EV_READ, l->ci.connect_timeout_s);
            return;
        case PGRES_POLLING_WRITING:
            dblisten_wait(l, EV_WRITE, l->ci.connect_timeout_s);
            return;
        case PGRES_POLLING_OK:
            dblisten_start(l);
            return;
        case PGRES_POLLING_FAILED:
        case PGRES_POLLING_ACTIVE:
            break;
        }
        dblisten_fail(l, PQerrorMessage(l->pg));
        return;
    }
    if (!PQconsumeInput(l->pg) || PQstatus(l->pg) != CONNECTION_OK) {
        dblisten_fail(l, PQerrorMessage(l->pg));
        return;
    }
    if (l->state == DBLISTEN_STARTING) {
        r = dblisten_started(l);
        if (r < 0) {
            dblisten_fail(l, PQerrorMessage(l->pg));
            return;
        }
        if (r == 0) {
            dblisten_wait(l, EV_READ, l->ci.connect_timeout_s);
            return;
        }
        l->state = DBLISTEN_READY;
        l->backoff_ms = DBLISTEN_BACKOFF_MIN_MS;
        l->connects++;
        log_info("db_listen", "channel=%s connects=%lu", l->channel, l->connects);
        got = 1; /* whatever was notified while nobody listened is to be read again */
    }
    while ((n = PQnotifies(l->pg)) != NULL) {
        got = 1;
        PQfreemem(n);
    }
    dblisten_wait(l, EV_READ, 0);
    if (got)
        l->changed(l->arg);
}

struct dblisten *
dblisten_new(struct event_base *base, const char *conninfo, const char *channel,
             dblisten_fn changed, void *arg)
{
    struct dblisten *l = xcalloc(1, sizeof(*l));

    l->base = base;
    l->channel = xstrdup(channel);
    l->changed = changed;
    l->arg = arg;
    l->backoff_ms = DBLISTEN_BACKOFF_MIN_MS;
    l->ev = event_new(base, -1, 0, dblisten_retry_cb, l);
    l->parsed = db_conninfo_parse(&l->ci, conninfo) == 0;
    if (!l->parsed) {
        log_error("db_listen_failed", "channel=%s reason=%s", l->channel,
                  log_q("database_url does not parse as a libpq connection string"));
        return l;
    }
    dblisten_connect(l);
    return l;
}

int
dblisten_ready(const struct dblisten *l)
{
    return l->state == DBLISTEN_READY;
}

unsigned long
dblisten_connects(const struct dblisten *l)
{
    return l->connects;
}

void
dblisten_free(struct dblisten *l)
{
    if (l == NULL)
        return;
    event_free(l->ev);
    PQfinish(l->pg);
    if (l->parsed)
        db_conninfo_free(&l->ci);
    free(l->channel);
    free(l);
}
