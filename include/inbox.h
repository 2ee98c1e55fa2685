/* The inbox: signed POSTs checked (type, size, digest, date, signature, owner) before dispatch. */
#ifndef PASSERELLE_INBOX_H
#define PASSERELLE_INBOX_H

struct activity_in;
struct app;
struct evhttp_request;

/*
 * Parses a->body (a->body_len bytes, valid UTF-8, strict JSON, at most 32 levels deep)
 * into a->json, and its id, type and actor (string or object's id), and the actor's domain;
 * the id must be on the actor's host. Pure (exported for tests and fuzzing). Returns 0, or -1
 * with a static reason (400); a->json is set even then when the body was JSON, for the caller
 * to free.
 */
int inbox_parse(struct activity_in *a, const char **reason);

/* POST /inbox, POST /actor and POST /users/<bridge>/inbox. Answers exactly once. */
void inbox_post(struct app *app, struct evhttp_request *req, const char *path);

/* Declares the inbox's metric families (once, at start). */
void inbox_metrics_describe(void);

#endif
