/*
 * Tests of "passerelle import" (cli_import_main) against PostgreSQL: loose .js files linked to
 * a member found by acct, what refusals exit with, and usage errors before anything runs.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_import.h"
#include "pgtest.h"
#include "tap.h"

static char dir[64], conf[128], account[128], followers[128], broken[128];

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fputs(text, f) < 0)
        pgt_bail("cannot write %s", path);
    fclose(f);
}

/* cli_import_main over the words of line (split at spaces), its output kept out of TAP's. */
static int
run(const char *line)
{
    char buf[1024], *argv[32];
    int argc = pgt_words(line, buf, sizeof(buf), argv, 32), out = pgt_quiet_begin(), rc;

    rc = cli_import_main(argc, argv);
    pgt_quiet_end(out);
    return rc;
}

int
main(void)
{
    char line[1024];
    FILE *f;

    pgt_setup("cli_import");
    snprintf(dir, sizeof(dir), "/tmp/test_cli_import_%d", (int)getpid());
    if (mkdir(dir, 0700) < 0)
        pgt_bail("mkdir %s", dir);
    snprintf(conf, sizeof(conf), "%s/passerelle.conf", dir);
    snprintf(account, sizeof(account), "%s/account.js", dir);
    snprintf(followers, sizeof(followers), "%s/follower.js", dir);
    snprintf(broken, sizeof(broken), "%s/following.js", dir);
    f = fopen(conf, "w");
    if (f == NULL)
        pgt_bail("cannot write %s", conf);
    fprintf(f, "base_url = https://relay.example\ndatabase_url = %s\n", pgt_conninfo);
    fclose(f);
    write_file(account, "window.YTD.account.part0 = [{\"account\":{\"accountId\":\"7001\","
                        "\"username\":\"ann_x\",\"accountDisplayName\":\"Ann\","
                        "\"email\":\"ann@example.org\"}}]");
    write_file(followers, "window.YTD.follower.part0 = [{\"follower\":{\"accountId\":\"11\"}},"
                          "{\"follower\":{\"accountId\":\"12\"}}]");
    write_file(broken, "window.YTD.following.part0 = [{\"following\":{\"accountId\":");
    pgt_exec("INSERT INTO members (actor_uri, acct, host, inbox) VALUES"
             " ('https://a.example/users/ann', 'Ann@a.example', 'a.example',"
             "  'https://a.example/users/ann/inbox'),"
             " ('https://b.example/users/bob', 'bob@b.example', 'b.example',"
             "  'https://b.example/users/bob/inbox')");
    if (freopen("/dev/null", "w", stderr) == NULL)
        return 1;

    is_int(run("--help"), 0, "--help: 0");
    is_int(run("--member acct:ann@a.example"), 2, "no archive: usage, 2");
    snprintf(line, sizeof(line), "-c %s %s", conf, account);
    is_int(run(line), 2, "no --member: usage, 2");
    snprintf(line, sizeof(line), "-c %s --member ann@a.example --force %s", conf, account);
    is_int(run(line), 2, "an unknown option: usage, 2");
    is_int(pgt_num("SELECT count(*) FROM x_claims"), 0, "usage errors changed nothing");

    snprintf(line, sizeof(line), "-c %s --member acct:ann@a.example %s %s %s", conf, account,
             followers, broken);
    is_int(run(line), 1, "an archive file that does not parse: 1");
    is_int(pgt_num("SELECT count(*) FROM x_claims"), 0, "a broken archive changed nothing");
    snprintf(line, sizeof(line), "-c %s --member acct:nobody@a.example %s %s", conf, account,
             followers);
    is_int(run(line), 1, "no such member: 1");

    snprintf(line, sizeof(line), "-c %s --member acct:ANN@a.example %s %s", conf, account,
             followers);
    is_int(run(line), 0, "linked: 0 (the acct matched in any case)");
    is_str(pgt_str("SELECT x_id || ' ' || x_handle || ' ' || state FROM members WHERE acct ="
                   " 'Ann@a.example'"),
           "7001 ann_x linked", "the member is linked to the archive's account");
    is_int(pgt_num("SELECT count(*) FROM x_edges WHERE followee_x_id = 7001"), 2,
           "its followers stored");

    pgt_exec("UPDATE members SET x_verified_at = now() WHERE acct = 'Ann@a.example'");
    snprintf(line, sizeof(line), "-c %s --member https://b.example/users/bob %s %s", conf, account,
             followers);
    is_int(run(line), 1, "another member claiming a verified X id: refused, 1");
    is_str(pgt_str("SELECT coalesce(x_id::text, 'none') FROM members WHERE acct = 'bob@b.example'"),
           "none", "refused: nothing changed for the claimant");

    unlink(conf);
    unlink(account);
    unlink(followers);
    unlink(broken);
    rmdir(dir);
    pgt_teardown();
    return done_testing();
}
