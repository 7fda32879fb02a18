/* pack.c - records in a task's result: a zstd stream in base64 JSON strings (pack.h). */
#include "pack.h"

#include <openssl/evp.h>
#include <string.h>
#include <zstd.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"

/* Compressed bytes a string holds: 3/4 of its characters, a multiple of 3 (no padding
 * inside the stream). */
#define RAW_CHUNK ((size_t)SL_PACK_CHUNK / 4 * 3)

struct sl_pack {
    ZSTD_CCtx *cc;
    sl_buf comp;   /* compressed bytes not yet in a string */
    json_t *arr;
    uint8_t *text; /* one string's base64 */
};

sl_pack *sl_pack_begin(sl_err *err)
{
    sl_pack *p = sl_calloc(1, sizeof *p);
    if (!p) {
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        return NULL;
    }
    sl_buf_init(&p->comp, 0);
    p->cc = ZSTD_createCCtx();
    p->arr = json_array();
    p->text = sl_malloc(SL_PACK_CHUNK + 1);
    if (!p->cc || !p->arr || !p->text) {
        sl_pack_free(p);
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        return NULL;
    }
    ZSTD_CCtx_setParameter(p->cc, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(p->cc, ZSTD_c_checksumFlag, 1); /* a damaged result fails, never reads as other records */
    return p;
}

void sl_pack_free(sl_pack *p)
{
    if (!p) return;
    ZSTD_freeCCtx(p->cc);
    sl_buf_free(&p->comp);
    json_decref(p->arr);
    sl_free(p->text);
    sl_free(p);
}

/* The first n compressed bytes as one more string of the array. */
static sl_code emit(sl_pack *p, size_t n, sl_err *err)
{
    int len = EVP_EncodeBlock(p->text, p->comp.data, (int)n);
    json_t *s = len >= 0 ? json_stringn((const char *)p->text, (size_t)len) : NULL;
    if (!s || json_array_append_new(p->arr, s) != 0) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    memmove(p->comp.data, p->comp.data + n, p->comp.len - n);
    p->comp.len -= n;
    return SL_OK;
}

/* Runs the compressor over in with directive d, the output into strings. */
static sl_code squeeze(sl_pack *p, ZSTD_inBuffer *in, ZSTD_EndDirective d, sl_err *err)
{
    size_t left;
    do {
        size_t room = ZSTD_CStreamOutSize();
        SL_TRY(sl_buf_reserve(&p->comp, room, err));
        ZSTD_outBuffer out = {p->comp.data + p->comp.len, room, 0};
        left = ZSTD_compressStream2(p->cc, &out, in, d);
        if (ZSTD_isError(left))
            return sl_err_set(err, SL_E_INTERNAL, "compressing a task's records: %s", ZSTD_getErrorName(left));
        p->comp.len += out.pos;
        while (p->comp.len >= RAW_CHUNK) SL_TRY(emit(p, RAW_CHUNK, err));
    } while (d == ZSTD_e_end ? left != 0 : in->pos < in->size);
    return SL_OK;
}

sl_code sl_pack_put(sl_pack *p, const void *data, size_t n, sl_err *err)
{
    ZSTD_inBuffer in = {data, n, 0};
    return n ? squeeze(p, &in, ZSTD_e_continue, err) : SL_OK;
}

sl_code sl_pack_end(sl_pack *p, json_t **out, sl_err *err)
{
    ZSTD_inBuffer in = {NULL, 0, 0};
    sl_code rc = squeeze(p, &in, ZSTD_e_end, err);
    if (rc == SL_OK && p->comp.len) rc = emit(p, p->comp.len, err);
    if (rc == SL_OK) {
        *out = p->arr;
        p->arr = NULL;
    }
    sl_pack_free(p);
    return rc;
}

sl_code sl_unpack(const json_t *a, const char *whose, const char *what, sl_unpack_fn fn, void *ud, sl_err *err)
{
    if (!json_is_array(a)) return sl_err_set(err, SL_E_FORMAT, "%s has no valid %s", whose, what);
    sl_buf in, win;
    sl_buf_init(&in, 0);
    sl_buf_init(&win, 0);
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    sl_code rc = dc ? SL_OK : sl_err_set(err, SL_E_NOMEM, "out of memory");
    size_t last = 1; /* 0 once a frame is whole */
    size_t i;
    const json_t *s;
    json_array_foreach(a, i, s) {
        if (rc != SL_OK) break;
        const char *t = json_string_value(s);
        size_t n = json_string_length(s);
        if (!t || n == 0 || n % 4 || n > SL_PACK_CHUNK) {
            rc = sl_err_set(err, SL_E_FORMAT, "%s has no valid %s", whose, what);
            break;
        }
        in.len = 0;
        if ((rc = sl_buf_reserve(&in, n / 4 * 3 + 1, err)) != SL_OK) break;
        int got = EVP_DecodeBlock(in.data, (const unsigned char *)t, (int)n);
        if (got < 0) {
            rc = sl_err_set(err, SL_E_FORMAT, "%s has no valid %s", whose, what);
            break;
        }
        ZSTD_inBuffer zin = {in.data, (size_t)got - (t[n - 1] == '=') - (t[n - 2] == '='), 0};
        while (rc == SL_OK && zin.pos < zin.size) {
            size_t room = ZSTD_DStreamOutSize();
            if ((rc = sl_buf_reserve(&win, room, err)) != SL_OK) break;
            ZSTD_outBuffer out = {win.data + win.len, room, 0};
            last = ZSTD_decompressStream(dc, &out, &zin);
            if (ZSTD_isError(last)) {
                rc = sl_err_set(err, SL_E_FORMAT, "%s has no valid %s: %s", whose, what,
                                ZSTD_getErrorName(last));
                break;
            }
            win.len += out.pos;
            size_t used = 0;
            if ((rc = fn(ud, win.data, win.len, &used, err)) != SL_OK) break;
            memmove(win.data, win.data + used, win.len - used);
            win.len -= used;
        }
    }
    /* what the decoder still holds once the input is all in */
    while (rc == SL_OK && last != 0 && json_array_size(a)) {
        if ((rc = sl_buf_reserve(&win, ZSTD_DStreamOutSize(), err)) != SL_OK) break;
        ZSTD_inBuffer zin = {NULL, 0, 0};
        ZSTD_outBuffer out = {win.data + win.len, ZSTD_DStreamOutSize(), 0};
        last = ZSTD_decompressStream(dc, &out, &zin);
        if (ZSTD_isError(last) || out.pos == 0) break;
        win.len += out.pos;
        size_t used = 0;
        if ((rc = fn(ud, win.data, win.len, &used, err)) != SL_OK) break;
        memmove(win.data, win.data + used, win.len - used);
        win.len -= used;
    }
    if (rc == SL_OK && (last != 0 || json_array_size(a) == 0))
        rc = sl_err_set(err, SL_E_FORMAT, "%s has no valid %s: the stream is cut short", whose, what);
    if (rc == SL_OK && win.len)
        rc = sl_err_set(err, SL_E_FORMAT, "%s ends inside a record of its %s", whose, what);
    ZSTD_freeDCtx(dc);
    sl_buf_free(&in);
    sl_buf_free(&win);
    return rc;
}
