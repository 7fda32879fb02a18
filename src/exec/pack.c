/* pack.c - records in a task's result: a zstd stream in base64 JSON strings, or in a
 * stored object past a bound (pack.h). */
#include "pack.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"

/* Compressed bytes a string holds: 3/4 of its characters, a multiple of 3 (no padding
 * inside the stream). */
#define RAW_CHUNK ((size_t)SL_PACK_CHUNK / 4 * 3)

struct sl_pack {
    ZSTD_CCtx *cc;
    sl_buf comp;   /* compressed bytes not yet in a string (or, once spilled, in the sink) */
    json_t *arr;
    uint8_t *text; /* one string's base64 */
    size_t inline_max, total; /* the compressed bytes the JSON may hold; those made so far */
    sl_pack_spill_fn spill;
    void *spill_ud;
    sl_sink *sink; /* the spill's, once the stream went there; the caller's to release */
};

sl_pack *sl_pack_begin_spill(size_t inline_max, sl_pack_spill_fn spill, void *ud, sl_err *err)
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
    p->inline_max = spill ? inline_max : SIZE_MAX;
    p->spill = spill;
    p->spill_ud = ud;
    if (!p->cc || !p->arr || !p->text) {
        sl_pack_free(p);
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        return NULL;
    }
    ZSTD_CCtx_setParameter(p->cc, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(p->cc, ZSTD_c_checksumFlag, 1); /* a damaged result fails, never reads as other records */
    return p;
}

sl_pack *sl_pack_begin(sl_err *err) { return sl_pack_begin_spill(SIZE_MAX, NULL, NULL, err); }

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

/* The stream passed inline_max: the strings made so far (whole RAW_CHUNKs, so without
 * padding) go to the spill's sink, decoded, and every byte after them too. */
static sl_code spill_now(sl_pack *p, sl_err *err)
{
    if (!(p->sink = p->spill(p->spill_ud, err))) return err && err->code ? err->code : SL_E_STORAGE;
    size_t i;
    json_t *s;
    json_array_foreach(p->arr, i, s)
    {
        int got = EVP_DecodeBlock(p->text, (const unsigned char *)json_string_value(s), (int)json_string_length(s));
        if (got < 0) return sl_err_set(err, SL_E_INTERNAL, "re-reading a packed stream");
        SL_TRY(sl_sink_write(p->sink, p->text, (size_t)got, err));
    }
    json_array_clear(p->arr);
    return SL_OK;
}

/* The compressed bytes on to their place: whole strings (all at the end), or the sink. */
static sl_code drain(sl_pack *p, int end, sl_err *err)
{
    if (!p->sink && p->total > p->inline_max) SL_TRY(spill_now(p, err));
    if (p->sink) {
        if (p->comp.len >= RAW_CHUNK || (end && p->comp.len)) {
            SL_TRY(sl_sink_write(p->sink, p->comp.data, p->comp.len, err));
            p->comp.len = 0;
        }
        return SL_OK;
    }
    while (p->comp.len >= RAW_CHUNK) SL_TRY(emit(p, RAW_CHUNK, err));
    if (end && p->comp.len) SL_TRY(emit(p, p->comp.len, err));
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
        p->total += out.pos;
        SL_TRY(drain(p, 0, err));
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
    *out = NULL;
    sl_code rc = squeeze(p, &in, ZSTD_e_end, err);
    if (rc == SL_OK) rc = drain(p, 1, err);
    if (rc == SL_OK && p->sink) rc = sl_sink_finish(p->sink, err);
    else if (rc == SL_OK) {
        *out = p->arr;
        p->arr = NULL;
    }
    sl_pack_free(p);
    return rc;
}

/* A stored stream is read this much at a time (a ranged GET on S3). */
#define STORED_READ ((size_t)1 << 20)

struct sl_unpacker {
    const json_t *arr;
    size_t next;      /* the next string of arr to decode */
    sl_store *st;     /* a stored stream: its key, size and how far it is read */
    char *key;
    uint64_t size, off;
    const char *whose, *what;
    ZSTD_DCtx *dc;
    sl_buf in;        /* the current string's compressed bytes */
    ZSTD_inBuffer zin;
    sl_buf win;       /* decompressed bytes; [pos, len) not yet taken */
    size_t pos;
    size_t last;      /* ZSTD_decompressStream's last hint: 0 once a frame is whole */
    int eof;          /* no byte will come any more */
};

/* A spilled stream's object: {"partition", "name", "bytes"} (sl_pack_end's caller wrote
 * it); it must still hold exactly those bytes. */
static sl_code open_stored(sl_unpacker *u, sl_store *st, const json_t *a, sl_err *err)
{
    const char *part = json_string_value(json_object_get(a, "partition"));
    const char *name = json_string_value(json_object_get(a, "name"));
    const json_t *bytes = json_object_get(a, "bytes");
    if (!part || !name || !json_is_integer(bytes) || json_integer_value(bytes) < 0)
        return sl_err_set(err, SL_E_FORMAT, "%s has no valid %s", u->whose, u->what);
    if (!st) return sl_err_set(err, SL_E_INTERNAL, "%s: its %s are stored, and no store was given", u->whose, u->what);
    size_t n = strlen(part) + strlen(name) + 1;
    if (!(u->key = sl_malloc(n))) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    snprintf(u->key, n, "%s%s", part, name);
    u->st = st;
    if (sl_store_size(st, u->key, &u->size, err) != SL_OK)
        return sl_err_prefix(err, "%s: its %s: ", u->whose, u->what);
    if (u->size != (uint64_t)json_integer_value(bytes))
        return sl_err_set(err, SL_E_FORMAT, "%s has no valid %s: %s holds %llu bytes, not the %lld written",
                          u->whose, u->what, u->key, (unsigned long long)u->size,
                          (long long)json_integer_value(bytes));
    return SL_OK;
}

sl_unpacker *sl_unpacker_open(sl_store *st, const json_t *a, const char *whose, const char *what, sl_err *err)
{
    if (!json_is_object(a) && (!json_is_array(a) || json_array_size(a) == 0)) {
        sl_err_set(err, SL_E_FORMAT, "%s has no valid %s", whose, what);
        return NULL;
    }
    sl_unpacker *u = sl_calloc(1, sizeof *u);
    if (!u || !(u->dc = ZSTD_createDCtx())) {
        sl_unpacker_free(u);
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        return NULL;
    }
    u->whose = whose;
    u->what = what;
    sl_buf_init(&u->in, 0);
    sl_buf_init(&u->win, 0);
    u->last = 1;
    if (json_is_object(a)) {
        if (open_stored(u, st, a, err) != SL_OK) {
            sl_unpacker_free(u);
            return NULL;
        }
    } else {
        u->arr = a;
    }
    return u;
}

void sl_unpacker_free(sl_unpacker *u)
{
    if (!u) return;
    ZSTD_freeDCtx(u->dc);
    sl_buf_free(&u->in);
    sl_buf_free(&u->win);
    sl_free(u->key);
    sl_free(u);
}

/* The next compressed bytes into u->zin, if any are left: the next string, or the next
 * part of the stored object. */
static sl_code next_input(sl_unpacker *u, sl_err *err)
{
    u->in.len = 0;
    if (u->key) {
        size_t n = u->size - u->off < STORED_READ ? (size_t)(u->size - u->off) : STORED_READ;
        SL_TRY(sl_buf_reserve(&u->in, n, err));
        if (sl_store_read_at(u->st, u->key, u->off, n, u->in.data, err) != SL_OK)
            return sl_err_prefix(err, "%s: its %s: ", u->whose, u->what);
        u->off += n;
        u->zin = (ZSTD_inBuffer){u->in.data, n, 0};
        return SL_OK;
    }
    const json_t *s = json_array_get(u->arr, u->next++);
    const char *t = json_string_value(s);
    size_t n = json_string_length(s);
    if (!t || n == 0 || n % 4 || n > SL_PACK_CHUNK)
        return sl_err_set(err, SL_E_FORMAT, "%s has no valid %s", u->whose, u->what);
    SL_TRY(sl_buf_reserve(&u->in, n / 4 * 3 + 1, err));
    int got = EVP_DecodeBlock(u->in.data, (const unsigned char *)t, (int)n);
    if (got < 0) return sl_err_set(err, SL_E_FORMAT, "%s has no valid %s", u->whose, u->what);
    u->zin = (ZSTD_inBuffer){u->in.data, (size_t)got - (t[n - 1] == '=') - (t[n - 2] == '='), 0};
    return SL_OK;
}

static int input_left(const sl_unpacker *u) { return u->key ? u->off < u->size : u->next < json_array_size(u->arr); }

/* Decompresses more onto the window: at least one byte, or u->eof. */
static sl_code unpack_more(sl_unpacker *u, sl_err *err)
{
    if (u->pos) { /* what was taken leaves the window */
        memmove(u->win.data, u->win.data + u->pos, u->win.len - u->pos);
        u->win.len -= u->pos;
        u->pos = 0;
    }
    while (!u->eof) {
        if (u->zin.pos == u->zin.size && input_left(u)) SL_TRY(next_input(u, err));
        int input_done = u->zin.pos == u->zin.size && !input_left(u);
        if (input_done && u->last == 0) { /* the frame is whole and flushed */
            u->eof = 1;
            break;
        }
        SL_TRY(sl_buf_reserve(&u->win, ZSTD_DStreamOutSize(), err));
        ZSTD_outBuffer out = {u->win.data + u->win.len, ZSTD_DStreamOutSize(), 0};
        size_t r = ZSTD_decompressStream(u->dc, &out, &u->zin);
        if (ZSTD_isError(r))
            return sl_err_set(err, SL_E_FORMAT, "%s has no valid %s: %s", u->whose, u->what, ZSTD_getErrorName(r));
        u->last = r;
        u->win.len += out.pos;
        if (input_done && out.pos == 0) { /* the input is all in and the decoder holds nothing more */
            u->eof = 1;
            if (u->last != 0)
                return sl_err_set(err, SL_E_FORMAT, "%s has no valid %s: the stream is cut short", u->whose,
                                  u->what);
        }
        if (out.pos) return SL_OK;
    }
    return SL_OK;
}

sl_code sl_unpacker_take(sl_unpacker *u, size_t need, const uint8_t **p, sl_err *err)
{
    *p = NULL;
    while (u->win.len - u->pos < need && !u->eof) SL_TRY(unpack_more(u, err));
    size_t have = u->win.len - u->pos;
    if (have >= need) {
        *p = u->win.data + u->pos;
        u->pos += need;
        return SL_OK;
    }
    if (have) return sl_err_set(err, SL_E_FORMAT, "%s ends inside a record of its %s", u->whose, u->what);
    return SL_OK; /* the end */
}

sl_code sl_unpack(sl_store *st, const json_t *a, const char *whose, const char *what, sl_unpack_fn fn, void *ud,
                  sl_err *err)
{
    sl_unpacker *u = sl_unpacker_open(st, a, whose, what, err);
    if (!u) return err && err->code ? err->code : SL_E_FORMAT;
    sl_code rc = SL_OK;
    while (rc == SL_OK && !u->eof) {
        if ((rc = unpack_more(u, err)) != SL_OK) break;
        size_t used = 0;
        if ((rc = fn(ud, u->win.data + u->pos, u->win.len - u->pos, &used, err)) != SL_OK) break;
        u->pos += used;
    }
    if (rc == SL_OK && u->win.len > u->pos)
        rc = sl_err_set(err, SL_E_FORMAT, "%s ends inside a record of its %s", whose, what);
    sl_unpacker_free(u);
    return rc;
}
