/* The one reader of absolute http(s) URLs: scheme, host, port, target; our rules on top. */
#ifndef PASSERELLE_URL_H
#define PASSERELLE_URL_H

#include <stddef.h>

/*
 * The parts of an absolute http(s) URL. Pointers go into the string given to url_split and
 * are not NUL-terminated; lengths say where each part ends.
 */
struct url {
    int https;         /* 1 for https, 0 for http */
    const char *host;  /* as written, without the brackets of an IPv6 literal */
    size_t host_len;   /* 1..URL_HOST_MAX */
    int ipv6;          /* the host was a bracketed literal */
    long port;         /* the explicit port, else 443 or 80 */
    int port_explicit; /* a port was written (even the default one) */
    const char *path;  /* from the first "/" to "?" or "#"; "" (length 0) when absent */
    size_t path_len;
    const char *query; /* after "?", up to "#"; NULL when there is no "?" */
    size_t query_len;
    const char *fragment; /* after "#"; NULL when there is none */
};

/* The longest host we accept (a DNS name is at most 253 characters). */
#define URL_HOST_MAX 253

/*
 * Splits url. -1 with a reason in err when it is not an absolute http(s) URL we accept: another
 * scheme, a userinfo part ("user@"), an empty or overlong host, a host character that no DNS
 * name nor IP literal holds (so a host can be quoted anywhere without escaping), a port that is
 * not 1..65535, or a control character, space or non-ASCII byte before the path.
 */
int url_split(const char *url, struct url *u, char *err, size_t errlen);

/*
 * Writes the lowercase authority "host" or "host:port" (the port only when it is not the
 * scheme's default; an IPv6 host in brackets) into out, which needs room for
 * URL_AUTHORITY_MAX bytes. This is how the database names a host. -1 when url_split refuses.
 */
#define URL_AUTHORITY_MAX 264
int url_authority(const char *url, char *out, size_t outlen);

/*
 * The origin of url: "https" or "http" into scheme, the lowercase host (IPv6 without brackets)
 * into host, and the effective port. -1 when url_split refuses or a buffer is too small.
 */
int url_origin(const char *url, char *scheme, size_t slen, char *host, size_t hlen, long *port);

/* 1 when a and b are URLs with the same scheme, host (any case) and effective port. */
int url_same_origin(const char *a, const char *b);

/*
 * The request target of url for an HTTP request line: its path and query ("/" when the path
 * is empty), without the fragment. Returns a malloc'd string, or NULL when url_split refuses.
 */
char *url_target(const char *url);

#endif
