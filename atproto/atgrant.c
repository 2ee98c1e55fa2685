/* A Bluesky member's grant: stored sealed, its access token refreshed one refresh at a time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "app.h"
#include "atgrant.h"
#include "atoauth.h"
#include "db.h"
#include "dbtx.h"
#include "form.h"
#include "jose.h"
#include "log.h"
#include "seal.h"
#include "session.h"
#include "token.h"
#include "xmalloc.h"

#define ATGRANT_WAIT_MS  200 /* between two looks at a grant another process is refreshing */
#define ATGRANT_MAX_WAIT 75  /* looks: 15 s, then "busy" */
/* An app password's access JWT says when it expires; if it cannot be read, this many seconds. */
#define ATGRANT_JWT_FALLBACK 300

void
atgrant_ad(const char *member_id, const char *did, const char *what, char *out, size_t outlen)
{
    snprintf(out, outlen, "atgrant:%s:%s:%s", member_id, did, what);
}

void
atgrant_free(struct atgrant *g)
{
    if (g == NULL)
        return;
    free(g->did);
    free(g->kind);
    free(g->pds_url);
    seal_wipe_free(g->access_token);
    jose_key_free(g->dpop);
    free(g->pds_nonce);
    free(g);
}

/* --- storing a new grant --------------------------------------------------------------------- */

/*
 * What a new grant replaces: the member's earlier one (OAuth or app password) and, since a DID
 * names one member, one left by an earlier member of the same DID. Read as they go, to be
 * revoked once the new one is stored.
 */
static const char sql_store_clear[] =
    "DELETE FROM atproto_grants AS g WHERE g.did = $1 OR g.member_id = $2::bigint"
    " RETURNING " ATGRANT_REVOKE_COLUMNS;
static const char sql_store[] =
    "INSERT INTO atproto_grants (member_id, did, kind, pds_url, issuer, token_endpoint,"
    "  revocation_endpoint, scope, access_token, access_nonce, access_expires_at, refresh_token,"
    "  refresh_nonce, dpop_key, dpop_key_nonce, as_dpop_nonce)"
    " VALUES ($1::bigint, $2, 'oauth', $3, $4, $5, $6, $7, $8::bytea, $9::bytea,"
    "  now() + $10::bigint * interval '1 second', $11::bytea, $12::bytea, $13::bytea, $14::bytea,"
    "  $15)"
    " ON CONFLICT (member_id) DO UPDATE SET did = EXCLUDED.did, kind = EXCLUDED.kind,"
    "  pds_url = EXCLUDED.pds_url, issuer = EXCLUDED.issuer,"
    "  token_endpoint = EXCLUDED.token_endpoint,"
    "  revocation_endpoint = EXCLUDED.revocation_endpoint, scope = EXCLUDED.scope,"
    "  access_token = EXCLUDED.access_token, access_nonce = EXCLUDED.access_nonce,"
    "  access_expires_at = EXCLUDED.access_expires_at, refresh_token = EXCLUDED.refresh_token,"
    "  refresh_nonce = EXCLUDED.refresh_nonce, dpop_key = EXCLUDED.dpop_key,"
    "  dpop_key_nonce = EXCLUDED.dpop_key_nonce, as_dpop_nonce = EXCLUDED.as_dpop_nonce,"
    "  pds_dpop_nonce = NULL, refresh_lease = NULL, refresh_until = NULL, refreshed_at = NULL,"
    "  created_at = now()";

/* Seals plain under the grant's ad for what into ct/nonce; -1 on failure. */
static int
atgrant_seal(const struct app *app, const char *member_id, const char *did, const char *what,
             const char *plain, char **ct, char nonce[SEAL_NONCE_BYTEA])
{
    char ad[400];

    atgrant_ad(member_id, did, what, ad, sizeof(ad));
    return seal_to_bytea(app->seal, ad, plain, ct, nonce);
}

static char *
atgrant_open(const struct app *app, const char *member_id, const char *did, const char *what,
             const char *ct, const char *nonce)
{
    char ad[400];

    atgrant_ad(member_id, did, what, ad, sizeof(ad));
    return seal_from_bytea(app->seal, ad, ct, nonce);
}

/* The grants a new one replaces, copied out of their DELETE's result. */
struct atgrant_replaced {
    PGresult *rows;
};

static int
atgrant_cleared_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct atgrant_replaced *r = arg;

    (void)tx;
    if (PQntuples(res) > 0)
        r->rows = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
    return 0;
}

/* Pushes the clearing of what the new grant of member_id for did replaces. */
static void
atgrant_push_clear(struct dbtx *tx, const char *member_id, const char *did,
                   struct atgrant_replaced **old)
{
    if (old != NULL)
        *old = xcalloc(1, sizeof(**old));
    dbtx_push(tx, sql_store_clear, old != NULL ? atgrant_cleared_cb : NULL,
              old != NULL ? *old : NULL, 2, did, member_id);
}

void
atgrant_replaced_end(struct app *app, struct atgrant_replaced *r, int committed)
{
    if (r == NULL)
        return;
    for (int i = 0; committed && r->rows != NULL && i < PQntuples(r->rows); i++) {
        log_info("atgrant_replaced", "member=%s did=%s kind=%s", PQgetvalue(r->rows, i, 0),
                 PQgetvalue(r->rows, i, 1), PQgetvalue(r->rows, i, 2));
        atgrant_revoke_row(app, r->rows, i, 0);
    }
    PQclear(r->rows);
    free(r);
}

int
atgrant_push_oauth(struct dbtx *tx, const struct app *app, const struct atgrant_new *n,
                   struct atgrant_replaced **old)
{
    char an[SEAL_NONCE_BYTEA], rn[SEAL_NONCE_BYTEA], dn[SEAL_NONCE_BYTEA], ttl[24];
    char *act = NULL, *rct = NULL, *dct = NULL;
    int rc = -1;

    if (atgrant_seal(app, n->member_id, n->did, "access", n->access_token, &act, an) == 0 &&
        atgrant_seal(app, n->member_id, n->did, "refresh", n->refresh_token, &rct, rn) == 0 &&
        atgrant_seal(app, n->member_id, n->did, "dpop", n->dpop_jwk, &dct, dn) == 0) {
        snprintf(ttl, sizeof(ttl), "%lld", n->expires_in > 0 ? n->expires_in : 0LL);
        atgrant_push_clear(tx, n->member_id, n->did, old);
        dbtx_push(tx, sql_store, NULL, NULL, 15, n->member_id, n->did, n->pds_url, n->issuer,
                  n->token_endpoint, n->revocation_endpoint, n->scope, act, an, ttl, rct, rn, dct,
                  dn, n->as_nonce);
        rc = 0;
    }
    free(act);
    free(rct);
    free(dct);
    return rc;
}

/* Only the refresh token is kept: the first use refreshes it into an access token. */
static const char sql_store_app[] =
    "INSERT INTO atproto_grants (member_id, did, kind, pds_url, refresh_token, refresh_nonce)"
    " VALUES ($1::bigint, $2, 'app_password', $3, $4::bytea, $5::bytea)"
    " ON CONFLICT (member_id) DO UPDATE SET did = EXCLUDED.did, kind = EXCLUDED.kind,"
    "  pds_url = EXCLUDED.pds_url, issuer = NULL, token_endpoint = NULL,"
    "  revocation_endpoint = NULL, scope = NULL, access_token = NULL, access_nonce = NULL,"
    "  access_expires_at = NULL, refresh_token = EXCLUDED.refresh_token,"
    "  refresh_nonce = EXCLUDED.refresh_nonce, dpop_key = NULL, dpop_key_nonce = NULL,"
    "  as_dpop_nonce = NULL, pds_dpop_nonce = NULL, refresh_lease = NULL, refresh_until = NULL,"
    "  refreshed_at = NULL, created_at = now()";

int
atgrant_push_app_password(struct dbtx *tx, const struct app *app, const char *member_id,
                          const char *did, const char *pds_url, const char *refresh_token,
                          struct atgrant_replaced **old)
{
    char nonce[SEAL_NONCE_BYTEA], *ct = NULL;

    if (atgrant_seal(app, member_id, did, "refresh", refresh_token, &ct, nonce) < 0)
        return -1;
    atgrant_push_clear(tx, member_id, did, old);
    dbtx_push(tx, sql_store_app, NULL, NULL, 5, member_id, did, pds_url, ct, nonce);
    free(ct);
    return 0;
}

/* --- using a grant --------------------------------------------------------------------------- */

#define ATGRANT_STR_(x)    #x
#define ATGRANT_STR(x)     ATGRANT_STR_(x)
#define ATGRANT_EARLY_TEXT ATGRANT_STR(ATGRANT_EARLY)
#define ATGRANT_LEASE_TEXT ATGRANT_STR(ATGRANT_LEASE)
#define ATGRANT_COLUMNS                                                                            \
    " did, kind, pds_url, issuer, token_endpoint, access_token, access_nonce,"                     \
    "  coalesce(access_expires_at > now() + " ATGRANT_EARLY_TEXT " * interval '1 second', false)," \
    "  refresh_token, refresh_nonce, dpop_key, dpop_key_nonce, as_dpop_nonce, pds_dpop_nonce"
enum {
    COL_DID,
    COL_KIND,
    COL_PDS,
    COL_ISSUER,
    COL_TOKEN_EP,
    COL_ACCESS,
    COL_ACCESS_NONCE,
    COL_FRESH,
    COL_REFRESH,
    COL_REFRESH_NONCE,
    COL_DPOP,
    COL_DPOP_NONCE,
    COL_AS_NONCE,
    COL_PDS_NONCE,
};

static const char sql_read[] =
    "SELECT" ATGRANT_COLUMNS " FROM atproto_grants WHERE member_id = $1::bigint";
/* The lease: nobody else refreshing, and the token still (or again) needing it. */
static const char sql_lease[] =
    "UPDATE atproto_grants SET refresh_lease = $2,"
    "  refresh_until = now() + " ATGRANT_LEASE_TEXT " * interval '1 second'"
    " WHERE member_id = $1::bigint AND (refresh_until IS NULL OR refresh_until <= now())"
    "  AND NOT coalesce(access_expires_at > now() + " ATGRANT_EARLY_TEXT " * interval '1 second',"
    "   false)"
    " RETURNING" ATGRANT_COLUMNS;
static const char sql_refreshed[] =
    "UPDATE atproto_grants SET access_token = $3::bytea, access_nonce = $4::bytea,"
    "  access_expires_at = now() + $5::bigint * interval '1 second', refresh_token = $6::bytea,"
    "  refresh_nonce = $7::bytea, as_dpop_nonce = coalesce($8, as_dpop_nonce),"
    "  scope = coalesce($9, scope), refresh_lease = NULL, refresh_until = NULL,"
    "  refreshed_at = now()"
    " WHERE member_id = $1::bigint AND refresh_lease = $2";
static const char sql_release[] =
    "UPDATE atproto_grants SET refresh_lease = NULL, refresh_until = NULL,"
    "  as_dpop_nonce = coalesce($3, as_dpop_nonce)"
    " WHERE member_id = $1::bigint AND refresh_lease = $2";
static const char sql_dead[] =
    "DELETE FROM atproto_grants WHERE member_id = $1::bigint AND refresh_lease = $2";

/* One use of a grant, the single owner of what it holds until cb. */
struct atgrant_op {
    struct app *app;
    atgrant_fn cb;
    void *arg;
    struct event *timer;
    int looks;
    char lease[33];
    struct atgrant *g; /* being built */
    char *issuer;      /* oauth */
    char *token_ep;    /* oauth */
    char *refresh;     /* plain: wiped */
    char *dpop_jwk;    /* plain: wiped */
    char *as_nonce;
    struct atoauth_tokens t;        /* the refresh's answer */
    char *app_access, *app_refresh; /* app password refresh's answer, plain */
    long long expires_in;
};

static void atgrant_look(struct atgrant_op *op);

static void
atgrant_end(struct atgrant_op *op, const char *why)
{
    struct atgrant *g = op->g;

    op->g = NULL;
    if (*why != '\0') {
        atgrant_free(g);
        g = NULL;
    }
    op->cb(g, why, op->arg);
    if (op->timer != NULL)
        event_free(op->timer);
    free(op->issuer);
    free(op->token_ep);
    seal_wipe_free(op->refresh);
    seal_wipe_free(op->dpop_jwk);
    free(op->as_nonce);
    atoauth_tokens_free(&op->t);
    seal_wipe_free(op->app_access);
    seal_wipe_free(op->app_refresh);
    atgrant_free(op->g);
    free(op);
}

static const char *
atgrant_val(PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

/* Fills op->g from a row of ATGRANT_COLUMNS; with_access: the stored access token too. -1 if a
 * sealed value does not open. */
static int
atgrant_fill(struct atgrant_op *op, PGresult *res, const char *member_id, int with_access)
{
    struct atgrant *g = xcalloc(1, sizeof(*g));
    const char *did = PQgetvalue(res, 0, COL_DID);
    char why[160];

    op->g = g;
    snprintf(g->member_id, sizeof(g->member_id), "%s", member_id);
    g->did = xstrdup(did);
    g->kind = xstrdup(PQgetvalue(res, 0, COL_KIND));
    g->pds_url = xstrdup(PQgetvalue(res, 0, COL_PDS));
    g->pds_nonce =
        atgrant_val(res, COL_PDS_NONCE) != NULL ? xstrdup(PQgetvalue(res, 0, COL_PDS_NONCE)) : NULL;
    if (!PQgetisnull(res, 0, COL_DPOP)) {
        op->dpop_jwk = atgrant_open(op->app, member_id, did, "dpop", PQgetvalue(res, 0, COL_DPOP),
                                    PQgetvalue(res, 0, COL_DPOP_NONCE));
        if (op->dpop_jwk == NULL ||
            (g->dpop = jose_key_from_jwk(op->dpop_jwk, why, sizeof(why))) == NULL)
            return -1;
    }
    if (with_access) {
        g->access_token =
            atgrant_open(op->app, member_id, did, "access", PQgetvalue(res, 0, COL_ACCESS),
                         PQgetvalue(res, 0, COL_ACCESS_NONCE));
        return g->access_token != NULL ? 0 : -1;
    }
    op->refresh = atgrant_open(op->app, member_id, did, "refresh", PQgetvalue(res, 0, COL_REFRESH),
                               PQgetvalue(res, 0, COL_REFRESH_NONCE));
    if (op->refresh == NULL)
        return -1;
    if (atgrant_val(res, COL_ISSUER) != NULL) {
        op->issuer = xstrdup(PQgetvalue(res, 0, COL_ISSUER));
        op->token_ep = xstrdup(PQgetvalue(res, 0, COL_TOKEN_EP));
    }
    if (atgrant_val(res, COL_AS_NONCE) != NULL)
        op->as_nonce = xstrdup(PQgetvalue(res, 0, COL_AS_NONCE));
    return 0;
}

static void
atgrant_stored(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atgrant_op *op = arg;
    int stored = outcome == DB_OK && strcmp(PQcmdTuples(res), "1") == 0;

    PQclear(res);
    if (!stored) {
        /* The new pair is lost: the grant will need a new sign-in. */
        log_warn("atgrant_refresh_lost", "member=%s reason=%s", op->g->member_id,
                 log_q(err != NULL ? err : "lease lost"));
        atgrant_end(op, "unavailable");
        return;
    }
    log_info("atgrant_refreshed", "member=%s kind=%s", op->g->member_id, op->g->kind);
    op->g->refreshed = 1;
    atgrant_end(op, "");
}

static void
atgrant_dead(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atgrant_op *op = arg;

    (void)outcome;
    (void)err;
    PQclear(res);
    atgrant_end(op, "revoked");
}

static void
atgrant_released(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atgrant_op *op = arg;

    (void)outcome;
    (void)err;
    PQclear(res);
    atgrant_end(op, "unavailable");
}

/* The refresh failed: a refusal kills the grant, anything else only gives the lease back. */
static void
atgrant_refresh_failed(struct atgrant_op *op, int refused, const char *nonce, const char *why)
{
    const char *params[3] = { op->g->member_id, op->lease, nonce };

    log_warn("atgrant_refresh_failed", "member=%s kind=%s refused=%s reason=%s", op->g->member_id,
             op->g->kind, refused ? "yes" : "no", log_q(why));
    db_query(op->app->db, refused ? sql_dead : sql_release, refused ? 2 : 3, params,
             refused ? atgrant_dead : atgrant_released, op);
}

/* Stores the new pair under the lease; the grant keeps the new access token. */
static void
atgrant_store_pair(struct atgrant_op *op, const char *access, const char *refresh,
                   long long expires_in, const char *nonce, const char *scope)
{
    struct atgrant *g = op->g;
    char an[SEAL_NONCE_BYTEA], rn[SEAL_NONCE_BYTEA], ttl[24];
    char *act = NULL, *rct = NULL;
    const char *params[9];

    if (atgrant_seal(op->app, g->member_id, g->did, "access", access, &act, an) < 0 ||
        atgrant_seal(op->app, g->member_id, g->did, "refresh", refresh, &rct, rn) < 0) {
        free(act);
        atgrant_refresh_failed(op, 0, nonce, "cannot seal");
        return;
    }
    g->access_token = xstrdup(access);
    snprintf(ttl, sizeof(ttl), "%lld", expires_in);
    params[0] = g->member_id;
    params[1] = op->lease;
    params[2] = act;
    params[3] = an;
    params[4] = ttl;
    params[5] = rct;
    params[6] = rn;
    params[7] = nonce;
    params[8] = scope;
    db_query(op->app->db, sql_refreshed, 9, params, atgrant_stored, op);
    free(act);
    free(rct);
}

static void
atgrant_oauth_refreshed(const struct atoauth_answer *a, void *arg)
{
    struct atgrant_op *op = arg;
    char why[160];

    if (a->error != HTTPC_OK || a->status != 200) {
        /* invalid_grant: revoked, expired or replayed; the session is over at the server. */
        int refused = a->error == HTTPC_OK && a->error_code != NULL &&
                      strcmp(a->error_code, "invalid_grant") == 0;

        snprintf(why, sizeof(why), "%s %ld %s", httpc_error_name(a->error), a->status,
                 a->error_code != NULL ? a->error_code : "-");
        atgrant_refresh_failed(op, refused, a->nonce, why);
        return;
    }
    if (atoauth_tokens_parse(a->json, op->g->did, &op->t, why, sizeof(why)) < 0) {
        atgrant_refresh_failed(op, 0, a->nonce, why);
        return;
    }
    atgrant_store_pair(op, op->t.access_token, op->t.refresh_token,
                       op->t.expires_in > 0 ? op->t.expires_in : 0, a->nonce, op->t.scope);
}

/* An app password's refreshSession answered. */
static void
atgrant_session_refreshed(const struct session_result *r, void *arg)
{
    struct atgrant_op *op = arg;
    long long now = (long long)time(NULL), ttl;

    if (r->status != SESSION_OK || strcmp(r->did, op->g->did) != 0) {
        /* Expired, revoked or refused: only a new app password brings the member back. */
        int refused =
            r->status == SESSION_EXPIRED || r->status == SESSION_REFUSED || r->status == SESSION_OK;

        atgrant_refresh_failed(op, refused, NULL,
                               r->status == SESSION_OK ? "another DID"
                                                       : session_status_name(r->status));
        return;
    }
    ttl = r->access_exp > now ? r->access_exp - now : ATGRANT_JWT_FALLBACK;
    atgrant_store_pair(op, r->access_jwt, r->refresh_jwt, ttl, NULL, NULL);
}

static void
atgrant_refresh(struct atgrant_op *op)
{
    if (strcmp(op->g->kind, "oauth") == 0) {
        char *form = NULL;

        form_add(&form, "grant_type", "refresh_token");
        form_add(&form, "refresh_token", op->refresh);
        atoauth_post(op->app, op->g->dpop, op->issuer, op->token_ep, form, op->as_nonce,
                     atgrant_oauth_refreshed, op);
        seal_wipe_free(form);
    } else {
        session_refresh(op->app->httpc, op->g->pds_url, op->refresh, atgrant_session_refreshed, op);
    }
}

static void
atgrant_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    atgrant_look(arg);
}

static void
atgrant_leased(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atgrant_op *op = arg;
    char member_id[24];

    (void)err;
    if (outcome != DB_OK) {
        PQclear(res);
        atgrant_end(op, "unavailable");
        return;
    }
    if (PQntuples(res) != 1) {
        /* Someone else refreshes (or just did): look again in a moment. */
        struct timeval tv = { 0, ATGRANT_WAIT_MS * 1000 };

        PQclear(res);
        if (++op->looks > ATGRANT_MAX_WAIT) {
            atgrant_end(op, "busy");
            return;
        }
        if (op->timer == NULL)
            op->timer = evtimer_new(op->app->base, atgrant_wait_cb, op);
        evtimer_add(op->timer, &tv);
        return;
    }
    snprintf(member_id, sizeof(member_id), "%s", op->g != NULL ? op->g->member_id : "");
    atgrant_free(op->g);
    op->g = NULL;
    if (atgrant_fill(op, res, member_id, 0) < 0) {
        PQclear(res);
        log_error("atgrant_unseal_failed", "member=%s", member_id);
        atgrant_refresh_failed(op, 0, NULL, "unseal");
        return;
    }
    PQclear(res);
    atgrant_refresh(op);
}

static void
atgrant_read(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atgrant_op *op = arg;
    const char *params[2];
    char member_id[24];

    (void)err;
    if (outcome != DB_OK || PQntuples(res) != 1) {
        PQclear(res);
        atgrant_end(op, outcome != DB_OK ? "unavailable" : "none");
        return;
    }
    snprintf(member_id, sizeof(member_id), "%s", op->g->member_id);
    atgrant_free(op->g);
    op->g = NULL;
    if (strcmp(PQgetvalue(res, 0, COL_FRESH), "t") == 0 && !PQgetisnull(res, 0, COL_ACCESS)) {
        int ok = atgrant_fill(op, res, member_id, 1) == 0;

        PQclear(res);
        if (!ok)
            log_error("atgrant_unseal_failed", "member=%s", member_id);
        atgrant_end(op, ok ? "" : "unavailable");
        return;
    }
    PQclear(res);
    /* A placeholder keeps the member's id until the lease's row comes back. */
    op->g = xcalloc(1, sizeof(*op->g));
    snprintf(op->g->member_id, sizeof(op->g->member_id), "%s", member_id);
    params[0] = member_id;
    params[1] = op->lease;
    db_query(op->app->db, sql_lease, 2, params, atgrant_leased, op);
}

static void
atgrant_look(struct atgrant_op *op)
{
    const char *params[1] = { op->g->member_id };

    db_query(op->app->db, sql_read, 1, params, atgrant_read, op);
}

void
atgrant_use(struct app *app, const char *member_id, atgrant_fn cb, void *arg)
{
    struct atgrant_op *op = xcalloc(1, sizeof(*op));

    op->app = app;
    op->cb = cb;
    op->arg = arg;
    op->g = xcalloc(1, sizeof(*op->g));
    snprintf(op->g->member_id, sizeof(op->g->member_id), "%s", member_id);
    if (app->seal == NULL || token_random_hex(16, op->lease, sizeof(op->lease)) < 0) {
        atgrant_end(op, app->seal == NULL ? "none" : "unavailable");
        return;
    }
    atgrant_look(op);
}

/* --- nonces, dropping ------------------------------------------------------------------------ */

static const char sql_nonce[] =
    "UPDATE atproto_grants SET pds_dpop_nonce = $2 WHERE member_id = $1::bigint";

static void
atgrant_nonce_saved(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    (void)outcome;
    (void)err;
    (void)arg;
    PQclear(res);
}

void
atgrant_save_nonce(struct app *app, const char *member_id, const char *nonce)
{
    const char *params[2] = { member_id, nonce };

    if (nonce != NULL && *nonce != '\0')
        db_query(app->db, sql_nonce, 2, params, atgrant_nonce_saved, NULL);
}

static void
atgrant_session_deleted(const struct httpc_response *resp, void *arg)
{
    (void)arg;
    log_info("atgrant_revoke", "kind=app_password error=%s status=%ld",
             httpc_error_name(resp->error), resp->status);
}

void
atgrant_revoke_row(struct app *app, const struct pg_result *cres, int row, int col)
{
    const PGresult *res = cres;
    const char *member_id = PQgetvalue(res, row, col), *did = PQgetvalue(res, row, col + 1);
    const char *kind = PQgetvalue(res, row, col + 2);
    char *refresh, *jwk = NULL, why[160];
    struct jose_key *dpop = NULL;

    if (app->seal == NULL)
        return;
    refresh = atgrant_open(app, member_id, did, "refresh", PQgetvalue(res, row, col + 6),
                           PQgetvalue(res, row, col + 7));
    if (refresh == NULL) {
        log_warn("atgrant_revoke_skipped", "member=%s reason=unseal", member_id);
        return;
    }
    if (strcmp(kind, "oauth") == 0) {
        if (!PQgetisnull(res, row, col + 5))
            jwk = atgrant_open(app, member_id, did, "dpop", PQgetvalue(res, row, col + 8),
                               PQgetvalue(res, row, col + 9));
        if (jwk != NULL)
            dpop = jose_key_from_jwk(jwk, why, sizeof(why));
        if (dpop != NULL)
            atoauth_revoke(app, dpop, PQgetvalue(res, row, col + 4), PQgetvalue(res, row, col + 5),
                           refresh,
                           PQgetisnull(res, row, col + 10) ? NULL : PQgetvalue(res, row, col + 10));
        else
            log_warn("atgrant_revoke_skipped", "member=%s reason=no_endpoint", member_id);
    } else {
        /* An app password's session ends with deleteSession, authorised by its refresh token. */
        char *url =
            xasprintf("%s/xrpc/com.atproto.server.deleteSession", PQgetvalue(res, row, col + 3));
        char *auth = xasprintf("Authorization: Bearer %s", refresh);
        const char *headers[1] = { auth };
        struct httpc_req hr = { 0 };

        hr.method = "POST";
        hr.url = url;
        hr.headers = headers;
        hr.nheaders = 1;
        httpc_request(app->httpc, &hr, atgrant_session_deleted, NULL);
        free(url);
        seal_wipe_free(auth);
    }
    seal_wipe_free(jwk);
    seal_wipe_free(refresh);
}

static const char sql_drop[] = "DELETE FROM atproto_grants AS g WHERE g.member_id = $1::bigint"
                               " RETURNING " ATGRANT_REVOKE_COLUMNS;

/* One drop; owns only itself. */
struct atgrant_drop {
    struct app *app;
    atgrant_drop_fn cb;
    void *arg;
};

static void
atgrant_dropped(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atgrant_drop *d = arg;
    int had = outcome == DB_OK && PQntuples(res) == 1;

    (void)err;
    if (d->cb != NULL)
        d->cb(outcome == DB_OK, had, d->arg);
    if (had)
        atgrant_revoke_row(d->app, res, 0, 0);
    PQclear(res);
    free(d);
}

void
atgrant_drop(struct app *app, const char *member_id, atgrant_drop_fn cb, void *arg)
{
    struct atgrant_drop *d = xcalloc(1, sizeof(*d));
    const char *params[1] = { member_id };

    d->app = app;
    d->cb = cb;
    d->arg = arg;
    db_query(app->db, sql_drop, 1, params, atgrant_dropped, d);
}
