/* Unit tests for server/reconnect/unfollow.c: reading the Relationship an unfollow answers. */
#include <string.h>

#include "tap.h"
#include "unfollow.h"

static int
gone(const char *body)
{
    return unfollow_relationship_gone(body, body != NULL ? strlen(body) : 0);
}

int
main(void)
{
    /* Mastodon 4.3's answer to POST /api/v1/accounts/:id/unfollow. */
    is_int(gone("{\"id\":\"109\",\"following\":false,\"showing_reblogs\":false,"
                "\"notifying\":false,\"followed_by\":false,\"blocking\":false,"
                "\"requested\":false,\"domain_blocking\":false,\"endorsed\":false,\"note\":\"\"}"),
           1, "no longer following nor requested");
    is_int(gone("{\"id\":\"109\",\"following\":false}"), 1, "requested left out (GoToSocial)");
    is_int(gone("{\"id\":\"109\",\"following\":true,\"requested\":false}"), 0, "still following");
    is_int(gone("{\"id\":\"109\",\"following\":false,\"requested\":true}"), 0,
           "still a follow request");
    is_int(gone("{\"id\":\"109\"}"), -1, "no following: not a Relationship");
    is_int(gone("{\"following\":\"false\"}"), -1, "following must be a boolean");
    is_int(gone("[]"), -1, "not an object");
    is_int(gone("not json"), -1, "not JSON");
    is_int(gone(NULL), -1, "no body");
    return done_testing();
}
