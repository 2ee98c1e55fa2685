/*
 * Tests of "Verify with X" (xverify_start, xverify_callback) on loopback against a real
 * PostgreSQL, with a double of X's OAuth 2.0 token endpoint and GET /2/users/me.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "app.h"
#include "config.h"
#include "httpc.h"
#include "linkpage.h"
#include "metrics.h"
#include "oauth.h"
#include "pgtest.h"
#include "seal.h"
#include "tap.h"
#include "token.h"
#include "xverify.h"

#define TOKEN  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define BEARER "x-access-token-1"
#define X_ID   "1460000000000000001"

static struct app app;
static int port;
static long member_id;

/* --- the X double ---------------------------------------------------------------------------- */

enum x_token_mode { TOKEN_OK, TOKEN_REFUSED };
enum x_me_mode { ME_OK, ME_401, ME_429 };

static enum x_token_mode token_mode;
static enum x_me_mode me_mode;
static int token_calls, me_calls;
static char token_form[2048]; /* the last token request's body */
static char me_auth[256];     /* the last users/me request's Authorization */

static void
x_send(struct evhttp_request *req, int status, const char *body)
{
    struct evbuffer *b = evbuffer_new();

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json; charset=utf-8");
    evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, status, NULL, b);
    evbuffer_free(b);
}

static void
x_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);

    (void)arg;
    if (strcmp(path, "/2/oauth2/token") == 0 &&
        evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(b);

        token_calls++;
        if (n >= sizeof(token_form))
            n = sizeof(token_form) - 1;
        evbuffer_copyout(b, token_form, n);
        token_form[n] = '\0';
        if (token_mode == TOKEN_REFUSED)
            x_send(req, 400,
                   "{\"error\":\"invalid_request\",\"error_description\":\"Value passed for the "
                   "authorization code was invalid.\"}");
        else
            x_send(req, 200,
                   "{\"token_type\":\"bearer\",\"access_token\":\"" BEARER "\","
                   "\"expires_in\":7200,\"scope\":\"tweet.read users.read\"}");
        return;
    }
    if (strcmp(path, "/2/users/me") == 0 && evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        const char *auth = evhttp_find_header(in, "Authorization");

        me_calls++;
        snprintf(me_auth, sizeof(me_auth), "%s", auth ? auth : "");
        evhttp_add_header(out, "x-rate-limit-limit", "75");
        evhttp_add_header(out, "x-rate-limit-remaining", me_mode == ME_429 ? "0" : "74");
        evhttp_add_header(out, "x-rate-limit-reset", "1796000000");
        if (me_mode == ME_401)
            x_send(req, 401,
                   "{\"title\":\"Unauthorized\",\"type\":\"about:blank\",\"status\":401,"
                   "\"detail\":\"Unauthorized\"}");
        else if (me_mode == ME_429)
            x_send(req, 429,
                   "{\"title\":\"Too Many Requests\",\"detail\":\"Too Many Requests\","
                   "\"type\":\"about:blank\",\"status\":429}");
        else
            x_send(req, 200,
                   "{\"data\":{\"id\":\"" X_ID "\",\"name\":\"Ann\",\"username\":\"ann_on_x\"}}");
        return;
    }
    x_send(req, 404, "{\"errors\":[{\"message\":\"Sorry, that page does not exist\"}]}");
}

/* --- the server side ------------------------------------------------------------------------- */

static void
route_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

    (void)arg;
    if (strcmp(path, "/link/x/start") == 0)
        xverify_start(&app, req, path);
    else if (strcmp(path, XVERIFY_CALLBACK_PATH) == 0)
        xverify_callback(&app, req, path);
    else
        evhttp_send_reply(req, 404, "Not Found", NULL);
}

/* A request with the session cookie (token NULL: none) and, when csrf, its CSRF header. */
static void
ask(enum evhttp_cmd_type m, const char *path, const char *token, int csrf, struct pgt_answer *a)
{
    char cookie[128], hcsrf[96], c[65];
    const char *lines[4];
    size_t n = 0;

    if (token != NULL) {
        snprintf(cookie, sizeof(cookie), "Cookie: __Host-passerelle_link=%s", token);
        lines[n++] = cookie;
    }
    if (csrf) {
        linkpage_csrf(TOKEN, c);
        snprintf(hcsrf, sizeof(hcsrf), "X-CSRF-Token: %s", c);
        lines[n++] = hcsrf;
    }
    lines[n] = NULL;
    pgt_ask(port, m, path, lines, m == EVHTTP_REQ_POST ? "{}" : NULL, m == EVHTTP_REQ_POST ? 2 : 0,
            a);
}

/* What of the member a verification may change, as one string. */
static char member_before[512];

static const char *
member_now(void)
{
    return pgt_str("SELECT coalesce(x_id::text, '-') || ' ' || coalesce(x_handle, '-') || ' ' || "
                   "state || ' ' || coalesce(x_verified_at::text, '-') || ' ' || updated_at || ' "
                   "' || (SELECT count(*) FROM x_claims WHERE member_id = m.id) || ' ' || "
                   "(SELECT count(*) FROM claim_log WHERE member_id = m.id) FROM members m "
                   "WHERE id = %ld",
                   member_id);
}

static void
member_keep(void)
{
    snprintf(member_before, sizeof(member_before), "%s", member_now());
}

/* One decoded parameter of the query of url, in out ("" when absent). */
static void
url_param(const char *url, const char *name, char *out, size_t len)
{
    struct evhttp_uri *u = evhttp_uri_parse(url);
    struct evkeyvalq q = { 0 };
    const char *v = NULL;

    TAILQ_INIT(&q);
    if (u != NULL && evhttp_uri_get_query(u) != NULL &&
        evhttp_parse_query_str(evhttp_uri_get_query(u), &q) == 0)
        v = evhttp_find_header(&q, name);
    snprintf(out, len, "%s", v ? v : "");
    evhttp_clear_headers(&q);
    if (u != NULL)
        evhttp_uri_free(u);
}

/* Checks that the query of url has name=want. */
static void
param_is(const char *url, const char *name, const char *want, const char *what)
{
    char v[512];

    url_param(url, name, v, sizeof(v));
    is_str(v, want, "%s", what);
}

/* Starts a verification with the session; the state and the challenge handed to X. */
static int
start(char state[65], char challenge[64])
{
    struct pgt_answer a;
    struct json_object *o;
    const char *url;
    char full[2048];

    ask(EVHTTP_REQ_POST, "/link/x/start", TOKEN, 1, &a);
    o = json_tokener_parse(a.body);
    url = o != NULL ? json_object_get_string(json_object_object_get(o, "authorize_url")) : NULL;
    snprintf(full, sizeof(full), "%s", url ? url : "");
    json_object_put(o);
    url_param(full, "state", state, 65);
    url_param(full, "code_challenge", challenge, 64);
    return a.status == 200 && strlen(state) == 64 ? 0 : -1;
}

static void
callback(const char *state, const char *code, const char *token, struct pgt_answer *a)
{
    char path[512];

    snprintf(path, sizeof(path), "%s?state=%s&code=%s", XVERIFY_CALLBACK_PATH, state, code);
    ask(EVHTTP_REQ_GET, path, token, 0, a);
}

static long long
states(void)
{
    return pgt_num("SELECT count(*) FROM x_verify_states");
}

static void
test_start(void)
{
    struct pgt_answer a;
    struct json_object *o;
    const char *url;
    char full[2048], v[512], hash[67];

    member_keep();
    ask(EVHTTP_REQ_POST, "/link/x/start", NULL, 1, &a);
    is_int(a.status, 401, "start: no session, 401");
    ask(EVHTTP_REQ_POST, "/link/x/start", TOKEN, 0, &a);
    is_int(a.status, 403, "start: no CSRF token, 403");
    is_int(states(), 0, "start: the refused starts stored no state");

    ask(EVHTTP_REQ_POST, "/link/x/start", TOKEN, 1, &a);
    is_int(a.status, 200, "start: with the session, 200 (%s)", a.body);
    o = json_tokener_parse(a.body);
    url = o != NULL ? json_object_get_string(json_object_object_get(o, "authorize_url")) : NULL;
    snprintf(full, sizeof(full), "%s", url ? url : "");
    json_object_put(o);
    ok(strncmp(full, "https://x.test/i/oauth2/authorize?", 34) == 0,
       "start: the URL is x_authorize_url's (%s)", full);
    param_is(full, "response_type", "code", "start: response_type=code");
    param_is(full, "client_id", "client-abc", "start: client_id");
    param_is(full, "redirect_uri", "https://relay.example/link/x/callback", "start: redirect_uri");
    param_is(full, "scope", "tweet.read users.read", "start: the scopes");
    param_is(full, "code_challenge_method", "S256", "start: code_challenge_method=S256");
    url_param(full, "code_challenge", v, sizeof(v));
    ok(strlen(v) == 43 &&
           strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43,
       "start: an S256 code_challenge, 43 base64url characters (%s)", v);
    url_param(full, "state", v, sizeof(v));
    ok(token_is_hex(v, 64), "start: a state of 64 hex digits");
    token_sha256_bytea(v, hash);
    is_int(pgt_num("SELECT count(*) FROM x_verify_states WHERE hash = '%s' AND member_id = %ld AND "
                   "expires_at > now() + interval '9 minutes'",
                   hash, member_id),
           1, "start: the state is stored hashed, for the member, ten minutes");
    is_int(pgt_num("SELECT count(*) FROM x_verify_states WHERE position(convert_to('%s', 'UTF8') "
                   "IN hash || verifier) > 0",
                   v),
           0, "start: the plain state is stored nowhere");
    is_str(member_now(), member_before, "start: the member is unchanged");
    is_int(token_calls + me_calls, 0, "start: X is not called");
    pgt_exec("DELETE FROM x_verify_states");
}

static void
test_refused_states(void)
{
    struct pgt_answer a;
    char state[65], challenge[64];

    member_keep();
    if (start(state, challenge) < 0)
        pgt_bail("start failed");
    callback("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "code1", TOKEN,
             &a);
    is_int(a.status, 303, "callback: an unknown state, 303");
    is_str(a.location, "/link?x=invalid", "callback: an unknown state is invalid");
    is_int(states(), 1, "callback: an unknown state spends no other");
    callback("short", "code1", TOKEN, &a);
    is_str(a.location, "/link?x=invalid", "callback: a state that is no state is invalid");

    callback(state, "code1", NULL, &a);
    is_str(a.location, "/link?x=invalid", "callback: a state without its session is invalid");
    is_int(states(), 0, "callback: and it is spent");

    if (start(state, challenge) < 0)
        pgt_bail("start failed");
    pgt_exec("UPDATE x_verify_states SET created_at = now() - interval '20 minutes', "
             "expires_at = now() - interval '10 minutes'");
    callback(state, "code1", TOKEN, &a);
    is_str(a.location, "/link?x=expired", "callback: an expired state is refused");
    is_int(states(), 0, "callback: the expired state is spent");

    if (start(state, challenge) < 0)
        pgt_bail("start failed");
    ask(EVHTTP_REQ_GET,
        "/link/x/callback?error=access_denied&state=0000000000000000000000000000000000000000000000"
        "000000000000000000",
        TOKEN, 0, &a);
    is_str(a.location, "/link?x=invalid", "callback: a refusal with an unknown state is invalid");
    {
        char path[256];

        snprintf(path, sizeof(path), "/link/x/callback?error=access_denied&state=%s", state);
        ask(EVHTTP_REQ_GET, path, TOKEN, 0, &a);
    }
    is_str(a.location, "/link?x=denied", "callback: X's access_denied is denied");
    is_int(states(), 0, "callback: a refusal spends the state");
    is_int(token_calls + me_calls, 0, "callback: no refused state reaches X");
    is_str(member_now(), member_before, "callback: the refused callbacks changed nothing");
}

static void
test_x_refuses(void)
{
    struct pgt_answer a;
    char state[65], challenge[64];

    member_keep();
    token_mode = TOKEN_REFUSED;
    if (start(state, challenge) < 0)
        pgt_bail("start failed");
    callback(state, "bad-code", TOKEN, &a);
    is_str(a.location, "/link?x=failed", "callback: X's invalid_request on the code fails");
    is_int(token_calls, 1, "callback: the code went to X's token endpoint");
    is_int(me_calls, 0, "callback: no token, no users/me");
    token_mode = TOKEN_OK;

    me_mode = ME_401;
    if (start(state, challenge) < 0)
        pgt_bail("start failed");
    callback(state, "code2", TOKEN, &a);
    is_str(a.location, "/link?x=failed", "callback: users/me answering 401 fails");
    is_int(me_calls, 1, "callback: users/me was asked");

    me_mode = ME_429;
    if (start(state, challenge) < 0)
        pgt_bail("start failed");
    callback(state, "code3", TOKEN, &a);
    is_str(a.location, "/link?x=rate_limited", "callback: users/me answering 429 is rate_limited");
    me_mode = ME_OK;
    is_str(member_now(), member_before, "callback: X's refusals left the member unchanged");
    is_int(states(), 0, "callback: each state was spent");
}

static void
test_verified(void)
{
    struct pgt_answer a;
    char state[65], challenge[64], v[512], want[64], path[512], form[2100];
    int calls;

    if (start(state, challenge) < 0)
        pgt_bail("start failed");
    callback(state, "the-code", TOKEN, &a);
    is_int(a.status, 303, "callback: 303");
    is_str(a.location, "/link?x=verified", "callback: a good callback is verified");
    snprintf(form, sizeof(form), "http://x/?%s", token_form);
    param_is(form, "grant_type", "authorization_code", "token: grant_type=authorization_code");
    param_is(form, "code", "the-code", "token: the code from the callback");
    param_is(form, "redirect_uri", "https://relay.example/link/x/callback",
             "token: the same redirect_uri");
    param_is(form, "client_id", "client-abc", "token: client_id");
    url_param(form, "code_verifier", v, sizeof(v));
    oauth_challenge(v, want);
    ok(*v != '\0' && strcmp(want, challenge) == 0,
       "token: the code_verifier is the one the challenge was made from");
    is_str(me_auth, "Bearer " BEARER, "users/me: with X's bearer token");
    is_str(pgt_str("SELECT x_id || ' ' || x_handle || ' ' || state || ' ' || "
                   "(x_verified_at IS NOT NULL) || ' ' || (linked_at IS NOT NULL) "
                   "FROM members WHERE id = %ld",
                   member_id),
           X_ID " ann_on_x linked true true",
           "callback: the X id from users/me is bound as verified");
    is_int(
        pgt_num("SELECT count(*) FROM x_claims WHERE member_id = %ld AND x_id = " X_ID, member_id),
        1, "callback: with the member's claim");
    is_int(pgt_num("SELECT count(*) FROM claim_log WHERE member_id = %ld AND x_id = " X_ID
                   " AND outcome = 'verified'",
                   member_id),
           1, "callback: and a claim_log line");
    is_int(states(), 0, "callback: the state is spent");

    member_keep();
    calls = token_calls;
    snprintf(path, sizeof(path), "%s?state=%s&code=the-code", XVERIFY_CALLBACK_PATH, state);
    ask(EVHTTP_REQ_GET, path, TOKEN, 0, &a);
    is_str(a.location, "/link?x=invalid", "callback: a replayed state is invalid");
    is_int(token_calls, calls, "callback: a replay does not reach X");
    is_str(member_now(), member_before, "callback: a replay changes nothing");
}

int
main(void)
{
    struct config cfg;
    struct httpc_options ho = { 0 };
    struct evhttp *http, *x;
    unsigned char key[SEAL_KEY_BYTES];
    char err[256], hash[67], csrf[65], chash[67], api[64];
    int x_port;

    pgt_setup("xverify");
    port = pgt_listen(&http, route_cb, NULL);
    x_port = pgt_listen(&x, x_cb, NULL);
    if (port < 0 || x_port < 0)
        pgt_bail("cannot listen on 127.0.0.1");
    snprintf(api, sizeof(api), "http://127.0.0.1:%d", x_port);
    config_defaults(&cfg);
    if (config_set(&cfg, "base_url", "https://relay.example", err, sizeof(err)) < 0 ||
        config_set(&cfg, "allow_private_fetch", "true", err, sizeof(err)) < 0 ||
        config_set(&cfg, "x_client_id", "client-abc", err, sizeof(err)) < 0 ||
        config_set(&cfg, "x_authorize_url", "https://x.test/i/oauth2/authorize", err, sizeof(err)) <
            0 ||
        config_set(&cfg, "x_api_base", api, err, sizeof(err)) < 0 ||
        config_validate(&cfg, err, sizeof(err)) < 0)
        pgt_bail("config: %s", err);
    app.base = pgt_base;
    app.cfg = &cfg;
    app_init_ids(&app);
    app.db = pgt_db(2);
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)(i * 7 + 1);
    app.seal = seal_from_bytes(key);
    ho.allow_loopback = 1;
    ho.connect_timeout_ms = 1000;
    app.httpc = httpc_new(pgt_base, &ho, err, sizeof(err));
    if (app.httpc == NULL)
        pgt_bail("httpc_new: %s", err);
    metrics_describe("passerelle_http_responses_total", METRICS_COUNTER, "HTTP responses.");

    member_id = pgt_num("INSERT INTO members (actor_uri, acct, host, state, lang) VALUES "
                        "('https://a.example/users/ann', 'ann@a.example', 'a.example', 'joined', "
                        "'en') RETURNING id");
    token_sha256_bytea(TOKEN, hash);
    linkpage_csrf(TOKEN, csrf);
    token_sha256_bytea(csrf, chash);
    pgt_exec("INSERT INTO sessions (hash, member_id, csrf_hash, expires_at) VALUES "
             "('%s', %ld, '%s', now() + interval '1 hour')",
             hash, member_id, chash);

    test_start();
    test_refused_states();
    test_x_refuses();
    test_verified();

    httpc_free(app.httpc);
    seal_free(app.seal);
    db_free(app.db);
    app_free_ids(&app);
    config_free(&cfg);
    evhttp_free(http);
    evhttp_free(x);
    metrics_free();
    pgt_teardown();
    return done_testing();
}
