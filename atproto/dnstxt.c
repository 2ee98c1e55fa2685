/* DNS TXT lookups over UDP on the libevent loop, for _atproto.<handle>: build, send, read. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "dnstxt.h"
#include "err.h"
#include "xmalloc.h"

#define DNSTXT_TYPE_TXT 16
#define DNSTXT_CLASS_IN 1
/* Without EDNS a UDP reply is at most 512 bytes; a larger buffer costs nothing. */
#define DNSTXT_PACKET 4096

struct dnstxt_query;

struct dnstxt {
    struct event_base *base;
    struct sockaddr_storage server;
    socklen_t server_len;
    struct dnstxt_query *pending; /* doubly linked, for dnstxt_free */
};

struct dnstxt_query {
    struct dnstxt *owner;
    struct dnstxt_query *prev, *next;
    char name[DNSTXT_MAX_NAME + 1];
    unsigned char packet[DNSTXT_MAX_NAME + 32];
    int packet_len;
    uint16_t id;
    int fd;
    int resent;
    long timeout_ms;
    struct event *ev;   /* readable or timed out */
    struct event *done; /* runs an early failure from the loop */
    char errmsg[160];
    dnstxt_done_fn cb;
    void *arg;
};

/* "IPv4", "IPv4:port", "IPv6", "[IPv6]:port" into ss. -1 when it is none of those. */
static int
dnstxt_parse_server(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *port = NULL;
    long p = 53;
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || (size_t)(close - s - 1) >= sizeof(host))
            return -1;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            return -1;
    } else {
        const char *colon = strchr(s, ':');

        if (strlen(s) >= sizeof(host))
            return -1;
        /* One colon: IPv4 with a port; more: a bare IPv6 address. */
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            memcpy(host, s, (size_t)(colon - s));
            host[colon - s] = '\0';
            port = colon + 1;
        } else {
            snprintf(host, sizeof(host), "%s", s);
        }
    }
    if (port != NULL) {
        char *end;

        p = strtol(port, &end, 10);
        if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
            return -1;
    }
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*v6);
        return 0;
    }
    return -1;
}

/* The first "nameserver" of /etc/resolv.conf into buf, or "127.0.0.1" when there is none. */
static void
dnstxt_system_server(char *buf, size_t len)
{
    FILE *f = fopen("/etc/resolv.conf", "re");
    char line[256];

    snprintf(buf, len, "127.0.0.1");
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        char addr[64];

        if (sscanf(line, " nameserver %63s", addr) == 1) {
            /* A zone (fe80::1%eth0) is not ours to handle. */
            if (strchr(addr, '%') == NULL) {
                snprintf(buf, len, "%s", addr);
                break;
            }
        }
    }
    fclose(f);
}

struct dnstxt *
dnstxt_new(struct event_base *base, const char *server, char *err, size_t errlen)
{
    struct dnstxt *d = xcalloc(1, sizeof(*d));
    char sys[64];

    if (server == NULL || *server == '\0') {
        dnstxt_system_server(sys, sizeof(sys));
        server = sys;
    }
    if (dnstxt_parse_server(server, &d->server, &d->server_len) < 0) {
        free(d);
        err_set(err, errlen, "DNS server \"%.64s\" is not IP, IP:port or [IPv6]:port", server);
        return NULL;
    }
    d->base = base;
    return d;
}

int
dnstxt_build_query(const char *name, uint16_t id, unsigned char *out, size_t outlen)
{
    size_t nlen = name != NULL ? strlen(name) : 0, o = 12;
    const char *label = name;

    if (nlen == 0 || nlen > DNSTXT_MAX_NAME || outlen < 12 + nlen + 2 + 4)
        return -1;
    memset(out, 0, 12);
    out[0] = (unsigned char)(id >> 8);
    out[1] = (unsigned char)(id & 0xff);
    out[2] = 0x01; /* RD: recursion desired */
    out[5] = 1;    /* QDCOUNT */
    while (*label != '\0') {
        size_t l = strcspn(label, ".");

        if (l == 0 || l > 63)
            return -1;
        for (size_t i = 0; i < l; i++) {
            char c = label[i];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_'))
                return -1;
        }
        out[o++] = (unsigned char)l;
        memcpy(out + o, label, l);
        o += l;
        label += l;
        if (*label == '.') {
            label++;
            if (*label == '\0')
                return -1;
        }
    }
    out[o++] = 0;
    out[o++] = 0;
    out[o++] = DNSTXT_TYPE_TXT;
    out[o++] = 0;
    out[o++] = DNSTXT_CLASS_IN;
    return (int)o;
}

/*
 * Reads the name at *off in pkt (following compression pointers, a bounded number of times)
 * into out as dotted text, and moves *off past it. -1 when malformed.
 */
static int
dnstxt_read_name(const unsigned char *pkt, size_t len, size_t *off, char *out, size_t outlen)
{
    size_t p = *off, o = 0, end = 0;
    int jumps = 0;

    for (;;) {
        unsigned char l;

        if (p >= len)
            return -1;
        l = pkt[p];
        if ((l & 0xc0) == 0xc0) {
            if (p + 1 >= len || ++jumps > 16)
                return -1;
            if (end == 0)
                end = p + 2;
            p = (size_t)(l & 0x3f) << 8 | pkt[p + 1];
            continue;
        }
        if ((l & 0xc0) != 0)
            return -1;
        if (l == 0) {
            p++;
            break;
        }
        if (p + 1 + l > len || o + l + 2 > outlen)
            return -1;
        if (o > 0)
            out[o++] = '.';
        memcpy(out + o, pkt + p + 1, l);
        o += l;
        p += 1 + (size_t)l;
    }
    out[o] = '\0';
    *off = end != 0 ? end : p;
    return 0;
}

static unsigned
dnstxt_u16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* One TXT record's character-strings joined; NULL when malformed, too long or holding NUL. */
static char *
dnstxt_rdata(const unsigned char *rd, size_t rdlen)
{
    char *s = xmalloc(rdlen + 1);
    size_t o = 0, p = 0;

    while (p < rdlen) {
        size_t l = rd[p++];

        if (p + l > rdlen || o + l > DNSTXT_MAX_TEXT || memchr(rd + p, 0, l) != NULL) {
            free(s);
            return NULL;
        }
        memcpy(s + o, rd + p, l);
        o += l;
        p += l;
    }
    s[o] = '\0';
    return s;
}

int
dnstxt_parse_reply(const unsigned char *pkt, size_t len, uint16_t id, const char *name, char ***txt,
                   size_t *n, char *err, size_t errlen)
{
    char qname[DNSTXT_MAX_NAME + 2], rname[DNSTXT_MAX_NAME + 2];
    unsigned flags, qd, an, rcode;
    size_t off = 12;
    char **list;
    size_t count = 0;

    *txt = NULL;
    *n = 0;
    if (len < 12 || dnstxt_u16(pkt) != id)
        return -1;
    flags = dnstxt_u16(pkt + 2);
    qd = dnstxt_u16(pkt + 4);
    an = dnstxt_u16(pkt + 6);
    if (!(flags & 0x8000) || qd != 1 ||
        dnstxt_read_name(pkt, len, &off, qname, sizeof(qname)) < 0 || off + 4 > len ||
        strcasecmp(qname, name) != 0 || dnstxt_u16(pkt + off) != DNSTXT_TYPE_TXT ||
        dnstxt_u16(pkt + off + 2) != DNSTXT_CLASS_IN)
        return -1;
    off += 4;
    rcode = flags & 0xf;
    if (rcode == 3)
        return DNSTXT_NONE;
    if (rcode != 0) {
        err_set(err, errlen, "DNS rcode %u", rcode);
        return DNSTXT_FAIL;
    }
    if (flags & 0x0200) {
        err_set(err, errlen, "DNS reply truncated");
        return DNSTXT_FAIL;
    }
    list = xcalloc(DNSTXT_MAX_RECORDS, sizeof(*list));
    for (unsigned i = 0; i < an; i++) {
        unsigned type, klass, rdlen;

        if (dnstxt_read_name(pkt, len, &off, rname, sizeof(rname)) < 0 || off + 10 > len)
            goto malformed;
        type = dnstxt_u16(pkt + off);
        klass = dnstxt_u16(pkt + off + 2);
        rdlen = dnstxt_u16(pkt + off + 8);
        off += 10;
        if (off + rdlen > len)
            goto malformed;
        /* A CNAME chain may come first: TXT records of the IN class are what we keep. */
        if (type == DNSTXT_TYPE_TXT && klass == DNSTXT_CLASS_IN && count < DNSTXT_MAX_RECORDS) {
            if ((list[count] = dnstxt_rdata(pkt + off, rdlen)) == NULL)
                goto malformed;
            count++;
        }
        off += rdlen;
    }
    if (count == 0) {
        free(list);
        return DNSTXT_NONE;
    }
    *txt = list;
    *n = count;
    return DNSTXT_OK;
malformed:
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
    err_set(err, errlen, "malformed DNS reply");
    return DNSTXT_FAIL;
}

/* Ends q: unlinks it, runs its callback once, frees it. */
static void
dnstxt_finish(struct dnstxt_query *q, enum dnstxt_status st, char **txt, size_t n)
{
    struct dnstxt *d = q->owner;

    if (q->prev != NULL)
        q->prev->next = q->next;
    else
        d->pending = q->next;
    if (q->next != NULL)
        q->next->prev = q->prev;
    if (q->ev != NULL)
        event_free(q->ev);
    if (q->done != NULL)
        event_free(q->done);
    if (q->fd >= 0)
        close(q->fd);
    q->cb(st, (const char *const *)txt, n, st == DNSTXT_FAIL ? q->errmsg : "", q->arg);
    for (size_t i = 0; i < n; i++)
        free(txt[i]);
    free(txt);
    free(q);
}

static void
dnstxt_early(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    dnstxt_finish(arg, DNSTXT_FAIL, NULL, 0);
}

static void
dnstxt_on_event(evutil_socket_t fd, short what, void *arg)
{
    struct dnstxt_query *q = arg;
    unsigned char buf[DNSTXT_PACKET];
    char **txt = NULL;
    size_t n = 0;
    ssize_t got;
    int st;

    if (what & EV_TIMEOUT) {
        if (!q->resent) {
            struct timeval tv = { .tv_sec = q->timeout_ms * 2 / 3 / 1000,
                                  .tv_usec = q->timeout_ms * 2 / 3 % 1000 * 1000 };

            /* UDP may lose the query: ask once more, for the time that is left. */
            q->resent = 1;
            (void)send(fd, q->packet, (size_t)q->packet_len, 0);
            event_add(q->ev, &tv);
            return;
        }
        snprintf(q->errmsg, sizeof(q->errmsg), "DNS timeout");
        dnstxt_finish(q, DNSTXT_FAIL, NULL, 0);
        return;
    }
    /* Read what is there; a datagram that is not our reply is dropped and we wait on. */
    while ((got = recv(fd, buf, sizeof(buf), 0)) >= 0) {
        st = dnstxt_parse_reply(buf, (size_t)got, q->id, q->name, &txt, &n, q->errmsg,
                                sizeof(q->errmsg));
        if (st >= 0) {
            dnstxt_finish(q, (enum dnstxt_status)st, txt, n);
            return;
        }
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        /* ICMP port unreachable and the like come back as recv errors on a connected socket. */
        snprintf(q->errmsg, sizeof(q->errmsg), "DNS: %s", strerror(errno));
        dnstxt_finish(q, DNSTXT_FAIL, NULL, 0);
    }
}

void
dnstxt_query(struct dnstxt *d, const char *name, long timeout_ms, dnstxt_done_fn cb, void *arg)
{
    struct dnstxt_query *q = xcalloc(1, sizeof(*q));
    unsigned char rnd[2];
    struct timeval tv;

    q->owner = d;
    q->cb = cb;
    q->arg = arg;
    q->fd = -1;
    q->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    q->next = d->pending;
    if (d->pending != NULL)
        d->pending->prev = q;
    d->pending = q;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        snprintf(q->errmsg, sizeof(q->errmsg), "no randomness for the DNS id");
        goto early;
    }
    q->id = (uint16_t)(rnd[0] << 8 | rnd[1]);
    if (name == NULL || strlen(name) > DNSTXT_MAX_NAME ||
        (q->packet_len = dnstxt_build_query(name, q->id, q->packet, sizeof(q->packet))) < 0) {
        snprintf(q->errmsg, sizeof(q->errmsg), "not a DNS name");
        goto early;
    }
    memcpy(q->name, name, strlen(name) + 1);
    /* A connected socket of its own: the kernel drops datagrams from any other address, and
     * each query gets a fresh random source port. */
    q->fd = socket(d->server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&d->server, d->server_len) < 0 ||
        send(q->fd, q->packet, (size_t)q->packet_len, 0) < 0) {
        snprintf(q->errmsg, sizeof(q->errmsg), "DNS: %s", strerror(errno));
        goto early;
    }
    q->ev = event_new(d->base, q->fd, EV_READ | EV_PERSIST, dnstxt_on_event, q);
    tv.tv_sec = q->timeout_ms / 3 / 1000;
    tv.tv_usec = q->timeout_ms / 3 % 1000 * 1000;
    if (q->ev == NULL || event_add(q->ev, &tv) < 0) {
        snprintf(q->errmsg, sizeof(q->errmsg), "DNS: no event");
        goto early;
    }
    return;
early:
    /* Never call back from inside the call. */
    q->done = event_new(d->base, -1, 0, dnstxt_early, q);
    if (q->done != NULL) {
        event_active(q->done, 0, 0);
        return;
    }
    abort();
}

void
dnstxt_free(struct dnstxt *d)
{
    if (d == NULL)
        return;
    while (d->pending != NULL) {
        snprintf(d->pending->errmsg, sizeof(d->pending->errmsg), "cancelled");
        dnstxt_finish(d->pending, DNSTXT_FAIL, NULL, 0);
    }
    free(d);
}
