/* passerelle as an atproto OAuth client: its key (sealed in the database), metadata, assertions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "app.h"
#include "atclient.h"
#include "config.h"
#include "db.h"
#include "jose.h"
#include "log.h"
#include "reply.h"
#include "seal.h"
#include "xmalloc.h"

/* The associated data that binds the sealed private JWK to its one row. */
#define ATCLIENT_AD "atproto-client-key:1"

char *
atclient_id(const struct config *cfg)
{
    return xasprintf("%s%s", cfg->base_url, ATCLIENT_METADATA_PATH);
}

char *
atclient_redirect_uri(const struct config *cfg)
{
    return xasprintf("%s%s", cfg->base_url, ATCLIENT_CALLBACK_PATH);
}

static struct json_object *
atclient_strings(const char *a, const char *b)
{
    struct json_object *arr = json_object_new_array();

    json_object_array_add(arr, json_object_new_string(a));
    if (b != NULL)
        json_object_array_add(arr, json_object_new_string(b));
    return arr;
}

struct json_object *
atclient_metadata(const struct config *cfg, const struct atclient *c)
{
    struct json_object *o = json_object_new_object();
    struct json_object *jwk = jose_key_json(c->key), *keys = json_object_new_array();
    struct json_object *jwks = json_object_new_object();
    char *id = atclient_id(cfg), *redirect = atclient_redirect_uri(cfg);
    char *uri = xasprintf("%s/", cfg->base_url);

    json_object_object_add(jwk, "kid", json_object_new_string(c->kid));
    json_object_object_add(jwk, "use", json_object_new_string("sig"));
    json_object_object_add(jwk, "alg", json_object_new_string("ES256"));
    json_object_array_add(keys, jwk);
    json_object_object_add(jwks, "keys", keys);
    json_object_object_add(o, "client_id", json_object_new_string(id));
    json_object_object_add(o, "client_name", json_object_new_string(cfg->instance_name));
    json_object_object_add(o, "client_uri", json_object_new_string(uri));
    json_object_object_add(o, "application_type", json_object_new_string("web"));
    json_object_object_add(o, "grant_types",
                           atclient_strings("authorization_code", "refresh_token"));
    json_object_object_add(o, "response_types", atclient_strings("code", NULL));
    json_object_object_add(o, "redirect_uris", atclient_strings(redirect, NULL));
    json_object_object_add(o, "scope", json_object_new_string(ATCLIENT_SCOPE));
    json_object_object_add(o, "dpop_bound_access_tokens", json_object_new_boolean(1));
    json_object_object_add(o, "token_endpoint_auth_method",
                           json_object_new_string("private_key_jwt"));
    json_object_object_add(o, "token_endpoint_auth_signing_alg", json_object_new_string("ES256"));
    json_object_object_add(o, "jwks", jwks);
    free(id);
    free(redirect);
    free(uri);
    return o;
}

char *
atclient_assertion(const struct atclient *c, const char *client_id, const char *issuer, time_t now,
                   char *err, size_t errlen)
{
    struct json_object *h = json_object_new_object(), *p = json_object_new_object();
    char jti[32], *jws = NULL;

    if (jose_random_b64url(16, jti, sizeof(jti)) < 0) {
        snprintf(err, errlen, "no randomness");
    } else {
        json_object_object_add(h, "alg", json_object_new_string("ES256"));
        json_object_object_add(h, "typ", json_object_new_string("JWT"));
        json_object_object_add(h, "kid", json_object_new_string(c->kid));
        json_object_object_add(p, "iss", json_object_new_string(client_id));
        json_object_object_add(p, "sub", json_object_new_string(client_id));
        json_object_object_add(p, "aud", json_object_new_string(issuer));
        json_object_object_add(p, "jti", json_object_new_string(jti));
        json_object_object_add(p, "iat", json_object_new_int64((int64_t)now));
        json_object_object_add(p, "exp",
                               json_object_new_int64((int64_t)now + ATCLIENT_ASSERTION_TTL));
        jws = jose_sign(c->key, json_object_to_json_string_ext(h, JSON_C_TO_STRING_PLAIN),
                        json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN), err, errlen);
    }
    json_object_put(h);
    json_object_put(p);
    return jws;
}

void
atclient_free(struct atclient *c)
{
    if (c == NULL)
        return;
    jose_key_free(c->key);
    free(c);
}

/* --- loading the key ------------------------------------------------------------------------- */

/* A candidate key is offered; whoever inserted first wins, and everyone reads the row back. */
static const char sql_key[] =
    "WITH ins AS (INSERT INTO atproto_client_key (id, kid, jwk, jwk_nonce)"
    "  VALUES (1, $1, $2::bytea, $3::bytea) ON CONFLICT (id) DO NOTHING RETURNING kid, jwk, "
    "jwk_nonce)"
    " SELECT kid, jwk, jwk_nonce FROM ins"
    " UNION ALL SELECT kid, jwk, jwk_nonce FROM atproto_client_key WHERE id = 1"
    "  AND NOT EXISTS (SELECT 1 FROM ins)";

static const char sql_key_read[] =
    "SELECT kid, jwk, jwk_nonce FROM atproto_client_key WHERE id = 1";

/* One load; owns only itself. */
struct atclient_op {
    struct app *app;
    atclient_fn cb;
    void *arg;
    int reread; /* the row was being inserted by another process: read it once more */
};

static void
atclient_loaded(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct atclient_op *op = arg;
    struct app *app = op->app;
    struct atclient *c = NULL;
    char *jwk = NULL, why[160];

    if (outcome == DB_OK && PQntuples(res) == 0 && !op->reread) {
        /* Another process inserted it after this statement's snapshot: it is there now. */
        PQclear(res);
        op->reread = 1;
        db_query(app->db, sql_key_read, 0, NULL, atclient_loaded, op);
        return;
    }
    if (outcome != DB_OK || PQntuples(res) != 1) {
        log_warn("atclient_key_failed", "reason=%s", log_q(err != NULL ? err : "no row"));
    } else if ((jwk = seal_from_bytea(app->seal, ATCLIENT_AD, PQgetvalue(res, 0, 1),
                                      PQgetvalue(res, 0, 2))) == NULL) {
        log_error("atclient_key_failed", "reason=%s",
                  log_q("the client key does not open with this token_key_file"));
    } else {
        c = xcalloc(1, sizeof(*c));
        c->key = jose_key_from_jwk(jwk, why, sizeof(why));
        if (c->key == NULL || jose_thumbprint(c->key, c->kid) < 0 ||
            strcmp(c->kid, PQgetvalue(res, 0, 0)) != 0) {
            log_error("atclient_key_failed", "reason=%s",
                      log_q("the stored client key is unusable"));
            atclient_free(c);
            c = NULL;
        }
    }
    seal_wipe_free(jwk);
    PQclear(res);
    if (c != NULL && app->atclient == NULL)
        app->atclient = c; /* the first load of this process to finish */
    else
        atclient_free(c);
    op->cb(app, c != NULL ? app->atclient : NULL, op->arg);
    free(op);
}

void
atclient_load(struct app *app, atclient_fn cb, void *arg)
{
    struct jose_key *k;
    char kid[44], why[160], nonce[SEAL_NONCE_BYTEA], *jwk, *ct = NULL;
    struct atclient_op *op;
    const char *params[3];

    if (app->atclient != NULL) {
        cb(app, app->atclient, arg);
        return;
    }
    if (app->seal == NULL || app->db == NULL) {
        cb(app, NULL, arg);
        return;
    }
    k = jose_key_generate(why, sizeof(why));
    jwk = k != NULL ? jose_key_jwk(k, 1) : NULL;
    if (jwk == NULL || jose_thumbprint(k, kid) < 0 ||
        seal_to_bytea(app->seal, ATCLIENT_AD, jwk, &ct, nonce) < 0) {
        log_error("atclient_key_failed", "reason=%s", log_q("cannot make a key"));
        seal_wipe_free(jwk);
        jose_key_free(k);
        cb(app, NULL, arg);
        return;
    }
    seal_wipe_free(jwk);
    jose_key_free(k);
    op = xcalloc(1, sizeof(*op));
    op->app = app;
    op->cb = cb;
    op->arg = arg;
    params[0] = kid;
    params[1] = ct;
    params[2] = nonce;
    db_query(app->db, sql_key, 3, params, atclient_loaded, op);
    free(ct);
}

/* --- GET /atproto/client-metadata.json ------------------------------------------------------- */

static void
atclient_metadata_reply(struct app *app, const struct atclient *c, void *arg)
{
    struct evhttp_request *req = arg;

    if (c == NULL) {
        reply_fail(req, REPLY_ERR_UNAVAILABLE, "Bluesky sign-in is not set up here");
        return;
    }
    /* Authorization servers cache it; a few minutes let a new key or address show soon. */
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
                      "public, max-age=300");
    reply_json(req, 200, "application/json", atclient_metadata(app->cfg, c));
}

void
atclient_metadata_get(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    atclient_load(app, atclient_metadata_reply, req);
}
