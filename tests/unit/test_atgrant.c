/*
 * Tests of atgrant.c on a real PostgreSQL, against a double of an authorization server whose
 * refresh tokens are single use as the reference server's are (a replayed one ends the
 * session): a fresh token used as it is, an expired one refreshed once, two uses at once
 * sharing one refresh, a refusal deleting the grant, an app password's refreshSession, and a
 * dropped grant revoked at the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "app.h"
#include "atclient.h"
#include "atgrant.h"
#include "config.h"
#include "dbtx.h"
#include "httpc.h"
#include "jose.h"
#include "attest.h"
#include "pgtest.h"
#include "seal.h"
#include "tap.h"
#include "xmalloc.h"

#define DID "did:plc:aliceaaaaaaaaaaaaaaaaaaa"

static struct app app;
static char origin[64];
static char member[24];
static int refresh_calls, revoke_calls, session_calls, replayed;
static int generation = 1;      /* the server's current refresh token is refresh-<generation> */
static char revoked_token[256]; /* what /oauth/revoke was given */
static char session_auth[512];  /* what refreshSession was given */

/* The value of field name in a form body, into out. */
static void
form_value(const char *form, const char *name, char *out, size_t len)
{
    struct evkeyvalq q;
    const char *v;

    TAILQ_INIT(&q);
    evhttp_parse_query_str(form, &q);
    v = evhttp_find_header(&q, name);
    snprintf(out, len, "%s", v != NULL ? v : "");
    evhttp_clear_headers(&q);
}

static void
double_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    char form[8192], token[256], want[64], body[1024];
    size_t n = evbuffer_get_length(in);

    (void)arg;
    if (n >= sizeof(form))
        n = sizeof(form) - 1;
    evbuffer_copyout(in, form, n);
    form[n] = '\0';
    if (strcmp(path, "/oauth/token") == 0) {
        refresh_calls++;
        form_value(form, "refresh_token", token, sizeof(token));
        snprintf(want, sizeof(want), "refresh-%d", generation);
        evhttp_add_header(evhttp_request_get_output_headers(req), "DPoP-Nonce", "as-nonce-2");
        if (strcmp(token, want) != 0) {
            replayed++;
            attest_json(req, 400,
                        "{\"error\":\"invalid_grant\",\"error_description\":"
                        "\"Refresh token replayed\"}");
            return;
        }
        generation++;
        snprintf(body, sizeof(body),
                 "{\"access_token\":\"access-%d\",\"token_type\":\"DPoP\",\"refresh_token\":"
                 "\"refresh-%d\",\"scope\":\"atproto repo:app.bsky.graph.follow\",\"sub\":\"" DID
                 "\",\"expires_in\":3600}",
                 generation, generation);
        attest_json(req, 200, body);
    } else if (strcmp(path, "/oauth/revoke") == 0) {
        revoke_calls++;
        form_value(form, "token", revoked_token, sizeof(revoked_token));
        attest_json(req, 200, "{}");
    } else if (strcmp(path, "/xrpc/com.atproto.server.refreshSession") == 0) {
        const char *auth =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
        char *payload = jose_b64url("{\"exp\":4000000000,\"sub\":\"" DID "\"}",
                                    strlen("{\"exp\":4000000000,\"sub\":\"" DID "\"}"));

        session_calls++;
        snprintf(session_auth, sizeof(session_auth), "%s", auth != NULL ? auth : "");
        snprintf(body, sizeof(body),
                 "{\"accessJwt\":\"eyJhbGciOiJIUzI1NiJ9.%s.c2ln\",\"refreshJwt\":\"app-refresh-2\","
                 "\"handle\":\"alice.test\",\"did\":\"" DID "\"}",
                 payload);
        free(payload);
        attest_json(req, 200, body);
    } else if (strcmp(path, "/xrpc/com.atproto.server.deleteSession") == 0) {
        const char *auth =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

        revoke_calls++;
        snprintf(revoked_token, sizeof(revoked_token), "%s", auth != NULL ? auth : "");
        attest_json(req, 200, "{}");
    } else {
        attest_json(req, 404, "{}");
    }
}

static void
stored_cb(enum db_outcome outcome, const char *err, void *arg)
{
    (void)err;
    *(int *)arg = outcome == DB_OK ? 1 : -1;
}

/*
 * A new grant of member_id through a transaction: an OAuth grant (access-<gen>, refresh-<gen>,
 * expiring in ttl seconds) or an app password's session; then, when fail, a statement that
 * rolls it back. What it replaced is ended as the sign-in does, committed or not.
 */
static void
replace_grant(const char *member_id, int oauth, int fail, long long ttl)
{
    struct jose_key *k = jose_key_generate(NULL, 0);
    char *jwk = jose_key_jwk(k, 1), access[32], refresh[32], token_ep[128], revoke[128];
    struct atgrant_new n = { .member_id = member_id,
                             .did = DID,
                             .pds_url = origin,
                             .issuer = origin,
                             .token_endpoint = token_ep,
                             .revocation_endpoint = revoke,
                             .scope = "atproto repo:app.bsky.graph.follow",
                             .access_token = access,
                             .refresh_token = refresh,
                             .expires_in = ttl,
                             .dpop_jwk = jwk,
                             .as_nonce = "as-nonce-1" };
    struct atgrant_replaced *old = NULL;
    struct dbtx *tx;
    int done = 0;

    snprintf(access, sizeof(access), "access-%d", generation);
    snprintf(refresh, sizeof(refresh), "refresh-%d", generation);
    snprintf(token_ep, sizeof(token_ep), "%s/oauth/token", origin);
    snprintf(revoke, sizeof(revoke), "%s/oauth/revoke", origin);
    tx = dbtx_new(app.db, stored_cb, &done);
    if (oauth)
        ok(atgrant_push_oauth(tx, &app, &n, &old) == 0, "OAuth grant sealed");
    else
        ok(atgrant_push_app_password(tx, &app, member_id, DID, origin, "app-refresh-9", &old) == 0,
           "app password sealed");
    if (fail)
        dbtx_push(tx, "SELECT 1 / 0", NULL, NULL, 0);
    dbtx_run(tx);
    PGT_SPIN(done != 0, 5);
    is_int(done, fail ? -1 : 1, fail ? "rolled back" : "stored");
    atgrant_replaced_end(&app, old, done == 1);
    seal_wipe_free(jwk);
    jose_key_free(k);
}

/* A new OAuth grant for the member (none before it). */
static void
store_grant(long long ttl)
{
    replace_grant(member, 1, 0, ttl);
}

struct use {
    int done;
    char why[32];
    char access[64];
    int refreshed;
};

static void
use_cb(struct atgrant *g, const char *why, void *arg)
{
    struct use *u = arg;

    u->done++;
    snprintf(u->why, sizeof(u->why), "%s", why);
    if (g != NULL) {
        snprintf(u->access, sizeof(u->access), "%s", g->access_token);
        u->refreshed = g->refreshed;
        if (strcmp(g->kind, "oauth") == 0)
            ok(g->dpop != NULL && jose_key_has_private(g->dpop), "the DPoP key comes along");
        else
            ok(g->dpop == NULL, "an app password has no DPoP key");
    }
    atgrant_free(g);
}

static void
test_fresh(void)
{
    struct use u = { 0 };

    store_grant(3600);
    ok(pgt_num("SELECT count(*) FROM atproto_grants WHERE position('access-1'::bytea IN"
               " access_token) > 0 OR position('refresh-1'::bytea IN refresh_token) > 0") == 0,
       "tokens are not stored in the clear");
    atgrant_use(&app, member, use_cb, &u);
    PGT_SPIN(u.done, 5);
    is_str(u.why, "", "a grant");
    is_str(u.access, "access-1", "the stored access token");
    is_int(refresh_calls, 0, "no refresh for a fresh token");
}

static void
test_expired(void)
{
    struct use u = { 0 };

    pgt_exec("UPDATE atproto_grants SET access_expires_at = now() - interval '1 minute'");
    atgrant_use(&app, member, use_cb, &u);
    PGT_SPIN(u.done, 5);
    is_str(u.why, "", "a grant");
    is_int(refresh_calls, 1, "one refresh");
    is_str(u.access, "access-2", "the new access token");
    ok(u.refreshed, "marked refreshed");
    is_str(pgt_str("SELECT as_dpop_nonce FROM atproto_grants"), "as-nonce-2",
           "the server's new nonce is kept");
    is_int(pgt_num("SELECT count(*) FROM atproto_grants WHERE refresh_lease IS NULL"
                   " AND access_expires_at > now() + interval '50 minutes'"),
           1, "lease released, the new expiry stored");
}

static void
test_concurrent(void)
{
    struct use u[3] = { { 0 } };

    pgt_exec("UPDATE atproto_grants SET access_expires_at = now() - interval '1 minute'");
    refresh_calls = 0;
    for (int i = 0; i < 3; i++)
        atgrant_use(&app, member, use_cb, &u[i]);
    PGT_SPIN(u[0].done && u[1].done && u[2].done, 10);
    is_int(refresh_calls, 1, "three uses at once: one refresh");
    is_int(replayed, 0, "no refresh token was replayed");
    for (int i = 0; i < 3; i++)
        is_str(u[i].access, "access-3", "use %d has the new token", i);
    is_int(u[0].refreshed + u[1].refreshed + u[2].refreshed, 1, "one of them refreshed");

    /* The same with the lease held by another process: this one waits, then reads its result. */
    memset(u, 0, sizeof(u));
    refresh_calls = 0;
    pgt_exec("UPDATE atproto_grants SET access_expires_at = now() - interval '1 minute',"
             " refresh_lease = 'other', refresh_until = now() + interval '30 seconds'");
    atgrant_use(&app, member, use_cb, &u[0]);
    PGT_SPIN(0, 0.5);
    is_int(u[0].done, 0, "waits while another process refreshes");
    pgt_exec("UPDATE atproto_grants SET access_expires_at = now() + interval '1 hour',"
             " refresh_lease = NULL, refresh_until = NULL");
    PGT_SPIN(u[0].done, 5);
    is_str(u[0].why, "", "then uses the stored token");
    is_int(refresh_calls, 0, "without refreshing it again");
}

static void
test_refused(void)
{
    struct use u = { 0 };

    pgt_exec("UPDATE atproto_grants SET access_expires_at = now() - interval '1 minute'");
    generation += 5; /* the server no longer knows our refresh token (revoked there) */
    atgrant_use(&app, member, use_cb, &u);
    PGT_SPIN(u.done, 5);
    is_str(u.why, "revoked", "a refused refresh: revoked");
    is_int(pgt_num("SELECT count(*) FROM atproto_grants"), 0, "the grant is deleted");
    is_int(pgt_num("SELECT count(*) FROM members WHERE id = %s", member), 1, "the member stays");
    memset(&u, 0, sizeof(u));
    atgrant_use(&app, member, use_cb, &u);
    PGT_SPIN(u.done, 5);
    is_str(u.why, "none", "then there is none");
}

static void
dropped_cb(int okay, int had, void *arg)
{
    int *r = arg;

    r[0] = 1;
    r[1] = okay;
    r[2] = had;
}

static void
test_drop(void)
{
    int r[3] = { 0 };
    char want[32];

    store_grant(3600);
    snprintf(want, sizeof(want), "refresh-%d", generation);
    revoke_calls = 0;
    atgrant_drop(&app, member, dropped_cb, r);
    PGT_SPIN(revoke_calls == 1, 5);
    ok(r[0] && r[1] && r[2], "dropped, there was a grant");
    is_int(pgt_num("SELECT count(*) FROM atproto_grants"), 0, "deleted here");
    is_int(revoke_calls, 1, "and revoked at the server");
    is_str(revoked_token, want, "its refresh token");
    memset(r, 0, sizeof(r));
    atgrant_drop(&app, member, dropped_cb, r);
    PGT_SPIN(r[0], 5);
    ok(r[1] && !r[2], "dropping again: nothing there");
}

static void
test_app_password(void)
{
    char ct[2][512], nonce[2][SEAL_NONCE_BYTEA], ad[256], *c = NULL;
    struct use u = { 0 };

    atgrant_ad(member, DID, "refresh", ad, sizeof(ad));
    seal_to_bytea(app.seal, ad, "app-refresh-1", &c, nonce[0]);
    snprintf(ct[0], sizeof(ct[0]), "%s", c);
    free(c);
    atgrant_ad(member, DID, "access", ad, sizeof(ad));
    seal_to_bytea(app.seal, ad, "app-access-1", &c, nonce[1]);
    snprintf(ct[1], sizeof(ct[1]), "%s", c);
    free(c);
    pgt_exec("INSERT INTO atproto_grants (member_id, did, kind, pds_url, refresh_token,"
             " refresh_nonce, access_token, access_nonce, access_expires_at) VALUES (%s, '" DID
             "', 'app_password', '%s', '%s', '%s', '%s', '%s', now() - interval '1 minute')",
             member, origin, ct[0], nonce[0], ct[1], nonce[1]);
    session_calls = 0;
    atgrant_use(&app, member, use_cb, &u);
    PGT_SPIN(u.done, 5);
    is_int(session_calls, 1, "an app password's session is refreshed with refreshSession");
    is_str(session_auth, "Bearer app-refresh-1", "authorised by its refresh JWT");
    ok(strncmp(u.access, "eyJhbGciOiJIUzI1NiJ9.", 21) == 0, "the new access JWT");
    is_int(pgt_num("SELECT count(*) FROM atproto_grants WHERE access_expires_at >"
                   " '2096-01-01'::timestamptz"),
           1, "its expiry read from the JWT");
    revoke_calls = 0;
    atgrant_drop(&app, member, NULL, NULL);
    PGT_SPIN(revoke_calls == 1, 5);
    is_str(revoked_token, "Bearer app-refresh-2", "leaving ends the session (deleteSession)");
}

static void
test_replaced(void)
{
    char want[32], other[24];

    /* Signed in with OAuth, then with an app password: the OAuth grant is revoked there. */
    store_grant(3600);
    snprintf(want, sizeof(want), "refresh-%d", generation);
    revoke_calls = 0;
    replace_grant(member, 0, 0, 3600);
    PGT_SPIN(revoke_calls == 1, 5);
    is_int(revoke_calls, 1, "the replaced OAuth grant is revoked");
    is_str(revoked_token, want, "its refresh token, at the revocation endpoint");
    is_str(pgt_str("SELECT kind FROM atproto_grants WHERE member_id = %s", member), "app_password",
           "the app password is stored");

    /* A replacement that does not commit revokes nothing: the old grant is still the one. */
    revoke_calls = 0;
    replace_grant(member, 1, 1, 3600);
    PGT_SPIN(0, 0.3);
    is_int(revoke_calls, 0, "a rolled back replacement revokes nothing");
    is_str(pgt_str("SELECT kind FROM atproto_grants WHERE member_id = %s", member), "app_password",
           "and the old grant stays");

    /* Then with OAuth again: the app password's session is deleted at the PDS. */
    replace_grant(member, 1, 0, 3600);
    PGT_SPIN(revoke_calls == 1, 5);
    is_str(revoked_token, "Bearer app-refresh-9", "the replaced session ends (deleteSession)");

    /* Another member of the same DID: the first one's grant goes, revoked too. */
    snprintf(want, sizeof(want), "refresh-%d", generation);
    snprintf(other, sizeof(other), "%lld",
             pgt_num("INSERT INTO members (actor_uri, acct, host, network) VALUES"
                     " ('did:plc:other', 'other.test', '127.0.0.1', 'atproto') RETURNING id"));
    revoke_calls = 0;
    replace_grant(other, 0, 0, 3600);
    PGT_SPIN(revoke_calls == 1, 5);
    is_str(revoked_token, want, "the grant another member of the DID held is revoked");
    is_int(pgt_num("SELECT count(*) FROM atproto_grants WHERE member_id = %s", member), 0,
           "and deleted");

    /* Nothing replaced: nothing revoked. */
    pgt_exec("DELETE FROM atproto_grants");
    revoke_calls = 0;
    replace_grant(member, 0, 0, 3600);
    PGT_SPIN(0, 0.3);
    is_int(revoke_calls, 0, "a first grant revokes nothing");
    pgt_exec("DELETE FROM atproto_grants");
    pgt_exec("DELETE FROM members WHERE id = %s", other);
}

int
main(void)
{
    attest_setup(&app, "atgrant", double_cb, origin, sizeof(origin), 4, 7);
    snprintf(member, sizeof(member), "%lld",
             pgt_num("INSERT INTO members (actor_uri, acct, host, network) VALUES ('" DID
                     "', 'alice.test', '127.0.0.1', 'atproto') RETURNING id"));

    test_fresh();
    test_expired();
    test_concurrent();
    test_refused();
    test_drop();
    test_app_password();
    test_replaced();

    attest_teardown(&app);
    return done_testing();
}
