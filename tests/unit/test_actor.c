/* Unit tests for activitypub/actor.c: every field of the relay and bridge actor documents. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "actor.h"
#include "app.h"
#include "config.h"
#include "keys.h"
#include "tap.h"
#include "xmalloc.h"

/* Borrowed member at a dotted path ("publicKey.id"), or NULL. */
static struct json_object *
test_get(struct json_object *obj, const char *dotted)
{
    char *copy = xstrdup(dotted), *save = NULL;
    struct json_object *cur = obj;

    for (char *part = strtok_r(copy, ".", &save); part != NULL && cur != NULL;
         part = strtok_r(NULL, ".", &save)) {
        struct json_object *next = NULL;

        if (!json_object_is_type(cur, json_type_object) ||
            !json_object_object_get_ex(cur, part, &next))
            next = NULL;
        cur = next;
    }
    free(copy);
    return cur;
}

static const char *
test_str(struct json_object *obj, const char *dotted)
{
    struct json_object *v = test_get(obj, dotted);

    return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int
test_bool(struct json_object *obj, const char *dotted)
{
    struct json_object *v = test_get(obj, dotted);

    if (v == NULL || !json_object_is_type(v, json_type_boolean))
        return -1;
    return json_object_get_boolean(v);
}

struct fixture {
    struct config cfg;
    struct app app;
    EVP_PKEY *key;
};

static void
fixture_init(struct fixture *f, const char *base, const char *user, const char *display,
             const char *instance)
{
    memset(f, 0, sizeof(*f));
    f->cfg.base_url = xstrdup(base);
    f->cfg.bridge_username = xstrdup(user);
    f->cfg.bridge_display_name = xstrdup(display);
    f->cfg.instance_name = xstrdup(instance);
    f->app.cfg = &f->cfg;
    f->key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    f->app.key = f->key;
    f->app.public_pem = keys_public_pem(f->key);
    f->app.relay_id = xasprintf("%s/actor", base);
    f->app.bridge_id = xasprintf("%s/users/%s", base, user);
}

static void
fixture_free(struct fixture *f)
{
    free(f->cfg.base_url);
    free(f->cfg.bridge_username);
    free(f->cfg.bridge_display_name);
    free(f->cfg.instance_name);
    free(f->app.public_pem);
    free(f->app.relay_id);
    free(f->app.bridge_id);
    EVP_PKEY_free(f->key);
}

/* The document survives a round trip through text (what peers actually receive). */
static struct json_object *
test_roundtrip(struct json_object *doc)
{
    struct json_object *back =
        json_tokener_parse(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));

    json_object_put(doc);
    return back;
}

static void
test_context(struct json_object *doc, size_t want_len, const char *who)
{
    struct json_object *ctx = test_get(doc, "@context");

    ok(ctx != NULL && json_object_is_type(ctx, json_type_array), "%s: @context is an array", who);
    if (ctx == NULL || !json_object_is_type(ctx, json_type_array))
        return;
    is_int(json_object_array_length(ctx), want_len, "%s: @context has %zu entries", who, want_len);
    is_str(json_object_get_string(json_object_array_get_idx(ctx, 0)),
           "https://www.w3.org/ns/activitystreams", "%s: @context[0] is ActivityStreams", who);
    is_str(json_object_get_string(json_object_array_get_idx(ctx, 1)),
           "https://w3id.org/security/v1", "%s: @context[1] is security/v1", who);
    /* Peers without network access can only use contexts they preload: no other URL. */
    for (size_t i = 2; i < json_object_array_length(ctx); i++)
        ok(json_object_is_type(json_object_array_get_idx(ctx, i), json_type_object),
           "%s: @context[%zu] is an inline object, not a URL", who, i);
}

static void
test_relay(const char *base)
{
    struct fixture f;
    struct json_object *doc;
    char want[512];

    fixture_init(&f, base, "passerelle", "Passerelle", "Test bridge");
    doc = test_roundtrip(actor_relay_new(&f.app));
    ok(doc != NULL, "relay actor at %s serialises to JSON", base);
    if (doc == NULL) {
        fixture_free(&f);
        return;
    }
    test_context(doc, 2, "relay");
    snprintf(want, sizeof(want), "%s/actor", base);
    is_str(test_str(doc, "id"), want, "relay: id is <base>/actor");
    is_str(test_str(doc, "type"), "Application", "relay: type");
    is_str(test_str(doc, "preferredUsername"), "relay", "relay: preferredUsername");
    is_str(test_str(doc, "name"), "Test bridge", "relay: name is the instance name");
    ok(test_str(doc, "summary") != NULL && test_str(doc, "summary")[0] != '\0',
       "relay: has a summary");
    snprintf(want, sizeof(want), "%s/inbox", base);
    /* Byte for byte: Mastodon looks the relay up by the URL the admin typed. */
    ok(test_str(doc, "inbox") != NULL && strlen(test_str(doc, "inbox")) == strlen(want) &&
           memcmp(test_str(doc, "inbox"), want, strlen(want)) == 0,
       "relay: inbox is exactly %s", want);
    is_str(test_str(doc, "endpoints.sharedInbox"), want, "relay: sharedInbox is <base>/inbox");
    snprintf(want, sizeof(want), "%s/actor/outbox", base);
    is_str(test_str(doc, "outbox"), want, "relay: outbox");
    snprintf(want, sizeof(want), "%s/actor/followers", base);
    is_str(test_str(doc, "followers"), want, "relay: followers");
    snprintf(want, sizeof(want), "%s/actor/following", base);
    is_str(test_str(doc, "following"), want, "relay: following");
    snprintf(want, sizeof(want), "%s/", base);
    is_str(test_str(doc, "url"), want, "relay: url is the status page");
    is_int(test_bool(doc, "manuallyApprovesFollowers"), 0,
           "relay: manuallyApprovesFollowers is false");
    snprintf(want, sizeof(want), "%s/actor#main-key", base);
    is_str(test_str(doc, "publicKey.id"), want, "relay: publicKey.id is <actor>#main-key");
    snprintf(want, sizeof(want), "%s/actor", base);
    is_str(test_str(doc, "publicKey.owner"), want, "relay: publicKey.owner is the actor");
    is_str(test_str(doc, "publicKey.publicKeyPem"), f.app.public_pem,
           "relay: publicKeyPem is the server key");
    ok(test_str(doc, "publicKey.publicKeyPem") != NULL &&
           strncmp(test_str(doc, "publicKey.publicKeyPem"), "-----BEGIN PUBLIC KEY-----", 26) == 0,
       "relay: publicKeyPem is SPKI PEM");
    json_object_put(doc);
    fixture_free(&f);
}

static void
test_bridge(const char *base, const char *user, const char *display)
{
    struct fixture f;
    struct json_object *doc, *ctx, *terms;
    char want[512];

    fixture_init(&f, base, user, display, "Test bridge");
    doc = test_roundtrip(actor_bridge_new(&f.app));
    ok(doc != NULL, "bridge actor %s at %s serialises to JSON", user, base);
    if (doc == NULL) {
        fixture_free(&f);
        return;
    }
    test_context(doc, 3, "bridge");
    ctx = test_get(doc, "@context");
    terms = ctx != NULL ? json_object_array_get_idx(ctx, 2) : NULL;
    is_str(test_str(terms, "discoverable"), "toot:discoverable",
           "bridge: discoverable is defined inline");
    is_str(test_str(terms, "toot"), "http://joinmastodon.org/ns#", "bridge: toot prefix inline");
    snprintf(want, sizeof(want), "%s/users/%s", base, user);
    is_str(test_str(doc, "id"), want, "bridge: id is <base>/users/<name>");
    is_str(test_str(doc, "type"), "Service", "bridge: type");
    is_str(test_str(doc, "preferredUsername"), user, "bridge: preferredUsername");
    is_str(test_str(doc, "name"), display, "bridge: name is the display name");
    ok(test_str(doc, "summary") != NULL, "bridge: has a summary");
    snprintf(want, sizeof(want), "%s/users/%s/inbox", base, user);
    is_str(test_str(doc, "inbox"), want, "bridge: inbox");
    snprintf(want, sizeof(want), "%s/inbox", base);
    is_str(test_str(doc, "endpoints.sharedInbox"), want, "bridge: sharedInbox is <base>/inbox");
    snprintf(want, sizeof(want), "%s/users/%s/outbox", base, user);
    is_str(test_str(doc, "outbox"), want, "bridge: outbox");
    snprintf(want, sizeof(want), "%s/users/%s/followers", base, user);
    is_str(test_str(doc, "followers"), want, "bridge: followers");
    snprintf(want, sizeof(want), "%s/users/%s/following", base, user);
    is_str(test_str(doc, "following"), want, "bridge: following");
    snprintf(want, sizeof(want), "%s/", base);
    is_str(test_str(doc, "url"), want, "bridge: url");
    is_int(test_bool(doc, "discoverable"), 1, "bridge: discoverable is true");
    is_int(test_bool(doc, "manuallyApprovesFollowers"), 0,
           "bridge: manuallyApprovesFollowers is false");
    snprintf(want, sizeof(want), "%s/users/%s#main-key", base, user);
    is_str(test_str(doc, "publicKey.id"), want, "bridge: publicKey.id");
    snprintf(want, sizeof(want), "%s/users/%s", base, user);
    is_str(test_str(doc, "publicKey.owner"), want, "bridge: publicKey.owner");
    is_str(test_str(doc, "publicKey.publicKeyPem"), f.app.public_pem, "bridge: publicKeyPem");
    json_object_put(doc);
    fixture_free(&f);
}

/* Text that JSON must escape reaches peers intact. */
static void
test_escaping(void)
{
    struct fixture f;
    struct json_object *doc;

    fixture_init(&f, "https://bridge.example", "passerelle", "Pont \"X\" \\ fédiverse\n",
                 "Ça <b>&</b>");
    doc = test_roundtrip(actor_bridge_new(&f.app));
    is_str(test_str(doc, "name"), "Pont \"X\" \\ fédiverse\n", "bridge: display name escaped");
    json_object_put(doc);
    doc = test_roundtrip(actor_relay_new(&f.app));
    is_str(test_str(doc, "name"), "Ça <b>&</b>", "relay: instance name escaped");
    json_object_put(doc);
    fixture_free(&f);
}

int
main(void)
{
    test_relay("http://127.0.0.1:8080");
    test_relay("https://bridge.example");
    test_bridge("http://127.0.0.1:8080", "passerelle", "Passerelle");
    test_bridge("https://bridge.example", "Pont", "Le pont");
    test_escaping();
    return done_testing();
}
