/* Unit tests for form.c: fields joined with "&", values percent-encoded, names as given. */
#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "tap.h"

int
main(void)
{
    char *f = NULL;

    form_add(&f, "grant_type", "authorization_code");
    is_str(f, "grant_type=authorization_code", "the first field has no &");
    form_add(&f, "redirect_uri", "https://b.example/cb?x=1&y=2");
    is_str(
        f,
        "grant_type=authorization_code&redirect_uri=https%3A%2F%2Fb.example%2Fcb%3Fx%3D1%26y%3D2",
        "a URL is percent-encoded, & and = too");
    form_add(&f, "scope", "atproto repo:app.bsky.graph.follow");
    ok(f != NULL && strstr(f, "&scope=atproto+repo%3Aapp.bsky.graph.follow") != NULL,
       "a space is +, a colon %%3A");
    free(f);
    f = NULL;
    form_add(&f, "state", "");
    is_str(f, "state=", "an empty value");
    free(f);
    return done_testing();
}
