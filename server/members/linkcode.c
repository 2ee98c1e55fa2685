/* The one-time link: GET shows whose link it is and spends nothing; a same-origin POST opens the
 * session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "activity.h"
#include "app.h"
#include "config.h"
#include "db.h"
#include "dbtx.h"
#include "reply.h"
#include "linkcode.h"
#include "linkpage.h"
#include "log.h"
#include "texts.h"
#include "token.h"
#include "xmalloc.h"

/*
 * The continue page loads only the link page's stylesheet and posts only to itself. Its
 * referrer policy is same-origin, not no-referrer: under no-referrer browsers send
 * "Origin: null" with the form, and the POST could not be told from a cross-site one.
 */
#define LINKCODE_CSP                                                                               \
    "default-src 'none'; style-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; "   \
    "frame-ancestors 'none'"

int
linkcode_same_origin(const char *base_url, const char *sec_fetch_site, const char *origin)
{
    if (sec_fetch_site != NULL)
        return strcmp(sec_fetch_site, "same-origin") == 0;
    return origin != NULL && strcasecmp(origin, base_url) == 0;
}

/* The code of /link/<code> (32 lowercase hex digits), or NULL for any other path. */
static const char *
linkcode_of(const char *path)
{
    const char *code = path + strlen("/link/");

    return strncmp(path, "/link/", 6) == 0 && token_is_hex(code, 32) ? code : NULL;
}

/* --- GET /link/<code> ------------------------------------------------------------------------ */

static const char sql_peek[] = "SELECT m.acct, m.lang FROM link_codes c JOIN members m"
                               " ON m.id = c.member_id WHERE c.hash = $1::bytea"
                               " AND c.used_at IS NULL AND c.expires_at > now()";

/* One GET waiting for its code's member; owns only itself (code points into its own array). */
struct linkcode_peek {
    struct app *app;
    struct evhttp_request *req;
    char code[33];
};

/* key's text in lang, made safe for HTML, with acct (raw) as its {acct}. A new string. */
static char *
linkcode_html(const char *lang, const char *key, const char *acct)
{
    char *text = texts_format(lang, key, "acct", acct, NULL);
    char *html = activity_html_escape(text, 0);

    free(text);
    return html;
}

/* The page, in lang (a catalogue's code), for acct (user@host); code is hex, safe as it is. */
static void
linkcode_page(struct evbuffer *out, const char *lang, const char *acct, const char *code)
{
    char *who = activity_html_escape(acct, 0);
    char *title = linkcode_html(lang, "linkcode.title", acct);
    char *intro = linkcode_html(lang, "linkcode.intro", acct);
    char *button = linkcode_html(lang, "linkcode.button", acct);
    char *note = linkcode_html(lang, "linkcode.note", acct);

    evbuffer_add_printf(
        out,
        "<!doctype html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>%s \u00b7 passerelle</title>\n<link rel=\"icon\" href=\"data:,\">\n"
        "<link rel=\"stylesheet\" href=\"/link/assets/link.css\">\n</head>\n<body>\n"
        "<header class=\"top\"><p class=\"brand\">passerelle</p></header>\n<main id=\"main\">\n"
        "<h1>%s</h1>\n<p class=\"intro\">%s</p>\n<section class=\"card\">\n"
        "<p class=\"member\" id=\"member\">@%s</p>\n"
        "<form method=\"post\" action=\"/link/%s\">\n"
        "<button type=\"submit\" class=\"primary\" id=\"continue\">%s</button>\n</form>\n"
        "<p class=\"help\">%s</p>\n</section>\n</main>\n</body>\n</html>\n",
        lang, title, title, intro, who, code, button, note);
    free(who);
    free(title);
    free(intro);
    free(button);
    free(note);
}

static void
linkcode_peek_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct linkcode_peek *p = arg;
    struct evkeyvalq *hdr = evhttp_request_get_output_headers(p->req);

    (void)err;
    evhttp_add_header(hdr, "Cache-Control", "no-store");
    if (outcome != DB_OK) {
        reply_fail(p->req, REPLY_ERR_UNAVAILABLE, "database unavailable");
    } else if (PQntuples(res) != 1) {
        /* Expired, used or unknown: the link page says so and how to get a new one. */
        evhttp_add_header(hdr, "Referrer-Policy", "no-referrer");
        evhttp_add_header(hdr, "Location", "/link");
        reply_send(p->req, 303, "text/plain; charset=utf-8", "", 0);
    } else {
        const char *al = reply_req_header(p->req, "Accept-Language");
        struct evbuffer *page = evbuffer_new();

        linkcode_page(page, texts_lang_pick(al, PQgetvalue(res, 0, 1)), PQgetvalue(res, 0, 0),
                      p->code);
        evhttp_add_header(hdr, "Content-Security-Policy", LINKCODE_CSP);
        evhttp_add_header(hdr, "Referrer-Policy", "same-origin");
        evhttp_add_header(hdr, "X-Frame-Options", "DENY");
        reply_send(p->req, 200, "text/html; charset=utf-8", (const char *)evbuffer_pullup(page, -1),
                   evbuffer_get_length(page));
        evbuffer_free(page);
    }
    PQclear(res);
    free(p);
}

void
linkcode_get(struct app *app, struct evhttp_request *req, const char *path)
{
    const char *code = linkcode_of(path);
    struct linkcode_peek *p;
    char hash[67];
    const char *params[1] = { hash };

    if (code == NULL) {
        reply_fail(req, REPLY_ERR_NOT_FOUND, "not found");
        return;
    }
    p = xcalloc(1, sizeof(*p));
    p->app = app;
    p->req = req;
    memcpy(p->code, code, 33);
    token_sha256_bytea(code, hash);
    db_query(app->db, sql_peek, 1, params, linkcode_peek_cb, p);
}

/* --- POST /link/<code> ----------------------------------------------------------------------- */

static const char sql_spend[] = "UPDATE link_codes SET used_at = now()"
                                " WHERE hash = $1::bytea AND used_at IS NULL AND expires_at > now()"
                                " RETURNING member_id";
static const char sql_session[] =
    "INSERT INTO sessions (hash, member_id, csrf_hash, expires_at)"
    " VALUES ($1::bytea, $2::bigint, $3::bytea, now() + $4::int * interval '1 second')";

int
linkcode_session_push(struct dbtx *tx, const char *member_id, char token[65])
{
    char hash[67], csrf[65], csrf_hash[67], ttl[16];

    if (token_random_hex(32, token, 65) < 0)
        return -1;
    token_sha256_bytea(token, hash);
    linkpage_csrf(token, csrf);
    token_sha256_bytea(csrf, csrf_hash);
    snprintf(ttl, sizeof(ttl), "%d", LINKPAGE_SESSION_TTL);
    dbtx_push(tx, sql_session, NULL, NULL, 4, hash, member_id, csrf_hash, ttl);
    return 0;
}

/* One POST spending its code; owns only itself. token is "" once the code was refused. */
struct linkcode_spend {
    struct app *app;
    struct evhttp_request *req;
    char token[65];
};

static int
linkcode_spent_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct linkcode_spend *s = arg;

    if (PQntuples(res) != 1) {
        s->token[0] = '\0'; /* expired, used or unknown: no session */
        return 1;
    }
    return linkcode_session_push(tx, PQgetvalue(res, 0, 0), s->token);
}

static void
linkcode_spend_done(enum db_outcome outcome, const char *err, void *arg)
{
    struct linkcode_spend *s = arg;
    struct evkeyvalq *out = evhttp_request_get_output_headers(s->req);

    (void)err;
    if (outcome != DB_OK) {
        reply_fail(s->req, outcome == DB_UNAVAILABLE ? REPLY_ERR_UNAVAILABLE : REPLY_ERR_INTERNAL,
                   "database unavailable");
        free(s);
        return;
    }
    if (s->token[0] != '\0') {
        char *cookie = linkpage_cookie_header(s->app->cfg, s->token);

        evhttp_add_header(out, "Set-Cookie", cookie);
        free(cookie);
        log_info("link_session", "result=opened");
    } else {
        log_info("link_session", "result=code_refused");
    }
    /* Either way to the page: it says "expired" itself when there is no session. */
    evhttp_add_header(out, "Location", "/link");
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    reply_send(s->req, 303, "text/plain; charset=utf-8", "", 0);
    free(s);
}

void
linkcode_post(struct app *app, struct evhttp_request *req, const char *path)
{
    const char *code = linkcode_of(path);
    const char *site = reply_req_header(req, "Sec-Fetch-Site");
    struct linkcode_spend *s;
    struct dbtx *tx;
    char hash[67];

    if (code == NULL) {
        reply_fail(req, REPLY_ERR_NOT_FOUND, "not found");
        return;
    }
    /* Another site's form would log the visitor into someone else's member (login CSRF). */
    if (!linkcode_same_origin(app->cfg->base_url, site, reply_req_header(req, "Origin"))) {
        log_info("link_session", "result=cross_site_refused site=%s",
                 log_q(site != NULL ? site : "-"));
        reply_fail(req, REPLY_ERR_FORBIDDEN, "a link code is only accepted from this site's page");
        return;
    }
    s = xcalloc(1, sizeof(*s));
    s->app = app;
    s->req = req;
    token_sha256_bytea(code, hash);
    tx = dbtx_new(app->db, linkcode_spend_done, s);
    dbtx_push(tx, sql_spend, linkcode_spent_cb, s, 1, hash);
    dbtx_run(tx);
}
