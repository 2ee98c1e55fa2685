/* Unit tests for atproto/graph.c: the applyWrites body, its answer, listRecords pages, budget. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "graph.h"
#include "tap.h"

static void
test_created_at(void)
{
    char s[32];

    graph_created_at(1796607400123LL, s, sizeof(s));
    is_str(s, "2026-12-07T01:36:40.123Z", "milliseconds, UTC, Z");
    graph_created_at(1796607400000LL, s, sizeof(s));
    is_str(s, "2026-12-07T01:36:40.000Z", "zero milliseconds written");
}

static void
test_apply_writes(void)
{
    const char *subjects[2] = { "did:plc:aaa", "did:plc:bbb" };
    char *body = graph_apply_writes("did:plc:me", subjects, 2, "2026-12-07T01:36:40.000Z");

    is_str(body,
           "{\"repo\":\"did:plc:me\",\"validate\":true,\"writes\":[{\"$type\":\"com.atproto.repo."
           "applyWrites#create\",\"collection\":\"app.bsky.graph.follow\",\"value\":{\"$type\":"
           "\"app.bsky.graph.follow\",\"subject\":\"did:plc:aaa\",\"createdAt\":\"2026-12-07T01:"
           "36:40.000Z\"}},{\"$type\":\"com.atproto.repo.applyWrites#create\",\"collection\":"
           "\"app.bsky.graph.follow\",\"value\":{\"$type\":\"app.bsky.graph.follow\",\"subject\":"
           "\"did:plc:bbb\",\"createdAt\":\"2026-12-07T01:36:40.000Z\"}}]}",
           "two creates, validated");
    free(body);
}

static void
test_created_uris(void)
{
    struct json_object *ok2 = json_tokener_parse(
        "{\"commit\":{},\"results\":[{\"$type\":\"com.atproto.repo.applyWrites#createResult\","
        "\"uri\":\"at://did:plc:me/app.bsky.graph.follow/3a\",\"cid\":\"x\"},{\"uri\":\"at://"
        "did:plc:me/app.bsky.graph.follow/3b\"}]}");
    struct json_object *bad = json_tokener_parse("{\"results\":[{\"uri\":\"https://x\"}]}");
    const char *uris[2];

    ok(graph_created_uris(ok2, uris, 2) == 0 &&
           strcmp(uris[1], "at://did:plc:me/app.bsky.graph.follow/3b") == 0,
       "one uri per write, in order");
    ok(graph_created_uris(ok2, uris, 3) < 0, "fewer results than writes");
    ok(graph_created_uris(bad, uris, 1) < 0, "not an at:// uri");
    ok(graph_created_uris(NULL, uris, 1) < 0, "no answer");
    json_object_put(ok2);
    json_object_put(bad);
}

struct seen {
    int n;
    char last[128];
};

static void
seen_cb(const char *subject, const char *uri, void *arg)
{
    struct seen *s = arg;

    s->n++;
    strncpy(s->last, subject, sizeof(s->last) - 1);
    (void)uri;
}

static void
test_list_page(void)
{
    struct json_object *page = json_tokener_parse(
        "{\"records\":[{\"uri\":\"at://me/app.bsky.graph.follow/1\",\"value\":{\"$type\":"
        "\"app.bsky.graph.follow\",\"subject\":\"did:plc:aaa\"}},{\"uri\":\"at://me/x/2\","
        "\"value\":{\"$type\":\"app.bsky.feed.post\",\"text\":\"hi\"}},{\"uri\":\"at://me/"
        "app.bsky.graph.follow/3\",\"value\":{\"$type\":\"app.bsky.graph.follow\",\"subject\":"
        "\"did:plc:ccc\"}}],\"cursor\":\"3\"}");
    struct json_object *last = json_tokener_parse("{\"records\":[],\"cursor\":\"3\"}");
    struct seen s = { 0 };
    const char *cursor = graph_list_page(page, seen_cb, &s);

    is_int(s.n, 2, "the follows of the page, nothing else");
    is_str(s.last, "did:plc:ccc", "their subjects");
    is_str(cursor, "3", "the cursor");
    ok(graph_list_page(last, seen_cb, &s) == NULL, "an empty page ends the list");
    ok(graph_list_page(NULL, seen_cb, &s) == NULL, "no page");
    json_object_put(page);
    json_object_put(last);
}

static void
test_wait(void)
{
    is_int((int)graph_wait_seconds("5000;w=3600", 171, 2000, 1000, 600), 1000,
           "the hourly write budget is short: wait for its reset");
    is_int((int)graph_wait_seconds("35000;w=86400", 2, 5000, 1000, 3), 4000, "the daily one");
    is_int((int)graph_wait_seconds("5000;w=3600", 600, 2000, 1000, 600), 0, "room enough");
    is_int((int)graph_wait_seconds("3000;w=300", 0, 2000, 1000, 3), 0, "the per-IP bucket");
    is_int((int)graph_wait_seconds(NULL, 0, 2000, 1000, 3), 0, "no header");
    is_int((int)graph_wait_seconds("5000;w=3600", 0, 900, 1000, 3), 1, "a reset past: 1 s");
}

static void
test_follow_rkey(void)
{
    const char *me = "did:plc:alicealicealicealicealic";
    char rkey[513], *body;

    ok(graph_follow_rkey("at://did:plc:alicealicealicealicealic/app.bsky.graph.follow/3l2abc", me,
                         rkey, sizeof(rkey)) == 0 &&
           strcmp(rkey, "3l2abc") == 0,
       "rkey: a follow record in the member's own repository");
    ok(graph_follow_rkey("at://did:plc:bobbobbobbobbobbobbobbob/app.bsky.graph.follow/3l2abc", me,
                         rkey, sizeof(rkey)) < 0,
       "rkey: another repository");
    ok(graph_follow_rkey("at://did:plc:alicealicealicealicealicX/app.bsky.graph.follow/3l", me,
                         rkey, sizeof(rkey)) < 0,
       "rkey: a DID that only starts like hers");
    ok(graph_follow_rkey("at://did:plc:alicealicealicealicealic/app.bsky.feed.post/3l2abc", me,
                         rkey, sizeof(rkey)) < 0,
       "rkey: another collection");
    ok(graph_follow_rkey("at://did:plc:alicealicealicealicealic/app.bsky.graph.follow/", me, rkey,
                         sizeof(rkey)) < 0 &&
           graph_follow_rkey("at://did:plc:alicealicealicealicealic/app.bsky.graph.follow/..", me,
                             rkey, sizeof(rkey)) < 0 &&
           graph_follow_rkey("at://did:plc:alicealicealicealicealic/app.bsky.graph.follow/a/b", me,
                             rkey, sizeof(rkey)) < 0 &&
           graph_follow_rkey("at://did:plc:alicealicealicealicealic/app.bsky.graph.follow/a?x", me,
                             rkey, sizeof(rkey)) < 0,
       "rkey: empty, a dot path, a path, a query");
    ok(graph_follow_rkey(NULL, me, rkey, sizeof(rkey)) < 0 &&
           graph_follow_rkey("at://x/app.bsky.graph.follow/a", NULL, rkey, sizeof(rkey)) < 0,
       "rkey: NULL");
    body = graph_delete_record(me, "3l2abc");
    is_str(
        body,
        "{\"repo\":\"did:plc:alicealicealicealicealic\",\"collection\":\"app.bsky.graph.follow\","
        "\"rkey\":\"3l2abc\"}",
        "deleteRecord: that record, in her repository");
    free(body);
}

int
main(void)
{
    test_created_at();
    test_apply_writes();
    test_created_uris();
    test_list_page();
    test_wait();
    test_follow_rkey();
    return done_testing();
}
