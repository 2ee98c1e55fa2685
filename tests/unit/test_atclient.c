/*
 * Tests of atclient.c on a real PostgreSQL: the client key created once, sealed, and read back
 * by another process; the client metadata document; the client assertion's header and claims.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "atclient.h"
#include "config.h"
#include "jose.h"
#include "pgtest.h"
#include "seal.h"
#include "tap.h"

static struct app app;

struct loaded {
    int done;
    const struct atclient *c;
};

static void
loaded_cb(struct app *a, const struct atclient *c, void *arg)
{
    struct loaded *l = arg;

    (void)a;
    l->done++;
    l->c = c;
}

static const struct atclient *
load(void)
{
    struct loaded l = { 0 };

    atclient_load(&app, loaded_cb, &l);
    PGT_SPIN(l.done, 5);
    is_int(l.done, 1, "the callback ran once");
    return l.c;
}

static const char *
str_of(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void
test_key(void)
{
    const struct atclient *c;
    char kid[44];

    c = load();
    ok(c != NULL && jose_key_has_private(c->key), "a key with its private half");
    is_int(pgt_num("SELECT count(*) FROM atproto_client_key"), 1, "one row");
    is_str(pgt_str("SELECT kid FROM atproto_client_key"), c != NULL ? c->kid : "", "kid stored");
    ok(c != NULL && jose_thumbprint(c->key, kid) == 0 && strcmp(kid, c->kid) == 0,
       "kid is the RFC 7638 thumbprint");
    ok(pgt_num("SELECT count(*) FROM atproto_client_key WHERE position('\"d\"'::bytea IN jwk) > 0"
               " OR position('P-256'::bytea IN jwk) > 0") == 0,
       "the private JWK is not stored in the clear");
    snprintf(kid, sizeof(kid), "%s", c != NULL ? c->kid : "");
    ok(load() == c, "a second load in the process is the cached key");

    /* Another process (nothing cached) reads the same key back instead of making its own. */
    atclient_free(app.atclient);
    app.atclient = NULL;
    c = load();
    ok(c != NULL && strcmp(c->kid, kid) == 0, "another process gets the same key");
    is_int(pgt_num("SELECT count(*) FROM atproto_client_key"), 1, "still one row");
}

static void
test_wrong_seal(void)
{
    struct atclient *kept = app.atclient;
    struct seal *right = app.seal;
    unsigned char other[SEAL_KEY_BYTES] = { 9 };

    app.atclient = NULL;
    app.seal = seal_from_bytes(other);
    ok(load() == NULL, "a key sealed under another token key is refused");
    seal_free(app.seal);
    app.seal = right;
    app.atclient = kept;
}

static void
test_metadata(void)
{
    struct json_object *m = atclient_metadata(app.cfg, app.atclient), *v = NULL, *k;
    struct jose_key *pub;
    char err[128], tp[44];

    is_str(str_of(m, "client_id"), "https://bridge.example/atproto/client-metadata.json",
           "client_id is the document's own URL");
    is_str(str_of(m, "application_type"), "web", "a web client");
    is_str(str_of(m, "scope"), "atproto repo:app.bsky.graph.follow", "scope");
    is_str(str_of(m, "token_endpoint_auth_method"), "private_key_jwt", "auth method");
    is_str(str_of(m, "token_endpoint_auth_signing_alg"), "ES256", "auth alg");
    is_str(str_of(m, "client_uri"), "https://bridge.example/", "client_uri: the origin");
    ok(json_object_object_get_ex(m, "dpop_bound_access_tokens", &v) && json_object_get_boolean(v),
       "DPoP-bound tokens");
    ok(json_object_object_get_ex(m, "redirect_uris", &v) && json_object_array_length(v) == 1 &&
           strcmp(json_object_get_string(json_object_array_get_idx(v, 0)),
                  "https://bridge.example/signin/bluesky/callback") == 0,
       "the callback is the one redirect URI");
    ok(json_object_object_get_ex(m, "grant_types", &v) && json_object_array_length(v) == 2,
       "code and refresh_token grants");
    ok(!json_object_object_get_ex(m, "jwks_uri", NULL), "no jwks_uri beside jwks");
    ok(json_object_object_get_ex(m, "jwks", &v) && json_object_object_get_ex(v, "keys", &v) &&
           json_object_array_length(v) == 1,
       "one key in jwks");
    k = json_object_array_get_idx(v, 0);
    is_str(str_of(k, "kid"), app.atclient->kid, "the key's kid");
    is_str(str_of(k, "alg"), "ES256", "alg");
    ok(!json_object_object_get_ex(k, "d", NULL), "no private part in the document");
    pub = jose_key_from_json(k, err, sizeof(err));
    ok(pub != NULL && !jose_key_has_private(pub) && jose_thumbprint(pub, tp) == 0 &&
           strcmp(tp, app.atclient->kid) == 0,
       "the published key is the client's");
    jose_key_free(pub);
    json_object_put(m);
}

static void
test_assertion(void)
{
    const struct atclient *c = app.atclient;
    char err[128], *a, *b, *payload = NULL;
    struct json_object *h, *p, *v = NULL;

    a = atclient_assertion(c, "https://bridge.example/atproto/client-metadata.json",
                           "https://auth.example", 1800000000, err, sizeof(err));
    ok(a != NULL, "an assertion");
    ok(a != NULL && jose_verify(c->key, a, &payload, err, sizeof(err)) == 0,
       "it verifies with the client's key");
    h = a != NULL ? jose_header(a) : NULL;
    is_str(str_of(h, "kid"), c->kid, "header kid");
    is_str(str_of(h, "alg"), "ES256", "header alg");
    p = payload != NULL ? json_tokener_parse(payload) : NULL;
    is_str(str_of(p, "iss"), "https://bridge.example/atproto/client-metadata.json", "iss");
    is_str(str_of(p, "sub"), "https://bridge.example/atproto/client-metadata.json", "sub");
    is_str(str_of(p, "aud"), "https://auth.example", "aud is the issuer");
    ok(str_of(p, "jti") != NULL && strlen(str_of(p, "jti")) >= 16, "a jti");
    ok(json_object_object_get_ex(p, "iat", &v) && json_object_get_int64(v) == 1800000000, "iat");
    ok(json_object_object_get_ex(p, "exp", &v) && json_object_get_int64(v) == 1800000060,
       "exp a minute later");
    b = atclient_assertion(c, "x", "y", 1800000000, err, sizeof(err));
    ok(b != NULL && strcmp(a, b) != 0, "each assertion has its own jti");
    json_object_put(h);
    json_object_put(p);
    free(payload);
    free(a);
    free(b);
}

int
main(void)
{
    struct config cfg;
    unsigned char key[SEAL_KEY_BYTES];
    char err[256];

    pgt_setup("atclient");
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://bridge.example", err, sizeof(err)) < 0 ||
        config_validate(&cfg, err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app.db = pgt_db(2);
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)(i * 5 + 3);
    app.seal = seal_from_bytes(key);

    {
        struct app none = app;
        struct loaded l = { 0 };

        none.seal = NULL;
        atclient_load(&none, loaded_cb, &l);
        ok(l.done == 1 && l.c == NULL, "without token_key_file there is no key");
    }
    test_key();
    test_wrong_seal();
    test_metadata();
    test_assertion();

    atclient_free(app.atclient);
    seal_free(app.seal);
    db_free(app.db);
    config_free(&cfg);
    pgt_teardown();
    return done_testing();
}
