/* The bridge worker: looks up members' bridged identities on the other network (Bridgy Fed). */
#ifndef PASSERELLE_BRIDGECHECK_H
#define PASSERELLE_BRIDGECHECK_H

struct app;
struct bridgecheck;

/*
 * Starts the worker on app's loop, database and HTTP client: every bridge_poll_ms (and at
 * once while it finds work) it claims up to a few members of bridge_due whose time has come
 * (SKIP LOCKED, due_at pushed ahead as a lease) and looks each one up:
 *   - a Bluesky member (network 'atproto', acct their handle, actor_uri their DID): WebFinger
 *     acct:<handle>@<bridge_bsky_domain> at that domain; bridged when its self link is
 *     <scheme>://<bridge_bsky_domain>/ap/<DID>, the id Bridgy Fed gives that DID's actor
 *     (https, or http under allow_private_fetch), read by wflookup. A 4xx, another actor, or
 *     no such link: not bridged. No answer, a 5xx or a 429 is tried again with backoff, then
 *     given up (what was known stays);
 *   - a fediverse member (acct user@host, actor_uri their actor): the handle Bridgy Fed
 *     gives them, user.host.<bridge_ap_domain> (bridgefed_ap_handle; a host named in the
 *     test setting test_host_names first takes that name), resolved by app->identity (DNS
 *     or HTTPS, then the DID's document, the handle checked both ways); bridged when that
 *     document's alsoKnownAs names their actor id exactly, as Bridgy Fed's does. No handle
 *     (a port, an odd name), not found, a mismatch, or an alsoKnownAs without their actor:
 *     not bridged. Unavailable: tried again with backoff, then given up.
 * The result goes to members.bridged_id / bridged_handle / bridge_checked_at (a Bluesky
 * member's bridged actor and address; a fediverse member's bridged DID and handle); when the
 * bridged id changed, the member is due for matching (its pairs change method) and the
 * matcher is kicked. An empty bridge_bsky_domain or bridge_ap_domain means nobody is bridged
 * that way.
 */
struct bridgecheck *bridgecheck_new(struct app *app);

/* Stops the worker; lookups in flight end on their own. NULL-safe. */
void bridgecheck_free(struct bridgecheck *b);

#endif
