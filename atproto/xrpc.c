/* One XRPC call over httpc: auth none, Bearer or DPoP (one retry on a new nonce), its answer read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "dpop.h"
#include "jsonobj.h"
#include "seal.h"
#include "url.h"
#include "xmalloc.h"
#include "xrpc.h"

#define XRPC_MAX_EXTRA 8
/* Deep enough for every com.atproto answer; a record's value nests a few levels. */
#define XRPC_MAX_DEPTH 32

/* One call in flight: its own copy of everything, for the one nonce retry. */
struct xrpc_ctx {
    struct httpc *h;
    char *method, *url, *body, *token, *nonce;
    size_t body_len;
    enum xrpc_auth auth;
    const struct jose_key *dpop;
    char *extra[XRPC_MAX_EXTRA];
    size_t nextra;
    int retried;
    char bad[160]; /* a malformed call's reason, reported from the loop */
    xrpc_done_fn cb;
    void *arg;
};

long long
xrpc_limited_wait_ms(const struct xrpc_result *r, long long now, long long fallback_ms)
{
    long long wait_ms;

    if (r->retry_after >= 0)
        wait_ms = r->retry_after * 1000LL;
    else if (r->ratelimit_reset > now)
        wait_ms = (r->ratelimit_reset - now) * 1000LL;
    else
        wait_ms = fallback_ms;
    return wait_ms < 1000 ? 1000 : wait_ms;
}

long long
xrpc_header_number(const char *value)
{
    char *end;
    long long v;

    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value < '0' || *value > '9')
        return -1;
    errno = 0;
    v = strtoll(value, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno != 0 || *end != '\0')
        return -1;
    return v;
}

int
xrpc_token_refused(const struct xrpc_result *r)
{
    return r->error == HTTPC_OK && (r->status == 400 || r->status == 401) &&
           r->error_name != NULL &&
           (strcmp(r->error_name, "ExpiredToken") == 0 ||
            strcmp(r->error_name, "InvalidToken") == 0);
}

static void
xrpc_ctx_free(struct xrpc_ctx *c)
{
    free(c->method);
    free(c->url);
    free(c->body);
    seal_wipe_free(c->token);
    free(c->nonce);
    for (size_t i = 0; i < c->nextra; i++)
        free(c->extra[i]);
    free(c);
}

static void xrpc_send(struct xrpc_ctx *c);

/* The JSON "error" of a body, borrowed from o. */
static const char *
xrpc_member(struct json_object *o, const char *name)
{
    struct json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, name, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* 1 when the answer asks for a new DPoP nonce (RFC 9449 8 and 9). */
static int
xrpc_wants_nonce(const struct httpc_response *resp, const char *error_name)
{
    const char *www = httpc_response_header(resp, "WWW-Authenticate");

    if (resp->status == 401 && www != NULL && strstr(www, "use_dpop_nonce") != NULL)
        return 1;
    return (resp->status == 400 || resp->status == 401) && error_name != NULL &&
           strcmp(error_name, "use_dpop_nonce") == 0;
}

static void
xrpc_on_response(const struct httpc_response *resp, void *arg)
{
    struct xrpc_ctx *c = arg;
    struct xrpc_result r = { .error = resp->error, .errmsg = resp->errmsg, .status = resp->status };
    const char *fresh = NULL;

    r.resp = resp;
    if (c->bad[0] != '\0')
        r.errmsg = c->bad;
    r.ratelimit_limit = r.ratelimit_remaining = r.retry_after = -1;
    r.ratelimit_reset = -1;
    if (resp->error == HTTPC_OK) {
        r.body = resp->body;
        r.body_len = resp->body_len;
        r.json = jsonobj_parse(resp->body, resp->body_len, XRPC_MAX_BODY, XRPC_MAX_DEPTH);
        r.error_name = xrpc_member(r.json, "error");
        r.message = xrpc_member(r.json, "message");
        fresh = httpc_response_header(resp, "DPoP-Nonce");
        if (c->auth == XRPC_AUTH_DPOP && fresh != NULL && *fresh != '\0' && !c->retried &&
            xrpc_wants_nonce(resp, r.error_name) &&
            (c->nonce == NULL || strcmp(c->nonce, fresh) != 0)) {
            json_object_put(r.json);
            free(c->nonce);
            c->nonce = xstrdup(fresh);
            c->retried = 1;
            xrpc_send(c);
            return;
        }
        r.ratelimit_limit =
            (long)xrpc_header_number(httpc_response_header(resp, "RateLimit-Limit"));
        r.ratelimit_remaining =
            (long)xrpc_header_number(httpc_response_header(resp, "RateLimit-Remaining"));
        r.ratelimit_reset = xrpc_header_number(httpc_response_header(resp, "RateLimit-Reset"));
        r.ratelimit_policy = httpc_response_header(resp, "RateLimit-Policy");
        r.retry_after = (long)xrpc_header_number(httpc_response_header(resp, "Retry-After"));
    }
    if (c->auth == XRPC_AUTH_DPOP)
        r.dpop_nonce = fresh != NULL && *fresh != '\0' ? fresh : c->nonce;
    r.nonce_retried = c->retried;
    c->cb(&r, c->arg);
    json_object_put(r.json);
    xrpc_ctx_free(c);
}

static void
xrpc_send(struct xrpc_ctx *c)
{
    const char *headers[XRPC_MAX_EXTRA + 3];
    char *auth = NULL, *proof = NULL, *dpop_line = NULL;
    struct httpc_req req = { .method = c->method, .url = c->url };
    size_t n = 0;

    if (c->bad[0] != '\0') {
        /* httpc reports a malformed request from the loop: give it one. */
        req.url = "";
        httpc_request(c->h, &req, xrpc_on_response, c);
        return;
    }
    if (c->auth != XRPC_AUTH_NONE)
        auth = xasprintf("Authorization: %s %s", c->auth == XRPC_AUTH_DPOP ? "DPoP" : "Bearer",
                         c->token);
    if (c->auth == XRPC_AUTH_DPOP) {
        char err[120];

        proof = dpop_proof(c->dpop, c->method, c->url, c->nonce, c->token, err, sizeof(err));
        if (proof == NULL) {
            seal_wipe_free(auth);
            snprintf(c->bad, sizeof(c->bad), "DPoP proof: %s", err);
            req.url = "";
            httpc_request(c->h, &req, xrpc_on_response, c);
            return;
        }
        dpop_line = xasprintf("DPoP: %s", proof);
        free(proof);
    }
    if (auth != NULL)
        headers[n++] = auth;
    if (dpop_line != NULL)
        headers[n++] = dpop_line;
    if (c->body != NULL)
        headers[n++] = "Content-Type: application/json";
    for (size_t i = 0; i < c->nextra; i++)
        headers[n++] = c->extra[i];
    req.headers = headers;
    req.nheaders = n;
    if (strcmp(c->method, "POST") == 0) {
        req.body = c->body != NULL ? c->body : "";
        req.body_len = c->body_len;
    }
    httpc_request(c->h, &req, xrpc_on_response, c);
    seal_wipe_free(auth);
    free(dpop_line);
}

/* 1 when nsid looks like an NSID: letters, digits, "." and "-", at least three segments. */
static int
xrpc_nsid_ok(const char *nsid)
{
    int dots = 0;

    if (nsid == NULL || *nsid == '\0' || strlen(nsid) > 317)
        return 0;
    for (const char *p = nsid; *p != '\0'; p++) {
        if (*p == '.')
            dots++;
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    }
    return dots >= 2;
}

void
xrpc_call(struct httpc *h, const struct xrpc_call *call, xrpc_done_fn cb, void *arg)
{
    struct xrpc_ctx *c = xcalloc(1, sizeof(*c));
    struct url u;
    char err[120];

    c->h = h;
    c->cb = cb;
    c->arg = arg;
    c->auth = call->auth;
    c->dpop = call->dpop;
    c->method = xstrdup(call->method != NULL ? call->method : "");
    if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "POST") != 0)
        snprintf(c->bad, sizeof(c->bad), "method is not GET or POST");
    else if (call->service == NULL || url_split(call->service, &u, err, sizeof(err)) < 0 ||
             u.path_len > 1 || u.query != NULL || u.fragment != NULL)
        snprintf(c->bad, sizeof(c->bad), "service is not an origin");
    else if (!xrpc_nsid_ok(call->nsid))
        snprintf(c->bad, sizeof(c->bad), "not an NSID");
    else if (call->auth != XRPC_AUTH_NONE && (call->token == NULL || *call->token == '\0'))
        snprintf(c->bad, sizeof(c->bad), "no token");
    else if (call->auth == XRPC_AUTH_DPOP && call->dpop == NULL)
        snprintf(c->bad, sizeof(c->bad), "no DPoP key");
    else if (call->nheaders > XRPC_MAX_EXTRA)
        snprintf(c->bad, sizeof(c->bad), "too many headers");
    if (c->bad[0] == '\0') {
        size_t slen = strlen(call->service);

        if (slen > 0 && call->service[slen - 1] == '/')
            slen--;
        c->url = xasprintf("%.*s/xrpc/%s%s%s", (int)slen, call->service, call->nsid,
                           call->query != NULL && *call->query != '\0' ? "?" : "",
                           call->query != NULL ? call->query : "");
        if (call->body != NULL) {
            c->body = xstrdup(call->body);
            c->body_len = strlen(call->body);
        }
        c->token = call->token != NULL ? xstrdup(call->token) : NULL;
        c->nonce = call->dpop_nonce != NULL && *call->dpop_nonce != '\0' ? xstrdup(call->dpop_nonce)
                                                                         : NULL;
        for (size_t i = 0; i < call->nheaders; i++)
            c->extra[c->nextra++] = xstrdup(call->headers[i]);
    }
    xrpc_send(c);
}
