/* The route table: which handler answers which method and path. */
#ifndef PASSERELLE_ROUTES_H
#define PASSERELLE_ROUTES_H

#include "reply.h"

struct app;
struct evhttp_request;

/*
 * The handler for method (one evhttp_cmd_type bit) on path, or NULL. Then *allowed says
 * which methods the path takes (evhttp_cmd_type bits; 0 when no route knows the path).
 */
reply_handler_fn routes_find(const struct app *app, int method, const char *path, int *allowed);

/*
 * Finds the handler for req and calls it; answers 404 or 405 itself. app is the struct app:
 * main.c hands this function to httpd_new as the listener's dispatcher.
 */
void routes_dispatch(void *app, struct evhttp_request *req, const char *path);

/*
 * GET OAUTH_CALLBACK_PATH, the one redirect passerelle's app registers on members' servers:
 * a sign-in's state (signin_owns_callback) goes to signin_callback, any other to
 * oauth_callback (the follow grant).
 */
void routes_oauth_callback(struct app *app, struct evhttp_request *req, const char *path);

#endif
