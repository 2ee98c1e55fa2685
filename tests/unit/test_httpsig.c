/* Tests for activitypub/httpsig/ against Fedify- and openssl-made vectors (tests/data/httpsig). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "httpsig.h"
#include "tap.h"

#define DATA_DIR   "tests/data/httpsig/"
#define MAX_FILE   (256 * 1024)
#define MAX_OVR    8
#define HOUR       3600
#define BODY_OTHER "{\"type\":\"Delete\"}"

/* A request read from vectors.json, plus per-test header overrides (NULL value = removed). */
struct vec {
    struct json_object *headers;
    const char *name;
    const char *signing_string;
    const char *ovr_name[MAX_OVR];
    const char *ovr_val[MAX_OVR];
    int novr;
    time_t time;
    struct httpsig_request req;
};

/* Plain request for the sign/verify round trips: a fixed list of headers. */
struct plain {
    const char *names[8];
    const char *values[8];
};

static struct json_object *vectors;
static char *pem_a, *pem_b, *pem_a_pkcs1;
static EVP_PKEY *priv_a, *priv_b;

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL) {
        printf("Bail out! cannot open %s (run from the repository root)\n", path);
        exit(1);
    }
    buf = malloc(MAX_FILE + 1);
    if (buf == NULL)
        abort();
    n = fread(buf, 1, MAX_FILE, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static EVP_PKEY *
read_private(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k;

    if (f == NULL) {
        printf("Bail out! cannot open %s\n", path);
        exit(1);
    }
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (k == NULL) {
        printf("Bail out! cannot read key %s\n", path);
        exit(1);
    }
    return k;
}

static const char *
vec_header(void *ctx, const char *name)
{
    struct vec *v = ctx;
    struct json_object *o;
    int i;

    for (i = v->novr - 1; i >= 0; i--)
        if (strcmp(v->ovr_name[i], name) == 0)
            return v->ovr_val[i];
    if (!json_object_object_get_ex(v->headers, name, &o))
        return NULL;
    return json_object_get_string(o);
}

static const char *
jstr(struct json_object *o, const char *key)
{
    struct json_object *x;

    return json_object_object_get_ex(o, key, &x) ? json_object_get_string(x) : NULL;
}

static void
vec_load(struct vec *v, const char *name)
{
    size_t i;
    struct json_object *o, *x;

    memset(v, 0, sizeof(*v));
    for (i = 0; i < json_object_array_length(vectors); i++) {
        o = json_object_array_get_idx(vectors, i);
        if (strcmp(jstr(o, "name"), name) != 0)
            continue;
        v->name = name;
        json_object_object_get_ex(o, "headers", &v->headers);
        json_object_object_get_ex(o, "time", &x);
        v->time = (time_t)json_object_get_int64(x);
        v->signing_string = jstr(o, "signing_string");
        v->req.method = jstr(o, "method");
        v->req.target = jstr(o, "target");
        v->req.scheme = jstr(o, "url_scheme");
        v->req.authority = jstr(o, "authority");
        v->req.body = (const unsigned char *)jstr(o, "body");
        v->req.body_len = strlen(jstr(o, "body"));
        v->req.header = vec_header;
        v->req.ctx = v;
        return;
    }
    printf("Bail out! no vector %s\n", name);
    exit(1);
}

static void
vec_set(struct vec *v, const char *name, const char *value)
{
    if (v->novr == MAX_OVR)
        abort();
    v->ovr_name[v->novr] = name;
    v->ovr_val[v->novr++] = value;
}

/* Parse and verify the way the inbox will. */
static enum httpsig_result
verify_req(const struct httpsig_request *req, const char *pem, time_t now, char *err, size_t n)
{
    struct httpsig sig;
    enum httpsig_result r;

    r = httpsig_parse_request(req, &sig, err, n);
    if (r == HTTPSIG_OK)
        r = httpsig_verify(&sig, req, pem, now, err, n);
    httpsig_free(&sig);
    return r;
}

static enum httpsig_result
verify_vec(struct vec *v, const char *pem, time_t now)
{
    char err[256] = "";
    enum httpsig_result r = verify_req(&v->req, pem, now, err, sizeof(err));

    if (r != HTTPSIG_OK)
        printf("# %s: %s: %s\n", v->name, httpsig_result_name(r), err);
    return r;
}

static const char *
plain_header(void *ctx, const char *name)
{
    struct plain *p = ctx;
    int i;

    for (i = 0; i < 8 && p->names[i] != NULL; i++)
        if (strcmp(p->names[i], name) == 0)
            return p->values[i];
    return NULL;
}

static enum httpsig_result
parse(const char *value)
{
    struct httpsig sig;
    char err[256];
    enum httpsig_result r = cavage_parse(value, &sig, err, sizeof(err));

    httpsig_free(&sig);
    return r;
}

static void
test_vectors_verify(void)
{
    static const char *const names[] = {
        "fedify-cavage-post",       "fedify-cavage-get-query",      "fedify-rfc9421-post",
        "fedify-rfc9421-get-query", "openssl-cavage-post-mastodon", "openssl-cavage-get-query",
        "openssl-hs2019-created",   "openssl-no-algorithm",         "openssl-rfc9421-derived",
    };
    struct vec v;
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        vec_load(&v, names[i]);
        is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_OK, "%s verifies", names[i]);
        is_int(verify_vec(&v, pem_b, v.time), HTTPSIG_BAD_SIGNATURE, "%s fails with the wrong key",
               names[i]);
    }
    vec_load(&v, "fedify-cavage-post");
    is_int(verify_vec(&v, pem_a_pkcs1, v.time), HTTPSIG_OK, "a PKCS#1 public key PEM works too");
    is_int(verify_vec(&v, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", v.time),
           HTTPSIG_BAD_KEY, "a garbage PEM is bad_key");
}

static void
test_signing_strings(void)
{
    static const char *const names[] = {
        "openssl-cavage-post-mastodon", "openssl-cavage-get-query", "openssl-hs2019-created",
        "openssl-no-algorithm",         "openssl-rfc9421-derived",
    };
    struct httpsig sig;
    struct vec v;
    char err[256], *s;
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        vec_load(&v, names[i]);
        s = NULL;
        if (httpsig_parse_request(&v.req, &sig, err, sizeof(err)) == HTTPSIG_OK)
            httpsig_signing_string(&sig, &v.req, 1, &s, err, sizeof(err));
        is_str(s, v.signing_string, "%s: signing string matches the one openssl signed", names[i]);
        free(s);
        httpsig_free(&sig);
    }
}

static void
test_tampering(void)
{
    struct vec v;
    char digest[64];

    vec_load(&v, "fedify-cavage-post");
    v.req.body = (const unsigned char *)BODY_OTHER;
    v.req.body_len = strlen(BODY_OTHER);
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_DIGEST_MISMATCH, "cavage: tampered body");
    httpsig_digest(v.req.body, v.req.body_len, digest, sizeof(digest));
    vec_set(&v, "digest", digest);
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_SIGNATURE,
           "cavage: tampered body with a recomputed Digest");

    vec_load(&v, "fedify-rfc9421-post");
    v.req.body = (const unsigned char *)BODY_OTHER;
    v.req.body_len = strlen(BODY_OTHER);
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_DIGEST_MISMATCH, "rfc9421: tampered body");
    httpsig_content_digest(v.req.body, v.req.body_len, digest, sizeof(digest));
    vec_set(&v, "content-digest", digest);
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_SIGNATURE,
           "rfc9421: tampered body with a recomputed Content-Digest");

    vec_load(&v, "fedify-rfc9421-post");
    v.req.target = "/inbox2";
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_SIGNATURE, "rfc9421: other @target-uri");
    vec_load(&v, "fedify-rfc9421-post");
    v.req.method = "PUT";
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_SIGNATURE, "rfc9421: other @method");

    vec_load(&v, "fedify-cavage-post");
    vec_set(&v, "host", "evil.example");
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_SIGNATURE, "cavage: other Host");
    vec_load(&v, "fedify-cavage-post");
    v.req.target = "/users/x/inbox";
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_SIGNATURE, "cavage: other target");
}

static void
test_time_window(void)
{
    struct vec v;

    vec_load(&v, "fedify-cavage-post");
    is_int(verify_vec(&v, pem_a, v.time + 65 * 60), HTTPSIG_OK, "Date 65 min old is accepted");
    is_int(verify_vec(&v, pem_a, v.time + 65 * 60 + 1), HTTPSIG_STALE_DATE,
           "Date 65 min + 1 s old is stale");
    is_int(verify_vec(&v, pem_a, v.time - HOUR), HTTPSIG_OK, "Date 60 min ahead is accepted");
    is_int(verify_vec(&v, pem_a, v.time - HOUR - 1), HTTPSIG_FUTURE_DATE,
           "Date 60 min + 1 s ahead is in the future");
    vec_set(&v, "date", "Thursday, 01-Jan-26 03:25:45 GMT");
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_HEADER, "an RFC 850 Date is rejected");

    vec_load(&v, "openssl-hs2019-created");
    is_int(verify_vec(&v, pem_a, v.time + 2 * HOUR), HTTPSIG_STALE_DATE,
           "hs2019 (created) two hours old is stale");
    is_int(verify_vec(&v, pem_a, v.time - 2 * HOUR), HTTPSIG_FUTURE_DATE,
           "hs2019 (created) two hours ahead is in the future");

    /* hs2019 (no algorithm) signing date: unsigned created/expires must not move it. */
    {
        char sigv[2048], cexp[64];

        vec_load(&v, "openssl-no-algorithm");
        snprintf(cexp, sizeof(cexp), ",created=%lld", (long long)(v.time + 2 * 86400));
        snprintf(sigv, sizeof(sigv), "%s%s", vec_header(&v, "signature"), cexp);
        vec_set(&v, "signature", sigv);
        is_int(verify_vec(&v, pem_a, v.time + 2 * 86400), HTTPSIG_STALE_DATE,
               "hs2019: an unsigned created does not renew a stale signed Date");
        snprintf(cexp, sizeof(cexp), ",expires=%lld", (long long)(v.time + 2 * 86400));
        vec_load(&v, "openssl-no-algorithm");
        snprintf(sigv, sizeof(sigv), "%s%s", vec_header(&v, "signature"), cexp);
        vec_set(&v, "signature", sigv);
        is_int(verify_vec(&v, pem_a, v.time + 2 * HOUR), HTTPSIG_STALE_DATE,
               "hs2019: an unsigned expires does not stretch the window of the Date");
        is_int(verify_vec(&v, pem_a, v.time + 60 * 60), HTTPSIG_OK,
               "hs2019: the signed Date within the window still verifies");
    }

    vec_load(&v, "fedify-rfc9421-post");
    is_int(verify_vec(&v, pem_a, v.time + 65 * 60 + 1), HTTPSIG_STALE_DATE,
           "rfc9421 created 65 min + 1 s old is stale");
    is_int(verify_vec(&v, pem_a, v.time - HOUR - 1), HTTPSIG_FUTURE_DATE,
           "rfc9421 created over an hour ahead is in the future");
}

static void
test_query(void)
{
    struct vec v;

    /* Fedify leaves the query out of (request-target); the fallback finds it. */
    vec_load(&v, "fedify-cavage-get-query");
    v.req.target = "/users/relay/outbox?page=3";
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_OK,
           "signed without the query: any query verifies (Fedify's choice, not ours)");
    vec_load(&v, "openssl-cavage-get-query");
    v.req.target = "/users/relay/outbox?page=3";
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_SIGNATURE,
           "signed with the query: another query fails");
    vec_load(&v, "openssl-cavage-get-query");
    v.req.target = "/users/relay/outbox";
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_SIGNATURE,
           "signed with the query: no query fails");
    vec_load(&v, "fedify-rfc9421-get-query");
    v.req.target = "/users/relay/outbox?page=3";
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_SIGNATURE,
           "rfc9421 @target-uri covers the query");
}

static void
test_header_order(void)
{
    struct vec v;
    char buf[2048], *p;
    const char *from = "headers=\"host date digest content-type (request-target)\"";
    const char *to = "headers=\"(request-target) host date digest content-type\"";

    vec_load(&v, "openssl-cavage-post-mastodon");
    snprintf(buf, sizeof(buf), "%s", vec_header(&v, "signature"));
    p = strstr(buf, from);
    ok(p != NULL, "the Mastodon-order vector lists (request-target) last");
    if (p != NULL)
        memcpy(p, to, strlen(to));
    vec_set(&v, "signature", buf);
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_SIGNATURE,
           "the same headers in another order do not verify (order is as given)");
}

static void
test_required_headers(void)
{
    struct vec v;
    char err[256], *sig, buf[2048];
    const char *p;
    char date[32], digest[64];
    const char *body = "{\"a\":1}";
    struct plain post = { 0 }, get = { 0 };
    struct httpsig_request preq = {
        "POST", "/inbox", plain_header, &post, (const unsigned char *)body, strlen(body), NULL, NULL
    };
    struct httpsig_request greq = { "GET", "/actor", plain_header, &get, NULL, 0, NULL, NULL };
    const time_t now = 1767225600;

    httpsig_date(now, date, sizeof(date));
    httpsig_digest((const unsigned char *)body, strlen(body), digest, sizeof(digest));
    post.names[0] = "host", post.values[0] = "relay.example";
    post.names[1] = "date", post.values[1] = date;
    post.names[2] = "digest", post.values[2] = digest;
    post.names[3] = "content-type", post.values[3] = "application/activity+json";
    get.names[0] = "host", get.values[0] = "relay.example";
    get.names[1] = "date", get.values[1] = date;
    get.names[2] = "accept", get.values[2] = "application/activity+json";

    sig = cavage_sign(priv_a, "https://relay.example/actor#main-key", &preq,
                      "(request-target) host date content-type", err, sizeof(err));
    post.names[4] = "signature", post.values[4] = sig;
    is_int(verify_req(&preq, pem_a, now, err, sizeof(err)), HTTPSIG_MISSING_HEADER,
           "POST without a signed digest");
    free(sig);
    sig = cavage_sign(priv_a, "https://relay.example/actor#main-key", &preq,
                      "(request-target) host digest", err, sizeof(err));
    post.values[4] = sig;
    is_int(verify_req(&preq, pem_a, now, err, sizeof(err)), HTTPSIG_MISSING_HEADER,
           "POST signed without date or (created)");
    free(sig);
    sig = cavage_sign(priv_a, "https://relay.example/actor#main-key", &preq, "host date digest",
                      err, sizeof(err));
    post.values[4] = sig;
    is_int(verify_req(&preq, pem_a, now, err, sizeof(err)), HTTPSIG_OK,
           "POST signing digest but not (request-target) passes (Mastodon's rule)");
    free(sig);

    sig = cavage_sign(priv_a, "https://relay.example/actor#main-key", &greq,
                      "(request-target) date accept", err, sizeof(err));
    get.names[3] = "signature", get.values[3] = sig;
    is_int(verify_req(&greq, pem_a, now, err, sizeof(err)), HTTPSIG_MISSING_HEADER,
           "GET without a signed host");
    free(sig);
    sig = cavage_sign(priv_a, "https://relay.example/actor#main-key", &greq, "host date", err,
                      sizeof(err));
    get.values[3] = sig;
    is_int(verify_req(&greq, pem_a, now, err, sizeof(err)), HTTPSIG_MISSING_HEADER,
           "GET without (request-target) or digest");
    free(sig);

    /* The hs2019 vector again, relabelled rsa-sha256: (created) is then not allowed. */
    vec_load(&v, "openssl-hs2019-created");
    p = strstr(vec_header(&v, "signature"), "hs2019");
    ok(p != NULL, "the hs2019 vector names its algorithm");
    if (p != NULL) {
        snprintf(buf, sizeof(buf), "%.*srsa-sha256%s", (int)(p - vec_header(&v, "signature")),
                 vec_header(&v, "signature"), p + 6);
        vec_set(&v, "signature", buf);
        is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_BAD_HEADER,
               "(created) under rsa-sha256 is refused (hs2019 only)");
    }
    vec_load(&v, "fedify-cavage-post");
    vec_set(&v, "date", NULL);
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_MISSING_HEADER, "a signed Date that is absent");
    vec_load(&v, "fedify-cavage-post");
    vec_set(&v, "digest", NULL);
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_MISSING_HEADER, "a signed Digest that is absent");
    vec_load(&v, "fedify-rfc9421-post");
    vec_set(&v, "signature", NULL);
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_NO_SIGNATURE,
           "Signature-Input without Signature");
    vec_load(&v, "fedify-cavage-get-query");
    vec_set(&v, "signature", NULL);
    is_int(verify_vec(&v, pem_a, v.time), HTTPSIG_NO_SIGNATURE, "no signature at all");
}

static void
test_round_trip(void)
{
    char err[256], *sig, date[32], digest[64];
    const char *body = "{\"type\":\"Create\"}";
    const char *want = "keyId=\"https://relay.example/actor#main-key\",algorithm=\"rsa-sha256\","
                       "headers=\"(request-target) host date digest content-type\",signature=\"";
    struct plain post = { 0 }, get = { 0 };
    struct httpsig_request preq = {
        "POST", "/inbox", plain_header, &post, (const unsigned char *)body, strlen(body), NULL, NULL
    };
    struct httpsig_request greq = {
        "GET", "/users/a/outbox?page=1", plain_header, &get, NULL, 0, NULL, NULL
    };
    const time_t now = 1767225600;

    httpsig_date(now, date, sizeof(date));
    httpsig_digest((const unsigned char *)body, strlen(body), digest, sizeof(digest));
    post.names[0] = "host", post.values[0] = "relay.example";
    post.names[1] = "date", post.values[1] = date;
    post.names[2] = "digest", post.values[2] = digest;
    post.names[3] = "content-type", post.values[3] = "application/activity+json";
    sig =
        cavage_sign(priv_a, "https://relay.example/actor#main-key", &preq, NULL, err, sizeof(err));
    ok(sig != NULL && strncmp(sig, want, strlen(want)) == 0, "POST Signature header format");
    post.names[4] = "signature", post.values[4] = sig;
    is_int(verify_req(&preq, pem_a, now, err, sizeof(err)), HTTPSIG_OK, "own POST verifies");
    is_int(verify_req(&preq, pem_b, now, err, sizeof(err)), HTTPSIG_BAD_SIGNATURE,
           "own POST fails with the other key");
    free(sig);

    get.names[0] = "host", get.values[0] = "relay.example";
    get.names[1] = "date", get.values[1] = date;
    get.names[2] = "accept", get.values[2] = "application/activity+json";
    sig =
        cavage_sign(priv_b, "https://relay.example/actor#main-key", &greq, NULL, err, sizeof(err));
    ok(sig != NULL && strstr(sig, "headers=\"(request-target) host date accept\"") != NULL,
       "GET signs (request-target) host date accept");
    get.names[3] = "signature", get.values[3] = sig;
    is_int(verify_req(&greq, pem_b, now, err, sizeof(err)), HTTPSIG_OK,
           "own GET with a query verifies");
    greq.target = "/users/a/outbox?page=2";
    is_int(verify_req(&greq, pem_b, now, err, sizeof(err)), HTTPSIG_BAD_SIGNATURE,
           "own GET signs the query");
    free(sig);

    ok(cavage_sign(priv_a, "bad\"key", &preq, NULL, err, sizeof(err)) == NULL,
       "a keyId with a quote is refused");
    get.names[2] = NULL;
    greq.target = "/";
    ok(cavage_sign(priv_a, "https://relay.example/actor#main-key", &greq, NULL, err, sizeof(err)) ==
           NULL,
       "signing a header that is absent fails");
}

static void
test_parser(void)
{
    struct httpsig sig;
    char err[256], *huge;
    enum httpsig_result r;

    r = cavage_parse("Signature keyId=\"k\" , signature = \"YWJj\", foo=\"bar\"", &sig, err,
                     sizeof(err));
    is_int(r, HTTPSIG_OK, "prefix, spaces and unknown params are tolerated");
    ok(r == HTTPSIG_OK && sig.alg == HTTPSIG_ALG_HS2019 && sig.ncomponents == 1 &&
           strcmp(sig.components[0], "(created)") == 0,
       "no algorithm means hs2019 and headers default to (created)");
    httpsig_free(&sig);
    r = cavage_parse("keyId=\"k\",algorithm=\"rsa-sha256\",signature=\"YWJj\"", &sig, err,
                     sizeof(err));
    ok(r == HTTPSIG_OK && sig.alg == HTTPSIG_ALG_RSA_SHA256 && sig.ncomponents == 1 &&
           strcmp(sig.components[0], "date") == 0,
       "rsa-sha256 without headers defaults to date");
    httpsig_free(&sig);
    r = cavage_parse("keyId=\"k\",algorithm=\"hs2019\",created=1402170695,"
                     "expires=1402170995,headers=\"(created) Host\",signature=\"YWJj\"",
                     &sig, err, sizeof(err));
    ok(r == HTTPSIG_OK && sig.has_created && sig.created == 1402170695 && sig.has_expires &&
           sig.expires == 1402170995 && strcmp(sig.components[1], "host") == 0,
       "created/expires are numbers and header names are lowercased");
    httpsig_free(&sig);

    is_int(parse("keyId=\"k\",keyId=\"j\",signature=\"YWJj\""), HTTPSIG_BAD_HEADER,
           "duplicate keyId");
    is_int(parse("keyId=\"k\",foo=\"1\",foo=\"2\",signature=\"YWJj\""), HTTPSIG_BAD_HEADER,
           "duplicate unknown parameter");
    is_int(parse("keyId=\"k\",algorithm=\"hmac-sha256\",signature=\"YWJj\""),
           HTTPSIG_UNSUPPORTED_ALGORITHM, "unknown algorithm");
    is_int(parse("keyId=\"k\",algorithm=\"ed25519\",signature=\"YWJj\""),
           HTTPSIG_UNSUPPORTED_ALGORITHM, "ed25519 is not supported");
    is_int(parse("keyId=\"k,signature=\"YWJj\""), HTTPSIG_BAD_HEADER, "unterminated quotes");
    is_int(parse("keyId=\"k\",signature=\"YWJj"), HTTPSIG_BAD_HEADER, "unterminated last value");
    is_int(parse(""), HTTPSIG_BAD_HEADER, "empty header");
    is_int(parse(NULL), HTTPSIG_NO_SIGNATURE, "absent header");
    is_int(parse("signature=\"YWJj\""), HTTPSIG_BAD_HEADER, "no keyId");
    is_int(parse("keyId=\"k\""), HTTPSIG_BAD_HEADER, "no signature");
    is_int(parse("keyId=\"k\",signature=\"not base64!\""), HTTPSIG_BAD_HEADER,
           "signature not base64");
    is_int(parse("keyId=\"k\",created=\"soon\",signature=\"YWJj\""), HTTPSIG_BAD_HEADER,
           "created not a number");
    is_int(parse("keyId=\"k\" signature=\"YWJj\""), HTTPSIG_BAD_HEADER, "missing comma");
    is_int(parse("keyId=\"k\",headers=\"\",signature=\"YWJj\""), HTTPSIG_BAD_HEADER,
           "empty headers list");
    huge = malloc(9001);
    if (huge == NULL)
        abort();
    memset(huge, 'a', 9000);
    memcpy(huge, "keyId=\"", 7);
    memcpy(huge + 8980, "\",signature=\"YWJj\"", 19);
    is_int(parse(huge), HTTPSIG_BAD_HEADER, "a 9000-byte header is refused");
    free(huge);
    is_str(httpsig_result_name(HTTPSIG_DIGEST_MISMATCH), "digest_mismatch", "metric label");
}

static void
test_rfc9421_parser(void)
{
    struct httpsig sig;
    char err[256];
    const char *s = "sig1=:YWJj:";
    const char *in = "sig1=(\"@method\" \"@target-uri\");created=1;keyid=\"k\"";

    is_int(rfc9421_parse(in, s, &sig, err, sizeof(err)), HTTPSIG_OK,
           "minimal Signature-Input parses");
    is_str(sig.params, "(\"@method\" \"@target-uri\");created=1;keyid=\"k\"",
           "@signature-params is the canonical serialization");
    ok(sig.alg == HTTPSIG_ALG_NONE, "no alg is recorded as such");
    httpsig_free(&sig);
    is_int(rfc9421_parse("sig2=(\"@method\");created=1;keyid=\"k\"", s, &sig, err, sizeof(err)),
           HTTPSIG_BAD_HEADER, "labels that do not match");
    is_int(rfc9421_parse("sig1=(\"@method\");created=1;keyid=\"k\";alg=\"hmac-sha256\"", s, &sig,
                         err, sizeof(err)),
           HTTPSIG_UNSUPPORTED_ALGORITHM, "hmac-sha256 is refused");
    is_int(rfc9421_parse("sig1=(\"@method\");keyid=\"k\"", s, &sig, err, sizeof(err)),
           HTTPSIG_BAD_HEADER, "created is required");
    is_int(rfc9421_parse("sig1=(\"@query-param\";name=\"a\");created=1;keyid=\"k\"", s, &sig, err,
                         sizeof(err)),
           HTTPSIG_BAD_HEADER, "component parameters are refused");
    is_int(rfc9421_parse("sig1=(\"@method\";created=1", s, &sig, err, sizeof(err)),
           HTTPSIG_BAD_HEADER, "unterminated inner list");
    is_int(rfc9421_parse("sig1=(\"@method\" \"Host\");created=1;keyid=\"k\"", s, &sig, err,
                         sizeof(err)),
           HTTPSIG_BAD_HEADER, "a component name not in lowercase is refused (fuzz_httpsig)");
    is_int(rfc9421_parse(in, "sig1=\"YWJj\"", &sig, err, sizeof(err)), HTTPSIG_BAD_HEADER,
           "a signature that is not a byte sequence");
}

static void
test_digest(void)
{
    const unsigned char *b = (const unsigned char *)"hello";
    const char *good = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";
    char buf[256], err[256];

    httpsig_digest((const unsigned char *)"", 0, buf, sizeof(buf));
    is_str(buf, "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "Digest of nothing");
    httpsig_content_digest(b, 5, buf, sizeof(buf));
    is_str(buf, "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:", "Content-Digest");
    snprintf(buf, sizeof(buf), "SHA-256=%s", good);
    is_int(httpsig_check_digest(buf, b, 5, err, sizeof(err)), HTTPSIG_OK, "Digest matches");
    snprintf(buf, sizeof(buf), "sha-256=%s", good);
    is_int(httpsig_check_digest(buf, b, 5, err, sizeof(err)), HTTPSIG_OK, "lowercase algorithm");
    snprintf(buf, sizeof(buf), "SHA-512=AAAA, SHA-256=%s,md5=xyz", good);
    is_int(httpsig_check_digest(buf, b, 5, err, sizeof(err)), HTTPSIG_OK, "several digests");
    is_int(httpsig_check_digest("SHA-512=AAAA", b, 5, err, sizeof(err)), HTTPSIG_BAD_DIGEST,
           "no SHA-256");
    is_int(httpsig_check_digest("SHA-256=AAAA", b, 5, err, sizeof(err)), HTTPSIG_BAD_DIGEST,
           "wrong length");
    is_int(httpsig_check_digest("SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", b, 5, err,
                                sizeof(err)),
           HTTPSIG_DIGEST_MISMATCH, "other body");
    snprintf(buf, sizeof(buf), "sha-512=:AAAA:, sha-256=:%s:", good);
    is_int(httpsig_check_content_digest(buf, b, 5, err, sizeof(err)), HTTPSIG_OK,
           "Content-Digest with two algorithms");
    snprintf(buf, sizeof(buf), "sha-256=%s", good);
    is_int(httpsig_check_content_digest(buf, b, 5, err, sizeof(err)), HTTPSIG_BAD_DIGEST,
           "Content-Digest value must be a byte sequence");
}

static void
test_date_and_keyid(void)
{
    char buf[32], *s;
    time_t t = 0;

    ok(httpsig_date(784111777, buf, sizeof(buf)) == 0, "httpsig_date fits");
    is_str(buf, "Sun, 06 Nov 1994 08:49:37 GMT", "IMF-fixdate");
    ok(httpsig_parse_date(buf, &t) == 0 && t == 784111777, "IMF-fixdate parses back");
    ok(httpsig_parse_date("Sun Nov  6 08:49:37 1994", &t) != 0, "asctime form is refused");
    ok(httpsig_date(784111777, buf, 20) != 0, "short buffer is refused");

    s = httpsig_keyid_actor_candidate("https://a.example/users/x#main-key");
    is_str(s, "https://a.example/users/x", "keyId fragment is stripped");
    free(s);
    s = httpsig_keyid_actor_candidate("https://a.example/users/x/main-key");
    is_str(s, "https://a.example/users/x/main-key", "GtS-style keyId is kept");
    free(s);
    ok(httpsig_keyid_actor_candidate("acct:x@a.example") == NULL, "acct: keyId gives NULL");
    ok(httpsig_keyid_actor_candidate("https://#x") == NULL, "no host gives NULL");
}

/* The SPKI PEM of the RSA public key (n, e), or NULL. Nothing checks that n is a product. */
static char *
spki_pem(const BIGNUM *n, const BIGNUM *e)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pk = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL, *data;
    long len;

    if (bld != NULL && OSSL_PARAM_BLD_push_BN(bld, "n", n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, "e", e) == 1 && (params = OSSL_PARAM_BLD_to_param(bld)) &&
        ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1 && bio != NULL &&
        PEM_write_bio_PUBKEY(bio, pk) == 1 && (len = BIO_get_mem_data(bio, &data)) > 0) {
        out = malloc((size_t)len + 1);
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    BIO_free(bio);
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return out;
}

/* 1 if httpsig_public_key takes a key with an n of n_bits bits and this e. */
static int
takes(int n_bits, const BIGNUM *e)
{
    BIGNUM *n = BN_new();
    char *pem;
    EVP_PKEY *k;

    BN_rand(n, n_bits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD);
    pem = spki_pem(n, e);
    if (pem == NULL) {
        printf("Bail out! cannot encode a test key\n");
        exit(1);
    }
    k = httpsig_public_key(pem);
    EVP_PKEY_free(k);
    free(pem);
    BN_free(n);
    return k != NULL;
}

static void
test_key_limits(void)
{
    BIGNUM *e = BN_new();

    BN_set_word(e, 65537);
    ok(takes(2048, e) && takes(3072, e) && takes(4096, e) && takes(8192, e),
       "2048 to 8192 bits with e = 65537: taken");
    ok(!takes(1024, e), "1024 bits: refused");
    ok(!takes(2047, e), "2047 bits: refused");
    ok(!takes(8193, e), "8193 bits: refused");
    BN_set_word(e, 3);
    ok(takes(2048, e), "e = 3: taken");
    BN_set_word(e, 1);
    ok(!takes(2048, e), "e = 1: refused");
    BN_set_word(e, 65536);
    ok(!takes(2048, e), "an even e: refused");
    BN_set_word(e, 0xffffffffUL);
    ok(takes(2048, e), "e = 2^32 - 1: taken");
    BN_set_word(e, 0x100000001ULL);
    ok(!takes(2048, e), "e = 2^32 + 1: refused");
    BN_rand(e, 3070, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD);
    ok(!takes(3072, e), "a 3070-bit e with a 3072-bit n: refused (16 ms per verification)");
    BN_free(e);
}

int
main(void)
{
    char *text = read_file(DATA_DIR "vectors.json");

    vectors = json_tokener_parse(text);
    free(text);
    if (vectors == NULL || !json_object_is_type(vectors, json_type_array)) {
        printf("Bail out! vectors.json does not parse\n");
        return 1;
    }
    pem_a = read_file(DATA_DIR "key-a.pub.pem");
    pem_b = read_file(DATA_DIR "key-b.pub.pem");
    pem_a_pkcs1 = read_file(DATA_DIR "key-a.pkcs1.pub.pem");
    priv_a = read_private(DATA_DIR "key-a.pem");
    priv_b = read_private(DATA_DIR "key-b.pem");

    test_vectors_verify();
    test_signing_strings();
    test_tampering();
    test_time_window();
    test_query();
    test_header_order();
    test_required_headers();
    test_round_trip();
    test_parser();
    test_rfc9421_parser();
    test_digest();
    test_date_and_keyid();
    test_key_limits();

    json_object_put(vectors);
    free(pem_a);
    free(pem_b);
    free(pem_a_pkcs1);
    EVP_PKEY_free(priv_a);
    EVP_PKEY_free(priv_b);
    return done_testing();
}
