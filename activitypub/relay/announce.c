/* Targeted relay: a member's public post Announced to the instances of their former X followers. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "activity.h"
#include "announce.h"
#include "app.h"
#include "config.h"
#include "dbtx.h"
#include "log.h"
#include "policy.h"
#include "queue.h"
#include "outbox.h"
#include "url.h"
#include "xmalloc.h"

/*
 * One statement: the author must be a member the relay follows with their consent; the
 * object id is remembered (ON CONFLICT: announced already, nothing comes back); then the
 * home hosts of the linked members whose own archives say they followed the author on X
 * (what the author's archive says of its followers targets nobody), each looked up once (from
 * the author's followers by the followee index, then members by X id), and among them the
 * subscribed instances other than the post's origin. Dead hosts are left to the queue,
 * which stores no row for them.
 */
static const char sql_targets[] =
    "WITH m AS (SELECT id, x_id FROM members WHERE actor_uri = $1 AND relay"
    "  AND state = 'linked' AND NOT paused AND relay_follow_state = 'accepted'"
    "  AND x_id IS NOT NULL AND NOT host_blocked(host)),"
    " fresh AS (INSERT INTO relayed_objects (object_id, member_id) SELECT $2, m.id FROM m"
    "  ON CONFLICT (object_id) DO NOTHING RETURNING member_id),"
    " hosts AS (SELECT DISTINCT f.host FROM fresh JOIN m ON m.id = fresh.member_id"
    "  JOIN x_edges e ON e.followee_x_id = m.x_id"
    "  JOIN members f ON f.x_id = e.follower_x_id AND f.id = e.member_id AND f.state = 'linked'"
    "  WHERE f.host <> $3)"
    " SELECT fresh.member_id, i.domain, coalesce(i.shared_inbox, i.inbox)"
    " FROM fresh, hosts JOIN instances i ON i.domain = hosts.host"
    " WHERE i.relay_state = 'accepted' AND NOT i.blocked"
    "  AND coalesce(i.shared_inbox, i.inbox) IS NOT NULL AND NOT host_blocked(i.domain)";

static const char *const announce_types[] = { "Note", "Article", "Question", "Page" };

/* 1 when v (a string or an array of strings) names the public collection. */
static int
announce_has_public(struct json_object *v)
{
    if (json_object_is_type(v, json_type_string))
        return activity_is_public(json_object_get_string(v));
    if (!json_object_is_type(v, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        struct json_object *e = json_object_array_get_idx(v, i);

        if (json_object_is_type(e, json_type_string) &&
            activity_is_public(json_object_get_string(e)))
            return 1;
    }
    return 0;
}

int
announce_eligible(struct json_object *activity, const char *type, const char *actor,
                  const char *actor_domain, const char **object_id, const char **why)
{
    struct json_object *obj = NULL, *v = NULL, *to = NULL;
    const char *otype, *id, *author;
    char host[URL_AUTHORITY_MAX];
    int known = 0;

    *object_id = NULL;
    if (strcmp(type, "Create") != 0) {
        /* Boosts, edits and deletions are not the member's own new posts. */
        *why = "not a Create";
        return 0;
    }
    if (!json_object_object_get_ex(activity, "object", &obj) ||
        !json_object_is_type(obj, json_type_object)) {
        /* Its addressing cannot be checked without fetching it: not relayed. */
        *why = "object not embedded";
        return 0;
    }
    if (!json_object_object_get_ex(obj, "type", &v) || !json_object_is_type(v, json_type_string)) {
        *why = "object has no type";
        return 0;
    }
    otype = json_object_get_string(v);
    for (size_t i = 0; i < sizeof(announce_types) / sizeof(announce_types[0]); i++)
        known |= strcmp(otype, announce_types[i]) == 0;
    if (!known) {
        *why = "object is not a post";
        return 0;
    }
    id = activity_ref(obj);
    /* Peers fetch the object by id: it must be the author's own, on the author's host. */
    if (id == NULL || url_authority(id, host, sizeof(host)) < 0 ||
        strcmp(host, actor_domain) != 0) {
        *why = "object id is not on the actor's host";
        return 0;
    }
    author = json_object_object_get_ex(obj, "attributedTo", &v) ? activity_ref(v) : NULL;
    if (author == NULL || strcmp(author, actor) != 0) {
        *why = "object is not attributed to the actor";
        return 0;
    }
    /* The object's own addressing decides; a Create that repeats it is only a copy. */
    if (!json_object_object_get_ex(obj, "to", &to) && !json_object_object_get_ex(obj, "cc", &v))
        json_object_object_get_ex(activity, "to", &to);
    if (!announce_has_public(to)) {
        *why = "not public (unlisted, followers-only or direct)";
        return 0;
    }
    *object_id = id;
    *why = NULL;
    return 1;
}

/* The targets came back: one Announce for all their inboxes. */
static int
announce_targets(struct dbtx *tx, PGresult *res, void *arg)
{
    struct announce *an = arg;
    struct app *app = an->a->app;
    int n = PQntuples(res), k = 0;
    const char **inboxes;
    struct json_object *act;
    char *followers;

    if (n == 0)
        return 0; /* not a relayed member, announced already, or nobody to tell */
    inboxes = xcalloc((size_t)n, sizeof(*inboxes));
    for (int i = 0; i < n; i++) {
        /* The configuration's blocklist is not in the database. */
        if (!policy_config_blocked(app->cfg, PQgetvalue(res, i, 1)))
            inboxes[k++] = PQgetvalue(res, i, 2);
    }
    followers = xasprintf("%s/followers", app->relay_id);
    act = activity_announce_new(app->cfg->base_url, app->relay_id, followers, an->object_id);
    /* Tied to the member: their leaving drops what is still queued. */
    if (k > 0 && outbox_push(tx, "relay", act, inboxes, (size_t)k, PQgetvalue(res, 0, 0)) == 0) {
        (*an->queued)++;
        log_info("relay_announced", "object=%s member=%s instances=%d", log_q(an->object_id),
                 PQgetvalue(res, 0, 0), k);
    } else if (k == 0) {
        json_object_put(act);
    }
    free(followers);
    free(inboxes);
    return 0;
}

int
announce_push(struct dbtx *tx, struct announce *an)
{
    struct activity_in *a = an->a;
    const char *why;

    if (!announce_eligible(a->json, a->type, a->actor, a->domain, &an->object_id, &why)) {
        log_debug("relay_not_announced", "id=%s reason=%s", log_q(a->id), why);
        return 0;
    }
    dbtx_push(tx, sql_targets, announce_targets, an, 3, a->actor, an->object_id, a->domain);
    return 1;
}
