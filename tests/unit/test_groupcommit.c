/* Tests of groupcommit on a real PostgreSQL: one transaction per turn, duplicates, a bad one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "activity.h"
#include "app.h"
#include "config.h"
#include "groupcommit.h"
#include "metrics.h"
#include "pgtest.h"
#include "tap.h"

#define BASE "https://relay.test"
#define PEER "https://masto.example"
#define PUB  "https://www.w3.org/ns/activitystreams#Public"

static int in_add;

/* One activity and what its done-callback saw. */
struct item {
    struct activity_in a;
    char json[1024];
    int called, sync;
    enum db_outcome outcome;
    char result[32];
};

static void
done_cb(enum db_outcome outcome, const char *result, void *arg)
{
    struct item *it = arg;

    it->called++;
    it->sync = in_add;
    it->outcome = outcome;
    snprintf(it->result, sizeof(it->result), "%s", result);
}

static void
item_init(struct item *it, struct app *app, const char *domain)
{
    struct json_object *v;

    memset(&it->a, 0, sizeof(it->a));
    it->called = it->sync = 0;
    it->result[0] = '\0';
    it->a.app = app;
    it->a.json = json_tokener_parse(it->json);
    if (it->a.json == NULL)
        pgt_bail("bad test JSON: %s", it->json);
    it->a.body = it->json;
    it->a.body_len = strlen(it->json);
    json_object_object_get_ex(it->a.json, "id", &v);
    it->a.id = json_object_get_string(v);
    json_object_object_get_ex(it->a.json, "type", &v);
    it->a.type = json_object_get_string(v);
    it->a.actor = PEER "/actor";
    snprintf(it->a.domain, sizeof(it->a.domain), "%s", domain);
    it->a.allowed = 1;
    it->a.actor_inbox = PEER "/inbox";
    it->a.actor_type = "Person";
    it->a.actor_username = "alice";
}

/* A public Note of the actor, embedded in a Create; id and object id from n and obj. */
static void
create(struct item *it, struct app *app, int n, int obj)
{
    snprintf(it->json, sizeof(it->json),
             "{\"id\":\"" PEER "/c/%d\",\"type\":\"Create\",\"actor\":\"" PEER "/actor\","
             "\"object\":{\"id\":\"" PEER "/n/%d\",\"type\":\"Note\",\"attributedTo\":\"" PEER
             "/actor\",\"to\":[\"" PUB "\"],\"content\":\"hi\"}}",
             n, obj);
    item_init(it, app, "masto.example");
}

static void
follow_public(struct item *it, struct app *app, const char *id, const char *domain)
{
    snprintf(it->json, sizeof(it->json),
             "{\"id\":\"" PEER "/%s\",\"type\":\"Follow\",\"actor\":\"" PEER "/actor\","
             "\"object\":\"" PUB "\"}",
             id);
    item_init(it, app, domain);
}

/* Adds items [0, n) in one turn of the loop, then waits until every one has its answer. */
static void
add_all(struct groupcommit *g, struct item *items, int n)
{
    int all;

    in_add = 1;
    for (int i = 0; i < n; i++)
        groupcommit_add(g, &items[i].a, done_cb, &items[i]);
    in_add = 0;
    do {
        all = 1;
        pgt_spin_once();
        for (int i = 0; i < n; i++)
            all &= items[i].called > 0;
    } while (!all);
    PGT_SPIN(0, 0.05); /* a second answer would come now */
}

static void
items_free(struct item *items, int n)
{
    for (int i = 0; i < n; i++)
        json_object_put(items[i].a.json);
}

int
main(void)
{
    char err[512];
    struct config cfg;
    struct app app = { 0 };
    struct groupcommit *g;
    struct groupcommit_stats st;
    static struct item it[40];
    int once = 1, dups = 0, pubs = 0;

    pgt_setup("groupcommit");
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", BASE, err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app_init_ids(&app);
    app.db = pgt_db(2);
    g = groupcommit_new(pgt_base, app.db);

    /* 30 posts in one turn, one of them twice, with a subscription among them. */
    for (int i = 0; i < 30; i++)
        create(&it[i], &app, i, i);
    create(&it[30], &app, 7, 7); /* the same activity id as it[7] */
    follow_public(&it[31], &app, "f/1", "masto.example");
    add_all(g, it, 32);
    groupcommit_get_stats(g, &st);
    is_int((int)st.batches, 1, "32 activities added in one turn: one transaction");
    is_int((int)st.activities, 32, "... holding all of them");
    for (int i = 0; i < 32; i++) {
        once &= it[i].called == 1 && !it[i].sync && it[i].outcome == DB_OK;
        dups += strcmp(it[i].result, "duplicate") == 0;
        pubs += strcmp(it[i].result, "publication") == 0;
    }
    ok(once, "each answered once, DB_OK, never from inside groupcommit_add");
    is_int(pubs, 30, "30 publications");
    is_int(dups, 1, "the second copy of an id in the batch: duplicate");
    is_str(it[30].result, "duplicate", "... the later copy");
    is_str(it[31].result, "accepted", "the subscription in the batch: accepted");
    is_int((int)pgt_num("SELECT count(*) FROM seen_activity_ids"), 31, "31 ids recorded");
    is_str(pgt_str("SELECT relay_state FROM instances WHERE domain = 'masto.example'"), "accepted",
           "the subscription committed");
    is_int((int)pgt_num("SELECT count(*) FROM activities WHERE payload LIKE '%%\"Accept\"%%'"), 1,
           "its Accept queued in the same transaction");
    items_free(it, 32);

    /* A replay of an id committed before: duplicate, nothing changes. */
    create(&it[0], &app, 3, 3);
    follow_public(&it[1], &app, "f/1", "masto.example");
    add_all(g, it, 2);
    ok(strcmp(it[0].result, "duplicate") == 0 && strcmp(it[1].result, "duplicate") == 0,
       "ids seen in an earlier transaction: duplicate (%s, %s)", it[0].result, it[1].result);
    is_int((int)pgt_num("SELECT count(*) FROM activities WHERE payload LIKE '%%\"Accept\"%%'"), 1,
           "the replayed Follow queued nothing");
    items_free(it, 2);

    /*
     * One bad activity among good ones (a domain the instances table refuses: not lowercase):
     * the batch fails, each is run again alone, only the bad one fails.
     */
    create(&it[0], &app, 100, 100);
    follow_public(&it[1], &app, "f/bad", "BAD.example");
    create(&it[2], &app, 101, 101);
    follow_public(&it[3], &app, "f/2", "masto.example");
    add_all(g, it, 4);
    groupcommit_get_stats(g, &st);
    is_int(it[1].outcome, DB_ERROR, "the bad activity: DB_ERROR (%s)", it[1].result);
    ok(it[0].outcome == DB_OK && it[2].outcome == DB_OK && it[3].outcome == DB_OK,
       "its neighbours: DB_OK");
    ok(strcmp(it[0].result, "publication") == 0 && strcmp(it[3].result, "accepted") == 0,
       "... with their own results (%s, %s)", it[0].result, it[3].result);
    is_int((int)st.retried, 4, "the four were run again alone");
    is_int((int)pgt_num("SELECT count(*) FROM seen_activity_ids WHERE id IN ('" PEER
                        "/c/100', '" PEER "/c/101', '" PEER "/f/2')"),
           3, "the good ones recorded");
    is_int((int)pgt_num("SELECT count(*) FROM seen_activity_ids WHERE id = '" PEER "/f/bad'"), 0,
           "the bad one not: its sender may retry");
    for (int i = 0; i < 4; i++)
        ok(it[i].called == 1, "item %d answered once", i);
    items_free(it, 4);

    /*
     * The targeted relay in a batch: two posts of a relayed member and a third copy of one
     * object under another activity id; one statement relays them, each post once.
     */
    pgt_exec("INSERT INTO instances (domain, actor_uri, inbox, relay_state, style)"
             " VALUES ('f.example', 'https://f.example/actor', 'https://f.example/inbox',"
             " 'accepted', 'mastodon')");
    pgt_exec("INSERT INTO members (id, actor_uri, acct, host, inbox, x_id, x_handle, state,"
             " linked_at, relay, relay_follow_state) VALUES"
             " (1, '" PEER "/actor', 'alice@masto.example', 'masto.example', '" PEER "/inbox',"
             " 1001, 'alice_x', 'linked', now(), true, 'accepted'),"
             " (2, 'https://f.example/u/bob', 'bob@f.example', 'f.example',"
             " 'https://f.example/u/bob/inbox', 1002, 'bob_x', 'linked', now(), false, 'none')");
    pgt_exec(
        "INSERT INTO x_edges (follower_x_id, followee_x_id, member_id) VALUES (1002, 1001, 2)");
    create(&it[0], &app, 200, 200);
    create(&it[1], &app, 201, 201);
    create(&it[2], &app, 202, 200); /* another activity for object 200 */
    add_all(g, it, 3);
    is_int((int)pgt_num("SELECT count(*) FROM relayed_objects WHERE object_id IN ('" PEER
                        "/n/200', '" PEER "/n/201')"),
           2, "both objects remembered once");
    is_int((int)pgt_num("SELECT count(*) FROM activities WHERE payload LIKE '%%\"Announce\"%%'"), 2,
           "one Announce each, the second copy of an object none");
    is_int((int)pgt_num("SELECT count(*) FROM deliveries d JOIN activities a ON a.id ="
                        " d.activity_id WHERE a.payload LIKE '%%\"Announce\"%%'"
                        " AND d.inbox = 'https://f.example/inbox'"),
           2, "each to the instance of the author's X follower");
    items_free(it, 3);

    /* Freed with activities waiting: each answered DB_UNAVAILABLE, once. */
    create(&it[0], &app, 300, 300);
    create(&it[1], &app, 301, 301);
    groupcommit_add(g, &it[0].a, done_cb, &it[0]);
    groupcommit_add(g, &it[1].a, done_cb, &it[1]);
    groupcommit_free(g);
    ok(it[0].called == 1 && it[0].outcome == DB_UNAVAILABLE && it[1].called == 1 &&
           it[1].outcome == DB_UNAVAILABLE,
       "freed before their turn: DB_UNAVAILABLE");
    items_free(it, 2);

    /* Without a group, each goes alone, as dispatch_activity. */
    create(&it[0], &app, 400, 400);
    add_all(NULL, it, 1);
    is_str(it[0].result, "publication", "no group: dispatched alone");
    items_free(it, 1);
    groupcommit_free(NULL);

    db_free(app.db);
    app_free_ids(&app);
    config_free(&cfg);
    metrics_free();
    pgt_teardown();
    return done_testing();
}
