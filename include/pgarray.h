/* PostgreSQL array literals for parameters ($1::text[]), so a list travels as one value. */
#ifndef PASSERELLE_PGARRAY_H
#define PASSERELLE_PGARRAY_H

#include <stddef.h>

/* {"a","b\"c"}: the n strings quoted, '"' and '\' escaped. Returns a malloc'd string. */
char *pgarray_text(char *const *items, size_t n);

#endif
