/* DPoP proofs (RFC 9449): one fresh ES256 JWT per request, bound to its method and URL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "dpop.h"
#include "err.h"
#include "jose.h"
#include "url.h"
#include "xmalloc.h"

/* 1 when m is a plausible HTTP method: 1 to 16 uppercase letters. */
static int
dpop_method_ok(const char *m)
{
    size_t n = 0;

    if (m == NULL)
        return 0;
    for (; m[n] != '\0'; n++)
        if (m[n] < 'A' || m[n] > 'Z' || n >= 16)
            return 0;
    return n > 0;
}

char *
dpop_proof_at(const struct jose_key *k, const char *method, const char *url, const char *nonce,
              const char *access_token, long long iat, char *err, size_t errlen)
{
    struct json_object *hdr, *claims, *jwk;
    char jti[32], ath[44], *htu, *jws;
    struct url u;

    if (!jose_key_has_private(k)) {
        err_set(err, errlen, "no private key to sign the DPoP proof with");
        return NULL;
    }
    if (!dpop_method_ok(method)) {
        err_set(err, errlen, "not an HTTP method");
        return NULL;
    }
    if (url == NULL || url_split(url, &u, err, errlen) < 0)
        return NULL;
    if ((jwk = jose_key_json(k)) == NULL || jose_random_b64url(16, jti, sizeof(jti)) < 0) {
        json_object_put(jwk);
        err_set(err, errlen, "DPoP key export or randomness failed");
        return NULL;
    }
    /* RFC 9449 4.2: htu is the URL without query and fragment. */
    htu = xstrndup(url, strcspn(url, "?#"));
    hdr = json_object_new_object();
    json_object_object_add(hdr, "typ", json_object_new_string("dpop+jwt"));
    json_object_object_add(hdr, "alg", json_object_new_string("ES256"));
    json_object_object_add(hdr, "jwk", jwk);
    claims = json_object_new_object();
    json_object_object_add(claims, "jti", json_object_new_string(jti));
    json_object_object_add(claims, "htm", json_object_new_string(method));
    json_object_object_add(claims, "htu", json_object_new_string(htu));
    json_object_object_add(claims, "iat", json_object_new_int64(iat));
    if (nonce != NULL)
        json_object_object_add(claims, "nonce", json_object_new_string(nonce));
    if (access_token != NULL) {
        jose_sha256_b64url(access_token, strlen(access_token), ath);
        json_object_object_add(claims, "ath", json_object_new_string(ath));
    }
    jws = jose_sign(k,
                    json_object_to_json_string_ext(hdr, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE),
                    json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE),
                    err, errlen);
    json_object_put(hdr);
    json_object_put(claims);
    free(htu);
    return jws;
}

char *
dpop_proof(const struct jose_key *k, const char *method, const char *url, const char *nonce,
           const char *access_token, char *err, size_t errlen)
{
    return dpop_proof_at(k, method, url, nonce, access_token, (long long)time(NULL), err, errlen);
}
