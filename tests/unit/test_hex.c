/* Unit tests for hex.c: every byte decodes to its hex value or to -1. */
#include "hex.h"
#include "tap.h"

int
main(void)
{
    int wrong = 0;

    is_int(hex_value('0'), 0, "0");
    is_int(hex_value('9'), 9, "9");
    is_int(hex_value('a'), 10, "a");
    is_int(hex_value('f'), 15, "f");
    is_int(hex_value('A'), 10, "A");
    is_int(hex_value('F'), 15, "F");
    is_int(hex_value('g'), -1, "g is not a digit");
    is_int(hex_value('/'), -1, "the byte before 0");
    is_int(hex_value(':'), -1, "the byte after 9");
    is_int(hex_value('@'), -1, "the byte before A");
    is_int(hex_value('`'), -1, "the byte before a");
    is_int(hex_value(0), -1, "NUL");
    is_int(hex_value(0xff), -1, "0xff");
    for (int c = 0; c < 256; c++) {
        int want = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;

        wrong += hex_value(c) != want;
    }
    is_int(wrong, 0, "all 256 bytes");
    return done_testing();
}
