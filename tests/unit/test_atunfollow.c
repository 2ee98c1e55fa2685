/*
 * Tests of the Bluesky unfollow worker on PostgreSQL with an evhttp double of a PDS: a queued
 * row's record is deleted with deleteRecord in the member's repository, by its record key,
 * with their Bearer token (unfollowed); a record_uri naming another repository is never sent
 * (the row is done again, with the reason); a member without a grant has their rows put back
 * to done saying to sign in again; a 429 pauses the member for its Retry-After, the row waiting
 * uncounted; a 400 keeps the follow, with the reason.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "attest.h"
#include "atgrant.h"
#include "atunfollow.h"
#include "config.h"
#include "db.h"
#include "httpc.h"
#include "pgtest.h"
#include "seal.h"
#include "tap.h"

static int port, deletes;
static char bodies[8192], last_auth[256];


static void
double_cb(struct evhttp_request *req, void *arg)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    char body[1024];

    (void)arg;
    if (strcmp(evhttp_request_get_uri(req), "/xrpc/com.atproto.repo.deleteRecord") != 0) {
        attest_json(req, 404, "{}");
        return;
    }
    deletes++;
    if (n >= sizeof(body))
        n = sizeof(body) - 1;
    evbuffer_copyout(in, body, n);
    body[n] = '\0';
    strncat(bodies, body, sizeof(bodies) - strlen(bodies) - 2);
    strcat(bodies, "\n");
    snprintf(last_auth, sizeof(last_auth), "%s", auth != NULL ? auth : "");
    if (strstr(body, "\"rkey\":\"limited\"") != NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1200");
        attest_json(req, 429,
                    "{\"error\":\"RateLimitExceeded\",\"message\":\"Rate Limit Exceeded\"}");
    } else if (strstr(body, "\"rkey\":\"bad\"") != NULL) {
        attest_json(req, 400, "{\"error\":\"InvalidRequest\",\"message\":\"no\"}");
    } else {
        attest_json(req, 200, "{\"commit\":{\"cid\":\"c\",\"rev\":\"r\"}}");
    }
}

static long next_x = 9000;

static long
sky(const char *did)
{
    return pgt_num("INSERT INTO members (network, actor_uri, acct, host, x_id, state, linked_at,"
                   " autofollow, findable) VALUES ('atproto', '%s', 'h.test', '127.0.0.1', %ld,"
                   " 'linked', now() - interval '2 days', true, true) RETURNING id",
                   did, next_x++);
}

/* A follow passerelle wrote (record uri), queued for undo from the page. */
static long
queued(long follower, long followee, const char *uri)
{
    return pgt_num("INSERT INTO follow_actions (follower_id, followee_id, method, state,"
                   " record_uri, record_written, done_at, next_attempt_at) VALUES (%ld, %ld,"
                   " 'atproto', 'unfollow', '%s', true, now(), now()) RETURNING id",
                   follower, followee, uri);
}

static const char *
row(long id)
{
    return pgt_str("SELECT state || '|' || attempts || '|' || coalesce(last_error, '')"
                   " FROM follow_actions WHERE id = %ld",
                   id);
}


int
main(void)
{
    struct config cfg;
    struct app app = { 0 };
    struct evhttp *http;
    struct httpc_options ho = { 0 };
    struct atunfollow *u;
    unsigned char key[SEAL_KEY_BYTES] = { 7 };
    char err[256];
    long alice, bob, carol, frank, nogrant, p1, p2, p3, pn, pf;

    pgt_setup("atunfollow");
    port = pgt_listen(&http, double_cb, NULL);
    if (port < 0)
        pgt_bail("listen");
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://bridge.example", err, sizeof(err)) < 0 ||
        config_set(&cfg, "allow_private_fetch", "true", err, sizeof(err)) < 0 ||
        config_set(&cfg, "atproto_follow_poll_ms", "20", err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app_init_ids(&app);
    app.db = pgt_db(2);
    app.seal = seal_from_bytes(key);
    ho.allow_loopback = 1;
    app.httpc = httpc_new(pgt_base, &ho, err, sizeof(err));
    if (app.httpc == NULL)
        pgt_bail("httpc: %s", err);

    alice = sky("did:plc:alicealicealicealicealic");
    bob = sky("did:plc:bobbobbobbobbobbobbobbob");
    carol = sky("did:plc:carolcarolcarolcarolcaro");
    frank = sky("did:plc:frankfrankfrankfrankfran");
    nogrant = sky("did:plc:nograntnograntnograntnog");
    attest_app_password_grant(&app, alice, "did:plc:alicealicealicealicealic", port);
    attest_app_password_grant(&app, frank, "did:plc:frankfrankfrankfrankfran", port);
    p1 = queued(alice, bob, "at://did:plc:alicealicealicealicealic/app.bsky.graph.follow/3labc");
    p2 = queued(alice, carol, "at://did:plc:bobbobbobbobbobbobbobbob/app.bsky.graph.follow/3lxyz");
    p3 = queued(alice, frank, "at://did:plc:alicealicealicealicealic/app.bsky.graph.follow/bad");
    pn = queued(nogrant, bob, "at://did:plc:nograntnograntnograntnog/app.bsky.graph.follow/3l");

    u = atunfollow_new(&app);
    PGT_SPIN(strncmp(row(p1), "unfollow|", 9) != 0 && strncmp(row(p2), "unfollow|", 9) != 0 &&
                 strncmp(row(p3), "unfollow|", 9) != 0 && strncmp(row(pn), "unfollow|", 9) != 0,
             10);
    is_str(row(p1), "unfollowed|1|", "her record deleted: unfollowed");
    ok(pgt_num("SELECT (unfollowed_at IS NOT NULL AND next_attempt_at IS NULL)::int FROM"
               " follow_actions WHERE id = %ld",
               p1) == 1,
       "final");
    is_str(row(p2), "done|1|not a follow record of the member's repository",
           "a record of another repository: never sent, the follow stands");
    is_str(row(p3), "done|1|deleteRecord: HTTP 400 InvalidRequest", "a 400: kept, with why");
    ok(strncmp(row(pn), "done|0|the member's Bluesky grant is gone", 41) == 0,
       "no grant: done again, saying to sign in: %s", row(pn));
    is_int(deletes, 2, "two deletes sent");
    ok(strstr(bodies, "{\"repo\":\"did:plc:alicealicealicealicealic\",\"collection\":\"app.bsky."
                      "graph.follow\",\"rkey\":\"3labc\"}") != NULL &&
           strstr(bodies, "3lxyz") == NULL && strstr(bodies, "nogrant") == NULL,
       "exactly her record, in her repository: %s", bodies);
    is_str(last_auth, "Bearer access-token-1", "with her app-password session's token");

    /* frank's PDS answers 429: he pauses for its Retry-After, the row waits uncounted. */
    pf = queued(frank, bob, "at://did:plc:frankfrankfrankfrankfran/app.bsky.graph.follow/limited");
    PGT_SPIN(strstr(row(pf), "429") != NULL, 10);
    is_str(row(pf), "unfollow|0|deleteRecord: rate limited (429)", "429: waits, not counted");
    ok(pgt_num("SELECT (extract(epoch FROM rate_limited_until - now()) BETWEEN 1100 AND 1200)::int"
               " FROM atproto_follow_state WHERE member_id = %ld",
               frank) == 1,
       "frank paused for the Retry-After");
    ok(pgt_num("SELECT (next_attempt_at > now() + interval '1100 seconds')::int FROM"
               " follow_actions WHERE id = %ld",
               pf) == 1,
       "his row as long");

    atunfollow_kick(u);
    atunfollow_kick(NULL);
    atunfollow_free(u);
    atunfollow_free(NULL);
    httpc_free(app.httpc);
    evhttp_free(http);
    seal_free(app.seal);
    db_free(app.db);
    app_free_ids(&app);
    config_free(&cfg);
    pgt_teardown();
    return done_testing();
}
