/* Tests of sweep_run on PostgreSQL: what is past its use goes, what is still of use stays. */
#include <stdio.h>

#include "db.h"
#include "pgtest.h"
#include "sweep.h"
#include "tap.h"

static long long
remaining(void)
{
    return pgt_num("SELECT (SELECT count(*) FROM seen_activity_ids)"
                   " + (SELECT count(*) FROM relayed_objects)"
                   " + (SELECT count(*) FROM link_codes) + (SELECT count(*) FROM sessions)");
}

int
main(void)
{
    struct db *db;
    long m;

    pgt_setup("sweep");
    m = pgt_num("INSERT INTO members (actor_uri, host) VALUES ('https://a.example/u/a', "
                "'a.example') RETURNING id");
    pgt_exec("INSERT INTO seen_activity_ids (id, seen_at) VALUES"
             " ('https://a.example/old', now() - interval '15 days'),"
             " ('https://a.example/kept', now() - interval '13 days')");
    pgt_exec("INSERT INTO relayed_objects (object_id, member_id, announced_at) VALUES"
             " ('https://a.example/n/old', %ld, now() - interval '15 days'),"
             " ('https://a.example/n/kept', %ld, now() - interval '13 days')",
             m, m);
    /* hash: 32 bytes of one repeated digit. */
    pgt_exec("INSERT INTO link_codes (hash, member_id, created_at, expires_at) VALUES"
             " (decode(repeat('01', 32), 'hex'), %ld, now() - interval '3 days',"
             "  now() - interval '2 days'),"
             " (decode(repeat('02', 32), 'hex'), %ld, now() - interval '2 days',"
             "  now() - interval '12 hours')",
             m, m);
    pgt_exec("INSERT INTO sessions (hash, member_id, csrf_hash, created_at, expires_at) VALUES"
             " (decode(repeat('03', 32), 'hex'), %ld, decode(repeat('04', 32), 'hex'),"
             "  now() - interval '3 hours', now() - interval '1 minute'),"
             " (decode(repeat('05', 32), 'hex'), %ld, decode(repeat('06', 32), 'hex'),"
             "  now() - interval '1 hour', now() + interval '1 hour')",
             m, m);
    is_int(remaining(), 8, "seeded: two rows in each table");

    db = pgt_db(2);
    sweep_run(db);
    PGT_SPIN(remaining() == 4, 5);
    is_int(pgt_num("SELECT count(*) FROM seen_activity_ids WHERE id = 'https://a.example/kept'"), 1,
           "seen ids: 13 days old stays (senders retry for about a week)");
    is_int(pgt_num("SELECT count(*) FROM seen_activity_ids"), 1, "seen ids: 15 days old goes");
    is_str(pgt_str("SELECT string_agg(object_id, ',') FROM relayed_objects"),
           "https://a.example/n/kept", "relayed objects: 15 days old goes, 13 days stays");
    is_str(pgt_str("SELECT string_agg(encode(hash, 'hex'), ',') FROM link_codes"),
           "0202020202020202020202020202020202020202020202020202020202020202",
           "link codes: expired over a day ago goes, expired today stays");
    is_str(pgt_str("SELECT string_agg(encode(hash, 'hex'), ',') FROM sessions"),
           "0505050505050505050505050505050505050505050505050505050505050505",
           "sessions: expired goes, live stays");
    sweep_run(db);
    pgt_spin_once();
    PGT_SPIN(0, 0.2);
    is_int(remaining(), 4, "a second sweep finds nothing more");

    db_free(db);
    pgt_teardown();
    return done_testing();
}
