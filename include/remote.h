/* Remote actors and their public keys: signed fetch, validation, PostgreSQL cache. */
#ifndef PASSERELLE_REMOTE_H
#define PASSERELLE_REMOTE_H

#include <openssl/evp.h>

struct event_base;
struct db;
struct httpc;
struct remote;

/* How a lookup ended. remote_result_name() gives a short label for logs and metrics. */
enum remote_result {
    REMOTE_OK = 0,
    REMOTE_NOT_FOUND,   /* 404: no such actor or key, perhaps for a while (401 for the inbox) */
    REMOTE_UNREACHABLE, /* transport error, timeout, 5xx, 401/403/429, deadline or a full budget
                           for the key's host: the inbox answers 503 */
    REMOTE_INVALID,     /* bad keyId, bad document, id or key mismatch, too large or too deep */
    REMOTE_REFUSED,     /* the address is not public (httpc's SSRF guard) */
    REMOTE_GONE         /* 410: the actor was deleted (an unsigned Delete of it is believed) */
};

/* A static string such as "not_found"; never NULL. */
const char *remote_result_name(enum remote_result r);

/*
 * What a successful lookup found. Every pointer is borrowed: valid only until the
 * callback returns. shared_inbox may be NULL; the others are never NULL on REMOTE_OK.
 */
struct remote_key {
    const char *actor_id;       /* the owner actor's id */
    const char *key_id;         /* the keyId it was fetched by (a document cannot pick it) */
    const char *public_key_pem; /* as published (SPKI or PKCS#1 PEM) */
    const char *inbox;
    const char *shared_inbox; /* endpoints.sharedInbox or sharedInbox, or NULL */
    const char *type;         /* Application, Group, Organization, Person or Service */
    const char *preferred_username;
    int from_cache; /* 1 when no request was made */
    /* remote_actor_fetch only: the document's alsoKnownAs ids (http(s), at most 16). */
    const char *const *also_known_as;
    size_t n_also_known_as;
    /*
     * public_key_pem parsed, or NULL if it does not parse as RSA. The resolver keeps the
     * keys it parsed last (OpenSSL 3's PEM decoder costs more than the RSA verification),
     * so this is valid only until the callback returns.
     */
    EVP_PKEY *pkey;
};

/*
 * Called exactly once per lookup, always from the loop and never from inside
 * remote_key_lookup. key is non-NULL only when result is REMOTE_OK.
 */
typedef void (*remote_key_fn)(enum remote_result result, const struct remote_key *key, void *arg);

/* Called once from the loop by remote_actor_forget: 0 when done, -1 on a database error. */
typedef void (*remote_done_fn)(int rc, void *arg);

/* Options for remote_new; strings are copied, key is borrowed. */
struct remote_options {
    EVP_PKEY *key;              /* our RSA key for signed GETs; NULL sends them unsigned */
    const char *key_id;         /* "<base>/actor#main-key"; needed when key is set */
    long ttl_seconds;           /* 0: 86400. A cached key younger than this is used as is */
    long refresh_floor_seconds; /* 0: 60. force_refresh fetches a key at most once per floor */
    /*
     * 0: 10000. A lookup answers within this, however long it waited for a connection
     * slot or the database (REMOTE_UNREACHABLE, or a stale cached key, when it passes).
     */
    long deadline_ms;
    /*
     * 0: 128 and 1024. Callers waiting on the network for a key, plus fetches whose callers
     * the deadline released but which still run, per key host (host:port of the keyId)
     * and in all. Beyond either, a lookup that needs the network fails at once.
     */
    int max_per_host, max_total;
    long backoff_seconds; /* 0: 60. After a key host timed out, it is not asked for this long */
    /*
     * 0: 30. After a keyId's fetch was refused (a private address) or reached nothing usable
     * (transport error, 5xx, 401, 403, 429), it is not fetched again for this long: its
     * lookups get the same answer at once. At most 4096 keyIds are remembered.
     */
    long refusal_ttl_seconds;
};

/*
 * Creates the resolver. db (may be NULL: no cache) and h are borrowed and must outlive
 * the resolver; h decides the SSRF policy (allow_loopback only in tests). Never NULL.
 */
struct remote *remote_new(struct event_base *base, struct db *db, struct httpc *h,
                          const struct remote_options *opt);

/*
 * Resolves key_id (an http(s) URL: "<actor>#main-key", a key document such as
 * "<actor>/main-key" whose owner lists it, or an actor URL) into the owner actor and
 * its key. A fresh cached row answers without network unless force_refresh is set;
 * force_refresh refetches unless the key was fetched less than the floor ago, in which
 * case the cache answers (the floor needs a cached row: a key never fetched successfully
 * is fetched again). A row past its TTL answers (from_cache = 1) when the refetch finds
 * the server unreachable, except for force_refresh. Concurrent lookups of one key share
 * one fetch, and its deadline. A key that is not RSA of 2048 to 8192 bits with a small odd
 * exponent (httpsig_public_key) is REMOTE_INVALID and never stored. key_id is copied; arg
 * is passed back untouched.
 */
void remote_key_lookup(struct remote *r, const char *key_id, int force_refresh, remote_key_fn cb,
                       void *arg);

/*
 * Fetches the actor document actor_id (an http(s) URL without a fragment) from the network
 * whatever the cache holds, checked as remote_key_lookup checks it with actor_id as the
 * keyId (its first key), and answers with its alsoKnownAs too. Its id may differ from
 * actor_id after Mastodon's refetch by id: the caller compares. Shares no fetch with key
 * lookups and stores nothing. cb is called exactly once, from the loop.
 */
void remote_actor_fetch(struct remote *r, const char *actor_id, remote_key_fn cb, void *arg);

/* Drops the cached row of actor_id (Delete of an actor); cb may be NULL. */
void remote_actor_forget(struct remote *r, const char *actor_id, remote_done_fn cb, void *arg);

/*
 * Answers every pending lookup with REMOTE_UNREACHABLE (inside this call), then frees
 * the resolver. Fetches and queries still running finish on their own and are dropped.
 * Call it before httpc_free and db_free. remote_free(NULL) does nothing.
 */
void remote_free(struct remote *r);

#endif
