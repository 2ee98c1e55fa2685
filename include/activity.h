/* The activities our actors author: Accept, Reject, Follow, Undo, public notes, Announce. */
#ifndef PASSERELLE_ACTIVITY_H
#define PASSERELLE_ACTIVITY_H

#include <stddef.h>

#include "url.h"

struct app;
struct json_object;

#define ACTIVITY_PUBLIC "https://www.w3.org/ns/activitystreams#Public"

/*
 * An incoming activity: parsed by inbox_parse, then, once its HTTP signature verified and
 * its key belongs to its actor, handed to dispatch_activity. Owned by whoever received it
 * (the inbox); the dispatcher and the features it calls only borrow it.
 */
struct activity_in {
    struct app *app;
    struct json_object *json; /* the parsed body */
    const char *id;           /* borrowed from json: never NULL */
    const char *type;         /* borrowed from json: never NULL */
    const char *actor;        /* borrowed from json (string or object's id): never NULL */
    const char *body;         /* the raw bytes, for verbatim forwarding */
    size_t body_len;
    char domain[URL_AUTHORITY_MAX]; /* the actor's host[:port], lowercase */
    int to_bridge;                  /* posted to the bridge account's inbox */
    int allowed;                /* relay_mode=open, or the domain is allowed (config or admin) */
    const char *actor_inbox;    /* from the actor document */
    const char *actor_shared;   /* endpoints.sharedInbox, or NULL */
    const char *actor_type;     /* Application, Person, Service... */
    const char *actor_username; /* preferredUsername */
};

/*
 * Every builder returns a new json_object reference (the caller puts it) with
 * "@context": "https://www.w3.org/ns/activitystreams" and an "id" that is unique on our
 * host: base_url + "/activities/" + 32 random hex digits (Misskey requires the id's host
 * to be the signer's). Strings are copied. NULL only when an argument is NULL.
 */

/*
 * Accept or Reject of a Follow, from actor_id, addressed to the follower:
 * {type, actor: actor_id, to: [follower], object: {id: follow_id, type: "Follow",
 * actor: follower, object: follow_object}}. The embedded Follow is rebuilt from these
 * four fields (Mastodon matches its id; Misskey needs its actor and object).
 */
struct json_object *activity_accept_new(const char *base_url, const char *actor_id,
                                        const char *follower, const char *follow_id,
                                        const char *follow_object);
struct json_object *activity_reject_new(const char *base_url, const char *actor_id,
                                        const char *follower, const char *follow_id,
                                        const char *follow_object);

/* Follow{actor: actor_id, object: object_id, to: [object_id]}. */
struct json_object *activity_follow_new(const char *base_url, const char *actor_id,
                                        const char *object_id);

/* Undo{actor: actor_id, object: inner} where inner is borrowed and copied (deep). */
struct json_object *activity_undo_new(const char *base_url, const char *actor_id,
                                      struct json_object *inner);

/*
 * Create{Note} from actor_id, public: to [Public], cc [followers]. content is plain text;
 * it is HTML-escaped and wrapped in <p>. The note's id is on our host too, and both carry
 * "published" (RFC 3339, UTC) and "attributedTo".
 */
struct json_object *activity_note_new(const char *base_url, const char *actor_id,
                                      const char *followers, const char *content);

/* Announce{actor: actor_id, object: object_id, to: [Public], cc: [followers], published}. */
struct json_object *activity_announce_new(const char *base_url, const char *actor_id,
                                          const char *followers, const char *object_id);

/*
 * Plain text made safe for HTML: the five markup characters escaped. paragraph: wrapped in
 * <p>...</p> with line breaks as <br>; otherwise line breaks become spaces. A new string.
 */
char *activity_html_escape(const char *text, int paragraph);

/*
 * The id an activity field names: the string itself, or an embedded object's string "id".
 * Borrowed from o; NULL when o is neither.
 */
const char *activity_ref(struct json_object *o);

/* 1 for the ways servers write the public collection ("as:Public", "Public" too). */
int activity_is_public(const char *s);

/* The longest preferredUsername taken into an acct (Mastodon's local limit is 30). */
#define ACTIVITY_USERNAME_MAX 64

/*
 * 1 when name can stand before the "@host" of an acct: 1 to ACTIVITY_USERNAME_MAX ASCII
 * letters, digits and '_', with '.' or '-' only between them (Mastodon's USERNAME_RE,
 * which also admits the dots and dashes of other servers' names). 0 otherwise, and for NULL.
 */
int activity_username_ok(const char *name);

/* Writes a fresh id (base_url/activities/<32 hex>) into out; -1 if it does not fit. */
int activity_new_id(const char *base_url, char *out, size_t outlen);

#endif
