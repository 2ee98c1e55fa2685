/* WebFinger as a client: an address user@host to the ActivityPub actor its server names. */
#ifndef PASSERELLE_WFLOOKUP_H
#define PASSERELLE_WFLOOKUP_H

struct app;
struct config;
struct json_object;

enum wflookup_result {
    WFLOOKUP_OK,
    WFLOOKUP_NOT_FOUND,   /* 4xx, or a JRD without an ActivityPub self link */
    WFLOOKUP_UNREACHABLE, /* no answer, 5xx, 429 */
    WFLOOKUP_REFUSED,     /* the host is not a public address (httpc's guard) */
    WFLOOKUP_INVALID,     /* user or host cannot make a URL */
};

/* "ok", "not_found", ...: for logs. */
const char *wflookup_result_name(enum wflookup_result r);

/*
 * The href of jrd's first link with rel "self" and an ActivityPub type
 * (application/activity+json, or application/ld+json with the ActivityStreams profile) that
 * is an absolute http(s) URL without a fragment; NULL otherwise. Borrowed from jrd. Pure.
 */
const char *wflookup_jrd_self(struct json_object *jrd);

/*
 * https://host/.well-known/webfinger?resource=acct:user@host, percent-encoded (http only when
 * allow_private_fetch is on, for tests); NULL when host does not make a URL we accept. A new
 * string.
 */
char *wflookup_url(const struct config *cfg, const char *user, const char *host);

/*
 * Asks host's WebFinger for acct:user@host. cb runs once, from the loop (or at once for
 * WFLOOKUP_INVALID), with the actor's id (borrowed for the call) on WFLOOKUP_OK.
 */
typedef void (*wflookup_fn)(enum wflookup_result r, const char *actor_uri, void *arg);
void wflookup_acct(struct app *app, const char *user, const char *host, wflookup_fn cb, void *arg);

#endif
