/* passerelle's entry point: subcommands serve, migrate, version; the loop, signals and teardown. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <libxml/parser.h>

#include "admin.h"
#include "cli_import.h"
#include "app.h"
#include "atclient.h"
#include "config.h"
#include "db.h"
#include "domains.h"
#include "groupcommit.h"
#include "follow.h"
#include "followlist.h"
#include "unfollow.h"
#include "httpc.h"
#include "httpd.h"
#include "identity.h"
#include "inbox.h"
#include "linkhold.h"
#include "linkpage.h"
#include "ratelimit.h"
#include "keys.h"
#include "atdm.h"
#include "atfollow.h"
#include "atunfollow.h"
#include "bridgecheck.h"
#include "log.h"
#include "metrics.h"
#include "match.h"
#include "migrate.h"
#include "notice.h"
#include "queue.h"
#include "status.h"
#include "sweep.h"
#include "memberfollow.h"
#include "routes.h"
#include "remote.h"
#include "seal.h"
#include "workpool.h"
#include "xmalloc.h"

struct serve_state {
    struct app *app;
    struct memberfollow *relayfollow;  /* the relay actor's follows of members */
    struct memberfollow *bridgefollow; /* the bridge's follows of members (their moves) */
    struct bridgecheck *bridgecheck;   /* members' bridged identities (Bridgy Fed) */
    struct atfollow *atfollow;         /* follows on Bluesky in members' names; NULL without seal */
    struct atdm *atdm;                 /* Bluesky direct messages; NULL unless configured */
    struct event *sigterm, *sigint, *drain, *sweep;
    time_t stop_deadline;
    int stopping;
};

static void
usage_main(FILE *f)
{
    fprintf(f, "usage: passerelle <command> [options]\n\n"
               "commands:\n"
               "  serve     run the server\n"
               "  migrate   apply database migrations\n"
               "  admin     instances, members, queue, notice (see admin --help)\n"
               "  import    link an X archive to a member (--member acct:USER@HOST)\n"
               "  version   print the version\n\n"
               "Run 'passerelle <command> --help' for the options of a command.\n");
}

static void
usage_command(const char *cmd)
{
    if (strcmp(cmd, "serve") == 0)
        printf("usage: passerelle serve [-c FILE]\n\n"
               "Serves ActivityPub, WebFinger and the web pages. The database must be\n"
               "migrated first ('passerelle migrate'); the RSA key is created on first start.\n"
               "SIGTERM or SIGINT stops accepting, finishes requests in flight, and exits 0.\n\n");
    else if (strcmp(cmd, "migrate") == 0)
        printf("usage: passerelle migrate [-c FILE]\n\n"
               "Applies the missing database migrations (this binary knows up to %d),\n"
               "each in its own transaction. Refuses a database newer than this binary.\n\n",
               migrate_latest());
    else
        printf("usage: passerelle version\n\nPrints the version.\n");
    if (strcmp(cmd, "version") != 0) {
        printf("options:\n  -c, --config FILE   configuration file (key = value)\n"
               "  -h, --help          this help\n\n");
        config_print_keys();
    }
}

/* Reads "-c FILE" and "--help"; returns 1 if help was printed, -1 on a usage error. */
static int
parse_options(const char *cmd, int argc, char **argv, const char **config_path)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage_command(cmd);
            return 1;
        }
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            *config_path = argv[++i];
            continue;
        }
        fprintf(stderr, "passerelle %s: unexpected argument \"%s\" (see --help)\n", cmd, argv[i]);
        return -1;
    }
    return 0;
}

static int
load_config(struct config *cfg, const char *path)
{
    char err[512];

    config_defaults(cfg);
    if (config_load(cfg, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "passerelle: configuration error: %s\n", err);
        log_error("config_invalid", "reason=%s", log_q(err));
        return -1;
    }
    if (*cfg->database_url == '\0') {
        fprintf(stderr, "passerelle: configuration error: database_url: not set "
                        "(set it in the file, PASSERELLE_DATABASE_URL or DATABASE_URL)\n");
        return -1;
    }
    return 0;
}

static void
serve_stop(struct serve_state *st, const char *why)
{
    struct timeval tick = { 0, 50 * 1000 };

    if (st->stopping)
        return;
    st->stopping = 1;
    log_info("shutdown_begin", "reason=%s in_flight=%d", why, httpd_in_flight(st->app->httpd));
    httpd_stop_accepting(st->app->httpd);
    st->stop_deadline = time(NULL) + st->app->cfg->shutdown_timeout;
    event_add(st->drain, &tick);
}

/* Polls until the requests in flight are answered or the deadline passes, then ends the loop. */
static void
serve_drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct serve_state *st = arg;
    struct timeval tick = { 0, 50 * 1000 };
    int left = httpd_in_flight(st->app->httpd);

    (void)fd;
    (void)what;
    if (left <= 0 || time(NULL) >= st->stop_deadline) {
        if (left > 0)
            log_warn("shutdown_timeout", "in_flight=%d", left);
        event_base_loopbreak(st->app->base);
        return;
    }
    event_add(st->drain, &tick);
}

static void
serve_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct serve_state *st = arg;

    (void)what;
    if (st->stopping) {
        /* A second signal means: do not wait for anything. */
        log_warn("shutdown_forced", "signal=%d", (int)sig);
        event_base_loopbreak(st->app->base);
        return;
    }
    serve_stop(st, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void
serve_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct serve_state *st = arg;
    struct timeval hour = { 3600, 0 };

    (void)fd;
    (void)what;
    sweep_run(st->app->db);
    event_add(st->sweep, &hour);
}

static void
serve_db_fatal(const char *why, void *arg)
{
    struct serve_state *st = arg;

    log_error("database_schema_mismatch", "reason=%s", log_q(why));
    fprintf(stderr, "passerelle: %s\n", why);
    st->app->exit_code = 1;
    serve_stop(st, "schema");
}

/* The list worker beside the follow worker: same grants, same poll and request budget. */
static int
serve_lists(struct app *app, const struct httpc_options *ho, char *err, size_t errlen)
{
    struct followlist_options lo = { 0 };

    lo.http = *ho;
    lo.poll_ms = app->cfg->follow_poll_ms;
    lo.api_limit = app->cfg->follow_api_limit;
    app->lists = followlist_new(app, &lo, err, errlen);
    if (app->lists == NULL)
        return -1;
    followlist_start(app->lists);
    return 0;
}

/*
 * The outbound side: one HTTP client for fetching remote actors, the resolver on it, and
 * the delivery queue (which has its own client, so deliveries never wait behind fetches).
 */
static int
serve_federation(struct app *app, char *err, size_t errlen)
{
    const struct config *cfg = app->cfg;
    char *ua = xasprintf("passerelle/%s (+%s)", PASSERELLE_VERSION, cfg->base_url);
    struct httpc_options ho = { 0 };
    struct remote_options ro = { 0 };
    struct queue_options qo = { 0 };

    ho.user_agent = ua;
    ho.allow_loopback = cfg->allow_private_fetch;
    app->httpc = httpc_new(app->base, &ho, err, errlen);
    if (app->httpc == NULL) {
        free(ua);
        return -1;
    }
    ro.key = app->key;
    ro.key_id = app->relay_key_id;
    ro.deadline_ms = cfg->key_fetch_timeout * 1000L;
    /* Requests waiting for keys never take more than a quarter (one host) or half (all) of
     * the connections, whatever the caps say. */
    ro.max_per_host = cfg->key_fetch_max_per_host < cfg->max_connections / 4
                          ? cfg->key_fetch_max_per_host
                          : cfg->max_connections / 4;
    ro.max_total = cfg->key_fetch_max < cfg->max_connections / 2 ? cfg->key_fetch_max
                                                                 : cfg->max_connections / 2;
    ro.backoff_seconds = cfg->key_fetch_backoff;
    ro.refusal_ttl_seconds = cfg->key_fetch_refusal_ttl;
    app->remote = remote_new(app->base, app->db, app->httpc, &ro);
    qo.http = ho;
    qo.http.max_per_host = cfg->queue_max_per_host;
    qo.relay_key_id = app->relay_key_id;
    qo.bridge_key_id = app->bridge_key_id;
    qo.standin_key_prefix = app->standin_prefix;
    qo.max_in_flight = cfg->queue_max_in_flight;
    qo.sign_threads = cfg->sign_threads;
    qo.poll_ms = cfg->queue_poll_ms;
    qo.backoff_unit_ms = cfg->queue_backoff_unit_ms;
    qo.claim_ms = cfg->queue_claim_ms;
    app->queue = queue_new(app->base, app->db, app->key, &qo, err, errlen);
    if (app->queue == NULL) {
        free(ua);
        return -1;
    }
    if (app->seal != NULL) {
        struct follow_options fo = { 0 };
        struct identity_options io = { 0 };

        /* Bluesky sign-in: handles and DIDs resolved both ways before anyone is redirected. */
        io.plc_url = cfg->plc_url;
        io.dns_server = cfg->atproto_dns_server;
        io.handle_origin = cfg->atproto_handle_origin;
        io.user_agent = ua;
        io.allow_private = cfg->allow_private_fetch;
        app->identity = identity_new(app->base, &io, err, errlen);
        if (app->identity == NULL) {
            free(ua);
            return -1;
        }

        fo.http = ho;
        fo.poll_ms = cfg->follow_poll_ms;
        fo.daily_limit = cfg->follow_daily_limit;
        fo.api_limit = cfg->follow_api_limit;
        fo.backoff_unit_ms = cfg->queue_backoff_unit_ms;
        app->follow = follow_new(app, &fo, err, errlen);
        if (app->follow == NULL) {
            free(ua);
            return -1;
        }
        follow_start(app->follow);
        app->unfollow = unfollow_new(app, &fo, err, errlen);
        if (app->unfollow == NULL) {
            free(ua);
            return -1;
        }
        unfollow_start(app->unfollow);
        if (serve_lists(app, &ho, err, errlen) < 0) {
            free(ua);
            return -1;
        }
    }
    free(ua);
    inbox_metrics_describe();
    queue_start(app->queue);
    return 0;
}

/*
 * The key that seals OAuth secrets. Without token_key_file the bridge runs, but nobody can
 * let it follow in their name; a key file that is set but unusable stops the start.
 */
static int
serve_token_key(struct app *app)
{
    char err[512];

    if (*app->cfg->token_key_file == '\0') {
        log_warn("oauth_off", "reason=%s",
                 log_q("token_key_file is not set: following in members' names is off"));
        return 0;
    }
    app->seal = seal_load(app->cfg->token_key_file, err, sizeof(err));
    if (app->seal == NULL) {
        fprintf(stderr, "passerelle: token_key_file: %s\n", err);
        log_error("token_key_failed", "reason=%s", log_q(err));
        return -1;
    }
    return 0;
}

static int
cmd_serve(const char *config_path)
{
    struct config cfg;
    struct app app;
    struct serve_state st;
    char err[512];

    memset(&app, 0, sizeof(app));
    memset(&st, 0, sizeof(st));
    if (load_config(&cfg, config_path) < 0)
        return 1;
    app.cfg = &cfg;
    app.started = time(NULL);
    app.key = keys_load_or_create(cfg.key_file, err, sizeof(err));
    if (app.key == NULL) {
        fprintf(stderr, "passerelle: key_file: %s\n", err);
        log_error("key_failed", "reason=%s", log_q(err));
        config_free(&cfg);
        return 1;
    }
    app.public_pem = keys_public_pem(app.key);
    app_init_ids(&app);
    if (serve_token_key(&app) < 0) {
        app_free_ids(&app);
        config_free(&cfg);
        return 1;
    }
    metrics_describe("passerelle_db_up", METRICS_GAUGE, "1 when a database connection is up.");
    metrics_describe("passerelle_db_connections", METRICS_GAUGE, "Open database connections.");
    metrics_describe("passerelle_uptime_seconds", METRICS_GAUGE, "Seconds since start.");
    metrics_describe("passerelle_build_info", METRICS_GAUGE, "Version of this binary.");
    metrics_set("passerelle_build_info", "version=\"" PASSERELLE_VERSION "\"", 1);

    app.base = event_base_new();
    st.app = &app;
    app.httpd = httpd_new(&app, routes_dispatch, &app, err, sizeof(err));
    if (app.httpd == NULL) {
        fprintf(stderr, "passerelle: %s\n", err);
        log_error("listen_failed", "reason=%s", log_q(err));
        app.exit_code = 1;
        goto out;
    }
    app.db =
        db_new(app.base, cfg.database_url, cfg.db_pool_size, migrate_latest(), serve_db_fatal, &st);
    app.domains = domains_new(app.base, app.db, cfg.database_url);
    app.group = groupcommit_new(app.base, app.db);
    if (serve_federation(&app, err, sizeof(err)) < 0) {
        fprintf(stderr, "passerelle: %s\n", err);
        log_error("start_failed", "reason=%s", log_q(err));
        app.exit_code = 1;
        goto out;
    }
    st.relayfollow = memberfollow_new(&app, cfg.relay_follow_poll_ms, MEMBERFOLLOW_RELAY);
    memberfollow_start(st.relayfollow);
    st.bridgefollow = memberfollow_new(&app, cfg.relay_follow_poll_ms, MEMBERFOLLOW_BRIDGE);
    memberfollow_start(st.bridgefollow);
    app.match = match_new(&app);
    app.notice = notice_new(&app);
    st.bridgecheck = bridgecheck_new(&app);
    if (app.seal != NULL) {
        st.atfollow = atfollow_new(&app);
        app.atunfollow = atunfollow_new(&app);
    }
    st.atdm = atdm_new(&app);
    app.parses =
        workpool_new(app.base, cfg.archive_parsers, cfg.archive_parse_queue, err, sizeof(err));
    if (app.parses == NULL) {
        fprintf(stderr, "passerelle: %s\n", err);
        log_error("start_failed", "reason=%s", log_q(err));
        app.exit_code = 1;
        goto out;
    }
    app.uploads = ratelimit_new(cfg.archive_uploads_per_hour, 3600);
    app.app_password_tries = ratelimit_new(cfg.app_password_signins_per_hour, 3600);
    app.signin_addrs = ratelimit_new(cfg.signin_per_address, 60);
    app.signin_hosts = ratelimit_new(cfg.signin_per_host, 60);
    httpd_set_upload_hold(app.httpd, linkhold_check, &app);
    linkpage_metrics_describe();
    st.sigterm = evsignal_new(app.base, SIGTERM, serve_signal_cb, &st);
    st.sigint = evsignal_new(app.base, SIGINT, serve_signal_cb, &st);
    st.drain = evtimer_new(app.base, serve_drain_cb, &st);
    st.sweep = evtimer_new(app.base, serve_sweep_cb, &st);
    {
        struct timeval first = { 60, 0 };

        event_add(st.sweep, &first);
    }
    event_add(st.sigterm, NULL);
    event_add(st.sigint, NULL);
    log_info("listening", "addr=%s port=%d base_url=%s tls=%s", cfg.listen_addr,
             httpd_port(app.httpd), cfg.base_url, *cfg.tls_cert ? "on" : "off");
    event_base_dispatch(app.base);
    log_info("shutdown_done", "exit_code=%d", app.exit_code);

out:
    /*
     * Teardown, all of it, so leak checkers stay quiet. The pool goes first:
     * its pending callbacks answer their requests (503), which must still
     * exist, and evhttp frees every request it holds.
     */
    workpool_free(app.parses); /* parses still running end; their requests are dropped */
    ratelimit_free(app.uploads);
    ratelimit_free(app.app_password_tries);
    ratelimit_free(app.signin_addrs);
    ratelimit_free(app.signin_hosts);
    match_free(app.match);
    notice_free(app.notice);
    bridgecheck_free(st.bridgecheck);
    atfollow_free(st.atfollow);
    atunfollow_free(app.atunfollow);
    atdm_free(st.atdm);
    status_shutdown();
    memberfollow_free(st.relayfollow);
    memberfollow_free(st.bridgefollow);
    remote_free(app.remote);
    unfollow_free(app.unfollow);
    followlist_free(app.lists);
    follow_free(app.follow);
    queue_free(app.queue);
    identity_free(app.identity);
    httpc_free(app.httpc);
    domains_free(app.domains);
    groupcommit_free(app.group); /* activities not yet in a transaction: 503 */
    db_free(app.db);
    app.db = NULL;
    httpd_free(app.httpd);
    if (st.sigterm)
        event_free(st.sigterm);
    if (st.sigint)
        event_free(st.sigint);
    if (st.drain)
        event_free(st.drain);
    if (st.sweep)
        event_free(st.sweep);
    event_base_free(app.base);
    seal_free(app.seal);
    atclient_free(app.atclient);
    app_free_ids(&app);
    config_free(&cfg);
    metrics_free();
    return app.exit_code;
}

static int
cmd_migrate(const char *config_path)
{
    struct config cfg;
    char err[1024];
    int applied = 0, rc = 0;

    if (load_config(&cfg, config_path) < 0)
        return 1;
    if (migrate_run(cfg.database_url, &applied, err, sizeof(err)) < 0) {
        fprintf(stderr, "passerelle migrate: %s\n", err);
        log_error("migrate_failed", "reason=%s", log_q(err));
        rc = 1;
    } else {
        log_info("migrate_done", "applied=%d version=%d", applied, migrate_latest());
        printf("migrations applied: %d; schema version %d\n", applied, migrate_latest());
    }
    config_free(&cfg);
    return rc;
}

int
main(int argc, char **argv)
{
    const char *config_path = NULL;
    const char *cmd;
    int rc, help;

    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage_main(stderr);
        return 2;
    }
    cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            usage_command("version");
            return 0;
        }
        printf("passerelle %s\n", PASSERELLE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "admin") == 0)
        return admin_main(NULL, argc - 2, argv + 2);
    if (strcmp(cmd, "import") == 0) {
        xmlInitParser();
        rc = cli_import_main(argc - 2, argv + 2);
        xmlCleanupParser();
        libevent_global_shutdown();
        return rc;
    }
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "migrate") != 0) {
        fprintf(stderr, "passerelle: unknown command \"%s\"\n\n", cmd);
        usage_main(stderr);
        return 2;
    }
    help = parse_options(cmd, argc - 2, argv + 2, &config_path);
    if (help != 0)
        return help > 0 ? 0 : 2;

    xmlInitParser();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = strcmp(cmd, "serve") == 0 ? cmd_serve(config_path) : cmd_migrate(config_path);
    curl_global_cleanup();
    xmlCleanupParser();
    libevent_global_shutdown();
    return rc;
}
