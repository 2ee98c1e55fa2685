/* Test helper, header only: a migrated throwaway database and the loop for unit tests. */
#ifndef PASSERELLE_PGTEST_H
#define PASSERELLE_PGTEST_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <netinet/in.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <libpq-fe.h>

#include "db.h"
#include "migrate.h"

/*
 * One database per test program, test_<name>_<pid>, created in the cluster of
 * PASSERELLE_TEST_PG (tests/run.sh starts it) and migrated; pgt_pg is a blocking connection
 * to it for seeding and reading back, pgt_conninfo is what the code under test connects to.
 */
static struct event_base *pgt_base;
static PGconn *pgt_pg;
static char pgt_admin[1024];
static char pgt_conninfo[1200];
static char pgt_dbname[64];

__attribute__((format(printf, 1, 2), noreturn)) static inline void
pgt_bail(const char *fmt, ...)
{
    va_list ap;

    printf("Bail out! ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    exit(1);
}

static inline double
pgt_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the loop for at most 5 ms. */
static inline void
pgt_spin_once(void)
{
    struct timeval tv = { 0, 5000 };

    event_base_loopexit(pgt_base, &tv);
    event_base_dispatch(pgt_base);
}

/* Runs the loop until cond holds or secs have passed. */
#define PGT_SPIN(cond, secs)                                                                       \
    do {                                                                                           \
        double pgt_end_ = pgt_now() + (secs);                                                      \
        while (!(cond) && pgt_now() < pgt_end_)                                                    \
            pgt_spin_once();                                                                       \
    } while (0)

/* An HTTP server on 127.0.0.1 at a free port, every request to cb; the port, or -1. */
static inline int
pgt_listen(struct evhttp **http, void (*cb)(struct evhttp_request *, void *), void *arg)
{
    struct evhttp_bound_socket *bs;
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    *http = evhttp_new(pgt_base);
    evhttp_set_gencb(*http, cb, arg);
    bs = evhttp_bind_socket_with_handle(*http, "127.0.0.1", 0);
    if (bs == NULL ||
        getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sin, &len) < 0)
        return -1;
    return ntohs(sin.sin_port);
}

/* One answer as pgt_ask got it: status 0 when there was none. */
struct pgt_answer {
    int done;
    int status;
    char body[8192];
    char ctype[128];
    char location[512];
    char cookie[512];
};

static inline void
pgt_answer_cb(struct evhttp_request *req, void *arg)
{
    struct pgt_answer *a = arg;

    a->done = 1;
    if (req == NULL)
        return;
    {
        struct evkeyvalq *h = evhttp_request_get_input_headers(req);
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(b);
        const char *v;

        a->status = evhttp_request_get_response_code(req);
        if (n >= sizeof(a->body))
            n = sizeof(a->body) - 1;
        evbuffer_copyout(b, a->body, n);
        a->body[n] = '\0';
        v = evhttp_find_header(h, "Content-Type");
        snprintf(a->ctype, sizeof(a->ctype), "%s", v ? v : "");
        v = evhttp_find_header(h, "Location");
        snprintf(a->location, sizeof(a->location), "%s", v ? v : "");
        v = evhttp_find_header(h, "Set-Cookie");
        snprintf(a->cookie, sizeof(a->cookie), "%s", v ? v : "");
    }
}

/*
 * Sends one request to 127.0.0.1:port and runs the loop until it is answered (5 s at most).
 * headers is NULL or a NULL-terminated list of "Name: value" lines; Host is 127.0.0.1:port
 * unless the list has one. body may be NULL.
 */
static inline void
pgt_ask(int port, enum evhttp_cmd_type method, const char *path, const char *const *headers,
        const char *body, size_t body_len, struct pgt_answer *a)
{
    struct evhttp_connection *c =
        evhttp_connection_base_new(pgt_base, NULL, "127.0.0.1", (unsigned short)port);
    struct evhttp_request *req;
    struct evkeyvalq *out;
    char host[32];
    int has_host = 0;

    memset(a, 0, sizeof(*a));
    req = evhttp_request_new(pgt_answer_cb, a);
    out = evhttp_request_get_output_headers(req);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        char name[128];
        const char *colon = strchr(headers[i], ':');
        size_t n = colon ? (size_t)(colon - headers[i]) : 0;

        if (n == 0 || n >= sizeof(name))
            continue;
        memcpy(name, headers[i], n);
        name[n] = '\0';
        has_host |= strcasecmp(name, "Host") == 0;
        evhttp_add_header(out, name, colon + 1 + strspn(colon + 1, " "));
    }
    if (!has_host) {
        snprintf(host, sizeof(host), "127.0.0.1:%d", port);
        evhttp_add_header(out, "Host", host);
    }
    if (body != NULL)
        evbuffer_add(evhttp_request_get_output_buffer(req), body, body_len);
    evhttp_connection_set_timeout(c, 5);
    evhttp_make_request(c, req, method, path);
    PGT_SPIN(a->done, 6);
    evhttp_connection_free(c);
}

/* Splits line at spaces into argv (at most max words, in buf); "_" is an empty word. */
static inline int
pgt_words(const char *line, char *buf, size_t len, char **argv, int max)
{
    char *save = NULL;
    int argc = 0;

    snprintf(buf, len, "%s", line);
    for (char *w = strtok_r(buf, " ", &save); w != NULL && argc < max;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = strcmp(w, "_") == 0 ? w + 1 : w;
    return argc;
}

/* Sends stdout to /dev/null until pgt_quiet_end (a command's own output is not TAP's). */
static inline int
pgt_quiet_begin(void)
{
    int out, null;

    fflush(stdout);
    out = dup(1);
    null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    close(null);
    return out;
}

static inline void
pgt_quiet_end(int out)
{
    fflush(stdout);
    dup2(out, 1);
    close(out);
}

/* Runs one statement on pgt_pg and returns its result; bails out when it fails. */
__attribute__((format(printf, 1, 0))) static inline PGresult *
pgt_vquery(const char *fmt, va_list ap)
{
    char sql[4096];
    PGresult *res;

    vsnprintf(sql, sizeof(sql), fmt, ap);
    res = PQexec(pgt_pg, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        pgt_bail("%s: %s", sql, PQerrorMessage(pgt_pg));
    return res;
}

__attribute__((format(printf, 1, 2))) static inline void
pgt_exec(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    PQclear(pgt_vquery(fmt, ap));
    va_end(ap);
}

/* The first column of the first row as a number; -1 when there is no row or it is NULL. */
__attribute__((format(printf, 1, 2))) static inline long long
pgt_num(const char *fmt, ...)
{
    va_list ap;
    PGresult *res;
    long long v = -1;

    va_start(ap, fmt);
    res = pgt_vquery(fmt, ap);
    va_end(ap);
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
        const char *s = PQgetvalue(res, 0, 0);

        v = strcmp(s, "t") == 0 ? 1 : strcmp(s, "f") == 0 ? 0 : strtoll(s, NULL, 10);
    }
    PQclear(res);
    return v;
}

/*
 * The first column of the first row, in a buffer that the next call overwrites; "(none)"
 * when there is no row and "(null)" when it is NULL.
 */
__attribute__((format(printf, 1, 2))) static inline const char *
pgt_str(const char *fmt, ...)
{
    static char out[4096];
    va_list ap;
    PGresult *res;

    va_start(ap, fmt);
    res = pgt_vquery(fmt, ap);
    va_end(ap);
    snprintf(out, sizeof(out), "%s",
             PQntuples(res) == 0      ? "(none)"
             : PQgetisnull(res, 0, 0) ? "(null)"
                                      : PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

/* The pid of a session to the test database with that application_name; 0 when none. */
static inline long
pgt_backend_pid(const char *application_name)
{
    return pgt_num("SELECT coalesce(max(pid), 0) FROM pg_stat_activity"
                   " WHERE application_name = '%s' AND datname = '%s'",
                   application_name, pgt_dbname);
}

static inline void
pgt_fatal_cb(const char *why, void *arg)
{
    (void)arg;
    printf("# fatal: %s\n", why);
}

/* A pool of n connections to the test database on pgt_base. */
static inline struct db *
pgt_db(int n)
{
    return db_new(pgt_base, pgt_conninfo, n, migrate_latest(), pgt_fatal_cb, NULL);
}

/*
 * Runs one statement (CREATE or DROP DATABASE...) on a connection of its own to the
 * cluster's admin database; bails out when it fails. pgt_pg is left as it was.
 */
__attribute__((format(printf, 1, 2))) static inline void
pgt_admin_exec(const char *fmt, ...)
{
    PGconn *keep = pgt_pg;
    va_list ap;

    pgt_pg = PQconnectdb(pgt_admin);
    if (PQstatus(pgt_pg) != CONNECTION_OK)
        pgt_bail("connect: %s", PQerrorMessage(pgt_pg));
    va_start(ap, fmt);
    PQclear(pgt_vquery(fmt, ap));
    va_end(ap);
    PQfinish(pgt_pg);
    pgt_pg = keep;
}

/*
 * Creates test_<name>_<pid> and leaves it empty (test_migrate migrates it itself):
 * pgt_conninfo names it. No connection, no loop: pgt_setup does this and the rest.
 */
static inline void
pgt_create(const char *name)
{
    const char *env = getenv("PASSERELLE_TEST_PG");

    if (env == NULL || *env == '\0')
        pgt_bail("PASSERELLE_TEST_PG not set (run through tests/run.sh)");
    snprintf(pgt_admin, sizeof(pgt_admin), "%s", env);
    snprintf(pgt_dbname, sizeof(pgt_dbname), "test_%s_%d", name, (int)getpid());
    snprintf(pgt_conninfo, sizeof(pgt_conninfo), "%s dbname=%s", env, pgt_dbname);
    pgt_admin_exec("CREATE DATABASE %s", pgt_dbname);
}

/* Creates and migrates test_<name>_<pid>, connects pgt_pg and makes pgt_base. */
static inline void
pgt_setup(const char *name)
{
    char err[512];
    int applied;

    pgt_create(name);
    if (migrate_run(pgt_conninfo, &applied, err, sizeof(err)) < 0)
        pgt_bail("migrate: %s", err);
    pgt_pg = PQconnectdb(pgt_conninfo);
    if (PQstatus(pgt_pg) != CONNECTION_OK)
        pgt_bail("connect: %s", PQerrorMessage(pgt_pg));
    pgt_base = event_base_new();
}

/* Frees the loop and pgt_pg (when pgt_setup made them) and drops the database. */
static inline void
pgt_teardown(void)
{
    if (pgt_base != NULL)
        event_base_free(pgt_base);
    pgt_base = NULL;
    if (pgt_pg != NULL)
        PQfinish(pgt_pg);
    pgt_pg = NULL;
    pgt_admin_exec("DROP DATABASE %s WITH (FORCE)", pgt_dbname);
}

#endif
