/* PostgreSQL on the event loop: the pool (db.h's API), its job queue and done delivery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "db_internal.h"
#include "log.h"
#include "xmalloc.h"

#define DB_QUEUE_MAX 10000

static void db_kick(struct db *db);
static void db_done_cb(evutil_socket_t fd, short what, void *arg);
static void db_deliver(struct db *db, struct db_job *j);
static void db_free_now(struct db *db);
static void db_complete(struct db *db, struct db_job *j, enum db_outcome outcome, PGresult *res,
                        const char *err);
static void db_fail_queue(struct db *db, struct db_jobq *q, const char *err);
static void db_fatal(struct db *db, const char *why);
static void db_check_down(struct db *db);

static const struct db_conn_events db_conn_events = {
    .complete = db_complete,
    .fail_queue = db_fail_queue,
    .fatal = db_fatal,
    .check_down = db_check_down,
};

struct db *
db_new(struct event_base *base, const char *conninfo, int pool_size, int schema_version,
       db_fatal_fn fatal_cb, void *fatal_arg)
{
    struct db *db = xcalloc(1, sizeof(*db));
    int parsed;

    db->base = base;
    db->pool_size = pool_size < 1 ? 1 : pool_size;
    db->schema_version = schema_version;
    db->fatal_cb = fatal_cb;
    db->fatal_arg = fatal_arg;
    TAILQ_INIT(&db->queue);
    TAILQ_INIT(&db->done);
    db->ev_done = event_new(base, -1, 0, db_done_cb, db);
    db->conns = xcalloc((size_t)db->pool_size, sizeof(*db->conns));
    for (int i = 0; i < db->pool_size; i++)
        db_conn_init(&db->conns[i], db, &db_conn_events, i);

    parsed = db_conninfo_parse(&db->ci, conninfo);
    if (parsed < 0) {
        /* Its text may hold a password: say that it is wrong, not what it is. */
        log_error("db_conninfo_invalid", "reason=%s",
                  log_q("database_url does not parse as a libpq connection string"));
        for (int i = 0; i < db->pool_size; i++)
            db->conns[i].state = DB_CONN_DEAD;
        db->down = 1;
        db_fatal(db, "database_url does not parse as a libpq connection string");
        return db;
    }
    for (int i = 0; i < db->pool_size; i++)
        db_conn_connect(&db->conns[i]);
    return db;
}

void
db_query(struct db *db, const char *sql, int nparams, const char *const *params, db_result_fn cb,
         void *arg)
{
    struct db_job *j = db_job_new(DB_JOB_QUERY, sql, nparams, params);

    j->cb = cb;
    j->arg = arg;
    if (db->closing)
        db_complete(db, j, DB_UNAVAILABLE, NULL, "database pool shutting down");
    else if (db->down)
        db_complete(db, j, DB_UNAVAILABLE, NULL, "database unavailable");
    else if (db->queued >= DB_QUEUE_MAX)
        db_complete(db, j, DB_UNAVAILABLE, NULL, "database queue full");
    else {
        TAILQ_INSERT_TAIL(&db->queue, j, entry);
        db->queued++;
        db_kick(db);
    }
}

void
db_acquire(struct db *db, db_acquire_fn cb, void *arg)
{
    struct db_job *j = db_job_new(DB_JOB_ACQUIRE, NULL, 0, NULL);

    j->acquire_cb = cb;
    j->arg = arg;
    if (db->closing || db->down || db->queued >= DB_QUEUE_MAX)
        db_complete(db, j, DB_UNAVAILABLE, NULL, "database unavailable");
    else {
        TAILQ_INSERT_TAIL(&db->queue, j, entry);
        db->queued++;
        db_kick(db);
    }
}

void
db_release(struct db_conn *c)
{
    if (c == NULL)
        return;
    if (c->db->closing) {
        c->lent = 0;
        return;
    }
    if (!c->lent || c->release_pending) {
        log_warn("db_misuse", "conn=%d reason=%s", c->index,
                 log_q("db_release on a connection not borrowed"));
        return;
    }
    if (c->state != DB_CONN_IDLE && c->state != DB_CONN_BUSY) {
        /* It broke while lent and waited for its borrower: reconnect it now. */
        c->lent = 0;
        db_conn_schedule(c);
        return;
    }
    c->release_pending = 1;
    if (c->state == DB_CONN_IDLE)
        db_conn_next(c);
}

int
db_is_up(const struct db *db)
{
    return db->up > 0;
}

int
db_connections_up(const struct db *db)
{
    return db->up;
}

void
db_stats(const struct db *db, struct db_stats *out)
{
    *out = db->stats;
    out->up = db->up;
    out->queued = db->queued;
}

void
db_free(struct db *db)
{
    if (db == NULL || db->closing)
        return;
    if (db->delivering) {
        db->free_requested = 1;
        return;
    }
    db_free_now(db);
}

static void
db_free_now(struct db *db)
{
    struct db_job *j;

    db->closing = 1;
    /* What already finished is withdrawn too: the caller is tearing down. */
    TAILQ_FOREACH(j, &db->done, entry) {
        if (j->res != NULL) {
            PQclear(j->res);
            j->res = NULL;
        }
        if (j->kind == DB_JOB_QUERY && j->outcome != DB_UNAVAILABLE) {
            j->outcome = DB_UNAVAILABLE;
            db_job_message(j->err, sizeof(j->err), "database pool shutting down");
        }
        j->conn = NULL;
    }
    for (int i = 0; i < db->pool_size; i++) {
        struct db_conn *c = &db->conns[i];

        event_del(c->ev);
        if (c->job != NULL) {
            db_complete(db, c->job, DB_UNAVAILABLE, NULL, "database pool shutting down");
            c->job = NULL;
        }
        if (c->res != NULL) {
            PQclear(c->res);
            c->res = NULL;
        }
        db_fail_queue(db, &c->queue, "database pool shutting down");
    }
    db_fail_queue(db, &db->queue, "database pool shutting down");
    db->queued = 0;
    /* Callbacks may queue more (answered at once, since closing is set): drain until empty. */
    while ((j = TAILQ_FIRST(&db->done)) != NULL) {
        TAILQ_REMOVE(&db->done, j, entry);
        if (j->kind == DB_JOB_FATAL)
            db_job_free(j);
        else
            db_deliver(db, j);
    }
    for (int i = 0; i < db->pool_size; i++)
        db_conn_free(&db->conns[i]);
    event_free(db->ev_done);
    db_conninfo_free(&db->ci);
    free(db->conns);
    free(db);
}

/*
 * Every caller-visible completion goes through here and is delivered from
 * db_done_cb, so no callback ever runs inside db_query/db_acquire or inside
 * the middle of a connection's state change.
 */
static void
db_complete(struct db *db, struct db_job *j, enum db_outcome outcome, PGresult *res,
            const char *err)
{
    if (j->kind == DB_JOB_CHECK || j->kind == DB_JOB_ROLLBACK) {
        if (res != NULL)
            PQclear(res);
        db_job_free(j);
        return;
    }
    if (db->closing && res != NULL) {
        PQclear(res);
        res = NULL;
        outcome = DB_UNAVAILABLE;
        err = "database pool shutting down";
    }
    j->outcome = outcome;
    j->res = res;
    if (outcome != DB_OK)
        db_job_message(j->err, sizeof(j->err), err ? err : "database error");
    if (j->kind == DB_JOB_ACQUIRE && (outcome != DB_OK || db->closing))
        j->conn = NULL;
    if (j->kind == DB_JOB_QUERY) {
        db->stats.queries++;
        if (outcome == DB_ERROR)
            db->stats.errors++;
        else if (outcome == DB_UNAVAILABLE)
            db->stats.unavailable++;
    }
    TAILQ_INSERT_TAIL(&db->done, j, entry);
    if (!db->closing)
        event_active(db->ev_done, EV_TIMEOUT, 1);
}

/* Completes every job of q as DB_UNAVAILABLE with err. */
static void
db_fail_queue(struct db *db, struct db_jobq *q, const char *err)
{
    struct db_job *j;

    while ((j = TAILQ_FIRST(q)) != NULL) {
        TAILQ_REMOVE(q, j, entry);
        db_complete(db, j, DB_UNAVAILABLE, NULL, err);
    }
}

/* Tells the owner (fatal_cb), once per pool, that the database cannot be used. */
static void
db_fatal(struct db *db, const char *why)
{
    struct db_job *j;

    if (db->fatal_sent)
        return;
    db->fatal_sent = 1;
    j = db_job_new(DB_JOB_FATAL, NULL, 0, NULL);
    db_job_message(j->err, sizeof(j->err), why);
    TAILQ_INSERT_TAIL(&db->done, j, entry);
    event_active(db->ev_done, EV_TIMEOUT, 1);
}

/* With no connection up, waiting callers would hang until a reconnect: answer them now. */
static void
db_check_down(struct db *db)
{
    if (db->up > 0)
        return;
    if (!db->down)
        log_warn("db_down", "queued=%d", db->queued);
    db->down = 1;
    db_fail_queue(db, &db->queue, "database unavailable");
    db->queued = 0;
}

static void
db_kick(struct db *db)
{
    for (int i = 0; i < db->pool_size && !TAILQ_EMPTY(&db->queue); i++) {
        struct db_conn *c = &db->conns[i];

        if (c->state == DB_CONN_IDLE && !c->lent)
            db_conn_next(c);
    }
}

static void
db_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct db *db = arg;
    struct db_jobq batch;
    struct db_job *j;

    (void)fd;
    (void)what;
    /* Only what is done now: a callback that retries at once must not starve the loop. */
    TAILQ_INIT(&batch);
    TAILQ_CONCAT(&batch, &db->done, entry);
    db->delivering = 1;
    while (!db->free_requested && (j = TAILQ_FIRST(&batch)) != NULL) {
        TAILQ_REMOVE(&batch, j, entry);
        db_deliver(db, j);
    }
    db->delivering = 0;
    if (db->free_requested) {
        /* Undelivered jobs go back in front, in order, for db_free_now to answer. */
        TAILQ_CONCAT(&batch, &db->done, entry);
        TAILQ_CONCAT(&db->done, &batch, entry);
        db_free_now(db);
        return;
    }
    if (!TAILQ_EMPTY(&db->done))
        event_active(db->ev_done, EV_TIMEOUT, 1);
}

static void
db_deliver(struct db *db, struct db_job *j)
{
    PGresult *res = j->res;

    j->res = NULL; /* the callback owns it now */
    switch (j->kind) {
    case DB_JOB_QUERY:
        if (j->cb != NULL)
            j->cb(j->outcome, res, j->outcome == DB_OK ? NULL : j->err, j->arg);
        else
            PQclear(res);
        break;
    case DB_JOB_ACQUIRE:
        j->acquire_cb(j->conn, j->arg);
        break;
    case DB_JOB_FATAL:
        if (db->fatal_cb != NULL)
            db->fatal_cb(j->err, db->fatal_arg);
        break;
    case DB_JOB_CHECK:
    case DB_JOB_ROLLBACK:
        break;
    }
    db_job_free(j);
}
