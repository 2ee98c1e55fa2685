/* The operator's command line: passerelle admin instances|queue|notice, over blocking libpq. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "activity.h"
#include "admin.h"
#include "config.h"
#include "log.h"
#include "policy.h"
#include "queue.h"
#include "xmalloc.h"

#define ADMIN_NOTICE_MAX 5000 /* characters: about ten times a toot, plenty for maintenance */

/* What the words of one command amount to, checked before anything is touched. */
struct admin_req {
    char domain[POLICY_DOMAIN_MAX];
    int all;
    char *text;
};

/* Where an action runs: the configuration, the connection and the relay actor's ids. */
struct admin_ctx {
    const struct config *cfg;
    PGconn *pg;
    char *relay_id;
    char *followers;
};

struct admin_cmd {
    const char *group; /* "instances", or NULL for a top-level command */
    const char *name;
    const char *synopsis;
    const char *brief; /* for the list of commands */
    const char *help;
    int needs_pg; /* 0: the action opens its own connection */
    int (*check)(struct admin_req *r, int argc, char **argv, char *err, size_t errlen);
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
};

#define ADMIN_NCMDS (sizeof(admin_cmds) / sizeof(admin_cmds[0]))

static void
admin_usage(FILE *f, const char *group)
{
    fprintf(f, "usage: passerelle admin [-c FILE] %s<command> ...\n\ncommands:\n",
            group != NULL ? "instances " : "");
    for (size_t i = 0; i < ADMIN_NCMDS; i++)
        if (group == NULL || (admin_cmds[i].group && strcmp(admin_cmds[i].group, group) == 0))
            fprintf(f, "  %-26s %s\n", admin_cmds[i].synopsis, admin_cmds[i].brief);
    fprintf(f, "\noptions:\n  -c, --config FILE   configuration file (key = value)\n"
               "  -h, --help          help (after a command: that command's help)\n\n"
               "Exit status: 0 done, 1 runtime or database error, 2 usage error.\n");
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

/* Characters of valid UTF-8 text, or -1 when it is not valid UTF-8 (peers would choke). */
static long
admin_utf8_chars(const char *s)
{
    long n = 0;

    while (*s != '\0') {
        unsigned char c = (unsigned char)*s;
        int more = c < 0x80           ? 0
                   : (c >> 5) == 0x6  ? 1
                   : (c >> 4) == 0xe  ? 2
                   : (c >> 3) == 0x1e ? 3
                                      : -1;

        if (more < 0 || (more == 1 && c < 0xc2))
            return -1;
        s++;
        for (int i = 0; i < more; i++, s++)
            if (((unsigned char)*s & 0xc0) != 0x80)
                return -1;
        n++;
    }
    return n;
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
    chars = admin_utf8_chars(r->text);
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
 * Queues act from the relay to inboxes inside the open transaction; *queued gets the rows
 * made (dead hosts, and blocked ones unless flags say otherwise, get none).
 */
static int
admin_enqueue(PGconn *pg, struct json_object *act, const char *const *inboxes, size_t n, int flags,
              long *queued, char *err, size_t errlen)
{
    const char *payload = json_object_to_json_string_ext(act, JSON_C_TO_STRING_PLAIN |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
    struct queue_batch b;
    char why[256];
    PGresult *res;

    *queued = 0;
    if (queue_batch_init(&b, "relay", payload, strlen(payload), inboxes, n, flags, why,
                         sizeof(why)) < 0) {
        snprintf(err, errlen, "queue: %s", why);
        return -1;
    }
    if (b.targets == 0) { /* no usable inbox: no payload left behind without rows */
        queue_batch_free(&b);
        return 0;
    }
    res = admin_exec(pg, b.sql, b.nparams, b.params, err, errlen);
    queue_batch_free(&b);
    if (res == NULL)
        return -1;
    *queued = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

/* Hosts came from the network once: plain when harmless, escaped otherwise. */
static const char *
admin_safe(const char *s, char *buf, size_t len)
{
    for (const char *p = s; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && strchr(".-:[]_", *p) == NULL)
            return log_escape(buf, len, s);
    return s;
}

static int
admin_list(struct admin_ctx *c, const struct admin_req *r, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT domain, relay_state, coalesce(style, '-'),"
        " CASE WHEN blocked THEN 'yes' ELSE 'no' END, CASE WHEN allowed THEN 'yes' ELSE 'no' END,"
        " CASE WHEN dead THEN 'yes' ELSE 'no' END, consecutive_failures,"
        " coalesce(to_char(last_success_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " '-')"
        " FROM instances WHERE $1::boolean OR relay_state <> 'none' OR blocked OR allowed"
        " ORDER BY domain";
    static const char *const head[] = { "DOMAIN",  "RELAY_STATE", "STYLE",    "BLOCKED",
                                        "ALLOWED", "DEAD",        "FAILURES", "LAST_SUCCESS" };
    enum { NCOL = sizeof(head) / sizeof(head[0]) };
    const char *params[1] = { r->all ? "true" : "false" };
    PGresult *res = admin_exec(c->pg, sql, 1, params, err, errlen);
    char(*cells)[NCOL][300];
    int width[NCOL], rows;

    if (res == NULL)
        return -1;
    rows = PQntuples(res);
    cells = xcalloc((size_t)rows + 1, sizeof(*cells));
    for (int j = 0; j < NCOL; j++) {
        snprintf(cells[0][j], sizeof(cells[0][j]), "%s", head[j]);
        width[j] = (int)strlen(head[j]);
    }
    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < NCOL; j++) {
            char buf[300];
            const char *v = PQgetvalue(res, i, j);

            snprintf(cells[i + 1][j], sizeof(cells[i + 1][j]), "%s",
                     j == 0 ? admin_safe(v, buf, sizeof(buf)) : v);
            if ((int)strlen(cells[i + 1][j]) > width[j])
                width[j] = (int)strlen(cells[i + 1][j]);
        }
    }
    PQclear(res);
    for (int i = 0; i <= rows; i++) {
        for (int j = 0; j < NCOL - 1; j++)
            printf("%-*s  ", width[j], cells[i][j]);
        printf("%s\n", cells[i][NCOL - 1]);
    }
    free(cells);
    return 0;
}

/* The subscription a domain has, as admin_mark returns it. */
struct admin_sub {
    char state[16];
    int litepub;
    const char *actor, *follow_id, *inbox; /* borrowed from the result; NULL when unknown */
};

/*
 * Opens the transaction and marks domain allowed (and not blocked) or blocked (and not
 * allowed), inserting it when unknown. The row is locked until the end, so a Follow the
 * inbox handles meanwhile waits. Returns the result s borrows from, or NULL with err set.
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
    rc = admin_enqueue(c->pg, act, &s->inbox, 1, flags, rows, err, errlen);
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
        if (admin_enqueue(c->pg, follow, &s.inbox, 1, 0, &follows, err, errlen) < 0)
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
        "UPDATE deliveries SET state = 'dropped', last_error = 'host blocked by admin',"
        " claimed_until = NULL, claimed_by = NULL, updated_at = now()"
        " WHERE host = $1 AND state = 'pending'";
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
    /* Dropped before the Reject is queued, so the Reject is the one row that remains. */
    drop = admin_exec(c->pg, sql_drop, 1, params, err, errlen);
    if (drop == NULL)
        goto out;
    if (subscribed && (admin_answer(c, &s, 0, QUEUE_DESPITE_BLOCK, &rejects, err, errlen) < 0 ||
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
    PGresult *res = admin_exec(c->pg, sql, 1, params, err, errlen);
    int changed;

    if (res == NULL)
        return -1;
    changed = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
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
    return queue_admin_report(c->cfg->database_url, stdout, err, errlen);
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
    if (n > 0 && admin_enqueue(c->pg, note, inboxes, n, 0, &queued, err, errlen) < 0)
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
    int rc = 1;

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
    if (cmd->run(&c, r, err, sizeof(err)) == 0)
        rc = 0;
    else if (c.pg != NULL && PQtransactionStatus(c.pg) != PQTRANS_IDLE)
        PQclear(PQexecParams(c.pg, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0));
out:
    if (rc != 0)
        fprintf(stderr, "passerelle admin %s%s%s: %s\n", cmd->group ? cmd->group : "",
                cmd->group ? " " : "", cmd->name, err);
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
    if (n > 0 && strcmp(words[0], "instances") == 0) {
        if (n > 1)
            cmd = admin_find("instances", words[1]);
        first = 2;
        if (cmd == NULL && (help || n == 1)) {
            admin_usage(help ? stdout : stderr, "instances");
            rc = help ? 0 : 2;
            goto out;
        }
    } else {
        if (n > 0)
            cmd = admin_find(NULL, words[0]);
        first = 1;
        if (cmd == NULL && (help || n == 0)) {
            admin_usage(help ? stdout : stderr, NULL);
            rc = help ? 0 : 2;
            goto out;
        }
    }
    if (cmd == NULL) {
        fprintf(stderr, "passerelle admin: unknown command \"%s%s%s\" (see --help)\n", words[0],
                n > 1 && strcmp(words[0], "instances") == 0 ? " " : "",
                n > 1 && strcmp(words[0], "instances") == 0 ? words[1] : "");
        goto out;
    }
    if (help) {
        admin_usage_cmd(cmd);
        rc = 0;
        goto out;
    }
    if (cmd->check(&req, n - first, words + first, err, sizeof(err)) < 0) {
        fprintf(stderr, "passerelle admin %s%s%s: %s (see --help)\n", cmd->group ? cmd->group : "",
                cmd->group ? " " : "", cmd->name, err);
        goto out;
    }
    rc = admin_execute(cmd, config_path, &req);
out:
    free(req.text);
    free(words);
    return rc;
}
