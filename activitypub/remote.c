/* Remote actors and their keys: signed GETs, document checks, a PostgreSQL cache, coalescing. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "db.h"
#include "apsign.h"
#include "httpc.h"
#include "httpsig.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "remote.h"
#include "url.h"
#include "xmalloc.h"

#define REMOTE_MAX_URL      2048  /* keyIds, ids, inboxes: longer is not a URL we keep */
#define REMOTE_MAX_PEM      16384 /* an RSA-8192 SPKI PEM is about 1.5 KiB */
#define REMOTE_MAX_NAME     256   /* preferredUsername */
#define REMOTE_MAX_DEPTH    32    /* JSON nesting; actor documents need about 5 */
#define REMOTE_MAX_KEYS     16    /* publicKey array entries looked at */
#define REMOTE_MAX_HOPS     4     /* documents fetched per lookup: key, by-id, owner, by-id */
#define REMOTE_MAX_ATTEMPTS 1024  /* keys remembered for the refresh floor */
#define REMOTE_PKEYS        64    /* parsed public keys kept, by their PEM */
#define REMOTE_MAX_HOSTS    4096  /* key hosts remembered while idle, for their back-off */
#define REMOTE_MAX_ALIASES  16    /* alsoKnownAs entries kept (Mastodon lets a user set 10) */
#define REMOTE_MAX_REFUSALS 4096  /* keyIds whose fetch failed, remembered for refusal_ttl */
#define REMOTE_ACCEPT                                                                              \
    "application/activity+json, application/ld+json; "                                             \
    "profile=\"https://www.w3.org/ns/activitystreams\""
#define REMOTE_AS_CONTEXT "https://www.w3.org/ns/activitystreams"

/* One caller waiting for a lookup. */
struct remote_waiter {
    remote_key_fn cb;
    void *arg;
    struct remote_waiter *next;
};

/*
 * One lookup of one keyId, shared by every caller that asks for it meanwhile. Owned by the
 * resolver's list until answered; while an httpc or db callback is pending (pending = 1)
 * that callback holds it too, so remote_free only detaches it (r = NULL) and the callback
 * frees it.
 */
struct remote_fetch {
    struct remote *r; /* NULL once detached by remote_free */
    char *key_id;
    int force;
    int joinable; /* 0 for an invalid keyId: nobody shares its answer */
    int fresh;    /* remote_actor_fetch: no cache either way, alsoKnownAs read, shared by none */
    int cache_done;
    int have_stale; /* the answer fields hold a cached row past its TTL */
    int pending;
    int fetching;           /* the pending callback is httpc's */
    int storing;            /* the pending callback is the cache write's: the answer is ready */
    int abandoned;          /* answered at its deadline; on r->abandoned until its callback runs */
    struct event *ev;       /* deferred answer when nothing async was started */
    struct event *deadline; /* answers the waiters however far the lookup got */
    struct remote_host *host; /* the keyId's host, once the network is needed */
    int held;                 /* callers counted in the fetch budget (remote_hold) */
    int runs_on;              /* abandoned while fetching: one unit of its host's budget */
    struct remote_waiter *waiters, **tail;
    struct timespec started;
    long long deadline_at; /* monotime_ms(): its fetches end there too (httpc_req.deadline_ms) */
    /* Network state. */
    char *url; /* document being fetched */
    int hops;
    int refetched;   /* the by-id refetch of the current target was used */
    int owner_stage; /* fetching the owner of a key document */
    const char *why; /* static reason for a failure, for the log */
    /* The answer. */
    enum remote_result result;
    int from_cache;
    char *actor_id, *kid, *pem, *inbox, *shared_inbox, *type, *username;
    char *aka[REMOTE_MAX_ALIASES]; /* fresh: the document's alsoKnownAs */
    size_t naka;
    TAILQ_ENTRY(remote_fetch) link;
};

/* A key fetched from the network recently: force_refresh waits out the floor. */
struct remote_attempt {
    char *key_id;
    time_t at; /* CLOCK_MONOTONIC seconds */
    TAILQ_ENTRY(remote_attempt) link;
};

/*
 * A keyId whose fetch was refused or found nothing reachable (transport error, 5xx, 401,
 * 403, 429, a private address): asked again only after refusal_ttl, so that a stream of
 * POSTs naming a dead keyId costs one fetch, not one each.
 */
struct remote_refusal {
    char *key_id;
    enum remote_result result;
    time_t until; /* CLOCK_MONOTONIC seconds */
    TAILQ_ENTRY(remote_refusal) link;
};

/*
 * A key host (host:port of keyIds) and its share of the fetch budget: callers waiting on
 * the network for one of its keys, plus fetches past their deadline that still run (httpc
 * cannot cancel them, so they go on taking its per-host slots). Those count against their
 * host only: the budget in all (r->held) counts the requests held, whatever their host.
 */
struct remote_host {
    char *name;
    int held;
    time_t slow_until; /* CLOCK_MONOTONIC seconds: not asked before, it timed out */
    TAILQ_ENTRY(remote_host) link;
};

/* A public key parsed from its PEM; slots are picked by a hash of the PEM. */
struct remote_pkey {
    char *pem;
    EVP_PKEY *key;
};

struct remote {
    struct event_base *base;
    struct db *db;
    struct httpc *h;
    EVP_PKEY *key;
    char *key_id;
    long ttl, floor;
    long deadline_ms, backoff, refusal_ttl;
    int max_per_host, max_total, held;
    TAILQ_HEAD(, remote_fetch) fetches;
    TAILQ_HEAD(, remote_fetch) abandoned; /* answered, their httpc or db callback pending */
    TAILQ_HEAD(, remote_host) hosts;      /* least recently used first */
    size_t nhosts;
    TAILQ_HEAD(, remote_attempt) attempts; /* oldest first */
    size_t nattempts;
    TAILQ_HEAD(, remote_refusal) refusals; /* oldest first */
    size_t nrefusals;
    struct remote_pkey pkeys[REMOTE_PKEYS];
};

/* A pending remote_actor_forget. */
struct remote_forget {
    remote_done_fn cb;
    void *arg;
};

/* Values the signing hook hands to httpsig through its header callback. */
static int remote_is_http(const char *url);
static time_t remote_now(void);
static int remote_recently_fetched(struct remote *r, const char *key_id);
static void remote_note_fetch(struct remote *r, const char *key_id);
static struct remote_fetch *remote_fetch_new(struct remote *r, const char *key_id, int force);
static void remote_fetch_free(struct remote_fetch *f);
static void remote_fetch_answer(struct remote_fetch *f);
static void remote_fetch_fail(struct remote_fetch *f, enum remote_result res, const char *why);
static void remote_fetch_done(struct remote_fetch *f);
static void remote_fetch_finish(struct remote_fetch *f);
static void remote_deadline_cb(evutil_socket_t fd, short what, void *arg);
static int remote_abandoned_end(struct remote_fetch *f);
static struct remote_host *remote_host_of(struct remote *r, const char *key_id);
static int remote_hold(struct remote_fetch *f, int n);
static void remote_release(struct remote_fetch *f);
static void remote_host_slow(struct remote_fetch *f);
static const struct remote_refusal *remote_refused(struct remote *r, const char *key_id);
static void remote_note_refusal(struct remote_fetch *f);
static void remote_refusal_free(struct remote *r, struct remote_refusal *x);
static void remote_busy(struct remote *r, struct remote_waiter *w, const char *why);
static void remote_prune(struct remote *r, time_t now);
static void remote_deferred_cb(evutil_socket_t fd, short what, void *arg);
static void remote_cache_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void remote_start_net(struct remote_fetch *f);
static void remote_get(struct remote_fetch *f);
static int remote_sign_cb(const char *method, const char *url, const char *body, size_t body_len,
                          struct httpc_hop_headers *out, void *arg);
static void remote_net_cb(const struct httpc_response *resp, void *arg);
static int remote_examine(struct remote_fetch *f, struct json_object *doc, const char *eff_url);
static void remote_store(struct remote_fetch *f);
static void remote_store_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void remote_forget_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg);
static void remote_forget_nodb_cb(evutil_socket_t fd, short what, void *arg);
static const char *remote_str(struct json_object *obj, const char *key, size_t max);
static const char *remote_actor_type(struct json_object *doc);
static int remote_has_as_context(struct json_object *doc);
static struct json_object *remote_find_key(struct json_object *doc, const char *key_id, int any);
static int remote_content_type_ok(const char *ct);
static struct json_object *remote_parse(const char *body, size_t len);
static void remote_set(char **dst, const char *src);
static void remote_aliases(struct remote_fetch *f, struct json_object *doc);
static EVP_PKEY *remote_parsed(struct remote *r, const char *pem);

const char *
remote_result_name(enum remote_result r)
{
    switch (r) {
    case REMOTE_OK:
        return "ok";
    case REMOTE_NOT_FOUND:
        return "not_found";
    case REMOTE_UNREACHABLE:
        return "unreachable";
    case REMOTE_INVALID:
        return "invalid";
    case REMOTE_REFUSED:
        return "refused";
    case REMOTE_GONE:
        return "gone";
    }
    return "unknown";
}

struct remote *
remote_new(struct event_base *base, struct db *db, struct httpc *h,
           const struct remote_options *opt)
{
    struct remote *r = xcalloc(1, sizeof(*r));

    r->base = base;
    r->db = db;
    r->h = h;
    r->key = opt != NULL ? opt->key : NULL;
    r->key_id = opt != NULL && opt->key_id != NULL ? xstrdup(opt->key_id) : NULL;
    r->ttl = opt != NULL && opt->ttl_seconds > 0 ? opt->ttl_seconds : 86400;
    r->floor = opt != NULL && opt->refresh_floor_seconds > 0 ? opt->refresh_floor_seconds : 60;
    r->deadline_ms = opt != NULL && opt->deadline_ms > 0 ? opt->deadline_ms : 10000;
    r->max_per_host = opt != NULL && opt->max_per_host > 0 ? opt->max_per_host : 128;
    r->max_total = opt != NULL && opt->max_total > 0 ? opt->max_total : 1024;
    r->backoff = opt != NULL && opt->backoff_seconds > 0 ? opt->backoff_seconds : 60;
    r->refusal_ttl = opt != NULL && opt->refusal_ttl_seconds > 0 ? opt->refusal_ttl_seconds : 30;
    if (r->key_id == NULL)
        r->key = NULL; /* a signature without a keyId helps nobody */
    TAILQ_INIT(&r->fetches);
    TAILQ_INIT(&r->abandoned);
    TAILQ_INIT(&r->hosts);
    TAILQ_INIT(&r->attempts);
    TAILQ_INIT(&r->refusals);
    metrics_describe("passerelle_remote_key_lookups_total", METRICS_COUNTER,
                     "Remote key lookups answered, by result and source (cache or fetch).");
    return r;
}

void
remote_free(struct remote *r)
{
    struct remote_fetch *f;
    struct remote_attempt *a;
    struct remote_host *hh;

    if (r == NULL)
        return;
    while ((f = TAILQ_FIRST(&r->abandoned)) != NULL) {
        TAILQ_REMOVE(&r->abandoned, f, link);
        f->r = NULL; /* its pending callback frees it */
    }
    while ((f = TAILQ_FIRST(&r->fetches)) != NULL) {
        TAILQ_REMOVE(&r->fetches, f, link);
        f->r = NULL;
        if (f->deadline != NULL)
            event_del(f->deadline); /* f may outlive r, waiting for its callback */
        f->result = REMOTE_UNREACHABLE;
        f->why = "shutdown";
        remote_fetch_answer(f);
        if (!f->pending)
            remote_fetch_free(f);
        /* else the pending httpc or db callback sees r == NULL and frees it. */
    }
    while ((a = TAILQ_FIRST(&r->attempts)) != NULL) {
        TAILQ_REMOVE(&r->attempts, a, link);
        free(a->key_id);
        free(a);
    }
    while (!TAILQ_EMPTY(&r->refusals))
        remote_refusal_free(r, TAILQ_FIRST(&r->refusals));
    while ((hh = TAILQ_FIRST(&r->hosts)) != NULL) {
        TAILQ_REMOVE(&r->hosts, hh, link);
        free(hh->name);
        free(hh);
    }
    for (size_t i = 0; i < REMOTE_PKEYS; i++) {
        free(r->pkeys[i].pem);
        EVP_PKEY_free(r->pkeys[i].key);
    }
    free(r->key_id);
    free(r);
}

void
remote_key_lookup(struct remote *r, const char *key_id, int force_refresh, remote_key_fn cb,
                  void *arg)
{
    struct remote_fetch *f;
    struct remote_waiter *w = xcalloc(1, sizeof(*w));
    static const char *const sql =
        "SELECT uri, key_id, public_key_pem, inbox, shared_inbox, type, preferred_username, "
        "EXTRACT(EPOCH FROM now() - fetched_at)::float8 FROM remote_actors "
        "WHERE key_id = $1 OR uri = $1 ORDER BY coalesce(key_id = $1, false) DESC LIMIT 1";

    w->cb = cb;
    w->arg = arg;
    if (key_id == NULL || strlen(key_id) > REMOTE_MAX_URL || !remote_is_http(key_id)) {
        f = remote_fetch_new(r, "", force_refresh);
        f->joinable = 0;
        *f->tail = w;
        f->tail = &w->next;
        remote_fetch_fail(f, REMOTE_INVALID, "bad_key_id");
        return;
    }
    TAILQ_FOREACH(f, &r->fetches, link) {
        if (f->joinable && !f->fresh && strcmp(f->key_id, key_id) == 0)
            break;
    }
    if (f != NULL) {
        /* Still reading the cache: a forced caller turns it into a refetch for everyone. */
        if (force_refresh && !f->cache_done)
            f->force = 1;
        /* Already on the network: one more caller waiting there, if the budget allows. */
        if (f->host != NULL && remote_hold(f, 1) < 0) {
            remote_busy(r, w, "busy");
            return;
        }
        *f->tail = w;
        f->tail = &w->next;
        return;
    }
    f = remote_fetch_new(r, key_id, force_refresh);
    *f->tail = w;
    f->tail = &w->next;
    if (r->db == NULL) {
        f->cache_done = 1;
        remote_start_net(f);
        return;
    }
    f->pending = 1;
    db_query(r->db, sql, 1, (const char *const *)&f->key_id, remote_cache_cb, f);
}

void
remote_actor_fetch(struct remote *r, const char *actor_id, remote_key_fn cb, void *arg)
{
    struct remote_waiter *w = xcalloc(1, sizeof(*w));
    int ok = actor_id != NULL && strlen(actor_id) <= REMOTE_MAX_URL && remote_is_http(actor_id) &&
             strchr(actor_id, '#') == NULL;
    struct remote_fetch *f = remote_fetch_new(r, ok ? actor_id : "", 1);

    w->cb = cb;
    w->arg = arg;
    *f->tail = w;
    f->tail = &w->next;
    f->fresh = 1;
    f->cache_done = 1;
    if (!ok) {
        f->joinable = 0;
        remote_fetch_fail(f, REMOTE_INVALID, "bad_actor_id");
        return;
    }
    remote_start_net(f);
}

void
remote_actor_forget(struct remote *r, const char *actor_id, remote_done_fn cb, void *arg)
{
    struct remote_forget *fg = xcalloc(1, sizeof(*fg));
    const char *params[1] = { actor_id != NULL ? actor_id : "" };

    fg->cb = cb;
    fg->arg = arg;
    if (r->db == NULL) {
        struct timeval zero = { 0, 0 };

        if (event_base_once(r->base, -1, EV_TIMEOUT, remote_forget_nodb_cb, fg, &zero) != 0)
            free(fg); /* only when the base is unusable; nobody is left to tell */
        return;
    }
    db_query(r->db, "DELETE FROM remote_actors WHERE uri = $1", 1, params, remote_forget_cb, fg);
}

/* --- lookups ------------------------------------------------------------------------------ */

static struct remote_fetch *
remote_fetch_new(struct remote *r, const char *key_id, int force)
{
    struct remote_fetch *f = xcalloc(1, sizeof(*f));

    f->r = r;
    f->key_id = xstrdup(key_id);
    f->force = force;
    f->joinable = 1;
    f->tail = &f->waiters;
    clock_gettime(CLOCK_MONOTONIC, &f->started);
    f->deadline_at = monotime_ms() + r->deadline_ms;
    TAILQ_INSERT_TAIL(&r->fetches, f, link);
    if (f->joinable && *key_id != '\0') {
        struct timeval tv = { r->deadline_ms / 1000, (r->deadline_ms % 1000) * 1000 };

        f->deadline = evtimer_new(r->base, remote_deadline_cb, f);
        evtimer_add(f->deadline, &tv);
    }
    return f;
}

static void
remote_fetch_free(struct remote_fetch *f)
{
    struct remote_waiter *w;

    while ((w = f->waiters) != NULL) {
        f->waiters = w->next;
        free(w);
    }
    if (f->ev != NULL)
        event_free(f->ev);
    if (f->deadline != NULL)
        event_free(f->deadline);
    free(f->key_id);
    free(f->url);
    free(f->actor_id);
    free(f->kid);
    free(f->pem);
    free(f->inbox);
    free(f->shared_inbox);
    free(f->type);
    free(f->username);
    for (size_t i = 0; i < f->naka; i++)
        free(f->aka[i]);
    free(f);
}

/*
 * pem parsed, from the slot its hash picks (a different PEM there is replaced). Every inbox
 * POST verifies with its sender's key, and decoding a PEM costs OpenSSL 3 several times
 * the RSA verification, so the keys in use stay parsed. NULL if pem is not an RSA key.
 */
static EVP_PKEY *
remote_parsed(struct remote *r, const char *pem)
{
    struct remote_pkey *slot;
    unsigned long h = 5381;

    if (pem == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)pem; *p != '\0'; p++)
        h = h * 33 + *p;
    slot = &r->pkeys[h % REMOTE_PKEYS];
    if (slot->pem != NULL && strcmp(slot->pem, pem) == 0)
        return slot->key;
    free(slot->pem);
    EVP_PKEY_free(slot->key);
    slot->pem = xstrdup(pem);
    slot->key = httpsig_public_key(pem);
    return slot->key;
}

/* Calls every waiter once with f's result; f must already be off the resolver's list. */
static void
remote_fetch_answer(struct remote_fetch *f)
{
    struct remote_key key;
    struct remote_waiter *w;
    struct timespec now;
    char labels[64];
    long ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (long)(now.tv_sec - f->started.tv_sec) * 1000 +
         (now.tv_nsec - f->started.tv_nsec) / 1000000;
    snprintf(labels, sizeof(labels), "result=\"%s\",source=\"%s\"", remote_result_name(f->result),
             f->from_cache ? "cache" : "fetch");
    metrics_add("passerelle_remote_key_lookups_total", labels, 1);
    if (f->result == REMOTE_OK && f->from_cache)
        log_debug("remote_key", "key_id=%s actor=%s source=cache hops=%d ms=%ld", log_q(f->key_id),
                  log_q(f->actor_id), f->hops, ms);
    else if (f->result == REMOTE_OK)
        log_info("remote_key", "key_id=%s actor=%s source=fetch hops=%d ms=%ld", log_q(f->key_id),
                 log_q(f->actor_id), f->hops, ms);
    else
        log_warn("remote_key_failed", "key_id=%s result=%s why=%s url=%s hops=%d ms=%ld",
                 log_q(f->key_id), remote_result_name(f->result), f->why != NULL ? f->why : "-",
                 log_q(f->url), f->hops, ms);

    memset(&key, 0, sizeof(key));
    key.actor_id = f->actor_id;
    key.key_id = f->kid;
    key.public_key_pem = f->pem;
    key.inbox = f->inbox;
    key.shared_inbox = f->shared_inbox;
    key.type = f->type;
    key.preferred_username = f->username;
    key.from_cache = f->from_cache;
    key.also_known_as = (const char *const *)f->aka;
    key.n_also_known_as = f->naka;
    if (f->result == REMOTE_OK && f->r != NULL)
        key.pkey = remote_parsed(f->r, f->pem);
    if (f->r != NULL)
        remote_release(f); /* before the callbacks, which may look up again */
    /* Taken off f first: a callback may start another lookup, even of the same key. */
    while ((w = f->waiters) != NULL) {
        f->waiters = w->next;
        w->cb(f->result, f->result == REMOTE_OK ? &key : NULL, w->arg);
        free(w);
    }
    f->tail = &f->waiters;
}

/* Ends the lookup from the loop: now if we are in a callback, else through a zero timer. */
static void
remote_fetch_fail(struct remote_fetch *f, enum remote_result res, const char *why)
{
    struct timeval zero = { 0, 0 };

    f->result = res;
    f->why = why;
    f->ev = evtimer_new(f->r->base, remote_deferred_cb, f);
    evtimer_add(f->ev, &zero);
}

static void
remote_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
    struct remote_fetch *f = arg;

    (void)fd;
    (void)what;
    TAILQ_REMOVE(&f->r->fetches, f, link);
    remote_fetch_finish(f);
    remote_fetch_answer(f);
    remote_fetch_free(f);
}

/* The answer is in f: off the list, answer, free. Only from an httpc or db callback. */
static void
remote_fetch_done(struct remote_fetch *f)
{
    TAILQ_REMOVE(&f->r->fetches, f, link);
    remote_fetch_finish(f);
    remote_fetch_answer(f);
    remote_fetch_free(f);
}

/*
 * A stale key beats none while its server is unreachable; a forced refresh asked for a
 * new key, so it gets the error (the inbox answers 503 and the sender retries).
 */
static void
remote_fetch_finish(struct remote_fetch *f)
{
    if (f->result == REMOTE_UNREACHABLE && f->have_stale && !f->force) {
        log_info("remote_key_stale", "key_id=%s why=%s", log_q(f->key_id),
                 f->why != NULL ? f->why : "-");
        f->result = REMOTE_OK;
        f->from_cache = 1;
    }
}

/*
 * The lookup ran out of time, wherever it waits: a connection slot, the key's server, the
 * database. Its callers get their answer now; f waits on r->abandoned for the callback it
 * is pending on, and a fetch still running keeps one unit of its host's budget till then.
 */
static void
remote_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct remote_fetch *f = arg;
    struct remote *r = f->r;

    (void)fd;
    (void)what;
    if (r == NULL || !f->pending)
        return; /* detached by remote_free, or a deferred answer is already on its way */
    if (!f->storing) {
        f->result = REMOTE_UNREACHABLE;
        f->why = "deadline";
    }
    if (f->fetching)
        remote_host_slow(f);
    TAILQ_REMOVE(&r->fetches, f, link);
    TAILQ_INSERT_TAIL(&r->abandoned, f, link);
    f->abandoned = 1;
    if (f->fetching) {
        /* Beyond the cap if need be: the fetch does run. Taken first, so that the host
         * stays known while the callbacks below look other keys up. */
        f->host->held++;
        f->runs_on = 1;
    }
    remote_fetch_finish(f);
    remote_fetch_answer(f); /* releases the callers' units */
}

/* The callback an abandoned f was pending on has run: 1 if f is gone (freed). */
static int
remote_abandoned_end(struct remote_fetch *f)
{
    if (f->r == NULL) {
        remote_fetch_free(f);
        return 1;
    }
    if (!f->abandoned)
        return 0;
    if (f->runs_on)
        f->host->held--;
    TAILQ_REMOVE(&f->r->abandoned, f, link);
    remote_fetch_free(f);
    return 1;
}

static void
remote_cache_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct remote_fetch *f = arg;
    struct remote *r = f->r;
    double age;
    int i, usable;

    f->pending = 0;
    if (r == NULL || f->abandoned) {
        if (res != NULL)
            PQclear(res);
        remote_abandoned_end(f);
        return;
    }
    f->cache_done = 1;
    if (outcome != DB_OK) {
        /* The network still knows the key; the cache is an optimisation. */
        log_warn("remote_cache_read_failed", "outcome=%d err=%s", (int)outcome, log_q(err));
        remote_start_net(f);
        return;
    }
    usable = PQntuples(res) == 1;
    for (i = 0; usable && i < 8; i++) {
        if (i != 4 && PQgetisnull(res, 0, i))
            usable = 0; /* a row someone else wrote without a key */
    }
    /* A key stored before today's limits (httpsig_public_key) is fetched again. */
    if (usable && remote_parsed(r, PQgetvalue(res, 0, 2)) == NULL)
        usable = 0;
    if (!usable) {
        PQclear(res);
        remote_start_net(f);
        return;
    }
    age = strtod(PQgetvalue(res, 0, 7), NULL);
    remote_set(&f->actor_id, PQgetvalue(res, 0, 0));
    remote_set(&f->kid, PQgetvalue(res, 0, 1));
    remote_set(&f->pem, PQgetvalue(res, 0, 2));
    remote_set(&f->inbox, PQgetvalue(res, 0, 3));
    remote_set(&f->shared_inbox, PQgetisnull(res, 0, 4) ? NULL : PQgetvalue(res, 0, 4));
    remote_set(&f->type, PQgetvalue(res, 0, 5));
    remote_set(&f->username, PQgetvalue(res, 0, 6));
    f->have_stale = 1; /* remote_examine replaces all of them together, or none */
    if ((!f->force && age < (double)r->ttl) ||
        (f->force && (age < (double)r->floor || remote_recently_fetched(r, f->key_id)))) {
        f->from_cache = 1;
        f->result = REMOTE_OK;
        PQclear(res);
        remote_fetch_done(f);
        return;
    }
    PQclear(res);
    remote_start_net(f);
}

static void
remote_start_net(struct remote_fetch *f)
{
    const struct remote_refusal *x;
    int n = 0;

    /* Asked and refused a moment ago: the same answer, with no fetch (a stale key may win). */
    if (!f->fresh && (x = remote_refused(f->r, f->key_id)) != NULL) {
        remote_fetch_fail(f, x->result, "refused_recently");
        return;
    }
    for (struct remote_waiter *w = f->waiters; w != NULL; w = w->next)
        n++;
    f->host = remote_host_of(f->r, f->key_id);
    if (f->host == NULL) {
        remote_fetch_fail(f, REMOTE_INVALID, "bad_key_id");
        return;
    }
    /* Refused with f->host dropped: an idle entry may be forgotten before the answer. */
    if (f->host->slow_until > remote_now()) {
        f->host = NULL;
        remote_fetch_fail(f, REMOTE_UNREACHABLE, "host_backoff");
        return;
    }
    if (remote_hold(f, n) < 0) {
        f->host = NULL;
        remote_fetch_fail(f, REMOTE_UNREACHABLE, "busy");
        return;
    }
    remote_note_fetch(f->r, f->key_id);
    f->url = httpsig_keyid_actor_candidate(f->key_id);
    if (f->url == NULL) {
        remote_fetch_fail(f, REMOTE_INVALID, "bad_key_id"); /* deferred: may run in lookup */
        return;
    }
    remote_get(f);
}

static void
remote_get(struct remote_fetch *f)
{
    const char *hdrs[1] = { "Accept: " REMOTE_ACCEPT };
    struct httpc_req req;

    f->hops++;
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = f->url;
    req.headers = hdrs;
    req.nheaders = 1;
    req.sign = remote_sign_cb;
    req.sign_arg = f;
    /* Its callers stop waiting at the deadline: the fetch, queued or running, stops too. */
    req.deadline_ms = f->deadline_at;
    f->pending = 1;
    f->fetching = 1;
    httpc_request(f->r->h, &req, remote_net_cb, f);
}

/* Signs each hop as our relay actor: (request-target) host date accept, rsa-sha256. */
static int
remote_sign_cb(const char *method, const char *url, const char *body, size_t body_len,
               struct httpc_hop_headers *out, void *arg)
{
    struct remote_fetch *f = arg;
    char err[128];

    if (f->r == NULL)
        return -1; /* detached: our key may be gone */
    if (f->r->key == NULL)
        return 0;
    if (apsign_hop(f->r->key, f->r->key_id, method, url, body, body_len, REMOTE_ACCEPT, out, err,
                   sizeof(err)) < 0) {
        log_error("remote_sign_failed", "err=%s", log_q(err));
        return -1;
    }
    return 0;
}

static void
remote_net_cb(const struct httpc_response *resp, void *arg)
{
    struct remote_fetch *f = arg;
    struct json_object *doc;
    int next;

    f->pending = 0;
    f->fetching = 0;
    if (f->r != NULL && resp->error == HTTPC_ERR_TIMEOUT)
        remote_host_slow(f);
    if (remote_abandoned_end(f))
        return;
    if (resp->error != HTTPC_OK) {
        f->why = httpc_error_name(resp->error);
        switch (resp->error) {
        case HTTPC_ERR_REFUSED_ADDRESS:
            f->result = REMOTE_REFUSED;
            break;
        case HTTPC_ERR_TOO_LARGE:
        case HTTPC_ERR_TOO_MANY_REDIRECTS:
            f->result = REMOTE_INVALID;
            break;
        default:
            f->result = REMOTE_UNREACHABLE;
            break;
        }
        remote_note_refusal(f);
        remote_fetch_done(f);
        return;
    }
    if (resp->status != 200) {
        f->why = "status";
        if (resp->status == 404)
            f->result = REMOTE_NOT_FOUND;
        else if (resp->status == 410)
            f->result = REMOTE_GONE;
        else if (resp->status >= 200 && resp->status < 400)
            f->result = REMOTE_INVALID;
        else
            f->result = REMOTE_UNREACHABLE;
        log_info("remote_fetch_status", "url=%s status=%ld", log_q(f->url), resp->status);
        remote_note_refusal(f);
        remote_fetch_done(f);
        return;
    }
    if (!remote_content_type_ok(httpc_response_header(resp, "content-type"))) {
        f->result = REMOTE_INVALID;
        f->why = "content_type";
        remote_fetch_done(f);
        return;
    }
    doc = remote_parse(resp->body, resp->body_len);
    if (doc == NULL) {
        f->result = REMOTE_INVALID;
        f->why = "json";
        remote_fetch_done(f);
        return;
    }
    next = remote_examine(f, doc, resp->effective_url);
    json_object_put(doc);
    if (next < 0) {
        f->result = REMOTE_INVALID;
        remote_fetch_done(f);
    } else if (next > 0) {
        if (f->hops >= REMOTE_MAX_HOPS) {
            f->result = REMOTE_INVALID;
            f->why = "too_many_hops";
            remote_fetch_done(f);
            return;
        }
        remote_get(f);
    } else if (f->fresh) {
        /* Stored by the keyId that found it, an actor URL would take the row's place. */
        f->result = REMOTE_OK;
        remote_fetch_done(f);
    } else {
        f->result = REMOTE_OK;
        remote_store(f);
    }
}

/*
 * Decides what a fetched document means for f: -1 refused (f->why set), 1 fetch f->url
 * next, 0 the answer is in f.
 */
static int
remote_examine(struct remote_fetch *f, struct json_object *doc, const char *eff_url)
{
    struct json_object *entry, *endpoints;
    const char *id, *type, *owner, *pem, *inbox, *shared, *name;

    id = remote_str(doc, "id", REMOTE_MAX_URL);
    if (id == NULL || !remote_is_http(id)) {
        f->why = "no_id";
        return -1;
    }
    /* Whatever redirects happened, the server that answered speaks for the id's origin. */
    if (!url_same_origin(id, eff_url)) {
        f->why = "id_origin";
        return -1;
    }
    if (strcmp(id, f->url) != 0) {
        /* Mastodon's rule: fetch again by the id, which must then match exactly. */
        if (f->refetched) {
            f->why = "id_mismatch";
            return -1;
        }
        f->refetched = 1;
        remote_set(&f->url, id);
        return 1;
    }
    type = remote_actor_type(doc);
    entry = remote_find_key(doc, f->key_id, 0);
    /* A plain actor URL as keyId: the actor's first key. */
    if (entry == NULL && type != NULL && strcmp(id, f->key_id) == 0)
        entry = remote_find_key(doc, NULL, 1);
    if (entry == NULL) {
        f->why = "key_not_listed";
        return -1;
    }
    owner = remote_str(entry, "owner", REMOTE_MAX_URL);
    if (owner != NULL && strcmp(owner, id) != 0) {
        /* A key document or a stub actor: the owner itself must list the key. */
        if (f->owner_stage) {
            f->why = "owner_mismatch";
            return -1;
        }
        if (!remote_is_http(owner) || !url_same_origin(owner, f->key_id)) {
            f->why = "owner_origin";
            return -1;
        }
        f->owner_stage = 1;
        f->refetched = 0;
        remote_set(&f->url, owner);
        return 1;
    }
    if (type == NULL) {
        f->why = "not_an_actor";
        return -1;
    }
    if (!remote_has_as_context(doc)) {
        f->why = "context";
        return -1;
    }
    pem = remote_str(entry, "publicKeyPem", REMOTE_MAX_PEM);
    inbox = remote_str(doc, "inbox", REMOTE_MAX_URL);
    name = remote_str(doc, "preferredUsername", REMOTE_MAX_NAME);
    if (pem == NULL || strncmp(pem, "-----BEGIN ", 11) != 0) {
        f->why = "no_pem";
        return -1;
    }
    if (remote_parsed(f->r, pem) == NULL) {
        f->why = "bad_key"; /* not RSA, or outside the sizes httpsig_public_key accepts */
        return -1;
    }
    if (inbox == NULL || !remote_is_http(inbox)) {
        f->why = "no_inbox";
        return -1;
    }
    /*
     * An actor speaks for its own server only: an inbox elsewhere would have the bridge send
     * signed POSTs (and retry them for days) wherever the actor's author likes.
     */
    if (!url_same_origin(inbox, id)) {
        f->why = "inbox_origin";
        return -1;
    }
    if (name == NULL || name[strspn(name, " \t\r\n")] == '\0') {
        f->why = "no_preferred_username";
        return -1;
    }
    shared = NULL;
    if (json_object_object_get_ex(doc, "endpoints", &endpoints) &&
        json_object_is_type(endpoints, json_type_object))
        shared = remote_str(endpoints, "sharedInbox", REMOTE_MAX_URL);
    if (shared == NULL)
        shared = remote_str(doc, "sharedInbox", REMOTE_MAX_URL);
    if (shared != NULL && !remote_is_http(shared))
        shared = NULL;
    if (shared != NULL && !url_same_origin(shared, id)) {
        /* Ignored, as an inbox elsewhere is refused: the actor's own inbox still reaches it. */
        log_info("remote_shared_inbox_ignored", "actor=%s shared_inbox=%s", log_q(id),
                 log_q(shared));
        shared = NULL;
    }
    remote_set(&f->actor_id, id);
    /*
     * The keyId that found the key, not the id the document gives it: with a plain actor
     * URL as keyId that id is the document's choice, and another actor's keyId there
     * would take over (and delete) that actor's row in the cache.
     */
    remote_set(&f->kid, f->key_id);
    remote_set(&f->pem, pem);
    remote_set(&f->inbox, inbox);
    remote_set(&f->shared_inbox, shared);
    remote_set(&f->type, type);
    remote_set(&f->username, name);
    if (f->fresh)
        remote_aliases(f, doc);
    return 0;
}

/* The http(s) ids doc's alsoKnownAs names (a string, or an array of strings or objects). */
static void
remote_aliases(struct remote_fetch *f, struct json_object *doc)
{
    struct json_object *v, *e, *id;
    size_t n;

    if (!json_object_object_get_ex(doc, "alsoKnownAs", &v))
        return;
    n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 1;
    for (size_t i = 0; i < n && i < 64 && f->naka < REMOTE_MAX_ALIASES; i++) {
        e = json_object_is_type(v, json_type_array) ? json_object_array_get_idx(v, i) : v;
        if (json_object_is_type(e, json_type_object) && json_object_object_get_ex(e, "id", &id))
            e = id;
        if (!json_object_is_type(e, json_type_string) ||
            (size_t)json_object_get_string_len(e) > REMOTE_MAX_URL ||
            !remote_is_http(json_object_get_string(e)))
            continue;
        f->aka[f->naka++] = xstrdup(json_object_get_string(e));
    }
}

static void
remote_store(struct remote_fetch *f)
{
    /* A key moves with its actor: drop another row claiming the same key id. */
    static const char *const sql =
        "WITH gone AS (DELETE FROM remote_actors WHERE key_id = $2 AND uri <> $1) "
        "INSERT INTO remote_actors (uri, key_id, public_key_pem, inbox, shared_inbox, type, "
        "preferred_username, fetched_at) VALUES ($1, $2, $3, $4, $5, $6, $7, now()) "
        "ON CONFLICT (uri) DO UPDATE SET key_id = EXCLUDED.key_id, "
        "public_key_pem = EXCLUDED.public_key_pem, inbox = EXCLUDED.inbox, "
        "shared_inbox = EXCLUDED.shared_inbox, type = EXCLUDED.type, "
        "preferred_username = EXCLUDED.preferred_username, fetched_at = now()";
    const char *params[7];

    if (f->r->db == NULL) {
        remote_fetch_done(f);
        return;
    }
    params[0] = f->actor_id;
    params[1] = f->kid;
    params[2] = f->pem;
    params[3] = f->inbox;
    params[4] = f->shared_inbox;
    params[5] = f->type;
    params[6] = f->username;
    f->pending = 1;
    f->storing = 1;
    db_query(f->r->db, sql, 7, params, remote_store_cb, f);
}

static void
remote_store_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct remote_fetch *f = arg;

    f->pending = 0;
    f->storing = 0;
    if (res != NULL)
        PQclear(res);
    if (remote_abandoned_end(f))
        return;
    /* The key is good either way; a failed write only costs a refetch later. */
    if (outcome != DB_OK)
        log_warn("remote_cache_write_failed", "actor=%s outcome=%d err=%s", log_q(f->actor_id),
                 (int)outcome, log_q(err));
    remote_fetch_done(f);
}

static void
remote_forget_cb(enum db_outcome outcome, PGresult *res, const char *err, void *arg)
{
    struct remote_forget *fg = arg;

    if (res != NULL)
        PQclear(res);
    if (outcome != DB_OK)
        log_warn("remote_forget_failed", "outcome=%d err=%s", (int)outcome, log_q(err));
    if (fg->cb != NULL)
        fg->cb(outcome == DB_OK ? 0 : -1, fg->arg);
    free(fg);
}

static void
remote_forget_nodb_cb(evutil_socket_t fd, short what, void *arg)
{
    struct remote_forget *fg = arg;

    (void)fd;
    (void)what;
    if (fg->cb != NULL)
        fg->cb(0, fg->arg);
    free(fg);
}

/* --- the refresh floor -------------------------------------------------------------------- */

static time_t
remote_now(void)
{
    return (time_t)(monotime_ms() / 1000);
}

static void
remote_prune(struct remote *r, time_t now)
{
    struct remote_attempt *a;

    while ((a = TAILQ_FIRST(&r->attempts)) != NULL &&
           (now - a->at >= r->floor || r->nattempts > REMOTE_MAX_ATTEMPTS)) {
        TAILQ_REMOVE(&r->attempts, a, link);
        r->nattempts--;
        free(a->key_id);
        free(a);
    }
}

static int
remote_recently_fetched(struct remote *r, const char *key_id)
{
    struct remote_attempt *a;

    remote_prune(r, remote_now());
    TAILQ_FOREACH(a, &r->attempts, link) {
        if (strcmp(a->key_id, key_id) == 0)
            return 1;
    }
    return 0;
}

static void
remote_note_fetch(struct remote *r, const char *key_id)
{
    struct remote_attempt *a = xcalloc(1, sizeof(*a));

    a->key_id = xstrdup(key_id);
    a->at = remote_now();
    TAILQ_INSERT_TAIL(&r->attempts, a, link);
    r->nattempts++;
    remote_prune(r, a->at);
}

/* --- keyIds refused a moment ago --------------------------------------------------------- */

static void
remote_refusal_free(struct remote *r, struct remote_refusal *x)
{
    TAILQ_REMOVE(&r->refusals, x, link);
    r->nrefusals--;
    free(x->key_id);
    free(x);
}

/* key_id's refusal while it holds, or NULL; the expired ones at the head go on the way. */
static const struct remote_refusal *
remote_refused(struct remote *r, const char *key_id)
{
    struct remote_refusal *x, *next;
    time_t now = remote_now();

    for (x = TAILQ_FIRST(&r->refusals); x != NULL; x = next) {
        next = TAILQ_NEXT(x, link);
        if (x->until <= now)
            remote_refusal_free(r, x); /* all entries share one ttl: the oldest end first */
        else if (strcmp(x->key_id, key_id) == 0)
            return x;
    }
    return NULL;
}

/*
 * Remembers f's refusal (unreachable or refused; not a timeout, which backs its whole host
 * off, nor anything fetched fresh) for refusal_ttl; the oldest goes beyond
 * REMOTE_MAX_REFUSALS.
 */
static void
remote_note_refusal(struct remote_fetch *f)
{
    struct remote *r = f->r;
    struct remote_refusal *x;

    if (r == NULL || f->fresh || !f->joinable ||
        (f->result != REMOTE_UNREACHABLE && f->result != REMOTE_REFUSED))
        return;
    if (remote_refused(r, f->key_id) != NULL)
        return;
    while (r->nrefusals >= REMOTE_MAX_REFUSALS)
        remote_refusal_free(r, TAILQ_FIRST(&r->refusals));
    x = xcalloc(1, sizeof(*x));
    x->key_id = xstrdup(f->key_id);
    x->result = f->result;
    x->until = remote_now() + r->refusal_ttl;
    TAILQ_INSERT_TAIL(&r->refusals, x, link);
    r->nrefusals++;
}

/* --- the fetch budget and back-off of key hosts ------------------------------------------ */

/* The entry of key_id's host:port, made if need be (most recent last); NULL if no host. */
static struct remote_host *
remote_host_of(struct remote *r, const char *key_id)
{
    struct remote_host *hh, *next;
    char scheme[8], host[URL_HOST_MAX + 1], name[300];
    long port;
    time_t now = remote_now();

    if (url_origin(key_id, scheme, sizeof(scheme), host, sizeof(host), &port) < 0)
        return NULL;
    snprintf(name, sizeof(name), "%s:%ld", host, port);
    for (hh = TAILQ_FIRST(&r->hosts); hh != NULL; hh = next) {
        next = TAILQ_NEXT(hh, link);
        if (strcmp(hh->name, name) == 0)
            break;
        /* Idle and forgiven, or the oldest idle ones when there are too many. */
        if (hh->held == 0 && (hh->slow_until <= now || r->nhosts > REMOTE_MAX_HOSTS)) {
            TAILQ_REMOVE(&r->hosts, hh, link);
            r->nhosts--;
            free(hh->name);
            free(hh);
        }
    }
    if (hh == NULL) {
        hh = xcalloc(1, sizeof(*hh));
        hh->name = xstrdup(name);
        r->nhosts++;
    } else {
        TAILQ_REMOVE(&r->hosts, hh, link);
    }
    TAILQ_INSERT_TAIL(&r->hosts, hh, link);
    return hh;
}

/* Takes n units of the budget for f's host: -1 (nothing taken) beyond either cap. */
static int
remote_hold(struct remote_fetch *f, int n)
{
    struct remote *r = f->r;

    if (f->host->held + n > r->max_per_host || r->held + n > r->max_total) {
        log_warn("remote_key_busy", "key_id=%s host=%s held=%d total=%d", log_q(f->key_id),
                 log_q(f->host->name), f->host->held, r->held);
        return -1;
    }
    f->host->held += n;
    r->held += n;
    f->held += n;
    return 0;
}

static void
remote_release(struct remote_fetch *f)
{
    if (f->held == 0)
        return;
    f->host->held -= f->held;
    f->r->held -= f->held;
    f->held = 0;
}

static void
remote_host_slow(struct remote_fetch *f)
{
    if (f->host == NULL)
        return;
    if (f->host->slow_until <= remote_now())
        log_warn("remote_host_backoff", "host=%s seconds=%ld", log_q(f->host->name), f->r->backoff);
    f->host->slow_until = remote_now() + f->r->backoff;
}

/* Answers one caller (from the loop) that the key's host has no budget left. */
static void
remote_busy(struct remote *r, struct remote_waiter *w, const char *why)
{
    struct remote_fetch *f = remote_fetch_new(r, "", 0);

    f->joinable = 0;
    *f->tail = w;
    f->tail = &w->next;
    remote_fetch_fail(f, REMOTE_UNREACHABLE, why);
}

/* --- small helpers ------------------------------------------------------------------------ */

static int
remote_is_http(const char *url)
{
    return strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "http://", 7) == 0;
}

/* A string member no longer than max, or NULL. Borrowed from obj. */
static const char *
remote_str(struct json_object *obj, const char *key, size_t max)
{
    struct json_object *v;

    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    if ((size_t)json_object_get_string_len(v) > max)
        return NULL;
    return json_object_get_string(v);
}

/* The actor type of doc (a string, or the first actor type in an array), or NULL. */
static const char *
remote_actor_type(struct json_object *doc)
{
    static const char *const types[] = { "Application", "Group", "Organization", "Person",
                                         "Service" };
    struct json_object *t, *e;
    size_t i, j, n;

    if (!json_object_object_get_ex(doc, "type", &t))
        return NULL;
    n = json_object_is_type(t, json_type_array) ? json_object_array_length(t) : 1;
    for (j = 0; j < n && j < 8; j++) {
        e = json_object_is_type(t, json_type_array) ? json_object_array_get_idx(t, j) : t;
        if (!json_object_is_type(e, json_type_string))
            continue;
        for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
            if (strcmp(json_object_get_string(e), types[i]) == 0)
                return types[i];
        }
    }
    return NULL;
}

static int
remote_has_as_context(struct json_object *doc)
{
    struct json_object *c, *e;
    size_t i, n;

    if (!json_object_object_get_ex(doc, "@context", &c))
        return 0;
    if (json_object_is_type(c, json_type_string))
        return strcmp(json_object_get_string(c), REMOTE_AS_CONTEXT) == 0;
    if (!json_object_is_type(c, json_type_array))
        return 0;
    n = json_object_array_length(c);
    for (i = 0; i < n && i < 32; i++) {
        e = json_object_array_get_idx(c, i);
        if (json_object_is_type(e, json_type_string) &&
            strcmp(json_object_get_string(e), REMOTE_AS_CONTEXT) == 0)
            return 1;
    }
    return 0;
}

/*
 * The key object of doc whose id is key_id (any = 1: the first one with a PEM): an entry
 * of publicKey (object or array), or doc itself when it is a key document. Borrowed.
 */
static struct json_object *
remote_find_key(struct json_object *doc, const char *key_id, int any)
{
    struct json_object *pk, *e;
    const char *id;
    size_t i, n;

    if (!any && remote_str(doc, "publicKeyPem", REMOTE_MAX_PEM) != NULL &&
        (id = remote_str(doc, "id", REMOTE_MAX_URL)) != NULL && strcmp(id, key_id) == 0)
        return doc;
    if (!json_object_object_get_ex(doc, "publicKey", &pk))
        return NULL;
    n = json_object_is_type(pk, json_type_array) ? json_object_array_length(pk) : 1;
    for (i = 0; i < n && i < REMOTE_MAX_KEYS; i++) {
        e = json_object_is_type(pk, json_type_array) ? json_object_array_get_idx(pk, i) : pk;
        if (!json_object_is_type(e, json_type_object))
            continue;
        if (remote_str(e, "publicKeyPem", REMOTE_MAX_PEM) == NULL)
            continue;
        if (any)
            return e;
        id = remote_str(e, "id", REMOTE_MAX_URL);
        if (id != NULL && strcmp(id, key_id) == 0)
            return e;
    }
    return NULL;
}

/* activity+json, ld+json (any profile) or plain json, whatever the parameters. */
static int
remote_content_type_ok(const char *ct)
{
    static const char *const ok[] = { "application/activity+json", "application/ld+json",
                                      "application/json" };
    size_t i, len;

    if (ct == NULL)
        return 0;
    while (*ct == ' ')
        ct++;
    len = strcspn(ct, "; \t");
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (len == strlen(ok[i]) && strncasecmp(ct, ok[i], len) == 0)
            return 1;
    }
    return 0;
}

/* A JSON object from body (already capped by httpc), depth-limited; NULL otherwise. */
static struct json_object *
remote_parse(const char *body, size_t len)
{
    struct json_tokener *tok;
    struct json_object *doc;
    size_t end;

    if (body == NULL || len == 0 || len > 64u * 1024 * 1024)
        return NULL;
    tok = json_tokener_new_ex(REMOTE_MAX_DEPTH);
    if (tok == NULL)
        return NULL;
    doc = json_tokener_parse_ex(tok, body, (int)len);
    end = json_tokener_get_parse_end(tok);
    if (doc != NULL && json_tokener_get_error(tok) == json_tokener_success) {
        while (end < len && isspace((unsigned char)body[end]))
            end++;
    }
    if (doc == NULL || json_tokener_get_error(tok) != json_tokener_success || end != len ||
        !json_object_is_type(doc, json_type_object)) {
        json_object_put(doc);
        doc = NULL;
    }
    json_tokener_free(tok);
    return doc;
}

static void
remote_set(char **dst, const char *src)
{
    char *copy = src != NULL ? xstrdup(src) : NULL;

    free(*dst);
    *dst = copy;
}
