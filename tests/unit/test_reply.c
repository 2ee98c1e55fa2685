/* Tests of reply on loopback: the status map, what each reply sends, and the request reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "metrics.h"
#include "pgtest.h" /* its loop and loopback HTTP only: no database here */
#include "reply.h"
#include "tap.h"

static int port, answered;
static char seen[512]; /* what the handler read from the request */

static void
answered_cb(void *arg, struct evhttp_request *req)
{
    (void)req;
    *(int *)arg += 1;
}

static void
route_cb(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));

    (void)arg;
    if (strcmp(path, "/send") == 0) {
        reply_send(req, 200, "text/plain", "hello", 5);
    } else if (strcmp(path, "/json") == 0) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "a", json_object_new_int(1));
        reply_json(req, 201, "application/activity+json", o);
    } else if (strcmp(path, "/fail") == 0) {
        reply_fail(req, REPLY_ERR_RATE_LIMITED, "slow \"down\"");
    } else {
        char *q = reply_req_param(req, "q"), *none = reply_req_param(req, "none"), peer[64];
        const char *h = reply_req_header(req, "X-Test");

        reply_req_peer(req, peer, sizeof(peer));
        snprintf(seen, sizeof(seen), "q=%s none=%s h=%s lang=%s peer=%s ap=%d", q ? q : "(null)",
                 none ? none : "(null)", h ? h : "(null)", reply_req_lang(req), peer,
                 reply_wants_activity_json(req));
        free(q);
        free(none);
        reply_send(req, 204, NULL, NULL, 0);
    }
}

static void
test_map(void)
{
    static const struct {
        enum reply_err kind;
        int status;
    } want[] = {
        { REPLY_ERR_BAD_REQUEST, 400 }, { REPLY_ERR_UNAUTHORIZED, 401 },
        { REPLY_ERR_FORBIDDEN, 403 },   { REPLY_ERR_NOT_FOUND, 404 },
        { REPLY_ERR_METHOD, 405 },      { REPLY_ERR_NOT_ACCEPTABLE, 406 },
        { REPLY_ERR_GONE, 410 },        { REPLY_ERR_TOO_LARGE, 413 },
        { REPLY_ERR_MEDIA_TYPE, 415 },  { REPLY_ERR_RATE_LIMITED, 429 },
        { REPLY_ERR_INTERNAL, 500 },    { REPLY_ERR_UNAVAILABLE, 503 },
    };

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        is_int(reply_err_status(want[i].kind), want[i].status, "error kind %d maps to %d",
               (int)want[i].kind, want[i].status);
    is_str(reply_reason(404), "Not Found", "reason phrase of 404");
    is_str(reply_reason(429), "Too Many Requests", "reason phrase of 429");
}

static void
test_replies(void)
{
    static const char *const reads[] = { "X-Test: yes", "Accept-Language: fr-CA, en;q=0.5",
                                         "Accept: application/ld+json; profile=x", NULL };
    struct pgt_answer a;
    struct json_object *o;

    answered = 0;
    pgt_ask(port, EVHTTP_REQ_GET, "/send", NULL, NULL, 0, &a);
    ok(a.status == 200 && strcmp(a.body, "hello") == 0 && strcmp(a.ctype, "text/plain") == 0,
       "reply_send: status, body and content type");
    pgt_ask(port, EVHTTP_REQ_HEAD, "/send", NULL, NULL, 0, &a);
    ok(a.status == 200 && a.body[0] == '\0', "reply_send to a HEAD: no body");
    pgt_ask(port, EVHTTP_REQ_GET, "/json", NULL, NULL, 0, &a);
    o = json_tokener_parse(a.body);
    ok(a.status == 201 && o != NULL && json_object_get_int(json_object_object_get(o, "a")) == 1 &&
           strcmp(a.ctype, "application/activity+json") == 0,
       "reply_json: the object serialised, with its content type (%s)", a.body);
    json_object_put(o);
    pgt_ask(port, EVHTTP_REQ_GET, "/fail", NULL, NULL, 0, &a);
    o = json_tokener_parse(a.body);
    ok(a.status == 429 && o != NULL &&
           strcmp(json_object_get_string(json_object_object_get(o, "error")), "slow \"down\"") == 0,
       "reply_fail: the kind's status and {\"error\": reason}, escaped (%s)", a.body);
    json_object_put(o);
    is_int(answered, 4, "the answered hook ran once per answer");

    pgt_ask(port, EVHTTP_REQ_GET, "/read?q=caf%C3%A9+x%26y&z=1", reads, NULL, 0, &a);
    is_int(a.status, 204, "request reads: answered");
    is_str(seen, "q=café x&y none=(null) h=yes lang=fr peer=127.0.0.1 ap=1",
           "request reads: decoded parameter, absent one, header, language, peer, JSON wanted");
    pgt_ask(port, EVHTTP_REQ_GET, "/read", NULL, NULL, 0, &a);
    is_str(seen, "q=(null) none=(null) h=(null) lang=en peer=127.0.0.1 ap=0",
           "request reads: nothing asked, English, no JSON wanted");
}

int
main(void)
{
    struct evhttp *http;

    pgt_base = event_base_new();
    metrics_describe("passerelle_http_responses_total", METRICS_COUNTER, "HTTP responses.");
    reply_set_answered(answered_cb, &answered);
    port = pgt_listen(&http, route_cb, NULL);
    if (port < 0)
        pgt_bail("cannot listen on 127.0.0.1");
    test_map();
    test_replies();
    reply_set_answered(NULL, NULL);
    evhttp_free(http);
    event_base_free(pgt_base);
    metrics_free();
    return done_testing();
}
