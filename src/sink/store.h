/* store.h - an output location: a local folder or an S3 bucket and prefix. Keys are
 * '/'-separated paths relative to the location's root. A store makes sinks for new
 * objects, lists and deletes keys, and reads small objects (manifests); the commit
 * protocol (commit.h) is written once on top of this for both backends.
 * Backends fill sl_store_vtable (curl's vtls pattern). */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stdint.h>

#include "../common/sl_buf.h"
#include "../common/sl_config.h"
#include "../common/sl_error.h"
#include "sink.h"

typedef struct sl_store sl_store;

/* Called once per key found; return non-zero to stop listing. */
typedef int (*sl_store_list_cb)(void *ud, const char *key, uint64_t size);

typedef struct sl_store_vtable {
    const char *name; /* "local", "s3" */
    sl_sink *(*create)(sl_store *s, const char *key, sl_err *err);
    sl_code (*list)(sl_store *s, const char *prefix, sl_store_list_cb cb, void *ud, sl_err *err);
    sl_code (*remove)(sl_store *s, const char *key, sl_err *err); /* missing key is not an error */
    sl_code (*read)(sl_store *s, const char *key, sl_buf *out, sl_err *err); /* SL_E_IO "not found" when absent */
    void (*release)(sl_store *s);
} sl_store_vtable;

struct sl_store {
    const sl_store_vtable *vt;
    char *url; /* as given, for messages (never holds credentials) */
};

/* "s3://bucket/prefix" -> S3 backend (settings from cfg); anything else -> local folder. */
sl_store *sl_store_open(const char *url, const sl_config *cfg, sl_err *err);
sl_store *sl_store_local_open(const char *root, sl_err *err);
void sl_store_free(sl_store *s);

static inline sl_sink *sl_store_create(sl_store *s, const char *key, sl_err *err) { return s->vt->create(s, key, err); }
static inline sl_code sl_store_list(sl_store *s, const char *prefix, sl_store_list_cb cb, void *ud, sl_err *err)
{
    return s->vt->list(s, prefix, cb, ud, err);
}
static inline sl_code sl_store_remove(sl_store *s, const char *key, sl_err *err) { return s->vt->remove(s, key, err); }
static inline sl_code sl_store_read(sl_store *s, const char *key, sl_buf *out, sl_err *err)
{
    return s->vt->read(s, key, out, err);
}

#endif
