/* PostgreSQL array literals: a list of strings as one statement parameter. */
#include <string.h>

#include "pgarray.h"
#include "xmalloc.h"

char *
pgarray_text(char *const *items, size_t n)
{
    size_t cap = 3, len = 0;
    char *s;

    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(items[i]) + 3;
    s = xmalloc(cap);
    s[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            s[len++] = ',';
        s[len++] = '"';
        for (const char *p = items[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                s[len++] = '\\';
            s[len++] = *p;
        }
        s[len++] = '"';
    }
    s[len++] = '}';
    s[len] = '\0';
    return s;
}
