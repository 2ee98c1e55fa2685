/* Schema migrations with blocking libpq: for `passerelle migrate` and tests, never the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "migrate.h"
#include "xmalloc.h"

static PGconn *migrate_connect(const char *conninfo, char *err, size_t errlen);
static void migrate_notice_cb(void *arg, const char *message);
static int migrate_exec(PGconn *pg, const char *sql, const char *what, char *err, size_t errlen);
static int migrate_read_version(PGconn *pg, int *version, char *err, size_t errlen);
static int migrate_apply(PGconn *pg, const struct migration *m, char *err, size_t errlen);
static int migrate_list_latest(const struct migration *list, size_t count);
static void migrate_pg_error(char *err, size_t errlen, const char *what, PGconn *pg,
                             const PGresult *res);

int
migrate_latest(void)
{
    return migrate_list_latest(migrate_list, migrate_count);
}

int
migrate_run(const char *conninfo, int *applied, char *err, size_t errlen)
{
    return migrate_run_list(conninfo, migrate_list, migrate_count, applied, err, errlen);
}

int
migrate_run_list(const char *conninfo, const struct migration *list, size_t count, int *applied,
                 char *err, size_t errlen)
{
    char lockkey[32];
    const char *params[1] = { lockkey };
    PGconn *pg;
    PGresult *res;
    int current, latest, rc = -1;
    int *done = NULL;
    int ndone = 0;

    *applied = 0;
    for (size_t i = 1; i < count; i++) {
        if (list[i].version <= list[i - 1].version) {
            snprintf(err, errlen, "migrations out of order at version %d", list[i].version);
            return -1;
        }
    }
    if ((pg = migrate_connect(conninfo, err, errlen)) == NULL)
        return -1;

    /* Held until PQfinish: a second migrator waits here, then finds nothing to do. */
    snprintf(lockkey, sizeof(lockkey), "%lld", (long long)MIGRATE_LOCK_KEY);
    res = PQexecParams(pg, "SELECT pg_advisory_lock($1::bigint)", 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        migrate_pg_error(err, errlen, "advisory lock", pg, res);
        PQclear(res);
        goto out;
    }
    PQclear(res);

    if (migrate_exec(pg,
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version integer PRIMARY KEY,"
                     " name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())",
                     "create schema_migrations", err, errlen) < 0)
        goto out;
    if (migrate_read_version(pg, &current, err, errlen) < 0)
        goto out;
    latest = migrate_list_latest(list, count);
    if (current > latest) {
        snprintf(err, errlen, "database schema %d is newer than this binary (%d)", current, latest);
        goto out;
    }

    res = PQexec(pg, "SELECT version FROM schema_migrations");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        migrate_pg_error(err, errlen, "read schema_migrations", pg, res);
        PQclear(res);
        goto out;
    }
    ndone = PQntuples(res);
    done = xcalloc((size_t)ndone + 1, sizeof(*done));
    for (int i = 0; i < ndone; i++)
        done[i] = (int)strtol(PQgetvalue(res, i, 0), NULL, 10);
    PQclear(res);

    for (size_t i = 0; i < count; i++) {
        int seen = 0;

        for (int k = 0; k < ndone && !seen; k++)
            seen = done[k] == list[i].version;
        if (seen)
            continue;
        if (migrate_apply(pg, &list[i], err, errlen) < 0)
            goto out;
        (*applied)++;
    }
    rc = 0;

out:
    free(done);
    PQfinish(pg);
    return rc;
}

int
migrate_current(const char *conninfo, int *version, char *err, size_t errlen)
{
    PGconn *pg;
    PGresult *res;
    int rc = -1, exists;

    *version = 0;
    if ((pg = migrate_connect(conninfo, err, errlen)) == NULL)
        return -1;
    res = PQexec(pg, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        migrate_pg_error(err, errlen, "look for schema_migrations", pg, res);
        PQclear(res);
        goto out;
    }
    exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!exists || migrate_read_version(pg, version, err, errlen) == 0)
        rc = 0;
out:
    PQfinish(pg);
    return rc;
}

/* One migration in its own transaction, recorded in the same transaction. */
static int
migrate_apply(PGconn *pg, const struct migration *m, char *err, size_t errlen)
{
    char version[16], what[128];
    const char *params[2] = { version, m->name };
    PGresult *res;
    ExecStatusType st;

    snprintf(what, sizeof(what), "migration %d (%s)", m->version, m->name);
    if (migrate_exec(pg, "BEGIN", what, err, errlen) < 0)
        return -1;
    /* PQexec, not PQexecParams: a migration file holds several statements. */
    res = PQexec(pg, m->sql);
    st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        migrate_pg_error(err, errlen, what, pg, res);
        PQclear(res);
        goto fail;
    }
    PQclear(res);
    snprintf(version, sizeof(version), "%d", m->version);
    res = PQexecParams(pg, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
                       NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        migrate_pg_error(err, errlen, what, pg, res);
        PQclear(res);
        goto fail;
    }
    PQclear(res);
    if (migrate_exec(pg, "COMMIT", what, err, errlen) < 0)
        goto fail;
    log_info("migrate_applied", "version=%d name=%s", m->version, log_q(m->name));
    return 0;

fail:
    /* The error text is already in err; a failing ROLLBACK adds nothing useful. */
    PQclear(PQexec(pg, "ROLLBACK"));
    return -1;
}

static PGconn *
migrate_connect(const char *conninfo, char *err, size_t errlen)
{
    PGconn *pg = PQconnectdb(conninfo);

    if (pg == NULL) {
        snprintf(err, errlen, "connect: out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        /* libpq's message names host and user, never the password. */
        migrate_pg_error(err, errlen, "connect", pg, NULL);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, migrate_notice_cb, NULL);
    return pg;
}

/* Notices ("relation already exists, skipping") are expected here: keep them out of sight. */
static void
migrate_notice_cb(void *arg, const char *message)
{
    (void)arg;
    log_debug("migrate_notice", "msg=%s", log_q(message));
}

static int
migrate_exec(PGconn *pg, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *res = PQexec(pg, sql);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        migrate_pg_error(err, errlen, what, pg, res);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

static int
migrate_read_version(PGconn *pg, int *version, char *err, size_t errlen)
{
    PGresult *res = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        migrate_pg_error(err, errlen, "read schema version", pg, res);
        PQclear(res);
        return -1;
    }
    *version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

static int
migrate_list_latest(const struct migration *list, size_t count)
{
    int latest = 0;

    for (size_t i = 0; i < count; i++) {
        if (list[i].version > latest)
            latest = list[i].version;
    }
    return latest;
}

/* "what: primary message (SQLSTATE)" on one line; libpq's own text has newlines and LINE markers.
 */
static void
migrate_pg_error(char *err, size_t errlen, const char *what, PGconn *pg, const PGresult *res)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    size_t n;

    if (msg == NULL)
        msg = PQerrorMessage(pg);
    if (msg == NULL || *msg == '\0')
        msg = "unknown error";
    if (state != NULL)
        snprintf(err, errlen, "%s: %s (%s)", what, msg, state);
    else
        snprintf(err, errlen, "%s: %s", what, msg);
    n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (err[i] == '\n')
            err[i] = ' ';
    }
}
