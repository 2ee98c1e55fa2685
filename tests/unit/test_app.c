/* Tests of app: our actors' ids derived from base_url and the bridge's name, and freed. */
#include <stdlib.h>

#include <openssl/evp.h>

#include "app.h"
#include "config.h"
#include "tap.h"

int
main(void)
{
    struct config cfg;
    struct app app = { 0 };
    char err[128];

    config_defaults(&cfg);
    ok(config_set(&cfg, "base_url", "https://relay.example", err, sizeof(err)) == 0 &&
           config_set(&cfg, "bridge_username", "pont", err, sizeof(err)) == 0,
       "configured");
    app.cfg = &cfg;
    app_init_ids(&app);
    is_str(app.relay_id, "https://relay.example/actor", "relay_id: <base>/actor");
    is_str(app.bridge_id, "https://relay.example/users/pont", "bridge_id: <base>/users/<bridge>");
    is_str(app.relay_key_id, "https://relay.example/actor#main-key", "relay_key_id: #main-key");
    is_str(app.bridge_key_id, "https://relay.example/users/pont#main-key",
           "bridge_key_id: #main-key");
    is_str(app.standin_prefix, "https://relay.example/x/", "standin_prefix: <base>/x/");

    app.key = EVP_PKEY_new();
    app.public_pem = malloc(8);
    app_free_ids(&app);
    ok(app.relay_id == NULL && app.bridge_id == NULL && app.relay_key_id == NULL &&
           app.bridge_key_id == NULL && app.standin_prefix == NULL && app.public_pem == NULL &&
           app.key == NULL,
       "app_free_ids frees the ids, the key and its PEM, and clears them");
    app_free_ids(&app);
    ok(1, "app_free_ids twice is safe");
    config_free(&cfg);
    return done_testing();
}
