/* A fixed-window counter per key (a member, an address, a host): at most limit events per window.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "xmalloc.h"

#define RATELIMIT_FNV_BASIS 14695981039346656037ULL /* FNV-1a, 64 bits */

struct ratelimit_entry {
    long long key;
    time_t start; /* the window began */
    int count;
};

/* Few keys are live at once (those with an event in the last window): a plain array. */
struct ratelimit {
    int limit, window_s;
    struct ratelimit_entry *e;
    size_t n, cap;
};

struct ratelimit *
ratelimit_new(int limit, int window_s)
{
    struct ratelimit *rl = xcalloc(1, sizeof(*rl));

    rl->limit = limit > 0 ? limit : 0;
    rl->window_s = window_s > 0 ? window_s : 1;
    return rl;
}

long
ratelimit_take(struct ratelimit *rl, long long key, time_t now)
{
    struct ratelimit_entry *hit = NULL;
    size_t kept = 0;

    /* Windows that ended are forgotten on the way. */
    for (size_t i = 0; i < rl->n; i++) {
        if (now - rl->e[i].start >= rl->window_s)
            continue;
        rl->e[kept] = rl->e[i];
        if (rl->e[kept].key == key)
            hit = &rl->e[kept];
        kept++;
    }
    rl->n = kept;
    if (hit == NULL) {
        if (rl->limit == 0)
            return rl->window_s;
        if (rl->n == rl->cap) {
            rl->cap = rl->cap ? rl->cap * 2 : 16;
            rl->e = xrealloc(rl->e, rl->cap * sizeof(*rl->e));
        }
        hit = &rl->e[rl->n++];
        hit->key = key;
        hit->start = now;
        hit->count = 0;
    }
    if (hit->count >= rl->limit) {
        long left = (long)(hit->start + rl->window_s - now);

        return left > 0 ? left : 1;
    }
    hit->count++;
    return 0;
}

void
ratelimit_refund(struct ratelimit *rl, long long key)
{
    for (size_t i = 0; i < rl->n; i++)
        if (rl->e[i].key == key && rl->e[i].count > 0) {
            rl->e[i].count--;
            return;
        }
}

void
ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    free(rl->e);
    free(rl);
}

static unsigned long long
ratelimit_fnv(unsigned long long h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

long long
ratelimit_addr_key(const char *addr)
{
    unsigned char a[16];
    const unsigned char *p = a;
    size_t n;

    if (inet_pton(AF_INET, addr, a) == 1)
        n = 4;
    else if (inet_pton(AF_INET6, addr, a) != 1)
        return 0;
    else if (memcmp(a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
        p = a + 12, n = 4; /* an IPv4 address seen through an IPv6 socket: the same peer */
    else
        n = 8; /* one site gets a /64 to itself: its addresses share one count */
    /* Never 0, the unknown peer's key. */
    return (long long)(ratelimit_fnv(RATELIMIT_FNV_BASIS, p, n) >> 1) | 1;
}

long long
ratelimit_key_text(const char *s)
{
    unsigned long long h = RATELIMIT_FNV_BASIS;

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)tolower((unsigned char)*s);

        h = ratelimit_fnv(h, &c, 1);
    }
    return (long long)(h >> 1);
}
