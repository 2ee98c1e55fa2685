/* The OAuth grant on a member's own server: app registration, PKCE authorization, revocation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/http.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "follow.h"
#include "httpc.h"
#include "reply.h"
#include "linkpage.h"
#include "mastoapi.h"
#include "log.h"
#include "oauth.h"
#include "seal.h"
#include "texts.h"
#include "token.h"
#include "xmalloc.h"

#define OAUTH_MAX_SECRET 4096 /* client ids, secrets and tokens are tens of bytes */

/* --- pure helpers ---------------------------------------------------------------------------- */

void
oauth_app_ad(const char *host, char *out, size_t outlen)
{
    snprintf(out, outlen, "app:%s", host);
}

/* The PKCE verifier is bound to its state row the same way. */
static void
oauth_state_ad(const char *member_id, const char *host, char *out, size_t outlen)
{
    snprintf(out, outlen, "state:%s:%s", member_id, host);
}

const char *
oauth_str(struct json_object *o, const char *key, size_t max)
{
    struct json_object *v = NULL;
    const char *s;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    s = json_object_get_string(v);
    return *s != '\0' && strlen(s) <= max ? s : NULL;
}

/* base64url without padding of SHA-256(verifier). */
void
oauth_challenge(const char *verifier, char out[48])
{
    unsigned char md[32], b64[48];
    unsigned int n = 0;
    int len;

    EVP_Digest(verifier, strlen(verifier), md, &n, EVP_sha256(), NULL);
    len = EVP_EncodeBlock(b64, md, (int)n);
    while (len > 0 && b64[len - 1] == '=')
        len--;
    for (int i = 0; i < len; i++)
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    out[len] = '\0';
}

/* --- one operation's context ----------------------------------------------------------------- */

/* One grant operation (start, callback, revocation), the single owner of what it holds. */
struct oauth_op {
    struct app *app;
    struct evhttp_request *req; /* NULL once answered (the revocation goes on alone) */
    char member_id[24];
    char session_hash[67];
    char origin[300];
    char host[256];
    char *actor_uri;
    char *client_id;
    char *client_secret;   /* plain: wiped when freed */
    char *verifier;        /* plain: wiped when freed */
    char *token;           /* plain: wiped when freed */
    char *scope;           /* the token's scopes, as its server granted them */
    char *acct;            /* callback: the member's user@host */
    char *code;            /* plain: wiped when freed */
    char *callback;        /* <base>/link/oauth/callback */
    char state[65];        /* start: the state handed to the browser (only its hash is stored) */
    oauth_app_fn app_done; /* oauth_app_ensure's caller, with its arg */
    oauth_exchange_fn ex_done; /* oauth_exchange's caller, with its arg */
    void *done_arg;
};

static struct oauth_op *
oauth_op_new(struct app *app, struct evhttp_request *req)
{
    struct oauth_op *op = xcalloc(1, sizeof(*op));

    op->app = app;
    op->req = req;
    op->callback = xasprintf("%s%s", app->cfg->base_url, OAUTH_CALLBACK_PATH);
    return op;
}

static void
oauth_op_free(struct oauth_op *op)
{
    free(op->actor_uri);
    free(op->client_id);
    seal_wipe_free(op->client_secret);
    seal_wipe_free(op->verifier);
    seal_wipe_free(op->token);
    free(op->scope);
    free(op->acct);
    seal_wipe_free(op->code);
    free(op->callback);
    free(op);
}

void
oauth_session_hash(const struct app *app, struct evhttp_request *req, char out[67])
{
    const char *h = reply_req_header(req, "Cookie");
    char token[65];

    out[0] = '\0';
    if (h != NULL &&
        linkpage_cookie(h, linkpage_cookie_name(app->cfg), token, sizeof(token)) == 0 &&
        strlen(token) == 64)
        token_sha256_bytea(token, out);
}

/* Answers a page POST with {"error": key's text in the browser's language} and frees op. */
static void
oauth_fail(struct oauth_op *op, enum reply_err kind, const char *key)
{
    if (op->req != NULL)
        reply_fail(op->req, kind, texts_get(reply_req_lang(op->req), key));
    oauth_op_free(op);
}

/* Sends the browser back to the page with the outcome of the callback; op lives on. */
static void
oauth_answer(struct oauth_op *op, const char *result)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(op->req);
    char *loc = xasprintf("/link?oauth=%s", result);

    log_info("oauth_callback", "member=%s host=%s result=%s",
             *op->member_id != '\0' ? op->member_id : "-", *op->host != '\0' ? op->host : "-",
             result);
    evhttp_add_header(out, "Location", loc);
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    reply_send(op->req, 303, "text/plain; charset=utf-8", "", 0);
    op->req = NULL;
    free(loc);
}

/* oauth_answer, then op goes. */
static void
oauth_back(struct oauth_op *op, const char *result)
{
    oauth_answer(op, result);
    oauth_op_free(op);
}

/* A form POST to the member's server; the body is wiped once httpc has copied it. */
static void
oauth_post_form(struct oauth_op *op, const char *path, char *form, httpc_done_fn cb)
{
    static const char *const headers[2] = {
        "Content-Type: application/x-www-form-urlencoded",
        "Accept: application/json",
    };
    char *url = xasprintf("%s%s", op->origin, path);
    struct httpc_req hr = { 0 };

    hr.method = "POST";
    hr.url = url;
    hr.headers = headers;
    hr.nheaders = 2;
    hr.body = form;
    hr.body_len = strlen(form);
    httpc_request(op->app->httpc, &hr, cb, op);
    free(url);
    seal_wipe_free(form);
}

/*
 * Seals secret under ad into params[at] (ciphertext) and params[at + 1] (nonce), then runs
 * sql with its n params for op. -1 when sealing fails: nothing ran.
 */
static int
oauth_query_sealed(struct oauth_op *op, const char *sql, const char **params, int n, int at,
                   const char *ad, const char *secret, db_result_fn cb)
{
    char nonce[SEAL_NONCE_BYTEA], *ct = NULL;

    if (seal_to_bytea(op->app->seal, ad, secret, &ct, nonce) < 0)
        return -1;
    params[at] = ct;
    params[at + 1] = nonce;
    db_query(op->app->db, sql, n, params, cb, op);
    free(ct);
    return 0;
}

/* --- passerelle's app on a member's server ------------------------------------------------- */

static const char sql_app_current[] =
    "SELECT client_id FROM oauth_apps WHERE host = $1 AND redirect_uri = $2 AND scopes = $3";

/* One registration per host; a newer one (our base URL moved) replaces the old. */
static const char sql_app_store[] =
    "INSERT INTO oauth_apps (host, client_id, client_secret, client_secret_nonce, redirect_uri,"
    " scopes) VALUES ($1, $2, $3::bytea, $4::bytea, $5, $6)"
    " ON CONFLICT (host) DO UPDATE SET client_id = EXCLUDED.client_id,"
    "  client_secret = EXCLUDED.client_secret,"
    "  client_secret_nonce = EXCLUDED.client_secret_nonce, redirect_uri = EXCLUDED.redirect_uri,"
    "  scopes = EXCLUDED.scopes, created_at = now()"
    " WHERE oauth_apps.redirect_uri <> EXCLUDED.redirect_uri"
    "  OR oauth_apps.scopes <> EXCLUDED.scopes";
static const char sql_app_client[] = "SELECT client_id FROM oauth_apps WHERE host = $1";

/* The registration's outcome goes to its caller; op goes. */
static void
oauth_app_done(struct oauth_op *op, const char *client_id, const char *err_key)
{
    op->app_done(op->app, client_id, err_key, op->done_arg);
    oauth_op_free(op);
}

static void
oauth_app_read(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct oauth_op *op = arg;

    (void)err;
    if (outcome != DB_OK || PQntuples(res) != 1)
        oauth_app_done(op, NULL, "page.db_unavailable");
    else
        oauth_app_done(op, PQgetvalue(res, 0, 0), NULL);
    PQclear(res);
}

static void
oauth_app_stored(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct oauth_op *op = arg;
    const char *params[1] = { op->host };

    PQclear(res);
    (void)err;
    if (outcome != DB_OK) {
        oauth_app_done(op, NULL, "page.db_unavailable");
        return;
    }
    /* Whoever registered first for this host wins; read back what is stored. */
    db_query(op->app->db, sql_app_client, 1, params, oauth_app_read, op);
}

/* The answer to POST /api/v1/apps: an Application with client_id and client_secret. */
static void
oauth_app_registered(const struct httpc_response *resp, void *arg)
{
    struct oauth_op *op = arg;
    struct json_object *o = NULL;
    const char *id, *secret;
    char ad[300];
    const char *params[6];

    if (resp->error != HTTPC_OK || resp->status != 200) {
        log_warn("oauth_app_failed", "host=%s error=%s status=%ld", op->host,
                 httpc_error_name(resp->error), resp->status);
        oauth_app_done(op, NULL,
                       resp->error == HTTPC_OK ? "oauth.register_refused" : "oauth.no_answer");
        return;
    }
    o = mastoapi_parse_object(resp->body, resp->body_len);
    id = o != NULL ? oauth_str(o, "client_id", OAUTH_MAX_SECRET) : NULL;
    secret = o != NULL ? oauth_str(o, "client_secret", OAUTH_MAX_SECRET) : NULL;
    oauth_app_ad(op->host, ad, sizeof(ad));
    params[0] = op->host;
    params[1] = id;
    params[4] = op->callback;
    params[5] = OAUTH_SCOPES;
    if (id == NULL || secret == NULL ||
        oauth_query_sealed(op, sql_app_store, params, 6, 2, ad, secret, oauth_app_stored) < 0) {
        json_object_put(o);
        log_warn("oauth_app_failed", "host=%s reason=no_client_credentials", op->host);
        oauth_app_done(op, NULL, "oauth.no_credentials");
        return;
    }
    log_info("oauth_app_registered", "host=%s", op->host);
    json_object_put(o);
}

static void
oauth_app_current(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct oauth_op *op = arg;
    char *form = NULL;

    (void)err;
    if (outcome != DB_OK) {
        PQclear(res);
        oauth_app_done(op, NULL, "page.db_unavailable");
        return;
    }
    if (PQntuples(res) == 1) {
        oauth_app_done(op, PQgetvalue(res, 0, 0), NULL);
        PQclear(res);
        return;
    }
    PQclear(res);
    mastoapi_form_add(&form, "client_name", "passerelle");
    mastoapi_form_add(&form, "redirect_uris", op->callback);
    mastoapi_form_add(&form, "scopes", OAUTH_SCOPES);
    mastoapi_form_add(&form, "website", op->app->cfg->base_url);
    oauth_post_form(op, "/api/v1/apps", form, oauth_app_registered);
}

void
oauth_app_ensure(struct app *app, const char *origin, const char *host, oauth_app_fn cb, void *arg)
{
    struct oauth_op *op = oauth_op_new(app, NULL);
    const char *params[3];

    snprintf(op->origin, sizeof(op->origin), "%s", origin);
    snprintf(op->host, sizeof(op->host), "%s", host);
    op->app_done = cb;
    op->done_arg = arg;
    params[0] = op->host;
    params[1] = op->callback;
    params[2] = OAUTH_SCOPES;
    db_query(app->db, sql_app_current, 3, params, oauth_app_current, op);
}

/* --- POST /link/oauth/start ------------------------------------------------------------------ */

static const char sql_start_member[] =
    "SELECT m.actor_uri, m.autofollow FROM members m WHERE m.id = $1::bigint";

/* Expired states go whenever a new one comes. */
static const char sql_state_store[] =
    "WITH gc AS (DELETE FROM oauth_states WHERE expires_at < now())"
    " INSERT INTO oauth_states (hash, member_id, session_hash, host, verifier, verifier_nonce,"
    "  expires_at) VALUES ($1::bytea, $2::bigint, $3::bytea, $4, $5::bytea, $6::bytea,"
    "  now() + $7::int * interval '1 second')";

void
oauth_authorize_url(char **url, const char *endpoint, const char *client_id,
                    const char *redirect_uri, const char *scope, const char *state,
                    const char *verifier)
{
    char challenge[48], *q = NULL;

    oauth_challenge(verifier, challenge);
    mastoapi_form_add(&q, "response_type", "code");
    mastoapi_form_add(&q, "client_id", client_id);
    mastoapi_form_add(&q, "redirect_uri", redirect_uri);
    mastoapi_form_add(&q, "scope", scope);
    mastoapi_form_add(&q, "state", state);
    mastoapi_form_add(&q, "code_challenge", challenge);
    mastoapi_form_add(&q, "code_challenge_method", "S256");
    *url = xasprintf("%s?%s", endpoint, q);
    free(q);
}

void
oauth_authorize_reply(struct evhttp_request *req, const char *endpoint, const char *client_id,
                      const char *redirect_uri, const char *scope, const char *state,
                      const char *verifier)
{
    char *url;
    struct json_object *o;

    oauth_authorize_url(&url, endpoint, client_id, redirect_uri, scope, state, verifier);
    o = json_object_new_object();
    json_object_object_add(o, "authorize_url", json_object_new_string(url));
    free(url);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    reply_json(req, 200, "application/json", o);
}

static void
oauth_state_stored(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct oauth_op *op = arg;
    char *endpoint;

    PQclear(res);
    if (outcome != DB_OK) {
        /* 23503: the session ended meanwhile. */
        log_warn("oauth_start_failed", "member=%s reason=%s", op->member_id, log_q(err));
        oauth_fail(op, REPLY_ERR_UNAVAILABLE, "page.db_unavailable");
        return;
    }
    endpoint = xasprintf("%s/oauth/authorize", op->origin);
    log_info("oauth_start", "member=%s host=%s", op->member_id, op->host);
    oauth_authorize_reply(op->req, endpoint, op->client_id, op->callback, OAUTH_SCOPES, op->state,
                          op->verifier);
    free(endpoint);
    oauth_op_free(op);
}

/* The app is known: a state and a verifier, the verifier sealed to the state's row. */
static void
oauth_start_authorize(struct app *app, const char *client_id, const char *err_key, void *arg)
{
    struct oauth_op *op = arg;
    char verifier[65], hash[67], ad[300], ttl[16];
    const char *params[7];

    (void)app;
    if (client_id == NULL) {
        oauth_fail(op, REPLY_ERR_UNAVAILABLE, err_key);
        return;
    }
    op->client_id = xstrdup(client_id);
    if (token_random_hex(32, op->state, sizeof(op->state)) < 0 ||
        token_random_hex(32, verifier, sizeof(verifier)) < 0) {
        oauth_fail(op, REPLY_ERR_INTERNAL, "page.no_randomness");
        return;
    }
    op->verifier = xstrdup(verifier);
    OPENSSL_cleanse(verifier, sizeof(verifier));
    token_sha256_bytea(op->state, hash);
    snprintf(ttl, sizeof(ttl), "%d", OAUTH_STATE_TTL);
    oauth_state_ad(op->member_id, op->host, ad, sizeof(ad));
    params[0] = hash;
    params[1] = op->member_id;
    params[2] = op->session_hash;
    params[3] = op->host;
    params[6] = ttl;
    if (oauth_query_sealed(op, sql_state_store, params, 7, 4, ad, op->verifier,
                           oauth_state_stored) < 0)
        oauth_fail(op, REPLY_ERR_INTERNAL, "page.seal_failed");
}

static void
oauth_start_member(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct oauth_op *op = arg;

    (void)err;
    if (outcome != DB_OK || PQntuples(res) != 1) {
        PQclear(res);
        oauth_fail(op, REPLY_ERR_UNAVAILABLE, "page.db_unavailable");
        return;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
        PQclear(res);
        oauth_fail(op, REPLY_ERR_BAD_REQUEST, "oauth.autofollow_first");
        return;
    }
    if (mastoapi_home(op->app->cfg, PQgetvalue(res, 0, 0), op->origin, sizeof(op->origin), op->host,
                      sizeof(op->host)) < 0) {
        PQclear(res);
        oauth_fail(op, REPLY_ERR_BAD_REQUEST, "oauth.https_only");
        return;
    }
    PQclear(res);
    oauth_app_ensure(op->app, op->origin, op->host, oauth_start_authorize, op);
}

static void
oauth_start_session(struct app *app, struct evhttp_request *req, const char *member_id, void *arg)
{
    struct oauth_op *op = oauth_op_new(app, req);
    const char *params[1] = { op->member_id };

    (void)arg;
    snprintf(op->member_id, sizeof(op->member_id), "%s", member_id);
    oauth_session_hash(app, req, op->session_hash);
    db_query(app->db, sql_start_member, 1, params, oauth_start_member, op);
}

void
oauth_start(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    if (app->seal == NULL) {
        reply_fail(req, REPLY_ERR_UNAVAILABLE, texts_get(reply_req_lang(req), "oauth.not_set_up"));
        return;
    }
    linkpage_session(app, req, 1, oauth_start_session, NULL);
}

/* --- GET /link/oauth/callback ---------------------------------------------------------------- */

/*
 * Spends the state whatever happens next: a state is good for one callback. Returns what
 * the checks need, and the app's credentials.
 */
static const char sql_state_spend[] =
    "WITH s AS (DELETE FROM oauth_states WHERE hash = $1::bytea RETURNING *)"
    " SELECT s.member_id, s.session_hash = $2::bytea, s.expires_at > now(), s.host,"
    "  s.verifier, s.verifier_nonce, a.client_id, a.client_secret, a.client_secret_nonce,"
    "  m.actor_uri, m.acct"
    " FROM s JOIN oauth_apps a ON a.host = s.host JOIN members m ON m.id = s.member_id";

/* One grant per member: a new one replaces the old, with a clean slate. */
static const char sql_grant_store[] =
    "INSERT INTO oauth_grants (member_id, host, ciphertext, nonce, scopes)"
    " VALUES ($1::bigint, $2, $3::bytea, $4::bytea, $5)"
    " ON CONFLICT (member_id) DO UPDATE SET host = EXCLUDED.host,"
    "  ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce, scopes = EXCLUDED.scopes,"
    "  rate_limited_until = NULL, busy_until = NULL, created_at = now()";

int
oauth_grant_push(struct dbtx *tx, const struct app *app, const char *member_id, const char *host,
                 const char *token, const char *scope)
{
    char ad[300], nonce[SEAL_NONCE_BYTEA], *ct = NULL;

    mastoapi_grant_ad(member_id, host, ad, sizeof(ad));
    if (seal_to_bytea(app->seal, ad, token, &ct, nonce) < 0)
        return -1;
    dbtx_push(tx, sql_grant_store, NULL, NULL, 5, member_id, host, ct, nonce, scope);
    free(ct);
    return 0;
}

static void
oauth_grant_stored(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct oauth_op *op = arg;

    PQclear(res);
    if (outcome != DB_OK) {
        log_warn("oauth_grant_store_failed", "member=%s reason=%s", op->member_id, log_q(err));
        oauth_back(op, "failed");
        return;
    }
    follow_kick(op->app->follow);
    oauth_back(op, "granted");
}

static void
oauth_revoked_remote(const struct httpc_response *resp, void *arg)
{
    struct oauth_op *op = arg;

    log_info("oauth_revoke_remote", "member=%s host=%s error=%s status=%ld", op->member_id,
             op->host, httpc_error_name(resp->error), resp->status);
    oauth_op_free(op);
}

/* Best effort, after the browser has its answer: the server forgets op->token; op goes. */
static void
oauth_revoke_remote(struct oauth_op *op)
{
    char *form = NULL;

    mastoapi_form_add(&form, "client_id", op->client_id);
    mastoapi_form_add(&form, "client_secret", op->client_secret);
    mastoapi_form_add(&form, "token", op->token);
    oauth_post_form(op, "/oauth/revoke", form, oauth_revoked_remote);
}

void
oauth_revoke_token(struct app *app, const struct oauth_exchange *x, const char *token)
{
    struct oauth_op *op = oauth_op_new(app, NULL);

    snprintf(op->member_id, sizeof(op->member_id), "%s", x->who);
    snprintf(op->origin, sizeof(op->origin), "%s", x->origin);
    snprintf(op->host, sizeof(op->host), "%s", x->host);
    op->client_id = xstrdup(x->client_id);
    op->client_secret = xstrdup(x->client_secret);
    op->token = xstrdup(token);
    oauth_revoke_remote(op);
}

/* The exchange's outcome goes to its caller; then op goes, or asks its server to forget. */
static void
oauth_exchanged(struct oauth_op *op, enum oauth_outcome outcome)
{
    op->ex_done(outcome, outcome == OAUTH_OK ? op->token : NULL,
                outcome == OAUTH_OK ? op->scope : NULL, op->done_arg);
    if (outcome == OAUTH_WRONG_ACCOUNT && op->token != NULL)
        oauth_revoke_remote(op); /* never kept; that account's server forgets it at once */
    else
        oauth_op_free(op);
}

/*
 * The account the token acts for, as its server says (verify_credentials): only the expected
 * account is good. Otherwise a browser signed in to another account on that server (the
 * member's partner, or a victim lured onto an attacker's link page) would hand over a token
 * that acts in somebody else's name.
 */
static void
oauth_verified_cb(const struct httpc_response *resp, struct json_object *account, void *arg)
{
    struct oauth_op *op = arg;

    if (account == NULL) {
        log_warn("oauth_verify_failed", "member=%s host=%s error=%s status=%ld", op->member_id,
                 op->host, httpc_error_name(resp->error), resp->status);
        oauth_exchanged(op, OAUTH_FAILED);
        return;
    }
    switch (mastoapi_account_whose(account, op->actor_uri, op->acct)) {
    case MASTOAPI_ACCOUNT_MEMBER:
        oauth_exchanged(op, OAUTH_OK);
        return;
    case MASTOAPI_ACCOUNT_OTHER:
        oauth_exchanged(op, OAUTH_WRONG_ACCOUNT);
        return;
    case MASTOAPI_ACCOUNT_MALFORMED:
        log_warn("oauth_verify_failed", "member=%s host=%s reason=not_an_account", op->member_id,
                 op->host);
        oauth_exchanged(op, OAUTH_FAILED);
        return;
    }
}

/* The answer to POST /oauth/token: a Token with access_token. */
static void
oauth_token_cb(const struct httpc_response *resp, void *arg)
{
    struct oauth_op *op = arg;
    struct json_object *o = NULL;
    const char *token, *type, *scope, *me;

    if (resp->error != HTTPC_OK || resp->status != 200) {
        log_warn("oauth_token_failed", "member=%s host=%s error=%s status=%ld", op->member_id,
                 op->host, httpc_error_name(resp->error), resp->status);
        oauth_exchanged(op, OAUTH_FAILED);
        return;
    }
    o = mastoapi_parse_object(resp->body, resp->body_len);
    token = o != NULL ? oauth_str(o, "access_token", OAUTH_MAX_SECRET) : NULL;
    type = o != NULL ? oauth_str(o, "token_type", 64) : NULL;
    scope = o != NULL ? oauth_str(o, "scope", 1024) : NULL;
    /* Pleroma and Akkoma also say whose token it is in the answer itself. */
    me = o != NULL ? oauth_str(o, "me", 2048) : NULL;
    if (token == NULL || (type != NULL && strcasecmp(type, "bearer") != 0)) {
        json_object_put(o);
        log_warn("oauth_token_failed", "member=%s host=%s reason=no_bearer_token", op->member_id,
                 op->host);
        oauth_exchanged(op, OAUTH_FAILED);
        return;
    }
    op->token = xstrdup(token);
    if (scope != NULL) {
        free(op->scope);
        op->scope = xstrdup(scope);
    }
    /* me is borrowed from o: compared before o goes. */
    if (me != NULL && strcmp(me, op->actor_uri) != 0) {
        json_object_put(o);
        oauth_exchanged(op, OAUTH_WRONG_ACCOUNT);
        return;
    }
    json_object_put(o);
    mastoapi_verify_credentials(op->app->httpc, op->origin, op->token, oauth_verified_cb, op);
}

void
oauth_exchange(struct app *app, const struct oauth_exchange *x, oauth_exchange_fn cb, void *arg)
{
    struct oauth_op *op = oauth_op_new(app, NULL);
    char *form = NULL;

    snprintf(op->member_id, sizeof(op->member_id), "%s", x->who);
    snprintf(op->origin, sizeof(op->origin), "%s", x->origin);
    snprintf(op->host, sizeof(op->host), "%s", x->host);
    op->actor_uri = xstrdup(x->actor_uri);
    op->acct = xstrdup(x->acct);
    op->client_id = xstrdup(x->client_id);
    op->client_secret = xstrdup(x->client_secret);
    op->scope = xstrdup(x->scope); /* what was asked, when the answer does not say */
    op->ex_done = cb;
    op->done_arg = arg;
    mastoapi_form_add(&form, "grant_type", "authorization_code");
    mastoapi_form_add(&form, "code", x->code);
    mastoapi_form_add(&form, "redirect_uri", op->callback);
    mastoapi_form_add(&form, "client_id", x->client_id);
    mastoapi_form_add(&form, "client_secret", x->client_secret);
    mastoapi_form_add(&form, "code_verifier", x->verifier);
    oauth_post_form(op, "/oauth/token", form, oauth_token_cb);
}

/* The member's own token: sealed into their grant. */
static void
oauth_callback_exchanged(enum oauth_outcome outcome, const char *token, const char *scope,
                         void *arg)
{
    struct oauth_op *op = arg;
    char ad[300];
    const char *params[5];

    if (outcome != OAUTH_OK) {
        oauth_back(op, outcome == OAUTH_WRONG_ACCOUNT ? "wrong_account" : "failed");
        return;
    }
    mastoapi_grant_ad(op->member_id, op->host, ad, sizeof(ad));
    params[0] = op->member_id;
    params[1] = op->host;
    params[4] = scope;
    if (oauth_query_sealed(op, sql_grant_store, params, 5, 2, ad, token, oauth_grant_stored) < 0)
        oauth_back(op, "failed");
}

static void
oauth_state_spent(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct oauth_op *op = arg;
    struct oauth_exchange x = { 0 };
    char ad[300], host[256];
    int same_session, fresh;

    (void)err;
    if (outcome != DB_OK) {
        PQclear(res);
        oauth_back(op, "failed");
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        oauth_back(op, "invalid"); /* unknown, or already spent */
        return;
    }
    snprintf(op->member_id, sizeof(op->member_id), "%s", PQgetvalue(res, 0, 0));
    snprintf(op->host, sizeof(op->host), "%s", PQgetvalue(res, 0, 3));
    same_session = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    fresh = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    op->actor_uri = xstrdup(PQgetvalue(res, 0, 9));
    op->acct = xstrdup(PQgetvalue(res, 0, 10));
    if (!same_session || !fresh || op->code == NULL) {
        PQclear(res);
        oauth_back(op, !same_session ? "invalid" : !fresh ? "expired" : "denied");
        return;
    }
    oauth_state_ad(op->member_id, op->host, ad, sizeof(ad));
    op->verifier = seal_from_bytea(op->app->seal, ad, PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
    oauth_app_ad(op->host, ad, sizeof(ad));
    op->client_secret =
        seal_from_bytea(op->app->seal, ad, PQgetvalue(res, 0, 7), PQgetvalue(res, 0, 8));
    op->client_id = xstrdup(PQgetvalue(res, 0, 6));
    PQclear(res);
    if (op->verifier == NULL || op->client_secret == NULL) {
        log_error("oauth_unseal_failed", "member=%s host=%s", op->member_id, op->host);
        oauth_back(op, "failed");
        return;
    }
    /* The member's server as it is now (an actor id does not change; this is a check). */
    if (mastoapi_home(op->app->cfg, op->actor_uri, op->origin, sizeof(op->origin), host,
                      sizeof(host)) < 0 ||
        strcmp(host, op->host) != 0) {
        oauth_back(op, "failed");
        return;
    }
    x.who = op->member_id;
    x.origin = op->origin;
    x.host = op->host;
    x.actor_uri = op->actor_uri;
    x.acct = op->acct;
    x.client_id = op->client_id;
    x.client_secret = op->client_secret;
    x.verifier = op->verifier;
    x.code = op->code;
    x.scope = OAUTH_SCOPES;
    oauth_exchange(op->app, &x, oauth_callback_exchanged, op);
}

int
oauth_callback_read(struct evhttp_request *req, const char *prefix, size_t max, char state_hash[67],
                    char **code)
{
    char *state = reply_req_param(req, "state");
    char *c = reply_req_param(req, "code");
    char *error = reply_req_param(req, "error");
    size_t n = strlen(prefix);

    *code = NULL;
    if (state == NULL || strncmp(state, prefix, n) != 0 || strlen(state + n) != 64) {
        free(state);
        seal_wipe_free(c);
        free(error);
        return -1;
    }
    /* A refusal (error=access_denied) comes without a code: the state is spent all the same. */
    if (error == NULL && c != NULL && *c != '\0' && strlen(c) <= max)
        *code = c;
    else
        seal_wipe_free(c);
    free(error);
    token_sha256_bytea(state + n, state_hash);
    free(state);
    return 0;
}

void
oauth_callback(struct app *app, struct evhttp_request *req, const char *path)
{
    struct oauth_op *op = oauth_op_new(app, req);
    char hash[67];
    const char *params[2];

    (void)path;
    oauth_session_hash(app, req, op->session_hash);
    if (app->seal == NULL || oauth_callback_read(req, "", OAUTH_MAX_SECRET, hash, &op->code) < 0) {
        oauth_back(op, app->seal == NULL ? "off" : "invalid");
        return;
    }
    params[0] = hash;
    params[1] = *op->session_hash != '\0' ? op->session_hash : "\\x";
    db_query(app->db, sql_state_spend, 2, params, oauth_state_spent, op);
}

/* --- POST /link/oauth/revoke ----------------------------------------------------------------- */

const char oauth_grant_delete_sql[] =
    "WITH g AS (DELETE FROM oauth_grants WHERE member_id = $1::bigint RETURNING *)"
    " SELECT g.host, g.ciphertext, g.nonce, a.client_id, a.client_secret, a.client_secret_nonce,"
    "  m.actor_uri"
    " FROM g JOIN oauth_apps a ON a.host = g.host JOIN members m ON m.id = g.member_id";

struct oauth_op *
oauth_dropped_new(struct app *app, const char *member_id, const PGresult *res)
{
    struct oauth_op *op;
    char ad[300], host[256];

    if (PQntuples(res) != 1 || app->seal == NULL)
        return NULL;
    op = oauth_op_new(app, NULL);
    snprintf(op->member_id, sizeof(op->member_id), "%s", member_id);
    snprintf(op->host, sizeof(op->host), "%s", PQgetvalue(res, 0, 0));
    mastoapi_grant_ad(op->member_id, op->host, ad, sizeof(ad));
    op->token = seal_from_bytea(app->seal, ad, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    oauth_app_ad(op->host, ad, sizeof(ad));
    op->client_secret =
        seal_from_bytea(app->seal, ad, PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
    op->client_id = xstrdup(PQgetvalue(res, 0, 3));
    if (op->token == NULL || op->client_secret == NULL ||
        mastoapi_home(app->cfg, PQgetvalue(res, 0, 6), op->origin, sizeof(op->origin), host,
                      sizeof(host)) < 0) {
        oauth_op_free(op);
        return NULL;
    }
    return op;
}

void
oauth_dropped_revoke(struct oauth_op *op)
{
    oauth_revoke_remote(op);
}

void
oauth_dropped_free(struct oauth_op *op)
{
    if (op != NULL)
        oauth_op_free(op);
}

static void
oauth_grant_deleted(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct oauth_op *op = arg, *dropped;
    struct json_object *o;
    int had;

    (void)err;
    if (outcome != DB_OK) {
        PQclear(res);
        oauth_fail(op, REPLY_ERR_UNAVAILABLE, "linkpage.unavailable");
        return;
    }
    had = PQntuples(res) == 1;
    o = json_object_new_object();
    json_object_object_add(o, "granted", json_object_new_boolean(0));
    json_object_object_add(o, "revoked", json_object_new_boolean(had));
    reply_json(op->req, 200, "application/json", o);
    op->req = NULL;
    log_info("oauth_revoked", "member=%s had_grant=%s", op->member_id, had ? "yes" : "no");
    /* Then, best effort, the member's server forgets the token too. */
    dropped = oauth_dropped_new(op->app, op->member_id, res);
    PQclear(res);
    oauth_op_free(op);
    if (dropped != NULL)
        oauth_revoke_remote(dropped);
}

static void
oauth_revoke_session(struct app *app, struct evhttp_request *req, const char *member_id, void *arg)
{
    struct oauth_op *op = oauth_op_new(app, req);
    const char *params[1] = { op->member_id };

    (void)arg;
    snprintf(op->member_id, sizeof(op->member_id), "%s", member_id);
    db_query(app->db, oauth_grant_delete_sql, 1, params, oauth_grant_deleted, op);
}

void
oauth_revoke(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    linkpage_session(app, req, 1, oauth_revoke_session, NULL);
}
