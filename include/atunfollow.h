/* Undoing Bluesky follows passerelle wrote in a member's name: their records deleted. */
#ifndef PASSERELLE_ATUNFOLLOW_H
#define PASSERELLE_ATUNFOLLOW_H

struct app;
struct atunfollow;

/* Rows undone in one pass for one member, at most. */
#define ATUNFOLLOW_BATCH 50

/*
 * Starts the worker on app's loop, database, HTTP client and seal (all borrowed, outliving
 * it): every atproto_follow_poll_ms (and at once while it finds work, or when kicked) it
 * serves one Bluesky member with due 'unfollow' rows of method 'atproto' (queued from the
 * page), a grant and no lease or pause in atproto_follow_state (the follow worker's: one
 * member's writes never run at once, and a pause holds both). Up to ATUNFOLLOW_BATCH rows:
 *   1. the grant (atgrant_use: refreshed when it must be); none, or revoked: every row back to
 *      'done' with last_error saying to sign in with Bluesky again (nothing deleted);
 *   2. each row's record_uri must name a follow record of the member's own repository
 *      (graph_follow_rkey), else the row is 'done' again with the reason;
 *   3. com.atproto.repo.deleteRecord of exactly that record, one after the other. A success
 *      makes the row 'unfollowed' (final; the PDS also answers so for a record already gone).
 *      A 429 pauses the member for its Retry-After (or RateLimit-Reset) and the rows wait
 *      uncounted; a RateLimit-* answer with the write budget spent pauses the member until its
 *      reset; a refused token, network trouble or a 5xx retry with backoff and, after 10
 *      attempts, the row is 'done' again with last_error; another 4xx at once.
 * Rows of a member with no grant at all are put back to 'done' the same way when claimed.
 * The page queues only rows whose record passerelle wrote (record_written).
 */
struct atunfollow *atunfollow_new(struct app *app);

/* Looks for due rows now (the page queued some). NULL-safe. */
void atunfollow_kick(struct atunfollow *u);

/* Stops the worker; a pass in flight ends on its own, its lease expiring. NULL-safe. */
void atunfollow_free(struct atunfollow *u);

#endif
