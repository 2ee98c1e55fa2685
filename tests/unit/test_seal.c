/* Unit tests for server/core/seal.c: round trips, tampering of every part, the key file's rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seal.h"
#include "tap.h"
#include "xmalloc.h"

static char dir[] = "/tmp/passerelle-test-seal.XXXXXX";
static const char hexkey[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static struct seal *
test_key(unsigned char first)
{
    unsigned char k[SEAL_KEY_BYTES];

    for (int i = 0; i < SEAL_KEY_BYTES; i++)
        k[i] = (unsigned char)(first + i);
    return seal_from_bytes(k);
}

static char *
test_write(const char *name, const char *content, mode_t mode)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    fputs(content, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static void
test_round_trip(void)
{
    struct seal *s = test_key(0), *other = test_key(1);
    unsigned char nonce[SEAL_NONCE_BYTES], nonce2[SEAL_NONCE_BYTES];
    const char *secret = "a-very-secret-access-token";
    size_t len = 0, len2 = 0, outlen = 0;
    unsigned char *ct = seal_encrypt(s, "grant:7:example.org", secret, strlen(secret), nonce, &len);
    unsigned char *ct2 =
        seal_encrypt(s, "grant:7:example.org", secret, strlen(secret), nonce2, &len2);
    char *plain;

    ok(ct != NULL && len == strlen(secret) + SEAL_TAG_BYTES,
       "sealed: ciphertext plus a 16-byte tag");
    ok(memmem(ct, len, secret, strlen(secret)) == NULL, "the ciphertext does not hold the secret");
    ok(memcmp(nonce, nonce2, SEAL_NONCE_BYTES) != 0, "each seal draws a fresh nonce");
    ok(memcmp(ct, ct2, len) != 0, "the same secret twice gives two ciphertexts");
    plain = seal_decrypt(s, "grant:7:example.org", nonce, ct, len, &outlen);
    ok(plain != NULL && strcmp(plain, secret) == 0 && outlen == strlen(secret), "opens again");
    seal_wipe_free(plain);

    ok(seal_decrypt(s, "grant:8:example.org", nonce, ct, len, NULL) == NULL,
       "another row's associated data does not open it");
    ok(seal_decrypt(s, "app:example.org", nonce, ct, len, NULL) == NULL,
       "another kind of row does not open it");
    ok(seal_decrypt(other, "grant:7:example.org", nonce, ct, len, NULL) == NULL,
       "another key does not open it");
    ok(seal_decrypt(s, "grant:7:example.org", nonce2, ct, len, NULL) == NULL,
       "another nonce does not open it");
    for (size_t i = 0; i < len; i++) {
        int opened;

        ct[i] ^= 0x01;
        plain = seal_decrypt(s, "grant:7:example.org", nonce, ct, len, NULL);
        opened = plain != NULL;
        seal_wipe_free(plain);
        ct[i] ^= 0x01;
        if (opened) {
            ok(0, "a flipped bit at byte %zu opened", i);
            break;
        }
        if (i == len - 1)
            ok(1, "a flipped bit anywhere in ciphertext or tag is refused (%zu positions)", len);
    }
    ok(seal_decrypt(s, "grant:7:example.org", nonce, ct, len - 1, NULL) == NULL,
       "a truncated tag is refused");
    ok(seal_decrypt(s, "grant:7:example.org", nonce, ct, SEAL_TAG_BYTES, NULL) == NULL,
       "a tag alone is refused");
    ok(seal_encrypt(s, "x", "", 0, nonce, &len) == NULL, "nothing to seal is refused");
    {
        char *big = xcalloc(1, SEAL_MAX_PLAIN + 2);

        memset(big, 'a', SEAL_MAX_PLAIN + 1);
        ok(seal_encrypt(s, "x", big, SEAL_MAX_PLAIN + 1, nonce, &len) == NULL,
           "more than SEAL_MAX_PLAIN is refused");
        free(big);
    }
    free(ct);
    free(ct2);
    seal_free(s);
    seal_free(other);
}

static void
test_bytea(void)
{
    struct seal *s = test_key(3);
    char nonce[SEAL_NONCE_BYTEA], nonce2[SEAL_NONCE_BYTEA], *ct = NULL, *ct2 = NULL, *plain;

    ok(seal_to_bytea(s, "app:h.example", "client-secret-1", &ct, nonce) == 0, "sealed as bytea");
    ok(strncmp(ct, "\\x", 2) == 0 && strlen(ct) == 2 + 2 * (15 + SEAL_TAG_BYTES),
       "ciphertext literal \\x<hex>: %s", ct);
    ok(strncmp(nonce, "\\x", 2) == 0 && strlen(nonce) == 26, "nonce literal: %s", nonce);
    plain = seal_from_bytea(s, "app:h.example", ct, nonce);
    ok(plain != NULL && strcmp(plain, "client-secret-1") == 0, "opens from the bytea text");
    seal_wipe_free(plain);
    ok(seal_from_bytea(s, "app:other.example", ct, nonce) == NULL, "another host does not open");
    ok(seal_to_bytea(s, "app:other.example", "client-secret-2", &ct2, nonce2) == 0, "second");
    ok(seal_from_bytea(s, "app:h.example", ct2, nonce2) == NULL,
       "a row swapped in from another host is refused");
    ok(seal_from_bytea(s, "app:h.example", ct, nonce2) == NULL, "a swapped nonce is refused");
    ct[5] = ct[5] == '0' ? '1' : '0';
    ok(seal_from_bytea(s, "app:h.example", ct, nonce) == NULL, "an edited hex digit is refused");
    ok(seal_from_bytea(s, "app:h.example", "\\xzz", nonce) == NULL, "bad hex is refused");
    ok(seal_from_bytea(s, "app:h.example", "abcd", nonce) == NULL, "no \\x prefix is refused");
    ok(seal_from_bytea(s, "app:h.example", ct, "\\x00") == NULL, "a short nonce is refused");
    ok(seal_from_bytea(s, "app:h.example", NULL, nonce) == NULL, "NULL is refused");
    free(ct2);
    ct2 = NULL;
    ok(seal_to_bytea(s, "app:h.example", "", &ct2, nonce2) < 0 && ct2 == NULL,
       "an empty secret is refused");
    free(ct);
    seal_free(s);
}

static void
test_key_file(void)
{
    char err[512], *p;
    struct seal *s, *ref;
    unsigned char nonce[SEAL_NONCE_BYTES], *ct;
    size_t len = 0;
    char *plain;

    p = test_write("good", hexkey, 0600);
    s = seal_load(p, err, sizeof(err));
    ok(s != NULL, "64 hex digits load");
    ref = test_key(0);
    ct = seal_encrypt(ref, "a", "x1", 2, nonce, &len);
    plain = seal_decrypt(s, "a", nonce, ct, len, NULL);
    ok(plain != NULL && strcmp(plain, "x1") == 0, "the file's key is the bytes its digits say");
    seal_wipe_free(plain);
    free(ct);
    seal_free(s);
    seal_free(ref);
    free(p);

    p = xasprintf("%s\n", hexkey);
    free(test_write("newline", p, 0600));
    free(p);
    p = xasprintf("%s/newline", dir);
    s = seal_load(p, err, sizeof(err));
    ok(s != NULL, "one trailing newline is fine (openssl rand -hex 32 writes one)");
    seal_free(s);
    free(p);

    p = test_write("open", hexkey, 0644);
    s = seal_load(p, err, sizeof(err));
    ok(s == NULL && strstr(err, "chmod 600") != NULL, "a key readable by others is refused: %s",
       err);
    free(p);

    p = test_write("short", "00112233", 0600);
    s = seal_load(p, err, sizeof(err));
    ok(s == NULL && strstr(err, "64 hex digits") != NULL, "a short key is refused: %s", err);
    free(p);

    p = test_write("bad", "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0600);
    s = seal_load(p, err, sizeof(err));
    ok(s == NULL && strstr(err, "zz01") == NULL, "bad digits are refused, not echoed: %s", err);
    free(p);

    p = xasprintf("%s%s", hexkey, "00");
    free(test_write("long", p, 0600));
    free(p);
    p = xasprintf("%s/long", dir);
    s = seal_load(p, err, sizeof(err));
    ok(s == NULL, "a longer key is refused");
    free(p);

    p = xasprintf("%s/missing", dir);
    s = seal_load(p, err, sizeof(err));
    ok(s == NULL && strstr(err, "No such file") != NULL, "a missing file is named: %s", err);
    free(p);
    ok(seal_load("", err, sizeof(err)) == NULL, "no path is refused");
}

int
main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    test_round_trip();
    test_bytea();
    test_key_file();
    {
        static const char *const names[] = { "good", "newline", "open", "short", "bad", "long" };

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            char *p = xasprintf("%s/%s", dir, names[i]);

            unlink(p);
            free(p);
        }
        rmdir(dir);
    }
    return done_testing();
}
