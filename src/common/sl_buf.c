/* sl_buf.c - capped growable buffer. */
#include "sl_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sl_alloc.h"

void sl_buf_init(sl_buf *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max ? max : SL_BUF_DEFAULT_MAX;
}

sl_code sl_buf_reserve(sl_buf *b, size_t extra, sl_err *err)
{
    size_t need, ncap;
    uint8_t *p;
    if (b->max == 0) b->max = SL_BUF_DEFAULT_MAX;
    if (extra > b->max || b->len > b->max - extra)
        return sl_err_set(err, SL_E_LIMIT,
                          "buffer limit of %zu bytes reached (needed %zu more beyond %zu)",
                          b->max, extra, b->len);
    need = b->len + extra;
    if (need <= b->cap) return SL_OK;
    ncap = b->cap ? b->cap : 256;
    if (ncap > b->max) ncap = b->max; /* cap never passes max: sl_buf_append's room test relies on it */
    while (ncap < need) ncap = ncap > b->max / 2 ? b->max : ncap * 2;
    p = sl_realloc(b->data, ncap);
    if (!p) return sl_err_set(err, SL_E_NOMEM, "out of memory growing a buffer to %zu bytes", ncap);
    b->data = p;
    b->cap = ncap;
    return SL_OK;
}

sl_code sl_buf_append_grow(sl_buf *b, const void *p, size_t n, sl_err *err)
{
    if (n == 0) return SL_OK;
    SL_TRY(sl_buf_reserve(b, n, err));
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return SL_OK;
}

sl_code sl_buf_append_byte(sl_buf *b, uint8_t v, sl_err *err)
{
    SL_TRY(sl_buf_reserve(b, 1, err));
    b->data[b->len++] = v;
    return SL_OK;
}

sl_code sl_buf_printf(sl_buf *b, sl_err *err, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return sl_err_set(err, SL_E_INTERNAL, "bad format string");
    SL_TRY(sl_buf_reserve(b, (size_t)n + 1, err));
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SL_OK;
}

sl_code sl_buf_cstr(sl_buf *b, sl_err *err)
{
    SL_TRY(sl_buf_reserve(b, 1, err));
    b->data[b->len] = '\0';
    return SL_OK;
}

void sl_buf_reset(sl_buf *b)
{
    b->len = 0;
}

void sl_buf_free(sl_buf *b)
{
    sl_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
