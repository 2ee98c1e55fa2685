/* Matching: members due for it get their follow_actions (re)planned, both directions at once. */
#ifndef PASSERELLE_MATCH_H
#define PASSERELLE_MATCH_H

struct app;
struct match;

/*
 * The one statement that re-plans every pair of one member M (DESIGN.md section 3 and the
 * issue 5 contract): M as follower of the members M followed on X, and as followee of the
 * members who followed M on X. Parameters, all text:
 *   $1  M's members.id
 *   $2  the hold, in seconds (follow_hold_hours * 3600)
 *   $3  the configuration's relay_block as a text[] literal ("{}" when empty; entries as
 *       policy_list_normalize writes them)
 *   $4  milliseconds to wait before M is matched again when another member of its pairs
 *       was locked (match_poll_ms)
 * A pair (B follower, A followee) qualifies when B's own archive says B followed A on X
 * (an x_edges row with member_id = B: what A's archive says of A's followers never acts in
 * B's name), both are
 * 'linked', neither is held by reports (reports_held_at), A is findable, B is not paused and
 * neither home host is blocked (host_blocked() or $3). Qualifying pairs get a row, method
 * 'api' when B has autofollow else 'notice', state 'held' with hold_until = A.linked_at + $2
 * while that is ahead and A is not verified with X, else 'planned', and
 * next_attempt_at = greatest(now(), hold_until) for 'api'; rows already there are changed
 * only when that differs, and 'done'/'failed' rows never. Planned or held rows of pairs that
 * no longer qualify become 'undone' with last_error saying why. Followers with notify on who
 * have a row they were not told about are added to notice_due. Then M's match_due_at is
 * cleared, or set $4 ahead when a member of its pairs was locked (its row is share-locked
 * here, SKIP LOCKED, so that what is judged is its latest committed state, and a concurrent
 * matcher of that member never writes the same rows).
 * Returns one row: inserted, replanned, undone, skipped (pairs left for later), members added
 * to notice_due, and 1 when M exists.
 * Reads x_edges by its primary key (follower_x_id, followee_x_id, member_id) and its index
 * (followee_x_id, follower_x_id, member_id), members by id and by the unique x_id, follow_actions
 * by (follower_id, followee_id) and (followee_id): no scan, whatever the size of the tables.
 */
extern const char match_sql[];

/*
 * Starts the matcher on app's loop and database: every match_poll_ms (and at once while it
 * finds work) it claims one member whose match_due_at has come (FOR UPDATE SKIP LOCKED, so
 * several processes share the work) and runs match_sql for it in the same transaction.
 */
struct match *match_new(struct app *app);

/* Looks for due members now (a change was committed in this process). NULL-safe. */
void match_kick(struct match *m);

/* Stops the matcher; a transaction in flight ends on its own. NULL-safe. */
void match_free(struct match *m);

/*
 * Pure: the normalised relay_block list ("a.example b.example:8443", or "") as a PostgreSQL
 * text[] literal, each entry double-quoted ("{\"a.example\",\"b.example:8443\"}"). A new string.
 */
char *match_block_array(const char *list);

#endif
