/* JOSE for atproto: P-256 JWKs, RFC 7638 thumbprints, compact JWS ES256, with OpenSSL 3's EVP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "err.h"
#include "jose.h"
#include "xmalloc.h"

/* P-256's coordinate and scalar size, and an ES256 signature's (r||s). */
#define JOSE_COORD 32
#define JOSE_SIG   64

struct jose_key {
    EVP_PKEY *pkey;
    int has_private;
};

static const char jose_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *
jose_b64url(const void *data, size_t len)
{
    const unsigned char *in = data;
    char *out = xmalloc(len / 3 * 4 + 5);
    size_t o = 0, i = 0;

    for (; i + 3 <= len; i += 3) {
        unsigned long v = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];

        out[o++] = jose_alphabet[v >> 18 & 63];
        out[o++] = jose_alphabet[v >> 12 & 63];
        out[o++] = jose_alphabet[v >> 6 & 63];
        out[o++] = jose_alphabet[v & 63];
    }
    if (len - i == 1) {
        out[o++] = jose_alphabet[in[i] >> 2];
        out[o++] = jose_alphabet[(in[i] & 3) << 4];
    } else if (len - i == 2) {
        out[o++] = jose_alphabet[in[i] >> 2];
        out[o++] = jose_alphabet[(in[i] & 3) << 4 | in[i + 1] >> 4];
        out[o++] = jose_alphabet[(in[i + 1] & 15) << 2];
    }
    out[o] = '\0';
    return out;
}

static int
jose_b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

unsigned char *
jose_b64url_decode(const char *s, size_t len, size_t *outlen)
{
    unsigned char *out;
    unsigned long acc = 0;
    int bits = 0;
    size_t o = 0;

    if (len % 4 == 1)
        return NULL;
    out = xmalloc(len / 4 * 3 + 4);
    for (size_t i = 0; i < len; i++) {
        int v = jose_b64val((unsigned char)s[i]);

        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6 | (unsigned long)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    /* The bits left over must be zero, or two strings would decode to the same bytes. */
    if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0) {
        free(out);
        return NULL;
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

void
jose_sha256_b64url(const void *data, size_t len, char out[44])
{
    unsigned char md[32];
    unsigned int n = 0;
    char *b;

    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    b = jose_b64url(md, sizeof(md));
    memcpy(out, b, 44);
    free(b);
}

int
jose_random_b64url(size_t nbytes, char *out, size_t outlen)
{
    unsigned char buf[64];
    char *b;
    size_t n;

    if (nbytes == 0 || nbytes > sizeof(buf) || RAND_bytes(buf, (int)nbytes) != 1)
        return -1;
    b = jose_b64url(buf, nbytes);
    n = strlen(b);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (n >= outlen) {
        free(b);
        return -1;
    }
    memcpy(out, b, n + 1);
    free(b);
    return 0;
}

/* Wraps pkey (owned from now on) after checking that it is a sound P-256 key. */
static struct jose_key *
jose_wrap(EVP_PKEY *pkey, int has_private, char *err, size_t errlen)
{
    EVP_PKEY_CTX *ctx;
    struct jose_key *k;
    char group[32];
    int sound;

    if (pkey == NULL) {
        err_set(err, errlen, "not a P-256 key");
        return NULL;
    }
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) != 1 ||
        strcmp(group, "prime256v1") != 0) {
        EVP_PKEY_free(pkey);
        err_set(err, errlen, "not a P-256 key");
        return NULL;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    sound = ctx != NULL && EVP_PKEY_public_check(ctx) == 1 &&
            (!has_private || EVP_PKEY_check(ctx) == 1);
    EVP_PKEY_CTX_free(ctx);
    if (!sound) {
        EVP_PKEY_free(pkey);
        err_set(err, errlen,
                has_private ? "the private key does not match the public point"
                            : "the point is not on P-256");
        return NULL;
    }
    k = xcalloc(1, sizeof(*k));
    k->pkey = pkey;
    k->has_private = has_private;
    return k;
}

struct jose_key *
jose_key_generate(char *err, size_t errlen)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    if (pkey == NULL) {
        err_set(err, errlen, "P-256 key generation failed");
        return NULL;
    }
    return jose_wrap(pkey, 1, err, errlen);
}

/* The base64url member name of jwk, decoded to exactly JOSE_COORD bytes into out. */
static int
jose_coord(struct json_object *jwk, const char *name, unsigned char out[JOSE_COORD], char *err,
           size_t errlen)
{
    struct json_object *v;
    unsigned char *b;
    size_t n = 0;

    if (!json_object_object_get_ex(jwk, name, &v) || !json_object_is_type(v, json_type_string))
        return err_set(err, errlen, "JWK without \"%s\"", name);
    b = jose_b64url_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &n);
    if (b == NULL || n != JOSE_COORD) {
        if (b != NULL)
            OPENSSL_cleanse(b, n);
        free(b);
        return err_set(err, errlen, "JWK \"%s\" is not 32 bytes of base64url", name);
    }
    memcpy(out, b, JOSE_COORD);
    OPENSSL_cleanse(b, n);
    free(b);
    return 0;
}

static int
jose_member_is(struct json_object *o, const char *name, const char *want)
{
    struct json_object *v;

    return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string) &&
           strcmp(json_object_get_string(v), want) == 0;
}

struct jose_key *
jose_key_from_json(struct json_object *jwk, char *err, size_t errlen)
{
    unsigned char point[1 + 2 * JOSE_COORD], d[JOSE_COORD];
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *priv = NULL;
    int has_private;

    if (jwk == NULL || !json_object_is_type(jwk, json_type_object)) {
        err_set(err, errlen, "JWK is not a JSON object");
        return NULL;
    }
    if (!jose_member_is(jwk, "kty", "EC") || !jose_member_is(jwk, "crv", "P-256")) {
        err_set(err, errlen, "JWK is not kty EC, crv P-256");
        return NULL;
    }
    point[0] = 0x04; /* uncompressed: x then y */
    if (jose_coord(jwk, "x", point + 1, err, errlen) < 0 ||
        jose_coord(jwk, "y", point + 1 + JOSE_COORD, err, errlen) < 0)
        return NULL;
    has_private = json_object_object_get_ex(jwk, "d", NULL);
    if (has_private && jose_coord(jwk, "d", d, err, errlen) < 0)
        return NULL;

    bld = OSSL_PARAM_BLD_new();
    if (has_private)
        priv = BN_secure_new();
    if (bld == NULL || (has_private && (priv == NULL || BN_bin2bn(d, JOSE_COORD, priv) == NULL)) ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) != 1 ||
        (has_private && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, has_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                          params) != 1)
        pkey = NULL;
    OPENSSL_cleanse(d, sizeof(d));
    BN_clear_free(priv);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    if (pkey == NULL) {
        err_set(err, errlen, "the JWK's point is not on P-256");
        return NULL;
    }
    return jose_wrap(pkey, has_private, err, errlen);
}

/* Parses exactly len bytes of s as one JSON object; NULL otherwise. */
static struct json_object *
jose_parse_object(const char *s, size_t len)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *o;

    if (tok == NULL || len > JOSE_MAX_JWS) {
        json_tokener_free(tok);
        return NULL;
    }
    o = json_tokener_parse_ex(tok, s, (int)len);
    if (o != NULL &&
        (json_tokener_get_error(tok) != json_tokener_success ||
         json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

struct jose_key *
jose_key_from_jwk(const char *json, char *err, size_t errlen)
{
    struct json_object *o;
    struct jose_key *k;

    if (json == NULL || (o = jose_parse_object(json, strlen(json))) == NULL) {
        err_set(err, errlen, "JWK is not a JSON object");
        return NULL;
    }
    k = jose_key_from_json(o, err, errlen);
    json_object_put(o);
    return k;
}

int
jose_key_has_private(const struct jose_key *k)
{
    return k != NULL && k->has_private;
}

/* One of the key's numbers (OSSL_PKEY_PARAM_EC_PUB_X, _Y, PRIV_KEY) as base64url of 32 bytes. */
static char *
jose_param_b64(const struct jose_key *k, const char *param)
{
    unsigned char buf[JOSE_COORD];
    BIGNUM *bn = NULL;
    char *out = NULL;

    if (EVP_PKEY_get_bn_param(k->pkey, param, &bn) == 1 && BN_bn2binpad(bn, buf, JOSE_COORD) > 0)
        out = jose_b64url(buf, JOSE_COORD);
    OPENSSL_cleanse(buf, sizeof(buf));
    BN_clear_free(bn);
    return out;
}

/* k's public coordinates as base64url into *x and *y (newly allocated); -1 on failure. */
static int
jose_xy(const struct jose_key *k, char **x, char **y)
{
    *x = jose_param_b64(k, OSSL_PKEY_PARAM_EC_PUB_X);
    *y = jose_param_b64(k, OSSL_PKEY_PARAM_EC_PUB_Y);
    if (*x == NULL || *y == NULL) {
        free(*x);
        free(*y);
        return -1;
    }
    return 0;
}

struct json_object *
jose_key_json(const struct jose_key *k)
{
    struct json_object *o;
    char *x, *y;

    if (k == NULL || jose_xy(k, &x, &y) < 0)
        return NULL;
    o = json_object_new_object();
    json_object_object_add(o, "kty", json_object_new_string("EC"));
    json_object_object_add(o, "crv", json_object_new_string("P-256"));
    json_object_object_add(o, "x", json_object_new_string(x));
    json_object_object_add(o, "y", json_object_new_string(y));
    free(x);
    free(y);
    return o;
}

char *
jose_key_jwk(const struct jose_key *k, int with_private)
{
    char *x, *y, *d = NULL, *s;

    if (k == NULL || (with_private && !k->has_private) || jose_xy(k, &x, &y) < 0)
        return NULL;
    /* Built by hand rather than with json-c so that the private key's text can be wiped:
     * base64url needs no escaping. */
    if (with_private && (d = jose_param_b64(k, OSSL_PKEY_PARAM_PRIV_KEY)) == NULL) {
        free(x);
        free(y);
        return NULL;
    }
    if (d != NULL) {
        s = xasprintf("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}",
                      x, y, d);
        OPENSSL_cleanse(d, strlen(d));
        free(d);
    } else {
        s = xasprintf("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    }
    free(x);
    free(y);
    return s;
}

int
jose_thumbprint(const struct jose_key *k, char out[44])
{
    char *x, *y, *members;

    if (k == NULL || jose_xy(k, &x, &y) < 0)
        return -1;
    /* RFC 7638 3.2: the required members only, in lexicographic order, no whitespace. */
    members = xasprintf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    jose_sha256_b64url(members, strlen(members), out);
    free(members);
    free(x);
    free(y);
    return 0;
}

/* The 64-byte r||s of input signed with k, base64url; NULL on failure. */
static char *
jose_es256(const struct jose_key *k, const char *input, size_t len)
{
    unsigned char der[80], raw[JOSE_SIG];
    const unsigned char *p = der;
    const BIGNUM *r, *s;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    ECDSA_SIG *sig = NULL;
    size_t derlen = sizeof(der);
    char *out = NULL;

    if (md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
        EVP_DigestSign(md, der, &derlen, (const unsigned char *)input, len) == 1 &&
        (sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) != NULL) {
        ECDSA_SIG_get0(sig, &r, &s);
        if (BN_bn2binpad(r, raw, JOSE_COORD) == JOSE_COORD &&
            BN_bn2binpad(s, raw + JOSE_COORD, JOSE_COORD) == JOSE_COORD)
            out = jose_b64url(raw, sizeof(raw));
    }
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    return out;
}

char *
jose_sign(const struct jose_key *k, const char *header_json, const char *payload_json, char *err,
          size_t errlen)
{
    struct json_object *h, *alg;
    char *hb, *pb, *input, *sig, *jws;
    size_t plen;

    if (k == NULL || !k->has_private) {
        err_set(err, errlen, "no private key to sign with");
        return NULL;
    }
    if (header_json == NULL || payload_json == NULL ||
        (plen = strlen(payload_json)) > JOSE_MAX_JWS ||
        (h = jose_parse_object(header_json, strlen(header_json))) == NULL) {
        err_set(err, errlen, "the header is not a JSON object, or a part is too long");
        return NULL;
    }
    if (json_object_object_get_ex(h, "alg", &alg)) {
        if (!json_object_is_type(alg, json_type_string) ||
            strcmp(json_object_get_string(alg), "ES256") != 0) {
            json_object_put(h);
            err_set(err, errlen, "the header's alg is not ES256");
            return NULL;
        }
        hb = jose_b64url(header_json, strlen(header_json));
    } else {
        const char *text;

        json_object_object_add(h, "alg", json_object_new_string("ES256"));
        text = json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
        hb = jose_b64url(text, strlen(text));
    }
    json_object_put(h);
    pb = jose_b64url(payload_json, plen);
    input = xasprintf("%s.%s", hb, pb);
    free(hb);
    free(pb);
    sig = jose_es256(k, input, strlen(input));
    if (sig == NULL) {
        free(input);
        err_set(err, errlen, "ES256 signing failed");
        return NULL;
    }
    jws = xasprintf("%s.%s", input, sig);
    free(input);
    free(sig);
    return jws;
}

/* Splits a compact JWS at its two dots: the lengths of the header and payload parts. */
static int
jose_split(const char *jws, size_t *hlen, size_t *plen, const char **sig)
{
    const char *d1, *d2;

    if (jws == NULL || strnlen(jws, JOSE_MAX_JWS + 1) > JOSE_MAX_JWS)
        return -1;
    d1 = strchr(jws, '.');
    d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL || strchr(d2 + 1, '.') != NULL)
        return -1;
    *hlen = (size_t)(d1 - jws);
    *plen = (size_t)(d2 - d1 - 1);
    *sig = d2 + 1;
    return 0;
}

struct json_object *
jose_header(const char *jws)
{
    struct json_object *o;
    unsigned char *h;
    size_t hlen, plen, n;
    const char *sig;

    if (jose_split(jws, &hlen, &plen, &sig) < 0 || (h = jose_b64url_decode(jws, hlen, &n)) == NULL)
        return NULL;
    o = jose_parse_object((const char *)h, n);
    free(h);
    return o;
}

/* Checks the raw 64-byte r||s over input with k. 1 when it verifies. */
static int
jose_es256_check(const struct jose_key *k, const char *input, size_t len,
                 const unsigned char raw[JOSE_SIG])
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, JOSE_COORD, NULL);
    BIGNUM *s = BN_bin2bn(raw + JOSE_COORD, JOSE_COORD, NULL);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int derlen, good = 0;

    if (sig == NULL || r == NULL || s == NULL || md == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
    } else if ((derlen = i2d_ECDSA_SIG(sig, &der)) > 0 &&
               EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1) {
        good = EVP_DigestVerify(md, der, (size_t)derlen, (const unsigned char *)input, len) == 1;
    }
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    return good;
}

int
jose_verify(const struct jose_key *k, const char *jws, char **payload, char *err, size_t errlen)
{
    struct json_object *h;
    unsigned char *sig, *body;
    size_t hlen, plen, n;
    const char *sigpart;
    int alg_ok;

    if (payload != NULL)
        *payload = NULL;
    if (k == NULL)
        return err_set(err, errlen, "no key to verify with");
    if (jose_split(jws, &hlen, &plen, &sigpart) < 0)
        return err_set(err, errlen, "not a compact JWS");
    if ((h = jose_header(jws)) == NULL)
        return err_set(err, errlen, "the JWS header is not a base64url JSON object");
    alg_ok = jose_member_is(h, "alg", "ES256") && !json_object_object_get_ex(h, "crit", NULL);
    json_object_put(h);
    if (!alg_ok)
        return err_set(err, errlen, "the JWS alg is not ES256 (or it has crit)");
    sig = jose_b64url_decode(sigpart, strlen(sigpart), &n);
    if (sig == NULL || n != JOSE_SIG) {
        free(sig);
        return err_set(err, errlen, "the JWS signature is not 64 bytes of base64url");
    }
    if (!jose_es256_check(k, jws, hlen + 1 + plen, sig)) {
        free(sig);
        return err_set(err, errlen, "the JWS signature does not verify");
    }
    free(sig);
    body = jose_b64url_decode(jws + hlen + 1, plen, &n);
    if (body == NULL)
        return err_set(err, errlen, "the JWS payload is not base64url");
    if (payload != NULL)
        *payload = (char *)body;
    else
        free(body);
    return 0;
}

void
jose_key_free(struct jose_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}
