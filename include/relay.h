/* What a verified activity does: relay subscriptions, follows of the bridge, undo, delete. */
#ifndef PASSERELLE_RELAY_H
#define PASSERELLE_RELAY_H

#include <stddef.h>

struct app;
struct dbtx;
struct inbox_activity;
struct json_object;

/*
 * Acts on a verified activity and ends it with inbox_finish (202 once what must be
 * remembered is committed). Its id is recorded in the same transaction, so a redelivery
 * is acknowledged and changes nothing.
 */
void relay_dispatch(struct inbox_activity *a);

/*
 * Lists, inside tx, the queue's statement that sends json (put here) signed by signer
 * ("relay", "bridge" or a stand-in's "x:<x id>") to inbox, so it commits with the change it
 * answers.
 */
void relay_send(struct dbtx *tx, const char *signer, struct json_object *json, const char *inbox);

/*
 * The same to n inboxes (duplicates merged), tied to member_id (activities.member_id, so
 * that the member's leaving drops it) unless NULL. Returns 1 when the statement was listed,
 * 0 when the payload was refused (logged).
 */
int relay_send_to(struct dbtx *tx, const char *signer, struct json_object *json,
                  const char *const *inboxes, size_t n, const char *member_id);

/* Forgets old activity ids, relayed object ids, link codes and sessions (fire and forget; hourly).
 */
void relay_sweep(struct app *app);

/* What an activity asks of us; pure, for tests. */
enum relay_action {
    RELAY_IGNORE,          /* acknowledged, nothing to do */
    RELAY_SUBSCRIBE,       /* Follow of as:Public (Mastodon) */
    RELAY_SUBSCRIBE_LP,    /* Follow of the relay actor (LitePub) */
    RELAY_JOIN,            /* Follow of the bridge account */
    RELAY_UNDO_FOLLOW,     /* Undo of a Follow */
    RELAY_FOLLOW_ANSWERED, /* Accept or Reject of one of our Follows */
    RELAY_ACTOR_DELETED,   /* Delete of the actor itself */
    RELAY_MESSAGE,         /* a direct message to the bridge account (a command) */
    RELAY_FOLLOW_STANDIN,  /* Follow of a stand-in (<base>/x/<x id>): refused (relay_dispatch) */
    RELAY_PUBLICATION      /* Create, Announce, Update... sent on to the relay */
};
enum relay_action relay_classify(struct json_object *activity, const char *type, const char *actor,
                                 const char *relay_id, const char *bridge_id);

/* 1 for the ways servers write the public collection ("as:Public", "Public" too). */
int relay_is_public(const char *s);

#endif
