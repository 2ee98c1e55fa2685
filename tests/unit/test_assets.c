/* Unit tests for server/site/assets.c: the embedded page files, their content types and ETags. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "assets.h"
#include "tap.h"

/* The ETag the embedding script should have given data: quoted SHA-256, first 32 hex digits. */
static void
test_expected_etag(const unsigned char *data, size_t len, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t n = 0;

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    out[n++] = '"';
    for (unsigned int i = 0; i < 16 && n + 3 < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, "%02x", md[i]);
    snprintf(out + n, outlen - n, "\"");
}

static void
test_embedded(void)
{
    const char *names[] = { "link.html", "link.css", "link.js", "contacts.js" };

    is_int(assets_count, 4, "four files embedded");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct asset *a = assets_find(names[i]);
        char want[40];

        ok(a != NULL, "%s is embedded", names[i]);
        if (a == NULL)
            continue;
        ok(a->len > 100, "%s has content (%zu bytes)", names[i], a->len);
        is_int(a->data[a->len], 0, "%s is followed by a NUL", names[i]);
        is_int(strlen((const char *)a->data), a->len, "%s has no NUL inside", names[i]);
        test_expected_etag(a->data, a->len, want, sizeof(want));
        is_str(a->etag, want, "%s: ETag is the quoted SHA-256 prefix of its bytes", names[i]);
        ok(strncmp(a->etag, "W/", 2) != 0, "%s: ETag is strong", names[i]);
    }
    ok(assets_find("link.htm") == NULL, "no file by a near name");
    ok(assets_find("") == NULL, "no file by the empty name");
    ok(strcmp(assets_find("link.js")->etag, assets_find("link.css")->etag) != 0,
       "different files, different ETags");
}

static void
test_page_references(void)
{
    const struct asset *html = assets_find("link.html");
    const char *s = html != NULL ? (const char *)html->data : "";

    ok(strstr(s, "<script src=\"/link/assets/link.js\"") != NULL, "the page loads link.js");
    ok(strstr(s, "<link rel=\"stylesheet\" href=\"/link/assets/link.css\"") != NULL,
       "the page loads link.css");
    ok(strstr(s, "<style") == NULL, "no inline style element (the CSP forbids it)");
    ok(strstr(s, " style=") == NULL, "no style attribute (the CSP forbids it)");
}

static void
test_content_types(void)
{
    is_str(assets_content_type("link.html"), "text/html; charset=utf-8", "html");
    is_str(assets_content_type("link.css"), "text/css; charset=utf-8", "css");
    is_str(assets_content_type("link.js"), "text/javascript; charset=utf-8", "js");
    ok(assets_content_type("link.json") == NULL, "json: not a served type");
    ok(assets_content_type("link.jsx") == NULL, "jsx: not a served type");
    ok(assets_content_type(".js") == NULL, "a bare extension is no name");
    ok(assets_content_type("js") == NULL, "no extension");
    ok(assets_content_type("") == NULL, "empty name");
}

static void
test_etag_matches(void)
{
    const char *e = "\"abc123\"";

    ok(assets_etag_matches("\"abc123\"", e), "the same tag");
    ok(assets_etag_matches("W/\"abc123\"", e), "its weak form (If-None-Match compares weakly)");
    ok(assets_etag_matches("\"x\", \"abc123\"", e), "in a list");
    ok(assets_etag_matches("\"x\",W/\"abc123\"  ", e), "in a list without spaces, weak");
    ok(assets_etag_matches("*", e), "*");
    ok(assets_etag_matches(" * ", e), "* with spaces");
    ok(!assets_etag_matches("\"abc12\"", e), "a prefix is not the tag");
    ok(!assets_etag_matches("\"abc1234\"", e), "a longer tag is not the tag");
    ok(!assets_etag_matches("abc123", e), "unquoted is not the tag");
    ok(!assets_etag_matches("\"abc123", e), "an unterminated tag");
    ok(!assets_etag_matches("", e), "empty header");
    ok(!assets_etag_matches(",,", e), "only commas");
    ok(!assets_etag_matches("\"a,b\", \"c\"", e), "a comma inside a tag");
    ok(assets_etag_matches("\"a,b\", \"abc123\"", e), "a comma inside an earlier tag");
    ok(!assets_etag_matches("w/\"abc123\"", e), "the weak prefix is case-sensitive");
}

int
main(void)
{
    test_embedded();
    test_page_references();
    test_content_types();
    test_etag_matches();
    return done_testing();
}
