/* Address policy for outbound fetches: which resolved IP addresses a remote URL may reach. */
#ifndef PASSERELLE_NETGUARD_H
#define PASSERELLE_NETGUARD_H

#include <stdint.h>
#include <sys/socket.h>

/*
 * What an address is, for the purpose of deciding whether a fetch that a remote party can
 * steer (actor URLs, inboxes, redirects) may connect to it. Only NETGUARD_PUBLIC is
 * reachable in production; NETGUARD_LOOPBACK also when loopback is allowed (tests).
 */
enum netguard_class {
    NETGUARD_PUBLIC = 0,
    NETGUARD_LOOPBACK,    /* 127/8, ::1 */
    NETGUARD_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10, 64:ff9b:1::/48 */
    NETGUARD_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
    NETGUARD_MULTICAST,   /* 224/4, ff00::/8 */
    NETGUARD_UNSPECIFIED, /* 0/8, :: */
    NETGUARD_BROADCAST,   /* 255.255.255.255 */
    NETGUARD_CGNAT,       /* 100.64/10 */
    NETGUARD_RESERVED     /* documentation, benchmarking, 240/4, Teredo, non-2000::/3 v6 */
};

/* Classifies an IPv4 address given in host byte order. */
enum netguard_class netguard_classify_v4(uint32_t addr);

/*
 * Classifies an IPv6 address (16 bytes, network order). Forms that embed an IPv4 address
 * the host would really reach (IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96,
 * NAT64 64:ff9b::/96, 6to4 2002::/16) take the class of the embedded IPv4 address, so
 * ::ffff:127.0.0.1 is loopback and 2002:0a00:0001:: is private.
 */
enum netguard_class netguard_classify_v6(const unsigned char addr[16]);

/*
 * Classifies a textual IPv4 or IPv6 address (no brackets, no zone). Returns -1 if text is
 * not an address, else 0 with *out set.
 */
int netguard_classify_str(const char *text, enum netguard_class *out);

/* Returns a short lowercase name for a class ("public", "loopback", ...), for logs. */
const char *netguard_class_name(enum netguard_class c);

/*
 * Returns 1 if a connection to sa may be made: the address is public, or it is loopback
 * (127/8, ::1 and their IPv4-mapped forms) and allow_loopback is set. Any other family
 * than AF_INET or AF_INET6, or a short len, is refused.
 */
int netguard_sockaddr_allowed(const struct sockaddr *sa, socklen_t len, int allow_loopback);

/*
 * Returns 1 if host (as in a URL, any case, optional trailing dot) names the local machine
 * by convention: "localhost" or any name under ".localhost" (RFC 6761). Resolvers and
 * libcurl answer those from the machine itself, so they are refused by name.
 */
int netguard_host_is_localhost(const char *host);

#endif
