/* Following on Bluesky in a member's name: follow records written in batches, within budgets. */
#ifndef PASSERELLE_ATFOLLOW_H
#define PASSERELLE_ATFOLLOW_H

struct app;
struct atfollow;

/*
 * Starts the worker on app's loop, database, HTTP client and seal (all borrowed, outliving
 * it): every atproto_follow_poll_ms (and at once while it finds work) it serves one Bluesky
 * member with due 'atproto' rows that follow_actions_allowed still allows, a grant
 * (atproto_grants) and no lease or pause (atproto_follow_state):
 *   1. budget: 3 points a follow against atproto_follow_hour_points in the last hour and
 *      atproto_follow_day_points in the last day (follows done, from done_at); a member with
 *      no room has their due rows moved to when the oldest follow leaves the full window, so
 *      a long list is spread over hours and days. Otherwise up to atproto_follow_batch rows
 *      (at most 200) are claimed and the member leased;
 *   2. the grant (atgrant_use: refreshed when it must be);
 *   3. the member's follows, read with listRecords (all pages): a subject already followed is
 *      'done' at once with that record (the PDS accepts duplicates);
 *   4. each other subject's DID resolved (the PDS accepts a DID that does not exist): none is
 *      'failed', a resolver that does not answer is tried again later;
 *   5. one com.atproto.repo.applyWrites creating the rest (atomic): 'done' with each record's
 *      uri. A 429 pauses the member until its Retry-After (or RateLimit-Reset), the rows wait
 *      uncounted; a RateLimit-* answer showing the hourly or daily write budget short pauses
 *      the member until its reset; a refused token, network trouble, a 5xx or another 4xx are
 *      retried with backoff and 'failed' after max attempts. 'done' and 'failed' are final.
 * A Bluesky followee's subject is their DID, a fediverse followee's their bridged DID.
 */
struct atfollow *atfollow_new(struct app *app);

/* Looks for due rows now. NULL-safe. */
void atfollow_kick(struct atfollow *a);

/* Stops the worker; a batch in flight ends on its own, its lease expiring. NULL-safe. */
void atfollow_free(struct atfollow *a);

#endif
