/* libFuzzer target: a member's command (bridge_command_parse) and a reported handle. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "fuzz_common.h"
#include "texts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[2], arg[64], small[4], out[300], tiny[8];
    size_t restlen;
    char *copy = fuzz_fields(data, size, f, 2, &restlen);
    const char *lang = (const char *)1, *lang2 = (const char *)1;
    enum bridge_command c, c2;

    /* f[0]: a message's plain text. */
    memset(arg, 0x55, sizeof(arg));
    c = bridge_command_parse(f[0], &lang, arg, sizeof(arg));
    fuzz_check(c >= BRIDGE_CMD_UNKNOWN && c <= BRIDGE_CMD_REPORT);
    fuzz_check(lang == NULL || texts_lang_known(lang) == lang);
    fuzz_check(memchr(arg, '\0', sizeof(arg)) != NULL);
    fuzz_check(c == BRIDGE_CMD_REPORT || arg[0] == '\0');
    /* Less room for the argument changes nothing else, and cuts it as a prefix. */
    c2 = bridge_command_parse(f[0], &lang2, small, sizeof(small));
    fuzz_check(c2 == c && lang2 == lang);
    fuzz_check(strncmp(small, arg, strlen(small)) == 0 && strlen(small) < sizeof(small));

    /* f[1]: a reported handle; f[0]'s argument too. */
    for (int i = 0; i < 2; i++) {
        const char *h = i == 0 ? f[1] : arg;

        if (bridge_handle_normalize(h, out, sizeof(out)) == 0) {
            const char *at = strchr(out, '@');

            fuzz_check(at != NULL && at != out && at[1] != '\0' && strchr(at + 1, '@') == NULL);
            for (const char *p = at + 1; *p; p++)
                fuzz_check(!isupper((unsigned char)*p));
            /* Normal forms are fixed points. */
            fuzz_check(bridge_handle_normalize(out, tiny, sizeof(tiny)) == 0 ||
                       strlen(out) >= sizeof(tiny));
        }
    }
    free(copy);
    return 0;
}
