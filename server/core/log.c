/* One line per event on stderr: ts, level, event, then key=value pairs; remote strings escaped. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

static enum log_level log_min = LOG_INFO;
static const char *const log_names[] = { "debug", "info", "warn", "error" };

void
log_set_level(enum log_level level)
{
    log_min = level;
}

int
log_set_level_name(const char *name)
{
    for (size_t i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
        if (strcasecmp(name, log_names[i]) == 0) {
            log_min = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int
log_enabled(enum log_level level)
{
    return level >= log_min;
}

void
log_write(enum log_level level, const char *event, const char *fmt, ...)
{
    char line[4096], ts[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    if (level < log_min)
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s event=%s ", ts,
                 (long)(tv.tv_usec / 1000), log_names[level], event);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line so that concurrent processes do not interleave inside it. */
    fprintf(stderr, "%s\n", line);
}

char *
log_escape(char *buf, unsigned long size, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (size < 8) {
        if (size > 0)
            buf[0] = '\0';
        return buf;
    }
    if (s == NULL) {
        snprintf(buf, size, "-");
        return buf;
    }
    buf[o++] = '"';
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[5];
        size_t elen;

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c == '\n') {
            memcpy(esc, "\\n", 2);
            elen = 2;
        } else if (c < 0x20 || c >= 0x7f) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            elen = 4;
        } else {
            esc[0] = (char)c;
            elen = 1;
        }
        /* Room for the escape, "..." marker, closing quote and NUL. */
        if (o + elen + 5 > size) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, esc, elen);
        o += elen;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

const char *
log_q(const char *s)
{
    static char bufs[8][260];
    static unsigned next;

    return log_escape(bufs[next++ % 8], sizeof(bufs[0]), s);
}

/* 1 when the n bytes at p are all hex digits (either case). */
static int
log_all_hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
              (p[i] >= 'A' && p[i] <= 'F')))
            return 0;
    return 1;
}

const char *
log_path(const char *path)
{
    char out[260];
    size_t o = 0, room;

    if (path == NULL)
        return log_q(NULL);
    /* Segment by segment: a one-time code or a token never reaches the log, at any level. */
    while (*path != '\0' && (room = sizeof(out) - 1 - o) > 0) {
        size_t n = strcspn(path, "/");
        int secret = n >= LOG_SECRET_HEX && log_all_hex(path, n);
        const char *from = secret ? "<secret>" : path;
        size_t len = secret ? strlen("<secret>") : n;

        len = len < room ? len : room;
        memcpy(out + o, from, len);
        o += len;
        path += n;
        if (*path == '/' && o < sizeof(out) - 1)
            out[o++] = *path++;
    }
    out[o] = '\0';
    return log_q(out);
}
