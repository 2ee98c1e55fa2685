/* libFuzzer target: note HTML to plain text, checked against the output's invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "htmltext.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant broken is a bug: stop here so libFuzzer keeps the input. */
static void
fuzz_check(int cond)
{
    if (!cond)
        abort();
}

static void
fuzz_check_text(const char *out, int n, size_t cap)
{
    fuzz_check(n >= 0 && (size_t)n < cap);
    fuzz_check(strlen(out) == (size_t)n);
    if (n > 0) {
        /* Blanks around the text are trimmed; a command is read from its first byte. */
        fuzz_check(out[0] != ' ' && out[0] != '\n');
        fuzz_check(out[n - 1] != ' ' && out[n - 1] != '\n');
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    xmlInitParser();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char big[4096], small[9];
    int nb, ns;

    nb = htmltext_extract((const char *)data, size, big, sizeof(big));
    ns = htmltext_extract((const char *)data, size, small, sizeof(small));
    if (size > HTMLTEXT_MAX_INPUT) {
        fuzz_check(nb == -1 && ns == -1 && big[0] == '\0');
        return 0;
    }
    if (nb < 0) {
        fuzz_check(ns < 0);
        return 0;
    }
    fuzz_check_text(big, nb, sizeof(big));
    fuzz_check_text(small, ns, sizeof(small));
    /* The same walk with less room stops earlier, never elsewhere. */
    fuzz_check(ns <= nb && memcmp(small, big, (size_t)ns) == 0);
    return 0;
}
