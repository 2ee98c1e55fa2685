/* The one-time link: a page that names the account, and the same-origin POST that opens a session.
 */
#ifndef PASSERELLE_LINKCODE_H
#define PASSERELLE_LINKCODE_H

struct app;
struct dbtx;
struct evhttp_request;

/*
 * GET (and HEAD) /link/<code>: spends nothing. A valid code gets a small page naming the
 * member ("Continue as @user@host") whose button POSTs the code back; anything else is a
 * 303 to /link, which says the link has expired. Link-preview crawlers only ever GET.
 */
void linkcode_get(struct app *app, struct evhttp_request *req, const char *path);

/*
 * POST /link/<code>: from the page's own origin only (403, nothing spent, otherwise), spends
 * the code, sets the session cookie and answers 303 to /link.
 */
void linkcode_post(struct app *app, struct evhttp_request *req, const char *path);

/*
 * 1 when a POST comes from base_url's own origin: Sec-Fetch-Site, when the browser sent it,
 * must be "same-origin"; without it, Origin must equal base_url (scheme://host[:port], case
 * aside). Neither header: 0. Pure.
 */
int linkcode_same_origin(const char *base_url, const char *sec_fetch_site, const char *origin);

/*
 * Opens a link page session for member_id inside tx: a fresh token (64 hex digits, for
 * linkpage_cookie_header) into token, its row (hashes only) pushed, lasting
 * LINKPAGE_SESSION_TTL. -1 without randomness: nothing pushed. The one-time link and the web
 * sign-ins open sessions with it.
 */
int linkcode_session_push(struct dbtx *tx, const char *member_id, char token[65]);

#endif
