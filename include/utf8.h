/* UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates, nothing above U+10FFFF. */
#ifndef PASSERELLE_UTF8_H
#define PASSERELLE_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes, n >= 1), 0 if invalid. */
size_t utf8_len(const unsigned char *s, size_t n);

/*
 * Characters in the n bytes at s, or -1 when they are not valid UTF-8. json-c's own check
 * (JSON_TOKENER_VALIDATE_UTF8) lets overlong forms and surrogates through: input from the
 * network is checked here before it is parsed.
 */
long utf8_count(const char *s, size_t n);

#endif
