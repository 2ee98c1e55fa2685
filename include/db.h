/* PostgreSQL on the event loop: a small pool of non-blocking libpq connections. */
#ifndef PASSERELLE_DB_H
#define PASSERELLE_DB_H

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
 * it; otherwise res is NULL and err is a short message (never a secret).
 */
typedef void (*db_result_fn)(enum db_outcome outcome, PGresult *res, const char *err, void *arg);

/* Called when a connection finds the schema newer or older than schema_version. */
typedef void (*db_fatal_fn)(const char *why, void *arg);

/*
 * Creates the pool and starts connecting in the background. Each new
 * connection checks schema_migrations against schema_version first and calls
 * fatal_cb on a mismatch. When the database goes away, connections are
 * retried with backoff (0.25 s doubling to 5 s) until it returns.
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

/* 1 when at least one connection is up. */
int db_is_up(const struct db *db);
/* Connections currently open and ready (for metrics). */
int db_connections_up(const struct db *db);

/* Closes every connection; callbacks still pending get DB_UNAVAILABLE first. */
void db_free(struct db *db);

#endif
