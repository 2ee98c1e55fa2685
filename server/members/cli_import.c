/* passerelle import: an X archive (zip or loose .js files) for a member, from the terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "app.h"
#include "cli_import.h"
#include "config.h"
#include "db.h"
#include "import.h"
#include "log.h"
#include "migrate.h"
#include "xmalloc.h"

/* What the loop hands back once the member is found and the archive stored. */
struct cli_import {
    struct app *app;
    struct import_data *data;
    const char *member; /* as typed: acct:user@host, user@host or an actor URL */
    int tty;
    int done, rc;
};

static void
cli_import_usage(FILE *f)
{
    fprintf(f, "usage: passerelle import [-c FILE] --member acct:USER@HOST ARCHIVE.zip\n"
               "       passerelle import [-c FILE] --member acct:USER@HOST FILE.js...\n\n"
               "Links an X archive to a member, as the link page does: the archive is read\n"
               "(only account.js, manifest.js and the follower and following lists), the X\n"
               "account is claimed and the member's edges are replaced. The member must have\n"
               "followed the bridge account first. A newer archive replaces an older one.\n\n"
               "options:\n  -c, --config FILE   configuration file\n"
               "  -m, --member WHO    acct:user@host, user@host or the actor's URL\n"
               "  -h, --help          this help\n");
}

/* A bar on a terminal; nothing in between otherwise (the last line says what was stored). */
static void
cli_import_progress(size_t done, size_t total, void *arg)
{
    char bar[31];
    size_t fill = total > 0 ? done * 30 / total : 30;

    (void)arg;
    memset(bar, '#', fill);
    memset(bar + fill, ' ', 30 - fill);
    bar[30] = '\0';
    fprintf(stderr, "\rstoring [%s] %3zu%% %zu/%zu edges", bar, total ? done * 100 / total : 100,
            done, total);
}

static void
cli_import_stored(enum import_status st, const struct import_data *d, void *arg)
{
    struct cli_import *c = arg;

    if (c->tty)
        fprintf(stderr, "\r\033[K");
    switch (st) {
    case IMPORT_LINKED:
        printf("linked @%s (X id %llu): %zu followers, %zu following\n", d->result.account.username,
               (unsigned long long)d->result.account.account_id, d->nfollowers, d->nfollowing);
        c->rc = 0;
        break;
    case IMPORT_DISPUTED:
        fprintf(stderr,
                "passerelle import: another member claims @%s: both are frozen and were told\n",
                d->result.account.username);
        c->rc = 1;
        break;
    default:
        fprintf(stderr, "passerelle import: %s: nothing was changed\n", import_status_name(st));
        c->rc = 1;
        break;
    }
    c->done = 1;
    event_base_loopbreak(c->app->base);
}

static void
cli_import_member_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct cli_import *c = arg;

    if (outcome != DB_OK || PQntuples(res) != 1) {
        fprintf(stderr, "passerelle import: %s\n",
                outcome != DB_OK      ? (err ? err : "database unavailable")
                : PQntuples(res) == 0 ? "no such member (they must follow the bridge account first)"
                                      : "several members match; give the actor's URL");
        PQclear(res);
        import_data_free(c->data);
        free(c->data);
        c->data = NULL;
        c->rc = 1;
        c->done = 1;
        event_base_loopbreak(c->app->base);
        return;
    }
    if (c->tty)
        c->data->progress = cli_import_progress;
    import_store(c->app, PQgetvalue(res, 0, 0), c->data, cli_import_stored, c);
    c->data = NULL; /* import_store owns it */
    PQclear(res);
}

static void
cli_import_db_fatal(const char *why, void *arg)
{
    struct cli_import *c = arg;

    fprintf(stderr, "passerelle import: %s\n", why);
    c->rc = 1;
    c->done = 1;
    event_base_loopbreak(c->app->base);
}

/* Finds the member and stores the archive, on a loop of its own, as the server would. */
static int
cli_import_store(struct config *cfg, struct import_data *d, const char *member, int tty)
{
    struct app app;
    struct cli_import c;
    const char *who = strncmp(member, "acct:", 5) == 0 ? member + 5 : member;
    const char *params[1] = { who };

    memset(&app, 0, sizeof(app));
    memset(&c, 0, sizeof(c));
    app.cfg = cfg;
    app_init_ids(&app);
    app.base = event_base_new();
    c.app = &app;
    c.data = d;
    c.member = member;
    c.tty = tty;
    c.rc = 1;
    app.db = db_new(app.base, cfg->database_url, 1, migrate_latest(), cli_import_db_fatal, &c);
    db_query(app.db,
             "SELECT id FROM members WHERE actor_uri = $1 OR lower(acct) = lower($1)"
             " OR lower(acct) = lower(ltrim($1, '@'))",
             1, params, cli_import_member_cb, &c);
    event_base_dispatch(app.base);
    db_free(app.db);
    if (c.data != NULL) {
        import_data_free(c.data);
        free(c.data);
    }
    event_base_free(app.base);
    app_free_ids(&app);
    return c.done ? c.rc : 1;
}

int
cli_import_main(int argc, char **argv)
{
    const char *config_path = NULL, *member = NULL;
    const char **files = xcalloc((size_t)argc + 1, sizeof(*files));
    size_t nfiles = 0;
    struct config cfg;
    struct import_data *d;
    char err[512];
    int rc, tty = isatty(STDERR_FILENO);

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            cli_import_usage(stdout);
            free(files);
            return 0;
        }
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
            config_path = argv[++i];
        else if ((strcmp(argv[i], "-m") == 0 || strcmp(argv[i], "--member") == 0) && i + 1 < argc)
            member = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "passerelle import: unknown option \"%s\" (see --help)\n", argv[i]);
            free(files);
            return 2;
        } else
            files[nfiles++] = argv[i];
    }
    if (member == NULL || nfiles == 0) {
        cli_import_usage(stderr);
        free(files);
        return 2;
    }
    config_defaults(&cfg);
    if (config_load(&cfg, config_path, err, sizeof(err)) < 0 || *cfg.database_url == '\0') {
        fprintf(stderr, "passerelle import: configuration error: %s\n",
                *cfg.database_url == '\0' ? "database_url: not set" : err);
        config_free(&cfg);
        free(files);
        return 1;
    }
    d = xcalloc(1, sizeof(*d));
    if (tty)
        fprintf(stderr, "reading %s…", files[0]);
    rc = nfiles == 1 && strlen(files[0]) > 4 && strcmp(files[0] + strlen(files[0]) - 4, ".zip") == 0
             ? import_parse_zip_path(files[0], d, err, sizeof(err))
             : import_parse_files(files, nfiles, d, err, sizeof(err));
    if (tty)
        fprintf(stderr, "\r\033[K");
    if (rc < 0) {
        fprintf(stderr, "passerelle import: %s\n", err);
        free(d);
        config_free(&cfg);
        free(files);
        return 1;
    }
    printf("read @%s: %zu followers, %zu following\n", d->result.account.username, d->nfollowers,
           d->nfollowing);
    fflush(stdout);
    rc = cli_import_store(&cfg, d, member, tty);
    config_free(&cfg);
    free(files);
    return rc;
}
