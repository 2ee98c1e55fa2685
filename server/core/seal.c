/* Sealing secrets at rest: AES-256-GCM, a random nonce each time, associated data per row. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "seal.h"
#include "xmalloc.h"

struct seal {
    unsigned char key[SEAL_KEY_BYTES];
};

static int
seal_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* n bytes from 2n hex digits; -1 at the first non-digit. */
static int
seal_unhex(const char *hex, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = seal_hexval((unsigned char)hex[2 * i]);
        int lo = hi < 0 ? -1 : seal_hexval((unsigned char)hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static void
seal_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

struct seal *
seal_load(const char *path, char *err, size_t errlen)
{
    char buf[80];
    struct stat st;
    struct seal *s;
    ssize_t n;
    size_t len;
    int fd;

    if (path == NULL || *path == '\0') {
        snprintf(err, errlen, "no key file given");
        return NULL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errlen, "%s: readable by others (mode %03o): chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        close(fd);
        return NULL;
    }
    n = read(fd, buf, sizeof(buf));
    close(fd);
    len = n > 0 ? (size_t)n : 0;
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    s = xcalloc(1, sizeof(*s));
    if (n < 0 || len != 2 * SEAL_KEY_BYTES || seal_unhex(buf, s->key, SEAL_KEY_BYTES) < 0) {
        OPENSSL_cleanse(buf, sizeof(buf));
        seal_free(s);
        snprintf(err, errlen,
                 "%s: expected 64 hex digits (make one with: openssl rand -hex 32 > %s)", path,
                 path);
        return NULL;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return s;
}

struct seal *
seal_from_bytes(const unsigned char key[SEAL_KEY_BYTES])
{
    struct seal *s = xcalloc(1, sizeof(*s));

    memcpy(s->key, key, SEAL_KEY_BYTES);
    return s;
}

void
seal_free(struct seal *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s->key, sizeof(s->key));
    free(s);
}

void
seal_wipe_free(char *secret)
{
    if (secret == NULL)
        return;
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
}

/* One GCM pass: enc 1 seals (tag written after the output), enc 0 opens (tag checked). */
static int
seal_gcm(const struct seal *s, int enc, const char *ad, const unsigned char *nonce,
         const unsigned char *in, size_t inlen, unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, ok;

    if (ctx == NULL)
        return -1;
    ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_BYTES, NULL) == 1 &&
         EVP_CipherInit_ex(ctx, NULL, NULL, s->key, nonce, enc) == 1 &&
         EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)ad, (int)strlen(ad)) == 1 &&
         EVP_CipherUpdate(ctx, out, &len, in, (int)inlen) == 1;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_BYTES, tag) == 1;
    ok = ok && EVP_CipherFinal_ex(ctx, out + len, &len) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_BYTES, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

unsigned char *
seal_encrypt(const struct seal *s, const char *ad, const void *plain, size_t len,
             unsigned char nonce[SEAL_NONCE_BYTES], size_t *outlen)
{
    unsigned char *out;

    if (s == NULL || ad == NULL || len == 0 || len > SEAL_MAX_PLAIN)
        return NULL;
    if (RAND_bytes(nonce, SEAL_NONCE_BYTES) != 1)
        return NULL;
    out = xmalloc(len + SEAL_TAG_BYTES);
    if (seal_gcm(s, 1, ad, nonce, plain, len, out, out + len) < 0) {
        free(out);
        return NULL;
    }
    *outlen = len + SEAL_TAG_BYTES;
    return out;
}

char *
seal_decrypt(const struct seal *s, const char *ad, const unsigned char nonce[SEAL_NONCE_BYTES],
             const unsigned char *ct, size_t ctlen, size_t *outlen)
{
    unsigned char tag[SEAL_TAG_BYTES];
    size_t len;
    char *out;

    if (s == NULL || ad == NULL || ctlen <= SEAL_TAG_BYTES ||
        ctlen > SEAL_MAX_PLAIN + SEAL_TAG_BYTES)
        return NULL;
    len = ctlen - SEAL_TAG_BYTES;
    memcpy(tag, ct + len, SEAL_TAG_BYTES);
    out = xmalloc(len + 1);
    if (seal_gcm(s, 0, ad, nonce, ct, len, (unsigned char *)out, tag) < 0) {
        OPENSSL_cleanse(out, len);
        free(out);
        return NULL;
    }
    out[len] = '\0';
    if (outlen != NULL)
        *outlen = len;
    return out;
}

int
seal_to_bytea(const struct seal *s, const char *ad, const char *plain, char **ct,
              char nonce[SEAL_NONCE_BYTEA])
{
    unsigned char n[SEAL_NONCE_BYTES], *raw;
    size_t len = 0;

    raw = seal_encrypt(s, ad, plain, plain != NULL ? strlen(plain) : 0, n, &len);
    if (raw == NULL)
        return -1;
    *ct = xmalloc(2 * len + 3);
    memcpy(*ct, "\\x", 2);
    seal_hex(raw, len, *ct + 2);
    free(raw);
    memcpy(nonce, "\\x", 2);
    seal_hex(n, SEAL_NONCE_BYTES, nonce + 2);
    return 0;
}

char *
seal_from_bytea(const struct seal *s, const char *ad, const char *ct, const char *nonce)
{
    unsigned char n[SEAL_NONCE_BYTES], *raw;
    size_t hexlen, len, outlen = 0;
    char *out;

    if (ct == NULL || nonce == NULL || strncmp(ct, "\\x", 2) != 0 ||
        strncmp(nonce, "\\x", 2) != 0 || strlen(nonce) != 2 + 2 * SEAL_NONCE_BYTES ||
        seal_unhex(nonce + 2, n, SEAL_NONCE_BYTES) < 0)
        return NULL;
    hexlen = strlen(ct + 2);
    if (hexlen % 2 != 0 || hexlen / 2 > SEAL_MAX_PLAIN + SEAL_TAG_BYTES)
        return NULL;
    len = hexlen / 2;
    raw = xmalloc(len > 0 ? len : 1);
    if (seal_unhex(ct + 2, raw, len) < 0) {
        free(raw);
        return NULL;
    }
    out = seal_decrypt(s, ad, n, raw, len, &outlen);
    free(raw);
    if (out != NULL && strlen(out) != outlen) {
        seal_wipe_free(out);
        return NULL;
    }
    return out;
}
