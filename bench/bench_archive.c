/* The X archive parser's speed: generated lists fed in 64 KiB chunks, then the same in a zip. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive.h"
#include "zipread.h"
#include "../tests/ziptest.h"
#include "bench.h"

#define CHUNK     65536
#define ROUNDS    3
#define BASE_FROM 1600000000000000000ULL /* xarchive.mjs's ids: above 2^53, 7919 apart */
#define BASE_TO   1700000000000000000ULL

struct tally {
    uint64_t count;
    uint64_t sum;
};

struct text {
    char *buf;
    size_t len, cap;
};

static void
text_put(struct text *t, const char *s, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2;
        t->buf = realloc(t->buf, t->cap);
        if (t->buf == NULL) {
            perror("realloc");
            exit(1);
        }
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

/* What JSON.stringify(list, null, 2) writes, as tests/lib/xarchive.mjs and X's own files do. */
static void
gen_list(struct text *t, const char *kind, unsigned part, uint64_t base, uint64_t from, uint64_t n,
         uint64_t *sum)
{
    char line[512];
    uint64_t i;
    int k;

    k = snprintf(line, sizeof(line), "window.YTD.%s.part%u = [", kind, part);
    text_put(t, line, (size_t)k);
    for (i = 0; i < n; i++) {
        uint64_t id = base + (from + i) * 7919;

        *sum += id;
        k = snprintf(line, sizeof(line),
                     "%s\n  {\n    \"%s\": {\n      \"accountId\": \"%" PRIu64 "\",\n"
                     "      \"userLink\": \"https://twitter.com/intent/user?user_id=%" PRIu64
                     "\"\n    }\n  }",
                     i ? "," : "", kind, id, id);
        text_put(t, line, (size_t)k);
    }
    text_put(t, n ? "\n]" : "]", n ? 2 : 1);
}

static int
tally_edge(void *ctx, enum archive_kind kind, uint64_t id, char *err, size_t errlen)
{
    struct tally *t = ctx;

    (void)kind;
    (void)err;
    (void)errlen;
    t->count++;
    t->sum += id;
    return 0;
}

static void
die(const char *what, const char *err)
{
    fprintf(stderr, "bench_archive: %s: %s\n", what, err);
    exit(1);
}

static void
feed_file(enum archive_kind kind, const struct text *t, struct tally *tally)
{
    struct archive_callbacks cb = { .ctx = tally, .edge = tally_edge };
    struct archive_stream *s = archive_stream_new(kind, "bench.js", &cb);
    char err[512];
    size_t off, n;

    for (off = 0; off < t->len; off += n) {
        n = t->len - off < CHUNK ? t->len - off : CHUNK;
        if (archive_stream_feed(s, t->buf + off, n, err, sizeof(err)) < 0)
            die("feed", err);
    }
    if (archive_stream_finish(s, err, sizeof(err)) < 0)
        die("finish", err);
    archive_stream_free(s);
}

static void
report(const char *what, double secs, size_t bytes, uint64_t edges)
{
    printf("%-28s %8.3f s %9.1f MB/s %12.0f edges/s\n", what, secs, (double)bytes / secs / 1e6,
           (double)edges / secs);
}

static void
check(const char *what, const struct tally *t, uint64_t count, uint64_t sum)
{
    if (t->count != count || t->sum != sum) {
        fprintf(stderr, "bench_archive: %s: %" PRIu64 " edges (want %" PRIu64 "), wrong sum\n",
                what, t->count, count);
        exit(1);
    }
}

/* Splits n ids into parts as xarchive.mjs does, each part one zip entry. */
static size_t
zip_list(struct zt *z, const char *kind, unsigned parts, uint64_t base, uint64_t n, uint64_t *sum)
{
    uint64_t size = (n + parts - 1) / parts, from;
    size_t bytes = 0;
    unsigned i;
    char name[64];

    for (i = 0; i < parts; i++) {
        struct text t = { 0 };
        uint64_t cnt;

        from = (uint64_t)i * size;
        cnt = from >= n ? 0 : n - from < size ? n - from : size;
        gen_list(&t, kind, i, base, from, cnt, sum);
        if (i == 0)
            snprintf(name, sizeof(name), "data/%s.js", kind);
        else
            snprintf(name, sizeof(name), "data/%s-part%u.js", kind, i);
        zt_add(z, name, t.buf, t.len, 8);
        bytes += t.len;
        free(t.buf);
    }
    return bytes;
}

/* The edges and their sum are checked when sum is not 0 (a zip made here). */
static void
bench_zip(const char *what, struct zipread *z, size_t bytes, uint64_t edges, uint64_t sum)
{
    struct tally tally;
    struct archive_callbacks cb = { .ctx = &tally, .edge = tally_edge };
    struct archive_result res;
    char err[512];
    double best = 0, t0, secs;
    int r;

    for (r = 0; r < ROUNDS; r++) {
        memset(&tally, 0, sizeof(tally));
        t0 = bench_now();
        if (archive_read_zipread(z, &cb, &res, err, sizeof(err)) < 0)
            die(what, err);
        secs = bench_now() - t0;
        if (r == 0 || secs < best)
            best = secs;
        if (sum != 0)
            check(what, &tally, edges, sum);
    }
    report(what, best, bytes, res.followers + res.following);
}

/*
 * The same edges as COPY text for x_edges: followers point at the owner, followees away, each
 * said by member 1 (the only member of run.sh's fresh database, the archive's uploader).
 */
static int
write_copy(const char *path, uint64_t owner, uint64_t nfrom, uint64_t nto)
{
    FILE *f = fopen(path, "w");
    uint64_t i;

    if (f == NULL)
        return -1;
    for (i = 0; i < nfrom; i++)
        fprintf(f, "%" PRIu64 "\t%" PRIu64 "\t1\n", (uint64_t)(BASE_FROM + i * 7919), owner);
    for (i = 0; i < nto; i++)
        fprintf(f, "%" PRIu64 "\t%" PRIu64 "\t1\n", owner, (uint64_t)(BASE_TO + i * 7919));
    return fclose(f);
}

/*
 * bench_archive -w ZIP COPY EDGES: writes an X archive of EDGES edges (account 1580000000000000001
 * "big", manifest.js with the counts, 70 % followers in 4 parts, 30 % followees in 2, deflated)
 * for passerelle import and the link page, and COPY the same rows as x_edges COPY text.
 */
static int
write_archive(const char *zip, const char *copy, uint64_t edges)
{
    uint64_t nfrom = edges * 7 / 10, nto = edges - nfrom, sum = 0;
    char manifest[1024];
    struct zt z = { 0 };

    snprintf(
        manifest, sizeof(manifest),
        "window.__THAR_CONFIG = {\"userInfo\":{\"accountId\":\"1580000000000000001\","
        "\"userName\":\"big\"},\"dataTypes\":{"
        "\"follower\":{\"files\":[{\"fileName\":\"data/follower.js\",\"count\":\"%" PRIu64
        "\"}]},\"following\":{\"files\":[{\"fileName\":\"data/following.js\",\"count\":\"%" PRIu64
        "\"}]}}}",
        nfrom, nto);
    zt_add_str(&z, "data/manifest.js", manifest);
    zt_add_str(&z, "data/account.js",
               "window.YTD.account.part0 = [{\"account\":{\"username\":\"big\","
               "\"accountId\":\"1580000000000000001\",\"accountDisplayName\":\"Big\"}}]");
    zip_list(&z, "follower", 4, BASE_FROM, nfrom, &sum);
    zip_list(&z, "following", 2, BASE_TO, nto, &sum);
    zt_finish(&z, NULL);
    if (zt_write(&z, zip) < 0 || write_copy(copy, 1580000000000000001ULL, nfrom, nto) < 0) {
        fprintf(stderr, "bench_archive: cannot write %s or %s\n", zip, copy);
        return 1;
    }
    zt_free(&z);
    return 0;
}

/*
 * bench_archive [edges [zip]]: edges (default 2,000,000) split evenly between follower and
 * following; zip, if given, is read too (e.g. one written by tests/lib/xarchive.mjs). Each
 * figure is the best of three runs; MB/s counts uncompressed JSON.
 * bench_archive -w ZIP COPY EDGES: see write_archive.
 */
int
main(int argc, char **argv)
{
    uint64_t edges = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    uint64_t nfrom = edges / 2, nto = edges - nfrom, sum_from = 0, sum_to = 0, zsum = 0;
    struct text from = { 0 }, to = { 0 };
    struct tally tally;
    struct zt z = { 0 };
    struct zipread *zr;
    char err[512];
    double best = 0, t0, secs;
    size_t zbytes;
    int r;

    if (argc == 5 && strcmp(argv[1], "-w") == 0)
        return write_archive(argv[2], argv[3], strtoull(argv[4], NULL, 10));
    gen_list(&from, "follower", 0, BASE_FROM, 0, nfrom, &sum_from);
    gen_list(&to, "following", 0, BASE_TO, 0, nto, &sum_to);
    printf("bench_archive: %" PRIu64 " edges, %.1f MB of JSON\n", edges,
           (double)(from.len + to.len) / 1e6);
    for (r = 0; r < ROUNDS; r++) {
        memset(&tally, 0, sizeof(tally));
        t0 = bench_now();
        feed_file(ARCHIVE_FOLLOWER, &from, &tally);
        feed_file(ARCHIVE_FOLLOWING, &to, &tally);
        secs = bench_now() - t0;
        if (r == 0 || secs < best)
            best = secs;
        check("feed", &tally, edges, sum_from + sum_to);
    }
    report("feed, 64 KiB chunks", best, from.len + to.len, edges);
    free(from.buf);
    free(to.buf);

    zt_add_str(&z, "data/account.js",
               "window.YTD.account.part0 = [{\"account\":{\"username\":\"big\","
               "\"accountId\":\"1580000000000000001\",\"accountDisplayName\":\"Big\"}}]");
    zbytes = zip_list(&z, "follower", 4, BASE_FROM, nfrom, &zsum);
    zbytes += zip_list(&z, "following", 2, BASE_TO, nto, &zsum);
    zt_finish(&z, NULL);
    zr = zipread_open_mem(z.buf, z.len, NULL, err, sizeof(err));
    if (zr == NULL)
        die("zip", err);
    bench_zip("zip in memory, deflated", zr, zbytes, edges, zsum);
    zipread_close(zr);
    zt_free(&z);

    if (argc > 2) {
        size_t i, bytes = 0;

        zr = zipread_open(argv[2], NULL, err, sizeof(err));
        if (zr == NULL)
            die(argv[2], err);
        for (i = 0; i < zipread_count(zr); i++) {
            const struct zipread_entry *e = zipread_entry(zr, i);
            enum archive_kind kind = archive_classify(e->name, NULL);

            if (kind == ARCHIVE_FOLLOWER || kind == ARCHIVE_FOLLOWING)
                bytes += e->size;
        }
        bench_zip(argv[2], zr, bytes, 0, 0);
        zipread_close(zr);
    }
    return 0;
}
