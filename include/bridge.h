/* The bridge account's conversation with members: welcome link, commands by message, notices. */
#ifndef PASSERELLE_BRIDGE_H
#define PASSERELLE_BRIDGE_H

#include <stddef.h>

struct app;
struct dbtx;
struct activity_in;
struct json_object;

/* Lifetime of a one-time link. */
#define BRIDGE_LINK_TTL_SECONDS (24 * 3600)

/*
 * Inside tx, after a Follow of the bridge account is recorded: stores a new one-time link
 * code (128 random bits as 32 lowercase hex digits; only SHA-256 of those 32 ASCII bytes is
 * stored, in link_codes, valid BRIDGE_LINK_TTL_SECONDS) and queues the welcome direct
 * message holding <base_url>/link/<code>. member_id is the members.id as text; lang is a
 * catalogue's language (texts.h; any other is English); origin is the host of the Follow's
 * actor (the message is an answer to it: outbox_answer). Returns the number of deliveries
 * listed (0 or 1).
 */
int bridge_push_welcome(struct dbtx *tx, struct app *app, const char *member_id, const char *actor,
                        const char *acct, const char *inbox, const char *lang, const char *origin);

/*
 * Inside tx: a new one-time link for the member (earlier unused ones cancelled, as the
 * welcome's) and a direct message carrying it, sent on the bridge's own initiative (not an
 * answer). tmpl is the message's text, its {link} and {hours} still to fill. Returns the
 * number of deliveries listed (0 or 1).
 */
int bridge_push_link_text(struct dbtx *tx, struct app *app, const char *member_id,
                          const char *actor, const char *acct, const char *inbox, const char *tmpl);

/*
 * 1 when activity is a message to the bridge account: a Create of a Note whose to or cc
 * (string or array) holds bridge_id and not the public collection.
 */
int bridge_is_message(struct json_object *activity, const char *bridge_id);

/*
 * Inside tx, after the activity's id was recorded as seen: reads the member's command from
 * the note's HTML and lists the statements and the reply it needs (rate limit included).
 * Messages from non-members get the help. The reply is listed from the member row's result,
 * later in tx, so this returns the number of deliveries it may list (0 or 1): a positive
 * count asks the caller to kick the queue after the commit. a must outlive tx.
 */
int bridge_push_message(struct dbtx *tx, struct activity_in *a);

/* Commands at most per member and per hour; the first one over gets one answer saying so. */
#define BRIDGE_COMMANDS_PER_HOUR 10
/* How long a first "delete" waits for its confirmation. */
#define BRIDGE_DELETE_CONFIRM_MINUTES 15

enum bridge_command {
    BRIDGE_CMD_UNKNOWN, /* answered with the help */
    BRIDGE_CMD_HELP,
    BRIDGE_CMD_LINK,
    BRIDGE_CMD_STATUS,
    BRIDGE_CMD_PAUSE,
    BRIDGE_CMD_RESUME,
    BRIDGE_CMD_DELETE,
    BRIDGE_CMD_REPORT
};

/*
 * Pure: the command in a message's plain text (its first word, one of the catalogues'
 * bridge.command.* words, any case, trailing punctuation ignored). *lang becomes the
 * catalogue's language (texts.h, static) when the word belongs to one language only, else
 * NULL. For BRIDGE_CMD_REPORT the next word is copied into arg (cut to
 * arglen); arg is "" otherwise.
 */
enum bridge_command bridge_command_parse(const char *text, const char **lang, char *arg,
                                         size_t arglen);

/*
 * Pure: a reported handle "@user@host" or "user@host" as "user@host" with the host in
 * lowercase, into out. -1 when it is not of that form (user: letters, digits, "_.-";
 * host: a DNS name or address with an optional port).
 */
int bridge_handle_normalize(const char *handle, char *out, size_t outlen);

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
