/* Outbound HTTP: libcurl multi driven by libevent, per-host queues, own redirects, SSRF guard. */
#include <assert.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "httpc.h"
#include "log.h"
#include "netguard.h"
#include "xmalloc.h"

#define HTTPC_MAX_URL               8192
#define HTTPC_MAX_REQ_HEADERS       32
#define HTTPC_MAX_HEADER_LINE       8192
#define HTTPC_MAX_REQ_BODY          (16u << 20)
#define HTTPC_MAX_RESP_HEADERS      100
#define HTTPC_MAX_RESP_HEADER_BYTES 65536
#define HTTPC_MAX_RESPONSE_CAP      (64u << 20)
#define HTTPC_MAX_PER_HOST_CAP      64
#define HTTPC_MAX_TIMEOUT_MS        600000L
#define HTTPC_MAX_CA_BYTES          (8u << 20)

enum call_state { CALL_QUEUED, CALL_RUNNING, CALL_DONE };

struct httpc_hop_headers {
    char *lines[HTTPC_MAX_REQ_HEADERS];
    size_t n;
};

/* A host:port with its running count and the requests waiting for a slot. */
struct httpc_host {
    char *key;
    int running;
    TAILQ_HEAD(, httpc_call) queue;
    TAILQ_ENTRY(httpc_host) link;
};

/*
 * One request through all its hops. Owned by the httpc from httpc_request until its
 * callback has returned; it sits on exactly one of: a host queue, curl's multi (running),
 * or the done list, and always on the all list.
 */
struct httpc_call {
    struct httpc *h;
    enum call_state state;
    httpc_done_fn cb;
    void *arg;
    httpc_sign_fn sign;
    void *sign_arg;

    char *method;
    char *url; /* current hop */
    char *body;
    size_t body_len;
    char *headers[HTTPC_MAX_REQ_HEADERS];
    size_t nheaders;

    struct httpc_host *host; /* queue we wait in, or slot we hold */
    int redirects;
    int started;
    int64_t start_ms, deadline_ms;

    CURL *easy;
    struct curl_slist *slist;
    struct httpc_hop_headers hop;
    char curl_err[CURL_ERROR_SIZE];
    int refused;   /* opensocket refused an address on this hop */
    int too_large; /* the write callback stopped the transfer */

    char *buf;
    size_t len, cap;
    struct httpc_header resp_hdrs[HTTPC_MAX_RESP_HEADERS];
    size_t nresp;
    size_t resp_bytes;

    enum httpc_error error;
    char errmsg[256];
    long status;

    TAILQ_ENTRY(httpc_call) qlink; /* host queue or done list */
    TAILQ_ENTRY(httpc_call) alink; /* all calls */
};

/* The event watching one socket curl asked us to watch. */
struct httpc_sock {
    struct httpc *h;
    curl_socket_t fd;
    struct event *ev;
    TAILQ_ENTRY(httpc_sock) link;
};

struct httpc {
    struct event_base *base;
    CURLM *multi;
    struct event *timer; /* curl's single timeout */
    struct event *kick;  /* deferred work: deliver callbacks, start queued hops */

    char *user_agent;
    long connect_ms, total_ms;
    int max_redirects;
    size_t max_body;
    int max_per_host;
    int allow_loopback;
    char *ca_blob;
    size_t ca_len;

    TAILQ_HEAD(, httpc_host) hosts;
    TAILQ_HEAD(, httpc_call) done;
    TAILQ_HEAD(, httpc_call) all;
    TAILQ_HEAD(, httpc_sock) socks;
    size_t running, queued, pending;
    int freeing;
};

static const char *const error_names[] = {
    "none",      "dns",       "connect",         "tls",
    "timeout",   "too_large", "refused_address", "too_many_redirects",
    "cancelled", "other",
};

static int64_t now_ms(void);
static int read_file_capped(const char *path, size_t cap, char **out, size_t *outlen, char *err,
                            size_t errlen);
static int load_ca_blob(struct httpc *h, const char *extra, char *err, size_t errlen);
static int valid_header_line(const char *line);
static void call_fail(struct httpc_call *c, enum httpc_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_finish(struct httpc_call *c);
static int call_route(struct httpc_call *c, int at_head);
static void call_free(struct httpc_call *c);
static void call_deliver(struct httpc_call *c);
static void call_detach_easy(struct httpc_call *c);
static void call_reset_response(struct httpc_call *c);
static void hop_start(struct httpc_call *c);
static void hop_done(struct httpc_call *c, CURLcode res);
static void hop_headers_clear(struct httpc_hop_headers *hh);
static void host_release(struct httpc_call *c);
static void host_free(struct httpc *h, struct httpc_host *host);
static void check_multi_info(struct httpc *h);
static void kick(struct httpc *h);
static void kick_cb(evutil_socket_t fd, short what, void *arg);
static void timer_cb(evutil_socket_t fd, short what, void *arg);
static void sock_event_cb(evutil_socket_t fd, short what, void *arg);
static int curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp);
static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata);
static size_t header_cb(char *buf, size_t size, size_t nitems, void *userdata);
static curl_socket_t opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr);

struct httpc *
httpc_new(struct event_base *base, const struct httpc_options *opt, char *err, size_t errlen)
{
    static const struct httpc_options defaults;
    struct httpc *h;

    if (opt == NULL)
        opt = &defaults;
    if (base == NULL) {
        snprintf(err, errlen, "httpc: no event base");
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "httpc: curl_global_init failed");
        return NULL;
    }
    h = xcalloc(1, sizeof(*h));
    h->base = base;
    TAILQ_INIT(&h->hosts);
    TAILQ_INIT(&h->done);
    TAILQ_INIT(&h->all);
    TAILQ_INIT(&h->socks);
    h->user_agent = xstrdup(opt->user_agent != NULL ? opt->user_agent : "passerelle");
    h->connect_ms = opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : 5000;
    h->total_ms = opt->total_timeout_ms > 0 ? opt->total_timeout_ms : 30000;
    if (h->connect_ms > HTTPC_MAX_TIMEOUT_MS)
        h->connect_ms = HTTPC_MAX_TIMEOUT_MS;
    if (h->total_ms > HTTPC_MAX_TIMEOUT_MS)
        h->total_ms = HTTPC_MAX_TIMEOUT_MS;
    h->max_redirects = opt->max_redirects == 0 ? 3 : opt->max_redirects;
    if (h->max_redirects > 20)
        h->max_redirects = 20;
    h->max_body = opt->max_response_bytes > 0 ? opt->max_response_bytes : 1u << 20;
    if (h->max_body > HTTPC_MAX_RESPONSE_CAP)
        h->max_body = HTTPC_MAX_RESPONSE_CAP;
    h->max_per_host = opt->max_per_host > 0 ? opt->max_per_host : 4;
    if (h->max_per_host > HTTPC_MAX_PER_HOST_CAP)
        h->max_per_host = HTTPC_MAX_PER_HOST_CAP;
    h->allow_loopback = opt->allow_loopback != 0;

    if (opt->extra_ca_file != NULL && load_ca_blob(h, opt->extra_ca_file, err, errlen) != 0)
        goto fail;
    h->multi = curl_multi_init();
    h->timer = evtimer_new(base, timer_cb, h);
    h->kick = event_new(base, -1, 0, kick_cb, h);
    if (h->multi == NULL || h->timer == NULL || h->kick == NULL) {
        snprintf(err, errlen, "httpc: cannot create the curl multi handle or events");
        goto fail;
    }
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    /* Our queue already holds the line; this only backs it up inside curl. */
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)h->max_per_host);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 256L);
    if (h->allow_loopback)
        log_warn("httpc_loopback_allowed", "note=%s", log_q("tests only"));
    return h;

fail:
    if (h->multi != NULL)
        curl_multi_cleanup(h->multi);
    if (h->timer != NULL)
        event_free(h->timer);
    if (h->kick != NULL)
        event_free(h->kick);
    free(h->ca_blob);
    free(h->user_agent);
    free(h);
    curl_global_cleanup();
    return NULL;
}

void
httpc_request(struct httpc *h, const struct httpc_req *req, httpc_done_fn cb, void *arg)
{
    struct httpc_call *c;

    assert(h != NULL && cb != NULL && !h->freeing);
    c = xcalloc(1, sizeof(*c));
    c->h = h;
    c->cb = cb;
    c->arg = arg;
    c->state = CALL_QUEUED;
    TAILQ_INSERT_TAIL(&h->all, c, alink);
    if (req == NULL || req->method == NULL || req->url == NULL) {
        c->url = xstrdup("");
        c->method = xstrdup("-");
        call_fail(c, HTTPC_ERR_OTHER, "missing method or url");
        return;
    }
    c->sign = req->sign;
    c->sign_arg = req->sign_arg;
    c->method = xstrndup(req->method, 16);
    c->url = xstrndup(req->url, HTTPC_MAX_URL + 1);
    if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "POST") != 0) {
        call_fail(c, HTTPC_ERR_OTHER, "method must be GET or POST");
        return;
    }
    if (strlen(c->url) > HTTPC_MAX_URL) {
        call_fail(c, HTTPC_ERR_OTHER, "url longer than %d bytes", HTTPC_MAX_URL);
        return;
    }
    if (req->nheaders > HTTPC_MAX_REQ_HEADERS || (req->nheaders > 0 && req->headers == NULL)) {
        call_fail(c, HTTPC_ERR_OTHER, "more than %d headers", HTTPC_MAX_REQ_HEADERS);
        return;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!valid_header_line(req->headers[i])) {
            call_fail(c, HTTPC_ERR_OTHER, "header %zu is malformed", i);
            return;
        }
        c->headers[c->nheaders++] = xstrdup(req->headers[i]);
    }
    if (req->body_len > HTTPC_MAX_REQ_BODY || (req->body_len > 0 && req->body == NULL)) {
        call_fail(c, HTTPC_ERR_OTHER, "body missing or larger than %u bytes", HTTPC_MAX_REQ_BODY);
        return;
    }
    if (req->body_len > 0 && strcmp(c->method, "POST") != 0) {
        call_fail(c, HTTPC_ERR_OTHER, "only POST carries a body");
        return;
    }
    if (strcmp(c->method, "POST") == 0) {
        c->body = xmalloc(req->body_len + 1);
        if (req->body_len > 0)
            memcpy(c->body, req->body, req->body_len);
        c->body[req->body_len] = '\0';
        c->body_len = req->body_len;
    }
    if (call_route(c, 0) != 0)
        call_finish(c);
}

const char *
httpc_response_header(const struct httpc_response *resp, const char *name)
{
    if (resp == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < resp->nheaders; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    }
    return NULL;
}

const char *
httpc_error_name(enum httpc_error e)
{
    if ((size_t)e >= sizeof(error_names) / sizeof(error_names[0]))
        return "unknown";
    return error_names[e];
}

int
httpc_hop_add_header(struct httpc_hop_headers *out, const char *line)
{
    if (out == NULL || out->n >= HTTPC_MAX_REQ_HEADERS || !valid_header_line(line))
        return -1;
    out->lines[out->n++] = xstrdup(line);
    return 0;
}

void
httpc_get_stats(const struct httpc *h, struct httpc_stats *st)
{
    st->running = h->running;
    st->queued = h->queued;
    st->pending = h->pending;
}

void
httpc_free(struct httpc *h)
{
    struct httpc_call *c;
    struct httpc_host *host;
    struct httpc_sock *sk;

    if (h == NULL)
        return;
    h->freeing = 1;
    /* Take every hop away from curl before any callback runs, so curl never sees a dead call. */
    TAILQ_FOREACH(c, &h->all, alink) {
        if (c->state == CALL_RUNNING) {
            call_detach_easy(c);
            c->state = CALL_QUEUED; /* treated as not finished below */
        } else if (c->state == CALL_QUEUED && c->host != NULL) {
            TAILQ_REMOVE(&c->host->queue, c, qlink);
        }
        if (c->state == CALL_DONE)
            TAILQ_REMOVE(&h->done, c, qlink);
        c->host = NULL;
    }
    while ((c = TAILQ_FIRST(&h->all)) != NULL) {
        if (c->state != CALL_DONE) {
            c->error = HTTPC_ERR_CANCELLED;
            snprintf(c->errmsg, sizeof(c->errmsg), "cancelled");
        }
        call_deliver(c);
        call_free(c);
    }
    while ((host = TAILQ_FIRST(&h->hosts)) != NULL)
        host_free(h, host);
    /* curl may still report sockets of cached connections as it closes them. */
    curl_multi_cleanup(h->multi);
    while ((sk = TAILQ_FIRST(&h->socks)) != NULL) {
        TAILQ_REMOVE(&h->socks, sk, link);
        if (sk->ev != NULL)
            event_free(sk->ev);
        free(sk);
    }
    event_free(h->timer);
    event_free(h->kick);
    free(h->ca_blob);
    free(h->user_agent);
    free(h);
    curl_global_cleanup();
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
read_file_capped(const char *path, size_t cap, char **out, size_t *outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf;
    size_t n;

    if (f == NULL || fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "httpc: cannot open %s", path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > cap) {
        snprintf(err, errlen, "httpc: %s is larger than %zu bytes", path, cap);
        fclose(f);
        return -1;
    }
    buf = xmalloc((size_t)st.st_size + 1);
    n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

/*
 * CURLOPT_CAINFO replaces the system store instead of adding to it, so the test CA goes in a
 * blob holding the system bundle followed by the extra file.
 */
static int
load_ca_blob(struct httpc *h, const char *extra, char *err, size_t errlen)
{
    char *sys = NULL, *add = NULL, *sys_path = NULL;
    size_t sys_len = 0, add_len = 0;
    CURL *probe;

    if (read_file_capped(extra, HTTPC_MAX_CA_BYTES, &add, &add_len, err, errlen) != 0)
        return -1;
    if (strstr(add, "-----BEGIN CERTIFICATE-----") == NULL) {
        snprintf(err, errlen, "httpc: %s holds no PEM certificate", extra);
        free(add);
        return -1;
    }
    probe = curl_easy_init();
    if (probe != NULL && curl_easy_getinfo(probe, CURLINFO_CAINFO, &sys_path) == CURLE_OK &&
        sys_path != NULL) {
        char ignored[256];

        /* A host without a system bundle still gets the test CA. */
        if (read_file_capped(sys_path, HTTPC_MAX_CA_BYTES, &sys, &sys_len, ignored,
                             sizeof(ignored)) != 0)
            sys_len = 0;
    }
    if (probe != NULL)
        curl_easy_cleanup(probe);
    h->ca_len = sys_len + 1 + add_len;
    h->ca_blob = xmalloc(h->ca_len + 1);
    if (sys_len > 0)
        memcpy(h->ca_blob, sys, sys_len);
    h->ca_blob[sys_len] = '\n';
    memcpy(h->ca_blob + sys_len + 1, add, add_len);
    h->ca_blob[h->ca_len] = '\0';
    free(sys);
    free(add);
    return 0;
}

/* "Name: value": a token name, a colon, no CR or LF anywhere (no header injection). */
static int
valid_header_line(const char *line)
{
    const char *colon;

    if (line == NULL || strnlen(line, HTTPC_MAX_HEADER_LINE + 1) > HTTPC_MAX_HEADER_LINE)
        return 0;
    colon = strchr(line, ':');
    if (colon == NULL || colon == line)
        return 0;
    for (const char *p = line; p < colon; p++) {
        if (!isgraph((unsigned char)*p))
            return 0;
    }
    return strpbrk(line, "\r\n") == NULL;
}

static void
call_fail(struct httpc_call *c, enum httpc_error e, const char *fmt, ...)
{
    va_list ap;

    c->error = e;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
    va_end(ap);
    call_finish(c);
}

/* Queues the callback; it runs from kick_cb so that it is never inside httpc_request. */
static void
call_finish(struct httpc_call *c)
{
    c->host = NULL; /* a finished call holds no slot and waits in no queue */
    c->state = CALL_DONE;
    TAILQ_INSERT_TAIL(&c->h->done, c, qlink);
    c->h->pending++;
    kick(c->h);
}

/*
 * Checks the current URL (scheme, host name, credentials) and puts the call in its host's
 * queue. Returns -1 with the call's error set (not finished) if the URL is not allowed.
 */
static int
call_route(struct httpc_call *c, int at_head)
{
    struct httpc *h = c->h;
    struct httpc_host *host;
    char *scheme = NULL, *hostname = NULL, *port = NULL, *user = NULL, *key = NULL;
    CURLU *u = curl_url();
    int rc = -1;

    c->error = HTTPC_ERR_OTHER;
    if (u == NULL) {
        snprintf(c->errmsg, sizeof(c->errmsg), "out of memory parsing url");
        return -1;
    }
    if (curl_url_set(u, CURLUPART_URL, c->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &hostname, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        snprintf(c->errmsg, sizeof(c->errmsg), "malformed url");
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(c->errmsg, sizeof(c->errmsg), "scheme must be http or https");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(c->errmsg, sizeof(c->errmsg), "credentials in url");
        goto out;
    }
    if (!h->allow_loopback && netguard_host_is_localhost(hostname)) {
        c->error = HTTPC_ERR_REFUSED_ADDRESS;
        snprintf(c->errmsg, sizeof(c->errmsg), "host is localhost");
        log_warn("httpc_refused", "url=%s reason=localhost", log_q(c->url));
        goto out;
    }
    for (char *p = hostname; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    key = xasprintf("%s://%s:%s", scheme, hostname, port);
    TAILQ_FOREACH(host, &h->hosts, link) {
        if (strcmp(host->key, key) == 0)
            break;
    }
    if (host == NULL) {
        host = xcalloc(1, sizeof(*host));
        host->key = key;
        key = NULL;
        TAILQ_INIT(&host->queue);
        TAILQ_INSERT_TAIL(&h->hosts, host, link);
    }
    /* A redirected request has waited once already: it goes ahead of newcomers. */
    if (at_head)
        TAILQ_INSERT_HEAD(&host->queue, c, qlink);
    else
        TAILQ_INSERT_TAIL(&host->queue, c, qlink);
    c->host = host;
    c->state = CALL_QUEUED;
    c->error = HTTPC_OK;
    h->queued++;
    kick(h);
    rc = 0;
out:
    free(key);
    curl_free(scheme);
    curl_free(hostname);
    curl_free(port);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}

static void
call_deliver(struct httpc_call *c)
{
    struct httpc_response resp;
    int64_t ms = c->started ? now_ms() - c->start_ms : 0;

    memset(&resp, 0, sizeof(resp));
    resp.error = c->error;
    resp.errmsg = c->errmsg;
    resp.status = c->status;
    resp.effective_url = c->url;
    resp.redirects = c->redirects;
    if (c->error == HTTPC_OK) {
        resp.body = c->buf != NULL ? c->buf : "";
        resp.body_len = c->len;
        resp.headers = c->resp_hdrs;
        resp.nheaders = c->nresp;
        log_debug("httpc_done", "method=%s url=%s status=%ld bytes=%zu redirects=%d ms=%lld",
                  c->method, log_q(c->url), c->status, c->len, c->redirects, (long long)ms);
    } else {
        log_info("httpc_fail", "method=%s url=%s error=%s msg=%s status=%ld ms=%lld", c->method,
                 log_q(c->url), httpc_error_name(c->error), log_q(c->errmsg), c->status,
                 (long long)ms);
    }
    c->cb(&resp, c->arg);
}

static void
call_reset_response(struct httpc_call *c)
{
    for (size_t i = 0; i < c->nresp; i++)
        free((char *)(uintptr_t)c->resp_hdrs[i].name); /* value shares the allocation */
    c->nresp = 0;
    c->resp_bytes = 0;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

static void
call_detach_easy(struct httpc_call *c)
{
    if (c->easy != NULL) {
        curl_multi_remove_handle(c->h->multi, c->easy);
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
        host_release(c);
    }
    curl_slist_free_all(c->slist);
    c->slist = NULL;
    hop_headers_clear(&c->hop);
}

static void
call_free(struct httpc_call *c)
{
    TAILQ_REMOVE(&c->h->all, c, alink);
    call_detach_easy(c);
    call_reset_response(c);
    for (size_t i = 0; i < c->nheaders; i++)
        free(c->headers[i]);
    free(c->method);
    free(c->url);
    free(c->body);
    free(c);
}

static void
hop_headers_clear(struct httpc_hop_headers *hh)
{
    for (size_t i = 0; i < hh->n; i++)
        free(hh->lines[i]);
    hh->n = 0;
}

/* Builds the curl handle for the current hop and hands it to the multi; holds a host slot. */
static void
hop_start(struct httpc_call *c)
{
    struct httpc *h = c->h;
    struct curl_slist *sl = NULL;
    CURL *e;
    int64_t left;
    int bad = 0;

    if (!c->started) {
        c->started = 1;
        c->start_ms = now_ms();
        c->deadline_ms = c->start_ms + h->total_ms;
    }
    left = c->deadline_ms - now_ms();
    if (left <= 0) {
        call_fail(c, HTTPC_ERR_TIMEOUT, "total timeout of %ld ms reached", h->total_ms);
        return;
    }
    call_reset_response(c);
    c->refused = c->too_large = 0;
    c->curl_err[0] = '\0';
    hop_headers_clear(&c->hop);
    if (c->sign != NULL &&
        c->sign(c->method, c->url, c->body, c->body_len, &c->hop, c->sign_arg) != 0) {
        call_fail(c, HTTPC_ERR_OTHER, "signing hook failed");
        return;
    }
    for (size_t i = 0; i < c->nheaders && !bad; i++)
        bad = (sl = curl_slist_append(sl, c->headers[i])) == NULL;
    for (size_t i = 0; i < c->hop.n && !bad; i++)
        bad = (sl = curl_slist_append(sl, c->hop.lines[i])) == NULL;
    /* evhttp and most servers handle bodies fine without the 100-continue round trip. */
    if (!bad)
        bad = (sl = curl_slist_append(sl, "Expect:")) == NULL;
    c->slist = sl;
    e = curl_easy_init();
    if (bad || e == NULL) {
        if (e != NULL)
            curl_easy_cleanup(e);
        call_fail(c, HTTPC_ERR_OTHER, "cannot set up the request");
        return;
    }
    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->slist);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(left < h->connect_ms ? left : h->connect_ms));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    /* Decoded size is what write_cb caps, so compression cannot smuggle a larger body in. */
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_body);
    /* An environment proxy would make the address check judge the proxy, not the target. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    if (strcmp(c->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    if (curl_easy_setopt(e, CURLOPT_URL, c->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK)
        bad = 1;
    if (!bad && h->ca_blob != NULL) {
        struct curl_blob blob = { h->ca_blob, h->ca_len, CURL_BLOB_NOCOPY };

        bad = curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK;
    }
    if (bad || curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        call_fail(c, HTTPC_ERR_OTHER, "curl refused the request options");
        return;
    }
    c->easy = e;
    c->state = CALL_RUNNING;
    c->host->running++;
    h->running++;
}

static int
is_followed(const char *method, long status)
{
    if (strcmp(method, "GET") == 0)
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    return status == 307 || status == 308;
}

static void
hop_done(struct httpc_call *c, CURLcode res)
{
    struct httpc *h = c->h;
    char *location = NULL, *next = NULL;
    long status = 0;

    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    c->status = status;
    if (res == CURLE_OK && h->max_redirects > 0 && is_followed(c->method, status) &&
        curl_easy_getinfo(c->easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
        location != NULL)
        next = xstrdup(location);
    call_detach_easy(c);

    if (res != CURLE_OK) {
        enum httpc_error e;

        switch (res) {
        case CURLE_COULDNT_RESOLVE_HOST:
            e = HTTPC_ERR_DNS;
            break;
        case CURLE_COULDNT_CONNECT:
            e = c->refused ? HTTPC_ERR_REFUSED_ADDRESS : HTTPC_ERR_CONNECT;
            break;
        case CURLE_OPERATION_TIMEDOUT:
            e = HTTPC_ERR_TIMEOUT;
            break;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CRL_BADFILE:
            e = HTTPC_ERR_TLS;
            break;
        case CURLE_FILESIZE_EXCEEDED:
            e = HTTPC_ERR_TOO_LARGE;
            break;
        case CURLE_WRITE_ERROR:
            e = c->too_large ? HTTPC_ERR_TOO_LARGE : HTTPC_ERR_OTHER;
            break;
        default:
            e = c->refused ? HTTPC_ERR_REFUSED_ADDRESS : HTTPC_ERR_OTHER;
            break;
        }
        if (e == HTTPC_ERR_REFUSED_ADDRESS)
            call_fail(c, e, "address not allowed");
        else if (e == HTTPC_ERR_TOO_LARGE)
            call_fail(c, e, "response larger than %zu bytes", h->max_body);
        else
            call_fail(c, e, "%s", c->curl_err[0] != '\0' ? c->curl_err : curl_easy_strerror(res));
        free(next);
        return;
    }
    if (next == NULL) {
        call_finish(c);
        return;
    }
    if (c->redirects >= h->max_redirects) {
        free(next);
        call_fail(c, HTTPC_ERR_TOO_MANY_REDIRECTS, "more than %d redirects", h->max_redirects);
        return;
    }
    c->redirects++;
    log_debug("httpc_redirect", "from=%s to=%s status=%ld", log_q(c->url), log_q(next), status);
    free(c->url);
    c->url = next;
    call_reset_response(c);
    c->status = 0;
    if (call_route(c, 1) != 0)
        call_finish(c);
}

/* Gives the call's host slot back; the kick starts the next queued hop. */
static void
host_release(struct httpc_call *c)
{
    if (c->host != NULL) {
        c->host->running--;
        c->h->running--;
        c->host = NULL;
        kick(c->h);
    }
}

static void
host_free(struct httpc *h, struct httpc_host *host)
{
    TAILQ_REMOVE(&h->hosts, host, link);
    free(host->key);
    free(host);
}

static void
check_multi_info(struct httpc *h)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        CURL *e = msg->easy_handle;
        CURLcode res = msg->data.result;
        char *priv = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        if (priv != NULL)
            hop_done((struct httpc_call *)(void *)priv, res);
    }
}

static void
kick(struct httpc *h)
{
    if (!h->freeing)
        event_active(h->kick, EV_TIMEOUT, 1);
}

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpc *h = arg;
    struct httpc_host *host, *next;
    struct httpc_call *c;

    (void)fd;
    (void)what;
    while ((c = TAILQ_FIRST(&h->done)) != NULL) {
        TAILQ_REMOVE(&h->done, c, qlink);
        h->pending--;
        call_deliver(c);
        call_free(c);
    }
    for (host = TAILQ_FIRST(&h->hosts); host != NULL; host = next) {
        while (host->running < h->max_per_host && (c = TAILQ_FIRST(&host->queue)) != NULL) {
            TAILQ_REMOVE(&host->queue, c, qlink);
            h->queued--;
            hop_start(c);
        }
        next = TAILQ_NEXT(host, link);
        if (host->running == 0 && TAILQ_EMPTY(&host->queue))
            host_free(h, host);
    }
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpc *h = arg;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(h);
}

static void
sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpc_sock *sk = arg;
    struct httpc *h = sk->h; /* sk may be freed by curl_socket_cb inside socket_action */
    int flags = 0, running;

    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(h->multi, fd, flags, &running);
    check_multi_info(h);
}

static int
curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct httpc *h = userp;
    struct httpc_sock *sk = socketp;
    short flags = EV_PERSIST;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (sk != NULL) {
            TAILQ_REMOVE(&h->socks, sk, link);
            if (sk->ev != NULL)
                event_free(sk->ev);
            free(sk);
        }
        return 0;
    }
    if (sk == NULL) {
        sk = xcalloc(1, sizeof(*sk));
        sk->h = h;
        sk->fd = s;
        TAILQ_INSERT_TAIL(&h->socks, sk, link);
        curl_multi_assign(h->multi, s, sk);
    } else if (sk->ev != NULL) {
        event_free(sk->ev);
        sk->ev = NULL;
    }
    if (what & CURL_POLL_IN)
        flags |= EV_READ;
    if (what & CURL_POLL_OUT)
        flags |= EV_WRITE;
    sk->ev = event_new(h->base, s, flags, sock_event_cb, sk);
    if (sk->ev == NULL || event_add(sk->ev, NULL) != 0) {
        log_error("httpc_event", "fd=%d msg=%s", (int)s, log_q("cannot watch socket"));
        return -1;
    }
    return 0;
}

static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct httpc *h = userp;
    struct timeval tv;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(h->timer);
        return 0;
    }
    /* Never call socket_action from here: curl forbids it; a 0 ms timer runs it next. */
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(h->timer, &tv);
    return 0;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct httpc_call *c = userdata;
    size_t n = size * nmemb;
    size_t max = c->h->max_body;

    if (n > max || c->len > max - n) {
        c->too_large = 1;
        return 0; /* anything but n makes curl stop with CURLE_WRITE_ERROR */
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap < 16384 ? 16384 : c->cap * 2;

        if (cap < c->len + n + 1)
            cap = c->len + n + 1;
        if (cap > max + 1)
            cap = max + 1;
        c->buf = xrealloc(c->buf, cap);
        c->cap = cap;
    }
    memcpy(c->buf + c->len, ptr, n);
    c->len += n;
    c->buf[c->len] = '\0';
    return n;
}

/* Keeps the headers of the latest response only: 1xx and redirect hops start a new set. */
static size_t
header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct httpc_call *c = userdata;
    size_t n = size * nitems, namelen, vstart, vend;
    const char *colon;
    char *copy;

    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        for (size_t i = 0; i < c->nresp; i++)
            free((char *)(uintptr_t)c->resp_hdrs[i].name);
        c->nresp = 0;
        c->resp_bytes = 0;
        return n;
    }
    colon = memchr(buf, ':', n);
    if (colon == NULL || colon == buf || c->nresp >= HTTPC_MAX_RESP_HEADERS ||
        c->resp_bytes + n > HTTPC_MAX_RESP_HEADER_BYTES)
        return n; /* blank line, folding, or over our caps: not kept */
    namelen = (size_t)(colon - buf);
    vstart = namelen + 1;
    vend = n;
    while (vend > vstart && (buf[vend - 1] == '\r' || buf[vend - 1] == '\n' ||
                             buf[vend - 1] == ' ' || buf[vend - 1] == '\t'))
        vend--;
    while (vstart < vend && (buf[vstart] == ' ' || buf[vstart] == '\t'))
        vstart++;
    /* One allocation: "name\0value\0". */
    copy = xmalloc(namelen + 1 + (vend - vstart) + 1);
    memcpy(copy, buf, namelen);
    copy[namelen] = '\0';
    memcpy(copy + namelen + 1, buf + vstart, vend - vstart);
    copy[namelen + 1 + (vend - vstart)] = '\0';
    c->resp_hdrs[c->nresp].name = copy;
    c->resp_hdrs[c->nresp].value = copy + namelen + 1;
    c->nresp++;
    c->resp_bytes += n;
    return n;
}

/* The resolved address is judged here, after DNS, so a name cannot smuggle in a private IP. */
static curl_socket_t
opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct httpc_call *c = clientp;
    char ip[INET6_ADDRSTRLEN] = "-";

    if (purpose != CURLSOCKTYPE_IPCXN ||
        !netguard_sockaddr_allowed(&addr->addr, addr->addrlen, c->h->allow_loopback)) {
        const struct sockaddr *sa = &addr->addr;

        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, ip,
                      sizeof(ip));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, ip,
                      sizeof(ip));
        c->refused = 1;
        log_warn("httpc_refused", "url=%s reason=address ip=%s", log_q(c->url), ip);
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}
