/* Tests of identity: handle and DID syntax, document URLs, TXT records, DID documents, and the
 * resolver's contract on a loop (bad input answered from the loop, free ends what is pending). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "identity.h"
#include "tap.h"

#define PLC_DID "did:plc:ewvi7nxzyoun6zhxrhs64oiz"

static void
test_handles(void)
{
    static const char *const good[][2] = {
        { "alice.test", "alice.test" },
        { "@Alice.Bsky.Social", "alice.bsky.social" },
        { "xn--ls8h.example.com", "xn--ls8h.example.com" },
        { "a-b.c0.io", "a-b.c0.io" },
        { "john.test", "john.test" },
    };
    static const char *const bad[] = {
        "",
        "alice",
        "alice.",
        ".alice.test",
        "alice..test",
        "-alice.test",
        "alice-.test",
        "al ice.test",
        "alice.1com",
        "1.2.3.4",
        "alice.local",
        "alice.localhost",
        "x.invalid",
        "a.onion",
        "a.arpa",
        "a_b.test",
        "alice.test/x",
        "ålice.test",
        "@",
    };
    char out[IDENTITY_HANDLE_MAX + 1], long_label[80], long_name[300];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok(identity_handle_normalize(good[i][0], out, sizeof(out)) == 0 &&
               strcmp(out, good[i][1]) == 0,
           "handle \"%s\" -> %s", good[i][0], good[i][1]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(identity_handle_normalize(bad[i], out, sizeof(out)) < 0, "not a handle: \"%s\"", bad[i]);
    memset(long_label, 'a', 64);
    strcpy(long_label + 64, ".test");
    ok(identity_handle_normalize(long_label, out, sizeof(out)) < 0, "a 64-byte label refused");
    memset(long_name, 'a', 300);
    for (int i = 60; i < 300; i += 61)
        long_name[i] = '.';
    strcpy(long_name + 250, ".test");
    ok(identity_handle_normalize(long_name, out, sizeof(out)) < 0, "over 253 characters refused");
    ok(identity_handle_normalize("alice.test", out, 5) < 0, "short output refused");
}

static void
test_dids(void)
{
    static const char *const good[] = {
        PLC_DID,
        "did:web:example.com",
        "did:web:blog.example.org",
    };
    static const char *const bad[] = {
        "",
        "did:plc:ewvi7nxzyoun6zhxrhs64oi",   /* 23 characters */
        "did:plc:ewvi7nxzyoun6zhxrhs64oizz", /* 25 */
        "did:plc:EWVI7NXZYOUN6ZHXRHS64OIZ",  /* upper case */
        "did:plc:ewvi7nxzyoun6zhxrhs64oi1",  /* 1 is not base32 */
        "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
        "did:web:example.com:path",
        "did:web:localhost%3A2583", /* a port only with allow_private */
        "did:web:example",
        "did:web:127.0.0.1",
        "DID:plc:ewvi7nxzyoun6zhxrhs64oiz",
        "did:web:",
    };
    char *u;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok(identity_did_valid(good[i], 0), "DID %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(!identity_did_valid(bad[i], 0), "not a DID we resolve: \"%s\"", bad[i]);
    ok(identity_did_valid("did:web:localhost%3A2583", 1),
       "did:web on localhost with a port: tests");
    ok(!identity_did_valid("did:web:localhost%3A0", 1), "port 0 refused");
    ok(!identity_did_valid("did:web:localhost%3Ax", 1), "a port that is not a number refused");

    u = identity_doc_url(PLC_DID, "https://plc.directory/", 0);
    is_str(u, "https://plc.directory/" PLC_DID, "PLC document URL");
    free(u);
    u = identity_doc_url("did:web:example.com", "https://plc.directory", 0);
    is_str(u, "https://example.com/.well-known/did.json", "did:web document URL");
    free(u);
    u = identity_doc_url("did:web:localhost%3A2583", "https://plc.directory", 1);
    is_str(u, "http://localhost:2583/.well-known/did.json", "a test's did:web on http");
    free(u);
    ok(identity_doc_url("did:key:z", "https://plc.directory", 1) == NULL, "no URL for did:key");
}

static void
test_txt(void)
{
    const char *one[] = { "v=spf1 -all", "did=" PLC_DID };
    const char *same[] = { "did=" PLC_DID, "did=" PLC_DID };
    const char *two[] = { "did=" PLC_DID, "did=did:web:example.com" };
    const char *bad[] = { "did=not-a-did" };
    const char *none[] = { "hello" };

    is_str(identity_txt_did(one, 2, 0), PLC_DID, "the did= record among others");
    is_str(identity_txt_did(same, 2, 0), PLC_DID, "the same DID twice is one");
    ok(identity_txt_did(two, 2, 0) == NULL, "two different DIDs: ambiguous");
    ok(identity_txt_did(bad, 1, 0) == NULL, "a did= that is not a DID");
    ok(identity_txt_did(none, 1, 0) == NULL, "no did= record");
}

static int
parse(const char *json, int allow_private, struct identity_doc *doc, char *err, size_t errlen)
{
    return identity_parse_doc(json, strlen(json), PLC_DID, allow_private, doc, err, errlen);
}

/* alsoKnownAs as Bridgy Fed writes it for a bridged fediverse account, and odd ones. */
static void
test_aka(void)
{
    static const char bridged[] =
        "{\"id\":\"" PLC_DID "\",\"alsoKnownAs\":[\"at://gina.social.example.ap.brid.gy\","
        "\"https://social.example/users/gina\"],\"service\":[{\"id\":\"#atproto_pds\","
        "\"type\":\"AtprotoPersonalDataServer\",\"serviceEndpoint\":\"https://atproto.brid.gy\"}]}";
    struct identity_doc doc;
    char err[200], *json, *o;
    size_t cap = 64 + 40 * (IDENTITY_AKA_MAX + 8);

    ok(parse(bridged, 0, &doc, err, sizeof(err)) == 0, "a bridged account's document");
    is_str(doc.handle, "gina.social.example.ap.brid.gy", "its handle");
    ok(identity_aka_has((const char *const *)doc.also_known_as, doc.n_also_known_as,
                        "https://social.example/users/gina"),
       "alsoKnownAs names the fediverse actor");
    identity_doc_clear(&doc);

    ok(parse("{\"id\":\"" PLC_DID "\",\"alsoKnownAs\":[1,null,\"at://a.test\",{}],\"service\":"
             "[{\"id\":\"#atproto_pds\",\"type\":\"AtprotoPersonalDataServer\","
             "\"serviceEndpoint\":\"https://p.example\"}]}",
             0, &doc, err, sizeof(err)) == 0 &&
           doc.n_also_known_as == 1 && strcmp(doc.also_known_as[0], "at://a.test") == 0,
       "entries that are not strings skipped");
    identity_doc_clear(&doc);
    ok(parse("{\"id\":\"" PLC_DID "\",\"alsoKnownAs\":\"at://a.test\",\"service\":"
             "[{\"id\":\"#atproto_pds\",\"type\":\"AtprotoPersonalDataServer\","
             "\"serviceEndpoint\":\"https://p.example\"}]}",
             0, &doc, err, sizeof(err)) == 0 &&
           doc.n_also_known_as == 0 && doc.handle == NULL,
       "an alsoKnownAs that is not an array: none");
    identity_doc_clear(&doc);

    /* More entries than kept: the first IDENTITY_AKA_MAX, the handle still found after. */
    json = malloc(cap);
    if (json == NULL)
        abort();
    o = json + sprintf(json, "{\"id\":\"" PLC_DID "\",\"alsoKnownAs\":[");
    for (int i = 0; i < IDENTITY_AKA_MAX + 2; i++)
        o += sprintf(o, "\"https://e.example/%d\",", i);
    o += sprintf(o, "\"at://late.test\"],\"service\":[{\"id\":\"#atproto_pds\",\"type\":"
                    "\"AtprotoPersonalDataServer\",\"serviceEndpoint\":\"https://p.example\"}]}");
    ok(parse(json, 0, &doc, err, sizeof(err)) == 0 && doc.n_also_known_as == IDENTITY_AKA_MAX &&
           strcmp(doc.also_known_as[IDENTITY_AKA_MAX - 1], "https://e.example/31") == 0,
       "at most IDENTITY_AKA_MAX entries kept");
    is_str(doc.handle, "late.test", "the handle is looked for past them");
    identity_doc_clear(&doc);
    free(json);
}

static void
test_docs(void)
{
    /* The shape the PLC directory serves (from the loopback PLC of tests/atproto). */
    static const char plc_doc[] =
        "{\"@context\":[\"https://www.w3.org/ns/did/v1\"],\"id\":\"" PLC_DID "\","
        "\"alsoKnownAs\":[\"https://example.com\",\"at://Alice.Test\"],"
        "\"verificationMethod\":[{\"id\":\"" PLC_DID "#atproto\","
        "\"type\":\"Multikey\",\"controller\":\"" PLC_DID "\","
        "\"publicKeyMultibase\":\"zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF\"}],"
        "\"service\":[{\"id\":\"#bsky_chat\",\"type\":\"BskyChatService\","
        "\"serviceEndpoint\":\"https://api.bsky.chat\"},"
        "{\"id\":\"#atproto_pds\",\"type\":\"AtprotoPersonalDataServer\","
        "\"serviceEndpoint\":\"https://pds.example.com/\"}]}";
    static const struct {
        const char *json;
        int allow_private;
        const char *why;
    } bad[] = {
        { "[]", 0, "not an object" },
        { "{\"id\":\"" PLC_DID "\"} x", 0, "trailing bytes" },
        { "{\"id\":\"did:plc:aaaaaaaaaaaaaaaaaaaaaaaa\",\"service\":[{\"id\":\"#atproto_pds\","
          "\"type\":\"AtprotoPersonalDataServer\",\"serviceEndpoint\":\"https://p.example\"}]}",
          0, "another DID's document" },
        { "{\"id\":\"" PLC_DID "\"}", 0, "no service" },
        { "{\"id\":\"" PLC_DID "\",\"service\":[{\"id\":\"#atproto_pds\",\"type\":\"Other\","
          "\"serviceEndpoint\":\"https://p.example\"}]}",
          0, "a service of another type" },
        { "{\"id\":\"" PLC_DID "\",\"service\":[{\"id\":\"#atproto_pds\","
          "\"type\":\"AtprotoPersonalDataServer\",\"serviceEndpoint\":\"http://p.example\"}]}",
          0, "an http endpoint" },
        { "{\"id\":\"" PLC_DID "\",\"service\":[{\"id\":\"#atproto_pds\","
          "\"type\":\"AtprotoPersonalDataServer\",\"serviceEndpoint\":\"https://p.example/x\"}]}",
          0, "an endpoint with a path" },
        { "{\"id\":\"" PLC_DID "\",\"service\":[{\"id\":\"#atproto_pds\","
          "\"type\":\"AtprotoPersonalDataServer\",\"serviceEndpoint\":\"https://p.example?x\"}]}",
          0, "an endpoint with a query" },
        { "{\"id\":\"" PLC_DID "\",\"service\":[{\"id\":\"#atproto_pds\","
          "\"type\":\"AtprotoPersonalDataServer\",\"serviceEndpoint\":\"ftp://p.example\"}]}",
          1, "an endpoint that is not http(s)" },
        { "{\"id\":\"" PLC_DID "\",\"service\":[{\"id\":\"did:plc:other#atproto_pds\","
          "\"type\":\"AtprotoPersonalDataServer\",\"serviceEndpoint\":\"https://p.example\"}]}",
          0, "another DID's service id" },
    };
    struct identity_doc doc;
    char err[200];

    ok(parse(plc_doc, 0, &doc, err, sizeof(err)) == 0, "a PLC document");
    is_str(doc.did, PLC_DID, "its DID");
    is_str(doc.handle, "alice.test", "the first at:// alsoKnownAs, lowercased");
    is_str(doc.pds, "https://pds.example.com", "the #atproto_pds endpoint, no trailing /");
    is_str(doc.signing_key, "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF",
           "the #atproto key");
    ok(doc.n_also_known_as == 2, "both alsoKnownAs kept");
    is_str(doc.n_also_known_as == 2 ? doc.also_known_as[0] : NULL, "https://example.com",
           "alsoKnownAs in order, a non-at:// one too");
    is_str(doc.n_also_known_as == 2 ? doc.also_known_as[1] : NULL, "at://Alice.Test",
           "alsoKnownAs as written, not lowercased");
    ok(identity_aka_has((const char *const *)doc.also_known_as, doc.n_also_known_as,
                        "https://example.com"),
       "an id alsoKnownAs names");
    ok(!identity_aka_has((const char *const *)doc.also_known_as, doc.n_also_known_as,
                         "https://example.com/"),
       "ids compare byte for byte");
    ok(!identity_aka_has((const char *const *)doc.also_known_as, doc.n_also_known_as, NULL),
       "no id");
    identity_doc_clear(&doc);
    ok(doc.did == NULL && doc.pds == NULL && doc.also_known_as == NULL && doc.n_also_known_as == 0,
       "cleared");
    ok(parse("{\"id\":\"" PLC_DID "\",\"alsoKnownAs\":[\"at://bad handle\"],\"service\":[{\"id\":"
             "\"" PLC_DID "#atproto_pds\",\"type\":\"AtprotoPersonalDataServer\","
             "\"serviceEndpoint\":\"http://localhost:2583\"}]}",
             1, &doc, err, sizeof(err)) == 0 &&
           doc.handle == NULL && doc.signing_key == NULL,
       "full service id, http on loopback for tests, no usable handle nor key");
    is_str(doc.pds, "http://localhost:2583", "the test endpoint");
    identity_doc_clear(&doc);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ok(parse(bad[i].json, bad[i].allow_private, &doc, err, sizeof(err)) < 0 &&
               doc.pds == NULL && err[0] != '\0',
           "refused: %s (%s)", bad[i].why, err);
    }
}

struct seen {
    int calls;
    enum identity_status st;
};

static void
on_done(const struct identity_result *r, void *arg)
{
    struct seen *s = arg;

    s->calls++;
    s->st = r->status;
}

static void
test_resolver(void)
{
    struct event_base *base = event_base_new();
    struct identity_options o = { .dns_server = "127.0.0.1:9",
                                  .plc_url = "http://127.0.0.1:9",
                                  .allow_private = 1,
                                  .timeout_ms = 5000 };
    struct identity_options bad = o;
    struct seen a = { 0 }, b = { 0 }, c = { 0 };
    struct identity *id;
    char err[200];

    bad.dns_server = "dns.example";
    ok(identity_new(base, &bad, err, sizeof(err)) == NULL, "a DNS server by name refused");
    bad = o;
    bad.plc_url = "ftp://plc.example";
    ok(identity_new(base, &bad, err, sizeof(err)) == NULL, "a plc_url that is not http(s)");
    bad = o;
    bad.allow_private = 0;
    bad.handle_origin = "http://127.0.0.1:1";
    ok(identity_new(base, &bad, err, sizeof(err)) == NULL, "a handle origin needs allow_private");

    id = identity_new(base, &o, err, sizeof(err));
    ok(id != NULL, "a resolver");
    identity_resolve_handle(id, "not a handle", on_done, &a);
    identity_resolve_did(id, "did:key:z", on_done, &b);
    ok(a.calls == 0 && b.calls == 0, "no callback inside the call");
    event_base_loop(base, EVLOOP_NONBLOCK);
    ok(a.calls == 1 && a.st == IDENTITY_INVALID, "a bad handle: invalid, from the loop");
    ok(b.calls == 1 && b.st == IDENTITY_INVALID, "an unsupported DID: invalid, from the loop");
    identity_resolve_did(id, PLC_DID, on_done, &c);
    identity_free(id);
    ok(c.calls == 1 && c.st == IDENTITY_UNAVAILABLE, "free ends a pending resolution once");
    is_str(identity_status_name(IDENTITY_MISMATCH), "mismatch", "status names");
    event_base_free(base);
}

int
main(void)
{
    test_handles();
    test_dids();
    test_txt();
    test_docs();
    test_aka();
    test_resolver();
    return done_testing();
}
