/* Unit tests for the outbound address policy: a table of v4 and v6 addresses and their class. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "netguard.h"
#include "tap.h"

struct addr_case {
    const char *text;
    enum netguard_class want;
};

static const struct addr_case cases[] = {
    /* IPv4 */
    { "8.8.8.8", NETGUARD_PUBLIC },
    { "1.1.1.1", NETGUARD_PUBLIC },
    { "93.184.216.34", NETGUARD_PUBLIC },
    { "127.0.0.1", NETGUARD_LOOPBACK },
    { "127.255.255.254", NETGUARD_LOOPBACK },
    { "10.0.0.1", NETGUARD_PRIVATE },
    { "10.255.255.255", NETGUARD_PRIVATE },
    { "172.16.0.1", NETGUARD_PRIVATE },
    { "172.31.255.255", NETGUARD_PRIVATE },
    { "172.15.255.255", NETGUARD_PUBLIC },
    { "172.32.0.0", NETGUARD_PUBLIC },
    { "192.168.1.1", NETGUARD_PRIVATE },
    { "192.169.0.1", NETGUARD_PUBLIC },
    { "169.254.169.254", NETGUARD_LINK_LOCAL },
    { "224.0.0.1", NETGUARD_MULTICAST },
    { "239.255.255.250", NETGUARD_MULTICAST },
    { "0.0.0.0", NETGUARD_UNSPECIFIED },
    { "0.1.2.3", NETGUARD_UNSPECIFIED },
    { "255.255.255.255", NETGUARD_BROADCAST },
    { "240.0.0.1", NETGUARD_RESERVED },
    { "100.64.0.1", NETGUARD_CGNAT },
    { "100.127.255.255", NETGUARD_CGNAT },
    { "100.128.0.0", NETGUARD_PUBLIC },
    { "100.63.255.255", NETGUARD_PUBLIC },
    { "192.0.2.10", NETGUARD_RESERVED },
    { "198.18.0.1", NETGUARD_RESERVED },
    { "198.51.100.7", NETGUARD_RESERVED },
    { "203.0.113.9", NETGUARD_RESERVED },
    { "192.0.0.8", NETGUARD_RESERVED },
    /* IPv6 */
    { "2606:4700:4700::1111", NETGUARD_PUBLIC },
    { "2a01:4f8::1", NETGUARD_PUBLIC },
    { "::1", NETGUARD_LOOPBACK },
    { "::", NETGUARD_UNSPECIFIED },
    { "fc00::1", NETGUARD_PRIVATE },
    { "fd12:3456:789a::1", NETGUARD_PRIVATE },
    { "fe80::1", NETGUARD_LINK_LOCAL },
    { "febf::1", NETGUARD_LINK_LOCAL },
    { "fec0::1", NETGUARD_PRIVATE },
    { "ff02::1", NETGUARD_MULTICAST },
    { "ff05::1:3", NETGUARD_MULTICAST },
    { "::ffff:127.0.0.1", NETGUARD_LOOPBACK },
    { "::ffff:10.1.2.3", NETGUARD_PRIVATE },
    { "::ffff:169.254.169.254", NETGUARD_LINK_LOCAL },
    { "::ffff:192.168.0.1", NETGUARD_PRIVATE },
    { "::ffff:100.64.1.1", NETGUARD_CGNAT },
    { "::ffff:0.0.0.0", NETGUARD_UNSPECIFIED },
    { "::ffff:8.8.8.8", NETGUARD_PUBLIC },
    { "::ffff:0:127.0.0.1", NETGUARD_LOOPBACK },
    { "::127.0.0.1", NETGUARD_RESERVED },
    { "64:ff9b::8.8.8.8", NETGUARD_PUBLIC },
    { "64:ff9b::127.0.0.1", NETGUARD_LOOPBACK },
    { "64:ff9b::10.0.0.1", NETGUARD_PRIVATE },
    { "64:ff9b:1::1", NETGUARD_PRIVATE },
    { "2002:7f00:1::", NETGUARD_LOOPBACK },
    { "2002:c0a8:101::1", NETGUARD_PRIVATE },
    { "2002:808:808::1", NETGUARD_PUBLIC },
    { "2001:0:4136:e378::1", NETGUARD_RESERVED },
    { "2001:db8::1", NETGUARD_RESERVED },
    { "100::1", NETGUARD_RESERVED },
    { "4000::1", NETGUARD_RESERVED },
};

static void
test_table(void)
{
    size_t n = sizeof(cases) / sizeof(cases[0]);

    ok(n >= 30, "table has %zu addresses", n);
    for (size_t i = 0; i < n; i++) {
        enum netguard_class got = NETGUARD_PUBLIC;
        int rc = netguard_classify_str(cases[i].text, &got);

        ok(rc == 0 && got == cases[i].want, "%s is %s (got %s)", cases[i].text,
           netguard_class_name(cases[i].want), rc == 0 ? netguard_class_name(got) : "parse error");
    }
}

static void
test_not_addresses(void)
{
    enum netguard_class c;

    is_int(netguard_classify_str("localhost", &c), -1, "a name is not an address");
    is_int(netguard_classify_str("127.1", &c), -1, "inet_pton form only");
    is_int(netguard_classify_str("", &c), -1, "empty is not an address");
    is_str(netguard_class_name(NETGUARD_CGNAT), "cgnat", "class names for logs");
    is_str(netguard_class_name((enum netguard_class)99), "unknown", "out of range class name");
}

static void
test_sockaddr(void)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    is_int(netguard_sockaddr_allowed((struct sockaddr *)&sin, sizeof(sin), 0), 0,
           "127.0.0.1 refused");
    is_int(netguard_sockaddr_allowed((struct sockaddr *)&sin, sizeof(sin), 1), 1,
           "127.0.0.1 allowed with allow_loopback");
    is_int(netguard_sockaddr_allowed((struct sockaddr *)&sin, sizeof(sin) - 1, 1), 0,
           "short sockaddr refused");
    inet_pton(AF_INET, "10.0.0.1", &sin.sin_addr);
    is_int(netguard_sockaddr_allowed((struct sockaddr *)&sin, sizeof(sin), 1), 0,
           "10.0.0.1 refused even with allow_loopback");
    inet_pton(AF_INET, "9.9.9.9", &sin.sin_addr);
    is_int(netguard_sockaddr_allowed((struct sockaddr *)&sin, sizeof(sin), 0), 1,
           "9.9.9.9 allowed");

    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
    is_int(netguard_sockaddr_allowed((struct sockaddr *)&sin6, sizeof(sin6), 0), 0, "::1 refused");
    is_int(netguard_sockaddr_allowed((struct sockaddr *)&sin6, sizeof(sin6), 1), 1,
           "::1 allowed with allow_loopback");
    inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr);
    is_int(netguard_sockaddr_allowed((struct sockaddr *)&sin6, sizeof(sin6), 1), 0,
           "fe80::1 refused even with allow_loopback");
    inet_pton(AF_INET6, "2a00:1450:4001::1", &sin6.sin6_addr);
    is_int(netguard_sockaddr_allowed((struct sockaddr *)&sin6, sizeof(sin6), 0), 1,
           "public v6 allowed");
    sin6.sin6_family = AF_UNIX;
    is_int(netguard_sockaddr_allowed((struct sockaddr *)&sin6, sizeof(sin6), 1), 0,
           "other families refused");
    is_int(netguard_sockaddr_allowed(NULL, 0, 1), 0, "NULL refused");
}

static void
test_localhost_names(void)
{
    is_int(netguard_host_is_localhost("localhost"), 1, "localhost");
    is_int(netguard_host_is_localhost("LocalHost."), 1, "LocalHost. (case, trailing dot)");
    is_int(netguard_host_is_localhost("foo.localhost"), 1, "foo.localhost");
    is_int(netguard_host_is_localhost("notlocalhost"), 0, "notlocalhost is a name");
    is_int(netguard_host_is_localhost("localhost.example"), 0, "localhost.example is a name");
    is_int(netguard_host_is_localhost(".localhost"), 0, "bare .localhost is not a host");
    is_int(netguard_host_is_localhost(NULL), 0, "NULL");
}

int
main(void)
{
    test_table();
    test_not_addresses();
    test_sockaddr();
    test_localhost_names();
    return done_testing();
}
