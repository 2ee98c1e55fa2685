/* Connection guard: a cap on open connections, request head and body deadlines, body caps. */
#ifndef PASSERELLE_CONNGUARD_H
#define PASSERELLE_CONNGUARD_H

#include <stddef.h>

struct bufferevent;
struct event_base;
struct evhttp_request;
struct connguard;

/*
 * libevent 2.1's evhttp only has an inactivity timeout and shows a request to us once its
 * body is complete. The guard watches each connection from its accept (through the
 * bufferevent evhttp is given) so that:
 *   - a request head must be complete within header_ms of its first byte, and its body
 *     within body_ms of the head's end, however slowly the bytes trickle (slowloris);
 *   - at most max_connections are open: a new one beyond closes the connection idle the
 *     longest (no request in progress), or is itself closed when none is idle;
 *   - the body cap of each request is chosen from its request line as the head arrives
 *     (upload_path gets max_upload, the rest max_body), so evhttp refuses an oversized
 *     Content-Length with 413 before reading it, and cuts a chunked body at the cap.
 */
struct connguard_options {
    int max_connections;
    long header_ms;
    long body_ms;
    size_t max_body;
    size_t max_upload;
    const char *upload_path; /* borrowed; must outlive the guard */
    size_t max_head;         /* the most header bytes kept for the hold (evhttp's own cap) */
};

/*
 * The hold of a POST to upload_path: its head has arrived, and neither evhttp nor anyone has
 * read a byte of its body; the connection reads nothing more until connguard_release.
 */
struct connguard_hold;

/*
 * Called for each POST to upload_path once its head is complete, with its header lines
 * (after the request line, as sent, at most max_head bytes; borrowed for the call). It must
 * end, now or later from the loop, with exactly one connguard_release(hold, ...).
 */
typedef void (*connguard_hold_fn)(void *arg, struct connguard_hold *hold, const char *headers,
                                  size_t len);
void connguard_set_hold(struct connguard *g, connguard_hold_fn fn, void *arg);

/*
 * Ends a hold. status 0: the request goes on (its body is read, evhttp dispatches it).
 * Otherwise the guard answers status with body (JSON, copied; 503 also gets Retry-After) and
 * closes the connection: the body is never buffered (what the client sends meanwhile is
 * discarded for a moment, so that the answer is not lost to a reset). Safe when the
 * connection has gone meanwhile (the hold is then only freed).
 */
void connguard_release(struct connguard_hold *hold, int status, const char *body);

struct connguard *connguard_new(struct event_base *base, const struct connguard_options *opt);

/*
 * Watches a new connection's bufferevent (socket or TLS, fd not yet set), made by evhttp's
 * bufferevent callback just before evhttp wraps it. Call exactly once per connection.
 */
void connguard_watch(struct connguard *g, struct bufferevent *bev);

/* The request was handed to a handler (its body is complete): no deadline while it runs. */
void connguard_dispatched(struct connguard *g, struct evhttp_request *req);
/* The handler answered: the connection waits for its next request. */
void connguard_answered(struct connguard *g, struct evhttp_request *req);

/* Connections open now. */
int connguard_count(const struct connguard *g);

/* After evhttp_free (which closes every connection). NULL-safe. */
void connguard_free(struct connguard *g);

/*
 * The request-head scanner, pure (exported for tests and fuzzing). It follows evhttp's line
 * rules: a line ends at LF with one optional CR before it; the head ends at the first empty
 * line. It keeps the start of the request line to find the request target's path.
 */
struct connguard_head {
    size_t bytes;    /* head bytes seen so far */
    size_t linelen;  /* bytes in the current line, CR and LF aside */
    int cr;          /* the previous byte was a CR */
    int lines;       /* complete lines */
    char first[128]; /* the request line's start, NUL-terminated */
    size_t firstlen;
};

void connguard_head_init(struct connguard_head *h);
/*
 * Feeds n bytes. Returns how many belong to the head: n while it goes on, fewer when it
 * ended inside p (*done is then 1).
 */
size_t connguard_head_feed(struct connguard_head *h, const char *p, size_t n, int *done);
/*
 * 1 when the request target's path (origin form, or absolute form after the authority) is
 * exactly path, with nothing but a query after it.
 */
int connguard_head_path_is(const struct connguard_head *h, const char *path);

/*
 * The value of the first header line named name (any case) in headers (len bytes of header
 * lines, CRLF or LF), blanks around it left out, copied into out. -1 when there is none or
 * it does not fit. Pure.
 */
int connguard_head_header(const char *headers, size_t len, const char *name, char *out,
                          size_t outlen);

#endif
