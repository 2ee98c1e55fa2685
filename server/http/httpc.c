/* Outbound HTTP: the client's API, per-host queues, its own redirects, the URL guard. */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "err.h"
#include "httpc.h"
#include "httpc_internal.h"
#include "log.h"
#include "monotime.h"
#include "netguard.h"
#include "xmalloc.h"

#define HTTPC_MAX_URL          8192
#define HTTPC_MAX_HEADER_LINE  8192
#define HTTPC_MAX_REQ_BODY     (16u << 20)
#define HTTPC_MAX_RESPONSE_CAP (64u << 20)
#define HTTPC_MAX_PER_HOST_CAP 64
#define HTTPC_MAX_TIMEOUT_MS   600000L
#define HTTPC_MAX_CA_BYTES     (8u << 20)

static const char *const error_names[] = {
    "none",      "dns",       "connect",         "tls",
    "timeout",   "too_large", "refused_address", "too_many_redirects",
    "cancelled", "other",
};

static void httpc_hop_done(struct httpc_call *c, CURLcode res);
static int httpc_read_file_capped(const char *path, size_t cap, char **out, size_t *outlen,
                                  char *err, size_t errlen);
static int httpc_load_ca_blob(struct httpc *h, const char *extra, char *err, size_t errlen);
static int httpc_valid_header_line(const char *line);
static void httpc_call_fail(struct httpc_call *c, enum httpc_error e);
static void httpc_call_finish(struct httpc_call *c);
static int httpc_call_route(struct httpc_call *c, int at_head);
static void httpc_call_free(struct httpc_call *c);
static void httpc_call_deliver(struct httpc_call *c);
static void httpc_call_detach_easy(struct httpc_call *c);
static void httpc_call_reset_response(struct httpc_call *c);
static void httpc_hop_start(struct httpc_call *c);
static void httpc_hop_headers_clear(struct httpc_hop_headers *hh);
static void httpc_host_release(struct httpc_call *c);
static void httpc_host_free(struct httpc *h, struct httpc_host *host);
static void httpc_kick(struct httpc *h);
static void httpc_kick_cb(evutil_socket_t fd, short what, void *arg);

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

    if (opt->extra_ca_file != NULL && httpc_load_ca_blob(h, opt->extra_ca_file, err, errlen) != 0)
        goto fail;
    h->kick = event_new(base, -1, 0, httpc_kick_cb, h);
    if (h->kick == NULL || httpc_curl_open(h, httpc_hop_done) != 0) {
        snprintf(err, errlen, "httpc: cannot create the curl multi handle or events");
        goto fail;
    }
    if (h->allow_loopback)
        log_warn("httpc_loopback_allowed", "note=%s", log_q("tests only"));
    return h;

fail:
    httpc_curl_close(h);
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
    c->state = HTTPC_CALL_QUEUED;
    TAILQ_INSERT_TAIL(&h->all, c, alink);
    if (req == NULL || req->method == NULL || req->url == NULL) {
        c->url = xstrdup("");
        c->method = xstrdup("-");
        err_set(c->errmsg, sizeof(c->errmsg), "missing method or url");
        httpc_call_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    c->sign = req->sign;
    c->sign_arg = req->sign_arg;
    c->req_deadline_ms = req->deadline_ms > 0 ? (int64_t)req->deadline_ms : 0;
    c->method = xstrndup(req->method, 16);
    c->url = xstrndup(req->url, HTTPC_MAX_URL + 1);
    if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "POST") != 0) {
        err_set(c->errmsg, sizeof(c->errmsg), "method must be GET or POST");
        httpc_call_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    if (strlen(c->url) > HTTPC_MAX_URL) {
        err_set(c->errmsg, sizeof(c->errmsg), "url longer than %d bytes", HTTPC_MAX_URL);
        httpc_call_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    if (req->nheaders > HTTPC_MAX_REQ_HEADERS || (req->nheaders > 0 && req->headers == NULL)) {
        err_set(c->errmsg, sizeof(c->errmsg), "more than %d headers", HTTPC_MAX_REQ_HEADERS);
        httpc_call_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!httpc_valid_header_line(req->headers[i])) {
            err_set(c->errmsg, sizeof(c->errmsg), "header %zu is malformed", i);
            httpc_call_fail(c, HTTPC_ERR_OTHER);
            return;
        }
        c->headers[c->nheaders++] = xstrdup(req->headers[i]);
    }
    if (req->body_len > HTTPC_MAX_REQ_BODY || (req->body_len > 0 && req->body == NULL)) {
        err_set(c->errmsg, sizeof(c->errmsg), "body missing or larger than %u bytes",
                HTTPC_MAX_REQ_BODY);
        httpc_call_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    if (req->body_len > 0 && strcmp(c->method, "POST") != 0) {
        err_set(c->errmsg, sizeof(c->errmsg), "only POST carries a body");
        httpc_call_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    if (strcmp(c->method, "POST") == 0) {
        c->body = xmalloc(req->body_len + 1);
        if (req->body_len > 0)
            memcpy(c->body, req->body, req->body_len);
        c->body[req->body_len] = '\0';
        c->body_len = req->body_len;
    }
    if (httpc_call_route(c, 0) != 0)
        httpc_call_finish(c);
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
    if (out == NULL || out->n >= HTTPC_MAX_REQ_HEADERS || !httpc_valid_header_line(line))
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

    if (h == NULL)
        return;
    h->freeing = 1;
    /* Take every hop away from curl before any callback runs, so curl never sees a dead call. */
    TAILQ_FOREACH(c, &h->all, alink) {
        if (c->state == HTTPC_CALL_RUNNING) {
            httpc_call_detach_easy(c);
            c->state = HTTPC_CALL_QUEUED; /* treated as not finished below */
        } else if (c->state == HTTPC_CALL_QUEUED && c->host != NULL) {
            TAILQ_REMOVE(&c->host->queue, c, qlink);
        }
        if (c->state == HTTPC_CALL_DONE)
            TAILQ_REMOVE(&h->done, c, qlink);
        c->host = NULL;
    }
    while ((c = TAILQ_FIRST(&h->all)) != NULL) {
        if (c->state != HTTPC_CALL_DONE) {
            c->error = HTTPC_ERR_CANCELLED;
            err_set(c->errmsg, sizeof(c->errmsg), "cancelled");
        }
        httpc_call_deliver(c);
        httpc_call_free(c);
    }
    while ((host = TAILQ_FIRST(&h->hosts)) != NULL)
        httpc_host_free(h, host);
    httpc_curl_close(h);
    event_free(h->kick);
    free(h->ca_blob);
    free(h->user_agent);
    free(h);
    curl_global_cleanup();
}

static int
httpc_read_file_capped(const char *path, size_t cap, char **out, size_t *outlen, char *err,
                       size_t errlen)
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
httpc_load_ca_blob(struct httpc *h, const char *extra, char *err, size_t errlen)
{
    char *sys = NULL, *add = NULL, *sys_path = NULL;
    size_t sys_len = 0, add_len = 0;
    CURL *probe;

    if (httpc_read_file_capped(extra, HTTPC_MAX_CA_BYTES, &add, &add_len, err, errlen) != 0)
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
        if (httpc_read_file_capped(sys_path, HTTPC_MAX_CA_BYTES, &sys, &sys_len, ignored,
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
httpc_valid_header_line(const char *line)
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

/* Ends the call with error e; its message is already in c->errmsg. */
static void
httpc_call_fail(struct httpc_call *c, enum httpc_error e)
{
    c->error = e;
    httpc_call_finish(c);
}

/* Queues the callback; it runs from httpc_kick_cb so that it is never inside httpc_request. */
static void
httpc_call_finish(struct httpc_call *c)
{
    c->host = NULL; /* a finished call holds no slot and waits in no queue */
    c->state = HTTPC_CALL_DONE;
    TAILQ_INSERT_TAIL(&c->h->done, c, qlink);
    c->h->pending++;
    httpc_kick(c->h);
}

/*
 * Checks the current URL (scheme, host name, credentials) and puts the call in its host's
 * queue. Returns -1 with the call's error set (not finished) if the URL is not allowed.
 */
static int
httpc_call_route(struct httpc_call *c, int at_head)
{
    struct httpc *h = c->h;
    struct httpc_host *host;
    char *scheme = NULL, *hostname = NULL, *port = NULL, *user = NULL, *key = NULL;
    CURLU *u = curl_url();
    int rc = -1;

    c->error = HTTPC_ERR_OTHER;
    if (u == NULL) {
        err_set(c->errmsg, sizeof(c->errmsg), "out of memory parsing url");
        return -1;
    }
    if (curl_url_set(u, CURLUPART_URL, c->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &hostname, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        err_set(c->errmsg, sizeof(c->errmsg), "malformed url");
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        err_set(c->errmsg, sizeof(c->errmsg), "scheme must be http or https");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        err_set(c->errmsg, sizeof(c->errmsg), "credentials in url");
        goto out;
    }
    if (!h->allow_loopback && netguard_host_is_localhost(hostname)) {
        c->error = HTTPC_ERR_REFUSED_ADDRESS;
        err_set(c->errmsg, sizeof(c->errmsg), "host is localhost");
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
    c->state = HTTPC_CALL_QUEUED;
    c->error = HTTPC_OK;
    h->queued++;
    httpc_kick(h);
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
httpc_call_deliver(struct httpc_call *c)
{
    struct httpc_response resp;
    int64_t ms = c->started ? monotime_ms() - c->start_ms : 0;

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
httpc_call_reset_response(struct httpc_call *c)
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
httpc_call_detach_easy(struct httpc_call *c)
{
    if (c->easy != NULL) {
        curl_multi_remove_handle(c->h->multi, c->easy);
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
        httpc_host_release(c);
    }
    curl_slist_free_all(c->slist);
    c->slist = NULL;
    httpc_hop_headers_clear(&c->hop);
}

static void
httpc_call_free(struct httpc_call *c)
{
    TAILQ_REMOVE(&c->h->all, c, alink);
    httpc_call_detach_easy(c);
    httpc_call_reset_response(c);
    for (size_t i = 0; i < c->nheaders; i++)
        free(c->headers[i]);
    free(c->method);
    free(c->url);
    free(c->body);
    free(c);
}

static void
httpc_hop_headers_clear(struct httpc_hop_headers *hh)
{
    for (size_t i = 0; i < hh->n; i++)
        free(hh->lines[i]);
    hh->n = 0;
}

/* Starts the current hop within what is left of the call's time, signed if asked. */
static void
httpc_hop_start(struct httpc_call *c)
{
    struct httpc *h = c->h;
    const char *why;
    int64_t left;

    if (!c->started) {
        c->started = 1;
        c->start_ms = monotime_ms();
        c->deadline_ms = c->start_ms + h->total_ms;
        if (c->req_deadline_ms > 0 && c->req_deadline_ms < c->deadline_ms)
            c->deadline_ms = c->req_deadline_ms;
    }
    left = c->deadline_ms - monotime_ms();
    if (left <= 0) {
        err_set(c->errmsg, sizeof(c->errmsg), "total timeout of %ld ms reached", h->total_ms);
        httpc_call_fail(c, HTTPC_ERR_TIMEOUT);
        return;
    }
    httpc_call_reset_response(c);
    c->refused = c->too_large = 0;
    c->curl_err[0] = '\0';
    httpc_hop_headers_clear(&c->hop);
    if (c->sign != NULL &&
        c->sign(c->method, c->url, c->body, c->body_len, &c->hop, c->sign_arg) != 0) {
        err_set(c->errmsg, sizeof(c->errmsg), "signing hook failed");
        httpc_call_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    why = httpc_curl_start(c, left);
    if (why != NULL) {
        err_set(c->errmsg, sizeof(c->errmsg), "%s", why);
        httpc_call_fail(c, HTTPC_ERR_OTHER);
        return;
    }
    c->state = HTTPC_CALL_RUNNING;
    c->host->running++;
    h->running++;
}

static int
httpc_is_followed(const char *method, long status)
{
    if (strcmp(method, "GET") == 0)
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    return status == 307 || status == 308;
}

/* Ends the hop curl reports done: a response, a redirect to follow, or an error. */
static void
httpc_hop_done(struct httpc_call *c, CURLcode res)
{
    struct httpc *h = c->h;
    char *location = NULL, *next = NULL;
    long status = 0;

    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    c->status = status;
    if (res == CURLE_OK && h->max_redirects > 0 && httpc_is_followed(c->method, status) &&
        curl_easy_getinfo(c->easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK &&
        location != NULL)
        next = xstrdup(location);
    httpc_call_detach_easy(c);

    if (res != CURLE_OK) {
        enum httpc_error e = httpc_curl_error(c, res);

        if (e == HTTPC_ERR_REFUSED_ADDRESS)
            err_set(c->errmsg, sizeof(c->errmsg), "address not allowed");
        else if (e == HTTPC_ERR_TOO_LARGE)
            err_set(c->errmsg, sizeof(c->errmsg), "response larger than %zu bytes", h->max_body);
        else
            err_set(c->errmsg, sizeof(c->errmsg), "%s",
                    c->curl_err[0] != '\0' ? c->curl_err : curl_easy_strerror(res));
        httpc_call_fail(c, e);
        free(next);
        return;
    }
    if (next == NULL) {
        httpc_call_finish(c);
        return;
    }
    if (c->redirects >= h->max_redirects) {
        free(next);
        err_set(c->errmsg, sizeof(c->errmsg), "more than %d redirects", h->max_redirects);
        httpc_call_fail(c, HTTPC_ERR_TOO_MANY_REDIRECTS);
        return;
    }
    c->redirects++;
    log_debug("httpc_redirect", "from=%s to=%s status=%ld", log_q(c->url), log_q(next), status);
    free(c->url);
    c->url = next;
    httpc_call_reset_response(c);
    c->status = 0;
    if (httpc_call_route(c, 1) != 0)
        httpc_call_finish(c);
}

/* Gives the call's host slot back; the kick starts the next queued hop. */
static void
httpc_host_release(struct httpc_call *c)
{
    if (c->host != NULL) {
        c->host->running--;
        c->h->running--;
        c->host = NULL;
        httpc_kick(c->h);
    }
}

static void
httpc_host_free(struct httpc *h, struct httpc_host *host)
{
    TAILQ_REMOVE(&h->hosts, host, link);
    free(host->key);
    free(host);
}


static void
httpc_kick(struct httpc *h)
{
    if (!h->freeing)
        event_active(h->kick, EV_TIMEOUT, 1);
}

static void
httpc_kick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpc *h = arg;
    struct httpc_host *host, *next;
    struct httpc_call *c;

    (void)fd;
    (void)what;
    while ((c = TAILQ_FIRST(&h->done)) != NULL) {
        TAILQ_REMOVE(&h->done, c, qlink);
        h->pending--;
        httpc_call_deliver(c);
        httpc_call_free(c);
    }
    for (host = TAILQ_FIRST(&h->hosts); host != NULL; host = next) {
        while (host->running < h->max_per_host && (c = TAILQ_FIRST(&host->queue)) != NULL) {
            TAILQ_REMOVE(&host->queue, c, qlink);
            h->queued--;
            httpc_hop_start(c);
        }
        next = TAILQ_NEXT(host, link);
        if (host->running == 0 && TAILQ_EMPTY(&host->queue))
            httpc_host_free(h, host);
    }
}
