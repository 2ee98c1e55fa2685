/* HTTP signatures: the API, the checks, RSA verification, dates, digests, base64; no I/O. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "httpsig.h"
#include "httpsig_internal.h"
#include "xmalloc.h"

/* Mastodon's window (app/lib/signed_request.rb), in seconds. */
#define CLOCK_SKEW_MARGIN 3600
#define DEFAULT_EXPIRY    300
#define MAX_EXPIRY        43200

/*
 * Public keys we verify with. A verification costs about e's bit length in modular
 * squarings: a 3070-bit e makes one cost 16 ms of the loop instead of 0.14 ms (threats.md
 * H2; OpenSSL caps e at 64 bits only above 3072-bit moduli). Go's crypto/rsa takes e up to
 * 2^31-1; every fediverse key we know uses 65537.
 */
#define KEY_MIN_BITS 2048
#define KEY_MAX_BITS 8192
#define KEY_MAX_E    0xffffffffUL

static int httpsig_rsa_verify(EVP_PKEY *key, const unsigned char *sig, size_t siglen,
                              const char *msg);
static int httpsig_key_sane(const EVP_PKEY *key);

static const char *const result_names[] = {
    [HTTPSIG_OK] = "ok",
    [HTTPSIG_NO_SIGNATURE] = "no_signature",
    [HTTPSIG_BAD_HEADER] = "bad_header",
    [HTTPSIG_UNSUPPORTED_ALGORITHM] = "unsupported_algorithm",
    [HTTPSIG_MISSING_HEADER] = "missing_header",
    [HTTPSIG_BAD_DIGEST] = "bad_digest",
    [HTTPSIG_DIGEST_MISMATCH] = "digest_mismatch",
    [HTTPSIG_STALE_DATE] = "stale_date",
    [HTTPSIG_FUTURE_DATE] = "future_date",
    [HTTPSIG_BAD_KEY] = "bad_key",
    [HTTPSIG_BAD_SIGNATURE] = "bad_signature",
};

const char *
httpsig_result_name(enum httpsig_result r)
{
    if ((size_t)r >= sizeof(result_names) / sizeof(result_names[0]) || result_names[r] == NULL)
        return "unknown";
    return result_names[r];
}

void
httpsig_free(struct httpsig *sig)
{
    size_t i;

    if (sig == NULL)
        return;
    for (i = 0; i < sig->ncomponents; i++)
        free(sig->components[i]);
    free(sig->components);
    free(sig->key_id);
    free(sig->sig);
    free(sig->label);
    free(sig->params);
    memset(sig, 0, sizeof(*sig));
}

enum httpsig_result
httpsig_check(const struct httpsig *sig, const struct httpsig_request *req, time_t now, char *err,
              size_t errlen)
{
    if (sig->ops == NULL)
        return HTTPSIG_FAIL(HTTPSIG_NO_SIGNATURE, err, errlen, "no parsed signature");
    return sig->ops->check(sig, req, now, err, errlen);
}

enum httpsig_result
httpsig_signing_string(const struct httpsig *sig, const struct httpsig_request *req, int with_query,
                       char **out, char *err, size_t errlen)
{
    struct httpsig_buf b = { 0 };
    enum httpsig_result r;

    *out = NULL;
    if (sig->ops == NULL)
        return HTTPSIG_FAIL(HTTPSIG_NO_SIGNATURE, err, errlen, "no parsed signature");
    r = sig->ops->string(sig, req, with_query, &b, err, errlen);
    if (r != HTTPSIG_OK) {
        free(b.p);
        return r;
    }
    *out = httpsig_buf_finish(&b);
    return HTTPSIG_OK;
}

enum httpsig_result
httpsig_verify(const struct httpsig *sig, const struct httpsig_request *req, const char *public_pem,
               time_t now, char *err, size_t errlen)
{
    EVP_PKEY *key;
    enum httpsig_result r;

    key = httpsig_public_key(public_pem);
    if (key == NULL)
        return HTTPSIG_FAIL(HTTPSIG_BAD_KEY, err, errlen, "public key is not an RSA PEM");
    r = httpsig_verify_pkey(sig, req, key, now, err, errlen);
    EVP_PKEY_free(key);
    return r;
}

enum httpsig_result
httpsig_verify_pkey(const struct httpsig *sig, const struct httpsig_request *req, EVP_PKEY *key,
                    time_t now, char *err, size_t errlen)
{
    enum httpsig_result r;
    char *msg;
    int good, tries, i;

    if (key == NULL || !EVP_PKEY_is_a(key, "RSA"))
        return HTTPSIG_FAIL(HTTPSIG_BAD_KEY, err, errlen, "key is not RSA");
    r = httpsig_check(sig, req, now, err, errlen);
    if (r != HTTPSIG_OK)
        return r;
    /* Mastodon signs (request-target) with the query and Fedify without: try both. */
    tries = sig->scheme == HTTPSIG_CAVAGE && strchr(req->target, '?') != NULL ? 2 : 1;
    for (i = 0; i < tries; i++) {
        r = httpsig_signing_string(sig, req, i == 0, &msg, err, errlen);
        if (r != HTTPSIG_OK)
            return r;
        good = httpsig_rsa_verify(key, sig->sig, sig->sig_len, msg);
        free(msg);
        if (good)
            return HTTPSIG_OK;
    }
    return HTTPSIG_FAIL(HTTPSIG_BAD_SIGNATURE, err, errlen, "signature does not verify");
}

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int
httpsig_date(time_t t, char *buf, size_t len)
{
    struct tm tm;
    int n;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
        return -1;
    n = snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
                 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
httpsig_parse_date(const char *s, time_t *t)
{
    struct tm tm = { 0 };
    int64_t v[5];
    static const size_t at[5] = { 5, 12, 17, 20, 23 }, width[5] = { 2, 4, 2, 2, 2 };
    int i, mon = -1;

    /* "Sun, 06 Nov 1994 08:49:37 GMT": fixed width, parsed by hand so the locale cannot matter. */
    if (s == NULL || strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || strcmp(s + 25, " GMT") != 0)
        return -1;
    for (i = 0; i < 7 && strncmp(s, wdays[i], 3) != 0; i++)
        ;
    if (i == 7)
        return -1;
    for (i = 0; i < 12; i++)
        if (strncmp(s + 8, months[i], 3) == 0)
            mon = i;
    if (mon < 0)
        return -1;
    for (i = 0; i < 5; i++)
        if (sfv_parse_int64(s + at[i], width[i], &v[i]) != 0)
            return -1;
    if (v[0] < 1 || v[0] > 31 || v[2] > 23 || v[3] > 59 || v[4] > 60)
        return -1;
    tm.tm_mday = (int)v[0];
    tm.tm_mon = mon;
    tm.tm_year = (int)v[1] - 1900;
    tm.tm_hour = (int)v[2];
    tm.tm_min = (int)v[3];
    tm.tm_sec = (int)v[4];
    *t = timegm(&tm);
    return *t == (time_t)-1 ? -1 : 0;
}

/* The SHA-256 of the body in base64 (44 characters and a NUL). */
static void
httpsig_sha256_b64(const unsigned char *body, size_t len, char b64[48])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256(body != NULL ? body : (const unsigned char *)"", len, md);
    httpsig_b64_encode(md, sizeof(md), b64, 48);
}

int
httpsig_digest(const unsigned char *body, size_t len, char *buf, size_t buflen)
{
    char b64[48];

    httpsig_sha256_b64(body, len, b64);
    return snprintf(buf, buflen, "SHA-256=%s", b64) >= (int)buflen ? -1 : 0;
}

int
httpsig_content_digest(const unsigned char *body, size_t len, char *buf, size_t buflen)
{
    char b64[48];

    httpsig_sha256_b64(body, len, b64);
    return snprintf(buf, buflen, "sha-256=:%s:", b64) >= (int)buflen ? -1 : 0;
}

enum httpsig_result
httpsig_check_digest(const char *header, const unsigned char *body, size_t len, char *err,
                     size_t errlen)
{
    unsigned char md[SHA256_DIGEST_LENGTH], got[64];
    const char *p, *end, *eq, *name, *val;
    size_t nlen, vlen, glen;

    if (header == NULL)
        return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen, "no Digest header");
    if (strnlen(header, HTTPSIG_MAX_HEADER + 1) > HTTPSIG_MAX_HEADER)
        return HTTPSIG_FAIL(HTTPSIG_BAD_DIGEST, err, errlen, "Digest header too long");
    for (p = header; *p != '\0'; p = *end == ',' ? end + 1 : end) {
        end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        /* Base64 ends in '=', so only the first '=' separates name from value. */
        eq = memchr(p, '=', (size_t)(end - p));
        if (eq == NULL)
            continue;
        nlen = (size_t)(eq - p);
        name = httpsig_trim(p, &nlen);
        if (nlen != 7 || strncasecmp(name, "SHA-256", 7) != 0)
            continue;
        vlen = (size_t)(end - eq - 1);
        val = httpsig_trim(eq + 1, &vlen);
        if (httpsig_b64_decode(val, vlen, got, sizeof(got), &glen) != 0 || glen != sizeof(md))
            return HTTPSIG_FAIL(HTTPSIG_BAD_DIGEST, err, errlen,
                                "SHA-256 digest is not 32 bytes of base64");
        SHA256(body != NULL ? body : (const unsigned char *)"", len, md);
        if (CRYPTO_memcmp(md, got, sizeof(md)) != 0)
            return HTTPSIG_FAIL(HTTPSIG_DIGEST_MISMATCH, err, errlen, "body does not match Digest");
        return HTTPSIG_OK;
    }
    return HTTPSIG_FAIL(HTTPSIG_BAD_DIGEST, err, errlen,
                        "Digest has no SHA-256 (the only one supported)");
}

enum httpsig_result
httpsig_check_content_digest(const char *header, const unsigned char *body, size_t len, char *err,
                             size_t errlen)
{
    unsigned char md[SHA256_DIGEST_LENGTH], got[64];
    struct sfv_dict d = { 0 };
    const struct sfv_member *m;
    enum httpsig_result r = HTTPSIG_OK;
    size_t glen;

    if (header == NULL)
        return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen, "no Content-Digest header");
    if (strnlen(header, HTTPSIG_MAX_HEADER + 1) > HTTPSIG_MAX_HEADER || sfv_parse_dict(header, &d))
        return HTTPSIG_FAIL(HTTPSIG_BAD_DIGEST, err, errlen, "Content-Digest is not a dictionary");
    m = sfv_dict_get(&d, "sha-256");
    if (m == NULL || m->is_list || m->items[0].v.type != SFV_BYTES) {
        r = HTTPSIG_FAIL(HTTPSIG_BAD_DIGEST, err, errlen,
                         "Content-Digest has no sha-256 byte sequence");
    } else if (httpsig_b64_decode(m->items[0].v.s, strlen(m->items[0].v.s), got, sizeof(got),
                                  &glen) != 0 ||
               glen != sizeof(md)) {
        r = HTTPSIG_FAIL(HTTPSIG_BAD_DIGEST, err, errlen, "sha-256 digest is not 32 bytes");
    } else {
        SHA256(body != NULL ? body : (const unsigned char *)"", len, md);
        if (CRYPTO_memcmp(md, got, sizeof(md)) != 0)
            r = HTTPSIG_FAIL(HTTPSIG_DIGEST_MISMATCH, err, errlen,
                             "body does not match Content-Digest");
    }
    sfv_dict_free(&d);
    return r;
}

char *
httpsig_keyid_actor_candidate(const char *key_id)
{
    size_t n;

    if (key_id == NULL ||
        (strncmp(key_id, "https://", 8) != 0 && strncmp(key_id, "http://", 7) != 0))
        return NULL;
    n = strcspn(key_id, "#");
    if (n <= (key_id[4] == 's' ? 8u : 7u))
        return NULL;
    return xstrndup(key_id, n);
}

/* Appends the value of req's header name, without surrounding spaces; -1 if it is absent. */
int
httpsig_add_header(struct httpsig_buf *b, const struct httpsig_request *req, const char *name)
{
    const char *v = req->header(req->ctx, name);
    size_t n;

    if (v == NULL)
        return -1;
    n = strlen(v);
    v = httpsig_trim(v, &n);
    httpsig_buf_add(b, v, n);
    return 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
httpsig_b64_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
{
    size_t i, o = 0;

    if (outlen < (n + 2) / 3 * 4 + 1) {
        if (outlen > 0)
            out[0] = '\0';
        return 0;
    }
    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64chars[v >> 18 & 63];
        out[o++] = b64chars[v >> 12 & 63];
        out[o++] = b64chars[v >> 6 & 63];
        out[o++] = b64chars[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
        out[o++] = b64chars[v >> 18 & 63];
        out[o++] = b64chars[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* Strict standard base64 with optional padding; -1 on any other byte or overflow. */
int
httpsig_b64_decode(const char *in, size_t n, unsigned char *out, size_t outlen, size_t *got)
{
    unsigned v = 0;
    size_t i, o = 0, bits = 0, pad = 0;

    for (i = 0; i < n; i++) {
        const char *c;

        if (in[i] == '=') {
            pad++;
            continue;
        }
        c = in[i] != '\0' ? strchr(b64chars, in[i]) : NULL;
        if (c == NULL || pad > 0)
            return -1;
        v = v << 6 | (unsigned)(c - b64chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == outlen)
                return -1;
            out[o++] = (unsigned char)(v >> bits & 0xff);
        }
    }
    if (pad > 2 || bits >= 6 || (pad > 0 && (n % 4) != 0))
        return -1;
    *got = o;
    return 0;
}

const char *
httpsig_trim(const char *s, size_t *n)
{
    while (*n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        (*n)--;
    }
    while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    return s;
}

int
httpsig_has_component(const struct httpsig *sig, const char *name)
{
    size_t i;

    for (i = 0; i < sig->ncomponents; i++)
        if (strcmp(sig->components[i], name) == 0)
            return 1;
    return 0;
}

enum httpsig_result
httpsig_check_window(int64_t created, int has_expires, int64_t expires, time_t now, char *err,
                     size_t errlen)
{
    if (!has_expires)
        expires = created + DEFAULT_EXPIRY;
    if (expires > created + MAX_EXPIRY)
        expires = created + MAX_EXPIRY;
    if (created > (int64_t)now + CLOCK_SKEW_MARGIN)
        return HTTPSIG_FAIL(HTTPSIG_FUTURE_DATE, err, errlen, "signed %" PRId64 " s in the future",
                            created - (int64_t)now);
    if ((int64_t)now > expires + CLOCK_SKEW_MARGIN)
        return HTTPSIG_FAIL(HTTPSIG_STALE_DATE, err, errlen, "signature expired %" PRId64 " s ago",
                            (int64_t)now - expires);
    return HTTPSIG_OK;
}

static int
httpsig_rsa_verify(EVP_PKEY *key, const unsigned char *sig, size_t siglen, const char *msg)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int good;

    good = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
           EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)msg, strlen(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    return good;
}

/* Accepts SPKI ("BEGIN PUBLIC KEY") and PKCS#1 ("BEGIN RSA PUBLIC KEY"). */
EVP_PKEY *
httpsig_public_key(const char *pem)
{
    OSSL_DECODER_CTX *dctx;
    EVP_PKEY *key = NULL;
    const unsigned char *data = (const unsigned char *)pem;
    size_t len;

    if (pem == NULL)
        return NULL;
    len = strnlen(pem, 16384);
    dctx = OSSL_DECODER_CTX_new_for_pkey(&key, "PEM", NULL, "RSA", EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    if (dctx == NULL)
        return NULL;
    if (OSSL_DECODER_from_data(dctx, &data, &len) != 1)
        key = NULL;
    OSSL_DECODER_CTX_free(dctx);
    if (key != NULL && (!EVP_PKEY_is_a(key, "RSA") || !httpsig_key_sane(key))) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    return key;
}

/* 1 when key's modulus has KEY_MIN_BITS..KEY_MAX_BITS bits and e is odd, 3..KEY_MAX_E. */
static int
httpsig_key_sane(const EVP_PKEY *key)
{
    BIGNUM *n = NULL, *e = NULL;
    int bits, ok = 0;

    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) == 1) {
        bits = BN_num_bits(n);
        ok = bits >= KEY_MIN_BITS && bits <= KEY_MAX_BITS && BN_is_odd(e) && BN_num_bits(e) <= 32 &&
             BN_get_word(e) >= 3 && BN_get_word(e) <= KEY_MAX_E;
    }
    BN_free(n);
    BN_free(e);
    return ok;
}

enum httpsig_result
httpsig_decode_signature(const char *b64, struct httpsig *out, char *err, size_t errlen)
{
    out->sig = xmalloc(HTTPSIG_MAX_SIG_LEN);
    if (httpsig_b64_decode(b64, strlen(b64), out->sig, HTTPSIG_MAX_SIG_LEN, &out->sig_len) != 0 ||
        out->sig_len == 0)
        return HTTPSIG_FAIL(HTTPSIG_BAD_HEADER, err, errlen,
                            "signature is not base64 (or over %d bytes)", HTTPSIG_MAX_SIG_LEN);
    return HTTPSIG_OK;
}
