/* passerelle queue: the operator's report of the delivery queue. */
#ifndef PASSERELLE_ADMIN_QUEUE_H
#define PASSERELLE_ADMIN_QUEUE_H

#include <stdio.h>

/*
 * For the CLI (blocking libpq; never on the loop): prints queue depth by host and state,
 * then paused and dead hosts. -1 with a message in err on a database error.
 */
int admin_queue_report(const char *conninfo, FILE *out, char *err, size_t errlen);

#endif
