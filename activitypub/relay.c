/* Verified activities to database changes and answers: subscriptions, joins, undo, delete. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "activity.h"
#include "app.h"
#include "config.h"
#include "db.h"
#include "httpd.h"
#include "inbox.h"
#include "log.h"
#include "queue.h"
#include "relay.h"
#include "xmalloc.h"

#define RELAY_MAX_STMTS  8
#define RELAY_MAX_PARAMS 8

struct relay_tx;
/* Looks at a statement's result: 0 goes on, 1 skips to COMMIT, -1 rolls back (500). */
typedef int (*relay_then_fn)(struct relay_tx *tx, PGresult *res);

struct relay_stmt {
    const char *sql;
    int nparams;
    char *params[RELAY_MAX_PARAMS];
    relay_then_fn then;
};

/*
 * One activity's transaction: BEGIN, the seen-id insert, the action's statements (which may
 * queue more, such as the Accept), COMMIT, then the 202. The single owner is this struct;
 * it ends with inbox_finish.
 */
struct relay_tx {
    struct inbox_activity *a;
    struct db_conn *conn;
    enum relay_action action;
    struct relay_stmt stmts[RELAY_MAX_STMTS];
    int nstmts, next;
    int committing, queued;
    const char *result; /* the metric label on success */
    /* From the activity: the object (Follow) or the inner activity's id and object (Undo). */
    const char *object;
    const char *inner_id;
    const char *inner_object;
};

static void relay_run(struct relay_tx *tx);

int
relay_is_public(const char *s)
{
    return s != NULL && (strcmp(s, ACTIVITY_PUBLIC) == 0 || strcmp(s, "as:Public") == 0 ||
                         strcmp(s, "Public") == 0);
}

static const char *
relay_ref(struct json_object *o)
{
    struct json_object *id;

    if (json_object_is_type(o, json_type_string))
        return json_object_get_string(o);
    if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "id", &id) &&
        json_object_is_type(id, json_type_string))
        return json_object_get_string(id);
    return NULL;
}

static const char *
relay_field(struct json_object *o, const char *name)
{
    struct json_object *v;

    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, name, &v))
        return NULL;
    return relay_ref(v);
}

enum relay_action
relay_classify(struct json_object *activity, const char *type, const char *actor,
               const char *relay_id, const char *bridge_id)
{
    struct json_object *obj = NULL;
    const char *object;

    json_object_object_get_ex(activity, "object", &obj);
    object = relay_ref(obj);
    if (strcmp(type, "Follow") == 0) {
        if (relay_is_public(object))
            return RELAY_SUBSCRIBE;
        if (object != NULL && strcmp(object, relay_id) == 0)
            return RELAY_SUBSCRIBE_LP;
        if (object != NULL && strcmp(object, bridge_id) == 0)
            return RELAY_JOIN;
        return RELAY_IGNORE;
    }
    if (strcmp(type, "Undo") == 0) {
        struct json_object *t;

        /* A bare id may name a Follow; an embedded object must say it is one. */
        if (json_object_is_type(obj, json_type_string))
            return RELAY_UNDO_FOLLOW;
        if (json_object_object_get_ex(obj, "type", &t) &&
            json_object_is_type(t, json_type_string) &&
            strcmp(json_object_get_string(t), "Follow") == 0)
            return RELAY_UNDO_FOLLOW;
        return RELAY_IGNORE;
    }
    if (strcmp(type, "Accept") == 0 || strcmp(type, "Reject") == 0)
        return object != NULL ? RELAY_FOLLOW_ANSWERED : RELAY_IGNORE;
    if (strcmp(type, "Delete") == 0 && object != NULL && strcmp(object, actor) == 0)
        return RELAY_ACTOR_DELETED;
    if (strcmp(type, "Create") == 0 || strcmp(type, "Announce") == 0 ||
        strcmp(type, "Update") == 0 || strcmp(type, "Delete") == 0 || strcmp(type, "Move") == 0)
        return RELAY_PUBLICATION;
    return RELAY_IGNORE;
}

/* Appends a statement; params are copied (NULL stays SQL NULL). */
static void
relay_push(struct relay_tx *tx, const char *sql, relay_then_fn then, int n, ...)
{
    struct relay_stmt *s;
    va_list ap;

    if (tx->nstmts >= RELAY_MAX_STMTS || n > RELAY_MAX_PARAMS)
        abort(); /* a programming error: the statement lists below are fixed */
    s = &tx->stmts[tx->nstmts++];
    s->sql = sql;
    s->nparams = n;
    s->then = then;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *p = va_arg(ap, const char *);

        s->params[i] = p != NULL ? xstrdup(p) : NULL;
    }
    va_end(ap);
}

/*
 * Queues json (put here) from signer to one inbox inside this transaction; the queue's own
 * statement, so payload and rows commit with the change they answer.
 */
static void
relay_push_send(struct relay_tx *tx, const char *signer, struct json_object *json,
                const char *inbox)
{
    const char *s = json_object_to_json_string_ext(json, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    struct queue_batch b;
    char err[128];

    if (queue_batch_init(&b, signer, s, strlen(s), &inbox, 1, 0, err, sizeof(err)) < 0) {
        log_warn("relay_send_skipped", "reason=%s inbox=%s", log_q(err), log_q(inbox));
    } else {
        relay_push(tx, b.sql, NULL, 5, b.params[0], b.params[1], b.params[2], b.params[3],
                   b.params[4]);
        tx->queued++;
        queue_batch_free(&b);
    }
    json_object_put(json);
}

static void
relay_tx_free(struct relay_tx *tx)
{
    for (int i = 0; i < tx->nstmts; i++)
        for (int j = 0; j < tx->stmts[i].nparams; j++)
            free(tx->stmts[i].params[j]);
    free(tx);
}

static void
relay_fail(struct relay_tx *tx, enum httpd_err kind, const char *reason)
{
    struct inbox_activity *a = tx->a;

    if (tx->conn != NULL)
        db_release(tx->conn); /* inside BEGIN: rolled back */
    relay_tx_free(tx);
    inbox_finish(a, 0, kind, kind == HTTPD_ERR_UNAVAILABLE ? "unavailable" : "error", reason);
}

/* --- the actions --------------------------------------------------------------------------- */

static const char sql_subscribe[] =
    "INSERT INTO instances AS i (domain, actor_uri, inbox, shared_inbox, relay_state, follow_id,"
    " style, subscribed_at)"
    " VALUES ($1, $2, $3, $4, CASE WHEN $7::boolean THEN 'accepted' ELSE 'pending' END, $5, $6,"
    "  now())"
    " ON CONFLICT (domain) DO UPDATE SET actor_uri = EXCLUDED.actor_uri,"
    "  inbox = EXCLUDED.inbox, shared_inbox = EXCLUDED.shared_inbox,"
    "  follow_id = EXCLUDED.follow_id, style = EXCLUDED.style,"
    "  relay_state = CASE WHEN $7::boolean OR i.allowed THEN 'accepted' ELSE 'pending' END,"
    "  subscribed_at = CASE WHEN i.relay_state IN ('accepted', 'pending')"
    "   THEN i.subscribed_at ELSE now() END,"
    "  our_follow_state = CASE WHEN i.actor_uri IS DISTINCT FROM EXCLUDED.actor_uri"
    "   THEN 'none' ELSE i.our_follow_state END,"
    "  updated_at = now()"
    " RETURNING relay_state, our_follow_state";

static const char sql_follow_back[] =
    "UPDATE instances SET our_follow_id = $2, our_follow_state = 'pending', updated_at = now()"
    " WHERE domain = $1";

/* The subscription is recorded; answer it (always: Mastodon re-sends on every enable). */
static int
relay_subscribed(struct relay_tx *tx, PGresult *res)
{
    struct inbox_activity *a = tx->a;
    struct app *app = a->app;
    const char *state, *ours;
    int litepub = tx->action == RELAY_SUBSCRIBE_LP;

    if (PQntuples(res) != 1)
        return -1;
    state = PQgetvalue(res, 0, 0);
    ours = PQgetvalue(res, 0, 1);
    log_info("relay_subscription", "domain=%s actor=%s style=%s state=%s", log_q(a->domain),
             log_q(a->actor), litepub ? "litepub" : "mastodon", state);
    if (strcmp(state, "accepted") != 0) {
        tx->result = "pending"; /* allowlist mode: the admin's allow sends the Accept */
        return 0;
    }
    relay_push_send(tx, "relay",
                    activity_accept_new(app->cfg->base_url, app->relay_id, a->actor, a->id,
                                        litepub ? app->relay_id : ACTIVITY_PUBLIC),
                    a->actor_inbox);
    if (litepub && strcmp(ours, "pending") != 0 && strcmp(ours, "accepted") != 0) {
        struct json_object *f = activity_follow_new(app->cfg->base_url, app->relay_id, a->actor);
        struct json_object *fid = NULL;

        json_object_object_get_ex(f, "id", &fid);
        relay_push(tx, sql_follow_back, NULL, 2, a->domain, json_object_get_string(fid));
        relay_push_send(tx, "relay", f, a->actor_inbox);
    }
    return 0;
}

static const char sql_join[] =
    "INSERT INTO members (actor_uri, acct, host, follow_id) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (actor_uri) DO UPDATE SET follow_id = EXCLUDED.follow_id, updated_at = now()"
    " RETURNING id, state";

static int
relay_joined(struct relay_tx *tx, PGresult *res)
{
    struct inbox_activity *a = tx->a;
    struct app *app = a->app;

    if (PQntuples(res) != 1)
        return -1;
    log_info("member_joined", "member=%s actor=%s", PQgetvalue(res, 0, 0), log_q(a->actor));
    relay_push_send(
        tx, "bridge",
        activity_accept_new(app->cfg->base_url, app->bridge_id, a->actor, a->id, app->bridge_id),
        a->actor_inbox);
    return 0;
}

static const char sql_unsubscribe[] =
    "UPDATE instances SET relay_state = 'unsubscribed', updated_at = now()"
    " WHERE domain = $1 AND actor_uri = $2 AND relay_state IN ('accepted', 'pending')"
    "  AND (follow_id = $3 OR $4::boolean)";
static const char sql_leave[] =
    "DELETE FROM members WHERE actor_uri = $1 AND (follow_id = $2 OR $3::boolean)";
static const char sql_answered[] = "UPDATE instances SET our_follow_state = $4, updated_at = now()"
                                   " WHERE domain = $1 AND actor_uri = $2 AND our_follow_id = $3";
static const char sql_gone_instance[] =
    "UPDATE instances SET relay_state = 'unsubscribed', updated_at = now()"
    " WHERE actor_uri = $1 AND relay_state IN ('accepted', 'pending')";
static const char sql_gone_member[] = "DELETE FROM members WHERE actor_uri = $1";
static const char sql_gone_cache[] = "DELETE FROM remote_actors WHERE uri = $1";

static int
relay_seen(struct relay_tx *tx, PGresult *res)
{
    struct inbox_activity *a = tx->a;
    struct app *app = a->app;

    if (PQntuples(res) == 0) {
        tx->result = "duplicate";
        return 1;
    }
    switch (tx->action) {
    case RELAY_SUBSCRIBE:
    case RELAY_SUBSCRIBE_LP:
        relay_push(tx, sql_subscribe, relay_subscribed, 7, a->domain, a->actor, a->actor_inbox,
                   a->actor_shared, a->id,
                   tx->action == RELAY_SUBSCRIBE_LP ? "litepub" : "mastodon",
                   a->allowed ? "true" : "false");
        break;
    case RELAY_JOIN: {
        char acct[512];

        snprintf(acct, sizeof(acct), "%s@%s", a->actor_username, a->domain);
        relay_push(tx, sql_join, relay_joined, 4, a->actor, acct, a->domain, a->id);
        break;
    }
    case RELAY_UNDO_FOLLOW: {
        int relay_target =
            tx->inner_object != NULL &&
            (relay_is_public(tx->inner_object) || strcmp(tx->inner_object, app->relay_id) == 0);
        int bridge_target =
            tx->inner_object != NULL && strcmp(tx->inner_object, app->bridge_id) == 0;
        const char *fid = tx->inner_id != NULL ? tx->inner_id : "";

        relay_push(tx, sql_unsubscribe, NULL, 4, a->domain, a->actor, fid,
                   relay_target ? "true" : "false");
        relay_push(tx, sql_leave, NULL, 3, a->actor, fid, bridge_target ? "true" : "false");
        break;
    }
    case RELAY_FOLLOW_ANSWERED:
        relay_push(tx, sql_answered, NULL, 4, a->domain, a->actor, tx->object,
                   strcmp(a->type, "Accept") == 0 ? "accepted" : "rejected");
        break;
    case RELAY_ACTOR_DELETED:
        relay_push(tx, sql_gone_instance, NULL, 1, a->actor);
        relay_push(tx, sql_gone_member, NULL, 1, a->actor);
        relay_push(tx, sql_gone_cache, NULL, 1, a->actor);
        break;
    case RELAY_PUBLICATION:
    case RELAY_IGNORE:
        /* Targeted relaying comes with the reconnection work; the id is remembered. */
        break;
    }
    return 0;
}

/* --- the transaction runner ---------------------------------------------------------------- */

static void
relay_step_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct relay_tx *tx = arg;
    struct relay_stmt *s;
    int rc = 0;

    if (outcome != DB_OK) {
        PQclear(res);
        log_warn("inbox_db_failed", "step=%d error=%s", tx->next, log_q(err));
        relay_fail(tx, outcome == DB_UNAVAILABLE ? HTTPD_ERR_UNAVAILABLE : HTTPD_ERR_INTERNAL,
                   outcome == DB_UNAVAILABLE ? "database unavailable" : "database error");
        return;
    }
    if (tx->committing) {
        struct inbox_activity *a = tx->a;
        struct app *app = a->app;
        const char *result = tx->result;
        int queued = tx->queued;

        PQclear(res);
        db_release(tx->conn);
        tx->conn = NULL;
        relay_tx_free(tx);
        if (queued > 0)
            queue_kick(app->queue);
        inbox_finish(a, 1, HTTPD_ERR_INTERNAL, result, NULL);
        return;
    }
    s = tx->next > 0 ? &tx->stmts[tx->next - 1] : NULL;
    if (s != NULL && s->then != NULL)
        rc = s->then(tx, res);
    PQclear(res);
    if (rc < 0) {
        relay_fail(tx, HTTPD_ERR_INTERNAL, "unexpected database answer");
        return;
    }
    if (rc > 0)
        tx->next = tx->nstmts;
    relay_run(tx);
}

static void
relay_run(struct relay_tx *tx)
{
    struct relay_stmt *s;

    if (tx->next >= tx->nstmts) {
        tx->committing = 1;
        db_conn_query(tx->conn, "COMMIT", 0, NULL, relay_step_cb, tx);
        return;
    }
    s = &tx->stmts[tx->next++];
    db_conn_query(tx->conn, s->sql, s->nparams, (const char *const *)s->params, relay_step_cb, tx);
}

static void
relay_acquired(struct db_conn *conn, void *arg)
{
    struct relay_tx *tx = arg;

    if (conn == NULL) {
        relay_fail(tx, HTTPD_ERR_UNAVAILABLE, "database unavailable");
        return;
    }
    tx->conn = conn;
    relay_run(tx); /* BEGIN comes first in the list */
}

void
relay_dispatch(struct inbox_activity *a)
{
    struct relay_tx *tx = xcalloc(1, sizeof(*tx));
    struct app *app = a->app;
    struct json_object *obj = NULL;

    tx->a = a;
    tx->result = "accepted";
    tx->action = relay_classify(a->json, a->type, a->actor, app->relay_id, app->bridge_id);
    json_object_object_get_ex(a->json, "object", &obj);
    tx->object = relay_ref(obj);
    if (tx->action == RELAY_UNDO_FOLLOW || tx->action == RELAY_FOLLOW_ANSWERED) {
        tx->inner_id = relay_ref(obj);
        tx->inner_object = relay_field(obj, "object");
    }
    if (tx->action == RELAY_PUBLICATION || tx->action == RELAY_IGNORE)
        tx->result = tx->action == RELAY_PUBLICATION ? "publication" : "ignored";
    relay_push(tx, "BEGIN", NULL, 0);
    relay_push(tx,
               "INSERT INTO seen_activity_ids (id) VALUES ($1) ON CONFLICT DO NOTHING"
               " RETURNING 1",
               relay_seen, 1, a->id);
    db_acquire(app->db, relay_acquired, tx);
}

static void
relay_swept_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    (void)arg;
    if (outcome == DB_OK)
        log_debug("seen_ids_swept", "rows=%s", PQcmdTuples(res));
    else if (outcome == DB_ERROR)
        log_warn("seen_ids_sweep_failed", "error=%s", log_q(err));
    PQclear(res);
}

void
relay_sweep(struct app *app)
{
    /* Senders retry for days (Mastodon about a week): remember ids a little longer. */
    db_query(app->db, "DELETE FROM seen_activity_ids WHERE seen_at < now() - interval '14 days'", 0,
             NULL, relay_swept_cb, NULL);
}
