/* Unit tests for server/core/log.c: escaping of remote strings, secrets out of paths, levels. */
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
    is_str(log_path("/link/0123456789abcdef0123456789abcdef"), "\"/link/<secret>\"",
           "a one-time code never reaches the log");
    is_str(log_path("/link/0123456789ABCDEF0123456789abcdef0123"), "\"/link/<secret>\"",
           "longer hex, either case");
    is_str(log_path("/a/0123456789abcdef0123456789abcdef/b"), "\"/a/<secret>/b\"",
           "inside a path too");
    is_str(log_path("/link/0123456789abcdef0123456789abcde"),
           "\"/link/0123456789abcdef0123456789abcde\"", "31 hex digits are no secret");
    is_str(log_path("/x/1234567890123456789"), "\"/x/1234567890123456789\"",
           "an X id stays (decimal, 19 digits)");
    is_str(log_path("/link/0123456789abcdef0123456789abcdeg"),
           "\"/link/0123456789abcdef0123456789abcdeg\"", "not all hex");
    is_str(log_path("//a//"), "\"//a//\"", "empty segments kept");
    is_str(log_path(NULL), "-", "NULL is a dash");
    {
        char longp[600];

        memset(longp, 'a', sizeof(longp) - 1);
        longp[0] = '/';
        longp[sizeof(longp) - 1] = '\0';
        ok(strlen(log_path(longp)) < 300, "a long path is cut");
    }
    ok(log_set_level_name("warn") == 0 && !log_enabled(LOG_INFO) && log_enabled(LOG_ERROR),
       "levels filter");
    ok(log_set_level_name("shout") < 0, "unknown level refused");
    return done_testing();
}
