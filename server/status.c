/* GET /: a small public status page with counts from the database; GET /metrics for Prometheus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/crypto.h>

#include "app.h"
#include "config.h"
#include "db.h"
#include "httpd.h"
#include "metrics.h"
#include "status.h"
#include "xmalloc.h"

struct status_req {
    struct app *app;
    struct evhttp_request *req; /* answered exactly once, in status_counts_cb */
};

static void
status_html_escape(struct evbuffer *out, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            evbuffer_add(out, "&amp;", 5);
            break;
        case '<':
            evbuffer_add(out, "&lt;", 4);
            break;
        case '>':
            evbuffer_add(out, "&gt;", 4);
            break;
        case '"':
            evbuffer_add(out, "&quot;", 6);
            break;
        case '\'':
            evbuffer_add(out, "&#39;", 5);
            break;
        default:
            evbuffer_add(out, s, 1);
        }
    }
}

static void
status_page(struct status_req *sr, const char *members, const char *instances)
{
    const struct config *cfg = sr->app->cfg;
    struct evbuffer *out = evbuffer_new();
    size_t len;
    char *html;

    evbuffer_add_printf(out, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                             "<meta name=\"viewport\" content=\"width=device-width\">"
                             "<title>");
    status_html_escape(out, cfg->instance_name);
    evbuffer_add_printf(out, "</title></head><body><main><h1>");
    status_html_escape(out, cfg->instance_name);
    evbuffer_add_printf(out, "</h1><p>");
    status_html_escape(out, cfg->instance_description);
    evbuffer_add_printf(out, "</p><p>To join, follow <strong>@");
    status_html_escape(out, cfg->bridge_username);
    evbuffer_add_printf(out, "@");
    status_html_escape(out, cfg->host);
    evbuffer_add_printf(out, "</strong> from your fediverse account. Instance admins can add "
                             "<code>");
    status_html_escape(out, cfg->base_url);
    evbuffer_add_printf(out,
                        "/inbox</code> as a relay.</p><dl>"
                        "<dt>Members</dt><dd id=\"members\">%s</dd>"
                        "<dt>Subscribed instances</dt><dd id=\"instances\">%s</dd>"
                        "</dl><p>passerelle %s</p></main></body></html>\n",
                        members, instances, PASSERELLE_VERSION);
    len = evbuffer_get_length(out);
    html = xmalloc(len);
    evbuffer_remove(out, html, len);
    evbuffer_free(out);
    evhttp_add_header(evhttp_request_get_output_headers(sr->req), "Content-Security-Policy",
                      "default-src 'none'; style-src 'self'; img-src 'self'");
    httpd_reply(sr->req, 200, "text/html; charset=utf-8", html, len);
    free(html);
}

static void
status_counts_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct status_req *sr = arg;

    (void)err;
    if (outcome == DB_OK && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        status_page(sr, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    } else if (outcome == DB_UNAVAILABLE) {
        httpd_reply(sr->req, 503, "text/html; charset=utf-8",
                    "<!doctype html><title>Unavailable</title><p>The database is unavailable; "
                    "try again in a moment.</p>\n",
                    strlen("<!doctype html><title>Unavailable</title><p>The database is "
                           "unavailable; try again in a moment.</p>\n"));
    } else {
        httpd_fail(sr->req, HTTPD_ERR_INTERNAL, "status query failed");
    }
    PQclear(res);
    free(sr);
}

void
status_get(struct app *app, struct evhttp_request *req, const char *path)
{
    struct status_req *sr = xcalloc(1, sizeof(*sr));

    (void)path;
    sr->app = app;
    sr->req = req;
    db_query(app->db,
             "SELECT (SELECT count(*) FROM members),"
             " (SELECT count(*) FROM instances WHERE relay_state = 'accepted')",
             0, NULL, status_counts_cb, sr);
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
        const char *auth = httpd_header(req, "Authorization");

        /* Constant-time comparison: the token is a secret. */
        if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != strlen(token) ||
            CRYPTO_memcmp(auth + 7, token, strlen(token)) != 0) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
            httpd_fail(req, HTTPD_ERR_UNAUTHORIZED, "metrics need a bearer token");
            return;
        }
    }
    metrics_set("passerelle_db_up", "", app->db != NULL && db_is_up(app->db) ? 1 : 0);
    metrics_set("passerelle_db_connections", "", app->db ? db_connections_up(app->db) : 0);
    metrics_set("passerelle_http_in_flight", "", httpd_in_flight(app->httpd));
    metrics_set("passerelle_uptime_seconds", "", (double)(time(NULL) - app->started));
    out = evbuffer_new();
    metrics_render(out);
    len = evbuffer_get_length(out);
    text = xmalloc(len + 1);
    evbuffer_remove(out, text, len);
    evbuffer_free(out);
    httpd_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}
