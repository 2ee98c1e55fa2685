/* Inbound HTTP: evhttp on our own listener, request limits, TLS, replies, graceful stop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "app.h"
#include "config.h"
#include "connguard.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "xmalloc.h"

struct httpd {
    struct app *app;
    httpd_dispatch_fn dispatch;
    void *dispatch_arg;
    struct evhttp *http;
    struct evhttp_bound_socket *bound; /* NULL once we stopped accepting */
    struct evconnlistener *listener;   /* owned by bound */
    struct event *relisten;            /* accept paused after EMFILE and the like */
    struct connguard *guard;
    SSL_CTX *ssl_ctx; /* NULL without TLS */
    int port;
    int in_flight;
};

/* One server per process: the reply helpers tell it of each answer through httpd_answered. */
static struct httpd *httpd_current;

/* The in-flight count (graceful shutdown waits on it) follows every request in and out. */
static void
httpd_count(struct httpd *h, int delta)
{
    h->in_flight += delta;
    metrics_set("passerelle_http_in_flight", "", h->in_flight);
}

static void
httpd_answered(void *arg, struct evhttp_request *req)
{
    struct httpd *h = arg;

    httpd_count(h, -1);
    connguard_answered(h->guard, req);
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

/*
 * Framing that evhttp 2.1 reads leniently: it takes the first of several Content-Lengths and
 * any Transfer-Encoding but exactly "chunked" as none. A proxy in front may frame the same
 * bytes otherwise (request smuggling), so such a request is refused and its connection closed.
 */
static const char *
httpd_bad_framing(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    struct evkeyval *kv;
    const char *cl = NULL;
    int te = 0;

    TAILQ_FOREACH(kv, h, next) {
        if (strcasecmp(kv->key, "Content-Length") == 0) {
            if (cl != NULL && strcmp(cl, kv->value) != 0)
                return "conflicting Content-Length headers";
            cl = kv->value;
        } else if (strcasecmp(kv->key, "Transfer-Encoding") == 0) {
            if (te++ > 0 || strcasecmp(kv->value, "chunked") != 0)
                return "unsupported Transfer-Encoding";
        }
    }
    return te > 0 && cl != NULL ? "both Content-Length and Transfer-Encoding" : NULL;
}

/* Every request enters here: limits first, then the dispatcher main.c gave. */
static void
httpd_request_cb(struct evhttp_request *req, void *arg)
{
    struct httpd *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *why;
    char *path;
    size_t len;

    httpd_count(h, 1);
    connguard_dispatched(h->guard, req);
    metrics_add("passerelle_http_requests_total", "", 1);
    if (h->bound == NULL) {
        /* A keep-alive connection sent another request while we are stopping. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        reply_fail(req, REPLY_ERR_UNAVAILABLE, "shutting down");
        return;
    }
    if (httpd_count_headers(req) > h->app->cfg->max_headers) {
        log_info("http_rejected", "reason=too_many_headers method=%s",
                 httpd_method_name(evhttp_request_get_command(req)));
        metrics_add("passerelle_http_responses_total", "code=\"431\"", 1);
        httpd_answered(h, req);
        evhttp_send_error(req, 431, reply_reason(431));
        return;
    }
    if ((why = httpd_bad_framing(req)) != NULL) {
        log_info("http_rejected", "reason=framing method=%s",
                 httpd_method_name(evhttp_request_get_command(req)));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        reply_fail(req, REPLY_ERR_BAD_REQUEST, why);
        return;
    }
    if (raw == NULL || *raw == '\0')
        raw = "/";
    path = evhttp_uridecode(raw, 0, &len);
    if (path == NULL || strlen(path) != len || path[0] != '/') {
        free(path);
        reply_fail(req, REPLY_ERR_BAD_REQUEST, "malformed path");
        return;
    }
    log_debug("http_request", "method=%s path=%s",
              httpd_method_name(evhttp_request_get_command(req)), log_path(path));
    if (evbuffer_get_length(evhttp_request_get_input_buffer(req)) >
        (strcmp(path, REPLY_UPLOAD_PATH) == 0 ? h->app->cfg->max_archive_bytes
                                              : h->app->cfg->max_body_bytes)) {
        free(path);
        reply_fail(req, REPLY_ERR_TOO_LARGE, "request body too large");
        return;
    }
    h->dispatch(h->dispatch_arg, req, path);
    free(path);
}

/* Each accepted connection's bufferevent, made here so that the guard watches it from the start. */
static struct bufferevent *
httpd_bev_cb(struct event_base *base, void *arg)
{
    struct httpd *h = arg;
    struct bufferevent *bev;

    /* With BEV_OPT_CLOSE_ON_FREE the bufferevent owns the SSL and frees it. */
    if (h->ssl_ctx != NULL)
        bev = bufferevent_openssl_socket_new(base, -1, SSL_new(h->ssl_ctx),
                                             BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    else
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev != NULL)
        connguard_watch(h->guard, bev);
    return bev;
}

static void
httpd_relisten_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpd *h = arg;

    (void)fd;
    (void)what;
    if (h->bound != NULL)
        evconnlistener_enable(h->listener);
}

/*
 * accept() failed. Out of descriptors or memory the listening socket stays readable, and
 * libevent would call accept again at once, forever: pause accepting for 100 ms instead.
 */
static void
httpd_accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct httpd *h = arg;
    int e = EVUTIL_SOCKET_ERROR();
    struct timeval tv = { 0, 100000 };

    log_warn("http_accept_failed", "error=%s connections=%d",
             log_q(evutil_socket_error_to_string(e)), connguard_count(h->guard));
    evconnlistener_disable(l);
    evtimer_add(h->relisten, &tv);
}

/*
 * Raises the soft limit on descriptors to the hard one, and returns how many connections
 * fit under it next to the database pool, deliveries and fetches (never more than asked).
 */
static int
httpd_max_connections(const struct config *cfg)
{
    struct rlimit rl;
    long reserve = cfg->db_pool_size + 2L * cfg->queue_max_in_flight + 256;
    long fit;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return cfg->max_connections;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)cfg->max_connections + reserve)
        return cfg->max_connections;
    fit = (long)rl.rlim_cur - reserve;
    if (fit < 16)
        fit = 16;
    log_warn("http_connections_capped", "max_connections=%d nofile=%lld effective=%ld",
             cfg->max_connections, (long long)rl.rlim_cur, fit);
    return (int)fit;
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

/*
 * Binds the listener. With reuse_port, SO_REUSEPORT lets several processes share one port (the
 * kernel spreads connections over them); without it a second server on a busy port fails at
 * start instead of silently taking half the traffic.
 */
static struct evconnlistener *
httpd_listen(struct event_base *base, const struct config *cfg, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char spec[128];
    struct evconnlistener *l;
    unsigned flags;

    /* The address alone: libevent's parser refuses port 0, which asks the kernel for one. */
    snprintf(spec, sizeof(spec), strchr(cfg->listen_addr, ':') != NULL ? "[%s]" : "%s",
             cfg->listen_addr);
    memset(&ss, 0, sizeof(ss));
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) < 0) {
        snprintf(err, errlen, "listen_addr: \"%s\" is not an IP address", cfg->listen_addr);
        return NULL;
    }
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)cfg->listen_port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)cfg->listen_port);
    snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), ":%d", cfg->listen_port);
    flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    if (cfg->reuse_port)
        flags |= LEV_OPT_REUSEABLE_PORT;
    l = evconnlistener_new_bind(base, NULL, NULL, flags, 1024, (struct sockaddr *)&ss, sslen);
    if (l == NULL)
        snprintf(err, errlen, "listen_port: cannot listen on %s: %s", spec,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    return l;
}

struct httpd *
httpd_new(struct app *app, httpd_dispatch_fn dispatch, void *arg, char *err, size_t errlen)
{
    const struct config *cfg = app->cfg;
    struct httpd *h = xcalloc(1, sizeof(*h));
    struct evconnlistener *l;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);

    h->app = app;
    h->dispatch = dispatch;
    h->dispatch_arg = arg;
    if (*cfg->tls_cert != '\0') {
        h->ssl_ctx = httpd_tls_ctx(cfg, err, errlen);
        if (h->ssl_ctx == NULL) {
            free(h);
            return NULL;
        }
    }
    h->http = evhttp_new(app->base);
    {
        struct connguard_options go = { 0 };

        go.max_connections = httpd_max_connections(cfg);
        go.header_ms = cfg->header_timeout * 1000L;
        go.body_ms = cfg->body_timeout * 1000L;
        go.max_body = cfg->max_body_bytes;
        go.max_upload = cfg->max_archive_bytes > cfg->max_body_bytes ? cfg->max_archive_bytes
                                                                     : cfg->max_body_bytes;
        go.upload_path = REPLY_UPLOAD_PATH;
        go.max_head = cfg->max_header_bytes;
        h->guard = connguard_new(app->base, &go);
    }
    /*
     * The guard sets each request's body cap from its request line (the upload's is the
     * larger), so evhttp refuses an oversized Content-Length with 413 before reading it;
     * httpd_request_cb checks again by the decoded path.
     */
    evhttp_set_max_body_size(h->http, (ev_ssize_t)cfg->max_body_bytes);
    evhttp_set_max_headers_size(h->http, (ev_ssize_t)cfg->max_header_bytes);
    evhttp_set_timeout(h->http, cfg->request_timeout);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, httpd_request_cb, h);
    evhttp_set_bevcb(h->http, httpd_bev_cb, h);
    l = httpd_listen(app->base, cfg, err, errlen);
    if (l == NULL) {
        httpd_free(h);
        return NULL;
    }
    h->bound = evhttp_bind_listener(h->http, l);
    h->listener = l;
    h->relisten = evtimer_new(app->base, httpd_relisten_cb, h);
    evconnlistener_set_error_cb(l, httpd_accept_error_cb);
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &sslen) == 0)
        h->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    httpd_current = h;
    reply_set_answered(httpd_answered, h);
    metrics_describe("passerelle_http_requests_total", METRICS_COUNTER, "HTTP requests received.");
    metrics_describe("passerelle_http_responses_total", METRICS_COUNTER,
                     "HTTP responses sent, by status code.");
    metrics_describe("passerelle_http_in_flight", METRICS_GAUGE,
                     "Requests received and not yet answered.");
    return h;
}

void
httpd_set_upload_hold(struct httpd *h, connguard_hold_fn fn, void *arg)
{
    connguard_set_hold(h->guard, fn, arg);
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
    }
}

int
httpd_in_flight(const struct httpd *h)
{
    return h->in_flight;
}

void
httpd_free(struct httpd *h)
{
    if (h == NULL)
        return;
    if (h->http != NULL)
        evhttp_free(h->http);
    connguard_free(h->guard);
    if (h->relisten != NULL)
        event_free(h->relisten);
    if (h->ssl_ctx != NULL)
        SSL_CTX_free(h->ssl_ctx);
    if (httpd_current == h) {
        reply_set_answered(NULL, NULL);
        httpd_current = NULL;
    }
    free(h);
}
