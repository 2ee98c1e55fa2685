/* Address policy for outbound fetches: classifies resolved IPs so remote URLs cannot reach us. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "netguard.h"

struct v4_range {
    uint32_t prefix;
    unsigned bits;
    enum netguard_class cls;
};

/*
 * First match wins, so the /32 broadcast comes before 240/4. Ranges from the IANA IPv4
 * special-purpose registry that are not globally reachable; the few globally reachable
 * exceptions inside 192.0.0/24 are refused too because nothing we fetch lives there.
 */
static const struct v4_range v4_ranges[] = {
    { 0xffffffffu, 32, NETGUARD_BROADCAST },  /* 255.255.255.255 */
    { 0x00000000u, 8, NETGUARD_UNSPECIFIED }, /* 0/8 "this network" */
    { 0x0a000000u, 8, NETGUARD_PRIVATE },     /* 10/8 */
    { 0x64400000u, 10, NETGUARD_CGNAT },      /* 100.64/10 */
    { 0x7f000000u, 8, NETGUARD_LOOPBACK },    /* 127/8 */
    { 0xa9fe0000u, 16, NETGUARD_LINK_LOCAL }, /* 169.254/16 */
    { 0xac100000u, 12, NETGUARD_PRIVATE },    /* 172.16/12 */
    { 0xc0000000u, 24, NETGUARD_RESERVED },   /* 192.0.0/24 IETF protocol assignments */
    { 0xc0000200u, 24, NETGUARD_RESERVED },   /* 192.0.2/24 documentation */
    { 0xc0586300u, 24, NETGUARD_RESERVED },   /* 192.88.99/24 6to4 relay anycast */
    { 0xc0a80000u, 16, NETGUARD_PRIVATE },    /* 192.168/16 */
    { 0xc6120000u, 15, NETGUARD_RESERVED },   /* 198.18/15 benchmarking */
    { 0xc6336400u, 24, NETGUARD_RESERVED },   /* 198.51.100/24 documentation */
    { 0xcb007100u, 24, NETGUARD_RESERVED },   /* 203.0.113/24 documentation */
    { 0xe0000000u, 4, NETGUARD_MULTICAST },   /* 224/4 */
    { 0xf0000000u, 4, NETGUARD_RESERVED },    /* 240/4 */
};

static const char *const class_names[] = {
    "public",      "loopback",  "private", "link_local", "multicast",
    "unspecified", "broadcast", "cgnat",   "reserved",
};

static uint32_t
load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int
all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return 0;
    }
    return 1;
}

enum netguard_class
netguard_classify_v4(uint32_t addr)
{
    for (size_t i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++) {
        uint32_t mask = v4_ranges[i].bits == 0 ? 0 : 0xffffffffu << (32 - v4_ranges[i].bits);

        if ((addr & mask) == v4_ranges[i].prefix)
            return v4_ranges[i].cls;
    }
    return NETGUARD_PUBLIC;
}

enum netguard_class
netguard_classify_v6(const unsigned char a[16])
{
    static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

    if (all_zero(a, 15)) {
        if (a[15] == 0)
            return NETGUARD_UNSPECIFIED;
        if (a[15] == 1)
            return NETGUARD_LOOPBACK;
    }
    /* ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (translated) reach the IPv4 address. */
    if (all_zero(a, 10) && a[10] == 0xff && a[11] == 0xff)
        return netguard_classify_v4(load_be32(a + 12));
    if (all_zero(a, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0)
        return netguard_classify_v4(load_be32(a + 12));
    /* NAT64 to a public IPv4 address is how IPv6-only hosts reach the IPv4 fediverse. */
    if (memcmp(a, nat64, 12) == 0)
        return netguard_classify_v4(load_be32(a + 12));
    if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0x00 &&
        a[5] == 0x01)
        return NETGUARD_PRIVATE; /* 64:ff9b:1::/48 local-use NAT64 */
    if (a[0] == 0xff)
        return NETGUARD_MULTICAST;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return NETGUARD_LINK_LOCAL;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return NETGUARD_PRIVATE; /* fec0::/10, deprecated site-local */
    if ((a[0] & 0xfe) == 0xfc)
        return NETGUARD_PRIVATE;
    /* Everything else outside global unicast (::/96 compatible, 100::/64, ...) is not ours. */
    if ((a[0] & 0xe0) != 0x20)
        return NETGUARD_RESERVED;
    if (a[0] == 0x20 && a[1] == 0x02)
        return netguard_classify_v4(load_be32(a + 2)); /* 6to4 */
    /* Teredo 2001::/32 hides its target behind a relay; refuse it rather than decode it. */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x00 && a[3] == 0x00)
        return NETGUARD_RESERVED;
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x00 && a[3] == 0x02 && a[4] == 0 && a[5] == 0)
        return NETGUARD_RESERVED; /* 2001:2::/48 benchmarking */
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return NETGUARD_RESERVED; /* 2001:db8::/32 documentation */
    if (a[0] == 0x3f && (a[1] & 0xf0) == 0xf0)
        return NETGUARD_RESERVED; /* 3fff::/20 documentation */
    return NETGUARD_PUBLIC;
}

int
netguard_classify_str(const char *text, enum netguard_class *out)
{
    unsigned char buf[16];

    if (inet_pton(AF_INET, text, buf) == 1) {
        *out = netguard_classify_v4(load_be32(buf));
        return 0;
    }
    if (inet_pton(AF_INET6, text, buf) == 1) {
        *out = netguard_classify_v6(buf);
        return 0;
    }
    return -1;
}

const char *
netguard_class_name(enum netguard_class c)
{
    if ((size_t)c >= sizeof(class_names) / sizeof(class_names[0]))
        return "unknown";
    return class_names[c];
}

int
netguard_sockaddr_allowed(const struct sockaddr *sa, socklen_t len, int allow_loopback)
{
    enum netguard_class c;

    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;

        memcpy(&sin, sa, sizeof(sin));
        c = netguard_classify_v4(ntohl(sin.sin_addr.s_addr));
    } else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 sin6;

        memcpy(&sin6, sa, sizeof(sin6));
        c = netguard_classify_v6(sin6.sin6_addr.s6_addr);
    } else {
        return 0;
    }
    return c == NETGUARD_PUBLIC || (allow_loopback && c == NETGUARD_LOOPBACK);
}

int
netguard_host_is_localhost(const char *host)
{
    size_t n;

    if (host == NULL)
        return 0;
    n = strlen(host);
    if (n > 0 && host[n - 1] == '.')
        n--;
    if (n == 9 && strncasecmp(host, "localhost", 9) == 0)
        return 1;
    return n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0;
}
