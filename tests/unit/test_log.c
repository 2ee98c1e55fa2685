/* Unit tests for server/core/log.c: escaping of remote strings, levels. */
#include <string.h>

#include "log.h"
#include "tap.h"

int
main(void)
{
    char buf[64];

    is_str(log_q("plain"), "\"plain\"", "plain strings are quoted");
    is_str(log_q(NULL), "-", "NULL is a dash");
    is_str(log_q("a\nlevel=error event=forged"), "\"a\\nlevel=error event=forged\"",
           "a newline cannot start a forged line");
    is_str(log_q("q\"b\\"), "\"q\\\"b\\\\\"", "quotes and backslashes escaped");
    is_str(log_q("\x1b[31m"), "\"\\x1b[31m\"", "terminal escapes neutralised");
    is_str(log_q("caf\xc3\xa9"), "\"caf\\xc3\\xa9\"", "non-ASCII bytes escaped");
    log_escape(buf, sizeof(buf),
               "a very long string that does not fit in the small buffer given here at all");
    ok(strlen(buf) < sizeof(buf) && strstr(buf, "...\"") != NULL, "truncated with a marker: %s",
       buf);
    ok(log_set_level_name("warn") == 0 && !log_enabled(LOG_INFO) && log_enabled(LOG_ERROR),
       "levels filter");
    ok(log_set_level_name("shout") < 0, "unknown level refused");
    return done_testing();
}
