/* The member a command's WHO names, found in the command's transaction, and telling them. */
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "admin_internal.h"
#include "bridge.h"
#include "config.h"
#include "xmalloc.h"

#define ADMIN_WHO_SQL                                                                              \
    "SELECT id, coalesce(acct, actor_uri), state, actor_uri, acct, inbox, lang FROM members"       \
    " WHERE id = $1::bigint OR actor_uri = $2 OR lower(acct) = lower($3) ORDER BY id LIMIT 10"

/* "member ID (ACCT)", ACCT being the actor URL when unknown, for what the commands print. */
static void
admin_who_label(PGresult *who, char *buf, size_t len)
{
    char safe[512];

    snprintf(buf, len, "member %s (%s)", PQgetvalue(who, 0, ADMIN_WHO_ID),
             admin_sql_safe(PQgetvalue(who, 0, ADMIN_WHO_NAME), safe, sizeof(safe)));
}

PGresult *
admin_who(struct admin_ctx *c, const struct admin_req *r, int lock, char *label, size_t labellen,
          int *rc, char *err, size_t errlen)
{
    static const char sql[] = ADMIN_WHO_SQL;
    static const char sql_lock[] = ADMIN_WHO_SQL " FOR UPDATE";
    const char *params[3] = { r->who_id, r->who_url, r->who_acct };
    const char *begin = lock ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    PGresult *res;
    char buf[512];
    size_t o;

    *rc = -1;
    if (admin_sql_run(c->pg, begin, 0, NULL, err, errlen) < 0)
        return NULL;
    res = admin_sql_exec(c->pg, lock ? sql_lock : sql, 3, params, err, errlen);
    if (res == NULL)
        return NULL;
    if (PQntuples(res) == 1) {
        admin_who_label(res, label, labellen);
        return res;
    }
    *rc = ADMIN_REFUSED;
    if (PQntuples(res) == 0) {
        snprintf(err, errlen, "no member is %s", admin_sql_safe(r->who, buf, sizeof(buf)));
    } else {
        o = (size_t)snprintf(err, errlen, "%s names several members (ids",
                             admin_sql_safe(r->who, buf, sizeof(buf)));
        for (int i = 0; i < PQntuples(res) && o < errlen; i++)
            o += (size_t)snprintf(err + o, errlen - o, "%s %s", i > 0 ? "," : "",
                                  PQgetvalue(res, i, ADMIN_WHO_ID));
        if (o < errlen)
            snprintf(err + o, errlen - o, "); give the id");
    }
    PQclear(res);
    return NULL;
}

int
admin_who_tell(struct admin_ctx *c, PGresult *who, const char *text, long *queued, char *err,
               size_t errlen)
{
    const char *inbox =
        PQgetisnull(who, 0, ADMIN_WHO_INBOX) ? NULL : PQgetvalue(who, 0, ADMIN_WHO_INBOX);
    struct json_object *msg;
    char *bridge_id;
    int rc;

    *queued = 0;
    if (inbox == NULL)
        return 0;
    bridge_id = xasprintf("%s/users/%s", c->cfg->base_url, c->cfg->bridge_username);
    msg = bridge_message_new(c->cfg->base_url, bridge_id, PQgetvalue(who, 0, ADMIN_WHO_ACTOR),
                             PQgetvalue(who, 0, ADMIN_WHO_NAME), text);
    free(bridge_id);
    rc = msg != NULL ? admin_sql_enqueue(c->pg, "bridge", msg, &inbox, 1, 0, queued, err, errlen)
                     : 0;
    json_object_put(msg);
    return rc;
}
