/* Random tokens, their SHA-256 for storage, and constant-time comparison. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "token.h"

static void
token_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int
token_random_hex(size_t nbytes, char *out, size_t outlen)
{
    unsigned char raw[64];

    if (nbytes > sizeof(raw) || outlen <= 2 * nbytes || RAND_bytes(raw, (int)nbytes) != 1)
        return -1;
    token_hex(raw, nbytes, out);
    return 0;
}

void
token_sha256_bytea(const char *s, char out[67])
{
    unsigned char md[32];
    unsigned int n = 0;

    EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
    out[0] = '\\';
    out[1] = 'x';
    token_hex(md, sizeof(md), out + 2);
}

void
token_hmac_hex(const char *key, const char *msg, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;

    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, strlen(msg), md, &n);
    token_hex(md, sizeof(md), out);
}

int
token_is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int
token_equal(const char *a, const char *b)
{
    size_t n = strlen(a);

    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}
