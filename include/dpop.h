/* DPoP proofs (RFC 9449): the ES256 JWT that binds each atproto OAuth request to a key. */
#ifndef PASSERELLE_DPOP_H
#define PASSERELLE_DPOP_H

#include <stddef.h>

struct jose_key;

/*
 * A DPoP proof for one request, newly allocated: header {"typ":"dpop+jwt","alg":"ES256",
 * "jwk": k's public JWK}, claims {"jti": 16 random bytes, "htm": method, "htu": url without
 * its query and fragment, "iat": now, "nonce" when nonce is not NULL, "ath":
 * base64url(SHA-256(access_token)) when access_token is not NULL}. NULL with a reason in err
 * when k cannot sign, method is not an HTTP token or url is not an absolute http(s) URL.
 */
char *dpop_proof(const struct jose_key *k, const char *method, const char *url, const char *nonce,
                 const char *access_token, char *err, size_t errlen);

/* The same with the time given (tests). */
char *dpop_proof_at(const struct jose_key *k, const char *method, const char *url,
                    const char *nonce, const char *access_token, long long iat, char *err,
                    size_t errlen);

#endif
