/* HTTP signatures (draft-cavage-12 and RFC 9421): parse, sign, verify; pure, no I/O. */
#ifndef PASSERELLE_HTTPSIG_H
#define PASSERELLE_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/evp.h>

/* Caps applied before anything is allocated. */
#define HTTPSIG_MAX_HEADER     8192 /* Signature, Signature-Input, Digest, Content-Digest */
#define HTTPSIG_MAX_COMPONENTS 32   /* entries of headers="..." or of a 9421 inner list */

/*
 * Why a check failed. httpsig_result_name() gives a short stable label usable as
 * a metric label or log field.
 */
enum httpsig_result {
    HTTPSIG_OK = 0,
    HTTPSIG_NO_SIGNATURE,          /* no Signature (or Signature-Input) header */
    HTTPSIG_BAD_HEADER,            /* malformed Signature / Signature-Input / Date */
    HTTPSIG_UNSUPPORTED_ALGORITHM, /* algorithm other than rsa-sha256, hs2019, rsa-v1_5-sha256 */
    HTTPSIG_MISSING_HEADER,  /* a required component is not signed, or a signed one is absent */
    HTTPSIG_BAD_DIGEST,      /* Digest / Content-Digest malformed or without SHA-256 */
    HTTPSIG_DIGEST_MISMATCH, /* the body does not hash to the signed digest */
    HTTPSIG_STALE_DATE,      /* signed too long ago, or expired */
    HTTPSIG_FUTURE_DATE,     /* signed too far in the future */
    HTTPSIG_BAD_KEY,         /* the public key PEM does not parse or is not RSA */
    HTTPSIG_BAD_SIGNATURE    /* the RSA check failed */
};

/* A static string such as "digest_mismatch"; never NULL. */
const char *httpsig_result_name(enum httpsig_result r);

/*
 * The request as the verifier and signer see it; nothing here is owned by this
 * module. header() returns the value of a header given its lowercase name, or
 * NULL when absent; a caller holding repeated headers joins them with ", ".
 * The returned pointer must stay valid until the httpsig call returns.
 */
struct httpsig_request {
    const char *method; /* as on the request line, e.g. "POST" */
    const char *target; /* path with optional ?query, as on the request line */
    const char *(*header)(void *ctx, const char *lowercase_name);
    void *ctx;
    const unsigned char *body; /* raw bytes as received or sent; may be NULL if body_len is 0 */
    size_t body_len;
    /* Only RFC 9421 uses these (@target-uri, @scheme, @authority). scheme NULL
     * means "https"; authority NULL means the Host header. */
    const char *scheme;
    const char *authority;
};

enum httpsig_scheme { HTTPSIG_CAVAGE = 0, HTTPSIG_RFC9421 };

enum httpsig_alg {
    HTTPSIG_ALG_HS2019 = 0,      /* cavage "hs2019" or absent: RSA PKCS#1 v1.5 SHA-256 for us */
    HTTPSIG_ALG_RSA_SHA256,      /* cavage "rsa-sha256" */
    HTTPSIG_ALG_RSA_V1_5_SHA256, /* RFC 9421 "rsa-v1_5-sha256" */
    HTTPSIG_ALG_NONE             /* RFC 9421 without alg: taken from the (RSA) key */
};

/*
 * A parsed signature. Every pointer is owned by the struct and released by
 * httpsig_free(). components are lowercase: cavage header names such as
 * "(request-target)" or "digest"; RFC 9421 component names without quotes,
 * such as "@method" or "content-digest".
 */
struct httpsig_ops;

struct httpsig {
    enum httpsig_scheme scheme;
    enum httpsig_alg alg;
    char *key_id;
    char **components;
    size_t ncomponents;
    unsigned char *sig;
    size_t sig_len;
    int has_created, has_expires;
    int64_t created, expires;
    char *label;                   /* RFC 9421 only: the dictionary key, e.g. "sig1" */
    char *params;                  /* RFC 9421 only: the serialized @signature-params value */
    const struct httpsig_ops *ops; /* the scheme's checks and signing string, set by its parser */
};

/*
 * The folder activitypub/httpsig/ holds the module: httpsig_parse.c (which scheme a request
 * uses), cavage.c (draft-cavage-12, and signing with it), rfc9421.c (RFC 9421), httpsig.c
 * (this API, the checks, RSA, dates, digests), sfv.c (RFC 8941 structured fields) and
 * httpsig_buf.c (a growing string). cavage_parse, rfc9421_parse and cavage_sign are declared
 * here because callers may want one scheme only; what the files share among themselves is in
 * httpsig_internal.h.
 */

/*
 * Parses a draft-cavage Signature header value into *out (zeroed first).
 * Tolerates a leading "Signature " and spaces around separators; ignores
 * unknown parameters; rejects duplicates, a missing keyId or signature, and
 * algorithms other than rsa-sha256/hs2019. Without headers="..." the list is
 * "(created)" for hs2019 and "date" otherwise. On failure *out holds nothing to
 * free (httpsig_free is still safe) and err says why.
 */
enum httpsig_result cavage_parse(const char *value, struct httpsig *out, char *err, size_t errlen);

/*
 * Parses RFC 9421 Signature-Input and Signature dictionaries and keeps the
 * first label present in both (which must have keyid and created). Component
 * identifiers with parameters (e.g. "@query-param";name="x") are rejected.
 * Same ownership as cavage_parse().
 */
enum httpsig_result rfc9421_parse(const char *signature_input, const char *signature,
                                  struct httpsig *out, char *err, size_t errlen);

/*
 * Picks the scheme the way Mastodon does (Signature-Input present: RFC 9421,
 * else cavage) and parses. HTTPSIG_NO_SIGNATURE when neither is there.
 */
enum httpsig_result httpsig_parse_request(const struct httpsig_request *req, struct httpsig *out,
                                          char *err, size_t errlen);

/* Frees what *sig owns and zeroes it; NULL is a no-op. */
void httpsig_free(struct httpsig *sig);

/*
 * Everything that does not need the key, so a caller can reject before
 * fetching it: signature strength (cavage: date or (created), (request-target)
 * or digest, digest on POST, host on GET; RFC 9421: @method, @target-uri,
 * created, content-digest on a request with a body), the Digest or
 * Content-Digest against the body, and the time window relative to now
 * (Mastodon's: created > now + 1 h, or now > expires + 1 h, where expires
 * defaults to created + 5 min and is capped at created + 12 h).
 */
enum httpsig_result httpsig_check(const struct httpsig *sig, const struct httpsig_request *req,
                                  time_t now, char *err, size_t errlen);

/*
 * Builds the cavage signing string or the RFC 9421 signature base into a new
 * string (*out, caller frees). with_query = 0 drops "?query" from
 * (request-target) (Fedify signs without it); RFC 9421 ignores it.
 */
enum httpsig_result httpsig_signing_string(const struct httpsig *sig,
                                           const struct httpsig_request *req, int with_query,
                                           char **out, char *err, size_t errlen);

/*
 * httpsig_check(), then RSA PKCS#1 v1.5 SHA-256 against public_pem (SPKI or
 * PKCS#1 PEM). Cavage is tried with the query in (request-target), then
 * without. The key is only borrowed.
 */
enum httpsig_result httpsig_verify(const struct httpsig *sig, const struct httpsig_request *req,
                                   const char *public_pem, time_t now, char *err, size_t errlen);
enum httpsig_result httpsig_verify_pkey(const struct httpsig *sig,
                                        const struct httpsig_request *req, EVP_PKEY *key,
                                        time_t now, char *err, size_t errlen);

/*
 * An RSA public key from its PEM (SPKI or PKCS#1), or NULL; the caller frees it. Only
 * moduli of 2048 to 8192 bits with an odd public exponent from 3 to 2^32-1 (65537 and the
 * like) are accepted: anything else is NULL, so that no key can make a verification slow.
 */
EVP_PKEY *httpsig_public_key(const char *pem);

/*
 * Signs req with key (RSA, borrowed) as cavage rsa-sha256 and returns the full
 * Signature header value, newly allocated: keyId="…",algorithm="rsa-sha256",
 * headers="…",signature="…". headers is a space-separated list or NULL for the
 * default: "(request-target) host date accept" for GET and HEAD,
 * "(request-target) host date digest content-type" otherwise. Every listed
 * header must already be readable through req->header (see httpsig_date and
 * httpsig_digest). NULL with err on failure.
 */
char *cavage_sign(EVP_PKEY *key, const char *key_id, const struct httpsig_request *req,
                  const char *headers, char *err, size_t errlen);

/* Writes t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); buf needs 30 bytes. -1 if short. */
int httpsig_date(time_t t, char *buf, size_t len);

/* Parses an IMF-fixdate into *t. -1 if it is anything else. */
int httpsig_parse_date(const char *s, time_t *t);

/* "SHA-256=<base64>" of the body into buf (needs 53 bytes). -1 if short. */
int httpsig_digest(const unsigned char *body, size_t len, char *buf, size_t buflen);

/* RFC 9530 "sha-256=:<base64>:" of the body into buf (needs 55 bytes). -1 if short. */
int httpsig_content_digest(const unsigned char *body, size_t len, char *buf, size_t buflen);

/*
 * Checks a Digest header (comma-separated algo=base64, names case-insensitive)
 * against the body: SHA-256 must be present, decode to 32 bytes and match.
 */
enum httpsig_result httpsig_check_digest(const char *header, const unsigned char *body, size_t len,
                                         char *err, size_t errlen);

/* The same for an RFC 9530 Content-Digest dictionary (sha-256=:base64:). */
enum httpsig_result httpsig_check_content_digest(const char *header, const unsigned char *body,
                                                 size_t len, char *err, size_t errlen);

/*
 * The document to fetch for a keyId: the keyId without its #fragment, newly
 * allocated. NULL if key_id is empty or does not start with https:// or http://.
 * The caller must still check that the fetched key's owner is the activity's actor.
 */
char *httpsig_keyid_actor_candidate(const char *key_id);

#endif
