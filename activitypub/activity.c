/* The activities our actors author: Accept, Reject, Follow, Undo, public notes, Announce. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/rand.h>

#include "activity.h"
#include "htmltext.h"
#include "log.h"
#include "xmalloc.h"

#define ACTIVITY_AS_CONTEXT "https://www.w3.org/ns/activitystreams"
#define ACTIVITY_ID_BYTES   16

static char *activity_id_dup(const char *base_url);
static void activity_published(char *out, size_t outlen);
static void activity_add_str(struct json_object *obj, const char *key, const char *value);
static struct json_object *activity_str_array(const char *value);
static void activity_address_public(struct json_object *obj, const char *followers);
static struct json_object *activity_base_new(const char *base_url, const char *type,
                                             const char *actor_id);
static struct json_object *activity_answer_new(const char *type, const char *base_url,
                                               const char *actor_id, const char *follower,
                                               const char *follow_id, const char *follow_object);

int
activity_new_id(const char *base_url, char *out, size_t outlen)
{
    unsigned char rnd[ACTIVITY_ID_BYTES];
    char hex[2 * ACTIVITY_ID_BYTES + 1];
    int n;

    if (base_url == NULL || out == NULL || outlen == 0)
        return -1;
    /*
     * Ids must never repeat (peers deduplicate on them) and must not be guessable; a failing
     * CSPRNG leaves no safe fallback, so it is treated like running out of memory.
     */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        log_error("activity_rand_failed", "reason=RAND_bytes");
        abort();
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    n = snprintf(out, outlen, "%s/activities/%s", base_url, hex);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

/* The id with no length limit, for the builders (whose contract has no failure but NULL). */
static char *
activity_id_dup(const char *base_url)
{
    size_t len = strlen(base_url) + sizeof("/activities/") + 2 * ACTIVITY_ID_BYTES;
    char *id = xmalloc(len);

    if (activity_new_id(base_url, id, len) < 0)
        abort(); /* len is computed to fit */
    return id;
}

static void
activity_published(char *out, size_t outlen)
{
    time_t now = time(NULL);
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, outlen, "1970-01-01T00:00:00Z");
}

static void
activity_add_str(struct json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value));
}

/* Addressing as a one-element array: FEP-ae0c asks for lists, and GoToSocial once choked. */
static struct json_object *
activity_str_array(const char *value)
{
    struct json_object *a = json_object_new_array();

    json_object_array_add(a, json_object_new_string(value));
    return a;
}

/* Public addressing, as Mastodon writes it: to the world, cc the author's followers. */
static void
activity_address_public(struct json_object *obj, const char *followers)
{
    json_object_object_add(obj, "to", activity_str_array(ACTIVITY_PUBLIC));
    json_object_object_add(obj, "cc", activity_str_array(followers));
}

static struct json_object *
activity_base_new(const char *base_url, const char *type, const char *actor_id)
{
    struct json_object *doc = json_object_new_object();
    char *id = activity_id_dup(base_url);

    activity_add_str(doc, "@context", ACTIVITY_AS_CONTEXT);
    activity_add_str(doc, "id", id);
    activity_add_str(doc, "type", type);
    activity_add_str(doc, "actor", actor_id);
    free(id);
    return doc;
}

static struct json_object *
activity_answer_new(const char *type, const char *base_url, const char *actor_id,
                    const char *follower, const char *follow_id, const char *follow_object)
{
    struct json_object *doc, *follow;

    if (base_url == NULL || actor_id == NULL || follower == NULL || follow_id == NULL ||
        follow_object == NULL)
        return NULL;
    doc = activity_base_new(base_url, type, actor_id);
    json_object_object_add(doc, "to", activity_str_array(follower));
    /* Embedded whole: Mastodon matches the id, Misskey resolves actor and object from it. */
    follow = json_object_new_object();
    activity_add_str(follow, "id", follow_id);
    activity_add_str(follow, "type", "Follow");
    activity_add_str(follow, "actor", follower);
    activity_add_str(follow, "object", follow_object);
    json_object_object_add(doc, "object", follow);
    return doc;
}

struct json_object *
activity_accept_new(const char *base_url, const char *actor_id, const char *follower,
                    const char *follow_id, const char *follow_object)
{
    return activity_answer_new("Accept", base_url, actor_id, follower, follow_id, follow_object);
}

struct json_object *
activity_reject_new(const char *base_url, const char *actor_id, const char *follower,
                    const char *follow_id, const char *follow_object)
{
    return activity_answer_new("Reject", base_url, actor_id, follower, follow_id, follow_object);
}

struct json_object *
activity_follow_new(const char *base_url, const char *actor_id, const char *object_id)
{
    struct json_object *doc;

    if (base_url == NULL || actor_id == NULL || object_id == NULL)
        return NULL;
    doc = activity_base_new(base_url, "Follow", actor_id);
    activity_add_str(doc, "object", object_id);
    json_object_object_add(doc, "to", activity_str_array(object_id));
    return doc;
}

struct json_object *
activity_undo_new(const char *base_url, const char *actor_id, struct json_object *inner)
{
    struct json_object *doc, *copy = NULL;

    if (base_url == NULL || actor_id == NULL || inner == NULL)
        return NULL;
    if (json_object_deep_copy(inner, &copy, NULL) != 0 || copy == NULL)
        abort(); /* json-c fails a deep copy only when allocation fails */
    doc = activity_base_new(base_url, "Undo", actor_id);
    json_object_object_add(doc, "object", copy);
    return doc;
}

char *
activity_html_escape(const char *text, int paragraph)
{
    size_t len = strlen(text);
    /* "<br>" (4 bytes) for a one-byte newline and "&quot;" (6) are the longest growths. */
    char *out = xmalloc(len * 6 + sizeof("<p></p>"));
    char *o = out;

    if (paragraph) {
        memcpy(o, "<p>", 3);
        o += 3;
    }
    for (const char *s = text; *s != '\0'; s++) {
        const char *rep = htmltext_entity(*s);

        switch (*s) {
        case '\r':
            /* CRLF is one line break; a lone CR is one too. */
            if (!paragraph)
                rep = " ";
            else if (s[1] == '\n')
                continue;
            else
                rep = "<br>";
            break;
        case '\n':
            rep = paragraph ? "<br>" : " ";
            break;
        default:
            if (rep == NULL) {
                *o++ = *s;
                continue;
            }
        }
        memcpy(o, rep, strlen(rep));
        o += strlen(rep);
    }
    if (paragraph) {
        memcpy(o, "</p>", 4);
        o += 4;
    }
    *o = '\0';
    return out;
}

struct json_object *
activity_note_new(const char *base_url, const char *actor_id, const char *followers,
                  const char *content)
{
    struct json_object *doc, *note;
    char published[32];
    char *note_id, *html;

    if (base_url == NULL || actor_id == NULL || followers == NULL || content == NULL)
        return NULL;
    activity_published(published, sizeof(published));
    doc = activity_base_new(base_url, "Create", actor_id);
    activity_add_str(doc, "attributedTo", actor_id);
    activity_add_str(doc, "published", published);
    activity_address_public(doc, followers);

    /* Mastodon refuses a note whose id is on another host than its author's. */
    note_id = activity_id_dup(base_url);
    html = activity_html_escape(content, 1);
    note = json_object_new_object();
    activity_add_str(note, "id", note_id);
    activity_add_str(note, "type", "Note");
    activity_add_str(note, "attributedTo", actor_id);
    activity_add_str(note, "content", html);
    activity_add_str(note, "published", published);
    activity_address_public(note, followers);
    json_object_object_add(doc, "object", note);
    free(note_id);
    free(html);
    return doc;
}

struct json_object *
activity_announce_new(const char *base_url, const char *actor_id, const char *followers,
                      const char *object_id)
{
    struct json_object *doc;
    char published[32];

    if (base_url == NULL || actor_id == NULL || followers == NULL || object_id == NULL)
        return NULL;
    activity_published(published, sizeof(published));
    doc = activity_base_new(base_url, "Announce", actor_id);
    activity_add_str(doc, "object", object_id);
    activity_address_public(doc, followers);
    /* pub-relay drops activities without it (FEP-ae0c). */
    activity_add_str(doc, "published", published);
    return doc;
}

const char *
activity_ref(struct json_object *o)
{
    struct json_object *id;

    if (json_object_is_type(o, json_type_string))
        return json_object_get_string(o);
    if (json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "id", &id) &&
        json_object_is_type(id, json_type_string))
        return json_object_get_string(id);
    return NULL;
}

int
activity_is_public(const char *s)
{
    return s != NULL && (strcmp(s, ACTIVITY_PUBLIC) == 0 || strcmp(s, "as:Public") == 0 ||
                         strcmp(s, "Public") == 0);
}

int
activity_username_ok(const char *name)
{
    size_t n = 0;
    int word = 0; /* the previous character was a letter, digit or '_' */

    if (name == NULL)
        return 0;
    for (; name[n] != '\0'; n++) {
        unsigned char c = (unsigned char)name[n];

        if (n >= ACTIVITY_USERNAME_MAX)
            return 0;
        if (isalnum(c) || c == '_')
            word = 1;
        else if ((c == '.' || c == '-') && n > 0)
            word = 0;
        else
            return 0;
    }
    return n > 0 && word;
}
