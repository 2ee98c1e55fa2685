/* Sealing secrets at rest: AES-256-GCM with the configured key, each bound to its row. */
#ifndef PASSERELLE_SEAL_H
#define PASSERELLE_SEAL_H

#include <stddef.h>

#define SEAL_KEY_BYTES   32
#define SEAL_NONCE_BYTES 12
#define SEAL_TAG_BYTES   16
/* Room for a nonce as a PostgreSQL bytea literal ("\x" and 24 hex digits) with its NUL. */
#define SEAL_NONCE_BYTEA 27
/* Largest secret sealed (tokens and client secrets are far smaller). */
#define SEAL_MAX_PLAIN 8192

struct seal;

/*
 * Reads the key from path: 64 hex digits (32 bytes), optionally followed by one newline,
 * nothing else; the file must not be readable by group or others. Returns NULL with the
 * reason in err (which never holds key material).
 */
struct seal *seal_load(const char *path, char *err, size_t errlen);

/* A key from 32 raw bytes (tests). */
struct seal *seal_from_bytes(const unsigned char key[SEAL_KEY_BYTES]);

/* Wipes and frees. NULL does nothing. */
void seal_free(struct seal *s);

/*
 * Encrypts len bytes of plain under a fresh random nonce (written to nonce), with ad as
 * associated data: "grant:<member id>:<host>", "app:<host>"... so that a ciphertext copied
 * into another row does not open there. Returns ciphertext and tag (len + SEAL_TAG_BYTES
 * bytes, *outlen), newly allocated; NULL when len is 0 or over SEAL_MAX_PLAIN, or OpenSSL
 * fails.
 */
unsigned char *seal_encrypt(const struct seal *s, const char *ad, const void *plain, size_t len,
                            unsigned char nonce[SEAL_NONCE_BYTES], size_t *outlen);

/*
 * Decrypts what seal_encrypt made. Returns the plaintext, NUL-terminated and newly
 * allocated (*outlen without the NUL, outlen may be NULL), or NULL when anything differs:
 * key, ad, nonce, a flipped bit in the ciphertext or tag, a truncation. Free it with
 * seal_wipe_free.
 */
char *seal_decrypt(const struct seal *s, const char *ad,
                   const unsigned char nonce[SEAL_NONCE_BYTES], const unsigned char *ct,
                   size_t ctlen, size_t *outlen);

/*
 * The same for text stored in bytea columns: seal_to_bytea seals the string plain and
 * gives the ciphertext (*ct, newly allocated) and the nonce as "\x<hex>" literals for query
 * parameters; -1 on failure. seal_from_bytea takes the two columns as PQgetvalue returns
 * them in text mode and gives the string, or NULL if they do not open (or hold a NUL).
 */
int seal_to_bytea(const struct seal *s, const char *ad, const char *plain, char **ct,
                  char nonce[SEAL_NONCE_BYTEA]);
char *seal_from_bytea(const struct seal *s, const char *ad, const char *ct, const char *nonce);

/* Overwrites a secret's bytes before freeing it. NULL does nothing. */
void seal_wipe_free(char *secret);

#endif
