/* Members followed by the relay actor (relay consent) or the bridge actor, kept in line by a timer.
 */
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
#include "memberfollow.h"
#include "policy.h"
#include "queue.h"
#include "outbox.h"
#include "url.h"
#include "worker.h"
#include "xmalloc.h"

#define MEMBERFOLLOW_BATCH   "100"
#define MEMBERFOLLOW_BATCH_N 100

/*
 * The statements of one actor's follows, from its column prefix (members.<col>_follow_id and
 * _state) and what makes a member one it should follow. The first two lines of the due
 * statement are that actor's partial index predicate (migrations 009 and 028), so the index
 * answers. A Follow waits while the member has no inbox or their host is blocked. The walk by
 * id keeps members skipped in C (relay_block) from filling every batch.
 */
#define MF_DUE(col, wanted)                                                                        \
    "SELECT id, actor_uri, inbox, host, " col "_follow_id, " col "_follow_state, " wanted          \
    " FROM members"                                                                                \
    " WHERE ((" wanted " AND " col "_follow_state = 'none')"                                       \
    "  OR (NOT (" wanted ") AND " col "_follow_state <> 'none'))"                                  \
    " AND (" col "_follow_state <> 'none' OR (inbox IS NOT NULL AND NOT host_blocked(host)))"      \
    " AND id > $1::bigint"                                                                         \
    " ORDER BY id LIMIT " MEMBERFOLLOW_BATCH " FOR UPDATE SKIP LOCKED"
#define MF_FOLLOWED(col)                                                                           \
    "UPDATE members SET " col "_follow_id = $2, " col "_follow_state = 'pending',"                 \
    " updated_at = now() WHERE id = $1::bigint"
#define MF_UNFOLLOWED(col)                                                                         \
    "UPDATE members SET " col "_follow_id = NULL, " col "_follow_state = 'none',"                  \
    " updated_at = now() WHERE id = $1::bigint"
/* Members who left or moved while followed: the trigger (or move.c) kept what the Undo needs. */
#define MF_LEFT(col)                                                                               \
    "DELETE FROM relay_unfollows WHERE id IN (SELECT id FROM relay_unfollows"                      \
    " WHERE signer = '" col "' ORDER BY id LIMIT " MEMBERFOLLOW_BATCH                              \
    " FOR UPDATE SKIP LOCKED) RETURNING actor_uri, inbox, follow_id"
/* The member's answer to the Follow; a Reject may also end an accepted one. */
#define MF_ANSWERED(col)                                                                           \
    "UPDATE members SET " col "_follow_state = $3, updated_at = now()"                             \
    " WHERE actor_uri = $1 AND " col "_follow_id = $2"                                             \
    "  AND (" col "_follow_state = 'pending' OR ($3 = 'rejected' AND " col                         \
    "_follow_state = 'accepted'))"

/* The relay follows members who allow relaying: linked, not paused. */
#define MF_RELAY_WANTED "relay AND state = 'linked' AND NOT paused"
/* The bridge follows every fediverse member, to hear their Move; a Bluesky home has none. */
#define MF_BRIDGE_WANTED "network = 'activitypub'"

struct memberfollow_kind {
    const char *signer; /* the outbox signer, the column prefix and relay_unfollows.signer */
    const char *sent_event, *undone_event, *failed_event;
    const char *due, *followed, *unfollowed, *left;
    const char *withdrawn; /* also run when a follow is undone, or NULL */
};

/* Announces of their posts still waiting: they changed their mind, so they are not sent. */
static const char sql_drop_announces[] =
    "UPDATE deliveries d SET state = 'dropped', last_error = 'relay withdrawn',"
    " claimed_until = NULL, claimed_by = NULL, updated_at = now()"
    " FROM activities a WHERE a.id = d.activity_id AND a.member_id = $1::bigint"
    " AND a.signer = 'relay' AND d.state = 'pending'";

#define MF_KIND(col, wanted, withdrawn)                                                            \
    {                                                                                              \
        col, col "_follow_sent", col "_follow_undone", col "_follow_round_failed",                 \
            MF_DUE(col, wanted), MF_FOLLOWED(col), MF_UNFOLLOWED(col), MF_LEFT(col), withdrawn     \
    }

static const struct memberfollow_kind memberfollow_relay =
    MF_KIND("relay", MF_RELAY_WANTED, sql_drop_announces);
static const struct memberfollow_kind memberfollow_bridge =
    MF_KIND("bridge", MF_BRIDGE_WANTED, NULL);
/* follow_members off: every follow the bridge still has is undone, none is asked. */
static const struct memberfollow_kind memberfollow_bridge_off = MF_KIND("bridge", "false", NULL);

static const char *const memberfollow_answered[] = {
    [MEMBERFOLLOW_RELAY] = MF_ANSWERED("relay"),
    [MEMBERFOLLOW_BRIDGE] = MF_ANSWERED("bridge"),
};

struct memberfollow {
    struct app *app;
    const struct memberfollow_kind *kind;
    const char *actor_id; /* app's relay_id or bridge_id */
    struct worker *w;     /* one round at a time, again at once after a full batch */
    char after[24];       /* the last member id of the previous round: rounds walk the ids */
};

/* One round's transaction: the worker's step. */
struct memberfollow_round {
    struct memberfollow *mf; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
    int queued;     /* deliveries listed in this round */
    int full;       /* a batch came back full: go again at once */
    char after[24]; /* where the next round starts */
};

static void memberfollow_step(struct worker_run *run, void *arg);

struct memberfollow *
memberfollow_new(struct app *app, long poll_ms, enum memberfollow_by by)
{
    struct memberfollow *mf = xcalloc(1, sizeof(*mf));

    mf->app = app;
    if (by == MEMBERFOLLOW_RELAY) {
        mf->kind = &memberfollow_relay;
        mf->actor_id = app->relay_id;
    } else {
        mf->kind = app->cfg->follow_members ? &memberfollow_bridge : &memberfollow_bridge_off;
        mf->actor_id = app->bridge_id;
    }
    mf->w = worker_new(app->base, poll_ms > 0 ? poll_ms : 10000, memberfollow_step, mf);
    snprintf(mf->after, sizeof(mf->after), "0");
    return mf;
}

void
memberfollow_start(struct memberfollow *mf)
{
    worker_start(mf->w);
}

void
memberfollow_free(struct memberfollow *mf)
{
    if (mf == NULL)
        return;
    worker_free(mf->w);
    free(mf);
}

const char *
memberfollow_answered_sql(enum memberfollow_by by)
{
    return memberfollow_answered[by];
}

/* Undo{Follow{id, actor: ours, object: member}} to inbox, unless relay_block names its host. */
static void
memberfollow_undo(struct dbtx *tx, struct memberfollow_round *r, const char *member,
                  const char *inbox, const char *follow_id)
{
    struct memberfollow *mf = r->mf;
    struct app *app = mf->app;
    struct json_object *inner;
    char host[URL_AUTHORITY_MAX];

    if (url_authority(inbox, host, sizeof(host)) < 0 || policy_config_blocked(app->cfg, host))
        return;
    inner = json_object_new_object();
    json_object_object_add(inner, "id", json_object_new_string(follow_id));
    json_object_object_add(inner, "type", json_object_new_string("Follow"));
    json_object_object_add(inner, "actor", json_object_new_string(mf->actor_id));
    json_object_object_add(inner, "object", json_object_new_string(member));
    outbox_push_one(tx, mf->kind->signer,
                    activity_undo_new(app->cfg->base_url, mf->actor_id, inner), inbox);
    json_object_put(inner);
    r->queued++;
    log_info(mf->kind->undone_event, "member=%s follow=%s", log_q(member), log_q(follow_id));
}

static int
memberfollow_due(struct dbtx *tx, PGresult *res, void *arg)
{
    struct memberfollow_round *r = arg;
    const struct memberfollow_kind *k;
    struct app *app;
    int n = PQntuples(res);

    if (!worker_run_live(r->run))
        return -1; /* stopping: the rows stay due for the next start */
    app = r->mf->app;
    k = r->mf->kind;
    r->full = n >= MEMBERFOLLOW_BATCH_N;
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
                memberfollow_undo(tx, r, actor, inbox, fid);
            dbtx_push(tx, k->unfollowed, NULL, NULL, 1, id);
            if (k->withdrawn != NULL)
                dbtx_push(tx, k->withdrawn, NULL, NULL, 1, id);
            continue;
        }
        if (policy_config_blocked(app->cfg, PQgetvalue(res, i, 3)))
            continue;
        f = activity_follow_new(app->cfg->base_url, r->mf->actor_id, actor);
        json_object_object_get_ex(f, "id", &v);
        dbtx_push(tx, k->followed, NULL, NULL, 2, id, json_object_get_string(v));
        log_info(k->sent_event, "member=%s follow=%s", log_q(actor),
                 log_q(json_object_get_string(v)));
        outbox_push_one(tx, k->signer, f, inbox);
        r->queued++;
    }
    return 0;
}

static int
memberfollow_left(struct dbtx *tx, PGresult *res, void *arg)
{
    struct memberfollow_round *r = arg;

    if (!worker_run_live(r->run))
        return -1;
    for (int i = 0; i < PQntuples(res); i++)
        memberfollow_undo(tx, r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                          PQgetvalue(res, i, 2));
    r->full |= PQntuples(res) >= MEMBERFOLLOW_BATCH_N;
    return 0;
}

static void
memberfollow_done(enum db_outcome outcome, const char *err, void *arg)
{
    struct memberfollow_round *r = arg;
    struct memberfollow *mf = r->mf;

    if (!worker_run_live(r->run)) {
        r->full = 0;
    } else if (outcome == DB_OK) {
        snprintf(mf->after, sizeof(mf->after), "%s", r->after);
        if (r->queued > 0)
            queue_kick(mf->app->queue);
    } else {
        if (outcome == DB_ERROR)
            log_warn(mf->kind->failed_event, "error=%s", log_q(err));
        /* Whatever the walk had reached is uncertain now: start over. */
        snprintf(mf->after, sizeof(mf->after), "0");
        r->full = 0;
    }
    worker_run_done(r->run, r->full);
    free(r);
}

static void
memberfollow_step(struct worker_run *run, void *arg)
{
    struct memberfollow *mf = arg;
    struct memberfollow_round *r = xcalloc(1, sizeof(*r));
    struct dbtx *tx;

    r->mf = mf;
    r->run = run;
    tx = dbtx_new(mf->app->db, memberfollow_done, r);
    dbtx_push(tx, mf->kind->due, memberfollow_due, r, 1, mf->after);
    dbtx_push(tx, mf->kind->left, memberfollow_left, r, 0);
    dbtx_run(tx);
}
