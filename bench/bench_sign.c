/* The inbox benchmark's load: distinct Create activities, each a signed raw HTTP request. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

/*
 * bench_sign -k KEY.pem -P
 *     prints the public key (SPKI PEM), creating KEY.pem (RSA-2048) when it does not exist.
 * bench_sign -k KEY.pem -i KEYID -a ACTOR -H HOST -t TARGET -n N -o OUT [-s TAG] [-j JOBS]
 *     writes N POST requests to OUT, one after the other, each a Create of a public Note
 *     with its own activity id (<actor's origin>/activities/TAG-i), signed draft-cavage
 *     rsa-sha256 over (request-target) host date digest content-type as Mastodon signs.
 *     The signing is done here with OpenSSL alone, not with passerelle's code, so a 202
 *     also says that two implementations agree. JOBS threads sign (default: every core).
 */
struct job {
    EVP_PKEY *key;
    const char *key_id, *actor, *host, *target, *tag, *date, *published;
    char origin[512];
    unsigned long from, to;
    char *out;
    size_t len, cap;
    int failed;
};

static void
put(struct job *j, const char *s, size_t n)
{
    if (j->len + n > j->cap) {
        j->cap = (j->len + n) * 2 + 65536;
        j->out = realloc(j->out, j->cap);
        if (j->out == NULL) {
            perror("bench_sign: realloc");
            exit(1);
        }
    }
    memcpy(j->out + j->len, s, n);
    j->len += n;
}

static void
b64(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static int
sign_one(struct job *j, unsigned long i)
{
    char body[2048], head[4096], sstr[2048], digest[64], sig64[512];
    unsigned char md[32], sig[256];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *ctx;
    int blen, slen, hlen, ok;

    blen = snprintf(
        body, sizeof(body),
        "{\"@context\":[\"https://www.w3.org/ns/activitystreams\"],"
        "\"id\":\"%s/activities/%s-%lu\",\"type\":\"Create\",\"actor\":\"%s\","
        "\"published\":\"%s\",\"to\":[\"https://www.w3.org/ns/activitystreams#Public\"],"
        "\"cc\":[\"%s/followers\"],\"object\":{\"id\":\"%s/notes/%s-%lu\",\"type\":\"Note\","
        "\"attributedTo\":\"%s\",\"published\":\"%s\","
        "\"to\":[\"https://www.w3.org/ns/activitystreams#Public\"],\"cc\":[\"%s/followers\"],"
        "\"content\":\"<p>Benchmark note %lu. Moving house is easier when the neighbours "
        "come along: this is one of the posts a relay sees all day long, a few hundred "
        "bytes of text with its addressing, signed by its author's server.</p>\","
        "\"url\":\"%s/notes/%s-%lu\",\"sensitive\":false,\"tag\":[]}}",
        j->origin, j->tag, i, j->actor, j->published, j->actor, j->origin, j->tag, i, j->actor,
        j->published, j->actor, i, j->origin, j->tag, i);
    if (blen < 0 || (size_t)blen >= sizeof(body))
        return -1;
    EVP_Digest(body, (size_t)blen, md, NULL, EVP_sha256(), NULL);
    b64(md, sizeof(md), digest);
    slen = snprintf(sstr, sizeof(sstr),
                    "(request-target): post %s\nhost: %s\ndate: %s\ndigest: SHA-256=%s\n"
                    "content-type: application/activity+json",
                    j->target, j->host, j->date, digest);
    if (slen < 0 || (size_t)slen >= sizeof(sstr))
        return -1;
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, j->key) == 1 &&
         EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)sstr, (size_t)slen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    b64(sig, siglen, sig64);
    hlen = snprintf(head, sizeof(head),
                    "POST %s HTTP/1.1\r\nHost: %s\r\nDate: %s\r\nDigest: SHA-256=%s\r\n"
                    "Content-Type: application/activity+json\r\nContent-Length: %d\r\n"
                    "User-Agent: passerelle-bench\r\n"
                    "Signature: keyId=\"%s\",algorithm=\"rsa-sha256\","
                    "headers=\"(request-target) host date digest content-type\","
                    "signature=\"%s\"\r\n\r\n",
                    j->target, j->host, j->date, digest, blen, j->key_id, sig64);
    if (hlen < 0 || (size_t)hlen >= sizeof(head))
        return -1;
    put(j, head, (size_t)hlen);
    put(j, body, (size_t)blen);
    return 0;
}

static void *
sign_range(void *arg)
{
    struct job *j = arg;

    for (unsigned long i = j->from; i < j->to; i++) {
        if (sign_one(j, i) < 0) {
            j->failed = 1;
            break;
        }
    }
    return NULL;
}

static EVP_PKEY *
load_or_make_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *key;

    if (f != NULL) {
        key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        return key;
    }
    key = EVP_RSA_gen(2048);
    f = fopen(path, "w");
    if (key == NULL || f == NULL || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1) {
        if (f != NULL)
            fclose(f);
        EVP_PKEY_free(key);
        return NULL;
    }
    fclose(f);
    return key;
}

static int
usage(void)
{
    fprintf(stderr, "usage: bench_sign -k KEY.pem -P\n"
                    "       bench_sign -k KEY.pem -i KEYID -a ACTOR -H HOST -t TARGET -n N "
                    "-o OUT [-s TAG] [-j JOBS]\n");
    return 2;
}

int
main(int argc, char **argv)
{
    const char *keyfile = NULL, *key_id = NULL, *actor = NULL, *host = NULL, *target = NULL;
    const char *outfile = NULL, *tag = "b";
    unsigned long n = 0;
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    int print_pub = 0, opt;
    char date[64], published[64];
    struct tm tm;
    time_t now = time(NULL);
    EVP_PKEY *key;
    struct job *j;
    pthread_t *th;
    FILE *out;
    const char *p;

    while ((opt = getopt(argc, argv, "k:Pi:a:H:t:n:o:s:j:")) != -1) {
        switch (opt) {
        case 'k':
            keyfile = optarg;
            break;
        case 'P':
            print_pub = 1;
            break;
        case 'i':
            key_id = optarg;
            break;
        case 'a':
            actor = optarg;
            break;
        case 'H':
            host = optarg;
            break;
        case 't':
            target = optarg;
            break;
        case 'n':
            n = strtoul(optarg, NULL, 10);
            break;
        case 'o':
            outfile = optarg;
            break;
        case 's':
            tag = optarg;
            break;
        case 'j':
            jobs = strtol(optarg, NULL, 10);
            break;
        default:
            return usage();
        }
    }
    if (keyfile == NULL)
        return usage();
    key = load_or_make_key(keyfile);
    if (key == NULL) {
        fprintf(stderr, "bench_sign: cannot read or create %s\n", keyfile);
        return 1;
    }
    if (print_pub) {
        PEM_write_PUBKEY(stdout, key);
        EVP_PKEY_free(key);
        return 0;
    }
    if (key_id == NULL || actor == NULL || host == NULL || target == NULL || outfile == NULL ||
        n == 0 || jobs < 1 || (p = strstr(actor, "://")) == NULL)
        return usage();
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    strftime(published, sizeof(published), "%Y-%m-%dT%H:%M:%SZ", &tm);
    j = calloc((size_t)jobs, sizeof(*j));
    th = calloc((size_t)jobs, sizeof(*th));
    if (j == NULL || th == NULL)
        return 1;
    for (long w = 0; w < jobs; w++) {
        size_t olen = strcspn(p + 3, "/") + (size_t)(p + 3 - actor);

        j[w] = (struct job){ .key = key,
                             .key_id = key_id,
                             .actor = actor,
                             .host = host,
                             .target = target,
                             .tag = tag,
                             .date = date,
                             .published = published,
                             .from = n * (unsigned long)w / (unsigned long)jobs,
                             .to = n * (unsigned long)(w + 1) / (unsigned long)jobs };
        snprintf(j[w].origin, sizeof(j[w].origin), "%.*s", (int)olen, actor);
        if (pthread_create(&th[w], NULL, sign_range, &j[w]) != 0)
            return 1;
    }
    out = fopen(outfile, "wb");
    for (long w = 0; w < jobs; w++) {
        pthread_join(th[w], NULL);
        if (j[w].failed || out == NULL || fwrite(j[w].out, 1, j[w].len, out) != j[w].len) {
            fprintf(stderr, "bench_sign: signing or writing %s failed\n", outfile);
            return 1;
        }
        free(j[w].out);
    }
    if (fclose(out) != 0)
        return 1;
    free(j);
    free(th);
    EVP_PKEY_free(key);
    return 0;
}
