/* Bridgy Fed's identities: the names it gives people on the other network, and Bluesky profiles. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridgefed.h"
#include "xmalloc.h"

int
bridgefed_handle_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0, label = 0, labels = 0, last = 0;

    if (n == 0 || n >= BRIDGEFED_HANDLE_MAX)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.' || c == '\0') {
            /* A label: 1 to 63 characters, no '-' at either end. */
            if (label == 0 || label > 63 || s[i - label] == '-' || s[i - 1] == '-')
                return 0;
            labels++;
            last = i - label;
            label = 0;
            continue;
        }
        if (!isalnum(c) && c != '-')
            return 0;
        label++;
    }
    return labels >= 2 && !isdigit((unsigned char)s[last]);
}

static void
bridgefed_lower(char *s)
{
    for (; *s != '\0'; s++)
        *s = (char)tolower((unsigned char)*s);
}

char *
bridgefed_bsky_acct(const char *handle, const char *domain)
{
    char *out;

    if (!bridgefed_handle_ok(handle) || domain == NULL || *domain == '\0')
        return NULL;
    out = xasprintf("%s@%s", handle, domain);
    bridgefed_lower(out);
    return out;
}

char *
bridgefed_ap_handle(const char *acct, const char *domain)
{
    const char *at = acct != NULL ? strchr(acct, '@') : NULL;
    char *out;

    if (at == NULL || at == acct || domain == NULL || *domain == '\0')
        return NULL;
    out = xasprintf("%.*s.%s.%s", (int)(at - acct), acct, at + 1, domain);
    /* Bridgy Fed's translate_handle: '_' and '~' cannot be in a handle, '-' stands for them. */
    for (size_t i = 0; i < (size_t)(at - acct); i++)
        if (out[i] == '_' || out[i] == '~')
            out[i] = '-';
    bridgefed_lower(out);
    if (!bridgefed_handle_ok(out)) {
        free(out);
        return NULL;
    }
    return out;
}

char *
bridgefed_acct_named(const char *acct, const char *names)
{
    const char *at = acct != NULL ? strchr(acct, '@') : NULL, *s = names;

    if (acct == NULL)
        return NULL;
    while (at != NULL && s != NULL && *s != '\0') {
        size_t n, eq;

        s += strspn(s, " ");
        n = strcspn(s, " ");
        eq = strcspn(s, "=");
        /* NAME=HOST: the entry's HOST is the acct's host, whole. */
        if (eq > 0 && eq < n && n - eq - 1 == strlen(at + 1) &&
            strncasecmp(s + eq + 1, at + 1, n - eq - 1) == 0)
            return xasprintf("%.*s@%.*s", (int)(at - acct), acct, (int)eq, s);
        s += n;
    }
    return xstrdup(acct);
}

char *
bridgefed_actor_id(const char *domain, const char *did, int https)
{
    return xasprintf("%s://%s/ap/%s", https ? "https" : "http", domain, did);
}

char *
bridgefed_profile_url(const char *handle)
{
    return xasprintf("%s%s", BRIDGEFED_PROFILE_BASE, handle);
}
