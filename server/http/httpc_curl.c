/* libcurl's multi interface on the libevent loop: sockets, timeout, transfers, their callbacks. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "httpc.h"
#include "httpc_internal.h"
#include "log.h"
#include "netguard.h"
#include "xmalloc.h"

static void httpc_curl_timeout_cb(evutil_socket_t fd, short what, void *arg);
static int httpc_curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
static int httpc_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp);
static size_t httpc_curl_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata);
static size_t httpc_curl_header_cb(char *buf, size_t size, size_t nitems, void *userdata);
static curl_socket_t httpc_curl_opensocket_cb(void *clientp, curlsocktype purpose,
                                              struct curl_sockaddr *addr);

int
httpc_curl_open(struct httpc *h, httpc_hop_done_fn hop_done)
{
    h->hop_done = hop_done;
    h->multi = curl_multi_init();
    h->timer = evtimer_new(h->base, httpc_curl_timeout_cb, h);
    if (h->multi == NULL || h->timer == NULL)
        return -1;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, httpc_curl_socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, httpc_curl_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    /* Our queue already holds the line; this only backs it up inside curl. */
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)h->max_per_host);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 256L);
    return 0;
}

void
httpc_curl_close(struct httpc *h)
{
    struct httpc_sock *sk;

    /* curl may still report sockets of cached connections as it closes them. */
    if (h->multi != NULL)
        curl_multi_cleanup(h->multi);
    h->multi = NULL;
    while ((sk = TAILQ_FIRST(&h->socks)) != NULL) {
        TAILQ_REMOVE(&h->socks, sk, link);
        if (sk->ev != NULL)
            event_free(sk->ev);
        free(sk);
    }
    if (h->timer != NULL)
        event_free(h->timer);
    h->timer = NULL;
}

/* The request headers, the signing hook's, and an empty Expect; -1 if curl ran out of memory. */
static int
httpc_curl_slist(struct httpc_call *c)
{
    struct curl_slist *sl = NULL;
    int bad = 0;

    for (size_t i = 0; i < c->nheaders && !bad; i++)
        bad = (sl = curl_slist_append(sl, c->headers[i])) == NULL;
    for (size_t i = 0; i < c->hop.n && !bad; i++)
        bad = (sl = curl_slist_append(sl, c->hop.lines[i])) == NULL;
    /* evhttp and most servers handle bodies fine without the 100-continue round trip. */
    if (!bad)
        bad = (sl = curl_slist_append(sl, "Expect:")) == NULL;
    c->slist = sl;
    return bad ? -1 : 0;
}

/* Every option of one hop's handle; -1 if curl refused one that matters. */
static int
httpc_curl_setopts(struct httpc_call *c, CURL *e, int64_t left)
{
    struct httpc *h = c->h;
    int bad = 0;

    curl_easy_setopt(e, CURLOPT_PRIVATE, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->slist);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, httpc_curl_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, httpc_curl_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, httpc_curl_opensocket_cb);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(left < h->connect_ms ? left : h->connect_ms));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    /* Decoded size is what the write callback caps, so compression cannot smuggle a larger body in.
     */
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
    return bad ? -1 : 0;
}

const char *
httpc_curl_start(struct httpc_call *c, int64_t left_ms)
{
    CURL *e;

    if (httpc_curl_slist(c) != 0 || (e = curl_easy_init()) == NULL)
        return "cannot set up the request";
    if (httpc_curl_setopts(c, e, left_ms) != 0 ||
        curl_multi_add_handle(c->h->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        return "curl refused the request options";
    }
    c->easy = e;
    return NULL;
}

enum httpc_error
httpc_curl_error(const struct httpc_call *c, CURLcode res)
{
    switch (res) {
    case CURLE_OK:
        return HTTPC_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
        return HTTPC_ERR_DNS;
    case CURLE_COULDNT_CONNECT:
        return c->refused ? HTTPC_ERR_REFUSED_ADDRESS : HTTPC_ERR_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return HTTPC_ERR_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
        return HTTPC_ERR_TLS;
    case CURLE_FILESIZE_EXCEEDED:
        return HTTPC_ERR_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        return c->too_large ? HTTPC_ERR_TOO_LARGE : HTTPC_ERR_OTHER;
    default:
        return c->refused ? HTTPC_ERR_REFUSED_ADDRESS : HTTPC_ERR_OTHER;
    }
}

/* Hands each finished transfer to its call. */
static void
httpc_curl_check_multi_info(struct httpc *h)
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
            h->hop_done((struct httpc_call *)(void *)priv, res);
    }
}


static void
httpc_curl_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpc *h = arg;
    int running;

    (void)fd;
    (void)what;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    httpc_curl_check_multi_info(h);
}

static void
httpc_curl_sock_cb(evutil_socket_t fd, short what, void *arg)
{
    struct httpc_sock *sk = arg;
    struct httpc *h = sk->h; /* sk may be freed by httpc_curl_socket_cb inside socket_action */
    int flags = 0, running;

    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(h->multi, fd, flags, &running);
    httpc_curl_check_multi_info(h);
}

static int
httpc_curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
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
    sk->ev = event_new(h->base, s, flags, httpc_curl_sock_cb, sk);
    if (sk->ev == NULL || event_add(sk->ev, NULL) != 0) {
        log_error("httpc_event", "fd=%d msg=%s", (int)s, log_q("cannot watch socket"));
        return -1;
    }
    return 0;
}

static int
httpc_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
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
httpc_curl_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
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
httpc_curl_header_cb(char *buf, size_t size, size_t nitems, void *userdata)
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
httpc_curl_opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
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
