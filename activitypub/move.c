/* A member's account moves: a Move checked as Mastodon checks it, then the membership follows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "activity.h"
#include "app.h"
#include "bridge.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "log.h"
#include "move.h"
#include "oauth.h"
#include "policy.h"
#include "queue.h"
#include "remote.h"
#include "texts.h"
#include "url.h"
#include "xmalloc.h"

/*
 * One Move from the membership lookup to done: the single owner of what it holds. The
 * activity is the inbox's, borrowed until done.
 */
struct move_ctx {
    struct activity_in *a;
    dispatch_done_fn done;
    void *done_arg;
    const char *target; /* borrowed from a->json */
    char target_host[URL_AUTHORITY_MAX];
    char *inbox; /* the new actor's, from the fresh fetch */
    char *acct;  /* its user@host */
    /* The transaction's plan. */
    char keep[24], drop[24]; /* the member row kept, the one merged into it ("" for none) */
    char *old_acct;
    char *drop_follow; /* the merged row's Follow of the bridge, if the kept row takes it */
    enum move_plan plan;
    struct oauth_op *revoke; /* the old server's grant, deleted: revoked after the commit */
    int queued;
    const char *result;
};

const char *
move_target(struct json_object *activity, const char *actor, const char **why)
{
    struct json_object *v = NULL;
    const char *object, *target;

    object = json_object_object_get_ex(activity, "object", &v) ? activity_ref(v) : NULL;
    if (object == NULL || strcmp(object, actor) != 0) {
        *why = "object_not_actor";
        return NULL;
    }
    target = json_object_object_get_ex(activity, "target", &v) ? activity_ref(v) : NULL;
    if (target == NULL ||
        (strncasecmp(target, "https://", 8) != 0 && strncasecmp(target, "http://", 7) != 0) ||
        strchr(target, '#') != NULL || strlen(target) > 2048) {
        *why = "no_target";
        return NULL;
    }
    if (strcmp(target, actor) == 0) {
        *why = "target_is_actor";
        return NULL;
    }
    *why = NULL;
    return target;
}

int
move_aliases_hold(const char *const *aliases, size_t n, const char *origin)
{
    for (size_t i = 0; i < n; i++) {
        if (aliases[i] != NULL && strcmp(aliases[i], origin) == 0)
            return 1;
    }
    return 0;
}

enum move_plan
move_plan(int old_claimed, long long old_id, int new_exists, int new_claimed, long long new_id)
{
    if (!new_exists)
        return MOVE_CARRY;
    if (old_claimed && new_claimed)
        return MOVE_REFUSE_TWO;
    if (old_claimed != new_claimed)
        return old_claimed ? MOVE_CARRY : MOVE_ABSORB;
    return old_id < new_id ? MOVE_CARRY : MOVE_ABSORB;
}

static void
move_free(struct move_ctx *c)
{
    oauth_dropped_free(c->revoke);
    free(c->inbox);
    free(c->acct);
    free(c->old_acct);
    free(c->drop_follow);
    free(c);
}

static void
move_finish(struct move_ctx *c, enum db_outcome outcome, const char *result)
{
    c->done(outcome, result, c->done_arg);
    move_free(c);
}

/* A Move that does not hold: logged, acknowledged, nothing changed. */
static void
move_refuse(struct move_ctx *c, const char *why)
{
    log_info("move_refused", "actor=%s target=%s id=%s reason=%s", log_q(c->a->actor),
             log_q(c->target), log_q(c->a->id), why);
    move_finish(c, DB_OK, "move_refused");
}

/* --- the transaction --------------------------------------------------------------------- */

/* Both rows, locked in id order (the same order as every other writer of two members). */
static const char sql_rows[] =
    "SELECT id, actor_uri = $1, x_id IS NOT NULL, acct, follow_id FROM members"
    " WHERE actor_uri IN ($1, $2) AND network = 'activitypub' ORDER BY id FOR UPDATE";

/* The merged row's ledger goes to the row kept, dates and sources as they were. */
static const char sql_ledger_copy[] =
    "INSERT INTO consent_ledger (member_id, consent, value, source, client_addr, created_at)"
    " SELECT $1::bigint, consent, value, source, client_addr, created_at FROM consent_ledger"
    " WHERE member_id = $2::bigint ORDER BY created_at, id";
static const char sql_drop[] = "DELETE FROM members WHERE id = $1::bigint";

/*
 * The relay's and the bridge's follows of the old actor are undone by their reconcilers
 * (migrations 009 and 028's table, memberfollow.c), which then follow the new one.
 */
static const char sql_follows_undo[] =
    "INSERT INTO relay_unfollows (actor_uri, inbox, follow_id, signer)"
    " SELECT m.actor_uri, m.inbox, f.id, f.signer FROM members m,"
    "  LATERAL (VALUES ('relay', m.relay_follow_id, m.relay_follow_state),"
    "   ('bridge', m.bridge_follow_id, m.bridge_follow_state)) AS f (signer, id, state)"
    " WHERE m.id = $1::bigint AND f.state IN ('pending', 'accepted') AND f.id IS NOT NULL"
    "  AND m.inbox IS NOT NULL";
static const char sql_carry[] =
    "UPDATE members SET actor_uri = $2, acct = $3, host = $4, inbox = $5, follow_id = $6,"
    " relay_follow_id = NULL, relay_follow_state = 'none', updated_at = now()"
    " WHERE id = $1::bigint";
/*
 * The row kept takes the bridge's follow of the new actor when the new actor's row goes ($2),
 * or none (the reconciler then follows the new actor); the row that goes leaves it to the
 * kept one, so that its delete does not undo it (an Undo names no id Mastodon checks).
 */
static const char sql_bridge_take[] =
    "UPDATE members SET bridge_follow_id = d.fid, bridge_follow_state = coalesce(d.st, 'none')"
    " FROM (SELECT max(bridge_follow_id) AS fid, max(bridge_follow_state) AS st FROM members"
    "  WHERE id = $2::bigint) d WHERE members.id = $1::bigint";
static const char sql_bridge_leave[] =
    "UPDATE members SET bridge_follow_id = NULL, bridge_follow_state = 'none'"
    " WHERE id = $1::bigint";
/*
 * Account ids on the old server mean nothing on the new one (an undo there would name
 * somebody else); the rows keep their state. Authorizations still open were for the old one.
 */
static const char sql_forget_remote_ids[] =
    "UPDATE follow_actions SET remote_account_id = NULL, updated_at = now()"
    " WHERE follower_id = $1::bigint AND remote_account_id IS NOT NULL";
static const char sql_states_drop[] = "DELETE FROM oauth_states WHERE member_id = $1::bigint";

/* The ledger notes the move: each consent's value, carried over unchanged. */
static const char sql_ledger_note[] =
    "INSERT INTO consent_ledger (member_id, consent, value, source)"
    " SELECT m.id, c.consent, c.value, 'move' FROM members m,"
    "  LATERAL (VALUES ('findable', m.findable), ('notify', m.notify),"
    "   ('autofollow', m.autofollow), ('relay', m.relay)) AS c (consent, value)"
    " WHERE m.id = $1::bigint";
static const char sql_record[] =
    "INSERT INTO member_moves (member_id, from_actor, to_actor, activity_id, merged_member_id)"
    " VALUES ($1::bigint, $2, $3, $4, $5::bigint)";
static const char sql_kept[] = "SELECT m.actor_uri, m.acct, m.inbox, m.lang,"
                               " EXISTS (SELECT 1 FROM oauth_grants g WHERE g.member_id = m.id)"
                               " FROM members m WHERE m.id = $1::bigint";

/* The member is told, on the new account: what moved, and a link to connect the new server. */
static int
move_told(struct dbtx *tx, PGresult *res, void *arg)
{
    struct move_ctx *c = arg;
    struct activity_in *a = c->a;
    const char *lang;
    char *done, *tmpl;
    int granted;

    if (PQntuples(res) != 1)
        return -1;
    lang = PQgetvalue(res, 0, 3);
    granted = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
    done = texts_format(lang, "move.done", "old",
                        c->old_acct != NULL && *c->old_acct != '\0' ? c->old_acct : a->actor, "new",
                        PQgetvalue(res, 0, 1), NULL);
    tmpl = xasprintf("%s\n\n%s", done, texts_get(lang, granted ? "move.page" : "move.connect"));
    c->queued +=
        bridge_push_link_text(tx, a->app, c->keep, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                              PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2), tmpl);
    free(done);
    free(tmpl);
    return 0;
}

/* The old server's grant, deleted: its revocation waits for the commit. */
static int
move_grant_dropped(struct dbtx *tx, PGresult *res, void *arg)
{
    struct move_ctx *c = arg;
    const char *old_id = c->plan == MOVE_CARRY ? c->keep : c->drop;

    (void)tx;
    c->revoke = oauth_dropped_new(c->a->app, old_id, res);
    return 0;
}

static int
move_rows(struct dbtx *tx, PGresult *res, void *arg)
{
    struct move_ctx *c = arg;
    struct activity_in *a = c->a;
    const char *old_id = NULL, *new_id = NULL;
    int old_claimed = 0, new_claimed = 0, oldrow = -1, newrow = -1;

    for (int i = 0; i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 1), "t") == 0) {
            oldrow = i;
            old_id = PQgetvalue(res, i, 0);
            old_claimed = strcmp(PQgetvalue(res, i, 2), "t") == 0;
        } else {
            newrow = i;
            new_id = PQgetvalue(res, i, 0);
            new_claimed = strcmp(PQgetvalue(res, i, 2), "t") == 0;
        }
    }
    if (old_id == NULL) {
        c->result = "ignored"; /* gone, or moved meanwhile */
        return 1;
    }
    c->plan = move_plan(old_claimed, strtoll(old_id, NULL, 10), new_id != NULL, new_claimed,
                        new_id != NULL ? strtoll(new_id, NULL, 10) : 0);
    if (c->plan == MOVE_REFUSE_TWO) {
        log_info("move_refused", "actor=%s target=%s id=%s reason=two_claims member=%s other=%s",
                 log_q(a->actor), log_q(c->target), log_q(a->id), old_id, new_id);
        c->result = "move_refused";
        return 1;
    }
    c->old_acct = PQgetisnull(res, oldrow, 3) ? NULL : xstrdup(PQgetvalue(res, oldrow, 3));
    snprintf(c->keep, sizeof(c->keep), "%s", c->plan == MOVE_CARRY ? old_id : new_id);
    snprintf(c->drop, sizeof(c->drop), "%s",
             new_id == NULL          ? ""
             : c->plan == MOVE_CARRY ? new_id
                                     : old_id);
    /*
     * The new actor's Follow of the bridge stays matched to its Undo. The row that goes holds
     * no claim, so it is not linked and the relay does not follow it (memberfollow.c undoes
     * what it had): nothing of the relay's is carried from it; the bridge's follow of the new
     * actor is.
     */
    if (c->plan == MOVE_CARRY && newrow >= 0 && !PQgetisnull(res, newrow, 4))
        c->drop_follow = xstrdup(PQgetvalue(res, newrow, 4));

    /* Before the old actor's row changes or goes: the grant names that actor's server. */
    dbtx_push(tx, oauth_grant_delete_sql, move_grant_dropped, c, 1, old_id);
    if (c->plan == MOVE_CARRY) {
        dbtx_push(tx, sql_follows_undo, NULL, NULL, 1, c->keep);
        dbtx_push(tx, sql_bridge_take, NULL, NULL, 2, c->keep, *c->drop != '\0' ? c->drop : NULL);
    }
    if (*c->drop != '\0') {
        dbtx_push(tx, sql_ledger_copy, NULL, NULL, 2, c->keep, c->drop);
        if (c->plan == MOVE_CARRY)
            dbtx_push(tx, sql_bridge_leave, NULL, NULL, 1, c->drop);
        dbtx_push(tx, sql_drop, NULL, NULL, 1, c->drop);
    }
    if (c->plan == MOVE_CARRY) {
        dbtx_push(tx, sql_carry, NULL, NULL, 6, c->keep, c->target, c->acct, c->target_host,
                  c->inbox, c->drop_follow);
        dbtx_push(tx, sql_forget_remote_ids, NULL, NULL, 1, c->keep);
        dbtx_push(tx, sql_states_drop, NULL, NULL, 1, c->keep);
    }
    dbtx_push(tx, sql_ledger_note, NULL, NULL, 1, c->keep);
    dbtx_push(tx, sql_record, NULL, NULL, 5, c->keep, a->actor, c->target, a->id,
              *c->drop != '\0' ? c->drop : NULL);
    dbtx_push(tx, sql_kept, move_told, c, 1, c->keep);
    c->result = "moved";
    return 0;
}

static int
move_seen(struct dbtx *tx, PGresult *res, void *arg)
{
    struct move_ctx *c = arg;

    if (PQntuples(res) == 0) {
        c->result = "duplicate";
        return 1;
    }
    dbtx_push(tx, sql_rows, move_rows, c, 2, c->a->actor, c->target);
    return 0;
}

static void
move_committed(enum db_outcome outcome, const char *err, void *arg)
{
    struct move_ctx *c = arg;
    struct app *app = c->a->app;

    (void)err; /* dbtx logged it */
    if (outcome != DB_OK) {
        move_finish(c, outcome, outcome == DB_UNAVAILABLE ? "unavailable" : "error");
        return;
    }
    if (strcmp(c->result, "moved") == 0) {
        log_info("member_moved", "member=%s from=%s to=%s merged=%s plan=%s", c->keep,
                 log_q(c->a->actor), log_q(c->target), *c->drop != '\0' ? c->drop : "-",
                 c->plan == MOVE_CARRY ? "carry" : "absorb");
        if (c->revoke != NULL) {
            oauth_dropped_revoke(c->revoke);
            c->revoke = NULL;
        }
    }
    if (c->queued > 0)
        queue_kick(app->queue);
    move_finish(c, DB_OK, c->result);
}

/* --- the checks before it ---------------------------------------------------------------- */

static void
move_fetched(enum remote_result result, const struct remote_key *key, void *arg)
{
    struct move_ctx *c = arg;
    struct activity_in *a = c->a;
    struct dbtx *tx;

    if (result != REMOTE_OK) {
        char why[64];

        snprintf(why, sizeof(why), "target_%s", remote_result_name(result));
        move_refuse(c, why);
        return;
    }
    /* Mastodon keeps the account the target URI resolves to; we keep only that URI itself. */
    if (strcmp(key->actor_id, c->target) != 0) {
        move_refuse(c, "target_id_differs");
        return;
    }
    if (!move_aliases_hold(key->also_known_as, key->n_also_known_as, a->actor)) {
        move_refuse(c, "no_also_known_as");
        return;
    }
    if (!activity_username_ok(key->preferred_username)) {
        move_refuse(c, "target_username");
        return;
    }
    c->inbox = xstrdup(key->inbox);
    c->acct = xasprintf("%s@%s", key->preferred_username, c->target_host);
    tx = dbtx_new(a->app->db, move_committed, c);
    dbtx_push(tx,
              "INSERT INTO seen_activity_ids (id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1",
              move_seen, c, 1, a->id);
    dbtx_run(tx);
}

static void
move_member_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct move_ctx *c = arg;
    struct activity_in *a = c->a;
    const char *why = NULL;
    char ours[URL_AUTHORITY_MAX];
    int member, blocked;

    (void)err;
    if (outcome != DB_OK) {
        move_finish(c, outcome, outcome == DB_UNAVAILABLE ? "unavailable" : "error");
        return;
    }
    member = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
    blocked = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    if (!member) {
        /* Moves of everyone reach us through relays: only members' are looked at. */
        log_debug("move_ignored", "actor=%s id=%s reason=not_a_member", log_q(a->actor),
                  log_q(a->id));
        move_finish(c, DB_OK, "ignored");
        return;
    }
    c->target = move_target(a->json, a->actor, &why);
    if (c->target == NULL) {
        move_refuse(c, why);
        return;
    }
    if (url_authority(c->target, c->target_host, sizeof(c->target_host)) < 0) {
        move_refuse(c, "no_target");
        return;
    }
    /* Our stand-ins name their member in alsoKnownAs: a member never moves into one of ours. */
    if (url_authority(a->app->cfg->base_url, ours, sizeof(ours)) < 0 ||
        strcmp(ours, c->target_host) == 0) {
        move_refuse(c, "target_is_ours");
        return;
    }
    if (blocked || policy_config_blocked(a->app->cfg, c->target_host)) {
        move_refuse(c, "target_blocked");
        return;
    }
    remote_actor_fetch(a->app->remote, c->target, move_fetched, c);
}

void
move_activity(struct activity_in *a, dispatch_done_fn done, void *arg)
{
    struct move_ctx *c = xcalloc(1, sizeof(*c));
    struct json_object *v = NULL;
    const char *target = NULL;
    char host[URL_AUTHORITY_MAX] = "";
    const char *params[2];

    c->a = a;
    c->done = done;
    c->done_arg = arg;
    c->result = "ignored";
    /* The target's host, for the admin's blocks; the Move itself is checked once it counts. */
    if (json_object_object_get_ex(a->json, "target", &v))
        target = activity_ref(v);
    if (target == NULL || url_authority(target, host, sizeof(host)) < 0)
        host[0] = '\0';
    params[0] = a->actor;
    params[1] = host;
    db_query(a->app->db,
             "SELECT (SELECT id FROM members WHERE actor_uri = $1 AND network = 'activitypub'),"
             " $2 <> '' AND host_blocked($2)",
             2, params, move_member_cb, c);
}
