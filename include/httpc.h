/* Outbound HTTP client: libcurl's multi interface driven by the libevent loop, no threads. */
#ifndef PASSERELLE_HTTPC_H
#define PASSERELLE_HTTPC_H

#include <stddef.h>

struct event_base;
struct httpc;

/*
 * Options for httpc_new. A zeroed struct gives the defaults; strings are copied. Values
 * above the caps below are clamped.
 */
struct httpc_options {
    const char *user_agent;    /* "passerelle/VERSION (+BASE_URL)"; NULL gives "passerelle" */
    long connect_timeout_ms;   /* 0: 5000. Per hop, never more than what is left of the total */
    long total_timeout_ms;     /* 0: 30000. From the first hop's start to the end of the last */
    int max_redirects;         /* 0: 3. Negative: never follow; the 3xx is the response */
    size_t max_response_bytes; /* 0: 1 MiB, cap 64 MiB. Decoded body size; more is too_large */
    int max_per_host;          /* 0: 4, cap 64. Running hops per host:port; others queue */
    const char *extra_ca_file; /* PEM file trusted in addition to the system store (tests) */
    int allow_loopback;        /* tests only: 127/8, ::1 and "localhost" become reachable */
};

/* Why a request failed. Only HTTPC_OK comes with a status and body worth reading. */
enum httpc_error {
    HTTPC_OK = 0,
    HTTPC_ERR_DNS,                /* name did not resolve */
    HTTPC_ERR_CONNECT,            /* TCP connect failed or was reset */
    HTTPC_ERR_TLS,                /* handshake or certificate verification failed */
    HTTPC_ERR_TIMEOUT,            /* connect or total timeout */
    HTTPC_ERR_TOO_LARGE,          /* Content-Length or the decoded body exceeded the cap */
    HTTPC_ERR_REFUSED_ADDRESS,    /* host or a resolved address is not public (netguard.h) */
    HTTPC_ERR_TOO_MANY_REDIRECTS, /* more than max_redirects */
    HTTPC_ERR_CANCELLED,          /* httpc_free ran while the request was pending */
    HTTPC_ERR_OTHER               /* bad URL or header, signing hook failed, protocol error... */
};

struct httpc_header {
    const char *name; /* as received; compare without regard to case */
    const char *value;
};

/*
 * What a callback receives. Every pointer in it, and the struct itself, is borrowed: valid
 * only until the callback returns. Copy what you keep.
 */
struct httpc_response {
    enum httpc_error error;
    const char *errmsg;        /* "" on success; never contains header values */
    long status;               /* last HTTP status seen, 0 if none (can be set on error) */
    const char *effective_url; /* URL of the last hop */
    int redirects;             /* redirects followed */
    const char *body;          /* NUL-terminated for convenience; NULL when error != OK */
    size_t body_len;
    const struct httpc_header *headers; /* last hop's response headers, at most 100 */
    size_t nheaders;
};

/* Called exactly once per request, always from the loop, never inside httpc_request. */
typedef void (*httpc_done_fn)(const struct httpc_response *resp, void *arg);

/* The headers a signing hook adds to one hop (opaque). */
struct httpc_hop_headers;

/*
 * Adds one "Name: value" header to the hop being signed; the line is copied. Returns -1
 * (and adds nothing) if the line has no colon, contains CR or LF, is over 8 KiB, or the hop
 * already has 32 added headers.
 */
int httpc_hop_add_header(struct httpc_hop_headers *out, const char *line);

/*
 * Per-hop hook, called from the loop just before each hop is sent: the first request and
 * every redirect we follow, with that hop's method, absolute URL and body (NULL/0 for GET).
 * It adds headers with httpc_hop_add_header (Date, Host, Digest, Signature...); those are
 * sent on this hop only, after the request's static headers. Since curl derives Host from
 * the URL, a hook that signs "host" should add its own "Host:" header computed from url.
 * Return 0, or -1 to fail the request with HTTPC_ERR_OTHER. It must not call httpc_free.
 */
typedef int (*httpc_sign_fn)(const char *method, const char *url, const char *body, size_t body_len,
                             struct httpc_hop_headers *out, void *arg);

/*
 * One request. Everything is copied by httpc_request, so the caller may free it at once.
 *
 * Redirects are followed by httpc itself, never by curl, so that each hop is re-signed and
 * re-checked (scheme http/https, not localhost, resolved address public): a GET follows
 * 301, 302, 303, 307 and 308; a POST follows only 307 and 308, resending its body; for any
 * other 3xx, or when max_redirects is negative, the 3xx itself is the response and its
 * Location is in headers. Static headers are sent on every hop, hook headers on one.
 */
struct httpc_req {
    const char *method;         /* "GET" or "POST" */
    const char *url;            /* absolute http:// or https:// URL, at most 8 KiB */
    const char *const *headers; /* "Name: value" lines, at most 32, no CR/LF */
    size_t nheaders;
    const char *body; /* POST body (may contain NULs), at most 16 MiB */
    size_t body_len;
    httpc_sign_fn sign; /* optional per-hop hook */
    void *sign_arg;
    /*
     * 0: none. A monotime_ms() instant the call ends at (HTTPC_ERR_TIMEOUT) if the total
     * timeout has not ended it before, queued or running: a caller that stops waiting
     * at its own deadline does not leave the request holding a slot beyond it.
     */
    long long deadline_ms;
};

/*
 * Creates a client on base. Returns NULL with a message in err if an option is unusable
 * (extra_ca_file unreadable, curl cannot be set up). The caller owns the result and frees
 * it with httpc_free before freeing base. Each httpc_new takes a reference on libcurl's
 * global state (curl_global_init) and httpc_free drops it, so nothing else is needed.
 */
struct httpc *httpc_new(struct event_base *base, const struct httpc_options *opt, char *err,
                        size_t errlen);

/*
 * Starts a request. Never fails synchronously: every problem, including a malformed req,
 * is reported through cb, which runs exactly once from the loop later. req is copied; arg
 * is passed back untouched and stays the caller's. May be called from a done callback or
 * a signing hook, but not from a callback that httpc_free is running.
 */
void httpc_request(struct httpc *h, const struct httpc_req *req, httpc_done_fn cb, void *arg);

/*
 * First value of header name (any case) in resp, or NULL. Borrowed like resp itself.
 */
const char *httpc_response_header(const struct httpc_response *resp, const char *name);

/* Short name of an error kind ("timeout", "too_large", ...), for logs and metrics. */
const char *httpc_error_name(enum httpc_error e);

struct httpc_stats {
    size_t running; /* hops handed to curl */
    size_t queued;  /* waiting for a per-host slot */
    size_t pending; /* finished, callback not run yet */
};

/* Fills st with the current counts, for metrics and tests. */
void httpc_get_stats(const struct httpc *h, struct httpc_stats *st);

/*
 * Ends every request whose callback has not run yet: each callback runs once, inside
 * httpc_free, with HTTPC_ERR_CANCELLED, except that a request which had already finished
 * gets its real result. Those callbacks must not call httpc_request. Then frees everything
 * (connections, events; no curl handle or event survives). Must not be called from an
 * httpc callback or hook. httpc_free(NULL) does nothing.
 */
void httpc_free(struct httpc *h);

#endif
