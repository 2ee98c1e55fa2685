/* JOSE for atproto: P-256 keys as JWKs, RFC 7638 thumbprints, compact JWS with ES256 only. */
#ifndef PASSERELLE_JOSE_H
#define PASSERELLE_JOSE_H

#include <stddef.h>

struct json_object;

/* One P-256 key: public only, or with its private half (opaque). */
struct jose_key;

/* The longest JWS jose_verify reads, and the longest header or payload jose_sign takes. */
#define JOSE_MAX_JWS 16384

/*
 * base64url without padding (RFC 7515 section 2) of len bytes, newly allocated and
 * NUL-terminated.
 */
char *jose_b64url(const void *data, size_t len);

/*
 * Decodes len characters of base64url without padding. Returns the bytes (newly allocated,
 * with a NUL after them, *outlen without it), or NULL on any byte outside the alphabet, on
 * "=", on a length that no encoding has (len % 4 == 1) or on unused bits that are not zero
 * (so that each value has one encoding).
 */
unsigned char *jose_b64url_decode(const char *s, size_t len, size_t *outlen);

/* base64url(SHA-256(len bytes of data)) into out: 43 characters and a NUL (PKCE, "ath"). */
void jose_sha256_b64url(const void *data, size_t len, char out[44]);

/* nbytes random bytes as base64url into out (outlen > 4 * nbytes / 3 + 1); -1 if short or
 * nbytes is 0 or over 64. For a jti, a PKCE verifier, a state. */
int jose_random_b64url(size_t nbytes, char *out, size_t outlen);

/* A new P-256 key pair. NULL with a reason in err when OpenSSL fails. */
struct jose_key *jose_key_generate(char *err, size_t errlen);

/*
 * A key from a JWK (RFC 7517/7518 6.2): kty "EC", crv "P-256", x and y of 32 bytes each that
 * make a point of the curve, and optionally d (32 bytes), which must be that point's private
 * key. Other members (kid, use, alg...) are ignored. NULL with a reason in err otherwise.
 */
struct jose_key *jose_key_from_jwk(const char *json, char *err, size_t errlen);

/* The same from a parsed JSON object (a DPoP header's "jwk", a JWKS entry). */
struct jose_key *jose_key_from_json(struct json_object *jwk, char *err, size_t errlen);

/* 1 when k has its private half (it can sign). */
int jose_key_has_private(const struct jose_key *k);

/*
 * The JWK of k as JSON text, newly allocated: {"kty":"EC","crv":"P-256","x":...,"y":...},
 * with "d" too when with_private (NULL when k has no private half). Keep the private form
 * sealed, and wipe it (seal_wipe_free) when done.
 */
char *jose_key_jwk(const struct jose_key *k, int with_private);

/*
 * The JWK of k's public half as a json-c object (newly made, the caller puts it): for a
 * "jwk" header or a "jwks" document, where a "kid" can be added.
 */
struct json_object *jose_key_json(const struct jose_key *k);

/* The RFC 7638 thumbprint of k (SHA-256, base64url): 43 characters and a NUL. 0, -1 on failure. */
int jose_thumbprint(const struct jose_key *k, char out[44]);

/*
 * A compact JWS of payload_json signed with k (ES256: the signature is the raw r||s, 64 bytes,
 * not DER). header_json must be a JSON object; its "alg", when present, must be "ES256", and
 * when absent it is added. The payload's bytes are signed as given. Returns the JWS, newly
 * allocated, or NULL with a reason in err (k without private half, a header that is not an
 * object, either over JOSE_MAX_JWS).
 */
char *jose_sign(const struct jose_key *k, const char *header_json, const char *payload_json,
                char *err, size_t errlen);

/*
 * Verifies a compact JWS with k: three base64url parts, a protected header that is a JSON
 * object with "alg": "ES256" (nothing else, never "none") and no "crit", and a 64-byte
 * signature that k verifies over the first two parts. On success returns 0 and, when payload
 * is not NULL, puts the decoded payload there (newly allocated, NUL-terminated). -1 with a
 * reason in err otherwise, *payload then NULL.
 */
int jose_verify(const struct jose_key *k, const char *jws, char **payload, char *err,
                size_t errlen);

/*
 * The protected header of a compact JWS, decoded and parsed, without verifying anything (to
 * read its "kid" or "jwk" before choosing a key). NULL when the JWS or the header is
 * malformed. The caller puts the object.
 */
struct json_object *jose_header(const char *jws);

/* Frees k, wiping the private half. NULL does nothing. */
void jose_key_free(struct jose_key *k);

#endif
