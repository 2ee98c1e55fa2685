/* The HTTP listener's lifecycle (libevent's evhttp): limits, TLS, graceful stop. main.c's alone. */
#ifndef PASSERELLE_HTTPD_H
#define PASSERELLE_HTTPD_H

#include <stddef.h>

#include "connguard.h"

struct app;
struct evhttp_request;

/*
 * Where a request goes once it passed the listener's checks (header count, framing, path,
 * size): dispatch(arg, req, path) must answer req exactly once. The listener knows no route;
 * main.c hands it routes_dispatch.
 */
typedef void (*httpd_dispatch_fn)(void *arg, struct evhttp_request *req, const char *path);

/* Starts listening on cfg's address and port (TLS when cfg has a cert). */
struct httpd *httpd_new(struct app *app, httpd_dispatch_fn dispatch, void *arg, char *err,
                        size_t errlen);
/*
 * Holds every POST to the upload path from the end of its head until fn has released it
 * (connguard_release): main.c hands it linkpage_hold, which looks the session up first.
 */
void httpd_set_upload_hold(struct httpd *h, connguard_hold_fn fn, void *arg);
/* The port actually bound (useful with listen_port = 0). */
int httpd_port(const struct httpd *h);
/* Stops accepting new connections; requests in flight go on. */
void httpd_stop_accepting(struct httpd *h);
/* Requests accepted and not yet answered. */
int httpd_in_flight(const struct httpd *h);
void httpd_free(struct httpd *h);

#endif
