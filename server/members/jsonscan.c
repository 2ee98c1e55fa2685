/* The JSON element scanner of X archives: validation in one pass, then member lookups. */
#include <stdint.h>
#include <string.h>

#include "archive.h"
#include "hex.h"
#include "jsonscan.h"

#define KEY_MAX 64 /* longer keys are none of the ones looked up */

const unsigned char jscan_ws_tab[256] = { ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1 };

int
jscan_is_ws(unsigned char c)
{
    return jscan_ws_tab[c];
}

static void
jscan_ws(const char *b, size_t n, size_t *pos)
{
    size_t p = *pos;

    while (p < n && jscan_ws_tab[(unsigned char)b[p]])
        p++;
    *pos = p;
}

#define SWAR_ONES  0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL

/*
 * The first '"', '\\' or control character in b[p..n), or n: eight bytes at a time where
 * the byte order lets the lowest flagged byte be the first one. Each test below flags its
 * first matching byte exactly (borrows only run upwards from a match), so the lowest bit
 * of their union is the first byte any of them matches.
 */
size_t
jscan_string_run(const unsigned char *b, size_t p, size_t n)
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
jscan_scan_string(const unsigned char *b, size_t n, size_t *pos)
{
    size_t p = *pos + 1, k;
    int escaped = 0;
    unsigned char c;

    for (;;) {
        p = jscan_string_run(b, p, n);
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
                if (hex_value(b[p + k]) < 0)
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
jscan_digits(const char *b, size_t n, size_t *pos)
{
    size_t start = *pos;

    while (*pos < n && b[*pos] >= '0' && b[*pos] <= '9')
        (*pos)++;
    return *pos > start ? 0 : -1;
}

int
jscan_skip_number(const char *b, size_t n, size_t *pos)
{
    if (*pos < n && b[*pos] == '-')
        (*pos)++;
    if (*pos < n && b[*pos] == '0')
        (*pos)++;
    else if (jscan_digits(b, n, pos) < 0)
        return -1;
    if (*pos < n && b[*pos] == '.') {
        (*pos)++;
        if (jscan_digits(b, n, pos) < 0)
            return -1;
    }
    if (*pos < n && (b[*pos] == 'e' || b[*pos] == 'E')) {
        (*pos)++;
        if (*pos < n && (b[*pos] == '+' || b[*pos] == '-'))
            (*pos)++;
        if (jscan_digits(b, n, pos) < 0)
            return -1;
    }
    return 0;
}

static int
jscan_skip_literal(const char *b, size_t n, size_t *pos, const char *word, size_t len)
{
    if (n - *pos < len || memcmp(b + *pos, word, len) != 0)
        return -1;
    *pos += len;
    return 0;
}

enum jscan_mark { JSCAN_MARK_NONE, JSCAN_MARK_KIND, JSCAN_MARK_ID, JSCAN_MARK_INNER_ID };

void
jscan_keys_init(struct jscan_keys *k, const char *kind)
{
    memset(k, 0, sizeof(*k));
    k->kind = kind;
    k->kind_len = strlen(kind);
}

/* A key at the top (top) or in the wrapper object; its value is marked to be noted. */
static enum jscan_mark
jscan_note_key(struct jscan_keys *k, const unsigned char *key, size_t len, int top)
{
    int id = len == 9 && memcmp(key, "accountId", 9) == 0;

    if (top && len == k->kind_len && memcmp(key, k->kind, len) == 0)
        return ++k->kinds == 1 ? JSCAN_MARK_KIND : JSCAN_MARK_NONE;
    if (id && top)
        return ++k->ids == 1 ? JSCAN_MARK_ID : JSCAN_MARK_NONE;
    if (id)
        return ++k->inner_ids == 1 ? JSCAN_MARK_INNER_ID : JSCAN_MARK_NONE;
    return JSCAN_MARK_NONE;
}

/*
 * Validates the value at b (white space first is skipped) in one pass, without recursion:
 * strict RFC 8259, at most ARCHIVE_MAX_DEPTH containers deep. Returns 0 with *end just past
 * it, or -1 if it is invalid or b ends first. k, if not NULL, gets an edge's members. The
 * labels are the states (a value, a key, what follows a value), so that the hot path is
 * jumps rather than calls: this runs over every byte of every list.
 */
int
jscan_validate(const char *text, size_t n, size_t *end, struct jscan_keys *k)
{
    const unsigned char *b = (const unsigned char *)text;
    uint64_t objects = 0; /* bit d: the container at depth d + 1 is an object */
    int depth = 0, inner = 0, r;
    enum jscan_mark mark = JSCAN_MARK_NONE;
    size_t p = 0, key;
    unsigned char c;

value:
    while (p < n && jscan_ws_tab[b[p]])
        p++;
    if (p >= n)
        return -1;
    if (mark != JSCAN_MARK_NONE) {
        if (mark == JSCAN_MARK_KIND) {
            k->kind_at = p;
            if (b[p] == '{')
                inner = depth + 1;
        } else if (mark == JSCAN_MARK_ID) {
            k->id_at = p;
        } else {
            k->inner_id_at = p;
        }
        mark = JSCAN_MARK_NONE;
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
        while (p < n && jscan_ws_tab[b[p]])
            p++;
        if (p < n && b[p] == c + 2) { /* '{' + 2 is '}', '[' + 2 is ']' */
            p++;
            goto close;
        }
        if (c == '[')
            goto value;
        goto key;
    case '"':
        if (jscan_scan_string(b, n, &p) < 0)
            return -1;
        goto after;
    case 't':
        if (jscan_skip_literal(text, n, &p, "true", 4) < 0)
            return -1;
        goto after;
    case 'f':
        if (jscan_skip_literal(text, n, &p, "false", 5) < 0)
            return -1;
        goto after;
    case 'n':
        if (jscan_skip_literal(text, n, &p, "null", 4) < 0)
            return -1;
        goto after;
    default:
        if (jscan_skip_number(text, n, &p) < 0)
            return -1;
        goto after;
    }

key:
    if (p >= n || b[p] != '"')
        return -1;
    key = p;
    r = jscan_scan_string(b, n, &p);
    if (r < 0)
        return -1;
    if (k != NULL && (depth == 1 || depth == inner)) {
        if (r > 0)
            k->escaped = 1;
        else
            mark = jscan_note_key(k, b + key + 1, p - key - 2, depth == 1);
    }
    while (p < n && jscan_ws_tab[b[p]])
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
    while (p < n && jscan_ws_tab[b[p]])
        p++;
    if (p >= n)
        return -1;
    c = b[p++];
    if (c == ',') {
        if (!(objects >> (depth - 1) & 1))
            goto value;
        while (p < n && jscan_ws_tab[b[p]])
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
void
jscan_skip_value(const char *b, size_t n, size_t *pos)
{
    size_t len;

    if (jscan_validate(b + *pos, n - *pos, &len, NULL) == 0)
        *pos += len;
}

static size_t
jscan_put_utf8(char *out, size_t cap, size_t len, unsigned cp)
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
jscan_u4(const char *p)
{
    return (unsigned)(hex_value((unsigned char)p[0]) << 12 | hex_value((unsigned char)p[1]) << 8 |
                      hex_value((unsigned char)p[2]) << 4 | hex_value((unsigned char)p[3]));
}

/*
 * Decodes the validated string at *pos into out (at most cap bytes, not terminated) and
 * returns its full decoded length, which is more than cap when it did not fit. A lone
 * surrogate becomes U+FFFD.
 */
size_t
jscan_decode_string(const char *b, size_t *pos, char *out, size_t cap)
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
            cp = jscan_u4(b + p + 2);
            p += 6;
            if (cp >= 0xd800 && cp < 0xdc00 && b[p] == '\\' && b[p + 1] == 'u') {
                lo = jscan_u4(b + p + 2);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }
            if (cp >= 0xd800 && cp < 0xe000)
                cp = 0xfffd;
            len = jscan_put_utf8(out, cap, len, cp);
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
int
jscan_next(const char *b, size_t n, size_t *pos, int first)
{
    if (first)
        (*pos)++;
    jscan_ws(b, n, pos);
    if (!first && *pos < n && b[*pos] == ',') {
        (*pos)++;
        jscan_ws(b, n, pos);
    }
    return *pos < n && b[*pos] != '}' && b[*pos] != ']';
}

/*
 * Finds key in the validated object at obj; *val gets where its value starts. Returns 1, 0
 * when absent, or -1 when the key is there twice (readers disagree on which one counts, so
 * neither does).
 */
int
jscan_member(const char *b, size_t n, size_t obj, const char *key, size_t *val)
{
    char k[KEY_MAX];
    size_t p = obj, klen, want = strlen(key);
    int found = 0, first = 1;

    if (b[obj] != '{')
        return 0;
    while (jscan_next(b, n, &p, first)) {
        first = 0;
        klen = jscan_decode_string(b, &p, k, sizeof(k));
        jscan_ws(b, n, &p);
        p++; /* ':' */
        jscan_ws(b, n, &p);
        if (klen == want && memcmp(k, key, want) == 0) {
            if (found)
                return -1;
            found = 1;
            *val = p;
        }
        jscan_skip_value(b, n, &p);
    }
    return found;
}
