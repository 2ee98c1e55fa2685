/* Unit tests for the listener alone: real HTTP on loopback into a stub dispatcher. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "app.h"
#include "config.h"
#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "tap.h"

static struct event_base *base;
static struct httpd *srv;
static int port;

/* What the stub dispatcher saw. */
static int calls;
static void *last_arg;
static char last_path[256];
static struct evhttp_request *held; /* "/later": answered by the test, not the dispatcher */

static void
stub_dispatch(void *arg, struct evhttp_request *req, const char *path)
{
    calls++;
    last_arg = arg;
    snprintf(last_path, sizeof(last_path), "%s", path);
    if (strcmp(path, "/later") == 0) {
        held = req;
    } else if (strcmp(path, "/missing") == 0) {
        reply_fail(req, REPLY_ERR_NOT_FOUND, "not found");
    } else if (strcmp(path, "/post-only") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
        reply_fail(req, REPLY_ERR_METHOD, "method not allowed");
    } else {
        reply_send(req, 200, "text/plain", "hello", 5);
    }
}

struct resp {
    int status; /* 0: no answer */
    char head[4096];
    char body[4096];
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Turns the server's loop while waiting up to ms for fd to be readable. */
static int
wait_readable(int fd, int ms)
{
    double until = now_s() + ms / 1000.0;

    while (now_s() < until) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        event_base_loop(base, EVLOOP_NONBLOCK);
        if (poll(&p, 1, 5) > 0)
            return 1;
    }
    return 0;
}

/* Turns the loop for ms, for what needs no client reading (a dispatch, a close). */
static void
spin(int ms)
{
    double until = now_s() + ms / 1000.0;

    while (now_s() < until) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(2000);
    }
}

static int
connect_srv(void)
{
    struct sockaddr_in sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
send_all(int fd, const char *s)
{
    size_t len = strlen(s), off = 0;

    while (off < len) {
        ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);

        if (n <= 0)
            return;
        off += (size_t)n;
    }
}

/*
 * Reads one response from fd: its head, then Content-Length bytes of body (none after a
 * HEAD), or up to the close. status stays 0 when nothing came within two seconds.
 */
static void
read_resp(int fd, struct resp *r, int head_only)
{
    char buf[8192];
    size_t have = 0;
    char *end = NULL;

    memset(r, 0, sizeof(*r));
    while (have < sizeof(buf) - 1) {
        ssize_t n;

        buf[have] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            size_t want = head_only || cl == NULL || cl > end ? 0 : strtoul(cl + 17, NULL, 10);

            if (cl == NULL && !head_only) {
                /* no length: the body runs to the close */
            } else if (have - (size_t)(end + 4 - buf) >= want) {
                break;
            }
        }
        if (!wait_readable(fd, 2000))
            break;
        n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    buf[have] = '\0';
    if ((end = strstr(buf, "\r\n\r\n")) == NULL)
        return;
    if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1)
        r->status = -1;
    snprintf(r->head, sizeof(r->head), "%.*s", (int)(end - buf), buf);
    snprintf(r->body, sizeof(r->body), "%s", end + 4);
}

/* One request on a new connection. */
static void
exchange(const char *request, struct resp *r)
{
    int fd = connect_srv();

    memset(r, 0, sizeof(*r));
    if (fd < 0)
        return;
    send_all(fd, request);
    read_resp(fd, r, strncmp(request, "HEAD ", 5) == 0);
    close(fd);
}

static void
test_dispatch(void)
{
    struct resp r;

    calls = 0;
    exchange("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    is_int(r.status, 200, "a GET is answered by the dispatcher");
    is_str(r.body, "hello", "with the dispatcher's body");
    is_int(calls, 1, "the dispatcher is called once");
    ok(last_arg == &srv, "with the argument given to httpd_new");
    is_str(last_path, "/hello", "with the path");
    ok(strcasestr(r.head, "X-Content-Type-Options: nosniff") != NULL, "replies carry nosniff");

    calls = 0;
    exchange("GET /a%20b/c?q=%2F HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    is_int(calls, 1, "a path with a query reaches the dispatcher once");
    is_str(last_path, "/a b/c", "decoded, without the query");

    calls = 0;
    exchange("HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    is_int(r.status, 200, "HEAD is dispatched too");
    ok(strcasestr(r.head, "Content-Length: 5") != NULL, "HEAD says the GET's length");
    is_str(r.body, "", "and sends no body");

    calls = 0;
    exchange("GET /missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    is_int(r.status, 404, "the dispatcher's 404 goes through");
    ok(strstr(r.body, "\"error\":\"not found\"") != NULL, "as a JSON error");
    exchange("GET /post-only HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    is_int(r.status, 405, "the dispatcher's 405 goes through");
    ok(strcasestr(r.head, "\r\nAllow: POST") != NULL, "with its Allow header");
    is_int(calls, 2, "one call each");
    is_int(httpd_in_flight(srv), 0, "nothing left in flight");
}

/* A POST of len bytes of body to path. */
static void
big_post(char *req, size_t size, const char *path, size_t len)
{
    size_t n = (size_t)snprintf(req, size,
                                "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
                                "Connection: close\r\n\r\n",
                                path, len);

    memset(req + n, 'a', len);
    req[n + len] = '\0';
}

/* A GET with Host, Connection and extra more headers. */
static void
many_headers(char *req, size_t size, int extra)
{
    size_t n = (size_t)snprintf(req, size, "GET /hello HTTP/1.1\r\nHost: x\r\n");

    for (int i = 0; i < extra; i++)
        n += (size_t)snprintf(req + n, size - n, "X-H%d: v\r\n", i);
    snprintf(req + n, size - n, "Connection: close\r\n\r\n");
}

static void
test_hygiene(void)
{
    struct resp r;
    char req[4096];

    /* max_headers is 8 in this test: Host, Connection and 7 more make 9. */
    calls = 0;
    many_headers(req, sizeof(req), 7);
    exchange(req, &r);
    is_int(r.status, 431, "more headers than max_headers: 431");
    is_int(calls, 0, "the dispatcher never sees it");
    is_int(httpd_in_flight(srv), 0, "and it is not left in flight");

    many_headers(req, sizeof(req), 6);
    exchange(req, &r);
    is_int(r.status, 200, "exactly max_headers headers pass");
    is_int(calls, 1, "and are dispatched");

    calls = 0;
    exchange("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab",
             &r);
    is_int(r.status, 400, "two different Content-Lengths: 400");
    ok(strstr(r.body, "conflicting Content-Length") != NULL, "saying why");
    ok(strcasestr(r.head, "Connection: close") != NULL, "and the connection is closed");
    exchange("POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", &r);
    is_int(r.status, 400, "a Transfer-Encoding other than chunked: 400");
    exchange("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
             "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
             &r);
    is_int(r.status, 400, "Content-Length and Transfer-Encoding together: 400");
    exchange("GET /%00x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &r);
    is_int(r.status, 400, "a path decoding to a NUL: 400");
    big_post(req, sizeof(req), "/hello", 2000);
    exchange(req, &r);
    is_int(r.status, 413, "a body over max_body_bytes: 413");
    is_int(calls, 0, "none of these reached the dispatcher");

    exchange("POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n"
             "Connection: close\r\n\r\nab",
             &r);
    is_int(r.status, 200, "the same Content-Length twice is no conflict");
    big_post(req, sizeof(req), REPLY_UPLOAD_PATH, 2000);
    exchange(req, &r);
    is_int(r.status, 200, "the upload path takes up to max_archive_bytes");
    is_int(calls, 2, "both dispatched");
    is_int(httpd_in_flight(srv), 0, "nothing left in flight");
}

/* A request the dispatcher holds counts as in flight until it is answered, even after a stop. */
static void
test_in_flight_and_stop(void)
{
    struct resp r;
    int fd, late;

    calls = 0;
    held = NULL;
    fd = connect_srv();
    send_all(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 200 && held == NULL; i++)
        spin(5);
    if (!ok(held != NULL, "the dispatcher holds a request")) {
        close(fd);
        return;
    }
    is_int(httpd_in_flight(srv), 1, "one request in flight");
    is_int(metrics_get("passerelle_http_in_flight", ""), 1, "the gauge says so");

    httpd_stop_accepting(srv);
    late = connect_srv();
    ok(late < 0 && errno == ECONNREFUSED, "after stop_accepting a new connection is refused");
    if (late >= 0)
        close(late);
    is_int(httpd_in_flight(srv), 1, "the held request is still in flight");

    reply_send(held, 200, "text/plain", "late", 4);
    held = NULL;
    is_int(httpd_in_flight(srv), 0, "answering it ends it");
    is_int(metrics_get("passerelle_http_in_flight", ""), 0, "the gauge follows");
    read_resp(fd, &r, 0);
    is_int(r.status, 200, "its client gets the answer");
    is_str(r.body, "late", "with the body");

    send_all(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    read_resp(fd, &r, 0);
    is_int(r.status, 503, "a kept-alive connection's next request gets 503 while stopping");
    ok(strstr(r.body, "shutting down") != NULL, "saying why");
    ok(strcasestr(r.head, "Connection: close") != NULL, "and the connection closes");
    is_int(calls, 1, "that request never reached the dispatcher");
    is_int(httpd_in_flight(srv), 0, "nothing left in flight");
    close(fd);
}

int
main(void)
{
    struct config cfg;
    struct app app;
    char err[256];

    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);
    config_defaults(&cfg);
    ok(config_set(&cfg, "listen_addr", "127.0.0.1", err, sizeof(err)) == 0 &&
           config_set(&cfg, "listen_port", "0", err, sizeof(err)) == 0 &&
           config_set(&cfg, "max_headers", "8", err, sizeof(err)) == 0 &&
           config_set(&cfg, "max_body_bytes", "1024", err, sizeof(err)) == 0 &&
           config_set(&cfg, "max_archive_bytes", "4096", err, sizeof(err)) == 0,
       "a configuration with small limits");
    metrics_describe("passerelle_http_in_flight", METRICS_GAUGE, "in flight");
    memset(&app, 0, sizeof(app));
    app.cfg = &cfg;
    base = event_base_new();
    app.base = base;

    srv = httpd_new(&app, stub_dispatch, &srv, err, sizeof(err));
    if (!ok(srv != NULL, "the listener starts on 127.0.0.1:0 (%s)", srv ? "" : err))
        return done_testing();
    port = httpd_port(srv);
    ok(port > 0, "and says which port it got");

    test_dispatch();
    test_hygiene();
    test_in_flight_and_stop();

    httpd_free(srv);
    event_base_free(base);
    config_free(&cfg);
    return done_testing();
}
