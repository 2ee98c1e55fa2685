/* passerelle admin members list|show|block|unblock|delete: one member at a time, by WHO. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "admin_internal.h"
#include "config.h"
#include "log.h"
#include "texts.h"
#include "xmalloc.h"

/*
 * The other members claiming an X id this member claims (by its binding or by an archive's
 * claim), and for each the number of members it still competes with once this one is gone.
 */
static const char sql_rivals[] =
    "WITH mine AS (SELECT x_id FROM x_claims WHERE member_id = $1::bigint"
    "  UNION SELECT x_id FROM members WHERE id = $1::bigint AND x_id IS NOT NULL),"
    " c AS (SELECT DISTINCT mine.x_id, k.id FROM mine, LATERAL"
    "  (SELECT member_id AS id FROM x_claims WHERE x_id = mine.x_id"
    "   UNION SELECT id FROM members WHERE x_id = mine.x_id) k WHERE k.id <> $1::bigint)"
    " SELECT o.id, coalesce(o.acct, o.actor_uri), o.state,"
    "  string_agg(c.x_id::text, ' ' ORDER BY c.x_id),"
    "  (SELECT count(DISTINCT p.id) FROM"
    "   (SELECT x_id FROM x_claims WHERE member_id = o.id UNION SELECT o.x_id) ox, LATERAL"
    "   (SELECT member_id AS id FROM x_claims WHERE x_id = ox.x_id"
    "    UNION SELECT id FROM members WHERE x_id = ox.x_id) p"
    "   WHERE p.id NOT IN (o.id, $1::bigint))"
    " FROM c JOIN members o ON o.id = c.id GROUP BY o.id ORDER BY o.id";
enum { ADMIN_RIVAL_ID, ADMIN_RIVAL_NAME, ADMIN_RIVAL_STATE, ADMIN_RIVAL_X, ADMIN_RIVAL_OTHERS };

int
admin_members_list(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT id, coalesce(acct, actor_uri), state, x_handle,"
        " CASE WHEN paused THEN 'yes' ELSE 'no' END,"
        " CASE WHEN findable THEN 'F' ELSE '-' END || CASE WHEN autofollow THEN 'A' ELSE '-' END"
        " || CASE WHEN notify THEN 'N' ELSE '-' END || CASE WHEN relay THEN 'R' ELSE '-' END,"
        /* The bridge account's follow of the member, by which it hears their Move. */
        " bridge_follow_state, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        " FROM members WHERE $1::text IS NULL OR state = $1 ORDER BY id";
    static const char *const head[] = { "ID",     "ACCT",     "STATE",         "X_HANDLE",
                                        "PAUSED", "CONSENTS", "BRIDGE_FOLLOW", "JOINED" };
    const char *params[1] = { r->state };
    PGresult *res = admin_sql_exec(c->pg, sql, 1, params, err, errlen);

    if (res == NULL)
        return -1;
    admin_sql_table(res, head, (int)(sizeof(head) / sizeof(head[0])), 1u << 1 | 1u << 3, "");
    PQclear(res);
    admin_claims_list(c, r->state);
    return 0;
}

/* One "label: value" line of members show; from_network values go through admin_safe. */
static void
admin_members_field(const char *label, const char *value, int from_network)
{
    char buf[1024];

    printf("%-16s%s\n", label, from_network ? admin_sql_safe(value, buf, sizeof(buf)) : value);
}

int
admin_members_show(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    /* $2 is ADMIN_ISO. */
    static const char sql_member[] =
        "SELECT actor_uri, coalesce(acct, '-'), coalesce(inbox, '-'), state,"
        " coalesce(x_id::text, '-'), coalesce(x_handle, '-'),"
        " coalesce(to_char(linked_at AT TIME ZONE 'UTC', $2), '-'),"
        " to_char(created_at AT TIME ZONE 'UTC', $2), lang,"
        " CASE WHEN paused THEN 'yes' ELSE 'no' END,"
        " 'findable ' || CASE WHEN findable THEN 'yes' ELSE 'no' END"
        "  || ', autofollow ' || CASE WHEN autofollow THEN 'yes' ELSE 'no' END"
        "  || ', notify ' || CASE WHEN notify THEN 'yes' ELSE 'no' END"
        "  || ', relay ' || CASE WHEN relay THEN 'yes' ELSE 'no' END,"
        " relay_follow_state, bridge_follow_state,"
        " coalesce(to_char(delete_requested_at AT TIME ZONE 'UTC', $2), '-'),"
        " (SELECT count(*) FROM sessions WHERE member_id = m.id AND expires_at > now())"
        "  || ' open',"
        " (SELECT count(*) FROM link_codes WHERE member_id = m.id AND used_at IS NULL"
        "  AND expires_at > now()) || ' unused',"
        " CASE WHEN EXISTS (SELECT 1 FROM oauth_grants WHERE member_id = m.id)"
        "  THEN 'yes' ELSE 'no' END,"
        " (SELECT count(*) FROM follow_actions WHERE follower_id = m.id) || ' in its name, '"
        "  || (SELECT count(*) FROM follow_actions WHERE followee_id = m.id) || ' toward it',"
        " (SELECT count(*) FROM reports WHERE lower(target) = lower(m.acct)) || ' naming its acct',"
        /* What its own archive said (another's may list the same pairs). */
        " (SELECT count(*) FROM x_edges WHERE followee_x_id = m.x_id AND member_id = m.id)"
        "  || ' followers, ' || (SELECT count(*) FROM x_edges WHERE follower_x_id = m.x_id"
        "  AND member_id = m.id) || ' following',"
        " coalesce((SELECT string_agg(x_id::text, ' ' ORDER BY x_id) FROM x_claims"
        "  WHERE member_id = m.id), 'none')"
        " FROM members m WHERE id = $1::bigint";
    /* The labels of sql_member's columns, in order; a leading '!' marks network text. */
    static const char *const labels[] = {
        "!actor:",     "!acct:",        "!inbox:",         "state:",         "x_id:",
        "!x_handle:",  "linked_at:",    "joined_at:",      "language:",      "paused:",
        "consents:",   "relay_follow:", "bridge_follow:",  "delete_asked:",  "sessions:",
        "link_codes:", "oauth_grant:",  "follow_actions:", "reports_about:", "x_edges:",
        "claims:",
    };
    static const char sql_reports[] =
        "SELECT to_char(created_at AT TIME ZONE 'UTC', $2), target FROM reports"
        " WHERE member_id = $1::bigint ORDER BY created_at, id";
    static const char sql_ledger[] =
        "SELECT to_char(created_at AT TIME ZONE 'UTC', $2), consent,"
        " CASE WHEN value THEN 'yes' ELSE 'no' END, source, host(client_addr)"
        " FROM consent_ledger WHERE member_id = $1::bigint ORDER BY created_at, id";
    static const char *const rival_head[] = { "ID", "ACCT", "STATE", "X_ID", "OTHER_RIVALS" };
    static const char *const report_head[] = { "FILED", "TARGET" };
    static const char *const ledger_head[] = { "TIME", "CONSENT", "VALUE", "SOURCE", "CLIENT" };
    PGresult *who, *res[4] = { NULL, NULL, NULL, NULL };
    const char *params[2] = { NULL, ADMIN_ISO };
    char label[600];
    int rc;

    /* One snapshot, so the counts and lists agree with each other. */
    who = admin_who(c, r, 0, label, sizeof(label), &rc, err, errlen);
    if (who == NULL)
        return rc;
    params[0] = PQgetvalue(who, 0, ADMIN_WHO_ID);
    if ((res[0] = admin_sql_exec(c->pg, sql_member, 2, params, err, errlen)) == NULL ||
        (res[1] = admin_sql_exec(c->pg, sql_rivals, 1, params, err, errlen)) == NULL ||
        (res[2] = admin_sql_exec(c->pg, sql_reports, 2, params, err, errlen)) == NULL ||
        (res[3] = admin_sql_exec(c->pg, sql_ledger, 2, params, err, errlen)) == NULL ||
        admin_sql_run(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    admin_members_field("id:", params[0], 0);
    for (int j = 0; j < (int)(sizeof(labels) / sizeof(labels[0])); j++)
        admin_members_field(labels[j] + (labels[j][0] == '!'), PQgetvalue(res[0], 0, j),
                            labels[j][0] == '!');
    admin_claims_show(c, params[0]);
    printf("competing:      %d other member%s\n", PQntuples(res[1]),
           PQntuples(res[1]) == 1 ? "" : "s");
    if (PQntuples(res[1]) > 0)
        admin_sql_table(res[1], rival_head, 5, 1u << ADMIN_RIVAL_NAME, "  ");
    printf("reports_filed:  %d\n", PQntuples(res[2]));
    if (PQntuples(res[2]) > 0)
        admin_sql_table(res[2], report_head, 2, 1u << 1, "  ");
    printf("consent_ledger: %d line%s, newest last\n", PQntuples(res[3]),
           PQntuples(res[3]) == 1 ? "" : "s");
    if (PQntuples(res[3]) > 0)
        admin_sql_table(res[3], ledger_head, 5, 0, "  ");
    rc = 0;
out:
    PQclear(who);
    for (int i = 0; i < 4; i++)
        PQclear(res[i]);
    return rc;
}

/* What the bridge tells a member the admin suspended, in the member's language. */
static char *
admin_members_suspended_text(const struct config *cfg, const char *lang)
{
    char *contact, *text;

    if (cfg->admin_contact == NULL || cfg->admin_contact[0] == '\0')
        return xstrdup(texts_get(lang, "admin.suspended"));
    contact = texts_format(lang, "admin.suspended_contact", "contact", cfg->admin_contact, NULL);
    text = xasprintf("%s %s", texts_get(lang, "admin.suspended"), contact);
    free(contact);
    return text;
}

int
admin_members_block(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    /* The page's sessions would otherwise outlive the block until they expire. */
    static const char sql[] =
        "WITH m AS (UPDATE members SET state = 'suspended', match_due_at = now(),"
        "  updated_at = now() WHERE id = $1::bigint RETURNING id),"
        " s AS (DELETE FROM sessions WHERE member_id = $1::bigint RETURNING 1),"
        " k AS (DELETE FROM link_codes WHERE member_id = $1::bigint AND used_at IS NULL"
        "  RETURNING 1)"
        " SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM k)";
    PGresult *who, *res = NULL;
    const char *params[1];
    char label[600], *text = NULL;
    long queued = 0;
    int rc;

    who = admin_who(c, r, 1, label, sizeof(label), &rc, err, errlen);
    if (who == NULL)
        return rc;
    if (strcmp(PQgetvalue(who, 0, ADMIN_WHO_STATE), "suspended") == 0) {
        rc = admin_sql_run(c->pg, "COMMIT", 0, NULL, err, errlen);
        if (rc == 0)
            printf("%s is already suspended; nothing changed\n", label);
        goto out;
    }
    params[0] = PQgetvalue(who, 0, ADMIN_WHO_ID);
    res = admin_sql_exec(c->pg, sql, 1, params, err, errlen);
    if (res == NULL)
        goto out;
    text = admin_members_suspended_text(c->cfg, PQgetvalue(who, 0, ADMIN_WHO_LANG));
    if (admin_who_tell(c, who, text, &queued, err, errlen) < 0 ||
        admin_sql_run(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    log_info("admin_member_block", "member=%s was=%s sessions=%s codes=%s message_rows=%ld",
             params[0], PQgetvalue(who, 0, ADMIN_WHO_STATE), PQgetvalue(res, 0, 0),
             PQgetvalue(res, 0, 1), queued);
    printf("%s suspended (was %s); deleted: %s session(s), %s unused link code(s)\n", label,
           PQgetvalue(who, 0, ADMIN_WHO_STATE), PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    printf(queued > 0 ? "message queued to its inbox\n"
                      : "no message queued (no inbox known, or its host is dead or blocked)\n");
    rc = 0;
out:
    PQclear(who);
    PQclear(res);
    free(text);
    return rc;
}

int
admin_members_unblock(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql[] = "UPDATE members SET updated_at = now(), match_due_at = now(),"
                              " state = CASE WHEN x_id IS NOT NULL THEN 'linked' ELSE 'joined' END"
                              " WHERE id = $1::bigint AND state = 'suspended' RETURNING state";
    PGresult *who, *res = NULL, *rivals = NULL;
    const char *params[1];
    char label[600], buf[512];
    int rc;

    who = admin_who(c, r, 1, label, sizeof(label), &rc, err, errlen);
    if (who == NULL)
        return rc;
    params[0] = PQgetvalue(who, 0, ADMIN_WHO_ID);
    if ((res = admin_sql_exec(c->pg, sql, 1, params, err, errlen)) == NULL ||
        (rivals = admin_sql_exec(c->pg, sql_rivals, 1, params, err, errlen)) == NULL ||
        admin_sql_run(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    if (PQntuples(res) == 1) {
        log_info("admin_member_unblock", "member=%s now=%s", params[0], PQgetvalue(res, 0, 0));
        printf("%s unblocked: %s\n", label, PQgetvalue(res, 0, 0));
        /* Lifting a suspension settles no dispute: the admin should know of one. */
        for (int i = 0; i < PQntuples(rivals); i++)
            printf("note: member %s (%s, %s) claims X id %s too\n",
                   PQgetvalue(rivals, i, ADMIN_RIVAL_ID),
                   admin_sql_safe(PQgetvalue(rivals, i, ADMIN_RIVAL_NAME), buf, sizeof(buf)),
                   PQgetvalue(rivals, i, ADMIN_RIVAL_STATE), PQgetvalue(rivals, i, ADMIN_RIVAL_X));
    } else {
        printf("%s is not suspended (%s); nothing changed\n", label,
               PQgetvalue(who, 0, ADMIN_WHO_STATE));
    }
    rc = 0;
out:
    PQclear(who);
    PQclear(res);
    PQclear(rivals);
    return rc;
}

/*
 * Prints what deleting the member takes (counts: the row of its sql_counts) and the
 * members left disputed although it was their only rival (a row per rival of sql_rivals).
 */
static void
admin_members_delete_report(const char *label, PGresult *counts, PGresult *rivals, int done)
{
    static const char *const what[] = {
        "X edges of its X id",
        "claims",
        "consent ledger lines",
        "sessions",
        "link codes",
        "OAuth grants",
        "follow actions",
        "messages to it waiting for delivery (dropped)",
        "reports it filed (kept, without author)",
    };
    char buf[512];

    printf("%s %s:\n", label, done ? "deleted, with" : "would be deleted, with");
    for (int j = 0; j < (int)(sizeof(what) / sizeof(what[0])); j++)
        printf("  %-46s %s\n", what[j], PQgetvalue(counts, 0, j));
    for (int i = 0; i < PQntuples(rivals); i++)
        if (strcmp(PQgetvalue(rivals, i, ADMIN_RIVAL_STATE), "disputed") == 0 &&
            strcmp(PQgetvalue(rivals, i, ADMIN_RIVAL_OTHERS), "0") == 0)
            printf("member %s (%s) %s disputed although this member's claim on X id %s was its "
                   "only rival: an admin decides (a new upload of its archive links it)\n",
                   PQgetvalue(rivals, i, ADMIN_RIVAL_ID),
                   admin_sql_safe(PQgetvalue(rivals, i, ADMIN_RIVAL_NAME), buf, sizeof(buf)),
                   done ? "stays" : "would stay", PQgetvalue(rivals, i, ADMIN_RIVAL_X));
}

int
admin_members_delete(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql_counts[] =
        "SELECT (SELECT count(*) FROM x_edges WHERE (follower_x_id = m.x_id"
        "  OR followee_x_id = m.x_id) AND member_id = m.id),"
        " (SELECT count(*) FROM x_claims WHERE member_id = m.id),"
        " (SELECT count(*) FROM consent_ledger WHERE member_id = m.id),"
        " (SELECT count(*) FROM sessions WHERE member_id = m.id),"
        " (SELECT count(*) FROM link_codes WHERE member_id = m.id),"
        " (SELECT count(*) FROM oauth_grants WHERE member_id = m.id),"
        " (SELECT count(*) FROM follow_actions WHERE follower_id = m.id OR followee_id = m.id),"
        " (SELECT count(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id"
        "  WHERE d.inbox = m.inbox AND d.state = 'pending' AND a.signer = 'bridge'),"
        " (SELECT count(*) FROM reports WHERE member_id = m.id)"
        " FROM members m WHERE id = $1::bigint";
    /* Its own inbox only gets the bridge's messages to it: its links among them. */
    static const char sql_drop[] =
        "UPDATE deliveries d SET state = 'dropped', last_error = 'member deleted by admin',"
        " claimed_until = NULL, claimed_by = NULL, updated_at = now()"
        " FROM activities a, members m WHERE m.id = $1::bigint AND d.inbox = m.inbox"
        " AND d.state = 'pending' AND a.id = d.activity_id AND a.signer = 'bridge'";
    /* The rest cascades; the X edges go by trigger (migration 005). */
    static const char sql_forget[] = "DELETE FROM members WHERE id = $1::bigint";
    PGresult *who, *counts = NULL, *rivals = NULL;
    const char *params[1];
    char label[600];
    int rc;

    who = admin_who(c, r, 1, label, sizeof(label), &rc, err, errlen);
    if (who == NULL)
        return rc;
    params[0] = PQgetvalue(who, 0, ADMIN_WHO_ID);
    if ((counts = admin_sql_exec(c->pg, sql_counts, 1, params, err, errlen)) == NULL ||
        (rivals = admin_sql_exec(c->pg, sql_rivals, 1, params, err, errlen)) == NULL)
        goto out;
    if (!r->yes) {
        admin_members_delete_report(label, counts, rivals, 0);
        snprintf(err, errlen, "nothing deleted: add --yes to delete %s", label);
        rc = ADMIN_REFUSED; /* the caller rolls back */
        goto out;
    }
    if (admin_sql_run(c->pg, sql_drop, 1, params, err, errlen) < 0 ||
        admin_sql_run(c->pg, sql_forget, 1, params, err, errlen) < 0 ||
        admin_sql_run(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    log_info("admin_member_delete", "member=%s actor=%s edges=%s", params[0],
             log_q(PQgetvalue(who, 0, ADMIN_WHO_ACTOR)), PQgetvalue(counts, 0, 0));
    admin_members_delete_report(label, counts, rivals, 1);
    rc = 0;
out:
    PQclear(who);
    PQclear(counts);
    PQclear(rivals);
    return rc;
}
