/* Tests of domains on a real PostgreSQL: the copy read, judged, kept current, reread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domains.h"
#include "metrics.h"
#include "pgtest.h"
#include "tap.h"

static struct domains *d;

/* "b" blocked, "a" allowed, "-" neither, "?" not current; for key and actor domains. */
static const char *
judge(const char *key, const char *actor)
{
    int blocked = -1, allowed = -1;

    if (domains_judge(d, key, actor, &blocked, &allowed) < 0)
        return "?";
    return blocked ? (allowed ? "ba" : "b") : allowed ? "a" : "-";
}

/* Waits for the read after loads reads, up to secs; the seconds it took. */
static double
await_load(unsigned long loads, double secs)
{
    double t0 = pgt_now();

    PGT_SPIN(domains_loads(d) > loads && strcmp(judge("x.test", "x.test"), "?") != 0, secs);
    return pgt_now() - t0;
}

int
main(void)
{
    struct db *db;
    unsigned long n;
    double took;
    long pid;

    pgt_setup("domains");
    pgt_exec("INSERT INTO instances (domain, blocked, allowed) VALUES"
             " ('blocked.example', true, false), ('port.example:8443', true, false),"
             " ('ok.example', false, true), ('127.0.0.1', true, false),"
             " ('plain.example', false, false)");
    db = pgt_db(2);
    d = domains_new(pgt_base, db, pgt_conninfo);
    is_str(judge("x.test", "x.test"), "?", "before the first read: not current, the caller asks");
    took = await_load(0, 5);
    ok(domains_loads(d) == 1, "read once the LISTEN is in place (%.3f s)", took);

    is_str(judge("x.test", "y.test"), "-", "unlisted domains: neither");
    is_str(judge("blocked.example", "y.test"), "b", "the signer's domain blocked");
    is_str(judge("x.test", "blocked.example"), "b", "the actor's domain blocked");
    is_str(judge("x.test", "a.b.blocked.example:99"), "b", "a subdomain, any port: blocked");
    is_str(judge("x.test", "notblocked.example"), "-", "a longer name is not a subdomain");
    is_str(judge("x.test", "blocked.examplex"), "-", "nor a name it prefixes");
    is_str(judge("x.test", "port.example:8443"), "b", "a host:port entry: that port");
    is_str(judge("x.test", "port.example:8444"), "-", "... and no other");
    is_str(judge("x.test", "port.example"), "-", "... nor the bare host");
    is_str(judge("x.test", "127.0.0.1:8080"), "b", "an IP entry covers its ports");
    is_str(judge("x.test", "1.127.0.0.1"), "-", "an IP entry has no subdomains");
    is_str(judge("x.test", "ok.example"), "a", "the actor's domain allowed");
    is_str(judge("x.test", "sub.ok.example:4"), "a", "its subdomains too");
    is_str(judge("ok.example", "x.test"), "-", "the signer's allow does not allow the actor");
    is_str(judge("x.test", "plain.example"), "-", "a row neither blocked nor allowed");

    /* An admin's change reaches the copy through the trigger's NOTIFY, within a bound. */
    n = domains_loads(d);
    pgt_exec("UPDATE instances SET blocked = true WHERE domain = 'plain.example'");
    took = await_load(n, 5);
    is_str(judge("x.test", "plain.example"), "b", "a block made meanwhile is seen (%.3f s)", took);
    ok(took < 2, "within 2 s of the COMMIT");
    n = domains_loads(d);
    pgt_exec("UPDATE instances SET blocked = false, allowed = true WHERE domain = 'plain.example'");
    await_load(n, 5);
    is_str(judge("x.test", "plain.example"), "a", "unblocked and allowed");
    n = domains_loads(d);
    pgt_exec("DELETE FROM instances WHERE domain = 'plain.example'");
    await_load(n, 5);
    is_str(judge("x.test", "plain.example"), "-", "a deleted row");
    n = domains_loads(d);
    pgt_exec("INSERT INTO instances (domain, blocked) VALUES ('new.example', true)");
    await_load(n, 5);
    is_str(judge("x.test", "new.example"), "b", "an inserted blocked row");
    n = domains_loads(d);
    pgt_exec("INSERT INTO instances (domain) VALUES ('quiet.example')");
    pgt_exec("UPDATE instances SET inbox = 'https://new.example/inbox' WHERE domain = "
             "'new.example'");
    PGT_SPIN(0, 0.3);
    is_int((int)(domains_loads(d) - n), 0, "rows that change neither column notify nothing");

    /*
     * A change nobody is told of (triggers off for this session) is not seen: the copy is
     * what answers, not the database. Then the listener's session is killed: the copy is
     * not current until it listens again and has read again, and that read finds it.
     */
    pgt_exec("SET session_replication_role = replica");
    pgt_exec("UPDATE instances SET blocked = true WHERE domain = 'quiet.example'");
    PGT_SPIN(0, 0.3);
    is_str(judge("x.test", "quiet.example"), "-", "an unnotified change: the copy answers");
    n = domains_loads(d);
    pid = pgt_backend_pid("passerelle-listen");
    pgt_exec("SELECT pg_terminate_backend(%ld)", pid);
    PGT_SPIN(strcmp(judge("x.test", "x.test"), "?") == 0, 5);
    is_str(judge("x.test", "quiet.example"), "?", "the listener lost: the caller asks");
    took = await_load(n, 10);
    is_str(judge("x.test", "quiet.example"), "b", "listening again, read again: seen (%.3f s)",
           took);
    pgt_exec("UPDATE instances SET blocked = false WHERE domain = 'quiet.example'");
    pgt_exec("SET session_replication_role = origin");
    PGT_SPIN(0, 0.3);
    is_str(judge("x.test", "quiet.example"), "b", "the copy came from that read, not the database");

    /* A read answered after the free is absorbed. */
    pgt_exec("NOTIFY passerelle_policy");
    PGT_SPIN(0, 0.02);
    domains_free(d);
    db_free(db);
    domains_free(NULL);
    metrics_free();
    pgt_teardown();
    return done_testing();
}
