/* The member's found contacts on their page: the list both ways, counts, ignore, restore, undo. */
#ifndef PASSERELLE_CONTACTS_H
#define PASSERELLE_CONTACTS_H

#include <stddef.h>

struct app;
struct evhttp_request;

/* Contacts in one page of GET /link/contacts, at most. */
#define CONTACTS_PAGE_MAX 100

/*
 * GET /link/contacts?dir=following|followers[&after=CURSOR][&limit=N]: one page (N, default
 * and at most CONTACTS_PAGE_MAX) of the contacts_visible rows of the session's member, by
 * the contact's member id after CURSOR (keyset: one range of the contacts primary key):
 * {"dir", "contacts": [{"x_id", "handle", "acct", "url", "network", "status", "bridged",
 * "undo"}], "next"}, next being the cursor of the following page or null; bridged: the pair's
 * follow (made or being undone, in the tab's direction) crossed the networks through Bridgy
 * Fed; undo: POST /link/contacts/undo can undo it (a follow made for the member: on Bluesky,
 * a record passerelle wrote, never one the member made themselves).
 */
void contacts_list(struct app *app, struct evhttp_request *req, const char *path);
/*
 * GET /link/contacts/counts: {"following", "followers" (found, each way), "followed" (done
 * for the member), "came_back": {"here", "again"}, "undoing"}.
 */
void contacts_counts(struct app *app, struct evhttp_request *req, const char *path);
/*
 * POST /link/contacts/ignore and /link/contacts/restore, {"x_id": "<digits>"}, CSRF header:
 * an X id of the member's own archive (either way; 404 otherwise) is put out of reach
 * (member_excludes, reason 'ignored') or back, follows undone for it become 'undone' again on
 * restore; each change goes to contact_ledger and marks the member due for matching.
 * Answers {"x_id", "changed"}.
 */
void contacts_ignore(struct app *app, struct evhttp_request *req, const char *path);
void contacts_restore(struct app *app, struct evhttp_request *req, const char *path);
/*
 * POST /link/contacts/undo, {"x_id": "<digits>"} or {"all": true}, CSRF header: the follows
 * made for the member (state 'done') toward that contact, or all of them, are queued
 * ('unfollow'): a fediverse home's (method 'api') for the unfollow worker, a Bluesky home's
 * (method 'atproto') for atunfollow when passerelle wrote the record (record_written) and the
 * member has a grant. Answers {"queued": n, "bluesky": those on Bluesky}; 409 with the reason
 * when none is queued (nothing done, only the member's own Bluesky records, no grant).
 */
void contacts_undo(struct app *app, struct evhttp_request *req, const char *path);

/* --- pure parts -------------------------------------------------------------------------- */

/* A page's arguments, checked: 0, or -1 when one is malformed. */
struct contacts_page {
    const char *dir; /* "following" or "followers" (static) */
    char after[24];  /* decimal member id, "0" from the start */
    char limit[8];   /* decimal, 1..CONTACTS_PAGE_MAX */
};
int contacts_page_args(const char *dir, const char *after, const char *limit,
                       struct contacts_page *out);

/*
 * A POST body: {"x_id": "<1 to 19 digits, not 0>"} into x_id, or, when allow_all is set,
 * {"all": true} (x_id left empty, *all set). Strict JSON, nothing else in it. 0, or -1.
 */
int contacts_body(const char *body, size_t len, int allow_all, char x_id[24], int *all);

/*
 * What was done with a contact, as the page shows it: dir, whether the member ignored them,
 * and the follow_actions row of the pair in the direction the page cares about (state and
 * method NULL when there is none; notified: the member was told about it). For 'following':
 * ignored, found, told, waiting, held, followed, undoing, undone, failed or stopped; for
 * 'followers': ignored, follows_you or here.
 */
const char *contacts_status(const char *dir, int ignored, const char *state, const char *method,
                            int notified);

/* Where a contact is now, for a link: the actor id, or a Bluesky profile. A new string. */
char *contacts_url(const char *network, const char *actor_uri, const char *acct);

#endif
