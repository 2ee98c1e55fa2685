/* Signs one outbound hop: Host, Date, Digest and a cavage Signature, shared by fetches and
 * deliveries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apsign.h"
#include "err.h"
#include "httpc.h"
#include "httpsig.h"
#include "url.h"
#include "xmalloc.h"

struct apsign_values {
    const char *host, *date, *digest, *typed; /* typed: Accept or Content-Type */
};

static const char *
apsign_header(void *ctx, const char *name)
{
    const struct apsign_values *v = ctx;

    if (strcmp(name, "host") == 0)
        return v->host;
    if (strcmp(name, "date") == 0)
        return v->date;
    if (strcmp(name, "digest") == 0)
        return v->digest;
    if (strcmp(name, "accept") == 0 || strcmp(name, "content-type") == 0)
        return v->typed;
    return NULL;
}

int
apsign_lines(EVP_PKEY *key, const char *key_id, const char *method, const char *url,
             const char *body, size_t body_len, const char *accept_or_ctype,
             struct apsign_lines *out, char *err, size_t errlen)
{
    int post = strcmp(method, "POST") == 0;
    char host[URL_AUTHORITY_MAX], date[32], digest[64];
    struct apsign_values v = { host, date, post ? digest : NULL, accept_or_ctype };
    struct httpsig_request req;
    char *target, *sig;

    memset(out, 0, sizeof(*out));
    /* The signed host is the authority the request goes to, as url_authority names it. */
    if (url_authority(url, host, sizeof(host)) < 0 || (target = url_target(url)) == NULL)
        return err_set(err, errlen, "not an absolute http(s) URL");
    if (httpsig_date(time(NULL), date, sizeof(date)) < 0 ||
        (post &&
         httpsig_digest((const unsigned char *)body, body_len, digest, sizeof(digest)) < 0)) {
        free(target);
        snprintf(err, errlen, "cannot format Date or Digest");
        return -1;
    }
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.target = target;
    req.header = apsign_header;
    req.ctx = &v;
    req.body = (const unsigned char *)body;
    req.body_len = body_len;
    sig = cavage_sign(key, key_id, &req,
                      post ? "(request-target) host date digest content-type"
                           : "(request-target) host date accept",
                      err, errlen);
    free(target);
    if (sig == NULL)
        return -1;
    out->line[out->n++] = xasprintf("Host: %s", host);
    out->line[out->n++] = xasprintf("Date: %s", date);
    if (post)
        out->line[out->n++] = xasprintf("Digest: %s", digest);
    out->line[out->n++] = xasprintf("Signature: %s", sig);
    free(sig);
    return 0;
}

int
apsign_lines_add(const struct apsign_lines *lines, struct httpc_hop_headers *out, char *err,
                 size_t errlen)
{
    for (int i = 0; i < lines->n; i++)
        if (httpc_hop_add_header(out, lines->line[i]) < 0) {
            snprintf(err, errlen, "cannot add the signed headers");
            return -1;
        }
    return 0;
}

void
apsign_lines_free(struct apsign_lines *lines)
{
    for (int i = 0; i < lines->n; i++)
        free(lines->line[i]);
    lines->n = 0;
}

int
apsign_hop(EVP_PKEY *key, const char *key_id, const char *method, const char *url, const char *body,
           size_t body_len, const char *accept_or_ctype, struct httpc_hop_headers *out, char *err,
           size_t errlen)
{
    struct apsign_lines lines;
    int rc;

    if (apsign_lines(key, key_id, method, url, body, body_len, accept_or_ctype, &lines, err,
                     errlen) < 0)
        return -1;
    rc = apsign_lines_add(&lines, out, err, errlen);
    apsign_lines_free(&lines);
    return rc;
}
