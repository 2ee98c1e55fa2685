/* The benchmarks' HTTP/1.1 load generator: pre-signed requests sent once each, or one GET. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bench.h"

/*
 * bench_load [options] HOST PORT
 *   -f FILE   raw requests, one after the other (bench_sign writes them): each is sent once
 *   -u PATH   a GET of PATH, sent again and again
 *   -c N      connections (default 64), kept alive
 *   -d SECS   stop after SECS seconds (default: when every request of -f is answered)
 *   -n N      stop after N answers
 *   -x CODE   the expected status (default: any 2xx)
 *   -i SECS   idle mode: each connection makes one -u GET, then all stay open; prints
 *             "ready open=N" once all are answered, holds them SECS seconds, then exits
 * Prints one line: requests= seconds= rps= p50_ms= p99_ms= ok= bad= errors= (ok: answered
 * with the expected status; bad: another status; errors: connections refused or lost
 * mid-request). Exits 1 unless some answers came and all had the expected status.
 */
struct loader;

enum cstate { C_HEAD, C_BODY, C_CHUNK_SIZE, C_CHUNK_DATA, C_TRAILER };

struct conn {
    struct loader *L;
    struct bufferevent *bev;
    enum cstate st;
    size_t need;
    int status, close_after, busy;
    double t0;
};

struct reqspan {
    size_t off, len;
};

struct loader {
    struct event_base *base;
    struct sockaddr_in addr;
    char *data; /* -f file's bytes */
    struct reqspan *reqs;
    size_t nreqs, next;
    char get[1024];
    size_t getlen;
    int conns, active, expect, idle_secs, ready;
    double t_start, t_end, deadline;
    unsigned long long max_answers, answers, ok, bad, errors;
    float *lat;
    size_t nlat, caplat;
    struct conn *c;
    struct event *stop_timer;
};

static void conn_open(struct conn *c);
static void conn_next(struct conn *c);

static void
loader_maybe_end(struct loader *L)
{
    if (L->active == 0)
        event_base_loopbreak(L->base);
}

static void
conn_close(struct conn *c)
{
    if (c->bev != NULL) {
        bufferevent_free(c->bev);
        c->bev = NULL;
        c->L->active--;
    }
}

static int
loader_more(struct loader *L)
{
    if (L->max_answers && L->answers >= L->max_answers)
        return 0;
    if (L->deadline > 0 && bench_now() >= L->deadline)
        return 0;
    if (L->reqs != NULL)
        return L->next < L->nreqs;
    return 1;
}

static void
conn_next(struct conn *c)
{
    struct loader *L = c->L;

    if (L->idle_secs > 0 && L->answers > 0 && c->busy == 0 && c->t0 > 0) {
        /* Idle mode: one answer per connection, then it stays open and silent. */
        if (!L->ready && L->answers + L->errors >= (unsigned long long)L->conns) {
            L->ready = 1;
            printf("ready open=%d\n", L->active);
            fflush(stdout);
            event_base_once(L->base, -1, EV_TIMEOUT, bench_break, L->base,
                            &(struct timeval){ L->idle_secs, 0 });
        }
        return;
    }
    if (!loader_more(L)) {
        conn_close(c);
        loader_maybe_end(L);
        return;
    }
    if (L->reqs != NULL) {
        struct reqspan *r = &L->reqs[L->next++];

        bufferevent_write(c->bev, L->data + r->off, r->len);
    } else {
        bufferevent_write(c->bev, L->get, L->getlen);
    }
    c->busy = 1;
    c->st = C_HEAD;
    c->close_after = 0;
    c->t0 = bench_now();
}

static void
conn_done(struct conn *c)
{
    struct loader *L = c->L;
    double t = bench_now();

    c->busy = 0;
    L->answers++;
    L->t_end = t;
    if ((L->expect && c->status == L->expect) || (!L->expect && c->status / 100 == 2))
        L->ok++;
    else
        L->bad++;
    if (L->nlat == L->caplat) {
        L->caplat = L->caplat ? L->caplat * 2 : 65536;
        L->lat = realloc(L->lat, L->caplat * sizeof(*L->lat));
        if (L->lat == NULL)
            exit(1);
    }
    L->lat[L->nlat++] = (float)((t - c->t0) * 1000.0);
    if (c->close_after) {
        conn_close(c);
        if (loader_more(L))
            conn_open(c);
        else
            loader_maybe_end(L);
        return;
    }
    conn_next(c);
}

/* A header's value in the response head [h, h+n), or NULL. */
static const char *
head_value(const char *h, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = h, *end = h + n, *eol;

    while (p < end && (eol = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        p = eol + 1;
        if ((size_t)(end - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1, *ve = memchr(v, '\r', (size_t)(end - v));

            while (v < end && *v == ' ')
                v++;
            *vlen = ve ? (size_t)(ve - v) : 0;
            return v;
        }
    }
    return NULL;
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    for (;;) {
        struct evbuffer_ptr p;
        size_t len = evbuffer_get_length(in), vl;
        const char *v;
        char *h;

        if (!c->busy) {
            evbuffer_drain(in, len);
            return;
        }
        switch (c->st) {
        case C_HEAD:
            p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
            if (p.pos < 0)
                return;
            h = (char *)evbuffer_pullup(in, p.pos + 4);
            c->status = (p.pos > 12 && strncmp(h, "HTTP/1.", 7) == 0) ? atoi(h + 9) : 0;
            c->need = 0;
            c->st = C_BODY;
            if ((v = head_value(h, (size_t)p.pos + 2, "content-length", &vl)) != NULL)
                c->need = strtoul(v, NULL, 10);
            if ((v = head_value(h, (size_t)p.pos + 2, "transfer-encoding", &vl)) != NULL &&
                vl >= 7 && strncasecmp(v, "chunked", 7) == 0)
                c->st = C_CHUNK_SIZE;
            if ((v = head_value(h, (size_t)p.pos + 2, "connection", &vl)) != NULL && vl >= 5 &&
                strncasecmp(v, "close", 5) == 0)
                c->close_after = 1;
            evbuffer_drain(in, (size_t)p.pos + 4);
            break;
        case C_BODY:
            if (len < c->need)
                return;
            evbuffer_drain(in, c->need);
            conn_done(c);
            if (c->bev != bev)
                return;
            break;
        case C_CHUNK_SIZE:
            p = evbuffer_search(in, "\r\n", 2, NULL);
            if (p.pos < 0)
                return;
            h = (char *)evbuffer_pullup(in, p.pos + 2);
            c->need = strtoul(h, NULL, 16) + 2;
            evbuffer_drain(in, (size_t)p.pos + 2);
            c->st = c->need == 2 ? C_TRAILER : C_CHUNK_DATA;
            break;
        case C_CHUNK_DATA:
            if (len < c->need)
                return;
            evbuffer_drain(in, c->need);
            c->st = C_CHUNK_SIZE;
            break;
        case C_TRAILER:
            p = evbuffer_search(in, "\r\n", 2, NULL);
            if (p.pos < 0)
                return;
            evbuffer_drain(in, (size_t)p.pos + 2);
            if (p.pos == 0) {
                conn_done(c);
                if (c->bev != bev)
                    return;
            }
            break;
        }
    }
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    struct loader *L = c->L;

    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        conn_next(c);
        return;
    }
    /* Lost (or never connected): a request in flight is an error, and is not sent again. */
    if (c->busy || c->t0 == 0)
        L->errors++;
    c->busy = 0;
    conn_close(c);
    if (L->idle_secs == 0 && loader_more(L))
        conn_open(c);
    else
        loader_maybe_end(L);
}

static void
conn_open(struct conn *c)
{
    struct loader *L = c->L;

    c->bev = bufferevent_socket_new(L->base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, conn_read, NULL, conn_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    L->active++;
    c->busy = 0;
    c->t0 = 0;
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&L->addr, sizeof(L->addr)) < 0) {
        L->errors++;
        conn_close(c);
    }
}

/* Splits the file into requests: a head ending in a blank line, then Content-Length bytes. */
static int
load_requests(struct loader *L, const char *path)
{
    size_t cap = 0, off = 0, size = 0;
    char *buf = bench_slurp(path, &size);

    if (buf == NULL)
        return -1;
    while (off < size) {
        const char *end = strstr(buf + off, "\r\n\r\n"), *v;
        size_t hl, vl, cl = 0;

        if (end == NULL)
            return -1;
        hl = (size_t)(end - (buf + off)) + 4;
        if ((v = head_value(buf + off, hl - 2, "content-length", &vl)) != NULL)
            cl = strtoul(v, NULL, 10);
        if (L->nreqs == cap) {
            cap = cap ? cap * 2 : 4096;
            L->reqs = realloc(L->reqs, cap * sizeof(*L->reqs));
            if (L->reqs == NULL)
                return -1;
        }
        L->reqs[L->nreqs++] = (struct reqspan){ off, hl + cl };
        off += hl + cl;
    }
    L->data = buf;
    return L->nreqs > 0 ? 0 : -1;
}

static int
cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return x < y ? -1 : x > y;
}

static double
pct(const struct loader *L, double q)
{
    size_t i;

    if (L->nlat == 0)
        return 0;
    i = (size_t)(q * (double)L->nlat);
    if ((double)i == q * (double)L->nlat && i > 0)
        i--;
    return L->lat[i < L->nlat ? i : L->nlat - 1];
}

int
main(int argc, char **argv)
{
    static struct loader L;
    const char *file = NULL, *path = NULL;
    double secs = 0;
    struct rlimit rl;
    int opt;

    L.conns = 64;
    while ((opt = getopt(argc, argv, "f:u:c:d:n:x:i:")) != -1) {
        switch (opt) {
        case 'f':
            file = optarg;
            break;
        case 'u':
            path = optarg;
            break;
        case 'c':
            L.conns = atoi(optarg);
            break;
        case 'd':
            secs = strtod(optarg, NULL);
            break;
        case 'n':
            L.max_answers = strtoull(optarg, NULL, 10);
            break;
        case 'x':
            L.expect = atoi(optarg);
            break;
        case 'i':
            L.idle_secs = atoi(optarg);
            break;
        default:
            goto usage;
        }
    }
    if (argc - optind != 2 || (file == NULL) == (path == NULL) || L.conns < 1 ||
        (L.idle_secs > 0 && path == NULL))
        goto usage;
    signal(SIGPIPE, SIG_IGN);
    memset(&L.addr, 0, sizeof(L.addr));
    L.addr.sin_family = AF_INET;
    L.addr.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
    if (inet_pton(AF_INET, argv[optind], &L.addr.sin_addr) != 1)
        goto usage;
    if (file != NULL && load_requests(&L, file) < 0) {
        fprintf(stderr, "bench_load: cannot read requests from %s\n", file);
        return 1;
    }
    if (path != NULL)
        L.getlen = (size_t)snprintf(L.get, sizeof(L.get),
                                    "GET %s HTTP/1.1\r\nHost: %s:%s\r\n"
                                    "Accept: application/activity+json\r\n\r\n",
                                    path, argv[optind], argv[optind + 1]);
    /* Ten thousand connections need as many descriptors. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    L.base = event_base_new();
    L.c = calloc((size_t)L.conns, sizeof(*L.c));
    if (L.base == NULL || L.c == NULL)
        return 1;
    L.t_start = bench_now();
    if (secs > 0 && L.idle_secs == 0)
        L.deadline = L.t_start + secs;
    for (int i = 0; i < L.conns; i++) {
        L.c[i].L = &L;
        conn_open(&L.c[i]);
    }
    if (L.active > 0)
        event_base_dispatch(L.base);
    for (int i = 0; i < L.conns; i++)
        conn_close(&L.c[i]);
    qsort(L.lat, L.nlat, sizeof(*L.lat), cmp_float);
    {
        double el = (L.t_end > L.t_start ? L.t_end : bench_now()) - L.t_start;

        printf("requests=%llu seconds=%.3f rps=%.0f p50_ms=%.2f p99_ms=%.2f ok=%llu bad=%llu "
               "errors=%llu\n",
               L.answers, el, el > 0 ? (double)L.answers / el : 0, pct(&L, 0.50), pct(&L, 0.99),
               L.ok, L.bad, L.errors);
    }
    event_base_free(L.base);
    free(L.c);
    free(L.lat);
    free(L.reqs);
    free(L.data);
    return L.ok > 0 && L.bad == 0 && L.errors == 0 ? 0 : 1;
usage:
    fprintf(stderr, "usage: bench_load (-f FILE | -u PATH) [-c N] [-d SECS] [-n N] [-x CODE] "
                    "[-i SECS] HOST PORT\n");
    return 2;
}
