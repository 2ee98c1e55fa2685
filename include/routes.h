/* The route table: which handler answers which method and path. */
#ifndef PASSERELLE_ROUTES_H
#define PASSERELLE_ROUTES_H

struct app;
struct evhttp_request;

/* Finds the handler for req and calls it; answers 404 or 405 itself. */
void routes_dispatch(struct app *app, struct evhttp_request *req, const char *path);

#endif
