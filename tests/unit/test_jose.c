/* Tests of jose: base64url, P-256 JWKs, RFC 7638 thumbprints, ES256 JWS against RFC vectors. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jose.h"
#include "tap.h"

/* RFC 7515 appendix A.3: the ES256 key (A.3.1) and the compact JWS it made (A.3.1, figure). */
#define A3_PUBLIC                                                                                  \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","     \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}"
#define A3_PRIVATE                                                                                 \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","     \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","                                       \
    "\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}"
#define A3_JWS                                                                                     \
    "eyJhbGciOiJFUzI1NiJ9."                                                                        \
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl" \
    "fQ."                                                                                          \
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
#define A3_PAYLOAD                                                                                 \
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"

/* RFC 7517 appendix A.1 (public) and A.2 (private) P-256 key, kid "1". */
#define A1_PUBLIC                                                                                  \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","     \
    "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\",\"use\":\"enc\",\"kid\":\"1\"}"
#define A2_PRIVATE                                                                                 \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","     \
    "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\","                                       \
    "\"d\":\"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE\",\"use\":\"enc\",\"kid\":\"1\"}"

static void
test_b64url(void)
{
    static const struct {
        const char *plain, *enc;
    } v[] = {
        /* RFC 4648 section 10, without padding. */
        { "", "" },           { "f", "Zg" },          { "fo", "Zm8" },          { "foo", "Zm9v" },
        { "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
    };
    const unsigned char high[] = { 0xfb, 0xff, 0xbf };
    unsigned char *dec;
    size_t n = 0;
    char *enc;

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        enc = jose_b64url(v[i].plain, strlen(v[i].plain));
        is_str(enc, v[i].enc, "b64url(\"%s\")", v[i].plain);
        free(enc);
        dec = jose_b64url_decode(v[i].enc, strlen(v[i].enc), &n);
        ok(dec != NULL && n == strlen(v[i].plain) && memcmp(dec, v[i].plain, n) == 0,
           "b64url decode \"%s\"", v[i].enc);
        free(dec);
    }
    enc = jose_b64url(high, sizeof(high));
    is_str(enc, "-_-_", "the url alphabet: - and _ for 62 and 63");
    free(enc);
    ok(jose_b64url_decode("Zm8=", 4, &n) == NULL, "padding refused");
    ok(jose_b64url_decode("Zm+v", 4, &n) == NULL, "+ refused (not the url alphabet)");
    ok(jose_b64url_decode("Zm9vY", 5, &n) == NULL, "a length no encoding has refused");
    ok(jose_b64url_decode("Zh", 2, &n) == NULL, "non-zero unused bits refused");
    ok(jose_b64url_decode("Zm 9v", 5, &n) == NULL, "a space refused");
}

static void
test_rfc7515_a3(void)
{
    struct jose_key *pub, *priv;
    char err[200], *payload = NULL, *jws, *bad;

    pub = jose_key_from_jwk(A3_PUBLIC, err, sizeof(err));
    ok(pub != NULL, "RFC 7515 A.3 public JWK imported: %s", pub ? "" : err);
    ok(pub != NULL && !jose_key_has_private(pub), "a public JWK has no private half");
    ok(pub != NULL && jose_verify(pub, A3_JWS, &payload, err, sizeof(err)) == 0,
       "RFC 7515 A.3 ES256 JWS verifies");
    is_str(payload, A3_PAYLOAD, "its payload, CRLFs and all");
    free(payload);

    bad = strdup(A3_JWS);
    bad[strlen(bad) - 1] = 'A'; /* last signature byte changed */
    ok(jose_verify(pub, bad, &payload, err, sizeof(err)) < 0 && payload == NULL,
       "a changed signature fails");
    bad[strlen(bad) - 1] = 'Q';
    bad[30] = bad[30] == 'a' ? 'b' : 'a'; /* payload changed */
    ok(jose_verify(pub, bad, NULL, err, sizeof(err)) < 0, "a changed payload fails");
    free(bad);

    priv = jose_key_from_jwk(A3_PRIVATE, err, sizeof(err));
    ok(priv != NULL && jose_key_has_private(priv), "RFC 7515 A.3 private JWK imported");
    /* ECDSA is randomised: sign the same input again and check it with the public key. */
    jws = jose_sign(priv, "{\"alg\":\"ES256\"}", A3_PAYLOAD, err, sizeof(err));
    ok(jws != NULL && strncmp(jws, "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0K", 41) == 0,
       "signing keeps the header and payload bytes as given");
    ok(jws != NULL && jose_verify(pub, jws, NULL, err, sizeof(err)) == 0,
       "our own ES256 signature verifies with the RFC's public key");
    ok(jws != NULL && strlen(strrchr(jws, '.') + 1) == 86,
       "the signature is raw r||s (64 bytes, 86 base64url characters), not DER");
    free(jws);
    jose_key_free(pub);
    jose_key_free(priv);
}

static void
test_thumbprint(void)
{
    struct jose_key *k, *kp;
    char err[200], tp[44], tp2[44], *jwk;

    /*
     * RFC 7638 3.1's example is RSA; this module only has P-256, so its method is applied to
     * RFC 7517 A.1's key. Computed independently with:
     *   printf '%s' '{"crv":"P-256","kty":"EC","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",\
     *   "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}' \
     *   | openssl dgst -sha256 -binary | basenc --base64url | tr -d =
     */
    k = jose_key_from_jwk(A1_PUBLIC, err, sizeof(err));
    ok(k != NULL, "RFC 7517 A.1 JWK imported (kid and use ignored)");
    ok(k != NULL && jose_thumbprint(k, tp) == 0, "thumbprint computed");
    is_str(tp, "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s", "RFC 7638 thumbprint of A.1");
    kp = jose_key_from_jwk(A2_PRIVATE, err, sizeof(err));
    ok(kp != NULL && jose_key_has_private(kp), "RFC 7517 A.2 private JWK imported");
    ok(kp != NULL && jose_thumbprint(kp, tp2) == 0 && strcmp(tp, tp2) == 0,
       "the private key's thumbprint is its public key's");
    jwk = jose_key_jwk(k, 1);
    ok(jwk == NULL, "no private JWK from a public key");
    jwk = jose_key_jwk(kp, 0);
    is_str(
        jwk,
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","
        "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\"}",
        "public JWK export");
    free(jwk);
    jwk = jose_key_jwk(kp, 1);
    ok(jwk != NULL && strstr(jwk, "\"d\":\"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE\"") != NULL,
       "private JWK export carries d");
    free(jwk);
    jose_key_free(k);
    jose_key_free(kp);
}

static void
test_generate_roundtrip(void)
{
    struct jose_key *k, *back, *pub, *other;
    char err[200], tp[44], tp2[44], *jwk, *jws, *payload = NULL;
    struct json_object *h, *v;

    k = jose_key_generate(err, sizeof(err));
    ok(k != NULL && jose_key_has_private(k), "a new key can sign");
    jwk = jose_key_jwk(k, 1);
    back = jose_key_from_jwk(jwk, err, sizeof(err));
    ok(back != NULL && jose_key_has_private(back), "its private JWK imports back");
    ok(jose_thumbprint(k, tp) == 0 && jose_thumbprint(back, tp2) == 0 && strcmp(tp, tp2) == 0 &&
           strlen(tp) == 43,
       "same thumbprint after the round trip");
    free(jwk);
    jwk = jose_key_jwk(k, 0);
    pub = jose_key_from_jwk(jwk, err, sizeof(err));
    free(jwk);

    jws = jose_sign(back, "{\"typ\":\"JWT\",\"kid\":\"k/1\"}", "{\"sub\":\"did:plc:abc\"}", err,
                    sizeof(err));
    ok(jws != NULL, "sign with a header without alg");
    h = jose_header(jws);
    ok(h != NULL && json_object_object_get_ex(h, "alg", &v) &&
           strcmp(json_object_get_string(v), "ES256") == 0,
       "alg ES256 added to the header");
    ok(h != NULL && json_object_object_get_ex(h, "kid", &v) &&
           strcmp(json_object_get_string(v), "k/1") == 0,
       "the header's other members kept");
    json_object_put(h);
    ok(jose_verify(pub, jws, &payload, err, sizeof(err)) == 0, "verifies with the public key");
    is_str(payload, "{\"sub\":\"did:plc:abc\"}", "payload back");
    free(payload);
    other = jose_key_generate(err, sizeof(err));
    ok(jose_verify(other, jws, NULL, err, sizeof(err)) < 0, "another key does not verify it");
    ok(jose_sign(pub, "{}", "{}", err, sizeof(err)) == NULL, "a public key cannot sign");
    ok(jose_sign(k, "{\"alg\":\"HS256\"}", "{}", err, sizeof(err)) == NULL,
       "a header asking for another alg refused");
    ok(jose_sign(k, "[1]", "{}", err, sizeof(err)) == NULL, "a header that is not an object");
    ok(jose_sign(k, "{} x", "{}", err, sizeof(err)) == NULL, "a header with trailing bytes");
    free(jws);
    jose_key_free(k);
    jose_key_free(back);
    jose_key_free(pub);
    jose_key_free(other);
}

static void
test_malformed(void)
{
    static const char *const jwks[] = {
        "",
        "[]",
        "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",
        /* P-384 is not ours. */
        "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
        /* y missing */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\"}",
        /* x one byte short */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvR\","
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
        /* y changed: the point is off the curve */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}",
        /* A.3's point with A.2's private key: they do not belong together */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
        "\"d\":\"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE\"}",
        /* x as a number */
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":5,"
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
    };
    static const char *const bad_jws[] = {
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        /* alg none, empty signature */
        "eyJhbGciOiJub25lIn0."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn"
        "Vl"
        "fQ.",
        /* alg HS256 header on A.3's payload and signature */
        "eyJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn"
        "Vl"
        "fQ."
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
        /* signature cut to 63 bytes */
        "eyJhbGciOiJFUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn"
        "Vl"
        "fQ."
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU",
        /* padding in the signature */
        "eyJhbGciOiJFUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn"
        "Vl"
        "fQ."
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q==",
        /* header {"alg":"ES256","crit":["x"]} */
        "eyJhbGciOiJFUzI1NiIsImNyaXQiOlsieCJdfQ.e30."
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
        /* DER signature instead of raw r||s would be longer: 72 bytes of zeros */
        "eyJhbGciOiJFUzI1NiJ9.e30."
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAA",
    };
    static char untouched[] = "untouched";
    struct jose_key *k, *a3;
    char err[200], *payload;

    for (size_t i = 0; i < sizeof(jwks) / sizeof(jwks[0]); i++) {
        err[0] = '\0';
        k = jose_key_from_jwk(jwks[i], err, sizeof(err));
        ok(k == NULL && err[0] != '\0', "malformed JWK %zu refused (%s)", i, err);
        jose_key_free(k);
    }
    a3 = jose_key_from_jwk(A3_PUBLIC, err, sizeof(err));
    for (size_t i = 0; i < sizeof(bad_jws) / sizeof(bad_jws[0]); i++) {
        payload = untouched;
        err[0] = '\0';
        ok(jose_verify(a3, bad_jws[i], &payload, err, sizeof(err)) < 0 && payload == NULL &&
               err[0] != '\0',
           "malformed JWS %zu refused (%s)", i, err);
    }
    ok(jose_header("e30") == NULL, "no header from one part");
    jose_key_free(a3);
}

static void
test_helpers(void)
{
    char out[44], r1[64], r2[64];

    /* RFC 7636 appendix B: the S256 challenge of its verifier. */
    jose_sha256_b64url("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 43, out);
    is_str(out, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "PKCE S256, RFC 7636 B");
    ok(jose_random_b64url(32, r1, sizeof(r1)) == 0 && strlen(r1) == 43, "32 random bytes");
    ok(jose_random_b64url(32, r2, sizeof(r2)) == 0 && strcmp(r1, r2) != 0, "two draws differ");
    ok(jose_random_b64url(32, r1, 43) < 0, "refused without room for the NUL");
    ok(jose_random_b64url(0, r1, sizeof(r1)) < 0, "zero bytes refused");
}

int
main(void)
{
    test_b64url();
    test_rfc7515_a3();
    test_thumbprint();
    test_generate_roundtrip();
    test_malformed();
    test_helpers();
    return done_testing();
}
