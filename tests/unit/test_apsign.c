/* Tests of apsign: a signed hop carries Host, Date, Digest and a Signature httpsig verifies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/pem.h>

#include "apsign.h"
#include "httpc.h"
#include "httpc_internal.h"
#include "httpsig.h"
#include "tap.h"

#define KEY_ID "https://relay.test/actor#main-key"

static EVP_PKEY *key;
static char pub_pem[4096], other_pem[4096];

/* The hop's headers by lowercase name, plus the headers the caller sends itself. */
struct hop {
    struct httpc_hop_headers h;
    const char *typed_name; /* "accept" or "content-type" */
    const char *typed;
};

static const char *
hop_header(void *ctx, const char *name)
{
    struct hop *hop = ctx;
    size_t n = strlen(name);

    if (hop->typed_name != NULL && strcmp(name, hop->typed_name) == 0)
        return hop->typed;
    for (size_t i = 0; i < hop->h.n; i++)
        if (strncasecmp(hop->h.lines[i], name, n) == 0 && hop->h.lines[i][n] == ':')
            return hop->h.lines[i] + n + 2;
    return NULL;
}

static void
hop_free(struct hop *hop)
{
    for (size_t i = 0; i < hop->h.n; i++)
        free(hop->h.lines[i]);
    memset(&hop->h, 0, sizeof(hop->h));
}

/* Verifies the hop as the inbox would (cavage, the target as sent), against pem. */
static enum httpsig_result
verify(struct hop *hop, const char *method, const char *target, const char *body, const char *pem,
       char *err, size_t errlen)
{
    struct httpsig_request req = { 0 };
    struct httpsig sig;
    enum httpsig_result r;

    req.method = method;
    req.target = target;
    req.header = hop_header;
    req.ctx = hop;
    req.body = (const unsigned char *)body;
    req.body_len = body ? strlen(body) : 0;
    r = httpsig_parse_request(&req, &sig, err, errlen);
    if (r == HTTPSIG_OK)
        r = httpsig_verify(&sig, &req, pem, time(NULL), err, errlen);
    if (r == HTTPSIG_OK && strcmp(sig.key_id, KEY_ID) != 0)
        r = HTTPSIG_BAD_SIGNATURE;
    httpsig_free(&sig);
    return r;
}

static int
read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        return -1;
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

static void
test_post(void)
{
    const char *body = "{\"type\":\"Follow\"}";
    struct hop hop = { .typed_name = "content-type", .typed = "application/activity+json" };
    char err[256], digest[64];

    ok(apsign_hop(key, KEY_ID, "POST", "https://Remote.example:8443/users/bob/inbox?x=1", body,
                  strlen(body), hop.typed, &hop.h, err, sizeof(err)) == 0,
       "post: signed (%s)", err);
    is_int(hop.h.n, 4, "post: Host, Date, Digest and Signature");
    is_str(hop_header(&hop, "host"), "remote.example:8443", "post: Host is the URL's authority");
    ok(hop_header(&hop, "date") != NULL && strstr(hop_header(&hop, "date"), " GMT") != NULL,
       "post: Date is an IMF-fixdate");
    httpsig_digest((const unsigned char *)body, strlen(body), digest, sizeof(digest));
    is_str(hop_header(&hop, "digest"), digest, "post: Digest of the body");
    ok(strstr(hop_header(&hop, "signature") ? hop_header(&hop, "signature") : "",
              "headers=\"(request-target) host date digest content-type\"") != NULL,
       "post: signs (request-target) host date digest content-type");
    is_int(verify(&hop, "POST", "/users/bob/inbox?x=1", body, pub_pem, err, sizeof(err)),
           HTTPSIG_OK, "post: verifies with the public key, query kept (%s)", err);
    ok(verify(&hop, "POST", "/users/bob/inbox?x=1", body, other_pem, err, sizeof(err)) !=
           HTTPSIG_OK,
       "post: does not verify with another key");
    ok(verify(&hop, "POST", "/users/bob/inbox?x=1", "{\"type\":\"Undo\"}", pub_pem, err,
              sizeof(err)) != HTTPSIG_OK,
       "post: another body does not verify");
    ok(verify(&hop, "POST", "/users/eve/inbox?x=1", body, pub_pem, err, sizeof(err)) != HTTPSIG_OK,
       "post: another target does not verify");
    hop_free(&hop);
}

static void
test_get(void)
{
    struct hop hop = { .typed_name = "accept", .typed = "application/activity+json" };
    char err[256];

    ok(apsign_hop(key, KEY_ID, "GET", "http://remote.example/users/bob", NULL, 0, hop.typed, &hop.h,
                  err, sizeof(err)) == 0,
       "get: signed (%s)", err);
    is_int(hop.h.n, 3, "get: Host, Date and Signature, no Digest");
    ok(hop_header(&hop, "digest") == NULL, "get: no Digest");
    is_str(hop_header(&hop, "host"), "remote.example", "get: Host without a default port");
    ok(strstr(hop_header(&hop, "signature") ? hop_header(&hop, "signature") : "",
              "headers=\"(request-target) host date accept\"") != NULL,
       "get: signs (request-target) host date accept");
    is_int(verify(&hop, "GET", "/users/bob", NULL, pub_pem, err, sizeof(err)), HTTPSIG_OK,
           "get: verifies with the public key (%s)", err);
    hop.typed = "text/html";
    ok(verify(&hop, "GET", "/users/bob", NULL, pub_pem, err, sizeof(err)) != HTTPSIG_OK,
       "get: another Accept does not verify");
    hop_free(&hop);
}

static void
test_refused(void)
{
    struct hop hop = { 0 };
    char err[256] = "";

    ok(apsign_hop(key, KEY_ID, "GET", "ftp://remote.example/x", NULL, 0, "a/b", &hop.h, err,
                  sizeof(err)) < 0 &&
           err[0] != '\0',
       "an ftp URL is refused with a reason (%s)", err);
    ok(apsign_hop(key, KEY_ID, "GET", "/relative", NULL, 0, "a/b", &hop.h, err, sizeof(err)) < 0,
       "a relative URL is refused");
    is_int(hop.h.n, 0, "a refused hop gets no header");
}

int
main(void)
{
    FILE *f = fopen("tests/data/httpsig/key-a.pem", "r");

    key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (key == NULL || read_file("tests/data/httpsig/key-a.pub.pem", pub_pem, sizeof(pub_pem)) ||
        read_file("tests/data/httpsig/key-b.pub.pem", other_pem, sizeof(other_pem))) {
        printf("Bail out! test keys missing (run from the top folder)\n");
        return 1;
    }
    test_post();
    test_get();
    test_refused();
    EVP_PKEY_free(key);
    return done_testing();
}
