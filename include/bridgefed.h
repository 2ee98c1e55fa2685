/* Bridgy Fed's identities: the names it gives people on the other network, and Bluesky profiles. */
#ifndef PASSERELLE_BRIDGEFED_H
#define PASSERELLE_BRIDGEFED_H

#include <stddef.h>

/* Where a Bluesky person is seen by anyone, with or without a bridge. */
#define BRIDGEFED_PROFILE_BASE "https://bsky.app/profile/"

/* Room for a handle (atproto allows 253 characters) and its NUL. */
#define BRIDGEFED_HANDLE_MAX 254

/*
 * 1 when s is an atproto handle as a DID document or a resolver gives it: two or more labels
 * of letters, digits and '-' (not at a label's ends), at most 253 characters, the last label
 * not starting with a digit. Pure.
 */
int bridgefed_handle_ok(const char *s);

/*
 * The fediverse address Bridgy Fed gives a bridged Bluesky account: "<handle>@<domain>"
 * (bsky.brid.gy), the handle lowercased. NULL when handle is not a handle. A new string.
 */
char *bridgefed_bsky_acct(const char *handle, const char *domain);

/*
 * The Bluesky handle Bridgy Fed gives a bridged fediverse account "user@host":
 * "user.host.<domain>" (ap.brid.gy), lowercased, with '_' and '~' turned into '-'. NULL when
 * the result is not a handle (a port in host, an odd user name). A new string.
 */
char *bridgefed_ap_handle(const char *acct, const char *domain);

/*
 * acct ("user@host") with its host replaced by NAME when names ("NAME=HOST ...", the test
 * setting test_host_names) has an entry for that host (case-insensitive); else a copy of acct.
 * Tests only: a loopback server always has a port, and a Bridgy Fed handle cannot. A new
 * string; NULL when acct is NULL.
 */
char *bridgefed_acct_named(const char *acct, const char *names);

/*
 * The id Bridgy Fed gives the ActivityPub actor of a bridged Bluesky account:
 * "<scheme>://<domain>/ap/<did>", https unless https is 0 (tests on loopback). A new string.
 */
char *bridgefed_actor_id(const char *domain, const char *did, int https);

/* "https://bsky.app/profile/<handle>": where a Bluesky person is found. A new string. */
char *bridgefed_profile_url(const char *handle);

#endif
