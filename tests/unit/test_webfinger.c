/* Unit tests for webfinger/webfinger.c: resource parsing (a table) and the JRD of our actors. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "config.h"
#include "tap.h"
#include "webfinger.h"
#include "xmalloc.h"

#define LOCAL      "127.0.0.1:8080"
#define LOCAL_BASE "http://127.0.0.1:8080"
#define TLS        "bridge.example"
#define TLS_BASE   "https://bridge.example"

struct parse_case {
    const char *resource;
    const char *host, *base;
    int rc;                   /* 0 ours, 1 well formed but foreign (404), -1 malformed (400) */
    enum webfinger_kind kind; /* when rc == 0 */
    const char *user;         /* when rc == 0 */
};

static const struct parse_case parse_cases[] = {
    /* acct: forms */
    { "acct:relay@127.0.0.1:8080", LOCAL, LOCAL_BASE, 0, WEBFINGER_ACCT, "relay" },
    { "acct:passerelle@127.0.0.1:8080", LOCAL, LOCAL_BASE, 0, WEBFINGER_ACCT, "passerelle" },
    { "ACCT:relay@127.0.0.1:8080", LOCAL, LOCAL_BASE, 0, WEBFINGER_ACCT, "relay" },
    { "acct:Relay@127.0.0.1:8080", LOCAL, LOCAL_BASE, 0, WEBFINGER_ACCT, "Relay" },
    { "relay@127.0.0.1:8080", LOCAL, LOCAL_BASE, 0, WEBFINGER_ACCT, "relay" },
    { "@relay@127.0.0.1:8080", LOCAL, LOCAL_BASE, 0, WEBFINGER_ACCT, "relay" },
    { "acct:someone_else@127.0.0.1:8080", LOCAL, LOCAL_BASE, 0, WEBFINGER_ACCT, "someone_else" },
    { "acct:relay@BRIDGE.Example", TLS, TLS_BASE, 0, WEBFINGER_ACCT, "relay" },
    { "acct:relay@bridge.example:443", TLS, TLS_BASE, 0, WEBFINGER_ACCT, "relay" },
    /* still percent-encoded (encoded twice by the client) */
    { "acct%3Arelay%40127.0.0.1%3A8080", LOCAL, LOCAL_BASE, 0, WEBFINGER_ACCT, "relay" },
    { "acct%3arelay%40bridge.example", TLS, TLS_BASE, 0, WEBFINGER_ACCT, "relay" },
    { "acct:relay%40bridge.example", TLS, TLS_BASE, 0, WEBFINGER_ACCT, "relay" },
    { "https%3A%2F%2Fbridge.example%2Factor", TLS, TLS_BASE, 0, WEBFINGER_URL, "/actor" },
    /* URL forms */
    { "http://127.0.0.1:8080/actor", LOCAL, LOCAL_BASE, 0, WEBFINGER_URL, "/actor" },
    { "http://127.0.0.1:8080/users/passerelle", LOCAL, LOCAL_BASE, 0, WEBFINGER_URL,
      "/users/passerelle" },
    { "HTTPS://Bridge.Example/actor", TLS, TLS_BASE, 0, WEBFINGER_URL, "/actor" },
    { "https://bridge.example:443/actor/", TLS, TLS_BASE, 0, WEBFINGER_URL, "/actor" },
    { "https://bridge.example", TLS, TLS_BASE, 0, WEBFINGER_URL, "/" },
    /* well formed, not ours: 404 */
    { "acct:relay@127.0.0.1", LOCAL, LOCAL_BASE, 1, 0, NULL },
    { "acct:relay@127.0.0.1:8081", LOCAL, LOCAL_BASE, 1, 0, NULL },
    { "acct:relay@mastodon.social", LOCAL, LOCAL_BASE, 1, 0, NULL },
    { "acct:relay@bridge.example.evil", TLS, TLS_BASE, 1, 0, NULL },
    { "acct:relay@bridge.example:8443", TLS, TLS_BASE, 1, 0, NULL },
    { "https://mastodon.social/actor", TLS, TLS_BASE, 1, 0, NULL },
    { "http://bridge.example/actor", TLS, TLS_BASE, 1, 0, NULL },
    { "https://bridge.example/actor?x=1", TLS, TLS_BASE, 1, 0, NULL },
    { "https://bridge.example/actor#main-key", TLS, TLS_BASE, 1, 0, NULL },
    /* malformed: 400 */
    { "", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "relay", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:relay", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:@127.0.0.1:8080", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:relay@", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:@relay@127.0.0.1:8080", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:re lay@127.0.0.1:8080", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:relay@127.0.0.1:8080\n", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:relay\r\nX-Evil: 1@127.0.0.1:8080", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:relay%00@127.0.0.1:8080", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:relay%4@127.0.0.1:8080", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:relay%zz@127.0.0.1:8080", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:r\xc3\xa9lay@127.0.0.1:8080", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "mailto:relay@127.0.0.1:8080", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "acct:relay@127.0.0.1/8080", LOCAL, LOCAL_BASE, -1, 0, NULL },
    { "https://", TLS, TLS_BASE, -1, 0, NULL },
    { "https:///actor", TLS, TLS_BASE, -1, 0, NULL },
    { "https://relay@bridge.example/actor", TLS, TLS_BASE, -1, 0, NULL },
};

static void
test_parse_table(void)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        enum webfinger_kind kind = (enum webfinger_kind) - 1;
        char user[128] = "(untouched)", err[128] = "";
        int rc = webfinger_parse_resource(c->resource, c->host, c->base, &kind, user, sizeof(user),
                                          err, sizeof(err));

        if (!is_int(rc, c->rc, "parse [%zu] gives %d (%s)", i, c->rc, err))
            continue;
        if (c->rc == 0) {
            is_int(kind, c->kind, "parse [%zu] kind", i);
            is_str(user, c->user, "parse [%zu] user/path", i);
        } else {
            ok(err[0] != '\0', "parse [%zu] explains itself: %s", i, err);
        }
    }
}

static void
test_parse_limits(void)
{
    char resource[700], user[128], small[4], err[128];
    enum webfinger_kind kind;
    size_t n;

    /* Exactly at the cap, still a well-formed resource (a foreign one). */
    n = (size_t)snprintf(resource, sizeof(resource), "acct:relay@");
    memset(resource + n, 'a', 512 - n);
    resource[512] = '\0';
    is_int(webfinger_parse_resource(resource, LOCAL, LOCAL_BASE, &kind, user, sizeof(user), err,
                                    sizeof(err)),
           1, "a 512-byte resource is parsed");
    memset(resource + n, 'a', 513 - n);
    resource[513] = '\0';
    is_int(webfinger_parse_resource(resource, LOCAL, LOCAL_BASE, &kind, user, sizeof(user), err,
                                    sizeof(err)),
           -1, "a 513-byte resource is refused");
    is_int(webfinger_parse_resource(NULL, LOCAL, LOCAL_BASE, &kind, user, sizeof(user), err,
                                    sizeof(err)),
           -1, "a NULL resource is refused");
    is_int(webfinger_parse_resource("acct:relay@127.0.0.1:8080", LOCAL, LOCAL_BASE, &kind, small,
                                    sizeof(small), err, sizeof(err)),
           -1, "a user that does not fit the caller's buffer is refused, not truncated");
}

struct fixture {
    struct config cfg;
    struct app app;
};

static void
fixture_init(struct fixture *f, const char *base, const char *host, const char *user)
{
    memset(f, 0, sizeof(*f));
    f->cfg.base_url = xstrdup(base);
    f->cfg.host = xstrdup(host);
    f->cfg.bridge_username = xstrdup(user);
    f->cfg.bridge_display_name = xstrdup("Passerelle");
    f->cfg.instance_name = xstrdup("test");
    f->app.cfg = &f->cfg;
    f->app.public_pem = xstrdup("-----BEGIN PUBLIC KEY-----\nTEST\n-----END PUBLIC KEY-----\n");
    f->app.relay_id = xasprintf("%s/actor", base);
    f->app.bridge_id = xasprintf("%s/users/%s", base, user);
}

static void
fixture_free(struct fixture *f)
{
    free(f->cfg.base_url);
    free(f->cfg.host);
    free(f->cfg.bridge_username);
    free(f->cfg.bridge_display_name);
    free(f->cfg.instance_name);
    free(f->app.public_pem);
    free(f->app.relay_id);
    free(f->app.bridge_id);
}

static const char *
test_str(struct json_object *obj, const char *key)
{
    struct json_object *v;

    if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* The link with this rel, borrowed, or NULL. */
static struct json_object *
test_link(struct json_object *jrd, const char *rel)
{
    struct json_object *links;

    if (jrd == NULL || !json_object_object_get_ex(jrd, "links", &links))
        return NULL;
    for (size_t i = 0; i < json_object_array_length(links); i++) {
        struct json_object *l = json_object_array_get_idx(links, i);
        const char *r = test_str(l, "rel");

        if (r != NULL && strcmp(r, rel) == 0)
            return l;
    }
    return NULL;
}

static void
test_jrd_one(const struct fixture *f, const char *resource, const char *subject, const char *self,
             const char *profile)
{
    struct json_object *jrd = NULL, *aliases, *self_link, *page;
    char err[128] = "";
    int rc = webfinger_jrd_new(&f->app, resource, &jrd, err, sizeof(err));

    if (!is_int(rc, 0, "%s resolves (%s)", resource, err)) {
        json_object_put(jrd);
        return;
    }
    is_str(test_str(jrd, "subject"), subject, "%s: subject", resource);
    ok(json_object_object_get_ex(jrd, "aliases", &aliases) &&
           json_object_array_length(aliases) == 1 &&
           strcmp(json_object_get_string(json_object_array_get_idx(aliases, 0)), self) == 0,
       "%s: aliases is [%s]", resource, self);
    self_link = test_link(jrd, "self");
    is_str(test_str(self_link, "type"), "application/activity+json", "%s: self type", resource);
    is_str(test_str(self_link, "href"), self, "%s: self href", resource);
    page = test_link(jrd, "http://webfinger.net/rel/profile-page");
    if (profile != NULL) {
        is_str(test_str(page, "type"), "text/html", "%s: profile page type", resource);
        is_str(test_str(page, "href"), profile, "%s: profile page href", resource);
    } else {
        ok(page == NULL, "%s: no profile page", resource);
    }
    ok(test_link(jrd, "http://ostatus.org/schema/1.0/subscribe") == NULL,
       "%s: no subscribe template", resource);
    json_object_put(jrd);
}

static void
test_jrd_fails(const struct fixture *f, const char *resource, int want)
{
    struct json_object *jrd = (struct json_object *)&jrd; /* must be reset to NULL */
    char err[128] = "";

    is_int(webfinger_jrd_new(&f->app, resource, &jrd, err, sizeof(err)), want, "%s gives %d (%s)",
           resource, want, err);
    ok(jrd == NULL, "%s: no JRD", resource);
}

static void
test_jrd(void)
{
    struct fixture f;

    fixture_init(&f, LOCAL_BASE, LOCAL, "passerelle");
    test_jrd_one(&f, "acct:relay@127.0.0.1:8080", "acct:relay@127.0.0.1:8080", LOCAL_BASE "/actor",
                 NULL);
    test_jrd_one(&f, "RELAY@127.0.0.1:8080", "acct:relay@127.0.0.1:8080", LOCAL_BASE "/actor",
                 NULL);
    test_jrd_one(&f, LOCAL_BASE "/actor", "acct:relay@127.0.0.1:8080", LOCAL_BASE "/actor", NULL);
    test_jrd_one(&f, "acct%3Apasserelle%40127.0.0.1%3A8080", "acct:passerelle@127.0.0.1:8080",
                 LOCAL_BASE "/users/passerelle", LOCAL_BASE "/");
    test_jrd_one(&f, LOCAL_BASE "/users/passerelle", "acct:passerelle@127.0.0.1:8080",
                 LOCAL_BASE "/users/passerelle", LOCAL_BASE "/");
    /* A name that could be an X handle is for the database (a stand-in) to answer. */
    test_jrd_fails(&f, "acct:nobody@127.0.0.1:8080", 2);
    test_jrd_fails(&f, "acct:No_Body_1@127.0.0.1:8080", 2);
    test_jrd_fails(&f, "acct:no-body@127.0.0.1:8080", 1);
    test_jrd_fails(&f, "acct:no.body@127.0.0.1:8080", 1);
    test_jrd_fails(&f, LOCAL_BASE "/x/12345", 2);
    test_jrd_fails(&f, LOCAL_BASE "/x/9223372036854775807", 2);
    test_jrd_fails(&f, LOCAL_BASE "/x/9223372036854775808", 1);
    test_jrd_fails(&f, LOCAL_BASE "/x/012345", 1);
    test_jrd_fails(&f, LOCAL_BASE "/x/12345/followers", 1);
    test_jrd_fails(&f, LOCAL_BASE "/x/", 1);
    test_jrd_fails(&f, LOCAL_BASE "/users/nobody", 1);
    test_jrd_fails(&f, LOCAL_BASE "/users/PASSERELLE", 1);
    test_jrd_fails(&f, LOCAL_BASE "/actor/followers", 1);
    test_jrd_fails(&f, "acct:relay@example.org", 1);
    test_jrd_fails(&f, "acct:relay", -1);
    fixture_free(&f);

    /* Another name and origin: nothing about the first one is built in. */
    fixture_init(&f, TLS_BASE, TLS, "Pont");
    test_jrd_one(&f, "acct:pont@BRIDGE.EXAMPLE", "acct:Pont@bridge.example", TLS_BASE "/users/Pont",
                 TLS_BASE "/");
    test_jrd_one(&f, "https://bridge.example/actor", "acct:relay@bridge.example", TLS_BASE "/actor",
                 NULL);
    test_jrd_fails(&f, "acct:passerelle@bridge.example", 2);
    test_jrd_fails(&f, "acct:pass-erelle@bridge.example", 1);
    test_jrd_fails(&f, "acct:relay@127.0.0.1:8080", 1);
    fixture_free(&f);
}

int
main(void)
{
    test_parse_table();
    test_parse_limits();
    test_jrd();
    return done_testing();
}
