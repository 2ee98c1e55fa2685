/* The link page's endpoints: the one-time code becomes a session; archive upload; consents. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "followlist.h"
#include "reply.h"
#include "import.h"
#include "linkpage.h"
#include "log.h"
#include "texts.h"
#include "match.h"
#include "metrics.h"
#include "ratelimit.h"
#include "token.h"
#include "utf8.h"
#include "workpool.h"
#include "xmalloc.h"

#define LINKPAGE_MAX_CONSENT_BODY 4096
#define LINKPAGE_M_PARSES         "passerelle_archive_parses"

/* --- pure helpers ---------------------------------------------------------------------------- */

int
linkpage_cookie(const char *header, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    const char *p = header;

    while (p != NULL && *p != '\0') {
        const char *end;

        while (*p == ' ' || *p == ';')
            p++;
        end = strchr(p, ';');
        if (end == NULL)
            end = p + strlen(p);
        if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t len = (size_t)(end - p) - n - 1;

            if (len + 1 > outlen)
                return -1;
            memcpy(out, p + n + 1, len);
            out[len] = '\0';
            return 0;
        }
        p = end;
    }
    return -1;
}

/* --- sessions -------------------------------------------------------------------------------- */

/* The session token from the cookie (64 hex digits), or -1. */
static int
linkpage_token(const struct app *app, struct evhttp_request *req, char token[65])
{
    const char *h = reply_req_header(req, "Cookie");

    return h != NULL && linkpage_cookie(h, linkpage_cookie_name(app->cfg), token, 65) == 0 &&
                   token_is_hex(token, 64)
               ? 0
               : -1;
}

/* The page's CSRF token is derived from the session's, so the server keeps neither. */
void
linkpage_csrf(const char *token, char out[65])
{
    token_hmac_hex(token, "passerelle link page csrf", out);
}

/*
 * Under https the cookie carries the __Host- prefix: browsers then take it only with Secure,
 * Path=/ and no Domain, so a sibling subdomain cannot set or shadow it. Plain http (a local
 * run) cannot use the prefix, and keeps the bare name.
 */
static int
linkpage_https(const struct config *cfg)
{
    return strncmp(cfg->base_url, "https:", 6) == 0;
}

const char *
linkpage_cookie_name(const struct config *cfg)
{
    return linkpage_https(cfg) ? "__Host-" LINKPAGE_COOKIE : LINKPAGE_COOKIE;
}

char *
linkpage_cookie_header(const struct config *cfg, const char *token)
{
    /* Path=/: the same session opens /me/following.csv (the page links to it). */
    return xasprintf("%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s",
                     linkpage_cookie_name(cfg), token, LINKPAGE_SESSION_TTL,
                     linkpage_https(cfg) ? "; Secure" : "");
}

/* One request waiting on the database; the single owner of what it holds. */
struct linkpage_req {
    struct app *app;
    struct evhttp_request *req;
    char token[65];
    char member_id[24];
    char status[16];
    char addr[64];
    struct json_object *consents; /* POST /link/consents: the parsed body */
    struct import_data data;      /* POST /link/archive: the parsed archive */
    int have_data;
};

static struct linkpage_req *
linkpage_req_new(struct app *app, struct evhttp_request *req)
{
    struct linkpage_req *r = xcalloc(1, sizeof(*r));

    r->app = app;
    r->req = req;
    return r;
}

static void
linkpage_req_free(struct linkpage_req *r)
{
    json_object_put(r->consents);
    if (r->have_data)
        import_data_free(&r->data);
    free(r);
}

/* --- the session, for the other endpoints ---------------------------------------------------- */

typedef void (*linkpage_next_fn)(struct linkpage_req *r);

static const char sql_member[] =
    "SELECT m.id, m.acct, m.x_handle, m.x_id, m.findable, m.autofollow, m.notify, m.relay,"
    " m.lang, m.state,"
    /* What the member's own archive said (another's may list the same pairs). */
    " (SELECT count(*) FROM x_edges e WHERE e.followee_x_id = m.x_id AND e.member_id = m.id),"
    " (SELECT count(*) FROM x_edges e WHERE e.follower_x_id = m.x_id AND e.member_id = m.id),"
    /* The grant for follows in the member's name, and how those follows stand. */
    " g.host, to_char(g.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " f.done, f.waiting, f.failed,"
    " m.x_verified_at IS NOT NULL," /* 17: X confirmed the claim */
    /* 18, 19: the X blocks and mutes of the member's archive, kept out of reach. */
    " (SELECT count(*) FROM member_excludes x WHERE x.member_id = m.id AND x.reason = 'blocked'),"
    " (SELECT count(*) FROM member_excludes x WHERE x.member_id = m.id AND x.reason = 'muted'),"
    /* 20: the grant allows the list (older grants do not); 21, 22: the list and its size. */
    " " FOLLOWLIST_GRANT_SCOPES ","
    " (SELECT l.state FROM member_lists l WHERE l.member_id = m.id AND l.host = g.host),"
    " (SELECT count(*) FROM follow_actions fa WHERE fa.follower_id = m.id"
    "  AND fa.listed_at IS NOT NULL AND fa.list_error IS NULL),"
    /* 23, 24: a fediverse home, which the bridge account follows (memberfollow.c), and how. */
    " m.network = 'activitypub', m.bridge_follow_state"
    " FROM sessions s JOIN members m ON m.id = s.member_id"
    " LEFT JOIN oauth_grants g ON g.member_id = m.id"
    " LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE fa.state = 'done') AS done,"
    "  count(*) FILTER (WHERE fa.state IN ('planned', 'held')) AS waiting,"
    "  count(*) FILTER (WHERE fa.state = 'failed') AS failed"
    "  FROM follow_actions fa WHERE fa.follower_id = m.id AND fa.method = 'api') f ON true"
    " WHERE s.hash = $1::bytea AND s.expires_at > now()";

struct json_object *
linkpage_expired_json(const struct app *app, const char *lang)
{
    struct json_object *o = json_object_new_object();
    char *bridge = xasprintf("@%s@%s", app->cfg->bridge_username, app->cfg->host);

    json_object_object_add(o, "error", json_object_new_string(texts_get(lang, "linkpage.expired")));
    json_object_object_add(o, "bridge", json_object_new_string(bridge));
    free(bridge);
    return o;
}

/* 401, naming the bridge account to write to for a new link (the page shows it). */
static void
linkpage_expired(struct app *app, struct evhttp_request *req)
{
    reply_json(req, reply_err_status(REPLY_ERR_UNAUTHORIZED), "application/json",
               linkpage_expired_json(app, reply_req_lang(req)));
}

/* Checks the cookie and, for a POST, the CSRF header; -1 when it answered the request. */
static int
linkpage_authorise(struct linkpage_req *r, int post)
{
    char csrf[65];
    const char *sent;

    if (linkpage_token(r->app, r->req, r->token) < 0) {
        linkpage_expired(r->app, r->req);
        return -1;
    }
    if (!post)
        return 0;
    linkpage_csrf(r->token, csrf);
    sent = reply_req_header(r->req, "X-CSRF-Token");
    if (sent == NULL || !token_equal(sent, csrf)) {
        reply_fail(r->req, REPLY_ERR_FORBIDDEN, texts_get(reply_req_lang(r->req), "linkpage.csrf"));
        return -1;
    }
    return 0;
}

/* --- the session, for other modules (the CSV, the OAuth grant) ------------------------------- */

/* One lookup for linkpage_session; owns nothing but itself. */
struct linkpage_lookup {
    struct app *app;
    struct evhttp_request *req;
    linkpage_session_fn cb;
    void *arg;
};

static const char sql_session_member[] =
    "SELECT s.member_id FROM sessions s WHERE s.hash = $1::bytea AND s.expires_at > now()";

static void
linkpage_session_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct linkpage_lookup *l = arg;

    (void)err;
    if (outcome != DB_OK)
        reply_fail(l->req, REPLY_ERR_UNAVAILABLE,
                   texts_get(reply_req_lang(l->req), "page.db_unavailable"));
    else if (PQntuples(res) != 1)
        linkpage_expired(l->app, l->req);
    else
        l->cb(l->app, l->req, PQgetvalue(res, 0, 0), l->arg);
    PQclear(res);
    free(l);
}

void
linkpage_session(struct app *app, struct evhttp_request *req, int post, linkpage_session_fn cb,
                 void *arg)
{
    struct linkpage_req *r = linkpage_req_new(app, req);
    struct linkpage_lookup *l;
    char hash[67];
    const char *params[1] = { hash };

    if (linkpage_authorise(r, post) < 0) {
        linkpage_req_free(r);
        return;
    }
    token_sha256_bytea(r->token, hash);
    linkpage_req_free(r);
    l = xcalloc(1, sizeof(*l));
    l->app = app;
    l->req = req;
    l->cb = cb;
    l->arg = arg;
    db_query(app->db, sql_session_member, 1, params, linkpage_session_cb, l);
}

/* --- GET /link/state ------------------------------------------------------------------------- */

/* The grant (never the token) and the follows made with it; the found contacts' CSV. */
static void
linkpage_state_oauth(struct linkpage_req *r, PGresult *res, struct json_object *o)
{
    struct json_object *g = json_object_new_object(), *f = json_object_new_object();
    static const char *const counts[3] = { "done", "waiting", "failed" };
    int granted = !PQgetisnull(res, 0, 12);

    json_object_object_add(g, "available", json_object_new_boolean(r->app->seal != NULL));
    json_object_object_add(g, "granted", json_object_new_boolean(granted));
    json_object_object_add(g, "host",
                           granted ? json_object_new_string(PQgetvalue(res, 0, 12)) : NULL);
    json_object_object_add(g, "since",
                           granted ? json_object_new_string(PQgetvalue(res, 0, 13)) : NULL);
    /* The list: false for a grant from before it was asked (the page says to connect again). */
    json_object_object_add(
        g, "lists", json_object_new_boolean(granted && strcmp(PQgetvalue(res, 0, 20), "t") == 0));
    json_object_object_add(
        g, "list", PQgetisnull(res, 0, 21) ? NULL : json_object_new_string(PQgetvalue(res, 0, 21)));
    json_object_object_add(g, "listed",
                           json_object_new_int64(strtoll(PQgetvalue(res, 0, 22), NULL, 10)));
    json_object_object_add(o, "oauth", g);
    for (int i = 0; i < 3; i++)
        json_object_object_add(
            f, counts[i], json_object_new_int64(strtoll(PQgetvalue(res, 0, 14 + i), NULL, 10)));
    json_object_object_add(o, "follows", f);
    json_object_object_add(o, "following_csv", json_object_new_string("/me/following.csv"));
}

/* "Verify with X": offered only when the operator set up an X app; whether X confirmed. */
static void
linkpage_state_x(struct linkpage_req *r, PGresult *res, struct json_object *o)
{
    struct json_object *x = json_object_new_object();

    json_object_object_add(x, "offered", json_object_new_boolean(app_x_verify_offered(r->app)));
    json_object_object_add(x, "verified",
                           json_object_new_boolean(strcmp(PQgetvalue(res, 0, 17), "t") == 0));
    json_object_object_add(o, "x_verify", x);
}

static struct json_object *
linkpage_state_json(struct linkpage_req *r, PGresult *res)
{
    struct json_object *o = json_object_new_object(), *c = json_object_new_object();
    static const char *const names[4] = { "findable", "autofollow", "notify", "relay" };
    char csrf[65], *member;
    const char *al = reply_req_header(r->req, "Accept-Language");

    linkpage_csrf(r->token, csrf);
    member = xasprintf("acct:%s", PQgetvalue(res, 0, 1));
    json_object_object_add(o, "csrf", json_object_new_string(csrf));
    {
        char *bridge = xasprintf("@%s@%s", r->app->cfg->bridge_username, r->app->cfg->host);

        json_object_object_add(o, "bridge", json_object_new_string(bridge));
        free(bridge);
    }
    json_object_object_add(o, "member", json_object_new_string(member));
    free(member);
    json_object_object_add(
        o, "handle", PQgetisnull(res, 0, 2) ? NULL : json_object_new_string(PQgetvalue(res, 0, 2)));
    json_object_object_add(
        o, "x_id", PQgetisnull(res, 0, 3) ? NULL : json_object_new_string(PQgetvalue(res, 0, 3)));
    json_object_object_add(o, "state", json_object_new_string(PQgetvalue(res, 0, 9)));
    json_object_object_add(o, "followers",
                           json_object_new_int64(strtoll(PQgetvalue(res, 0, 10), NULL, 10)));
    json_object_object_add(o, "following",
                           json_object_new_int64(strtoll(PQgetvalue(res, 0, 11), NULL, 10)));
    json_object_object_add(o, "blocked",
                           json_object_new_int64(strtoll(PQgetvalue(res, 0, 18), NULL, 10)));
    json_object_object_add(o, "muted",
                           json_object_new_int64(strtoll(PQgetvalue(res, 0, 19), NULL, 10)));
    for (int i = 0; i < 4; i++)
        json_object_object_add(
            c, names[i], json_object_new_boolean(strcmp(PQgetvalue(res, 0, 4 + i), "t") == 0));
    json_object_object_add(o, "consents", c);
    json_object_object_add(o, "lang",
                           json_object_new_string(texts_lang_pick(al, PQgetvalue(res, 0, 8))));
    /* The bridge account's follow of the member (to hear a Move), for the page to explain. */
    json_object_object_add(o, "bridge_follow",
                           r->app->cfg->follow_members && strcmp(PQgetvalue(res, 0, 23), "t") == 0
                               ? json_object_new_string(PQgetvalue(res, 0, 24))
                               : NULL);
    linkpage_state_oauth(r, res, o);
    linkpage_state_x(r, res, o);
    return o;
}

static void
linkpage_state_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct linkpage_req *r = arg;

    (void)err;
    if (outcome != DB_OK)
        reply_fail(r->req, REPLY_ERR_UNAVAILABLE,
                   texts_get(reply_req_lang(r->req), "page.db_unavailable"));
    else if (PQntuples(res) != 1)
        linkpage_expired(r->app, r->req);
    else {
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Cache-Control", "no-store");
        reply_json(r->req, 200, "application/json", linkpage_state_json(r, res));
    }
    PQclear(res);
    linkpage_req_free(r);
}

void
linkpage_state(struct app *app, struct evhttp_request *req, const char *path)
{
    struct linkpage_req *r = linkpage_req_new(app, req);
    char hash[67];
    const char *params[1] = { hash };

    (void)path;
    if (linkpage_authorise(r, 0) < 0) {
        linkpage_req_free(r);
        return;
    }
    token_sha256_bytea(r->token, hash);
    db_query(app->db, sql_member, 1, params, linkpage_state_cb, r);
}

/* --- POST /link/archive ---------------------------------------------------------------------- */

/* The claim rules said no (README, "Claims"): 409 or 429, {"error", "status"}. */
static void
linkpage_claim_refused(struct evhttp_request *req, enum import_status st)
{
    struct json_object *o = json_object_new_object();
    const char *why;

    if (st == IMPORT_REFUSED)
        why = "linkpage.claim_refused";
    else if (st == IMPORT_LOCKED)
        why = "linkpage.claim_locked";
    else if (st == IMPORT_VERIFIED_OTHER)
        why = "linkpage.claim_verified_other";
    else
        why = "linkpage.claim_rate_limited";
    json_object_object_add(o, "error", json_object_new_string(texts_get(reply_req_lang(req), why)));
    json_object_object_add(o, "status", json_object_new_string(import_status_name(st)));
    reply_json(req, st == IMPORT_RATE_LIMITED ? 429 : 409, "application/json", o);
}

static void
linkpage_stored_cb(enum import_status st, const struct import_data *d, void *arg)
{
    struct linkpage_req *r = arg;
    struct json_object *o;
    char id[24];

    switch (st) {
    case IMPORT_LINKED:
        o = json_object_new_object();
        snprintf(id, sizeof(id), "%llu", (unsigned long long)d->result.account.account_id);
        json_object_object_add(o, "status", json_object_new_string("linked"));
        json_object_object_add(o, "handle", json_object_new_string(d->result.account.username));
        json_object_object_add(o, "x_id", json_object_new_string(id));
        json_object_object_add(o, "followers", json_object_new_int64((int64_t)d->nfollowers));
        json_object_object_add(o, "following", json_object_new_int64((int64_t)d->nfollowing));
        json_object_object_add(o, "blocked", json_object_new_int64((int64_t)d->nblocked));
        json_object_object_add(o, "muted", json_object_new_int64((int64_t)d->nmuted));
        reply_json(r->req, 200, "application/json", o);
        break;
    case IMPORT_DISPUTED:
        o = json_object_new_object();
        json_object_object_add(
            o, "error",
            json_object_new_string(texts_get(reply_req_lang(r->req), "linkpage.disputed")));
        json_object_object_add(o, "status", json_object_new_string("disputed"));
        reply_json(r->req, 409, "application/json", o);
        break;
    case IMPORT_NO_MEMBER:
        linkpage_expired(r->app, r->req);
        break;
    case IMPORT_SUSPENDED:
        reply_fail(r->req, REPLY_ERR_FORBIDDEN,
                   texts_get(reply_req_lang(r->req), "linkpage.suspended"));
        break;
    case IMPORT_UNAVAILABLE:
        reply_fail(r->req, REPLY_ERR_UNAVAILABLE,
                   texts_get(reply_req_lang(r->req), "linkpage.unavailable"));
        break;
    case IMPORT_FAILED:
        reply_fail(r->req, REPLY_ERR_INTERNAL,
                   texts_get(reply_req_lang(r->req), "linkpage.store_failed"));
        break;
    case IMPORT_REFUSED:
    case IMPORT_LOCKED:
    case IMPORT_VERIFIED_OTHER:
    case IMPORT_RATE_LIMITED:
        linkpage_claim_refused(r->req, st);
        break;
    }
    r->have_data = 0; /* import_store took and freed it */
    linkpage_req_free(r);
}

/* The parsed archive goes to import_store, which owns it from there; r keeps the answer to give. */
static void
linkpage_archive_store(struct linkpage_req *r)
{
    struct import_data *d = xmalloc(sizeof(*d));

    *d = r->data;
    r->have_data = 0;
    memset(&r->data, 0, sizeof(r->data));
    import_store(r->app, r->member_id, d, linkpage_stored_cb, r);
}

/*
 * Parsing a large archive takes seconds (two million edges, about four), so it runs on the
 * parse pool (app->parses: archive_parsers threads, archive_parse_queue waiting): pure CPU
 * over the request's body, which stays put until we answer.
 */
struct linkpage_parse {
    struct linkpage_req *r;
    const void *buf;
    size_t len;
    int rc;
    char err[512];
};

static void
linkpage_parse_gauge(struct app *app)
{
    metrics_set(LINKPAGE_M_PARSES, "", workpool_inflight(app->parses));
}

static void
linkpage_parse_run(void *arg)
{
    struct linkpage_parse *p = arg;

    p->rc = import_parse_zip_mem(p->buf, p->len, &p->r->data, p->err, sizeof(p->err));
}

static void
linkpage_parse_done(void *arg)
{
    struct linkpage_parse *p = arg;
    struct linkpage_req *r = p->r;

    linkpage_parse_gauge(r->app);
    if (p->rc < 0) {
        log_info("link_archive_refused", "member=%s bytes=%zu reason=%s", r->member_id, p->len,
                 log_q(p->err));
        reply_fail(r->req, REPLY_ERR_BAD_REQUEST, p->err);
        linkpage_req_free(r);
    } else {
        r->have_data = 1;
        linkpage_archive_store(r);
    }
    free(p);
}

/* The server is stopping: the request is dropped with it, unanswered. */
static void
linkpage_parse_drop(void *arg)
{
    struct linkpage_parse *p = arg;

    p->r->have_data = 1; /* parsed, or never started (all empty): freed either way */
    linkpage_req_free(p->r);
    free(p);
}

/* 429 with Retry-After: this member sent archive_uploads_per_hour archives this hour. */
static void
linkpage_archive_limited(struct linkpage_req *r, long wait)
{
    char secs[24], limit[16], minutes[24], *why;

    snprintf(secs, sizeof(secs), "%ld", wait);
    snprintf(limit, sizeof(limit), "%d", r->app->cfg->archive_uploads_per_hour);
    snprintf(minutes, sizeof(minutes), "%ld", (wait + 59) / 60);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", secs);
    why = texts_format(reply_req_lang(r->req), "linkpage.rate_limited", "limit", limit, "minutes",
                       minutes, NULL);
    log_info("link_archive_refused", "member=%s reason=rate_limited retry_after=%ld", r->member_id,
             wait);
    reply_fail(r->req, REPLY_ERR_RATE_LIMITED, why);
    free(why);
}

/* The member behind the session, looked up before anything is parsed. */
static void
linkpage_archive_session_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct linkpage_req *r = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
    struct linkpage_parse *p;
    struct workpool_job job;
    long wait;

    (void)err;
    if (outcome != DB_OK || PQntuples(res) != 1) {
        if (outcome != DB_OK)
            reply_fail(r->req, REPLY_ERR_UNAVAILABLE,
                       texts_get(reply_req_lang(r->req), "page.db_unavailable"));
        else
            linkpage_expired(r->app, r->req);
        PQclear(res);
        linkpage_req_free(r);
        return;
    }
    snprintf(r->member_id, sizeof(r->member_id), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    wait = ratelimit_take(r->app->uploads, strtoll(r->member_id, NULL, 10), time(NULL));
    if (wait > 0) {
        linkpage_archive_limited(r, wait);
        linkpage_req_free(r);
        return;
    }
    p = xcalloc(1, sizeof(*p));
    p->r = r;
    p->len = evbuffer_get_length(in);
    p->buf = evbuffer_pullup(in, (ev_ssize_t)p->len);
    job.run = linkpage_parse_run;
    job.done = linkpage_parse_done;
    job.drop = linkpage_parse_drop;
    job.arg = p;
    if (workpool_submit(r->app->parses, &job) < 0) {
        log_info("link_archive_refused", "member=%s reason=parsers_busy", r->member_id);
        ratelimit_refund(r->app->uploads, strtoll(r->member_id, NULL, 10)); /* not its fault */
        free(p);
        reply_fail(r->req, REPLY_ERR_UNAVAILABLE,
                   texts_get(reply_req_lang(r->req), "linkpage.parsers_busy"));
        linkpage_req_free(r);
        return;
    }
    linkpage_parse_gauge(r->app);
}

void
linkpage_archive(struct app *app, struct evhttp_request *req, const char *path)
{
    struct linkpage_req *r = linkpage_req_new(app, req);
    const char *ct = reply_req_header(req, "Content-Type");
    char hash[67];
    const char *params[1] = { hash };

    (void)path;
    if (linkpage_authorise(r, 1) < 0) {
        linkpage_req_free(r);
        return;
    }
    if (ct == NULL || strncasecmp(ct, "application/zip", 15) != 0) {
        linkpage_req_free(r);
        reply_fail(req, REPLY_ERR_MEDIA_TYPE, texts_get(reply_req_lang(req), "linkpage.not_zip"));
        return;
    }
    if (app->parses == NULL || app->uploads == NULL) {
        linkpage_req_free(r);
        reply_fail(req, REPLY_ERR_UNAVAILABLE, texts_get(reply_req_lang(req), "linkpage.busy"));
        return;
    }
    token_sha256_bytea(r->token, hash);
    db_query(app->db, sql_session_member, 1, params, linkpage_archive_session_cb, r);
}

void
linkpage_metrics_describe(void)
{
    metrics_describe(LINKPAGE_M_PARSES, METRICS_GAUGE,
                     "Archive uploads in the parse pool: being parsed, or waiting for a parser.");
    metrics_set(LINKPAGE_M_PARSES, "", 0);
}

/* --- POST /link/consents --------------------------------------------------------------------- */

/*
 * One statement: the new values, and a ledger line for each that changed, with the client
 * address. old reads the row as it was when the statement began.
 */
static const char sql_consents[] =
    "WITH s AS (SELECT member_id FROM sessions WHERE hash = $1::bytea AND expires_at > now()),"
    " old AS (SELECT m.id, m.findable, m.autofollow, m.notify, m.relay FROM members m, s"
    "  WHERE m.id = s.member_id),"
    " upd AS (UPDATE members m SET findable = coalesce($2::boolean, m.findable),"
    "  autofollow = coalesce($3::boolean, m.autofollow), notify = coalesce($4::boolean, m.notify),"
    "  relay = coalesce($5::boolean, m.relay), match_due_at = now(), updated_at = now()"
    "  FROM s WHERE m.id = s.member_id"
    "  RETURNING m.id, m.findable, m.autofollow, m.notify, m.relay),"
    " led AS (INSERT INTO consent_ledger (member_id, consent, value, source, client_addr)"
    "  SELECT upd.id, c.k, c.v, 'page', $6::inet FROM old JOIN upd ON upd.id = old.id,"
    "  LATERAL (VALUES ('findable', old.findable, upd.findable),"
    "   ('autofollow', old.autofollow, upd.autofollow), ('notify', old.notify, upd.notify),"
    "   ('relay', old.relay, upd.relay)) AS c(k, o, v) WHERE c.o IS DISTINCT FROM c.v"
    "  RETURNING 1)"
    " SELECT upd.findable, upd.autofollow, upd.notify, upd.relay, (SELECT count(*) FROM led)"
    " FROM upd";

static void
linkpage_consents_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct linkpage_req *r = arg;
    static const char *const names[4] = { "findable", "autofollow", "notify", "relay" };

    if (outcome == DB_ERROR && err != NULL && strncmp(err, "22", 2) == 0)
        reply_fail(r->req, REPLY_ERR_BAD_REQUEST, "bad value");
    else if (outcome != DB_OK)
        reply_fail(r->req, REPLY_ERR_UNAVAILABLE,
                   texts_get(reply_req_lang(r->req), "page.db_unavailable"));
    else if (PQntuples(res) != 1)
        linkpage_expired(r->app, r->req);
    else {
        struct json_object *o = json_object_new_object(), *c = json_object_new_object();

        for (int i = 0; i < 4; i++)
            json_object_object_add(
                c, names[i], json_object_new_boolean(strcmp(PQgetvalue(res, 0, i), "t") == 0));
        json_object_object_add(o, "consents", c);
        log_info("consents_changed", "changes=%s source=page", PQgetvalue(res, 0, 4));
        match_kick(r->app->match); /* its pairs are re-planned (match_due_at set above) */
        reply_json(r->req, 200, "application/json", o);
    }
    PQclear(res);
    linkpage_req_free(r);
}

void
linkpage_consents(struct app *app, struct evhttp_request *req, const char *path)
{
    static const char *const names[4] = { "findable", "autofollow", "notify", "relay" };
    struct linkpage_req *r = linkpage_req_new(app, req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *params[6];
    char hash[67];
    int any = 0;

    (void)path;
    if (linkpage_authorise(r, 1) < 0) {
        linkpage_req_free(r);
        return;
    }
    if (len == 0 || len > LINKPAGE_MAX_CONSENT_BODY) {
        linkpage_req_free(r);
        reply_fail(req, REPLY_ERR_BAD_REQUEST, "expected a small JSON object");
        return;
    }
    {
        struct json_tokener *tok = json_tokener_new_ex(8);
        const char *body = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);

        /* Strict JSON, valid UTF-8, one value and nothing after it. */
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        r->consents = utf8_count(body, len) < 0 ? NULL : json_tokener_parse_ex(tok, body, (int)len);
        if (json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != len) {
            json_object_put(r->consents);
            r->consents = NULL;
        }
        json_tokener_free(tok);
    }
    if (!json_object_is_type(r->consents, json_type_object)) {
        linkpage_req_free(r);
        reply_fail(req, REPLY_ERR_BAD_REQUEST, "expected a JSON object");
        return;
    }
    for (int i = 0; i < 4; i++) {
        struct json_object *v = NULL;

        params[1 + i] = NULL;
        if (!json_object_object_get_ex(r->consents, names[i], &v))
            continue;
        if (!json_object_is_type(v, json_type_boolean)) {
            linkpage_req_free(r);
            reply_fail(req, REPLY_ERR_BAD_REQUEST, "each consent must be true or false");
            return;
        }
        params[1 + i] = json_object_get_boolean(v) ? "true" : "false";
        any = 1;
    }
    if (!any) {
        linkpage_req_free(r);
        reply_fail(req, REPLY_ERR_BAD_REQUEST, "expected findable, autofollow, notify or relay");
        return;
    }
    token_sha256_bytea(r->token, hash);
    reply_req_peer(req, r->addr, sizeof(r->addr));
    params[0] = hash;
    params[5] = r->addr[0] != '\0' ? r->addr : NULL;
    db_query(app->db, sql_consents, 6, params, linkpage_consents_cb, r);
}
