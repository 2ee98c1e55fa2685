/* Unit tests for activitypub/bridge.c: what is a message, the message built, command words. */
#include <string.h>

#include <json-c/json.h>

#include "bridge.h"
#include "dispatch.h"
#include "tap.h"
#include "texts.h"

#define BASE   "https://bridge.example"
#define BRIDGE BASE "/users/passerelle"
#define RELAY  BASE "/actor"
#define ACTOR  "https://masto.example/users/alice"
#define PUB    "https://www.w3.org/ns/activitystreams#Public"

static int
is_message(const char *json)
{
    struct json_object *o = json_tokener_parse(json);
    int r;

    if (o == NULL)
        return -1;
    r = bridge_is_message(o, BRIDGE);
    json_object_put(o);
    return r;
}

static void
test_is_message(void)
{
    is_int(is_message("{\"type\":\"Create\",\"to\":[\"" BRIDGE "\"],\"object\":{\"type\":\"Note\","
                      "\"to\":[\"" BRIDGE "\"],\"content\":\"help\"}}"),
           1, "a Create{Note} to the bridge");
    is_int(is_message("{\"type\":\"Create\",\"to\":\"" BRIDGE "\",\"object\":{\"type\":\"Note\"}}"),
           1, "to as a string on the Create");
    is_int(is_message("{\"type\":\"Create\",\"object\":{\"type\":\"Note\",\"cc\":\"" BRIDGE "\"}}"),
           1, "cc as a string on the Note only");
    is_int(is_message("{\"type\":\"Create\",\"to\":[\"" BRIDGE "\",\"" PUB "\"],\"object\":{"
                      "\"type\":\"Note\"}}"),
           0, "public and to the bridge: not a message");
    is_int(is_message("{\"type\":\"Create\",\"to\":[\"" BRIDGE "\"],\"object\":{\"type\":\"Note\","
                      "\"cc\":[\"as:Public\"]}}"),
           0, "public on the note (compact form) wins");
    is_int(is_message("{\"type\":\"Create\",\"to\":[\"" PUB "\"],\"cc\":[\"" BRIDGE "\"],"
                      "\"object\":{\"type\":\"Note\"}}"),
           0, "a public mention of the bridge is not a message");
    is_int(
        is_message("{\"type\":\"Create\",\"to\":[\"" ACTOR "\"],\"object\":{\"type\":\"Note\"}}"),
        0, "a message to someone else");
    is_int(
        is_message("{\"type\":\"Create\",\"bto\":[\"" BRIDGE "\"],\"object\":{\"type\":\"Note\"}}"),
        0, "bto alone is not an address we read");
    is_int(is_message("{\"type\":\"Create\",\"to\":[\"" BRIDGE
                      "\"],\"object\":{\"type\":\"Article\"}}"),
           0, "not a Note");
    is_int(
        is_message("{\"type\":\"Update\",\"to\":[\"" BRIDGE "\"],\"object\":{\"type\":\"Note\"}}"),
        0, "an Update is not a command");
    is_int(is_message("{\"type\":\"Create\",\"to\":[\"" BRIDGE "\"],\"object\":\"https://x/1\"}"),
           0, "an object by reference is not read");
    is_int(
        is_message("{\"type\":\"Create\",\"to\":[\"" BRIDGE "x\"],\"object\":{\"type\":\"Note\"}}"),
        0, "a longer id is someone else");
    is_int(is_message("{\"type\":\"Create\",\"to\":[1,null,{}],\"object\":{\"type\":\"Note\"}}"), 0,
           "non-string addresses are skipped");
    is_int(is_message("{\"to\":[\"" BRIDGE "\"],\"object\":{\"type\":\"Note\"}}"), 0, "no type");
}

static void
test_classify(void)
{
    struct json_object *o = json_tokener_parse(
        "{\"type\":\"Create\",\"actor\":\"" ACTOR "\",\"to\":[\"" BRIDGE "\"],"
        "\"object\":{\"type\":\"Note\",\"to\":[\"" BRIDGE "\"],\"content\":\"help\"}}");
    struct json_object *p = json_tokener_parse("{\"type\":\"Create\",\"actor\":\"" ACTOR
                                               "\",\"to\":[\"" PUB "\"],\"cc\":[\"" BRIDGE "\"],"
                                               "\"object\":{\"type\":\"Note\"}}");

    is_int(dispatch_classify(o, "Create", ACTOR, RELAY, BRIDGE), DISPATCH_MESSAGE,
           "relay: a direct message to the bridge is DISPATCH_MESSAGE");
    is_int(dispatch_classify(p, "Create", ACTOR, RELAY, BRIDGE), DISPATCH_PUBLICATION,
           "relay: a public note stays a publication");
    json_object_put(o);
    json_object_put(p);
}

static const char *
field(struct json_object *o, const char *name)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
        return "(none)";
    return json_object_get_string(v);
}

/* 1 when the field is an array holding exactly the given string (NULL: empty array). */
static int
only(struct json_object *o, const char *name, const char *value)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_array))
        return 0;
    if (value == NULL)
        return json_object_array_length(v) == 0;
    return json_object_array_length(v) == 1 &&
           strcmp(json_object_get_string(json_object_array_get_idx(v, 0)), value) == 0;
}

static void
test_message_new(void)
{
    struct json_object *m = bridge_message_new(
        BASE, BRIDGE, ACTOR, "alice@masto.example",
        "Open <this> & \"that\":\nhttps://bridge.example/link/ab?x=1&y=2.\n\nThen 'help'.");
    struct json_object *note = NULL, *tags = NULL, *tag;
    const char *content;

    ok(m != NULL, "a message is built");
    is_str(field(m, "@context"), "https://www.w3.org/ns/activitystreams", "@context");
    is_str(field(m, "type"), "Create", "a Create");
    is_str(field(m, "actor"), BRIDGE, "from the bridge");
    ok(strncmp(field(m, "id"), BASE "/activities/", strlen(BASE "/activities/")) == 0,
       "id on our host");
    ok(only(m, "to", ACTOR), "to: the member only");
    ok(only(m, "cc", NULL), "cc: empty");
    ok(strcmp(field(m, "published"), "(none)") != 0, "published");
    json_object_object_get_ex(m, "object", &note);
    is_str(field(note, "type"), "Note", "a Note");
    ok(strncmp(field(note, "id"), BASE "/activities/", strlen(BASE "/activities/")) == 0 &&
           strcmp(field(note, "id"), field(m, "id")) != 0,
       "note id on our host, not the activity's");
    is_str(field(note, "attributedTo"), BRIDGE, "attributedTo the bridge");
    ok(only(note, "to", ACTOR), "note to: the member only");
    ok(only(note, "cc", NULL), "note cc: empty");
    is_str(field(note, "published"), field(m, "published"), "same published");
    json_object_object_get_ex(note, "tag", &tags);
    ok(json_object_is_type(tags, json_type_array) && json_object_array_length(tags) == 1,
       "one tag");
    tag = json_object_array_get_idx(tags, 0);
    is_str(field(tag, "type"), "Mention", "a Mention");
    is_str(field(tag, "href"), ACTOR, "of the member");
    is_str(field(tag, "name"), "@alice@masto.example", "named @acct");
    content = field(note, "content");
    is_str(content,
           "<p><span class=\"h-card\"><a href=\"" ACTOR "\" class=\"u-url mention\">@<span>alice"
           "</span></a></span> Open &lt;this&gt; &amp; &quot;that&quot;:<br><a href=\""
           "https://bridge.example/link/ab?x=1&amp;y=2\" rel=\"nofollow noopener noreferrer\" "
           "target=\"_blank\">https://bridge.example/link/ab?x=1&amp;y=2</a>.</p><p>Then "
           "&#39;help&#39;.</p>",
           "content: mention first, escaped text, linked URL, paragraphs");
    json_object_put(m);

    ok(bridge_message_new(BASE, BRIDGE, ACTOR, NULL, "x") == NULL, "NULL acct");
    ok(bridge_message_new(BASE, BRIDGE, NULL, "a@b", "x") == NULL, "NULL actor");
    ok(bridge_message_new(BASE, BRIDGE, ACTOR, "a@b", NULL) == NULL, "NULL text");

    m = bridge_message_new(BASE, BRIDGE, "https://x.example/\"><script>", "<b>@x", "hi");
    json_object_object_get_ex(m, "object", &note);
    content = field(note, "content");
    ok(strstr(content, "<script>") == NULL && strstr(content, "<b>") == NULL,
       "a hostile actor id and acct are escaped");
    json_object_put(m);
}

static enum bridge_command
parse(const char *text, const char **lang, char *arg, size_t arglen)
{
    return bridge_command_parse(text, lang, arg, arglen);
}

static void
test_commands(void)
{
    static const struct {
        const char *text;
        enum bridge_command cmd;
        const char *lang;
    } cases[] = {
        { "help", BRIDGE_CMD_HELP, "en" },
        { "  HELP  ", BRIDGE_CMD_HELP, "en" },
        { "Aide", BRIDGE_CMD_HELP, "fr" },
        { "help!", BRIDGE_CMD_HELP, "en" },
        { "/help", BRIDGE_CMD_HELP, "en" },
        /* "link" and "status" are also German, Italian, Portuguese or Dutch: no language. */
        { "link", BRIDGE_CMD_LINK, NULL },
        { "lien", BRIDGE_CMD_LINK, "fr" },
        { "enlace", BRIDGE_CMD_LINK, "es" },
        { "status?", BRIDGE_CMD_STATUS, NULL },
        { "statut", BRIDGE_CMD_STATUS, "fr" },
        { "stato", BRIDGE_CMD_STATUS, "it" },
        { "estado", BRIDGE_CMD_STATUS, NULL },
        { "hilfe", BRIDGE_CMD_HELP, "de" },
        { "ayuda", BRIDGE_CMD_HELP, "es" },
        { "Aiuto", BRIDGE_CMD_HELP, "it" },
        { "ajuda", BRIDGE_CMD_HELP, "pt" },
        { "hulp", BRIDGE_CMD_HELP, "nl" },
        { "pausa", BRIDGE_CMD_PAUSE, NULL },
        { "pauze", BRIDGE_CMD_PAUSE, "nl" },
        { "weiter", BRIDGE_CMD_RESUME, "de" },
        { "reanudar", BRIDGE_CMD_RESUME, "es" },
        { "riprendi", BRIDGE_CMD_RESUME, "it" },
        { "retomar", BRIDGE_CMD_RESUME, "pt" },
        { "hervatten", BRIDGE_CMD_RESUME, "nl" },
        { "löschen", BRIDGE_CMD_DELETE, "de" },
        { "Loeschen", BRIDGE_CMD_DELETE, "de" },
        { "borrar", BRIDGE_CMD_DELETE, "es" },
        { "elimina", BRIDGE_CMD_DELETE, "it" },
        { "apagar", BRIDGE_CMD_DELETE, "pt" },
        { "verwijderen", BRIDGE_CMD_DELETE, "nl" },
        { "melden @a@b.example", BRIDGE_CMD_REPORT, NULL },
        { "segnala @a@b.example", BRIDGE_CMD_REPORT, "it" },
        { "denunciar @a@b.example", BRIDGE_CMD_REPORT, NULL },
        { "pause", BRIDGE_CMD_PAUSE, NULL },
        { "resume", BRIDGE_CMD_RESUME, "en" },
        { "reprendre", BRIDGE_CMD_RESUME, "fr" },
        { "delete", BRIDGE_CMD_DELETE, "en" },
        { "supprimer", BRIDGE_CMD_DELETE, "fr" },
        { "report @a@b.example", BRIDGE_CMD_REPORT, "en" },
        { "signaler @a@b.example", BRIDGE_CMD_REPORT, "fr" },
        { "help me please", BRIDGE_CMD_HELP, "en" },
        { "helpful", BRIDGE_CMD_UNKNOWN, NULL },
        { "hel", BRIDGE_CMD_UNKNOWN, NULL },
        { "", BRIDGE_CMD_UNKNOWN, NULL },
        { "bonjour", BRIDGE_CMD_UNKNOWN, NULL },
        { "please help", BRIDGE_CMD_UNKNOWN, NULL },
    };
    const char *lang;
    char arg[32];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum bridge_command c = parse(cases[i].text, &lang, arg, sizeof(arg));

        ok(c == cases[i].cmd &&
               (cases[i].lang == NULL ? lang == NULL
                                      : lang != NULL && !strcmp(lang, cases[i].lang)),
           "\"%s\" is command %d (%s)", cases[i].text, (int)cases[i].cmd,
           cases[i].lang ? cases[i].lang : "no language");
    }
    is_int(parse(NULL, &lang, arg, sizeof(arg)), BRIDGE_CMD_UNKNOWN, "NULL text");
    is_int(parse("status\nand more", &lang, arg, sizeof(arg)), BRIDGE_CMD_STATUS,
           "a word ends at a newline");

    parse("report   @Bob@Host.example.  thanks", &lang, arg, sizeof(arg));
    is_str(arg, "@Bob@Host.example", "the report's handle, trailing dot left out");
    parse("report", &lang, arg, sizeof(arg));
    is_str(arg, "", "a report without a handle");
    parse("help @x@y", &lang, arg, sizeof(arg));
    is_str(arg, "", "only a report takes an argument");
    parse("report @averyveryverylonghandle@host.example", &lang, arg, 8);
    is_str(arg, "@averyv", "the argument is cut to its buffer");
}

/*
 * Every catalogue's command words come back as their command, with their language unless
 * another language has the same word for it: no word of one language names another command
 * in another.
 */
static void
test_command_words(void)
{
    static const struct {
        const char *key;
        enum bridge_command cmd;
    } keys[] = {
        { "bridge.command.help", BRIDGE_CMD_HELP },
        { "bridge.command.link", BRIDGE_CMD_LINK },
        { "bridge.command.status", BRIDGE_CMD_STATUS },
        { "bridge.command.pause", BRIDGE_CMD_PAUSE },
        { "bridge.command.resume", BRIDGE_CMD_RESUME },
        { "bridge.command.delete", BRIDGE_CMD_DELETE },
        { "bridge.command.report", BRIDGE_CMD_REPORT },
    };
    size_t wrong = 0, words = 0;

    for (size_t l = 0; l < texts_lang_count(); l++) {
        const char *code = texts_lang_at(l);

        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            const char *w = texts_find(code, keys[k].key);

            while (w != NULL && *w != '\0') {
                char word[64];
                size_t n = strcspn(w, " \t");
                const char *lang;
                char arg[8];

                snprintf(word, sizeof(word), "%.*s", (int)n, w);
                words++;
                if (parse(word, &lang, arg, sizeof(arg)) != keys[k].cmd ||
                    (lang != NULL && strcmp(lang, code) != 0)) {
                    wrong++;
                    printf("# %s: \"%s\" is not %s\n", code, word, keys[k].key);
                }
                w += n;
                w += strspn(w, " \t");
            }
        }
    }
    ok(words >= 7 * texts_lang_count(), "every language has its command words (%zu)", words);
    is_int(wrong, 0, "each word is its command, in its language");
}

static void
test_handles(void)
{
    static const struct {
        const char *in, *out;
    } good[] = {
        { "@bob@example.com", "bob@example.com" },
        { "bob@Example.COM", "bob@example.com" },
        { "@Bob_1.x-y@m.example:8443", "Bob_1.x-y@m.example:8443" },
        { "@a@127.0.0.1:3000", "a@127.0.0.1:3000" },
        { "@a@localhost", "a@localhost" },
    };
    static const char *const bad[] = {
        "",
        "@",
        "bob",
        "@bob",
        "@bob@",
        "@@host.example",
        "@bob@host@x",
        "@b b@host.example",
        "@bob@.host",
        "@bob@host.",
        "@bob@-host",
        "@bob@ho..st",
        "@bob@host:",
        "@bob@host:123456",
        "@bob@host:8a",
        "@bob@hö.example",
        "@<script>@x.example",
        "@bob@host/path",
    };
    char out[64];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int r = bridge_handle_normalize(good[i].in, out, sizeof(out));

        ok(r == 0 && strcmp(out, good[i].out) == 0, "handle \"%s\" is \"%s\"", good[i].in,
           good[i].out);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        is_int(bridge_handle_normalize(bad[i], out, sizeof(out)), -1, "handle \"%s\" is refused",
               bad[i]);
    is_int(bridge_handle_normalize(NULL, out, sizeof(out)), -1, "NULL");
    is_int(bridge_handle_normalize("@bob@example.com", out, 15), -1, "too long for out");
    is_int(bridge_handle_normalize("@bob@example.com", out, 16), 0, "exactly fits");
}

int
main(void)
{
    test_is_message();
    test_classify();
    test_message_new();
    test_commands();
    test_command_words();
    test_handles();
    return done_testing();
}
