/* Zip archive reader: central directory (ZIP64 too) and one entry streamed out, with caps. */
#ifndef PASSERELLE_ZIPREAD_H
#define PASSERELLE_ZIPREAD_H

#include <stddef.h>
#include <stdint.h>

/*
 * Caps checked before anything is allocated or inflated. An X archive is gigabytes of media
 * but only a few small entries are ever extracted, so the directory is read once and the
 * data only of the entries asked for (pread, never the whole file). A zero field takes
 * the default.
 */
struct zipread_limits {
    uint64_t max_entries;    /* entries in the central directory */
    uint64_t max_cd_bytes;   /* size of the central directory, read into memory once */
    size_t max_name_len;     /* bytes of one entry name */
    uint64_t max_entry_size; /* uncompressed bytes of one entry */
    uint64_t max_ratio;      /* uncompressed / compressed (zip bomb defence) */
};

#define ZIPREAD_DEFAULT_MAX_ENTRIES    1000000
#define ZIPREAD_DEFAULT_MAX_CD_BYTES   (256ULL << 20)
#define ZIPREAD_DEFAULT_MAX_NAME_LEN   1024
#define ZIPREAD_DEFAULT_MAX_ENTRY_SIZE (8ULL << 30)
#define ZIPREAD_DEFAULT_MAX_RATIO      200

/* One entry of the central directory, as the reader checked it. */
struct zipread_entry {
    char *name; /* NUL-terminated; no NUL inside, no "..", not absolute */
    size_t name_len;
    uint64_t size;      /* uncompressed */
    uint64_t comp_size; /* compressed */
    uint64_t offset;    /* of the local header */
    uint64_t limit;     /* where the next local header (or the directory) starts */
    uint32_t crc32;
    uint16_t method; /* 0 stored, 8 deflate; others are listed but not extracted */
    uint16_t flags;
};

struct zipread;

/*
 * Receives decompressed bytes in order. Returns 0 to go on, -1 to stop; on -1 it writes
 * its reason into err, and zipread_extract returns -1 with that message.
 */
typedef int (*zipread_chunk_fn)(void *ctx, const unsigned char *buf, size_t len, char *err,
                                size_t errlen);

/* Fills *lim with the defaults above. */
void zipread_limits_init(struct zipread_limits *lim);

/*
 * Opens a zip file, reads and checks its central directory. limits may be NULL (defaults).
 * Returns NULL with a message in err on failure.
 */
struct zipread *zipread_open(const char *path, const struct zipread_limits *limits, char *err,
                             size_t errlen);

/* The same over a file descriptor the caller keeps open (and closes after zipread_close). */
struct zipread *zipread_open_fd(int fd, const struct zipread_limits *limits, char *err,
                                size_t errlen);

/* The same over a buffer the caller keeps alive until zipread_close; nothing is copied. */
struct zipread *zipread_open_mem(const void *buf, size_t len, const struct zipread_limits *limits,
                                 char *err, size_t errlen);

/* Entries in central directory order. */
size_t zipread_count(const struct zipread *z);
const struct zipread_entry *zipread_entry(const struct zipread *z, size_t i);

/* The entry with exactly this name, or NULL (names are unique: duplicates refuse the zip). */
const struct zipread_entry *zipread_find(const struct zipread *z, const char *name);

/*
 * Streams one entry's decompressed bytes to fn in chunks of at most 64 KiB. The entry's size
 * and ratio are checked against the limits first; the CRC-32 and the size are checked at
 * the end, so fn may have seen data before a -1 for a corrupt entry.
 */
int zipread_extract(struct zipread *z, const struct zipread_entry *e, zipread_chunk_fn fn,
                    void *ctx, char *err, size_t errlen);

/* zipread_find then zipread_extract; "no entry NAME" if absent. */
int zipread_extract_name(struct zipread *z, const char *name, zipread_chunk_fn fn, void *ctx,
                         char *err, size_t errlen);

/* Frees the reader; closes the file only if zipread_open opened it. NULL is fine. */
void zipread_close(struct zipread *z);

#endif
