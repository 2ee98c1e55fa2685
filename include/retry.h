/* The retry rules: what an answer amounts to, how long to wait, Retry-After. Pure but the jitter.
 */
#ifndef PASSERELLE_RETRY_H
#define PASSERELLE_RETRY_H

#include <time.h>

#include "httpc.h"

/* What one delivery attempt amounts to. */
enum retry_outcome { RETRY_DONE, RETRY_DROP, RETRY_AGAIN };

/*
 * 2xx done; 4xx other than 401/408/429, 501, and addresses netguard refuses are dropped;
 * everything else (5xx, 401, 408, 429, 3xx, network errors) is tried again.
 */
enum retry_outcome retry_classify(enum httpc_error error, long status);

/*
 * Delay before try number attempts+1, in ms: unit*(attempts^4 + 15) plus jitter of up to
 * unit*0.5*attempts^4 (jitter01 in [0,1)). Capped at 30 days.
 */
long long retry_backoff_ms(int attempts, long unit_ms, double jitter01);

/* A jitter01 for retry_backoff_ms, uniform in [0,1) (0 when the random source fails). */
double retry_jitter(void);

/*
 * Parses a Retry-After value (delta-seconds or IMF-fixdate) relative to now into ms >= 0.
 * -1 when absent or malformed.
 */
long long retry_after_ms(const char *value, time_t now);

#endif
