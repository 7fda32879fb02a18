/* pq_compress.c - page compression (see the header). One compressor per writer keeps
 * its codec context (zstd's CCtx, zlib's stream) across pages. */
#include "pq_compress.h"

#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "../common/sl_alloc.h"

struct pq_compressor {
    pq_codec codec;
    int level;
    ZSTD_CCtx *zctx;
    z_stream zs;
    int zs_ready;
};

pq_compressor *pq_compressor_create(pq_codec codec, int level, sl_err *err)
{
    pq_compressor *c = sl_calloc(1, sizeof *c);
    if (!c) {
        sl_err_set(err, SL_E_NOMEM, "out of memory creating a %s compressor", pq_codec_name(codec));
        return NULL;
    }
    c->codec = codec;
    c->level = level;
    if (codec == PQ_CODEC_ZSTD) {
        c->zctx = ZSTD_createCCtx();
        if (!c->zctx || ZSTD_isError(ZSTD_CCtx_setParameter(c->zctx, ZSTD_c_compressionLevel, level))) {
            sl_err_set(err, SL_E_CONFIG, "zstd level %d is not accepted by libzstd", level);
            pq_compressor_free(c);
            return NULL;
        }
    } else if (codec == PQ_CODEC_GZIP) {
        /* windowBits 15 + 16: a gzip header and trailer around the deflate stream. */
        if (deflateInit2(&c->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            sl_err_set(err, SL_E_CONFIG, "gzip level %d is not accepted by zlib (0-9)", level);
            pq_compressor_free(c);
            return NULL;
        }
        c->zs_ready = 1;
    } else if (codec != PQ_CODEC_SNAPPY && codec != PQ_CODEC_NONE) {
        sl_err_set(err, SL_E_UNSUPPORTED, "compression codec %d is not supported", (int)codec);
        pq_compressor_free(c);
        return NULL;
    }
    return c;
}

sl_code pq_compress(pq_compressor *c, const uint8_t *in, size_t n, sl_buf *out, sl_err *err)
{
    out->len = 0;
    switch (c->codec) {
    case PQ_CODEC_NONE:
        return sl_buf_append(out, in, n, err);
    case PQ_CODEC_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        SL_TRY(sl_buf_reserve(out, cap, err));
        if (snappy_compress((const char *)in, n, (char *)out->data, &cap) != SNAPPY_OK)
            return sl_err_set(err, SL_E_INTERNAL, "snappy failed to compress a %zu-byte page", n);
        out->len = cap;
        return SL_OK;
    }
    case PQ_CODEC_ZSTD: {
        size_t cap = ZSTD_compressBound(n);
        SL_TRY(sl_buf_reserve(out, cap, err));
        size_t r = ZSTD_compress2(c->zctx, out->data, cap, in, n);
        if (ZSTD_isError(r))
            return sl_err_set(err, SL_E_INTERNAL, "zstd failed to compress a %zu-byte page: %s", n,
                              ZSTD_getErrorName(r));
        out->len = r;
        return SL_OK;
    }
    case PQ_CODEC_GZIP: {
        if (deflateReset(&c->zs) != Z_OK) return sl_err_set(err, SL_E_INTERNAL, "zlib deflateReset failed");
        size_t cap = deflateBound(&c->zs, (uLong)n) + 32;
        SL_TRY(sl_buf_reserve(out, cap, err));
        c->zs.next_in = (Bytef *)(uintptr_t)in;
        c->zs.avail_in = (uInt)n;
        c->zs.next_out = out->data;
        c->zs.avail_out = (uInt)cap;
        if (deflate(&c->zs, Z_FINISH) != Z_STREAM_END)
            return sl_err_set(err, SL_E_INTERNAL, "zlib failed to compress a %zu-byte page", n);
        out->len = cap - c->zs.avail_out;
        return SL_OK;
    }
    }
    return sl_err_set(err, SL_E_INTERNAL, "unknown codec %d", (int)c->codec);
}

void pq_compressor_free(pq_compressor *c)
{
    if (!c) return;
    if (c->zctx) ZSTD_freeCCtx(c->zctx);
    if (c->zs_ready) deflateEnd(&c->zs);
    sl_free(c);
}
