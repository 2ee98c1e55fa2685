/* The relay actor's follows of members, kept in line with their relay consent by a timer. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "activity.h"
#include "app.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "log.h"
#include "policy.h"
#include "queue.h"
#include "outbox.h"
#include "relayfollow.h"
#include "url.h"
#include "worker.h"
#include "xmalloc.h"

#define RELAYFOLLOW_BATCH   "100"
#define RELAYFOLLOW_BATCH_N 100

struct relayfollow {
    struct app *app;
    struct worker *w; /* one round at a time, again at once after a full batch */
    char after[24];   /* the last member id of the previous round: rounds walk the ids */
};

/* One round's transaction: the worker's step. */
struct relayfollow_round {
    struct relayfollow *rf; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
    int queued;     /* deliveries listed in this round */
    int full;       /* a batch came back full: go again at once */
    char after[24]; /* where the next round starts */
};

/*
 * The first two lines are members_relay_due's predicate (migration 009), so the partial
 * index answers. A Follow waits while the member has no inbox or their host is blocked. The
 * walk by id keeps members skipped in C (relay_block) from filling every batch.
 */
static const char sql_due[] =
    "SELECT id, actor_uri, inbox, host, relay_follow_id, relay_follow_state,"
    " relay AND state = 'linked' AND NOT paused"
    " FROM members"
    " WHERE ((relay AND state = 'linked' AND NOT paused AND relay_follow_state = 'none')"
    "  OR (NOT (relay AND state = 'linked' AND NOT paused) AND relay_follow_state <> 'none'))"
    " AND (relay_follow_state <> 'none' OR (inbox IS NOT NULL AND NOT host_blocked(host)))"
    " AND id > $1::bigint"
    " ORDER BY id LIMIT " RELAYFOLLOW_BATCH " FOR UPDATE SKIP LOCKED";

static const char sql_followed[] = "UPDATE members SET relay_follow_id = $2,"
                                   " relay_follow_state = 'pending', updated_at = now()"
                                   " WHERE id = $1::bigint";
static const char sql_unfollowed[] = "UPDATE members SET relay_follow_id = NULL,"
                                     " relay_follow_state = 'none', updated_at = now()"
                                     " WHERE id = $1::bigint";
/* Announces of their posts still waiting: they changed their mind, so they are not sent. */
static const char sql_drop_announces[] =
    "UPDATE deliveries d SET state = 'dropped', last_error = 'relay withdrawn',"
    " claimed_until = NULL, claimed_by = NULL, updated_at = now()"
    " FROM activities a WHERE a.id = d.activity_id AND a.member_id = $1::bigint"
    " AND a.signer = 'relay' AND d.state = 'pending'";
static const char sql_left[] =
    "DELETE FROM relay_unfollows WHERE id IN (SELECT id FROM relay_unfollows ORDER BY id"
    " LIMIT " RELAYFOLLOW_BATCH " FOR UPDATE SKIP LOCKED)"
    " RETURNING actor_uri, inbox, follow_id";

static void relayfollow_step(struct worker_run *run, void *arg);

struct relayfollow *
relayfollow_new(struct app *app, long poll_ms)
{
    struct relayfollow *rf = xcalloc(1, sizeof(*rf));

    rf->app = app;
    rf->w = worker_new(app->base, poll_ms > 0 ? poll_ms : 10000, relayfollow_step, rf);
    snprintf(rf->after, sizeof(rf->after), "0");
    return rf;
}

void
relayfollow_start(struct relayfollow *rf)
{
    worker_start(rf->w);
}

void
relayfollow_free(struct relayfollow *rf)
{
    if (rf == NULL)
        return;
    worker_free(rf->w);
    free(rf);
}

/* Undo{Follow{id, actor: relay, object: member}} to inbox, unless relay_block names its host. */
static void
relayfollow_undo(struct dbtx *tx, struct relayfollow_round *r, const char *member,
                 const char *inbox, const char *follow_id)
{
    struct app *app = r->rf->app;
    struct json_object *inner;
    char host[URL_AUTHORITY_MAX];

    if (url_authority(inbox, host, sizeof(host)) < 0 || policy_config_blocked(app->cfg, host))
        return;
    inner = json_object_new_object();
    json_object_object_add(inner, "id", json_object_new_string(follow_id));
    json_object_object_add(inner, "type", json_object_new_string("Follow"));
    json_object_object_add(inner, "actor", json_object_new_string(app->relay_id));
    json_object_object_add(inner, "object", json_object_new_string(member));
    outbox_push_one(tx, "relay", activity_undo_new(app->cfg->base_url, app->relay_id, inner),
                    inbox);
    json_object_put(inner);
    r->queued++;
    log_info("relay_follow_undone", "member=%s follow=%s", log_q(member), log_q(follow_id));
}

static int
relayfollow_due(struct dbtx *tx, PGresult *res, void *arg)
{
    struct relayfollow_round *r = arg;
    struct app *app;
    int n = PQntuples(res);

    if (!worker_run_live(r->run))
        return -1; /* stopping: the rows stay due for the next start */
    app = r->rf->app;
    r->full = n >= RELAYFOLLOW_BATCH_N;
    /* A short batch ends the walk: the next round starts from the first id again. */
    snprintf(r->after, sizeof(r->after), "%s", r->full ? PQgetvalue(res, n - 1, 0) : "0");
    for (int i = 0; i < n; i++) {
        const char *id = PQgetvalue(res, i, 0), *actor = PQgetvalue(res, i, 1);
        const char *inbox = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
        const char *fid = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
        const char *state = PQgetvalue(res, i, 5);
        struct json_object *f, *v;

        if (strcmp(PQgetvalue(res, i, 6), "t") != 0) {
            /* They no longer want it (or may not): undo what was asked, forget a refusal. */
            if (fid != NULL && inbox != NULL && strcmp(state, "rejected") != 0)
                relayfollow_undo(tx, r, actor, inbox, fid);
            dbtx_push(tx, sql_unfollowed, NULL, NULL, 1, id);
            dbtx_push(tx, sql_drop_announces, NULL, NULL, 1, id);
            continue;
        }
        if (policy_config_blocked(app->cfg, PQgetvalue(res, i, 3)))
            continue;
        f = activity_follow_new(app->cfg->base_url, app->relay_id, actor);
        json_object_object_get_ex(f, "id", &v);
        dbtx_push(tx, sql_followed, NULL, NULL, 2, id, json_object_get_string(v));
        log_info("relay_follow_sent", "member=%s follow=%s", log_q(actor),
                 log_q(json_object_get_string(v)));
        outbox_push_one(tx, "relay", f, inbox);
        r->queued++;
    }
    return 0;
}

/* Members who left while followed: the trigger kept what their Undo needs. */
static int
relayfollow_left(struct dbtx *tx, PGresult *res, void *arg)
{
    struct relayfollow_round *r = arg;

    if (!worker_run_live(r->run))
        return -1;
    for (int i = 0; i < PQntuples(res); i++)
        relayfollow_undo(tx, r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                         PQgetvalue(res, i, 2));
    r->full |= PQntuples(res) >= RELAYFOLLOW_BATCH_N;
    return 0;
}

static void
relayfollow_done(enum db_outcome outcome, const char *err, void *arg)
{
    struct relayfollow_round *r = arg;
    struct relayfollow *rf = r->rf;

    if (!worker_run_live(r->run)) {
        r->full = 0;
    } else if (outcome == DB_OK) {
        snprintf(rf->after, sizeof(rf->after), "%s", r->after);
        if (r->queued > 0)
            queue_kick(rf->app->queue);
    } else {
        if (outcome == DB_ERROR)
            log_warn("relay_follow_round_failed", "error=%s", log_q(err));
        /* Whatever the walk had reached is uncertain now: start over. */
        snprintf(rf->after, sizeof(rf->after), "0");
        r->full = 0;
    }
    worker_run_done(r->run, r->full);
    free(r);
}

static void
relayfollow_step(struct worker_run *run, void *arg)
{
    struct relayfollow *rf = arg;
    struct relayfollow_round *r = xcalloc(1, sizeof(*r));
    struct dbtx *tx;

    r->rf = rf;
    r->run = run;
    tx = dbtx_new(rf->app->db, relayfollow_done, r);
    dbtx_push(tx, sql_due, relayfollow_due, r, 1, rf->after);
    dbtx_push(tx, sql_left, relayfollow_left, r, 0);
    dbtx_run(tx);
}
