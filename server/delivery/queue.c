/* The delivery worker: claims rows with SKIP LOCKED, POSTs them signed, flushes, sweeps. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpq-fe.h>
#include <openssl/rand.h>

#include "db.h"
#include "apsign.h"
#include "httpc.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "outbox.h"
#include "pgarray.h"
#include "queue.h"
#include "retry.h"
#include "worker.h"
#include "workpool.h"
#include "xmalloc.h"

#define QUEUE_CTYPE         "application/activity+json"
#define QUEUE_ALIVE_SLOTS   256   /* hosts remembered as cleared */
#define QUEUE_ALIVE_MS      60000 /* ... for this long */
#define QUEUE_UNREF_MS      1000  /* sql_unref at most this often while rows are going */
#define QUEUE_FLUSH_MS      20 /* a delivered row waits at most this for others (queue_flush_soon) */
#define QUEUE_SLOW_CLAIM_MS 200   /* a claim this slow asks for sql_analyze ... */
#define QUEUE_ANALYZE_MS    60000 /* ... at most this often */

#define M_DELIVERIES "passerelle_deliveries_total"
#define M_DEPTH      "passerelle_queue_depth"
#define M_IN_FLIGHT  "passerelle_queue_in_flight"
#define M_PAUSED     "passerelle_queue_hosts_paused"
#define M_DEAD       "passerelle_queue_hosts_dead"

/* One claimed row, from the claim through the POST to the statement recording its outcome. */
struct queue_job {
    TAILQ_ENTRY(queue_job) link; /* in q->jobs while q is alive */
    TAILQ_ENTRY(queue_job) wait; /* in q->to_sign while it waits for a place in the pool */
    struct queue *q;             /* NULL once queue_free has let go of it */
    char id[24];
    char *inbox, *host, *payload;
    size_t len;
    int attempts;    /* tries including this one */
    char signer[32]; /* activities.signer: "relay", "bridge" or "x:<x id>" (a stand-in) */
    long long t0;    /* ms, for the log line */
    int lost_claim;  /* set when the outcome statement found the row no longer ours */
    /*
     * Signing: key_id is whom it is signed as (NULL: an unknown signer). A pool thread
     * signs the first hop into lines before the POST starts (presigned); a redirect's hop,
     * or a job the pool had no room for, is signed on the loop when httpc asks.
     */
    char *key_id;
    EVP_PKEY *key; /* borrowed from the queue, for the thread */
    struct apsign_lines lines;
    int presigned;
};

/* A statement whose answer the queue only logs (host alive, unref). */
struct queue_op {
    TAILQ_ENTRY(queue_op) link;
    struct queue *q;  /* NULL once queue_free has let go of it */
    const char *what; /* "alive", "unref": for the log */
};

/* A step of one of the queue's workers: the claim, or a housekeeping round. */
struct queue_step {
    struct queue *q; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
    long long t0; /* ms: when its statement was sent */
};

/* Delivered jobs whose rows one sql_done statement removes; the jobs are freed after it. */
struct queue_flush {
    struct queue *q; /* NULL once queue_free has let go of it */
    struct queue_job **jobs;
    size_t n;
};

/* An enqueue answered without the database (bad input, nothing to store). */
struct queue_enq {
    TAILQ_ENTRY(queue_enq) link; /* in q->early until its timer fires */
    struct queue *q;
    struct event *ev;
    queue_enqueue_fn cb;
    void *arg;
    int status;
    char err[128];
};

/* An enqueue sent to the database: needs nothing from the queue, so it survives queue_free. */
struct queue_enq_db {
    queue_enqueue_fn cb;
    void *arg;
    size_t targets;
};

/* Rows this process holds for one host (POSTs running or waiting for a connection). */
struct queue_busy {
    char *host;
    int n;
    int answered; /* an HTTP answer came back from it since it became busy */
};

struct queue {
    struct event_base *base;
    struct db *db;
    EVP_PKEY *key;
    struct httpc *http;
    struct workpool *signers; /* threads that sign deliveries, so the loop never does */
    int sign_window;          /* signatures given to the pool at once */
    int sign_backlog;         /* rows waiting for a signature beyond which no claim is sent */
    struct queue_options o;
    char *relay_key_id, *bridge_key_id;
    char *standin_key_prefix; /* "<base>/x/": stand-in key ids are this, the x id, "#main-key" */
    char worker[40];          /* claimed_by: random, one per queue */
    /*
     * claimer: one claim at a time, again at once after a full batch or a kick (rows were
     * committed, a host ran short of rows, a slot freed); housekeeper: gauges and sweep.
     */
    struct worker *claimer, *housekeeper;
    int closing;
    int starved;             /* a claim found every in-flight slot taken */
    int in_flight;           /* POSTs running */
    int unwritten;           /* POSTs answered whose outcome is not yet written: still leased */
    int per_host;            /* the client's cap on POSTs to one host at once */
    struct queue_busy *busy; /* hosts with POSTs running, and how many */
    size_t nbusy, busycap;
    struct queue_stats st;
    TAILQ_HEAD(, queue_job) jobs;
    TAILQ_HEAD(, queue_job) to_sign; /* claimed, waiting for the pool: signed just in time */
    int nto_sign;
    int sign_starved; /* a claim was skipped for rows waiting to be signed */
    TAILQ_HEAD(, queue_op) ops;
    TAILQ_HEAD(, queue_enq) early;
    /* Delivered, waiting for the next flush (still in jobs); flush is the one in flight. */
    struct queue_job **done;
    size_t ndone, cap_done;
    struct queue_flush *flush;
    struct event *flush_ev; /* the next flush's timer (queue_flush_soon) */
    /* Activities of flushed rows, for the next sql_unref (queue_unref_later). */
    char **unref;
    size_t nunref, cap_unref;
    struct event *unref_ev; /* the next sql_unref's timer */
    int unref_busy;         /* one is waiting for its answer */
    long long unref_at;     /* ms: when the last one was sent */
    long long analyzed_at;  /* ms: the last sql_analyze sent */
    int more_due;           /* the last claim was a full batch: more rows may be due */
    /* Hosts queue_host_alive cleared lately, by a hash of the name (see queue.h). */
    struct {
        char host[64];
        long long at; /* ms */
    } alive[QUEUE_ALIVE_SLOTS];
};

static void queue_claim_step(struct worker_run *run, void *arg);
static void queue_house_step(struct worker_run *run, void *arg);
static void queue_claimed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void queue_sent_cb(const struct httpc_response *resp, void *arg);
static char *queue_key_id(const struct queue *q, const char *signer);
static void queue_sign(struct queue *q, struct queue_job *job);
static void queue_post(struct queue *q, struct queue_job *job);
static int queue_sign_cb(const char *method, const char *url, const char *body, size_t body_len,
                         struct httpc_hop_headers *out, void *arg);
static void queue_written_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void queue_flush_done(struct queue *q);
static void queue_flush_soon(struct queue *q);
static void queue_flush_timer_cb(evutil_socket_t fd, short what, void *arg);
static void queue_written(struct queue *q, size_t n);
static void queue_flushed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void queue_op_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void queue_unref_later(struct queue *q, const char *activity_id);
static void queue_unref_send(struct queue *q, int force);
static void queue_unref_timer_cb(evutil_socket_t fd, short what, void *arg);
static void queue_gauges_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void queue_swept_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void queue_enq_db_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void queue_enq_early_cb(evutil_socket_t fd, short what, void *arg);
static struct queue_op *queue_op_new(struct queue *q);
static struct queue_step *queue_step_new(struct queue *q, struct worker_run *run);
static void queue_step_done(struct queue_step *st, int found);
static void queue_job_free(struct queue_job *job);

/*
 * The claim: due rows of hosts that are neither paused, dead nor blocked, leased to us. A
 * block is judged by host_blocked() (migration 006): a blocked domain covers its subdomains
 * and every port, as the admin command and relay_block promise, not only the exact host.
 *
 * Per host, this process holds no more rows than it may send soon: $4 are the hosts it is
 * posting to, $5 how many rows each holds, $7 how many each may hold (queue_allowance);
 * other hosts may have $6. Hosts at their allowance are skipped before the LIMIT, so a slow
 * or hanging host cannot fill the in-flight slots (nor keep rows waiting out their lease)
 * while other hosts' rows wait. Candidates are locked as the scan finds them, SKIP LOCKED,
 * so two processes never take the same row and one claiming never leaves the other with
 * nothing: the LIMIT counts only rows this claim could lock. (Read unlocked and locked
 * after the LIMIT, both took the same first rows and the slower found them all locked,
 * then waited for its poll: a second process delivered a sixth of the rows.) Candidates a
 * host's allowance leaves out stay locked only until this statement commits.
 */
static const char sql_claim[] =
    "WITH busy AS (SELECT h, c, a FROM unnest($4::text[], $5::int[], $7::int[]) AS b(h, c, a)),"
    " cand AS ("
    " SELECT d.id, d.host, d.next_attempt_at FROM deliveries d"
    " WHERE d.state = 'pending' AND d.next_attempt_at <= now()"
    "  AND d.host <> ALL (ARRAY(SELECT h FROM busy WHERE c >= a))"
    "  AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.domain = d.host"
    "                  AND (i.dead OR i.paused_until > now()))"
    "  AND (NOT host_blocked(d.host)"
    "       OR (SELECT despite_block FROM activities WHERE id = d.activity_id))"
    " ORDER BY d.next_attempt_at LIMIT $1::int FOR UPDATE OF d SKIP LOCKED),"
    " due AS (SELECT r.id FROM (SELECT id, host, row_number() OVER"
    "   (PARTITION BY host ORDER BY next_attempt_at, id) AS rn FROM cand) r"
    "  LEFT JOIN busy ON busy.h = r.host"
    "  WHERE r.rn + coalesce(busy.c, 0) <= coalesce(busy.a, $6::int))"
    " UPDATE deliveries d"
    " SET next_attempt_at = now() + $2::bigint * interval '1 millisecond',"
    "  claimed_until = now() + $2::bigint * interval '1 millisecond',"
    "  claimed_by = $3, attempts = d.attempts + 1, updated_at = now()"
    " FROM due, activities a"
    " WHERE d.id = due.id AND a.id = d.activity_id"
    " RETURNING d.id, d.inbox, d.host, d.attempts, a.signer, a.payload";

/*
 * Delivered, for every row of a flush at once (one statement for up to a claim's worth of
 * deliveries instead of one each: PostgreSQL's cost per statement is most of a delivery's).
 * The rows go; their hosts are healthy again. A host row is only written when something
 * changes (a failure count, a pause, a dead mark) or its last success is a minute old:
 * a fan-out would otherwise rewrite it once per delivery. Rows are locked in domain order
 * so that two processes flushing overlapping hosts cannot deadlock. Returns the rows that
 * were still ours; sql_unref then drops payloads no row needs.
 */
static const char sql_done[] =
    "WITH del AS (DELETE FROM deliveries WHERE id = ANY($1::bigint[]) AND claimed_by = $2"
    "  RETURNING id, activity_id, host),"
    " hs AS (SELECT i.domain FROM instances i WHERE i.domain IN (SELECT host FROM del)"
    "  AND (i.consecutive_failures > 0 OR i.failure_days > 0 OR i.paused_until IS NOT NULL"
    "   OR i.dead OR i.last_success_at IS NULL OR i.last_success_at < now() - interval '1 minute')"
    "  ORDER BY i.domain FOR UPDATE OF i),"
    " inst AS (UPDATE instances i SET consecutive_failures = 0, failure_days = 0,"
    "  last_success_at = now(), paused_until = NULL, dead = false, updated_at = now()"
    "  FROM hs WHERE i.domain = hs.domain)"
    " SELECT id, activity_id FROM del";

/*
 * A statement of its own, run after the delete above committed: rows of one activity
 * finishing at once each see the others in their snapshot, but the last of these sees none.
 * While rows are going it runs at most once a second (QUEUE_UNREF_MS), for every activity
 * flushed since: its NOT EXISTS reads the activity's rows past those deleted and not yet
 * vacuumed, and after each flush it cost most of PostgreSQL's CPU per delivery in a large
 * fan-out (13 ms a statement, 18,000 statements for 100,000 rows). Once the queue is idle it
 * runs at once, so a burst's payloads go with its last rows.
 */
static const char sql_unref[] =
    "DELETE FROM activities a WHERE a.id = ANY($1::bigint[])"
    " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.activity_id = a.id)";

/* Dropped: kept with its status for the admin view; a host that answered is alive. */
static const char sql_drop[] =
    "WITH d AS (UPDATE deliveries SET state = 'dropped', last_status = $3::int,"
    "  last_error = $4, claimed_until = NULL, claimed_by = NULL, updated_at = now()"
    "  WHERE id = $1::bigint AND claimed_by = $2 RETURNING host),"
    " inst AS (UPDATE instances i SET consecutive_failures = 0, failure_days = 0,"
    "  last_success_at = now(), paused_until = NULL, dead = false, updated_at = now()"
    "  FROM d WHERE i.domain = d.host AND $3::int IS NOT NULL)"
    " SELECT count(*), false, false FROM d";

/*
 * Failed: rescheduled (or given up after max attempts), and the host's breaker counts it:
 * every breaker_failures-th consecutive failure pauses the host, and a new UTC day with a
 * failure adds to failure_days until dead_days marks the host dead. Only what the bridge
 * sends on its own counts (to members and subscribers): an answer to what a remote actor
 * sent (activities.origin, migration 016) does not, so an actor that never subscribed
 * cannot pause or kill a host for everyone with an inbox that fails.
 */
static const char sql_retry[] =
    "WITH d AS (UPDATE deliveries SET"
    "  state = CASE WHEN attempts >= $6::int THEN 'dead' ELSE 'pending' END,"
    "  next_attempt_at = now() + $5::bigint * interval '1 millisecond',"
    "  last_status = $3::int, last_error = $4, claimed_until = NULL, claimed_by = NULL,"
    "  updated_at = now()"
    "  WHERE id = $1::bigint AND claimed_by = $2 RETURNING host, activity_id),"
    " o AS (SELECT i.domain, i.dead AS was_dead FROM instances i JOIN d ON i.domain = d.host"
    "  JOIN activities a ON a.id = d.activity_id WHERE a.origin IS NULL),"
    " inst AS (UPDATE instances i SET consecutive_failures = i.consecutive_failures + 1,"
    "  failure_days = i.failure_days + CASE WHEN i.last_failure_at IS NULL"
    "   OR (i.last_failure_at AT TIME ZONE 'UTC')::date < (now() AT TIME ZONE 'UTC')::date"
    "   THEN 1 ELSE 0 END,"
    "  last_failure_at = now(),"
    "  paused_until = CASE WHEN (i.consecutive_failures + 1) % $7::int = 0"
    "   THEN now() + $8::bigint * interval '1 millisecond' ELSE i.paused_until END,"
    "  dead = i.dead OR i.failure_days + CASE WHEN i.last_failure_at IS NULL"
    "   OR (i.last_failure_at AT TIME ZONE 'UTC')::date < (now() AT TIME ZONE 'UTC')::date"
    "   THEN 1 ELSE 0 END >= $9::int,"
    "  updated_at = now()"
    "  FROM o WHERE i.domain = o.domain"
    "  RETURNING i.consecutive_failures % $7::int = 0 AS paused, i.dead AND NOT o.was_dead AS died)"
    " SELECT count(*), coalesce(bool_or(inst.paused), false), coalesce(bool_or(inst.died), false)"
    " FROM d LEFT JOIN inst ON true";

/*
 * Fresh statistics for the claim's plan. Without them (a table analysed while nearly empty,
 * or never, before a fan-out of 100,000 rows) the planner takes 'pending' for a rare state,
 * reads every due row and sorts them instead of walking deliveries_due to the LIMIT: up to
 * a second a claim until autovacuum's next look, a minute later. A claim that slow sends
 * this (QUEUE_SLOW_CLAIM_MS, at most every QUEUE_ANALYZE_MS); ANALYZE takes no lock that
 * stops the queue, and the plans of the statements on the table are made again after it.
 * Not the table's owner: PostgreSQL skips it with a warning, and nothing changes.
 */
static const char sql_analyze[] = "ANALYZE deliveries";

static const char sql_gauges[] =
    "SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending'),"
    " (SELECT count(*) FROM instances WHERE paused_until > now() AND NOT dead),"
    " (SELECT count(*) FROM instances WHERE dead)";

/*
 * Pending rows of dead or blocked hosts older than the horizon are given up; finished rows
 * older than it go; payloads go once no row needs them (normally when the last is done).
 */
static const char sql_sweep[] =
    "WITH exp AS (UPDATE deliveries d SET state = 'dead', last_error = 'host unavailable',"
    "  claimed_until = NULL, claimed_by = NULL, updated_at = now()"
    "  WHERE d.state = 'pending' AND d.created_at < now() - $1::bigint * interval '1 second'"
    "  AND (EXISTS (SELECT 1 FROM instances i WHERE i.domain = d.host AND i.dead)"
    "       OR host_blocked(d.host))"
    "  RETURNING 1),"
    " old AS (DELETE FROM deliveries WHERE state <> 'pending'"
    "  AND updated_at < now() - $1::bigint * interval '1 second' RETURNING 1),"
    " orphan AS (DELETE FROM activities a WHERE a.created_at < now() - interval '10 minutes'"
    "  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.activity_id = a.id"
    "   AND (d.state = 'pending' OR d.updated_at >= now() - $1::bigint * interval '1 second'))"
    "  RETURNING 1)"
    " SELECT (SELECT count(*) FROM exp), (SELECT count(*) FROM old), (SELECT count(*) FROM orphan)";

static const char sql_alive[] =
    "UPDATE instances SET consecutive_failures = 0, failure_days = 0, paused_until = NULL,"
    " dead = false, updated_at = now()"
    " WHERE domain = $1 AND (dead OR paused_until IS NOT NULL OR consecutive_failures > 0)";

struct queue *
queue_new(struct event_base *base, struct db *db, EVP_PKEY *key, const struct queue_options *opt,
          char *err, size_t errlen)
{
    struct queue *q;
    unsigned char rnd[8];
    long total;

    if (opt == NULL || opt->relay_key_id == NULL || *opt->relay_key_id == '\0' ||
        opt->bridge_key_id == NULL || *opt->bridge_key_id == '\0') {
        snprintf(err, errlen, "queue: relay_key_id and bridge_key_id are required");
        return NULL;
    }
    if (base == NULL || db == NULL || key == NULL) {
        snprintf(err, errlen, "queue: base, db and key are required");
        return NULL;
    }
    q = xcalloc(1, sizeof(*q));
    q->o = *opt;
    /*
     * The lease must outlast any POST, or a slow answer would meet a second copy sent by
     * another worker: by default it is the total timeout plus a minute; a shorter lease
     * (queue_claim_ms, tests) shortens each POST to half of it instead.
     */
    total = opt->http.total_timeout_ms > 0 ? opt->http.total_timeout_ms : 30000;
    if (q->o.claim_ms <= 0)
        q->o.claim_ms = total + 60000;
    else if (total > q->o.claim_ms / 2)
        q->o.http.total_timeout_ms = q->o.claim_ms / 2 > 0 ? q->o.claim_ms / 2 : 1;
    q->http = httpc_new(base, &q->o.http, err, errlen);
    if (q->http == NULL) {
        free(q);
        return NULL;
    }
    q->base = base;
    q->db = db;
    q->key = key;
    q->relay_key_id = xstrdup(opt->relay_key_id);
    q->bridge_key_id = xstrdup(opt->bridge_key_id);
    q->o.relay_key_id = q->relay_key_id;
    q->o.bridge_key_id = q->bridge_key_id;
    q->standin_key_prefix = opt->standin_key_prefix ? xstrdup(opt->standin_key_prefix) : NULL;
    q->o.standin_key_prefix = q->standin_key_prefix;
    q->o.http.user_agent = NULL; /* copied by httpc; ours would dangle */
    /* The client's own per-host cap (httpc.h: 0 gives 4, at most 64). */
    q->per_host = opt->http.max_per_host <= 0   ? 4
                  : opt->http.max_per_host > 64 ? 64
                                                : opt->http.max_per_host;
    q->o.http.extra_ca_file = NULL;
    if (q->o.batch <= 0)
        q->o.batch = 50;
    if (q->o.max_in_flight <= 0)
        q->o.max_in_flight = 200;
    if (q->o.poll_ms <= 0)
        q->o.poll_ms = 1000;
    if (q->o.backoff_unit_ms <= 0)
        q->o.backoff_unit_ms = 1000;
    if (q->o.max_attempts <= 0)
        q->o.max_attempts = 16;
    if (q->o.breaker_failures <= 0)
        q->o.breaker_failures = 10;
    if (q->o.breaker_pause_ms <= 0)
        q->o.breaker_pause_ms = 60000;
    if (q->o.dead_days <= 0)
        q->o.dead_days = 7;
    if (q->o.retry_after_max_ms <= 0)
        q->o.retry_after_max_ms = 86400000;
    if (q->o.housekeeping_ms <= 0)
        q->o.housekeeping_ms = 60000;
    if (q->o.keep_finished_s <= 0)
        q->o.keep_finished_s = 4 * 86400;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    snprintf(q->worker, sizeof(q->worker), "%d-%02x%02x%02x%02x%02x%02x%02x%02x", (int)getpid(),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (q->o.sign_threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);

        q->o.sign_threads = cores > 0 ? (cores > 64 ? 64 : (int)cores) : 1;
    }
    /*
     * A few signatures per thread at once, the rest waiting here: a row is signed shortly
     * before its POST (its Date fresh, its lease not spent waiting behind a long line of
     * signatures when the cores are busy).
     */
    q->sign_window = 2 * q->o.sign_threads;
    /*
     * The next claim goes out while a batch still waits to be signed, so that its answer
     * comes back before the threads run dry: waiting for the line to fall under the window
     * left the threads idle for a claim's round trip after every batch (a third of the time
     * in a fan-out, where a claim takes about half the time two threads take to sign it).
     */
    q->sign_backlog = q->o.batch > q->sign_window ? q->o.batch : q->sign_window;
    q->signers = workpool_new(base, q->o.sign_threads, q->sign_window, err, errlen);
    if (q->signers == NULL) {
        httpc_free(q->http);
        free(q->relay_key_id);
        free(q->bridge_key_id);
        free(q->standin_key_prefix);
        free(q);
        return NULL;
    }
    q->claimer = worker_new(base, q->o.poll_ms, queue_claim_step, q);
    q->housekeeper = worker_new(base, q->o.housekeeping_ms, queue_house_step, q);
    q->unref_ev = evtimer_new(base, queue_unref_timer_cb, q);
    q->flush_ev = evtimer_new(base, queue_flush_timer_cb, q);
    q->unref_at = monotime_ms() - QUEUE_UNREF_MS;
    TAILQ_INIT(&q->jobs);
    TAILQ_INIT(&q->to_sign);
    TAILQ_INIT(&q->ops);
    TAILQ_INIT(&q->early);

    metrics_describe(M_DELIVERIES, METRICS_COUNTER,
                     "Delivery attempts by result (delivered, dropped, retry, dead).");
    metrics_describe(M_DEPTH, METRICS_GAUGE, "Delivery rows pending, in every process.");
    metrics_describe(M_IN_FLIGHT, METRICS_GAUGE, "Deliveries being sent by this process.");
    metrics_describe(M_PAUSED, METRICS_GAUGE, "Hosts paused by the circuit breaker.");
    metrics_describe(M_DEAD, METRICS_GAUGE, "Hosts marked dead after days of failures.");
    return q;
}

void
queue_start(struct queue *q)
{
    if (q == NULL)
        return;
    worker_start(q->claimer);
    worker_start(q->housekeeper);
}

void
queue_kick(struct queue *q)
{
    if (q != NULL)
        worker_kick(q->claimer); /* NULL once queue_free began */
}

void
queue_enqueue(struct queue *q, const char *payload, size_t len, const char *signer_key_id,
              const char *const *inboxes, size_t n, queue_enqueue_fn cb, void *arg)
{
    struct outbox_batch b;
    const char *signer = NULL;
    char why[128] = "";

    if (signer_key_id != NULL && strcmp(signer_key_id, q->relay_key_id) == 0)
        signer = "relay";
    else if (signer_key_id != NULL && strcmp(signer_key_id, q->bridge_key_id) == 0)
        signer = "bridge";
    if (signer == NULL)
        snprintf(why, sizeof(why), "unknown signer key id");
    else if (q->closing)
        snprintf(why, sizeof(why), "queue closing");
    if (*why == '\0' &&
        outbox_batch_init(&b, signer, payload, len, inboxes, n, 0, why, sizeof(why)) == 0 &&
        b.targets == 0)
        outbox_batch_free(&b);
    else if (*why == '\0') {
        struct queue_enq_db *e = xcalloc(1, sizeof(*e));

        e->cb = cb;
        e->arg = arg;
        e->targets = b.targets;
        db_query(q->db, b.sql, b.nparams, b.params, queue_enq_db_cb, e);
        outbox_batch_free(&b);
        return;
    }
    {
        /* Answered from the loop all the same: callers rely on never being called back inside. */
        struct queue_enq *e = xcalloc(1, sizeof(*e));
        struct timeval now = { 0, 0 };

        e->q = q;
        e->cb = cb;
        e->arg = arg;
        e->status = *why != '\0' ? -1 : 0;
        snprintf(e->err, sizeof(e->err), "%s", why);
        e->ev = evtimer_new(q->base, queue_enq_early_cb, e);
        TAILQ_INSERT_TAIL(&q->early, e, link);
        evtimer_add(e->ev, &now);
    }
}

/* host's slot in q->alive, or -1 when the name is too long to be remembered. */
static int
queue_alive_slot(const struct queue *q, const char *host)
{
    unsigned long h = 5381;

    if (strlen(host) >= sizeof(q->alive[0].host))
        return -1;
    for (const unsigned char *p = (const unsigned char *)host; *p != '\0'; p++)
        h = h * 33 + *p;
    return (int)(h % QUEUE_ALIVE_SLOTS);
}

void
queue_host_alive(struct queue *q, const char *host)
{
    const char *params[1] = { host };
    struct queue_op *op;
    int slot;

    if (q == NULL || q->closing || host == NULL || *host == '\0')
        return;
    slot = queue_alive_slot(q, host);
    if (slot >= 0 && strcmp(q->alive[slot].host, host) == 0 &&
        monotime_ms() - q->alive[slot].at < QUEUE_ALIVE_MS)
        return;
    if (slot >= 0) {
        snprintf(q->alive[slot].host, sizeof(q->alive[slot].host), "%s", host);
        q->alive[slot].at = monotime_ms();
    }
    op = queue_op_new(q);
    op->what = "alive";
    db_query(q->db, sql_alive, 1, params, queue_op_cb, op);
}

void
queue_free(struct queue *q)
{
    struct queue_job *job;
    struct queue_op *op;
    struct queue_enq *e;

    if (q == NULL)
        return;
    q->closing = 1;
    worker_free(q->claimer);
    worker_free(q->housekeeper);
    q->claimer = q->housekeeper = NULL;
    /* Signatures still running end; the rows waiting for one are dropped (their leases). */
    workpool_free(q->signers);
    q->signers = NULL;
    while ((job = TAILQ_FIRST(&q->to_sign)) != NULL) {
        TAILQ_REMOVE(&q->to_sign, job, wait);
        TAILQ_REMOVE(&q->jobs, job, link);
        queue_job_free(job);
    }
    /* Cancels every POST: queue_sent_cb sees closing and frees the job without a statement. */
    httpc_free(q->http);
    q->http = NULL;
    /* Delivered but not yet flushed: their leases bring them back (at least once). */
    for (size_t i = 0; i < q->ndone; i++) {
        TAILQ_REMOVE(&q->jobs, q->done[i], link);
        queue_job_free(q->done[i]);
    }
    free(q->done);
    if (q->flush != NULL)
        q->flush->q = NULL;
    event_free(q->flush_ev);
    /* Not yet unreferenced: the sweep removes them once no row needs them. */
    event_free(q->unref_ev);
    for (size_t i = 0; i < q->nunref; i++)
        free(q->unref[i]);
    free(q->unref);
    /* Jobs left are waiting for their outcome statement: the callback frees them later. */
    while ((job = TAILQ_FIRST(&q->jobs)) != NULL) {
        TAILQ_REMOVE(&q->jobs, job, link);
        job->q = NULL;
    }
    while ((op = TAILQ_FIRST(&q->ops)) != NULL) {
        TAILQ_REMOVE(&q->ops, op, link);
        op->q = NULL;
    }
    /* Their answers are known already: give them now rather than never. */
    while ((e = TAILQ_FIRST(&q->early)) != NULL) {
        TAILQ_REMOVE(&q->early, e, link);
        event_free(e->ev);
        e->cb(e->status, 0, e->status < 0 ? e->err : NULL, e->arg);
        free(e);
    }
    metrics_set(M_IN_FLIGHT, "", 0);
    for (size_t i = 0; i < q->nbusy; i++)
        free(q->busy[i].host);
    free(q->busy);
    free(q->relay_key_id);
    free(q->bridge_key_id);
    free(q->standin_key_prefix);
    free(q);
}

void
queue_get_stats(const struct queue *q, struct queue_stats *out)
{
    *out = q->st;
    out->in_flight = q->in_flight;
}

/* --- worker ----------------------------------------------------------------------------- */

/*
 * How many rows of a host this process may hold: the per-host cap, and twice that once the
 * host has answered, so that the next POSTs wait ready behind the running ones instead of
 * behind a claim. A host that has not answered (hanging, refusing) holds no more than the
 * cap.
 */
static int
queue_allowance(const struct queue *q, const struct queue_busy *b)
{
    return b != NULL && b->answered ? 2 * q->per_host : q->per_host;
}

static struct queue_busy *
queue_busy_find(struct queue *q, const char *host)
{
    for (size_t i = 0; i < q->nbusy; i++)
        if (strcmp(q->busy[i].host, host) == 0)
            return &q->busy[i];
    return NULL;
}

static void
queue_busy_take(struct queue *q, const char *host)
{
    struct queue_busy *b = queue_busy_find(q, host);

    if (b == NULL) {
        if (q->nbusy == q->busycap) {
            q->busycap = q->busycap ? 2 * q->busycap : 16;
            q->busy = xrealloc(q->busy, q->busycap * sizeof(*q->busy));
        }
        b = &q->busy[q->nbusy++];
        b->host = xstrdup(host);
        b->n = 0;
        b->answered = 0;
    }
    b->n++;
}

/*
 * One of host's rows is finished (answered: an HTTP status came back). Returns 1 when its
 * host crossed below half of what it may hold: time to claim its next rows, not at the poll.
 */
static int
queue_busy_done(struct queue *q, const char *host, int answered)
{
    struct queue_busy *b = queue_busy_find(q, host);
    int before, low;

    if (b == NULL)
        return 0;
    before = queue_allowance(q, b) - b->n;
    b->n--;
    b->answered |= answered;
    low = queue_allowance(q, b) - (q->per_host + 1) / 2;
    if (b->n <= 0) {
        free(b->host);
        *b = q->busy[--q->nbusy];
        return before <= 0;
    }
    return b->n <= low && (before <= 0 || b->n + 1 > low);
}

/* The claimer's step: one claim of what fits in the free slots, sent as it comes back. */
static void
queue_claim_step(struct worker_run *run, void *arg)
{
    struct queue *q = arg;
    char lim[16], lease[24], cap[16];
    char **hosts, *harr, *carr, *aarr;
    const char *params[7] = { lim, lease, q->worker, NULL, NULL, cap, NULL };
    size_t len = 0, alen = 0;
    /* A row holds its slot until its outcome is written: leases never exceed max_in_flight. */
    int room = q->o.max_in_flight - q->in_flight - q->unwritten;

    if (room <= 0) {
        q->starved = 1; /* queue_written kicks when a slot frees */
        worker_run_done(run, 0);
        return;
    }
    if (q->nto_sign >= q->sign_backlog) {
        /* Rows leased and not yet signed: no more until the threads catch up. */
        q->sign_starved = 1; /* queue_sign_done kicks */
        worker_run_done(run, 0);
        return;
    }
    hosts = xcalloc(q->nbusy + 1, sizeof(*hosts));
    carr = xmalloc(q->nbusy * 12 + 3);
    aarr = xmalloc(q->nbusy * 12 + 3);
    snprintf(lim, sizeof(lim), "%d", room < q->o.batch ? room : q->o.batch);
    snprintf(lease, sizeof(lease), "%ld", q->o.claim_ms);
    snprintf(cap, sizeof(cap), "%d", q->per_host);
    carr[len++] = '{';
    aarr[alen++] = '{';
    for (size_t i = 0; i < q->nbusy; i++) {
        hosts[i] = q->busy[i].host;
        len += (size_t)snprintf(carr + len, 13, "%s%d", i > 0 ? "," : "", q->busy[i].n);
        alen += (size_t)snprintf(aarr + alen, 13, "%s%d", i > 0 ? "," : "",
                                 queue_allowance(q, &q->busy[i]));
    }
    carr[len++] = '}';
    carr[len] = '\0';
    aarr[alen++] = '}';
    aarr[alen] = '\0';
    harr = pgarray_text(hosts, q->nbusy);
    params[3] = harr;
    params[4] = carr;
    params[6] = aarr;
    db_query(q->db, sql_claim, 7, params, queue_claimed_cb, queue_step_new(q, run));
    free(harr);
    free(carr);
    free(aarr);
    free(hosts);
}

/* A claim took ms for n rows: when slow, the table's statistics are refreshed (sql_analyze). */
static void
queue_claim_timed(struct queue *q, long long ms, int n)
{
    struct queue_op *op;

    if (ms < QUEUE_SLOW_CLAIM_MS ||
        (q->st.analyzes > 0 && monotime_ms() - q->analyzed_at < QUEUE_ANALYZE_MS))
        return;
    log_info("queue_claim_slow", "ms=%lld rows=%d analyze=1", ms, n);
    q->analyzed_at = monotime_ms();
    q->st.analyzes++;
    op = queue_op_new(q);
    op->what = "analyze";
    db_query(q->db, sql_analyze, 0, NULL, queue_op_cb, op);
}

static void
queue_claimed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct queue_step *st = arg;
    struct queue *q = st->q;
    int n = 0;

    if (!worker_run_live(st->run)) {
        /* queue_free came first: these rows' leases expire and another pass sends them. */
        PQclear(res);
        queue_step_done(st, 0);
        return;
    }
    if (outcome != DB_OK) {
        log_warn("queue_claim_failed", "error=%s", log_q(err));
        PQclear(res);
        queue_step_done(st, 0);
        return;
    }
    n = PQntuples(res);
    q->more_due = n >= q->o.batch;
    queue_claim_timed(q, monotime_ms() - st->t0, n);
    for (int i = 0; i < n; i++) {
        struct queue_job *job = xcalloc(1, sizeof(*job));

        job->q = q;
        snprintf(job->id, sizeof(job->id), "%s", PQgetvalue(res, i, 0));
        job->inbox = xstrdup(PQgetvalue(res, i, 1));
        job->host = xstrdup(PQgetvalue(res, i, 2));
        job->attempts = (int)strtol(PQgetvalue(res, i, 3), NULL, 10);
        snprintf(job->signer, sizeof(job->signer), "%s", PQgetvalue(res, i, 4));
        job->len = (size_t)PQgetlength(res, i, 5);
        job->payload = xstrndup(PQgetvalue(res, i, 5), job->len);
        job->t0 = monotime_ms();
        job->key = q->key;
        job->key_id = queue_key_id(q, job->signer);
        TAILQ_INSERT_TAIL(&q->jobs, job, link);
        q->in_flight++;
        queue_busy_take(q, job->host);
        q->st.claimed++;
        queue_sign(q, job);
    }
    PQclear(res);
    metrics_set(M_IN_FLIGHT, "", q->in_flight);
    if (n > 0)
        log_debug("queue_claim", "rows=%d in_flight=%d", n, q->in_flight);
    /* A full batch suggests more is due: claim again at once while there is room. */
    queue_step_done(st, n >= q->o.batch);
}

/* The key id signer ("relay", "bridge", "x:<x id>") signs with, or NULL for none we have. */
static char *
queue_key_id(const struct queue *q, const char *signer)
{
    if (strcmp(signer, "bridge") == 0)
        return xstrdup(q->bridge_key_id);
    /* A stand-in signs as itself: the peer matches the key's owner to the actor. */
    if (strncmp(signer, "x:", 2) == 0 && q->standin_key_prefix != NULL)
        return xasprintf("%s%s#main-key", q->standin_key_prefix, signer + 2);
    if (strcmp(signer, "relay") == 0)
        return xstrdup(q->relay_key_id);
    return NULL;
}

/* On a pool thread: the first hop's signature (RSA, most of a delivery's CPU). */
static void
queue_sign_run(void *arg)
{
    struct queue_job *job = arg;
    char err[160];

    job->presigned = job->key_id != NULL &&
                     apsign_lines(job->key, job->key_id, "POST", job->inbox, job->payload, job->len,
                                  QUEUE_CTYPE, &job->lines, err, sizeof(err)) == 0;
}

/* Back on the loop: the POST, signed; the next row waiting takes the freed place. */
static void
queue_sign_done(void *arg)
{
    struct queue_job *job = arg;
    struct queue *q = job->q;
    struct queue_job *next;

    queue_post(q, job);
    while (workpool_inflight(q->signers) < q->sign_window &&
           (next = TAILQ_FIRST(&q->to_sign)) != NULL) {
        TAILQ_REMOVE(&q->to_sign, next, wait);
        q->nto_sign--;
        queue_sign(q, next);
    }
    if (q->sign_starved && q->nto_sign < q->sign_backlog) {
        q->sign_starved = 0;
        queue_kick(q);
    }
}

/* queue_free came while it waited for a thread: its lease brings the row back. */
static void
queue_sign_drop(void *arg)
{
    struct queue_job *job = arg;

    TAILQ_REMOVE(&job->q->jobs, job, link);
    queue_job_free(job);
}

/* Has a thread sign job, then POSTs it; signed here when the pool has no room. */
static void
queue_sign(struct queue *q, struct queue_job *job)
{
    struct workpool_job w = { queue_sign_run, queue_sign_done, queue_sign_drop, job };

    if (workpool_inflight(q->signers) >= q->sign_window) {
        TAILQ_INSERT_TAIL(&q->to_sign, job, wait);
        q->nto_sign++;
    } else if (workpool_submit(q->signers, &w) < 0)
        queue_post(q, job);
}

static void
queue_post(struct queue *q, struct queue_job *job)
{
    const char *hdrs[1] = { "Content-Type: " QUEUE_CTYPE };
    struct httpc_req req = { 0 };

    req.method = "POST";
    req.url = job->inbox;
    req.headers = hdrs;
    req.nheaders = 1;
    req.body = job->payload;
    req.body_len = job->len;
    req.sign = queue_sign_cb;
    req.sign_arg = job;
    httpc_request(q->http, &req, queue_sent_cb, job);
}

/*
 * Signs each hop, so a 307/308 to another URL carries a signature for that URL: the first
 * with what a pool thread made for it, the others here.
 */
static int
queue_sign_cb(const char *method, const char *url, const char *body, size_t body_len,
              struct httpc_hop_headers *out, void *arg)
{
    struct queue_job *job = arg;
    struct queue *q = job->q;
    char err[160];
    int rc;

    if (q == NULL)
        return -1;
    if (job->key_id == NULL) {
        log_error("queue_sign_failed", "id=%s error=unknown_signer", job->id);
        return -1;
    }
    if (job->presigned && strcmp(method, "POST") == 0 && strcmp(url, job->inbox) == 0) {
        job->presigned = 0; /* a hop of its own: a redirect back here is signed anew */
        q->st.signed_off_loop++;
        rc = apsign_lines_add(&job->lines, out, err, sizeof(err));
        apsign_lines_free(&job->lines);
    } else {
        rc = apsign_hop(q->key, job->key_id, method, url, body, body_len, QUEUE_CTYPE, out, err,
                        sizeof(err));
    }
    if (rc < 0)
        log_error("queue_sign_failed", "id=%s error=%s", job->id, log_q(err));
    return rc;
}

static void
queue_sent_cb(const struct httpc_response *resp, void *arg)
{
    struct queue_job *job = arg;
    struct queue *q = job->q;
    enum retry_outcome oc;
    char status[24], delay[24], maxa[16], nfail[16], pause[24], days[16], errbuf[160];
    const char *params[9] = { job->id, q->worker, NULL, errbuf, delay, maxa, nfail, pause, days };
    const char *result;
    long long ms = -1;

    q->in_flight--;
    /* A host short of rows to send: claim its next ones now, not at the poll. */
    if (queue_busy_done(q, job->host, resp->status > 0))
        queue_kick(q);
    if (q->closing) {
        /* Shutdown: the lease brings the row back to whichever process runs next. */
        TAILQ_REMOVE(&q->jobs, job, link);
        queue_job_free(job);
        return;
    }
    q->unwritten++;
    metrics_set(M_IN_FLIGHT, "", q->in_flight);
    oc = retry_classify(resp->error, resp->status);
    if (resp->status > 0) {
        snprintf(status, sizeof(status), "%ld", resp->status);
        params[2] = status;
    }
    if (resp->error != HTTPC_OK)
        snprintf(errbuf, sizeof(errbuf), "%s", httpc_error_name(resp->error));
    else
        snprintf(errbuf, sizeof(errbuf), "http %ld", resp->status);
    if (oc == RETRY_AGAIN) {
        if (resp->error == HTTPC_OK && (resp->status == 429 || resp->status == 503))
            ms = retry_after_ms(httpc_response_header(resp, "Retry-After"), time(NULL));
        if (ms > q->o.retry_after_max_ms)
            ms = q->o.retry_after_max_ms;
        if (ms < 0)
            ms = retry_backoff_ms(job->attempts - 1, q->o.backoff_unit_ms, retry_jitter());
    }
    snprintf(delay, sizeof(delay), "%lld", ms < 0 ? 0 : ms);
    snprintf(maxa, sizeof(maxa), "%d", q->o.max_attempts);
    snprintf(nfail, sizeof(nfail), "%d", q->o.breaker_failures);
    snprintf(pause, sizeof(pause), "%ld", q->o.breaker_pause_ms);
    snprintf(days, sizeof(days), "%d", q->o.dead_days);

    if (oc == RETRY_DONE)
        q->st.delivered++;
    else if (oc == RETRY_DROP)
        q->st.dropped++;
    else if (job->attempts >= q->o.max_attempts)
        q->st.dead++;
    else
        q->st.retried++;
    if (oc == RETRY_DONE) {
        result = "delivered";
        if (q->ndone == q->cap_done) {
            q->cap_done = q->cap_done ? q->cap_done * 2 : 64;
            q->done = xrealloc(q->done, q->cap_done * sizeof(*q->done));
        }
        q->done[q->ndone++] = job;
        /* One flush at a time: those delivered meanwhile wait and go together in the next. */
        if (q->flush == NULL)
            queue_flush_soon(q);
    } else if (oc == RETRY_DROP) {
        result = "dropped";
        db_query(q->db, sql_drop, 4, params, queue_written_cb, job);
    } else {
        int slot = queue_alive_slot(q, job->host);

        result = job->attempts >= q->o.max_attempts ? "dead" : "retry";
        /* Its next POST must clear the failure this records. */
        if (slot >= 0 && strcmp(q->alive[slot].host, job->host) == 0)
            q->alive[slot].host[0] = '\0';
        db_query(q->db, sql_retry, 9, params, queue_written_cb, job);
    }
    metrics_add(M_DELIVERIES,
                oc == RETRY_DONE                     ? "result=\"delivered\""
                : oc == RETRY_DROP                   ? "result=\"dropped\""
                : job->attempts >= q->o.max_attempts ? "result=\"dead\""
                                                     : "result=\"retry\"",
                1);
    log_info("delivery",
             "id=%s host=%s inbox=%s result=%s status=%ld error=%s attempts=%d retry_ms=%lld "
             "ms=%lld",
             job->id, log_q(job->host), log_q(job->inbox), result, resp->status,
             httpc_error_name(resp->error), job->attempts, ms, monotime_ms() - job->t0);
}

/* n rows' outcomes written (or given up to their leases): their slots are free. */
static void
queue_written(struct queue *q, size_t n)
{
    q->unwritten -= (int)n;
    if (q->starved) {
        q->starved = 0;
        queue_kick(q);
    }
}

static void
queue_written_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct queue_job *job = arg;

    if (job->q != NULL) {
        TAILQ_REMOVE(&job->q->jobs, job, link);
        queue_written(job->q, 1);
    }
    if (outcome != DB_OK) {
        /* The lease expires and the row is sent again: at least once, never lost. */
        log_warn("queue_outcome_failed", "id=%s error=%s", job->id, log_q(err));
    } else if (PQntuples(res) == 1) {
        if (strcmp(PQgetvalue(res, 0, 0), "0") == 0)
            log_warn("queue_claim_lost", "id=%s host=%s", job->id, log_q(job->host));
        if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
            log_warn("queue_host_paused", "host=%s", log_q(job->host));
        if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
            log_warn("queue_host_dead", "host=%s", log_q(job->host));
    }
    PQclear(res);
    queue_job_free(job);
}

/*
 * Flushes now when a claim's worth is waiting or nothing else is being sent (the last of a
 * burst, or a lone delivery: no reason to wait), else within QUEUE_FLUSH_MS, so that one
 * sql_done carries the rows delivered meanwhile. Each statement costs PostgreSQL about what
 * deleting fifty rows does: flushed as they came, a fan-out's flushes held three rows each.
 * The wait holds the rows' in-flight slots (queue_written frees them) and nothing else.
 */
static void
queue_flush_soon(struct queue *q)
{
    struct timeval tv = { 0, QUEUE_FLUSH_MS * 1000 };

    if (q->ndone == 0 || q->flush != NULL)
        return;
    if (q->ndone >= (size_t)q->o.batch || q->in_flight == 0) {
        evtimer_del(q->flush_ev);
        queue_flush_done(q);
    } else if (!evtimer_pending(q->flush_ev, NULL))
        evtimer_add(q->flush_ev, &tv);
}

static void
queue_flush_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct queue *q = arg;

    (void)fd;
    (void)what;
    if (q->flush == NULL && q->ndone > 0)
        queue_flush_done(q);
}

/* Sends sql_done for every job in q->done; they are freed when it answers. */
static void
queue_flush_done(struct queue *q)
{
    struct queue_flush *fl = xcalloc(1, sizeof(*fl));
    char **ids = xcalloc(q->ndone, sizeof(*ids));
    const char *params[2];
    char *arr;

    fl->q = q;
    fl->jobs = q->done;
    fl->n = q->ndone;
    q->done = NULL;
    q->ndone = q->cap_done = 0;
    q->flush = fl;
    for (size_t i = 0; i < fl->n; i++)
        ids[i] = fl->jobs[i]->id;
    arr = pgarray_text(ids, fl->n);
    params[0] = arr;
    params[1] = q->worker;
    q->st.flushes++;
    db_query(q->db, sql_done, 2, params, queue_flushed_cb, fl);
    free(arr);
    free(ids);
}

static void
queue_flushed_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct queue_flush *fl = arg;
    struct queue *q = fl->q;
    int rows = outcome == DB_OK ? PQntuples(res) : 0;
    size_t nflushed = fl->n;

    if (outcome != DB_OK)
        /* The leases expire and the rows are sent again: at least once, never lost. */
        log_warn("queue_outcome_failed", "rows=%zu error=%s", fl->n, log_q(err));
    for (size_t i = 0; i < fl->n; i++) {
        struct queue_job *job = fl->jobs[i];
        int mine = 0;

        for (int k = 0; k < rows && !mine; k++)
            mine = strcmp(PQgetvalue(res, k, 0), job->id) == 0;
        if (outcome == DB_OK && !mine)
            log_warn("queue_claim_lost", "id=%s host=%s", job->id, log_q(job->host));
        if (job->q != NULL)
            TAILQ_REMOVE(&job->q->jobs, job, link);
        queue_job_free(job);
    }
    for (int k = 0; k < rows && q != NULL; k++)
        queue_unref_later(q, PQgetvalue(res, k, 1));
    PQclear(res);
    free(fl->jobs);
    free(fl);
    if (q != NULL) {
        q->flush = NULL;
        queue_written(q, nflushed);
        queue_flush_soon(q);
        queue_unref_send(q, 0);
    }
}

/*
 * activity_id lost rows in a committed flush: sql_unref removes it if none is left (see
 * queue_unref_send).
 */
static void
queue_unref_later(struct queue *q, const char *activity_id)
{
    size_t i = 0;

    while (i < q->nunref && strcmp(q->unref[i], activity_id) != 0)
        i++;
    if (i == q->nunref) {
        if (q->nunref == q->cap_unref) {
            q->cap_unref = q->cap_unref ? 2 * q->cap_unref : 8;
            q->unref = xrealloc(q->unref, q->cap_unref * sizeof(*q->unref));
        }
        q->unref[q->nunref++] = xstrdup(activity_id);
    }
}

/*
 * Sends sql_unref for the activities waiting: at once when nothing else is being sent or
 * written and the last claim found less than a batch (the end of a burst: a database with no
 * row pending changes no more), or when a second has passed since the last (force, from the
 * timer); else the timer waits for that second. One at a time.
 */
static void
queue_unref_send(struct queue *q, int force)
{
    long long now = monotime_ms();
    long long wait = q->unref_at + QUEUE_UNREF_MS - now;
    int idle = q->in_flight == 0 && q->ndone == 0 && q->flush == NULL && !q->more_due;
    struct queue_op *op;
    const char *params[1];
    char *arr;

    if (q->nunref == 0 || q->unref_busy)
        return;
    if (!force && !idle && wait > 0) {
        struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };

        if (!evtimer_pending(q->unref_ev, NULL))
            evtimer_add(q->unref_ev, &tv);
        return;
    }
    evtimer_del(q->unref_ev);
    arr = pgarray_text(q->unref, q->nunref);
    params[0] = arr;
    op = queue_op_new(q);
    op->what = "unref";
    q->unref_busy = 1;
    q->unref_at = now;
    q->st.unrefs++;
    db_query(q->db, sql_unref, 1, params, queue_op_cb, op);
    free(arr);
    for (size_t i = 0; i < q->nunref; i++)
        free(q->unref[i]);
    q->nunref = 0;
}

static void
queue_unref_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    queue_unref_send(arg, 1);
}

/* --- housekeeping ----------------------------------------------------------------------- */

/* The housekeeper's step: the gauges, then the sweep. */
static void
queue_house_step(struct worker_run *run, void *arg)
{
    struct queue *q = arg;

    db_query(q->db, sql_gauges, 0, NULL, queue_gauges_cb, queue_step_new(q, run));
}

static void
queue_gauges_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct queue_step *st = arg;
    struct queue *q = st->q;
    char keep[24];
    const char *params[1] = { keep };

    if (!worker_run_live(st->run)) {
        PQclear(res);
        queue_step_done(st, 0);
        return;
    }
    if (outcome == DB_OK && PQntuples(res) == 1) {
        metrics_set(M_DEPTH, "", strtod(PQgetvalue(res, 0, 0), NULL));
        metrics_set(M_PAUSED, "", strtod(PQgetvalue(res, 0, 1), NULL));
        metrics_set(M_DEAD, "", strtod(PQgetvalue(res, 0, 2), NULL));
    } else if (outcome != DB_OK) {
        log_warn("queue_gauges_failed", "error=%s", log_q(err));
    }
    PQclear(res);
    snprintf(keep, sizeof(keep), "%ld", q->o.keep_finished_s);
    db_query(q->db, sql_sweep, 1, params, queue_swept_cb, st);
}

static void
queue_swept_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct queue_step *st = arg;

    if (outcome != DB_OK)
        log_warn("queue_statement_failed", "what=sweep error=%s", log_q(err));
    else if (PQntuples(res) == 1)
        log_debug("queue_sweep", "expired=%s deleted=%s orphans=%s", PQgetvalue(res, 0, 0),
                  PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    PQclear(res);
    queue_step_done(st, 0);
}

/* Host-alive and unref answers: nothing to do but note failures. */
static void
queue_op_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct queue_op *op = arg;
    struct queue *q = op->q;

    if (q != NULL) {
        TAILQ_REMOVE(&q->ops, op, link);
        if (outcome != DB_OK)
            log_warn("queue_statement_failed", "what=%s error=%s", op->what, log_q(err));
        else if (strcmp(op->what, "alive") == 0 && strcmp(PQcmdTuples(res), "1") == 0)
            log_info("queue_host_alive", "cleared=1");
        if (strcmp(op->what, "unref") == 0) {
            q->unref_busy = 0;
            queue_unref_send(q, 0); /* those flushed meanwhile */
        }
    }
    PQclear(res);
    free(op);
}

/* --- enqueue answers -------------------------------------------------------------------- */

static void
queue_enq_db_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct queue_enq_db *e = arg;
    size_t queued = 0;

    if (outcome == DB_OK && PQntuples(res) == 1) {
        queued = (size_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        log_debug("queue_enqueue", "targets=%zu queued=%zu", e->targets, queued);
        e->cb(0, queued, NULL, e->arg);
    } else {
        log_warn("queue_enqueue_failed", "targets=%zu error=%s", e->targets,
                 log_q(err != NULL ? err : "no result"));
        e->cb(-1, 0, err != NULL ? err : "no result", e->arg);
    }
    PQclear(res);
    free(e);
}

static void
queue_enq_early_cb(evutil_socket_t fd, short what, void *arg)
{
    struct queue_enq *e = arg;

    (void)fd;
    (void)what;
    TAILQ_REMOVE(&e->q->early, e, link);
    event_free(e->ev);
    if (e->status < 0)
        log_warn("queue_enqueue_failed", "error=%s", log_q(e->err));
    e->cb(e->status, 0, e->status < 0 ? e->err : NULL, e->arg);
    free(e);
}

/* --- helpers ---------------------------------------------------------------------------- */

static struct queue_op *
queue_op_new(struct queue *q)
{
    struct queue_op *op = xcalloc(1, sizeof(*op));

    op->q = q;
    TAILQ_INSERT_TAIL(&q->ops, op, link);
    return op;
}

static struct queue_step *
queue_step_new(struct queue *q, struct worker_run *run)
{
    struct queue_step *st = xcalloc(1, sizeof(*st));

    st->q = q;
    st->run = run;
    st->t0 = monotime_ms();
    return st;
}

static void
queue_step_done(struct queue_step *st, int found)
{
    worker_run_done(st->run, found);
    free(st);
}

static void
queue_job_free(struct queue_job *job)
{
    free(job->inbox);
    free(job->host);
    free(job->payload);
    free(job->key_id);
    apsign_lines_free(&job->lines);
    free(job);
}
