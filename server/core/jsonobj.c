/* A JSON object from a body that came over the network: size and depth bounded. */
#include <string.h>

#include <json-c/json.h>

#include "jsonobj.h"

struct json_object *
jsonobj_parse(const char *body, size_t len, size_t max, int depth)
{
    struct json_tokener *tok;
    struct json_object *o;

    if (body == NULL || len == 0 || len > max || len > (size_t)2147483647)
        return NULL;
    tok = json_tokener_new_ex(depth);
    if (tok == NULL)
        return NULL;
    o = json_tokener_parse_ex(tok, body, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(o, json_type_object) ||
        strspn(body + json_tokener_get_parse_end(tok), " \t\r\n") !=
            len - json_tokener_get_parse_end(tok)) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}
