/* Tests of the status page and /metrics on loopback: the page's numbers from a seeded database. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "metrics.h"
#include "pgtest.h"
#include "status.h"
#include "tap.h"

static struct app app;
static int port;

static void
route_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

    (void)arg;
    if (strcmp(path, "/metrics") == 0)
        status_metrics(&app, req, path);
    else
        status_get(&app, req, path);
}

/* The text of <dd id="id"> in html, or "(none)". */
static const char *
count(const char *html, const char *id)
{
    static char out[32];
    char key[64];
    const char *p, *end;

    snprintf(key, sizeof(key), "<dd id=\"%s\">", id);
    p = strstr(html, key);
    if (p == NULL || (end = strstr(p, "</dd>")) == NULL)
        return "(none)";
    p += strlen(key);
    snprintf(out, sizeof(out), "%.*s", (int)(end - p), p);
    return out;
}

static void
test_page(void)
{
    struct pgt_answer a;

    pgt_ask(port, EVHTTP_REQ_GET, "/", NULL, NULL, 0, &a);
    is_int(a.status, 200, "page: 200");
    is_str(a.ctype, "text/html; charset=utf-8", "page: HTML");
    is_str(count(a.body, "members"), "4", "members: every member");
    is_str(count(a.body, "linked"), "2", "linked: members in state linked");
    is_str(count(a.body, "instances"), "2", "instances: accepted and not blocked");
    is_str(count(a.body, "follows"), "2", "follows: done");
    is_str(count(a.body, "contacts"), "3", "contacts: every follow not undone");
    ok(strstr(a.body, "<title>Pont &lt;b&gt;</title>") != NULL, "the instance name is escaped");
    ok(strstr(a.body, "@passerelle@relay.example") != NULL, "the bridge account to follow");
    ok(strstr(a.body, "<svg") != NULL, "the arrivals chart");

    pgt_exec("INSERT INTO members (actor_uri, host) VALUES ('https://z.example/u/late', "
             "'z.example')");
    pgt_ask(port, EVHTTP_REQ_GET, "/", NULL, NULL, 0, &a);
    is_str(count(a.body, "members"), "4", "a page younger than 5 s is served from the cache");
}

static void
test_metrics(struct config *cfg)
{
    static const char *const proxied[] = { "X-Forwarded-For: 203.0.113.9", NULL };
    static const char *const good[] = { "Authorization: Bearer s3cret", NULL };
    static const char *const bad[] = { "Authorization: Bearer s3creT", NULL };
    struct pgt_answer a;
    char err[128];

    pgt_ask(port, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0, &a);
    ok(a.status == 200 && strstr(a.body, "passerelle_db_up 1") != NULL,
       "metrics without a token: served to this machine, the database up");
    pgt_ask(port, EVHTTP_REQ_GET, "/metrics", proxied, NULL, 0, &a);
    is_int(a.status, 403, "metrics without a token: a forwarded request is refused");
    config_set(cfg, "metrics_token", "s3cret", err, sizeof(err));
    pgt_ask(port, EVHTTP_REQ_GET, "/metrics", NULL, NULL, 0, &a);
    is_int(a.status, 401, "metrics with a token: none sent, 401");
    pgt_ask(port, EVHTTP_REQ_GET, "/metrics", bad, NULL, 0, &a);
    is_int(a.status, 401, "metrics with a token: another token, 401");
    pgt_ask(port, EVHTTP_REQ_GET, "/metrics", good, NULL, 0, &a);
    is_int(a.status, 200, "metrics with a token: the token, 200");
}

int
main(void)
{
    struct config cfg;
    struct evhttp *http;
    struct pgt_answer a;
    char err[256];
    long m[4];

    pgt_setup("status");
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://relay.example", err, sizeof(err)) < 0 ||
        config_set(&cfg, "instance_name", "Pont <b>", err, sizeof(err)) < 0 ||
        config_validate(&cfg, err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app.db = pgt_db(1);
    metrics_describe("passerelle_http_responses_total", METRICS_COUNTER, "HTTP responses.");
    metrics_describe("passerelle_db_up", METRICS_GAUGE, "Database up.");
    metrics_describe("passerelle_db_connections", METRICS_GAUGE, "Connections.");
    metrics_describe("passerelle_uptime_seconds", METRICS_GAUGE, "Uptime.");
    port = pgt_listen(&http, route_cb, NULL);

    for (int i = 0; i < 4; i++)
        m[i] = pgt_num("INSERT INTO members (actor_uri, host, x_id, state) VALUES "
                       "('https://a.example/u/%d', 'a.example', %d, '%s') RETURNING id",
                       i, 100 + i, i < 2 ? "linked" : "joined");
    pgt_exec("INSERT INTO instances (domain, actor_uri, relay_state, blocked) SELECT d,"
             " 'https://' || d || '/actor', s, b FROM (VALUES ('a.example', 'accepted', false),"
             " ('b.example', 'accepted', false), ('c.example', 'accepted', true),"
             " ('d.example', 'pending', false)) v(d, s, b)");
    pgt_exec("INSERT INTO follow_actions (follower_id, followee_id, method, state) VALUES"
             " (%ld, %ld, 'api', 'done'), (%ld, %ld, 'csv', 'done'),"
             " (%ld, %ld, 'api', 'planned'), (%ld, %ld, 'api', 'undone')",
             m[0], m[1], m[1], m[0], m[2], m[0], m[3], m[0]);

    test_page();
    test_metrics(&cfg);

    status_shutdown();
    db_free(app.db);
    app.db = db_new(pgt_base, "host=127.0.0.1 port=1 connect_timeout=1", 1, 1, pgt_fatal_cb, NULL);
    pgt_ask(port, EVHTTP_REQ_GET, "/", NULL, NULL, 0, &a);
    is_int(a.status, 503, "no database: 503");

    status_shutdown();
    evhttp_free(http);
    db_free(app.db);
    config_free(&cfg);
    metrics_free();
    pgt_teardown();
    return done_testing();
}
