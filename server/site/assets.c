/* Serves the link page (GET /link) and its CSS and JS (GET /link/assets/...) from the binary. */
#include <string.h>

#include <event2/http.h>

#include "assets.h"
#include "reply.h"

#define ASSETS_PREFIX "/link/assets/"

const struct asset *
assets_find(const char *name)
{
    for (size_t i = 0; i < assets_count; i++)
        if (strcmp(assets_list[i].name, name) == 0)
            return &assets_list[i];
    return NULL;
}

static int
assets_has_ext(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);

    return n > e && strcmp(name + n - e, ext) == 0;
}

const char *
assets_content_type(const char *name)
{
    if (assets_has_ext(name, ".html"))
        return "text/html; charset=utf-8";
    if (assets_has_ext(name, ".css"))
        return "text/css; charset=utf-8";
    if (assets_has_ext(name, ".js"))
        return "text/javascript; charset=utf-8";
    return NULL;
}

/* RFC 9110 13.1.2: If-None-Match uses the weak comparison, so W/"x" matches "x". */
int
assets_etag_matches(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = inm;

    while (*p != '\0') {
        const char *start, *end;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        start = p;
        if (*p == '"') {
            end = strchr(p + 1, '"');
            if (end == NULL)
                return 0;
            end++;
        } else {
            /* Not a quoted entity tag: skip the malformed member. */
            end = p + strcspn(p, ",");
        }
        if ((size_t)(end - start) == elen && strncmp(start, etag, elen) == 0)
            return 1;
        p = end;
    }
    return 0;
}

static void
assets_send(struct evhttp_request *req, const struct asset *a, const char *cache_control)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const char *inm = reply_req_header(req, "If-None-Match");

    evhttp_add_header(out, "Cache-Control", cache_control);
    evhttp_add_header(out, "ETag", a->etag);
    if (inm != NULL && assets_etag_matches(inm, a->etag)) {
        /* No body; a HEAD gets the Content-Length a 200 would carry (RFC 9110 8.6). */
        reply_send(req, 304, NULL, NULL, a->len);
        return;
    }
    reply_send(req, 200, assets_content_type(a->name), (const char *)a->data, a->len);
}

void
assets_get(struct app *app, struct evhttp_request *req, const char *path)
{
    size_t plen = strlen(ASSETS_PREFIX);
    const char *name = strncmp(path, ASSETS_PREFIX, plen) == 0 ? path + plen : "";
    const struct asset *a = assets_find(name);
    const char *ctype = a != NULL ? assets_content_type(a->name) : NULL;

    (void)app;
    /* The page is only served with its own headers (CSP, framing), never from here. */
    if (ctype == NULL || assets_has_ext(a->name, ".html")) {
        reply_fail(req, REPLY_ERR_NOT_FOUND, "not found");
        return;
    }
    assets_send(req, a, "public, max-age=3600");
}

void
assets_page(struct app *app, struct evhttp_request *req, const char *path)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const struct asset *a = assets_find("link.html");

    (void)app;
    (void)path;
    if (a == NULL) {
        reply_fail(req, REPLY_ERR_INTERNAL, "page missing from the build");
        return;
    }
    evhttp_add_header(out, "Content-Security-Policy", ASSETS_PAGE_CSP);
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    evhttp_add_header(out, "X-Frame-Options", "DENY");
    /* Cheap to revalidate (ETag), and a new release's page is seen at once. */
    assets_send(req, a, "no-cache");
}
