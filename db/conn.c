/* One pooled PostgreSQL connection: connect, prepare, run, COPY, reconnect; never blocking. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "db_internal.h"
#include "log.h"
#include "xmalloc.h"

/* Silence on a busy connection this long past statement_timeout means the server is gone. */
#define DB_REPLY_TIMEOUT_S (DB_STATEMENT_TIMEOUT_MS / 1000 + 10)
#define DB_BACKOFF_MIN_MS  250
#define DB_BACKOFF_MAX_MS  5000
#define DB_MAX_PREPARED    128 /* statement texts prepared per connection; others run unprepared */

static const char db_check_sql[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";

static void db_conn_poll(struct db_conn *c);
static void db_conn_wait(struct db_conn *c, short what, int timeout_s);
static int db_conn_remaining_s(const struct db_conn *c);
static void db_conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void db_conn_retry_cb(evutil_socket_t fd, short what, void *arg);
static void db_conn_fail(struct db_conn *c, const char *why);
static int db_conn_start(struct db_conn *c, struct db_job *j);
static void db_conn_forget_prepared(struct db_conn *c);
static void db_conn_advance(struct db_conn *c);
static void db_conn_copy_pump(struct db_conn *c);
static void db_conn_finish(struct db_conn *c);
static void db_conn_checked(struct db_conn *c, PGresult *res);
static void db_conn_unlend(struct db_conn *c);
static void db_conn_notice_cb(void *arg, const char *message);
static int db_conn_is_lost(PGconn *pg, const PGresult *res);
static void db_conn_result_error(char *buf, size_t size, const PGresult *res, PGconn *pg);

void
db_conn_init(struct db_conn *c, struct db *db, const struct db_conn_events *events, int index)
{
    c->db = db;
    c->events = events;
    c->index = index;
    c->backoff_ms = DB_BACKOFF_MIN_MS;
    TAILQ_INIT(&c->queue);
    c->ev = event_new(db->base, -1, 0, db_conn_retry_cb, c);
}

void
db_conn_free(struct db_conn *c)
{
    PQfinish(c->pg);
    db_conn_forget_prepared(c);
    event_free(c->ev);
}

void
db_conn_connect(struct db_conn *c)
{
    struct db *db = c->db;

    db_conn_forget_prepared(c); /* a new session knows none */
    c->pg = PQconnectStartParams((const char *const *)db->ci.keywords,
                                 (const char *const *)db->ci.values, 0);
    if (c->pg == NULL) {
        db_conn_fail(c, "out of memory");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        db_conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    PQsetNoticeProcessor(c->pg, db_conn_notice_cb, c);
    c->state = DB_CONN_CONNECTING;
    clock_gettime(CLOCK_MONOTONIC, &c->deadline);
    c->deadline.tv_sec += db->ci.connect_timeout_s;
    /* libpq: after PQconnectStart, act as if PQconnectPoll had asked for writing. */
    db_conn_wait(c, EV_WRITE, db_conn_remaining_s(c));
}

static void
db_conn_poll(struct db_conn *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        db_conn_wait(c, EV_READ, db_conn_remaining_s(c));
        return;
    case PGRES_POLLING_WRITING:
        db_conn_wait(c, EV_WRITE, db_conn_remaining_s(c));
        return;
    case PGRES_POLLING_OK:
        if (PQsetnonblocking(c->pg, 1) != 0) {
            db_conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
        /* Not up yet: the schema check decides whether this connection may be used. */
        if (db_conn_start(c, db_job_new(DB_JOB_CHECK, db_check_sql, 0, NULL)) < 0)
            db_conn_fail(c, PQerrorMessage(c->pg));
        return;
    case PGRES_POLLING_FAILED:
    case PGRES_POLLING_ACTIVE:
        break;
    }
    db_conn_fail(c, PQerrorMessage(c->pg));
}

/* Waits on the connection's socket (re-read every time: libpq may change it while connecting). */
static void
db_conn_wait(struct db_conn *c, short what, int timeout_s)
{
    struct timeval tv = { timeout_s, 0 };

    event_del(c->ev);
    event_assign(c->ev, c->db->base, PQsocket(c->pg), what, db_conn_io_cb, c);
    event_add(c->ev, timeout_s > 0 ? &tv : NULL);
}

static int
db_conn_remaining_s(const struct db_conn *c)
{
    struct timespec now;
    long left;

    clock_gettime(CLOCK_MONOTONIC, &now);
    left = (long)(c->deadline.tv_sec - now.tv_sec);
    return left < 1 ? 1 : (int)left;
}

static void
db_conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
    struct db_conn *c = arg;
    PGnotify *n;

    (void)fd;
    switch (c->state) {
    case DB_CONN_CONNECTING:
        if (what & EV_TIMEOUT)
            db_conn_fail(c, "connect timed out");
        else
            db_conn_poll(c);
        return;
    case DB_CONN_IDLE:
        /* Nothing is expected: this is the server closing, or a notice, or a notification. */
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK) {
            db_conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
        while ((n = PQnotifies(c->pg)) != NULL)
            PQfreemem(n);
        db_conn_wait(c, EV_READ, 0);
        return;
    case DB_CONN_BUSY:
        if (what & EV_TIMEOUT) {
            db_conn_fail(c, "no reply from the database server in time");
            return;
        }
        if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
            db_conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
        if (c->copying)
            db_conn_copy_pump(c);
        else
            db_conn_advance(c);
        return;
    case DB_CONN_DOWN:
    case DB_CONN_DEAD:
        return;
    }
}

static void
db_conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct db_conn *c = arg;

    (void)fd;
    (void)what;
    if (c->state == DB_CONN_DOWN && !c->lent)
        db_conn_connect(c);
}

void
db_conn_schedule(struct db_conn *c)
{
    struct timeval tv = { c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000 };

    event_del(c->ev);
    event_assign(c->ev, c->db->base, -1, 0, db_conn_retry_cb, c);
    event_add(c->ev, &tv);
    c->backoff_ms = c->backoff_ms * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* The connection is unusable: answer what depended on it, close it, plan a reconnect. */
static void
db_conn_fail(struct db_conn *c, const char *why)
{
    struct db *db = c->db;
    char msg[DB_ERR_MAX];

    /* Copied first: why may point into the PGconn that is about to go. */
    db_job_message(msg, sizeof(msg), why);
    if (c->is_up)
        log_warn("db_conn_lost", "conn=%d error=%s", c->index, log_q(msg));
    else if (c->failures++ == 0)
        log_warn("db_connect_failed", "conn=%d error=%s retry_ms=%d", c->index, log_q(msg),
                 c->backoff_ms);
    else
        log_debug("db_connect_failed", "conn=%d error=%s retry_ms=%d", c->index, log_q(msg),
                  c->backoff_ms);
    event_del(c->ev);
    if (c->res != NULL) {
        PQclear(c->res);
        c->res = NULL;
    }
    if (c->job != NULL) {
        /* It may or may not have run; the caller answers 503 and can retry. */
        c->events->complete(db, c->job, DB_UNAVAILABLE, NULL, "database connection lost");
        c->job = NULL;
    }
    PQfinish(c->pg);
    c->pg = NULL;
    c->flushing = 0;
    c->state = DB_CONN_DOWN;
    if (c->is_up) {
        c->is_up = 0;
        db->up--;
        db->stats.disconnects++;
    }
    if (c->lent) {
        c->events->fail_queue(db, &c->queue, "database connection lost");
        /* The borrower still holds this pointer: it reconnects once released. */
        if (c->release_pending) {
            c->lent = 0;
            c->release_pending = 0;
            db_conn_schedule(c);
        }
    } else {
        db_conn_schedule(c);
    }
    c->events->check_down(db);
}

static void
db_conn_forget_prepared(struct db_conn *c)
{
    for (int i = 0; i < c->nprepared; i++)
        free(c->prepared[i]);
    free(c->prepared);
    c->prepared = NULL;
    c->nprepared = 0;
    c->preparing = 0;
}

/*
 * Sends j on c. Returns -1 (j back with the caller, c unchanged) when libpq
 * refuses it on a healthy connection; a broken one is failed here, and 0 returned.
 */
static int
db_conn_start(struct db_conn *c, struct db_job *j)
{
    const char *const *params = (const char *const *)j->params;
    char name[16];
    int r, sent, i = -1;

    /* A caller's statement runs prepared; a new text is prepared first (COPY cannot be). */
    if (j->kind == DB_JOB_QUERY && j->fill == NULL) {
        for (i = 0; i < c->nprepared && strcmp(c->prepared[i], j->sql) != 0; i++)
            ;
        if (i == c->nprepared && i >= DB_MAX_PREPARED)
            i = -1;
    }
    snprintf(name, sizeof(name), "p%d", i);
    if (i < 0)
        sent = PQsendQueryParams(c->pg, j->sql, j->nparams, NULL, params, NULL, NULL, 0);
    else if (i < c->nprepared)
        sent = PQsendQueryPrepared(c->pg, name, j->nparams, params, NULL, NULL, 0);
    else
        sent = PQsendPrepare(c->pg, name, j->sql, j->nparams, NULL);
    c->preparing = sent && i >= 0 && i == c->nprepared;
    if (!sent) {
        if (PQstatus(c->pg) == CONNECTION_OK && j->kind == DB_JOB_QUERY)
            return -1;
        c->job = j;
        db_conn_fail(c, PQerrorMessage(c->pg));
        return 0;
    }
    c->job = j;
    c->state = DB_CONN_BUSY;
    c->copying = 0;
    c->copy_len = 0;
    c->flushing = 1;
    r = PQflush(c->pg);
    if (r < 0) {
        db_conn_fail(c, PQerrorMessage(c->pg));
        return 0;
    }
    c->flushing = r > 0;
    /* Reading too while flushing: the server may answer before it has read everything. */
    db_conn_wait(c, r > 0 ? EV_READ | EV_WRITE : EV_READ, DB_REPLY_TIMEOUT_S);
    return 0;
}

/*
 * Sends what libpq holds. 1 when all of it went; 0 when the connection failed or must wait
 * for the socket (then it is already handled, and the caller only returns).
 */
static int
db_conn_flushed(struct db_conn *c)
{
    int r = PQflush(c->pg);

    if (r < 0) {
        db_conn_fail(c, PQerrorMessage(c->pg));
        return 0;
    }
    if (r > 0) {
        db_conn_wait(c, EV_READ | EV_WRITE, DB_REPLY_TIMEOUT_S);
        return 0;
    }
    return 1;
}

static void
db_conn_advance(struct db_conn *c)
{
    PGresult *r;

    if (c->flushing) {
        if (!db_conn_flushed(c))
            return;
        c->flushing = 0;
    }
    while (!PQisBusy(c->pg)) {
        r = PQgetResult(c->pg);
        if (r == NULL) {
            db_conn_finish(c);
            return;
        }
        if (PQresultStatus(r) == PGRES_COPY_IN && c->job->fill != NULL) {
            PQclear(r);
            c->copying = 1;
            c->copy_ending = 0;
            c->copy_err = NULL;
            c->copy_len = 0;
            db_conn_copy_pump(c);
            return;
        }
        /* One statement gives one result; keep the last if a server ever sends more. */
        if (c->res != NULL)
            PQclear(c->res);
        c->res = r;
    }
    db_conn_wait(c, EV_READ, DB_REPLY_TIMEOUT_S);
}

/*
 * Sends COPY rows while the socket takes them: a chunk from fill, PQputCopyData, flush; on a
 * full buffer it waits for the socket to be writable. A fixed number of chunks per turn keeps
 * one large COPY from starving the loop. When fill is done, PQputCopyEnd, then back to reading
 * the statement's result as usual.
 */
#define DB_COPY_CHUNKS_PER_TURN 16

static void
db_conn_copy_pump(struct db_conn *c)
{
    for (int turn = 0; turn < DB_COPY_CHUNKS_PER_TURN; turn++) {
        int r;

        if (c->copy_len == 0 && !c->copy_ending) {
            const char *data = NULL;
            size_t len = 0;

            r = c->job->fill(c->job->arg, &data, &len);
            if (r < 0) {
                c->copy_ending = 1;
                c->copy_err = "aborted by passerelle";
            } else if (r == 0) {
                c->copy_ending = 1;
            } else {
                c->copy_data = data;
                c->copy_len = len;
            }
        }
        if (c->copy_len > 0 || c->copy_ending) {
            int sending = c->copy_len > 0;

            r = sending ? PQputCopyData(c->pg, c->copy_data, (int)c->copy_len)
                        : PQputCopyEnd(c->pg, c->copy_err);
            if (r < 0) {
                db_conn_fail(c, PQerrorMessage(c->pg));
                return;
            }
            if (r == 0) { /* libpq's buffer is full: wait for the socket */
                db_conn_wait(c, EV_READ | EV_WRITE, DB_REPLY_TIMEOUT_S);
                return;
            }
            if (sending) {
                c->copy_len = 0;
            } else {
                c->copying = 0;
                c->flushing = 1;
                db_conn_advance(c);
                return;
            }
        }
        if (!db_conn_flushed(c))
            return;
    }
    /* Let other events run, then go on: the socket is writable, so this comes back at once. */
    db_conn_wait(c, EV_READ | EV_WRITE, DB_REPLY_TIMEOUT_S);
}

/*
 * Queues j on the borrowed connection c, or answers it at once (DB_UNAVAILABLE) when the
 * pool is closing, c is not borrowed (a misuse by caller, logged) or c is lost.
 */
static void
db_conn_submit(struct db_conn *c, struct db_job *j, const char *caller)
{
    struct db *db = c->db;

    if (db->closing) {
        c->events->complete(db, j, DB_UNAVAILABLE, NULL, "database pool shutting down");
    } else if (!c->lent || c->release_pending) {
        log_warn("db_misuse", "conn=%d caller=%s reason=%s", c->index, caller,
                 log_q("a connection not borrowed"));
        c->events->complete(db, j, DB_UNAVAILABLE, NULL, "connection not borrowed");
    } else if (c->state != DB_CONN_IDLE && c->state != DB_CONN_BUSY) {
        c->events->complete(db, j, DB_UNAVAILABLE, NULL, "database connection lost");
    } else {
        TAILQ_INSERT_TAIL(&c->queue, j, entry);
        if (c->state == DB_CONN_IDLE)
            db_conn_next(c);
    }
}

void
db_conn_copy_in(struct db_conn *c, const char *sql, int nparams, const char *const *params,
                db_copy_fill_fn fill, db_result_fn cb, void *arg)
{
    struct db_job *j = db_job_new(DB_JOB_QUERY, sql, nparams, params);

    j->cb = cb;
    j->fill = fill;
    j->arg = arg;
    db_conn_submit(c, j, "db_conn_copy_in");
}

static void
db_conn_finish(struct db_conn *c)
{
    struct db *db = c->db;
    struct db_job *j = c->job;
    PGresult *res = c->res;
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    char err[DB_ERR_MAX];

    c->job = NULL;
    c->res = NULL;
    c->state = DB_CONN_IDLE;
    if (c->preparing && st == PGRES_COMMAND_OK) {
        /* Prepared: now the statement itself, which finishes here in turn. */
        c->preparing = 0;
        c->prepared = xrealloc(c->prepared, (size_t)(c->nprepared + 1) * sizeof(*c->prepared));
        c->prepared[c->nprepared++] = xstrdup(j->sql);
        PQclear(res);
        if (db_conn_start(c, j) < 0) {
            db_conn_result_error(err, sizeof(err), NULL, c->pg);
            c->events->complete(db, j, DB_ERROR, NULL, err);
            db_conn_next(c);
        }
        return;
    }
    c->preparing = 0; /* a failed prepare is the statement's own error */
    if (j->kind == DB_JOB_CHECK) {
        db_conn_checked(c, res);
        db_job_free(j);
        return;
    }
    if (db_conn_is_lost(c->pg, res)) {
        db_conn_result_error(err, sizeof(err), res, c->pg);
        if (res != NULL)
            PQclear(res);
        c->job = j;
        db_conn_fail(c, err);
        return;
    }
    if (j->kind == DB_JOB_ROLLBACK) {
        if (st != PGRES_COMMAND_OK) {
            db_conn_result_error(err, sizeof(err), res, c->pg);
            PQclear(res);
            db_job_free(j);
            db_conn_fail(c, err);
            return;
        }
        PQclear(res);
        db_job_free(j);
    } else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        c->events->complete(db, j, DB_OK, res, NULL);
    } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        /* The protocol is now mid-COPY, which this pool does not speak: start afresh. */
        PQclear(res);
        c->events->complete(db, j, DB_ERROR, NULL, "0A000 COPY is not supported by the pool");
        db_conn_fail(c, "COPY started on a pool connection");
        return;
    } else {
        db_conn_result_error(err, sizeof(err), res, c->pg);
        if (res != NULL)
            PQclear(res);
        c->events->complete(db, j, DB_ERROR, NULL, err);
    }
    db_conn_next(c);
}

static void
db_conn_checked(struct db_conn *c, PGresult *res)
{
    struct db *db = c->db;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    char why[DB_ERR_MAX];
    long version;

    if (db_conn_is_lost(c->pg, res)) {
        db_conn_result_error(why, sizeof(why), res, c->pg);
        PQclear(res);
        db_conn_fail(c, why);
        return;
    }
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        version = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    } else if (state != NULL && strcmp(state, "42P01") == 0) {
        version = 0; /* no schema_migrations: nothing was ever migrated */
    } else {
        db_conn_result_error(why, sizeof(why), res, c->pg);
        PQclear(res);
        db_conn_fail(c, why);
        return;
    }
    PQclear(res);
    if (version != db->schema_version) {
        if (version > db->schema_version)
            snprintf(why, sizeof(why), "database schema %ld is newer than this binary (%d)",
                     version, db->schema_version);
        else
            snprintf(why, sizeof(why),
                     "database schema %ld is older than %d: run passerelle migrate", version,
                     db->schema_version);
        log_error("db_schema_mismatch", "conn=%d reason=%s", c->index, log_q(why));
        event_del(c->ev);
        PQfinish(c->pg);
        c->pg = NULL;
        c->state = DB_CONN_DEAD;
        c->events->fatal(db, why);
        c->events->check_down(db);
        return;
    }
    if (db->up == 0)
        log_info("db_up", "conn=%d reconnect=%s", c->index, db->stats.connects > 0 ? "yes" : "no");
    c->is_up = 1;
    c->failures = 0;
    c->backoff_ms = DB_BACKOFF_MIN_MS;
    db->up++;
    db->down = 0;
    db->stats.connects++;
    db_conn_next(c);
}

/* c is idle: give it the next thing to do, or watch it for a close. */
void
db_conn_next(struct db_conn *c)
{
    struct db *db = c->db;
    struct db_job *j;
    char err[DB_ERR_MAX];

    if (db->closing)
        return;
    if (c->lent) {
        while ((j = TAILQ_FIRST(&c->queue)) != NULL) {
            TAILQ_REMOVE(&c->queue, j, entry);
            if (db_conn_start(c, j) == 0)
                return;
            db_conn_result_error(err, sizeof(err), NULL, c->pg);
            c->events->complete(db, j, DB_ERROR, NULL, err);
        }
        if (c->release_pending) {
            db_conn_unlend(c);
            return;
        }
        db_conn_wait(c, EV_READ, 0);
        return;
    }
    while ((j = TAILQ_FIRST(&db->queue)) != NULL) {
        TAILQ_REMOVE(&db->queue, j, entry);
        db->queued--;
        if (j->kind == DB_JOB_ACQUIRE) {
            c->lent = 1;
            j->conn = c;
            c->events->complete(db, j, DB_OK, NULL, NULL);
            break;
        }
        if (db_conn_start(c, j) == 0)
            return;
        db_conn_result_error(err, sizeof(err), NULL, c->pg);
        c->events->complete(db, j, DB_ERROR, NULL, err);
    }
    db_conn_wait(c, EV_READ, 0);
}

/* Back to the pool; a transaction the borrower left open is rolled back first. */
static void
db_conn_unlend(struct db_conn *c)
{
    c->release_pending = 0;
    c->lent = 0;
    switch (PQtransactionStatus(c->pg)) {
    case PQTRANS_IDLE:
        db_conn_next(c);
        return;
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR:
        if (db_conn_start(c, db_job_new(DB_JOB_ROLLBACK, "ROLLBACK", 0, NULL)) < 0)
            db_conn_fail(c, PQerrorMessage(c->pg));
        return;
    case PQTRANS_ACTIVE:
    case PQTRANS_UNKNOWN:
        break;
    }
    db_conn_fail(c, "released in an unknown transaction state");
}

static void
db_conn_notice_cb(void *arg, const char *message)
{
    const struct db_conn *c = arg;
    char msg[DB_ERR_MAX];

    db_job_message(msg, sizeof(msg), message);
    log_info("db_notice", "conn=%d msg=%s", c->index, log_q(msg));
}

/* Errors that mean the session is over (shutdown, crash, lost link), not that the statement was
 * bad. */
static int
db_conn_is_lost(PGconn *pg, const PGresult *res)
{
    const char *state, *severity;

    if (PQstatus(pg) != CONNECTION_OK || res == NULL)
        return 1;
    if (PQresultStatus(res) != PGRES_FATAL_ERROR)
        return 0;
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    /* libpq's own errors carry no SQLSTATE and are about the link. */
    if (state == NULL)
        return 1;
    /* FATAL and PANIC end the backend whatever the code; 57P* is shutdown or crash. */
    if (severity != NULL && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
        return 1;
    return strncmp(state, "57P", 3) == 0;
}

/* "SQLSTATE primary message" on one line. */
static void
db_conn_result_error(char *buf, size_t size, const PGresult *res, PGconn *pg)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char tmp[DB_ERR_MAX];

    if (msg == NULL)
        msg = pg ? PQerrorMessage(pg) : NULL;
    if (msg == NULL || *msg == '\0')
        msg = "unknown database error";
    snprintf(tmp, sizeof(tmp), "%s %s", state ? state : "XX000", msg);
    db_job_message(buf, size, tmp);
}

void
db_conn_query(struct db_conn *c, const char *sql, int nparams, const char *const *params,
              db_result_fn cb, void *arg)
{
    struct db_job *j = db_job_new(DB_JOB_QUERY, sql, nparams, params);

    j->cb = cb;
    j->arg = arg;
    db_conn_submit(c, j, "db_conn_query");
}
