/* app.bsky.graph.follow records: the applyWrites batch, listRecords pages, the write budget. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "graph.h"
#include "xmalloc.h"

#define GRAPH_PAGE_MAX 100

void
graph_created_at(long long now_ms, char *out, size_t outlen)
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    char day[24];

    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%03dZ", day, (int)(now_ms % 1000));
}

char *
graph_apply_writes(const char *repo, const char *const *subjects, size_t n, const char *created_at)
{
    struct json_object *o = json_object_new_object(), *writes = json_object_new_array();
    char *out;

    json_object_object_add(o, "repo", json_object_new_string(repo));
    json_object_object_add(o, "validate", json_object_new_boolean(1));
    for (size_t i = 0; i < n && i < GRAPH_BATCH_MAX; i++) {
        struct json_object *w = json_object_new_object(), *v = json_object_new_object();

        json_object_object_add(v, "$type", json_object_new_string(GRAPH_FOLLOW));
        json_object_object_add(v, "subject", json_object_new_string(subjects[i]));
        json_object_object_add(v, "createdAt", json_object_new_string(created_at));
        json_object_object_add(w, "$type",
                               json_object_new_string("com.atproto.repo.applyWrites#create"));
        json_object_object_add(w, "collection", json_object_new_string(GRAPH_FOLLOW));
        json_object_object_add(w, "value", v);
        json_object_array_add(writes, w);
    }
    json_object_object_add(o, "writes", writes);
    out = xstrdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return out;
}

int
graph_follow_rkey(const char *uri, const char *repo, char *rkey, size_t rkeylen)
{
    static const char coll[] = "/" GRAPH_FOLLOW "/";
    size_t rl = repo != NULL ? strlen(repo) : 0, n;
    const char *k;

    if (uri == NULL || rl == 0 || strncmp(uri, "at://", 5) != 0 ||
        strncmp(uri + 5, repo, rl) != 0 || strncmp(uri + 5 + rl, coll, sizeof(coll) - 1) != 0)
        return -1;
    k = uri + 5 + rl + sizeof(coll) - 1;
    n = strlen(k);
    if (n == 0 || n > 512 || n >= rkeylen || strcmp(k, ".") == 0 || strcmp(k, "..") == 0 ||
        strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_:~") != n)
        return -1;
    memcpy(rkey, k, n + 1);
    return 0;
}

char *
graph_delete_record(const char *repo, const char *rkey)
{
    struct json_object *o = json_object_new_object();
    char *out;

    json_object_object_add(o, "repo", json_object_new_string(repo));
    json_object_object_add(o, "collection", json_object_new_string(GRAPH_FOLLOW));
    json_object_object_add(o, "rkey", json_object_new_string(rkey));
    out = xstrdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return out;
}

static const char *
graph_str(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int
graph_created_uris(struct json_object *answer, const char **uris, size_t n)
{
    struct json_object *results = NULL;

    if (answer == NULL || !json_object_object_get_ex(answer, "results", &results) ||
        !json_object_is_type(results, json_type_array) || json_object_array_length(results) != n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *uri = graph_str(json_object_array_get_idx(results, i), "uri");

        if (uri == NULL || strncmp(uri, "at://", 5) != 0)
            return -1;
        uris[i] = uri;
    }
    return 0;
}

const char *
graph_list_page(struct json_object *page, graph_record_fn fn, void *arg)
{
    struct json_object *records = NULL;
    size_t n;

    if (page == NULL || !json_object_object_get_ex(page, "records", &records) ||
        !json_object_is_type(records, json_type_array))
        return NULL;
    n = json_object_array_length(records);
    for (size_t i = 0; i < n && i < GRAPH_PAGE_MAX; i++) {
        struct json_object *r = json_object_array_get_idx(records, i), *v = NULL;
        const char *uri = graph_str(r, "uri"), *type, *subject;

        if (uri == NULL || !json_object_object_get_ex(r, "value", &v))
            continue;
        type = graph_str(v, "$type");
        subject = graph_str(v, "subject");
        if (type != NULL && strcmp(type, GRAPH_FOLLOW) == 0 && subject != NULL)
            fn(subject, uri, arg);
    }
    /* An empty page ends the list whatever its cursor says: no loop on a stuck cursor. */
    return n > 0 ? graph_str(page, "cursor") : NULL;
}

long long
graph_wait_seconds(const char *policy, long remaining, long long reset, long long now, int need)
{
    const char *w;
    long window;

    if (policy == NULL || remaining < 0 || reset < 0 || remaining >= need)
        return 0;
    w = strstr(policy, ";w=");
    if (w == NULL)
        return 0;
    window = strtol(w + 3, NULL, 10);
    if (window != 3600 && window != 86400)
        return 0; /* the per-IP bucket: not the member's writes */
    return reset - now >= 1 ? reset - now : 1;
}
