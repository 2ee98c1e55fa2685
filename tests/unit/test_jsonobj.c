/* Unit tests for jsonobj.c: objects (or arrays when asked), within the size and depth given. */
#include <string.h>

#include <json-c/json.h>

#include "jsonobj.h"
#include "tap.h"

static int
parses(const char *s, size_t max, int depth)
{
    struct json_object *o = jsonobj_parse(s, s != NULL ? strlen(s) : 0, max, depth);
    int got = o != NULL;

    json_object_put(o);
    return got;
}

int
main(void)
{
    ok(parses("{\"a\":1}", 100, 4), "an object");
    ok(!parses("[1,2]", 100, 4), "an array is not an object");
    ok(!parses("\"s\"", 100, 4), "nor a string");
    ok(!parses("{\"a\":1", 100, 4), "truncated");
    ok(!parses("{\"a\":1} x", 100, 4), "trailing bytes");
    ok(!parses("{\"a\":1}", 6, 4), "over max bytes");
    ok(parses("{\"a\":{\"b\":{}}}", 100, 3), "nested as deep as allowed");
    ok(!parses("{\"a\":{\"b\":{\"c\":{}}}}", 100, 3), "one level deeper refused");
    ok(!parses(NULL, 100, 4), "NULL");
    ok(!parses("", 100, 4), "empty");
    {
        struct json_object *a = jsonobj_parse_array("[{\"id\":\"1\"}] ", 13, 100, 4);

        ok(a != NULL && json_object_array_length(a) == 1, "an array, as an array");
        json_object_put(a);
        ok(jsonobj_parse_array("{}", 2, 100, 4) == NULL, "an object is not an array");
        ok(jsonobj_parse_array("[[[[1]]]]", 9, 100, 3) == NULL, "an array too deep");
        ok(jsonobj_parse_array("[1] [2]", 7, 100, 4) == NULL, "two values");
    }
    return done_testing();
}
