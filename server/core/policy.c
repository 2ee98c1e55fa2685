/* Which domains the relay serves: the configured allowlist and blocklist, matched by suffix. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "policy.h"
#include "xmalloc.h"

#define POLICY_SEPARATORS ", \t\r\n"

static int policy_valid_port(const char *p, size_t len);
static int policy_valid_name(const char *s, size_t len);
static int policy_valid_ipv6(const char *s, size_t len);
static size_t policy_host_len(const char *domain, size_t len);
static int policy_ip_literal(const char *host, size_t len);
static int policy_entry_matches(const char *entry, size_t elen, const char *domain);

static int
policy_valid_port(const char *p, size_t len)
{
    long port = 0;

    if (len == 0 || len > 5 || p[0] == '0')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)p[i]))
            return 0;
        port = port * 10 + (p[i] - '0');
    }
    return port <= 65535;
}

/* DNS labels: 1 to 63 letters, digits or '-', not at either end; 253 bytes in all. */
static int
policy_valid_name(const char *s, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > 253)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
                return 0;
            label = 0;
        } else if (isalnum((unsigned char)s[i]) || s[i] == '-') {
            label++;
        } else {
            return 0;
        }
    }
    return 1;
}

/* "[...]" holding hex digits, colons and dots (an embedded IPv4): loose, but never a path. */
static int
policy_valid_ipv6(const char *s, size_t len)
{
    int colons = 0;

    if (len < 4 || len > 47 || s[0] != '[' || s[len - 1] != ']')
        return 0;
    for (size_t i = 1; i + 1 < len; i++) {
        if (s[i] == ':')
            colons++;
        else if (!isxdigit((unsigned char)s[i]) && s[i] != '.')
            return 0;
    }
    return colons >= 2;
}

int
policy_domain_normalize(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
    size_t len, hlen;

    if (in == NULL || *in == '\0') {
        snprintf(err, errlen, "empty domain");
        return -1;
    }
    if (strstr(in, "://") != NULL) {
        snprintf(err, errlen, "a domain, not a URL: leave out the scheme");
        return -1;
    }
    len = strlen(in);
    if (len + 1 > outlen || len + 1 > POLICY_DOMAIN_MAX) {
        snprintf(err, errlen, "domain too long");
        return -1;
    }
    hlen = policy_host_len(in, len);
    if (hlen < len && (in[hlen] != ':' || !policy_valid_port(in + hlen + 1, len - hlen - 1))) {
        snprintf(err, errlen, "bad port (host:port with a port from 1 to 65535)");
        return -1;
    }
    if (in[0] == '[' ? !policy_valid_ipv6(in, hlen) : !policy_valid_name(in, hlen)) {
        snprintf(err, errlen, "not a host name (letters, digits, '-' and dots) or [IPv6]");
        return -1;
    }
    for (size_t i = 0; i <= len; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    return 0;
}

int
policy_list_normalize(const char *in, char **out, char *err, size_t errlen)
{
    size_t cap = (in != NULL ? strlen(in) : 0) + 1, used = 0;
    char *res = xmalloc(cap);
    const char *p = in != NULL ? in : "";

    res[0] = '\0';
    for (;;) {
        char entry[POLICY_DOMAIN_MAX], norm[POLICY_DOMAIN_MAX], why[128];
        size_t n;

        p += strspn(p, POLICY_SEPARATORS);
        if (*p == '\0')
            break;
        n = strcspn(p, POLICY_SEPARATORS);
        snprintf(entry, sizeof(entry), "%.*s", (int)(n < sizeof(entry) ? n : sizeof(entry) - 1), p);
        if (n >= sizeof(entry) ||
            policy_domain_normalize(entry, norm, sizeof(norm), why, sizeof(why)) < 0) {
            snprintf(err, errlen, "\"%s%s\": %s", entry, n >= sizeof(entry) ? "..." : "",
                     n >= sizeof(entry) ? "domain too long" : why);
            free(res);
            return -1;
        }
        /* Never longer than the input: each entry keeps its length, separators shrink. */
        used += (size_t)snprintf(res + used, cap - used, "%s%s", used > 0 ? " " : "", norm);
        p += n;
    }
    *out = res;
    return 0;
}

/* Length of the host part of a domain: up to the port's colon (after the bracket for IPv6). */
static size_t
policy_host_len(const char *domain, size_t len)
{
    const char *colon;

    if (domain[0] == '[') {
        const char *rb = memchr(domain, ']', len);

        return rb != NULL ? (size_t)(rb + 1 - domain) : len;
    }
    colon = memchr(domain, ':', len);
    return colon != NULL ? (size_t)(colon - domain) : len;
}

/* IPv4 (digits and dots) or bracketed IPv6: these have no subdomains. */
static int
policy_ip_literal(const char *host, size_t len)
{
    if (len > 0 && host[0] == '[')
        return 1;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)host[i]) && host[i] != '.')
            return 0;
    return len > 0;
}

static int
policy_entry_matches(const char *entry, size_t elen, const char *domain)
{
    size_t dlen = strlen(domain), ehost = policy_host_len(entry, elen);
    size_t dhost = policy_host_len(domain, dlen);

    if (ehost < elen) /* the entry names a port: that authority only */
        return elen == dlen && strncasecmp(entry, domain, elen) == 0;
    if (dhost == ehost)
        return strncasecmp(entry, domain, ehost) == 0;
    return dhost > ehost && !policy_ip_literal(entry, ehost) && domain[dhost - ehost - 1] == '.' &&
           strncasecmp(entry, domain + dhost - ehost, ehost) == 0;
}

/*
 * Appends "\"s[0..n)\"," to out, with '"' and '\\' backslash-escaped as an array literal
 * element needs (whatever a host holds, the literal stays one element); -1 when it does not
 * fit.
 */
static int
policy_pg_append(char *out, size_t outlen, size_t *used, const char *s, size_t n)
{
    size_t need = n + 4;

    for (size_t i = 0; i < n; i++)
        need += s[i] == '"' || s[i] == '\\';
    if (*used + need > outlen)
        return -1;
    out[(*used)++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            out[(*used)++] = '\\';
        out[(*used)++] = s[i];
    }
    out[(*used)++] = '"';
    out[(*used)++] = ',';
    return 0;
}

int
policy_candidates(const char *domain, struct policy_span *out, int max)
{
    size_t len = strlen(domain), host = policy_host_len(domain, len);
    int n = 0;

    if (len == 0)
        return 0;
    /* Exactly as written (a host:port entry), then the host, then each parent name. */
    if (host < len && n < max)
        out[n++] = (struct policy_span){ domain, len };
    if (n < max)
        out[n++] = (struct policy_span){ domain, host };
    if (!policy_ip_literal(domain, host))
        for (size_t i = 0; i < host && n < max; i++)
            if (domain[i] == '.' && i + 1 < host)
                out[n++] = (struct policy_span){ domain + i + 1, host - i - 1 };
    return n;
}

int
policy_candidates_pg(const char *domain, char *out, size_t outlen)
{
    struct policy_span c[POLICY_CANDIDATES_MAX];
    int n = policy_candidates(domain, c, POLICY_CANDIDATES_MAX);
    size_t used = 1;

    if (outlen < 3 || n == 0)
        return -1;
    out[0] = '{';
    for (int i = 0; i < n; i++)
        if (policy_pg_append(out, outlen, &used, c[i].s, c[i].len) < 0)
            return -1;
    out[used - 1] = '}';
    out[used] = '\0';
    return 0;
}

int
policy_listed(const char *list, const char *domain)
{
    const char *p = list;

    if (list == NULL || domain == NULL || *domain == '\0')
        return 0;
    for (;;) {
        size_t n;

        p += strspn(p, POLICY_SEPARATORS);
        if (*p == '\0')
            return 0;
        n = strcspn(p, POLICY_SEPARATORS);
        if (policy_entry_matches(p, n, domain))
            return 1;
        p += n;
    }
}

int
policy_config_blocked(const struct config *cfg, const char *domain)
{
    return policy_listed(cfg->relay_block, domain);
}

int
policy_config_allowed(const struct config *cfg, const char *domain)
{
    return policy_listed(cfg->relay_allow, domain) && !policy_listed(cfg->relay_block, domain);
}
