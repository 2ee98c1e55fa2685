/* Transactions whose next statement depends on the last result, run on one pooled connection. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dbtx.h"
#include "log.h"
#include "xmalloc.h"

struct dbtx_stmt {
    const char *sql;
    int nparams;
    char *params[DBTX_MAX_PARAMS];
    dbtx_then_fn then;
    void *then_arg;
    db_copy_fill_fn fill; /* a COPY FROM STDIN */
    void *fill_arg;
};

/* Owned by itself from dbtx_run until the done callback has returned. */
struct dbtx {
    struct db *db;
    struct db_conn *conn;
    dbtx_done_fn done;
    void *arg;
    struct dbtx_stmt *stmts;
    int nstmts, cap, next;
    int committing;
};

struct dbtx *
dbtx_new(struct db *db, dbtx_done_fn done, void *arg)
{
    struct dbtx *tx = xcalloc(1, sizeof(*tx));

    tx->db = db;
    tx->done = done;
    tx->arg = arg;
    return tx;
}

void
dbtx_pushv(struct dbtx *tx, const char *sql, dbtx_then_fn then, void *then_arg, int n,
           const char *const *params)
{
    struct dbtx_stmt *s;

    if (n < 0 || n > DBTX_MAX_PARAMS)
        abort(); /* a programming error: statements are written with their parameters */
    if (tx->nstmts == tx->cap) {
        tx->cap = tx->cap ? tx->cap * 2 : 8;
        tx->stmts = xrealloc(tx->stmts, (size_t)tx->cap * sizeof(*tx->stmts));
    }
    s = &tx->stmts[tx->nstmts++];
    memset(s, 0, sizeof(*s));
    s->sql = sql;
    s->nparams = n;
    s->then = then;
    s->then_arg = then_arg;
    for (int i = 0; i < n; i++)
        s->params[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
}

void
dbtx_push(struct dbtx *tx, const char *sql, dbtx_then_fn then, void *then_arg, int n, ...)
{
    const char *p[DBTX_MAX_PARAMS];
    va_list ap;

    if (n < 0 || n > DBTX_MAX_PARAMS)
        abort();
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        p[i] = va_arg(ap, const char *);
    va_end(ap);
    dbtx_pushv(tx, sql, then, then_arg, n, p);
}

void
dbtx_push_copy(struct dbtx *tx, const char *sql, db_copy_fill_fn fill, void *fill_arg,
               dbtx_then_fn then, void *then_arg)
{
    dbtx_pushv(tx, sql, then, then_arg, 0, NULL);
    tx->stmts[tx->nstmts - 1].fill = fill;
    tx->stmts[tx->nstmts - 1].fill_arg = fill_arg;
}

static void
dbtx_free(struct dbtx *tx)
{
    for (int i = 0; i < tx->nstmts; i++)
        for (int j = 0; j < tx->stmts[i].nparams; j++)
            free(tx->stmts[i].params[j]);
    free(tx->stmts);
    free(tx);
}

static void
dbtx_end(struct dbtx *tx, enum db_outcome outcome, const char *err)
{
    if (tx->conn != NULL)
        db_release(tx->conn); /* still inside BEGIN after a failure: rolled back */
    tx->conn = NULL;
    tx->done(outcome, err, tx->arg);
    dbtx_free(tx);
}

static void dbtx_step(struct dbtx *tx);

static int
dbtx_fill(void *arg, const char **data, size_t *len)
{
    struct dbtx *tx = arg;
    struct dbtx_stmt *s = &tx->stmts[tx->next - 1];

    return s->fill(s->fill_arg, data, len);
}

static void
dbtx_step_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct dbtx *tx = arg;
    struct dbtx_stmt *s;
    int rc = 0;

    if (outcome != DB_OK) {
        PQclear(res);
        log_warn("dbtx_failed", "step=%d error=%s", tx->next, log_q(err));
        dbtx_end(tx, outcome, err);
        return;
    }
    if (tx->committing) {
        PQclear(res);
        dbtx_end(tx, DB_OK, NULL);
        return;
    }
    /* stmts may move when then() pushes more: index, never keep the pointer across it. */
    s = &tx->stmts[tx->next - 1];
    if (s->then != NULL)
        rc = s->then(tx, res, s->then_arg);
    PQclear(res);
    if (rc < 0) {
        dbtx_end(tx, DB_ERROR, "XX000 unexpected result");
        return;
    }
    if (rc > 0)
        tx->next = tx->nstmts;
    dbtx_step(tx);
}

static void
dbtx_step(struct dbtx *tx)
{
    struct dbtx_stmt *s;

    if (tx->next >= tx->nstmts) {
        tx->committing = 1;
        db_conn_query(tx->conn, "COMMIT", 0, NULL, dbtx_step_cb, tx);
        return;
    }
    s = &tx->stmts[tx->next++];
    if (s->fill != NULL) {
        /* db_conn_copy_in hands one arg to both callbacks: the statement routes it. */
        db_conn_copy_in(tx->conn, s->sql, 0, NULL, dbtx_fill, dbtx_step_cb, tx);
        return;
    }
    db_conn_query(tx->conn, s->sql, s->nparams, (const char *const *)s->params, dbtx_step_cb, tx);
}

static void
dbtx_begun_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct dbtx *tx = arg;

    PQclear(res);
    if (outcome != DB_OK) {
        dbtx_end(tx, outcome, err);
        return;
    }
    dbtx_step(tx);
}

static void
dbtx_acquired(struct db_conn *conn, void *arg)
{
    struct dbtx *tx = arg;

    if (conn == NULL) {
        dbtx_end(tx, DB_UNAVAILABLE, "database unavailable");
        return;
    }
    tx->conn = conn;
    db_conn_query(conn, "BEGIN", 0, NULL, dbtx_begun_cb, tx);
}

void
dbtx_run(struct dbtx *tx)
{
    db_acquire(tx->db, dbtx_acquired, tx);
}
