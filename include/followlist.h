/* The "Former X contacts" list on a member's server: made once, filled with whom we followed. */
#ifndef PASSERELLE_FOLLOWLIST_H
#define PASSERELLE_FOLLOWLIST_H

#include "httpc.h"

struct app;
struct followlist;
struct json_object;

/*
 * SQL that is true when the grant g's scopes (oauth_grants g) let us read and write the
 * member's lists: read or read:lists, and write or write:lists. A grant made before the list
 * scopes were asked has neither: its follows go on, the list waits for a new grant.
 */
#define FOLLOWLIST_GRANT_SCOPES                                                                    \
    "coalesce(string_to_array(g.scopes, ' ') && ARRAY['read', 'read:lists']"                       \
    " AND string_to_array(g.scopes, ' ') && ARRAY['write', 'write:lists'], false)"

/* The list's title in each catalogue: texts key lists.title. */
#define FOLLOWLIST_TITLE_KEY "lists.title"

/* Options for followlist_new; zeros give the defaults in parentheses. */
struct followlist_options {
    struct httpc_options http; /* the worker's own client (copied) */
    long poll_ms;              /* looks for follows not yet in a list this often (5000) */
    int api_limit;             /* API requests per member per 5-minute window, shared with the
                                  follow worker's count on the grant (300) */
    int batch;                 /* members served per look (20), one account each */
    long lease_ms;             /* hold on a claimed grant (twice the total timeout plus 60 s) */
    long retry_ms;             /* after a network error or a 5xx, the grant rests this long
                                  (60000) */
};

/*
 * The worker, for app (loop, database, seal, configuration: borrowed, outliving it): for each
 * grant with the list scopes and a follow made through it that is not in the list yet, under
 * the grant's lease and request budget: the list (its id kept in member_lists; else found by
 * its title, in any language, with GET /api/v1/lists; else made with POST /api/v1/lists in the
 * member's language), then POST /api/v1/lists/:id/accounts with account_ids[]. A list the
 * member deleted (404) is not made again, nor one their server refuses (403), until they
 * connect their server anew. NULL with a message in err when the HTTP client cannot be made.
 */
struct followlist *followlist_new(struct app *app, const struct followlist_options *opt, char *err,
                                  size_t errlen);
void followlist_start(struct followlist *l);
/* Stops it; requests in flight are cancelled, leases expire. NULL-safe. */
void followlist_free(struct followlist *l);

/*
 * In a GET /api/v1/lists answer (a JSON array of List), the id of the first list whose title
 * is one of titles (n of them), or NULL; ids that are not plain tokens are passed over.
 * Borrowed from lists.
 */
const char *followlist_find(struct json_object *lists, const char *const *titles, size_t n);

/* Whether a 422 of POST /api/v1/lists/:id/accounts says the account is in the list already. */
int followlist_already_in(const char *body, size_t len);

#endif
