/* Unit tests for server/core/texts.c: the catalogues agree, lookups, placeholders, the pick. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "texts.h"

/* One catalogue given as text, for texts_use. */
#define FILE_OF(code, text)                                                                        \
    {                                                                                              \
        code, (const unsigned char *)(text), sizeof(text) - 1                                      \
    }

static void
test_catalogues(void)
{
    char err[4096];
    size_t problems = texts_check(err, sizeof(err));
    /* The languages passerelle offers (README, Languages). */
    static const char *const offered[] = { "en", "fr", "de", "es", "it", "pt", "nl" };

    if (!is_int(problems, 0, "every catalogue: parsed, same keys and placeholders as English"))
        printf("#   %s\n", err);
    ok(texts_errors() == NULL, "no line refused");
    ok(texts_lang_known("en") != NULL, "English is there");
    ok(texts_lang_count() >= 2, "and at least one other language (%zu)", texts_lang_count());
    for (size_t i = 0; i < sizeof(offered) / sizeof(offered[0]); i++)
        is_str(texts_lang_known(offered[i]), offered[i], "%s has a catalogue", offered[i]);
    for (size_t i = 0; i < texts_lang_count(); i++) {
        const char *l = texts_lang_at(i);

        ok(texts_key_count(l) == texts_key_count("en"), "%s: %zu keys, English %zu", l,
           texts_key_count(l), texts_key_count("en"));
        is_str(texts_lang_known(l), l, "%s is known by its own code", l);
    }
}

static void
test_lookup(void)
{
    const char *key = "bridge.help";

    ok(strncmp(texts_get("en", key), "Commands, sent to me", 20) == 0, "English");
    ok(strncmp(texts_get("fr", key), "Commandes, à m'envoyer", 22) == 0, "French");
    ok(strncmp(texts_get("FR", key), "Commandes", 9) == 0, "the code in any case");
    is_str(texts_get("xx", key), texts_get("en", key), "an unknown language is English");
    is_str(texts_get(NULL, key), texts_get("en", key), "no language is English");
    ok(texts_get("fr", key + 6) == key + 6, "an unknown key is itself, the same pointer");
    ok(texts_find("xx", key) == NULL && texts_find("fr", "no.such.key") == NULL,
       "texts_find does not fall back");
    is_str(texts_lang_known("Fr"), "fr", "texts_lang_known gives the catalogue's code");
    ok(texts_lang_known("de-xx") == NULL && texts_lang_known(NULL) == NULL, "unknown: NULL");
}

static void
test_format(void)
{
    char *s;

    s = texts_format("en", "bridge.report_thanks", "handle", "al@a.example", NULL);
    is_str(s,
           "Thank you: your report about @al@a.example is recorded, and an admin will look at it.",
           "a placeholder replaced");
    free(s);
    s = texts_format_text("{a}-{b}-{a}-{c}", "a", "1", "b", NULL, NULL);
    is_str(s, "1--1-{c}", "every use replaced, NULL is empty, no pair left as it is");
    free(s);
    s = texts_format_text("x {a} y", "a", "{b} %s %n {a}", "b", "no", NULL);
    is_str(s, "x {b} %s %n {a} y", "values are copied, never read again as templates");
    free(s);
    s = texts_format_text("{} {A} { a} {a b} {{a}} {", "a", "1", NULL);
    is_str(s, "{} {A} { a} {a b} {1} {", "only {lowercase_name} is a placeholder");
    free(s);
    s = texts_format_text("", NULL);
    is_str(s, "", "an empty template");
    free(s);
}

static void
test_placeholder(void)
{
    const char *t = "a {one} {Two} {three_3}{";
    size_t n;
    const char *p = texts_placeholder(t, &n);

    ok(p == t + 3 && n == 3, "the first");
    p = texts_placeholder(p + n, &n);
    ok(p != NULL && strncmp(p, "three_3", n) == 0 && n == 7, "the next, {Two} is none");
    ok(texts_placeholder(p + n, &n) == NULL, "then none");
}

static void
test_pick(void)
{
    is_str(texts_lang_pick(NULL, NULL), "en", "nothing: English");
    is_str(texts_lang_pick(NULL, "fr"), "fr", "the member's choice");
    is_str(texts_lang_pick(NULL, "xx"), "en", "a choice without catalogue: English");
    is_str(texts_lang_pick("fr", "en"), "fr", "Accept-Language before the member's choice");
    is_str(texts_lang_pick("fr-CA", NULL), "fr", "a region: its primary language");
    is_str(texts_lang_pick("de-CH,de;q=0.9", NULL), "de", "German, from Switzerland");
    is_str(texts_lang_pick("es-419, en;q=0.5", NULL), "es", "Latin American Spanish");
    is_str(texts_lang_pick("it-IT,it;q=0.9,en;q=0.8", NULL), "it", "Italian");
    is_str(texts_lang_pick("pt-BR", NULL), "pt", "Brazilian Portuguese");
    is_str(texts_lang_pick("nl", "fr"), "nl", "Dutch, before the member's choice");
    is_str(texts_lang_pick("nl;q=0, de;q=0.1", NULL), "de", "q=0 refuses Dutch");
    is_str(texts_lang_pick("sv, fi", NULL), "en", "languages without a catalogue: English");
    is_str(texts_lang_pick(NULL, "pt"), "pt", "the member's choice of Portuguese");
    is_str(texts_lang_pick("FR_fr", NULL), "fr", "any case, an underscore");
    is_str(texts_lang_pick(" fr;q=0.9, en", NULL), "en", "q decides");
    is_str(texts_lang_pick("en;q=0.5, fr;q=0.8", NULL), "fr", "q decides, not the order");
    is_str(texts_lang_pick("fr;q=0.8,en;q=0.8", NULL), "fr", "a tie: the first");
    is_str(texts_lang_pick("xx, fr;q=0.2", NULL), "fr", "the first language with a catalogue");
    is_str(texts_lang_pick("xx, yy", "fr"), "fr", "none known: the member's choice");
    is_str(texts_lang_pick("fr;q=0", "en"), "en", "q=0 is never");
    is_str(texts_lang_pick("fr;q=0.000", NULL), "en", "q=0.000 is never");
    is_str(texts_lang_pick("fr;q=1.0, en;q=0.999", NULL), "fr", "q=1.0");
    is_str(texts_lang_pick("*", "fr"), "fr", "a star names no catalogue");
    is_str(texts_lang_pick("", "fr"), "fr", "an empty header");
    is_str(texts_lang_pick(",,;q=1, ;", NULL), "en", "only separators");
    is_str(texts_lang_pick("fr-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL), "en",
           "a tag too long to be one");
}

/* The check finds each kind of fault (a test of the test above). */
static void
test_check_fails(void)
{
    static const struct texts_file good[] = {
        FILE_OF("en", "# c\n a.b = Hello {name}\\n\\\\ \r\nc = x\n"),
        FILE_OF("fr", "a.b = Bonjour {name}\nc=y"),
    };
    static const struct texts_file bad[] = {
        FILE_OF("en", "a.b = Hello {name}\nc = x\nd = {x}\ne = {y}\nf = z\ng = {\n"),
        FILE_OF("fr", "a.b = Bonjour {nom}\nc = \nd = {x} {x}\ne = no\nextra = x\nA = b\nno equal\n"
                      "f = a\\tb\ng = {\n"),
    };
    static const struct texts_file no_en[] = { FILE_OF("fr", "a = b\n") };
    char err[2048];

    texts_use(good, 2);
    is_int(texts_check(err, sizeof(err)), 0, "a good pair: no problem");
    is_str(texts_get("en", "a.b"), "Hello {name}\n\\", "blanks around left out, escapes decoded");
    is_str(texts_get("fr", "c"), "y", "the last line without newline");
    texts_use(bad, 2);
    ok(texts_check(err, sizeof(err)) == 9, "a bad pair: 9 problems");
    printf("# %s\n", err);
    ok(strstr(err, "fr: a.b has {nom}, English has not") != NULL, "an unknown placeholder");
    ok(strstr(err, "fr: a.b lacks English's {name}") != NULL, "a placeholder left out");
    ok(strstr(err, "fr: c is empty") != NULL, "an empty text");
    ok(strstr(err, "fr: e lacks English's {y}") != NULL, "a placeholder not used");
    ok(strstr(err, "fr: extra is not an English key") != NULL, "a key English lacks");
    ok(strstr(err, "fr.txt:6: bad key") != NULL, "a bad key");
    ok(strstr(err, "fr.txt:7: no '='") != NULL, "a line without '='");
    ok(strstr(err, "fr.txt:8: unknown escape") != NULL && strstr(err, "fr: no f") != NULL,
       "an unknown escape, and the key it leaves missing");
    ok(strstr(err, "en: g has a '{' that is no {placeholder}") != NULL, "a stray brace");
    ok(strstr(err, "fr: d") == NULL, "a placeholder used twice is fine");
    texts_use(no_en, 1);
    ok(texts_check(err, sizeof(err)) == 1 && strstr(err, "no English") != NULL, "no English");
    is_str(texts_get("fr", "zz"), "zz", "without English, a missing key is itself");
    texts_use(NULL, 0);
    ok(texts_check(err, sizeof(err)) == 0 && texts_lang_known("en") != NULL,
       "the embedded catalogues again");
}

int
main(void)
{
    test_catalogues();
    test_lookup();
    test_format();
    test_placeholder();
    test_pick();
    test_check_fails();
    return done_testing();
}
