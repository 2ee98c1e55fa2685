/* Schema migrations: numbered SQL files under db/migrations, compiled into the binary. */
#ifndef PASSERELLE_MIGRATE_H
#define PASSERELLE_MIGRATE_H

#include <stddef.h>

struct migration {
    int version;
    const char *name;
    const char *sql;
};

/* The migrations built into this binary, ascending by version. */
extern const struct migration migrate_list[];
extern const size_t migrate_count;

/* The highest version this binary knows. */
int migrate_latest(void);

/*
 * Connects (blocking: for the CLI, never the event loop) and applies every
 * missing migration, each in its own transaction, recording it in
 * schema_migrations. Refuses a database whose schema is newer than this
 * binary. Sets *applied to how many were applied. -1 with a message on error.
 */
int migrate_run(const char *conninfo, int *applied, char *err, size_t errlen);

/* Same, with an explicit list (ascending versions): lets tests apply their own. */
int migrate_run_list(const char *conninfo, const struct migration *list, size_t count, int *applied,
                     char *err, size_t errlen);

/* The pg_advisory_lock key migrate_run holds, so two processes never migrate at once. */
#define MIGRATE_LOCK_KEY 0x7061737365726c65LL /* "passerle" */

/* Reads the current version (0 for an empty database). -1 with a message on error. */
int migrate_current(const char *conninfo, int *version, char *err, size_t errlen);

#endif
