/*
 * Tests of the relay actor's follow reconciler on PostgreSQL: each member whose relay consent
 * and follow state disagree gets its Follow or Undo queued with the state change, the others
 * nothing, and a second round finds nothing left to do.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "pgtest.h"
#include "relayfollow.h"
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

int
main(void)
{
    struct config cfg;
    struct app app = { 0 };
    struct relayfollow *rf;
    char err[256];
    long on, paused, noinbox, dbblocked, cfgblocked, off, rejected, pending_off, gone;

    pgt_setup("relayfollow");
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

    rf = relayfollow_new(&app, 50);
    PGT_SPIN(0, 0.2);
    is_str(follow_state(on), "none false", "nothing before relayfollow_start");
    relayfollow_start(rf);
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

    relayfollow_free(rf);
    relayfollow_free(NULL);
    db_free(app.db);
    app_free_ids(&app);
    config_free(&cfg);
    pgt_teardown();
    return done_testing();
}
