/*
 * Tests of the inbox: inbox_parse, then inbox_post on loopback with a real database and a
 * real actor host, each check in the order a POST meets it (type, body, signature, Host,
 * digest, JSON, policy, key, owner) down to the 202.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <json-c/json.h>
#include <openssl/pem.h>

#include "activity.h"
#include "apsign.h"
#include "app.h"
#include "domains.h"
#include "config.h"
#include "db.h"
#include "httpc.h"
#include "httpc_internal.h"
#include "inbox.h"
#include "metrics.h"
#include "pgtest.h"
#include "remote.h"
#include "tap.h"

#define CT "Content-Type: application/activity+json"

static struct app app;
static int inbox_port, actors_port;
static char actors[64]; /* http://127.0.0.1:<actors_port> */
static EVP_PKEY *key_a, *key_b;
static char pem_a[4096];

/* inbox_parse on body; the reason, or "ok" with id, type, actor and domain checked. */
static const char *
parse(const char *body, struct activity_in *a)
{
    const char *reason = NULL;
    int rc;

    memset(a, 0, sizeof(*a));
    a->body = body;
    a->body_len = strlen(body);
    rc = inbox_parse(a, &reason);
    json_object_put(a->json);
    a->json = NULL;
    return rc == 0 ? "ok" : reason;
}

static void
test_parse(void)
{
    struct activity_in a;
    char deep[200] = "";
    static const char bad_utf8[] = "{\"id\":\"https://a.example/1\",\"x\":\"\xc3\x28\"}";

    is_str(parse("{\"id\":\"https://A.example:8443/1\",\"type\":\"Like\","
                 "\"actor\":{\"id\":\"https://a.EXAMPLE:8443/u\"}}",
                 &a),
           "ok", "parse: an activity, actor as an object");
    is_str(a.domain, "a.example:8443", "parse: the actor's domain, lowercase, with its port");
    is_str(parse(bad_utf8, &a), "body is not valid UTF-8", "parse: invalid UTF-8");
    is_str(parse("{\"id\":1} x", &a), "body is not one JSON object", "parse: trailing bytes");
    is_str(parse("{\"id\":'x'}", &a), "body is not one JSON object",
           "parse: a single-quoted string");
    is_str(parse("{\"a\":1,}", &a), "body is not one JSON object", "parse: a trailing comma");
    is_str(parse("[1]", &a), "body is not a JSON object", "parse: an array");
    memset(deep, '[', 40);
    is_str(parse(deep, &a), "body is not one JSON object", "parse: nesting over 32 levels");
    is_str(parse("{\"type\":\"Like\",\"actor\":\"https://a.example/u\"}", &a),
           "activity has no id URL", "parse: no id");
    is_str(parse("{\"id\":\"urn:x\",\"type\":\"Like\",\"actor\":\"https://a.example/u\"}", &a),
           "activity has no id URL", "parse: an id that is no URL");
    is_str(
        parse("{\"id\":\"https://a.example/1\",\"type\":7,\"actor\":\"https://a.example/u\"}", &a),
        "activity has no type", "parse: a type that is no string");
    is_str(parse("{\"id\":\"https://a.example/1\",\"type\":\"Like\"}", &a),
           "activity has no actor URL", "parse: no actor");
    is_str(parse("{\"id\":\"https://a.example/1\",\"type\":\"Like\",\"actor\":\"a\"}", &a),
           "activity has no actor URL", "parse: an actor that is no URL");
    is_str(parse("{\"id\":\"https://b.example/1\",\"type\":\"Like\",\"actor\":\"https://a.example/"
                 "u\"}",
                 &a),
           "activity id is not on the actor's host", "parse: an id on another host");
}

/* The actor host: Person documents for alice and bob, both with key A's public half. */
static void
actors_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_request_get_uri(req);
    struct evbuffer *b = evbuffer_new();
    const char *name = strrchr(path, '/') + 1;
    struct json_object *doc, *k;

    (void)arg;
    if (strcmp(path, "/users/alice") != 0 && strcmp(path, "/users/bob") != 0) {
        evhttp_send_error(req, 404, NULL);
        evbuffer_free(b);
        return;
    }
    doc = json_object_new_object();
    k = json_object_new_object();
    json_object_object_add(doc, "@context",
                           json_object_new_string("https://www.w3.org/ns/activitystreams"));
    evbuffer_add_printf(b, "%s%s", actors, path);
    json_object_object_add(doc, "id", json_object_new_string((const char *)evbuffer_pullup(b, -1)));
    json_object_object_add(doc, "type", json_object_new_string("Person"));
    json_object_object_add(doc, "preferredUsername", json_object_new_string(name));
    evbuffer_add_printf(b, "/inbox");
    json_object_object_add(doc, "inbox",
                           json_object_new_string((const char *)evbuffer_pullup(b, -1)));
    evbuffer_drain(b, evbuffer_get_length(b));
    evbuffer_add_printf(b, "%s%s#main-key", actors, path);
    json_object_object_add(k, "id", json_object_new_string((const char *)evbuffer_pullup(b, -1)));
    evbuffer_drain(b, evbuffer_get_length(b));
    evbuffer_add_printf(b, "%s%s", actors, path);
    json_object_object_add(k, "owner",
                           json_object_new_string((const char *)evbuffer_pullup(b, -1)));
    json_object_object_add(k, "publicKeyPem", json_object_new_string(pem_a));
    json_object_object_add(doc, "publicKey", k);
    evbuffer_drain(b, evbuffer_get_length(b));
    evbuffer_add_printf(b, "%s", json_object_to_json_string(doc));
    json_object_put(doc);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/activity+json");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

/* Our side: every POST to the inbox. */
static void
inbox_cb(struct evhttp_request *req, void *arg)
{
    (void)arg;
    inbox_post(&app, req, evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)));
}

/*
 * POSTs body to our /inbox signed by key as key_id for url (NULL: our inbox), with the
 * content type ctype, and the body sent replaced by sent when that is not NULL.
 */
static int
post_signed(EVP_PKEY *key, const char *key_id, const char *url, const char *body, const char *sent,
            const char *ctype, struct pgt_answer *a)
{
    struct httpc_hop_headers h = { 0 };
    const char *lines[40];
    char ours[64], ct[128], err[256];
    size_t n = 0;

    snprintf(ours, sizeof(ours), "http://127.0.0.1:%d/inbox", inbox_port);
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
    if (apsign_hop(key, key_id, "POST", url ? url : ours, body, strlen(body), ctype, &h, err,
                   sizeof(err)) < 0) {
        printf("# apsign_hop: %s\n", err);
        return -1;
    }
    for (size_t i = 0; i < h.n; i++)
        lines[n++] = h.lines[i];
    lines[n++] = ct;
    lines[n] = NULL;
    sent = sent ? sent : body;
    pgt_ask(inbox_port, EVHTTP_REQ_POST, "/inbox", lines, sent, strlen(sent), a);
    for (size_t i = 0; i < h.n; i++)
        free(h.lines[i]);
    return a->status;
}

/* A Like from actor (an URL) with the id n on the actor's host. */
static const char *
like(const char *actor, int n)
{
    static char buf[512];
    const char *slash = strchr(actor + strlen("https://"), '/');

    snprintf(buf, sizeof(buf),
             "{\"@context\":\"https://www.w3.org/ns/activitystreams\",\"id\":\"%.*s/likes/%d\","
             "\"type\":\"Like\",\"actor\":\"%s\",\"object\":\"https://elsewhere.example/n/1\"}",
             (int)(slash - actor), actor, n, actor);
    return buf;
}

static void
test_before_the_signature(void)
{
    static const char *const plain[] = { "Content-Type: text/plain", NULL };
    static const char *const ld[] = {
        "Content-Type: application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"", NULL
    };
    static const char *const json[] = { CT, NULL };
    static const char *const garbled[] = { CT, "Signature: keyId=\"x\",,signature", NULL };
    struct pgt_answer a;
    const char *body = "{}";

    pgt_ask(inbox_port, EVHTTP_REQ_POST, "/inbox", plain, body, 2, &a);
    is_int(a.status, 415, "content type text/plain: 415");
    pgt_ask(inbox_port, EVHTTP_REQ_POST, "/inbox", NULL, body, 2, &a);
    is_int(a.status, 415, "no content type: 415");
    pgt_ask(inbox_port, EVHTTP_REQ_POST, "/inbox", ld, "", 0, &a);
    is_int(a.status, 400, "ld+json with a profile is accepted; an empty body is then 400");
    pgt_ask(inbox_port, EVHTTP_REQ_POST, "/inbox", json, body, 2, &a);
    is_int(a.status, 401, "not signed: 401");
    ok(strstr(a.body, "not signed") != NULL, "not signed: says so (%s)", a.body);
    pgt_ask(inbox_port, EVHTTP_REQ_POST, "/inbox", garbled, body, 2, &a);
    is_int(a.status, 401, "a Signature header that does not parse: 401");
}

static void
test_signature_checks(void)
{
    struct pgt_answer a;
    char kid[128], actor[128], body[512];

    snprintf(kid, sizeof(kid), "%s/users/alice#main-key", actors);
    snprintf(actor, sizeof(actor), "%s/users/alice", actors);
    snprintf(body, sizeof(body), "%s", like(actor, 1));
    post_signed(key_a, "urn:alice", NULL, body, NULL, "application/activity+json", &a);
    is_int(a.status, 401, "a keyId that is no http(s) URL: 401");
    post_signed(key_a, kid, "http://other.example/inbox", body, NULL, "application/activity+json",
                &a);
    is_int(a.status, 401, "signed for another server's Host: 401");
    ok(strstr(a.body, "Host") != NULL, "another Host: says so (%s)", a.body);
    post_signed(key_a, kid, NULL, body, like(actor, 2), "application/activity+json", &a);
    is_int(a.status, 401, "a body that is not the one signed (digest): 401");
    post_signed(key_a, kid, NULL, "{\"not\":\"an activity\"", NULL, "application/activity+json",
                &a);
    is_int(a.status, 400, "signed, but not JSON: 400");
    post_signed(key_a, kid, NULL, "{\"id\":\"https://x.example/1\",\"type\":\"Like\"}", NULL,
                "application/activity+json", &a);
    is_int(a.status, 400, "signed, but no actor: 400");
}

static void
test_policy(void)
{
    struct pgt_answer a;
    char kid[128], actor[128];
    struct domains *keep;
    unsigned long n;

    snprintf(kid, sizeof(kid), "%s/users/alice#main-key", actors);
    post_signed(key_a, kid, NULL, like("https://blocked.example/users/x", 1), NULL,
                "application/activity+json", &a);
    is_int(a.status, 403, "the actor's domain in relay_block: 403");
    post_signed(key_a, kid, NULL, like("https://sub.dbblocked.example/users/x", 1), NULL,
                "application/activity+json", &a);
    is_int(a.status, 403, "a subdomain of a domain the admin blocked: 403");
    /* The policy is held in memory: a block is seen once its NOTIFY has been read. */
    n = domains_loads(app.domains);
    pgt_exec("UPDATE instances SET blocked = true WHERE domain = '127.0.0.1'");
    PGT_SPIN(domains_loads(app.domains) > n, 5);
    snprintf(actor, sizeof(actor), "%s/users/alice", actors);
    post_signed(key_a, kid, NULL, like(actor, 3), NULL, "application/activity+json", &a);
    is_int(a.status, 403, "the signer's host blocked by the admin: 403");
    n = domains_loads(app.domains);
    pgt_exec("UPDATE instances SET blocked = false WHERE domain = '127.0.0.1'");
    PGT_SPIN(domains_loads(app.domains) > n, 5);
    /* Without the copy (not current), the same judgement comes from the database. */
    keep = app.domains;
    app.domains = NULL;
    post_signed(key_a, kid, NULL, like("https://sub.dbblocked.example/users/x", 4), NULL,
                "application/activity+json", &a);
    is_int(a.status, 403, "no copy in memory: the database's block still gives 403");
    app.domains = keep;
}

static void
test_key(void)
{
    struct pgt_answer a;
    char kid[128], bob_kid[128], actor[128];

    snprintf(kid, sizeof(kid), "%s/users/alice#main-key", actors);
    snprintf(bob_kid, sizeof(bob_kid), "%s/users/bob#main-key", actors);
    snprintf(actor, sizeof(actor), "%s/users/alice", actors);
    post_signed(key_a, kid, NULL, like(actor, 10), NULL, "application/activity+json", &a);
    is_int(a.status, 202, "signed by the actor's key: 202 (%s)", a.body);
    is_int(pgt_num("SELECT count(*) FROM remote_actors WHERE uri = '%s'", actor), 1,
           "the actor's key was fetched and cached");
    post_signed(key_b, kid, NULL, like(actor, 11), NULL, "application/activity+json", &a);
    is_int(a.status, 401, "signed by another key under the actor's keyId: 401");
    post_signed(key_a, bob_kid, NULL, like(actor, 12), NULL, "application/activity+json", &a);
    is_int(a.status, 401, "signed by bob's key for alice's activity: 401");
    ok(strstr(a.body, "does not belong") != NULL, "owner mismatch: says so (%s)", a.body);
    post_signed(key_a, "http://127.0.0.1:1/users/gone#main-key", NULL,
                like("http://127.0.0.1:1/users/gone", 13), NULL, "application/activity+json", &a);
    is_int(a.status, 503, "the signer's key host unreachable: 503");
}

static void
test_no_database(void)
{
    struct pgt_answer a;
    char kid[128], actor[128];
    struct db *db = app.db;
    struct domains *keep = app.domains;

    app.domains = NULL; /* the policy too comes from the database that is not there */
    app.db = db_new(pgt_base, "host=127.0.0.1 port=1 connect_timeout=1", 1, 1, pgt_fatal_cb, NULL);
    snprintf(kid, sizeof(kid), "%s/users/alice#main-key", actors);
    snprintf(actor, sizeof(actor), "%s/users/alice", actors);
    post_signed(key_a, kid, NULL, like(actor, 20), NULL, "application/activity+json", &a);
    is_int(a.status, 503, "no database for the policy: 503");
    db_free(app.db);
    app.db = db;
    app.domains = keep;
}

static EVP_PKEY *
load_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

    if (f)
        fclose(f);
    return k;
}

int
main(void)
{
    struct config cfg;
    struct httpc_options ho = { 0 };
    struct evhttp *ours, *theirs;
    char err[256], url[64];
    FILE *f;
    size_t n;

    test_parse();

    key_a = load_key("tests/data/httpsig/key-a.pem");
    key_b = load_key("tests/data/httpsig/key-b.pem");
    f = fopen("tests/data/httpsig/key-a.pub.pem", "r");
    n = f ? fread(pem_a, 1, sizeof(pem_a) - 1, f) : 0;
    if (f)
        fclose(f);
    if (key_a == NULL || key_b == NULL || n == 0)
        pgt_bail("test keys missing (run from the top folder)");
    pem_a[n] = '\0';

    pgt_setup("inbox");
    inbox_port = pgt_listen(&ours, inbox_cb, NULL);
    actors_port = pgt_listen(&theirs, actors_cb, NULL);
    if (inbox_port < 0 || actors_port < 0)
        pgt_bail("cannot listen on 127.0.0.1");
    snprintf(actors, sizeof(actors), "http://127.0.0.1:%d", actors_port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", inbox_port);
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", url, err, sizeof(err)) < 0 ||
        config_set(&cfg, "relay_block", "blocked.example", err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    pgt_exec("INSERT INTO instances (domain, blocked) VALUES ('dbblocked.example', true), "
             "('127.0.0.1', false)");

    app.base = pgt_base;
    app.cfg = &cfg;
    app_init_ids(&app);
    app.db = pgt_db(2);
    ho.allow_loopback = 1;
    ho.connect_timeout_ms = 1000;
    app.httpc = httpc_new(pgt_base, &ho, err, sizeof(err));
    if (app.httpc == NULL)
        pgt_bail("httpc_new: %s", err);
    app.remote = remote_new(pgt_base, app.db, app.httpc, NULL);
    app.domains = domains_new(pgt_base, app.db, pgt_conninfo);
    PGT_SPIN(domains_loads(app.domains) > 0, 5);
    if (domains_loads(app.domains) == 0)
        pgt_bail("the domain policy was not read");
    inbox_metrics_describe();
    /* What httpd_new declares, for reply_send's count (no listener of httpd's here). */
    metrics_describe("passerelle_http_responses_total", METRICS_COUNTER, "HTTP responses.");

    test_before_the_signature();
    test_signature_checks();
    test_policy();
    test_key();
    test_no_database();

    remote_free(app.remote);
    httpc_free(app.httpc);
    domains_free(app.domains);
    db_free(app.db);
    app_free_ids(&app);
    config_free(&cfg);
    evhttp_free(ours);
    evhttp_free(theirs);
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    metrics_free();
    pgt_teardown();
    return done_testing();
}
