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

/* Waits for archive parses still running and drops their requests (at exit, before httpd_free). */
void linkpage_shutdown(void);

/* "fr" when the first language of an Accept-Language value is French, else "en". Pure. */
const char *linkpage_lang(const char *accept_language);
/* The value of cookie name in a Cookie header, copied into out; -1 when absent or too long. */
int linkpage_cookie(const char *header, const char *name, char *out, size_t outlen);

#endif
