/* The bridge worker: looks up members' bridged identities on the other network (Bridgy Fed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "app.h"
#include "bridgecheck.h"
#include "bridgefed.h"
#include "config.h"
#include "db.h"
#include "identity.h"
#include "log.h"
#include "match.h"
#include "metrics.h"
#include "retry.h"
#include "wflookup.h"
#include "worker.h"
#include "xmalloc.h"

#define M_BRIDGES "passerelle_bridge_lookups_total"
/* Members looked up at once per step. */
#define BRIDGECHECK_BATCH 8
/* A claimed row is not taken again before this (longer than a request's total timeout). */
#define BRIDGECHECK_LEASE_MS "300000"
/* Tries before a lookup that keeps failing is given up until the matcher asks again. */
#define BRIDGECHECK_MAX_ATTEMPTS 6

static const char sql_claim[] =
    "WITH c AS (SELECT d.member_id FROM bridge_due d WHERE d.due_at <= now()"
    "  ORDER BY d.due_at LIMIT $1::int FOR UPDATE SKIP LOCKED),"
    " l AS (UPDATE bridge_due d SET due_at = now() + $2::bigint * interval '1 millisecond',"
    "  attempts = d.attempts + 1 FROM c WHERE d.member_id = c.member_id"
    "  RETURNING d.member_id, d.attempts)"
    " SELECT l.member_id, m.network, m.actor_uri, coalesce(m.acct, ''), l.attempts"
    " FROM l LEFT JOIN members m ON m.id = l.member_id";

/*
 * The answer: $2 and $3 the bridged id and handle (NULL: none), unless $4 keeps what was
 * known (the lookup was given up). A changed id makes the member due for matching (their
 * pairs change method), and so does a first answer (the notices of their pairs waited for it).
 */
static const char sql_found[] =
    "WITH d AS (DELETE FROM bridge_due WHERE member_id = $1::bigint)"
    " UPDATE members SET"
    "  bridged_id = CASE WHEN $4::boolean THEN bridged_id ELSE $2 END,"
    "  bridged_handle = CASE WHEN $4::boolean THEN bridged_handle ELSE $3 END,"
    "  bridge_checked_at = now(),"
    "  match_due_at = CASE WHEN bridge_checked_at IS NULL"
    "   OR (NOT $4::boolean AND bridged_id IS DISTINCT FROM $2) THEN now() ELSE match_due_at END"
    " WHERE id = $1::bigint";

static const char sql_later[] = "UPDATE bridge_due SET due_at = now() + $2::bigint * interval "
                                "'1 millisecond' WHERE member_id = $1::bigint";

struct bridgecheck {
    struct app *app;
    struct worker *w;
};

/* One step: its lookups, and the run they end together. */
struct bridgecheck_step {
    struct bridgecheck *b; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
    int pending, claimed;
};

/*
 * One member looked up. want and acct are what is stored when bridged: for a Bluesky member
 * the actor Bridgy Fed must give their DID and its address, set before the lookup; for a
 * fediverse member (actor their actor id) the DID and handle of their bridged account, set
 * once found.
 */
struct bridgecheck_job {
    struct bridgecheck_step *s;
    char member[24];
    char *did, *handle, *want, *acct, *actor;
    int attempts;
};

static void
bridgecheck_step_unref(struct bridgecheck_step *s)
{
    if (--s->pending > 0)
        return;
    worker_run_done(s->run, s->claimed >= BRIDGECHECK_BATCH);
    free(s);
}

static void
bridgecheck_job_free(struct bridgecheck_job *job)
{
    struct bridgecheck_step *s = job->s;

    free(job->did);
    free(job->handle);
    free(job->want);
    free(job->acct);
    free(job->actor);
    free(job);
    bridgecheck_step_unref(s);
}

static void
bridgecheck_written_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct bridgecheck_job *job = arg;

    if (outcome != DB_OK)
        log_warn("bridge_write_failed", "member=%s error=%s", job->member, log_q(err));
    PQclear(res);
    if (worker_run_live(job->s->run))
        match_kick(job->s->b->app->match);
    bridgecheck_job_free(job);
}

/* result: "bridged", "none", "gave_up" (what was known stays). */
static void
bridgecheck_finish(struct bridgecheck_job *job, const char *result, const char *why)
{
    int bridged = strcmp(result, "bridged") == 0, keep = strcmp(result, "gave_up") == 0;
    const char *params[4] = { job->member, bridged ? job->want : NULL, bridged ? job->acct : NULL,
                              keep ? "true" : "false" };
    char labels[40];

    snprintf(labels, sizeof(labels), "result=\"%s\"", result);
    metrics_add(M_BRIDGES, labels, 1);
    log_info("bridge_lookup", "member=%s result=%s bridged=%s reason=%s", job->member, result,
             log_q(bridged ? job->want : ""), log_q(why));
    db_query(job->s->b->app->db, sql_found, 4, params, bridgecheck_written_cb, job);
}

static void
bridgecheck_later(struct bridgecheck_job *job, const char *why)
{
    char delay[24];
    const char *params[2] = { job->member, delay };

    if (job->attempts >= BRIDGECHECK_MAX_ATTEMPTS) {
        bridgecheck_finish(job, "gave_up", why);
        return;
    }
    snprintf(delay, sizeof(delay), "%lld",
             retry_backoff_ms(job->attempts, job->s->b->app->cfg->queue_backoff_unit_ms,
                              retry_jitter()));
    metrics_add(M_BRIDGES, "result=\"retry\"", 1);
    log_info("bridge_lookup", "member=%s result=retry delay_ms=%s reason=%s", job->member, delay,
             log_q(why));
    db_query(job->s->b->app->db, sql_later, 2, params, bridgecheck_written_cb, job);
}

/* 1 (job freed) when the worker stops: the lease ends and another start looks again. */
static int
bridgecheck_stopping(struct bridgecheck_job *job)
{
    if (worker_run_live(job->s->run))
        return 0;
    bridgecheck_job_free(job);
    return 1;
}

static void
bridgecheck_webfinger_cb(enum wflookup_result r, const char *actor_uri, void *arg)
{
    struct bridgecheck_job *job = arg;
    char why[96];

    if (bridgecheck_stopping(job))
        return;
    snprintf(why, sizeof(why), "webfinger: %s", wflookup_result_name(r));
    switch (r) {
    case WFLOOKUP_OK:
        /* Not this DID's actor: the handle is someone else's now, or the answer is wrong. */
        if (strcmp(actor_uri, job->want) == 0)
            bridgecheck_finish(job, "bridged", "");
        else
            bridgecheck_finish(job, "none", "webfinger names another actor");
        return;
    case WFLOOKUP_NOT_FOUND:
    case WFLOOKUP_INVALID:
        bridgecheck_finish(job, "none", why);
        return;
    case WFLOOKUP_REFUSED:
        bridgecheck_finish(job, "gave_up", why);
        return;
    case WFLOOKUP_UNREACHABLE:
        break;
    }
    bridgecheck_later(job, why);
}

static void
bridgecheck_identity_cb(const struct identity_result *r, void *arg)
{
    struct bridgecheck_job *job = arg;
    char why[240];

    if (bridgecheck_stopping(job))
        return;
    snprintf(why, sizeof(why), "bridged handle: %s: %s", identity_status_name(r->status), r->error);
    switch (r->status) {
    case IDENTITY_OK:
        /*
         * Anyone can name a handle: only Bridgy Fed's own account for this actor names the
         * actor in its alsoKnownAs (the native id it bridges), and the handle was checked both
         * ways, so a forged or stale answer is no bridge.
         */
        if (r->handle == NULL ||
            !identity_aka_has(r->also_known_as, r->n_also_known_as, job->actor)) {
            bridgecheck_finish(job, "none",
                               "the bridged account's alsoKnownAs names another actor");
            return;
        }
        job->want = xstrdup(r->did);
        job->acct = xstrdup(r->handle);
        bridgecheck_finish(job, "bridged", "");
        return;
    case IDENTITY_INVALID:
    case IDENTITY_NOT_FOUND:
    case IDENTITY_MISMATCH:
        bridgecheck_finish(job, "none", why);
        return;
    case IDENTITY_UNAVAILABLE:
        break;
    }
    bridgecheck_later(job, why);
}

/*
 * A fediverse member: the handle Bridgy Fed would give them (user.host.<bridge_ap_domain>),
 * resolved as any handle (identity.c) and then checked against their actor.
 */
static void
bridgecheck_ap_start(struct bridgecheck_job *job, const char *actor, const char *acct)
{
    struct app *app = job->s->b->app;
    const struct config *cfg = app->cfg;
    char *named, *handle;

    if (*cfg->bridge_ap_domain == '\0') {
        bridgecheck_finish(job, "none", "bridge_ap_domain is empty");
        return;
    }
    if (app->identity == NULL) {
        bridgecheck_finish(job, "none", "no atproto resolver (token_key_file is unset)");
        return;
    }
    named = bridgefed_acct_named(acct, cfg->test_host_names);
    handle = bridgefed_ap_handle(named, cfg->bridge_ap_domain);
    free(named);
    if (handle == NULL) {
        bridgecheck_finish(job, "none", "no Bridgy Fed handle for this address");
        return;
    }
    job->actor = xstrdup(actor);
    identity_resolve_handle(app->identity, handle, bridgecheck_identity_cb, job);
    free(handle);
}

/* One claimed member: what needs no network, then the WebFinger lookup. */
static void
bridgecheck_job_start(struct bridgecheck_step *s, PGresult *res, int i)
{
    struct bridgecheck_job *job = xcalloc(1, sizeof(*job));
    const struct config *cfg = s->b->app->cfg;
    char *user;

    job->s = s;
    s->pending++;
    snprintf(job->member, sizeof(job->member), "%s", PQgetvalue(res, i, 0));
    job->attempts = (int)strtol(PQgetvalue(res, i, 4), NULL, 10);
    if (PQgetisnull(res, i, 1)) {
        bridgecheck_job_free(job); /* the member left: their row went with them */
        return;
    }
    if (strcmp(PQgetvalue(res, i, 1), "atproto") != 0) {
        bridgecheck_ap_start(job, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
        return;
    }
    job->did = xstrdup(PQgetvalue(res, i, 2));
    job->handle = xstrdup(PQgetvalue(res, i, 3));
    if (*cfg->bridge_bsky_domain == '\0') {
        bridgecheck_finish(job, "none", "bridge_bsky_domain is empty");
        return;
    }
    job->acct = bridgefed_bsky_acct(job->handle, cfg->bridge_bsky_domain);
    if (job->acct == NULL) {
        bridgecheck_finish(job, "none", "no valid handle");
        return;
    }
    job->want = bridgefed_actor_id(cfg->bridge_bsky_domain, job->did, !cfg->allow_private_fetch);
    user = xstrndup(job->acct, (size_t)(strchr(job->acct, '@') - job->acct)); /* lowercased */
    wflookup_acct(s->b->app, user, cfg->bridge_bsky_domain, bridgecheck_webfinger_cb, job);
    free(user);
}

static void
bridgecheck_claimed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct bridgecheck_step *s = arg;

    if (!worker_run_live(s->run) || outcome != DB_OK) {
        if (outcome != DB_OK)
            log_warn("bridge_claim_failed", "error=%s", log_q(err));
        PQclear(res);
        bridgecheck_step_unref(s);
        return;
    }
    s->claimed = PQntuples(res);
    for (int i = 0; i < PQntuples(res); i++)
        bridgecheck_job_start(s, res, i);
    PQclear(res);
    bridgecheck_step_unref(s); /* the step's own reference: the jobs hold theirs */
}

static void
bridgecheck_step(struct worker_run *run, void *arg)
{
    struct bridgecheck *b = arg;
    struct bridgecheck_step *s = xcalloc(1, sizeof(*s));
    char batch[16];
    const char *params[2] = { batch, BRIDGECHECK_LEASE_MS };

    s->b = b;
    s->run = run;
    s->pending = 1;
    snprintf(batch, sizeof(batch), "%d", BRIDGECHECK_BATCH);
    db_query(b->app->db, sql_claim, 2, params, bridgecheck_claimed_cb, s);
}

struct bridgecheck *
bridgecheck_new(struct app *app)
{
    struct bridgecheck *b = xcalloc(1, sizeof(*b));

    b->app = app;
    metrics_describe(M_BRIDGES, METRICS_COUNTER,
                     "Looks for members' bridged identities, by result (bridged, none, retry, "
                     "gave_up).");
    b->w = worker_new(app->base, app->cfg->bridge_poll_ms, bridgecheck_step, b);
    worker_start(b->w);
    return b;
}

void
bridgecheck_free(struct bridgecheck *b)
{
    if (b == NULL)
        return;
    worker_free(b->w);
    free(b);
}
