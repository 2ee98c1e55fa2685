/* Bar charts drawn as SVG by the server, for the public status page. */
#ifndef PASSERELLE_CHART_H
#define PASSERELLE_CHART_H

#include <stddef.h>

struct evbuffer;

/* One bar: a label (a day, "2026-11-21") and its value. */
struct chart_bar {
    const char *label;
    long value;
};

/*
 * Appends a self-contained <svg> element to out: one bar per entry, oldest first, heights
 * proportional to the largest value, a text alternative (<title>, <desc>) and a <title> per
 * bar so the figures can be read without the picture. title is plain text (escaped here),
 * as are labels. Pure: the same input gives the same bytes. n may be 0 (an empty chart).
 */
void chart_svg_bars(struct evbuffer *out, const char *title, const struct chart_bar *bars,
                    size_t n);

/* Appends s to out with &, <, >, " and ' escaped (HTML and SVG text and attributes). */
void chart_escape(struct evbuffer *out, const char *s);

#endif
