/* Signing in with Bluesky: atproto OAuth through the person's own PDS, or an app password. */
#ifndef PASSERELLE_ATSIGNIN_H
#define PASSERELLE_ATSIGNIN_H

#include <stddef.h>

struct app;
struct evhttp_request;

/* Seconds a sign-in may take between the handle typed and the callback. */
#define ATSIGNIN_TTL 600

/*
 * 1 when handle is an atproto handle (a DNS name of two labels or more, letters, digits and
 * hyphens, the last label not starting with a digit, at most 253 characters), written
 * lowercase without a leading '@' into out (254 bytes). Pure.
 */
int atsignin_handle(const char *input, char out[254]);

/*
 * GET /signin/bluesky/start?handle=...: resolves the handle to its DID and PDS (both ways; a
 * did:plc:/did:web: id typed instead resolves to its document's handle, checked back),
 * discovers the PDS's authorization server, pushes an authorization request (PAR: PKCE S256,
 * DPoP with a new key for this session, the client assertion, login_hint), records the state
 * bound to a new pre-session cookie (signin_set_cookie, shared with the fediverse sign-in), and
 * answers 303 to the server's authorization page. Refusals are signin_page's page and write
 * nothing: 400 for a malformed handle, 404 for one that does not resolve both ways, 503 when the
 * PDS, its server or the database fails, or without token_key_file.
 */
void atsignin_start(struct app *app, struct evhttp_request *req, const char *path);

/*
 * GET /signin/bluesky/callback?state&iss&code: spends the state (once, in the browser whose
 * pre-session cookie it is bound to, within ATSIGNIN_TTL), checks iss against the issuer
 * asked, exchanges the code (DPoP, client assertion, PKCE verifier), checks that the token's
 * sub is the DID resolved before the redirect; then, in one transaction, finds or creates the
 * member (network atproto, actor_uri the DID, acct the handle, host the PDS's), stores the
 * grant sealed and opens a page session: 303 to /link. Refusals write nothing: 400 (unknown,
 * spent or expired state, no code, wrong iss, the server refused the code), 403 (another
 * browser; another account, whose tokens are revoked at once).
 */
void atsignin_callback(struct app *app, struct evhttp_request *req, const char *path);

/*
 * The app password, a fallback the person chooses (when their server's OAuth does not work).
 * GET /signin/bluesky/app-password[?handle=]: the form (handle, app password). POST
 * /signin/bluesky/app-password (same origin only, 403 otherwise): the handle resolved both
 * ways, the password exchanged once for a session on the DID's PDS (createSession), never
 * kept; the member found or made as by the OAuth callback, the grant stored as its sealed
 * refresh token only (kind app_password), a page session: 303 to /link. A refused password:
 * 403 and nothing written.
 */
void atsignin_app_form(struct app *app, struct evhttp_request *req, const char *path);
void atsignin_app_post(struct app *app, struct evhttp_request *req, const char *path);

#endif
