/* The hourly sweep: deletes the rows that redeliveries and expiries no longer need. */
#include "db.h"
#include "log.h"
#include "sweep.h"

static void
sweep_done_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    (void)arg;
    if (outcome == DB_OK)
        log_debug("swept", "rows=%s", PQcmdTuples(res));
    else if (outcome == DB_ERROR)
        log_warn("sweep_failed", "error=%s", log_q(err));
    PQclear(res);
}

void
sweep_run(struct db *db)
{
    /*
     * Senders retry for days (Mastodon about a week): remember ids (and the objects the relay
     * announced) a little longer. Spent or expired link codes and sessions have no use left.
     */
    static const char *const sweeps[] = {
        "DELETE FROM seen_activity_ids WHERE seen_at < now() - interval '14 days'",
        "DELETE FROM relayed_objects WHERE announced_at < now() - interval '14 days'",
        "DELETE FROM link_codes WHERE expires_at < now() - interval '1 day'",
        "DELETE FROM sessions WHERE expires_at < now()",
        /* A stranger helped more than a day ago may be helped again: the row has no use. */
        "DELETE FROM stranger_replies WHERE replied_at <= now() - interval '1 day'",
    };

    for (size_t i = 0; i < sizeof(sweeps) / sizeof(sweeps[0]); i++)
        db_query(db, sweeps[i], 0, NULL, sweep_done_cb, NULL);
}
