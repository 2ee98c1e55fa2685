/* RFC 8941 structured fields: just enough for Signature-Input, Signature and Content-Digest. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpsig_internal.h"
#include "xmalloc.h"

static int
sfv_is_key_start(char c)
{
    return (c >= 'a' && c <= 'z') || c == '*';
}

static int
sfv_is_key_char(char c)
{
    return sfv_is_key_start(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static int
sfv_is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~:/", c) != NULL);
}

static char *
sfv_parse_key(const char **pp)
{
    const char *p = *pp, *start = p;

    if (!sfv_is_key_start(*p))
        return NULL;
    while (sfv_is_key_char(*p))
        p++;
    *pp = p;
    return xstrndup(start, (size_t)(p - start));
}

static int
sfv_parse_bare(const char **pp, struct sfv_bare *v)
{
    const char *p = *pp, *start;
    struct httpsig_buf b = { 0 };

    memset(v, 0, sizeof(*v));
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        int neg = *p == '-';

        start = p;
        if (neg)
            p++;
        while ((*p >= '0' && *p <= '9') || *p == '.')
            p++;
        if (memchr(start, '.', (size_t)(p - start)) != NULL) {
            v->type = SFV_DECIMAL;
            v->s = xstrndup(start, (size_t)(p - start));
        } else {
            v->type = SFV_INTEGER;
            if (sfv_parse_int64(start + neg, (size_t)(p - start - neg), &v->n) != 0)
                return -1;
            if (neg)
                v->n = -v->n;
        }
    } else if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\\') {
                p++;
                if (*p != '"' && *p != '\\') {
                    free(b.p);
                    return -1;
                }
            } else if (*p < 0x20 || *p > 0x7e) {
                free(b.p);
                return -1;
            }
            httpsig_buf_add(&b, p, 1);
        }
        p++;
        v->type = SFV_STRING;
        v->s = httpsig_buf_finish(&b);
    } else if (*p == ':') {
        start = ++p;
        while (*p != ':') {
            if (*p == '\0' || (!isalnum((unsigned char)*p) && strchr("+/=", *p) == NULL))
                return -1;
            p++;
        }
        v->type = SFV_BYTES;
        v->s = xstrndup(start, (size_t)(p - start));
        p++;
    } else if (*p == '?') {
        if (p[1] != '0' && p[1] != '1')
            return -1;
        v->type = SFV_BOOLEAN;
        v->n = p[1] == '1';
        p += 2;
    } else if (isalpha((unsigned char)*p) || *p == '*') {
        start = p;
        while (sfv_is_tchar(*p))
            p++;
        v->type = SFV_TOKEN;
        v->s = xstrndup(start, (size_t)(p - start));
    } else {
        return -1;
    }
    *pp = p;
    return 0;
}

static int
sfv_parse_params(const char **pp, struct sfv_params *params)
{
    const char *p = *pp;

    while (*p == ';') {
        struct sfv_param *prm;

        p++;
        while (*p == ' ')
            p++;
        if (params->n == SFV_MAX_PARAMS)
            return -1;
        prm = &params->p[params->n];
        prm->key = sfv_parse_key(&p);
        if (prm->key == NULL)
            return -1;
        params->n++;
        if (*p == '=') {
            p++;
            if (sfv_parse_bare(&p, &prm->v) != 0)
                return -1;
        } else {
            prm->v.type = SFV_BOOLEAN;
            prm->v.n = 1;
        }
    }
    *pp = p;
    return 0;
}

int
sfv_parse_dict(const char *s, struct sfv_dict *d)
{
    const char *p = s;

    memset(d, 0, sizeof(*d));
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return -1;
    for (;;) {
        struct sfv_member *m;
        size_t i;

        if (d->n == SFV_MAX_PARAMS)
            goto bad;
        m = &d->m[d->n];
        m->key = sfv_parse_key(&p);
        if (m->key == NULL)
            goto bad;
        d->n++;
        for (i = 0; i + 1 < d->n; i++)
            if (strcmp(d->m[i].key, m->key) == 0)
                goto bad;
        if (*p == '=' && p[1] == '(') {
            m->is_list = 1;
            m->items = xcalloc(HTTPSIG_MAX_COMPONENTS, sizeof(*m->items));
            p += 2;
            for (;;) {
                while (*p == ' ')
                    p++;
                if (*p == ')')
                    break;
                if (m->nitems == HTTPSIG_MAX_COMPONENTS)
                    goto bad;
                m->nitems++;
                if (sfv_parse_bare(&p, &m->items[m->nitems - 1].v) != 0 ||
                    sfv_parse_params(&p, &m->items[m->nitems - 1].params) != 0)
                    goto bad;
                if (*p != ' ' && *p != ')')
                    goto bad;
            }
            p++;
        } else {
            m->items = xcalloc(1, sizeof(*m->items));
            m->nitems = 1;
            if (*p == '=') {
                p++;
                if (sfv_parse_bare(&p, &m->items[0].v) != 0)
                    goto bad;
            } else {
                m->items[0].v.type = SFV_BOOLEAN;
                m->items[0].v.n = 1;
            }
        }
        if (sfv_parse_params(&p, &m->params) != 0)
            goto bad;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return 0;
        if (*p != ',')
            goto bad;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            goto bad;
    }
bad:
    sfv_dict_free(d);
    return -1;
}

const struct sfv_member *
sfv_dict_get(const struct sfv_dict *d, const char *key)
{
    size_t i;

    for (i = 0; i < d->n; i++)
        if (strcmp(d->m[i].key, key) == 0)
            return &d->m[i];
    return NULL;
}

const struct sfv_bare *
sfv_param_get(const struct sfv_params *p, const char *key)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (strcmp(p->p[i].key, key) == 0)
            return &p->p[i].v;
    return NULL;
}

void
sfv_serialize_bare(struct httpsig_buf *b, const struct sfv_bare *v)
{
    char num[32];
    const char *c;

    switch (v->type) {
    case SFV_INTEGER:
        snprintf(num, sizeof(num), "%" PRId64, v->n);
        httpsig_buf_adds(b, num);
        break;
    case SFV_STRING:
        httpsig_buf_adds(b, "\"");
        for (c = v->s; *c != '\0'; c++) {
            if (*c == '"' || *c == '\\')
                httpsig_buf_adds(b, "\\");
            httpsig_buf_add(b, c, 1);
        }
        httpsig_buf_adds(b, "\"");
        break;
    case SFV_BYTES:
        httpsig_buf_adds(b, ":");
        httpsig_buf_adds(b, v->s);
        httpsig_buf_adds(b, ":");
        break;
    case SFV_BOOLEAN:
        httpsig_buf_adds(b, v->n ? "?1" : "?0");
        break;
    case SFV_DECIMAL:
    case SFV_TOKEN:
        httpsig_buf_adds(b, v->s);
        break;
    }
}

void
sfv_serialize_params(struct httpsig_buf *b, const struct sfv_params *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        httpsig_buf_adds(b, ";");
        httpsig_buf_adds(b, p->p[i].key);
        if (p->p[i].v.type == SFV_BOOLEAN && p->p[i].v.n == 1)
            continue;
        httpsig_buf_adds(b, "=");
        sfv_serialize_bare(b, &p->p[i].v);
    }
}

static void
sfv_bare_free(struct sfv_bare *v)
{
    free(v->s);
    v->s = NULL;
}

static void
sfv_params_free(struct sfv_params *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        free(p->p[i].key);
        sfv_bare_free(&p->p[i].v);
    }
    p->n = 0;
}

void
sfv_dict_free(struct sfv_dict *d)
{
    size_t i, j;

    for (i = 0; i < d->n; i++) {
        struct sfv_member *m = &d->m[i];

        free(m->key);
        for (j = 0; j < m->nitems; j++) {
            sfv_bare_free(&m->items[j].v);
            sfv_params_free(&m->items[j].params);
        }
        free(m->items);
        sfv_params_free(&m->params);
    }
    memset(d, 0, sizeof(*d));
}

/* Decimal digits only, at most 15 of them (what RFC 8941 allows for an integer). */
int
sfv_parse_int64(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    size_t i;

    if (n == 0 || n > 15)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}
