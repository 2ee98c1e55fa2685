/* Unit tests for server/members/export.c: CSV fields written as Mastodon's exporter (Ruby's CSV)
 * writes them. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "export.h"
#include "tap.h"

static char *
field(const char *in)
{
    struct evbuffer *b = evbuffer_new();
    size_t n;
    char *out;

    export_csv_field(b, in);
    n = evbuffer_get_length(b);
    out = calloc(1, n + 1);
    evbuffer_remove(b, out, n);
    evbuffer_free(b);
    return out;
}

static void
test_fields(void)
{
    const char *cases[][2] = {
        { "al@a.example", "al@a.example" },
        { "", "" },
        { "a,b", "\"a,b\"" },
        { "say \"hi\"", "\"say \"\"hi\"\"\"" },
        { "line\nbreak", "\"line\nbreak\"" },
        { "cr\rhere", "\"cr\rhere\"" },
        { "élan@é.example", "élan@é.example" },
        { "'quote", "'quote" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = field(cases[i][0]);

        is_str(got, cases[i][1], "field %zu", i);
        free(got);
    }
    is_str(EXPORT_FOLLOWING_HEADER, "Account address,Show boosts,Notify on new posts,Languages\n",
           "the header Mastodon's importer expects");
}

int
main(void)
{
    test_fields();
    return done_testing();
}
