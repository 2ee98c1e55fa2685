/* Reading a whole X archive, from a zip or loose files: order, one stream per file, counts. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archive.h"
#include "err.h"
#include "xmalloc.h"
#include "zipread.h"

#define READ_CHUNK 65536

struct archive_read_seen {
    enum archive_kind kind;
    unsigned part;
};

struct archive_reader {
    struct archive_callbacks cb;
    struct archive_stream *cur;
    struct archive_read_seen *seen;
    size_t nseen;
    int have_account;
    struct archive_result res;
};

struct archive_reader *
archive_reader_new(const struct archive_callbacks *cb)
{
    struct archive_reader *r = xcalloc(1, sizeof(*r));

    if (cb != NULL)
        r->cb = *cb;
    return r;
}

void
archive_reader_free(struct archive_reader *r)
{
    if (r == NULL)
        return;
    archive_stream_free(r->cur);
    free(r->seen);
    free(r);
}

int
archive_reader_begin(struct archive_reader *r, const char *name, char *err, size_t errlen)
{
    unsigned part;
    enum archive_kind kind = archive_classify(name, &part);
    char shown[ARCHIVE_MAX_LABEL + 1];
    size_t i;

    archive_label(shown, name);
    if (r->cur != NULL)
        return err_set(err, errlen, "%s: the previous file was not ended", shown);
    if (kind == ARCHIVE_OTHER)
        return err_set(err, errlen,
                       "%s: not one of the files passerelle reads (" ARCHIVE_FILES_READ ")", shown);
    for (i = 0; i < r->nseen; i++)
        if (r->seen[i].kind == kind && r->seen[i].part == part)
            return err_set(err, errlen, "%s: %s part %u was already read", shown,
                           archive_kind_name(kind), part);
    if (r->nseen == ARCHIVE_MAX_FILES)
        return err_set(err, errlen, "more than %d files in one archive", ARCHIVE_MAX_FILES);
    if (r->seen == NULL)
        r->seen = xcalloc(ARCHIVE_MAX_FILES, sizeof(*r->seen));
    r->seen[r->nseen].kind = kind;
    r->seen[r->nseen++].part = part;
    r->cur = archive_stream_new(kind, shown, &r->cb);
    return 0;
}

int
archive_reader_feed(struct archive_reader *r, const void *buf, size_t len, char *err, size_t errlen)
{
    if (r->cur == NULL)
        return err_set(err, errlen, "no file begun");
    return archive_stream_feed(r->cur, buf, len, err, errlen);
}

int
archive_reader_end(struct archive_reader *r, char *err, size_t errlen)
{
    struct archive_stream *s = r->cur;
    const struct archive_account *a;
    const struct archive_manifest *m;
    enum archive_kind kind;

    if (s == NULL)
        return err_set(err, errlen, "no file begun");
    r->cur = NULL;
    if (archive_stream_finish(s, err, errlen) < 0) {
        archive_stream_free(s);
        return -1;
    }
    kind = archive_stream_kind(s);
    if (kind == ARCHIVE_ACCOUNT) {
        /* A finished account file always has its account: the stream fails without one. */
        if ((a = archive_stream_account(s)) != NULL)
            r->res.account = *a;
        r->have_account = 1;
    } else if (kind == ARCHIVE_MANIFEST) {
        /* Not present: the stream's manifest is all zeros, as r->res.manifest already is. */
        if ((m = archive_stream_manifest(s)) != NULL)
            r->res.manifest = *m;
    } else if (kind == ARCHIVE_FOLLOWER) {
        r->res.followers += archive_stream_elements(s);
        r->res.follower_files++;
    } else if (kind == ARCHIVE_FOLLOWING) {
        r->res.following += archive_stream_elements(s);
        r->res.following_files++;
    } else if (kind == ARCHIVE_BLOCK) {
        r->res.blocks += archive_stream_elements(s);
        r->res.block_files++;
    } else {
        r->res.mutes += archive_stream_elements(s);
        r->res.mute_files++;
    }
    archive_stream_free(s);
    return 0;
}

/* What makes a set of files an X archive at all; said before any list is read if possible. */
static int
archive_read_check_present(int have_account, int have_lists, char *err, size_t errlen)
{
    if (!have_account)
        return err_set(err, errlen, "not an X archive (no data/account.js)");
    if (!have_lists)
        return err_set(err, errlen, "no follower or following lists in the archive");
    return 0;
}

static int
archive_read_check_count(const char *what, int has, uint64_t want, uint64_t got, char *err,
                         size_t errlen)
{
    if (has && want != got)
        return err_set(err, errlen, "the %s lists hold %llu accounts but manifest.js says %llu",
                       what, (unsigned long long)got, (unsigned long long)want);
    return 0;
}

int
archive_reader_finish(struct archive_reader *r, struct archive_result *out, char *err,
                      size_t errlen)
{
    const struct archive_manifest *m = &r->res.manifest;

    if (r->cur != NULL)
        return err_set(err, errlen, "%s: the file was not ended", archive_stream_label(r->cur));
    if (archive_read_check_present(
            r->have_account, r->res.follower_files + r->res.following_files > 0, err, errlen) < 0)
        return -1;
    if (m->present && m->account_id != 0 && m->account_id != r->res.account.account_id)
        return err_set(
            err, errlen, "account.js and manifest.js name different accounts (%llu and %llu)",
            (unsigned long long)r->res.account.account_id, (unsigned long long)m->account_id);
    /* Block and mute lists are optional (loose files may leave them out): checked if there. */
    if (archive_read_check_count("follower", m->has_follower_count, m->follower_count,
                                 r->res.followers, err, errlen) < 0 ||
        archive_read_check_count("following", m->has_following_count, m->following_count,
                                 r->res.following, err, errlen) < 0 ||
        archive_read_check_count("block", m->has_block_count && r->res.block_files > 0,
                                 m->block_count, r->res.blocks, err, errlen) < 0 ||
        archive_read_check_count("mute", m->has_mute_count && r->res.mute_files > 0, m->mute_count,
                                 r->res.mutes, err, errlen) < 0)
        return -1;
    if (out != NULL)
        *out = r->res;
    return 0;
}

/* One file to read in an import: a zip entry or a loose file. */
struct archive_read_item {
    const char *name; /* what archive_classify sees and errors show */
    enum archive_kind kind;
    unsigned part;
    const void *ref; /* the zipread entry or the path */
};

typedef int (*archive_read_item_fn)(void *src, const struct archive_read_item *it,
                                    struct archive_reader *r, char *err, size_t errlen);

static int
archive_read_cmp_item(const void *a, const void *b)
{
    const struct archive_read_item *x = a, *y = b;

    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->part < y->part ? -1 : x->part > y->part;
}

/* Account first (so the account callback precedes every edge), then manifest, then lists. */
static int
archive_read_items(struct archive_read_item *items, size_t n, archive_read_item_fn feed, void *src,
                   const struct archive_callbacks *cb, struct archive_result *out, char *err,
                   size_t errlen)
{
    struct archive_reader *r;
    size_t i;
    int rc = -1, lists = 0;

    if (n > 1) /* items is NULL for a zip with none of the files */
        qsort(items, n, sizeof(*items), archive_read_cmp_item);
    for (i = 0; i < n; i++)
        lists |= items[i].kind == ARCHIVE_FOLLOWER || items[i].kind == ARCHIVE_FOLLOWING;
    if (archive_read_check_present(n > 0 && items[0].kind == ARCHIVE_ACCOUNT, lists, err, errlen) <
        0)
        return -1;
    r = archive_reader_new(cb);
    for (i = 0; i < n; i++) {
        if (archive_reader_begin(r, items[i].name, err, errlen) < 0)
            goto out;
        if (feed(src, &items[i], r, err, errlen) < 0)
            goto out;
        if (archive_reader_end(r, err, errlen) < 0)
            goto out;
    }
    rc = archive_reader_finish(r, out, err, errlen);
out:
    archive_reader_free(r);
    return rc;
}

static int
archive_read_zip_chunk(void *ctx, const unsigned char *buf, size_t len, char *err, size_t errlen)
{
    return archive_reader_feed(ctx, buf, len, err, errlen);
}

static int
archive_read_zip_item(void *src, const struct archive_read_item *it, struct archive_reader *r,
                      char *err, size_t errlen)
{
    return zipread_extract(src, it->ref, archive_read_zip_chunk, r, err, errlen);
}

int
archive_read_zipread(struct zipread *z, const struct archive_callbacks *cb,
                     struct archive_result *out, char *err, size_t errlen)
{
    struct archive_read_item *items = NULL;
    size_t i, n = 0, count = zipread_count(z);
    int rc;

    for (i = 0; i < count; i++) {
        const struct zipread_entry *e = zipread_entry(z, i);
        unsigned part;
        enum archive_kind kind = archive_classify(e->name, &part);

        if (kind == ARCHIVE_OTHER)
            continue;
        if (n == ARCHIVE_MAX_FILES) {
            free(items);
            return err_set(err, errlen, "more than %d files in one archive", ARCHIVE_MAX_FILES);
        }
        if (items == NULL)
            items = xcalloc(ARCHIVE_MAX_FILES, sizeof(*items));
        items[n].name = e->name;
        items[n].kind = kind;
        items[n].part = part;
        items[n++].ref = e;
    }
    rc = archive_read_items(items, n, archive_read_zip_item, z, cb, out, err, errlen);
    free(items);
    return rc;
}

int
archive_read_zip(const char *path, const struct zipread_limits *limits,
                 const struct archive_callbacks *cb, struct archive_result *out, char *err,
                 size_t errlen)
{
    struct zipread *z = zipread_open(path, limits, err, errlen);
    int rc;

    if (z == NULL)
        return -1;
    rc = archive_read_zipread(z, cb, out, err, errlen);
    zipread_close(z);
    return rc;
}

static int
archive_read_file_item(void *src, const struct archive_read_item *it, struct archive_reader *r,
                       char *err, size_t errlen)
{
    const char *path = it->ref;
    unsigned char *buf;
    ssize_t got;
    int fd, rc = 0;

    (void)src;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, errlen, "cannot open %s: %s", path, strerror(errno));
    buf = xmalloc(READ_CHUNK);
    for (;;) {
        got = read(fd, buf, READ_CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            rc = err_set(err, errlen, "cannot read %s: %s", path, strerror(errno));
        else if (got > 0)
            rc = archive_reader_feed(r, buf, (size_t)got, err, errlen);
        if (got <= 0 || rc < 0)
            break;
    }
    free(buf);
    close(fd);
    return rc;
}

int
archive_read_files(const char *const *paths, size_t n, const struct archive_callbacks *cb,
                   struct archive_result *out, char *err, size_t errlen)
{
    struct archive_read_item *items;
    size_t i;
    int rc;

    if (n > ARCHIVE_MAX_FILES)
        return err_set(err, errlen, "more than %d files in one archive", ARCHIVE_MAX_FILES);
    items = xcalloc(n, sizeof(*items));
    for (i = 0; i < n; i++) {
        const char *slash = strrchr(paths[i], '/');

        items[i].name = slash != NULL ? slash + 1 : paths[i];
        items[i].kind = archive_classify(items[i].name, &items[i].part);
        items[i].ref = paths[i];
        if (items[i].kind == ARCHIVE_OTHER) {
            rc = err_set(err, errlen,
                         "%s: not one of the files passerelle reads (" ARCHIVE_FILES_READ ")",
                         items[i].name);
            free(items);
            return rc;
        }
    }
    rc = archive_read_items(items, n, archive_read_file_item, NULL, cb, out, err, errlen);
    free(items);
    return rc;
}
