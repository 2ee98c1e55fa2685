/* Hexadecimal digits: the one decoder that percent-decoding and JSON's \u escapes share. */
#include "hex.h"

int
hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
