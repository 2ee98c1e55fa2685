/* Stand-in actors: the old X account of a findable member, a Person that says where they went. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "actor.h"
#include "app.h"
#include "bridgefed.h"
#include "config.h"
#include "db.h"
#include "reply.h"
#include "log.h"
#include "policy.h"
#include "standin.h"
#include "xmalloc.h"

#define STANDIN_HANDLE_MAX 50 /* X allows 15; older and odd archives stay well under this */

/* A Bluesky member's actor and address on the fediverse are their bridged ones, if any. */
#define STANDIN_COLUMNS                                                                            \
    "SELECT m.x_id, m.x_handle,"                                                                   \
    " CASE WHEN m.network = 'atproto' THEN m.bridged_id ELSE m.actor_uri END,"                     \
    " CASE WHEN m.network = 'atproto' THEN m.bridged_handle ELSE m.acct END,"                      \
    " m.host, m.x_verified_at IS NOT NULL, CASE WHEN m.network = 'atproto' THEN m.acct END"        \
    " FROM members m"

/* LIMIT 2: a second row means two members show this handle, which answers nothing. */
static const char sql_by_handle[] =
    STANDIN_COLUMNS " WHERE lower(m.x_handle) = lower($1) AND " STANDIN_VISIBLE_SQL " LIMIT 2";
static const char sql_by_id[] =
    STANDIN_COLUMNS " WHERE m.x_id = $1::bigint AND " STANDIN_VISIBLE_SQL;

/* One lookup, from the query to the callback. */
struct standin_find {
    struct app *app;
    standin_fn cb;
    void *arg;
};

/* One GET /x/..., from the lookup to the answer. */
struct standin_req {
    struct app *app;
    struct evhttp_request *req;
    char *rest; /* "" for the actor, else the collection's name */
};

static void standin_found_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void standin_get_cb(enum standin_result r, const struct standin *s, void *arg);
static void standin_find(struct app *app, const char *sql, const char *key, standin_fn cb,
                         void *arg);

int
standin_handle_ok(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++) {
        if (!isalnum((unsigned char)s[n]) && s[n] != '_')
            return 0;
    }
    return n >= 1 && n <= STANDIN_HANDLE_MAX;
}

int
standin_xid_ok(const char *s, size_t len)
{
    static const char max[] = "9223372036854775807";

    if (s == NULL || len == 0 || len > sizeof(max) - 1 || s[0] == '0')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    /* Same length: digit strings compare as numbers. */
    return len < sizeof(max) - 1 || memcmp(s, max, len) <= 0;
}

int
standin_parse_path(const char *path, char *x_id, const char **rest)
{
    size_t n;

    if (strncmp(path, "/x/", 3) != 0)
        return 0;
    n = strcspn(path + 3, "/");
    if (!standin_xid_ok(path + 3, n))
        return 0;
    memcpy(x_id, path + 3, n);
    x_id[n] = '\0';
    *rest = path[3 + n] == '/' ? path + 3 + n + 1 : "";
    return 1;
}

int
standin_parse_uri(const struct app *app, const char *uri, char *x_id)
{
    size_t plen = strlen(app->standin_prefix), n;

    if (uri == NULL || strncmp(uri, app->standin_prefix, plen) != 0)
        return 0;
    n = strlen(uri + plen);
    if (!standin_xid_ok(uri + plen, n))
        return 0;
    memcpy(x_id, uri + plen, n + 1);
    return 1;
}

int
standin_host_ok(const struct app *app, const char *host)
{
    return !policy_config_blocked(app->cfg, host);
}

void
standin_find_handle(struct app *app, const char *handle, standin_fn cb, void *arg)
{
    standin_find(app, sql_by_handle, handle, cb, arg);
}

void
standin_find_id(struct app *app, const char *x_id, standin_fn cb, void *arg)
{
    standin_find(app, sql_by_id, x_id, cb, arg);
}

void
standin_visible_params(const struct app *app, char *hold, const char **require)
{
    snprintf(hold, 16, "%d", app->cfg->follow_hold_hours * 3600);
    *require = app->cfg->standin_requires_verification ? "true" : "false";
}

static void
standin_find(struct app *app, const char *sql, const char *key, standin_fn cb, void *arg)
{
    struct standin_find *f = xcalloc(1, sizeof(*f));
    char hold[16];
    const char *params[3] = { key, hold, NULL };

    f->app = app;
    f->cb = cb;
    f->arg = arg;
    standin_visible_params(app, hold, &params[2]);
    db_query(app->db, sql, 3, params, standin_found_cb, f);
}

static void
standin_found_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct standin_find *f = arg;
    struct standin s;
    enum standin_result r = STANDIN_NONE;

    if (outcome != DB_OK) {
        log_warn("standin_db_failed", "error=%s", log_q(err));
        f->cb(STANDIN_UNAVAILABLE, NULL, f->arg);
        free(f);
        return;
    }
    if (PQntuples(res) > 1)
        log_info("standin_ambiguous", "handle=%s members=%d", log_q(PQgetvalue(res, 0, 1)),
                 PQntuples(res));
    if (PQntuples(res) == 1 && standin_host_ok(f->app, PQgetvalue(res, 0, 4))) {
        s.x_id = PQgetvalue(res, 0, 0);
        s.x_handle = PQgetvalue(res, 0, 1);
        s.actor_uri = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2);
        s.acct = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
        s.verified = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
        s.bluesky = PQgetisnull(res, 0, 6) ? NULL : PQgetvalue(res, 0, 6);
        r = s.actor_uri != NULL || s.bluesky != NULL ? STANDIN_FOUND : STANDIN_NONE;
    }
    f->cb(r, r == STANDIN_FOUND ? &s : NULL, f->arg);
    PQclear(res);
    free(f);
}

char *
standin_home(const struct standin *s, int want_page)
{
    if (s->bluesky != NULL && (want_page || s->actor_uri == NULL))
        return bridgefed_profile_url(s->bluesky);
    return xstrdup(s->actor_uri);
}

void
standin_get(struct app *app, struct evhttp_request *req, const char *path)
{
    char x_id[STANDIN_XID_MAX];
    const char *rest;
    struct standin_req *r;

    if (!standin_parse_path(path, x_id, &rest)) {
        reply_fail(req, REPLY_ERR_NOT_FOUND, "no such actor");
        return;
    }
    r = xcalloc(1, sizeof(*r));
    r->app = app;
    r->req = req;
    r->rest = xstrdup(rest);
    standin_find_id(app, x_id, standin_get_cb, r);
}

static void
standin_get_cb(enum standin_result res, const struct standin *s, void *arg)
{
    struct standin_req *r = arg;
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
    const char *accept = reply_req_header(r->req, "Accept");
    char *id;

    /* The answer depends on Accept (a browser is sent on), and on consents that change. */
    evhttp_add_header(out, "Vary", "Accept");
    if (res == STANDIN_UNAVAILABLE) {
        reply_fail(r->req, REPLY_ERR_UNAVAILABLE, "database unavailable");
    } else if (res == STANDIN_NONE) {
        /* Never 410: Mastodon deletes its copy of an account on a 410. */
        evhttp_add_header(out, "Cache-Control", "public, max-age=60");
        reply_fail(r->req, REPLY_ERR_NOT_FOUND, "no such actor");
    } else if (*r->rest == '\0' && accept != NULL && strstr(accept, "text/html") != NULL &&
               !reply_wants_activity_json(r->req)) {
        /* A person following the profile link: the new account is what they came for. */
        char *home = standin_home(s, 1);

        evhttp_add_header(out, "Location", home);
        reply_send(r->req, 302, "text/plain; charset=utf-8", "", 0);
        free(home);
    } else if (*r->rest == '\0') {
        actor_reply(r->req, actor_standin_new(r->app, s->x_id, s->x_handle, s->actor_uri, s->acct,
                                              s->bluesky, s->verified));
    } else {
        id = xasprintf("%s%s", r->app->standin_prefix, s->x_id);
        actor_get_sub(r->req, id, r->rest, 0);
        free(id);
    }
    free(r->rest);
    free(r);
}
