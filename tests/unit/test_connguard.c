/* Unit tests for the connection guard's request-head scanner: where a head ends, its path. */
#include <string.h>

#include "connguard.h"
#include "tap.h"

/* Feeds s in pieces of step bytes; returns the bytes the head took, or -1 if it did not end. */
static long
feed(struct connguard_head *h, const char *s, size_t step)
{
    size_t len = strlen(s), off = 0;
    int done = 0;

    connguard_head_init(h);
    while (off < len && !done) {
        size_t n = len - off < step ? len - off : step;

        off += connguard_head_feed(h, s + off, n, &done);
    }
    return done ? (long)off : -1;
}

struct end_case {
    const char *text;
    long want; /* bytes of head, -1: not ended */
    const char *what;
};

static const struct end_case ends[] = {
    { "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, "CRLF head" },
    { "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY", 27, "bytes after the head are not the head's" },
    { "GET / HTTP/1.1\nHost: x\n\n", 24, "LF-only lines (evhttp accepts them)" },
    { "GET / HTTP/1.1\r\nHost: x\n\r\n", 26, "mixed line ends" },
    { "GET / HTTP/1.1\r\nHost: x\r\n", -1, "no empty line yet" },
    { "GET / HTTP/1.1\r\nX: \r\r\nHost: x\r\n", -1, "CR CR LF is a line holding a CR, not empty" },
    { "\r\n", 2, "an empty first line ends it (evhttp refuses it)" },
    { "GET / HTTP/1.1\r\n\r", -1, "a lone CR at the end waits" },
    { "", -1, "nothing" },
};

struct path_case {
    const char *line;
    int want;
};

static const struct path_case paths[] = {
    { "POST /link/archive HTTP/1.1\r\n\r\n", 1 },
    { "POST /link/archive?x=1 HTTP/1.1\r\n\r\n", 1 },
    { "POST /link/archives HTTP/1.1\r\n\r\n", 0 },
    { "POST /link/archive/x HTTP/1.1\r\n\r\n", 0 },
    { "POST /link/ HTTP/1.1\r\n\r\n", 0 },
    { "POST /inbox HTTP/1.1\r\n\r\n", 0 },
    { "POST /x/link/archive HTTP/1.1\r\n\r\n", 0 },
    { "POST http://bridge.example:8080/link/archive HTTP/1.1\r\n\r\n", 1 },
    { "POST HTTPS://bridge.example/link/archive?a HTTP/1.1\r\n\r\n", 1 },
    { "POST https://bridge.example HTTP/1.1\r\n\r\n", 0 },
    { "POST /link/%61rchive HTTP/1.1\r\n\r\n", 0 },
    { "POST\r\n\r\n", 0 },
    { "/link/archive\r\n\r\n", 0 },
};

int
main(void)
{
    struct connguard_head h;
    char big[400];

    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        is_int(feed(&h, ends[i].text, 4096), ends[i].want, "%s, at once", ends[i].what);
        is_int(feed(&h, ends[i].text, 1), ends[i].want, "%s, byte by byte", ends[i].what);
        is_int(feed(&h, ends[i].text, 3), ends[i].want, "%s, by 3", ends[i].what);
    }
    feed(&h, "GET /a HTTP/1.1\r\nHost: x\r\nAccept: y\r\n", 1);
    is_int(h.lines, 3, "complete lines counted");
    is_str(h.first, "GET /a HTTP/1.1\r", "the request line kept (its CR too)");
    is_int((long long)h.bytes, 37, "bytes counted");

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        feed(&h, paths[i].line, 2);
        is_int(connguard_head_path_is(&h, "/link/archive"), paths[i].want, "%.*s",
               (int)strcspn(paths[i].line, "\r"), paths[i].line);
    }

    /* A request line longer than what is kept: the path still shows when it comes early... */
    memset(big, 'q', sizeof(big));
    memcpy(big, "POST /link/archive?", 19);
    memcpy(big + sizeof(big) - 15, " HTTP/1.1\r\n\r\n", 14);
    big[sizeof(big) - 1] = '\0';
    ok(feed(&h, big, 7) > 0 && connguard_head_path_is(&h, "/link/archive"),
       "a long query after the path");
    is_int((long long)h.firstlen, (long long)sizeof(h.first) - 1, "the kept start is bounded");
    /* ... and an authority too long to keep gives the ordinary cap (never the upload's). */
    memset(big, 'h', sizeof(big));
    memcpy(big, "POST http://", 12);
    memcpy(big + 300, "/link/archive HTTP/1.1\r\n\r\n", 27);
    ok(feed(&h, big, 64) > 0 && !connguard_head_path_is(&h, "/link/archive"),
       "a path past the kept start is not the upload's");
    {
        static const char hs[] = "Host: b.example\r\ncookie:  passerelle_link=abc ; x=1 \r\n"
                                 "X-CSRF-Token:\tdef\r\nCookie: second=1\r\nEmpty:\r\nLF: only\n";
        char v[64];

        ok(connguard_head_header(hs, strlen(hs), "Cookie", v, sizeof(v)) == 0 &&
               strcmp(v, "passerelle_link=abc ; x=1") == 0,
           "a header by name, any case, the first of two, blanks around it left out: %s", v);
        ok(connguard_head_header(hs, strlen(hs), "x-csrf-token", v, sizeof(v)) == 0 &&
               strcmp(v, "def") == 0,
           "a tab after the colon");
        ok(connguard_head_header(hs, strlen(hs), "Empty", v, sizeof(v)) == 0 && v[0] == '\0',
           "an empty value");
        ok(connguard_head_header(hs, strlen(hs), "LF", v, sizeof(v)) == 0 && strcmp(v, "only") == 0,
           "a bare LF ends a line too");
        ok(connguard_head_header(hs, strlen(hs), "Cookie2", v, sizeof(v)) < 0, "absent");
        ok(connguard_head_header(hs, strlen(hs), "Cook", v, sizeof(v)) < 0,
           "a prefix of a name is not the name");
        ok(connguard_head_header(hs, strlen(hs), "Cookie", v, 8) < 0, "too long for out");
        ok(connguard_head_header(hs, 20, "Cookie", v, sizeof(v)) < 0,
           "only the len bytes given are read");
    }
    return done_testing();
}
