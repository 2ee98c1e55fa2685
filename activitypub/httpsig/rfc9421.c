/* RFC 9421 HTTP Message Signatures: Signature-Input/Signature parsing, checks, signature base. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpsig.h"
#include "httpsig_internal.h"
#include "xmalloc.h"

static enum httpsig_result rfc9421_check(const struct httpsig *sig,
                                         const struct httpsig_request *req, time_t now, char *err,
                                         size_t errlen);
static enum httpsig_result rfc9421_base(const struct httpsig *sig,
                                        const struct httpsig_request *req, int with_query,
                                        struct httpsig_buf *b, char *err, size_t errlen);

/* What httpsig_check and httpsig_signing_string run for an RFC 9421 signature. */
static const struct httpsig_ops rfc9421_ops = { rfc9421_check, rfc9421_base };

/* The first label of Signature-Input that Signature also has: its components, its bytes. */
static enum httpsig_result
rfc9421_pick(const struct sfv_dict *in, const struct sfv_dict *sg, const struct sfv_member **m,
             const struct sfv_member **s, char *err, size_t errlen)
{
    const enum httpsig_result r = HTTPSIG_BAD_HEADER;
    size_t i;

    *m = *s = NULL;
    for (i = 0; i < in->n && *m == NULL; i++) {
        *s = sfv_dict_get(sg, in->m[i].key);
        if (*s != NULL)
            *m = &in->m[i];
    }
    if (*m == NULL)
        return HTTPSIG_FAIL(r, err, errlen, "no label in both Signature-Input and Signature");
    if (!(*m)->is_list || (*m)->nitems == 0)
        return HTTPSIG_FAIL(r, err, errlen, "signature %s does not list components", (*m)->key);
    if ((*s)->is_list || (*s)->items[0].v.type != SFV_BYTES)
        return HTTPSIG_FAIL(r, err, errlen, "signature %s is not a byte sequence", (*s)->key);
    return HTTPSIG_OK;
}

/* keyid, created, expires and alg, from the label's parameters. */
static enum httpsig_result
rfc9421_params(const struct sfv_member *m, struct httpsig *out, char *err, size_t errlen)
{
    const struct sfv_bare *keyid = sfv_param_get(&m->params, "keyid");
    const struct sfv_bare *created = sfv_param_get(&m->params, "created");
    const struct sfv_bare *expires = sfv_param_get(&m->params, "expires");
    const struct sfv_bare *alg = sfv_param_get(&m->params, "alg");
    const enum httpsig_result r = HTTPSIG_BAD_HEADER;

    if (keyid == NULL || keyid->type != SFV_STRING || keyid->s[0] == '\0')
        return HTTPSIG_FAIL(r, err, errlen, "no keyid string");
    if (created == NULL || created->type != SFV_INTEGER)
        return HTTPSIG_FAIL(r, err, errlen, "no created integer");
    if (expires != NULL && expires->type != SFV_INTEGER)
        return HTTPSIG_FAIL(r, err, errlen, "expires is not an integer");
    if (alg == NULL)
        out->alg = HTTPSIG_ALG_NONE;
    else if (alg->type == SFV_STRING && strcmp(alg->s, "rsa-v1_5-sha256") == 0)
        out->alg = HTTPSIG_ALG_RSA_V1_5_SHA256;
    else
        return HTTPSIG_FAIL(HTTPSIG_UNSUPPORTED_ALGORITHM, err, errlen, "unsupported alg %.64s",
                            alg->type == SFV_STRING ? alg->s : "(not a string)");
    out->key_id = xstrdup(keyid->s);
    out->label = xstrdup(m->key);
    out->created = created->n;
    out->has_created = 1;
    if (expires != NULL) {
        out->expires = expires->n;
        out->has_expires = 1;
    }
    return HTTPSIG_OK;
}

/* A component identifier this parser takes: a non-empty lowercase string without parameters. */
static enum httpsig_result
rfc9421_component_ok(const struct sfv_item *it, size_t i, char *err, size_t errlen)
{
    const enum httpsig_result r = HTTPSIG_BAD_HEADER;

    if (it->v.type != SFV_STRING || it->v.s[0] == '\0')
        return HTTPSIG_FAIL(r, err, errlen, "component %zu is not a string", i);
    if (it->params.n != 0)
        return HTTPSIG_FAIL(r, err, errlen, "component %.64s has parameters (unsupported)",
                            it->v.s);
    /* RFC 9421 2.1: a field's component name is its name lowercased; the base repeats it. */
    for (const char *c = it->v.s; *c != '\0'; c++)
        if (isupper((unsigned char)*c))
            return HTTPSIG_FAIL(r, err, errlen, "component %.64s is not lowercase", it->v.s);
    return HTTPSIG_OK;
}

/* The component names, and the @signature-params value the signature base ends with. */
static enum httpsig_result
rfc9421_components(const struct sfv_member *m, struct httpsig *out, char *err, size_t errlen)
{
    struct httpsig_buf params = { 0 };
    enum httpsig_result r;
    size_t i;

    out->components = xcalloc(m->nitems, sizeof(char *));
    httpsig_buf_adds(&params, "(");
    for (i = 0; i < m->nitems; i++) {
        const struct sfv_item *it = &m->items[i];

        r = rfc9421_component_ok(it, i, err, errlen);
        if (r != HTTPSIG_OK) {
            free(params.p);
            return r;
        }
        out->components[i] = xstrdup(it->v.s);
        out->ncomponents++;
        if (i > 0)
            httpsig_buf_adds(&params, " ");
        sfv_serialize_bare(&params, &it->v);
    }
    httpsig_buf_adds(&params, ")");
    sfv_serialize_params(&params, &m->params);
    out->params = httpsig_buf_finish(&params);
    return HTTPSIG_OK;
}

enum httpsig_result
rfc9421_parse(const char *signature_input, const char *signature, struct httpsig *out, char *err,
              size_t errlen)
{
    struct sfv_dict in = { 0 }, sg = { 0 };
    const struct sfv_member *m = NULL, *s = NULL;
    enum httpsig_result r = HTTPSIG_BAD_HEADER;

    memset(out, 0, sizeof(*out));
    out->scheme = HTTPSIG_RFC9421;
    out->ops = &rfc9421_ops;
    if (signature_input == NULL || signature == NULL)
        return HTTPSIG_FAIL(HTTPSIG_NO_SIGNATURE, err, errlen,
                            "Signature-Input or Signature missing");
    if (strnlen(signature_input, HTTPSIG_MAX_HEADER + 1) > HTTPSIG_MAX_HEADER ||
        strnlen(signature, HTTPSIG_MAX_HEADER + 1) > HTTPSIG_MAX_HEADER)
        return HTTPSIG_FAIL(r, err, errlen, "signature header over %d bytes", HTTPSIG_MAX_HEADER);
    if (sfv_parse_dict(signature_input, &in) != 0)
        err_set(err, errlen, "Signature-Input is not a structured-field dictionary");
    else if (sfv_parse_dict(signature, &sg) != 0)
        err_set(err, errlen, "Signature is not a structured-field dictionary");
    else
        r = rfc9421_pick(&in, &sg, &m, &s, err, errlen);
    if (r == HTTPSIG_OK)
        r = rfc9421_params(m, out, err, errlen);
    if (r == HTTPSIG_OK)
        r = rfc9421_components(m, out, err, errlen);
    if (r == HTTPSIG_OK)
        r = httpsig_decode_signature(s->items[0].v.s, out, err, errlen);
    sfv_dict_free(&in);
    sfv_dict_free(&sg);
    if (r != HTTPSIG_OK)
        httpsig_free(out);
    return r;
}

/* The RFC 9421 strength rules, the Content-Digest, and the window, for httpsig_check(). */
static enum httpsig_result
rfc9421_check(const struct httpsig *sig, const struct httpsig_request *req, time_t now, char *err,
              size_t errlen)
{
    enum httpsig_result r;

    if (!httpsig_has_component(sig, "@method") || !httpsig_has_component(sig, "@target-uri"))
        return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen,
                            "@method and @target-uri must be signed");
    if (!sig->has_created)
        return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen, "no created parameter");
    if ((strcasecmp(req->method, "POST") == 0 || req->body_len > 0) &&
        !httpsig_has_component(sig, "content-digest"))
        return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen, "content-digest is not signed");
    if (httpsig_has_component(sig, "content-digest")) {
        r = httpsig_check_content_digest(req->header(req->ctx, "content-digest"), req->body,
                                         req->body_len, err, errlen);
        if (r != HTTPSIG_OK)
            return r;
    }
    return httpsig_check_window(sig->created, sig->has_expires, sig->expires, now, err, errlen);
}

/* Appends the signature base (RFC 9421 2.5) to b; the query is always in @target-uri. */
static enum httpsig_result
rfc9421_base(const struct httpsig *sig, const struct httpsig_request *req, int with_query,
             struct httpsig_buf *b, char *err, size_t errlen)
{
    const char *scheme = req->scheme != NULL ? req->scheme : "https";
    const char *authority = req->authority != NULL ? req->authority : req->header(req->ctx, "host");
    const char *q = strchr(req->target, '?'), *v;
    size_t i, n;

    (void)with_query;

    for (i = 0; i < sig->ncomponents; i++) {
        const char *name = sig->components[i];

        httpsig_buf_adds(b, "\"");
        httpsig_buf_adds(b, name);
        httpsig_buf_adds(b, "\": ");
        if (strcmp(name, "@method") == 0) {
            httpsig_buf_adds(b, req->method);
        } else if (strcmp(name, "@target-uri") == 0 || strcmp(name, "@authority") == 0) {
            if (authority == NULL)
                return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen, "no authority for %s",
                                    name);
            if (name[1] == 't') {
                httpsig_buf_adds(b, scheme);
                httpsig_buf_adds(b, "://");
            }
            for (v = authority; *v != '\0'; v++) {
                char c = (char)tolower((unsigned char)*v);
                httpsig_buf_add(b, &c, 1);
            }
            if (name[1] == 't')
                httpsig_buf_adds(b, req->target);
        } else if (strcmp(name, "@scheme") == 0) {
            httpsig_buf_adds(b, scheme);
        } else if (strcmp(name, "@request-target") == 0) {
            httpsig_buf_adds(b, req->target);
        } else if (strcmp(name, "@path") == 0) {
            n = strcspn(req->target, "?");
            if (n == 0)
                httpsig_buf_adds(b, "/");
            httpsig_buf_add(b, req->target, n);
        } else if (strcmp(name, "@query") == 0) {
            httpsig_buf_adds(b, q != NULL ? q : "?");
        } else if (name[0] == '@') {
            return HTTPSIG_FAIL(HTTPSIG_BAD_HEADER, err, errlen, "unsupported component %.64s",
                                name);
        } else {
            if (httpsig_add_header(b, req, name) != 0)
                return HTTPSIG_FAIL(HTTPSIG_MISSING_HEADER, err, errlen,
                                    "signed header %.64s is absent", name);
        }
        httpsig_buf_adds(b, "\n");
    }
    httpsig_buf_adds(b, "\"@signature-params\": ");
    httpsig_buf_adds(b, sig->params != NULL ? sig->params : "");
    return HTTPSIG_OK;
}
