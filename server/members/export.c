/* GET /me/following.csv: the member's found contacts, for their server's "following" import. */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <libpq-fe.h>

#include "app.h"
#include "db.h"
#include "export.h"
#include "reply.h"
#include "linkpage.h"
#include "log.h"

/*
 * The rows the matcher planned for this follower whose followee still qualifies as found;
 * oldest first, as they were told. Not the undone ones, nor those the member undid or ignored
 * on their page: importing the file would follow them again. $2 caps the file.
 */
static const char sql_following[] =
    "SELECT coalesce(a.acct, '') FROM follow_actions f JOIN members a ON a.id = f.followee_id"
    " WHERE f.follower_id = $1::bigint AND f.state NOT IN ('undone', 'unfollow', 'unfollowed')"
    "  AND a.state = 'linked' AND a.findable AND a.acct IS NOT NULL"
    "  AND NOT EXISTS (SELECT 1 FROM member_excludes x WHERE x.member_id = f.follower_id"
    "   AND x.x_id = a.x_id)"
    " ORDER BY f.created_at, f.id LIMIT $2::int";

void
export_csv_field(struct evbuffer *out, const char *field)
{
    if (strpbrk(field, ",\"\r\n") == NULL) {
        evbuffer_add(out, field, strlen(field));
        return;
    }
    evbuffer_add(out, "\"", 1);
    for (const char *p = field; *p != '\0'; p++) {
        if (*p == '"')
            evbuffer_add(out, "\"", 1);
        evbuffer_add(out, p, 1);
    }
    evbuffer_add(out, "\"", 1);
}

static void
export_rows_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct evhttp_request *req = arg;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *out;
    size_t len;

    if (outcome != DB_OK) {
        log_warn("export_failed", "error=%s", log_q(err));
        reply_fail(req, REPLY_ERR_UNAVAILABLE, "database unavailable");
        PQclear(res);
        return;
    }
    out = evbuffer_new();
    evbuffer_add(out, EXPORT_FOLLOWING_HEADER, strlen(EXPORT_FOLLOWING_HEADER));
    /* Show boosts true and notifications off, as Mastodon's defaults for a new follow. */
    for (int i = 0; i < PQntuples(res); i++) {
        export_csv_field(out, PQgetvalue(res, i, 0));
        evbuffer_add(out, ",true,false,\n", 13);
    }
    PQclear(res);
    evhttp_add_header(h, "Content-Disposition", "attachment; filename=\"following.csv\"");
    evhttp_add_header(h, "Cache-Control", "no-store");
    len = evbuffer_get_length(out);
    reply_send(req, 200, "text/csv; charset=utf-8", (const char *)evbuffer_pullup(out, -1), len);
    evbuffer_free(out);
}

static void
export_session_cb(struct app *app, struct evhttp_request *req, const char *member_id, void *arg)
{
    char cap[16];
    const char *params[2] = { member_id, cap };

    (void)arg;
    snprintf(cap, sizeof(cap), "%d", EXPORT_MAX_ROWS);
    db_query(app->db, sql_following, 2, params, export_rows_cb, req);
}

void
export_following(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    linkpage_session(app, req, 0, export_session_cb, NULL);
}
