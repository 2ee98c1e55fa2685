/* Unit tests for server/core/ratelimit.c: a fixed window per key, Retry-After seconds, keys of
 * addresses. */
#include "ratelimit.h"
#include "tap.h"

int
main(void)
{
    struct ratelimit *rl = ratelimit_new(2, 3600);
    struct ratelimit *none = ratelimit_new(0, 60);

    is_int(ratelimit_take(rl, 7, 1000), 0, "first event");
    is_int(ratelimit_take(rl, 7, 1001), 0, "second event");
    is_int(ratelimit_take(rl, 7, 1100), 3500, "third in the window: refused, 3500 s left");
    is_int(ratelimit_take(rl, 7, 1200), 3400, "a refusal is not counted, the window stays");
    is_int(ratelimit_take(rl, 8, 1200), 0, "another key has its own window");
    is_int(ratelimit_take(rl, 7, 4599), 1, "the last second of the window: 1 s left");
    is_int(ratelimit_take(rl, 7, 4600), 0, "a new window");
    is_int(ratelimit_take(rl, 7, 4601), 0, "and its second event");
    is_int(ratelimit_take(rl, 7, 4602), 3598, "full again");
    for (long long k = 100; k < 200; k++)
        ratelimit_take(rl, k, 5000);
    is_int(ratelimit_take(rl, 150, 5001), 0, "many keys at once");
    is_int(ratelimit_take(rl, 150, 5002), 3598, "each counted");
    ratelimit_refund(rl, 150);
    is_int(ratelimit_take(rl, 150, 5003), 0, "a refund makes room for one more");
    is_int(ratelimit_take(rl, 150, 5004), 3596, "only one");
    ratelimit_refund(rl, 999);
    is_int(ratelimit_take(none, 1, 10), 60, "limit 0: nothing at all");
    is_int(ratelimit_addr_key("not an address"), 0, "not an address: 0");
    is_int(ratelimit_addr_key(""), 0, "an unknown peer: 0");
    ok(ratelimit_addr_key("192.0.2.1") != 0, "an IPv4 address has a key");
    ok(ratelimit_addr_key("192.0.2.1") != ratelimit_addr_key("192.0.2.2"), "each its own");
    is_int(ratelimit_addr_key("::ffff:192.0.2.1"), ratelimit_addr_key("192.0.2.1"),
           "an IPv4 address mapped into IPv6 is that address");
    is_int(ratelimit_addr_key("2001:db8:1:2::1"), ratelimit_addr_key("2001:db8:1:2:ffff::9"),
           "one /64 shares one key");
    ok(ratelimit_addr_key("2001:db8:1:2::1") != ratelimit_addr_key("2001:db8:1:3::1"),
       "another /64 has its own");
    ok(ratelimit_addr_key("2001:db8:1:2::1") != 0, "an IPv6 address has a key");
    ok(ratelimit_key_text("Mastodon.Social") == ratelimit_key_text("mastodon.social"),
       "a host's key ignores case");
    ok(ratelimit_key_text("a.example") != ratelimit_key_text("b.example"), "hosts differ");
    ok(ratelimit_key_text("x") >= 0, "a host's key is not negative");
    ratelimit_free(rl);
    ratelimit_free(none);
    ratelimit_free(NULL);
    return done_testing();
}
