/* Tests of dbtx on a real PostgreSQL: order, pushes from results, COPY, commit, rollback. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dbtx.h"
#include "migrate.h"
#include "pgtest.h"
#include "tap.h"

/* What the done callback saw. */
struct end {
    int called;
    int sync; /* called from inside dbtx_run */
    enum db_outcome outcome;
    char err[256];
};

/* The order in which the then callbacks ran, as letters. */
static char trail[64];
static int in_run;

#define LETTER(c) ((void *)(intptr_t)(c))

static void
done_cb(enum db_outcome outcome, const char *err, void *arg)
{
    struct end *e = arg;

    e->called++;
    e->sync = in_run;
    e->outcome = outcome;
    snprintf(e->err, sizeof(e->err), "%s", err ? err : "");
}

static void
run(struct dbtx *tx, struct end *e)
{
    in_run = 1;
    dbtx_run(tx);
    in_run = 0;
    PGT_SPIN(e->called > 0, 5);
    pgt_spin_once(); /* a second call would come now */
}

/* Appends the letter in arg to the trail; goes on. */
static int
mark(struct dbtx *tx, PGresult *res, void *arg)
{
    size_t n = strlen(trail);

    (void)tx;
    (void)res;
    if (n + 1 < sizeof(trail)) {
        trail[n] = (char)(intptr_t)arg;
        trail[n + 1] = '\0';
    }
    return 0;
}

/* Returns what arg points to: 1 skips the rest and commits, -1 rolls back. */
static int
verdict(struct dbtx *tx, PGresult *res, void *arg)
{
    (void)tx;
    (void)res;
    return *(const int *)arg;
}

static const char ins[] = "INSERT INTO t_dbtx (v) VALUES ($1)";

/* After the first statement, pushes two more: they run after the one already listed. */
static int
push_more(struct dbtx *tx, PGresult *res, void *arg)
{
    (void)res;
    (void)arg;
    dbtx_push(tx, ins, mark, LETTER('x'), 1, "pushed-1");
    dbtx_push(tx, ins, mark, LETTER('y'), 1, "pushed-2");
    return 0;
}

/* Reads the value a RETURNING gave into the buffer in arg. */
static int
returned(struct dbtx *tx, PGresult *res, void *arg)
{
    (void)tx;
    if (PQntuples(res) != 1)
        return -1;
    snprintf(arg, 64, "%s", PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
    return 0;
}

static void
test_order(struct db *db)
{
    struct end e = { 0 };
    struct dbtx *tx = dbtx_new(db, done_cb, &e);

    trail[0] = '\0';
    dbtx_push(tx, ins, mark, LETTER('a'), 1, "one");
    dbtx_push(tx, ins, push_more, NULL, 1, "two");
    dbtx_push(tx, ins, mark, LETTER('c'), 1, "three");
    ok(pgt_num("SELECT count(*) FROM t_dbtx") == 0, "nothing runs before dbtx_run");
    run(tx, &e);
    is_int(e.called, 1, "order: done called once");
    ok(!e.sync, "order: done not called from inside dbtx_run");
    is_int(e.outcome, DB_OK, "order: committed");
    is_str(trail, "acxy", "order: listed statements first, then those pushed by a result");
    is_str(pgt_str("SELECT string_agg(v, ',' ORDER BY id) FROM t_dbtx"),
           "one,two,three,pushed-1,pushed-2", "order: rows written in order");
}

static void
test_params(struct db *db)
{
    struct end e = { 0 };
    struct dbtx *tx = dbtx_new(db, done_cb, &e);
    char got_null[64] = "", got_text[64] = "";
    char param[] = "copied";

    dbtx_push(tx, "SELECT $1::text", returned, got_null, 1, (const char *)NULL);
    dbtx_push(tx, "SELECT $1::text", returned, got_text, 1, param);
    snprintf(param, sizeof(param), "%s", "change"); /* the parameter was copied when pushed */
    run(tx, &e);
    is_int(e.outcome, DB_OK, "params: committed");
    is_str(got_null, "(null)", "params: a NULL parameter is SQL NULL");
    is_str(got_text, "copied", "params: text parameters are copied at push time");
}

static void
test_rollback(struct db *db)
{
    struct end e = { 0 };
    struct dbtx *tx = dbtx_new(db, done_cb, &e);
    long long before = pgt_num("SELECT count(*) FROM t_dbtx");

    trail[0] = '\0';
    dbtx_push(tx, ins, mark, LETTER('a'), 1, "rolled-back-1");
    dbtx_push(tx, ins, mark, LETTER('b'), 1, "one"); /* unique: fails */
    dbtx_push(tx, ins, mark, LETTER('c'), 1, "rolled-back-2");
    run(tx, &e);
    is_int(e.called, 1, "statement error: done called once");
    is_int(e.outcome, DB_ERROR, "statement error: DB_ERROR");
    ok(strncmp(e.err, "23505 ", 6) == 0, "statement error: err starts with the SQLSTATE (%s)",
       e.err);
    is_str(trail, "a", "statement error: nothing runs after the failed statement");
    is_int(pgt_num("SELECT count(*) FROM t_dbtx"), before,
           "statement error: everything rolled back");

    /* then() returning -1 rolls back what ran before it. */
    {
        static int minus = -1;
        struct end e2 = { 0 };
        struct dbtx *tx2 = dbtx_new(db, done_cb, &e2);

        trail[0] = '\0';
        dbtx_push(tx2, ins, mark, LETTER('a'), 1, "refused-1");
        dbtx_push(tx2, ins, verdict, &minus, 1, "refused-2");
        dbtx_push(tx2, ins, mark, LETTER('c'), 1, "refused-3");
        run(tx2, &e2);
        is_int(e2.called, 1, "then -1: done called once");
        is_int(e2.outcome, DB_ERROR, "then -1: DB_ERROR");
        is_str(trail, "a", "then -1: the statements after it do not run");
        is_int(pgt_num("SELECT count(*) FROM t_dbtx WHERE v LIKE 'refused-%%'"), 0,
               "then -1: rolled back");
    }

    /* The connection went back to the pool outside a transaction: the next one commits. */
    {
        struct end e3 = { 0 };
        struct dbtx *tx3 = dbtx_new(db, done_cb, &e3);

        dbtx_push(tx3, ins, NULL, NULL, 1, "after-rollback");
        run(tx3, &e3);
        is_int(e3.outcome, DB_OK, "after a rollback: the next transaction commits");
        is_int(pgt_num("SELECT count(*) FROM t_dbtx WHERE v = 'after-rollback'"), 1,
               "after a rollback: its row is there");
    }
}

static void
test_skip(struct db *db)
{
    static int one = 1;
    struct end e = { 0 };
    struct dbtx *tx = dbtx_new(db, done_cb, &e);

    trail[0] = '\0';
    dbtx_push(tx, ins, mark, LETTER('a'), 1, "skip-1");
    dbtx_push(tx, ins, verdict, &one, 1, "skip-2");
    dbtx_push(tx, ins, mark, LETTER('c'), 1, "skip-3");
    run(tx, &e);
    is_int(e.outcome, DB_OK, "then 1: committed");
    is_str(trail, "a", "then 1: the statements still listed are skipped");
    is_str(pgt_str("SELECT string_agg(v, ',' ORDER BY id) FROM t_dbtx WHERE v LIKE 'skip-%%'"),
           "skip-1,skip-2", "then 1: what ran is committed");
}

/* COPY rows: a fixed list of chunks, or a failure after the first. */
struct rows {
    const char *const *chunks;
    int next;
    int fail_after; /* -1 to abort after this many chunks; 0 never */
};

static int
fill(void *arg, const char **data, size_t *len)
{
    struct rows *r = arg;

    if (r->fail_after > 0 && r->next == r->fail_after)
        return -1;
    if (r->chunks[r->next] == NULL)
        return 0;
    *data = r->chunks[r->next++];
    *len = strlen(*data);
    return 1;
}

/* Reads PQcmdTuples of the COPY into the int in arg. */
static int
copied(struct dbtx *tx, PGresult *res, void *arg)
{
    (void)tx;
    *(int *)arg = (int)strtol(PQcmdTuples(res), NULL, 10);
    return 0;
}

static void
test_copy(struct db *db)
{
    static const char *const chunks[] = { "copy-1\ncopy-2\n", "copy-3\n", NULL };
    struct rows r = { chunks, 0, 0 };
    struct end e = { 0 };
    struct dbtx *tx = dbtx_new(db, done_cb, &e);
    int n = -1;

    trail[0] = '\0';
    dbtx_push(tx, ins, mark, LETTER('a'), 1, "before-copy");
    dbtx_push_copy(tx, "COPY t_dbtx (v) FROM STDIN", fill, &r, copied, &n);
    dbtx_push(tx, ins, mark, LETTER('c'), 1, "after-copy");
    run(tx, &e);
    is_int(e.outcome, DB_OK, "copy: committed");
    is_int(n, 3, "copy: the then callback sees the rows copied");
    is_str(trail, "ac", "copy: in order with the other statements");
    is_str(pgt_str("SELECT string_agg(v, ',' ORDER BY id) FROM t_dbtx WHERE v LIKE '%%copy%%'"),
           "before-copy,copy-1,copy-2,copy-3,after-copy", "copy: rows written in order");

    /* A fill that aborts fails the COPY and rolls back the whole transaction. */
    {
        static const char *const more[] = { "abort-1\n", "abort-2\n", NULL };
        struct rows r2 = { more, 0, 1 };
        struct end e2 = { 0 };
        struct dbtx *tx2 = dbtx_new(db, done_cb, &e2);

        dbtx_push(tx2, ins, NULL, NULL, 1, "abort-0");
        dbtx_push_copy(tx2, "COPY t_dbtx (v) FROM STDIN", fill, &r2, NULL, NULL);
        run(tx2, &e2);
        is_int(e2.called, 1, "copy aborted: done called once");
        is_int(e2.outcome, DB_ERROR, "copy aborted: DB_ERROR");
        is_int(pgt_num("SELECT count(*) FROM t_dbtx WHERE v LIKE 'abort-%%'"), 0,
               "copy aborted: rolled back");
    }

    /* A row the table refuses (unique) fails the same way. */
    {
        static const char *const dup[] = { "dup-1\none\n", NULL };
        struct rows r3 = { dup, 0, 0 };
        struct end e3 = { 0 };
        struct dbtx *tx3 = dbtx_new(db, done_cb, &e3);

        dbtx_push_copy(tx3, "COPY t_dbtx (v) FROM STDIN", fill, &r3, NULL, NULL);
        run(tx3, &e3);
        is_int(e3.outcome, DB_ERROR, "copy refused: DB_ERROR");
        ok(strncmp(e3.err, "23505 ", 6) == 0, "copy refused: the SQLSTATE (%s)", e3.err);
        is_int(pgt_num("SELECT count(*) FROM t_dbtx WHERE v = 'dup-1'"), 0,
               "copy refused: nothing copied");
    }
}

static void
test_empty(struct db *db)
{
    struct end e = { 0 };
    struct dbtx *tx = dbtx_new(db, done_cb, &e);

    run(tx, &e);
    is_int(e.called, 1, "empty: done called once");
    is_int(e.outcome, DB_OK, "empty: BEGIN then COMMIT");
}

int
main(void)
{
    struct db *db, *down;
    struct end e = { 0 };
    struct dbtx *tx;

    pgt_setup("dbtx");
    pgt_exec("CREATE TABLE t_dbtx (id serial PRIMARY KEY, v text UNIQUE)");
    db = pgt_db(2);
    test_order(db);
    test_params(db);
    test_rollback(db);
    test_skip(db);
    test_copy(db);
    test_empty(db);
    db_free(db);

    /* No database: DB_UNAVAILABLE, once, and no statement's callback. */
    down = db_new(pgt_base, "host=127.0.0.1 port=1 connect_timeout=1", 1, migrate_latest(),
                  pgt_fatal_cb, NULL);
    tx = dbtx_new(down, done_cb, &e);
    trail[0] = '\0';
    dbtx_push(tx, ins, mark, LETTER('a'), 1, "never");
    run(tx, &e);
    is_int(e.called, 1, "no database: done called once");
    ok(!e.sync, "no database: done not called from inside dbtx_run");
    is_int(e.outcome, DB_UNAVAILABLE, "no database: DB_UNAVAILABLE");
    is_str(trail, "", "no database: no statement ran");
    db_free(down);

    pgt_teardown();
    return done_testing();
}
