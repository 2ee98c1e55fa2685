/* Unit tests for utf8.c: RFC 3629 sequences, overlong forms, surrogates, the U+10FFFF bound. */
#include <string.h>

#include "tap.h"
#include "utf8.h"

struct utf8_case {
    const char *bytes;
    size_t len;
    long want; /* characters, -1 invalid */
    const char *what;
};

static const struct utf8_case cases[] = {
    { "", 0, 0, "empty" },
    { "abc", 3, 3, "ASCII" },
    { "caf\xc3\xa9", 5, 4, "two-byte" },
    { "\xe2\x82\xac", 3, 1, "three-byte (euro)" },
    { "\xf0\x9f\x98\x80", 4, 1, "four-byte (emoji)" },
    { "\xf4\x8f\xbf\xbf", 4, 1, "U+10FFFF" },
    { "\xef\xbf\xbf", 3, 1, "U+FFFF" },
    { "a\0b", 3, 3, "NUL is a character (callers decide)" },
    { "\xc0\xaf", 2, -1, "overlong slash (C0 AF)" },
    { "\xc1\xbf", 2, -1, "overlong (C1)" },
    { "\xe0\x80\xaf", 3, -1, "overlong three-byte" },
    { "\xf0\x80\x80\xaf", 4, -1, "overlong four-byte" },
    { "\xed\xa0\x80", 3, -1, "surrogate half (U+D800)" },
    { "\xed\xbf\xbf", 3, -1, "surrogate half (U+DFFF)" },
    { "\xf4\x90\x80\x80", 4, -1, "above U+10FFFF" },
    { "\xf5\x80\x80\x80", 4, -1, "F5 lead" },
    { "\xff", 1, -1, "FF" },
    { "\x80", 1, -1, "a lone continuation byte" },
    { "\xc3", 1, -1, "cut two-byte" },
    { "\xe2\x82", 2, -1, "cut three-byte" },
    { "\xe2\x28\xa1", 3, -1, "bad continuation" },
    { "ok\xf8\x88\x80\x80\x80", 7, -1, "five-byte form" },
};

int
main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int(utf8_count(cases[i].bytes, cases[i].len), cases[i].want, "%s", cases[i].what);
    is_int((long long)utf8_len((const unsigned char *)"\xe2\x82\xac!", 4), 3, "length of one");
    is_int((long long)utf8_len((const unsigned char *)"\xe2\x82\xac", 2), 0, "n too short");
    return done_testing();
}
