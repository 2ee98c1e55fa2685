/* host-meta (RFC 6415): the XRD with the lrdd template, written with libxml2, and its JSON form. */
#ifndef PASSERELLE_HOSTMETA_H
#define PASSERELLE_HOSTMETA_H

#include <stddef.h>

struct app;
struct evhttp_request;

/* The XRD document for base, newly allocated; *len set. NULL on failure. */
char *hostmeta_xrd(const char *base, size_t *len);

/* GET /.well-known/host-meta (XRD) and /.well-known/host-meta.json (JRD). */
void hostmeta_get(struct app *app, struct evhttp_request *req, const char *path);

#endif
