/* Unit tests for the route table: each path to its handler; 404, and 405 with Allow, on the wire.
 */
#include <signal.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>

#include "actor.h"
#include "app.h"
#include "assets.h"
#include "config.h"
#include "export.h"
#include "hostmeta.h"
#include "httpd.h"
#include "inbox.h"
#include "linkcode.h"
#include "linkpage.h"
#include "log.h"
#include "nodeinfo.h"
#include "oauth.h"
#include "routes.h"
#include "signin.h"
#include "standin.h"
#include "status.h"
#include "tap.h"
#include "webfinger.h"
#include "xverify.h"

#define GET    EVHTTP_REQ_GET
#define HEAD   EVHTTP_REQ_HEAD
#define POST   EVHTTP_REQ_POST
#define M_GET  (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)
#define M_POST EVHTTP_REQ_POST

struct found_case {
    int method;
    const char *path;
    reply_handler_fn want; /* NULL: no handler */
    int allowed;           /* without a handler: the methods the path takes */
    const char *name;
};

static const struct found_case found[] = {
    { GET, "/", status_get, M_GET, "status_get" },
    { HEAD, "/", status_get, M_GET, "status_get" },
    { GET, "/metrics", status_metrics, M_GET, "status_metrics" },
    { GET, "/actor", actor_get_relay, M_GET | M_POST, "actor_get_relay" },
    { GET, "/actor/outbox", actor_get_relay, M_GET, "actor_get_relay" },
    { POST, "/actor", inbox_post, M_GET | M_POST, "inbox_post" },
    { POST, "/inbox", inbox_post, M_POST, "inbox_post" },
    { GET, "/.well-known/webfinger", webfinger_get, M_GET, "webfinger_get" },
    { GET, "/.well-known/host-meta", hostmeta_get, M_GET, "hostmeta_get" },
    { GET, "/.well-known/host-meta.json", hostmeta_get, M_GET, "hostmeta_get" },
    { GET, "/.well-known/nodeinfo", nodeinfo_get, M_GET, "nodeinfo_get" },
    { GET, "/nodeinfo/2.0", nodeinfo_get, M_GET, "nodeinfo_get" },
    { GET, "/nodeinfo/2.1", nodeinfo_get, M_GET, "nodeinfo_get" },
    { GET, "/link", assets_page, M_GET, "assets_page" },
    { GET, "/link/assets/app.js", assets_get, M_GET, "assets_get" },
    { GET, "/link/state", linkpage_state, M_GET, "linkpage_state" },
    { POST, REPLY_UPLOAD_PATH, linkpage_archive, M_POST, "linkpage_archive" },
    { POST, "/link/consents", linkpage_consents, M_POST, "linkpage_consents" },
    { POST, "/link/oauth/start", oauth_start, M_POST, "oauth_start" },
    /* The grant's and the web sign-in's: one registered redirect, the state says whose. */
    { GET, OAUTH_CALLBACK_PATH, routes_oauth_callback, M_GET, "routes_oauth_callback" },
    { POST, "/signin", signin_post, M_POST, "signin_post" },
    { POST, "/link/oauth/revoke", oauth_revoke, M_POST, "oauth_revoke" },
    { POST, "/link/x/start", xverify_start, M_POST, "xverify_start" },
    { GET, XVERIFY_CALLBACK_PATH, xverify_callback, M_GET, "xverify_callback" },
    /* /link/<one-time code>: exactly 32 lowercase hex digits; GET shows it, POST spends it. */
    { GET, "/link/0123456789abcdef0123456789abcdef", linkcode_get, M_GET, "linkcode_get" },
    { HEAD, "/link/0123456789abcdef0123456789abcdef", linkcode_get, M_GET, "linkcode_get" },
    { POST, "/link/0123456789abcdef0123456789abcdef", linkcode_post, M_POST, "linkcode_post" },
    { GET, "/x/12345", standin_get, M_GET, "standin_get" },
    { GET, "/me/following.csv", export_following, M_GET, "export_following" },
    { GET, "/users/passerelle", actor_get_bridge, M_GET, "actor_get_bridge" },
    { GET, "/users/passerelle/outbox", actor_get_bridge, M_GET, "actor_get_bridge" },
    { POST, "/users/passerelle/inbox", inbox_post, M_POST, "inbox_post" },
    /* Known paths, wrong method: no handler, and the methods the path takes. */
    { POST, "/", NULL, M_GET, "405" },
    { GET, "/signin", NULL, M_POST, "405: the start page's form posts there" },
    { GET, "/inbox", NULL, M_POST, "405" },
    { EVHTTP_REQ_DELETE, "/actor", NULL, M_GET | M_POST, "405" },
    { POST, "/actor/outbox", NULL, M_GET, "405" },
    { EVHTTP_REQ_PUT, REPLY_UPLOAD_PATH, NULL, M_POST, "405" },
    { GET, REPLY_UPLOAD_PATH, NULL, M_POST, "405: the upload path is no code" },
    { POST, "/link/state", NULL, M_GET, "405: /link/state is no code" },
    { EVHTTP_REQ_PUT, "/link/0123456789abcdef0123456789abcdef", NULL, M_GET | M_POST, "405" },
    { POST, "/users/passerelle", NULL, M_GET, "405" },
    { GET, "/users/passerelle/inbox", NULL, M_POST, "405" },
    /* Unknown paths. */
    { GET, "/nope", NULL, 0, "404" },
    { GET, "/inbox/x", NULL, 0, "404: /inbox is no tree" },
    { GET, "/actors", NULL, 0, "404: /actor matches whole segments" },
    { GET, "/users/passerelle2", NULL, 0, "404: another user" },
    { GET, "/users/other", NULL, 0, "404: another user" },
    { GET, "/me", NULL, 0, "404" },
    { GET, "/link/abcdef0123", NULL, 0, "404: too short for a code" },
    { GET, "/link/0123456789ABCDEF0123456789abcdef", NULL, 0, "404: a code has no capitals" },
    { POST, "/link/0123456789abcdef0123456789abcdef0", NULL, 0, "404: too long for a code" },
    { GET, "/link/0123456789abcdef0123456789abcdef/x", NULL, 0, "404: nothing below a code" },
};

static struct event_base *base;

struct answer {
    int status;
    char allow[64];
};

static void
answer_cb(struct evhttp_request *req, void *arg)
{
    struct answer *a = arg;
    const char *allow;

    if (req != NULL) {
        a->status = evhttp_request_get_response_code(req);
        allow = evhttp_find_header(evhttp_request_get_input_headers(req), "Allow");
        snprintf(a->allow, sizeof(a->allow), "%s", allow ? allow : "");
    }
    event_base_loopbreak(base);
}

/* One request through the listener and routes_dispatch, with libevent's client. */
static void
ask(int port, enum evhttp_cmd_type method, const char *path, struct answer *a)
{
    struct evhttp_connection *c = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    struct evhttp_request *req = evhttp_request_new(answer_cb, a);

    memset(a, 0, sizeof(*a));
    evhttp_connection_set_timeout(c, 5);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    evhttp_make_request(c, req, method, path);
    event_base_dispatch(base);
    evhttp_connection_free(c);
}

struct wire_case {
    enum evhttp_cmd_type method;
    const char *path;
    int status;
    const char *allow;
};

static const struct wire_case wire[] = {
    { EVHTTP_REQ_PUT, "/", 405, "GET, HEAD" },
    { EVHTTP_REQ_GET, "/inbox", 405, "POST" },
    { EVHTTP_REQ_DELETE, "/actor", 405, "GET, HEAD, POST" },
    { EVHTTP_REQ_POST, "/actor/outbox", 405, "GET, HEAD" },
    { EVHTTP_REQ_GET, "/users/passerelle/inbox", 405, "POST" },
    { EVHTTP_REQ_POST, "/users/passerelle", 405, "GET, HEAD" },
    { EVHTTP_REQ_GET, "/link/archive", 405, "POST" },
    { EVHTTP_REQ_GET, "/nope", 404, "" },
    { EVHTTP_REQ_POST, "/users/someone/inbox", 404, "" },
};

int
main(void)
{
    struct config cfg;
    struct app app;
    struct httpd *h;
    char err[256];

    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);
    config_defaults(&cfg);
    ok(config_set(&cfg, "listen_addr", "127.0.0.1", err, sizeof(err)) == 0 &&
           config_set(&cfg, "listen_port", "0", err, sizeof(err)) == 0,
       "a configuration on loopback");
    is_str(cfg.bridge_username, "passerelle", "the bridge's default name");
    memset(&app, 0, sizeof(app));
    app.cfg = &cfg;

    for (size_t i = 0; i < sizeof(found) / sizeof(found[0]); i++) {
        int allowed = -1;
        reply_handler_fn fn = routes_find(&app, found[i].method, found[i].path, &allowed);

        ok(fn == found[i].want, "%s %s -> %s", found[i].method == POST ? "POST" : "GET",
           found[i].path, found[i].name);
        if (found[i].want == NULL)
            is_int(allowed, found[i].allowed, "%s takes the right methods", found[i].path);
    }

    base = event_base_new();
    app.base = base;
    h = httpd_new(&app, routes_dispatch, &app, err, sizeof(err));
    if (ok(h != NULL, "the listener starts with routes_dispatch")) {
        for (size_t i = 0; i < sizeof(wire) / sizeof(wire[0]); i++) {
            struct answer a;

            ask(httpd_port(h), wire[i].method, wire[i].path, &a);
            is_int(a.status, wire[i].status, "%s answers %d", wire[i].path, wire[i].status);
            is_str(a.allow, wire[i].allow, "%s: Allow is \"%s\"", wire[i].path, wire[i].allow);
        }
        is_int(httpd_in_flight(h), 0, "every request was answered");
    }
    httpd_free(h);
    event_base_free(base);
    config_free(&cfg);
    return done_testing();
}
