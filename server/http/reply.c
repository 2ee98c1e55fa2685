/* The reply helpers every handler uses: status mapping, common headers, JSON errors. */
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "metrics.h"
#include "reply.h"
#include "texts.h"
#include "xmalloc.h"

static reply_answered_fn reply_answered;
static void *reply_answered_arg;

static const struct {
    enum reply_err kind;
    int status;
} reply_err_map[] = {
    { REPLY_ERR_BAD_REQUEST, 400 }, { REPLY_ERR_UNAUTHORIZED, 401 },
    { REPLY_ERR_FORBIDDEN, 403 },   { REPLY_ERR_NOT_FOUND, 404 },
    { REPLY_ERR_METHOD, 405 },      { REPLY_ERR_NOT_ACCEPTABLE, 406 },
    { REPLY_ERR_GONE, 410 },        { REPLY_ERR_TOO_LARGE, 413 },
    { REPLY_ERR_MEDIA_TYPE, 415 },  { REPLY_ERR_RATE_LIMITED, 429 },
    { REPLY_ERR_INTERNAL, 500 },    { REPLY_ERR_UNAVAILABLE, 503 },
};

int
reply_err_status(enum reply_err kind)
{
    for (size_t i = 0; i < sizeof(reply_err_map) / sizeof(reply_err_map[0]); i++)
        if (reply_err_map[i].kind == kind)
            return reply_err_map[i].status;
    return 500;
}

const char *
reply_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 410:
        return "Gone";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

void
reply_send(struct evhttp_request *req, int status, const char *ctype, const char *body, size_t len)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evbuffer_new();
    char labels[64];

    if (ctype != NULL)
        evhttp_add_header(out, "Content-Type", ctype);
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    /*
     * libevent 2.1 would send the body after a HEAD and leave out
     * Content-Length: send no body, and say how long the GET's would be.
     */
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        char n[32];

        snprintf(n, sizeof(n), "%zu", len);
        evhttp_add_header(out, "Content-Length", n);
    } else if (body != NULL && len > 0) {
        evbuffer_add(buf, body, len);
    }
    snprintf(labels, sizeof(labels), "code=\"%d\"", status);
    metrics_add("passerelle_http_responses_total", labels, 1);
    if (reply_answered != NULL)
        reply_answered(reply_answered_arg, req);
    evhttp_send_reply(req, status, reply_reason(status), buf);
    evbuffer_free(buf);
}

void
reply_json(struct evhttp_request *req, int status, const char *ctype, struct json_object *obj)
{
    size_t len;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    reply_send(req, status, ctype ? ctype : "application/json", s, len);
    json_object_put(obj);
}

void
reply_fail(struct evhttp_request *req, enum reply_err kind, const char *reason)
{
    struct json_object *o = json_object_new_object();
    int status = reply_err_status(kind);

    json_object_object_add(o, "error", json_object_new_string(reason));
    if (kind == REPLY_ERR_UNAVAILABLE)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
    reply_json(req, status, "application/json", o);
}

const char *
reply_req_header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

const char *
reply_req_lang(struct evhttp_request *req)
{
    return texts_lang_pick(reply_req_header(req, "Accept-Language"), NULL);
}

char *
reply_req_param(struct evhttp_request *req, const char *name)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq params;
    const char *v;
    char *out = NULL;

    if (query == NULL)
        return NULL;
    TAILQ_INIT(&params);
    if (evhttp_parse_query_str(query, &params) < 0) {
        evhttp_clear_headers(&params);
        return NULL;
    }
    v = evhttp_find_header(&params, name);
    if (v != NULL)
        out = xstrdup(v);
    evhttp_clear_headers(&params);
    return out;
}

void
reply_req_peer(struct evhttp_request *req, char *out, size_t outlen)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *addr = NULL;
    ev_uint16_t port = 0;

    out[0] = '\0';
    if (evcon != NULL) {
        evhttp_connection_get_peer(evcon, &addr, &port);
        if (addr != NULL)
            snprintf(out, outlen, "%s", addr);
    }
}

void
reply_req_client(struct evhttp_request *req, char *out, size_t outlen)
{
    const char *xff = reply_req_header(req, "X-Forwarded-For");
    const char *real = reply_req_header(req, "X-Real-IP");
    const char *v = NULL;
    size_t n;

    reply_req_peer(req, out, outlen);
    if (strcmp(out, "127.0.0.1") != 0 && strcmp(out, "::1") != 0)
        return;
    if (xff != NULL) {
        v = strrchr(xff, ',');
        v = v != NULL ? v + 1 : xff;
    } else if (real != NULL) {
        v = real;
    }
    if (v == NULL)
        return;
    while (*v == ' ' || *v == '\t')
        v++;
    n = strcspn(v, " \t");
    if (n > 0 && n < outlen && n <= 64) {
        memcpy(out, v, n);
        out[n] = '\0';
    }
}

int
reply_wants_activity_json(struct evhttp_request *req)
{
    const char *accept = reply_req_header(req, "Accept");

    if (accept == NULL)
        return 0;
    return strstr(accept, "activity+json") != NULL || strstr(accept, "ld+json") != NULL ||
           strstr(accept, "application/json") != NULL;
}

void
reply_set_answered(reply_answered_fn fn, void *arg)
{
    reply_answered = fn;
    reply_answered_arg = arg;
}
