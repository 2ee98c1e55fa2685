/* A JSON object (or array) from a body that came over the network: size and depth bounded. */
#include <string.h>

#include <json-c/json.h>

#include "jsonobj.h"

static struct json_object *
jsonobj_parse_type(const char *body, size_t len, size_t max, int depth, enum json_type type)
{
    struct json_tokener *tok;
    struct json_object *o;

    if (body == NULL || len == 0 || len > max || len > (size_t)2147483647)
        return NULL;
    tok = json_tokener_new_ex(depth);
    if (tok == NULL)
        return NULL;
    o = json_tokener_parse_ex(tok, body, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(o, type) ||
        strspn(body + json_tokener_get_parse_end(tok), " \t\r\n") !=
            len - json_tokener_get_parse_end(tok)) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

struct json_object *
jsonobj_parse(const char *body, size_t len, size_t max, int depth)
{
    return jsonobj_parse_type(body, len, max, depth, json_type_object);
}

struct json_object *
jsonobj_parse_array(const char *body, size_t len, size_t max, int depth)
{
    return jsonobj_parse_type(body, len, max, depth, json_type_array);
}
