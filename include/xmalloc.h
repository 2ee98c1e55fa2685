/* Allocation that never returns NULL: out of memory aborts with file and line. */
#ifndef PASSERELLE_XMALLOC_H
#define PASSERELLE_XMALLOC_H

#include <stddef.h>

/*
 * Sizes that come from the network must be capped before they reach these
 * functions; they exist so that error paths are about bad input, not about
 * malloc failing.
 */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
