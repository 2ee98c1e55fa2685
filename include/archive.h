/*
 * X data archive: which files matter (archive.c), a streaming parser for one file
 * (archive_stream.c, over the scanner of jsonscan.h) and whole-archive reading (archive_read.c).
 */
#ifndef PASSERELLE_ARCHIVE_H
#define PASSERELLE_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

struct zipread;
struct zipread_limits;

/* The files of an X archive passerelle reads; every other file is ARCHIVE_OTHER. */
enum archive_kind {
    ARCHIVE_OTHER = 0,
    ARCHIVE_ACCOUNT,   /* account.js: the owner's id, handle and display name */
    ARCHIVE_MANIFEST,  /* manifest.js: window.__THAR_CONFIG, with the expected counts */
    ARCHIVE_FOLLOWER,  /* follower.js, follower-partN.js: accounts that follow the owner */
    ARCHIVE_FOLLOWING, /* following.js, following-partN.js: accounts the owner follows */
    ARCHIVE_BLOCK,     /* block.js, block-partN.js: accounts the owner blocked ("blocking") */
    ARCHIVE_MUTE,      /* mute.js, mute-partN.js: accounts the owner muted ("muting") */
};

/* Memory caps: one element is held at a time, never a whole file. */
#define ARCHIVE_MAX_ELEMENT      (64 * 1024)   /* one list element (and account.js's one) */
#define ARCHIVE_MAX_MANIFEST     (1024 * 1024) /* manifest.js's single object (real: ~16 KiB) */
#define ARCHIVE_MAX_DEPTH        32            /* JSON nesting inside an element */
#define ARCHIVE_MAX_PART         9999          /* N of -partN.js */
#define ARCHIVE_MAX_FILES        4096          /* files read in one import */
#define ARCHIVE_MAX_DISPLAY_NAME 256           /* bytes kept of accountDisplayName */
#define ARCHIVE_MAX_LABEL        200           /* bytes of a file's name shown in messages */

/* What account.js says; the e-mail and every other field are never copied. */
struct archive_account {
    uint64_t account_id;
    char username[16];                               /* [A-Za-z0-9_]{1,15} */
    char display_name[ARCHIVE_MAX_DISPLAY_NAME + 1]; /* valid UTF-8, may be empty */
};

/* What manifest.js says, when it is there; every field is optional in the file. */
struct archive_manifest {
    int present;
    uint64_t account_id; /* userInfo.accountId; 0 if absent */
    int has_follower_count;
    uint64_t follower_count; /* sum of dataTypes.follower.files[].count */
    int has_following_count;
    uint64_t following_count;
    int has_block_count;
    uint64_t block_count;
    int has_mute_count;
    uint64_t mute_count;
};

/*
 * What the parser hands out. Each returns 0 to go on or -1 to stop, with a message in err.
 * Either may be NULL.
 */
struct archive_callbacks {
    void *ctx;
    /* account.js was read. archive_read_zip and archive_read_files call it before any edge. */
    int (*account)(void *ctx, const struct archive_account *account, char *err, size_t errlen);
    /*
     * One edge: kind ARCHIVE_FOLLOWER (account_id follows the owner), ARCHIVE_FOLLOWING, or
     * ARCHIVE_BLOCK / ARCHIVE_MUTE (the owner blocked / muted account_id).
     */
    int (*edge)(void *ctx, enum archive_kind kind, uint64_t account_id, char *err, size_t errlen);
};

/* The outcome of a whole import. */
struct archive_result {
    struct archive_account account;
    struct archive_manifest manifest;
    uint64_t followers; /* follower edges handed to cb->edge */
    uint64_t following; /* following edges handed to cb->edge */
    unsigned follower_files;
    unsigned following_files;
    uint64_t blocks; /* block and mute entries handed to cb->edge */
    uint64_t mutes;
    unsigned block_files; /* 0: the archive said nothing of blocks (not "none") */
    unsigned mute_files;
};

/*
 * Classifies a zip entry name or a file name: data/follower.js, data/follower-part2.js,
 * follower.js (older archives and re-zipped folders have no data/), TOP/data/follower.js
 * (an archive unpacked and zipped again). *part gets N of -partN.js, 0 for the first file.
 */
enum archive_kind archive_classify(const char *name, unsigned *part);

/* "account", "manifest", "follower", "following", "block", "mute" or "other": the file's stem. */
const char *archive_kind_name(enum archive_kind kind);

/* The key wrapping each element: the name, except "blocking" and "muting". */
const char *archive_kind_key(enum archive_kind kind);

/* The files read, as messages list them. */
#define ARCHIVE_FILES_READ                                                                         \
    "account.js, manifest.js, follower*.js, following*.js, block*.js, mute*.js"


/* A file's name as messages and logs show it: printable ASCII only ('?' for the rest), cut. */
void archive_label(char out[ARCHIVE_MAX_LABEL + 1], const char *name);

/*
 * The push parser for one file of the given kind: window.YTD.<kind>.partN = [ ... ] (or
 * window.__THAR_CONFIG = { ... } for the manifest). Fed any chunking of the file, down to one
 * byte at a time, it checks the wrapper, holds one element at a time and hands out edges as
 * they complete. label names the file in error messages ("data/follower-part1.js: element
 * 1234: accountId is not a number"; elements count from 1). After an error every call fails
 * with the same message. Returns NULL for ARCHIVE_OTHER.
 */
struct archive_stream;
struct archive_stream *archive_stream_new(enum archive_kind kind, const char *label,
                                          const struct archive_callbacks *cb);
int archive_stream_feed(struct archive_stream *s, const void *buf, size_t len, char *err,
                        size_t errlen);
/* The file ended: checks that the list was closed and that account.js held one account. */
int archive_stream_finish(struct archive_stream *s, char *err, size_t errlen);
/* Elements read so far. */
uint64_t archive_stream_elements(const struct archive_stream *s);
/* Bytes allocated to hold one element; stays at most the cap whatever the file's size. */
size_t archive_stream_buffer_size(const struct archive_stream *s);
/* After a successful finish of an account (manifest) stream; NULL otherwise. */
const struct archive_account *archive_stream_account(const struct archive_stream *s);
const struct archive_manifest *archive_stream_manifest(const struct archive_stream *s);
/* The kind and the label the stream was made with. */
enum archive_kind archive_stream_kind(const struct archive_stream *s);
const char *archive_stream_label(const struct archive_stream *s);
void archive_stream_free(struct archive_stream *s);

/*
 * Several files making one import, in any order (send account.js first if the account
 * callback must come before the edges): begin(name), feed(...)*, end(), for each file, then
 * finish(), which checks that account.js and at least one follower or following list were
 * read, that account.js and manifest.js name the same account, and that the counts match the
 * manifest's (block and mute lists are optional: their counts are checked when they are
 * there). A file kind given twice (the same part of the same list) is refused.
 */
struct archive_reader;
struct archive_reader *archive_reader_new(const struct archive_callbacks *cb);
int archive_reader_begin(struct archive_reader *r, const char *name, char *err, size_t errlen);
int archive_reader_feed(struct archive_reader *r, const void *buf, size_t len, char *err,
                        size_t errlen);
int archive_reader_end(struct archive_reader *r, char *err, size_t errlen);
int archive_reader_finish(struct archive_reader *r, struct archive_result *out, char *err,
                          size_t errlen);
void archive_reader_free(struct archive_reader *r);

/*
 * Reads an X archive zip: account.js, manifest.js, then every follower, following, block and
 * mute part in order, streamed out of the zip (media entries are never read). out may be NULL.
 */
int archive_read_zipread(struct zipread *z, const struct archive_callbacks *cb,
                         struct archive_result *out, char *err, size_t errlen);
/* The same from a path; limits may be NULL (zipread's defaults). */
int archive_read_zip(const char *path, const struct zipread_limits *limits,
                     const struct archive_callbacks *cb, struct archive_result *out, char *err,
                     size_t errlen);
/* The same from loose .js files, classified by their base names; any other file is refused. */
int archive_read_files(const char *const *paths, size_t n, const struct archive_callbacks *cb,
                       struct archive_result *out, char *err, size_t errlen);

#endif
