/* The route table: method and path to handler; 404 and 405 are answered here. */
#include <string.h>

#include <event2/http.h>

#include "actor.h"
#include "app.h"
#include "assets.h"
#include "atclient.h"
#include "atlink.h"
#include "atsignin.h"
#include "config.h"
#include "contacts.h"
#include "export.h"
#include "hostmeta.h"
#include "reply.h"
#include "inbox.h"
#include "linkcode.h"
#include "linkpage.h"
#include "nodeinfo.h"
#include "oauth.h"
#include "routes.h"
#include "signin.h"
#include "standin.h"
#include "status.h"
#include "token.h"
#include "webfinger.h"
#include "xverify.h"

#define M_GET  (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)
#define M_POST EVHTTP_REQ_POST

enum route_match {
    ROUTE_EXACT, /* the path itself */
    ROUTE_TREE,  /* the path and anything below it ("/actor", "/actor/outbox") */
    ROUTE_CODE,  /* the path, a slash and a one-time code: 32 lowercase hex digits */
};

struct route {
    const char *path;
    enum route_match match;
    int methods;
    reply_handler_fn fn;
};

void
routes_oauth_callback(struct app *app, struct evhttp_request *req, const char *path)
{
    if (signin_owns_callback(req))
        signin_callback(app, req, path);
    else
        oauth_callback(app, req, path);
}

static const struct route routes[] = {
    { "/", ROUTE_EXACT, M_GET, status_get },
    { "/signin", ROUTE_EXACT, M_POST, signin_post },
    { "/metrics", ROUTE_EXACT, M_GET, status_metrics },
    { "/actor", ROUTE_TREE, M_GET, actor_get_relay },
    /* Admins sometimes paste the actor URL instead of the inbox: take the POST there too. */
    { "/actor", ROUTE_EXACT, M_POST, inbox_post },
    { "/inbox", ROUTE_EXACT, M_POST, inbox_post },
    { "/.well-known/webfinger", ROUTE_EXACT, M_GET, webfinger_get },
    { "/.well-known/host-meta", ROUTE_EXACT, M_GET, hostmeta_get },
    { "/.well-known/host-meta.json", ROUTE_EXACT, M_GET, hostmeta_get },
    { "/.well-known/nodeinfo", ROUTE_EXACT, M_GET, nodeinfo_get },
    { "/nodeinfo/2.0", ROUTE_EXACT, M_GET, nodeinfo_get },
    { "/nodeinfo/2.1", ROUTE_EXACT, M_GET, nodeinfo_get },
    { "/link", ROUTE_EXACT, M_GET, assets_page },
    { "/link/assets", ROUTE_TREE, M_GET, assets_get },
    { "/link/state", ROUTE_EXACT, M_GET, linkpage_state },
    { REPLY_UPLOAD_PATH, ROUTE_EXACT, M_POST, linkpage_archive },
    { "/link/consents", ROUTE_EXACT, M_POST, linkpage_consents },
    { "/link/contacts", ROUTE_EXACT, M_GET, contacts_list },
    { "/link/contacts/counts", ROUTE_EXACT, M_GET, contacts_counts },
    { "/link/contacts/ignore", ROUTE_EXACT, M_POST, contacts_ignore },
    { "/link/contacts/restore", ROUTE_EXACT, M_POST, contacts_restore },
    { "/link/contacts/undo", ROUTE_EXACT, M_POST, contacts_undo },
    { "/link/oauth/start", ROUTE_EXACT, M_POST, oauth_start },
    { OAUTH_CALLBACK_PATH, ROUTE_EXACT, M_GET, routes_oauth_callback },
    { "/link/oauth/revoke", ROUTE_EXACT, M_POST, oauth_revoke },
    { "/link/x/start", ROUTE_EXACT, M_POST, xverify_start },
    { XVERIFY_CALLBACK_PATH, ROUTE_EXACT, M_GET, xverify_callback },
    /* /link/<one-time code>: GET shows whose link it is, only the page's POST spends it. */
    { "/link", ROUTE_CODE, M_GET, linkcode_get },
    { "/link", ROUTE_CODE, M_POST, linkcode_post },
    { "/x", ROUTE_TREE, M_GET, standin_get }, /* /x/<x id>: an old X account */
    { "/me/following.csv", ROUTE_EXACT, M_GET, export_following },
    /* passerelle's atproto OAuth client: its client_id is this document's URL. */
    { ATCLIENT_METADATA_PATH, ROUTE_EXACT, M_GET, atclient_metadata_get },
    { "/signin/bluesky/start", ROUTE_EXACT, M_GET, atsignin_start },
    { ATCLIENT_CALLBACK_PATH, ROUTE_EXACT, M_GET, atsignin_callback },
    { "/signin/bluesky/app-password", ROUTE_EXACT, M_GET, atsignin_app_form },
    { "/signin/bluesky/app-password", ROUTE_EXACT, M_POST, atsignin_app_post },
    { "/link/bluesky", ROUTE_EXACT, M_GET, atlink_check },
    { "/link/leave", ROUTE_EXACT, M_POST, atlink_leave },
};

static int
route_matches(const char *pattern, enum route_match match, const char *path)
{
    size_t n = strlen(pattern);

    if (strncmp(path, pattern, n) != 0)
        return 0;
    if (match == ROUTE_CODE)
        return path[n] == '/' && token_is_hex(path + n + 1, 32);
    if (path[n] == '\0')
        return 1;
    return match == ROUTE_TREE && path[n] == '/';
}

/* "/users/<bridge_username>" and below: the name comes from the configuration. */
static int
route_is_bridge(const struct app *app, const char *path)
{
    const char *name = app->cfg->bridge_username;
    size_t n = strlen(name);

    if (strncmp(path, "/users/", 7) != 0 || strncmp(path + 7, name, n) != 0)
        return 0;
    return path[7 + n] == '\0' || path[7 + n] == '/';
}

reply_handler_fn
routes_find(const struct app *app, int method, const char *path, int *allowed)
{
    *allowed = 0;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!route_matches(routes[i].path, routes[i].match, path))
            continue;
        *allowed |= routes[i].methods;
        if (routes[i].methods & method)
            return routes[i].fn;
    }
    if (route_is_bridge(app, path)) {
        int is_inbox = strcmp(path + 7 + strlen(app->cfg->bridge_username), "/inbox") == 0;

        *allowed = is_inbox ? M_POST : M_GET;
        if (method & *allowed)
            return is_inbox ? inbox_post : actor_get_bridge;
    }
    return NULL;
}

void
routes_dispatch(void *arg, struct evhttp_request *req, const char *path)
{
    struct app *app = arg;
    int allowed;
    reply_handler_fn fn = routes_find(app, (int)evhttp_request_get_command(req), path, &allowed);

    if (fn != NULL) {
        fn(app, req, path);
    } else if (allowed != 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          allowed == M_POST         ? "POST"
                          : (allowed & M_POST) != 0 ? "GET, HEAD, POST"
                                                    : "GET, HEAD");
        reply_fail(req, REPLY_ERR_METHOD, "method not allowed");
    } else {
        reply_fail(req, REPLY_ERR_NOT_FOUND, "not found");
    }
}
