/* Tests of activitypub/dispatch.c: what each activity asks of us, and how a dispatch ends. */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "activity.h"
#include "app.h"
#include "config.h"
#include "db.h"
#include "dispatch.h"
#include "pgtest.h"
#include "tap.h"

#define RELAY  "https://relay.example/actor"
#define BRIDGE "https://relay.example/users/passerelle"
#define ACTOR  "https://masto.example/actor"

static enum dispatch_action
classify(const char *json)
{
    struct json_object *o = json_tokener_parse(json);
    struct json_object *t = NULL, *a = NULL;
    enum dispatch_action r;

    json_object_object_get_ex(o, "type", &t);
    json_object_object_get_ex(o, "actor", &a);
    r = dispatch_classify(o, json_object_get_string(t), json_object_get_string(a), RELAY, BRIDGE);
    json_object_put(o);
    return r;
}

static void
test_classify(void)
{
    is_int(activity_is_public("https://www.w3.org/ns/activitystreams#Public"), 1, "Public URI");
    is_int(activity_is_public("as:Public"), 1, "as:Public compact form");
    is_int(activity_is_public("Public"), 1, "bare Public");
    is_int(activity_is_public("https://www.w3.org/ns/activitystreams#public"), 0, "case matters");
    is_int(activity_is_public(NULL), 0, "NULL");

    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\","
                    "\"object\":\"https://www.w3.org/ns/activitystreams#Public\"}"),
           DISPATCH_SUBSCRIBE, "Follow of Public: Mastodon subscription");
    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\",\"object\":\"" RELAY "\"}"),
           DISPATCH_SUBSCRIBE_LP, "Follow of the relay actor: LitePub subscription");
    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\",\"object\":{\"id\":\"" RELAY
                    "\",\"type\":\"Application\"}}"),
           DISPATCH_SUBSCRIBE_LP, "Follow of an embedded relay actor");
    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\",\"object\":\"" BRIDGE "\"}"),
           DISPATCH_JOIN, "Follow of the bridge account: join");
    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\",\"object\":\"" RELAY "x\"}"),
           DISPATCH_IGNORE, "Follow of something else is ignored");
    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\"}"), DISPATCH_IGNORE,
           "Follow without object");
    is_int(classify("{\"type\":\"Undo\",\"actor\":\"" ACTOR "\",\"object\":{\"type\":\"Follow\","
                    "\"id\":\"https://masto.example/f1\"}}"),
           DISPATCH_UNDO_FOLLOW, "Undo of an embedded Follow");
    is_int(classify("{\"type\":\"Undo\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://masto.example/f1\"}"),
           DISPATCH_UNDO_FOLLOW, "Undo by id");
    is_int(classify("{\"type\":\"Undo\",\"actor\":\"" ACTOR "\",\"object\":{\"type\":\"Like\","
                    "\"id\":\"https://masto.example/l1\"}}"),
           DISPATCH_IGNORE, "Undo of a Like is ignored");
    is_int(classify("{\"type\":\"Accept\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://relay.example/activities/ab\"}"),
           DISPATCH_FOLLOW_ANSWERED, "Accept of our Follow");
    is_int(classify("{\"type\":\"Reject\",\"actor\":\"" ACTOR "\",\"object\":{\"id\":"
                    "\"https://relay.example/activities/ab\",\"type\":\"Follow\"}}"),
           DISPATCH_FOLLOW_ANSWERED, "Reject with the Follow embedded");
    is_int(classify("{\"type\":\"Delete\",\"actor\":\"" ACTOR "\",\"object\":\"" ACTOR "\"}"),
           DISPATCH_ACTOR_DELETED, "Delete of the actor itself");
    is_int(classify("{\"type\":\"Delete\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://masto.example/notes/1\"}"),
           DISPATCH_PUBLICATION, "Delete of a note is a publication");
    is_int(classify("{\"type\":\"Delete\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://other.example/actor\"}"),
           DISPATCH_PUBLICATION, "Delete of someone else is not an actor deletion");
    is_int(classify("{\"type\":\"Create\",\"actor\":\"" ACTOR "\",\"object\":{}}"),
           DISPATCH_PUBLICATION, "Create");
    is_int(classify("{\"type\":\"Announce\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://masto.example/notes/1\"}"),
           DISPATCH_PUBLICATION, "Announce");
    is_int(classify("{\"type\":\"Like\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://masto.example/notes/1\"}"),
           DISPATCH_IGNORE, "Like is ignored");
}

/* --- the done-callback, on a real PostgreSQL ------------------------------------------------ */

#define BASE "https://relay.example"
#define PEER "https://masto.example"

static int in_dispatch;

/* What the done-callback saw. */
struct seen {
    int called;
    int sync; /* called from inside dispatch_activity */
    enum db_outcome outcome;
    char result[64];
};

static void
done_cb(enum db_outcome outcome, const char *result, void *arg)
{
    struct seen *s = arg;

    s->called++;
    s->sync = in_dispatch;
    s->outcome = outcome;
    snprintf(s->result, sizeof(s->result), "%s", result != NULL ? result : "(null)");
}

/* Runs the loop until s is called (at most 10 s), then a little longer for a second call. */
static void
wait_for(const struct seen *s)
{
    struct timeval tv = { 0, 50000 };

    PGT_SPIN(s->called != 0, 10);
    event_base_loopexit(pgt_base, &tv);
    event_base_dispatch(pgt_base);
}

/* Dispatches the activity json (its actor PEER/actor, on the host masto.example). */
static void
dispatch(struct app *app, const char *json, int allowed, struct seen *s)
{
    struct activity_in a = { 0 };
    struct json_object *v;

    memset(s, 0, sizeof(*s));
    a.app = app;
    a.json = json_tokener_parse(json);
    a.body = json;
    a.body_len = strlen(json);
    json_object_object_get_ex(a.json, "id", &v);
    a.id = json_object_get_string(v);
    json_object_object_get_ex(a.json, "type", &v);
    a.type = json_object_get_string(v);
    a.actor = PEER "/actor";
    snprintf(a.domain, sizeof(a.domain), "masto.example");
    a.allowed = allowed;
    a.actor_inbox = PEER "/inbox";
    a.actor_shared = PEER "/shared";
    a.actor_type = "Application";
    a.actor_username = "relay";
    in_dispatch = 1;
    dispatch_activity(&a, done_cb, s);
    in_dispatch = 0;
    wait_for(s);
    json_object_put(a.json);
}

/* 1 when sql ran: a statement whose success is itself checked. */
static int
sql_ok(const char *sql)
{
    PGresult *r = PQexec(pgt_pg, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

    if (!ok)
        printf("# %s: %s", sql, PQerrorMessage(pgt_pg));
    PQclear(r);
    return ok;
}

#define FOLLOW_PUBLIC(id)                                                                          \
    "{\"id\":\"" PEER "/" id "\",\"type\":\"Follow\",\"actor\":\"" PEER "/actor\","                \
    "\"object\":\"https://www.w3.org/ns/activitystreams#Public\"}"

static void
test_outcomes(struct app *app)
{
    struct seen s;

    dispatch(app, FOLLOW_PUBLIC("f1"), 1, &s);
    is_int(s.called, 1, "subscribe: done called once");
    ok(!s.sync, "subscribe: done not called from inside dispatch_activity");
    is_int(s.outcome, DB_OK, "subscribe: DB_OK");
    is_str(s.result, "accepted", "subscribe: result accepted");
    is_str(pgt_str("SELECT relay_state FROM instances WHERE domain = 'masto.example'"), "accepted",
           "subscribe: the subscription is committed before done");
    is_str(pgt_str("SELECT count(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id"
                   " WHERE d.inbox = '" PEER "/inbox' AND a.payload LIKE '%%\"Accept\"%%'"),
           "1", "subscribe: the Accept is queued in the same transaction");

    dispatch(app, FOLLOW_PUBLIC("f1"), 1, &s);
    is_int(s.called, 1, "redelivery: done called once");
    is_int(s.outcome, DB_OK, "redelivery: DB_OK");
    is_str(s.result, "duplicate", "redelivery: result duplicate");
    is_str(pgt_str("SELECT count(*) FROM deliveries"), "1", "redelivery: nothing more queued");

    sql_ok("UPDATE instances SET relay_state = 'unsubscribed' WHERE domain = 'masto.example'");
    dispatch(app, FOLLOW_PUBLIC("f2"), 0, &s);
    is_int(s.outcome, DB_OK, "not allowed: DB_OK");
    is_str(s.result, "pending", "not allowed: result pending");
    is_str(pgt_str("SELECT relay_state FROM instances WHERE domain = 'masto.example'"), "pending",
           "not allowed: the subscription waits");

    dispatch(app,
             "{\"id\":\"" PEER "/l1\",\"type\":\"Like\",\"actor\":\"" PEER
             "/actor\",\"object\":\"" PEER "/notes/1\"}",
             1, &s);
    is_int(s.outcome, DB_OK, "Like: DB_OK");
    is_str(s.result, "ignored", "Like: result ignored");

    dispatch(app,
             "{\"id\":\"" PEER "/c1\",\"type\":\"Create\",\"actor\":\"" PEER
             "/actor\",\"object\":{}}",
             1, &s);
    is_int(s.outcome, DB_OK, "Create: DB_OK");
    is_str(s.result, "publication", "Create: result publication");

    dispatch(app,
             "{\"id\":\"" PEER "/f3\",\"type\":\"Follow\",\"actor\":\"" PEER
             "/actor\",\"object\":\"" BASE "/x/12345\"}",
             1, &s);
    is_int(s.outcome, DB_OK, "Follow of a stand-in: DB_OK");
    is_str(s.result, "standin_follow", "Follow of a stand-in: result standin_follow");

    /* A statement that fails rolls everything back and says so. */
    ok(sql_ok("ALTER TABLE seen_activity_ids RENAME TO seen_moved"), "seen ids hidden");
    dispatch(app, FOLLOW_PUBLIC("f4"), 1, &s);
    is_int(s.called, 1, "failed statement: done called once");
    is_int(s.outcome, DB_ERROR, "failed statement: DB_ERROR");
    is_str(s.result, "error", "failed statement: result error");
    ok(sql_ok("ALTER TABLE seen_moved RENAME TO seen_activity_ids"), "seen ids back");
    dispatch(app, FOLLOW_PUBLIC("f4"), 1, &s);
    is_str(s.result, "accepted", "after the failure the same activity is new: nothing stayed");
}

int
main(void)
{
    char err[512];
    struct config cfg;
    struct app app = { 0 };
    struct seen s;

    test_classify();
    pgt_setup("dispatch");

    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", BASE, err, sizeof(err)) < 0 ||
        config_set(&cfg, "relay_mode", "allowlist", err, sizeof(err)) < 0) {
        printf("Bail out! config: %s\n", err);
        return 1;
    }
    app.base = pgt_base;
    app.cfg = &cfg;
    app_init_ids(&app);
    app.db = pgt_db(2);
    test_outcomes(&app);
    db_free(app.db);

    /* No database at all: the caller hears DB_UNAVAILABLE (the inbox answers 503). */
    app.db = db_new(pgt_base, "host=127.0.0.1 port=1 connect_timeout=2", 1, migrate_latest(),
                    pgt_fatal_cb, NULL);
    dispatch(&app, FOLLOW_PUBLIC("f5"), 1, &s);
    is_int(s.called, 1, "no database: done called once");
    ok(!s.sync, "no database: done not called from inside dispatch_activity");
    is_int(s.outcome, DB_UNAVAILABLE, "no database: DB_UNAVAILABLE");
    is_str(s.result, "unavailable", "no database: result unavailable");
    db_free(app.db);

    app_free_ids(&app);
    config_free(&cfg);
    pgt_teardown();
    return done_testing();
}
