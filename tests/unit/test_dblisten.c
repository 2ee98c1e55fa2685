/* Tests of dblisten on a real PostgreSQL: ready, notified, reconnected after a kill, freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dblisten.h"
#include "pgtest.h"
#include "tap.h"

static int changed;

static void
changed_cb(void *arg)
{
    (void)arg;
    changed++;
}

int
main(void)
{
    struct dblisten *l, *bad;
    long pid;
    int before;

    pgt_setup("dblisten");
    l = dblisten_new(pgt_base, pgt_conninfo, "t_chan", changed_cb, NULL);
    ok(!dblisten_ready(l) && changed == 0, "nothing happens inside dblisten_new");
    PGT_SPIN(dblisten_ready(l) && changed > 0, 5);
    ok(dblisten_ready(l), "the LISTEN is in place");
    is_int(changed, 1, "changed once when it begins listening (a first read)");
    is_int((int)dblisten_connects(l), 1, "one connection");
    pid = pgt_backend_pid("passerelle-listen");
    ok(pid > 0, "its session is named passerelle-listen (pid %ld)", pid);

    pgt_exec("NOTIFY t_chan");
    PGT_SPIN(changed > 1, 5);
    is_int(changed, 2, "a NOTIFY on the channel: changed");
    pgt_exec("NOTIFY other_chan");
    pgt_exec("BEGIN");
    pgt_exec("NOTIFY t_chan, 'a'");
    pgt_exec("NOTIFY t_chan, 'b'");
    pgt_exec("COMMIT");
    PGT_SPIN(changed > 2, 5);
    pgt_spin_once();
    pgt_spin_once();
    ok(changed == 3 || changed == 4,
       "two notifications of one transaction, another channel's "
       "ignored: changed once or twice (%d)",
       changed - 2);

    /* The session killed: it reconnects, LISTENs again and says so (a read is due). */
    before = changed;
    pgt_exec("SELECT pg_terminate_backend(%ld)", pid);
    PGT_SPIN(!dblisten_ready(l), 5);
    ok(!dblisten_ready(l), "a killed session is noticed");
    PGT_SPIN(dblisten_ready(l) && changed > before, 10);
    ok(dblisten_ready(l), "listening again after the kill");
    is_int((int)dblisten_connects(l), 2, "a second connection");
    is_int(changed - before, 1, "changed once more on the new connection");
    ok(pgt_backend_pid("passerelle-listen") != pid && pgt_backend_pid("passerelle-listen") > 0,
       "a new session");
    pgt_exec("NOTIFY t_chan");
    PGT_SPIN(changed > before + 1, 5);
    is_int(changed - before, 2, "notifications reach the new session");
    dblisten_free(l);
    PGT_SPIN(pgt_backend_pid("passerelle-listen") == 0, 5);
    is_int((int)pgt_backend_pid("passerelle-listen"), 0, "freed: its session is closed");

    /* Nobody there: never ready, never changed; freed while retrying. */
    changed = 0;
    bad = dblisten_new(pgt_base, "host=127.0.0.1 port=1 connect_timeout=1", "t_chan", changed_cb,
                       NULL);
    PGT_SPIN(0, 0.6);
    ok(!dblisten_ready(bad) && changed == 0, "no database: not ready, nothing changed");
    dblisten_free(bad);
    bad = dblisten_new(pgt_base, "not a conninfo = = =", "t_chan", changed_cb, NULL);
    PGT_SPIN(0, 0.1);
    ok(!dblisten_ready(bad) && changed == 0, "a conninfo that does not parse: never ready");
    dblisten_free(bad);
    dblisten_free(NULL);

    pgt_teardown();
    return done_testing();
}
