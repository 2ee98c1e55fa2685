/* Background jobs on the loop: a timer, one step in flight, steps back to back while busy. */
#include <stdlib.h>

#include <event2/event.h>

#include "worker.h"
#include "xmalloc.h"

struct worker {
    struct event *tick;
    long poll_ms;
    worker_step_fn step;
    void *arg;
    struct worker_run *running; /* the step in flight, or NULL */
    int started, kicked;
};

/* Outlives its worker when worker_free comes first: the step's callback still ends it. */
struct worker_run {
    struct worker *w; /* NULL once the worker is freed */
};

static void
worker_arm(struct worker *w, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    evtimer_del(w->tick);
    evtimer_add(w->tick, &tv);
}

static void
worker_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct worker_run *run;

    (void)fd;
    (void)what;
    if (w->running != NULL)
        return; /* the step in flight re-arms the timer when it ends */
    run = xcalloc(1, sizeof(*run));
    run->w = w;
    w->running = run;
    w->kicked = 0;
    w->step(run, w->arg);
}

struct worker *
worker_new(struct event_base *base, long poll_ms, worker_step_fn step, void *arg)
{
    struct worker *w = xcalloc(1, sizeof(*w));

    w->tick = evtimer_new(base, worker_tick_cb, w);
    w->poll_ms = poll_ms > 0 ? poll_ms : 1;
    w->step = step;
    w->arg = arg;
    return w;
}

void
worker_start(struct worker *w)
{
    if (w == NULL || w->started)
        return;
    w->started = 1;
    worker_arm(w, 0);
}

void
worker_kick(struct worker *w)
{
    if (w == NULL || !w->started)
        return;
    if (w->running != NULL) {
        w->kicked = 1;
        return;
    }
    worker_arm(w, 0);
}

void
worker_run_done(struct worker_run *run, int found)
{
    struct worker *w = run->w;

    free(run);
    if (w == NULL)
        return;
    w->running = NULL;
    /* Never from inside the step's own call stack: the next step starts from the timer. */
    worker_arm(w, found || w->kicked ? 0 : w->poll_ms);
}

int
worker_run_live(const struct worker_run *run)
{
    return run->w != NULL;
}

void
worker_free(struct worker *w)
{
    if (w == NULL)
        return;
    if (w->running != NULL)
        w->running->w = NULL;
    event_free(w->tick);
    free(w);
}
