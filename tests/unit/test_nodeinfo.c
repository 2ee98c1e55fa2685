/* Tests of NodeInfo on loopback: the discovery links, and the 2.0 and 2.1 documents' shape. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "metrics.h"
#include "nodeinfo.h"
#include "pgtest.h"
#include "tap.h"

#define SCHEMA "http://nodeinfo.diaspora.software/ns/schema/"

static struct app app;
static int port;

static void
route_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    nodeinfo_get(&app, req, evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)));
}

/* The string at a dotted path of o ("a.b"), or NULL. */
static const char *
str_at(struct json_object *o, const char *path)
{
    char key[64];
    const char *dot;

    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        o = json_object_object_get(o, key);
        path = dot + 1;
    }
    o = json_object_object_get(o, path);
    return o ? json_object_get_string(o) : NULL;
}

static void
test_discovery(void)
{
    struct pgt_answer a;
    struct json_object *o, *links;

    pgt_ask(port, EVHTTP_REQ_GET, "/.well-known/nodeinfo", NULL, NULL, 0, &a);
    is_int(a.status, 200, "discovery: 200");
    o = json_tokener_parse(a.body);
    links = json_object_object_get(o, "links");
    if (ok(json_object_is_type(links, json_type_array) && json_object_array_length(links) == 2,
           "discovery: two links")) {
        is_str(str_at(json_object_array_get_idx(links, 0), "rel"), SCHEMA "2.0", "link 1: 2.0");
        is_str(str_at(json_object_array_get_idx(links, 0), "href"),
               "https://relay.example/nodeinfo/2.0", "link 1: its document on base_url");
        is_str(str_at(json_object_array_get_idx(links, 1), "rel"), SCHEMA "2.1", "link 2: 2.1");
        is_str(str_at(json_object_array_get_idx(links, 1), "href"),
               "https://relay.example/nodeinfo/2.1", "link 2: its document");
    }
    json_object_put(o);
}

static void
test_document(const char *version)
{
    struct pgt_answer a;
    struct json_object *o, *v;
    char path[32], ctype[128];

    snprintf(path, sizeof(path), "/nodeinfo/%s", version);
    pgt_ask(port, EVHTTP_REQ_GET, path, NULL, NULL, 0, &a);
    is_int(a.status, 200, "%s: 200", version);
    snprintf(ctype, sizeof(ctype), "application/json; profile=\"" SCHEMA "%s#\"", version);
    is_str(a.ctype, ctype, "%s: the content type names the profile", version);
    o = json_tokener_parse(a.body);
    if (!ok(o != NULL, "%s: JSON", version))
        return;
    is_str(str_at(o, "version"), version, "%s: version", version);
    is_str(str_at(o, "software.name"), "passerelle", "%s: software.name", version);
    is_str(str_at(o, "software.version"), PASSERELLE_VERSION, "%s: software.version", version);
    v = json_object_object_get(o, "protocols");
    ok(json_object_array_length(v) == 1 &&
           strcmp(json_object_get_string(json_object_array_get_idx(v, 0)), "activitypub") == 0,
       "%s: protocols [activitypub]", version);
    ok(json_object_is_type(json_object_object_get(o, "openRegistrations"), json_type_boolean) &&
           !json_object_get_boolean(json_object_object_get(o, "openRegistrations")),
       "%s: openRegistrations false", version);
    is_str(str_at(o, "usage.users.total"), "3", "%s: users are the members (3)", version);
    is_str(str_at(o, "usage.users.activeMonth"), "3", "%s: activeMonth", version);
    is_str(str_at(o, "usage.localPosts"), "0", "%s: no local posts", version);
    is_str(str_at(o, "metadata.nodeName"), "Pont", "%s: metadata.nodeName", version);
    ok(json_object_is_type(json_object_object_get(json_object_object_get(o, "services"), "inbound"),
                           json_type_array),
       "%s: services.inbound is an array", version);
    json_object_put(o);
}

int
main(void)
{
    struct config cfg;
    struct evhttp *http;
    struct pgt_answer a;
    char err[256];

    pgt_setup("nodeinfo");
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://relay.example", err, sizeof(err)) < 0 ||
        config_set(&cfg, "instance_name", "Pont", err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app.db = pgt_db(1);
    metrics_describe("passerelle_http_responses_total", METRICS_COUNTER, "HTTP responses.");
    port = pgt_listen(&http, route_cb, NULL);
    pgt_exec("INSERT INTO members (actor_uri, host) VALUES ('https://a.example/u/1', 'a.example'),"
             " ('https://a.example/u/2', 'a.example'), ('https://b.example/u/3', 'b.example')");

    test_discovery();
    test_document("2.0");
    test_document("2.1");
    pgt_ask(port, EVHTTP_REQ_GET, "/nodeinfo/3.0", NULL, NULL, 0, &a);
    is_int(a.status, 404, "another version: 404");

    db_free(app.db);
    app.db = db_new(pgt_base, "host=127.0.0.1 port=1 connect_timeout=1", 1, 1, pgt_fatal_cb, NULL);
    pgt_ask(port, EVHTTP_REQ_GET, "/nodeinfo/2.1", NULL, NULL, 0, &a);
    is_int(a.status, 503, "no database: 503");
    pgt_ask(port, EVHTTP_REQ_GET, "/.well-known/nodeinfo", NULL, NULL, 0, &a);
    is_int(a.status, 200, "no database: discovery still answers");

    evhttp_free(http);
    db_free(app.db);
    config_free(&cfg);
    pgt_teardown();
    return done_testing();
}
