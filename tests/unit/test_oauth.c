/* Unit tests for server/reconnect/oauth.c's pure parts: the PKCE challenge, the app secret's AD. */
#include <string.h>

#include "mastoapi.h"
#include "oauth.h"
#include "tap.h"

static void
test_challenge(void)
{
    char c[48];

    /* RFC 7636, appendix B. */
    oauth_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
    is_str(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "the RFC 7636 S256 example");
    oauth_challenge("", c);
    is_str(c, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "base64url, no padding");
}

static void
test_ad(void)
{
    char app[300], grant[300];

    oauth_app_ad("m.example", app, sizeof(app));
    is_str(app, "app:m.example", "an app secret's AD names its host");
    mastoapi_grant_ad("1", "m.example", grant, sizeof(grant));
    ok(strcmp(app, grant) != 0, "and differs from a grant's on the same host");
}

int
main(void)
{
    test_challenge();
    test_ad();
    return done_testing();
}
