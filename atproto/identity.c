/* atproto identity on the loop: handle -> DID -> document -> PDS, the handle checked both ways. */
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "dnstxt.h"
#include "err.h"
#include "httpc.h"
#include "identity.h"
#include "log.h"
#include "url.h"
#include "xmalloc.h"

#define IDENTITY_DEFAULT_PLC "https://plc.directory"

struct identity_op;

struct identity {
    struct event_base *base;
    struct httpc *http;
    struct dnstxt *dns;
    char *plc_url;
    char *handle_origin;
    int allow_private;
    long timeout_ms;
    int closing;
    struct identity_op *pending;
};

enum identity_mode { MODE_HANDLE, MODE_DID };

/* Where a handle lookup stands: DNS and HTTPS are asked at once, DNS wins when it answers. */
struct identity_lookup {
    char handle[IDENTITY_HANDLE_MAX + 1];
    int dns_done, http_done, decided;
    int dns_failed, http_failed;
    char *dns_did, *http_did;
};

/* One resolution: its own context, owned by the resolver until its callback has run. */
struct identity_op {
    struct identity *id;
    struct identity_op *prev, *next;
    enum identity_mode mode;
    int outstanding; /* DNS and HTTP callbacks still to come */
    int finished;    /* the user's callback has run */
    struct identity_lookup lookup;
    char *did;
    struct identity_doc doc;
    struct event *early;
    enum identity_status status;
    char error[200];
    identity_done_fn cb;
    void *arg;
};

const char *
identity_status_name(enum identity_status st)
{
    switch (st) {
    case IDENTITY_OK:
        return "ok";
    case IDENTITY_INVALID:
        return "invalid";
    case IDENTITY_NOT_FOUND:
        return "not_found";
    case IDENTITY_MISMATCH:
        return "mismatch";
    case IDENTITY_UNAVAILABLE:
        return "unavailable";
    }
    return "unknown";
}

int
identity_handle_normalize(const char *in, char *out, size_t outlen)
{
    static const char *const reserved[] = { "alt",     "arpa",  "example",   "internal",
                                            "invalid", "local", "localhost", "onion" };
    size_t len, labels = 0, start = 0;

    if (in == NULL)
        return -1;
    if (in[0] == '@')
        in++;
    len = strlen(in);
    if (len == 0 || len > IDENTITY_HANDLE_MAX || outlen <= len)
        return -1;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c == '.' || c == '\0') {
            size_t l = i - start;

            if (l == 0 || l > 63 || out[start] == '-' || out[i - 1] == '-')
                return -1;
            labels++;
            out[i] = (char)c;
            if (c == '\0')
                break;
            start = i + 1;
            continue;
        }
        if (!isalnum(c) && c != '-')
            return -1;
        out[i] = (char)tolower(c);
    }
    /* The last label, the TLD, starts with a letter (so no IP address is a handle). */
    if (labels < 2 || !isalpha((unsigned char)out[start]))
        return -1;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(out + start, reserved[i]) == 0)
            return -1;
    return 0;
}

/* 1 when s[0..n) is a hostname of at least two labels (for did:web). */
static int
identity_hostname_ok(const char *s, size_t n)
{
    char host[IDENTITY_HANDLE_MAX + 1], norm[IDENTITY_HANDLE_MAX + 1];

    if (n == 0 || n > IDENTITY_HANDLE_MAX)
        return 0;
    memcpy(host, s, n);
    host[n] = '\0';
    /* Same rules as a handle, plus "localhost" (tests, with a port). */
    return identity_handle_normalize(host, norm, sizeof(norm)) == 0 && strcmp(norm, host) == 0;
}

int
identity_did_valid(const char *did, int allow_private)
{
    size_t len;

    if (did == NULL || (len = strlen(did)) > IDENTITY_DID_MAX)
        return 0;
    if (strncmp(did, "did:plc:", 8) == 0) {
        if (len != 8 + 24)
            return 0;
        for (size_t i = 8; i < len; i++)
            if (!((did[i] >= 'a' && did[i] <= 'z') || (did[i] >= '2' && did[i] <= '7')))
                return 0;
        return 1;
    }
    if (strncmp(did, "did:web:", 8) == 0) {
        const char *host = did + 8, *pct = strstr(host, "%3A");
        size_t hlen = pct != NULL ? (size_t)(pct - host) : strlen(host);

        if (pct != NULL) {
            char *end;
            long port;

            if (!allow_private || pct[3] == '\0')
                return 0;
            port = strtol(pct + 3, &end, 10);
            if (*end != '\0' || port < 1 || port > 65535 || !isdigit((unsigned char)pct[3]))
                return 0;
            /* A test's did:web may live on localhost. */
            if (hlen == 9 && strncmp(host, "localhost", 9) == 0)
                return 1;
        }
        return identity_hostname_ok(host, hlen);
    }
    return 0;
}

char *
identity_doc_url(const char *did, const char *plc_url, int allow_private)
{
    if (!identity_did_valid(did, allow_private))
        return NULL;
    if (strncmp(did, "did:plc:", 8) == 0) {
        size_t n = strlen(plc_url);

        while (n > 0 && plc_url[n - 1] == '/')
            n--;
        return xasprintf("%.*s/%s", (int)n, plc_url, did);
    }
    {
        const char *host = did + 8, *pct = strstr(host, "%3A");

        if (pct != NULL)
            return xasprintf("http://%.*s:%s/.well-known/did.json", (int)(pct - host), host,
                             pct + 3);
        return xasprintf("https://%s/.well-known/did.json", host);
    }
}

const char *
identity_txt_did(const char *const *txt, size_t n, int allow_private)
{
    const char *found = NULL;

    for (size_t i = 0; i < n; i++) {
        if (strncmp(txt[i], "did=", 4) != 0)
            continue;
        if (found != NULL && strcmp(found, txt[i] + 4) != 0)
            return NULL; /* two different DIDs: the handle is ambiguous */
        found = txt[i] + 4;
    }
    return found != NULL && identity_did_valid(found, allow_private) ? found : NULL;
}

static const char *
identity_str(struct json_object *o, const char *name)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* 1 when id names fragment in the document of did: "#frag" or "<did>#frag". */
static int
identity_id_is(const char *id, const char *did, const char *frag)
{
    size_t dl = strlen(did);

    if (id == NULL)
        return 0;
    if (strncmp(id, did, dl) == 0)
        id += dl;
    return id[0] == '#' && strcmp(id + 1, frag) == 0;
}

/* The PDS endpoint, checked, without a trailing "/"; NULL when unusable. */
static char *
identity_endpoint(const char *ep, int allow_private, char *err, size_t errlen)
{
    struct url u;

    if (ep == NULL || url_split(ep, &u, err, errlen) < 0) {
        err_set(err, errlen, "the PDS endpoint is not an http(s) URL");
        return NULL;
    }
    if (!u.https && !allow_private) {
        err_set(err, errlen, "the PDS endpoint is not https");
        return NULL;
    }
    if (u.query != NULL || u.fragment != NULL || u.path_len > 1) {
        err_set(err, errlen, "the PDS endpoint has a path, query or fragment");
        return NULL;
    }
    return xstrndup(ep, (size_t)(u.path - ep));
}

int
identity_parse_doc(const char *json, size_t len, const char *did, int allow_private,
                   struct identity_doc *out, char *err, size_t errlen)
{
    struct json_tokener *tok;
    struct json_object *doc, *arr;
    const char *pds = NULL, *key = NULL;

    memset(out, 0, sizeof(*out));
    if (len > IDENTITY_DOC_MAX)
        return err_set(err, errlen, "the DID document is too large");
    tok = json_tokener_new();
    doc = json_tokener_parse_ex(tok, json, (int)len);
    if (doc == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len || !json_object_is_type(doc, json_type_object)) {
        json_tokener_free(tok);
        json_object_put(doc);
        return err_set(err, errlen, "the DID document is not a JSON object");
    }
    json_tokener_free(tok);
    if (identity_str(doc, "id") == NULL || strcmp(identity_str(doc, "id"), did) != 0) {
        json_object_put(doc);
        return err_set(err, errlen, "the DID document is another DID's");
    }
    if (json_object_object_get_ex(doc, "alsoKnownAs", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        size_t n = json_object_array_length(arr);

        out->also_known_as =
            xcalloc(n < IDENTITY_AKA_MAX ? n + 1 : IDENTITY_AKA_MAX + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            struct json_object *v = json_object_array_get_idx(arr, i);
            const char *s = json_object_get_string(v);
            char norm[IDENTITY_HANDLE_MAX + 1];

            if (!json_object_is_type(v, json_type_string))
                continue;
            if (out->n_also_known_as < IDENTITY_AKA_MAX)
                out->also_known_as[out->n_also_known_as++] = xstrdup(s);
            if (out->handle == NULL && strncmp(s, "at://", 5) == 0 &&
                identity_handle_normalize(s + 5, norm, sizeof(norm)) == 0)
                out->handle = xstrdup(norm);
        }
    }
    if (json_object_object_get_ex(doc, "service", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(arr) && pds == NULL; i++) {
            struct json_object *s = json_object_array_get_idx(arr, i);
            const char *type = identity_str(s, "type");

            if (identity_id_is(identity_str(s, "id"), did, "atproto_pds") && type != NULL &&
                strcmp(type, "AtprotoPersonalDataServer") == 0)
                pds = identity_str(s, "serviceEndpoint");
        }
    }
    if (json_object_object_get_ex(doc, "verificationMethod", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(arr) && key == NULL; i++) {
            struct json_object *m = json_object_array_get_idx(arr, i);

            if (identity_id_is(identity_str(m, "id"), did, "atproto"))
                key = identity_str(m, "publicKeyMultibase");
        }
    }
    if (pds == NULL) {
        json_object_put(doc);
        identity_doc_clear(out);
        return err_set(err, errlen, "the DID document names no atproto PDS");
    }
    out->pds = identity_endpoint(pds, allow_private, err, errlen);
    if (out->pds == NULL) {
        json_object_put(doc);
        identity_doc_clear(out);
        return -1;
    }
    out->did = xstrdup(did);
    out->signing_key = key != NULL ? xstrdup(key) : NULL;
    json_object_put(doc);
    return 0;
}

void
identity_doc_clear(struct identity_doc *doc)
{
    for (size_t i = 0; i < doc->n_also_known_as; i++)
        free(doc->also_known_as[i]);
    free(doc->also_known_as);
    free(doc->did);
    free(doc->handle);
    free(doc->pds);
    free(doc->signing_key);
    memset(doc, 0, sizeof(*doc));
}

int
identity_aka_has(const char *const *aka, size_t n, const char *uri)
{
    if (uri == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (aka[i] != NULL && strcmp(aka[i], uri) == 0)
            return 1;
    return 0;
}

struct identity *
identity_new(struct event_base *base, const struct identity_options *opt, char *err, size_t errlen)
{
    struct identity *id = xcalloc(1, sizeof(*id));
    struct httpc_options ho = { 0 };
    const char *plc =
        opt->plc_url != NULL && *opt->plc_url != '\0' ? opt->plc_url : IDENTITY_DEFAULT_PLC;
    struct url u;

    id->base = base;
    id->allow_private = opt->allow_private != 0;
    id->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 10000;
    if (url_split(plc, &u, err, errlen) < 0 || u.query != NULL || u.fragment != NULL) {
        err_set(err, errlen, "plc_url is not an http(s) URL");
        free(id);
        return NULL;
    }
    if (opt->handle_origin != NULL && *opt->handle_origin != '\0') {
        if (!id->allow_private) {
            err_set(err, errlen, "a handle origin is for tests only (allow_private_fetch)");
            free(id);
            return NULL;
        }
        id->handle_origin = xstrdup(opt->handle_origin);
    }
    id->plc_url = xstrdup(plc);
    id->dns = dnstxt_new(base, opt->dns_server, err, errlen);
    ho.user_agent = opt->user_agent;
    ho.total_timeout_ms = id->timeout_ms;
    ho.max_response_bytes = IDENTITY_DOC_MAX;
    ho.extra_ca_file = opt->extra_ca_file;
    ho.allow_loopback = id->allow_private;
    if (id->dns == NULL || (id->http = httpc_new(base, &ho, err, errlen)) == NULL) {
        identity_free(id);
        return NULL;
    }
    return id;
}

/* Frees op once its callback has run and no DNS or HTTP callback is still to come; every
 * entry from the loop (a client's callback, the early event) ends with it. */
static void
identity_release(struct identity_op *op)
{
    struct identity *id = op->id;

    if (!op->finished || op->outstanding > 0)
        return;
    if (op->prev != NULL)
        op->prev->next = op->next;
    else
        id->pending = op->next;
    if (op->next != NULL)
        op->next->prev = op->prev;
    if (op->early != NULL)
        event_free(op->early);
    free(op->lookup.dns_did);
    free(op->lookup.http_did);
    free(op->did);
    identity_doc_clear(&op->doc);
    free(op);
}

/* Runs the user's callback, once; identity_release frees op afterwards. */
static void identity_finish(struct identity_op *op, enum identity_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
identity_finish(struct identity_op *op, enum identity_status st, const char *fmt, ...)
{
    struct identity_result r = { 0 };
    va_list ap;

    if (op->finished)
        return;
    op->finished = 1;
    if (fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(op->error, sizeof(op->error), fmt, ap);
        va_end(ap);
    }
    r.status = st;
    r.error = st == IDENTITY_OK ? "" : op->error;
    if (st == IDENTITY_OK) {
        r.did = op->doc.did;
        r.pds = op->doc.pds;
        r.signing_key = op->doc.signing_key;
        r.also_known_as = (const char *const *)op->doc.also_known_as;
        r.n_also_known_as = op->doc.n_also_known_as;
        r.handle = op->lookup.decided && op->lookup.handle[0] != '\0' ? op->lookup.handle : NULL;
    }
    log_info("atproto_identity", "mode=%s subject=%s status=%s did=%s pds=%s",
             op->mode == MODE_HANDLE ? "handle" : "did",
             log_q(op->mode == MODE_HANDLE ? op->lookup.handle : op->did), identity_status_name(st),
             log_q(r.did != NULL ? r.did : "-"), log_q(r.pds != NULL ? r.pds : "-"));
    op->cb(&r, op->arg);
}

static struct identity_op *
identity_op_new(struct identity *id, enum identity_mode mode, identity_done_fn cb, void *arg)
{
    struct identity_op *op = xcalloc(1, sizeof(*op));

    op->id = id;
    op->mode = mode;
    op->cb = cb;
    op->arg = arg;
    op->next = id->pending;
    if (id->pending != NULL)
        id->pending->prev = op;
    id->pending = op;
    return op;
}

static void
identity_early_cb(evutil_socket_t fd, short what, void *arg)
{
    struct identity_op *op = arg;

    (void)fd;
    (void)what;
    identity_finish(op, op->status, "%s", op->error);
    identity_release(op);
}

/* Fails op from the loop, not from inside the call that started it. */
static void
identity_fail_later(struct identity_op *op, enum identity_status st, const char *why)
{
    op->status = st;
    snprintf(op->error, sizeof(op->error), "%s", why);
    op->early = event_new(op->id->base, -1, 0, identity_early_cb, op);
    if (op->early == NULL)
        abort();
    event_active(op->early, 0, 0);
}

static void identity_doc_start(struct identity_op *op);
static void identity_lookup_decided(struct identity_op *op, const char *did);

/* The handle lookup decides once DNS named a DID, or once both DNS and HTTPS have answered. */
static void
identity_lookup_step(struct identity_op *op)
{
    struct identity_lookup *l = &op->lookup;

    if (l->decided || op->finished)
        return;
    if (l->dns_did != NULL) {
        l->decided = 1;
        identity_lookup_decided(op, l->dns_did);
    } else if (l->dns_done && l->http_done) {
        l->decided = 1;
        if (l->http_did != NULL) {
            identity_lookup_decided(op, l->http_did);
        } else if (op->mode == MODE_DID) {
            /* The document's handle does not resolve: the DID stands, without a handle. */
            l->handle[0] = '\0';
            identity_finish(op, IDENTITY_OK, NULL);
        } else if (l->dns_failed || l->http_failed) {
            identity_finish(op, IDENTITY_UNAVAILABLE, "the handle could not be resolved now");
        } else {
            identity_finish(op, IDENTITY_NOT_FOUND, "the handle names no DID");
        }
    }
}

/* After DNS or HTTPS answered: decide if that settles it (not while the resolver closes). */
static void
identity_lookup_answered(struct identity_op *op)
{
    if (op->id->closing)
        identity_finish(op, IDENTITY_UNAVAILABLE, "cancelled");
    else
        identity_lookup_step(op);
    identity_release(op);
}

static void
identity_on_txt(enum dnstxt_status st, const char *const *txt, size_t n, const char *errmsg,
                void *arg)
{
    struct identity_op *op = arg;
    const char *did = st == DNSTXT_OK ? identity_txt_did(txt, n, op->id->allow_private) : NULL;

    (void)errmsg;
    op->outstanding--;
    op->lookup.dns_done = 1;
    op->lookup.dns_failed = st == DNSTXT_FAIL;
    if (did != NULL)
        op->lookup.dns_did = xstrdup(did);
    identity_lookup_answered(op);
}

static void
identity_on_wellknown(const struct httpc_response *resp, void *arg)
{
    struct identity_op *op = arg;

    op->outstanding--;
    op->lookup.http_done = 1;
    if (resp->error != HTTPC_OK || resp->status >= 500 || resp->status == 429) {
        op->lookup.http_failed = 1;
    } else if (resp->status == 200 && resp->body_len <= IDENTITY_DID_MAX + 8) {
        /* The body is the DID, perhaps with white space around it. */
        char buf[IDENTITY_DID_MAX + 9];
        size_t a = 0, b = resp->body_len;

        memcpy(buf, resp->body, b);
        buf[b] = '\0';
        while (a < b && isspace((unsigned char)buf[a]))
            a++;
        while (b > a && isspace((unsigned char)buf[b - 1]))
            buf[--b] = '\0';
        if (identity_did_valid(buf + a, op->id->allow_private))
            op->lookup.http_did = xstrdup(buf + a);
    }
    identity_lookup_answered(op);
}

/* Asks DNS and HTTPS at once for the DID of op->lookup.handle. */
static void
identity_lookup_start(struct identity_op *op)
{
    struct identity *id = op->id;
    char name[IDENTITY_HANDLE_MAX + 16], host[IDENTITY_HANDLE_MAX + 8], *url;
    const char *headers[1];
    struct httpc_req req = { .method = "GET" };

    memset(&op->lookup.dns_done, 0,
           sizeof(op->lookup) - offsetof(struct identity_lookup, dns_done));
    snprintf(name, sizeof(name), "_atproto.%s", op->lookup.handle);
    if (id->handle_origin != NULL) {
        url = xasprintf("%s/.well-known/atproto-did", id->handle_origin);
        snprintf(host, sizeof(host), "Host: %s", op->lookup.handle);
        headers[0] = host;
        req.headers = headers;
        req.nheaders = 1;
    } else {
        url = xasprintf("https://%s/.well-known/atproto-did", op->lookup.handle);
    }
    req.url = url;
    op->outstanding += 2;
    dnstxt_query(id->dns, name, id->timeout_ms, identity_on_txt, op);
    httpc_request(id->http, &req, identity_on_wellknown, op);
    free(url);
}

static void
identity_lookup_decided(struct identity_op *op, const char *did)
{
    if (op->mode == MODE_HANDLE) {
        op->did = xstrdup(did);
        identity_doc_start(op);
        return;
    }
    /* MODE_DID: the document's handle must lead back to the DID. */
    if (strcmp(did, op->did) != 0)
        op->lookup.handle[0] = '\0';
    identity_finish(op, IDENTITY_OK, NULL);
}

static void
identity_on_doc(const struct httpc_response *resp, void *arg)
{
    struct identity_op *op = arg;
    char err[160];

    op->outstanding--;
    if (op->id->closing) {
        identity_finish(op, IDENTITY_UNAVAILABLE, "cancelled");
    } else if (resp->error != HTTPC_OK) {
        identity_finish(op, IDENTITY_UNAVAILABLE, "DID document: %s",
                        httpc_error_name(resp->error));
    } else if (resp->status == 404 || resp->status == 410) {
        identity_finish(op, IDENTITY_NOT_FOUND, "the DID has no document (%ld)", resp->status);
    } else if (resp->status != 200) {
        identity_finish(op,
                        resp->status >= 500 || resp->status == 429 ? IDENTITY_UNAVAILABLE
                                                                   : IDENTITY_NOT_FOUND,
                        "DID document: status %ld", resp->status);
    } else if (identity_parse_doc(resp->body, resp->body_len, op->did, op->id->allow_private,
                                  &op->doc, err, sizeof(err)) < 0) {
        identity_finish(op, IDENTITY_INVALID, "%s", err);
    } else if (op->mode == MODE_HANDLE) {
        if (op->doc.handle == NULL || strcmp(op->doc.handle, op->lookup.handle) != 0)
            identity_finish(op, IDENTITY_MISMATCH,
                            "the DID document does not name this handle back");
        else
            identity_finish(op, IDENTITY_OK, NULL);
    } else if (op->doc.handle == NULL) {
        op->lookup.handle[0] = '\0';
        identity_finish(op, IDENTITY_OK, NULL);
    } else {
        snprintf(op->lookup.handle, sizeof(op->lookup.handle), "%s", op->doc.handle);
        identity_lookup_start(op);
    }
    identity_release(op);
}

static void
identity_doc_start(struct identity_op *op)
{
    char *url = identity_doc_url(op->did, op->id->plc_url, op->id->allow_private);
    struct httpc_req req = { .method = "GET", .url = url };
    static const char *const accept[] = { "Accept: application/did+ld+json, application/json" };

    if (url == NULL) {
        identity_finish(op, IDENTITY_INVALID, "not a DID this resolver supports");
        return;
    }
    req.headers = accept;
    req.nheaders = 1;
    op->outstanding++;
    httpc_request(op->id->http, &req, identity_on_doc, op);
    free(url);
}

void
identity_resolve_handle(struct identity *id, const char *handle, identity_done_fn cb, void *arg)
{
    struct identity_op *op = identity_op_new(id, MODE_HANDLE, cb, arg);

    if (identity_handle_normalize(handle, op->lookup.handle, sizeof(op->lookup.handle)) < 0) {
        op->lookup.handle[0] = '\0';
        identity_fail_later(op, IDENTITY_INVALID, "not a handle");
        return;
    }
    identity_lookup_start(op);
}

void
identity_resolve_did(struct identity *id, const char *did, identity_done_fn cb, void *arg)
{
    struct identity_op *op = identity_op_new(id, MODE_DID, cb, arg);

    if (!identity_did_valid(did, id->allow_private)) {
        op->did = xstrdup("-");
        identity_fail_later(op, IDENTITY_INVALID, "not a DID this resolver supports");
        return;
    }
    op->did = xstrdup(did);
    identity_doc_start(op);
}

void
identity_free(struct identity *id)
{
    if (id == NULL)
        return;
    id->closing = 1;
    /* The clients end their requests; each callback then finishes its resolution. */
    dnstxt_free(id->dns);
    id->dns = NULL;
    httpc_free(id->http);
    id->http = NULL;
    while (id->pending != NULL) {
        struct identity_op *op = id->pending;

        /* Only resolutions waiting on their early event are left. */
        op->outstanding = 0;
        identity_finish(op, IDENTITY_UNAVAILABLE, "cancelled");
        identity_release(op);
    }
    free(id->plc_url);
    free(id->handle_origin);
    free(id);
}
