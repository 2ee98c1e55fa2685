/* Unit tests for linkcode.c's same-origin rule (login CSRF) and token.c's code syntax. */
#include "linkcode.h"
#include "tap.h"
#include "token.h"

#define BASE "https://bridge.example"

int
main(void)
{
    /* Browsers that send Sec-Fetch-Site are judged by it alone. */
    ok(linkcode_same_origin(BASE, "same-origin", BASE), "the page's own form");
    ok(linkcode_same_origin(BASE, "same-origin", NULL), "same-origin without Origin");
    ok(linkcode_same_origin(BASE, "same-origin", "null"), "same-origin, Origin null (no-referrer)");
    ok(!linkcode_same_origin(BASE, "cross-site", BASE), "cross-site, whatever Origin claims");
    ok(!linkcode_same_origin(BASE, "same-site", BASE), "a sibling subdomain");
    ok(!linkcode_same_origin(BASE, "none", NULL), "typed in the address bar (no POST does that)");
    ok(!linkcode_same_origin(BASE, "", BASE), "an empty Sec-Fetch-Site");
    /* Without it, Origin must be ours exactly (scheme, host, port). */
    ok(linkcode_same_origin(BASE, NULL, BASE), "our Origin");
    ok(linkcode_same_origin(BASE, NULL, "https://BRIDGE.example"), "host case aside");
    ok(!linkcode_same_origin(BASE, NULL, "http://bridge.example"), "another scheme");
    ok(!linkcode_same_origin(BASE, NULL, "https://bridge.example:8443"), "another port");
    ok(!linkcode_same_origin(BASE, NULL, "https://bridge.example.attacker.example"),
       "a longer host");
    ok(!linkcode_same_origin(BASE, NULL, "https://bridge.exampl"), "a shorter host");
    ok(!linkcode_same_origin(BASE, NULL, "null"), "an opaque origin");
    ok(!linkcode_same_origin(BASE, NULL, NULL), "neither header: refused");
    ok(!linkcode_same_origin(BASE, NULL, ""), "an empty Origin");

    ok(token_is_hex("0123456789abcdef0123456789abcdef", 32), "32 lowercase hex digits");
    ok(!token_is_hex("0123456789ABCDEF0123456789abcdef", 32), "capitals");
    ok(!token_is_hex("0123456789abcdef0123456789abcde", 32), "one short");
    ok(!token_is_hex("0123456789abcdef0123456789abcdef0", 32), "one long");
    ok(!token_is_hex("0123456789abcdef0123456789abcdeg", 32), "a g");
    ok(!token_is_hex("", 32), "empty");
    ok(token_is_hex("", 0), "empty is zero digits");
    return done_testing();
}
