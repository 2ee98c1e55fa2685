/* Bar charts drawn as SVG by the server: no script, no external file, readable as text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "chart.h"
#include "htmltext.h"
#include "texts.h"

/* Geometry in SVG user units; the viewBox lets the page scale it to any width. */
#define CHART_W      600
#define CHART_H      200
#define CHART_TOP    24 /* room for the largest value's label */
#define CHART_BOTTOM 24 /* room for the first and last day's labels */
#define CHART_LEFT   8
#define CHART_RIGHT  8

void
chart_escape(struct evbuffer *out, const char *s)
{
    for (; *s != '\0'; s++) {
        const char *e = htmltext_entity(*s);

        if (e != NULL)
            evbuffer_add(out, e, strlen(e));
        else
            evbuffer_add(out, s, 1);
    }
}

void
chart_svg_bars(struct evbuffer *out, const struct chart_words *words, const struct chart_bar *bars,
               size_t n)
{
    char total_s[24], days_s[24], *desc;
    const int plot_w = CHART_W - CHART_LEFT - CHART_RIGHT;
    const int plot_h = CHART_H - CHART_TOP - CHART_BOTTOM;
    long max = 0, total = 0;

    for (size_t i = 0; i < n; i++) {
        if (bars[i].value > max)
            max = bars[i].value;
        if (bars[i].value > 0)
            total += bars[i].value;
    }
    evbuffer_add_printf(out,
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                        "role=\"img\" aria-labelledby=\"chart-title chart-desc\" "
                        "class=\"chart\"><title id=\"chart-title\">",
                        CHART_W, CHART_H);
    chart_escape(out, words->title);
    evbuffer_add_printf(out, "</title><desc id=\"chart-desc\">");
    snprintf(total_s, sizeof(total_s), "%ld", total);
    snprintf(days_s, sizeof(days_s), "%zu", n);
    desc = texts_format_text(words->desc, "total", total_s, "days", days_s, "from",
                             n > 0 ? bars[0].label : "", "to", n > 0 ? bars[n - 1].label : "",
                             (const char *)NULL);
    chart_escape(out, desc);
    free(desc);
    evbuffer_add_printf(out,
                        "</desc><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                        "stroke=\"#888\" stroke-width=\"1\"/>",
                        CHART_LEFT, CHART_TOP + plot_h, CHART_LEFT + plot_w, CHART_TOP + plot_h);
    for (size_t i = 0; i < n; i++) {
        /* Integer layout: each bar gets an equal slot and leaves a fifth of it as the gap. */
        long v = bars[i].value > 0 ? bars[i].value : 0;
        int x = CHART_LEFT + (int)((size_t)plot_w * i / n);
        int slot = CHART_LEFT + (int)((size_t)plot_w * (i + 1) / n) - x;
        int w = slot - slot / 5 > 0 ? slot - slot / 5 : 1;
        int h = max > 0 ? (int)((long long)v * plot_h / max) : 0;

        if (v > 0 && h == 0)
            h = 1; /* a day with arrivals never looks empty */
        evbuffer_add_printf(out,
                            "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
                            "fill=\"#4a6fa5\" data-value=\"%ld\"><title>",
                            x, CHART_TOP + plot_h - h, w, h, v);
        chart_escape(out, bars[i].label);
        evbuffer_add_printf(out, ": %ld</title></rect>", v);
    }
    if (max > 0) {
        evbuffer_add_printf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#444\">",
                            CHART_LEFT, CHART_TOP - 8);
        chart_escape(out, words->max);
        evbuffer_add_printf(out, " %ld</text>", max);
    }
    if (n > 0) {
        evbuffer_add_printf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#444\">",
                            CHART_LEFT, CHART_H - 6);
        chart_escape(out, bars[0].label);
        evbuffer_add_printf(out,
                            "</text><text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#444\" "
                            "text-anchor=\"end\">",
                            CHART_W - CHART_RIGHT, CHART_H - 6);
        chart_escape(out, bars[n - 1].label);
        evbuffer_add(out, "</text>", 7);
    }
    evbuffer_add(out, "</svg>", 6);
}
