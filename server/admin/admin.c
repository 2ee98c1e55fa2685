/* The operator's command line: passerelle admin instances|members|queue|notice, blocking libpq. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "activity.h"
#include "admin.h"
#include "admin_queue.h"
#include "bridge.h"
#include "config.h"
#include "log.h"
#include "outbox.h"
#include "policy.h"
#include "utf8.h"
#include "xmalloc.h"

#define ADMIN_NOTICE_MAX 5000 /* characters: about ten times a toot, plenty for maintenance */
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

struct admin_cmd {
    const char *group; /* "instances", "members", or NULL for a top-level command */
    const char *name;
    const char *synopsis;
    const char *brief; /* for the list of commands */
    const char *help;
    int needs_pg; /* 0: the action opens its own connection */
    int (*check)(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
    /* 0 done, -1 runtime or database error (exit 1), ADMIN_REFUSED (exit 2); err says why. */
    int (*run)(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
};

static int admin_check_list(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
static int admin_check_domain(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
static int admin_check_none(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
static int admin_check_notice(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
static int admin_list(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_allow(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_block(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_unblock(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_queue(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_notice(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_check_mlist(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
static int admin_check_who(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
static int admin_check_delete(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
static int admin_mlist(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_mshow(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_mblock(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_munblock(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_mdelete(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);

#define ADMIN_WHO_HELP                                                                             \
    "\n\nWHO is a member id, acct:user@host, user@host (or @user@host) or the actor URL.\n"        \
    "A WHO that names no member, or several (accts are compared without case), is\n"               \
    "refused with exit status 2: give the id."

static const struct admin_cmd admin_cmds[] = {
    { "instances", "list", "instances list [--all]", "subscribed, blocked and allowed instances",
      "Lists subscribed, pending, rejected, blocked and allowed instances (--all: every\n"
      "instance known, members' servers and delivery targets too), one per line under a\n"
      "header: domain, relay_state, style, blocked, allowed, dead, consecutive failures,\n"
      "last successful delivery (UTC).",
      1, admin_check_list, admin_list },
    { "instances", "allow", "instances allow DOMAIN", "allow; accepts a pending subscription",
      "Marks DOMAIN allowed (and not blocked). If it followed the relay while relay_mode\n"
      "is allowlist, its subscription is accepted now: an Accept is queued to it (LitePub\n"
      "relays are also followed back).",
      1, admin_check_domain, admin_allow },
    { "instances", "block", "instances block DOMAIN",
      "block; rejects its subscription, drops its deliveries",
      "Blocks DOMAIN: a subscription it has is rejected (a Reject is queued to it, the\n"
      "only thing it will still receive) and its pending deliveries are dropped. An\n"
      "unknown DOMAIN is blocked before it ever knocks.",
      1, admin_check_domain, admin_block },
    { "instances", "unblock", "instances unblock DOMAIN", "lift a block",
      "Lifts the block on DOMAIN. It is not resubscribed: it must follow the relay again.", 1,
      admin_check_domain, admin_unblock },
    { NULL, "queue", "queue", "delivery queue depth, paused and dead hosts",
      "Shows the delivery queue: rows by host and state, paused hosts, dead hosts.", 0,
      admin_check_none, admin_queue },
    { NULL, "notice", "notice TEXT...", "a public note from the relay to every subscriber",
      "Sends TEXT (the words joined by spaces, at most 5000 characters) as a public note\n"
      "from the relay actor to every subscribed instance. Put -- before text that starts\n"
      "with -c or -h.",
      1, admin_check_notice, admin_notice },
    { "members", "list", "members list [--state STATE]", "members: state, X handle, consents",
      "Lists members, one per line under a header: id, acct (the actor URL when no acct is\n"
      "known), state, X handle, paused, consents, date joined (UTC). --state STATE lists\n"
      "only joined, linked, disputed or suspended members.\n\n"
      "CONSENTS has four places, the letter when the consent is given and - when not:\n"
      "F findable, A autofollow, N notify, R relay. F-N- is where a new member starts.",
      1, admin_check_mlist, admin_mlist },
    { "members", "show", "members show WHO", "everything about one member",
      "Shows one member: actor, acct, inbox, state, X id and handle, when linked and\n"
      "joined, consents, paused, the X edges stored for its X id (followers, following),\n"
      "its claims and the other members claiming the same X id, open sessions, unused\n"
      "link codes, OAuth grant, follow actions, reports it filed and reports naming it,\n"
      "and its consent ledger, newest last. Link codes and tokens are never shown (only\n"
      "their hashes, or sealed copies, are stored)." ADMIN_WHO_HELP,
      1, admin_check_who, admin_mshow },
    { "members", "block", "members block WHO", "suspend a member, end its sessions, tell it",
      "Suspends WHO: its archives are refused and matching ignores it. Its link page\n"
      "sessions and unused one-time links are deleted, and the bridge account sends it a\n"
      "direct message saying the admin suspended it. A suspended member is left as it\n"
      "is." ADMIN_WHO_HELP,
      1, admin_check_who, admin_mblock },
    { "members", "unblock", "members unblock WHO", "lift a suspension",
      "Lifts WHO's suspension: linked again if it has an X id, joined otherwise. Nothing\n"
      "is sent; it asks the bridge for a new link (\"link\") to use the page again. A\n"
      "member that is not suspended is left as it is." ADMIN_WHO_HELP,
      1, admin_check_who, admin_munblock },
    { "members", "delete", "members delete WHO --yes", "forget a member and its X edges",
      "Forgets WHO in one transaction: the X edges stored for its X id, its claims,\n"
      "consent ledger, link codes, sessions, OAuth grant and follow actions, and the\n"
      "bridge's messages to it still waiting for delivery. Reports it filed are kept,\n"
      "without their author. A member that stays disputed although WHO's claim was its\n"
      "only rival is named on a line of its own: an admin decides (a new upload of its\n"
      "archive links it). Without --yes: prints what would be deleted, changes nothing\n"
      "and exits 2." ADMIN_WHO_HELP,
      1, admin_check_delete, admin_mdelete },
};

#define ADMIN_NCMDS (sizeof(admin_cmds) / sizeof(admin_cmds[0]))

static void
admin_usage(FILE *f, const char *group)
{
    fprintf(f, "usage: passerelle admin [-c FILE] %s%s<command> ...\n\ncommands:\n",
            group != NULL ? group : "", group != NULL ? " " : "");
    for (size_t i = 0; i < ADMIN_NCMDS; i++)
        if (group == NULL || (admin_cmds[i].group && strcmp(admin_cmds[i].group, group) == 0))
            fprintf(f, "  %-30s %s\n", admin_cmds[i].synopsis, admin_cmds[i].brief);
    fprintf(f, "\noptions:\n  -c, --config FILE   configuration file (key = value)\n"
               "  -h, --help          help (after a command: that command's help)\n\n"
               "Exit status: 0 done, 1 runtime or database error, 2 usage error or unknown\n"
               "member (nothing changed).\n");
}

static void
admin_usage_cmd(const struct admin_cmd *cmd)
{
    printf("usage: passerelle admin [-c FILE] %s\n\n%s\n", cmd->synopsis, cmd->help);
}

static int
admin_check_list(struct admin_req *r, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--all") != 0) {
            snprintf(err, errlen, "unexpected argument \"%s\"", argv[i]);
            return -1;
        }
        r->all = 1;
    }
    return 0;
}

static int
admin_check_domain(struct admin_req *r, int argc, char **argv, char *err, size_t errlen)
{
    char why[128];

    if (argc != 1) {
        snprintf(err, errlen, argc == 0 ? "a DOMAIN is required" : "one DOMAIN only");
        return -1;
    }
    if (argv[0][0] == '-') {
        snprintf(err, errlen, "unknown option \"%s\"", argv[0]);
        return -1;
    }
    if (policy_domain_normalize(argv[0], r->domain, sizeof(r->domain), why, sizeof(why)) < 0) {
        snprintf(err, errlen, "bad domain \"%s\": %s", argv[0], why);
        return -1;
    }
    return 0;
}

static int
admin_check_none(struct admin_req *r, int argc, char **argv, char *err, size_t errlen)
{
    (void)r;
    if (argc > 0) {
        snprintf(err, errlen, "unexpected argument \"%s\"", argv[0]);
        return -1;
    }
    return 0;
}

static int
admin_check_notice(struct admin_req *r, int argc, char **argv, char *err, size_t errlen)
{
    size_t len = 0;
    long chars;
    int blank = 1;

    char *o;

    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    o = r->text = xmalloc(len + 1);
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]);

        if (i > 0)
            *o++ = ' ';
        memcpy(o, argv[i], l);
        o += l;
    }
    *o = '\0';
    for (const char *p = r->text; *p != '\0' && blank; p++)
        blank = isspace((unsigned char)*p) != 0;
    chars = utf8_count(r->text, strlen(r->text)); /* invalid UTF-8: peers would choke */
    if (blank)
        snprintf(err, errlen, "the notice TEXT is empty");
    else if (chars < 0)
        snprintf(err, errlen, "the notice TEXT is not valid UTF-8");
    else if (chars > ADMIN_NOTICE_MAX)
        snprintf(err, errlen, "the notice TEXT has %ld characters; the limit is %d", chars,
                 ADMIN_NOTICE_MAX);
    else
        return 0;
    return -1;
}

static int
admin_check_mlist(struct admin_req *r, int argc, char **argv, char *err, size_t errlen)
{
    static const char *const states[] = { "joined", "linked", "disputed", "suspended" };

    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        int known = 0;

        if (strncmp(argv[i], "--state=", 8) == 0)
            v = argv[i] + 8;
        else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strcmp(argv[i], "--state") == 0) {
            snprintf(err, errlen, "--state needs a STATE");
            return -1;
        } else {
            snprintf(err, errlen, "unexpected argument \"%s\"", argv[i]);
            return -1;
        }
        for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++)
            known |= strcmp(v, states[k]) == 0;
        if (!known) {
            snprintf(err, errlen, "unknown state \"%s\" (joined, linked, disputed or suspended)",
                     v);
            return -1;
        }
        r->state = v;
    }
    return 0;
}

/* Sorts WHO into its one form; the database is asked later (admin_who). */
static int
admin_parse_who(struct admin_req *r, const char *who, char *err, size_t errlen)
{
    size_t digits = strspn(who, "0123456789");
    const char *acct = who, *at;

    r->who = who;
    if (digits > 0 && digits <= 18 && who[digits] == '\0') {
        r->who_id = who;
        return 0;
    }
    if (strncasecmp(who, "https://", 8) == 0 || strncasecmp(who, "http://", 7) == 0) {
        r->who_url = who;
        return 0;
    }
    if (strncasecmp(acct, "acct:", 5) == 0)
        acct += 5;
    if (*acct == '@')
        acct++;
    at = strchr(acct, '@');
    if (at != NULL && at > acct && at[1] != '\0' && strchr(at + 1, '@') == NULL) {
        int plain = 1;

        for (const char *p = acct; *p != '\0'; p++)
            plain &= *p > ' ' && *p < 0x7f;
        if (plain) {
            r->who_acct = acct;
            return 0;
        }
    }
    snprintf(err, errlen,
             "WHO \"%s\" is not a member id, acct:user@host, user@host or an actor URL", who);
    return -1;
}

static int
admin_check_who(struct admin_req *r, int argc, char **argv, char *err, size_t errlen)
{
    if (argc != 1) {
        snprintf(err, errlen, argc == 0 ? "a WHO is required" : "one WHO only");
        return -1;
    }
    if (argv[0][0] == '-') {
        snprintf(err, errlen, "unknown option \"%s\"", argv[0]);
        return -1;
    }
    return admin_parse_who(r, argv[0], err, errlen);
}

static int
admin_check_delete(struct admin_req *r, int argc, char **argv, char *err, size_t errlen)
{
    char *rest[2];
    int n = 0;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--yes") == 0)
            r->yes = 1;
        else if (n < 2)
            rest[n++] = argv[i];
        else
            n = 3;
    }
    return admin_check_who(r, n > 2 ? 2 : n, rest, err, errlen);
}

/* Runs one statement; NULL (result cleared, err set) unless it succeeded. */
static PGresult *
admin_exec(PGconn *pg, const char *sql, int nparams, const char *const *params, char *err,
           size_t errlen)
{
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    snprintf(err, errlen, "database: %s", PQresultErrorMessage(res));
    err[strcspn(err, "\n")] = '\0';
    PQclear(res);
    return NULL;
}

/* A statement whose result is not needed. */
static int
admin_run_sql(PGconn *pg, const char *sql, int nparams, const char *const *params, char *err,
              size_t errlen)
{
    PGresult *res = admin_exec(pg, sql, nparams, params, err, errlen);

    PQclear(res);
    return res != NULL ? 0 : -1;
}

/*
 * Queues act, signed by signer ("relay" or "bridge"), to inboxes inside the open
 * transaction; *queued gets the rows made (dead hosts, and blocked ones unless flags say
 * otherwise, get none).
 */
static int
admin_enqueue(PGconn *pg, const char *signer, struct json_object *act, const char *const *inboxes,
              size_t n, int flags, long *queued, char *err, size_t errlen)
{
    const char *payload = json_object_to_json_string_ext(act, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
    struct outbox_batch b;
    char why[256];
    PGresult *res;

    *queued = 0;
    if (outbox_batch_init(&b, signer, payload, strlen(payload), inboxes, n, flags, why,
                          sizeof(why)) < 0) {
        snprintf(err, errlen, "queue: %s", why);
        return -1;
    }
    if (b.targets == 0) { /* no usable inbox: no payload left behind without rows */
        outbox_batch_free(&b);
        return 0;
    }
    res = admin_exec(pg, b.sql, b.nparams, b.params, err, errlen);
    outbox_batch_free(&b);
    if (res == NULL)
        return -1;
    *queued = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/*
 * Hosts, accts, URLs and handles came from the network: plain when they are one printable
 * ASCII word, quoted and escaped otherwise, so none can forge a column or a terminal escape.
 */
static const char *
admin_safe(const char *s, char *buf, size_t len)
{
    if (*s == '\0')
        return log_escape(buf, len, s);
    for (const char *p = s; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\')
            return log_escape(buf, len, s);
    return s;
}

/*
 * Prints res under head as aligned columns, each line after indent. The columns whose bit
 * is set in from_network go through admin_safe; SQL NULL prints as "-".
 */
static void
admin_table(PGresult *res, const char *const *head, int ncol, unsigned from_network,
            const char *indent)
{
    int rows = PQntuples(res);
    char **cells = xcalloc(((size_t)rows + 1) * (size_t)ncol, sizeof(*cells));
    int *width = xcalloc((size_t)ncol, sizeof(*width));

    for (int i = 0; i <= rows; i++) {
        for (int j = 0; j < ncol; j++) {
            char buf[1024];
            const char *v = i == 0                       ? head[j]
                            : PQgetisnull(res, i - 1, j) ? "-"
                            : (from_network & (1u << j)) == 0
                                ? PQgetvalue(res, i - 1, j)
                                : admin_safe(PQgetvalue(res, i - 1, j), buf, sizeof(buf));
            char *cell = cells[i * ncol + j] = xstrdup(v);

            if ((int)strlen(cell) > width[j])
                width[j] = (int)strlen(cell);
        }
    }
    for (int i = 0; i <= rows; i++) {
        printf("%s", indent);
        for (int j = 0; j < ncol - 1; j++)
            printf("%-*s  ", width[j], cells[i * ncol + j]);
        printf("%s\n", cells[i * ncol + ncol - 1]);
    }
    for (int i = 0; i < (rows + 1) * ncol; i++)
        free(cells[i]);
    free(cells);
    free(width);
}

static int
admin_list(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT domain, relay_state, coalesce(style, '-'),"
        " CASE WHEN blocked THEN 'yes' ELSE 'no' END, CASE WHEN allowed THEN 'yes' ELSE 'no' END,"
        " CASE WHEN dead THEN 'yes' ELSE 'no' END, consecutive_failures,"
        " coalesce(to_char(last_success_at AT TIME ZONE 'UTC', $2), '-')"
        " FROM instances WHERE $1::boolean OR relay_state <> 'none' OR blocked OR allowed"
        " ORDER BY domain";
    static const char *const head[] = { "DOMAIN",  "RELAY_STATE", "STYLE",    "BLOCKED",
                                        "ALLOWED", "DEAD",        "FAILURES", "LAST_SUCCESS" };
    enum { NCOL = sizeof(head) / sizeof(head[0]) };
    const char *params[2] = { r->all ? "true" : "false", ADMIN_ISO };
    PGresult *res = admin_exec(c->pg, sql, 2, params, err, errlen);

    if (res == NULL)
        return -1;
    admin_table(res, head, NCOL, 1u << 0, "");
    PQclear(res);
    return 0;
}

/* The subscription a domain has, as admin_mark returns it. */
struct admin_sub {
    char state[16];
    int litepub;
    const char *actor, *follow_id, *inbox; /* borrowed from the result; NULL when unknown */
};

/*
 * Members on DOMAIN ($1), its subdomains and ports (as host_blocked() matches them), are
 * matched again: whether follows to and from them qualify depends on the block.
 */
static const char sql_rematch_domain[] =
    "UPDATE members SET match_due_at = now() WHERE host = $1"
    " OR regexp_replace(host, ':[0-9]+$', '') = $1"
    " OR (regexp_replace(host, ':[0-9]+$', '') !~ '^[0-9.]+$|^\\[|:'"
    "  AND regexp_replace(host, ':[0-9]+$', '') LIKE '%.' || $1)";

/*
 * Opens the transaction and marks domain allowed (and not blocked) or blocked (and not
 * allowed), inserting it when unknown; its members are due for matching. The row is locked
 * until the end, so a Follow the inbox handles meanwhile waits. Returns the result s borrows
 * from, or NULL with err set.
 */
static PGresult *
admin_mark(struct admin_ctx *c, const char *domain, int allow, struct admin_sub *s, char *err,
           size_t errlen)
{
    static const char sql[] =
        "INSERT INTO instances (domain, allowed, blocked) VALUES ($1, $2::boolean, NOT $2::boolean)"
        " ON CONFLICT (domain) DO UPDATE"
        " SET allowed = $2::boolean, blocked = NOT $2::boolean, updated_at = now()"
        " RETURNING relay_state, coalesce(style, 'mastodon'), actor_uri, follow_id,"
        " coalesce(shared_inbox, inbox)";
    const char *params[2] = { domain, allow ? "true" : "false" };
    PGresult *res;

    if (admin_run_sql(c->pg, "BEGIN", 0, NULL, err, errlen) < 0)
        return NULL;
    res = admin_exec(c->pg, sql, 2, params, err, errlen);
    if (res == NULL)
        return NULL;
    if (admin_run_sql(c->pg, sql_rematch_domain, 1, params, err, errlen) < 0) {
        PQclear(res);
        return NULL;
    }
    snprintf(s->state, sizeof(s->state), "%s", PQgetvalue(res, 0, 0));
    s->litepub = strcmp(PQgetvalue(res, 0, 1), "litepub") == 0;
    s->actor = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2);
    s->follow_id = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
    s->inbox = PQgetisnull(res, 0, 4) ? NULL : PQgetvalue(res, 0, 4);
    return res;
}

/*
 * Queues the Accept or Reject of the subscriber's Follow to its inbox. The Follow is
 * rebuilt: Mastodon's object is Public, LitePub's the relay actor. *rows stays 0 when the
 * Follow lacks what an answer needs.
 */
static int
admin_answer(struct admin_ctx *c, const struct admin_sub *s, int accept, int flags, long *rows,
             char *err, size_t errlen)
{
    const char *object = s->litepub ? c->relay_id : ACTIVITY_PUBLIC;
    const char *base = c->cfg->base_url;
    struct json_object *act;
    int rc;

    *rows = 0;
    if (s->actor == NULL || s->follow_id == NULL || s->inbox == NULL)
        return 0;
    act = accept ? activity_accept_new(base, c->relay_id, s->actor, s->follow_id, object)
                 : activity_reject_new(base, c->relay_id, s->actor, s->follow_id, object);
    rc = admin_enqueue(c->pg, "relay", act, &s->inbox, 1, flags, rows, err, errlen);
    json_object_put(act);
    return rc;
}

static int
admin_allow(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql_accept[] =
        "UPDATE instances SET relay_state = 'accepted', subscribed_at = now(), updated_at = now(),"
        " our_follow_id = coalesce($2::text, our_follow_id),"
        " our_follow_state = CASE WHEN $2::text IS NULL THEN our_follow_state ELSE 'pending' END"
        " WHERE domain = $1";
    const char *params[2] = { r->domain, NULL };
    struct json_object *follow = NULL;
    struct admin_sub s;
    PGresult *res;
    long accepts = 0, follows = 0;
    int rc = -1, pending;

    if (policy_config_blocked(c->cfg, r->domain)) {
        snprintf(err, errlen,
                 "%s is blocked by relay_block in the configuration; remove it there first",
                 r->domain);
        return -1;
    }
    res = admin_mark(c, r->domain, 1, &s, err, errlen);
    if (res == NULL)
        return -1;
    pending = strcmp(s.state, "pending") == 0;
    if (pending && admin_answer(c, &s, 1, 0, &accepts, err, errlen) < 0)
        goto out;
    if (pending && accepts > 0 && s.litepub) {
        /* LitePub servers publish only to their relay actor's followers. */
        follow = activity_follow_new(c->cfg->base_url, c->relay_id, s.actor);
        if (admin_enqueue(c->pg, "relay", follow, &s.inbox, 1, 0, &follows, err, errlen) < 0)
            goto out;
        params[1] = json_object_get_string(json_object_object_get(follow, "id"));
    }
    if (accepts > 0 && admin_run_sql(c->pg, sql_accept, 2, params, err, errlen) < 0)
        goto out;
    if (admin_run_sql(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    log_info("admin_allow", "domain=%s was=%s accept_rows=%ld follow_rows=%ld", log_q(r->domain),
             s.state, accepts, follows);
    printf("%s allowed\n", r->domain);
    if (accepts > 0)
        printf("pending subscription accepted: Accept queued%s\n",
               !s.litepub    ? ""
               : follows > 0 ? ", Follow back queued"
                             : ", Follow back not queued");
    else if (pending)
        fprintf(stderr,
                "passerelle admin: %s: no Accept could be queued (no inbox or Follow id "
                "known, or the host is dead); it stays pending and is accepted when it "
                "follows again\n",
                r->domain);
    rc = 0;
out:
    PQclear(res);
    json_object_put(follow);
    return rc;
}

static int
admin_block(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql_drop[] =
        "UPDATE deliveries d SET state = 'dropped', last_error = 'host blocked by admin',"
        " claimed_until = NULL, claimed_by = NULL, updated_at = now()"
        " WHERE d.state = 'pending' AND host_blocked(d.host)"
        " AND NOT (SELECT despite_block FROM activities a WHERE a.id = d.activity_id)";
    static const char sql_reject[] =
        "UPDATE instances SET relay_state = 'rejected', updated_at = now() WHERE domain = $1";
    const char *params[1] = { r->domain };
    struct admin_sub s;
    PGresult *res, *drop = NULL;
    long rejects = 0;
    int rc = -1, subscribed;

    res = admin_mark(c, r->domain, 0, &s, err, errlen);
    if (res == NULL)
        return -1;
    subscribed = strcmp(s.state, "accepted") == 0 || strcmp(s.state, "pending") == 0;
    /*
     * Dropped before the Reject is queued, so the Reject is the one row that remains. The
     * block covers subdomains and ports (host_blocked); rows of hosts blocked before, left by
     * an older version, go too.
     */
    drop = admin_exec(c->pg, sql_drop, 0, NULL, err, errlen);
    if (drop == NULL)
        goto out;
    if (subscribed && (admin_answer(c, &s, 0, OUTBOX_DESPITE_BLOCK, &rejects, err, errlen) < 0 ||
                       admin_run_sql(c->pg, sql_reject, 1, params, err, errlen) < 0))
        goto out;
    if (admin_run_sql(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    log_info("admin_block", "domain=%s was=%s reject_rows=%ld dropped=%s", log_q(r->domain),
             s.state, rejects, PQcmdTuples(drop));
    printf("%s blocked; %s pending deliveries dropped\n", r->domain, PQcmdTuples(drop));
    if (subscribed)
        printf("subscription (%s) rejected: %s\n", s.state,
               rejects > 0 ? "Reject queued"
                           : "no Reject queued (no inbox or Follow id known, or the host is dead)");
    rc = 0;
out:
    PQclear(res);
    PQclear(drop);
    return rc;
}

static int
admin_unblock(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql[] = "UPDATE instances SET blocked = false, updated_at = now()"
                              " WHERE domain = $1 AND blocked";
    const char *params[1] = { r->domain };
    PGresult *res;
    int changed;

    if (admin_run_sql(c->pg, "BEGIN", 0, NULL, err, errlen) < 0 ||
        (res = admin_exec(c->pg, sql, 1, params, err, errlen)) == NULL)
        return -1;
    changed = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if ((changed && admin_run_sql(c->pg, sql_rematch_domain, 1, params, err, errlen) < 0) ||
        admin_run_sql(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        return -1;
    if (changed) {
        log_info("admin_unblock", "domain=%s", log_q(r->domain));
        printf("%s unblocked (it must follow the relay again to subscribe)\n", r->domain);
    } else {
        printf("%s was not blocked; nothing changed\n", r->domain);
    }
    return 0;
}

static int
admin_queue(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    (void)r;
    return admin_queue_report(c->cfg->database_url, stdout, err, errlen);
}

static int
admin_notice(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql[] = "SELECT domain, coalesce(shared_inbox, inbox) FROM instances"
                              " WHERE relay_state = 'accepted' AND NOT blocked AND NOT dead"
                              " AND coalesce(shared_inbox, inbox) IS NOT NULL ORDER BY domain";
    struct json_object *note = NULL;
    const char **inboxes = NULL;
    PGresult *res;
    size_t n = 0;
    long queued = 0;
    int rc = -1;

    if (admin_run_sql(c->pg, "BEGIN", 0, NULL, err, errlen) < 0)
        return -1;
    res = admin_exec(c->pg, sql, 0, NULL, err, errlen);
    if (res == NULL)
        return -1;
    inboxes = xcalloc((size_t)PQntuples(res) + 1, sizeof(*inboxes));
    for (int i = 0; i < PQntuples(res); i++)
        /* The database does not know what the configuration blocks. */
        if (!policy_config_blocked(c->cfg, PQgetvalue(res, i, 0)))
            inboxes[n++] = PQgetvalue(res, i, 1);
    note = activity_note_new(c->cfg->base_url, c->relay_id, c->followers, r->text);
    if (n > 0 && admin_enqueue(c->pg, "relay", note, inboxes, n, 0, &queued, err, errlen) < 0)
        goto out;
    if (admin_run_sql(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    log_info("admin_notice", "subscribers=%zu rows=%ld id=%s", n, queued,
             log_q(json_object_get_string(json_object_object_get(note, "id"))));
    printf("notice queued for %ld inboxes\n", queued);
    rc = 0;
out:
    PQclear(res);
    free(inboxes);
    json_object_put(note);
    return rc;
}

/* --- members ------------------------------------------------------------------------------- */

/* Columns of the row admin_who returns. */
enum {
    ADMIN_WHO_ID,
    ADMIN_WHO_NAME,
    ADMIN_WHO_STATE,
    ADMIN_WHO_ACTOR,
    ADMIN_WHO_ACCT,
    ADMIN_WHO_INBOX,
    ADMIN_WHO_LANG
};

#define ADMIN_WHO_SQL                                                                              \
    "SELECT id, coalesce(acct, actor_uri), state, actor_uri, acct, inbox, lang FROM members"       \
    " WHERE id = $1::bigint OR actor_uri = $2 OR lower(acct) = lower($3) ORDER BY id LIMIT 10"

/* "member ID (ACCT)", ACCT being the actor URL when unknown, for what the commands print. */
static void
admin_who_label(PGresult *who, char *buf, size_t len)
{
    char safe[512];

    snprintf(buf, len, "member %s (%s)", PQgetvalue(who, 0, ADMIN_WHO_ID),
             admin_safe(PQgetvalue(who, 0, ADMIN_WHO_NAME), safe, sizeof(safe)));
}

/*
 * Opens the command's transaction and finds in it the one member r's WHO names: a one-row
 * result (ADMIN_WHO_* columns) and its label. With lock the row is locked until the end of
 * the transaction; without, the transaction is a read-only snapshot. NULL with err set and
 * *rc the run's answer: -1 on a database error, ADMIN_REFUSED when no member or several
 * match. On success *rc is -1 too, the answer to any later failure.
 */
static PGresult *
admin_who(struct admin_ctx *c, const struct admin_req *r, int lock, char *label, size_t labellen,
          int *rc, char *err, size_t errlen)
{
    static const char sql[] = ADMIN_WHO_SQL;
    static const char sql_lock[] = ADMIN_WHO_SQL " FOR UPDATE";
    const char *params[3] = { r->who_id, r->who_url, r->who_acct };
    const char *begin = lock ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    PGresult *res;
    char buf[512];
    size_t o;

    *rc = -1;
    if (admin_run_sql(c->pg, begin, 0, NULL, err, errlen) < 0)
        return NULL;
    res = admin_exec(c->pg, lock ? sql_lock : sql, 3, params, err, errlen);
    if (res == NULL)
        return NULL;
    if (PQntuples(res) == 1) {
        admin_who_label(res, label, labellen);
        return res;
    }
    *rc = ADMIN_REFUSED;
    if (PQntuples(res) == 0) {
        snprintf(err, errlen, "no member is %s", admin_safe(r->who, buf, sizeof(buf)));
    } else {
        o = (size_t)snprintf(err, errlen, "%s names several members (ids",
                             admin_safe(r->who, buf, sizeof(buf)));
        for (int i = 0; i < PQntuples(res) && o < errlen; i++)
            o += (size_t)snprintf(err + o, errlen - o, "%s %s", i > 0 ? "," : "",
                                  PQgetvalue(res, i, ADMIN_WHO_ID));
        if (o < errlen)
            snprintf(err + o, errlen - o, "); give the id");
    }
    PQclear(res);
    return NULL;
}

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

static int
admin_mlist(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT id, coalesce(acct, actor_uri), state, x_handle,"
        " CASE WHEN paused THEN 'yes' ELSE 'no' END,"
        " CASE WHEN findable THEN 'F' ELSE '-' END || CASE WHEN autofollow THEN 'A' ELSE '-' END"
        " || CASE WHEN notify THEN 'N' ELSE '-' END || CASE WHEN relay THEN 'R' ELSE '-' END,"
        " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        " FROM members WHERE $1::text IS NULL OR state = $1 ORDER BY id";
    static const char *const head[] = { "ID",     "ACCT",     "STATE", "X_HANDLE",
                                        "PAUSED", "CONSENTS", "JOINED" };
    const char *params[1] = { r->state };
    PGresult *res = admin_exec(c->pg, sql, 1, params, err, errlen);

    if (res == NULL)
        return -1;
    admin_table(res, head, (int)(sizeof(head) / sizeof(head[0])), 1u << 1 | 1u << 3, "");
    PQclear(res);
    return 0;
}

/* One "label: value" line of members show; from_network values go through admin_safe. */
static void
admin_field(const char *label, const char *value, int from_network)
{
    char buf[1024];

    printf("%-16s%s\n", label, from_network ? admin_safe(value, buf, sizeof(buf)) : value);
}

static int
admin_mshow(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
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
        " relay_follow_state, coalesce(to_char(delete_requested_at AT TIME ZONE 'UTC', $2), '-'),"
        " (SELECT count(*) FROM sessions WHERE member_id = m.id AND expires_at > now())"
        "  || ' open',"
        " (SELECT count(*) FROM link_codes WHERE member_id = m.id AND used_at IS NULL"
        "  AND expires_at > now()) || ' unused',"
        " CASE WHEN EXISTS (SELECT 1 FROM oauth_grants WHERE member_id = m.id)"
        "  THEN 'yes' ELSE 'no' END,"
        " (SELECT count(*) FROM follow_actions WHERE follower_id = m.id) || ' in its name, '"
        "  || (SELECT count(*) FROM follow_actions WHERE followee_id = m.id) || ' toward it',"
        " (SELECT count(*) FROM reports WHERE lower(target) = lower(m.acct)) || ' naming its acct',"
        " (SELECT count(*) FROM x_edges WHERE followee_x_id = m.x_id) || ' followers, '"
        "  || (SELECT count(*) FROM x_edges WHERE follower_x_id = m.x_id) || ' following',"
        " coalesce((SELECT string_agg(x_id::text, ' ' ORDER BY x_id) FROM x_claims"
        "  WHERE member_id = m.id), 'none')"
        " FROM members m WHERE id = $1::bigint";
    /* The labels of sql_member's columns, in order; a leading '!' marks network text. */
    static const char *const labels[] = {
        "!actor:",      "!acct:",          "!inbox:",        "state:",    "x_id:",
        "!x_handle:",   "linked_at:",      "joined_at:",     "language:", "paused:",
        "consents:",    "relay_follow:",   "delete_asked:",  "sessions:", "link_codes:",
        "oauth_grant:", "follow_actions:", "reports_about:", "x_edges:",  "claims:",
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
    if ((res[0] = admin_exec(c->pg, sql_member, 2, params, err, errlen)) == NULL ||
        (res[1] = admin_exec(c->pg, sql_rivals, 1, params, err, errlen)) == NULL ||
        (res[2] = admin_exec(c->pg, sql_reports, 2, params, err, errlen)) == NULL ||
        (res[3] = admin_exec(c->pg, sql_ledger, 2, params, err, errlen)) == NULL ||
        admin_run_sql(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    admin_field("id:", params[0], 0);
    for (int j = 0; j < (int)(sizeof(labels) / sizeof(labels[0])); j++)
        admin_field(labels[j] + (labels[j][0] == '!'), PQgetvalue(res[0], 0, j),
                    labels[j][0] == '!');
    printf("competing:      %d other member%s\n", PQntuples(res[1]),
           PQntuples(res[1]) == 1 ? "" : "s");
    if (PQntuples(res[1]) > 0)
        admin_table(res[1], rival_head, 5, 1u << ADMIN_RIVAL_NAME, "  ");
    printf("reports_filed:  %d\n", PQntuples(res[2]));
    if (PQntuples(res[2]) > 0)
        admin_table(res[2], report_head, 2, 1u << 1, "  ");
    printf("consent_ledger: %d line%s, newest last\n", PQntuples(res[3]),
           PQntuples(res[3]) == 1 ? "" : "s");
    if (PQntuples(res[3]) > 0)
        admin_table(res[3], ledger_head, 5, 0, "  ");
    rc = 0;
out:
    PQclear(who);
    for (int i = 0; i < 4; i++)
        PQclear(res[i]);
    return rc;
}

/* What the bridge tells a member the admin suspended, in the member's language. */
static char *
admin_suspended_text(const struct config *cfg, const char *lang)
{
    int fr = strcmp(lang, "fr") == 0;
    const char *contact = cfg->admin_contact != NULL ? cfg->admin_contact : "";

    return xasprintf("%s%s%s",
                     fr ? "Votre compte sur cette passerelle a été suspendu par son "
                          "administrateur : votre archive X n'y est plus acceptée et personne "
                          "n'est plus reconnecté à travers vous. Vos liens à usage unique et vos "
                          "sessions ont été annulés."
                        : "Your account on this bridge has been suspended by its admin: your X "
                          "archive is no longer accepted here and nobody is reconnected through "
                          "you any more. Your one-time links and sessions were cancelled.",
                     *contact != '\0' ? (fr ? " Contact : " : " Contact: ") : "", contact);
}

static int
admin_mblock(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    /* The page's sessions would otherwise outlive the block until they expire. */
    static const char sql[] =
        "WITH m AS (UPDATE members SET state = 'suspended', match_due_at = now(),"
        "  updated_at = now() WHERE id = $1::bigint RETURNING id),"
        " s AS (DELETE FROM sessions WHERE member_id = $1::bigint RETURNING 1),"
        " k AS (DELETE FROM link_codes WHERE member_id = $1::bigint AND used_at IS NULL"
        "  RETURNING 1)"
        " SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM k)";
    struct json_object *msg = NULL;
    PGresult *who, *res = NULL;
    const char *params[1], *inbox;
    char label[600], *text = NULL;
    long queued = 0;
    int rc;

    who = admin_who(c, r, 1, label, sizeof(label), &rc, err, errlen);
    if (who == NULL)
        return rc;
    if (strcmp(PQgetvalue(who, 0, ADMIN_WHO_STATE), "suspended") == 0) {
        rc = admin_run_sql(c->pg, "COMMIT", 0, NULL, err, errlen);
        if (rc == 0)
            printf("%s is already suspended; nothing changed\n", label);
        goto out;
    }
    params[0] = PQgetvalue(who, 0, ADMIN_WHO_ID);
    res = admin_exec(c->pg, sql, 1, params, err, errlen);
    if (res == NULL)
        goto out;
    inbox = PQgetisnull(who, 0, ADMIN_WHO_INBOX) ? NULL : PQgetvalue(who, 0, ADMIN_WHO_INBOX);
    if (inbox != NULL) {
        char *bridge_id = xasprintf("%s/users/%s", c->cfg->base_url, c->cfg->bridge_username);

        text = admin_suspended_text(c->cfg, PQgetvalue(who, 0, ADMIN_WHO_LANG));
        msg = bridge_message_new(c->cfg->base_url, bridge_id, PQgetvalue(who, 0, ADMIN_WHO_ACTOR),
                                 PQgetvalue(who, 0, ADMIN_WHO_NAME), text);
        free(bridge_id);
        if (msg != NULL &&
            admin_enqueue(c->pg, "bridge", msg, &inbox, 1, 0, &queued, err, errlen) < 0)
            goto out;
    }
    if (admin_run_sql(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
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
    json_object_put(msg);
    free(text);
    return rc;
}

static int
admin_munblock(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
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
    if ((res = admin_exec(c->pg, sql, 1, params, err, errlen)) == NULL ||
        (rivals = admin_exec(c->pg, sql_rivals, 1, params, err, errlen)) == NULL ||
        admin_run_sql(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    if (PQntuples(res) == 1) {
        log_info("admin_member_unblock", "member=%s now=%s", params[0], PQgetvalue(res, 0, 0));
        printf("%s unblocked: %s\n", label, PQgetvalue(res, 0, 0));
        /* Lifting a suspension settles no dispute: the admin should know of one. */
        for (int i = 0; i < PQntuples(rivals); i++)
            printf("note: member %s (%s, %s) claims X id %s too\n",
                   PQgetvalue(rivals, i, ADMIN_RIVAL_ID),
                   admin_safe(PQgetvalue(rivals, i, ADMIN_RIVAL_NAME), buf, sizeof(buf)),
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
admin_mdelete_report(const char *label, PGresult *counts, PGresult *rivals, int done)
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
                   admin_safe(PQgetvalue(rivals, i, ADMIN_RIVAL_NAME), buf, sizeof(buf)),
                   done ? "stays" : "would stay", PQgetvalue(rivals, i, ADMIN_RIVAL_X));
}

static int
admin_mdelete(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql_counts[] =
        "SELECT (SELECT count(*) FROM x_edges WHERE follower_x_id = m.x_id"
        "  OR followee_x_id = m.x_id),"
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
    if ((counts = admin_exec(c->pg, sql_counts, 1, params, err, errlen)) == NULL ||
        (rivals = admin_exec(c->pg, sql_rivals, 1, params, err, errlen)) == NULL)
        goto out;
    if (!r->yes) {
        admin_mdelete_report(label, counts, rivals, 0);
        snprintf(err, errlen, "nothing deleted: add --yes to delete %s", label);
        rc = ADMIN_REFUSED; /* the caller rolls back */
        goto out;
    }
    if (admin_run_sql(c->pg, sql_drop, 1, params, err, errlen) < 0 ||
        admin_run_sql(c->pg, sql_forget, 1, params, err, errlen) < 0 ||
        admin_run_sql(c->pg, "COMMIT", 0, NULL, err, errlen) < 0)
        goto out;
    log_info("admin_member_delete", "member=%s actor=%s edges=%s", params[0],
             log_q(PQgetvalue(who, 0, ADMIN_WHO_ACTOR)), PQgetvalue(counts, 0, 0));
    admin_mdelete_report(label, counts, rivals, 1);
    rc = 0;
out:
    PQclear(who);
    PQclear(counts);
    PQclear(rivals);
    return rc;
}

static int
admin_connect(struct admin_ctx *c, char *err, size_t errlen)
{
    c->pg = PQconnectdb(c->cfg->database_url);
    if (PQstatus(c->pg) == CONNECTION_OK)
        return 0;
    /* libpq's message names host and database, never the password. */
    snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(c->pg));
    err[strcspn(err, "\n")] = '\0';
    return -1;
}

/* The word as the name of a group of commands ("instances", "members"), or NULL. */
static const char *
admin_group(const char *word)
{
    for (size_t i = 0; i < ADMIN_NCMDS; i++)
        if (admin_cmds[i].group != NULL && strcmp(admin_cmds[i].group, word) == 0)
            return admin_cmds[i].group;
    return NULL;
}

/* "passerelle admin GROUP NAME: why" on stderr. */
static void
admin_fail(const struct admin_cmd *cmd, const char *why, const char *tail)
{
    fprintf(stderr, "passerelle admin %s%s%s: %s%s\n", cmd->group ? cmd->group : "",
            cmd->group ? " " : "", cmd->name, why, tail);
}

static const struct admin_cmd *
admin_find(const char *group, const char *name)
{
    for (size_t i = 0; i < ADMIN_NCMDS; i++)
        if ((admin_cmds[i].group == NULL) == (group == NULL) &&
            (group == NULL || strcmp(admin_cmds[i].group, group) == 0) &&
            strcmp(admin_cmds[i].name, name) == 0)
            return &admin_cmds[i];
    return NULL;
}

/* Loads the configuration and runs the checked command; the exit code. */
static int
admin_execute(const struct admin_cmd *cmd, const char *config_path, const struct admin_req *r)
{
    struct config cfg;
    struct admin_ctx c = { 0 };
    char err[1024];
    int rc = 1, ran;

    config_defaults(&cfg);
    if (config_load(&cfg, config_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "passerelle admin: configuration error: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    c.cfg = &cfg;
    if (*cfg.database_url == '\0') {
        snprintf(err, sizeof(err),
                 "configuration error: database_url: not set "
                 "(set it in the file, PASSERELLE_DATABASE_URL or DATABASE_URL)");
        goto out;
    }
    c.relay_id = xasprintf("%s/actor", cfg.base_url);
    c.followers = xasprintf("%s/followers", c.relay_id);
    if (cmd->needs_pg && admin_connect(&c, err, sizeof(err)) < 0)
        goto out;
    ran = cmd->run(&c, r, err, sizeof(err));
    rc = ran == 0 ? 0 : ran == ADMIN_REFUSED ? 2 : 1;
    if (rc != 0 && c.pg != NULL && PQtransactionStatus(c.pg) != PQTRANS_IDLE)
        PQclear(PQexecParams(c.pg, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0));
out:
    if (rc != 0)
        admin_fail(cmd, err, "");
    PQfinish(c.pg);
    free(c.relay_id);
    free(c.followers);
    config_free(&cfg);
    return rc;
}

int
admin_main(const char *config_path, int argc, char **argv)
{
    char **words = xcalloc((size_t)argc + 1, sizeof(*words));
    const struct admin_cmd *cmd = NULL;
    const char *group;
    struct admin_req req;
    char err[512];
    int n = 0, help = 0, literal = 0, rc = 2, first;

    memset(&req, 0, sizeof(req));
    /* Global options anywhere before "--"; everything else is a word, in order. */
    for (int i = 0; i < argc; i++) {
        if (!literal && strcmp(argv[i], "--") == 0)
            literal = 1;
        else if (!literal && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0))
            help = 1;
        else if (!literal && (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "passerelle admin: %s needs a FILE\n", argv[i]);
                goto out;
            }
            config_path = argv[++i];
        } else if (!literal && strncmp(argv[i], "--config=", 9) == 0)
            config_path = argv[i] + 9;
        else
            words[n++] = argv[i];
    }
    group = n > 0 ? admin_group(words[0]) : NULL;
    first = group != NULL ? 2 : 1;
    if (n >= first)
        cmd = admin_find(group, words[first - 1]);
    if (cmd == NULL && (help || n < first)) {
        admin_usage(help ? stdout : stderr, group);
        rc = help ? 0 : 2;
        goto out;
    }
    if (cmd == NULL) {
        fprintf(stderr, "passerelle admin: unknown command \"%s%s%s\" (see --help)\n", words[0],
                group != NULL ? " " : "", group != NULL ? words[1] : "");
        goto out;
    }
    if (help) {
        admin_usage_cmd(cmd);
        rc = 0;
        goto out;
    }
    if (cmd->check(&req, n - first, words + first, err, sizeof(err)) < 0) {
        admin_fail(cmd, err, " (see --help)");
        goto out;
    }
    rc = admin_execute(cmd, config_path, &req);
out:
    free(req.text);
    free(words);
    return rc;
}
