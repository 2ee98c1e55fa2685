/* The link page's Bluesky side: the grant checked at the PDS, and leaving with the grant revoked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "app.h"
#include "atgrant.h"
#include "atlink.h"
#include "atoauth.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "linkpage.h"
#include "log.h"
#include "reply.h"
#include "texts.h"
#include "xmalloc.h"

/* --- GET /link/bluesky ----------------------------------------------------------------------- */

/* One check; owns the grant it was handed. */
struct atlink_check {
    struct app *app;
    struct evhttp_request *req;
    struct atgrant *g;
};

static void
atlink_answer(struct evhttp_request *req, int connected, const struct atgrant *g,
              const char *handle)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "connected", json_object_new_boolean(connected));
    json_object_object_add(o, "kind", g != NULL ? json_object_new_string(g->kind) : NULL);
    json_object_object_add(o, "did", g != NULL ? json_object_new_string(g->did) : NULL);
    json_object_object_add(o, "handle", handle != NULL ? json_object_new_string(handle) : NULL);
    json_object_object_add(o, "refreshed", json_object_new_boolean(g != NULL && g->refreshed));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    reply_json(req, 200, "application/json", o);
}

static void
atlink_session_answered(const struct atoauth_answer *a, void *arg)
{
    struct atlink_check *c = arg;
    struct json_object *v = NULL;
    const char *did = NULL, *handle = NULL;

    if (a->nonce != NULL && c->g->dpop != NULL)
        atgrant_save_nonce(c->app, c->g->member_id, a->nonce);
    if (a->json != NULL && json_object_object_get_ex(a->json, "did", &v))
        did = json_object_get_string(v);
    if (a->json != NULL && json_object_object_get_ex(a->json, "handle", &v))
        handle = json_object_get_string(v);
    if (a->error != HTTPC_OK || a->status >= 500) {
        log_warn("atlink_check_failed", "member=%s error=%s status=%ld", c->g->member_id,
                 httpc_error_name(a->error), a->status);
        reply_fail(c->req, REPLY_ERR_UNAVAILABLE,
                   texts_get(reply_req_lang(c->req), "page.db_unavailable"));
    } else {
        int connected = a->status == 200 && did != NULL && strcmp(did, c->g->did) == 0;

        log_info("atlink_check", "member=%s status=%ld connected=%s refreshed=%s", c->g->member_id,
                 a->status, connected ? "yes" : "no", c->g->refreshed ? "yes" : "no");
        atlink_answer(c->req, connected, c->g, connected ? handle : NULL);
    }
    atgrant_free(c->g);
    free(c);
}

static void
atlink_grant_cb(struct atgrant *g, const char *why, void *arg)
{
    struct atlink_check *c = arg;
    char *url;

    if (g == NULL) {
        if (strcmp(why, "none") == 0 || strcmp(why, "revoked") == 0)
            atlink_answer(c->req, 0, NULL, NULL);
        else
            reply_fail(c->req, REPLY_ERR_UNAVAILABLE,
                       texts_get(reply_req_lang(c->req), "page.db_unavailable"));
        free(c);
        return;
    }
    c->g = g;
    url = xasprintf("%s/xrpc/com.atproto.server.getSession", g->pds_url);
    atoauth_xrpc(c->app, g->dpop, g->access_token, "GET", url, NULL, g->pds_nonce,
                 atlink_session_answered, c);
    free(url);
}

static void
atlink_check_session(struct app *app, struct evhttp_request *req, const char *member_id, void *arg)
{
    struct atlink_check *c = xcalloc(1, sizeof(*c));

    (void)arg;
    c->app = app;
    c->req = req;
    atgrant_use(app, member_id, atlink_grant_cb, c);
}

void
atlink_check(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    linkpage_session(app, req, 0, atlink_check_session, NULL);
}

/* --- POST /link/leave ------------------------------------------------------------------------ */

static const char sql_grant[] = "DELETE FROM atproto_grants AS g WHERE g.member_id = $1::bigint"
                                " RETURNING " ATGRANT_REVOKE_COLUMNS;
/* As when unfollowing the bridge account: the rest cascades, the X edges go by trigger. */
static const char sql_forget[] = "DELETE FROM members WHERE id = $1::bigint";

/* One leaving; owns the grant's row until it is revoked. */
struct atlink_leave {
    struct app *app;
    struct evhttp_request *req;
    char member_id[24];
    PGresult *grant;
};

static int
atlink_grant_read(struct dbtx *tx, PGresult *res, void *arg)
{
    struct atlink_leave *l = arg;

    (void)tx;
    /* The runner clears res: keep a copy of the row for the revocation after the commit. */
    if (PQntuples(res) == 1)
        l->grant = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
    return 0;
}

static void
atlink_left(enum db_outcome outcome, const char *err, void *arg)
{
    struct atlink_leave *l = arg;
    struct json_object *o;
    char *cookie;

    if (outcome != DB_OK) {
        log_warn("atlink_leave_failed", "member=%s reason=%s", l->member_id, log_q(err));
        reply_fail(l->req, REPLY_ERR_UNAVAILABLE,
                   texts_get(reply_req_lang(l->req), "page.db_unavailable"));
        PQclear(l->grant);
        free(l);
        return;
    }
    /* The session went with the member: the browser forgets its cookie too. */
    cookie = xasprintf("%s=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax%s",
                       linkpage_cookie_name(l->app->cfg),
                       strncmp(l->app->cfg->base_url, "https:", 6) == 0 ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(l->req), "Set-Cookie", cookie);
    free(cookie);
    o = json_object_new_object();
    json_object_object_add(o, "left", json_object_new_boolean(1));
    reply_json(l->req, 200, "application/json", o);
    log_info("member_forgotten", "member=%s source=page bluesky_grant=%s", l->member_id,
             l->grant != NULL ? "yes" : "no");
    if (l->grant != NULL)
        atgrant_revoke_row(l->app, l->grant, 0, 0);
    PQclear(l->grant);
    free(l);
}

static void
atlink_leave_session(struct app *app, struct evhttp_request *req, const char *member_id, void *arg)
{
    struct atlink_leave *l = xcalloc(1, sizeof(*l));
    struct dbtx *tx;

    (void)arg;
    l->app = app;
    l->req = req;
    snprintf(l->member_id, sizeof(l->member_id), "%s", member_id);
    tx = dbtx_new(app->db, atlink_left, l);
    dbtx_push(tx, sql_grant, atlink_grant_read, l, 1, l->member_id);
    dbtx_push(tx, sql_forget, NULL, NULL, 1, l->member_id);
    dbtx_run(tx);
}

void
atlink_leave(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    linkpage_session(app, req, 1, atlink_leave_session, NULL);
}
