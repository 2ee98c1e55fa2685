/* What a verified activity does: relay subscriptions, follows of the bridge, undo, delete. */
#ifndef PASSERELLE_DISPATCH_H
#define PASSERELLE_DISPATCH_H

#include "db.h"

struct activity_in;
struct json_object;

/*
 * How a dispatch ended. DB_OK once what must be remembered is committed (result is then the
 * metric label: "accepted", "duplicate", "pending", "publication", "ignored",
 * "standin_follow", "refused": a relay Follow by another actor than the domain's subscriber;
 * a Move goes to move_activity: "moved", "move_refused");
 * DB_UNAVAILABLE when the database could not be reached ("unavailable");
 * DB_ERROR when a statement failed ("error"). result is static.
 */
typedef void (*dispatch_done_fn)(enum db_outcome outcome, const char *result, void *arg);

/*
 * Acts on a verified activity in one transaction and calls done(…, arg) exactly once, never
 * from inside this call. Its id is recorded in the same transaction, so a redelivery is
 * acknowledged and changes nothing. a is borrowed: the caller keeps it until done.
 */
void dispatch_activity(struct activity_in *a, dispatch_done_fn done, void *arg);

/* What an activity asks of us; pure, for tests. */
enum dispatch_action {
    DISPATCH_IGNORE,          /* acknowledged, nothing to do */
    DISPATCH_SUBSCRIBE,       /* Follow of as:Public (Mastodon) */
    DISPATCH_SUBSCRIBE_LP,    /* Follow of the relay actor (LitePub) */
    DISPATCH_JOIN,            /* Follow of the bridge account */
    DISPATCH_UNDO_FOLLOW,     /* Undo of a Follow */
    DISPATCH_FOLLOW_ANSWERED, /* Accept or Reject of one of our Follows */
    DISPATCH_ACTOR_DELETED,   /* Delete of the actor itself */
    DISPATCH_MESSAGE,         /* a direct message to the bridge account (a command) */
    DISPATCH_FOLLOW_STANDIN,  /* Follow of a stand-in (<base>/x/<x id>): refused */
    DISPATCH_PUBLICATION      /* Create, Announce, Update... sent on to the relay */
};
enum dispatch_action dispatch_classify(struct json_object *activity, const char *type,
                                       const char *actor, const char *relay_id,
                                       const char *bridge_id);

#endif
