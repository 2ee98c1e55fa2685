/* The unfollow worker: follows the member undid are unfollowed through their own server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "app.h"
#include "db.h"
#include "follow.h"
#include "httpc.h"
#include "log.h"
#include "mastoapi.h"
#include "metrics.h"
#include "monotime.h"
#include "retry.h"
#include "seal.h"
#include "unfollow.h"
#include "worker.h"
#include "xmalloc.h"

#define M_UNFOLLOWS       "passerelle_unfollows_total"
#define UNFOLLOW_MAX_ID   128
#define UNFOLLOW_MAX_WAIT (2LL * 86400 * 1000)
#define UNFOLLOW_PAUSE_MS (3600LL * 1000)

/* One claimed row, from the claim through the calls to its outcome statement. */
struct unfollow_job {
    TAILQ_ENTRY(unfollow_job) link; /* in u->jobs while u is alive */
    struct unfollow *u;             /* NULL once unfollow_free let go of it */
    struct follow_call c;
};

struct unfollow_claim {
    struct unfollow *u; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
};

struct unfollow {
    struct app *app;
    struct httpc *http;
    struct follow_options o;
    struct worker *w;
    TAILQ_HEAD(, unfollow_job) jobs;
};

/*
 * Due rows, one per member whose grant is free and not rate-limited, oldest first; a member
 * over the 5-minute request budget has its due rows moved to the next window; the grant and
 * the row are leased as the follow worker leases them (two requests reserved: a search may
 * be needed). Only fediverse homes: their server's client API unfollows.
 */
static const char sql_claim[] =
    "WITH due AS (SELECT DISTINCT fa.follower_id FROM follow_actions fa"
    "  WHERE fa.state = 'unfollow' AND fa.next_attempt_at <= now()),"
    " g AS (SELECT g.member_id FROM oauth_grants g JOIN due ON due.follower_id = g.member_id"
    "  JOIN members m ON m.id = g.member_id AND m.network = 'activitypub'"
    "  WHERE (g.rate_limited_until IS NULL OR g.rate_limited_until <= now())"
    "   AND (g.busy_until IS NULL OR g.busy_until <= now())"
    "  ORDER BY g.busy_until NULLS FIRST, g.member_id LIMIT $1::int"
    "  FOR UPDATE OF g SKIP LOCKED),"
    " pick AS (SELECT g.member_id, x.id FROM g CROSS JOIN LATERAL ("
    "  SELECT fa.id FROM follow_actions fa WHERE fa.follower_id = g.member_id"
    "   AND fa.state = 'unfollow' AND fa.next_attempt_at <= now()"
    "  ORDER BY fa.next_attempt_at, fa.id LIMIT 1 FOR UPDATE OF fa SKIP LOCKED) x),"
    " b AS (SELECT p.member_id, p.id, w.start AS win,"
    "  CASE WHEN gr.api_window_start = w.start THEN gr.api_requests ELSE 0 END AS api_used"
    "  FROM pick p JOIN oauth_grants gr ON gr.member_id = p.member_id,"
    "  LATERAL (SELECT to_timestamp(floor(extract(epoch FROM now()) / 300) * 300) AS start) w),"
    " api_wait AS (UPDATE follow_actions fa SET next_attempt_at = b.win + interval '5 minutes',"
    "   updated_at = now()"
    "  FROM b WHERE b.api_used + 2 > $3::int AND fa.follower_id = b.member_id"
    "   AND fa.state = 'unfollow' AND fa.next_attempt_at <= now() RETURNING 1),"
    " ok AS (SELECT * FROM b WHERE b.api_used + 2 <= $3::int),"
    " lease AS (UPDATE oauth_grants gr"
    "  SET busy_until = now() + $2::bigint * interval '1 millisecond',"
    "   api_window_start = ok.win, api_requests = ok.api_used + 2"
    "  FROM ok WHERE gr.member_id = ok.member_id RETURNING 1),"
    " claimed AS (UPDATE follow_actions fa"
    "  SET next_attempt_at = now() + $2::bigint * interval '1 millisecond',"
    "   attempts = fa.attempts + 1, updated_at = now()"
    "  FROM ok WHERE fa.id = ok.id"
    "  RETURNING fa.id, fa.follower_id, fa.followee_id, fa.attempts, fa.remote_account_id)"
    " SELECT c.id, c.follower_id, c.attempts, bm.actor_uri, gr.host, gr.ciphertext, gr.nonce,"
    "  am.actor_uri, coalesce(am.acct, ''), c.remote_account_id, (SELECT count(*) FROM api_wait)"
    " FROM claimed c JOIN members bm ON bm.id = c.follower_id"
    " JOIN members am ON am.id = c.followee_id JOIN oauth_grants gr ON gr.member_id = "
    "c.follower_id";

/*
 * Every outcome in one statement. $2 kind: unfollowed (final), kept (the follow stands: back
 * to 'done' with the reason), retry (counted; kept after max attempts), wait (not counted).
 * Then the grant, as follow.c's outcomes leave it.
 */
static const char sql_finish[] =
    "WITH fa AS (UPDATE follow_actions SET"
    "  state = CASE WHEN $2::text = 'unfollowed' THEN 'unfollowed'"
    "   WHEN $2::text = 'kept' OR ($2::text = 'retry' AND attempts >= $6::int) THEN 'done'"
    "   ELSE state END,"
    "  unfollowed_at = CASE WHEN $2::text = 'unfollowed' THEN now() ELSE unfollowed_at END,"
    "  remote_account_id = coalesce($3, remote_account_id),"
    "  last_error = $4,"
    "  attempts = CASE WHEN $2::text = 'wait' THEN greatest(attempts - 1, 0) ELSE attempts END,"
    "  next_attempt_at = CASE WHEN $2::text IN ('unfollowed', 'kept')"
    "    OR ($2::text = 'retry' AND attempts >= $6::int) THEN NULL"
    "   ELSE now() + $5::bigint * interval '1 millisecond' END,"
    "  updated_at = now()"
    "  WHERE id = $1::bigint AND state = 'unfollow' RETURNING state)," FOLLOW_SQL_GRANT_AFTER
    " SELECT (SELECT state FROM fa), (SELECT count(*) FROM del)";

static void unfollow_step(struct worker_run *run, void *arg);

/* --- pure parts ------------------------------------------------------------------------------ */

int
unfollow_relationship_gone(const char *body, size_t len)
{
    struct json_object *o = mastoapi_parse_object(body, len), *v = NULL;
    int following, requested;

    if (o == NULL || !json_object_object_get_ex(o, "following", &v) ||
        !json_object_is_type(v, json_type_boolean)) {
        json_object_put(o);
        return -1;
    }
    following = json_object_get_boolean(v);
    requested = json_object_object_get_ex(o, "requested", &v) && json_object_get_boolean(v);
    json_object_put(o);
    return !following && !requested;
}

/* --- the worker ------------------------------------------------------------------------------ */

struct unfollow *
unfollow_new(struct app *app, const struct follow_options *opt, char *err, size_t errlen)
{
    struct unfollow *u = xcalloc(1, sizeof(*u));

    follow_options_defaults(&u->o, opt);
    u->http = httpc_new(app->base, &opt->http, err, errlen);
    if (u->http == NULL) {
        free(u);
        return NULL;
    }
    u->o.http.user_agent = NULL; /* copied by httpc; ours would dangle */
    u->o.http.extra_ca_file = NULL;
    u->app = app;
    u->w = worker_new(app->base, u->o.poll_ms, unfollow_step, u);
    TAILQ_INIT(&u->jobs);
    metrics_describe(M_UNFOLLOWS, METRICS_COUNTER,
                     "Follows undone in members' names by result (unfollowed, kept, retry, "
                     "limited, unauthorized).");
    return u;
}

void
unfollow_start(struct unfollow *u)
{
    if (u != NULL)
        worker_start(u->w);
}

void
unfollow_kick(struct unfollow *u)
{
    if (u != NULL)
        worker_kick(u->w);
}

static void
unfollow_job_free(struct unfollow_job *job)
{
    if (job->u != NULL)
        TAILQ_REMOVE(&job->u->jobs, job, link);
    follow_call_clear(&job->c);
    free(job);
}

void
unfollow_free(struct unfollow *u)
{
    struct unfollow_job *job;

    if (u == NULL)
        return;
    worker_free(u->w);
    while ((job = TAILQ_FIRST(&u->jobs)) != NULL) {
        TAILQ_REMOVE(&u->jobs, job, link);
        job->u = NULL;
    }
    httpc_free(u->http);
    free(u);
}

static void
unfollow_finished_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct unfollow_job *job = arg;

    follow_call_finished(&job->c, outcome, res, err, "unfollow_finish_failed");
    unfollow_job_free(job);
}

/* Records the outcome (see sql_finish), the grant paused grant_wait_ms (-1: no) or dropped. */
static void
unfollow_finish(struct unfollow_job *job, const char *kind, const char *error, long long delay_ms,
                long long grant_wait_ms, int drop_grant)
{
    char delay[24], maxa[16], gwait[24], labels[40];
    const char *params[9];

    snprintf(delay, sizeof(delay), "%lld", delay_ms < 0 ? 0 : delay_ms);
    snprintf(maxa, sizeof(maxa), "%d", job->u->o.max_attempts);
    snprintf(gwait, sizeof(gwait), "%lld", grant_wait_ms);
    params[0] = job->c.id;
    params[1] = kind;
    params[2] = *job->c.account_id != '\0' ? job->c.account_id : NULL;
    params[3] = error;
    params[4] = delay;
    params[5] = maxa;
    params[6] = job->c.member_id;
    params[7] = grant_wait_ms >= 0 ? gwait : NULL;
    params[8] = drop_grant ? "true" : "false";
    snprintf(labels, sizeof(labels), "result=\"%s\"", kind);
    metrics_add(M_UNFOLLOWS, labels, 1);
    log_info("unfollow",
             "pair=%s member=%s host=%s result=%s attempts=%d delay_ms=%lld ms=%lld"
             " reason=%s",
             job->c.id, job->c.member_id, job->c.host, kind, job->c.attempts, delay_ms,
             monotime_ms() - job->c.t0, log_q(error));
    db_query(job->u->app->db, sql_finish, 9, params, unfollow_finished_cb, job);
}

/* An answer that is not a success: 429 waits, 401 drops the grant, 4xx keeps, else retry. */
static void
unfollow_not_ok(struct unfollow_job *job, const char *what, const struct httpc_response *resp,
                enum follow_outcome oc)
{
    char why[160];
    long long backoff =
        retry_backoff_ms(job->c.attempts, job->u->o.backoff_unit_ms, retry_jitter());

    if (resp->error != HTTPC_OK)
        snprintf(why, sizeof(why), "%s: %s", what, httpc_error_name(resp->error));
    else
        snprintf(why, sizeof(why), "%s: HTTP %ld", what, resp->status);
    if (oc == FOLLOW_LIMITED) {
        long long wait = mastoapi_limited_wait_ms(resp, backoff, UNFOLLOW_MAX_WAIT);

        snprintf(why, sizeof(why), "%s: rate limited (429)", what);
        unfollow_finish(job, "wait", why, wait, wait, 0);
    } else if (oc == FOLLOW_UNAUTHORIZED) {
        unfollow_finish(job, "wait", "the member's server no longer accepts our token (401)", 0, -1,
                        1);
    } else if (oc == FOLLOW_PERMANENT) {
        unfollow_finish(job, "kept", why, 0, -1, 0);
    } else {
        unfollow_finish(job, "retry", why, backoff, -1, 0);
    }
}

static void
unfollow_done_cb(const struct httpc_response *resp, void *arg)
{
    struct unfollow_job *job = arg;
    enum follow_outcome oc = follow_classify(resp->error, resp->status);

    if (job->u == NULL) {
        unfollow_job_free(job); /* cancelled: the leases expire and another pass takes it */
        return;
    }
    if (resp->error == HTTPC_OK && resp->status == 404) {
        /* The account is gone from their server: nothing is followed any more. */
        unfollow_finish(job, "unfollowed", "unfollow: the account is gone (404)", 0, -1, 0);
        return;
    }
    if (oc != FOLLOW_OK) {
        unfollow_not_ok(job, "unfollow", resp, oc);
        return;
    }
    switch (unfollow_relationship_gone(resp->body, resp->body_len)) {
    case 1:
        unfollow_finish(job, "unfollowed", NULL, 0, -1, 0);
        break;
    case 0:
        unfollow_finish(job, "kept", "unfollow: the server still follows", 0, -1, 0);
        break;
    default:
        unfollow_finish(
            job, "retry", "unfollow: not a Relationship",
            retry_backoff_ms(job->c.attempts, job->u->o.backoff_unit_ms, retry_jitter()), -1, 0);
    }
}

static void
unfollow_call(struct unfollow_job *job)
{
    mastoapi_bearer(job->u->http, job->c.origin, job->c.token, "POST", "/api/v1/accounts/",
                    job->c.account_id, "/unfollow", unfollow_done_cb, job);
}

/* No account id was stored with the follow: found as the follow worker finds it. */
static void
unfollow_searched_cb(const struct httpc_response *resp, void *arg)
{
    struct unfollow_job *job = arg;
    enum follow_outcome oc = follow_classify(resp->error, resp->status);
    struct json_object *o;
    const char *id;

    if (job->u == NULL) {
        unfollow_job_free(job);
        return;
    }
    if (oc != FOLLOW_OK) {
        unfollow_not_ok(job, "search", resp, oc);
        return;
    }
    o = mastoapi_parse_object(resp->body, resp->body_len);
    id = follow_pick_account(o, job->c.followee_uri, job->c.followee_acct, job->c.host);
    if (id == NULL) {
        json_object_put(o);
        unfollow_finish(job, "kept", "account not found after resolve", 0, -1, 0);
        return;
    }
    snprintf(job->c.account_id, sizeof(job->c.account_id), "%s", id);
    json_object_put(o);
    unfollow_call(job);
}

static void
unfollow_job_start(struct unfollow *u, PGresult *res, int i)
{
    struct unfollow_job *job = xcalloc(1, sizeof(*job));
    const char *stored = PQgetisnull(res, i, 9) ? "" : PQgetvalue(res, i, 9);

    job->u = u;
    TAILQ_INSERT_TAIL(&u->jobs, job, link);
    follow_call_fill(&job->c, res, i);
    switch (follow_call_open(&job->c, u->app, res, i)) {
    case FOLLOW_CALL_NO_HOME:
        unfollow_finish(job, "kept", "the member's server is not reachable over https", 0, -1, 0);
        return;
    case FOLLOW_CALL_NO_TOKEN:
        unfollow_finish(job, "wait", "the grant cannot be opened with token_key_file",
                        UNFOLLOW_PAUSE_MS, UNFOLLOW_PAUSE_MS, 0);
        return;
    case FOLLOW_CALL_OK:
        break;
    }
    if (follow_plain_id(stored)) {
        snprintf(job->c.account_id, sizeof(job->c.account_id), "%s", stored);
        unfollow_call(job);
        return;
    }
    mastoapi_bearer(u->http, job->c.origin, job->c.token, "GET",
                    "/api/v2/search?q=", job->c.followee_uri, "&resolve=true&type=accounts&limit=1",
                    unfollow_searched_cb, job);
}

static void
unfollow_claimed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct unfollow_claim *c = arg;
    struct worker_run *run = c->run;
    struct unfollow *u = c->u;
    int n = PQntuples(res);

    free(c);
    if (!worker_run_live(run) || outcome != DB_OK) {
        if (outcome != DB_OK)
            log_warn("unfollow_claim_failed", "error=%s", log_q(err));
        PQclear(res);
        worker_run_done(run, 0);
        return;
    }
    for (int i = 0; i < n; i++)
        unfollow_job_start(u, res, i);
    PQclear(res);
    worker_run_done(run, n >= u->o.batch);
}

static void
unfollow_step(struct worker_run *run, void *arg)
{
    struct unfollow *u = arg;
    struct unfollow_claim *c = xcalloc(1, sizeof(*c));
    char batch[16], lease[24], api[16];
    const char *params[3] = { batch, lease, api };

    c->u = u;
    c->run = run;
    snprintf(batch, sizeof(batch), "%d", u->o.batch);
    snprintf(lease, sizeof(lease), "%ld", u->o.lease_ms);
    snprintf(api, sizeof(api), "%d", u->o.api_limit);
    db_query(u->app->db, sql_claim, 3, params, unfollow_claimed_cb, c);
}
