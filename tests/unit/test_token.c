/* Tests of token: random hex, the stored SHA-256 form, HMAC, hex checks, equality. */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "token.h"

static void
test_random(void)
{
    char a[65], b[65], small[8];

    ok(token_random_hex(32, a, sizeof(a)) == 0, "random: 32 bytes fit in 65");
    ok(token_is_hex(a, 64), "random: 64 lowercase hex digits");
    ok(token_random_hex(32, b, sizeof(b)) == 0 && strcmp(a, b) != 0, "random: two draws differ");
    ok(token_random_hex(32, a, 64) < 0, "random: refused when out has no room for the NUL");
    ok(token_random_hex(4, small, sizeof(small)) < 0, "random: refused when out is too small");
    ok(token_random_hex(65, a, sizeof(a)) < 0, "random: refused over 64 bytes");
    ok(token_random_hex(3, small, sizeof(small)) == 0 && strlen(small) == 6, "random: 3 bytes");
}

static void
test_digests(void)
{
    char bytea[67], mac[65];

    /* SHA-256("abc"), FIPS 180-2 appendix B.1. */
    token_sha256_bytea("abc", bytea);
    is_str(bytea, "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
           "sha256 as a bytea literal");
    token_sha256_bytea("", bytea);
    is_str(bytea, "\\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "sha256 of the empty string");
    /* RFC 4231 test case 2. */
    token_hmac_hex("Jefe", "what do ya want for nothing?", mac);
    is_str(mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
           "hmac-sha256, RFC 4231 case 2");
}

static void
test_hex(void)
{
    ok(token_is_hex("0123456789abcdef", 16), "is_hex: every lowercase digit");
    ok(!token_is_hex("0123456789ABCDEF", 16), "is_hex: uppercase refused");
    ok(!token_is_hex("abc", 4), "is_hex: too short");
    ok(!token_is_hex("abcde", 4), "is_hex: too long");
    ok(!token_is_hex("ab g", 4), "is_hex: a non-digit");
    ok(token_is_hex("", 0), "is_hex: empty is 0 digits");
}

static void
test_equal(void)
{
    ok(token_equal("abcdef", "abcdef"), "equal: same");
    ok(!token_equal("abcdef", "abcdeg"), "equal: last byte differs");
    ok(!token_equal("abcdef", "bbcdef"), "equal: first byte differs");
    ok(!token_equal("abcdef", "abcde"), "equal: a prefix is not equal");
    ok(!token_equal("abc", "abcdef"), "equal: longer is not equal");
    ok(token_equal("", ""), "equal: both empty");
}

int
main(void)
{
    test_random();
    test_digests();
    test_hex();
    test_equal();
    return done_testing();
}
