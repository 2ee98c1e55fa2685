/* The Mastodon client API as the grant (oauth.c) and the follow worker (follow.c) both speak it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "config.h"
#include "httpc.h"
#include "form.h"
#include "jsonobj.h"
#include "mastoapi.h"
#include "queue.h"
#include "retry.h"
#include "seal.h"
#include "url.h"
#include "xmalloc.h"

#define MASTOAPI_MAX_DEPTH 16 /* JSON nesting in Application, Token, Account and Relationship */
#define MASTOAPI_MAX_BODY  (256 * 1024)

int
mastoapi_home(const struct config *cfg, const char *actor_uri, char *origin, size_t originlen,
              char *host, size_t hostlen)
{
    char h[URL_AUTHORITY_MAX];
    int https;

    if (actor_uri == NULL || url_authority(actor_uri, h, sizeof(h)) < 0)
        return -1;
    https = strncasecmp(actor_uri, "https://", 8) == 0;
    if (!https && !cfg->allow_private_fetch)
        return -1; /* tokens travel only over TLS; plain http is for loopback tests */
    if ((size_t)snprintf(origin, originlen, "%s://%s", https ? "https" : "http", h) >= originlen ||
        (size_t)snprintf(host, hostlen, "%s", h) >= hostlen)
        return -1;
    return 0;
}

void
mastoapi_grant_ad(const char *member_id, const char *host, char *out, size_t outlen)
{
    snprintf(out, outlen, "grant:%s:%s", member_id, host);
}

struct json_object *
mastoapi_parse_object(const char *body, size_t len)
{
    return jsonobj_parse(body, len, MASTOAPI_MAX_BODY, MASTOAPI_MAX_DEPTH);
}

struct json_object *
mastoapi_parse_array(const char *body, size_t len)
{
    return jsonobj_parse_array(body, len, MASTOAPI_MAX_BODY, MASTOAPI_MAX_DEPTH);
}

/* "2024-05-01T12:05:00.000000Z", "...+02:00" or without the fraction; -1 otherwise. */
static long long
mastoapi_iso8601(const char *s)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, n = 0;
    long long t;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return -1;
    s += n;
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s); s++)
            ;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = (long long)timegm(&tm);
    if (*s == 'Z' && s[1] == '\0')
        return t;
    if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
        s[3] == ':' && isdigit((unsigned char)s[4]) && isdigit((unsigned char)s[5]) &&
        s[6] == '\0') {
        long long off =
            ((s[1] - '0') * 10 + (s[2] - '0')) * 3600LL + ((s[4] - '0') * 10 + (s[5] - '0')) * 60LL;

        return *s == '+' ? t - off : t + off;
    }
    return -1;
}

long long
mastoapi_reset_time(const char *ratelimit_reset, const char *retry_after, long long now)
{
    if (ratelimit_reset != NULL) {
        const char *p = ratelimit_reset;
        long long t = -1;

        while (*p == ' ')
            p++;
        if (strchr(p, 'T') != NULL)
            t = mastoapi_iso8601(p);
        else if (*p != '\0' && strspn(p, "0123456789") == strlen(p) && strlen(p) <= 12)
            t = strtoll(p, NULL, 10); /* Unix seconds, as some servers send */
        if (t >= 0)
            return t;
    }
    if (retry_after != NULL) {
        long long ms = retry_after_ms(retry_after, (time_t)now);

        if (ms >= 0)
            return now + (ms + 999) / 1000;
    }
    return -1;
}

void
mastoapi_bearer(struct httpc *h, const char *origin, const char *token, const char *method,
                const char *path, const char *value, const char *rest,
                void (*cb)(const struct httpc_response *resp, void *arg), void *arg)
{
    char *auth = xasprintf("Authorization: Bearer %s", token);
    char *enc = evhttp_uriencode(value, -1, 0);
    char *url = xasprintf("%s%s%s%s", origin, path, enc, rest);
    const char *headers[3] = { auth, "Accept: application/json", "Content-Type: application/json" };
    struct httpc_req hr = { 0 };
    int post = strcmp(method, "POST") == 0;

    hr.method = method;
    hr.url = url;
    hr.headers = headers;
    hr.nheaders = post ? 3 : 2;
    hr.body = post ? "{}" : NULL;
    hr.body_len = post ? 2 : 0;
    httpc_request(h, &hr, cb, arg);
    seal_wipe_free(auth);
    free(enc);
    free(url);
}

long long
mastoapi_limited_wait_ms(const struct httpc_response *resp, long long fallback_ms, long long max_ms)
{
    long long now = (long long)time(NULL);
    long long reset = mastoapi_reset_time(httpc_response_header(resp, "X-RateLimit-Reset"),
                                          httpc_response_header(resp, "Retry-After"), now);
    long long wait = reset >= 0 ? (reset - now) * 1000 : fallback_ms;

    if (wait < 1000)
        wait = 1000;
    if (wait > max_ms)
        wait = max_ms;
    return wait;
}

void
mastoapi_form_add(char **buf, const char *name, const char *value)
{
    form_add(buf, name, value);
}

const char *
mastoapi_str(struct json_object *o, const char *key, size_t max)
{
    struct json_object *v = NULL;

    if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return (size_t)json_object_get_string_len(v) <= max ? json_object_get_string(v) : NULL;
}

enum mastoapi_whose
mastoapi_account_whose(struct json_object *account, const char *actor_uri, const char *acct)
{
    const char *id, *uri, *username, *url;
    size_t ulen = strcspn(acct, "@");

    id = account != NULL ? mastoapi_str(account, "id", 256) : NULL;
    username = account != NULL ? mastoapi_str(account, "username", 256) : NULL;
    if (id == NULL || *id == '\0' || username == NULL)
        return MASTOAPI_ACCOUNT_MALFORMED;
    /* Mastodon 4.2 and later name the account's ActivityPub id: that settles it. */
    uri = mastoapi_str(account, "uri", 2048);
    if (uri != NULL)
        return strcmp(uri, actor_uri) == 0 ? MASTOAPI_ACCOUNT_MEMBER : MASTOAPI_ACCOUNT_OTHER;
    /*
     * Without it: the same local name (Mastodon's usernames ignore case), and a profile URL on
     * the member's own server (Pleroma's url is the actor id; Mastodon's https://host/@name).
     */
    url = mastoapi_str(account, "url", 2048);
    if (url == NULL)
        return MASTOAPI_ACCOUNT_MALFORMED;
    if (strlen(username) != ulen || strncasecmp(username, acct, ulen) != 0)
        return MASTOAPI_ACCOUNT_OTHER;
    if (strcmp(url, actor_uri) == 0)
        return MASTOAPI_ACCOUNT_MEMBER;
    return url_same_origin(url, actor_uri) ? MASTOAPI_ACCOUNT_MEMBER : MASTOAPI_ACCOUNT_OTHER;
}

/* One verify_credentials call; owns only itself. */
struct mastoapi_call {
    mastoapi_account_fn cb;
    void *arg;
};

static void
mastoapi_account_cb(const struct httpc_response *resp, void *arg)
{
    struct mastoapi_call *c = arg;
    struct json_object *o = NULL;

    if (resp->error == HTTPC_OK && resp->status == 200)
        o = mastoapi_parse_object(resp->body, resp->body_len);
    c->cb(resp, o, c->arg);
    json_object_put(o);
    free(c);
}

void
mastoapi_verify_credentials(struct httpc *h, const char *origin, const char *token,
                            mastoapi_account_fn cb, void *arg)
{
    struct mastoapi_call *c = xmalloc(sizeof(*c));
    char *auth = xasprintf("Authorization: Bearer %s", token);
    char *url = xasprintf("%s/api/v1/accounts/verify_credentials", origin);
    const char *headers[2] = { auth, "Accept: application/json" };
    struct httpc_req hr = { 0 };

    c->cb = cb;
    c->arg = arg;
    hr.method = "GET";
    hr.url = url;
    hr.headers = headers;
    hr.nheaders = 2;
    httpc_request(h, &hr, mastoapi_account_cb, c);
    seal_wipe_free(auth); /* httpc copied the header: leave no copy of the token behind */
    free(url);
}
