/* The hourly sweep: rows whose use is over (seen ids, relayed objects, link codes, sessions). */
#ifndef PASSERELLE_SWEEP_H
#define PASSERELLE_SWEEP_H

struct db;

/* Forgets old activity ids, relayed object ids, link codes and sessions (fire and forget). */
void sweep_run(struct db *db);

#endif
