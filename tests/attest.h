/* Test helper, header only: an app for the atproto OAuth tests (pgtest.h's database and loop). */
#ifndef PASSERELLE_ATTEST_H
#define PASSERELLE_ATTEST_H

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "app.h"
#include "atclient.h"
#include "atgrant.h"
#include "config.h"
#include "httpc.h"
#include "pgtest.h"
#include "seal.h"

static struct config attest_cfg;
static struct evhttp *attest_http;

/* The double's answer: status and a JSON body. */
static inline void
attest_json(struct evhttp_request *req, int status, const char *body)
{
    struct evbuffer *b = evbuffer_new();

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, status, NULL, b);
    evbuffer_free(b);
}

static inline void
attest_loaded(struct app *a, const struct atclient *c, void *arg)
{
    (void)a;
    (void)c;
    *(int *)arg = 1;
}

/*
 * pgt_setup(name), a double of the member's servers (double_cb, on loopback: its origin into
 * origin), and app: base_url https://bridge.example, a database pool of conns, a seal key made
 * of seed, an HTTP client that may reach loopback, the client key loaded.
 */
static inline void
attest_setup(struct app *app, const char *name, void (*double_cb)(struct evhttp_request *, void *),
             char *origin, size_t originlen, int conns, unsigned char seed)
{
    struct httpc_options ho = { 0 };
    unsigned char key[SEAL_KEY_BYTES] = { seed, seed, seed };
    char err[256];
    int port, done = 0;

    pgt_setup(name);
    port = pgt_listen(&attest_http, double_cb, NULL);
    if (port < 0)
        pgt_bail("cannot listen");
    snprintf(origin, originlen, "http://127.0.0.1:%d", port);
    config_defaults(&attest_cfg);
    if (config_set(&attest_cfg, "base_url", "https://bridge.example", err, sizeof(err)) < 0 ||
        config_validate(&attest_cfg, err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app->base = pgt_base;
    app->cfg = &attest_cfg;
    app->db = pgt_db(conns);
    app->seal = seal_from_bytes(key);
    ho.allow_loopback = 1;
    app->httpc = httpc_new(pgt_base, &ho, err, sizeof(err));
    if (app->httpc == NULL)
        pgt_bail("httpc: %s", err);
    atclient_load(app, attest_loaded, &done);
    PGT_SPIN(done, 5);
    if (app->atclient == NULL)
        pgt_bail("no client key");
}

/*
 * An app-password grant of member (did) at the PDS http://127.0.0.1:<port>, sealed as atgrant.c
 * seals it: access token "access-token-1" for an hour, refresh token "refresh-token-1".
 */
static inline void
attest_app_password_grant(struct app *app, long member, const char *did, int port)
{
    char ad[200], *ct[2], nonce[2][40], id[24];

    snprintf(id, sizeof(id), "%ld", member);
    atgrant_ad(id, did, "access", ad, sizeof(ad));
    seal_to_bytea(app->seal, ad, "access-token-1", &ct[0], nonce[0]);
    atgrant_ad(id, did, "refresh", ad, sizeof(ad));
    seal_to_bytea(app->seal, ad, "refresh-token-1", &ct[1], nonce[1]);
    pgt_exec("INSERT INTO atproto_grants (member_id, did, kind, pds_url, access_token,"
             " access_nonce, access_expires_at, refresh_token, refresh_nonce) VALUES (%ld, '%s',"
             " 'app_password', 'http://127.0.0.1:%d', '%s', '%s', now() + interval '1 hour',"
             " '%s', '%s')",
             member, did, port, ct[0], nonce[0], ct[1], nonce[1]);
    free(ct[0]);
    free(ct[1]);
}

/* Frees what attest_setup made, then pgt_teardown. */
static inline void
attest_teardown(struct app *app)
{
    httpc_free(app->httpc);
    atclient_free(app->atclient);
    seal_free(app->seal);
    db_free(app->db);
    config_free(&attest_cfg);
    evhttp_free(attest_http);
    pgt_teardown();
}

#endif
