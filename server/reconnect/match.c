/* Matching: a worker claims members due for it and re-plans their pairs in one statement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "found.h"
#include "log.h"
#include "match.h"
#include "metrics.h"
#include "monotime.h"
#include "worker.h"
#include "xmalloc.h"

#define M_MATCHES "passerelle_matches_total"

/*
 * See match.h. The CTEs, in order: M; the pairs the X graph gives (both directions, by
 * index), each only from the follower's own archive; M's rows already there; both joined (a row
 * without an edge any more must be undone); the other members, share-locked in their latest version
 * or skipped when someone holds them; whether each home host is blocked, once per host (a popular
 * member's followers share few hosts) and by primary-key lookups of the names that would block it
 * (the host, without its port, its parent domains: what host_blocked() and policy_listed() match,
 * but host_blocked() reads every blocked row per call); the judgement of each pair; the rows it
 * wants; then the writes, the notice bookkeeping and M's due mark.
 */
const char match_sql[] =
    "WITH me AS (SELECT id, x_id FROM members WHERE id = $1::bigint),"
    " cand AS ("
    "  SELECT me.id AS follower_id, o.id AS followee_id, o.id AS other_id"
    "  FROM me JOIN x_edges e ON e.follower_x_id = me.x_id AND e.member_id = me.id"
    "  JOIN members o ON o.x_id = e.followee_x_id"
    "  UNION ALL"
    "  SELECT o.id, me.id, o.id"
    "  FROM me JOIN x_edges e ON e.followee_x_id = me.x_id"
    "  JOIN members o ON o.x_id = e.follower_x_id AND o.id = e.member_id),"
    " cur AS ("
    "  SELECT f.id, f.follower_id, f.followee_id, f.followee_id AS other_id, f.state, f.method,"
    "   f.hold_until, f.notified_at"
    "  FROM follow_actions f WHERE f.follower_id = $1::bigint"
    "  UNION ALL"
    "  SELECT f.id, f.follower_id, f.followee_id, f.follower_id, f.state, f.method,"
    "   f.hold_until, f.notified_at"
    "  FROM follow_actions f WHERE f.followee_id = $1::bigint),"
    " pairs AS ("
    "  SELECT coalesce(c.follower_id, f.follower_id) AS follower_id,"
    "   coalesce(c.followee_id, f.followee_id) AS followee_id,"
    "   coalesce(c.other_id, f.other_id) AS other_id, c.follower_id IS NOT NULL AS edge,"
    "   f.id AS fa_id, f.state AS cur_state, f.method AS cur_method, f.hold_until AS cur_hold,"
    "   f.notified_at"
    "  FROM cand c FULL JOIN cur f"
    "   ON f.follower_id = c.follower_id AND f.followee_id = c.followee_id),"
    " others AS ("
    "  SELECT o.id, o.x_id, o.state, o.findable, o.autofollow, o.notify, o.paused, o.linked_at,"
    "   o.host, o.x_verified_at IS NOT NULL AS verified, o.reports_held_at IS NOT NULL AS reported,"
    "   o.network, o.bridged_id IS NOT NULL AS bridged, o.bridge_checked_at"
    "  FROM members o WHERE o.id IN (SELECT other_id FROM pairs)"
    "  FOR SHARE OF o SKIP LOCKED),"
    " base AS ("
    "  SELECT id, x_id, state, findable, autofollow, notify, paused, linked_at, host,"
    "   x_verified_at IS NOT NULL AS verified, reports_held_at IS NOT NULL AS reported,"
    "   network, bridged_id IS NOT NULL AS bridged, bridge_checked_at"
    "  FROM members WHERE id = $1::bigint UNION ALL SELECT * FROM others),"
    " hosts AS MATERIALIZED ("
    "  SELECT n.host, n.names && $3::text[]"
    "   OR EXISTS (SELECT 1 FROM instances i WHERE i.domain = ANY (n.names) AND i.blocked)"
    "   AS blocked"
    "  FROM (SELECT d.host, ARRAY[d.host, d.bare]"
    "    || CASE WHEN d.bare ~ '^[0-9.]+$|^\\[|:' THEN '{}'::text[]"
    "     ELSE ARRAY(SELECT array_to_string(l.p[k:], '.')"
    "      FROM (SELECT string_to_array(d.bare, '.') AS p) l, generate_subscripts(l.p, 1) k"
    "      WHERE k > 1) END AS names"
    "   FROM (SELECT DISTINCT host, regexp_replace(host, ':[0-9]+$', '') AS bare FROM base) d) n),"
    " people AS (SELECT base.*, hosts.blocked FROM base JOIN hosts ON hosts.host = base.host),"
    " judged AS ("
    "  SELECT p.*, b.notify AS follower_notify,"
    "   CASE WHEN b.state <> 'linked' THEN 'follower ' || b.state"
    "    WHEN a.state <> 'linked' THEN 'followee ' || a.state"
    "    WHEN NOT p.edge THEN 'no longer in the X archives'"
    "    WHEN NOT a.findable THEN 'followee not findable'"
    "    WHEN EXISTS (SELECT 1 FROM member_excludes x WHERE x.member_id = b.id AND x.x_id = a.x_id)"
    "     THEN 'excluded by follower'"
    "    WHEN EXISTS (SELECT 1 FROM member_excludes x WHERE x.member_id = a.id AND x.x_id = b.x_id)"
    "     THEN 'excluded by followee'"
    "    WHEN b.reported THEN 'follower held by reports'"
    "    WHEN a.reported THEN 'followee held by reports'"
    "    WHEN b.paused THEN 'follower paused'"
    "    WHEN b.blocked THEN 'follower instance blocked'"
    "    WHEN a.blocked THEN 'followee instance blocked' END AS why_not,"
    "   CASE WHEN NOT b.autofollow THEN 'notice'"
    "    WHEN b.network = a.network OR a.bridged THEN"
    "     CASE WHEN b.network = 'atproto' THEN 'atproto' ELSE 'api' END"
    "    ELSE 'notice' END AS method,"
    "   b.network <> a.network AND (a.bridge_checked_at IS NULL"
    "    OR a.bridge_checked_at < now() - interval '1 day') AS look_up_bridge,"
    "   CASE WHEN NOT a.verified AND a.linked_at + $2::int * interval '1 second' > now()"
    "    THEN a.linked_at + $2::int * interval '1 second' END AS hold_until"
    "  FROM pairs p JOIN people b ON b.id = p.follower_id JOIN people a ON a.id = p.followee_id),"
    " want AS ("
    "  SELECT j.*, CASE WHEN j.hold_until IS NULL THEN 'planned' ELSE 'held' END AS state,"
    "   CASE WHEN j.method IN ('api', 'atproto') THEN greatest(now(), j.hold_until) END AS next_at"
    "  FROM judged j WHERE j.why_not IS NULL),"
    " ins AS ("
    "  INSERT INTO follow_actions"
    "   (follower_id, followee_id, method, state, hold_until, next_attempt_at)"
    "  SELECT follower_id, followee_id, method, state, hold_until, next_at"
    "  FROM want WHERE fa_id IS NULL ORDER BY follower_id, followee_id"
    "  ON CONFLICT (follower_id, followee_id) DO NOTHING RETURNING 1),"
    " rep AS ("
    "  UPDATE follow_actions f SET method = w.method, state = w.state, hold_until = w.hold_until,"
    "   next_attempt_at = w.next_at, last_error = NULL, updated_at = now()"
    "  FROM want w"
    "  WHERE f.id = w.fa_id AND w.cur_state IN ('planned', 'held', 'undone')"
    "   AND (w.cur_state, w.cur_method, w.cur_hold)"
    "    IS DISTINCT FROM (w.state, w.method, w.hold_until)"
    "  RETURNING 1),"
    " und AS ("
    "  UPDATE follow_actions f SET state = 'undone', last_error = j.why_not, updated_at = now()"
    "  FROM judged j"
    "  WHERE f.id = j.fa_id AND j.why_not IS NOT NULL AND j.cur_state IN ('planned', 'held')"
    "  RETURNING 1),"
    " news AS ("
    "  INSERT INTO notice_due (member_id)"
    "  SELECT DISTINCT follower_id FROM want WHERE follower_notify AND notified_at IS NULL"
    "  ORDER BY 1 ON CONFLICT (member_id) DO NOTHING RETURNING 1),"
    " bridges AS ("
    "  INSERT INTO bridge_due (member_id)"
    "  SELECT DISTINCT followee_id FROM want WHERE look_up_bridge"
    "  ORDER BY 1 ON CONFLICT (member_id) DO NOTHING RETURNING 1),"
    " skipped AS ("
    "  SELECT count(*) AS n FROM pairs p"
    "  WHERE NOT EXISTS (SELECT 1 FROM others o WHERE o.id = p.other_id)),"
    " done AS ("
    "  UPDATE members SET match_due_at = CASE WHEN (SELECT n FROM skipped) > 0"
    "   THEN now() + $4::int * interval '1 millisecond' END"
    "  WHERE id = $1::bigint RETURNING 1)"
    " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM rep), (SELECT count(*) FROM und),"
    "  (SELECT n FROM skipped), (SELECT count(*) FROM news), (SELECT count(*) FROM done),"
    "  (SELECT count(*) FROM bridges)";

/* The oldest due member, held until the commit; the others go to other workers. */
static const char sql_claim[] = "SELECT id FROM members WHERE match_due_at <= now()"
                                " ORDER BY match_due_at LIMIT 1 FOR UPDATE SKIP LOCKED";

/* A member whose matching failed waits, so that one bad row cannot starve the others. */
static const char sql_defer[] = "UPDATE members SET match_due_at = now() + interval '1 minute'"
                                " WHERE id = $1::bigint AND match_due_at IS NOT NULL";

struct match {
    struct app *app;
    struct worker *w;
    char *blocked; /* relay_block as a text[] literal */
    char hold[16], retry[16];
};

/* One claim and its statement; owned by the transaction until match_done_cb. */
struct match_step {
    struct match *m; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
    char member[24];
    char counts[5][24]; /* inserted, replanned, undone, skipped, notices */
    long long t0_ms;    /* monotime_ms() when the step began */
};

char *
match_block_array(const char *list)
{
    size_t len = list != NULL ? strlen(list) : 0;
    char *out = xmalloc(3 * len + 3), *o = out;
    const char *s = list;

    *o++ = '{';
    while (s != NULL && *s != '\0') {
        size_t n;

        s += strspn(s, " ");
        n = strcspn(s, " ");
        if (n == 0)
            break;
        if (o[-1] != '{')
            *o++ = ',';
        /* Entries are host[:port] names (policy_domain_normalize): nothing to escape inside. */
        *o++ = '"';
        memcpy(o, s, n);
        o += n;
        *o++ = '"';
        s += n;
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

static int
match_result_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct match_step *s = arg;

    (void)tx;
    if (PQntuples(res) != 1 || PQnfields(res) != 7)
        return -1;
    for (int i = 0; i < 5; i++)
        snprintf(s->counts[i], sizeof(s->counts[i]), "%s", PQgetvalue(res, 0, i));
    return 0;
}

static int
match_claimed_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct match_step *s = arg;

    if (PQntuples(res) == 0 || !worker_run_live(s->run))
        return 1; /* nobody due (or stopping): commit the empty transaction */
    snprintf(s->member, sizeof(s->member), "%s", PQgetvalue(res, 0, 0));
    /*
     * The pool runs statements prepared, and PostgreSQL then settles on a generic plan when
     * its estimate looks no worse; for match_sql it is not (its best plan depends on the
     * member's degree): on bench/'s generated world (1M members, 100M edges) p50 goes from
     * 3.5 to 11.6 ms and p99 from 17 to 34 ms. So each run is planned for its member.
     */
    dbtx_push(tx, "SET LOCAL plan_cache_mode = force_custom_plan", NULL, NULL, 0);
    dbtx_push(tx, match_sql, match_result_cb, s, 4, s->member, s->m->hold, s->m->blocked,
              s->m->retry);
    /* The page's list of found contacts, around the same member, in the same transaction. */
    dbtx_push(tx, found_sql, NULL, NULL, 2, s->member, s->m->retry);
    return 0;
}

static void
match_deferred_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    (void)outcome;
    (void)err;
    (void)arg;
    PQclear(res);
}

static void
match_done_cb(enum db_outcome outcome, const char *err, void *arg)
{
    struct match_step *s = arg;
    int found = s->member[0] != '\0';

    if (outcome != DB_OK) {
        log_warn("match_failed", "member=%s error=%s", found ? s->member : "-", log_q(err));
        if (found && worker_run_live(s->run)) {
            const char *params[1] = { s->member };

            metrics_add(M_MATCHES, "result=\"failed\"", 1);
            db_query(s->m->app->db, sql_defer, 1, params, match_deferred_cb, NULL);
        }
        found = 0;
    } else if (found) {
        metrics_add(M_MATCHES, "result=\"done\"", 1);
        log_info("match",
                 "member=%s inserted=%s replanned=%s undone=%s skipped=%s notices=%s ms=%lld",
                 s->member, s->counts[0], s->counts[1], s->counts[2], s->counts[3], s->counts[4],
                 monotime_ms() - s->t0_ms);
    }
    worker_run_done(s->run, found);
    free(s);
}

static void
match_step(struct worker_run *run, void *arg)
{
    struct match *m = arg;
    struct match_step *s = xcalloc(1, sizeof(*s));
    struct dbtx *tx;

    s->m = m;
    s->run = run;
    s->t0_ms = monotime_ms();
    tx = dbtx_new(m->app->db, match_done_cb, s);
    dbtx_push(tx, sql_claim, match_claimed_cb, s, 0);
    dbtx_run(tx);
}

struct match *
match_new(struct app *app)
{
    struct match *m = xcalloc(1, sizeof(*m));

    m->app = app;
    m->blocked = match_block_array(app->cfg->relay_block);
    snprintf(m->hold, sizeof(m->hold), "%d", app->cfg->follow_hold_hours * 3600);
    snprintf(m->retry, sizeof(m->retry), "%d", app->cfg->match_poll_ms);
    metrics_describe(M_MATCHES, METRICS_COUNTER,
                     "Members whose former contacts were re-planned, by result (done, failed).");
    m->w = worker_new(app->base, app->cfg->match_poll_ms, match_step, m);
    worker_start(m->w);
    return m;
}

void
match_kick(struct match *m)
{
    if (m != NULL)
        worker_kick(m->w);
}

void
match_free(struct match *m)
{
    if (m == NULL)
        return;
    worker_free(m->w);
    free(m->blocked);
    free(m);
}
