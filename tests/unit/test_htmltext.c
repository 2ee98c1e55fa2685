/* Unit tests for activitypub/htmltext.c: the text of notes as fediverse servers write them. */
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "htmltext.h"
#include "tap.h"

static char out[4096];

static const char *
text(const char *html)
{
    if (htmltext_extract(html, strlen(html), out, sizeof(out)) < 0)
        return "(refused)";
    return out;
}

static void
test_servers(void)
{
    /* Mastodon 4.x, a direct message to the bridge. */
    is_str(text("<p><span class=\"h-card\" translate=\"no\"><a "
                "href=\"https://bridge.example/users/passerelle\" class=\"u-url mention\">@<span>"
                "passerelle</span></a></span> help</p>"),
           "help", "Mastodon: the leading mention is dropped");
    /* Pleroma / Akkoma. */
    is_str(text("<span class=\"h-card\"><a class=\"u-url mention\" "
                "data-user=\"AbCd\" href=\"https://bridge.example/users/passerelle\" "
                "rel=\"ugc\">@<span>passerelle</span></a></span> status"),
           "status", "Pleroma: no paragraph, mention dropped");
    /* Misskey: the mention's text carries the host, no class. */
    is_str(text("<p><a href=\"https://bridge.example/@passerelle\">@passerelle@bridge.example</a>"
                "<span> LINK</span></p>"),
           "LINK", "Misskey: @-text link dropped, case kept");
    /* GoToSocial. */
    is_str(text("<p><span class=\"h-card\"><a href=\"https://bridge.example/@passerelle\" "
                "class=\"mention\">@<span>passerelle</span></a></span> aide</p>"),
           "aide", "GoToSocial: class mention alone");
    /* Fedify's peer and plain clients: no markup at all. */
    is_str(text("pause"), "pause", "plain text without markup");
    is_str(text("@passerelle@bridge.example help"), "@passerelle@bridge.example help",
           "a mention that is not a link stays (nothing says it is one)");
}

static void
test_structure(void)
{
    is_str(text("<p>one</p><p>two</p>"), "one\ntwo", "</p> is a newline");
    is_str(text("<p>a<br>b<br/>c</p>"), "a\nb\nc", "<br> is a newline");
    is_str(text("<p>a</p><p></p><p></p><p></p><p>b</p>"), "a\n\nb",
           "empty paragraphs give at most one blank line");
    is_str(text("  <p>   spaced \t\n  out   </p>  "), "spaced out", "blanks collapse and trim");
    is_str(text("<div><p><span><b><i>deep</i></b></span></p></div>"), "deep", "nested tags");
    is_str(text("<p>x<script>alert(1)</script>y<style>p{}</style>z</p>"), "xyz",
           "script and style are skipped");
    is_str(text("<ul><li>one</li><li>two</li></ul>"), "one\ntwo", "list items are lines");
    is_str(text("<p>hello <a href=\"https://e.example/x\">a link</a></p>"), "hello a link",
           "ordinary links keep their text");
}

static void
test_entities(void)
{
    is_str(text("<p>&lt;b&gt; &amp; &quot;q&quot; &#39;s&#39; &eacute;t&eacute;</p>"),
           "<b> & \"q\" 's' été", "named and numeric entities");
    is_str(text("<p>caf&#xe9; &#128512;</p>"), "café \xF0\x9F\x98\x80", "hex and astral");
    is_str(text("<p>a&nbsp;b\xC2\xA0"
                "c</p>"),
           "a b c", "no-break spaces are blanks");
    is_str(text("<p>@passerelle&nbsp;help</p>"), "@passerelle help", "text is not a link");
}

static void
test_mentions(void)
{
    is_str(text("<p><span class=\"h-card\"><a href=\"https://b.example/users/passerelle\" "
                "class=\"u-url mention\">@<span>passerelle</span></a></span> report <span "
                "class=\"h-card\"><a href=\"https://m.example/@bob\" class=\"u-url mention\">"
                "@<span>bob</span></a></span></p>"),
           "report @bob@m.example", "a later Mastodon mention gets the link's host");
    is_str(text("<p><a class=\"mention\" href=\"https://b.example/u/p\">@p</a> report "
                "<a class=\"mention\" href=\"https://x.example/@bob\">@bob@m.example</a></p>"),
           "report @bob@m.example", "a later mention with its own host is kept as written");
    is_str(text("<p><a class=\"mention\" href=\"https://b.example/u/p\">@p</a> "
                "<a class=\"mention\" href=\"https://b.example/u/q\">@q</a> help</p>"),
           "help", "several leading mentions are all dropped");
    is_str(text("<p><a href=\"https://m.example/tags/help\" class=\"mention hashtag\" "
                "rel=\"tag\">#<span>help</span></a></p>"),
           "#help", "a hashtag is not a mention");
    is_str(text("<p>x <a class=\"mention\" href=\"javascript:alert(1)\">@bob</a></p>"), "x @bob",
           "no host from a non-http link");
    is_str(text("<p>x <a class=\"mention\" href=\"https://u:p@evil.example/\">@bob</a></p>"),
           "x @bob", "no host from a link with userinfo");
}

static void
test_limits(void)
{
    size_t big = HTMLTEXT_MAX_INPUT + 1;
    char *huge = malloc(big + 1);
    char small[8];

    memset(huge, 'a', big);
    huge[big] = '\0';
    is_int(htmltext_extract(huge, big, out, sizeof(out)), -1, "input over the cap is refused");
    is_str(out, "", "and the output is empty");
    is_int(htmltext_extract(huge, HTMLTEXT_MAX_INPUT, out, sizeof(out)), (int)sizeof(out) - 1,
           "input at the cap is parsed, its text cut to the buffer");
    free(huge);

    is_int(htmltext_extract(NULL, 0, out, sizeof(out)), -1, "NULL is refused");
    is_int(htmltext_extract("", 0, out, sizeof(out)), 0, "empty input gives empty text");
    is_str(out, "", "empty");
    is_int(htmltext_extract("<p>abcdefghij</p>", 17, small, sizeof(small)), 7,
           "a small buffer gets what fits");
    is_str(small, "abcdefg", "cut at the buffer");
    is_int(htmltext_extract("<p>ab\xC3\xA9\xC3\xA9\xC3\xA9</p>", 13, small, 6), 4,
           "a two-byte character that does not fit is left out whole");
    is_str(small, "ab\xC3\xA9", "no half character");
    /* Found by fuzz_htmltext: the blank before a word that does not fit was kept. */
    is_int(htmltext_extract("plain text", 10, small, 7), 5, "a cut before a word...");
    is_str(small, "plain", "...leaves no trailing blank");
    /* Found by fuzz_htmltext: a stray UTF-8 lead byte swallowed the blank after it. */
    is_int(htmltext_extract("a\xC2 b", 5, small, 4), 2, "a stray lead byte is one byte");
    is_str(small, "a\xC2", "and the blank after it stays a blank");
}

static void
test_invalid(void)
{
    is_str(text("<p>unclosed <b>bold <i>both"), "unclosed bold both", "unclosed tags");
    is_str(text("</p></div>stray closes</span>"), "stray closes", "stray end tags");
    is_str(text("<p>a < b > c</p>"), "a < b > c", "bare angle brackets");
    ok(strstr(text("<<<>>>&&&;;;"), ">>>&&&;;;") != NULL, "markup noise is read as text");
    is_str(text("<p>bad \xFF\xFE utf8</p>")[0] != '\0' ? "ok" : "empty", "ok",
           "invalid UTF-8 does not stop the parser");
    is_str(text("<!-- hidden --><p>shown</p>"), "shown", "comments are not text");
    is_str(text("<p>a\0b</p>"), "a", "an embedded NUL ends the C string used here");
    is_str(text("<html><head><title>t</title></head><body><p>whole</p></body></html>"), "twhole",
           "a whole document (the title is text too)");
    {
        /* 10000 nested elements would be deep recursion for a naive walker. */
        size_t n = 10000;
        char *deep = malloc(n * 3 + 16);
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
            memcpy(deep + k, "<b>", 3);
            k += 3;
        }
        memcpy(deep + k, "deep", 5);
        ok(htmltext_extract(deep, k + 4, out, sizeof(out)) >= 0, "deep nesting parses");
        free(deep);
    }
}

/* The one escaping table: the five special characters and nothing else. */
static void
test_entity_table(void)
{
    const char *special = "&<>\"'", *want[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&#39;" };
    int others = 0;

    for (int i = 0; i < 5; i++)
        is_str(htmltext_entity(special[i]), want[i], "entity for %c", special[i]);
    for (int c = 1; c < 256; c++)
        if (strchr(special, c) == NULL && htmltext_entity((char)c) != NULL)
            others++;
    is_int(others, 0, "every other byte is written as itself");
}

int
main(void)
{
    xmlInitParser();
    test_entity_table();
    test_servers();
    test_structure();
    test_entities();
    test_mentions();
    test_limits();
    test_invalid();
    xmlCleanupParser();
    return done_testing();
}
