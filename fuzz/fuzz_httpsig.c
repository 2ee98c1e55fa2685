/* libFuzzer target: HTTP signature headers (cavage and RFC 9421), digests, dates and keyIds. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_common.h"
#include "httpsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The headers of the request the parsed signature is checked against. */
struct fuzz_headers {
    const char *signature, *signature_input, *value;
};

static const char *
fuzz_header(void *ctx, const char *name)
{
    const struct fuzz_headers *h = ctx;

    if (strcmp(name, "signature") == 0)
        return h->signature;
    if (strcmp(name, "signature-input") == 0)
        return *h->signature_input ? h->signature_input : NULL;
    if (strcmp(name, "host") == 0)
        return "bridge.example";
    if (strcmp(name, "content-type") == 0)
        return "application/activity+json";
    /* date, digest, content-digest and anything else the input names: the fuzzed value. */
    return h->value;
}

/* What a parsed signature must look like, and what the later steps must survive. */
static void
fuzz_parsed(struct httpsig *sig, const struct httpsig_request *req)
{
    char err[256], *out = NULL;

    fuzz_check(sig->key_id != NULL && sig->key_id[0] != '\0');
    /* Cavage has a default list; RFC 9421 may sign no component, which check() then refuses. */
    fuzz_check(sig->scheme == HTTPSIG_RFC9421 || sig->ncomponents >= 1);
    fuzz_check(sig->ncomponents == 0 || sig->components != NULL);
    for (size_t i = 0; i < sig->ncomponents; i++) {
        fuzz_check(sig->components[i] != NULL && sig->components[i][0] != '\0');
        for (const char *c = sig->components[i]; *c; c++)
            fuzz_check(!isupper((unsigned char)*c));
    }
    fuzz_check(sig->sig != NULL && sig->sig_len > 0);
    fuzz_check(sig->scheme != HTTPSIG_RFC9421 || (sig->label != NULL && sig->params != NULL));
    err[0] = '\0';
    if (httpsig_check(sig, req, (time_t)1700000000, err, sizeof(err)) != HTTPSIG_OK)
        fuzz_check(err[0] != '\0');
    else
        fuzz_check(sig->ncomponents >= 1);
    for (int q = 0; q < 2; q++) {
        if (httpsig_signing_string(sig, req, q, &out, err, sizeof(err)) == HTTPSIG_OK) {
            fuzz_check(out != NULL);
            free(out);
            out = NULL;
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[4], err[256], buf[64], *cand;
    size_t bodylen;
    char *copy = fuzz_fields(data, size, f, 4, &bodylen);
    struct fuzz_headers h = { f[0], f[1], f[2] };
    struct httpsig_request req = {
        "POST", "/inbox?page=1", fuzz_header, &h, (const unsigned char *)f[3], bodylen, NULL, NULL
    };
    struct httpsig sig;
    time_t t;

    /* f[0]: a cavage Signature; f[1], f[0]: RFC 9421 Signature-Input and Signature. */
    err[0] = '\0';
    if (cavage_parse(f[0], &sig, err, sizeof(err)) == HTTPSIG_OK) {
        fuzz_check(sig.scheme == HTTPSIG_CAVAGE);
        fuzz_parsed(&sig, &req);
    } else {
        fuzz_check(err[0] != '\0' && sig.key_id == NULL && sig.components == NULL);
    }
    httpsig_free(&sig);
    err[0] = '\0';
    if (rfc9421_parse(f[1], f[0], &sig, err, sizeof(err)) == HTTPSIG_OK) {
        fuzz_check(sig.scheme == HTTPSIG_RFC9421);
        fuzz_parsed(&sig, &req);
    } else {
        fuzz_check(err[0] != '\0' && sig.key_id == NULL && sig.components == NULL);
    }
    httpsig_free(&sig);
    if (httpsig_parse_request(&req, &sig, err, sizeof(err)) == HTTPSIG_OK)
        fuzz_parsed(&sig, &req);
    httpsig_free(&sig);

    /* f[2]: a Digest, a Content-Digest, a date and a keyId, against the body f[3]. */
    httpsig_check_digest(f[2], req.body, bodylen, err, sizeof(err));
    httpsig_check_content_digest(f[2], req.body, bodylen, err, sizeof(err));
    if (httpsig_parse_date(f[2], &t) == 0 && httpsig_date(t, buf, sizeof(buf)) == 0) {
        time_t again;

        fuzz_check(httpsig_parse_date(buf, &again) == 0 && again == t);
    }
    if ((cand = httpsig_keyid_actor_candidate(f[2])) != NULL) {
        fuzz_check(strncmp(cand, "https://", 8) == 0 || strncmp(cand, "http://", 7) == 0);
        fuzz_check(strchr(cand, '#') == NULL);
        free(cand);
    }
    /* The body's own digests always match it. */
    if (httpsig_digest(req.body, bodylen, buf, sizeof(buf)) == 0)
        fuzz_check(httpsig_check_digest(buf, req.body, bodylen, err, sizeof(err)) == HTTPSIG_OK);
    if (httpsig_content_digest(req.body, bodylen, buf, sizeof(buf)) == 0)
        fuzz_check(httpsig_check_content_digest(buf, req.body, bodylen, err, sizeof(err)) ==
                   HTTPSIG_OK);
    free(copy);
    return 0;
}
