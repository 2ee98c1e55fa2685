/* The monotonic clock in milliseconds: durations and deadlines that a clock change cannot move. */
#ifndef PASSERELLE_MONOTIME_H
#define PASSERELLE_MONOTIME_H

/* Milliseconds on CLOCK_MONOTONIC since an unspecified start: only differences mean anything. */
long long monotime_ms(void);

#endif
