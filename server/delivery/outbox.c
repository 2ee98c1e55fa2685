/* The outbox: what our actors send, listed in the caller's transaction for the queue to deliver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "dbtx.h"
#include "log.h"
#include "outbox.h"
#include "pgarray.h"
#include "url.h"
#include "xmalloc.h"

#define OUTBOX_MAX_PAYLOAD (16u * 1024 * 1024) /* httpc's body cap */

static int outbox_signer_ok(const char *signer);
static unsigned char *outbox_duplicates(const char *const *inboxes, size_t n);

/*
 * One statement, so the payload and its rows commit together. Hosts become instances rows
 * (where breaker and dead marks live); dead and blocked hosts get no row, as in Mastodon.
 */
#define OUTBOX_TARGETS                                                                             \
    "WITH t AS (SELECT * FROM unnest($3::text[], $4::text[]) AS t(inbox, host)),"                  \
    " h AS (INSERT INTO instances (domain) SELECT DISTINCT host FROM t"                            \
    "  ON CONFLICT (domain) DO NOTHING),"
#define OUTBOX_ROWS                                                                                \
    " d AS (INSERT INTO deliveries (activity_id, inbox, host)"                                     \
    "  SELECT a.id, t.inbox, t.host FROM a, t"                                                     \
    "  WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.domain = t.host AND i.dead)"            \
    "  AND ($5::boolean OR NOT host_blocked(t.host))"                                              \
    "  ON CONFLICT (activity_id, inbox) DO NOTHING RETURNING 1)"
static const char sql_enqueue[] =
    OUTBOX_TARGETS " a AS (INSERT INTO activities (signer, payload, despite_block, member_id)"
                   "  VALUES ($1, $2, $5::boolean, $6::bigint) RETURNING id)," OUTBOX_ROWS
                   " SELECT count(*) FROM d";
/*
 * An answer (migration 016): stored only while its origin host has fewer than $8 answers
 * stored; the second column says when it was not, the third names the host for the log.
 */
static const char sql_answer[] = OUTBOX_TARGETS
    " a AS (INSERT INTO activities (signer, payload, despite_block, member_id, origin)"
    "  SELECT $1, $2, $5::boolean, $6::bigint, $7"
    "  WHERE (SELECT count(*) FROM activities WHERE origin = $7) < $8::int RETURNING "
    "id)," OUTBOX_ROWS " SELECT count(*), NOT EXISTS (SELECT 1 FROM a), $7::text FROM d";

/* inboxes[] sorted by text, then by position, so equal ones are neighbours, first one first. */
struct outbox_sort {
    const char *const *inboxes;
};

static int
outbox_cmp(const void *a, const void *b, void *arg)
{
    const char *const *in = ((const struct outbox_sort *)arg)->inboxes;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(in[i] != NULL ? in[i] : "", in[j] != NULL ? in[j] : "");

    return c != 0 ? c : (i > j) - (i < j);
}

/*
 * Marks each inbox that an earlier one repeats. Sorted, not compared pairwise: a notice to
 * 100,000 subscribers made five billion comparisons (18 s) before its one statement; the
 * rows keep the callers' order, so one host's inboxes do not all come first.
 */
static unsigned char *
outbox_duplicates(const char *const *inboxes, size_t n)
{
    unsigned char *dup = xcalloc(n > 0 ? n : 1, 1);
    size_t *order = xcalloc(n > 0 ? n : 1, sizeof(*order));
    struct outbox_sort by = { inboxes };

    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof(*order), outbox_cmp, &by);
    for (size_t i = 1; i < n; i++)
        if (inboxes[order[i]] != NULL && inboxes[order[i - 1]] != NULL &&
            strcmp(inboxes[order[i]], inboxes[order[i - 1]]) == 0)
            dup[order[i]] = 1;
    free(order);
    return dup;
}

int
outbox_batch_init(struct outbox_batch *b, const char *signer, const char *payload, size_t len,
                  const char *const *inboxes, size_t n, int flags, char *err, size_t errlen)
{
    char **urls, **hosts;
    unsigned char *dup;
    size_t k = 0;

    memset(b, 0, sizeof(*b));
    b->sql = sql_enqueue;
    b->nparams = 6;
    b->params[4] = (flags & OUTBOX_DESPITE_BLOCK) ? "true" : "false";
    b->params[5] = NULL; /* member_id: see outbox_batch_member */
    if (!outbox_signer_ok(signer)) {
        snprintf(err, errlen, "unknown signer");
        return -1;
    }
    if (payload == NULL || len == 0 || len > OUTBOX_MAX_PAYLOAD ||
        memchr(payload, '\0', len) != NULL) {
        snprintf(err, errlen, "payload empty, too large or with a NUL byte");
        return -1;
    }
    dup = outbox_duplicates(inboxes, n);
    urls = xcalloc(n > 0 ? n : 1, sizeof(*urls));
    hosts = xcalloc(n > 0 ? n : 1, sizeof(*hosts));
    for (size_t i = 0; i < n; i++) {
        char host[URL_AUTHORITY_MAX];

        if (inboxes[i] == NULL || url_authority(inboxes[i], host, sizeof(host)) < 0) {
            log_warn("queue_enqueue_skip", "reason=bad_inbox inbox=%s", log_q(inboxes[i]));
            continue;
        }
        if (dup[i])
            continue;
        urls[k] = xstrdup(inboxes[i]);
        hosts[k] = xstrdup(host);
        k++;
    }
    free(dup);
    b->targets = k;
    b->storage[0] = xstrdup(signer);
    b->storage[1] = xstrndup(payload, len);
    b->storage[2] = pgarray_text(urls, k);
    b->storage[3] = pgarray_text(hosts, k);
    for (int i = 0; i < 4; i++)
        b->params[i] = b->storage[i];
    for (size_t i = 0; i < k; i++) {
        free(urls[i]);
        free(hosts[i]);
    }
    free(urls);
    free(hosts);
    return 0;
}

void
outbox_batch_member(struct outbox_batch *b, const char *member_id)
{
    free(b->storage[4]);
    b->storage[4] = member_id != NULL ? xstrdup(member_id) : NULL;
    b->params[5] = b->storage[4];
}

void
outbox_batch_answer(struct outbox_batch *b, const char *origin, int max)
{
    char n[24];

    snprintf(n, sizeof(n), "%d", max);
    free(b->storage[5]);
    free(b->storage[6]);
    b->storage[5] = xstrdup(origin);
    b->storage[6] = xstrdup(n);
    b->params[6] = b->storage[5];
    b->params[7] = b->storage[6];
    b->sql = sql_answer;
    b->nparams = 8;
}

void
outbox_batch_free(struct outbox_batch *b)
{
    for (size_t i = 0; i < sizeof(b->storage) / sizeof(b->storage[0]); i++)
        free(b->storage[i]);
    memset(b, 0, sizeof(*b));
}

/* "relay", "bridge", or "x:" and an X id (digits, no leading zero), as migration 009 allows. */
static int
outbox_signer_ok(const char *signer)
{
    size_t n;

    if (signer == NULL)
        return 0;
    if (strcmp(signer, "relay") == 0 || strcmp(signer, "bridge") == 0)
        return 1;
    if (strncmp(signer, "x:", 2) != 0)
        return 0;
    n = strspn(signer + 2, "0123456789");
    return n >= 1 && n <= 19 && signer[2 + n] == '\0' && signer[2] != '0';
}

int
outbox_push(struct dbtx *tx, const char *signer, struct json_object *json,
            const char *const *inboxes, size_t n, const char *member_id)
{
    const char *s = json_object_to_json_string_ext(json, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    struct outbox_batch b;
    char err[128];
    int rc = -1;

    if (outbox_batch_init(&b, signer, s, strlen(s), inboxes, n, 0, err, sizeof(err)) < 0) {
        log_warn("outbox_skipped", "reason=%s inbox=%s", log_q(err),
                 log_q(n > 0 ? inboxes[0] : NULL));
    } else {
        outbox_batch_member(&b, member_id);
        dbtx_pushv(tx, b.sql, NULL, NULL, b.nparams, b.params);
        outbox_batch_free(&b);
        rc = 0;
    }
    json_object_put(json);
    return rc;
}

void
outbox_push_one(struct dbtx *tx, const char *signer, struct json_object *json, const char *inbox)
{
    (void)outbox_push(tx, signer, json, &inbox, 1, NULL);
}

/* An answer's statement ran: say so when the origin's cap kept it out of the queue. */
static int
outbox_answered_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    (void)tx;
    (void)arg;
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "t") == 0)
        log_info("answer_capped", "origin=%s", log_q(PQgetvalue(res, 0, 2)));
    return 0;
}

int
outbox_answer(struct dbtx *tx, const char *signer, struct json_object *json, const char *inbox,
              const char *origin, int max)
{
    const char *s = json_object_to_json_string_ext(json, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    struct outbox_batch b;
    char host[URL_AUTHORITY_MAX], err[128];
    int rc = -1;

    if (inbox == NULL || origin == NULL || url_authority(inbox, host, sizeof(host)) < 0 ||
        strcmp(host, origin) != 0) {
        /* remote_examine keeps such inboxes out; a row cached before it did is not obeyed. */
        log_warn("answer_skipped", "reason=inbox_not_on_origin origin=%s inbox=%s", log_q(origin),
                 log_q(inbox));
    } else if (outbox_batch_init(&b, signer, s, strlen(s), &inbox, 1, 0, err, sizeof(err)) < 0) {
        log_warn("outbox_skipped", "reason=%s inbox=%s", log_q(err), log_q(inbox));
    } else {
        outbox_batch_answer(&b, origin, max);
        dbtx_pushv(tx, b.sql, outbox_answered_cb, NULL, b.nparams, b.params);
        outbox_batch_free(&b);
        rc = 0;
    }
    json_object_put(json);
    return rc;
}
