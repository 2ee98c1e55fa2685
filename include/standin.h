/* Stand-in actors: a findable member's old X account, at <base>/x/<x id>, pointing to them. */
#ifndef PASSERELLE_STANDIN_H
#define PASSERELLE_STANDIN_H

#include <stddef.h>

struct app;
struct evhttp_request;
struct json_object;

/*
 * When a members row (alias m) shows a stand-in: a linked claim (not joined, disputed or
 * suspended), findable, with an X handle, on a host no admin block covers, not held by
 * reports; and either verified with X, or (unless $3, standin_requires_verification) past
 * its hold ($2 seconds after linked_at) with no report against it still open. Every query
 * using it passes the key as $1 and standin_visible_params as $2 and $3. The
 * configuration's relay_block is checked in C (standin_host_ok). A paused member keeps it:
 * pausing stops what is done in their name, and a stand-in only says where they are.
 */
#define STANDIN_VISIBLE_SQL                                                                        \
    "m.state = 'linked' AND m.findable AND m.x_id IS NOT NULL AND m.x_handle IS NOT NULL"          \
    " AND NOT host_blocked(m.host) AND m.reports_held_at IS NULL"                                  \
    " AND (m.x_verified_at IS NOT NULL OR (NOT $3::boolean"                                        \
    "  AND m.linked_at + $2::int * interval '1 second' <= now()"                                   \
    "  AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.target_member_id = m.id"                    \
    "   AND r.decided_at IS NULL)))"

/* $2 and $3 of STANDIN_VISIBLE_SQL: the hold in seconds (hold needs 16 bytes), the rule. */
void standin_visible_params(const struct app *app, char *hold, const char **require);

/* Room for an X id in decimal (at most 19 digits for a positive bigint) and its NUL. */
#define STANDIN_XID_MAX 20

/* What a stand-in shows; the strings belong to whoever passes it. */
struct standin {
    const char *x_id;      /* decimal */
    const char *x_handle;  /* as the archive spells it */
    const char *actor_uri; /* the member's actor: movedTo */
    const char *acct;      /* user@host of the member, or NULL */
    int verified;          /* X confirmed the claim (else the stand-in says "not verified") */
    const char *bluesky;   /* a Bluesky member's handle, else NULL; actor_uri and acct are then
                              their bridged actor and address, NULL when not bridged */
};

/*
 * Where a stand-in sends people: the member's actor, or a Bluesky member's profile page when
 * no bridge reaches them (or for a browser: want_page). A new string.
 */
char *standin_home(const struct standin *s, int want_page);

enum standin_result {
    STANDIN_FOUND,       /* s is set */
    STANDIN_NONE,        /* no visible stand-in (or two members claim the handle): 404 */
    STANDIN_UNAVAILABLE, /* the database did not answer: 503 */
};

/* Called once, from the loop; s is borrowed for the call only (NULL unless FOUND). */
typedef void (*standin_fn)(enum standin_result r, const struct standin *s, void *arg);

/*
 * Looks up the stand-in of an X handle (case-insensitive) or of an X id (decimal, as
 * standin_xid_ok accepts). A handle two visible members hold answers NONE: pointing at
 * either could send people to the wrong person.
 */
void standin_find_handle(struct app *app, const char *handle, standin_fn cb, void *arg);
void standin_find_id(struct app *app, const char *x_id, standin_fn cb, void *arg);

/* 1 when s could be an X handle (letters, digits, '_', 1 to 50 characters). */
int standin_handle_ok(const char *s);
/* 1 when s is an X id as we print them: 1 to 19 digits, no leading zero, within bigint. */
int standin_xid_ok(const char *s, size_t len);

/*
 * 1 when path is "/x/<x id>" (rest set to "") or "/x/<x id>/<rest>" (rest after the slash),
 * with the id copied into x_id (STANDIN_XID_MAX bytes); 0 otherwise.
 */
int standin_parse_path(const char *path, char *x_id, const char **rest);

/* 1 when uri is exactly a stand-in's id (<base>/x/<x id>), with the id copied; 0 otherwise. */
int standin_parse_uri(const struct app *app, const char *uri, char *x_id);

/* 1 unless the configuration's relay_block covers host. */
int standin_host_ok(const struct app *app, const char *host);

/* GET /x/<x id> and /x/<x id>/{followers,following,outbox}. Answers exactly once. */
void standin_get(struct app *app, struct evhttp_request *req, const char *path);

#endif
