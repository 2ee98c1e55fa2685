/* libFuzzer target: an inbox body: UTF-8, depth and shape checks, then dispatch_classify and
 * activity_ref. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "activity.h"
#include "fuzz_common.h"
#include "inbox.h"
#include "queue.h"
#include "url.h"
#include "dispatch.h"
#include "utf8.h"

#define RELAY  "https://bridge.example/actor"
#define BRIDGE "https://bridge.example/users/passerelle"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct activity_in a;
    const char *reason = NULL;
    char *body = malloc(size + 1), idhost[URL_AUTHORITY_MAX];
    int rc;

    fuzz_check(body != NULL);
    memcpy(body, data, size);
    body[size] = '\0';
    memset(&a, 0, sizeof(a));
    a.body = body;
    a.body_len = size;
    rc = inbox_parse(&a, &reason);
    fuzz_check(rc == 0 || rc == -1);
    if (rc < 0) {
        fuzz_check(reason != NULL && reason[0] != '\0');
    } else {
        enum dispatch_action act;

        /* Nothing invalid gets through: the whole body is UTF-8 and one JSON object. */
        fuzz_check(utf8_count(body, size) >= 0);
        fuzz_check(json_object_is_type(a.json, json_type_object));
        fuzz_check(a.id != NULL && strncmp(a.id, "http", 4) == 0);
        fuzz_check(a.type != NULL && a.actor != NULL && a.domain[0] != '\0');
        fuzz_check(url_authority(a.id, idhost, sizeof(idhost)) == 0);
        fuzz_check(strcmp(idhost, a.domain) == 0);
        act = dispatch_classify(a.json, a.type, a.actor, RELAY, BRIDGE);
        fuzz_check(act >= DISPATCH_IGNORE && act <= DISPATCH_PUBLICATION);
        /* Every field's reference is a string of the object, or nothing. */
        json_object_object_foreach(a.json, key, val) {
            const char *ref = activity_ref(val);

            (void)key;
            fuzz_check(ref == NULL || json_object_is_type(val, json_type_string) ||
                       json_object_is_type(val, json_type_object));
            if (ref != NULL)
                (void)activity_is_public(ref);
        }
    }
    json_object_put(a.json);
    free(body);
    return 0;
}
