/* The bridge account's conversation with members: welcome link, commands by message, notices. */
#ifndef PASSERELLE_BRIDGE_H
#define PASSERELLE_BRIDGE_H

#include <stddef.h>

struct app;
struct dbtx;
struct inbox_activity;
struct json_object;

/* Lifetime of a one-time link. */
#define BRIDGE_LINK_TTL_SECONDS (24 * 3600)

/*
 * Inside tx, after a Follow of the bridge account is recorded: stores a new one-time link
 * code (128 random bits as 32 lowercase hex digits; only SHA-256 of those 32 ASCII bytes is
 * stored, in link_codes, valid BRIDGE_LINK_TTL_SECONDS) and queues the welcome direct
 * message holding <base_url>/link/<code>. member_id is the members.id as text; lang is
 * "en" or "fr". Returns the number of deliveries listed (0 or 1).
 */
int bridge_push_welcome(struct dbtx *tx, struct app *app, const char *member_id, const char *actor,
                        const char *acct, const char *inbox, const char *lang);

/*
 * 1 when activity is a message to the bridge account: a Create of a Note whose to or cc
 * (string or array) holds bridge_id and not the public collection.
 */
int bridge_is_message(struct json_object *activity, const char *bridge_id);

/*
 * Inside tx, after the activity's id was recorded as seen: reads the member's command from
 * the note's HTML and lists the statements and the reply it needs (rate limit included).
 * Messages from non-members get the help. Returns the number of deliveries listed.
 */
int bridge_push_message(struct dbtx *tx, struct inbox_activity *a);

/*
 * Inside tx: queues a direct message from the bridge account to one person. text is plain
 * text (escaped here, newlines kept, URLs linked). Returns the number of deliveries listed.
 */
int bridge_push_notice(struct dbtx *tx, struct app *app, const char *actor, const char *acct,
                       const char *inbox, const char *text);

/*
 * The direct message itself: Create{Note} from the bridge, to [actor] only, with a Mention
 * tag of acct, the text as HTML after the mention. A new reference; pure, also used by the
 * command line (which queues it over blocking libpq).
 */
struct json_object *bridge_message_new(const char *base_url, const char *bridge_id,
                                       const char *actor, const char *acct, const char *text);

#endif
