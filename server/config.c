/* Configuration: a table of keys with defaults and bounds, read from a file then the environment.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"
#include "policy.h"
#include "url.h"
#include "xmalloc.h"

enum config_type { CONFIG_STR, CONFIG_INT, CONFIG_SIZE, CONFIG_BOOL };

struct config_key {
    const char *name;
    enum config_type type;
    size_t offset;
    const char *def;
    long long min, max; /* for numbers */
    const char *help;
};

#define OFF(f) offsetof(struct config, f)

/* One row per key: the file, the environment and --help all read this table. */
static const struct config_key config_keys[] = {
    { "listen_addr", CONFIG_STR, OFF(listen_addr), "127.0.0.1", 0, 0, "IP address to listen on" },
    { "listen_port", CONFIG_INT, OFF(listen_port), "8080", 0, 65535,
      "TCP port (0 picks a free one)" },
    { "reuse_port", CONFIG_BOOL, OFF(reuse_port), "false", 0, 0,
      "share listen_port with other passerelle serve processes (SO_REUSEPORT, scale-out)" },
    { "base_url", CONFIG_STR, OFF(base_url), "", 0, 0,
      "public origin, e.g. https://bridge.example (default http://LISTEN_ADDR:PORT)" },
    { "database_url", CONFIG_STR, OFF(database_url), "", 0, 0,
      "libpq conninfo or postgres:// URL (also DATABASE_URL)" },
    { "db_pool_size", CONFIG_INT, OFF(db_pool_size), "4", 1, 64, "PostgreSQL connections" },
    { "key_file", CONFIG_STR, OFF(key_file), "var/passerelle.key", 0, 0,
      "RSA private key (PEM); created on first start" },
    { "bridge_username", CONFIG_STR, OFF(bridge_username), "passerelle", 0, 0,
      "the bridge account's name (@NAME@host)" },
    { "bridge_display_name", CONFIG_STR, OFF(bridge_display_name), "passerelle", 0, 0,
      "the bridge account's display name" },
    { "tls_cert", CONFIG_STR, OFF(tls_cert), "", 0, 0,
      "PEM certificate chain: serve https (with tls_key)" },
    { "tls_key", CONFIG_STR, OFF(tls_key), "", 0, 0, "PEM private key for tls_cert" },
    { "max_body_bytes", CONFIG_SIZE, OFF(max_body_bytes), "1048576", 1024, 1073741824LL,
      "largest request body accepted (except archive uploads)" },
    { "max_archive_bytes", CONFIG_SIZE, OFF(max_archive_bytes), "67108864", 1024, 1073741824LL,
      "largest X archive upload from the link page (only the files it needs travel)" },
    { "archive_parsers", CONFIG_INT, OFF(archive_parsers), "2", 1, 64,
      "threads that parse uploaded X archives" },
    { "archive_parse_queue", CONFIG_INT, OFF(archive_parse_queue), "4", 0, 1000,
      "uploads that may wait for a parser; beyond, 503 with Retry-After" },
    { "archive_uploads_per_hour", CONFIG_INT, OFF(archive_uploads_per_hour), "6", 0, 1000,
      "archives a member may upload per hour; beyond, 429 with Retry-After" },
    { "app_password_signins_per_hour", CONFIG_INT, OFF(app_password_signins_per_hour), "10", 0,
      1000, "Bluesky app password sign-ins tried per address (IPv6: per /64) per hour" },
    { "signin_per_address", CONFIG_INT, OFF(signin_per_address), "10", 0, 100000,
      "web sign-ins (POST /signin) one client address may start per minute; beyond, 429" },
    { "signin_per_host", CONFIG_INT, OFF(signin_per_host), "30", 0, 100000,
      "web sign-ins that may ask one fediverse server per minute; beyond, 429" },
    { "max_header_bytes", CONFIG_SIZE, OFF(max_header_bytes), "16384", 1024, 1048576,
      "largest request head (request line and headers)" },
    { "max_headers", CONFIG_INT, OFF(max_headers), "64", 8, 1000, "most request headers" },
    { "request_timeout", CONFIG_INT, OFF(request_timeout), "15", 1, 3600,
      "seconds a client may stay silent while sending a request or between requests" },
    { "header_timeout", CONFIG_INT, OFF(header_timeout), "10", 1, 3600,
      "seconds from a request's first byte to the end of its head, however slowly it trickles" },
    { "body_timeout", CONFIG_INT, OFF(body_timeout), "300", 1, 86400,
      "seconds from the end of a request's head to the end of its body" },
    { "max_connections", CONFIG_INT, OFF(max_connections), "20000", 16, 1000000,
      "open client connections; beyond it the oldest idle one is closed (or the new one)" },
    { "shutdown_timeout", CONFIG_INT, OFF(shutdown_timeout), "10", 0, 3600,
      "seconds to finish requests in flight on SIGTERM" },
    { "log_level", CONFIG_STR, OFF(log_level), "info", 0, 0, "debug, info, warn or error" },
    { "metrics_token", CONFIG_STR, OFF(metrics_token), "", 0, 0,
      "if set, /metrics needs Authorization: Bearer TOKEN; unset, only this machine gets it" },
    { "instance_name", CONFIG_STR, OFF(instance_name), "passerelle", 0, 0,
      "name shown on / and in NodeInfo" },
    { "instance_description", CONFIG_STR, OFF(instance_description),
      "A bridge that reconnects people who left X on the fediverse.", 0, 0,
      "description shown on / and in NodeInfo" },
    { "admin_contact", CONFIG_STR, OFF(admin_contact), "", 0, 0, "how to reach the operator" },
    { "allow_private_fetch", CONFIG_BOOL, OFF(allow_private_fetch), "false", 0, 0,
      "tests only: let outbound fetches reach loopback" },
    { "relay_mode", CONFIG_STR, OFF(relay_mode), "open", 0, 0,
      "open (any instance may subscribe) or allowlist (admin or relay_allow approves)" },
    { "relay_allow", CONFIG_STR, OFF(relay_allow), "", 0, 0,
      "domains approved in allowlist mode, comma- or space-separated (subdomains too)" },
    { "relay_block", CONFIG_STR, OFF(relay_block), "", 0, 0,
      "domains refused, comma- or space-separated (subdomains too; host:port exact)" },
    { "key_fetch_timeout", CONFIG_INT, OFF(key_fetch_timeout), "10", 1, 300,
      "seconds an inbox request waits for its signer's key, queued or fetching (then 503)" },
    { "key_fetch_max_per_host", CONFIG_INT, OFF(key_fetch_max_per_host), "128", 1, 100000,
      "inbox requests waiting on the network for keys of one host (beyond: 503 at once; "
      "never over a quarter of max_connections)" },
    { "key_fetch_max", CONFIG_INT, OFF(key_fetch_max), "1024", 1, 1000000,
      "inbox requests waiting on the network for keys, in all (beyond: 503 at once; never "
      "over half of max_connections)" },
    { "key_fetch_backoff", CONFIG_INT, OFF(key_fetch_backoff), "60", 1, 86400,
      "seconds a key host that timed out is not asked again (its keys get 503)" },
    { "key_fetch_refusal_ttl", CONFIG_INT, OFF(key_fetch_refusal_ttl), "30", 1, 86400,
      "seconds a keyId whose fetch was refused or unreachable is not fetched again" },
    { "queue_max_per_host", CONFIG_INT, OFF(queue_max_per_host), "8", 1, 1000,
      "concurrent deliveries to one host" },
    /*
     * A row holds its slot from its claim to its outcome written (the signing line, the POST,
     * a flush of up to 20 ms): about 80 ms in a fan-out. 200 slots held one process to 2,500
     * deliveries/s on two cores (39 % of their sign limit); 400 let it use both (57 %).
     */
    { "queue_max_in_flight", CONFIG_INT, OFF(queue_max_in_flight), "400", 1, 100000,
      "concurrent deliveries in all" },
    { "sign_threads", CONFIG_INT, OFF(sign_threads), "0", 0, 64,
      "threads that sign deliveries off the event loop; 0: one per core" },
    { "queue_max_answers_per_host", CONFIG_INT, OFF(queue_max_answers_per_host), "1000", 1, 1000000,
      "answers (Accepts, Rejects, welcomes, replies) to one host's actors stored at once: "
      "beyond it what they send is still recorded, but not answered" },
    { "queue_poll_ms", CONFIG_INT, OFF(queue_poll_ms), "1000", 10, 3600000,
      "milliseconds between looks for due deliveries while idle" },
    { "queue_claim_ms", CONFIG_INT, OFF(queue_claim_ms), "90000", 100, 86400000,
      "lease on a claimed delivery: a process killed mid-send has its rows sent again after "
      "it (each POST is cut at half of it when it is under 60 s)" },
    { "queue_backoff_unit_ms", CONFIG_INT, OFF(queue_backoff_unit_ms), "1000", 1, 3600000,
      "retry n waits unit*(n^4+15) ms plus jitter (tests set it small)" },
    { "token_key_file", CONFIG_STR, OFF(token_key_file), "", 0, 0,
      "file of 64 hex digits (openssl rand -hex 32) sealing OAuth tokens; none: no follows "
      "in members' names" },
    { "follow_poll_ms", CONFIG_INT, OFF(follow_poll_ms), "5000", 10, 3600000,
      "milliseconds between looks for follows due in members' names" },
    { "follow_daily_limit", CONFIG_INT, OFF(follow_daily_limit), "400", 1, 100000,
      "follows made per member in any 24 hours (Mastodon allows 400 a day)" },
    { "follow_api_limit", CONFIG_INT, OFF(follow_api_limit), "300", 2, 100000,
      "API requests per member in each 5 minutes (Mastodon allows 300 per token)" },
    { "relay_follow_poll_ms", CONFIG_INT, OFF(relay_follow_poll_ms), "10000", 10, 3600000,
      "milliseconds between looks for members whose relay consent the relay actor's follow "
      "(or whose membership the bridge's follow) does not match yet (Follow or Undo to send)" },
    { "follow_members", CONFIG_BOOL, OFF(follow_members), "true", 0, 0,
      "the bridge follows each fediverse member so that it hears if they move (it reads "
      "nothing else); false undoes those follows" },
    { "match_poll_ms", CONFIG_INT, OFF(match_poll_ms), "1000", 10, 3600000,
      "milliseconds between looks for members whose former contacts must be re-planned" },
    { "follow_hold_hours", CONFIG_INT, OFF(follow_hold_hours), "24", 0, 8760,
      "hours follows toward a newly claimed X account are held (the dispute grace period)" },
    { "notice_poll_ms", CONFIG_INT, OFF(notice_poll_ms), "60000", 10, 3600000,
      "milliseconds between looks for members with news of former contacts" },
    { "notice_interval_hours", CONFIG_INT, OFF(notice_interval_hours), "24", 0, 8760,
      "at most one direct message about former contacts per member in this many hours" },
    { "x_client_id", CONFIG_STR, OFF(x_client_id), "", 0, 0,
      "OAuth 2.0 client id of an X API app: the link page offers \"Verify with X\" (needs "
      "token_key_file)" },
    { "x_client_secret", CONFIG_STR, OFF(x_client_secret), "", 0, 0,
      "its client secret when the app is a confidential client (none: a public client)" },
    { "x_authorize_url", CONFIG_STR, OFF(x_authorize_url), "https://x.com/i/oauth2/authorize", 0, 0,
      "X's OAuth 2.0 authorization page" },
    { "x_api_base", CONFIG_STR, OFF(x_api_base), "https://api.x.com", 0, 0,
      "X's API origin: /2/oauth2/token and /2/users/me" },
    { "plc_url", CONFIG_STR, OFF(plc_url), "https://plc.directory", 0, 0,
      "the PLC directory that resolves did:plc identities (Bluesky)" },
    { "atproto_dns_server", CONFIG_STR, OFF(atproto_dns_server), "", 0, 0,
      "IP[:port] of the DNS server asked for _atproto.<handle> TXT records (none: the first "
      "nameserver of /etc/resolv.conf)" },
    { "atproto_handle_origin", CONFIG_STR, OFF(atproto_handle_origin), "", 0, 0,
      "tests only (needs allow_private_fetch): fetch https://HANDLE/.well-known/atproto-did "
      "from this origin, with Host: HANDLE" },
    { "claims_per_member", CONFIG_INT, OFF(claims_per_member), "3", 1, 1000,
      "X ids one member may newly claim in any 24 hours (a re-upload of the same one is free)" },
    { "claims_per_instance", CONFIG_INT, OFF(claims_per_instance), "200", 1, 1000000,
      "X ids the members of one home instance may newly claim in any 24 hours" },
    { "standin_requires_verification", CONFIG_BOOL, OFF(standin_requires_verification), "false", 0,
      0, "only claims verified with X show a stand-in (@old_handle@bridge)" },
    { "bridge_bsky_domain", CONFIG_STR, OFF(bridge_bsky_domain), "bsky.brid.gy", 0, 0,
      "Bridgy Fed's domain for Bluesky accounts seen from the fediverse (<handle>@DOMAIN): "
      "fediverse members follow bridged Bluesky members there; empty: no bridge that way" },
    { "bridge_ap_domain", CONFIG_STR, OFF(bridge_ap_domain), "ap.brid.gy", 0, 0,
      "Bridgy Fed's domain for fediverse accounts seen from Bluesky (user.host.DOMAIN); empty: "
      "no bridge that way" },
    { "test_host_names", CONFIG_STR, OFF(test_host_names), "", 0, 0,
      "tests only (needs allow_private_fetch): NAME=HOST:PORT pairs, space separated; the "
      "fediverse server at HOST:PORT (loopback) is called NAME where a name without a port is "
      "needed (a fediverse member's Bridgy Fed handle)" },
    { "bridge_poll_ms", CONFIG_INT, OFF(bridge_poll_ms), "5000", 10, 3600000,
      "milliseconds between looks for members whose bridged identity must be looked up" },
    { "atproto_follow_poll_ms", CONFIG_INT, OFF(atproto_follow_poll_ms), "5000", 10, 3600000,
      "milliseconds between looks for follows due on Bluesky in members' names" },
    { "atproto_follow_batch", CONFIG_INT, OFF(atproto_follow_batch), "200", 1, 200,
      "follow records written per applyWrites (the PDS takes 200 at most)" },
    { "atproto_follow_hour_points", CONFIG_INT, OFF(atproto_follow_hour_points), "5000", 3,
      10000000, "write points per member in any hour, 3 a follow (Bluesky's PDSes allow 5000)" },
    { "atproto_follow_day_points", CONFIG_INT, OFF(atproto_follow_day_points), "35000", 3,
      100000000, "write points per member in any day, 3 a follow (Bluesky's PDSes allow 35000)" },
    { "bluesky_dm_handle", CONFIG_STR, OFF(bluesky_dm_handle), "", 0, 0,
      "the bridge's own Bluesky account (handle or DID): notices to Bluesky members go as its "
      "direct messages; empty: Bluesky members get no notice" },
    { "bluesky_dm_password_file", CONFIG_STR, OFF(bluesky_dm_password_file), "", 0, 0,
      "file holding that account's app password (made with access to direct messages)" },
    { "bluesky_dm_pds", CONFIG_STR, OFF(bluesky_dm_pds), "", 0, 0,
      "that account's PDS (its origin, e.g. https://bsky.social's entryway or its own PDS)" },
    { "bluesky_chat_service", CONFIG_STR, OFF(bluesky_chat_service),
      "did:web:api.bsky.chat#bsky_chat", 0, 0,
      "the chat service the PDS proxies chat.bsky.* calls to (its atproto-proxy header)" },
    { "bluesky_dm_poll_ms", CONFIG_INT, OFF(bluesky_dm_poll_ms), "5000", 10, 3600000,
      "milliseconds between looks for Bluesky direct messages to send" },
    { "report_hold_threshold", CONFIG_INT, OFF(report_hold_threshold), "3", 1, 1000,
      "reports from this many distinct members hold a member's follows and stand-in until an "
      "admin decides" },
};

#define NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const struct config_key *
config_find(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

static int
config_parse_number(const struct config_key *k, const char *value, long long *out, char *err,
                    size_t errlen)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0') {
        snprintf(err, errlen, "%s: \"%s\" is not a whole number", k->name, value);
        return -1;
    }
    if (v < k->min || v > k->max) {
        snprintf(err, errlen, "%s: %lld is out of range (%lld to %lld)", k->name, v, k->min,
                 k->max);
        return -1;
    }
    *out = v;
    return 0;
}

int
config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    const struct config_key *k = config_find(key);
    char *base = (char *)cfg;
    long long n;

    if (k == NULL) {
        snprintf(err, errlen, "%s: unknown configuration key", key);
        return -1;
    }
    switch (k->type) {
    case CONFIG_STR: {
        char **slot = (char **)(void *)(base + k->offset);

        free(*slot);
        *slot = xstrdup(value);
        return 0;
    }
    case CONFIG_INT:
        if (config_parse_number(k, value, &n, err, errlen) < 0)
            return -1;
        *(int *)(void *)(base + k->offset) = (int)n;
        return 0;
    case CONFIG_SIZE:
        if (config_parse_number(k, value, &n, err, errlen) < 0)
            return -1;
        *(size_t *)(void *)(base + k->offset) = (size_t)n;
        return 0;
    case CONFIG_BOOL:
        if (strcasecmp(value, "true") == 0 || strcasecmp(value, "yes") == 0 ||
            strcmp(value, "1") == 0 || strcasecmp(value, "on") == 0)
            *(int *)(void *)(base + k->offset) = 1;
        else if (strcasecmp(value, "false") == 0 || strcasecmp(value, "no") == 0 ||
                 strcmp(value, "0") == 0 || strcasecmp(value, "off") == 0)
            *(int *)(void *)(base + k->offset) = 0;
        else {
            snprintf(err, errlen, "%s: \"%s\" is not true or false", key, value);
            return -1;
        }
        return 0;
    }
    return -1;
}

void
config_defaults(struct config *cfg)
{
    char err[256];

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NKEYS; i++)
        if (config_set(cfg, config_keys[i].name, config_keys[i].def, err, sizeof(err)) < 0)
            abort(); /* a default outside its own bounds is a programming error */
}

static char *
config_trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int
config_read_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
    char line[4096], msg[512];
    FILE *f = fopen(path, "r");
    int lineno = 0;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s, *eq, *key, *value;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            fclose(f);
            return -1;
        }
        s = config_trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
            fclose(f);
            return -1;
        }
        *eq = '\0';
        key = config_trim(s);
        value = config_trim(eq + 1);
        /* Optional double quotes let a value keep leading or trailing spaces. */
        if (strlen(value) >= 2 && value[0] == '"' && value[strlen(value) - 1] == '"') {
            value[strlen(value) - 1] = '\0';
            value++;
        }
        if (config_set(cfg, key, value, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static int
config_read_env(struct config *cfg, char *err, size_t errlen)
{
    char name[128], msg[512];
    const char *v;

    if ((v = getenv("DATABASE_URL")) != NULL && *v != '\0')
        if (config_set(cfg, "database_url", v, err, errlen) < 0)
            return -1;
    for (size_t i = 0; i < NKEYS; i++) {
        size_t j;

        snprintf(name, sizeof(name), "PASSERELLE_%s", config_keys[i].name);
        for (j = 0; name[j] != '\0'; j++)
            name[j] = (char)toupper((unsigned char)name[j]);
        if ((v = getenv(name)) == NULL)
            continue;
        if (config_set(cfg, config_keys[i].name, v, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "environment %s: %s", name, msg);
            return -1;
        }
    }
    return 0;
}

static int
config_valid_username(const char *s)
{
    if (*s == '\0' || strlen(s) > 64)
        return 0;
    for (; *s != '\0'; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

/* Validated once here, so the matching on every inbox request walks a clean list. */
static int
config_normalize_list(const char *key, char **slot, char *err, size_t errlen)
{
    char msg[400], *norm;

    if (policy_list_normalize(*slot, &norm, msg, sizeof(msg)) < 0) {
        snprintf(err, errlen, "%s: %s", key, msg);
        return -1;
    }
    free(*slot);
    *slot = norm;
    return 0;
}

/* X's endpoints carry the member's authorization code and token: https, unless for tests. */
static int
config_validate_x(struct config *cfg, char *err, size_t errlen)
{
    const char *names[2] = { "x_authorize_url", "x_api_base" };
    char **slots[2] = { &cfg->x_authorize_url, &cfg->x_api_base };

    for (int i = 0; i < 2; i++) {
        char *v = *slots[i];
        size_t len = strlen(v);

        while (len > 0 && v[len - 1] == '/')
            v[--len] = '\0';
        if (strncmp(v, "https://", 8) != 0 &&
            !(cfg->allow_private_fetch && strncmp(v, "http://", 7) == 0)) {
            snprintf(err, errlen, "%s: must start with https://", names[i]);
            return -1;
        }
        if (strpbrk(v, " \t\"'<>?#") != NULL) {
            snprintf(err, errlen, "%s: not a plain URL", names[i]);
            return -1;
        }
    }
    if (strncmp(cfg->plc_url, "https://", 8) != 0 &&
        !(cfg->allow_private_fetch && strncmp(cfg->plc_url, "http://", 7) == 0)) {
        snprintf(err, errlen, "plc_url: must start with https://");
        return -1;
    }
    if (*cfg->atproto_handle_origin != '\0' && !cfg->allow_private_fetch) {
        snprintf(err, errlen, "atproto_handle_origin: for tests only, with allow_private_fetch");
        return -1;
    }
    if (*cfg->test_host_names != '\0' && !cfg->allow_private_fetch) {
        snprintf(err, errlen, "test_host_names: for tests only, with allow_private_fetch");
        return -1;
    }
    if (*cfg->x_client_secret != '\0' && *cfg->x_client_id == '\0') {
        snprintf(err, errlen, "x_client_secret: set x_client_id too");
        return -1;
    }
    return 0;
}

int
config_validate(struct config *cfg, char *err, size_t errlen)
{
    const char *b, *h;
    struct url u;
    char why[64];
    int defaulted;
    size_t len;

    if (log_set_level_name(cfg->log_level) < 0) {
        snprintf(err, errlen, "log_level: \"%s\" is not debug, info, warn or error",
                 cfg->log_level);
        return -1;
    }
    if (!config_valid_username(cfg->bridge_username)) {
        snprintf(err, errlen, "bridge_username: use 1 to 64 letters, digits, '_', '-' or '.'");
        return -1;
    }
    if (strcasecmp(cfg->bridge_username, "relay") == 0) {
        snprintf(err, errlen, "bridge_username: \"relay\" is the relay actor's name");
        return -1;
    }
    if ((*cfg->tls_cert == '\0') != (*cfg->tls_key == '\0')) {
        snprintf(err, errlen, "%s: tls_cert and tls_key go together",
                 *cfg->tls_cert ? "tls_key" : "tls_cert");
        return -1;
    }
    if (strcmp(cfg->relay_mode, "open") != 0 && strcmp(cfg->relay_mode, "allowlist") != 0) {
        snprintf(err, errlen, "relay_mode: \"%s\" is not open or allowlist", cfg->relay_mode);
        return -1;
    }
    if (config_normalize_list("relay_allow", &cfg->relay_allow, err, errlen) < 0 ||
        config_normalize_list("relay_block", &cfg->relay_block, err, errlen) < 0)
        return -1;
    if (*cfg->key_file == '\0') {
        snprintf(err, errlen, "key_file: must not be empty");
        return -1;
    }
    /* A default base_url is ours, and its port may be 0 until the kernel picks one. */
    defaulted = *cfg->base_url == '\0';
    if (defaulted) {
        int v6 = strchr(cfg->listen_addr, ':') != NULL; /* an IPv6 address needs brackets */

        free(cfg->base_url);
        cfg->base_url = xasprintf("%s://%s%s%s:%d", *cfg->tls_cert ? "https" : "http",
                                  v6 ? "[" : "", cfg->listen_addr, v6 ? "]" : "", cfg->listen_port);
    }
    b = cfg->base_url;
    len = strlen(b);
    while (len > 0 && b[len - 1] == '/')
        cfg->base_url[--len] = '\0';
    if (defaulted) {
        h = strstr(b, "://") + 3;
    } else if (url_split(b, &u, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "base_url: %s (an origin: https://host[:port])", why);
        return -1;
    } else if (u.path_len > 0 || u.query != NULL || u.fragment != NULL) {
        snprintf(err, errlen, "base_url: must be an origin only (scheme://host[:port])");
        return -1;
    } else {
        /* The authority as written (a written default port stays, as clients send it). */
        h = b + (u.https ? 8 : 7);
    }
    free(cfg->host);
    cfg->host = xstrdup(h);
    for (char *p = cfg->host; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return config_validate_x(cfg, err, errlen);
}

int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    if (path != NULL && config_read_file(cfg, path, err, errlen) < 0)
        return -1;
    if (config_read_env(cfg, err, errlen) < 0)
        return -1;
    return config_validate(cfg, err, errlen);
}

void
config_print_keys(void)
{
    printf("Configuration keys (file: key = value; environment: PASSERELLE_KEY):\n");
    for (size_t i = 0; i < NKEYS; i++)
        printf("  %-22s %s (default: %s)\n", config_keys[i].name, config_keys[i].help,
               *config_keys[i].def ? config_keys[i].def : "none");
}

void
config_free(struct config *cfg)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (config_keys[i].type == CONFIG_STR) {
            char **slot = (char **)(void *)((char *)cfg + config_keys[i].offset);

            free(*slot);
            *slot = NULL;
        }
    }
    free(cfg->host);
    cfg->host = NULL;
}
