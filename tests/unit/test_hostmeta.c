/* Unit tests for webfinger/hostmeta.c: the XRD parses back with the namespace and lrdd template. */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "hostmeta.h"
#include "tap.h"
#include "xmalloc.h"

#define XRD_NS "http://docs.oasis-open.org/ns/xri/xrd-1.0"
#define X(s)   ((const xmlChar *)(s))

/* The lrdd template found the way Mastodon finds it (XPath in the XRD namespace), or NULL. */
static char *
test_xpath_template(xmlDocPtr doc)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr res = NULL;
    char *out = NULL;

    if (ctx == NULL)
        return NULL;
    if (xmlXPathRegisterNs(ctx, X("xrd"), X(XRD_NS)) == 0)
        res = xmlXPathEvalExpression(X("//xrd:Link[@rel='lrdd']/@template"), ctx);
    if (res != NULL && res->nodesetval != NULL && res->nodesetval->nodeNr == 1) {
        xmlChar *v = xmlNodeGetContent(res->nodesetval->nodeTab[0]);

        if (v != NULL)
            out = xstrdup((const char *)v);
        xmlFree(v);
    }
    xmlXPathFreeObject(res);
    xmlXPathFreeContext(ctx);
    return out;
}

static char *
test_prop(xmlNodePtr node, const char *name)
{
    xmlChar *v = xmlGetProp(node, X(name));
    char *out = v != NULL ? xstrdup((const char *)v) : NULL;

    xmlFree(v);
    return out;
}

static void
test_xrd(const char *base)
{
    size_t len = 0;
    char *xrd = hostmeta_xrd(base, &len);
    char *want = xasprintf("%s/.well-known/webfinger?resource={uri}", base);
    char *tmpl, *rel, *type;
    xmlDocPtr doc;
    xmlNodePtr root, link;
    int links = 0;

    ok(xrd != NULL, "%s: XRD built", base);
    if (xrd == NULL) {
        free(want);
        return;
    }
    is_int(len, strlen(xrd), "%s: length matches the text", base);
    ok(strncmp(xrd, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38) == 0,
       "%s: XML declaration says UTF-8", base);
    doc = xmlReadMemory(xrd, (int)len, "host-meta.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
    ok(doc != NULL, "%s: XRD parses as XML", base);
    if (doc == NULL) {
        free(xrd);
        free(want);
        return;
    }
    root = xmlDocGetRootElement(doc);
    ok(root != NULL && xmlStrcmp(root->name, X("XRD")) == 0, "%s: root element is XRD", base);
    ok(root != NULL && root->ns != NULL && xmlStrcmp(root->ns->href, X(XRD_NS)) == 0,
       "%s: root is in the XRD namespace", base);
    ok(root != NULL && root->ns != NULL && root->ns->prefix == NULL,
       "%s: the namespace is the default one", base);
    link = NULL;
    for (xmlNodePtr n = root != NULL ? root->children : NULL; n != NULL; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        links++;
        link = n;
    }
    is_int(links, 1, "%s: one child element", base);
    ok(link != NULL && xmlStrcmp(link->name, X("Link")) == 0 && link->ns != NULL &&
           xmlStrcmp(link->ns->href, X(XRD_NS)) == 0,
       "%s: it is Link in the XRD namespace", base);
    rel = link != NULL ? test_prop(link, "rel") : NULL;
    type = link != NULL ? test_prop(link, "type") : NULL;
    is_str(rel, "lrdd", "%s: rel is lrdd", base);
    is_str(type, "application/xrd+xml", "%s: type", base);
    tmpl = test_xpath_template(doc);
    is_str(tmpl, want, "%s: template found by namespaced XPath is exact", base);
    free(rel);
    free(type);
    free(tmpl);
    xmlFreeDoc(doc);
    free(xrd);
    free(want);
}

int
main(void)
{
    xmlInitParser();
    test_xrd("http://127.0.0.1:8080");
    test_xrd("https://bridge.example");
    /* Characters that XML must escape in an attribute come back unchanged. */
    test_xrd("https://odd.example/a&b\"<c>'");
    xmlCleanupParser();
    return done_testing();
}
