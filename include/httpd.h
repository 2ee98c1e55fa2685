/* Inbound HTTP on libevent's evhttp: limits, routing, replies, TLS, graceful stop. */
#ifndef PASSERELLE_HTTPD_H
#define PASSERELLE_HTTPD_H

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
typedef void (*httpd_handler_fn)(struct app *app, struct evhttp_request *req, const char *path);

/* Error kinds of the whole program, mapped to an HTTP status in one place. */
enum httpd_err {
    HTTPD_ERR_BAD_REQUEST,    /* 400: malformed input */
    HTTPD_ERR_UNAUTHORIZED,   /* 401: signature missing or wrong */
    HTTPD_ERR_FORBIDDEN,      /* 403: blocked */
    HTTPD_ERR_NOT_FOUND,      /* 404 */
    HTTPD_ERR_METHOD,         /* 405 */
    HTTPD_ERR_NOT_ACCEPTABLE, /* 406 */
    HTTPD_ERR_GONE,           /* 410 */
    HTTPD_ERR_TOO_LARGE,      /* 413 */
    HTTPD_ERR_MEDIA_TYPE,     /* 415 */
    HTTPD_ERR_RATE_LIMITED,   /* 429 */
    HTTPD_ERR_INTERNAL,       /* 500 */
    HTTPD_ERR_UNAVAILABLE,    /* 503: database or a remote key unreachable, or shutting down */
};

int httpd_err_status(enum httpd_err kind);

/*
 * Where a request goes once it passed the listener's checks (header count, framing, path,
 * size): dispatch(arg, req, path) must answer req exactly once. The listener knows no route;
 * main.c hands it routes_dispatch.
 */
typedef void (*httpd_dispatch_fn)(void *arg, struct evhttp_request *req, const char *path);

/* Starts listening on cfg's address and port (TLS when cfg has a cert). */
struct httpd *httpd_new(struct app *app, httpd_dispatch_fn dispatch, void *arg, char *err,
                        size_t errlen);
/* The port actually bound (useful with listen_port = 0). */
int httpd_port(const struct httpd *h);
/* Stops accepting new connections; requests in flight go on. */
void httpd_stop_accepting(struct httpd *h);
/* Requests accepted and not yet answered. */
int httpd_in_flight(const struct httpd *h);
void httpd_free(struct httpd *h);

/* Replies. body is copied. Adds Content-Type and the common headers. */
void httpd_reply(struct evhttp_request *req, int status, const char *ctype, const char *body,
                 size_t len);
/* Serialises obj, takes ownership of it (json_object_put), replies. */
void httpd_reply_json(struct evhttp_request *req, int status, const char *ctype,
                      struct json_object *obj);
/* Replies {"error": reason} with the status that kind maps to. */
void httpd_fail(struct evhttp_request *req, enum httpd_err kind, const char *reason);

/* The value of a query parameter, newly allocated (decoded), or NULL. */
char *httpd_query_param(struct evhttp_request *req, const char *name);
/* The request header, borrowed from req, or NULL. */
const char *httpd_header(struct evhttp_request *req, const char *name);
/* 1 when the Accept header asks for an ActivityPub or JSON representation. */
int httpd_wants_activity_json(struct evhttp_request *req);

#define HTTPD_AP_CTYPE "application/activity+json"

/* The one path whose body may reach max_archive_bytes; every other stops at max_body_bytes. */
#define HTTPD_UPLOAD_PATH "/link/archive"

#endif
