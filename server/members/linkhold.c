/* POST /link/archive from its head: the session is looked up before a byte of the body is read. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "config.h"
#include "connguard.h"
#include "db.h"
#include "linkhold.h"
#include "linkpage.h"
#include "log.h"
#include "texts.h"
#include "token.h"
#include "xmalloc.h"

static const char sql_session[] =
    "SELECT member_id FROM sessions WHERE hash = $1::bytea AND expires_at > now()";

/* One lookup; owns only itself. */
struct linkhold {
    struct app *app;
    struct connguard_hold *hold;
    const char *lang; /* a catalogue's code: lives as long as the program */
};

/* Answers the held upload with status and o ({"error": ...}), which it puts. */
static void
linkhold_refuse(struct connguard_hold *hold, int status, struct json_object *o, const char *why)
{
    log_info("link_archive_refused", "reason=%s when=head", why);
    connguard_release(hold, status, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

static struct json_object *
linkhold_error(const char *lang, const char *key)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "error", json_object_new_string(texts_get(lang, key)));
    return o;
}

static void
linkhold_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct linkhold *l = arg;

    (void)err;
    if (outcome != DB_OK)
        linkhold_refuse(l->hold, 503, linkhold_error(l->lang, "page.db_unavailable"),
                        "db_unavailable");
    else if (PQntuples(res) != 1)
        linkhold_refuse(l->hold, 401, linkpage_expired_json(l->app, l->lang), "no_session");
    else
        connguard_release(l->hold, 0, NULL); /* the body may come now */
    PQclear(res);
    free(l);
}

void
linkhold_check(void *arg, struct connguard_hold *hold, const char *headers, size_t len)
{
    struct app *app = arg;
    struct linkhold *l;
    char value[2048], token[65], csrf[65], hash[67];
    const char *params[1] = { hash };
    const char *lang;

    lang = texts_lang_pick(
        connguard_head_header(headers, len, "Accept-Language", value, sizeof(value)) == 0 ? value
                                                                                          : NULL,
        NULL);
    if (connguard_head_header(headers, len, "Cookie", value, sizeof(value)) < 0 ||
        linkpage_cookie(value, linkpage_cookie_name(app->cfg), token, sizeof(token)) < 0 ||
        !token_is_hex(token, 64)) {
        linkhold_refuse(hold, 401, linkpage_expired_json(app, lang), "no_session");
        return;
    }
    linkpage_csrf(token, csrf);
    if (connguard_head_header(headers, len, "X-CSRF-Token", value, sizeof(value)) < 0 ||
        !token_equal(value, csrf)) {
        linkhold_refuse(hold, 403, linkhold_error(lang, "linkpage.csrf"), "csrf");
        return;
    }
    l = xcalloc(1, sizeof(*l));
    l->app = app;
    l->hold = hold;
    l->lang = lang;
    token_sha256_bytea(token, hash);
    db_query(app->db, sql_session, 1, params, linkhold_cb, l);
}
