/* Tests of the delivery queue on a real PostgreSQL with evhttp sinks on 127.0.0.1 in the loop. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <libpq-fe.h>
#include <openssl/pem.h>

#include "admin_queue.h"
#include "db.h"
#include "httpsig.h"
#include "metrics.h"
#include "migrate.h"
#include "pgtest.h"
#include "queue.h"
#include "tap.h"
#include "url.h"

#define RELAY_KEY  "https://relay.test/actor#main-key"
#define BRIDGE_KEY "https://relay.test/users/passerelle#main-key"
#define MAXN       1000

/* One inbox server: answers with status (and Retry-After), or holds requests unanswered. */
struct sink {
    struct evhttp *http;
    int port;
    int status;
    const char *retry_after;
    int hold;
    int count, bad;
    char last_keyid[256];
    char last_ctype[128];
    double first_at, last_at;
    struct evhttp_request *held[64];
    int nheld;
};

struct enq {
    int called, sync, status;
    size_t queued;
    char err[256];
};

static char *pub_pem;
static EVP_PKEY *key;
static int in_api;
static int counts[MAXN]; /* POSTs received per activity number, over every sink */

static void
fatal_cb(const char *why, void *arg)
{
    (void)arg;
    printf("Bail out! database: %s\n", why);
    exit(1);
}

/* --- sinks -------------------------------------------------------------------------------- */

static const char *
ev_header(void *ctx, const char *name)
{
    return evhttp_find_header(ctx, name);
}

static void
sink_cb(struct evhttp_request *req, void *arg)
{
    struct sink *s = arg;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(b);
    char *body = malloc(len + 1);
    const char *sigv = evhttp_find_header(in, "Signature");
    const char *dig = evhttp_find_header(in, "Digest");
    const char *ct = evhttp_find_header(in, "Content-Type");
    const char *idp;
    struct httpsig sig;
    struct httpsig_request hr = { 0 };
    char err[256];
    int good = 0;

    evbuffer_copyout(b, body, len);
    body[len] = '\0';
    s->count++;
    s->last_at = pgt_now();
    if (s->first_at == 0)
        s->first_at = s->last_at;
    if ((idp = strstr(body, "/a/")) != NULL) {
        int n = atoi(idp + 3);

        if (n >= 0 && n < MAXN)
            counts[n]++;
    }
    snprintf(s->last_ctype, sizeof(s->last_ctype), "%s", ct ? ct : "");
    hr.method = "POST";
    hr.target = evhttp_request_get_uri(req);
    hr.header = ev_header;
    hr.ctx = in;
    hr.body = (const unsigned char *)body;
    hr.body_len = len;
    memset(&sig, 0, sizeof(sig));
    if (sigv != NULL && dig != NULL && cavage_parse(sigv, &sig, err, sizeof(err)) == HTTPSIG_OK &&
        sig.ncomponents == 5 && strcmp(sig.components[0], "(request-target)") == 0 &&
        strcmp(sig.components[4], "content-type") == 0 &&
        httpsig_check_digest(dig, hr.body, len, err, sizeof(err)) == HTTPSIG_OK &&
        httpsig_verify(&sig, &hr, pub_pem, time(NULL), err, sizeof(err)) == HTTPSIG_OK)
        good = 1;
    if (!good)
        s->bad++;
    snprintf(s->last_keyid, sizeof(s->last_keyid), "%s", sig.key_id ? sig.key_id : "");
    httpsig_free(&sig);
    free(body);
    if (s->hold && s->nheld < 64) {
        s->held[s->nheld++] = req;
        return;
    }
    if (s->retry_after != NULL)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", s->retry_after);
    evhttp_send_reply(req, s->status, "X", NULL);
}

static void
sink_init(struct sink *s)
{
    struct evhttp_bound_socket *bs;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    memset(s, 0, sizeof(*s));
    s->status = 202;
    s->http = evhttp_new(pgt_base);
    evhttp_set_gencb(s->http, sink_cb, s);
    bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    if (bs == NULL || getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl)) {
        printf("Bail out! cannot bind a sink\n");
        exit(1);
    }
    s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
sink_reset(struct sink *s, int status)
{
    s->status = status;
    s->retry_after = NULL;
    s->count = s->bad = 0;
    s->first_at = s->last_at = 0;
}

/* --- queue helpers ------------------------------------------------------------------------ */

static void
enq_cb(int status, size_t queued, const char *err, void *arg)
{
    struct enq *e = arg;

    e->called++;
    e->sync = in_api;
    e->status = status;
    e->queued = queued;
    snprintf(e->err, sizeof(e->err), "%s", err ? err : "");
}

static void
enqueue(struct queue *q, const char *signer, int n, const char *const *inboxes, size_t ni,
        struct enq *e)
{
    char payload[128];

    snprintf(payload, sizeof(payload), "{\"id\":\"https://relay.test/a/%d\",\"type\":\"Announce\"}",
             n);
    memset(e, 0, sizeof(*e));
    in_api = 1;
    queue_enqueue(q, payload, strlen(payload), signer, inboxes, ni, enq_cb, e);
    in_api = 0;
    PGT_SPIN(e->called > 0, 10);
}

static char *
url(const struct sink *s, const char *path)
{
    static char bufs[8][128];
    static int i;
    char *b = bufs[i++ % 8];

    snprintf(b, sizeof(bufs[0]), "http://127.0.0.1:%d%s", s->port, path);
    return b;
}

/* The options every queue here starts from. */
static void
base_options(struct queue_options *o)
{
    memset(o, 0, sizeof(*o));
    o->http.allow_loopback = 1;
    o->http.connect_timeout_ms = 1000;
    o->http.total_timeout_ms = 1000;
    o->relay_key_id = RELAY_KEY;
    o->bridge_key_id = BRIDGE_KEY;
    o->batch = 5;
    o->poll_ms = 30;
    o->claim_ms = 1500;
    o->backoff_unit_ms = 20; /* first retry after 15 units = 300 ms */
    o->breaker_failures = 3;
    o->breaker_pause_ms = 60000;
    o->dead_days = 2;
    o->housekeeping_ms = 200;
}

static struct queue *
new_queue(struct db *db, const struct queue_options *o)
{
    char err[256];
    struct queue *q = queue_new(pgt_base, db, key, o, err, sizeof(err));

    if (q == NULL) {
        printf("Bail out! queue_new: %s\n", err);
        exit(1);
    }
    return q;
}

static struct queue *
make_queue(struct db *db)
{
    struct queue_options o;

    base_options(&o);
    return new_queue(db, &o);
}

/* --- tests -------------------------------------------------------------------------------- */

static void
test_enqueue(struct queue *q, struct sink *a)
{
    const char *in[4] = { url(a, "/i/1"), url(a, "/i/2"), url(a, "/i/1"), "not a url" };
    struct enq e;
    char host[64];

    enqueue(q, RELAY_KEY, 1, in, 4, &e);
    is_int(e.called, 1, "enqueue callback once");
    is_int(e.sync, 0, "enqueue callback not synchronous");
    is_int(e.status, 0, "enqueue committed");
    is_int(e.queued, 2, "duplicate and bad inbox merged away");
    is_int(pgt_num("SELECT count(*) FROM activities WHERE payload LIKE '%%/a/1\"%%'"), 1,
           "one activity row");
    is_int(pgt_num("SELECT count(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id"
                   " WHERE a.payload LIKE '%%/a/1\"%%' AND d.state = 'pending'"),
           2, "two delivery rows");
    snprintf(host, sizeof(host), "127.0.0.1:%d", a->port);
    is_int(pgt_num("SELECT count(*) FROM deliveries WHERE host = '%s'", host), 2,
           "host extracted with its port");
    is_int(pgt_num("SELECT count(*) FROM instances WHERE domain = '%s'", host), 1,
           "host known as an instance");

    enqueue(q, "https://evil.test/actor#k", 2, in, 1, &e);
    ok(e.called == 1 && e.sync == 0 && e.status == -1 && strstr(e.err, "signer") != NULL,
       "unknown key id refused, asynchronously");
    enqueue(q, RELAY_KEY, 3, NULL, 0, &e);
    ok(e.called == 1 && e.sync == 0 && e.status == 0 && e.queued == 0, "no target: nothing");
}

static void
test_deliver(struct queue *q, struct sink *a)
{
    const char *in[1] = { url(a, "/bridge") };
    struct enq e;
    struct queue_stats st;

    queue_start(q);
    PGT_SPIN(a->count >= 2, 5);
    is_int(a->count, 2, "both rows delivered");
    is_int(a->bad, 0, "signatures verify against the public key, digests match");
    is_str(a->last_ctype, "application/activity+json", "content type");
    is_str(a->last_keyid, RELAY_KEY, "relay key id");
    queue_get_stats(q, &st);
    is_int((int)st.signed_off_loop, 2, "both signed by the pool's threads, not on the loop");
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries") == 0, 3);
    is_int(pgt_num("SELECT count(*) FROM deliveries"), 0, "2xx removes the rows");
    PGT_SPIN(pgt_num("SELECT count(*) FROM activities WHERE payload LIKE '%%/a/1\"%%'") == 0, 2);
    is_int(pgt_num("SELECT count(*) FROM activities WHERE payload LIKE '%%/a/1\"%%'"), 0,
           "the payload goes with its last row");

    sink_reset(a, 200);
    enqueue(q, BRIDGE_KEY, 4, in, 1, &e);
    PGT_SPIN(a->count >= 1, 5);
    is_int(a->count, 1, "bridge activity delivered");
    is_int(a->bad, 0, "bridge signature verifies");
    is_str(a->last_keyid, BRIDGE_KEY, "bridge key id");
    is_int(counts[4], 1, "delivered once");
}

static void
test_drop(struct queue *q, struct sink *a)
{
    const char *in[1] = { url(a, "/gone") };
    struct enq e;

    sink_reset(a, 404);
    enqueue(q, RELAY_KEY, 5, in, 1, &e);
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries WHERE state = 'dropped'") == 1, 5);
    is_int(pgt_num("SELECT count(*) FROM deliveries WHERE state = 'dropped' AND last_status = 404"
                   " AND attempts = 1 AND claimed_by IS NULL"),
           1, "404 dropped with its status");
    PGT_SPIN(0, 0.5);
    is_int(a->count, 1, "404 not retried");
    pgt_exec("DELETE FROM deliveries");
}

static void
test_retry(struct queue *q, struct sink *a)
{
    const char *in1[1] = { url(a, "/err") };
    const char *in2[1] = { url(a, "/busy") };
    struct enq e;
    double t1;

    sink_reset(a, 500);
    enqueue(q, RELAY_KEY, 6, in1, 1, &e);
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries WHERE last_status = 500") == 1, 5);
    is_int(pgt_num("SELECT count(*) FROM deliveries WHERE state = 'pending' AND attempts = 1"
                   " AND claimed_by IS NULL AND last_status = 500"
                   " AND next_attempt_at > now() + interval '100 milliseconds'"),
           1, "500 rescheduled in the future, attempts 1");
    t1 = a->first_at;
    a->status = 202;
    PGT_SPIN(counts[6] >= 2, 5);
    is_int(counts[6], 2, "500 retried once it works");
    ok(a->last_at - t1 >= 0.28, "backoff honoured (%.3f s >= 0.3 s)", a->last_at - t1);
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries") == 0, 3);
    is_int(pgt_num("SELECT count(*) FROM deliveries"), 0, "delivered on the retry");

    sink_reset(a, 429);
    a->retry_after = "2";
    enqueue(q, RELAY_KEY, 7, in2, 1, &e);
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries WHERE last_status = 429") == 1, 5);
    is_int(pgt_num("SELECT count(*) FROM deliveries WHERE attempts = 1 AND state = 'pending'"
                   " AND next_attempt_at BETWEEN updated_at + interval '1.9 s'"
                   " AND updated_at + interval '2.1 s'"),
           1, "429 rescheduled at Retry-After: 2");
    t1 = a->first_at;
    sink_reset(a, 202);
    PGT_SPIN(counts[7] >= 2, 5);
    is_int(counts[7], 2, "429 retried");
    ok(a->last_at - t1 >= 1.9, "Retry-After honoured (%.3f s)", a->last_at - t1);
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries") == 0, 3);
}

static void
test_breaker(struct queue *q, struct sink *a, struct sink *b)
{
    const char *inb[1] = { url(b, "/inbox") };
    const char *ina[1] = { url(a, "/inbox") };
    char hb[64], sql[256];
    struct enq e;
    char *report = NULL;
    size_t rlen = 0;
    FILE *f;
    int cb0;

    snprintf(hb, sizeof(hb), "127.0.0.1:%d", b->port);
    sink_reset(a, 202);
    sink_reset(b, 503);
    for (int i = 10; i < 14; i++)
        enqueue(q, RELAY_KEY, i, inb, 1, &e);
    PGT_SPIN(pgt_num("SELECT count(*) FROM instances WHERE domain = '%s'"
                     " AND paused_until > now() + interval '50 s'",
                     hb) == 1,
             5);
    is_int(pgt_num("SELECT count(*) FROM instances WHERE domain = '%s'"
                   " AND paused_until > now() + interval '50 s'",
                   hb),
           1, "host paused after 3 consecutive failures");
    PGT_SPIN(0, 0.1);
    cb0 = b->count;
    ok(cb0 >= 3 && cb0 <= 4, "tried until the breaker opened (%d POSTs)", cb0);
    enqueue(q, RELAY_KEY, 14, ina, 1, &e);
    PGT_SPIN(counts[14] >= 1, 5);
    is_int(counts[14], 1, "another host keeps receiving");
    PGT_SPIN(0, 0.6); /* past the 300 ms backoff: only the pause holds the rows back */
    is_int(b->count, cb0, "paused host gets nothing");
    PGT_SPIN(metrics_get("passerelle_queue_hosts_paused", "") >= 1, 2);
    is_int(metrics_get("passerelle_queue_hosts_paused", ""), 1, "paused hosts gauge");
    ok(metrics_get("passerelle_queue_depth", "") >= 4, "depth gauge");

    f = open_memstream(&report, &rlen);
    ok(admin_queue_report(pgt_conninfo, f, sql, sizeof(sql)) == 0, "admin report runs");
    fclose(f);
    ok(report != NULL && strstr(report, "paused hosts") != NULL && strstr(report, hb) != NULL &&
           strstr(report, " pending 4 ") != NULL,
       "admin report shows the host, its pending rows and its pause");
    free(report);

    /* It contacts us: the pause is lifted and its rows flow again. */
    b->status = 202;
    queue_host_alive(q, hb);
    PGT_SPIN(b->count >= cb0 + 4, 5);
    is_int(b->count, cb0 + 4, "resumed host gets its rows");
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries") == 0, 3);
    is_int(pgt_num("SELECT consecutive_failures FROM instances WHERE domain = '%s'", hb), 0,
           "success resets the breaker");

    /* A second failure day marks it dead; dead hosts get no rows until they come back. */
    sink_reset(b, 500);
    snprintf(sql, sizeof(sql),
             "UPDATE instances SET failure_days = 1, last_failure_at = now() - interval '1 day'"
             " WHERE domain = '%s'",
             hb);
    pgt_exec("%s", sql);
    enqueue(q, RELAY_KEY, 15, inb, 1, &e);
    PGT_SPIN(pgt_num("SELECT dead FROM instances WHERE domain = '%s'", hb) == 1, 5);
    is_int(pgt_num("SELECT dead FROM instances WHERE domain = '%s'", hb), 1,
           "dead after dead_days failure days");
    enqueue(q, RELAY_KEY, 16, inb, 1, &e);
    ok(e.status == 0 && e.queued == 0, "nothing queued for a dead host");
    queue_host_alive(q, hb);
    PGT_SPIN(pgt_num("SELECT dead FROM instances WHERE domain = '%s'", hb) == 0, 3);
    is_int(pgt_num("SELECT dead FROM instances WHERE domain = '%s'", hb), 0, "alive again");
    b->status = 202;
    PGT_SPIN(counts[15] >= 2, 5);
    is_int(counts[15], 2, "its pending row is delivered after it came back");
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries") == 0, 3);
}

static void
test_expired_claim(struct queue *q, struct sink *a)
{
    char sql[1024];

    (void)q;
    sink_reset(a, 202);
    /* A worker that claimed these and died: one lease over, one still running. */
    snprintf(sql, sizeof(sql),
             "WITH a AS (INSERT INTO activities (signer, payload) VALUES"
             " ('relay', '{\"id\":\"https://relay.test/a/20\"}'),"
             " ('relay', '{\"id\":\"https://relay.test/a/21\"}') RETURNING id, payload)"
             " INSERT INTO deliveries (activity_id, inbox, host, attempts, claimed_by,"
             "  claimed_until, next_attempt_at)"
             " SELECT id, 'http://127.0.0.1:%d/crash', '127.0.0.1:%d', 1, 'dead-worker',"
             "  CASE WHEN payload LIKE '%%/20\"%%' THEN now() - interval '1 s'"
             "   ELSE now() + interval '1 hour' END,"
             "  CASE WHEN payload LIKE '%%/20\"%%' THEN now() - interval '1 s'"
             "   ELSE now() + interval '1 hour' END FROM a",
             a->port, a->port);
    pgt_exec("%s", sql);
    PGT_SPIN(counts[20] >= 1, 5);
    is_int(counts[20], 1, "expired claim delivered again");
    PGT_SPIN(0, 0.2);
    is_int(counts[21], 0, "a live claim is left alone");
    is_int(pgt_num("SELECT attempts FROM deliveries WHERE claimed_by = 'dead-worker'"), 1,
           "the live claim is untouched");
    pgt_exec("DELETE FROM activities");
}

/* A pending row for activity n, written straight to the database (as another process would). */
static void
seed_row(int n, const char *inbox, int despite_block)
{
    char sql[1024], host[URL_AUTHORITY_MAX];

    if (url_authority(inbox, host, sizeof(host)) < 0) {
        printf("Bail out! seed_row: %s\n", inbox);
        exit(1);
    }
    snprintf(sql, sizeof(sql),
             "WITH a AS (INSERT INTO activities (signer, payload, despite_block)"
             " VALUES ('relay', '{\"id\":\"https://relay.test/a/%d\"}', %s) RETURNING id)"
             " INSERT INTO deliveries (activity_id, inbox, host) SELECT id, '%s', '%s' FROM a",
             n, despite_block ? "true" : "false", inbox, host);
    pgt_exec("%s", sql);
}

/*
 * A block covers subdomains and every port (host_blocked, migration 006), in the claim as in
 * the enqueue: rows queued before the block stay unsent, except a Reject (despite_block).
 */
static void
test_blocked(struct queue *q, struct sink *a)
{
    const char *in[2] = { url(a, "/late"), "http://deep.sub.blocked.test/inbox" };
    struct enq e;

    sink_reset(a, 202);
    pgt_exec("INSERT INTO instances (domain, blocked) VALUES ('127.0.0.1', true),"
             " ('blocked.test', true)");
    /* Queued before the blocks: the sink's host:port (blocked as a bare IP) and a subdomain. */
    seed_row(30, url(a, "/blocked"), 0);
    seed_row(31, url(a, "/blocked"), 1);
    seed_row(32, "http://sub.blocked.test/inbox", 0);
    PGT_SPIN(counts[31] >= 1, 5);
    PGT_SPIN(0, 0.3);
    is_int(counts[31], 1, "a Reject (despite_block) still reaches the blocked host");
    is_int(counts[30], 0, "nothing else reaches a host:port whose IP is blocked");
    is_int(pgt_num("SELECT attempts FROM deliveries WHERE host = 'sub.blocked.test'"), 0,
           "a subdomain of a blocked domain is never claimed");
    enqueue(q, RELAY_KEY, 33, in, 2, &e);
    ok(e.status == 0 && e.queued == 0, "new rows to blocked hosts are not even queued (%zu)",
       e.queued);
    pgt_exec("UPDATE instances SET blocked = false WHERE domain = '127.0.0.1'");
    PGT_SPIN(counts[30] >= 1, 5);
    is_int(counts[30], 1, "unblocked: the row queued before the block goes out");
    pgt_exec("DELETE FROM deliveries");
    pgt_exec("DELETE FROM activities");
    pgt_exec("DELETE FROM instances WHERE domain = 'blocked.test'");
}

/*
 * A host that does not answer holds no more rows than the per-host cap (4 here): its other
 * rows stay in the table, unclaimed, and hold no in-flight slot while another host is served.
 */
static void
test_host_cap(struct queue *q, struct sink *a, struct sink *b)
{
    const char *hang[1] = { url(a, "/hang") };
    const char *fine[1] = { url(b, "/fine") };
    struct queue_stats st;
    struct enq e;
    int missing = 0;

    sink_reset(a, 202);
    sink_reset(b, 202);
    a->hold = 1;
    for (int i = 300; i < 320; i++)
        enqueue(q, RELAY_KEY, i, hang, 1, &e);
    PGT_SPIN(a->nheld >= 4, 5);
    PGT_SPIN(0, 0.3);
    is_int(a->nheld, 4, "four POSTs open to a host that does not answer (the cap)");
    queue_get_stats(q, &st);
    is_int(st.in_flight, 4, "its 16 other rows are not claimed");
    is_int(pgt_num("SELECT count(*) FROM deliveries WHERE claimed_by IS NULL AND attempts = 0"
                   " AND inbox LIKE '%%/hang'"),
           16, "they wait in the table, unleased");
    for (int i = 320; i < 325; i++)
        enqueue(q, RELAY_KEY, i, fine, 1, &e);
    PGT_SPIN(b->count >= 5, 3);
    is_int(b->count, 5, "another host is served meanwhile");
    for (int i = 0; i < a->nheld; i++)
        evhttp_send_reply(a->held[i], 202, "Late", NULL);
    a->nheld = 0;
    a->hold = 0;
    PGT_SPIN(a->count >= 20, 5);
    for (int i = 300; i < 320; i++)
        missing += counts[i] != 1;
    is_int(missing, 0, "once it answers, its rows go, each once");
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries") == 0, 3);
}

/*
 * One activity to 60 inboxes, claimed 10 at a time: each flush removes the rows delivered
 * meanwhile, but the activity is looked at (sql_unref) at most once a second while its rows
 * are being sent, not after every flush, and still goes with its last row.
 */
static void
test_fanout(struct db *db, struct sink *a)
{
    char urls[60][64];
    const char *in[60];
    struct queue_options o;
    struct queue *q;
    struct queue_stats st;
    struct enq e;
    time_t t0 = time(NULL);
    long secs;

    base_options(&o);
    o.batch = 10;
    o.http.max_per_host = 64;
    q = new_queue(db, &o);
    for (int i = 0; i < 60; i++) {
        snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%d/fan/%d", a->port, i);
        in[i] = urls[i];
    }
    sink_reset(a, 202);
    enqueue(q, RELAY_KEY, 410, in, 60, &e);
    is_int((int)e.queued, 60, "60 rows of one activity");
    queue_start(q);
    PGT_SPIN(pgt_num("SELECT count(*) FROM activities WHERE payload LIKE '%%/a/410\"%%'") == 0, 10);
    is_int(a->count, 60, "60 POSTs");
    is_int(pgt_num("SELECT count(*) FROM activities WHERE payload LIKE '%%/a/410\"%%'"), 0,
           "the payload goes with its last row");
    queue_get_stats(q, &st);
    secs = (long)(time(NULL) - t0);
    ok(st.unrefs <= (unsigned long long)secs + 2,
       "sql_unref at most once a second while rows go (%llu in %ld s, %llu flushes)", st.unrefs,
       secs, st.flushes);
    queue_free(q);
}

/*
 * A claim that takes long (here: activities locked by another transaction for 0.6 s) has the
 * table's statistics refreshed, once: a stale plan is what makes a claim that slow.
 */
/* Holds activities locked for 0.6 s, so a claim waits that long; the ANALYZEs sent before. */
static int
slow_claims(struct queue *q)
{
    struct queue_stats st;

    queue_get_stats(q, &st);
    pgt_exec("BEGIN");
    pgt_exec("LOCK TABLE activities IN ACCESS EXCLUSIVE MODE");
    PGT_SPIN(0, 0.6);
    pgt_exec("COMMIT");
    PGT_SPIN(0, 0.3);
    return (int)st.analyzes;
}

static void
test_slow_claim(struct queue *q)
{
    struct queue_stats st;
    int before = slow_claims(q);

    queue_get_stats(q, &st);
    is_int((int)st.analyzes - before, 1, "one ANALYZE after a slow claim");
    PGT_SPIN(pgt_num("SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'deliveries'"
                     " AND last_analyze IS NOT NULL") == 1,
             3);
    is_int(pgt_num("SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'deliveries'"
                   " AND last_analyze IS NOT NULL"),
           1, "deliveries analysed");
    before = slow_claims(q);
    queue_get_stats(q, &st);
    is_int((int)st.analyzes - before, 0, "not again within a minute");
}

static void
test_two_workers(struct queue *q1, struct db *db2, struct sink *a)
{
    struct queue *q2 = make_queue(db2);
    const char *in[1] = { url(a, "/shared") };
    struct queue_stats s1, s2, s1b, s2b;
    struct enq e;
    int dup = 0, missing = 0;

    queue_get_stats(q1, &s1);
    queue_get_stats(q2, &s2);
    sink_reset(a, 202);
    queue_start(q2);
    for (int i = 100; i < 160; i++)
        enqueue(q1, RELAY_KEY, i, in, 1, &e);
    PGT_SPIN(a->count >= 60, 10);
    PGT_SPIN(0, 0.3);
    for (int i = 100; i < 160; i++) {
        dup += counts[i] > 1;
        missing += counts[i] == 0;
    }
    is_int(a->count, 60, "60 rows, 60 POSTs");
    is_int(dup, 0, "no row delivered twice by two queues");
    is_int(missing, 0, "every row delivered");
    queue_get_stats(q1, &s1b);
    queue_get_stats(q2, &s2b);
    ok(s1b.delivered > s1.delivered && s2b.delivered > s2.delivered,
       "both queues did part of the work (%llu + %llu)", s1b.delivered - s1.delivered,
       s2b.delivered - s2.delivered);
    queue_free(q2);
}

static void
test_free_in_flight(struct db *db, struct queue *q, struct sink *a)
{
    const char *in[1] = { url(a, "/hold") };
    struct queue *q2;
    struct enq e;

    sink_reset(a, 202);
    a->hold = 1;
    enqueue(q, RELAY_KEY, 200, in, 1, &e);
    enqueue(q, RELAY_KEY, 201, in, 1, &e);
    PGT_SPIN(a->nheld >= 2, 5);
    is_int(a->nheld, 2, "two POSTs held by the sink");
    queue_free(q); /* ASan: no leak, no use after free from the answers still to come */
    ok(1, "queue_free with POSTs in flight returns");
    for (int i = 0; i < a->nheld; i++)
        evhttp_send_reply(a->held[i], 202, "Late", NULL);
    a->nheld = 0;
    a->hold = 0;
    is_int(pgt_num("SELECT count(*) FROM deliveries WHERE claimed_until > now()"), 2,
           "their rows are still leased");
    /* The next process picks them up once the lease runs out: at least once. */
    q2 = make_queue(db);
    queue_start(q2);
    PGT_SPIN(counts[200] >= 2 && counts[201] >= 2, 5);
    is_int(counts[200] + counts[201], 4, "re-delivered after the lease expired");
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries") == 0, 3);
    is_int(pgt_num("SELECT count(*) FROM deliveries"), 0, "then done");
    /* And with rows claimed and waiting for the signing threads. */
    {
        const char *many[40];
        char paths[40][64];
        struct queue_stats st;

        for (int i = 0; i < 40; i++) {
            snprintf(paths[i], sizeof(paths[i]), "http://127.0.0.1:%d/free/%d", a->port, i);
            many[i] = paths[i];
        }
        queue_free(q2);
        q2 = make_queue(db);
        enqueue(q2, RELAY_KEY, 300, many, 40, &e);
        queue_start(q2);
        do {
            pgt_spin_once();
            queue_get_stats(q2, &st);
        } while (st.claimed == 0);
        queue_free(q2); /* ASan: the jobs waiting for a thread are freed, none twice */
        ok(1, "queue_free with signatures pending returns");
        q2 = make_queue(db);
        queue_start(q2);
        PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries") == 0, 10);
        is_int(pgt_num("SELECT count(*) FROM deliveries"), 0, "their rows were delivered later");
    }
    /* And once more with the claim statement itself still unanswered. */
    queue_free(q2);
    q2 = make_queue(db);
    queue_start(q2);
    pgt_spin_once();
    queue_host_alive(q2, "nowhere.test");
    queue_free(q2);
    PGT_SPIN(0, 0.1);
    ok(1, "queue_free with statements pending");
}

/*
 * Rows answered but not yet written keep their slot: with the outcome statement held up (the
 * sink host's instances row locked by another transaction), a queue allowed 3 in flight
 * leases no more than 3 rows, so a process killed then leaves at most 3 to send twice.
 */
static void
test_lease_bound(struct db *db, struct sink *a)
{
    const char *many[12];
    char paths[12][64];
    struct queue_options o;
    struct queue *q;
    struct enq e;
    int leased;

    sink_reset(a, 202);
    base_options(&o);
    o.claim_ms = 60000;
    o.max_in_flight = 3;
    q = new_queue(db, &o);
    for (int i = 0; i < 12; i++) {
        snprintf(paths[i], sizeof(paths[i]), "http://127.0.0.1:%d/bound/%d", a->port, i);
        many[i] = paths[i];
    }
    enqueue(q, RELAY_KEY, 400, many, 12, &e);
    /* A failure on record, so the outcome statement locks the host's row to clear it. */
    pgt_exec("UPDATE instances SET consecutive_failures = 1 WHERE domain = '127.0.0.1:%d'",
             a->port);
    pgt_exec("BEGIN");
    pgt_exec("SELECT 1 FROM instances WHERE domain = '127.0.0.1:%d' FOR UPDATE", a->port);
    queue_start(q);
    PGT_SPIN(a->count >= 3, 5);
    PGT_SPIN(0, 1.0); /* time for more claims, were any allowed */
    leased = pgt_num("SELECT count(*) FROM deliveries WHERE claimed_until > now()");
    pgt_exec("COMMIT");
    is_int(a->count, 3, "3 POSTs while their outcomes wait");
    ok(leased <= 3, "no more rows leased than max_in_flight while the outcomes wait (%d)", leased);
    PGT_SPIN(pgt_num("SELECT count(*) FROM deliveries") == 0, 10);
    is_int(pgt_num("SELECT count(*) FROM deliveries"), 0, "all 12 delivered once the lock goes");
    is_int(counts[400], 12, "each once");
    queue_free(q);
}

int
main(void)
{
    struct sink a, b;
    struct db *db, *db2;
    struct queue *q;
    FILE *f;
    long n;

    signal(SIGPIPE, SIG_IGN);

    f = fopen("tests/data/httpsig/key-a.pem", "r");
    key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    f = fopen("tests/data/httpsig/key-a.pub.pem", "r");
    pub_pem = calloc(1, 8192);
    n = f ? (long)fread(pub_pem, 1, 8191, f) : 0;
    if (f)
        fclose(f);
    if (key == NULL || n <= 0) {
        printf("Bail out! test keys missing (run from the top folder)\n");
        return 1;
    }

    pgt_setup("queue");
    sink_init(&a);
    sink_init(&b);
    db = db_new(pgt_base, pgt_conninfo, 4, migrate_latest(), fatal_cb, NULL);
    db2 = db_new(pgt_base, pgt_conninfo, 4, migrate_latest(), fatal_cb, NULL);
    q = make_queue(db);
    test_enqueue(q, &a);
    test_deliver(q, &a);
    test_drop(q, &a);
    test_retry(q, &a);
    test_breaker(q, &a, &b);
    test_expired_claim(q, &a);
    test_blocked(q, &a);
    test_host_cap(q, &a, &b);
    test_slow_claim(q);
    test_two_workers(q, db2, &a);
    ok(metrics_get("passerelle_deliveries_total", "result=\"delivered\"") > 0 &&
           metrics_get("passerelle_deliveries_total", "result=\"dropped\"") >= 1 &&
           metrics_get("passerelle_deliveries_total", "result=\"retry\"") >= 1,
       "deliveries counted by result");
    test_free_in_flight(db, q, &a);
    test_lease_bound(db, &a);
    test_fanout(db, &a);

    db_free(db2);
    db_free(db);
    evhttp_free(a.http);
    evhttp_free(b.http);
    pgt_teardown();
    libevent_global_shutdown();
    metrics_free();
    EVP_PKEY_free(key);
    free(pub_pem);
    return done_testing();
}
