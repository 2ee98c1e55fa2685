/* draft-cavage-12 HTTP signatures: the Signature header's parser, checks, signing string, signer.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpsig.h"
#include "httpsig_internal.h"
#include "xmalloc.h"

#define CAVAGE_MAX_PARAMS 16
#define CAVAGE_MAX_NAME   32 /* longest parameter name kept, with its NUL */

/* The parameters of one Signature header as read (NULL when absent), and the names seen. */
struct cavage_fields {
    char *headers, *algorithm, *signature, *created, *expires;
    char seen[CAVAGE_MAX_PARAMS][CAVAGE_MAX_NAME];
    size_t nseen;
};

static enum httpsig_result cavage_check(const struct httpsig *sig,
                                        const struct httpsig_request *req, time_t now, char *err,
                                        size_t errlen);
static enum httpsig_result cavage_string(const struct httpsig *sig,
                                         const struct httpsig_request *req, int with_query,
                                         struct httpsig_buf *b, char *err, size_t errlen);

/* What httpsig_check and httpsig_signing_string run for a cavage signature. */
static const struct httpsig_ops cavage_ops = { cavage_check, cavage_string };

static const char *
cavage_skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads the parameter name at *pp: well formed, not seen before, not one too many. */
static int
cavage_name(const char **pp, const char *value, struct cavage_fields *f, size_t *nlen, char *err,
            size_t errlen)
{
    const char *name = *pp, *p = *pp;
    size_t i, n;

    while (isalnum((unsigned char)*p) || *p == '-' || *p == '_')
        p++;
    n = (size_t)(p - name);
    if (n == 0 || n >= sizeof(f->seen[0]))
        return err_set(err, errlen, "bad parameter name at offset %zu", (size_t)(name - value));
    for (i = 0; i < f->nseen; i++)
        if (strlen(f->seen[i]) == n && memcmp(f->seen[i], name, n) == 0)
            return err_set(err, errlen, "duplicate parameter %.*s", (int)n, name);
    if (f->nseen == CAVAGE_MAX_PARAMS)
        return err_set(err, errlen, "more than %d parameters", CAVAGE_MAX_PARAMS);
    memcpy(f->seen[f->nseen], name, n);
    f->seen[f->nseen++][n] = '\0';
    *pp = p;
    *nlen = n;
    return 0;
}

/* Reads the value at *pp into a new string: quoted with backslash escapes, or bare. */
static char *
cavage_value(const char **pp, const char *name, size_t nlen, char *err, size_t errlen)
{
    struct httpsig_buf val = { 0 };
    const char *p = *pp, *v;

    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\0') {
                free(val.p);
                err_set(err, errlen, "unterminated quoted value for %.*s", (int)nlen, name);
                return NULL;
            }
            if (*p == '\\' && p[1] != '\0')
                p++;
            httpsig_buf_add(&val, p, 1);
        }
        p++;
    } else {
        /* draft-12 writes created and expires as bare integers. */
        v = p;
        while (*p != '\0' && *p != ',' && *p != ' ' && *p != '\t' && *p != '"')
            p++;
        httpsig_buf_add(&val, v, (size_t)(p - v));
    }
    *pp = p;
    return httpsig_buf_finish(&val);
}

/* Where the value of a parameter goes; NULL for one this parser ignores. */
static char **
cavage_slot(struct cavage_fields *f, struct httpsig *out, const char *name, size_t nlen)
{
    if (nlen == 5 && memcmp(name, "keyId", 5) == 0)
        return &out->key_id;
    if (nlen == 9 && memcmp(name, "algorithm", 9) == 0)
        return &f->algorithm;
    if (nlen == 7 && memcmp(name, "headers", 7) == 0)
        return &f->headers;
    if (nlen == 9 && memcmp(name, "signature", 9) == 0)
        return &f->signature;
    if (nlen == 7 && memcmp(name, "created", 7) == 0)
        return &f->created;
    if (nlen == 7 && memcmp(name, "expires", 7) == 0)
        return &f->expires;
    return NULL;
}

/* One name=value pair at *pp, and the comma after it. */
static int
cavage_param(const char **pp, const char *value, struct cavage_fields *f, struct httpsig *out,
             char *err, size_t errlen)
{
    const char *p = *pp, *name = *pp;
    size_t nlen = 0;
    char *val, **slot;

    if (cavage_name(&p, value, f, &nlen, err, errlen) != 0)
        return -1;
    p = cavage_skip_ws(p);
    if (*p != '=')
        return err_set(err, errlen, "parameter %.*s has no value", (int)nlen, name);
    p = cavage_skip_ws(p + 1);
    val = cavage_value(&p, name, nlen, err, errlen);
    if (val == NULL)
        return -1;
    slot = cavage_slot(f, out, name, nlen);
    if (slot != NULL)
        *slot = val;
    else
        free(val);
    p = cavage_skip_ws(p);
    if (*p == ',')
        p++;
    else if (*p != '\0')
        return err_set(err, errlen, "junk after parameter %.*s", (int)nlen, name);
    *pp = p;
    return 0;
}

/* Fills out->components from a space-separated list, lowercased; -1 if empty or too many. */
static int
cavage_split_headers(const char *list, struct httpsig *out)
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

/* GET or HEAD, in any case. */
static int
cavage_is_get(const char *method)
{
    return strcasecmp(method, "GET") == 0 || strcasecmp(method, "HEAD") == 0;
}

/* From the parameters read to *out: the required ones, the algorithm, the times, the list. */
static enum httpsig_result
cavage_fill(struct cavage_fields *f, struct httpsig *out, char *err, size_t errlen)
{
    const enum httpsig_result r = HTTPSIG_BAD_HEADER;

    if (out->key_id == NULL || out->key_id[0] == '\0')
        return HTTPSIG_FAIL(r, err, errlen, "no keyId");
    if (f->signature == NULL || f->signature[0] == '\0')
        return HTTPSIG_FAIL(r, err, errlen, "no signature");
    if (f->algorithm == NULL || strcasecmp(f->algorithm, "hs2019") == 0)
        out->alg = HTTPSIG_ALG_HS2019;
    else if (strcasecmp(f->algorithm, "rsa-sha256") == 0)
        out->alg = HTTPSIG_ALG_RSA_SHA256;
    else
        return HTTPSIG_FAIL(HTTPSIG_UNSUPPORTED_ALGORITHM, err, errlen,
                            "unsupported algorithm %.64s", f->algorithm);
    if (f->created != NULL && sfv_parse_int64(f->created, strlen(f->created), &out->created) != 0)
        return HTTPSIG_FAIL(r, err, errlen, "created is not a number");
    out->has_created = f->created != NULL;
    if (f->expires != NULL && sfv_parse_int64(f->expires, strlen(f->expires), &out->expires) != 0)
        return HTTPSIG_FAIL(r, err, errlen, "expires is not a number");
    out->has_expires = f->expires != NULL;
    if (f->headers == NULL)
        f->headers = xstrdup(out->alg == HTTPSIG_ALG_HS2019 ? "(created)" : "date");
    if (cavage_split_headers(f->headers, out) != 0)
        return HTTPSIG_FAIL(r, err, errlen, "headers is empty or lists over %d names",
                            HTTPSIG_MAX_COMPONENTS);
    return httpsig_decode_signature(f->signature, out, err, errlen);
}

enum httpsig_result
cavage_parse(const char *value, struct httpsig *out, char *err, size_t errlen)
{
    struct cavage_fields f = { 0 };
    enum httpsig_result r = HTTPSIG_BAD_HEADER;
    const char *p;

    memset(out, 0, sizeof(*out));
    out->scheme = HTTPSIG_CAVAGE;
    out->ops = &cavage_ops;
    if (value == NULL)
        return HTTPSIG_FAIL(HTTPSIG_NO_SIGNATURE, err, errlen, "no Signature header");
    if (strnlen(value, HTTPSIG_MAX_HEADER + 1) > HTTPSIG_MAX_HEADER)
        return HTTPSIG_FAIL(HTTPSIG_BAD_HEADER, err, errlen, "Signature header over %d bytes",
                            HTTPSIG_MAX_HEADER);
    p = cavage_skip_ws(value);
    /* Some servers send the Authorization-style "Signature " scheme prefix. */
    if (strncasecmp(p, "Signature ", 10) == 0)
        p += 10;
    for (;;) {
        p = cavage_skip_ws(p);
        if (*p == '\0')
            break;
        if (cavage_param(&p, value, &f, out, err, errlen) != 0)
            goto out;
    }
    r = cavage_fill(&f, out, err, errlen);
out:
    free(f.headers);
    free(f.algorithm);
    free(f.signature);
    free(f.created);
    free(f.expires);
    if (r != HTTPSIG_OK)
        httpsig_free(out);
    return r;
}

/* The cavage strength rules, the Digest, and the date window, for httpsig_check(). */
static enum httpsig_result
cavage_check(const struct httpsig *sig, const struct httpsig_request *req, time_t now, char *err,
             size_t errlen)
{
    enum httpsig_result r;
    time_t date;
    const char *v;
    int use_created, use_expires;

    if ((httpsig_has_component(sig, "(created)") || httpsig_has_component(sig, "(expires)")) &&
        sig->alg != HTTPSIG_ALG_HS2019)
        return HTTPSIG_FAIL(HTTPSIG_BAD_HEADER, err, errlen, "(created)/(expires) need hs2019");
    if (!httpsig_has_component(sig, "date") && !httpsig_has_component(sig, "(created)"))
        return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen,
                            "neither date nor (created) is signed");
    if (!httpsig_has_component(sig, "(request-target)") && !httpsig_has_component(sig, "digest"))
        return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen,
                            "neither (request-target) nor digest is signed");
    if (cavage_is_get(req->method) && !httpsig_has_component(sig, "host"))
        return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen, "host is not signed on a GET");
    if ((strcasecmp(req->method, "POST") == 0 || req->body_len > 0) &&
        !httpsig_has_component(sig, "digest"))
        return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen, "digest is not signed on a POST");
    if (httpsig_has_component(sig, "digest")) {
        r = httpsig_check_digest(req->header(req->ctx, "digest"), req->body, req->body_len, err,
                                 errlen);
        if (r != HTTPSIG_OK)
            return r;
    }
    /*
     * created and expires count only when signed: the parameters themselves are not, so a
     * replayed signature could otherwise carry a fresh created past its stale signed Date.
     * A signed Date is checked whatever else is signed.
     */
    use_created = sig->alg == HTTPSIG_ALG_HS2019 && sig->has_created &&
                  httpsig_has_component(sig, "(created)");
    use_expires = sig->alg == HTTPSIG_ALG_HS2019 && sig->has_expires &&
                  httpsig_has_component(sig, "(expires)");
    if (!use_created || httpsig_has_component(sig, "date")) {
        v = req->header(req->ctx, "date");
        if (v == NULL)
            return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen, "no Date header");
        if (httpsig_parse_date(v, &date) != 0)
            return HTTPSIG_FAIL(HTTPSIG_BAD_HEADER, err, errlen, "Date is not an IMF-fixdate");
        r = httpsig_check_window((int64_t)date, use_expires, sig->expires, now, err, errlen);
        if (r != HTTPSIG_OK)
            return r;
    }
    if (use_created)
        return httpsig_check_window(sig->created, use_expires, sig->expires, now, err, errlen);
    return HTTPSIG_OK;
}

/* Appends the signing string to b; with_query keeps "?query" in (request-target). */
static enum httpsig_result
cavage_string(const struct httpsig *sig, const struct httpsig_request *req, int with_query,
              struct httpsig_buf *b, char *err, size_t errlen)
{
    char num[32];
    size_t i, n;
    const char *v;

    for (i = 0; i < sig->ncomponents; i++) {
        const char *name = sig->components[i];

        if (i > 0)
            httpsig_buf_adds(b, "\n");
        httpsig_buf_adds(b, name);
        httpsig_buf_adds(b, ": ");
        if (strcmp(name, "(request-target)") == 0) {
            for (v = req->method; *v != '\0'; v++) {
                char c = (char)tolower((unsigned char)*v);
                httpsig_buf_add(b, &c, 1);
            }
            httpsig_buf_adds(b, " ");
            n = with_query ? strlen(req->target) : strcspn(req->target, "?");
            httpsig_buf_add(b, req->target, n);
        } else if (strcmp(name, "(created)") == 0 || strcmp(name, "(expires)") == 0) {
            int created = name[1] == 'c';

            if (created ? !sig->has_created : !sig->has_expires)
                return HTTPSIG_FAIL(HTTPSIG_BAD_HEADER, err, errlen, "%s signed but not given",
                                    name);
            snprintf(num, sizeof(num), "%" PRId64, created ? sig->created : sig->expires);
            httpsig_buf_adds(b, num);
        } else {
            if (httpsig_add_header(b, req, name) != 0)
                return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen,
                                    "signed header %.64s is absent", name);
        }
    }
    return HTTPSIG_OK;
}

char *
cavage_sign(EVP_PKEY *key, const char *key_id, const struct httpsig_request *req,
            const char *headers, char *err, size_t errlen)
{
    struct httpsig sig = { 0 };
    EVP_MD_CTX *ctx = NULL;
    unsigned char raw[HTTPSIG_MAX_SIG_LEN];
    char b64[HTTPSIG_MAX_SIG_LEN * 4 / 3 + 8], *msg = NULL, *out = NULL, *list;
    size_t rawlen = sizeof(raw), i;

    if (key == NULL || !EVP_PKEY_is_a(key, "RSA") || (size_t)EVP_PKEY_get_size(key) > sizeof(raw)) {
        err_set(err, errlen, "signing key is not RSA (or too large)");
        return NULL;
    }
    if (key_id == NULL || key_id[0] == '\0' || strpbrk(key_id, "\"\\\r\n") != NULL) {
        err_set(err, errlen, "keyId is empty or cannot be quoted");
        return NULL;
    }
    if (headers == NULL)
        headers = cavage_is_get(req->method) ? "(request-target) host date accept"
                                             : "(request-target) host date digest content-type";
    sig.scheme = HTTPSIG_CAVAGE;
    sig.ops = &cavage_ops;
    sig.alg = HTTPSIG_ALG_RSA_SHA256;
    if (cavage_split_headers(headers, &sig) != 0) {
        err_set(err, errlen, "bad headers list");
        goto out;
    }
    if (httpsig_signing_string(&sig, req, 1, &msg, err, errlen) != HTTPSIG_OK)
        goto out;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, raw, &rawlen, (const unsigned char *)msg, strlen(msg)) != 1) {
        err_set(err, errlen, "RSA signing failed");
        goto out;
    }
    httpsig_b64_encode(raw, rawlen, b64, sizeof(b64));
    /* Rebuild the list from the parsed names so the header says exactly what was signed. */
    {
        struct httpsig_buf lb = { 0 };

        for (i = 0; i < sig.ncomponents; i++) {
            if (i > 0)
                httpsig_buf_adds(&lb, " ");
            httpsig_buf_adds(&lb, sig.components[i]);
        }
        list = httpsig_buf_finish(&lb);
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
