/* Tests of xmalloc: what each wrapper returns, and that impossible sizes abort, not wrap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "xmalloc.h"

/* Sizes too big for any allocator; the volatile keeps the compiler from judging the call. */
static volatile size_t huge = SIZE_MAX;

enum call { CALL_MALLOC, CALL_CALLOC_WRAP, CALL_CALLOC_HALF, CALL_REALLOC };

/*
 * Runs the call in a child. 1 when the child died (abort) without returning from it, 0 when
 * the call returned.
 */
static int
dies(enum call c)
{
    pid_t pid;
    int status;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        void *p = NULL;

        /* The message xmalloc_die prints is not this test's output. */
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(3);
        switch (c) {
        case CALL_MALLOC:
            p = xmalloc(huge);
            break;
        case CALL_CALLOC_WRAP:
            /* nmemb * size wraps to a small number: calloc must refuse, not allocate it. */
            p = xcalloc(huge / 8 + 2, 16);
            break;
        case CALL_CALLOC_HALF:
            p = xcalloc(2, huge / 2 + 1);
            break;
        case CALL_REALLOC:
            p = xrealloc(NULL, huge);
            break;
        }
        _exit(p != NULL ? 0 : 2);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 0;
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
           !(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

int
main(void)
{
    char *s, *p;

    p = xmalloc(0);
    ok(p != NULL, "xmalloc(0) gives a pointer");
    free(p);
    p = xcalloc(0, 0);
    ok(p != NULL, "xcalloc(0, 0) gives a pointer");
    free(p);
    p = xcalloc(4, 8);
    ok(p != NULL && memcmp(p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0, "xcalloc zeroes");
    p = xrealloc(p, 0);
    ok(p != NULL, "xrealloc to 0 gives a pointer");
    free(p);

    s = xstrdup("passerelle");
    is_str(s, "passerelle", "xstrdup copies");
    free(s);
    s = xstrndup("passerelle", 4);
    is_str(s, "pass", "xstrndup stops at n");
    free(s);
    s = xstrndup("ab", 10);
    is_str(s, "ab", "xstrndup stops at the NUL before n");
    free(s);
    s = xasprintf("%s=%d", "n", 42);
    is_str(s, "n=42", "xasprintf formats");
    free(s);

    ok(dies(CALL_MALLOC), "xmalloc(SIZE_MAX) aborts instead of returning NULL");
    ok(dies(CALL_CALLOC_WRAP), "xcalloc whose product wraps around aborts");
    ok(dies(CALL_CALLOC_HALF), "xcalloc whose product overflows aborts");
    ok(dies(CALL_REALLOC), "xrealloc(SIZE_MAX) aborts");
    return done_testing();
}
