/* The server's RSA key: created once (RSA-2048, mode 0600), then always reused. */
#ifndef PASSERELLE_KEYS_H
#define PASSERELLE_KEYS_H

#include <stddef.h>
#include <openssl/evp.h>

/*
 * Loads the PEM private key at path, or creates a new RSA-2048 key there when
 * the file does not exist (never overwriting one that does). Refuses keys
 * under 2048 bits. Returns a new reference (EVP_PKEY_free) or NULL with err.
 */
EVP_PKEY *keys_load_or_create(const char *path, char *err, size_t errlen);

/* The SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----"), newly allocated. */
char *keys_public_pem(EVP_PKEY *key);

#endif
