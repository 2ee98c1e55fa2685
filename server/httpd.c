/* Inbound HTTP: evhttp on our own listener, request limits, TLS, replies, graceful stop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "app.h"
#include "config.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "xmalloc.h"

#define HTTPD_CONN_BUCKETS 4096

/*
 * One per client connection. evhttp owns the connection; we sit in it as a
 * pass-through filter bufferevent, which gives us two things evhttp 2.1 lacks:
 * a deadline for each request as a whole (the read timeout alone restarts on
 * every byte, so a client trickling bytes could hold a connection forever)
 * and a reliable "connection freed" hook (the filter's context free) to keep
 * a count for max_connections.
 */
struct httpd_conn {
    struct httpd *h;
    struct bufferevent *bev; /* the filter evhttp uses; key of the table */
    struct event *deadline;
    int in_request;          /* bytes of a request arrived, not yet dispatched */
    struct httpd_conn *next; /* hash chain */
};

struct httpd {
    struct app *app;
    struct evhttp *http;
    struct evhttp_bound_socket *bound; /* NULL once we stopped accepting */
    struct evconnlistener *listener;   /* owned by bound */
    SSL_CTX *ssl_ctx;                  /* NULL without TLS */
    int port;
    int in_flight;
    int conns, listener_paused;
    struct httpd_conn *table[HTTPD_CONN_BUCKETS];
};

/*
 * One server per process. The reply helpers take only the request (that is
 * what every handler holds), so they find the server here to keep the
 * in-flight count that graceful shutdown waits on.
 */
static struct httpd *httpd_current;

static const struct {
    enum httpd_err kind;
    int status;
} httpd_err_map[] = {
    { HTTPD_ERR_BAD_REQUEST, 400 }, { HTTPD_ERR_UNAUTHORIZED, 401 },
    { HTTPD_ERR_FORBIDDEN, 403 },   { HTTPD_ERR_NOT_FOUND, 404 },
    { HTTPD_ERR_METHOD, 405 },      { HTTPD_ERR_NOT_ACCEPTABLE, 406 },
    { HTTPD_ERR_GONE, 410 },        { HTTPD_ERR_TOO_LARGE, 413 },
    { HTTPD_ERR_MEDIA_TYPE, 415 },  { HTTPD_ERR_RATE_LIMITED, 429 },
    { HTTPD_ERR_INTERNAL, 500 },    { HTTPD_ERR_UNAVAILABLE, 503 },
};

int
httpd_err_status(enum httpd_err kind)
{
    for (size_t i = 0; i < sizeof(httpd_err_map) / sizeof(httpd_err_map[0]); i++)
        if (httpd_err_map[i].kind == kind)
            return httpd_err_map[i].status;
    return 500;
}

static const char *
httpd_reason(int status)
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

static const char *
httpd_method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

/*
 * Sends through evhttp, then flushes our filter: evhttp queues the response
 * before it enables writing, and libevent 2.1's filter bufferevent only moves
 * queued output when more is added or it is flushed. A reply sent later from
 * a callback (after a database query) would otherwise sit there forever.
 */
static void
httpd_send(struct evhttp_request *req, int status, const char *reason, struct evbuffer *buf)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;

    if (buf != NULL)
        evhttp_send_reply(req, status, reason, buf);
    else
        evhttp_send_error(req, status, reason);
    /* evcon == NULL: the client left; evhttp just freed the request. */
    if (bev != NULL)
        bufferevent_flush(bev, EV_WRITE, BEV_NORMAL);
}

void
httpd_reply(struct evhttp_request *req, int status, const char *ctype, const char *body, size_t len)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evbuffer_new();
    char labels[64];

    if (ctype != NULL)
        evhttp_add_header(out, "Content-Type", ctype);
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    if (body != NULL && len > 0)
        evbuffer_add(buf, body, len);
    snprintf(labels, sizeof(labels), "code=\"%d\"", status);
    metrics_add("passerelle_http_responses_total", labels, 1);
    if (httpd_current != NULL)
        httpd_current->in_flight--;
    httpd_send(req, status, httpd_reason(status), buf);
    evbuffer_free(buf);
}

void
httpd_reply_json(struct evhttp_request *req, int status, const char *ctype, struct json_object *obj)
{
    size_t len;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    httpd_reply(req, status, ctype ? ctype : "application/json", s, len);
    json_object_put(obj);
}

void
httpd_fail(struct evhttp_request *req, enum httpd_err kind, const char *reason)
{
    struct json_object *o = json_object_new_object();
    int status = httpd_err_status(kind);

    json_object_object_add(o, "error", json_object_new_string(reason));
    if (kind == HTTPD_ERR_UNAVAILABLE)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "5");
    httpd_reply_json(req, status, "application/json", o);
}

const char *
httpd_header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

char *
httpd_query_param(struct evhttp_request *req, const char *name)
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

int
httpd_wants_activity_json(struct evhttp_request *req)
{
    const char *accept = httpd_header(req, "Accept");

    if (accept == NULL)
        return 0;
    return strstr(accept, "activity+json") != NULL || strstr(accept, "ld+json") != NULL ||
           strstr(accept, "application/json") != NULL;
}

static int
httpd_count_headers(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    struct evkeyval *kv;
    int n = 0;

    TAILQ_FOREACH(kv, h, next) {
        n++;
    }
    return n;
}

static size_t
httpd_conn_bucket(const struct bufferevent *bev)
{
    uintptr_t p = (uintptr_t)bev;

    return (size_t)((p >> 4) ^ (p >> 16)) % HTTPD_CONN_BUCKETS;
}

static struct httpd_conn *
httpd_conn_find(struct httpd *h, const struct bufferevent *bev)
{
    struct httpd_conn *c;

    for (c = h->table[httpd_conn_bucket(bev)]; c != NULL; c = c->next)
        if (c->bev == bev)
            return c;
    return NULL;
}

/* The request took too long to arrive: cut the socket; evhttp then frees the connection. */
static void
httpd_conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpd_conn *c = arg;
    struct bufferevent *under = bufferevent_get_underlying(c->bev);
    evutil_socket_t sock = under ? bufferevent_getfd(under) : -1;

    (void)fd;
    (void)what;
    if (!c->in_request)
        return;
    log_info("http_slow_client", "timeout=%d", c->h->app->cfg->request_timeout);
    metrics_add("passerelle_http_slow_clients_total", "", 1);
    if (sock >= 0)
        shutdown(sock, SHUT_RDWR);
}

static void
httpd_conn_begin_request(struct httpd_conn *c)
{
    struct timeval tv = { c->h->app->cfg->request_timeout, 0 };

    c->in_request = 1;
    event_add(c->deadline, &tv);
}

static enum bufferevent_filter_result
httpd_conn_input(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
                 enum bufferevent_flush_mode mode, void *arg)
{
    struct httpd_conn *c = arg;
    size_t n = evbuffer_get_length(src);

    (void)mode;
    if (limit >= 0 && (size_t)limit < n)
        n = (size_t)limit;
    if (n > 0 && !c->in_request)
        httpd_conn_begin_request(c);
    evbuffer_remove_buffer(src, dst, n);
    return BEV_OK;
}

static enum bufferevent_filter_result
httpd_conn_output(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
                  enum bufferevent_flush_mode mode, void *arg)
{
    (void)limit;
    (void)mode;
    (void)arg;
    evbuffer_add_buffer(dst, src);
    return BEV_OK;
}

static void
httpd_conn_free_cb(void *arg)
{
    struct httpd_conn *c = arg;
    struct httpd *h = c->h;
    struct httpd_conn **pp;

    /* After httpd_free, libevent finalizes the last filters without us. */
    if (h == NULL) {
        free(c);
        return;
    }
    pp = &h->table[httpd_conn_bucket(c->bev)];
    while (*pp != NULL && *pp != c)
        pp = &(*pp)->next;
    if (*pp == c)
        *pp = c->next;
    event_free(c->deadline);
    free(c);
    h->conns--;
    if (h->listener_paused && h->conns < h->app->cfg->max_connections && h->listener != NULL) {
        h->listener_paused = 0;
        evconnlistener_enable(h->listener);
    }
}

/* evhttp asks for a bufferevent per new connection: ours is a filter over socket or TLS. */
static struct bufferevent *
httpd_conn_new_cb(struct event_base *base, void *arg)
{
    struct httpd *h = arg;
    struct httpd_conn *c = xcalloc(1, sizeof(*c));
    struct bufferevent *under;
    size_t b;

    if (h->ssl_ctx != NULL)
        /* With BEV_OPT_CLOSE_ON_FREE the bufferevent owns the SSL and frees it. */
        under = bufferevent_openssl_socket_new(base, -1, SSL_new(h->ssl_ctx),
                                               BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    else
        under = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->h = h;
    c->deadline = evtimer_new(base, httpd_conn_deadline_cb, c);
    c->bev = bufferevent_filter_new(under, httpd_conn_input, httpd_conn_output,
                                    BEV_OPT_CLOSE_ON_FREE, httpd_conn_free_cb, c);
    b = httpd_conn_bucket(c->bev);
    c->next = h->table[b];
    h->table[b] = c;
    /* The first request's clock starts at accept, so a TLS handshake counts too. */
    httpd_conn_begin_request(c);
    if (++h->conns >= h->app->cfg->max_connections && h->listener != NULL && !h->listener_paused) {
        log_warn("http_max_connections", "open=%d", h->conns);
        h->listener_paused = 1;
        evconnlistener_disable(h->listener);
    }
    return c->bev;
}

/* The whole request has arrived: its deadline no longer applies. */
static void
httpd_conn_request_done(struct httpd *h, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct httpd_conn *c;

    if (evcon == NULL)
        return;
    c = httpd_conn_find(h, evhttp_connection_get_bufferevent(evcon));
    if (c != NULL) {
        c->in_request = 0;
        event_del(c->deadline);
    }
}

/* Every request enters here: limits first, then the route table. */
static void
httpd_request_cb(struct evhttp_request *req, void *arg)
{
    struct httpd *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    char *path;
    size_t len;

    h->in_flight++;
    metrics_add("passerelle_http_requests_total", "", 1);
    httpd_conn_request_done(h, req);
    if (h->bound == NULL) {
        /* A keep-alive connection sent another request while we are stopping. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        httpd_fail(req, HTTPD_ERR_UNAVAILABLE, "shutting down");
        return;
    }
    if (httpd_count_headers(req) > h->app->cfg->max_headers) {
        log_info("http_rejected", "reason=too_many_headers method=%s",
                 httpd_method_name(evhttp_request_get_command(req)));
        metrics_add("passerelle_http_responses_total", "code=\"431\"", 1);
        h->in_flight--;
        httpd_send(req, 431, "Request Header Fields Too Large", NULL);
        return;
    }
    if (raw == NULL || *raw == '\0')
        raw = "/";
    path = evhttp_uridecode(raw, 0, &len);
    if (path == NULL || strlen(path) != len || path[0] != '/') {
        free(path);
        httpd_fail(req, HTTPD_ERR_BAD_REQUEST, "malformed path");
        return;
    }
    log_debug("http_request", "method=%s path=%s",
              httpd_method_name(evhttp_request_get_command(req)), log_q(path));
    routes_dispatch(h->app, req, path);
    free(path);
}

static SSL_CTX *
httpd_tls_ctx(const struct config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        snprintf(err, errlen, "tls: cannot create a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        snprintf(err, errlen, "tls_cert: cannot load %s", cfg->tls_cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "tls_key: cannot load %s or it does not match tls_cert",
                 cfg->tls_key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Binds with SO_REUSEPORT so that several processes can share one port. */
static struct evconnlistener *
httpd_listen(struct event_base *base, const struct config *cfg, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char spec[128];
    struct evconnlistener *l;

    if (strchr(cfg->listen_addr, ':') != NULL)
        snprintf(spec, sizeof(spec), "[%s]:%d", cfg->listen_addr, cfg->listen_port);
    else
        snprintf(spec, sizeof(spec), "%s:%d", cfg->listen_addr, cfg->listen_port);
    memset(&ss, 0, sizeof(ss));
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) < 0) {
        snprintf(err, errlen, "listen_addr: \"%s\" is not an IP address", cfg->listen_addr);
        return NULL;
    }
    l = evconnlistener_new_bind(base, NULL, NULL,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
                                    LEV_OPT_CLOSE_ON_EXEC,
                                1024, (struct sockaddr *)&ss, sslen);
    if (l == NULL)
        snprintf(err, errlen, "listen_port: cannot listen on %s: %s", spec,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    return l;
}

struct httpd *
httpd_new(struct app *app, char *err, size_t errlen)
{
    const struct config *cfg = app->cfg;
    struct httpd *h = xcalloc(1, sizeof(*h));
    struct evconnlistener *l;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);

    h->app = app;
    if (*cfg->tls_cert != '\0') {
        h->ssl_ctx = httpd_tls_ctx(cfg, err, errlen);
        if (h->ssl_ctx == NULL) {
            free(h);
            return NULL;
        }
    }
    h->http = evhttp_new(app->base);
    evhttp_set_max_body_size(h->http, (ev_ssize_t)cfg->max_body_bytes);
    evhttp_set_max_headers_size(h->http, (ev_ssize_t)cfg->max_header_bytes);
    evhttp_set_timeout(h->http, cfg->request_timeout);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, httpd_request_cb, h);
    evhttp_set_bevcb(h->http, httpd_conn_new_cb, h);
    l = httpd_listen(app->base, cfg, err, errlen);
    if (l == NULL) {
        httpd_free(h);
        return NULL;
    }
    h->bound = evhttp_bind_listener(h->http, l);
    h->listener = l;
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &sslen) == 0)
        h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    httpd_current = h;
    metrics_describe("passerelle_http_requests_total", METRICS_COUNTER, "HTTP requests received.");
    metrics_describe("passerelle_http_responses_total", METRICS_COUNTER,
                     "HTTP responses sent, by status code.");
    metrics_describe("passerelle_http_slow_clients_total", METRICS_COUNTER,
                     "Connections cut because a request took longer than request_timeout.");
    metrics_describe("passerelle_http_connections", METRICS_GAUGE, "Open client connections.");
    return h;
}

int
httpd_port(const struct httpd *h)
{
    return h->port;
}

void
httpd_stop_accepting(struct httpd *h)
{
    if (h->bound != NULL) {
        evhttp_del_accept_socket(h->http, h->bound);
        h->bound = NULL;
        h->listener = NULL;
    }
}

int
httpd_in_flight(const struct httpd *h)
{
    return h->in_flight;
}

int
httpd_connections(const struct httpd *h)
{
    return h->conns;
}

void
httpd_free(struct httpd *h)
{
    if (h == NULL)
        return;
    if (h->http != NULL)
        evhttp_free(h->http);
    /* Filters are finalized later by libevent; cut them loose from h now. */
    for (size_t i = 0; i < HTTPD_CONN_BUCKETS; i++) {
        for (struct httpd_conn *c = h->table[i]; c != NULL; c = c->next) {
            event_free(c->deadline);
            c->deadline = NULL;
            c->h = NULL;
        }
    }
    if (h->ssl_ctx != NULL)
        SSL_CTX_free(h->ssl_ctx);
    if (httpd_current == h)
        httpd_current = NULL;
    free(h);
}
