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
#include "xmalloc.h"
#include "zipread.h"

#define IMPORT_COPY_ROWS 4096 /* rows per COPY chunk: about 250 KiB */

/* --- parsing --------------------------------------------------------------------------------- */

struct import_lists {
    struct import_data *d;
    size_t cap_followers, cap_following;
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
    struct import_lists l = { out, 0, 0 };
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
    d->followers = d->following = NULL;
    d->nfollowers = d->nfollowing = 0;
}

const char *
import_status_name(enum import_status s)
{
    static const char *const names[] = { "linked",    "disputed",    "no_member",
                                         "suspended", "unavailable", "failed" };

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
    /* The member, from the lock, for a dispute message. */
    char *actor, *acct, *inbox;
    int queued;
    /* COPY position: the followers list first, then the following list. */
    size_t pos;
    char buf[IMPORT_COPY_ROWS * 64]; /* two X ids, the member id, tabs and newline */
};

static const char sql_lock[] = "SELECT x_id, state, actor_uri, acct, inbox FROM members"
                               " WHERE id = $1::bigint FOR UPDATE";
static const char sql_rivals[] =
    "SELECT id, actor_uri, acct, inbox FROM members"
    " WHERE id <> $1::bigint AND (x_id = $2::bigint"
    "  OR id IN (SELECT member_id FROM x_claims WHERE x_id = $2::bigint))"
    " ORDER BY id FOR UPDATE";
static const char sql_claim[] = "INSERT INTO x_claims (x_id, member_id)"
                                " VALUES ($2::bigint, $1::bigint) ON CONFLICT DO NOTHING";
static const char sql_freeze[] =
    "UPDATE members SET state = 'disputed', match_due_at = now(), updated_at = now()"
    " WHERE id = $1::bigint OR id IN (SELECT member_id FROM x_claims WHERE x_id = $2::bigint)"
    "  OR x_id = $2::bigint";
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
static const char sql_link[] =
    "UPDATE members SET x_id = $2::bigint, x_handle = $3, state = 'linked',"
    " linked_at = now(), match_due_at = now(), updated_at = now() WHERE id = $1::bigint";

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

static void
import_tell(struct dbtx *tx, struct import_job *j, const char *actor, const char *acct,
            const char *inbox)
{
    char text[512];
    const char *handle = j->data->result.account.username;

    if (actor == NULL || inbox == NULL || *inbox == '\0')
        return;
    snprintf(text, sizeof(text),
             "Two members say they are @%s on X, so that account is frozen for both: nobody is "
             "reconnected through it until this is sorted out. If someone else is using your "
             "X account, send \"report\" with their address, and an admin will look at it.",
             handle);
    j->queued += bridge_push_notice(tx, j->app, actor, acct ? acct : actor, inbox, text);
}

static int
import_rivals_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct import_job *j = arg;
    const char *handle = j->data->result.account.username;

    if (PQntuples(res) > 0) {
        /* A second claim: freeze both, tell both, store no edges from a disputed archive. */
        j->status = IMPORT_DISPUTED;
        dbtx_push(tx, sql_claim, NULL, NULL, 2, j->member_id, j->x_id);
        dbtx_push(tx, sql_freeze, NULL, NULL, 2, j->member_id, j->x_id);
        import_tell(tx, j, j->actor, j->acct, j->inbox);
        for (int i = 0; i < PQntuples(res); i++)
            import_tell(tx, j, PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
        log_info("import_disputed", "member=%s rivals=%d", j->member_id, PQntuples(res));
        return 0;
    }
    dbtx_push(tx, sql_forget_edges, NULL, NULL, 2, j->member_id, j->x_id);
    dbtx_push(tx, sql_forget_claims, NULL, NULL, 2, j->member_id, j->x_id);
    dbtx_push(tx, sql_claim, NULL, NULL, 2, j->member_id, j->x_id);
    dbtx_push_copy(tx, sql_copy, import_fill, j, NULL, NULL);
    dbtx_push(tx, sql_link, NULL, NULL, 3, j->member_id, j->x_id, handle);
    return 0;
}

static int
import_lock_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct import_job *j = arg;

    if (PQntuples(res) != 1) {
        j->status = IMPORT_NO_MEMBER;
        return 1;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "suspended") == 0) {
        j->status = IMPORT_SUSPENDED;
        return 1;
    }
    j->actor = xstrdup(PQgetvalue(res, 0, 2));
    j->acct = PQgetisnull(res, 0, 3) ? NULL : xstrdup(PQgetvalue(res, 0, 3));
    j->inbox = PQgetisnull(res, 0, 4) ? NULL : xstrdup(PQgetvalue(res, 0, 4));
    dbtx_push(tx, sql_rivals, import_rivals_cb, j, 2, j->member_id, j->x_id);
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
    log_info("import_stored", "member=%s status=%s followers=%zu following=%zu error=%s",
             j->member_id, import_status_name(st), j->data->nfollowers, j->data->nfollowing,
             log_q(err));
    j->cb(st, j->data, j->arg);
    import_data_free(j->data);
    free(j->data); /* taken by import_store, struct and lists */
    free(j->actor);
    free(j->acct);
    free(j->inbox);
    free(j);
}

void
import_store(struct app *app, const char *member_id, struct import_data *data, import_done_fn cb,
             void *arg)
{
    struct import_job *j = xcalloc(1, sizeof(*j));
    struct dbtx *tx = dbtx_new(app->db, import_done_cb, j);

    j->app = app;
    j->data = data;
    j->cb = cb;
    j->arg = arg;
    j->status = IMPORT_LINKED;
    snprintf(j->member_id, sizeof(j->member_id), "%s", member_id);
    snprintf(j->x_id, sizeof(j->x_id), "%" PRIu64, data->result.account.account_id);
    dbtx_push(tx, sql_lock, import_lock_cb, j, 1, j->member_id);
    dbtx_run(tx);
}
