/* Unit tests for err.c: err_set formats, cuts at the buffer, always terminates, returns -1. */
#include <string.h>

#include "err.h"
#include "tap.h"

int
main(void)
{
    char buf[16], tiny[4];

    memset(buf, 'x', sizeof(buf));
    is_int(err_set(buf, sizeof(buf), "bad %s at %d", "name", 7), -1, "returns -1");
    is_str(buf, "bad name at 7", "formats the message");

    memset(tiny, 'x', sizeof(tiny));
    is_int(err_set(tiny, sizeof(tiny), "%s", "longer than four"), -1, "returns -1 when cut");
    is_str(tiny, "lon", "cuts at the buffer and terminates");

    memset(buf, 'x', sizeof(buf));
    is_int(err_set(buf, 0, "%s", "nothing"), -1, "errlen 0: returns -1");
    ok(buf[0] == 'x', "errlen 0: writes nothing");
    is_int(err_set(NULL, 32, "%d", 1), -1, "NULL buffer: returns -1 without writing");

    is_int(err_set(buf, sizeof(buf), "%s", ""), -1, "empty message");
    is_str(buf, "", "empty message leaves an empty string");
    return done_testing();
}
