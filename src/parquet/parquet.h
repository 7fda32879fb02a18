/* parquet.h - the public face of sluice's Parquet writer and reader. The writer
 * streams column batches (batch/) into a sink (sink/): memory is bounded by one
 * row group plus dictionaries, whatever the file size. Flat schemas only. */
#ifndef SL_PARQUET_H
#define SL_PARQUET_H

#include <stdint.h>

#include "../batch/batch.h"
#include "../common/sl_error.h"
#include "../sink/sink.h"

/* Values are parquet.thrift's CompressionCodec numbers. */
typedef enum pq_codec {
    PQ_CODEC_NONE = 0,
    PQ_CODEC_SNAPPY = 1,
    PQ_CODEC_GZIP = 2,
    PQ_CODEC_ZSTD = 6
} pq_codec;

typedef struct pq_kv {
    const char *key;
    const char *value;
} pq_kv;

typedef struct pq_options {
    pq_codec codec;           /* default SNAPPY */
    int zstd_level;           /* default 3; -7 to 22 */
    int gzip_level;           /* default 6; 0 to 9 */
    size_t page_size;         /* target encoded data page size, default 1 MiB; 1 KiB to 1 GiB;
                                 pages also end at 20,000 rows */
    size_t row_group_size;    /* target encoded row group size, default 128 MiB; >= page_size */
    int64_t row_group_rows;   /* also cut a row group after this many rows; 0 = no limit */
    int dictionary;           /* 1 (default): try dictionary encoding per column chunk */
    size_t dictionary_max;    /* fall back to PLAIN past this dictionary size, default 1 MiB */
    int delta;                /* 1 (default): DELTA_BINARY_PACKED for INT32/INT64 where smaller */
    int page_index;           /* 1 (default): write ColumnIndex and OffsetIndex */
    const pq_kv *kv;          /* extra key-value metadata, copied at open */
    int kv_count;
    struct pq_spare *spare;   /* NULL, or buffers the writer starts from and leaves there
                                 when freed, for the next writer of the same thread */
    int dictionary_carry;     /* 0 (default); 1: with a spare, a column whose dictionary
                                 the spare's previous writer of the same column names and
                                 types gave up is not tried (pq_spare) */
} pq_options;

typedef struct pq_file_info {
    int64_t rows;
    uint64_t bytes;   /* whole file */
    int row_groups;
} pq_file_info;

typedef struct pq_writer pq_writer;

/* The large buffers of a writer (its column chunks and page scratch), kept from one
 * writer to the next: a column chunk grows to the size of its row group, and a new
 * writer would take that memory from the system and fault every page of it in again.
 * One writer at a time may use a spare; it holds at most the buffers of the last writer
 * freed with it. Between writers of the same column names and types (a table's next
 * file) it also carries which columns gave their dictionary up in a row group of the
 * writer: an INT32/INT64 column's lost to DELTA or PLAIN at its first page, another
 * column's first page was no smaller under it, or it passed dictionary_max. With
 * pq_options.dictionary_carry the next writer does not try the dictionary for them (the
 * trial hashes a page of values into a table that grows as it goes, for nothing on a
 * key, a timestamp, an amount or an e-mail address). Without it a writer from a spare
 * writes the same bytes as one that starts empty. */
typedef struct pq_spare pq_spare;
pq_spare *pq_spare_create(void);
void pq_spare_free(pq_spare *s); /* accepts NULL */

void pq_options_default(pq_options *o);
const char *pq_codec_name(pq_codec c);              /* "snappy", "zstd", "gzip", "none" */
sl_code pq_codec_parse(const char *s, pq_codec *out, sl_err *err);

/* Each field's `origin` (if set) is recorded in the footer's key-value metadata as
 * "sluice.origin.<column>". The writer keeps a pointer to schema: it must outlive it. */
pq_writer *pq_writer_open(sl_sink *sink, const sl_schema *schema, const pq_options *opt, sl_err *err);
sl_code pq_writer_write(pq_writer *w, const sl_batch *batch, sl_err *err);
/* Flushes the last row group, writes the page index and footer, finishes the sink. */
sl_code pq_writer_close(pq_writer *w, pq_file_info *info, sl_err *err);
/* Aborts the sink unless closed; accepts NULL. Does not release the sink. */
void pq_writer_free(pq_writer *w);

#endif
