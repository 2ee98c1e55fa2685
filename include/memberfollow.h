/* Members followed by the relay actor (relay consent) or by the bridge (to hear their Move). */
#ifndef PASSERELLE_MEMBERFOLLOW_H
#define PASSERELLE_MEMBERFOLLOW_H

struct app;
struct memberfollow;

/* Whose follows: each has its members.<by>_follow_id and _state and its own reconciler. */
enum memberfollow_by {
    MEMBERFOLLOW_RELAY,  /* the relay actor: members who allow relaying, for their posts */
    MEMBERFOLLOW_BRIDGE, /* the bridge actor: every fediverse member, for their Move only */
};

/*
 * The reconciler: every poll_ms (at once again after a full batch) one transaction claims
 * members whose wish and the actor's follow of them disagree (FOR UPDATE SKIP LOCKED, so
 * several processes share the work) and queues, with the state change:
 *   - a Follow from the actor to a member it should follow who has an inbox, is not blocked
 *     and is not followed yet (state none -> pending; their Accept or Reject, handled by
 *     dispatch.c with memberfollow_answered_sql, makes it accepted or rejected). The relay
 *     follows members with relay on, linked and not paused; the bridge every member whose home
 *     is on the fediverse (network 'activitypub'), unless follow_members is off;
 *   - an Undo of that Follow when that no longer holds (pending/accepted -> none); for the
 *     relay, Announces still queued for them are dropped; a refusal is forgotten
 *     (rejected -> none) so that the relay asks again once relay is turned on again;
 *   - an Undo for members who left or moved while followed (relay_unfollows, filled by a
 *     trigger and by move.c).
 * Nothing runs before memberfollow_start. app must outlive it.
 */
struct memberfollow *memberfollow_new(struct app *app, long poll_ms, enum memberfollow_by by);
void memberfollow_start(struct memberfollow *mf);
/*
 * Stops the worker (worker.h); a round still in its transaction ends on its own, rolled back
 * when its rows had not been read yet. NULL-safe.
 */
void memberfollow_free(struct memberfollow *mf);

/*
 * The statement recording a member's Accept or Reject of the actor's Follow: $1 the member's
 * actor, $2 the Follow's id, $3 'accepted' or 'rejected' (a Reject also ends an accepted one).
 */
const char *memberfollow_answered_sql(enum memberfollow_by by);

#endif
