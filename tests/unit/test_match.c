/* Unit tests for server/reconnect/match.c: relay_block as a text[] literal; the statement's
 * contract. */
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "tap.h"

static void
test_block_array(void)
{
    const char *cases[][2] = {
        { "", "{}" },
        { "a.example", "{\"a.example\"}" },
        { "a.example b.example:8443 [::1]:80", "{\"a.example\",\"b.example:8443\",\"[::1]:80\"}" },
        { "  a.example   b.example ", "{\"a.example\",\"b.example\"}" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = match_block_array(cases[i][0]);

        is_str(got, cases[i][1], "block list [%s]", cases[i][0]);
        free(got);
    }
    {
        char *got = match_block_array(NULL);

        is_str(got, "{}", "no list");
        free(got);
    }
}

static void
test_statement(void)
{
    /* What the bench helper times, and the follow worker relies on, is spelled here. */
    ok(strstr(match_sql, "FOR SHARE OF o SKIP LOCKED") != NULL, "other members share-locked");
    ok(strstr(match_sql, "ON CONFLICT (follower_id, followee_id) DO NOTHING") != NULL,
       "one row per pair");
    ok(strstr(match_sql, "$4::int") != NULL && strstr(match_sql, "$5") == NULL,
       "four parameters, as match.h documents");
}

int
main(void)
{
    test_block_array();
    test_statement();
    return done_testing();
}
