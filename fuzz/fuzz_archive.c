/* libFuzzer target: the X archive push parser, fed each input whole and in random-size chunks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
    uint64_t count;
    uint64_t hash;
    struct archive_account account;
    int accounts;
};

static int
tally_edge(void *ctx, enum archive_kind kind, uint64_t id, char *err, size_t errlen)
{
    struct tally *t = ctx;

    (void)err;
    (void)errlen;
    t->count++;
    t->hash = t->hash * 1000003u ^ id ^ (uint64_t)kind << 60;
    return 0;
}

static int
tally_account(void *ctx, const struct archive_account *a, char *err, size_t errlen)
{
    struct tally *t = ctx;

    (void)err;
    (void)errlen;
    t->account = *a;
    t->accounts++;
    return 0;
}

/* Feeds data in chunks whose sizes come from seed (0: in one piece); returns the outcome. */
static int
fuzz_run(enum archive_kind kind, const uint8_t *data, size_t size, uint32_t seed, struct tally *t,
         char *err, size_t errlen)
{
    struct archive_callbacks cb = { .ctx = t, .edge = tally_edge, .account = tally_account };
    struct archive_stream *s = archive_stream_new(kind, "fuzz.js", &cb);
    size_t off = 0, cap = kind == ARCHIVE_MANIFEST ? ARCHIVE_MAX_MANIFEST : ARCHIVE_MAX_ELEMENT;
    int rc = 0;

    while (off < size && rc == 0) {
        size_t n = size - off;

        if (seed != 0) {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            n = seed % 8 == 0 ? 1 + seed % 4096 : 1 + seed % 17;
            if (n > size - off)
                n = size - off;
        }
        rc = archive_stream_feed(s, data + off, n, err, errlen);
        off += n;
    }
    if (rc == 0)
        rc = archive_stream_finish(s, err, errlen);
    /* The parser holds one element at a time, never more than the cap. */
    if (archive_stream_buffer_size(s) > cap)
        abort();
    if (rc == 0 && kind == ARCHIVE_FOLLOWER && archive_stream_elements(s) != t->count)
        abort();
    archive_stream_free(s);
    return rc;
}

/* First byte: the kind; second: the chunking seed; the rest: the file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tally whole = { 0 }, chunked = { 0 };
    char werr[1024] = "", cerr[1024] = "";
    enum archive_kind kind;
    int wrc, crc;

    if (size < 2)
        return 0;
    kind = (enum archive_kind)(1 + data[0] % 4);
    wrc = fuzz_run(kind, data + 2, size - 2, 0, &whole, werr, sizeof(werr));
    crc = fuzz_run(kind, data + 2, size - 2, 0x9e3779b9u ^ data[1], &chunked, cerr, sizeof(cerr));
    /* Chunking must never change the outcome. */
    if (wrc != crc || strcmp(werr, cerr) != 0 || whole.count != chunked.count ||
        whole.hash != chunked.hash || whole.accounts != chunked.accounts ||
        memcmp(&whole.account, &chunked.account, sizeof(whole.account)) != 0)
        abort();
    if (whole.accounts > 0 &&
        (strlen(whole.account.username) < 1 || strlen(whole.account.username) > 15 ||
         strnlen(whole.account.display_name, sizeof(whole.account.display_name)) >
             ARCHIVE_MAX_DISPLAY_NAME))
        abort();
    return 0;
}
