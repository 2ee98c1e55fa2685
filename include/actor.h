/* Our own actors: the relay (Application) and the bridge account (Service), and their collections.
 */
#ifndef PASSERELLE_ACTOR_H
#define PASSERELLE_ACTOR_H

struct app;
struct evhttp_request;
struct json_object;

/* The actor documents, as new references (json_object_put). */
struct json_object *actor_relay_new(const struct app *app);
struct json_object *actor_bridge_new(const struct app *app);
/*
 * The stand-in of a findable member's old X account (standin.h): Person, x_handle as
 * preferredUsername, movedTo and alsoKnownAs the member's actor_uri, the server's key under
 * the stand-in's own key id. acct (user@host of the member) may be NULL. For a Bluesky
 * member, bluesky is their handle, and actor_uri and acct their bridged actor and address
 * (Bridgy Fed), or NULL when they are not bridged: then there is no movedTo, and the url is
 * their Bluesky profile; the summary links that profile either way. Unless verified (X
 * confirmed the claim), its name and summary say "not verified".
 */
struct json_object *actor_standin_new(const struct app *app, const char *x_id, const char *x_handle,
                                      const char *actor_uri, const char *acct, const char *bluesky,
                                      int verified);

/* GET /actor, /actor/{followers,following,outbox} */
void actor_get_relay(struct app *app, struct evhttp_request *req, const char *path);
/* GET /users/<bridge>, /users/<bridge>/{followers,following,outbox} */
void actor_get_bridge(struct app *app, struct evhttp_request *req, const char *path);

/*
 * Answers a GET of "<actor_id>/<rest>": the (empty) followers, following or outbox
 * collection; 405 for "inbox" when has_inbox; 404 otherwise.
 */
void actor_get_sub(struct evhttp_request *req, const char *actor_id, const char *rest,
                   int has_inbox);

/* 200 with an actor document (put here) as application/activity+json, briefly cacheable. */
void actor_reply(struct evhttp_request *req, struct json_object *doc);

#endif
