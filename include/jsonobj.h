/* A JSON object (or array) from a body that came over the network: size and depth bounded. */
#ifndef PASSERELLE_JSONOBJ_H
#define PASSERELLE_JSONOBJ_H

#include <stddef.h>

struct json_object;

/*
 * Parses len bytes of body as one JSON value nested at most depth deep. Returns it (the caller
 * puts it) when it is an object with nothing but blanks after it, else NULL: also when body is
 * NULL, empty or over max bytes.
 */
struct json_object *jsonobj_parse(const char *body, size_t len, size_t max, int depth);

/* The same for a body that must be a JSON array (a list of things, as GET /api/v1/lists). */
struct json_object *jsonobj_parse_array(const char *body, size_t len, size_t max, int depth);

#endif
