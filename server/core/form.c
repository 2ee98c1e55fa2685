/* application/x-www-form-urlencoded bodies (OAuth 2.0 requests), built one field at a time. */
#include <stdlib.h>

#include <event2/http.h>

#include "form.h"
#include "seal.h"
#include "xmalloc.h"

void
form_add(char **buf, const char *name, const char *value)
{
    char *enc = evhttp_uriencode(value, -1, 1);
    char *next = xasprintf("%s%s%s=%s", *buf != NULL ? *buf : "",
                           *buf != NULL && **buf != '\0' ? "&" : "", name, enc);

    seal_wipe_free(enc);
    seal_wipe_free(*buf);
    *buf = next;
}
