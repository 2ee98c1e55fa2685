/* The follow worker: due rows claimed per grant, search with resolve, follow, within budgets. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "follow.h"
#include "httpc.h"
#include "log.h"
#include "metrics.h"
#include "mastoapi.h"
#include "monotime.h"
#include "policy.h"
#include "retry.h"
#include "seal.h"
#include "worker.h"
#include "xmalloc.h"

#define M_FOLLOWS "passerelle_follows_total"
/* A rate-limit reset further away than two days is not believed. */
#define FOLLOW_MAX_WAIT_MS (2LL * 86400 * 1000)
/* A token we cannot open (token_key_file changed?): look again in an hour. */
#define FOLLOW_PAUSE_MS (3600LL * 1000)

/* One claimed row, from the claim through search and follow to its outcome statement. */
struct follow_job {
    TAILQ_ENTRY(follow_job) link; /* in f->jobs while f is alive */
    struct follow *f;             /* NULL once follow_free let go of it */
    struct follow_call c;
};

/* The claim statement in flight: the worker's step. */
struct follow_claim {
    struct follow *f; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
};

struct follow {
    struct app *app;
    struct httpc *http;
    struct follow_options o;
    struct worker *w; /* one claim at a time, again at once after a full batch */
    struct follow_stats st;
    TAILQ_HEAD(, follow_job) jobs;
};

static void follow_step(struct worker_run *run, void *arg);

/*
 * Claims at most one due row per member whose grant is free and not rate-limited, checks
 * both budgets, and leases row and grant. The members with due rows come from the partial
 * index on next_attempt_at, so an idle look reads no grant. A member over the daily budget
 * has its due rows moved to when the oldest follow of the last 24 hours leaves the window;
 * over the request budget, to the next 5-minute window (aligned on the epoch like
 * Mastodon's). Members are served longest-idle first. The first row always comes back: it
 * carries the counts of deferred rows even when nothing was claimed.
 */
static const char sql_claim[] =
    "WITH due AS (SELECT DISTINCT fa.follower_id FROM follow_actions fa"
    "  WHERE fa.state IN ('planned', 'held') AND fa.next_attempt_at <= now()"
    "   AND fa.method = 'api' AND coalesce(fa.hold_until, now()) <= now()),"
    " g AS (SELECT g.member_id FROM oauth_grants g JOIN due ON due.follower_id = g.member_id"
    "  WHERE (g.rate_limited_until IS NULL OR g.rate_limited_until <= now())"
    "   AND (g.busy_until IS NULL OR g.busy_until <= now())"
    "   AND EXISTS (SELECT 1 FROM follow_actions fa JOIN follow_actions_allowed ok ON ok.id = fa.id"
    "    WHERE fa.follower_id = g.member_id AND fa.method = 'api'"
    "     AND fa.state IN ('planned', 'held') AND coalesce(fa.hold_until, now()) <= now()"
    "     AND fa.next_attempt_at <= now())"
    "  ORDER BY g.busy_until NULLS FIRST, g.member_id LIMIT $1::int"
    "  FOR UPDATE OF g SKIP LOCKED),"
    " pick AS (SELECT g.member_id, x.id FROM g CROSS JOIN LATERAL ("
    "  SELECT fa.id FROM follow_actions fa JOIN follow_actions_allowed ok ON ok.id = fa.id"
    "  WHERE fa.follower_id = g.member_id AND fa.method = 'api'"
    "   AND fa.state IN ('planned', 'held') AND coalesce(fa.hold_until, now()) <= now()"
    "   AND fa.next_attempt_at <= now()"
    "  ORDER BY fa.next_attempt_at, fa.id LIMIT 1 FOR UPDATE OF fa SKIP LOCKED) x),"
    " b AS (SELECT p.member_id, p.id, w.start AS win,"
    "  (SELECT count(*) FROM follow_actions d WHERE d.follower_id = p.member_id"
    "   AND d.done_at > now() - interval '1 day') AS day_used,"
    "  CASE WHEN gr.api_window_start = w.start THEN gr.api_requests ELSE 0 END AS api_used"
    "  FROM pick p JOIN oauth_grants gr ON gr.member_id = p.member_id,"
    "  LATERAL (SELECT to_timestamp(floor(extract(epoch FROM now()) / 300) * 300) AS start) w),"
    " day_wait AS (UPDATE follow_actions fa SET next_attempt_at = ("
    "   SELECT d.done_at + interval '1 day' FROM follow_actions d"
    "   WHERE d.follower_id = b.member_id AND d.done_at > now() - interval '1 day'"
    "   ORDER BY d.done_at DESC OFFSET $3::int - 1 LIMIT 1), updated_at = now()"
    "  FROM b WHERE b.day_used >= $3::int AND fa.follower_id = b.member_id"
    "   AND fa.method = 'api' AND fa.state IN ('planned', 'held') AND fa.next_attempt_at <= now()"
    "  RETURNING fa.id),"
    " api_wait AS (UPDATE follow_actions fa SET next_attempt_at = b.win + interval '5 minutes',"
    "   updated_at = now()"
    "  FROM b WHERE b.day_used < $3::int AND b.api_used + 2 > $4::int"
    "   AND fa.follower_id = b.member_id AND fa.method = 'api'"
    "   AND fa.state IN ('planned', 'held') AND fa.next_attempt_at <= now()"
    "  RETURNING fa.id),"
    " ok AS (SELECT * FROM b WHERE b.day_used < $3::int AND b.api_used + 2 <= $4::int),"
    " lease AS (UPDATE oauth_grants gr"
    "  SET busy_until = now() + $2::bigint * interval '1 millisecond',"
    "   api_window_start = ok.win, api_requests = ok.api_used + 2"
    "  FROM ok WHERE gr.member_id = ok.member_id RETURNING gr.member_id),"
    " claimed AS (UPDATE follow_actions fa"
    "  SET next_attempt_at = now() + $2::bigint * interval '1 millisecond',"
    "   attempts = fa.attempts + 1, updated_at = now()"
    "  FROM ok WHERE fa.id = ok.id"
    "  RETURNING fa.id, fa.follower_id, fa.followee_id, fa.attempts)"
    " SELECT c.id, c.follower_id, c.attempts, bm.actor_uri, gr.host, gr.ciphertext, gr.nonce,"
    "  CASE WHEN am.network = 'atproto' THEN am.bridged_id ELSE am.actor_uri END,"
    "  CASE WHEN am.network = 'atproto' THEN am.bridged_handle ELSE am.acct END, am.host, bm.host,"
    "  (SELECT count(*) FROM day_wait), (SELECT count(*) FROM api_wait),"
    "  (SELECT count(*) FROM lease)"
    " FROM (SELECT 1) one LEFT JOIN claimed c ON true"
    " LEFT JOIN members bm ON bm.id = c.follower_id LEFT JOIN members am ON am.id = c.followee_id"
    " LEFT JOIN oauth_grants gr ON gr.member_id = c.follower_id";

/*
 * Just before the follow: is the pair still allowed, the grant still there, the row open, and a
 * Bluesky followee still bridged?
 */
static const char sql_recheck[] =
    "SELECT 1 FROM follow_actions_allowed ok"
    " JOIN follow_actions fa ON fa.id = ok.id AND fa.state IN ('planned', 'held')"
    " JOIN oauth_grants g ON g.member_id = ok.follower_id AND g.host = $2"
    " JOIN members a ON a.id = ok.followee_id"
    "  AND (a.network <> 'atproto' OR a.bridged_id IS NOT NULL)"
    " WHERE ok.id = $1::bigint";

/*
 * Every outcome in one statement. $2 kind: done, failed, undone (final), retry (counted;
 * failed after max attempts), wait (not counted: the pair was not at fault). The grant is
 * freed, paused until now + $8 ms, or deleted ($9).
 */
static const char sql_finish[] =
    "WITH fa AS (UPDATE follow_actions SET"
    "  state = CASE WHEN $2::text IN ('done', 'failed', 'undone') THEN $2::text"
    "   WHEN $2::text = 'retry' AND attempts >= $6::int THEN 'failed' ELSE state END,"
    "  done_at = CASE WHEN $2::text = 'done' THEN now() ELSE done_at END,"
    "  remote_account_id = coalesce($3, remote_account_id),"
    "  last_error = $4,"
    "  attempts = CASE WHEN $2::text = 'wait' THEN greatest(attempts - 1, 0) ELSE attempts END,"
    "  next_attempt_at = CASE WHEN $2::text IN ('done', 'failed', 'undone') THEN NULL"
    "   WHEN $2::text = 'retry' AND attempts >= $6::int THEN NULL"
    "   ELSE now() + $5::bigint * interval '1 millisecond' END,"
    "  updated_at = now()"
    "  WHERE id = $1::bigint AND state IN ('planned', 'held') RETURNING "
    "state)," FOLLOW_SQL_GRANT_AFTER " SELECT (SELECT state FROM fa), (SELECT count(*) FROM del)";

/* --- pure parts ------------------------------------------------------------------------------ */

enum follow_outcome
follow_classify(enum httpc_error error, long status)
{
    if (error == HTTPC_ERR_REFUSED_ADDRESS)
        return FOLLOW_PERMANENT;
    if (error != HTTPC_OK)
        return FOLLOW_RETRY;
    if (status >= 200 && status < 300)
        return FOLLOW_OK;
    if (status == 429)
        return FOLLOW_LIMITED;
    if (status == 401)
        return FOLLOW_UNAUTHORIZED;
    if (status >= 400 && status < 500 && status != 408)
        return FOLLOW_PERMANENT;
    return FOLLOW_RETRY;
}

static const char *
follow_jstr(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int
follow_plain_id(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;

    if (n == 0 || n > FOLLOW_MAX_ID)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
            return 0;
    return 1;
}

/* acct as the member's server shows it: "user@host", or "user" for its own accounts. */
static int
follow_same_acct(const char *shown, const char *acct, const char *home_host)
{
    const char *at;

    if (shown == NULL || acct == NULL)
        return 0;
    if (strcasecmp(shown, acct) == 0)
        return 1;
    at = strchr(acct, '@');
    return strchr(shown, '@') == NULL && at != NULL && strcasecmp(at + 1, home_host) == 0 &&
           strlen(shown) == (size_t)(at - acct) && strncasecmp(shown, acct, strlen(shown)) == 0;
}

const char *
follow_pick_account(struct json_object *result, const char *actor_uri, const char *acct,
                    const char *home_host)
{
    struct json_object *accounts = NULL;
    size_t n;

    if (result == NULL || !json_object_object_get_ex(result, "accounts", &accounts) ||
        !json_object_is_type(accounts, json_type_array))
        return NULL;
    n = json_object_array_length(accounts);
    for (size_t i = 0; i < n && i < 40; i++) {
        struct json_object *a = json_object_array_get_idx(accounts, i), *pl = NULL;
        const char *id = follow_jstr(a, "id"), *uri = follow_jstr(a, "uri");
        const char *url = follow_jstr(a, "url"), *ap_id = NULL;

        if (json_object_object_get_ex(a, "pleroma", &pl))
            ap_id = follow_jstr(pl, "ap_id");
        if (!follow_plain_id(id))
            continue;
        if ((uri != NULL && strcmp(uri, actor_uri) == 0) ||
            (ap_id != NULL && strcmp(ap_id, actor_uri) == 0) ||
            (url != NULL && strcmp(url, actor_uri) == 0) ||
            follow_same_acct(follow_jstr(a, "acct"), acct, home_host))
            return id;
    }
    return NULL;
}

/* --- the worker ------------------------------------------------------------------------------ */

void
follow_options_defaults(struct follow_options *out, const struct follow_options *opt)
{
    long total = opt->http.total_timeout_ms > 0 ? opt->http.total_timeout_ms : 30000;

    *out = *opt;
    if (out->poll_ms <= 0)
        out->poll_ms = 5000;
    if (out->daily_limit <= 0)
        out->daily_limit = 400;
    if (out->api_limit < 2)
        out->api_limit = 300;
    if (out->backoff_unit_ms <= 0)
        out->backoff_unit_ms = 1000;
    if (out->max_attempts <= 0)
        out->max_attempts = 10;
    if (out->batch <= 0)
        out->batch = 20;
    /* Longer than a search and a follow together, or a slow answer would meet a second try. */
    if (out->lease_ms <= 0)
        out->lease_ms = 2 * total + 60000;
}

struct follow *
follow_new(struct app *app, const struct follow_options *opt, char *err, size_t errlen)
{
    struct follow *f = xcalloc(1, sizeof(*f));

    follow_options_defaults(&f->o, opt);
    f->http = httpc_new(app->base, &opt->http, err, errlen);
    if (f->http == NULL) {
        free(f);
        return NULL;
    }
    f->o.http.user_agent = NULL; /* copied by httpc; ours would dangle */
    f->o.http.extra_ca_file = NULL;
    f->app = app;
    f->w = worker_new(app->base, f->o.poll_ms, follow_step, f);
    TAILQ_INIT(&f->jobs);
    metrics_describe(M_FOLLOWS, METRICS_COUNTER,
                     "Follows in members' names by result (done, failed, retry, limited, "
                     "unauthorized, deferred).");
    return f;
}

void
follow_start(struct follow *f)
{
    if (f != NULL)
        worker_start(f->w);
}

void
follow_kick(struct follow *f)
{
    if (f != NULL)
        worker_kick(f->w);
}

void
follow_get_stats(const struct follow *f, struct follow_stats *out)
{
    int n = 0;
    struct follow_job *job;

    *out = f->st;
    TAILQ_FOREACH(job, &f->jobs, link)
        n++;
    out->in_flight = n;
}

static void
follow_job_free(struct follow_job *job)
{
    if (job->f != NULL)
        TAILQ_REMOVE(&job->f->jobs, job, link);
    follow_call_clear(&job->c);
    free(job);
}

void
follow_free(struct follow *f)
{
    struct follow_job *job;

    if (f == NULL)
        return;
    worker_free(f->w);
    /* Jobs waiting on the database free themselves when it answers; on httpc, just below. */
    while ((job = TAILQ_FIRST(&f->jobs)) != NULL) {
        TAILQ_REMOVE(&f->jobs, job, link);
        job->f = NULL;
    }
    httpc_free(f->http);
    free(f);
}

static void
follow_finished_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct follow_job *job = arg;

    follow_call_finished(&job->c, outcome, res, err, "follow_finish_failed");
    /* The grant's next row waits for the next look: follow_poll_ms paces each member. */
    follow_job_free(job);
}

/*
 * Records what happened: kind (see sql_finish), the remote account id, the reason, when
 * to look again (ms), and what becomes of the grant: paused for grant_wait_ms (-1: no),
 * or deleted.
 */
static void
follow_finish(struct follow_job *job, const char *kind, const char *error, long long delay_ms,
              long long grant_wait_ms, int drop_grant)
{
    char delay[24], maxa[16], gwait[24];
    const char *params[9];

    snprintf(delay, sizeof(delay), "%lld", delay_ms < 0 ? 0 : delay_ms);
    snprintf(maxa, sizeof(maxa), "%d", job->f->o.max_attempts);
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
    if (strcmp(kind, "done") == 0) {
        job->f->st.done++;
        metrics_add(M_FOLLOWS, "result=\"done\"", 1);
        log_info("follow_done", "pair=%s member=%s host=%s account=%s ms=%lld", job->c.id,
                 job->c.member_id, job->c.host, log_q(job->c.account_id),
                 monotime_ms() - job->c.t0);
    } else if (strcmp(kind, "failed") == 0 || strcmp(kind, "undone") == 0) {
        job->f->st.failed++;
        metrics_add(M_FOLLOWS, "result=\"failed\"", 1);
        log_info("follow_failed", "pair=%s member=%s host=%s state=%s reason=%s", job->c.id,
                 job->c.member_id, job->c.host, kind, log_q(error));
    } else if (strcmp(kind, "retry") == 0) {
        job->f->st.retried++;
        metrics_add(M_FOLLOWS, "result=\"retry\"", 1);
        log_info("follow_retry", "pair=%s member=%s host=%s attempts=%d delay_ms=%lld reason=%s",
                 job->c.id, job->c.member_id, job->c.host, job->c.attempts, delay_ms, log_q(error));
    } else {
        log_info("follow_wait", "pair=%s member=%s host=%s delay_ms=%lld reason=%s", job->c.id,
                 job->c.member_id, job->c.host, delay_ms, log_q(error));
    }
    db_query(job->f->app->db, sql_finish, 9, params, follow_finished_cb, job);
}

/*
 * The common handling of an answer that is not a success: a retry with backoff, a wait
 * for the server's reset (429), the grant dropped (401), or the row failed. what is
 * "search" or "follow".
 */
static void
follow_not_ok(struct follow_job *job, const char *what, const struct httpc_response *resp,
              enum follow_outcome oc)
{
    char why[160];

    if (resp->error != HTTPC_OK)
        snprintf(why, sizeof(why), "%s: %s", what, httpc_error_name(resp->error));
    else
        snprintf(why, sizeof(why), "%s: HTTP %ld", what, resp->status);
    switch (oc) {
    case FOLLOW_LIMITED: {
        long long wait = mastoapi_limited_wait_ms(
            resp, retry_backoff_ms(job->c.attempts, job->f->o.backoff_unit_ms, retry_jitter()),
            FOLLOW_MAX_WAIT_MS);

        job->f->st.limited++;
        metrics_add(M_FOLLOWS, "result=\"limited\"", 1);
        snprintf(why, sizeof(why), "%s: rate limited (429)", what);
        follow_finish(job, "wait", why, wait, wait, 0);
        return;
    }
    case FOLLOW_UNAUTHORIZED:
        job->f->st.unauthorized++;
        metrics_add(M_FOLLOWS, "result=\"unauthorized\"", 1);
        follow_finish(job, "wait", "the member's server no longer accepts our token (401)", 0, -1,
                      1);
        return;
    case FOLLOW_PERMANENT:
        follow_finish(job, "failed", why, 0, -1, 0);
        return;
    case FOLLOW_RETRY:
    case FOLLOW_OK:
        break;
    }
    follow_finish(job, "retry", why,
                  retry_backoff_ms(job->c.attempts, job->f->o.backoff_unit_ms, retry_jitter()), -1,
                  0);
}

/* A Bearer request to the member's server: origin, path, value percent-encoded, rest. */
static void
follow_call(struct follow_job *job, const char *method, const char *path, const char *value,
            const char *rest, httpc_done_fn cb)
{
    mastoapi_bearer(job->f->http, job->c.origin, job->c.token, method, path, value, rest, cb, job);
}

static void
follow_followed_cb(const struct httpc_response *resp, void *arg)
{
    struct follow_job *job = arg;
    enum follow_outcome oc = follow_classify(resp->error, resp->status);
    struct json_object *o, *v = NULL;
    int following = 0, requested = 0;

    if (job->f == NULL) {
        follow_job_free(job); /* cancelled: the leases expire and another pass takes the row */
        return;
    }
    if (oc != FOLLOW_OK) {
        follow_not_ok(job, "follow", resp, oc);
        return;
    }
    /* A Relationship: following, or requested when the account approves followers. */
    o = mastoapi_parse_object(resp->body, resp->body_len);
    if (json_object_object_get_ex(o, "following", &v))
        following = json_object_get_boolean(v);
    if (json_object_object_get_ex(o, "requested", &v))
        requested = json_object_get_boolean(v);
    json_object_put(o);
    if (!following && !requested) {
        follow_finish(job, "failed", "follow: the server did not follow (blocked?)", 0, -1, 0);
        return;
    }
    follow_finish(job, "done", NULL, 0, -1, 0);
}

static void
follow_rechecked_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct follow_job *job = arg;
    int allowed = outcome == DB_OK && PQntuples(res) == 1;

    (void)err;
    PQclear(res);
    if (job->f == NULL) {
        follow_job_free(job);
        return;
    }
    if (outcome != DB_OK) {
        follow_finish(job, "wait", "database unavailable before the follow", 1000, -1, 0);
        return;
    }
    if (!allowed) {
        /* Consent withdrawn, grant revoked, paused... meanwhile: the matcher decides the rest. */
        follow_finish(job, "wait", "no longer allowed when the follow was due", 0, -1, 0);
        return;
    }
    follow_call(job, "POST", "/api/v1/accounts/", job->c.account_id, "/follow", follow_followed_cb);
}

static void
follow_searched_cb(const struct httpc_response *resp, void *arg)
{
    struct follow_job *job = arg;
    enum follow_outcome oc = follow_classify(resp->error, resp->status);
    struct json_object *o;
    const char *id;
    const char *params[2];

    if (job->f == NULL) {
        follow_job_free(job);
        return;
    }
    if (oc != FOLLOW_OK) {
        follow_not_ok(job, "search", resp, oc);
        return;
    }
    o = mastoapi_parse_object(resp->body, resp->body_len);
    id = follow_pick_account(o, job->c.followee_uri, job->c.followee_acct, job->c.host);
    if (id == NULL) {
        json_object_put(o);
        follow_finish(job, "failed", "account not found after resolve", 0, -1, 0);
        return;
    }
    snprintf(job->c.account_id, sizeof(job->c.account_id), "%s", id);
    json_object_put(o);
    params[0] = job->c.id;
    params[1] = job->c.host;
    db_query(job->f->app->db, sql_recheck, 2, params, follow_rechecked_cb, job);
}

void
follow_call_fill(struct follow_call *c, PGresult *res, int i)
{
    c->t0 = monotime_ms();
    snprintf(c->id, sizeof(c->id), "%s", PQgetvalue(res, i, 0));
    snprintf(c->member_id, sizeof(c->member_id), "%s", PQgetvalue(res, i, 1));
    c->attempts = (int)strtol(PQgetvalue(res, i, 2), NULL, 10);
    snprintf(c->host, sizeof(c->host), "%s", PQgetvalue(res, i, 4));
    c->followee_uri = xstrdup(PQgetvalue(res, i, 7));
    c->followee_acct = xstrdup(PQgetvalue(res, i, 8));
}

enum follow_call_open
follow_call_open(struct follow_call *c, struct app *app, PGresult *res, int i)
{
    char ad[300], host[256];

    if (mastoapi_home(app->cfg, PQgetvalue(res, i, 3), c->origin, sizeof(c->origin), host,
                      sizeof(host)) < 0 ||
        strcmp(host, c->host) != 0)
        return FOLLOW_CALL_NO_HOME;
    mastoapi_grant_ad(c->member_id, c->host, ad, sizeof(ad));
    c->token = app->seal != NULL
                   ? seal_from_bytea(app->seal, ad, PQgetvalue(res, i, 5), PQgetvalue(res, i, 6))
                   : NULL;
    if (c->token == NULL) {
        log_error("follow_token_unreadable", "member=%s host=%s (token_key_file changed?)",
                  c->member_id, c->host);
        return FOLLOW_CALL_NO_TOKEN;
    }
    return FOLLOW_CALL_OK;
}

void
follow_call_clear(struct follow_call *c)
{
    free(c->followee_uri);
    free(c->followee_acct);
    seal_wipe_free(c->token);
    c->followee_uri = c->followee_acct = c->token = NULL;
}

void
follow_call_finished(const struct follow_call *c, enum db_outcome outcome, PGresult *res,
                     const char *err, const char *event)
{
    if (outcome != DB_OK)
        log_warn(event, "pair=%s error=%s", c->id, log_q(err));
    else if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "0") != 0)
        log_info("follow_grant_dropped", "member=%s host=%s reason=unauthorized", c->member_id,
                 c->host);
    PQclear(res);
}

/* One claimed row: checks that need no network, then the search. */
static void
follow_job_start(struct follow *f, PGresult *res, int i)
{
    struct follow_job *job = xcalloc(1, sizeof(*job));

    job->f = f;
    TAILQ_INSERT_TAIL(&f->jobs, job, link);
    f->st.claimed++;
    follow_call_fill(&job->c, res, i);
    if (PQgetisnull(res, i, 7)) {
        /* A Bluesky followee no longer bridged: the matcher plans the pair again (a notice). */
        follow_finish(job, "undone", "the followee is no longer bridged", 0, -1, 0);
        return;
    }
    if (policy_config_blocked(f->app->cfg, PQgetvalue(res, i, 10)) ||
        policy_config_blocked(f->app->cfg, PQgetvalue(res, i, 9))) {
        follow_finish(job, "undone", "a home server is blocked by relay_block", 0, -1, 0);
        return;
    }
    switch (follow_call_open(&job->c, f->app, res, i)) {
    case FOLLOW_CALL_NO_HOME:
        follow_finish(job, "failed", "the member's server is not reachable over https", 0, -1, 0);
        return;
    case FOLLOW_CALL_NO_TOKEN:
        follow_finish(job, "wait", "the grant cannot be opened with token_key_file",
                      FOLLOW_PAUSE_MS, FOLLOW_PAUSE_MS, 0);
        return;
    case FOLLOW_CALL_OK:
        break;
    }
    follow_call(job, "GET", "/api/v2/search?q=", job->c.followee_uri,
                "&resolve=true&type=accounts&limit=1", follow_searched_cb);
}

static void
follow_claimed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct follow_claim *c = arg;
    struct worker_run *run = c->run;
    struct follow *f = c->f;
    int n = 0;

    free(c);
    if (!worker_run_live(run)) {
        PQclear(res); /* follow_free came first: the leases expire */
        worker_run_done(run, 0);
        return;
    }
    if (outcome != DB_OK) {
        log_warn("follow_claim_failed", "error=%s", log_q(err));
        PQclear(res);
        worker_run_done(run, 0);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        long long day = strtoll(PQgetvalue(res, i, 11), NULL, 10);
        long long api = strtoll(PQgetvalue(res, i, 12), NULL, 10);

        if (i == 0 && (day > 0 || api > 0)) {
            metrics_add(M_FOLLOWS, "result=\"deferred\"", (double)(day + api));
            log_info("follow_deferred", "daily_budget=%lld api_budget=%lld", day, api);
        }
        if (PQgetisnull(res, i, 0))
            continue;
        follow_job_start(f, res, i);
        n++;
    }
    PQclear(res);
    /* A full batch suggests more is due. */
    worker_run_done(run, n >= f->o.batch);
}

/* One claim of up to batch rows, one per member. */
static void
follow_step(struct worker_run *run, void *arg)
{
    struct follow *f = arg;
    struct follow_claim *c = xcalloc(1, sizeof(*c));
    char batch[16], lease[24], daily[16], api[16];
    const char *params[4] = { batch, lease, daily, api };

    c->f = f;
    c->run = run;
    snprintf(batch, sizeof(batch), "%d", f->o.batch);
    snprintf(lease, sizeof(lease), "%ld", f->o.lease_ms);
    snprintf(daily, sizeof(daily), "%d", f->o.daily_limit);
    snprintf(api, sizeof(api), "%d", f->o.api_limit);
    db_query(f->app->db, sql_claim, 4, params, follow_claimed_cb, c);
}
