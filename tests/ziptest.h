/* Test helper, header only: writes zip archives in memory (stored, deflated, ZIP64, crafted). */
#ifndef PASSERELLE_ZIPTEST_H
#define PASSERELLE_ZIPTEST_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

/*
 * One zip being written. With zip64 set every size and offset goes through ZIP64 extra
 * fields and the ZIP64 end records, as writers do for archives over 4 GiB. One hole may be
 * left (zt_hole): the bytes after it are placed that much further in the file, so a sparse
 * file of several GiB costs no disk.
 */
struct zt_entry {
    char *name;
    size_t name_len;
    uint32_t crc;
    uint64_t csize, usize, off;
    uint16_t method, flags;
};

struct zt {
    unsigned char *buf;
    size_t len, cap;
    struct zt_entry *e;
    size_t n, ecap;
    int zip64;
    size_t hole_at;
    uint64_t hole;
};

/* Lies and oddities for crafted entries; zero means none. */
struct zt_craft {
    uint64_t declared_size; /* claim this uncompressed size (+1: claim 0) */
    uint32_t crc_xor;       /* corrupt the recorded CRC-32 */
    uint16_t flags;         /* e.g. 1: "encrypted" */
    uint16_t method;        /* recorded method when the data is stored as given */
    int raw;                /* the data is written as given (already compressed, or junk) */
};

static void __attribute__((unused)) zt_put(struct zt *z, const void *p, size_t n)
{
    if (z->len + n > z->cap) {
        z->cap = (z->len + n) * 2 + 4096;
        z->buf = realloc(z->buf, z->cap);
    }
    memcpy(z->buf + z->len, p, n);
    z->len += n;
}

static void __attribute__((unused)) zt_u16(struct zt *z, uint64_t v)
{
    unsigned char b[2] = { (unsigned char)v, (unsigned char)(v >> 8) };

    zt_put(z, b, 2);
}

static void __attribute__((unused)) zt_u32(struct zt *z, uint64_t v)
{
    zt_u16(z, v & 0xffff);
    zt_u16(z, (v >> 16) & 0xffff);
}

static void __attribute__((unused)) zt_u64(struct zt *z, uint64_t v)
{
    zt_u32(z, v & 0xffffffffu);
    zt_u32(z, v >> 32);
}

/* Where the next byte lands in the file. */
static uint64_t __attribute__((unused)) zt_pos(const struct zt *z)
{
    return z->len + (z->len >= z->hole_at && z->hole ? z->hole : 0);
}

/* Raw deflate (no zlib header), as zip method 8 wants; the caller frees *out. */
static size_t __attribute__((unused)) zt_deflate(const void *data, size_t len, unsigned char **out)
{
    z_stream s;
    size_t cap = deflateBound(NULL, len) + 64;

    memset(&s, 0, sizeof(s));
    *out = malloc(cap);
    deflateInit2(&s, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
    s.next_in = (unsigned char *)(uintptr_t)data;
    s.avail_in = (uInt)len;
    s.next_out = *out;
    s.avail_out = (uInt)cap;
    deflate(&s, Z_FINISH);
    deflateEnd(&s);
    return cap - s.avail_out;
}

/* The fields local and central headers share, from "version needed" to the name length. */
static void __attribute__((unused)) zt_fields(struct zt *z, const struct zt_entry *e)
{
    zt_u16(z, z->zip64 ? 45 : 20);
    zt_u16(z, e->flags);
    zt_u16(z, e->method);
    zt_u32(z, 0); /* time and date */
    zt_u32(z, e->crc);
    zt_u32(z, z->zip64 ? 0xffffffffu : e->csize);
    zt_u32(z, z->zip64 ? 0xffffffffu : e->usize);
    zt_u16(z, e->name_len);
}

static void __attribute__((unused))
zt_add_ex(struct zt *z, const char *name, size_t name_len, const void *data, size_t len, int method,
          const struct zt_craft *c)
{
    struct zt_craft none = { 0 };
    struct zt_entry *e;
    unsigned char *packed = NULL;
    const void *body = data;
    size_t blen = len;

    if (c == NULL)
        c = &none;
    if (z->n == z->ecap) {
        z->ecap = z->ecap * 2 + 16;
        z->e = realloc(z->e, z->ecap * sizeof(*z->e));
    }
    e = &z->e[z->n++];
    e->name = malloc(name_len + 1);
    memcpy(e->name, name, name_len);
    e->name[name_len] = '\0';
    e->name_len = name_len;
    e->crc = (uint32_t)crc32(0, data, (uInt)len) ^ c->crc_xor;
    e->method = (uint16_t)method;
    e->flags = c->flags;
    if (method == 8 && !c->raw) {
        blen = zt_deflate(data, len, &packed);
        body = packed;
    }
    if (c->raw && c->method)
        e->method = c->method;
    e->csize = blen;
    e->usize = c->declared_size ? c->declared_size - 1 : len;
    e->off = zt_pos(z);
    zt_u32(z, 0x04034b50);
    zt_fields(z, e);
    zt_u16(z, z->zip64 ? 20 : 0);
    zt_put(z, name, name_len);
    if (z->zip64) {
        zt_u16(z, 1);
        zt_u16(z, 16);
        zt_u64(z, e->usize);
        zt_u64(z, e->csize);
    }
    zt_put(z, body, blen);
    free(packed);
}

static void __attribute__((unused))
zt_add(struct zt *z, const char *name, const void *data, size_t len, int method)
{
    zt_add_ex(z, name, strlen(name), data, len, method, NULL);
}

static void __attribute__((unused)) zt_add_str(struct zt *z, const char *name, const char *text)
{
    zt_add(z, name, text, strlen(text), 8);
}

/*
 * A stored entry of size bytes that are never written: the file gets a hole there (only one
 * per zip). Its CRC is made up; tests never extract it.
 */
static void __attribute__((unused)) zt_hole(struct zt *z, const char *name, uint64_t size)
{
    struct zt_entry *e;

    zt_add_ex(z, name, strlen(name), "", 0, 0, NULL);
    e = &z->e[z->n - 1];
    e->csize = e->usize = size;
    /* The local header was written with size 0 (or 0xffffffff with the ZIP64 extra). */
    if (z->zip64) {
        unsigned char *x = z->buf + z->len - 16;
        for (int i = 0; i < 8; i++)
            x[i] = x[8 + i] = (unsigned char)(size >> (8 * i));
    }
    z->hole_at = z->len;
    z->hole = size;
}

/* Writes the central directory and the end records; the zip is then z->buf, z->len. */
static void __attribute__((unused)) zt_finish(struct zt *z, const char *comment)
{
    uint64_t cd_off = zt_pos(z), cd_size, e64_off;
    size_t i, clen = comment ? strlen(comment) : 0;

    for (i = 0; i < z->n; i++) {
        struct zt_entry *e = &z->e[i];

        zt_u32(z, 0x02014b50);
        zt_u16(z, z->zip64 ? 45 : 20); /* made by; zt_fields adds "needed" */
        zt_fields(z, e);
        zt_u16(z, z->zip64 ? 28 : 0);
        zt_u16(z, 0);
        zt_u16(z, 0);
        zt_u16(z, 0);
        zt_u32(z, 0);
        zt_u32(z, z->zip64 ? 0xffffffffu : e->off);
        zt_put(z, e->name, e->name_len);
        if (z->zip64) {
            zt_u16(z, 1);
            zt_u16(z, 24);
            zt_u64(z, e->usize);
            zt_u64(z, e->csize);
            zt_u64(z, e->off);
        }
    }
    cd_size = zt_pos(z) - cd_off;
    if (z->zip64) {
        e64_off = zt_pos(z);
        zt_u32(z, 0x06064b50);
        zt_u64(z, 44);
        zt_u16(z, 45);
        zt_u16(z, 45);
        zt_u32(z, 0);
        zt_u32(z, 0);
        zt_u64(z, z->n);
        zt_u64(z, z->n);
        zt_u64(z, cd_size);
        zt_u64(z, cd_off);
        zt_u32(z, 0x07064b50);
        zt_u32(z, 0);
        zt_u64(z, e64_off);
        zt_u32(z, 1);
    }
    zt_u32(z, 0x06054b50);
    zt_u16(z, 0);
    zt_u16(z, 0);
    zt_u16(z, z->zip64 ? 0xffff : z->n);
    zt_u16(z, z->zip64 ? 0xffff : z->n);
    zt_u32(z, z->zip64 ? 0xffffffffu : cd_size);
    zt_u32(z, z->zip64 ? 0xffffffffu : cd_off);
    zt_u16(z, clen);
    zt_put(z, comment ? comment : "", clen);
}

/* Writes the zip to path, leaving the hole unwritten. Returns 0 or -1. */
static int __attribute__((unused)) zt_write(const struct zt *z, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t first = z->hole ? z->hole_at : z->len;
    int rc = 0;

    if (fd < 0)
        return -1;
    if (pwrite(fd, z->buf, first, 0) != (ssize_t)first)
        rc = -1;
    if (rc == 0 && first < z->len &&
        pwrite(fd, z->buf + first, z->len - first, (off_t)(first + z->hole)) !=
            (ssize_t)(z->len - first))
        rc = -1;
    close(fd);
    return rc;
}

static void __attribute__((unused)) zt_free(struct zt *z)
{
    size_t i;

    for (i = 0; i < z->n; i++)
        free(z->e[i].name);
    free(z->e);
    free(z->buf);
    memset(z, 0, sizeof(*z));
}

#endif
