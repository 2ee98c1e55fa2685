/* X archive files: which ones matter, the window.YTD push parser, account, manifest, edges. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "utf8.h"
#include "xmalloc.h"
#include "zipread.h"

#define GLOBAL_NAME_MAX 128 /* window.YTD.<name>.partN */
#define LABEL_MAX       200
#define FIRST_BUFFER    4096
#define READ_CHUNK      65536
#define KEY_MAX         64 /* longer keys are none of the ones looked up */
#define ID_TEXT_MAX     64
#define MSG_MAX         400

static int __attribute__((format(printf, 3, 4)))
archive_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *
archive_kind_name(enum archive_kind kind)
{
    switch (kind) {
    case ARCHIVE_ACCOUNT:
        return "account";
    case ARCHIVE_MANIFEST:
        return "manifest";
    case ARCHIVE_FOLLOWER:
        return "follower";
    case ARCHIVE_FOLLOWING:
        return "following";
    case ARCHIVE_OTHER:
        break;
    }
    return "other";
}

/* dir includes its trailing slash: "", "data/", or "TOP/data/" (one folder above). */
static int
archive_dir_ok(const char *dir, size_t len)
{
    if (len == 0 || (len == 5 && memcmp(dir, "data/", 5) == 0))
        return 1;
    return len > 6 && memcmp(dir + len - 6, "/data/", 6) == 0 && memchr(dir, '/', len - 6) == NULL;
}

/* s follows "-part": 1 to 4 digits without a leading zero, then ".js". */
static int
archive_part_number(const char *s, unsigned *part)
{
    unsigned v = 0;
    size_t i;

    if (s[0] < '1' || s[0] > '9')
        return -1;
    for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
        if (i == 4)
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (strcmp(s + i, ".js") != 0)
        return -1;
    *part = v;
    return 0;
}

enum archive_kind
archive_classify(const char *name, unsigned *part)
{
    static const struct {
        const char *stem;
        enum archive_kind kind;
        int parts;
    } files[] = {
        { "account", ARCHIVE_ACCOUNT, 0 },
        { "manifest", ARCHIVE_MANIFEST, 0 },
        { "follower", ARCHIVE_FOLLOWER, 1 },
        { "following", ARCHIVE_FOLLOWING, 1 },
    };
    const char *slash = strrchr(name, '/');
    const char *base = slash != NULL ? slash + 1 : name;
    unsigned scratch;
    size_t i, n;

    if (part == NULL)
        part = &scratch;
    *part = 0;
    if (!archive_dir_ok(name, (size_t)(base - name)))
        return ARCHIVE_OTHER;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        n = strlen(files[i].stem);
        if (strncmp(base, files[i].stem, n) != 0)
            continue;
        if (strcmp(base + n, ".js") == 0)
            return files[i].kind;
        if (files[i].parts && strncmp(base + n, "-part", 5) == 0 &&
            archive_part_number(base + n + 5, part) == 0)
            return files[i].kind;
    }
    *part = 0;
    return ARCHIVE_OTHER;
}

/*
 * A small JSON reader over one element held in memory (in the caller's chunk or in the
 * stream's buffer). json_validate validates (strict RFC 8259, nesting capped) in one pass;
 * the other helpers assume an element it already accepted.
 */
static const unsigned char json_ws_tab[256] = { ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1 };

static int
json_is_ws(unsigned char c)
{
    return json_ws_tab[c];
}

static void
json_ws(const char *b, size_t n, size_t *pos)
{
    size_t p = *pos;

    while (p < n && json_ws_tab[(unsigned char)b[p]])
        p++;
    *pos = p;
}

static int
json_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#define SWAR_ONES  0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL

/*
 * The first '"', '\\' or control character in b[p..n), or n: eight bytes at a time where
 * the byte order lets the lowest flagged byte be the first one. Each test below flags its
 * first matching byte exactly (borrows only run upwards from a match), so the lowest bit
 * of their union is the first byte any of them matches.
 */
static size_t
json_string_run(const unsigned char *b, size_t p, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (n - p >= 8) {
        uint64_t x, q, e, t;

        memcpy(&x, b + p, 8);
        q = x ^ (SWAR_ONES * '"');
        e = x ^ (SWAR_ONES * '\\');
        t = ((q - SWAR_ONES) & ~q) | ((e - SWAR_ONES) & ~e) | ((x - SWAR_ONES * 0x20) & ~x);
        t &= SWAR_HIGHS;
        if (t != 0)
            return p + (size_t)__builtin_ctzll(t) / 8;
        p += 8;
    }
#endif
    while (p < n && b[p] != '"' && b[p] != '\\' && b[p] >= 0x20)
        p++;
    return p;
}

/* The string whose quote is at b[*pos]: -1 if invalid or cut, else 1 if it has escapes. */
static int
json_scan_string(const unsigned char *b, size_t n, size_t *pos)
{
    size_t p = *pos + 1, k;
    int escaped = 0;
    unsigned char c;

    for (;;) {
        p = json_string_run(b, p, n);
        if (p >= n)
            return -1;
        c = b[p];
        if (c == '"') {
            *pos = p + 1;
            return escaped;
        }
        if (c < 0x20 || p + 1 >= n)
            return -1;
        escaped = 1;
        c = b[p + 1];
        if (c == 'u') {
            if (n - p < 6)
                return -1;
            for (k = 2; k < 6; k++)
                if (json_hex(b[p + k]) < 0)
                    return -1;
            p += 6;
        } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                   c == 'r' || c == 't') {
            p += 2;
        } else {
            return -1;
        }
    }
}

static int
json_digits(const char *b, size_t n, size_t *pos)
{
    size_t start = *pos;

    while (*pos < n && b[*pos] >= '0' && b[*pos] <= '9')
        (*pos)++;
    return *pos > start ? 0 : -1;
}

static int
json_skip_number(const char *b, size_t n, size_t *pos)
{
    if (*pos < n && b[*pos] == '-')
        (*pos)++;
    if (*pos < n && b[*pos] == '0')
        (*pos)++;
    else if (json_digits(b, n, pos) < 0)
        return -1;
    if (*pos < n && b[*pos] == '.') {
        (*pos)++;
        if (json_digits(b, n, pos) < 0)
            return -1;
    }
    if (*pos < n && (b[*pos] == 'e' || b[*pos] == 'E')) {
        (*pos)++;
        if (*pos < n && (b[*pos] == '+' || b[*pos] == '-'))
            (*pos)++;
        if (json_digits(b, n, pos) < 0)
            return -1;
    }
    return 0;
}

static int
json_skip_literal(const char *b, size_t n, size_t *pos, const char *word, size_t len)
{
    if (n - *pos < len || memcmp(b + *pos, word, len) != 0)
        return -1;
    *pos += len;
    return 0;
}

/*
 * Where an edge's members are, noted while validating so that nothing searches the element
 * again: the wrapper ("follower": {...}), and accountId at the top or inside the wrapper.
 */
struct json_keys {
    const char *kind; /* the wrapper's key */
    size_t kind_len;
    int kinds; /* times the wrapper's key is at the top */
    size_t kind_at;
    int ids; /* accountId at the top */
    size_t id_at;
    int inner_ids; /* accountId in the (first) wrapper object */
    size_t inner_id_at;
    int escaped; /* a key that matters had escapes: json_member decodes them instead */
};

enum json_mark { MARK_NONE, MARK_KIND, MARK_ID, MARK_INNER_ID };

static void
json_keys_init(struct json_keys *k, const char *kind)
{
    memset(k, 0, sizeof(*k));
    k->kind = kind;
    k->kind_len = strlen(kind);
}

/* A key at the top (top) or in the wrapper object; its value is marked to be noted. */
static enum json_mark
json_note_key(struct json_keys *k, const unsigned char *key, size_t len, int top)
{
    int id = len == 9 && memcmp(key, "accountId", 9) == 0;

    if (top && len == k->kind_len && memcmp(key, k->kind, len) == 0)
        return ++k->kinds == 1 ? MARK_KIND : MARK_NONE;
    if (id && top)
        return ++k->ids == 1 ? MARK_ID : MARK_NONE;
    if (id)
        return ++k->inner_ids == 1 ? MARK_INNER_ID : MARK_NONE;
    return MARK_NONE;
}

/*
 * Validates the value at b (white space first is skipped) in one pass, without recursion:
 * strict RFC 8259, at most ARCHIVE_MAX_DEPTH containers deep. Returns 0 with *end just past
 * it, or -1 if it is invalid or b ends first. k, if not NULL, gets an edge's members. The
 * labels are the states (a value, a key, what follows a value), so that the hot path is
 * jumps rather than calls: this runs over every byte of every list.
 */
static int
json_validate(const char *text, size_t n, size_t *end, struct json_keys *k)
{
    const unsigned char *b = (const unsigned char *)text;
    uint64_t objects = 0; /* bit d: the container at depth d + 1 is an object */
    int depth = 0, inner = 0, r;
    enum json_mark mark = MARK_NONE;
    size_t p = 0, key;
    unsigned char c;

value:
    while (p < n && json_ws_tab[b[p]])
        p++;
    if (p >= n)
        return -1;
    if (mark != MARK_NONE) {
        if (mark == MARK_KIND) {
            k->kind_at = p;
            if (b[p] == '{')
                inner = depth + 1;
        } else if (mark == MARK_ID) {
            k->id_at = p;
        } else {
            k->inner_id_at = p;
        }
        mark = MARK_NONE;
    }
    switch (b[p]) {
    case '{':
    case '[':
        if (depth == ARCHIVE_MAX_DEPTH)
            return -1;
        c = b[p++];
        if (c == '{')
            objects |= 1ULL << depth;
        else
            objects &= ~(1ULL << depth);
        depth++;
        while (p < n && json_ws_tab[b[p]])
            p++;
        if (p < n && b[p] == c + 2) { /* '{' + 2 is '}', '[' + 2 is ']' */
            p++;
            goto close;
        }
        if (c == '[')
            goto value;
        goto key;
    case '"':
        if (json_scan_string(b, n, &p) < 0)
            return -1;
        goto after;
    case 't':
        if (json_skip_literal(text, n, &p, "true", 4) < 0)
            return -1;
        goto after;
    case 'f':
        if (json_skip_literal(text, n, &p, "false", 5) < 0)
            return -1;
        goto after;
    case 'n':
        if (json_skip_literal(text, n, &p, "null", 4) < 0)
            return -1;
        goto after;
    default:
        if (json_skip_number(text, n, &p) < 0)
            return -1;
        goto after;
    }

key:
    if (p >= n || b[p] != '"')
        return -1;
    key = p;
    r = json_scan_string(b, n, &p);
    if (r < 0)
        return -1;
    if (k != NULL && (depth == 1 || depth == inner)) {
        if (r > 0)
            k->escaped = 1;
        else
            mark = json_note_key(k, b + key + 1, p - key - 2, depth == 1);
    }
    while (p < n && json_ws_tab[b[p]])
        p++;
    if (p >= n || b[p] != ':')
        return -1;
    p++;
    goto value;

after:
    if (depth == 0) {
        *end = p;
        return 0;
    }
    while (p < n && json_ws_tab[b[p]])
        p++;
    if (p >= n)
        return -1;
    c = b[p++];
    if (c == ',') {
        if (!(objects >> (depth - 1) & 1))
            goto value;
        while (p < n && json_ws_tab[b[p]])
            p++;
        goto key;
    }
    if (c != (objects >> (depth - 1) & 1 ? '}' : ']'))
        return -1;
close:
    if (depth == inner)
        inner = 0;
    depth--;
    goto after;
}

/* Steps over the validated value at *pos. */
static void
json_skip_value(const char *b, size_t n, size_t *pos)
{
    size_t len;

    if (json_validate(b + *pos, n - *pos, &len, NULL) == 0)
        *pos += len;
}

static size_t
json_put_utf8(char *out, size_t cap, size_t len, unsigned cp)
{
    unsigned char u[4];
    size_t k, n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    for (k = 0; k < n; k++)
        if (len + k < cap)
            out[len + k] = (char)u[k];
    return len + n;
}

static unsigned
json_u4(const char *p)
{
    return (unsigned)(json_hex((unsigned char)p[0]) << 12 | json_hex((unsigned char)p[1]) << 8 |
                      json_hex((unsigned char)p[2]) << 4 | json_hex((unsigned char)p[3]));
}

/*
 * Decodes the validated string at *pos into out (at most cap bytes, not terminated) and
 * returns its full decoded length, which is more than cap when it did not fit. A lone
 * surrogate becomes U+FFFD.
 */
static size_t
json_decode_string(const char *b, size_t *pos, char *out, size_t cap)
{
    size_t p = *pos + 1, len = 0;
    unsigned cp, lo;

    while (b[p] != '"') {
        if (b[p] != '\\') {
            if (len < cap)
                out[len] = b[p];
            len++;
            p++;
            continue;
        }
        switch (b[p + 1]) {
        case 'u':
            cp = json_u4(b + p + 2);
            p += 6;
            if (cp >= 0xd800 && cp < 0xdc00 && b[p] == '\\' && b[p + 1] == 'u') {
                lo = json_u4(b + p + 2);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }
            if (cp >= 0xd800 && cp < 0xe000)
                cp = 0xfffd;
            len = json_put_utf8(out, cap, len, cp);
            continue;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        default:
            cp = (unsigned char)b[p + 1];
            break;
        }
        if (len < cap)
            out[len] = (char)cp;
        len++;
        p += 2;
    }
    *pos = p + 1;
    return len;
}

/*
 * Steps through a validated container: from its opening bracket (first) or from the end of
 * an item to the next item. Returns 0 at the closing bracket.
 */
static int
json_next(const char *b, size_t n, size_t *pos, int first)
{
    if (first)
        (*pos)++;
    json_ws(b, n, pos);
    if (!first && *pos < n && b[*pos] == ',') {
        (*pos)++;
        json_ws(b, n, pos);
    }
    return *pos < n && b[*pos] != '}' && b[*pos] != ']';
}

/*
 * Finds key in the validated object at obj; *val gets where its value starts. Returns 1, 0
 * when absent, or -1 when the key is there twice (readers disagree on which one counts, so
 * neither does).
 */
static int
json_member(const char *b, size_t n, size_t obj, const char *key, size_t *val)
{
    char k[KEY_MAX];
    size_t p = obj, klen, want = strlen(key);
    int found = 0, first = 1;

    if (b[obj] != '{')
        return 0;
    while (json_next(b, n, &p, first)) {
        first = 0;
        klen = json_decode_string(b, &p, k, sizeof(k));
        json_ws(b, n, &p);
        p++; /* ':' */
        json_ws(b, n, &p);
        if (klen == want && memcmp(k, key, want) == 0) {
            if (found)
                return -1;
            found = 1;
            *val = p;
        }
        json_skip_value(b, n, &p);
    }
    return found;
}

enum archive_num { NUM_OK = 0, NUM_NOT_A_NUMBER = -1, NUM_TOO_LARGE = -2 };

/* Decimal digits only, no sign, no point; computed in integers so ids above 2^53 stay exact. */
static enum archive_num
archive_parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    int over = 0;
    size_t i;

    if (len == 0)
        return NUM_NOT_A_NUMBER;
    for (i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';

        if (d > 9)
            return NUM_NOT_A_NUMBER;
        if (v > (UINT64_MAX - d) / 10)
            over = 1;
        else
            v = v * 10 + d;
    }
    if (over)
        return NUM_TOO_LARGE;
    *out = v;
    return NUM_OK;
}

/* A JSON string of digits (as X writes ids and counts) or a bare integer. */
static enum archive_num
archive_number_at(const char *b, size_t n, size_t pos, uint64_t *out)
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
            return NUM_OK;
        }
        len = json_decode_string(b, &end, text, sizeof(text));
        if (len > sizeof(text))
            return NUM_NOT_A_NUMBER;
        return archive_parse_u64(text, len, out);
    }
    if (b[pos] < '0' || b[pos] > '9')
        return NUM_NOT_A_NUMBER;
    json_skip_number(b, n, &end);
    return archive_parse_u64(b + pos, end - pos, out);
}

enum archive_state {
    ST_START,
    ST_BOM,
    ST_NAME,
    ST_BEFORE_EQ,
    ST_AFTER_EQ,
    ST_FIRST,
    ST_ELEMENT,
    ST_AFTER,
    ST_NEXT,
    ST_END,
    ST_SEMI,
    ST_ERROR,
};

struct archive_stream {
    enum archive_kind kind;
    char label[LABEL_MAX + 1];
    struct archive_callbacks cb;
    enum archive_state st;
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
    char error[LABEL_MAX + 2 + MSG_MAX];
};

/* Names reach messages and logs: printable ASCII only, at most LABEL_MAX bytes. */
static void
archive_label(char out[LABEL_MAX + 1], const char *name)
{
    size_t i;

    for (i = 0; name[i] != '\0' && i < LABEL_MAX; i++)
        out[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    out[i] = '\0';
}

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
    s->st = ST_ERROR;
    return archive_fail(err, errlen, "%s", s->error);
}

/* A callback's own message is kept as it is. */
static int
archive_stream_failed_cb(struct archive_stream *s, char *err, size_t errlen)
{
    if (errlen > 0 && err[0] == '\0')
        snprintf(err, errlen, "%s: stopped by the importer", s->label);
    snprintf(s->error, sizeof(s->error), "%s", errlen > 0 ? err : "stopped by the importer");
    s->st = ST_ERROR;
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
    return s->kind == ARCHIVE_ACCOUNT && s->have_account && s->st != ST_ERROR ? &s->account : NULL;
}

const struct archive_manifest *
archive_stream_manifest(const struct archive_stream *s)
{
    return s->manifest.present && s->st != ST_ERROR ? &s->manifest : NULL;
}

/* One whole element, validated, where it lies: in the caller's chunk or in the buffer. */
struct archive_elem {
    const char *b;
    size_t n;
    struct json_keys k;
};

/* What json_member says of the noted keys, found without searching. */
static int
archive_noted(int times, size_t at, size_t *val)
{
    if (times == 1)
        *val = at;
    return times > 1 ? -1 : times;
}

/* The id of a list element or of the account: errors name the element, 1-based. */
static int
archive_stream_id(struct archive_stream *s, const struct archive_elem *e, size_t obj, uint64_t *id,
                  char *err, size_t errlen)
{
    size_t v = 0;
    int r;

    if (e->k.escaped)
        r = json_member(e->b, e->n, obj, "accountId", &v);
    else if (obj == 0)
        r = archive_noted(e->k.ids, e->k.id_at, &v);
    else
        r = archive_noted(e->k.inner_ids, e->k.inner_id_at, &v);

    if (r < 0)
        return archive_stream_fail(s, err, errlen, "element %llu: accountId is there twice",
                                   (unsigned long long)s->elements);
    if (r == 0)
        return archive_stream_fail(s, err, errlen, "element %llu: no accountId",
                                   (unsigned long long)s->elements);
    switch (archive_number_at(e->b, e->n, v, id)) {
    case NUM_NOT_A_NUMBER:
        return archive_stream_fail(s, err, errlen, "element %llu: accountId is not a number",
                                   (unsigned long long)s->elements);
    case NUM_TOO_LARGE:
        return archive_stream_fail(s, err, errlen,
                                   "element %llu: accountId is larger than 64 bits allow",
                                   (unsigned long long)s->elements);
    case NUM_OK:
        break;
    }
    if (*id == 0)
        return archive_stream_fail(s, err, errlen, "element %llu: accountId is 0",
                                   (unsigned long long)s->elements);
    return 0;
}

/* {"follower": {...}} or, as some early archives have it, the inner object alone. */
static int
archive_stream_inner(struct archive_stream *s, const struct archive_elem *e, size_t *inner,
                     char *err, size_t errlen)
{
    const char *key = archive_kind_name(s->kind);
    int r = e->k.escaped ? json_member(e->b, e->n, 0, key, inner)
                         : archive_noted(e->k.kinds, e->k.kind_at, inner);

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
archive_stream_edge(struct archive_stream *s, const struct archive_elem *e, char *err,
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
archive_handle_ok(const char *h, size_t len)
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
archive_clean_text(const char *in, size_t n, char *out, size_t cap)
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
archive_stream_account_element(struct archive_stream *s, const struct archive_elem *e, char *err,
                               size_t errlen)
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
    r = json_member(e->b, e->n, inner, "username", &v);
    len = r == 1 && e->b[v] == '"' ? json_decode_string(e->b, &v, text, sizeof(text)) : 0;
    if (len > sizeof(text) || !archive_handle_ok(text, len))
        return archive_stream_fail(s, err, errlen,
                                   "username is missing or not an X handle "
                                   "(1 to 15 letters, digits or _)");
    memcpy(a->username, text, len);
    a->username[len] = '\0';
    r = json_member(e->b, e->n, inner, "accountDisplayName", &v);
    if (r == 1 && e->b[v] == '"') {
        len = json_decode_string(e->b, &v, text, sizeof(text));
        archive_clean_text(text, len < sizeof(text) ? len : sizeof(text), a->display_name,
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
archive_manifest_count(struct archive_stream *s, const struct archive_elem *e, size_t types,
                       const char *type, int *has, uint64_t *sum, char *err, size_t errlen)
{
    size_t t, files, p, c;
    uint64_t count;
    unsigned i = 0;
    int first = 1;

    *has = 0;
    *sum = 0;
    if (json_member(e->b, e->n, types, type, &t) != 1 ||
        json_member(e->b, e->n, t, "files", &files) != 1 || e->b[files] != '[')
        return 0;
    p = files;
    while (json_next(e->b, e->n, &p, first)) {
        first = 0;
        i++;
        if (json_member(e->b, e->n, p, "count", &c) != 1 ||
            archive_number_at(e->b, e->n, c, &count) != NUM_OK || count > UINT64_MAX - *sum)
            return archive_stream_fail(s, err, errlen,
                                       "dataTypes.%s.files[%u].count is not a number", type, i - 1);
        *sum += count;
        json_skip_value(e->b, e->n, &p);
    }
    *has = 1;
    return 0;
}

static int
archive_stream_manifest_element(struct archive_stream *s, const struct archive_elem *e, char *err,
                                size_t errlen)
{
    struct archive_manifest *m = &s->manifest;
    size_t user, id, types;

    if (json_member(e->b, e->n, 0, "userInfo", &user) == 1 &&
        json_member(e->b, e->n, user, "accountId", &id) == 1 &&
        archive_number_at(e->b, e->n, id, &m->account_id) != NUM_OK)
        return archive_stream_fail(s, err, errlen, "userInfo.accountId is not a number");
    if (json_member(e->b, e->n, 0, "dataTypes", &types) == 1 &&
        (archive_manifest_count(s, e, types, "follower", &m->has_follower_count, &m->follower_count,
                                err, errlen) < 0 ||
         archive_manifest_count(s, e, types, "following", &m->has_following_count,
                                &m->following_count, err, errlen) < 0))
        return -1;
    m->present = 1;
    return 0;
}

/* The element just counted, validated wherever it lies. */
static int
archive_stream_dispatch(struct archive_stream *s, const struct archive_elem *e, char *err,
                        size_t errlen)
{
    switch (s->kind) {
    case ARCHIVE_ACCOUNT:
        return archive_stream_account_element(s, e, err, errlen);
    case ARCHIVE_MANIFEST:
        return archive_stream_manifest_element(s, e, err, errlen);
    case ARCHIVE_FOLLOWER:
    case ARCHIVE_FOLLOWING:
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
    struct archive_elem e = { s->buf, s->len, { 0 } };
    size_t end;

    s->elements++;
    json_keys_init(&e.k, archive_kind_name(s->kind));
    if (json_validate(s->buf, s->len, &end, &e.k) < 0 || end != s->len) {
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
    struct archive_elem e;
    size_t avail = n - *i < s->max ? n - *i : s->max;

    json_keys_init(&e.k, archive_kind_name(s->kind));
    e.b = (const char *)p + *i;
    if (json_validate(e.b, avail, &e.n, &e.k) < 0)
        return 0;
    *i += e.n;
    s->st = s->kind == ARCHIVE_MANIFEST ? ST_END : ST_AFTER;
    s->elements++;
    return archive_stream_dispatch(s, &e, err, errlen) < 0 ? -1 : 1;
}

static int
archive_name_char(unsigned char c)
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
    s->st = ST_ELEMENT;
    s->len = 0;
    s->depth = 0;
    s->in_string = 0;
    s->escape = 0;
}

/* One byte outside an element. Returns 1 when the byte opens an element (not consumed). */
static int
archive_stream_step(struct archive_stream *s, unsigned char c, char *err, size_t errlen)
{
    int ws = json_is_ws(c);

    switch (s->st) {
    case ST_START:
        if (c == 0xef && s->offset == 0) {
            s->st = ST_BOM;
            s->bom = 1;
            return 0;
        }
        if (ws)
            return 0;
        if (!archive_name_char(c))
            return archive_stream_wrapper_error(s, err, errlen);
        s->st = ST_NAME;
        s->name[s->name_len++] = (char)c;
        return 0;
    case ST_BOM:
        if (c != (s->bom == 1 ? 0xbb : 0xbf))
            return archive_stream_wrapper_error(s, err, errlen);
        if (++s->bom == 3)
            s->st = ST_START;
        return 0;
    case ST_NAME:
        if (archive_name_char(c)) {
            if (s->name_len == GLOBAL_NAME_MAX)
                return archive_stream_wrapper_error(s, err, errlen);
            s->name[s->name_len++] = (char)c;
            return 0;
        }
        if (!ws && c != '=')
            return archive_stream_wrapper_error(s, err, errlen);
        if (archive_stream_check_name(s, err, errlen) < 0)
            return -1;
        s->st = c == '=' ? ST_AFTER_EQ : ST_BEFORE_EQ;
        return 0;
    case ST_BEFORE_EQ:
        if (ws)
            return 0;
        if (c != '=')
            return archive_stream_wrapper_error(s, err, errlen);
        s->st = ST_AFTER_EQ;
        return 0;
    case ST_AFTER_EQ:
        if (ws)
            return 0;
        if (s->kind == ARCHIVE_MANIFEST && c == '{') {
            archive_stream_begin_element(s);
            return 1;
        }
        if (s->kind == ARCHIVE_MANIFEST || c != '[')
            return archive_stream_wrapper_error(s, err, errlen);
        s->st = ST_FIRST;
        return 0;
    case ST_FIRST:
    case ST_NEXT:
        if (ws)
            return 0;
        if (c == '{') {
            archive_stream_begin_element(s);
            return 1;
        }
        if (c == ']' && s->st == ST_FIRST) {
            s->st = ST_END;
            return 0;
        }
        return archive_stream_fail(s, err, errlen, "element %llu is not an object",
                                   (unsigned long long)s->elements + 1);
    case ST_AFTER:
        if (ws)
            return 0;
        if (c == ',') {
            s->st = ST_NEXT;
            return 0;
        }
        if (c == ']') {
            s->st = ST_END;
            return 0;
        }
        return archive_stream_fail(s, err, errlen, "after element %llu: expected , or ]",
                                   (unsigned long long)s->elements);
    case ST_END:
    case ST_SEMI:
        if (ws)
            return 0;
        if (c == ';' && s->st == ST_END) {
            s->st = ST_SEMI;
            return 0;
        }
        return archive_stream_fail(s, err, errlen, "unexpected data after the %s",
                                   s->kind == ARCHIVE_MANIFEST ? "object" : "list");
    case ST_ELEMENT:
    case ST_ERROR:
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
                j = json_string_run(p, j, end);
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
    s->st = s->kind == ARCHIVE_MANIFEST ? ST_END : ST_AFTER;
    return archive_stream_element(s, err, errlen);
}

int
archive_stream_feed(struct archive_stream *s, const void *buf, size_t len, char *err, size_t errlen)
{
    const unsigned char *p = buf;
    size_t i = 0;
    int r;

    if (s->st == ST_ERROR)
        return archive_fail(err, errlen, "%s", s->error);
    while (i < len) {
        if (s->st == ST_ELEMENT) {
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
        if (s->st != ST_BOM && s->st != ST_NAME && json_ws_tab[p[i]]) {
            size_t from = i;

            while (++i < len && json_ws_tab[p[i]])
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
    case ST_ERROR:
        return archive_fail(err, errlen, "%s", s->error);
    case ST_END:
    case ST_SEMI:
        if (s->kind == ARCHIVE_ACCOUNT && s->elements == 0)
            return archive_stream_fail(s, err, errlen, "no account in it");
        return 0;
    case ST_START:
        return archive_stream_fail(s, err, errlen, "the file is empty");
    case ST_ELEMENT:
        return archive_stream_fail(s, err, errlen, "the file ends inside element %llu",
                                   (unsigned long long)s->elements + 1);
    default:
        return archive_stream_fail(s, err, errlen, "the file ends before the %s closes",
                                   s->kind == ARCHIVE_MANIFEST ? "object" : "list");
    }
}

struct archive_seen {
    enum archive_kind kind;
    unsigned part;
};

struct archive_reader {
    struct archive_callbacks cb;
    struct archive_stream *cur;
    struct archive_seen *seen;
    size_t nseen;
    int have_account;
    struct archive_result res;
};

struct archive_reader *
archive_reader_new(const struct archive_callbacks *cb)
{
    struct archive_reader *r = xcalloc(1, sizeof(*r));

    if (cb != NULL)
        r->cb = *cb;
    return r;
}

void
archive_reader_free(struct archive_reader *r)
{
    if (r == NULL)
        return;
    archive_stream_free(r->cur);
    free(r->seen);
    free(r);
}

int
archive_reader_begin(struct archive_reader *r, const char *name, char *err, size_t errlen)
{
    unsigned part;
    enum archive_kind kind = archive_classify(name, &part);
    char shown[LABEL_MAX + 1];
    size_t i;

    archive_label(shown, name);
    if (r->cur != NULL)
        return archive_fail(err, errlen, "%s: the previous file was not ended", shown);
    if (kind == ARCHIVE_OTHER)
        return archive_fail(err, errlen,
                            "%s: not one of the files passerelle reads (account.js, "
                            "manifest.js, follower*.js, following*.js)",
                            shown);
    for (i = 0; i < r->nseen; i++)
        if (r->seen[i].kind == kind && r->seen[i].part == part)
            return archive_fail(err, errlen, "%s: %s part %u was already read", shown,
                                archive_kind_name(kind), part);
    if (r->nseen == ARCHIVE_MAX_FILES)
        return archive_fail(err, errlen, "more than %d files in one archive", ARCHIVE_MAX_FILES);
    if (r->seen == NULL)
        r->seen = xcalloc(ARCHIVE_MAX_FILES, sizeof(*r->seen));
    r->seen[r->nseen].kind = kind;
    r->seen[r->nseen++].part = part;
    r->cur = archive_stream_new(kind, shown, &r->cb);
    return 0;
}

int
archive_reader_feed(struct archive_reader *r, const void *buf, size_t len, char *err, size_t errlen)
{
    if (r->cur == NULL)
        return archive_fail(err, errlen, "no file begun");
    return archive_stream_feed(r->cur, buf, len, err, errlen);
}

int
archive_reader_end(struct archive_reader *r, char *err, size_t errlen)
{
    struct archive_stream *s = r->cur;

    if (s == NULL)
        return archive_fail(err, errlen, "no file begun");
    r->cur = NULL;
    if (archive_stream_finish(s, err, errlen) < 0) {
        archive_stream_free(s);
        return -1;
    }
    if (s->kind == ARCHIVE_ACCOUNT) {
        r->res.account = s->account;
        r->have_account = 1;
    } else if (s->kind == ARCHIVE_MANIFEST) {
        r->res.manifest = s->manifest;
    } else if (s->kind == ARCHIVE_FOLLOWER) {
        r->res.followers += s->elements;
        r->res.follower_files++;
    } else {
        r->res.following += s->elements;
        r->res.following_files++;
    }
    archive_stream_free(s);
    return 0;
}

/* What makes a set of files an X archive at all; said before any list is read if possible. */
static int
archive_check_present(int have_account, int have_lists, char *err, size_t errlen)
{
    if (!have_account)
        return archive_fail(err, errlen, "not an X archive (no data/account.js)");
    if (!have_lists)
        return archive_fail(err, errlen, "no follower or following lists in the archive");
    return 0;
}

static int
archive_check_count(const char *what, int has, uint64_t want, uint64_t got, char *err,
                    size_t errlen)
{
    if (has && want != got)
        return archive_fail(err, errlen,
                            "the %s lists hold %llu accounts but manifest.js says %llu", what,
                            (unsigned long long)got, (unsigned long long)want);
    return 0;
}

int
archive_reader_finish(struct archive_reader *r, struct archive_result *out, char *err,
                      size_t errlen)
{
    const struct archive_manifest *m = &r->res.manifest;

    if (r->cur != NULL)
        return archive_fail(err, errlen, "%s: the file was not ended", r->cur->label);
    if (archive_check_present(r->have_account, r->res.follower_files + r->res.following_files > 0,
                              err, errlen) < 0)
        return -1;
    if (m->present && m->account_id != 0 && m->account_id != r->res.account.account_id)
        return archive_fail(
            err, errlen, "account.js and manifest.js name different accounts (%llu and %llu)",
            (unsigned long long)r->res.account.account_id, (unsigned long long)m->account_id);
    if (archive_check_count("follower", m->has_follower_count, m->follower_count, r->res.followers,
                            err, errlen) < 0 ||
        archive_check_count("following", m->has_following_count, m->following_count,
                            r->res.following, err, errlen) < 0)
        return -1;
    if (out != NULL)
        *out = r->res;
    return 0;
}

/* One file to read in an import: a zip entry or a loose file. */
struct archive_item {
    const char *name; /* what archive_classify sees and errors show */
    enum archive_kind kind;
    unsigned part;
    const void *ref; /* the zipread entry or the path */
};

typedef int (*archive_item_fn)(void *src, const struct archive_item *it, struct archive_reader *r,
                               char *err, size_t errlen);

static int
archive_cmp_item(const void *a, const void *b)
{
    const struct archive_item *x = a, *y = b;

    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->part < y->part ? -1 : x->part > y->part;
}

/* Account first (so the account callback precedes every edge), then manifest, then lists. */
static int
archive_read_items(struct archive_item *items, size_t n, archive_item_fn feed, void *src,
                   const struct archive_callbacks *cb, struct archive_result *out, char *err,
                   size_t errlen)
{
    struct archive_reader *r;
    size_t i;
    int rc = -1;

    if (n > 1) /* items is NULL for a zip with none of the files */
        qsort(items, n, sizeof(*items), archive_cmp_item);
    if (archive_check_present(n > 0 && items[0].kind == ARCHIVE_ACCOUNT,
                              n > 0 && items[n - 1].kind >= ARCHIVE_FOLLOWER, err, errlen) < 0)
        return -1;
    r = archive_reader_new(cb);
    for (i = 0; i < n; i++) {
        if (archive_reader_begin(r, items[i].name, err, errlen) < 0)
            goto out;
        if (feed(src, &items[i], r, err, errlen) < 0)
            goto out;
        if (archive_reader_end(r, err, errlen) < 0)
            goto out;
    }
    rc = archive_reader_finish(r, out, err, errlen);
out:
    archive_reader_free(r);
    return rc;
}

static int
archive_zip_chunk(void *ctx, const unsigned char *buf, size_t len, char *err, size_t errlen)
{
    return archive_reader_feed(ctx, buf, len, err, errlen);
}

static int
archive_zip_item(void *src, const struct archive_item *it, struct archive_reader *r, char *err,
                 size_t errlen)
{
    return zipread_extract(src, it->ref, archive_zip_chunk, r, err, errlen);
}

int
archive_read_zipread(struct zipread *z, const struct archive_callbacks *cb,
                     struct archive_result *out, char *err, size_t errlen)
{
    struct archive_item *items = NULL;
    size_t i, n = 0, count = zipread_count(z);
    int rc;

    for (i = 0; i < count; i++) {
        const struct zipread_entry *e = zipread_entry(z, i);
        unsigned part;
        enum archive_kind kind = archive_classify(e->name, &part);

        if (kind == ARCHIVE_OTHER)
            continue;
        if (n == ARCHIVE_MAX_FILES) {
            free(items);
            return archive_fail(err, errlen, "more than %d files in one archive",
                                ARCHIVE_MAX_FILES);
        }
        if (items == NULL)
            items = xcalloc(ARCHIVE_MAX_FILES, sizeof(*items));
        items[n].name = e->name;
        items[n].kind = kind;
        items[n].part = part;
        items[n++].ref = e;
    }
    rc = archive_read_items(items, n, archive_zip_item, z, cb, out, err, errlen);
    free(items);
    return rc;
}

int
archive_read_zip(const char *path, const struct zipread_limits *limits,
                 const struct archive_callbacks *cb, struct archive_result *out, char *err,
                 size_t errlen)
{
    struct zipread *z = zipread_open(path, limits, err, errlen);
    int rc;

    if (z == NULL)
        return -1;
    rc = archive_read_zipread(z, cb, out, err, errlen);
    zipread_close(z);
    return rc;
}

static int
archive_file_item(void *src, const struct archive_item *it, struct archive_reader *r, char *err,
                  size_t errlen)
{
    const char *path = it->ref;
    unsigned char *buf;
    ssize_t got;
    int fd, rc = 0;

    (void)src;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return archive_fail(err, errlen, "cannot open %s: %s", path, strerror(errno));
    buf = xmalloc(READ_CHUNK);
    for (;;) {
        got = read(fd, buf, READ_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = archive_fail(err, errlen, "cannot read %s: %s", path, strerror(errno));
        else if (got > 0)
            rc = archive_reader_feed(r, buf, (size_t)got, err, errlen);
        if (got <= 0 || rc < 0)
            break;
    }
    free(buf);
    close(fd);
    return rc;
}

int
archive_read_files(const char *const *paths, size_t n, const struct archive_callbacks *cb,
                   struct archive_result *out, char *err, size_t errlen)
{
    struct archive_item *items;
    size_t i;
    int rc;

    if (n > ARCHIVE_MAX_FILES)
        return archive_fail(err, errlen, "more than %d files in one archive", ARCHIVE_MAX_FILES);
    items = xcalloc(n, sizeof(*items));
    for (i = 0; i < n; i++) {
        const char *slash = strrchr(paths[i], '/');

        items[i].name = slash != NULL ? slash + 1 : paths[i];
        items[i].kind = archive_classify(items[i].name, &items[i].part);
        items[i].ref = paths[i];
        if (items[i].kind == ARCHIVE_OTHER) {
            rc = archive_fail(err, errlen,
                              "%s: not one of the files passerelle reads (account.js, "
                              "manifest.js, follower*.js, following*.js)",
                              items[i].name);
            free(items);
            return rc;
        }
    }
    rc = archive_read_items(items, n, archive_file_item, NULL, cb, out, err, errlen);
    free(items);
    return rc;
}
