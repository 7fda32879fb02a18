/* sink.c - the generic sink calls, and the local-file and memory backends. */
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"

sl_code sl_sink_write(sl_sink *s, const void *p, size_t n, sl_err *err)
{
    sl_code rc;
    if (s->state != SL_SINK_OPEN) return sl_err_set(err, SL_E_INTERNAL, "write to a closed %s sink", s->vt->name);
    rc = s->vt->write(s, p, n, err);
    if (rc == SL_OK) s->bytes += n;
    return rc;
}

sl_code sl_sink_finish(sl_sink *s, sl_err *err)
{
    sl_code rc;
    if (s->state != SL_SINK_OPEN) return sl_err_set(err, SL_E_INTERNAL, "finish of a closed %s sink", s->vt->name);
    rc = s->vt->finish(s, err);
    if (rc == SL_OK) s->state = SL_SINK_FINISHED;
    else sl_sink_abort(s);
    return rc;
}

void sl_sink_abort(sl_sink *s)
{
    if (!s || s->state != SL_SINK_OPEN) return;
    s->vt->abort(s);
    s->state = SL_SINK_ABORTED;
}

void sl_sink_release(sl_sink *s)
{
    if (!s) return;
    sl_sink_abort(s);
    s->vt->release(s);
}

/* ---- local file ---- */

/* Writeback of a file's data is started every SL_SINK_WRITEBACK bytes (sync_file_range,
 * which does not wait), so that the fsync of file_finish waits for about the last of them
 * rather than the whole file: 10-13 ms for a file of 8-15 MB here, at the end of the run. */
#define SL_SINK_WRITEBACK (1u << 20)

typedef struct {
    sl_sink base;
    int fd;
    char *path;
    char *tmp;
    uint64_t written, started; /* bytes written; those whose writeback was started */
    char buf[1 << 16];
    size_t used;
} file_sink;

static sl_code write_all(file_sink *f, const char *p, size_t n, sl_err *err)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(f->fd, p + off, n - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return sl_err_set(err, SL_E_IO, "writing %s: %s", f->path, strerror(errno));
        }
        off += (size_t)w;
    }
    f->written += n;
#ifdef SYNC_FILE_RANGE_WRITE
    if (f->written - f->started >= SL_SINK_WRITEBACK) { /* a failure shows at the fsync */
        (void)sync_file_range(f->fd, (off_t)f->started, (off_t)(f->written - f->started), SYNC_FILE_RANGE_WRITE);
        f->started = f->written;
    }
#endif
    return SL_OK;
}

static sl_code flush_buf(file_sink *f, sl_err *err)
{
    SL_TRY(write_all(f, f->buf, f->used, err));
    f->used = 0;
    return SL_OK;
}

/* Small writes gather in the buffer; one of a buffer or more goes to the file as it is. */
static sl_code file_write(sl_sink *s, const void *p, size_t n, sl_err *err)
{
    file_sink *f = (file_sink *)s;
    if (f->used + n > sizeof f->buf) SL_TRY(flush_buf(f, err));
    if (n >= sizeof f->buf) return write_all(f, p, n, err);
    memcpy(f->buf + f->used, p, n);
    f->used += n;
    return SL_OK;
}

/* fsync of a folder: makes the names created or renamed in it durable. */
static sl_code fsync_dir(const char *dir, sl_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sl_err_set(err, SL_E_IO, "opening folder %s to fsync it: %s", dir, strerror(errno));
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return sl_err_set(err, SL_E_IO, "fsync of folder %s: %s", dir, strerror(e));
    }
    close(fd);
    return SL_OK;
}

/* fsync of the folder holding path: a rename into it is durable only then. */
static sl_code fsync_parent(const char *path, sl_err *err)
{
    char *dir = sl_strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    sl_code rc;
    if (!dir) return sl_err_set(err, SL_E_NOMEM, "out of memory syncing the folder of %s", path);
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else strcpy(dir, ".");
    rc = fsync_dir(dir, err);
    sl_free(dir);
    return rc;
}

static sl_code file_finish(sl_sink *s, sl_err *err)
{
    file_sink *f = (file_sink *)s;
    SL_TRY(flush_buf(f, err));
    if (fsync(f->fd) != 0) return sl_err_set(err, SL_E_IO, "fsync %s: %s", f->path, strerror(errno));
    if (close(f->fd) != 0) {
        f->fd = -1;
        return sl_err_set(err, SL_E_IO, "closing %s: %s", f->path, strerror(errno));
    }
    f->fd = -1;
    if (rename(f->tmp, f->path) != 0) return sl_err_set(err, SL_E_IO, "renaming %s to %s: %s", f->tmp, f->path, strerror(errno));
    /* Until the folder is synced the rename may not survive a crash: a failure here is
     * a failure of the file (the commit then removes it). */
    return fsync_parent(f->path, err);
}

static void file_abort(sl_sink *s)
{
    file_sink *f = (file_sink *)s;
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    unlink(f->tmp);
}

static void file_release(sl_sink *s)
{
    file_sink *f = (file_sink *)s;
    sl_free(f->path);
    sl_free(f->tmp);
    sl_free(f);
}

static const sl_sink_vtable file_vt = {"file", file_write, file_finish, file_abort, file_release};

/* Creates the missing folders of path; each new one is made durable by an fsync of
 * the folder that holds it (else a crash could lose the folder, and the file in it,
 * after its rename was synced). */
static sl_code mkdirs_for(const char *path, sl_err *err)
{
    char *p = sl_strdup(path);
    sl_code rc = SL_OK;
    if (!p) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (char *q = p + 1; *q && rc == SL_OK; q++) {
        if (*q != '/') continue;
        *q = '\0';
        if (mkdir(p, 0777) == 0) rc = fsync_parent(p, err);
        else if (errno != EEXIST) rc = sl_err_set(err, SL_E_IO, "creating folder %s: %s", p, strerror(errno));
        *q = '/';
    }
    sl_free(p);
    return rc;
}

/* The temporary file is created, never opened: O_EXCL|O_NOFOLLOW, so a symbolic link
 * planted at its name (or any file there) is never written through. A file left at the
 * name by an earlier process with the same pid is removed once (unlink removes a link,
 * not its target) and the creation tried again. */
static int create_tmp(const char *tmp)
{
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(tmp, flags, 0666);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) fd = open(tmp, flags, 0666);
    return fd;
}

sl_sink *sl_sink_file_open(const char *path, sl_err *err)
{
    file_sink *f;
    size_t n = strlen(path) + 32;
    if (mkdirs_for(path, err) != SL_OK) return NULL;
    f = sl_calloc(1, sizeof *f);
    if (!f) goto nomem;
    f->base.vt = &file_vt;
    f->fd = -1;
    f->path = sl_strdup(path);
    f->tmp = sl_malloc(n);
    if (!f->path || !f->tmp) goto nomem;
    snprintf(f->tmp, n, "%s.tmp-%ld", path, (long)getpid());
    f->fd = create_tmp(f->tmp);
    if (f->fd < 0) {
        sl_err_set(err, SL_E_IO, "creating %s: %s", f->tmp, strerror(errno));
        file_release(&f->base);
        return NULL;
    }
    return &f->base;
nomem:
    if (f) file_release(&f->base);
    sl_err_set(err, SL_E_NOMEM, "out of memory opening %s", path);
    return NULL;
}

/* ---- memory ---- */

typedef struct {
    sl_sink base;
    sl_buf buf;
} mem_sink;

static sl_code mem_write(sl_sink *s, const void *p, size_t n, sl_err *err)
{
    return sl_buf_append(&((mem_sink *)s)->buf, p, n, err);
}
static sl_code mem_finish(sl_sink *s, sl_err *err) { (void)s; (void)err; return SL_OK; }
static void mem_abort(sl_sink *s) { sl_buf_reset(&((mem_sink *)s)->buf); }
static void mem_release(sl_sink *s)
{
    sl_buf_free(&((mem_sink *)s)->buf);
    sl_free(s);
}
static const sl_sink_vtable mem_vt = {"memory", mem_write, mem_finish, mem_abort, mem_release};

sl_sink *sl_sink_mem_open(sl_err *err)
{
    mem_sink *m = sl_calloc(1, sizeof *m);
    if (!m) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        return NULL;
    }
    m->base.vt = &mem_vt;
    sl_buf_init(&m->buf, 0);
    return &m->base;
}

const uint8_t *sl_sink_mem_data(const sl_sink *s, size_t *len)
{
    const mem_sink *m = (const mem_sink *)s;
    *len = m->buf.len;
    return m->buf.data;
}
