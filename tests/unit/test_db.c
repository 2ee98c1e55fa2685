/* Tests of the async pool (db/db.c) on a real PostgreSQL, including a server stop and restart. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "db.h"
#include "migrate.h"
#include "pgtest.h"
#include "tap.h"

/* What one callback saw. */
struct qres {
    int called;
    int sync; /* called while inside db_query/db_acquire/db_conn_query */
    enum db_outcome outcome;
    int nrows;
    int isnull;
    char val[256];
    char err[256];
};

struct acq {
    int called;
    int sync;
    struct db_conn *conn;
};

struct fatal {
    int count;
    char why[256];
};

static int in_api;
static char empty_conninfo[1200];
static const char *pgdir;
static volatile sig_atomic_t cluster_stopped;

/* sh scripts/pg.sh start|stop DIR, without a shell in between; async-signal-safe. */
static int
pg_script(const char *cmd)
{
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        /* pg.sh prints the conninfo: keep it out of the TAP stream. */
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        execlp("sh", "sh", "scripts/pg.sh", cmd, pgdir, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Whatever happens, the other tests need the cluster back. */
static void
restore_cluster(void)
{
    if (cluster_stopped) {
        cluster_stopped = 0;
        pg_script("start");
    }
}

static void
restore_on_signal(int sig)
{
    restore_cluster();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
query_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct qres *r = arg;

    r->called++;
    r->sync = in_api;
    r->outcome = outcome;
    if (outcome == DB_OK) {
        r->nrows = PQntuples(res);
        if (r->nrows > 0 && PQnfields(res) > 0) {
            r->isnull = PQgetisnull(res, 0, 0);
            snprintf(r->val, sizeof(r->val), "%s", PQgetvalue(res, 0, 0));
        }
        r->err[0] = err == NULL ? '\0' : '?';
        PQclear(res);
    } else {
        snprintf(r->err, sizeof(r->err), "%s", err ? err : "(null)");
        if (res != NULL)
            snprintf(r->val, sizeof(r->val), "res not NULL");
    }
}

static void
acquire_cb(struct db_conn *conn, void *arg)
{
    struct acq *a = arg;

    a->called++;
    a->sync = in_api;
    a->conn = conn;
}

static void
fatal_cb(const char *why, void *arg)
{
    struct fatal *f = arg;

    f->count++;
    snprintf(f->why, sizeof(f->why), "%s", why);
}

/* Runs one statement (on conn when given) and waits for its answer. */
static enum db_outcome
q(struct db *db, struct db_conn *conn, const char *sql, int n, const char *const *params,
  struct qres *r)
{
    memset(r, 0, sizeof(*r));
    r->outcome = -1;
    in_api = 1;
    if (conn != NULL)
        db_conn_query(conn, sql, n, params, query_cb, r);
    else
        db_query(db, sql, n, params, query_cb, r);
    in_api = 0;
    PGT_SPIN(r->called > 0, 10);
    return r->outcome;
}

static struct db_conn *
acquire(struct db *db, struct acq *a)
{
    memset(a, 0, sizeof(*a));
    in_api = 1;
    db_acquire(db, acquire_cb, a);
    in_api = 0;
    PGT_SPIN(a->called > 0, 10);
    return a->conn;
}

static void
test_basic(struct db *db)
{
    struct qres r;

    /* Sent before the pool has connected: it waits for the first connection. */
    is_int(q(db, NULL, "SELECT 1 + 1", 0, NULL, &r), DB_OK, "first query succeeds: %s", r.err);
    is_int(r.called, 1, "callback called once");
    ok(!r.sync, "callback not called from inside db_query");
    is_str(r.val, "2", "result value");
    is_str(r.err, "", "err is NULL on DB_OK");
    ok(db_is_up(db), "pool is up");
    PGT_SPIN(db_connections_up(db) == 2, 5);
    is_int(db_connections_up(db), 2, "both connections up");

    is_int(q(db, NULL, "SHOW statement_timeout", 0, NULL, &r), DB_OK, "show statement_timeout");
    is_str(r.val, "30s", "statement_timeout set at connect");
}

static void
test_params(struct db *db)
{
    static const char evil[] = "'; DROP TABLE x; --";
    const char *p1[1] = { evil };
    const char *p3[3] = { "41", NULL, "héllo \"wörld\" \\ $1" };
    char buf[16];
    const char *pb[1] = { buf };
    struct qres r;

    is_int(q(db, NULL, "CREATE TABLE x (v text)", 0, NULL, &r), DB_OK, "create table x");
    is_int(q(db, NULL, "INSERT INTO x VALUES ($1) RETURNING v", 1, p1, &r), DB_OK,
           "insert metacharacters");
    is_str(r.val, evil, "metacharacters round-trip as data");
    is_int(q(db, NULL, "SELECT count(*) FROM x WHERE v = $1", 1, p1, &r), DB_OK, "select by it");
    is_str(r.val, "1", "table x still there with the row");

    is_int(q(db, NULL, "SELECT $1::int + 1", 3, p3, &r), DB_ERROR,
           "more parameters than placeholders is an error");
    is_int(q(db, NULL, "SELECT ($1::int + 1)::text || coalesce($2, 'null') || $3", 3, p3, &r),
           DB_OK, "three parameters, one NULL: %s", r.err);
    is_str(r.val, "42nullhéllo \"wörld\" \\ $1", "NULL and quotes as data");
    is_int(q(db, NULL, "SELECT $1::text", 1, (const char *const[]){ NULL }, &r), DB_OK,
           "NULL parameter");
    ok(r.isnull, "comes back as SQL NULL");

    /* The caller's buffer may change right after db_query returns: the pool keeps a copy. */
    memset(&r, 0, sizeof(r));
    snprintf(buf, sizeof(buf), "123");
    db_query(db, "SELECT $1::text", 1, pb, query_cb, &r);
    snprintf(buf, sizeof(buf), "999");
    PGT_SPIN(r.called > 0, 10);
    is_str(r.val, "123", "parameters are copied at db_query");
}

#define NCONC 60

static int
count_called(const struct qres *rs, int n)
{
    int done = 0;

    for (int i = 0; i < n; i++)
        done += rs[i].called > 0;
    return done;
}

static void
test_concurrency(struct db *db)
{
    static struct qres rs[NCONC];
    char vals[NCONC][16];
    const char *params[NCONC][1];
    int done = 0, right = 0, once = 0, sync = 0;
    int two_backends = 0;

    memset(rs, 0, sizeof(rs));
    in_api = 1;
    for (int i = 0; i < NCONC; i++) {
        snprintf(vals[i], sizeof(vals[i]), "%d", i);
        params[i][0] = vals[i];
        db_query(db, "SELECT $1::int, pg_backend_pid(), pg_sleep(0.002)", 1, params[i], query_cb,
                 &rs[i]);
    }
    in_api = 0;
    PGT_SPIN((done = count_called(rs, NCONC)) == NCONC, 20);
    for (int i = 0; i < NCONC; i++) {
        right += rs[i].outcome == DB_OK && strcmp(rs[i].val, vals[i]) == 0;
        once += rs[i].called == 1;
        sync += rs[i].sync;
    }
    is_int(done, NCONC, "%d queries on a pool of 2 all answered", NCONC);
    is_int(once, NCONC, "each exactly once");
    is_int(right, NCONC, "each with its own result");
    is_int(sync, 0, "none synchronously");

    /* Both connections did work: ask for backend pids until two differ. */
    for (int i = 0; i < 20 && !two_backends; i++) {
        struct qres a, b;

        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        db_query(db, "SELECT pg_backend_pid() FROM pg_sleep(0.02)", 0, NULL, query_cb, &a);
        db_query(db, "SELECT pg_backend_pid() FROM pg_sleep(0.02)", 0, NULL, query_cb, &b);
        PGT_SPIN(a.called && b.called, 5);
        two_backends = strcmp(a.val, b.val) != 0;
    }
    ok(two_backends, "two queries at once run on two connections");
}

static void
test_errors(struct db *db)
{
    struct qres r;

    is_int(q(db, NULL, "SELEC 1", 0, NULL, &r), DB_ERROR, "bad SQL is DB_ERROR");
    ok(strncmp(r.err, "42601 ", 6) == 0 && strstr(r.err, "syntax") != NULL,
       "err has SQLSTATE and message: %s", r.err);
    is_str(r.val, "", "res is NULL on error");
    ok(!r.sync, "error not reported synchronously");

    is_int(q(db, NULL, "CREATE TABLE u (k int PRIMARY KEY)", 0, NULL, &r), DB_OK, "create u");
    is_int(q(db, NULL, "INSERT INTO u VALUES (1)", 0, NULL, &r), DB_OK, "insert once");
    is_int(q(db, NULL, "INSERT INTO u VALUES (1)", 0, NULL, &r), DB_ERROR, "insert twice");
    ok(strncmp(r.err, "23505 ", 6) == 0, "unique violation recognisable: %s", r.err);

    is_int(q(db, NULL, "SELECT 'ok'", 0, NULL, &r), DB_OK, "pool fine after errors");
    is_str(r.val, "ok", "value after errors");
}

static void
test_transactions(struct db *db)
{
    struct acq a;
    struct db_conn *c;
    struct qres r, r1, r2;

    is_int(q(db, NULL, "CREATE TABLE t (n int)", 0, NULL, &r), DB_OK, "create t");

    c = acquire(db, &a);
    ok(c != NULL, "acquire gives a connection");
    ok(!a.sync, "acquire callback not synchronous");
    is_int(q(db, c, "BEGIN", 0, NULL, &r), DB_OK, "BEGIN");
    ok(!r.sync, "conn query callback not synchronous");
    is_int(q(db, c, "INSERT INTO t VALUES (1)", 0, NULL, &r), DB_OK, "insert in transaction");
    is_int(q(db, NULL, "SELECT count(*) FROM t", 0, NULL, &r), DB_OK,
           "the other connection answers meanwhile");
    is_str(r.val, "0", "and does not see the uncommitted row");
    is_int(q(db, c, "COMMIT", 0, NULL, &r), DB_OK, "COMMIT");
    db_release(c);
    is_int(q(db, NULL, "SELECT count(*) FROM t", 0, NULL, &r), DB_OK, "count after commit");
    is_str(r.val, "1", "committed row visible");

    c = acquire(db, &a);
    is_int(q(db, c, "BEGIN", 0, NULL, &r), DB_OK, "BEGIN again");
    is_int(q(db, c, "INSERT INTO t VALUES (2)", 0, NULL, &r), DB_OK, "insert, not committed");
    db_release(c);
    is_int(q(db, NULL, "SELECT count(*) FROM t", 0, NULL, &r), DB_OK, "count after release");
    is_str(r.val, "1", "release inside a transaction rolled it back");

    /* Released with statements still queued: they run, then the rollback. */
    c = acquire(db, &a);
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    db_conn_query(c, "BEGIN", 0, NULL, query_cb, &r1);
    db_conn_query(c, "INSERT INTO t VALUES (3) RETURNING n", 0, NULL, query_cb, &r2);
    db_release(c);
    PGT_SPIN(r1.called && r2.called, 10);
    ok(r1.outcome == DB_OK && r2.outcome == DB_OK && r1.called == 1 && r2.called == 1,
       "statements queued before release still answered");
    is_str(r2.val, "3", "insert ran");
    is_int(q(db, NULL, "SELECT count(*) FROM t", 0, NULL, &r), DB_OK, "count");
    is_str(r.val, "1", "and was rolled back");

    /* A failed transaction (INERROR) is rolled back too, and the connection is reused. */
    c = acquire(db, &a);
    is_int(q(db, c, "BEGIN", 0, NULL, &r), DB_OK, "BEGIN");
    is_int(q(db, c, "SELECT 1/0", 0, NULL, &r), DB_ERROR, "error inside transaction");
    is_int(q(db, c, "SELECT 1", 0, NULL, &r), DB_ERROR, "transaction is aborted");
    ok(strncmp(r.err, "25P02 ", 6) == 0, "in failed transaction: %s", r.err);
    db_release(c);
    for (int i = 0; i < 4; i++)
        is_int(q(db, NULL, "SELECT 1", 0, NULL, &r), DB_OK, "connections usable after release %d",
               i);
    is_int(q(db, NULL,
             "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
             " AND pid <> pg_backend_pid() AND state <> 'idle'",
             0, NULL, &r),
           DB_OK, "look at the other session");
    is_str(r.val, "0", "no session left inside a transaction");

    /* Two borrowers on a pool of two: a third request waits for a release. */
    {
        struct acq a2, a3;
        struct db_conn *c1 = acquire(db, &a), *c2 = acquire(db, &a2);
        struct qres rq;

        ok(c1 != NULL && c2 != NULL && c1 != c2, "two different connections lent");
        memset(&a3, 0, sizeof(a3));
        memset(&rq, 0, sizeof(rq));
        db_acquire(db, acquire_cb, &a3);
        db_query(db, "SELECT 'queued'", 0, NULL, query_cb, &rq);
        PGT_SPIN(0, 0.2);
        ok(a3.called == 0 && rq.called == 0, "third borrower and a query wait");
        db_release(c1);
        PGT_SPIN(a3.called, 5);
        ok(a3.conn != NULL, "third borrower gets the released connection");
        ok(rq.called == 0, "the query behind it still waits (FIFO)");
        db_release(c2);
        PGT_SPIN(rq.called, 5);
        is_str(rq.val, "queued", "then the query runs");
        db_release(a3.conn);
    }
}

static void
count_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    int *counts = arg;

    (void)err;
    counts[outcome]++;
    counts[3] += in_api;
    PQclear(res);
}

static void
test_queue_cap(struct db *db)
{
    static int counts[4];
    struct qres s1, s2, last;

    memset(counts, 0, sizeof(counts));
    memset(&s1, 0, sizeof(s1));
    memset(&s2, 0, sizeof(s2));
    memset(&last, 0, sizeof(last));
    db_query(db, "SELECT pg_sleep(0.3)", 0, NULL, query_cb, &s1);
    db_query(db, "SELECT pg_sleep(0.3)", 0, NULL, query_cb, &s2);
    for (int i = 0; i < 10000; i++)
        db_query(db, "SELECT 1", 0, NULL, count_cb, counts);
    in_api = 1;
    db_query(db, "SELECT 1", 0, NULL, query_cb, &last);
    in_api = 0;
    PGT_SPIN(last.called, 5);
    is_int(last.outcome, DB_UNAVAILABLE, "the 10001st waiting query is refused");
    ok(strstr(last.err, "full") != NULL, "because the queue is full: %s", last.err);
    ok(!last.sync, "and not synchronously");
    PGT_SPIN(counts[DB_OK] == 10000, 60);
    is_int(counts[DB_OK], 10000, "the 10000 queued ones all ran");
    is_int(counts[DB_UNAVAILABLE] + counts[DB_ERROR], 0, "none failed");
}

static void
test_schema_mismatch(void)
{
    struct fatal f;
    struct qres r;
    struct db *db;

    memset(&f, 0, sizeof(f));
    db = db_new(pgt_base, pgt_conninfo, 3, migrate_latest() + 1, fatal_cb, &f);
    PGT_SPIN(f.count > 0, 10);
    is_int(f.count, 1, "older schema: fatal_cb called");
    ok(strstr(f.why, "older") != NULL && strstr(f.why, "run passerelle migrate") != NULL,
       "older schema message: %s", f.why);
    PGT_SPIN(0, 0.3);
    is_int(f.count, 1, "fatal_cb called once for the whole pool");
    ok(!db_is_up(db), "mismatched connections are not used");
    is_int(q(db, NULL, "SELECT 1", 0, NULL, &r), DB_UNAVAILABLE, "queries are refused");
    ok(!r.sync, "not synchronously");
    db_free(db);

    memset(&f, 0, sizeof(f));
    db = db_new(pgt_base, pgt_conninfo, 1, migrate_latest() - 1, fatal_cb, &f);
    PGT_SPIN(f.count > 0, 10);
    is_int(f.count, 1, "newer schema: fatal_cb called");
    ok(strstr(f.why, "newer than this binary") != NULL, "newer schema message: %s", f.why);
    db_free(db);

    /* No schema_migrations table at all is version 0. */
    memset(&f, 0, sizeof(f));
    db = db_new(pgt_base, empty_conninfo, 1, 0, fatal_cb, &f);
    is_int(q(db, NULL, "SELECT 'empty'", 0, NULL, &r), DB_OK, "empty database is version 0");
    is_int(f.count, 0, "no fatal_cb");
    db_free(db);
    memset(&f, 0, sizeof(f));
    db = db_new(pgt_base, empty_conninfo, 1, 1, fatal_cb, &f);
    PGT_SPIN(f.count > 0, 10);
    ok(f.count == 1 && strstr(f.why, "schema 0 is older than 1") != NULL,
       "empty database against version 1: %s", f.why);
    db_free(db);

    /* A conninfo that does not parse: no crash, fatal, and a pool that is down. */
    memset(&f, 0, sizeof(f));
    db = db_new(pgt_base, "host='unterminated password=s3cret", 2, 1, fatal_cb, &f);
    ok(db != NULL, "db_new never returns NULL");
    is_int(q(db, NULL, "SELECT 1", 0, NULL, &r), DB_UNAVAILABLE, "bad conninfo: unavailable");
    PGT_SPIN(f.count > 0, 2);
    ok(f.count == 1 && strstr(f.why, "s3cret") == NULL, "bad conninfo: fatal without secret: %s",
       f.why);
    db_free(db);
}

static void
free_in_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct db **dbp = arg;

    (void)outcome;
    (void)err;
    PQclear(res);
    db_free(*dbp);
    *dbp = NULL;
}

static void
test_free(void)
{
    struct qres running, queued[3];
    struct acq a;
    struct db *db;
    struct fatal f;
    int all = 1;

    memset(&f, 0, sizeof(f));
    db = db_new(pgt_base, pgt_conninfo, 1, migrate_latest(), fatal_cb, &f);
    PGT_SPIN(db_is_up(db), 10);
    memset(&running, 0, sizeof(running));
    memset(queued, 0, sizeof(queued));
    memset(&a, 0, sizeof(a));
    db_query(db, "SELECT pg_sleep(5)", 0, NULL, query_cb, &running);
    for (int i = 0; i < 3; i++)
        db_query(db, "SELECT 1", 0, NULL, query_cb, &queued[i]);
    db_acquire(db, acquire_cb, &a);
    PGT_SPIN(0, 0.05);
    db_free(db);
    is_int(running.called, 1, "db_free answers the running query");
    is_int(running.outcome, DB_UNAVAILABLE, "with DB_UNAVAILABLE");
    for (int i = 0; i < 3; i++)
        all &= queued[i].called == 1 && queued[i].outcome == DB_UNAVAILABLE;
    ok(all, "and the queued ones");
    ok(a.called == 1 && a.conn == NULL, "and a waiting acquire gets NULL");
    db_free(NULL);

    /* db_free from inside a callback: the pool goes when the callback returns. */
    db = db_new(pgt_base, pgt_conninfo, 1, migrate_latest(), fatal_cb, &f);
    {
        struct db *self = db;

        memset(&queued[0], 0, sizeof(queued[0]));
        db_query(db, "SELECT 1", 0, NULL, free_in_cb, &self);
        db_query(db, "SELECT 2", 0, NULL, query_cb, &queued[0]);
        PGT_SPIN(self == NULL, 10);
        ok(self == NULL, "db_free inside a callback");
        ok(queued[0].called == 1 && queued[0].outcome == DB_UNAVAILABLE,
           "the next query is answered DB_UNAVAILABLE");
    }
    is_int(f.count, 0, "no fatal_cb on a matching schema");
}

/* A COPY's source and its answer: 'rows' lines "i\tb" in chunks; fail_at aborts there. */
struct copyjob {
    long rows, next, chunk, fail_at;
    int calls;
    char buf[65536];
    struct qres r;
};

static int
copy_fill(void *arg, const char **data, size_t *len)
{
    struct copyjob *c = arg;
    size_t n = 0;

    c->calls++;
    if (c->fail_at >= 0 && c->next >= c->fail_at)
        return -1;
    if (c->next >= c->rows)
        return 0;
    for (long i = 0; i < c->chunk && c->next < c->rows && n + 64 < sizeof(c->buf); i++) {
        n += (size_t)snprintf(c->buf + n, sizeof(c->buf) - n, "%ld\t%ld\n", c->next + 1,
                              2 * (c->next + 1));
        c->next++;
    }
    *data = c->buf;
    *len = n;
    return 1;
}

static void
copy_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct copyjob *c = arg;

    if (outcome == DB_OK)
        snprintf(c->r.err, sizeof(c->r.err), "%s", PQcmdTuples(res));
    query_cb(outcome, res, err, &c->r);
}

static void
copy_run(struct db_conn *conn, struct copyjob *c, long rows, long fail_at)
{
    memset(c, 0, sizeof(*c));
    c->rows = rows;
    c->chunk = 1000;
    c->fail_at = fail_at;
    c->r.outcome = -1;
    in_api = 1;
    db_conn_copy_in(conn, "COPY copy_t (a, b) FROM STDIN", 0, NULL, copy_fill, copy_cb, c);
    in_api = 0;
    PGT_SPIN(c->r.called > 0, 30);
}

static void
test_copy(struct db *db)
{
    struct acq a;
    struct qres r;
    struct db_conn *conn = acquire(db, &a);
    struct copyjob *c = calloc(1, sizeof(*c));

    ok(conn != NULL, "copy: a connection");
    q(db, conn, "CREATE TEMP TABLE copy_t (a bigint PRIMARY KEY, b bigint)", 0, NULL, &r);
    copy_run(conn, c, 200000, -1);
    is_int(c->r.outcome, DB_OK, "COPY of 200000 rows in chunks succeeds");
    is_int(c->r.sync, 0, "answered from the loop");
    is_str(c->r.val, "", "no error");
    q(db, conn, "SELECT count(*) || ':' || sum(b) FROM copy_t", 0, NULL, &r);
    is_str(r.val, "200000:40000200000", "every row arrived intact");
    ok(c->calls > 100, "fill was pulled chunk by chunk");

    copy_run(conn, c, 5000, 2500);
    is_int(c->r.outcome, DB_ERROR, "a fill that fails aborts the COPY with DB_ERROR");
    is_int(q(db, conn, "SELECT count(*) FROM copy_t", 0, NULL, &r), DB_OK,
           "the connection still answers after an aborted COPY");
    is_str(r.val, "200000", "and the aborted rows are not there");

    copy_run(conn, c, 10, -1);
    is_int(c->r.outcome, DB_ERROR, "duplicate keys fail the COPY");
    ok(strncmp(c->r.err, "23505", 5) == 0, "with the unique violation's SQLSTATE");
    db_release(conn);
    free(c);
}

static void
test_outage(struct db *db)
{
    struct qres running, r;
    struct acq a;
    struct db_conn *c;
    struct db_stats st0, st1;
    double t0;

    PGT_SPIN(db_connections_up(db) == 2, 5);
    db_stats(db, &st0);
    c = acquire(db, &a);
    ok(c != NULL, "a borrowed connection before the outage");
    memset(&running, 0, sizeof(running));
    db_query(db, "SELECT pg_sleep(20)", 0, NULL, query_cb, &running);
    PGT_SPIN(0, 0.1);

    cluster_stopped = 1;
    ok(pg_script("stop") == 0, "PostgreSQL stopped");
    t0 = pgt_now();
    PGT_SPIN(running.called, 5);
    is_int(running.outcome, DB_UNAVAILABLE, "the running query gets DB_UNAVAILABLE: %s",
           running.err);
    PGT_SPIN(!db_is_up(db), 5);
    ok(!db_is_up(db), "db_is_up drops to 0 (%.2f s)", pgt_now() - t0);
    is_int(db_connections_up(db), 0, "no connection up");

    t0 = pgt_now();
    is_int(q(db, NULL, "SELECT 1", 0, NULL, &r), DB_UNAVAILABLE, "a query during the outage");
    ok(pgt_now() - t0 < 0.5, "answered promptly (%.3f s)", pgt_now() - t0);
    ok(!r.sync, "and not synchronously");
    is_int(q(db, c, "SELECT 1", 0, NULL, &r), DB_UNAVAILABLE, "the borrowed connection too");
    db_release(c);
    ok(acquire(db, &a) == NULL && a.called == 1 && !a.sync, "acquire gets NULL during the outage");

    /* Let a few reconnects fail, then bring the server back. */
    PGT_SPIN(0, 1.0);
    ok(pg_script("start") == 0, "PostgreSQL started again");
    cluster_stopped = 0;
    t0 = pgt_now();
    PGT_SPIN(db_is_up(db), 15);
    ok(db_is_up(db), "the pool reconnects by itself (%.2f s)", pgt_now() - t0);
    is_int(q(db, NULL, "SELECT 'back'", 0, NULL, &r), DB_OK, "queries succeed again: %s", r.err);
    is_str(r.val, "back", "with results");
    PGT_SPIN(db_connections_up(db) == 2, 10);
    is_int(db_connections_up(db), 2, "both connections back, the borrowed one included");
    db_stats(db, &st1);
    ok(st1.disconnects >= st0.disconnects + 2, "stats count the losses (%llu)", st1.disconnects);
    ok(st1.connects >= st0.connects + 2, "and the reconnects (%llu)", st1.connects);
    ok(st1.unavailable > st0.unavailable && st1.queries > st0.queries && st1.errors > 0,
       "and the outcomes");
}

int
main(void)
{
    const char *pg = getenv("PASSERELLE_TEST_PG");
    struct fatal f;
    struct db *db;

    pgdir = getenv("PASSERELLE_TEST_PGDIR");
    if (pg == NULL || *pg == '\0' || pgdir == NULL || *pgdir == '\0') {
        printf("Bail out! PASSERELLE_TEST_PG(DIR) not set (run through tests/run.sh)\n");
        return 1;
    }
    atexit(restore_cluster);
    signal(SIGTERM, restore_on_signal);
    signal(SIGINT, restore_on_signal);
    signal(SIGPIPE, SIG_IGN);

    pgt_setup("db");
    snprintf(empty_conninfo, sizeof(empty_conninfo), "%s dbname=%s_empty", pgt_admin, pgt_dbname);
    pgt_admin_exec("CREATE DATABASE %s_empty", pgt_dbname);
    memset(&f, 0, sizeof(f));
    db = db_new(pgt_base, pgt_conninfo, 2, migrate_latest(), fatal_cb, &f);
    test_basic(db);
    test_params(db);
    test_concurrency(db);
    test_errors(db);
    test_transactions(db);
    test_copy(db);
    test_queue_cap(db);
    test_schema_mismatch();
    test_free();
    test_outage(db);
    is_int(f.count, 0, "the main pool never called fatal_cb");
    db_free(db);
    pgt_admin_exec("DROP DATABASE %s_empty WITH (FORCE)", pgt_dbname);
    pgt_teardown();
    libevent_global_shutdown();
    return done_testing();
}
