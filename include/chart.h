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
 * The words a chart shows, plain text (escaped here), in the reader's language: its title;
 * its description, a template whose {total}, {days}, {from} and {to} are the sum of the
 * values, the number of bars and the first and last labels; the word before the largest
 * value drawn ("max").
 */
struct chart_words {
    const char *title;
    const char *desc;
    const char *max;
};

/*
 * Appends a self-contained <svg> element to out: one bar per entry, oldest first, heights
 * proportional to the largest value, a text alternative (<title>, <desc>) and a <title> per
 * bar so the figures can be read without the picture. Labels are plain text (escaped here).
 * Pure: the same input gives the same bytes. n may be 0 (an empty chart).
 */
void chart_svg_bars(struct evbuffer *out, const struct chart_words *words,
                    const struct chart_bar *bars, size_t n);

/* Appends s to out with &, <, >, " and ' escaped (HTML and SVG text and attributes). */
void chart_escape(struct evbuffer *out, const char *s);

#endif
