/* The link page's server side: one-time code to session, state, archive upload, consents. */
#ifndef PASSERELLE_LINKPAGE_H
#define PASSERELLE_LINKPAGE_H

#include <stddef.h>

struct app;
struct evhttp_request;

#define LINKPAGE_COOKIE      "passerelle_link"
#define LINKPAGE_SESSION_TTL 7200 /* seconds a session lasts */

/* GET /link/<code>: spends the code, sets the session cookie, 303 to /link. */
void linkpage_code(struct app *app, struct evhttp_request *req, const char *path);
/* GET /link/state: the member, their linked account, counts, consents, CSRF token, language. */
void linkpage_state(struct app *app, struct evhttp_request *req, const char *path);
/* POST /link/archive: the X archive zip (only the files that matter), parsed and stored. */
void linkpage_archive(struct app *app, struct evhttp_request *req, const char *path);
/* POST /link/consents: {"findable": bool, "autofollow": bool, "notify": bool, "relay": bool}. */
void linkpage_consents(struct app *app, struct evhttp_request *req, const char *path);

/*
 * Resolves the page's session for another endpoint: cookie (and, when post is set, the
 * X-CSRF-Token header). On success cb runs from the loop with the member's id (decimal
 * text, borrowed for the call) and must answer req; otherwise this answers req itself
 * (401 naming the bridge account, 403 for a bad CSRF token, 503) and cb never runs.
 */
typedef void (*linkpage_session_fn)(struct app *app, struct evhttp_request *req,
                                    const char *member_id, void *arg);
void linkpage_session(struct app *app, struct evhttp_request *req, int post, linkpage_session_fn cb,
                      void *arg);

/* Waits for archive parses still running and drops their requests (at exit, before httpd_free). */
void linkpage_shutdown(void);

/* "fr" when the first language of an Accept-Language value is French, else "en". Pure. */
const char *linkpage_lang(const char *accept_language);
/* The value of cookie name in a Cookie header, copied into out; -1 when absent or too long. */
int linkpage_cookie(const char *header, const char *name, char *out, size_t outlen);

#endif
