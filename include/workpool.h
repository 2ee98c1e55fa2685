/* A fixed pool of threads for CPU-bound jobs, with a bounded queue; results come back on the loop.
 */
#ifndef PASSERELLE_WORKPOOL_H
#define PASSERELLE_WORKPOOL_H

#include <stddef.h>

struct event_base;
struct workpool;

/*
 * One job: run(arg) on a pool thread (pure CPU over memory the job owns: no libevent, no
 * libpq, no logging), then done(arg) on the loop. drop(arg) instead of done when the pool is
 * freed before done could run (queued, or finished and not yet delivered): it frees what arg
 * holds without answering anything.
 */
struct workpool_job {
    void (*run)(void *arg);
    void (*done)(void *arg);
    void (*drop)(void *arg);
    void *arg;
};

/* threads (at least 1) start now; at most queue_max jobs wait beyond those running. */
struct workpool *workpool_new(struct event_base *base, int threads, int queue_max, char *err,
                              size_t errlen);

/* Queues a copy of job. -1 when every thread is busy and the queue is full: nothing queued. */
int workpool_submit(struct workpool *p, const struct workpool_job *job);

/* Jobs submitted and not yet delivered (done or dropped): exact, from the loop. */
int workpool_inflight(const struct workpool *p);

/* Jobs running now, and jobs waiting for a thread (a snapshot: threads move them). */
int workpool_running(struct workpool *p);
int workpool_queued(struct workpool *p);

/*
 * Waits for the running jobs to end, then drops every job not delivered (drop, never done).
 * NULL-safe. Not from a done callback.
 */
void workpool_free(struct workpool *p);

#endif
