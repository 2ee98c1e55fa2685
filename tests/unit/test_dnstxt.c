/* Tests of dnstxt: the query packet, reading replies (crafted), and lookups on a loop against a
 * UDP responder in this process (answers, NXDOMAIN, a lost query, a forged id, a timeout). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "dnstxt.h"
#include "tap.h"

/* A reply to (id, name) with rcode and flags, then the answers given as raw bytes. */
static size_t
reply(unsigned char *out, uint16_t id, const char *name, unsigned flags, unsigned an,
      const unsigned char *answers, size_t alen)
{
    int q = dnstxt_build_query(name, id, out, 512);

    flags |= 0x8000 | 0x0100; /* QR, RD */
    out[2] = (unsigned char)(flags >> 8);
    out[3] = (unsigned char)(flags & 0xff);
    out[7] = (unsigned char)an;
    if (alen > 0)
        memcpy(out + q, answers, alen);
    return (size_t)q + alen;
}

/* A TXT answer whose owner is a pointer to the question name (offset 12). */
static size_t
txt_rr(unsigned char *out, const char *const *strings, size_t n)
{
    size_t o = 0, rdlen = 0;

    for (size_t i = 0; i < n; i++)
        rdlen += 1 + strlen(strings[i]);
    out[o++] = 0xc0;
    out[o++] = 12;
    out[o++] = 0;
    out[o++] = 16; /* TXT */
    out[o++] = 0;
    out[o++] = 1; /* IN */
    memset(out + o, 0, 4);
    o += 4;
    out[o++] = (unsigned char)(rdlen >> 8);
    out[o++] = (unsigned char)(rdlen & 0xff);
    for (size_t i = 0; i < n; i++) {
        out[o++] = (unsigned char)strlen(strings[i]);
        memcpy(out + o, strings[i], strlen(strings[i]));
        o += strlen(strings[i]);
    }
    return o;
}

static void
free_txt(char **txt, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(txt[i]);
    free(txt);
}

static void
test_query(void)
{
    unsigned char pkt[300];
    char name[300];
    int n = dnstxt_build_query("_atproto.Alice.test", 0x1234, pkt, sizeof(pkt));
    static const unsigned char want[] = { 0x12, 0x34, 0x01, 0,   0,   1,   0,   0,   0,   0,
                                          0,    0,    8,    '_', 'a', 't', 'p', 'r', 'o', 't',
                                          'o',  5,    'A',  'l', 'i', 'c', 'e', 4,   't', 'e',
                                          's',  't',  0,    0,   16,  0,   1 };

    ok(n == (int)sizeof(want) && memcmp(pkt, want, sizeof(want)) == 0, "TXT query packet");
    ok(dnstxt_build_query("a..b", 1, pkt, sizeof(pkt)) < 0, "empty label refused");
    ok(dnstxt_build_query("a.b.", 1, pkt, sizeof(pkt)) < 0, "trailing dot refused");
    ok(dnstxt_build_query("a b.test", 1, pkt, sizeof(pkt)) < 0, "space refused");
    memset(name, 'a', 64);
    strcpy(name + 64, ".test");
    ok(dnstxt_build_query(name, 1, pkt, sizeof(pkt)) < 0, "64-byte label refused");
    ok(dnstxt_build_query("a.test", 1, pkt, 10) < 0, "short buffer refused");
}

static void
test_parse(void)
{
    static const char *const one[] = { "did=did:plc:abc" };
    static const char *const split[] = { "did=did:plc:", "abc" };
    unsigned char pkt[1024], ans[512];
    char err[100], **txt;
    size_t n, len, alen;
    const char *name = "_atproto.alice.test";

    alen = txt_rr(ans, one, 1);
    len = reply(pkt, 7, name, 0, 1, ans, alen);
    ok(dnstxt_parse_reply(pkt, len, 7, name, &txt, &n, err, sizeof(err)) == DNSTXT_OK && n == 1 &&
           strcmp(txt[0], "did=did:plc:abc") == 0,
       "one TXT record");
    free_txt(txt, n);
    ok(dnstxt_parse_reply(pkt, len, 7, "_ATPROTO.alice.TEST", &txt, &n, err, sizeof(err)) ==
           DNSTXT_OK,
       "the question is compared without case");
    free_txt(txt, n);
    ok(dnstxt_parse_reply(pkt, len, 8, name, &txt, &n, err, sizeof(err)) == -1,
       "another id: not ours");
    ok(dnstxt_parse_reply(pkt, len, 7, "_atproto.bob.test", &txt, &n, err, sizeof(err)) == -1,
       "another question: not ours");
    pkt[2] &= 0x7f;
    ok(dnstxt_parse_reply(pkt, len, 7, name, &txt, &n, err, sizeof(err)) == -1,
       "a query, not a reply: not ours");
    ok(dnstxt_parse_reply(pkt, 11, 7, name, &txt, &n, err, sizeof(err)) == -1, "too short");

    alen = txt_rr(ans, split, 2);
    alen += txt_rr(ans + alen, one, 1);
    len = reply(pkt, 7, name, 0, 2, ans, alen);
    ok(dnstxt_parse_reply(pkt, len, 7, name, &txt, &n, err, sizeof(err)) == DNSTXT_OK && n == 2 &&
           strcmp(txt[0], "did=did:plc:abc") == 0 && strcmp(txt[1], "did=did:plc:abc") == 0,
       "two records; a record's strings joined");
    free_txt(txt, n);
    ok(dnstxt_parse_reply(pkt, len - 1, 7, name, &txt, &n, err, sizeof(err)) == DNSTXT_FAIL,
       "a cut answer is malformed");

    len = reply(pkt, 7, name, 3, 0, NULL, 0);
    ok(dnstxt_parse_reply(pkt, len, 7, name, &txt, &n, err, sizeof(err)) == DNSTXT_NONE,
       "NXDOMAIN");
    len = reply(pkt, 7, name, 0, 0, NULL, 0);
    ok(dnstxt_parse_reply(pkt, len, 7, name, &txt, &n, err, sizeof(err)) == DNSTXT_NONE,
       "no answer: none");
    len = reply(pkt, 7, name, 2, 0, NULL, 0);
    ok(dnstxt_parse_reply(pkt, len, 7, name, &txt, &n, err, sizeof(err)) == DNSTXT_FAIL,
       "SERVFAIL fails");
    len = reply(pkt, 7, name, 0x0200, 0, NULL, 0);
    ok(dnstxt_parse_reply(pkt, len, 7, name, &txt, &n, err, sizeof(err)) == DNSTXT_FAIL,
       "truncated fails");

    /* An answer whose owner name points at itself. */
    alen = txt_rr(ans, one, 1);
    len = reply(pkt, 7, name, 0, 1, ans, alen);
    {
        size_t at = len - alen;

        pkt[at] = 0xc0 | (unsigned char)(at >> 8);
        pkt[at + 1] = (unsigned char)(at & 0xff);
    }
    ok(dnstxt_parse_reply(pkt, len, 7, name, &txt, &n, err, sizeof(err)) == DNSTXT_FAIL,
       "a pointer loop is malformed");
    /* A NUL inside the text. */
    alen = txt_rr(ans, one, 1);
    ans[alen - 3] = '\0';
    len = reply(pkt, 7, name, 0, 1, ans, alen);
    ok(dnstxt_parse_reply(pkt, len, 7, name, &txt, &n, err, sizeof(err)) == DNSTXT_FAIL,
       "a NUL in the text is malformed");
}

/* The responder: how it treats the queries it gets. */
enum mode { ANSWER, NXDOMAIN, DROP_FIRST, FORGE_FIRST, SILENT };

struct responder {
    int fd;
    enum mode mode;
    int seen;
};

static void
on_query(evutil_socket_t fd, short what, void *arg)
{
    static const char *const one[] = { "did=did:plc:ewvi7nxzyoun6zhxrhs64oiz" };
    struct responder *r = arg;
    unsigned char q[512], out[1024], ans[512];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
    uint16_t id;
    char name[256];
    size_t len, o = 12, nl = 0;

    (void)what;
    if (n < 17)
        return;
    r->seen++;
    id = (uint16_t)(q[0] << 8 | q[1]);
    while (q[o] != 0 && o < (size_t)n) {
        if (nl > 0)
            name[nl++] = '.';
        memcpy(name + nl, q + o + 1, q[o]);
        nl += q[o];
        o += 1 + q[o];
    }
    name[nl] = '\0';
    if (r->mode == SILENT || (r->mode == DROP_FIRST && r->seen == 1))
        return;
    if (r->mode == FORGE_FIRST && r->seen == 1) {
        static const char *const forged[] = { "did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa" };

        /* Another id, another DID: taken, it would name the wrong account. */
        len = reply(out, (uint16_t)(id + 1), name, 0, 1, ans, txt_rr(ans, forged, 1));
        sendto(fd, out, len, 0, (struct sockaddr *)&from, fl);
    }
    if (r->mode == NXDOMAIN)
        len = reply(out, id, name, 3, 0, NULL, 0);
    else
        len = reply(out, id, name, 0, 1, ans, txt_rr(ans, one, 1));
    sendto(fd, out, len, 0, (struct sockaddr *)&from, fl);
}

struct result {
    int done;
    enum dnstxt_status st;
    size_t n;
    char first[200];
};

static void
on_done(enum dnstxt_status st, const char *const *txt, size_t n, const char *errmsg, void *arg)
{
    struct result *res = arg;

    (void)errmsg;
    res->done++;
    res->st = st;
    res->n = n;
    snprintf(res->first, sizeof(res->first), "%s", n > 0 ? txt[0] : "");
}

static void
test_loop(void)
{
    struct event_base *base = event_base_new();
    struct responder r = { .fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0) };
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
    socklen_t sl = sizeof(sin);
    struct event *ev;
    struct dnstxt *d;
    struct result res;
    char server[64], err[100];

    bind(r.fd, (struct sockaddr *)&sin, sizeof(sin));
    getsockname(r.fd, (struct sockaddr *)&sin, &sl);
    snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(sin.sin_port));
    ev = event_new(base, r.fd, EV_READ | EV_PERSIST, on_query, &r);
    event_add(ev, NULL);
    ok(dnstxt_new(base, "localhost:53", err, sizeof(err)) == NULL, "a server name refused");
    ok(dnstxt_new(base, "127.0.0.1:0", err, sizeof(err)) == NULL, "port 0 refused");
    dnstxt_free(dnstxt_new(base, "[::1]:5353", err, sizeof(err)));
    d = dnstxt_new(base, server, err, sizeof(err));
    ok(d != NULL, "resolver on %s", server);

    struct {
        enum mode mode;
        long timeout;
        enum dnstxt_status want;
        int queries;
        const char *what;
    } cases[] = {
        { ANSWER, 2000, DNSTXT_OK, 1, "answered" },
        { NXDOMAIN, 2000, DNSTXT_NONE, 1, "NXDOMAIN" },
        { DROP_FIRST, 900, DNSTXT_OK, 2, "a lost query is sent again" },
        { FORGE_FIRST, 2000, DNSTXT_OK, 1, "a reply with another id is ignored" },
        { SILENT, 300, DNSTXT_FAIL, 2, "no reply: timeout" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&res, 0, sizeof(res));
        r.mode = cases[i].mode;
        r.seen = 0;
        dnstxt_query(d, "_atproto.alice.test", cases[i].timeout, on_done, &res);
        ok(res.done == 0, "%s: no callback inside the call", cases[i].what);
        while (res.done == 0)
            event_base_loop(base, EVLOOP_ONCE);
        ok(res.done == 1 && res.st == cases[i].want && r.seen == cases[i].queries,
           "%s (status %d, %d queries)", cases[i].what, res.st, r.seen);
        if (cases[i].want == DNSTXT_OK)
            is_str(res.first, "did=did:plc:ewvi7nxzyoun6zhxrhs64oiz", "%s: the record",
                   cases[i].what);
    }
    memset(&res, 0, sizeof(res));
    dnstxt_query(d, "bad name", 1000, on_done, &res);
    ok(res.done == 0, "a bad name: no callback inside the call");
    event_base_loop(base, EVLOOP_ONCE);
    ok(res.done == 1 && res.st == DNSTXT_FAIL, "a bad name fails from the loop");
    memset(&res, 0, sizeof(res));
    r.mode = SILENT;
    dnstxt_query(d, "_atproto.alice.test", 5000, on_done, &res);
    dnstxt_free(d);
    ok(res.done == 1 && res.st == DNSTXT_FAIL, "free ends a pending lookup");
    event_free(ev);
    close(r.fd);
    event_base_free(base);
}

int
main(void)
{
    test_query();
    test_parse();
    test_loop();
    return done_testing();
}
