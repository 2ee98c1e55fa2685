/* Tests of dpop: the proof's header and claims (RFC 9449 4.2), ath, and what is refused. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "dpop.h"
#include "jose.h"
#include "tap.h"

/* The claims of a proof, verified with the key its own header carries. */
static struct json_object *
claims_of(const char *jws, struct json_object **hdr)
{
    struct json_object *jwk, *claims;
    struct jose_key *k;
    char err[200], *payload = NULL;

    *hdr = jose_header(jws);
    if (*hdr == NULL || !json_object_object_get_ex(*hdr, "jwk", &jwk))
        return NULL;
    k = jose_key_from_json(jwk, err, sizeof(err));
    if (k == NULL || jose_verify(k, jws, &payload, err, sizeof(err)) < 0) {
        jose_key_free(k);
        return NULL;
    }
    jose_key_free(k);
    claims = json_tokener_parse(payload);
    free(payload);
    return claims;
}

static const char *
str_of(struct json_object *o, const char *name)
{
    struct json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, name, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void
test_proof(void)
{
    struct json_object *hdr, *claims, *v, *hdr2, *claims2;
    struct jose_key *k, *pub;
    char err[200], tp[44], tp2[44], *p, *p2, *jwk;

    k = jose_key_generate(err, sizeof(err));
    /* RFC 9449 7.1's access token, whose ath the RFC gives. */
    p = dpop_proof_at(k, "POST", "https://pds.example/xrpc/com.atproto.repo.createRecord?x=1#f",
                      "nonce-1", "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", 1700000000, err,
                      sizeof(err));
    ok(p != NULL, "proof made");
    claims = claims_of(p, &hdr);
    ok(claims != NULL, "it verifies with the key in its own header");
    is_str(str_of(hdr, "typ"), "dpop+jwt", "typ dpop+jwt");
    is_str(str_of(hdr, "alg"), "ES256", "alg ES256");
    ok(json_object_object_get_ex(hdr, "jwk", &v) && !json_object_object_get_ex(v, "d", NULL),
       "the header's jwk has no private part");
    pub = jose_key_from_json(v, err, sizeof(err));
    ok(jose_thumbprint(pub, tp) == 0 && jose_thumbprint(k, tp2) == 0 && strcmp(tp, tp2) == 0,
       "the header's jwk is the signing key");
    jose_key_free(pub);
    is_str(str_of(claims, "htm"), "POST", "htm");
    is_str(str_of(claims, "htu"), "https://pds.example/xrpc/com.atproto.repo.createRecord",
           "htu without query and fragment");
    ok(json_object_object_get_ex(claims, "iat", &v) && json_object_get_int64(v) == 1700000000,
       "iat");
    is_str(str_of(claims, "nonce"), "nonce-1", "nonce");
    is_str(str_of(claims, "ath"), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo",
           "ath as in RFC 9449 7.1");
    ok(str_of(claims, "jti") != NULL && strlen(str_of(claims, "jti")) >= 22, "a jti");

    p2 = dpop_proof(k, "GET", "http://localhost:2583/xrpc/x", NULL, NULL, err, sizeof(err));
    claims2 = claims_of(p2, &hdr2);
    ok(claims2 != NULL, "a proof without nonce nor token");
    ok(!json_object_object_get_ex(claims2, "nonce", NULL) &&
           !json_object_object_get_ex(claims2, "ath", NULL),
       "has neither nonce nor ath");
    ok(str_of(claims2, "jti") != NULL && strcmp(str_of(claims2, "jti"), str_of(claims, "jti")) != 0,
       "each proof has its own jti");
    ok(strstr(p2, "\\/") == NULL, "no escaped slashes");
    json_object_put(hdr);
    json_object_put(claims);
    json_object_put(hdr2);
    json_object_put(claims2);
    free(p);
    free(p2);

    ok(dpop_proof(k, "post", "https://a.example/", NULL, NULL, err, sizeof(err)) == NULL,
       "a lowercase method refused");
    ok(dpop_proof(k, "", "https://a.example/", NULL, NULL, err, sizeof(err)) == NULL,
       "an empty method refused");
    ok(dpop_proof(k, "GET", "ftp://a.example/", NULL, NULL, err, sizeof(err)) == NULL,
       "a URL that is not http(s) refused");
    ok(dpop_proof(k, "GET", NULL, NULL, NULL, err, sizeof(err)) == NULL, "no URL refused");
    jwk = jose_key_jwk(k, 0);
    pub = jose_key_from_jwk(jwk, err, sizeof(err));
    ok(dpop_proof(pub, "GET", "https://a.example/", NULL, NULL, err, sizeof(err)) == NULL,
       "a public key cannot make a proof");
    free(jwk);
    jose_key_free(pub);
    jose_key_free(k);
}

int
main(void)
{
    test_proof();
    return done_testing();
}
