/* HTTP signatures: cavage-12 and RFC 9421 parsing, signing strings, RSA sign/verify; no I/O. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "httpsig.h"
#include "xmalloc.h"

/* Mastodon's window (app/lib/signed_request.rb), in seconds. */
#define CLOCK_SKEW_MARGIN 3600
#define DEFAULT_EXPIRY    300
#define MAX_EXPIRY        43200

#define MAX_PARAMS  16 /* cavage parameters, SF parameters per item, SF dictionary members */
#define MAX_SIG_LEN 1024

struct sbuf {
    char *p;
    size_t len, cap;
};

enum sf_type { SF_INTEGER, SF_DECIMAL, SF_STRING, SF_TOKEN, SF_BYTES, SF_BOOLEAN };

struct sf_bare {
    enum sf_type type;
    char *s;   /* string or token value, base64 text of bytes, decimal text */
    int64_t n; /* integer, or 0/1 for a boolean */
};

struct sf_param {
    char *key;
    struct sf_bare v;
};

struct sf_params {
    struct sf_param p[MAX_PARAMS];
    size_t n;
};

struct sf_item {
    struct sf_bare v;
    struct sf_params params;
};

struct sf_member {
    char *key;
    int is_list;
    struct sf_item *items; /* one item when !is_list */
    size_t nitems;
    struct sf_params params; /* of the inner list, or of the single item */
};

struct sf_dict {
    struct sf_member m[MAX_PARAMS];
    size_t n;
};

static enum httpsig_result fail(enum httpsig_result r, char *err, size_t errlen, const char *fmt,
                                ...) __attribute__((format(printf, 4, 5)));
static void sbuf_add(struct sbuf *b, const char *s, size_t n);
static void sbuf_adds(struct sbuf *b, const char *s);
static char *sbuf_finish(struct sbuf *b);
static size_t b64_encode(const unsigned char *in, size_t n, char *out, size_t outlen);
static int b64_decode(const char *in, size_t n, unsigned char *out, size_t outlen, size_t *got);
static int parse_int64(const char *s, size_t n, int64_t *out);
static const char *trim(const char *s, size_t *n);
static int is_get(const char *method);
static int has_component(const struct httpsig *sig, const char *name);
static enum httpsig_result check_window(int64_t created, int has_expires, int64_t expires,
                                        time_t now, char *err, size_t errlen);
static enum httpsig_result check_cavage(const struct httpsig *sig,
                                        const struct httpsig_request *req, time_t now, char *err,
                                        size_t errlen);
static enum httpsig_result check_rfc9421(const struct httpsig *sig,
                                         const struct httpsig_request *req, time_t now, char *err,
                                         size_t errlen);
static enum httpsig_result cavage_string(const struct httpsig *sig,
                                         const struct httpsig_request *req, int with_query,
                                         struct sbuf *b, char *err, size_t errlen);
static enum httpsig_result rfc9421_base(const struct httpsig *sig,
                                        const struct httpsig_request *req, struct sbuf *b,
                                        char *err, size_t errlen);
static int rsa_verify(EVP_PKEY *key, const unsigned char *sig, size_t siglen, const char *msg);
static int split_headers(const char *list, struct httpsig *out);
static void sf_bare_free(struct sf_bare *v);
static void sf_params_free(struct sf_params *p);
static void sf_dict_free(struct sf_dict *d);
static int sf_parse_dict(const char *s, struct sf_dict *d);
static const struct sf_member *sf_dict_get(const struct sf_dict *d, const char *key);
static const struct sf_bare *sf_param_get(const struct sf_params *p, const char *key);
static void sf_serialize_bare(struct sbuf *b, const struct sf_bare *v);
static void sf_serialize_params(struct sbuf *b, const struct sf_params *p);

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

enum httpsig_result
httpsig_parse_cavage(const char *value, struct httpsig *out, char *err, size_t errlen)
{
    char seen[MAX_PARAMS][32];
    size_t nseen = 0, len;
    const char *p;
    char *headers = NULL, *algorithm = NULL, *signature = NULL, *created = NULL, *expires = NULL;
    enum httpsig_result r = HTTPSIG_BAD_HEADER;

    memset(out, 0, sizeof(*out));
    out->scheme = HTTPSIG_CAVAGE;
    if (value == NULL)
        return fail(HTTPSIG_NO_SIGNATURE, err, errlen, "no Signature header");
    len = strnlen(value, HTTPSIG_MAX_HEADER + 1);
    if (len > HTTPSIG_MAX_HEADER)
        return fail(HTTPSIG_BAD_HEADER, err, errlen, "Signature header over %d bytes",
                    HTTPSIG_MAX_HEADER);
    p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    /* Some servers send the Authorization-style "Signature " scheme prefix. */
    if (strncasecmp(p, "Signature ", 10) == 0)
        p += 10;
    for (;;) {
        const char *name, *v;
        size_t nlen, i;
        struct sbuf val = { 0 };
        char **slot = NULL;

        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        name = p;
        while (isalnum((unsigned char)*p) || *p == '-' || *p == '_')
            p++;
        nlen = (size_t)(p - name);
        if (nlen == 0 || nlen >= sizeof(seen[0])) {
            fail(r, err, errlen, "bad parameter name at offset %zu", (size_t)(name - value));
            goto out;
        }
        for (i = 0; i < nseen; i++) {
            if (strlen(seen[i]) == nlen && memcmp(seen[i], name, nlen) == 0) {
                fail(r, err, errlen, "duplicate parameter %.*s", (int)nlen, name);
                goto out;
            }
        }
        if (nseen == MAX_PARAMS) {
            fail(r, err, errlen, "more than %d parameters", MAX_PARAMS);
            goto out;
        }
        memcpy(seen[nseen], name, nlen);
        seen[nseen++][nlen] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '=') {
            fail(r, err, errlen, "parameter %.*s has no value", (int)nlen, name);
            goto out;
        }
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '"') {
            for (p++; *p != '"'; p++) {
                if (*p == '\0') {
                    free(val.p);
                    fail(r, err, errlen, "unterminated quoted value for %.*s", (int)nlen, name);
                    goto out;
                }
                if (*p == '\\' && p[1] != '\0')
                    p++;
                sbuf_add(&val, p, 1);
            }
            p++;
        } else {
            /* draft-12 writes created and expires as bare integers. */
            v = p;
            while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t' && *p != '"')
                p++;
            sbuf_add(&val, v, (size_t)(p - v));
        }
        if (nlen == 5 && memcmp(name, "keyId", 5) == 0)
            slot = &out->key_id;
        else if (nlen == 9 && memcmp(name, "algorithm", 9) == 0)
            slot = &algorithm;
        else if (nlen == 7 && memcmp(name, "headers", 7) == 0)
            slot = &headers;
        else if (nlen == 9 && memcmp(name, "signature", 9) == 0)
            slot = &signature;
        else if (nlen == 7 && memcmp(name, "created", 7) == 0)
            slot = &created;
        else if (nlen == 7 && memcmp(name, "expires", 7) == 0)
            slot = &expires;
        if (slot != NULL)
            *slot = sbuf_finish(&val);
        else
            free(val.p);
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ',')
            p++;
        else if (*p != '\0') {
            fail(r, err, errlen, "junk after parameter %.*s", (int)nlen, name);
            goto out;
        }
    }

    if (out->key_id == NULL || out->key_id[0] == '\0') {
        fail(r, err, errlen, "no keyId");
        goto out;
    }
    if (signature == NULL || signature[0] == '\0') {
        fail(r, err, errlen, "no signature");
        goto out;
    }
    if (algorithm == NULL || strcasecmp(algorithm, "hs2019") == 0)
        out->alg = HTTPSIG_ALG_HS2019;
    else if (strcasecmp(algorithm, "rsa-sha256") == 0)
        out->alg = HTTPSIG_ALG_RSA_SHA256;
    else {
        r = fail(HTTPSIG_UNSUPPORTED_ALGORITHM, err, errlen, "unsupported algorithm %.64s",
                 algorithm);
        goto out;
    }
    if (created != NULL && parse_int64(created, strlen(created), &out->created) != 0) {
        fail(r, err, errlen, "created is not a number");
        goto out;
    }
    out->has_created = created != NULL;
    if (expires != NULL && parse_int64(expires, strlen(expires), &out->expires) != 0) {
        fail(r, err, errlen, "expires is not a number");
        goto out;
    }
    out->has_expires = expires != NULL;
    if (headers == NULL)
        headers = xstrdup(out->alg == HTTPSIG_ALG_HS2019 ? "(created)" : "date");
    if (split_headers(headers, out) != 0) {
        fail(r, err, errlen, "headers is empty or lists over %d names", HTTPSIG_MAX_COMPONENTS);
        goto out;
    }
    out->sig = xmalloc(MAX_SIG_LEN);
    if (b64_decode(signature, strlen(signature), out->sig, MAX_SIG_LEN, &out->sig_len) != 0 ||
        out->sig_len == 0) {
        fail(r, err, errlen, "signature is not base64 (or over %d bytes)", MAX_SIG_LEN);
        goto out;
    }
    r = HTTPSIG_OK;
out:
    free(headers);
    free(algorithm);
    free(signature);
    free(created);
    free(expires);
    if (r != HTTPSIG_OK)
        httpsig_free(out);
    return r;
}

enum httpsig_result
httpsig_parse_rfc9421(const char *signature_input, const char *signature, struct httpsig *out,
                      char *err, size_t errlen)
{
    struct sf_dict in = { 0 }, sg = { 0 };
    const struct sf_member *m = NULL, *s = NULL;
    const struct sf_bare *keyid, *created, *expires, *alg;
    struct sbuf params = { 0 };
    enum httpsig_result r = HTTPSIG_BAD_HEADER;
    size_t i;

    memset(out, 0, sizeof(*out));
    out->scheme = HTTPSIG_RFC9421;
    if (signature_input == NULL || signature == NULL)
        return fail(HTTPSIG_NO_SIGNATURE, err, errlen, "Signature-Input or Signature missing");
    if (strnlen(signature_input, HTTPSIG_MAX_HEADER + 1) > HTTPSIG_MAX_HEADER ||
        strnlen(signature, HTTPSIG_MAX_HEADER + 1) > HTTPSIG_MAX_HEADER)
        return fail(r, err, errlen, "signature header over %d bytes", HTTPSIG_MAX_HEADER);
    if (sf_parse_dict(signature_input, &in) != 0) {
        fail(r, err, errlen, "Signature-Input is not a structured-field dictionary");
        goto out;
    }
    if (sf_parse_dict(signature, &sg) != 0) {
        fail(r, err, errlen, "Signature is not a structured-field dictionary");
        goto out;
    }
    for (i = 0; i < in.n; i++) {
        s = sf_dict_get(&sg, in.m[i].key);
        if (s != NULL) {
            m = &in.m[i];
            break;
        }
    }
    if (m == NULL || s == NULL) {
        fail(r, err, errlen, "no label in both Signature-Input and Signature");
        goto out;
    }
    if (!m->is_list || m->nitems == 0) {
        fail(r, err, errlen, "signature %s does not list components", m->key);
        goto out;
    }
    if (s->is_list || s->items[0].v.type != SF_BYTES) {
        fail(r, err, errlen, "signature %s is not a byte sequence", s->key);
        goto out;
    }
    keyid = sf_param_get(&m->params, "keyid");
    created = sf_param_get(&m->params, "created");
    expires = sf_param_get(&m->params, "expires");
    alg = sf_param_get(&m->params, "alg");
    if (keyid == NULL || keyid->type != SF_STRING || keyid->s[0] == '\0') {
        fail(r, err, errlen, "no keyid string");
        goto out;
    }
    if (created == NULL || created->type != SF_INTEGER) {
        fail(r, err, errlen, "no created integer");
        goto out;
    }
    if (expires != NULL && expires->type != SF_INTEGER) {
        fail(r, err, errlen, "expires is not an integer");
        goto out;
    }
    if (alg == NULL)
        out->alg = HTTPSIG_ALG_NONE;
    else if (alg->type == SF_STRING && strcmp(alg->s, "rsa-v1_5-sha256") == 0)
        out->alg = HTTPSIG_ALG_RSA_V1_5_SHA256;
    else {
        r = fail(HTTPSIG_UNSUPPORTED_ALGORITHM, err, errlen, "unsupported alg %.64s",
                 alg->type == SF_STRING ? alg->s : "(not a string)");
        goto out;
    }
    out->components = xcalloc(m->nitems, sizeof(char *));
    sbuf_adds(&params, "(");
    for (i = 0; i < m->nitems; i++) {
        const struct sf_item *it = &m->items[i];

        if (it->v.type != SF_STRING || it->v.s[0] == '\0') {
            fail(r, err, errlen, "component %zu is not a string", i);
            goto out;
        }
        if (it->params.n != 0) {
            fail(r, err, errlen, "component %.64s has parameters (unsupported)", it->v.s);
            goto out;
        }
        /* RFC 9421 2.1: a field's component name is its name lowercased; the base repeats it. */
        for (const char *c = it->v.s; *c != '\0'; c++) {
            if (isupper((unsigned char)*c)) {
                fail(r, err, errlen, "component %.64s is not lowercase", it->v.s);
                goto out;
            }
        }
        out->components[i] = xstrdup(it->v.s);
        out->ncomponents++;
        if (i > 0)
            sbuf_adds(&params, " ");
        sf_serialize_bare(&params, &it->v);
    }
    sbuf_adds(&params, ")");
    sf_serialize_params(&params, &m->params);
    out->params = sbuf_finish(&params);
    params.p = NULL;
    out->key_id = xstrdup(keyid->s);
    out->label = xstrdup(m->key);
    out->created = created->n;
    out->has_created = 1;
    if (expires != NULL) {
        out->expires = expires->n;
        out->has_expires = 1;
    }
    out->sig = xmalloc(MAX_SIG_LEN);
    if (b64_decode(s->items[0].v.s, strlen(s->items[0].v.s), out->sig, MAX_SIG_LEN,
                   &out->sig_len) != 0 ||
        out->sig_len == 0) {
        fail(r, err, errlen, "signature is not base64 (or over %d bytes)", MAX_SIG_LEN);
        goto out;
    }
    r = HTTPSIG_OK;
out:
    free(params.p);
    sf_dict_free(&in);
    sf_dict_free(&sg);
    if (r != HTTPSIG_OK)
        httpsig_free(out);
    return r;
}

enum httpsig_result
httpsig_parse_request(const struct httpsig_request *req, struct httpsig *out, char *err,
                      size_t errlen)
{
    const char *input = req->header(req->ctx, "signature-input");
    const char *sig = req->header(req->ctx, "signature");

    if (input != NULL)
        return httpsig_parse_rfc9421(input, sig, out, err, errlen);
    return httpsig_parse_cavage(sig, out, err, errlen);
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
    if (sig->scheme == HTTPSIG_RFC9421)
        return check_rfc9421(sig, req, now, err, errlen);
    return check_cavage(sig, req, now, err, errlen);
}

enum httpsig_result
httpsig_signing_string(const struct httpsig *sig, const struct httpsig_request *req, int with_query,
                       char **out, char *err, size_t errlen)
{
    struct sbuf b = { 0 };
    enum httpsig_result r;

    *out = NULL;
    if (sig->scheme == HTTPSIG_RFC9421)
        r = rfc9421_base(sig, req, &b, err, errlen);
    else
        r = cavage_string(sig, req, with_query, &b, err, errlen);
    if (r != HTTPSIG_OK) {
        free(b.p);
        return r;
    }
    *out = sbuf_finish(&b);
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
        return fail(HTTPSIG_BAD_KEY, err, errlen, "public key is not an RSA PEM");
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
        return fail(HTTPSIG_BAD_KEY, err, errlen, "key is not RSA");
    r = httpsig_check(sig, req, now, err, errlen);
    if (r != HTTPSIG_OK)
        return r;
    /* Mastodon signs (request-target) with the query and Fedify without: try both. */
    tries = sig->scheme == HTTPSIG_CAVAGE && strchr(req->target, '?') != NULL ? 2 : 1;
    for (i = 0; i < tries; i++) {
        r = httpsig_signing_string(sig, req, i == 0, &msg, err, errlen);
        if (r != HTTPSIG_OK)
            return r;
        good = rsa_verify(key, sig->sig, sig->sig_len, msg);
        free(msg);
        if (good)
            return HTTPSIG_OK;
    }
    return fail(HTTPSIG_BAD_SIGNATURE, err, errlen, "signature does not verify");
}

char *
httpsig_sign(EVP_PKEY *key, const char *key_id, const struct httpsig_request *req,
             const char *headers, char *err, size_t errlen)
{
    struct httpsig sig = { 0 };
    EVP_MD_CTX *ctx = NULL;
    unsigned char raw[MAX_SIG_LEN];
    char b64[MAX_SIG_LEN * 4 / 3 + 8], *msg = NULL, *out = NULL, *list;
    size_t rawlen = sizeof(raw), i;

    if (key == NULL || !EVP_PKEY_is_a(key, "RSA") || (size_t)EVP_PKEY_get_size(key) > sizeof(raw)) {
        fail(HTTPSIG_BAD_KEY, err, errlen, "signing key is not RSA (or too large)");
        return NULL;
    }
    if (key_id == NULL || key_id[0] == '\0' || strpbrk(key_id, "\"\\\r\n") != NULL) {
        fail(HTTPSIG_BAD_HEADER, err, errlen, "keyId is empty or cannot be quoted");
        return NULL;
    }
    if (headers == NULL)
        headers = is_get(req->method) ? "(request-target) host date accept"
                                      : "(request-target) host date digest content-type";
    sig.scheme = HTTPSIG_CAVAGE;
    sig.alg = HTTPSIG_ALG_RSA_SHA256;
    if (split_headers(headers, &sig) != 0) {
        fail(HTTPSIG_BAD_HEADER, err, errlen, "bad headers list");
        goto out;
    }
    if (httpsig_signing_string(&sig, req, 1, &msg, err, errlen) != HTTPSIG_OK)
        goto out;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, raw, &rawlen, (const unsigned char *)msg, strlen(msg)) != 1) {
        fail(HTTPSIG_BAD_KEY, err, errlen, "RSA signing failed");
        goto out;
    }
    b64_encode(raw, rawlen, b64, sizeof(b64));
    /* Rebuild the list from the parsed names so the header says exactly what was signed. */
    {
        struct sbuf lb = { 0 };

        for (i = 0; i < sig.ncomponents; i++) {
            if (i > 0)
                sbuf_adds(&lb, " ");
            sbuf_adds(&lb, sig.components[i]);
        }
        list = sbuf_finish(&lb);
    }
    out = xasprintf("keyId=\"%s\",algorithm=\"rsa-sha256\",headers=\"%s\",signature=\"%s\"", key_id,
                    list, b64);
    free(list);
out:
    EVP_MD_CTX_free(ctx);
    free(msg);
    httpsig_free(&sig);
    return out;
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
        if (parse_int64(s + at[i], width[i], &v[i]) != 0)
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

int
httpsig_digest(const unsigned char *body, size_t len, char *buf, size_t buflen)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char b64[48];

    SHA256(body != NULL ? body : (const unsigned char *)"", len, md);
    b64_encode(md, sizeof(md), b64, sizeof(b64));
    return snprintf(buf, buflen, "SHA-256=%s", b64) >= (int)buflen ? -1 : 0;
}

int
httpsig_content_digest(const unsigned char *body, size_t len, char *buf, size_t buflen)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char b64[48];

    SHA256(body != NULL ? body : (const unsigned char *)"", len, md);
    b64_encode(md, sizeof(md), b64, sizeof(b64));
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
        return fail(HTTPSIG_MISSING_HEADER, err, errlen, "no Digest header");
    if (strnlen(header, HTTPSIG_MAX_HEADER + 1) > HTTPSIG_MAX_HEADER)
        return fail(HTTPSIG_BAD_DIGEST, err, errlen, "Digest header too long");
    for (p = header; *p != '\0'; p = *end == ',' ? end + 1 : end) {
        end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        /* Base64 ends in '=', so only the first '=' separates name from value. */
        eq = memchr(p, '=', (size_t)(end - p));
        if (eq == NULL)
            continue;
        nlen = (size_t)(eq - p);
        name = trim(p, &nlen);
        if (nlen != 7 || strncasecmp(name, "SHA-256", 7) != 0)
            continue;
        vlen = (size_t)(end - eq - 1);
        val = trim(eq + 1, &vlen);
        if (b64_decode(val, vlen, got, sizeof(got), &glen) != 0 || glen != sizeof(md))
            return fail(HTTPSIG_BAD_DIGEST, err, errlen,
                        "SHA-256 digest is not 32 bytes of base64");
        SHA256(body != NULL ? body : (const unsigned char *)"", len, md);
        if (CRYPTO_memcmp(md, got, sizeof(md)) != 0)
            return fail(HTTPSIG_DIGEST_MISMATCH, err, errlen, "body does not match Digest");
        return HTTPSIG_OK;
    }
    return fail(HTTPSIG_BAD_DIGEST, err, errlen, "Digest has no SHA-256 (the only one supported)");
}

enum httpsig_result
httpsig_check_content_digest(const char *header, const unsigned char *body, size_t len, char *err,
                             size_t errlen)
{
    unsigned char md[SHA256_DIGEST_LENGTH], got[64];
    struct sf_dict d = { 0 };
    const struct sf_member *m;
    enum httpsig_result r = HTTPSIG_OK;
    size_t glen;

    if (header == NULL)
        return fail(HTTPSIG_MISSING_HEADER, err, errlen, "no Content-Digest header");
    if (strnlen(header, HTTPSIG_MAX_HEADER + 1) > HTTPSIG_MAX_HEADER || sf_parse_dict(header, &d))
        return fail(HTTPSIG_BAD_DIGEST, err, errlen, "Content-Digest is not a dictionary");
    m = sf_dict_get(&d, "sha-256");
    if (m == NULL || m->is_list || m->items[0].v.type != SF_BYTES) {
        r = fail(HTTPSIG_BAD_DIGEST, err, errlen, "Content-Digest has no sha-256 byte sequence");
    } else if (b64_decode(m->items[0].v.s, strlen(m->items[0].v.s), got, sizeof(got), &glen) != 0 ||
               glen != sizeof(md)) {
        r = fail(HTTPSIG_BAD_DIGEST, err, errlen, "sha-256 digest is not 32 bytes");
    } else {
        SHA256(body != NULL ? body : (const unsigned char *)"", len, md);
        if (CRYPTO_memcmp(md, got, sizeof(md)) != 0)
            r = fail(HTTPSIG_DIGEST_MISMATCH, err, errlen, "body does not match Content-Digest");
    }
    sf_dict_free(&d);
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

static enum httpsig_result
fail(enum httpsig_result r, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return r;
}

static void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
sbuf_adds(struct sbuf *b, const char *s)
{
    sbuf_add(b, s, strlen(s));
}

/* Hands the string to the caller; an empty buffer still gives "". */
static char *
sbuf_finish(struct sbuf *b)
{
    char *p = b->p != NULL ? b->p : xstrdup("");

    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t
b64_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
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
static int
b64_decode(const char *in, size_t n, unsigned char *out, size_t outlen, size_t *got)
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

/* Decimal digits only, at most 15 of them (what RFC 8941 allows for an integer). */
static int
parse_int64(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    if (n == 0 || n > 15)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static const char *
trim(const char *s, size_t *n)
{
    while (*n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        (*n)--;
    }
    while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    return s;
}

static int
is_get(const char *method)
{
    return strcasecmp(method, "GET") == 0 || strcasecmp(method, "HEAD") == 0;
}

static int
has_component(const struct httpsig *sig, const char *name)
{
    size_t i;

    for (i = 0; i < sig->ncomponents; i++)
        if (strcmp(sig->components[i], name) == 0)
            return 1;
    return 0;
}

static enum httpsig_result
check_window(int64_t created, int has_expires, int64_t expires, time_t now, char *err,
             size_t errlen)
{
    if (!has_expires)
        expires = created + DEFAULT_EXPIRY;
    if (expires > created + MAX_EXPIRY)
        expires = created + MAX_EXPIRY;
    if (created > (int64_t)now + CLOCK_SKEW_MARGIN)
        return fail(HTTPSIG_FUTURE_DATE, err, errlen, "signed %" PRId64 " s in the future",
                    created - (int64_t)now);
    if ((int64_t)now > expires + CLOCK_SKEW_MARGIN)
        return fail(HTTPSIG_STALE_DATE, err, errlen, "signature expired %" PRId64 " s ago",
                    (int64_t)now - expires);
    return HTTPSIG_OK;
}

static enum httpsig_result
check_cavage(const struct httpsig *sig, const struct httpsig_request *req, time_t now, char *err,
             size_t errlen)
{
    enum httpsig_result r;
    int64_t created;
    time_t date;
    const char *v;

    if ((has_component(sig, "(created)") || has_component(sig, "(expires)")) &&
        sig->alg != HTTPSIG_ALG_HS2019)
        return fail(HTTPSIG_BAD_HEADER, err, errlen, "(created)/(expires) need hs2019");
    if (!has_component(sig, "date") && !has_component(sig, "(created)"))
        return fail(HTTPSIG_MISSING_HEADER, err, errlen, "neither date nor (created) is signed");
    if (!has_component(sig, "(request-target)") && !has_component(sig, "digest"))
        return fail(HTTPSIG_MISSING_HEADER, err, errlen,
                    "neither (request-target) nor digest is signed");
    if (is_get(req->method) && !has_component(sig, "host"))
        return fail(HTTPSIG_MISSING_HEADER, err, errlen, "host is not signed on a GET");
    if ((strcasecmp(req->method, "POST") == 0 || req->body_len > 0) &&
        !has_component(sig, "digest"))
        return fail(HTTPSIG_MISSING_HEADER, err, errlen, "digest is not signed on a POST");
    if (has_component(sig, "digest")) {
        r = httpsig_check_digest(req->header(req->ctx, "digest"), req->body, req->body_len, err,
                                 errlen);
        if (r != HTTPSIG_OK)
            return r;
    }
    if (sig->alg == HTTPSIG_ALG_HS2019 && sig->has_created) {
        created = sig->created;
    } else {
        v = req->header(req->ctx, "date");
        if (v == NULL)
            return fail(HTTPSIG_MISSING_HEADER, err, errlen, "no Date header");
        if (httpsig_parse_date(v, &date) != 0)
            return fail(HTTPSIG_BAD_HEADER, err, errlen, "Date is not an IMF-fixdate");
        created = (int64_t)date;
    }
    return check_window(created, sig->has_expires, sig->expires, now, err, errlen);
}

static enum httpsig_result
check_rfc9421(const struct httpsig *sig, const struct httpsig_request *req, time_t now, char *err,
              size_t errlen)
{
    enum httpsig_result r;

    if (!has_component(sig, "@method") || !has_component(sig, "@target-uri"))
        return fail(HTTPSIG_MISSING_HEADER, err, errlen, "@method and @target-uri must be signed");
    if (!sig->has_created)
        return fail(HTTPSIG_MISSING_HEADER, err, errlen, "no created parameter");
    if ((strcasecmp(req->method, "POST") == 0 || req->body_len > 0) &&
        !has_component(sig, "content-digest"))
        return fail(HTTPSIG_MISSING_HEADER, err, errlen, "content-digest is not signed");
    if (has_component(sig, "content-digest")) {
        r = httpsig_check_content_digest(req->header(req->ctx, "content-digest"), req->body,
                                         req->body_len, err, errlen);
        if (r != HTTPSIG_OK)
            return r;
    }
    return check_window(sig->created, sig->has_expires, sig->expires, now, err, errlen);
}

static enum httpsig_result
cavage_string(const struct httpsig *sig, const struct httpsig_request *req, int with_query,
              struct sbuf *b, char *err, size_t errlen)
{
    char num[32];
    size_t i, n;
    const char *v;

    for (i = 0; i < sig->ncomponents; i++) {
        const char *name = sig->components[i];

        if (i > 0)
            sbuf_adds(b, "\n");
        sbuf_adds(b, name);
        sbuf_adds(b, ": ");
        if (strcmp(name, "(request-target)") == 0) {
            for (v = req->method; *v != '\0'; v++) {
                char c = (char)tolower((unsigned char)*v);
                sbuf_add(b, &c, 1);
            }
            sbuf_adds(b, " ");
            n = with_query ? strlen(req->target) : strcspn(req->target, "?");
            sbuf_add(b, req->target, n);
        } else if (strcmp(name, "(created)") == 0 || strcmp(name, "(expires)") == 0) {
            int created = name[1] == 'c';

            if (created ? !sig->has_created : !sig->has_expires)
                return fail(HTTPSIG_BAD_HEADER, err, errlen, "%s signed but not given", name);
            snprintf(num, sizeof(num), "%" PRId64, created ? sig->created : sig->expires);
            sbuf_adds(b, num);
        } else {
            v = req->header(req->ctx, name);
            if (v == NULL)
                return fail(HTTPSIG_MISSING_HEADER, err, errlen, "signed header %.64s is absent",
                            name);
            n = strlen(v);
            v = trim(v, &n);
            sbuf_add(b, v, n);
        }
    }
    return HTTPSIG_OK;
}

static enum httpsig_result
rfc9421_base(const struct httpsig *sig, const struct httpsig_request *req, struct sbuf *b,
             char *err, size_t errlen)
{
    const char *scheme = req->scheme != NULL ? req->scheme : "https";
    const char *authority = req->authority != NULL ? req->authority : req->header(req->ctx, "host");
    const char *q = strchr(req->target, '?'), *v;
    size_t i, n;

    for (i = 0; i < sig->ncomponents; i++) {
        const char *name = sig->components[i];

        sbuf_adds(b, "\"");
        sbuf_adds(b, name);
        sbuf_adds(b, "\": ");
        if (strcmp(name, "@method") == 0) {
            sbuf_adds(b, req->method);
        } else if (strcmp(name, "@target-uri") == 0 || strcmp(name, "@authority") == 0) {
            if (authority == NULL)
                return fail(HTTPSIG_MISSING_HEADER, err, errlen, "no authority for %s", name);
            if (name[1] == 't') {
                sbuf_adds(b, scheme);
                sbuf_adds(b, "://");
            }
            for (v = authority; *v != '\0'; v++) {
                char c = (char)tolower((unsigned char)*v);
                sbuf_add(b, &c, 1);
            }
            if (name[1] == 't')
                sbuf_adds(b, req->target);
        } else if (strcmp(name, "@scheme") == 0) {
            sbuf_adds(b, scheme);
        } else if (strcmp(name, "@request-target") == 0) {
            sbuf_adds(b, req->target);
        } else if (strcmp(name, "@path") == 0) {
            n = strcspn(req->target, "?");
            if (n == 0)
                sbuf_adds(b, "/");
            sbuf_add(b, req->target, n);
        } else if (strcmp(name, "@query") == 0) {
            sbuf_adds(b, q != NULL ? q : "?");
        } else if (name[0] == '@') {
            return fail(HTTPSIG_BAD_HEADER, err, errlen, "unsupported component %.64s", name);
        } else {
            v = req->header(req->ctx, name);
            if (v == NULL)
                return fail(HTTPSIG_MISSING_HEADER, err, errlen, "signed header %.64s is absent",
                            name);
            n = strlen(v);
            v = trim(v, &n);
            sbuf_add(b, v, n);
        }
        sbuf_adds(b, "\n");
    }
    sbuf_adds(b, "\"@signature-params\": ");
    sbuf_adds(b, sig->params != NULL ? sig->params : "");
    return HTTPSIG_OK;
}

static int
rsa_verify(EVP_PKEY *key, const unsigned char *sig, size_t siglen, const char *msg)
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
    if (key != NULL && !EVP_PKEY_is_a(key, "RSA")) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    return key;
}

/* Fills out->components from a space-separated list, lowercased. */
static int
split_headers(const char *list, struct httpsig *out)
{
    const char *p = list;
    size_t n, i;

    out->components = xcalloc(HTTPSIG_MAX_COMPONENTS, sizeof(char *));
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        n = strcspn(p, " \t");
        if (out->ncomponents == HTTPSIG_MAX_COMPONENTS)
            return -1;
        out->components[out->ncomponents] = xstrndup(p, n);
        for (i = 0; i < n; i++)
            out->components[out->ncomponents][i] =
                (char)tolower((unsigned char)out->components[out->ncomponents][i]);
        out->ncomponents++;
        p += n;
    }
    return out->ncomponents == 0 ? -1 : 0;
}

/* RFC 8941 structured fields: just enough for Signature-Input, Signature, Content-Digest. */

static int
sf_is_key_start(char c)
{
    return (c >= 'a' && c <= 'z') || c == '*';
}

static int
sf_is_key_char(char c)
{
    return sf_is_key_start(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static int
sf_is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~:/", c) != NULL);
}

static char *
sf_parse_key(const char **pp)
{
    const char *p = *pp, *start = p;

    if (!sf_is_key_start(*p))
        return NULL;
    while (sf_is_key_char(*p))
        p++;
    *pp = p;
    return xstrndup(start, (size_t)(p - start));
}

static int
sf_parse_bare(const char **pp, struct sf_bare *v)
{
    const char *p = *pp, *start;
    struct sbuf b = { 0 };

    memset(v, 0, sizeof(*v));
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        int neg = *p == '-';

        start = p;
        if (neg)
            p++;
        while ((*p >= '0' && *p <= '9') || *p == '.')
            p++;
        if (memchr(start, '.', (size_t)(p - start)) != NULL) {
            v->type = SF_DECIMAL;
            v->s = xstrndup(start, (size_t)(p - start));
        } else {
            v->type = SF_INTEGER;
            if (parse_int64(start + neg, (size_t)(p - start - neg), &v->n) != 0)
                return -1;
            if (neg)
                v->n = -v->n;
        }
    } else if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\\') {
                p++;
                if (*p != '"' && *p != '\\') {
                    free(b.p);
                    return -1;
                }
            } else if (*p < 0x20 || *p > 0x7e) {
                free(b.p);
                return -1;
            }
            sbuf_add(&b, p, 1);
        }
        p++;
        v->type = SF_STRING;
        v->s = sbuf_finish(&b);
    } else if (*p == ':') {
        start = ++p;
        while (*p != ':') {
            if (*p == '\0' || (!isalnum((unsigned char)*p) && strchr("+/=", *p) == NULL))
                return -1;
            p++;
        }
        v->type = SF_BYTES;
        v->s = xstrndup(start, (size_t)(p - start));
        p++;
    } else if (*p == '?') {
        if (p[1] != '0' && p[1] != '1')
            return -1;
        v->type = SF_BOOLEAN;
        v->n = p[1] == '1';
        p += 2;
    } else if (isalpha((unsigned char)*p) || *p == '*') {
        start = p;
        while (sf_is_tchar(*p))
            p++;
        v->type = SF_TOKEN;
        v->s = xstrndup(start, (size_t)(p - start));
    } else {
        return -1;
    }
    *pp = p;
    return 0;
}

static int
sf_parse_params(const char **pp, struct sf_params *params)
{
    const char *p = *pp;

    while (*p == ';') {
        struct sf_param *prm;

        p++;
        while (*p == ' ')
            p++;
        if (params->n == MAX_PARAMS)
            return -1;
        prm = &params->p[params->n];
        prm->key = sf_parse_key(&p);
        if (prm->key == NULL)
            return -1;
        params->n++;
        if (*p == '=') {
            p++;
            if (sf_parse_bare(&p, &prm->v) != 0)
                return -1;
        } else {
            prm->v.type = SF_BOOLEAN;
            prm->v.n = 1;
        }
    }
    *pp = p;
    return 0;
}

static int
sf_parse_dict(const char *s, struct sf_dict *d)
{
    const char *p = s;

    memset(d, 0, sizeof(*d));
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return -1;
    for (;;) {
        struct sf_member *m;
        size_t i;

        if (d->n == MAX_PARAMS)
            goto bad;
        m = &d->m[d->n];
        m->key = sf_parse_key(&p);
        if (m->key == NULL)
            goto bad;
        d->n++;
        for (i = 0; i + 1 < d->n; i++)
            if (strcmp(d->m[i].key, m->key) == 0)
                goto bad;
        if (*p == '=' && p[1] == '(') {
            m->is_list = 1;
            m->items = xcalloc(HTTPSIG_MAX_COMPONENTS, sizeof(*m->items));
            p += 2;
            for (;;) {
                while (*p == ' ')
                    p++;
                if (*p == ')')
                    break;
                if (m->nitems == HTTPSIG_MAX_COMPONENTS)
                    goto bad;
                m->nitems++;
                if (sf_parse_bare(&p, &m->items[m->nitems - 1].v) != 0 ||
                    sf_parse_params(&p, &m->items[m->nitems - 1].params) != 0)
                    goto bad;
                if (*p != ' ' && *p != ')')
                    goto bad;
            }
            p++;
        } else {
            m->items = xcalloc(1, sizeof(*m->items));
            m->nitems = 1;
            if (*p == '=') {
                p++;
                if (sf_parse_bare(&p, &m->items[0].v) != 0)
                    goto bad;
            } else {
                m->items[0].v.type = SF_BOOLEAN;
                m->items[0].v.n = 1;
            }
        }
        if (sf_parse_params(&p, &m->params) != 0)
            goto bad;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return 0;
        if (*p != ',')
            goto bad;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            goto bad;
    }
bad:
    sf_dict_free(d);
    return -1;
}

static const struct sf_member *
sf_dict_get(const struct sf_dict *d, const char *key)
{
    size_t i;

    for (i = 0; i < d->n; i++)
        if (strcmp(d->m[i].key, key) == 0)
            return &d->m[i];
    return NULL;
}

static const struct sf_bare *
sf_param_get(const struct sf_params *p, const char *key)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (strcmp(p->p[i].key, key) == 0)
            return &p->p[i].v;
    return NULL;
}

static void
sf_serialize_bare(struct sbuf *b, const struct sf_bare *v)
{
    char num[32];
    const char *c;

    switch (v->type) {
    case SF_INTEGER:
        snprintf(num, sizeof(num), "%" PRId64, v->n);
        sbuf_adds(b, num);
        break;
    case SF_STRING:
        sbuf_adds(b, "\"");
        for (c = v->s; *c != '\0'; c++) {
            if (*c == '"' || *c == '\\')
                sbuf_adds(b, "\\");
            sbuf_add(b, c, 1);
        }
        sbuf_adds(b, "\"");
        break;
    case SF_BYTES:
        sbuf_adds(b, ":");
        sbuf_adds(b, v->s);
        sbuf_adds(b, ":");
        break;
    case SF_BOOLEAN:
        sbuf_adds(b, v->n ? "?1" : "?0");
        break;
    case SF_DECIMAL:
    case SF_TOKEN:
        sbuf_adds(b, v->s);
        break;
    }
}

static void
sf_serialize_params(struct sbuf *b, const struct sf_params *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        sbuf_adds(b, ";");
        sbuf_adds(b, p->p[i].key);
        if (p->p[i].v.type == SF_BOOLEAN && p->p[i].v.n == 1)
            continue;
        sbuf_adds(b, "=");
        sf_serialize_bare(b, &p->p[i].v);
    }
}

static void
sf_bare_free(struct sf_bare *v)
{
    free(v->s);
    v->s = NULL;
}

static void
sf_params_free(struct sf_params *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        free(p->p[i].key);
        sf_bare_free(&p->p[i].v);
    }
    p->n = 0;
}

static void
sf_dict_free(struct sf_dict *d)
{
    size_t i, j;

    for (i = 0; i < d->n; i++) {
        struct sf_member *m = &d->m[i];

        free(m->key);
        for (j = 0; j < m->nitems; j++) {
            sf_bare_free(&m->items[j].v);
            sf_params_free(&m->items[j].params);
        }
        free(m->items);
        sf_params_free(&m->params);
    }
    memset(d, 0, sizeof(*d));
}
