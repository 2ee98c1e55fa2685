/* Unit tests for server/site/chart.c: the status page's SVG is well-formed, scaled and escaped. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "chart.h"
#include "tap.h"

/* Renders bars and returns the SVG as a NUL-terminated string (caller frees). */
static char *
render(const char *title, const struct chart_bar *bars, size_t n)
{
    struct evbuffer *b = evbuffer_new();
    size_t len;
    char *s;

    struct chart_words w = { title, "{total} in all over {days} days, from {from} to {to}", "max" };

    chart_svg_bars(b, &w, bars, n);
    len = evbuffer_get_length(b);
    s = malloc(len + 1);
    evbuffer_remove(b, s, len);
    s[len] = '\0';
    evbuffer_free(b);
    return s;
}

/* Parses svg strictly as XML; NULL when it is not well-formed. */
static xmlDocPtr
parse(const char *svg)
{
    return xmlReadMemory(svg, (int)strlen(svg), "chart.svg", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* The rect elements' attribute values, in document order. */
static size_t
rects(xmlDocPtr doc, long *heights, long *values, size_t max)
{
    size_t n = 0;

    for (xmlNodePtr c = xmlDocGetRootElement(doc)->children; c != NULL; c = c->next) {
        xmlChar *h, *v;

        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "rect") != 0)
            continue;
        h = xmlGetProp(c, (const xmlChar *)"height");
        v = xmlGetProp(c, (const xmlChar *)"data-value");
        if (n < max) {
            heights[n] = h ? strtol((const char *)h, NULL, 10) : -1;
            values[n] = v ? strtol((const char *)v, NULL, 10) : -1;
        }
        xmlFree(h);
        xmlFree(v);
        n++;
    }
    return n;
}

static void
test_scaled(void)
{
    struct chart_bar bars[] = {
        { "2026-11-19", 2 }, { "2026-11-20", 0 }, { "2026-11-21", 8 }, { "2026-11-22", 1 }
    };
    long h[8], v[8];
    char *svg = render("Arrivals", bars, 4);
    xmlDocPtr doc = parse(svg);

    if (!ok(doc != NULL, "the chart is well-formed XML")) {
        free(svg);
        return;
    }
    is_str((const char *)xmlDocGetRootElement(doc)->name, "svg", "its root is <svg>");
    is_int(rects(doc, h, v, 8), 4, "one bar per day");
    is_int(v[0], 2, "bar values are carried (first)");
    is_int(v[2], 8, "bar values are carried (largest)");
    ok(h[2] > 0 && h[0] * 4 == h[2], "heights are proportional: 2 is a quarter of 8 (%ld, %ld)",
       h[0], h[2]);
    is_int(h[1], 0, "a day with no arrival has no bar height");
    ok(h[3] >= 1, "a day with one arrival is visible (%ld)", h[3]);
    ok(strstr(svg, "<title>2026-11-21: 8</title>") != NULL, "each bar has a readable title");
    ok(strstr(svg, "11 in all over 4 days, from 2026-11-19 to 2026-11-22") != NULL,
       "the text alternative sums the days");
    xmlFreeDoc(doc);
    free(svg);
}

static void
test_escaped_and_empty(void)
{
    struct chart_bar bars[] = { { "<b>&\"'", 3 } };
    char *svg = render("a <script> & \"quote\"", bars, 1);
    xmlDocPtr doc = parse(svg);

    ok(doc != NULL, "hostile text still gives well-formed XML");
    ok(strstr(svg, "<script>") == NULL && strstr(svg, "<b>") == NULL, "markup is escaped");
    ok(strstr(svg, "a &lt;script&gt; &amp; &quot;quote&quot;") != NULL, "title escaped");
    xmlFreeDoc(doc);
    free(svg);

    svg = render("nothing yet", NULL, 0);
    doc = parse(svg);
    ok(doc != NULL, "an empty chart is well-formed");
    ok(strstr(svg, "<rect") == NULL, "an empty chart has no bars");
    ok(strstr(svg, "0 in all over 0 days") != NULL, "and says so");
    xmlFreeDoc(doc);
    free(svg);

    {
        struct chart_bar zeros[] = { { "d1", 0 }, { "d2", 0 } };
        long h[2], v[2];

        svg = render("zeros", zeros, 2);
        doc = parse(svg);
        ok(doc != NULL && rects(doc, h, v, 2) == 2 && h[0] == 0 && h[1] == 0,
           "all-zero days draw flat bars without dividing by zero");
        xmlFreeDoc(doc);
        free(svg);
    }
}

static void
test_deterministic(void)
{
    struct chart_bar bars[] = { { "a", 5 }, { "b", 7 } };
    char *x = render("t", bars, 2), *y = render("t", bars, 2);

    is_str(x, y, "the same input gives the same bytes");
    free(x);
    free(y);
}

int
main(void)
{
    test_scaled();
    test_escaped_and_empty();
    test_deterministic();
    xmlCleanupParser();
    return done_testing();
}
