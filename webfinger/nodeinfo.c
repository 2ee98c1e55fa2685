/* NodeInfo 2.0 and 2.1: the discovery document and the server description other software reads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "reply.h"
#include "log.h"
#include "nodeinfo.h"
#include "xmalloc.h"

#ifndef PASSERELLE_VERSION
#error "PASSERELLE_VERSION comes from the Makefile (-DPASSERELLE_VERSION=...)"
#endif

#define NODEINFO_SCHEMA "http://nodeinfo.diaspora.software/ns/schema/"

/* One pending /nodeinfo/2.x request while its count runs; owned by the query callback. */
struct nodeinfo_req {
    struct app *app;
    struct evhttp_request *req;
    const char *version; /* "2.0" or "2.1" */
};

static void nodeinfo_discovery(struct app *app, struct evhttp_request *req);
static void nodeinfo_count_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static struct json_object *nodeinfo_doc_new(const struct app *app, const char *version,
                                            long long users);
static const char *nodeinfo_or_empty(const char *s);

void
nodeinfo_get(struct app *app, struct evhttp_request *req, const char *path)
{
    struct nodeinfo_req *nr;
    const char *version;

    evhttp_add_header(evhttp_request_get_output_headers(req), "Access-Control-Allow-Origin", "*");
    if (strcmp(path, "/.well-known/nodeinfo") == 0) {
        nodeinfo_discovery(app, req);
        return;
    }
    if (strcmp(path, "/nodeinfo/2.0") == 0)
        version = "2.0";
    else if (strcmp(path, "/nodeinfo/2.1") == 0)
        version = "2.1";
    else {
        reply_fail(req, REPLY_ERR_NOT_FOUND, "no such NodeInfo document");
        return;
    }
    if (app->db == NULL) {
        reply_fail(req, REPLY_ERR_UNAVAILABLE, "database unavailable");
        return;
    }
    nr = xcalloc(1, sizeof(*nr));
    nr->app = app;
    nr->req = req;
    nr->version = version;
    /* The request stays pending (libevent keeps it) until the callback answers it. */
    db_query(app->db, "SELECT count(*) FROM members", 0, NULL, nodeinfo_count_cb, nr);
}

static void
nodeinfo_discovery(struct app *app, struct evhttp_request *req)
{
    static const char *const versions[] = { "2.0", "2.1" };
    struct json_object *doc = json_object_new_object();
    struct json_object *links = json_object_new_array();

    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        struct json_object *link = json_object_new_object();
        char *rel = xasprintf(NODEINFO_SCHEMA "%s", versions[i]);
        char *href = xasprintf("%s/nodeinfo/%s", app->cfg->base_url, versions[i]);

        json_object_object_add(link, "rel", json_object_new_string(rel));
        json_object_object_add(link, "href", json_object_new_string(href));
        json_object_array_add(links, link);
        free(rel);
        free(href);
    }
    json_object_object_add(doc, "links", links);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
                      "public, max-age=86400");
    reply_json(req, 200, "application/json", doc);
}

static void
nodeinfo_count_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct nodeinfo_req *nr = arg;
    struct evhttp_request *req = nr->req;
    long long users = -1;
    char *ctype, *end = NULL;

    if (outcome == DB_OK) {
        if (PQntuples(res) == 1 && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0)) {
            const char *v = PQgetvalue(res, 0, 0);

            errno = 0;
            users = strtoll(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || users < 0)
                users = -1;
        }
        PQclear(res);
    }
    if (outcome == DB_UNAVAILABLE) {
        reply_fail(req, REPLY_ERR_UNAVAILABLE, "database unavailable");
    } else if (outcome != DB_OK || users < 0) {
        log_error("nodeinfo_count", "error=%s", log_q(err != NULL ? err : "bad count"));
        reply_fail(req, REPLY_ERR_INTERNAL, "cannot count users");
    } else {
        ctype = xasprintf("application/json; profile=\"" NODEINFO_SCHEMA "%s#\"", nr->version);
        /* Counts move slowly; a few minutes keeps crawlers off the database. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
                          "public, max-age=300");
        reply_json(req, 200, ctype, nodeinfo_doc_new(nr->app, nr->version, users));
        free(ctype);
    }
    free(nr);
}

static struct json_object *
nodeinfo_doc_new(const struct app *app, const char *version, long long users)
{
    const struct config *cfg = app->cfg;
    struct json_object *doc = json_object_new_object();
    struct json_object *software = json_object_new_object();
    struct json_object *protocols = json_object_new_array();
    struct json_object *services = json_object_new_object();
    struct json_object *usage = json_object_new_object();
    struct json_object *uobj = json_object_new_object();
    struct json_object *meta = json_object_new_object();

    json_object_object_add(doc, "version", json_object_new_string(version));
    /* software.name must stay stable: relays and Misskey detect software by it. */
    json_object_object_add(software, "name", json_object_new_string("passerelle"));
    json_object_object_add(software, "version", json_object_new_string(PASSERELLE_VERSION));
    json_object_object_add(doc, "software", software);
    json_object_array_add(protocols, json_object_new_string("activitypub"));
    json_object_object_add(doc, "protocols", protocols);
    json_object_object_add(services, "inbound", json_object_new_array());
    json_object_object_add(services, "outbound", json_object_new_array());
    json_object_object_add(doc, "services", services);
    json_object_object_add(doc, "openRegistrations", json_object_new_boolean(0));
    /*
     * Users are the members: people who followed the bridge account and stay
     * connected through it. There are no logins to measure activity by, so a
     * member counts as active for as long as they are a member.
     */
    json_object_object_add(uobj, "total", json_object_new_int64(users));
    json_object_object_add(uobj, "activeMonth", json_object_new_int64(users));
    json_object_object_add(uobj, "activeHalfyear", json_object_new_int64(users));
    json_object_object_add(usage, "users", uobj);
    /* The bridge posts only private messages to members; nothing public is local. */
    json_object_object_add(usage, "localPosts", json_object_new_int64(0));
    json_object_object_add(doc, "usage", usage);
    json_object_object_add(meta, "nodeName",
                           json_object_new_string(nodeinfo_or_empty(cfg->instance_name)));
    json_object_object_add(meta, "nodeDescription",
                           json_object_new_string(nodeinfo_or_empty(cfg->instance_description)));
    json_object_object_add(doc, "metadata", meta);
    return doc;
}

static const char *
nodeinfo_or_empty(const char *s)
{
    return s != NULL ? s : "";
}
