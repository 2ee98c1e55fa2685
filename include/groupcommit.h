/* Group commit: the activities verified in one turn of the loop share one transaction. */
#ifndef PASSERELLE_GROUPCOMMIT_H
#define PASSERELLE_GROUPCOMMIT_H

#include "dispatch.h"

struct event_base;
struct activity_in;
struct db;
struct groupcommit;

/* Activities per transaction at most; more wait for the next. */
#define GROUPCOMMIT_MAX 256

/* Transactions run on db (borrowed); nothing runs before the first groupcommit_add. */
struct groupcommit *groupcommit_new(struct event_base *base, struct db *db);

/*
 * As dispatch_activity, whose per-type work it does unchanged, but the activities added in
 * one turn of the loop (and those added while GROUPCOMMIT_RUNNING transactions run) share
 * one transaction: one statement records all their ids as seen (a replay, or the second
 * copy of an id within the batch, is a "duplicate"), one relays all their posts, then each
 * one's own statements in the order they came; done is called for each after the COMMIT.
 * When that transaction fails on a statement, each of its activities is run again alone in
 * a transaction of its own, so a bad one fails alone. A Move, or g NULL, goes to
 * dispatch_activity. a is borrowed until done.
 */
void groupcommit_add(struct groupcommit *g, struct activity_in *a, dispatch_done_fn done,
                     void *arg);

/* Transactions at once; beyond, activities wait and join the next. */
#define GROUPCOMMIT_RUNNING 2

/* Counters (they only grow). */
struct groupcommit_stats {
    unsigned long long batches;    /* transactions run for more than one activity or one */
    unsigned long long activities; /* activities in them */
    unsigned long long largest;    /* activities in the largest */
    unsigned long long retried;    /* activities run again alone after their batch failed */
};
void groupcommit_get_stats(const struct groupcommit *g, struct groupcommit_stats *out);

/*
 * Activities not yet in a transaction end now as DB_UNAVAILABLE (done is called); those in
 * one end when the database answers it (db_free answers everything). NULL-safe.
 */
void groupcommit_free(struct groupcommit *g);

#endif
