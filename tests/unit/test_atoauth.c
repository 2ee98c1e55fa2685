/*
 * Tests of atoauth.c on loopback, against a double of a PDS and its authorization server that
 * speaks their shapes: discovery, the checks on the server's metadata, a form POST with a
 * client assertion and a DPoP proof retried once with the server's nonce, a DPoP-bound XRPC
 * request retried the same way on the PDS's 401, token responses read strictly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "app.h"
#include "atclient.h"
#include "atoauth.h"
#include "attest.h"
#include "config.h"
#include "httpc.h"
#include "jose.h"
#include "pgtest.h"
#include "seal.h"
#include "tap.h"
#include "xmalloc.h"

static struct app app;
static char origin[64];
static int par_calls, xrpc_calls;
static char last_dpop[2][4096], last_form[2][8192], last_auth[2][4096];
static int md_mode; /* 0 good, 1 other issuer */

static void
copy_header(struct evhttp_request *req, const char *name, char *out, size_t len)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);

    snprintf(out, len, "%s", v != NULL ? v : "");
}

static void
double_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    char body[4096];

    (void)arg;
    if (strcmp(path, "/.well-known/oauth-protected-resource") == 0) {
        snprintf(body, sizeof(body),
                 "{\"resource\":\"%s\",\"authorization_servers\":[\"%s\"],"
                 "\"scopes_supported\":[],\"bearer_methods_supported\":[\"header\"]}",
                 origin, origin);
        attest_json(req, 200, body);
    } else if (strcmp(path, "/.well-known/oauth-authorization-server") == 0) {
        snprintf(
            body, sizeof(body),
            "{\"issuer\":\"%s%s\",\"pushed_authorization_request_endpoint\":\"%s/oauth/par\","
            "\"authorization_endpoint\":\"%s/oauth/authorize\","
            "\"token_endpoint\":\"%s/oauth/token\",\"revocation_endpoint\":\"%s/oauth/revoke\","
            "\"require_pushed_authorization_requests\":true,"
            "\"dpop_signing_alg_values_supported\":[\"RS256\",\"ES256\"],"
            "\"token_endpoint_auth_methods_supported\":[\"none\",\"private_key_jwt\"],"
            "\"token_endpoint_auth_signing_alg_values_supported\":[\"ES256\"],"
            "\"code_challenge_methods_supported\":[\"S256\"],"
            "\"client_id_metadata_document_supported\":true}",
            origin, md_mode == 1 ? "/other" : "", origin, origin, origin, origin);
        attest_json(req, 200, body);
    } else if (strcmp(path, "/oauth/par") == 0) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        int i = par_calls < 2 ? par_calls : 1;

        if (n >= sizeof(last_form[0]))
            n = sizeof(last_form[0]) - 1;
        evbuffer_copyout(in, last_form[i], n);
        last_form[i][n] = '\0';
        copy_header(req, "DPoP", last_dpop[i], sizeof(last_dpop[i]));
        par_calls++;
        evhttp_add_header(out, "DPoP-Nonce", par_calls == 1 ? "nonce-as-1" : "nonce-as-2");
        if (par_calls == 1)
            attest_json(req, 400, "{\"error\":\"use_dpop_nonce\",\"error_description\":\"nonce\"}");
        else
            attest_json(req, 201,
                        "{\"request_uri\":\"urn:ietf:params:oauth:request_uri:req-1\","
                        "\"expires_in\":299}");
    } else if (strncmp(path, "/xrpc/", 6) == 0) {
        int i = xrpc_calls < 2 ? xrpc_calls : 1;

        copy_header(req, "DPoP", last_dpop[i], sizeof(last_dpop[i]));
        copy_header(req, "Authorization", last_auth[i], sizeof(last_auth[i]));
        xrpc_calls++;
        evhttp_add_header(out, "DPoP-Nonce", "nonce-pds-1");
        if (xrpc_calls == 1) {
            evhttp_add_header(out, "WWW-Authenticate",
                              "DPoP error=\"use_dpop_nonce\", error_description=\"nonce\"");
            attest_json(req, 401, "{\"error\":\"use_dpop_nonce\",\"message\":\"nonce\"}");
        } else {
            attest_json(req, 200, "{\"did\":\"did:plc:alice\",\"handle\":\"alice.test\"}");
        }
    } else {
        attest_json(req, 404, "{}");
    }
}

/* The decoded claims of a DPoP proof, once it verified with the key in its own header. */
static struct json_object *
dpop_claims(const char *proof, char *jkt)
{
    struct json_object *h = jose_header(proof), *jwk = NULL, *c = NULL;
    struct jose_key *k = NULL;
    char err[128], *payload = NULL;

    if (h != NULL && json_object_object_get_ex(h, "jwk", &jwk) &&
        (k = jose_key_from_json(jwk, err, sizeof(err))) != NULL &&
        jose_verify(k, proof, &payload, err, sizeof(err)) == 0) {
        c = json_tokener_parse(payload);
        jose_thumbprint(k, jkt);
    }
    jose_key_free(k);
    json_object_put(h);
    free(payload);
    return c;
}

static const char *
str_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

struct disc {
    int done;
    struct atoauth_server *as;
    char why[128];
};

static void
disc_cb(struct atoauth_server *as, const char *why, void *arg)
{
    struct disc *d = arg;

    d->done++;
    d->as = as;
    snprintf(d->why, sizeof(d->why), "%s", why);
}

static void
test_discovery(void)
{
    struct disc d = { 0 };
    char want[128];

    atoauth_discover(&app, origin, disc_cb, &d);
    PGT_SPIN(d.done, 5);
    ok(d.as != NULL, "discovered (%s)", d.why);
    if (d.as == NULL)
        return;
    is_str(d.as->issuer, origin, "issuer");
    snprintf(want, sizeof(want), "%s/oauth/par", origin);
    is_str(d.as->par_endpoint, want, "PAR endpoint");
    snprintf(want, sizeof(want), "%s/oauth/revoke", origin);
    is_str(d.as->revocation_endpoint, want, "revocation endpoint");
    atoauth_server_free(d.as);

    memset(&d, 0, sizeof(d));
    md_mode = 1;
    atoauth_discover(&app, origin, disc_cb, &d);
    PGT_SPIN(d.done, 5);
    ok(d.as == NULL && strstr(d.why, "issuer") != NULL, "metadata naming another issuer refused");
    md_mode = 0;
}

static void
test_server_parse(void)
{
    struct atoauth_server as;
    char err[128];
    struct json_object *md = json_tokener_parse(
        "{\"issuer\":\"https://as.example\",\"pushed_authorization_request_endpoint\":"
        "\"https://as.example/par\",\"authorization_endpoint\":\"https://as.example/authorize\","
        "\"token_endpoint\":\"https://as.example/token\","
        "\"dpop_signing_alg_values_supported\":[\"ES256\"],"
        "\"token_endpoint_auth_methods_supported\":[\"private_key_jwt\"],"
        "\"token_endpoint_auth_signing_alg_values_supported\":[\"ES256\"],"
        "\"code_challenge_methods_supported\":[\"S256\"],"
        "\"client_id_metadata_document_supported\":true}");

    ok(atoauth_server_parse(md, "https://as.example", &as, err, sizeof(err)) == 0,
       "a complete document");
    ok(as.revocation_endpoint == NULL, "no revocation endpoint named: NULL");
    free(as.issuer);
    free(as.par_endpoint);
    free(as.authorization_endpoint);
    free(as.token_endpoint);
    json_object_object_add(md, "token_endpoint", json_object_new_string("http://as.example/token"));
    ok(atoauth_server_parse(md, "https://as.example", &as, err, sizeof(err)) < 0,
       "an https issuer with a plain http endpoint refused");
    json_object_object_add(md, "token_endpoint", json_object_new_string("https://as.example/t"));
    json_object_object_add(md, "dpop_signing_alg_values_supported",
                           json_tokener_parse("[\"RS256\"]"));
    ok(atoauth_server_parse(md, "https://as.example", &as, err, sizeof(err)) < 0,
       "no ES256 for DPoP refused");
    json_object_object_add(md, "dpop_signing_alg_values_supported",
                           json_tokener_parse("[\"ES256\"]"));
    json_object_object_add(md, "client_id_metadata_document_supported", json_object_new_boolean(0));
    ok(atoauth_server_parse(md, "https://as.example", &as, err, sizeof(err)) < 0,
       "no client metadata documents refused");
    json_object_put(md);
}

struct got {
    int done;
    long status;
    char nonce[64];
    char body[512];
};

static void
got_cb(const struct atoauth_answer *a, void *arg)
{
    struct got *g = arg;

    g->done++;
    g->status = a->status;
    snprintf(g->nonce, sizeof(g->nonce), "%s", a->nonce != NULL ? a->nonce : "");
    snprintf(g->body, sizeof(g->body), "%s",
             a->json != NULL ? json_object_to_json_string(a->json) : "");
}

static void
test_post(void)
{
    struct jose_key *dpop = jose_key_generate(NULL, 0);
    struct got g = { 0 };
    char url[128], jkt[2][44] = { "", "" }, want[44], *f = NULL;
    struct json_object *c0, *c1;

    snprintf(url, sizeof(url), "%s/oauth/par?x=1", origin);
    f = xstrdup("response_type=code&state=s1");
    atoauth_post(&app, dpop, origin, url, f, NULL, got_cb, &g);
    free(f);
    PGT_SPIN(g.done, 5);
    is_int(par_calls, 2, "the nonce refusal was retried once");
    is_int(g.status, 201, "then accepted");
    is_str(g.nonce, "nonce-as-2", "the server's latest nonce comes back");
    c0 = dpop_claims(last_dpop[0], jkt[0]);
    c1 = dpop_claims(last_dpop[1], jkt[1]);
    ok(c0 != NULL && c1 != NULL, "both proofs verify with their own jwk");
    jose_thumbprint(dpop, want);
    ok(strcmp(jkt[0], want) == 0 && strcmp(jkt[1], want) == 0, "both proofs carry our key");
    ok(!json_object_object_get_ex(c0, "nonce", NULL), "the first proof had no nonce");
    is_str(str_of(c1, "nonce"), "nonce-as-1", "the retry carries the server's nonce");
    is_str(str_of(c1, "htm"), "POST", "htm");
    snprintf(url, sizeof(url), "%s/oauth/par", origin);
    is_str(str_of(c1, "htu"), url, "htu without the query");
    ok(strcmp(str_of(c0, "jti"), str_of(c1, "jti")) != 0, "each proof its own jti");
    ok(!json_object_object_get_ex(c1, "ath", NULL), "no ath without a token");
    ok(strstr(last_form[1], "response_type=code&state=s1&client_id=https%3A%2F%2Fbridge.example%2F"
                            "atproto%2Fclient-metadata.json") != NULL,
       "the form keeps its fields and gets client_id");
    ok(strstr(last_form[1], "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                            "client-assertion-type%3Ajwt-bearer") != NULL,
       "the jwt-bearer assertion type");
    {
        char *a0 = strstr(last_form[0], "client_assertion="),
             *a1 = strstr(last_form[1], "client_assertion=");
        char *payload = NULL, err[128];
        struct json_object *p;

        ok(a0 != NULL && a1 != NULL && strcmp(a0, a1) != 0, "a fresh assertion for the retry");
        if (a1 != NULL) {
            char *end = strchr(a1, '&');

            if (end != NULL)
                *end = '\0';
        }
        ok(a1 != NULL && jose_verify(app.atclient->key, a1 + strlen("client_assertion="), &payload,
                                     err, sizeof(err)) == 0,
           "the assertion verifies with the client's key");
        p = payload != NULL ? json_tokener_parse(payload) : NULL;
        is_str(str_of(p, "aud"), origin, "aud is the issuer");
        json_object_put(p);
        free(payload);
    }
    json_object_put(c0);
    json_object_put(c1);
    jose_key_free(dpop);
}

static void
test_xrpc(void)
{
    struct jose_key *dpop = jose_key_generate(NULL, 0);
    struct got g = { 0 };
    char url[128], jkt[44], ath[44];
    struct json_object *c0, *c1;

    snprintf(url, sizeof(url), "%s/xrpc/com.atproto.server.getSession", origin);
    atoauth_xrpc(&app, dpop, "access-token-1", "GET", url, NULL, NULL, got_cb, &g);
    PGT_SPIN(g.done, 5);
    is_int(xrpc_calls, 2, "the PDS's nonce refusal was retried once");
    is_int(g.status, 200, "then answered");
    is_str(g.nonce, "nonce-pds-1", "the PDS's nonce");
    is_str(last_auth[1], "DPoP access-token-1", "Authorization: DPoP <token>");
    c0 = dpop_claims(last_dpop[0], jkt);
    c1 = dpop_claims(last_dpop[1], jkt);
    jose_sha256_b64url("access-token-1", strlen("access-token-1"), ath);
    is_str(str_of(c1, "ath"), ath, "ath is the token's hash");
    is_str(str_of(c1, "nonce"), "nonce-pds-1", "the retry carries the PDS's nonce");
    is_str(str_of(c1, "htm"), "GET", "htm");
    ok(!json_object_object_get_ex(c0, "nonce", NULL), "first without");
    json_object_put(c0);
    json_object_put(c1);
    jose_key_free(dpop);
}

static void
test_tokens(void)
{
    struct atoauth_tokens t;
    char err[128];
    struct json_object *o = json_tokener_parse(
        "{\"access_token\":\"a1\",\"token_type\":\"DPoP\",\"refresh_token\":\"r1\","
        "\"scope\":\"atproto repo:app.bsky.graph.follow\",\"sub\":\"did:plc:alice\","
        "\"expires_in\":3599}");

    ok(atoauth_tokens_parse(o, "did:plc:alice", &t, err, sizeof(err)) == 0, "a good answer");
    is_str(t.access_token, "a1", "access token");
    is_str(t.refresh_token, "r1", "refresh token");
    is_int(t.expires_in, 3599, "expires_in");
    atoauth_tokens_free(&t);
    ok(atoauth_tokens_parse(o, "did:plc:mallory", &t, err, sizeof(err)) < 0 &&
           strstr(err, "sub") != NULL,
       "another account's sub is refused");
    json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
    ok(atoauth_tokens_parse(o, "did:plc:alice", &t, err, sizeof(err)) < 0, "Bearer refused");
    json_object_object_add(o, "token_type", json_object_new_string("dpop"));
    json_object_object_add(o, "scope", json_object_new_string("atprotox transition:generic"));
    ok(atoauth_tokens_parse(o, "did:plc:alice", &t, err, sizeof(err)) < 0,
       "a scope without the word atproto refused");
    json_object_put(o);
}

static void
loaded_cb(struct app *a, const struct atclient *c, void *arg)
{
    (void)a;
    (void)c;
    *(int *)arg = 1;
}

int
main(void)
{
    struct config cfg;
    struct httpc_options ho = { 0 };
    struct evhttp *http;
    unsigned char key[SEAL_KEY_BYTES] = { 1, 2, 3 };
    char err[256];
    int port, done = 0;

    pgt_setup("atoauth");
    port = pgt_listen(&http, double_cb, NULL);
    if (port < 0)
        pgt_bail("cannot listen");
    snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", port);
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://bridge.example", err, sizeof(err)) < 0 ||
        config_validate(&cfg, err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app.db = pgt_db(2);
    app.seal = seal_from_bytes(key);
    ho.allow_loopback = 1;
    app.httpc = httpc_new(pgt_base, &ho, err, sizeof(err));
    if (app.httpc == NULL)
        pgt_bail("httpc: %s", err);
    atclient_load(&app, loaded_cb, &done);
    PGT_SPIN(done, 5);
    if (app.atclient == NULL)
        pgt_bail("no client key");

    test_server_parse();
    test_discovery();
    test_post();
    test_xrpc();
    test_tokens();

    httpc_free(app.httpc);
    atclient_free(app.atclient);
    seal_free(app.seal);
    db_free(app.db);
    config_free(&cfg);
    evhttp_free(http);
    pgt_teardown();
    return done_testing();
}
