/*
 * Tests of the Bluesky follow worker on PostgreSQL with an evhttp double of a PDS and a PLC
 * directory: a member's due rows are read against listRecords (a subject followed already is
 * done with its record, not written), each other subject's DID is resolved (one nobody holds
 * fails), the rest go in one applyWrites in the member's repository with their Bearer token
 * (done, each with its record); a batch never exceeds the hourly budget (the rest moved an
 * hour on); a fediverse followee no longer bridged is undone; a 429 pauses the member for its
 * Retry-After with the rows waiting uncounted; a member without a grant is not served.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "attest.h"
#include "atfollow.h"
#include "atgrant.h"
#include "config.h"
#include "db.h"
#include "httpc.h"
#include "pgtest.h"
#include "seal.h"
#include "tap.h"

static int port;
static int lists, writes, resolves, answer_429;
static char last_write[16384], last_auth[256];


/* The PDS (its XRPC) and the PLC directory (GET /<did>) on one port. */
static void
double_cb(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    char body[2048];

    (void)arg;
    if (strncmp(uri, "/xrpc/com.atproto.repo.listRecords?", 35) == 0) {
        lists++;
        attest_json(req, 200,
                    "{\"records\":[{\"uri\":\"at://did:plc:alicealicealicealicealic/app.bsky.graph."
                    "follow/old\",\"cid\":\"c\",\"value\":{\"$type\":\"app.bsky.graph.follow\","
                    "\"subject\":\"did:plc:davedavedavedavedavedave\",\"createdAt\":\"x\"}}]}");
    } else if (strcmp(uri, "/xrpc/com.atproto.repo.applyWrites") == 0) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        const char *auth =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
        char results[2048] = "";

        writes++;
        if (n >= sizeof(last_write))
            n = sizeof(last_write) - 1;
        evbuffer_copyout(in, last_write, n);
        last_write[n] = '\0';
        snprintf(last_auth, sizeof(last_auth), "%s", auth != NULL ? auth : "");
        if (answer_429) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1200");
            attest_json(req, 429,
                        "{\"error\":\"RateLimitExceeded\",\"message\":\"Rate Limit Exceeded\"}");
            return;
        }
        for (const char *p = last_write; (p = strstr(p, "\"subject\":\"")) != NULL; p++) {
            char one[160];

            snprintf(one, sizeof(one), "%s{\"uri\":\"at://me/app.bsky.graph.follow/%.24s\"}",
                     results[0] != '\0' ? "," : "", p + 19);
            strncat(results, one, sizeof(results) - strlen(results) - 1);
        }
        snprintf(body, sizeof(body), "{\"commit\":{},\"results\":[%s]}", results);
        attest_json(req, 200, body);
    } else if (strncmp(uri, "/did:plc:", 9) == 0 && strstr(uri, "ghost") == NULL) {
        resolves++;
        snprintf(body, sizeof(body),
                 "{\"id\":\"%s\",\"alsoKnownAs\":[],\"service\":[{\"id\":\"#atproto_pds\","
                 "\"type\":\"AtprotoPersonalDataServer\",\"serviceEndpoint\":"
                 "\"http://127.0.0.1:%d\"}]}",
                 uri + 1, port);
        attest_json(req, 200, body);
    } else {
        resolves += strncmp(uri, "/did:plc:", 9) == 0;
        attest_json(req, 404, "{\"message\":\"DID not registered\"}");
    }
}

static long next_x = 9000;

static long
sky(const char *did, const char *handle)
{
    return pgt_num("INSERT INTO members (network, actor_uri, acct, host, x_id, state, linked_at,"
                   " autofollow, findable) VALUES ('atproto', '%s', '%s', '127.0.0.1', %ld,"
                   " 'linked', now() - interval '2 days', true, true) RETURNING id",
                   did, handle, next_x++);
}

static long
pair(long follower, long followee)
{
    pgt_exec("INSERT INTO x_edges SELECT b.x_id, a.x_id, b.id FROM members b, members a"
             " WHERE b.id = %ld AND a.id = %ld",
             follower, followee);
    return pgt_num("INSERT INTO follow_actions (follower_id, followee_id, method, state,"
                   " next_attempt_at) VALUES (%ld, %ld, 'atproto', 'planned', now()) RETURNING id",
                   follower, followee);
}

static const char *
row(long id)
{
    return pgt_str("SELECT state || '|' || attempts || '|' || coalesce(last_error, '') || '|' ||"
                   " coalesce(record_uri, '') FROM follow_actions WHERE id = %ld",
                   id);
}


int
main(void)
{
    struct config cfg;
    struct app app = { 0 };
    struct evhttp *http;
    struct httpc_options ho = { 0 };
    struct atfollow *a;
    unsigned char key[SEAL_KEY_BYTES] = { 7 };
    char err[256], plc[64];
    long alice, bob, carol, dave, ghost, erin, fed, frank, nogrant, pb, pc, pd, pg, pe, pf, pn, p4;

    pgt_setup("atfollow");
    port = pgt_listen(&http, double_cb, NULL);
    if (port < 0)
        pgt_bail("listen");
    snprintf(plc, sizeof(plc), "http://127.0.0.1:%d", port);
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://bridge.example", err, sizeof(err)) < 0 ||
        config_set(&cfg, "allow_private_fetch", "true", err, sizeof(err)) < 0 ||
        config_set(&cfg, "plc_url", plc, err, sizeof(err)) < 0 ||
        config_set(&cfg, "atproto_follow_poll_ms", "20", err, sizeof(err)) < 0 ||
        config_set(&cfg, "atproto_follow_hour_points", "12", err, sizeof(err)) < 0)
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

    alice = sky("did:plc:alicealicealicealicealic", "alice.test");
    bob = sky("did:plc:bobbobbobbobbobbobbobbob", "bob.test");
    carol = sky("did:plc:carolcarolcarolcarolcaro", "carol.test");
    dave = sky("did:plc:davedavedavedavedavedave", "dave.test");
    ghost = sky("did:plc:ghostghostghostghostghos", "ghost.test");
    erin = sky("did:plc:erinerinerinerinerinerin", "erin.test");
    frank = sky("did:plc:frankfrankfrankfrankfran", "frank.test");
    nogrant = sky("did:plc:nograntnograntnograntnog", "nogrant.test");
    fed = pgt_num("INSERT INTO members (actor_uri, acct, host, x_id, state, linked_at, findable)"
                  " VALUES ('https://ap.example/u/f', 'f@ap.example', 'ap.example', 8000,"
                  " 'linked', now() - interval '2 days', true) RETURNING id");
    attest_app_password_grant(&app, alice, "did:plc:alicealicealicealicealic", port);
    attest_app_password_grant(&app, frank, "did:plc:frankfrankfrankfrankfran", port);
    pb = pair(alice, bob);
    pc = pair(alice, carol);
    pd = pair(alice, dave);
    pg = pair(alice, ghost);
    p4 = pair(alice, fed);
    pn = pair(nogrant, bob);

    a = atfollow_new(&app);
    PGT_SPIN(strncmp(row(pg), "failed|", 7) == 0 && strncmp(row(pb), "done|", 5) == 0 &&
                 strncmp(row(p4), "undone|", 7) == 0,
             10);
    is_str(row(pd), "done|1||at://did:plc:alicealicealicealicealic/app.bsky.graph.follow/old",
           "followed already: done with the record there, nothing written");
    ok(strncmp(row(pb), "done|1||at://me/app.bsky.graph.follow/", 38) == 0, "bob: done: %s",
       row(pb));
    ok(strncmp(row(pc), "done|1||at://me/", 16) == 0, "carol: done");
    ok(strstr(row(pg), "the account does not exist") != NULL, "a DID nobody holds: %s", row(pg));
    is_str(pgt_str("SELECT string_agg(coalesce(record_written::text, '-'), ',' ORDER BY id) FROM"
                   " follow_actions WHERE id IN (%ld, %ld, %ld)",
                   pb, pc, pd),
           "true,true,false", "written by passerelle, or the member's own record found");
    is_str(row(p4), "undone|1|the followee is no longer bridged|",
           "a fediverse followee without a bridged DID: undone");
    is_int(writes, 1, "one applyWrites for the batch");
    ok(strstr(last_write, "\"repo\":\"did:plc:alicealicealicealicealic\"") != NULL &&
           strstr(last_write, "did:plc:bobbobbobbobbobbobbobbob") != NULL &&
           strstr(last_write, "did:plc:carolcarolcarolcarolcaro") != NULL &&
           strstr(last_write, "davedave") == NULL && strstr(last_write, "ghost") == NULL,
       "in alice's repository, bob and carol only: %s", last_write);
    is_str(last_auth, "Bearer access-token-1", "with her app-password session's token");
    ok(lists >= 1, "her follows were read first");
    is_str(row(pn), "planned|0||", "a member without a grant is not served");

    /* Three follows done of the four the hour allows: one more now, the next an hour on. */
    pe = pair(alice, erin);
    pf = pair(alice, frank);
    PGT_SPIN(pgt_num("SELECT count(*) FROM follow_actions WHERE id IN (%ld, %ld) AND state ="
                     " 'done'",
                     pe, pf) == 1 &&
                 pgt_num("SELECT count(*) FROM follow_actions WHERE id IN (%ld, %ld) AND"
                         " next_attempt_at > now() + interval '50 minutes'",
                         pe, pf) == 1,
             10);
    is_int(pgt_num("SELECT count(*) FROM follow_actions WHERE id IN (%ld, %ld) AND state = 'done'",
                   pe, pf),
           1, "the hour's last room: one follow");
    is_int(pgt_num("SELECT count(*) FROM follow_actions WHERE id IN (%ld, %ld) AND state ="
                   " 'planned' AND attempts = 0 AND next_attempt_at > now() + interval '50"
                   " minutes'",
                   pe, pf),
           1, "the other moved an hour on, not tried");

    /* frank's PDS answers 429: frank pauses for its Retry-After, the row waits uncounted. */
    answer_429 = 1;
    pb = pair(frank, bob);
    PGT_SPIN(strstr(row(pb), "429") != NULL, 10);
    is_str(row(pb), "planned|0|applyWrites: rate limited (429)|", "429: waits, not counted");
    ok(pgt_num("SELECT (extract(epoch FROM rate_limited_until - now()) BETWEEN 1100 AND 1200)::int"
               " FROM atproto_follow_state WHERE member_id = %ld",
               frank) == 1,
       "frank paused for the Retry-After");
    ok(pgt_num("SELECT (next_attempt_at > now() + interval '1100 seconds')::int FROM"
               " follow_actions WHERE id = %ld",
               pb) == 1,
       "his row as long");

    atfollow_free(a);
    atfollow_free(NULL);
    httpc_free(app.httpc);
    evhttp_free(http);
    seal_free(app.seal);
    db_free(app.db);
    app_free_ids(&app);
    config_free(&cfg);
    pgt_teardown();
    return done_testing();
}
