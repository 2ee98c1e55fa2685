/* What the files of server/admin/ share: a command's words, its context, SQL and printing. */
#ifndef PASSERELLE_ADMIN_INTERNAL_H
#define PASSERELLE_ADMIN_INTERNAL_H

#include <stddef.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "config.h"
#include "policy.h"

/* to_char's format for the times printed (in UTC): ISO 8601. */
#define ADMIN_ISO "YYYY-MM-DD\"T\"HH24:MI:SS\"Z\""
/* A run's answer when it refused and changed nothing (no such member...): exit status 2. */
#define ADMIN_REFUSED (-2)

/* What the words of one command amount to, checked before anything is touched. */
struct admin_req {
    char domain[POLICY_DOMAIN_MAX];
    int all;
    char *text;
    /* A member: WHO as typed, and the one form it has (the other two NULL). */
    const char *who, *who_id, *who_url, *who_acct;
    const char *state; /* members list --state */
    int yes;           /* members delete --yes */
};

/* Where an action runs: the configuration, the connection and the relay actor's ids. */
struct admin_ctx {
    const struct config *cfg;
    PGconn *pg;
    char *relay_id;
    char *followers;
};

/*
 * admin_sql.c: blocking statements for the command line, and printing what came from the
 * network safely.
 */

/* Runs one statement; NULL (result cleared, err set) unless it succeeded. */
PGresult *admin_sql_exec(PGconn *pg, const char *sql, int nparams, const char *const *params,
                         char *err, size_t errlen);
/* A statement whose result is not needed. */
int admin_sql_run(PGconn *pg, const char *sql, int nparams, const char *const *params, char *err,
                  size_t errlen);
/*
 * Queues act, signed by signer ("relay" or "bridge"), to inboxes inside the open
 * transaction; *queued gets the rows made (dead hosts, and blocked ones unless flags say
 * otherwise, get none).
 */
int admin_sql_enqueue(PGconn *pg, const char *signer, struct json_object *act,
                      const char *const *inboxes, size_t n, int flags, long *queued, char *err,
                      size_t errlen);
/* s plain when it is one printable ASCII word, else quoted and escaped into buf. */
const char *admin_sql_safe(const char *s, char *buf, size_t len);
/*
 * Prints res under head as aligned columns, each line after indent. The columns whose bit
 * is set in from_network go through admin_sql_safe; SQL NULL prints as "-".
 */
void admin_sql_table(PGresult *res, const char *const *head, int ncol, unsigned from_network,
                     const char *indent);

/*
 * The commands. Each returns 0 done, -1 on a runtime or database error (exit 1), or
 * ADMIN_REFUSED (exit 2); err says why.
 */

/* admin_instances.c: instances list|allow|block|unblock, and notice. */
int admin_instances_list(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
int admin_instances_allow(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
int admin_instances_block(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
int admin_instances_unblock(struct admin_ctx *c, const struct admin_req *r, char *err,
                            size_t errlen);
int admin_instances_notice(struct admin_ctx *c, const struct admin_req *r, char *err,
                           size_t errlen);

/* admin_who.c: the member a WHO names, and telling them. Columns of the row admin_who returns. */
enum {
    ADMIN_WHO_ID,
    ADMIN_WHO_NAME,
    ADMIN_WHO_STATE,
    ADMIN_WHO_ACTOR,
    ADMIN_WHO_ACCT,
    ADMIN_WHO_INBOX,
    ADMIN_WHO_LANG
};

/*
 * Opens the command's transaction and finds in it the one member r's WHO names: a one-row
 * result (ADMIN_WHO_* columns) and its label. With lock the row is locked until the end of
 * the transaction; without, the transaction is a read-only snapshot. NULL with err set and
 * *rc the run's answer: -1 on a database error, ADMIN_REFUSED when no member or several
 * match. On success *rc is -1 too, the answer to any later failure.
 */
PGresult *admin_who(struct admin_ctx *c, const struct admin_req *r, int lock, char *label,
                    size_t labellen, int *rc, char *err, size_t errlen);

/*
 * Queues text as a direct message from the bridge account to the member who (a row of
 * admin_who) inside the open transaction; nothing without an inbox. *queued gets
 * the rows made.
 */
int admin_who_tell(struct admin_ctx *c, PGresult *who, const char *text, long *queued, char *err,
                   size_t errlen);

/* admin_members.c: members list|show|block|unblock|delete. */
int admin_members_list(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
int admin_members_show(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
int admin_members_block(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
int admin_members_unblock(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
int admin_members_delete(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);

/*
 * admin_claims.c: members clear-reports|confirm-reports, and what list and show add: the
 * refused claims of the last 30 days and the members held by reports (list, lines after the
 * table; state as --state), and a member's verification, hold and refused challenges (show).
 */
int admin_claims_clear(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
int admin_claims_confirm(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
void admin_claims_list(struct admin_ctx *c, const char *state);
void admin_claims_show(struct admin_ctx *c, const char *member_id);

#endif
