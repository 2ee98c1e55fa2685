/* The window.YTD push parser: one X archive file, fed in chunks, one element held at a time. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "err.h"
#include "jsonscan.h"
#include "utf8.h"
#include "xmalloc.h"

#define GLOBAL_NAME_MAX 128 /* window.YTD.<name>.partN */
#define FIRST_BUFFER    4096
#define ID_TEXT_MAX     64
#define MSG_MAX         400

enum archive_stream_num {
    ARCHIVE_NUM_OK = 0,
    ARCHIVE_NUM_NOT_A_NUMBER = -1,
    ARCHIVE_NUM_TOO_LARGE = -2
};

/* Decimal digits only, no sign, no point; computed in integers so ids above 2^53 stay exact. */
static enum archive_stream_num
archive_stream_parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    int over = 0;
    size_t i;

    if (len == 0)
        return ARCHIVE_NUM_NOT_A_NUMBER;
    for (i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';

        if (d > 9)
            return ARCHIVE_NUM_NOT_A_NUMBER;
        if (v > (UINT64_MAX - d) / 10)
            over = 1;
        else
            v = v * 10 + d;
    }
    if (over)
        return ARCHIVE_NUM_TOO_LARGE;
    *out = v;
    return ARCHIVE_NUM_OK;
}

/* A JSON string of digits (as X writes ids and counts) or a bare integer. */
static enum archive_stream_num
archive_stream_number_at(const char *b, size_t n, size_t pos, uint64_t *out)
{
    char text[ID_TEXT_MAX];
    size_t len, end = pos, i;
    uint64_t v = 0;

    if (b[pos] == '"') {
        /* X's ids: up to 19 digits cannot overflow, so they need no decoding nor checks. */
        for (i = pos + 1; i < pos + 20; i++) {
            unsigned d = (unsigned char)b[i] - '0';

            if (d > 9)
                break;
            v = v * 10 + d;
        }
        if (i > pos + 1 && b[i] == '"') {
            *out = v;
            return ARCHIVE_NUM_OK;
        }
        len = jscan_decode_string(b, &end, text, sizeof(text));
        if (len > sizeof(text))
            return ARCHIVE_NUM_NOT_A_NUMBER;
        return archive_stream_parse_u64(text, len, out);
    }
    if (b[pos] < '0' || b[pos] > '9')
        return ARCHIVE_NUM_NOT_A_NUMBER;
    jscan_skip_number(b, n, &end);
    return archive_stream_parse_u64(b + pos, end - pos, out);
}

enum archive_stream_state {
    ARCHIVE_ST_START,
    ARCHIVE_ST_BOM,
    ARCHIVE_ST_NAME,
    ARCHIVE_ST_BEFORE_EQ,
    ARCHIVE_ST_AFTER_EQ,
    ARCHIVE_ST_FIRST,
    ARCHIVE_ST_ELEMENT,
    ARCHIVE_ST_AFTER,
    ARCHIVE_ST_NEXT,
    ARCHIVE_ST_END,
    ARCHIVE_ST_SEMI,
    ARCHIVE_ST_ERROR,
};

struct archive_stream {
    enum archive_kind kind;
    char label[ARCHIVE_MAX_LABEL + 1];
    struct archive_callbacks cb;
    enum archive_stream_state st;
    uint64_t offset; /* bytes read outside elements: a byte order mark may only come first */
    int bom;         /* bytes of that mark matched */
    char name[GLOBAL_NAME_MAX + 1];
    size_t name_len;
    char *buf; /* the element being read */
    size_t len;
    size_t cap;
    size_t max; /* the cap for this kind */
    int depth;
    int in_string;
    int escape;
    uint64_t elements;
    int have_account;
    struct archive_account account;
    struct archive_manifest manifest;
    char error[ARCHIVE_MAX_LABEL + 2 + MSG_MAX];
};

/* Records the first error, prefixed by the file's label; every later call repeats it. */
static int __attribute__((format(printf, 4, 5)))
archive_stream_fail(struct archive_stream *s, char *err, size_t errlen, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(s->error, sizeof(s->error), "%s: %s", s->label, msg);
    s->st = ARCHIVE_ST_ERROR;
    return err_set(err, errlen, "%s", s->error);
}

/* A callback's own message is kept as it is. */
static int
archive_stream_failed_cb(struct archive_stream *s, char *err, size_t errlen)
{
    if (errlen > 0 && err[0] == '\0')
        snprintf(err, errlen, "%s: stopped by the importer", s->label);
    snprintf(s->error, sizeof(s->error), "%s", errlen > 0 ? err : "stopped by the importer");
    s->st = ARCHIVE_ST_ERROR;
    return -1;
}

struct archive_stream *
archive_stream_new(enum archive_kind kind, const char *label, const struct archive_callbacks *cb)
{
    struct archive_stream *s;

    if (kind == ARCHIVE_OTHER)
        return NULL;
    s = xcalloc(1, sizeof(*s));
    s->kind = kind;
    archive_label(s->label, label);
    if (cb != NULL)
        s->cb = *cb;
    s->max = kind == ARCHIVE_MANIFEST ? ARCHIVE_MAX_MANIFEST : ARCHIVE_MAX_ELEMENT;
    return s;
}

void
archive_stream_free(struct archive_stream *s)
{
    if (s == NULL)
        return;
    free(s->buf);
    free(s);
}

uint64_t
archive_stream_elements(const struct archive_stream *s)
{
    return s->elements;
}

size_t
archive_stream_buffer_size(const struct archive_stream *s)
{
    return s->cap;
}

const struct archive_account *
archive_stream_account(const struct archive_stream *s)
{
    return s->kind == ARCHIVE_ACCOUNT && s->have_account && s->st != ARCHIVE_ST_ERROR ? &s->account
                                                                                      : NULL;
}

enum archive_kind
archive_stream_kind(const struct archive_stream *s)
{
    return s->kind;
}

const char *
archive_stream_label(const struct archive_stream *s)
{
    return s->label;
}

const struct archive_manifest *
archive_stream_manifest(const struct archive_stream *s)
{
    return s->manifest.present && s->st != ARCHIVE_ST_ERROR ? &s->manifest : NULL;
}

/* One whole element, validated, where it lies: in the caller's chunk or in the buffer. */
struct archive_stream_elem {
    const char *b;
    size_t n;
    struct jscan_keys k;
};

/* What jscan_member says of the noted keys, found without searching. */
static int
archive_stream_noted(int times, size_t at, size_t *val)
{
    if (times == 1)
        *val = at;
    return times > 1 ? -1 : times;
}

/* The id of a list element or of the account: errors name the element, 1-based. */
static int
archive_stream_id(struct archive_stream *s, const struct archive_stream_elem *e, size_t obj,
                  uint64_t *id, char *err, size_t errlen)
{
    size_t v = 0;
    int r;

    if (e->k.escaped)
        r = jscan_member(e->b, e->n, obj, "accountId", &v);
    else if (obj == 0)
        r = archive_stream_noted(e->k.ids, e->k.id_at, &v);
    else
        r = archive_stream_noted(e->k.inner_ids, e->k.inner_id_at, &v);

    if (r < 0)
        return archive_stream_fail(s, err, errlen, "element %llu: accountId is there twice",
                                   (unsigned long long)s->elements);
    if (r == 0)
        return archive_stream_fail(s, err, errlen, "element %llu: no accountId",
                                   (unsigned long long)s->elements);
    switch (archive_stream_number_at(e->b, e->n, v, id)) {
    case ARCHIVE_NUM_NOT_A_NUMBER:
        return archive_stream_fail(s, err, errlen, "element %llu: accountId is not a number",
                                   (unsigned long long)s->elements);
    case ARCHIVE_NUM_TOO_LARGE:
        return archive_stream_fail(s, err, errlen,
                                   "element %llu: accountId is larger than 64 bits allow",
                                   (unsigned long long)s->elements);
    case ARCHIVE_NUM_OK:
        break;
    }
    if (*id == 0)
        return archive_stream_fail(s, err, errlen, "element %llu: accountId is 0",
                                   (unsigned long long)s->elements);
    return 0;
}

/* {"follower": {...}} or, as some early archives have it, the inner object alone. */
static int
archive_stream_inner(struct archive_stream *s, const struct archive_stream_elem *e, size_t *inner,
                     char *err, size_t errlen)
{
    const char *key = archive_kind_key(s->kind);
    int r = e->k.escaped ? jscan_member(e->b, e->n, 0, key, inner)
                         : archive_stream_noted(e->k.kinds, e->k.kind_at, inner);

    if (r < 0)
        return archive_stream_fail(s, err, errlen, "element %llu: \"%s\" is there twice",
                                   (unsigned long long)s->elements, key);
    if (r == 0)
        *inner = 0;
    else if (e->b[*inner] != '{')
        return archive_stream_fail(s, err, errlen, "element %llu: \"%s\" is not an object",
                                   (unsigned long long)s->elements, key);
    return 0;
}

static int
archive_stream_edge(struct archive_stream *s, const struct archive_stream_elem *e, char *err,
                    size_t errlen)
{
    uint64_t id;
    size_t inner;

    if (archive_stream_inner(s, e, &inner, err, errlen) < 0 ||
        archive_stream_id(s, e, inner, &id, err, errlen) < 0)
        return -1;
    if (s->cb.edge != NULL) {
        if (errlen > 0)
            err[0] = '\0';
        if (s->cb.edge(s->cb.ctx, s->kind, id, err, errlen) < 0)
            return archive_stream_failed_cb(s, err, errlen);
    }
    return 0;
}

static int
archive_stream_handle_ok(const char *h, size_t len)
{
    size_t i;

    if (len < 1 || len > 15)
        return 0;
    for (i = 0; i < len; i++)
        if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
              (h[i] >= '0' && h[i] <= '9') || h[i] == '_'))
            return 0;
    return 1;
}

/*
 * A display name must never stop an import: control characters are dropped, invalid UTF-8
 * becomes U+FFFD, and the result is cut at a character boundary to fit.
 */
static void
archive_stream_clean_text(const char *in, size_t n, char *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o = 0, k;

    while (i < n) {
        k = utf8_len(s + i, n - i);
        if (k == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
            i++;
            continue;
        }
        if (k == 0) {
            if (o + 3 >= cap)
                break;
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        if (o + k >= cap)
            break;
        memcpy(out + o, s + i, k);
        o += k;
        i += k;
    }
    out[o] = '\0';
}

static int
archive_stream_account_element(struct archive_stream *s, const struct archive_stream_elem *e,
                               char *err, size_t errlen)
{
    struct archive_account *a = &s->account;
    char text[1024];
    size_t inner, v, len;
    int r;

    if (s->elements > 1)
        return archive_stream_fail(s, err, errlen, "more than one account");
    if (archive_stream_inner(s, e, &inner, err, errlen) < 0 ||
        archive_stream_id(s, e, inner, &a->account_id, err, errlen) < 0)
        return -1;
    r = jscan_member(e->b, e->n, inner, "username", &v);
    len = r == 1 && e->b[v] == '"' ? jscan_decode_string(e->b, &v, text, sizeof(text)) : 0;
    if (len > sizeof(text) || !archive_stream_handle_ok(text, len))
        return archive_stream_fail(s, err, errlen,
                                   "username is missing or not an X handle "
                                   "(1 to 15 letters, digits or _)");
    memcpy(a->username, text, len);
    a->username[len] = '\0';
    r = jscan_member(e->b, e->n, inner, "accountDisplayName", &v);
    if (r == 1 && e->b[v] == '"') {
        len = jscan_decode_string(e->b, &v, text, sizeof(text));
        archive_stream_clean_text(text, len < sizeof(text) ? len : sizeof(text), a->display_name,
                                  sizeof(a->display_name));
    }
    s->have_account = 1;
    if (s->cb.account != NULL) {
        if (errlen > 0)
            err[0] = '\0';
        if (s->cb.account(s->cb.ctx, a, err, errlen) < 0)
            return archive_stream_failed_cb(s, err, errlen);
    }
    return 0;
}

/* Sums dataTypes.<type>.files[].count; absent anywhere along the way means "not given". */
static int
archive_stream_manifest_count(struct archive_stream *s, const struct archive_stream_elem *e,
                              size_t types, const char *type, int *has, uint64_t *sum, char *err,
                              size_t errlen)
{
    size_t t, files, p, c;
    uint64_t count;
    unsigned i = 0;
    int first = 1;

    *has = 0;
    *sum = 0;
    if (jscan_member(e->b, e->n, types, type, &t) != 1 ||
        jscan_member(e->b, e->n, t, "files", &files) != 1 || e->b[files] != '[')
        return 0;
    p = files;
    while (jscan_next(e->b, e->n, &p, first)) {
        first = 0;
        i++;
        if (jscan_member(e->b, e->n, p, "count", &c) != 1 ||
            archive_stream_number_at(e->b, e->n, c, &count) != ARCHIVE_NUM_OK ||
            count > UINT64_MAX - *sum)
            return archive_stream_fail(s, err, errlen,
                                       "dataTypes.%s.files[%u].count is not a number", type, i - 1);
        *sum += count;
        jscan_skip_value(e->b, e->n, &p);
    }
    *has = 1;
    return 0;
}

static int
archive_stream_manifest_element(struct archive_stream *s, const struct archive_stream_elem *e,
                                char *err, size_t errlen)
{
    struct archive_manifest *m = &s->manifest;
    size_t user, id, types;

    if (jscan_member(e->b, e->n, 0, "userInfo", &user) == 1 &&
        jscan_member(e->b, e->n, user, "accountId", &id) == 1 &&
        archive_stream_number_at(e->b, e->n, id, &m->account_id) != ARCHIVE_NUM_OK)
        return archive_stream_fail(s, err, errlen, "userInfo.accountId is not a number");
    if (jscan_member(e->b, e->n, 0, "dataTypes", &types) == 1 &&
        (archive_stream_manifest_count(s, e, types, "follower", &m->has_follower_count,
                                       &m->follower_count, err, errlen) < 0 ||
         archive_stream_manifest_count(s, e, types, "following", &m->has_following_count,
                                       &m->following_count, err, errlen) < 0 ||
         archive_stream_manifest_count(s, e, types, "block", &m->has_block_count, &m->block_count,
                                       err, errlen) < 0 ||
         archive_stream_manifest_count(s, e, types, "mute", &m->has_mute_count, &m->mute_count, err,
                                       errlen) < 0))
        return -1;
    m->present = 1;
    return 0;
}

/* The element just counted, validated wherever it lies. */
static int
archive_stream_dispatch(struct archive_stream *s, const struct archive_stream_elem *e, char *err,
                        size_t errlen)
{
    switch (s->kind) {
    case ARCHIVE_ACCOUNT:
        return archive_stream_account_element(s, e, err, errlen);
    case ARCHIVE_MANIFEST:
        return archive_stream_manifest_element(s, e, err, errlen);
    case ARCHIVE_FOLLOWER:
    case ARCHIVE_FOLLOWING:
    case ARCHIVE_BLOCK:
    case ARCHIVE_MUTE:
        return archive_stream_edge(s, e, err, errlen);
    case ARCHIVE_OTHER:
        break;
    }
    return -1;
}

/* The element the scanner gathered in the buffer. */
static int
archive_stream_element(struct archive_stream *s, char *err, size_t errlen)
{
    struct archive_stream_elem e = { s->buf, s->len, { 0 } };
    size_t end;

    s->elements++;
    jscan_keys_init(&e.k, archive_kind_key(s->kind));
    if (jscan_validate(s->buf, s->len, &end, &e.k) < 0 || end != s->len) {
        if (s->kind == ARCHIVE_MANIFEST)
            return archive_stream_fail(s, err, errlen, "not valid JSON");
        return archive_stream_fail(s, err, errlen, "element %llu is not valid JSON",
                                   (unsigned long long)s->elements);
    }
    return archive_stream_dispatch(s, &e, err, errlen);
}

/*
 * An element that begins at p[*i] and ends in this chunk is validated and read where it
 * lies, in one pass, never copied. Returns 1 when it was (-1 on its error), 0 when it
 * continues into the next chunk or is invalid: the scanner then gathers it in the buffer
 * and says which error comes first, exactly as for any other chunking.
 */
static int
archive_stream_in_place(struct archive_stream *s, const unsigned char *p, size_t n, size_t *i,
                        char *err, size_t errlen)
{
    struct archive_stream_elem e;
    size_t avail = n - *i < s->max ? n - *i : s->max;

    jscan_keys_init(&e.k, archive_kind_key(s->kind));
    e.b = (const char *)p + *i;
    if (jscan_validate(e.b, avail, &e.n, &e.k) < 0)
        return 0;
    *i += e.n;
    s->st = s->kind == ARCHIVE_MANIFEST ? ARCHIVE_ST_END : ARCHIVE_ST_AFTER;
    s->elements++;
    return archive_stream_dispatch(s, &e, err, errlen) < 0 ? -1 : 1;
}

static int
archive_stream_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '$';
}

/* window.YTD.<kind>.partN (window. optional); window.__THAR_CONFIG for the manifest. */
static int
archive_stream_check_name(struct archive_stream *s, char *err, size_t errlen)
{
    const char *p = s->name, *kind = archive_kind_name(s->kind);
    size_t n = strlen(kind);

    if (strncmp(p, "window.", 7) == 0)
        p += 7;
    if (s->kind == ARCHIVE_MANIFEST) {
        if (strcmp(p, "__THAR_CONFIG") == 0)
            return 0;
        return archive_stream_fail(s, err, errlen, "expected window.__THAR_CONFIG, found %s",
                                   s->name);
    }
    if (strncmp(p, "YTD.", 4) == 0 && strncmp(p + 4, kind, n) == 0 &&
        strncmp(p + 4 + n, ".part", 5) == 0 && p[9 + n] >= '0' && p[9 + n] <= '9' &&
        strspn(p + 9 + n, "0123456789") == strlen(p + 9 + n))
        return 0;
    return archive_stream_fail(s, err, errlen, "expected window.YTD.%s.partN, found %s", kind,
                               s->name);
}

static int
archive_stream_wrapper_error(struct archive_stream *s, char *err, size_t errlen)
{
    if (s->kind == ARCHIVE_MANIFEST)
        return archive_stream_fail(s, err, errlen, "does not start with window.__THAR_CONFIG = {");
    return archive_stream_fail(s, err, errlen, "does not start with window.YTD.%s.partN = [",
                               archive_kind_name(s->kind));
}

static void
archive_stream_begin_element(struct archive_stream *s)
{
    s->st = ARCHIVE_ST_ELEMENT;
    s->len = 0;
    s->depth = 0;
    s->in_string = 0;
    s->escape = 0;
}

/* One byte outside an element. Returns 1 when the byte opens an element (not consumed). */
static int
archive_stream_step(struct archive_stream *s, unsigned char c, char *err, size_t errlen)
{
    int ws = jscan_is_ws(c);

    switch (s->st) {
    case ARCHIVE_ST_START:
        if (c == 0xef && s->offset == 0) {
            s->st = ARCHIVE_ST_BOM;
            s->bom = 1;
            return 0;
        }
        if (ws)
            return 0;
        if (!archive_stream_name_char(c))
            return archive_stream_wrapper_error(s, err, errlen);
        s->st = ARCHIVE_ST_NAME;
        s->name[s->name_len++] = (char)c;
        return 0;
    case ARCHIVE_ST_BOM:
        if (c != (s->bom == 1 ? 0xbb : 0xbf))
            return archive_stream_wrapper_error(s, err, errlen);
        if (++s->bom == 3)
            s->st = ARCHIVE_ST_START;
        return 0;
    case ARCHIVE_ST_NAME:
        if (archive_stream_name_char(c)) {
            if (s->name_len == GLOBAL_NAME_MAX)
                return archive_stream_wrapper_error(s, err, errlen);
            s->name[s->name_len++] = (char)c;
            return 0;
        }
        if (!ws && c != '=')
            return archive_stream_wrapper_error(s, err, errlen);
        if (archive_stream_check_name(s, err, errlen) < 0)
            return -1;
        s->st = c == '=' ? ARCHIVE_ST_AFTER_EQ : ARCHIVE_ST_BEFORE_EQ;
        return 0;
    case ARCHIVE_ST_BEFORE_EQ:
        if (ws)
            return 0;
        if (c != '=')
            return archive_stream_wrapper_error(s, err, errlen);
        s->st = ARCHIVE_ST_AFTER_EQ;
        return 0;
    case ARCHIVE_ST_AFTER_EQ:
        if (ws)
            return 0;
        if (s->kind == ARCHIVE_MANIFEST && c == '{') {
            archive_stream_begin_element(s);
            return 1;
        }
        if (s->kind == ARCHIVE_MANIFEST || c != '[')
            return archive_stream_wrapper_error(s, err, errlen);
        s->st = ARCHIVE_ST_FIRST;
        return 0;
    case ARCHIVE_ST_FIRST:
    case ARCHIVE_ST_NEXT:
        if (ws)
            return 0;
        if (c == '{') {
            archive_stream_begin_element(s);
            return 1;
        }
        if (c == ']' && s->st == ARCHIVE_ST_FIRST) {
            s->st = ARCHIVE_ST_END;
            return 0;
        }
        return archive_stream_fail(s, err, errlen, "element %llu is not an object",
                                   (unsigned long long)s->elements + 1);
    case ARCHIVE_ST_AFTER:
        if (ws)
            return 0;
        if (c == ',') {
            s->st = ARCHIVE_ST_NEXT;
            return 0;
        }
        if (c == ']') {
            s->st = ARCHIVE_ST_END;
            return 0;
        }
        return archive_stream_fail(s, err, errlen, "after element %llu: expected , or ]",
                                   (unsigned long long)s->elements);
    case ARCHIVE_ST_END:
    case ARCHIVE_ST_SEMI:
        if (ws)
            return 0;
        if (c == ';' && s->st == ARCHIVE_ST_END) {
            s->st = ARCHIVE_ST_SEMI;
            return 0;
        }
        return archive_stream_fail(s, err, errlen, "unexpected data after the %s",
                                   s->kind == ARCHIVE_MANIFEST ? "object" : "list");
    case ARCHIVE_ST_ELEMENT:
    case ARCHIVE_ST_ERROR:
        break;
    }
    return -1;
}

static int
archive_stream_too_large(struct archive_stream *s, char *err, size_t errlen)
{
    if (s->kind == ARCHIVE_MANIFEST)
        return archive_stream_fail(s, err, errlen, "larger than %zu KiB", s->max / 1024);
    return archive_stream_fail(s, err, errlen, "element %llu is larger than %zu KiB",
                               (unsigned long long)s->elements + 1, s->max / 1024);
}

static int
archive_stream_append(struct archive_stream *s, const unsigned char *p, size_t n, char *err,
                      size_t errlen)
{
    size_t cap = s->cap;

    if (n > s->max - s->len)
        return archive_stream_too_large(s, err, errlen);
    if (s->len + n > cap) {
        if (cap == 0)
            cap = FIRST_BUFFER;
        while (cap < s->len + n)
            cap *= 2;
        if (cap > s->max)
            cap = s->max;
        s->buf = xrealloc(s->buf, cap);
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return 0;
}

/*
 * Copies element bytes from p[*i] on, tracking strings and nesting to find where it ends.
 * Bytes past the cap are never looked at, so that the first error in the file is the one
 * reported, however it is chunked.
 */
static int
archive_stream_scan(struct archive_stream *s, const unsigned char *p, size_t n, size_t *i,
                    char *err, size_t errlen)
{
    size_t start = *i, j = start, end = n;
    int done = 0;

    if (n - start > s->max - s->len)
        end = start + (s->max - s->len);
    while (j < end && !done) {
        unsigned char c = p[j++];

        if (s->in_string) {
            if (s->escape)
                s->escape = 0;
            else if (c == '\\')
                s->escape = 1;
            else if (c == '"')
                s->in_string = 0;
            else
                j = jscan_string_run(p, j, end);
        } else if (c == '"') {
            s->in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++s->depth > ARCHIVE_MAX_DEPTH)
                return archive_stream_fail(s, err, errlen,
                                           "element %llu is nested more than %d deep",
                                           (unsigned long long)s->elements + 1, ARCHIVE_MAX_DEPTH);
        } else if (c == '}' || c == ']') {
            done = --s->depth == 0;
        }
    }
    if (!done && j < n)
        return archive_stream_too_large(s, err, errlen);
    if (archive_stream_append(s, p + start, j - start, err, errlen) < 0)
        return -1;
    *i = j;
    if (!done)
        return 0;
    s->st = s->kind == ARCHIVE_MANIFEST ? ARCHIVE_ST_END : ARCHIVE_ST_AFTER;
    return archive_stream_element(s, err, errlen);
}

int
archive_stream_feed(struct archive_stream *s, const void *buf, size_t len, char *err, size_t errlen)
{
    const unsigned char *p = buf;
    size_t i = 0;
    int r;

    if (s->st == ARCHIVE_ST_ERROR)
        return err_set(err, errlen, "%s", s->error);
    while (i < len) {
        if (s->st == ARCHIVE_ST_ELEMENT) {
            if (s->len == 0) {
                r = archive_stream_in_place(s, p, len, &i, err, errlen);
                if (r < 0)
                    return -1;
                if (r > 0)
                    continue;
            }
            if (archive_stream_scan(s, p, len, &i, err, errlen) < 0)
                return -1;
            continue;
        }
        /* Runs of white space around the elements (most of it, pretty-printed) in one go. */
        if (s->st != ARCHIVE_ST_BOM && s->st != ARCHIVE_ST_NAME && jscan_ws_tab[p[i]]) {
            size_t from = i;

            while (++i < len && jscan_ws_tab[p[i]])
                ;
            s->offset += i - from;
            continue;
        }
        r = archive_stream_step(s, p[i], err, errlen);
        if (r < 0)
            return -1;
        if (r == 0) {
            i++;
            s->offset++;
        }
    }
    return 0;
}

int
archive_stream_finish(struct archive_stream *s, char *err, size_t errlen)
{
    switch (s->st) {
    case ARCHIVE_ST_ERROR:
        return err_set(err, errlen, "%s", s->error);
    case ARCHIVE_ST_END:
    case ARCHIVE_ST_SEMI:
        if (s->kind == ARCHIVE_ACCOUNT && s->elements == 0)
            return archive_stream_fail(s, err, errlen, "no account in it");
        return 0;
    case ARCHIVE_ST_START:
        return archive_stream_fail(s, err, errlen, "the file is empty");
    case ARCHIVE_ST_ELEMENT:
        return archive_stream_fail(s, err, errlen, "the file ends inside element %llu",
                                   (unsigned long long)s->elements + 1);
    default:
        return archive_stream_fail(s, err, errlen, "the file ends before the %s closes",
                                   s->kind == ARCHIVE_MANIFEST ? "object" : "list");
    }
}
