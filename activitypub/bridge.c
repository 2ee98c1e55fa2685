/* The bridge account's conversation with members: welcome link, commands by message, notices. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "activity.h"
#include "app.h"
#include "bridge.h"
#include "config.h"
#include "dbtx.h"
#include "htmltext.h"
#include "log.h"
#include "outbox.h"
#include "texts.h"
#include "token.h"
#include "xmalloc.h"

#define BRIDGE_CODE_BYTES 16
#define BRIDGE_CODE_HEX   (2 * BRIDGE_CODE_BYTES)
#define BRIDGE_TEXT_MAX   4096 /* a command's plain text; the rest of a long note is not read */
#define BRIDGE_ARG_MAX    600  /* a report's handle: reports.target allows 512 */

/* --- text and HTML ------------------------------------------------------------------------- */

/* Text built piece by piece in a memory stream: stdio grows it. */
struct bridge_buf {
    FILE *f;
    char *s;
    size_t len;
};

static void
bridge_buf_addn(struct bridge_buf *b, const char *s, size_t n)
{
    if (b->f == NULL) {
        b->f = open_memstream(&b->s, &b->len);
        if (b->f == NULL)
            abort(); /* out of memory, as in xmalloc */
    }
    fwrite(s, 1, n, b->f);
}

/* Ends the stream and returns the text, which stays in b->s for the caller to free. */
static const char *
bridge_buf_str(struct bridge_buf *b)
{
    if (b->f != NULL && fclose(b->f) != 0)
        abort(); /* the final flush only fails for want of memory */
    b->f = NULL;
    if (b->s == NULL)
        b->s = xstrdup("");
    return b->s;
}

static void
bridge_buf_add(struct bridge_buf *b, const char *s)
{
    bridge_buf_addn(b, s, strlen(s));
}

static void
bridge_buf_escape(struct bridge_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *e = htmltext_entity(s[i]);

        if (e != NULL)
            bridge_buf_add(b, e);
        else
            bridge_buf_addn(b, s + i, 1);
    }
}

/* Length of the http(s) URL starting at s, 0 if none; trailing punctuation is left out. */
static size_t
bridge_url_len(const char *s)
{
    size_t n;

    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
        return 0;
    n = strcspn(s, " \t\r\n<>\"'");
    while (n > 0 && strchr(".,;:!?)", s[n - 1]) != NULL)
        n--;
    return n;
}

/* Plain text as HTML paragraphs: blank lines part them, single newlines are <br>. */
static void
bridge_buf_text(struct bridge_buf *b, const char *text)
{
    const char *s = text;

    while (*s != '\0') {
        size_t url = bridge_url_len(s);

        if (url > 0) {
            bridge_buf_add(b, "<a href=\"");
            bridge_buf_escape(b, s, url);
            bridge_buf_add(b, "\" rel=\"nofollow noopener noreferrer\" target=\"_blank\">");
            bridge_buf_escape(b, s, url);
            bridge_buf_add(b, "</a>");
            s += url;
        } else if (*s == '\n' || *s == '\r') {
            int lines = 0;

            for (; *s == '\n' || *s == '\r'; s++)
                lines += *s == '\n';
            bridge_buf_add(b, lines > 1 ? "</p><p>" : "<br>");
        } else {
            bridge_buf_escape(b, s, 1);
            s++;
        }
    }
}

/* Direct addressing on the activity or its note: only the member, nobody in copy. */
static void
bridge_address(struct json_object *o, const char *actor)
{
    struct json_object *to = json_object_new_array();

    json_object_array_add(to, json_object_new_string(actor));
    json_object_object_add(o, "to", to);
    json_object_object_add(o, "cc", json_object_new_array());
}

struct json_object *
bridge_message_new(const char *base_url, const char *bridge_id, const char *actor, const char *acct,
                   const char *text)
{
    struct json_object *doc, *note = NULL, *tags, *mention;
    struct bridge_buf html = { 0 };
    char *name;
    size_t user_len;

    if (base_url == NULL || bridge_id == NULL || actor == NULL || acct == NULL || text == NULL)
        return NULL;
    /*
     * Built as a public note (ids on our host, published, attributedTo), then addressed to
     * the member alone: Mastodon shows a note whose only recipients are mentioned as direct.
     */
    doc = activity_note_new(base_url, bridge_id, bridge_id, "");
    if (doc == NULL || !json_object_object_get_ex(doc, "object", &note))
        abort(); /* every argument was checked above */
    bridge_address(doc, actor);
    bridge_address(note, actor);

    /* The mention first, the way Mastodon writes it, so clients show it as one. */
    user_len = strcspn(acct, "@");
    bridge_buf_add(&html, "<p><span class=\"h-card\"><a href=\"");
    bridge_buf_escape(&html, actor, strlen(actor));
    bridge_buf_add(&html, "\" class=\"u-url mention\">@<span>");
    bridge_buf_escape(&html, acct, user_len);
    bridge_buf_add(&html, "</span></a></span> ");
    bridge_buf_text(&html, text);
    bridge_buf_add(&html, "</p>");
    json_object_object_add(note, "content", json_object_new_string(bridge_buf_str(&html)));
    free(html.s);

    name = xasprintf("@%s", acct);
    mention = json_object_new_object();
    json_object_object_add(mention, "type", json_object_new_string("Mention"));
    json_object_object_add(mention, "href", json_object_new_string(actor));
    json_object_object_add(mention, "name", json_object_new_string(name));
    free(name);
    tags = json_object_new_array();
    json_object_array_add(tags, mention);
    json_object_object_add(note, "tag", tags);
    return doc;
}

/* --- commands ------------------------------------------------------------------------------ */

/* Each command's words are the catalogues' (bridge.command.*); name is only for the logs. */
static const struct {
    const char *key, *name;
    enum bridge_command cmd;
} bridge_commands[] = {
    { "bridge.command.help", "help", BRIDGE_CMD_HELP },
    { "bridge.command.link", "link", BRIDGE_CMD_LINK },
    { "bridge.command.status", "status", BRIDGE_CMD_STATUS },
    { "bridge.command.pause", "pause", BRIDGE_CMD_PAUSE },
    { "bridge.command.resume", "resume", BRIDGE_CMD_RESUME },
    { "bridge.command.delete", "delete", BRIDGE_CMD_DELETE },
    { "bridge.command.report", "report", BRIDGE_CMD_REPORT },
};

static const char *
bridge_command_name(enum bridge_command c)
{
    for (size_t i = 0; i < sizeof(bridge_commands) / sizeof(bridge_commands[0]); i++)
        if (bridge_commands[i].cmd == c)
            return bridge_commands[i].name;
    return "unknown";
}

/* 1 when the n bytes at s are one of words (a catalogue's text: words parted by blanks). */
static int
bridge_word_in(const char *words, const char *s, size_t n)
{
    while (words != NULL && *words != '\0') {
        size_t len = strcspn(words, " \t");

        if (len == n && strncasecmp(words, s, n) == 0)
            return 1;
        words += len;
        words += strspn(words, " \t");
    }
    return 0;
}

/* Length of the word at s once trailing punctuation ("help!", "status?") is left out. */
static size_t
bridge_word_len(const char *s)
{
    size_t n = strcspn(s, " \t\r\n");

    while (n > 0 && strchr(".,;:!?", s[n - 1]) != NULL)
        n--;
    return n;
}

static const char *
bridge_skip_blanks(const char *s)
{
    while (*s != '\0' && isspace((unsigned char)*s))
        s++;
    return s;
}

enum bridge_command
bridge_command_parse(const char *text, const char **lang, char *arg, size_t arglen)
{
    const char *s;
    size_t n;

    *lang = NULL;
    if (arglen > 0)
        arg[0] = '\0';
    if (text == NULL)
        return BRIDGE_CMD_UNKNOWN;
    s = bridge_skip_blanks(text);
    if (*s == '/' || *s == '!')
        s++; /* chat habits: "/help" */
    n = bridge_word_len(s);
    for (size_t i = 0; i < sizeof(bridge_commands) / sizeof(bridge_commands[0]); i++) {
        size_t langs = 0;

        /* The language is the word's when only one catalogue has it ("pause" is no one's). */
        for (size_t l = 0; l < texts_lang_count(); l++) {
            if (bridge_word_in(texts_find(texts_lang_at(l), bridge_commands[i].key), s, n)) {
                *lang = texts_lang_at(l);
                langs++;
            }
        }
        if (langs == 0)
            continue;
        if (langs > 1)
            *lang = NULL;
        if (bridge_commands[i].cmd == BRIDGE_CMD_REPORT && arglen > 0) {
            const char *a = bridge_skip_blanks(s + strcspn(s, " \t\r\n"));
            size_t alen = bridge_word_len(a);

            if (alen >= arglen)
                alen = arglen - 1;
            memcpy(arg, a, alen);
            arg[alen] = '\0';
        }
        return bridge_commands[i].cmd;
    }
    return BRIDGE_CMD_UNKNOWN;
}

int
bridge_handle_normalize(const char *handle, char *out, size_t outlen)
{
    const char *user, *host, *port;
    size_t ulen, hlen;

    if (handle == NULL)
        return -1;
    user = handle[0] == '@' ? handle + 1 : handle;
    host = strchr(user, '@');
    if (host == NULL)
        return -1;
    ulen = (size_t)(host - user);
    host++;
    hlen = strlen(host);
    if (ulen == 0 || ulen > 64 || hlen == 0 || hlen > 260 || ulen + 1 + hlen + 1 > outlen)
        return -1;
    for (size_t i = 0; i < ulen; i++)
        if (!isalnum((unsigned char)user[i]) && strchr("_.-", user[i]) == NULL)
            return -1;
    port = strchr(host, ':');
    if (port != NULL) {
        size_t plen = strlen(port + 1);

        if (plen == 0 || plen > 5 || strspn(port + 1, "0123456789") != plen)
            return -1;
        hlen = (size_t)(port - host);
    }
    if (hlen == 0 || hlen > 253 || host[0] == '.' || host[0] == '-' || host[hlen - 1] == '.' ||
        host[hlen - 1] == '-')
        return -1;
    for (size_t i = 0; i < hlen; i++) {
        if (!isalnum((unsigned char)host[i]) && host[i] != '.' && host[i] != '-')
            return -1;
        if (host[i] == '.' && host[i + 1] == '.')
            return -1;
    }
    memcpy(out, user, ulen);
    out[ulen] = '@';
    for (size_t i = 0; host[i] != '\0'; i++)
        out[ulen + 1 + i] = (char)tolower((unsigned char)host[i]);
    out[ulen + 1 + strlen(host)] = '\0';
    return 0;
}

/* --- messages -------------------------------------------------------------------------------- */

/* A direct message; an answer to what an actor of origin sent unless origin is NULL. */
static int
bridge_push_text(struct dbtx *tx, struct app *app, const char *actor, const char *acct,
                 const char *inbox, const char *text, const char *origin)
{
    struct json_object *msg;

    if (inbox == NULL || inbox[0] == '\0') {
        log_warn("bridge_notice_skipped", "actor=%s reason=no_inbox", log_q(actor));
        return 0;
    }
    msg = bridge_message_new(app->cfg->base_url, app->bridge_id, actor, acct, text);
    if (msg == NULL)
        return 0;
    if (origin == NULL) {
        outbox_push_one(tx, "bridge", msg, inbox);
        return 1;
    }
    return outbox_answer(tx, "bridge", msg, inbox, origin, app->cfg->queue_max_answers_per_host) ==
           0;
}

int
bridge_push_notice(struct dbtx *tx, struct app *app, const char *actor, const char *acct,
                   const char *inbox, const char *text)
{
    return bridge_push_text(tx, app, actor, acct, inbox, text, NULL);
}

static const char sql_codes_clear[] =
    "DELETE FROM link_codes WHERE member_id = $1::bigint AND used_at IS NULL";
static const char sql_code_insert[] =
    "INSERT INTO link_codes (hash, member_id, expires_at)"
    " VALUES ($1::bytea, $2::bigint, now() + $3::int * interval '1 second')";

/*
 * A new one-time link for the member, earlier unused ones cancelled so that only the last
 * message sent works, and the message that carries it: tmpl with {link} and {hours} filled.
 */
static int
bridge_push_link_tmpl(struct dbtx *tx, struct app *app, const char *member_id, const char *actor,
                      const char *acct, const char *inbox, const char *tmpl, const char *origin)
{
    char code[BRIDGE_CODE_HEX + 1], hash[67], ttl[16], hours[16];
    char *link, *text;
    int n;

    /* The code is the member's key to the page: no weaker source may stand in for it. */
    if (token_random_hex(BRIDGE_CODE_BYTES, code, sizeof(code)) < 0) {
        log_error("bridge_rand_failed", "reason=RAND_bytes");
        abort();
    }
    token_sha256_bytea(code, hash);
    snprintf(ttl, sizeof(ttl), "%d", BRIDGE_LINK_TTL_SECONDS);
    dbtx_push(tx, sql_codes_clear, NULL, NULL, 1, member_id);
    dbtx_push(tx, sql_code_insert, NULL, NULL, 3, hash, member_id, ttl);

    link = xasprintf("%s/link/%s", app->cfg->base_url, code);
    snprintf(hours, sizeof(hours), "%d", BRIDGE_LINK_TTL_SECONDS / 3600);
    text = texts_format_text(tmpl, "link", link, "hours", hours, NULL);
    n = bridge_push_text(tx, app, actor, acct, inbox, text, origin);
    OPENSSL_cleanse(text, strlen(text));
    OPENSSL_cleanse(link, strlen(link));
    OPENSSL_cleanse(code, sizeof(code));
    free(text);
    free(link);
    return n;
}

static int
bridge_push_link(struct dbtx *tx, struct app *app, const char *member_id, const char *actor,
                 const char *acct, const char *inbox, const char *lang, int welcome,
                 const char *origin)
{
    char *tmpl;
    int n;

    log_info("bridge_link_queued", "member=%s welcome=%d", member_id, welcome);
    /* The bridge account follows the newcomer (memberfollow.c): they are told why, once. */
    if (welcome && app->cfg->follow_members)
        tmpl = xasprintf("%s\n\n%s", texts_get(lang, "bridge.welcome"),
                         texts_get(lang, "bridge.follows_you"));
    else
        tmpl = xstrdup(texts_get(lang, welcome ? "bridge.welcome" : "bridge.new_link"));
    n = bridge_push_link_tmpl(tx, app, member_id, actor, acct, inbox, tmpl, origin);
    free(tmpl);
    return n;
}

int
bridge_push_link_text(struct dbtx *tx, struct app *app, const char *member_id, const char *actor,
                      const char *acct, const char *inbox, const char *tmpl)
{
    return bridge_push_link_tmpl(tx, app, member_id, actor, acct, inbox, tmpl, NULL);
}

int
bridge_push_welcome(struct dbtx *tx, struct app *app, const char *member_id, const char *actor,
                    const char *acct, const char *inbox, const char *lang, const char *origin)
{
    return bridge_push_link(tx, app, member_id, actor, acct, inbox, lang, 1, origin);
}

int
bridge_is_message(struct json_object *activity, const char *bridge_id)
{
    struct json_object *note, *type;
    struct json_object *holders[2];
    int to_bridge = 0;

    if (bridge_id == NULL || !json_object_object_get_ex(activity, "type", &type) ||
        !json_object_is_type(type, json_type_string) ||
        strcmp(json_object_get_string(type), "Create") != 0 ||
        !json_object_object_get_ex(activity, "object", &note) ||
        !json_object_object_get_ex(note, "type", &type) ||
        !json_object_is_type(type, json_type_string) ||
        strcmp(json_object_get_string(type), "Note") != 0)
        return 0;
    /* Servers address the Create and its note alike; a public mark on either one wins. */
    holders[0] = activity;
    holders[1] = note;
    for (int h = 0; h < 2; h++) {
        static const char *const fields[] = { "to", "cc", "bto", "bcc", "audience" };

        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            struct json_object *v;
            size_t n;

            if (!json_object_object_get_ex(holders[h], fields[f], &v))
                continue;
            n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 1;
            for (size_t i = 0; i < n; i++) {
                struct json_object *e =
                    json_object_is_type(v, json_type_array) ? json_object_array_get_idx(v, i) : v;
                const char *s = json_object_get_string(e);

                if (!json_object_is_type(e, json_type_string))
                    continue;
                if (activity_is_public(s))
                    return 0;
                if (f < 2 && strcmp(s, bridge_id) == 0)
                    to_bridge = 1;
            }
        }
    }
    return to_bridge;
}

/*
 * Counts the command in the member's window and returns, in one row whether or not the
 * actor is a member, the parsed command ($5, $6) beside the member's row: the reply is
 * decided from this result alone, with no state kept in memory across the statement (which
 * a rollback would strand).
 */
static const char sql_command[] =
    "WITH m AS (UPDATE members SET"
    "  commands_window_start = CASE WHEN commands_window_start IS NULL"
    "   OR commands_window_start <= now() - interval '1 hour'"
    "   THEN now() ELSE commands_window_start END,"
    "  commands_in_window = CASE WHEN commands_window_start IS NULL"
    "   OR commands_window_start <= now() - interval '1 hour'"
    "   THEN 1 ELSE least(commands_in_window + 1, $3::int + 2) END,"
    "  lang = coalesce($2::text, lang)"
    " WHERE actor_uri = $1"
    " RETURNING id, commands_in_window AS used, lang, acct, inbox, x_id, x_handle, state,"
    "  paused, findable, notify, autofollow, relay,"
    "  coalesce(delete_requested_at > now() - $7::int * interval '1 minute', false)"
    "   AS delete_pending,"
    "  CASE WHEN $4::boolean THEN (SELECT count(*) FROM x_edges e"
    "   WHERE e.followee_x_id = members.x_id AND e.member_id = members.id) END AS followers,"
    "  CASE WHEN $4::boolean THEN (SELECT count(*) FROM x_edges e"
    "   WHERE e.follower_x_id = members.x_id AND e.member_id = members.id) END AS following,"
    "  ceil(extract(epoch FROM commands_window_start + interval '1 hour' - now()) / 60)::int"
    "   AS minutes_left)"
    " SELECT $5::int AS command, $6::text AS arg, $2::text AS word_lang, m.*"
    " FROM (VALUES (1)) AS one LEFT JOIN m ON true";

static const char sql_pause[] =
    "UPDATE members SET paused = $2::boolean, match_due_at = now(), updated_at = now()"
    " WHERE id = $1::bigint";
static const char sql_delete_ask[] =
    "UPDATE members SET delete_requested_at = now(), updated_at = now() WHERE id = $1::bigint";
/* As when unfollowing: the rest cascades, the X edges go by trigger (migration 005). */
static const char sql_forget[] = "DELETE FROM members WHERE id = $1::bigint";
/* A report names a member by user@host; enough distinct reporters hold that member. */
static const char sql_report[] =
    "INSERT INTO reports (member_id, target, target_member_id) VALUES ($1::bigint, $2,"
    " (SELECT id FROM members WHERE lower(acct) = lower($2) ORDER BY id LIMIT 1))";
static const char sql_report_hold[] =
    "UPDATE members m SET reports_held_at = now(), match_due_at = now(), updated_at = now()"
    " WHERE m.id = (SELECT id FROM members WHERE lower(acct) = lower($1) ORDER BY id LIMIT 1)"
    "  AND m.reports_held_at IS NULL"
    "  AND (SELECT count(DISTINCT r.member_id) FROM reports r WHERE r.target_member_id = m.id"
    "   AND r.decided_at IS NULL AND r.member_id <> m.id) >= $2::int";

/* A column of the command's row; NULL when SQL NULL. */
static const char *
bridge_col(PGresult *res, const char *name)
{
    int c = PQfnumber(res, name);

    if (c < 0 || PQgetisnull(res, 0, c))
        return NULL;
    return PQgetvalue(res, 0, c);
}

static int
bridge_col_true(PGresult *res, const char *name)
{
    const char *v = bridge_col(res, name);

    return v != NULL && strcmp(v, "t") == 0;
}

static long
bridge_col_long(PGresult *res, const char *name)
{
    const char *v = bridge_col(res, name);

    return v != NULL ? strtol(v, NULL, 10) : 0;
}

/*
 * One line of the status: key's text with value ("?" when unknown) as its {value} (or {handle}
 * for the X account), after a newline unless it is the first.
 */
static void
bridge_status_line(struct bridge_buf *b, const char *lang, const char *key, const char *value)
{
    char *line = texts_format(lang, key, "handle", value != NULL ? value : "?", "value",
                              value != NULL ? value : "?", NULL);

    if (b->f != NULL)
        bridge_buf_add(b, "\n");
    bridge_buf_add(b, line);
    free(line);
}

static const char *
bridge_yes_no(const char *lang, PGresult *res, const char *column)
{
    return texts_get(lang, bridge_col_true(res, column) ? "bridge.yes" : "bridge.no");
}

static void
bridge_status_text(struct bridge_buf *b, PGresult *res, const char *lang)
{
    const char *handle = bridge_col(res, "x_handle");
    const char *state = bridge_col(res, "state");
    const char *state_word = state != NULL ? state : "";
    char key[64];

    if (handle != NULL) {
        bridge_status_line(b, lang, "bridge.status_x", handle);
    } else if (bridge_col(res, "x_id") != NULL) {
        bridge_status_line(b, lang, "bridge.status_x", bridge_col(res, "x_id"));
    } else {
        bridge_status_line(b, lang, "bridge.status_nothing", NULL);
    }
    /* A state without a text (one added to the schema later) shows as its own word. */
    snprintf(key, sizeof(key), "bridge.state.%s", state_word);
    if (texts_get(lang, key) != key)
        state_word = texts_get(lang, key);
    bridge_status_line(b, lang, "bridge.status_state", state_word);
    bridge_status_line(b, lang, "bridge.status_findable", bridge_yes_no(lang, res, "findable"));
    bridge_status_line(b, lang, "bridge.status_notify", bridge_yes_no(lang, res, "notify"));
    bridge_status_line(b, lang, "bridge.status_autofollow", bridge_yes_no(lang, res, "autofollow"));
    bridge_status_line(b, lang, "bridge.status_relay", bridge_yes_no(lang, res, "relay"));
    if (bridge_col(res, "x_id") != NULL) {
        bridge_status_line(b, lang, "bridge.status_followers", bridge_col(res, "followers"));
        bridge_status_line(b, lang, "bridge.status_following", bridge_col(res, "following"));
    }
    bridge_status_line(b, lang, "bridge.status_paused", bridge_yes_no(lang, res, "paused"));
}

/* Who answers and where, for one message. */
struct bridge_peer {
    struct dbtx *tx;
    struct app *app;
    const char *actor, *acct, *inbox, *member;
    const char *lang;   /* of the member, or of the word a non-member wrote */
    const char *origin; /* the sender's host: every reply is an answer */
};

static int
bridge_reply(const struct bridge_peer *p, const char *text)
{
    return bridge_push_text(p->tx, p->app, p->actor, p->acct, p->inbox, text, p->origin);
}

/* key's text in the peer's language, with up to two name, value pairs (NULL names end it). */
static void
bridge_reply_text(const struct bridge_peer *p, const char *key, const char *n1, const char *v1,
                  const char *n2, const char *v2)
{
    char *text = texts_format(p->lang, key, n1, v1, n2, v2, NULL);

    bridge_reply(p, text);
    free(text);
}

static void
bridge_run_command(const struct bridge_peer *p, enum bridge_command c, PGresult *res)
{
    const char *arg = bridge_col(res, "arg");
    char target[BRIDGE_ARG_MAX], threshold[16], minutes[16];
    struct bridge_buf text = { 0 };

    switch (c) {
    case BRIDGE_CMD_LINK:
        bridge_push_link(p->tx, p->app, p->member, p->actor, p->acct, p->inbox, p->lang, 0,
                         p->origin);
        break;
    case BRIDGE_CMD_STATUS:
        bridge_status_text(&text, res, p->lang);
        bridge_reply(p, bridge_buf_str(&text));
        free(text.s);
        break;
    case BRIDGE_CMD_PAUSE:
    case BRIDGE_CMD_RESUME:
        dbtx_push(p->tx, sql_pause, NULL, NULL, 2, p->member,
                  c == BRIDGE_CMD_PAUSE ? "true" : "false");
        bridge_reply_text(p, c == BRIDGE_CMD_PAUSE ? "bridge.paused" : "bridge.resumed", NULL, NULL,
                          NULL, NULL);
        break;
    case BRIDGE_CMD_DELETE:
        if (!bridge_col_true(res, "delete_pending")) {
            dbtx_push(p->tx, sql_delete_ask, NULL, NULL, 1, p->member);
            snprintf(minutes, sizeof(minutes), "%d", BRIDGE_DELETE_CONFIRM_MINUTES);
            bridge_reply_text(p, "bridge.delete_ask", "minutes", minutes, NULL, NULL);
            break;
        }
        dbtx_push(p->tx, sql_forget, NULL, NULL, 1, p->member);
        log_info("member_forgotten", "member=%s actor=%s source=message", p->member,
                 log_q(p->actor));
        bridge_reply_text(p, "bridge.forgotten", NULL, NULL, NULL, NULL);
        break;
    case BRIDGE_CMD_REPORT:
        if (arg == NULL || bridge_handle_normalize(arg, target, sizeof(target)) < 0) {
            bridge_reply_text(p, "bridge.report_usage", NULL, NULL, NULL, NULL);
            break;
        }
        snprintf(threshold, sizeof(threshold), "%d", p->app->cfg->report_hold_threshold);
        dbtx_push(p->tx, sql_report, NULL, NULL, 2, p->member, target);
        dbtx_push(p->tx, sql_report_hold, NULL, NULL, 2, target, threshold);
        log_info("member_report", "member=%s target=%s", p->member, log_q(target));
        bridge_reply_text(p, "bridge.report_thanks", "handle", target, NULL, NULL);
        break;
    case BRIDGE_CMD_HELP:
    case BRIDGE_CMD_UNKNOWN:
        bridge_reply_text(p, "bridge.help", NULL, NULL, NULL, NULL);
        break;
    }
}

/*
 * A message from someone who is not a member gets the help, which says how to join, at most
 * once a day per actor: a stranger's messages must not make the bridge a megaphone.
 */
static const char sql_stranger[] = "INSERT INTO stranger_replies AS s (actor_uri) VALUES ($1)"
                                   " ON CONFLICT (actor_uri) DO UPDATE SET replied_at = now()"
                                   "  WHERE s.replied_at <= now() - interval '1 day'"
                                   " RETURNING $2::text AS word_lang";

static int
bridge_stranger_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct activity_in *a = arg;
    struct bridge_peer p = {
        .tx = tx, .app = a->app, .actor = a->actor, .inbox = a->actor_inbox, .origin = a->domain
    };
    char acct[512], *bridge;

    if (PQntuples(res) != 1) {
        log_info("bridge_message_ignored", "actor=%s reason=helped_today", log_q(a->actor));
        return 0;
    }
    snprintf(acct, sizeof(acct), "%s@%s", a->actor_username, a->domain);
    p.acct = acct;
    p.lang = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
    bridge = xasprintf("%s@%s", a->app->cfg->bridge_username, a->app->cfg->host);
    bridge_reply_text(&p, "bridge.join_first", "bridge", bridge, "help",
                      texts_get(p.lang, "bridge.help"));
    free(bridge);
    return 0;
}

static int
bridge_command_cb(struct dbtx *tx, PGresult *res, void *arg)
{
    struct activity_in *a = arg;
    struct bridge_peer p = { .tx = tx, .app = a->app, .actor = a->actor, .origin = a->domain };
    enum bridge_command c;
    char acct[512];
    long used;

    if (PQntuples(res) != 1)
        return -1;
    c = (enum bridge_command)bridge_col_long(res, "command");
    snprintf(acct, sizeof(acct), "%s@%s", a->actor_username != NULL ? a->actor_username : "",
             a->domain);
    p.member = bridge_col(res, "id");
    p.acct = bridge_col(res, "acct") != NULL ? bridge_col(res, "acct") : acct;
    /* The actor document was just fetched to check the signature: its inbox is current. */
    p.inbox = a->actor_inbox != NULL ? a->actor_inbox : bridge_col(res, "inbox");
    if (p.member == NULL) {
        /* Another bot's automatic answer must not start an endless exchange of helps. */
        if (a->actor_type != NULL &&
            (strcmp(a->actor_type, "Service") == 0 || strcmp(a->actor_type, "Application") == 0)) {
            log_info("bridge_message_ignored", "actor=%s reason=bot_not_member", log_q(a->actor));
            return 0;
        }
        /* An actor that could not join (its name makes no acct) is not invited to. */
        if (!activity_username_ok(a->actor_username)) {
            log_info("bridge_message_ignored", "actor=%s reason=preferred_username",
                     log_q(a->actor));
            return 0;
        }
        dbtx_push(tx, sql_stranger, bridge_stranger_cb, a, 2, a->actor,
                  bridge_col(res, "word_lang"));
        log_info("bridge_command", "actor=%s member=- command=%s", log_q(a->actor),
                 bridge_command_name(c));
        return 0;
    }
    p.lang = bridge_col(res, "lang");
    used = bridge_col_long(res, "used");
    if (used > BRIDGE_COMMANDS_PER_HOUR) {
        char minutes[16], limit[16];

        log_info("bridge_rate_limited", "member=%s first=%d", p.member,
                 used == BRIDGE_COMMANDS_PER_HOUR + 1);
        /* One answer says so; after it, silence until the window ends. */
        if (used == BRIDGE_COMMANDS_PER_HOUR + 1) {
            snprintf(minutes, sizeof(minutes), "%ld", bridge_col_long(res, "minutes_left"));
            snprintf(limit, sizeof(limit), "%d", BRIDGE_COMMANDS_PER_HOUR);
            bridge_reply_text(&p, "bridge.too_many", "minutes", minutes, "limit", limit);
        }
        return 0;
    }
    log_info("bridge_command", "actor=%s member=%s command=%s", log_q(a->actor), p.member,
             bridge_command_name(c));
    bridge_run_command(&p, c, res);
    return 0;
}

/* The note's HTML: content, else the first entry of contentMap. */
static const char *
bridge_note_html(struct json_object *note)
{
    struct json_object *v;

    if (json_object_object_get_ex(note, "content", &v) && json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    if (json_object_object_get_ex(note, "contentMap", &v) &&
        json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, lang, val) {
            (void)lang;
            if (json_object_is_type(val, json_type_string))
                return json_object_get_string(val);
        }
    }
    return NULL;
}

int
bridge_push_message(struct dbtx *tx, struct activity_in *a)
{
    struct json_object *note = NULL, *by;
    const char *html, *lang;
    char text[BRIDGE_TEXT_MAX], arg[BRIDGE_ARG_MAX], cmd[16], limit[16], confirm[16];
    enum bridge_command c;

    if (!json_object_object_get_ex(a->json, "object", &note) ||
        !json_object_is_type(note, json_type_object))
        return 0;
    /* The signature proves who sent the Create; a note it claims someone else wrote is not theirs.
     */
    if (json_object_object_get_ex(note, "attributedTo", &by) &&
        json_object_is_type(by, json_type_string) &&
        strcmp(json_object_get_string(by), a->actor) != 0) {
        log_info("bridge_message_ignored", "actor=%s reason=attributed_to_other", log_q(a->actor));
        return 0;
    }
    html = bridge_note_html(note);
    if (html == NULL || htmltext_extract(html, strlen(html), text, sizeof(text)) < 0)
        text[0] = '\0'; /* refused (too large): answered with the help */
    c = bridge_command_parse(text, &lang, arg, sizeof(arg));
    snprintf(cmd, sizeof(cmd), "%d", (int)c);
    snprintf(limit, sizeof(limit), "%d", BRIDGE_COMMANDS_PER_HOUR);
    snprintf(confirm, sizeof(confirm), "%d", BRIDGE_DELETE_CONFIRM_MINUTES);
    dbtx_push(tx, sql_command, bridge_command_cb, a, 7, a->actor, lang, limit,
              c == BRIDGE_CMD_STATUS ? "true" : "false", cmd, arg, confirm);
    return 1;
}
