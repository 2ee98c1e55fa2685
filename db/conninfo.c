/* The operator's libpq connection string, kept, with our own parameters added around it. */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db_internal.h"
#include "xmalloc.h"

/* A borrowed connection left idle inside a transaction must not hold locks for ever. */
#define DB_IDLE_TX_TIMEOUT_MS 60000
#define DB_CONNECT_TIMEOUT_S  10

static void db_conninfo_add(struct db_conninfo *ci, size_t *n, const char *key, const char *value);

/*
 * Keeps the operator's parameters and adds ours: JIT off before any options they gave,
 * statement and idle-in-transaction timeouts after them, and a connect timeout and TCP
 * keepalives unless they chose their own.
 */
int
db_conninfo_parse(struct db_conninfo *ci, const char *conninfo)
{
    PQconninfoOption *opts, *o;
    char *errmsg = NULL;
    const char *user_options = NULL, *user_timeout = NULL;
    int have_keepalives = 0;
    size_t n = 0, cap = 0;
    char *options;

    opts = PQconninfoParse(conninfo, &errmsg);
    if (opts == NULL) {
        PQfreemem(errmsg);
        return -1;
    }
    for (o = opts; o->keyword != NULL; o++)
        cap++;
    ci->keywords = xcalloc(cap + 8, sizeof(*ci->keywords));
    ci->values = xcalloc(cap + 8, sizeof(*ci->values));
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || *o->val == '\0')
            continue;
        if (strcmp(o->keyword, "options") == 0)
            user_options = o->val;
        else if (strcmp(o->keyword, "connect_timeout") == 0)
            user_timeout = o->val;
        else {
            if (strncmp(o->keyword, "keepalives_", 11) == 0)
                have_keepalives = 1;
            db_conninfo_add(ci, &n, o->keyword, o->val);
        }
    }
    /*
     * No JIT: every statement here is short, and one whose estimate crosses jit_above_cost
     * (the targeted relay's join once x_edges is large) would otherwise be compiled by
     * LLVM on each run, a millisecond or more of CPU for microseconds of work. First, so
     * that an operator's own options can turn it back on.
     */
    options = xasprintf("-c jit=off %s%s-c statement_timeout=%d -c "
                        "idle_in_transaction_session_timeout=%d",
                        user_options ? user_options : "", user_options ? " " : "",
                        DB_STATEMENT_TIMEOUT_MS, DB_IDLE_TX_TIMEOUT_MS);
    db_conninfo_add(ci, &n, "options", options);
    free(options);
    ci->connect_timeout_s = DB_CONNECT_TIMEOUT_S;
    if (user_timeout != NULL) {
        long t = strtol(user_timeout, NULL, 10);

        /* libpq itself treats 1 as 2; 0 means "no limit", which a server cannot afford. */
        if (t > 0)
            ci->connect_timeout_s = t < 2 ? 2 : (int)(t > 3600 ? 3600 : t);
    }
    if (!have_keepalives) {
        /* Ignored on Unix sockets; on TCP they notice a peer that vanished without a word. */
        db_conninfo_add(ci, &n, "keepalives_idle", "30");
        db_conninfo_add(ci, &n, "keepalives_interval", "10");
        db_conninfo_add(ci, &n, "keepalives_count", "3");
    }
    PQconninfoFree(opts);
    return 0;
}

static void
db_conninfo_add(struct db_conninfo *ci, size_t *n, const char *key, const char *value)
{
    ci->keywords[*n] = xstrdup(key);
    ci->values[*n] = xstrdup(value);
    (*n)++;
}

void
db_conninfo_free(struct db_conninfo *ci)
{
    for (size_t i = 0; ci->keywords != NULL && ci->keywords[i] != NULL; i++) {
        free(ci->keywords[i]);
        free(ci->values[i]);
    }
    free(ci->keywords);
    free(ci->values);
}
