/* Targeted relay: a member's public post Announced to the instances of their former X followers. */
#ifndef PASSERELLE_ANNOUNCE_H
#define PASSERELLE_ANNOUNCE_H

struct dbtx;
struct activity_in;
struct json_object;

struct announce;

/* Posts relayed by one statement; the caller owns it until the transaction ends. */
struct announce_batch {
    struct announce **ans;
    int n;
};

/*
 * What relaying one incoming activity needs; the caller owns it (inside its own context)
 * until its transaction ends. queued counts the delivery statements listed.
 */
struct announce {
    struct activity_in *a;
    const char *object_id; /* set by announce_push: borrowed from a->json */
    int *queued;
    struct announce *self; /* announce_push's batch of one */
    struct announce_batch one;
};

/*
 * Pure: 1 when activity (of type, by actor on actor_domain) is a post the relay may
 * announce, with *object_id its object's id; 0 with *why saying why not. Only a Create of a
 * Note, Article, Question or Page embedded whole, whose id is on the actor's host, whose
 * attributedTo is the actor, and whose own "to" (the activity's when the object has none)
 * holds the public collection. Unlisted posts (public only in cc), followers-only and
 * direct posts are not; Mastodon sends only public ones to relays, for the same reason.
 */
int announce_eligible(struct json_object *activity, const char *type, const char *actor,
                      const char *actor_domain, const char **object_id, const char **why);

/*
 * Lists in tx what relays an->a, if anything: when it is eligible, one statement checks
 * that its author is a member whom the relay follows with their consent (relay on, linked,
 * not paused, follow accepted, home not blocked), remembers the object id (a second copy
 * is dropped), and finds the subscribed instances (accepted, not blocked, not the post's
 * origin) that host at least one member who followed the author on X; its result queues
 * one Announce from the relay actor to their inboxes (shared inboxes preferred, merged),
 * tied to the member so that their leaving drops it. Returns 1 when a statement was listed.
 */
int announce_push(struct dbtx *tx, struct announce *an);

/*
 * The same for the posts of b at once (group commit): those not eligible are taken out of b
 * (logged), and one statement relays the others; each post relayed gets its own Announce.
 * Returns 1 when the statement was listed.
 */
int announce_push_batch(struct dbtx *tx, struct announce_batch *b);

#endif
