/* Connection guard: a cap on open connections, request head and body deadlines, body caps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "connguard.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "xmalloc.h"

#define M_OPEN "passerelle_http_connections"
#define M_CUT  "passerelle_http_connections_closed_total"

/*
 * After a refused upload's answer is sent, the body the client still sends is read and thrown
 * away (never kept) up to its Content-Length, or the upload cap, for at most this long (as
 * nginx's lingering close): closing on unread bytes would reset the connection, and a reset
 * can destroy the answer before the client reads it.
 */
#define CG_LINGER_MS 30000

/* The read low-water mark of a held connection: evhttp's read callback never runs. */
#define CG_HELD_LOWMARK ((size_t)-1)

/*
 * Where a connection is: IDLE waits for the first byte of a request (evhttp's inactivity
 * timeout, request_timeout, covers it), HEAD has the header deadline running, BODY the body
 * deadline, HANDLER belongs to a handler until it answers (no deadline: ours to end).
 */
enum connguard_phase { CG_IDLE, CG_HEAD, CG_BODY, CG_HANDLER };

struct connguard_conn {
    TAILQ_ENTRY(connguard_conn) link;      /* g->conns */
    TAILQ_ENTRY(connguard_conn) idle_link; /* g->idle, oldest first, while phase is CG_IDLE */
    struct connguard *g;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until attached (see connguard_attach) */
    struct evbuffer_cb_entry *watch; /* our callback on bev's input buffer */
    struct event *timer;             /* attach, then deadlines, then a pending close */
    evutil_socket_t fd;
    enum connguard_phase phase;
    int pinned;      /* we hold a reference on bev until attached */
    const char *cut; /* set: the timer closes the connection for this reason */
    struct connguard_head head;
    /* A POST to the upload path: its header lines are kept for the hold, which may follow. */
    int capture;
    char *hbuf;
    size_t hlen;
    struct connguard_hold *hold;    /* set while the hold is on */
    struct evbuffer_cb_entry *sent; /* our callback on the output, once refused */
    int refused;                    /* 1: answer written; 2: sent, input discarded */
    size_t discarded;               /* bytes discarded since */
    size_t linger;                  /* bytes to discard before closing */
};

/* Owned by the hold callback's side until connguard_release frees it; c is NULLed if c goes. */
struct connguard_hold {
    struct connguard_conn *c;
    int in_scan; /* released from inside the hold callback itself */
};

struct connguard {
    struct event_base *base;
    struct connguard_options o;
    TAILQ_HEAD(, connguard_conn) conns;
    TAILQ_HEAD(, connguard_conn) idle;
    int count;
    struct connguard_conn **by_fd; /* live connections by socket, to find a request's */
    size_t nfd;
    time_t full_logged;
    connguard_hold_fn hold;
    void *hold_arg;
};

/* --- the head scanner ------------------------------------------------------------------- */

void
connguard_head_init(struct connguard_head *h)
{
    memset(h, 0, sizeof(*h));
}

size_t
connguard_head_feed(struct connguard_head *h, const char *p, size_t n, int *done)
{
    *done = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];

        h->bytes++;
        if (ch == '\n') {
            if (h->linelen - (h->cr ? 1 : 0) == 0) {
                *done = 1;
                return i + 1;
            }
            h->lines++;
            h->linelen = 0;
            h->cr = 0;
            continue;
        }
        if (h->lines == 0 && h->firstlen < sizeof(h->first) - 1) {
            h->first[h->firstlen++] = ch;
            h->first[h->firstlen] = '\0';
        }
        h->linelen++;
        h->cr = ch == '\r';
    }
    return n;
}

int
connguard_head_header(const char *headers, size_t len, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    const char *p = headers, *end = headers + len;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol != NULL ? eol : end;

        if ((size_t)(le - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1, *ve = le;

            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if ((size_t)(ve - v) + 1 > outlen)
                return -1;
            memcpy(out, v, (size_t)(ve - v));
            out[ve - v] = '\0';
            return 0;
        }
        p = le + 1;
    }
    return -1;
}

int
connguard_head_path_is(const struct connguard_head *h, const char *path)
{
    const char *t = strchr(h->first, ' ');
    size_t plen = strlen(path);

    if (t == NULL)
        return 0;
    t++;
    /* Absolute form (RFC 9112 3.2.2): the path starts after scheme://authority. */
    if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
        t = strchr(strstr(t, "://") + 3, '/');
        if (t == NULL)
            return 0;
    }
    return strncmp(t, path, plen) == 0 && (t[plen] == ' ' || t[plen] == '?');
}

/* --- connections ------------------------------------------------------------------------ */

static void connguard_timer_cb(evutil_socket_t fd, short what, void *arg);
static void connguard_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
                               void *arg);

static void
connguard_gauge(const struct connguard *g)
{
    metrics_set(M_OPEN, "", g->count);
}

static void
connguard_set_phase(struct connguard_conn *c, enum connguard_phase phase)
{
    if (c->phase == CG_IDLE && phase != CG_IDLE)
        TAILQ_REMOVE(&c->g->idle, c, idle_link);
    else if (c->phase != CG_IDLE && phase == CG_IDLE)
        TAILQ_INSERT_TAIL(&c->g->idle, c, idle_link);
    c->phase = phase;
    if (c->cut == NULL)
        evtimer_del(c->timer);
}

static void
connguard_arm(struct connguard_conn *c, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    evtimer_add(c->timer, &tv);
}

/* Closes c from its timer, on the next turn of the loop (never inside evhttp's own calls). */
static void
connguard_close_soon(struct connguard_conn *c, const char *reason)
{
    c->cut = reason;
    evtimer_del(c->timer);
    event_active(c->timer, EV_TIMEOUT, 1);
}

static void
connguard_free_conn(struct connguard_conn *c)
{
    struct connguard *g = c->g;

    if (c->hold != NULL)
        c->hold->c = NULL; /* the hold callback's side releases it later, to nothing */
    if (c->sent != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->sent);
    free(c->hbuf);
    evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
    event_free(c->timer);
    if (c->phase == CG_IDLE)
        TAILQ_REMOVE(&g->idle, c, idle_link);
    TAILQ_REMOVE(&g->conns, c, link);
    if (c->fd >= 0 && (size_t)c->fd < g->nfd && g->by_fd[c->fd] == c)
        g->by_fd[c->fd] = NULL;
    g->count--;
    connguard_gauge(g);
    if (c->pinned)
        bufferevent_decref(c->bev);
    free(c);
}

static void
connguard_closed_cb(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    connguard_free_conn(arg);
}

/* Keeps n more header bytes of a POST to the upload path, up to max_head (then none: evhttp refuses
 * such a head). */
static void
connguard_keep(struct connguard_conn *c, const char *p, size_t n)
{
    if (c->hlen + n > c->g->o.max_head) {
        c->capture = 0;
        return;
    }
    c->hbuf = xrealloc(c->hbuf, c->hlen + n + 1);
    memcpy(c->hbuf + c->hlen, p, n);
    c->hlen += n;
    c->hbuf[c->hlen] = '\0';
}

/* connguard_head_feed, keeping the header lines of a POST to the upload path once its request line
 * is known. */
static size_t
connguard_feed(struct connguard_conn *c, const char *p, size_t n, int *done)
{
    size_t used = 0, more;

    if (c->head.lines == 0) {
        const char *nl = memchr(p, '\n', n);

        used = connguard_head_feed(&c->head, p, nl != NULL ? (size_t)(nl - p) + 1 : n, done);
        if (*done || c->head.lines == 0)
            return used;
        c->capture = c->g->hold != NULL && strncmp(c->head.first, "POST ", 5) == 0 &&
                     connguard_head_path_is(&c->head, c->g->o.upload_path);
        p += used;
        n -= used;
    }
    more = connguard_head_feed(&c->head, p, n, done);
    if (c->capture)
        connguard_keep(c, p, more);
    return used + more;
}

static void connguard_hold_start(struct connguard_conn *c);

/*
 * Feeds the bytes of buf from offset to the head scanner. At the head's end the body cap
 * for this request is set (before evhttp reads the head and looks at Content-Length) and
 * the body deadline starts; a POST to the upload path is held there.
 */
static void
connguard_scan(struct connguard_conn *c, struct evbuffer *buf, size_t offset)
{
    struct evbuffer_ptr pos;
    struct evbuffer_iovec vec[8];
    int done = 0;

    while (!done && c->phase == CG_HEAD && offset < evbuffer_get_length(buf)) {
        int nvec;

        if (evbuffer_ptr_set(buf, &pos, offset, EVBUFFER_PTR_SET) < 0)
            return;
        nvec = evbuffer_peek(buf, -1, &pos, vec, 8);
        if (nvec > 8)
            nvec = 8;
        for (int i = 0; i < nvec && !done; i++) {
            offset += connguard_feed(c, vec[i].iov_base, vec[i].iov_len, &done);
        }
    }
    if (!done)
        return;
    connguard_set_phase(c, CG_BODY);
    evhttp_connection_set_max_body_size(
        c->evcon,
        (ev_ssize_t)(connguard_head_path_is(&c->head, c->g->o.upload_path) ? c->g->o.max_upload
                                                                           : c->g->o.max_body));
    if (c->cut == NULL)
        connguard_arm(c, c->g->o.body_ms);
    if (c->capture)
        connguard_hold_start(c);
}

/* The first bytes of a request: the header deadline starts. */
static void
connguard_head_start(struct connguard_conn *c, struct evbuffer *buf, size_t offset)
{
    connguard_set_phase(c, CG_HEAD);
    connguard_head_init(&c->head);
    c->capture = 0;
    c->hlen = 0;
    if (c->cut == NULL)
        connguard_arm(c, c->g->o.header_ms);
    connguard_scan(c, buf, offset);
}

/* Runs as bytes are added to the input buffer, before evhttp parses them. */
static void
connguard_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct connguard_conn *c = arg;
    size_t len = evbuffer_get_length(buf);

    if (info->n_added == 0 || c->evcon == NULL || len < info->n_added)
        return;
    if (c->refused) {
        evbuffer_drain(buf, len); /* answered already: nothing of it is kept */
        c->discarded += info->n_added;
        if (c->refused == 2 && c->discarded >= c->linger)
            connguard_close_soon(c, c->cut);
        return;
    }
    if (c->phase == CG_IDLE)
        connguard_head_start(c, buf, len - info->n_added);
    else if (c->phase == CG_HEAD)
        connguard_scan(c, buf, len - info->n_added);
}

/* --- the hold of an upload ----------------------------------------------------------------- */

/*
 * Holding: a read low-water mark no buffer reaches keeps evhttp's read callback from running
 * (so it parses nothing more of this request), and a high-water mark of 1 suspends reading
 * from the socket (libevent 2.1 bufferevent.c, bufferevent_setwatermark and
 * bufferevent_trigger_nolock_), for plain and TLS bufferevents alike.
 */
static void
connguard_hold_start(struct connguard_conn *c)
{
    struct connguard_hold *h = xcalloc(1, sizeof(*h));

    h->c = c;
    c->hold = h;
    c->capture = 0;
    bufferevent_setwatermark(c->bev, EV_READ, CG_HELD_LOWMARK, 1);
    h->in_scan = 1;
    c->g->hold(c->g->hold_arg, h, c->hbuf != NULL ? c->hbuf : "", c->hlen);
    if (c->hold == h)
        h->in_scan = 0; /* still held: released later, from the loop */
}

/* The answer is out: read and drop what is left of the body, then close. */
static void
connguard_sent_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct connguard_conn *c = arg;

    if (info->n_deleted == 0 || evbuffer_get_length(buf) > 0 || c->refused != 1)
        return;
    c->refused = 2;
    bufferevent_setwatermark(c->bev, EV_READ, CG_HELD_LOWMARK, 0); /* read again, to discard */
    c->discarded = evbuffer_get_length(bufferevent_get_input(c->bev));
    evbuffer_drain(bufferevent_get_input(c->bev), c->discarded);
    evtimer_del(c->timer);
    if (c->discarded >= c->linger)
        connguard_close_soon(c, c->cut);
    else
        connguard_arm(c, CG_LINGER_MS);
}

/* Answers a held request ourselves (evhttp never parsed it) and closes once it is sent. */
static void
connguard_refuse(struct connguard_conn *c, int status, const char *body)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    bufferevent_data_cb readcb = NULL;
    bufferevent_event_cb eventcb = NULL;
    void *arg = NULL;
    char labels[32];
    size_t len = strlen(body);

    /* evhttp has no reply of its own under way: its write callback must not see ours drain. */
    bufferevent_getcb(c->bev, &readcb, NULL, &eventcb, &arg);
    bufferevent_setcb(c->bev, readcb, NULL, eventcb, arg);
    c->refused = 1;
    c->cut = "upload_refused";
    evtimer_del(c->timer);
    connguard_arm(c, c->g->o.header_ms); /* the answer must go out within this */
    c->sent = evbuffer_add_cb(out, connguard_sent_cb, c);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                        "X-Content-Type-Options: nosniff\r\n%sConnection: close\r\n\r\n",
                        status, reply_reason(status), len,
                        status == 503 ? "Retry-After: 5\r\n" : "");
    evbuffer_add(out, body, len);
    bufferevent_enable(c->bev, EV_WRITE);
    snprintf(labels, sizeof(labels), "code=\"%d\"", status);
    metrics_add("passerelle_http_responses_total", labels, 1);
}

void
connguard_release(struct connguard_hold *h, int status, const char *body)
{
    struct connguard_conn *c = h->c;
    int in_scan = h->in_scan;

    free(h);
    if (c == NULL)
        return; /* the connection went while we waited */
    c->hold = NULL;
    if (status != 0) {
        char cl[24];

        /* What is left of the body: its announced length, or (chunked) the upload cap. */
        c->linger = c->g->o.max_upload;
        if (c->hbuf != NULL &&
            connguard_head_header(c->hbuf, c->hlen, "Content-Length", cl, sizeof(cl)) == 0) {
            unsigned long long n = strtoull(cl, NULL, 10);

            if (n < c->linger)
                c->linger = (size_t)n;
        }
    }
    free(c->hbuf);
    c->hbuf = NULL;
    c->hlen = 0;
    if (status != 0) {
        connguard_refuse(c, status, body != NULL ? body : "{}");
        return;
    }
    bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    /* From the scan, the bufferevent's own read callback follows; later, evhttp is told. */
    if (!in_scan)
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

void
connguard_set_hold(struct connguard *g, connguard_hold_fn fn, void *arg)
{
    g->hold = fn;
    g->hold_arg = arg;
}

/*
 * evhttp gives a connection no user data and no hook before its first complete request; it
 * does make the evhttp_connection its bufferevent's callback argument (libevent 2.1 http.c,
 * evhttp_connection_base_bufferevent_new), which is how we find it to get told of its end.
 */
static int
connguard_attach(struct connguard_conn *c)
{
    struct connguard *g = c->g;
    bufferevent_data_cb readcb = NULL;
    void *arg = NULL;

    bufferevent_getcb(c->bev, &readcb, NULL, NULL, &arg);
    if (readcb == NULL || arg == NULL) {
        /* evhttp dropped it before we ran (it holds no callbacks once it let go). */
        connguard_free_conn(c);
        return -1;
    }
    c->evcon = arg;
    if (evhttp_connection_get_bufferevent(c->evcon) != c->bev) {
        log_error("connguard_unsupported", "reason=%s",
                  log_q("evhttp's connection is not its bufferevent's callback argument"));
        abort();
    }
    c->fd = bufferevent_getfd(c->bev);
    if (c->fd >= 0) {
        if ((size_t)c->fd >= g->nfd) {
            size_t n = g->nfd ? g->nfd : 1024;

            while (n <= (size_t)c->fd)
                n *= 2;
            g->by_fd = xrealloc(g->by_fd, n * sizeof(*g->by_fd));
            memset(g->by_fd + g->nfd, 0, (n - g->nfd) * sizeof(*g->by_fd));
            g->nfd = n;
        }
        g->by_fd[c->fd] = c;
    }
    evhttp_connection_set_closecb(c->evcon, connguard_closed_cb, c);
    evhttp_connection_set_max_body_size(c->evcon, (ev_ssize_t)g->o.max_body);
    c->pinned = 0;
    bufferevent_decref(c->bev); /* evhttp holds its own */
    return 0;
}

static void
connguard_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct connguard_conn *c = arg;
    const char *reason;
    char labels[64];

    (void)fd;
    (void)what;
    if (c->evcon == NULL && (connguard_attach(c) < 0 || c->cut == NULL))
        return; /* freed, or attached and watching */
    if (c->phase == CG_HANDLER && c->cut == NULL)
        return; /* a deadline that raced with the dispatch */
    reason = c->cut != NULL ? c->cut : c->phase == CG_HEAD ? "header_timeout" : "body_timeout";
    snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
    metrics_add(M_CUT, labels, 1);
    log_debug("http_connection_closed", "reason=%s head_bytes=%zu", reason, c->head.bytes);
    /*
     * What evhttp does on its own read timeout: the connection and its request (not yet
     * shown to any handler) are freed, and connguard_closed_cb frees c. c is gone after this.
     */
    bufferevent_trigger_event(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
}

void
connguard_watch(struct connguard *g, struct bufferevent *bev)
{
    struct connguard_conn *c = xcalloc(1, sizeof(*c));

    c->g = g;
    c->bev = bev;
    c->fd = -1;
    c->phase = CG_IDLE;
    c->pinned = 1;
    bufferevent_incref(bev);
    c->timer = evtimer_new(g->base, connguard_timer_cb, c);
    c->watch = evbuffer_add_cb(bufferevent_get_input(bev), connguard_input_cb, c);
    TAILQ_INSERT_TAIL(&g->conns, c, link);
    TAILQ_INSERT_TAIL(&g->idle, c, idle_link);
    g->count++;
    connguard_gauge(g);
    /* Attach on the next turn, once evhttp has wrapped bev (before any byte is read). */
    event_active(c->timer, EV_TIMEOUT, 1);
    if (g->count > g->o.max_connections) {
        struct connguard_conn *victim = TAILQ_FIRST(&g->idle);
        time_t now = time(NULL);

        if (victim == c || (victim != NULL && victim->cut != NULL))
            victim = NULL;
        if (now - g->full_logged >= 10) {
            g->full_logged = now;
            log_warn("http_connections_full", "max=%d action=%s", g->o.max_connections,
                     victim != NULL ? "close_oldest_idle" : "refuse");
        }
        if (victim != NULL)
            connguard_close_soon(victim, "evicted");
        else
            connguard_close_soon(c, "refused");
    }
}

static struct connguard_conn *
connguard_find(struct connguard *g, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = req ? evhttp_request_get_connection(req) : NULL;
    evutil_socket_t fd;
    struct connguard_conn *c;

    if (evcon == NULL)
        return NULL;
    fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    if (fd < 0 || (size_t)fd >= g->nfd)
        return NULL;
    c = g->by_fd[fd];
    return c != NULL && c->evcon == evcon ? c : NULL;
}

void
connguard_dispatched(struct connguard *g, struct evhttp_request *req)
{
    struct connguard_conn *c = g ? connguard_find(g, req) : NULL;

    if (c != NULL)
        connguard_set_phase(c, CG_HANDLER);
}

void
connguard_answered(struct connguard *g, struct evhttp_request *req)
{
    struct connguard_conn *c = g ? connguard_find(g, req) : NULL;
    struct evbuffer *in;

    if (c == NULL)
        return;
    connguard_set_phase(c, CG_IDLE);
    /* Bytes a client sent ahead (pipelining) are the next request's head. */
    in = bufferevent_get_input(c->bev);
    if (evbuffer_get_length(in) > 0)
        connguard_head_start(c, in, 0);
}

int
connguard_count(const struct connguard *g)
{
    return g->count;
}

struct connguard *
connguard_new(struct event_base *base, const struct connguard_options *opt)
{
    struct connguard *g = xcalloc(1, sizeof(*g));

    g->base = base;
    g->o = *opt;
    TAILQ_INIT(&g->conns);
    TAILQ_INIT(&g->idle);
    metrics_describe(M_OPEN, METRICS_GAUGE, "HTTP connections open.");
    metrics_describe(M_CUT, METRICS_COUNTER,
                     "HTTP connections closed by the server: header_timeout, body_timeout, "
                     "evicted (oldest idle, at max_connections), refused (none idle), "
                     "upload_refused (an upload answered from its head).");
    connguard_gauge(g);
    return g;
}

void
connguard_free(struct connguard *g)
{
    struct connguard_conn *c;

    if (g == NULL)
        return;
    /* evhttp_free closed every attached connection; what remains never got attached. */
    while ((c = TAILQ_FIRST(&g->conns)) != NULL)
        connguard_free_conn(c);
    free(g->by_fd);
    free(g);
}
