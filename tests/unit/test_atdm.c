/*
 * Unit tests for server/reconnect/atdm.c: a notice cut to what a chat message takes, and the
 * sender off unless the bridge's Bluesky account is configured in full (its sending, through
 * a PDS and the chat double, is integration/atdm).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "atdm.h"
#include "config.h"
#include "tap.h"

static void
test_fit(void)
{
    char big[3000], *s;

    s = atdm_fit("short\ntext");
    is_str(s, "short\ntext", "a short text is unchanged");
    free(s);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 80; i < 3000; i += 81)
        big[i] = '\n';
    s = atdm_fit(big);
    ok(strlen(s) <= ATDM_TEXT_MAX, "at most %d bytes: %zu", ATDM_TEXT_MAX, strlen(s));
    ok(strcmp(s + strlen(s) - 3, "...") == 0 && s[strlen(s) - 4] == 'a',
       "cut at a line break, marked");
    ok(strncmp(s, big, strlen(s) - 3) == 0, "the beginning kept");
    free(s);
    /* One long line of two-byte characters: never cut inside one. */
    for (size_t i = 0; i + 2 < sizeof(big); i += 2) {
        big[i] = (char)0xc3;
        big[i + 1] = (char)0xa9;
    }
    big[sizeof(big) - 2] = '\0';
    s = atdm_fit(big);
    ok(strlen(s) <= ATDM_TEXT_MAX && (strlen(s) - 3) % 2 == 0, "whole characters only");
    free(s);
}

static void
test_off(void)
{
    struct config cfg;
    struct app app = { 0 };
    char err[256], path[64];
    FILE *f;

    config_defaults(&cfg);
    app.cfg = &cfg;
    ok(atdm_new(&app) == NULL, "no account configured: no sender");
    if (config_set(&cfg, "bluesky_dm_handle", "bridge.example.com", err, sizeof(err)) < 0 ||
        config_set(&cfg, "bluesky_dm_password_file", "/nonexistent/pw", err, sizeof(err)) < 0 ||
        config_set(&cfg, "bluesky_dm_pds", "https://pds.example", err, sizeof(err)) < 0)
        return;
    ok(atdm_new(&app) == NULL, "an unreadable password file: no sender");
    snprintf(path, sizeof(path), "/tmp/test_atdm_%d", (int)getpid());
    f = fopen(path, "w");
    fputs("\n", f);
    fclose(f);
    config_set(&cfg, "bluesky_dm_password_file", path, err, sizeof(err));
    ok(atdm_new(&app) == NULL, "an empty password: no sender");
    f = fopen(path, "w");
    fputs("abcd-efgh-ijkl-mnop\n", f);
    fclose(f);
    config_set(&cfg, "bluesky_dm_pds", "", err, sizeof(err));
    ok(atdm_new(&app) == NULL, "no PDS: no sender");
    unlink(path);
    atdm_free(NULL);
    config_free(&cfg);
}

int
main(void)
{
    test_fit();
    test_off();
    return done_testing();
}
