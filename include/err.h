/* Error messages into a caller's buffer: the one formatter behind every "-1 plus err" return. */
#ifndef PASSERELLE_ERR_H
#define PASSERELLE_ERR_H

#include <stddef.h>

/*
 * Formats a message into err (errlen bytes, always NUL-terminated, cut if longer) and returns
 * -1, so that a failing path reads `return err_set(err, errlen, "...", ...);`. err may be NULL
 * or errlen 0: nothing is written. Callers that return something other than -1 (an outcome
 * enum) call it and return their own value.
 */
int err_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
