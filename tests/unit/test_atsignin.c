/*
 * Tests of atsignin.c on a real PostgreSQL: the handle as typed, and the refusals of the start,
 * of the callback and of the app password form, none of which writes anything or reaches the
 * network: a malformed handle, no token key, an unknown or spent state, another browser, an
 * expired state, a refusal at the server, an answer naming another issuer, another site's form,
 * too many tries from one address; and an app password exchanged with a double of the handle
 * host, PLC and PDS: the DID resolved asked for, only the sealed refresh token kept, and a
 * session of another DID refused with nothing written. (The whole way through the reference PDS:
 * integration/atsignin.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "app.h"
#include "atsignin.h"
#include "attest.h"
#include "identity.h"
#include "jose.h"
#include "pgtest.h"
#include "ratelimit.h"
#include "seal.h"
#include "tap.h"
#include "token.h"
#include "xmalloc.h"

#define STATE   "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"
#define BROWSER "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
#define DID     "did:plc:aliceaaaaaaaaaaaaaaaaaaa"

static struct app app;
static char origin[64];
static int port, network_calls;
static const char *session_did; /* set: the double is alice's handle host, PLC and PDS */
static char session_body[512];

/* The PDS's createSession, naming session_did whatever was asked. */
static void
double_session(struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in) < sizeof(session_body) - 1 ? evbuffer_get_length(in)
                                                                  : sizeof(session_body) - 1;
    char body[512];

    evbuffer_copyout(in, session_body, n);
    session_body[n] = '\0';
    snprintf(body, sizeof(body),
             "{\"did\":\"%s\",\"handle\":\"alice.test\",\"accessJwt\":\"a.b.c\","
             "\"refreshJwt\":\"r.e.f\"}",
             session_did);
    attest_json(req, 200, body);
}

static void
double_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    char doc[512];

    (void)arg;
    network_calls++;
    if (session_did == NULL) {
        attest_json(req, 500, "{}");
    } else if (strcmp(path, "/.well-known/atproto-did") == 0) {
        attest_json(req, 200, DID);
    } else if (strcmp(path, "/" DID) == 0) {
        snprintf(doc, sizeof(doc),
                 "{\"id\":\"" DID "\",\"alsoKnownAs\":[\"at://alice.test\"],\"service\":[{"
                 "\"id\":\"#atproto_pds\",\"type\":\"AtprotoPersonalDataServer\","
                 "\"serviceEndpoint\":\"%s\"}]}",
                 origin);
        attest_json(req, 200, doc);
    } else if (strcmp(path, "/xrpc/com.atproto.server.createSession") == 0) {
        double_session(req);
    } else {
        attest_json(req, 404, "{}");
    }
}

static void
route_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

    (void)arg;
    if (strcmp(path, "/signin/bluesky/start") == 0)
        atsignin_start(&app, req, path);
    else if (strcmp(path, "/signin/bluesky/app-password") == 0 &&
             evhttp_request_get_command(req) == EVHTTP_REQ_GET)
        atsignin_app_form(&app, req, path);
    else if (strcmp(path, "/signin/bluesky/app-password") == 0)
        atsignin_app_post(&app, req, path);
    else
        atsignin_callback(&app, req, path);
}

static void
test_handles(void)
{
    char out[254];

    ok(atsignin_handle("alice.bsky.social", out) && strcmp(out, "alice.bsky.social") == 0,
       "a handle");
    ok(atsignin_handle("  @Alice.Example.COM ", out) && strcmp(out, "alice.example.com") == 0,
       "blanks and one @ left out, lowercased");
    ok(atsignin_handle("a-b.c-d.org", out), "hyphens inside labels");
    ok(!atsignin_handle("alice", out), "one label");
    ok(!atsignin_handle("alice.", out), "an empty last label");
    ok(!atsignin_handle(".alice.test", out), "an empty first label");
    ok(!atsignin_handle("alice..test", out), "an empty label inside");
    ok(!atsignin_handle("-alice.test", out), "a label starting with a hyphen");
    ok(!atsignin_handle("alice-.test", out), "a label ending with a hyphen");
    ok(!atsignin_handle("alice.1test", out), "a TLD starting with a digit");
    ok(atsignin_handle("1alice.test", out), "another label may");
    ok(!atsignin_handle("al_ice.test", out), "an underscore");
    ok(!atsignin_handle("alice@host.test", out), "an address is not a handle");
    ok(!atsignin_handle("did:plc:abc", out), "a DID is not a handle");
    {
        char longer[300];

        memset(longer, 'a', sizeof(longer));
        longer[63] = '.';
        longer[255] = '\0';
        ok(!atsignin_handle(longer, out), "over 253 characters");
        memset(longer, 'a', 64);
        strcpy(longer + 64, ".test");
        ok(!atsignin_handle(longer, out), "a label over 63 characters");
    }
}

/* A stored state as the start leaves it, for browser BROWSER, expiring in ttl seconds. */
static void
store_state(int ttl)
{
    char hash[67], bhash[67], ad[256], vn[SEAL_NONCE_BYTEA], dn[SEAL_NONCE_BYTEA];
    char *vct = NULL, *dct = NULL;
    struct jose_key *k = jose_key_generate(NULL, 0);
    char *jwk = jose_key_jwk(k, 1);

    token_sha256_bytea(STATE, hash);
    token_sha256_bytea(BROWSER, bhash);
    snprintf(ad, sizeof(ad), "atsignin:%s:verifier", DID);
    seal_to_bytea(app.seal, ad, "verifier-verifier-verifier-verifier-verif", &vct, vn);
    snprintf(ad, sizeof(ad), "atsignin:%s:dpop", DID);
    seal_to_bytea(app.seal, ad, jwk, &dct, dn);
    pgt_exec(
        "INSERT INTO atproto_states (hash, browser_hash, did, handle, pds_url, issuer,"
        " token_endpoint, verifier, verifier_nonce, dpop_key, dpop_key_nonce, created_at,"
        " expires_at) VALUES ('%s', '%s', '" DID "', 'alice.test', '%s', '%s', '%s/oauth/token',"
        " '%s', '%s', '%s', '%s', now() - interval '20 minutes', now() + %d * interval '1 second')",
        hash, bhash, origin, origin, origin, vct, vn, dct, dn, ttl);
    free(vct);
    free(dct);
    seal_wipe_free(jwk);
    jose_key_free(k);
}

/* The callback with query and the pre-session cookie browser (NULL: none). */
static void
callback(const char *query, const char *browser, struct pgt_answer *a)
{
    char path[512], cookie[160];
    const char *lines[2] = { NULL, NULL };

    snprintf(path, sizeof(path), "/signin/bluesky/callback?%s", query);
    if (browser != NULL) {
        snprintf(cookie, sizeof(cookie), "Cookie: __Host-passerelle_signin=%s", browser);
        lines[0] = cookie;
    }
    pgt_ask(port, EVHTTP_REQ_GET, path, lines, NULL, 0, a);
}

static int
nothing_written(void)
{
    return pgt_num("SELECT count(*) FROM members") == 0 &&
           pgt_num("SELECT count(*) FROM atproto_grants") == 0 &&
           pgt_num("SELECT count(*) FROM sessions") == 0;
}

static void
test_refusals(void)
{
    struct pgt_answer a;
    char q[512];

    pgt_ask(port, EVHTTP_REQ_GET, "/signin/bluesky/start?handle=not%20a%20handle", NULL, NULL, 0,
            &a);
    is_int(a.status, 400, "a malformed handle: 400");
    ok(strstr(a.ctype, "text/html") != NULL && strstr(a.body, "signin-error") != NULL,
       "the refusal page");
    pgt_ask(port, EVHTTP_REQ_GET, "/signin/bluesky/start", NULL, NULL, 0, &a);
    is_int(a.status, 400, "no handle: 400");
    {
        struct seal *kept = app.seal;

        app.seal = NULL;
        pgt_ask(port, EVHTTP_REQ_GET, "/signin/bluesky/start?handle=alice.test", NULL, NULL, 0, &a);
        is_int(a.status, 503, "without token_key_file: 503");
        app.seal = kept;
    }

    snprintf(q, sizeof(q), "state=%s&iss=%s&code=cod-1", STATE, origin);
    callback(q, BROWSER, &a);
    is_int(a.status, 400, "an unknown state: 400");
    callback("code=cod-1", BROWSER, &a);
    is_int(a.status, 400, "no state: 400");

    store_state(600);
    callback(q, "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0", &a);
    is_int(a.status, 403, "another browser: 403");
    ok(strstr(a.cookie, "passerelle_signin=;") != NULL, "its pre-session cookie is cleared");
    is_int(pgt_num("SELECT count(*) FROM atproto_states"), 0, "the state is spent");
    callback(q, BROWSER, &a);
    is_int(a.status, 400, "then the right browser is too late: 400");

    store_state(600);
    callback(q, NULL, &a);
    is_int(a.status, 403, "no pre-session cookie: 403");

    store_state(-60);
    callback(q, BROWSER, &a);
    is_int(a.status, 400, "an expired state: 400");

    store_state(600);
    snprintf(q, sizeof(q), "state=%s&iss=%s&error=access_denied", STATE, origin);
    callback(q, BROWSER, &a);
    is_int(a.status, 400, "refused at the server: 400");

    store_state(600);
    snprintf(q, sizeof(q), "state=%s&iss=https%%3A%%2F%%2Fmallory.example&code=cod-1", STATE);
    callback(q, BROWSER, &a);
    is_int(a.status, 400, "an answer naming another issuer: 400");
    is_int(pgt_num("SELECT count(*) FROM atproto_states"), 0, "spent too");

    store_state(600);
    snprintf(q, sizeof(q), "state=%s&code=cod-1", STATE);
    callback(q, BROWSER, &a);
    is_int(a.status, 400, "an answer naming no issuer: 400");

    ok(nothing_written(), "no member, grant or session was written");
    is_int(network_calls, 0, "no code was sent anywhere");
}

static void
test_app_password(void)
{
    static const char *const same[] = { "Origin: https://bridge.example",
                                        "Content-Type: application/x-www-form-urlencoded", NULL };
    static const char *const other[] = { "Origin: https://elsewhere.example",
                                         "Content-Type: application/x-www-form-urlencoded", NULL };
    static const char *const json[] = { "Origin: https://bridge.example",
                                        "Content-Type: application/json", NULL };
    static const char form[] = "handle=alice.test&password=abcd-efgh-ijkl-mnop";
    struct pgt_answer a;

    pgt_ask(port, EVHTTP_REQ_GET, "/signin/bluesky/app-password?handle=Alice.Test", NULL, NULL, 0,
            &a);
    is_int(a.status, 200, "the form");
    ok(strstr(a.body, "value=\"alice.test\"") != NULL, "the handle filled in, lowercased");
    ok(strstr(a.body, "type=\"password\"") != NULL, "a password field");
    pgt_ask(port, EVHTTP_REQ_GET, "/signin/bluesky/app-password?handle=%22%3E%3Cscript%3E", NULL,
            NULL, 0, &a);
    ok(a.status == 200 && strstr(a.body, "<script>") == NULL &&
           strstr(a.body, "value=\"\"") != NULL,
       "anything but a handle is left out");

    pgt_ask(port, EVHTTP_REQ_POST, "/signin/bluesky/app-password", other, form, strlen(form), &a);
    is_int(a.status, 403, "another site's form: 403");
    pgt_ask(port, EVHTTP_REQ_POST, "/signin/bluesky/app-password", json, form, strlen(form), &a);
    is_int(a.status, 400, "not a form: 400");
    pgt_ask(port, EVHTTP_REQ_POST, "/signin/bluesky/app-password", same, "handle=alice.test", 17,
            &a);
    is_int(a.status, 400, "no password: 400");
    pgt_ask(port, EVHTTP_REQ_POST, "/signin/bluesky/app-password", same, "handle=x&password=y", 19,
            &a);
    is_int(a.status, 400, "not a handle: 400");
    ok(nothing_written(), "nothing written");
    is_int(network_calls, 0, "no password was sent anywhere");

    /* Two tries an hour from this address: the third is refused before anything is asked. */
    app.app_password_tries = ratelimit_new(2, 3600);
    pgt_ask(port, EVHTTP_REQ_POST, "/signin/bluesky/app-password", same, form, strlen(form), &a);
    is_int(a.status, 503, "a first try (here: no identity resolver, 503)");
    pgt_ask(port, EVHTTP_REQ_POST, "/signin/bluesky/app-password", same, form, strlen(form), &a);
    is_int(a.status, 503, "a second try");
    pgt_ask(port, EVHTTP_REQ_POST, "/signin/bluesky/app-password", same, form, strlen(form), &a);
    is_int(a.status, 429, "a third try from the same address within the hour: 429");
    ok(strstr(a.body, "signin-error") != NULL, "the refusal page");
    pgt_ask(port, EVHTTP_REQ_POST, "/signin/bluesky/app-password", same, "handle=x&password=y", 19,
            &a);
    is_int(a.status, 400, "a malformed form is refused before it is counted");
    ok(nothing_written(), "nothing written");
    is_int(network_calls, 0, "nothing asked");
    ratelimit_free(app.app_password_tries);
    app.app_password_tries = NULL;
}

/* A PDS that answers with another account's session: refused, nothing kept. */
static void
test_app_password_other_did(void)
{
    static const char *const same[] = { "Origin: https://bridge.example",
                                        "Content-Type: application/x-www-form-urlencoded", NULL };
    static const char form[] = "handle=alice.test&password=abcd-efgh-ijkl-mnop";
    struct identity_options o = { .dns_server = "127.0.0.1:9",
                                  .plc_url = origin,
                                  .handle_origin = origin,
                                  .allow_private = 1,
                                  .timeout_ms = 2000 };
    struct pgt_answer a;
    char err[200];

    app.identity = identity_new(pgt_base, &o, err, sizeof(err));
    ok(app.identity != NULL, "a resolver on the double (%s)", err);
    session_did = DID;
    pgt_ask(port, EVHTTP_REQ_POST, "/signin/bluesky/app-password", same, form, strlen(form), &a);
    ok(strstr(session_body, "\"identifier\":\"" DID "\"") != NULL,
       "createSession asked for the DID resolved (%s)", session_body);
    is_int(a.status, 303, "its session: signed in");
    is_int(pgt_num("SELECT count(*) FROM atproto_grants WHERE kind = 'app_password' AND"
                   " access_token IS NULL AND refresh_token IS NOT NULL"),
           1, "only the refresh token kept");
    ok(strstr(pgt_str("SELECT encode(refresh_token, 'escape') FROM atproto_grants"), "r.e.f") ==
           NULL,
       "sealed");
    pgt_exec("DELETE FROM members");
    pgt_exec("DELETE FROM sessions");

    session_did = "did:plc:mallorymmmmmmmmmmmmmmmmm";
    pgt_ask(port, EVHTTP_REQ_POST, "/signin/bluesky/app-password", same, form, strlen(form), &a);
    is_int(a.status, 403, "a session of another DID: 403");
    ok(nothing_written(), "nothing written");
    session_did = NULL;
    identity_free(app.identity);
    app.identity = NULL;
}

int
main(void)
{
    struct evhttp *http;

    attest_setup(&app, "atsignin", double_cb, origin, sizeof(origin), 2, 3);
    port = pgt_listen(&http, route_cb, NULL);
    if (port < 0)
        pgt_bail("cannot listen");
    test_handles();
    test_refusals();
    test_app_password();
    test_app_password_other_did();
    evhttp_free(http);
    attest_teardown(&app);
    return done_testing();
}
