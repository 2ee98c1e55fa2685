/* Unit tests for server/core/workpool.c: a fixed number of threads, a bounded queue, done on the
 * loop, drop at free. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "tap.h"
#include "workpool.h"

/* run blocks until the test opens the gate, so the pool can be seen full. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_open;
static pthread_t loop_thread;

struct job {
    int ran, done, dropped;
    pthread_t on;
};

static void
job_run(void *arg)
{
    struct job *j = arg;

    j->on = pthread_self();
    pthread_mutex_lock(&gate_mu);
    while (!gate_open)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
    j->ran = 1;
}

static struct event_base *base;
static int delivered;

static void
job_done(void *arg)
{
    struct job *j = arg;

    j->done = pthread_equal(pthread_self(), loop_thread) ? 1 : -1;
    if (++delivered == 2)
        event_base_loopbreak(base);
}

static void
job_drop(void *arg)
{
    ((struct job *)arg)->dropped = 1;
}

static void
open_gate(int open)
{
    pthread_mutex_lock(&gate_mu);
    gate_open = open;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static struct workpool_job
job_of(struct job *j)
{
    struct workpool_job w = { job_run, job_done, job_drop, j };

    return w;
}

/* Waits (briefly) until n jobs run on the pool's threads. */
static int
wait_running(struct workpool *p, int n)
{
    for (int i = 0; i < 2000 && workpool_running(p) != n; i++)
        usleep(1000);
    return workpool_running(p) == n;
}

/* The round test: done counts here and ends the loop once the round's jobs are all back. */
static int round_done, round_want;

static void
round_job_done(void *arg)
{
    (void)arg;
    if (++round_done == round_want)
        event_base_loopbreak(base);
}

static void
round_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    event_base_loopbreak(base);
}

/*
 * Many jobs finish while the loop is away and share one wake-up; every later round must wake
 * the loop again (the pipe is written once per drain, not per job).
 */
static void
test_rounds(void)
{
    enum { JOBS = 64, ROUNDS = 3 };
    static struct job jobs[JOBS];
    struct timeval two = { 2, 0 };
    struct event *timeout = evtimer_new(base, round_timeout, NULL);
    char err[128];
    struct workpool *p = workpool_new(base, 2, JOBS, err, sizeof(err));

    open_gate(1);
    for (int r = 1; r <= ROUNDS; r++) {
        int refused = 0;

        round_done = 0;
        round_want = JOBS;
        for (int i = 0; i < JOBS; i++) {
            struct workpool_job w = { job_run, round_job_done, job_drop, &jobs[i] };

            refused += workpool_submit(p, &w) < 0;
        }
        is_int(refused, 0, "round %d: %d jobs taken", r, JOBS);
        while (workpool_running(p) + workpool_queued(p) > 0)
            usleep(1000); /* all finished before the loop looks */
        evtimer_add(timeout, &two);
        event_base_dispatch(base);
        evtimer_del(timeout);
        is_int(round_done, JOBS, "round %d: every job delivered on the loop", r);
        is_int(workpool_inflight(p), 0, "round %d: none left in flight", r);
    }
    workpool_free(p);
    event_free(timeout);
}

int
main(void)
{
    struct job a, b, c, d, e;
    struct workpool_job w;
    struct workpool *p;
    char err[128];

    memset(&a, 0, sizeof(a));
    b = c = d = e = a;
    loop_thread = pthread_self();
    base = event_base_new();
    p = workpool_new(base, 1, 1, err, sizeof(err));
    if (!ok(p != NULL, "a pool of one thread and a queue of one"))
        return done_testing();
    w = job_of(&a);
    ok(workpool_submit(p, &w) == 0, "the first job is taken");
    ok(wait_running(p, 1), "and runs on the pool's thread");
    w = job_of(&b);
    ok(workpool_submit(p, &w) == 0, "the second waits in the queue");
    is_int(workpool_queued(p), 1, "one queued");
    is_int(workpool_inflight(p), 2, "two in flight");
    w = job_of(&c);
    ok(workpool_submit(p, &w) < 0, "the third is refused: the pool is full");
    is_int(workpool_running(p) + workpool_queued(p), 2, "nothing more was queued");
    open_gate(1);
    event_base_dispatch(base);
    ok(a.ran && b.ran && !c.ran, "both accepted jobs ran, the refused one never");
    is_int(workpool_inflight(p), 0, "none in flight once delivered");
    is_int(a.done, 1, "done runs on the loop's thread");
    is_int(b.done, 1, "for each job");
    ok(!pthread_equal(a.on, loop_thread), "run ran on a pool thread");
    ok(!a.dropped && !b.dropped, "nothing dropped");

    /* Freed with a job running and one queued: the running one ends, both are dropped. */
    open_gate(0);
    w = job_of(&d);
    ok(workpool_submit(p, &w) == 0, "after the first two, room again");
    ok(wait_running(p, 1), "it runs");
    w = job_of(&e);
    ok(workpool_submit(p, &w) == 0, "another waits");
    open_gate(1);
    workpool_free(p);
    ok(d.dropped && e.dropped, "free drops what was not delivered (running or queued)");
    ok(!d.done && !e.done, "and never calls done");
    test_rounds();
    event_base_free(base);
    return done_testing();
}
