/* A loopback HTTP server for the XRPC and session unit tests: one handler, JSON replies. */
#ifndef PASSERELLE_XRPCTEST_H
#define PASSERELLE_XRPCTEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "httpc.h"

/* Starts a server on 127.0.0.1 (a free port) calling cb for every request; writes its origin. */
static struct evhttp *
xt_server(struct event_base *base, void (*cb)(struct evhttp_request *, void *), void *arg,
          char origin[64])
{
    struct evhttp *http = evhttp_new(base);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len);
    snprintf(origin, 64, "http://127.0.0.1:%u", ntohs(sin.sin_port));
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_gencb(http, cb, arg);
    return http;
}

/* Answers with status, a JSON body and "Name: value" header lines, NULL-terminated. */
static void __attribute__((unused))
xt_reply(struct evhttp_request *req, int status, const char *json, ...)
{
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *line;
    va_list ap;

    va_start(ap, json);
    while ((line = va_arg(ap, const char *)) != NULL) {
        char name[64];
        const char *colon = strchr(line, ':');

        snprintf(name, sizeof(name), "%.*s", (int)(colon - line), line);
        evhttp_add_header(out, name, colon + 2);
    }
    va_end(ap);
    evhttp_add_header(out, "Content-Type", "application/json");
    evbuffer_add(b, json, strlen(json));
    evhttp_send_reply(req, status, "X", b);
    evbuffer_free(b);
}

/* The request's body as a string (at most len - 1 bytes). */
static void __attribute__((unused)) xt_body(struct evhttp_request *req, char *out, size_t len)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(b);

    if (n >= len)
        n = len - 1;
    evbuffer_copyout(b, out, n);
    out[n] = '\0';
}

/* Runs the loop until *flag is set. */
static void __attribute__((unused)) xt_wait(struct event_base *base, const int *flag)
{
    while (!*flag)
        event_base_loop(base, EVLOOP_ONCE);
}

/* A client that may reach loopback, as the tests' servers live there. */
static struct httpc *__attribute__((unused)) xt_client(struct event_base *base)
{
    struct httpc_options o = { .allow_loopback = 1, .total_timeout_ms = 5000 };
    char err[200];

    return httpc_new(base, &o, err, sizeof(err));
}

#endif
