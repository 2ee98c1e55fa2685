/* Replays a fuzz target's committed corpus (fuzz/corpus/<target>/) as a TAP test, without
 * libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/*
 * The target (fuzz/<target>.c, linked in) checks its invariants with abort(): a seed that
 * breaks one stops this program, and tests/run.sh counts the failure. Every crash a fuzzing
 * run found is kept in the corpus, so it is replayed here by every make test.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int
replay_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
    const char *dir = "fuzz/corpus/" FUZZ_TARGET;
    char *names[4096], path[1024];
    size_t n = 0;
    struct dirent *e;
    DIR *d = opendir(dir);

    if (d == NULL) {
        printf("Bail out! no corpus in %s (run from the top folder)\n", dir);
        return 1;
    }
    while ((e = readdir(d)) != NULL && n < sizeof(names) / sizeof(names[0]))
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(names[0]), replay_cmp);
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    ok(n > 0, "%s has seeds (%zu)", dir, n);
    for (size_t i = 0; i < n; i++) {
        FILE *f;
        long len;
        uint8_t *buf;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        f = fopen(path, "rb");
        if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
            fseek(f, 0, SEEK_SET) != 0) {
            ok(0, "%s: cannot read it", names[i]);
            if (f != NULL)
                fclose(f);
            continue;
        }
        buf = malloc((size_t)len + 1);
        ok(buf != NULL && fread(buf, 1, (size_t)len, f) == (size_t)len, "%s read", names[i]);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, (size_t)len);
        ok(1, "%s: %s replayed, every invariant held", FUZZ_TARGET, names[i]);
        free(buf);
        free(names[i]);
    }
    return done_testing();
}
