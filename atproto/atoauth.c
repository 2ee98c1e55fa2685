/* The atproto OAuth protocol, client side: discovery, PAR, tokens, revocation, DPoP requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "app.h"
#include "atclient.h"
#include "atoauth.h"
#include "dpop.h"
#include "form.h"
#include "jose.h"
#include "jsonobj.h"
#include "log.h"
#include "seal.h"
#include "url.h"
#include "xmalloc.h"

#define ATOAUTH_MAX_DEPTH      16
#define ATOAUTH_MAX_BODY       (256 * 1024) /* metadata and token answers are a few KiB */
#define ATOAUTH_MAX_URL        2048
#define ATOAUTH_MAX_TOKEN      8192
#define ATOAUTH_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct json_object *
atoauth_json(const char *body, size_t len)
{
    return jsonobj_parse(body, len, ATOAUTH_MAX_BODY, ATOAUTH_MAX_DEPTH);
}

/* A non-empty string member of o no longer than max, or NULL (borrowed from o). */
static const char *
atoauth_str(struct json_object *o, const char *key, size_t max)
{
    struct json_object *v = NULL;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
        (size_t)json_object_get_string_len(v) > max)
        return NULL;
    return json_object_get_string(v);
}

/* 1 when o's member key is an array holding the string want. */
static int
atoauth_lists(struct json_object *o, const char *key, const char *want)
{
    struct json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        struct json_object *e = json_object_array_get_idx(v, i);

        if (json_object_is_type(e, json_type_string) &&
            strcmp(json_object_get_string(e), want) == 0)
            return 1;
    }
    return 0;
}

/* An endpoint URL: absolute, https (or http when the issuer itself is http: a test server). */
static const char *
atoauth_endpoint(struct json_object *md, const char *key, int allow_http)
{
    const char *s = atoauth_str(md, key, ATOAUTH_MAX_URL);
    struct url u;
    char why[64];

    if (s == NULL || url_split(s, &u, why, sizeof(why)) < 0 || (!u.https && !allow_http) ||
        u.fragment != NULL)
        return NULL;
    return s;
}

void
atoauth_server_free(struct atoauth_server *as)
{
    if (as == NULL)
        return;
    free(as->issuer);
    free(as->par_endpoint);
    free(as->authorization_endpoint);
    free(as->token_endpoint);
    free(as->revocation_endpoint);
    free(as);
}

int
atoauth_server_parse(struct json_object *md, const char *issuer, struct atoauth_server *as,
                     char *err, size_t errlen)
{
    const char *got = atoauth_str(md, "issuer", ATOAUTH_MAX_URL);
    int http = strncmp(issuer, "http://", 7) == 0;
    const char *par, *authz, *token, *revoke;
    struct json_object *v = NULL;

    memset(as, 0, sizeof(*as));
    if (got == NULL || strcmp(got, issuer) != 0) {
        snprintf(err, errlen, "the metadata names another issuer");
        return -1;
    }
    par = atoauth_endpoint(md, "pushed_authorization_request_endpoint", http);
    authz = atoauth_endpoint(md, "authorization_endpoint", http);
    token = atoauth_endpoint(md, "token_endpoint", http);
    revoke = atoauth_endpoint(md, "revocation_endpoint", http);
    if (par == NULL || authz == NULL || token == NULL) {
        snprintf(err, errlen, "no PAR, authorization or token endpoint");
        return -1;
    }
    if (!atoauth_lists(md, "dpop_signing_alg_values_supported", "ES256") ||
        !atoauth_lists(md, "token_endpoint_auth_methods_supported", "private_key_jwt") ||
        !atoauth_lists(md, "token_endpoint_auth_signing_alg_values_supported", "ES256") ||
        !atoauth_lists(md, "code_challenge_methods_supported", "S256")) {
        snprintf(err, errlen, "no DPoP, private_key_jwt or PKCE with ES256/S256");
        return -1;
    }
    if (!json_object_object_get_ex(md, "client_id_metadata_document_supported", &v) ||
        !json_object_get_boolean(v)) {
        snprintf(err, errlen, "client metadata documents are not supported");
        return -1;
    }
    as->issuer = xstrdup(issuer);
    as->par_endpoint = xstrdup(par);
    as->authorization_endpoint = xstrdup(authz);
    as->token_endpoint = xstrdup(token);
    as->revocation_endpoint = revoke != NULL ? xstrdup(revoke) : NULL;
    return 0;
}

/* --- discovery ------------------------------------------------------------------------------- */

/* One discovery; owns only itself. */
struct atoauth_disc {
    struct app *app;
    char *pds_url;
    char *issuer;
    atoauth_server_fn cb;
    void *arg;
};

static void
atoauth_disc_end(struct atoauth_disc *d, struct atoauth_server *as, const char *why)
{
    if (as == NULL)
        log_info("atoauth_discover_failed", "pds=%s reason=%s", log_q(d->pds_url), log_q(why));
    d->cb(as, why, d->arg);
    free(d->pds_url);
    free(d->issuer);
    free(d);
}

static void
atoauth_get(struct app *app, const char *url, httpc_done_fn cb, void *arg)
{
    static const char *const headers[1] = { "Accept: application/json" };
    struct httpc_req hr = { 0 };

    hr.method = "GET";
    hr.url = url;
    hr.headers = headers;
    hr.nheaders = 1;
    httpc_request(app->httpc, &hr, cb, arg);
}

static void
atoauth_disc_as(const struct httpc_response *resp, void *arg)
{
    struct atoauth_disc *d = arg;
    struct json_object *o = NULL;
    struct atoauth_server *as = xcalloc(1, sizeof(*as));
    char why[128];

    if (resp->error != HTTPC_OK || resp->status != 200 ||
        (o = atoauth_json(resp->body, resp->body_len)) == NULL) {
        free(as);
        atoauth_disc_end(d, NULL, "the authorization server's metadata did not come");
        return;
    }
    if (atoauth_server_parse(o, d->issuer, as, why, sizeof(why)) < 0) {
        json_object_put(o);
        free(as);
        atoauth_disc_end(d, NULL, why);
        return;
    }
    json_object_put(o);
    atoauth_disc_end(d, as, "");
}

static void
atoauth_disc_pr(const struct httpc_response *resp, void *arg)
{
    struct atoauth_disc *d = arg;
    struct json_object *o = NULL, *servers = NULL, *first;
    const char *resource;
    char *url;
    struct url u;
    char why[64];

    if (resp->error != HTTPC_OK || resp->status != 200 ||
        (o = atoauth_json(resp->body, resp->body_len)) == NULL) {
        atoauth_disc_end(d, NULL, "the PDS's protected resource metadata did not come");
        return;
    }
    resource = atoauth_str(o, "resource", ATOAUTH_MAX_URL);
    if (resource == NULL || !url_same_origin(resource, d->pds_url) ||
        !json_object_object_get_ex(o, "authorization_servers", &servers) ||
        !json_object_is_type(servers, json_type_array) || json_object_array_length(servers) < 1 ||
        !json_object_is_type(first = json_object_array_get_idx(servers, 0), json_type_string) ||
        url_split(json_object_get_string(first), &u, why, sizeof(why)) < 0 || (u.path_len > 1) ||
        u.query != NULL) {
        json_object_put(o);
        atoauth_disc_end(d, NULL, "the PDS names no usable authorization server");
        return;
    }
    /* An issuer is an origin ("https://host"); a trailing slash is not part of it. */
    d->issuer =
        xstrndup(json_object_get_string(first), (size_t)(u.path - json_object_get_string(first)));
    json_object_put(o);
    url = xasprintf("%s/.well-known/oauth-authorization-server", d->issuer);
    atoauth_get(d->app, url, atoauth_disc_as, d);
    free(url);
}

void
atoauth_discover(struct app *app, const char *pds_url, atoauth_server_fn cb, void *arg)
{
    struct atoauth_disc *d = xcalloc(1, sizeof(*d));
    size_t n = strlen(pds_url);
    char *url;

    d->app = app;
    d->cb = cb;
    d->arg = arg;
    while (n > 0 && pds_url[n - 1] == '/')
        n--;
    d->pds_url = xstrndup(pds_url, n);
    url = xasprintf("%s/.well-known/oauth-protected-resource", d->pds_url);
    atoauth_get(app, url, atoauth_disc_pr, d);
    free(url);
}

/* --- requests with DPoP ---------------------------------------------------------------------- */

/* One request and its one nonce retry; owns its copies (secrets wiped). */
struct atoauth_call {
    struct app *app;
    const struct jose_key *dpop; /* the caller's, alive until cb */
    int xrpc;                    /* a PDS request (else a form POST to the authorization server) */
    int attempt;
    char *issuer;
    char *url;
    char *method;
    char *body; /* the form's own fields, or the JSON body */
    char *access_token;
    char *nonce;
    atoauth_answer_fn cb;
    void *arg;
};

static void atoauth_send(struct atoauth_call *c);

static void
atoauth_call_free(struct atoauth_call *c)
{
    free(c->issuer);
    free(c->url);
    free(c->method);
    seal_wipe_free(c->body);
    seal_wipe_free(c->access_token);
    free(c->nonce);
    free(c);
}

static void
atoauth_fail(struct atoauth_call *c, enum httpc_error e)
{
    struct atoauth_answer a = { 0 };

    a.error = e;
    a.nonce = c->nonce;
    c->cb(&a, c->arg);
    atoauth_call_free(c);
}

/* 1 when the answer asks for a (new) DPoP nonce: 400 use_dpop_nonce, or 401 with the header. */
static int
atoauth_wants_nonce(const struct atoauth_call *c, const struct httpc_response *resp,
                    const char *error_code)
{
    const char *www = httpc_response_header(resp, "WWW-Authenticate");

    if (c->xrpc)
        return resp->status == 401 && www != NULL && strstr(www, "use_dpop_nonce") != NULL;
    return resp->status == 400 && error_code != NULL && strcmp(error_code, "use_dpop_nonce") == 0;
}

static void
atoauth_answered(const struct httpc_response *resp, void *arg)
{
    struct atoauth_call *c = arg;
    struct atoauth_answer a = { 0 };
    const char *nonce;

    if (resp->error != HTTPC_OK) {
        atoauth_fail(c, resp->error);
        return;
    }
    a.error = HTTPC_OK;
    a.status = resp->status;
    a.resp = resp;
    a.json = atoauth_json(resp->body, resp->body_len);
    a.error_code = atoauth_str(a.json, "error", 128);
    nonce = httpc_response_header(resp, "DPoP-Nonce");
    if (nonce != NULL && *nonce != '\0' && strlen(nonce) <= 512) {
        free(c->nonce);
        c->nonce = xstrdup(nonce);
        if (c->attempt == 1 && atoauth_wants_nonce(c, resp, a.error_code)) {
            json_object_put(a.json);
            c->attempt++;
            atoauth_send(c);
            return;
        }
    }
    a.nonce = c->nonce;
    c->cb(&a, c->arg);
    json_object_put(a.json);
    atoauth_call_free(c);
}

/* The client's key is here: the assertion goes into a copy of the form. */
static void
atoauth_send_form(struct app *app, const struct atclient *client, void *arg)
{
    struct atoauth_call *c = arg;
    char *id, *assertion, *form, *proof, *dpop_header;
    char why[160];
    const char *headers[3];
    struct httpc_req hr = { 0 };

    if (client == NULL) {
        atoauth_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    id = atclient_id(app->cfg);
    assertion = atclient_assertion(client, id, c->issuer, time(NULL), why, sizeof(why));
    proof = dpop_proof(c->dpop, "POST", c->url, c->nonce, NULL, why, sizeof(why));
    if (assertion == NULL || proof == NULL) {
        log_error("atoauth_sign_failed", "reason=%s", log_q(why));
        free(id);
        free(assertion);
        free(proof);
        atoauth_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    form = xstrdup(c->body);
    form_add(&form, "client_id", id);
    form_add(&form, "client_assertion_type", ATOAUTH_ASSERTION_TYPE);
    form_add(&form, "client_assertion", assertion);
    dpop_header = xasprintf("DPoP: %s", proof);
    headers[0] = "Content-Type: application/x-www-form-urlencoded";
    headers[1] = "Accept: application/json";
    headers[2] = dpop_header;
    hr.method = "POST";
    hr.url = c->url;
    hr.headers = headers;
    hr.nheaders = 3;
    hr.body = form;
    hr.body_len = strlen(form);
    httpc_request(app->httpc, &hr, atoauth_answered, c);
    free(id);
    free(assertion);
    free(proof);
    free(dpop_header);
    seal_wipe_free(form);
}

static void
atoauth_send_xrpc(struct atoauth_call *c)
{
    char why[160], *proof = NULL, *dpop_header = NULL, *auth;
    const char *headers[4];
    struct httpc_req hr = { 0 };
    size_t n = 0;

    /* Without a DPoP key the token is an app password session's bearer JWT. */
    if (c->dpop != NULL && (proof = dpop_proof(c->dpop, c->method, c->url, c->nonce,
                                               c->access_token, why, sizeof(why))) == NULL) {
        log_error("atoauth_sign_failed", "reason=%s", log_q(why));
        atoauth_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    auth = xasprintf("Authorization: %s %s", c->dpop != NULL ? "DPoP" : "Bearer", c->access_token);
    headers[n++] = "Accept: application/json";
    headers[n++] = auth;
    if (proof != NULL) {
        dpop_header = xasprintf("DPoP: %s", proof);
        headers[n++] = dpop_header;
    }
    if (c->body != NULL)
        headers[n++] = "Content-Type: application/json";
    hr.method = c->method;
    hr.url = c->url;
    hr.headers = headers;
    hr.nheaders = n;
    hr.body = c->body;
    hr.body_len = c->body != NULL ? strlen(c->body) : 0;
    httpc_request(c->app->httpc, &hr, atoauth_answered, c);
    free(proof);
    free(dpop_header);
    seal_wipe_free(auth);
}

static void
atoauth_send(struct atoauth_call *c)
{
    if (c->xrpc)
        atoauth_send_xrpc(c);
    else
        atclient_load(c->app, atoauth_send_form, c);
}

static struct atoauth_call *
atoauth_call_new(struct app *app, const struct jose_key *dpop, const char *url, const char *nonce,
                 atoauth_answer_fn cb, void *arg)
{
    struct atoauth_call *c = xcalloc(1, sizeof(*c));

    c->app = app;
    c->dpop = dpop;
    c->attempt = 1;
    c->url = xstrdup(url);
    c->nonce = nonce != NULL && *nonce != '\0' ? xstrdup(nonce) : NULL;
    c->cb = cb;
    c->arg = arg;
    return c;
}

void
atoauth_post(struct app *app, const struct jose_key *dpop, const char *issuer, const char *url,
             const char *form, const char *nonce, atoauth_answer_fn cb, void *arg)
{
    struct atoauth_call *c = atoauth_call_new(app, dpop, url, nonce, cb, arg);

    c->issuer = xstrdup(issuer);
    c->method = xstrdup("POST");
    c->body = xstrdup(form);
    atoauth_send(c);
}

void
atoauth_xrpc(struct app *app, const struct jose_key *dpop, const char *access_token,
             const char *method, const char *url, const char *json_body, const char *nonce,
             atoauth_answer_fn cb, void *arg)
{
    struct atoauth_call *c = atoauth_call_new(app, dpop, url, nonce, cb, arg);

    c->xrpc = 1;
    c->method = xstrdup(method);
    c->access_token = xstrdup(access_token);
    c->body = json_body != NULL ? xstrdup(json_body) : NULL;
    atoauth_send(c);
}

/* One revocation: the key it owns. */
static void
atoauth_revoked(const struct atoauth_answer *a, void *arg)
{
    struct jose_key *dpop = arg;

    log_info("atoauth_revoke", "error=%s status=%ld", httpc_error_name(a->error), a->status);
    jose_key_free(dpop);
}

void
atoauth_revoke(struct app *app, struct jose_key *dpop, const char *issuer, const char *endpoint,
               const char *token, const char *nonce)
{
    char *form = NULL;

    form_add(&form, "token", token);
    atoauth_post(app, dpop, issuer, endpoint, form, nonce, atoauth_revoked, dpop);
    seal_wipe_free(form);
}

/* --- token responses ------------------------------------------------------------------------- */

/* 1 when the space-separated list scope holds the word want. */
static int
atoauth_scope_has(const char *scope, const char *want)
{
    size_t n = strlen(want);

    for (const char *p = scope; *p != '\0';) {
        size_t len = strcspn(p, " ");

        if (len == n && strncmp(p, want, n) == 0)
            return 1;
        p += len;
        p += strspn(p, " ");
    }
    return 0;
}

int
atoauth_tokens_parse(struct json_object *o, const char *expected_sub, struct atoauth_tokens *t,
                     char *err, size_t errlen)
{
    const char *type = atoauth_str(o, "token_type", 32);
    const char *access = atoauth_str(o, "access_token", ATOAUTH_MAX_TOKEN);
    const char *refresh = atoauth_str(o, "refresh_token", ATOAUTH_MAX_TOKEN);
    const char *scope = atoauth_str(o, "scope", 1024);
    const char *sub = atoauth_str(o, "sub", 2048);
    struct json_object *v = NULL;

    memset(t, 0, sizeof(*t));
    if (type == NULL || strcasecmp(type, "DPoP") != 0 || access == NULL || refresh == NULL) {
        snprintf(err, errlen, "not a DPoP token with a refresh token");
        return -1;
    }
    if (sub == NULL || strcmp(sub, expected_sub) != 0) {
        snprintf(err, errlen, "sub is another account");
        return -1;
    }
    if (scope == NULL || !atoauth_scope_has(scope, "atproto")) {
        snprintf(err, errlen, "the scope lacks atproto");
        return -1;
    }
    t->access_token = xstrdup(access);
    t->refresh_token = xstrdup(refresh);
    t->scope = xstrdup(scope);
    t->sub = xstrdup(sub);
    if (json_object_object_get_ex(o, "expires_in", &v) && json_object_is_type(v, json_type_int) &&
        json_object_get_int64(v) > 0)
        t->expires_in = json_object_get_int64(v);
    return 0;
}

void
atoauth_tokens_free(struct atoauth_tokens *t)
{
    seal_wipe_free(t->access_token);
    seal_wipe_free(t->refresh_token);
    free(t->scope);
    free(t->sub);
    memset(t, 0, sizeof(*t));
}
