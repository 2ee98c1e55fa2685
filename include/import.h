/* An X archive into the database: parsed to compact id lists, then claims and edges by COPY. */
#ifndef PASSERELLE_IMPORT_H
#define PASSERELLE_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "archive.h"

struct app;

/* Caps on one archive's lists (X shows at most a few million followers). */
#define IMPORT_MAX_EDGES (8u * 1000 * 1000)

/*
 * What an archive says, without its JSON: the account and two sorted lists of distinct X ids
 * (8 bytes each), the owner's own id removed. The e-mail and every other field never get here.
 */
struct import_data {
    struct archive_result result;
    uint64_t *followers; /* X ids following the owner */
    size_t nfollowers;
    uint64_t *following; /* X ids the owner follows */
    size_t nfollowing;
    /* X ids the owner blocked, muted: kept out of reach (member_excludes) when the archive
       had the list at all (result.block_files, result.mute_files). */
    uint64_t *blocked;
    size_t nblocked;
    uint64_t *muted;
    size_t nmuted;
    /* Optional: called as the edges are copied (the command line's progress bar). */
    void (*progress)(size_t done, size_t total, void *arg);
    void *progress_arg;
};

/* Parses a zip held in memory (the page's upload). -1 with a plain-words message in err. */
int import_parse_zip_mem(const void *buf, size_t len, struct import_data *out, char *err,
                         size_t errlen);
/* Parses a zip on disk (only the central directory and the needed entries are read). */
int import_parse_zip_path(const char *path, struct import_data *out, char *err, size_t errlen);
/* Parses loose .js files. */
int import_parse_files(const char *const *paths, size_t n, struct import_data *out, char *err,
                       size_t errlen);
void import_data_free(struct import_data *d);

enum import_status {
    IMPORT_LINKED,      /* claims and edges stored, the member is linked */
    IMPORT_DISPUTED,    /* another member claims this X account: both frozen and told */
    IMPORT_NO_MEMBER,   /* the member is gone */
    IMPORT_SUSPENDED,   /* the member is blocked by the admin */
    IMPORT_UNAVAILABLE, /* the database is down: nothing changed */
    IMPORT_FAILED,      /* a database error: nothing changed */
    IMPORT_REFUSED,     /* a settled claim holds this X id: refused, its holder told, logged */
    IMPORT_LOCKED,      /* the member's claim is disputed: no other X id until an admin decides */
    IMPORT_VERIFIED_OTHER, /* the member is verified with X as another X id: nothing changed */
    IMPORT_RATE_LIMITED    /* claims_per_member or claims_per_instance reached: nothing changed */
};

/* A static word for logs and JSON: "linked", "disputed", ... */
const char *import_status_name(enum import_status s);

/* Called once from the loop; nothing is half-written whatever the status. */
typedef void (*import_done_fn)(enum import_status status, const struct import_data *data,
                               void *arg);

/*
 * Stores data for member_id (decimal text) in one transaction, by the claim rules (README,
 * "Claims"): a member that holds this X id just replaces its archive; a new claim of an X id
 * is counted (claims_per_member, claims_per_instance) and logged in claim_log; when another
 * member holds the X id with a settled claim (verified with X, or older than the hold) the
 * new claim is refused and the holder told; when others claim it within the hold, all are
 * frozen ("disputed") and told; otherwise the member's previous archive's rows are replaced
 * by these (COPY), and its x_id, X handle and state are set; its 'blocked' ('muted')
 * member_excludes rows are replaced too when the archive had a block (mute) list, while
 * the 'ignored' ones, set on the page, stay. A disputed member may not claim
 * another X id, nor a verified one another than its own. data (malloc'd) is taken: freed,
 * lists and struct, after cb. app's db, cfg and actor ids are used; the queue is kicked when
 * messages were queued (if app->queue is set).
 */
void import_store(struct app *app, const char *member_id, struct import_data *data,
                  import_done_fn cb, void *arg);

#endif
