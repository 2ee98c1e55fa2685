/* Notices: one direct message a day at most, telling a member which former contacts arrived. */
#ifndef PASSERELLE_NOTICE_H
#define PASSERELLE_NOTICE_H

#include <stddef.h>

struct app;
struct notice;

/* Names listed in one message; the rest are counted and found in the CSV. */
#define NOTICE_MAX_NAMES 20

/*
 * Starts the notice worker on app's loop: every notice_poll_ms (and at once while it finds
 * work) it claims one member of notice_due whose time has come (SKIP LOCKED). A member with
 * notify off, or not linked, gets nothing (the entry goes); one told less than
 * notice_interval_hours ago waits until then; one with an untold row whose followee is on
 * the other network and not yet answered for by the bridge worker (bridge_checked_at NULL, or
 * in bridge_due) waits bridge_poll_ms, so that one message says where everyone is; otherwise
 * one direct message from the bridge
 * account lists the rows not yet told (notified_at IS NULL), and notified_at, the member's
 * last_notified_at and the message's delivery are committed together.
 */
struct notice *notice_new(struct app *app);

/* Stops the worker; a transaction in flight ends on its own. NULL-safe. */
void notice_free(struct notice *n);

/* One former contact in a message. */
struct notice_item {
    const char *acct;       /* their new address, user@host */
    const char *actor;      /* their actor URL (the follow link opens it) */
    const char *x_handle;   /* their X handle, or NULL */
    int automatic;          /* the member's server follows them through the grant */
    int done;               /* ... and it has */
    int held;               /* the claim is new: automatic follows wait (hold_until) */
    const char *hold_until; /* "YYYY-MM-DD HH:MM" (UTC) when held */
    const char *bluesky;    /* on Bluesky with no bridge to the member's network: their profile
                               page (acct is their handle, actor unused); else NULL */
    /*
     * For a Bluesky member: a fediverse contact bridged to Bluesky by Bridgy Fed, the profile
     * page of their bridged account (acct is its handle); with bridged_auto the member's
     * Bluesky account follows that account for them (bridged_done: it has). Else NULL.
     */
    const char *bridged;
    int bridged_auto, bridged_done;
    /* For a Bluesky member: a fediverse contact with no bridge to Bluesky, their actor's URL
       (where they are seen); else NULL. */
    const char *fediverse;
    /*
     * For a Bluesky member: a Bluesky contact's profile page (acct is their handle); automatic,
     * done and held then say what the member's own repository has (a follow record written in
     * their name, or to be). Else NULL.
     */
    const char *profile;
};

/* Who the message is for. */
struct notice_member {
    const char *lang;     /* a catalogue's language (texts.h); any other is English */
    const char *actor;    /* the member's actor URL: its scheme and host make the follow links */
    const char *bridge;   /* the bridge account, "name@host", for "report" */
    const char *base_url; /* the bridge's origin, for the CSV */
    int has_grant;        /* the member connected their server (automatic follows can run) */
    int bluesky;          /* a Bluesky home: the texts speak Bluesky (no server, no commands) */
    /* Who came back: former X followers here, how many follow again; said when back_news. */
    long long back_here, back_again;
    int back_news; /* some arrived since the last message */
};

/*
 * Pure: the message's plain text for items[0..n) out of total rows (n <= total; the rest are
 * counted), then, when m->back_news, who came back ("12 of your former X followers are here.
 * 9 of them follow you again."), in the member's language. n and total may be 0 then. A new
 * string.
 */
char *notice_text(const struct notice_member *m, const struct notice_item *items, size_t n,
                  size_t total);

/*
 * Pure: "<scheme>://<host of member_actor>/authorize_interaction?uri=<target percent-encoded>",
 * the page of the member's own server that opens a follow of target. NULL when member_actor
 * is not an http(s) URL. A new string.
 */
char *notice_follow_link(const char *member_actor, const char *target);

#endif
