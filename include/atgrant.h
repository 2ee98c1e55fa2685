/* A Bluesky member's grant: stored sealed, its access token refreshed one refresh at a time. */
#ifndef PASSERELLE_ATGRANT_H
#define PASSERELLE_ATGRANT_H

#include <stddef.h>

struct app;
struct dbtx;
struct jose_key;
struct pg_result;

/* Seconds before its expiry an access token counts as expired (a request takes time). */
#define ATGRANT_EARLY 60
/* Seconds a refresh may hold its grant; longer than any token request's timeout. */
#define ATGRANT_LEASE 60

/* What a request in the member's name needs; owned by whoever atgrant_use handed it to. */
struct atgrant {
    char member_id[24];
    char *did;
    char *kind; /* "oauth" or "app_password" */
    char *pds_url;
    char *access_token;    /* plain: wiped when freed */
    struct jose_key *dpop; /* oauth: the session's DPoP key; NULL for app passwords */
    char *pds_nonce;       /* oauth: the PDS's last DPoP nonce, or NULL */
    int refreshed;         /* this use refreshed the token (tests, logs) */
};
void atgrant_free(struct atgrant *g);

/* A new OAuth grant, as the callback stores it (all borrowed for the call). */
struct atgrant_new {
    const char *member_id;
    const char *did;
    const char *pds_url;
    const char *issuer;
    const char *token_endpoint;
    const char *revocation_endpoint; /* may be NULL */
    const char *scope;
    const char *access_token;
    const char *refresh_token;
    long long expires_in; /* seconds, 0 when unknown */
    const char *dpop_jwk; /* the private JWK of the session's DPoP key */
    const char *as_nonce; /* may be NULL */
};

/*
 * The grants a new one replaces: the member's earlier one, OAuth or app password, and one an
 * earlier member of the same DID left. Deleted in the new grant's transaction; their tokens
 * still work at their servers until revoked.
 */
struct atgrant_replaced;

/*
 * Pushes onto tx the member's grant, sealed to its row (atgrant_ad), replacing any earlier one
 * of the member (or of the DID). *old (when old is not NULL) gets what it replaces, for
 * atgrant_replaced_end once tx has ended. -1 when sealing fails: nothing pushed, *old untouched.
 */
int atgrant_push_oauth(struct dbtx *tx, const struct app *app, const struct atgrant_new *n,
                       struct atgrant_replaced **old);

/* The same for an app password's session: only its refresh token is kept. */
int atgrant_push_app_password(struct dbtx *tx, const struct app *app, const char *member_id,
                              const char *did, const char *pds_url, const char *refresh_token,
                              struct atgrant_replaced **old);

/*
 * Once the new grant's transaction has ended: when it committed, each replaced grant is logged
 * and revoked as atgrant_revoke_row does (best effort, nothing to wait for: the sign-in is not
 * held); after a rollback they are still stored and stay. Frees r (NULL: nothing).
 */
void atgrant_replaced_end(struct app *app, struct atgrant_replaced *r, int committed);

/* The associated data binding sealed secret what ("access", "refresh", "dpop") to its row. */
void atgrant_ad(const char *member_id, const char *did, const char *what, char *out, size_t outlen);

/*
 * Hands cb a usable grant of member_id: the stored access token when it has more than
 * ATGRANT_EARLY seconds left, else a refreshed one. Refresh tokens are single use, so a
 * refresh first takes the row's lease (refresh_lease, for ATGRANT_LEASE seconds): whoever
 * holds it refreshes and stores the new pair; everyone else, in any process, waits and reads
 * what was stored. A refresh the server refuses (invalid_grant: revoked, expired, replayed)
 * deletes the grant. cb runs once from the loop with the grant (theirs to free) and why "",
 * or NULL and why: "none" (no grant), "revoked", "busy" (a refresh did not finish in time),
 * "unavailable" (database, network or the server).
 */
typedef void (*atgrant_fn)(struct atgrant *g, const char *why, void *arg);
void atgrant_use(struct app *app, const char *member_id, atgrant_fn cb, void *arg);

/* Keeps the PDS's new DPoP nonce for the grant's next request (fire and forget). */
void atgrant_save_nonce(struct app *app, const char *member_id, const char *nonce);

/*
 * Deletes the member's grant (the member stays) and asks its server to forget it, best effort:
 * OAuth revocation (RFC 7009) of the refresh token, with the client's assertion and a DPoP
 * proof. cb runs once when the database has answered (had: 1 when there was a grant), before
 * the server is asked; cb may be NULL.
 */
typedef void (*atgrant_drop_fn)(int ok, int had, void *arg);
void atgrant_drop(struct app *app, const char *member_id, atgrant_drop_fn cb, void *arg);

/*
 * The same for a grant read by someone else's statement (a member leaving): the columns of
 * ATGRANT_REVOKE_COLUMNS, in that order, from row of res. Best effort, nothing to wait for.
 */
#define ATGRANT_REVOKE_COLUMNS                                                                     \
    "g.member_id, g.did, g.kind, g.pds_url, g.issuer, g.revocation_endpoint, g.refresh_token,"     \
    " g.refresh_nonce, g.dpop_key, g.dpop_key_nonce, g.as_dpop_nonce"
void atgrant_revoke_row(struct app *app, const struct pg_result *res, int row, int col);

#endif
