/* The process-wide context handed to every handler: loop, config, database, keys. */
#ifndef PASSERELLE_APP_H
#define PASSERELLE_APP_H

#include <time.h>
#include <openssl/evp.h>

struct event_base;
struct config;
struct httpd;
struct db;
struct httpc;
struct remote;
struct queue;
struct seal;
struct follow;
struct unfollow;
struct atunfollow;
struct followlist;
struct match;
struct notice;
struct ratelimit;
struct workpool;
struct domains;
struct atclient;
struct identity;
struct groupcommit;

struct app {
    struct event_base *base;
    struct config *cfg;
    struct httpd *httpd;
    struct db *db;             /* NULL only in unit tests that need no database */
    struct domains *domains;   /* the admin's blocks and allows in memory; NULL: ask db */
    struct groupcommit *group; /* verified activities share transactions; NULL: one each */
    EVP_PKEY *key;             /* the server's RSA-2048 key, shared by its actors */
    char *public_pem;          /* SPKI PEM of key */
    char *relay_id;            /* <base>/actor */
    char *bridge_id;           /* <base>/users/<bridge_username> */
    char *relay_key_id;        /* relay_id#main-key */
    char *bridge_key_id;       /* bridge_id#main-key */
    char *standin_prefix;      /* <base>/x/: a stand-in actor's id is this and an X id */
    struct httpc *httpc;       /* outbound fetches (remote actors); NULL in unit tests */
    struct remote *remote;     /* remote actors and keys */
    struct queue *queue;       /* outbound deliveries */
    struct seal *seal;         /* token_key_file: seals OAuth secrets; NULL when not configured */
    struct follow *follow;     /* follows in members' names; NULL without seal or in unit tests */
    struct unfollow *unfollow; /* follows the members undid; NULL as follow is */
    struct atunfollow *atunfollow; /* Bluesky follows the members undid; NULL without seal */
    struct followlist *lists;      /* those follows' list on the member's server; NULL likewise */
    struct match *match;           /* re-plans members' former contacts; NULL outside serve */
    struct notice *notice;         /* daily direct messages about them; NULL outside serve */
    struct workpool *parses;       /* archive uploads are parsed here; NULL outside serve */
    struct ratelimit *uploads;     /* archive uploads per member per hour; NULL outside serve */
    struct ratelimit *app_password_tries; /* per address per hour; NULL outside serve */
    struct ratelimit *signin_addrs; /* web sign-ins per client address per minute; NULL: none */
    struct ratelimit *signin_hosts; /* web sign-ins asking one server per minute; NULL: none */
    struct atclient *atclient;      /* the atproto OAuth client's key once loaded (atclient_load) */
    struct identity *identity;      /* handles and DIDs (Bluesky sign-in); NULL without seal */
    time_t started;
    int exit_code; /* what main returns once the loop ends */
};

/* Derives relay_id, bridge_id from cfg; key and public_pem are set by the caller. */
void app_init_ids(struct app *app);
/* Frees what app_init_ids and the caller stored (key, public_pem, ids). */
void app_free_ids(struct app *app);
/*
 * 1 when "Verify with X" is offered: the operator configured an X app (x_client_id) and
 * token_key_file (which seals the PKCE verifier). The link page's state and xverify.c ask.
 */
int app_x_verify_offered(const struct app *app);

#endif
