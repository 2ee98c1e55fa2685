/* NodeInfo discovery and documents (2.0 and 2.1). */
#ifndef PASSERELLE_NODEINFO_H
#define PASSERELLE_NODEINFO_H

struct app;
struct evhttp_request;

/* GET /.well-known/nodeinfo, /nodeinfo/2.0, /nodeinfo/2.1 */
void nodeinfo_get(struct app *app, struct evhttp_request *req, const char *path);

#endif
