/*
 * Unit tests for server/reconnect/followlist.c: finding our list among a member's lists by its
 * title, reading Mastodon's "already in the list", and which grants' scopes allow the list
 * (FOLLOWLIST_GRANT_SCOPES, evaluated on PostgreSQL). The worker itself runs against the
 * Mastodon double in tests/integration/lists.test.mjs.
 */
#include <string.h>

#include <json-c/json.h>

#include "followlist.h"
#include "pgtest.h"
#include "tap.h"
#include "texts.h"

static const char *
find(const char *json)
{
    static char out[200];
    static const char *const titles[] = { "Former X contacts", "Anciens contacts X" };
    struct json_object *lists = json_tokener_parse(json);
    const char *id = followlist_find(lists, titles, 2);

    snprintf(out, sizeof(out), "%s", id != NULL ? id : "(none)");
    json_object_put(lists);
    return out;
}

static void
test_find(void)
{
    is_str(find("[]"), "(none)", "no list");
    is_str(find("[{\"id\":\"7\",\"title\":\"Friends\",\"replies_policy\":\"list\"}]"), "(none)",
           "another title");
    is_str(find("[{\"id\":\"7\",\"title\":\"Friends\"},{\"id\":\"9\",\"title\":\"Former X "
                "contacts\",\"replies_policy\":\"list\",\"exclusive\":false}]"),
           "9", "ours among others");
    is_str(find("[{\"id\":\"01HZX2ABCDEF\",\"title\":\"Anciens contacts X\"}]"), "01HZX2ABCDEF",
           "in another language, a GoToSocial ULID");
    is_str(find("[{\"id\":\"../x\",\"title\":\"Former X contacts\"},"
                "{\"id\":\"12\",\"title\":\"Former X contacts\"}]"),
           "12", "an id that is no plain token is passed over");
    is_str(find("[{\"id\":12,\"title\":\"Former X contacts\"}]"), "(none)", "a number id is no id");
    is_str(find("[{\"id\":\"3\",\"title\":\"former x contacts\"}]"), "(none)",
           "the title exactly, not another one like it");
    is_str(find("{\"id\":\"3\",\"title\":\"Former X contacts\"}"), "(none)", "not an array");
    ok(followlist_find(NULL, NULL, 0) == NULL, "nothing");
}

static void
test_already_in(void)
{
    static const char taken[] = "{\"error\":\"Validation failed: Account has already been taken\"}";
    static const char unfollowed[] =
        "{\"error\":\"Validation failed: Account must be a followed account\"}";

    ok(followlist_already_in(taken, strlen(taken)), "already been taken: in the list");
    ok(!followlist_already_in(unfollowed, strlen(unfollowed)), "not followed: not in it");
    ok(!followlist_already_in("<html>", 6), "not JSON");
    ok(!followlist_already_in(NULL, 0), "no body");
}

static void
test_titles(void)
{
    is_str(texts_get("en", FOLLOWLIST_TITLE_KEY), "Former X contacts", "the English title");
    is_str(texts_get("fr", FOLLOWLIST_TITLE_KEY), "Anciens contacts X", "the French title");
    for (size_t i = 0; i < texts_lang_count(); i++) {
        const char *lang = texts_lang_at(i), *title = texts_find(lang, FOLLOWLIST_TITLE_KEY);

        ok(title != NULL && *title != '\0' && strlen(title) <= 30,
           "%s: a title of its own, short enough for any server (GoToSocial: 30)", lang);
    }
}

/* Whether a grant with these scopes may make and fill the list. */
static const char *
allows(const char *scopes)
{
    return pgt_str("SELECT " FOLLOWLIST_GRANT_SCOPES " FROM (SELECT %s::text AS scopes) g", scopes);
}

static void
test_scopes(void)
{
    is_str(allows("'read:accounts read:search write:follows read:lists write:lists'"), "t",
           "what we ask now");
    is_str(allows("'read write follow'"), "t", "read and write cover the lists");
    is_str(allows("'read:accounts read:search write:follows'"), "f", "a grant from before");
    is_str(allows("'read:lists'"), "f", "reading only");
    is_str(allows("'write:lists read:listsx'"), "f", "a scope is a whole word");
    is_str(allows("NULL"), "f", "no grant");
}

int
main(void)
{
    pgt_setup("followlist");
    test_find();
    test_already_in();
    test_titles();
    test_scopes();
    pgt_teardown();
    return done_testing();
}
