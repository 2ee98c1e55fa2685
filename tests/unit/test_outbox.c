/* Unit tests for server/delivery/outbox.c: the prepared enqueue (signers, targets, member). */
#include <stdio.h>
#include <string.h>

#include "outbox.h"
#include "tap.h"

/* Which signers a batch takes: our two actors and stand-ins ("x:" and an X id). */
static void
test_signers(void)
{
    static const struct {
        const char *signer;
        int ok;
    } cases[] = {
        { "relay", 0 },  { "bridge", 0 },
        { "x:1", 0 },    { "x:9223372036854775807", 0 },
        { "x:", -1 },    { "x:0", -1 },
        { "x:01", -1 },  { "x:12a", -1 },
        { "X:12", -1 },  { "x:12345678901234567890", -1 },
        { "other", -1 },
    };
    const char *inbox = "https://a.example/inbox";
    struct outbox_batch b;
    char err[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = outbox_batch_init(&b, cases[i].signer, "{}", 2, &inbox, 1, 0, err, sizeof(err));

        is_int(rc, cases[i].ok, "signer \"%s\"", cases[i].signer);
        if (rc == 0) {
            is_int(b.nparams, 6, "%s: six parameters", cases[i].signer);
            ok(b.params[5] == NULL, "%s: no member by default", cases[i].signer);
            outbox_batch_member(&b, "17");
            is_str(b.params[5], "17", "%s: tied to a member", cases[i].signer);
            outbox_batch_free(&b);
        }
    }
}

/* Inboxes that are not http(s) URLs we accept give no row; duplicates are merged. */
static void
test_targets(void)
{
    const char *in[] = {
        "https://a.example/inbox",     "https://a.example/inbox",  "https://u@b.example/inbox",
        "https://a\"b.example/inbox",  "ftp://c.example/inbox",    "https://c.example:99999/x",
        "https://D.Example:443/inbox", "http://127.0.0.1:8080/in",
    };
    struct outbox_batch b;
    char err[128];

    is_int(outbox_batch_init(&b, "relay", "{}", 2, in, sizeof(in) / sizeof(in[0]), 0, err,
                             sizeof(err)),
           0, "a batch with bad inboxes is made");
    is_int((int)b.targets, 3, "three distinct valid inboxes");
    is_str(b.params[2],
           "{\"https://a.example/inbox\",\"https://D.Example:443/inbox\","
           "\"http://127.0.0.1:8080/in\"}",
           "inboxes kept as written");
    is_str(b.params[3], "{\"a.example\",\"d.example\",\"127.0.0.1:8080\"}",
           "hosts lowercased, default port dropped, other port kept");
    is_str(b.params[4], "false", "not despite blocks by default");
    outbox_batch_free(&b);
    is_int(outbox_batch_init(&b, "relay", "{}", 2, in, 1, OUTBOX_DESPITE_BLOCK, err, sizeof(err)),
           0, "despite-block batch");
    is_str(b.params[4], "true", "despite blocks when asked");
    outbox_batch_free(&b);
    is_int(outbox_batch_init(&b, "relay", "", 0, in, 1, 0, err, sizeof(err)), -1,
           "an empty payload is refused");
    is_int(outbox_batch_init(&b, "relay", "{\0}", 3, in, 1, 0, err, sizeof(err)), -1,
           "a payload with a NUL byte is refused");
}

/* Duplicates far apart are merged too, the rows keep the callers' order, and many are cheap. */
static void
test_duplicates(void)
{
    const char *in[] = { "https://c.example/i", "https://a.example/i", "https://b.example/i",
                         "https://a.example/i", "https://c.example/i", "https://d.example/i",
                         "https://b.example/i" };
    enum { N = 50000 };
    static char urls[N][40];
    static const char *many[N];
    struct outbox_batch b;
    char err[128];

    is_int(outbox_batch_init(&b, "relay", "{}", 2, in, sizeof(in) / sizeof(in[0]), 0, err,
                             sizeof(err)),
           0, "a batch with scattered duplicates");
    is_int((int)b.targets, 4, "four distinct inboxes");
    is_str(b.params[2],
           "{\"https://c.example/i\",\"https://a.example/i\",\"https://b.example/i\","
           "\"https://d.example/i\"}",
           "first occurrences, in the callers' order");
    outbox_batch_free(&b);
    /* Every fifth inbox repeats the one three places before it. */
    for (int i = 0; i < N; i++) {
        snprintf(urls[i], sizeof(urls[i]), "https://h%d.example/inbox", i % 5 == 4 ? i - 3 : i);
        many[i] = urls[i];
    }
    is_int(outbox_batch_init(&b, "relay", "{}", 2, many, N, 0, err, sizeof(err)), 0,
           "a batch of 50,000 inboxes");
    is_int((int)b.targets, N - N / 5, "each repeat merged");
    ok(strncmp(b.params[2], "{\"https://h0.example/inbox\",\"https://h1.example/inbox\"", 52) == 0,
       "in order");
    outbox_batch_free(&b);
}

/* An answer: its origin and the cap go with it, in its own statement, member kept. */
static void
test_answer(void)
{
    const char *in[] = { "https://a.example/inbox" };
    struct outbox_batch b;
    const char *plain;
    char err[128];

    is_int(outbox_batch_init(&b, "bridge", "{}", 2, in, 1, 0, err, sizeof(err)), 0, "a batch");
    plain = b.sql;
    outbox_batch_member(&b, "17");
    outbox_batch_answer(&b, "a.example", 3);
    is_int(b.nparams, 8, "eight parameters");
    ok(b.sql != plain && strstr(b.sql, "origin") != NULL, "the answer's statement");
    is_str(b.params[6], "a.example", "the origin");
    is_str(b.params[7], "3", "the cap");
    is_str(b.params[5], "17", "the member stays");
    outbox_batch_answer(&b, "b.example", 1000);
    is_str(b.params[6], "b.example", "a second call replaces the origin");
    is_str(b.params[7], "1000", "and the cap");
    outbox_batch_free(&b);
}

int
main(void)
{
    test_signers();
    test_targets();
    test_duplicates();
    test_answer();
    return done_testing();
}
