/* The JSON element scanner of X archives: strict validation in one pass, then lookups. */
#ifndef PASSERELLE_JSONSCAN_H
#define PASSERELLE_JSONSCAN_H

#include <stddef.h>

/*
 * A small JSON reader over one element held in memory (in the caller's chunk or in the
 * stream's buffer). jscan_validate validates (strict RFC 8259, nesting capped at
 * ARCHIVE_MAX_DEPTH) in one pass; the other functions assume an element it already accepted.
 * The prefix is not json_ because json-c, linked into the same binary, owns that one.
 */

/* 1 for the four JSON white-space bytes, else 0: the stream's byte loop reads it directly. */
extern const unsigned char jscan_ws_tab[256];
int jscan_is_ws(unsigned char c);

/* The first '"', '\\' or control character in b[p..n), or n. */
size_t jscan_string_run(const unsigned char *b, size_t p, size_t n);

/* Steps over a number at *pos; -1 if there is none. */
int jscan_skip_number(const char *b, size_t n, size_t *pos);

/*
 * Where an edge's members are, noted while validating so that nothing searches the element
 * again: the wrapper ("follower": {...}), and accountId at the top or inside the wrapper.
 */
struct jscan_keys {
    const char *kind; /* the wrapper's key */
    size_t kind_len;
    int kinds; /* times the wrapper's key is at the top */
    size_t kind_at;
    int ids; /* accountId at the top */
    size_t id_at;
    int inner_ids; /* accountId in the (first) wrapper object */
    size_t inner_id_at;
    int escaped; /* a key that matters had escapes: jscan_member decodes them instead */
};

/* Zeroes k and sets the wrapper's key. */
void jscan_keys_init(struct jscan_keys *k, const char *kind);

/*
 * Validates the value at text (white space first is skipped). Returns 0 with *end just past
 * it, or -1 if it is invalid or text ends first. k, if not NULL, gets an edge's members.
 */
int jscan_validate(const char *text, size_t n, size_t *end, struct jscan_keys *k);

/* Steps over the validated value at *pos. */
void jscan_skip_value(const char *b, size_t n, size_t *pos);

/*
 * Decodes the validated string at *pos into out (at most cap bytes, not terminated) and
 * returns its full decoded length, which is more than cap when it did not fit. A lone
 * surrogate becomes U+FFFD.
 */
size_t jscan_decode_string(const char *b, size_t *pos, char *out, size_t cap);

/*
 * Steps through a validated container: from its opening bracket (first) or from the end of
 * an item to the next item. Returns 0 at the closing bracket.
 */
int jscan_next(const char *b, size_t n, size_t *pos, int first);

/*
 * Finds key in the validated object at obj; *val gets where its value starts. Returns 1, 0
 * when absent, or -1 when the key is there twice (readers disagree on which one counts, so
 * neither does).
 */
int jscan_member(const char *b, size_t n, size_t obj, const char *key, size_t *val);

#endif
