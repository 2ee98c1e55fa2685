/* Following in a member's name, the grant: app registration, PKCE authorization, revocation. */
#ifndef PASSERELLE_OAUTH_H
#define PASSERELLE_OAUTH_H

#include <stddef.h>

struct app;
struct config;
struct evhttp_request;
struct json_object;

/* What we ask for: find an account by URL, then follow it. Nothing else. */
#define OAUTH_SCOPES "read:search write:follows"
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
 * The origin of a member's home server from their actor id: "https://host[:port]" (http
 * only when allow_private_fetch is on, for tests), and the lowercase host[:port] as
 * members.host holds it. -1 when the actor id is not such a URL.
 */
int oauth_home(const struct config *cfg, const char *actor_uri, char *origin, size_t originlen,
               char *host, size_t hostlen);

/* The associated data binding a sealed token to its row. out needs 300 bytes. */
void oauth_grant_ad(const char *member_id, const char *host, char *out, size_t outlen);
void oauth_app_ad(const char *host, char *out, size_t outlen);

/*
 * Parses a JSON response body (depth and size capped) into an object; NULL when it is not
 * a JSON object. The caller puts it.
 */
struct json_object *oauth_parse_object(const char *body, size_t len);

/*
 * Reads a rate-limit reset: X-RateLimit-Reset as ISO 8601 (Mastodon, GoToSocial) or Unix
 * seconds, else Retry-After (seconds or an HTTP date). Returns the Unix time, or -1 when
 * neither header is usable.
 */
long long oauth_reset_time(const char *ratelimit_reset, const char *retry_after, long long now);

/* Appends "&name=value" (no "&" when *buf is empty) to a form body, percent-encoding value. */
void oauth_form_add(char **buf, const char *name, const char *value);

#endif
