/* A background job on the loop: one step at a time, again at once while it finds work. */
#ifndef PASSERELLE_WORKER_H
#define PASSERELLE_WORKER_H

struct event_base;
struct worker;
struct worker_run;

/*
 * One step (for example: claim one due row in a transaction and handle it). It must end,
 * now or later from a callback, with exactly one worker_run_done(run, found).
 */
typedef void (*worker_step_fn)(struct worker_run *run, void *arg);

/*
 * A worker on base; nothing runs before worker_start. Steps follow each other at once while
 * they report found, otherwise poll_ms apart (at least 1 ms).
 */
struct worker *worker_new(struct event_base *base, long poll_ms, worker_step_fn step, void *arg);

/* Starts the first step on the next turn of the loop. Idempotent. */
void worker_start(struct worker *w);

/* Runs a step soon (work was committed); a step in progress is followed by another. */
void worker_kick(struct worker *w);

/*
 * Ends a step: found = 1 runs the next one at once, 0 waits poll_ms. Safe after
 * worker_free (the run is then only freed), so a step's database callback may always call it.
 */
void worker_run_done(struct worker_run *run, int found);

/* 0 once the worker was freed: the step must not use what the worker's owner freed. */
int worker_run_live(const struct worker_run *run);

/* Stops the worker; a step in progress finishes on its own (see worker_run_done). NULL-safe. */
void worker_free(struct worker *w);

#endif
