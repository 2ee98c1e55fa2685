/* What a handler needs to answer: replies, the error kinds and their statuses, request reads. */
#ifndef PASSERELLE_REPLY_H
#define PASSERELLE_REPLY_H

#include <stddef.h>

struct app;
struct evhttp_request;
struct json_object;

/*
 * Every handler answers its request exactly once, now or later from a
 * callback (libevent keeps the request alive until then, even if the client
 * has gone). After answering it never touches req again.
 * path is the decoded path without the query.
 */
typedef void (*reply_handler_fn)(struct app *app, struct evhttp_request *req, const char *path);

/* Error kinds of the whole program, mapped to an HTTP status in one place. */
enum reply_err {
    REPLY_ERR_BAD_REQUEST,    /* 400: malformed input */
    REPLY_ERR_UNAUTHORIZED,   /* 401: signature missing or wrong */
    REPLY_ERR_FORBIDDEN,      /* 403: blocked */
    REPLY_ERR_NOT_FOUND,      /* 404 */
    REPLY_ERR_METHOD,         /* 405 */
    REPLY_ERR_NOT_ACCEPTABLE, /* 406 */
    REPLY_ERR_GONE,           /* 410 */
    REPLY_ERR_TOO_LARGE,      /* 413 */
    REPLY_ERR_MEDIA_TYPE,     /* 415 */
    REPLY_ERR_RATE_LIMITED,   /* 429 */
    REPLY_ERR_INTERNAL,       /* 500 */
    REPLY_ERR_UNAVAILABLE,    /* 503: database or a remote key unreachable, or shutting down */
};

int reply_err_status(enum reply_err kind);
/* The reason phrase sent with status ("Not Found"). */
const char *reply_reason(int status);

/* Replies. body is copied. Adds Content-Type and the common headers. */
void reply_send(struct evhttp_request *req, int status, const char *ctype, const char *body,
                size_t len);
/* Serialises obj, takes ownership of it (json_object_put), replies. */
void reply_json(struct evhttp_request *req, int status, const char *ctype, struct json_object *obj);
/* Replies {"error": reason} with the status that kind maps to. */
void reply_fail(struct evhttp_request *req, enum reply_err kind, const char *reason);

/* The value of a query parameter of the request, newly allocated (decoded), or NULL. */
char *reply_req_param(struct evhttp_request *req, const char *name);
/* The request header, borrowed from req, or NULL. */
const char *reply_req_header(struct evhttp_request *req, const char *name);
/*
 * The language a person's browser asks for (Accept-Language, texts_lang_pick without a member's
 * choice): the catalogue of the reasons written back to the link page.
 */
const char *reply_req_lang(struct evhttp_request *req);
/* The peer's address as text (no port), "" when unknown. */
void reply_req_peer(struct evhttp_request *req, char *out, size_t outlen);
/*
 * The client's address as text: the peer's, or, when the peer is loopback (nginx or Caddy
 * in front, README), the last address of X-Forwarded-For (the one the proxy added), else
 * X-Real-IP. "" when unknown. For per-client limits, never for trust.
 */
void reply_req_client(struct evhttp_request *req, char *out, size_t outlen);
/* 1 when the request's Accept header asks for an ActivityPub or JSON representation. */
int reply_wants_activity_json(struct evhttp_request *req);

/*
 * Called with every request answered through reply_send (so also reply_json and reply_fail),
 * just before its answer goes out. The listener sets it to keep its in-flight count, which
 * graceful shutdown waits on; the replies take only the request, which is what every handler
 * holds. fn NULL: nobody is told.
 */
typedef void (*reply_answered_fn)(void *arg, struct evhttp_request *req);
void reply_set_answered(reply_answered_fn fn, void *arg);

#define REPLY_AP_CTYPE "application/activity+json"

/* The one path whose body may reach max_archive_bytes; every other stops at max_body_bytes. */
#define REPLY_UPLOAD_PATH "/link/archive"

#endif
