/*
 * Unit tests for server/reconnect/mastoapi.c: home origin, reset headers, forms, JSON, grant AD,
 * whose account a verify_credentials answer is.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "mastoapi.h"
#include "oauth.h"
#include "tap.h"

static void
test_home(void)
{
    struct config cfg;
    char origin[300], host[256];

    memset(&cfg, 0, sizeof(cfg));
    ok(mastoapi_home(&cfg, "https://Mastodon.Example/users/alice", origin, sizeof(origin), host,
                     sizeof(host)) == 0,
       "an https actor has a home");
    is_str(origin, "https://mastodon.example", "origin lowercased, no path");
    is_str(host, "mastodon.example", "host as members.host holds it");
    ok(mastoapi_home(&cfg, "https://m.example:8443/u/a", origin, sizeof(origin), host,
                     sizeof(host)) == 0 &&
           strcmp(origin, "https://m.example:8443") == 0 && strcmp(host, "m.example:8443") == 0,
       "a port stays: %s", origin);
    ok(mastoapi_home(&cfg, "https://m.example:443/u/a", origin, sizeof(origin), host,
                     sizeof(host)) == 0 &&
           strcmp(origin, "https://m.example") == 0,
       "the default port goes");
    ok(mastoapi_home(&cfg, "http://127.0.0.1:3000/users/a", origin, sizeof(origin), host,
                     sizeof(host)) < 0,
       "plain http is refused: tokens travel over TLS");
    cfg.allow_private_fetch = 1;
    ok(mastoapi_home(&cfg, "http://127.0.0.1:3000/users/a", origin, sizeof(origin), host,
                     sizeof(host)) == 0 &&
           strcmp(origin, "http://127.0.0.1:3000") == 0,
       "... unless allow_private_fetch (tests)");
    ok(mastoapi_home(&cfg, "https://user@m.example/u", origin, sizeof(origin), host, sizeof(host)) <
           0,
       "userinfo is refused");
    ok(mastoapi_home(&cfg, "acct:a@m.example", origin, sizeof(origin), host, sizeof(host)) < 0,
       "not a URL");
    ok(mastoapi_home(&cfg, NULL, origin, sizeof(origin), host, sizeof(host)) < 0, "NULL");
}

static void
test_reset(void)
{
    long long now = 1700000000; /* 2023-11-14T22:13:20Z */

    is_int(mastoapi_reset_time("2023-11-14T22:15:00.000000Z", NULL, now), 1700000100LL,
           "Mastodon's ISO 8601 with microseconds");
    is_int(mastoapi_reset_time("2023-11-14T22:15:00.000Z", NULL, now), 1700000100LL,
           "GoToSocial's milliseconds");
    is_int(mastoapi_reset_time("2023-11-14T22:15:00Z", NULL, now), 1700000100LL, "no fraction");
    is_int(mastoapi_reset_time("2023-11-15T00:15:00+02:00", NULL, now), 1700000100LL, "an offset");
    is_int(mastoapi_reset_time("1700000100", NULL, now), 1700000100LL, "Unix seconds");
    is_int(mastoapi_reset_time(NULL, "120", now), now + 120, "Retry-After seconds");
    is_int(mastoapi_reset_time("garbage", "30", now), now + 30,
           "an unreadable reset falls back to Retry-After");
    is_int(mastoapi_reset_time(NULL, "Tue, 14 Nov 2023 22:15:00 GMT", now), 1700000100LL,
           "Retry-After as an HTTP date");
    is_int(mastoapi_reset_time("2023-11-14T22:15:00", NULL, now), -1LL, "no zone is refused");
    is_int(mastoapi_reset_time(NULL, NULL, now), -1LL, "nothing");
}

static void
test_form(void)
{
    char *f = NULL;

    mastoapi_form_add(&f, "scope", OAUTH_SCOPES);
    mastoapi_form_add(&f, "redirect_uri", "https://b.example/link/oauth/callback");
    mastoapi_form_add(&f, "x", "a&b=c+d");
    is_str(f,
           "scope=read%3Aaccounts+read%3Asearch+write%3Afollows+read%3Alists+write%3Alists&"
           "redirect_uri=https%3A%2F%2Fb."
           "example%2F"
           "link%2F"
           "oauth%2Fcallback&x=a%26b%3Dc%2Bd",
           "form encoding: %s", f);
    free(f);
}

static void
test_json(void)
{
    struct json_object *o;

    o = mastoapi_parse_object("{\"access_token\":\"x\"}", 20);
    ok(o != NULL, "an object parses");
    json_object_put(o);
    ok(mastoapi_parse_object("[1]", 3) == NULL, "an array is refused");
    ok(mastoapi_parse_object("{\"a\":", 5) == NULL, "a truncated object is refused");
    ok(mastoapi_parse_object("", 0) == NULL, "empty is refused");
    o = mastoapi_parse_array("[{\"id\":\"1\"}]", 12);
    ok(o != NULL && json_object_array_length(o) == 1, "an array parses as an array");
    json_object_put(o);
    ok(mastoapi_parse_array("{}", 2) == NULL, "an object is not an array");
    o = mastoapi_parse_object("{\"id\":\"5\",\"n\":5}", 16);
    is_str(mastoapi_str(o, "id", 1), "5", "a short string member");
    ok(mastoapi_str(o, "id", 0) == NULL && mastoapi_str(o, "n", 9) == NULL &&
           mastoapi_str(NULL, "id", 9) == NULL,
       "too long, not a string, no object: NULL");
    json_object_put(o);
    {
        char deep[200];
        size_t n = 0;

        for (int i = 0; i < 40; i++)
            deep[n++] = '[';
        for (int i = 0; i < 40; i++)
            deep[n++] = ']';
        deep[n] = '\0';
        ok(mastoapi_parse_object(deep, n) == NULL, "nesting over the cap is refused");
    }
}

static void
test_grant_ad(void)
{
    char ad[300];

    mastoapi_grant_ad("42", "m.example:8443", ad, sizeof(ad));
    is_str(ad, "grant:42:m.example:8443", "a grant's AD names its member and host");
}

/* Whose is the account {body}, for the member https://m.example/users/Alice (Alice@m.example)? */
static enum mastoapi_whose
whose(const char *body)
{
    struct json_object *o = mastoapi_parse_object(body, strlen(body));
    enum mastoapi_whose w =
        mastoapi_account_whose(o, "https://m.example/users/Alice", "Alice@m.example");

    json_object_put(o);
    return w;
}

static void
test_whose(void)
{
    /* Mastodon 4.2+: uri decides, exactly. */
    is_int(whose("{\"id\":\"1\",\"username\":\"Alice\",\"acct\":\"Alice\","
                 "\"url\":\"https://m.example/@Alice\",\"uri\":\"https://m.example/users/Alice\"}"),
           MASTOAPI_ACCOUNT_MEMBER, "Mastodon: the member's own account");
    is_int(whose("{\"id\":\"2\",\"username\":\"bob\",\"acct\":\"bob\","
                 "\"url\":\"https://m.example/@bob\",\"uri\":\"https://m.example/users/bob\"}"),
           MASTOAPI_ACCOUNT_OTHER, "Mastodon: another account on the same server");
    is_int(whose("{\"id\":\"1\",\"username\":\"Alice\",\"url\":\"https://m.example/@Alice\","
                 "\"uri\":\"https://m.example/users/alice\"}"),
           MASTOAPI_ACCOUNT_OTHER, "uri compared exactly (the name alone does not do)");
    is_int(whose("{\"id\":\"1\",\"username\":\"Alice\",\"url\":\"https://m.example/@Alice\","
                 "\"uri\":\"https://other.example/users/Alice\"}"),
           MASTOAPI_ACCOUNT_OTHER, "the same name elsewhere");
    /* Without uri (Pleroma, Akkoma, older servers): username and a url on the member's origin. */
    is_int(
        whose("{\"id\":\"A1\",\"username\":\"Alice\",\"url\":\"https://m.example/users/Alice\"}"),
        MASTOAPI_ACCOUNT_MEMBER, "Pleroma: url is the actor id");
    is_int(whose("{\"id\":\"1\",\"username\":\"alice\",\"url\":\"https://M.example/@alice\"}"),
           MASTOAPI_ACCOUNT_MEMBER,
           "older Mastodon: the name (case aside) and a page on the origin");
    is_int(whose("{\"id\":\"1\",\"username\":\"bob\",\"url\":\"https://m.example/users/bob\"}"),
           MASTOAPI_ACCOUNT_OTHER, "no uri: another name");
    is_int(whose("{\"id\":\"1\",\"username\":\"Alice\",\"url\":\"https://m.example.evil/@Alice\"}"),
           MASTOAPI_ACCOUNT_OTHER, "no uri: a page on another host");
    is_int(whose("{\"id\":\"1\",\"username\":\"Alice\",\"url\":\"https://m.example:8443/@Alice\"}"),
           MASTOAPI_ACCOUNT_OTHER, "no uri: another port");
    is_int(whose("{\"id\":\"1\",\"username\":\"Alic\",\"url\":\"https://m.example/@Alic\"}"),
           MASTOAPI_ACCOUNT_OTHER, "no uri: a prefix of the name");
    /* Not an account. */
    is_int(whose("{\"username\":\"Alice\",\"uri\":\"https://m.example/users/Alice\"}"),
           MASTOAPI_ACCOUNT_MALFORMED, "no id");
    is_int(whose("{\"id\":\"1\",\"uri\":\"https://m.example/users/Alice\"}"),
           MASTOAPI_ACCOUNT_MALFORMED, "no username");
    is_int(whose("{\"id\":\"1\",\"username\":\"Alice\"}"), MASTOAPI_ACCOUNT_MALFORMED,
           "neither uri nor url");
    is_int(whose("{\"id\":1,\"username\":\"Alice\",\"uri\":\"https://m.example/users/Alice\"}"),
           MASTOAPI_ACCOUNT_MALFORMED, "id must be a string (Mastodon's are)");
    is_int(whose("{\"error\":\"The access token is invalid\"}"), MASTOAPI_ACCOUNT_MALFORMED,
           "an error body");
    is_int(mastoapi_account_whose(NULL, "https://m.example/users/Alice", "Alice@m.example"),
           MASTOAPI_ACCOUNT_MALFORMED, "no object");
}

int
main(void)
{
    test_whose();
    test_home();
    test_grant_ad();
    test_reset();
    test_form();
    test_json();
    return done_testing();
}
