/* sl_buf.h - a growable byte buffer with a hard cap (curl's dynbuf): growing past
 * the cap fails with SL_E_LIMIT and a message, so memory is bounded by settings. */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sl_error.h"

typedef struct sl_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max; /* hard cap on cap; 0 means SL_BUF_DEFAULT_MAX */
} sl_buf;

#define SL_BUF_DEFAULT_MAX ((size_t)1 << 31)

void sl_buf_init(sl_buf *b, size_t max);
sl_code sl_buf_reserve(sl_buf *b, size_t extra, sl_err *err);
sl_code sl_buf_append_grow(sl_buf *b, const void *p, size_t n, sl_err *err);
/* Appends n bytes. Inlined: an append that fits the room already there (cap never
 * passes max, so it stays under the cap too) is a copy, with no call to grow. */
static inline sl_code sl_buf_append(sl_buf *b, const void *p, size_t n, sl_err *err)
{
    if (n <= b->cap - b->len) {
        if (n) memcpy(b->data + b->len, p, n); /* data is NULL before the first growth */
        b->len += n;
        return SL_OK;
    }
    return sl_buf_append_grow(b, p, n, err);
}
sl_code sl_buf_append_byte(sl_buf *b, uint8_t v, sl_err *err);
sl_code sl_buf_printf(sl_buf *b, sl_err *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* NUL-terminates without counting the NUL in len. */
sl_code sl_buf_cstr(sl_buf *b, sl_err *err);
void sl_buf_reset(sl_buf *b);
void sl_buf_free(sl_buf *b);

#endif
