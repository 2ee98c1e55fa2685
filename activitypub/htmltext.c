/* Plain text out of a note's HTML (libxml2's HTML parser), for commands sent to the bridge. */
#include <ctype.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include "htmltext.h"

#define HTMLTEXT_MAX_BREAKS 2 /* empty paragraphs must not pile up blank lines */

struct htmltext_out {
    char *buf;
    size_t cap, len;
    int full;   /* a character did not fit: write nothing more */
    int space;  /* a blank is pending (written only before more text on the line) */
    int breaks; /* line breaks pending (written only before more text) */
};

static int
htmltext_is_blank(const unsigned char *s, size_t *n)
{
    if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f') {
        *n = 1;
        return 1;
    }
    /* U+00A0: clients put no-break spaces after mentions and around words. */
    if (s[0] == 0xC2 && s[1] == 0xA0) {
        *n = 2;
        return 1;
    }
    return 0;
}

/* Bytes in the UTF-8 sequence led by c (1 for stray bytes, which are copied as they are). */
static size_t
htmltext_seq_len(unsigned char c)
{
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    if (c >= 0xE0)
        return c <= 0xEF ? 3 : 1;
    if (c >= 0xC2)
        return 2;
    return 1;
}

static void
htmltext_put_raw(struct htmltext_out *o, const char *s, size_t n)
{
    if (o->full)
        return;
    if (o->len + n + 1 > o->cap) {
        o->full = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

/*
 * Writes one visible character (n bytes) with what is pending before it (breaks, else one
 * space), or nothing at all when both do not fit: a cut text never ends in a blank.
 */
static void
htmltext_put_char(struct htmltext_out *o, const char *c, size_t n)
{
    size_t breaks = 0, space = 0;

    if (o->len > 0 && o->breaks > 0)
        breaks = o->breaks < HTMLTEXT_MAX_BREAKS ? (size_t)o->breaks : HTMLTEXT_MAX_BREAKS;
    else if (o->len > 0 && o->space && o->buf[o->len - 1] != '\n')
        space = 1;
    if (o->full || o->len + breaks + space + n + 1 > o->cap) {
        o->full = 1;
        return;
    }
    for (size_t i = 0; i < breaks; i++)
        htmltext_put_raw(o, "\n", 1);
    if (space)
        htmltext_put_raw(o, " ", 1);
    htmltext_put_raw(o, c, n);
    o->breaks = 0;
    o->space = 0;
}

static void
htmltext_put_text(struct htmltext_out *o, const char *text)
{
    const unsigned char *s = (const unsigned char *)text;

    while (*s != '\0' && !o->full) {
        size_t n;

        if (htmltext_is_blank(s, &n)) {
            o->space = 1;
            s += n;
            continue;
        }
        n = htmltext_seq_len(*s);
        /* libxml2 lets some invalid UTF-8 through: a stray lead byte goes alone. */
        for (size_t i = 1; i < n; i++)
            if ((s[i] & 0xC0) != 0x80) {
                n = i;
                break;
            }
        htmltext_put_char(o, (const char *)s, n);
        s += n;
    }
}

static void
htmltext_break(struct htmltext_out *o)
{
    o->breaks++;
    o->space = 0;
}

static int
htmltext_name_is(const xmlNode *n, const char *name)
{
    return n->name != NULL && strcasecmp((const char *)n->name, name) == 0;
}

/* Elements whose end starts a new line of text. */
static int
htmltext_is_block(const xmlNode *n)
{
    static const char *const blocks[] = { "p",  "div", "li", "blockquote", "pre", "tr", "h1",
                                          "h2", "h3",  "h4", "h5",         "h6",  "ul", "ol" };

    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
        if (htmltext_name_is(n, blocks[i]))
            return 1;
    return 0;
}

/* 1 when the class attribute holds word as a whole, space-separated word. */
static int
htmltext_has_class(xmlNode *n, const char *word)
{
    xmlChar *cls = xmlGetProp(n, (const xmlChar *)"class");
    size_t wlen = strlen(word);
    int found = 0;

    if (cls == NULL)
        return 0;
    for (const char *s = (const char *)cls; *s != '\0' && !found;) {
        size_t k;

        while (*s != '\0' && isspace((unsigned char)*s))
            s++;
        k = strcspn(s, " \t\r\n\f");
        found = k == wlen && strncasecmp(s, word, k) == 0;
        s += k;
    }
    xmlFree(cls);
    return found;
}

/*
 * The authority of an http(s) href, lowercased, into out; 0 when there is none usable
 * (other scheme, userinfo, odd characters).
 */
static int
htmltext_href_host(xmlNode *a, char *out, size_t outlen)
{
    xmlChar *href = xmlGetProp(a, (const xmlChar *)"href");
    const char *s, *p;
    size_t n = 0;
    int ok = 0;

    if (href == NULL)
        return 0;
    s = (const char *)href;
    if (strncasecmp(s, "https://", 8) == 0)
        p = s + 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        p = s + 7;
    else
        p = NULL;
    if (p != NULL) {
        n = strcspn(p, "/?#");
        ok = n > 0 && n < outlen;
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)p[i]) || strchr(".-:[]", p[i]) != NULL;
    }
    if (ok) {
        for (size_t i = 0; i < n; i++)
            out[i] = (char)tolower((unsigned char)p[i]);
        out[n] = '\0';
    }
    xmlFree(href);
    return ok;
}

/*
 * An <a>: 1 when it was a mention and has been handled here (dropped when it leads the
 * text, else written as @user@host), 0 when its children are to be walked as usual.
 */
static int
htmltext_link(struct htmltext_out *o, xmlNode *a)
{
    xmlChar *content = xmlNodeGetContent(a);
    const char *t = content != NULL ? (const char *)content : "";
    char host[257];
    int mention;

    while (*t != '\0' && isspace((unsigned char)*t))
        t++;
    mention = t[0] == '@' || (htmltext_has_class(a, "mention") &&
                              !htmltext_has_class(a, "hashtag") && t[0] != '#');
    if (!mention) {
        xmlFree(content);
        return 0;
    }
    /* Leading mentions address the bridge; they are not the command ("@passerelle help"). */
    if (o->len > 0) {
        htmltext_put_text(o, t);
        /* Mastodon shows remote mentions as "@user": the host is in the link. */
        if (t[0] == '@' && t[1] != '\0' && strchr(t + 1, '@') == NULL &&
            htmltext_href_host(a, host + 1, sizeof(host) - 1)) {
            host[0] = '@';
            htmltext_put_raw(o, host, strlen(host));
        }
    }
    xmlFree(content);
    return 1;
}

/* Walks the tree without recursion: deep nesting from a hostile note costs no stack. */
static void
htmltext_walk(struct htmltext_out *o, xmlNode *root)
{
    xmlNode *n = root;

    while (n != NULL && !o->full) {
        int descend = 0;

        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content != NULL)
                htmltext_put_text(o, (const char *)n->content);
        } else if (n->type == XML_ELEMENT_NODE) {
            if (htmltext_name_is(n, "br"))
                htmltext_break(o);
            else if (htmltext_name_is(n, "script") || htmltext_name_is(n, "style"))
                descend = 0;
            else if (htmltext_name_is(n, "a"))
                descend = !htmltext_link(o, n);
            else
                descend = 1;
        }
        if (descend && n->children != NULL) {
            n = n->children;
            continue;
        }
        /* Leaving n (and every ancestor with no next sibling): close their blocks. */
        for (;;) {
            if (n->type == XML_ELEMENT_NODE && htmltext_is_block(n))
                htmltext_break(o);
            if (n == root) {
                n = NULL;
                break;
            }
            if (n->next != NULL) {
                n = n->next;
                break;
            }
            n = n->parent;
            if (n == NULL)
                break;
        }
    }
}

int
htmltext_extract(const char *html, size_t len, char *out, size_t outlen)
{
    struct htmltext_out o = { .buf = out, .cap = outlen };
    htmlDocPtr doc;
    xmlNode *root;

    if (outlen > 0)
        out[0] = '\0';
    if (html == NULL || len > HTMLTEXT_MAX_INPUT)
        return -1;
    if (len == 0 || outlen == 0)
        return 0;
    doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                         HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
    if (doc == NULL)
        return -1;
    root = xmlDocGetRootElement(doc);
    if (root != NULL)
        htmltext_walk(&o, root);
    xmlFreeDoc(doc);
    return (int)o.len;
}

const char *
htmltext_entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return NULL;
    }
}
