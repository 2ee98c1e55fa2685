/* The atproto OAuth protocol, client side: discovery, PAR, tokens, revocation, DPoP requests. */
#ifndef PASSERELLE_ATOAUTH_H
#define PASSERELLE_ATOAUTH_H

#include <stddef.h>

#include "httpc.h"

struct app;
struct jose_key;
struct json_object;

/* A PDS's authorization server, as its metadata says (every string newly allocated). */
struct atoauth_server {
    char *issuer;
    char *par_endpoint;
    char *authorization_endpoint;
    char *token_endpoint;
    char *revocation_endpoint; /* NULL when the server names none */
};

void atoauth_server_free(struct atoauth_server *as);

/*
 * Checks an authorization server's metadata document (RFC 8414) fetched from issuer's
 * /.well-known/oauth-authorization-server, for what passerelle needs: "issuer" equal to issuer
 * (the URL asked), https endpoints on... any origin the server names (http only when issuer is
 * http, as a test server is), PAR, the authorization code grant, DPoP with ES256,
 * private_key_jwt with ES256, and client metadata documents. Fills as; -1 with a reason in err.
 * Pure.
 */
int atoauth_server_parse(struct json_object *md, const char *issuer, struct atoauth_server *as,
                         char *err, size_t errlen);

/*
 * Discovery from a PDS's URL: GET <pds>/.well-known/oauth-protected-resource, its first
 * authorization server, then that server's metadata (atoauth_server_parse). cb runs once from
 * the loop with the server, or NULL and a short reason (borrowed for the call).
 */
typedef void (*atoauth_server_fn)(struct atoauth_server *as, const char *why, void *arg);
void atoauth_discover(struct app *app, const char *pds_url, atoauth_server_fn cb, void *arg);

/* What an authorization server or a PDS answered; borrowed for the callback. */
struct atoauth_answer {
    enum httpc_error error; /* HTTPC_OK when status and json mean something */
    long status;
    struct json_object *json; /* the body when it was a JSON object, else NULL */
    const char *error_code;   /* json's "error" (OAuth) when it has one, else NULL */
    const char *nonce;        /* the server's last DPoP nonce (this answer's or the one sent) */
    const struct httpc_response *resp; /* headers (RateLimit-*, Retry-After...) */
};
typedef void (*atoauth_answer_fn)(const struct atoauth_answer *a, void *arg);

/*
 * A form POST to an endpoint of authorization server issuer (PAR, token, revocation), as
 * passerelle's client: form gets client_id, the jwt-bearer client_assertion_type and a fresh
 * client assertion; the request carries a DPoP proof of dpop with nonce (NULL: none yet).
 * When the server answers 400 "use_dpop_nonce" with a DPoP-Nonce header, the request is sent
 * once more with that nonce (and a fresh assertion). cb runs once from the loop.
 */
void atoauth_post(struct app *app, const struct jose_key *dpop, const char *issuer, const char *url,
                  const char *form, const char *nonce, atoauth_answer_fn cb, void *arg);

/*
 * An XRPC request to the member's PDS with a DPoP-bound access token (Authorization: DPoP,
 * and a proof with "ath"), method "GET" (url with its query) or "POST" (json_body). A 401
 * whose WWW-Authenticate says use_dpop_nonce is retried once with the DPoP-Nonce it gave.
 * dpop NULL: an app password session's token, sent as "Authorization: Bearer" without a proof.
 */
void atoauth_xrpc(struct app *app, const struct jose_key *dpop, const char *access_token,
                  const char *method, const char *url, const char *json_body, const char *nonce,
                  atoauth_answer_fn cb, void *arg);

/*
 * Asks authorization server issuer to revoke token (RFC 7009, at endpoint), best effort: the
 * answer is only logged. Takes dpop (the session's key), which it frees when done.
 */
void atoauth_revoke(struct app *app, struct jose_key *dpop, const char *issuer,
                    const char *endpoint, const char *token, const char *nonce);

/* A token response, its strings copied (free with atoauth_tokens_free). */
struct atoauth_tokens {
    char *access_token;
    char *refresh_token;
    char *scope;
    char *sub;
    long long expires_in; /* seconds; 0 when the server did not say */
};

/*
 * Reads a token response: token_type DPoP, an access token, a refresh token, a scope that
 * contains "atproto", and sub equal to expected_sub (the DID resolved before the redirect, or
 * the grant's DID on a refresh). -1 with a reason in err; "sub" in err means another account.
 * Pure.
 */
int atoauth_tokens_parse(struct json_object *o, const char *expected_sub, struct atoauth_tokens *t,
                         char *err, size_t errlen);
void atoauth_tokens_free(struct atoauth_tokens *t);

/* The body of an answer as a JSON object (bounded depth), or NULL. */
struct json_object *atoauth_json(const char *body, size_t len);

#endif
