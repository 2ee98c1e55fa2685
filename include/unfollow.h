/* Undoing follows made in a member's name: the worker that unfollows through their server. */
#ifndef PASSERELLE_UNFOLLOW_H
#define PASSERELLE_UNFOLLOW_H

#include <stddef.h>

struct app;
struct follow_options;
struct unfollow;

/*
 * Creates the worker for app (loop, database, seal: borrowed, outliving it) with the follow
 * worker's options (its own HTTP client; poll_ms, api_limit, backoff_unit_ms, max_attempts,
 * batch, lease_ms; daily_limit is not used: Mastodon counts follows made, not undone). Every
 * poll_ms (and at once while it finds work, or when kicked) it claims due 'unfollow' rows, one
 * per member whose grant is free, not rate-limited and under the 5-minute request budget
 * (the lease, rate_limited_until and api_requests the follow worker uses), and asks the
 * member's server: POST /api/v1/accounts/:id/unfollow, with the account id the follow
 * stored, or found as the follow worker finds it (search with resolve). A Relationship that no
 * longer follows makes the row 'unfollowed' (final: the matcher never plans it again); 404
 * too (nothing left to follow). 429 waits for the reset, 401 drops the grant, 5xx and network
 * errors retry with backoff; after max_attempts, or another 4xx, the row is 'done' again with
 * last_error saying why, so the member can try again. Nothing runs before unfollow_start.
 * NULL with a message in err when the HTTP client cannot be made.
 */
struct unfollow *unfollow_new(struct app *app, const struct follow_options *opt, char *err,
                              size_t errlen);
void unfollow_start(struct unfollow *u);
/* Looks for due rows now (the page queued some). NULL-safe. */
void unfollow_kick(struct unfollow *u);
/* Stops it; claimed rows and grants keep their lease and are taken again later. NULL-safe. */
void unfollow_free(struct unfollow *u);

/*
 * Pure: whether a POST .../unfollow answer's body (a Relationship) says the account is no
 * longer followed nor requested: 1, 0 when it still is, -1 when it is not a Relationship.
 */
int unfollow_relationship_gone(const char *body, size_t len);

#endif
