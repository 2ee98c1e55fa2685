/* Unit tests for server/delivery/retry.c: what an answer amounts to, backoff, Retry-After. */
#include "retry.h"
#include "tap.h"

int
main(void)
{
    is_int(retry_classify(HTTPC_OK, 202), RETRY_DONE, "202 is done");
    is_int(retry_classify(HTTPC_OK, 404), RETRY_DROP, "404 drops");
    is_int(retry_classify(HTTPC_OK, 410), RETRY_DROP, "410 drops");
    is_int(retry_classify(HTTPC_OK, 401), RETRY_AGAIN, "401 retries");
    is_int(retry_classify(HTTPC_OK, 408), RETRY_AGAIN, "408 retries");
    is_int(retry_classify(HTTPC_OK, 429), RETRY_AGAIN, "429 retries");
    is_int(retry_classify(HTTPC_OK, 500), RETRY_AGAIN, "500 retries");
    is_int(retry_classify(HTTPC_OK, 501), RETRY_DROP, "501 drops (Mastodon)");
    is_int(retry_classify(HTTPC_ERR_TIMEOUT, 0), RETRY_AGAIN, "timeout retries");
    is_int(retry_classify(HTTPC_ERR_REFUSED_ADDRESS, 0), RETRY_DROP, "refused address drops");
    is_int(retry_backoff_ms(0, 1000, 0), 15000, "first retry after 15 s");
    is_int(retry_backoff_ms(3, 1000, 0), 96000, "3^4 + 15 s");
    is_int(retry_backoff_ms(2, 1000, 0.999), 31000 + 7992, "jitter up to half of n^4");
    ok(retry_backoff_ms(1000, 1000, 0) <= 30LL * 86400 * 1000, "backoff capped");
    {
        int in_range = 1, distinct = 0;
        double first = retry_jitter();

        for (int i = 0; i < 100; i++) {
            double j = retry_jitter();

            in_range &= j >= 0 && j < 1;
            distinct |= j != first;
        }
        ok(in_range && first >= 0 && first < 1, "retry_jitter is in [0,1)");
        ok(distinct, "retry_jitter varies from draw to draw");
    }
    is_int(retry_after_ms("2", 0), 2000, "Retry-After seconds");
    is_int(retry_after_ms(" 120 ", 0), 120000, "Retry-After with spaces");
    is_int(retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 10), 10000,
           "Retry-After as a date");
    is_int(retry_after_ms("soon", 0), -1, "Retry-After garbage");
    is_int(retry_after_ms(NULL, 0), -1, "Retry-After absent");
    return done_testing();
}
