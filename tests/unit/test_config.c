/* Unit tests for server/config.c: defaults, file parsing, environment overrides, validation. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

static char dir[] = "/tmp/passerelle-config-XXXXXX";

static const char *
write_file(const char *name, const char *text)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

int
main(void)
{
    struct config cfg;
    char err[512];
    const char *p;

    if (mkdtemp(dir) == NULL)
        return 1;
    unsetenv("DATABASE_URL");

    config_defaults(&cfg);
    ok(config_validate(&cfg, err, sizeof(err)) == 0, "defaults validate");
    is_str(cfg.base_url, "http://127.0.0.1:8080", "base_url defaults to the listen address");
    is_str(cfg.host, "127.0.0.1:8080", "host derived with its port");
    is_int(cfg.listen_port, 8080, "default port");
    is_int(cfg.reuse_port, 0, "reuse_port off by default (a busy port fails the start)");
    is_str(cfg.bridge_username, "passerelle", "default bridge name");
    is_int((long long)cfg.max_body_bytes, 1048576, "default body cap");
    is_str(cfg.relay_mode, "open", "relay_mode defaults to open");
    is_str(cfg.relay_allow, "", "relay_allow empty by default");
    is_str(cfg.relay_block, "", "relay_block empty by default");
    is_int(cfg.queue_max_per_host, 8, "queue_max_per_host default");
    is_int(cfg.queue_max_in_flight, 400, "queue_max_in_flight default");
    is_int(cfg.sign_threads, 0, "sign_threads default: one per core");
    is_int(cfg.queue_max_answers_per_host, 1000, "queue_max_answers_per_host default");
    is_int(cfg.queue_poll_ms, 1000, "queue_poll_ms default");
    is_int(cfg.queue_backoff_unit_ms, 1000, "queue_backoff_unit_ms default");
    is_str(cfg.token_key_file, "", "no token_key_file by default (following in names is off)");
    is_int(cfg.follow_poll_ms, 5000, "follow_poll_ms default");
    is_int(cfg.follow_daily_limit, 400, "follow_daily_limit default: Mastodon's 400 a day");
    is_int(cfg.follow_api_limit, 300, "follow_api_limit default: Mastodon's 300 per 5 minutes");
    is_str(cfg.bridge_ap_domain, "ap.brid.gy", "Bridgy Fed's domain for fediverse accounts");
    ok(config_set(&cfg, "test_host_names", "dora.example=127.0.0.1:9", err, sizeof(err)) == 0 &&
           config_validate(&cfg, err, sizeof(err)) < 0 && strstr(err, "test_host_names") != NULL,
       "test_host_names refused without allow_private_fetch");
    ok(config_set(&cfg, "allow_private_fetch", "true", err, sizeof(err)) == 0 &&
           config_validate(&cfg, err, sizeof(err)) == 0,
       "test_host_names with allow_private_fetch (tests)");
    config_free(&cfg);

    p = write_file("relay.conf", "relay_mode = allowlist\n"
                                 "relay_allow = A.Example, b.example:8443\n"
                                 "relay_block = \"  Evil.Example   worse.example \"\n"
                                 "queue_max_per_host = 2\nqueue_max_in_flight = 50\n"
                                 "queue_poll_ms = 20\nqueue_backoff_unit_ms = 1\n");
    config_defaults(&cfg);
    ok(config_load(&cfg, p, err, sizeof(err)) == 0, "relay and queue keys load: %s", err);
    is_str(cfg.relay_mode, "allowlist", "relay_mode allowlist");
    is_str(cfg.relay_allow, "a.example b.example:8443", "relay_allow normalized");
    is_str(cfg.relay_block, "evil.example worse.example", "relay_block normalized");
    is_int(cfg.queue_max_per_host, 2, "queue_max_per_host set");
    is_int(cfg.queue_max_in_flight, 50, "queue_max_in_flight set");
    is_int(cfg.queue_poll_ms, 20, "queue_poll_ms set");
    is_int(cfg.queue_backoff_unit_ms, 1, "queue_backoff_unit_ms set");
    config_free(&cfg);
    setenv("PASSERELLE_RELAY_BLOCK", "env.example", 1);
    config_defaults(&cfg);
    ok(config_load(&cfg, p, err, sizeof(err)) == 0, "relay_block from the environment");
    is_str(cfg.relay_block, "env.example", "environment wins for lists too");
    config_free(&cfg);
    unsetenv("PASSERELLE_RELAY_BLOCK");
    unlink(p);

    p = write_file("good.conf", "# comment\n\nlisten_port = 9001\n  base_url = "
                                "https://Bridge.Example/ \ninstance_name = \" spaced \"\n"
                                "allow_private_fetch = yes\n");
    config_defaults(&cfg);
    ok(config_load(&cfg, p, err, sizeof(err)) == 0, "a good file loads: %s", err);
    is_int(cfg.listen_port, 9001, "file sets a number");
    is_str(cfg.base_url, "https://Bridge.Example", "trailing slash removed");
    is_str(cfg.host, "bridge.example", "host lower-cased");
    is_str(cfg.instance_name, " spaced ", "quotes keep spaces");
    is_int(cfg.allow_private_fetch, 1, "boolean yes");
    config_free(&cfg);

    p = write_file("v6.conf", "listen_addr = ::1\nlisten_port = 9003\n");
    config_defaults(&cfg);
    ok(config_load(&cfg, p, err, sizeof(err)) == 0, "an IPv6 listen address loads: %s", err);
    is_str(cfg.base_url, "http://[::1]:9003", "the default base_url brackets an IPv6 address");
    config_free(&cfg);

    setenv("PASSERELLE_LISTEN_PORT", "9002", 1);
    setenv("DATABASE_URL", "dbname=x", 1);
    config_defaults(&cfg);
    ok(config_load(&cfg, p, err, sizeof(err)) == 0, "env applies");
    is_int(cfg.listen_port, 9002, "environment wins over the file");
    is_str(cfg.database_url, "dbname=x", "DATABASE_URL sets database_url");
    config_free(&cfg);
    setenv("PASSERELLE_DATABASE_URL", "dbname=y", 1);
    config_defaults(&cfg);
    ok(config_load(&cfg, NULL, err, sizeof(err)) == 0, "env only");
    is_str(cfg.database_url, "dbname=y", "PASSERELLE_DATABASE_URL wins over DATABASE_URL");
    config_free(&cfg);
    unsetenv("PASSERELLE_DATABASE_URL");
    unsetenv("DATABASE_URL");

    setenv("PASSERELLE_LISTEN_PORT", "eighty", 1);
    config_defaults(&cfg);
    ok(config_load(&cfg, NULL, err, sizeof(err)) < 0, "bad env value refused");
    ok(strstr(err, "PASSERELLE_LISTEN_PORT") != NULL && strstr(err, "listen_port") != NULL,
       "the error names the variable and the key: %s", err);
    config_free(&cfg);
    unsetenv("PASSERELLE_LISTEN_PORT");

    struct {
        const char *text, *key;
    } bad[] = {
        { "listen_prot = 80\n", "listen_prot" },
        { "listen_port = 70000\n", "listen_port" },
        { "listen_port = 80x\n", "listen_port" },
        { "listen_port\n", "key = value" },
        { "db_pool_size = 0\n", "db_pool_size" },
        { "log_level = loud\n", "log_level" },
        { "base_url = ftp://x\n", "base_url" },
        { "base_url = https://x/path\n", "base_url" },
        { "base_url = https://u@x\n", "base_url" },
        { "base_url = https://x?q\n", "base_url" },
        { "base_url = https://x#f\n", "base_url" },
        { "base_url = https://x:0\n", "base_url" },
        { "base_url = https://a\"b\n", "base_url" },
        { "bridge_username = has space\n", "bridge_username" },
        { "bridge_username = relay\n", "bridge_username" },
        { "tls_cert = /x.pem\n", "tls_key" },
        { "allow_private_fetch = maybe\n", "allow_private_fetch" },
        { "max_body_bytes = 10\n", "max_body_bytes" },
        { "relay_mode = closed\n", "relay_mode" },
        { "relay_allow = https://a.example\n", "relay_allow" },
        { "relay_block = good.example, bad/path\n", "relay_block" },
        { "relay_block = a.example:99999\n", "relay_block" },
        { "queue_max_per_host = 0\n", "queue_max_per_host" },
        { "queue_max_in_flight = 0\n", "queue_max_in_flight" },
        { "sign_threads = 65\n", "sign_threads" },
        { "queue_poll_ms = 1\n", "queue_poll_ms" },
        { "queue_backoff_unit_ms = 0\n", "queue_backoff_unit_ms" },
        { "follow_poll_ms = 5\n", "follow_poll_ms" },
        { "follow_daily_limit = 0\n", "follow_daily_limit" },
        { "follow_api_limit = 1\n", "follow_api_limit" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = write_file("bad.conf", bad[i].text);
        config_defaults(&cfg);
        err[0] = '\0';
        ok(config_load(&cfg, p, err, sizeof(err)) < 0 && strstr(err, bad[i].key) != NULL,
           "refused, naming %s: %s", bad[i].key, err);
        config_free(&cfg);
    }
    config_defaults(&cfg);
    ok(config_load(&cfg, "/nonexistent/x.conf", err, sizeof(err)) < 0, "missing file refused");
    config_free(&cfg);

    unlink(write_file("good.conf", ""));
    unlink(write_file("bad.conf", ""));
    rmdir(dir);
    return done_testing();
}
