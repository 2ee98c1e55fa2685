/* The route table: which handler answers which method and path. */
#ifndef PASSERELLE_ROUTES_H
#define PASSERELLE_ROUTES_H

struct app;
struct evhttp_request;

/*
 * Finds the handler for req and calls it; answers 404 or 405 itself. app is the struct app:
 * main.c hands this function to httpd_new as the listener's dispatcher.
 */
void routes_dispatch(void *app, struct evhttp_request *req, const char *path);

#endif
