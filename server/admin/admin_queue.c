/* passerelle queue: the operator's report of the delivery queue (blocking libpq, never on the
 * loop). */
#include <stdio.h>

#include <libpq-fe.h>

#include "admin_queue.h"
#include "log.h"

int
admin_queue_report(const char *conninfo, FILE *out, char *err, size_t errlen)
{
    static const char *const sqls[3] = {
        "SELECT host, state, count(*), count(*) FILTER (WHERE claimed_until > now()),"
        " coalesce(to_char(min(next_attempt_at) FILTER (WHERE state = 'pending')"
        "  AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'),"
        " max(attempts)"
        " FROM deliveries GROUP BY host, state ORDER BY count(*) DESC, host, state",
        "SELECT domain, to_char(paused_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " consecutive_failures FROM instances WHERE paused_until > now() AND NOT dead"
        " ORDER BY domain",
        "SELECT domain, failure_days,"
        " coalesce(to_char(last_failure_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " '-'), coalesce(to_char(last_success_at AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-')"
        " FROM instances WHERE dead ORDER BY domain",
    };
    static const char *const titles[3] = {
        "deliveries by host and state (host state rows claimed next_attempt max_attempts)",
        "paused hosts (host paused_until consecutive_failures)",
        "dead hosts (host failure_days last_failure last_success)",
    };
    PGconn *pg = PQconnectdb(conninfo);
    int rc = 0;

    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "connect: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return -1;
    }
    for (int s = 0; s < 3 && rc == 0; s++) {
        PGresult *res = PQexecParams(pg, sqls[s], 0, NULL, NULL, NULL, NULL, 0);

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "query: %s", PQresultErrorMessage(res));
            rc = -1;
        } else {
            fprintf(out, "%s%s: %d\n", s > 0 ? "\n" : "", titles[s], PQntuples(res));
            for (int r = 0; r < PQntuples(res); r++) {
                char buf[300];

                /* Hosts came from the network once: escape before they reach a terminal. */
                fprintf(out, "  %s", log_escape(buf, sizeof(buf), PQgetvalue(res, r, 0)));
                for (int c = 1; c < PQnfields(res); c++)
                    fprintf(out, " %s", PQgetvalue(res, r, c));
                fprintf(out, "\n");
            }
        }
        PQclear(res);
    }
    PQfinish(pg);
    return rc;
}
