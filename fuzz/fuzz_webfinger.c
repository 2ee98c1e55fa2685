/* libFuzzer target: the WebFinger resource parser and the JRD built from it, two configurations. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "config.h"
#include "fuzz_common.h"
#include "webfinger.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfgs[2];
static struct app apps[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const bases[2] = { "https://bridge.example", "http://127.0.0.1:8443" };
    char err[256];

    (void)argc;
    (void)argv;
    for (int i = 0; i < 2; i++) {
        config_defaults(&cfgs[i]);
        fuzz_check(config_set(&cfgs[i], "base_url", bases[i], err, sizeof(err)) == 0);
        fuzz_check(config_validate(&cfgs[i], err, sizeof(err)) == 0);
        apps[i].cfg = &cfgs[i];
        app_init_ids(&apps[i]);
        apps[i].public_pem = strdup("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n");
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[1], err[256], user[80];
    size_t restlen;
    char *copy = fuzz_fields(data, size, f, 1, &restlen);

    for (int i = 0; i < 2; i++) {
        const struct config *cfg = apps[i].cfg;
        enum webfinger_kind kind = (enum webfinger_kind) - 1;
        struct json_object *jrd = NULL;
        int rc;

        err[0] = '\0';
        memset(user, 0x55, sizeof(user));
        rc = webfinger_parse_resource(f[0], cfg->host, cfg->base_url, &kind, user, sizeof(user),
                                      err, sizeof(err));
        fuzz_check(rc >= -1 && rc <= 1);
        if (rc == 0) {
            fuzz_check(kind == WEBFINGER_ACCT || kind == WEBFINGER_URL);
            fuzz_check(memchr(user, '\0', sizeof(user)) != NULL);
            /* What is left is printable ASCII: no space, control or raw non-ASCII byte. */
            for (const char *p = user; *p; p++)
                fuzz_check(*p > 0x20 && *p < 0x7f);
            if (kind == WEBFINGER_URL)
                fuzz_check(user[0] == '/' || user[0] == '\0');
        } else {
            fuzz_check(err[0] != '\0');
        }
        err[0] = '\0';
        rc = webfinger_jrd_new(&apps[i], f[0], &jrd, err, sizeof(err));
        fuzz_check(rc >= -1 && rc <= 2);
        fuzz_check((rc == 0) == (jrd != NULL));
        if (jrd != NULL) {
            struct json_object *v;

            /* Only our two actors are answered without the database, with our own subject. */
            fuzz_check(json_object_object_get_ex(jrd, "subject", &v));
            fuzz_check(strcmp(json_object_get_string(v), "acct:relay@") > 0 ||
                       strstr(json_object_get_string(v), cfg->host) != NULL);
            json_object_put(jrd);
        } else {
            fuzz_check(err[0] != '\0');
        }
    }
    free(copy);
    return 0;
}
