/* Drives the atproto pieces on a libevent loop for the Node tests: one command, one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "identity.h"

/*
 *   atproto_drive [options] resolve-handle HANDLE [HANDLE...]
 *   atproto_drive [options] resolve-did DID
 * Options: --plc URL, --dns IP:PORT, --handle-origin URL, --allow-private, --timeout MS.
 * Prints one JSON object per resolution on stdout, in the order they end: {subject, status, error,
 * did, handle, pds, signing_key}. Exit 0 when every command ran (whatever it found), 2 on bad
 * usage.
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
on_identity(const struct identity_result *r, void *arg)
{
    struct ask *a = arg;
    struct drive *d = a->d;
    struct json_object *o = json_object_new_object();

    put_str(o, "subject", a->subject);
    put_str(o, "status", identity_status_name(r->status));
    put_str(o, "error", r->error);
    put_str(o, "did", r->did);
    put_str(o, "handle", r->handle);
    put_str(o, "pds", r->pds);
    put_str(o, "signing_key", r->signing_key);
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(stdout);
    json_object_put(o);
    if (--d->waiting == 0)
        event_base_loopbreak(d->base);
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
    } else {
        identity_free(id);
        event_base_free(d.base);
        return usage();
    }
    event_base_dispatch(d.base);
    identity_free(id);
    free(asks);
    event_base_free(d.base);
    return 0;
}
