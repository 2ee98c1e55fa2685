/* The delivery retry rules: Mastodon's classification of answers, its backoff, Retry-After. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/rand.h>

#include "httpsig.h"
#include "retry.h"

enum retry_outcome
retry_classify(enum httpc_error error, long status)
{
    if (error == HTTPC_ERR_REFUSED_ADDRESS)
        return RETRY_DROP; /* a private address does not become public by waiting */
    if (error != HTTPC_OK)
        return RETRY_AGAIN;
    if (status >= 200 && status < 300)
        return RETRY_DONE;
    if (status >= 400 && status < 500 && status != 401 && status != 408 && status != 429)
        return RETRY_DROP;
    if (status == 501)
        return RETRY_DROP; /* Mastodon counts it unsalvageable too */
    return RETRY_AGAIN;
}

/* Jitter only: a failing RAND_bytes just means none. */
double
retry_jitter(void)
{
    uint32_t r;

    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        return 0;
    return (double)r / 4294967296.0;
}

long long
retry_backoff_ms(int attempts, long unit_ms, double jitter01)
{
    double n4, ms;

    if (attempts < 0)
        attempts = 0;
    if (attempts > 100)
        attempts = 100;
    if (jitter01 < 0 || jitter01 >= 1)
        jitter01 = 0;
    n4 = (double)attempts * attempts * attempts * attempts;
    ms = (double)unit_ms * (n4 + 15 + jitter01 * 0.5 * n4);
    if (ms > 30.0 * 86400 * 1000)
        ms = 30.0 * 86400 * 1000;
    return (long long)ms;
}

long long
retry_after_ms(const char *value, time_t now)
{
    const char *p = value;
    time_t t;

    if (value == NULL)
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (isdigit((unsigned char)*p)) {
        char *end;
        unsigned long long s;

        errno = 0;
        s = strtoull(p, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (errno != 0 || *end != '\0')
            return -1;
        return s > 100ULL * 86400 ? 100LL * 86400 * 1000 : (long long)s * 1000;
    }
    if (httpsig_parse_date(p, &t) < 0)
        return -1;
    return t > now ? (long long)(t - now) * 1000 : 0;
}
