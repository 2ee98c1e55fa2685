/* App-password sessions: create, refresh (rotating), and calls that refresh an expired token once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "identity.h"
#include "jose.h"
#include "jsonobj.h"
#include "seal.h"
#include "session.h"
#include "xmalloc.h"
#include "xrpc.h"

const char *
session_status_name(enum session_status st)
{
    switch (st) {
    case SESSION_OK:
        return "ok";
    case SESSION_REFUSED:
        return "refused";
    case SESSION_EXPIRED:
        return "expired";
    case SESSION_RATE_LIMITED:
        return "rate_limited";
    case SESSION_UNAVAILABLE:
        return "unavailable";
    case SESSION_INVALID:
        return "invalid";
    }
    return "unknown";
}

long long
session_jwt_exp(const char *jwt)
{
    const char *d1 = jwt != NULL ? strchr(jwt, '.') : NULL;
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    struct json_object *o, *v;
    unsigned char *payload;
    long long exp = -1;
    size_t n = 0;

    if (d2 == NULL || (size_t)(d2 - d1 - 1) > 8192)
        return -1;
    payload = jose_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &n);
    if (payload == NULL)
        return -1;
    o = jsonobj_parse((const char *)payload, n, 8192, 8);
    if (o != NULL && json_object_object_get_ex(o, "exp", &v) &&
        json_object_is_type(v, json_type_int))
        exp = json_object_get_int64(v);
    json_object_put(o);
    free(payload);
    return exp;
}

void
session_ad(const char *did, char *out, size_t outlen)
{
    snprintf(out, outlen, "atproto-session:%s", did);
}

int
session_seal(const struct seal *s, const char *did, const char *refresh_jwt, char **ct,
             char nonce[SEAL_NONCE_BYTEA])
{
    char ad[IDENTITY_DID_MAX + 32];

    session_ad(did, ad, sizeof(ad));
    return seal_to_bytea(s, ad, refresh_jwt, ct, nonce);
}

char *
session_unseal(const struct seal *s, const char *did, const char *ct, const char *nonce)
{
    char ad[IDENTITY_DID_MAX + 32];

    session_ad(did, ad, sizeof(ad));
    return seal_from_bytea(s, ad, ct, nonce);
}

/* A createSession or refreshSession in flight. */
struct session_op {
    int refresh;
    session_done_fn cb;
    void *arg;
};

static const char *
session_member(struct json_object *o, const char *name)
{
    struct json_object *v;

    if (o == NULL || !json_object_object_get_ex(o, name, &v) ||
        !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
        return NULL;
    return json_object_get_string(v);
}

static void
session_on_answer(const struct xrpc_result *x, void *arg)
{
    struct session_op *op = arg;
    struct session_result r = { .status = SESSION_UNAVAILABLE,
                                .access_exp = -1,
                                .retry_after = -1 };
    char error[200];

    if (x->error != HTTPC_OK) {
        snprintf(error, sizeof(error), "%s", httpc_error_name(x->error));
    } else if (x->status == 200) {
        r.did = session_member(x->json, "did");
        r.handle = session_member(x->json, "handle");
        r.access_jwt = session_member(x->json, "accessJwt");
        r.refresh_jwt = session_member(x->json, "refreshJwt");
        if (r.did == NULL || !identity_did_valid(r.did, 1) || r.handle == NULL ||
            r.access_jwt == NULL || r.refresh_jwt == NULL) {
            r.status = SESSION_INVALID;
            r.did = r.handle = r.access_jwt = r.refresh_jwt = NULL;
            snprintf(error, sizeof(error), "the session answer lacks did, handle or tokens");
        } else {
            r.status = SESSION_OK;
            r.access_exp = session_jwt_exp(r.access_jwt);
            error[0] = '\0';
        }
    } else {
        snprintf(error, sizeof(error), "%ld %s: %s", x->status,
                 x->error_name != NULL ? x->error_name : "-",
                 x->message != NULL ? x->message : "-");
        if (x->status == 429) {
            r.status = SESSION_RATE_LIMITED;
            r.retry_after = x->retry_after;
        } else if (x->status >= 500) {
            r.status = SESSION_UNAVAILABLE;
        } else {
            /* createSession: a wrong password (401 AuthenticationRequired), a 2FA demand, a
             * taken-down account; refreshSession: ExpiredToken, InvalidToken, revoked. */
            r.status = op->refresh ? SESSION_EXPIRED : SESSION_REFUSED;
        }
    }
    r.error = error;
    op->cb(&r, op->arg);
    free(op);
}

/* Overwrites json-c's copies of a secret member and of the object's text before it is put. */
static void
session_wipe_json(struct json_object *o, const char *member)
{
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    struct json_object *v;

    OPENSSL_cleanse((void *)(uintptr_t)text, strlen(text));
    if (json_object_object_get_ex(o, member, &v)) {
        const char *secret = json_object_get_string(v);

        OPENSSL_cleanse((void *)(uintptr_t)secret, strlen(secret));
    }
}

void
session_create(struct httpc *h, const char *pds, const char *identifier, const char *password,
               session_done_fn cb, void *arg)
{
    struct session_op *op = xcalloc(1, sizeof(*op));
    struct json_object *body = json_object_new_object();
    struct xrpc_call c = { .method = "POST",
                           .service = pds,
                           .nsid = "com.atproto.server.createSession" };
    char *text;

    op->cb = cb;
    op->arg = arg;
    json_object_object_add(body, "identifier",
                           json_object_new_string(identifier ? identifier : ""));
    json_object_object_add(body, "password", json_object_new_string(password ? password : ""));
    text = xstrdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
    /* The password also sits in json-c's string and its serialised text: wipe them too. */
    session_wipe_json(body, "password");
    json_object_put(body);
    c.body = text;
    xrpc_call(h, &c, session_on_answer, op);
    seal_wipe_free(text);
}

void
session_refresh(struct httpc *h, const char *pds, const char *refresh_jwt, session_done_fn cb,
                void *arg)
{
    struct session_op *op = xcalloc(1, sizeof(*op));
    struct xrpc_call c = { .method = "POST",
                           .service = pds,
                           .nsid = "com.atproto.server.refreshSession",
                           .auth = XRPC_AUTH_BEARER,
                           .token = refresh_jwt };

    op->refresh = 1;
    op->cb = cb;
    op->arg = arg;
    xrpc_call(h, &c, session_on_answer, op);
}

/* A call that may need a refresh: its own copy of the call, for the second try, and of the
 * refreshed pair, which the caller gets with the second answer. */
struct session_call_ctx {
    struct httpc *h;
    char *pds, *refresh, *method, *nsid, *query, *body;
    char **headers;
    size_t nheaders;
    int tried_refresh;
    int refreshed;
    struct session_result kept;
    char *k_did, *k_handle, *k_access, *k_refresh;
    session_call_fn cb;
    void *arg;
};

static void
session_call_free(struct session_call_ctx *s)
{
    free(s->pds);
    seal_wipe_free(s->refresh);
    free(s->method);
    free(s->nsid);
    free(s->query);
    free(s->body);
    for (size_t i = 0; i < s->nheaders; i++)
        free(s->headers[i]);
    free(s->headers);
    free(s->k_did);
    free(s->k_handle);
    seal_wipe_free(s->k_access);
    seal_wipe_free(s->k_refresh);
    free(s);
}

static void session_call_send(struct session_call_ctx *s, const char *access);

static void
session_call_on_refresh(const struct session_result *r, void *arg)
{
    struct session_call_ctx *s = arg;

    if (r->status != SESSION_OK) {
        s->cb(NULL, r, s->arg);
        session_call_free(s);
        return;
    }
    s->refreshed = 1;
    s->k_did = xstrdup(r->did);
    s->k_handle = xstrdup(r->handle);
    s->k_access = xstrdup(r->access_jwt);
    s->k_refresh = xstrdup(r->refresh_jwt);
    s->kept = *r;
    s->kept.did = s->k_did;
    s->kept.handle = s->k_handle;
    s->kept.access_jwt = s->k_access;
    s->kept.refresh_jwt = s->k_refresh;
    s->kept.error = "";
    session_call_send(s, s->k_access);
}

static void
session_call_on_answer(const struct xrpc_result *x, void *arg)
{
    struct session_call_ctx *s = arg;

    if (xrpc_token_refused(x) && !s->tried_refresh) {
        s->tried_refresh = 1;
        session_refresh(s->h, s->pds, s->refresh, session_call_on_refresh, s);
        return;
    }
    s->cb(x, s->refreshed ? &s->kept : NULL, s->arg);
    session_call_free(s);
}

static void
session_call_send(struct session_call_ctx *s, const char *access)
{
    struct xrpc_call c = { .method = s->method,
                           .service = s->pds,
                           .nsid = s->nsid,
                           .query = s->query,
                           .body = s->body,
                           .headers = (const char *const *)s->headers,
                           .nheaders = s->nheaders,
                           .auth = XRPC_AUTH_BEARER,
                           .token = access };

    xrpc_call(s->h, &c, session_call_on_answer, s);
}

void
session_call(struct httpc *h, const char *pds, const char *access_jwt, const char *refresh_jwt,
             const struct xrpc_call *call, session_call_fn cb, void *arg)
{
    struct session_call_ctx *s = xcalloc(1, sizeof(*s));

    s->h = h;
    s->pds = xstrdup(pds);
    s->refresh = xstrdup(refresh_jwt != NULL ? refresh_jwt : "");
    s->method = xstrdup(call->method != NULL ? call->method : "");
    s->nsid = xstrdup(call->nsid != NULL ? call->nsid : "");
    s->query = call->query != NULL ? xstrdup(call->query) : NULL;
    s->body = call->body != NULL ? xstrdup(call->body) : NULL;
    if (call->nheaders > 0) {
        s->headers = xcalloc(call->nheaders, sizeof(*s->headers));
        for (size_t i = 0; i < call->nheaders; i++)
            s->headers[s->nheaders++] = xstrdup(call->headers[i]);
    }
    s->cb = cb;
    s->arg = arg;
    if (access_jwt == NULL || *access_jwt == '\0') {
        s->tried_refresh = 1;
        session_refresh(h, pds, s->refresh, session_call_on_refresh, s);
        return;
    }
    session_call_send(s, access_jwt);
}
