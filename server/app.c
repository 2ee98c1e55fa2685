/* The process context: our actors' ids from the configuration, and which options it offers. */
#include <stdlib.h>

#include <openssl/evp.h>

#include "app.h"
#include "config.h"
#include "xmalloc.h"

void
app_init_ids(struct app *app)
{
    app->relay_id = xasprintf("%s/actor", app->cfg->base_url);
    app->bridge_id = xasprintf("%s/users/%s", app->cfg->base_url, app->cfg->bridge_username);
    app->relay_key_id = xasprintf("%s#main-key", app->relay_id);
    app->bridge_key_id = xasprintf("%s#main-key", app->bridge_id);
    app->standin_prefix = xasprintf("%s/x/", app->cfg->base_url);
}

void
app_free_ids(struct app *app)
{
    free(app->relay_id);
    free(app->bridge_id);
    free(app->relay_key_id);
    free(app->bridge_key_id);
    app->relay_key_id = app->bridge_key_id = NULL;
    free(app->standin_prefix);
    app->standin_prefix = NULL;
    free(app->public_pem);
    EVP_PKEY_free(app->key);
    app->relay_id = app->bridge_id = app->public_pem = NULL;
    app->key = NULL;
}

int
app_x_verify_offered(const struct app *app)
{
    return app->seal != NULL && *app->cfg->x_client_id != '\0';
}
