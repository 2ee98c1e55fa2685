/* Joining from the web: the home page's form, signing in through one's own fediverse server. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "activity.h"
#include "app.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "follow.h"
#include "linkcode.h"
#include "linkpage.h"
#include "log.h"
#include "mastoapi.h"
#include "match.h"
#include "monotime.h"
#include "oauth.h"
#include "ratelimit.h"
#include "remote.h"
#include "reply.h"
#include "seal.h"
#include "signin.h"
#include "texts.h"
#include "token.h"
#include "url.h"
#include "wflookup.h"
#include "xmalloc.h"

#define SIGNIN_COOKIE      "passerelle_signin"
#define SIGNIN_MAX_BODY    2048
#define SIGNIN_MAX_SECRET  4096 /* codes and tokens are tens of bytes */
#define SIGNIN_USER_MAX    128
#define SIGNIN_HOST_MAX    256
#define SIGNIN_HANDLE_MAX  320
#define SIGNIN_AD_MAX      2600 /* "signin:", a host, ":", an actor id (remote.c takes 2048) */
#define SIGNIN_BLUESKY_URL "/signin/bluesky/start?handle="

/*
 * The page where a sign-in is refused: the link page's stylesheet, nothing else. Its form
 * (the start page's) posts to us; our POST then sends the browser to the person's own server,
 * so form-action cannot be 'self' (Chromium applies it to the redirect too).
 */
#define SIGNIN_CSP                                                                                 \
    "default-src 'none'; style-src 'self'; img-src data:; base-uri 'none'; frame-ancestors 'none'"

/* --- pure helpers ---------------------------------------------------------------------------- */

/* Letters, digits, '_', '.', '-': usernames on Mastodon, Pleroma, GoToSocial, Misskey. */
static int
signin_user_ok(const char *s, size_t n)
{
    if (n == 0 || n >= SIGNIN_USER_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

/* A DNS name (at least one dot, or "localhost"), an optional port; no other character. */
static int
signin_host_ok(const char *s, size_t n)
{
    size_t colon = n;

    if (n == 0 || n >= SIGNIN_HOST_MAX || s[0] == '.' || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ':' && colon == n)
            colon = i;
        else if (i > colon ? !isdigit((unsigned char)s[i])
                           : !isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
            return 0;
    }
    if (colon != n && (colon + 1 == n || n - colon > 6))
        return 0;
    return memchr(s, '.', colon) != NULL || (colon == 9 && strncasecmp(s, "localhost", 9) == 0);
}

enum signin_kind
signin_classify(const char *input, char *user, size_t userlen, char *host, size_t hostlen,
                char *handle, size_t handlelen)
{
    const char *s = input, *at;
    size_t n;

    *user = *host = *handle = '\0';
    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    if (n > 0 && *s == '@') {
        s++;
        n--;
    }
    if (n == 0 || n >= SIGNIN_HANDLE_MAX || n >= handlelen)
        return SIGNIN_INVALID;
    if (n > 8 && (strncmp(s, "did:plc:", 8) == 0 || strncmp(s, "did:web:", 8) == 0)) {
        for (size_t i = 8; i < n; i++)
            if (!isalnum((unsigned char)s[i]) && strchr("._:%-", s[i]) == NULL)
                return SIGNIN_INVALID;
        memcpy(handle, s, n);
        handle[n] = '\0';
        return SIGNIN_BLUESKY;
    }
    at = memchr(s, '@', n);
    if (at == NULL) {
        /* A Bluesky handle is a domain name, without a port. */
        if (!signin_host_ok(s, n) || memchr(s, ':', n) != NULL || memchr(s, '.', n) == NULL)
            return SIGNIN_INVALID;
        for (size_t i = 0; i < n; i++)
            handle[i] = (char)tolower((unsigned char)s[i]);
        handle[n] = '\0';
        return SIGNIN_BLUESKY;
    }
    {
        size_t ulen = (size_t)(at - s), hlen = n - ulen - 1;

        if (!signin_user_ok(s, ulen) || !signin_host_ok(at + 1, hlen) || ulen >= userlen ||
            hlen >= hostlen)
            return SIGNIN_INVALID;
        memcpy(user, s, ulen);
        user[ulen] = '\0';
        for (size_t i = 0; i < hlen; i++)
            host[i] = (char)tolower((unsigned char)at[1 + i]);
        host[hlen] = '\0';
    }
    return SIGNIN_FEDIVERSE;
}

/* 1 when scope (space-separated) holds want, or a broader scope that covers it. */
static int
signin_scope_has(const char *scope, const char *want, const char *broader, const char *legacy)
{
    const char *p = scope;

    while (*p != '\0') {
        size_t n = strcspn(p, " ");

        if ((strlen(want) == n && strncmp(p, want, n) == 0) ||
            (strlen(broader) == n && strncmp(p, broader, n) == 0) ||
            (legacy != NULL && strlen(legacy) == n && strncmp(p, legacy, n) == 0))
            return 1;
        p += n;
        while (*p == ' ')
            p++;
    }
    return 0;
}

int
signin_scope_follows(const char *scope)
{
    return scope != NULL && signin_scope_has(scope, "read:search", "read", NULL) &&
           signin_scope_has(scope, "write:follows", "write", "follow");
}

/* The verifier is sealed to its state's row: the host and the actor it was made for. */
static void
signin_state_ad(const char *host, const char *actor_uri, char *out, size_t outlen)
{
    snprintf(out, outlen, "signin:%s:%s", host, actor_uri);
}

static int
signin_https(const struct config *cfg)
{
    return strncmp(cfg->base_url, "https:", 6) == 0;
}

/* As the session's: __Host- under https, so that no sibling subdomain can plant one. */
const char *
signin_cookie_name(const struct config *cfg)
{
    return signin_https(cfg) ? "__Host-" SIGNIN_COOKIE : SIGNIN_COOKIE;
}

void
signin_set_cookie(struct evhttp_request *req, const struct config *cfg, const char *value,
                  int max_age)
{
    char *c =
        xasprintf("%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Lax%s", signin_cookie_name(cfg),
                  value, max_age, signin_https(cfg) ? "; Secure" : "");

    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", c);
    free(c);
}

/* --- the form on the start page -------------------------------------------------------------- */

void
signin_put(struct evbuffer *out, const char *lang, const char *key)
{
    char *h = activity_html_escape(texts_get(lang, key), 0);

    evbuffer_add(out, h, strlen(h));
    free(h);
}

void
signin_form(struct evbuffer *out, const char *lang)
{
    evbuffer_add_printf(out, "<section class=\"card signin\" id=\"signin\" lang=\"%s\">\n<h2>",
                        lang);
    signin_put(out, lang, "signin.title");
    evbuffer_add_printf(out, "</h2>\n<p class=\"intro\">");
    signin_put(out, lang, "signin.intro");
    evbuffer_add_printf(out, "</p>\n<form method=\"post\" action=\"/signin\">\n"
                             "<label for=\"address\">");
    signin_put(out, lang, "signin.label");
    evbuffer_add_printf(out, "</label>\n<input id=\"address\" name=\"address\" type=\"text\" "
                             "required maxlength=\"300\" autocomplete=\"username\" "
                             "autocapitalize=\"none\" spellcheck=\"false\" placeholder=\"");
    signin_put(out, lang, "signin.placeholder");
    evbuffer_add_printf(out, "\">\n<p class=\"check\"><label><input type=\"checkbox\" "
                             "name=\"follows\" value=\"1\" id=\"follows\"> ");
    signin_put(out, lang, "signin.follows");
    evbuffer_add_printf(out, "</label></p>\n<p class=\"help\">");
    signin_put(out, lang, "signin.follows_help");
    evbuffer_add_printf(out, "</p>\n<button type=\"submit\" class=\"primary\" id=\"signin-go\">");
    signin_put(out, lang, "signin.button");
    evbuffer_add_printf(out, "</button>\n</form>\n<p class=\"help\"><a id=\"signin-app-password\" "
                             "href=\"/signin/bluesky/app-password\">");
    /* Bluesky's fallback, when the person's server's OAuth does not work for them. */
    signin_put(out, lang, "atsignin.app_link");
    evbuffer_add_printf(out, "</a></p>\n</section>\n");
}

/* --- one sign-in's context ------------------------------------------------------------------- */

/* One POST /signin or one callback; the single owner of what it holds. */
struct signin_op {
    struct app *app;
    struct evhttp_request *req; /* NULL once answered */
    const char *lang;           /* a catalogue's code */
    int follows;                /* the follow scopes were asked */
    int callback;               /* answering the callback: the pre-session cookie goes */
    char user[SIGNIN_USER_MAX];
    char typed_host[SIGNIN_HOST_MAX];
    char origin[300]; /* the actor's server, where OAuth happens */
    char host[256];
    char addr[64];
    char member_id[24];
    char session[65];    /* the page session's token, once opened */
    char state[65];      /* the state handed to the person's server (only its hash is kept) */
    char presession[65]; /* the pre-session cookie's value (only its hash is kept) */
    char *actor_uri, *acct, *inbox;
    char *client_id;
    char *client_secret; /* plain: wiped when freed */
    char *verifier;      /* plain: wiped when freed */
    char *code;          /* plain: wiped when freed */
    char *token;         /* plain: wiped when freed */
    char *scope;
    int grant;   /* the token carries the follow scopes and is kept */
    int created; /* a new member */
};

static struct signin_op *
signin_op_new(struct app *app, struct evhttp_request *req)
{
    struct signin_op *op = xcalloc(1, sizeof(*op));

    op->app = app;
    op->req = req;
    op->lang = reply_req_lang(req);
    return op;
}

static void
signin_op_free(struct signin_op *op)
{
    free(op->actor_uri);
    free(op->acct);
    free(op->inbox);
    free(op->client_id);
    seal_wipe_free(op->client_secret);
    seal_wipe_free(op->verifier);
    seal_wipe_free(op->code);
    seal_wipe_free(op->token);
    free(op->scope);
    OPENSSL_cleanse(op->session, sizeof(op->session));
    OPENSSL_cleanse(op->state, sizeof(op->state));
    OPENSSL_cleanse(op->presession, sizeof(op->presession));
    free(op);
}

void
signin_finish(struct evhttp_request *req, const struct config *cfg, const char *session)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    char *cookie = linkpage_cookie_header(cfg, session);

    evhttp_add_header(out, "Set-Cookie", cookie);
    free(cookie);
    signin_set_cookie(req, cfg, "", 0);
    evhttp_add_header(out, "Location", "/link");
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    reply_send(req, 303, "text/plain; charset=utf-8", "", 0);
}

void
signin_presession_hash(struct evhttp_request *req, const struct config *cfg, char out[67])
{
    const char *h = reply_req_header(req, "Cookie");
    char cookie[65];

    snprintf(out, 67, "\\x");
    if (h != NULL && linkpage_cookie(h, signin_cookie_name(cfg), cookie, sizeof(cookie)) == 0 &&
        token_is_hex(cookie, 64))
        token_sha256_bytea(cookie, out);
    OPENSSL_cleanse(cookie, sizeof(cookie));
}

void
signin_page_head(struct evbuffer *b, const char *lang, const char *title_key)
{
    evbuffer_add_printf(b,
                        "<!doctype html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                        "<title>",
                        lang);
    signin_put(b, lang, title_key);
    evbuffer_add_printf(b, " \u00b7 passerelle</title>\n<link rel=\"icon\" href=\"data:,\">\n"
                           "<link rel=\"stylesheet\" href=\"/link/assets/link.css\">\n</head>\n"
                           "<body>\n<main id=\"main\">\n<h1>");
    signin_put(b, lang, title_key);
}

/* A small page: the reason (already in the person's language) and the way back. */
void
signin_page(struct evhttp_request *req, int status, const char *lang, const char *reason)
{
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
    char *why = activity_html_escape(reason, 0);

    signin_page_head(b, lang, "signin.error_title");
    evbuffer_add_printf(
        b, "</h1>\n<p class=\"error\" id=\"signin-error\">%s</p>\n<p><a href=\"/\">", why);
    signin_put(b, lang, "signin.back");
    evbuffer_add_printf(b, "</a></p>\n</main>\n</body>\n</html>\n");
    free(why);
    evhttp_add_header(hdr, "Content-Security-Policy", SIGNIN_CSP);
    evhttp_add_header(hdr, "Cache-Control", "no-store");
    evhttp_add_header(hdr, "Referrer-Policy", "no-referrer");
    reply_send(req, status, "text/html; charset=utf-8", (const char *)evbuffer_pullup(b, -1),
               evbuffer_get_length(b));
    evbuffer_free(b);
}

/*
 * Refuses with key's text ({acct}, {host} and {bridge} filled in) and the status of kind;
 * nothing was written. The op goes.
 */
static void
signin_refuse(struct signin_op *op, enum reply_err kind, const char *key, const char *why)
{
    if (op->req != NULL) {
        char *bridge = xasprintf("@%s@%s", op->app->cfg->bridge_username, op->app->cfg->host);
        char *acct =
            op->acct != NULL ? xstrdup(op->acct) : xasprintf("%s@%s", op->user, op->typed_host);
        char *text =
            texts_format(op->lang, key, "acct", acct, "host",
                         *op->host != '\0' ? op->host : op->typed_host, "bridge", bridge, NULL);

        log_info("signin", "result=refused reason=%s host=%s", why,
                 log_q(*op->host != '\0' ? op->host : op->typed_host));
        if (op->callback)
            signin_set_cookie(op->req, op->app->cfg, "", 0);
        signin_page(op->req, reply_err_status(kind), op->lang, text);
        free(text);
        free(acct);
        free(bridge);
    }
    signin_op_free(op);
}

/* --- POST /signin ---------------------------------------------------------------------------- */

/* Expired states go whenever a new one comes. */
static const char sql_state_store[] =
    "WITH gc AS (DELETE FROM signin_states WHERE expires_at < now())"
    " INSERT INTO signin_states (hash, presession, host, actor_uri, acct, inbox, follows, lang,"
    "  verifier, verifier_nonce, expires_at)"
    " VALUES ($1::bytea, $2::bytea, $3, $4, $5, $6, $7::boolean, $8, $9::bytea, $10::bytea,"
    "  now() + $11::int * interval '1 second')";

static void
signin_state_stored(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct signin_op *op = arg;
    char *endpoint, *url, *state, *callback;
    struct evkeyvalq *out;

    PQclear(res);
    if (outcome != DB_OK) {
        log_warn("signin_start_failed", "host=%s reason=%s", op->host, log_q(err));
        signin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.db_unavailable", "db_unavailable");
        return;
    }
    endpoint = xasprintf("%s/oauth/authorize", op->origin);
    state = xasprintf("%s%s", SIGNIN_STATE_PREFIX, op->state);
    callback = xasprintf("%s%s", op->app->cfg->base_url, OAUTH_CALLBACK_PATH);
    oauth_authorize_url(&url, endpoint, op->client_id, callback,
                        op->follows ? OAUTH_SCOPES : SIGNIN_SCOPE, state, op->verifier);
    out = evhttp_request_get_output_headers(op->req);
    signin_set_cookie(op->req, op->app->cfg, op->presession, OAUTH_STATE_TTL);
    evhttp_add_header(out, "Location", url);
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    reply_send(op->req, 303, "text/plain; charset=utf-8", "", 0);
    log_info("signin_start", "host=%s follows=%s", op->host, op->follows ? "yes" : "no");
    free(state);
    free(callback);
    free(endpoint);
    free(url);
    signin_op_free(op);
}

/* The app is registered on the person's server: a state, a verifier and the cookie. */
static void
signin_app_ready(struct app *app, const char *client_id, const char *err_key, void *arg)
{
    struct signin_op *op = arg;
    char verifier[65], hash[67], presession_hash[67], ad[SIGNIN_AD_MAX], ttl[16],
        nonce[SEAL_NONCE_BYTEA];
    char *ct = NULL;
    const char *params[11];

    if (client_id == NULL) {
        int db = strcmp(err_key, "page.db_unavailable") == 0;
        int silent = strcmp(err_key, "oauth.no_answer") == 0;

        signin_refuse(op, db || silent ? REPLY_ERR_UNAVAILABLE : REPLY_ERR_BAD_REQUEST,
                      db       ? "signin.db_unavailable"
                      : silent ? "signin.unreachable"
                               : "signin.register_failed",
                      "no_app");
        return;
    }
    op->client_id = xstrdup(client_id);
    if (token_random_hex(32, op->state, sizeof(op->state)) < 0 ||
        token_random_hex(32, op->presession, sizeof(op->presession)) < 0 ||
        token_random_hex(32, verifier, sizeof(verifier)) < 0) {
        signin_refuse(op, REPLY_ERR_INTERNAL, "signin.failed", "no_randomness");
        return;
    }
    op->verifier = xstrdup(verifier);
    OPENSSL_cleanse(verifier, sizeof(verifier));
    token_sha256_bytea(op->state, hash);
    token_sha256_bytea(op->presession, presession_hash);
    signin_state_ad(op->host, op->actor_uri, ad, sizeof(ad));
    if (seal_to_bytea(app->seal, ad, op->verifier, &ct, nonce) < 0) {
        signin_refuse(op, REPLY_ERR_INTERNAL, "signin.failed", "seal_failed");
        return;
    }
    snprintf(ttl, sizeof(ttl), "%d", OAUTH_STATE_TTL);
    params[0] = hash;
    params[1] = presession_hash;
    params[2] = op->host;
    params[3] = op->actor_uri;
    params[4] = op->acct;
    params[5] = op->inbox;
    params[6] = op->follows ? "true" : "false";
    params[7] = op->lang;
    params[8] = ct;
    params[9] = nonce;
    params[10] = ttl;
    db_query(app->db, sql_state_store, 11, params, signin_state_stored, op);
    free(ct);
}

/* The actor document: the account's name must be the typed one; its inbox is kept. */
static void
signin_actor_cb(enum remote_result result, const struct remote_key *key, void *arg)
{
    struct signin_op *op = arg;

    if (result != REMOTE_OK) {
        signin_refuse(op,
                      result == REMOTE_UNREACHABLE ? REPLY_ERR_UNAVAILABLE : REPLY_ERR_BAD_REQUEST,
                      result == REMOTE_UNREACHABLE ? "signin.unreachable"
                      : result == REMOTE_REFUSED   ? "signin.not_public"
                                                   : "signin.not_found",
                      remote_result_name(result));
        return;
    }
    if (mastoapi_home(op->app->cfg, key->actor_id, op->origin, sizeof(op->origin), op->host,
                      sizeof(op->host)) < 0) {
        signin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.https_only", "not_https");
        return;
    }
    if (strcasecmp(key->preferred_username, op->user) != 0) {
        signin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.other_account", "other_username");
        return;
    }
    op->actor_uri = xstrdup(key->actor_id);
    op->inbox = xstrdup(key->inbox);
    /* As a Follow of the bridge account names it: the same member either way. */
    op->acct = xasprintf("%s@%s", key->preferred_username, op->host);
    oauth_app_ensure(op->app, op->origin, op->host, signin_app_ready, op);
}

/*
 * Takes one sign-in of host (and, unless addr is NULL, of the client's address) from the
 * budgets, before anything is fetched there: 0, or -1 with the 429 answered (Retry-After,
 * the reason in the visitor's language) and the op gone, nothing counted.
 */
static int
signin_budget(struct signin_op *op, const char *host, const char *addr)
{
    long long hkey = ratelimit_key_text(host), akey = addr != NULL ? ratelimit_addr_key(addr) : 0;
    long wait;
    const char *why = "busy_host", *key = "signin.busy_host";
    char secs[24];

    wait = op->app->signin_hosts != NULL
               ? ratelimit_take(op->app->signin_hosts, hkey, monotime_ms() / 1000)
               : 0;
    if (wait == 0 && addr != NULL && op->app->signin_addrs != NULL) {
        wait = ratelimit_take(op->app->signin_addrs, akey, monotime_ms() / 1000);
        if (wait > 0) {
            if (op->app->signin_hosts != NULL)
                ratelimit_refund(op->app->signin_hosts, hkey);
            why = "busy_address";
            key = "signin.busy_address";
        }
    }
    if (wait == 0)
        return 0;
    snprintf(secs, sizeof(secs), "%ld", wait);
    evhttp_add_header(evhttp_request_get_output_headers(op->req), "Retry-After", secs);
    snprintf(op->host, sizeof(op->host), "%s", host);
    signin_refuse(op, REPLY_ERR_RATE_LIMITED, key, why);
    return -1;
}

static void
signin_fingered(enum wflookup_result r, const char *actor_uri, void *arg)
{
    struct signin_op *op = arg;
    char scheme[8], host[URL_HOST_MAX + 1], name[URL_HOST_MAX + 8];
    long port;

    if (r != WFLOOKUP_OK) {
        signin_refuse(op, r == WFLOOKUP_UNREACHABLE ? REPLY_ERR_UNAVAILABLE : REPLY_ERR_BAD_REQUEST,
                      r == WFLOOKUP_UNREACHABLE ? "signin.unreachable"
                      : r == WFLOOKUP_REFUSED   ? "signin.not_public"
                      : r == WFLOOKUP_INVALID   ? "signin.bad_address"
                                                : "signin.not_found",
                      wflookup_result_name(r));
        return;
    }
    /* An address on one server may name an actor on another: that one is asked too. */
    if (url_origin(actor_uri, scheme, sizeof(scheme), host, sizeof(host), &port) == 0) {
        if ((strcmp(scheme, "https") == 0 && port == 443) ||
            (strcmp(scheme, "http") == 0 && port == 80))
            snprintf(name, sizeof(name), "%s", host);
        else
            snprintf(name, sizeof(name), "%s:%ld", host, port);
        if (strcasecmp(name, op->typed_host) != 0 && signin_budget(op, name, NULL) < 0)
            return;
    }
    remote_key_lookup(op->app->remote, actor_uri, 0, signin_actor_cb, op);
}

/* The form's fields (application/x-www-form-urlencoded); -1 when the body is not one. */
static int
signin_read_form(struct evhttp_request *req, char *address, size_t addresslen, int *follows)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *ct = reply_req_header(req, "Content-Type");
    struct evkeyvalq kv;
    const char *a, *f;
    char *body;
    int rc = -1;

    if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 ||
        len > SIGNIN_MAX_BODY)
        return -1;
    body = xmalloc(len + 1);
    evbuffer_copyout(in, body, len);
    body[len] = '\0';
    TAILQ_INIT(&kv);
    if (strlen(body) == len && evhttp_parse_query_str(body, &kv) == 0) {
        a = evhttp_find_header(&kv, "address");
        f = evhttp_find_header(&kv, "follows");
        if (a != NULL && strlen(a) < addresslen) {
            snprintf(address, addresslen, "%s", a);
            *follows = f != NULL && *f != '\0' && strcmp(f, "0") != 0;
            rc = 0;
        }
    }
    evhttp_clear_headers(&kv);
    free(body);
    return rc;
}

void
signin_post(struct app *app, struct evhttp_request *req, const char *path)
{
    struct signin_op *op = signin_op_new(app, req);
    const char *site = reply_req_header(req, "Sec-Fetch-Site");
    char address[SIGNIN_HANDLE_MAX + 64], handle[SIGNIN_HANDLE_MAX];

    (void)path;
    /* Another site's form would sign the visitor in as someone else (login CSRF). */
    if (!linkcode_same_origin(app->cfg->base_url, site, reply_req_header(req, "Origin"))) {
        signin_refuse(op, REPLY_ERR_FORBIDDEN, "signin.cross_site", "cross_site");
        return;
    }
    if (signin_read_form(req, address, sizeof(address), &op->follows) < 0) {
        signin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.bad_address", "bad_form");
        return;
    }
    switch (signin_classify(address, op->user, sizeof(op->user), op->typed_host,
                            sizeof(op->typed_host), handle, sizeof(handle))) {
    case SIGNIN_INVALID:
        signin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.bad_address", "bad_address");
        return;
    case SIGNIN_BLUESKY: {
        char *enc = evhttp_uriencode(handle, -1, 0);
        char *loc = xasprintf("%s%s", SIGNIN_BLUESKY_URL, enc);
        struct evkeyvalq *out = evhttp_request_get_output_headers(req);

        evhttp_add_header(out, "Location", loc);
        evhttp_add_header(out, "Cache-Control", "no-store");
        reply_send(req, 303, "text/plain; charset=utf-8", "", 0);
        log_info("signin", "result=bluesky");
        free(loc);
        free(enc);
        signin_op_free(op);
        return;
    }
    case SIGNIN_FEDIVERSE:
        break;
    }
    if (app->seal == NULL || app->remote == NULL) {
        signin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.not_set_up", "not_set_up");
        return;
    }
    /* Each sign-in asks the server typed (WebFinger, the actor, maybe a registration). */
    reply_req_client(req, op->addr, sizeof(op->addr));
    if (signin_budget(op, op->typed_host, op->addr) < 0)
        return;
    wflookup_acct(app, op->user, op->typed_host, signin_fingered, op);
}

/* --- GET /link/oauth/callback with a sign-in's state ---------------------------------------- */

int
signin_owns_callback(struct evhttp_request *req)
{
    char *state = reply_req_param(req, "state");
    int ours =
        state != NULL && strncmp(state, SIGNIN_STATE_PREFIX, strlen(SIGNIN_STATE_PREFIX)) == 0;

    free(state);
    return ours;
}

/* Spent whatever happens next: a state is good for one callback. */
static const char sql_state_spend[] =
    "WITH s AS (DELETE FROM signin_states WHERE hash = $1::bytea RETURNING *)"
    " SELECT s.presession = $2::bytea, s.expires_at > now(), s.host, s.actor_uri, s.acct,"
    "  s.inbox, s.follows, s.lang, s.verifier, s.verifier_nonce, a.client_id, a.client_secret,"
    "  a.client_secret_nonce"
    " FROM s JOIN oauth_apps a ON a.host = s.host";

/* The same person is the same member: by their actor, however they first came. */
static const char sql_member[] =
    "INSERT INTO members (actor_uri, acct, host, inbox, lang) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (actor_uri) DO UPDATE SET acct = EXCLUDED.acct, inbox = EXCLUDED.inbox,"
    "  updated_at = now()"
    " RETURNING id, (xmax = 0) AS created";

/* A new member starts with the defaults the page shows, each one in the ledger. */
static const char sql_default_consents[] =
    "INSERT INTO consent_ledger (member_id, consent, value, source)"
    " VALUES ($1::bigint, 'findable', true, 'default'), ($1::bigint, 'notify', true, 'default'),"
    "  ($1::bigint, 'autofollow', false, 'default'), ($1::bigint, 'relay', false, 'default')";

void
signin_defaults_push(struct dbtx *tx, const char *member_id)
{
    dbtx_push(tx, sql_default_consents, NULL, NULL, 1, member_id);
}

/* "Follow for me" was chosen on the start page: autofollow on, in the ledger if it changed. */
static const char sql_autofollow[] =
    "WITH old AS (SELECT autofollow FROM members WHERE id = $1::bigint),"
    " upd AS (UPDATE members SET autofollow = true, match_due_at = now(), updated_at = now()"
    "  WHERE id = $1::bigint RETURNING id)"
    " INSERT INTO consent_ledger (member_id, consent, value, source, client_addr)"
    " SELECT $1::bigint, 'autofollow', true, 'page', $2::inet FROM old WHERE NOT old.autofollow";

/* The exchange's parameters for op (borrowed from it). */
static void
signin_exchange_of(const struct signin_op *op, struct oauth_exchange *x)
{
    memset(x, 0, sizeof(*x));
    x->who = "-";
    x->origin = op->origin;
    x->host = op->host;
    x->actor_uri = op->actor_uri;
    x->acct = op->acct;
    x->client_id = op->client_id;
    x->client_secret = op->client_secret;
    x->verifier = op->verifier;
    x->code = op->code;
    x->scope = op->follows ? OAUTH_SCOPES : SIGNIN_SCOPE;
}

static int
signin_member_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct signin_op *op = arg;

    if (PQntuples(res) != 1)
        return -1;
    snprintf(op->member_id, sizeof(op->member_id), "%s", PQgetvalue(res, 0, 0));
    op->created = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    if (op->created)
        signin_defaults_push(tx, op->member_id);
    if (op->grant) {
        if (oauth_grant_push(tx, op->app, op->member_id, op->host, op->token, op->scope) < 0)
            return -1;
        dbtx_push(tx, sql_autofollow, NULL, NULL, 2, op->member_id,
                  op->addr[0] != '\0' ? op->addr : NULL);
    }
    return linkcode_session_push(tx, op->member_id, op->session);
}

static void
signin_done(enum db_outcome outcome, const char *err, void *arg)
{
    struct signin_op *op = arg;
    struct oauth_exchange x;

    signin_exchange_of(op, &x);
    if (outcome != DB_OK) {
        log_warn("signin_store_failed", "host=%s reason=%s", op->host, log_q(err));
        oauth_revoke_token(op->app, &x, op->token); /* nothing of it is kept */
        signin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.db_unavailable", "db_unavailable");
        return;
    }
    signin_finish(op->req, op->app->cfg, op->session);
    op->req = NULL;
    log_info("signin", "result=signed_in member=%s created=%s host=%s grant=%s", op->member_id,
             op->created ? "yes" : "no", op->host, op->grant ? "yes" : "no");
    if (op->grant) {
        follow_kick(op->app->follow);
        match_kick(op->app->match);
    } else {
        /* Only needed to know whose account it is: its server forgets it now. */
        oauth_revoke_token(op->app, &x, op->token);
    }
    signin_op_free(op);
}

static void
signin_exchanged(enum oauth_outcome outcome, const char *token, const char *scope, void *arg)
{
    struct signin_op *op = arg;
    struct dbtx *tx;

    if (outcome != OAUTH_OK) {
        /* A token of another account was never handed over, and is being revoked. */
        signin_refuse(op,
                      outcome == OAUTH_WRONG_ACCOUNT ? REPLY_ERR_FORBIDDEN : REPLY_ERR_BAD_REQUEST,
                      outcome == OAUTH_WRONG_ACCOUNT ? "signin.wrong_account" : "signin.failed",
                      outcome == OAUTH_WRONG_ACCOUNT ? "wrong_account" : "exchange_failed");
        return;
    }
    op->token = xstrdup(token);
    op->scope = xstrdup(scope);
    op->grant = op->follows && signin_scope_follows(scope);
    reply_req_peer(op->req, op->addr, sizeof(op->addr));
    tx = dbtx_new(op->app->db, signin_done, op);
    dbtx_push(tx, sql_member, signin_member_cb, op, 5, op->actor_uri, op->acct, op->host, op->inbox,
              op->lang);
    dbtx_run(tx);
}

static void
signin_state_spent(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct signin_op *op = arg;
    struct oauth_exchange x;
    char ad[SIGNIN_AD_MAX], host[256];
    int same, fresh;

    (void)err;
    if (outcome != DB_OK) {
        PQclear(res);
        signin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.db_unavailable", "db_unavailable");
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        signin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.invalid", "unknown_state");
        return;
    }
    same = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    fresh = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    snprintf(op->host, sizeof(op->host), "%s", PQgetvalue(res, 0, 2));
    op->actor_uri = xstrdup(PQgetvalue(res, 0, 3));
    op->acct = xstrdup(PQgetvalue(res, 0, 4));
    op->inbox = xstrdup(PQgetvalue(res, 0, 5));
    op->follows = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
    op->lang = texts_lang_pick(NULL, PQgetvalue(res, 0, 7)); /* the start page's language */
    if (!same || !fresh || op->code == NULL) {
        PQclear(res);
        signin_refuse(op,
                      !same    ? REPLY_ERR_FORBIDDEN
                      : !fresh ? REPLY_ERR_BAD_REQUEST
                               : REPLY_ERR_FORBIDDEN,
                      !same    ? "signin.other_browser"
                      : !fresh ? "signin.expired"
                               : "signin.denied",
                      !same    ? "other_browser"
                      : !fresh ? "expired"
                               : "denied");
        return;
    }
    signin_state_ad(op->host, op->actor_uri, ad, sizeof(ad));
    op->verifier = seal_from_bytea(op->app->seal, ad, PQgetvalue(res, 0, 8), PQgetvalue(res, 0, 9));
    oauth_app_ad(op->host, ad, sizeof(ad));
    op->client_secret =
        seal_from_bytea(op->app->seal, ad, PQgetvalue(res, 0, 11), PQgetvalue(res, 0, 12));
    op->client_id = xstrdup(PQgetvalue(res, 0, 10));
    PQclear(res);
    if (op->verifier == NULL || op->client_secret == NULL ||
        mastoapi_home(op->app->cfg, op->actor_uri, op->origin, sizeof(op->origin), host,
                      sizeof(host)) < 0 ||
        strcmp(host, op->host) != 0) {
        log_error("signin_unseal_failed", "host=%s", op->host);
        signin_refuse(op, REPLY_ERR_INTERNAL, "signin.failed", "unseal_failed");
        return;
    }
    signin_exchange_of(op, &x);
    oauth_exchange(op->app, &x, signin_exchanged, op);
}

void
signin_callback(struct app *app, struct evhttp_request *req, const char *path)
{
    struct signin_op *op = signin_op_new(app, req);
    char hash[67], presession_hash[67];
    const char *params[2] = { hash, presession_hash };

    (void)path;
    op->callback = 1;
    if (app->seal == NULL) {
        signin_refuse(op, REPLY_ERR_UNAVAILABLE, "signin.not_set_up", "not_set_up");
        return;
    }
    if (oauth_callback_read(req, SIGNIN_STATE_PREFIX, SIGNIN_MAX_SECRET, hash, &op->code) < 0) {
        signin_refuse(op, REPLY_ERR_BAD_REQUEST, "signin.invalid", "bad_state");
        return;
    }
    signin_presession_hash(req, app->cfg, presession_hash);
    db_query(app->db, sql_state_spend, 2, params, signin_state_spent, op);
}
