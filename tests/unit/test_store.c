/* test_store.c - the local-folder store, key validation, the SHA-256 sink and the
 * commit protocol. Files are checked with stdio and checksums with OpenSSL's one-shot
 * EVP_Digest, never with the store's own read or list alone. */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../src/common/sl_alloc.h"
#include "../../src/common/sl_log.h"
#include "../../src/common/sl_stop.h"
#include "../../src/sink/commit.h"
#include "../../src/sink/store.h"
#include "test.h"

/* ---- helpers independent of the code under test ---- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}
static void rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void make_root(char *buf, size_t cap)
{
    snprintf(buf, cap, "/tmp/sluice-store-XXXXXX");
    if (!mkdtemp(buf)) buf[0] = '\0';
}

static int write_raw(const char *root, const char *rel, const char *data)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *q = path + strlen(root) + 1; *q; q++) {
        if (*q != '/') continue;
        *q = '\0';
        mkdir(path, 0777);
        *q = '/';
    }
    f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(data, 1, strlen(data), f);
    return fclose(f);
}

/* Whole file into a malloc'd NUL-terminated string (NULL when absent). */
static char *read_raw(const char *root, const char *rel, size_t *len)
{
    char path[1024];
    FILE *f;
    char *p;
    long n;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    if (p) p[n] = '\0';
    if (len) *len = (size_t)n;
    fclose(f);
    return p;
}

static int exists(const char *root, const char *rel)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return lstat(path, &st) == 0;
}

/* Every regular file under root, as sorted "rel\n" lines, by nftw. */
static char g_walk[8192];
static size_t g_walk_root;
static int walk_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    if (flag == FTW_F) {
        size_t n = strlen(g_walk);
        snprintf(g_walk + n, sizeof g_walk - n, "%s\n", p + g_walk_root + 1);
    }
    return 0;
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static const char *files_under(const char *root)
{
    static char sorted[8192];
    char *lines[256], *save = NULL, copy[8192];
    int n = 0;
    g_walk[0] = '\0';
    g_walk_root = strlen(root);
    nftw(root, walk_one, 16, FTW_PHYS);
    memcpy(copy, g_walk, sizeof copy);
    for (char *t = strtok_r(copy, "\n", &save); t && n < 256; t = strtok_r(NULL, "\n", &save)) lines[n++] = t;
    qsort(lines, (size_t)n, sizeof lines[0], cmp_str);
    sorted[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t k = strlen(sorted);
        snprintf(sorted + k, sizeof sorted - k, "%s\n", lines[i]);
    }
    return sorted;
}

static void sha256_text(const void *p, size_t n, char out[72])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    strcpy(out, "sha256:");
    for (int i = 0; i < 32; i++) sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

/* ---- store ---- */

typedef struct {
    char text[4096];
} list_acc;

static int acc_cb(void *ud, const char *key, uint64_t size)
{
    list_acc *a = ud;
    size_t n = strlen(a->text);
    snprintf(a->text + n, sizeof a->text - n, "%s=%llu\n", key, (unsigned long long)size);
    return 0;
}

static int stop_cb(void *ud, const char *key, uint64_t size)
{
    (void)key;
    (void)size;
    ++*(int *)ud;
    return 1;
}

static sl_code put(sl_store *st, const char *key, const char *data)
{
    sl_err e;
    sl_sink *s = sl_store_create(st, key, &e);
    sl_code rc;
    if (!s) return e.code;
    rc = sl_sink_write(s, data, strlen(data), &e);
    if (rc == SL_OK) rc = sl_sink_finish(s, &e);
    sl_sink_release(s);
    return rc;
}

static void local_create_read_list_remove(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    sl_buf b;
    list_acc acc = {{0}};
    int stops = 0;
    char *raw;
    make_root(root, sizeof root);
    CHECK(root[0]);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    CHECK_STR(st->vt->name, "local");
    CHECK_EQ_INT(put(st, "a/b/c.txt", "hello"), SL_OK);
    CHECK_EQ_INT(put(st, "a/b/d.txt", "hi!"), SL_OK);
    CHECK_EQ_INT(put(st, "a.b", "x"), SL_OK);
    CHECK_EQ_INT(put(st, "a/a", ""), SL_OK);
    CHECK_EQ_INT(put(st, "z", "zz"), SL_OK);
    /* parents made, bytes on disk as written */
    raw = read_raw(root, "a/b/c.txt", NULL);
    CHECK(raw);
    CHECK_STR(raw, "hello");
    free(raw);
    /* replace */
    CHECK_EQ_INT(put(st, "a/b/d.txt", "bye"), SL_OK);
    raw = read_raw(root, "a/b/d.txt", NULL);
    CHECK_STR(raw, "bye");
    free(raw);

    /* S3 order: bytewise, so "a.b" (0x2e) before "a/..." (0x2f) */
    CHECK_EQ_INT(sl_store_list(st, "", acc_cb, &acc, &e), SL_OK);
    CHECK_STR(acc.text, "a.b=1\na/a=0\na/b/c.txt=5\na/b/d.txt=3\nz=2\n");
    acc.text[0] = '\0';
    CHECK_EQ_INT(sl_store_list(st, "a/", acc_cb, &acc, &e), SL_OK);
    CHECK_STR(acc.text, "a/a=0\na/b/c.txt=5\na/b/d.txt=3\n");
    acc.text[0] = '\0';
    CHECK_EQ_INT(sl_store_list(st, "a/b/c", acc_cb, &acc, &e), SL_OK); /* a string prefix, as on S3 */
    CHECK_STR(acc.text, "a/b/c.txt=5\n");
    acc.text[0] = '\0';
    CHECK_EQ_INT(sl_store_list(st, "a", acc_cb, &acc, &e), SL_OK);
    CHECK_STR(acc.text, "a.b=1\na/a=0\na/b/c.txt=5\na/b/d.txt=3\n");
    acc.text[0] = '\0';
    CHECK_EQ_INT(sl_store_list(st, "nothing/here/", acc_cb, &acc, &e), SL_OK);
    CHECK_STR(acc.text, "");
    CHECK_EQ_INT(sl_store_list(st, "", stop_cb, &stops, &e), SL_OK);
    CHECK_EQ_INT(stops, 1);

    sl_buf_init(&b, 0);
    CHECK_EQ_INT(sl_store_read(st, "a/b/c.txt", &b, &e), SL_OK);
    CHECK_EQ_INT(b.len, 5);
    CHECK_BYTES(b.data, "hello", 5);
    sl_buf_reset(&b);
    CHECK_EQ_INT(sl_store_read(st, "a/a", &b, &e), SL_OK);
    CHECK_EQ_INT(b.len, 0);
    /* absent: SL_E_IO, recognisable, naming the key, also after more context was added */
    CHECK_EQ_INT(sl_store_read(st, "a/b/missing", &b, &e), SL_E_IO);
    CHECK(sl_store_is_not_found(&e));
    CHECK(strstr(e.msg, "a/b/missing"));
    sl_err_prefix(&e, "reading the manifest: ");
    CHECK(sl_store_is_not_found(&e));
    CHECK_EQ_INT(sl_store_read(st, "z/under-a-file", &b, &e), SL_E_IO);
    CHECK(sl_store_is_not_found(&e));
    /* a folder is not an object, and not "not found" either */
    CHECK_EQ_INT(sl_store_read(st, "a/b", &b, &e), SL_E_IO);
    CHECK(!sl_store_is_not_found(&e));
    CHECK(strstr(e.msg, "a/b"));
    /* the buffer's cap bounds a read */
    sl_buf_free(&b);
    sl_buf_init(&b, 3);
    CHECK_EQ_INT(sl_store_read(st, "a/b/c.txt", &b, &e), SL_E_LIMIT);
    CHECK(strstr(e.msg, "a/b/c.txt"));
    sl_buf_free(&b);

    CHECK_EQ_INT(sl_store_remove(st, "a/b/c.txt", &e), SL_OK);
    CHECK(!exists(root, "a/b/c.txt"));
    CHECK(exists(root, "a/b/d.txt"));
    CHECK_EQ_INT(sl_store_remove(st, "a/b/c.txt", &e), SL_OK); /* missing is fine */
    CHECK_EQ_INT(sl_store_remove(st, "never/was", &e), SL_OK);
    CHECK_EQ_INT(sl_store_remove(st, "a/b", &e), SL_E_IO); /* a folder */
    CHECK(strstr(e.msg, "a/b"));
    sl_store_free(st);
    sl_store_free(NULL);
    rm_rf(root);
}

/* sl_store_open_read: a stdio stream over the object that reads what is asked at any
 * offset (fseek from the start, the current place and the end), stops at the end, and
 * fails for an absent key as read does; a read that fails later gives the store's
 * reason to the caller's why. */
static void local_open_read_seeks_and_reads_ranges(void)
{
    char root[64];
    sl_err e = {0};
    make_root(root, sizeof root);
    sl_store *st = sl_store_local_open(root, &e);
    CHECK(st);
    char data[20001];
    for (size_t i = 0; i < sizeof data - 1; i++) data[i] = (char)('a' + (i * 7) % 26);
    data[sizeof data - 1] = '\0';
    CHECK_EQ_INT(put(st, "d/obj.bin", data), SL_OK);
    sl_err why = {0};
    FILE *f = sl_store_open_read(st, "d/obj.bin", &why, &e);
    CHECK(f != NULL);
    char buf[12000];
    CHECK(fseeko(f, 0, SEEK_END) == 0 && ftello(f) == 20000);
    CHECK(fseeko(f, 9000, SEEK_SET) == 0 && fread(buf, 1, 11000, f) == 11000 && memcmp(buf, data + 9000, 11000) == 0);
    CHECK(fread(buf, 1, 1, f) == 0 && feof(f)); /* the end */
    CHECK(fseeko(f, -8, SEEK_END) == 0 && fread(buf, 1, 100, f) == 8 && memcmp(buf, data + 19992, 8) == 0);
    CHECK(fseeko(f, 3, SEEK_SET) == 0 && fseeko(f, 4, SEEK_CUR) == 0 && fread(buf, 1, 5, f) == 5 &&
          memcmp(buf, data + 7, 5) == 0);
    CHECK(why.code == SL_OK);
    /* the object gone while the stream is open: EIO to stdio, the store's reason to why */
    char path[300];
    snprintf(path, sizeof path, "%s/d/obj.bin", root);
    CHECK(unlink(path) == 0);
    CHECK(fseeko(f, 0, SEEK_SET) == 0 && fread(buf, 1, 10, f) == 0 && ferror(f));
    CHECK(sl_store_is_not_found(&why) && strstr(why.msg, "d/obj.bin"));
    fclose(f);
    CHECK(sl_store_open_read(st, "d/none.bin", NULL, &e) == NULL);
    CHECK(sl_store_is_not_found(&e));
    CHECK(sl_store_open_read(st, "../x", NULL, &e) == NULL && e.code == SL_E_USAGE);
    sl_store_free(st);
    rm_rf(root);
}

static void local_lists_temporaries(void)
{
    char root[64], want[256];
    sl_err e;
    sl_store *st;
    sl_sink *s;
    list_acc acc = {{0}};
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    s = sl_store_create(st, "p/file", &e);
    CHECK(s);
    CHECK_EQ_INT(sl_sink_write(s, "abcd", 4, &e), SL_OK);
    /* Unfinished: only the temporary exists, and it is listed (buffered bytes not yet flushed). */
    CHECK(!exists(root, "p/file"));
    CHECK_EQ_INT(sl_store_list(st, "p/", acc_cb, &acc, &e), SL_OK);
    snprintf(want, sizeof want, "p/file.tmp-%ld=0\n", (long)getpid());
    CHECK_STR(acc.text, want);
    sl_sink_release(s); /* aborts: the temporary goes */
    CHECK_STR(files_under(root), "");
    sl_store_free(st);
    rm_rf(root);
}

/* A link planted at the temporary file's name is never written through: the target
 * keeps its bytes and the file lands as a regular file. */
static void file_sink_never_follows_links(void)
{
    char root[64], target[128], tmp[256], path[128];
    sl_err e;
    struct stat st;
    make_root(root, sizeof root);
    CHECK_EQ_INT(write_raw(root, "target", "secret"), 0);
    CHECK_EQ_INT(write_raw(root, "out/keep", "x"), 0);
    snprintf(target, sizeof target, "%s/target", root);
    snprintf(path, sizeof path, "%s/out/f", root);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    CHECK_EQ_INT(symlink(target, tmp), 0);
    sl_sink *s = sl_sink_file_open(path, &e);
    CHECK(s);
    CHECK_EQ_INT(sl_sink_write(s, "data", 4, &e), SL_OK);
    CHECK_EQ_INT(sl_sink_finish(s, &e), SL_OK);
    sl_sink_release(s);
    char *t = read_raw(root, "target", NULL);
    CHECK_STR(t, "secret");
    free(t);
    CHECK_EQ_INT(lstat(path, &st), 0);
    CHECK(S_ISREG(st.st_mode));
    t = read_raw(root, "out/f", NULL);
    CHECK_STR(t, "data");
    free(t);
    rm_rf(root);
}

/* Every allocation of a file sink's life (folders, temporary, finish and its folder
 * fsync) may fail: each failure is an error, never a silent success. */
static void file_sink_alloc_failures(void)
{
    char root[64], path[160];
    make_root(root, sizeof root);
    for (long n = 0;; n++) {
        sl_err e = {0};
        snprintf(path, sizeof path, "%s/d%ld/e/f", root, n);
        sl_alloc_fail_after(n);
        sl_sink *s = sl_sink_file_open(path, &e);
        sl_code rc = s ? sl_sink_write(s, "data", 4, &e) : e.code;
        if (rc == SL_OK) rc = sl_sink_finish(s, &e);
        sl_sink_release(s);
        long attempted = sl_alloc_fail_after(-1);
        if (attempted <= n) { /* nothing failed: the loop has covered every allocation */
            CHECK_EQ_INT(rc, SL_OK);
            break;
        }
        CHECK(rc != SL_OK);
        CHECK(e.msg[0]);
    }
    rm_rf(root);
}

static void local_root_not_created_until_written(void)
{
    char root[64], sub[128];
    sl_err e;
    sl_store *st;
    list_acc acc = {{0}};
    make_root(root, sizeof root);
    snprintf(sub, sizeof sub, "%s/out/", root);
    st = sl_store_local_open(sub, &e); /* trailing '/' is fine */
    CHECK(st);
    CHECK_EQ_INT(sl_store_list(st, "", acc_cb, &acc, &e), SL_OK);
    CHECK_STR(acc.text, "");
    CHECK(!exists(root, "out"));
    CHECK_EQ_INT(put(st, "k", "v"), SL_OK);
    CHECK(exists(root, "out/k"));
    sl_store_free(st);
    /* a file where the folder should be */
    CHECK_EQ_INT(write_raw(root, "plain", "x"), 0);
    snprintf(sub, sizeof sub, "%s/plain", root);
    CHECK(!sl_store_local_open(sub, &e));
    CHECK_EQ_INT(e.code, SL_E_CONFIG);
    CHECK(strstr(e.msg, sub));
    rm_rf(root);
}

static void key_validation(void)
{
    static const char *good[] = {"a", "a/b", "a.b/c..d", "..a/b..", "raw/orders/2026-12-02/part-00000-r.zstd.parquet",
                                 "_SUCCESS", "a b/ü"};
    static const char *bad[] = {"", "/a", "a//b", "a/", "../a", "a/../b", "a/..", ".", "./a", "a/./b", "a\nb", "a\tb",
                                "a\x7f"};
    char longkey[1100];
    sl_err e;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (sl_store_key_check(good[i], &e) != SL_OK) {
            t_report(__FILE__, __LINE__, good[i]);
            return;
        }
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sl_store_key_check(bad[i], &e) != SL_E_USAGE) {
            t_report(__FILE__, __LINE__, bad[i]);
            return;
        }
        if (bad[i][0] && bad[i][0] != '\n' && !strchr(bad[i], '\n') && !strchr(bad[i], '\t') && !strchr(bad[i], 0x7f) &&
            !strstr(e.msg, bad[i])) {
            t_report(__FILE__, __LINE__, e.msg); /* the message names the key */
            return;
        }
    }
    CHECK_EQ_INT(sl_store_key_check(NULL, &e), SL_E_USAGE);
    memset(longkey, 'k', 1024);
    longkey[1024] = '\0';
    CHECK_EQ_INT(sl_store_key_check(longkey, &e), SL_OK);
    longkey[1024] = 'k';
    longkey[1025] = '\0';
    CHECK_EQ_INT(sl_store_key_check(longkey, &e), SL_E_USAGE);
    CHECK(strstr(e.msg, "1025 bytes"));

    CHECK_EQ_INT(sl_store_prefix_check("", &e), SL_OK);
    CHECK_EQ_INT(sl_store_prefix_check("a", &e), SL_OK);
    CHECK_EQ_INT(sl_store_prefix_check("a/", &e), SL_OK);
    CHECK_EQ_INT(sl_store_prefix_check("a/b/", &e), SL_OK);
    CHECK_EQ_INT(sl_store_prefix_check("/", &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_store_prefix_check("a//", &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_store_prefix_check("../", &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_store_prefix_check("/a/", &e), SL_E_USAGE);
}

static void store_calls_validate_keys(void)
{
    char root[64], outside[128];
    sl_err e;
    sl_store *st;
    sl_buf b;
    make_root(root, sizeof root);
    snprintf(outside, sizeof outside, "%s/in", root);
    st = sl_store_local_open(outside, &e);
    CHECK(st);
    CHECK(!sl_store_create(st, "../escape", &e));
    CHECK_EQ_INT(e.code, SL_E_USAGE);
    CHECK(strstr(e.msg, "../escape"));
    CHECK(!exists(root, "escape"));
    CHECK_STR(files_under(root), "");
    CHECK(!sl_store_create(st, "/etc/x", &e));
    CHECK_EQ_INT(sl_store_remove(st, "a/../../x", &e), SL_E_USAGE);
    sl_buf_init(&b, 0);
    CHECK_EQ_INT(sl_store_read(st, "a//b", &b, &e), SL_E_USAGE);
    CHECK(!sl_store_is_not_found(&e));
    CHECK_EQ_INT(sl_store_list(st, "../", acc_cb, NULL, &e), SL_E_USAGE);
    sl_buf_free(&b);
    sl_store_free(st);
    rm_rf(root);
}

static void store_open_dispatch(void)
{
    char root[64], url[128];
    sl_err e;
    sl_store *st;
    CHECK(!sl_store_open("s3://bucket/prefix", NULL, &e));
    CHECK_EQ_INT(e.code, SL_E_CONFIG);
    CHECK(strstr(e.msg, "s3://bucket/prefix") != NULL);
    CHECK(!sl_store_open("", NULL, &e));
    CHECK_EQ_INT(e.code, SL_E_CONFIG);
    CHECK(!sl_store_open("file://", NULL, &e));
    CHECK_EQ_INT(e.code, SL_E_CONFIG);
    make_root(root, sizeof root);
    snprintf(url, sizeof url, "file://%s", root);
    st = sl_store_open(url, NULL, &e);
    CHECK(st);
    CHECK_STR(st->vt->name, "local");
    CHECK_EQ_INT(put(st, "x/y", "1"), SL_OK);
    CHECK(exists(root, "x/y"));
    sl_store_free(st);
    st = sl_store_open(root, NULL, &e);
    CHECK(st);
    CHECK_STR(st->vt->name, "local");
    CHECK_STR(st->url, root);
    sl_store_free(st);
    rm_rf(root);
}

/* ---- SHA-256 sink ---- */

static void hash_known_vectors(void)
{
    /* FIPS 180-2 examples and the empty message. */
    static const struct {
        const char *in, *want;
    } v[] = {
        {"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sl_err e;
        sl_sink *h = sl_sink_hash_open(sl_sink_mem_open(&e), &e);
        char text[SL_SHA256_TEXT_SIZE];
        uint8_t raw[32];
        size_t n = strlen(v[i].in);
        CHECK(h);
        CHECK_EQ_INT(sl_sink_hash_result(h, raw, text, &e), SL_E_INTERNAL); /* not finished yet */
        for (size_t k = 0; k < n; k++) CHECK_EQ_INT(sl_sink_write(h, v[i].in + k, 1, &e), SL_OK);
        CHECK_EQ_INT(sl_sink_finish(h, &e), SL_OK);
        CHECK_EQ_INT(sl_sink_hash_result(h, raw, text, &e), SL_OK);
        CHECK_STR(text, v[i].want);
        CHECK_EQ_INT(h->bytes, n);
        sl_sink_release(h);
    }
}

static void hash_matches_stored_bytes(void)
{
    char root[64], want[72], text[SL_SHA256_TEXT_SIZE];
    size_t n = 3 * 65536 + 12345, len = 0, off = 0, step = 1;
    uint8_t *data = malloc(n);
    uint64_t x = 0x9e3779b97f4a7c15u;
    sl_err e;
    sl_store *st;
    sl_sink *h;
    char *disk;
    CHECK(data);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    h = sl_sink_hash_open(sl_store_create(st, "big.bin", &e), &e);
    CHECK(h);
    while (off < n) { /* uneven pieces, across the file sink's 64 KiB buffer */
        size_t k = step < n - off ? step : n - off;
        CHECK_EQ_INT(sl_sink_write(h, data + off, k, &e), SL_OK);
        off += k;
        step = step * 3 + 1;
    }
    CHECK_EQ_INT(sl_sink_finish(h, &e), SL_OK);
    CHECK_EQ_INT(sl_sink_hash_result(h, NULL, text, &e), SL_OK);
    sha256_text(data, n, want);
    CHECK_STR(text, want);
    disk = read_raw(root, "big.bin", &len);
    CHECK(disk);
    CHECK_EQ_INT(len, n);
    sha256_text(disk, len, want);
    CHECK_STR(text, want);
    free(disk);
    free(data);
    sl_sink_release(h);
    /* opening over no sink fails cleanly */
    CHECK(!sl_sink_hash_open(NULL, &e));
    sl_store_free(st);
    rm_rf(root);
}

/* ---- a store that fails on demand, over a local one ---- */

typedef struct {
    sl_store base;
    sl_store *inner;
    const char *fail_write; /* sinks of keys containing this fail on their first write */
    const char *fail_finish;
    const char *fail_create;
    const char *fail_after_finish; /* finish completes, then reports a failure (as a lost S3 reply) */
    int fail_list, fail_read;
    char root[64];
    /* removals seen, with the run id of the manifest on disk at that moment */
    char removed[4096];
    const char *watch_manifest; /* key of the manifest to look at on each removal */
} fault_store;

typedef struct {
    sl_sink base;
    sl_sink *inner;
    int fail_write, fail_finish, fail_after_finish;
} fault_sink;

static sl_code fs_write(sl_sink *s, const void *p, size_t n, sl_err *err)
{
    fault_sink *f = (fault_sink *)s;
    if (f->fail_write) return sl_err_set(err, SL_E_IO, "injected write failure");
    return sl_sink_write(f->inner, p, n, err);
}
static sl_code fs_finish(sl_sink *s, sl_err *err)
{
    fault_sink *f = (fault_sink *)s;
    if (f->fail_finish) return sl_err_set(err, SL_E_STORAGE, "injected finish failure");
    SL_TRY(sl_sink_finish(f->inner, err));
    if (f->fail_after_finish) return sl_err_set(err, SL_E_STORAGE, "injected failure after the object was stored");
    return SL_OK;
}
static void fs_abort(sl_sink *s) { sl_sink_abort(((fault_sink *)s)->inner); }
static void fs_release(sl_sink *s)
{
    sl_sink_release(((fault_sink *)s)->inner);
    free(s);
}
static const sl_sink_vtable fault_sink_vt = {"fault", fs_write, fs_finish, fs_abort, fs_release};

static sl_sink *fst_create(sl_store *s, const char *key, sl_err *err)
{
    fault_store *f = (fault_store *)s;
    fault_sink *k;
    sl_sink *in;
    if (f->fail_create && strstr(key, f->fail_create)) {
        sl_err_set(err, SL_E_STORAGE, "injected create failure for %s", key);
        return NULL;
    }
    in = sl_store_create(f->inner, key, err);
    if (!in) return NULL;
    k = calloc(1, sizeof *k);
    k->base.vt = &fault_sink_vt;
    k->inner = in;
    k->fail_write = f->fail_write && strstr(key, f->fail_write);
    k->fail_finish = f->fail_finish && strstr(key, f->fail_finish);
    k->fail_after_finish = f->fail_after_finish && strstr(key, f->fail_after_finish);
    return &k->base;
}
static sl_code fst_list(sl_store *s, const char *prefix, sl_store_list_cb cb, void *ud, sl_err *err)
{
    fault_store *f = (fault_store *)s;
    if (f->fail_list) return sl_err_set(err, SL_E_STORAGE, "injected list failure");
    return sl_store_list(f->inner, prefix, cb, ud, err);
}
static sl_code fst_remove(sl_store *s, const char *key, sl_err *err)
{
    fault_store *f = (fault_store *)s;
    size_t n = strlen(f->removed);
    const char *run = "-";
    json_t *m = NULL;
    if (f->watch_manifest) {
        char *text = read_raw(f->root, f->watch_manifest, NULL);
        m = text ? json_loads(text, 0, NULL) : NULL;
        if (m) run = json_string_value(json_object_get(m, "run_id"));
        free(text);
    }
    snprintf(f->removed + n, sizeof f->removed - n, "%s@%s\n", key, run ? run : "?");
    json_decref(m);
    return sl_store_remove(f->inner, key, err);
}
static sl_code fst_read(sl_store *s, const char *key, sl_buf *out, sl_err *err)
{
    if (((fault_store *)s)->fail_read) return sl_err_set(err, SL_E_STORAGE, "injected read failure for %s", key);
    return sl_store_read(((fault_store *)s)->inner, key, out, err);
}
static void fst_release(sl_store *s) { sl_store_free(((fault_store *)s)->inner); }
static const sl_store_vtable fault_store_vt = {"fault", fst_create, fst_list, fst_remove, fst_read, fst_release, NULL, NULL, NULL};

static int fault_open(fault_store *f)
{
    sl_err e;
    memset(f, 0, sizeof *f);
    make_root(f->root, sizeof f->root);
    f->base.vt = &fault_store_vt;
    f->base.url = f->root;
    f->inner = sl_store_local_open(f->root, &e);
    return f->inner != NULL;
}

/* ---- commit ---- */

#define PART "raw/orders/2026-12-02/"
#define RUN_A "20261202T010000Z-aaaaaaaa"
#define RUN_B "20261202T020000Z-bbbbbbbb"
#define RUN_C "20261202T030000Z-cccccccc"
/* What the partition folder holds after commit_two(run) and its cleanup. */
#define ONLY_RUN(r) PART "_SUCCESS\n" PART "part-00000-" r ".zstd.parquet\n" PART "part-00001-" r ".zstd.parquet\n"

/* One data file of a commit, written in two pieces; rows as given. */
static sl_code add_file(sl_commit *c, const char *name, const char *data, int64_t rows)
{
    sl_err e;
    sl_sink *s = sl_commit_create_file(c, name, &e);
    sl_code rc;
    size_t n = strlen(data);
    if (!s) return e.code;
    rc = sl_sink_write(s, data, n / 2, &e);
    if (rc == SL_OK) rc = sl_sink_write(s, data + n / 2, n - n / 2, &e);
    if (rc == SL_OK) rc = sl_sink_finish(s, &e);
    sl_sink_release(s);
    if (rc == SL_OK) rc = sl_commit_set_rows(c, name, rows, &e);
    return rc;
}

/* A complete commit of run `run` with files part-0000{0,1}-<run>.parquet. */
static sl_code commit_two(sl_store *st, const char *run)
{
    char n0[128], n1[128], d0[128], d1[128];
    sl_err e;
    sl_commit *c = sl_commit_begin(st, PART, run, "2026-12-02", &e);
    sl_code rc;
    if (!c) return e.code;
    snprintf(n0, sizeof n0, "part-00000-%s.zstd.parquet", run);
    snprintf(n1, sizeof n1, "part-00001-%s.zstd.parquet", run);
    snprintf(d0, sizeof d0, "first file of %s", run);
    snprintf(d1, sizeof d1, "second file of %s, longer", run);
    rc = add_file(c, n0, d0, 10);
    if (rc == SL_OK) rc = add_file(c, n1, d1, 20);
    if (rc == SL_OK) rc = sl_commit_finish(c, NULL, &e);
    else sl_commit_abort(c);
    sl_commit_free(c);
    return rc;
}

static json_t *manifest_on_disk(const char *root)
{
    char *text = read_raw(root, PART "_SUCCESS", NULL);
    json_t *m = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(text);
    return m;
}

static const char *manifest_run(const char *root)
{
    static char run[64];
    json_t *m = manifest_on_disk(root);
    const char *r = m ? json_string_value(json_object_get(m, "run_id")) : NULL;
    snprintf(run, sizeof run, "%s", r ? r : "(none)");
    json_decref(m);
    return run;
}

/* Every file a manifest lists exists with the listed size and SHA-256. */
static int manifest_files_intact(const char *root, json_t *m)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(m, "files"), i, f)
    {
        char rel[512], sum[72];
        size_t len;
        char *data;
        snprintf(rel, sizeof rel, PART "%s", json_string_value(json_object_get(f, "name")));
        data = read_raw(root, rel, &len);
        if (!data) return 0;
        sha256_text(data, len, sum);
        free(data);
        if ((json_int_t)len != json_integer_value(json_object_get(f, "bytes"))) return 0;
        if (strcmp(sum, json_string_value(json_object_get(f, "checksum"))) != 0) return 0;
    }
    return 1;
}

static void commit_manifest_contents(void)
{
    char root[64], sum[72];
    sl_err e;
    sl_store *st;
    sl_commit *c;
    json_t *m, *files, *f0, *f1, *extra;
    const char *created;
    int y, mo, d, h, mi, s;
    char z = 0;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    c = sl_commit_begin(st, "raw/orders/2026-12-02", RUN_A, "2026-12-02", &e); /* no trailing '/' */
    CHECK(c);
    CHECK_STR(sl_commit_manifest_key(c), PART "_SUCCESS");
    /* created in the opposite order of the manifest's (sorted) order */
    CHECK_EQ_INT(add_file(c, "part-00001-" RUN_A ".zstd.parquet", "bbbbbbbbbb", 7), SL_OK);
    CHECK_EQ_INT(add_file(c, "part-00000-" RUN_A ".zstd.parquet", "abc", 3), SL_OK);
    CHECK(!exists(root, PART "_SUCCESS"));
    extra = json_pack("{s:{s:[s,s]}, s:{s:s}, s:{s:i}}", "schema", "columns", "order_id", "total_amount", "source",
                      "snapshot", "gtid 0-1-42", "metrics", "rows_per_s", 1000);
    CHECK(extra);
    CHECK_EQ_INT(sl_commit_finish(c, extra, &e), SL_OK);
    json_decref(extra);
    sl_commit_free(c);

    m = manifest_on_disk(root);
    CHECK(m);
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "manifest_version")), 1);
    CHECK_STR(json_string_value(json_object_get(m, "sluice_version")), SLUICE_VERSION); /* from the Makefile */
    CHECK_STR(json_string_value(json_object_get(m, "run_id")), RUN_A);
    CHECK_STR(json_string_value(json_object_get(m, "as_of")), "2026-12-02");
    CHECK_STR(json_string_value(json_object_get(m, "partition")), PART);
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "total_rows")), 10);
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "total_bytes")), 13);
    created = json_string_value(json_object_get(m, "created_at"));
    CHECK(created);
    CHECK_EQ_INT(strlen(created), 20);
    CHECK_EQ_INT(sscanf(created, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z), 7);
    CHECK_EQ_INT(z, 'Z');
    {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        CHECK_EQ_INT(y, tm.tm_year + 1900); /* may flake only at midnight on New Year's Eve */
    }
    files = json_object_get(m, "files");
    CHECK_EQ_INT(json_array_size(files), 2);
    f0 = json_array_get(files, 0);
    f1 = json_array_get(files, 1);
    CHECK_STR(json_string_value(json_object_get(f0, "name")), "part-00000-" RUN_A ".zstd.parquet");
    CHECK_STR(json_string_value(json_object_get(f0, "key")), PART "part-00000-" RUN_A ".zstd.parquet");
    CHECK_EQ_INT(json_integer_value(json_object_get(f0, "bytes")), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(f0, "rows")), 3);
    CHECK_STR(json_string_value(json_object_get(f0, "checksum")),
              "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_STR(json_string_value(json_object_get(f1, "name")), "part-00001-" RUN_A ".zstd.parquet");
    CHECK_EQ_INT(json_integer_value(json_object_get(f1, "bytes")), 10);
    CHECK_EQ_INT(json_integer_value(json_object_get(f1, "rows")), 7);
    sha256_text("bbbbbbbbbb", 10, sum);
    CHECK_STR(json_string_value(json_object_get(f1, "checksum")), sum);
    CHECK(manifest_files_intact(root, m));
    /* the caller's fields, embedded as given */
    CHECK_STR(json_string_value(json_array_get(json_object_get(json_object_get(m, "schema"), "columns"), 1)),
              "total_amount");
    CHECK_STR(json_string_value(json_object_get(json_object_get(m, "source"), "snapshot")), "gtid 0-1-42");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(m, "metrics"), "rows_per_s")), 1000);
    json_decref(m);
    CHECK_STR(files_under(root), ONLY_RUN(RUN_A));

    /* the reader's helper sees the same */
    CHECK_EQ_INT(sl_manifest_read(st, PART, &m, &e), SL_OK);
    CHECK(m);
    CHECK_STR(json_string_value(json_object_get(m, "run_id")), RUN_A);
    json_decref(m);
    sl_store_free(st);
    rm_rf(root);
}

static void commit_rerun_deletes_old_files_after_new_manifest(void)
{
    fault_store fs;
    json_t *m;
    CHECK(fault_open(&fs));
    CHECK_EQ_INT(commit_two(&fs.base, RUN_A), SL_OK);
    CHECK_STR(manifest_run(fs.root), RUN_A);
    CHECK_STR(fs.removed, ""); /* nothing to clean the first time */
    fs.watch_manifest = PART "_SUCCESS";
    CHECK_EQ_INT(commit_two(&fs.base, RUN_B), SL_OK);
    /* each old file was removed while the manifest on disk already named the new run */
    {
        const char *want = PART "part-00000-" RUN_A ".zstd.parquet@" RUN_B "\n" PART "part-00001-" RUN_A
                                ".zstd.parquet@" RUN_B "\n";
        CHECK_STR(fs.removed, want);
    }
    CHECK_STR(files_under(fs.root), ONLY_RUN(RUN_B));
    m = manifest_on_disk(fs.root);
    CHECK(m);
    CHECK(manifest_files_intact(fs.root, m));
    json_decref(m);
    sl_store_free(&fs.base);
    rm_rf(fs.root);
}

static void commit_crashed_run_keeps_previous_and_is_cleaned(void)
{
    char root[64], tmpname[256];
    sl_err e;
    sl_store *st;
    sl_commit *c;
    sl_sink *s;
    json_t *before, *m;
    char *before_text, *after_text;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    CHECK_EQ_INT(commit_two(st, RUN_A), SL_OK);
    before_text = read_raw(root, PART "_SUCCESS", NULL);
    CHECK(before_text);
    before = manifest_on_disk(root);

    /* Run B: one file complete, one half-written, then "killed": the commit is freed
     * without finish or abort, the open sink's temporary stays as a dead process's would. */
    c = sl_commit_begin(st, PART, RUN_B, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "part-00000-" RUN_B ".zstd.parquet", "crashed run's file", 5), SL_OK);
    s = sl_commit_create_file(c, "part-00001-" RUN_B ".zstd.parquet", &e);
    CHECK(s);
    CHECK_EQ_INT(sl_sink_write(s, "partial", 7, &e), SL_OK);
    sl_commit_free(c);
    snprintf(tmpname, sizeof tmpname, PART "part-00001-" RUN_B ".zstd.parquet.tmp-%ld", (long)getpid());
    CHECK(exists(root, tmpname));
    /* a dead process cannot release its sink; keep the temporary by copying it aside */
    {
        char from[512], to[512];
        snprintf(from, sizeof from, "%s/%s", root, tmpname);
        snprintf(to, sizeof to, "%s/%s", root, PART "part-00001-" RUN_B ".zstd.parquet.tmp-99999");
        CHECK_EQ_INT(link(from, to), 0);
    }
    sl_sink_release(s); /* removes its own temporary; the linked copy stays */

    /* The previous output is untouched. */
    after_text = read_raw(root, PART "_SUCCESS", NULL);
    CHECK(after_text);
    CHECK_STR(after_text, before_text);
    CHECK(manifest_files_intact(root, before));
    CHECK(exists(root, PART "part-00000-" RUN_B ".zstd.parquet"));
    CHECK(exists(root, PART "part-00001-" RUN_B ".zstd.parquet.tmp-99999"));
    free(after_text);

    /* The next run commits and leaves only its own files. */
    CHECK_EQ_INT(commit_two(st, RUN_C), SL_OK);
    CHECK_STR(files_under(root), ONLY_RUN(RUN_C));
    m = manifest_on_disk(root);
    CHECK(m);
    CHECK_STR(json_string_value(json_object_get(m, "run_id")), RUN_C);
    CHECK(manifest_files_intact(root, m));
    json_decref(m);
    json_decref(before);
    free(before_text);
    sl_store_free(st);
    rm_rf(root);
}

static void commit_abort_removes_this_runs_files(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    sl_commit *c;
    json_t *before;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    CHECK_EQ_INT(commit_two(st, RUN_A), SL_OK);
    before = manifest_on_disk(root);
    CHECK(before);
    c = sl_commit_begin(st, PART, RUN_B, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "part-00000-" RUN_B ".zstd.parquet", "b0", 1), SL_OK);
    CHECK_EQ_INT(add_file(c, "sub/part-00001-" RUN_B ".zstd.parquet", "b1", 1), SL_OK);
    CHECK(exists(root, PART "sub/part-00001-" RUN_B ".zstd.parquet"));
    sl_commit_abort(c);
    sl_commit_abort(c); /* twice is fine */
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_INTERNAL);
    CHECK(strstr(e.msg, "aborted"));
    CHECK(!sl_commit_create_file(c, "x-" RUN_B, &e));
    sl_commit_free(c);
    CHECK_STR(manifest_run(root), RUN_A);
    CHECK(manifest_files_intact(root, before));
    CHECK_STR(files_under(root), ONLY_RUN(RUN_A));
    json_decref(before);
    sl_commit_abort(NULL);
    sl_commit_free(NULL);
    sl_store_free(st);
    rm_rf(root);
}

/* A file whose first attempt failed may be written again (export retries a range). */
static void commit_retry_of_a_failed_file(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    sl_commit *c;
    sl_sink *s, *s2;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    c = sl_commit_begin(st, PART, RUN_A, "2026-12-02", &e);
    CHECK(c);
    s = sl_commit_create_file(c, "part-00000-" RUN_A ".zstd.parquet", &e);
    CHECK(s);
    CHECK_EQ_INT(sl_sink_write(s, "half", 4, &e), SL_OK);
    /* while the failed attempt's sink is still open, the name is taken */
    sl_sink_abort(s);
    CHECK(!sl_commit_create_file(c, "part-00000-" RUN_A ".zstd.parquet", &e));
    CHECK(strstr(e.msg, "already part of this commit"));
    sl_sink_release(s);
    s2 = sl_commit_create_file(c, "part-00000-" RUN_A ".zstd.parquet", &e);
    CHECK(s2);
    CHECK_EQ_INT(sl_sink_write(s2, "whole file", 10, &e), SL_OK);
    CHECK_EQ_INT(sl_sink_finish(s2, &e), SL_OK);
    sl_sink_release(s2);
    CHECK_EQ_INT(sl_commit_set_rows(c, "part-00000-" RUN_A ".zstd.parquet", 3, &e), SL_OK);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_OK);
    json_t *m = manifest_on_disk(root);
    CHECK(m);
    CHECK_EQ_INT(json_array_size(json_object_get(m, "files")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(json_object_get(m, "files"), 0), "bytes")), 10);
    CHECK(manifest_files_intact(root, m));
    json_decref(m);
    sl_commit_free(c);
    sl_store_free(st);
    rm_rf(root);
}

/* A file written and completed by another process (a task of exec/task.h) joins a
 * commit with the size and checksum that process measured; finish checks the size. */
static void commit_adds_files_written_elsewhere(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    sl_commit *task, *c;
    sl_sink *s;
    uint64_t bytes = 0;
    char sum[SL_SHA256_TEXT_SIZE], want[72];
    const char *name = "part-00000-" RUN_A "-attempt1.zstd.parquet";
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    task = sl_commit_begin(st, PART, RUN_A, "2026-12-02", &e); /* the task's: never finished */
    CHECK(task);
    s = sl_commit_create_file(task, name, &e);
    CHECK(s);
    CHECK_EQ_INT(sl_sink_write(s, "from a task", 11, &e), SL_OK);
    CHECK_EQ_INT(sl_commit_file_info(task, name, &bytes, sum, &e), SL_E_INTERNAL); /* not complete yet */
    CHECK_EQ_INT(sl_sink_finish(s, &e), SL_OK);
    sl_sink_release(s);
    CHECK_EQ_INT(sl_commit_file_info(task, name, &bytes, sum, &e), SL_OK);
    CHECK_EQ_INT(bytes, 11);
    sha256_text("from a task", 11, want);
    CHECK_STR(sum, want);
    sl_commit_free(task); /* the file stays */
    CHECK(exists(root, PART "part-00000-" RUN_A "-attempt1.zstd.parquet"));

    c = sl_commit_begin(st, PART, RUN_A, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(sl_commit_add_file(c, name, bytes, 4, "sha256:xyz", &e), SL_E_FORMAT);
    CHECK_EQ_INT(sl_commit_add_file(c, "part-1-otherrun.parquet", bytes, 4, sum, &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_commit_add_file(c, name, bytes, 4, sum, &e), SL_OK);
    CHECK_EQ_INT(sl_commit_add_file(c, name, bytes, 4, sum, &e), SL_E_USAGE); /* once */
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_OK);
    sl_commit_free(c);
    json_t *m = manifest_on_disk(root);
    CHECK(m);
    json_t *f = json_array_get(json_object_get(m, "files"), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(m, "files")), 1);
    CHECK_STR(json_string_value(json_object_get(f, "checksum")), want);
    CHECK_EQ_INT(json_integer_value(json_object_get(f, "rows")), 4);
    CHECK(manifest_files_intact(root, m));
    json_decref(m);

    /* a size that is not what the store holds: no manifest, the file is deleted */
    c = sl_commit_begin(st, "raw/other/2026-12-02/", RUN_B, "2026-12-02", &e);
    CHECK(c);
    s = sl_commit_create_file(c, "a-" RUN_B, &e);
    CHECK(s);
    CHECK_EQ_INT(sl_sink_finish(s, &e), SL_OK);
    sl_sink_release(s);
    CHECK_EQ_INT(sl_commit_set_rows(c, "a-" RUN_B, 0, &e), SL_OK);
    CHECK_EQ_INT(sl_commit_add_file(c, "b-" RUN_B, 5, 1, want, &e), SL_OK); /* never written */
    CHECK(sl_commit_finish(c, NULL, &e) != SL_OK);
    CHECK(!exists(root, "raw/other/2026-12-02/_SUCCESS"));
    CHECK(!exists(root, "raw/other/2026-12-02/a-" RUN_B));
    sl_commit_free(c);
    sl_store_free(st);
    rm_rf(root);
}

static void commit_failed_file_means_no_manifest(void)
{
    fault_store fs;
    sl_err e;
    sl_commit *c;
    sl_sink *s;
    CHECK(fault_open(&fs));
    CHECK_EQ_INT(commit_two(&fs.base, RUN_A), SL_OK);

    /* A write fails; the caller releases the sink (as an error path does). */
    fs.fail_write = "bad";
    c = sl_commit_begin(&fs.base, PART, RUN_B, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "good-" RUN_B, "fine", 1), SL_OK);
    CHECK_EQ_INT(add_file(c, "bad-" RUN_B, "doomed", 1), SL_E_IO);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_IO);
    CHECK(strstr(e.msg, PART "bad-" RUN_B));
    sl_commit_free(c);
    CHECK_STR(manifest_run(fs.root), RUN_A);
    CHECK_STR(files_under(fs.root), ONLY_RUN(RUN_A));

    /* A write fails and the caller finishes the sink anyway: refused, no truncated file. */
    c = sl_commit_begin(&fs.base, PART, RUN_B, "2026-12-02", &e);
    CHECK(c);
    s = sl_commit_create_file(c, "bad-" RUN_B, &e);
    CHECK(s);
    CHECK_EQ_INT(sl_sink_write(s, "x", 1, &e), SL_E_IO);
    CHECK(sl_sink_finish(s, &e) != SL_OK);
    CHECK(strstr(e.msg, "earlier write failed"));
    sl_sink_release(s);
    CHECK(sl_commit_finish(c, NULL, &e) != SL_OK);
    sl_commit_free(c);
    CHECK_STR(manifest_run(fs.root), RUN_A);
    fs.fail_write = NULL;

    /* Creating a file fails: the commit cannot complete either. */
    fs.fail_create = "nope";
    c = sl_commit_begin(&fs.base, PART, RUN_B, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "good-" RUN_B, "fine", 1), SL_OK);
    CHECK(!sl_commit_create_file(c, "nope-" RUN_B, &e));
    CHECK_EQ_INT(e.code, SL_E_STORAGE);
    CHECK(sl_commit_finish(c, NULL, &e) != SL_OK);
    CHECK(strstr(e.msg, "nope-" RUN_B));
    sl_commit_free(c);
    CHECK_STR(manifest_run(fs.root), RUN_A);
    CHECK(!exists(fs.root, PART "good-" RUN_B));
    fs.fail_create = NULL;

    /* The rename of a file fails (a folder squats its name). */
    {
        char squat[256];
        snprintf(squat, sizeof squat, "%s/" PART "squat-" RUN_B "/x", fs.root);
        CHECK_EQ_INT(write_raw(fs.root, PART "squat-" RUN_B "/x", "x"), 0);
        sl_log_set_level(SL_LOG_ERROR); /* abort cannot unlink the folder: an expected warning */
        c = sl_commit_begin(&fs.base, PART, RUN_B, "2026-12-02", &e);
        CHECK(c);
        CHECK_EQ_INT(add_file(c, "ok-" RUN_B, "fine", 1), SL_OK);
        CHECK_EQ_INT(add_file(c, "squat-" RUN_B, "blocked", 1), SL_E_IO);
        CHECK(sl_commit_finish(c, NULL, &e) != SL_OK);
        sl_commit_free(c);
        sl_log_set_level(SL_LOG_INFO);
        CHECK_STR(manifest_run(fs.root), RUN_A);
        CHECK(!exists(fs.root, PART "ok-" RUN_B));
        remove(squat);
        snprintf(squat, sizeof squat, "%s/" PART "squat-" RUN_B, fs.root);
        rmdir(squat);
    }
    sl_store_free(&fs.base);
    rm_rf(fs.root);
}

/* sl_commit_begin_checked reads no "_SUCCESS" (here every read fails, which refuses
 * sl_commit_begin), writes its files as a task's commit does, and cannot be finished:
 * the partition keeps its manifest, and abort deletes the files. */
static void commit_begun_checked_reads_nothing_and_never_finishes(void)
{
    fault_store fs;
    sl_err e = {0};
    CHECK(fault_open(&fs));
    CHECK_EQ_INT(commit_two(&fs.base, RUN_A), SL_OK);
    fs.fail_read = 1;
    CHECK(!sl_commit_begin(&fs.base, PART, RUN_B, "2026-12-02", &e));
    sl_commit *c = sl_commit_begin_checked(&fs.base, PART, RUN_B, "2026-12-02", &e);
    CHECK(c);
    fs.fail_read = 0;
    CHECK_EQ_INT(add_file(c, "part-00000-" RUN_B, "b", 1), SL_OK);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_INTERNAL);
    CHECK(strstr(e.msg, "cannot be finished"));
    sl_commit_abort(c);
    sl_commit_free(c);
    CHECK_STR(manifest_run(fs.root), RUN_A);
    CHECK_STR(files_under(fs.root), ONLY_RUN(RUN_A));
    sl_store_free(&fs.base);
    rm_rf(fs.root);
}

static void commit_failed_manifest_write_keeps_previous(void)
{
    fault_store fs;
    sl_err e;
    sl_commit *c;
    CHECK(fault_open(&fs));
    CHECK_EQ_INT(commit_two(&fs.base, RUN_A), SL_OK);
    fs.fail_finish = "_SUCCESS";
    c = sl_commit_begin(&fs.base, PART, RUN_B, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "part-00000-" RUN_B, "b", 1), SL_OK);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_STORAGE);
    CHECK(strstr(e.msg, PART "_SUCCESS"));
    sl_commit_free(c);
    CHECK_STR(manifest_run(fs.root), RUN_A);
    CHECK_STR(files_under(fs.root), ONLY_RUN(RUN_A));
    fs.fail_finish = NULL;
    /* A listing failure (before the manifest) also fails the commit. */
    fs.fail_list = 1;
    c = sl_commit_begin(&fs.base, PART, RUN_B, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "part-00000-" RUN_B, "b", 1), SL_OK);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_STORAGE);
    CHECK(strstr(e.msg, PART));
    sl_commit_free(c);
    CHECK_STR(manifest_run(fs.root), RUN_A);
    CHECK(!exists(fs.root, PART "part-00000-" RUN_B));
    sl_store_free(&fs.base);
    rm_rf(fs.root);
}

/* Two partitions' commits of one run, each with one file. */
static sl_code group_two(sl_store *st, const char *p1, const char *p2, const char *run, sl_err *e)
{
    const char *parts[2] = {p1, p2};
    sl_commit *cs[2] = {NULL, NULL};
    sl_code rc = SL_OK;
    char name[128];
    snprintf(name, sizeof name, "part-00000-%s.zstd.parquet", run);
    for (int i = 0; i < 2 && rc == SL_OK; i++) {
        cs[i] = sl_commit_begin(st, parts[i], run, "2026-12-02", e);
        rc = cs[i] ? add_file(cs[i], name, run, 1) : e->code;
    }
    if (rc == SL_OK) rc = sl_commit_finish_all(cs, NULL, 2, e);
    for (int i = 0; i < 2; i++) {
        if (rc != SL_OK) sl_commit_abort(cs[i]);
        sl_commit_free(cs[i]);
    }
    return rc;
}

#define GA "raw/a/2026-12-02/"
#define GB "raw/b/2026-12-02/"

/* Several partitions commit as one: when the second manifest cannot be written, the
 * first is put back byte for byte (or removed, when there was none) and this run's
 * files go; a stop before the manifests writes none. */
static void commit_all_or_nothing(void)
{
    fault_store fs;
    sl_err e;
    CHECK(fault_open(&fs));
    sl_log_set_level(SL_LOG_ERROR);
    /* No previous output: the first partition's new manifest is removed again. */
    fs.fail_finish = GB "_SUCCESS";
    CHECK_EQ_INT(group_two(&fs.base, GA, GB, RUN_A, &e), SL_E_STORAGE);
    CHECK(strstr(e.msg, "1 of 2 partitions"));
    CHECK(strstr(e.msg, GB "_SUCCESS"));
    CHECK_STR(files_under(fs.root), "");
    fs.fail_finish = NULL;
    /* A complete run A, then run B failing on the second manifest. */
    CHECK_EQ_INT(group_two(&fs.base, GA, GB, RUN_A, &e), SL_OK);
    size_t la, lb;
    char *before_a = read_raw(fs.root, GA "_SUCCESS", &la), *before_b = read_raw(fs.root, GB "_SUCCESS", &lb);
    CHECK(before_a && before_b);
    const char *listing_a = files_under(fs.root);
    char expect[1024];
    snprintf(expect, sizeof expect, "%s", listing_a);
    fs.fail_finish = GB "_SUCCESS";
    CHECK_EQ_INT(group_two(&fs.base, GA, GB, RUN_B, &e), SL_E_STORAGE);
    fs.fail_finish = NULL;
    size_t la2, lb2;
    char *after_a = read_raw(fs.root, GA "_SUCCESS", &la2), *after_b = read_raw(fs.root, GB "_SUCCESS", &lb2);
    CHECK(after_a && after_b);
    CHECK(la2 == la && memcmp(after_a, before_a, la) == 0);
    CHECK(lb2 == lb && memcmp(after_b, before_b, lb) == 0);
    CHECK_STR(files_under(fs.root), expect);
    free(before_a);
    free(before_b);
    free(after_a);
    free(after_b);
    /* A stop requested before the commit: no manifest written, run C's files gone. */
    sl_stop_request(15);
    CHECK_EQ_INT(group_two(&fs.base, GA, GB, RUN_C, &e), SL_E_STOPPED);
    CHECK_EQ_INT(sl_exit_code(e.code), 143);
    sl_stop_reset();
    CHECK_STR(files_under(fs.root), expect);
    /* And a run that succeeds replaces both. */
    CHECK_EQ_INT(group_two(&fs.base, GA, GB, RUN_C, &e), SL_OK);
    CHECK(strstr(files_under(fs.root), RUN_C) && !strstr(files_under(fs.root), RUN_A));
    sl_log_set_level(SL_LOG_INFO);
    sl_store_free(&fs.base);
    rm_rf(fs.root);
}

/* The manifest write reports a failure although the manifest was stored (an S3 PUT
 * whose reply was lost): read back, it is ours, so the commit stands. If it cannot be
 * read back, nothing is deleted: a visible manifest must never name deleted files. */
static void commit_manifest_outcome_unknown(void)
{
    fault_store fs;
    sl_err e;
    sl_commit *c;
    json_t *m;
    CHECK(fault_open(&fs));
    CHECK_EQ_INT(commit_two(&fs.base, RUN_A), SL_OK);
    sl_log_set_level(SL_LOG_ERROR); /* the warning is expected */
    fs.fail_after_finish = "_SUCCESS";
    CHECK_EQ_INT(commit_two(&fs.base, RUN_B), SL_OK);
    sl_log_set_level(SL_LOG_INFO);
    CHECK_STR(files_under(fs.root), ONLY_RUN(RUN_B));
    m = manifest_on_disk(fs.root);
    CHECK(m);
    CHECK(manifest_files_intact(fs.root, m));
    json_decref(m);

    c = sl_commit_begin(&fs.base, PART, RUN_C, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "part-00000-" RUN_C, "c", 1), SL_OK);
    fs.fail_read = 1;
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_STORAGE);
    CHECK(strstr(e.msg, "state unknown"));
    sl_commit_abort(c); /* must not delete either */
    sl_commit_free(c);
    fs.fail_read = 0;
    /* the manifest did land: it names run C's file, which is still there */
    m = manifest_on_disk(fs.root);
    CHECK(m);
    CHECK_STR(json_string_value(json_object_get(m, "run_id")), RUN_C);
    CHECK(manifest_files_intact(fs.root, m));
    json_decref(m);
    sl_store_free(&fs.base);
    rm_rf(fs.root);
}

static void commit_refuses_incomplete_files(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    sl_commit *c;
    sl_sink *s;
    json_t *bad;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    /* no row count */
    c = sl_commit_begin(st, PART, RUN_A, "2026-12-02", &e);
    CHECK(c);
    s = sl_commit_create_file(c, "f-" RUN_A, &e);
    CHECK(s);
    CHECK_EQ_INT(sl_sink_write(s, "x", 1, &e), SL_OK);
    CHECK_EQ_INT(sl_sink_finish(s, &e), SL_OK);
    sl_sink_release(s);
    CHECK_EQ_INT(sl_commit_set_rows(c, "other-" RUN_A, 1, &e), SL_E_INTERNAL);
    CHECK_EQ_INT(sl_commit_set_rows(c, "f-" RUN_A, -1, &e), SL_E_INTERNAL);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_INTERNAL);
    CHECK(strstr(e.msg, "row count"));
    CHECK(strstr(e.msg, PART "f-" RUN_A));
    sl_commit_free(c);
    CHECK_STR(files_under(root), "");
    /* still open */
    c = sl_commit_begin(st, PART, RUN_A, "2026-12-02", &e);
    CHECK(c);
    s = sl_commit_create_file(c, "f-" RUN_A, &e);
    CHECK(s);
    CHECK_EQ_INT(sl_commit_set_rows(c, "f-" RUN_A, 1, &e), SL_OK);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_INTERNAL);
    CHECK(strstr(e.msg, "still being written"));
    CHECK(sl_sink_finish(s, &e) != SL_OK); /* its commit is gone */
    sl_sink_release(s);
    sl_commit_free(c);
    CHECK_STR(files_under(root), "");
    /* a reserved manifest field in extra; extra not an object */
    bad = json_pack("{s:s}", "run_id", "forged");
    c = sl_commit_begin(st, PART, RUN_A, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "f-" RUN_A, "x", 1), SL_OK);
    CHECK_EQ_INT(sl_commit_finish(c, bad, &e), SL_E_INTERNAL);
    CHECK(strstr(e.msg, "\"run_id\""));
    sl_commit_free(c);
    json_decref(bad);
    CHECK_STR(files_under(root), "");
    bad = json_string("x");
    c = sl_commit_begin(st, PART, RUN_A, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(sl_commit_finish(c, bad, &e), SL_E_INTERNAL);
    sl_commit_free(c);
    json_decref(bad);
    CHECK_STR(files_under(root), "");
    /* a file that vanished after it was written */
    c = sl_commit_begin(st, PART, RUN_A, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "f-" RUN_A, "x", 1), SL_OK);
    {
        char p[256];
        snprintf(p, sizeof p, "%s/" PART "f-" RUN_A, root);
        CHECK_EQ_INT(remove(p), 0);
    }
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_STORAGE);
    CHECK(strstr(e.msg, "missing"));
    sl_commit_free(c);
    CHECK(!exists(root, PART "_SUCCESS"));
    sl_store_free(st);
    rm_rf(root);
}

static void commit_validates_names(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    sl_commit *c;
    sl_sink *s;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    CHECK(!sl_commit_begin(st, "", RUN_A, "2026-12-02", &e));
    CHECK_EQ_INT(e.code, SL_E_USAGE);
    CHECK(!sl_commit_begin(st, "../up/", RUN_A, "2026-12-02", &e));
    CHECK(strstr(e.msg, "../up/"));
    CHECK(!sl_commit_begin(st, PART, "bad/run", "2026-12-02", &e));
    CHECK(strstr(e.msg, "bad/run"));
    CHECK(!sl_commit_begin(st, PART, "", "2026-12-02", &e));
    CHECK(!sl_commit_begin(st, PART, RUN_A, "2026-02-30", &e));
    CHECK(strstr(e.msg, "2026-02-30"));
    CHECK(!sl_commit_begin(st, PART, RUN_A, "2026-1-02", &e));
    CHECK(!sl_commit_begin(st, PART, RUN_A, "+026-12-02", &e));
    CHECK(!sl_commit_begin(st, PART, RUN_A, NULL, &e));
    c = sl_commit_begin(st, PART, RUN_A, "2024-02-29", &e);
    CHECK(c);
    CHECK(!sl_commit_create_file(c, "part-00000.parquet", &e));
    CHECK(strstr(e.msg, "run id"));
    CHECK(strstr(e.msg, PART "part-00000.parquet"));
    CHECK(!sl_commit_create_file(c, "_SUCCESS" RUN_A, &e));
    CHECK(!sl_commit_create_file(c, "ds/_SUCCESS-" RUN_A, &e));
    CHECK(!sl_commit_create_file(c, "../" RUN_A, &e));
    CHECK_EQ_INT(e.code, SL_E_USAGE);
    CHECK(!sl_commit_create_file(c, "a//" RUN_A, &e));
    s = sl_commit_create_file(c, "ds/p-" RUN_A, &e);
    CHECK(s);
    CHECK(!sl_commit_create_file(c, "ds/p-" RUN_A, &e)); /* twice */
    CHECK(strstr(e.msg, "already"));
    sl_sink_release(s);
    sl_commit_abort(c);
    sl_commit_free(c);
    CHECK_STR(files_under(root), "");
    sl_store_free(st);
    rm_rf(root);
}

static void commit_same_run_id_twice_refused(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    CHECK_EQ_INT(commit_two(st, RUN_A), SL_OK);
    CHECK(!sl_commit_begin(st, PART, RUN_A, "2026-12-02", &e));
    CHECK_EQ_INT(e.code, SL_E_USAGE);
    CHECK(strstr(e.msg, RUN_A));
    CHECK_STR(manifest_run(root), RUN_A);
    sl_store_free(st);
    rm_rf(root);
}

static void commit_empty_partition_and_nesting(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    sl_commit *c;
    json_t *m;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    CHECK_EQ_INT(commit_two(st, RUN_A), SL_OK);
    /* a rerun with no data: an empty, complete partition */
    c = sl_commit_begin(st, PART, RUN_B, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_OK);
    sl_commit_abort(c); /* no-op once finished */
    sl_commit_free(c);
    CHECK_STR(files_under(root), PART "_SUCCESS\n");
    m = manifest_on_disk(root);
    CHECK(m);
    CHECK_EQ_INT(json_array_size(json_object_get(m, "files")), 0);
    json_decref(m);
    /* a partition over a folder holding another partition leaves that one alone */
    sl_log_set_level(SL_LOG_ERROR); /* the warning is expected */
    c = sl_commit_begin(st, "raw/orders", RUN_C, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "all-" RUN_C, "x", 1), SL_OK);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_OK);
    sl_commit_free(c);
    sl_log_set_level(SL_LOG_INFO);
    CHECK_STR(files_under(root), PART "_SUCCESS\n" "raw/orders/_SUCCESS\n" "raw/orders/all-" RUN_C "\n");
    sl_store_free(st);
    rm_rf(root);
}

typedef struct {
    sl_commit *c;
    int t;
    int failures;
} worker;

static void *write_files(void *ud)
{
    worker *w = ud;
    for (int i = 0; i < 8; i++) {
        char name[128], data[64];
        snprintf(name, sizeof name, "t%d/part-%05d-" RUN_A ".parquet", w->t, i);
        snprintf(data, sizeof data, "thread %d file %d", w->t, i);
        if (add_file(w->c, name, data, w->t * 100 + i) != SL_OK) w->failures++;
    }
    return NULL;
}

static void commit_parallel_writers(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    sl_commit *c;
    pthread_t th[4];
    worker w[4];
    json_t *m, *f;
    size_t i;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    c = sl_commit_begin(st, PART, RUN_A, "2026-12-02", &e);
    CHECK(c);
    for (int t = 0; t < 4; t++) {
        w[t].c = c;
        w[t].t = t;
        w[t].failures = 0;
        pthread_create(&th[t], NULL, write_files, &w[t]);
    }
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++) CHECK_EQ_INT(w[t].failures, 0);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_OK);
    sl_commit_free(c);
    m = manifest_on_disk(root);
    CHECK(m);
    CHECK_EQ_INT(json_array_size(json_object_get(m, "files")), 32);
    json_array_foreach(json_object_get(m, "files"), i, f)
    {
        char name[128], data[64], sum[72];
        int t = (int)i / 8, k = (int)i % 8;
        snprintf(name, sizeof name, "t%d/part-%05d-" RUN_A ".parquet", t, k);
        snprintf(data, sizeof data, "thread %d file %d", t, k);
        sha256_text(data, strlen(data), sum);
        CHECK_STR(json_string_value(json_object_get(f, "name")), name);
        CHECK_STR(json_string_value(json_object_get(f, "checksum")), sum);
        CHECK_EQ_INT(json_integer_value(json_object_get(f, "rows")), t * 100 + k);
    }
    CHECK(manifest_files_intact(root, m));
    json_decref(m);
    sl_store_free(st);
    rm_rf(root);
}

static void run_id_format(void)
{
    char a[SL_RUN_ID_SIZE], b[SL_RUN_ID_SIZE];
    sl_err e;
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    CHECK_EQ_INT(sl_run_id(a, &e), SL_OK);
    CHECK_EQ_INT(sl_run_id(b, &e), SL_OK);
    CHECK_EQ_INT(strlen(a), 25);
    CHECK(strcmp(a, b) != 0);
    for (int i = 0; i < 25; i++) {
        char ch = a[i];
        if (i == 8) CHECK_EQ_INT(ch, 'T');
        else if (i == 15) CHECK_EQ_INT(ch, 'Z');
        else if (i == 16) CHECK_EQ_INT(ch, '-');
        else if (i < 15) CHECK(ch >= '0' && ch <= '9');
        else CHECK((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
    }
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H", &tm);
    CHECK(strncmp(a, stamp, 8) == 0); /* same UTC day (flaky only at midnight) */
}

static void manifest_read_checks(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    json_t *m = (json_t *)1;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    CHECK_EQ_INT(sl_manifest_read(st, PART, &m, &e), SL_OK);
    CHECK(m == NULL);
    CHECK_EQ_INT(write_raw(root, PART "_SUCCESS", "{\"run_id\": \"r\", \"files\": [}"), 0);
    CHECK_EQ_INT(sl_manifest_read(st, PART, &m, &e), SL_E_FORMAT);
    CHECK(strstr(e.msg, PART "_SUCCESS"));
    CHECK(!m);
    CHECK_EQ_INT(write_raw(root, PART "_SUCCESS", "{\"run_id\": \"r\"}"), 0);
    CHECK_EQ_INT(sl_manifest_read(st, PART, &m, &e), SL_E_FORMAT);
    CHECK(strstr(e.msg, "files"));
    CHECK_EQ_INT(write_raw(root, PART "_SUCCESS",
                           "{\"run_id\": \"r\", \"files\": [{\"name\": \"a\", \"bytes\": 1, \"rows\": 1, "
                           "\"checksum\": \"md5:00\"}]}"),
                 0);
    CHECK_EQ_INT(sl_manifest_read(st, PART, &m, &e), SL_E_FORMAT);
    CHECK(strstr(e.msg, "files[0]"));
    CHECK_EQ_INT(write_raw(root, PART "_SUCCESS",
                           "{\"run_id\": \"r\", \"files\": [{\"name\": \"../a\", \"bytes\": 1, \"rows\": 1, "
                           "\"checksum\": \"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}]}"),
                 0);
    CHECK_EQ_INT(sl_manifest_read(st, PART, &m, &e), SL_E_FORMAT);
    CHECK_EQ_INT(write_raw(root, PART "_SUCCESS",
                           "{\"run_id\": \"r\", \"files\": [{\"name\": \"a\", \"bytes\": 1, \"rows\": 1, "
                           "\"checksum\": \"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}]}"),
                 0);
    CHECK_EQ_INT(sl_manifest_read(st, "raw/orders/2026-12-02", &m, &e), SL_OK);
    CHECK(m);
    CHECK_STR(json_string_value(json_object_get(m, "run_id")), "r");
    json_decref(m);
    CHECK_EQ_INT(sl_manifest_read(st, "", &m, &e), SL_E_USAGE);
    sl_store_free(st);
    rm_rf(root);
}

/* Each allocation of a rerun's commit fails in turn (after run A committed): no crash,
 * no leak (ASan), and the partition always holds one complete output: run B's if the
 * commit reported success, else run A's. */
static void commit_alloc_failures(void)
{
    char root[64];
    sl_err e;
    long total;
    sl_log_set_level(SL_LOG_ERROR); /* cleanup warnings are expected */
    for (long n = -1;; n++) {
        sl_store *st;
        sl_code rc;
        json_t *m;
        make_root(root, sizeof root);
        st = sl_store_local_open(root, &e);
        CHECK(st);
        CHECK_EQ_INT(commit_two(st, RUN_A), SL_OK);
        sl_alloc_fail_after(n);
        rc = commit_two(st, RUN_B);
        total = sl_alloc_fail_after(-1);
        m = manifest_on_disk(root);
        CHECK(m);
        CHECK_STR(json_string_value(json_object_get(m, "run_id")), rc == SL_OK ? RUN_B : RUN_A);
        CHECK(manifest_files_intact(root, m));
        json_decref(m);
        sl_store_free(st);
        rm_rf(root);
        if (n == -1) {
            CHECK_EQ_INT(rc, SL_OK);
            CHECK(total > 10);
        } else if (n >= total) {
            break; /* every allocation of the commit has failed once */
        }
    }
    sl_log_set_level(SL_LOG_INFO);
}

/* ---- appending commits (incremental loads: several runs of one date) ---- */

/* commit_two, appending, with run fields {"n": n}. */
static sl_code append_two(sl_store *st, const char *run, int n)
{
    char n0[128], n1[128], d0[128], d1[128];
    sl_err e;
    sl_commit *c = sl_commit_begin_append(st, PART, run, "2026-12-02", &e);
    sl_code rc;
    json_t *info = json_pack("{s:i}", "n", n);
    if (!c) {
        json_decref(info);
        return e.code;
    }
    snprintf(n0, sizeof n0, "part-00000-%s.zstd.parquet", run);
    snprintf(n1, sizeof n1, "part-00001-%s.zstd.parquet", run);
    snprintf(d0, sizeof d0, "first file of %s", run);
    snprintf(d1, sizeof d1, "second file of %s, longer", run);
    rc = sl_commit_set_run_info(c, info, &e);
    json_decref(info);
    if (rc == SL_OK) rc = add_file(c, n0, d0, 10);
    if (rc == SL_OK) rc = add_file(c, n1, d1, 20);
    if (rc == SL_OK) rc = sl_commit_finish(c, NULL, &e);
    else sl_commit_abort(c);
    sl_commit_free(c);
    return rc;
}

/* Listed in byte order, as files_under sorts: every run's part-00000, then the part-00001s. */
#define P0(r) PART "part-00000-" r ".zstd.parquet\n"
#define P1(r) PART "part-00001-" r ".zstd.parquet\n"

/* The run ids of a manifest's "runs", space separated. */
static const char *runs_of(json_t *m)
{
    static char buf[512];
    size_t i, n = 0;
    json_t *r;
    buf[0] = 0;
    json_array_foreach(json_object_get(m, "runs"), i, r)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? " " : "",
                              json_string_value(json_object_get(r, "run_id")));
    return buf;
}

static void commit_append_lists_every_run(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    json_t *m, *r;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    /* a replacing commit lists itself as the only run */
    CHECK_EQ_INT(commit_two(st, RUN_A), SL_OK);
    m = manifest_on_disk(root);
    CHECK(m);
    CHECK_STR(runs_of(m), RUN_A);
    r = json_array_get(json_object_get(m, "runs"), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "rows")), 30);
    CHECK_STR(json_string_value(json_array_get(json_object_get(r, "files"), 1)), "part-00001-" RUN_A ".zstd.parquet");
    json_decref(m);
    /* two appends: every run's files stay and are listed, sorted by name */
    CHECK_EQ_INT(append_two(st, RUN_B, 2), SL_OK);
    CHECK_EQ_INT(append_two(st, RUN_C, 3), SL_OK);
    CHECK_STR(files_under(root), PART "_SUCCESS\n" P0(RUN_A) P0(RUN_B) P0(RUN_C) P1(RUN_A) P1(RUN_B) P1(RUN_C));
    m = manifest_on_disk(root);
    CHECK(m);
    CHECK(manifest_files_intact(root, m));
    CHECK_STR(json_string_value(json_object_get(m, "run_id")), RUN_C);
    CHECK_EQ_INT(json_array_size(json_object_get(m, "files")), 6);
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(m, "files"), 0), "name")),
              "part-00000-" RUN_A ".zstd.parquet");
    CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(m, "files"), 5), "name")),
              "part-00001-" RUN_C ".zstd.parquet");
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "total_rows")), 90);
    CHECK_STR(runs_of(m), RUN_A " " RUN_B " " RUN_C);
    r = json_array_get(json_object_get(m, "runs"), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "n")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(r, "rows")), 30);
    CHECK_STR(json_string_value(json_array_get(json_object_get(r, "files"), 0)), "part-00000-" RUN_B ".zstd.parquet");
    json_decref(m);
    /* a run id recorded among the runs is refused */
    CHECK(!sl_commit_begin_append(st, PART, RUN_B, "2026-12-02", &e));
    CHECK_EQ_INT(e.code, SL_E_USAGE);
    /* a replacing commit drops them all again */
    CHECK_EQ_INT(commit_two(st, "20261202T040000Z-dddddddd"), SL_OK);
    CHECK_STR(files_under(root), ONLY_RUN("20261202T040000Z-dddddddd"));
    sl_store_free(st);
    rm_rf(root);
}

/* A manifest written before "runs" existed counts as one run when appended to. */
static void commit_append_to_a_manifest_without_runs(void)
{
    char root[64], path[256];
    sl_err e;
    sl_store *st;
    json_t *m;
    FILE *f;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    CHECK_EQ_INT(commit_two(st, RUN_A), SL_OK);
    m = manifest_on_disk(root);
    CHECK(m);
    json_object_del(m, "runs");
    snprintf(path, sizeof path, "%s/" PART "_SUCCESS", root);
    f = fopen(path, "w");
    CHECK(f);
    json_dumpf(m, f, 0);
    fclose(f);
    json_decref(m);
    CHECK_EQ_INT(append_two(st, RUN_B, 2), SL_OK);
    m = manifest_on_disk(root);
    CHECK(m);
    CHECK_STR(runs_of(m), RUN_A " " RUN_B);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(json_object_get(m, "runs"), 0), "rows")), 30);
    CHECK_EQ_INT(json_array_size(json_object_get(json_array_get(json_object_get(m, "runs"), 0), "files")), 2);
    CHECK(manifest_files_intact(root, m));
    json_decref(m);
    sl_store_free(st);
    rm_rf(root);
}

/* The base changed under a running append (another run committed), or one of its files
 * is gone: nothing is written, the append's files are deleted, the manifest on disk
 * stays as it was. */
static void commit_append_refuses_a_changed_base(void)
{
    char root[64], path[256];
    sl_err e;
    sl_store *st;
    sl_commit *c;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    CHECK_EQ_INT(commit_two(st, RUN_A), SL_OK);
    c = sl_commit_begin_append(st, PART, RUN_C, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "part-00000-" RUN_C ".zstd.parquet", "c0", 1), SL_OK);
    CHECK_EQ_INT(append_two(st, RUN_B, 2), SL_OK); /* commits in between */
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_STORAGE);
    CHECK(strstr(e.msg, RUN_B));
    sl_commit_free(c);
    CHECK_STR(manifest_run(root), RUN_B);
    CHECK_STR(files_under(root), PART "_SUCCESS\n" P0(RUN_A) P0(RUN_B) P1(RUN_A) P1(RUN_B));

    /* a base file vanished */
    c = sl_commit_begin_append(st, PART, RUN_C, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "part-00000-" RUN_C ".zstd.parquet", "c0", 1), SL_OK);
    snprintf(path, sizeof path, "%s/" PART "part-00001-" RUN_A ".zstd.parquet", root);
    CHECK_EQ_INT(remove(path), 0);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_E_STORAGE);
    CHECK(strstr(e.msg, "part-00001-" RUN_A ".zstd.parquet"));
    CHECK(strstr(e.msg, "missing"));
    sl_commit_free(c);
    CHECK_STR(manifest_run(root), RUN_B);
    CHECK(!exists(root, PART "part-00000-" RUN_C ".zstd.parquet"));
    sl_store_free(st);
    rm_rf(root);
}

/* A crashed append (freed without finishing) leaves the previous runs as they were; the
 * next append lists the runs before it, and deletes the crashed run's file. */
static void commit_append_crash_then_next(void)
{
    char root[64];
    sl_err e;
    sl_store *st;
    sl_commit *c;
    json_t *m;
    make_root(root, sizeof root);
    st = sl_store_local_open(root, &e);
    CHECK(st);
    CHECK_EQ_INT(append_two(st, RUN_A, 1), SL_OK);
    c = sl_commit_begin_append(st, PART, RUN_B, "2026-12-02", &e);
    CHECK(c);
    CHECK_EQ_INT(add_file(c, "part-00000-" RUN_B ".zstd.parquet", "crashed", 1), SL_OK);
    sl_commit_free(c); /* "killed" */
    CHECK_STR(manifest_run(root), RUN_A);
    CHECK_EQ_INT(append_two(st, RUN_C, 3), SL_OK);
    CHECK_STR(files_under(root), PART "_SUCCESS\n" P0(RUN_A) P0(RUN_C) P1(RUN_A) P1(RUN_C));
    m = manifest_on_disk(root);
    CHECK(m);
    CHECK_STR(runs_of(m), RUN_A " " RUN_C);
    CHECK(manifest_files_intact(root, m));
    json_decref(m);
    sl_store_free(st);
    rm_rf(root);
}

/* Each allocation of an append fails in turn (after runs A and B are committed): the
 * partition always holds A and B complete, plus C when the append reported success. */
static void commit_append_alloc_failures(void)
{
    char root[64];
    sl_err e;
    long total;
    sl_log_set_level(SL_LOG_ERROR);
    for (long n = -1;; n++) {
        sl_store *st;
        sl_code rc;
        json_t *m;
        make_root(root, sizeof root);
        st = sl_store_local_open(root, &e);
        CHECK(st);
        CHECK_EQ_INT(commit_two(st, RUN_A), SL_OK);
        CHECK_EQ_INT(append_two(st, RUN_B, 2), SL_OK);
        sl_alloc_fail_after(n);
        rc = append_two(st, RUN_C, 3);
        total = sl_alloc_fail_after(-1);
        m = manifest_on_disk(root);
        CHECK(m);
        CHECK_STR(runs_of(m), rc == SL_OK ? RUN_A " " RUN_B " " RUN_C : RUN_A " " RUN_B);
        CHECK(manifest_files_intact(root, m));
        json_decref(m);
        if (rc == SL_OK) CHECK_STR(files_under(root), PART "_SUCCESS\n" P0(RUN_A) P0(RUN_B) P0(RUN_C) P1(RUN_A) P1(RUN_B) P1(RUN_C));
        sl_store_free(st);
        rm_rf(root);
        if (n == -1) {
            CHECK_EQ_INT(rc, SL_OK);
            CHECK(total > 10);
        } else if (n >= total) {
            break;
        }
    }
    sl_log_set_level(SL_LOG_INFO);
}

T_SUITE(suite_store) = {
    {"local_create_read_list_remove", local_create_read_list_remove},
    {"local_open_read_seeks_and_reads_ranges", local_open_read_seeks_and_reads_ranges},
    {"local_lists_temporaries", local_lists_temporaries},
    {"local_root_not_created_until_written", local_root_not_created_until_written},
    {"key_validation", key_validation},
    {"store_calls_validate_keys", store_calls_validate_keys},
    {"store_open_dispatch", store_open_dispatch},
    {"hash_known_vectors", hash_known_vectors},
    {"hash_matches_stored_bytes", hash_matches_stored_bytes},
    {"commit_manifest_contents", commit_manifest_contents},
    {"commit_rerun_deletes_old_files_after_new_manifest", commit_rerun_deletes_old_files_after_new_manifest},
    {"commit_crashed_run_keeps_previous_and_is_cleaned", commit_crashed_run_keeps_previous_and_is_cleaned},
    {"commit_abort_removes_this_runs_files", commit_abort_removes_this_runs_files},
    {"commit_retry_of_a_failed_file", commit_retry_of_a_failed_file},
    {"commit_adds_files_written_elsewhere", commit_adds_files_written_elsewhere},
    {"commit_failed_file_means_no_manifest", commit_failed_file_means_no_manifest},
    {"commit_begun_checked_reads_nothing_and_never_finishes", commit_begun_checked_reads_nothing_and_never_finishes},
    {"commit_failed_manifest_write_keeps_previous", commit_failed_manifest_write_keeps_previous},
    {"commit_manifest_outcome_unknown", commit_manifest_outcome_unknown},
    {"commit_all_or_nothing", commit_all_or_nothing},
    {"file_sink_never_follows_links", file_sink_never_follows_links},
    {"file_sink_alloc_failures", file_sink_alloc_failures},
    {"commit_refuses_incomplete_files", commit_refuses_incomplete_files},
    {"commit_validates_names", commit_validates_names},
    {"commit_same_run_id_twice_refused", commit_same_run_id_twice_refused},
    {"commit_empty_partition_and_nesting", commit_empty_partition_and_nesting},
    {"commit_parallel_writers", commit_parallel_writers},
    {"run_id_format", run_id_format},
    {"manifest_read_checks", manifest_read_checks},
    {"commit_alloc_failures", commit_alloc_failures},
    {"commit_append_lists_every_run", commit_append_lists_every_run},
    {"commit_append_to_a_manifest_without_runs", commit_append_to_a_manifest_without_runs},
    {"commit_append_refuses_a_changed_base", commit_append_refuses_a_changed_base},
    {"commit_append_crash_then_next", commit_append_crash_then_next},
    {"commit_append_alloc_failures", commit_append_alloc_failures},
    T_END,
};
