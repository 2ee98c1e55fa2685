/* A member's account moves: a Move checked as Mastodon checks it, then the membership follows. */
#ifndef PASSERELLE_MOVE_H
#define PASSERELLE_MOVE_H

#include <stddef.h>

#include "dispatch.h"

struct activity_in;
struct json_object;

/*
 * Pure: the target of a Move by actor, or NULL with *why saying why it is not one to act
 * on: its object (a string or an embedded object's id) must be the actor itself (the actor
 * moves itself, never another account), and its target an http(s) id, not the actor, with no
 * fragment. Borrowed from activity.
 */
const char *move_target(struct json_object *activity, const char *actor, const char **why);

/* Pure: 1 when aliases[0..n) names origin exactly (Mastodon's also_known_as.include?). */
int move_aliases_hold(const char *const *aliases, size_t n, const char *origin);

/* Where the membership goes when the new actor is a member already. */
enum move_plan {
    MOVE_CARRY,     /* the moving member's row takes the new actor (none there, or merged in) */
    MOVE_ABSORB,    /* the new actor's row stays as it is, the moving member's merges into it */
    MOVE_REFUSE_TWO /* both hold an X claim: two claims are never merged, nothing changes */
};

/*
 * Pure: the merge rule. A row with an X claim is the one kept (a move is not a new claim,
 * and a claim's hold and verification belong to its row); two claims are refused; without
 * any claim the older membership (the smaller id) is kept. new_exists 0 is always CARRY.
 */
enum move_plan move_plan(int old_claimed, long long old_id, int new_exists, int new_claimed,
                         long long new_id);

/*
 * A verified Move (its HTTP signature is its actor's: the inbox checked it). When its actor
 * is a fediverse member and the Move holds: the target, fetched fresh (not from the cache),
 * must answer with that id and list the actor in alsoKnownAs, on a host no block covers.
 * Then, in one transaction with the activity's id recorded as seen: the member's row, with
 * everything tied to it (consents and their ledger, claim, stand-in, follow_actions both
 * ways, reports, sessions), takes the new actor's id, acct, host and inbox; a ledger row per
 * consent notes the move and member_moves records it; the old server's OAuth grant is
 * deleted (and revoked there after the commit); the relay's and the bridge's follows of the
 * old actor are undone (memberfollow.c follows the new one: the bridge always, the relay when
 * relaying is on; a merged row's bridge follow of the new actor is kept); and a message to
 * the new account, in the member's language, carries a one-time link to the page where they
 * connect their new server. A new actor that is a member already is merged (move_plan; the
 * row that goes gives its ledger to the one kept). Anything else changes nothing and is
 * logged. done is called once, never from inside this call, with the result "moved",
 * "move_refused", "ignored" (not a member) or "duplicate". a is borrowed until then.
 */
void move_activity(struct activity_in *a, dispatch_done_fn done, void *arg);

#endif
