/* Unit tests for activitypub/relay.c: what each incoming activity asks of the relay. */
#include <json-c/json.h>

#include "relay.h"
#include "tap.h"

#define RELAY  "https://relay.example/actor"
#define BRIDGE "https://relay.example/users/passerelle"
#define ACTOR  "https://masto.example/actor"

static enum relay_action
classify(const char *json)
{
    struct json_object *o = json_tokener_parse(json);
    struct json_object *t = NULL, *a = NULL;
    enum relay_action r;

    json_object_object_get_ex(o, "type", &t);
    json_object_object_get_ex(o, "actor", &a);
    r = relay_classify(o, json_object_get_string(t), json_object_get_string(a), RELAY, BRIDGE);
    json_object_put(o);
    return r;
}

int
main(void)
{
    is_int(relay_is_public("https://www.w3.org/ns/activitystreams#Public"), 1, "Public URI");
    is_int(relay_is_public("as:Public"), 1, "as:Public compact form");
    is_int(relay_is_public("Public"), 1, "bare Public");
    is_int(relay_is_public("https://www.w3.org/ns/activitystreams#public"), 0, "case matters");
    is_int(relay_is_public(NULL), 0, "NULL");

    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\","
                    "\"object\":\"https://www.w3.org/ns/activitystreams#Public\"}"),
           RELAY_SUBSCRIBE, "Follow of Public: Mastodon subscription");
    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\",\"object\":\"" RELAY "\"}"),
           RELAY_SUBSCRIBE_LP, "Follow of the relay actor: LitePub subscription");
    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\",\"object\":{\"id\":\"" RELAY
                    "\",\"type\":\"Application\"}}"),
           RELAY_SUBSCRIBE_LP, "Follow of an embedded relay actor");
    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\",\"object\":\"" BRIDGE "\"}"),
           RELAY_JOIN, "Follow of the bridge account: join");
    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\",\"object\":\"" RELAY "x\"}"),
           RELAY_IGNORE, "Follow of something else is ignored");
    is_int(classify("{\"type\":\"Follow\",\"actor\":\"" ACTOR "\"}"), RELAY_IGNORE,
           "Follow without object");
    is_int(classify("{\"type\":\"Undo\",\"actor\":\"" ACTOR "\",\"object\":{\"type\":\"Follow\","
                    "\"id\":\"https://masto.example/f1\"}}"),
           RELAY_UNDO_FOLLOW, "Undo of an embedded Follow");
    is_int(classify("{\"type\":\"Undo\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://masto.example/f1\"}"),
           RELAY_UNDO_FOLLOW, "Undo by id");
    is_int(classify("{\"type\":\"Undo\",\"actor\":\"" ACTOR "\",\"object\":{\"type\":\"Like\","
                    "\"id\":\"https://masto.example/l1\"}}"),
           RELAY_IGNORE, "Undo of a Like is ignored");
    is_int(classify("{\"type\":\"Accept\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://relay.example/activities/ab\"}"),
           RELAY_FOLLOW_ANSWERED, "Accept of our Follow");
    is_int(classify("{\"type\":\"Reject\",\"actor\":\"" ACTOR "\",\"object\":{\"id\":"
                    "\"https://relay.example/activities/ab\",\"type\":\"Follow\"}}"),
           RELAY_FOLLOW_ANSWERED, "Reject with the Follow embedded");
    is_int(classify("{\"type\":\"Delete\",\"actor\":\"" ACTOR "\",\"object\":\"" ACTOR "\"}"),
           RELAY_ACTOR_DELETED, "Delete of the actor itself");
    is_int(classify("{\"type\":\"Delete\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://masto.example/notes/1\"}"),
           RELAY_PUBLICATION, "Delete of a note is a publication");
    is_int(classify("{\"type\":\"Delete\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://other.example/actor\"}"),
           RELAY_PUBLICATION, "Delete of someone else is not an actor deletion");
    is_int(classify("{\"type\":\"Create\",\"actor\":\"" ACTOR "\",\"object\":{}}"),
           RELAY_PUBLICATION, "Create");
    is_int(classify("{\"type\":\"Announce\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://masto.example/notes/1\"}"),
           RELAY_PUBLICATION, "Announce");
    is_int(classify("{\"type\":\"Like\",\"actor\":\"" ACTOR
                    "\",\"object\":\"https://masto.example/notes/1\"}"),
           RELAY_IGNORE, "Like is ignored");
    return done_testing();
}
