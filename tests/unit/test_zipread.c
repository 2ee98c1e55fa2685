/* Unit tests for server/members/zipread.c: zips written here (stored, deflated, ZIP64, crafted,
 * bombs). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "ziptest.h"
#include "zipread.h"

static char tmpdir[] = "/tmp/passerelle-zipread.XXXXXX";

/* Collects an extracted entry; can be told to stop after a number of bytes. */
struct sink {
    unsigned char *data;
    size_t len;
    size_t chunks;
    size_t max_chunk;
    size_t stop_after;
};

static int
sink_chunk(void *ctx, const unsigned char *buf, size_t len, char *err, size_t errlen)
{
    struct sink *s = ctx;

    if (s->stop_after && s->len + len > s->stop_after) {
        snprintf(err, errlen, "sink: enough");
        return -1;
    }
    s->data = realloc(s->data, s->len + len + 1);
    memcpy(s->data + s->len, buf, len);
    s->len += len;
    s->data[s->len] = '\0';
    s->chunks++;
    if (len > s->max_chunk)
        s->max_chunk = len;
    return 0;
}

static void
sink_reset(struct sink *s)
{
    free(s->data);
    memset(s, 0, sizeof(*s));
}

/* Some bytes that deflate only a little, so an entry spans several 64 KiB chunks. */
static unsigned char *
noise(size_t len)
{
    unsigned char *p = malloc(len);
    uint32_t x = 2463534242u;
    size_t i;

    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)('a' + x % 16);
    }
    return p;
}

/* Opens buf as a zip and returns the error (empty if it opened). */
static const char *
open_error(const struct zt *z, const struct zipread_limits *lim)
{
    static char err[256];
    struct zipread *r;

    err[0] = '\0';
    r = zipread_open_mem(z->buf, z->len, lim, err, sizeof(err));
    zipread_close(r);
    return r == NULL ? err : "";
}

/* Opens, extracts name, and returns the error (empty on success). */
static const char *
extract_error(const struct zt *z, const struct zipread_limits *lim, const char *name,
              struct sink *s)
{
    static char err[256];
    struct zipread *r;

    err[0] = '\0';
    r = zipread_open_mem(z->buf, z->len, lim, err, sizeof(err));
    if (r == NULL)
        return err;
    if (zipread_extract_name(r, name, sink_chunk, s, err, sizeof(err)) == 0)
        err[0] = '\0';
    zipread_close(r);
    return err;
}

static void
test_small(void)
{
    struct zt z = { 0 };
    struct zipread *r;
    struct sink s = { 0 };
    unsigned char *big = noise(300000);
    char err[256];

    zt_add_str(&z, "data/account.js", "window.YTD.account.part0 = []");
    zt_add(&z, "stored.txt", "hello, stored", 13, 0);
    zt_add(&z, "big.bin", big, 300000, 8);
    zt_add(&z, "empty", "", 0, 8);
    zt_add(&z, "dir/", "", 0, 0);
    zt_finish(&z, "a comment, which the end record search must step over");

    r = zipread_open_mem(z.buf, z.len, NULL, err, sizeof(err));
    if (!ok(r != NULL, "a small zip opens from memory (%s)", r ? "" : err))
        return;
    is_int(zipread_count(r), 5, "five entries");
    is_str(zipread_entry(r, 0)->name, "data/account.js", "entries in directory order");
    ok(zipread_entry(r, 5) == NULL, "no entry past the end");
    ok(zipread_find(r, "stored.txt") == zipread_entry(r, 1), "find by name");
    ok(zipread_find(r, "nope") == NULL, "find: absent name");
    ok(zipread_find(r, "data/account.j") == NULL, "find: a prefix is not a match");

    is_int(zipread_extract_name(r, "data/account.js", sink_chunk, &s, err, sizeof(err)), 0,
           "deflated entry extracts");
    is_str((char *)s.data, "window.YTD.account.part0 = []", "deflated content intact");
    sink_reset(&s);
    is_int(zipread_extract_name(r, "stored.txt", sink_chunk, &s, err, sizeof(err)), 0,
           "stored entry extracts");
    is_str((char *)s.data, "hello, stored", "stored content intact");
    sink_reset(&s);
    is_int(zipread_extract_name(r, "big.bin", sink_chunk, &s, err, sizeof(err)), 0,
           "300 KB entry extracts");
    ok(s.len == 300000 && memcmp(s.data, big, 300000) == 0, "300 KB content intact");
    ok(s.chunks >= 5 && s.max_chunk <= 65536, "streamed in %zu chunks of at most 64 KiB", s.chunks);
    sink_reset(&s);
    is_int(zipread_extract_name(r, "empty", sink_chunk, &s, err, sizeof(err)), 0,
           "empty deflated entry extracts");
    is_int(s.len, 0, "empty entry gives no bytes");
    is_int(zipread_extract_name(r, "missing", sink_chunk, &s, err, sizeof(err)), -1,
           "absent entry: -1");
    is_str(err, "no entry missing in the zip", "absent entry: message");

    s.stop_after = 100000;
    is_int(zipread_extract_name(r, "big.bin", sink_chunk, &s, err, sizeof(err)), -1,
           "the callback can stop an extraction");
    is_str(err, "sink: enough", "the callback's message is returned as it is");
    sink_reset(&s);
    zipread_close(r);
    zipread_close(NULL);
    free(big);
    zt_free(&z);
}

static void
test_files(void)
{
    struct zt z = { 0 };
    struct zipread *r;
    struct sink s = { 0 };
    char path[256], err[256];
    int fd;

    zt_add_str(&z, "data/follower.js", "window.YTD.follower.part0 = [ ]");
    zt_finish(&z, NULL);
    snprintf(path, sizeof(path), "%s/small.zip", tmpdir);
    zt_write(&z, path);

    r = zipread_open(path, NULL, err, sizeof(err));
    ok(r != NULL, "opens from a path");
    if (r != NULL) {
        is_int(zipread_extract_name(r, "data/follower.js", sink_chunk, &s, err, sizeof(err)), 0,
               "extracts from a path");
        is_str((char *)s.data, "window.YTD.follower.part0 = [ ]", "content read with pread");
        sink_reset(&s);
    }
    zipread_close(r);

    fd = open(path, O_RDONLY);
    r = zipread_open_fd(fd, NULL, err, sizeof(err));
    ok(r != NULL && zipread_count(r) == 1, "opens from a descriptor");
    zipread_close(r);
    ok(fcntl(fd, F_GETFD) == 0, "the caller's descriptor stays open");
    close(fd);

    snprintf(path, sizeof(path), "%s/absent.zip", tmpdir);
    r = zipread_open(path, NULL, err, sizeof(err));
    ok(r == NULL && strstr(err, "cannot open") != NULL, "absent file: %s", err);
    r = zipread_open(tmpdir, NULL, err, sizeof(err));
    ok(r == NULL && strcmp(err, "not a regular file") == 0, "a folder: %s", err);
    zt_free(&z);
}

static void
test_not_zip(void)
{
    struct zt z = { 0 };
    char err[256];
    struct zipread *r;

    r = zipread_open_mem("hello", 5, NULL, err, sizeof(err));
    ok(r == NULL, "5 bytes: refused (%s)", err);
    r = zipread_open_mem(NULL, 0, NULL, err, sizeof(err));
    ok(r == NULL, "no bytes: refused (%s)", err);
    r = zipread_open_mem("window.YTD.follower.part0 = [ ] and some padding", 48, NULL, err,
                         sizeof(err));
    ok(r == NULL && strstr(err, "not a zip file") != NULL, "JSON text: %s", err);

    zt_finish(&z, NULL);
    r = zipread_open_mem(z.buf, z.len, NULL, err, sizeof(err));
    ok(r != NULL && zipread_count(r) == 0, "an empty zip opens with no entries");
    zipread_close(r);
    zt_free(&z);
}

static void
test_truncated(void)
{
    struct zt z = { 0 };
    struct zt cut = { 0 };
    size_t k, opened = 0;
    struct sink s = { 0 };

    zt_add_str(&z, "data/following.js", "window.YTD.following.part0 = [ {\"following\":{}} ]");
    zt_add_str(&z, "data/account.js", "window.YTD.account.part0 = [ ]");
    zt_finish(&z, NULL);
    for (k = 0; k < z.len; k++) {
        cut.buf = z.buf;
        cut.len = k;
        if (open_error(&cut, NULL)[0] == '\0')
            opened++;
    }
    is_int(opened, 0, "every truncation of a %zu-byte zip is refused", z.len);

    /* The tail intact but bytes missing in the middle: offsets no longer match. */
    cut.len = z.len - 10;
    cut.buf = malloc(cut.len);
    memcpy(cut.buf, z.buf, 20);
    memcpy(cut.buf + 20, z.buf + 30, z.len - 30);
    ok(strlen(extract_error(&cut, NULL, "data/following.js", &s)) > 0,
       "10 bytes cut from the first entry: refused (%s)",
       extract_error(&cut, NULL, "data/following.js", &s));
    sink_reset(&s);
    free(cut.buf);
    zt_free(&z);
}

static void
test_zip64(void)
{
    struct zt z = { .zip64 = 1 };
    struct zipread *r;
    struct sink s = { 0 };
    char err[256];
    size_t i;

    zt_add_str(&z, "data/account.js", "window.YTD.account.part0 = []");
    zt_add(&z, "stored", "zip64 stored", 12, 0);
    zt_finish(&z, NULL);
    r = zipread_open_mem(z.buf, z.len, NULL, err, sizeof(err));
    if (!ok(r != NULL, "a ZIP64 zip opens (%s)", r ? "" : err))
        return;
    is_int(zipread_count(r), 2, "ZIP64: entry count from the ZIP64 end record");
    is_int(zipread_entry(r, 1)->size, 12, "ZIP64: size from the extra field");
    is_int(zipread_extract_name(r, "data/account.js", sink_chunk, &s, err, sizeof(err)), 0,
           "ZIP64: deflated entry extracts");
    is_str((char *)s.data, "window.YTD.account.part0 = []", "ZIP64: content intact");
    sink_reset(&s);
    is_int(zipread_extract_name(r, "stored", sink_chunk, &s, err, sizeof(err)), 0,
           "ZIP64: stored entry extracts");
    sink_reset(&s);
    zipread_close(r);
    zt_free(&z);

    /* More than 65535 entries only fits in the ZIP64 end record. */
    z = (struct zt){ .zip64 = 1 };
    for (i = 0; i < 70000; i++) {
        char name[32];

        snprintf(name, sizeof(name), "m/%zu", i);
        zt_add(&z, name, "", 0, 0);
    }
    zt_finish(&z, NULL);
    r = zipread_open_mem(z.buf, z.len, NULL, err, sizeof(err));
    ok(r != NULL && zipread_count(r) == 70000, "70000 entries through ZIP64 (%s)", r ? "" : err);
    ok(r != NULL && zipread_find(r, "m/69999") != NULL, "the last of them is found");
    zipread_close(r);
    zt_free(&z);
}

/* Bytes this process has read through read(2)/pread(2) so far. */
static long long
bytes_read(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    long long v = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "rchar: %lld", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* A real ZIP64 case: a 5 GiB sparse file whose small entries sit past the 4 GiB mark. */
static void
test_zip64_large_sparse(void)
{
    struct zt z = { .zip64 = 1 };
    struct zipread *r;
    struct sink s = { 0 };
    char path[256], err[256];
    long long before, after;

    zt_add_str(&z, "data/account.js", "window.YTD.account.part0 = []");
    zt_hole(&z, "data/tweets_media/huge.mp4", 5ULL << 30);
    zt_add_str(&z, "data/follower.js", "window.YTD.follower.part0 = [ ]");
    zt_finish(&z, NULL);
    snprintf(path, sizeof(path), "%s/large.zip", tmpdir);
    if (!ok(zt_write(&z, path) == 0, "a 5 GiB sparse zip is written"))
        return;
    before = bytes_read();
    r = zipread_open(path, NULL, err, sizeof(err));
    if (!ok(r != NULL, "the 5 GiB zip opens (%s)", r ? "" : err))
        return;
    is_int(zipread_find(r, "data/tweets_media/huge.mp4")->size, 5ULL << 30,
           "a 5 GiB entry size through ZIP64");
    ok(zipread_find(r, "data/follower.js")->offset > (4ULL << 30),
       "an entry past 4 GiB through a ZIP64 offset");
    is_int(zipread_extract_name(r, "data/follower.js", sink_chunk, &s, err, sizeof(err)), 0,
           "the entry past 4 GiB extracts");
    is_str((char *)s.data, "window.YTD.follower.part0 = [ ]", "its content is intact");
    after = bytes_read();
    ok(before >= 0 && after - before < 200000,
       "only the directory and the entry were read (%lld bytes of 5 GiB)", after - before);
    sink_reset(&s);
    zipread_close(r);
    unlink(path);
    zt_free(&z);
}

static void
test_bomb(void)
{
    struct zt z = { 0 };
    struct zipread_limits lim;
    struct sink s = { 0 };
    size_t len = 20 << 20;
    unsigned char *zeros = calloc(1, len);
    const char *e;

    zt_add(&z, "data/follower.js", zeros, len, 8);
    zt_finish(&z, NULL);
    ok(z.len < 100000, "20 MiB of zeros deflate to %zu bytes", z.len);
    e = extract_error(&z, NULL, "data/follower.js", &s);
    ok(strstr(e, "refused as a zip bomb") != NULL, "ratio over 200:1 refused: %s", e);
    is_int(s.len, 0, "refused before a byte is inflated");

    zipread_limits_init(&lim);
    lim.max_ratio = 2000;
    lim.max_entry_size = 1 << 20;
    e = extract_error(&z, &lim, "data/follower.js", &s);
    ok(strstr(e, "bytes uncompressed (the limit is 1048576)") != NULL,
       "size over the limit refused: %s", e);
    lim.max_entry_size = 0;
    e = extract_error(&z, &lim, "data/follower.js", &s);
    is_str(e, "", "the same entry extracts once the ratio limit allows it");
    is_int(s.len, len, "all of it");
    sink_reset(&s);
    zt_free(&z);

    /* A deflated entry claiming a small size but inflating to much more is cut off. */
    z = (struct zt){ 0 };
    zt_add_ex(&z, "liar", 4, zeros, 1 << 20, 8, &(struct zt_craft){ .declared_size = 4097 });
    zt_finish(&z, NULL);
    lim.max_ratio = 0;
    e = extract_error(&z, NULL, "liar", &s);
    ok(strstr(e, "inflates to more than its declared 4096 bytes") != NULL,
       "more than declared: stops (%s)", e);
    ok(s.len <= 4096, "no more than the declared size reached the callback (%zu)", s.len);
    sink_reset(&s);
    zt_free(&z);
    free(zeros);
}

static void
test_corrupt(void)
{
    struct zt z = { 0 };
    struct sink s = { 0 };
    const char *e;

    zt_add_ex(&z, "crc", 3, "some text here", 14, 8, &(struct zt_craft){ .crc_xor = 1 });
    zt_add_ex(&z, "short", 5, "some text here", 14, 8, &(struct zt_craft){ .declared_size = 21 });
    zt_add_ex(&z, "junk", 4, "\xff\xff\xff\xff\xff\xff", 6, 8, &(struct zt_craft){ .raw = 1 });
    zt_add_ex(&z, "locked", 6, "secret", 6, 0, &(struct zt_craft){ .flags = 1 });
    zt_add_ex(&z, "bzip2", 5, "BZh", 3, 0, &(struct zt_craft){ .raw = 1, .method = 12 });
    zt_add_ex(&z, "stored-liar", 11, "abc", 3, 0, &(struct zt_craft){ .declared_size = 3 });
    zt_finish(&z, NULL);

    e = extract_error(&z, NULL, "crc", &s);
    is_str(e, "crc: CRC-32 mismatch (the entry is corrupt)", "CRC mismatch refused");
    sink_reset(&s);
    e = extract_error(&z, NULL, "short", &s);
    is_str(e, "short: inflates to 14 bytes, not the declared 20", "fewer bytes than declared");
    sink_reset(&s);
    e = extract_error(&z, NULL, "junk", &s);
    is_str(e, "junk: corrupt compressed data", "junk deflate data refused");
    e = extract_error(&z, NULL, "locked", &s);
    is_str(e, "locked: encrypted entries are not supported", "encrypted entry refused");
    e = extract_error(&z, NULL, "bzip2", &s);
    is_str(e, "bzip2: compression method 12 is not supported", "other methods refused");
    e = extract_error(&z, NULL, "stored-liar", &s);
    is_str(e, "stored-liar: stored entry with two different sizes", "stored size mismatch");
    sink_reset(&s);
    zt_free(&z);

    /* A deflate stream cut short inside the entry. */
    z = (struct zt){ 0 };
    {
        unsigned char *packed, *text = noise(5000);
        size_t plen = zt_deflate(text, 5000, &packed);

        zt_add_ex(&z, "cut", 3, packed, plen / 2, 8,
                  &(struct zt_craft){ .raw = 1, .declared_size = 5001 });
        zt_finish(&z, NULL);
        e = extract_error(&z, NULL, "cut", &s);
        is_str(e, "cut: compressed data ends early", "deflate stream cut short refused");
        sink_reset(&s);
        free(packed);
        free(text);
    }
    zt_free(&z);
}

static void
test_names(void)
{
    static const struct {
        const char *name;
        size_t len;
        const char *why;
    } bad[] = {
        { "../evil.js", 10, "'..' in its path" },
        { "data/../../etc/passwd", 21, "'..' in its path" },
        { "data/..", 7, "'..' in its path" },
        { "a\\..\\b", 6, "'..' in its path" },
        { "/etc/passwd", 11, "an absolute path" },
        { "\\windows", 8, "an absolute path" },
        { "C:\\x.js", 7, "an absolute path (drive letter)" },
        { "data/acc\0ount.js", 16, "a NUL byte in its name" },
        { "", 0, "an empty name" },
    };
    struct zipread_limits lim;
    char want[128], longname[300];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct zt z = { 0 };
        const char *e;

        zt_add(&z, "fine.txt", "x", 1, 0);
        zt_add_ex(&z, bad[i].name, bad[i].len, "x", 1, 0, NULL);
        zt_finish(&z, NULL);
        e = open_error(&z, NULL);
        snprintf(want, sizeof(want), "has %s", bad[i].why);
        ok(strstr(e, want) != NULL && strncmp(e, "entry 2 ", 8) == 0, "name %zu refused: %s", i + 1,
           e);
        zt_free(&z);
    }
    {
        struct zt z = { 0 };

        zt_add(&z, "a..b/..c/d..", "x", 1, 0);
        zt_finish(&z, NULL);
        is_str(open_error(&z, NULL), "", "'..' inside a name part is fine");
        zt_free(&z);
    }
    {
        struct zt z = { 0 };

        zt_add(&z, "data/follower.js", "x", 1, 0);
        zt_add(&z, "data/follower.js", "y", 1, 0);
        zt_finish(&z, NULL);
        is_str(open_error(&z, NULL), "two entries are named data/follower.js",
               "duplicate names refused");
        zt_free(&z);
    }
    {
        struct zt z = { 0 };

        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        zt_add(&z, longname, "x", 1, 0);
        zt_finish(&z, NULL);
        zipread_limits_init(&lim);
        lim.max_name_len = 200;
        is_str(open_error(&z, &lim), "entry 1: name of 299 bytes (the limit is 200)",
               "long name refused");
        zt_free(&z);
    }
}

static void
test_limits(void)
{
    struct zt z = { 0 };
    struct zipread_limits lim;
    size_t i;

    for (i = 0; i < 10; i++)
        zt_add(&z, i % 2 ? "b" : "a", "", 0, 0);
    zt_finish(&z, NULL);
    zipread_limits_init(&lim);
    lim.max_entries = 9;
    is_str(open_error(&z, &lim), "the zip has 10 entries (the limit is 9)",
           "entry count over the limit refused");
    zipread_limits_init(&lim);
    lim.max_cd_bytes = 100;
    is_str(open_error(&z, &lim), "the zip's central directory is 470 bytes (the limit is 100)",
           "directory over the limit refused");
    zt_free(&z);

    /* An end record that claims more entries than its directory could hold. */
    z = (struct zt){ 0 };
    zt_add(&z, "a", "", 0, 0);
    zt_finish(&z, NULL);
    z.buf[z.len - 22 + 8] = z.buf[z.len - 22 + 10] = 50;
    is_str(open_error(&z, NULL), "the zip's central directory is corrupt or truncated",
           "entry count larger than the directory refused");
    zt_free(&z);

    /* Two directory records pointing at the same local header (overlap bombs do this). */
    z = (struct zt){ 0 };
    zt_add(&z, "one", "x", 1, 0);
    zt_add(&z, "two", "x", 1, 0);
    z.e[1].off = z.e[0].off;
    zt_finish(&z, NULL);
    is_str(open_error(&z, NULL), "entries one and two overlap", "shared local header refused");
    zt_free(&z);

    /* A directory record pointing past the data, into the directory itself. */
    z = (struct zt){ 0 };
    zt_add(&z, "one", "x", 1, 0);
    z.e[0].off = 40;
    zt_finish(&z, NULL);
    is_str(open_error(&z, NULL), "entry one starts outside the zip's data",
           "local header offset past the data refused");
    zt_free(&z);
}

int
main(void)
{
    char path[300];

    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_small();
    test_files();
    test_not_zip();
    test_truncated();
    test_zip64();
    test_zip64_large_sparse();
    test_bomb();
    test_corrupt();
    test_names();
    test_limits();
    snprintf(path, sizeof(path), "%s/small.zip", tmpdir);
    unlink(path);
    ok(rmdir(tmpdir) == 0, "the temporary folder is left empty");
    return done_testing();
}
