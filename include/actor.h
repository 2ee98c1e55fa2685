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

/* GET /actor, /actor/{followers,following,outbox} */
void actor_get_relay(struct app *app, struct evhttp_request *req, const char *path);
/* GET /users/<bridge>, /users/<bridge>/{followers,following,outbox} */
void actor_get_bridge(struct app *app, struct evhttp_request *req, const char *path);

#endif
