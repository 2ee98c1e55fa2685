/* PostgreSQL on the event loop: a small pool of non-blocking libpq connections. */
#ifndef PASSERELLE_DB_H
#define PASSERELLE_DB_H

#include <stddef.h>

#include <libpq-fe.h>

struct event_base;
struct db;
struct db_conn;

enum db_outcome {
    DB_OK,          /* the statement ran; res holds its result */
    DB_UNAVAILABLE, /* no connection (database down, pool queue full, shutting down): 503 */
    DB_ERROR,       /* the statement failed (constraint, syntax, ...): err says why */
};

/*
 * Called exactly once per query, always from the event loop and never from
 * inside db_query() itself. On DB_OK the callback owns res and must PQclear()
 * it, and err is NULL; otherwise res is NULL and err is a short message (never
 * a secret). On DB_ERROR err starts with the five-character SQLSTATE and a
 * space ("23505 duplicate key value ..."), so callers can tell cases apart.
 */
typedef void (*db_result_fn)(enum db_outcome outcome, PGresult *res, const char *err, void *arg);

/* Called when a connection finds the schema newer or older than schema_version. */
typedef void (*db_fatal_fn)(const char *why, void *arg);

/*
 * Creates the pool and starts connecting in the background. Each new
 * connection checks schema_migrations against schema_version first and calls
 * fatal_cb on a mismatch. When the database goes away, connections are
 * retried with backoff (0.25 s doubling to 5 s) until it returns. Never
 * returns NULL: a conninfo that does not parse gives a pool that is always
 * down, and fatal_cb is called (once, from the loop) saying so.
 */
struct db *db_new(struct event_base *base, const char *conninfo, int pool_size, int schema_version,
                  db_fatal_fn fatal_cb, void *fatal_arg);

/* Runs one parameterised statement on any free connection (queued if all are busy). */
void db_query(struct db *db, const char *sql, int nparams, const char *const *params,
              db_result_fn cb, void *arg);

/*
 * Transactions: borrow one connection for several statements.
 * db_acquire calls cb with a connection (or NULL when unavailable); run
 * db_conn_query on it as often as needed, then db_release it exactly once.
 * Releasing inside an open transaction rolls it back.
 */
typedef void (*db_acquire_fn)(struct db_conn *conn, void *arg);
void db_acquire(struct db *db, db_acquire_fn cb, void *arg);
void db_conn_query(struct db_conn *conn, const char *sql, int nparams, const char *const *params,
                   db_result_fn cb, void *arg);
void db_release(struct db_conn *conn);

/*
 * Supplies COPY data: sets *data and *len to the next chunk (valid until the next call) and
 * returns 1; returns 0 when there is no more, -1 to abort the COPY (the statement then fails
 * with DB_ERROR). Called from the loop as the socket takes data, never concurrently.
 */
typedef int (*db_copy_fill_fn)(void *arg, const char **data, size_t *len);

/*
 * Runs a "COPY ... FROM STDIN" on a borrowed connection, pulling rows from fill (arg is
 * passed to both fill and cb), without blocking the loop. cb gets the COPY's result as for
 * db_conn_query (PQcmdTuples gives the rows copied).
 */
void db_conn_copy_in(struct db_conn *conn, const char *sql, int nparams, const char *const *params,
                     db_copy_fill_fn fill, db_result_fn cb, void *arg);

/* 1 when at least one connection is up. */
int db_is_up(const struct db *db);
/* Connections currently open and ready (for metrics). */
int db_connections_up(const struct db *db);

/* Counters for metrics; the first five only grow. */
struct db_stats {
    unsigned long long queries;     /* statements answered, whatever the outcome */
    unsigned long long errors;      /* ... of which DB_ERROR */
    unsigned long long unavailable; /* ... of which DB_UNAVAILABLE */
    unsigned long long connects;    /* connections that came up (first time or again) */
    unsigned long long disconnects; /* connections lost after being up */
    int up;                         /* connections ready now */
    int queued;                     /* statements waiting for a free connection */
};
void db_stats(const struct db *db, struct db_stats *out);

/*
 * Closes every connection; callbacks still pending get DB_UNAVAILABLE first
 * (db_acquire's get NULL). Safe to call from inside a db callback: the pool is
 * then freed when that callback returns. db_free(NULL) does nothing.
 */
void db_free(struct db *db);

#endif
