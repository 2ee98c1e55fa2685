/*
 * Tests of the bridge worker on PostgreSQL with an evhttp double of Bridgy Fed's WebFinger:
 * a bridged Bluesky member gets the bridge's actor and address, an answer naming another DID
 * or a 404 gives none, a bridge that keeps failing is tried again with backoff and given up
 * (what was known stays), a fediverse member is not asked about here (no atproto resolver:
 * integration/bridgefed_ap looks them up), a row not yet due waits;
 * a first answer or a changed one makes the member due for matching, an unchanged one not.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "bridgecheck.h"
#include "config.h"
#include "db.h"
#include "httpc.h"
#include "pgtest.h"
#include "tap.h"

static int port;
static int asked_bridged, asked_flaky, asked_ap, asked_later;

/* Bridgy Fed's WebFinger as the worker meets it. */
static void
bridge_cb(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *out = evbuffer_new();
    char self[256];
    int status = 404;

    (void)arg;
    if (strstr(uri, "/.well-known/webfinger?resource=acct%3A") == uri) {
        const char *who = uri + strlen("/.well-known/webfinger?resource=acct%3A");

        if (strncmp(who, "bridged.test%40", 15) == 0 || strncmp(who, "same.test%40", 12) == 0) {
            const char *did = who[0] == 'b' ? "did:plc:bridged" : "did:plc:same";

            asked_bridged += who[0] == 'b';
            snprintf(self, sizeof(self), "http://127.0.0.1:%d/ap/%s", port, did);
            evbuffer_add_printf(out,
                                "{\"subject\":\"acct:x@y\",\"links\":[{\"rel\":\"self\","
                                "\"type\":\"application/activity+json\",\"href\":\"%s\"}]}",
                                self);
            status = 200;
        } else if (strncmp(who, "other.test%40", 13) == 0) {
            evbuffer_add_printf(out,
                                "{\"links\":[{\"rel\":\"self\",\"type\":\"application/activity+"
                                "json\",\"href\":\"http://127.0.0.1:%d/ap/did:plc:someone\"}]}",
                                port);
            status = 200;
        } else if (strncmp(who, "flaky.test%40", 13) == 0) {
            asked_flaky++;
            status = 503;
        } else if (strncmp(who, "later.test%40", 13) == 0) {
            asked_later++;
        } else if (strstr(who, "ap.example") != NULL) {
            asked_ap++;
        }
    }
    evhttp_send_reply(req, status, "x", out);
    evbuffer_free(out);
}

static long
sky(const char *handle, const char *did, const char *bridged)
{
    static int next_x = 500;

    return pgt_num("INSERT INTO members (network, actor_uri, acct, host, x_id, state, bridged_id,"
                   " bridged_handle, bridge_checked_at) VALUES ('atproto', '%s', '%s', 'pds.test',"
                   " %d, 'linked', %s%s%s, %s, %s) RETURNING id",
                   did, handle, next_x++, bridged ? "'" : "", bridged ? bridged : "NULL",
                   bridged ? "'" : "", bridged ? "'kept@bridge'" : "NULL",
                   bridged ? "now() - interval '2 days'" : "NULL");
}

static const char *
state(long id)
{
    return pgt_str("SELECT coalesce(bridged_id, '-') || ' ' || coalesce(bridged_handle, '-') || ' '"
                   " || (bridge_checked_at IS NOT NULL) || ' ' || (match_due_at IS NOT NULL)"
                   " FROM members WHERE id = %ld",
                   id);
}

int
main(void)
{
    struct config cfg;
    struct app app = { 0 };
    struct evhttp *http;
    struct httpc_options ho = { 0 };
    struct bridgecheck *b;
    char err[256], domain[32], want[128];
    long bridged, other, none, flaky, ap, later, same;

    pgt_setup("bridgecheck");
    port = pgt_listen(&http, bridge_cb, NULL);
    if (port < 0)
        pgt_bail("listen");
    snprintf(domain, sizeof(domain), "127.0.0.1:%d", port);
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://bridge.example", err, sizeof(err)) < 0 ||
        config_set(&cfg, "allow_private_fetch", "true", err, sizeof(err)) < 0 ||
        config_set(&cfg, "bridge_bsky_domain", domain, err, sizeof(err)) < 0 ||
        config_set(&cfg, "bridge_poll_ms", "20", err, sizeof(err)) < 0 ||
        config_set(&cfg, "queue_backoff_unit_ms", "1", err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app_init_ids(&app);
    app.db = pgt_db(2);
    ho.allow_loopback = 1;
    app.httpc = httpc_new(pgt_base, &ho, err, sizeof(err));
    if (app.httpc == NULL)
        pgt_bail("httpc: %s", err);

    bridged = sky("bridged.test", "did:plc:bridged", NULL);
    other = sky("other.test", "did:plc:other", NULL);
    none = sky("none.test", "did:plc:none", NULL);
    flaky = sky("flaky.test", "did:plc:flaky", "https://bsky.brid.gy/ap/did:plc:flaky");
    later = sky("later.test", "did:plc:later", NULL);
    snprintf(want, sizeof(want), "http://127.0.0.1:%d/ap/did:plc:same", port);
    same = sky("same.test", "did:plc:same", want);
    pgt_exec("UPDATE members SET bridged_handle = 'same.test@%s' WHERE id = %ld", domain, same);
    ap = pgt_num("INSERT INTO members (actor_uri, acct, host, x_id, state) VALUES"
                 " ('https://ap.example/users/a', 'a@ap.example', 'ap.example', 600, 'linked')"
                 " RETURNING id");
    pgt_exec("INSERT INTO bridge_due (member_id) SELECT id FROM members WHERE id <> %ld", later);
    pgt_exec("INSERT INTO bridge_due (member_id, due_at) VALUES (%ld, now() + interval '1 hour')",
             later);

    b = bridgecheck_new(&app);
    PGT_SPIN(pgt_num("SELECT count(*) FROM bridge_due") == 1, 10);
    is_int(pgt_num("SELECT count(*) FROM bridge_due"), 1, "every due row answered and gone");

    snprintf(want, sizeof(want), "http://127.0.0.1:%d/ap/did:plc:bridged bridged.test@%s true true",
             port, domain);
    is_str(state(bridged), want, "bridged: the bridge's actor of this DID and its address");
    is_int(asked_bridged, 1, "asked once");
    is_str(state(other), "- - true true", "an answer naming another DID's actor: not bridged");
    is_str(state(none), "- - true true", "404: not bridged");
    is_str(state(flaky), "https://bsky.brid.gy/ap/did:plc:flaky kept@bridge true false",
           "a bridge that keeps failing: given up, what was known stays");
    is_int(asked_flaky, 6, "tried six times");
    snprintf(want, sizeof(want), "http://127.0.0.1:%d/ap/did:plc:same same.test@%s true false",
             port, domain);
    is_str(state(same), want, "the same answer again: not due for matching");
    is_str(state(ap), "- - true true",
           "a fediverse member without an atproto resolver: not bridged");
    is_int(asked_ap, 0, "and no WebFinger for a fediverse member");
    is_str(state(later), "- - false false", "a row not yet due waits");
    is_int(asked_later, 0, "and is not asked about");

    bridgecheck_free(b);
    bridgecheck_free(NULL);
    httpc_free(app.httpc);
    evhttp_free(http);
    db_free(app.db);
    app_free_ids(&app);
    config_free(&cfg);
    pgt_teardown();
    return done_testing();
}
