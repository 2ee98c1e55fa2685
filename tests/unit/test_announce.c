/* Unit tests for activitypub/relay/announce.c: which incoming posts the targeted relay may
 * announce. */
#include <string.h>

#include <json-c/json.h>

#include "announce.h"
#include "tap.h"

#define ACTOR  "https://masto.example/users/carol"
#define DOMAIN "masto.example"
#define PUB    "\"https://www.w3.org/ns/activitystreams#Public\""
#define FOLL   "\"" ACTOR "/followers\""
#define NOTE   "\"id\":\"https://masto.example/statuses/1\",\"attributedTo\":\"" ACTOR "\""

/* announce_eligible on json: 1 or 0; -1 when json does not parse, -2 when the id is wrong. */
static int
eligible(const char *json, const char **why)
{
    struct json_object *o = json_tokener_parse(json);
    struct json_object *t = NULL;
    const char *id = NULL;
    int r;

    if (o == NULL)
        return -1;
    json_object_object_get_ex(o, "type", &t);
    r = announce_eligible(o, json_object_get_string(t), ACTOR, DOMAIN, &id, why);
    if (r == 1 && (id == NULL || strcmp(id, "https://masto.example/statuses/1") != 0))
        r = -2;
    json_object_put(o);
    return r;
}

static void
case_is(const char *json, int want, const char *name)
{
    const char *why = NULL;
    int r = eligible(json, &why);

    is_int(r, want, "%s (%s)", name, why != NULL ? why : "eligible");
    if (want == 0)
        ok(why != NULL && *why != '\0', "%s: a reason", name);
}

int
main(void)
{
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Note\"," NOTE ",\"to\":[" PUB
            "],\"cc\":[" FOLL "]}}",
            1, "public Note");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Note\"," NOTE ",\"to\":" PUB "}}", 1,
            "to as a string");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Note\"," NOTE ",\"to\":[\"as:Public\"]}}",
            1, "compact as:Public");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Article\"," NOTE ",\"to\":[" PUB "]}}", 1,
            "Article");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Question\"," NOTE ",\"to\":[" PUB "]}}", 1,
            "Question");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Page\"," NOTE ",\"to\":[" PUB "]}}", 1,
            "Page");
    case_is("{\"type\":\"Create\",\"to\":[" PUB "],\"object\":{\"type\":\"Note\"," NOTE "}}", 1,
            "object without addressing: the activity's");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Note\"," NOTE ",\"to\":[" FOLL
            "],\"cc\":[" PUB "]}}",
            0, "unlisted: Public only in cc");
    case_is("{\"type\":\"Create\",\"to\":[" PUB "],\"object\":{\"type\":\"Note\"," NOTE
            ",\"to\":[" FOLL "]}}",
            0, "followers-only object in a public-looking Create");
    case_is("{\"type\":\"Create\",\"to\":[" PUB "],\"object\":{\"type\":\"Note\"," NOTE
            ",\"cc\":[" FOLL "]}}",
            0, "an object with only cc: its own addressing decides");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Note\"," NOTE
            ",\"to\":[\"https://b.example/users/x\"]}}",
            0, "direct");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Note\"," NOTE "}}", 0, "no addressing");
    case_is("{\"type\":\"Announce\",\"object\":\"https://masto.example/statuses/1\",\"to\":[" PUB
            "]}",
            0, "a boost");
    case_is("{\"type\":\"Update\",\"object\":{\"type\":\"Note\"," NOTE ",\"to\":[" PUB "]}}", 0,
            "an edit");
    case_is("{\"type\":\"Create\",\"object\":\"https://masto.example/statuses/1\",\"to\":[" PUB
            "]}",
            0, "object by id only");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Image\"," NOTE ",\"to\":[" PUB "]}}", 0,
            "not a post type");
    case_is(
        "{\"type\":\"Create\",\"object\":{\"type\":\"Note\",\"id\":\"https://other.example/s/1\","
        "\"attributedTo\":\"" ACTOR "\",\"to\":[" PUB "]}}",
        0, "object on another host");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Note\",\"id\":\"https://masto.example/"
            "statuses/1\",\"attributedTo\":\"https://masto.example/users/dave\",\"to\":[" PUB "]}}",
            0, "attributed to someone else");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Note\",\"id\":\"https://masto.example/"
            "statuses/1\",\"attributedTo\":{\"id\":\"" ACTOR "\",\"type\":\"Person\"},\"to\":[" PUB
            "]}}",
            1, "attributedTo embedded");
    case_is("{\"type\":\"Create\",\"object\":{\"type\":\"Note\",\"id\":\"https://masto.example/"
            "statuses/1\",\"to\":[" PUB "]}}",
            0, "no attributedTo");
    return done_testing();
}
