/* WebFinger (RFC 7033): resource parsing and the JRD for our actors. */
#ifndef PASSERELLE_WEBFINGER_H
#define PASSERELLE_WEBFINGER_H

#include <stddef.h>

struct app;
struct evhttp_request;
struct json_object;

enum webfinger_kind {
    WEBFINGER_ACCT, /* acct:user@host, user@host or @user@host: user in *user */
    WEBFINGER_URL,  /* http(s) URL on our base: its path in *user */
};

/*
 * Parses a resource (already percent-decoded once by the caller, or raw).
 * host is our host[:port]; base our origin. Returns 0 and the kind with the
 * user name or path copied into user, 1 when it is well formed but not ours
 * (404), -1 when malformed (400), with err set.
 */
int webfinger_parse_resource(const char *resource, const char *host, const char *base,
                             enum webfinger_kind *kind, char *user, size_t usersize, char *err,
                             size_t errlen);

/*
 * Resolves resource (as for webfinger_parse_resource) to one of our actors and
 * builds its JRD. Returns 0 with *jrd a new reference (json_object_put), 1 when
 * well formed but unknown here (404), 2 when it may name an old X handle's stand-in
 * (only the database can tell: webfinger_get asks it), -1 when malformed (400), with
 * err set.
 */
int webfinger_jrd_new(const struct app *app, const char *resource, struct json_object **jrd,
                      char *err, size_t errlen);

/* GET /.well-known/webfinger */
void webfinger_get(struct app *app, struct evhttp_request *req, const char *path);

#endif
