/* GET /: the start page (the sign-in form) and public counts; GET /metrics for Prometheus. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/crypto.h>

#include "app.h"
#include "chart.h"
#include "config.h"
#include "db.h"
#include "reply.h"
#include "metrics.h"
#include "netguard.h"
#include "signin.h"
#include "status.h"
#include "texts.h"
#include "xmalloc.h"

struct status_req {
    struct app *app;
    struct evhttp_request *req; /* answered exactly once, in status_counts_cb */
};

/* Days the arrivals chart covers, today (UTC) included. */
#define STATUS_DAYS 30
/*
 * The page is public and its counts scan big tables, so one rendering serves everyone for
 * a few seconds; it is never served while the database is known to be down.
 */
#define STATUS_CACHE_SECONDS 5

/*
 * What the last query found; each request renders it in its own language. counts[] follow
 * status_labels[]' order, days[] are oldest first.
 */
static struct {
    time_t at; /* 0: nothing cached */
    char counts[5][24];
    char days[STATUS_DAYS][16];
    long arrivals[STATUS_DAYS];
    int ndays;
} status_cache;

/* The page's counts: their element id, their label's text key, their column in sql_status. */
static const struct {
    const char *id;
    const char *key;
    int column;
} status_labels[] = {
    { "members", "status.members", 2 },     { "linked", "status.linked", 3 },
    { "instances", "status.instances", 4 }, { "follows", "status.follows", 5 },
    { "contacts", "status.contacts", 6 },
};
/*
 * One row per day, oldest first: the day, its arrivals (members who joined that day and are
 * still members), then the same totals on every row (computed once, as init plans).
 */
static const char sql_status[] =
    "WITH days AS (SELECT d::date AS d FROM generate_series("
    "  (now() AT TIME ZONE 'UTC')::date - 29, (now() AT TIME ZONE 'UTC')::date,"
    "  interval '1 day') d),"
    " arr AS (SELECT (created_at AT TIME ZONE 'UTC')::date AS d, count(*) AS n FROM members"
    "  WHERE created_at >= (now() AT TIME ZONE 'UTC')::date - 30 GROUP BY 1)"
    " SELECT to_char(days.d, 'YYYY-MM-DD'), coalesce(arr.n, 0),"
    "  (SELECT count(*) FROM members),"
    "  (SELECT count(*) FROM members WHERE state = 'linked'),"
    "  (SELECT count(*) FROM instances WHERE relay_state = 'accepted' AND NOT blocked),"
    "  (SELECT count(*) FROM follow_actions WHERE state = 'done'),"
    "  (SELECT count(*) FROM follow_actions WHERE state <> 'undone')"
    " FROM days LEFT JOIN arr ON arr.d = days.d ORDER BY days.d";

/* Appends a catalogue text, escaped; {name} placeholders take the HTML fragments given. */
static void
status_put(struct evbuffer *out, const char *lang, const char *key, ...)
{
    struct evbuffer *esc = evbuffer_new();
    const char *names[3] = { NULL, NULL, NULL }, *html[3] = { NULL, NULL, NULL };
    char *tmpl, *text;
    va_list ap;

    /* Escaping leaves "{name}" as it is, so the fragments go in after it, unescaped. */
    chart_escape(esc, texts_get(lang, key));
    evbuffer_add(esc, "", 1);
    tmpl = (char *)evbuffer_pullup(esc, -1);
    va_start(ap, key);
    for (int i = 0; i < 3 && (names[i] = va_arg(ap, const char *)) != NULL; i++)
        html[i] = va_arg(ap, const char *);
    va_end(ap);
    text = texts_format_text(tmpl, names[0] ? names[0] : "", html[0], names[1] ? names[1] : "",
                             html[1], names[2] ? names[2] : "", html[2], (const char *)NULL);
    evbuffer_add(out, text, strlen(text));
    free(text);
    evbuffer_free(esc);
}

static char *status_wrap(const char *tag, ...) __attribute__((sentinel));
static void status_put(struct evbuffer *out, const char *lang, const char *key, ...)
    __attribute__((sentinel));

/* The parts (up to a NULL) each escaped, inside <tag>...</tag>: a new string. */
static char *
status_wrap(const char *tag, ...)
{
    struct evbuffer *buf = evbuffer_new();
    const char *part;
    char *s;
    size_t len;
    va_list ap;

    evbuffer_add_printf(buf, "<%s>", tag);
    va_start(ap, tag);
    while ((part = va_arg(ap, const char *)) != NULL)
        chart_escape(buf, part);
    va_end(ap);
    evbuffer_add_printf(buf, "</%s>", tag);
    len = evbuffer_get_length(buf);
    s = xmalloc(len + 1);
    evbuffer_remove(buf, s, len);
    s[len] = '\0';
    evbuffer_free(buf);
    return s;
}

/* Keeps what sql_status found, for STATUS_CACHE_SECONDS. */
static void
status_keep(PGresult *res)
{
    int n = PQntuples(res);

    if (n > STATUS_DAYS)
        n = STATUS_DAYS;
    for (size_t i = 0; i < sizeof(status_labels) / sizeof(status_labels[0]); i++)
        snprintf(status_cache.counts[i], sizeof(status_cache.counts[i]), "%s",
                 n > 0 ? PQgetvalue(res, 0, status_labels[i].column) : "0");
    for (int i = 0; i < n; i++) {
        snprintf(status_cache.days[i], sizeof(status_cache.days[i]), "%s", PQgetvalue(res, i, 0));
        status_cache.arrivals[i] = strtol(PQgetvalue(res, i, 1), NULL, 10);
    }
    status_cache.ndays = n;
    status_cache.at = time(NULL);
}

/* The status (what follows the sign-in form) in lang, from the cache. */
static void
status_render(struct evbuffer *out, const struct config *cfg, const char *lang)
{
    struct chart_bar bars[STATUS_DAYS];
    struct chart_words words;
    char *bridge =
        status_wrap("strong", "@", cfg->bridge_username, "@", cfg->host, (const char *)NULL);
    char *lookup = status_wrap("code", "@old_x_handle@", cfg->host, (const char *)NULL);
    char *relay = status_wrap("code", cfg->base_url, "/inbox", (const char *)NULL);

    evbuffer_add_printf(out, "<section id=\"status\"><p>");
    status_put(out, lang, "status.join", "bridge", bridge, "lookup", lookup, "relay", relay,
               (const char *)NULL);
    evbuffer_add_printf(out, "</p><dl>");
    for (size_t i = 0; i < sizeof(status_labels) / sizeof(status_labels[0]); i++) {
        evbuffer_add_printf(out, "<dt>");
        status_put(out, lang, status_labels[i].key, (const char *)NULL);
        evbuffer_add_printf(out, "</dt><dd id=\"%s\">", status_labels[i].id);
        chart_escape(out, status_cache.counts[i]);
        evbuffer_add(out, "</dd>", 5);
    }
    evbuffer_add_printf(out, "</dl><h2>");
    status_put(out, lang, "status.arrivals", (const char *)NULL);
    evbuffer_add_printf(out, "</h2><figure>");
    for (int i = 0; i < status_cache.ndays; i++) {
        bars[i].label = status_cache.days[i];
        bars[i].value = status_cache.arrivals[i];
    }
    words.title = texts_get(lang, "status.chart");
    words.desc = texts_get(lang, "status.chart_desc");
    words.max = texts_get(lang, "status.chart_max");
    chart_svg_bars(out, &words, bars, (size_t)status_cache.ndays);
    evbuffer_add_printf(out, "</figure></section><p>passerelle %s</p></main></body></html>\n",
                        PASSERELLE_VERSION);
    free(bridge);
    free(lookup);
    free(relay);
}

/* The page in the visitor's language: the sign-in form on top, the cached status below. */
static void
status_send(const struct config *cfg, struct evhttp_request *req)
{
    struct evbuffer *out = evbuffer_new();
    const char *lang = reply_req_lang(req);

    evbuffer_add_printf(out,
                        "<!doctype html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
                        "<meta name=\"viewport\" content=\"width=device-width\">"
                        "<title>",
                        lang);
    chart_escape(out, cfg->instance_name);
    evbuffer_add_printf(out, "</title><link rel=\"icon\" href=\"data:,\">"
                             "<link rel=\"stylesheet\" href=\"/link/assets/link.css\">"
                             "</head><body><main id=\"main\"><h1>");
    chart_escape(out, cfg->instance_name);
    evbuffer_add_printf(out, "</h1><p>");
    chart_escape(out, cfg->instance_description);
    evbuffer_add_printf(out, "</p>");
    signin_form(out, lang);
    status_render(out, cfg, lang);
    /*
     * The chart is inline SVG with presentation attributes only: no style or script needed.
     * The form's POST answers with a redirect to the person's own server, so form-action is
     * left open (Chromium applies it to the redirect too).
     */
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Security-Policy",
                      "default-src 'none'; img-src 'self' data:; style-src 'self'; "
                      "base-uri 'none'; frame-ancestors 'none'");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Vary", "Accept-Language");
    reply_send(req, 200, "text/html; charset=utf-8", (const char *)evbuffer_pullup(out, -1),
               evbuffer_get_length(out));
    evbuffer_free(out);
}

static void
status_counts_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct status_req *sr = arg;

    (void)err;
    if (outcome == DB_OK && PQresultStatus(res) == PGRES_TUPLES_OK) {
        status_keep(res);
        status_send(sr->app->cfg, sr->req);
    } else if (outcome == DB_UNAVAILABLE) {
        const char *lang = reply_req_lang(sr->req);
        struct evbuffer *out = evbuffer_new();

        evbuffer_add_printf(out, "<!doctype html><html lang=\"%s\"><title>", lang);
        status_put(out, lang, "status.unavailable_title", (const char *)NULL);
        evbuffer_add_printf(out, "</title><p>");
        status_put(out, lang, "status.unavailable", (const char *)NULL);
        evbuffer_add_printf(out, "</p>\n");
        reply_send(sr->req, 503, "text/html; charset=utf-8", (const char *)evbuffer_pullup(out, -1),
                   evbuffer_get_length(out));
        evbuffer_free(out);
    } else {
        reply_fail(sr->req, REPLY_ERR_INTERNAL, "status query failed");
    }
    PQclear(res);
    free(sr);
}

void
status_get(struct app *app, struct evhttp_request *req, const char *path)
{
    struct status_req *sr;
    time_t now = time(NULL);

    (void)path;
    if (status_cache.at != 0 && now >= status_cache.at &&
        now - status_cache.at < STATUS_CACHE_SECONDS && db_is_up(app->db)) {
        status_send(app->cfg, req);
        return;
    }
    sr = xcalloc(1, sizeof(*sr));
    sr->app = app;
    sr->req = req;
    db_query(app->db, sql_status, 0, NULL, status_counts_cb, sr);
}

void
status_shutdown(void)
{
    memset(&status_cache, 0, sizeof(status_cache));
}

/*
 * Without metrics_token, /metrics is for the machine itself: a loopback peer that no proxy
 * forwarded (nginx or Caddy in front connect from loopback too, but add a forwarding header).
 */
static int
status_metrics_local(struct evhttp_request *req)
{
    static const char *const forwarded[] = { "Forwarded", "X-Forwarded-For", "X-Real-IP" };
    enum netguard_class c;
    char addr[64];

    for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
        if (reply_req_header(req, forwarded[i]) != NULL)
            return 0;
    reply_req_peer(req, addr, sizeof(addr));
    return netguard_classify_str(addr, &c) == 0 && c == NETGUARD_LOOPBACK;
}

void
status_metrics(struct app *app, struct evhttp_request *req, const char *path)
{
    const char *token = app->cfg->metrics_token;
    struct evbuffer *out;
    size_t len;
    char *text;

    (void)path;
    if (*token != '\0') {
        const char *auth = reply_req_header(req, "Authorization");

        /* Constant-time comparison: the token is a secret. */
        if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != strlen(token) ||
            CRYPTO_memcmp(auth + 7, token, strlen(token)) != 0) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
            reply_fail(req, REPLY_ERR_UNAUTHORIZED, "metrics need a bearer token");
            return;
        }
    } else if (!status_metrics_local(req)) {
        reply_fail(req, REPLY_ERR_FORBIDDEN,
                   "metrics are served to this machine only: set metrics_token to open them");
        return;
    }
    metrics_set("passerelle_db_up", "", app->db != NULL && db_is_up(app->db) ? 1 : 0);
    metrics_set("passerelle_db_connections", "", app->db ? db_connections_up(app->db) : 0);
    metrics_set("passerelle_uptime_seconds", "", (double)(time(NULL) - app->started));
    out = evbuffer_new();
    metrics_render(out);
    len = evbuffer_get_length(out);
    text = xmalloc(len + 1);
    evbuffer_remove(out, text, len);
    evbuffer_free(out);
    reply_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}
