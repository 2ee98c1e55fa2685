/* The link page's Bluesky side: the grant checked at the PDS, and leaving with the grant revoked.
 */
#ifndef PASSERELLE_ATLINK_H
#define PASSERELLE_ATLINK_H

struct app;
struct evhttp_request;

/*
 * GET /link/bluesky (the page's session): whether passerelle can still act in the member's
 * Bluesky account. The grant is used as every request in their name uses it (atgrant_use:
 * refreshed when its access token has expired, one refresh at a time) and the PDS is asked
 * whose session it is (com.atproto.server.getSession, DPoP-bound for OAuth). 200
 * {"connected": bool, "kind": "oauth"|"app_password"|null, "did", "handle", "refreshed"}:
 * connected false when there is no grant or the PDS refused it (a refused refresh deletes it);
 * 503 when the PDS or the database does not answer; 401 without a session.
 */
void atlink_check(struct app *app, struct evhttp_request *req, const char *path);

/*
 * POST /link/leave (the page's session and X-CSRF-Token), for members of either network: the
 * member and everything of theirs are forgotten in one transaction (the rows cascade), the
 * session cookie is cleared, 200 {"left": true}; then, best effort, the Bluesky grant is revoked
 * at the member's authorization server (or its app password session deleted at the PDS).
 */
void atlink_leave(struct app *app, struct evhttp_request *req, const char *path);

#endif
