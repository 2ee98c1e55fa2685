/* What the benchmark programs share, header only: a clock, a file reader, a loop breaker. */
#ifndef PASSERELLE_BENCH_H
#define PASSERELLE_BENCH_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

/* CLOCK_MONOTONIC in seconds. */
static inline double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole file, NUL-terminated, its size in *len; NULL if it cannot be read. */
static inline char *
bench_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = '\0';
            *len = (size_t)n;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

/* An event callback (SIGTERM, a timer) that ends the loop passed as its argument. */
static inline void
bench_break(evutil_socket_t fd, short what, void *base)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(base);
}

/* Serves http on base until SIGTERM, then frees both. */
static inline void
bench_serve(struct event_base *base, struct evhttp *http)
{
    struct event *term = evsignal_new(base, SIGTERM, bench_break, base);

    event_add(term, NULL);
    event_base_dispatch(base);
    event_free(term);
    evhttp_free(http);
    event_base_free(base);
}

#endif
