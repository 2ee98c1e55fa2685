/* The link page's server side: one-time code to session, state, archive upload, consents. */
#ifndef PASSERELLE_LINKPAGE_H
#define PASSERELLE_LINKPAGE_H

#include <stddef.h>

struct app;
struct config;
struct evhttp_request;
struct json_object;

/* The session cookie's name over plain http; under https it is "__Host-" this. */
#define LINKPAGE_COOKIE      "passerelle_link"
#define LINKPAGE_SESSION_TTL 7200 /* seconds a session lasts */

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

/* The session cookie's name for cfg's base_url (with the __Host- prefix under https). */
const char *linkpage_cookie_name(const struct config *cfg);
/* The Set-Cookie value that carries session token token (a new string). */
char *linkpage_cookie_header(const struct config *cfg, const char *token);
/*
 * {"error": "this link has expired ...", "bridge": "@passerelle@host"} in lang: what the page
 * gets without a session (401). A new object.
 */
struct json_object *linkpage_expired_json(const struct app *app, const char *lang);
/* The CSRF token the page sends with its POSTs, derived from the session token (65 bytes). */
void linkpage_csrf(const char *token, char out[65]);

/* Describes the link page's metrics (the archive parse pool's gauges). */
void linkpage_metrics_describe(void);

/* The value of cookie name in a Cookie header, copied into out; -1 when absent or too long. */
int linkpage_cookie(const char *header, const char *name, char *out, size_t outlen);

#endif
