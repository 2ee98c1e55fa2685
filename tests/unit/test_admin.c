/*
 * Tests of the admin command line's own checks: usage errors exit 2 before any connection,
 * well-formed commands reach the database (here an unreachable one: exit 1), and the quoting
 * of names that came from the network. tests/integration/admin.test.mjs runs the commands.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "admin_internal.h"
#include "pgtest.h" /* its word splitter and quiet stdout only */
#include "tap.h"

static char conf[64];

/* admin_main over the words of line (split at spaces; "_" stands for an empty word). */
static int
run(const char *line)
{
    char buf[1024], *argv[32];
    int argc = pgt_words(line, buf, sizeof(buf), argv, 32), out = pgt_quiet_begin(), rc;

    rc = admin_main(conf, argc, argv);
    pgt_quiet_end(out);
    return rc;
}

static void
test_usage(void)
{
    static const char *const usage[] = {
        "",
        "frobnicate",
        "instances",
        "instances frobnicate",
        "instances block",
        "instances block a.example b.example",
        "instances block --force",
        "instances block not_a_domain!",
        "instances list --everything",
        "members list --state",
        "members list --state gone",
        "members show",
        "members delete",
        "notice",
        "notice _",
        "notice \xff\xfe",
        "-c",
    };
    static const char *const reach[] = {
        "instances list",
        "instances list --all",
        "instances block a.example",
        "members list --state=linked",
        "members show @ann@a.example",
        "notice hello",
    };

    for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++)
        is_int(run(usage[i]), 2, "usage error, exit 2 before connecting: \"%s\"", usage[i]);
    for (size_t i = 0; i < sizeof(reach) / sizeof(reach[0]); i++)
        is_int(run(reach[i]), 1, "well-formed, reaches the (unreachable) database: \"%s\"",
               reach[i]);
    is_int(run("--help"), 0, "--help: exit 0");
    is_int(run("instances block --help"), 0, "a command's --help: exit 0, nothing run");
}

static void
test_safe(void)
{
    char buf[128];

    is_str(admin_sql_safe("mastodon.example", buf, sizeof(buf)), "mastodon.example",
           "safe: a plain word is printed as is");
    ok(strcmp(admin_sql_safe("two words", buf, sizeof(buf)), "two words") != 0,
       "safe: a space is quoted (%s)", buf);
    ok(strchr(admin_sql_safe("a\x1b[31mred", buf, sizeof(buf)), '\x1b') == NULL,
       "safe: an escape sequence from the network never reaches the terminal (%s)", buf);
    ok(strcmp(admin_sql_safe("", buf, sizeof(buf)), "") != 0, "safe: empty is shown quoted");
    ok(strcmp(admin_sql_safe("caf\xc3\xa9", buf, sizeof(buf)), "caf\xc3\xa9") != 0,
       "safe: non-ASCII is escaped");
}

int
main(void)
{
    FILE *f;

    snprintf(conf, sizeof(conf), "/tmp/test_admin_%d.conf", (int)getpid());
    f = fopen(conf, "w");
    if (f == NULL)
        return 1;
    fprintf(f, "base_url = https://relay.example\n"
               "database_url = postgresql://127.0.0.1:1/none?connect_timeout=1\n");
    fclose(f);
    /* What the commands print on failure is not this test's output. */
    if (freopen("/dev/null", "w", stderr) == NULL)
        return 1;
    test_usage();
    test_safe();
    unlink(conf);
    return done_testing();
}
