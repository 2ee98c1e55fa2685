/* Which domains the relay serves: the configured allowlist and blocklist, matched by suffix. */
#ifndef PASSERELLE_POLICY_H
#define PASSERELLE_POLICY_H

#include <stddef.h>

struct config;

/* Room for the longest domain policy_domain_normalize accepts, with its NUL. */
#define POLICY_DOMAIN_MAX 264

/*
 * Lowercases in into out and checks that it is a host or host:port: DNS labels of letters,
 * digits and '-' (IPv4 literals pass as such) or a bracketed IPv6 literal, and a port from
 * 1 to 65535 without leading zeros. No scheme, path, userinfo or trailing dot. Returns -1
 * with a reason in err when it is not.
 */
int policy_domain_normalize(const char *in, char *out, size_t outlen, char *err, size_t errlen);

/*
 * Normalizes a comma- or space-separated list of domains into *out (a new string, entries
 * lowercased and separated by one space; "" for an empty list). Returns -1 with the bad
 * entry named in err, and *out untouched.
 */
int policy_list_normalize(const char *in, char **out, char *err, size_t errlen);

/*
 * 1 when list (comma- or space-separated) names domain, case-insensitively: an entry with a
 * port matches only that exact host:port; an entry without one matches the host on any port
 * and, unless it is an IP literal, every subdomain ("b.example.com" is listed by
 * "example.com", "badexample.com" is not). 0 otherwise, and for NULL arguments.
 */
int policy_listed(const char *list, const char *domain);

/* The configuration's relay_block lists domain. */
int policy_config_blocked(const struct config *cfg, const char *domain);

/* The configuration's relay_allow lists domain and relay_block does not. */
int policy_config_allowed(const struct config *cfg, const char *domain);

/* One candidate of policy_candidates: len bytes at s (not NUL-terminated). */
struct policy_span {
    const char *s;
    size_t len;
};

/* Enough for any domain policy_domain_normalize accepts (a label is at least one byte). */
#define POLICY_CANDIDATES_MAX 136

/*
 * The entries that would list domain under policy_listed's rules, as spans into domain:
 * domain as written when it has a port, its host, and every parent name of a host that is
 * not an IP address ("a.b.c:1" gives "a.b.c:1", "a.b.c", "b.c", "c"). At most max; returns
 * how many (0 for an empty domain).
 */
int policy_candidates(const char *domain, struct policy_span *out, int max);

/*
 * The entries that would list domain under policy_listed's rules (domain as written, its
 * host without the port, and every parent name of a host that is not an IP address), as a
 * PostgreSQL text array literal in out, so that blocks and allows stored one per row in
 * instances can be matched with "domain = ANY($1)" on the primary key. -1 if out is short.
 */
int policy_candidates_pg(const char *domain, char *out, size_t outlen);

#endif
