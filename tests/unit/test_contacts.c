/* Unit tests for server/members/contacts.c: page arguments, bodies, statuses, profile links. */
#include <stdlib.h>
#include <string.h>

#include "contacts.h"
#include "tap.h"

static void
test_page_args(void)
{
    struct contacts_page p;

    ok(contacts_page_args("following", NULL, NULL, &p) == 0 && strcmp(p.dir, "following") == 0 &&
           strcmp(p.after, "0") == 0 && strcmp(p.limit, "100") == 0,
       "defaults: from the start, a page of 100");
    ok(contacts_page_args("followers", "12345", "20", &p) == 0 && strcmp(p.dir, "followers") == 0 &&
           strcmp(p.after, "12345") == 0 && strcmp(p.limit, "20") == 0,
       "followers after a cursor, 20");
    ok(contacts_page_args(NULL, NULL, NULL, &p) < 0, "dir is needed");
    ok(contacts_page_args("both", NULL, NULL, &p) < 0, "dir is one of two");
    ok(contacts_page_args("following", "-1", NULL, &p) < 0, "a cursor is digits");
    ok(contacts_page_args("following", "1 OR 1=1", NULL, &p) < 0, "nothing but digits");
    ok(contacts_page_args("following", "1234567890123456789", NULL, &p) < 0,
       "a cursor fits a bigint (18 digits)");
    ok(contacts_page_args("following", "", NULL, &p) < 0, "an empty cursor");
    ok(contacts_page_args("following", NULL, "0", &p) < 0, "limit at least 1");
    ok(contacts_page_args("following", NULL, "101", &p) < 0, "limit at most 100");
    ok(contacts_page_args("following", NULL, "1e2", &p) < 0, "limit in digits");
}

static void
test_body(void)
{
    char x[24];
    int all;

#define BODY(s, a) contacts_body((s), strlen(s), (a), x, &all)
    ok(BODY("{\"x_id\":\"1234567890123456789\"}", 0) == 0 &&
           strcmp(x, "1234567890123456789") == 0 && !all,
       "an X id as a string");
    ok(BODY("{\"all\":true}", 1) == 0 && all && x[0] == '\0', "all, where allowed");
    ok(BODY("{\"all\":true}", 0) < 0, "all refused elsewhere");
    ok(BODY("{\"all\":false}", 1) < 0, "all must be true");
    ok(BODY("{\"x_id\":12}", 0) < 0, "a number is refused (X ids outgrow doubles)");
    ok(BODY("{\"x_id\":\"0\"}", 0) < 0, "0 is no X id");
    ok(BODY("{\"x_id\":\"9223372036854775808\"}", 0) < 0, "beyond a bigint");
    ok(BODY("{\"x_id\":\"12a\"}", 0) < 0, "digits only");
    ok(BODY("{\"x_id\":\"12\",\"all\":true}", 1) < 0, "one of them, not both");
    ok(BODY("{\"x_id\":\"12\"} {}", 0) < 0, "nothing after the object");
    ok(BODY("[\"12\"]", 0) < 0, "an object");
    ok(contacts_body("", 0, 0, x, &all) < 0, "an empty body");
    ok(contacts_body(NULL, 0, 0, x, &all) < 0, "no body");
#undef BODY
}

static void
test_status(void)
{
    is_str(contacts_status("following", 1, "done", "api", 1), "ignored", "ignored first");
    is_str(contacts_status("following", 0, NULL, NULL, 0), "found", "no row: found");
    is_str(contacts_status("following", 0, "done", "api", 1), "followed", "done for them");
    is_str(contacts_status("following", 0, "planned", "api", 0), "waiting", "planned");
    is_str(contacts_status("following", 0, "held", "api", 1), "held", "held");
    is_str(contacts_status("following", 0, "planned", "atproto", 1), "waiting",
           "a Bluesky follow planned: waiting, like one through a fediverse server");
    is_str(contacts_status("following", 0, "planned", "notice", 1), "told", "a notice told");
    is_str(contacts_status("following", 0, "planned", "notice", 0), "found", "not told yet");
    is_str(contacts_status("following", 0, "unfollow", "api", 1), "undoing", "queued undo");
    is_str(contacts_status("following", 0, "unfollowed", "api", 1), "undone", "undone");
    is_str(contacts_status("following", 0, "failed", "api", 1), "failed", "failed");
    is_str(contacts_status("following", 0, "undone", "api", 1), "stopped", "the matcher's undo");
    is_str(contacts_status("followers", 0, "done", "api", 0), "follows_you", "came back");
    is_str(contacts_status("followers", 0, "planned", "api", 0), "here", "here");
    is_str(contacts_status("followers", 0, NULL, NULL, 0), "here", "here, no row");
    is_str(contacts_status("followers", 1, "done", "api", 0), "ignored", "ignored follower");
}

static void
test_url(void)
{
    char *u = contacts_url("activitypub", "https://a.example/users/al", "al@a.example");

    is_str(u, "https://a.example/users/al", "the actor id");
    free(u);
    u = contacts_url("atproto", "did:plc:abc", "al.bsky.social");
    is_str(u, "https://bsky.app/profile/al.bsky.social", "a Bluesky profile by handle");
    free(u);
    u = contacts_url("atproto", "did:plc:abc", NULL);
    is_str(u, "https://bsky.app/profile/did%3Aplc%3Aabc", "or by DID");
    free(u);
}

int
main(void)
{
    test_page_args();
    test_body();
    test_status();
    test_url();
    return done_testing();
}
