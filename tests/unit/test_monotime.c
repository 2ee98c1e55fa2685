/* Unit tests for the monotonic clock: it moves forward, in milliseconds. */
#include <time.h>

#include "monotime.h"
#include "tap.h"

int
main(void)
{
    struct timespec pause = { 0, 120 * 1000 * 1000 };
    long long t0 = monotime_ms(), t1, t2;

    ok(t0 >= 0, "a reading is not negative (%lld)", t0);
    nanosleep(&pause, NULL);
    t1 = monotime_ms();
    ok(t1 - t0 >= 119, "120 ms of sleep read as at least 119 ms (%lld)", t1 - t0);
    ok(t1 - t0 < 60000, "and as milliseconds, not micro- or nanoseconds (%lld)", t1 - t0);
    t2 = monotime_ms();
    ok(t2 >= t1, "it never goes back (%lld then %lld)", t1, t2);
    return done_testing();
}
