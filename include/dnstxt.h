/* DNS TXT lookups on the libevent loop (evdns has none): one UDP query per lookup, no cache. */
#ifndef PASSERELLE_DNSTXT_H
#define PASSERELLE_DNSTXT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct dnstxt;

enum dnstxt_status {
    DNSTXT_OK = 0, /* the name has TXT records (n >= 1) */
    DNSTXT_NONE,   /* NXDOMAIN, or the name has no TXT record */
    DNSTXT_FAIL    /* timeout, SERVFAIL or another error, a truncated or malformed reply */
};

/* The most TXT records kept from one reply, and the longest record (its strings joined). */
#define DNSTXT_MAX_RECORDS 16
#define DNSTXT_MAX_TEXT    1024
/* The longest name asked (a DNS name is at most 253 characters). */
#define DNSTXT_MAX_NAME 253

/*
 * The resolver: server is "IPv4", "IPv4:port", "IPv6" or "[IPv6]:port" (port 53 by default),
 * or NULL/"" for the first nameserver of /etc/resolv.conf (read once, here). NULL with a
 * reason in err when server is not such an address.
 */
struct dnstxt *dnstxt_new(struct event_base *base, const char *server, char *err, size_t errlen);

/*
 * The TXT records of name, each record's character-strings joined, in the order of the
 * reply. Borrowed: valid until the callback returns. errmsg says why on DNSTXT_FAIL.
 */
typedef void (*dnstxt_done_fn)(enum dnstxt_status st, const char *const *txt, size_t n,
                               const char *errmsg, void *arg);

/*
 * Asks for name's TXT records, waiting at most timeout_ms (0: 5000; the query is sent again
 * once at a third of it). cb runs exactly once, from the loop, never inside this call. A
 * reply is taken only from the server's address, with the query's id and question; others
 * are ignored.
 */
void dnstxt_query(struct dnstxt *d, const char *name, long timeout_ms, dnstxt_done_fn cb,
                  void *arg);

/* Ends the pending lookups (their callbacks run with DNSTXT_FAIL) and frees d. NULL is fine. */
void dnstxt_free(struct dnstxt *d);

/*
 * The query packet for name's TXT records with id (recursion desired), into out. Its
 * length, or -1 when name is not made of 1..63-byte labels of letters, digits, "-" and "_"
 * within DNSTXT_MAX_NAME, or out is short.
 */
int dnstxt_build_query(const char *name, uint16_t id, unsigned char *out, size_t outlen);

/*
 * Reads a reply to the query (id, name). Returns -1 when pkt is not a reply to that query
 * (another id or question, not a response, too short): the caller ignores it and waits on.
 * Otherwise a dnstxt_status; on DNSTXT_OK *txt gets the records (newly allocated: free each
 * and the array) and *n their number; on DNSTXT_FAIL err says why.
 */
int dnstxt_parse_reply(const unsigned char *pkt, size_t len, uint16_t id, const char *name,
                       char ***txt, size_t *n, char *err, size_t errlen);

#endif
