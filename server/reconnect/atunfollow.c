/* Undoing Bluesky follows passerelle wrote in a member's name: their records deleted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "app.h"
#include "atgrant.h"
#include "atunfollow.h"
#include "config.h"
#include "db.h"
#include "graph.h"
#include "httpc.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "pgarray.h"
#include "retry.h"
#include "worker.h"
#include "xmalloc.h"
#include "xrpc.h"

#define M_ATUNFOLLOWS "passerelle_bluesky_unfollows_total"
/* A pause longer than two days is not believed. */
#define ATUNFOLLOW_MAX_WAIT_MS  (2LL * 86400 * 1000)
#define ATUNFOLLOW_MAX_ATTEMPTS 10
/* Longer than a pass's deletes one after the other. */
#define ATUNFOLLOW_LEASE_MS (10 * 60 * 1000)
#define ATUNFOLLOW_NO_GRANT                                                                        \
    "the member's Bluesky grant is gone (revoked or never made): sign in with Bluesky again to "   \
    "undo it"

/*
 * Rows of members without a grant go back to 'done' with $3 (nothing can delete them); then the
 * member with due rows served longest ago whose grant is there and whose state row (the follow
 * worker's) is neither leased nor paused: up to $1 rows claimed, the member leased $2 ms. The
 * first row always comes back, with the number of rows put back.
 */
static const char sql_claim[] =
    "WITH orphan AS (UPDATE follow_actions fa SET state = 'done', next_attempt_at = NULL,"
    "  last_error = $3, updated_at = now()"
    "  WHERE fa.state = 'unfollow' AND fa.method = 'atproto' AND fa.next_attempt_at <= now()"
    "   AND NOT EXISTS (SELECT 1 FROM atproto_grants g WHERE g.member_id = fa.follower_id)"
    "  RETURNING 1),"
    " due AS (SELECT DISTINCT fa.follower_id FROM follow_actions fa"
    "  WHERE fa.state = 'unfollow' AND fa.method = 'atproto' AND fa.next_attempt_at <= now()),"
    " g AS (SELECT g.member_id FROM atproto_grants g JOIN due ON due.follower_id = g.member_id"
    "  LEFT JOIN atproto_follow_state st ON st.member_id = g.member_id"
    "  WHERE (st.busy_until IS NULL OR st.busy_until <= now())"
    "   AND (st.rate_limited_until IS NULL OR st.rate_limited_until <= now())"
    "  ORDER BY st.busy_until NULLS FIRST, g.member_id LIMIT 1 FOR UPDATE OF g SKIP LOCKED),"
    " pick AS (SELECT fa.id FROM g JOIN follow_actions fa ON fa.follower_id = g.member_id"
    "  WHERE fa.method = 'atproto' AND fa.state = 'unfollow' AND fa.next_attempt_at <= now()"
    "  ORDER BY fa.next_attempt_at, fa.id LIMIT $1::int FOR UPDATE OF fa SKIP LOCKED),"
    " lease AS (INSERT INTO atproto_follow_state (member_id, busy_until)"
    "  SELECT member_id, now() + $2::bigint * interval '1 millisecond' FROM g"
    "  WHERE EXISTS (SELECT 1 FROM pick)"
    "  ON CONFLICT (member_id) DO UPDATE SET busy_until = excluded.busy_until, updated_at = now()"
    "  RETURNING member_id),"
    " claimed AS (UPDATE follow_actions fa"
    "  SET next_attempt_at = now() + $2::bigint * interval '1 millisecond',"
    "   attempts = fa.attempts + 1, updated_at = now()"
    "  FROM pick WHERE fa.id = pick.id RETURNING fa.id, fa.attempts, fa.record_uri)"
    " SELECT (SELECT member_id FROM lease), c.id, c.attempts, c.record_uri,"
    "  (SELECT count(*) FROM orphan)"
    " FROM (SELECT 1) one LEFT JOIN claimed c ON true";

/*
 * Every outcome of a pass in one statement, as unfollow.c's: per row (ids, kinds, errors,
 * delays in ms) unfollowed (final), kept (the follow stands: 'done' again with the reason),
 * retry (counted; kept after $6 attempts), wait (not counted); then the member's lease ends,
 * paused $7 ms when set.
 */
static const char sql_finish[] =
    "WITH o AS (SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[])"
    "  AS o(id, kind, err, delay)),"
    " fa AS (UPDATE follow_actions f SET"
    "  state = CASE WHEN o.kind = 'unfollowed' THEN 'unfollowed'"
    "   WHEN o.kind = 'kept' OR (o.kind = 'retry' AND f.attempts >= $6::int) THEN 'done'"
    "   ELSE f.state END,"
    "  unfollowed_at = CASE WHEN o.kind = 'unfollowed' THEN now() ELSE f.unfollowed_at END,"
    "  last_error = nullif(o.err, ''),"
    "  attempts = CASE WHEN o.kind = 'wait' THEN greatest(f.attempts - 1, 0) ELSE f.attempts END,"
    "  next_attempt_at = CASE WHEN o.kind IN ('unfollowed', 'kept')"
    "    OR (o.kind = 'retry' AND f.attempts >= $6::int) THEN NULL"
    "   ELSE now() + o.delay * interval '1 millisecond' END,"
    "  updated_at = now()"
    "  FROM o WHERE f.id = o.id AND f.state = 'unfollow' RETURNING f.state),"
    " st AS (UPDATE atproto_follow_state SET busy_until = now(),"
    "  rate_limited_until = CASE WHEN $7::bigint IS NULL THEN rate_limited_until"
    "   ELSE now() + $7::bigint * interval '1 millisecond' END, updated_at = now()"
    "  WHERE member_id = $1::bigint RETURNING 1)"
    " SELECT (SELECT count(*) FROM fa WHERE state = 'unfollowed'),"
    "  (SELECT count(*) FROM fa WHERE state = 'done'), (SELECT count(*) FROM st)";

struct atunfollow {
    struct app *app;
    struct worker *w;
    char batch[16], lease[24];
};

/* One claimed row; kind stays NULL while its record is still to be deleted. */
struct atunfollow_row {
    char id[24];
    int attempts;
    char *uri;
    const char *kind; /* unfollowed, kept, retry, wait */
    char error[200];
    long long delay_ms;
};

/* One member's pass, from the claim to its outcome statement. */
struct atunfollow_pass {
    struct atunfollow *u; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
    char member[24];
    struct atunfollow_row *rows;
    size_t n, next;
    struct atgrant *g;
    long long pause_ms; /* -1: the member is not paused */
    long long t0;
};

static void atunfollow_next(struct atunfollow_pass *p);

static void
atunfollow_pass_free(struct atunfollow_pass *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->rows[i].uri);
    free(p->rows);
    atgrant_free(p->g);
    free(p);
}

static long long
atunfollow_backoff(const struct atunfollow_pass *p, int attempts)
{
    return retry_backoff_ms(attempts, p->u->app->cfg->queue_backoff_unit_ms, retry_jitter());
}

/* Sets row i and every row after it still open to kind, with the reason and delay. */
static void
atunfollow_rest(struct atunfollow_pass *p, size_t from, const char *kind, const char *why,
                long long delay_ms)
{
    for (size_t i = from; i < p->n; i++) {
        struct atunfollow_row *r = &p->rows[i];

        if (r->kind != NULL)
            continue;
        r->kind = kind;
        r->delay_ms = delay_ms;
        snprintf(r->error, sizeof(r->error), "%s", why != NULL ? why : "");
    }
}

static void
atunfollow_finished_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atunfollow_pass *p = arg;
    int live = worker_run_live(p->run);

    if (outcome != DB_OK) {
        log_warn("bluesky_unfollow_finish_failed", "member=%s error=%s", p->member, log_q(err));
    } else if (PQntuples(res) == 1) {
        long long gone = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        long long kept = strtoll(PQgetvalue(res, 0, 1), NULL, 10);

        if (live) {
            metrics_add(M_ATUNFOLLOWS, "result=\"unfollowed\"", (double)gone);
            metrics_add(M_ATUNFOLLOWS, "result=\"kept\"", (double)kept);
        }
        log_info("bluesky_unfollows",
                 "member=%s rows=%zu unfollowed=%lld kept=%lld paused_ms=%lld ms=%lld reason=%s",
                 p->member, p->n, gone, kept, p->pause_ms, monotime_ms() - p->t0,
                 log_q(p->n > 0 ? p->rows[0].error : ""));
    }
    PQclear(res);
    worker_run_done(p->run, live);
    atunfollow_pass_free(p);
}

/* Records every row's outcome and ends the member's lease. */
static void
atunfollow_finish(struct atunfollow_pass *p)
{
    char **ids = xcalloc(p->n + 1, sizeof(char *)), **kinds = xcalloc(p->n + 1, sizeof(char *));
    char **errs = xcalloc(p->n + 1, sizeof(char *)), **delays = xcalloc(p->n + 1, sizeof(char *));
    char *a_ids, *a_kinds, *a_errs, *a_delays, maxa[16], pause[24];
    const char *params[7];

    for (size_t i = 0; i < p->n; i++) {
        struct atunfollow_row *r = &p->rows[i];
        long long d = r->delay_ms < 0 ? 0 : r->delay_ms;

        if (r->kind == NULL)
            r->kind = "wait"; /* not reached: nothing was tried */
        if (d > ATUNFOLLOW_MAX_WAIT_MS)
            d = ATUNFOLLOW_MAX_WAIT_MS;
        ids[i] = r->id;
        kinds[i] = (char *)(uintptr_t)r->kind;
        errs[i] = r->error;
        delays[i] = xasprintf("%lld", d);
    }
    a_ids = pgarray_text(ids, p->n);
    a_kinds = pgarray_text(kinds, p->n);
    a_errs = pgarray_text(errs, p->n);
    a_delays = pgarray_text(delays, p->n);
    snprintf(maxa, sizeof(maxa), "%d", ATUNFOLLOW_MAX_ATTEMPTS);
    snprintf(pause, sizeof(pause), "%lld",
             p->pause_ms > ATUNFOLLOW_MAX_WAIT_MS ? ATUNFOLLOW_MAX_WAIT_MS : p->pause_ms);
    params[0] = p->member;
    params[1] = a_ids;
    params[2] = a_kinds;
    params[3] = a_errs;
    params[4] = a_delays;
    params[5] = maxa;
    params[6] = p->pause_ms >= 0 ? pause : NULL;
    db_query(p->u->app->db, sql_finish, 7, params, atunfollow_finished_cb, p);
    for (size_t i = 0; i < p->n; i++)
        free(delays[i]);
    free(ids);
    free(kinds);
    free(errs);
    free(delays);
    free(a_ids);
    free(a_kinds);
    free(a_errs);
    free(a_delays);
}

/* A 429: the member waits for Retry-After, else the reset, else a backoff; the rest wait. */
static void
atunfollow_limited(struct atunfollow_pass *p, const struct xrpc_result *r)
{
    long long wait_ms = xrpc_limited_wait_ms(r, (long long)time(NULL), atunfollow_backoff(p, 1));

    p->pause_ms = wait_ms;
    metrics_add(M_ATUNFOLLOWS, "result=\"limited\"", 1);
    atunfollow_rest(p, p->next, "wait", "deleteRecord: rate limited (429)", wait_ms);
}

static void
atunfollow_deleted_cb(const struct xrpc_result *r, void *arg)
{
    struct atunfollow_pass *p = arg;
    struct atunfollow_row *row;
    long long wait;

    if (!worker_run_live(p->run)) {
        atunfollow_pass_free(p); /* stopping: the lease ends; the row is taken again */
        return;
    }
    row = &p->rows[p->next];
    if (p->g->dpop != NULL && r->dpop_nonce != NULL) {
        atgrant_save_nonce(p->u->app, p->member, r->dpop_nonce);
        free(p->g->pds_nonce);
        p->g->pds_nonce = xstrdup(r->dpop_nonce); /* for the next delete of this pass */
    }
    if (r->error == HTTPC_OK && r->status == 429) {
        atunfollow_limited(p, r);
        atunfollow_finish(p);
        return;
    }
    if (r->error == HTTPC_OK && r->status == 200) {
        row->kind = "unfollowed"; /* deleted, or already gone: nothing is followed any more */
    } else {
        int transient = r->error != HTTPC_OK || r->status >= 500 || xrpc_token_refused(r);

        if (r->error != HTTPC_OK)
            snprintf(row->error, sizeof(row->error), "deleteRecord: %s",
                     httpc_error_name(r->error));
        else
            snprintf(row->error, sizeof(row->error), "deleteRecord: HTTP %ld %s", r->status,
                     r->error_name != NULL ? r->error_name : "");
        row->kind = transient ? "retry" : "kept";
        row->delay_ms = transient ? atunfollow_backoff(p, row->attempts) : 0;
    }
    p->next++;
    wait = graph_wait_seconds(r->ratelimit_policy, r->ratelimit_remaining, r->ratelimit_reset,
                              (long long)time(NULL), GRAPH_DELETE_POINTS);
    if (wait > 0) {
        /* The PDS's write budget is spent until its reset: the rest wait with the member. */
        p->pause_ms = wait * 1000LL;
        atunfollow_rest(p, p->next, "wait", "the PDS's write budget is spent", p->pause_ms);
    }
    atunfollow_next(p);
}

/* Deletes the next row's record, or records the pass once every row has its outcome. */
static void
atunfollow_next(struct atunfollow_pass *p)
{
    char rkey[520], *body;
    struct xrpc_call c = { 0 };

    while (p->next < p->n) {
        struct atunfollow_row *row = &p->rows[p->next];

        if (row->kind != NULL) {
            p->next++;
            continue;
        }
        if (graph_follow_rkey(row->uri, p->g->did, rkey, sizeof(rkey)) < 0) {
            /* Never anything but a follow record of the member's own repository. */
            row->kind = "kept";
            snprintf(row->error, sizeof(row->error),
                     "not a follow record of the member's repository");
            p->next++;
            continue;
        }
        body = graph_delete_record(p->g->did, rkey);
        c.method = "POST";
        c.service = p->g->pds_url;
        c.nsid = "com.atproto.repo.deleteRecord";
        c.body = body;
        c.auth = p->g->dpop != NULL ? XRPC_AUTH_DPOP : XRPC_AUTH_BEARER;
        c.token = p->g->access_token;
        c.dpop = p->g->dpop;
        c.dpop_nonce = p->g->pds_nonce;
        xrpc_call(p->u->app->httpc, &c, atunfollow_deleted_cb, p);
        free(body);
        return;
    }
    atunfollow_finish(p);
}

static void
atunfollow_granted_cb(struct atgrant *g, const char *why, void *arg)
{
    struct atunfollow_pass *p = arg;

    if (!worker_run_live(p->run)) {
        atgrant_free(g);
        atunfollow_pass_free(p);
        return;
    }
    if (g == NULL) {
        if (strcmp(why, "none") == 0 || strcmp(why, "revoked") == 0) {
            atunfollow_rest(p, 0, "kept", ATUNFOLLOW_NO_GRANT, 0);
        } else {
            char reason[96];

            snprintf(reason, sizeof(reason), "the member's Bluesky grant: %s", why);
            atunfollow_rest(p, 0, "wait", reason, 60000);
        }
        atunfollow_finish(p);
        return;
    }
    p->g = g;
    atunfollow_next(p);
}

static void
atunfollow_claimed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atunfollow_pass *p = arg;
    int rows = outcome == DB_OK ? PQntuples(res) : 0;
    long long orphans = rows > 0 ? strtoll(PQgetvalue(res, 0, 4), NULL, 10) : 0;

    if (orphans > 0)
        log_info("bluesky_unfollows_kept", "rows=%lld reason=%s", orphans,
                 log_q(ATUNFOLLOW_NO_GRANT));
    if (!worker_run_live(p->run) || outcome != DB_OK || rows == 0 || PQgetisnull(res, 0, 0)) {
        if (outcome != DB_OK)
            log_warn("bluesky_unfollow_claim_failed", "error=%s", log_q(err));
        PQclear(res);
        worker_run_done(p->run, 0);
        atunfollow_pass_free(p);
        return;
    }
    snprintf(p->member, sizeof(p->member), "%s", PQgetvalue(res, 0, 0));
    p->rows = xcalloc((size_t)rows, sizeof(*p->rows));
    for (int i = 0; i < rows; i++) {
        struct atunfollow_row *r = &p->rows[p->n];

        if (PQgetisnull(res, i, 1))
            continue;
        p->n++;
        snprintf(r->id, sizeof(r->id), "%s", PQgetvalue(res, i, 1));
        r->attempts = (int)strtol(PQgetvalue(res, i, 2), NULL, 10);
        r->uri = PQgetisnull(res, i, 3) ? NULL : xstrdup(PQgetvalue(res, i, 3));
    }
    PQclear(res);
    atgrant_use(p->u->app, p->member, atunfollow_granted_cb, p);
}

static void
atunfollow_step(struct worker_run *run, void *arg)
{
    struct atunfollow *u = arg;
    struct atunfollow_pass *p = xcalloc(1, sizeof(*p));
    const char *params[3] = { u->batch, u->lease, ATUNFOLLOW_NO_GRANT };

    p->u = u;
    p->run = run;
    p->pause_ms = -1;
    p->t0 = monotime_ms();
    db_query(u->app->db, sql_claim, 3, params, atunfollow_claimed_cb, p);
}

struct atunfollow *
atunfollow_new(struct app *app)
{
    struct atunfollow *u = xcalloc(1, sizeof(*u));

    u->app = app;
    snprintf(u->batch, sizeof(u->batch), "%d", ATUNFOLLOW_BATCH);
    snprintf(u->lease, sizeof(u->lease), "%d", ATUNFOLLOW_LEASE_MS);
    metrics_describe(M_ATUNFOLLOWS, METRICS_COUNTER,
                     "Bluesky follows undone in members' names by result (unfollowed, kept, "
                     "limited).");
    u->w = worker_new(app->base, app->cfg->atproto_follow_poll_ms, atunfollow_step, u);
    worker_start(u->w);
    return u;
}

void
atunfollow_kick(struct atunfollow *u)
{
    if (u != NULL)
        worker_kick(u->w);
}

void
atunfollow_free(struct atunfollow *u)
{
    if (u == NULL)
        return;
    worker_free(u->w);
    free(u);
}
