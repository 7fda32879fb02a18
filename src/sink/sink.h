/* sink.h - where bytes go. A sink is a struct of function pointers (curl's vtls
 * table) that a local file and an S3 multipart upload both fill; writers above it
 * (Parquet, manifests) never know which one they feed.
 *
 * Life cycle: open (backend-specific) -> write* -> finish (the object becomes
 * visible, complete) or abort (nothing becomes visible) -> release (frees memory). */
#ifndef SL_SINK_H
#define SL_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_error.h"

typedef struct sl_sink sl_sink;

typedef struct sl_sink_vtable {
    const char *name; /* "file", "s3" */
    sl_code (*write)(sl_sink *s, const void *p, size_t n, sl_err *err);
    sl_code (*finish)(sl_sink *s, sl_err *err);
    void (*abort)(sl_sink *s);
    void (*release)(sl_sink *s);
} sl_sink_vtable;

struct sl_sink {
    const sl_sink_vtable *vt;
    uint64_t bytes;   /* written so far */
    int state;        /* SL_SINK_OPEN / FINISHED / ABORTED */
};

enum { SL_SINK_OPEN = 0, SL_SINK_FINISHED = 1, SL_SINK_ABORTED = 2 };

sl_code sl_sink_write(sl_sink *s, const void *p, size_t n, sl_err *err);
sl_code sl_sink_finish(sl_sink *s, sl_err *err);
void sl_sink_abort(sl_sink *s);
/* Aborts first if neither finished nor aborted; accepts NULL. */
void sl_sink_release(sl_sink *s);

/* Local file: bytes go to "<path>.tmp-<pid>", created with O_EXCL|O_NOFOLLOW (never
 * through a link planted there); finish fsyncs it and renames it to path atomically,
 * then fsyncs the folder (a failure of that fsync fails the finish); abort unlinks the
 * temporary file. Missing parent folders are created, each fsynced into its parent. */
sl_sink *sl_sink_file_open(const char *path, sl_err *err);

/* Memory: collects bytes in a buffer (tests, small manifests). */
sl_sink *sl_sink_mem_open(sl_err *err);
const uint8_t *sl_sink_mem_data(const sl_sink *s, size_t *len);

/* SHA-256 pass-through: every byte written goes to `inner` and into a SHA-256
 * (OpenSSL EVP), so the digest is of exactly the bytes the inner sink stored. finish
 * finishes `inner`; abort aborts it. Takes ownership of `inner` in every case (it is
 * released with this sink, or at once when opening fails). */
sl_sink *sl_sink_hash_open(sl_sink *inner, sl_err *err);
/* "sha256:" and 64 lowercase hex digits, NUL-terminated. */
#define SL_SHA256_TEXT_SIZE 72
/* After a successful finish: the raw digest (may be NULL) and its text form (may be
 * NULL); SL_E_INTERNAL before finish. The byte count is s->bytes. */
sl_code sl_sink_hash_result(const sl_sink *s, uint8_t digest[32], char text[SL_SHA256_TEXT_SIZE], sl_err *err);

#endif
