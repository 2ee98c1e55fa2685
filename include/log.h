/* Logging: one line per event, key=value, to stderr, with levels. */
#ifndef PASSERELLE_LOG_H
#define PASSERELLE_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the lowest level written. Returns -1 for an unknown name. */
int log_set_level_name(const char *name);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

/*
 * Writes "ts=... level=... event=EVENT " followed by the formatted rest, which
 * the caller writes as key=value pairs. Any string that came from the network
 * must go through log_q() so that it cannot forge a line or a key.
 */
void log_write(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(ev, ...)                                                                         \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG))                                                                \
            log_write(LOG_DEBUG, ev, __VA_ARGS__);                                                 \
    } while (0)
#define log_info(ev, ...)  log_write(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  log_write(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_write(LOG_ERROR, ev, __VA_ARGS__)

/*
 * Returns s as a double-quoted string with control characters, quotes,
 * backslashes and non-ASCII bytes escaped, truncated to 256 bytes. The result
 * lives in one of 8 rotating static buffers: valid until the 9th call, so use
 * it within one log_write() call. NULL gives "-".
 */
const char *log_q(const char *s);

/*
 * log_q of a request path with every segment of LOG_SECRET_HEX or more hex digits (a link
 * code, a session token) replaced by "<secret>". Same buffers as log_q.
 */
#define LOG_SECRET_HEX 32
const char *log_path(const char *path);

/* Escapes into buf (always NUL-terminated); returns buf. */
char *log_escape(char *buf, unsigned long size, const char *s);

#endif
