/* Bluesky direct messages from the bridge's own Bluesky account: notices to Bluesky members. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "app.h"
#include "atdm.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "retry.h"
#include "seal.h"
#include "session.h"
#include "worker.h"
#include "xmalloc.h"
#include "xrpc.h"

#define M_DMS             "passerelle_bluesky_dms_total"
#define ATDM_MAX_ATTEMPTS 10
#define ATDM_PASSWORD_MAX 256
/* A pause longer than a day is not believed. */
#define ATDM_MAX_WAIT_MS (86400LL * 1000)

static const char sql_claim[] =
    "WITH c AS (SELECT id FROM atproto_dms WHERE state = 'pending' AND next_attempt_at <= now()"
    "  ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " UPDATE atproto_dms d SET next_attempt_at = now() + interval '5 minutes',"
    "  attempts = d.attempts + 1 FROM c WHERE d.id = c.id"
    " RETURNING d.id, d.did, d.body, d.attempts";

/* $2: sent, failed (final), retry (failed after the last try), wait (not counted). */
static const char sql_finish[] =
    "UPDATE atproto_dms SET"
    " state = CASE WHEN $2::text IN ('sent', 'failed') THEN $2::text"
    "  WHEN $2::text = 'retry' AND attempts >= $5::int THEN 'failed' ELSE state END,"
    " sent_at = CASE WHEN $2::text = 'sent' THEN now() ELSE sent_at END,"
    " last_error = nullif($3, ''),"
    " attempts = CASE WHEN $2::text = 'wait' THEN greatest(attempts - 1, 0) ELSE attempts END,"
    " next_attempt_at = CASE WHEN $2::text IN ('sent', 'failed')"
    "   OR ($2::text = 'retry' AND attempts >= $5::int) THEN NULL"
    "  ELSE now() + $4::bigint * interval '1 millisecond' END"
    " WHERE id = $1::bigint";

struct atdm {
    struct app *app;
    struct worker *w;
    char *password;         /* the app password: wiped when freed */
    char *access, *refresh; /* the session, in memory only */
    char *proxy;            /* "atproto-proxy: <service>" */
};

/* One message, from its claim to its outcome. */
struct atdm_job {
    struct atdm *d; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
    char id[24];
    char *did, *body;
    int attempts;
};

char *
atdm_fit(const char *text)
{
    size_t n = strlen(text), cut;
    const char *nl = NULL;
    char *out;

    if (n <= ATDM_TEXT_MAX)
        return xstrdup(text);
    cut = ATDM_TEXT_MAX - 3;
    for (size_t i = 0; i < cut; i++)
        if (text[i] == '\n')
            nl = text + i;
    if (nl != NULL && (size_t)(nl - text) > cut / 2) {
        cut = (size_t)(nl - text);
    } else {
        while (cut > 0 && text[cut] != ' ' && ((unsigned char)text[cut] & 0xc0) == 0x80)
            cut--; /* not inside a UTF-8 sequence */
    }
    out = xmalloc(cut + 4);
    memcpy(out, text, cut);
    memcpy(out + cut, "...", 4);
    return out;
}

static void
atdm_job_free(struct atdm_job *job)
{
    free(job->did);
    free(job->body);
    free(job);
}

static void
atdm_finished_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atdm_job *job = arg;

    if (outcome != DB_OK)
        log_warn("bluesky_dm_finish_failed", "dm=%s error=%s", job->id, log_q(err));
    PQclear(res);
    worker_run_done(job->run, 1);
    atdm_job_free(job);
}

static void
atdm_finish(struct atdm_job *job, const char *kind, const char *why, long long delay_ms)
{
    char delay[24], maxa[16], labels[32];
    const char *params[5] = { job->id, kind, why != NULL ? why : "", delay, maxa };

    if (delay_ms > ATDM_MAX_WAIT_MS)
        delay_ms = ATDM_MAX_WAIT_MS;
    snprintf(delay, sizeof(delay), "%lld", delay_ms < 0 ? 0 : delay_ms);
    snprintf(maxa, sizeof(maxa), "%d", ATDM_MAX_ATTEMPTS);
    snprintf(labels, sizeof(labels), "result=\"%s\"", kind);
    metrics_add(M_DMS, labels, 1);
    log_info("bluesky_dm", "dm=%s result=%s attempts=%d reason=%s", job->id, kind, job->attempts,
             log_q(why != NULL ? why : ""));
    db_query(job->d->app->db, sql_finish, 5, params, atdm_finished_cb, job);
}

static long long
atdm_backoff(const struct atdm_job *job)
{
    return retry_backoff_ms(job->attempts, job->d->app->cfg->queue_backoff_unit_ms, retry_jitter());
}

/* Keeps a refreshed session; forgets one the PDS no longer takes (made again next time). */
static void
atdm_keep(struct atdm *d, const struct session_result *s)
{
    if (s == NULL)
        return;
    if (s->status == SESSION_OK) {
        seal_wipe_free(d->access);
        seal_wipe_free(d->refresh);
        d->access = xstrdup(s->access_jwt);
        d->refresh = xstrdup(s->refresh_jwt);
    } else if (s->status == SESSION_EXPIRED || s->status == SESSION_REFUSED) {
        seal_wipe_free(d->access);
        seal_wipe_free(d->refresh);
        d->access = d->refresh = NULL;
    }
}

/* What an answer of the chat service (through the PDS) means for the message. */
static int
atdm_not_ok(struct atdm_job *job, const struct xrpc_result *r, const struct session_result *s,
            const char *what)
{
    char why[200];

    if (r == NULL) {
        snprintf(why, sizeof(why), "%s: session %s", what,
                 s != NULL ? session_status_name(s->status) : "none");
        atdm_finish(job, "retry", why, atdm_backoff(job));
        return 1;
    }
    if (r->error == HTTPC_OK && r->status == 200 && r->json != NULL)
        return 0;
    if (r->error != HTTPC_OK)
        snprintf(why, sizeof(why), "%s: %s", what, httpc_error_name(r->error));
    else
        snprintf(why, sizeof(why), "%s: HTTP %ld %s %s", what, r->status,
                 r->error_name != NULL ? r->error_name : "", r->message != NULL ? r->message : "");
    if (r->error == HTTPC_OK && r->status == 429)
        atdm_finish(job, "wait", why, r->retry_after >= 0 ? r->retry_after * 1000LL : 60000);
    else if (r->error == HTTPC_OK && r->status >= 400 && r->status < 500 && r->status != 408 &&
             !xrpc_token_refused(r))
        atdm_finish(job, "failed", why, 0); /* they take no messages from us, or no such member */
    else
        atdm_finish(job, "retry", why, atdm_backoff(job));
    return 1;
}

static void
atdm_call(struct atdm_job *job, const char *method, const char *nsid, const char *query,
          const char *body, session_call_fn cb)
{
    const struct config *cfg = job->d->app->cfg;
    const char *headers[1] = { job->d->proxy };
    struct xrpc_call c = { 0 };

    c.method = method;
    c.nsid = nsid;
    c.query = query;
    c.body = body;
    c.headers = headers;
    c.nheaders = 1;
    session_call(job->d->app->httpc, cfg->bluesky_dm_pds, job->d->access, job->d->refresh, &c, cb,
                 job);
}

static void
atdm_sent_cb(const struct xrpc_result *r, const struct session_result *refreshed, void *arg)
{
    struct atdm_job *job = arg;

    if (!worker_run_live(job->run)) {
        worker_run_done(job->run, 0);
        atdm_job_free(job);
        return;
    }
    atdm_keep(job->d, refreshed);
    if (atdm_not_ok(job, r, refreshed, "sendMessage"))
        return;
    atdm_finish(job, "sent", NULL, 0);
}

static void
atdm_convo_cb(const struct xrpc_result *r, const struct session_result *refreshed, void *arg)
{
    struct atdm_job *job = arg;
    struct json_object *convo = NULL, *id = NULL, *o, *msg;
    char *text;

    if (!worker_run_live(job->run)) {
        worker_run_done(job->run, 0);
        atdm_job_free(job);
        return;
    }
    atdm_keep(job->d, refreshed);
    if (atdm_not_ok(job, r, refreshed, "getConvoForMembers"))
        return;
    if (!json_object_object_get_ex(r->json, "convo", &convo) ||
        !json_object_object_get_ex(convo, "id", &id) ||
        !json_object_is_type(id, json_type_string)) {
        atdm_finish(job, "retry", "getConvoForMembers: an answer without convo.id",
                    atdm_backoff(job));
        return;
    }
    o = json_object_new_object();
    msg = json_object_new_object();
    text = atdm_fit(job->body);
    json_object_object_add(o, "convoId", json_object_new_string(json_object_get_string(id)));
    json_object_object_add(msg, "text", json_object_new_string(text));
    json_object_object_add(o, "message", msg);
    atdm_call(job, "POST", "chat.bsky.convo.sendMessage", NULL,
              json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), atdm_sent_cb);
    json_object_put(o);
    free(text);
}

static void
atdm_convo(struct atdm_job *job)
{
    char *enc = evhttp_uriencode(job->did, -1, 0);
    char *query = xasprintf("members=%s", enc);

    atdm_call(job, "GET", "chat.bsky.convo.getConvoForMembers", query, NULL, atdm_convo_cb);
    free(enc);
    free(query);
}

static void
atdm_session_cb(const struct session_result *r, void *arg)
{
    struct atdm_job *job = arg;
    char why[200];

    if (!worker_run_live(job->run)) {
        worker_run_done(job->run, 0);
        atdm_job_free(job);
        return;
    }
    if (r->status != SESSION_OK) {
        snprintf(why, sizeof(why), "the bridge's Bluesky session: %s %s",
                 session_status_name(r->status), r->error);
        log_warn("bluesky_dm_session_failed", "reason=%s", log_q(why));
        atdm_finish(job, r->status == SESSION_RATE_LIMITED ? "wait" : "retry", why,
                    r->status == SESSION_RATE_LIMITED && r->retry_after >= 0
                        ? r->retry_after * 1000LL
                        : atdm_backoff(job));
        return;
    }
    atdm_keep(job->d, r);
    atdm_convo(job);
}

static void
atdm_claimed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atdm_job *job = arg;

    if (!worker_run_live(job->run) || outcome != DB_OK || PQntuples(res) != 1) {
        if (outcome != DB_OK)
            log_warn("bluesky_dm_claim_failed", "error=%s", log_q(err));
        PQclear(res);
        worker_run_done(job->run, 0);
        atdm_job_free(job);
        return;
    }
    snprintf(job->id, sizeof(job->id), "%s", PQgetvalue(res, 0, 0));
    job->did = xstrdup(PQgetvalue(res, 0, 1));
    job->body = xstrdup(PQgetvalue(res, 0, 2));
    job->attempts = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
    PQclear(res);
    if (job->d->refresh == NULL) {
        session_create(job->d->app->httpc, job->d->app->cfg->bluesky_dm_pds,
                       job->d->app->cfg->bluesky_dm_handle, job->d->password, atdm_session_cb, job);
        return;
    }
    atdm_convo(job);
}

static void
atdm_step(struct worker_run *run, void *arg)
{
    struct atdm *d = arg;
    struct atdm_job *job = xcalloc(1, sizeof(*job));

    job->d = d;
    job->run = run;
    db_query(d->app->db, sql_claim, 0, NULL, atdm_claimed_cb, job);
}

/* The app password from its file: one line, at most ATDM_PASSWORD_MAX bytes. */
static char *
atdm_read_password(const char *path)
{
    char buf[ATDM_PASSWORD_MAX + 2];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        return NULL;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (buf[0] == '\0' || n > ATDM_PASSWORD_MAX)
        return NULL;
    return xstrdup(buf);
}

struct atdm *
atdm_new(struct app *app)
{
    const struct config *cfg = app->cfg;
    struct atdm *d;
    char *password;

    if (*cfg->bluesky_dm_handle == '\0')
        return NULL;
    password = *cfg->bluesky_dm_password_file != '\0'
                   ? atdm_read_password(cfg->bluesky_dm_password_file)
                   : NULL;
    if (password == NULL || *cfg->bluesky_dm_pds == '\0') {
        log_error("bluesky_dm_off", "reason=%s",
                  log_q("bluesky_dm_handle needs bluesky_dm_password_file (one "
                        "line) and bluesky_dm_pds"));
        seal_wipe_free(password);
        return NULL;
    }
    d = xcalloc(1, sizeof(*d));
    d->app = app;
    d->password = password;
    d->proxy = xasprintf("atproto-proxy: %s", cfg->bluesky_chat_service);
    metrics_describe(M_DMS, METRICS_COUNTER,
                     "Direct messages to Bluesky members by result (sent, failed, retry, wait).");
    d->w = worker_new(app->base, cfg->bluesky_dm_poll_ms, atdm_step, d);
    worker_start(d->w);
    return d;
}

void
atdm_free(struct atdm *d)
{
    if (d == NULL)
        return;
    worker_free(d->w);
    seal_wipe_free(d->password);
    seal_wipe_free(d->access);
    seal_wipe_free(d->refresh);
    free(d->proxy);
    free(d);
}
