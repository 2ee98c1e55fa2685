/* What db/pool.c, db/conn.c, db/job.c and db/conninfo.c share; nothing outside db/ includes it. */
#ifndef PASSERELLE_DB_INTERNAL_H
#define PASSERELLE_DB_INTERNAL_H

#include <stddef.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"

#define DB_STATEMENT_TIMEOUT_MS 30000
#define DB_ERR_MAX              200

/* The connection parameters for PQconnectStartParams, and how long a connection may take. */
struct db_conninfo {
    char **keywords; /* NULL-terminated */
    char **values;
    int connect_timeout_s;
};

enum db_job_kind {
    DB_JOB_QUERY,    /* a caller's statement */
    DB_JOB_ACQUIRE,  /* a caller waiting to borrow a connection */
    DB_JOB_FATAL,    /* fatal_cb to call */
    DB_JOB_CHECK,    /* internal: the schema version check of a new connection */
    DB_JOB_ROLLBACK, /* internal: ROLLBACK on release inside a transaction */
};

/* One unit of work; owned by exactly one list or connection at a time. */
struct db_job {
    TAILQ_ENTRY(db_job) entry;
    enum db_job_kind kind;
    char *sql;
    int nparams;
    char **params; /* copies: the caller's buffers may be gone when the job runs */
    db_result_fn cb;
    db_acquire_fn acquire_cb;
    db_copy_fill_fn fill; /* COPY ... FROM STDIN: where the rows come from */
    void *arg;
    /* Filled in when it completes. */
    enum db_outcome outcome;
    PGresult *res;
    struct db_conn *conn;
    char err[DB_ERR_MAX];
};
TAILQ_HEAD(db_jobq, db_job);

enum db_conn_state {
    DB_CONN_DOWN,       /* closed; a timer reconnects it (unless lent: then on release) */
    DB_CONN_CONNECTING, /* PQconnectPoll in progress */
    DB_CONN_IDLE,       /* ready, no statement running; watching the socket for a close */
    DB_CONN_BUSY,       /* a statement (the caller's, the check or a ROLLBACK) running */
    DB_CONN_DEAD,       /* schema mismatch: never used again */
};

/*
 * What a connection reports to its pool, handed by the pool to db_conn_init: conn.c never calls
 * pool.c, so the pool is the only one to call the other.
 */
struct db_conn_events {
    /* A job is over (see db_complete in pool.c): it is delivered from the pool's done event. */
    void (*complete)(struct db *db, struct db_job *j, enum db_outcome outcome, PGresult *res,
                     const char *err);
    /* Completes every job of q as DB_UNAVAILABLE with err. */
    void (*fail_queue)(struct db *db, struct db_jobq *q, const char *err);
    /* The database cannot be used (schema mismatch): the owner is told once per pool. */
    void (*fatal)(struct db *db, const char *why);
    /* A connection went down: with none up, waiting callers are answered now. */
    void (*check_down)(struct db *db);
};

struct db_conn {
    struct db *db;
    const struct db_conn_events *events;
    int index;
    PGconn *pg;
    enum db_conn_state state;
    /* The one event of this connection: socket wait or reconnect timer, never both. */
    struct event *ev;
    struct timespec deadline; /* of the connection attempt */
    int backoff_ms;
    int is_up;             /* counted in db->up */
    int failures;          /* connection attempts failed in a row, to log only the first */
    struct db_job *job;    /* running */
    PGresult *res;         /* its result so far */
    int flushing;          /* its text is not all sent yet */
    int copying;           /* inside COPY FROM STDIN: sending rows, not reading results */
    int copy_ending;       /* fill said done (or failed); PQputCopyEnd not yet accepted */
    const char *copy_err;  /* non-NULL: abort the COPY with this message */
    const char *copy_data; /* a chunk fill gave that libpq has not taken yet */
    size_t copy_len;
    /*
     * Statements prepared on this session (their text; the name is "p" and the index).
     * Each statement's text is parsed and planned once per connection instead of at
     * every run, which for a short statement is most of PostgreSQL's work.
     */
    char **prepared;
    int nprepared;
    int preparing;        /* the job's text is being prepared; it runs when that answers */
    int lent;             /* borrowed through db_acquire */
    int release_pending;  /* db_release came while statements were still queued */
    struct db_jobq queue; /* the borrower's statements waiting their turn */
};

struct db {
    struct event_base *base;
    int pool_size;
    int schema_version;
    db_fatal_fn fatal_cb;
    void *fatal_arg;
    struct db_conninfo ci;
    struct db_conn *conns;
    struct db_jobq queue; /* waiting for a free connection */
    int queued;
    struct db_jobq done; /* finished, waiting for db_done_cb to call back */
    struct event *ev_done;
    int up;         /* connections ready */
    int down;       /* the last connection failed: answer DB_UNAVAILABLE at once until one is up */
    int fatal_sent; /* fatal_cb is called once per pool */
    int delivering; /* inside db_done_cb */
    int free_requested;
    int closing;
    struct db_stats stats;
};

/* job.c: a unit of work, below both the pool and the connections. */

struct db_job *db_job_new(enum db_job_kind kind, const char *sql, int nparams,
                          const char *const *params);
void db_job_free(struct db_job *j);
/* Copies msg on one line: libpq's texts end in newlines and some span several. */
void db_job_message(char *buf, size_t size, const char *msg);

/* conn.c: one connection's state machine; it reports to the pool through events. */

void db_conn_init(struct db_conn *c, struct db *db, const struct db_conn_events *events, int index);
/* Closes the session and frees what c holds (not c: it is part of db->conns). */
void db_conn_free(struct db_conn *c);
/* Starts connecting (non-blocking); the state machine takes it from there. */
void db_conn_connect(struct db_conn *c);
/* Plans a reconnect after the connection's back-off. */
void db_conn_schedule(struct db_conn *c);
/* c is idle: give it the next thing to do, or watch it for a close. */
void db_conn_next(struct db_conn *c);

/* conninfo.c: the operator's connection string, with our parameters added. */

/* Parses conninfo into *ci; -1 if libpq cannot parse it (nothing to free then). */
int db_conninfo_parse(struct db_conninfo *ci, const char *conninfo);
void db_conninfo_free(struct db_conninfo *ci);

#endif
