/* passerelle admin: claims as the admin sees them: refused challenges, holds by reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "admin_internal.h"
#include "config.h"
#include "log.h"
#include "texts.h"
#include "xmalloc.h"

/* The reports naming the member: resolved when filed, or by its acct for older ones. */
#define ADMIN_CLAIMS_REPORTS                                                                       \
    " FROM reports r WHERE r.decided_at IS NULL AND (r.target_member_id = m.id"                    \
    "  OR (r.target_member_id IS NULL AND lower(r.target) = lower(m.acct)))"

void
admin_claims_list(struct admin_ctx *c, const char *state)
{
    /* Refused claims of the last 30 days, by the holder's state when --state is given. */
    static const char sql_refused[] =
        "SELECT l.x_id, coalesce(l.member_id::text, '-'), coalesce(c.acct, c.actor_uri, '-'),"
        " coalesce(l.incumbent_id::text, '-'), coalesce(i.acct, i.actor_uri, '-'),"
        " to_char(l.created_at AT TIME ZONE 'UTC', $2)"
        " FROM claim_log l LEFT JOIN members c ON c.id = l.member_id"
        " LEFT JOIN members i ON i.id = l.incumbent_id"
        " WHERE l.outcome = 'refused' AND l.created_at > now() - interval '30 days'"
        "  AND ($1::text IS NULL OR i.state = $1) ORDER BY l.id";
    static const char sql_held[] =
        "SELECT m.id, coalesce(m.acct, m.actor_uri), to_char(m.reports_held_at AT TIME ZONE 'UTC',"
        " $2), (SELECT count(*)" ADMIN_CLAIMS_REPORTS "),"
        " (SELECT count(DISTINCT r.member_id)" ADMIN_CLAIMS_REPORTS ")"
        " FROM members m WHERE m.reports_held_at IS NOT NULL AND ($1::text IS NULL OR state = $1)"
        " ORDER BY m.id";
    const char *params[2] = { state, ADMIN_ISO };
    char err[256], a[512], b[512];
    PGresult *res;

    /* The list itself is printed: what follows is a note, its failure only said. */
    if ((res = admin_sql_exec(c->pg, sql_refused, 2, params, err, sizeof(err))) != NULL) {
        for (int i = 0; i < PQntuples(res); i++)
            printf("refused claim of X id %s by member %s (%s) against member %s (%s), %s\n",
                   PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                   admin_sql_safe(PQgetvalue(res, i, 2), a, sizeof(a)), PQgetvalue(res, i, 3),
                   admin_sql_safe(PQgetvalue(res, i, 4), b, sizeof(b)), PQgetvalue(res, i, 5));
        PQclear(res);
    } else {
        fprintf(stderr, "passerelle admin: refused claims: %s\n", err);
    }
    if ((res = admin_sql_exec(c->pg, sql_held, 2, params, err, sizeof(err))) != NULL) {
        for (int i = 0; i < PQntuples(res); i++)
            printf("held by reports: member %s (%s) since %s, %s open reports from %s members\n",
                   PQgetvalue(res, i, 0), admin_sql_safe(PQgetvalue(res, i, 1), a, sizeof(a)),
                   PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
        PQclear(res);
    } else {
        fprintf(stderr, "passerelle admin: members held by reports: %s\n", err);
    }
}

void
admin_claims_show(struct admin_ctx *c, const char *member_id)
{
    static const char sql[] =
        "SELECT CASE WHEN m.x_verified_at IS NULL THEN 'no'"
        "  ELSE 'yes, ' || to_char(m.x_verified_at AT TIME ZONE 'UTC', $2) END,"
        " CASE WHEN m.reports_held_at IS NULL THEN 'no' ELSE 'yes' END || ', '"
        "  || (SELECT count(*)" ADMIN_CLAIMS_REPORTS ") || ' open reports from '"
        "  || (SELECT count(DISTINCT r.member_id)" ADMIN_CLAIMS_REPORTS ") || ' members',"
        " (SELECT count(*) FROM claim_log l WHERE l.incumbent_id = m.id AND l.outcome = 'refused')"
        " FROM members m WHERE m.id = $1::bigint";
    static const char *const labels[] = { "x_verified:", "held_by_reports:",
                                          "refused_challenges:" };
    const char *params[2] = { member_id, ADMIN_ISO };
    char err[256];
    PGresult *res = admin_sql_exec(c->pg, sql, 2, params, err, sizeof(err));

    if (res == NULL || PQntuples(res) != 1) {
        fprintf(stderr, "passerelle admin: claims: %s\n", res == NULL ? err : "no row");
        PQclear(res);
        return;
    }
    for (int j = 0; j < 3; j++)
        printf("%-20s%s\n", labels[j], PQgetvalue(res, 0, j));
    PQclear(res);
}

/* What the bridge tells a member whose claim an admin dropped after reports. */
static char *
admin_claims_dropped_text(const struct config *cfg, const char *lang, const char *handle)
{
    char *dropped = texts_format(lang, "admin.claim_dropped", "handle", handle, NULL), *contact,
         *text;

    if (cfg->admin_contact == NULL || cfg->admin_contact[0] == '\0')
        return dropped;
    contact = texts_format(lang, "admin.suspended_contact", "contact", cfg->admin_contact, NULL);
    text = xasprintf("%s %s", dropped, contact);
    free(dropped);
    free(contact);
    return text;
}

/* 1: the admin confirms the reports (the claim goes); 0: clears them (the hold goes). */
static int
admin_claims_decide(struct admin_ctx *c, const struct admin_req *r, int confirm, char *err,
                    size_t errlen)
{
    /* $2 is the decision. The reports close either way, and the member is matched again. */
    static const char sql_close[] =
        "WITH m AS (SELECT id, acct FROM members WHERE id = $1::bigint),"
        " d AS (UPDATE reports r SET decided_at = now(), decision = $2 FROM m"
        "  WHERE r.decided_at IS NULL AND (r.target_member_id = m.id"
        "   OR (r.target_member_id IS NULL AND lower(r.target) = lower(m.acct))) RETURNING 1)"
        " UPDATE members SET reports_held_at = NULL, match_due_at = now(), updated_at = now()"
        " WHERE id = $1::bigint RETURNING (SELECT count(*) FROM d)";
    /* Confirmed: the claim goes, with its archive's rows (found through the X id it held). */
    static const char sql_drop[] =
        "WITH m AS (SELECT id, x_id, x_handle FROM members WHERE id = $1::bigint),"
        " e AS (DELETE FROM x_edges x USING m WHERE x.member_id = m.id"
        "  AND (x.follower_x_id = m.x_id OR x.followee_x_id = m.x_id) RETURNING 1),"
        " k AS (DELETE FROM x_claims WHERE member_id = $1::bigint RETURNING 1)"
        " UPDATE members SET x_id = NULL, x_handle = NULL, x_verified_at = NULL, linked_at = NULL,"
        "  state = CASE WHEN state = 'suspended' THEN 'suspended' ELSE 'joined' END"
        " WHERE id = $1::bigint"
        " RETURNING (SELECT x_id FROM m), (SELECT x_handle FROM m), (SELECT count(*) FROM e)";
    PGresult *who, *closed = NULL, *dropped = NULL;
    const char *params[2];
    char label[600], *text = NULL;
    long queued = 0;
    int rc;

    who = admin_who(c, r, 1, label, sizeof(label), &rc, err, errlen);
    if (who == NULL)
        return rc;
    params[0] = PQgetvalue(who, 0, ADMIN_WHO_ID);
    params[1] = confirm ? "confirmed" : "cleared";
    if ((closed = admin_sql_exec(c->pg, sql_close, 2, params, err, errlen)) == NULL)
        goto out;
    if (confirm) {
        if ((dropped = admin_sql_exec(c->pg, sql_drop, 1, params, err, errlen)) == NULL)
            goto out;
        if (!PQgetisnull(dropped, 0, 1)) {
            text = admin_claims_dropped_text(c->cfg, PQgetvalue(who, 0, ADMIN_WHO_LANG),
                                             PQgetvalue(dropped, 0, 1));
            if (admin_who_tell(c, who, text, &queued, err, errlen) < 0)
                goto out;
        }
    }
    if (admin_sql_run(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    log_info("admin_member_reports", "member=%s decision=%s reports=%s", params[0], params[1],
             PQgetvalue(closed, 0, 0));
    printf("%s: %s open report(s) %s; not held by reports\n", label, PQgetvalue(closed, 0, 0),
           params[1]);
    if (confirm && !PQgetisnull(dropped, 0, 0))
        printf("its claim of X id %s dropped, with %s X edge(s) of its archive; %s\n",
               PQgetvalue(dropped, 0, 0), PQgetvalue(dropped, 0, 2),
               queued > 0 ? "message queued to its inbox" : "no message queued");
    else if (confirm)
        printf("it claimed no X id\n");
    rc = 0;
out:
    PQclear(who);
    PQclear(closed);
    PQclear(dropped);
    free(text);
    return rc;
}

int
admin_claims_clear(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    return admin_claims_decide(c, r, 0, err, errlen);
}

int
admin_claims_confirm(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    return admin_claims_decide(c, r, 1, err, errlen);
}
