/*
 * Tests of atlink.c on a real PostgreSQL, against a double of a PDS and its authorization
 * server: GET /link/bluesky without a grant, with one the PDS takes (DPoP-bound, or an app
 * password's bearer token) and with one it refuses; POST /link/leave, which forgets the member
 * and revokes the grant at the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "app.h"
#include "atgrant.h"
#include "atlink.h"
#include "attest.h"
#include "dbtx.h"
#include "jose.h"
#include "linkpage.h"
#include "pgtest.h"
#include "seal.h"
#include "tap.h"
#include "token.h"
#include "xmalloc.h"

#define TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DID   "did:plc:aliceaaaaaaaaaaaaaaaaaaa"

static struct app app;
static char origin[64];
static char member[24];
static int port, session_calls, revoke_calls, pds_refuses;
static char last_auth[512], last_dpop[2048], revoked[256];

static void
double_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *v;

    (void)arg;
    if (strcmp(path, "/xrpc/com.atproto.server.getSession") == 0) {
        session_calls++;
        v = evhttp_find_header(in, "Authorization");
        snprintf(last_auth, sizeof(last_auth), "%s", v != NULL ? v : "");
        v = evhttp_find_header(in, "DPoP");
        snprintf(last_dpop, sizeof(last_dpop), "%s", v != NULL ? v : "");
        evhttp_add_header(evhttp_request_get_output_headers(req), "DPoP-Nonce", "pds-nonce-9");
        if (pds_refuses)
            attest_json(req, 401, "{\"error\":\"InvalidToken\",\"message\":\"Invalid token\"}");
        else
            attest_json(req, 200, "{\"did\":\"" DID "\",\"handle\":\"alice.test\"}");
    } else if (strcmp(path, "/oauth/revoke") == 0) {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(b);
        char form[8192];
        struct evkeyvalq q;

        revoke_calls++;
        if (n >= sizeof(form))
            n = sizeof(form) - 1;
        evbuffer_copyout(b, form, n);
        form[n] = '\0';
        TAILQ_INIT(&q);
        evhttp_parse_query_str(form, &q);
        v = evhttp_find_header(&q, "token");
        snprintf(revoked, sizeof(revoked), "%s", v != NULL ? v : "");
        evhttp_clear_headers(&q);
        attest_json(req, 200, "{}");
    } else {
        attest_json(req, 404, "{}");
    }
}

static void
route_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

    (void)arg;
    if (strcmp(path, "/link/leave") == 0)
        atlink_leave(&app, req, path);
    else
        atlink_check(&app, req, path);
}

static void
ask(enum evhttp_cmd_type m, const char *path, int csrf, struct pgt_answer *a)
{
    char cookie[128], hcsrf[96], c[65];
    const char *lines[3] = { cookie, NULL, NULL };

    snprintf(cookie, sizeof(cookie), "Cookie: __Host-passerelle_link=%s", TOKEN);
    if (csrf) {
        linkpage_csrf(TOKEN, c);
        snprintf(hcsrf, sizeof(hcsrf), "X-CSRF-Token: %s", c);
        lines[1] = hcsrf;
    }
    pgt_ask(port, m, path, lines, m == EVHTTP_REQ_POST ? "{}" : NULL, m == EVHTTP_REQ_POST ? 2 : 0,
            a);
}

static void
stored_cb(enum db_outcome outcome, const char *err, void *arg)
{
    (void)err;
    *(int *)arg = outcome == DB_OK ? 1 : -1;
}

static void
store_grant(void)
{
    struct jose_key *k = jose_key_generate(NULL, 0);
    char *jwk = jose_key_jwk(k, 1), token_ep[128], revoke_ep[128];
    struct atgrant_new n = { 0 };
    struct dbtx *tx;
    int done = 0;

    snprintf(token_ep, sizeof(token_ep), "%s/oauth/token", origin);
    snprintf(revoke_ep, sizeof(revoke_ep), "%s/oauth/revoke", origin);
    n.member_id = member;
    n.did = DID;
    n.pds_url = origin;
    n.issuer = origin;
    n.token_endpoint = token_ep;
    n.revocation_endpoint = revoke_ep;
    n.scope = "atproto repo:app.bsky.graph.follow";
    n.access_token = "access-1";
    n.refresh_token = "refresh-1";
    n.expires_in = 3600;
    n.dpop_jwk = jwk;
    tx = dbtx_new(app.db, stored_cb, &done);
    atgrant_push_oauth(tx, &app, &n, NULL);
    dbtx_run(tx);
    PGT_SPIN(done != 0, 5);
    seal_wipe_free(jwk);
    jose_key_free(k);
}

static void
test_check(void)
{
    struct pgt_answer a;

    pgt_ask(port, EVHTTP_REQ_GET, "/link/bluesky", NULL, NULL, 0, &a);
    is_int(a.status, 401, "without a session: 401");
    ask(EVHTTP_REQ_GET, "/link/bluesky", 0, &a);
    is_int(a.status, 200, "no grant: 200");
    ok(strstr(a.body, "\"connected\":false") != NULL, "not connected (%s)", a.body);
    is_int(session_calls, 0, "the PDS is not asked");

    store_grant();
    ask(EVHTTP_REQ_GET, "/link/bluesky", 0, &a);
    is_int(a.status, 200, "a grant: 200");
    ok(strstr(a.body, "\"connected\":true") != NULL && strstr(a.body, "\"kind\":\"oauth\"") &&
           strstr(a.body, "\"handle\":\"alice.test\""),
       "connected, as the PDS says (%s)", a.body);
    is_str(last_auth, "DPoP access-1", "the access token, DPoP-bound");
    ok(strlen(last_dpop) > 100, "with a proof");
    PGT_SPIN(pgt_num("SELECT count(*) FROM atproto_grants WHERE pds_dpop_nonce = 'pds-nonce-9'") ==
                 1,
             5);
    is_str(pgt_str("SELECT pds_dpop_nonce FROM atproto_grants"), "pds-nonce-9",
           "the PDS's nonce kept for the next request");

    pds_refuses = 1;
    ask(EVHTTP_REQ_GET, "/link/bluesky", 0, &a);
    ok(a.status == 200 && strstr(a.body, "\"connected\":false") != NULL,
       "a token the PDS refuses: not connected");
    pds_refuses = 0;

    pgt_exec("UPDATE atproto_grants SET kind = 'app_password', dpop_key = NULL,"
             " dpop_key_nonce = NULL, issuer = NULL, token_endpoint = NULL");
    ask(EVHTTP_REQ_GET, "/link/bluesky", 0, &a);
    ok(strstr(a.body, "\"connected\":true") != NULL && strstr(a.body, "\"kind\":\"app_password\""),
       "an app password's grant");
    is_str(last_auth, "Bearer access-1", "its token as a bearer token");
    is_str(last_dpop, "", "without a proof");
    pgt_exec("DELETE FROM atproto_grants");
}

static void
test_leave(void)
{
    struct pgt_answer a;

    store_grant();
    ask(EVHTTP_REQ_POST, "/link/leave", 0, &a);
    is_int(a.status, 403, "without the CSRF token: 403");
    is_int(pgt_num("SELECT count(*) FROM members"), 1, "nothing forgotten");
    ask(EVHTTP_REQ_POST, "/link/leave", 1, &a);
    is_int(a.status, 200, "left: 200");
    ok(strstr(a.body, "\"left\":true") != NULL, "{\"left\": true}");
    ok(strstr(a.cookie, "passerelle_link=;") != NULL && strstr(a.cookie, "Max-Age=0") != NULL,
       "the session cookie is cleared");
    is_int(pgt_num("SELECT count(*) FROM members"), 0, "the member is forgotten");
    is_int(pgt_num("SELECT count(*) FROM atproto_grants"), 0, "the grant too");
    is_int(pgt_num("SELECT count(*) FROM sessions"), 0, "the session too");
    PGT_SPIN(revoke_calls == 1, 5);
    is_int(revoke_calls, 1, "the grant is revoked at the server");
    is_str(revoked, "refresh-1", "its refresh token");
    ask(EVHTTP_REQ_GET, "/link/bluesky", 0, &a);
    is_int(a.status, 401, "then the session is gone");
}

int
main(void)
{
    struct evhttp *http;
    char hash[67], csrf[65], chash[67];

    attest_setup(&app, "atlink", double_cb, origin, sizeof(origin), 2, 4);
    port = pgt_listen(&http, route_cb, NULL);
    if (port < 0)
        pgt_bail("cannot listen");
    snprintf(member, sizeof(member), "%lld",
             pgt_num("INSERT INTO members (actor_uri, acct, host, network) VALUES ('" DID
                     "', 'alice.test', '127.0.0.1', 'atproto') RETURNING id"));
    token_sha256_bytea(TOKEN, hash);
    linkpage_csrf(TOKEN, csrf);
    token_sha256_bytea(csrf, chash);
    pgt_exec("INSERT INTO sessions (hash, member_id, csrf_hash, expires_at) VALUES "
             "('%s', %s, '%s', now() + interval '1 hour')",
             hash, member, chash);
    test_check();
    test_leave();
    evhttp_free(http);
    attest_teardown(&app);
    return done_testing();
}
