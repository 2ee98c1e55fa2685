/* Verified activities to database changes and answers: subscriptions, joins, undo, delete. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "activity.h"
#include "announce.h"
#include "app.h"
#include "bridge.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "log.h"
#include "memberfollow.h"
#include "move.h"
#include "outbox.h"
#include "queue.h"
#include "dispatch.h"
#include "dispatch_internal.h"
#include "standin.h"
#include "xmalloc.h"

/*
 * One activity's work: the seen-id insert, the action's statements (which may queue more,
 * such as the Accept), all in one dbtx; the caller hears of it after the COMMIT. Owned by
 * itself until dispatch_done hands the outcome to done and frees it.
 */
struct dispatch_ctx {
    struct activity_in *a;
    dispatch_done_fn done;
    void *done_arg;
    enum dispatch_action action;
    int queued;
    const char *result;  /* the metric label on success */
    const char *result0; /* ... as it was before the transaction (group commit may retry it) */
    /* From the activity: the object (Follow) or the inner activity's id and object (Undo). */
    const char *object;
    const char *inner_id;
    const char *inner_object;
    char x_id[STANDIN_XID_MAX]; /* a Follow of a stand-in: its X id */
    struct announce an;         /* a publication: what relaying it needs */
};


static const char *
dispatch_field(struct json_object *o, const char *name)
{
    struct json_object *v;

    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, name, &v))
        return NULL;
    return activity_ref(v);
}

enum dispatch_action
dispatch_classify(struct json_object *activity, const char *type, const char *actor,
                  const char *relay_id, const char *bridge_id)
{
    struct json_object *obj = NULL;
    const char *object;

    json_object_object_get_ex(activity, "object", &obj);
    object = activity_ref(obj);
    if (strcmp(type, "Follow") == 0) {
        if (activity_is_public(object))
            return DISPATCH_SUBSCRIBE;
        if (object != NULL && strcmp(object, relay_id) == 0)
            return DISPATCH_SUBSCRIBE_LP;
        if (object != NULL && strcmp(object, bridge_id) == 0)
            return DISPATCH_JOIN;
        return DISPATCH_IGNORE;
    }
    if (strcmp(type, "Undo") == 0) {
        struct json_object *t;

        /* A bare id may name a Follow; an embedded object must say it is one. */
        if (json_object_is_type(obj, json_type_string))
            return DISPATCH_UNDO_FOLLOW;
        if (json_object_object_get_ex(obj, "type", &t) &&
            json_object_is_type(t, json_type_string) &&
            strcmp(json_object_get_string(t), "Follow") == 0)
            return DISPATCH_UNDO_FOLLOW;
        return DISPATCH_IGNORE;
    }
    if (strcmp(type, "Accept") == 0 || strcmp(type, "Reject") == 0)
        return object != NULL ? DISPATCH_FOLLOW_ANSWERED : DISPATCH_IGNORE;
    if (strcmp(type, "Delete") == 0 && object != NULL && strcmp(object, actor) == 0)
        return DISPATCH_ACTOR_DELETED;
    if (strcmp(type, "Create") == 0 && bridge_is_message(activity, bridge_id))
        return DISPATCH_MESSAGE;
    if (strcmp(type, "Create") == 0 || strcmp(type, "Announce") == 0 ||
        strcmp(type, "Update") == 0 || strcmp(type, "Delete") == 0 || strcmp(type, "Move") == 0)
        return DISPATCH_PUBLICATION;
    return DISPATCH_IGNORE;
}

/* --- the actions --------------------------------------------------------------------------- */

/*
 * Queues json, signed by signer, to the actor's inbox as an answer to what it sent: bounded
 * per host and kept out of its breaker (outbox_answer).
 */
static void
dispatch_answer(struct dispatch_ctx *rc, struct dbtx *tx, const char *signer,
                struct json_object *json)
{
    struct activity_in *a = rc->a;

    if (outbox_answer(tx, signer, json, a->actor_inbox, a->domain,
                      a->app->cfg->queue_max_answers_per_host) == 0)
        rc->queued++;
}

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
    " WHERE i.actor_uri = EXCLUDED.actor_uri OR i.actor_uri IS NULL"
    "  OR i.relay_state NOT IN ('accepted', 'pending')"
    " RETURNING relay_state, our_follow_state";

static const char sql_follow_back[] =
    "UPDATE instances SET our_follow_id = $2, our_follow_state = 'pending', updated_at = now()"
    " WHERE domain = $1";

/*
 * The subscription is recorded; answer it (always: Mastodon re-sends on every enable). No row:
 * another actor of the domain holds its subscription (one account following <base>/actor
 * from its server's ordinary UI must neither take it over nor end it): refused.
 */
static int
dispatch_subscribed(struct dbtx *tx, PGresult *res, void *arg)
{
    struct dispatch_ctx *rc = arg;
    struct activity_in *a = rc->a;
    struct app *app = a->app;
    const char *state, *ours;
    int litepub = rc->action == DISPATCH_SUBSCRIBE_LP;
    const char *object = litepub ? app->relay_id : ACTIVITY_PUBLIC;

    if (PQntuples(res) == 0) {
        log_info("relay_subscription_refused", "domain=%s actor=%s reason=another_subscriber",
                 log_q(a->domain), log_q(a->actor));
        dispatch_answer(
            rc, tx, "relay",
            activity_reject_new(app->cfg->base_url, app->relay_id, a->actor, a->id, object));
        rc->result = "refused";
        return 0;
    }
    if (PQntuples(res) != 1)
        return -1;
    state = PQgetvalue(res, 0, 0);
    ours = PQgetvalue(res, 0, 1);
    log_info("relay_subscription", "domain=%s actor=%s style=%s state=%s", log_q(a->domain),
             log_q(a->actor), litepub ? "litepub" : "mastodon", state);
    if (strcmp(state, "accepted") != 0) {
        rc->result = "pending"; /* allowlist mode: the admin's allow sends the Accept */
        return 0;
    }
    dispatch_answer(
        rc, tx, "relay",
        activity_accept_new(app->cfg->base_url, app->relay_id, a->actor, a->id, object));
    if (litepub && strcmp(ours, "pending") != 0 && strcmp(ours, "accepted") != 0) {
        struct json_object *f = activity_follow_new(app->cfg->base_url, app->relay_id, a->actor);
        struct json_object *fid = NULL;

        json_object_object_get_ex(f, "id", &fid);
        dbtx_push(tx, sql_follow_back, NULL, NULL, 2, a->domain, json_object_get_string(fid));
        dispatch_answer(rc, tx, "relay", f);
    }
    return 0;
}

/* Each Follow is accepted (a new id each time); the welcome goes out at most once a day. */
static const char sql_join[] =
    "INSERT INTO members (actor_uri, acct, host, follow_id, inbox, welcomed_at)"
    " VALUES ($1, $2, $3, $4, $5, now())"
    " ON CONFLICT (actor_uri) DO UPDATE SET follow_id = EXCLUDED.follow_id,"
    "  acct = EXCLUDED.acct, inbox = EXCLUDED.inbox, updated_at = now(),"
    "  welcomed_at = CASE WHEN members.welcomed_at > now() - interval '1 day'"
    "   THEN members.welcomed_at ELSE now() END"
    " RETURNING id, state, (xmax = 0) AS created, lang, acct, welcomed_at = now() AS welcome";

/* A new member starts with the defaults the page shows, each one in the ledger. */
static const char sql_default_consents[] =
    "INSERT INTO consent_ledger (member_id, consent, value, source)"
    " VALUES ($1::bigint, 'findable', true, 'default'), ($1::bigint, 'notify', true, 'default'),"
    "  ($1::bigint, 'autofollow', false, 'default'), ($1::bigint, 'relay', false, 'default')";

static int
dispatch_joined(struct dbtx *tx, PGresult *res, void *arg)
{
    struct dispatch_ctx *rc = arg;
    struct activity_in *a = rc->a;
    struct app *app = a->app;

    if (PQntuples(res) != 1)
        return -1;
    log_info("member_joined", "member=%s actor=%s welcome=%s", PQgetvalue(res, 0, 0),
             log_q(a->actor), PQgetvalue(res, 0, 5));
    dispatch_answer(
        rc, tx, "bridge",
        activity_accept_new(app->cfg->base_url, app->bridge_id, a->actor, a->id, app->bridge_id));
    if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
        dbtx_push(tx, sql_default_consents, NULL, NULL, 1, PQgetvalue(res, 0, 0));
    if (strcmp(PQgetvalue(res, 0, 5), "t") == 0)
        rc->queued +=
            bridge_push_welcome(tx, app, PQgetvalue(res, 0, 0), a->actor, PQgetvalue(res, 0, 4),
                                a->actor_inbox, PQgetvalue(res, 0, 3), a->domain);
    return 0;
}

/* A Follow of a stand-in that shows: refused as Mastodon refuses follows of moved accounts. */
static const char sql_standin_shown[] =
    "SELECT m.host FROM members m WHERE m.x_id = $1::bigint AND " STANDIN_VISIBLE_SQL;

static int
dispatch_standin_follow(struct dbtx *tx, PGresult *res, void *arg)
{
    struct dispatch_ctx *rc = arg;
    struct activity_in *a = rc->a;
    struct app *app = a->app;
    char signer[STANDIN_XID_MAX + 2];
    char *id;

    /* A stand-in that does not show could not sign: its key would not be found. */
    if (PQntuples(res) != 1 || !standin_host_ok(app, PQgetvalue(res, 0, 0)))
        return 0;
    /* Signed by the stand-in itself: Mastodon matches the Reject by its actor. */
    id = xasprintf("%s%s", app->standin_prefix, rc->x_id);
    snprintf(signer, sizeof(signer), "x:%s", rc->x_id);
    dispatch_answer(rc, tx, signer,
                    activity_reject_new(app->cfg->base_url, id, a->actor, a->id, id));
    log_info("standin_follow_rejected", "x_id=%s actor=%s", rc->x_id, log_q(a->actor));
    free(id);
    return 0;
}

static const char sql_unsubscribe[] =
    "UPDATE instances SET relay_state = 'unsubscribed', updated_at = now()"
    " WHERE domain = $1 AND actor_uri = $2 AND relay_state IN ('accepted', 'pending')"
    "  AND (follow_id = $3 OR $4::boolean)";
/* Everything of theirs cascades; their X edges go by trigger (migration 005). */
static const char sql_leave[] =
    "DELETE FROM members WHERE actor_uri = $1 AND (follow_id = $2 OR $3::boolean)";
static const char sql_answered[] = "UPDATE instances SET our_follow_state = $4, updated_at = now()"
                                   " WHERE domain = $1 AND actor_uri = $2 AND our_follow_id = $3";
static const char sql_gone_instance[] =
    "UPDATE instances SET relay_state = 'unsubscribed', updated_at = now()"
    " WHERE actor_uri = $1 AND relay_state IN ('accepted', 'pending')";
static const char sql_gone_member[] = "DELETE FROM members WHERE actor_uri = $1";
static const char sql_gone_cache[] = "DELETE FROM remote_actors WHERE uri = $1";

static void
dispatch_standin_check(struct dbtx *tx, struct dispatch_ctx *rc)
{
    char hold[16];
    const char *require;

    standin_visible_params(rc->a->app, hold, &require);
    dbtx_push(tx, sql_standin_shown, dispatch_standin_follow, rc, 3, rc->x_id, hold, require);
}

static int
dispatch_seen(struct dbtx *tx, PGresult *res, void *arg)
{
    struct dispatch_ctx *rc = arg;

    if (PQntuples(res) == 0) {
        dispatch_duplicate(rc);
        return 1;
    }
    dispatch_act(tx, rc, NULL);
    return 0;
}

void
dispatch_act(struct dbtx *tx, struct dispatch_ctx *rc, struct announce_batch *pubs)
{
    struct activity_in *a = rc->a;
    struct app *app = a->app;

    switch (rc->action) {
    case DISPATCH_SUBSCRIBE:
    case DISPATCH_SUBSCRIBE_LP:
        dbtx_push(tx, sql_subscribe, dispatch_subscribed, rc, 7, a->domain, a->actor,
                  a->actor_inbox, a->actor_shared, a->id,
                  rc->action == DISPATCH_SUBSCRIBE_LP ? "litepub" : "mastodon",
                  a->allowed ? "true" : "false");
        break;
    case DISPATCH_JOIN: {
        char acct[512];

        snprintf(acct, sizeof(acct), "%s@%s", a->actor_username, a->domain);
        dbtx_push(tx, sql_join, dispatch_joined, rc, 5, a->actor, acct, a->domain, a->id,
                  a->actor_inbox);
        break;
    }
    case DISPATCH_UNDO_FOLLOW: {
        int relay_target =
            rc->inner_object != NULL &&
            (activity_is_public(rc->inner_object) || strcmp(rc->inner_object, app->relay_id) == 0);
        int bridge_target =
            rc->inner_object != NULL && strcmp(rc->inner_object, app->bridge_id) == 0;
        const char *fid = rc->inner_id != NULL ? rc->inner_id : "";

        dbtx_push(tx, sql_unsubscribe, NULL, NULL, 4, a->domain, a->actor, fid,
                  relay_target ? "true" : "false");
        dbtx_push(tx, sql_leave, NULL, NULL, 3, a->actor, fid, bridge_target ? "true" : "false");
        break;
    }
    case DISPATCH_FOLLOW_ANSWERED: {
        const char *st = strcmp(a->type, "Accept") == 0 ? "accepted" : "rejected";

        dbtx_push(tx, sql_answered, NULL, NULL, 4, a->domain, a->actor, rc->object, st);
        /* A member answers the relay's Follow (targeted relay) or the bridge's (moves). */
        dbtx_push(tx, memberfollow_answered_sql(MEMBERFOLLOW_RELAY), NULL, NULL, 3, a->actor,
                  rc->object, st);
        dbtx_push(tx, memberfollow_answered_sql(MEMBERFOLLOW_BRIDGE), NULL, NULL, 3, a->actor,
                  rc->object, st);
        break;
    }
    case DISPATCH_ACTOR_DELETED:
        dbtx_push(tx, sql_gone_instance, NULL, NULL, 1, a->actor);
        dbtx_push(tx, sql_gone_member, NULL, NULL, 1, a->actor);
        dbtx_push(tx, sql_gone_cache, NULL, NULL, 1, a->actor);
        break;
    case DISPATCH_MESSAGE:
        rc->queued += bridge_push_message(tx, a);
        break;
    case DISPATCH_FOLLOW_STANDIN:
        /* Nothing is stored: the follower is refused and forgotten. */
        dispatch_standin_check(tx, rc);
        break;
    case DISPATCH_PUBLICATION:
        /* A member's public post goes on to their former followers' instances. */
        rc->an.a = a;
        rc->an.queued = &rc->queued;
        if (pubs != NULL)
            pubs->ans[pubs->n++] = &rc->an; /* one statement for all of a batch's posts */
        else
            announce_push(tx, &rc->an);
        break;
    case DISPATCH_IGNORE:
        break;
    }
}

/* --- the end ----------------------------------------------------------------------------- */

void
dispatch_end(struct dispatch_ctx *rc, enum db_outcome outcome)
{
    struct app *app = rc->a->app;

    if (outcome == DB_OK && rc->queued > 0)
        queue_kick(app->queue);
    rc->done(outcome,
             outcome == DB_OK            ? rc->result
             : outcome == DB_UNAVAILABLE ? "unavailable"
                                         : "error",
             rc->done_arg);
    free(rc);
}

static void
dispatch_done(enum db_outcome outcome, const char *err, void *arg)
{
    (void)err; /* dbtx logged it */
    dispatch_end(arg, outcome);
}

struct dispatch_ctx *
dispatch_ctx_new(struct activity_in *a, dispatch_done_fn done, void *arg)
{
    struct dispatch_ctx *rc = xcalloc(1, sizeof(*rc));
    struct app *app = a->app;
    struct json_object *obj = NULL;

    rc->a = a;
    rc->done = done;
    rc->done_arg = arg;
    rc->result = "accepted";
    rc->action = dispatch_classify(a->json, a->type, a->actor, app->relay_id, app->bridge_id);
    json_object_object_get_ex(a->json, "object", &obj);
    rc->object = activity_ref(obj);
    if (rc->action == DISPATCH_IGNORE && strcmp(a->type, "Follow") == 0 &&
        standin_parse_uri(app, rc->object, rc->x_id))
        rc->action = DISPATCH_FOLLOW_STANDIN;
    if (rc->action == DISPATCH_UNDO_FOLLOW || rc->action == DISPATCH_FOLLOW_ANSWERED) {
        rc->inner_id = activity_ref(obj);
        rc->inner_object = dispatch_field(obj, "object");
    }
    if (rc->action == DISPATCH_PUBLICATION || rc->action == DISPATCH_IGNORE)
        rc->result = rc->action == DISPATCH_PUBLICATION ? "publication" : "ignored";
    else if (rc->action == DISPATCH_FOLLOW_STANDIN)
        rc->result = "standin_follow";
    rc->result0 = rc->result;
    return rc;
}

const char *
dispatch_ctx_id(const struct dispatch_ctx *rc)
{
    return rc->a->id;
}

void
dispatch_duplicate(struct dispatch_ctx *rc)
{
    rc->result = "duplicate";
}

void
dispatch_run(struct dispatch_ctx *rc)
{
    struct dbtx *tx;

    rc->queued = 0;
    rc->result = rc->result0;
    memset(&rc->an, 0, sizeof(rc->an));
    tx = dbtx_new(rc->a->app->db, dispatch_done, rc);
    dbtx_push(tx,
              "INSERT INTO seen_activity_ids (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1",
              dispatch_seen, rc, 1, rc->a->id);
    dbtx_run(tx);
}

void
dispatch_activity(struct activity_in *a, dispatch_done_fn done, void *arg)
{
    /* A member's move fetches its target first, then runs its own transaction (move.c). */
    if (strcmp(a->type, "Move") == 0) {
        move_activity(a, done, arg);
        return;
    }
    dispatch_run(dispatch_ctx_new(a, done, arg));
}
