/* The matching benchmark: the matcher's statement timed per member on a generated graph. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "match.h"

/*
 * The floor under any matching: reading the member's edges both ways, index only. A
 * matcher reads at least these rows; it also looks each other end up in members.
 */
static const char read_sql[] =
    "SELECT (SELECT count(*) FROM x_edges e WHERE e.follower_x_id = a.x_id)"
    " + (SELECT count(*) FROM x_edges e WHERE e.followee_x_id = a.x_id)"
    " FROM members a WHERE a.id = $1::bigint";

/* The backend's time on a CPU so far, in ms (/proc/PID/schedstat), or -1 when unreadable. */
static double
backend_cpu_ms(int pid)
{
    char path[64];
    unsigned long long ns = 0;
    FILE *f;
    int ok;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    ok = fscanf(f, "%llu", &ns) == 1;
    fclose(f);
    return ok ? (double)ns / 1e6 : -1;
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
die(PGconn *c, const char *what)
{
    fprintf(stderr, "bench_match: %s: %s", what, PQerrorMessage(c));
    exit(1);
}

static void
run(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die(c, sql);
    PQclear(r);
}

/*
 * Times the prepared statement name ("match" or "read") for one member inside a
 * transaction that is rolled back (the matcher writes its plan; the generated world must
 * stay as it was). Returns ms.
 */
static int backend_pid; /* the server process running our statements, when on this host */

/* Sets *cpu (when not NULL) to the backend's CPU ms during the statement, -1 if unknown. */
static double
timed(PGconn *c, const char *name, const char *id, long *rows, long *value, double *cpu)
{
    /* The member, the hold (24 h), relay_block (none), the retry delay: see include/match.h. */
    const char *params[4] = { id, "86400", "{}", "1000" };
    int matching = strcmp(name, "match") == 0;
    PGresult *r;
    double t0, t, c0;

    run(c, "BEGIN");
    c0 = backend_cpu_ms(backend_pid);
    t0 = now_ms();
    r = PQexecPrepared(c, name, matching ? 4 : 1, params, NULL, NULL, 0);
    t = now_ms() - t0;
    if (cpu != NULL)
        *cpu = c0 < 0 ? -1 : backend_cpu_ms(backend_pid) - c0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        die(c, "statement");
    if (matching && PQntuples(r) == 1)
        /* match_sql's one row counts the rows it inserted, planned again and undid. */
        *rows += atol(PQgetvalue(r, 0, 0)) + atol(PQgetvalue(r, 0, 1)) + atol(PQgetvalue(r, 0, 2));
    else
        *rows += PQntuples(r) > 0 ? PQntuples(r) : atol(PQcmdTuples(r));
    if (value != NULL && PQntuples(r) == 1)
        *value += atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    run(c, "ROLLBACK");
    return t;
}

static void
prepare(PGconn *c, const char *name, const char *sql, int nparams)
{
    PGresult *r = PQprepare(c, name, sql, nparams, NULL);

    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(c, name);
    PQclear(r);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of n sorted values. */
static double
quantile(const double *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);

    return v[k == 0 ? 0 : k > n ? n - 1 : k - 1];
}

/*
 * bench_match CONNINFO N: N linked members drawn at random (fixed seed), each matched once
 * to warm the cache, then each timed; prints one line of key=value. Besides the wall time,
 * cpu_p50/p99 are the backend's own CPU time per match (from /proc when PostgreSQL runs on
 * this host, else -1): on a shared machine the wall time also holds the waits for a core.
 */
int
main(int argc, char **argv)
{
    PGconn *c;
    PGresult *ids;
    long n, i, rows = 0, edges = 0, dummy = 0;
    double *tm, *tr, *tc, t0;

    if (argc != 3 || (n = strtol(argv[2], NULL, 10)) < 1) {
        fprintf(stderr, "usage: bench_match CONNINFO N\n");
        return 2;
    }
    c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK)
        die(c, "connect");
    /* As the server runs it: no JIT (db.c), prepared once, planned per member (match.c). */
    run(c, "SET jit = off");
    run(c, "SET plan_cache_mode = force_custom_plan");
    prepare(c, "match", match_sql, 4);
    prepare(c, "read", read_sql, 1);
    backend_pid = PQbackendPID(c);
    run(c, "SELECT setseed(0.42)");
    ids = PQexecParams(c,
                       "SELECT id::text FROM members WHERE state = 'linked'"
                       " ORDER BY random() LIMIT $1::int",
                       1, NULL, (const char *const[]){ argv[2] }, NULL, NULL, 0);
    if (PQresultStatus(ids) != PGRES_TUPLES_OK || PQntuples(ids) == 0)
        die(c, "members");
    n = PQntuples(ids);
    tm = calloc((size_t)n, sizeof(*tm));
    tr = calloc((size_t)n, sizeof(*tr));
    tc = calloc((size_t)n, sizeof(*tc));
    if (tm == NULL || tr == NULL || tc == NULL)
        return 1;
    t0 = now_ms();
    for (i = 0; i < n; i++) {
        timed(c, "match", PQgetvalue(ids, (int)i, 0), &dummy, NULL, NULL);
        timed(c, "read", PQgetvalue(ids, (int)i, 0), &dummy, NULL, NULL);
    }
    fprintf(stderr, "bench_match: warm-up pass %.1f s\n", (now_ms() - t0) / 1e3);
    for (i = 0; i < n; i++) {
        tm[i] = timed(c, "match", PQgetvalue(ids, (int)i, 0), &rows, NULL, &tc[i]);
        tr[i] = timed(c, "read", PQgetvalue(ids, (int)i, 0), &dummy, &edges, NULL);
    }
    qsort(tm, (size_t)n, sizeof(*tm), cmp_double);
    qsort(tr, (size_t)n, sizeof(*tr), cmp_double);
    qsort(tc, (size_t)n, sizeof(*tc), cmp_double);
    printf("members=%ld match_p50_ms=%.3f match_p99_ms=%.3f read_p50_ms=%.3f read_p99_ms=%.3f "
           "cpu_p50_ms=%.3f cpu_p99_ms=%.3f rows_avg=%.1f edges_avg=%.1f max_ms=%.3f "
           "statement=\"%s\"\n",
           n, quantile(tm, (size_t)n, 0.5), quantile(tm, (size_t)n, 0.99),
           quantile(tr, (size_t)n, 0.5), quantile(tr, (size_t)n, 0.99),
           quantile(tc, (size_t)n, 0.5), quantile(tc, (size_t)n, 0.99), (double)rows / (double)n,
           (double)edges / (double)n, tm[n - 1], "match_sql");
    PQclear(ids);
    PQfinish(c);
    free(tm);
    free(tr);
    free(tc);
    return 0;
}
