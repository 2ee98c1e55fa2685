/* Bluesky direct messages from the bridge's own Bluesky account: notices to Bluesky members. */
#ifndef PASSERELLE_ATDM_H
#define PASSERELLE_ATDM_H

#include <stddef.h>

struct app;
struct atdm;

/* The longest message sent, in bytes (the lexicon allows 1,000 graphemes). */
#define ATDM_TEXT_MAX 990

/*
 * Starts the sender when the operator configured the bridge's Bluesky account
 * (bluesky_dm_handle, bluesky_dm_password_file, bluesky_dm_pds); NULL otherwise, or when the
 * password file cannot be read (logged). Every bluesky_dm_poll_ms (at once while it finds
 * work) it claims the oldest due atproto_dms row (SKIP LOCKED, leased), and through the
 * account's PDS, with "atproto-proxy: <bluesky_chat_service>": chat.bsky.convo.
 * getConvoForMembers (the member's DID) then sendMessage. The session is made once with the
 * app password (createSession) and kept in memory, refreshed when the PDS refuses its token.
 * Sent: 'sent'. A 400 (the member does not take messages from us) or a recipient we cannot
 * reach: 'failed', final. A 429 waits for Retry-After, uncounted; network trouble, 5xx and a
 * session that cannot be made retry with backoff, 'failed' after 10 tries.
 */
struct atdm *atdm_new(struct app *app);

/* Stops the sender; a message in flight ends on its own (its lease expires). NULL-safe. */
void atdm_free(struct atdm *d);

/*
 * Pure: text cut to at most ATDM_TEXT_MAX bytes at the last line break that fits (else the
 * last space), with "..." when something was cut; never inside a UTF-8 sequence. A new string.
 */
char *atdm_fit(const char *text);

#endif
