/* Plain text out of a fediverse note's HTML content, for reading commands sent to the bridge. */
#ifndef PASSERELLE_HTMLTEXT_H
#define PASSERELLE_HTMLTEXT_H

#include <stddef.h>

/* Larger content is refused unparsed: a command never needs more, and parsing is not free. */
#define HTMLTEXT_MAX_INPUT (64 * 1024)

/*
 * Writes into out (always NUL-terminated when outlen > 0) the text of len bytes of HTML,
 * parsed with libxml2's forgiving HTML parser (no network, no error output): text nodes
 * with entities decoded, runs of spaces collapsed, <br> and the end of <p>, <div>, <li> as
 * newlines, leading and trailing blanks trimmed, <script> and <style> skipped. Mention links
 * (an <a> whose class holds "mention", or whose text starts with "@") before any other text
 * are dropped, so "@passerelle help" reads "help"; later ones keep their text, completed
 * with the link's host when it names no host ("@bob" linking to https://b.example/@bob
 * reads "@bob@b.example"). Text that does not fit is cut on a UTF-8 character boundary.
 * Returns the length written, or -1 when html is NULL, larger than HTMLTEXT_MAX_INPUT, or
 * cannot be parsed.
 */
int htmltext_extract(const char *html, size_t len, char *out, size_t outlen);

/*
 * The entity that stands for c in HTML and XML text and attribute values ("&amp;", "&lt;",
 * "&gt;", "&quot;", "&#39;"), or NULL when c is written as itself. Every writer of HTML or
 * SVG escapes through this one table.
 */
const char *htmltext_entity(char c);

#endif
