/* WebFinger (RFC 7033): parses the resource, finds our actor, answers its JRD. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "actor.h"
#include "app.h"
#include "config.h"
#include "hex.h"
#include "reply.h"
#include "log.h"
#include "standin.h"
#include "url.h"
#include "webfinger.h"
#include "xmalloc.h"

/* Longer than any acct: or actor URL of ours; anything above is refused before work. */
#define WEBFINGER_MAX_RESOURCE 512

#define WEBFINGER_JRD_CTYPE "application/jrd+json"

static int webfinger_fail(char *err, size_t errlen, int rc, const char *msg);
static int webfinger_decode(const char *in, char *out, size_t outsize);
static int webfinger_is_user_char(int c);
static int webfinger_is_host_char(int c);
static int webfinger_same_authority(const char *a, size_t alen, const char *b, size_t blen,
                                    int default_port);
static size_t webfinger_strip_port(const char *s, size_t len, int default_port);
static int webfinger_parse_url(const char *s, const char *base, char *user, size_t usersize,
                               char *err, size_t errlen);
static int webfinger_parse_acct(const char *s, const char *host, const char *base, char *user,
                                size_t usersize, char *err, size_t errlen);
static struct json_object *webfinger_link_new(const char *rel, const char *type, const char *href);

int
webfinger_parse_resource(const char *resource, const char *host, const char *base,
                         enum webfinger_kind *kind, char *user, size_t usersize, char *err,
                         size_t errlen)
{
    char buf[WEBFINGER_MAX_RESOURCE + 1];
    size_t len;

    if (resource == NULL || resource[0] == '\0')
        return webfinger_fail(err, errlen, -1, "empty resource");
    len = strlen(resource);
    if (len > WEBFINGER_MAX_RESOURCE)
        return webfinger_fail(err, errlen, -1, "resource too long");
    /*
     * Mastodon sends the resource unencoded and others encode it, and the
     * query parser has decoded it once already; a resource that still holds
     * an escape (acct%3Arelay%40host) was encoded twice and is decoded once
     * more. No user name or host of ours contains '%', so this is unambiguous.
     */
    if (strchr(resource, '%') != NULL) {
        if (webfinger_decode(resource, buf, sizeof(buf)) == -1)
            return webfinger_fail(err, errlen, -1, "bad percent-encoding");
    } else {
        memcpy(buf, resource, len + 1);
    }
    if (buf[0] == '\0')
        return webfinger_fail(err, errlen, -1, "empty resource");
    for (const unsigned char *p = (const unsigned char *)buf; *p != '\0'; p++) {
        /* Spaces, controls and raw non-ASCII bytes have no place in an acct: URI or a URL. */
        if (*p <= 0x20 || *p >= 0x7f)
            return webfinger_fail(err, errlen, -1, "invalid character in resource");
    }
    if (strncasecmp(buf, "http://", 7) == 0 || strncasecmp(buf, "https://", 8) == 0) {
        *kind = WEBFINGER_URL;
        return webfinger_parse_url(buf, base, user, usersize, err, errlen);
    }
    *kind = WEBFINGER_ACCT;
    return webfinger_parse_acct(buf, host, base, user, usersize, err, errlen);
}

/* Whom a well-formed resource names. */
enum webfinger_who {
    WEBFINGER_NOBODY,
    WEBFINGER_RELAY,
    WEBFINGER_BRIDGE,
    WEBFINGER_STANDIN_HANDLE, /* an X handle: the database says whose */
    WEBFINGER_STANDIN_ID,     /* <base>/x/<x id>: the database says whether it shows */
};

/*
 * Our own actors first, so that an X handle equal to one of their names (relay, the bridge
 * account) never shadows them. x_id gets the id of a stand-in URL.
 */
static enum webfinger_who
webfinger_who(const struct app *app, enum webfinger_kind kind, const char *user, char *x_id)
{
    const char *rest;
    enum webfinger_who who = WEBFINGER_NOBODY;
    char *url_of;

    if (kind == WEBFINGER_ACCT) {
        /* User names are case-insensitive, as on Mastodon; the subject keeps our spelling. */
        if (strcasecmp(user, "relay") == 0)
            return WEBFINGER_RELAY;
        if (strcasecmp(user, app->cfg->bridge_username) == 0)
            return WEBFINGER_BRIDGE;
        return standin_handle_ok(user) ? WEBFINGER_STANDIN_HANDLE : WEBFINGER_NOBODY;
    }
    /* URL paths are case-sensitive: only our actor ids, exactly. */
    url_of = xasprintf("%s%s", app->cfg->base_url, user);
    if (strcmp(url_of, app->relay_id) == 0)
        who = WEBFINGER_RELAY;
    else if (strcmp(url_of, app->bridge_id) == 0)
        who = WEBFINGER_BRIDGE;
    else if (standin_parse_path(user, x_id, &rest) && *rest == '\0')
        who = WEBFINGER_STANDIN_ID;
    free(url_of);
    return who;
}

/* {subject: acct:<username>@host, aliases: [alias], links: [self, profile page]}. */
static struct json_object *
webfinger_doc_new(const struct app *app, const char *username, const char *alias, const char *self,
                  const char *profile)
{
    struct json_object *doc = json_object_new_object();
    struct json_object *aliases = json_object_new_array();
    struct json_object *links = json_object_new_array();
    /* The subject is the acct: form even for a URL resource: Mastodon checks it. */
    char *subject = xasprintf("acct:%s@%s", username, app->cfg->host);

    json_object_object_add(doc, "subject", json_object_new_string(subject));
    free(subject);
    json_object_array_add(aliases, json_object_new_string(alias));
    json_object_object_add(doc, "aliases", aliases);
    /* Mastodon accepts this exact type for the self link. */
    json_object_array_add(links, webfinger_link_new("self", REPLY_AP_CTYPE, self));
    if (profile != NULL)
        json_object_array_add(links, webfinger_link_new("http://webfinger.net/rel/profile-page",
                                                        "text/html", profile));
    /*
     * No http://ostatus.org/schema/1.0/subscribe template: it is for servers
     * with local users who follow others, which this bridge has not.
     */
    json_object_object_add(doc, "links", links);
    return doc;
}

/* The JRD of the relay or the bridge, built from the actor document so ids cannot disagree. */
static struct json_object *
webfinger_ours_new(const struct app *app, int is_bridge)
{
    struct json_object *actor = is_bridge ? actor_bridge_new(app) : actor_relay_new(app);
    struct json_object *doc, *v;
    const char *id, *url = NULL;

    id = json_object_object_get_ex(actor, "id", &v) ? json_object_get_string(v) : "";
    if (is_bridge && json_object_object_get_ex(actor, "url", &v))
        url = json_object_get_string(v);
    doc = webfinger_doc_new(app, is_bridge ? app->cfg->bridge_username : "relay", id, id, url);
    json_object_put(actor);
    return doc;
}

int
webfinger_jrd_new(const struct app *app, const char *resource, struct json_object **jrd, char *err,
                  size_t errlen)
{
    const struct config *cfg = app->cfg;
    enum webfinger_kind kind;
    enum webfinger_who who;
    char user[WEBFINGER_MAX_RESOURCE + 1], x_id[STANDIN_XID_MAX];
    int rc;

    *jrd = NULL;
    rc = webfinger_parse_resource(resource, cfg->host, cfg->base_url, &kind, user, sizeof(user),
                                  err, errlen);
    if (rc != 0)
        return rc;
    who = webfinger_who(app, kind, user, x_id);
    if (who == WEBFINGER_RELAY || who == WEBFINGER_BRIDGE) {
        *jrd = webfinger_ours_new(app, who == WEBFINGER_BRIDGE);
        return 0;
    }
    if (who == WEBFINGER_STANDIN_HANDLE || who == WEBFINGER_STANDIN_ID)
        return webfinger_fail(err, errlen, 2, "an old X account: the database says");
    return webfinger_fail(err, errlen, 1,
                          kind == WEBFINGER_ACCT ? "no such user" : "no such actor");
}

/* One stand-in lookup, from the database to the answer. */
struct webfinger_ctx {
    struct evhttp_request *req;
    const struct app *app;
    char *resource; /* for the log line */
};

static void
webfinger_unknown(struct evhttp_request *req, const char *resource, const char *why)
{
    log_debug("webfinger_unknown", "resource=%s reason=%s", log_q(resource), log_q(why));
    /* Short: an X handle that is unknown now may become findable soon. */
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
                      "public, max-age=60");
    reply_fail(req, REPLY_ERR_NOT_FOUND, "no such account here");
}

static void
webfinger_standin_cb(enum standin_result r, const struct standin *s, void *arg)
{
    struct webfinger_ctx *c = arg;
    char *self;

    if (r == STANDIN_UNAVAILABLE) {
        reply_fail(c->req, REPLY_ERR_UNAVAILABLE, "database unavailable");
    } else if (r == STANDIN_NONE) {
        webfinger_unknown(c->req, c->resource, "no findable member");
    } else {
        char *alias = standin_home(s, 0), *page = s->bluesky != NULL ? standin_home(s, 1) : NULL;

        self = xasprintf("%s%s", c->app->standin_prefix, s->x_id);
        /* Consents change: a findable member may turn it off, so caches keep it briefly. */
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Cache-Control",
                          "public, max-age=60");
        reply_json(c->req, 200, WEBFINGER_JRD_CTYPE,
                   webfinger_doc_new(c->app, s->x_handle, alias, self, page));
        free(self);
        free(alias);
        free(page);
    }
    free(c->resource);
    free(c);
}

void
webfinger_get(struct app *app, struct evhttp_request *req, const char *path)
{
    const struct config *cfg = app->cfg;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    enum webfinger_kind kind;
    enum webfinger_who who = WEBFINGER_NOBODY;
    char user[WEBFINGER_MAX_RESOURCE + 1], x_id[STANDIN_XID_MAX];
    char err[128] = "";
    struct webfinger_ctx *c;
    char *resource;
    int rc;

    (void)path;
    /* Browser-based clients look accounts up too. */
    evhttp_add_header(out, "Access-Control-Allow-Origin", "*");
    resource = reply_req_param(req, "resource");
    if (resource == NULL) {
        reply_fail(req, REPLY_ERR_BAD_REQUEST, "resource parameter required");
        return;
    }
    /* The rel parameter (RFC 7033 4.3) may be ignored; the full JRD is small. */
    rc = webfinger_parse_resource(resource, cfg->host, cfg->base_url, &kind, user, sizeof(user),
                                  err, sizeof(err));
    if (rc == 0)
        who = webfinger_who(app, kind, user, x_id);
    if (rc < 0) {
        log_debug("webfinger_bad", "resource=%s reason=%s", log_q(resource), log_q(err));
        evhttp_add_header(out, "Cache-Control", "no-store");
        reply_fail(req, REPLY_ERR_BAD_REQUEST, err);
    } else if (who == WEBFINGER_RELAY || who == WEBFINGER_BRIDGE) {
        /* Our actors never move; an hour bounds how long a renamed bridge lingers. */
        evhttp_add_header(out, "Cache-Control", "public, max-age=3600");
        reply_json(req, 200, WEBFINGER_JRD_CTYPE, webfinger_ours_new(app, who == WEBFINGER_BRIDGE));
    } else if (who == WEBFINGER_STANDIN_HANDLE || who == WEBFINGER_STANDIN_ID) {
        c = xcalloc(1, sizeof(*c));
        c->req = req;
        c->app = app;
        c->resource = xstrdup(resource);
        if (who == WEBFINGER_STANDIN_HANDLE)
            standin_find_handle(app, user, webfinger_standin_cb, c);
        else
            standin_find_id(app, x_id, webfinger_standin_cb, c);
    } else {
        webfinger_unknown(req, resource, rc == 1 ? err : "no such account");
    }
    free(resource);
}

/* s is decoded and checked for characters; it starts with http:// or https://. */
static int
webfinger_parse_url(const char *s, const char *base, char *user, size_t usersize, char *err,
                    size_t errlen)
{
    struct url u, b;
    char why[64];
    size_t path_len;

    if (url_split(s, &u, why, sizeof(why)) < 0)
        return webfinger_fail(err, errlen, -1, "malformed URL");
    if (url_split(base, &b, why, sizeof(why)) < 0)
        return webfinger_fail(err, errlen, -1, "server base_url is not a URL");
    if (u.https != b.https || u.port != b.port || u.ipv6 != b.ipv6 || u.host_len != b.host_len ||
        strncasecmp(u.host, b.host, u.host_len) != 0)
        return webfinger_fail(err, errlen, 1, "URL of another server");
    /* An actor id has neither query nor fragment. */
    if (u.query != NULL || u.fragment != NULL)
        return webfinger_fail(err, errlen, 1, "URL is not an actor id");
    path_len = u.path_len;
    /* Mastodon also accepts one trailing slash. */
    if (path_len > 1 && u.path[path_len - 1] == '/')
        path_len--;
    if (path_len == 0) {
        if (usersize < 2)
            return webfinger_fail(err, errlen, -1, "URL path too long");
        memcpy(user, "/", 2);
        return 0;
    }
    if (path_len >= usersize)
        return webfinger_fail(err, errlen, -1, "URL path too long");
    memcpy(user, u.path, path_len);
    user[path_len] = '\0';
    return 0;
}

/* s is decoded and checked for characters; acct:user@host, user@host or @user@host. */
static int
webfinger_parse_acct(const char *s, const char *host, const char *base, char *user, size_t usersize,
                     char *err, size_t errlen)
{
    const char *at, *h;
    size_t ulen;
    struct url b;
    char why[64];
    int port = 0;

    if (strncasecmp(s, "acct:", 5) == 0)
        s += 5;
    else if (s[0] == '@')
        /* What people type in a search box; only without the acct: scheme. */
        s++;
    at = strrchr(s, '@');
    if (at == NULL)
        return webfinger_fail(err, errlen, -1, "resource has no @host");
    ulen = (size_t)(at - s);
    h = at + 1;
    if (ulen == 0)
        return webfinger_fail(err, errlen, -1, "empty user name");
    if (*h == '\0')
        return webfinger_fail(err, errlen, -1, "empty host");
    for (size_t i = 0; i < ulen; i++) {
        /* RFC 7565 userpart; an '@' or ':' here means another scheme or a typo. */
        if (!webfinger_is_user_char((unsigned char)s[i]))
            return webfinger_fail(err, errlen, -1, "invalid character in user name");
    }
    for (const char *p = h; *p != '\0'; p++) {
        if (!webfinger_is_host_char((unsigned char)*p))
            return webfinger_fail(err, errlen, -1, "invalid character in host");
    }
    if (base != NULL && url_split(base, &b, why, sizeof(why)) == 0)
        port = b.https ? 443 : 80;
    if (host == NULL || !webfinger_same_authority(h, strlen(h), host, strlen(host), port))
        return webfinger_fail(err, errlen, 1, "account on another server");
    if (ulen >= usersize)
        return webfinger_fail(err, errlen, -1, "user name too long");
    memcpy(user, s, ulen);
    user[ulen] = '\0';
    return 0;
}

/* Host names compare case-insensitively, and "host:443" is "host" for https. */
static int
webfinger_same_authority(const char *a, size_t alen, const char *b, size_t blen, int default_port)
{
    alen = webfinger_strip_port(a, alen, default_port);
    blen = webfinger_strip_port(b, blen, default_port);
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

/* The length of s without a trailing ":<default_port>" (after any "]" of an IPv6 literal). */
static size_t
webfinger_strip_port(const char *s, size_t len, int default_port)
{
    char suffix[16];
    size_t slen;

    if (default_port == 0)
        return len;
    slen = (size_t)snprintf(suffix, sizeof(suffix), ":%d", default_port);
    if (len > slen && memcmp(s + len - slen, suffix, slen) == 0 && s[len - slen - 1] != ':')
        return len - slen;
    return len;
}

/* Decodes %XX escapes of in into out; -1 on a bad escape or when out is too small. */
static int
webfinger_decode(const char *in, char *out, size_t outsize)
{
    size_t o = 0;

    for (size_t i = 0; in[i] != '\0'; i++) {
        int c = (unsigned char)in[i];

        if (c == '%') {
            int hi = hex_value((unsigned char)in[i + 1]);
            int lo = hi < 0 ? -1 : hex_value((unsigned char)in[i + 2]);

            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (o + 1 >= outsize)
            return -1;
        /* A decoded NUL would cut the string short: the character check refuses it. */
        out[o++] = c == 0 ? '\x01' : (char)c;
    }
    out[o] = '\0';
    return 0;
}

/* unreserved / sub-delims of RFC 3986, the characters of an RFC 7565 userpart. */
static int
webfinger_is_user_char(int c)
{
    return c != 0 && (isalnum(c) || strchr("-._~!$&'()*+,;=", c) != NULL);
}

static int
webfinger_is_host_char(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == ':' || c == '[' || c == ']';
}

static struct json_object *
webfinger_link_new(const char *rel, const char *type, const char *href)
{
    struct json_object *link = json_object_new_object();

    json_object_object_add(link, "rel", json_object_new_string(rel));
    json_object_object_add(link, "type", json_object_new_string(type));
    json_object_object_add(link, "href", json_object_new_string(href));
    return link;
}

static int
webfinger_fail(char *err, size_t errlen, int rc, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
    return rc;
}
