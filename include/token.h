/* Random tokens and their stored form: codes and session tokens are kept as SHA-256 only. */
#ifndef PASSERELLE_TOKEN_H
#define PASSERELLE_TOKEN_H

#include <stddef.h>

/* nbytes random bytes as 2*nbytes lowercase hex digits in out (outlen > 2*nbytes). -1 on failure.
 */
int token_random_hex(size_t nbytes, char *out, size_t outlen);

/* SHA-256 of s as a PostgreSQL bytea literal "\x<64 hex>" (out needs 67 bytes). */
void token_sha256_bytea(const char *s, char out[67]);

/* HMAC-SHA256(key, msg) as 64 lowercase hex digits (out needs 65 bytes). */
void token_hmac_hex(const char *key, const char *msg, char out[65]);

/* 1 when s is exactly n lowercase hex digits. */
int token_is_hex(const char *s, size_t n);

/* 1 when a and b are equal, in time independent of where they differ (lengths may leak). */
int token_equal(const char *a, const char *b);

#endif
