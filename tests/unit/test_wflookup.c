/* Unit tests for webfinger/wflookup.c's pure parts: the JRD's self link, the lookup URL. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "tap.h"
#include "wflookup.h"

static const char *
self_of(const char *json)
{
    static char out[512];
    struct json_object *o = json_tokener_parse(json);
    const char *s = wflookup_jrd_self(o);

    snprintf(out, sizeof(out), "%s", s != NULL ? s : "(none)");
    json_object_put(o);
    return out;
}

static void
test_self(void)
{
    /* Mastodon 4.3's JRD for acct:alice@social.example. */
    is_str(self_of("{\"subject\":\"acct:alice@social.example\",\"aliases\":"
                   "[\"https://social.example/@alice\"],\"links\":["
                   "{\"rel\":\"http://webfinger.net/rel/profile-page\",\"type\":\"text/html\","
                   "\"href\":\"https://social.example/@alice\"},"
                   "{\"rel\":\"self\",\"type\":\"application/activity+json\","
                   "\"href\":\"https://social.example/users/alice\"},"
                   "{\"rel\":\"http://ostatus.org/schema/1.0/subscribe\","
                   "\"template\":\"https://social.example/authorize_interaction?uri={uri}\"}]}"),
           "https://social.example/users/alice", "Mastodon's self link");
    is_str(self_of("{\"links\":[{\"rel\":\"self\",\"type\":\"application/ld+json; "
                   "profile=\\\"https://www.w3.org/ns/activitystreams\\\"\","
                   "\"href\":\"https://p.example/users/bob\"}]}"),
           "https://p.example/users/bob", "JSON-LD with the ActivityStreams profile");
    is_str(self_of("{\"links\":[{\"rel\":\"self\",\"type\":\"text/html\",\"href\":\"https://a/\"},"
                   "{\"rel\":\"self\",\"type\":\"application/activity+json\","
                   "\"href\":\"https://b.example/u/c\"}]}"),
           "https://b.example/u/c", "the first self link of an ActivityPub type");
    is_str(self_of("{\"links\":[{\"rel\":\"self\",\"type\":\"application/ld+json\","
                   "\"href\":\"https://b.example/u/c\"}]}"),
           "(none)", "JSON-LD without the profile");
    is_str(self_of("{\"links\":[{\"rel\":\"self\",\"type\":\"application/activity+json\","
                   "\"href\":\"ftp://b.example/u/c\"}]}"),
           "(none)", "not http(s)");
    is_str(self_of("{\"links\":[{\"rel\":\"self\",\"type\":\"application/activity+json\","
                   "\"href\":\"https://b.example/u/c#x\"}]}"),
           "(none)", "a fragment");
    is_str(self_of("{\"links\":[{\"rel\":\"self\",\"type\":\"application/activity+json\","
                   "\"href\":42}]}"),
           "(none)", "href not a string");
    is_str(self_of("{\"links\":{}}"), "(none)", "links not an array");
    is_str(self_of("[]"), "(none)", "not an object");
    is_str(self_of("{}"), "(none)", "no links");
}

static void
test_url(void)
{
    struct config cfg;
    char *u;

    memset(&cfg, 0, sizeof(cfg));
    u = wflookup_url(&cfg, "alice", "social.example");
    is_str(u, "https://social.example/.well-known/webfinger?resource=acct%3Aalice%40social.example",
           "https, the resource percent-encoded");
    free(u);
    cfg.allow_private_fetch = 1;
    u = wflookup_url(&cfg, "bob", "127.0.0.1:8080");
    is_str(u, "http://127.0.0.1:8080/.well-known/webfinger?resource=acct%3Abob%40127.0.0.1%3A8080",
           "http where fetches may reach loopback (tests)");
    free(u);
    cfg.allow_private_fetch = 0;
    ok(wflookup_url(&cfg, "a", "evil.example/x?") == NULL, "a host that makes another path");
    ok(wflookup_url(&cfg, "a", "u@evil.example") == NULL, "a host with userinfo");
}

int
main(void)
{
    test_self();
    test_url();
    return done_testing();
}
