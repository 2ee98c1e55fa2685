/* Drives the atproto pieces on a libevent loop for the Node tests: one command, one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "httpc.h"
#include "identity.h"
#include "jose.h"
#include "session.h"
#include "xrpc.h"

/*
 *   atproto_drive [options] resolve-handle HANDLE [HANDLE...]
 *   atproto_drive [options] resolve-did DID
 *   atproto_drive [options] xrpc SERVICE METHOD NSID [query=Q] [body=JSON] [bearer=T]
 *                 [header=LINE]
 *   atproto_drive [options] session-create SERVICE IDENTIFIER PASSWORD
 *   atproto_drive [options] session-refresh SERVICE REFRESH_JWT
 *   atproto_drive [options] session-call SERVICE ACCESS_JWT REFRESH_JWT METHOD NSID [query=Q]
 *                 [body=JSON]
 * Options: --plc URL, --dns IP:PORT, --handle-origin URL, --allow-private, --timeout MS.
 * Prints one JSON object per resolution on stdout, in the order they end: {subject, status, error,
 * did, handle, pds, signing_key, also_known_as (when ok)}. Exit 0 when every command ran
 * (whatever it found), 2 on bad usage.
 */

struct drive {
    struct event_base *base;
    int waiting;
};

/* One resolution: what was asked, for the output line (answers come in any order). */
struct ask {
    struct drive *d;
    const char *subject;
};

static void
put_str(struct json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v != NULL ? json_object_new_string(v) : NULL);
}

static void
print_done(struct drive *d, struct json_object *o)
{
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(stdout);
    json_object_put(o);
    if (--d->waiting == 0)
        event_base_loopbreak(d->base);
}

static void
on_identity(const struct identity_result *r, void *arg)
{
    struct ask *a = arg;
    struct json_object *o = json_object_new_object();

    put_str(o, "subject", a->subject);
    put_str(o, "status", identity_status_name(r->status));
    put_str(o, "error", r->error);
    put_str(o, "did", r->did);
    put_str(o, "handle", r->handle);
    put_str(o, "pds", r->pds);
    put_str(o, "signing_key", r->signing_key);
    if (r->status == IDENTITY_OK) {
        struct json_object *aka = json_object_new_array();

        for (size_t i = 0; i < r->n_also_known_as; i++)
            json_object_array_add(aka, json_object_new_string(r->also_known_as[i]));
        json_object_object_add(o, "also_known_as", aka);
    }
    print_done(a->d, o);
}

static struct json_object *
xrpc_json(const struct xrpc_result *r)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "status", json_object_new_int64(r->status));
    put_str(o, "error", r->error == HTTPC_OK ? NULL : httpc_error_name(r->error));
    put_str(o, "error_name", r->error_name);
    put_str(o, "message", r->message);
    json_object_object_add(o, "json", r->json != NULL ? json_object_get(r->json) : NULL);
    json_object_object_add(o, "ratelimit_limit", json_object_new_int64(r->ratelimit_limit));
    json_object_object_add(o, "ratelimit_remaining", json_object_new_int64(r->ratelimit_remaining));
    json_object_object_add(o, "ratelimit_reset", json_object_new_int64(r->ratelimit_reset));
    put_str(o, "ratelimit_policy", r->ratelimit_policy);
    json_object_object_add(o, "retry_after", json_object_new_int64(r->retry_after));
    json_object_object_add(o, "token_refused", json_object_new_boolean(xrpc_token_refused(r)));
    return o;
}

static struct json_object *
session_json(const struct session_result *r)
{
    struct json_object *o = json_object_new_object();

    put_str(o, "status", session_status_name(r->status));
    put_str(o, "error", r->error);
    put_str(o, "did", r->did);
    put_str(o, "handle", r->handle);
    put_str(o, "access_jwt", r->access_jwt);
    put_str(o, "refresh_jwt", r->refresh_jwt);
    json_object_object_add(o, "access_exp", json_object_new_int64(r->access_exp));
    json_object_object_add(o, "retry_after", json_object_new_int64(r->retry_after));
    return o;
}


static void
on_xrpc(const struct xrpc_result *r, void *arg)
{
    print_done(arg, xrpc_json(r));
}

static void
on_session(const struct session_result *r, void *arg)
{
    print_done(arg, session_json(r));
}

static void
on_session_call(const struct xrpc_result *r, const struct session_result *refreshed, void *arg)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "answer", r != NULL ? xrpc_json(r) : NULL);
    json_object_object_add(o, "refreshed", refreshed != NULL ? session_json(refreshed) : NULL);
    print_done(arg, o);
}

/* The call's optional key=value words: query=, body=, bearer=, header= (up to 8). */
static void
call_words(struct xrpc_call *c, const char **headers, int argc, char **argv, int from)
{
    for (int j = from; j < argc; j++) {
        if (strncmp(argv[j], "query=", 6) == 0)
            c->query = argv[j] + 6;
        else if (strncmp(argv[j], "body=", 5) == 0)
            c->body = argv[j] + 5;
        else if (strncmp(argv[j], "bearer=", 7) == 0) {
            c->auth = XRPC_AUTH_BEARER;
            c->token = argv[j] + 7;
        } else if (strncmp(argv[j], "header=", 7) == 0 && c->nheaders < 8)
            headers[c->nheaders++] = argv[j] + 7;
    }
    c->headers = headers;
}

static int
usage(void)
{
    fprintf(stderr, "usage: atproto_drive [--plc URL] [--dns IP:PORT] [--handle-origin URL] "
                    "[--allow-private] [--timeout MS] resolve-handle H... | resolve-did D...\n");
    return 2;
}

int
main(int argc, char **argv)
{
    struct identity_options io = { 0 };
    struct drive d = { 0 };
    struct identity *id;
    struct ask *asks = NULL;
    struct httpc_options ho = { 0 };
    struct httpc *http;
    const char *headers[8];
    char err[200];
    int i = 1;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--allow-private") == 0)
            io.allow_private = 1;
        else if (i + 1 >= argc)
            return usage();
        else if (strcmp(argv[i], "--plc") == 0)
            io.plc_url = argv[++i];
        else if (strcmp(argv[i], "--dns") == 0)
            io.dns_server = argv[++i];
        else if (strcmp(argv[i], "--handle-origin") == 0)
            io.handle_origin = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0)
            io.timeout_ms = atol(argv[++i]);
        else
            return usage();
    }
    if (i + 1 >= argc)
        return usage();
    d.base = event_base_new();
    id = identity_new(d.base, &io, err, sizeof(err));
    if (id == NULL) {
        printf("{\"status\":\"setup\",\"error\":\"%s\"}\n", err);
        event_base_free(d.base);
        return 0;
    }
    ho.allow_loopback = io.allow_private;
    ho.max_response_bytes = XRPC_MAX_BODY;
    http = httpc_new(d.base, &ho, err, sizeof(err));
    if (strcmp(argv[i], "resolve-handle") == 0 || strcmp(argv[i], "resolve-did") == 0) {
        int handle = strcmp(argv[i], "resolve-handle") == 0;

        asks = calloc((size_t)argc, sizeof(*asks));
        for (int j = i + 1; j < argc; j++) {
            asks[j] = (struct ask){ .d = &d, .subject = argv[j] };
            d.waiting++;
            if (handle)
                identity_resolve_handle(id, argv[j], on_identity, &asks[j]);
            else
                identity_resolve_did(id, argv[j], on_identity, &asks[j]);
        }
    } else if (strcmp(argv[i], "xrpc") == 0 && i + 3 < argc) {
        struct xrpc_call c = { .service = argv[i + 1], .method = argv[i + 2], .nsid = argv[i + 3] };

        call_words(&c, headers, argc, argv, i + 4);
        d.waiting++;
        xrpc_call(http, &c, on_xrpc, &d);
    } else if (strcmp(argv[i], "session-create") == 0 && i + 3 < argc) {
        d.waiting++;
        session_create(http, argv[i + 1], argv[i + 2], argv[i + 3], on_session, &d);
    } else if (strcmp(argv[i], "session-refresh") == 0 && i + 2 < argc) {
        d.waiting++;
        session_refresh(http, argv[i + 1], argv[i + 2], on_session, &d);
    } else if (strcmp(argv[i], "session-call") == 0 && i + 5 < argc) {
        struct xrpc_call c = { .method = argv[i + 4], .nsid = argv[i + 5] };

        call_words(&c, headers, argc, argv, i + 6);
        d.waiting++;
        session_call(http, argv[i + 1], *argv[i + 2] != '\0' ? argv[i + 2] : NULL, argv[i + 3], &c,
                     on_session_call, &d);
    } else {
        identity_free(id);
        httpc_free(http);
        event_base_free(d.base);
        return usage();
    }
    event_base_dispatch(d.base);
    identity_free(id);
    httpc_free(http);
    free(asks);
    event_base_free(d.base);
    return 0;
}
