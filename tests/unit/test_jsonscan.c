/* Tests of the archive's JSON scanner: strict validation, lookups, string decoding. */
#include <stdio.h>
#include <string.h>

#include "archive.h"
#include "jsonscan.h"
#include "tap.h"

/* 1 when jscan_validate accepts s whole (white space after it allowed). */
static int
valid(const char *s)
{
    size_t end = 0, n = strlen(s);

    if (jscan_validate(s, n, &end, NULL) < 0)
        return 0;
    while (end < n && jscan_is_ws((unsigned char)s[end]))
        end++;
    return end == n;
}

static void
test_validate(void)
{
    static const char *const good[] = {
        "{}",
        "[]",
        " {\"a\": [1, -2.5e+3, true, false, null, \"x\"]} ",
        "\"\\u00e9\\n\"",
        "0",
        "-0.0",
        "{\"a\":{\"b\":{}}}",
        "\"\\ud83d\\ude00\"",
    };
    static const char *const bad[] = {
        "{",  "{\"a\":1,}", "[1,]",      "{'a':1}",  "{\"a\" 1}",   "01",    "1.",    ".5",
        "+1", "NaN",        "\"\\x41\"", "\"a\tb\"", "{\"a\":tru}", "[1 2]", "\"abc", "nul",
    };
    char deep[80];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok(valid(good[i]), "valid: %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(!valid(bad[i]), "invalid: %s", bad[i]);
    memset(deep, '[', ARCHIVE_MAX_DEPTH + 1);
    memset(deep + ARCHIVE_MAX_DEPTH + 1, ']', ARCHIVE_MAX_DEPTH + 1);
    deep[2 * (ARCHIVE_MAX_DEPTH + 1)] = '\0';
    ok(!valid(deep), "invalid: nesting deeper than ARCHIVE_MAX_DEPTH");
    memset(deep, '[', ARCHIVE_MAX_DEPTH);
    memset(deep + ARCHIVE_MAX_DEPTH, ']', ARCHIVE_MAX_DEPTH);
    deep[2 * ARCHIVE_MAX_DEPTH] = '\0';
    ok(valid(deep), "valid: nesting of exactly ARCHIVE_MAX_DEPTH");
}

static void
test_lookups(void)
{
    const char *s = "{\"follower\":{\"accountId\":\"42\",\"userLink\":\"u\"},\"n\":7,"
                    "\"d\":1,\"d\":2}";
    size_t n = strlen(s), end, val = 0, pos;
    struct jscan_keys k;
    char out[16];
    int items = 0;

    jscan_keys_init(&k, "follower");
    ok(jscan_validate(s, n, &end, &k) == 0 && end == n, "edge: validated");
    ok(k.kinds == 1 && k.inner_ids == 1 && k.ids == 0, "edge: the wrapper and its accountId noted");
    pos = k.inner_id_at;
    is_int(jscan_decode_string(s, &pos, out, sizeof(out)), 2, "edge: accountId's length");
    ok(memcmp(out, "42", 2) == 0, "edge: accountId decoded");
    is_int(jscan_member(s, n, 0, "n", &val), 1, "member: found");
    ok(s[val] == '7', "member: where its value starts");
    is_int(jscan_member(s, n, 0, "missing", &val), 0, "member: absent");
    is_int(jscan_member(s, n, 0, "d", &val), -1, "member: a key given twice counts as neither");

    s = "[1, {\"a\": [2]}, \"x\"]";
    n = strlen(s);
    pos = 0;
    for (int first = 1; jscan_next(s, n, &pos, first); first = 0) {
        items++;
        jscan_skip_value(s, n, &pos);
    }
    is_int(items, 3, "next: three items in the array");
}

static void
test_strings(void)
{
    const char *s = "\"a\\u00e9\\ud83d\\ude00\\ud800z\\\"\"";
    size_t pos = 0, len;
    char out[32];

    len = jscan_decode_string(s, &pos, out, sizeof(out));
    /* a, é (2 bytes), 😀 (4 bytes), U+FFFD (3 bytes), z, " */
    is_int(len, 12, "decode: UTF-8 length of the decoded string");
    ok(len <= sizeof(out) && memcmp(out, "a\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdz\"", 12) == 0,
       "decode: escapes, a surrogate pair, a lone surrogate as U+FFFD");
    is_int(pos, strlen(s), "decode: pos just past the closing quote");
    pos = 0;
    is_int(jscan_decode_string(s, &pos, out, 4), 12, "decode: the full length even when cut");
    is_int(jscan_string_run((const unsigned char *)"abc\"d", 0, 5), 3, "string_run: up to a quote");
    is_int(jscan_string_run((const unsigned char *)"ab\x01", 0, 3), 2,
           "string_run: up to a control byte");
    pos = 0;
    ok(jscan_skip_number("-12.5e3,", 8, &pos) == 0 && pos == 7, "skip_number: the whole number");
    pos = 0;
    ok(jscan_skip_number("x", 1, &pos) < 0, "skip_number: none there");
    ok(jscan_is_ws(' ') && jscan_is_ws('\n') && jscan_is_ws('\r') && jscan_is_ws('\t') &&
           !jscan_is_ws('\v') && !jscan_is_ws(0xa0),
       "is_ws: the four JSON white-space bytes only");
}

int
main(void)
{
    test_validate();
    test_lookups();
    test_strings();
    return done_testing();
}
