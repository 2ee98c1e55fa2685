/* Unit tests for server/members/signin.c's pure parts: what an address is, the follow scopes. */
#include <string.h>

#include <event2/buffer.h>

#include "signin.h"
#include "tap.h"

static enum signin_kind
classify(const char *in, char *user, char *host, char *handle)
{
    return signin_classify(in, user, 128, host, 256, handle, 320);
}

static void
test_fediverse(void)
{
    char user[128], host[256], handle[320];

    is_int(classify("alice@social.example", user, host, handle), SIGNIN_FEDIVERSE, "user@host");
    is_str(user, "alice", "its user");
    is_str(host, "social.example", "its host");
    is_int(classify("  @Alice@Social.Example \n", user, host, handle), SIGNIN_FEDIVERSE,
           "a leading @, blanks around, capitals");
    is_str(user, "Alice", "the user as typed (the actor's name is compared without case)");
    is_str(host, "social.example", "the host lowercased");
    is_int(classify("bob_2.x-y@127.0.0.1:8080", user, host, handle), SIGNIN_FEDIVERSE,
           "a port (tests run on loopback)");
    is_str(host, "127.0.0.1:8080", "the host keeps its port");
    is_int(classify("carol@localhost:3000", user, host, handle), SIGNIN_FEDIVERSE, "localhost");
    is_int(classify("alice@host", user, host, handle), SIGNIN_INVALID, "a host without a dot");
    is_int(classify("@alice", user, host, handle), SIGNIN_INVALID, "a user without a host");
    is_int(classify("alice@", user, host, handle), SIGNIN_INVALID, "an empty host");
    is_int(classify("@@social.example", user, host, handle), SIGNIN_INVALID, "an empty user");
    is_int(classify("a@b@social.example", user, host, handle), SIGNIN_INVALID, "two @");
    is_int(classify("al ice@social.example", user, host, handle), SIGNIN_INVALID, "a blank");
    is_int(classify("alice@social.example/path", user, host, handle), SIGNIN_INVALID, "a path");
    is_int(classify("alice@evil.example#@social.example", user, host, handle), SIGNIN_INVALID,
           "a fragment");
    is_int(classify("alice@social.example:", user, host, handle), SIGNIN_INVALID, "an empty port");
    is_int(classify("alice@social.example:1234567", user, host, handle), SIGNIN_INVALID,
           "a port too long");
    is_int(classify("alice@social.example:80:80", user, host, handle), SIGNIN_INVALID, "two ports");
    is_int(classify("", user, host, handle), SIGNIN_INVALID, "nothing");
    is_int(classify("   ", user, host, handle), SIGNIN_INVALID, "blanks");
    is_str(user, "", "a refusal leaves the user empty");
}

static void
test_bluesky(void)
{
    char user[128], host[256], handle[320], longer[400];

    is_int(classify("alice.bsky.social", user, host, handle), SIGNIN_BLUESKY, "a handle");
    is_str(handle, "alice.bsky.social", "the handle");
    is_int(classify("@Alice.Example.COM", user, host, handle), SIGNIN_BLUESKY,
           "a leading @, capitals");
    is_str(handle, "alice.example.com", "lowercased");
    is_int(classify("did:plc:ewvi7nxzyoun6zhxrhs64oiz", user, host, handle), SIGNIN_BLUESKY,
           "a did:plc");
    is_str(handle, "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "kept as it is");
    is_int(classify("did:web:alice.example.com", user, host, handle), SIGNIN_BLUESKY, "a did:web");
    is_int(classify("did:key:z6Mk", user, host, handle), SIGNIN_INVALID, "another DID method");
    is_int(classify("did:plc:a b", user, host, handle), SIGNIN_INVALID, "a DID with a blank");
    is_int(classify("alice", user, host, handle), SIGNIN_INVALID, "a bare name");
    is_int(classify("alice.bsky.social:443", user, host, handle), SIGNIN_INVALID,
           "a handle has no port");
    is_int(classify("alice.bsky.social/x", user, host, handle), SIGNIN_INVALID, "nor a path");
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    memcpy(longer + 300, ".example", 8);
    is_int(classify(longer, user, host, handle), SIGNIN_INVALID, "too long");
}

static void
test_scopes(void)
{
    ok(signin_scope_follows("read:accounts read:search write:follows"), "what the grant asks");
    ok(signin_scope_follows("read write"), "the broad scopes");
    ok(signin_scope_follows("read follow"), "the legacy follow scope");
    ok(!signin_scope_follows("read:accounts"), "sign-in only");
    ok(!signin_scope_follows("read:accounts write:follows"), "no search");
    ok(!signin_scope_follows("read:accounts read:search"), "no follow");
    ok(!signin_scope_follows("read:searching write:followsx"), "whole words only");
    ok(!signin_scope_follows(""), "nothing");
    ok(!signin_scope_follows(NULL), "no scope at all");
}

static void
test_form(void)
{
    struct evbuffer *b = evbuffer_new();
    const char *html;

    signin_form(b, "fr");
    evbuffer_add(b, "", 1);
    html = (const char *)evbuffer_pullup(b, -1);
    ok(strstr(html, "action=\"/signin\"") != NULL, "the form posts to /signin");
    ok(strstr(html, "method=\"post\"") != NULL, "as a POST");
    ok(strstr(html, "name=\"address\"") != NULL, "one address field");
    ok(strstr(html, "name=\"follows\"") != NULL, "the follows box");
    ok(strstr(html, "lang=\"fr\"") != NULL, "in the language asked");
    ok(strstr(html, "Commencer avec votre compte") != NULL, "with the French catalogue's title");
    ok(strstr(html, "passerelle ne voit jamais") != NULL, "texts are escaped, not dropped");
    ok(strstr(html, "l'adresse") == NULL && strstr(html, "l&#39;adresse") != NULL,
       "an apostrophe is escaped");
    evbuffer_free(b);
}

int
main(void)
{
    test_fediverse();
    test_bluesky();
    test_scopes();
    test_form();
    return done_testing();
}
