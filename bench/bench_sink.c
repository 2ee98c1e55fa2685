/* The delivery benchmark's far end: a minimal libevent inbox answering 202, on several ports. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "bench.h"

#define SINK_MAX_DOCS  8
#define SINK_MAX_WAITS 4
#define SINK_WAIT_S    2 /* a wait answers by then in any case: the caller checks its servers */

/*
 * bench_sink [-g PATH FILE]... PORT...   (a PORT of 0 takes a free one)
 * Prints "ports P..." (the ports bound) on stdout once listening. Every POST is answered 202 with
 * an empty body and counted; GET /_stats answers
 * {"posts":N,"gets":N,"first":S,"last":S} (CLOCK_MONOTONIC seconds of the first and last POST);
 * GET /_wait?posts=N answers the same once N POSTs have come, or after SINK_WAIT_S seconds: one
 * request where a poll every 100 ms forked curl, sed and sleep (about 4 % of two cores, taken
 * from the servers being measured).
 * GET /_reset zeroes the counts. GET PATH answers FILE's bytes as application/activity+json (an
 * actor whose key a peer fetches), read at each GET: the document may name a port known only once
 * this listens. Several ports stand for several hosts: the queue caps concurrency per host.
 */
struct sink;

struct sink_wait {
    struct sink *s;
    struct evhttp_request *req; /* NULL: a free slot */
    unsigned long long posts;
    struct event *timer;
};

struct sink {
    unsigned long long posts, gets;
    struct event_base *base;
    struct sink_wait waits[SINK_MAX_WAITS];
    double first, last;
    const char *paths[SINK_MAX_DOCS];
    const char *files[SINK_MAX_DOCS];
    int ndocs;
};

static void
sink_reply(struct evhttp_request *req, int status, const char *type, const char *body, size_t len)
{
    struct evbuffer *buf = evbuffer_new();

    if (type != NULL)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evbuffer_add(buf, body, len);
    evhttp_send_reply(req, status,
                      status == 202   ? "Accepted"
                      : status == 200 ? "OK"
                                      : "Not Found",
                      buf);
    evbuffer_free(buf);
}

static void
sink_stats(struct sink *s, struct evhttp_request *req)
{
    char stats[160];
    int n = snprintf(stats, sizeof(stats),
                     "{\"posts\":%llu,\"gets\":%llu,\"first\":%.6f,\"last\":%.6f}", s->posts,
                     s->gets, s->first, s->last);

    sink_reply(req, 200, "application/json", stats, (size_t)n);
}

/* Answers the waits whose count has come, and the one given (its time is up). */
static void
sink_wake(struct sink *s, struct sink_wait *expired)
{
    for (int i = 0; i < SINK_MAX_WAITS; i++) {
        struct sink_wait *w = &s->waits[i];

        if (w->req == NULL || (w != expired && s->posts < w->posts))
            continue;
        sink_stats(s, w->req);
        w->req = NULL;
        event_free(w->timer);
        w->timer = NULL;
    }
}

static void
sink_wait_expired(evutil_socket_t fd, short what, void *arg)
{
    struct sink_wait *w = arg;

    (void)fd;
    (void)what;
    sink_wake(w->s, w);
}

static void
sink_cb(struct evhttp_request *req, void *arg)
{
    struct sink *s = arg;
    const char *uri = evhttp_request_get_uri(req);

    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
        double t = bench_now();

        if (s->posts++ == 0)
            s->first = t;
        s->last = t;
        sink_reply(req, 202, NULL, "", 0);
        sink_wake(s, NULL);
        return;
    }
    if (strcmp(uri, "/_reset") == 0) {
        s->posts = s->gets = 0;
        s->first = s->last = 0;
        sink_reply(req, 200, "application/json", "{}", 2);
        return;
    }
    if (strcmp(uri, "/_stats") == 0) {
        sink_stats(s, req);
        return;
    }
    if (strncmp(uri, "/_wait?posts=", 13) == 0) {
        unsigned long long want = strtoull(uri + 13, NULL, 10);

        for (int i = 0; i < SINK_MAX_WAITS && want > s->posts; i++) {
            struct sink_wait *w = &s->waits[i];
            struct timeval tv = { SINK_WAIT_S, 0 };

            if (w->req != NULL)
                continue;
            w->s = s;
            w->req = req;
            w->posts = want;
            w->timer = evtimer_new(s->base, sink_wait_expired, w);
            evtimer_add(w->timer, &tv);
            return;
        }
        sink_stats(s, req); /* reached, or no free slot: answered at once */
        return;
    }
    for (int i = 0; i < s->ndocs; i++) {
        size_t len;
        char *doc;

        if (strcmp(uri, s->paths[i]) == 0 && (doc = bench_slurp(s->files[i], &len)) != NULL) {
            s->gets++;
            sink_reply(req, 200, "application/activity+json", doc, len);
            free(doc);
            return;
        }
    }
    sink_reply(req, 404, "application/json", "{}", 2);
}

int
main(int argc, char **argv)
{
    static struct sink s;
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    int ports = 0;
    struct evhttp_bound_socket *bound;
    struct sockaddr_in sin;
    socklen_t slen;

    signal(SIGPIPE, SIG_IGN);
    s.base = base;
    evhttp_set_gencb(http, sink_cb, &s);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-g") == 0 && i + 2 < argc && s.ndocs < SINK_MAX_DOCS) {
            s.paths[s.ndocs] = argv[i + 1];
            s.files[s.ndocs] = argv[i + 2];
            s.ndocs++;
            i += 2;
            continue;
        }
        bound = evhttp_bind_socket_with_handle(http, "127.0.0.1",
                                               (ev_uint16_t)strtol(argv[i], NULL, 10));
        slen = sizeof(sin);
        if (bound == NULL ||
            getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &slen) != 0) {
            fprintf(stderr, "bench_sink: cannot bind 127.0.0.1:%s\n", argv[i]);
            return 1;
        }
        printf("%s%d", ports++ ? " " : "ports ", ntohs(sin.sin_port));
    }
    if (ports == 0) {
        fprintf(stderr, "usage: bench_sink [-g PATH FILE]... PORT...\n");
        return 2;
    }
    printf("\n");
    fflush(stdout);
    bench_serve(base, http);
    return 0;
}
