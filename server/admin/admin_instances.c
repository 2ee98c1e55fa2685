/* passerelle admin instances list|allow|block|unblock, and notice: the relay's subscribers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "activity.h"
#include "admin_internal.h"
#include "log.h"
#include "policy.h"
#include "outbox.h"
#include "xmalloc.h"

int
admin_instances_list(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT domain, relay_state, coalesce(style, '-'),"
        " CASE WHEN blocked THEN 'yes' ELSE 'no' END, CASE WHEN allowed THEN 'yes' ELSE 'no' END,"
        " CASE WHEN dead THEN 'yes' ELSE 'no' END, consecutive_failures,"
        " coalesce(to_char(last_success_at AT TIME ZONE 'UTC', $2), '-')"
        " FROM instances WHERE $1::boolean OR relay_state <> 'none' OR blocked OR allowed"
        " ORDER BY domain";
    static const char *const head[] = { "DOMAIN",  "RELAY_STATE", "STYLE",    "BLOCKED",
                                        "ALLOWED", "DEAD",        "FAILURES", "LAST_SUCCESS" };
    enum { NCOL = sizeof(head) / sizeof(head[0]) };
    const char *params[2] = { r->all ? "true" : "false", ADMIN_ISO };
    PGresult *res = admin_sql_exec(c->pg, sql, 2, params, err, errlen);

    if (res == NULL)
        return -1;
    admin_sql_table(res, head, NCOL, 1u << 0, "");
    PQclear(res);
    return 0;
}

/* The subscription a domain has, as admin_mark returns it. */
struct admin_instances_sub {
    char state[16];
    int litepub;
    const char *actor, *follow_id, *inbox; /* borrowed from the result; NULL when unknown */
};

/*
 * Members on DOMAIN ($1), its subdomains and ports (as host_blocked() matches them), are
 * matched again: whether follows to and from them qualify depends on the block.
 */
static const char sql_rematch_domain[] =
    "UPDATE members SET match_due_at = now() WHERE host = $1"
    " OR regexp_replace(host, ':[0-9]+$', '') = $1"
    " OR (regexp_replace(host, ':[0-9]+$', '') !~ '^[0-9.]+$|^\\[|:'"
    "  AND regexp_replace(host, ':[0-9]+$', '') LIKE '%.' || $1)";

/*
 * Opens the transaction and marks domain allowed (and not blocked) or blocked (and not
 * allowed), inserting it when unknown; its members are due for matching. The row is locked
 * until the end, so a Follow the inbox handles meanwhile waits. Returns the result s borrows
 * from, or NULL with err set.
 */
static PGresult *
admin_instances_mark(struct admin_ctx *c, const char *domain, int allow,
                     struct admin_instances_sub *s, char *err, size_t errlen)
{
    static const char sql[] =
        "INSERT INTO instances (domain, allowed, blocked) VALUES ($1, $2::boolean, NOT $2::boolean)"
        " ON CONFLICT (domain) DO UPDATE"
        " SET allowed = $2::boolean, blocked = NOT $2::boolean, updated_at = now()"
        " RETURNING relay_state, coalesce(style, 'mastodon'), actor_uri, follow_id,"
        " coalesce(shared_inbox, inbox)";
    const char *params[2] = { domain, allow ? "true" : "false" };
    PGresult *res;

    if (admin_sql_run(c->pg, "BEGIN", 0, NULL, err, errlen) < 0)
        return NULL;
    res = admin_sql_exec(c->pg, sql, 2, params, err, errlen);
    if (res == NULL)
        return NULL;
    if (admin_sql_run(c->pg, sql_rematch_domain, 1, params, err, errlen) < 0) {
        PQclear(res);
        return NULL;
    }
    snprintf(s->state, sizeof(s->state), "%s", PQgetvalue(res, 0, 0));
    s->litepub = strcmp(PQgetvalue(res, 0, 1), "litepub") == 0;
    s->actor = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2);
    s->follow_id = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
    s->inbox = PQgetisnull(res, 0, 4) ? NULL : PQgetvalue(res, 0, 4);
    return res;
}

/*
 * Queues the Accept or Reject of the subscriber's Follow to its inbox. The Follow is
 * rebuilt: Mastodon's object is Public, LitePub's the relay actor. *rows stays 0 when the
 * Follow lacks what an answer needs.
 */
static int
admin_instances_answer(struct admin_ctx *c, const struct admin_instances_sub *s, int accept,
                       int flags, long *rows, char *err, size_t errlen)
{
    const char *object = s->litepub ? c->relay_id : ACTIVITY_PUBLIC;
    const char *base = c->cfg->base_url;
    struct json_object *act;
    int rc;

    *rows = 0;
    if (s->actor == NULL || s->follow_id == NULL || s->inbox == NULL)
        return 0;
    act = accept ? activity_accept_new(base, c->relay_id, s->actor, s->follow_id, object)
                 : activity_reject_new(base, c->relay_id, s->actor, s->follow_id, object);
    rc = admin_sql_enqueue(c->pg, "relay", act, &s->inbox, 1, flags, rows, err, errlen);
    json_object_put(act);
    return rc;
}

int
admin_instances_allow(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql_accept[] =
        "UPDATE instances SET relay_state = 'accepted', subscribed_at = now(), updated_at = now(),"
        " our_follow_id = coalesce($2::text, our_follow_id),"
        " our_follow_state = CASE WHEN $2::text IS NULL THEN our_follow_state ELSE 'pending' END"
        " WHERE domain = $1";
    const char *params[2] = { r->domain, NULL };
    struct json_object *follow = NULL;
    struct admin_instances_sub s;
    PGresult *res;
    long accepts = 0, follows = 0;
    int rc = -1, pending;

    if (policy_config_blocked(c->cfg, r->domain)) {
        snprintf(err, errlen,
                 "%s is blocked by relay_block in the configuration; remove it there first",
                 r->domain);
        return -1;
    }
    res = admin_instances_mark(c, r->domain, 1, &s, err, errlen);
    if (res == NULL)
        return -1;
    pending = strcmp(s.state, "pending") == 0;
    if (pending && admin_instances_answer(c, &s, 1, 0, &accepts, err, errlen) < 0)
        goto out;
    if (pending && accepts > 0 && s.litepub) {
        /* LitePub servers publish only to their relay actor's followers. */
        follow = activity_follow_new(c->cfg->base_url, c->relay_id, s.actor);
        if (admin_sql_enqueue(c->pg, "relay", follow, &s.inbox, 1, 0, &follows, err, errlen) < 0)
            goto out;
        params[1] = json_object_get_string(json_object_object_get(follow, "id"));
    }
    if (accepts > 0 && admin_sql_run(c->pg, sql_accept, 2, params, err, errlen) < 0)
        goto out;
    if (admin_sql_run(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    log_info("admin_instances_allow", "domain=%s was=%s accept_rows=%ld follow_rows=%ld",
             log_q(r->domain), s.state, accepts, follows);
    printf("%s allowed\n", r->domain);
    if (accepts > 0)
        printf("pending subscription accepted: Accept queued%s\n",
               !s.litepub    ? ""
               : follows > 0 ? ", Follow back queued"
                             : ", Follow back not queued");
    else if (pending)
        fprintf(stderr,
                "passerelle admin: %s: no Accept could be queued (no inbox or Follow id "
                "known, or the host is dead); it stays pending and is accepted when it "
                "follows again\n",
                r->domain);
    rc = 0;
out:
    PQclear(res);
    json_object_put(follow);
    return rc;
}

int
admin_instances_block(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql_drop[] =
        "UPDATE deliveries d SET state = 'dropped', last_error = 'host blocked by admin',"
        " claimed_until = NULL, claimed_by = NULL, updated_at = now()"
        " WHERE d.state = 'pending' AND host_blocked(d.host)"
        " AND NOT (SELECT despite_block FROM activities a WHERE a.id = d.activity_id)";
    static const char sql_reject[] =
        "UPDATE instances SET relay_state = 'rejected', updated_at = now() WHERE domain = $1";
    const char *params[1] = { r->domain };
    struct admin_instances_sub s;
    PGresult *res, *drop = NULL;
    long rejects = 0;
    int rc = -1, subscribed;

    res = admin_instances_mark(c, r->domain, 0, &s, err, errlen);
    if (res == NULL)
        return -1;
    subscribed = strcmp(s.state, "accepted") == 0 || strcmp(s.state, "pending") == 0;
    /*
     * Dropped before the Reject is queued, so the Reject is the one row that remains. The
     * block covers subdomains and ports (host_blocked); rows of hosts blocked before, left by
     * an older version, go too.
     */
    drop = admin_sql_exec(c->pg, sql_drop, 0, NULL, err, errlen);
    if (drop == NULL)
        goto out;
    if (subscribed &&
        (admin_instances_answer(c, &s, 0, OUTBOX_DESPITE_BLOCK, &rejects, err, errlen) < 0 ||
         admin_sql_run(c->pg, sql_reject, 1, params, err, errlen) < 0))
        goto out;
    if (admin_sql_run(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    log_info("admin_instances_block", "domain=%s was=%s reject_rows=%ld dropped=%s",
             log_q(r->domain), s.state, rejects, PQcmdTuples(drop));
    printf("%s blocked; %s pending deliveries dropped\n", r->domain, PQcmdTuples(drop));
    if (subscribed)
        printf("subscription (%s) rejected: %s\n", s.state,
               rejects > 0 ? "Reject queued"
                           : "no Reject queued (no inbox or Follow id known, or the host is dead)");
    rc = 0;
out:
    PQclear(res);
    PQclear(drop);
    return rc;
}

int
admin_instances_unblock(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql[] = "UPDATE instances SET blocked = false, updated_at = now()"
                              " WHERE domain = $1 AND blocked";
    const char *params[1] = { r->domain };
    PGresult *res;
    int changed;

    if (admin_sql_run(c->pg, "BEGIN", 0, NULL, err, errlen) < 0 ||
        (res = admin_sql_exec(c->pg, sql, 1, params, err, errlen)) == NULL)
        return -1;
    changed = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if ((changed && admin_sql_run(c->pg, sql_rematch_domain, 1, params, err, errlen) < 0) ||
        admin_sql_run(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        return -1;
    if (changed) {
        log_info("admin_instances_unblock", "domain=%s", log_q(r->domain));
        printf("%s unblocked (it must follow the relay again to subscribe)\n", r->domain);
    } else {
        printf("%s was not blocked; nothing changed\n", r->domain);
    }
    return 0;
}


int
admin_instances_notice(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql[] = "SELECT domain, coalesce(shared_inbox, inbox) FROM instances"
                              " WHERE relay_state = 'accepted' AND NOT blocked AND NOT dead"
                              " AND coalesce(shared_inbox, inbox) IS NOT NULL ORDER BY domain";
    struct json_object *note = NULL;
    const char **inboxes = NULL;
    PGresult *res;
    size_t n = 0;
    long queued = 0;
    int rc = -1;

    if (admin_sql_run(c->pg, "BEGIN", 0, NULL, err, errlen) < 0)
        return -1;
    res = admin_sql_exec(c->pg, sql, 0, NULL, err, errlen);
    if (res == NULL)
        return -1;
    inboxes = xcalloc((size_t)PQntuples(res) + 1, sizeof(*inboxes));
    for (int i = 0; i < PQntuples(res); i++)
        /* The database does not know what the configuration blocks. */
        if (!policy_config_blocked(c->cfg, PQgetvalue(res, i, 0)))
            inboxes[n++] = PQgetvalue(res, i, 1);
    note = activity_note_new(c->cfg->base_url, c->relay_id, c->followers, r->text);
    if (n > 0 && admin_sql_enqueue(c->pg, "relay", note, inboxes, n, 0, &queued, err, errlen) < 0)
        goto out;
    if (admin_sql_run(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    log_info("admin_instances_notice", "subscribers=%zu rows=%ld id=%s", n, queued,
             log_q(json_object_get_string(json_object_object_get(note, "id"))));
    printf("notice queued for %ld inboxes\n", queued);
    rc = 0;
out:
    PQclear(res);
    free(inboxes);
    json_object_put(note);
    return rc;
}
