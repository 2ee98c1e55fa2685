/* The list worker: the accounts followed for a member go into "Former X contacts" on their server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "follow.h"
#include "followlist.h"
#include "httpc.h"
#include "log.h"
#include "mastoapi.h"
#include "metrics.h"
#include "seal.h"
#include "texts.h"
#include "worker.h"
#include "xmalloc.h"

#define M_LISTED "passerelle_list_adds_total"
/* List and account ids, as the follow worker takes them (follow_plain_id). */
#define FOLLOWLIST_MAX_ID 128
/* A rate-limit reset further away than two days is not believed. */
#define FOLLOWLIST_MAX_WAIT_MS (2LL * 86400 * 1000)

/* What the job has to say about the member's list when it ends. */
enum followlist_list {
    FOLLOWLIST_KEEP,    /* nothing changed */
    FOLLOWLIST_READY,   /* found or made: list_id */
    FOLLOWLIST_GONE,    /* the member deleted it */
    FOLLOWLIST_REFUSED, /* the server refuses the list calls */
};

/* One claimed follow, from the claim through the list calls to the outcome statement. */
struct followlist_job {
    TAILQ_ENTRY(followlist_job) link; /* in l->jobs while l is alive */
    struct followlist *l;             /* NULL once followlist_free let go of it */
    char id[24];                      /* follow_actions.id */
    char member_id[24];
    char origin[300];
    char host[256];
    char lang[16];
    char account_id[FOLLOWLIST_MAX_ID + 1]; /* on the member's server */
    char list_id[FOLLOWLIST_MAX_ID + 1];    /* "" until known */
    char *token;                            /* plain: wiped when freed */
    enum followlist_list list;
    char list_error[160];
    int checking; /* a 404 of the add: is it the list that is gone? */
};

struct followlist {
    struct app *app;
    struct httpc *http;
    struct followlist_options o;
    struct worker *w;
    TAILQ_HEAD(, followlist_job) jobs;
};

/* The claim statement in flight. */
struct followlist_claim {
    struct followlist *l; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
};

/*
 * Members with a follow made through their grant and not yet in the list, whose grant has the
 * list scopes, is free, not rate-limited and has room in its 5-minute request window for this
 * one (2 requests with a known list: the add, and a look when it answers 404; 3 without: look,
 * make, add), and whose list was not deleted or refused since the grant was made. One follow
 * each, oldest first; the grant is leased and the requests counted, as the follow worker does.
 */
static const char sql_claim[] =
    "WITH due AS (SELECT DISTINCT fa.follower_id FROM follow_actions fa"
    "  WHERE fa.state = 'done' AND fa.method = 'api' AND fa.listed_at IS NULL"
    "   AND fa.remote_account_id IS NOT NULL),"
    " w AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / 300) * 300) AS start),"
    " g AS (SELECT g.member_id, g.host, w.start AS win,"
    "   CASE WHEN g.api_window_start = w.start THEN g.api_requests ELSE 0 END AS used,"
    "   CASE WHEN l.state = 'ready' THEN l.list_id END AS list_id,"
    "   CASE WHEN l.state = 'ready' THEN 2 ELSE 3 END AS need"
    "  FROM oauth_grants g JOIN due ON due.follower_id = g.member_id CROSS JOIN w"
    "  LEFT JOIN member_lists l ON l.member_id = g.member_id AND l.host = g.host"
    "  WHERE " FOLLOWLIST_GRANT_SCOPES
    "   AND (g.rate_limited_until IS NULL OR g.rate_limited_until <= now())"
    "   AND (g.busy_until IS NULL OR g.busy_until <= now())"
    "   AND (l.state IS NULL OR l.state = 'ready' OR l.updated_at < g.created_at)"
    "   AND CASE WHEN g.api_window_start = w.start THEN g.api_requests ELSE 0 END"
    "    + CASE WHEN l.state = 'ready' THEN 2 ELSE 3 END <= $3::int"
    "  ORDER BY g.busy_until NULLS FIRST, g.member_id LIMIT $1::int"
    "  FOR UPDATE OF g SKIP LOCKED),"
    " pick AS (SELECT g.*, x.id, x.remote_account_id FROM g CROSS JOIN LATERAL ("
    "  SELECT fa.id, fa.remote_account_id FROM follow_actions fa"
    "  JOIN follow_actions_allowed ok ON ok.id = fa.id"
    "  WHERE fa.follower_id = g.member_id AND fa.state = 'done' AND fa.method = "
    "'api'"
    "   AND fa.listed_at IS NULL AND fa.remote_account_id IS NOT NULL"
    "  ORDER BY fa.done_at, fa.id LIMIT 1 FOR UPDATE OF fa SKIP LOCKED) x),"
    " lease AS (UPDATE oauth_grants gr"
    "  SET busy_until = now() + $2::bigint * interval '1 millisecond',"
    "   api_window_start = p.win, api_requests = p.used + p.need"
    "  FROM pick p WHERE gr.member_id = p.member_id RETURNING gr.member_id)"
    " SELECT p.id, p.member_id, p.remote_account_id, p.list_id, m.actor_uri, "
    "p.host,"
    "  gr.ciphertext, gr.nonce, m.lang"
    " FROM pick p JOIN lease ON lease.member_id = p.member_id"
    " JOIN members m ON m.id = p.member_id JOIN oauth_grants gr ON gr.member_id = "
    "p.member_id";

/*
 * Every outcome in one statement: the list as it now stands ($4 state, NULL: unchanged), the
 * follow listed or given up ($7, with $8 the reason), the grant freed after $9 ms, paused
 * until now + $10 ms (NULL: no), or deleted ($11).
 */
static const char sql_finish[] =
    "WITH l AS (INSERT INTO member_lists (member_id, host, list_id, state, last_error)"
    "  SELECT $1::bigint, $2, $3, $4, $5 WHERE $4::text IS NOT NULL"
    "  ON CONFLICT (member_id) DO UPDATE SET host = EXCLUDED.host, list_id = EXCLUDED.list_id,"
    "   state = EXCLUDED.state, last_error = EXCLUDED.last_error, updated_at = now()"
    "  RETURNING 1),"
    " fa AS (UPDATE follow_actions SET listed_at = now(), list_error = $8, updated_at = now()"
    "  WHERE id = $6::bigint AND $7::boolean AND listed_at IS NULL RETURNING 1),"
    " gr AS (UPDATE oauth_grants SET busy_until = now() + $9::bigint * interval '1 millisecond',"
    "  rate_limited_until = CASE WHEN $10::bigint IS NULL THEN rate_limited_until"
    "   ELSE now() + $10::bigint * interval '1 millisecond' END"
    "  WHERE member_id = $1::bigint AND NOT $11::boolean RETURNING 1),"
    " del AS (DELETE FROM oauth_grants WHERE member_id = $1::bigint AND $11::boolean RETURNING 1)"
    " SELECT (SELECT count(*) FROM l), (SELECT count(*) FROM fa), (SELECT count(*) FROM del)";

static void followlist_step(struct worker_run *run, void *arg);
static void followlist_lists_cb(const struct httpc_response *resp, void *arg);

/* --- pure parts ------------------------------------------------------------------------------ */

/* A string member of a List or an error answer (titles and ids are short). */
static const char *
followlist_str(struct json_object *o, const char *key)
{
    return mastoapi_str(o, key, 4096);
}

const char *
followlist_find(struct json_object *lists, const char *const *titles, size_t n)
{
    size_t len;

    if (lists == NULL || !json_object_is_type(lists, json_type_array))
        return NULL;
    len = json_object_array_length(lists);
    for (size_t i = 0; i < len; i++) {
        struct json_object *list = json_object_array_get_idx(lists, i);
        const char *id = followlist_str(list, "id"), *title = followlist_str(list, "title");

        if (!follow_plain_id(id) || title == NULL)
            continue;
        for (size_t k = 0; k < n; k++)
            if (strcmp(title, titles[k]) == 0)
                return id;
    }
    return NULL;
}

/* Mastodon says "Validation failed: Account has already been taken" (uniqueness). */
int
followlist_already_in(const char *body, size_t len)
{
    struct json_object *o = mastoapi_parse_object(body, len);
    const char *e = followlist_str(o, "error");
    int yes = e != NULL && strstr(e, "already been taken") != NULL;

    json_object_put(o);
    return yes;
}

/* --- the worker ------------------------------------------------------------------------------ */

struct followlist *
followlist_new(struct app *app, const struct followlist_options *opt, char *err, size_t errlen)
{
    struct followlist *l = xcalloc(1, sizeof(*l));
    long total = opt->http.total_timeout_ms > 0 ? opt->http.total_timeout_ms : 30000;

    l->o = *opt;
    l->http = httpc_new(app->base, &opt->http, err, errlen);
    if (l->http == NULL) {
        free(l);
        return NULL;
    }
    l->o.http.user_agent = NULL; /* copied by httpc; ours would dangle */
    l->o.http.extra_ca_file = NULL;
    l->app = app;
    if (l->o.poll_ms <= 0)
        l->o.poll_ms = 5000;
    if (l->o.api_limit < 3)
        l->o.api_limit = 300;
    if (l->o.batch <= 0)
        l->o.batch = 20;
    if (l->o.lease_ms <= 0)
        l->o.lease_ms = 2 * total + 60000;
    if (l->o.retry_ms <= 0)
        l->o.retry_ms = 60000;
    l->w = worker_new(app->base, l->o.poll_ms, followlist_step, l);
    TAILQ_INIT(&l->jobs);
    metrics_describe(M_LISTED, METRICS_COUNTER,
                     "Accounts put into members' \"Former X contacts\" lists, by result (added, "
                     "given_up, retry).");
    return l;
}

void
followlist_start(struct followlist *l)
{
    if (l != NULL)
        worker_start(l->w);
}

static void
followlist_job_free(struct followlist_job *job)
{
    if (job->l != NULL)
        TAILQ_REMOVE(&job->l->jobs, job, link);
    seal_wipe_free(job->token);
    free(job);
}

void
followlist_free(struct followlist *l)
{
    struct followlist_job *job;

    if (l == NULL)
        return;
    worker_free(l->w);
    while ((job = TAILQ_FIRST(&l->jobs)) != NULL) {
        TAILQ_REMOVE(&l->jobs, job, link);
        job->l = NULL;
    }
    httpc_free(l->http);
    free(l);
}

static void
followlist_finished_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct followlist_job *job = arg;

    if (outcome != DB_OK)
        log_warn("list_finish_failed", "pair=%s error=%s", job->id, log_q(err));
    PQclear(res);
    followlist_job_free(job);
}

/*
 * Records what happened: whether the follow is done with (listed, or given up: reason), how
 * long the grant rests (ms), a pause for a 429 (-1: none), and whether the grant goes; with
 * whatever the job learnt about the list.
 */
static void
followlist_finish(struct followlist_job *job, int row_done, const char *reason, long long rest_ms,
                  long long pause_ms, int drop_grant)
{
    static const char *const states[] = { NULL, "ready", "gone", "refused" };
    char rest[24], pause[24];
    const char *params[11];

    snprintf(rest, sizeof(rest), "%lld", rest_ms);
    snprintf(pause, sizeof(pause), "%lld", pause_ms);
    params[0] = job->member_id;
    params[1] = job->host;
    params[2] = job->list == FOLLOWLIST_READY ? job->list_id : NULL;
    params[3] = states[job->list];
    params[4] = job->list_error[0] != '\0' ? job->list_error : NULL;
    params[5] = job->id;
    params[6] = row_done ? "true" : "false";
    params[7] = reason;
    params[8] = rest;
    params[9] = pause_ms >= 0 ? pause : NULL;
    params[10] = drop_grant ? "true" : "false";
    if (row_done) {
        metrics_add(M_LISTED, reason == NULL ? "result=\"added\"" : "result=\"given_up\"", 1);
        log_info("list_added", "pair=%s member=%s host=%s list=%s reason=%s", job->id,
                 job->member_id, job->host, log_q(job->list_id), log_q(reason));
    } else {
        metrics_add(M_LISTED, "result=\"retry\"", 1);
        log_info("list_wait", "pair=%s member=%s host=%s list_state=%s reason=%s", job->id,
                 job->member_id, job->host, states[job->list] ? states[job->list] : "kept",
                 log_q(job->list_error[0] != '\0' ? job->list_error : reason));
    }
    db_query(job->l->app->db, sql_finish, 11, params, followlist_finished_cb, job);
}

/* The list is out of our hands (deleted, or refused): the follows wait for a new grant. */
static void
followlist_lost(struct followlist_job *job, enum followlist_list why, const char *what)
{
    job->list = why;
    job->list_id[0] = '\0';
    snprintf(job->list_error, sizeof(job->list_error), "%s", what);
    followlist_finish(job, 0, NULL, 0, -1, 0);
}

/*
 * An answer that is not a success, common to every call: 429 waits for the server's reset,
 * 401 drops the grant (as the follow worker does), network trouble and 5xx rest the grant a
 * while. Returns 1 when it handled the answer, 0 for another 4xx (the caller decides).
 */
static int
followlist_trouble(struct followlist_job *job, const char *what, const struct httpc_response *resp)
{
    char why[160];

    if (resp->error != HTTPC_OK)
        snprintf(why, sizeof(why), "%s: %s", what, httpc_error_name(resp->error));
    else
        snprintf(why, sizeof(why), "%s: HTTP %ld", what, resp->status);
    if (resp->error == HTTPC_OK && resp->status == 429) {
        followlist_finish(
            job, 0, why, 0,
            mastoapi_limited_wait_ms(resp, job->l->o.retry_ms, FOLLOWLIST_MAX_WAIT_MS), 0);
        return 1;
    }
    if (resp->error == HTTPC_OK && resp->status == 401) {
        followlist_finish(job, 0, "the member's server no longer accepts our token (401)", 0, -1,
                          1);
        return 1;
    }
    if (resp->error != HTTPC_OK || resp->status >= 500 || resp->status == 408) {
        followlist_finish(job, 0, why, job->l->o.retry_ms, -1, 0);
        return 1;
    }
    return 0;
}

/* A Bearer request to the member's server: path, and a form body for a POST. */
static void
followlist_call(struct followlist_job *job, const char *method, const char *path, const char *form,
                httpc_done_fn cb)
{
    char *auth = xasprintf("Authorization: Bearer %s", job->token);
    char *url = xasprintf("%s%s", job->origin, path);
    const char *headers[3] = { auth, "Accept: application/json",
                               "Content-Type: application/x-www-form-urlencoded" };
    struct httpc_req hr = { 0 };

    hr.method = method;
    hr.url = url;
    hr.headers = headers;
    hr.nheaders = form != NULL ? 3 : 2;
    hr.body = form;
    hr.body_len = form != NULL ? strlen(form) : 0;
    httpc_request(job->l->http, &hr, cb, job);
    seal_wipe_free(auth);
    free(url);
}

/* Cancelled by followlist_free: the lease expires and another pass takes the follow. */
static int
followlist_gone(struct followlist_job *job)
{
    if (job->l != NULL)
        return 0;
    followlist_job_free(job);
    return 1;
}

static void
followlist_added_cb(const struct httpc_response *resp, void *arg)
{
    struct followlist_job *job = arg;
    char why[200];

    if (followlist_gone(job) || followlist_trouble(job, "add to list", resp))
        return;
    if (resp->status >= 200 && resp->status < 300) {
        followlist_finish(job, 1, NULL, 0, -1, 0);
        return;
    }
    if (resp->status == 422 && followlist_already_in(resp->body, resp->body_len)) {
        followlist_finish(job, 1, NULL, 0, -1, 0); /* there already: that is what we wanted */
        return;
    }
    if (resp->status == 404) {
        /* The list, or the account? The lists say which (the request is in the budget). */
        job->checking = 1;
        followlist_call(job, "GET", "/api/v1/lists", NULL, followlist_lists_cb);
        return;
    }
    if (resp->status == 403) {
        followlist_lost(job, FOLLOWLIST_REFUSED, "add to list: HTTP 403");
        return;
    }
    /* 422 "must be a followed account" (unfollowed meanwhile) and the like: given up. */
    snprintf(why, sizeof(why), "add to list: HTTP %ld", resp->status);
    followlist_finish(job, 1, why, 0, -1, 0);
}

static void
followlist_add(struct followlist_job *job)
{
    char *path = xasprintf("/api/v1/lists/%s/accounts", job->list_id), *form = NULL;

    mastoapi_form_add(&form, "account_ids[]", job->account_id);
    followlist_call(job, "POST", path, form, followlist_added_cb);
    free(form);
    free(path);
}

static void
followlist_created_cb(const struct httpc_response *resp, void *arg)
{
    struct followlist_job *job = arg;
    struct json_object *o;
    const char *id;
    char why[160];

    if (followlist_gone(job) || followlist_trouble(job, "make the list", resp))
        return;
    if (resp->status != 200) {
        /* 422 (the member has as many lists as the server allows), 403, ... */
        snprintf(why, sizeof(why), "make the list: HTTP %ld", resp->status);
        followlist_lost(job, FOLLOWLIST_REFUSED, why);
        return;
    }
    o = mastoapi_parse_object(resp->body, resp->body_len);
    id = followlist_str(o, "id");
    if (!follow_plain_id(id)) {
        json_object_put(o);
        followlist_lost(job, FOLLOWLIST_REFUSED, "make the list: no list id in the answer");
        return;
    }
    snprintf(job->list_id, sizeof(job->list_id), "%s", id);
    json_object_put(o);
    job->list = FOLLOWLIST_READY;
    log_info("list_made", "member=%s host=%s list=%s", job->member_id, job->host,
             log_q(job->list_id));
    followlist_add(job);
}

/* A new list, titled in the member's language; replies shown as for any list member. */
static void
followlist_make(struct followlist_job *job)
{
    char *form = NULL;

    mastoapi_form_add(&form, "title", texts_get(job->lang, FOLLOWLIST_TITLE_KEY));
    mastoapi_form_add(&form, "replies_policy", "list");
    followlist_call(job, "POST", "/api/v1/lists", form, followlist_created_cb);
    free(form);
}

/* Whether the array of List holds the list of id. */
static int
followlist_has(struct json_object *lists, const char *id)
{
    size_t n = lists != NULL ? json_object_array_length(lists) : 0;

    for (size_t i = 0; i < n; i++) {
        const char *x = followlist_str(json_object_array_get_idx(lists, i), "id");

        if (x != NULL && strcmp(x, id) == 0)
            return 1;
    }
    return 0;
}

/*
 * GET /api/v1/lists: finding our list by its title (in any language: the member may have
 * changed theirs since), or, after a 404 of the add, telling a deleted list from a gone account.
 */
static void
followlist_lists_cb(const struct httpc_response *resp, void *arg)
{
    struct followlist_job *job = arg;
    struct json_object *lists;
    const char **titles;
    const char *id;
    size_t n = texts_lang_count();
    char why[160];

    if (followlist_gone(job) || followlist_trouble(job, "look for the list", resp))
        return;
    lists = resp->status == 200 ? mastoapi_parse_array(resp->body, resp->body_len) : NULL;
    if (lists == NULL) {
        snprintf(why, sizeof(why), "look for the list: HTTP %ld%s", resp->status,
                 resp->status == 200 ? ", not a JSON array" : "");
        followlist_lost(job, FOLLOWLIST_REFUSED, why);
        return;
    }
    if (job->checking) {
        int there = followlist_has(lists, job->list_id);

        json_object_put(lists);
        if (there)
            followlist_finish(job, 1, "add to list: HTTP 404 (no such account)", 0, -1, 0);
        else
            followlist_lost(job, FOLLOWLIST_GONE, "the member deleted the list");
        return;
    }
    titles = xcalloc(n, sizeof(*titles));
    for (size_t i = 0; i < n; i++)
        titles[i] = texts_get(texts_lang_at(i), FOLLOWLIST_TITLE_KEY);
    id = followlist_find(lists, titles, n);
    free(titles);
    if (id == NULL) {
        json_object_put(lists);
        followlist_make(job);
        return;
    }
    snprintf(job->list_id, sizeof(job->list_id), "%s", id);
    json_object_put(lists);
    job->list = FOLLOWLIST_READY;
    followlist_add(job);
}

/* One claimed follow: the checks that need no network, then the first call. */
static void
followlist_job_start(struct followlist *l, PGresult *res, int i)
{
    struct followlist_job *job = xcalloc(1, sizeof(*job));
    char ad[300], host[256];

    job->l = l;
    TAILQ_INSERT_TAIL(&l->jobs, job, link);
    snprintf(job->id, sizeof(job->id), "%s", PQgetvalue(res, i, 0));
    snprintf(job->member_id, sizeof(job->member_id), "%s", PQgetvalue(res, i, 1));
    snprintf(job->account_id, sizeof(job->account_id), "%s", PQgetvalue(res, i, 2));
    snprintf(job->list_id, sizeof(job->list_id), "%s", PQgetvalue(res, i, 3));
    snprintf(job->host, sizeof(job->host), "%s", PQgetvalue(res, i, 5));
    snprintf(job->lang, sizeof(job->lang), "%s", PQgetvalue(res, i, 8));
    if (!follow_plain_id(job->account_id)) {
        followlist_finish(job, 1, "the account id is not a plain token", 0, -1, 0);
        return;
    }
    if (mastoapi_home(l->app->cfg, PQgetvalue(res, i, 4), job->origin, sizeof(job->origin), host,
                      sizeof(host)) < 0 ||
        strcmp(host, job->host) != 0) {
        followlist_finish(job, 0, "the member's server is not reachable over https", l->o.retry_ms,
                          -1, 0);
        return;
    }
    mastoapi_grant_ad(job->member_id, job->host, ad, sizeof(ad));
    job->token = l->app->seal != NULL ? seal_from_bytea(l->app->seal, ad, PQgetvalue(res, i, 6),
                                                        PQgetvalue(res, i, 7))
                                      : NULL;
    if (job->token == NULL) {
        log_error("list_token_unreadable", "member=%s host=%s (token_key_file changed?)",
                  job->member_id, job->host);
        followlist_finish(job, 0, "the grant cannot be opened with token_key_file", 3600LL * 1000,
                          -1, 0);
        return;
    }
    if (follow_plain_id(job->list_id))
        followlist_add(job);
    else
        followlist_call(job, "GET", "/api/v1/lists", NULL, followlist_lists_cb);
}

static void
followlist_claimed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct followlist_claim *c = arg;
    struct worker_run *run = c->run;
    struct followlist *l = c->l;
    int n = 0;

    free(c);
    if (!worker_run_live(run)) {
        PQclear(res); /* followlist_free came first: the leases expire */
        worker_run_done(run, 0);
        return;
    }
    if (outcome != DB_OK) {
        log_warn("list_claim_failed", "error=%s", log_q(err));
        PQclear(res);
        worker_run_done(run, 0);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++, n++)
        followlist_job_start(l, res, i);
    PQclear(res);
    worker_run_done(run, n >= l->o.batch);
}

static void
followlist_step(struct worker_run *run, void *arg)
{
    struct followlist *l = arg;
    struct followlist_claim *c = xcalloc(1, sizeof(*c));
    char batch[16], lease[24], api[16];
    const char *params[3] = { batch, lease, api };

    c->l = l;
    c->run = run;
    snprintf(batch, sizeof(batch), "%d", l->o.batch);
    snprintf(lease, sizeof(lease), "%ld", l->o.lease_ms);
    snprintf(api, sizeof(api), "%d", l->o.api_limit);
    db_query(l->app->db, sql_claim, 3, params, followlist_claimed_cb, c);
}
