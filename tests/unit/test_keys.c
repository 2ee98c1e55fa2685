/* Unit tests for activitypub/keys.c: creation, mode, reuse, refusals, no overwrite, races. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "keys.h"
#include "log.h"
#include "tap.h"
#include "xmalloc.h"

static char dir[] = "/tmp/passerelle-test-keys.XXXXXX";

static char *
test_path(const char *name)
{
    return xasprintf("%s/%s", dir, name);
}

static char *
test_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return NULL;
    buf = xmalloc(65536);
    n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
test_spit(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        return;
    fputs(data, f);
    fclose(f);
}

static int
test_count_entries(void)
{
    char *cmd = xasprintf("ls -A %s | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;

    if (p != NULL) {
        if (fscanf(p, "%d", &n) != 1)
            n = -1;
        pclose(p);
    }
    free(cmd);
    return n;
}

static void
test_create_and_reload(void)
{
    char err[256] = "";
    char *path = test_path("key.pem");
    EVP_PKEY *k1, *k2;
    char *pem1, *pem2, *file1, *file2;
    struct stat st;

    k1 = keys_load_or_create(path, err, sizeof(err));
    ok(k1 != NULL, "a missing key file is created (%s)", err);
    if (k1 == NULL) {
        free(path);
        return;
    }
    is_int(EVP_PKEY_get_base_id(k1), EVP_PKEY_RSA, "the new key is RSA");
    is_int(EVP_PKEY_get_bits(k1), 2048, "the new key has 2048 bits");
    ok(stat(path, &st) == 0, "the key file exists");
    is_int(st.st_mode & 0777, 0600, "the key file has mode 0600");
    is_int(test_count_entries(), 1, "no temporary file is left beside it");

    pem1 = keys_public_pem(k1);
    ok(pem1 != NULL && strncmp(pem1, "-----BEGIN PUBLIC KEY-----\n", 27) == 0,
       "the public PEM is SubjectPublicKeyInfo");
    ok(pem1 != NULL && strstr(pem1, "PRIVATE") == NULL, "the public PEM has nothing private");

    file1 = test_slurp(path);
    k2 = keys_load_or_create(path, err, sizeof(err));
    ok(k2 != NULL, "the existing key file loads (%s)", err);
    pem2 = keys_public_pem(k2);
    ok(pem1 != NULL && pem2 != NULL && strcmp(pem1, pem2) == 0,
       "reloading gives the same public key");
    ok(k2 != NULL && EVP_PKEY_eq(k1, k2) == 1, "reloading gives the same key");
    file2 = test_slurp(path);
    ok(file1 != NULL && file2 != NULL && strcmp(file1, file2) == 0,
       "loading does not rewrite the file");

    free(file1);
    free(file2);
    free(pem1);
    free(pem2);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    unlink(path);
    free(path);
}

static void
test_refuse_small(void)
{
    char err[256] = "";
    char *path = test_path("small.pem");
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *k;
    char *before, *after;
    FILE *f = fopen(path, "wb");

    ok(small != NULL && f != NULL, "a 1024-bit key is written for the test");
    if (small == NULL || f == NULL) {
        if (f != NULL)
            fclose(f);
        EVP_PKEY_free(small);
        free(path);
        return;
    }
    PEM_write_PrivateKey(f, small, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    before = test_slurp(path);
    k = keys_load_or_create(path, err, sizeof(err));
    ok(k == NULL, "a 1024-bit key is refused");
    ok(strstr(err, "1024") != NULL, "the message names the size: %s", err);
    after = test_slurp(path);
    ok(before != NULL && after != NULL && strcmp(before, after) == 0,
       "the refused file is left as it was");
    EVP_PKEY_free(k);
    EVP_PKEY_free(small);
    free(before);
    free(after);
    unlink(path);
    free(path);
}

static void
test_refuse_non_rsa(void)
{
    char err[256] = "";
    char *path = test_path("ec.pem");
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *k;
    FILE *f = fopen(path, "wb");

    if (ec != NULL && f != NULL)
        PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL, NULL);
    if (f != NULL)
        fclose(f);
    k = keys_load_or_create(path, err, sizeof(err));
    ok(ec != NULL && k == NULL, "an EC key is refused");
    ok(strstr(err, "RSA") != NULL, "the message says RSA: %s", err);
    is_str(strrchr(err, '/'), "/ec.pem: not an RSA key (HTTP signatures here use rsa-sha256)",
           "the message names the file");
    EVP_PKEY_free(k);
    EVP_PKEY_free(ec);
    unlink(path);
    free(path);
}

static void
test_refuse_garbage(void)
{
    char err[256] = "";
    char *path = test_path("garbage.pem");
    EVP_PKEY *k;
    char *after;

    test_spit(path, "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n");
    k = keys_load_or_create(path, err, sizeof(err));
    ok(k == NULL, "a garbage key file is refused");
    ok(err[0] != '\0', "with a message: %s", err);
    after = test_slurp(path);
    ok(after != NULL && strstr(after, "not base64 at all!") != NULL,
       "the garbage file is not overwritten");
    EVP_PKEY_free(k);
    free(after);

    test_spit(path, "");
    err[0] = '\0';
    k = keys_load_or_create(path, err, sizeof(err));
    ok(k == NULL, "an empty key file is refused, not replaced (%s)", err);
    EVP_PKEY_free(k);
    unlink(path);
    free(path);
}

static void
test_refuse_encrypted(void)
{
    char err[256] = "";
    char *path = test_path("enc.pem");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    unsigned char pass[] = "secret";
    EVP_PKEY *k;
    FILE *f = fopen(path, "wb");

    if (rsa != NULL && f != NULL)
        PEM_write_PrivateKey(f, rsa, EVP_aes_128_cbc(), pass, 6, NULL, NULL);
    if (f != NULL)
        fclose(f);
    k = keys_load_or_create(path, err, sizeof(err));
    ok(rsa != NULL && k == NULL, "an encrypted key is refused without prompting (%s)", err);
    EVP_PKEY_free(k);
    EVP_PKEY_free(rsa);
    unlink(path);
    free(path);
}

static void
test_missing_folder(void)
{
    char err[256] = "";
    char *path = test_path("no/such/folder/key.pem");
    EVP_PKEY *k = keys_load_or_create(path, err, sizeof(err));

    ok(k == NULL, "a key in a missing folder is an error");
    ok(err[0] != '\0', "with a message: %s", err);
    EVP_PKEY_free(k);
    free(path);
}

/* Several processes start at once on a missing key: they must all end with the same key. */
static void
test_race(void)
{
    enum { N = 4 };
    char *path = test_path("race.pem");
    char *outs[N];
    pid_t pids[N];
    int same = 1, all_ok = 1;
    char *final_pem = NULL;
    EVP_PKEY *final;
    char err[256] = "";

    for (int i = 0; i < N; i++) {
        outs[i] = xasprintf("%s/race.%d.pub", dir, i);
        pids[i] = fork();
        if (pids[i] == 0) {
            char cerr[256];
            EVP_PKEY *k = keys_load_or_create(path, cerr, sizeof(cerr));
            char *pem = keys_public_pem(k);

            if (pem == NULL)
                _exit(1);
            test_spit(outs[i], pem);
            _exit(0);
        }
    }
    for (int i = 0; i < N; i++) {
        int status = 0;

        if (pids[i] < 0 || waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            all_ok = 0;
    }
    ok(all_ok, "%d processes racing on a missing key all succeed", N);
    final = keys_load_or_create(path, err, sizeof(err));
    final_pem = keys_public_pem(final);
    for (int i = 0; i < N; i++) {
        char *pem = test_slurp(outs[i]);

        if (pem == NULL || final_pem == NULL || strcmp(pem, final_pem) != 0)
            same = 0;
        free(pem);
        unlink(outs[i]);
        free(outs[i]);
    }
    ok(same, "they all use the one key that ended up in the file");
    is_int(test_count_entries(), 1, "no temporary files are left after the race");
    free(final_pem);
    EVP_PKEY_free(final);
    unlink(path);
    free(path);
}

int
main(void)
{
    log_set_level(LOG_ERROR);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_create_and_reload();
    test_refuse_small();
    test_refuse_non_rsa();
    test_refuse_garbage();
    test_refuse_encrypted();
    test_missing_folder();
    test_race();
    rmdir(dir);
    return done_testing();
}
