/* The machine's limit for small GETs: a minimal libevent evhttp server answering a fixed body. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "bench.h"

static const char body[] = "{\"subject\":\"acct:relay@127.0.0.1\",\"links\":[]}";

static void
responder_cb(struct evhttp_request *req, void *arg)
{
    struct evbuffer *buf = evbuffer_new();

    (void)arg;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/jrd+json");
    evbuffer_add(buf, body, sizeof(body) - 1);
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

int
main(int argc, char **argv)
{
    int port = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 18900;
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);

    signal(SIGPIPE, SIG_IGN);
    evhttp_set_gencb(http, responder_cb, NULL);
    if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) != 0) {
        fprintf(stderr, "bench_responder: cannot bind 127.0.0.1:%d\n", port);
        return 1;
    }
    bench_serve(base, http);
    return 0;
}
