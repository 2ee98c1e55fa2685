/* Tests for the outbound HTTP client against evhttp servers on 127.0.0.1 in the same loop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "httpc.h"
#include "log.h"
#include "tap.h"

#define UA "passerelle/0.1.0-test (+https://relay.test)"

/* A request the server holds open (slow reply or trickled body). */
struct held {
    struct evhttp_request *req;
    struct event *ev;
    int left; /* trickle: bytes still to send; slow: -1 */
    TAILQ_ENTRY(held) link;
};

static struct event_base *base;
static struct evhttp *srv;
static int port;          /* evhttp server */
static int never_port;    /* accepts and never answers */
static int never_fds[64]; /* connections accepted by the never server */
static int never_n;
static int accepts; /* connections accepted by the evhttp server */
static int active, max_active;
static size_t max_running_seen;
static struct httpc *stats_client; /* sampled by the slow handler */
static int hop_mismatch, hops_seen;
static char last_method[16], last_ct[128], last_xtest[128], last_ua[256];
static char *last_body;
static size_t last_body_len;
static TAILQ_HEAD(, held) helds = TAILQ_HEAD_INITIALIZER(helds);

/* Completion bookkeeping shared by the callbacks. */
static int in_request; /* set around httpc_request: a callback seeing it was synchronous */
static int done_count, want_count;

struct result {
    int calls;
    int sync;
    enum httpc_error error;
    long status;
    char *body;
    size_t body_len;
    char *ctype, *retry_after, *location, *eff_url;
    int redirects;
    int64_t ms;
};

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void
result_clear(struct result *r)
{
    free(r->body);
    free(r->ctype);
    free(r->retry_after);
    free(r->location);
    free(r->eff_url);
    memset(r, 0, sizeof(*r));
}

static void
done_cb(const struct httpc_response *resp, void *arg)
{
    struct result *r = arg;

    r->calls++;
    r->sync |= in_request;
    r->error = resp->error;
    r->status = resp->status;
    r->redirects = resp->redirects;
    r->ms = mono_ms() - r->ms;
    free(r->body);
    r->body = NULL;
    if (resp->body != NULL) {
        r->body = malloc(resp->body_len + 1);
        memcpy(r->body, resp->body, resp->body_len + 1);
        r->body_len = resp->body_len;
    }
    r->ctype = dup_or_null(httpc_response_header(resp, "content-type"));
    r->retry_after = dup_or_null(httpc_response_header(resp, "Retry-After"));
    r->location = dup_or_null(httpc_response_header(resp, "Location"));
    r->eff_url = dup_or_null(resp->effective_url);
    if (++done_count >= want_count)
        event_base_loopbreak(base);
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    event_base_loopbreak(base);
}

/* Runs the loop until want callbacks have run, or limit_ms passed. */
static void
wait_done(int want, int limit_ms)
{
    struct timeval tv = { limit_ms / 1000, (limit_ms % 1000) * 1000 };
    struct event *guard = evtimer_new(base, guard_cb, NULL);

    want_count = want;
    evtimer_add(guard, &tv);
    if (done_count < want_count)
        event_base_dispatch(base);
    event_free(guard);
}

static void
spin(int ms)
{
    wait_done(1 << 30, ms);
}

static void
start(struct httpc *h, const char *method, const char *url, const char *const *hdrs, size_t nh,
      const char *body, size_t blen, httpc_sign_fn sign, void *sarg, struct result *r)
{
    struct httpc_req req = { method, url, hdrs, nh, body, blen, sign, sarg, 0 };

    r->ms = mono_ms();
    in_request = 1;
    httpc_request(h, &req, done_cb, r);
    in_request = 0;
}

static char *
url_for(const char *path)
{
    static char bufs[4][256];
    static int i;
    char *b = bufs[i++ % 4];

    snprintf(b, sizeof(bufs[0]), "http://127.0.0.1:%d%s", port, path);
    return b;
}

/* --- the evhttp server ------------------------------------------------------------------- */

static void
copy_header(struct evhttp_request *req, const char *name, char *out, size_t outlen)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);

    snprintf(out, outlen, "%s", v != NULL ? v : "");
}

static void
held_free(struct held *hd)
{
    TAILQ_REMOVE(&helds, hd, link);
    event_free(hd->ev);
    free(hd);
}

static void
slow_cb(evutil_socket_t fd, short what, void *arg)
{
    struct held *hd = arg;
    struct evbuffer *b = evbuffer_new();

    (void)fd;
    (void)what;
    active--;
    evbuffer_add_printf(b, "slow");
    evhttp_send_reply(hd->req, 200, "OK", b);
    evbuffer_free(b);
    held_free(hd);
}

static void
trickle_cb(evutil_socket_t fd, short what, void *arg)
{
    struct held *hd = arg;
    struct evbuffer *b;

    (void)fd;
    (void)what;
    if (evhttp_request_get_connection(hd->req) == NULL || hd->left == 0) {
        evhttp_send_reply_end(hd->req); /* frees a request whose client left */
        held_free(hd);
        return;
    }
    b = evbuffer_new();
    evbuffer_add(b, "x", 1);
    evhttp_send_reply_chunk(hd->req, b);
    evbuffer_free(b);
    hd->left--;
}

static struct held *
hold(struct evhttp_request *req, event_callback_fn fn, int ms, int persist, int left)
{
    struct held *hd = calloc(1, sizeof(*hd));
    struct timeval tv = { 0, ms * 1000 };

    hd->req = req;
    hd->left = left;
    hd->ev = event_new(base, -1, persist ? EV_PERSIST : 0, fn, hd);
    event_add(hd->ev, &tv);
    TAILQ_INSERT_TAIL(&helds, hd, link);
    return hd;
}

static void
server_cb(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    struct evbuffer *b = evbuffer_new();
    const char *hop = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Hop");
    int n;

    (void)arg;
    copy_header(req, "User-Agent", last_ua, sizeof(last_ua));
    if (hop != NULL) {
        hops_seen++;
        if (strcmp(hop, url_for(uri)) != 0)
            hop_mismatch++;
    }
    if (strcmp(uri, "/hello") == 0) {
        evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
        evbuffer_add_printf(b, "hello world");
        evhttp_send_reply(req, 200, "OK", b);
    } else if (strcmp(uri, "/echo") == 0) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);

        snprintf(last_method, sizeof(last_method), "%s",
                 evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "other");
        copy_header(req, "Content-Type", last_ct, sizeof(last_ct));
        copy_header(req, "X-Test", last_xtest, sizeof(last_xtest));
        free(last_body);
        last_body_len = evbuffer_get_length(in);
        last_body = malloc(last_body_len + 1);
        evbuffer_copyout(in, last_body, last_body_len);
        evbuffer_add_buffer(b, in);
        evhttp_send_reply(req, 201, "Created", b);
    } else if (sscanf(uri, "/status/%d", &n) == 1) {
        if (n == 429)
            evhttp_add_header(out, "Retry-After", "120");
        evbuffer_add_printf(b, "status %d", n);
        evhttp_send_reply(req, n, "Status", b);
    } else if (strcmp(uri, "/big") == 0) {
        char *big = calloc(1, 2u << 20);

        evbuffer_add(b, big, 2u << 20);
        free(big);
        evhttp_send_reply(req, 200, "OK", b);
    } else if (strcmp(uri, "/bigchunked") == 0) {
        static char chunk[65536];

        evhttp_send_reply_start(req, 200, "OK");
        for (int i = 0; i < 40; i++) {
            evbuffer_add(b, chunk, sizeof(chunk));
            evhttp_send_reply_chunk(req, b);
        }
        evhttp_send_reply_end(req);
    } else if (sscanf(uri, "/redir/%d", &n) == 1) {
        char loc[256];

        if (n <= 0) {
            evbuffer_add_printf(b, "landed");
            evhttp_send_reply(req, 200, "OK", b);
        } else {
            /* Odd hops send an absolute Location, even hops a relative one. */
            if (n % 2)
                snprintf(loc, sizeof(loc), "%s", url_for(""));
            else
                loc[0] = '\0';
            snprintf(loc + strlen(loc), sizeof(loc) - strlen(loc), "/redir/%d", n - 1);
            evhttp_add_header(out, "Location", loc);
            evhttp_send_reply(req, 302, "Found", b);
        }
    } else if (strcmp(uri, "/r307") == 0) {
        evhttp_add_header(out, "Location", "/echo");
        evhttp_send_reply(req, 307, "Temporary Redirect", b);
    } else if (strcmp(uri, "/toftp") == 0) {
        evhttp_add_header(out, "Location", "ftp://127.0.0.1/x");
        evhttp_send_reply(req, 302, "Found", b);
    } else if (strcmp(uri, "/slower") == 0) {
        hold(req, slow_cb, 500, 0, -1);
        active++; /* slow_cb counts it back down */
    } else if (strcmp(uri, "/slow") == 0) {
        struct httpc_stats st;

        if (++active > max_active)
            max_active = active;
        if (stats_client != NULL) {
            httpc_get_stats(stats_client, &st);
            if (st.running > max_running_seen)
                max_running_seen = st.running;
        }
        hold(req, slow_cb, 20, 0, -1);
    } else if (strcmp(uri, "/trickle") == 0) {
        evhttp_send_reply_start(req, 200, "OK");
        hold(req, trickle_cb, 50, 1, 40);
    } else {
        evhttp_send_reply(req, 404, "Not Found", b);
    }
    evbuffer_free(b);
}

static struct bufferevent *
count_accept_cb(struct event_base *b, void *arg)
{
    (void)arg;
    accepts++;
    return bufferevent_socket_new(b, -1, BEV_OPT_CLOSE_ON_FREE);
}

static void
never_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                void *arg)
{
    (void)l;
    (void)sa;
    (void)len;
    (void)arg;
    if (never_n < (int)(sizeof(never_fds) / sizeof(never_fds[0])))
        never_fds[never_n++] = fd;
    else
        close(fd);
}

static int
bound_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        return -1;
    return ntohs(sin.sin_port);
}

/* A port nothing listens on: bind, read the port, close. */
static int
closed_port(void)
{
    struct sockaddr_in sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0), p;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    p = bound_port(fd);
    close(fd);
    return p;
}

static struct httpc *
client(long total_ms, int per_host, int loopback)
{
    struct httpc_options o;
    char err[256];
    struct httpc *h;

    memset(&o, 0, sizeof(o));
    o.user_agent = UA;
    o.total_timeout_ms = total_ms;
    o.connect_timeout_ms = 1000;
    o.max_per_host = per_host;
    o.allow_loopback = loopback;
    h = httpc_new(base, &o, err, sizeof(err));
    if (h == NULL)
        printf("# httpc_new: %s\n", err);
    return h;
}

/* --- tests ------------------------------------------------------------------------------- */

static void
test_get(struct httpc *h)
{
    struct result r = { 0 };

    done_count = 0;
    start(h, "GET", url_for("/hello"), NULL, 0, NULL, 0, NULL, NULL, &r);
    wait_done(1, 3000);
    is_int(r.calls, 1, "GET: callback ran once");
    is_int(r.sync, 0, "GET: callback not synchronous");
    is_int(r.error, HTTPC_OK, "GET: no error");
    is_int(r.status, 200, "GET: status 200");
    is_str(r.body, "hello world", "GET: body");
    is_str(r.ctype, "text/plain; charset=utf-8", "GET: Content-Type lookup, any case");
    is_str(r.eff_url, url_for("/hello"), "GET: effective url");
    is_str(last_ua, UA, "GET: User-Agent arrived");
    result_clear(&r);
}

static void
test_post(struct httpc *h)
{
    static const char body[] = "{\"type\":\"Follow\"}\0tail";
    const char *hdrs[] = { "Content-Type: application/activity+json", "X-Test: abc def" };
    struct result r = { 0 };

    done_count = 0;
    start(h, "POST", url_for("/echo"), hdrs, 2, body, sizeof(body) - 1, NULL, NULL, &r);
    wait_done(1, 3000);
    is_int(r.error, HTTPC_OK, "POST: no error");
    is_int(r.status, 201, "POST: status 201");
    is_str(last_method, "POST", "POST: server saw POST");
    is_str(last_ct, "application/activity+json", "POST: Content-Type arrived");
    is_str(last_xtest, "abc def", "POST: X-Test arrived");
    ok(last_body_len == sizeof(body) - 1 && memcmp(last_body, body, last_body_len) == 0,
       "POST: body with a NUL arrived intact (%zu bytes)", last_body_len);
    ok(r.body_len == sizeof(body) - 1 && memcmp(r.body, body, r.body_len) == 0,
       "POST: echoed body came back");
    result_clear(&r);
}

static void
test_statuses(struct httpc *h)
{
    struct result r[3] = { { 0 } };

    done_count = 0;
    start(h, "GET", url_for("/status/404"), NULL, 0, NULL, 0, NULL, NULL, &r[0]);
    start(h, "GET", url_for("/status/500"), NULL, 0, NULL, 0, NULL, NULL, &r[1]);
    start(h, "GET", url_for("/status/429"), NULL, 0, NULL, 0, NULL, NULL, &r[2]);
    wait_done(3, 3000);
    ok(r[0].error == HTTPC_OK && r[0].status == 404, "404 passed through");
    ok(r[1].error == HTTPC_OK && r[1].status == 500, "500 passed through");
    ok(r[2].error == HTTPC_OK && r[2].status == 429, "429 passed through");
    is_str(r[2].retry_after, "120", "429: Retry-After passed through");
    ok(r[0].retry_after == NULL, "404: no Retry-After");
    for (int i = 0; i < 3; i++)
        result_clear(&r[i]);
}

static void
test_too_large(struct httpc *h)
{
    struct result r[2] = { { 0 } };

    done_count = 0;
    start(h, "GET", url_for("/big"), NULL, 0, NULL, 0, NULL, NULL, &r[0]);
    start(h, "GET", url_for("/bigchunked"), NULL, 0, NULL, 0, NULL, NULL, &r[1]);
    wait_done(2, 5000);
    is_int(r[0].error, HTTPC_ERR_TOO_LARGE, "2 MiB with Content-Length over a 1 MiB cap");
    is_int(r[1].error, HTTPC_ERR_TOO_LARGE, "2.5 MiB chunked (no length) over a 1 MiB cap");
    ok(r[0].body == NULL && r[1].body == NULL, "no body handed over on error");
    result_clear(&r[0]);
    result_clear(&r[1]);
}

static void
test_timeouts(void)
{
    struct httpc *h = client(300, 4, 1);
    struct result r[2] = { { 0 } };
    char url[128];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", never_port);
    done_count = 0;
    start(h, "GET", url, NULL, 0, NULL, 0, NULL, NULL, &r[0]);
    start(h, "GET", url_for("/trickle"), NULL, 0, NULL, 0, NULL, NULL, &r[1]);
    wait_done(2, 3000);
    is_int(r[0].error, HTTPC_ERR_TIMEOUT, "silent server: timeout");
    ok(r[0].ms >= 250 && r[0].ms < 1000, "silent server: after about 300 ms (%lld)",
       (long long)r[0].ms);
    is_int(never_n, 1, "silent server: it did accept the connection");
    is_int(r[1].error, HTTPC_ERR_TIMEOUT, "trickling server: timeout");
    ok(r[1].ms >= 250 && r[1].ms < 1000, "trickling server: after about 300 ms (%lld)",
       (long long)r[1].ms);
    result_clear(&r[0]);
    result_clear(&r[1]);
    httpc_free(h);
}

/* A caller's deadline ends a call before the client's total timeout, queued or running. */
static void
test_deadline(void)
{
    struct httpc *h = client(5000, 1, 1);
    struct result r[2] = { { 0 } };
    struct httpc_req req = { 0 };
    char url[128];
    long long t0 = mono_ms();

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", never_port);
    done_count = 0;
    req.method = "GET";
    req.url = url;
    req.deadline_ms = t0 + 300;
    r[0].ms = r[1].ms = t0;
    httpc_request(h, &req, done_cb, &r[0]);
    httpc_request(h, &req, done_cb, &r[1]); /* waits for the host's only slot */
    wait_done(2, 3000);
    is_int(r[0].error, HTTPC_ERR_TIMEOUT, "deadline: the running call times out");
    ok(r[0].ms >= 250 && r[0].ms < 1500, "deadline: at about 300 ms, not 5 s (%lld)",
       (long long)r[0].ms);
    is_int(r[1].error, HTTPC_ERR_TIMEOUT, "deadline: the queued call times out");
    ok(r[1].ms >= 250 && r[1].ms < 1500, "deadline: queued, at about 300 ms too (%lld)",
       (long long)r[1].ms);
    result_clear(&r[0]);
    result_clear(&r[1]);
    httpc_free(h);
}

struct hop_log {
    char urls[8][256];
    int n;
    int fail;
};

static int
sign_hook(const char *method, const char *url, const char *body, size_t body_len,
          struct httpc_hop_headers *out, void *arg)
{
    struct hop_log *hl = arg;
    char line[300];

    (void)method;
    (void)body;
    (void)body_len;
    if (hl->fail)
        return -1;
    if (hl->n < 8)
        snprintf(hl->urls[hl->n], sizeof(hl->urls[0]), "%s", url);
    hl->n++;
    snprintf(line, sizeof(line), "X-Hop: %s", url);
    if (httpc_hop_add_header(out, "Bad\r\nInjected: 1") != -1)
        return -1;
    return httpc_hop_add_header(out, line);
}

static void
test_redirects(struct httpc *h)
{
    static const char body[] = "redirected body";
    struct hop_log hl3 = { 0 }, hl4 = { 0 }, hlf = { .fail = 1 };
    struct result r[6] = { { 0 } };

    done_count = 0;
    hops_seen = hop_mismatch = 0;
    start(h, "GET", url_for("/redir/3"), NULL, 0, NULL, 0, sign_hook, &hl3, &r[0]);
    start(h, "GET", url_for("/redir/4"), NULL, 0, NULL, 0, sign_hook, &hl4, &r[1]);
    start(h, "POST", url_for("/redir/1"), NULL, 0, "x", 1, NULL, NULL, &r[2]);
    start(h, "POST", url_for("/r307"), NULL, 0, body, sizeof(body) - 1, NULL, NULL, &r[3]);
    start(h, "GET", url_for("/toftp"), NULL, 0, NULL, 0, NULL, NULL, &r[4]);
    start(h, "GET", url_for("/hello"), NULL, 0, NULL, 0, sign_hook, &hlf, &r[5]);
    wait_done(6, 3000);
    is_int(r[0].error, HTTPC_OK, "3 redirects with max 3: ok");
    is_int(r[0].status, 200, "3 redirects: final 200");
    is_str(r[0].body, "landed", "3 redirects: final body");
    is_int(r[0].redirects, 3, "3 redirects counted");
    is_str(r[0].eff_url, url_for("/redir/0"), "3 redirects: effective url is the last hop");
    is_int(hl3.n, 4, "hook ran once per hop");
    is_str(hl3.urls[0], url_for("/redir/3"), "hop 1 url");
    is_str(hl3.urls[1], url_for("/redir/2"), "hop 2 url (absolute Location)");
    is_str(hl3.urls[2], url_for("/redir/1"), "hop 3 url (relative Location)");
    is_str(hl3.urls[3], url_for("/redir/0"), "hop 4 url");
    is_int(r[1].error, HTTPC_ERR_TOO_MANY_REDIRECTS, "4 redirects with max 3: error");
    is_int(hl4.n, 4, "4 redirects: stopped after the 4th hop");
    is_int(hop_mismatch, 0, "every hop carried the header signed for its own url");
    is_int(hops_seen, 8, "server saw 8 signed hops");
    ok(r[2].error == HTTPC_OK && r[2].status == 302, "POST does not follow 302");
    is_str(r[2].location, url_for("/redir/0"), "POST 302: Location exposed");
    ok(r[3].error == HTTPC_OK && r[3].status == 201, "POST follows 307 to /echo");
    ok(last_body_len == sizeof(body) - 1 && memcmp(last_body, body, last_body_len) == 0,
       "POST 307: body resent");
    is_int(r[4].error, HTTPC_ERR_OTHER, "redirect to ftp:// refused");
    is_int(r[5].error, HTTPC_ERR_OTHER, "failing hook fails the request");
    for (int i = 0; i < 6; i++)
        result_clear(&r[i]);
}

static void
test_refused(void)
{
    struct httpc *h = client(2000, 4, 0);
    struct result r[5] = { { 0 } };
    char urls[5][128];
    int before = accepts;

    snprintf(urls[0], sizeof(urls[0]), "http://127.0.0.1:%d/hello", port);
    snprintf(urls[1], sizeof(urls[1]), "http://[::1]:%d/hello", port);
    snprintf(urls[2], sizeof(urls[2]), "http://localhost:%d/hello", port);
    snprintf(urls[3], sizeof(urls[3]), "http://[::ffff:127.0.0.1]:%d/hello", port);
    snprintf(urls[4], sizeof(urls[4]), "http://LocalHost.:%d/hello", port);
    done_count = 0;
    for (int i = 0; i < 5; i++)
        start(h, "GET", urls[i], NULL, 0, NULL, 0, NULL, NULL, &r[i]);
    wait_done(5, 3000);
    for (int i = 0; i < 5; i++) {
        is_int(r[i].error, HTTPC_ERR_REFUSED_ADDRESS, "refused without allow_loopback: %s",
               urls[i]);
        is_int(r[i].sync, 0, "refusal reported asynchronously: %s", urls[i]);
    }
    is_int(accepts, before, "no connection reached the server");
    for (int i = 0; i < 5; i++)
        result_clear(&r[i]);
    httpc_free(h);
}

static void
test_bad_requests(struct httpc *h)
{
    const char *crlf[] = { "X-A: a\r\nX-B: b" };
    struct result r[7] = { { 0 } };
    char closed[64];

    snprintf(closed, sizeof(closed), "http://127.0.0.1:%d/", closed_port());
    done_count = 0;
    start(h, "GET", "ftp://127.0.0.1/x", NULL, 0, NULL, 0, NULL, NULL, &r[0]);
    start(h, "GET", "file:///etc/passwd", NULL, 0, NULL, 0, NULL, NULL, &r[1]);
    start(h, "GET", "not a url", NULL, 0, NULL, 0, NULL, NULL, &r[2]);
    start(h, "DELETE", url_for("/hello"), NULL, 0, NULL, 0, NULL, NULL, &r[3]);
    start(h, "GET", url_for("/hello"), crlf, 1, NULL, 0, NULL, NULL, &r[4]);
    start(h, "GET", url_for("/hello"), NULL, 0, "x", 1, NULL, NULL, &r[5]);
    start(h, "GET", closed, NULL, 0, NULL, 0, NULL, NULL, &r[6]);
    wait_done(7, 3000);
    for (int i = 0; i < 6; i++) {
        is_int(r[i].error, HTTPC_ERR_OTHER, "bad request %d refused", i);
        ok(r[i].calls == 1 && r[i].sync == 0, "bad request %d: one async callback", i);
    }
    is_int(r[6].error, HTTPC_ERR_CONNECT, "closed port: connect error");
    for (int i = 0; i < 7; i++)
        result_clear(&r[i]);
}

static void
test_concurrency(void)
{
    struct httpc *h = client(5000, 4, 1);
    static struct result r[50];
    int all_ok = 1, before = accepts;

    stats_client = h;
    max_active = 0;
    max_running_seen = 0;
    done_count = 0;
    for (int i = 0; i < 50; i++)
        start(h, "GET", url_for("/slow"), NULL, 0, NULL, 0, NULL, NULL, &r[i]);
    wait_done(50, 5000);
    is_int(done_count, 50, "50 requests to one host all completed");
    for (int i = 0; i < 50; i++) {
        if (r[i].calls != 1 || r[i].error != HTTPC_OK || r[i].status != 200)
            all_ok = 0;
        result_clear(&r[i]);
    }
    ok(all_ok, "all 50 got 200 exactly once");
    ok(max_active <= 4, "server never saw more than 4 at once (max %d)", max_active);
    ok(max_active >= 2, "requests did run in parallel (max %d)", max_active);
    ok(max_running_seen <= 4, "client never ran more than 4 (max %zu)", max_running_seen);
    ok(accepts - before <= 4, "connections were reused (%d accepted for 50)", accepts - before);
    stats_client = NULL;
    httpc_free(h);
}

static void
test_free_in_flight(void)
{
    struct httpc *h = client(5000, 2, 1);
    struct result r[8] = { { 0 } };
    char url[128];
    int calls = 0, cancelled = 0;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", never_port);
    done_count = 0;
    for (int i = 0; i < 3; i++)
        start(h, "GET", url, NULL, 0, NULL, 0, NULL, NULL, &r[i]); /* 2 run, 1 queued */
    for (int i = 3; i < 7; i++)
        start(h, "GET", url_for("/slower"), NULL, 0, NULL, 0, NULL, NULL, &r[i]);
    spin(50);
    start(h, "GET", "gopher://x/", NULL, 0, NULL, 0, NULL, NULL, &r[7]); /* finished, undelivered */
    httpc_free(h);
    for (int i = 0; i < 8; i++) {
        calls += r[i].calls;
        cancelled += r[i].error == HTTPC_ERR_CANCELLED;
    }
    is_int(calls, 8, "httpc_free ran every callback exactly once");
    ok(cancelled >= 5, "pending requests were cancelled (%d)", cancelled);
    is_int(r[0].error, HTTPC_ERR_CANCELLED, "running request: cancelled");
    is_int(r[2].error, HTTPC_ERR_CANCELLED, "queued request: cancelled");
    is_int(r[7].error, HTTPC_ERR_OTHER, "finished request: its own result");
    for (int i = 0; i < 8; i++)
        result_clear(&r[i]);
}

static void
test_options(void)
{
    struct httpc_options o;
    char err[256] = "";

    memset(&o, 0, sizeof(o));
    o.extra_ca_file = "/nonexistent/ca.pem";
    ok(httpc_new(base, &o, err, sizeof(err)) == NULL, "unreadable extra_ca_file refused");
    ok(strstr(err, "/nonexistent/ca.pem") != NULL, "error names the file: %s", err);
    is_str(httpc_error_name(HTTPC_ERR_TOO_MANY_REDIRECTS), "too_many_redirects", "error names");
    o.extra_ca_file = "tests/unit/test_httpc.c";
    ok(httpc_new(base, &o, err, sizeof(err)) == NULL, "extra_ca_file without PEM refused: %s", err);
    httpc_free(NULL);
}

/* TLS to a plain-HTTP port fails in the handshake; the CA file option loads a PEM bundle. */
static void
test_tls(void)
{
    struct httpc_options o;
    struct result r = { 0 };
    struct httpc *h;
    char err[256] = "", url[128];

    memset(&o, 0, sizeof(o));
    o.allow_loopback = 1;
    o.total_timeout_ms = 2000;
    o.extra_ca_file = "/etc/ssl/certs/ca-certificates.crt";
    h = httpc_new(base, &o, err, sizeof(err));
    if (!ok(h != NULL, "client with an extra CA bundle: %s", err))
        return;
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/hello", port);
    done_count = 0;
    start(h, "GET", url, NULL, 0, NULL, 0, NULL, NULL, &r);
    wait_done(1, 3000);
    is_int(r.error, HTTPC_ERR_TLS, "https to a plain-HTTP server: tls error");
    result_clear(&r);
    httpc_free(h);
}

int
main(void)
{
    struct evhttp_bound_socket *bs;
    struct evconnlistener *never;
    struct sockaddr_in sin;
    struct httpc *h;
    struct held *hd;

    /* The test server writes to clients that gave up on it; that must not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);
    base = event_base_new();
    srv = evhttp_new(base);
    evhttp_set_gencb(srv, server_cb, NULL);
    evhttp_set_bevcb(srv, count_accept_cb, NULL);
    bs = evhttp_bind_socket_with_handle(srv, "127.0.0.1", 0);
    if (!ok(bs != NULL, "server listens on 127.0.0.1"))
        return done_testing();
    port = bound_port(evhttp_bound_socket_get_fd(bs));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    never = evconnlistener_new_bind(base, never_accept_cb, NULL,
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                    (struct sockaddr *)&sin, sizeof(sin));
    never_port = bound_port(evconnlistener_get_fd(never));

    h = client(3000, 4, 1);
    ok(h != NULL, "client created");
    test_get(h);
    test_post(h);
    test_statuses(h);
    test_too_large(h);
    test_redirects(h);
    test_bad_requests(h);
    httpc_free(h);
    test_timeouts();
    test_deadline();
    test_refused();
    test_concurrency();
    test_free_in_flight();
    test_options();
    test_tls();

    while ((hd = TAILQ_FIRST(&helds)) != NULL) {
        if (hd->left >= 0)
            evhttp_send_reply_end(hd->req);
        else
            evhttp_send_reply(hd->req, 200, "OK", NULL);
        held_free(hd);
    }
    for (int i = 0; i < never_n; i++)
        close(never_fds[i]);
    evconnlistener_free(never);
    evhttp_free(srv);
    event_base_free(base);
    free(last_body);
    return done_testing();
}
