/* The Mastodon client API's shared pieces: a member's home, JSON answers, rate limits, forms. */
#ifndef PASSERELLE_MASTOAPI_H
#define PASSERELLE_MASTOAPI_H

#include <stddef.h>

struct config;
struct httpc;
struct httpc_response;
struct json_object;

/*
 * The origin of a member's home server from their actor id: "https://host[:port]" (http
 * only when allow_private_fetch is on, for tests), and the lowercase host[:port] as
 * members.host holds it. -1 when the actor id is not such a URL.
 */
int mastoapi_home(const struct config *cfg, const char *actor_uri, char *origin, size_t originlen,
                  char *host, size_t hostlen);

/*
 * The associated data binding a member's sealed token to its oauth_grants row: the grant
 * seals with it, the follow worker opens with it. out needs 300 bytes.
 */
void mastoapi_grant_ad(const char *member_id, const char *host, char *out, size_t outlen);

/*
 * Parses a JSON response body (depth and size capped) into an object; NULL when it is not
 * a JSON object. The caller puts it.
 */
struct json_object *mastoapi_parse_object(const char *body, size_t len);
/* The same for an answer that is a JSON array (GET /api/v1/lists). */
struct json_object *mastoapi_parse_array(const char *body, size_t len);

/* A string member of o (which may be NULL) no longer than max bytes, or NULL. Borrowed. */
const char *mastoapi_str(struct json_object *o, const char *key, size_t max);

/*
 * Reads a rate-limit reset: X-RateLimit-Reset as ISO 8601 (Mastodon, GoToSocial) or Unix
 * seconds, else Retry-After (seconds or an HTTP date). Returns the Unix time, or -1 when
 * neither header is usable.
 */
long long mastoapi_reset_time(const char *ratelimit_reset, const char *retry_after, long long now);

/*
 * A Bearer request to a member's server, as the follow and unfollow workers make them:
 * <origin><path><value percent-encoded><rest>, Accept JSON; a POST carries "{}" as JSON. The
 * Authorization header line is wiped once httpc has copied it; token is not kept.
 */
void mastoapi_bearer(struct httpc *h, const char *origin, const char *token, const char *method,
                     const char *path, const char *value, const char *rest,
                     void (*cb)(const struct httpc_response *resp, void *arg), void *arg);

/*
 * How long to wait after a 429: until the server's reset (mastoapi_reset_time) or, without
 * one, fallback_ms; at least a second, at most max_ms.
 */
long long mastoapi_limited_wait_ms(const struct httpc_response *resp, long long fallback_ms,
                                   long long max_ms);

/* Appends "&name=value" (no "&" when *buf is empty) to a form body, percent-encoding value. */
void mastoapi_form_add(char **buf, const char *name, const char *value);

/* Whose account a verify_credentials answer (Mastodon's CredentialAccount) is. */
enum mastoapi_whose {
    MASTOAPI_ACCOUNT_MEMBER,    /* the member's own account */
    MASTOAPI_ACCOUNT_OTHER,     /* somebody else's */
    MASTOAPI_ACCOUNT_MALFORMED, /* no id or username, or nothing to compare */
};

/*
 * Compares an Account with the member (actor_uri, acct "user@host"): its "uri", where the
 * server sends one (Mastodon 4.2+), must be the actor id exactly; otherwise its "username"
 * must be the member's (case aside) and its "url" the actor id or a page on the actor's
 * origin. Pure.
 */
enum mastoapi_whose mastoapi_account_whose(struct json_object *account, const char *actor_uri,
                                           const char *acct);

/*
 * GET <origin>/api/v1/accounts/verify_credentials with the Bearer token: cb runs once from the
 * loop with the response and, on a 200 whose body is a JSON object, that object (borrowed for
 * the call; NULL otherwise). token is not kept.
 */
typedef void (*mastoapi_account_fn)(const struct httpc_response *resp, struct json_object *account,
                                    void *arg);
void mastoapi_verify_credentials(struct httpc *h, const char *origin, const char *token,
                                 mastoapi_account_fn cb, void *arg);

#endif
