/* The command line's SQL (blocking libpq, one statement at a time) and its safe table printing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "admin_internal.h"
#include "log.h"
#include "outbox.h"
#include "xmalloc.h"

/* Runs one statement; NULL (result cleared, err set) unless it succeeded. */
PGresult *
admin_sql_exec(PGconn *pg, const char *sql, int nparams, const char *const *params, char *err,
               size_t errlen)
{
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    snprintf(err, errlen, "database: %s", PQresultErrorMessage(res));
    err[strcspn(err, "\n")] = '\0';
    PQclear(res);
    return NULL;
}

/* A statement whose result is not needed. */
int
admin_sql_run(PGconn *pg, const char *sql, int nparams, const char *const *params, char *err,
              size_t errlen)
{
    PGresult *res = admin_sql_exec(pg, sql, nparams, params, err, errlen);

    PQclear(res);
    return res != NULL ? 0 : -1;
}

/*
 * Queues act, signed by signer ("relay" or "bridge"), to inboxes inside the open
 * transaction; *queued gets the rows made (dead hosts, and blocked ones unless flags say
 * otherwise, get none).
 */
int
admin_sql_enqueue(PGconn *pg, const char *signer, struct json_object *act,
                  const char *const *inboxes, size_t n, int flags, long *queued, char *err,
                  size_t errlen)
{
    const char *payload = json_object_to_json_string_ext(act, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
    struct outbox_batch b;
    char why[256];
    PGresult *res;

    *queued = 0;
    if (outbox_batch_init(&b, signer, payload, strlen(payload), inboxes, n, flags, why,
                          sizeof(why)) < 0) {
        snprintf(err, errlen, "queue: %s", why);
        return -1;
    }
    if (b.targets == 0) { /* no usable inbox: no payload left behind without rows */
        outbox_batch_free(&b);
        return 0;
    }
    res = admin_sql_exec(pg, b.sql, b.nparams, b.params, err, errlen);
    outbox_batch_free(&b);
    if (res == NULL)
        return -1;
    *queued = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/*
 * Hosts, accts, URLs and handles came from the network: plain when they are one printable
 * ASCII word, quoted and escaped otherwise, so none can forge a column or a terminal escape.
 */
const char *
admin_sql_safe(const char *s, char *buf, size_t len)
{
    if (*s == '\0')
        return log_escape(buf, len, s);
    for (const char *p = s; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\')
            return log_escape(buf, len, s);
    return s;
}

/*
 * Prints res under head as aligned columns, each line after indent. The columns whose bit
 * is set in from_network go through admin_safe; SQL NULL prints as "-".
 */
void
admin_sql_table(PGresult *res, const char *const *head, int ncol, unsigned from_network,
                const char *indent)
{
    int rows = PQntuples(res);
    char **cells = xcalloc(((size_t)rows + 1) * (size_t)ncol, sizeof(*cells));
    int *width = xcalloc((size_t)ncol, sizeof(*width));

    for (int i = 0; i <= rows; i++) {
        for (int j = 0; j < ncol; j++) {
            char buf[1024];
            const char *v = i == 0                       ? head[j]
                            : PQgetisnull(res, i - 1, j) ? "-"
                            : (from_network & (1u << j)) == 0
                                ? PQgetvalue(res, i - 1, j)
                                : admin_sql_safe(PQgetvalue(res, i - 1, j), buf, sizeof(buf));
            char *cell = cells[i * ncol + j] = xstrdup(v);

            if ((int)strlen(cell) > width[j])
                width[j] = (int)strlen(cell);
        }
    }
    for (int i = 0; i <= rows; i++) {
        printf("%s", indent);
        for (int j = 0; j < ncol - 1; j++)
            printf("%-*s  ", width[j], cells[i * ncol + j]);
        printf("%s\n", cells[i * ncol + ncol - 1]);
    }
    for (int i = 0; i < (rows + 1) * ncol; i++)
        free(cells[i]);
    free(cells);
    free(width);
}
