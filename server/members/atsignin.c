/* Signing in with Bluesky: atproto OAuth through the person's own PDS (a confidential client). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <openssl/crypto.h>

#include "activity.h"
#include "app.h"
#include "atclient.h"
#include "atgrant.h"
#include "atoauth.h"
#include "atsignin.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "form.h"
#include "identity.h"
#include "jose.h"
#include "linkcode.h"
#include "linkpage.h"
#include "log.h"
#include "oauth.h"
#include "ratelimit.h"
#include "reply.h"
#include "seal.h"
#include "session.h"
#include "signin.h"
#include "texts.h"
#include "token.h"
#include "url.h"
#include "xmalloc.h"

#define ATSIGNIN_MAX_SECRET 4096 /* codes are tens of bytes */

int
atsignin_handle(const char *input, char out[254])
{
    size_t n, label = 0, labels = 0, last = 0;

    while (*input == ' ' || *input == '\t')
        input++;
    if (*input == '@')
        input++;
    n = strlen(input);
    while (n > 0 && (input[n - 1] == ' ' || input[n - 1] == '\t'))
        n--;
    if (n < 3 || n > 253)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? (char)tolower((unsigned char)input[i]) : '.';

        if (c == '.') {
            /* a label: 1..63 characters, no hyphen at either end */
            if (label == 0 || label > 63 || out[i - 1] == '-' || out[last] == '-')
                return 0;
            labels++;
            label = 0;
            if (i < n)
                last = i + 1;
        } else if (isalnum((unsigned char)c) || c == '-') {
            label++;
        } else {
            return 0;
        }
        if (i < n)
            out[i] = c;
    }
    out[n] = '\0';
    /* Two labels at least, and the last one (the TLD) does not start with a digit. */
    return labels >= 2 && !isdigit((unsigned char)out[last]);
}

/* --- one sign-in's context ------------------------------------------------------------------- */

/* One start or one callback; the single owner of what it holds. */
struct atsignin_op {
    struct app *app;
    struct evhttp_request *req; /* NULL once answered */
    const char *lang;           /* a catalogue's code */
    int callback;               /* the pre-session cookie goes with the answer */
    int by_did;                 /* a DID was typed: handle holds it until it is resolved */
    char handle[254];
    char pds_host[URL_AUTHORITY_MAX];
    char state[65];    /* handed to the server; only its hash is kept */
    char browser[65];  /* the pre-session cookie; only its hash is kept */
    char verifier[64]; /* PKCE */
    char member_id[24];
    char session[65];
    char *did;
    char *pds_url;
    char *issuer, *token_ep, *revoke_ep;
    char *request_uri;
    struct atoauth_server *as;
    struct jose_key *dpop;
    char *dpop_jwk; /* plain: wiped */
    char *as_nonce;
    char *code; /* plain: wiped (the app password on that path) */
    struct atoauth_tokens t;
    struct atgrant_replaced *old; /* the member's grant the new one replaces, to revoke */
};

static struct atsignin_op *
atsignin_op_new(struct app *app, struct evhttp_request *req)
{
    struct atsignin_op *op = xcalloc(1, sizeof(*op));

    op->app = app;
    op->req = req;
    op->lang = reply_req_lang(req);
    return op;
}

static void
atsignin_op_free(struct atsignin_op *op)
{
    free(op->did);
    free(op->pds_url);
    free(op->issuer);
    free(op->token_ep);
    free(op->revoke_ep);
    free(op->request_uri);
    atoauth_server_free(op->as);
    jose_key_free(op->dpop);
    seal_wipe_free(op->dpop_jwk);
    free(op->as_nonce);
    seal_wipe_free(op->code);
    atoauth_tokens_free(&op->t);
    atgrant_replaced_end(op->app, op->old, 0);
    OPENSSL_cleanse(op->state, sizeof(op->state));
    OPENSSL_cleanse(op->browser, sizeof(op->browser));
    OPENSSL_cleanse(op->verifier, sizeof(op->verifier));
    OPENSSL_cleanse(op->session, sizeof(op->session));
    free(op);
}

/* Refuses with key's text ({acct} the handle, {host} the PDS's), the status of kind; op goes. */
static void
atsignin_refuse(struct atsignin_op *op, enum reply_err kind, const char *key, const char *why)
{
    if (op->req != NULL) {
        char *bridge = xasprintf("@%s@%s", op->app->cfg->bridge_username, op->app->cfg->host);
        char *text = texts_format(op->lang, key, "acct", op->handle, "host", op->pds_host, "bridge",
                                  bridge, NULL);

        log_info("atsignin", "result=refused reason=%s handle=%s", why, log_q(op->handle));
        if (op->callback)
            signin_set_cookie(op->req, op->app->cfg, "", 0);
        signin_page(op->req, reply_err_status(kind), op->lang, text);
        free(text);
        free(bridge);
    }
    atsignin_op_free(op);
}

/* The associated data binding a state's sealed verifier and DPoP key to its row. */
static void
atsignin_state_ad(const char *did, const char *what, char *out, size_t outlen)
{
    snprintf(out, outlen, "atsignin:%s:%s", did, what);
}

/* --- GET /signin/bluesky/start --------------------------------------------------------------- */

static const char sql_state_store[] =
    "WITH gc AS (DELETE FROM atproto_states WHERE expires_at < now())"
    " INSERT INTO atproto_states (hash, browser_hash, did, handle, pds_url, issuer,"
    "  token_endpoint, revocation_endpoint, verifier, verifier_nonce, dpop_key, dpop_key_nonce,"
    "  as_dpop_nonce, expires_at)"
    " VALUES ($1::bytea, $2::bytea, $3, $4, $5, $6, $7, $8, $9::bytea, $10::bytea, $11::bytea,"
    "  $12::bytea, $13, now() + $14::int * interval '1 second')";

static void
atsignin_state_stored(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atsignin_op *op = arg;
    struct evkeyvalq *out = evhttp_request_get_output_headers(op->req);
    char *id, *q = NULL, *loc;

    PQclear(res);
    if (outcome != DB_OK) {
        log_warn("atsignin_state_failed", "reason=%s", log_q(err));
        atsignin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.db_unavailable", "db_unavailable");
        return;
    }
    id = atclient_id(op->app->cfg);
    form_add(&q, "client_id", id);
    form_add(&q, "request_uri", op->request_uri);
    free(id);
    loc = xasprintf("%s?%s", op->as->authorization_endpoint, q);
    free(q);
    signin_set_cookie(op->req, op->app->cfg, op->browser, ATSIGNIN_TTL);
    evhttp_add_header(out, "Location", loc);
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    reply_send(op->req, 303, "text/plain; charset=utf-8", "", 0);
    op->req = NULL;
    log_info("atsignin", "result=redirected handle=%s pds=%s", log_q(op->handle), op->pds_host);
    free(loc);
    atsignin_op_free(op);
}

/* The server took the request: its request_uri goes into the redirect, the state into the db. */
static void
atsignin_pushed(const struct atoauth_answer *a, void *arg)
{
    struct atsignin_op *op = arg;
    struct json_object *v = NULL;
    char hash[67], bhash[67], ad[600], vn[SEAL_NONCE_BYTEA], dn[SEAL_NONCE_BYTEA], ttl[16];
    char *vct = NULL, *dct = NULL;
    const char *request_uri = NULL;

    if (a->error == HTTPC_OK && (a->status == 201 || a->status == 200) && a->json != NULL &&
        json_object_object_get_ex(a->json, "request_uri", &v) &&
        json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0 &&
        json_object_get_string_len(v) < 1024)
        request_uri = json_object_get_string(v);
    if (request_uri == NULL) {
        log_warn("atsignin_par_failed", "pds=%s error=%s status=%ld code=%s", op->pds_host,
                 httpc_error_name(a->error), a->status,
                 log_q(a->error_code != NULL ? a->error_code : "-"));
        atsignin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.unreachable", "par_failed");
        return;
    }
    op->request_uri = xstrdup(request_uri);
    token_sha256_bytea(op->state, hash);
    token_sha256_bytea(op->browser, bhash);
    atsignin_state_ad(op->did, "verifier", ad, sizeof(ad));
    if (seal_to_bytea(op->app->seal, ad, op->verifier, &vct, vn) < 0) {
        atsignin_refuse(op, REPLY_ERR_INTERNAL, "signin.failed", "seal_failed");
        return;
    }
    atsignin_state_ad(op->did, "dpop", ad, sizeof(ad));
    if (seal_to_bytea(op->app->seal, ad, op->dpop_jwk, &dct, dn) < 0) {
        free(vct);
        atsignin_refuse(op, REPLY_ERR_INTERNAL, "signin.failed", "seal_failed");
        return;
    }
    snprintf(ttl, sizeof(ttl), "%d", ATSIGNIN_TTL);
    {
        const char *params[14] = { hash,
                                   bhash,
                                   op->did,
                                   op->handle,
                                   op->pds_url,
                                   op->as->issuer,
                                   op->as->token_endpoint,
                                   op->as->revocation_endpoint,
                                   vct,
                                   vn,
                                   dct,
                                   dn,
                                   a->nonce,
                                   ttl };

        db_query(op->app->db, sql_state_store, 14, params, atsignin_state_stored, op);
    }
    free(vct);
    free(dct);
}

static void
atsignin_discovered(struct atoauth_server *as, const char *why, void *arg)
{
    struct atsignin_op *op = arg;
    char challenge[44], *form = NULL, *redirect;

    if (as == NULL) {
        log_info("atsignin", "result=refused reason=discovery pds=%s why=%s", op->pds_host,
                 log_q(why));
        atsignin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.unreachable", "discovery");
        return;
    }
    op->as = as;
    if (token_random_hex(32, op->state, sizeof(op->state)) < 0 ||
        token_random_hex(32, op->browser, sizeof(op->browser)) < 0 ||
        jose_random_b64url(32, op->verifier, sizeof(op->verifier)) < 0 ||
        (op->dpop = jose_key_generate(NULL, 0)) == NULL ||
        (op->dpop_jwk = jose_key_jwk(op->dpop, 1)) == NULL) {
        atsignin_refuse(op, REPLY_ERR_INTERNAL, "signin.failed", "no_randomness");
        return;
    }
    jose_sha256_b64url(op->verifier, strlen(op->verifier), challenge);
    redirect = atclient_redirect_uri(op->app->cfg);
    form_add(&form, "response_type", "code");
    form_add(&form, "code_challenge", challenge);
    form_add(&form, "code_challenge_method", "S256");
    form_add(&form, "state", op->state);
    form_add(&form, "redirect_uri", redirect);
    form_add(&form, "scope", ATCLIENT_SCOPE);
    form_add(&form, "login_hint", op->handle);
    atoauth_post(op->app, op->dpop, as->issuer, as->par_endpoint, form, NULL, atsignin_pushed, op);
    seal_wipe_free(form);
    free(redirect);
}

static void
atsignin_resolved(const struct identity_result *r, void *arg)
{
    struct atsignin_op *op = arg;

    if (r->status != IDENTITY_OK || r->handle == NULL) {
        int down = r->status == IDENTITY_UNAVAILABLE;

        log_info("atsignin", "result=refused reason=identity status=%s handle=%s why=%s",
                 identity_status_name(r->status), log_q(op->handle), log_q(r->error));
        atsignin_refuse(op, down ? REPLY_ERR_UNAVAILABLE : REPLY_ERR_NOT_FOUND,
                        down ? "signin.unreachable" : "signin.not_found", "identity");
        return;
    }
    op->did = xstrdup(r->did);
    op->pds_url = xstrdup(r->pds);
    snprintf(op->handle, sizeof(op->handle), "%s", r->handle);
    if (url_authority(op->pds_url, op->pds_host, sizeof(op->pds_host)) < 0) {
        atsignin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.not_found", "bad_pds");
        return;
    }
    atoauth_discover(op->app, op->pds_url, atsignin_discovered, op);
}

static void
atsignin_key_ready(struct app *app, const struct atclient *c, void *arg)
{
    struct atsignin_op *op = arg;

    if (c == NULL || app->identity == NULL) {
        atsignin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.not_set_up", "no_client_key");
        return;
    }
    if (op->by_did)
        identity_resolve_did(app->identity, op->handle, atsignin_resolved, op);
    else
        identity_resolve_handle(app->identity, op->handle, atsignin_resolved, op);
}

void
atsignin_start(struct app *app, struct evhttp_request *req, const char *path)
{
    struct atsignin_op *op = atsignin_op_new(app, req);
    char *typed = reply_req_param(req, "handle");

    (void)path;
    /* A DID typed instead of a handle: its document names the handle, checked back. */
    if (typed != NULL &&
        (strncmp(typed, "did:plc:", 8) == 0 || strncmp(typed, "did:web:", 8) == 0) &&
        strlen(typed) < sizeof(op->handle) &&
        strspn(typed, "abcdefghijklmnopqrstuvwxyz0123456789:.-_%") == strlen(typed)) {
        snprintf(op->handle, sizeof(op->handle), "%s", typed);
        op->by_did = 1;
    } else if (typed == NULL || !atsignin_handle(typed, op->handle)) {
        free(typed);
        op->handle[0] = '\0';
        atsignin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.bad_address", "bad_handle");
        return;
    }
    free(typed);
    if (app->seal == NULL || app->db == NULL) {
        atsignin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.not_set_up", "not_set_up");
        return;
    }
    atclient_load(app, atsignin_key_ready, op);
}

/* --- GET /signin/bluesky/callback ------------------------------------------------------------ */

/* Spent whatever happens next: a state is good for one callback. */
static const char sql_state_spend[] =
    "WITH s AS (DELETE FROM atproto_states WHERE hash = $1::bytea RETURNING *)"
    " SELECT s.browser_hash = $2::bytea, s.expires_at > now(), s.did, s.handle, s.pds_url,"
    "  s.issuer, s.token_endpoint, s.revocation_endpoint, s.verifier, s.verifier_nonce,"
    "  s.dpop_key, s.dpop_key_nonce, s.as_dpop_nonce FROM s";

/* The same person is the same member: by their DID, however they first came. */
static const char sql_member[] =
    "INSERT INTO members (actor_uri, acct, host, network, lang) VALUES ($1, $2, $3, 'atproto', $4)"
    " ON CONFLICT (actor_uri) DO UPDATE SET acct = EXCLUDED.acct, host = EXCLUDED.host,"
    "  updated_at = now()"
    " RETURNING id, (xmax = 0) AS created";

static int
atsignin_member_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct atsignin_op *op = arg;
    struct atgrant_new n = { 0 };

    if (PQntuples(res) != 1)
        return -1;
    snprintf(op->member_id, sizeof(op->member_id), "%s", PQgetvalue(res, 0, 0));
    if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
        signin_defaults_push(tx, op->member_id);
    n.member_id = op->member_id;
    n.did = op->did;
    n.pds_url = op->pds_url;
    n.issuer = op->issuer;
    n.token_endpoint = op->token_ep;
    n.revocation_endpoint = op->revoke_ep;
    n.scope = op->t.scope;
    n.access_token = op->t.access_token;
    n.refresh_token = op->t.refresh_token;
    n.expires_in = op->t.expires_in;
    n.dpop_jwk = op->dpop_jwk;
    n.as_nonce = op->as_nonce;
    if (atgrant_push_oauth(tx, op->app, &n, &op->old) < 0)
        return -1;
    return linkcode_session_push(tx, op->member_id, op->session);
}

/* The tokens are not kept: the server forgets them (best effort); op keeps nothing of them. */
static void
atsignin_revoke_tokens(struct atsignin_op *op)
{
    if (op->revoke_ep == NULL || op->t.refresh_token == NULL)
        return;
    atoauth_revoke(op->app, op->dpop, op->issuer, op->revoke_ep, op->t.refresh_token, op->as_nonce);
    op->dpop = NULL; /* atoauth_revoke frees it */
}

/*
 * Stored: the page session goes to the browser. The grant the new one replaced (signed in
 * before, with OAuth or an app password) would stay live at its server: it is revoked there
 * after the answer, best effort. kind is for the log.
 */
static void
atsignin_signed_in(struct atsignin_op *op, const char *kind)
{
    signin_finish(op->req, op->app->cfg, op->session);
    op->req = NULL;
    log_info("atsignin", "result=signed_in member=%s pds=%s kind=%s", op->member_id, op->pds_host,
             kind);
    atgrant_replaced_end(op->app, op->old, 1);
    op->old = NULL;
    atsignin_op_free(op);
}

static void
atsignin_done(enum db_outcome outcome, const char *err, void *arg)
{
    struct atsignin_op *op = arg;

    if (outcome != DB_OK) {
        log_warn("atsignin_store_failed", "reason=%s", log_q(err));
        atsignin_revoke_tokens(op);
        atsignin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.db_unavailable", "db_unavailable");
        return;
    }
    atsignin_signed_in(op, "oauth");
}

static void
atsignin_tokens(const struct atoauth_answer *a, void *arg)
{
    struct atsignin_op *op = arg;
    char why[160];
    struct dbtx *tx;

    if (a->nonce != NULL) {
        free(op->as_nonce);
        op->as_nonce = xstrdup(a->nonce);
    }
    if (a->error != HTTPC_OK || a->status != 200 || a->json == NULL) {
        log_warn("atsignin_token_failed", "pds=%s error=%s status=%ld code=%s", op->pds_host,
                 httpc_error_name(a->error), a->status,
                 log_q(a->error_code != NULL ? a->error_code : "-"));
        atsignin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.failed", "token_failed");
        return;
    }
    if (atoauth_tokens_parse(a->json, op->did, &op->t, why, sizeof(why)) < 0) {
        int other = strstr(why, "sub") != NULL;

        if (other) {
            /* Another account's tokens: never kept, and its server is asked to forget them. */
            struct json_object *v = NULL;

            if (json_object_object_get_ex(a->json, "refresh_token", &v) &&
                json_object_is_type(v, json_type_string) && op->revoke_ep != NULL) {
                atoauth_revoke(op->app, op->dpop, op->issuer, op->revoke_ep,
                               json_object_get_string(v), op->as_nonce);
                op->dpop = NULL;
            }
        }
        log_warn("atsignin_token_refused", "pds=%s reason=%s", op->pds_host, log_q(why));
        atsignin_refuse(op, other ? REPLY_ERR_FORBIDDEN : REPLY_ERR_BAD_REQUEST,
                        other ? "signin.wrong_account" : "signin.failed",
                        other ? "wrong_account" : "bad_token");
        return;
    }
    tx = dbtx_new(op->app->db, atsignin_done, op);
    dbtx_push(tx, sql_member, atsignin_member_cb, op, 4, op->did, op->handle, op->pds_host,
              op->lang);
    dbtx_run(tx);
}

static void
atsignin_state_spent(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atsignin_op *op = arg;
    char *iss = reply_req_param(op->req, "iss"), *verifier, *form = NULL, *redirect;
    char ad[600], why[160];
    int same, fresh;

    (void)err;
    if (outcome != DB_OK || PQntuples(res) != 1) {
        PQclear(res);
        free(iss);
        atsignin_refuse(op, outcome != DB_OK ? REPLY_ERR_UNAVAILABLE : REPLY_ERR_BAD_REQUEST,
                        outcome != DB_OK ? "signin.db_unavailable" : "signin.invalid",
                        outcome != DB_OK ? "db_unavailable" : "unknown_state");
        return;
    }
    same = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    fresh = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    op->did = xstrdup(PQgetvalue(res, 0, 2));
    snprintf(op->handle, sizeof(op->handle), "%s", PQgetvalue(res, 0, 3));
    op->pds_url = xstrdup(PQgetvalue(res, 0, 4));
    url_authority(op->pds_url, op->pds_host, sizeof(op->pds_host));
    op->issuer = xstrdup(PQgetvalue(res, 0, 5));
    op->token_ep = xstrdup(PQgetvalue(res, 0, 6));
    op->revoke_ep = PQgetisnull(res, 0, 7) ? NULL : xstrdup(PQgetvalue(res, 0, 7));
    if (!PQgetisnull(res, 0, 12))
        op->as_nonce = xstrdup(PQgetvalue(res, 0, 12));
    if (!same || !fresh || op->code == NULL) {
        PQclear(res);
        free(iss);
        atsignin_refuse(op, !same ? REPLY_ERR_FORBIDDEN : REPLY_ERR_BAD_REQUEST,
                        !same    ? "signin.other_browser"
                        : !fresh ? "signin.expired"
                                 : "signin.denied",
                        !same    ? "other_browser"
                        : !fresh ? "expired"
                                 : "denied");
        return;
    }
    /* RFC 9207: the answer names the server it comes from; a mix-up is refused. */
    if (iss == NULL || strcmp(iss, op->issuer) != 0) {
        PQclear(res);
        free(iss);
        atsignin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.invalid", "wrong_iss");
        return;
    }
    free(iss);
    atsignin_state_ad(op->did, "verifier", ad, sizeof(ad));
    verifier = seal_from_bytea(op->app->seal, ad, PQgetvalue(res, 0, 8), PQgetvalue(res, 0, 9));
    atsignin_state_ad(op->did, "dpop", ad, sizeof(ad));
    op->dpop_jwk =
        seal_from_bytea(op->app->seal, ad, PQgetvalue(res, 0, 10), PQgetvalue(res, 0, 11));
    PQclear(res);
    if (verifier == NULL || op->dpop_jwk == NULL ||
        (op->dpop = jose_key_from_jwk(op->dpop_jwk, why, sizeof(why))) == NULL) {
        seal_wipe_free(verifier);
        log_error("atsignin_unseal_failed", "pds=%s", op->pds_host);
        atsignin_refuse(op, REPLY_ERR_INTERNAL, "signin.failed", "unseal_failed");
        return;
    }
    redirect = atclient_redirect_uri(op->app->cfg);
    form_add(&form, "grant_type", "authorization_code");
    form_add(&form, "code", op->code);
    form_add(&form, "redirect_uri", redirect);
    form_add(&form, "code_verifier", verifier);
    atoauth_post(op->app, op->dpop, op->issuer, op->token_ep, form, op->as_nonce, atsignin_tokens,
                 op);
    seal_wipe_free(form);
    seal_wipe_free(verifier);
    free(redirect);
}

void
atsignin_callback(struct app *app, struct evhttp_request *req, const char *path)
{
    struct atsignin_op *op = atsignin_op_new(app, req);
    char hash[67], browser_hash[67];
    const char *params[2] = { hash, browser_hash };

    (void)path;
    op->callback = 1;
    if (app->seal == NULL || app->db == NULL) {
        atsignin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.not_set_up", "not_set_up");
        return;
    }
    if (oauth_callback_read(req, "", ATSIGNIN_MAX_SECRET, hash, &op->code) < 0) {
        atsignin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.invalid", "bad_state");
        return;
    }
    signin_presession_hash(req, app->cfg, browser_hash);
    db_query(app->db, sql_state_spend, 2, params, atsignin_state_spent, op);
}

/* --- the app password, chosen by the person ------------------------------------------------ */

#define ATSIGNIN_CSP                                                                               \
    "default-src 'none'; style-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; "   \
    "frame-ancestors 'none'"
#define ATSIGNIN_MAX_FORM 2048

void
atsignin_app_form(struct app *app, struct evhttp_request *req, const char *path)
{
    const char *lang = reply_req_lang(req);
    char *typed = reply_req_param(req, "handle"), handle[254] = "";
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);

    (void)app;
    (void)path;
    if (typed != NULL && !atsignin_handle(typed, handle))
        handle[0] = '\0';
    free(typed);
    signin_page_head(b, lang, "atsignin.app_title");
    evbuffer_add_printf(b, "</h1>\n<p class=\"intro\">");
    signin_put(b, lang, "atsignin.app_intro");
    evbuffer_add_printf(b, "</p>\n<section class=\"card\">\n<form method=\"post\" "
                           "action=\"/signin/bluesky/app-password\" id=\"app-password\">\n"
                           "<p><label for=\"app-handle\">");
    signin_put(b, lang, "atsignin.app_handle");
    /* handle passed atsignin_handle: letters, digits, dots and hyphens only. */
    evbuffer_add_printf(b,
                        "</label>\n<input id=\"app-handle\" name=\"handle\" type=\"text\" "
                        "autocomplete=\"username\" required value=\"%s\"></p>\n"
                        "<p><label for=\"app-secret\">",
                        handle);
    signin_put(b, lang, "atsignin.app_password");
    evbuffer_add_printf(b, "</label>\n<input id=\"app-secret\" name=\"password\" type=\"password\" "
                           "autocomplete=\"current-password\" required></p>\n"
                           "<button type=\"submit\" class=\"primary\" id=\"app-go\">");
    signin_put(b, lang, "atsignin.app_button");
    evbuffer_add_printf(b, "</button>\n</form>\n</section>\n</main>\n</body>\n</html>\n");
    evhttp_add_header(hdr, "Content-Security-Policy", ATSIGNIN_CSP);
    evhttp_add_header(hdr, "Cache-Control", "no-store");
    evhttp_add_header(hdr, "Referrer-Policy", "same-origin");
    evhttp_add_header(hdr, "X-Frame-Options", "DENY");
    reply_send(req, 200, "text/html; charset=utf-8", (const char *)evbuffer_pullup(b, -1),
               evbuffer_get_length(b));
    evbuffer_free(b);
}

static int
atsignin_app_member_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct atsignin_op *op = arg;

    if (PQntuples(res) != 1)
        return -1;
    snprintf(op->member_id, sizeof(op->member_id), "%s", PQgetvalue(res, 0, 0));
    if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
        signin_defaults_push(tx, op->member_id);
    if (atgrant_push_app_password(tx, op->app, op->member_id, op->did, op->pds_url,
                                  op->t.refresh_token, &op->old) < 0)
        return -1;
    return linkcode_session_push(tx, op->member_id, op->session);
}

static void
atsignin_app_done(enum db_outcome outcome, const char *err, void *arg)
{
    struct atsignin_op *op = arg;

    if (outcome != DB_OK) {
        log_warn("atsignin_store_failed", "reason=%s", log_q(err));
        atsignin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.db_unavailable", "db_unavailable");
        return;
    }
    atsignin_signed_in(op, "app_password");
}

static void
atsignin_app_session(const struct session_result *r, void *arg)
{
    struct atsignin_op *op = arg;
    struct dbtx *tx;

    seal_wipe_free(op->code); /* the app password: used once, never kept */
    op->code = NULL;
    if (r->status != SESSION_OK || strcmp(r->did, op->did) != 0) {
        int down = r->status == SESSION_UNAVAILABLE || r->status == SESSION_RATE_LIMITED;

        log_info("atsignin", "result=refused reason=app_password status=%s handle=%s",
                 session_status_name(r->status), log_q(op->handle));
        atsignin_refuse(op, down ? REPLY_ERR_UNAVAILABLE : REPLY_ERR_FORBIDDEN,
                        down ? "signin.unreachable" : "atsignin.app_refused", "app_password");
        return;
    }
    op->t.refresh_token = xstrdup(r->refresh_jwt);
    tx = dbtx_new(op->app->db, atsignin_app_done, op);
    dbtx_push(tx, sql_member, atsignin_app_member_cb, op, 4, op->did, op->handle, op->pds_host,
              op->lang);
    dbtx_run(tx);
}

static void
atsignin_app_resolved(const struct identity_result *r, void *arg)
{
    struct atsignin_op *op = arg;

    if (r->status != IDENTITY_OK || r->handle == NULL) {
        int down = r->status == IDENTITY_UNAVAILABLE;

        seal_wipe_free(op->code);
        op->code = NULL;
        atsignin_refuse(op, down ? REPLY_ERR_UNAVAILABLE : REPLY_ERR_NOT_FOUND,
                        down ? "signin.unreachable" : "signin.not_found", "identity");
        return;
    }
    op->did = xstrdup(r->did);
    op->pds_url = xstrdup(r->pds);
    if (url_authority(op->pds_url, op->pds_host, sizeof(op->pds_host)) < 0) {
        atsignin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.not_found", "bad_pds");
        return;
    }
    /* The DID, not the handle: the session must be the account resolved here. */
    session_create(op->app->httpc, op->pds_url, op->did, op->code, atsignin_app_session, op);
}

void
atsignin_app_post(struct app *app, struct evhttp_request *req, const char *path)
{
    struct atsignin_op *op = atsignin_op_new(app, req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *ct = reply_req_header(req, "Content-Type"), *h, *pw;
    struct evkeyvalq kv;
    char *body, client[64], secs[24];
    long wait;
    int ok = 0;

    (void)path;
    if (!linkcode_same_origin(app->cfg->base_url, reply_req_header(req, "Sec-Fetch-Site"),
                              reply_req_header(req, "Origin"))) {
        atsignin_refuse(op, REPLY_ERR_FORBIDDEN, "signin.cross_site", "cross_site");
        return;
    }
    if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 || len == 0 ||
        len > ATSIGNIN_MAX_FORM) {
        atsignin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.bad_address", "bad_form");
        return;
    }
    body = xmalloc(len + 1);
    evbuffer_copyout(in, body, len);
    body[len] = '\0';
    TAILQ_INIT(&kv);
    if (strlen(body) == len && evhttp_parse_query_str(body, &kv) == 0 &&
        (h = evhttp_find_header(&kv, "handle")) != NULL && atsignin_handle(h, op->handle) &&
        (pw = evhttp_find_header(&kv, "password")) != NULL && *pw != '\0' && strlen(pw) < 256) {
        op->code = xstrdup(pw);
        ok = 1;
    }
    /* The parsed copy held the password too. */
    for (struct evkeyval *e = TAILQ_FIRST(&kv); e != NULL; e = TAILQ_NEXT(e, next))
        OPENSSL_cleanse(e->value, strlen(e->value));
    evhttp_clear_headers(&kv);
    OPENSSL_cleanse(body, len);
    free(body);
    if (!ok) {
        atsignin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.bad_address", "bad_form");
        return;
    }
    /*
     * Each try costs the person's PDS a password check: guessing is slowed here too. Counted
     * per client as /signin does: behind a proxy, the peer is the proxy for everyone.
     */
    reply_req_client(req, client, sizeof(client));
    if (app->app_password_tries != NULL &&
        (wait = ratelimit_take(app->app_password_tries, ratelimit_addr_key(client), time(NULL))) >
            0) {
        snprintf(secs, sizeof(secs), "%ld", wait);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", secs);
        atsignin_refuse(op, REPLY_ERR_RATE_LIMITED, "atsignin.app_rate_limited", "rate_limited");
        return;
    }
    if (app->seal == NULL || app->db == NULL || app->identity == NULL) {
        atsignin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.not_set_up", "not_set_up");
        return;
    }
    identity_resolve_handle(app->identity, op->handle, atsignin_app_resolved, op);
}
