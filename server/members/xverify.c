/* "Verify with X": OAuth 2.0 with PKCE on X, GET /2/users/me, the X id bound as verified. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "app.h"
#include "bridge.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "httpc.h"
#include "linkpage.h"
#include "log.h"
#include "mastoapi.h"
#include "match.h"
#include "oauth.h"
#include "queue.h"
#include "reply.h"
#include "seal.h"
#include "token.h"
#include "texts.h"
#include "xmalloc.h"
#include "xverify.h"

#define XV_MAX_SECRET 4096 /* codes and tokens are tens of bytes */
#define XV_MAX_HANDLE 50   /* X allows 15 */

/* One verification (start or callback), the single owner of what it holds. */
struct xverify_op {
    struct app *app;
    struct evhttp_request *req;
    char member_id[24];
    char session_hash[67];
    char state[65]; /* start: handed to the browser, only its hash is stored */
    char *verifier; /* plain: wiped when freed */
    char *code;     /* plain: wiped when freed */
    char *token;    /* plain: wiped when freed; never stored */
    char *callback; /* <base>/link/x/callback */
    char x_id[24];  /* from users/me */
    char *handle;   /* from users/me */
    const char *result;
    int queued;
};

static struct xverify_op *
xverify_new(struct app *app, struct evhttp_request *req)
{
    struct xverify_op *op = xcalloc(1, sizeof(*op));

    op->app = app;
    op->req = req;
    op->callback = xasprintf("%s%s", app->cfg->base_url, XVERIFY_CALLBACK_PATH);
    return op;
}

static void
xverify_free(struct xverify_op *op)
{
    seal_wipe_free(op->verifier);
    seal_wipe_free(op->code);
    seal_wipe_free(op->token);
    free(op->callback);
    free(op->handle);
    free(op);
}

/* The verifier is bound to its state row's member. */
static void
xverify_state_ad(const char *member_id, char *out, size_t outlen)
{
    snprintf(out, outlen, "xstate:%s", member_id);
}

/* Sends the browser back to the page with the outcome, and frees op. */
static void
xverify_back(struct xverify_op *op, const char *result)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(op->req);
    char *loc = xasprintf("/link?x=%s", result);

    log_info("x_verify", "member=%s result=%s x_id=%s", *op->member_id ? op->member_id : "-",
             result, *op->x_id ? op->x_id : "-");
    evhttp_add_header(out, "Location", loc);
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    reply_send(op->req, 303, "text/plain; charset=utf-8", "", 0);
    free(loc);
    xverify_free(op);
}

/* --- POST /link/x/start ---------------------------------------------------------------------- */

/* Expired states go whenever a new one comes. */
static const char sql_state_store[] =
    "WITH gc AS (DELETE FROM x_verify_states WHERE expires_at < now())"
    " INSERT INTO x_verify_states (hash, member_id, session_hash, verifier, verifier_nonce,"
    "  expires_at) VALUES ($1::bytea, $2::bigint, $3::bytea, $4::bytea, $5::bytea,"
    "  now() + $6::int * interval '1 second')";

static void
xverify_state_stored(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct xverify_op *op = arg;

    PQclear(res);
    if (outcome != DB_OK) {
        log_warn("x_verify_start_failed", "member=%s reason=%s", op->member_id, log_q(err));
        reply_fail(op->req, REPLY_ERR_UNAVAILABLE,
                   texts_get(reply_req_lang(op->req), "page.db_unavailable"));
        xverify_free(op);
        return;
    }
    log_info("x_verify_start", "member=%s", op->member_id);
    oauth_authorize_reply(op->req, op->app->cfg->x_authorize_url, op->app->cfg->x_client_id,
                          op->callback, XVERIFY_SCOPES, op->state, op->verifier);
    xverify_free(op);
}

static void
xverify_start_session(struct app *app, struct evhttp_request *req, const char *member_id, void *arg)
{
    struct xverify_op *op = xverify_new(app, req);
    char verifier[65], hash[67], ad[64], ttl[16], nonce[SEAL_NONCE_BYTEA], *ct = NULL;
    const char *params[6];

    (void)arg;
    snprintf(op->member_id, sizeof(op->member_id), "%s", member_id);
    oauth_session_hash(app, req, op->session_hash);
    if (token_random_hex(32, op->state, sizeof(op->state)) < 0 ||
        token_random_hex(32, verifier, sizeof(verifier)) < 0) {
        reply_fail(req, REPLY_ERR_INTERNAL, texts_get(reply_req_lang(req), "page.no_randomness"));
        xverify_free(op);
        return;
    }
    op->verifier = xstrdup(verifier);
    OPENSSL_cleanse(verifier, sizeof(verifier));
    xverify_state_ad(op->member_id, ad, sizeof(ad));
    if (seal_to_bytea(app->seal, ad, op->verifier, &ct, nonce) < 0) {
        reply_fail(req, REPLY_ERR_INTERNAL, texts_get(reply_req_lang(req), "page.seal_failed"));
        xverify_free(op);
        return;
    }
    token_sha256_bytea(op->state, hash);
    snprintf(ttl, sizeof(ttl), "%d", XVERIFY_STATE_TTL);
    params[0] = hash;
    params[1] = op->member_id;
    params[2] = op->session_hash;
    params[3] = ct;
    params[4] = nonce;
    params[5] = ttl;
    db_query(app->db, sql_state_store, 6, params, xverify_state_stored, op);
    free(ct);
}

void
xverify_start(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    if (!app_x_verify_offered(app)) {
        reply_fail(req, REPLY_ERR_NOT_FOUND, texts_get(reply_req_lang(req), "xverify.not_set_up"));
        return;
    }
    linkpage_session(app, req, 1, xverify_start_session, NULL);
}

/* --- binding the X id ------------------------------------------------------------------------ */

static const char sql_lock[] = "SELECT state FROM members WHERE id = $1::bigint FOR UPDATE";
static const char sql_rivals[] =
    "SELECT id, actor_uri, acct, inbox, lang FROM members WHERE id <> $1::bigint"
    " AND (x_id = $2::bigint OR id IN (SELECT member_id FROM x_claims WHERE x_id = $2::bigint))"
    " ORDER BY id FOR UPDATE";
/*
 * X's word beats every archive: the other members claiming this X id lose it (the holder
 * its binding and the rows its archive gave; a claimant its claim), and go back to joined.
 */
static const char sql_rivals_lose[] =
    "WITH lost AS (SELECT id, x_id IS NOT DISTINCT FROM $2::bigint AS holder FROM members"
    "  WHERE id <> $1::bigint AND (x_id = $2::bigint"
    "   OR id IN (SELECT member_id FROM x_claims WHERE x_id = $2::bigint))),"
    " e AS (DELETE FROM x_edges WHERE (follower_x_id = $2::bigint OR followee_x_id = $2::bigint)"
    "  AND member_id IN (SELECT id FROM lost WHERE holder)),"
    " c AS (DELETE FROM x_claims WHERE x_id = $2::bigint AND member_id <> $1::bigint)"
    " UPDATE members m SET x_id = CASE WHEN l.holder THEN NULL ELSE m.x_id END,"
    "  x_handle = CASE WHEN l.holder THEN NULL ELSE m.x_handle END,"
    "  x_verified_at = CASE WHEN l.holder THEN NULL ELSE m.x_verified_at END,"
    "  linked_at = CASE WHEN l.holder THEN NULL ELSE m.linked_at END,"
    "  state = CASE WHEN m.state = 'suspended' THEN 'suspended'"
    "   WHEN l.holder OR m.x_id IS NULL THEN 'joined' ELSE m.state END,"
    "  match_due_at = now(), updated_at = now()"
    " FROM lost l WHERE m.id = l.id";
/* The member's archive of another X id no longer speaks: its rows and claim go. */
static const char sql_bind[] =
    "WITH old AS (SELECT x_id FROM members WHERE id = $1::bigint AND x_id <> $2::bigint),"
    " e AS (DELETE FROM x_edges WHERE member_id = $1::bigint"
    "  AND (follower_x_id IN (SELECT x_id FROM old) OR followee_x_id IN (SELECT x_id FROM old))),"
    " c AS (DELETE FROM x_claims WHERE member_id = $1::bigint AND x_id <> $2::bigint),"
    " n AS (INSERT INTO x_claims (x_id, member_id) VALUES ($2::bigint, $1::bigint)"
    "  ON CONFLICT DO NOTHING),"
    " l AS (INSERT INTO claim_log (member_id, host, x_id, outcome)"
    "  SELECT id, host, $2::bigint, 'verified' FROM members WHERE id = $1::bigint)"
    " UPDATE members SET linked_at = CASE WHEN x_id = $2::bigint AND linked_at IS NOT NULL"
    "  THEN linked_at ELSE now() END,"
    " x_id = $2::bigint, x_handle = $3, x_verified_at = now(), state = 'linked',"
    " match_due_at = now(), updated_at = now() WHERE id = $1::bigint";

static int
xverify_rivals_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct xverify_op *op = arg;

    for (int i = 0; i < PQntuples(res); i++) {
        char *text;

        if (PQgetisnull(res, i, 3))
            continue;
        text =
            texts_format(PQgetvalue(res, i, 4), "claims.verified_lost", "handle", op->handle, NULL);
        op->queued += bridge_push_notice(tx, op->app, PQgetvalue(res, i, 1),
                                         PQgetisnull(res, i, 2) ? PQgetvalue(res, i, 1)
                                                                : PQgetvalue(res, i, 2),
                                         PQgetvalue(res, i, 3), text);
        free(text);
    }
    if (PQntuples(res) > 0) {
        log_info("x_verify_rivals", "member=%s x_id=%s rivals=%d", op->member_id, op->x_id,
                 PQntuples(res));
        dbtx_push(tx, sql_rivals_lose, NULL, NULL, 2, op->member_id, op->x_id);
    }
    dbtx_push(tx, sql_bind, NULL, NULL, 3, op->member_id, op->x_id, op->handle);
    return 0;
}

static int
xverify_lock_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct xverify_op *op = arg;

    if (PQntuples(res) != 1) {
        op->result = "invalid";
        return 1;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "suspended") == 0) {
        op->result = "suspended";
        return 1;
    }
    dbtx_push(tx, sql_rivals, xverify_rivals_cb, op, 2, op->member_id, op->x_id);
    return 0;
}

static void
xverify_bound(enum db_outcome outcome, const char *err, void *arg)
{
    struct xverify_op *op = arg;

    if (outcome != DB_OK) {
        log_warn("x_verify_store_failed", "member=%s reason=%s", op->member_id, log_q(err));
        xverify_back(op, "failed");
        return;
    }
    if (op->queued > 0 && op->app->queue != NULL)
        queue_kick(op->app->queue);
    match_kick(op->app->match);
    xverify_back(op, op->result);
}

static void
xverify_bind(struct xverify_op *op)
{
    struct dbtx *tx = dbtx_new(op->app->db, xverify_bound, op);

    op->result = "verified";
    dbtx_push(tx, sql_lock, xverify_lock_cb, op, 1, op->member_id);
    dbtx_run(tx);
}

/* --- GET /link/x/callback -------------------------------------------------------------------- */

/* A 429 from X, or a refusal: the page says which. */
static const char *
xverify_http_result(const struct httpc_response *resp)
{
    if (resp->error == HTTPC_OK && resp->status == 429) {
        const char *reset = httpc_response_header(resp, "x-rate-limit-reset");

        log_info("x_verify_rate_limited", "reset=%s", log_q(reset));
        return "rate_limited";
    }
    return "failed";
}

/* X's user ids are decimal strings of a positive 64-bit integer. */
static int
xverify_id_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > 19 || s[0] == '0' || strspn(s, "0123456789") != n)
        return 0;
    return n < 19 || strcmp(s, "9223372036854775807") <= 0;
}

static int
xverify_handle_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > XV_MAX_HANDLE)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* GET /2/users/me: {"data": {"id": "...", "name": "...", "username": "..."}}. */
static void
xverify_me_cb(const struct httpc_response *resp, void *arg)
{
    struct xverify_op *op = arg;
    struct json_object *o = NULL, *data = NULL;
    const char *id = NULL, *username = NULL;

    seal_wipe_free(op->token);
    op->token = NULL; /* its only use is over */
    if (resp->error != HTTPC_OK || resp->status != 200) {
        log_warn("x_verify_me_failed", "member=%s error=%s status=%ld", op->member_id,
                 httpc_error_name(resp->error), resp->status);
        xverify_back(op, xverify_http_result(resp));
        return;
    }
    o = mastoapi_parse_object(resp->body, resp->body_len);
    if (o != NULL && json_object_object_get_ex(o, "data", &data) &&
        json_object_is_type(data, json_type_object)) {
        id = oauth_str(data, "id", 24);
        username = oauth_str(data, "username", XV_MAX_HANDLE);
    }
    if (!xverify_id_ok(id) || !xverify_handle_ok(username)) {
        json_object_put(o);
        log_warn("x_verify_me_failed", "member=%s reason=malformed", op->member_id);
        xverify_back(op, "failed");
        return;
    }
    snprintf(op->x_id, sizeof(op->x_id), "%s", id);
    op->handle = xstrdup(username);
    json_object_put(o);
    xverify_bind(op);
}

/* POST /2/oauth2/token: {"token_type": "bearer", "access_token": ..., "scope": ...}. */
static void
xverify_token_cb(const struct httpc_response *resp, void *arg)
{
    struct xverify_op *op = arg;
    struct json_object *o = NULL;
    const char *token = NULL, *type = NULL;
    char *url, *auth;
    const char *headers[2];
    struct httpc_req hr = { 0 };

    if (resp->error != HTTPC_OK || resp->status != 200) {
        log_warn("x_verify_token_failed", "member=%s error=%s status=%ld", op->member_id,
                 httpc_error_name(resp->error), resp->status);
        xverify_back(op, xverify_http_result(resp));
        return;
    }
    o = mastoapi_parse_object(resp->body, resp->body_len);
    if (o != NULL) {
        token = oauth_str(o, "access_token", XV_MAX_SECRET);
        type = oauth_str(o, "token_type", 64);
    }
    if (token == NULL || (type != NULL && strcasecmp(type, "bearer") != 0)) {
        json_object_put(o);
        log_warn("x_verify_token_failed", "member=%s reason=no_bearer_token", op->member_id);
        xverify_back(op, "failed");
        return;
    }
    op->token = xstrdup(token);
    json_object_put(o);
    url = xasprintf("%s/2/users/me", op->app->cfg->x_api_base);
    auth = xasprintf("Authorization: Bearer %s", op->token);
    headers[0] = auth;
    headers[1] = "Accept: application/json";
    hr.method = "GET";
    hr.url = url;
    hr.headers = headers;
    hr.nheaders = 2;
    httpc_request(op->app->httpc, &hr, xverify_me_cb, op);
    seal_wipe_free(auth);
    free(url);
}

/* "Authorization: Basic base64(id:secret)", each part form-encoded (RFC 6749 2.3.1). */
static char *
xverify_basic_auth(const struct config *cfg)
{
    char *id = evhttp_uriencode(cfg->x_client_id, -1, 1);
    char *secret = evhttp_uriencode(cfg->x_client_secret, -1, 1);
    char *pair = xasprintf("%s:%s", id, secret);
    size_t n = strlen(pair);
    unsigned char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
    char *line;

    EVP_EncodeBlock(b64, (const unsigned char *)pair, (int)n);
    line = xasprintf("Authorization: Basic %s", (const char *)b64);
    free(id);
    seal_wipe_free(secret);
    seal_wipe_free(pair);
    seal_wipe_free((char *)b64);
    return line;
}

static void
xverify_exchange(struct xverify_op *op)
{
    const struct config *cfg = op->app->cfg;
    char *form = NULL, *url = xasprintf("%s/2/oauth2/token", cfg->x_api_base), *auth = NULL;
    const char *headers[3] = { "Content-Type: application/x-www-form-urlencoded",
                               "Accept: application/json", NULL };
    struct httpc_req hr = { 0 };

    mastoapi_form_add(&form, "grant_type", "authorization_code");
    mastoapi_form_add(&form, "code", op->code);
    mastoapi_form_add(&form, "redirect_uri", op->callback);
    mastoapi_form_add(&form, "code_verifier", op->verifier);
    /* A public client names itself; a confidential one authenticates (Basic). */
    mastoapi_form_add(&form, "client_id", cfg->x_client_id);
    hr.method = "POST";
    hr.url = url;
    hr.headers = headers;
    hr.nheaders = 2;
    if (*cfg->x_client_secret != '\0') {
        auth = xverify_basic_auth(cfg);
        headers[2] = auth;
        hr.nheaders = 3;
    }
    hr.body = form;
    hr.body_len = strlen(form);
    httpc_request(op->app->httpc, &hr, xverify_token_cb, op);
    seal_wipe_free(form);
    seal_wipe_free(auth);
    free(url);
}

/* Spent whatever happens next: a state is good for one callback. */
static const char sql_state_spend[] =
    "WITH s AS (DELETE FROM x_verify_states WHERE hash = $1::bytea RETURNING *)"
    " SELECT s.member_id, s.session_hash = $2::bytea, s.expires_at > now(), s.verifier,"
    "  s.verifier_nonce FROM s";

static void
xverify_state_spent(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct xverify_op *op = arg;
    char ad[64];

    (void)err;
    if (outcome != DB_OK || PQntuples(res) != 1) {
        PQclear(res);
        xverify_back(op, outcome != DB_OK ? "failed" : "invalid"); /* unknown, or already spent */
        return;
    }
    snprintf(op->member_id, sizeof(op->member_id), "%s", PQgetvalue(res, 0, 0));
    if (strcmp(PQgetvalue(res, 0, 1), "t") != 0 || strcmp(PQgetvalue(res, 0, 2), "t") != 0 ||
        op->code == NULL) {
        const char *why = strcmp(PQgetvalue(res, 0, 1), "t") != 0   ? "invalid"
                          : strcmp(PQgetvalue(res, 0, 2), "t") != 0 ? "expired"
                                                                    : "denied";

        PQclear(res);
        xverify_back(op, why);
        return;
    }
    xverify_state_ad(op->member_id, ad, sizeof(ad));
    op->verifier = seal_from_bytea(op->app->seal, ad, PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
    PQclear(res);
    if (op->verifier == NULL) {
        log_error("x_verify_unseal_failed", "member=%s", op->member_id);
        xverify_back(op, "failed");
        return;
    }
    xverify_exchange(op);
}

void
xverify_callback(struct app *app, struct evhttp_request *req, const char *path)
{
    struct xverify_op *op = xverify_new(app, req);
    char hash[67];
    const char *params[2];

    (void)path;
    oauth_session_hash(app, req, op->session_hash);
    if (!app_x_verify_offered(app) ||
        oauth_callback_read(req, "", XV_MAX_SECRET, hash, &op->code) < 0) {
        xverify_back(op, !app_x_verify_offered(app) ? "off" : "invalid");
        return;
    }
    params[0] = hash;
    params[1] = *op->session_hash != '\0' ? op->session_hash : "\\x";
    db_query(app->db, sql_state_spend, 2, params, xverify_state_spent, op);
}
