/* What the fuzz targets share: splitting an input into NUL-separated fields, and abort on a broken
 * invariant. */
#ifndef PASSERELLE_FUZZ_COMMON_H
#define PASSERELLE_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* An invariant broken is a bug: stop here so libFuzzer keeps the input. */
static inline void
fuzz_check(int cond)
{
    if (!cond)
        abort();
}

/*
 * Copies data and cuts it at its first n-1 NUL bytes into n NUL-terminated fields (the last
 * holds the rest, *lastlen bytes, and may contain NULs). Fields absent are "". Returns the
 * copy, for the caller to free.
 */
static inline char *
fuzz_fields(const uint8_t *data, size_t size, char **fields, size_t n, size_t *lastlen)
{
    char *copy = malloc(size + 1);
    size_t start = 0, k = 0;

    fuzz_check(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (size_t i = 0; i < n; i++)
        fields[i] = copy + size;
    for (size_t i = 0; i <= size && k + 1 < n; i++) {
        if (i == size || copy[i] == '\0') {
            fields[k++] = copy + start;
            start = i + 1;
            if (i == size)
                break;
        }
    }
    if (start <= size) {
        fields[n - 1] = copy + start;
        *lastlen = size - start;
    } else {
        *lastlen = 0;
    }
    return copy;
}

#endif
