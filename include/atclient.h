/* passerelle as an atproto OAuth client: its key, its client metadata document, its assertions. */
#ifndef PASSERELLE_ATCLIENT_H
#define PASSERELLE_ATCLIENT_H

#include <stddef.h>
#include <time.h>

struct app;
struct config;
struct evhttp_request;
struct jose_key;
struct json_object;

/* The client_id is base_url and this path: the document the authorization servers fetch. */
#define ATCLIENT_METADATA_PATH "/atproto/client-metadata.json"
/* Where the member's authorization server sends the browser back. */
#define ATCLIENT_CALLBACK_PATH "/signin/bluesky/callback"
/*
 * What we ask for: an atproto session that may write follow records, nothing else (no posts,
 * no deletes: passerelle does not undo follows on Bluesky).
 */
#define ATCLIENT_SCOPE "atproto repo:app.bsky.graph.follow"
/* Seconds a client assertion is good for (the reference server takes a minute at most). */
#define ATCLIENT_ASSERTION_TTL 60

/* The client's key once loaded: shared by the process, owned by app->atclient. */
struct atclient {
    struct jose_key *key; /* ES256, with its private half */
    char kid[44];         /* its RFC 7638 thumbprint, the "kid" of the JWKS and assertions */
};

/* base_url + ATCLIENT_METADATA_PATH, newly allocated. */
char *atclient_id(const struct config *cfg);
/* base_url + ATCLIENT_CALLBACK_PATH, newly allocated. */
char *atclient_redirect_uri(const struct config *cfg);

/*
 * The client metadata document (a new object): client_id, application_type "web", the
 * authorization_code and refresh_token grants, the callback as the one redirect_uri, the
 * scope, DPoP-bound tokens, private_key_jwt with ES256 and the public key inline (jwks, with
 * kid). Pure.
 */
struct json_object *atclient_metadata(const struct config *cfg, const struct atclient *c);

/*
 * A client assertion (RFC 7523) for the authorization server issuer: an ES256 JWT with kid,
 * iss = sub = client_id, aud = issuer, a fresh random jti, iat = now and
 * exp = now + ATCLIENT_ASSERTION_TTL. Newly allocated, or NULL with a reason in err.
 */
char *atclient_assertion(const struct atclient *c, const char *client_id, const char *issuer,
                         time_t now, char *err, size_t errlen);

/*
 * The process's client key: app->atclient when loaded, else read from the database
 * (atproto_client_key, sealed with token_key_file), created there by the first process that
 * needs it. cb runs once, from the loop or from inside this call, with the key, or NULL when
 * it cannot be had (no token_key_file, no database, a key sealed under another token key).
 */
typedef void (*atclient_fn)(struct app *app, const struct atclient *c, void *arg);
void atclient_load(struct app *app, atclient_fn cb, void *arg);

/* GET /atproto/client-metadata.json: the document, cacheable for a few minutes. */
void atclient_metadata_get(struct app *app, struct evhttp_request *req, const char *path);

/* Frees app->atclient (at teardown). */
void atclient_free(struct atclient *c);

#endif
