/* commit.c - the commit protocol over any store (commit.h): data files under unique
 * per-run names, hashed as they are written; a "_SUCCESS" manifest written last; then
 * deletion of everything in the partition the manifest does not list. An appending
 * commit's manifest also lists the files of the runs committed before it. */
#include "commit.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../common/sl_log.h"
#include "../common/sl_stop.h"
#include "../common/sl_time.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

#define MANIFEST_MAX ((size_t)64 << 20)

enum { F_WRITING, F_DONE, F_FAILED };
enum { C_ACTIVE, C_FINISHING, C_FINISHED, C_ABORTED };

typedef struct cfile {
    char *name; /* relative to the partition */
    char *key;  /* relative to the store root */
    int state;
    int open; /* a sink for it exists (not yet released) */
    int has_rows;
    int64_t rows;
    uint64_t bytes;
    char checksum[SL_SHA256_TEXT_SIZE];
    int fixed; /* sl_commit_add_fixed: shared name, never deleted by abort */
} cfile;

typedef struct fixed_file {
    char *name;
    uint8_t *data;
    size_t len;
} fixed_file;

struct sl_commit {
    sl_store *st;
    char *prefix; /* ends in '/' */
    char *run_id;
    char *manifest_key;
    char as_of[11];
    pthread_mutex_t mu;
    int state;
    int refs; /* the handle, plus one per file sink not yet released */
    cfile **files;
    size_t nfiles, cap;
    fixed_file *fixed; /* written by finish, just before the manifest */
    size_t nfixed;
    int append;        /* sl_commit_begin_append */
    json_t *base;      /* append: the manifest committed when the run began, or NULL */
    json_t *run_info;  /* fields of this run's "runs" entry (sl_commit_set_run_info) */
    const char **kept; /* append: the base's file names, sorted (strings owned by base) */
    size_t nkept;
    sl_buf prev;   /* the "_SUCCESS" in place when the commit began, byte for byte */
    int had_prev;  /* there was one (prev may be empty only if the file was) */
    int unchecked; /* sl_commit_begin_checked: prev was not read; never finished */
};

/* Keys the commit writes into the manifest itself; `extra` may not set them. */
static const char *const reserved[] = {"manifest_version", "sluice_version", "run_id",      "as_of", "created_at",
                                       "partition",        "total_rows",     "total_bytes", "files", "runs"};

/* ---- run ids ---- */

sl_code sl_run_id(char out[SL_RUN_ID_SIZE], sl_err *err)
{
    unsigned char r[4];
    int64_t us_of_day;
    int32_t days = (int32_t)sl_day_floor(sl_now_us(), &us_of_day);
    int64_t sod = us_of_day / 1000000;
    int y;
    unsigned m, d;
    if (RAND_bytes(r, sizeof r) != 1) return sl_err_set(err, SL_E_INTERNAL, "no random bytes for a run id (OpenSSL)");
    sl_civil_from_days(days, &y, &m, &d);
    snprintf(out, SL_RUN_ID_SIZE, "%04d%02u%02uT%02d%02d%02dZ-%02x%02x%02x%02x", y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60), r[0], r[1], r[2], r[3]);
    return SL_OK;
}

static void utc_now_iso(char buf[32])
{
    int64_t us_of_day;
    int32_t days = (int32_t)sl_day_floor(sl_now_us(), &us_of_day);
    int64_t sod = us_of_day / 1000000;
    int y;
    unsigned m, d;
    sl_civil_from_days(days, &y, &m, &d);
    snprintf(buf, 32, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
             (int)(sod % 60));
}

/* ---- begin / free ---- */

static sl_code check_run_id(const char *id, sl_err *err)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 64)
        return sl_err_set(err, SL_E_USAGE, "invalid run id '%.80s': 1 to 64 characters", id ? id : "");
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-'))
            return sl_err_set(err, SL_E_USAGE, "invalid run id '%s': only letters, digits, '.', '_' and '-'", id);
    }
    return SL_OK;
}

static sl_code check_date(const char *s, sl_err *err)
{
    int ok = s && strlen(s) == 10 && s[4] == '-' && s[7] == '-';
    for (int i = 0; ok && i < 10; i++)
        if (i != 4 && i != 7 && !(s[i] >= '0' && s[i] <= '9')) ok = 0;
    if (ok) {
        int y = atoi(s);
        unsigned m = (unsigned)atoi(s + 5), d = (unsigned)atoi(s + 8);
        ok = sl_date_valid(y, m, d);
    }
    if (!ok) return sl_err_set(err, SL_E_USAGE, "invalid as-of date '%.40s': expected YYYY-MM-DD", s ? s : "");
    return SL_OK;
}

static void commit_destroy(sl_commit *c)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        sl_free(c->files[i]->name);
        sl_free(c->files[i]->key);
        sl_free(c->files[i]);
    }
    sl_free(c->files);
    for (size_t i = 0; i < c->nfixed; i++) {
        sl_free(c->fixed[i].name);
        sl_free(c->fixed[i].data);
    }
    sl_free(c->fixed);
    sl_free(c->kept);
    json_decref(c->base);
    json_decref(c->run_info);
    sl_free(c->prefix);
    sl_free(c->run_id);
    sl_free(c->manifest_key);
    sl_buf_free(&c->prev);
    pthread_mutex_destroy(&c->mu);
    sl_free(c);
}

/* Drops one reference; the last one frees. */
static void commit_unref(sl_commit *c)
{
    int left;
    pthread_mutex_lock(&c->mu);
    left = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (left == 0) commit_destroy(c);
}

static char *concat(const char *a, const char *b, const char *cc)
{
    size_t na = strlen(a), nb = strlen(b), nc = strlen(cc);
    char *p = sl_malloc(na + nb + nc + 1);
    if (!p) return NULL;
    memcpy(p, a, na);
    memcpy(p + na, b, nb);
    memcpy(p + na + nb, cc, nc + 1);
    return p;
}

static sl_code manifest_parse(const char *key, const sl_buf *b, json_t **out, sl_err *err);

/* Whether run `id` is one the manifest m records: its own run or one of its "runs". */
static int manifest_has_run(const json_t *m, const char *id)
{
    size_t i;
    json_t *r;
    if (!m) return 0;
    if (strcmp(json_string_value(json_object_get(m, "run_id")), id) == 0) return 1;
    json_array_foreach(json_object_get(m, "runs"), i, r)
    {
        const char *rid = json_string_value(json_object_get(r, "run_id"));
        if (rid && strcmp(rid, id) == 0) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* A run id is used once per partition: a second commit under the id the current
 * "_SUCCESS" names would overwrite that manifest's own files before replacing it.
 * An appending commit keeps the manifest (and the sorted names of its files): finish
 * carries them into the new one. The current manifest's bytes are kept too: a
 * multi-partition commit that fails half-way puts them back (sl_commit_finish_all). */
static sl_code check_not_committed(sl_commit *c, sl_err *err)
{
    json_t *m = NULL, *f;
    size_t i;
    sl_err e;
    sl_code rc = sl_store_read(c->st, c->manifest_key, &c->prev, &e);
    if (rc != SL_OK) {
        c->prev.len = 0;
        if (sl_store_is_not_found(&e)) return SL_OK;
        if (err) *err = e;
        return sl_err_prefix(err, "starting a commit of %s: ", c->prefix);
    }
    c->had_prev = 1;
    rc = manifest_parse(c->manifest_key, &c->prev, &m, err);
    if (rc != SL_OK) return sl_err_prefix(err, "starting a commit of %s: ", c->prefix);
    if (manifest_has_run(m, c->run_id))
        rc = sl_err_set(err, SL_E_USAGE, "partition %s is already committed by run %s; a new run needs a new run id",
                        c->prefix, c->run_id);
    if (rc == SL_OK && c->append && m) {
        json_t *files = json_object_get(m, "files");
        c->kept = sl_malloc((json_array_size(files) + 1) * sizeof *c->kept);
        if (!c->kept) rc = sl_err_set(err, SL_E_NOMEM, "out of memory starting a commit of %s", c->prefix);
        json_array_foreach(files, i, f) if (c->kept) c->kept[c->nkept++] = json_string_value(json_object_get(f, "name"));
        if (c->nkept) qsort(c->kept, c->nkept, sizeof *c->kept, cmp_str);
        if (rc == SL_OK) {
            c->base = m; /* owned by the commit from here on */
            m = NULL;
        }
    }
    json_decref(m);
    return rc;
}

static sl_commit *commit_begin(sl_store *st, const char *partition, const char *run_id, const char *as_of, int append,
                               int check, sl_err *err)
{
    sl_commit *c;
    size_t n;
    if (!partition || !*partition) {
        sl_err_set(err, SL_E_USAGE, "a commit needs a partition prefix (the store root cannot be one)");
        return NULL;
    }
    if (sl_store_prefix_check(partition, err) != SL_OK || check_run_id(run_id, err) != SL_OK ||
        check_date(as_of, err) != SL_OK)
        return NULL;
    c = sl_calloc(1, sizeof *c);
    if (!c) goto nomem;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        sl_free(c);
        sl_err_set(err, SL_E_INTERNAL, "cannot make a mutex");
        return NULL;
    }
    c->st = st;
    c->refs = 1;
    c->append = append;
    c->unchecked = !check;
    sl_buf_init(&c->prev, MANIFEST_MAX);
    n = strlen(partition);
    c->prefix = concat(partition, partition[n - 1] == '/' ? "" : "/", "");
    c->run_id = sl_strdup(run_id);
    memcpy(c->as_of, as_of, 11);
    if (!c->prefix || !c->run_id) goto nomem;
    c->manifest_key = concat(c->prefix, SL_MANIFEST_NAME, "");
    if (!c->manifest_key) goto nomem;
    if (sl_store_key_check(c->manifest_key, err) != SL_OK || (check && check_not_committed(c, err) != SL_OK)) {
        commit_destroy(c);
        return NULL;
    }
    return c;
nomem:
    if (c) commit_destroy(c);
    sl_err_set(err, SL_E_NOMEM, "out of memory starting a commit of %s", partition);
    return NULL;
}

sl_commit *sl_commit_begin(sl_store *st, const char *partition, const char *run_id, const char *as_of, sl_err *err)
{
    return commit_begin(st, partition, run_id, as_of, 0, 1, err);
}

sl_commit *sl_commit_begin_checked(sl_store *st, const char *partition, const char *run_id, const char *as_of,
                                   sl_err *err)
{
    return commit_begin(st, partition, run_id, as_of, 0, 0, err);
}

sl_commit *sl_commit_begin_append(sl_store *st, const char *partition, const char *run_id, const char *as_of,
                                  sl_err *err)
{
    return commit_begin(st, partition, run_id, as_of, 1, 1, err);
}

sl_code sl_commit_set_run_info(sl_commit *c, const json_t *info, sl_err *err)
{
    const char *k;
    json_t *v, *copy;
    if (!json_is_object(info))
        return sl_err_set(err, SL_E_INTERNAL, "commit of %s: the run's fields are not a JSON object", c->prefix);
    json_object_foreach((json_t *)info, k, v)
    {
        if (strcmp(k, "run_id") == 0 || strcmp(k, "created_at") == 0 || strcmp(k, "rows") == 0 ||
            strcmp(k, "bytes") == 0 || strcmp(k, "files") == 0)
            return sl_err_set(err, SL_E_INTERNAL, "commit of %s: run field \"%s\" is written by the commit itself",
                              c->prefix, k);
    }
    copy = json_deep_copy(info);
    if (!copy) return sl_err_set(err, SL_E_NOMEM, "out of memory in the commit of %s", c->prefix);
    pthread_mutex_lock(&c->mu);
    json_decref(c->run_info);
    c->run_info = copy;
    pthread_mutex_unlock(&c->mu);
    return SL_OK;
}

void sl_commit_free(sl_commit *c)
{
    if (c) commit_unref(c);
}

const char *sl_commit_manifest_key(const sl_commit *c) { return c->manifest_key; }

const json_t *sl_commit_base(const sl_commit *c) { return c->base; }

static const char *state_name(int s)
{
    return s == C_ACTIVE ? "active" : s == C_FINISHING ? "finishing" : s == C_FINISHED ? "finished" : "aborted";
}

/* ---- the file sink: SHA-256 pass-through that records the file in the commit ---- */

typedef struct {
    sl_sink base;
    sl_commit *c;
    cfile *f;
    sl_sink *hash; /* over the store's sink */
    int write_failed;
} commit_sink;

static sl_code cs_write(sl_sink *s, const void *p, size_t n, sl_err *err)
{
    commit_sink *cs = (commit_sink *)s;
    sl_code rc = sl_sink_write(cs->hash, p, n, err);
    if (rc != SL_OK) cs->write_failed = 1; /* the file now misses bytes: it may not finish */
    return rc;
}

static void mark_failed(commit_sink *cs)
{
    pthread_mutex_lock(&cs->c->mu);
    if (cs->f->state == F_WRITING) cs->f->state = F_FAILED;
    pthread_mutex_unlock(&cs->c->mu);
}

static sl_code cs_finish(sl_sink *s, sl_err *err)
{
    commit_sink *cs = (commit_sink *)s;
    sl_commit *c = cs->c;
    cfile *f = cs->f;
    sl_code rc;
    int st;
    char sum[SL_SHA256_TEXT_SIZE];
    pthread_mutex_lock(&c->mu);
    st = c->state;
    pthread_mutex_unlock(&c->mu);
    if (st != C_ACTIVE)
        return sl_err_set(err, SL_E_INTERNAL, "file %s: its commit is already %s", f->key, state_name(st));
    if (cs->write_failed) return sl_err_set(err, SL_E_INTERNAL, "file %s: an earlier write failed", f->key);
    /* The slow part (fsync, rename; or the S3 upload's completion) runs unlocked. */
    SL_TRY(sl_sink_finish(cs->hash, err));
    rc = sl_sink_hash_result(cs->hash, NULL, sum, err);
    if (rc != SL_OK) return rc;
    pthread_mutex_lock(&c->mu);
    st = c->state;
    if (st == C_ACTIVE) {
        f->state = F_DONE;
        f->bytes = cs->hash->bytes;
        memcpy(f->checksum, sum, sizeof sum);
    }
    pthread_mutex_unlock(&c->mu);
    if (st != C_ACTIVE) {
        /* Aborted while we were completing the file: it became visible after the abort
         * deleted this run's files, so delete it here. */
        sl_err e;
        if (sl_store_remove(c->st, f->key, &e) != SL_OK) sl_warn("commit of %s: %s", c->prefix, e.msg);
        return sl_err_set(err, SL_E_INTERNAL, "file %s: its commit was %s while the file was completed", f->key,
                          state_name(st));
    }
    return SL_OK;
}

static void cs_abort(sl_sink *s)
{
    commit_sink *cs = (commit_sink *)s;
    sl_sink_abort(cs->hash);
    mark_failed(cs);
}

static void cs_release(sl_sink *s)
{
    commit_sink *cs = (commit_sink *)s;
    sl_sink_release(cs->hash);
    pthread_mutex_lock(&cs->c->mu);
    cs->f->open = 0;
    pthread_mutex_unlock(&cs->c->mu);
    commit_unref(cs->c);
    sl_free(cs);
}

static const sl_sink_vtable commit_sink_vt = {"commit", cs_write, cs_finish, cs_abort, cs_release};

static int segment_is_manifest(const char *name)
{
    const char *p = name;
    for (;;) {
        if (strncmp(p, SL_MANIFEST_NAME, strlen(SL_MANIFEST_NAME)) == 0) return 1;
        p = strchr(p, '/');
        if (!p) return 0;
        p++;
    }
}

static cfile *find_file(const sl_commit *c, const char *name)
{
    for (size_t i = 0; i < c->nfiles; i++)
        if (strcmp(c->files[i]->name, name) == 0) return c->files[i];
    return NULL;
}

/* Checks name and registers it as a file being written (f->open set, one more
 * reference): a new entry, or the entry of an earlier attempt that failed and was
 * released (a retry, written again from its start). */
static cfile *register_file(sl_commit *c, const char *name, sl_err *err)
{
    cfile *f = NULL;
    sl_code rc = SL_OK;
    if (sl_store_key_check(name, err) != SL_OK) {
        sl_err_prefix(err, "partition %s: ", c->prefix);
        return NULL;
    }
    if (!strstr(name, c->run_id)) {
        /* A name shared by two runs would let the new run overwrite a file the current
         * "_SUCCESS" lists, before the new manifest replaces it. */
        sl_err_set(err, SL_E_USAGE, "data file name %s%s does not contain the run id %s", c->prefix, name, c->run_id);
        return NULL;
    }
    if (segment_is_manifest(name)) {
        sl_err_set(err, SL_E_USAGE, "data file name %s%s is reserved for the manifest", c->prefix, name);
        return NULL;
    }
    f = sl_calloc(1, sizeof *f);
    if (!f) goto nomem;
    f->name = sl_strdup(name);
    f->key = concat(c->prefix, name, "");
    if (!f->name || !f->key) goto nomem;
    if (sl_store_key_check(f->key, err) != SL_OK) goto fail;
    f->state = F_WRITING;

    pthread_mutex_lock(&c->mu);
    cfile *old = c->state == C_ACTIVE ? find_file(c, name) : NULL;
    if (old && old->state == F_FAILED && !old->open) {
        /* A retry: the earlier attempt failed and its sink is gone; write it again. */
        sl_free(f->name);
        sl_free(f->key);
        sl_free(f);
        f = old;
        f->state = F_WRITING;
        f->has_rows = 0;
        f->open = 1;
        c->refs++;
        pthread_mutex_unlock(&c->mu);
        return f;
    }
    if (c->state != C_ACTIVE) {
        rc = sl_err_set(err, SL_E_INTERNAL, "file %s: the commit is already %s", f->key, state_name(c->state));
    } else if (old) {
        rc = sl_err_set(err, SL_E_USAGE, "file %s is already part of this commit", f->key);
    } else if (c->nfiles == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 16;
        cfile **nf = sl_realloc(c->files, ncap * sizeof *nf);
        if (!nf) rc = sl_err_set(err, SL_E_NOMEM, "out of memory adding %s to a commit", f->key);
        else {
            c->files = nf;
            c->cap = ncap;
        }
    }
    if (rc == SL_OK) {
        c->files[c->nfiles++] = f; /* owned by the commit from here on */
        f->open = 1;
        c->refs++;
    }
    pthread_mutex_unlock(&c->mu);
    if (rc != SL_OK) goto fail;
    return f;
nomem:
    sl_err_set(err, SL_E_NOMEM, "out of memory adding %s%s to a commit", c->prefix, name);
fail:
    if (f) {
        sl_free(f->name);
        sl_free(f->key);
        sl_free(f);
    }
    return NULL;
}

sl_sink *sl_commit_create_file(sl_commit *c, const char *name, sl_err *err)
{
    sl_sink *inner;
    commit_sink *cs = sl_calloc(1, sizeof *cs);
    if (!cs) {
        sl_err_set(err, SL_E_NOMEM, "out of memory adding %s%s to a commit", c->prefix, name);
        return NULL;
    }
    cfile *f = register_file(c, name, err);
    if (!f) {
        sl_free(cs);
        return NULL;
    }

    cs->base.vt = &commit_sink_vt;
    cs->c = c;
    cs->f = f;
    inner = sl_store_create(c->st, f->key, err);
    cs->hash = inner ? sl_sink_hash_open(inner, err) : NULL;
    if (!cs->hash) {
        /* Registered already: mark it failed, so finish refuses and abort deletes. */
        pthread_mutex_lock(&c->mu);
        f->state = F_FAILED;
        pthread_mutex_unlock(&c->mu);
        cs->base.state = SL_SINK_ABORTED;
        cs_release(&cs->base);
        return NULL;
    }
    return &cs->base;
}

sl_code sl_commit_set_rows(sl_commit *c, const char *name, int64_t rows, sl_err *err)
{
    cfile *f;
    sl_code rc = SL_OK;
    if (rows < 0)
        return sl_err_set(err, SL_E_INTERNAL, "file %s%s: negative row count %lld", c->prefix, name, (long long)rows);
    pthread_mutex_lock(&c->mu);
    f = find_file(c, name);
    if (!f) rc = sl_err_set(err, SL_E_INTERNAL, "file %s%s is not part of this commit", c->prefix, name);
    else if (c->state != C_ACTIVE)
        rc = sl_err_set(err, SL_E_INTERNAL, "file %s: the commit is already %s", f->key, state_name(c->state));
    else {
        f->rows = rows;
        f->has_rows = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

sl_code sl_commit_file_info(sl_commit *c, const char *name, uint64_t *bytes, char checksum[SL_SHA256_TEXT_SIZE],
                            sl_err *err)
{
    sl_code rc = SL_OK;
    pthread_mutex_lock(&c->mu);
    cfile *f = find_file(c, name);
    if (!f || f->state != F_DONE) {
        rc = sl_err_set(err, SL_E_INTERNAL, "file %s%s is not a complete file of this commit", c->prefix, name);
    } else {
        *bytes = f->bytes;
        memcpy(checksum, f->checksum, SL_SHA256_TEXT_SIZE);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

sl_code sl_commit_add_fixed(sl_commit *c, const char *name, const void *data, size_t len, sl_err *err)
{
    fixed_file *nf;
    sl_code rc = SL_OK;
    if (sl_store_key_check(name, err) != SL_OK) return sl_err_prefix(err, "partition %s: ", c->prefix);
    if (segment_is_manifest(name))
        return sl_err_set(err, SL_E_USAGE, "file name %s%s is reserved for the manifest", c->prefix, name);
    pthread_mutex_lock(&c->mu);
    if (c->append) /* the base would list the name too */
        rc = sl_err_set(err, SL_E_USAGE, "file %s%s: an appending commit takes no fixed-name file", c->prefix, name);
    else if (c->state != C_ACTIVE)
        rc = sl_err_set(err, SL_E_INTERNAL, "file %s%s: the commit is already %s", c->prefix, name, state_name(c->state));
    else if (find_file(c, name))
        rc = sl_err_set(err, SL_E_USAGE, "file %s%s is already part of this commit", c->prefix, name);
    for (size_t i = 0; rc == SL_OK && i < c->nfixed; i++)
        if (strcmp(c->fixed[i].name, name) == 0)
            rc = sl_err_set(err, SL_E_USAGE, "file %s%s is already part of this commit", c->prefix, name);
    if (rc == SL_OK) {
        nf = sl_realloc(c->fixed, (c->nfixed + 1) * sizeof *nf);
        if (!nf) rc = sl_err_set(err, SL_E_NOMEM, "out of memory adding %s%s to a commit", c->prefix, name);
        else {
            c->fixed = nf;
            fixed_file *f = &c->fixed[c->nfixed];
            f->name = sl_strdup(name);
            f->data = sl_malloc(len ? len : 1);
            f->len = len;
            if (!f->name || !f->data) {
                sl_free(f->name);
                sl_free(f->data);
                rc = sl_err_set(err, SL_E_NOMEM, "out of memory adding %s%s to a commit", c->prefix, name);
            } else {
                if (len) memcpy(f->data, data, len);
                c->nfixed++;
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int checksum_valid(const char *s)
{
    if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64) return 0;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    return 1;
}

sl_code sl_commit_add_file(sl_commit *c, const char *name, uint64_t bytes, int64_t rows, const char *checksum,
                           sl_err *err)
{
    if (!checksum_valid(checksum))
        return sl_err_set(err, SL_E_FORMAT, "file %s%s: the checksum is not sha256:<64 lowercase hex>", c->prefix,
                          name);
    if (rows < 0) return sl_err_set(err, SL_E_FORMAT, "file %s%s: negative row count", c->prefix, name);
    cfile *f = register_file(c, name, err);
    if (!f) return err && err->code ? err->code : SL_E_INTERNAL;
    pthread_mutex_lock(&c->mu);
    f->state = F_DONE;
    f->bytes = bytes;
    f->rows = rows;
    f->has_rows = 1;
    f->open = 0;
    memcpy(f->checksum, checksum, SL_SHA256_TEXT_SIZE);
    c->refs--; /* no sink holds it */
    pthread_mutex_unlock(&c->mu);
    return SL_OK;
}

static int cmp_cfile(const void *a, const void *b);

/* Writes the fixed-name files (atomically, through SHA-256) and lists them as done. */
static sl_code write_fixed(sl_commit *c, sl_err *err)
{
    for (size_t i = 0; i < c->nfixed; i++) {
        const fixed_file *x = &c->fixed[i];
        cfile *f = sl_calloc(1, sizeof *f);
        char *key = concat(c->prefix, x->name, "");
        if (!f || !key || !(f->name = sl_strdup(x->name))) {
            sl_free(f);
            sl_free(key);
            return sl_err_set(err, SL_E_NOMEM, "out of memory writing %s%s", c->prefix, x->name);
        }
        f->key = key;
        sl_sink *inner = sl_store_create(c->st, key, err);
        sl_sink *h = inner ? sl_sink_hash_open(inner, err) : NULL;
        sl_code rc = h ? sl_sink_write(h, x->data, x->len, err) : err->code;
        if (rc == SL_OK) rc = sl_sink_finish(h, err);
        if (rc == SL_OK) rc = sl_sink_hash_result(h, NULL, f->checksum, err);
        if (rc == SL_OK) f->bytes = h->bytes;
        sl_sink_release(h);
        if (rc == SL_OK && c->nfiles == c->cap) {
            size_t ncap = c->cap ? c->cap * 2 : 16;
            cfile **nf = sl_realloc(c->files, ncap * sizeof *nf);
            if (!nf) rc = sl_err_set(err, SL_E_NOMEM, "out of memory writing %s", key);
            else {
                c->files = nf;
                c->cap = ncap;
            }
        }
        if (rc != SL_OK) {
            sl_err_prefix(err, "writing %s: ", key);
            sl_free(f->name);
            sl_free(f->key);
            sl_free(f);
            return rc;
        }
        f->state = F_DONE;
        f->has_rows = 1;
        f->fixed = 1;
        pthread_mutex_lock(&c->mu);
        c->files[c->nfiles++] = f;
        pthread_mutex_unlock(&c->mu);
    }
    if (c->nfiles) qsort(c->files, c->nfiles, sizeof *c->files, cmp_cfile);
    return SL_OK;
}

/* ---- abort ---- */

void sl_commit_abort(sl_commit *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    if (c->state == C_FINISHED || c->state == C_ABORTED) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->state = C_ABORTED;
    pthread_mutex_unlock(&c->mu);
    /* No file is added once aborted, and names never change: the list is stable.
     * Every file is deleted, done or not: a failed completion may still have stored it. */
    for (size_t i = 0; i < c->nfiles; i++) {
        sl_err e;
        if (c->files[i]->fixed) continue; /* the previous run's name too: see sl_commit_add_fixed */
        if (sl_store_remove(c->st, c->files[i]->key, &e) != SL_OK)
            sl_warn("aborting the commit of %s: %s", c->prefix, e.msg);
    }
}

/* ---- finish ---- */

typedef struct {
    char *key;
    uint64_t size;
} listed;

typedef struct {
    listed *v;
    size_t n, cap;
    sl_code rc;
    sl_err *err;
} listing;

static int collect(void *ud, const char *key, uint64_t size)
{
    listing *l = ud;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        listed *nv = sl_realloc(l->v, ncap * sizeof *nv);
        if (!nv) {
            l->rc = sl_err_set(l->err, SL_E_NOMEM, "out of memory listing a partition");
            return 1;
        }
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n].key = sl_strdup(key);
    if (!l->v[l->n].key) {
        l->rc = sl_err_set(l->err, SL_E_NOMEM, "out of memory listing a partition");
        return 1;
    }
    l->v[l->n++].size = size;
    return 0;
}

static void listing_free(listing *l)
{
    for (size_t i = 0; i < l->n; i++) sl_free(l->v[i].key);
    sl_free(l->v);
}

static int cmp_listed(const void *a, const void *b)
{
    return strcmp(((const listed *)a)->key, ((const listed *)b)->key);
}
static int cmp_cfile(const void *a, const void *b)
{
    return strcmp((*(cfile *const *)a)->name, (*(cfile *const *)b)->name);
}

static const listed *find_listed(const listing *l, const char *key)
{
    listed probe = {(char *)key, 0};
    if (!l->n) return NULL;
    return bsearch(&probe, l->v, l->n, sizeof *l->v, cmp_listed);
}

static sl_code list_partition(sl_commit *c, listing *l, sl_err *err)
{
    sl_code rc;
    memset(l, 0, sizeof *l);
    l->err = err;
    rc = sl_store_list(c->st, c->prefix, collect, l, err);
    if (rc == SL_OK) rc = l->rc;
    if (rc != SL_OK) {
        listing_free(l);
        return sl_err_prefix(err, "listing partition %s: ", c->prefix);
    }
    if (l->n) qsort(l->v, l->n, sizeof *l->v, cmp_listed);
    return SL_OK;
}

static int cmp_json_name(const void *a, const void *b)
{
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
                  json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* Names of a list of file objects, as a JSON array. */
static json_t *names_of(json_t *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append(a, json_object_get(v[i], "name")) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* The manifest's "runs": every committed run of the partition, oldest first, each with
 * its run id, commit time, rows, bytes, file names and the caller's run fields. A
 * replacing commit lists itself alone; an appending one the base's runs, then itself
 * (a base written before manifests had "runs" counts as one run). */
static json_t *build_runs(sl_commit *c, const char *created, json_t *const *mine, size_t nmine, int64_t rows,
                          uint64_t bytes)
{
    json_t *runs = NULL, *me = NULL, *names = names_of(mine, nmine);
    const json_t *base_runs = c->base ? json_object_get(c->base, "runs") : NULL;
    int bad = !names;
    if (!bad) runs = json_is_array(base_runs) ? json_deep_copy(base_runs) : json_array();
    bad |= !runs;
    if (!bad && c->base && !json_is_array(base_runs)) {
        json_t *files = json_object_get(c->base, "files"), *old, *f;
        json_t *old_names = json_array();
        size_t i;
        json_array_foreach(files, i, f) bad |= !old_names || json_array_append(old_names, json_object_get(f, "name"));
        old = bad ? NULL
                  : json_pack("{s:O, s:O*, s:O*, s:O*, s:o}", "run_id", json_object_get(c->base, "run_id"),
                              "created_at", json_object_get(c->base, "created_at"), "rows",
                              json_object_get(c->base, "total_rows"), "bytes", json_object_get(c->base, "total_bytes"),
                              "files", json_incref(old_names));
        bad |= !old || json_array_append_new(runs, old) != 0;
        json_decref(old_names);
    }
    if (!bad) me = c->run_info ? json_deep_copy(c->run_info) : json_object();
    bad |= !me;
    if (!bad) {
        bad |= json_object_set_new(me, "run_id", json_string(c->run_id)) != 0;
        bad |= json_object_set_new(me, "created_at", json_string(created)) != 0;
        bad |= json_object_set_new(me, "rows", json_integer(rows)) != 0;
        bad |= json_object_set_new(me, "bytes", json_integer((json_int_t)bytes)) != 0;
        bad |= json_object_set(me, "files", names) != 0;
        bad |= json_array_append(runs, me) != 0;
    }
    json_decref(me);
    json_decref(names);
    if (bad) {
        json_decref(runs);
        return NULL;
    }
    return runs;
}

static json_t *build_manifest(sl_commit *c, const json_t *extra, sl_err *err)
{
    json_t *m = json_object(), *files = json_array(), *runs = NULL;
    json_t **all = NULL; /* this run's file objects, then the base's, then sorted by name */
    size_t nall = 0, nbase = c->base ? json_array_size(json_object_get(c->base, "files")) : 0;
    char created[32];
    int64_t total_rows = 0, my_rows = 0;
    uint64_t total_bytes = 0, my_bytes = 0;
    int bad = !m || !files;
    utc_now_iso(created);
    if (!bad) bad = !(all = sl_malloc((c->nfiles + nbase + 1) * sizeof *all));
    for (size_t i = 0; !bad && i < c->nfiles; i++) {
        const cfile *f = c->files[i];
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", f->name, "key", f->key, "bytes",
                              (json_int_t)f->bytes, "rows", (json_int_t)f->rows, "checksum", f->checksum);
        bad = !o;
        if (o) all[nall++] = o;
        my_rows += f->rows;
        my_bytes += f->bytes;
    }
    if (!bad) runs = build_runs(c, created, all, nall, my_rows, my_bytes);
    bad |= !runs;
    total_rows = my_rows;
    total_bytes = my_bytes;
    for (size_t i = 0; !bad && i < nbase; i++) {
        json_t *o = json_array_get(json_object_get(c->base, "files"), i);
        all[nall++] = json_incref(o);
        total_rows += json_integer_value(json_object_get(o, "rows"));
        total_bytes += (uint64_t)json_integer_value(json_object_get(o, "bytes"));
    }
    if (!bad && nall) qsort(all, nall, sizeof *all, cmp_json_name);
    for (size_t i = 0; i < nall; i++) {
        if (!bad) bad = json_array_append(files, all[i]) != 0;
        json_decref(all[i]);
    }
    sl_free(all);
    if (!bad) {
        bad |= json_object_set_new(m, "manifest_version", json_integer(SL_MANIFEST_VERSION)) != 0;
        bad |= json_object_set_new(m, "sluice_version", json_string(SLUICE_VERSION)) != 0;
        bad |= json_object_set_new(m, "run_id", json_string(c->run_id)) != 0;
        bad |= json_object_set_new(m, "as_of", json_string(c->as_of)) != 0;
        bad |= json_object_set_new(m, "created_at", json_string(created)) != 0;
        bad |= json_object_set_new(m, "partition", json_string(c->prefix)) != 0;
        bad |= json_object_set_new(m, "total_rows", json_integer(total_rows)) != 0;
        bad |= json_object_set_new(m, "total_bytes", json_integer((json_int_t)total_bytes)) != 0;
        bad |= json_object_set(m, "files", files) != 0;
        bad |= json_object_set(m, "runs", runs) != 0;
    }
    json_decref(files);
    json_decref(runs);
    if (bad) {
        json_decref(m);
        sl_err_set(err, SL_E_NOMEM, "out of memory writing the manifest of %s", c->prefix);
        return NULL;
    }
    if (extra) {
        const char *k;
        json_t *v;
        if (!json_is_object(extra)) {
            json_decref(m);
            sl_err_set(err, SL_E_INTERNAL, "manifest of %s: the extra fields are not a JSON object", c->prefix);
            return NULL;
        }
        json_object_foreach((json_t *)extra, k, v)
        {
            for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++) {
                if (strcmp(k, reserved[r]) == 0) {
                    json_decref(m);
                    sl_err_set(err, SL_E_INTERNAL, "manifest of %s: extra field \"%s\" is written by the commit itself",
                               c->prefix, k);
                    return NULL;
                }
            }
            if (json_object_set(m, k, v) != 0) {
                json_decref(m);
                sl_err_set(err, SL_E_NOMEM, "out of memory writing the manifest of %s", c->prefix);
                return NULL;
            }
        }
    }
    return m;
}

/* After a failed manifest write: 1 if "_SUCCESS" is nonetheless ours (an S3 PUT can
 * fail after the object was stored), 0 if it is certainly not, -1 if unknown. */
static int manifest_is_ours(sl_commit *c)
{
    json_t *m = NULL;
    sl_err e;
    int r;
    if (sl_manifest_read(c->st, c->prefix, &m, &e) != SL_OK) return -1;
    r = m && json_is_string(json_object_get(m, "run_id")) &&
        strcmp(json_string_value(json_object_get(m, "run_id")), c->run_id) == 0;
    json_decref(m);
    return r;
}

typedef struct {
    sl_buf b;
    int failed;
} dump_buf;

/* Once an append fails every later one fails too: jansson (2.14) ignores the callback's
 * failure while it writes an object's key and goes on, so a later, smaller piece that
 * fits would otherwise land after a gap and make a manifest that is not JSON. */
static int dump_to_buf(const char *p, size_t n, void *ud)
{
    dump_buf *d = ud;
    if (!d->failed && sl_buf_append(&d->b, p, n, NULL) != SL_OK) d->failed = 1;
    return d->failed ? -1 : 0;
}

static sl_code manifest_put(sl_store *st, const char *prefix, const char *key, const json_t *m, sl_err *err)
{
    dump_buf d = {.failed = 0};
    sl_buf text;
    sl_sink *s;
    sl_code rc;
    sl_buf_init(&d.b, MANIFEST_MAX);
    int dumped = json_dump_callback(m, dump_to_buf, &d, JSON_INDENT(2)) == 0 && !d.failed;
    text = d.b;
    if (!dumped || sl_buf_append(&text, "\n", 1, err) != SL_OK) {
        sl_buf_free(&text);
        return sl_err_set(err, SL_E_NOMEM, "out of memory writing the manifest of %s", prefix);
    }
    s = sl_store_create(st, key, err);
    if (!s) {
        sl_buf_free(&text);
        return err->code;
    }
    rc = sl_sink_write(s, text.data, text.len, err);
    if (rc == SL_OK) rc = sl_sink_finish(s, err);
    sl_sink_release(s);
    sl_buf_free(&text);
    return rc;
}

static sl_code write_manifest(sl_commit *c, const json_t *m, sl_err *err)
{
    return manifest_put(c->st, c->prefix, c->manifest_key, m, err);
}

sl_code sl_manifest_write(sl_store *st, const char *partition, const json_t *m, sl_err *err)
{
    size_t n = partition ? strlen(partition) : 0;
    if (!n) return sl_err_set(err, SL_E_USAGE, "writing a manifest needs a partition prefix");
    SL_TRY(sl_store_prefix_check(partition, err));
    char *key = concat(partition, partition[n - 1] == '/' ? "" : "/", SL_MANIFEST_NAME);
    if (!key) return sl_err_set(err, SL_E_NOMEM, "out of memory writing a manifest");
    sl_code rc = manifest_put(st, partition, key, m, err);
    if (rc != SL_OK) sl_err_prefix(err, "writing %s: ", key);
    sl_free(key);
    return rc;
}

/* A sub-folder of the partition that holds its own manifest is another partition:
 * the indexes of such manifests in the listing, in `nested`. */
static size_t find_nested(const listing *l, const sl_commit *c, size_t **nested)
{
    size_t plen = strlen(c->prefix), n = 0;
    *nested = NULL;
    for (size_t i = 0; i < l->n; i++) {
        const char *k = l->v[i].key, *base = strrchr(k, '/');
        if (!base || (size_t)(base - k) + 1 <= plen) continue; /* the partition's own manifest */
        if (strncmp(base + 1, SL_MANIFEST_NAME, strlen(SL_MANIFEST_NAME)) != 0) continue;
        if (!*nested && !(*nested = sl_malloc(l->n * sizeof **nested))) return (size_t)-1;
        (*nested)[n++] = i;
    }
    return n;
}

static int under_nested(const listing *l, const size_t *nested, size_t nn, const char *key)
{
    for (size_t j = 0; j < nn; j++) {
        const char *k = l->v[nested[j]].key;
        size_t dlen = (size_t)(strrchr(k, '/') - k) + 1;
        if (strncmp(key, k, dlen) == 0) return 1;
    }
    return 0;
}

/* An appending commit adds to the manifest it read when it began: if another run
 * committed the partition since, that run's files would be dropped from the listing
 * (and deleted by the cleanup), so the commit stops instead. */
static sl_code check_base_unchanged(sl_commit *c, sl_err *err)
{
    json_t *now = NULL;
    const char *a, *b;
    int same;
    SL_TRY(sl_manifest_read(c->st, c->prefix, &now, err));
    a = c->base ? json_string_value(json_object_get(c->base, "created_at")) : NULL;
    b = now ? json_string_value(json_object_get(now, "created_at")) : NULL;
    same = (!c->base && !now) ||
           (c->base && now &&
            strcmp(json_string_value(json_object_get(c->base, "run_id")),
                   json_string_value(json_object_get(now, "run_id"))) == 0 &&
            ((!a && !b) || (a && b && strcmp(a, b) == 0)));
    if (!same)
        sl_err_set(err, SL_E_STORAGE,
                   "partition %s was committed by run %s while run %s was writing (two runs at once are not "
                   "supported); nothing was appended, rerun",
                   c->prefix, now ? json_string_value(json_object_get(now, "run_id")) : "(none: it was removed)",
                   c->run_id);
    json_decref(now);
    return same ? SL_OK : SL_E_STORAGE;
}

static int is_kept(const sl_commit *c, const char *name)
{
    return c->nkept && bsearch(&name, c->kept, c->nkept, sizeof *c->kept, cmp_str) != NULL;
}

static sl_code finish_fail(sl_commit *c, sl_code rc)
{
    sl_commit_abort(c);
    return rc;
}

/* Step 1 of a finish: every file complete, in the store and of its size; the manifest
 * built (*m) and the partition's listing (*l) kept for the cleanup. Aborts on failure. */
static sl_code prepare(sl_commit *c, const json_t *extra, listing *l, json_t **m, sl_err *err)
{
    sl_code rc = SL_OK;
    *m = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->state != C_ACTIVE) {
        int st = c->state;
        pthread_mutex_unlock(&c->mu);
        return sl_err_set(err, SL_E_INTERNAL, "commit of %s is already %s", c->prefix, state_name(st));
    }
    for (size_t i = 0; i < c->nfiles && rc == SL_OK; i++) {
        const cfile *f = c->files[i];
        if (f->state == F_WRITING)
            rc = sl_err_set(err, SL_E_INTERNAL, "file %s is still being written; the partition is not committed",
                            f->key);
        else if (f->state == F_FAILED)
            rc = sl_err_set(err, SL_E_IO, "file %s failed; the partition is not committed", f->key);
        else if (!f->has_rows)
            rc = sl_err_set(err, SL_E_INTERNAL, "file %s has no row count (sl_commit_set_rows); not committed", f->key);
    }
    if (rc == SL_OK) {
        c->state = C_FINISHING; /* create_file and set_rows refuse from here on: the list is frozen */
        if (c->nfiles) qsort(c->files, c->nfiles, sizeof *c->files, cmp_cfile);
    }
    pthread_mutex_unlock(&c->mu);
    if (rc != SL_OK) return finish_fail(c, rc);

    if (c->append && (rc = check_base_unchanged(c, err)) != SL_OK) return finish_fail(c, rc);
    /* Every file must be in the store, whole, before the manifest may name it. */
    if ((rc = list_partition(c, l, err)) != SL_OK) return finish_fail(c, rc);
    if (c->base) {
        /* The files of the runs appended to are named again: they must still be there. */
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(c->base, "files"), i, f)
        {
            char *key = concat(c->prefix, json_string_value(json_object_get(f, "name")), "");
            const listed *x = key ? find_listed(l, key) : NULL;
            if (!key) rc = sl_err_set(err, SL_E_NOMEM, "out of memory committing %s", c->prefix);
            else if (!x || (json_int_t)x->size != json_integer_value(json_object_get(f, "bytes")))
                rc = sl_err_set(err, SL_E_STORAGE,
                                "file %s, listed by the committed manifest of %s, is %s; nothing was appended (a "
                                "run that does not append replaces the partition)",
                                key, c->prefix, x ? "of another size than listed" : "missing");
            sl_free(key);
            if (rc != SL_OK) break;
        }
    }
    for (size_t i = 0; i < c->nfiles && rc == SL_OK; i++) {
        const cfile *f = c->files[i];
        const listed *x = find_listed(l, f->key);
        if (!x)
            rc = sl_err_set(err, SL_E_STORAGE, "file %s is missing from %s after it was written; not committed", f->key,
                            c->st->url);
        else if (x->size != f->bytes)
            rc = sl_err_set(err, SL_E_STORAGE, "file %s holds %llu bytes, %llu were written; not committed", f->key,
                            (unsigned long long)x->size, (unsigned long long)f->bytes);
    }
    if (rc == SL_OK) rc = write_fixed(c, err);
    if (rc == SL_OK) {
        *m = build_manifest(c, extra, err);
        if (!*m) rc = err->code ? err->code : SL_E_NOMEM;
    }
    if (rc != SL_OK) {
        listing_free(l);
        return finish_fail(c, rc);
    }
    return SL_OK;
}

/* Step 2: "_SUCCESS" written. Returns SL_OK when it is in place (even if the write
 * reported an error, as an S3 PUT can after storing the object); otherwise *state is
 * 0 when the previous manifest is certainly still in place, -1 when it is unknown. */
static sl_code publish(sl_commit *c, const json_t *m, int *state, sl_err *err)
{
    sl_stop_shield(1); /* a stop is checked before, never in the middle of the write */
    sl_code rc = write_manifest(c, m, err);
    sl_stop_shield(0);
    *state = 0;
    if (rc == SL_OK) return SL_OK;
    int ours = manifest_is_ours(c);
    if (ours == 1) {
        sl_warn("writing %s reported a failure, but the manifest is in place: committed", c->manifest_key);
        sl_err_clear(err);
        return SL_OK;
    }
    *state = ours;
    return sl_err_prefix(err, "writing %s%s: ", c->manifest_key,
                         ours == -1 ? " (state unknown)" : "");
}

/* Puts back the manifest that was in place when the commit began (its exact bytes),
 * or removes ours when there was none. 0 when done. */
static int restore_previous(sl_commit *c)
{
    sl_err e = {0};
    sl_code rc;
    sl_stop_shield(1); /* undoing is what a stop wants: never cut */
    if (c->had_prev) {
        sl_sink *s = sl_store_create(c->st, c->manifest_key, &e);
        rc = s ? sl_sink_write(s, c->prev.data ? (const void *)c->prev.data : "", c->prev.len, &e) : e.code;
        if (rc == SL_OK) rc = sl_sink_finish(s, &e);
        sl_sink_release(s);
    } else {
        rc = sl_store_remove(c->st, c->manifest_key, &e);
    }
    sl_stop_shield(0);
    if (rc != SL_OK) {
        sl_error_log("could not put back the previous %s (%s): partition %s stays committed by run %s, whose "
                     "files are kept", c->manifest_key, e.msg, c->prefix, c->run_id);
        return -1;
    }
    return 0;
}

/* Step 3: everything the new manifest does not list goes: earlier runs' files, crashed
 * runs' files and temporaries. Left for the next run when a stop was requested. */
static void cleanup(sl_commit *c, listing *l)
{
    size_t *nested, nn, skipped = 0;
    if (sl_stop_requested()) {
        sl_info("partition %s is committed; its older files are left for the next run (stopping)", c->prefix);
        return;
    }
    nn = find_nested(l, c, &nested);
    if (nn == (size_t)-1) {
        sl_warn("after committing %s: out of memory; old files were left for the next run", c->prefix);
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        const char *k = l->v[i].key;
        cfile probe, *pp = &probe;
        sl_err e;
        if (strcmp(k, c->manifest_key) == 0) continue;
        probe.name = (char *)k + strlen(c->prefix);
        if (c->nfiles && bsearch(&pp, c->files, c->nfiles, sizeof *c->files, cmp_cfile)) continue;
        if (is_kept(c, probe.name)) continue;
        if (under_nested(l, nested, nn, k)) {
            skipped++;
            continue;
        }
        if (sl_store_remove(c->st, k, &e) != SL_OK) sl_warn("after committing %s: %s", c->prefix, e.msg);
    }
    {
        /* Uploads a killed run left unfinished (S3 keeps their parts until aborted). */
        sl_err e;
        if (sl_store_abort_uploads(c->st, c->prefix, &e) != SL_OK)
            sl_warn("after committing %s: unfinished uploads could not be aborted: %s", c->prefix, e.msg);
    }
    if (skipped)
        sl_warn("partition %s holds %zu files in sub-folders with their own %s; left alone "
                "(partitions should not nest)",
                c->prefix, skipped, SL_MANIFEST_NAME);
    sl_free(nested);
}

static void set_state(sl_commit *c, int st)
{
    pthread_mutex_lock(&c->mu);
    c->state = st;
    pthread_mutex_unlock(&c->mu);
}

sl_code sl_commit_finish_all(sl_commit *const *cs, const json_t *const *extras, size_t n, sl_err *err)
{
    sl_err local;
    sl_code rc = SL_OK;
    listing *ls = NULL;
    json_t **ms = NULL;
    size_t prepared = 0, published = 0;
    int state = 0;
    if (!err) err = &local;
    if (n == 0) return SL_OK;
    ls = sl_calloc(n, sizeof *ls);
    ms = sl_calloc(n, sizeof *ms);
    if (!ls || !ms) rc = sl_err_set(err, SL_E_NOMEM, "out of memory committing %zu partitions", n);
    for (size_t i = 0; rc == SL_OK && i < n; i++)
        if (cs[i]->unchecked)
            rc = sl_err_set(err, SL_E_INTERNAL, "the commit of %s did not read its _SUCCESS and cannot be finished",
                            cs[i]->prefix);

    /* 1. Check every partition before any manifest is written. */
    for (; rc == SL_OK && prepared < n; prepared++) {
        rc = sl_stop_check(err);
        if (rc == SL_OK) rc = prepare(cs[prepared], extras ? extras[prepared] : NULL, &ls[prepared], &ms[prepared], err);
        else sl_commit_abort(cs[prepared]);
        if (rc != SL_OK) break; /* prepare aborted cs[prepared] */
    }
    /* 2. The manifests, one after another; a stop between them undoes the ones written. */
    for (; rc == SL_OK && published < n; published++) {
        rc = sl_stop_check(err);
        if (rc == SL_OK) rc = publish(cs[published], ms[published], &state, err);
        if (rc != SL_OK) break;
    }
    if (rc != SL_OK) {
        /* Back to the previous output: restore the manifests written, then delete this
         * run's files - except where a manifest may still name them (its restore failed,
         * or its write left the state unknown and there is nothing to restore it with). */
        size_t restored = 0, kept = 0;
        for (size_t i = 0; i < n; i++) {
            int keep = 0;
            if (i < published) {
                keep = restore_previous(cs[i]) != 0;
                restored += !keep;
            } else if (i == published && i < prepared && state == -1) {
                /* Alone, an unknown outcome is left as it is (the manifest, if it landed,
                 * names files that are kept); with other partitions, it is put back too. */
                keep = n == 1 || restore_previous(cs[i]) != 0;
            }
            kept += keep;
            if (i < prepared) {
                if (keep) set_state(cs[i], C_ABORTED);
                else sl_commit_abort(cs[i]);
                listing_free(&ls[i]);
            } else if (i > prepared) {
                sl_commit_abort(cs[i]); /* never prepared; cs[prepared] was aborted by prepare */
            }
        }
        if (published)
            sl_err_prefix(err, "%zu of %zu partitions had their manifest written; %zu put back as they were%s: ",
                          published, n, restored, kept ? ", the others keep this run's files (see the log)" : "");
    } else {
        for (size_t i = 0; i < n; i++) set_state(cs[i], C_FINISHED);
        /* 3. Only now do the old files go: until here any partition could be put back. */
        for (size_t i = 0; i < n; i++) {
            cleanup(cs[i], &ls[i]);
            listing_free(&ls[i]);
        }
    }
    for (size_t i = 0; ms && i < n; i++) json_decref(ms[i]);
    sl_free(ms);
    sl_free(ls);
    return rc;
}

sl_code sl_commit_finish(sl_commit *c, const json_t *extra, sl_err *err)
{
    return sl_commit_finish_all(&c, &extra, 1, err);
}

/* ---- reading ---- */

static sl_code bad_manifest(sl_err *err, const char *key, const char *what)
{
    return sl_err_set(err, SL_E_FORMAT, "manifest %s: %s", key, what);
}

/* Parses and checks a manifest's text (key names it in errors). */
static sl_code manifest_parse(const char *key, const sl_buf *b, json_t **out, sl_err *err)
{
    json_t *m, *files, *v;
    json_error_t je;
    size_t i;
    sl_code rc;
    *out = NULL;
    m = json_loadb(b->len ? (const char *)b->data : "", b->len, JSON_REJECT_DUPLICATES, &je);
    if (!m) return sl_err_set(err, SL_E_FORMAT, "manifest %s: not JSON: line %d: %s", key, je.line, je.text);
    rc = SL_E_FORMAT;
    if (!json_is_object(m)) bad_manifest(err, key, "not a JSON object");
    else if (!json_is_string(json_object_get(m, "run_id"))) bad_manifest(err, key, "no \"run_id\" string");
    else if (!json_is_array(files = json_object_get(m, "files"))) bad_manifest(err, key, "no \"files\" array");
    else {
        rc = SL_OK;
        json_array_foreach(files, i, v)
        {
            json_t *name = json_object_get(v, "name"), *bytes = json_object_get(v, "bytes"),
                   *rows = json_object_get(v, "rows"), *sum = json_object_get(v, "checksum");
            if (!json_is_object(v) || !json_is_string(name) ||
                sl_store_key_check(json_string_value(name), NULL) != SL_OK || !json_is_integer(bytes) || json_integer_value(bytes) < 0 || !json_is_integer(rows) ||
                json_integer_value(rows) < 0 || !json_is_string(sum) || strlen(json_string_value(sum)) != 71 ||
                strncmp(json_string_value(sum), "sha256:", 7) != 0) {
                rc = sl_err_set(err, SL_E_FORMAT,
                                "manifest %s: files[%zu] needs a valid \"name\", \"bytes\" and \"rows\" >= 0, and a "
                                "\"checksum\" of sha256:<64 hex>",
                                key, i);
                break;
            }
        }
    }
    if (rc == SL_OK) *out = m;
    else json_decref(m);
    return rc;
}

sl_code sl_manifest_read(sl_store *st, const char *partition, json_t **out, sl_err *err)
{
    sl_buf b;
    sl_err e;
    char *key;
    size_t n;
    sl_code rc;
    *out = NULL;
    if (!partition || !*partition) return sl_err_set(err, SL_E_USAGE, "reading a manifest needs a partition prefix");
    SL_TRY(sl_store_prefix_check(partition, err));
    n = strlen(partition);
    key = concat(partition, partition[n - 1] == '/' ? "" : "/", SL_MANIFEST_NAME);
    if (!key) return sl_err_set(err, SL_E_NOMEM, "out of memory reading a manifest");
    sl_buf_init(&b, MANIFEST_MAX);
    rc = sl_store_read(st, key, &b, &e);
    if (rc != SL_OK) {
        sl_buf_free(&b);
        sl_free(key);
        if (sl_store_is_not_found(&e)) return SL_OK;
        if (err) *err = e;
        return rc;
    }
    rc = manifest_parse(key, &b, out, err);
    sl_buf_free(&b);
    sl_free(key);
    return rc;
}
