/* What httpc.c (the client) and httpc_curl.c (libcurl multi on libevent) share; nothing else. */
#ifndef PASSERELLE_HTTPC_INTERNAL_H
#define PASSERELLE_HTTPC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "httpc.h"

#define HTTPC_MAX_REQ_HEADERS       32
#define HTTPC_MAX_RESP_HEADERS      100
#define HTTPC_MAX_RESP_HEADER_BYTES 65536

enum httpc_call_state { HTTPC_CALL_QUEUED, HTTPC_CALL_RUNNING, HTTPC_CALL_DONE };

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
    enum httpc_call_state state;
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
    int64_t req_deadline_ms; /* the caller's (httpc_req.deadline_ms), 0: none */

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

/* Ends the hop curl reports done; httpc.c hands it to httpc_curl_open. */
typedef void (*httpc_hop_done_fn)(struct httpc_call *c, CURLcode res);

struct httpc {
    struct event_base *base;
    CURLM *multi;
    httpc_hop_done_fn hop_done; /* called by httpc_curl.c for each finished transfer */
    struct event *timer;        /* curl's single timeout */
    struct event *kick;         /* deferred work: deliver callbacks, start queued hops */

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

/* httpc_curl.c (httpc.c calls it; it calls httpc.c back only through h->hop_done) */

/*
 * Creates h->multi and h->timer and makes curl ask the loop for its sockets and timeout;
 * hop_done ends each finished transfer (a response, a redirect to follow, or an error).
 */
int httpc_curl_open(struct httpc *h, httpc_hop_done_fn hop_done);
/* Undoes httpc_curl_open, cached connections and watched sockets included; safe after a
 * partial open. */
void httpc_curl_close(struct httpc *h);
/*
 * Builds the curl handle of c's current hop (c->url, method, body, headers and the signing
 * hook's c->hop), with at most left_ms to run, and hands it to the multi: c->easy is set.
 * NULL on success, else a short reason (c->easy stays NULL).
 */
const char *httpc_curl_start(struct httpc_call *c, int64_t left_ms);
/* The httpc_error for a transfer that ended with res (what the hop's callbacks saw counts). */
enum httpc_error httpc_curl_error(const struct httpc_call *c, CURLcode res);

#endif
