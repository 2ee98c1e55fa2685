/* Tests of xrpc against a loopback server: URLs and bodies, errors and rate-limit headers, DPoP
 * proofs and the one retry on a new nonce, malformed calls failing from the loop. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "dpop.h"
#include "jose.h"
#include "tap.h"
#include "xrpc.h"
#include "xrpctest.h"

/* What the server saw last, and what the client got. */
struct seen {
    char uri[600], method[8], auth[600], ctype[80], body[600], dpop_nonce[40], htu[300], ath[64];
    int dpop_ok, requests;
};
static struct seen srv;
static char origin[64];

/* Checks a DPoP proof as a resource server does: signed by the key in its own header. */
static void
check_proof(const char *proof)
{
    struct json_object *h = jose_header(proof), *jwk, *claims, *v;
    struct jose_key *k = NULL;
    char err[100], *payload = NULL;

    srv.dpop_ok = 0;
    srv.dpop_nonce[0] = srv.htu[0] = srv.ath[0] = '\0';
    if (h != NULL && json_object_object_get_ex(h, "jwk", &jwk))
        k = jose_key_from_json(jwk, err, sizeof(err));
    if (k != NULL && jose_verify(k, proof, &payload, err, sizeof(err)) == 0) {
        claims = json_tokener_parse(payload);
        srv.dpop_ok = 1;
        if (json_object_object_get_ex(claims, "nonce", &v))
            snprintf(srv.dpop_nonce, sizeof(srv.dpop_nonce), "%s", json_object_get_string(v));
        if (json_object_object_get_ex(claims, "htu", &v))
            snprintf(srv.htu, sizeof(srv.htu), "%s", json_object_get_string(v));
        if (json_object_object_get_ex(claims, "ath", &v))
            snprintf(srv.ath, sizeof(srv.ath), "%s", json_object_get_string(v));
        json_object_put(claims);
    }
    free(payload);
    jose_key_free(k);
    json_object_put(h);
}

static void
handler(struct evhttp_request *req, void *arg)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *uri = evhttp_request_get_uri(req), *v;

    (void)arg;
    srv.requests++;
    snprintf(srv.uri, sizeof(srv.uri), "%s", uri);
    snprintf(srv.method, sizeof(srv.method), "%s",
             evhttp_request_get_command(req) == EVHTTP_REQ_GET ? "GET" : "POST");
    v = evhttp_find_header(in, "Authorization");
    snprintf(srv.auth, sizeof(srv.auth), "%s", v != NULL ? v : "");
    v = evhttp_find_header(in, "Content-Type");
    snprintf(srv.ctype, sizeof(srv.ctype), "%s", v != NULL ? v : "");
    xt_body(req, srv.body, sizeof(srv.body));
    v = evhttp_find_header(in, "DPoP");
    if (v != NULL)
        check_proof(v);
    else
        srv.dpop_ok = -1;

    if (strncmp(uri, "/xrpc/com.example.limited", 25) == 0)
        xt_reply(req, 429, "{\"error\":\"RateLimitExceeded\",\"message\":\"Rate Limit Exceeded\"}",
                 "RateLimit-Limit: 5000", "RateLimit-Remaining: 0", "RateLimit-Reset: 1796630000",
                 "RateLimit-Policy: 5000;w=3600", "Retry-After: 3585", NULL);
    else if (strncmp(uri, "/xrpc/com.example.expired", 25) == 0)
        xt_reply(req, 400, "{\"error\":\"ExpiredToken\",\"message\":\"Token has expired\"}", NULL);
    else if (strncmp(uri, "/xrpc/com.example.pds", 21) == 0 && strcmp(srv.dpop_nonce, "n-2") != 0)
        /* A PDS: 401 with WWW-Authenticate until the proof carries its nonce. */
        xt_reply(req, 401, "{\"error\":\"use_dpop_nonce\",\"message\":\"DPoP nonce mismatch\"}",
                 "WWW-Authenticate: DPoP error=\"use_dpop_nonce\"", "DPoP-Nonce: n-2", NULL);
    else if (strncmp(uri, "/xrpc/com.example.as", 20) == 0 && strcmp(srv.dpop_nonce, "n-3") != 0)
        /* An authorization server: 400 {"error":"use_dpop_nonce"}. */
        xt_reply(req, 400, "{\"error\":\"use_dpop_nonce\"}", "DPoP-Nonce: n-3", NULL);
    else if (strncmp(uri, "/xrpc/com.example.greedy", 24) == 0) {
        /* Wants a new nonce every time: retried once only. */
        char line[64];

        snprintf(line, sizeof(line), "DPoP-Nonce: g-%d", srv.requests);
        xt_reply(req, 401, "{\"error\":\"use_dpop_nonce\"}",
                 "WWW-Authenticate: DPoP error=\"use_dpop_nonce\"", line, NULL);
    } else if (strncmp(uri, "/xrpc/com.example.as", 20) == 0)
        xt_reply(req, 201, "{\"request_uri\":\"urn:x\"}", NULL);
    else if (strncmp(uri, "/xrpc/com.example.text", 22) == 0)
        xt_reply(req, 502, "bad gateway", NULL);
    else
        xt_reply(req, 200, "{\"ok\":true,\"records\":[{\"uri\":\"at://x\"}]}",
                 "RateLimit-Limit: 3000", "RateLimit-Remaining: 2999",
                 "RateLimit-Reset: 1796625073", "RateLimit-Policy: 3000;w=300", "DPoP-Nonce: n-2",
                 NULL);
}

struct got {
    int done;
    enum httpc_error error;
    long status;
    char error_name[64], message[64], nonce[40], policy[40];
    int retried, refused, has_json;
    long limit, remaining, retry_after;
    long long reset;
};

static void
on_done(const struct xrpc_result *r, void *arg)
{
    struct got *g = arg;

    g->done++;
    g->error = r->error;
    g->status = r->status;
    snprintf(g->error_name, sizeof(g->error_name), "%s", r->error_name ? r->error_name : "");
    snprintf(g->message, sizeof(g->message), "%s", r->message ? r->message : "");
    snprintf(g->nonce, sizeof(g->nonce), "%s", r->dpop_nonce ? r->dpop_nonce : "");
    snprintf(g->policy, sizeof(g->policy), "%s", r->ratelimit_policy ? r->ratelimit_policy : "");
    g->retried = r->nonce_retried;
    g->refused = xrpc_token_refused(r);
    g->has_json = r->json != NULL;
    g->limit = r->ratelimit_limit;
    g->remaining = r->ratelimit_remaining;
    g->reset = r->ratelimit_reset;
    g->retry_after = r->retry_after;
}

static struct event_base *base;
static struct httpc *client;

static struct got
run(const struct xrpc_call *c)
{
    struct got g = { 0 };

    memset(&srv, 0, sizeof(srv));
    xrpc_call(client, c, on_done, &g);
    ok(g.done == 0, "no callback inside xrpc_call");
    xt_wait(base, &g.done);
    return g;
}

static void
test_plain(void)
{
    struct xrpc_call c = { .method = "GET",
                           .service = origin,
                           .nsid = "com.atproto.repo.listRecords",
                           .query = "repo=did%3Aplc%3Aabc&limit=100" };
    static const char *const extra[] = { "atproto-proxy: did:web:api.bsky.chat#bsky_chat" };
    struct got g = run(&c);

    ok(g.error == HTTPC_OK && g.status == 200 && g.has_json, "GET answered with JSON");
    is_str(srv.uri, "/xrpc/com.atproto.repo.listRecords?repo=did%3Aplc%3Aabc&limit=100",
           "GET /xrpc/<nsid>?<query>");
    is_str(srv.auth, "", "no Authorization without auth");
    ok(srv.dpop_ok == -1, "no DPoP header without DPoP");
    ok(g.limit == 3000 && g.remaining == 2999 && g.reset == 1796625073, "RateLimit numbers read");
    is_str(g.policy, "3000;w=300", "RateLimit-Policy read");
    ok(g.retry_after == -1, "no Retry-After: -1");
    is_str(g.nonce, "", "no nonce reported without DPoP");

    c = (struct xrpc_call){ .method = "POST",
                            .service = origin,
                            .nsid = "com.atproto.repo.createRecord",
                            .body = "{\"repo\":\"x\"}",
                            .auth = XRPC_AUTH_BEARER,
                            .token = "tok-1",
                            .headers = extra,
                            .nheaders = 1 };
    g = run(&c);
    ok(g.status == 200, "POST answered");
    is_str(srv.method, "POST", "a procedure is a POST");
    is_str(srv.body, "{\"repo\":\"x\"}", "the JSON body sent");
    is_str(srv.ctype, "application/json", "as application/json");
    is_str(srv.auth, "Bearer tok-1", "Bearer token");

    c = (struct xrpc_call){ .method = "POST",
                            .service = origin,
                            .nsid = "com.atproto.server.refreshSession",
                            .auth = XRPC_AUTH_BEARER,
                            .token = "refresh-1" };
    g = run(&c);
    ok(g.status == 200 && srv.body[0] == '\0', "a POST without body sends an empty one");
}

static void
test_errors(void)
{
    struct xrpc_call c = {
        .method = "POST", .service = origin, .nsid = "com.example.limited", .body = "{}"
    };
    struct got g = run(&c);

    ok(g.status == 429, "429");
    is_str(g.error_name, "RateLimitExceeded", "XRPC error name");
    is_str(g.message, "Rate Limit Exceeded", "XRPC message");
    ok(g.retry_after == 3585 && g.remaining == 0 && g.limit == 5000, "Retry-After and the bucket");
    is_str(g.policy, "5000;w=3600", "the hourly policy");
    ok(!g.refused, "a 429 is not a refused token");
    c.nsid = "com.example.expired";
    g = run(&c);
    ok(g.status == 400 && strcmp(g.error_name, "ExpiredToken") == 0 && g.refused,
       "ExpiredToken: refresh the session");
    c.nsid = "com.example.text";
    g = run(&c);
    ok(g.status == 502 && !g.has_json && g.error_name[0] == '\0', "a body that is not JSON");

    ok(xrpc_header_number("42") == 42 && xrpc_header_number(" 7 ") == 7, "numbers");
    ok(xrpc_header_number(NULL) == -1 && xrpc_header_number("") == -1 &&
           xrpc_header_number("-1") == -1 && xrpc_header_number("1.5") == -1 &&
           xrpc_header_number("Wed, 21 Oct 2015 07:28:00 GMT") == -1,
       "absent, negative, fractional and dates are -1");
    {
        struct xrpc_result r = { .retry_after = 1200, .ratelimit_reset = 5000 };

        ok(xrpc_limited_wait_ms(&r, 1000, 7) == 1200000, "429: Retry-After first");
        r.retry_after = -1;
        ok(xrpc_limited_wait_ms(&r, 1000, 7) == 4000000, "else until RateLimit-Reset");
        r.ratelimit_reset = 900;
        ok(xrpc_limited_wait_ms(&r, 1000, 7000) == 7000, "else the fallback");
        ok(xrpc_limited_wait_ms(&r, 1000, 7) == 1000, "at least a second");
    }
}

static void
test_dpop(void)
{
    char err[100], want_ath[44];
    struct jose_key *k = jose_key_generate(err, sizeof(err));
    struct xrpc_call c = { .method = "POST",
                           .service = origin,
                           .nsid = "com.example.pds.write",
                           .query = "x=1",
                           .body = "{}",
                           .auth = XRPC_AUTH_DPOP,
                           .token = "at-1",
                           .dpop = k };
    struct got g = run(&c);

    ok(g.status == 200 && g.retried == 1 && srv.requests == 2,
       "PDS: 401 use_dpop_nonce, sent again with the nonce, 200");
    is_str(g.nonce, "n-2", "the nonce to keep for this server");
    ok(srv.dpop_ok == 1, "the proof verifies with its own jwk");
    is_str(srv.auth, "DPoP at-1", "Authorization: DPoP");
    c.dpop_nonce = "n-2";
    c.method = "GET";
    c.body = NULL;
    g = run(&c);
    ok(g.status == 200 && g.retried == 0 && srv.requests == 1, "with the kept nonce: one request");
    jose_sha256_b64url("at-1", 4, want_ath);
    is_str(srv.ath, want_ath, "ath is the access token's hash");
    {
        char want[100];

        snprintf(want, sizeof(want), "%s/xrpc/com.example.pds.write", origin);
        is_str(srv.htu, want, "htu without the query");
    }
    c.nsid = "com.example.as.par";
    c.dpop_nonce = NULL;
    g = run(&c);
    ok(g.status == 201 && g.retried == 1, "authorization server: 400 use_dpop_nonce, retried");
    is_str(g.nonce, "n-3", "its own nonce (the one sent, when the answer names none)");
    c.nsid = "com.example.greedy";
    g = run(&c);
    ok(g.status == 401 && g.retried == 1 && srv.requests == 2, "retried once only");
    is_str(g.nonce, "g-2", "the newest nonce reported");
    c.auth = XRPC_AUTH_BEARER;
    c.nsid = "com.example.pds.read";
    g = run(&c);
    ok(g.status == 401 && g.retried == 0 && srv.requests == 1, "no nonce retry without DPoP");
    jose_key_free(k);
}

static void
test_malformed(void)
{
    struct xrpc_call calls[] = {
        { .method = "PUT", .service = origin, .nsid = "a.b.c" },
        { .method = "GET", .service = "ftp://x.example", .nsid = "a.b.c" },
        { .method = "GET", .service = "https://x.example/path", .nsid = "a.b.c" },
        { .method = "GET", .service = origin, .nsid = "a.b" },
        { .method = "GET", .service = origin, .nsid = "a.b.c/../d" },
        { .method = "GET", .service = origin, .nsid = "a.b.c", .auth = XRPC_AUTH_BEARER },
        { .method = "GET",
          .service = origin,
          .nsid = "a.b.c",
          .auth = XRPC_AUTH_DPOP,
          .token = "t" },
    };

    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        struct got g = run(&calls[i]);

        ok(g.error == HTTPC_ERR_OTHER && srv.requests == 0, "malformed call %zu fails, unsent", i);
    }
}

int
main(void)
{
    struct evhttp *http;

    base = event_base_new();
    http = xt_server(base, handler, NULL, origin);
    client = xt_client(base);
    test_plain();
    test_errors();
    test_dpop();
    test_malformed();
    httpc_free(client);
    evhttp_free(http);
    event_base_free(base);
    return done_testing();
}
