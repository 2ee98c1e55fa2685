/* The Mastodon client API's shared pieces: a member's home, JSON answers, rate limits, forms. */
#ifndef PASSERELLE_MASTOAPI_H
#define PASSERELLE_MASTOAPI_H

#include <stddef.h>

struct config;
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

/*
 * Reads a rate-limit reset: X-RateLimit-Reset as ISO 8601 (Mastodon, GoToSocial) or Unix
 * seconds, else Retry-After (seconds or an HTTP date). Returns the Unix time, or -1 when
 * neither header is usable.
 */
long long mastoapi_reset_time(const char *ratelimit_reset, const char *retry_after, long long now);

/* Appends "&name=value" (no "&" when *buf is empty) to a form body, percent-encoding value. */
void mastoapi_form_add(char **buf, const char *name, const char *value);

#endif
