/* A fixed-window counter per key (a member, an address, a host): at most limit events per window.
 */
#ifndef PASSERELLE_RATELIMIT_H
#define PASSERELLE_RATELIMIT_H

#include <time.h>

struct ratelimit;

/* At most limit events per key in each window of window_s seconds (limit 0: none at all). */
struct ratelimit *ratelimit_new(int limit, int window_s);

/*
 * Counts one event of key at now. 0 when it fits; otherwise nothing is counted and the
 * seconds until key's window ends (at least 1) are returned, for Retry-After.
 */
long ratelimit_take(struct ratelimit *rl, long long key, time_t now);

/* Takes back one event of key counted in its current window (the work was refused after all). */
void ratelimit_refund(struct ratelimit *rl, long long key);

/*
 * A key for a peer's address as text: an IPv4 address, or an IPv6 address's /64 (a mapped IPv4
 * counts as that IPv4); 0 for anything else, never 0 for an address.
 */
long long ratelimit_addr_key(const char *addr);
/* A key for a text (a host name), case-insensitive: 64 bits of FNV-1a. */
long long ratelimit_key_text(const char *s);

/* NULL-safe. */
void ratelimit_free(struct ratelimit *rl);

#endif
