/* One PostgreSQL connection that LISTENs on a channel, so that the loop hears of changes. */
#ifndef PASSERELLE_DBLISTEN_H
#define PASSERELLE_DBLISTEN_H

struct event_base;
struct dblisten;

/*
 * Called from the loop whenever what the owner caches may be stale: once the LISTEN is in
 * place on a new connection (the first, or one after a loss, when notifications may have
 * been missed), and after notifications on the channel arrive (several read together give
 * one call). Never called from inside dblisten_new or dblisten_free.
 */
typedef void (*dblisten_fn)(void *arg);

/*
 * Connects to conninfo (with the pool's parameters added, application_name
 * "passerelle-listen") without blocking and LISTENs on channel (an identifier the code
 * names, never input). When the connection is lost it reconnects after 0.25 s, doubling to
 * 5 s. Never NULL; a conninfo that does not parse gives a listener that never connects.
 */
struct dblisten *dblisten_new(struct event_base *base, const char *conninfo, const char *channel,
                              dblisten_fn changed, void *arg);

/* 1 while the LISTEN is in place (for tests and metrics). */
int dblisten_ready(const struct dblisten *l);

/* How many times the LISTEN was put in place (1 after the first connection). */
unsigned long dblisten_connects(const struct dblisten *l);

/* Closes the connection. NULL-safe. Not from inside changed. */
void dblisten_free(struct dblisten *l);

#endif
