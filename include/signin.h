/* Joining from the web: the home page's form, signing in through one's own fediverse server. */
#ifndef PASSERELLE_SIGNIN_H
#define PASSERELLE_SIGNIN_H

#include <stddef.h>

struct app;
struct config;
struct dbtx;
struct evbuffer;
struct evhttp_request;

/* Only whose account it is: asked when the person does not want follows made for them. */
#define SIGNIN_SCOPE "read:accounts"
/*
 * A sign-in's OAuth state starts with this, then 64 hex digits: it comes back to the one
 * callback the app registered (OAUTH_CALLBACK_PATH), shared with the follow grant.
 */
#define SIGNIN_STATE_PREFIX "signin."

/* What a person typed into the start page's one field. */
enum signin_kind {
    SIGNIN_FEDIVERSE, /* user@host (a leading @ aside): user and lowercase host[:port] set */
    SIGNIN_BLUESKY,   /* a domain name without a user part, or a did:plc:/did:web: id: handle */
    SIGNIN_INVALID,   /* anything else */
};

/*
 * Reads an address: blanks around it and one leading '@' are left out. A user part is
 * letters, digits, '_', '.', '-'; a host a DNS name with a dot (or localhost), an optional
 * port. A Bluesky handle is lowercased. Pure.
 */
enum signin_kind signin_classify(const char *input, char *user, size_t userlen, char *host,
                                 size_t hostlen, char *handle, size_t handlelen);

/*
 * 1 when a token's scopes (space-separated) let passerelle follow in its owner's name: search
 * (read:search or read) and follow (write:follows, write or follow). Pure.
 */
int signin_scope_follows(const char *scope);

/*
 * The start page's form, in lang: one field for the address, "follow my former contacts for
 * me", a button; it POSTs to /signin.
 */
void signin_form(struct evbuffer *out, const char *lang);

/*
 * POST /signin (address, follows), from our own origin only (403 otherwise). A Bluesky handle
 * gets a 303 to /signin/bluesky/start?handle=...; user@host is resolved by WebFinger to its
 * actor (fetched as remote actors are; its preferredUsername must be the user typed),
 * passerelle's app on that server is registered or reused, and the answer is a 303 to the
 * server's /oauth/authorize (PKCE S256, scope SIGNIN_SCOPE, or OAUTH_SCOPES with "follows")
 * with a pre-session cookie the state is bound to. Refusals are a small page, 4xx (503 when
 * the server or the database does not answer), and nothing is written.
 */
void signin_post(struct app *app, struct evhttp_request *req, const char *path);

/* 1 when the callback's state is a sign-in's (SIGNIN_STATE_PREFIX). */
int signin_owns_callback(struct evhttp_request *req);

/*
 * The callback of a sign-in: spends the state (once, within OAUTH_STATE_TTL, in the browser
 * whose pre-session cookie it is bound to), exchanges the code and checks that the token's
 * account is the resolved actor; then, in one transaction, finds or creates the member (by
 * actor: one who joined by following the bridge account is the same), stores the grant and
 * turns autofollow on when the follow scopes were granted, and opens a page session: 303 to
 * /link. A token without the follow scopes is revoked at its server once used. Refusals
 * (other browser 403, another account 403, expired 400...) write nothing.
 */
void signin_callback(struct app *app, struct evhttp_request *req, const char *path);

/*
 * What the web sign-ins share (the fediverse's here, Bluesky's in atsignin.c): the pre-session
 * cookie a state is bound to (its name: "__Host-" SIGNIN_COOKIE under https; set with value
 * and max_age, or cleared with "" and 0), the refusal page (status, reason already in lang,
 * a link back to the start page), and a new member's default consents, each in the ledger.
 */
const char *signin_cookie_name(const struct config *cfg);
void signin_set_cookie(struct evhttp_request *req, const struct config *cfg, const char *value,
                       int max_age);
/* key's text in lang, made safe for HTML, appended to out. */
void signin_put(struct evbuffer *out, const char *lang, const char *key);
/* A sign-in page's head, up to and inside its <h1>: title_key's text as title and heading. */
void signin_page_head(struct evbuffer *b, const char *lang, const char *title_key);
void signin_page(struct evhttp_request *req, int status, const char *lang, const char *reason);
void signin_defaults_push(struct dbtx *tx, const char *member_id);
/* The pre-session cookie's SHA-256 (bytea text) from req, or "\\x" (matches nothing). */
void signin_presession_hash(struct evhttp_request *req, const struct config *cfg, char out[67]);
/* A sign-in's end: the page session's cookie set, the pre-session one cleared, 303 to /link. */
void signin_finish(struct evhttp_request *req, const struct config *cfg, const char *session);

#endif
