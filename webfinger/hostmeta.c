/* host-meta (RFC 6415): the XRD with the WebFinger lrdd template, and its JSON form. */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <json-c/json.h>
#include <libxml/tree.h>

#include "app.h"
#include "config.h"
#include "hostmeta.h"
#include "reply.h"
#include "xmalloc.h"

#define HOSTMETA_XRD_NS    "http://docs.oasis-open.org/ns/xri/xrd-1.0"
#define HOSTMETA_XRD_CTYPE "application/xrd+xml; charset=utf-8"
/* libxml2's BAD_CAST drops const, which -Wcast-qual refuses. */
#define HOSTMETA_X(s) ((const xmlChar *)(s))

static char *hostmeta_template(const char *base);
static int hostmeta_wants_json(struct evhttp_request *req);

/*
 * Built with libxml2's tree API rather than by pasting strings, so that the
 * base URL is escaped as an attribute value whatever it holds.
 */
char *
hostmeta_xrd(const char *base, size_t *len)
{
    xmlDocPtr doc;
    xmlNodePtr root, link;
    xmlNsPtr ns;
    xmlChar *mem = NULL;
    char *template, *out = NULL;
    int size = 0;

    doc = xmlNewDoc(HOSTMETA_X("1.0"));
    if (doc == NULL)
        return NULL;
    root = xmlNewDocNode(doc, NULL, HOSTMETA_X("XRD"), NULL);
    if (root == NULL) {
        xmlFreeDoc(doc);
        return NULL;
    }
    xmlDocSetRootElement(doc, root);
    /* Mastodon's fallback looks for Link in exactly this namespace. */
    ns = xmlNewNs(root, HOSTMETA_X(HOSTMETA_XRD_NS), NULL);
    xmlSetNs(root, ns);
    link = xmlNewChild(root, ns, HOSTMETA_X("Link"), NULL);
    template = hostmeta_template(base);
    if (link != NULL && xmlNewProp(link, HOSTMETA_X("rel"), HOSTMETA_X("lrdd")) != NULL &&
        xmlNewProp(link, HOSTMETA_X("type"), HOSTMETA_X("application/xrd+xml")) != NULL &&
        xmlNewProp(link, HOSTMETA_X("template"), HOSTMETA_X(template)) != NULL)
        xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
    free(template);
    if (mem != NULL && size > 0) {
        out = xstrndup((const char *)mem, (size_t)size);
        *len = (size_t)size;
    }
    xmlFree(mem);
    xmlFreeDoc(doc);
    return out;
}

void
hostmeta_get(struct app *app, struct evhttp_request *req, const char *path)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *base = app->cfg->base_url;

    evhttp_add_header(out, "Access-Control-Allow-Origin", "*");
    /* The two representations differ by Accept on the same URL. */
    evhttp_add_header(out, "Vary", "Accept");
    evhttp_add_header(out, "Cache-Control", "public, max-age=86400");
    if (strcmp(path, "/.well-known/host-meta.json") == 0 || hostmeta_wants_json(req)) {
        struct json_object *doc = json_object_new_object();
        struct json_object *links = json_object_new_array();
        struct json_object *link = json_object_new_object();
        char *template = hostmeta_template(base);

        json_object_object_add(link, "rel", json_object_new_string("lrdd"));
        json_object_object_add(link, "template", json_object_new_string(template));
        free(template);
        json_object_array_add(links, link);
        json_object_object_add(doc, "links", links);
        reply_json(req, 200, "application/json", doc);
    } else {
        size_t len = 0;
        char *xrd = hostmeta_xrd(base, &len);

        if (xrd == NULL) {
            reply_fail(req, REPLY_ERR_INTERNAL, "cannot build host-meta");
            return;
        }
        reply_send(req, 200, HOSTMETA_XRD_CTYPE, xrd, len);
        free(xrd);
    }
}

static char *
hostmeta_template(const char *base)
{
    return xasprintf("%s/.well-known/webfinger?resource={uri}", base);
}

/*
 * JSON only for clients that ask for JSON and not XML: Mastodon's fallback
 * sends "application/xrd+xml, application/xml, text/xml" and must get XRD.
 */
static int
hostmeta_wants_json(struct evhttp_request *req)
{
    const char *accept = reply_req_header(req, "Accept");

    return accept != NULL && strstr(accept, "json") != NULL && strstr(accept, "xml") == NULL;
}
