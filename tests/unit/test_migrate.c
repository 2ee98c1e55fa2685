/* Tests of db/migrate.c against a real PostgreSQL: fresh, re-run, newer schema, rollback, lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "migrate.h"
#include "pgtest.h"
#include "tap.h"

static const char *const tables[] = {
    "instances",  "remote_actors",  "members",           "x_claims",          "consent_ledger",
    "x_edges",    "follow_actions", "oauth_apps",        "oauth_grants",      "link_codes",
    "activities", "deliveries",     "seen_activity_ids", "schema_migrations",
};

static PGconn *
connect_or_die(const char *ci)
{
    PGconn *pg = PQconnectdb(ci);

    if (PQstatus(pg) != CONNECTION_OK) {
        printf("Bail out! cannot connect: %s", PQerrorMessage(pg));
        exit(1);
    }
    return pg;
}

/* Runs sql on the test database; returns 1 when it succeeded. */
static int
exec_ok(const char *sql)
{
    PGconn *pg = connect_or_die(pgt_conninfo);
    PGresult *res = PQexec(pg, sql);
    int good = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!good)
        printf("# (%s)\n", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    PQclear(res);
    PQfinish(pg);
    return good;
}

/* The single value sql returns, as text in buf ("" on error). */
static const char *
exec_value(const char *sql, char *buf, size_t size)
{
    PGconn *pg = connect_or_die(pgt_conninfo);
    PGresult *res = PQexec(pg, sql);

    buf[0] = '\0';
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
    else
        printf("# %s: %s", sql, PQerrorMessage(pg));
    PQclear(res);
    PQfinish(pg);
    return buf;
}

static int
table_exists(const char *name)
{
    char sql[256], buf[16];

    snprintf(sql, sizeof(sql), "SELECT to_regclass('public.%s') IS NOT NULL", name);
    return strcmp(exec_value(sql, buf, sizeof(buf)), "t") == 0;
}

static void
test_fresh(void)
{
    char err[512] = "";
    int applied = -1, version = -1;

    ok(migrate_count >= 1, "at least one migration is built in");
    is_int(migrate_latest(), migrate_list[migrate_count - 1].version, "latest is the last version");
    for (size_t i = 1; i < migrate_count; i++)
        ok(migrate_list[i].version > migrate_list[i - 1].version, "versions ascend at %zu", i);

    is_int(migrate_current(pgt_conninfo, &version, err, sizeof(err)), 0,
           "current on an empty database");
    is_int(version, 0, "an empty database is at version 0");

    is_int(migrate_run(pgt_conninfo, &applied, err, sizeof(err)), 0, "fresh database migrates: %s",
           err);
    is_int(applied, (long long)migrate_count, "every migration applied");
    is_int(migrate_current(pgt_conninfo, &version, err, sizeof(err)), 0, "current after migrating");
    is_int(version, migrate_latest(), "database is at the latest version");
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        ok(table_exists(tables[i]), "table %s exists", tables[i]);

    applied = -1;
    is_int(migrate_run(pgt_conninfo, &applied, err, sizeof(err)), 0, "re-run succeeds: %s", err);
    is_int(applied, 0, "re-run applies nothing");
}

/* A few constraints the application relies on, checked for real. */
static void
test_schema_rules(void)
{
    char buf[64];

    ok(exec_ok("INSERT INTO members (actor_uri, host, x_id, x_handle)"
               " VALUES ('https://a.example/users/a', 'a.example', 11, 'alice')"),
       "a member can be inserted");
    is_str(exec_value("SELECT findable::text || notify::text || autofollow::text || relay::text"
                      " FROM members",
                      buf, sizeof(buf)),
           "truetruefalsefalse", "consent defaults: findable and notify on, the others off");
    ok(!exec_ok("INSERT INTO members (actor_uri, host, x_id)"
                " VALUES ('https://b.example/users/b', 'b.example', 11)"),
       "an X id binds to one member only");
    ok(!exec_ok("INSERT INTO instances (domain, relay_state) VALUES ('c.example', 'bogus')"),
       "relay_state is checked");
    ok(!exec_ok("INSERT INTO x_edges VALUES (5, 5)"), "no self edge");
    ok(exec_ok("INSERT INTO link_codes (hash, member_id, expires_at)"
               " SELECT sha256('code'), id, now() + interval '1 hour' FROM members"),
       "a link code can be stored");
    ok(exec_ok("INSERT INTO activities (signer, member_id, payload)"
               " SELECT 'relay', id, '{}' FROM members"),
       "an activity can be stored");
    ok(exec_ok("INSERT INTO deliveries (activity_id, inbox, host)"
               " SELECT id, 'https://c.example/inbox', 'c.example' FROM activities"),
       "a delivery can be queued");
    ok(exec_ok("DELETE FROM members"), "a member can be removed");
    is_str(exec_value("SELECT (SELECT count(*) FROM link_codes) + (SELECT count(*) FROM activities)"
                      " + (SELECT count(*) FROM deliveries)",
                      buf, sizeof(buf)),
           "0", "removing a member removes their codes, activities and deliveries");
}

static void
test_newer(void)
{
    char err[512] = "";
    int applied = -1;

    ok(exec_ok("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')"),
       "stamp the database as newer");
    is_int(migrate_run(pgt_conninfo, &applied, err, sizeof(err)), -1,
           "a newer database is refused");
    ok(strstr(err, "newer") != NULL && strstr(err, "9999") != NULL, "the message says why: %s",
       err);
    is_int(applied, 0, "nothing applied to a newer database");
    ok(exec_ok("DELETE FROM schema_migrations WHERE version = 9999"), "unstamp");
}

static void
test_rollback(void)
{
    char err[512] = "", buf[16];
    int applied = -1, version = -1, latest = migrate_latest();
    struct migration list[64];
    size_t n = 0;

    for (size_t i = 0; i < migrate_count && n < 60; i++)
        list[n++] = migrate_list[i];
    list[n++] = (struct migration){ latest + 1, "good", "CREATE TABLE t_good (x int);\n" };
    list[n++] = (struct migration){ latest + 2, "bad",
                                    "CREATE TABLE t_bad (x int);\n"
                                    "INSERT INTO t_bad VALUES (1);\n"
                                    "SELECT no_such_column FROM t_bad;\n" };
    list[n++] = (struct migration){ latest + 3, "after", "CREATE TABLE t_after (x int);\n" };

    is_int(migrate_run_list(pgt_conninfo, list, n, &applied, err, sizeof(err)), -1,
           "a failing migration fails the run");
    is_int(applied, 1, "the migration before it was applied");
    {
        char want[64];

        snprintf(want, sizeof(want), "migration %d (bad)", latest + 2);
        ok(strstr(err, want) != NULL, "err names the migration: %s", err);
    }
    ok(strstr(err, "no_such_column") != NULL, "err carries PostgreSQL's message");
    is_int(migrate_current(pgt_conninfo, &version, err, sizeof(err)), 0, "current after failure");
    is_int(version, latest + 1, "schema stops at the last good migration");
    ok(table_exists("t_good"), "the good migration's table exists");
    ok(!table_exists("t_bad"), "the failing migration's table was rolled back");
    ok(!table_exists("t_after"), "nothing after the failure ran");
    is_str(exec_value("SELECT count(*) FROM schema_migrations WHERE version > 1000000", buf,
                      sizeof(buf)),
           "0", "no stray rows");

    /* Out-of-order lists are a programming error, caught before touching the database. */
    list[0].version = 5;
    list[1].version = 4;
    is_int(migrate_run_list(pgt_conninfo, list, 2, &applied, err, sizeof(err)), -1,
           "an out-of-order list is refused");
    ok(strstr(err, "order") != NULL, "and says so: %s", err);
}

/* While another session holds the migration lock, migrate_run waits for it. */
static void
test_lock(void)
{
    char sql[128], err[512];
    PGconn *holder = connect_or_die(pgt_conninfo);
    PGresult *res;
    pid_t pid;
    int status = -1, version = -1;
    struct timespec pause = { 0, 300 * 1000 * 1000 };

    snprintf(sql, sizeof(sql),
             "DROP TABLE t_good; DELETE FROM schema_migrations WHERE version > %d",
             migrate_latest());
    ok(exec_ok(sql), "reset to the built-in schema");
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", (long long)MIGRATE_LOCK_KEY);
    res = PQexec(holder, sql);
    ok(PQresultStatus(res) == PGRES_TUPLES_OK, "test session takes the migration lock");
    PQclear(res);

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        struct migration m[64];
        size_t n = 0;
        int applied = 0;

        for (size_t i = 0; i < migrate_count && n < 60; i++)
            m[n++] = migrate_list[i];
        m[n++] = (struct migration){ migrate_latest() + 1, "locked", "CREATE TABLE t_locked ();" };
        _exit(migrate_run_list(pgt_conninfo, m, n, &applied, err, sizeof(err)) == 0 && applied == 1
                  ? 0
                  : 1);
    }
    nanosleep(&pause, NULL);
    ok(waitpid(pid, &status, WNOHANG) == 0, "a second migrator waits for the lock");
    ok(!table_exists("t_locked"), "and has applied nothing yet");
    PQfinish(holder);
    ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "once the lock is free it migrates");
    ok(table_exists("t_locked"), "its migration is in");
    is_int(migrate_current(pgt_conninfo, &version, err, sizeof(err)), 0, "current after the wait");
    is_int(version, migrate_latest() + 1, "version recorded");
}

static void
test_connect_error(void)
{
    char err[512] = "";
    int applied = -1, version = -1;
    char bad[1300];

    snprintf(bad, sizeof(bad), "%s dbname=no_such_db_%d password=s3cret", pgt_admin, (int)getpid());
    is_int(migrate_run(bad, &applied, err, sizeof(err)), -1, "an unreachable database fails");
    ok(err[0] != '\0' && strstr(err, "s3cret") == NULL, "with a message and no password: %s", err);
    is_int(migrate_current(bad, &version, err, sizeof(err)), -1, "current fails too");
}

int
main(void)
{
    pgt_create("migrate");

    test_fresh();
    test_schema_rules();
    test_newer();
    test_rollback();
    test_lock();
    test_connect_error();

    pgt_teardown();
    return done_testing();
}
