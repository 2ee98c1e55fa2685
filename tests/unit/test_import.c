/*
 * Tests of import_store on a real PostgreSQL: what a first archive writes, what a second
 * replaces, and what the claim rules refuse (held, disputed, locked, verified, rate limited,
 * suspended, gone), each with nothing half-written.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "import.h"
#include "pgtest.h"
#include "tap.h"

static struct app app;

struct got {
    int called;
    enum import_status status;
};

static void
done_cb(enum import_status status, const struct import_data *data, void *arg)
{
    struct got *g = arg;

    (void)data;
    g->called++;
    g->status = status;
}

static uint64_t *
ids(const uint64_t *v, size_t n)
{
    uint64_t *out = malloc((n ? n : 1) * sizeof(*out));

    /* v is NULL for an empty list, and memcpy's source must not be, even for 0 bytes. */
    if (n > 0)
        memcpy(out, v, n * sizeof(*out));
    return out;
}

/* Stores an archive of x_id (handle @handle) for member; the status import_done gives. */
static enum import_status
store(long member, uint64_t x_id, const char *handle, const uint64_t *followers, size_t nfr,
      const uint64_t *following, size_t nfg)
{
    struct import_data *d = calloc(1, sizeof(*d));
    struct got g = { 0 };
    char id[24];

    d->result.account.account_id = x_id;
    snprintf(d->result.account.username, sizeof(d->result.account.username), "%s", handle);
    d->followers = ids(followers, nfr);
    d->nfollowers = nfr;
    d->following = ids(following, nfg);
    d->nfollowing = nfg;
    snprintf(id, sizeof(id), "%ld", member);
    import_store(&app, id, d, done_cb, &g);
    PGT_SPIN(g.called > 0, 5);
    pgt_spin_once();
    if (g.called != 1)
        printf("# import_done called %d times\n", g.called);
    return g.called == 1 ? g.status : (enum import_status) - 1;
}

/* A member at host named name; its id. */
static long
member(const char *name, const char *host)
{
    return pgt_num("INSERT INTO members (actor_uri, acct, host, inbox) VALUES "
                   "('https://%s/users/%s', '%s@%s', '%s', 'https://%s/users/%s/inbox') "
                   "RETURNING id",
                   host, name, name, host, host, host, name);
}

static long long
edges(long m)
{
    return pgt_num("SELECT count(*) FROM x_edges WHERE member_id = %ld", m);
}

static long long
notices(const char *inbox_like)
{
    return pgt_num("SELECT count(*) FROM deliveries WHERE inbox LIKE '%s'", inbox_like);
}

static void
test_first_and_again(void)
{
    static const uint64_t fr[] = { 11, 12, 13 }, fg[] = { 21, 22 }, fr2[] = { 14 };
    long ann = member("ann", "a.example");

    is_int(store(ann, 1001, "ann_x", fr, 3, fg, 2), IMPORT_LINKED, "first archive: linked");
    is_str(pgt_str("SELECT x_id || ' ' || x_handle || ' ' || state || ' ' || (linked_at IS NOT "
                   "NULL) FROM members WHERE id = %ld",
                   ann),
           "1001 ann_x linked true", "first archive: x_id, handle, state and linked_at set");
    is_int(edges(ann), 5, "first archive: one edge per follower and followee");
    is_int(pgt_num("SELECT count(*) FROM x_edges WHERE member_id = %ld AND followee_x_id = 1001 "
                   "AND follower_x_id IN (11, 12, 13)",
                   ann),
           3, "first archive: followers follow the owner");
    is_int(pgt_num("SELECT count(*) FROM x_edges WHERE member_id = %ld AND follower_x_id = 1001 "
                   "AND followee_x_id IN (21, 22)",
                   ann),
           2, "first archive: the owner follows its followees");
    is_int(pgt_num("SELECT count(*) FROM x_claims WHERE member_id = %ld AND x_id = 1001", ann), 1,
           "first archive: the claim is recorded");
    is_int(
        pgt_num("SELECT count(*) FROM claim_log WHERE member_id = %ld AND outcome = 'linked'", ann),
        1, "first archive: logged as a new claim");
    ok(pgt_num("SELECT count(*) FROM members WHERE id = %ld AND match_due_at IS NOT NULL", ann) ==
           1,
       "first archive: the member is due for matching");

    pgt_exec("UPDATE members SET linked_at = now() - interval '3 days' WHERE id = %ld", ann);
    is_int(store(ann, 1001, "ann_renamed", fr2, 1, NULL, 0), IMPORT_LINKED,
           "a newer archive of the same X id: linked");
    is_int(edges(ann), 1, "newer archive: the previous edges are replaced, not added to");
    is_int(
        pgt_num("SELECT count(*) FROM x_edges WHERE member_id = %ld AND follower_x_id = 14", ann),
        1, "newer archive: its edge is there");
    is_str(pgt_str("SELECT x_handle FROM members WHERE id = %ld", ann), "ann_renamed",
           "newer archive: the handle follows");
    is_int(pgt_num("SELECT count(*) FROM members WHERE id = %ld AND linked_at < now() - interval "
                   "'2 days'",
                   ann),
           1, "newer archive: the claim keeps its time (the hold does not start over)");
    is_int(pgt_num("SELECT count(*) FROM claim_log WHERE member_id = %ld", ann), 1,
           "newer archive: not a new claim in the log");
}

static void
test_edges_of_others_kept(void)
{
    static const uint64_t fr[] = { 31 }, fg[] = { 32 };
    long bea = member("bea", "b.example"), cid = member("cid", "c.example");

    is_int(store(bea, 2001, "bea", fr, 1, fg, 1), IMPORT_LINKED, "bea linked");
    is_int(store(cid, 2002, "cid", fr, 1, fg, 1), IMPORT_LINKED, "cid linked");
    is_int(store(bea, 2001, "bea", NULL, 0, NULL, 0), IMPORT_LINKED, "bea's empty archive");
    is_int(edges(bea), 0, "an empty archive leaves the member no edges");
    is_int(edges(cid), 2, "and another member's edges stay");
}

static void
test_refused_and_disputed(void)
{
    static const uint64_t fr[] = { 41, 42 };
    long holder = member("holder", "h.example"), late = member("late", "l.example");
    long first = member("first", "f.example"), second = member("second", "s.example");
    long long before;

    /* A settled claim (older than follow_hold_hours) refuses the next one. */
    is_int(store(holder, 3001, "held", fr, 2, NULL, 0), IMPORT_LINKED, "holder linked");
    pgt_exec("UPDATE members SET linked_at = now() - interval '30 days' WHERE id = %ld", holder);
    before = notices("https://h.example/%%");
    is_int(store(late, 3001, "held", fr, 1, NULL, 0), IMPORT_REFUSED,
           "a settled claim held by another member: refused");
    is_str(pgt_str("SELECT coalesce(x_id::text, 'none') || ' ' || state FROM members WHERE id = "
                   "%ld",
                   late),
           "none joined", "refused: the claimant is not linked");
    is_int(edges(late), 0, "refused: no edge stored");
    is_int(edges(holder), 2, "refused: the holder's edges stay");
    is_str(pgt_str("SELECT state FROM members WHERE id = %ld", holder), "linked",
           "refused: the holder stays linked");
    is_int(notices("https://h.example/%%") - before, 1, "refused: the holder is told who tried");
    is_int(pgt_num("SELECT count(*) FROM claim_log WHERE member_id = %ld AND outcome = 'refused' "
                   "AND incumbent_id = %ld",
                   late, holder),
           1, "refused: logged with the holder");

    /* A second claim within the hold: both frozen, both told, no edges from it. */
    is_int(store(first, 3002, "twin", fr, 2, NULL, 0), IMPORT_LINKED, "first claim linked");
    is_int(store(second, 3002, "twin", fr, 1, NULL, 0), IMPORT_DISPUTED,
           "a second claim within the hold: disputed");
    is_str(pgt_str("SELECT string_agg(state, ',' ORDER BY id) FROM members WHERE id IN (%ld, %ld)",
                   first, second),
           "disputed,disputed", "disputed: both frozen");
    is_int(edges(second), 0, "disputed: no edge from the second archive");
    ok(notices("https://f.example/%%") == 1 && notices("https://s.example/%%") == 1,
       "disputed: both told");
    is_int(store(second, 3003, "other", fr, 1, NULL, 0), IMPORT_LOCKED,
           "a disputed member may not claim another X id");
    is_int(pgt_num("SELECT count(*) FROM x_claims WHERE member_id = %ld AND x_id = 3003", second),
           0, "locked: nothing recorded");
}

static void
test_refusals_that_change_nothing(void)
{
    static const uint64_t fr[] = { 51 };
    long ver = member("ver", "v.example"), sus = member("sus", "u.example");
    long busy = member("busy", "busy.example");

    is_int(store(ver, 4001, "ver", fr, 1, NULL, 0), IMPORT_LINKED, "ver linked");
    pgt_exec("UPDATE members SET x_verified_at = now() WHERE id = %ld", ver);
    is_int(store(ver, 4002, "ver2", fr, 1, NULL, 0), IMPORT_VERIFIED_OTHER,
           "verified with X as another X id: refused");
    is_str(pgt_str("SELECT x_id FROM members WHERE id = %ld", ver), "4001",
           "verified other: the X id stays");

    pgt_exec("UPDATE members SET state = 'suspended' WHERE id = %ld", sus);
    is_int(store(sus, 4003, "sus", fr, 1, NULL, 0), IMPORT_SUSPENDED, "suspended member: refused");
    is_int(edges(sus), 0, "suspended: no edge");

    is_int(store(999999, 4004, "nobody", fr, 1, NULL, 0), IMPORT_NO_MEMBER, "no such member");
    is_int(pgt_num("SELECT count(*) FROM x_claims WHERE x_id = 4004"), 0, "no member: no claim");

    /* claims_per_member (3 a day) new claims; the fourth is refused. */
    for (uint64_t x = 5001; x <= 5003; x++)
        store(busy, x, "busy", fr, 1, NULL, 0);
    is_int(pgt_num("SELECT count(*) FROM claim_log WHERE member_id = %ld", busy), 3,
           "three claims in a day logged");
    is_int(store(busy, 5004, "busy", fr, 1, NULL, 0), IMPORT_RATE_LIMITED,
           "a fourth new X id in a day: rate limited");
    is_str(pgt_str("SELECT x_id FROM members WHERE id = %ld", busy), "5003",
           "rate limited: the member keeps the X id it had");
    is_int(store(busy, 5003, "busy", fr, 1, NULL, 0), IMPORT_LINKED,
           "rate limited: a newer archive of the X id it holds still goes through");
}

/* Blocked and muted ids: kept when the list was in the archive, replaced by the next one. */
static enum import_status
store_excludes(long member, uint64_t x_id, const uint64_t *blocked, size_t nb, int has_block,
               const uint64_t *muted, size_t nm, int has_mute)
{
    static const uint64_t fg[] = { 91 };
    struct import_data *d = calloc(1, sizeof(*d));
    struct got g = { 0 };
    char id[24];

    d->result.account.account_id = x_id;
    snprintf(d->result.account.username, sizeof(d->result.account.username), "dee");
    d->following = ids(fg, 1);
    d->nfollowing = 1;
    d->blocked = ids(blocked, nb);
    d->nblocked = nb;
    d->result.block_files = has_block;
    d->muted = ids(muted, nm);
    d->nmuted = nm;
    d->result.mute_files = has_mute;
    snprintf(id, sizeof(id), "%ld", member);
    import_store(&app, id, d, done_cb, &g);
    PGT_SPIN(g.called > 0, 5);
    pgt_spin_once();
    return g.called == 1 ? g.status : (enum import_status) - 1;
}

static const char *
excludes(long m)
{
    return pgt_str("SELECT coalesce(string_agg(reason || ':' || x_id, ' ' ORDER BY reason, x_id),"
                   " '') FROM member_excludes WHERE member_id = %ld",
                   m);
}

static void
test_blocks_and_mutes(void)
{
    static const uint64_t b1[] = { 71, 72 }, m1[] = { 73 }, b2[] = { 74 };
    long dee = member("dee", "d.example"), eve = member("eve", "e.example");

    pgt_exec("INSERT INTO member_excludes (member_id, x_id, reason) VALUES (%ld, 79, 'ignored')",
             dee);
    is_int(store_excludes(dee, 7001, b1, 2, 1, m1, 1, 1), IMPORT_LINKED,
           "blocks and mutes: linked");
    is_str(excludes(dee), "blocked:71 blocked:72 ignored:79 muted:73",
           "blocked and muted rows for the uploader; 'ignored' stays");
    is_int(store_excludes(eve, 7002, b2, 1, 1, NULL, 0, 1), IMPORT_LINKED, "eve linked");
    is_str(excludes(dee), "blocked:71 blocked:72 ignored:79 muted:73",
           "another member's archive changes none of them");
    is_int(store_excludes(dee, 7001, b2, 1, 1, NULL, 0, 0), IMPORT_LINKED, "a newer archive");
    is_str(excludes(dee), "blocked:74 ignored:79 muted:73",
           "its block list replaces the blocked rows; without a mute list the muted stay");
    is_int(store_excludes(dee, 7001, NULL, 0, 1, NULL, 0, 1), IMPORT_LINKED, "empty lists");
    is_str(excludes(dee), "ignored:79", "empty lists leave none");
    is_str(excludes(eve), "blocked:74", "eve's own rows");
    pgt_exec("UPDATE members SET state = 'suspended' WHERE id = %ld", eve);
    is_int(store_excludes(eve, 7002, b1, 2, 1, NULL, 0, 0), IMPORT_SUSPENDED, "eve suspended");
    is_str(excludes(eve), "blocked:74", "a refused archive changes no row");
}

static void
test_no_database(void)
{
    static const uint64_t fr[] = { 61 };
    struct db *db = app.db;

    app.db = db_new(pgt_base, "host=127.0.0.1 port=1 connect_timeout=1", 1, 1, pgt_fatal_cb, NULL);
    is_int(store(1, 6001, "x", fr, 1, NULL, 0), IMPORT_UNAVAILABLE, "no database: unavailable");
    db_free(app.db);
    app.db = db;
}

int
main(void)
{
    struct config cfg;
    char err[256];

    pgt_setup("import");
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://relay.example", err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app_init_ids(&app);
    app.db = pgt_db(2);

    is_str(import_status_name(IMPORT_RATE_LIMITED), "rate_limited", "status names");
    test_first_and_again();
    test_edges_of_others_kept();
    test_refused_and_disputed();
    test_refusals_that_change_nothing();
    test_blocks_and_mutes();
    test_no_database();

    db_free(app.db);
    app_free_ids(&app);
    config_free(&cfg);
    pgt_teardown();
    return done_testing();
}
