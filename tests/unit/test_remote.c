/* Tests of remote actor and key lookup against an evhttp server on 127.0.0.1 and real PostgreSQL.
 */
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
#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/pem.h>

#include "db.h"
#include "httpc.h"
#include "httpsig.h"
#include "log.h"
#include "migrate.h"
#include "pgtest.h"
#include "remote.h"
#include "tap.h"

#define OUR_KEY_ID "https://relay.test/actor#main-key"
#define MAX_ROUTES 64

/* What the test server answers for one path; the test edits these between lookups. */
struct route {
    char path[128];
    int status;
    char ctype[128];
    char *body;
    char location[256];
    int hits;
};

/* What one lookup callback saw. */
struct lres {
    int calls;
    int sync;
    enum remote_result result;
    int from_cache;
    char actor[256], kid[256], inbox[256], shared[256], type[32], user[64];
    char *pem;
    int naka;
    char aka[4][256];
};

static int port;
static char origin[64];
static struct route routes[MAX_ROUTES];
static int nroutes;
static int sig_ok, sig_bad, sig_wrong_keyid;
static char *our_pub_pem, *pem_a, *pem_b;
static int in_api;
static struct remote_options ropts;
static int done_count, want_count;

static char *
read_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf;
    long n;

    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    return buf;
}

static char *
url(const char *path)
{
    static char bufs[8][256];
    static int i;
    char *b = bufs[i++ % 8];

    snprintf(b, sizeof(bufs[0]), "%s%s", origin, path);
    return b;
}

static struct route *
route(const char *path)
{
    int i;

    for (i = 0; i < nroutes; i++) {
        if (strcmp(routes[i].path, path) == 0)
            return &routes[i];
    }
    if (nroutes == MAX_ROUTES)
        abort();
    memset(&routes[nroutes], 0, sizeof(routes[0]));
    snprintf(routes[nroutes].path, sizeof(routes[0].path), "%s", path);
    return &routes[nroutes++];
}

/* Serves body (taken) at path with status and content type. */
static void
serve(const char *path, int status, const char *ctype, char *body)
{
    struct route *rt = route(path);

    free(rt->body);
    rt->body = body;
    rt->status = status;
    snprintf(rt->ctype, sizeof(rt->ctype), "%s", ctype);
}

static int
hits(const char *path)
{
    return route(path)->hits;
}

/* The id actor documents get (NULL: their own URL) and extra members, for the bad cases. */
static const char *doc_id;

/* An actor document: publicKey entries (key_ids[i], pems[i]), as an array when n > 1. */
static char *
actor_doc(const char *path, const char *type, const char **key_ids, const char **pems, int n)
{
    struct json_object *doc = json_object_new_object();
    struct json_object *ctx = json_object_new_array();
    struct json_object *ep = json_object_new_object();
    struct json_object *keys = json_object_new_array();
    char *out;
    int i;

    json_object_array_add(ctx, json_object_new_string("https://www.w3.org/ns/activitystreams"));
    json_object_array_add(ctx, json_object_new_string("https://w3id.org/security/v1"));
    json_object_object_add(doc, "@context", ctx);
    json_object_object_add(doc, "id", json_object_new_string(doc_id != NULL ? doc_id : url(path)));
    json_object_object_add(doc, "type", json_object_new_string(type));
    json_object_object_add(doc, "preferredUsername", json_object_new_string(path + 7));
    json_object_object_add(doc, "inbox", json_object_new_string(url("/inbox-of-actor")));
    json_object_object_add(ep, "sharedInbox", json_object_new_string(url("/inbox")));
    json_object_object_add(doc, "endpoints", ep);
    for (i = 0; i < n; i++) {
        struct json_object *k = json_object_new_object();

        json_object_object_add(k, "id", json_object_new_string(key_ids[i]));
        json_object_object_add(k, "owner", json_object_new_string(url(path)));
        json_object_object_add(k, "publicKeyPem", json_object_new_string(pems[i]));
        json_object_array_add(keys, k);
    }
    if (n == 1) {
        json_object_object_add(doc, "publicKey",
                               json_object_get(json_object_array_get_idx(keys, 0)));
        json_object_put(keys);
    } else {
        json_object_object_add(doc, "publicKey", keys);
    }
    out = strdup(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
    json_object_put(doc);
    return out;
}

/* A Mastodon-shaped actor at path with key path#main-key. */
static char *
masto(const char *path, const char *pem)
{
    char kid[256];
    const char *kids[1] = { kid };
    const char *pems[1] = { pem };

    snprintf(kid, sizeof(kid), "%s#main-key", url(path));
    return actor_doc(path, "Person", kids, pems, 1);
}

/* --- the evhttp server ------------------------------------------------------------------- */

static const char *
req_header(void *ctx, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(ctx), name);
}

/* Every request must carry our signature: count the ones that verify. */
static void
check_signature(struct evhttp_request *req)
{
    struct httpsig_request hr;
    struct httpsig sig;
    char err[256];

    memset(&hr, 0, sizeof(hr));
    hr.method = "GET";
    hr.target = evhttp_request_get_uri(req);
    hr.header = req_header;
    hr.ctx = req;
    if (httpsig_parse_request(&hr, &sig, err, sizeof(err)) != HTTPSIG_OK) {
        sig_bad++;
        printf("# unsigned request: %s\n", err);
        return;
    }
    if (strcmp(sig.key_id, OUR_KEY_ID) != 0)
        sig_wrong_keyid++;
    if (httpsig_verify(&sig, &hr, our_pub_pem, time(NULL), err, sizeof(err)) == HTTPSIG_OK &&
        sig.ncomponents == 4 && strcmp(sig.components[3], "accept") == 0)
        sig_ok++;
    else {
        sig_bad++;
        printf("# bad signature: %s\n", err);
    }
    httpsig_free(&sig);
}

static void
server_cb(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *b = evbuffer_new();
    struct route *rt = NULL;
    int i;

    (void)arg;
    check_signature(req);
    for (i = 0; i < nroutes; i++) {
        if (strcmp(routes[i].path, uri) == 0)
            rt = &routes[i];
    }
    if (rt == NULL || rt->status == 0) {
        evhttp_send_reply(req, 404, "Not Found", b);
        evbuffer_free(b);
        return;
    }
    rt->hits++;
    if (rt->location[0] != '\0')
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", rt->location);
    if (rt->ctype[0] != '\0')
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", rt->ctype);
    if (rt->body != NULL)
        evbuffer_add(b, rt->body, strlen(rt->body));
    evhttp_send_reply(req, rt->status, "X", b);
    evbuffer_free(b);
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

/* A listening socket on 127.0.0.1 that never accepts: connections complete and hang. */
static int
tarpit(int *fd)
{
    struct sockaddr_in sin;

    *fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(*fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(*fd, 64) != 0)
        return -1;
    return bound_port(*fd);
}

/* --- running lookups --------------------------------------------------------------------- */

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    event_base_loopbreak(pgt_base);
}

static void
wait_done(int want, int limit_ms)
{
    struct timeval tv = { limit_ms / 1000, (limit_ms % 1000) * 1000 };
    struct event *guard = evtimer_new(pgt_base, guard_cb, NULL);

    want_count = want;
    evtimer_add(guard, &tv);
    if (done_count < want_count)
        event_base_dispatch(pgt_base);
    event_free(guard);
}

static void
copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src != NULL ? src : "");
}

static void
key_cb(enum remote_result result, const struct remote_key *key, void *arg)
{
    struct lres *lr = arg;

    lr->calls++;
    lr->sync |= in_api;
    lr->result = result;
    if (key != NULL) {
        lr->from_cache = key->from_cache;
        copy(lr->actor, sizeof(lr->actor), key->actor_id);
        copy(lr->kid, sizeof(lr->kid), key->key_id);
        copy(lr->inbox, sizeof(lr->inbox), key->inbox);
        copy(lr->shared, sizeof(lr->shared), key->shared_inbox);
        copy(lr->type, sizeof(lr->type), key->type);
        copy(lr->user, sizeof(lr->user), key->preferred_username);
        free(lr->pem);
        lr->pem = strdup(key->public_key_pem);
        lr->naka = (int)key->n_also_known_as;
        for (size_t i = 0; i < key->n_also_known_as && i < 4; i++)
            copy(lr->aka[i], sizeof(lr->aka[i]), key->also_known_as[i]);
    }
    if (++done_count >= want_count)
        event_base_loopbreak(pgt_base);
}

static void
start(struct remote *r, const char *key_id, int force, struct lres *lr)
{
    free(lr->pem);
    memset(lr, 0, sizeof(*lr));
    in_api = 1;
    remote_key_lookup(r, key_id, force, key_cb, lr);
    in_api = 0;
}

/* One lookup, run to completion. */
static void
lookup(struct remote *r, const char *key_id, int force, struct lres *lr)
{
    done_count = 0;
    start(r, key_id, force, lr);
    wait_done(1, 5000);
}

/* --- blocking SQL for checks (never on the loop's connections) ----------------------------- */

static char *
sql_value(const char *sql, const char *param)
{
    const char *params[1] = { param };
    PGresult *res = PQexecParams(pgt_pg, sql, param != NULL ? 1 : 0, NULL, params, NULL, NULL, 0);
    char *out = NULL;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        out = strdup(PQgetvalue(res, 0, 0));
    else if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
        printf("# %s: %s", sql, PQerrorMessage(pgt_pg));
    PQclear(res);
    return out;
}

static int
sql_is(const char *sql, const char *param, const char *want)
{
    char *got = sql_value(sql, param);
    int same = got != NULL && want != NULL ? strcmp(got, want) == 0 : got == want;

    if (!same)
        printf("# %s -> %s, want %s\n", sql, got != NULL ? got : "(null)",
               want != NULL ? want : "(null)");
    free(got);
    return same;
}

/* --- the tests --------------------------------------------------------------------------- */

static void
test_mastodon(struct remote *r)
{
    struct lres lr = { 0 };
    int before_ok = sig_ok;
    char row_want[1024];

    snprintf(row_want, sizeof(row_want), "%s %s %s Person alice t", url("/users/alice#main-key"),
             url("/inbox-of-actor"), url("/inbox"));

    serve("/users/alice", 200, "application/activity+json", masto("/users/alice", pem_b));
    lookup(r, url("/users/alice#main-key"), 0, &lr);
    is_int(lr.calls, 1, "mastodon: answered once");
    is_int(lr.sync, 0, "mastodon: not from inside remote_key_lookup");
    is_int(lr.result, REMOTE_OK, "mastodon: ok");
    is_int(lr.from_cache, 0, "mastodon: fetched");
    is_str(lr.actor, url("/users/alice"), "mastodon: actor id");
    is_str(lr.kid, url("/users/alice#main-key"), "mastodon: key id");
    is_str(lr.pem, pem_b, "mastodon: pem");
    is_str(lr.inbox, url("/inbox-of-actor"), "mastodon: inbox");
    is_str(lr.shared, url("/inbox"), "mastodon: shared inbox");
    is_str(lr.type, "Person", "mastodon: type");
    is_str(lr.user, "alice", "mastodon: preferredUsername");
    is_int(hits("/users/alice"), 1, "mastodon: one request, without the fragment");
    is_int(sig_ok - before_ok, 1, "mastodon: the GET was signed and verifies with our key");
    ok(sql_is("SELECT public_key_pem FROM remote_actors WHERE uri = $1", url("/users/alice"),
              pem_b),
       "mastodon: row stored with the pem");
    ok(sql_is("SELECT concat_ws(' ', key_id, inbox, shared_inbox, type, preferred_username, "
              "fetched_at > now() - interval '1 minute') FROM remote_actors WHERE uri = $1",
              url("/users/alice"), row_want),
       "mastodon: row has every column");

    lookup(r, url("/users/alice#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_OK, "cache: ok");
    is_int(lr.from_cache, 1, "cache: from the cache");
    is_int(lr.sync, 0, "cache: still not synchronous");
    is_str(lr.pem, pem_b, "cache: same pem");
    is_str(lr.shared, url("/inbox"), "cache: shared inbox");
    is_int(hits("/users/alice"), 1, "cache: no request at the server");

    lookup(r, url("/users/alice"), 0, &lr);
    ok(lr.result == REMOTE_OK && lr.from_cache == 1, "plain actor URL keyId: from the cache");
    is_str(lr.kid, url("/users/alice#main-key"), "plain actor URL keyId: the actor's key");

    serve("/users/plain", 200,
          "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
          masto("/users/plain", pem_a));
    lookup(r, url("/users/plain"), 0, &lr);
    ok(lr.result == REMOTE_OK && lr.from_cache == 0, "plain actor URL keyId fetched (ld+json)");
    is_str(lr.pem, pem_a, "plain actor URL keyId: pem");
    free(lr.pem);
}

/* masto() with alsoKnownAs set to aka (JSON text). */
static char *
masto_aka(const char *path, const char *pem, const char *aka)
{
    char *doc = masto(path, pem), *out;
    struct json_object *o = json_tokener_parse(doc);

    json_object_object_add(o, "alsoKnownAs", json_tokener_parse(aka));
    out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    free(doc);
    return out;
}

/* remote_actor_fetch: always the network, alsoKnownAs read, the cache left as it was. */
static void
test_fresh(struct remote *r)
{
    struct lres lr = { 0 };
    char aka[512];

    snprintf(aka, sizeof(aka), "[\"%s\", {\"id\": \"%s\"}, \"acct:x@y\", 7]", url("/users/alice"),
             url("/users/old2"));
    serve("/users/moved", 200, "application/activity+json", masto_aka("/users/moved", pem_b, aka));
    lookup(r, url("/users/moved#main-key"), 0, &lr);
    ok(lr.result == REMOTE_OK && lr.from_cache == 0 && lr.naka == 0,
       "fresh: a key lookup fetches, and says nothing of alsoKnownAs");
    is_int(hits("/users/moved"), 1, "fresh: one request so far");

    done_count = 0;
    free(lr.pem);
    memset(&lr, 0, sizeof(lr));
    in_api = 1;
    remote_actor_fetch(r, url("/users/moved"), key_cb, &lr);
    in_api = 0;
    wait_done(1, 5000);
    is_int(lr.calls, 1, "fresh: answered once");
    is_int(lr.sync, 0, "fresh: not from inside remote_actor_fetch");
    ok(lr.result == REMOTE_OK && lr.from_cache == 0, "fresh: fetched although the cache is fresh");
    is_int(hits("/users/moved"), 2, "fresh: a second request");
    is_str(lr.actor, url("/users/moved"), "fresh: actor id");
    is_str(lr.inbox, url("/inbox-of-actor"), "fresh: inbox");
    is_str(lr.user, "moved", "fresh: preferredUsername");
    is_int(lr.naka, 2,
           "fresh: two http(s) aliases (a string and an object's id; acct: and 7 left out)");
    is_str(lr.aka[0], url("/users/alice"), "fresh: first alias");
    is_str(lr.aka[1], url("/users/old2"), "fresh: second alias");
    ok(sql_is("SELECT key_id FROM remote_actors WHERE uri = $1", url("/users/moved"),
              url("/users/moved#main-key")),
       "fresh: the cached row keeps its key id (nothing stored)");

    serve("/users/moved", 200, "application/activity+json",
          masto_aka("/users/moved", pem_b, "\"https://elsewhere.example/users/x\""));
    done_count = 0;
    free(lr.pem);
    memset(&lr, 0, sizeof(lr));
    remote_actor_fetch(r, url("/users/moved"), key_cb, &lr);
    wait_done(1, 5000);
    ok(lr.result == REMOTE_OK && lr.naka == 1 &&
           strcmp(lr.aka[0], "https://elsewhere.example/users/x") == 0,
       "fresh: alsoKnownAs as one string, read again at once");

    done_count = 0;
    free(lr.pem);
    memset(&lr, 0, sizeof(lr));
    remote_actor_fetch(r, url("/users/nobody-here"), key_cb, &lr);
    wait_done(1, 5000);
    is_int(lr.result, REMOTE_NOT_FOUND, "fresh: 404 is not found");

    done_count = 0;
    memset(&lr, 0, sizeof(lr));
    in_api = 1;
    remote_actor_fetch(r, "https://x.example/users/a#main-key", key_cb, &lr);
    in_api = 0;
    wait_done(1, 5000);
    ok(lr.result == REMOTE_INVALID && lr.sync == 0,
       "fresh: an id with a fragment is refused, later");
    free(lr.pem);
}

static void
test_gts(struct remote *r)
{
    struct lres lr = { 0 };
    struct json_object *k = json_object_new_object();
    char kid[256];
    const char *kids[1] = { kid };
    const char *pems[1] = { pem_a };

    /* A key document at /users/gts/main-key naming its owner. */
    snprintf(kid, sizeof(kid), "%s", url("/users/gts/main-key"));
    json_object_object_add(k, "@context", json_object_new_string("https://w3id.org/security/v1"));
    json_object_object_add(k, "id", json_object_new_string(kid));
    json_object_object_add(k, "owner", json_object_new_string(url("/users/gts")));
    json_object_object_add(k, "publicKeyPem", json_object_new_string(pem_a));
    serve("/users/gts/main-key", 200, "application/activity+json",
          strdup(json_object_to_json_string(k)));
    json_object_put(k);
    serve("/users/gts", 200, "application/activity+json",
          actor_doc("/users/gts", "Service", kids, pems, 1));
    lookup(r, kid, 0, &lr);
    is_int(lr.result, REMOTE_OK, "gts key document: ok");
    is_str(lr.actor, url("/users/gts"), "gts key document: owner actor");
    is_str(lr.kid, kid, "gts key document: key id");
    is_str(lr.type, "Service", "gts key document: type");
    ok(hits("/users/gts/main-key") == 1 && hits("/users/gts") == 1,
       "gts key document: key then owner fetched");

    /* A stub actor at the key URL whose id is the actor: refetched by id. */
    snprintf(kid, sizeof(kid), "%s", url("/users/stub/main-key"));
    serve("/users/stub/main-key", 200, "application/activity+json",
          actor_doc("/users/stub", "Person", kids, pems, 1));
    serve("/users/stub", 200, "application/activity+json",
          actor_doc("/users/stub", "Person", kids, pems, 1));
    lookup(r, kid, 0, &lr);
    is_int(lr.result, REMOTE_OK, "gts stub actor: ok");
    is_str(lr.actor, url("/users/stub"), "gts stub actor: actor");
    ok(hits("/users/stub/main-key") == 1 && hits("/users/stub") == 1,
       "gts stub actor: refetched by id");

    /* An owner that does not list the key. */
    snprintf(kid, sizeof(kid), "%s", url("/users/gts/other-key"));
    k = json_object_new_object();
    json_object_object_add(k, "id", json_object_new_string(kid));
    json_object_object_add(k, "owner", json_object_new_string(url("/users/gts")));
    json_object_object_add(k, "publicKeyPem", json_object_new_string(pem_b));
    serve("/users/gts/other-key", 200, "application/activity+json",
          strdup(json_object_to_json_string(k)));
    json_object_put(k);
    lookup(r, kid, 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "key document whose owner does not list it: invalid");

    /* An owner on another origin. */
    snprintf(kid, sizeof(kid), "%s", url("/keys/foreign"));
    k = json_object_new_object();
    json_object_object_add(k, "id", json_object_new_string(kid));
    json_object_object_add(k, "owner", json_object_new_string("https://elsewhere.example/u/x"));
    json_object_object_add(k, "publicKeyPem", json_object_new_string(pem_b));
    serve("/keys/foreign", 200, "application/activity+json", strdup(json_object_to_json_string(k)));
    json_object_put(k);
    lookup(r, kid, 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "key document with a foreign owner: invalid");
    free(lr.pem);
}

static void
test_key_array(struct remote *r)
{
    struct lres lr = { 0 };
    char k1[256], k2[256];
    const char *kids[2] = { k1, k2 };
    const char *pems[2] = { pem_b, pem_a };

    snprintf(k1, sizeof(k1), "%s", url("/users/arr#other"));
    snprintf(k2, sizeof(k2), "%s", url("/users/arr#main-key"));
    serve("/users/arr", 200, "application/activity+json",
          actor_doc("/users/arr", "Person", kids, pems, 2));
    lookup(r, k2, 0, &lr);
    is_int(lr.result, REMOTE_OK, "publicKey array: ok");
    is_str(lr.pem, pem_a, "publicKey array: the entry whose id matches");
    is_str(lr.kid, k2, "publicKey array: key id");
    lookup(r, url("/users/arr#nope"), 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "publicKey array without the key: invalid");
    free(lr.pem);
}

static void
test_refusals(struct remote *r)
{
    struct lres lr = { 0 };
    struct json_object *note;

    doc_id = "https://evil.example/users/liar";
    serve("/users/liar", 200, "application/activity+json", masto("/users/liar", pem_a));
    doc_id = NULL;
    lookup(r, url("/users/liar#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "id on another origin: invalid");

    /* Same origin, but the id points elsewhere and that one points back: one refetch only. */
    doc_id = url("/users/pong");
    serve("/users/ping", 200, "application/activity+json", masto("/users/ping", pem_a));
    doc_id = url("/users/ping");
    serve("/users/pong", 200, "application/activity+json", masto("/users/pong", pem_a));
    doc_id = NULL;
    lookup(r, url("/users/ping#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "id mismatch after the by-id refetch: invalid");
    ok(hits("/users/ping") == 1 && hits("/users/pong") == 1, "id mismatch: two requests, no loop");

    serve("/notes/1", 200, "application/activity+json", masto("/notes/1", pem_a));
    lookup(r, url("/notes/1#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_OK, "sanity: the same document as a Person is fine");
    {
        const char *kids[1];
        const char *pems[1] = { pem_a };
        char kid[256];

        snprintf(kid, sizeof(kid), "%s", url("/notes/2#main-key"));
        kids[0] = kid;
        serve("/notes/2", 200, "application/activity+json",
              actor_doc("/notes/2", "Note", kids, pems, 1));
        lookup(r, kid, 0, &lr);
        is_int(lr.result, REMOTE_INVALID, "type Note: invalid");
    }

    note = json_object_new_object();
    json_object_object_add(note, "id", json_object_new_string(url("/users/noinbox")));
    json_object_object_add(note, "type", json_object_new_string("Person"));
    serve("/users/noinbox", 200, "application/activity+json",
          strdup(json_object_to_json_string(note)));
    json_object_put(note);
    lookup(r, url("/users/noinbox"), 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "actor without a key or an inbox: invalid");

    serve("/users/html", 200, "text/html", masto("/users/html", pem_a));
    lookup(r, url("/users/html#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "text/html: invalid");
    serve("/users/json", 200, "application/json; charset=utf-8", masto("/users/json", pem_a));
    lookup(r, url("/users/json#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_OK, "application/json: accepted");

    serve("/users/missing", 404, "text/plain", strdup("no"));
    lookup(r, url("/users/missing#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_NOT_FOUND, "404: not_found");
    serve("/users/gone", 410, "application/activity+json", strdup("{}"));
    lookup(r, url("/users/gone#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_GONE, "410: gone (only a 410 lets an unsigned Delete through)");
    serve("/users/broken", 500, "text/plain", strdup("oops"));
    lookup(r, url("/users/broken#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_UNREACHABLE, "500: unreachable");

    /* A redirect to another origin serving our id: the answering origin is not the id's. */
    serve("/users/hop", 302, "", NULL);
    snprintf(route("/users/hop")->location, sizeof(route("/users/hop")->location),
             "http://localhost:%d/users/hop-target", port);
    serve("/users/hop-target", 200, "application/activity+json", masto("/users/hop", pem_a));
    lookup(r, url("/users/hop#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "redirect to another origin: invalid");
    is_int(hits("/users/hop-target"), 1, "redirect to another origin: followed, then refused");

    lr.sync = 0;
    lookup(r, "acct:alice@example.com", 0, &lr);
    ok(lr.calls == 1 && lr.result == REMOTE_INVALID && !lr.sync,
       "acct: keyId: invalid, answered from the loop");
    lookup(r, NULL, 0, &lr);
    ok(lr.calls == 1 && lr.result == REMOTE_INVALID && !lr.sync, "NULL keyId: invalid");
    free(lr.pem);
}

static void
test_sizes(struct remote *r)
{
    struct lres lr = { 0 };
    char *big = malloc(300 * 1024), *deep = malloc(4096);
    size_t n = 0;
    int i;

    n += (size_t)snprintf(big, 300 * 1024, "{\"id\":\"%s\",\"x\":\"", url("/users/big"));
    memset(big + n, 'a', 200 * 1024);
    n += 200 * 1024;
    snprintf(big + n, 300 * 1024 - n, "\"}");
    serve("/users/big", 200, "application/activity+json", big);
    lookup(r, url("/users/big#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "body over the client's cap: invalid");

    n = (size_t)snprintf(deep, 4096, "{\"id\":\"%s\",\"x\":", url("/users/deep"));
    for (i = 0; i < 100; i++)
        deep[n++] = '[';
    for (i = 0; i < 100; i++)
        deep[n++] = ']';
    snprintf(deep + n, 4096 - n, "}");
    serve("/users/deep", 200, "application/activity+json", deep);
    lookup(r, url("/users/deep#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "JSON nested 100 deep: invalid");

    serve("/users/trail", 200, "application/activity+json", strdup("{\"id\":1} {}"));
    lookup(r, url("/users/trail#main-key"), 0, &lr);
    is_int(lr.result, REMOTE_INVALID, "trailing data after the object: invalid");
    free(lr.pem);
}

static void
test_unreachable(struct remote *r, struct remote *strict)
{
    struct lres lr = { 0 };
    char down[128];
    int before = hits("/users/alice");

    snprintf(down, sizeof(down), "http://127.0.0.1:%d/users/x#main-key", closed_port());
    lookup(r, down, 0, &lr);
    is_int(lr.result, REMOTE_UNREACHABLE, "server down: unreachable");

    /* Not in the cache for this key id form, so it must go to the network, and may not. */
    lookup(strict, url("/users/alice#other-key"), 0, &lr);
    is_int(lr.result, REMOTE_REFUSED, "loopback without allow_loopback: refused");
    is_int(hits("/users/alice"), before, "refused: no request reached the server");
    free(lr.pem);
}

static void
test_refresh(struct remote *r, struct remote *r2)
{
    struct lres lr = { 0 };
    char kid[256];

    snprintf(kid, sizeof(kid), "%s", url("/users/alice#main-key")); /* url() buffers rotate */
    /* The key changes at the server; alice was fetched a moment ago with pem_b. */
    serve("/users/alice", 200, "application/activity+json", masto("/users/alice", pem_a));
    lookup(r, kid, 1, &lr);
    ok(lr.result == REMOTE_OK && lr.from_cache == 1, "force within the floor: the cache answers");
    is_str(lr.pem, pem_b, "force within the floor: old pem");
    is_int(hits("/users/alice"), 1, "force within the floor: no request");

    /* A minute later (another process's view: r2 has no memory of the fetch). */
    ok(sql_is("UPDATE remote_actors SET fetched_at = now() - interval '2 minutes' "
              "WHERE uri = $1 RETURNING 1",
              url("/users/alice"), "1"),
       "row aged by two minutes");
    lookup(r2, kid, 1, &lr);
    ok(lr.result == REMOTE_OK && lr.from_cache == 0, "force after the floor: refetched");
    is_str(lr.pem, pem_a, "force after the floor: new pem");
    is_int(hits("/users/alice"), 2, "force after the floor: one request");
    ok(sql_is("SELECT public_key_pem FROM remote_actors WHERE uri = $1", url("/users/alice"),
              pem_a),
       "force after the floor: row updated");

    /* Even when the database says the row is old, the same process waits out the floor. */
    free(sql_value("UPDATE remote_actors SET fetched_at = now() - interval '2 minutes' "
                   "WHERE uri = $1 RETURNING 1",
                   url("/users/alice")));
    lookup(r2, kid, 1, &lr);
    ok(lr.result == REMOTE_OK && lr.from_cache == 1, "second force in the floor: cache");
    is_int(hits("/users/alice"), 2, "second force in the floor: no request");

    /* Past the TTL, a plain lookup refetches. */
    free(sql_value("UPDATE remote_actors SET fetched_at = now() - interval '2 days' "
                   "WHERE uri = $1 RETURNING 1",
                   url("/users/alice")));
    lookup(r, kid, 0, &lr);
    ok(lr.result == REMOTE_OK && lr.from_cache == 0, "stale row: refetched without force");
    is_int(hits("/users/alice"), 3, "stale row: one request");
    free(lr.pem);
}

/* A row past its TTL while the server fails: kept for plain lookups, not for forced ones. */
static void
test_stale(struct db *db, struct httpc *h)
{
    struct remote *r3 = remote_new(pgt_base, db, h, &ropts),
                  *r4 = remote_new(pgt_base, db, h, &ropts);
    struct lres lr = { 0 };
    char kid[256];
    int before = hits("/users/gts/main-key");

    snprintf(kid, sizeof(kid), "%s", url("/users/gts/main-key"));
    ok(sql_is("UPDATE remote_actors SET fetched_at = now() - interval '2 days' "
              "WHERE uri = $1 RETURNING 1",
              url("/users/gts"), "1"),
       "stale: gts row aged by two days");
    route("/users/gts/main-key")->status = 503;
    lookup(r3, kid, 0, &lr);
    ok(lr.result == REMOTE_OK && lr.from_cache == 1, "stale row, server failing: the old key");
    is_str(lr.pem, pem_a, "stale row, server failing: pem");
    is_int(hits("/users/gts/main-key"), before + 1, "stale row, server failing: it was asked");
    lookup(r4, kid, 1, &lr);
    is_int(lr.result, REMOTE_UNREACHABLE, "stale row, server failing, forced: unreachable");
    route("/users/gts/main-key")->status = 200;
    remote_free(r3);
    remote_free(r4);
    free(lr.pem);
}

static void
test_concurrent(struct remote *r)
{
    struct lres lr[6];
    int i, all_ok = 1, any_sync = 0;

    memset(lr, 0, sizeof(lr));
    serve("/users/conc", 200, "application/activity+json", masto("/users/conc", pem_a));
    done_count = 0;
    for (i = 0; i < 6; i++)
        start(r, url("/users/conc#main-key"), i == 3, &lr[i]);
    wait_done(6, 5000);
    for (i = 0; i < 6; i++) {
        all_ok &= lr[i].calls == 1 && lr[i].result == REMOTE_OK && lr[i].pem != NULL &&
                  strcmp(lr[i].pem, pem_a) == 0;
        any_sync |= lr[i].sync;
        free(lr[i].pem);
    }
    ok(all_ok, "six concurrent lookups: each answered once with the key");
    ok(!any_sync, "six concurrent lookups: none synchronous");
    is_int(hits("/users/conc"), 1, "six concurrent lookups: one request");
}

static void
forget_cb(int rc, void *arg)
{
    int *out = arg;

    *out = rc + 100;
    done_count++;
    event_base_loopbreak(pgt_base);
}

static void
test_forget_and_free(struct remote *r, struct db *db, struct httpc *h)
{
    struct lres lr = { 0 };
    struct remote *tmp;
    int rc = 0;

    done_count = 0;
    remote_actor_forget(r, url("/users/alice"), forget_cb, &rc);
    wait_done(1, 5000);
    is_int(rc, 100, "forget: done");
    ok(sql_is("SELECT count(*) FROM remote_actors WHERE uri = $1", url("/users/alice"), "0"),
       "forget: row gone");
    lookup(r, url("/users/alice#main-key"), 0, &lr);
    ok(lr.result == REMOTE_OK && lr.from_cache == 0, "after forget: fetched again");

    /* Freed while a lookup waits on the database: answered inside remote_free, once. */
    tmp = remote_new(pgt_base, db, h, NULL);
    done_count = 0;
    start(tmp, url("/users/alice#main-key"), 0, &lr);
    remote_free(tmp);
    ok(lr.calls == 1 && lr.result == REMOTE_UNREACHABLE, "free: pending lookup answered");
    /* Let the orphaned query come back and free itself (ASan checks that). */
    wait_done(1 << 30, 300);
    is_int(lr.calls, 1, "free: never answered twice");

    tmp = remote_new(pgt_base, NULL, h, NULL);
    done_count = 0;
    start(tmp, url("/users/alice#main-key"), 0, &lr);
    remote_free(tmp);
    wait_done(1 << 30, 300);
    ok(lr.calls == 1 && lr.result == REMOTE_UNREACHABLE, "free during a fetch: answered once");
    free(lr.pem);
}

static void
fatal_cb(const char *why, void *arg)
{
    (void)arg;
    printf("Bail out! database: %s\n", why);
    exit(1);
}

static long
ms_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Keys on hosts that never answer (threats.md H1): a lookup answers at its deadline, its
 * host is then skipped, the callers waiting on one host are capped, a stale row answers
 * instead of the error, and remote_free leaves nothing armed behind a fetch that runs on.
 * The client's total timeout (3 s) is far beyond the deadlines here.
 */
static void
test_deadline(struct db *db, struct httpc *h)
{
    struct remote_options o = ropts;
    struct remote *r;
    struct lres lr[3] = { { 0 } };
    struct timespec t0;
    char kid[3][160], sql[2048];
    int fd1, fd2, fd3, p1 = tarpit(&fd1), p2 = tarpit(&fd2), p3 = tarpit(&fd3);
    long ms;

    if (!ok(p1 > 0 && p2 > 0 && p3 > 0, "deadline: three tarpits listen"))
        return;
    o.deadline_ms = 300;
    o.max_per_host = 2;
    r = remote_new(pgt_base, db, h, &o);

    snprintf(kid[0], sizeof(kid[0]), "http://127.0.0.1:%d/users/a#main-key", p1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lookup(r, kid[0], 0, &lr[0]);
    ms = ms_since(&t0);
    is_int(lr[0].result, REMOTE_UNREACHABLE, "deadline: unreachable");
    ok(ms >= 250 && ms < 2000, "deadline: answered at the deadline (%ld ms)", ms);
    snprintf(kid[1], sizeof(kid[1]), "http://127.0.0.1:%d/users/b#main-key", p1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lookup(r, kid[1], 0, &lr[1]);
    ms = ms_since(&t0);
    ok(lr[1].result == REMOTE_UNREACHABLE && ms < 200,
       "back-off: another key of the host that timed out fails at once (%ld ms)", ms);

    /* Two callers may wait on the network for keys of one host; a third is refused. */
    done_count = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(kid[i], sizeof(kid[i]), "http://127.0.0.1:%d/users/c%d#main-key", p2, i);
        start(r, kid[i], 0, &lr[i]);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    wait_done(1, 2000);
    ms = ms_since(&t0);
    /* The cache answers in any order: whichever reaches the network third is refused. */
    ok(done_count == 1 && ms < 200, "per-host cap: one caller is answered at once (%ld ms)", ms);
    wait_done(3, 2000);
    ms = ms_since(&t0);
    ok(done_count == 3 && ms >= 250 && lr[0].result == REMOTE_UNREACHABLE &&
           lr[1].result == REMOTE_UNREACHABLE && lr[2].result == REMOTE_UNREACHABLE,
       "per-host cap: the two others at the deadline (%ld ms)", ms);

    /* A row past its TTL whose host hangs: the old key, at the deadline. */
    snprintf(kid[0], sizeof(kid[0]), "http://127.0.0.1:%d/users/old#main-key", p3);
    snprintf(sql, sizeof(sql),
             "INSERT INTO remote_actors VALUES ('http://127.0.0.1:%d/users/old', $1, '%s', "
             "'http://127.0.0.1:%d/inbox', NULL, 'Person', 'old', now() - interval '3 days') "
             "RETURNING 1",
             p3, pem_a, p3);
    ok(sql_is(sql, kid[0], "1"), "deadline: a stale row on a hanging host");
    lookup(r, kid[0], 0, &lr[0]);
    ok(lr[0].result == REMOTE_OK && lr[0].from_cache == 1, "deadline: the stale key answers");
    remote_free(r);

    /* Freed while a fetch hangs: answered once, and no deadline fires on the orphan. */
    r = remote_new(pgt_base, db, h, &o);
    snprintf(kid[0], sizeof(kid[0]), "http://127.0.0.1:%d/users/orphan#main-key", p3);
    done_count = 0;
    start(r, kid[0], 0, &lr[0]);
    wait_done(1 << 30, 100); /* the cache answers; the fetch starts */
    remote_free(r);
    wait_done(1 << 30, 600);
    ok(lr[0].calls == 1 && lr[0].result == REMOTE_UNREACHABLE, "free mid-fetch: answered once");
    /* The fetches the deadline released end with the client's timeout and free themselves. */
    wait_done(1 << 30, 3500);
    close(fd1);
    close(fd2);
    close(fd3);
    for (int i = 0; i < 3; i++)
        free(lr[i].pem);
}

static struct httpc *
client(int loopback)
{
    struct httpc_options o;
    char err[256];
    struct httpc *h;

    memset(&o, 0, sizeof(o));
    o.user_agent = "passerelle/test";
    o.total_timeout_ms = 3000;
    o.connect_timeout_ms = 1000;
    o.max_response_bytes = 64 * 1024;
    o.allow_loopback = loopback;
    h = httpc_new(pgt_base, &o, err, sizeof(err));
    if (h == NULL)
        printf("Bail out! httpc_new: %s\n", err);
    return h;
}

int
main(void)
{
    struct remote_options ro;
    struct remote *r, *r2, *strict;
    struct evhttp *srv;
    struct evhttp_bound_socket *bs;
    struct httpc *h, *hs;
    struct db *db;
    EVP_PKEY *key;
    FILE *fp;
    int i;

    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);

    fp = fopen("tests/data/httpsig/key-a.pem", "r");
    key = fp != NULL ? PEM_read_PrivateKey(fp, NULL, NULL, NULL) : NULL;
    if (fp != NULL)
        fclose(fp);
    our_pub_pem = read_file("tests/data/httpsig/key-a.pub.pem");
    pem_a = our_pub_pem;
    pem_b = read_file("tests/data/httpsig/key-b.pub.pem");
    if (key == NULL || our_pub_pem == NULL || pem_b == NULL) {
        printf("Bail out! test keys missing (run from the top of the tree)\n");
        return 1;
    }

    pgt_setup("remote");
    srv = evhttp_new(pgt_base);
    evhttp_set_gencb(srv, server_cb, NULL);
    bs = evhttp_bind_socket_with_handle(srv, "127.0.0.1", 0);
    if (!ok(bs != NULL, "server listens on 127.0.0.1"))
        return done_testing();
    port = bound_port(evhttp_bound_socket_get_fd(bs));
    snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", port);

    db = db_new(pgt_base, pgt_conninfo, 2, migrate_latest(), fatal_cb, NULL);
    h = client(1);
    hs = client(0);
    memset(&ro, 0, sizeof(ro));
    ro.key = key;
    ro.key_id = OUR_KEY_ID;
    ropts = ro;
    r = remote_new(pgt_base, db, h, &ro);
    r2 = remote_new(pgt_base, db, h, &ro);
    strict = remote_new(pgt_base, db, hs, &ro);

    test_mastodon(r);
    test_fresh(r);
    test_gts(r);
    test_key_array(r);
    test_refusals(r);
    test_sizes(r);
    test_unreachable(r, strict);
    test_refresh(r, r2);
    test_stale(db, h);
    test_concurrent(r);
    test_forget_and_free(r, db, h);
    test_deadline(db, h);
    is_int(sig_bad, 0, "every request the server saw was signed and verified");
    is_int(sig_wrong_keyid, 0, "every signature used our keyId");
    ok(sig_ok > 20, "signed requests counted (%d)", sig_ok);

    remote_free(strict);
    remote_free(r2);
    remote_free(r);
    httpc_free(hs);
    httpc_free(h);
    db_free(db);
    evhttp_free(srv);
    pgt_teardown();
    libevent_global_shutdown();
    EVP_PKEY_free(key);
    for (i = 0; i < nroutes; i++)
        free(routes[i].body);
    free(our_pub_pem);
    free(pem_b);
    return done_testing();
}
