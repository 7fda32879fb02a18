/* store.h - an output location: a local folder or an S3 bucket and prefix. Keys are
 * '/'-separated paths relative to the location's root. A store makes sinks for new
 * objects, lists and deletes keys, and reads small objects (manifests); the commit
 * protocol (commit.h) is written once on top of this for both backends.
 * Backends fill sl_store_vtable (curl's vtls pattern). */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stdint.h>
#include <stdio.h>

#include "../common/sl_buf.h"
#include "../common/sl_config.h"
#include "../common/sl_error.h"
#include "sink.h"

typedef struct sl_store sl_store;

/* Called once per key found; return non-zero to stop listing (list then returns SL_OK). */
typedef int (*sl_store_list_cb)(void *ud, const char *key, uint64_t size);

/* What a backend implements. The sl_store_* wrappers below validate keys and prefixes
 * (sl_store_key_check) before calling these, so backends receive valid ones only.
 *   create  a sink for a new object; the object appears, complete, only when the sink
 *           finishes (atomically: readers see the old object or the new one, never a part)
 *           and replaces an existing object of that key.
 *   list    every object whose key starts with `prefix` (a plain string prefix, as S3's
 *           ListObjectsV2 has it: "raw/orders/" lists that folder recursively,
 *           "raw/ord" also matches "raw/orders/..."), in increasing byte order of key,
 *           with sizes. Temporaries that exist as objects are listed too (the local
 *           store lists the file sink's "<key>.tmp-<pid>" files), so that cleanup can
 *           delete what a crashed run left behind. (S3's incomplete multipart uploads
 *           are not objects and are not listed; the S3 backend must abort them.)
 *   remove  deletes one key; a missing key is not an error.
 *   read    a small object into `out` (appended; out's cap bounds the size). An absent
 *           key fails with SL_E_IO and a message made by sl_store_err_not_found(), so
 *           callers can tell it apart with sl_store_is_not_found().
 *   release frees the backend, including the base's url. */
typedef struct sl_store_vtable {
    const char *name; /* "local", "s3" */
    sl_sink *(*create)(sl_store *s, const char *key, sl_err *err);
    sl_code (*list)(sl_store *s, const char *prefix, sl_store_list_cb cb, void *ud, sl_err *err);
    sl_code (*remove)(sl_store *s, const char *key, sl_err *err);
    sl_code (*read)(sl_store *s, const char *key, sl_buf *out, sl_err *err);
    void (*release)(sl_store *s);
    /* Optional (NULL when the backend has nothing of the kind): discards unfinished
     * uploads under `prefix` that a killed process left (S3 multipart uploads). */
    sl_code (*abort_uploads)(sl_store *s, const char *prefix, sl_err *err);
    /* An object's size, and n bytes of it from off into dst (S3: a ranged GET); absent
     * keys fail as read does. */
    sl_code (*size)(sl_store *s, const char *key, uint64_t *size, sl_err *err);
    sl_code (*read_at)(sl_store *s, const char *key, uint64_t off, size_t n, void *dst, sl_err *err);
} sl_store_vtable;

struct sl_store {
    const sl_store_vtable *vt;
    char *url; /* as given, for messages (never holds credentials) */
};

/* Longest key accepted (S3's limit, in bytes). */
#define SL_STORE_KEY_MAX 1024

/* "s3://bucket/prefix" -> S3 backend (settings from cfg, which may be NULL for local
 * folders); "file://PATH" or any other string -> the local folder PATH. */
sl_store *sl_store_open(const char *url, const sl_config *cfg, sl_err *err);
/* A local folder; it need not exist yet (create makes it and any parent folders). */
sl_store *sl_store_local_open(const char *root, sl_err *err);
/* Accepts NULL. */
void sl_store_free(sl_store *s);

/* A valid key: 1 to SL_STORE_KEY_MAX bytes, no leading '/', no empty segment ("a//b",
 * trailing '/'), no "." or ".." segment, no control characters. A valid list prefix
 * is empty (the whole store) or a valid key followed by an optional '/'. Failures are
 * SL_E_USAGE naming the key. */
sl_code sl_store_key_check(const char *key, sl_err *err);
sl_code sl_store_prefix_check(const char *prefix, sl_err *err);

/* For backends: records "<url>: <key>: not found" as SL_E_IO; returns SL_E_IO. */
sl_code sl_store_err_not_found(sl_err *err, const sl_store *s, const char *key);
/* 1 when err holds a failure made by sl_store_err_not_found() (even after
 * sl_err_prefix() added context), else 0. Needs a non-NULL err to tell. */
int sl_store_is_not_found(const sl_err *err);

sl_sink *sl_store_create(sl_store *s, const char *key, sl_err *err);
sl_code sl_store_list(sl_store *s, const char *prefix, sl_store_list_cb cb, void *ud, sl_err *err);
sl_code sl_store_remove(sl_store *s, const char *key, sl_err *err);
sl_code sl_store_read(sl_store *s, const char *key, sl_buf *out, sl_err *err);
/* An object's size, and n bytes of it from off into dst (a ranged GET on S3), with the
 * store's own reason on failure; SL_E_UNSUPPORTED for a backend without them. */
sl_code sl_store_size(sl_store *s, const char *key, uint64_t *size, sl_err *err);
sl_code sl_store_read_at(sl_store *s, const char *key, uint64_t off, size_t n, void *dst, sl_err *err);
/* An object as a read-only stdio stream that seeks (fopencookie over size and read_at):
 * what is read is fetched as it is asked for, never the whole object at once (the
 * report reads a dataset back a row group at a time). fclose it. A read that fails is
 * EIO to stdio; its reason (the store's: an S3 status and code, a missing key) goes to
 * *why, which must outlive the stream (the first failure's; NULL: to the log). */
FILE *sl_store_open_read(sl_store *s, const char *key, sl_err *why, sl_err *err);
/* SL_OK at once for backends without unfinished uploads. */
sl_code sl_store_abort_uploads(sl_store *s, const char *prefix, sl_err *err);

#endif
