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

/* The headers of one signed hop, "Name: value" each: Host, Date, Digest (POST), Signature. */
struct apsign_lines {
    char *line[4];
    int n;
};

/*
 * What apsign_hop adds, into out (freed with apsign_lines_free), without httpc: pure CPU
 * over what it is given, so a thread of a pool may run it while the loop goes on (key is
 * only read). Returns 0, or -1 with err set and out empty.
 */
int apsign_lines(EVP_PKEY *key, const char *key_id, const char *method, const char *url,
                 const char *body, size_t body_len, const char *accept_or_ctype,
                 struct apsign_lines *out, char *err, size_t errlen);

/* Adds lines to the hop being signed; -1 with err set if httpc refuses one. */
int apsign_lines_add(const struct apsign_lines *lines, struct httpc_hop_headers *out, char *err,
                     size_t errlen);

void apsign_lines_free(struct apsign_lines *lines);

#endif
