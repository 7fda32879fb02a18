/* store.c - opening an output location by URL (the one place that picks a backend),
 * key validation shared by every backend, and the checked calls into the vtable. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../common/sl_log.h"
#include "s3.h"

sl_store *sl_store_open(const char *url, const sl_config *cfg, sl_err *err)
{
    if (!url || !*url) {
        sl_err_set(err, SL_E_CONFIG, "the output location is empty (give a folder or s3://bucket/prefix)");
        return NULL;
    }
    /* The backend dispatch, one line per URL scheme. */
    if (strncmp(url, "s3://", 5) == 0) return sl_store_s3_open(url, cfg, err);
    if (strncmp(url, "file://", 7) == 0) url += 7;
    if (!*url) {
        sl_err_set(err, SL_E_CONFIG, "the output location file:// names no folder");
        return NULL;
    }
    return sl_store_local_open(url, err);
}

void sl_store_free(sl_store *s)
{
    if (s) s->vt->release(s);
}

/* One segment of a key: non-empty, not "." or "..". */
static sl_code check_segment(const char *key, const char *seg, size_t n, sl_err *err)
{
    if (n == 0) return sl_err_set(err, SL_E_USAGE, "invalid key '%.300s': empty path segment", key);
    if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
        return sl_err_set(err, SL_E_USAGE, "invalid key '%.300s': '%.*s' segment", key, (int)n, seg);
    return SL_OK;
}

static sl_code check_path(const char *key, size_t len, sl_err *err)
{
    const char *seg = key;
    if (len == 0) return sl_err_set(err, SL_E_USAGE, "invalid key: empty");
    if (len > SL_STORE_KEY_MAX)
        return sl_err_set(err, SL_E_USAGE, "invalid key '%.100s...': %zu bytes, more than %d", key, len,
                          SL_STORE_KEY_MAX);
    if (key[0] == '/') return sl_err_set(err, SL_E_USAGE, "invalid key '%.300s': starts with '/'", key);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch < 0x20 || ch == 0x7f)
            return sl_err_set(err, SL_E_USAGE, "invalid key '%.300s': control character 0x%02x at byte %zu", key, ch,
                              i);
        if (ch == '/') {
            SL_TRY(check_segment(key, seg, (size_t)(key + i - seg), err));
            seg = key + i + 1;
        }
    }
    return check_segment(key, seg, (size_t)(key + len - seg), err);
}

sl_code sl_store_key_check(const char *key, sl_err *err)
{
    if (!key) return sl_err_set(err, SL_E_USAGE, "invalid key: none given");
    return check_path(key, strlen(key), err);
}

sl_code sl_store_prefix_check(const char *prefix, sl_err *err)
{
    size_t n;
    if (!prefix) return sl_err_set(err, SL_E_USAGE, "invalid prefix: none given");
    n = strlen(prefix);
    if (n == 0) return SL_OK;
    if (prefix[n - 1] == '/') n--;
    if (n == 0) return sl_err_set(err, SL_E_USAGE, "invalid prefix '/': starts with '/'");
    return check_path(prefix, n, err);
}

#define NOT_FOUND_TAIL ": not found"

sl_code sl_store_err_not_found(sl_err *err, const sl_store *s, const char *key)
{
    /* Bounded pieces, so that the tail survives and sl_store_is_not_found() can see it. */
    return sl_err_set(err, SL_E_IO, "%.300s: %.500s" NOT_FOUND_TAIL, s->url, key);
}

int sl_store_is_not_found(const sl_err *err)
{
    size_t n, t = strlen(NOT_FOUND_TAIL);
    if (!err || err->code != SL_E_IO) return 0;
    n = strnlen(err->msg, sizeof err->msg);
    return n >= t && memcmp(err->msg + n - t, NOT_FOUND_TAIL, t) == 0;
}

sl_sink *sl_store_create(sl_store *s, const char *key, sl_err *err)
{
    if (sl_store_key_check(key, err) != SL_OK) return NULL;
    return s->vt->create(s, key, err);
}

sl_code sl_store_list(sl_store *s, const char *prefix, sl_store_list_cb cb, void *ud, sl_err *err)
{
    SL_TRY(sl_store_prefix_check(prefix, err));
    return s->vt->list(s, prefix, cb, ud, err);
}

sl_code sl_store_remove(sl_store *s, const char *key, sl_err *err)
{
    SL_TRY(sl_store_key_check(key, err));
    return s->vt->remove(s, key, err);
}

sl_code sl_store_read(sl_store *s, const char *key, sl_buf *out, sl_err *err)
{
    SL_TRY(sl_store_key_check(key, err));
    return s->vt->read(s, key, out, err);
}

static sl_code ranged(const sl_store *s, sl_err *err)
{
    if (s->vt->size && s->vt->read_at) return SL_OK;
    return sl_err_set(err, SL_E_UNSUPPORTED, "%s: the %s store cannot read parts of objects", s->url, s->vt->name);
}

sl_code sl_store_size(sl_store *s, const char *key, uint64_t *size, sl_err *err)
{
    SL_TRY(sl_store_key_check(key, err));
    SL_TRY(ranged(s, err));
    return s->vt->size(s, key, size, err);
}

sl_code sl_store_read_at(sl_store *s, const char *key, uint64_t off, size_t n, void *dst, sl_err *err)
{
    SL_TRY(sl_store_key_check(key, err));
    SL_TRY(ranged(s, err));
    return s->vt->read_at(s, key, off, n, dst, err);
}

/* sl_store_open_read's cookie: the object, its size, where the stream stands. */
typedef struct obj_stream {
    sl_store *s;
    char *key;
    uint64_t size, pos;
    sl_err *why; /* the caller's: the first failed read's reason */
} obj_stream;

static ssize_t obj_read(void *c, char *buf, size_t n)
{
    obj_stream *o = c;
    if (o->pos >= o->size) return 0;
    if (n > o->size - o->pos) n = (size_t)(o->size - o->pos);
    sl_err e = {0};
    if (o->s->vt->read_at(o->s, o->key, o->pos, n, buf, &e) != SL_OK) {
        /* stdio keeps only errno: the reason goes to the caller's why, or the log */
        if (!o->why) sl_warn("%s", e.msg);
        else if (o->why->code == SL_OK) *o->why = e;
        errno = EIO;
        return -1;
    }
    o->pos += n;
    return (ssize_t)n;
}

static int obj_seek(void *c, off64_t *off, int whence)
{
    obj_stream *o = c;
    int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)o->pos : (int64_t)o->size;
    if (*off < -base) {
        errno = EINVAL;
        return -1;
    }
    o->pos = (uint64_t)(base + *off);
    *off = (off64_t)o->pos;
    return 0;
}

static int obj_close(void *c)
{
    obj_stream *o = c;
    sl_free(o->key);
    sl_free(o);
    return 0;
}

FILE *sl_store_open_read(sl_store *s, const char *key, sl_err *why, sl_err *err)
{
    if (sl_store_key_check(key, err) != SL_OK || ranged(s, err) != SL_OK) return NULL;
    obj_stream *o = sl_calloc(1, sizeof *o);
    if (!o || !(o->key = sl_strdup(key))) {
        sl_free(o);
        sl_err_set(err, SL_E_NOMEM, "out of memory opening %s", key);
        return NULL;
    }
    o->s = s;
    o->why = why;
    if (s->vt->size(s, key, &o->size, err) != SL_OK) {
        obj_close(o);
        return NULL;
    }
    FILE *f = fopencookie(o, "rb", (cookie_io_functions_t){obj_read, NULL, obj_seek, obj_close});
    if (!f) {
        obj_close(o);
        sl_err_set(err, SL_E_NOMEM, "out of memory opening %s", key);
    }
    return f;
}

sl_code sl_store_abort_uploads(sl_store *s, const char *prefix, sl_err *err)
{
    if (!s->vt->abort_uploads) return SL_OK;
    SL_TRY(sl_store_prefix_check(prefix, err));
    return s->vt->abort_uploads(s, prefix, err);
}
