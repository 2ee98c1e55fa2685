/* The inbox: every check a signed POST must pass, cheapest first, before dispatch_activity. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "activity.h"
#include "app.h"
#include "config.h"
#include "db.h"
#include "reply.h"
#include "httpsig.h"
#include "inbox.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "queue.h"
#include "dispatch.h"
#include "domains.h"
#include "groupcommit.h"
#include "remote.h"
#include "url.h"
#include "utf8.h"
#include "xmalloc.h"

#define INBOX_MAX_DEPTH 32 /* activities nest a few levels; a bomb nests thousands */

#define M_REQUESTS "passerelle_inbox_requests_total"
#define M_SIGFAIL  "passerelle_signature_failures_total"
#define M_VERIFY   "passerelle_signature_verifications_total"

/* One POST between its arrival and its answer; the single owner of everything below. */
struct inbox_ctx {
    struct activity_in a;
    struct evhttp_request *req;
    struct httpsig sig;
    struct httpsig_request hreq;
    char *body;      /* the raw body, NUL-terminated; a.body points here */
    char *target;    /* the request-target as received */
    char *authority; /* the Host header, for RFC 9421's @authority */
    char *key_id;
    char key_domain[URL_AUTHORITY_MAX];
    char key_cands[1024], actor_cands[1024]; /* policy_candidates_pg of both domains */
    int refreshed; /* the key was fetched again after a failed verification */
    char *tried;   /* the PEM that failed before the refetch: never verified twice */
    /* Owned copies of what the key lookup borrowed to us. */
    char *inbox, *shared, *type, *username;
};

static void inbox_policy_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void inbox_judged(struct inbox_ctx *c, int blocked, int allowed);
static void inbox_key_cb(enum remote_result result, const struct remote_key *key, void *arg);

void
inbox_metrics_describe(void)
{
    metrics_describe(M_REQUESTS, METRICS_COUNTER, "POSTs to an inbox, by result.");
    metrics_describe(M_SIGFAIL, METRICS_COUNTER,
                     "Inbox requests refused for their signature, by reason.");
    metrics_describe(M_VERIFY, METRICS_COUNTER,
                     "Keys inbox signatures were verified with (at most two per request).");
}

static void
inbox_ctx_free(struct inbox_ctx *c)
{
    json_object_put(c->a.json);
    free(c->body);
    httpsig_free(&c->sig);
    free(c->target);
    free(c->authority);
    free(c->tried);
    free(c->key_id);
    free(c->inbox);
    free(c->shared);
    free(c->type);
    free(c->username);
    free(c);
}

static void
inbox_count(const char *result)
{
    char labels[64];

    snprintf(labels, sizeof(labels), "result=\"%s\"", result);
    metrics_add(M_REQUESTS, labels, 1);
}

/* Refuses the request: one place for the metric, the log line and the answer. */
static void
inbox_refuse(struct inbox_ctx *c, enum reply_err kind, const char *result, const char *reason)
{
    inbox_count(result);
    log_info("inbox_refused", "result=%s status=%d reason=%s key_id=%s", result,
             reply_err_status(kind), log_q(reason), log_q(c->key_id));
    reply_fail(c->req, kind, reason);
    inbox_ctx_free(c);
}

static void
inbox_sigfail(struct inbox_ctx *c, const char *why, const char *reason)
{
    char labels[128];

    snprintf(labels, sizeof(labels), "reason=\"%s\"", why);
    metrics_add(M_SIGFAIL, labels, 1);
    inbox_refuse(c, REPLY_ERR_UNAUTHORIZED, "unauthorized", reason);
}

/* The dispatcher's answer: 202 once committed, 503 without a database, else 500. */
static void
inbox_dispatched_cb(enum db_outcome outcome, const char *result, void *arg)
{
    struct inbox_ctx *c = arg;

    if (outcome == DB_UNAVAILABLE) {
        inbox_refuse(c, REPLY_ERR_UNAVAILABLE, result, "database unavailable");
        return;
    }
    if (outcome != DB_OK) {
        inbox_refuse(c, REPLY_ERR_INTERNAL, result, "database error");
        return;
    }
    inbox_count(result);
    log_info("inbox_accepted", "result=%s type=%s id=%s actor=%s", result, log_q(c->a.type),
             log_q(c->a.id), log_q(c->a.actor));
    reply_send(c->req, 202, "application/json", "{}", 2);
    inbox_ctx_free(c);
}

static const char *
inbox_header(void *ctx, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(ctx), name);
}

/* application/activity+json, or application/ld+json (any profile), or application/json. */
static int
inbox_ctype_ok(const char *ct)
{
    static const char *const ok[] = { "application/activity+json", "application/ld+json",
                                      "application/json" };

    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t n = strlen(ok[i]);

        if (strncasecmp(ct, ok[i], n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
            return 1;
    }
    return 0;
}

/*
 * 1 when host (the Host header, so RFC 9421's @authority too) names base_url's host and
 * port, in any case, the scheme's default port written or not; 1 when there is none
 * (HTTP/1.0: the authority is then base_url's).
 */
static int
inbox_host_ok(const struct config *cfg, const char *host)
{
    char scheme[8], want[URL_HOST_MAX + 1], got[URL_HOST_MAX + 1], url[URL_AUTHORITY_MAX + 16];
    long want_port, got_port;

    if (host == NULL)
        return 1;
    if (strlen(host) > URL_AUTHORITY_MAX || host[strcspn(host, "/?#@\\")] != '\0')
        return 0;
    if (url_origin(cfg->base_url, scheme, sizeof(scheme), want, sizeof(want), &want_port) < 0)
        return 0;
    snprintf(url, sizeof(url), "%s://%s", scheme, host);
    if (url_origin(url, scheme, sizeof(scheme), got, sizeof(got), &got_port) < 0)
        return 0;
    return strcmp(want, got) == 0 && want_port == got_port;
}

int
inbox_parse(struct activity_in *a, const char **reason)
{
    struct json_tokener *tok = json_tokener_new_ex(INBOX_MAX_DEPTH);
    struct json_object *o, *v;
    char idhost[URL_AUTHORITY_MAX];

    if (utf8_count(a->body, a->body_len) < 0) {
        json_tokener_free(tok);
        *reason = "body is not valid UTF-8";
        return -1;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, a->body, (int)a->body_len);
    if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != a->body_len) {
        json_object_put(o);
        json_tokener_free(tok);
        *reason = "body is not one JSON object";
        return -1;
    }
    json_tokener_free(tok);
    a->json = o;
    if (!json_object_is_type(o, json_type_object)) {
        *reason = "body is not a JSON object";
        return -1;
    }
    if (!json_object_object_get_ex(o, "id", &v) || !json_object_is_type(v, json_type_string) ||
        strncmp(json_object_get_string(v), "http", 4) != 0) {
        *reason = "activity has no id URL";
        return -1;
    }
    a->id = json_object_get_string(v);
    if (!json_object_object_get_ex(o, "type", &v) || !json_object_is_type(v, json_type_string)) {
        *reason = "activity has no type";
        return -1;
    }
    a->type = json_object_get_string(v);
    if (!json_object_object_get_ex(o, "actor", &v) || (a->actor = activity_ref(v)) == NULL ||
        url_authority(a->actor, a->domain, sizeof(a->domain)) < 0) {
        *reason = "activity has no actor URL";
        return -1;
    }
    /*
     * An actor names only activities of its own host (Misskey requires it too): otherwise
     * anyone could spend another server's ids in the seen set and have its real ones dropped.
     */
    if (url_authority(a->id, idhost, sizeof(idhost)) < 0 || strcmp(idhost, a->domain) != 0) {
        *reason = "activity id is not on the actor's host";
        return -1;
    }
    return 0;
}

void
inbox_post(struct app *app, struct evhttp_request *req, const char *path)
{
    struct inbox_ctx *c = xcalloc(1, sizeof(*c));
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *reason = NULL;
    char err[256];
    enum httpsig_result r;
    const char *domains[2];
    int blocked = 0, allowed = 0;

    c->a.app = app;
    c->req = req;
    c->a.to_bridge = strncmp(path, "/users/", 7) == 0;
    c->a.body_len = len;
    c->body = xmalloc(len + 1);
    evbuffer_copyout(in, c->body, len);
    c->body[len] = '\0';
    c->a.body = c->body;

    if (!inbox_ctype_ok(inbox_header(req, "content-type"))) {
        inbox_refuse(c, REPLY_ERR_MEDIA_TYPE, "unsupported_media_type",
                     "Content-Type must be application/activity+json");
        return;
    }
    if (len == 0) {
        inbox_refuse(c, REPLY_ERR_BAD_REQUEST, "bad_request", "empty body");
        return;
    }

    /* The signature first: an unsigned request is refused before its body is parsed. */
    c->target = xstrdup(evhttp_request_get_uri(req));
    c->authority = xstrdup(inbox_header(req, "host") ? inbox_header(req, "host") : app->cfg->host);
    c->hreq.method = "POST";
    c->hreq.target = c->target;
    c->hreq.header = inbox_header;
    c->hreq.ctx = req;
    c->hreq.body = (const unsigned char *)c->a.body;
    c->hreq.body_len = len;
    c->hreq.scheme = strncmp(app->cfg->base_url, "https:", 6) == 0 ? "https" : "http";
    c->hreq.authority = c->authority;
    r = httpsig_parse_request(&c->hreq, &c->sig, err, sizeof(err));
    if (r != HTTPSIG_OK) {
        inbox_sigfail(c, httpsig_result_name(r), r == HTTPSIG_NO_SIGNATURE ? "not signed" : err);
        return;
    }
    c->key_id = xstrdup(c->sig.key_id);
    if (url_authority(c->key_id, c->key_domain, sizeof(c->key_domain)) < 0) {
        inbox_sigfail(c, "bad_key_id", "keyId is not an http(s) URL");
        return;
    }
    /* A signature made for another server (a delivery to it, replayed here) is not ours. */
    if (!inbox_host_ok(app->cfg, inbox_header(req, "host"))) {
        inbox_sigfail(c, "wrong_host", "Host is not this server's");
        return;
    }
    r = httpsig_check(&c->sig, &c->hreq, time(NULL), err, sizeof(err));
    if (r != HTTPSIG_OK) {
        inbox_sigfail(c, httpsig_result_name(r), err);
        return;
    }
    if (inbox_parse(&c->a, &reason) < 0) {
        inbox_refuse(c, REPLY_ERR_BAD_REQUEST, "bad_request", reason);
        return;
    }

    /* Blocked domains: the signer's (Mastodon signs with the author's key) and the actor's. */
    if (policy_config_blocked(app->cfg, c->key_domain) ||
        policy_config_blocked(app->cfg, c->a.domain)) {
        inbox_refuse(c, REPLY_ERR_FORBIDDEN, "blocked", "domain blocked");
        return;
    }
    /* Admin blocks cover subdomains and ports as relay_block's entries do. */
    if (policy_candidates_pg(c->key_domain, c->key_cands, sizeof(c->key_cands)) < 0 ||
        policy_candidates_pg(c->a.domain, c->actor_cands, sizeof(c->actor_cands)) < 0) {
        inbox_refuse(c, REPLY_ERR_BAD_REQUEST, "bad_request", "host name too long");
        return;
    }
    /*
     * The admin's blocks as last notified. The database is asked while that copy may be old,
     * and to confirm what it refuses (a block, or an allowlist's missing allow of a Follow):
     * an unblock or an allow then counts at once, before its NOTIFY is read, and a block
     * within the time that takes.
     */
    if (domains_judge(app->domains, c->key_domain, c->a.domain, &blocked, &allowed) == 0 &&
        !blocked &&
        (allowed || strcmp(app->cfg->relay_mode, "allowlist") != 0 ||
         strcmp(c->a.type, "Follow") != 0)) {
        inbox_judged(c, blocked, allowed);
        return;
    }
    domains[0] = c->key_cands;
    domains[1] = c->actor_cands;
    db_query(app->db,
             "SELECT bool_or(blocked), bool_or(allowed AND domain = ANY($2::text[]))"
             " FROM instances WHERE domain = ANY($1::text[]) OR domain = ANY($2::text[])",
             2, domains, inbox_policy_cb, c);
}

static void
inbox_policy_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct inbox_ctx *c = arg;
    int blocked = 0, allowed = 0;

    if (outcome != DB_OK) {
        PQclear(res);
        log_warn("inbox_db_failed", "step=policy error=%s", log_q(err));
        inbox_refuse(c, REPLY_ERR_UNAVAILABLE, "unavailable", "database unavailable");
        return;
    }
    if (PQntuples(res) == 1) {
        blocked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        allowed = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    }
    PQclear(res);
    inbox_judged(c, blocked, allowed);
}

/* The admin's policy is known: refuse a blocked domain, else find the signer's key. */
static void
inbox_judged(struct inbox_ctx *c, int blocked, int allowed)
{
    struct app *app = c->a.app;

    if (blocked) {
        inbox_refuse(c, REPLY_ERR_FORBIDDEN, "blocked", "domain blocked");
        return;
    }
    c->a.allowed = strcmp(app->cfg->relay_mode, "allowlist") != 0 || allowed ||
                   policy_config_allowed(app->cfg, c->a.domain);
    remote_key_lookup(app->remote, c->key_id, 0, inbox_key_cb, c);
}

/*
 * A Delete of the actor itself whose key document (the actor) is 410 at its own origin, as
 * Mastodon's account deletions are once the account is gone.
 */
static int
inbox_actor_gone(const struct inbox_ctx *c)
{
    struct json_object *o = NULL;
    char *doc;
    int gone;

    if (strcmp(c->a.type, "Delete") != 0 || !json_object_object_get_ex(c->a.json, "object", &o))
        return 0;
    if (activity_ref(o) == NULL || strcmp(activity_ref(o), c->a.actor) != 0)
        return 0;
    doc = httpsig_keyid_actor_candidate(c->key_id);
    gone = doc != NULL && strcmp(doc, c->a.actor) == 0;
    free(doc);
    return gone;
}

static void
inbox_key_cb(enum remote_result result, const struct remote_key *key, void *arg)
{
    struct inbox_ctx *c = arg;
    struct app *app = c->a.app;
    char err[256];
    enum httpsig_result r;

    if (result == REMOTE_UNREACHABLE) {
        inbox_refuse(c, REPLY_ERR_UNAVAILABLE, "key_unreachable", "signing key unreachable");
        return;
    }
    if (result == REMOTE_GONE && inbox_actor_gone(c)) {
        /*
         * Its own server says the actor is gone (410, as Mastodon's deletions answer):
         * forgetting it needs no signature. A 404 may be passing, so it is not enough.
         */
        groupcommit_add(app->group, &c->a, inbox_dispatched_cb, c);
        return;
    }
    if (result != REMOTE_OK) {
        char why[64];

        snprintf(why, sizeof(why), "key_%s", remote_result_name(result));
        inbox_sigfail(c, why, "signing key not usable");
        return;
    }
    if (c->tried != NULL && strcmp(c->tried, key->public_key_pem) == 0) {
        /* The refetch found the key that failed (or the floor kept it): no second try. */
        inbox_sigfail(c, httpsig_result_name(HTTPSIG_BAD_SIGNATURE), "signature does not verify");
        return;
    }
    metrics_add(M_VERIFY, "", 1);
    r = key->pkey != NULL
            ? httpsig_verify_pkey(&c->sig, &c->hreq, key->pkey, time(NULL), err, sizeof(err))
            : httpsig_verify(&c->sig, &c->hreq, key->public_key_pem, time(NULL), err, sizeof(err));
    if (r == HTTPSIG_BAD_SIGNATURE && !c->refreshed && key->from_cache) {
        /* The actor may have rotated its key: fetch it once more before refusing. */
        c->refreshed = 1;
        c->tried = xstrdup(key->public_key_pem);
        remote_key_lookup(app->remote, c->key_id, 1, inbox_key_cb, c);
        return;
    }
    if (r != HTTPSIG_OK) {
        inbox_sigfail(c, httpsig_result_name(r), err);
        return;
    }
    if (strcmp(key->actor_id, c->a.actor) != 0) {
        inbox_sigfail(c, "owner_mismatch", "the signing key does not belong to the actor");
        return;
    }
    c->inbox = xstrdup(key->inbox);
    c->shared = key->shared_inbox ? xstrdup(key->shared_inbox) : NULL;
    c->type = xstrdup(key->type);
    c->username = xstrdup(key->preferred_username);
    c->a.actor_inbox = c->inbox;
    c->a.actor_shared = c->shared;
    c->a.actor_type = c->type;
    c->a.actor_username = c->username;
    /* A host that talks to us is alive: lift its pause or dead mark. */
    queue_host_alive(app->queue, c->key_domain);
    /* A member's acct (seen by others, exported in CSV) is built from this name. */
    if (!activity_username_ok(c->a.actor_username) &&
        dispatch_classify(c->a.json, c->a.type, c->a.actor, app->relay_id, app->bridge_id) ==
            DISPATCH_JOIN) {
        log_info("member_join_refused", "actor=%s reason=preferred_username username=%s",
                 log_q(c->a.actor), log_q(c->a.actor_username));
        inbox_refuse(c, REPLY_ERR_BAD_REQUEST, "unjoinable",
                     "preferredUsername is not a username (letters, digits and '_', with '.' or "
                     "'-' between them, at most 64)");
        return;
    }
    groupcommit_add(app->group, &c->a, inbox_dispatched_cb, c);
}
