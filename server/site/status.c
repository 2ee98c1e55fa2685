/* GET /: the start page (the sign-in form) and public counts; GET /metrics for Prometheus. */
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

static struct {
    time_t at;
    char *html;
    size_t len;
} status_cache;

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

static void
status_count(struct evbuffer *out, const char *id, const char *label, const char *value)
{
    evbuffer_add_printf(out, "<dt>%s</dt><dd id=\"%s\">", label, id);
    chart_escape(out, value);
    evbuffer_add(out, "</dd>", 5);
}

/* Renders the status (what follows the sign-in form) from sql_status's rows into the cache. */
static void
status_render(const struct config *cfg, PGresult *res)
{
    static const char *const zero = "0";
    struct evbuffer *out = evbuffer_new();
    int n = PQntuples(res);
    struct chart_bar bars[STATUS_DAYS];

    evbuffer_add_printf(out, "<section id=\"status\"><p>To join, follow <strong>@");
    chart_escape(out, cfg->bridge_username);
    evbuffer_add_printf(out, "@");
    chart_escape(out, cfg->host);
    evbuffer_add_printf(out, "</strong> from your fediverse account. Anyone can look up "
                             "<code>@old_x_handle@");
    chart_escape(out, cfg->host);
    evbuffer_add_printf(out, "</code> to find where a member moved. Instance admins can add "
                             "<code>");
    chart_escape(out, cfg->base_url);
    evbuffer_add_printf(out, "/inbox</code> as a relay.</p><dl>");
    status_count(out, "members", "Members", n > 0 ? PQgetvalue(res, 0, 2) : zero);
    status_count(out, "linked", "Members who linked their X archive",
                 n > 0 ? PQgetvalue(res, 0, 3) : zero);
    status_count(out, "instances", "Subscribed instances", n > 0 ? PQgetvalue(res, 0, 4) : zero);
    status_count(out, "follows", "Follows made", n > 0 ? PQgetvalue(res, 0, 5) : zero);
    status_count(out, "contacts", "Former contacts found", n > 0 ? PQgetvalue(res, 0, 6) : zero);
    evbuffer_add_printf(out, "</dl><h2>Arrivals per day</h2><figure>");
    if (n > STATUS_DAYS)
        n = STATUS_DAYS;
    for (int i = 0; i < n; i++) {
        bars[i].label = PQgetvalue(res, i, 0);
        bars[i].value = strtol(PQgetvalue(res, i, 1), NULL, 10);
    }
    chart_svg_bars(out, "Members who joined each day, last 30 days (UTC)", bars, (size_t)n);
    evbuffer_add_printf(out, "</figure></section><p>passerelle %s</p></main></body></html>\n",
                        PASSERELLE_VERSION);
    free(status_cache.html);
    status_cache.len = evbuffer_get_length(out);
    status_cache.html = xmalloc(status_cache.len);
    evbuffer_remove(out, status_cache.html, status_cache.len);
    status_cache.at = time(NULL);
    evbuffer_free(out);
}

/* The page: the sign-in form in the visitor's language on top, the cached status below. */
static void
status_send(const struct config *cfg, struct evhttp_request *req)
{
    struct evbuffer *out = evbuffer_new();

    evbuffer_add_printf(out, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                             "<meta name=\"viewport\" content=\"width=device-width\">"
                             "<title>");
    chart_escape(out, cfg->instance_name);
    evbuffer_add_printf(out, "</title><link rel=\"icon\" href=\"data:,\">"
                             "<link rel=\"stylesheet\" href=\"/link/assets/link.css\">"
                             "</head><body><main id=\"main\"><h1>");
    chart_escape(out, cfg->instance_name);
    evbuffer_add_printf(out, "</h1><p>");
    chart_escape(out, cfg->instance_description);
    evbuffer_add_printf(out, "</p>");
    signin_form(out, reply_req_lang(req));
    evbuffer_add(out, status_cache.html, status_cache.len);
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
    static const char unavailable[] = "<!doctype html><title>Unavailable</title><p>The database "
                                      "is unavailable; try again in a moment.</p>\n";
    struct status_req *sr = arg;

    (void)err;
    if (outcome == DB_OK && PQresultStatus(res) == PGRES_TUPLES_OK) {
        status_render(sr->app->cfg, res);
        status_send(sr->app->cfg, sr->req);
    } else if (outcome == DB_UNAVAILABLE) {
        reply_send(sr->req, 503, "text/html; charset=utf-8", unavailable, strlen(unavailable));
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
    if (status_cache.html != NULL && now >= status_cache.at &&
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
    free(status_cache.html);
    status_cache.html = NULL;
    status_cache.len = 0;
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
