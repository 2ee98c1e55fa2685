/*
 * Tests of the member follow reconcilers on PostgreSQL. The relay actor's: each member whose
 * relay consent and follow state disagree gets its Follow or Undo queued with the state
 * change, the others nothing, and a second round finds nothing left to do. The bridge's:
 * every fediverse member is followed once whatever their consents and claim (two
 * reconcilers at once included), a Bluesky home never, a refusal is not asked again, a member
 * who left gets the bridge's Undo and the relay's stays the relay's; follow_members off
 * undoes them all.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "pgtest.h"
#include "memberfollow.h"
#include "tap.h"

/* A member at host: relay consent, claim state, paused, follow state and id; its id. */
static long
member(const char *name, const char *host, int relay, const char *state, int paused,
       const char *fstate, const char *fid, int inbox)
{
    static int next_x = 100;

    return pgt_num(
        "INSERT INTO members (actor_uri, host, inbox, relay, state, paused,"
        " relay_follow_state, relay_follow_id, x_id) VALUES ('https://%s/users/%s', '%s',"
        " %s, %s, '%s', %s, '%s', %s%s%s, %d) RETURNING id",
        host, name, host, inbox ? "'pending'" : "NULL", relay ? "true" : "false", state,
        paused ? "true" : "false", fstate, fid ? "'" : "", fid ? fid : "NULL", fid ? "'" : "",
        next_x++);
}

/* The activities queued to inbox_like, by type, in order: "Follow,Undo". */
static const char *
queued(const char *inbox_like)
{
    return pgt_str("SELECT coalesce(string_agg(a.payload::json->>'type', ',' ORDER BY a.id), '')"
                   " FROM activities a JOIN deliveries d ON d.activity_id = a.id"
                   " WHERE a.signer = 'relay' AND d.inbox LIKE '%s'",
                   inbox_like);
}

static const char *
follow_state(long id)
{
    return pgt_str("SELECT relay_follow_state || ' ' || (relay_follow_id IS NOT NULL)"
                   " FROM members WHERE id = %ld",
                   id);
}

static const char *
bridge_state(long id)
{
    return pgt_str("SELECT bridge_follow_state || ' ' || (bridge_follow_id IS NOT NULL)"
                   " FROM members WHERE id = %ld",
                   id);
}

/* The bridge's activities to the member's inbox, by type, in order: "Follow,Undo". */
static const char *
bridge_queued(long id)
{
    return pgt_str("SELECT coalesce(string_agg(a.payload::json->>'type', ',' ORDER BY a.id), '')"
                   " FROM activities a JOIN deliveries d ON d.activity_id = a.id"
                   " WHERE a.signer = 'bridge' AND a.payload::json->>'actor' ="
                   " 'https://relay.example/users/passerelle' AND d.inbox = (SELECT inbox"
                   " FROM members WHERE id = %ld)",
                   id);
}

/* The bridge's side, on the members the relay's side left. */
static void
bridge_follows(struct app *app, long on, long paused, long noinbox, long dbblocked, long cfgblocked,
               long pending_off)
{
    struct memberfollow *b1, *b2;
    char err[256];
    long sky, refused, both;
    const char *on_relay = follow_state(on);
    char on_relay_was[64];

    snprintf(on_relay_was, sizeof(on_relay_was), "%s", on_relay);
    /* A Bluesky home (given an inbox here, so that only its network keeps it out). */
    sky = pgt_num("INSERT INTO members (actor_uri, host, inbox, network, x_id) VALUES"
                  " ('did:plc:skysky', 'sky.example', 'https://sky.example/inbox', 'atproto',"
                  " 900) RETURNING id");
    refused = pgt_num("INSERT INTO members (actor_uri, host, inbox, bridge_follow_state,"
                      " bridge_follow_id, x_id) VALUES ('https://ref.example/users/r',"
                      " 'ref.example', 'https://ref.example/inbox', 'rejected',"
                      " 'https://relay.example/f/20', 901) RETURNING id");
    /* Followed by both actors, then gone: one Undo each, each signed by its own actor. */
    both = pgt_num("INSERT INTO members (actor_uri, host, inbox, relay, state,"
                   " relay_follow_state, relay_follow_id, bridge_follow_state, bridge_follow_id,"
                   " x_id) VALUES ('https://both.example/users/b', 'both.example',"
                   " 'https://both.example/inbox', true, 'linked', 'accepted',"
                   " 'https://relay.example/f/21', 'accepted', 'https://relay.example/f/22', 902)"
                   " RETURNING id");
    pgt_exec("DELETE FROM members WHERE id = %ld", both);
    is_str(pgt_str("SELECT string_agg(signer || ' ' || follow_id, ',' ORDER BY signer)"
                   " FROM relay_unfollows"),
           "bridge https://relay.example/f/22,relay https://relay.example/f/21",
           "a member who left followed by both: each actor's Undo kept");

    /* Two reconcilers at once, as two processes: each member followed once all the same. */
    b1 = memberfollow_new(app, 20, MEMBERFOLLOW_BRIDGE);
    b2 = memberfollow_new(app, 20, MEMBERFOLLOW_BRIDGE);
    memberfollow_start(b1);
    memberfollow_start(b2);
    PGT_SPIN(strcmp(bridge_state(pending_off), "pending true") == 0 &&
                 pgt_num("SELECT count(*) FROM relay_unfollows WHERE signer = 'bridge'") == 0,
             5);
    PGT_SPIN(0, 0.3); /* more rounds of both: they must change nothing */

    is_str(bridge_state(on), "pending true", "the bridge follows a member who allows relaying");
    is_str(bridge_state(paused), "pending true", "and a paused one: consents do not matter");
    is_str(bridge_state(pending_off), "pending true", "and one whose claim is not linked");
    is_str(bridge_queued(on), "Follow", "one Follow queued to the member's inbox");
    is_int(pgt_num("SELECT count(*) FROM activities a, members m WHERE m.id = %ld AND"
                   " a.signer = 'bridge' AND a.payload::json->>'type' = 'Follow' AND"
                   " a.payload::json->>'id' = m.bridge_follow_id AND"
                   " a.payload::json->>'object' = m.actor_uri AND"
                   " a.payload::json->>'actor' = 'https://relay.example/users/passerelle'",
                   paused),
           1, "the Follow is the bridge account's, of the member, under the id stored");
    is_int(pgt_num("SELECT count(*) FROM (SELECT a.payload::json->>'object' o FROM activities a"
                   " WHERE a.signer = 'bridge' AND a.payload::json->>'type' = 'Follow'"
                   " GROUP BY 1 HAVING count(*) > 1) t"),
           0, "two reconcilers at once: no member is followed twice");
    is_int(pgt_num("SELECT count(*) FROM members WHERE network = 'activitypub' AND"
                   " bridge_follow_state = 'pending' AND inbox IS NOT NULL AND host NOT IN"
                   " ('dbblocked.example', 'cfgblocked.example')"),
           pgt_num("SELECT count(*) FROM activities WHERE signer = 'bridge' AND"
                   " payload::json->>'type' = 'Follow'"),
           "every other fediverse member is followed, once");
    is_str(bridge_state(sky), "none false", "a Bluesky home: not followed");
    is_str(bridge_queued(sky), "", "nothing queued to it");
    is_str(bridge_state(noinbox), "none false", "no inbox: not followed");
    is_str(bridge_state(dbblocked), "none false", "host blocked by the admin: not followed");
    is_str(bridge_state(cfgblocked), "none false", "host in relay_block: not followed");
    is_str(bridge_state(refused), "rejected true", "a refusal is kept");
    is_str(bridge_queued(refused), "", "and not asked again");
    is_str(pgt_str("SELECT string_agg(a.payload::json->>'actor' || ' ' ||"
                   " (a.payload::json->'object'->>'id'), ',') FROM activities a"
                   " JOIN deliveries d ON d.activity_id = a.id WHERE a.signer = 'bridge'"
                   " AND d.inbox = 'https://both.example/inbox'"),
           "https://relay.example/users/passerelle https://relay.example/f/22",
           "the member who left: the bridge's Undo of its own Follow");
    is_str(pgt_str("SELECT string_agg(signer, ',') FROM relay_unfollows"), "relay",
           "the relay's Undo is left to the relay's reconciler");
    is_str(follow_state(on), on_relay_was, "the relay's follow of a member is not touched");
    memberfollow_free(b1);
    memberfollow_free(b2);

    /* follow_members off: everything the bridge asked is undone, a refusal forgotten. */
    if (config_set(app->cfg, "follow_members", "false", err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    b1 = memberfollow_new(app, 20, MEMBERFOLLOW_BRIDGE);
    memberfollow_start(b1);
    PGT_SPIN(pgt_num("SELECT count(*) FROM members WHERE bridge_follow_state <> 'none'") == 0, 5);
    PGT_SPIN(0, 0.2);
    is_int(pgt_num("SELECT count(*) FROM members WHERE bridge_follow_state <> 'none'"), 0,
           "follow_members off: no follow of the bridge's is left");
    is_str(bridge_queued(on), "Follow,Undo", "each one undone");
    is_str(bridge_queued(paused), "Follow,Undo", "each one undone");
    is_str(bridge_queued(refused), "", "a refusal gets no Undo");
    is_str(bridge_queued(noinbox), "", "nor anyone never followed");
    is_int(pgt_num("SELECT count(*) FROM activities WHERE signer = 'bridge' AND"
                   " payload::json->>'type' = 'Undo'"),
           pgt_num("SELECT count(*) FROM activities WHERE signer = 'bridge' AND"
                   " payload::json->>'type' = 'Follow'") +
               1,
           "one Undo per Follow asked, and the one for the member who left");
    memberfollow_free(b1);
    if (config_set(app->cfg, "follow_members", "true", err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
}

int
main(void)
{
    struct config cfg;
    struct app app = { 0 };
    struct memberfollow *rf;
    char err[256];
    long on, paused, noinbox, dbblocked, cfgblocked, off, rejected, pending_off, gone;

    pgt_setup("memberfollow");
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://relay.example", err, sizeof(err)) < 0 ||
        config_set(&cfg, "relay_block", "cfgblocked.example", err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app_init_ids(&app);
    app.db = pgt_db(2);

    /* The inbox column is set to https://<host>/inbox below for those with one. */
    on = member("on", "on.example", 1, "linked", 0, "none", NULL, 1);
    paused = member("paused", "paused.example", 1, "linked", 1, "none", NULL, 1);
    noinbox = member("noinbox", "noinbox.example", 1, "linked", 0, "none", NULL, 0);
    dbblocked = member("dbb", "dbblocked.example", 1, "linked", 0, "none", NULL, 1);
    cfgblocked = member("cfgb", "cfgblocked.example", 1, "linked", 0, "none", NULL, 1);
    off = member("off", "off.example", 0, "linked", 0, "accepted", "https://relay.example/f/1", 1);
    rejected =
        member("rej", "rej.example", 0, "linked", 0, "rejected", "https://relay.example/f/2", 1);
    pending_off =
        member("disp", "disp.example", 1, "disputed", 0, "pending", "https://relay.example/f/3", 1);
    gone =
        member("gone", "gone.example", 1, "linked", 0, "accepted", "https://relay.example/f/4", 1);
    pgt_exec("UPDATE members SET inbox = 'https://' || host || '/inbox' WHERE inbox IS NOT NULL");
    pgt_exec("INSERT INTO instances (domain, blocked) VALUES ('dbblocked.example', true)");
    /* An Announce of off's post still waiting: withdrawn with the follow. */
    pgt_exec("WITH a AS (INSERT INTO activities (signer, payload, member_id) VALUES ('relay',"
             " '{\"type\":\"Announce\"}', %ld) RETURNING id)"
             " INSERT INTO deliveries (activity_id, inbox, host) SELECT id,"
             " 'https://elsewhere.example/inbox', 'elsewhere.example' FROM a",
             off);
    pgt_exec("DELETE FROM members WHERE id = %ld", gone);
    is_int(pgt_num("SELECT count(*) FROM relay_unfollows"), 1,
           "a member who left while followed is kept for its Undo");

    rf = memberfollow_new(&app, 50, MEMBERFOLLOW_RELAY);
    PGT_SPIN(0, 0.2);
    is_str(follow_state(on), "none false", "nothing before memberfollow_start");
    memberfollow_start(rf);
    PGT_SPIN(strcmp(follow_state(on), "pending true") == 0 &&
                 pgt_num("SELECT count(*) FROM relay_unfollows") == 0,
             5);
    PGT_SPIN(0, 0.2); /* a few more rounds: they must change nothing */

    is_str(follow_state(on), "pending true", "relay on, linked: pending, with the Follow's id");
    is_str(queued("https://on.example/%%"), "Follow", "relay on: one Follow queued to its inbox");
    is_int(pgt_num("SELECT count(*) FROM activities a, members m WHERE m.id = %ld AND"
                   " a.payload::json->>'id' = m.relay_follow_id AND"
                   " a.payload::json->>'object' = m.actor_uri AND"
                   " a.payload::json->>'actor' = 'https://relay.example/actor'",
                   on),
           1, "the Follow is the relay actor's, of the member, under the id stored");
    is_str(follow_state(paused), "none false", "paused: not followed");
    is_str(follow_state(noinbox), "none false", "no inbox: not followed");
    is_str(follow_state(dbblocked), "none false", "host blocked by the admin: not followed");
    is_str(follow_state(cfgblocked), "none false", "host in relay_block: not followed");
    ok(strcmp(queued("https://paused.example/%%"), "") == 0 &&
           strcmp(queued("https://dbblocked.example/%%"), "") == 0 &&
           strcmp(queued("https://cfgblocked.example/%%"), "") == 0,
       "nothing queued for them");

    is_str(follow_state(off), "none false", "relay off while accepted: back to none");
    is_str(queued("https://off.example/%%"), "Undo", "relay off: an Undo queued");
    is_str(pgt_str("SELECT payload::json->'object'->>'id' FROM activities WHERE signer = 'relay'"
                   " AND payload::json->>'type' = 'Undo' AND payload LIKE '%%off.example%%'"),
           "https://relay.example/f/1", "the Undo names the Follow it withdraws");
    is_str(
        pgt_str("SELECT d.state || ' ' || d.last_error FROM deliveries d JOIN activities a ON"
                " a.id = d.activity_id WHERE a.member_id = %ld AND a.payload LIKE '%%Announce%%'",
                off),
        "dropped relay withdrawn", "relay off: its Announces still waiting are dropped");
    is_str(follow_state(rejected), "none false", "a refusal is forgotten");
    is_str(queued("https://rej.example/%%"), "", "a refusal gets no Undo");
    is_str(follow_state(pending_off), "none false", "a claim no longer linked: back to none");
    is_str(queued("https://disp.example/%%"), "Undo", "and its pending Follow undone");
    is_str(queued("https://gone.example/%%"), "Undo", "a member who left: Undo queued");
    is_int(pgt_num("SELECT count(*) FROM relay_unfollows"), 0, "and its row consumed");
    is_int(pgt_num("SELECT count(*) FROM activities WHERE signer = 'relay'"), 5,
           "later rounds queued nothing more (1 Follow, 3 Undos and the Announce)");

    memberfollow_free(rf);
    memberfollow_free(NULL);

    bridge_follows(&app, on, paused, noinbox, dbblocked, cfgblocked, pending_off);
    db_free(app.db);
    app_free_ids(&app);
    config_free(&cfg);
    pgt_teardown();
    return done_testing();
}
