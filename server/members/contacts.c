/* The member's found contacts on their page: keyset pages both ways, counts, ignore, undo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "app.h"
#include "atunfollow.h"
#include "contacts.h"
#include "db.h"
#include "linkpage.h"
#include "log.h"
#include "match.h"
#include "reply.h"
#include "texts.h"
#include "unfollow.h"
#include "utf8.h"
#include "xmalloc.h"

#define CONTACTS_MAX_BODY 512

/* --- pure parts ------------------------------------------------------------------------------ */

/* 1 to maxlen decimal digits. */
static int
contacts_digits(const char *s, size_t maxlen)
{
    size_t n = s != NULL ? strlen(s) : 0;

    return n > 0 && n <= maxlen && strspn(s, "0123456789") == n;
}

int
contacts_page_args(const char *dir, const char *after, const char *limit, struct contacts_page *out)
{
    long n = CONTACTS_PAGE_MAX;

    if (dir != NULL && strcmp(dir, "following") == 0)
        out->dir = "following";
    else if (dir != NULL && strcmp(dir, "followers") == 0)
        out->dir = "followers";
    else
        return -1;
    if (after != NULL && !contacts_digits(after, 18))
        return -1;
    snprintf(out->after, sizeof(out->after), "%s", after != NULL ? after : "0");
    if (limit != NULL) {
        if (!contacts_digits(limit, 3))
            return -1;
        n = strtol(limit, NULL, 10);
        if (n < 1 || n > CONTACTS_PAGE_MAX)
            return -1;
    }
    snprintf(out->limit, sizeof(out->limit), "%ld", n);
    return 0;
}

int
contacts_body(const char *body, size_t len, int allow_all, char x_id[24], int *all)
{
    struct json_tokener *tok;
    struct json_object *o, *v = NULL;
    int rc = -1;

    x_id[0] = '\0';
    *all = 0;
    if (body == NULL || len == 0 || len > CONTACTS_MAX_BODY || utf8_count(body, len) < 0)
        return -1;
    tok = json_tokener_new_ex(4);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = json_tokener_parse_ex(tok, body, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object) ||
        json_object_object_length(o) != 1)
        goto out;
    if (json_object_object_get_ex(o, "x_id", &v)) {
        const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;

        if (!contacts_digits(s, 19) || strspn(s, "0") == strlen(s) ||
            (strlen(s) == 19 && strcmp(s, "9223372036854775807") > 0))
            goto out;
        snprintf(x_id, 24, "%s", s);
        rc = 0;
    } else if (allow_all && json_object_object_get_ex(o, "all", &v) &&
               json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v)) {
        *all = 1;
        rc = 0;
    }
out:
    json_object_put(o);
    json_tokener_free(tok);
    return rc;
}

const char *
contacts_status(const char *dir, int ignored, const char *state, const char *method, int notified)
{
    /* Automatic: through the fediverse member's server, or written in a Bluesky repository. */
    int api = method != NULL && (strcmp(method, "api") == 0 || strcmp(method, "atproto") == 0);

    if (ignored)
        return "ignored";
    if (strcmp(dir, "followers") == 0)
        return state != NULL && strcmp(state, "done") == 0 ? "follows_you" : "here";
    if (state == NULL)
        return "found";
    if (strcmp(state, "done") == 0)
        return "followed";
    if (strcmp(state, "unfollow") == 0)
        return "undoing";
    if (strcmp(state, "unfollowed") == 0)
        return "undone";
    if (strcmp(state, "failed") == 0)
        return "failed";
    if (strcmp(state, "undone") == 0)
        return "stopped"; /* the matcher's: paused, blocked, reported... */
    if (!api)
        return notified ? "told" : "found";
    return strcmp(state, "held") == 0 ? "held" : "waiting";
}

char *
contacts_url(const char *network, const char *actor_uri, const char *acct)
{
    if (network != NULL && strcmp(network, "atproto") == 0) {
        char *enc = evhttp_uriencode(acct != NULL ? acct : actor_uri, -1, 0);
        char *url = xasprintf("https://bsky.app/profile/%s", enc);

        free(enc);
        return url;
    }
    return xstrdup(actor_uri);
}

/* --- requests -------------------------------------------------------------------------------- */

/* One request waiting on the database; frees itself in its callback. */
struct contacts_req {
    struct app *app;
    struct evhttp_request *req;
    char dir[16];
    char x_id[24];
    int all;
};

static struct contacts_req *
contacts_req_new(struct app *app, struct evhttp_request *req)
{
    struct contacts_req *c = xcalloc(1, sizeof(*c));

    c->app = app;
    c->req = req;
    return c;
}

/* The common failures: DB_OK is left to the caller (0); anything else is answered (-1). */
static int
contacts_db_failed(struct contacts_req *c, enum db_outcome outcome, const char *err)
{
    if (outcome == DB_OK)
        return 0;
    log_warn("contacts_failed", "error=%s", log_q(err));
    reply_fail(c->req, REPLY_ERR_UNAVAILABLE,
               texts_get(reply_req_lang(c->req), "page.db_unavailable"));
    return -1;
}

static void
contacts_no_store(struct evhttp_request *req)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
}

static long long
contacts_num(PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* --- GET /link/contacts ---------------------------------------------------------------------- */

/* The pair's follow_actions row in the way that matters, as f: one probe of its unique key. */
#define CONTACTS_SQL_PAIR_WHERE                                                                    \
    "  f.follower_id = CASE v.dir WHEN 'following' THEN v.member_id ELSE v.contact_id END"         \
    "  AND f.followee_id = CASE v.dir WHEN 'following' THEN v.contact_id ELSE v.member_id END"
#define CONTACTS_SQL_PAIR " LEFT JOIN follow_actions f ON" CONTACTS_SQL_PAIR_WHERE

/*
 * One page: the member's contacts rows by their primary key, in order, each looked up in
 * contacts_visible and follow_actions by its keys. The lookups are lateral and not flattened
 * (OFFSET 0): flattened, PostgreSQL misjudges how many rows pass and joins every row of the
 * member before the LIMIT (250 ms at 50,000 contacts instead of 1). $4 + 1 rows tell whether
 * there is a next page.
 */
static const char sql_page[] =
    "SELECT v.contact_id, v.x_id, v.x_handle, coalesce(v.acct, v.actor_uri), v.actor_uri,"
    " v.network, v.ignored, f.state, f.method, f.notified_at IS NOT NULL,"
    /* Made across the networks, so through Bridgy Fed (the matcher plans no other). */
    " coalesce(f.method IN ('api', 'atproto') AND f.state IN ('done', 'unfollow')"
    "  AND v.network <> (SELECT m.network FROM members m WHERE m.id = $1::bigint), false),"
    /* Undo is offered for a follow made for the member; on Bluesky, a record passerelle wrote. */
    " coalesce(v.dir = 'following' AND f.state = 'done'"
    "  AND (f.method = 'api' OR (f.method = 'atproto' AND f.record_written)), false)"
    " FROM contacts c"
    " CROSS JOIN LATERAL (SELECT * FROM contacts_visible v WHERE v.member_id = c.member_id"
    "  AND v.dir = c.dir AND v.contact_id = c.contact_id OFFSET 0) v"
    " LEFT JOIN LATERAL (SELECT f.state, f.method, f.notified_at, f.record_written"
    "  FROM follow_actions f"
    "  WHERE" CONTACTS_SQL_PAIR_WHERE " OFFSET 0) f ON true"
    " WHERE c.member_id = $1::bigint AND c.dir = $2 AND c.contact_id > $3::bigint"
    " ORDER BY c.contact_id LIMIT $4::int + 1";

static struct json_object *
contacts_row_json(PGresult *res, int i, const char *dir)
{
    struct json_object *o = json_object_new_object();
    char *url = contacts_url(PQgetvalue(res, i, 5), PQgetvalue(res, i, 4),
                             PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3));
    const char *status = contacts_status(dir, strcmp(PQgetvalue(res, i, 6), "t") == 0,
                                         PQgetisnull(res, i, 7) ? NULL : PQgetvalue(res, i, 7),
                                         PQgetisnull(res, i, 8) ? NULL : PQgetvalue(res, i, 8),
                                         strcmp(PQgetvalue(res, i, 9), "t") == 0);

    json_object_object_add(o, "x_id", json_object_new_string(PQgetvalue(res, i, 1)));
    json_object_object_add(
        o, "handle", PQgetisnull(res, i, 2) ? NULL : json_object_new_string(PQgetvalue(res, i, 2)));
    json_object_object_add(o, "acct", json_object_new_string(PQgetvalue(res, i, 3)));
    json_object_object_add(o, "url", json_object_new_string(url));
    json_object_object_add(o, "network", json_object_new_string(PQgetvalue(res, i, 5)));
    json_object_object_add(o, "status", json_object_new_string(status));
    json_object_object_add(o, "bridged",
                           json_object_new_boolean(strcmp(PQgetvalue(res, i, 10), "t") == 0));
    json_object_object_add(o, "undo",
                           json_object_new_boolean(strcmp(PQgetvalue(res, i, 11), "t") == 0));
    free(url);
    return o;
}

static void
contacts_page_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct contacts_req *c = arg;

    if (contacts_db_failed(c, outcome, err) == 0) {
        struct json_object *o = json_object_new_object(), *list = json_object_new_array();
        int n = PQntuples(res), limit = (int)strtol(c->x_id, NULL, 10);
        int shown = n > limit ? limit : n;

        for (int i = 0; i < shown; i++)
            json_object_array_add(list, contacts_row_json(res, i, c->dir));
        json_object_object_add(o, "dir", json_object_new_string(c->dir));
        json_object_object_add(o, "contacts", list);
        json_object_object_add(
            o, "next", n > limit ? json_object_new_string(PQgetvalue(res, shown - 1, 0)) : NULL);
        contacts_no_store(c->req);
        reply_json(c->req, 200, "application/json", o);
    }
    PQclear(res);
    free(c);
}

static void
contacts_list_session_cb(struct app *app, struct evhttp_request *req, const char *member_id,
                         void *arg)
{
    char *dir = reply_req_param(req, "dir"), *after = reply_req_param(req, "after");
    char *limit = reply_req_param(req, "limit");
    struct contacts_page pg;
    int rc = contacts_page_args(dir, after, limit, &pg);

    (void)arg;
    free(dir);
    free(after);
    free(limit);
    if (rc < 0) {
        reply_fail(req, REPLY_ERR_BAD_REQUEST,
                   "expected dir=following or dir=followers, after=<cursor>, limit=1..100");
        return;
    }
    {
        struct contacts_req *c = contacts_req_new(app, req);
        const char *params[4] = { member_id, pg.dir, pg.after, pg.limit };

        snprintf(c->dir, sizeof(c->dir), "%s", pg.dir);
        snprintf(c->x_id, sizeof(c->x_id), "%s", pg.limit); /* the page's size, for the answer */
        db_query(app->db, sql_page, 4, params, contacts_page_cb, c);
    }
}

void
contacts_list(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    linkpage_session(app, req, 0, contacts_list_session_cb, NULL);
}

/* --- GET /link/contacts/counts --------------------------------------------------------------- */

/*
 * Found each way, followed for the member, came back (former followers here, not ignored:
 * contacts_came_back, counted in the same pass) and how many of those follow the member
 * again, and follows being undone. One pass over the member's rows.
 */
static const char sql_counts[] =
    "SELECT count(*) FILTER (WHERE v.dir = 'following'),"
    " count(*) FILTER (WHERE v.dir = 'followers'),"
    " count(*) FILTER (WHERE v.dir = 'following' AND f.state = 'done'),"
    " count(*) FILTER (WHERE v.dir = 'followers' AND NOT v.ignored),"
    " count(*) FILTER (WHERE v.dir = 'followers' AND NOT v.ignored AND f.state = 'done'),"
    " (SELECT count(*) FROM follow_actions f WHERE f.follower_id = $1::bigint"
    "  AND f.state = 'unfollow')"
    " FROM contacts_visible v" CONTACTS_SQL_PAIR " WHERE v.member_id = $1::bigint";

static void
contacts_counts_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct contacts_req *c = arg;

    if (contacts_db_failed(c, outcome, err) == 0) {
        struct json_object *o = json_object_new_object(), *back = json_object_new_object();

        json_object_object_add(o, "following", json_object_new_int64(contacts_num(res, 0, 0)));
        json_object_object_add(o, "followers", json_object_new_int64(contacts_num(res, 0, 1)));
        json_object_object_add(o, "followed", json_object_new_int64(contacts_num(res, 0, 2)));
        json_object_object_add(back, "here", json_object_new_int64(contacts_num(res, 0, 3)));
        json_object_object_add(back, "again", json_object_new_int64(contacts_num(res, 0, 4)));
        json_object_object_add(o, "came_back", back);
        json_object_object_add(o, "undoing", json_object_new_int64(contacts_num(res, 0, 5)));
        contacts_no_store(c->req);
        reply_json(c->req, 200, "application/json", o);
    }
    PQclear(res);
    free(c);
}

static void
contacts_counts_session_cb(struct app *app, struct evhttp_request *req, const char *member_id,
                           void *arg)
{
    const char *params[1] = { member_id };

    (void)arg;
    db_query(app->db, sql_counts, 1, params, contacts_counts_cb, contacts_req_new(app, req));
}

void
contacts_counts(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    linkpage_session(app, req, 0, contacts_counts_session_cb, NULL);
}

/* --- POST /link/contacts/ignore, /restore ---------------------------------------------------- */

/* Whether $2 is in the member's own archive, either way: two primary-key probes. */
#define CONTACTS_SQL_KNOWN                                                                         \
    "WITH known AS (SELECT m.id FROM members m WHERE m.id = $1::bigint AND ("                      \
    "  EXISTS (SELECT 1 FROM x_edges e WHERE e.follower_x_id = m.x_id"                             \
    "   AND e.followee_x_id = $2::bigint AND e.member_id = m.id)"                                  \
    "  OR EXISTS (SELECT 1 FROM x_edges e WHERE e.follower_x_id = $2::bigint"                      \
    "   AND e.followee_x_id = m.x_id AND e.member_id = m.id))),"

/* The ledger line and the due mark, when something changed ($4: the action). */
#define CONTACTS_SQL_RECORD                                                                        \
    " led AS (INSERT INTO contact_ledger (member_id, action, x_id, rows, source, client_addr)"     \
    "  SELECT known.id, $4, $2::bigint, ch.n, 'page', $3::inet FROM known, ch WHERE ch.n > 0"      \
    "  RETURNING 1),"                                                                              \
    " due AS (UPDATE members m SET match_due_at = now(), updated_at = now()"                       \
    "  FROM known, ch WHERE m.id = known.id AND ch.n > 0 RETURNING 1)"                             \
    " SELECT (SELECT count(*) FROM known), (SELECT n FROM ch)"

static const char sql_ignore[] = CONTACTS_SQL_KNOWN
    " ins AS (INSERT INTO member_excludes (member_id, x_id, reason)"
    "  SELECT known.id, $2::bigint, 'ignored' FROM known ON CONFLICT DO NOTHING RETURNING 1),"
    " ch AS (SELECT count(*) AS n FROM ins)," CONTACTS_SQL_RECORD;

/* Restoring also gives undone follows back to the matcher, which judges them afresh. */
static const char sql_restore[] = CONTACTS_SQL_KNOWN
    " del AS (DELETE FROM member_excludes x USING known WHERE x.member_id = known.id"
    "  AND x.x_id = $2::bigint AND x.reason = 'ignored' RETURNING 1),"
    " back AS (UPDATE follow_actions f SET state = 'undone', last_error = 'restored by the member',"
    "   next_attempt_at = NULL, updated_at = now()"
    "  FROM known, members c WHERE f.follower_id = known.id AND f.followee_id = c.id"
    "   AND c.x_id = $2::bigint AND f.state = 'unfollowed' RETURNING 1),"
    " ch AS (SELECT (SELECT count(*) FROM del) + (SELECT count(*) FROM back) AS "
    "n)," CONTACTS_SQL_RECORD;

static void
contacts_changed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct contacts_req *c = arg;

    if (contacts_db_failed(c, outcome, err) == 0) {
        if (PQntuples(res) != 1 || contacts_num(res, 0, 0) == 0) {
            reply_fail(c->req, REPLY_ERR_NOT_FOUND,
                       texts_get(reply_req_lang(c->req), "contacts.unknown"));
        } else {
            struct json_object *o = json_object_new_object();
            long long n = contacts_num(res, 0, 1);

            log_info("contact_changed", "action=%s x_id=%s changed=%lld source=page", c->dir,
                     c->x_id, n);
            if (n > 0)
                match_kick(c->app->match); /* its pairs are judged again (match_due_at set) */
            json_object_object_add(o, "x_id", json_object_new_string(c->x_id));
            json_object_object_add(o, "changed", json_object_new_int64(n));
            reply_json(c->req, 200, "application/json", o);
        }
    }
    PQclear(res);
    free(c);
}

/* The body of a POST, for the session callbacks: 0 with x_id (or all), or answered (-1). */
static int
contacts_read_body(struct evhttp_request *req, int allow_all, char x_id[24], int *all)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);

    if (len > CONTACTS_MAX_BODY || contacts_body((const char *)evbuffer_pullup(in, (ev_ssize_t)len),
                                                 len, allow_all, x_id, all) < 0) {
        reply_fail(req, REPLY_ERR_BAD_REQUEST,
                   allow_all ? "expected {\"x_id\": \"<digits>\"} or {\"all\": true}"
                             : "expected {\"x_id\": \"<digits>\"}");
        return -1;
    }
    return 0;
}

static void
contacts_change(struct app *app, struct evhttp_request *req, const char *member_id,
                const char *action)
{
    struct contacts_req *c = contacts_req_new(app, req);
    char addr[64];
    const char *params[4];

    if (contacts_read_body(req, 0, c->x_id, &c->all) < 0) {
        free(c);
        return;
    }
    snprintf(c->dir, sizeof(c->dir), "%s", action);
    reply_req_peer(req, addr, sizeof(addr));
    params[0] = member_id;
    params[1] = c->x_id;
    params[2] = addr[0] != '\0' ? addr : NULL;
    params[3] = action;
    db_query(app->db, strcmp(action, "ignore") == 0 ? sql_ignore : sql_restore, 4, params,
             contacts_changed_cb, c);
}

static void
contacts_ignore_session_cb(struct app *app, struct evhttp_request *req, const char *member_id,
                           void *arg)
{
    (void)arg;
    contacts_change(app, req, member_id, "ignore");
}

static void
contacts_restore_session_cb(struct app *app, struct evhttp_request *req, const char *member_id,
                            void *arg)
{
    (void)arg;
    contacts_change(app, req, member_id, "restore");
}

void
contacts_ignore(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    linkpage_session(app, req, 1, contacts_ignore_session_cb, NULL);
}

void
contacts_restore(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    linkpage_session(app, req, 1, contacts_restore_session_cb, NULL);
}

/* --- POST /link/contacts/undo ---------------------------------------------------------------- */

/*
 * The follows made for the member toward $2 (NULL: every one) are queued for the unfollow
 * workers, counted afresh: a fediverse home's through their server's client API (unfollow.c),
 * a Bluesky home's only when passerelle wrote the record in their repository and they have a
 * grant to delete it with (atunfollow.c). Also counted, for the answer when nothing is queued:
 * Bluesky follows whose record the member made themselves, and whether a grant is missing.
 */
static const char sql_undo[] =
    "WITH m AS (SELECT id, network, network = 'activitypub'"
    "   OR EXISTS (SELECT 1 FROM atproto_grants g WHERE g.member_id = members.id) AS granted"
    "  FROM members WHERE id = $1::bigint),"
    " t AS (SELECT f.id, f.method, f.record_written FROM follow_actions f, m"
    "  WHERE f.follower_id = m.id AND f.state = 'done'"
    "   AND f.method = CASE m.network WHEN 'atproto' THEN 'atproto' ELSE 'api' END"
    "   AND ($2::bigint IS NULL"
    "    OR f.followee_id IN (SELECT c.id FROM members c WHERE c.x_id = $2::bigint))),"
    " q AS (UPDATE follow_actions f SET state = 'unfollow', attempts = 0, next_attempt_at = now(),"
    "   last_error = NULL, updated_at = now()"
    "  FROM t, m WHERE f.id = t.id AND m.granted"
    "   AND (t.method = 'api' OR (t.record_written AND f.record_uri IS NOT NULL))"
    "  RETURNING f.id, f.method),"
    " led AS (INSERT INTO contact_ledger (member_id, action, x_id, rows, source, client_addr)"
    "  SELECT m.id, CASE WHEN $2::bigint IS NULL THEN 'undo_all' ELSE 'undo' END, $2::bigint,"
    "   (SELECT count(*) FROM q), 'page', $3::inet FROM m WHERE EXISTS (SELECT 1 FROM q)"
    "  RETURNING 1)"
    " SELECT (SELECT count(*) FROM q), (SELECT count(*) FROM q WHERE method = 'atproto'),"
    "  (SELECT count(*) FROM t WHERE t.method = 'atproto' AND NOT coalesce(t.record_written,"
    " false)),"
    "  coalesce((SELECT granted FROM m), true)";

static void
contacts_undo_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct contacts_req *c = arg;

    if (contacts_db_failed(c, outcome, err) == 0) {
        long long n = PQntuples(res) == 1 ? contacts_num(res, 0, 0) : 0;
        long long sky = n > 0 ? contacts_num(res, 0, 1) : 0;

        log_info("contact_undo", "x_id=%s queued=%lld source=page", c->all ? "all" : c->x_id, n);
        if (n == 0) {
            struct json_object *o = json_object_new_object();
            const char *why = "contacts.nothing_to_undo";

            if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 3), "t") != 0)
                why = "contacts.undo_no_grant"; /* a Bluesky home without a grant */
            else if (PQntuples(res) == 1 && contacts_num(res, 0, 2) > 0)
                why = "contacts.undo_theirs"; /* their own follow record: never deleted */
            json_object_object_add(o, "error",
                                   json_object_new_string(texts_get(reply_req_lang(c->req), why)));
            reply_json(c->req, 409, "application/json", o);
        } else {
            struct json_object *o = json_object_new_object();

            if (sky > 0)
                atunfollow_kick(c->app->atunfollow);
            if (sky < n)
                unfollow_kick(c->app->unfollow);
            json_object_object_add(o, "queued", json_object_new_int64(n));
            json_object_object_add(o, "bluesky", json_object_new_int64(sky));
            reply_json(c->req, 200, "application/json", o);
        }
    }
    PQclear(res);
    free(c);
}

static void
contacts_undo_session_cb(struct app *app, struct evhttp_request *req, const char *member_id,
                         void *arg)
{
    struct contacts_req *c = contacts_req_new(app, req);
    char addr[64];
    const char *params[3];

    (void)arg;
    if (contacts_read_body(req, 1, c->x_id, &c->all) < 0) {
        free(c);
        return;
    }
    reply_req_peer(req, addr, sizeof(addr));
    params[0] = member_id;
    params[1] = c->all ? NULL : c->x_id;
    params[2] = addr[0] != '\0' ? addr : NULL;
    db_query(app->db, sql_undo, 3, params, contacts_undo_cb, c);
}

void
contacts_undo(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    linkpage_session(app, req, 1, contacts_undo_session_cb, NULL);
}
