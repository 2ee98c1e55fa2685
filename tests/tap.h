/* A small test harness: ok() lines in TAP form, counted by tests/run.sh. */
#ifndef PASSERELLE_TAP_H
#define PASSERELLE_TAP_H

#include <stdio.h>
#include <stdarg.h>
#include <string.h>

static int tap_n, tap_failed;

/* Records one check; prints where it failed. Returns cond so callers can stop early. */
#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                                     \
    tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, __VA_ARGS__)

static int __attribute__((format(printf, 4, 5), unused))
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    tap_n++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!cond) {
        tap_failed++;
        printf("#   failed at %s:%d\n", file, line);
    }
    fflush(stdout);
    return cond;
}

static int __attribute__((format(printf, 5, 6), unused))
tap_is_int(long long got, long long want, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    char name[512];

    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    if (!tap_ok(got == want, file, line, "%s", name))
        printf("#   got %lld, want %lld\n", got, want);
    return got == want;
}

static int __attribute__((format(printf, 5, 6), unused))
tap_is_str(const char *got, const char *want, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    char name[512];
    int same = got != NULL && want != NULL ? strcmp(got, want) == 0 : got == want;

    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    if (!tap_ok(same, file, line, "%s", name))
        printf("#   got \"%s\", want \"%s\"\n", got ? got : "(null)", want ? want : "(null)");
    return same;
}

/* Prints the plan line and returns the exit status for main. */
static int __attribute__((unused)) done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed == 0 && tap_n > 0 ? 0 : 1;
}

#endif
