/* Unit tests for server/core/policy.c: domain syntax, list normalization, suffix and port matching.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy.h"
#include "tap.h"

static void
test_domain(void)
{
    char out[POLICY_DOMAIN_MAX], err[128], tiny[8];
    char longname[300];
    const char *good[][2] = {
        { "Example.COM", "example.com" },
        { "a.b-c.example", "a.b-c.example" },
        { "127.0.0.1:8080", "127.0.0.1:8080" },
        { "localhost", "localhost" },
        { "xn--bcher-kva.example", "xn--bcher-kva.example" },
        { "[::1]:8443", "[::1]:8443" },
        { "[2001:DB8::1]", "[2001:db8::1]" },
        { "host:65535", "host:65535" },
    };
    const char *bad[] = {
        "",
        "https://example.com",
        "example.com/",
        "example.com/path",
        "user@example.com",
        "example.com.",
        ".example.com",
        "a..b",
        "-a.example",
        "a-.example",
        "exa mple.com",
        "example.com:0",
        "example.com:65536",
        "example.com:080",
        "example.com:",
        "example.com:8x",
        "a:1:2",
        "::1",
        "[::1",
        "[::1]x",
        "[zz::1]",
        "ex_ample.com",
        "*.example.com",
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(policy_domain_normalize(good[i][0], out, sizeof(out), err, sizeof(err)) == 0 &&
               strcmp(out, good[i][1]) == 0,
           "\"%s\" accepted as \"%s\"", good[i][0], good[i][1]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ok(policy_domain_normalize(bad[i], out, sizeof(out), err, sizeof(err)) < 0 &&
               err[0] != '\0',
           "\"%s\" refused: %s", bad[i], err);
    }
    ok(policy_domain_normalize(NULL, out, sizeof(out), err, sizeof(err)) < 0, "NULL refused");
    ok(policy_domain_normalize("example.com", tiny, sizeof(tiny), err, sizeof(err)) < 0,
       "output too small refused");
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ok(policy_domain_normalize(longname, out, sizeof(out), err, sizeof(err)) < 0,
       "overlong name refused");
    memset(longname, 'a', 64);
    memcpy(longname + 64, ".example", sizeof(".example"));
    ok(policy_domain_normalize(longname, out, sizeof(out), err, sizeof(err)) < 0,
       "a 64-byte label refused");
    err[0] = '\0';
    policy_domain_normalize("http://x", out, sizeof(out), err, sizeof(err));
    ok(strstr(err, "scheme") != NULL, "a URL is told to drop the scheme: %s", err);
}

static void
test_list_normalize(void)
{
    char *out = NULL, err[256], sentinel[] = "untouched";

    ok(policy_list_normalize(" A.example, b.example\tc.example:8080 ,,", &out, err, sizeof(err)) ==
           0,
       "a mixed list normalizes");
    is_str(out ? out : "", "a.example b.example c.example:8080", "one space, lowercase");
    free(out);
    out = NULL;
    ok(policy_list_normalize("", &out, err, sizeof(err)) == 0 && out != NULL && *out == '\0',
       "empty list is \"\"");
    free(out);
    out = NULL;
    ok(policy_list_normalize(NULL, &out, err, sizeof(err)) == 0 && out != NULL && *out == '\0',
       "NULL list is \"\"");
    free(out);
    out = sentinel;
    ok(policy_list_normalize("good.example, https://bad.example", &out, err, sizeof(err)) < 0,
       "a URL in the list refused");
    ok(strstr(err, "https://bad.example") != NULL, "the error names the entry: %s", err);
    ok(out == sentinel, "output untouched on error");
}

static void
test_listed(void)
{
    const char *list = "example.com, 127.0.0.1:8080 10.0.0.1 [::1]:9000";

    ok(policy_listed(list, "example.com"), "exact");
    ok(policy_listed(list, "EXAMPLE.com"), "case-insensitive");
    ok(policy_listed(list, "b.example.com"), "subdomain");
    ok(policy_listed(list, "a.b.example.com"), "deeper subdomain");
    ok(!policy_listed(list, "badexample.com"), "a longer name with the same tail is not");
    ok(!policy_listed(list, "example.com.evil"), "a name with the entry as prefix is not");
    ok(!policy_listed(list, "com"), "the parent is not");
    ok(policy_listed(list, "example.com:8443"), "a port-less entry covers every port");
    ok(policy_listed(list, "b.example.com:8443"), "and subdomains on any port");
    ok(policy_listed(list, "127.0.0.1:8080"), "host:port exact");
    ok(!policy_listed(list, "127.0.0.1"), "host:port entry does not cover the bare host");
    ok(!policy_listed(list, "127.0.0.1:8081"), "nor another port");
    ok(!policy_listed(list, "x.127.0.0.1:8080"), "nor a subdomain");
    ok(policy_listed(list, "10.0.0.1:5000"), "IP entry without port covers its ports");
    ok(!policy_listed(list, "1.10.0.0.1"), "IP literals have no subdomains");
    ok(policy_listed(list, "[::1]:9000"), "IPv6 with port");
    ok(!policy_listed(list, "[::1]:9001"), "IPv6 other port");
    ok(!policy_listed("", "example.com"), "empty list lists nothing");
    ok(!policy_listed(NULL, "example.com"), "NULL list");
    ok(!policy_listed(list, NULL), "NULL domain");
    ok(!policy_listed(list, ""), "empty domain");
    ok(policy_listed("a.example\nexample.com", "x.example.com"), "newline separates too");
}

static void
test_config(void)
{
    struct config cfg;
    char err[256];

    config_defaults(&cfg);
    ok(config_set(&cfg, "relay_block", "Bad.Example, evil.example:8443", err, sizeof(err)) == 0 &&
           config_set(&cfg, "relay_allow", "good.example bad.example", err, sizeof(err)) == 0 &&
           config_validate(&cfg, err, sizeof(err)) == 0,
       "lists validate: %s", err);
    ok(policy_config_blocked(&cfg, "sub.bad.example"), "blocked by suffix");
    ok(policy_config_blocked(&cfg, "evil.example:8443"), "blocked host:port");
    ok(!policy_config_blocked(&cfg, "evil.example"), "other port not blocked");
    ok(!policy_config_blocked(&cfg, "good.example"), "good not blocked");
    ok(policy_config_allowed(&cfg, "good.example"), "allowed");
    ok(policy_config_allowed(&cfg, "www.good.example"), "allowed by suffix");
    ok(!policy_config_allowed(&cfg, "bad.example"), "listed in both: the block wins");
    ok(!policy_config_allowed(&cfg, "other.example"), "unlisted not allowed");
    config_free(&cfg);

    config_defaults(&cfg);
    ok(config_validate(&cfg, err, sizeof(err)) == 0, "defaults validate");
    ok(!policy_config_blocked(&cfg, "example.com") && !policy_config_allowed(&cfg, "example.com"),
       "default lists are empty");
    config_free(&cfg);
}

static void
test_candidates(void)
{
    char out[512];

    ok(policy_candidates_pg("a.b.example.com:8443", out, sizeof(out)) == 0, "candidates built");
    is_str(
        out,
        "{\"a.b.example.com:8443\",\"a.b.example.com\",\"b.example.com\",\"example.com\",\"com\"}",
        "host:port, host, then every parent name");
    policy_candidates_pg("example.com", out, sizeof(out));
    is_str(out, "{\"example.com\",\"com\"}", "no port: the host and its parent");
    policy_candidates_pg("127.0.0.1:8080", out, sizeof(out));
    is_str(out, "{\"127.0.0.1:8080\",\"127.0.0.1\"}", "an IPv4 address has no parents");
    policy_candidates_pg("[::1]:80", out, sizeof(out));
    is_str(out, "{\"[::1]:80\",\"[::1]\"}", "nor has an IPv6 one");
    ok(policy_candidates_pg("a.b.example.com", out, 20) < 0, "a short buffer is refused");
    /* Whatever a caller lets through, each name stays one element of the literal. */
    ok(policy_candidates_pg("a\"b.example", out, sizeof(out)) == 0, "a quote in a host");
    is_str(out, "{\"a\\\"b.example\",\"example\"}", "a quote is escaped");
    policy_candidates_pg("a\\b.example:8080", out, sizeof(out));
    is_str(out, "{\"a\\\\b.example:8080\",\"a\\\\b.example\",\"example\"}",
           "a backslash is escaped");
    policy_candidates_pg("\"\"", out, sizeof(out));
    is_str(out, "{\"\\\"\\\"\"}", "nothing but quotes");
    ok(policy_candidates_pg("a\"b", out, 8) < 0 && policy_candidates_pg("a\"b", out, 9) == 0,
       "the escapes count towards the buffer's size");
    /* Every candidate is an entry that policy_listed would match. */
    ok(policy_listed("b.example.com", "a.b.example.com:8443") &&
           policy_listed("a.b.example.com:8443", "a.b.example.com:8443"),
       "candidates agree with policy_listed");
}

int
main(void)
{
    test_candidates();
    test_domain();
    test_list_normalize();
    test_listed();
    test_config();
    return done_testing();
}
