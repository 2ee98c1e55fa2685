/* The server's RSA key: loaded from its PEM file, or created there once and never replaced. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keys.h"
#include "log.h"
#include "xmalloc.h"

/*
 * Verifiers built on ring refuse RSA keys under 2048 bits, and remote servers
 * cache our key by keyId for a long time, so it is never rotated: it must be
 * strong enough from the first start.
 */
#define KEYS_MIN_BITS 2048
#define KEYS_NEW_BITS 2048

static void keys_ssl_error(char *err, size_t errlen, const char *what, const char *path);
static int keys_no_passphrase_cb(char *buf, int size, int rwflag, void *u);
static EVP_PKEY *keys_load(const char *path, char *err, size_t errlen);
static int keys_check(EVP_PKEY *key, const char *path, char *err, size_t errlen);
static EVP_PKEY *keys_create(const char *path, char *err, size_t errlen);
static int keys_write_all(int fd, const char *buf, size_t len);
static void keys_sync_dir(const char *path);

EVP_PKEY *
keys_load_or_create(const char *path, char *err, size_t errlen)
{
    EVP_PKEY *key;

    if (path == NULL || *path == '\0') {
        snprintf(err, errlen, "key_file is empty");
        return NULL;
    }
    key = keys_load(path, err, errlen);
    if (key != NULL || errno != ENOENT)
        return key;
    if (errlen > 0)
        err[0] = '\0';
    return keys_create(path, err, errlen);
}

char *
keys_public_pem(EVP_PKEY *key)
{
    BIO *bio;
    char *data, *pem = NULL;
    long len;

    if (key == NULL)
        return NULL;
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return NULL;
    /* PEM_write_bio_PUBKEY writes SubjectPublicKeyInfo, the form publicKeyPem expects. */
    if (PEM_write_bio_PUBKEY(bio, key) == 1) {
        len = BIO_get_mem_data(bio, &data);
        if (len > 0)
            pem = xstrndup(data, (size_t)len);
    }
    BIO_free(bio);
    ERR_clear_error();
    return pem;
}

/* Loads path; on failure errno is ENOENT only when the file does not exist. */
static EVP_PKEY *
keys_load(const char *path, char *err, size_t errlen)
{
    struct stat st;
    EVP_PKEY *key;
    FILE *f;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd == -1) {
        int saved = errno;

        snprintf(err, errlen, "%s: %s", path, strerror(saved));
        errno = saved;
        return NULL;
    }
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
        log_warn("key_file_mode", "path=%s mode=%03o hint=\"chmod 600\"", log_q(path),
                 (unsigned)(st.st_mode & 0777));
    f = fdopen(fd, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        errno = EIO;
        return NULL;
    }
    /* The callback refuses encrypted keys instead of letting OpenSSL prompt on a terminal. */
    key = PEM_read_PrivateKey(f, NULL, keys_no_passphrase_cb, NULL);
    fclose(f);
    errno = EINVAL;
    if (key == NULL) {
        keys_ssl_error(err, errlen, "not an unencrypted PEM private key", path);
        return NULL;
    }
    if (keys_check(key, path, err, errlen) == -1) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

static int
keys_check(EVP_PKEY *key, const char *path, char *err, size_t errlen)
{
    int bits;

    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        snprintf(err, errlen, "%s: not an RSA key (HTTP signatures here use rsa-sha256)", path);
        return -1;
    }
    bits = EVP_PKEY_get_bits(key);
    if (bits < KEYS_MIN_BITS) {
        snprintf(err, errlen, "%s: RSA key of %d bits, at least %d are required", path, bits,
                 KEYS_MIN_BITS);
        return -1;
    }
    return 0;
}

/*
 * Writes a new key to a private temporary file in the same folder, makes it
 * durable, then links it to path. link() fails with EEXIST instead of
 * replacing, so when two processes start at once exactly one key wins and
 * the loser loads the winner's.
 */
static EVP_PKEY *
keys_create(const char *path, char *err, size_t errlen)
{
    EVP_PKEY *key, *theirs;
    BIO *bio = NULL;
    char *tmp = NULL, *data;
    long len;
    int fd = -1, rc;

    key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)KEYS_NEW_BITS);
    if (key == NULL) {
        keys_ssl_error(err, errlen, "cannot generate an RSA key", path);
        return NULL;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
        keys_ssl_error(err, errlen, "cannot encode the new key", path);
        goto fail;
    }
    len = BIO_get_mem_data(bio, &data);
    tmp = xasprintf("%s.tmp.XXXXXX", path);
    /* mkstemp creates the file with mode 0600; the fchmod guards against odd umask handling. */
    fd = mkstemp(tmp);
    if (fd == -1) {
        snprintf(err, errlen, "%s: cannot create a temporary key file: %s", path, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto fail;
    }
    if (fchmod(fd, 0600) == -1 || keys_write_all(fd, data, (size_t)len) == -1 || fsync(fd) == -1) {
        snprintf(err, errlen, "%s: cannot write the new key: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) == -1) {
        fd = -1;
        snprintf(err, errlen, "%s: cannot write the new key: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    rc = link(tmp, path);
    if (rc == -1 && errno != EEXIST) {
        /* Some file systems have no hard links; renameat2 also refuses to replace. */
        rc = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
        if (rc == 0) {
            free(tmp);
            tmp = NULL;
        }
    }
    if (rc == -1) {
        if (errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot install the new key: %s", path, strerror(errno));
            goto fail;
        }
        /* Another process created the key first: use that one. */
        unlink(tmp);
        free(tmp);
        tmp = NULL;
        BIO_free(bio);
        EVP_PKEY_free(key);
        theirs = keys_load(path, err, errlen);
        if (theirs != NULL)
            log_info("key_loaded", "path=%s race=lost", log_q(path));
        return theirs;
    }
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
        tmp = NULL;
    }
    keys_sync_dir(path);
    BIO_free(bio);
    log_info("key_created", "path=%s bits=%d", log_q(path), KEYS_NEW_BITS);
    return key;

fail:
    if (fd != -1)
        close(fd);
    if (tmp != NULL) {
        unlink(tmp);
        free(tmp);
    }
    BIO_free(bio);
    EVP_PKEY_free(key);
    return NULL;
}

static int
keys_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Makes the new directory entry durable too; failure only costs durability, so it is logged. */
static void
keys_sync_dir(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd == -1 || fsync(fd) == -1)
        log_warn("key_dir_sync", "path=%s error=%s", log_q(path), log_q(strerror(errno)));
    if (fd != -1)
        close(fd);
    free(copy);
}

static int
keys_no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static void
keys_ssl_error(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char detail[256] = "";

    if (e != 0)
        ERR_error_string_n(e, detail, sizeof(detail));
    ERR_clear_error();
    if (detail[0] != '\0')
        snprintf(err, errlen, "%s: %s (%s)", path, what, detail);
    else
        snprintf(err, errlen, "%s: %s", path, what);
}
