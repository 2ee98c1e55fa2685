/* The outbox: activities listed for delivery inside the transaction of the change they answer. */
#ifndef PASSERELLE_OUTBOX_H
#define PASSERELLE_OUTBOX_H

#include <stddef.h>

struct dbtx;
struct json_object;

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

#endif
