/* Unit tests for server/members/archive.c: the push parser, account, manifest, whole archives and
 * files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "tap.h"
#include "ziptest.h"
#include "zipread.h"

static char tmpdir[] = "/tmp/passerelle-archive.XXXXXX";

/* What the callbacks saw. */
struct got {
    uint64_t ids[64];
    enum archive_kind kinds[64];
    size_t n;
    uint64_t count;
    uint64_t sum;
    int accounts;
    size_t edges_before_account;
    uint64_t fail_at; /* the edge callback refuses the edge with this number (1-based) */
};

static int
got_edge(void *ctx, enum archive_kind kind, uint64_t id, char *err, size_t errlen)
{
    struct got *g = ctx;

    g->count++;
    g->sum += id;
    if (g->fail_at && g->count == g->fail_at) {
        snprintf(err, errlen, "database: the edge table is gone");
        return -1;
    }
    if (g->n < 64) {
        g->ids[g->n] = id;
        g->kinds[g->n++] = kind;
    }
    return 0;
}

static int
got_account(void *ctx, const struct archive_account *a, char *err, size_t errlen)
{
    struct got *g = ctx;

    (void)a;
    (void)err;
    (void)errlen;
    g->accounts++;
    g->edges_before_account = g->n;
    return 0;
}

/*
 * Feeds text to a new stream of that kind, split at split (0: whole) or one byte at a time
 * (split == 1), and finishes it. Returns its result and the error in err.
 */
static int
parse_split(enum archive_kind kind, const char *label, const char *text, size_t len, size_t split,
            struct got *g, struct archive_account *acct, struct archive_manifest *man, char *err,
            size_t errlen)
{
    struct archive_callbacks cb = { .ctx = g, .edge = got_edge, .account = got_account };
    struct archive_stream *s = archive_stream_new(kind, label, &cb);
    size_t i;
    int rc = 0;

    err[0] = '\0';
    if (split == 1) {
        for (i = 0; i < len && rc == 0; i++)
            rc = archive_stream_feed(s, text + i, 1, err, errlen);
    } else if (split > 0 && split < len) {
        rc = archive_stream_feed(s, text, split, err, errlen);
        if (rc == 0)
            rc = archive_stream_feed(s, text + split, len - split, err, errlen);
    } else {
        rc = archive_stream_feed(s, text, len, err, errlen);
    }
    if (rc == 0)
        rc = archive_stream_finish(s, err, errlen);
    if (rc == 0 && acct != NULL && archive_stream_account(s) != NULL)
        *acct = *archive_stream_account(s);
    if (rc == 0 && man != NULL && archive_stream_manifest(s) != NULL)
        *man = *archive_stream_manifest(s);
    archive_stream_free(s);
    return rc;
}

static int
parse(enum archive_kind kind, const char *text, struct got *g, char *err, size_t errlen)
{
    return parse_split(kind, "follower.js", text, strlen(text), 0, g, NULL, NULL, err, errlen);
}

/* The error a whole file gives, or "" if it parses; fills *a or *m when given. */
static const char *
file_error(enum archive_kind kind, const char *label, const char *text, struct archive_account *a,
           struct archive_manifest *m)
{
    static char err[512];
    struct got g = { 0 };

    if (a != NULL)
        memset(a, 0, sizeof(*a));
    if (m != NULL)
        memset(m, 0, sizeof(*m));
    if (parse_split(kind, label, text, strlen(text), 0, &g, a, m, err, sizeof(err)) == 0)
        return "";
    return err;
}

static const char *
follower_error(const char *text)
{
    return file_error(ARCHIVE_FOLLOWER, "follower.js", text, NULL, NULL);
}

static void
test_classify(void)
{
    static const struct {
        const char *name;
        enum archive_kind kind;
        unsigned part;
    } cases[] = {
        { "data/account.js", ARCHIVE_ACCOUNT, 0 },
        { "data/manifest.js", ARCHIVE_MANIFEST, 0 },
        { "data/follower.js", ARCHIVE_FOLLOWER, 0 },
        { "data/follower-part1.js", ARCHIVE_FOLLOWER, 1 },
        { "data/following.js", ARCHIVE_FOLLOWING, 0 },
        { "data/following-part2.js", ARCHIVE_FOLLOWING, 2 },
        { "data/following-part9999.js", ARCHIVE_FOLLOWING, 9999 },
        { "follower.js", ARCHIVE_FOLLOWER, 0 },
        { "account.js", ARCHIVE_ACCOUNT, 0 },
        { "twitter-2024-11-16-abc/data/follower-part3.js", ARCHIVE_FOLLOWER, 3 },
        { "data/block.js", ARCHIVE_BLOCK, 0 },
        { "data/block-part2.js", ARCHIVE_BLOCK, 2 },
        { "mute.js", ARCHIVE_MUTE, 0 },
        { "twitter-2024/data/mute-part1.js", ARCHIVE_MUTE, 1 },
        { "data/blocks.js", ARCHIVE_OTHER, 0 },
        { "data/muting.js", ARCHIVE_OTHER, 0 },
        { "data/block-part0.js", ARCHIVE_OTHER, 0 },
        { "data/tweets.js", ARCHIVE_OTHER, 0 },
        { "data/account-label.js", ARCHIVE_OTHER, 0 },
        { "data/follower-part0.js", ARCHIVE_OTHER, 0 },
        { "data/follower-part01.js", ARCHIVE_OTHER, 0 },
        { "data/follower-part10000.js", ARCHIVE_OTHER, 0 },
        { "data/follower-part.js", ARCHIVE_OTHER, 0 },
        { "data/follower.js.bak", ARCHIVE_OTHER, 0 },
        { "data/followers.js", ARCHIVE_OTHER, 0 },
        { "data/tweets_media/follower.js", ARCHIVE_OTHER, 0 },
        { "a/b/data/follower.js", ARCHIVE_OTHER, 0 },
        { "other/follower.js", ARCHIVE_OTHER, 0 },
        { "__MACOSX/data/._follower.js", ARCHIVE_OTHER, 0 },
        { "", ARCHIVE_OTHER, 0 },
    };
    size_t i;
    unsigned part;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        part = 77;
        ok(archive_classify(cases[i].name, &part) == cases[i].kind && part == cases[i].part,
           "classify \"%s\": %s part %u", cases[i].name, archive_kind_name(cases[i].kind),
           cases[i].part);
    }
    ok(archive_classify("data/follower-part4.js", NULL) == ARCHIVE_FOLLOWER,
       "classify without asking for the part");
    is_str(archive_kind_name(ARCHIVE_OTHER), "other", "kind name of other files");
    ok(archive_stream_new(ARCHIVE_OTHER, "x", NULL) == NULL, "no stream for other files");
}

static const char small_follower[] =
    "window.YTD.follower.part0 = [\n"
    "  {\n"
    "    \"follower\" : {\n"
    "      \"accountId\" : \"976472625810681856\",\n"
    "      \"userLink\" : \"https://twitter.com/intent/user?user_id=976472625810681856\"\n"
    "    }\n"
    "  },\n"
    "  {\n"
    "    \"follower\" : {\n"
    "      \"accountId\" : \"52338276\",\n"
    "      \"userLink\" : \"https://x.com/intent/user?user_id=52338276\"\n"
    "    }\n"
    "  },\n"
    "  { \"follower\" : { \"accountId\" : \"18446744073709551615\" } },\n"
    "  { \"follower\" : { \"accountId\" : \"9007199254740993\", \"extra\": [1, {\"a\": null}] } }\n"
    "]";

static void
test_edges(void)
{
    struct got g = { 0 };
    char err[512];

    is_int(parse(ARCHIVE_FOLLOWER, small_follower, &g, err, sizeof(err)), 0,
           "a small follower.js parses (%s)", err);
    is_int(g.n, 4, "four edges");
    ok(g.ids[0] == 976472625810681856ULL && g.ids[1] == 52338276ULL,
       "ids as written, with or without userLink");
    ok(g.ids[2] == UINT64_MAX, "18446744073709551615 exact");
    ok(g.ids[3] == 9007199254740993ULL, "9007199254740993 (2^53 + 1) exact, not 2^53");
    ok(g.kinds[0] == ARCHIVE_FOLLOWER, "edges carry their kind");

    memset(&g, 0, sizeof(g));
    is_int(parse(ARCHIVE_FOLLOWING,
                 "window.YTD.following.part2=[{\"following\":{\"accountId\":\"7\"}},"
                 "{\"accountId\":\"8\"},{\"following\":{\"accountId\":9}}];\n",
                 &g, err, sizeof(err)),
           0, "following: compact, no wrapper object, a bare number, a semicolon (%s)", err);
    ok(g.n == 3 && g.ids[0] == 7 && g.ids[1] == 8 && g.ids[2] == 9 &&
           g.kinds[0] == ARCHIVE_FOLLOWING,
       "following ids 7, 8, 9");

    memset(&g, 0, sizeof(g));
    is_int(parse(ARCHIVE_FOLLOWER,
                 "window.YTD.follower.part0 = [{\"x\":\"}]{[\\\"\\\\\",\"accountId\":\"5\"},"
                 "{\"accountId\":\"6\",\"y\":\"\\\\\"}]",
                 &g, err, sizeof(err)),
           0, "brackets, escaped quotes and backslashes inside strings (%s)", err);
    ok(g.n == 2 && g.ids[0] == 5 && g.ids[1] == 6, "they do not end an element early");

    is_str(follower_error("window.YTD.follower.part0 = [ ]"), "", "an empty list");
    is_str(follower_error("window.YTD.follower.part0 = []"), "", "an empty list, no space");
    is_str(follower_error("YTD.follower.part0=[]"), "", "without window.");
    is_str(follower_error("\xef\xbb\xbfwindow.YTD.follower.part0 = []\n\n"), "",
           "a byte order mark and trailing newlines");
    is_str(follower_error("  \r\n\twindow.YTD.follower.part12 =\n[\n]\n;\n"), "",
           "white space everywhere JSON allows it");
}

static void
test_ids(void)
{
    static const struct {
        const char *id;
        const char *want;
    } cases[] = {
        { "\"18446744073709551616\"", "accountId is larger than 64 bits allow" },
        { "\"99999999999999999999\"", "accountId is larger than 64 bits allow" },
        { "\"123456789012345678901234567890\"", "accountId is larger than 64 bits allow" },
        { "18446744073709551616", "accountId is larger than 64 bits allow" },
        { "\"abc\"", "accountId is not a number" },
        { "\"-1\"", "accountId is not a number" },
        { "\"12.5\"", "accountId is not a number" },
        { "\"1e3\"", "accountId is not a number" },
        { "\"\"", "accountId is not a number" },
        { "\" 1\"", "accountId is not a number" },
        { "\"12a\"", "accountId is not a number" },
        { "12.5", "accountId is not a number" },
        { "-1", "accountId is not a number" },
        { "1e3", "accountId is not a number" },
        { "true", "accountId is not a number" },
        { "null", "accountId is not a number" },
        { "[\"1\"]", "accountId is not a number" },
        { "\"0\"", "accountId is 0" },
    };
    char text[256], want[256];
    size_t i;
    struct got g = { 0 };
    char err[512];

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text),
                 "window.YTD.follower.part0 = [{\"follower\":{\"accountId\":%s}}]", cases[i].id);
        snprintf(want, sizeof(want), "follower.js: element 1: %s", cases[i].want);
        is_str(follower_error(text), want, "accountId %s refused", cases[i].id);
    }
    is_int(parse(ARCHIVE_FOLLOWER,
                 "window.YTD.follower.part0 = [{\"follower\":{\"accountId\":"
                 "\"\\u0031\\u0032\"}}]",
                 &g, err, sizeof(err)),
           0, "an id written with \\u escapes");
    ok(g.n == 1 && g.ids[0] == 12, "decodes to 12");
}

/* The message the issue asks for, at element 1234 of a part file. */
static void
test_error_position(void)
{
    size_t cap = 1300 * 64, len = 0, i;
    char *text = malloc(cap), err[512];
    struct got g = { 0 };

    len += (size_t)snprintf(text, cap, "window.YTD.follower.part1 = [");
    for (i = 1; i < 1234; i++)
        len +=
            (size_t)snprintf(text + len, cap - len, "{\"follower\":{\"accountId\":\"%zu\"}},", i);
    len += (size_t)snprintf(text + len, cap - len, "{\"follower\":{\"accountId\":\"n/a\"}}]");
    is_int(parse_split(ARCHIVE_FOLLOWER, "data/follower-part1.js", text, len, 0, &g, NULL, NULL,
                       err, sizeof(err)),
           -1, "a bad id after 1233 good ones");
    is_str(err, "data/follower-part1.js: element 1234: accountId is not a number",
           "the message names the file and the element");
    is_int(g.count, 1233, "the 1233 edges before it were handed out");
    free(text);
}

static void
test_malformed(void)
{
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        { "window.YTD.follower.part0 = [{\"follower\":{\"accountId\":\"1\",}}]",
          "follower.js: element 1 is not valid JSON" },
        { "window.YTD.follower.part0 = [{\"follower\" \"x\"}]",
          "follower.js: element 1 is not valid JSON" },
        { "window.YTD.follower.part0 = [{\"a\":tru}]", "follower.js: element 1 is not valid JSON" },
        { "window.YTD.follower.part0 = [{\"a\":01}]", "follower.js: element 1 is not valid JSON" },
        { "window.YTD.follower.part0 = [{\"a\":\"\\x\"}]",
          "follower.js: element 1 is not valid JSON" },
        { "window.YTD.follower.part0 = [{\"a\":\"tab\there\"}]",
          "follower.js: element 1 is not valid JSON" },
        { "window.YTD.follower.part0 = [{\"a\":[1,2}]]",
          "follower.js: element 1 is not valid JSON" },
        { "window.YTD.follower.part0 = [{'a':1}]", "follower.js: element 1 is not valid JSON" },
        { "window.YTD.follower.part0 = [{\"follower\":{}}]",
          "follower.js: element 1: no accountId" },
        { "window.YTD.follower.part0 = [{\"follower\":{\"accountId\":\"1\",\"accountId\":\"2\"}}]",
          "follower.js: element 1: accountId is there twice" },
        { "window.YTD.follower.part0 = [{\"follower\":\"1\"}]",
          "follower.js: element 1: \"follower\" is not an object" },
        { "window.YTD.follower.part0 = [{\"follower\":{\"accountId\":\"1\"},"
          "\"follower\":{\"accountId\":\"2\"}}]",
          "follower.js: element 1: \"follower\" is there twice" },
        { "window.YTD.follower.part0 = [1]", "follower.js: element 1 is not an object" },
        { "window.YTD.follower.part0 = [{\"accountId\":\"1\"},]",
          "follower.js: element 2 is not an object" },
        { "window.YTD.follower.part0 = [{\"accountId\":\"1\"} {\"accountId\":\"2\"}]",
          "follower.js: after element 1: expected , or ]" },
        { "window.YTD.follower.part0 = [{\"accountId\":\"1\"}] x",
          "follower.js: unexpected data after the list" },
        { "window.YTD.follower.part0 = [];;", "follower.js: unexpected data after the list" },
        { "window.YTD.following.part0 = []",
          "follower.js: expected window.YTD.follower.partN, found window.YTD.following.part0" },
        { "window.YTD.follower.part = []",
          "follower.js: expected window.YTD.follower.partN, found window.YTD.follower.part" },
        { "window.YTD.follower.part0x = []",
          "follower.js: expected window.YTD.follower.partN, found window.YTD.follower.part0x" },
        { "window.YTD.followers.part0 = []",
          "follower.js: expected window.YTD.follower.partN, found window.YTD.followers.part0" },
        { "[{\"follower\":{\"accountId\":\"1\"}}]",
          "follower.js: does not start with window.YTD.follower.partN = [" },
        { "window.YTD.follower.part0 : []",
          "follower.js: does not start with window.YTD.follower.partN = [" },
        { "window.YTD.follower.part0 = {}",
          "follower.js: does not start with window.YTD.follower.partN = [" },
        { "window.YTD.follower.part0 = = []",
          "follower.js: does not start with window.YTD.follower.partN = [" },
        { "\xef\xbb\xbe window.YTD.follower.part0 = []",
          "follower.js: does not start with window.YTD.follower.partN = [" },
        { "", "follower.js: the file is empty" },
        { "  \n", "follower.js: the file is empty" },
        { "window.YTD.follower.part0 = [{\"accountId\":\"1\"}",
          "follower.js: the file ends before the list closes" },
        { "window.YTD.follower.part0 = [{\"accountId\":\"1",
          "follower.js: the file ends inside element 1" },
        { "window.YTD.follower.part0 =", "follower.js: the file ends before the list closes" },
    };
    char name[300];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_str(follower_error(cases[i].text), cases[i].want, "malformed %zu: %s", i + 1,
               cases[i].want);
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    is_str(follower_error(name), "follower.js: does not start with window.YTD.follower.partN = [",
           "a 299-byte name before = refused");
}

/* Element bytes capped at 64 KiB and nesting at 32, before anything grows further. */
static void
test_caps(void)
{
    size_t pad = ARCHIVE_MAX_ELEMENT, len, i;
    char *text = malloc(pad + 200);
    struct got g = { 0 };
    char err[512];

    len = (size_t)snprintf(text, 200, "window.YTD.follower.part0 = [{\"accountId\":\"5\",\"p\":\"");
    memset(text + len, 'x', pad - 100);
    len += pad - 100;
    len += (size_t)snprintf(text + len, 200, "\"}]");
    is_int(parse_split(ARCHIVE_FOLLOWER, "follower.js", text, len, 0, &g, NULL, NULL, err,
                       sizeof(err)),
           0, "an element just under 64 KiB is fine (%s)", err);
    len = (size_t)snprintf(text, 200, "window.YTD.follower.part0 = [{\"accountId\":\"5\",\"p\":\"");
    memset(text + len, 'x', pad);
    len += pad;
    len += (size_t)snprintf(text + len, 200, "\"}]");
    parse_split(ARCHIVE_FOLLOWER, "follower.js", text, len, 1, &g, NULL, NULL, err, sizeof(err));
    is_str(err, "follower.js: element 1 is larger than 64 KiB", "a larger element is refused");
    /* An unterminated string swallows the rest of the file: the cap stops it too. */
    len = (size_t)snprintf(text, 200, "window.YTD.follower.part0 = [{\"accountId\":\"5}]");
    memset(text + len, ' ', pad);
    len += pad;
    parse_split(ARCHIVE_FOLLOWER, "follower.js", text, len, 0, &g, NULL, NULL, err, sizeof(err));
    is_str(err, "follower.js: element 1 is larger than 64 KiB", "an unterminated string too");

    len = (size_t)snprintf(text, 200, "window.YTD.follower.part0 = [{\"accountId\":\"5\",\"p\":");
    for (i = 0; i < 31; i++)
        text[len++] = '[';
    for (i = 0; i < 31; i++)
        text[len++] = ']';
    len += (size_t)snprintf(text + len, 200, "}]");
    is_int(parse_split(ARCHIVE_FOLLOWER, "follower.js", text, len, 0, &g, NULL, NULL, err,
                       sizeof(err)),
           0, "nesting 32 deep is fine (%s)", err);
    len = (size_t)snprintf(text, 200, "window.YTD.follower.part0 = [{\"accountId\":\"5\",\"p\":");
    for (i = 0; i < 32; i++)
        text[len++] = '[';
    for (i = 0; i < 32; i++)
        text[len++] = ']';
    len += (size_t)snprintf(text + len, 200, "}]");
    parse_split(ARCHIVE_FOLLOWER, "follower.js", text, len, 0, &g, NULL, NULL, err, sizeof(err));
    is_str(err, "follower.js: element 1 is nested more than 32 deep", "33 deep is refused");
    free(text);
}

/* Same edges and same message, whatever the chunking. */
static void
test_chunking(void)
{
    static const char *const inputs[] = {
        small_follower,
        "\xef\xbb\xbfwindow.YTD.follower.part0 = [ {\"follower\":{\"accountId\":\"1\","
        "\"userLink\":\"a\\\"b\\\\\"}} , {\"accountId\":\"22\"} ] ;",
        "window.YTD.follower.part0 = [{\"accountId\":\"1\"},{\"accountId\":\"x\"}]",
        "window.YTD.follower.part0 = [{\"accountId\":\"1\"} {\"accountId\":\"2\"}]",
        "window.YTD.follower.part0 = [{\"accountId\":\"1\"}] trailing",
        "window.YTD.following.part0 = [{\"accountId\":\"1\"}]",
    };
    size_t i, k, len, bad;

    for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct got whole = { 0 };
        char werr[512], err[512];
        int wrc;

        len = strlen(inputs[i]);
        wrc = parse_split(ARCHIVE_FOLLOWER, "f", inputs[i], len, 0, &whole, NULL, NULL, werr,
                          sizeof(werr));
        bad = 0;
        for (k = 1; k <= len; k++) {
            struct got g = { 0 };
            int rc = parse_split(ARCHIVE_FOLLOWER, "f", inputs[i], len, k, &g, NULL, NULL, err,
                                 sizeof(err));

            if (rc != wrc || strcmp(err, werr) != 0 || g.count != whole.count ||
                g.sum != whole.sum || memcmp(g.ids, whole.ids, sizeof(g.ids)) != 0)
                bad++;
        }
        is_int(bad, 0, "input %zu (%s, %llu edges): every split point and 1-byte feeding agree",
               i + 1, wrc == 0 ? "valid" : werr, (unsigned long long)whole.count);
    }
}

/* Whether feeding text split at split (1: a byte at a time) differs from the whole feed. */
static int
split_differs(const char *text, size_t len, size_t split, int wrc, const struct got *whole,
              const char *werr)
{
    struct got g = { 0 };
    char err[512];
    int rc = parse_split(ARCHIVE_FOLLOWER, "f", text, len, split, &g, NULL, NULL, err, sizeof(err));

    return rc != wrc || strcmp(err, werr) != 0 || g.count != whole->count || g.sum != whole->sum;
}

/*
 * How many ways of feeding text disagree with feeding it whole: one byte at a time, split
 * at every step-th byte and the one after it, and before the last byte. *werr gets the
 * whole feed's message.
 */
static size_t
split_disagreements(const char *text, size_t len, size_t step, struct got *whole, char *werr,
                    size_t werrlen)
{
    size_t k, bad = 0;
    int wrc;

    memset(whole, 0, sizeof(*whole));
    wrc = parse_split(ARCHIVE_FOLLOWER, "f", text, len, 0, whole, NULL, NULL, werr, werrlen);
    bad += (size_t)split_differs(text, len, 1, wrc, whole, werr);
    for (k = 2; k < len; k += step)
        bad += (size_t)split_differs(text, len, k, wrc, whole, werr) +
               (size_t)(k + 1 < len && split_differs(text, len, k + 1, wrc, whole, werr));
    bad += (size_t)split_differs(text, len, len - 1, wrc, whole, werr);
    return bad;
}

/*
 * Where the wrapper and accountId are is noted while validating; keys written with escapes
 * and every odd placement must come out as json_member says, in place or gathered.
 */
static void
test_members(void)
{
    static const struct {
        const char *element;
        uint64_t id; /* 0: want is the error */
        const char *want;
    } cases[] = {
        { "{\"\\u0066ollower\":{\"accountId\":\"1\"}}", 1, "" },
        { "{\"follower\":{\"account\\u0049d\":\"2\"}}", 2, "" },
        { "{\"follower\":{\"accountId\":\"3\",\"accountI\\u0064\":\"4\"}}", 0,
          "f: element 1: accountId is there twice" },
        { "{\"follower\":{\"accountId\":\"5\"},\"\\u0066ollower\":{\"accountId\":\"6\"}}", 0,
          "f: element 1: \"follower\" is there twice" },
        { "{\"accountId\":\"7\",\"follower\":{\"accountId\":\"8\"}}", 8, "" },
        { "{\"accountId\":\"9\",\"x\":{\"accountId\":\"10\"}}", 9, "" },
        { "{\"follower\":{\"x\":{\"accountId\":\"11\"},\"accountId\":\"12\"}}", 12, "" },
        { "{\"follower\":{\"x\":{\"accountId\":\"11\"}}}", 0, "f: element 1: no accountId" },
        { "{\"follower\":{},\"accountId\":\"13\"}", 0, "f: element 1: no accountId" },
        { "{\"follower\":[],\"accountId\":\"13\"}", 0,
          "f: element 1: \"follower\" is not an object" },
        { "{\"follower\":{\"accountId\":\"1\"},\"follower\":[]}", 0,
          "f: element 1: \"follower\" is there twice" },
        { "{\"x\":[{\"follower\":{}}],\"accountId\":\"14\"}", 14, "" },
        { "{\"accountId\":\"00000000000000000000000001\"}", 1, "" },
        { "{\"accountId\":\"1234567890123456789\"}", 1234567890123456789ULL, "" },
        { "{\"accountId\":\"12345678901234567890\"}", 12345678901234567890ULL, "" },
        { "{\"accountId\":\"1234567890123456789\\u0030\"}", 12345678901234567890ULL, "" },
        { "{\"accountId\":\"123456789012345678x\"}", 0, "f: element 1: accountId is not a number" },
        { "{\"accountId\":\"1\" , \"accountId\" : \"1\"}", 0,
          "f: element 1: accountId is there twice" },
    };
    char text[512], werr[512];
    size_t i, len, bad;
    struct got g;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        len = (size_t)snprintf(text, sizeof(text), "window.YTD.follower.part0 = [ %s ]",
                               cases[i].element);
        bad = split_disagreements(text, len, 1, &g, werr, sizeof(werr));
        if (cases[i].id != 0)
            ok(werr[0] == '\0' && g.n == 1 && g.ids[0] == cases[i].id && bad == 0,
               "%s: id %llu at every split (%s)", cases[i].element, (unsigned long long)cases[i].id,
               werr);
        else
            ok(strcmp(werr, cases[i].want) == 0 && g.n == 0 && bad == 0, "%s: %s at every split",
               cases[i].element, cases[i].want);
    }
}

/*
 * An element of exactly the cap is read, one byte more is not, and when an element is both
 * too large and too deep the one met first in the file is reported, however it is chunked.
 */
static void
test_cap_chunking(void)
{
    size_t cap = ARCHIVE_MAX_ELEMENT, len, head, i, bad;
    char *text = malloc(cap + 300), werr[512];
    const char *open = "window.YTD.follower.part0 = [";
    struct got g;

    head = strlen(open);
    memcpy(text, open, head);
    len = head + (size_t)snprintf(text + head, 200, "{\"accountId\":\"5\",\"p\":\"");
    memset(text + len, 'x', cap - (len - head) - 2);
    len += cap - (len - head) - 2;
    len += (size_t)snprintf(text + len, 200, "\"}]");
    bad = split_disagreements(text, len, 4093, &g, werr, sizeof(werr));
    ok(werr[0] == '\0' && g.count == 1 && bad == 0, "an element of exactly %zu bytes (%s)", cap,
       werr);

    memmove(text + len - 2, text + len - 3, 3);
    text[len - 3] = 'x';
    len++;
    bad = split_disagreements(text, len, 4093, &g, werr, sizeof(werr));
    ok(strcmp(werr, "f: element 1 is larger than 64 KiB") == 0 && bad == 0,
       "one byte more is refused at every split");

    /* Too large first, then too deep. */
    len = head + (size_t)snprintf(text + head, 200, "{\"accountId\":\"5\",\"p\":\"");
    memset(text + len, 'x', cap);
    len += cap;
    len += (size_t)snprintf(text + len, 200, "\",\"q\":");
    for (i = 0; i < 40; i++)
        text[len++] = '[';
    bad = split_disagreements(text, len, 4093, &g, werr, sizeof(werr));
    ok(strcmp(werr, "f: element 1 is larger than 64 KiB") == 0 && bad == 0,
       "too large before too deep: the size, at every split (%s)", werr);

    /* Too deep first, then too large. */
    len = head + (size_t)snprintf(text + head, 200, "{\"q\":");
    for (i = 0; i < 40; i++)
        text[len++] = '[';
    text[len++] = '"';
    memset(text + len, 'x', cap);
    len += cap;
    bad = split_disagreements(text, len, 4093, &g, werr, sizeof(werr));
    ok(strcmp(werr, "f: element 1 is nested more than 32 deep") == 0 && bad == 0,
       "too deep before too large: the nesting, at every split (%s)", werr);
    free(text);
}

static void
test_truncated(void)
{
    size_t len = strlen(small_follower), end = len - 1, k, passed = 0;
    char err[512];

    for (k = 0; k < end; k++) {
        struct got g = { 0 };

        if (parse_split(ARCHIVE_FOLLOWER, "f", small_follower, k, 0, &g, NULL, NULL, err,
                        sizeof(err)) == 0)
            passed++;
    }
    is_int(passed, 0, "all %zu truncations before the closing ] are refused", end);
}

static const char account_js[] = "window.YTD.account.part0 = [\n"
                                 "  {\n"
                                 "    \"account\" : {\n"
                                 "      \"email\" : \"secret-address@example.org\",\n"
                                 "      \"createdVia\" : \"web\",\n"
                                 "      \"username\" : \"alrocar\",\n"
                                 "      \"accountId\" : \"52338276\",\n"
                                 "      \"createdAt\" : \"2009-06-30T07:52:16.000Z\",\n"
                                 "      \"accountDisplayName\" : \"alrocar \xf0\x9f\xa5\x98\"\n"
                                 "    }\n"
                                 "  }\n"
                                 "]";

static const char *
account_error(const char *text, struct archive_account *a)
{
    return file_error(ARCHIVE_ACCOUNT, "data/account.js", text, a, NULL);
}

static void
test_account(void)
{
    struct archive_account a;
    char text[4096], big[2200];
    size_t i;

    is_str(account_error(account_js, &a), "", "account.js parses");
    ok(a.account_id == 52338276, "accountId");
    is_str(a.username, "alrocar", "username");
    is_str(a.display_name, "alrocar \xf0\x9f\xa5\x98", "display name, UTF-8 kept");
    ok(memmem(&a, sizeof(a), "secret", 6) == NULL && memmem(&a, sizeof(a), "2009", 4) == NULL,
       "neither the e-mail nor other fields are kept");

    snprintf(text, sizeof(text),
             "window.YTD.account.part0 = [{\"account\":{\"accountId\":\"18446744073709551615\","
             "\"username\":\"A_b9\",\"accountDisplayName\":"
             "\"\\u00e9t\\u00e9 \\ud83e\\udd58 \\\"q\\\"\\n\\ud800!\"}}]");
    is_str(account_error(text, &a), "", "escapes in the display name");
    ok(a.account_id == UINT64_MAX, "account id 2^64 - 1 exact");
    is_str(a.display_name, "\xc3\xa9t\xc3\xa9 \xf0\x9f\xa5\x98 \"q\"\xef\xbf\xbd!",
           "escapes decoded, a surrogate pair joined, a newline dropped, a lone one replaced");

    snprintf(text, sizeof(text),
             "window.YTD.account.part0 = [{\"account\":{\"accountId\":\"1\",\"username\":\"x\","
             "\"accountDisplayName\":\"bad \xff\xfe utf8 \xed\xa0\x80\"}}]");
    is_str(account_error(text, &a), "", "invalid UTF-8 in the display name does not stop it");
    is_str(a.display_name, "bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
           "invalid bytes become U+FFFD");

    for (i = 0; i + 2 < sizeof(big); i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[i] = '\0';
    snprintf(text, sizeof(text),
             "window.YTD.account.part0 = [{\"account\":{\"accountId\":\"1\",\"username\":\"x\","
             "\"accountDisplayName\":\"%s\"}}]",
             big);
    is_str(account_error(text, &a), "", "a 2 KB display name");
    ok(strlen(a.display_name) == 256 && memcmp(a.display_name, big, 256) == 0,
       "cut to 256 bytes at a character boundary (%zu)", strlen(a.display_name));

    is_str(account_error("window.YTD.account.part0 = [{\"account\":{\"accountId\":\"1\","
                         "\"username\":\"x\"}}]",
                         &a),
           "", "no display name: fine");
    is_str(a.display_name, "", "an empty display name");

    static const char *const bad_handles[] = {
        "\"username\":\"al rocar\"",
        "\"username\":\"sixteen_chars_xx\"",
        "\"username\":\"\"",
        "\"username\":\"caf\xc3\xa9\"",
        "\"username\":7",
        "\"user\":\"x\"",
        "\"username\":\"a\",\"username\":\"b\"",
    };
    for (i = 0; i < sizeof(bad_handles) / sizeof(bad_handles[0]); i++) {
        snprintf(text, sizeof(text),
                 "window.YTD.account.part0 = [{\"account\":{\"accountId\":\"1\",%s}}]",
                 bad_handles[i]);
        is_str(account_error(text, &a),
               "data/account.js: username is missing or not an X handle (1 to 15 letters, "
               "digits or _)",
               "handle refused: %s", bad_handles[i]);
    }
    is_str(account_error("window.YTD.account.part0 = []", &a), "data/account.js: no account in it",
           "no account");
    is_str(account_error("window.YTD.account.part0 = [{\"accountId\":\"1\",\"username\":\"a\"},"
                         "{\"accountId\":\"2\",\"username\":\"b\"}]",
                         &a),
           "data/account.js: more than one account", "two accounts");
    is_str(account_error("window.YTD.account.part0 = [{\"account\":{\"username\":\"a\"}}]", &a),
           "data/account.js: element 1: no accountId", "no accountId");
    is_str(account_error("window.YTD.follower.part0 = []", &a),
           "data/account.js: expected window.YTD.account.partN, found window.YTD.follower.part0",
           "a follower list given as account.js");
}

static const char manifest_js[] =
    "window.__THAR_CONFIG = {\n"
    "  \"userInfo\" : { \"accountId\" : \"52338276\", \"userName\" : \"alrocar\" },\n"
    "  \"archiveInfo\" : { \"sizeBytes\" : \"299114054\", \"isPartialArchive\" : false },\n"
    "  \"dataTypes\" : {\n"
    "    \"account\" : { \"files\" : [ { \"fileName\" : \"data/account.js\", \"count\" : \"1\" } ] "
    "},\n"
    "    \"follower\" : { \"files\" : [ { \"fileName\" : \"data/follower.js\",\n"
    "        \"globalName\" : \"YTD.follower.part0\", \"count\" : \"2\" },\n"
    "      { \"fileName\" : \"data/follower-part1.js\", \"count\" : \"1\" } ] },\n"
    "    \"following\" : { \"files\" : [ { \"fileName\" : \"data/following.js\", \"count\" : 2 } ] "
    "},\n"
    "    \"tweetsMedia\" : { \"mediaDirectory\" : \"data/tweets_media\" }\n"
    "  }\n"
    "}";

static const char *
manifest_error(const char *text, struct archive_manifest *m)
{
    return file_error(ARCHIVE_MANIFEST, "data/manifest.js", text, NULL, m);
}

static void
test_manifest(void)
{
    struct archive_manifest m;

    is_str(manifest_error(manifest_js, &m), "", "manifest.js parses");
    ok(m.present && m.account_id == 52338276, "userInfo.accountId");
    ok(m.has_follower_count && m.follower_count == 3, "follower count summed over parts");
    ok(m.has_following_count && m.following_count == 2, "following count as a bare number");

    is_str(manifest_error("window.__THAR_CONFIG = {}", &m), "", "an empty manifest");
    ok(m.present && !m.has_follower_count && !m.has_following_count && m.account_id == 0,
       "nothing known from it");
    is_str(manifest_error("window.__THAR_CONFIG = {\"dataTypes\":{\"follower\":{}}};", &m), "",
           "a type without files");
    ok(!m.has_follower_count, "no count for it");
    is_str(
        manifest_error("window.__THAR_CONFIG = {\"dataTypes\":{\"follower\":{\"files\":[]}}}", &m),
        "", "a type with no files");
    ok(m.has_follower_count && m.follower_count == 0, "counts 0");
    is_str(manifest_error("window.__THAR_CONFIG = {\"dataTypes\":{\"following\":{\"files\":"
                          "[{\"count\":\"1\"},{\"count\":\"many\"}]}}}",
                          &m),
           "data/manifest.js: dataTypes.following.files[1].count is not a number",
           "a bad count is refused");
    is_str(manifest_error("window.__THAR_CONFIG = {\"userInfo\":{\"accountId\":\"x\"}}", &m),
           "data/manifest.js: userInfo.accountId is not a number", "a bad account id is refused");
    is_str(manifest_error("window.YTD.manifest.part0 = {}", &m),
           "data/manifest.js: expected window.__THAR_CONFIG, found window.YTD.manifest.part0",
           "wrong global name");
    is_str(manifest_error("window.__THAR_CONFIG = [{}]", &m),
           "data/manifest.js: does not start with window.__THAR_CONFIG = {", "an array");
    is_str(manifest_error("window.__THAR_CONFIG = {\"a\":}", &m),
           "data/manifest.js: not valid JSON", "broken JSON");
    is_str(manifest_error("window.__THAR_CONFIG = {} {}", &m),
           "data/manifest.js: unexpected data after the object", "two objects");
    is_str(manifest_error("window.__THAR_CONFIG = {\"a\":1", &m),
           "data/manifest.js: the file ends inside element 1", "truncated manifest");
}

/* Writes text to tmpdir/name; returns the path (static). */
static const char *
write_file(const char *name, const char *text)
{
    static char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* Writes a zip of (name, text) pairs to tmpdir/zip.zip; returns the path. */
static const char *
write_zip(const char *const *files, size_t n)
{
    static char path[512];
    struct zt z = { 0 };
    size_t i;

    for (i = 0; i < n; i++)
        zt_add_str(&z, files[2 * i], files[2 * i + 1]);
    zt_finish(&z, NULL);
    snprintf(path, sizeof(path), "%s/zip.zip", tmpdir);
    zt_write(&z, path);
    zt_free(&z);
    return path;
}

static const char follower0[] = "window.YTD.follower.part0 = [{\"follower\":{\"accountId\":"
                                "\"11\"}},{\"follower\":{\"accountId\":\"12\"}}]";
static const char follower1[] =
    "window.YTD.follower.part1 = [{\"follower\":{\"accountId\":\"13\"}}]";
static const char following0[] = "window.YTD.following.part0 = [{\"following\":{\"accountId\":"
                                 "\"21\"}},{\"following\":{\"accountId\":\"22\"}}]";

/* Reads a zip of the given files; returns the error or "". */
static const char *
zip_error(const char *const *files, size_t n, struct got *g, struct archive_result *res)
{
    static char err[512];
    struct archive_callbacks cb = { .ctx = g, .edge = got_edge, .account = got_account };

    memset(g, 0, sizeof(*g));
    if (archive_read_zip(write_zip(files, n), NULL, &cb, res, err, sizeof(err)) == 0)
        return "";
    return err;
}

static void
test_zip(void)
{
    static const char *const full[] = {
        "data/following.js",
        following0,
        "data/tweets_media/1-a.jpg",
        "\xff\xd8\xff",
        "data/follower-part1.js",
        follower1,
        "data/tweets.js",
        "window.YTD.tweets.part0 = [",
        "data/manifest.js",
        manifest_js,
        "data/follower.js",
        follower0,
        "data/account.js",
        account_js,
        "Your archive.html",
        "<html>",
    };
    struct archive_result res;
    struct got g;

    is_str(zip_error(full, 8, &g, &res), "", "a whole archive reads");
    ok(res.followers == 3 && res.following == 2 && res.follower_files == 2 &&
           res.following_files == 1,
       "3 followers in 2 files, 2 followings in 1");
    ok(g.n == 5 && g.ids[0] == 11 && g.ids[1] == 12 && g.ids[2] == 13 && g.ids[3] == 21 &&
           g.ids[4] == 22 && g.kinds[2] == ARCHIVE_FOLLOWER && g.kinds[3] == ARCHIVE_FOLLOWING,
       "parts in order, followers then followings, whatever the zip order");
    ok(g.accounts == 1 && g.edges_before_account == 0, "the account comes before any edge");
    ok(res.account.account_id == 52338276 && strcmp(res.account.username, "alrocar") == 0,
       "the account in the result");
    ok(res.manifest.present && res.manifest.follower_count == 3, "the manifest in the result");

    static const char *const no_manifest[] = {
        "follower.js", follower0, "account.js", account_js, "data/", "",
    };
    is_str(zip_error(no_manifest, 3, &g, &res), "", "no data/ folder and no manifest");
    ok(res.followers == 2 && !res.manifest.present, "read without a count check");

    static const char *const rezipped[] = {
        "twitter-2024/data/account.js",
        account_js,
        "twitter-2024/data/following.js",
        following0,
    };
    is_str(zip_error(rezipped, 2, &g, &res), "", "an archive unzipped and zipped again");
    ok(res.following == 2, "its following list read");

    static const char *const no_account[] = { "data/follower.js", follower0, "data/tweets.js",
                                              "[]" };
    is_str(zip_error(no_account, 2, &g, &res), "not an X archive (no data/account.js)",
           "no account.js");
    is_int(g.count, 0, "nothing handed out");
    static const char *const nothing[] = { "photos/cat.jpg", "\xff\xd8" };
    is_str(zip_error(nothing, 1, &g, &res), "not an X archive (no data/account.js)",
           "a zip with none of the files");
    static const char *const no_lists[] = { "data/account.js", account_js, "data/manifest.js",
                                            manifest_js };
    is_str(zip_error(no_lists, 2, &g, &res), "no follower or following lists in the archive",
           "no lists");

    static const char *const missing_part[] = {
        "data/manifest.js", manifest_js, "data/follower.js",  follower0,
        "data/account.js",  account_js,  "data/following.js", following0,
    };
    is_str(zip_error(missing_part, 4, &g, &res),
           "the follower lists hold 2 accounts but manifest.js says 3",
           "a part missing: the count mismatch names both numbers");

    static const char *const other_account[] = {
        "data/manifest.js",
        manifest_js,
        "data/follower.js",
        follower0,
        "data/account.js",
        "window.YTD.account.part0 = [{\"account\":{\"accountId\":\"99\","
        "\"username\":\"someone\"}}]",
        "data/follower-part1.js",
        follower1,
    };
    is_str(zip_error(other_account, 4, &g, &res),
           "account.js and manifest.js name different accounts (99 and 52338276)",
           "account.js and manifest.js disagree");

    static const char *const twice[] = { "data/account.js", account_js,    "data/follower.js",
                                         follower0,         "follower.js", follower0 };
    is_str(zip_error(twice, 3, &g, &res), "follower.js: follower part 0 was already read",
           "the same part twice");

    static const char *const bad_part[] = {
        "data/account.js",
        account_js,
        "data/follower.js",
        follower0,
        "data/follower-part1.js",
        "window.YTD.follower.part1 = [{\"follower\":{\"accountId\":\"13\"}},"
        "{\"follower\":{\"accountId\":\"1.5\"}}]",
    };
    is_str(zip_error(bad_part, 3, &g, &res),
           "data/follower-part1.js: element 2: accountId is not a number",
           "an error in a part names the entry and the element");

    static const char *const truncated[] = { "data/account.js", account_js, "data/follower.js",
                                             "window.YTD.follower.part0 = [{\"accountId\":\"1\"}" };
    is_str(zip_error(truncated, 2, &g, &res),
           "data/follower.js: the file ends before the list closes", "a truncated list file");
}

static void
test_zip_failures(void)
{
    static const char *const files[] = { "data/account.js", account_js, "data/follower.js",
                                         follower0 };
    struct archive_callbacks cb = { .edge = got_edge };
    struct got g = { .fail_at = 2 };
    struct zt z = { 0 };
    char err[512], path[512];
    FILE *f;
    size_t pad = 30 << 20;
    char *spaces;

    cb.ctx = &g;
    is_int(archive_read_zip(write_zip(files, 2), NULL, &cb, NULL, err, sizeof(err)), -1,
           "the edge callback can stop the import");
    is_str(err, "database: the edge table is gone", "with its own message");

    snprintf(path, sizeof(path), "%s/zip.zip", tmpdir);
    f = fopen(path, "r+");
    fseek(f, 0, SEEK_END);
    if (ftruncate(fileno(f), ftell(f) - 30) != 0)
        perror("ftruncate");
    fclose(f);
    g = (struct got){ 0 };
    is_int(archive_read_zip(path, NULL, &cb, NULL, err, sizeof(err)), -1, "a truncated zip");
    is_str(err, "not a zip file (no end of central directory record)", "a truncated zip: message");

    /* Valid JSON, but white space that deflates a thousand to one. */
    spaces = malloc(pad);
    memset(spaces, ' ', pad);
    memcpy(spaces, "window.YTD.follower.part0 = [", 29);
    spaces[pad - 1] = ']';
    zt_add_str(&z, "data/account.js", account_js);
    zt_add(&z, "data/follower.js", spaces, pad, 8);
    zt_finish(&z, NULL);
    zt_write(&z, path);
    is_int(archive_read_zip(path, NULL, &cb, NULL, err, sizeof(err)), -1, "a zip bomb");
    is_str(err, "data/follower.js: compressed more than 200 to 1, refused as a zip bomb",
           "a zip bomb: message");
    zt_free(&z);
    free(spaces);
    is_int(archive_read_zip("/nonexistent/x.zip", NULL, &cb, NULL, err, sizeof(err)), -1,
           "no such zip");
    unlink(path);
}

static void
test_files(void)
{
    const char *paths[4];
    char p[4][512], err[512];
    struct archive_callbacks cb = { .edge = got_edge, .account = got_account };
    struct archive_result res;
    struct got g = { 0 };

    cb.ctx = &g;
    snprintf(p[0], sizeof(p[0]), "%s", write_file("following-part1.js", following0));
    snprintf(p[1], sizeof(p[1]), "%s", write_file("follower.js", follower0));
    snprintf(p[2], sizeof(p[2]), "%s", write_file("account.js", account_js));
    snprintf(p[3], sizeof(p[3]), "%s", write_file("tweets.js", "[]"));
    paths[0] = p[0];
    paths[1] = p[1];
    paths[2] = p[2];
    paths[3] = p[3];
    is_int(archive_read_files(paths, 3, &cb, &res, err, sizeof(err)), 0, "loose files read (%s)",
           err);
    ok(res.followers == 2 && res.following == 2 && g.edges_before_account == 0,
       "their edges, the account first");
    is_int(archive_read_files(paths, 4, &cb, &res, err, sizeof(err)), -1,
           "an unknown file is refused");
    is_str(err,
           "tweets.js: not one of the files passerelle reads (account.js, manifest.js, "
           "follower*.js, following*.js, block*.js, mute*.js)",
           "and named");
    is_int(archive_read_files(paths, 2, &cb, &res, err, sizeof(err)), -1, "no account.js");
    is_str(err, "not an X archive (no data/account.js)", "no account.js: message");
    paths[1] = "/nonexistent/follower.js";
    is_int(archive_read_files(paths, 3, &cb, &res, err, sizeof(err)), -1, "a missing file");
    ok(strstr(err, "cannot open /nonexistent/follower.js") != NULL, "a missing file: %s", err);
    unlink(p[0]);
    unlink(p[1]);
    unlink(p[2]);
    unlink(p[3]);
}

static void
test_reader(void)
{
    struct archive_reader *r = archive_reader_new(NULL);
    struct archive_result res;
    char err[512];

    is_int(archive_reader_begin(r, "data/tweets.js", err, sizeof(err)), -1,
           "reader: other files refused");
    is_int(archive_reader_feed(r, "x", 1, err, sizeof(err)), -1, "reader: feed before begin");
    is_int(archive_reader_begin(r, "data/follower.js", err, sizeof(err)), 0, "reader: begin");
    is_int(archive_reader_begin(r, "data/following.js", err, sizeof(err)), -1,
           "reader: begin twice");
    is_int(archive_reader_finish(r, &res, err, sizeof(err)), -1, "reader: finish mid-file");
    is_str(err, "data/follower.js: the file was not ended", "reader: which file");
    archive_reader_feed(r, follower0, strlen(follower0), err, sizeof(err));
    is_int(archive_reader_end(r, err, sizeof(err)), 0, "reader: end");
    is_int(archive_reader_begin(r, "account.js", err, sizeof(err)), 0, "reader: account");
    archive_reader_feed(r, account_js, strlen(account_js), err, sizeof(err));
    archive_reader_end(r, err, sizeof(err));
    is_int(archive_reader_finish(r, &res, err, sizeof(err)), 0,
           "reader: account after the list is fine");
    ok(res.followers == 2 && res.account.account_id == 52338276, "reader: result");
    archive_reader_free(r);
}

/*
 * Two million edges through the push parser, generated on the fly in realistic layout: the
 * count and the id sum come out right and the element buffer never grows past its first size.
 */
static void
test_two_million(void)
{
    struct got g = { 0 };
    struct archive_callbacks cb = { .ctx = &g, .edge = got_edge };
    struct archive_stream *s = archive_stream_new(ARCHIVE_FOLLOWING, "following.js", &cb);
    size_t cap = 1 << 20, len, first_size = 0;
    char *chunk = malloc(cap), err[512];
    uint64_t i, n = 2000000, base = (1ULL << 60) + 1, want = 0;
    int rc = archive_stream_feed(s, "window.YTD.following.part0 = [", 30, err, sizeof(err));

    for (i = 0; i < n && rc == 0;) {
        len = 0;
        while (i < n && len + 300 < cap) {
            uint64_t id = base + i * 7919;

            want += id;
            len += (size_t)snprintf(
                chunk + len, cap - len,
                "%s {\n    \"following\" : {\n      \"accountId\" : \"%llu\",\n"
                "      \"userLink\" : \"https://twitter.com/intent/user?user_id=%llu\"\n    }\n  }",
                i ? "," : "", (unsigned long long)id, (unsigned long long)id);
            i++;
        }
        rc = archive_stream_feed(s, chunk, len, err, sizeof(err));
        if (first_size == 0)
            first_size = archive_stream_buffer_size(s);
    }
    if (rc == 0)
        rc = archive_stream_feed(s, "\n]", 2, err, sizeof(err));
    if (rc == 0)
        rc = archive_stream_finish(s, err, sizeof(err));
    is_int(rc, 0, "2,000,000 edges stream through (%s)", rc ? err : "");
    is_int(g.count, n, "all 2,000,000 edges handed out");
    is_int(archive_stream_elements(s), n, "2,000,000 elements counted");
    ok(g.sum == want, "the ids add up (ids above 2^60)");
    ok(archive_stream_buffer_size(s) == first_size && first_size <= ARCHIVE_MAX_ELEMENT,
       "the element buffer stayed at %zu bytes (cap %d)", archive_stream_buffer_size(s),
       ARCHIVE_MAX_ELEMENT);
    archive_stream_free(s);
    free(chunk);
}

/* block.js and mute.js: the list's name outside, the relation ("blocking", "muting") inside. */
static void
test_blocks_mutes(void)
{
    static const char block0[] =
        "window.YTD.block.part0 = [\n"
        "  { \"blocking\" : { \"accountId\" : \"31\",\n"
        "      \"userLink\" : \"https://twitter.com/intent/user?user_id=31\" } },\n"
        "  { \"blocking\" : { \"accountId\" : \"9007199254740993\" } }\n"
        "]";
    static const char mute0[] = "window.YTD.mute.part0 = [{\"muting\":{\"accountId\":\"41\"}}]";
    static const char manifest_bm[] =
        "window.__THAR_CONFIG = { \"userInfo\" : { \"accountId\" : \"52338276\" },"
        " \"dataTypes\" : { \"follower\" : { \"files\" : [ { \"count\" : \"2\" } ] },"
        " \"block\" : { \"files\" : [ { \"fileName\" : \"data/block.js\", \"count\" : \"2\" } ] },"
        " \"mute\" : { \"files\" : [ { \"fileName\" : \"data/mute.js\", \"count\" : \"3\" } ] } } "
        "}";
    struct archive_manifest m;
    struct archive_result res;
    struct got g = { 0 };
    char err[512];

    is_str(archive_kind_name(ARCHIVE_BLOCK), "block", "block.js's kind name");
    is_str(archive_kind_key(ARCHIVE_BLOCK), "blocking", "its elements' key");
    is_str(archive_kind_key(ARCHIVE_MUTE), "muting", "mute.js's elements' key");
    is_str(archive_kind_key(ARCHIVE_FOLLOWER), "follower", "the follower list's key is its name");
    is_int(parse(ARCHIVE_BLOCK, block0, &g, err, sizeof(err)), 0, "block.js parses (%s)", err);
    ok(g.n == 2 && g.ids[0] == 31 && g.ids[1] == 9007199254740993ULL && g.kinds[0] == ARCHIVE_BLOCK,
       "its ids exact, with their kind");
    memset(&g, 0, sizeof(g));
    is_int(parse_split(ARCHIVE_MUTE, "mute.js", mute0, strlen(mute0), 1, &g, NULL, NULL, err,
                       sizeof(err)),
           0, "mute.js one byte at a time (%s)", err);
    ok(g.n == 1 && g.ids[0] == 41 && g.kinds[0] == ARCHIVE_MUTE, "its id");
    is_str(file_error(ARCHIVE_BLOCK, "data/block.js", mute0, NULL, NULL),
           "data/block.js: expected window.YTD.block.partN, found window.YTD.mute.part0",
           "a mute list in block.js");
    is_str(file_error(ARCHIVE_BLOCK, "data/block.js",
                      "window.YTD.block.part0 = [{\"blocking\":{\"accountId\":\"7\"}},"
                      "{\"blocking\":\"7\"}]",
                      NULL, NULL),
           "data/block.js: element 2: \"blocking\" is not an object",
           "a wrapper that is no object");
    is_str(file_error(ARCHIVE_MUTE, "data/mute.js",
                      "window.YTD.mute.part0 = [{\"muting\":{\"accountId\":\"0x1\"}}]", NULL, NULL),
           "data/mute.js: element 1: accountId is not a number", "a bad id in mute.js");
    is_str(file_error(ARCHIVE_MANIFEST, "data/manifest.js", manifest_bm, NULL, &m), "",
           "a manifest with block and mute counts");
    ok(m.has_block_count && m.block_count == 2 && m.has_mute_count && m.mute_count == 3,
       "both counts read");

    static const char *const with_lists[] = {
        "data/mute.js",    mute0,      "data/block.js",    block0,
        "data/account.js", account_js, "data/follower.js", follower0,
    };
    memset(&g, 0, sizeof(g));
    is_str(zip_error(with_lists, 4, &g, &res), "", "an archive with block.js and mute.js");
    ok(res.blocks == 2 && res.mutes == 1 && res.block_files == 1 && res.mute_files == 1 &&
           res.followers == 2,
       "counted apart from the followers");
    ok(g.n == 5 && g.kinds[1] == ARCHIVE_FOLLOWER && g.kinds[2] == ARCHIVE_BLOCK &&
           g.kinds[4] == ARCHIVE_MUTE,
       "after the follower lists, blocks then mutes");
    static const char *const counted[] = {
        "data/manifest.js", manifest_bm, "data/block.js",    block0,
        "data/account.js",  account_js,  "data/follower.js", follower0,
    };
    is_str(zip_error(counted, 4, &g, &res), "", "the block count matches; mute.js is not there");
    ok(res.mute_files == 0 && res.block_files == 1, "an absent list is not an empty one");
    static const char *const miscounted[] = {
        "data/manifest.js", manifest_bm, "data/mute.js",     mute0,
        "data/account.js",  account_js,  "data/follower.js", follower0,
    };
    is_str(zip_error(miscounted, 4, &g, &res),
           "the mute lists hold 1 accounts but manifest.js says 3", "a mute count mismatch");
    static const char *const only_blocks[] = { "data/account.js", account_js, "data/block.js",
                                               block0 };
    is_str(zip_error(only_blocks, 2, &g, &res), "no follower or following lists in the archive",
           "blocks alone are no archive");
    is_int(g.count, 0, "and nothing was handed out");
    snprintf(err, sizeof(err), "%s/zip.zip", tmpdir);
    unlink(err);
}

int
main(void)
{
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_classify();
    test_edges();
    test_ids();
    test_error_position();
    test_malformed();
    test_caps();
    test_chunking();
    test_members();
    test_cap_chunking();
    test_truncated();
    test_account();
    test_manifest();
    test_zip();
    test_zip_failures();
    test_blocks_mutes();
    test_files();
    test_reader();
    test_two_million();
    ok(rmdir(tmpdir) == 0, "the temporary folder is left empty");
    return done_testing();
}
