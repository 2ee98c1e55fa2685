/* The public status page (GET /) and the Prometheus endpoint (GET /metrics). */
#ifndef PASSERELLE_STATUS_H
#define PASSERELLE_STATUS_H

struct app;
struct evhttp_request;

void status_get(struct app *app, struct evhttp_request *req, const char *path);
void status_metrics(struct app *app, struct evhttp_request *req, const char *path);
/* Frees the cached page (at exit). */
void status_shutdown(void);

#endif
