/* Group commit: the activities verified in one turn of the loop share one transaction. */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "activity.h"
#include "announce.h"
#include "dbtx.h"
#include "dispatch.h"
#include "dispatch_internal.h"
#include "groupcommit.h"
#include "log.h"
#include "metrics.h"
#include "pgarray.h"
#include "xmalloc.h"

#define M_BATCHES    "passerelle_inbox_transactions_total"
#define M_ACTIVITIES "passerelle_inbox_transaction_activities_total"

/*
 * Every id at once; only the new ones come back, each once (a second copy within the batch
 * conflicts with the first).
 */
static const char sql_seen[] = "INSERT INTO seen_activity_ids (id) SELECT unnest($1::text[])"
                               " ON CONFLICT DO NOTHING RETURNING id";

/* One transaction's activities; owned by itself from groupcommit_run to its end. */
struct groupcommit_batch {
    TAILQ_ENTRY(groupcommit_batch) link; /* in g->batches while g is alive */
    struct groupcommit *g;               /* NULL once groupcommit_free let go of it */
    struct dispatch_ctx **rcs;
    int n;
    char *fresh;                 /* fresh[i]: rcs[i]'s id was new */
    struct announce_batch pubs;  /* the posts relayed by one statement */
    struct announce **pubs_room; /* pubs.ans: room for all n */
};

struct groupcommit {
    struct db *db;
    struct event *ev; /* runs the waiting activities at the end of the loop's turn */
    struct dispatch_ctx **waiting;
    int nwaiting, cap;
    int running;
    TAILQ_HEAD(, groupcommit_batch) batches;
    struct groupcommit_stats st;
};

static void groupcommit_flush(evutil_socket_t fd, short what, void *arg);

struct groupcommit *
groupcommit_new(struct event_base *base, struct db *db)
{
    struct groupcommit *g = xcalloc(1, sizeof(*g));

    g->db = db;
    g->ev = event_new(base, -1, 0, groupcommit_flush, g);
    TAILQ_INIT(&g->batches);
    metrics_describe(M_BATCHES, METRICS_COUNTER,
                     "Transactions recording verified inbox activities (group commit).");
    metrics_describe(M_ACTIVITIES, METRICS_COUNTER, "Activities recorded in those transactions.");
    return g;
}

void
groupcommit_add(struct groupcommit *g, struct activity_in *a, dispatch_done_fn done, void *arg)
{
    if (g == NULL || strcmp(a->type, "Move") == 0) {
        dispatch_activity(a, done, arg);
        return;
    }
    if (g->nwaiting == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->waiting = xrealloc(g->waiting, (size_t)g->cap * sizeof(*g->waiting));
    }
    g->waiting[g->nwaiting++] = dispatch_ctx_new(a, done, arg);
    /* After the callbacks of this turn: the POSTs read in it join this one. */
    if (g->running < GROUPCOMMIT_RUNNING)
        event_active(g->ev, EV_TIMEOUT, 1);
}

static void
groupcommit_batch_free(struct groupcommit_batch *b)
{
    free(b->rcs);
    free(b->fresh);
    free(b->pubs_room);
    free(b);
}

/* Marks the rows of res (ids recorded now) fresh, each for its first waiting copy. */
static void
groupcommit_mark(struct groupcommit_batch *b, PGresult *res)
{
    int rows = PQntuples(res), at = 0;

    for (int r = 0; r < rows; r++) {
        const char *id = PQgetvalue(res, r, 0);

        /* Rows come in the order of the array, as a rule: search on from the last match. */
        for (int k = 0; k < b->n; k++) {
            int i = (at + k) % b->n;

            if (!b->fresh[i] && strcmp(dispatch_ctx_id(b->rcs[i]), id) == 0) {
                b->fresh[i] = 1;
                at = i + 1;
                break;
            }
        }
    }
}

/* The ids are recorded: what each new activity asks, in the order they came, then the posts. */
static int
groupcommit_seen(struct dbtx *tx, PGresult *res, void *arg)
{
    struct groupcommit_batch *b = arg;

    groupcommit_mark(b, res);
    for (int i = 0; i < b->n; i++) {
        if (b->fresh[i])
            dispatch_act(tx, b->rcs[i], &b->pubs);
        else
            dispatch_duplicate(b->rcs[i]);
    }
    if (b->pubs.n > 0)
        announce_push_batch(tx, &b->pubs);
    return 0;
}

static void
groupcommit_done(enum db_outcome outcome, const char *err, void *arg)
{
    struct groupcommit_batch *b = arg;
    struct groupcommit *g = b->g;

    if (outcome == DB_ERROR && b->n > 1) {
        /* Which one failed is not known: each again alone, so only that one fails. */
        log_warn("inbox_batch_failed", "activities=%d error=%s", b->n, log_q(err));
        if (g != NULL)
            g->st.retried += (unsigned long long)b->n;
        for (int i = 0; i < b->n; i++)
            dispatch_run(b->rcs[i]);
    } else {
        for (int i = 0; i < b->n; i++)
            dispatch_end(b->rcs[i], outcome);
    }
    if (g != NULL) {
        TAILQ_REMOVE(&g->batches, b, link);
        g->running--;
        if (g->nwaiting > 0)
            event_active(g->ev, EV_TIMEOUT, 1);
    }
    groupcommit_batch_free(b);
}

/* Starts a transaction for the first n waiting activities. */
static void
groupcommit_run(struct groupcommit *g, int n)
{
    struct groupcommit_batch *b = xcalloc(1, sizeof(*b));
    char **ids = xcalloc((size_t)n, sizeof(*ids));
    char *arr;
    struct dbtx *tx;

    b->g = g;
    b->n = n;
    b->rcs = xcalloc((size_t)n, sizeof(*b->rcs));
    memcpy(b->rcs, g->waiting, (size_t)n * sizeof(*b->rcs));
    memmove(g->waiting, g->waiting + n, (size_t)(g->nwaiting - n) * sizeof(*g->waiting));
    g->nwaiting -= n;
    b->fresh = xcalloc((size_t)n, 1);
    b->pubs_room = xcalloc((size_t)n, sizeof(*b->pubs_room));
    b->pubs.ans = b->pubs_room;
    for (int i = 0; i < n; i++)
        ids[i] = xstrdup(dispatch_ctx_id(b->rcs[i]));
    arr = pgarray_text(ids, (size_t)n);
    for (int i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    TAILQ_INSERT_TAIL(&g->batches, b, link);
    g->running++;
    g->st.batches++;
    g->st.activities += (unsigned long long)n;
    if ((unsigned long long)n > g->st.largest)
        g->st.largest = (unsigned long long)n;
    metrics_add(M_BATCHES, "", 1);
    metrics_add(M_ACTIVITIES, "", n);
    tx = dbtx_new(g->db, groupcommit_done, b);
    dbtx_push(tx, sql_seen, groupcommit_seen, b, 1, arr);
    free(arr);
    dbtx_run(tx);
}

static void
groupcommit_flush(evutil_socket_t fd, short what, void *arg)
{
    struct groupcommit *g = arg;

    (void)fd;
    (void)what;
    while (g->nwaiting > 0 && g->running < GROUPCOMMIT_RUNNING)
        groupcommit_run(g, g->nwaiting < GROUPCOMMIT_MAX ? g->nwaiting : GROUPCOMMIT_MAX);
}

void
groupcommit_get_stats(const struct groupcommit *g, struct groupcommit_stats *out)
{
    *out = g->st;
}

void
groupcommit_free(struct groupcommit *g)
{
    struct groupcommit_batch *b;

    if (g == NULL)
        return;
    event_free(g->ev);
    while ((b = TAILQ_FIRST(&g->batches)) != NULL) {
        TAILQ_REMOVE(&g->batches, b, link);
        b->g = NULL;
    }
    for (int i = 0; i < g->nwaiting; i++)
        dispatch_end(g->waiting[i], DB_UNAVAILABLE);
    free(g->waiting);
    free(g);
}
