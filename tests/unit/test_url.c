/* Unit tests for server/core/url.c: every URL rule the inbox, the queue and the keys rely on. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "url.h"

/* A row of the table: a URL, and the authority it gives (NULL when it is refused). */
struct authority_case {
    const char *url;
    const char *authority;
    const char *why;
};

static const struct authority_case authority_cases[] = {
    { "https://Mastodon.Social/inbox", "mastodon.social", "host lowercased" },
    { "https://a.example:443/inbox", "a.example", "default https port dropped" },
    { "http://a.example:80/", "a.example", "default http port dropped" },
    { "http://a.example:443/", "a.example:443", "443 kept for http" },
    { "https://a.example:80/", "a.example:80", "80 kept for https" },
    { "http://127.0.0.1:8080?x", "127.0.0.1:8080", "query right after the port" },
    { "https://a.example#frag", "a.example", "fragment right after the host" },
    { "HTTPS://A.EXAMPLE/", "a.example", "scheme in capitals" },
    { "https://[::1]:9/x", "[::1]:9", "IPv6 literal with port" },
    { "https://[2001:DB8::1]/", "[2001:db8::1]", "IPv6 literal lowercased" },
    { "https://[::ffff:1.2.3.4]/", "[::ffff:1.2.3.4]", "IPv4 inside IPv6" },
    { "https://under_score.example/", "under_score.example", "underscore in a name" },
    { "https://u@a.example/", NULL, "userinfo refused" },
    { "https://u:p@a.example/", NULL, "userinfo with password refused" },
    { "https://a.example/@u", "a.example", "an @ in the path is not userinfo" },
    { "ftp://a.example/", NULL, "other scheme refused" },
    { "//a.example/", NULL, "scheme-relative refused" },
    { "a.example/x", NULL, "no scheme refused" },
    { "https://a.example:99999/", NULL, "port out of range refused" },
    { "https://a.example:0/", NULL, "port 0 refused" },
    { "https://a.example:/", NULL, "empty port refused" },
    { "https://a.example:8x/", NULL, "port with a letter refused" },
    { "https://a.example:0000443/", NULL, "overlong port refused" },
    { "https:///x", NULL, "empty host refused" },
    { "https://", NULL, "nothing after the scheme refused" },
    { "https://a\"b.example/", NULL, "quote in host refused" },
    { "https://a\\b.example/", NULL, "backslash in host refused" },
    { "https://a b.example/", NULL, "space in host refused" },
    { "https://a,b.example/", NULL, "comma in host refused" },
    { "https://a{b}.example/", NULL, "braces in host refused" },
    { "https://\xc3\xa9.example/", NULL, "non-ASCII host refused (punycode is expected)" },
    { "https://[::1/", NULL, "unclosed IPv6 literal refused" },
    { "https://[::1]x/", NULL, "junk after an IPv6 literal refused" },
    { "https://[fe80::1%25eth0]/", NULL, "IPv6 zone id refused" },
    { "https://[g::1]/", NULL, "non-hex IPv6 literal refused" },
};

static void
test_authority(void)
{
    char out[URL_AUTHORITY_MAX];

    for (size_t i = 0; i < sizeof(authority_cases) / sizeof(authority_cases[0]); i++) {
        const struct authority_case *c = &authority_cases[i];
        int rc = url_authority(c->url, out, sizeof(out));

        if (c->authority == NULL)
            is_int(rc, -1, "%s", c->why);
        else
            ok(rc == 0 && strcmp(out, c->authority) == 0, "%s (%s)", c->why,
               rc == 0 ? out : "refused");
    }
    is_int(url_authority(NULL, out, sizeof(out)), -1, "NULL refused");
    is_int(url_authority("https://a.example/", out, 10), -1, "a short buffer refused");
}

/* The host names the queue and the inbox compare (moved from test_queue with queue_host_of). */
static void
test_authority_hosts(void)
{
    char h[URL_AUTHORITY_MAX];

    ok(url_authority("https://Mastodon.Social/inbox", h, sizeof(h)) == 0 &&
           strcmp(h, "mastodon.social") == 0,
       "host lowercased");
    ok(url_authority("https://a.example:443/inbox", h, sizeof(h)) == 0 &&
           strcmp(h, "a.example") == 0,
       "default port dropped");
    ok(url_authority("http://127.0.0.1:8080?x", h, sizeof(h)) == 0 &&
           strcmp(h, "127.0.0.1:8080") == 0,
       "other port kept");
    ok(url_authority("https://[::1]:9/x", h, sizeof(h)) == 0 && strcmp(h, "[::1]:9") == 0,
       "IPv6 literal");
    is_int(url_authority("https://u@a.example/", h, sizeof(h)), -1, "userinfo refused");
    is_int(url_authority("ftp://a.example/", h, sizeof(h)), -1, "other scheme refused");
    is_int(url_authority("https://a.example:99999/", h, sizeof(h)), -1, "bad port refused");
    is_int(url_authority("https:///x", h, sizeof(h)), -1, "empty host refused");
    is_int(url_authority("https://a\"b.example/k#k", h, sizeof(h)), -1, "a quote refused");
    is_int(url_authority("https://a\\b.example/", h, sizeof(h)), -1, "a backslash refused");
    is_int(url_authority("https://a{b}.example/", h, sizeof(h)), -1, "braces refused");
    is_int(url_authority("https://a%2eb/", h, sizeof(h)), -1, "percent-encoding refused");
    is_int(url_authority("https://[::1\"]/", h, sizeof(h)), -1, "a quote in an IPv6 literal");
    is_int(url_authority("https://[fe80::1%25eth0]/", h, sizeof(h)), -1, "an IPv6 zone refused");
    ok(url_authority("https://Under_Score-1.example/", h, sizeof(h)) == 0 &&
           strcmp(h, "under_score-1.example") == 0,
       "letters, digits, '-', '_' and dots pass");
}

static void
test_overlong_host(void)
{
    char url[400], out[URL_AUTHORITY_MAX];

    strcpy(url, "https://");
    memset(url + 8, 'a', URL_HOST_MAX);
    url[8 + URL_HOST_MAX] = '\0';
    ok(url_authority(url, out, sizeof(out)) == 0 && strlen(out) == URL_HOST_MAX,
       "a host of URL_HOST_MAX characters is accepted");
    strcat(url, "a/");
    is_int(url_authority(url, out, sizeof(out)), -1, "one more character is refused");
}

static void
test_split(void)
{
    struct url u;
    char err[64];

    ok(url_split("https://h.example:8443/a/b?c=d#e", &u, err, sizeof(err)) == 0, "split");
    ok(u.https && u.port == 8443 && u.port_explicit, "https, explicit port");
    ok(u.host_len == 9 && memcmp(u.host, "h.example", 9) == 0, "host");
    ok(u.path_len == 4 && memcmp(u.path, "/a/b", 4) == 0, "path");
    ok(u.query != NULL && u.query_len == 3 && memcmp(u.query, "c=d", 3) == 0, "query");
    ok(u.fragment != NULL && strcmp(u.fragment, "e") == 0, "fragment");
    ok(url_split("http://h.example", &u, err, sizeof(err)) == 0 && !u.https && u.port == 80 &&
           !u.port_explicit && u.path_len == 0 && u.query == NULL && u.fragment == NULL,
       "bare http URL: default port, no path, no query, no fragment");
    ok(url_split("https://[::1]:9/", &u, err, sizeof(err)) == 0 && u.ipv6 && u.host_len == 3 &&
           memcmp(u.host, "::1", 3) == 0,
       "IPv6 host without brackets");
    ok(url_split("https://u@h/", &u, err, sizeof(err)) == -1 && strstr(err, "userinfo") != NULL,
       "the reason names userinfo");
}

static void
test_origin(void)
{
    char scheme[8], host[URL_HOST_MAX + 1], small[4];
    long port;

    ok(url_origin("HTTPS://A.Example/x", scheme, sizeof(scheme), host, sizeof(host), &port) == 0 &&
           strcmp(scheme, "https") == 0 && strcmp(host, "a.example") == 0 && port == 443,
       "origin: scheme, lowercase host, default port");
    ok(url_origin("http://[::1]:8080/", scheme, sizeof(scheme), host, sizeof(host), &port) == 0 &&
           strcmp(host, "::1") == 0 && port == 8080,
       "origin of an IPv6 literal");
    is_int(url_origin("https://abcdef/", scheme, sizeof(scheme), small, sizeof(small), &port), -1,
           "a host longer than the buffer is refused, not cut");
    ok(url_same_origin("https://a.example/x", "https://A.EXAMPLE:443/y?z"), "same origin");
    ok(!url_same_origin("https://a.example/", "http://a.example/"), "scheme differs");
    ok(!url_same_origin("https://a.example/", "https://a.example:8443/"), "port differs");
    ok(!url_same_origin("https://a.example/", "https://b.example/"), "host differs");
    ok(!url_same_origin("https://a.example/", "https://u@a.example/"),
       "a refused URL never matches");
}

/* The origin rules remote.c relies on for key documents, owners and inboxes. */
static void
test_same_origin_table(void)
{
    ok(url_same_origin("https://a.example/x", "https://A.example:443/y"), "origin: port 443");
    ok(url_same_origin("http://a.example", "http://a.example:80/"), "origin: port 80");
    ok(!url_same_origin("https://a.example/x", "http://a.example/x"), "origin: scheme");
    ok(!url_same_origin("https://a.example/x", "https://b.example/x"), "origin: host");
    ok(!url_same_origin("https://a.example:8443/", "https://a.example/"), "origin: port");
    ok(!url_same_origin("https://u@a.example/", "https://a.example/"), "origin: userinfo");
    ok(url_same_origin("https://[::1]:8/a", "https://[::1]:8/b"), "origin: IPv6");
    ok(!url_same_origin("ftp://a.example/", "ftp://a.example/"), "origin: ftp refused");
    ok(!url_same_origin(NULL, "https://a.example/"), "origin: NULL");
    ok(!url_same_origin("https://a.example.evil/", "https://a.example/"), "origin: suffix");
}

static void
test_target(void)
{
    static const char *const cases[][2] = {
        { "https://h.example", "/" },
        { "https://h.example/", "/" },
        { "https://h.example/a/b", "/a/b" },
        { "https://h.example/a?b=c", "/a?b=c" },
        { "https://h.example?b=c", "/?b=c" },
        { "https://h.example/a#frag", "/a" },
        { "https://h.example/a?b#frag", "/a?b" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = url_target(cases[i][0]);

        is_str(t, cases[i][1], "target of %s", cases[i][0]);
        free(t);
    }
    ok(url_target("https://u@h/") == NULL, "no target for a refused URL");
}

int
main(void)
{
    test_authority();
    test_authority_hosts();
    test_overlong_host();
    test_split();
    test_origin();
    test_same_origin_table();
    test_target();
    return done_testing();
}
