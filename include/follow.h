/* Following in a member's name, the worker: search with resolve, then follow, within budgets. */
#ifndef PASSERELLE_FOLLOW_H
#define PASSERELLE_FOLLOW_H

#include <libpq-fe.h>

#include "db.h"
#include "httpc.h"

struct app;
struct follow;
struct json_object;

/*
 * Options for follow_new; a zeroed struct gives the defaults in parentheses. The small
 * values exist so that tests run in seconds.
 */
struct follow_options {
    struct httpc_options http; /* the worker's own client (copied) */
    long poll_ms;              /* looks for due rows this often (5000) */
    int daily_limit;           /* follows per member in any 24 hours (400) */
    int api_limit;             /* API requests per member per 5-minute window (300) */
    long backoff_unit_ms;      /* retry n waits unit*(n^4 + 15) plus jitter (1000) */
    int max_attempts;          /* tries before a row is 'failed' (10) */
    int batch;                 /* members served per look (20), one follow each */
    long lease_ms;             /* hold on a claimed row and its grant (twice the total timeout
                                  plus 60 s) */
};

/* out = opt with each zero field given its default (above); the lease from the timeout. */
void follow_options_defaults(struct follow_options *out, const struct follow_options *opt);

/*
 * The end of an outcome statement, after a CTE that changed the row: the grant ($7, the
 * member) is freed and paused for $8 ms when $8 is not NULL, or deleted when $9 is true (a
 * 401), in CTEs gr and del. The follow and unfollow workers both end with it.
 */
#define FOLLOW_SQL_GRANT_AFTER                                                                     \
    " gr AS (UPDATE oauth_grants SET busy_until = now(),"                                          \
    "  rate_limited_until = CASE WHEN $8::bigint IS NULL THEN rate_limited_until"                  \
    "   ELSE now() + $8::bigint * interval '1 millisecond' END"                                    \
    "  WHERE member_id = $7::bigint AND NOT $9::boolean RETURNING 1),"                             \
    " del AS (DELETE FROM oauth_grants WHERE member_id = $7::bigint AND $9::boolean RETURNING 1)"

/*
 * Creates the worker for app (loop, database, configuration, seal: all borrowed and
 * outliving it). Nothing runs before follow_start. NULL with a message in err when the
 * HTTP client cannot be made.
 */
struct follow *follow_new(struct app *app, const struct follow_options *opt, char *err,
                          size_t errlen);
void follow_start(struct follow *f);
/* Looks for due rows now (a grant was just stored). NULL-safe. */
void follow_kick(struct follow *f);
/*
 * Stops the timer and cancels requests in flight; claimed rows and grants keep their lease
 * and are taken again when it ends. Answers still pending from the database are absorbed
 * later, so db_free may come after. NULL does nothing.
 */
void follow_free(struct follow *f);

struct follow_stats {
    unsigned long long claimed, done, failed, retried, limited, unauthorized;
    int in_flight;
};
void follow_get_stats(const struct follow *f, struct follow_stats *out);

/* What an answer from the member's server means for the row. */
enum follow_outcome {
    FOLLOW_OK,           /* 2xx */
    FOLLOW_RETRY,        /* network trouble, 5xx, 408: later, with backoff */
    FOLLOW_LIMITED,      /* 429: wait for the reset the server gives */
    FOLLOW_UNAUTHORIZED, /* 401: the token is gone; so is our grant */
    FOLLOW_PERMANENT,    /* other 4xx (403, 404, 410, 422...), refused address: 'failed' */
};

/* Pure classification of one HTTP outcome. */
enum follow_outcome follow_classify(enum httpc_error error, long status);

/*
 * In a /api/v2/search answer, the id of the account that is the followee: its uri
 * (Mastodon 4.2+), pleroma.ap_id (Pleroma, Akkoma), url (GoToSocial and older Mastodon give
 * the profile URL there, which often equals the id) or acct (user@host, or a bare user when
 * the followee lives on home_host) must name them. NULL when no account does, or its id is
 * not a plain token. Borrowed from result.
 */
/* An account id fit for a path: 1 to 128 letters, digits, '-' and '_'. */
int follow_plain_id(const char *id);

/* Account ids: Mastodon's digits, Pleroma's flakes, GoToSocial's ULIDs. */
#define FOLLOW_MAX_ID 128

/*
 * One call in a member's name through their grant, as the follow and the unfollow workers
 * make it: the row, the member, their server, the followee and the token, opened.
 */
struct follow_call {
    char id[24];        /* follow_actions.id */
    char member_id[24]; /* the follower */
    char origin[300];   /* their server */
    char host[256];
    char account_id[FOLLOW_MAX_ID + 1];
    char *followee_uri, *followee_acct;
    char *token; /* plain: wiped by follow_call_clear */
    int attempts;
    long long t0;
};

/* What follow_call_open found wrong, if anything. */
enum follow_call_open {
    FOLLOW_CALL_OK,
    FOLLOW_CALL_NO_HOME,  /* the member's server is not reachable over https */
    FOLLOW_CALL_NO_TOKEN, /* the grant cannot be opened with token_key_file */
};

/*
 * Fills c from row i of a claim whose first nine columns are follow_actions.id, follower_id,
 * attempts, the follower's actor id, the grant's host, ciphertext and nonce, the followee's
 * actor id and acct (NULL reads as ""). c is to be cleared in every case.
 */
void follow_call_fill(struct follow_call *c, PGresult *res, int i);
/* Then finds the member's server from their actor id and opens the token with app's seal. */
enum follow_call_open follow_call_open(struct follow_call *c, struct app *app, PGresult *res,
                                       int i);
/* Frees what c holds, the token wiped. */
void follow_call_clear(struct follow_call *c);
/*
 * The answer to an outcome statement ending with FOLLOW_SQL_GRANT_AFTER (its second column
 * counts the grants deleted): logs a failure (event) or the grant dropped, clears res.
 */
void follow_call_finished(const struct follow_call *c, enum db_outcome outcome, PGresult *res,
                          const char *err, const char *event);

const char *follow_pick_account(struct json_object *result, const char *actor_uri, const char *acct,
                                const char *home_host);

#endif
