/* The relay actor's follows of members: Follow when they allow relaying, Undo when they stop. */
#ifndef PASSERELLE_RELAYFOLLOW_H
#define PASSERELLE_RELAYFOLLOW_H

struct app;
struct relayfollow;

/*
 * The reconciler: every poll_ms (at once again after a full batch) one transaction claims
 * members whose relay consent and members.relay_follow_state disagree (FOR UPDATE SKIP
 * LOCKED, so several processes share the work) and queues, with the state change:
 *   - a Follow from the relay actor to a member who has relay on, is linked, not paused and
 *     not blocked, and is not followed yet (state none -> pending; their Accept or Reject,
 *     handled by dispatch.c, makes it accepted or rejected);
 *   - an Undo of that Follow when relay is off, the member paused, or the claim is no longer
 *     linked (pending/accepted -> none), dropping Announces still queued for them; a refusal
 *     is forgotten (rejected -> none) so that turning relay on again asks once more;
 *   - an Undo for members who left while followed (relay_unfollows, filled by a trigger).
 * Nothing runs before relayfollow_start. app must outlive it.
 */
struct relayfollow *relayfollow_new(struct app *app, long poll_ms);
void relayfollow_start(struct relayfollow *rf);
/*
 * Stops the worker (worker.h); a round still in its transaction ends on its own, rolled back
 * when its rows had not been read yet. NULL-safe.
 */
void relayfollow_free(struct relayfollow *rf);

#endif
