/* Unit tests for activitypub/standin.c: X ids and handles, paths and URIs, the actor document. */
#include <string.h>

#include <json-c/json.h>

#include "actor.h"
#include "app.h"
#include "config.h"
#include "standin.h"
#include "tap.h"
#include "xmalloc.h"

#define BASE "https://bridge.example"

static const char *
str_at(struct json_object *o, const char *key)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void
test_ids(void)
{
    char x[STANDIN_XID_MAX];
    const char *rest = NULL;

    ok(standin_xid_ok("1", 1), "one digit");
    ok(standin_xid_ok("9223372036854775807", 19), "the largest bigint");
    ok(!standin_xid_ok("9223372036854775808", 19), "one past the largest bigint");
    ok(!standin_xid_ok("10000000000000000000", 20), "20 digits");
    ok(!standin_xid_ok("0", 1), "zero");
    ok(!standin_xid_ok("012", 3), "a leading zero: not the form we print");
    ok(!standin_xid_ok("12a", 3), "a letter");
    ok(!standin_xid_ok("", 0), "empty");
    ok(standin_xid_ok("123/", 3), "only len bytes are read");

    ok(standin_handle_ok("jack"), "a handle");
    ok(standin_handle_ok("Jack_Dorsey_2"), "letters, digits, underscore");
    ok(!standin_handle_ok("jack-d"), "a hyphen");
    ok(!standin_handle_ok("jack.d"), "a dot");
    ok(!standin_handle_ok(""), "empty");
    ok(standin_handle_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "50 characters");
    ok(!standin_handle_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "51 characters");
    ok(!standin_handle_ok("caf\xc3\xa9"), "non-ASCII");

    ok(standin_parse_path("/x/12", x, &rest) && strcmp(x, "12") == 0 && strcmp(rest, "") == 0,
       "/x/12");
    ok(standin_parse_path("/x/12/followers", x, &rest) && strcmp(x, "12") == 0 &&
           strcmp(rest, "followers") == 0,
       "/x/12/followers");
    ok(!standin_parse_path("/x/", x, &rest), "/x/");
    ok(!standin_parse_path("/x/012", x, &rest), "/x/012");
    ok(!standin_parse_path("/x/12x", x, &rest), "/x/12x");
    ok(!standin_parse_path("/xx/12", x, &rest), "/xx/12");
}

static void
test_uri_and_doc(void)
{
    struct config cfg;
    struct app app;
    struct standin s = { "42", "OldName", "https://masto.example/users/new", "new@masto.example",
                         1,    NULL };
    struct json_object *doc, *v, *key;
    char x[STANDIN_XID_MAX];
    const char *summary;

    memset(&cfg, 0, sizeof(cfg));
    memset(&app, 0, sizeof(app));
    cfg.base_url = xstrdup(BASE);
    cfg.host = xstrdup("bridge.example");
    cfg.relay_block = xstrdup("bad.example");
    app.cfg = &cfg;
    app.standin_prefix = xstrdup(BASE "/x/");
    app.public_pem = xstrdup("-----BEGIN PUBLIC KEY-----\nTEST\n-----END PUBLIC KEY-----\n");

    ok(standin_parse_uri(&app, BASE "/x/42", x) && strcmp(x, "42") == 0, "a stand-in id");
    ok(!standin_parse_uri(&app, BASE "/x/42/followers", x), "a collection is not the actor");
    ok(!standin_parse_uri(&app, "https://other.example/x/42", x), "another host");
    ok(!standin_parse_uri(&app, BASE "/actor", x), "the relay");
    ok(!standin_parse_uri(&app, NULL, x), "NULL");
    ok(standin_host_ok(&app, "masto.example"), "a host relay_block does not name");
    ok(!standin_host_ok(&app, "a.bad.example"), "a subdomain of a relay_block entry");

    doc = actor_standin_new(&app, s.x_id, s.x_handle, s.actor_uri, s.acct, s.bluesky, s.verified);
    is_str(str_at(doc, "id"), BASE "/x/42", "id");
    is_str(str_at(doc, "type"), "Person", "type");
    is_str(str_at(doc, "preferredUsername"), "OldName", "preferredUsername is the X handle");
    is_str(str_at(doc, "name"), "OldName (moved)", "name says it moved");
    is_str(str_at(doc, "movedTo"), "https://masto.example/users/new", "movedTo");
    ok(json_object_object_get_ex(doc, "alsoKnownAs", &v) && json_object_array_length(v) == 1 &&
           strcmp(json_object_get_string(json_object_array_get_idx(v, 0)),
                  "https://masto.example/users/new") == 0,
       "alsoKnownAs");
    is_str(str_at(doc, "url"), BASE "/x/42", "url on our own host (Mastodon drops others)");
    is_str(str_at(doc, "inbox"), BASE "/inbox", "the shared inbox");
    is_str(str_at(doc, "followers"), BASE "/x/42/followers", "followers");
    ok(json_object_object_get_ex(doc, "publicKey", &key) &&
           strcmp(str_at(key, "id"), BASE "/x/42#main-key") == 0 &&
           strcmp(str_at(key, "owner"), BASE "/x/42") == 0,
       "publicKey id and owner are the stand-in's");
    summary = str_at(doc, "summary");
    ok(summary != NULL && strstr(summary, "@new@masto.example") != NULL &&
           strstr(summary, "href=\"https://masto.example/users/new\"") != NULL,
       "summary names and links the new account: %s", summary != NULL ? summary : "-");
    ok(json_object_object_get_ex(doc, "@context", &v) && json_object_array_length(v) == 3 &&
           json_object_object_get_ex(json_object_array_get_idx(v, 2), "movedTo", NULL) &&
           json_object_object_get_ex(json_object_array_get_idx(v, 2), "alsoKnownAs", NULL),
       "the context defines movedTo and alsoKnownAs");
    ok(summary != NULL && strstr(summary, "verified") == NULL, "a verified claim: no warning");
    json_object_put(doc);

    /* A claim X did not confirm says so, in the name and the summary. */
    s.verified = 0;
    doc = actor_standin_new(&app, s.x_id, s.x_handle, s.actor_uri, s.acct, s.bluesky, s.verified);
    is_str(str_at(doc, "name"), "OldName (moved, not verified)", "name says not verified");
    summary = str_at(doc, "summary");
    ok(summary != NULL && strstr(summary, "Not verified") != NULL, "summary says not verified");
    json_object_put(doc);

    /* Markup in network strings is escaped, never passed through. */
    s.x_handle = "a<b>";
    s.acct = NULL;
    s.actor_uri = "https://masto.example/u/\"x\"";
    doc = actor_standin_new(&app, s.x_id, s.x_handle, s.actor_uri, s.acct, s.bluesky, s.verified);
    summary = str_at(doc, "summary");
    ok(summary != NULL && strstr(summary, "a&lt;b&gt;") != NULL &&
           strstr(summary, "&quot;x&quot;") != NULL && strstr(summary, "<b>") == NULL,
       "summary escapes: %s", summary);
    json_object_put(doc);

    free(cfg.base_url);
    free(cfg.host);
    free(cfg.relay_block);
    free(app.standin_prefix);
    free(app.public_pem);
}

/* A Bluesky member: movedTo their Bridgy Fed actor when bridged, else their profile as url. */
static void
test_bluesky(void)
{
    struct config cfg;
    struct app app;
    struct standin s = {
        "43", "Sky",           "https://bsky.brid.gy/ap/did:plc:abc", "al.bsky.social@bsky.brid.gy",
        1,    "al.bsky.social"
    };
    struct json_object *doc, *v;
    const char *summary;
    char *home;

    memset(&cfg, 0, sizeof(cfg));
    memset(&app, 0, sizeof(app));
    cfg.base_url = xstrdup(BASE);
    cfg.host = xstrdup("bridge.example");
    app.cfg = &cfg;
    app.standin_prefix = xstrdup(BASE "/x/");
    app.public_pem = xstrdup("-----BEGIN PUBLIC KEY-----\nTEST\n-----END PUBLIC KEY-----\n");

    doc = actor_standin_new(&app, s.x_id, s.x_handle, s.actor_uri, s.acct, s.bluesky, s.verified);
    is_str(str_at(doc, "movedTo"), "https://bsky.brid.gy/ap/did:plc:abc",
           "bridged: movedTo is the Bridgy Fed actor");
    ok(json_object_object_get_ex(doc, "alsoKnownAs", &v) && json_object_array_length(v) == 1,
       "bridged: alsoKnownAs");
    is_str(str_at(doc, "url"), BASE "/x/43", "bridged: url on our host");
    summary = str_at(doc, "summary");
    ok(summary != NULL && strstr(summary, "href=\"https://bsky.app/profile/al.bsky.social\"") &&
           strstr(summary, "@al.bsky.social@bsky.brid.gy") &&
           strstr(summary, "href=\"https://bsky.brid.gy/ap/did:plc:abc\""),
       "bridged: the summary links the profile and the bridged actor: %s", summary);
    home = standin_home(&s, 0);
    is_str(home, "https://bsky.brid.gy/ap/did:plc:abc", "bridged: WebFinger alias is the actor");
    free(home);
    home = standin_home(&s, 1);
    is_str(home, "https://bsky.app/profile/al.bsky.social", "a browser goes to the profile");
    free(home);
    json_object_put(doc);

    s.actor_uri = NULL;
    s.acct = NULL;
    doc = actor_standin_new(&app, s.x_id, s.x_handle, s.actor_uri, s.acct, s.bluesky, s.verified);
    ok(!json_object_object_get_ex(doc, "movedTo", NULL), "not bridged: no movedTo");
    ok(!json_object_object_get_ex(doc, "alsoKnownAs", NULL), "not bridged: no alsoKnownAs");
    is_str(str_at(doc, "url"), "https://bsky.app/profile/al.bsky.social",
           "not bridged: url is the Bluesky profile");
    summary = str_at(doc, "summary");
    ok(summary != NULL &&
           strstr(summary, "left X for Bluesky and is now <a href=\"https://bsky.app/profile/"
                           "al.bsky.social\">@al.bsky.social</a>") != NULL,
       "not bridged: the summary links the profile: %s", summary);
    home = standin_home(&s, 0);
    is_str(home, "https://bsky.app/profile/al.bsky.social", "not bridged: alias is the profile");
    free(home);
    json_object_put(doc);

    s.bluesky = NULL;
    s.actor_uri = "https://masto.example/users/new";
    home = standin_home(&s, 1);
    is_str(home, "https://masto.example/users/new", "a fediverse member: their actor");
    free(home);

    free(cfg.base_url);
    free(cfg.host);
    free(app.standin_prefix);
    free(app.public_pem);
}

int
main(void)
{
    test_ids();
    test_uri_and_doc();
    test_bluesky();
    return done_testing();
}
