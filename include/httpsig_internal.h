/* What the files of activitypub/httpsig/ share with each other; nothing else includes it. */
#ifndef PASSERELLE_HTTPSIG_INTERNAL_H
#define PASSERELLE_HTTPSIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "err.h"
#include "httpsig.h"

/* err_set() for the functions that answer an httpsig_result: writes the message, yields r. */
#define HTTPSIG_FAIL(r, err, errlen, ...) (err_set((err), (errlen), __VA_ARGS__), (r))

#define HTTPSIG_MAX_SIG_LEN 1024 /* bytes: what an 8192-bit RSA key signs */

/*
 * The files call downwards only: httpsig_parse.c (which scheme) -> cavage.c, rfc9421.c ->
 * httpsig.c (the API, checks, RSA, dates, digests) -> sfv.c -> httpsig_buf.c. httpsig.c reaches
 * a scheme's checks and signing string through the ops its parser set in struct httpsig.
 */

/* httpsig_buf.c: a growing NUL-terminated string. */

struct httpsig_buf {
    char *p;
    size_t len, cap;
};

void httpsig_buf_add(struct httpsig_buf *b, const char *s, size_t n);
void httpsig_buf_adds(struct httpsig_buf *b, const char *s);
/* Hands the string to the caller; an empty buffer still gives "". */
char *httpsig_buf_finish(struct httpsig_buf *b);

/* A scheme's half of httpsig_check and httpsig_signing_string; its parser sets sig->ops. */
struct httpsig_ops {
    /* The scheme's strength rules, its digest header, and the date window. */
    enum httpsig_result (*check)(const struct httpsig *sig, const struct httpsig_request *req,
                                 time_t now, char *err, size_t errlen);
    /* Appends the signing string (the signature base) to b; with_query is cavage's. */
    enum httpsig_result (*string)(const struct httpsig *sig, const struct httpsig_request *req,
                                  int with_query, struct httpsig_buf *b, char *err, size_t errlen);
};

/* httpsig.c: the small parsers and checks every scheme uses. */

/* Appends the value of req's header name, without surrounding spaces; -1 if it is absent. */
int httpsig_add_header(struct httpsig_buf *b, const struct httpsig_request *req, const char *name);

/* Standard base64 of n bytes into out (needs (n + 2) / 3 * 4 + 1); length, 0 if out is short. */
size_t httpsig_b64_encode(const unsigned char *in, size_t n, char *out, size_t outlen);
/* Strict standard base64 with optional padding; -1 on any other byte or overflow. */
int httpsig_b64_decode(const char *in, size_t n, unsigned char *out, size_t outlen, size_t *got);
/* s without its leading and trailing spaces and tabs; *n is updated. */
const char *httpsig_trim(const char *s, size_t *n);
/* Whether sig lists the component name (lowercase). */
int httpsig_has_component(const struct httpsig *sig, const char *name);
/* Mastodon's window on created/expires (see httpsig_check in httpsig.h). */
enum httpsig_result httpsig_check_window(int64_t created, int has_expires, int64_t expires,
                                         time_t now, char *err, size_t errlen);
/* Decodes the base64 signature b64 into out->sig (allocated, at most 1024 bytes, not empty). */
enum httpsig_result httpsig_decode_signature(const char *b64, struct httpsig *out, char *err,
                                             size_t errlen);

/* sfv.c: RFC 8941 structured fields, just enough for Signature-Input, Signature, Content-Digest. */

#define SFV_MAX_PARAMS 16 /* parameters per item, members per dictionary */

enum sfv_type { SFV_INTEGER, SFV_DECIMAL, SFV_STRING, SFV_TOKEN, SFV_BYTES, SFV_BOOLEAN };

struct sfv_bare {
    enum sfv_type type;
    char *s;   /* string or token value, base64 text of bytes, decimal text */
    int64_t n; /* integer, or 0/1 for a boolean */
};

struct sfv_param {
    char *key;
    struct sfv_bare v;
};

struct sfv_params {
    struct sfv_param p[SFV_MAX_PARAMS];
    size_t n;
};

struct sfv_item {
    struct sfv_bare v;
    struct sfv_params params;
};

struct sfv_member {
    char *key;
    int is_list;
    struct sfv_item *items; /* one item when !is_list */
    size_t nitems;
    struct sfv_params params; /* of the inner list, or of the single item */
};

struct sfv_dict {
    struct sfv_member m[SFV_MAX_PARAMS];
    size_t n;
};

/* Decimal digits only, at most 15 of them (what RFC 8941 allows for an integer). */
int sfv_parse_int64(const char *s, size_t n, int64_t *out);
/* Parses a dictionary into *d (zeroed first); -1 and nothing to free when it is not one. */
int sfv_parse_dict(const char *s, struct sfv_dict *d);
/* The member named key, or NULL. */
const struct sfv_member *sfv_dict_get(const struct sfv_dict *d, const char *key);
/* The value of the parameter named key, or NULL. */
const struct sfv_bare *sfv_param_get(const struct sfv_params *p, const char *key);
/* Appends the serialisation of v (RFC 8941 4.1) to b. */
void sfv_serialize_bare(struct httpsig_buf *b, const struct sfv_bare *v);
/* Appends ";key=value" for each parameter (";key" alone for true). */
void sfv_serialize_params(struct httpsig_buf *b, const struct sfv_params *p);
void sfv_dict_free(struct sfv_dict *d);

#endif
