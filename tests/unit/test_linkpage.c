/*
 * Tests of the link page's server side: the cookie and CSRF helpers, then the session, the
 * state and the consents on loopback against a real PostgreSQL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "config.h"
#include "linkpage.h"
#include "metrics.h"
#include "pgtest.h"
#include "tap.h"
#include "token.h"

#define TOKEN   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define EXPIRED "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static struct app app;
static int port;
static long member_id;

static void
test_cookie(void)
{
    char out[70];
    struct config http, https;
    char err[128], *h, csrf[65], csrf2[65], want[65];

    ok(linkpage_cookie("a=1; passerelle_link=abc; b=2", "passerelle_link", out, sizeof(out)) == 0 &&
           strcmp(out, "abc") == 0,
       "cookie: found among others");
    ok(linkpage_cookie("passerelle_link=first", "passerelle_link", out, sizeof(out)) == 0 &&
           strcmp(out, "first") == 0,
       "cookie: the only one");
    ok(linkpage_cookie("passerelle_linkx=no; passerelle_link=yes", "passerelle_link", out,
                       sizeof(out)) == 0 &&
           strcmp(out, "yes") == 0,
       "cookie: a longer name that starts with it is another cookie");
    ok(linkpage_cookie("x_passerelle_link=no", "passerelle_link", out, sizeof(out)) < 0,
       "cookie: a name that ends with it is another cookie");
    ok(linkpage_cookie("a=1", "passerelle_link", out, sizeof(out)) < 0, "cookie: absent");
    ok(linkpage_cookie("", "passerelle_link", out, sizeof(out)) < 0, "cookie: empty header");
    ok(linkpage_cookie("passerelle_link=" TOKEN "0000000", "passerelle_link", out, 65) < 0,
       "cookie: a value longer than out is refused, not cut");

    config_defaults(&http);
    config_defaults(&https);
    config_set(&http, "base_url", "http://127.0.0.1:8080", err, sizeof(err));
    config_set(&https, "base_url", "https://relay.example", err, sizeof(err));
    is_str(linkpage_cookie_name(&http), "passerelle_link", "cookie name over http");
    is_str(linkpage_cookie_name(&https), "__Host-passerelle_link",
           "cookie name over https: __Host- prefix");
    h = linkpage_cookie_header(&https, TOKEN);
    is_str(h,
           "__Host-passerelle_link=" TOKEN "; Path=/; Max-Age=7200; HttpOnly; SameSite=Lax; Secure",
           "Set-Cookie over https: Path=/, Max-Age, HttpOnly, SameSite=Lax, Secure");
    free(h);
    h = linkpage_cookie_header(&http, TOKEN);
    is_str(h, "passerelle_link=" TOKEN "; Path=/; Max-Age=7200; HttpOnly; SameSite=Lax",
           "Set-Cookie over http: no Secure");
    free(h);
    config_free(&http);
    config_free(&https);

    linkpage_csrf(TOKEN, csrf);
    token_hmac_hex(TOKEN, "passerelle link page csrf", want);
    is_str(csrf, want, "csrf: HMAC of the session token");
    linkpage_csrf(EXPIRED, csrf2);
    ok(token_is_hex(csrf, 64) && strcmp(csrf, csrf2) != 0, "csrf: 64 hex digits, per session");
}

/* What linkpage_session's callback saw. */
static char session_member[24];

static void
session_cb(struct app *a, struct evhttp_request *req, const char *member, void *arg)
{
    (void)a;
    (void)arg;
    snprintf(session_member, sizeof(session_member), "%s", member);
    evhttp_send_reply(req, 204, "No Content", NULL);
}

static void
route_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    int post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;

    (void)arg;
    if (strcmp(path, "/link/state") == 0)
        linkpage_state(&app, req, path);
    else if (strcmp(path, "/link/consents") == 0)
        linkpage_consents(&app, req, path);
    else
        linkpage_session(&app, req, post, session_cb, NULL);
}

/* A request with the session cookie token (NULL: none) and the CSRF header csrf (or none). */
static void
ask(enum evhttp_cmd_type m, const char *path, const char *token, const char *csrf, const char *body,
    struct pgt_answer *a)
{
    char cookie[128], hcsrf[96];
    const char *lines[4];
    size_t n = 0;

    if (token != NULL) {
        snprintf(cookie, sizeof(cookie), "Cookie: other=1; __Host-passerelle_link=%s", token);
        lines[n++] = cookie;
    }
    if (csrf != NULL) {
        snprintf(hcsrf, sizeof(hcsrf), "X-CSRF-Token: %s", csrf);
        lines[n++] = hcsrf;
    }
    lines[n++] = "Content-Type: application/json";
    lines[n] = NULL;
    pgt_ask(port, m, path, lines, body, body ? strlen(body) : 0, a);
}

static void
test_session(void)
{
    struct pgt_answer a;
    char csrf[65], id[24];
    struct json_object *o;

    snprintf(id, sizeof(id), "%ld", member_id);
    linkpage_csrf(TOKEN, csrf);
    ask(EVHTTP_REQ_GET, "/csv", NULL, NULL, NULL, &a);
    is_int(a.status, 401, "session: no cookie, 401");
    o = json_tokener_parse(a.body);
    ok(o != NULL && strcmp(json_object_get_string(json_object_object_get(o, "bridge")),
                           "@passerelle@relay.example") == 0,
       "session: the 401 names the bridge account (%s)", a.body);
    json_object_put(o);
    ask(EVHTTP_REQ_GET, "/csv", "not-hex", NULL, NULL, &a);
    is_int(a.status, 401, "session: a cookie that is no token, 401");
    ask(EVHTTP_REQ_GET, "/csv", EXPIRED, NULL, NULL, &a);
    is_int(a.status, 401, "session: an expired session, 401");
    session_member[0] = '\0';
    ask(EVHTTP_REQ_GET, "/csv", TOKEN, NULL, NULL, &a);
    is_int(a.status, 204, "session: a live session reaches the endpoint");
    is_str(session_member, id, "session: with the member's id");
    ask(EVHTTP_REQ_POST, "/csv", TOKEN, NULL, "{}", &a);
    is_int(a.status, 403, "session: a POST without X-CSRF-Token, 403");
    ask(EVHTTP_REQ_POST, "/csv", TOKEN, "0000", "{}", &a);
    is_int(a.status, 403, "session: a POST with another CSRF token, 403");
    ask(EVHTTP_REQ_POST, "/csv", TOKEN, csrf, "{}", &a);
    is_int(a.status, 204, "session: a POST with the session's CSRF token goes through");
}

static void
test_state(void)
{
    struct pgt_answer a;
    struct json_object *o, *c;
    char csrf[65];

    linkpage_csrf(TOKEN, csrf);
    ask(EVHTTP_REQ_GET, "/link/state", TOKEN, NULL, NULL, &a);
    is_int(a.status, 200, "state: 200");
    o = json_tokener_parse(a.body);
    if (!ok(o != NULL, "state: JSON (%s)", a.body))
        return;
    is_str(json_object_get_string(json_object_object_get(o, "member")), "acct:ann@a.example",
           "state: the member");
    is_str(json_object_get_string(json_object_object_get(o, "handle")), "ann_x", "state: handle");
    is_str(json_object_get_string(json_object_object_get(o, "x_id")), "1001", "state: X id");
    is_int(json_object_get_int(json_object_object_get(o, "followers")), 2,
           "state: followers from the member's archive");
    is_int(json_object_get_int(json_object_object_get(o, "following")), 1, "state: following");
    is_str(json_object_get_string(json_object_object_get(o, "csrf")), csrf,
           "state: the session's CSRF token");
    is_str(json_object_get_string(json_object_object_get(o, "lang")), "fr",
           "state: the member's language");
    c = json_object_object_get(o, "consents");
    ok(json_object_get_boolean(json_object_object_get(c, "findable")) &&
           !json_object_get_boolean(json_object_object_get(c, "relay")),
       "state: consents as stored");
    json_object_put(o);
    ask(EVHTTP_REQ_GET, "/link/state", EXPIRED, NULL, NULL, &a);
    is_int(a.status, 401, "state: an expired session, 401");
}

static void
test_consents(void)
{
    struct pgt_answer a;
    char csrf[65];

    linkpage_csrf(TOKEN, csrf);
    ask(EVHTTP_REQ_POST, "/link/consents", TOKEN, csrf, "{\"relay\":true,\"findable\":false}", &a);
    is_int(a.status, 200, "consents: 200 (%s)", a.body);
    is_str(pgt_str("SELECT findable || ' ' || relay || ' ' || notify FROM members WHERE id = %ld",
                   member_id),
           "false true true", "consents: the two named are set, the others kept");
    is_int(pgt_num("SELECT count(*) FROM consent_ledger WHERE member_id = %ld AND source = 'page' "
                   "AND client_addr = '127.0.0.1'",
                   member_id),
           2, "consents: one ledger line per change, with the client address");
    ask(EVHTTP_REQ_POST, "/link/consents", TOKEN, csrf, "{\"relay\":true}", &a);
    is_int(pgt_num("SELECT count(*) FROM consent_ledger WHERE member_id = %ld", member_id), 2,
           "consents: an unchanged value writes no ledger line");
    ask(EVHTTP_REQ_POST, "/link/consents", TOKEN, csrf, "{\"relay\":\"yes\"}", &a);
    is_int(a.status, 400, "consents: a value that is not a boolean, 400");
    ask(EVHTTP_REQ_POST, "/link/consents", TOKEN, csrf, "{\"other\":true}", &a);
    is_int(a.status, 400, "consents: no known consent, 400");
    ask(EVHTTP_REQ_POST, "/link/consents", TOKEN, csrf, "{\"relay\":false} x", &a);
    is_int(a.status, 400, "consents: bytes after the object, 400");
    ask(EVHTTP_REQ_POST, "/link/consents", TOKEN, NULL, "{\"relay\":false}", &a);
    is_int(a.status, 403, "consents: no CSRF token, 403");
    is_str(pgt_str("SELECT relay::text FROM members WHERE id = %ld", member_id), "true",
           "consents: the refused requests changed nothing");
}

int
main(void)
{
    struct config cfg;
    struct evhttp *http;
    char err[256], hash[67], csrf[65], chash[67];

    test_cookie();

    pgt_setup("linkpage");
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://relay.example", err, sizeof(err)) < 0 ||
        config_validate(&cfg, err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app_init_ids(&app);
    app.db = pgt_db(2);
    metrics_describe("passerelle_http_responses_total", METRICS_COUNTER, "HTTP responses.");
    port = pgt_listen(&http, route_cb, NULL);
    if (port < 0)
        pgt_bail("cannot listen on 127.0.0.1");

    member_id = pgt_num("INSERT INTO members (actor_uri, acct, host, x_id, x_handle, state, lang, "
                        "findable, relay) VALUES ('https://a.example/users/ann', 'ann@a.example', "
                        "'a.example', 1001, 'ann_x', 'linked', 'fr', true, false) RETURNING id");
    pgt_exec("INSERT INTO x_edges (follower_x_id, followee_x_id, member_id) VALUES "
             "(11, 1001, %ld), (12, 1001, %ld), (1001, 21, %ld), (13, 1001, %ld + 1000)",
             member_id, member_id, member_id, member_id);
    token_sha256_bytea(TOKEN, hash);
    linkpage_csrf(TOKEN, csrf);
    token_sha256_bytea(csrf, chash);
    pgt_exec("INSERT INTO sessions (hash, member_id, csrf_hash, expires_at) VALUES "
             "('%s', %ld, '%s', now() + interval '1 hour')",
             hash, member_id, chash);
    token_sha256_bytea(EXPIRED, hash);
    pgt_exec("INSERT INTO sessions (hash, member_id, csrf_hash, created_at, expires_at) VALUES "
             "('%s', %ld, '%s', now() - interval '3 hours', now() - interval '1 hour')",
             hash, member_id, chash);

    test_session();
    test_state();
    test_consents();

    evhttp_free(http);
    db_free(app.db);
    app_free_ids(&app);
    config_free(&cfg);
    pgt_teardown();
    return done_testing();
}
