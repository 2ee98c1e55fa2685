/* The one reader of absolute http(s) URLs, with our rules: no userinfo, plain host names. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "url.h"
#include "xmalloc.h"

/* A DNS name's letters, digits, "-", "." and "_" (some servers use it in names). */
static int
url_name_char(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* An IPv6 literal's hex digits, ":" and "." (an embedded IPv4). Zone ids are refused. */
static int
url_ipv6_char(unsigned char c)
{
    return isxdigit(c) || c == ':' || c == '.';
}

/* Reads ":port" between p and end into u; p points at the ':'. */
static int
url_port(const char *p, const char *end, struct url *u, char *err, size_t errlen)
{
    long port = 0;

    if (p + 1 == end || end - p > 6)
        return err_set(err, errlen, "bad port");
    for (const char *c = p + 1; c < end; c++) {
        if (!isdigit((unsigned char)*c))
            return err_set(err, errlen, "bad port");
        port = port * 10 + (*c - '0');
    }
    if (port < 1 || port > 65535)
        return err_set(err, errlen, "port out of range");
    u->port = port;
    u->port_explicit = 1;
    return 0;
}

/* Reads the authority between p and end (no "/", "?" or "#" inside) into u. */
static int
url_host(const char *p, const char *end, struct url *u, char *err, size_t errlen)
{
    const char *hend, *colon;

    if (memchr(p, '@', (size_t)(end - p)) != NULL)
        return err_set(err, errlen, "userinfo in URL");
    if (*p == '[') {
        hend = memchr(p, ']', (size_t)(end - p));
        if (hend == NULL || (hend + 1 < end && hend[1] != ':'))
            return err_set(err, errlen, "bad IPv6 literal");
        u->host = p + 1;
        u->host_len = (size_t)(hend - p - 1);
        u->ipv6 = 1;
        colon = hend + 1 < end ? hend + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        u->host = p;
        u->host_len = (size_t)((colon != NULL ? colon : end) - p);
    }
    if (u->host_len == 0 || u->host_len > URL_HOST_MAX)
        return err_set(err, errlen, "empty or overlong host");
    for (size_t i = 0; i < u->host_len; i++) {
        unsigned char c = (unsigned char)u->host[i];

        if (!(u->ipv6 ? url_ipv6_char(c) : url_name_char(c)))
            return err_set(err, errlen, "bad character in host");
    }
    if (colon != NULL)
        return url_port(colon, end, u, err, errlen);
    return 0;
}

int
url_split(const char *url, struct url *u, char *err, size_t errlen)
{
    const char *p, *end;

    memset(u, 0, sizeof(*u));
    if (url == NULL)
        return err_set(err, errlen, "no URL");
    if (strncasecmp(url, "https://", 8) == 0) {
        u->https = 1;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else {
        return err_set(err, errlen, "not an http(s) URL");
    }
    u->port = u->https ? 443 : 80;
    end = p + strcspn(p, "/?#");
    if (url_host(p, end, u, err, errlen) < 0)
        return -1;
    u->path = end;
    u->path_len = strcspn(end, "?#");
    p = end + u->path_len;
    if (*p == '?') {
        u->query = p + 1;
        u->query_len = strcspn(u->query, "#");
        p = u->query + u->query_len;
    }
    if (*p == '#')
        u->fragment = p + 1;
    return 0;
}

int
url_authority(const char *url, char *out, size_t outlen)
{
    struct url u;
    char err[64];
    size_t n = 0;

    if (outlen < URL_AUTHORITY_MAX || url_split(url, &u, err, sizeof(err)) < 0)
        return -1;
    if (u.ipv6)
        out[n++] = '[';
    for (size_t i = 0; i < u.host_len; i++)
        out[n++] = (char)tolower((unsigned char)u.host[i]);
    if (u.ipv6)
        out[n++] = ']';
    if (u.port != (u.https ? 443 : 80))
        n += (size_t)snprintf(out + n, outlen - n, ":%ld", u.port);
    out[n] = '\0';
    return 0;
}

int
url_origin(const char *url, char *scheme, size_t slen, char *host, size_t hlen, long *port)
{
    struct url u;
    char err[64];

    if (url_split(url, &u, err, sizeof(err)) < 0 || slen < 6 || u.host_len >= hlen)
        return -1;
    snprintf(scheme, slen, "%s", u.https ? "https" : "http");
    for (size_t i = 0; i < u.host_len; i++)
        host[i] = (char)tolower((unsigned char)u.host[i]);
    host[u.host_len] = '\0';
    *port = u.port;
    return 0;
}

int
url_same_origin(const char *a, const char *b)
{
    char sa[8], sb[8], ha[URL_HOST_MAX + 1], hb[URL_HOST_MAX + 1];
    long pa, pb;

    if (url_origin(a, sa, sizeof(sa), ha, sizeof(ha), &pa) < 0 ||
        url_origin(b, sb, sizeof(sb), hb, sizeof(hb), &pb) < 0)
        return 0;
    return strcmp(sa, sb) == 0 && strcmp(ha, hb) == 0 && pa == pb;
}

char *
url_target(const char *url)
{
    struct url u;
    char err[64];

    if (url_split(url, &u, err, sizeof(err)) < 0)
        return NULL;
    if (u.query == NULL)
        return u.path_len > 0 ? xstrndup(u.path, u.path_len) : xstrdup("/");
    return xasprintf("%.*s?%.*s", u.path_len > 0 ? (int)u.path_len : 1,
                     u.path_len > 0 ? u.path : "/", (int)u.query_len, u.query);
}
