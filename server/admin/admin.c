/* The operator's command line: passerelle admin instances|members|queue|notice, blocking libpq. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "admin.h"
#include "admin_internal.h"
#include "config.h"
#include "log.h"
#include "policy.h"
#include "admin_queue.h"
#include "utf8.h"
#include "xmalloc.h"

#define ADMIN_NOTICE_MAX 5000 /* characters: about ten times a toot, plenty for maintenance */

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
static int admin_queue(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen);
static int admin_check_mlist(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
static int admin_check_who(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
static int admin_check_delete(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);


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
      1, admin_check_list, admin_instances_list },
    { "instances", "allow", "instances allow DOMAIN", "allow; accepts a pending subscription",
      "Marks DOMAIN allowed (and not blocked). If it followed the relay while relay_mode\n"
      "is allowlist, its subscription is accepted now: an Accept is queued to it (LitePub\n"
      "relays are also followed back).",
      1, admin_check_domain, admin_instances_allow },
    { "instances", "block", "instances block DOMAIN",
      "block; rejects its subscription, drops its deliveries",
      "Blocks DOMAIN: a subscription it has is rejected (a Reject is queued to it, the\n"
      "only thing it will still receive) and its pending deliveries are dropped. An\n"
      "unknown DOMAIN is blocked before it ever knocks.",
      1, admin_check_domain, admin_instances_block },
    { "instances", "unblock", "instances unblock DOMAIN", "lift a block",
      "Lifts the block on DOMAIN. It is not resubscribed: it must follow the relay again.", 1,
      admin_check_domain, admin_instances_unblock },
    { NULL, "queue", "queue", "delivery queue depth, paused and dead hosts",
      "Shows the delivery queue: rows by host and state, paused hosts, dead hosts.", 0,
      admin_check_none, admin_queue },
    { NULL, "notice", "notice TEXT...", "a public note from the relay to every subscriber",
      "Sends TEXT (the words joined by spaces, at most 5000 characters) as a public note\n"
      "from the relay actor to every subscribed instance. Put -- before text that starts\n"
      "with -c or -h.",
      1, admin_check_notice, admin_instances_notice },
    { "members", "list", "members list [--state STATE]", "members: state, X handle, consents",
      "Lists members, one per line under a header: id, acct (the actor URL when no acct is\n"
      "known), state, X handle, paused, consents, the bridge account's follow, date joined\n"
      "(UTC). --state STATE lists only joined, linked, disputed or suspended members. Then\n"
      "a line per claim refused in the last 30 days (who tried, against whom) and per\n"
      "member held by reports.\n\n"
      "CONSENTS has four places, the letter when the consent is given and - when not:\n"
      "F findable, A autofollow, N notify, R relay. F-N- is where a new member starts.\n\n"
      "BRIDGE_FOLLOW is the bridge account's follow of the member, by which it hears their\n"
      "Move (follow_members): none (not asked yet, a Bluesky member, or follow_members off),\n"
      "pending (asked, not answered), accepted, or rejected (refused or removed by the\n"
      "member; never asked again).",
      1, admin_check_mlist, admin_members_list },
    { "members", "show", "members show WHO", "everything about one member",
      "Shows one member: actor, acct, inbox, state, X id and handle, when linked and\n"
      "joined, consents, paused, the relay's and the bridge account's follows of it, the\n"
      "X edges its archive gave (followers, following),\n"
      "whether X verified its claim, whether reports hold it, the claims refused\n"
      "against it, its claims and the other members claiming the same X id, open sessions, unused\n"
      "link codes, OAuth grant, follow actions, reports it filed and reports naming it,\n"
      "and its consent ledger, newest last. Link codes and tokens are never shown (only\n"
      "their hashes, or sealed copies, are stored)." ADMIN_WHO_HELP,
      1, admin_check_who, admin_members_show },
    { "members", "block", "members block WHO", "suspend a member, end its sessions, tell it",
      "Suspends WHO: its archives are refused and matching ignores it. Its link page\n"
      "sessions and unused one-time links are deleted, and the bridge account sends it a\n"
      "direct message saying the admin suspended it. A suspended member is left as it\n"
      "is." ADMIN_WHO_HELP,
      1, admin_check_who, admin_members_block },
    { "members", "unblock", "members unblock WHO", "lift a suspension",
      "Lifts WHO's suspension: linked again if it has an X id, joined otherwise. Nothing\n"
      "is sent; it asks the bridge for a new link (\"link\") to use the page again. A\n"
      "member that is not suspended is left as it is." ADMIN_WHO_HELP,
      1, admin_check_who, admin_members_unblock },
    { "members", "delete", "members delete WHO --yes", "forget a member and its X edges",
      "Forgets WHO in one transaction: the X edges its archive gave, its claims,\n"
      "consent ledger, link codes, sessions, OAuth grant and follow actions, and the\n"
      "bridge's messages to it still waiting for delivery. Reports it filed are kept,\n"
      "without their author. A member that stays disputed although WHO's claim was its\n"
      "only rival is named on a line of its own: an admin decides (a new upload of its\n"
      "archive links it). Without --yes: prints what would be deleted, changes nothing\n"
      "and exits 2." ADMIN_WHO_HELP,
      1, admin_check_delete, admin_members_delete },
    { "members", "clear-reports", "members clear-reports WHO",
      "close the reports about a member, lift their hold",
      "Closes every open report naming WHO as cleared, and lifts the hold that reports\n"
      "from report_hold_threshold distinct members put on it: its follows are planned\n"
      "again and its stand-in shows again (if its claim shows one)." ADMIN_WHO_HELP,
      1, admin_check_who, admin_claims_clear },
    { "members", "confirm-reports", "members confirm-reports WHO",
      "close the reports about a member, drop its claim",
      "Closes every open report naming WHO as confirmed and drops its claim: its X id,\n"
      "X handle and verification go, with the X edges its archive gave and its claims;\n"
      "it is joined again (a suspended member stays suspended) and the bridge account\n"
      "tells it by direct message." ADMIN_WHO_HELP,
      1, admin_check_who, admin_claims_confirm },
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


static int
admin_queue(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    (void)r;
    return admin_queue_report(c->cfg->database_url, stdout, err, errlen);
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
