/* batch.h - the column batch that flows between stages: a schema of typed fields and,
 * per column, a fixed-width value vector, a validity vector and, for variable-width
 * types, offsets into a capped byte arena. A batch is created once with a row
 * capacity, filled, consumed, reset and refilled: no allocation per row.
 *
 * Value representation per type (what a producer writes and a consumer reads):
 *   SL_BOOL                      uint8_t 0/1
 *   SL_INT8..SL_INT64            int8_t..int64_t
 *   SL_UINT8..SL_UINT64          uint8_t..uint64_t
 *   SL_FLOAT, SL_DOUBLE          float, double
 *   SL_DATE                      int32_t days since 1970-01-01
 *   SL_TIMESTAMP                 int64_t microseconds since 1970-01-01 00:00:00 UTC
 *   SL_TIME                      int64_t microseconds since midnight (00:00..24:00)
 *   SL_DECIMAL p <= 18           int64_t unscaled value (value = unscaled / 10^scale)
 *   SL_DECIMAL p > 18            sl_decimal_width(p) bytes, big-endian two's complement
 *   SL_STRING, SL_JSON, SL_ENUM  UTF-8 bytes via offsets + data
 *   SL_BINARY                    bytes via offsets + data
 * or, for a coded column (the reader's ENUMs), codes into the batch's texts; consumers
 * read bytes with sl_col_bytes, which serves both forms.
 */
#ifndef SL_BATCH_H
#define SL_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_buf.h"
#include "../common/sl_error.h"

typedef enum sl_type_id {
    SL_BOOL = 1,
    SL_INT8, SL_INT16, SL_INT32, SL_INT64,
    SL_UINT8, SL_UINT16, SL_UINT32, SL_UINT64,
    SL_FLOAT, SL_DOUBLE,
    SL_DECIMAL,
    SL_DATE, SL_TIMESTAMP, SL_TIME,
    SL_STRING, SL_BINARY, SL_JSON, SL_ENUM,
    SL_TYPE__COUNT
} sl_type_id;

typedef struct sl_type {
    sl_type_id id;
    uint8_t precision; /* SL_DECIMAL: 1..76 */
    uint8_t scale;     /* SL_DECIMAL: 0..precision */
} sl_type;

typedef struct sl_field {
    char *name;
    sl_type type;
    int nullable;
    char *origin; /* where the column came from, e.g. the MySQL type "bigint(20) unsigned"; may be NULL */
} sl_field;

typedef struct sl_schema {
    int ncols;
    sl_field *fields;
} sl_schema;

typedef struct sl_column {
    const sl_field *field;
    size_t elem_size;   /* bytes per value in `values`; 0 for variable-width types */
    uint8_t *valid;     /* one byte per row, 1 = present; NULL when the field is not nullable */
    void *values;       /* fixed-width values, capacity * elem_size bytes (NULL rows hold zeros) */
    uint32_t *offsets;  /* variable-width: capacity + 1 offsets into data; row i is [offsets[i], offsets[i+1]) */
    sl_buf data;        /* variable-width bytes, capped */
    int64_t null_count;
    /* A coded column (sl_batch_code_column: an ENUM as the reader gives it): row i holds
     * codes[i], an entry of the batch's own dictionary, whose texts are data's
     * [offsets[e], offsets[e+1]) for e < ndict (a new text in each row at most, so
     * ndict <= nrows); a NULL row holds SL_NO_CODE. sl_col_bytes reads either form. */
    uint32_t *codes;
    uint32_t ndict;
} sl_column;

#define SL_NO_CODE UINT32_MAX

typedef struct sl_batch {
    const sl_schema *schema;
    size_t nrows;
    size_t capacity;
    sl_column *cols;
    void *arena; /* one block for valid/values/offsets of every column */
} sl_batch;

const char *sl_type_name(sl_type_id id);
int sl_type_is_var(sl_type_id id);
/* Bytes per fixed-width value (0 for variable-width types). */
size_t sl_type_width(sl_type t);
/* Minimal bytes of a big-endian two's-complement integer holding any p-digit decimal. */
int sl_decimal_width(int precision);

/* Schemas: create with n fields, then set each. Strings are copied. */
sl_schema *sl_schema_create(int ncols, sl_err *err);
sl_code sl_schema_set(sl_schema *s, int i, const char *name, sl_type type, int nullable,
                      const char *origin, sl_err *err);
int sl_schema_find(const sl_schema *s, const char *name); /* index or -1 */
void sl_schema_free(sl_schema *s);

/* var_bytes_max caps each variable-width column's byte arena. */
sl_batch *sl_batch_create(const sl_schema *schema, size_t capacity, size_t var_bytes_max, sl_err *err);
void sl_batch_reset(sl_batch *b);
void sl_batch_free(sl_batch *b);
/* Exchanges the rows and buffers of a and b, two batches of one schema made with the
 * same capacity and byte cap (a consumer keeps a full batch and hands an empty one back). */
void sl_batch_swap(sl_batch *a, sl_batch *b);

/* Appending: producers fill row `b->nrows` of every column, then call
 * sl_batch_commit_row(). For variable-width columns, rows must be set in order. */
static inline void sl_col_set_null(sl_column *c, size_t row)
{
    c->valid[row] = 0;
    c->null_count++;
    if (c->codes) c->codes[row] = SL_NO_CODE;
    else if (c->offsets) c->offsets[row + 1] = c->offsets[row];
}
static inline void sl_col_set_valid(sl_column *c, size_t row)
{
    if (c->valid) c->valid[row] = 1;
}
sl_code sl_col_set_bytes(sl_column *c, size_t row, const void *p, size_t n, sl_err *err);
/* Makes variable-width column i of b a coded one (see sl_column), empty: for a producer
 * whose values repeat a few texts. */
sl_code sl_batch_code_column(sl_batch *b, int i, sl_err *err);
/* A coded column's new dictionary entry, its index in *e. */
sl_code sl_col_add_entry(sl_column *c, const void *p, size_t n, uint32_t *e, sl_err *err);
/* Entry e's text. */
static inline const uint8_t *sl_col_entry(const sl_column *c, uint32_t e, uint32_t *len)
{
    *len = c->offsets[e + 1] - c->offsets[e];
    return c->data.data ? c->data.data + c->offsets[e] : (const uint8_t *)"";
}
static inline int sl_col_is_null(const sl_column *c, size_t row)
{
    return c->valid && !c->valid[row];
}
static inline const uint8_t *sl_col_bytes(const sl_column *c, size_t row, uint32_t *len)
{
    if (c->codes) {
        uint32_t e = c->codes[row];
        if (e >= c->ndict) { /* a NULL row */
            *len = 0;
            return (const uint8_t *)"";
        }
        return sl_col_entry(c, e, len);
    }
    return sl_col_entry(c, (uint32_t)row, len); /* row i's text is entry i's place */
}
#define SL_COL_VALUES(c, T) ((T *)(c)->values)

static inline void sl_batch_commit_row(sl_batch *b) { b->nrows++; }
static inline int sl_batch_full(const sl_batch *b) { return b->nrows >= b->capacity; }

#endif
