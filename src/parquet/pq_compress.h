/* pq_compress.h - page compression for the writer: SNAPPY (raw block format), GZIP (a
 * gzip stream, header included), ZSTD (a standard frame), through libsnappy, zlib and
 * libzstd. */
#ifndef SL_PQ_COMPRESS_H
#define SL_PQ_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_buf.h"
#include "parquet.h"

typedef struct pq_compressor pq_compressor;

pq_compressor *pq_compressor_create(pq_codec codec, int level, sl_err *err);
/* Replaces out's contents with the compressed form of in[0..n). */
sl_code pq_compress(pq_compressor *c, const uint8_t *in, size_t n, sl_buf *out, sl_err *err);
void pq_compressor_free(pq_compressor *c);

#endif
