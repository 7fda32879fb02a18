/* store_local.c - the local-folder store: a key is a file under the root folder.
 * Objects are written with the file sink (temporary file, fsync, atomic rename, fsync
 * of the folder), listed by walking the folders, read whole, deleted with unlink. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/sl_alloc.h"
#include "store.h"

typedef struct {
    sl_store base;
    char *root; /* without trailing '/' (except the root folder "/" itself) */
} local_store;

/* Keys found under one listing, sorted before they are handed out, so that the local
 * store lists in the same order as S3 does. */
typedef struct {
    char **keys;
    uint64_t *sizes;
    size_t n, cap;
} key_list;

#define LIST_MAX_KEYS ((size_t)10 * 1000 * 1000)

static char *join(const local_store *l, const char *key)
{
    size_t a = strlen(l->root), b = strlen(key);
    char *p = sl_malloc(a + 1 + b + 1);
    if (!p) return NULL;
    memcpy(p, l->root, a);
    if (a == 0 || l->root[a - 1] != '/') p[a++] = '/';
    memcpy(p + a, key, b + 1);
    return p;
}

static sl_sink *local_create(sl_store *s, const char *key, sl_err *err)
{
    local_store *l = (local_store *)s;
    char *path = join(l, key);
    sl_sink *k;
    if (!path) {
        sl_err_set(err, SL_E_NOMEM, "out of memory creating %s", key);
        return NULL;
    }
    k = sl_sink_file_open(path, err);
    sl_free(path);
    return k;
}

static sl_code add_key(key_list *kl, const char *key, size_t klen, uint64_t size, sl_err *err)
{
    if (kl->n == kl->cap) {
        size_t ncap = kl->cap ? kl->cap * 2 : 64;
        char **nk;
        uint64_t *ns;
        if (kl->n >= LIST_MAX_KEYS)
            return sl_err_set(err, SL_E_LIMIT, "more than %zu files to list", LIST_MAX_KEYS);
        nk = sl_realloc(kl->keys, ncap * sizeof *nk);
        if (!nk) return sl_err_set(err, SL_E_NOMEM, "out of memory listing files");
        kl->keys = nk;
        ns = sl_realloc(kl->sizes, ncap * sizeof *ns);
        if (!ns) return sl_err_set(err, SL_E_NOMEM, "out of memory listing files");
        kl->sizes = ns;
        kl->cap = ncap;
    }
    kl->keys[kl->n] = sl_strndup(key, klen);
    if (!kl->keys[kl->n]) return sl_err_set(err, SL_E_NOMEM, "out of memory listing files");
    kl->sizes[kl->n++] = size;
    return SL_OK;
}

/* Walks the folder `rel` (a key prefix ending in '/', or "" for the root) recursively,
 * keeping regular files whose key starts with `prefix`. Symbolic links and other
 * non-regular entries are skipped: the store only ever makes regular files. */
static sl_code walk(const local_store *l, sl_buf *rel, const char *prefix, key_list *kl, sl_err *err)
{
    char *dirpath;
    DIR *d;
    struct dirent *e;
    size_t base_len = rel->len, plen = strlen(prefix);
    sl_code rc = SL_OK;
    SL_TRY(sl_buf_cstr(rel, err));
    dirpath = rel->len ? join(l, (const char *)rel->data) : sl_strdup(l->root);
    if (!dirpath) return sl_err_set(err, SL_E_NOMEM, "out of memory listing %s", l->root);
    d = opendir(dirpath);
    if (!d) {
        int e0 = errno;
        /* A folder not made yet holds no keys; a file where a folder would be, neither. */
        if (e0 == ENOENT || e0 == ENOTDIR) rc = SL_OK;
        else rc = sl_err_set(err, SL_E_IO, "listing folder %s: %s", dirpath, strerror(e0));
        sl_free(dirpath);
        return rc;
    }
    for (;;) {
        struct stat st;
        size_t nlen, klen;
        errno = 0;
        e = readdir(d);
        if (!e) {
            if (errno) rc = sl_err_set(err, SL_E_IO, "listing folder %s: %s", dirpath, strerror(errno));
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        nlen = strlen(e->d_name);
        rel->len = base_len;
        if ((rc = sl_buf_append(rel, e->d_name, nlen, err)) != SL_OK) break;
        if ((rc = sl_buf_cstr(rel, err)) != SL_OK) break;
        klen = rel->len;
        /* Prune folders that cannot hold a matching key. */
        if (memcmp(rel->data, prefix, klen < plen ? klen : plen) != 0) continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue; /* deleted while we list */
            rc = sl_err_set(err, SL_E_IO, "listing %s/%s: %s", dirpath, e->d_name, strerror(errno));
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            if ((rc = sl_buf_append_byte(rel, '/', err)) != SL_OK) break;
            if ((rc = walk(l, rel, prefix, kl, err)) != SL_OK) break;
        } else if (S_ISREG(st.st_mode) && klen >= plen) {
            if ((rc = add_key(kl, (const char *)rel->data, klen, (uint64_t)st.st_size, err)) != SL_OK) break;
        }
    }
    closedir(d);
    sl_free(dirpath);
    rel->len = base_len;
    return rc;
}

static int cmp_idx(const void *a, const void *b, void *ud)
{
    char **keys = ud;
    return strcmp(keys[*(const size_t *)a], keys[*(const size_t *)b]);
}

static sl_code local_list(sl_store *s, const char *prefix, sl_store_list_cb cb, void *ud, sl_err *err)
{
    local_store *l = (local_store *)s;
    key_list kl = {0};
    sl_buf rel;
    size_t *order = NULL;
    const char *slash = strrchr(prefix, '/');
    sl_code rc;
    /* Start at the deepest folder the prefix names fully. */
    sl_buf_init(&rel, 0);
    rc = sl_buf_append(&rel, prefix, slash ? (size_t)(slash - prefix) + 1 : 0, err);
    if (rc == SL_OK) rc = walk(l, &rel, prefix, &kl, err);
    if (rc == SL_OK && kl.n) {
        order = sl_malloc(kl.n * sizeof *order);
        if (!order) rc = sl_err_set(err, SL_E_NOMEM, "out of memory listing %s", l->root);
    }
    if (rc == SL_OK && kl.n) {
        for (size_t i = 0; i < kl.n; i++) order[i] = i;
        qsort_r(order, kl.n, sizeof *order, cmp_idx, kl.keys);
        for (size_t i = 0; i < kl.n; i++)
            if (cb(ud, kl.keys[order[i]], kl.sizes[order[i]])) break;
    }
    for (size_t i = 0; i < kl.n; i++) sl_free(kl.keys[i]);
    sl_free(kl.keys);
    sl_free(kl.sizes);
    sl_free(order);
    sl_buf_free(&rel);
    return rc;
}

static sl_code local_remove(sl_store *s, const char *key, sl_err *err)
{
    local_store *l = (local_store *)s;
    char *path = join(l, key);
    sl_code rc = SL_OK;
    if (!path) return sl_err_set(err, SL_E_NOMEM, "out of memory removing %s", key);
    /* Emptied folders stay: removing them would race with another thread creating a
     * file in the same folder (mkdir, then rmdir by us, then its open fails). */
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
        rc = sl_err_set(err, SL_E_IO, "removing %s: %s", path, strerror(errno));
    sl_free(path);
    return rc;
}

static sl_code local_read(sl_store *s, const char *key, sl_buf *out, sl_err *err)
{
    local_store *l = (local_store *)s;
    char *path = join(l, key);
    struct stat st;
    sl_code rc = SL_OK;
    int fd;
    if (!path) return sl_err_set(err, SL_E_NOMEM, "out of memory reading %s", key);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) rc = sl_store_err_not_found(err, s, key);
        else rc = sl_err_set(err, SL_E_IO, "opening %s: %s", path, strerror(errno));
        sl_free(path);
        return rc;
    }
    if (fstat(fd, &st) != 0) {
        rc = sl_err_set(err, SL_E_IO, "reading %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = sl_err_set(err, SL_E_IO, "reading %s: not a regular file", path);
    } else if ((rc = sl_buf_reserve(out, (size_t)st.st_size, err)) != SL_OK) {
        sl_err_prefix(err, "reading %s: ", path);
    } else {
        /* Read to the end, not to st_size: the file is ours, but be exact if it grew. */
        for (;;) {
            ssize_t r;
            if (out->len == out->cap && (rc = sl_buf_reserve(out, 4096, err)) != SL_OK) {
                sl_err_prefix(err, "reading %s: ", path);
                break;
            }
            r = read(fd, out->data + out->len, out->cap - out->len);
            if (r < 0) {
                if (errno == EINTR) continue;
                rc = sl_err_set(err, SL_E_IO, "reading %s: %s", path, strerror(errno));
                break;
            }
            if (r == 0) break;
            out->len += (size_t)r;
        }
    }
    close(fd);
    sl_free(path);
    return rc;
}

static sl_code local_size(sl_store *s, const char *key, uint64_t *size, sl_err *err)
{
    local_store *l = (local_store *)s;
    char *path = join(l, key);
    struct stat st;
    sl_code rc = SL_OK;
    if (!path) return sl_err_set(err, SL_E_NOMEM, "out of memory reading %s", key);
    if (stat(path, &st) != 0)
        rc = errno == ENOENT || errno == ENOTDIR ? sl_store_err_not_found(err, s, key)
                                                 : sl_err_set(err, SL_E_IO, "reading %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode)) rc = sl_err_set(err, SL_E_IO, "reading %s: not a regular file", path);
    else *size = (uint64_t)st.st_size;
    sl_free(path);
    return rc;
}

static sl_code local_read_at(sl_store *s, const char *key, uint64_t off, size_t n, void *dst, sl_err *err)
{
    local_store *l = (local_store *)s;
    char *path = join(l, key);
    sl_code rc = SL_OK;
    if (!path) return sl_err_set(err, SL_E_NOMEM, "out of memory reading %s", key);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT || errno == ENOTDIR ? sl_store_err_not_found(err, s, key)
                                                : sl_err_set(err, SL_E_IO, "opening %s: %s", path, strerror(errno));
        sl_free(path);
        return rc;
    }
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)dst + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            rc = sl_err_set(err, SL_E_IO, "reading %zu bytes at %llu of %s: %s", n, (unsigned long long)off, path,
                            r < 0 ? strerror(errno) : "the file ends before");
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    sl_free(path);
    return rc;
}

static void local_release(sl_store *s)
{
    local_store *l = (local_store *)s;
    sl_free(l->root);
    sl_free(l->base.url);
    sl_free(l);
}

static const sl_store_vtable local_vt = {"local",       local_create, local_list, local_remove, local_read,
                                         local_release, NULL,         local_size, local_read_at};

sl_store *sl_store_local_open(const char *root, sl_err *err)
{
    local_store *l;
    struct stat st;
    size_t n;
    if (!root || !*root) {
        sl_err_set(err, SL_E_CONFIG, "the output folder is empty");
        return NULL;
    }
    if (stat(root, &st) == 0 && !S_ISDIR(st.st_mode)) {
        sl_err_set(err, SL_E_CONFIG, "output folder %s exists and is not a folder", root);
        return NULL;
    }
    l = sl_calloc(1, sizeof *l);
    if (!l) goto nomem;
    l->base.vt = &local_vt;
    l->base.url = sl_strdup(root);
    l->root = sl_strdup(root);
    if (!l->base.url || !l->root) goto nomem;
    n = strlen(l->root);
    while (n > 1 && l->root[n - 1] == '/') l->root[--n] = '\0';
    return &l->base;
nomem:
    if (l) local_release(&l->base);
    sl_err_set(err, SL_E_NOMEM, "out of memory opening %s", root);
    return NULL;
}
