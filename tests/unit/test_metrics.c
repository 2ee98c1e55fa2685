/* Unit tests for server/core/metrics.c: families, samples, and the text exposition format. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"
#include "tap.h"

static char *
render(void)
{
    struct evbuffer *b = evbuffer_new();
    size_t len;
    char *s;

    metrics_render(b);
    len = evbuffer_get_length(b);
    s = malloc(len + 1);
    evbuffer_remove(b, s, len);
    s[len] = '\0';
    evbuffer_free(b);
    return s;
}

int
main(void)
{
    char *text;

    metrics_describe("t_requests_total", METRICS_COUNTER, "Requests.");
    metrics_describe("t_up", METRICS_GAUGE, "Up.");
    metrics_describe("t_requests_total", METRICS_GAUGE, "Described twice: the first wins.");
    metrics_add("t_requests_total", "code=\"200\"", 1);
    metrics_add("t_requests_total", "code=\"200\"", 2);
    metrics_add("t_requests_total", "code=\"404\"", 1);
    metrics_set("t_up", "", 1);
    metrics_set("t_up", "", 0);
    metrics_add("t_undeclared", "", 1);

    is_int((long long)metrics_get("t_requests_total", "code=\"200\""), 3, "counter adds");
    is_int((long long)metrics_get("t_requests_total", "code=\"404\""), 1, "labels kept apart");
    is_int((long long)metrics_get("t_up", ""), 0, "gauge set replaces");
    is_int((long long)metrics_get("t_undeclared", ""), 0, "undeclared family refused");

    text = render();
    ok(strstr(text, "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n") != NULL,
       "HELP and TYPE lines, first description kept");
    ok(strstr(text, "t_requests_total{code=\"200\"} 3\n") != NULL, "labelled sample line");
    ok(strstr(text, "# TYPE t_up gauge\nt_up 0\n") != NULL, "unlabelled gauge line");
    ok(strstr(text, "t_undeclared") == NULL, "undeclared family not rendered");
    ok(strstr(text, "t_requests_total") < strstr(text, "t_up"), "families in declaration order");
    free(text);

    metrics_describe("t_empty_total", METRICS_COUNTER, "Nothing yet.");
    text = render();
    ok(strstr(text, "# TYPE t_empty_total counter\nt_empty_total 0\n") != NULL,
       "a family with no sample shows 0");
    free(text);

    metrics_free();
    is_int((long long)metrics_get("t_up", ""), 0, "free empties the registry");
    text = render();
    is_str(text, "", "nothing rendered after free");
    free(text);
    return done_testing();
}
