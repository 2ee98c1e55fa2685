/* Following on Bluesky in a member's name: follow records written in batches, within budgets. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <libpq-fe.h>

#include "app.h"
#include "atfollow.h"
#include "atgrant.h"
#include "config.h"
#include "db.h"
#include "graph.h"
#include "httpc.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "pgarray.h"
#include "retry.h"
#include "worker.h"
#include "xmalloc.h"
#include "xrpc.h"

#define M_ATFOLLOWS "passerelle_bluesky_follows_total"
/* listRecords pages read at most (100 records each): a member following 20,000 accounts. */
#define ATFOLLOW_MAX_PAGES 200
/* A pause longer than two days is not believed. */
#define ATFOLLOW_MAX_WAIT_MS (2LL * 86400 * 1000)
/* No grant (gone, revoked, unreadable): look again in an hour. */
#define ATFOLLOW_NO_GRANT_MS (3600LL * 1000)

/*
 * One member's batch: the member with due rows first served longest ago whose grant is there
 * and whose state row is neither leased nor paused; their budget in points over the last hour
 * and day; when there is no room, their due rows moved to when the oldest follow of the full
 * window leaves it; else up to $1 rows claimed and the member leased for $4 ms. The first row
 * always comes back, with the number of rows moved.
 */
static const char sql_claim[] =
    "WITH due AS (SELECT DISTINCT fa.follower_id FROM follow_actions fa"
    "  WHERE fa.state IN ('planned', 'held') AND fa.next_attempt_at <= now()"
    "   AND fa.method = 'atproto' AND coalesce(fa.hold_until, now()) <= now()),"
    " g AS (SELECT g.member_id, g.did FROM atproto_grants g JOIN due ON due.follower_id = "
    "g.member_id"
    "  LEFT JOIN atproto_follow_state st ON st.member_id = g.member_id"
    "  WHERE (st.busy_until IS NULL OR st.busy_until <= now())"
    "   AND (st.rate_limited_until IS NULL OR st.rate_limited_until <= now())"
    "  ORDER BY st.busy_until NULLS FIRST, g.member_id LIMIT 1 FOR UPDATE OF g SKIP LOCKED),"
    " b AS (SELECT g.member_id, g.did,"
    "  (SELECT count(*) FROM follow_actions d WHERE d.follower_id = g.member_id"
    "   AND d.method = 'atproto' AND d.done_at > now() - interval '1 hour') AS hour_used,"
    "  (SELECT count(*) FROM follow_actions d WHERE d.follower_id = g.member_id"
    "   AND d.method = 'atproto' AND d.done_at > now() - interval '1 day') AS day_used FROM g),"
    " n AS (SELECT b.*, least($1::int, $2::int / 3 - hour_used, $3::int / 3 - day_used) AS room"
    "  FROM b),"
    " moved AS (UPDATE follow_actions fa SET next_attempt_at = greatest("
    "   CASE WHEN n.hour_used >= $2::int / 3 THEN (SELECT min(d.done_at) + interval '1 hour'"
    "    FROM follow_actions d WHERE d.follower_id = n.member_id AND d.method = 'atproto'"
    "    AND d.done_at > now() - interval '1 hour') END,"
    "   CASE WHEN n.day_used >= $3::int / 3 THEN (SELECT min(d.done_at) + interval '1 day'"
    "    FROM follow_actions d WHERE d.follower_id = n.member_id AND d.method = 'atproto'"
    "    AND d.done_at > now() - interval '1 day') END, now() + interval '1 second'),"
    "   updated_at = now()"
    "  FROM n WHERE n.room <= 0 AND fa.follower_id = n.member_id AND fa.method = 'atproto'"
    "   AND fa.state IN ('planned', 'held') AND fa.next_attempt_at <= now() RETURNING fa.id),"
    " pick AS (SELECT fa.id FROM n JOIN follow_actions fa ON fa.follower_id = n.member_id"
    "  JOIN follow_actions_allowed ok ON ok.id = fa.id"
    "  WHERE n.room > 0 AND fa.method = 'atproto' AND fa.state IN ('planned', 'held')"
    "   AND coalesce(fa.hold_until, now()) <= now() AND fa.next_attempt_at <= now()"
    "  ORDER BY fa.next_attempt_at, fa.id LIMIT (SELECT greatest(room, 0) FROM n)"
    "  FOR UPDATE OF fa SKIP LOCKED),"
    " lease AS (INSERT INTO atproto_follow_state (member_id, busy_until)"
    "  SELECT member_id, now() + $4::bigint * interval '1 millisecond' FROM n"
    "  WHERE EXISTS (SELECT 1 FROM pick)"
    "  ON CONFLICT (member_id) DO UPDATE SET busy_until = excluded.busy_until, updated_at = now()"
    "  RETURNING member_id),"
    " claimed AS (UPDATE follow_actions fa"
    "  SET next_attempt_at = now() + $4::bigint * interval '1 millisecond',"
    "   attempts = fa.attempts + 1, updated_at = now()"
    "  FROM pick WHERE fa.id = pick.id RETURNING fa.id, fa.followee_id, fa.attempts)"
    " SELECT (SELECT member_id FROM lease), c.id, c.attempts,"
    "  CASE WHEN a.network = 'atproto' THEN a.actor_uri ELSE a.bridged_id END,"
    "  (SELECT count(*) FROM moved)"
    " FROM (SELECT 1) one LEFT JOIN claimed c ON true LEFT JOIN members a ON a.id = c.followee_id";

/*
 * Every outcome of a batch in one statement: per row (ids, kinds, record uris, errors, delays
 * in ms) done (written), found (done with the member's own record), failed, undone (final),
 * retry (counted; failed after $7 attempts), wait (not counted); then the member's lease ends,
 * paused $8 ms when set.
 */
static const char sql_finish[] =
    "WITH o AS (SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[],"
    "  $6::bigint[]) AS o(id, kind, uri, err, delay)),"
    " fa AS (UPDATE follow_actions f SET"
    "  state = CASE WHEN o.kind IN ('done', 'failed', 'undone') THEN o.kind"
    "   WHEN o.kind = 'found' THEN 'done'"
    "   WHEN o.kind = 'retry' AND f.attempts >= $7::int THEN 'failed' ELSE f.state END,"
    "  done_at = CASE WHEN o.kind IN ('done', 'found') THEN now() ELSE f.done_at END,"
    "  record_uri = coalesce(nullif(o.uri, ''), f.record_uri), last_error = nullif(o.err, ''),"
    /* Whose record it is: only one passerelle wrote may be undone from the page. */
    "  record_written = CASE WHEN o.kind = 'done' THEN true WHEN o.kind = 'found' THEN false"
    "   ELSE f.record_written END,"
    "  attempts = CASE WHEN o.kind = 'wait' THEN greatest(f.attempts - 1, 0) ELSE f.attempts END,"
    "  next_attempt_at = CASE WHEN o.kind IN ('done', 'found', 'failed', 'undone')"
    "    OR (o.kind = 'retry' AND f.attempts >= $7::int) THEN NULL"
    "   ELSE now() + o.delay * interval '1 millisecond' END,"
    "  updated_at = now()"
    "  FROM o WHERE f.id = o.id AND f.state IN ('planned', 'held') RETURNING f.state),"
    " st AS (UPDATE atproto_follow_state SET busy_until = now(),"
    "  rate_limited_until = CASE WHEN $8::bigint IS NULL THEN rate_limited_until"
    "   ELSE now() + $8::bigint * interval '1 millisecond' END, updated_at = now()"
    "  WHERE member_id = $1::bigint RETURNING 1)"
    " SELECT (SELECT count(*) FROM fa WHERE state = 'done'),"
    "  (SELECT count(*) FROM fa WHERE state = 'failed'), (SELECT count(*) FROM st)";

struct atfollow {
    struct app *app;
    struct worker *w;
    char batch[16], hour[16], day[16], lease[24];
    int max_attempts;
};

struct atfollow_batch;

/* One claimed row; kind stays NULL while it is still to be written. */
struct atfollow_pair {
    struct atfollow_batch *b;
    char id[24];
    int attempts;
    char *subject;
    char *uri;        /* the record, once known */
    const char *kind; /* done, failed, undone, retry, wait */
    char error[160];
    long long delay_ms;
};

/* One member's batch, from the claim to its outcome statement. */
struct atfollow_batch {
    struct atfollow *a; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
    char member[24];
    struct atfollow_pair *pairs;
    size_t n;
    struct atgrant *g;
    char *cursor;
    int pages, resolving;
    long long pause_ms; /* -1: the member is not paused */
    long long t0;
};

static void atfollow_list_next(struct atfollow_batch *b);

static void
atfollow_batch_free(struct atfollow_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->pairs[i].subject);
        free(b->pairs[i].uri);
    }
    free(b->pairs);
    free(b->cursor);
    atgrant_free(b->g);
    free(b);
}

/* Sets every row still open to kind, with the reason and delay. */
static void
atfollow_all(struct atfollow_batch *b, const char *kind, const char *why, long long delay_ms)
{
    for (size_t i = 0; i < b->n; i++) {
        struct atfollow_pair *p = &b->pairs[i];

        if (p->kind != NULL)
            continue;
        p->kind = kind;
        p->delay_ms = delay_ms;
        snprintf(p->error, sizeof(p->error), "%s", why != NULL ? why : "");
    }
}

static long long
atfollow_backoff(const struct atfollow_batch *b, int attempts)
{
    return retry_backoff_ms(attempts, b->a->app->cfg->queue_backoff_unit_ms, retry_jitter());
}

/* The rows still open are tried again later, each after its own backoff. */
static void
atfollow_retry_all(struct atfollow_batch *b, const char *why)
{
    for (size_t i = 0; i < b->n; i++) {
        struct atfollow_pair *p = &b->pairs[i];

        if (p->kind != NULL)
            continue;
        p->kind = "retry";
        p->delay_ms = atfollow_backoff(b, p->attempts);
        snprintf(p->error, sizeof(p->error), "%s", why);
    }
}

static void
atfollow_finished_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atfollow_batch *b = arg;
    int live = worker_run_live(b->run);

    if (outcome != DB_OK) {
        log_warn("bluesky_follow_finish_failed", "member=%s error=%s", b->member, log_q(err));
    } else if (PQntuples(res) == 1) {
        long long done = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        long long failed = strtoll(PQgetvalue(res, 0, 1), NULL, 10);

        if (live) {
            metrics_add(M_ATFOLLOWS, "result=\"done\"", (double)done);
            metrics_add(M_ATFOLLOWS, "result=\"failed\"", (double)failed);
        }
        log_info("bluesky_follows",
                 "member=%s rows=%zu done=%lld failed=%lld paused_ms=%lld ms=%lld", b->member, b->n,
                 done, failed, b->pause_ms, monotime_ms() - b->t0);
    }
    PQclear(res);
    worker_run_done(b->run, live);
    atfollow_batch_free(b);
}

/* Records every row's outcome and ends the member's lease. */
static void
atfollow_finish(struct atfollow_batch *b)
{
    char **ids = xcalloc(b->n + 1, sizeof(char *)), **kinds = xcalloc(b->n + 1, sizeof(char *));
    char **uris = xcalloc(b->n + 1, sizeof(char *)), **errs = xcalloc(b->n + 1, sizeof(char *));
    char **delays = xcalloc(b->n + 1, sizeof(char *));
    static char none[1];
    char *a_ids, *a_kinds, *a_uris, *a_errs, *a_delays, maxa[16], pause[24];
    const char *params[8];

    for (size_t i = 0; i < b->n; i++) {
        struct atfollow_pair *p = &b->pairs[i];
        long long d = p->delay_ms < 0 ? 0 : p->delay_ms;

        if (p->kind == NULL)
            p->kind = "wait"; /* not reached: nothing was tried */
        if (d > ATFOLLOW_MAX_WAIT_MS)
            d = ATFOLLOW_MAX_WAIT_MS;
        ids[i] = p->id;
        kinds[i] = (char *)(uintptr_t)p->kind;
        uris[i] = p->uri != NULL ? p->uri : none;
        errs[i] = p->error;
        delays[i] = xasprintf("%lld", d);
    }
    a_ids = pgarray_text(ids, b->n);
    a_kinds = pgarray_text(kinds, b->n);
    a_uris = pgarray_text(uris, b->n);
    a_errs = pgarray_text(errs, b->n);
    a_delays = pgarray_text(delays, b->n);
    snprintf(maxa, sizeof(maxa), "%d", b->a->max_attempts);
    snprintf(pause, sizeof(pause), "%lld",
             b->pause_ms > ATFOLLOW_MAX_WAIT_MS ? ATFOLLOW_MAX_WAIT_MS : b->pause_ms);
    params[0] = b->member;
    params[1] = a_ids;
    params[2] = a_kinds;
    params[3] = a_uris;
    params[4] = a_errs;
    params[5] = a_delays;
    params[6] = maxa;
    params[7] = b->pause_ms >= 0 ? pause : NULL;
    db_query(b->a->app->db, sql_finish, 8, params, atfollow_finished_cb, b);
    for (size_t i = 0; i < b->n; i++)
        free(delays[i]);
    free(ids);
    free(kinds);
    free(uris);
    free(errs);
    free(delays);
    free(a_ids);
    free(a_kinds);
    free(a_uris);
    free(a_errs);
    free(a_delays);
}

/* A 429: the member waits for Retry-After, else the reset, else a backoff. */
static void
atfollow_limited(struct atfollow_batch *b, const struct xrpc_result *r, const char *what)
{
    long long wait_ms = xrpc_limited_wait_ms(r, (long long)time(NULL), atfollow_backoff(b, 1));
    char why[96];

    b->pause_ms = wait_ms;
    metrics_add(M_ATFOLLOWS, "result=\"limited\"", 1);
    snprintf(why, sizeof(why), "%s: rate limited (429)", what);
    atfollow_all(b, "wait", why, wait_ms);
}

/* The reason of an answer that is not a success. */
static void
atfollow_why(const struct xrpc_result *r, const char *what, char *out, size_t outlen)
{
    if (r->error != HTTPC_OK)
        snprintf(out, outlen, "%s: %s", what, httpc_error_name(r->error));
    else
        snprintf(out, outlen, "%s: HTTP %ld %s", what, r->status,
                 r->error_name != NULL ? r->error_name : "");
}

static void
atfollow_written_cb(const struct xrpc_result *r, void *arg)
{
    struct atfollow_batch *b = arg;
    const char **uris;
    size_t n = 0, k = 0;
    char why[200];

    if (!worker_run_live(b->run)) {
        atfollow_batch_free(b); /* stopping: the lease ends; listRecords finds what was written */
        return;
    }
    if (b->g->dpop != NULL && r->dpop_nonce != NULL)
        atgrant_save_nonce(b->a->app, b->member, r->dpop_nonce);
    if (r->error == HTTPC_OK && r->status == 429) {
        atfollow_limited(b, r, "applyWrites");
        atfollow_finish(b);
        return;
    }
    if (r->error != HTTPC_OK || r->status != 200) {
        atfollow_why(r, "applyWrites", why, sizeof(why));
        atfollow_retry_all(b, why);
        atfollow_finish(b);
        return;
    }
    for (size_t i = 0; i < b->n; i++)
        n += b->pairs[i].kind == NULL;
    uris = xcalloc(n + 1, sizeof(*uris));
    if (graph_created_uris(r->json, uris, n) < 0) {
        /* Written or not, the next listRecords tells: nothing is followed twice. */
        atfollow_retry_all(b, "applyWrites: an answer without one record per write");
    } else {
        for (size_t i = 0; i < b->n; i++) {
            if (b->pairs[i].kind != NULL)
                continue;
            b->pairs[i].uri = xstrdup(uris[k++]);
            b->pairs[i].kind = "done";
        }
    }
    free(uris);
    {
        long long wait =
            graph_wait_seconds(r->ratelimit_policy, r->ratelimit_remaining, r->ratelimit_reset,
                               (long long)time(NULL), GRAPH_CREATE_POINTS);

        if (wait > 0)
            b->pause_ms = wait * 1000LL; /* the PDS's write budget is spent until its reset */
    }
    atfollow_finish(b);
}

/* Writes the rows still open in one applyWrites. */
static void
atfollow_write(struct atfollow_batch *b)
{
    const char **subjects = xcalloc(b->n + 1, sizeof(*subjects));
    char created[32], *body;
    size_t n = 0;
    struct xrpc_call c = { 0 };

    for (size_t i = 0; i < b->n; i++)
        if (b->pairs[i].kind == NULL)
            subjects[n++] = b->pairs[i].subject;
    if (n == 0) {
        free(subjects);
        atfollow_finish(b);
        return;
    }
    graph_created_at((long long)time(NULL) * 1000LL, created, sizeof(created));
    body = graph_apply_writes(b->g->did, subjects, n, created);
    c.method = "POST";
    c.service = b->g->pds_url;
    c.nsid = "com.atproto.repo.applyWrites";
    c.body = body;
    c.auth = b->g->dpop != NULL ? XRPC_AUTH_DPOP : XRPC_AUTH_BEARER;
    c.token = b->g->access_token;
    c.dpop = b->g->dpop;
    c.dpop_nonce = b->g->pds_nonce;
    xrpc_call(b->a->app->httpc, &c, atfollow_written_cb, b);
    free(body);
    free(subjects);
}

/*
 * One subject's DID document, fetched as identity.c would (its URL and reader) but without
 * resolving the handle back: whether the account exists is all that matters here.
 */
static void
atfollow_resolved_cb(const struct httpc_response *resp, void *arg)
{
    struct atfollow_pair *p = arg;
    struct atfollow_batch *b = p->b;
    struct identity_doc doc = { 0 };
    char why[96];
    int live = worker_run_live(b->run);

    if (live && resp->error == HTTPC_OK && resp->status == 200 &&
        identity_parse_doc(resp->body, resp->body_len, p->subject,
                           b->a->app->cfg->allow_private_fetch, &doc, why, sizeof(why)) == 0) {
        /* It exists, and has a PDS: follow it. */
    } else if (live && resp->error == HTTPC_OK &&
               (resp->status == 200 || resp->status == 404 || resp->status == 410)) {
        p->kind = "failed"; /* the PDS would write it: nobody would be followed */
        snprintf(p->error, sizeof(p->error), "the account does not exist (HTTP %ld)", resp->status);
    } else {
        p->kind = "retry";
        p->delay_ms = atfollow_backoff(b, p->attempts);
        snprintf(p->error, sizeof(p->error), "the account could not be looked up (%s %ld)",
                 httpc_error_name(resp->error), resp->status);
    }
    identity_doc_clear(&doc);
    if (--b->resolving > 0)
        return;
    if (!worker_run_live(b->run)) {
        atfollow_batch_free(b);
        return;
    }
    atfollow_write(b);
}

/* Each subject not followed yet is checked: the PDS accepts a DID nobody holds. */
static void
atfollow_resolve(struct atfollow_batch *b)
{
    const struct config *cfg = b->a->app->cfg;
    const char *headers[1] = { "Accept: application/did+ld+json, application/json" };
    size_t todo = 0;

    for (size_t i = 0; i < b->n; i++) {
        struct atfollow_pair *p = &b->pairs[i];

        if (p->kind == NULL && !identity_did_valid(p->subject, cfg->allow_private_fetch)) {
            p->kind = "failed";
            snprintf(p->error, sizeof(p->error), "not a DID that can be followed");
        }
        todo += p->kind == NULL;
    }
    if (todo == 0) {
        atfollow_write(b);
        return;
    }
    b->resolving = (int)todo;
    for (size_t i = 0; i < b->n; i++) {
        struct httpc_req hr = { 0 };
        char *url;

        if (b->pairs[i].kind != NULL)
            continue;
        url = identity_doc_url(b->pairs[i].subject, cfg->plc_url, cfg->allow_private_fetch);
        hr.method = "GET";
        hr.url = url;
        hr.headers = headers;
        hr.nheaders = 1;
        httpc_request(b->a->app->httpc, &hr, atfollow_resolved_cb, &b->pairs[i]);
        free(url);
    }
}

static void
atfollow_record_cb(const char *subject, const char *uri, void *arg)
{
    struct atfollow_batch *b = arg;

    for (size_t i = 0; i < b->n; i++) {
        struct atfollow_pair *p = &b->pairs[i];

        if (p->kind == NULL && strcmp(p->subject, subject) == 0) {
            /* Followed already, by the member or an earlier batch: theirs, never undone. */
            p->kind = "found";
            p->uri = xstrdup(uri);
        }
    }
}

static void
atfollow_listed_cb(const struct xrpc_result *r, void *arg)
{
    struct atfollow_batch *b = arg;
    const char *cursor;
    char why[200];

    if (!worker_run_live(b->run)) {
        atfollow_batch_free(b);
        return;
    }
    if (r->error == HTTPC_OK && r->status == 429) {
        atfollow_limited(b, r, "listRecords");
        atfollow_finish(b);
        return;
    }
    if (r->error != HTTPC_OK || r->status != 200 || r->json == NULL) {
        atfollow_why(r, "listRecords", why, sizeof(why));
        atfollow_retry_all(b, why);
        atfollow_finish(b);
        return;
    }
    cursor = graph_list_page(r->json, atfollow_record_cb, b);
    free(b->cursor);
    b->cursor = cursor != NULL ? xstrdup(cursor) : NULL;
    if (b->cursor != NULL && ++b->pages < ATFOLLOW_MAX_PAGES)
        atfollow_list_next(b);
    else
        atfollow_resolve(b);
}

/* One page of the member's follows (a public read: no token spent). */
static void
atfollow_list_next(struct atfollow_batch *b)
{
    char *did = evhttp_uriencode(b->g->did, -1, 0);
    char *cur = b->cursor != NULL ? evhttp_uriencode(b->cursor, -1, 0) : NULL;
    char *query = xasprintf("repo=%s&collection=" GRAPH_FOLLOW "&limit=100%s%s", did,
                            cur != NULL ? "&cursor=" : "", cur != NULL ? cur : "");
    struct xrpc_call c = { 0 };

    c.method = "GET";
    c.service = b->g->pds_url;
    c.nsid = "com.atproto.repo.listRecords";
    c.query = query;
    xrpc_call(b->a->app->httpc, &c, atfollow_listed_cb, b);
    free(did);
    free(cur);
    free(query);
}

static void
atfollow_granted_cb(struct atgrant *g, const char *why, void *arg)
{
    struct atfollow_batch *b = arg;
    char reason[96];

    if (!worker_run_live(b->run)) {
        atgrant_free(g);
        atfollow_batch_free(b);
        return;
    }
    if (g == NULL) {
        int gone = strcmp(why, "none") == 0 || strcmp(why, "revoked") == 0;

        snprintf(reason, sizeof(reason), "the member's Bluesky grant: %s", why);
        atfollow_all(b, "wait", reason, gone ? ATFOLLOW_NO_GRANT_MS : 60000);
        atfollow_finish(b);
        return;
    }
    b->g = g;
    atfollow_list_next(b);
}

static void
atfollow_claimed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atfollow_batch *b = arg;
    int rows = outcome == DB_OK ? PQntuples(res) : 0;
    long long moved;

    if (!worker_run_live(b->run) || outcome != DB_OK || rows == 0 || PQgetisnull(res, 0, 0)) {
        if (outcome != DB_OK)
            log_warn("bluesky_follow_claim_failed", "error=%s", log_q(err));
        moved = rows > 0 ? strtoll(PQgetvalue(res, 0, 4), NULL, 10) : 0;
        if (moved > 0 && worker_run_live(b->run)) {
            metrics_add(M_ATFOLLOWS, "result=\"deferred\"", (double)moved);
            log_info("bluesky_follows_deferred", "rows=%lld reason=budget", moved);
        }
        PQclear(res);
        worker_run_done(b->run, 0);
        atfollow_batch_free(b);
        return;
    }
    snprintf(b->member, sizeof(b->member), "%s", PQgetvalue(res, 0, 0));
    b->pairs = xcalloc((size_t)rows, sizeof(*b->pairs));
    for (int i = 0; i < rows; i++) {
        struct atfollow_pair *p = &b->pairs[b->n];

        if (PQgetisnull(res, i, 1))
            continue;
        b->n++;
        p->b = b;
        snprintf(p->id, sizeof(p->id), "%s", PQgetvalue(res, i, 1));
        p->attempts = (int)strtol(PQgetvalue(res, i, 2), NULL, 10);
        if (PQgetisnull(res, i, 3)) {
            /* A fediverse followee no longer bridged: the matcher plans the pair again. */
            p->kind = "undone";
            snprintf(p->error, sizeof(p->error), "the followee is no longer bridged");
            p->subject = xstrdup("");
        } else {
            p->subject = xstrdup(PQgetvalue(res, i, 3));
        }
    }
    PQclear(res);
    atgrant_use(b->a->app, b->member, atfollow_granted_cb, b);
}

static void
atfollow_step(struct worker_run *run, void *arg)
{
    struct atfollow *a = arg;
    struct atfollow_batch *b = xcalloc(1, sizeof(*b));
    const char *params[4] = { a->batch, a->hour, a->day, a->lease };

    b->a = a;
    b->run = run;
    b->pause_ms = -1;
    b->t0 = monotime_ms();
    db_query(a->app->db, sql_claim, 4, params, atfollow_claimed_cb, b);
}

struct atfollow *
atfollow_new(struct app *app)
{
    const struct config *cfg = app->cfg;
    struct atfollow *a = xcalloc(1, sizeof(*a));

    a->app = app;
    snprintf(a->batch, sizeof(a->batch), "%d",
             cfg->atproto_follow_batch < GRAPH_BATCH_MAX ? cfg->atproto_follow_batch
                                                         : GRAPH_BATCH_MAX);
    snprintf(a->hour, sizeof(a->hour), "%d", cfg->atproto_follow_hour_points);
    snprintf(a->day, sizeof(a->day), "%d", cfg->atproto_follow_day_points);
    /* Longer than every page, resolution and write of a batch together. */
    snprintf(a->lease, sizeof(a->lease), "%d", 10 * 60 * 1000);
    a->max_attempts = 10;
    metrics_describe(M_ATFOLLOWS, METRICS_COUNTER,
                     "Follows on Bluesky in members' names by result (done, failed, limited, "
                     "deferred).");
    a->w = worker_new(app->base, cfg->atproto_follow_poll_ms, atfollow_step, a);
    worker_start(a->w);
    return a;
}

void
atfollow_kick(struct atfollow *a)
{
    if (a != NULL)
        worker_kick(a->w);
}

void
atfollow_free(struct atfollow *a)
{
    if (a == NULL)
        return;
    worker_free(a->w);
    free(a);
}
