/* WebFinger as a client: an address user@host to the ActivityPub actor its server names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "app.h"
#include "config.h"
#include "httpc.h"
#include "log.h"
#include "url.h"
#include "wflookup.h"
#include "xmalloc.h"

#define WFLOOKUP_MAX_BODY  (64 * 1024) /* a JRD is a few hundred bytes; Mastodon's under 2 KiB */
#define WFLOOKUP_MAX_DEPTH 8
#define WFLOOKUP_MAX_HREF  2048

/* The self link's type: ActivityPub's own media type, or JSON-LD with its profile. */
static int
wflookup_ap_type(const char *type)
{
    if (strcasecmp(type, "application/activity+json") == 0)
        return 1;
    return strncasecmp(type, "application/ld+json", 19) == 0 &&
           strstr(type, "https://www.w3.org/ns/activitystreams") != NULL;
}

const char *
wflookup_jrd_self(struct json_object *jrd)
{
    struct json_object *links = NULL;

    if (!json_object_is_type(jrd, json_type_object) ||
        !json_object_object_get_ex(jrd, "links", &links) ||
        !json_object_is_type(links, json_type_array))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(links); i++) {
        struct json_object *l = json_object_array_get_idx(links, i), *rel, *type, *href;
        struct url u;
        char err[64];

        if (!json_object_is_type(l, json_type_object) ||
            !json_object_object_get_ex(l, "rel", &rel) ||
            !json_object_is_type(rel, json_type_string) ||
            strcmp(json_object_get_string(rel), "self") != 0 ||
            !json_object_object_get_ex(l, "type", &type) ||
            !json_object_is_type(type, json_type_string) ||
            !wflookup_ap_type(json_object_get_string(type)) ||
            !json_object_object_get_ex(l, "href", &href) ||
            !json_object_is_type(href, json_type_string) ||
            json_object_get_string_len(href) > WFLOOKUP_MAX_HREF)
            continue;
        if (url_split(json_object_get_string(href), &u, err, sizeof(err)) == 0 &&
            u.fragment == NULL)
            return json_object_get_string(href);
    }
    return NULL;
}

/* One lookup; owns only itself. */
struct wflookup {
    wflookup_fn cb;
    void *arg;
    char host[256];
};

static void
wflookup_done(const struct httpc_response *resp, void *arg)
{
    struct wflookup *w = arg;
    struct json_object *jrd = NULL;
    const char *self = NULL;
    enum wflookup_result r;

    if (resp->error == HTTPC_ERR_REFUSED_ADDRESS) {
        r = WFLOOKUP_REFUSED;
    } else if (resp->error != HTTPC_OK || resp->status >= 500 || resp->status == 429) {
        r = WFLOOKUP_UNREACHABLE;
    } else if (resp->status != 200) {
        r = WFLOOKUP_NOT_FOUND; /* 404 for an unknown account, 410 for a deleted one */
    } else {
        struct json_tokener *tok = json_tokener_new_ex(WFLOOKUP_MAX_DEPTH);

        if (resp->body_len <= WFLOOKUP_MAX_BODY)
            jrd = json_tokener_parse_ex(tok, resp->body, (int)resp->body_len);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(jrd);
            jrd = NULL;
        }
        json_tokener_free(tok);
        self = wflookup_jrd_self(jrd);
        r = self != NULL ? WFLOOKUP_OK : WFLOOKUP_NOT_FOUND;
    }
    log_info("webfinger_lookup", "host=%s result=%s error=%s status=%ld", log_q(w->host),
             wflookup_result_name(r), httpc_error_name(resp->error), resp->status);
    w->cb(r, self, w->arg);
    json_object_put(jrd);
    free(w);
}

const char *
wflookup_result_name(enum wflookup_result r)
{
    switch (r) {
    case WFLOOKUP_OK:
        return "ok";
    case WFLOOKUP_NOT_FOUND:
        return "not_found";
    case WFLOOKUP_UNREACHABLE:
        return "unreachable";
    case WFLOOKUP_REFUSED:
        return "refused";
    case WFLOOKUP_INVALID:
        return "invalid";
    }
    return "invalid";
}

char *
wflookup_url(const struct config *cfg, const char *user, const char *host)
{
    char *resource = xasprintf("acct:%s@%s", user, host);
    char *enc = evhttp_uriencode(resource, -1, 0);
    /* Plain http only where fetches may reach loopback, that is in tests. */
    char *url = xasprintf("%s://%s/.well-known/webfinger?resource=%s",
                          cfg->allow_private_fetch ? "http" : "https", host, enc);
    struct url u;
    char err[64];

    free(resource);
    free(enc);
    if (url_split(url, &u, err, sizeof(err)) < 0 ||
        u.path_len != strlen("/.well-known/webfinger")) {
        free(url);
        return NULL;
    }
    return url;
}

void
wflookup_acct(struct app *app, const char *user, const char *host, wflookup_fn cb, void *arg)
{
    static const char *const headers[1] = { "Accept: application/jrd+json, application/json" };
    char *url = wflookup_url(app->cfg, user, host);
    struct wflookup *w;
    struct httpc_req hr = { 0 };

    if (url == NULL) {
        cb(WFLOOKUP_INVALID, NULL, arg);
        return;
    }
    w = xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->arg = arg;
    snprintf(w->host, sizeof(w->host), "%s", host);
    hr.method = "GET";
    hr.url = url;
    hr.headers = headers;
    hr.nheaders = 1;
    httpc_request(app->httpc, &hr, wflookup_done, w);
    free(url);
}
