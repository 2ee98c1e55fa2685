/* Following in a member's name, the grant: app registration, PKCE authorization, revocation. */
#ifndef PASSERELLE_OAUTH_H
#define PASSERELLE_OAUTH_H

#include <stddef.h>

#include <libpq-fe.h>

struct app;
struct dbtx;
struct evhttp_request;
struct oauth_op;
struct json_object;

/*
 * What we ask for: whose account the token is, find an account by URL, follow it, and keep
 * whom we followed in a list (followlist.c). Nothing else.
 */
#define OAUTH_SCOPES "read:accounts read:search write:follows read:lists write:lists"
/* The callback lives under /link so that the page's session cookie comes with it. */
#define OAUTH_CALLBACK_PATH "/link/oauth/callback"
/* Seconds an authorization may take between "connect" and the callback. */
#define OAUTH_STATE_TTL 600

/*
 * POST /link/oauth/start (X-CSRF-Token): registers passerelle on the member's server if it
 * is not yet (POST /api/v1/apps), records a state bound to the page session with a sealed
 * PKCE verifier, and answers {"authorize_url": "https://HOME/oauth/authorize?..."} for the
 * page to open. 503 when token_key_file is not configured or the server does not answer.
 */
void oauth_start(struct app *app, struct evhttp_request *req, const char *path);

/*
 * GET /link/oauth/callback?code=...&state=...: spends the state (once, in this session,
 * within OAUTH_STATE_TTL), exchanges the code at /oauth/token with the verifier, stores the
 * token sealed, and answers 303 to /link?oauth=granted (or denied, invalid, expired,
 * failed, wrong_account, off), which the page explains.
 */
void oauth_callback(struct app *app, struct evhttp_request *req, const char *path);

/*
 * POST /link/oauth/revoke (X-CSRF-Token): deletes the member's grant at once (pending
 * follows then wait), answers {"granted": false, "revoked": bool}, then asks their server
 * to revoke the token (POST /oauth/revoke), best effort.
 */
void oauth_revoke(struct app *app, struct evhttp_request *req, const char *path);

/*
 * Deletes the grant of member $1 (a decimal id) and returns, in one row (none when there was
 * no grant), what oauth_dropped_new needs to revoke its token at its server: the host, the
 * sealed token, the app's credentials and the member's actor_uri as it stands (the grant's
 * server is that actor's origin: run it before the actor changes).
 */
extern const char oauth_grant_delete_sql[];

/*
 * From oauth_grant_delete_sql's result (borrowed): the revocation of the deleted token, its
 * secrets unsealed and held until oauth_dropped_revoke (after the deletion is committed)
 * or oauth_dropped_free. NULL when there was no grant, no token key, or it does not open.
 */
struct oauth_op *oauth_dropped_new(struct app *app, const char *member_id, const PGresult *res);
/* Asks the grant's server to revoke the token (POST /oauth/revoke), best effort; op goes. */
void oauth_dropped_revoke(struct oauth_op *op);
/* Forgets it without asking anyone (the deletion was rolled back). NULL-safe. */
void oauth_dropped_free(struct oauth_op *op);

/* The associated data binding a sealed app secret to its row. out needs 300 bytes. */
void oauth_app_ad(const char *host, char *out, size_t outlen);

/* The PKCE S256 code challenge of verifier (RFC 7636 4.2): base64url, no padding. */
void oauth_challenge(const char *verifier, char out[48]);

/*
 * Reads an OAuth 2.0 redirect's query, for a callback: the state is prefix then 64 characters,
 * whose SHA-256 (bytea text) goes into state_hash; into *code the code (malloc'd, to be wiped)
 * or NULL when the server refused (error=...) or the code is empty or longer than max. -1 when
 * the state is missing or not of that form: there is nothing to spend, and *code is NULL.
 */
int oauth_callback_read(struct evhttp_request *req, const char *prefix, size_t max,
                        char state_hash[67], char **code);

/*
 * passerelle's app on a member's server, registered once per host with OAUTH_SCOPES and the
 * callback OAUTH_CALLBACK_PATH (POST <origin>/api/v1/apps when oauth_apps has no current row
 * for host; the client secret sealed). cb runs once from the loop with the client id
 * (borrowed for the call), or NULL and a texts key saying why (the server refused or did not
 * answer, the database). The follow grant and the web sign-in share it.
 */
typedef void (*oauth_app_fn)(struct app *app, const char *client_id, const char *err_key,
                             void *arg);
void oauth_app_ensure(struct app *app, const char *origin, const char *host, oauth_app_fn cb,
                      void *arg);

/* The authorization URL itself (a new string in *url): as oauth_authorize_reply puts it. */
void oauth_authorize_url(char **url, const char *endpoint, const char *client_id,
                         const char *redirect_uri, const char *scope, const char *state,
                         const char *verifier);

/* A code to exchange, and whose account its token must act for; all borrowed for the call. */
struct oauth_exchange {
    const char *who; /* the member's id, or "-": for the logs */
    const char *origin, *host;
    const char *actor_uri, *acct; /* the account expected (mastoapi_account_whose) */
    const char *client_id, *client_secret, *verifier, *code;
    const char *scope; /* what was asked: the token's scopes when the answer does not say */
};
enum oauth_outcome {
    OAUTH_OK,
    OAUTH_FAILED,        /* no token, refused, no answer, not an account */
    OAUTH_WRONG_ACCOUNT, /* another account's token: already asked to be revoked */
};
/*
 * Exchanges the code at <origin>/oauth/token (PKCE verifier, client credentials, the
 * OAUTH_CALLBACK_PATH redirect), then asks verify_credentials whose the token is. cb runs once
 * from the loop; token and scope are set (borrowed for the call) only for OAUTH_OK. A token
 * of another account is never handed over: its server is asked to revoke it.
 */
typedef void (*oauth_exchange_fn)(enum oauth_outcome outcome, const char *token, const char *scope,
                                  void *arg);
void oauth_exchange(struct app *app, const struct oauth_exchange *x, oauth_exchange_fn cb,
                    void *arg);
/* Asks x's server to revoke token (POST /oauth/revoke), best effort; nothing waits for it. */
void oauth_revoke_token(struct app *app, const struct oauth_exchange *x, const char *token);

/*
 * Pushes onto tx the member's grant: token sealed to its row (mastoapi_grant_ad), scope as
 * granted, replacing any earlier grant. -1 when sealing fails: nothing pushed.
 */
int oauth_grant_push(struct dbtx *tx, const struct app *app, const char *member_id,
                     const char *host, const char *token, const char *scope);

/*
 * Answers a page's "start" request, once: 200 {"authorize_url": endpoint?response_type=code,
 * client_id, redirect_uri, scope, state, code_challenge (S256 of verifier) and its method},
 * not to be cached. Any OAuth 2.0 server with PKCE: members' servers and X alike.
 */
void oauth_authorize_reply(struct evhttp_request *req, const char *endpoint, const char *client_id,
                           const char *redirect_uri, const char *scope, const char *state,
                           const char *verifier);

/* A non-empty string member of o no longer than max, or NULL (borrowed from o). */
const char *oauth_str(struct json_object *o, const char *key, size_t max);

/* The link page session's SHA-256 (bytea text) from req's cookie, "" without one. */
void oauth_session_hash(const struct app *app, struct evhttp_request *req, char out[67]);

#endif
