/* Unit tests for server/reconnect/follow.c's pure parts: outcome classes and picking the account.
 */
#include <string.h>

#include <json-c/json.h>

#include "follow.h"
#include "tap.h"

static void
test_classify(void)
{
    is_int(follow_classify(HTTPC_OK, 200), FOLLOW_OK, "200 is a success");
    is_int(follow_classify(HTTPC_OK, 429), FOLLOW_LIMITED, "429 waits for the reset");
    is_int(follow_classify(HTTPC_OK, 401), FOLLOW_UNAUTHORIZED, "401 drops the grant");
    is_int(follow_classify(HTTPC_OK, 404), FOLLOW_PERMANENT, "404 is final");
    is_int(follow_classify(HTTPC_OK, 403), FOLLOW_PERMANENT, "403 is final");
    is_int(follow_classify(HTTPC_OK, 422), FOLLOW_PERMANENT, "422 is final");
    is_int(follow_classify(HTTPC_OK, 408), FOLLOW_RETRY, "408 retries");
    is_int(follow_classify(HTTPC_OK, 500), FOLLOW_RETRY, "500 retries");
    is_int(follow_classify(HTTPC_OK, 503), FOLLOW_RETRY, "503 retries");
    is_int(follow_classify(HTTPC_OK, 302), FOLLOW_RETRY, "an unfollowed redirect retries");
    is_int(follow_classify(HTTPC_ERR_TIMEOUT, 0), FOLLOW_RETRY, "a timeout retries");
    is_int(follow_classify(HTTPC_ERR_CONNECT, 0), FOLLOW_RETRY, "a refused connection retries");
    is_int(follow_classify(HTTPC_ERR_REFUSED_ADDRESS, 0), FOLLOW_PERMANENT,
           "a private address stays private");
}

static const char *
pick(const char *json, const char *uri, const char *acct, const char *home)
{
    static char out[256];
    struct json_object *o = json_tokener_parse(json);
    const char *id = follow_pick_account(o, uri, acct, home);

    out[0] = '\0';
    if (id != NULL)
        snprintf(out, sizeof(out), "%s", id);
    json_object_put(o);
    return id != NULL ? out : NULL;
}

static void
test_pick(void)
{
    const char *uri = "https://b.example/users/bob", *acct = "bob@b.example";
    const char *r;

    r = pick("{\"accounts\":[{\"id\":\"109\",\"uri\":\"https://b.example/users/bob\","
             "\"url\":\"https://b.example/@bob\",\"acct\":\"bob@b.example\"}]}",
             uri, acct, "a.example");
    ok(r != NULL && strcmp(r, "109") == 0, "Mastodon: uri names the actor");
    r = pick(
        "{\"accounts\":[{\"id\":\"AbC9\",\"url\":\"https://b.example/@bob\","
        "\"acct\":\"bob@b.example\",\"pleroma\":{\"ap_id\":\"https://b.example/users/bob\"}}]}",
        uri, acct, "a.example");
    ok(r != NULL && strcmp(r, "AbC9") == 0, "Pleroma: pleroma.ap_id names the actor");
    r = pick("{\"accounts\":[{\"id\":\"01HZX\",\"url\":\"https://b.example/@bob\","
             "\"acct\":\"Bob@B.example\"}]}",
             uri, acct, "a.example");
    ok(r != NULL && strcmp(r, "01HZX") == 0,
       "GoToSocial: no uri, a profile url, acct matches (any case)");
    r = pick("{\"accounts\":[{\"id\":\"7\",\"url\":\"https://b.example/users/bob\","
             "\"acct\":\"x\"}]}",
             uri, acct, "a.example");
    ok(r != NULL && strcmp(r, "7") == 0, "url equal to the actor id matches");
    r = pick("{\"accounts\":[{\"id\":\"8\",\"url\":\"https://b.example/@bob\",\"acct\":\"bob\"}]}",
             uri, acct, "b.example");
    ok(r != NULL && strcmp(r, "8") == 0, "a local account shows a bare acct on its own server");
    ok(pick("{\"accounts\":[{\"id\":\"8\",\"url\":\"https://b.example/@bob\",\"acct\":\"bob\"}]}",
            uri, acct, "a.example") == NULL,
       "a bare acct on another server is someone else");
    ok(pick("{\"accounts\":[{\"id\":\"9\",\"uri\":\"https://c.example/users/bob\","
            "\"url\":\"https://c.example/@bob\",\"acct\":\"bob@c.example\"}]}",
            uri, acct, "a.example") == NULL,
       "a namesake elsewhere is not taken");
    r = pick("{\"accounts\":[{\"id\":\"1\",\"uri\":\"https://c.example/users/x\",\"acct\":\"x\"},"
             "{\"id\":\"2\",\"uri\":\"https://b.example/users/bob\"}]}",
             uri, acct, "a.example");
    ok(r != NULL && strcmp(r, "2") == 0, "the matching account, not the first one");
    ok(pick("{\"accounts\":[]}", uri, acct, "a.example") == NULL, "no account, no id");
    ok(pick("{\"accounts\":[{\"id\":\"../../x\",\"uri\":\"https://b.example/users/bob\"}]}", uri,
            acct, "a.example") == NULL,
       "an id that is not a plain token is refused");
    ok(pick("{\"accounts\":[{\"id\":7,\"uri\":\"https://b.example/users/bob\"}]}", uri, acct,
            "a.example") == NULL,
       "a numeric id (not Mastodon's string) is refused");
    ok(pick("{\"statuses\":[]}", uri, acct, "a.example") == NULL, "no accounts key");
    ok(pick("[1]", uri, acct, "a.example") == NULL, "not an object");
    ok(follow_pick_account(NULL, uri, acct, "a.example") == NULL, "NULL");
}

int
main(void)
{
    test_classify();
    test_pick();
    return done_testing();
}
