/* Signing one outbound ActivityPub request hop (cavage rsa-sha256), for httpc's per-hop hook. */
#ifndef PASSERELLE_APSIGN_H
#define PASSERELLE_APSIGN_H

#include <stddef.h>
#include <openssl/evp.h>

struct httpc_hop_headers;

/*
 * Signs a request to url as key_id with key (both borrowed) and adds the
 * headers that hop sends: Host, Date, Signature, and for a POST a Digest of
 * body. A GET is signed over "(request-target) host date accept" with the
 * given accept value, a POST over "(request-target) host date digest
 * content-type" with the given content type; the caller sends that Accept or
 * Content-Type header itself, unchanged on every hop. (request-target) keeps
 * the query, as Mastodon signs it. Returns 0, or -1 with err set.
 */
int apsign_hop(EVP_PKEY *key, const char *key_id, const char *method, const char *url,
               const char *body, size_t body_len, const char *accept_or_ctype,
               struct httpc_hop_headers *out, char *err, size_t errlen);

#endif
