/* One XRPC call (atproto's HTTP API): a JSON query or procedure, its error and rate limits. */
#ifndef PASSERELLE_XRPC_H
#define PASSERELLE_XRPC_H

#include <stddef.h>

#include "httpc.h"

struct jose_key;
struct json_object;

/* The largest XRPC answer read (listRecords pages, applyWrites results, DID documents). */
#define XRPC_MAX_BODY (1024 * 1024)

enum xrpc_auth {
    XRPC_AUTH_NONE = 0,
    XRPC_AUTH_BEARER, /* Authorization: Bearer <token> (app-password sessions) */
    XRPC_AUTH_DPOP    /* Authorization: DPoP <token> and a DPoP proof with ath (OAuth) */
};

/* One call; every string is copied by xrpc_call. */
struct xrpc_call {
    const char *method;  /* "GET" (a query) or "POST" (a procedure) */
    const char *service; /* the PDS's origin, e.g. https://pds.example (no trailing "/") */
    const char *nsid;    /* e.g. com.atproto.repo.listRecords */
    const char *query;   /* "a=1&b=2", already encoded (form_add builds one), or NULL */
    const char *body;    /* POST: JSON text, or NULL for an empty body (refreshSession) */
    enum xrpc_auth auth;
    const char *token;           /* the access (or refresh) token for BEARER and DPOP */
    const struct jose_key *dpop; /* DPOP: the session's key; must outlive the call */
    const char *dpop_nonce;      /* DPOP: the server's last nonce, or NULL */
    const char *const *headers;  /* extra "Name: value" lines (atproto-proxy...), or NULL */
    size_t nheaders;             /* at most 8 */
};

/*
 * What came back; everything borrowed for the callback's duration. error is HTTPC_OK when
 * status means something. The RateLimit-* numbers are -1 when the header is absent.
 */
struct xrpc_result {
    enum httpc_error error;
    const char *errmsg; /* transport reason, "" when error is HTTPC_OK */
    long status;
    struct json_object *json; /* the body when it is a JSON object, else NULL */
    const char *body;
    size_t body_len;
    const char *error_name; /* the XRPC "error" (InvalidToken, RateLimitExceeded...) or NULL */
    const char *message;    /* the XRPC "message" or NULL */
    const char
        *dpop_nonce;   /* DPOP: the newest nonce (this answer's, else the one sent); else NULL */
    int nonce_retried; /* 1 when the call was sent again with a new DPoP nonce */
    long ratelimit_limit;
    long ratelimit_remaining;
    long long ratelimit_reset;         /* epoch seconds */
    const char *ratelimit_policy;      /* "5000;w=3600", or NULL */
    long retry_after;                  /* seconds (Retry-After in seconds), -1 when absent */
    const struct httpc_response *resp; /* every header, for what is not above */
};

typedef void (*xrpc_done_fn)(const struct xrpc_result *r, void *arg);

/*
 * Sends the call on h (whose options bound sizes, times and addresses): GET
 * <service>/xrpc/<nsid>?<query> or POST with Content-Type application/json. With DPOP, a
 * 401 whose WWW-Authenticate says use_dpop_nonce, or a 400 {"error":"use_dpop_nonce"}, that
 * carries a DPoP-Nonce is sent once more with that nonce and a fresh proof; the result's
 * dpop_nonce is what to send next time to this server (keep one per server). cb runs exactly
 * once, from the loop; a malformed call fails there with HTTPC_ERR_OTHER.
 */
void xrpc_call(struct httpc *h, const struct xrpc_call *c, xrpc_done_fn cb, void *arg);

/* 1 when r is the PDS's refusal of an expired or unusable token (400/401 ExpiredToken or
 * InvalidToken): refresh the session, or ask the member again when refreshing fails so. */
int xrpc_token_refused(const struct xrpc_result *r);

/*
 * How long a 429 asks to wait, in ms: its Retry-After, else until its RateLimit-Reset (now:
 * epoch seconds), else fallback_ms; at least a second. Pure.
 */
long long xrpc_limited_wait_ms(const struct xrpc_result *r, long long now, long long fallback_ms);

/* Reads a numeric header value (RateLimit-*, Retry-After in seconds); -1 when absent or not
 * a plain non-negative number. */
long long xrpc_header_number(const char *value);

#endif
