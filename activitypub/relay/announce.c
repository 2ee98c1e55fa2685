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
#include "pgarray.h"
#include "url.h"
#include "xmalloc.h"

/*
 * One statement for a batch of posts (their authors $1, object ids $2 and origins $3, the
 * n-th of each one post): each author must be a member the relay follows with their
 * consent; each object id is remembered (ON CONFLICT: announced already, nothing comes
 * back; the same object twice in a batch counts once, for its first post); then the home
 * hosts of the linked members whose own archives say they followed the author on X (what
 * the author's archive says of its followers targets nobody), each looked up once (from the
 * author's followers by the followee index, then members by X id), and among them the
 * subscribed instances other than the post's origin. Dead hosts are left to the queue,
 * which stores no row for them. Rows come ordered by n.
 */
static const char sql_targets[] =
    "WITH p AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY"
    "  AS p(actor, object_id, domain, n)),"
    " m AS (SELECT p.n, mm.id, mm.x_id FROM p JOIN members mm ON mm.actor_uri = p.actor"
    "  WHERE mm.relay AND mm.state = 'linked' AND NOT mm.paused"
    "  AND mm.relay_follow_state = 'accepted' AND mm.x_id IS NOT NULL"
    "  AND NOT host_blocked(mm.host)),"
    " fresh AS (INSERT INTO relayed_objects (object_id, member_id)"
    "  SELECT DISTINCT ON (p.object_id) p.object_id, m.id FROM p JOIN m ON m.n = p.n"
    "  ORDER BY p.object_id, p.n"
    "  ON CONFLICT (object_id) DO NOTHING RETURNING object_id, member_id),"
    " fp AS (SELECT DISTINCT ON (fresh.object_id) p.n, p.domain, fresh.member_id"
    "  FROM fresh JOIN p ON p.object_id = fresh.object_id ORDER BY fresh.object_id, p.n),"
    " hosts AS (SELECT DISTINCT fp.n, f.host FROM fp JOIN m ON m.n = fp.n"
    "  JOIN x_edges e ON e.followee_x_id = m.x_id"
    "  JOIN members f ON f.x_id = e.follower_x_id AND f.id = e.member_id AND f.state = 'linked'"
    "  WHERE f.host <> fp.domain)"
    " SELECT fp.n, fp.member_id, i.domain, coalesce(i.shared_inbox, i.inbox)"
    " FROM fp JOIN hosts ON hosts.n = fp.n JOIN instances i ON i.domain = hosts.host"
    " WHERE i.relay_state = 'accepted' AND NOT i.blocked"
    "  AND coalesce(i.shared_inbox, i.inbox) IS NOT NULL AND NOT host_blocked(i.domain)"
    " ORDER BY fp.n";

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

/* The targets of one post (rows [from, to) of res) came back: one Announce for all. */
static void
announce_send(struct dbtx *tx, struct announce *an, PGresult *res, int from, int to)
{
    struct app *app = an->a->app;
    int k = 0;
    const char **inboxes;
    struct json_object *act;
    char *followers;

    inboxes = xcalloc((size_t)(to - from), sizeof(*inboxes));
    for (int i = from; i < to; i++) {
        /* The configuration's blocklist is not in the database. */
        if (!policy_config_blocked(app->cfg, PQgetvalue(res, i, 2)))
            inboxes[k++] = PQgetvalue(res, i, 3);
    }
    followers = xasprintf("%s/followers", app->relay_id);
    act = activity_announce_new(app->cfg->base_url, app->relay_id, followers, an->object_id);
    /* Tied to the member: their leaving drops what is still queued. */
    if (k > 0 && outbox_push(tx, "relay", act, inboxes, (size_t)k, PQgetvalue(res, from, 1)) == 0) {
        (*an->queued)++;
        log_info("relay_announced", "object=%s member=%s instances=%d", log_q(an->object_id),
                 PQgetvalue(res, from, 1), k);
    } else if (k == 0) {
        json_object_put(act);
    }
    free(followers);
    free(inboxes);
}

/* The targets came back, ordered by post: each post with targets gets its Announce. */
static int
announce_targets(struct dbtx *tx, PGresult *res, void *arg)
{
    struct announce_batch *b = arg;
    int rows = PQntuples(res);

    /* None: not relayed members, announced already, or nobody to tell. */
    for (int from = 0, to; from < rows; from = to) {
        long n = strtol(PQgetvalue(res, from, 0), NULL, 10);

        for (to = from + 1; to < rows && strtol(PQgetvalue(res, to, 0), NULL, 10) == n; to++)
            ;
        if (n < 1 || n > b->n)
            return -1;
        announce_send(tx, b->ans[n - 1], res, from, to);
    }
    return 0;
}

int
announce_push_batch(struct dbtx *tx, struct announce_batch *b)
{
    char **actors, **objects, **domains, *arr[3];
    int k = 0;

    for (int i = 0; i < b->n; i++) {
        struct activity_in *a = b->ans[i]->a;
        const char *why;

        if (!announce_eligible(a->json, a->type, a->actor, a->domain, &b->ans[i]->object_id, &why))
            log_debug("relay_not_announced", "id=%s reason=%s", log_q(a->id), why);
        else
            b->ans[k++] = b->ans[i];
    }
    b->n = k;
    if (k == 0)
        return 0;
    actors = xcalloc((size_t)k, sizeof(char *));
    objects = xcalloc((size_t)k, sizeof(char *));
    domains = xcalloc((size_t)k, sizeof(char *));
    for (int i = 0; i < k; i++) {
        actors[i] = xstrdup(b->ans[i]->a->actor);
        objects[i] = xstrdup(b->ans[i]->object_id);
        domains[i] = b->ans[i]->a->domain;
    }
    arr[0] = pgarray_text(actors, (size_t)k);
    arr[1] = pgarray_text(objects, (size_t)k);
    arr[2] = pgarray_text(domains, (size_t)k);
    dbtx_push(tx, sql_targets, announce_targets, b, 3, arr[0], arr[1], arr[2]);
    for (int i = 0; i < 3; i++)
        free(arr[i]);
    for (int i = 0; i < k; i++) {
        free(actors[i]);
        free(objects[i]);
    }
    free(actors);
    free(objects);
    free(domains);
    return 1;
}

int
announce_push(struct dbtx *tx, struct announce *an)
{
    an->self = an;
    an->one.ans = &an->self;
    an->one.n = 1;
    return announce_push_batch(tx, &an->one);
}
