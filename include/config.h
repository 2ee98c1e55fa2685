/* Configuration: defaults, a key = value file, PASSERELLE_* environment overrides, validation. */
#ifndef PASSERELLE_CONFIG_H
#define PASSERELLE_CONFIG_H

#include <stddef.h>

struct config {
    char *listen_addr;                 /* listen_addr: IP to bind */
    int listen_port;                   /* listen_port */
    int reuse_port;                    /* reuse_port: SO_REUSEPORT, several processes on one port */
    char *base_url;                    /* base_url: public origin, no trailing slash */
    char *host;                        /* derived: host[:port] of base_url, for acct: */
    char *database_url;                /* database_url, or DATABASE_URL */
    int db_pool_size;                  /* db_pool_size */
    char *key_file;                    /* key_file: RSA private key (PEM), created on first start */
    char *bridge_username;             /* bridge_username: the bridge account's name */
    char *bridge_display_name;         /* bridge_display_name */
    char *tls_cert;                    /* tls_cert: PEM certificate chain (optional) */
    char *tls_key;                     /* tls_key: PEM private key (optional) */
    size_t max_body_bytes;             /* max_body_bytes */
    size_t max_archive_bytes;          /* max_archive_bytes: POST /link/archive only */
    int archive_parsers;               /* archive_parsers: threads parsing uploaded archives */
    int archive_parse_queue;           /* archive_parse_queue: uploads waiting for a parser */
    int archive_uploads_per_hour;      /* archive_uploads_per_hour: per member */
    int app_password_signins_per_hour; /* per client address (IPv6: per /64) */
    int signin_per_address;            /* signin_per_address: POST /signin per client per minute */
    int signin_per_host;               /* signin_per_host: sign-ins asking one server per minute */
    size_t max_header_bytes;           /* max_header_bytes */
    int max_headers;                   /* max_headers */
    int request_timeout;        /* request_timeout: seconds of silence before a connection is cut */
    int header_timeout;         /* header_timeout: seconds for a request head, first byte to end */
    int body_timeout;           /* body_timeout: seconds for a body, end of head to end */
    int max_connections;        /* max_connections: open client connections */
    int shutdown_timeout;       /* shutdown_timeout: seconds to finish in-flight work */
    char *log_level;            /* log_level */
    char *metrics_token;        /* metrics_token: bearer token for /metrics, empty = open */
    char *instance_name;        /* instance_name: shown on / and in NodeInfo */
    char *instance_description; /* instance_description */
    char *admin_contact;        /* admin_contact */
    int allow_private_fetch;    /* allow_private_fetch: tests only, lets fetches reach loopback */
    char *relay_mode;           /* relay_mode: "open" or "allowlist" (subscriptions wait) */
    char *relay_allow;          /* relay_allow: domains, normalized to "a.example b.example" */
    char *relay_block;          /* relay_block: domains refused (and their subdomains) */
    int key_fetch_timeout;      /* key_fetch_timeout: seconds an inbox request waits for a key */
    int key_fetch_max_per_host; /* key_fetch_max_per_host: requests waiting on one key host */
    int key_fetch_max;          /* key_fetch_max: requests waiting on the network for keys */
    int key_fetch_backoff;      /* key_fetch_backoff: seconds a timed-out key host is skipped */
    int key_fetch_refusal_ttl;  /* key_fetch_refusal_ttl: seconds a refused keyId is not asked */
    int queue_max_per_host;     /* queue_max_per_host: concurrent deliveries to one host */
    int queue_max_in_flight;    /* queue_max_in_flight: concurrent deliveries in all */
    int sign_threads;           /* sign_threads: threads signing deliveries (0: one per core) */
    int queue_max_answers_per_host; /* queue_max_answers_per_host: answers one host's
                                       activities may have stored at once */
    int queue_poll_ms;              /* queue_poll_ms: claim tick while idle */
    int queue_backoff_unit_ms; /* queue_backoff_unit_ms: retry delay unit (tests set it small) */
    int relay_follow_poll_ms;  /* relay_follow_poll_ms: the member follow reconcilers' tick */
    int follow_members;        /* follow_members: the bridge follows members to hear moves */
    int queue_claim_ms;        /* queue_claim_ms: lease on a claimed delivery row */
    char *token_key_file;      /* token_key_file: 64 hex digits sealing OAuth secrets; "" = off */
    int follow_poll_ms;        /* follow_poll_ms: how often the follow worker looks for due rows */
    int follow_daily_limit;    /* follow_daily_limit: follows per member per rolling 24 hours */
    int follow_api_limit;      /* follow_api_limit: API requests per member per 5 minutes */
    int match_poll_ms;         /* match_poll_ms: look for members due for matching */
    int follow_hold_hours;     /* follow_hold_hours: follows toward a new claim wait this long */
    int notice_poll_ms;        /* notice_poll_ms: look for members due for a notice */
    int notice_interval_hours; /* notice_interval_hours: at most one notice per member per this */
    char *x_client_id;         /* x_client_id: X API app for "Verify with X"; "" = not offered */
    char *x_client_secret;     /* x_client_secret: a confidential client's secret ("" = public) */
    char *x_authorize_url;     /* x_authorize_url: X's OAuth 2.0 authorization page */
    char *x_api_base;          /* x_api_base: X's API origin (token and users/me) */
    char *plc_url;             /* plc_url: the PLC directory (did:plc documents) */
    char *atproto_dns_server;  /* atproto_dns_server: IP[:port] for _atproto TXT; "" = system */
    char *atproto_handle_origin; /* atproto_handle_origin: tests only, see identity.h */
    int claims_per_member;       /* claims_per_member: new X ids one member may claim per day */
    int claims_per_instance;     /* claims_per_instance: new claims from one home host per day */
    int standin_requires_verification; /* only claims verified with X show a stand-in */
    int report_hold_threshold;  /* report_hold_threshold: distinct reporters that hold a member */
    char *bridge_bsky_domain;   /* bridge_bsky_domain: Bridgy Fed's <handle>@DOMAIN ("" = none) */
    char *bridge_ap_domain;     /* bridge_ap_domain: Bridgy Fed's user.host.DOMAIN ("" = none) */
    char *test_host_names;      /* test_host_names: tests only, NAME=HOST:PORT for loopback */
    int bridge_poll_ms;         /* bridge_poll_ms: look for bridged identities to look up */
    int atproto_follow_poll_ms; /* atproto_follow_poll_ms: look for Bluesky follows due */
    int atproto_follow_batch;   /* atproto_follow_batch: records per applyWrites (<= 200) */
    int atproto_follow_hour_points; /* atproto_follow_hour_points: write points per hour */
    int atproto_follow_day_points;  /* atproto_follow_day_points: write points per day */
    char *bluesky_dm_handle; /* bluesky_dm_handle: the bridge's Bluesky account ("" = no DMs) */
    char *bluesky_dm_password_file; /* bluesky_dm_password_file: its app password, in a file */
    char *bluesky_dm_pds;           /* bluesky_dm_pds: its PDS's origin */
    char *bluesky_chat_service;     /* bluesky_chat_service: atproto-proxy for chat.bsky.* */
    int bluesky_dm_poll_ms;         /* bluesky_dm_poll_ms: look for direct messages to send */
};

/* Fills cfg with defaults. */
void config_defaults(struct config *cfg);

/*
 * Reads a key = value file into cfg (path may be NULL), then applies
 * PASSERELLE_<KEY> environment variables and DATABASE_URL, then validates.
 * On error returns -1 with a message naming the bad key in err.
 */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Sets one key from a string, as the file and environment do. */
int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Checks values that depend on each other and derives host. */
int config_validate(struct config *cfg, char *err, size_t errlen);

/* Prints every key with its description and default (for --help). */
void config_print_keys(void);

void config_free(struct config *cfg);

#endif
