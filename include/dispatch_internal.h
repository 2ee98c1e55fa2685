/* What dispatch.c lends to groupcommit.c: one activity's context, its statements, its end. */
#ifndef PASSERELLE_DISPATCH_INTERNAL_H
#define PASSERELLE_DISPATCH_INTERNAL_H

#include "db.h"
#include "dispatch.h"

struct activity_in;
struct announce_batch;
struct dbtx;
struct dispatch_ctx;

/* A verified activity classified (not a Move: move_activity has its own transaction). */
struct dispatch_ctx *dispatch_ctx_new(struct activity_in *a, dispatch_done_fn done, void *arg);

/* The activity's id (borrowed). */
const char *dispatch_ctx_id(const struct dispatch_ctx *rc);

/*
 * Lists in tx what the activity asks, its id having just been recorded as new. A
 * publication's relaying is added to pubs for one statement of the caller's
 * (announce_push_batch; pubs->ans has room for it) instead, unless pubs is NULL.
 */
void dispatch_act(struct dbtx *tx, struct dispatch_ctx *rc, struct announce_batch *pubs);

/* Its id was seen before: it ends as "duplicate" and changes nothing. */
void dispatch_duplicate(struct dispatch_ctx *rc);

/* One transaction of its own (as dispatch_activity), from a fresh state: done is called. */
void dispatch_run(struct dispatch_ctx *rc);

/* Its transaction ended with outcome: done is called and rc freed. */
void dispatch_end(struct dispatch_ctx *rc, enum db_outcome outcome);

#endif
