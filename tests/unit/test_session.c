/* Tests of session against a loopback server: createSession and refreshSession answers mapped
 * to statuses, a call refreshed once on ExpiredToken, the JWT's exp, the sealed refresh token. */
#include <stdlib.h>
#include <string.h>

#include "jose.h"
#include "seal.h"
#include "session.h"
#include "tap.h"
#include "xrpctest.h"

#define DID "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
/* An access token the server below refuses as expired; its claims ({}) have no exp. */
#define ACCESS_OLD "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJIUzI1NiJ9.e30.old"
/* The claims of the fresh access token the server hands out. */
#define CLAIMS                                                                                     \
    "{\"scope\":\"com.atproto.access\",\"sub\":\"" DID "\",\"iat\":1700000000,\"exp\":1700007200}"

/* How the server answers createSession and refreshSession this time. */
static int mode;
static int calls, refreshes;
static char last_auth[200], last_body[300];
static char access_new[200];

static void
pair(struct evhttp_request *req)
{
    char body[600];

    snprintf(body, sizeof(body),
             "{\"did\":\"" DID "\",\"handle\":\"alice.test\",\"accessJwt\":\"%s\","
             "\"refreshJwt\":\"refresh-2\",\"active\":true}",
             access_new);
    xt_reply(req, 200, body, NULL);
}

static void
handler(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

    (void)arg;
    snprintf(last_auth, sizeof(last_auth), "%s", auth != NULL ? auth : "");
    xt_body(req, last_body, sizeof(last_body));
    if (strcmp(uri, "/xrpc/com.atproto.server.createSession") == 0 ||
        strcmp(uri, "/xrpc/com.atproto.server.refreshSession") == 0) {
        refreshes += strstr(uri, "refresh") != NULL;
        switch (mode) {
        case 0:
            pair(req);
            break;
        case 1:
            xt_reply(req, 401,
                     "{\"error\":\"AuthenticationRequired\",\"message\":\"Invalid identifier or "
                     "password\"}",
                     NULL);
            break;
        case 2:
            xt_reply(req, 429, "{\"error\":\"RateLimitExceeded\"}", "Retry-After: 288", NULL);
            break;
        case 3:
            xt_reply(req, 503, "{\"error\":\"Unavailable\"}", NULL);
            break;
        case 4:
            xt_reply(req, 200, "{\"did\":\"" DID "\",\"accessJwt\":\"a\"}", NULL);
            break;
        case 5:
            xt_reply(req, 400, "{\"error\":\"ExpiredToken\",\"message\":\"Token has expired\"}",
                     NULL);
            break;
        }
        return;
    }
    /* A resource: the old access token has expired, the new one works. */
    calls++;
    if (auth != NULL && strstr(auth, access_new) != NULL)
        xt_reply(req, 200, "{\"did\":\"" DID "\"}", NULL);
    else
        xt_reply(req, 400, "{\"error\":\"ExpiredToken\",\"message\":\"Token has expired\"}", NULL);
}

struct got {
    int done;
    enum session_status st;
    char did[64], handle[64], access[200], refresh[64], error[200];
    long long exp;
    long retry_after;
    int answered;
    long status;
};

static void
on_session(const struct session_result *r, void *arg)
{
    struct got *g = arg;

    g->done++;
    g->st = r->status;
    snprintf(g->did, sizeof(g->did), "%s", r->did ? r->did : "");
    snprintf(g->handle, sizeof(g->handle), "%s", r->handle ? r->handle : "");
    snprintf(g->access, sizeof(g->access), "%s", r->access_jwt ? r->access_jwt : "");
    snprintf(g->refresh, sizeof(g->refresh), "%s", r->refresh_jwt ? r->refresh_jwt : "");
    snprintf(g->error, sizeof(g->error), "%s", r->error);
    g->exp = r->access_exp;
    g->retry_after = r->retry_after;
}

static void
on_call(const struct xrpc_result *r, const struct session_result *refreshed, void *arg)
{
    struct got *g = arg;

    if (refreshed != NULL)
        on_session(refreshed, arg);
    else
        g->done++;
    g->answered = r != NULL;
    g->status = r != NULL ? r->status : 0;
}

static struct event_base *base;
static struct httpc *client;
static char origin[64];

static void
test_create_refresh(void)
{
    static const struct {
        int mode;
        enum session_status create, refresh;
        const char *what;
    } cases[] = {
        { 1, SESSION_REFUSED, SESSION_EXPIRED, "401" },
        { 2, SESSION_RATE_LIMITED, SESSION_RATE_LIMITED, "429" },
        { 3, SESSION_UNAVAILABLE, SESSION_UNAVAILABLE, "503" },
        { 4, SESSION_INVALID, SESSION_INVALID, "200 without tokens" },
        { 5, SESSION_REFUSED, SESSION_EXPIRED, "400 ExpiredToken" },
    };
    struct got g = { 0 };

    mode = 0;
    session_create(client, origin, "alice.test", "app-pass \"word\"", on_session, &g);
    ok(g.done == 0, "no callback inside session_create");
    xt_wait(base, &g.done);
    ok(g.st == SESSION_OK, "createSession: ok (%s)", g.error);
    is_str(g.did, DID, "did");
    is_str(g.handle, "alice.test", "handle");
    is_str(g.refresh, "refresh-2", "refresh token");
    ok(g.exp == 1700007200, "exp read from the access token");
    is_str(last_body, "{\"identifier\":\"alice.test\",\"password\":\"app-pass \\\"word\\\"\"}",
           "the body: identifier and password, escaped");
    is_str(last_auth, "", "no Authorization on createSession");

    memset(&g, 0, sizeof(g));
    session_refresh(client, origin, "refresh-1", on_session, &g);
    xt_wait(base, &g.done);
    ok(g.st == SESSION_OK && strcmp(g.refresh, "refresh-2") == 0, "refreshSession: a new pair");
    is_str(last_auth, "Bearer refresh-1", "refreshSession sends the refresh token as Bearer");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mode = cases[i].mode;
        memset(&g, 0, sizeof(g));
        session_create(client, origin, "alice.test", "x", on_session, &g);
        xt_wait(base, &g.done);
        ok(g.st == cases[i].create && g.refresh[0] == '\0', "createSession %s: %s (%s)",
           cases[i].what, session_status_name(g.st), g.error);
        if (cases[i].mode == 2)
            ok(g.retry_after == 288, "Retry-After given");
        memset(&g, 0, sizeof(g));
        session_refresh(client, origin, "refresh-1", on_session, &g);
        xt_wait(base, &g.done);
        ok(g.st == cases[i].refresh, "refreshSession %s: %s", cases[i].what,
           session_status_name(g.st));
    }
}

static void
test_call(void)
{
    struct xrpc_call c = { .method = "GET", .nsid = "com.atproto.server.getSession" };
    struct got g = { 0 };

    mode = 0;
    calls = refreshes = 0;
    session_call(client, origin, ACCESS_OLD, "refresh-1", &c, on_call, &g);
    xt_wait(base, &g.done);
    ok(g.answered && g.status == 200 && calls == 2 && refreshes == 1,
       "expired -> refreshed once -> the call again -> 200");
    ok(g.st == SESSION_OK && strcmp(g.refresh, "refresh-2") == 0 &&
           strcmp(g.access, access_new) == 0,
       "the new pair handed to the caller");

    memset(&g, 0, sizeof(g));
    calls = refreshes = 0;
    session_call(client, origin, access_new, "refresh-2", &c, on_call, &g);
    xt_wait(base, &g.done);
    ok(g.answered && g.status == 200 && calls == 1 && refreshes == 0 && g.refresh[0] == '\0',
       "a live token: one call, no refresh");

    memset(&g, 0, sizeof(g));
    calls = refreshes = 0;
    session_call(client, origin, NULL, "refresh-1", &c, on_call, &g);
    xt_wait(base, &g.done);
    ok(g.answered && g.status == 200 && refreshes == 1 && calls == 1,
       "no access token: refresh first");

    mode = 5;
    memset(&g, 0, sizeof(g));
    calls = refreshes = 0;
    session_call(client, origin, ACCESS_OLD, "refresh-1", &c, on_call, &g);
    xt_wait(base, &g.done);
    ok(!g.answered && g.st == SESSION_EXPIRED && calls == 1 && refreshes == 1,
       "the refresh refused: no answer, expired (ask the member again)");
}

static void
test_pure(void)
{
    unsigned char key[SEAL_KEY_BYTES] = { 1, 2, 3 };
    struct seal *s = seal_from_bytes(key);
    char nonce[SEAL_NONCE_BYTEA], ad[100], *ct = NULL, *back;

    ok(session_jwt_exp(access_new) == 1700007200, "exp of a JWT");
    ok(session_jwt_exp("abc") == -1 && session_jwt_exp(NULL) == -1 &&
           session_jwt_exp("a.!.b") == -1,
       "not a JWT: -1");
    ok(session_jwt_exp(ACCESS_OLD) == -1, "a JWT without exp: -1");
    session_ad(DID, ad, sizeof(ad));
    is_str(ad, "atproto-session:" DID, "the associated data");
    ok(session_seal(s, DID, "refresh-2", &ct, nonce) == 0 && strstr(ct, "refresh") == NULL,
       "sealed");
    back = session_unseal(s, DID, ct, nonce);
    is_str(back, "refresh-2", "unsealed for its DID");
    seal_wipe_free(back);
    ok(session_unseal(s, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", ct, nonce) == NULL,
       "not for another DID's row");
    free(ct);
    seal_free(s);
}

int
main(void)
{
    struct evhttp *http;
    char *claims = jose_b64url(CLAIMS, strlen(CLAIMS));

    snprintf(access_new, sizeof(access_new), "eyJhbGciOiJIUzI1NiJ9.%s.sig", claims);
    free(claims);
    base = event_base_new();
    http = xt_server(base, handler, NULL, origin);
    client = xt_client(base);
    test_create_refresh();
    test_call();
    test_pure();
    httpc_free(client);
    evhttp_free(http);
    event_base_free(base);
    return done_testing();
}
