/* Unit tests for activitypub/activity.c: the shape of every activity our actors author. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "activity.h"
#include "tap.h"

#define BASE     "https://relay.example"
#define RELAY    BASE "/actor"
#define FOLLOWER "https://masto.example/actor"
#define FOLLOWID "https://masto.example/1c9a0e2b-uuid"
#define FOLLOWRS BASE "/actor/followers"

/* Borrowed member at a dotted path ("object.actor"), or NULL. */
static struct json_object *
test_get(struct json_object *obj, const char *dotted)
{
    char part[64];
    struct json_object *cur = obj;

    while (cur != NULL && *dotted != '\0') {
        size_t n = strcspn(dotted, ".");
        struct json_object *next = NULL;

        snprintf(part, sizeof(part), "%.*s", (int)n, dotted);
        if (!json_object_is_type(cur, json_type_object) ||
            !json_object_object_get_ex(cur, part, &next))
            next = NULL;
        cur = next;
        dotted += n + (dotted[n] == '.');
    }
    return cur;
}

/* The string at a path, or "(none)" so that is_str never sees NULL. */
static const char *
test_str(struct json_object *obj, const char *dotted)
{
    struct json_object *v = test_get(obj, dotted);

    return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                 : "(none)";
}

/* 1 when the value at path is an array of exactly the one string want. */
static int
test_one_of(struct json_object *obj, const char *dotted, const char *want)
{
    struct json_object *v = test_get(obj, dotted), *e;

    if (v == NULL || !json_object_is_type(v, json_type_array) || json_object_array_length(v) != 1)
        return 0;
    e = json_object_array_get_idx(v, 0);
    return json_object_is_type(e, json_type_string) && strcmp(json_object_get_string(e), want) == 0;
}

static int
test_nkeys(struct json_object *obj)
{
    return obj != NULL && json_object_is_type(obj, json_type_object)
               ? json_object_object_length(obj)
               : -1;
}

/* base/activities/ followed by exactly 32 lowercase hex digits. */
static int
test_id_ok(const char *id)
{
    const char *prefix = BASE "/activities/";
    size_t n = strlen(prefix);

    if (strncmp(id, prefix, n) != 0 || strlen(id + n) != 32)
        return 0;
    for (const char *p = id + n; *p; p++)
        if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
            return 0;
    return 1;
}

/* YYYY-MM-DDTHH:MM:SSZ. */
static int
test_rfc3339(const char *s)
{
    const char *shape = "dddd-dd-ddTdd:dd:ddZ";

    if (strlen(s) != strlen(shape))
        return 0;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    return strncmp(s, "20", 2) == 0;
}

static void
test_new_id(void)
{
    char a[128], b[128], tiny[20];

    ok(activity_new_id(BASE, a, sizeof(a)) == 0 && test_id_ok(a), "id shape: %s", a);
    ok(activity_new_id(BASE, b, sizeof(b)) == 0 && strcmp(a, b) != 0, "two ids differ");
    ok(activity_new_id(BASE, tiny, sizeof(tiny)) < 0, "too small a buffer refused");
    ok(activity_new_id(BASE, a, strlen(BASE "/activities/") + 32) < 0,
       "one byte short (no room for the NUL) refused");
    ok(activity_new_id(BASE, a, strlen(BASE "/activities/") + 33) == 0, "exact fit accepted");
}

static void
test_answer(const char *type)
{
    struct json_object *a =
        strcmp(type, "Accept") == 0
            ? activity_accept_new(BASE, RELAY, FOLLOWER, FOLLOWID, ACTIVITY_PUBLIC)
            : activity_reject_new(BASE, RELAY, FOLLOWER, FOLLOWID, ACTIVITY_PUBLIC);

    ok(a != NULL, "%s built", type);
    is_str(test_str(a, "@context"), "https://www.w3.org/ns/activitystreams", "%s @context", type);
    is_str(test_str(a, "type"), type, "%s type", type);
    ok(test_id_ok(test_str(a, "id")), "%s id on our host: %s", type, test_str(a, "id"));
    is_str(test_str(a, "actor"), RELAY, "%s actor is the relay", type);
    ok(test_one_of(a, "to", FOLLOWER), "%s to is [follower]", type);
    is_int(test_nkeys(a), 6, "%s has exactly @context id type actor to object", type);
    is_int(test_nkeys(test_get(a, "object")), 4, "%s embedded Follow has four fields", type);
    is_str(test_str(a, "object.id"), FOLLOWID, "%s embeds the Follow id", type);
    is_str(test_str(a, "object.type"), "Follow", "%s embeds type Follow", type);
    is_str(test_str(a, "object.actor"), FOLLOWER, "%s embedded actor is the follower", type);
    is_str(test_str(a, "object.object"), ACTIVITY_PUBLIC, "%s embedded object", type);
    json_object_put(a);
}

static void
test_answer_litepub(void)
{
    struct json_object *a = activity_accept_new(BASE, RELAY, "https://pl.example/relay",
                                                "https://pl.example/activities/f1", RELAY);

    is_str(test_str(a, "object.object"), RELAY, "LitePub Accept embeds the relay as object");
    is_str(test_str(a, "object.actor"), "https://pl.example/relay", "LitePub embedded actor");
    json_object_put(a);
}

static void
test_follow_undo(void)
{
    struct json_object *f = activity_follow_new(BASE, RELAY, "https://pl.example/relay");
    struct json_object *u;

    is_str(test_str(f, "type"), "Follow", "Follow type");
    ok(test_id_ok(test_str(f, "id")), "Follow id on our host");
    is_str(test_str(f, "actor"), RELAY, "Follow actor");
    is_str(test_str(f, "object"), "https://pl.example/relay", "Follow object");
    ok(test_one_of(f, "to", "https://pl.example/relay"), "Follow to is [object]");
    is_str(test_str(f, "@context"), "https://www.w3.org/ns/activitystreams", "Follow @context");

    u = activity_undo_new(BASE, RELAY, f);
    is_str(test_str(u, "type"), "Undo", "Undo type");
    is_str(test_str(u, "actor"), RELAY, "Undo actor");
    ok(test_id_ok(test_str(u, "id")) && strcmp(test_str(u, "id"), test_str(f, "id")) != 0,
       "Undo has its own id");
    is_str(test_str(u, "object.id"), test_str(f, "id"), "Undo embeds the Follow by id");
    is_str(test_str(u, "object.type"), "Follow", "Undo embeds the Follow");
    ok(test_get(u, "object") != f, "the inner object is a copy");
    /* Changing the original after the fact must not show through the Undo. */
    json_object_object_add(f, "object", json_object_new_string("changed"));
    is_str(test_str(u, "object.object"), "https://pl.example/relay", "deep copy");
    json_object_put(f);
    is_str(test_str(u, "object.actor"), RELAY, "the copy outlives the original");
    json_object_put(u);
}

static void
test_note(void)
{
    struct json_object *c =
        activity_note_new(BASE, RELAY, FOLLOWRS, "Maintenance at 20:00 <UTC> & \"soon\"\n'ok'");
    const char *published;

    is_str(test_str(c, "type"), "Create", "Create type");
    ok(test_id_ok(test_str(c, "id")), "Create id on our host");
    is_str(test_str(c, "actor"), RELAY, "Create actor");
    is_str(test_str(c, "attributedTo"), RELAY, "Create attributedTo");
    ok(test_one_of(c, "to", ACTIVITY_PUBLIC), "Create to is [Public]");
    ok(test_one_of(c, "cc", FOLLOWRS), "Create cc is [followers]");
    is_str(test_str(c, "object.type"), "Note", "Note type");
    ok(test_id_ok(test_str(c, "object.id")), "Note id on our host");
    ok(strcmp(test_str(c, "object.id"), test_str(c, "id")) != 0, "Note and Create ids differ");
    is_str(test_str(c, "object.attributedTo"), RELAY, "Note attributedTo");
    ok(test_one_of(c, "object.to", ACTIVITY_PUBLIC), "Note to is [Public]");
    ok(test_one_of(c, "object.cc", FOLLOWRS), "Note cc is [followers]");
    is_str(test_str(c, "object.content"),
           "<p>Maintenance at 20:00 &lt;UTC&gt; &amp; &quot;soon&quot;<br>&#39;ok&#39;</p>",
           "content escaped, newline as <br>, in <p>");
    published = test_str(c, "published");
    ok(test_rfc3339(published), "published is RFC 3339 UTC: %s", published);
    is_str(test_str(c, "object.published"), published, "Note published equals Create's");
    json_object_put(c);

    c = activity_note_new(BASE, RELAY, FOLLOWRS, "a\r\nb\rc\n\nd");
    is_str(test_str(c, "object.content"), "<p>a<br>b<br>c<br><br>d</p>",
           "CRLF and CR are one break each");
    json_object_put(c);
    c = activity_note_new(BASE, RELAY, FOLLOWRS, "");
    is_str(test_str(c, "object.content"), "<p></p>", "empty text");
    json_object_put(c);
    c = activity_note_new(BASE, RELAY, FOLLOWRS, "\"\"\"\"");
    is_str(test_str(c, "object.content"), "<p>&quot;&quot;&quot;&quot;</p>",
           "worst-case growth fits");
    json_object_put(c);
}

static void
test_announce(void)
{
    struct json_object *a =
        activity_announce_new(BASE, RELAY, FOLLOWRS, "https://masto.example/notes/1");

    is_str(test_str(a, "type"), "Announce", "Announce type");
    ok(test_id_ok(test_str(a, "id")), "Announce id on our host");
    is_str(test_str(a, "actor"), RELAY, "Announce actor");
    is_str(test_str(a, "object"), "https://masto.example/notes/1", "Announce object is the id");
    ok(test_one_of(a, "to", ACTIVITY_PUBLIC), "Announce to is [Public]");
    ok(test_one_of(a, "cc", FOLLOWRS), "Announce cc is [followers]");
    ok(test_rfc3339(test_str(a, "published")), "Announce published");
    json_object_put(a);
}

static void
test_nulls(void)
{
    struct json_object *f = activity_follow_new(BASE, RELAY, FOLLOWER);

    ok(activity_accept_new(NULL, RELAY, FOLLOWER, FOLLOWID, ACTIVITY_PUBLIC) == NULL,
       "Accept without base");
    ok(activity_accept_new(BASE, RELAY, FOLLOWER, NULL, ACTIVITY_PUBLIC) == NULL,
       "Accept without follow id");
    ok(activity_reject_new(BASE, RELAY, FOLLOWER, FOLLOWID, NULL) == NULL,
       "Reject without follow object");
    ok(activity_follow_new(BASE, NULL, FOLLOWER) == NULL, "Follow without actor");
    ok(activity_undo_new(BASE, RELAY, NULL) == NULL, "Undo without inner");
    ok(activity_note_new(BASE, RELAY, NULL, "x") == NULL, "note without followers");
    ok(activity_note_new(BASE, RELAY, FOLLOWRS, NULL) == NULL, "note without content");
    ok(activity_announce_new(BASE, RELAY, FOLLOWRS, NULL) == NULL, "Announce without object");
    ok(activity_new_id(NULL, (char[8]){ 0 }, 8) < 0, "id without base");
    json_object_put(f);
}

/* Many ids from every builder: none repeats. */
static void
test_unique(void)
{
    enum { N = 500 };
    static char ids[N][128];
    int dup = 0;

    for (int i = 0; i < N; i++) {
        struct json_object *a = (i % 2) ? activity_follow_new(BASE, RELAY, FOLLOWER)
                                        : activity_announce_new(BASE, RELAY, FOLLOWRS, FOLLOWID);

        snprintf(ids[i], sizeof(ids[i]), "%s", test_str(a, "id"));
        json_object_put(a);
    }
    for (int i = 0; i < N && !dup; i++)
        for (int j = i + 1; j < N && !dup; j++)
            dup = strcmp(ids[i], ids[j]) == 0;
    ok(!dup, "%d ids, all distinct", N);
}

static void
test_username(void)
{
    char longest[ACTIVITY_USERNAME_MAX + 2];
    const char *good[] = { "alice", "Alice_99",         "_", "a.b", "jean-luc", "a..b",
                           "a.-b",  "user.bsky.social", "0" };
    const char *bad[] = { "",
                          ".alice",
                          "alice.",
                          "-alice",
                          "alice-",
                          "al ice",
                          "alice@example.com",
                          "jack@twitter.com (official)",
                          "=HYPERLINK(\"https://evil.example\")",
                          "al\"ice",
                          "<b>alice</b>",
                          "al\nice",
                          "\xc3\xa9lodie",
                          "a/b",
                          "a:b" };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok(activity_username_ok(good[i]), "username \"%s\" accepted", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(!activity_username_ok(bad[i]), "username \"%s\" refused", bad[i]);
    ok(!activity_username_ok(NULL), "NULL refused");
    memset(longest, 'a', sizeof(longest));
    longest[ACTIVITY_USERNAME_MAX] = '\0';
    ok(activity_username_ok(longest), "%d characters accepted", ACTIVITY_USERNAME_MAX);
    longest[ACTIVITY_USERNAME_MAX] = 'a';
    longest[ACTIVITY_USERNAME_MAX + 1] = '\0';
    ok(!activity_username_ok(longest), "%d refused", ACTIVITY_USERNAME_MAX + 1);
}

int
main(void)
{
    test_username();
    test_new_id();
    test_answer("Accept");
    test_answer("Reject");
    test_answer_litepub();
    test_follow_undo();
    test_note();
    test_announce();
    test_nulls();
    test_unique();
    return done_testing();
}
