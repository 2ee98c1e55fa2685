/* Hexadecimal digits: the one decoder that percent-decoding and JSON's \u escapes share. */
#ifndef PASSERELLE_HEX_H
#define PASSERELLE_HEX_H

/* The value of the hex digit c (0-9, a-f, A-F), or -1 for any other byte. */
int hex_value(int c);

#endif
