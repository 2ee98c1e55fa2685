/* The outbox: what our actors send, listed in the caller's transaction for the queue to deliver. */
#include <string.h>

#include <json-c/json.h>

#include "dbtx.h"
#include "log.h"
#include "outbox.h"
#include "queue.h"

int
outbox_push(struct dbtx *tx, const char *signer, struct json_object *json,
            const char *const *inboxes, size_t n, const char *member_id)
{
    const char *s = json_object_to_json_string_ext(json, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    struct queue_batch b;
    char err[128];
    int rc = -1;

    if (queue_batch_init(&b, signer, s, strlen(s), inboxes, n, 0, err, sizeof(err)) < 0) {
        log_warn("outbox_skipped", "reason=%s inbox=%s", log_q(err),
                 log_q(n > 0 ? inboxes[0] : NULL));
    } else {
        queue_batch_member(&b, member_id);
        dbtx_pushv(tx, b.sql, NULL, NULL, b.nparams, b.params);
        queue_batch_free(&b);
        rc = 0;
    }
    json_object_put(json);
    return rc;
}

void
outbox_push_one(struct dbtx *tx, const char *signer, struct json_object *json, const char *inbox)
{
    (void)outbox_push(tx, signer, json, &inbox, 1, NULL);
}
