/* Zip reader: bounded end-record search, ZIP64, a checked central directory, streamed entries. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "err.h"
#include "xmalloc.h"
#include "zipread.h"

#define SIG_LOCAL   0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD    0x06054b50u
#define SIG_EOCD64  0x06064b50u
#define SIG_LOC64   0x07064b50u
#define EOCD_LEN    22
#define LOC64_LEN   20
#define EOCD64_LEN  56
#define CENTRAL_LEN 46
#define LOCAL_LEN   30
#define MAX_COMMENT 65535
#define CHUNK       65536
#define U16_MAX     0xffffu
#define U32_MAX     0xffffffffu

struct zipread {
    int fd;
    int own_fd;
    const unsigned char *mem;
    uint64_t size;
    struct zipread_limits lim;
    struct zipread_entry *entries;
    size_t n;
    struct zipread_entry **by_name;
};

/* Entry names reach error messages and logs; only printable ASCII goes through. */
static const char *
zipread_printable(const char *s, size_t len, char *out, size_t outcap)
{
    size_t i, n = len < outcap - 1 ? len : outcap - 1;

    for (i = 0; i < n; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    out[n] = '\0';
    return out;
}

static uint16_t
zipread_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
zipread_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
zipread_le64(const unsigned char *p)
{
    return (uint64_t)zipread_le32(p) | (uint64_t)zipread_le32(p + 4) << 32;
}

/* Reads exactly len bytes at off; running past the end is an error, not a short read. */
static int
zipread_pread(const struct zipread *z, void *buf, size_t len, uint64_t off, char *err,
              size_t errlen)
{
    unsigned char *p = buf;

    if (off > z->size || len > z->size - off)
        return err_set(err, errlen, "the zip is truncated (needs bytes past its end)");
    if (z->mem != NULL) {
        memcpy(p, z->mem + off, len);
        return 0;
    }
    while (len > 0) {
        ssize_t r = pread(z->fd, p, len, (off_t)off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return err_set(err, errlen, "read error: %s", strerror(errno));
        if (r == 0)
            return err_set(err, errlen, "the zip is truncated (the file shrank)");
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

void
zipread_limits_init(struct zipread_limits *lim)
{
    lim->max_entries = ZIPREAD_DEFAULT_MAX_ENTRIES;
    lim->max_cd_bytes = ZIPREAD_DEFAULT_MAX_CD_BYTES;
    lim->max_name_len = ZIPREAD_DEFAULT_MAX_NAME_LEN;
    lim->max_entry_size = ZIPREAD_DEFAULT_MAX_ENTRY_SIZE;
    lim->max_ratio = ZIPREAD_DEFAULT_MAX_RATIO;
}

static void
zipread_set_limits(struct zipread *z, const struct zipread_limits *given)
{
    zipread_limits_init(&z->lim);
    if (given == NULL)
        return;
    if (given->max_entries)
        z->lim.max_entries = given->max_entries;
    if (given->max_cd_bytes)
        z->lim.max_cd_bytes = given->max_cd_bytes;
    if (given->max_name_len)
        z->lim.max_name_len = given->max_name_len;
    if (given->max_entry_size)
        z->lim.max_entry_size = given->max_entry_size;
    if (given->max_ratio)
        z->lim.max_ratio = given->max_ratio;
}

/*
 * Nothing is ever written to disk from a zip, but a name that would escape a folder marks a
 * crafted archive, and the same name may be handed to tools that do write.
 */
static const char *
zipread_bad_name(const char *name, size_t len)
{
    size_t i, start = 0;

    if (len == 0)
        return "an empty name";
    if (memchr(name, '\0', len) != NULL)
        return "a NUL byte in its name";
    if (name[0] == '/' || name[0] == '\\')
        return "an absolute path";
    if (len >= 2 && name[1] == ':' &&
        ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
        return "an absolute path (drive letter)";
    for (i = 0; i <= len; i++) {
        if (i == len || name[i] == '/' || name[i] == '\\') {
            if (i - start == 2 && name[start] == '.' && name[start + 1] == '.')
                return "'..' in its path";
            start = i + 1;
        }
    }
    return NULL;
}

/* Finds the end record in the last 64 KiB + 22 bytes only: its comment is at most 65535. */
static int
zipread_find_eocd(struct zipread *z, unsigned char *eocd, uint64_t *pos, char *err, size_t errlen)
{
    uint64_t tail_len = z->size < EOCD_LEN + MAX_COMMENT ? z->size : EOCD_LEN + MAX_COMMENT;
    uint64_t tail_off = z->size - tail_len;
    unsigned char *tail;
    size_t i;

    if (z->size < EOCD_LEN)
        return err_set(err, errlen, "not a zip file (too short)");
    tail = xmalloc(tail_len);
    if (zipread_pread(z, tail, tail_len, tail_off, err, errlen) < 0) {
        free(tail);
        return -1;
    }
    for (i = tail_len - EOCD_LEN + 1; i-- > 0;) {
        if (zipread_le32(tail + i) == SIG_EOCD &&
            i + EOCD_LEN + zipread_le16(tail + i + 20) <= tail_len) {
            memcpy(eocd, tail + i, EOCD_LEN);
            *pos = tail_off + i;
            free(tail);
            return 0;
        }
    }
    free(tail);
    return err_set(err, errlen, "not a zip file (no end of central directory record)");
}

struct zipread_dir {
    uint64_t entries;
    uint64_t cd_off;
    uint64_t cd_size;
    uint64_t cd_end; /* where the records after the directory start */
};

/* Reads the end record and, when a ZIP64 locator precedes it, the ZIP64 end record. */
static int
zipread_read_end(struct zipread *z, struct zipread_dir *d, char *err, size_t errlen)
{
    unsigned char eocd[EOCD_LEN] = { 0 }, loc[LOC64_LEN], e64[EOCD64_LEN];
    uint64_t eocd_pos = 0, e64_off;

    if (zipread_find_eocd(z, eocd, &eocd_pos, err, errlen) < 0)
        return -1;
    d->entries = zipread_le16(eocd + 10);
    d->cd_size = zipread_le32(eocd + 12);
    d->cd_off = zipread_le32(eocd + 16);
    d->cd_end = eocd_pos;
    if (eocd_pos >= LOC64_LEN) {
        if (zipread_pread(z, loc, LOC64_LEN, eocd_pos - LOC64_LEN, err, errlen) < 0)
            return -1;
        if (zipread_le32(loc) == SIG_LOC64) {
            if (zipread_le32(loc + 4) != 0 || zipread_le32(loc + 16) > 1)
                return err_set(err, errlen, "split (multi-part) zips are not supported");
            e64_off = zipread_le64(loc + 8);
            if (e64_off > eocd_pos - LOC64_LEN || eocd_pos - LOC64_LEN - e64_off < EOCD64_LEN)
                return err_set(err, errlen, "the ZIP64 end record is out of place");
            if (zipread_pread(z, e64, EOCD64_LEN, e64_off, err, errlen) < 0)
                return -1;
            if (zipread_le32(e64) != SIG_EOCD64)
                return err_set(err, errlen, "the ZIP64 end record is missing");
            if (zipread_le32(e64 + 16) != 0 || zipread_le32(e64 + 20) != 0 ||
                zipread_le64(e64 + 24) != zipread_le64(e64 + 32))
                return err_set(err, errlen, "split (multi-part) zips are not supported");
            d->entries = zipread_le64(e64 + 32);
            d->cd_size = zipread_le64(e64 + 40);
            d->cd_off = zipread_le64(e64 + 48);
            d->cd_end = e64_off;
            return 0;
        }
    }
    if (zipread_le16(eocd + 4) != 0 || zipread_le16(eocd + 6) != 0 ||
        zipread_le16(eocd + 8) != zipread_le16(eocd + 10))
        return err_set(err, errlen, "split (multi-part) zips are not supported");
    return 0;
}

/* Takes the 64-bit values a ZIP64 extra field holds for the fields saturated at 0xffffffff. */
static int
zipread_zip64_extra(struct zipread_entry *e, const unsigned char *x, size_t xlen, int need_size,
                    int need_comp, int need_off)
{
    while (xlen >= 4) {
        uint16_t id = zipread_le16(x), len = zipread_le16(x + 2);
        size_t at = 4, need = 8 * (size_t)(need_size + need_comp + need_off);

        if (len > xlen - 4)
            return -1;
        if (id == 0x0001) {
            if (len < need)
                return -1;
            if (need_size) {
                e->size = zipread_le64(x + at);
                at += 8;
            }
            if (need_comp) {
                e->comp_size = zipread_le64(x + at);
                at += 8;
            }
            if (need_off)
                e->offset = zipread_le64(x + at);
            return 0;
        }
        x += 4 + len;
        xlen -= 4 + (size_t)len;
    }
    return need_size || need_comp || need_off ? -1 : 0;
}

/* Parses one central directory record at *pos; advances *pos past it. */
static int
zipread_parse_entry(struct zipread *z, const unsigned char *cd, uint64_t cd_size, uint64_t *pos,
                    size_t idx, struct zipread_entry *e, char *err, size_t errlen)
{
    const unsigned char *h = cd + *pos;
    size_t name_len, extra_len, comment_len;
    const char *why;
    char shown[128];

    if (cd_size - *pos < CENTRAL_LEN || zipread_le32(h) != SIG_CENTRAL)
        return err_set(err, errlen, "entry %zu: corrupt central directory", idx + 1);
    name_len = zipread_le16(h + 28);
    extra_len = zipread_le16(h + 30);
    comment_len = zipread_le16(h + 32);
    if (cd_size - *pos - CENTRAL_LEN < name_len + extra_len + comment_len)
        return err_set(err, errlen, "entry %zu: corrupt central directory", idx + 1);
    if (name_len > z->lim.max_name_len)
        return err_set(err, errlen, "entry %zu: name of %zu bytes (the limit is %zu)", idx + 1,
                       name_len, z->lim.max_name_len);
    why = zipread_bad_name((const char *)h + CENTRAL_LEN, name_len);
    if (why != NULL)
        return err_set(
            err, errlen, "entry %zu (%s) has %s", idx + 1,
            zipread_printable((const char *)h + CENTRAL_LEN, name_len, shown, sizeof(shown)), why);
    e->flags = zipread_le16(h + 8);
    e->method = zipread_le16(h + 10);
    e->crc32 = zipread_le32(h + 16);
    e->comp_size = zipread_le32(h + 20);
    e->size = zipread_le32(h + 24);
    e->offset = zipread_le32(h + 42);
    if (zipread_zip64_extra(e, h + CENTRAL_LEN + name_len, extra_len, e->size == U32_MAX,
                            e->comp_size == U32_MAX, e->offset == U32_MAX) < 0)
        return err_set(err, errlen, "entry %zu: corrupt ZIP64 extra field", idx + 1);
    e->name = xstrndup((const char *)h + CENTRAL_LEN, name_len);
    e->name_len = name_len;
    *pos += CENTRAL_LEN + name_len + extra_len + comment_len;
    return 0;
}

static int
zipread_cmp_name(const void *a, const void *b)
{
    const struct zipread_entry *x = *(const struct zipread_entry *const *)a;
    const struct zipread_entry *y = *(const struct zipread_entry *const *)b;

    return strcmp(x->name, y->name);
}

static int
zipread_cmp_offset(const void *a, const void *b)
{
    const struct zipread_entry *x = *(const struct zipread_entry *const *)a;
    const struct zipread_entry *y = *(const struct zipread_entry *const *)b;

    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/*
 * Duplicate names would let two readers of the same zip see different files; shared local
 * headers are how overlapping-entry zip bombs multiply. Both refuse the archive. Each entry's
 * data must end before the next local header, which extraction checks against e->limit.
 */
static int
zipread_index(struct zipread *z, uint64_t cd_off, char *err, size_t errlen)
{
    struct zipread_entry **by_off;
    char shown[128], shown2[128];
    size_t i;
    int rc = 0;

    z->by_name = xcalloc(z->n, sizeof(*z->by_name));
    by_off = xcalloc(z->n, sizeof(*by_off));
    for (i = 0; i < z->n; i++)
        z->by_name[i] = by_off[i] = &z->entries[i];
    qsort(z->by_name, z->n, sizeof(*z->by_name), zipread_cmp_name);
    qsort(by_off, z->n, sizeof(*by_off), zipread_cmp_offset);
    for (i = 0; i < z->n && rc == 0; i++) {
        struct zipread_entry *e = by_off[i], *next = i + 1 < z->n ? by_off[i + 1] : NULL;

        if (next != NULL && strcmp(z->by_name[i]->name, z->by_name[i + 1]->name) == 0)
            rc = err_set(err, errlen, "two entries are named %s",
                         zipread_printable(z->by_name[i]->name, z->by_name[i]->name_len, shown,
                                           sizeof(shown)));
        else if (next != NULL && e->offset == next->offset)
            rc = err_set(err, errlen, "entries %s and %s overlap",
                         zipread_printable(e->name, e->name_len, shown, sizeof(shown)),
                         zipread_printable(next->name, next->name_len, shown2, sizeof(shown2)));
        else if (e->offset > cd_off || cd_off - e->offset < LOCAL_LEN)
            rc = err_set(err, errlen, "entry %s starts outside the zip's data",
                         zipread_printable(e->name, e->name_len, shown, sizeof(shown)));
        e->limit = next != NULL ? next->offset : cd_off;
    }
    free(by_off);
    return rc;
}

static int
zipread_load(struct zipread *z, char *err, size_t errlen)
{
    struct zipread_dir d;
    unsigned char *cd;
    uint64_t pos = 0;
    size_t i;

    if (zipread_read_end(z, &d, err, errlen) < 0)
        return -1;
    if (d.entries > z->lim.max_entries)
        return err_set(err, errlen, "the zip has %llu entries (the limit is %llu)",
                       (unsigned long long)d.entries, (unsigned long long)z->lim.max_entries);
    if (d.cd_size > z->lim.max_cd_bytes)
        return err_set(err, errlen, "the zip's central directory is %llu bytes (the limit is %llu)",
                       (unsigned long long)d.cd_size, (unsigned long long)z->lim.max_cd_bytes);
    /* The directory must sit right before the end records, as every writer puts it. */
    if (d.cd_off > d.cd_end || d.cd_end - d.cd_off != d.cd_size ||
        d.entries > d.cd_size / CENTRAL_LEN)
        return err_set(err, errlen, "the zip's central directory is corrupt or truncated");
    cd = xmalloc(d.cd_size);
    if (zipread_pread(z, cd, d.cd_size, d.cd_off, err, errlen) < 0) {
        free(cd);
        return -1;
    }
    z->entries = xcalloc(d.entries, sizeof(*z->entries));
    for (i = 0; i < d.entries; i++) {
        if (zipread_parse_entry(z, cd, d.cd_size, &pos, i, &z->entries[i], err, errlen) < 0) {
            free(cd);
            return -1;
        }
        z->n = i + 1;
    }
    free(cd);
    return zipread_index(z, d.cd_off, err, errlen);
}

static struct zipread *
zipread_new(int fd, int own_fd, const void *mem, uint64_t size, const struct zipread_limits *limits,
            char *err, size_t errlen)
{
    struct zipread *z = xcalloc(1, sizeof(*z));

    z->fd = fd;
    z->own_fd = own_fd;
    z->mem = mem;
    z->size = size;
    zipread_set_limits(z, limits);
    if (zipread_load(z, err, errlen) < 0) {
        zipread_close(z);
        return NULL;
    }
    return z;
}

struct zipread *
zipread_open_fd(int fd, const struct zipread_limits *limits, char *err, size_t errlen)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        err_set(err, errlen, "cannot read the zip: %s", strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        err_set(err, errlen, "not a regular file");
        return NULL;
    }
    return zipread_new(fd, 0, NULL, (uint64_t)st.st_size, limits, err, errlen);
}

struct zipread *
zipread_open(const char *path, const struct zipread_limits *limits, char *err, size_t errlen)
{
    struct zipread *z;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        err_set(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    z = zipread_open_fd(fd, limits, err, errlen);
    if (z == NULL) {
        close(fd);
        return NULL;
    }
    z->own_fd = 1;
    return z;
}

struct zipread *
zipread_open_mem(const void *buf, size_t len, const struct zipread_limits *limits, char *err,
                 size_t errlen)
{
    static const unsigned char empty[1];

    return zipread_new(-1, 0, buf != NULL ? buf : empty, buf != NULL ? len : 0, limits, err,
                       errlen);
}

size_t
zipread_count(const struct zipread *z)
{
    return z->n;
}

const struct zipread_entry *
zipread_entry(const struct zipread *z, size_t i)
{
    return i < z->n ? &z->entries[i] : NULL;
}

const struct zipread_entry *
zipread_find(const struct zipread *z, const char *name)
{
    struct zipread_entry key = { .name = (char *)(uintptr_t)name };
    struct zipread_entry *kp = &key, **hit;

    hit = bsearch(&kp, z->by_name, z->n, sizeof(*z->by_name), zipread_cmp_name);
    return hit != NULL ? *hit : NULL;
}

/* Checks everything knowable before a byte is inflated; returns where the data starts. */
static int
zipread_check_entry(struct zipread *z, const struct zipread_entry *e, uint64_t *data_off,
                    const char *shown, char *err, size_t errlen)
{
    unsigned char h[LOCAL_LEN];
    char *name;
    uint64_t off;
    int same;

    if (e->flags & 1)
        return err_set(err, errlen, "%s: encrypted entries are not supported", shown);
    if (e->method != 0 && e->method != 8)
        return err_set(err, errlen, "%s: compression method %u is not supported", shown,
                       (unsigned)e->method);
    if (e->size > z->lim.max_entry_size)
        return err_set(err, errlen, "%s: %llu bytes uncompressed (the limit is %llu)", shown,
                       (unsigned long long)e->size, (unsigned long long)z->lim.max_entry_size);
    if (e->size > 0 && (e->comp_size == 0 || (e->comp_size <= UINT64_MAX / z->lim.max_ratio &&
                                              e->size > e->comp_size * z->lim.max_ratio)))
        return err_set(err, errlen, "%s: compressed more than %llu to 1, refused as a zip bomb",
                       shown, (unsigned long long)z->lim.max_ratio);
    if (e->method == 0 && e->comp_size != e->size)
        return err_set(err, errlen, "%s: stored entry with two different sizes", shown);
    if (zipread_pread(z, h, LOCAL_LEN, e->offset, err, errlen) < 0)
        return -1;
    if (zipread_le32(h) != SIG_LOCAL || zipread_le16(h + 26) != e->name_len)
        return err_set(err, errlen, "%s: local header does not match the directory", shown);
    name = xmalloc(e->name_len);
    if (zipread_pread(z, name, e->name_len, e->offset + LOCAL_LEN, err, errlen) < 0) {
        free(name);
        return -1;
    }
    same = memcmp(name, e->name, e->name_len) == 0;
    free(name);
    if (!same)
        return err_set(err, errlen, "%s: local header does not match the directory", shown);
    off = e->offset + LOCAL_LEN + e->name_len + zipread_le16(h + 28);
    if (off > e->limit || e->limit - off < e->comp_size)
        return err_set(err, errlen, "%s: data runs past its end (truncated or overlapping)", shown);
    *data_off = off;
    return 0;
}

struct zipread_out {
    zipread_chunk_fn fn;
    void *ctx;
    uint64_t total;
    uint64_t want;
    uint32_t crc;
};

static int
zipread_emit(struct zipread_out *o, const unsigned char *buf, size_t len, const char *shown,
             char *err, size_t errlen)
{
    if (len > o->want - o->total)
        return err_set(err, errlen, "%s: inflates to more than its declared %llu bytes", shown,
                       (unsigned long long)o->want);
    o->total += len;
    o->crc = (uint32_t)crc32(o->crc, buf, (uInt)len);
    if (len > 0 && o->fn(o->ctx, buf, len, err, errlen) < 0)
        return -1;
    return 0;
}

static int
zipread_inflate(struct zipread *z, const struct zipread_entry *e, uint64_t off,
                struct zipread_out *o, const char *shown, char *err, size_t errlen)
{
    unsigned char *in = xmalloc(CHUNK), *out = xmalloc(CHUNK);
    uint64_t left = e->comp_size;
    z_stream zs;
    int zr = Z_OK, rc = -1;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        free(in);
        free(out);
        return err_set(err, errlen, "%s: zlib failed to start", shown);
    }
    while (zr != Z_STREAM_END) {
        if (zs.avail_in == 0) {
            size_t n = left < CHUNK ? (size_t)left : CHUNK;

            if (n == 0) {
                err_set(err, errlen, "%s: compressed data ends early", shown);
                goto out;
            }
            if (zipread_pread(z, in, n, off, err, errlen) < 0)
                goto out;
            off += n;
            left -= n;
            zs.next_in = in;
            zs.avail_in = (uInt)n;
        }
        zs.next_out = out;
        zs.avail_out = CHUNK;
        zr = inflate(&zs, Z_NO_FLUSH);
        /* Z_BUF_ERROR means no progress; with input and room left that is corrupt data. */
        if (zr != Z_OK && zr != Z_STREAM_END && (zr != Z_BUF_ERROR || zs.avail_in != 0)) {
            err_set(err, errlen, "%s: corrupt compressed data", shown);
            goto out;
        }
        if (zipread_emit(o, out, CHUNK - zs.avail_out, shown, err, errlen) < 0)
            goto out;
    }
    rc = 0;
out:
    inflateEnd(&zs);
    free(in);
    free(out);
    return rc;
}

static int
zipread_copy(struct zipread *z, const struct zipread_entry *e, uint64_t off, struct zipread_out *o,
             const char *shown, char *err, size_t errlen)
{
    unsigned char *buf = xmalloc(CHUNK);
    uint64_t left = e->comp_size;

    while (left > 0) {
        size_t n = left < CHUNK ? (size_t)left : CHUNK;

        if (zipread_pread(z, buf, n, off, err, errlen) < 0 ||
            zipread_emit(o, buf, n, shown, err, errlen) < 0) {
            free(buf);
            return -1;
        }
        off += n;
        left -= n;
    }
    free(buf);
    return 0;
}

int
zipread_extract(struct zipread *z, const struct zipread_entry *e, zipread_chunk_fn fn, void *ctx,
                char *err, size_t errlen)
{
    struct zipread_out o = { .fn = fn, .ctx = ctx, .want = e->size };
    uint64_t off = 0;
    char shown[128];
    int rc;

    zipread_printable(e->name, e->name_len, shown, sizeof(shown));
    if (zipread_check_entry(z, e, &off, shown, err, errlen) < 0)
        return -1;
    o.crc = (uint32_t)crc32(0, Z_NULL, 0);
    /* Some writers store an empty file as "deflated" with no data at all. */
    if (e->method == 0 || (e->size == 0 && e->comp_size == 0))
        rc = zipread_copy(z, e, off, &o, shown, err, errlen);
    else
        rc = zipread_inflate(z, e, off, &o, shown, err, errlen);
    if (rc < 0)
        return -1;
    if (o.total != e->size)
        return err_set(err, errlen, "%s: inflates to %llu bytes, not the declared %llu", shown,
                       (unsigned long long)o.total, (unsigned long long)e->size);
    if (o.crc != e->crc32)
        return err_set(err, errlen, "%s: CRC-32 mismatch (the entry is corrupt)", shown);
    return 0;
}

int
zipread_extract_name(struct zipread *z, const char *name, zipread_chunk_fn fn, void *ctx, char *err,
                     size_t errlen)
{
    const struct zipread_entry *e = zipread_find(z, name);
    char shown[128];

    if (e == NULL)
        return err_set(err, errlen, "no entry %s in the zip",
                       zipread_printable(name, strlen(name), shown, sizeof(shown)));
    return zipread_extract(z, e, fn, ctx, err, errlen);
}

void
zipread_close(struct zipread *z)
{
    size_t i;

    if (z == NULL)
        return;
    for (i = 0; i < z->n; i++)
        free(z->entries[i].name);
    free(z->entries);
    free(z->by_name);
    if (z->own_fd && z->fd >= 0)
        close(z->fd);
    free(z);
}
