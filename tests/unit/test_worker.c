/* Unit tests for the periodic worker: pacing, kicks, and a free while a step runs. */
#include <stdlib.h>

#include <event2/event.h>

#include "monotime.h"
#include "tap.h"
#include "worker.h"

/* What the step does is scripted per test; the worker sees only the callbacks. */
struct script {
    struct event_base *base;
    struct worker *w;
    int steps;           /* steps started */
    int found_until;     /* steps 1..found_until report found */
    int stop_at;         /* after this many steps: leave the loop shortly */
    long end_after_ms;   /* < 0: end inside the step's own call; else from a timer */
    int kicks_in_step;   /* worker_kick calls made while step 1 runs */
    int free_in_step;    /* step 1 frees the worker, then ends */
    int in_step, nested; /* a step started inside another step's call */
    long long at[16];    /* when each step started, ms */
    struct worker_run *held;
    int live_after_free;
};

static void
leave_in(struct event_base *base, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    event_base_loopexit(base, &tv);
}

static void
end_step(struct script *s, struct worker_run *run)
{
    worker_run_done(run, s->steps <= s->found_until);
}

static void
later_cb(evutil_socket_t fd, short what, void *arg)
{
    struct script *s = arg;
    struct worker_run *run = s->held;

    (void)fd;
    (void)what;
    s->held = NULL;
    end_step(s, run);
}

static void
step(struct worker_run *run, void *arg)
{
    struct script *s = arg;

    if (s->in_step)
        s->nested++;
    s->in_step = 1;
    if (s->steps < 16)
        s->at[s->steps] = monotime_ms();
    s->steps++;
    if (s->steps == s->stop_at)
        leave_in(s->base, 300);
    if (s->steps == 1) {
        for (int i = 0; i < s->kicks_in_step; i++)
            worker_kick(s->w);
        if (s->free_in_step) {
            worker_free(s->w);
            s->w = NULL;
            s->live_after_free = worker_run_live(run);
        }
    }
    if (s->end_after_ms < 0) {
        end_step(s, run);
    } else {
        struct timeval tv = { s->end_after_ms / 1000, (s->end_after_ms % 1000) * 1000 };

        s->held = run;
        event_base_once(s->base, -1, EV_TIMEOUT, later_cb, s, &tv);
    }
    s->in_step = 0;
}

static void
script_init(struct script *s, long poll_ms)
{
    *s = (struct script){ 0 };
    s->base = event_base_new();
    s->w = worker_new(s->base, poll_ms, step, s);
    s->end_after_ms = -1;
}

/* Runs the loop until the script leaves it, or for at most watchdog_ms. */
static void
script_run(struct script *s, long watchdog_ms)
{
    leave_in(s->base, watchdog_ms);
    event_base_dispatch(s->base);
}

static void
script_free(struct script *s)
{
    worker_free(s->w);
    event_base_free(s->base);
}

static void
test_nothing_before_start(void)
{
    struct script s;

    script_init(&s, 10);
    worker_kick(s.w);
    script_run(&s, 200);
    is_int(s.steps, 0, "no step before worker_start, not even on a kick");
    script_free(&s);
}

static void
test_back_to_back(void)
{
    struct script s;

    /* A poll of a minute: any step after the sixth within the test would be a bug. */
    script_init(&s, 60000);
    s.found_until = 5;
    s.stop_at = 6;
    worker_start(s.w);
    worker_start(s.w);
    script_run(&s, 20000);
    is_int(s.steps, 6, "five steps that found work and the one that did not, then the poll");
    is_int(s.nested, 0, "a step ending inside its own call does not start the next in it");
    script_free(&s);

    script_init(&s, 60000);
    s.found_until = 3;
    s.stop_at = 4;
    s.end_after_ms = 20;
    worker_start(s.w);
    script_run(&s, 20000);
    is_int(s.steps, 4, "the same when steps end later from the loop");
    script_free(&s);
}

static void
test_poll(void)
{
    struct script s;
    int spaced = 1;

    script_init(&s, 150);
    s.stop_at = 3;
    worker_start(s.w);
    script_run(&s, 20000);
    ok(s.steps >= 3, "steps that find nothing still come back every poll_ms (%d)", s.steps);
    for (int i = 1; i < 3 && i < s.steps; i++)
        spaced &= s.at[i] - s.at[i - 1] >= 148;
    ok(spaced, "... poll_ms apart: %lld, %lld ms", s.at[1] - s.at[0], s.at[2] - s.at[1]);
    script_free(&s);
}

static void
test_kick(void)
{
    struct script s;

    /* Two kicks while step 1 runs: one more step, not two, and none at the poll. */
    script_init(&s, 60000);
    s.end_after_ms = 50;
    s.kicks_in_step = 2;
    worker_start(s.w);
    script_run(&s, 1500);
    is_int(s.steps, 2, "a kick during a step runs exactly one more step after it");
    ok(s.steps < 2 || s.at[1] - s.at[0] >= 48, "... once the first has ended");
    script_free(&s);

    /* An idle worker runs a step at once when kicked. */
    script_init(&s, 60000);
    s.stop_at = 2;
    worker_start(s.w);
    event_base_loop(s.base, EVLOOP_ONCE);
    is_int(s.steps, 1, "the first step runs on the loop's first turn");
    worker_kick(s.w);
    script_run(&s, 20000);
    is_int(s.steps, 2, "an idle worker, kicked, steps without waiting for the poll");
    script_free(&s);
}

static void
test_free_during_step(void)
{
    struct script s;

    /* The step frees the worker inside its own call, then ends from a timer. */
    script_init(&s, 1);
    s.free_in_step = 1;
    s.end_after_ms = 30;
    s.found_until = 100;
    worker_start(s.w);
    script_run(&s, 300);
    is_int(s.live_after_free, 0, "worker_run_live is 0 once the worker is freed");
    ok(s.held == NULL, "the step still ended with worker_run_done after the free");
    is_int(s.steps, 1, "no step after the free, though the last one found work");
    script_free(&s);

    /* The same from outside any step, with the step's end still to come. */
    script_init(&s, 1);
    s.end_after_ms = 30;
    worker_start(s.w);
    event_base_loop(s.base, EVLOOP_ONCE);
    ok(s.held != NULL && worker_run_live(s.held), "a step is in flight");
    worker_free(s.w);
    s.w = NULL;
    worker_free(NULL);
    script_run(&s, 300);
    ok(s.held == NULL, "it ends after worker_free without touching the worker");
    is_int(s.steps, 1, "and nothing runs after it");
    script_free(&s);
}

int
main(void)
{
    test_nothing_before_start();
    test_back_to_back();
    test_poll();
    test_kick();
    test_free_during_step();
    return done_testing();
}
