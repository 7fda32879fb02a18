/* pq_reader.h - opening a Parquet file for inspection: checks the PAR1 magic and the
 * footer length, parses FileMetaData (schema, row groups, column chunks, statistics,
 * key-value metadata) into plain structs. Byte fields point into the footer buffer. */
#ifndef SL_PQ_READER_H
#define SL_PQ_READER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/sl_error.h"

/* A byte string inside the footer; set says whether the field was present. */
typedef struct pq_bytes {
    const uint8_t *p;
    uint32_t len;
    int set;
} pq_bytes;

typedef struct pq_logical {
    int kind;          /* 0 absent, else a PQ_LT_* union field id */
    int32_t scale, precision;  /* DECIMAL */
    int utc, unit;     /* TIME, TIMESTAMP: isAdjustedToUTC, PQ_TU_* */
    int bits, is_signed; /* INTEGER */
} pq_logical;

typedef struct pq_schema_el {
    pq_bytes name;
    int type;          /* PQ_BOOLEAN.. or -1 for a group */
    int32_t type_length;
    int repetition;    /* PQ_REQUIRED.. or -1 */
    int32_t num_children;
    int converted_type; /* PQ_CT_* or -1 */
    int32_t scale, precision; /* -1 when absent */
    pq_logical logical;
} pq_schema_el;

typedef struct pq_stats {
    int set;
    pq_bytes min, max;             /* deprecated, signed order */
    pq_bytes min_value, max_value; /* in the column's sort order */
    int64_t null_count, distinct_count; /* -1 when absent */
} pq_stats;

typedef struct pq_column_chunk {
    pq_bytes file_path;
    int64_t file_offset;
    int has_meta;
    int type;
    int *encodings;
    uint32_t n_encodings;
    pq_bytes *path;
    uint32_t path_len;
    int codec;
    int64_t num_values, total_uncompressed_size, total_compressed_size;
    int64_t data_page_offset, index_page_offset, dictionary_page_offset; /* -1 when absent */
    pq_stats stats;
} pq_column_chunk;

typedef struct pq_row_group {
    pq_column_chunk *columns;
    uint32_t n_columns;
    int64_t total_byte_size, num_rows;
} pq_row_group;

typedef struct pq_key_value {
    pq_bytes key, value;
} pq_key_value;

typedef struct pq_file_meta {
    int32_t version;
    pq_schema_el *schema;
    uint32_t n_schema;
    int64_t num_rows;
    pq_row_group *row_groups;
    uint32_t n_row_groups;
    pq_key_value *kv;
    uint32_t n_kv;
    pq_bytes created_by;
} pq_file_meta;

typedef struct pq_reader pq_reader;

/* Fails with SL_E_FORMAT (message names the file and the defect) for anything that is
 * not a well-formed Parquet footer, SL_E_IO when the file cannot be read. */
pq_reader *pq_reader_open(const char *path, sl_err *err);
/* The same over len bytes in memory (an object read from S3), named `name` in
 * messages; data must stay valid and unchanged until pq_reader_close. */
pq_reader *pq_reader_open_mem(const char *name, const void *data, size_t len, sl_err *err);
/* The same over a stream that seeks (an object of a store: sl_store_open_read), named
 * `name` in messages; the reader owns f from the call on (closed on failure too). */
pq_reader *pq_reader_open_stream(const char *name, FILE *f, sl_err *err);
void pq_reader_close(pq_reader *rd); /* accepts NULL */

const pq_file_meta *pq_reader_meta(const pq_reader *rd);
const char *pq_reader_path(const pq_reader *rd);
uint64_t pq_reader_file_size(const pq_reader *rd);
/* Reads n bytes at off, checked against the file size (SL_E_FORMAT past the end). */
sl_code pq_reader_read_at(pq_reader *rd, uint64_t off, size_t n, void *dst, sl_err *err);

/* Parses a FileMetaData from a buffer (the footer); meta's byte fields point into buf. */
sl_code pq_meta_parse(const uint8_t *buf, size_t len, pq_file_meta *meta, sl_err *err);
void pq_meta_free(pq_file_meta *meta);

/* Names as parquet.thrift spells them ("INT64", "SNAPPY", "RLE_DICTIONARY"), or NULL. */
const char *pq_type_name(int type);
const char *pq_codec_label(int codec);
const char *pq_encoding_name(int enc);
const char *pq_converted_name(int ct);
const char *pq_repetition_name(int rep);

#endif
