/* "Verify with X": X's OAuth 2.0 with PKCE, then GET /2/users/me binds the member's X id. */
#ifndef PASSERELLE_XVERIFY_H
#define PASSERELLE_XVERIFY_H

struct app;
struct evhttp_request;

/* X requires tweet.read beside users.read for GET /2/users/me; nothing else is asked. */
#define XVERIFY_SCOPES "tweet.read users.read"
/* Under /link, so that the page's session cookie comes with the callback. */
#define XVERIFY_CALLBACK_PATH "/link/x/callback"
/* Seconds between "Verify with X" and the callback. */
#define XVERIFY_STATE_TTL 600

/*
 * POST /link/x/start (X-CSRF-Token): records a state bound to the page session with a
 * sealed PKCE verifier and answers {"authorize_url": x_authorize_url?...} (S256, the scopes
 * above). 404 when not offered.
 */
void xverify_start(struct app *app, struct evhttp_request *req, const char *path);

/*
 * GET /link/x/callback?code&state (or ?error): spends the state (once, in its session,
 * within XVERIFY_STATE_TTL), exchanges the code at x_api_base/2/oauth2/token, asks
 * x_api_base/2/users/me with the token (which is then dropped, never stored), and binds the
 * X id it names to the member as verified: other members' claims on that X id lose (their
 * rows of it go, each is told by direct message), the member's own claim on another X id
 * goes. Answers 303 to /link?x=verified (or denied, invalid, expired, failed, rate_limited,
 * suspended, off).
 */
void xverify_callback(struct app *app, struct evhttp_request *req, const char *path);

#endif
