/* Persistent delivery queue: payloads once in PostgreSQL, one row per inbox, signed POSTs. */
#ifndef PASSERELLE_QUEUE_H
#define PASSERELLE_QUEUE_H

#include <stddef.h>
#include <time.h>
#include <openssl/evp.h>

#include "httpc.h"

struct event_base;
struct db;
struct queue;

/*
 * Options for queue_new. A zeroed struct gives the defaults (in parentheses); the key ids
 * are required. Strings are copied. The small values exist so tests can run in seconds.
 */
struct queue_options {
    struct httpc_options http; /* the queue's own client; http.max_per_host caps each host */
    const char *relay_key_id;  /* "<base>/actor#main-key": activities signed by the relay */
    const char *bridge_key_id; /* "<base>/users/<name>#main-key": by the bridge account */
    /* "<base>/x/": activities signed by a stand-in ("x:<x id>") use <this><x id>#main-key;
     * NULL: such rows cannot be signed (and are retried until given up) */
    const char *standin_key_prefix;
    int batch;               /* rows claimed per statement (50) */
    int max_in_flight;       /* deliveries running at once in this process (200) */
    int sign_threads;        /* threads that sign deliveries (one per core online) */
    long poll_ms;            /* claim tick while idle (1000) */
    long claim_ms;           /* lease on a claimed row (http total timeout + 60 s); a
                                shorter one caps each POST at half of it */
    long backoff_unit_ms;    /* retry n waits unit*(n^4 + 15 + rand(0.5*n^4)) (1000) */
    int max_attempts;        /* tries before a row is given up as 'dead' (16) */
    int breaker_failures;    /* consecutive failures that pause a host (10) */
    long breaker_pause_ms;   /* how long a pause lasts (60000) */
    int dead_days;           /* distinct failure days that mark a host dead (7) */
    long retry_after_max_ms; /* cap on a Retry-After (86400000) */
    long housekeeping_ms;    /* gauges refreshed and old rows swept this long apart (60000) */
    long keep_finished_s;    /* dropped/dead rows and their payloads kept (345600: 4 days) */
};

/*
 * Creates the queue on base. db and key are borrowed and must outlive the queue. Nothing
 * runs until queue_start. Returns NULL with a message in err when a key id is missing or
 * the HTTP client cannot be made. Declares the queue's metrics families.
 */
struct queue *queue_new(struct event_base *base, struct db *db, EVP_PKEY *key,
                        const struct queue_options *opt, char *err, size_t errlen);

/*
 * Starts two workers (worker.h): the claimer (one claim at a time, again at once after a
 * full batch, a kick, or a host or slot freeing up; otherwise poll_ms apart) and the
 * housekeeper (gauges then sweep, housekeeping_ms after the last round ended). Idempotent.
 */
void queue_start(struct queue *q);

/*
 * Called exactly once per queue_enqueue, always from the loop, never inside queue_enqueue.
 * status 0: the activity and its rows are committed (queued may be 0 when every target was
 * dead or blocked); -1: nothing was stored and err says why.
 */
typedef void (*queue_enqueue_fn)(int status, size_t queued, const char *err, void *arg);

/*
 * Stores payload (len bytes of JSON, no NUL) once and one delivery row per distinct inbox,
 * in one statement, so either all of it is committed or none. Exact duplicate inboxes are
 * merged here; merging shared inboxes is the caller's job. Inboxes that are not http(s)
 * URLs, and those whose host is dead or blocked, get no row. signer_key_id must be the
 * relay's or the bridge's key id given to queue_new. Everything is copied. cb runs even if
 * queue_free comes first (from the database's answer, or from queue_free itself).
 */
void queue_enqueue(struct queue *q, const char *payload, size_t len, const char *signer_key_id,
                   const char *const *inboxes, size_t n, queue_enqueue_fn cb, void *arg);

/* Claims due rows now (rows were committed outside queue_enqueue). NULL-safe. */
void queue_kick(struct queue *q);

/*
 * The host contacted us (a signed POST arrived): clears its pause, dead mark and failure
 * counts so its pending rows are delivered again. host is lowercase host[:port], as
 * url_authority gives. Fire and forget. A host cleared in the last minute is not cleared
 * again unless this process has seen one of its deliveries fail since: a busy sender
 * would otherwise cost a statement per POST. (A failure recorded by another process is
 * cleared by the next POST after that minute.)
 */
void queue_host_alive(struct queue *q, const char *host);

/* This process's counters, for tests and logs; they only grow (in_flight aside). */
struct queue_stats {
    unsigned long long claimed, delivered, dropped, retried, dead;
    unsigned long long signed_off_loop; /* first hops signed by a pool thread */
    unsigned long long flushes;         /* statements that removed delivered rows */
    unsigned long long unrefs;          /* statements that removed finished activities */
    unsigned long long analyzes;        /* ANALYZE deliveries sent after a slow claim */
    int in_flight;
};
void queue_get_stats(const struct queue *q, struct queue_stats *out);

/*
 * Stops the workers, cancels running POSTs and frees the queue. Rows claimed but not
 * finished keep their lease and are delivered again after it expires (at least once).
 * Database answers still pending are absorbed safely later, so db_free may come after.
 * queue_free(NULL) does nothing. Must not be called from a queue callback.
 */
void queue_free(struct queue *q);

#endif
