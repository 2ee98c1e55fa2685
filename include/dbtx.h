/* A transaction on the loop, built one statement at a time: each result may add the next. */
#ifndef PASSERELLE_DBTX_H
#define PASSERELLE_DBTX_H

#include <libpq-fe.h>

#include "db.h"

struct dbtx;

/*
 * Looks at one statement's result (borrowed; the runner clears it). Return 0 to go on, 1 to
 * skip the statements still listed and commit, -1 to roll back (the done callback then gets
 * DB_ERROR). It may push more statements; they run after those already listed.
 */
typedef int (*dbtx_then_fn)(struct dbtx *tx, PGresult *res, void *arg);

/*
 * Called once when the transaction ends: DB_OK after COMMIT; DB_UNAVAILABLE or DB_ERROR
 * (err says why) after a rollback. The transaction is freed right after it returns.
 */
typedef void (*dbtx_done_fn)(enum db_outcome outcome, const char *err, void *arg);

/* A new transaction on db; nothing runs before dbtx_run. */
struct dbtx *dbtx_new(struct db *db, dbtx_done_fn done, void *arg);

/*
 * Lists a statement with n text parameters (copied; NULL is SQL NULL). then may be NULL.
 * At most DBTX_MAX_PARAMS parameters.
 */
#define DBTX_MAX_PARAMS 16
void dbtx_push(struct dbtx *tx, const char *sql, dbtx_then_fn then, void *then_arg, int n, ...);
/* The same with an array of parameters. */
void dbtx_pushv(struct dbtx *tx, const char *sql, dbtx_then_fn then, void *then_arg, int n,
                const char *const *params);

/*
 * Lists a "COPY ... FROM STDIN" whose rows come from fill (see db_conn_copy_in); fill_arg
 * must live until the transaction ends.
 */
void dbtx_push_copy(struct dbtx *tx, const char *sql, db_copy_fill_fn fill, void *fill_arg,
                    dbtx_then_fn then, void *then_arg);

/* Borrows a connection, runs BEGIN, every statement in order, then COMMIT. */
void dbtx_run(struct dbtx *tx);

#endif
