/* X archive files: which ones passerelle reads, and how their names are shown. */
#include <string.h>

#include "archive.h"

const char *
archive_kind_name(enum archive_kind kind)
{
    switch (kind) {
    case ARCHIVE_ACCOUNT:
        return "account";
    case ARCHIVE_MANIFEST:
        return "manifest";
    case ARCHIVE_FOLLOWER:
        return "follower";
    case ARCHIVE_FOLLOWING:
        return "following";
    case ARCHIVE_BLOCK:
        return "block";
    case ARCHIVE_MUTE:
        return "mute";
    case ARCHIVE_OTHER:
        break;
    }
    return "other";
}

/* X names the files by the list ("block") and wraps each element by the relation ("blocking"). */
const char *
archive_kind_key(enum archive_kind kind)
{
    if (kind == ARCHIVE_BLOCK)
        return "blocking";
    if (kind == ARCHIVE_MUTE)
        return "muting";
    return archive_kind_name(kind);
}

/* dir includes its trailing slash: "", "data/", or "TOP/data/" (one folder above). */
static int
archive_dir_ok(const char *dir, size_t len)
{
    if (len == 0 || (len == 5 && memcmp(dir, "data/", 5) == 0))
        return 1;
    return len > 6 && memcmp(dir + len - 6, "/data/", 6) == 0 && memchr(dir, '/', len - 6) == NULL;
}

/* s follows "-part": 1 to 4 digits without a leading zero, then ".js". */
static int
archive_part_number(const char *s, unsigned *part)
{
    unsigned v = 0;
    size_t i;

    if (s[0] < '1' || s[0] > '9')
        return -1;
    for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
        if (i == 4)
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (strcmp(s + i, ".js") != 0)
        return -1;
    *part = v;
    return 0;
}

enum archive_kind
archive_classify(const char *name, unsigned *part)
{
    static const struct {
        const char *stem;
        enum archive_kind kind;
        int parts;
    } files[] = {
        { "account", ARCHIVE_ACCOUNT, 0 },   { "manifest", ARCHIVE_MANIFEST, 0 },
        { "follower", ARCHIVE_FOLLOWER, 1 }, { "following", ARCHIVE_FOLLOWING, 1 },
        { "block", ARCHIVE_BLOCK, 1 },       { "mute", ARCHIVE_MUTE, 1 },
    };
    const char *slash = strrchr(name, '/');
    const char *base = slash != NULL ? slash + 1 : name;
    unsigned scratch;
    size_t i, n;

    if (part == NULL)
        part = &scratch;
    *part = 0;
    if (!archive_dir_ok(name, (size_t)(base - name)))
        return ARCHIVE_OTHER;
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        n = strlen(files[i].stem);
        if (strncmp(base, files[i].stem, n) != 0)
            continue;
        if (strcmp(base + n, ".js") == 0)
            return files[i].kind;
        if (files[i].parts && strncmp(base + n, "-part", 5) == 0 &&
            archive_part_number(base + n + 5, part) == 0)
            return files[i].kind;
    }
    *part = 0;
    return ARCHIVE_OTHER;
}


/* Names reach messages and logs: printable ASCII only, at most ARCHIVE_MAX_LABEL bytes. */
void
archive_label(char out[ARCHIVE_MAX_LABEL + 1], const char *name)
{
    size_t i;

    for (i = 0; name[i] != '\0' && i < ARCHIVE_MAX_LABEL; i++)
        out[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    out[i] = '\0';
}
