/* The outbox: activities listed for delivery inside the transaction of the change they answer. */
#ifndef PASSERELLE_OUTBOX_H
#define PASSERELLE_OUTBOX_H

#include <stddef.h>

struct dbtx;
struct json_object;

/*
 * A prepared enqueue: sql and its nparams parameters store the payload once and one row
 * per distinct http(s) inbox, in one statement, for callers that run it themselves inside
 * their own transaction (the inbox commits an Accept with the subscription it answers) or
 * over blocking libpq (the command line). The statement returns one row: the number of
 * rows queued (dead and blocked hosts get none). After a commit, queue_kick starts
 * delivery at once instead of at the next poll.
 */
struct outbox_batch {
    const char *sql;
    const char *params[8];
    int nparams;    /* 6, or 8 for an answer (outbox_batch_answer) */
    size_t targets; /* distinct valid inboxes */
    char *storage[7];
};

/*
 * signer is "relay", "bridge" or "x:<x id>" (a stand-in actor, signed with the same key under
 * its own key id). Bad inboxes are skipped (logged); duplicates merged.
 * Returns 0, or -1 with err set (unknown signer, empty, oversized or NUL-bearing payload);
 * on 0 the caller frees with outbox_batch_free.
 */
int outbox_batch_init(struct outbox_batch *b, const char *signer, const char *payload, size_t len,
                      const char *const *inboxes, size_t n, int flags, char *err, size_t errlen);
/* flags: the rows go out even to blocked hosts (only the Reject that a block sends). */
#define OUTBOX_DESPITE_BLOCK 1
/*
 * Ties the activity to a member (activities.member_id, a decimal id): their leaving then
 * drops its deliveries with it. NULL unties it.
 */
void outbox_batch_member(struct outbox_batch *b, const char *member_id);
/*
 * Makes the batch an answer to an activity of an actor of origin (a host as url_authority
 * writes it): activities.origin (migration 016) records it, and nothing is stored when origin
 * already has max answers stored (pending, or kept after failing until the sweep). The
 * statement's row then has two more columns: "t" when it was so refused, and origin.
 */
void outbox_batch_answer(struct outbox_batch *b, const char *origin, int max);
void outbox_batch_free(struct outbox_batch *b);

/*
 * Lists, inside tx, the queue's statement that sends json (taken: put here, whatever
 * happens) signed by signer ("relay", "bridge" or a stand-in's "x:<x id>") to n inboxes
 * (duplicates merged), tied to member_id (activities.member_id, so that the member's leaving
 * drops it) unless NULL; it then commits with the change it answers. Returns 0 when the
 * statement was listed, -1 when the payload was refused (logged).
 */
int outbox_push(struct dbtx *tx, const char *signer, struct json_object *json,
                const char *const *inboxes, size_t n, const char *member_id);

/* outbox_push to one inbox, tied to no member. */
void outbox_push_one(struct dbtx *tx, const char *signer, struct json_object *json,
                     const char *inbox);

/*
 * outbox_push_one of an answer (an Accept, a Reject, a welcome, a reply) to what an actor of
 * origin sent: only to an inbox on origin itself, and not beyond max answers stored for origin
 * (outbox_batch_answer; logged as answer_capped). An answer's failures never count toward its
 * host's breaker (queue.c). Returns 0 when the statement was listed, -1 otherwise (logged).
 */
int outbox_answer(struct dbtx *tx, const char *signer, struct json_object *json, const char *inbox,
                  const char *origin, int max);

#endif
