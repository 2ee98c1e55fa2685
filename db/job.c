/* The pool's unit of work: a job holding copies of the caller's values, and its error text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db_internal.h"
#include "xmalloc.h"

struct db_job *
db_job_new(enum db_job_kind kind, const char *sql, int nparams, const char *const *params)
{
    struct db_job *j = xcalloc(1, sizeof(*j));

    j->kind = kind;
    j->sql = sql ? xstrdup(sql) : NULL;
    if (nparams > 0 && params != NULL) {
        j->nparams = nparams;
        j->params = xcalloc((size_t)nparams, sizeof(*j->params));
        for (int i = 0; i < nparams; i++)
            j->params[i] = params[i] ? xstrdup(params[i]) : NULL; /* NULL stays SQL NULL */
    }
    return j;
}

void
db_job_free(struct db_job *j)
{
    for (int i = 0; i < j->nparams; i++)
        free(j->params[i]);
    free(j->params);
    free(j->sql);
    if (j->res != NULL)
        PQclear(j->res);
    free(j);
}

/* Copies msg on one line: libpq's texts end in newlines and some span several. */
void
db_job_message(char *buf, size_t size, const char *msg)
{
    size_t n;

    snprintf(buf, size, "%s", msg ? msg : "");
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || buf[i] == '\t')
            buf[i] = ' ';
    }
}
