/* Our actors: relay (Application), bridge (Service), stand-ins (Person), their collections. */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "activity.h"
#include "actor.h"
#include "bridgefed.h"
#include "app.h"
#include "config.h"
#include "reply.h"
#include "xmalloc.h"

#define ACTOR_AS_CONTEXT  "https://www.w3.org/ns/activitystreams"
#define ACTOR_SEC_CONTEXT "https://w3id.org/security/v1"

static const char *actor_or_empty(const char *s);
static void actor_add_str(struct json_object *obj, const char *key, const char *value);
static void actor_add_fmt_str(struct json_object *obj, const char *key, char *value);
static struct json_object *actor_collection_new(const char *actor_id, const char *name);
static struct json_object *actor_public_key_new(const char *id, const char *pem);
static struct json_object *actor_term(const char *iri);
static struct json_object *actor_context_new(int moved);
static void actor_add_boxes(struct json_object *doc, const char *id, const char *inbox,
                            const char *base);

struct json_object *
actor_relay_new(const struct app *app)
{
    const char *base = app->cfg->base_url;
    const char *id = app->relay_id;
    struct json_object *doc = json_object_new_object();
    struct json_object *ctx = json_object_new_array();
    char *inbox = xasprintf("%s/inbox", base);

    /*
     * security/v1 is what makes publicKey survive JSON-LD expansion (Fedify
     * drops it otherwise and every signature fails). Only contexts that peers
     * preload may appear: they do not fetch unknown ones.
     */
    json_object_array_add(ctx, json_object_new_string(ACTOR_AS_CONTEXT));
    json_object_array_add(ctx, json_object_new_string(ACTOR_SEC_CONTEXT));
    json_object_object_add(doc, "@context", ctx);
    actor_add_str(doc, "id", id);
    /* Application: Friendica's relay discovery wants it, and Mastodon accepts it. */
    actor_add_str(doc, "type", "Application");
    actor_add_str(doc, "preferredUsername", "relay");
    actor_add_str(doc, "name", actor_or_empty(app->cfg->instance_name));
    actor_add_fmt_str(doc, "summary",
                      xasprintf("Relay for people who moved from X to the fediverse: it relays "
                                "their public posts to the instances of their former X "
                                "followers. Instance admins add %s/inbox as a relay.",
                                base));
    /* Mastodon finds the relay by this exact string, so it must equal what admins type. */
    actor_add_boxes(doc, id, inbox, base);
    free(inbox);
    /* The status page is the human view of this service. */
    actor_add_fmt_str(doc, "url", xasprintf("%s/", base));
    json_object_object_add(doc, "manuallyApprovesFollowers", json_object_new_boolean(0));
    json_object_object_add(doc, "publicKey", actor_public_key_new(id, app->public_pem));
    return doc;
}

struct json_object *
actor_bridge_new(const struct app *app)
{
    const struct config *cfg = app->cfg;
    const char *base = cfg->base_url;
    const char *id = app->bridge_id;
    struct json_object *doc = json_object_new_object();
    char *inbox = xasprintf("%s/inbox", id);

    json_object_object_add(doc, "@context", actor_context_new(0));
    actor_add_str(doc, "id", id);
    actor_add_str(doc, "type", "Service");
    actor_add_str(doc, "preferredUsername", actor_or_empty(cfg->bridge_username));
    actor_add_str(doc, "name", actor_or_empty(cfg->bridge_display_name));
    actor_add_str(doc, "summary",
                  "Moved from X? Follow this account: it sends you a private link where you "
                  "drop your X archive, and reconnects you with your former X contacts who "
                  "moved too, only where both of you agreed.");
    actor_add_boxes(doc, id, inbox, base);
    free(inbox);
    actor_add_fmt_str(doc, "url", xasprintf("%s/", base));
    json_object_object_add(doc, "discoverable", json_object_new_boolean(1));
    json_object_object_add(doc, "manuallyApprovesFollowers", json_object_new_boolean(0));
    json_object_object_add(doc, "publicKey", actor_public_key_new(id, app->public_pem));
    return doc;
}

/*
 * [activitystreams, security/v1, inline terms]. security/v1 keeps publicKey through JSON-LD
 * expansion (Fedify drops it otherwise). The terms are written inline, as Mastodon does: no
 * context URL to fetch, and discoverable (and movedTo, alsoKnownAs, indexable for a stand-in)
 * keep their meaning under JSON-LD processing.
 */
static struct json_object *
actor_context_new(int moved)
{
    struct json_object *ctx = json_object_new_array();
    struct json_object *terms = json_object_new_object();

    json_object_array_add(ctx, json_object_new_string(ACTOR_AS_CONTEXT));
    json_object_array_add(ctx, json_object_new_string(ACTOR_SEC_CONTEXT));
    actor_add_str(terms, "manuallyApprovesFollowers", "as:manuallyApprovesFollowers");
    actor_add_str(terms, "toot", "http://joinmastodon.org/ns#");
    actor_add_str(terms, "discoverable", "toot:discoverable");
    if (moved) {
        json_object_object_add(terms, "movedTo", actor_term("as:movedTo"));
        json_object_object_add(terms, "alsoKnownAs", actor_term("as:alsoKnownAs"));
        actor_add_str(terms, "indexable", "toot:indexable");
    }
    json_object_array_add(ctx, terms);
    return ctx;
}

/* inbox, outbox, followers, following and endpoints.sharedInbox (<base>/inbox). */
static void
actor_add_boxes(struct json_object *doc, const char *id, const char *inbox, const char *base)
{
    struct json_object *endpoints = json_object_new_object();

    actor_add_str(doc, "inbox", inbox);
    actor_add_fmt_str(doc, "outbox", xasprintf("%s/outbox", id));
    actor_add_fmt_str(doc, "followers", xasprintf("%s/followers", id));
    actor_add_fmt_str(doc, "following", xasprintf("%s/following", id));
    actor_add_fmt_str(endpoints, "sharedInbox", xasprintf("%s/inbox", base));
    json_object_object_add(doc, "endpoints", endpoints);
}

/* {"@id": iri, "@type": "@id"}: the value is a link, as Mastodon's own context says. */
static struct json_object *
actor_term(const char *iri)
{
    struct json_object *t = json_object_new_object();

    actor_add_str(t, "@id", iri);
    actor_add_str(t, "@type", "@id");
    return t;
}

/* The summary's first sentence: where the person went, linked. */
static char *
actor_standin_where(const char *handle_html, const char *actor_uri, const char *acct,
                    const char *bluesky)
{
    char *who = acct != NULL ? xasprintf("@%s", acct) : xstrdup(actor_uri != NULL ? actor_uri : "");
    char *who_html = activity_html_escape(who, 0);
    char *href_html = activity_html_escape(actor_uri != NULL ? actor_uri : "", 0);
    char *out;

    if (bluesky == NULL) {
        out = xasprintf("%s left X for the fediverse and is now <a href=\"%s\">%s</a>.",
                        handle_html, href_html, who_html);
    } else {
        char *profile = bridgefed_profile_url(bluesky);
        char *profile_html = activity_html_escape(profile, 0);
        char *bsky_html = activity_html_escape(bluesky, 0);

        out = actor_uri != NULL
                  ? xasprintf("%s left X for Bluesky and is now <a href=\"%s\">@%s</a> there, "
                              "and <a href=\"%s\">%s</a> on the fediverse through a bridge.",
                              handle_html, profile_html, bsky_html, href_html, who_html)
                  : xasprintf("%s left X for Bluesky and is now <a href=\"%s\">@%s</a> there.",
                              handle_html, profile_html, bsky_html);
        free(profile);
        free(profile_html);
        free(bsky_html);
    }
    free(who);
    free(who_html);
    free(href_html);
    return out;
}

struct json_object *
actor_standin_new(const struct app *app, const char *x_id, const char *x_handle,
                  const char *actor_uri, const char *acct, const char *bluesky, int verified)
{
    const char *base = app->cfg->base_url;
    struct json_object *doc = json_object_new_object();
    char *id = xasprintf("%s%s", app->standin_prefix, x_id);
    char *inbox = xasprintf("%s/inbox", base);
    char *handle_html = activity_html_escape(x_handle, 0);
    char *where = actor_standin_where(handle_html, actor_uri, acct, bluesky);

    json_object_object_add(doc, "@context", actor_context_new(1));
    actor_add_str(doc, "id", id);
    actor_add_str(doc, "type", "Person");
    /* Mastodon's WebFinger loop-back asks for acct:<this>@host: the handle answers it. */
    actor_add_str(doc, "preferredUsername", x_handle);
    actor_add_fmt_str(doc, "name",
                      xasprintf("%s (moved%s)", x_handle, verified ? "" : ", not verified"));
    /* An archive is unsigned: without X's word the claim may be anyone's. */
    actor_add_fmt_str(doc, "summary",
                      xasprintf("<p>%s This is only a pointer kept by %s: follow them there.</p>%s",
                                where, app->cfg->host,
                                verified ? ""
                                         : "<p>Not verified: this X account was claimed with "
                                           "an uploaded archive, which X does not sign.</p>"));
    if (actor_uri == NULL && bluesky != NULL) {
        /* Nothing to move to on the fediverse: the profile is where people find them. */
        actor_add_fmt_str(doc, "url", bridgefed_profile_url(bluesky));
    } else {
        /* Mastodon keeps a url only on the actor's own host; browsers are sent on from there. */
        actor_add_str(doc, "url", id);
    }
    /* Follows come to the shared inbox and are refused there (a moved account takes none). */
    actor_add_boxes(doc, id, inbox, base);
    if (actor_uri != NULL) {
        struct json_object *aka = json_object_new_array();

        actor_add_str(doc, "movedTo", actor_uri);
        json_object_array_add(aka, json_object_new_string(actor_uri));
        json_object_object_add(doc, "alsoKnownAs", aka);
    }
    json_object_object_add(doc, "manuallyApprovesFollowers", json_object_new_boolean(0));
    /* Not for directories or search indexes: it is a signpost, not a person. */
    json_object_object_add(doc, "discoverable", json_object_new_boolean(0));
    json_object_object_add(doc, "indexable", json_object_new_boolean(0));
    json_object_object_add(doc, "publicKey", actor_public_key_new(id, app->public_pem));
    free(id);
    free(inbox);
    free(handle_html);
    free(where);
    return doc;
}

/*
 * Every representation is JSON, whatever Accept says: peers fetch with
 * varied Accept headers (and signed or not), a cache never mixes two
 * representations of one URL, and a person who opens the actor in a browser
 * finds the status page through the actor's url.
 */
void
actor_get_relay(struct app *app, struct evhttp_request *req, const char *path)
{
    if (strcmp(path, "/actor") == 0)
        actor_reply(req, actor_relay_new(app));
    else if (strncmp(path, "/actor/", 7) == 0)
        actor_get_sub(req, app->relay_id, path + 7, 0);
    else
        reply_fail(req, REPLY_ERR_NOT_FOUND, "no such actor");
}

void
actor_get_bridge(struct app *app, struct evhttp_request *req, const char *path)
{
    const char *name = app->cfg->bridge_username;
    size_t len = strlen(name);

    /* Exact case: the id a peer fetches must equal the id the document states. */
    if (strncmp(path, "/users/", 7) != 0 || strncmp(path + 7, name, len) != 0)
        reply_fail(req, REPLY_ERR_NOT_FOUND, "no such actor");
    else if (path[7 + len] == '\0')
        actor_reply(req, actor_bridge_new(app));
    else if (path[7 + len] == '/')
        actor_get_sub(req, app->bridge_id, path + 7 + len + 1, 1);
    else
        reply_fail(req, REPLY_ERR_NOT_FOUND, "no such actor");
}

void
actor_get_sub(struct evhttp_request *req, const char *actor_id, const char *rest, int has_inbox)
{
    if (strcmp(rest, "followers") == 0 || strcmp(rest, "following") == 0 ||
        strcmp(rest, "outbox") == 0)
        actor_reply(req, actor_collection_new(actor_id, rest));
    else if (has_inbox && strcmp(rest, "inbox") == 0)
        reply_fail(req, REPLY_ERR_METHOD, "the inbox only takes POST");
    else
        reply_fail(req, REPLY_ERR_NOT_FOUND, "no such collection");
}

/*
 * The collections are empty for now: the federation work fills them (the
 * relay's followers will be the subscribed instances from the instances
 * table, the bridge's followers its members). An empty OrderedCollection
 * with totalItems is already what Mastodon and others expect to read.
 */
static struct json_object *
actor_collection_new(const char *actor_id, const char *name)
{
    struct json_object *doc = json_object_new_object();

    actor_add_str(doc, "@context", ACTOR_AS_CONTEXT);
    actor_add_fmt_str(doc, "id", xasprintf("%s/%s", actor_id, name));
    actor_add_str(doc, "type", "OrderedCollection");
    json_object_object_add(doc, "totalItems", json_object_new_int(0));
    json_object_object_add(doc, "orderedItems", json_object_new_array());
    return doc;
}

static struct json_object *
actor_public_key_new(const char *id, const char *pem)
{
    struct json_object *key = json_object_new_object();

    actor_add_fmt_str(key, "id", xasprintf("%s#main-key", id));
    actor_add_str(key, "owner", id);
    actor_add_str(key, "publicKeyPem", actor_or_empty(pem));
    return key;
}

void
actor_reply(struct evhttp_request *req, struct json_object *doc)
{
    /* Short, like Mastodon's: keys and names may change, and peers refetch on failure anyway. */
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
                      "public, max-age=180");
    reply_json(req, 200, REPLY_AP_CTYPE, doc);
}

static const char *
actor_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static void
actor_add_str(struct json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value));
}

/* Takes ownership of value (from xasprintf). */
static void
actor_add_fmt_str(struct json_object *obj, const char *key, char *value)
{
    actor_add_str(obj, key, value);
    free(value);
}
