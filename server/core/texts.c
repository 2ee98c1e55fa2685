/* The text catalogues: parsed once from the embedded files, looked up by language and key. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "texts.h"
#include "xmalloc.h"

#define TEXTS_MAX_PAIRS 16

struct texts_entry {
    const char *key, *text;
};

/* One language: its entries sorted by key, pointing into store (its file, decoded in place). */
struct texts_lang {
    const char *code;
    char *store;
    struct texts_entry *e;
    size_t n;
};

/*
 * Built once (pthread_once: the archive threads may ask too) and kept for the program's life,
 * like the embedded files they come from.
 */
static struct texts_lang *texts_langs;
static size_t texts_nlangs;
static char texts_err[1024];
static pthread_once_t texts_once = PTHREAD_ONCE_INIT;
static const struct texts_file *texts_src = texts_files;
static size_t texts_nsrc; /* 0 until texts_use: the embedded table's own count */

static void
texts_error(const char *lang, size_t line, const char *what)
{
    size_t used = strlen(texts_err);

    snprintf(texts_err + used, sizeof(texts_err) - used, "%s%s.txt:%zu: %s", used > 0 ? "; " : "",
             lang, line, what);
}

static int
texts_key_ok(const char *k)
{
    if (*k == '\0')
        return 0;
    for (; *k != '\0'; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_' || *k == '.'))
            return 0;
    return 1;
}

static char *
texts_trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *end = '\0';
    return s;
}

/* Decodes "\n" and "\\" in place; -1 on any other escape. */
static int
texts_unescape(char *s)
{
    char *o = s;

    for (; *s != '\0'; s++) {
        if (*s != '\\') {
            *o++ = *s;
            continue;
        }
        if (s[1] == 'n')
            *o++ = '\n';
        else if (s[1] == '\\')
            *o++ = '\\';
        else
            return -1;
        s++;
    }
    *o = '\0';
    return 0;
}

static int
texts_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct texts_entry *)a)->key, ((const struct texts_entry *)b)->key);
}

/* One line "key = text" into l (already trimmed of its newline); comments and blanks skipped. */
static void
texts_line(struct texts_lang *l, char *s, char *end, size_t lineno)
{
    char *eq, *key, *text;

    s = texts_trim(s, end);
    if (*s == '\0' || *s == '#')
        return;
    eq = strchr(s, '=');
    if (eq == NULL) {
        texts_error(l->code, lineno, "no '='");
        return;
    }
    text = texts_trim(eq + 1, eq + 1 + strlen(eq + 1));
    key = texts_trim(s, eq);
    if (!texts_key_ok(key)) {
        texts_error(l->code, lineno, "bad key");
        return;
    }
    if (texts_unescape(text) < 0) {
        texts_error(l->code, lineno, "unknown escape (only \\n and \\\\)");
        return;
    }
    l->e[l->n].key = key;
    l->e[l->n].text = text;
    l->n++;
}

static void
texts_parse(struct texts_lang *l, const struct texts_file *f)
{
    size_t lines = 1, lineno = 0;
    char *s;

    l->code = f->lang;
    l->store = xmalloc(f->len + 1);
    memcpy(l->store, f->data, f->len);
    l->store[f->len] = '\0';
    if (strlen(l->store) != f->len)
        texts_error(f->lang, 0, "a NUL byte: the rest is left out");
    for (s = l->store; *s != '\0'; s++)
        lines += *s == '\n';
    l->e = xcalloc(lines, sizeof(*l->e));
    for (s = l->store; *s != '\0';) {
        char *nl = strchr(s, '\n');
        char *end = nl != NULL ? nl : s + strlen(s);

        texts_line(l, s, end, ++lineno);
        s = nl != NULL ? nl + 1 : end;
    }
    qsort(l->e, l->n, sizeof(*l->e), texts_entry_cmp);
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(l->e[i - 1].key, l->e[i].key) == 0)
            texts_error(l->code, 0, "a key is given twice");
}

static void
texts_load(void)
{
    size_t n = texts_src == texts_files ? texts_files_count : texts_nsrc;

    texts_langs = xcalloc(n, sizeof(*texts_langs));
    for (size_t i = 0; i < n; i++)
        texts_parse(&texts_langs[i], &texts_src[i]);
    texts_nlangs = n;
}

static void
texts_unload(void)
{
    for (size_t i = 0; i < texts_nlangs; i++) {
        free(texts_langs[i].store);
        free(texts_langs[i].e);
    }
    free(texts_langs);
    texts_langs = NULL;
    texts_nlangs = 0;
    texts_err[0] = '\0';
}

void
texts_use(const struct texts_file *files, size_t n)
{
    pthread_once(&texts_once, texts_load);
    texts_unload();
    texts_src = files != NULL ? files : texts_files;
    texts_nsrc = n;
    texts_load();
}

static const struct texts_lang *
texts_lang_of(const char *lang)
{
    pthread_once(&texts_once, texts_load);
    if (lang == NULL)
        return NULL;
    for (size_t i = 0; i < texts_nlangs; i++)
        if (strcasecmp(texts_langs[i].code, lang) == 0)
            return &texts_langs[i];
    return NULL;
}

size_t
texts_lang_count(void)
{
    pthread_once(&texts_once, texts_load);
    return texts_nlangs;
}

const char *
texts_lang_at(size_t i)
{
    return i < texts_lang_count() ? texts_langs[i].code : NULL;
}

const char *
texts_lang_known(const char *lang)
{
    const struct texts_lang *l = texts_lang_of(lang);

    return l != NULL ? l->code : NULL;
}

/* The catalogue of one Accept-Language tag of length n: the whole tag, else its primary one. */
static const char *
texts_lang_of_tag(const char *tag, size_t n)
{
    char buf[36];
    const char *code;

    if (n == 0 || n >= sizeof(buf))
        return NULL;
    memcpy(buf, tag, n);
    buf[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '_')
            buf[i] = '-';
    if ((code = texts_lang_known(buf)) != NULL)
        return code;
    buf[strcspn(buf, "-")] = '\0';
    return texts_lang_known(buf);
}

/* The q of one Accept-Language entry's parameters (";q=0.5") in 1000ths; 1000 when absent. */
static int
texts_q(const char *p, const char *end)
{
    while (p < end) {
        p += strspn(p, " \t;");
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            int q = 0, scale = 1000;

            p += 2;
            if (p < end && *p == '1')
                return 1000;
            if (p >= end || *p != '0')
                return 0;
            if (++p < end && *p == '.')
                p++;
            for (; p < end && *p >= '0' && *p <= '9' && scale > 1; p++)
                q += (*p - '0') * (scale /= 10);
            return q;
        }
        p += strcspn(p, ";,");
    }
    return 1000;
}

const char *
texts_lang_pick(const char *accept_language, const char *member_choice)
{
    const char *best = NULL, *p = accept_language;
    int best_q = 0;

    /* Entries "tag;q=0.8" parted by commas; the highest q wins, the earlier on a tie. */
    while (p != NULL && *p != '\0') {
        size_t len = strcspn(p, ",");
        const char *tag = p + strspn(p, " \t");
        size_t n = tag < p + len ? strcspn(tag, ",; \t") : 0;
        const char *code = texts_lang_of_tag(tag, n);
        int q = code != NULL ? texts_q(tag + n, p + len) : 0;

        if (q > best_q) {
            best = code;
            best_q = q;
        }
        p += len + (p[len] == ',');
    }
    if (best != NULL)
        return best;
    if ((best = texts_lang_known(member_choice)) != NULL)
        return best;
    return "en";
}

const char *
texts_find(const char *lang, const char *key)
{
    const struct texts_lang *l = texts_lang_of(lang);
    struct texts_entry want = { .key = key }, *e;

    if (l == NULL || key == NULL)
        return NULL;
    e = bsearch(&want, l->e, l->n, sizeof(*l->e), texts_entry_cmp);
    return e != NULL ? e->text : NULL;
}

const char *
texts_get(const char *lang, const char *key)
{
    const char *t = texts_find(lang, key);

    if (t == NULL)
        t = texts_find("en", key);
    return t != NULL ? t : key;
}

size_t
texts_key_count(const char *lang)
{
    const struct texts_lang *l = texts_lang_of(lang);

    return l != NULL ? l->n : 0;
}

const char *
texts_key_at(const char *lang, size_t i)
{
    const struct texts_lang *l = texts_lang_of(lang);

    return l != NULL && i < l->n ? l->e[i].key : NULL;
}

const char *
texts_errors(void)
{
    pthread_once(&texts_once, texts_load);
    return texts_err[0] != '\0' ? texts_err : NULL;
}

const char *
texts_placeholder(const char *s, size_t *len)
{
    for (s = strchr(s, '{'); s != NULL; s = strchr(s + 1, '{')) {
        size_t n = strspn(s + 1, "abcdefghijklmnopqrstuvwxyz0123456789_");

        if (n > 0 && s[1 + n] == '}') {
            *len = n;
            return s + 1;
        }
    }
    return NULL;
}

static char *
texts_vformat(const char *tmpl, va_list ap)
{
    const char *names[TEXTS_MAX_PAIRS], *values[TEXTS_MAX_PAIRS];
    size_t npairs = 0, len = 0, n;
    const char *p = tmpl, *name;
    char *out = NULL;
    FILE *f;

    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);

        if (npairs == TEXTS_MAX_PAIRS)
            abort(); /* a caller's bug, the same every time: the tests find it */
        names[npairs] = name;
        values[npairs++] = value != NULL ? value : "";
    }
    f = open_memstream(&out, &len);
    if (f == NULL)
        abort(); /* out of memory, as in xmalloc */
    while ((name = texts_placeholder(p, &n)) != NULL) {
        size_t i;

        fwrite(p, 1, (size_t)(name - 1 - p), f);
        for (i = 0; i < npairs; i++)
            if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0)
                break;
        if (i < npairs)
            fputs(values[i], f);
        else
            fwrite(name - 1, 1, n + 2, f);
        p = name + n + 1;
    }
    fputs(p, f);
    if (fclose(f) != 0)
        abort(); /* the final flush only fails for want of memory */
    return out;
}

char *
texts_format(const char *lang, const char *key, ...)
{
    va_list ap;
    char *s;

    va_start(ap, key);
    s = texts_vformat(texts_get(lang, key), ap);
    va_end(ap);
    return s;
}

char *
texts_format_text(const char *tmpl, ...)
{
    va_list ap;
    char *s;

    va_start(ap, tmpl);
    s = texts_vformat(tmpl, ap);
    va_end(ap);
    return s;
}

/* --- the check ------------------------------------------------------------------------------- */

/* Appends one problem to err (what fits) and counts it. */
static void __attribute__((format(printf, 4, 5)))
texts_problem(size_t *count, char *err, size_t errlen, const char *fmt, ...)
{
    size_t used = errlen > 0 ? strlen(err) : 0;
    va_list ap;

    (*count)++;
    if (used + 3 >= errlen)
        return;
    if (used > 0) {
        memcpy(err + used, "; ", 3);
        used += 2;
    }
    va_start(ap, fmt);
    vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
}

/* 1 when every placeholder of a is one of b's. */
static int
texts_placeholders_in(const char *a, const char *b, const char **missing, size_t *mlen)
{
    size_t n, m;

    for (const char *p = texts_placeholder(a, &n); p != NULL; p = texts_placeholder(p + n, &n)) {
        const char *q;

        for (q = texts_placeholder(b, &m); q != NULL; q = texts_placeholder(q + m, &m))
            if (m == n && memcmp(p, q, n) == 0)
                break;
        if (q == NULL) {
            *missing = p;
            *mlen = n;
            return 0;
        }
    }
    return 1;
}

/* One language's own problems, and those of its keys against English (en NULL: it is English). */
static void
texts_check_lang(const struct texts_lang *l, const struct texts_lang *en, size_t *count, char *err,
                 size_t errlen)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *key = l->e[i].key, *text = l->e[i].text, *ref, *ph;
        size_t n, braces = 0, named = 0;

        if (text[0] == '\0')
            texts_problem(count, err, errlen, "%s: %s is empty", l->code, key);
        for (const char *b = strchr(text, '{'); b != NULL; b = strchr(b + 1, '{'))
            braces++;
        for (ph = texts_placeholder(text, &n); ph != NULL; ph = texts_placeholder(ph + n, &n))
            named++;
        if (braces != named)
            texts_problem(count, err, errlen, "%s: %s has a '{' that is no {placeholder}", l->code,
                          key);
        if (en == NULL)
            continue;
        ref = texts_find(en->code, key);
        if (ref == NULL) {
            texts_problem(count, err, errlen, "%s: %s is not an English key", l->code, key);
            continue;
        }
        if (!texts_placeholders_in(text, ref, &ph, &n))
            texts_problem(count, err, errlen, "%s: %s has {%.*s}, English has not", l->code, key,
                          (int)n, ph);
        if (!texts_placeholders_in(ref, text, &ph, &n))
            texts_problem(count, err, errlen, "%s: %s lacks English's {%.*s}", l->code, key, (int)n,
                          ph);
    }
    for (size_t i = 0; en != NULL && i < en->n; i++)
        if (texts_find(l->code, en->e[i].key) == NULL)
            texts_problem(count, err, errlen, "%s: no %s", l->code, en->e[i].key);
}

size_t
texts_check(char *err, size_t errlen)
{
    const struct texts_lang *en = texts_lang_of("en");
    size_t count = 0;

    if (errlen > 0)
        err[0] = '\0';
    if (texts_err[0] != '\0')
        texts_problem(&count, err, errlen, "%s", texts_err);
    if (en == NULL) {
        texts_problem(&count, err, errlen, "no English catalogue (en.txt)");
        return count;
    }
    for (size_t i = 0; i < texts_nlangs; i++)
        texts_check_lang(&texts_langs[i], &texts_langs[i] == en ? NULL : en, &count, err, errlen);
    return count;
}
