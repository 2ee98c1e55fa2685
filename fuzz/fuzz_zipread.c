/* libFuzzer target: a zip opened from memory, every entry extracted, then read as an X archive. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "zipread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct count {
    uint64_t total;
};

static int
count_chunk(void *ctx, const unsigned char *buf, size_t len, char *err, size_t errlen)
{
    struct count *c = ctx;

    (void)buf;
    (void)err;
    (void)errlen;
    if (len == 0 || len > 65536)
        abort();
    c->total += len;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zipread_limits lim = {
        .max_entries = 1000,
        .max_cd_bytes = 1 << 20,
        .max_name_len = 256,
        .max_entry_size = 4 << 20,
        .max_ratio = 200,
    };
    struct archive_callbacks cb = { 0 };
    struct archive_result res;
    struct zipread *z;
    char err[512];
    size_t i;

    z = zipread_open_mem(data, size, &lim, err, sizeof(err));
    if (z == NULL)
        return 0;
    for (i = 0; i < zipread_count(z) && i < 64; i++) {
        const struct zipread_entry *e = zipread_entry(z, i);
        struct count c = { 0 };

        /* Names are unique and checked: the lookup finds this very entry. */
        if (zipread_find(z, e->name) != e || strlen(e->name) != e->name_len)
            abort();
        if (zipread_extract(z, e, count_chunk, &c, err, sizeof(err)) == 0 && c.total != e->size)
            abort();
        if (c.total > e->size)
            abort();
    }
    archive_read_zipread(z, &cb, &res, err, sizeof(err));
    zipread_close(z);
    return 0;
}
