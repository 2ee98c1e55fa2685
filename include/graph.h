/* app.bsky.graph.follow records: the applyWrites batch, listRecords pages, the write budget. */
#ifndef PASSERELLE_GRAPH_H
#define PASSERELLE_GRAPH_H

#include <stddef.h>

struct json_object;

#define GRAPH_FOLLOW "app.bsky.graph.follow"
/* The most writes one applyWrites takes (the PDS refuses more, and still charges them). */
#define GRAPH_BATCH_MAX 200
/* What a record creation costs in the PDS's write budget (an update 2, a delete 1). */
#define GRAPH_CREATE_POINTS 3
#define GRAPH_DELETE_POINTS 1

/* createdAt as atproto writes datetimes: "2026-12-07T01:36:40.123Z" (out: 32 bytes). */
void graph_created_at(long long now_ms, char *out, size_t outlen);

/*
 * The body of com.atproto.repo.applyWrites creating one follow of each subject (DIDs) in
 * repo's repository, validated by the PDS: {"repo", "validate": true, "writes": [{"$type":
 * "com.atproto.repo.applyWrites#create", "collection", "value": {"$type", "subject",
 * "createdAt"}}...]}. n is at most GRAPH_BATCH_MAX. A new string.
 */
char *graph_apply_writes(const char *repo, const char *const *subjects, size_t n,
                         const char *created_at);

/*
 * The record key of uri when it names a follow record in repo's own repository,
 * "at://<repo>/app.bsky.graph.follow/<rkey>" (rkey: 1 to 512 of A-Z a-z 0-9 . - _ : ~, not
 * "." nor ".."), into rkey (512 bytes + 1): 0, or -1 for anything else (another repository,
 * another collection, a query or fragment), which is never deleted.
 */
int graph_follow_rkey(const char *uri, const char *repo, char *rkey, size_t rkeylen);

/* The body of com.atproto.repo.deleteRecord of that follow record in repo. A new string. */
char *graph_delete_record(const char *repo, const char *rkey);

/*
 * The record URIs an applyWrites answer gives, in the order of the writes: uris[i] is
 * results[i].uri (borrowed from answer). 0 when the answer holds exactly n create results
 * with an at:// uri each, -1 otherwise.
 */
int graph_created_uris(struct json_object *answer, const char **uris, size_t n);

/*
 * Reads one listRecords page of app.bsky.graph.follow records: fn(subject, uri, arg) for
 * each record whose value is a follow with a string subject (at most 100 per page are read).
 * Returns the page's cursor (borrowed), or NULL at the end or when the page is malformed.
 */
typedef void (*graph_record_fn)(const char *subject, const char *uri, void *arg);
const char *graph_list_page(struct json_object *page, graph_record_fn fn, void *arg);

/*
 * What the PDS's RateLimit-* headers ask of the next write of need points: the seconds to wait
 * (reset - now, at least 1) when the tightest bucket is a write budget (policy "N;w=3600" or
 * "N;w=86400") with fewer than need points remaining; 0 otherwise (no header, a per-IP
 * bucket, or room left). Pure.
 */
long long graph_wait_seconds(const char *policy, long remaining, long long reset, long long now,
                             int need);

#endif
