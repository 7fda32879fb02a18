/* pq_decode.h - turning Parquet values back into text for `sluice inspect`: value
 * formatting by logical type (statistics and rows), and decoding of the first rows
 * of a flat file (data pages v1/v2, PLAIN, dictionary, RLE, DELTA_BINARY_PACKED). */
#ifndef SL_PQ_DECODE_H
#define SL_PQ_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_buf.h"
#include "pq_reader.h"

/* Appends the text of one PLAIN-encoded value (no length prefix for byte arrays; one
 * byte 0/1 for booleans) of schema leaf el to out. A width mismatch is SL_E_FORMAT. */
sl_code pq_value_format(const pq_schema_el *el, const uint8_t *p, size_t len, sl_buf *out, sl_err *err);

/* Appends a DOUBLE's text as pq_value_format prints it: the shortest that reads back as
 * the same double (what Python's repr prints), nan, inf or -inf. */
sl_code pq_double_format(double v, sl_buf *out, sl_err *err);

/* Whether strings of this leaf are text (STRING/UTF8/ENUM/JSON) rather than binary. */
int pq_leaf_is_text(const pq_schema_el *el);

typedef struct pq_head {
    uint32_t ncols;
    int64_t nrows;
    const pq_schema_el **cols; /* schema leaves, in column order */
    char **cells;              /* nrows * ncols, row-major; NULL is a NULL value */
} pq_head;

/* Decodes the first `rows` rows (fewer if the file has fewer). Flat schemas only
 * (SL_E_UNSUPPORTED otherwise, or for an encoding or codec not handled). */
sl_code pq_head_read(pq_reader *rd, int64_t rows, pq_head *h, sl_err *err);
void pq_head_free(pq_head *h);

/* Decodes every row of row group g for the leaf columns cols[0..ncols) (0-based
 * indexes into the flat schema's leaves): h->cols[i] is leaf cols[i], h->cells holds
 * nrows * ncols values. Memory is one row group of the chosen columns as text. */
sl_code pq_group_read(pq_reader *rd, uint32_t g, const uint32_t *cols, uint32_t ncols, pq_head *h, sl_err *err);

/* RLE/bit-packed hybrid decoding (Encodings.md), exposed for the unit tests. */
sl_code pq_hybrid_decode(const uint8_t *p, size_t len, int bit_width, uint32_t *out, size_t n, sl_err *err);

#endif
