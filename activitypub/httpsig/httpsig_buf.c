/* The growing string every part of the HTTP signature module writes with, sfv.c included. */
#include <string.h>

#include "httpsig_internal.h"
#include "xmalloc.h"

void
httpsig_buf_add(struct httpsig_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
httpsig_buf_adds(struct httpsig_buf *b, const char *s)
{
    httpsig_buf_add(b, s, strlen(s));
}

/* Hands the string to the caller; an empty buffer still gives "". */
char *
httpsig_buf_finish(struct httpsig_buf *b)
{
    char *p = b->p != NULL ? b->p : xstrdup("");

    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
