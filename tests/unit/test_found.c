/* Unit tests for server/reconnect/found.c: the statement's contract (found.h). */
#include <string.h>

#include "found.h"
#include "tap.h"

int
main(void)
{
    ok(strstr(found_sql, "FOR KEY SHARE OF o SKIP LOCKED") != NULL,
       "the other members are locked without waiting");
    ok(strstr(found_sql, "ON CONFLICT (member_id, dir, contact_id) DO NOTHING") != NULL,
       "one row per member, way and contact");
    ok(strstr(found_sql, "ORDER BY 1, 2, 3") != NULL, "inserts sorted, as notice_due's");
    ok(strstr(found_sql, "INSERT INTO notice_due") != NULL &&
           strstr(found_sql, "i.dir = 'followers'") != NULL,
       "a former follower's arrival makes a notice due");
    ok(strstr(found_sql, "$2::int") != NULL && strstr(found_sql, "$3") == NULL,
       "two parameters, as found.h documents");
    ok(strstr(found_sql, "e.member_id = me.id") != NULL &&
           strstr(found_sql, "o.id = e.member_id") != NULL,
       "each row from its member's own archive");
    return done_testing();
}
