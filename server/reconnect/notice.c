/* Notices: the daily direct message listing a member's former contacts who arrived. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "app.h"
#include "bridge.h"
#include "bridgefed.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "log.h"
#include "metrics.h"
#include "notice.h"
#include "queue.h"
#include "texts.h"
#include "url.h"
#include "worker.h"
#include "xmalloc.h"

#define M_NOTICES "passerelle_notices_total"

char *
notice_follow_link(const char *member_actor, const char *target)
{
    static const char hex[] = "0123456789ABCDEF";
    struct url u;
    char why[64], *out, *o;
    size_t origin;

    if (member_actor == NULL || target == NULL || url_split(member_actor, &u, why, sizeof(why)) < 0)
        return NULL;
    /* The member's origin as their actor id writes it: everything before the path. */
    origin = (size_t)(u.path - member_actor);
    out = xmalloc(origin + sizeof("/authorize_interaction?uri=") + 3 * strlen(target));
    memcpy(out, member_actor, origin);
    o = out + origin;
    memcpy(o, "/authorize_interaction?uri=", sizeof("/authorize_interaction?uri=") - 1);
    o += sizeof("/authorize_interaction?uri=") - 1;
    /* RFC 3986: everything but the unreserved characters is escaped. */
    for (const unsigned char *t = (const unsigned char *)target; *t != '\0'; t++) {
        if (isalnum(*t) || *t == '-' || *t == '.' || *t == '_' || *t == '~') {
            *o++ = (char)*t;
        } else {
            *o++ = '%';
            *o++ = hex[*t >> 4];
            *o++ = hex[*t & 15];
        }
    }
    *o = '\0';
    return out;
}

/* key's text in lang with up to two name, value pairs (NULL names end it), onto f. */
static void
notice_put(FILE *f, const char *lang, const char *key, const char *n1, const char *v1,
           const char *n2, const char *v2)
{
    char *s = texts_format(lang, key, n1, v1, n2, v2, NULL);

    fputs(s, f);
    free(s);
}

/* One more sentence of an item: sentences are parted by a blank. */
static void
notice_sentence(FILE *f, const char *lang, const char *key, const char *n1, const char *v1,
                const char *n2, const char *v2)
{
    fputc(' ', f);
    notice_put(f, lang, key, n1, v1, n2, v2);
}

/* A Bluesky member's Bluesky contact: what their repository has, with the contact's profile. */
static void
notice_bsky_item(FILE *f, const struct notice_member *m, const struct notice_item *it)
{
    const char *key;

    if (!it->automatic)
        key = "notice.bsky_follow";
    else if (it->done)
        key = "notice.bsky_done";
    else if (!m->has_grant)
        key = "notice.bsky_connect";
    else if (it->held)
        key = "notice.bsky_held"; /* the sentence before says until when */
    else
        key = "notice.bsky_soon";
    notice_sentence(f, m->lang, key, "link", it->profile, "base", m->base_url);
}

static void
notice_item_text(FILE *f, const struct notice_member *m, const struct notice_item *it)
{
    int handle = it->x_handle != NULL && it->x_handle[0] != '\0';
    const char *l = m->lang;

    fputs("\n- ", f);
    if (it->held && handle)
        notice_put(f, l, "notice.claimed_by", "handle", it->x_handle, "acct", it->acct);
    else if (it->held)
        notice_put(f, l, "notice.no_handle_claimed", "acct", it->acct, NULL, NULL);
    else if (handle)
        notice_put(f, l, "notice.is_now", "handle", it->x_handle, "acct", it->acct);
    else
        notice_put(f, l, "notice.no_handle", "acct", it->acct, NULL, NULL);
    if (it->held) {
        if (it->automatic && it->hold_until != NULL)
            notice_sentence(f, l, "notice.waits", "until", it->hold_until, NULL, NULL);
        /* A Bluesky member sends the bridge no commands: their page ignores the contact. */
        if (m->bluesky)
            notice_sentence(f, l, "notice.report_bsky", "base", m->base_url, NULL, NULL);
        else
            notice_sentence(f, l, "notice.report", "acct", it->acct, "bridge", m->bridge);
    }
    if (it->profile != NULL) {
        notice_bsky_item(f, m, it);
    } else if (it->bridged != NULL) {
        /* Followed on Bluesky through the bridge, as the other way round (notice.done). */
        notice_sentence(f, l,
                        !it->bridged_auto  ? "notice.bridge_follow"
                        : it->bridged_done ? "notice.bridge_done"
                                           : "notice.bridge_soon",
                        "link", it->bridged, NULL, NULL);
    } else if (it->automatic && it->done) {
        notice_sentence(f, l, "notice.done", NULL, NULL, NULL, NULL);
    } else if (it->automatic) {
        if (!it->held)
            notice_sentence(f, l, m->has_grant ? "notice.soon" : "notice.connect", NULL, NULL, NULL,
                            NULL);
        else if (!m->has_grant)
            notice_sentence(f, l, "notice.connect", NULL, NULL, NULL, NULL);
    } else if (it->bluesky != NULL) {
        notice_sentence(f, l, "notice.on_bluesky", "link", it->bluesky, NULL, NULL);
    } else if (it->fediverse != NULL) {
        notice_sentence(f, l, "notice.on_fediverse", "link", it->fediverse, NULL, NULL);
    } else {
        char *link = notice_follow_link(m->actor, it->actor);

        if (link != NULL)
            notice_sentence(f, l, "notice.follow", "link", link, NULL, NULL);
        free(link);
    }
}

/* "12 of your former X followers are here. 9 of them follow you again. Your link page..." */
static void
notice_came_back(FILE *f, const struct notice_member *m, int after)
{
    char num[24];

    if (after)
        fputs("\n\n", f);
    snprintf(num, sizeof(num), "%lld", m->back_here);
    notice_put(f, m->lang, m->back_here == 1 ? "notice.came_back_one" : "notice.came_back_many",
               "count", num, NULL, NULL);
    if (m->back_again > 0) {
        snprintf(num, sizeof(num), "%lld", m->back_again);
        notice_sentence(f, m->lang, m->back_again == 1 ? "notice.again_one" : "notice.again_many",
                        "count", num, NULL, NULL);
    }
    notice_sentence(f, m->lang, "notice.came_back_page", NULL, NULL, NULL, NULL);
}

char *
notice_text(const struct notice_member *m, const struct notice_item *items, size_t n, size_t total)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    char num[24];
    int automatic = 0;

    if (f == NULL)
        abort(); /* out of memory, as in xmalloc */
    if (total < n)
        total = n;
    if (total > 0) {
        snprintf(num, sizeof(num), "%zu", total);
        if (m->bluesky)
            notice_put(f, m->lang, total == 1 ? "notice.one_bsky" : "notice.many_bsky", "count",
                       num, NULL, NULL);
        else
            notice_put(f, m->lang, total == 1 ? "notice.one" : "notice.many", "count", num, NULL,
                       NULL);
        fputc('\n', f);
    }
    for (size_t i = 0; i < n; i++) {
        notice_item_text(f, m, &items[i]);
        /* On Bluesky, follows through the bridge are written in the member's repository too. */
        automatic |= items[i].automatic || (m->bluesky && items[i].bridged_auto);
    }
    if (total > n) {
        snprintf(num, sizeof(num), "%zu", total - n);
        fputs("\n\n", f);
        notice_put(f, m->lang, m->bluesky ? "notice.more_bsky" : "notice.more", "count", num,
                   "base", m->base_url);
    }
    if (automatic) {
        fputs("\n\n", f);
        notice_put(f, m->lang, m->bluesky ? "notice.undo_bsky" : "notice.undo", NULL, NULL, NULL,
                   NULL);
    }
    if (m->back_news && m->back_here > 0)
        notice_came_back(f, m, total > 0);
    if (fclose(f) != 0)
        abort();
    return s;
}

/* --- the worker ------------------------------------------------------------------------------ */

/*
 * The member whose notice is due first, with what decides whether to write: wants (notify
 * on and linked), too_soon (told within the interval, $1 hours) and when that ends, and
 * whether automatic follows can run (a grant). The member's row is held FOR NO KEY UPDATE
 * (only last_notified_at changes): FOR UPDATE also stopped every insert or key update naming
 * the member (member_lists, follow_actions), and the list worker, holding the pair's row
 * while it waited for that lock, deadlocked with this transaction's marking of the same pair
 * (40P01 in a full make test, the member's follows then stalled for a lease).
 */
static const char sql_claim[] =
    "SELECT m.id, m.actor_uri, coalesce(m.acct, m.actor_uri), m.inbox, m.lang,"
    " m.notify AND m.state = 'linked',"
    " coalesce(m.last_notified_at > now() - $1::int * interval '1 hour', false),"
    " m.last_notified_at + $1::int * interval '1 hour',"
    " EXISTS (SELECT 1 FROM oauth_grants g WHERE g.member_id = m.id)"
    "  OR EXISTS (SELECT 1 FROM atproto_grants g WHERE g.member_id = m.id),"
    /* Across the networks what to say depends on the bridge: its answers come first. */
    " EXISTS (SELECT 1 FROM follow_actions f JOIN members a ON a.id = f.followee_id"
    "  WHERE f.follower_id = m.id AND f.notified_at IS NULL AND a.network <> m.network"
    "   AND (a.bridge_checked_at IS NULL"
    "    OR EXISTS (SELECT 1 FROM bridge_due d WHERE d.member_id = a.id))),"
    " m.network = 'atproto'"
    " FROM notice_due n JOIN members m ON m.id = n.member_id"
    " WHERE n.due_at <= now() ORDER BY n.due_at LIMIT 1"
    " FOR UPDATE OF n SKIP LOCKED FOR NO KEY UPDATE OF m SKIP LOCKED";

/*
 * Every row the member was not told about (a followee still linked and findable), marked
 * told in the same statement; the first $2
 * for the message, each with the total.
 */
static const char sql_rows[] =
    "WITH r AS (SELECT f.id, f.created_at, f.method, f.state, f.hold_until,"
    "  CASE WHEN a.network = 'atproto' AND b.network = 'atproto' THEN a.acct"
    "   WHEN a.network = 'atproto' THEN coalesce(a.bridged_handle, a.acct)"
    "   WHEN b.network = 'atproto' THEN coalesce(a.bridged_handle, a.acct, a.actor_uri)"
    "   ELSE coalesce(a.acct, a.actor_uri) END AS acct,"
    "  CASE WHEN a.network = 'atproto' THEN a.bridged_id ELSE a.actor_uri END AS actor_uri,"
    "  a.x_handle, CASE WHEN a.network = 'atproto' AND b.network <> 'atproto'"
    "   AND a.bridged_id IS NULL THEN a.acct END AS bluesky,"
    /* Both on Bluesky: the contact's handle, for their profile. */
    "  CASE WHEN a.network = 'atproto' AND b.network = 'atproto' THEN a.acct END AS own,"
    /* A Bluesky member's fediverse contact with a bridged account: its handle. */
    "  CASE WHEN a.network <> 'atproto' AND b.network = 'atproto' THEN a.bridged_handle END"
    "   AS bridged,"
    "  CASE WHEN a.network <> 'atproto' AND b.network = 'atproto' AND a.bridged_id IS NULL"
    "   THEN a.actor_uri END AS fediverse"
    "  FROM follow_actions f JOIN members a ON a.id = f.followee_id"
    "  JOIN members b ON b.id = f.follower_id"
    "  WHERE f.follower_id = $1::bigint AND f.notified_at IS NULL"
    "   AND f.state IN ('planned', 'held', 'done', 'failed')"
    "   AND a.state = 'linked' AND a.findable),"
    " mark AS (UPDATE follow_actions f SET notified_at = now() FROM r WHERE f.id = r.id"
    "  RETURNING 1)"
    " SELECT r.acct, r.actor_uri, r.x_handle, r.method = 'api' AND r.state <> 'failed',"
    "  r.state = 'done', r.state = 'held' AND r.hold_until > now(),"
    "  to_char(r.hold_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), (SELECT count(*) FROM mark),"
    "  r.bluesky, r.bridged, r.method = 'atproto' AND r.state <> 'failed', r.fediverse, r.own"
    " FROM r ORDER BY r.created_at, r.id LIMIT $2::int";

/*
 * Who came back (contacts_came_back): former followers here, those following the member
 * again, and those not told yet, marked told in the same statement.
 */
static const char sql_back[] =
    "WITH b AS (SELECT contact_id, told_at, again FROM contacts_came_back"
    "  WHERE member_id = $1::bigint),"
    " mark AS (UPDATE contacts c SET told_at = now() FROM b"
    "  WHERE c.member_id = $1::bigint AND c.dir = 'followers' AND c.contact_id = b.contact_id"
    "   AND b.told_at IS NULL RETURNING 1)"
    " SELECT count(*), count(*) FILTER (WHERE again), (SELECT count(*) FROM mark) FROM b";

static const char sql_dm[] =
    "INSERT INTO atproto_dms (member_id, did, body) VALUES ($1::bigint, $2, $3)";
static const char sql_forget[] = "DELETE FROM notice_due WHERE member_id = $1::bigint";
static const char sql_later[] =
    "UPDATE notice_due SET due_at = $2::timestamptz WHERE member_id = $1::bigint";
static const char sql_wait[] = "UPDATE notice_due SET due_at = now() + $2::int * interval"
                               " '1 millisecond' WHERE member_id = $1::bigint";
static const char sql_sent[] = "WITH d AS (DELETE FROM notice_due WHERE member_id = $1::bigint)"
                               " UPDATE members SET last_notified_at = now() WHERE id = $1::bigint";

struct notice {
    struct app *app;
    struct worker *w;
    char interval[16], cap[16], bridge_wait[16];
};

/* One claimed member; owned by the transaction until notice_done_cb. */
struct notice_step {
    struct notice *n; /* borrowed: used only while worker_run_live */
    struct worker_run *run;
    char member[24];
    char *actor, *acct, *inbox, *lang;
    int has_grant, bluesky;
    long long back_here, back_again, back_news;
    const char *outcome; /* for the log: sent, empty, notify_off, later */
    int queued, listed;
    long long total;
};

static int
notice_rows_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct notice_step *s = arg;
    struct app *app;
    int n = PQntuples(res);
    struct notice_item items[NOTICE_MAX_NAMES];
    char *profiles[NOTICE_MAX_NAMES] = { NULL }, *bridged[NOTICE_MAX_NAMES] = { NULL };
    char *own[NOTICE_MAX_NAMES] = { NULL };
    struct notice_member m;
    char *bridge, *text;

    if (!worker_run_live(s->run))
        return -1; /* stopping: the rows stay untold for the next start */
    app = s->n->app;
    if (n == 0 && s->back_news == 0) {
        s->outcome = "empty"; /* every row was undone since it was planned */
        dbtx_push(tx, sql_forget, NULL, NULL, 1, s->member);
        return 0;
    }
    if (n > NOTICE_MAX_NAMES)
        return -1;
    for (int i = 0; i < n; i++) {
        items[i].acct = PQgetvalue(res, i, 0);
        items[i].actor = PQgetvalue(res, i, 1);
        items[i].x_handle = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
        items[i].automatic = strcmp(PQgetvalue(res, i, 3), "t") == 0;
        items[i].done = strcmp(PQgetvalue(res, i, 4), "t") == 0;
        items[i].held = strcmp(PQgetvalue(res, i, 5), "t") == 0;
        items[i].hold_until = PQgetisnull(res, i, 6) ? NULL : PQgetvalue(res, i, 6);
        if (!PQgetisnull(res, i, 8))
            profiles[i] = bridgefed_profile_url(PQgetvalue(res, i, 8));
        items[i].bluesky = profiles[i];
        if (!PQgetisnull(res, i, 9))
            bridged[i] = bridgefed_profile_url(PQgetvalue(res, i, 9));
        items[i].bridged = bridged[i];
        items[i].bridged_auto = strcmp(PQgetvalue(res, i, 10), "t") == 0;
        items[i].bridged_done = items[i].done;
        items[i].fediverse = PQgetisnull(res, i, 11) ? NULL : PQgetvalue(res, i, 11);
        items[i].profile = NULL;
        if (!PQgetisnull(res, i, 12)) {
            /* Both on Bluesky: automatic means written in the member's repository. */
            own[i] = bridgefed_profile_url(PQgetvalue(res, i, 12));
            items[i].profile = own[i];
            items[i].automatic = items[i].bridged_auto;
            items[i].bridged_auto = 0;
        }
    }
    s->total = n > 0 ? strtoll(PQgetvalue(res, 0, 7), NULL, 10) : 0;
    s->listed = n;
    bridge = xasprintf("%s@%s", app->cfg->bridge_username, app->cfg->host);
    m.lang = s->lang;
    m.actor = s->actor;
    m.bridge = bridge;
    m.base_url = app->cfg->base_url;
    m.has_grant = s->has_grant;
    m.bluesky = s->bluesky;
    m.back_here = s->back_here;
    m.back_again = s->back_again;
    m.back_news = s->back_news > 0;
    text = notice_text(&m, items, (size_t)n, (size_t)s->total);
    if (s->bluesky) {
        /* A direct message on Bluesky, sent by atdm.c from the bridge's Bluesky account. */
        dbtx_push(tx, sql_dm, NULL, NULL, 3, s->member, s->actor, text);
        s->queued = 1;
    } else {
        s->queued = bridge_push_notice(tx, app, s->actor, s->acct, s->inbox, text);
    }
    s->outcome = "sent";
    dbtx_push(tx, sql_sent, NULL, NULL, 1, s->member);
    free(text);
    free(bridge);
    for (int i = 0; i < n; i++) {
        free(profiles[i]);
        free(bridged[i]);
        free(own[i]);
    }
    return 0;
}

static int
notice_back_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct notice_step *s = arg;

    (void)tx;
    if (PQntuples(res) != 1)
        return -1;
    s->back_here = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    s->back_again = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    s->back_news = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    return 0;
}

static int
notice_claimed_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct notice_step *s = arg;

    if (PQntuples(res) == 0 || !worker_run_live(s->run))
        return 1;
    snprintf(s->member, sizeof(s->member), "%s", PQgetvalue(res, 0, 0));
    if (strcmp(PQgetvalue(res, 0, 5), "t") != 0) {
        s->outcome = "notify_off"; /* or not linked: nothing to say, ever, until it changes */
        dbtx_push(tx, sql_forget, NULL, NULL, 1, s->member);
        return 0;
    }
    if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
        s->outcome = "later"; /* batched into the next message */
        dbtx_push(tx, sql_later, NULL, NULL, 2, s->member, PQgetvalue(res, 0, 7));
        return 0;
    }
    if (strcmp(PQgetvalue(res, 0, 9), "t") == 0) {
        s->outcome = "bridge_wait"; /* a contact on the other network is being looked up */
        dbtx_push(tx, sql_wait, NULL, NULL, 2, s->member, s->n->bridge_wait);
        return 0;
    }
    s->bluesky = strcmp(PQgetvalue(res, 0, 10), "t") == 0;
    if (s->bluesky && *s->n->app->cfg->bluesky_dm_handle == '\0') {
        /* No way to write to a Bluesky member: their page lists everyone, rows stay untold. */
        s->outcome = "no_channel";
        dbtx_push(tx, sql_forget, NULL, NULL, 1, s->member);
        return 0;
    }
    s->actor = xstrdup(PQgetvalue(res, 0, 1));
    s->acct = xstrdup(PQgetvalue(res, 0, 2));
    s->inbox = PQgetisnull(res, 0, 3) ? NULL : xstrdup(PQgetvalue(res, 0, 3));
    s->lang = xstrdup(PQgetvalue(res, 0, 4));
    s->has_grant = strcmp(PQgetvalue(res, 0, 8), "t") == 0;
    dbtx_push(tx, sql_back, notice_back_cb, s, 1, s->member);
    dbtx_push(tx, sql_rows, notice_rows_cb, s, 2, s->member, s->n->cap);
    return 0;
}

static void
notice_done_cb(enum db_outcome outcome, const char *err, void *arg)
{
    struct notice_step *s = arg;
    int found = s->member[0] != '\0';

    if (outcome != DB_OK) {
        log_warn("notice_failed", "member=%s error=%s", found ? s->member : "-", log_q(err));
        found = 0;
    } else if (found) {
        char labels[32];

        snprintf(labels, sizeof(labels), "result=\"%s\"", s->outcome);
        metrics_add(M_NOTICES, labels, 1);
        log_info("notice",
                 "member=%s result=%s listed=%d total=%lld came_back=%lld new=%lld"
                 " queued=%d",
                 s->member, s->outcome, s->listed, s->total, s->back_here, s->back_news, s->queued);
        if (s->queued > 0 && worker_run_live(s->run))
            queue_kick(s->n->app->queue);
    }
    worker_run_done(s->run, found);
    free(s->actor);
    free(s->acct);
    free(s->inbox);
    free(s->lang);
    free(s);
}

static void
notice_step(struct worker_run *run, void *arg)
{
    struct notice *n = arg;
    struct notice_step *s = xcalloc(1, sizeof(*s));
    struct dbtx *tx;

    s->n = n;
    s->run = run;
    tx = dbtx_new(n->app->db, notice_done_cb, s);
    dbtx_push(tx, sql_claim, notice_claimed_cb, s, 1, n->interval);
    dbtx_run(tx);
}

struct notice *
notice_new(struct app *app)
{
    struct notice *n = xcalloc(1, sizeof(*n));

    n->app = app;
    snprintf(n->interval, sizeof(n->interval), "%d", app->cfg->notice_interval_hours);
    snprintf(n->cap, sizeof(n->cap), "%d", NOTICE_MAX_NAMES);
    snprintf(n->bridge_wait, sizeof(n->bridge_wait), "%d", app->cfg->bridge_poll_ms);
    metrics_describe(M_NOTICES, METRICS_COUNTER,
                     "Members whose notice came due, by result (sent, later, empty, notify_off, "
                     "bridge_wait, no_channel).");
    n->w = worker_new(app->base, app->cfg->notice_poll_ms, notice_step, n);
    worker_start(n->w);
    return n;
}

void
notice_free(struct notice *n)
{
    if (n == NULL)
        return;
    worker_free(n->w);
    free(n);
}
