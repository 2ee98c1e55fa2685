/* The admin's domain policy (instances.blocked and allowed) in memory, kept current by NOTIFY. */
#ifndef PASSERELLE_DOMAINS_H
#define PASSERELLE_DOMAINS_H

struct event_base;
struct db;
struct domains;

/* The channel migration 026's trigger notifies when a row's blocked or allowed changes. */
#define DOMAINS_CHANNEL "passerelle_policy"

/*
 * Reads the domains the admin blocked or allowed through db and reads them again whenever
 * the trigger notifies a change (a listener of its own on conninfo, see dblisten.h) and
 * whenever that listener connects again (what changed meanwhile was not notified). Both are
 * borrowed and must outlive it.
 */
struct domains *domains_new(struct event_base *base, struct db *db, const char *conninfo);

/*
 * Judges a POST signed on key_domain for an activity of actor_domain, as the statement it
 * replaces did: *blocked when a row blocks either (the domain, its host or a parent name:
 * policy_candidates), *allowed when a row allows the actor's. Returns 0, or -1 when the copy
 * is not known to be current (not read yet, its listener down, or read again since a
 * change was notified): the caller asks the database then.
 */
int domains_judge(const struct domains *d, const char *key_domain, const char *actor_domain,
                  int *blocked, int *allowed);

/* Reads completed (for tests). */
unsigned long domains_loads(const struct domains *d);

/* NULL-safe. A read still running is answered into nothing. */
void domains_free(struct domains *d);

#endif
