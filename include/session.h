/* App-password sessions on a PDS: createSession, refreshSession, a call that refreshes once. */
#ifndef PASSERELLE_SESSION_H
#define PASSERELLE_SESSION_H

#include <stddef.h>

#include "seal.h"
#include "xrpc.h"

struct httpc;

enum session_status {
    SESSION_OK = 0,
    SESSION_REFUSED,      /* createSession: wrong identifier or password, or the account refused */
    SESSION_EXPIRED,      /* refreshSession: the refresh token expired, was revoked or is
                             unusable; only the member can give a new app password */
    SESSION_RATE_LIMITED, /* 429: wait retry_after seconds (or the RateLimit reset) */
    SESSION_UNAVAILABLE,  /* network, timeout, 5xx: try later with the same token */
    SESSION_INVALID       /* a 200 whose body lacks did, handle or tokens */
};

/*
 * A session's answer, borrowed for the callback. The caller keeps only refresh_jwt, sealed
 * (session_seal), and access_jwt in memory until access_exp.
 */
struct session_result {
    enum session_status status;
    const char *error; /* "" on success; the XRPC error name and message, or the transport's */
    const char *did;
    const char *handle;
    const char *access_jwt;
    const char *refresh_jwt;
    long long access_exp; /* the access token's exp claim (not verified: ours to schedule), -1 */
    long retry_after;     /* seconds, on SESSION_RATE_LIMITED; -1 when the PDS gave none */
};

typedef void (*session_done_fn)(const struct session_result *r, void *arg);

/* com.atproto.server.createSession with an identifier (handle or DID) and an app password. */
void session_create(struct httpc *h, const char *pds, const char *identifier, const char *password,
                    session_done_fn cb, void *arg);

/*
 * com.atproto.server.refreshSession (Bearer refresh_jwt): a new pair. Refresh tokens are
 * rotated: keep the new one, and serialise the refreshes of one session.
 */
void session_refresh(struct httpc *h, const char *pds, const char *refresh_jwt, session_done_fn cb,
                     void *arg);

/*
 * Called once with the call's answer, or r NULL when a refresh was needed and failed
 * (refreshed->status says why). refreshed is NULL when no refresh happened; when it is set
 * with SESSION_OK, the caller replaces its tokens with refreshed's (the old refresh token is
 * spent).
 */
typedef void (*session_call_fn)(const struct xrpc_result *r, const struct session_result *refreshed,
                                void *arg);

/*
 * call (its service, auth and token are set here) to pds with Bearer access_jwt; when the PDS
 * refuses the token (ExpiredToken, InvalidToken), refreshSession with refresh_jwt, then the
 * call once more with the new access token. access_jwt may be NULL (refresh first).
 */
void session_call(struct httpc *h, const char *pds, const char *access_jwt, const char *refresh_jwt,
                  const struct xrpc_call *call, session_call_fn cb, void *arg);

/* The exp claim of a JWT's payload, not verified; -1 when it has none or is not a JWT. */
long long session_jwt_exp(const char *jwt);

/* "atproto-session:<did>": the associated data that binds a sealed refresh token to its DID. */
void session_ad(const char *did, char *out, size_t outlen);

/* The refresh token sealed for storage (seal_to_bytea, bound to did); -1 on failure. */
int session_seal(const struct seal *s, const char *did, const char *refresh_jwt, char **ct,
                 char nonce[SEAL_NONCE_BYTEA]);

/* The refresh token back from its two columns, or NULL (another DID's row, a changed byte). */
char *session_unseal(const struct seal *s, const char *did, const char *ct, const char *nonce);

const char *session_status_name(enum session_status st);

#endif
