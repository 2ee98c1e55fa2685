/* Unit tests for activitypub/move.c: what a Move must say, the alsoKnownAs proof, the merge rule.
 */
#include <string.h>

#include <json-c/json.h>

#include "move.h"
#include "tap.h"

#define OLD "https://old.example/users/ann"
#define NEW "https://new.example/users/ann"

static const char *
target_of(const char *json, const char **why)
{
    static struct json_object *o;
    const char *t;

    json_object_put(o);
    o = json_tokener_parse(json);
    t = move_target(o, OLD, why);
    return t;
}

static void
test_target(void)
{
    const char *why = NULL, *t;

    t = target_of("{\"type\":\"Move\",\"object\":\"" OLD "\",\"target\":\"" NEW "\"}", &why);
    ok(t != NULL && strcmp(t, NEW) == 0 && why == NULL, "object the actor, target a URL");
    t = target_of("{\"object\":{\"id\":\"" OLD "\",\"type\":\"Person\"},"
                  "\"target\":{\"id\":\"" NEW "\",\"type\":\"Person\"}}",
                  &why);
    ok(t != NULL && strcmp(t, NEW) == 0, "embedded object and target: their ids");
    t = target_of("{\"object\":\"https://old.example/users/bob\",\"target\":\"" NEW "\"}", &why);
    ok(t == NULL && strcmp(why, "object_not_actor") == 0,
       "an actor moving another account: refused (%s)", why);
    t = target_of("{\"target\":\"" NEW "\"}", &why);
    ok(t == NULL && strcmp(why, "object_not_actor") == 0, "no object: refused");
    t = target_of("{\"object\":\"" OLD "\"}", &why);
    ok(t == NULL && strcmp(why, "no_target") == 0, "no target: refused");
    t = target_of("{\"object\":\"" OLD "\",\"target\":\"acct:ann@new.example\"}", &why);
    ok(t == NULL && strcmp(why, "no_target") == 0, "a target that is not an http(s) URL");
    t = target_of("{\"object\":\"" OLD "\",\"target\":\"" NEW "#main-key\"}", &why);
    ok(t == NULL && strcmp(why, "no_target") == 0, "a target with a fragment");
    t = target_of("{\"object\":\"" OLD "\",\"target\":[\"" NEW "\"]}", &why);
    ok(t == NULL && strcmp(why, "no_target") == 0, "an array as target");
    t = target_of("{\"object\":\"" OLD "\",\"target\":\"" OLD "\"}", &why);
    ok(t == NULL && strcmp(why, "target_is_actor") == 0, "a move onto itself");
    target_of("{}", &why); /* frees the last document */
}

static void
test_aliases(void)
{
    const char *one[] = { NEW, OLD };
    const char *other[] = { "https://old.example/users/ann2", "https://old.example/users/an" };

    ok(move_aliases_hold(one, 2, OLD), "alsoKnownAs holds the origin");
    ok(!move_aliases_hold(other, 2, OLD), "prefixes and near names are not it");
    ok(!move_aliases_hold(one, 0, OLD), "no alsoKnownAs");
    ok(!move_aliases_hold(NULL, 0, OLD), "none at all");
    ok(!move_aliases_hold(one, 1, OLD), "only the first n are read");
}

static void
test_plan(void)
{
    is_int(move_plan(1, 5, 0, 0, 0), MOVE_CARRY, "no member at the new actor: carried");
    is_int(move_plan(0, 5, 0, 0, 0), MOVE_CARRY, "unclaimed, nobody there: carried");
    is_int(move_plan(1, 5, 1, 1, 3), MOVE_REFUSE_TWO, "two claims: refused");
    is_int(move_plan(1, 9, 1, 0, 3), MOVE_CARRY, "the claim wins over an older unclaimed row");
    is_int(move_plan(0, 3, 1, 1, 9), MOVE_ABSORB, "the new actor's claim is kept");
    is_int(move_plan(0, 3, 1, 0, 9), MOVE_CARRY, "no claim: the older (moving) row is kept");
    is_int(move_plan(0, 9, 1, 0, 3), MOVE_ABSORB, "no claim: the older (new actor's) row is kept");
}

int
main(void)
{
    test_target();
    test_aliases();
    test_plan();
    return done_testing();
}
