/* Unit tests for atproto/bridgefed.c: Bridgy Fed's names both ways, and the profile link. */
#include <stdlib.h>
#include <string.h>

#include "bridgefed.h"
#include "tap.h"

static void
test_handles(void)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        { "alice.bsky.social", 1 },
        { "Alice.Test", 1 },
        { "a-b.example", 1 },
        { "xn--80ak6aa92e.com", 1 },
        { "alice", 0 },
        { "", 0 },
        { "alice..test", 0 },
        { ".alice.test", 0 },
        { "alice.test.", 0 },
        { "-alice.test", 0 },
        { "alice-.test", 0 },
        { "alice.1test", 0 },
        { "al_ice.test", 0 },
        { "alice.test:8080", 0 },
        { "al ice.test", 0 },
        { "did:plc:abc", 0 },
        { "alice@bsky.social", 0 },
    };
    char *long_label, *too_long;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int(bridgefed_handle_ok(cases[i].s), cases[i].ok, "handle [%s]", cases[i].s);
    ok(!bridgefed_handle_ok(NULL), "NULL is no handle");
    long_label = malloc(70);
    memset(long_label, 'a', 64);
    memcpy(long_label + 64, ".test", 6);
    ok(!bridgefed_handle_ok(long_label), "a label of 64 characters");
    long_label[1] = '.';
    ok(bridgefed_handle_ok(long_label), "labels under 64");
    free(long_label);
    too_long = malloc(300);
    for (int i = 0; i < 254; i += 2)
        memcpy(too_long + i, "a.", 2);
    memcpy(too_long + 254, "test", 5);
    ok(!bridgefed_handle_ok(too_long), "over 253 characters");
    free(too_long);
}

static void
test_names(void)
{
    char *s, *named;

    s = bridgefed_bsky_acct("Alice.Bsky.Social", "bsky.brid.gy");
    is_str(s, "alice.bsky.social@bsky.brid.gy", "a Bluesky handle's fediverse address");
    free(s);
    ok(bridgefed_bsky_acct("not a handle", "bsky.brid.gy") == NULL, "no address for a non-handle");
    s = bridgefed_ap_handle("Jo_e~x@Mastodon.Social", "ap.brid.gy");
    is_str(s, "jo-e-x.mastodon.social.ap.brid.gy", "fediverse account's handle: _ and ~ become -");
    free(s);
    ok(bridgefed_ap_handle("joe@127.0.0.1:8080", "ap.brid.gy") == NULL, "a port makes no handle");
    ok(bridgefed_ap_handle("joe", "ap.brid.gy") == NULL, "no host");
    ok(bridgefed_ap_handle("@host.example", "ap.brid.gy") == NULL, "no user");
    s = bridgefed_acct_named("dora@127.0.0.1:8080",
                             "x.test=127.0.0.1:9 dora.example=127.0.0.1:8080");
    is_str(s, "dora@dora.example", "a test name stands for a loopback server");
    free(s);
    named = bridgefed_acct_named("dora@127.0.0.1:8080", " dora.example=127.0.0.1:8080 ");
    s = bridgefed_ap_handle(named, "ap.brid.gy");
    is_str(s, "dora.dora.example.ap.brid.gy", "and makes a Bridgy Fed handle");
    free(s);
    free(named);
    s = bridgefed_acct_named("dora@127.0.0.1:80800", "dora.example=127.0.0.1:8080");
    is_str(s, "dora@127.0.0.1:80800", "only the whole host matches");
    free(s);
    s = bridgefed_acct_named("dora@social.example", "");
    is_str(s, "dora@social.example", "no names: the same address");
    free(s);
    s = bridgefed_acct_named("dora", "dora.example=dora");
    is_str(s, "dora", "no host: the same");
    free(s);
    ok(bridgefed_acct_named(NULL, "a=b") == NULL, "no address");
    s = bridgefed_actor_id("bsky.brid.gy", "did:plc:abc", 1);
    is_str(s, "https://bsky.brid.gy/ap/did:plc:abc", "bridged actor id");
    free(s);
    s = bridgefed_actor_id("127.0.0.1:9", "did:plc:abc", 0);
    is_str(s, "http://127.0.0.1:9/ap/did:plc:abc", "bridged actor id on loopback");
    free(s);
    s = bridgefed_profile_url("alice.test");
    is_str(s, "https://bsky.app/profile/alice.test", "profile");
    free(s);
}

int
main(void)
{
    test_handles();
    test_names();
    return done_testing();
}
