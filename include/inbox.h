/* The inbox: signed POSTs checked (type, size, digest, date, signature, owner) before dispatch. */
#ifndef PASSERELLE_INBOX_H
#define PASSERELLE_INBOX_H

#include <stddef.h>

#include "reply.h"

struct app;
struct evhttp_request;
struct json_object;

/*
 * An activity whose HTTP signature verified and whose key belongs to its actor. Owned by
 * the inbox; the dispatcher borrows it and ends it with inbox_finish exactly once.
 */
struct inbox_activity {
    struct app *app;
    struct evhttp_request *req;
    struct json_object *json; /* the parsed body */
    const char *id;           /* borrowed from json: never NULL */
    const char *type;         /* borrowed from json: never NULL */
    const char *actor;        /* borrowed from json (string or object's id): never NULL */
    const char *body;         /* the raw bytes, for verbatim forwarding */
    size_t body_len;
    char domain[256];           /* the actor's host[:port], lowercase */
    int to_bridge;              /* posted to the bridge account's inbox */
    int allowed;                /* relay_mode=open, or the domain is allowed (config or admin) */
    const char *actor_inbox;    /* from the actor document */
    const char *actor_shared;   /* endpoints.sharedInbox, or NULL */
    const char *actor_type;     /* Application, Person, Service... */
    const char *actor_username; /* preferredUsername */
};

/*
 * Parses a->body (a->body_len bytes, valid UTF-8, strict JSON, at most 32 levels deep)
 * into a->json, and its id, type and actor (string or object's id), and the actor's domain;
 * the id must be on the actor's host. Pure (exported for tests and fuzzing). Returns 0, or -1
 * with a static reason (400); a->json is set even then when the body was JSON, for the caller
 * to free.
 */
int inbox_parse(struct inbox_activity *a, const char **reason);

/* POST /inbox, POST /actor and POST /users/<bridge>/inbox. Answers exactly once. */
void inbox_post(struct app *app, struct evhttp_request *req, const char *path);

/*
 * Ends a dispatched activity: 202 when ok, else the error kind and a short reason.
 * result labels the inbox metric ("accepted", "duplicate", ...). Frees a.
 */
void inbox_finish(struct inbox_activity *a, int ok, enum reply_err kind, const char *result,
                  const char *reason);

/* Declares the inbox's metric families (once, at start). */
void inbox_metrics_describe(void);

#endif
