/* An X archive into the database: id lists in memory, then one transaction with a COPY. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "bridge.h"
#include "config.h"
#include "dbtx.h"
#include "import.h"
#include "log.h"
#include "match.h"
#include "queue.h"
#include "texts.h"
#include "xmalloc.h"
#include "zipread.h"

#define IMPORT_COPY_ROWS 4096 /* rows per COPY chunk: about 250 KiB */

/* --- parsing --------------------------------------------------------------------------------- */

struct import_lists {
    struct import_data *d;
    size_t cap_followers, cap_following, cap_blocked, cap_muted;
};

static int
import_push(uint64_t **v, size_t *n, size_t *cap, uint64_t id, char *err, size_t errlen)
{
    if (*n >= IMPORT_MAX_EDGES) {
        snprintf(err, errlen, "the archive lists more than %u accounts", IMPORT_MAX_EDGES);
        return -1;
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        *v = xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = id;
    return 0;
}

static int
import_edge_cb(void *ctx, enum archive_kind kind, uint64_t id, char *err, size_t errlen)
{
    struct import_lists *l = ctx;

    if (id > INT64_MAX) {
        /* X ids are below 2^63 (PostgreSQL's bigint); a larger one is not a real account. */
        snprintf(err, errlen, "an account id is larger than any X id: %" PRIu64, id);
        return -1;
    }
    if (kind == ARCHIVE_FOLLOWER)
        return import_push(&l->d->followers, &l->d->nfollowers, &l->cap_followers, id, err, errlen);
    if (kind == ARCHIVE_BLOCK)
        return import_push(&l->d->blocked, &l->d->nblocked, &l->cap_blocked, id, err, errlen);
    if (kind == ARCHIVE_MUTE)
        return import_push(&l->d->muted, &l->d->nmuted, &l->cap_muted, id, err, errlen);
    return import_push(&l->d->following, &l->d->nfollowing, &l->cap_following, id, err, errlen);
}

static int
import_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Sorts, drops duplicates (parts may overlap) and the owner's own id. */
static void
import_normalise(uint64_t *v, size_t *n, uint64_t self)
{
    size_t k = 0;

    if (*n == 0)
        return; /* an account nobody follows has no list at all: qsort must not get NULL */
    qsort(v, *n, sizeof(*v), import_cmp);
    for (size_t i = 0; i < *n; i++)
        if (v[i] != self && (k == 0 || v[k - 1] != v[i]))
            v[k++] = v[i];
    *n = k;
}

enum import_source { IMPORT_MEM, IMPORT_PATH, IMPORT_FILES };

static int
import_parse(enum import_source src, const void *buf, size_t len, const char *const *paths,
             size_t n, struct import_data *out, char *err, size_t errlen)
{
    struct import_lists l = { out, 0, 0, 0, 0 };
    struct archive_callbacks cb = { &l, NULL, import_edge_cb };
    int rc;

    memset(out, 0, sizeof(*out));
    if (src == IMPORT_MEM) {
        struct zipread *z = zipread_open_mem(buf, len, NULL, err, errlen);

        if (z == NULL)
            return -1;
        rc = archive_read_zipread(z, &cb, &out->result, err, errlen);
        zipread_close(z);
    } else if (src == IMPORT_PATH) {
        rc = archive_read_zip((const char *)buf, NULL, &cb, &out->result, err, errlen);
    } else {
        rc = archive_read_files(paths, n, &cb, &out->result, err, errlen);
    }
    if (rc == 0 && out->result.account.account_id > INT64_MAX) {
        snprintf(err, errlen, "account.js: the account id is larger than any X id");
        rc = -1;
    }
    if (rc < 0) {
        import_data_free(out);
        return -1;
    }
    import_normalise(out->followers, &out->nfollowers, out->result.account.account_id);
    import_normalise(out->following, &out->nfollowing, out->result.account.account_id);
    import_normalise(out->blocked, &out->nblocked, out->result.account.account_id);
    import_normalise(out->muted, &out->nmuted, out->result.account.account_id);
    return 0;
}

int
import_parse_zip_mem(const void *buf, size_t len, struct import_data *out, char *err, size_t errlen)
{
    return import_parse(IMPORT_MEM, buf, len, NULL, 0, out, err, errlen);
}

int
import_parse_zip_path(const char *path, struct import_data *out, char *err, size_t errlen)
{
    return import_parse(IMPORT_PATH, path, 0, NULL, 0, out, err, errlen);
}

int
import_parse_files(const char *const *paths, size_t n, struct import_data *out, char *err,
                   size_t errlen)
{
    return import_parse(IMPORT_FILES, NULL, 0, paths, n, out, err, errlen);
}

void
import_data_free(struct import_data *d)
{
    if (d == NULL)
        return;
    free(d->followers);
    free(d->following);
    free(d->blocked);
    free(d->muted);
    d->followers = d->following = d->blocked = d->muted = NULL;
    d->nfollowers = d->nfollowing = d->nblocked = d->nmuted = 0;
}

const char *
import_status_name(enum import_status s)
{
    static const char *const names[] = { "linked",         "disputed",    "no_member", "suspended",
                                         "unavailable",    "failed",      "refused",   "locked",
                                         "verified_other", "rate_limited" };

    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "failed";
}

/* --- storing --------------------------------------------------------------------------------- */

/* One import's transaction; owned by itself until import_done_cb. */
struct import_job {
    struct app *app;
    struct import_data *data;
    import_done_fn cb;
    void *arg;
    enum import_status status;
    char member_id[24];
    char x_id[24];
    char hold[16]; /* follow_hold_hours in seconds: a claim older than this is settled */
    int new_claim; /* the member does not claim this X id yet */
    /* The member, from the lock, for messages and the claim log. */
    char *actor, *acct, *inbox, *host, *lang;
    int queued;
    /* COPY positions: the followers list first, then the following list; blocked, muted. */
    size_t pos, xpos;
    char buf[IMPORT_COPY_ROWS * 64]; /* two X ids, the member id, tabs and newline */
};

/* The member, and how many X ids it and its home host claimed anew in the last day. */
static const char sql_lock[] =
    "SELECT m.x_id, m.state, m.actor_uri, m.acct, m.inbox, m.host,"
    " m.x_verified_at IS NOT NULL,"
    " m.x_id IS DISTINCT FROM $2::bigint AND NOT EXISTS (SELECT 1 FROM x_claims c"
    "  WHERE c.member_id = m.id AND c.x_id = $2::bigint),"
    " (SELECT count(*) FROM claim_log l WHERE l.member_id = m.id AND l.outcome <> 'verified'"
    "  AND l.created_at > now() - interval '1 day') >= $3::int"
    "  OR (SELECT count(*) FROM claim_log l WHERE l.host = m.host AND l.outcome <> 'verified'"
    "  AND l.created_at > now() - interval '1 day') >= $4::int,"
    " m.lang"
    " FROM members m WHERE m.id = $1::bigint FOR UPDATE";
/* settled: linked and verified with X, or claimed longer ago than the hold. */
static const char sql_rivals[] =
    "SELECT id, actor_uri, acct, inbox, x_id IS NOT DISTINCT FROM $2::bigint AND state = 'linked'"
    "  AND (x_verified_at IS NOT NULL OR linked_at + $3::int * interval '1 second' <= now()),"
    " lang FROM members"
    " WHERE id <> $1::bigint AND (x_id = $2::bigint"
    "  OR id IN (SELECT member_id FROM x_claims WHERE x_id = $2::bigint))"
    " ORDER BY id FOR UPDATE";
static const char sql_claim[] = "INSERT INTO x_claims (x_id, member_id)"
                                " VALUES ($2::bigint, $1::bigint) ON CONFLICT DO NOTHING";
static const char sql_freeze[] =
    "UPDATE members SET state = 'disputed', match_due_at = now(), updated_at = now()"
    " WHERE id = $1::bigint OR id IN (SELECT member_id FROM x_claims WHERE x_id = $2::bigint)"
    "  OR x_id = $2::bigint";
static const char sql_log[] = "INSERT INTO claim_log (member_id, host, x_id, outcome, incumbent_id)"
                              " VALUES ($1::bigint, $2, $3::bigint, $4, $5::bigint)";
/*
 * What this member's previous archive said, and nothing another archive said: its rows name
 * the X id it held (or this one), and are found through them by the two indexes.
 */
static const char sql_forget_edges[] =
    "DELETE FROM x_edges e USING (SELECT x FROM (VALUES ($2::bigint)) v(x)"
    "  UNION SELECT x_id FROM members WHERE id = $1::bigint AND x_id IS NOT NULL) o"
    " WHERE (e.follower_x_id = o.x OR e.followee_x_id = o.x) AND e.member_id = $1::bigint";
static const char sql_forget_claims[] =
    "DELETE FROM x_claims WHERE member_id = $1::bigint AND x_id <> $2::bigint";
static const char sql_copy[] = "COPY x_edges (follower_x_id, followee_x_id, member_id) FROM STDIN";
/* Blocks and mutes are the uploader's own, replaced per list the archive holds ($2, $3). */
static const char sql_forget_excludes[] =
    "DELETE FROM member_excludes WHERE member_id = $1::bigint"
    " AND ((reason = 'blocked' AND $2::boolean) OR (reason = 'muted' AND $3::boolean))";
static const char sql_copy_excludes[] = "COPY member_excludes (member_id, x_id, reason) FROM STDIN";
/* A newer archive of the same X id keeps the claim's time: its hold does not start over. */
static const char sql_link[] =
    "UPDATE members SET linked_at = CASE WHEN x_id = $2::bigint AND linked_at IS NOT NULL"
    "  THEN linked_at ELSE now() END,"
    " x_id = $2::bigint, x_handle = $3, state = 'linked', match_due_at = now(),"
    " updated_at = now() WHERE id = $1::bigint";

static int
import_fill(void *arg, const char **data, size_t *len)
{
    struct import_job *j = arg;
    const struct import_data *d = j->data;
    uint64_t self = d->result.account.account_id;
    size_t total = d->nfollowers + d->nfollowing, n = 0;

    if (j->pos >= total)
        return 0;
    for (int i = 0; i < IMPORT_COPY_ROWS && j->pos < total; i++, j->pos++) {
        int w;

        if (j->pos < d->nfollowers)
            w = snprintf(j->buf + n, sizeof(j->buf) - n, "%" PRIu64 "\t%" PRIu64 "\t%s\n",
                         d->followers[j->pos], self, j->member_id);
        else
            w = snprintf(j->buf + n, sizeof(j->buf) - n, "%" PRIu64 "\t%" PRIu64 "\t%s\n", self,
                         d->following[j->pos - d->nfollowers], j->member_id);
        n += (size_t)w;
    }
    *data = j->buf;
    *len = n;
    if (d->progress != NULL)
        d->progress(j->pos, total, d->progress_arg);
    return 1;
}

/* The blocked ids, then the muted ones, as member_excludes rows. */
static int
import_fill_excludes(void *arg, const char **data, size_t *len)
{
    struct import_job *j = arg;
    const struct import_data *d = j->data;
    size_t total = d->nblocked + d->nmuted, n = 0;

    if (j->xpos >= total)
        return 0;
    for (int i = 0; i < IMPORT_COPY_ROWS && j->xpos < total; i++, j->xpos++) {
        int blocked = j->xpos < d->nblocked;
        uint64_t id = blocked ? d->blocked[j->xpos] : d->muted[j->xpos - d->nblocked];

        n += (size_t)snprintf(j->buf + n, sizeof(j->buf) - n, "%s\t%" PRIu64 "\t%s\n", j->member_id,
                              id, blocked ? "blocked" : "muted");
    }
    *data = j->buf;
    *len = n;
    return 1;
}

/* key's text, in the language of the person told, with the claimed handle and who claims it. */
static void
import_tell(struct dbtx *tx, struct import_job *j, const char *actor, const char *acct,
            const char *inbox, const char *lang, const char *key)
{
    const char *who = j->acct != NULL ? j->acct : j->actor;
    char *text;

    if (actor == NULL || inbox == NULL || *inbox == '\0')
        return;
    text = texts_format(lang, key, "handle", j->data->result.account.username, "who", who, NULL);
    j->queued += bridge_push_notice(tx, j->app, actor, acct ? acct : actor, inbox, text);
    free(text);
}

static void
import_log(struct dbtx *tx, struct import_job *j, const char *outcome, const char *incumbent)
{
    if (j->new_claim)
        dbtx_push(tx, sql_log, NULL, NULL, 5, j->member_id, j->host, j->x_id, outcome, incumbent);
}

/* The claim stands: this archive replaces the member's previous one. */
static void
import_link(struct dbtx *tx, struct import_job *j)
{
    dbtx_push(tx, sql_forget_edges, NULL, NULL, 2, j->member_id, j->x_id);
    dbtx_push(tx, sql_forget_claims, NULL, NULL, 2, j->member_id, j->x_id);
    dbtx_push(tx, sql_claim, NULL, NULL, 2, j->member_id, j->x_id);
    dbtx_push_copy(tx, sql_copy, import_fill, j, NULL, NULL);
    if (j->data->result.block_files > 0 || j->data->result.mute_files > 0) {
        dbtx_push(tx, sql_forget_excludes, NULL, NULL, 3, j->member_id,
                  j->data->result.block_files > 0 ? "true" : "false",
                  j->data->result.mute_files > 0 ? "true" : "false");
        dbtx_push_copy(tx, sql_copy_excludes, import_fill_excludes, j, NULL, NULL);
    }
    dbtx_push(tx, sql_link, NULL, NULL, 3, j->member_id, j->x_id, j->data->result.account.username);
    import_log(tx, j, "linked", NULL);
}

/*
 * The X id is held by a settled claim (verified, or past its hold): the new one is refused,
 * nothing of the holder changes, the holder is told who tried, and the claim log keeps it
 * for the admin (and counts it against the claimant's limits).
 */
static void
import_refuse(struct dbtx *tx, struct import_job *j, PGresult *res, int row)
{
    j->status = IMPORT_REFUSED;
    import_tell(tx, j, PQgetvalue(res, row, 1),
                PQgetisnull(res, row, 2) ? NULL : PQgetvalue(res, row, 2),
                PQgetisnull(res, row, 3) ? NULL : PQgetvalue(res, row, 3), PQgetvalue(res, row, 5),
                "claims.refused");
    import_log(tx, j, "refused", PQgetvalue(res, row, 0));
    log_info("import_refused", "member=%s incumbent=%s", j->member_id, PQgetvalue(res, row, 0));
}

static int
import_rivals_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct import_job *j = arg;
    const char *holder = NULL;

    if (PQntuples(res) == 0) {
        import_link(tx, j);
        return 0;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 4), "t") == 0) {
            import_refuse(tx, j, res, i);
            return 0;
        }
    }
    /* A second claim within the hold: freeze both, tell both, store no edges from it. */
    j->status = IMPORT_DISPUTED;
    dbtx_push(tx, sql_claim, NULL, NULL, 2, j->member_id, j->x_id);
    dbtx_push(tx, sql_freeze, NULL, NULL, 2, j->member_id, j->x_id);
    import_tell(tx, j, j->actor, j->acct, j->inbox, j->lang, "claims.disputed");
    for (int i = 0; i < PQntuples(res); i++) {
        import_tell(tx, j, PQgetvalue(res, i, 1),
                    PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
                    PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3), PQgetvalue(res, i, 5),
                    "claims.disputed");
        if (holder == NULL)
            holder = PQgetvalue(res, i, 0);
    }
    import_log(tx, j, "disputed", holder);
    log_info("import_disputed", "member=%s rivals=%d", j->member_id, PQntuples(res));
    return 0;
}

static const char *
import_col(PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

static int
import_lock_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct import_job *j = arg;
    int disputed, verified, holds_it, limited;

    if (PQntuples(res) != 1) {
        j->status = IMPORT_NO_MEMBER;
        return 1;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "suspended") == 0) {
        j->status = IMPORT_SUSPENDED;
        return 1;
    }
    disputed = strcmp(PQgetvalue(res, 0, 1), "disputed") == 0;
    verified = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
    j->new_claim = strcmp(PQgetvalue(res, 0, 7), "t") == 0;
    limited = strcmp(PQgetvalue(res, 0, 8), "t") == 0;
    holds_it = import_col(res, 0) != NULL && strcmp(PQgetvalue(res, 0, 0), j->x_id) == 0;
    /* Refusals below change nothing (return 1 commits an empty transaction). */
    if (disputed) {
        /* A frozen member waits for the admin: no other X id, and no second round of messages. */
        j->status = j->new_claim ? IMPORT_LOCKED : IMPORT_DISPUTED;
        return 1;
    }
    if (verified && !holds_it) {
        j->status = IMPORT_VERIFIED_OTHER;
        return 1;
    }
    if (j->new_claim && limited) {
        j->status = IMPORT_RATE_LIMITED;
        return 1;
    }
    j->actor = xstrdup(PQgetvalue(res, 0, 2));
    j->acct = import_col(res, 3) ? xstrdup(import_col(res, 3)) : NULL;
    j->inbox = import_col(res, 4) ? xstrdup(import_col(res, 4)) : NULL;
    j->host = xstrdup(PQgetvalue(res, 0, 5));
    j->lang = xstrdup(PQgetvalue(res, 0, 9));
    if (holds_it) {
        import_link(tx, j); /* a newer archive of the X id it holds: nobody to dispute with */
        return 0;
    }
    dbtx_push(tx, sql_rivals, import_rivals_cb, j, 3, j->member_id, j->x_id, j->hold);
    return 0;
}

static void
import_done_cb(enum db_outcome outcome, const char *err, void *arg)
{
    struct import_job *j = arg;
    enum import_status st = j->status;

    if (outcome == DB_UNAVAILABLE)
        st = IMPORT_UNAVAILABLE;
    else if (outcome != DB_OK)
        st = IMPORT_FAILED;
    if (outcome == DB_OK && j->queued > 0 && j->app->queue != NULL)
        queue_kick(j->app->queue);
    if (outcome == DB_OK)
        match_kick(j->app->match); /* the member (or a frozen pair) is due for matching */
    log_info("import_stored",
             "member=%s status=%s followers=%zu following=%zu blocked=%zu muted=%zu error=%s",
             j->member_id, import_status_name(st), j->data->nfollowers, j->data->nfollowing,
             j->data->nblocked, j->data->nmuted, log_q(err));
    j->cb(st, j->data, j->arg);
    import_data_free(j->data);
    free(j->data); /* taken by import_store, struct and lists */
    free(j->actor);
    free(j->acct);
    free(j->inbox);
    free(j->host);
    free(j->lang);
    free(j);
}

void
import_store(struct app *app, const char *member_id, struct import_data *data, import_done_fn cb,
             void *arg)
{
    struct import_job *j = xcalloc(1, sizeof(*j));
    struct dbtx *tx = dbtx_new(app->db, import_done_cb, j);
    char per_member[16], per_host[16];

    j->app = app;
    j->data = data;
    j->cb = cb;
    j->arg = arg;
    j->status = IMPORT_LINKED;
    snprintf(j->member_id, sizeof(j->member_id), "%s", member_id);
    snprintf(j->x_id, sizeof(j->x_id), "%" PRIu64, data->result.account.account_id);
    snprintf(j->hold, sizeof(j->hold), "%d", app->cfg->follow_hold_hours * 3600);
    snprintf(per_member, sizeof(per_member), "%d", app->cfg->claims_per_member);
    snprintf(per_host, sizeof(per_host), "%d", app->cfg->claims_per_instance);
    dbtx_push(tx, sql_lock, import_lock_cb, j, 4, j->member_id, j->x_id, per_member, per_host);
    dbtx_run(tx);
}
