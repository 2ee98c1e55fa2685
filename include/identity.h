/* atproto identity: handle to DID (DNS TXT, HTTPS), DID to document (PLC, did:web), the PDS. */
#ifndef PASSERELLE_IDENTITY_H
#define PASSERELLE_IDENTITY_H

#include <stddef.h>

struct event_base;
struct identity;

/* The longest handle (a DNS name) and DID we accept. */
#define IDENTITY_HANDLE_MAX 253
#define IDENTITY_DID_MAX    2048
/* The largest DID document or atproto-did body read. */
#define IDENTITY_DOC_MAX 65536
/* alsoKnownAs entries kept from a document (PLC allows 10 and Bridgy Fed writes 2 or 3). */
#define IDENTITY_AKA_MAX 32

struct identity_options {
    const char *plc_url;    /* the PLC directory; NULL or "": https://plc.directory */
    const char *dns_server; /* "IP[:port]" for _atproto TXT lookups; NULL or "": resolv.conf */
    /*
     * Tests only (needs allow_private): https://HANDLE/.well-known/atproto-did is fetched from
     * this origin instead, with "Host: HANDLE", so that test handles need no DNS nor TLS.
     */
    const char *handle_origin;
    const char *user_agent;    /* for the fetches; NULL: "passerelle" */
    const char *extra_ca_file; /* PEM trusted beside the system store (tests) */
    int allow_private;         /* tests only: loopback reachable, http:// endpoints accepted */
    long timeout_ms;           /* each lookup and fetch; 0: 10000 */
};

enum identity_status {
    IDENTITY_OK = 0,
    IDENTITY_INVALID,    /* not a handle or DID we accept, or a document we cannot use */
    IDENTITY_NOT_FOUND,  /* the handle names no DID, or the DID has no document (404, 410) */
    IDENTITY_MISMATCH,   /* the handle names a DID whose document names another handle */
    IDENTITY_UNAVAILABLE /* network, timeout, a server error: try again later */
};

/*
 * What a resolution found; every pointer is borrowed for the callback's duration. On
 * IDENTITY_OK did and pds are set; handle is the handle checked both ways (lowercase), or
 * NULL when the document names none or the one it names does not lead back to the DID.
 */
struct identity_result {
    enum identity_status status;
    const char *error; /* "" on success; a reason, never holding remote bytes unquoted */
    const char *did;
    const char *handle;
    const char *pds;         /* the #atproto_pds service endpoint, without a trailing "/" */
    const char *signing_key; /* the #atproto verification method's publicKeyMultibase, or NULL */
    /*
     * The document's alsoKnownAs strings as written (not lowercased), in order: at://<handle>
     * and, for a bridged account, its native id (Bridgy Fed names the ActivityPub actor).
     */
    const char *const *also_known_as;
    size_t n_also_known_as;
};

/* Called exactly once per resolution, from the loop, never inside the call that started it. */
typedef void (*identity_done_fn)(const struct identity_result *r, void *arg);

/*
 * A resolver on base with its own HTTP client (bodies capped at IDENTITY_DOC_MAX) and DNS
 * client. NULL with a reason in err when an option is unusable (a DNS server that is not an
 * address, a plc_url that is not http(s), handle_origin without allow_private...).
 */
struct identity *identity_new(struct event_base *base, const struct identity_options *opt,
                              char *err, size_t errlen);

/*
 * handle -> DID (DNS TXT "_atproto.<handle>" first, HTTPS /.well-known/atproto-did when DNS
 * has none; both asked at once) -> the DID's document -> its alsoKnownAs must name
 * at://<handle> (else IDENTITY_MISMATCH) -> its PDS.
 */
void identity_resolve_handle(struct identity *id, const char *handle, identity_done_fn cb,
                             void *arg);

/*
 * DID -> document -> PDS; the handle the document names is then resolved back and given
 * only when it leads to this DID.
 */
void identity_resolve_did(struct identity *id, const char *did, identity_done_fn cb, void *arg);

/* Ends every pending resolution (callbacks run with IDENTITY_UNAVAILABLE), then frees. */
void identity_free(struct identity *id);

/* "ok", "invalid", ... for logs. */
const char *identity_status_name(enum identity_status st);

/* The pure pieces, for the tests. */

/*
 * A handle as atproto's syntax allows (ASCII labels of letters, digits and "-", at least two,
 * the last starting with a letter, not a reserved TLD such as .local or .invalid) into out,
 * lowercased (outlen > IDENTITY_HANDLE_MAX). -1 otherwise. A leading "@" is dropped.
 */
int identity_handle_normalize(const char *in, char *out, size_t outlen);

/*
 * 1 when did is a DID this resolver can resolve: did:plc:<24 base32 characters> or
 * did:web:<hostname> (a port, as %3A, only when allow_private).
 */
int identity_did_valid(const char *did, int allow_private);

/*
 * The URL of did's document: <plc_url>/<did>, or https://<host>/.well-known/did.json for
 * did:web (http for a did:web with a port, allowed only with allow_private). Newly
 * allocated; NULL when identity_did_valid refuses.
 */
char *identity_doc_url(const char *did, const char *plc_url, int allow_private);

/*
 * The DID named by a handle's TXT records: the one "did=" record, else NULL (none, two
 * different ones, or one that is not a valid DID).
 */
const char *identity_txt_did(const char *const *txt, size_t n, int allow_private);

/* A DID document's useful parts; strings newly allocated (identity_doc_clear frees). */
struct identity_doc {
    char *did;
    char *handle; /* the first at:// alsoKnownAs that is a valid handle, lowercase; NULL */
    char *pds;
    char *signing_key; /* NULL when absent */
    /* Every string of alsoKnownAs, as written, the first IDENTITY_AKA_MAX; others skipped. */
    char **also_known_as;
    size_t n_also_known_as;
};

/*
 * Reads a DID document: "id" must equal did, and a service "#atproto_pds" (or
 * "<did>#atproto_pds") of type AtprotoPersonalDataServer must give an https endpoint (http
 * too with allow_private) without query, fragment or path. -1 with a reason otherwise.
 */
int identity_parse_doc(const char *json, size_t len, const char *did, int allow_private,
                       struct identity_doc *out, char *err, size_t errlen);
void identity_doc_clear(struct identity_doc *doc);

/* 1 when one of the n strings of aka is exactly uri (ids compare byte for byte). */
int identity_aka_has(const char *const *aka, size_t n, const char *uri);

#endif
