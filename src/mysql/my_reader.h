/* my_reader.h - streaming a query's result into column batches over the binary
 * protocol (prepared statements): no whole-result buffering, no allocation per row.
 * This is the one way every stage above reads MySQL (export, run).
 *
 * Type mapping (MySQL column -> sl_type of the batch), the contract for consumers:
 *   TINYINT/SMALLINT/MEDIUMINT/INT/BIGINT [UNSIGNED] -> SL_INT8/16/32/32/64 (SL_UINT8/16/32/32/64)
 *   DECIMAL(p,s) -> SL_DECIMAL(p,s) (p <= 18: int64 unscaled; wider: big-endian bytes);
 *                   p > 38 with opts.wide_decimal_string: SL_STRING (the server's exact text)
 *   DATETIME(n), TIMESTAMP(n) -> SL_TIMESTAMP (microseconds, the value taken as UTC)
 *   DATE -> SL_DATE; CHAR/VARCHAR/TEXT -> SL_STRING; ENUM -> SL_ENUM, a coded column (batch.h);
 *   SET -> SL_STRING
 *   FLOAT -> SL_FLOAT; DOUBLE -> SL_DOUBLE; BINARY/VARBINARY/BLOB -> SL_BINARY; JSON -> SL_JSON
 *   (the full table, with BIT, YEAR, TIME, GEOMETRY and zero dates, is in the README)
 * Nullability follows the column's NOT NULL flag. */
#ifndef SL_MY_READER_H
#define SL_MY_READER_H

#include <mysql.h>
#include <stdint.h>

#include "../batch/batch.h"
#include "../common/sl_error.h"

typedef struct my_reader my_reader;

typedef struct my_read_opts {
    size_t batch_rows;      /* rows per batch, default 65536 */
    size_t batch_bytes_max; /* cap on each variable-width column's bytes per batch, default 64 MiB */
    int zero_dates_error;   /* 1: a zero/partial date fails the read (SL_E_DATA) instead of NULL */
    const char *table;      /* for messages and zero-date reports; may be NULL */
    const char *key_column; /* an integer column whose value names the row in errors; may be NULL */
    int wide_decimal_string; /* 1: a DECIMAL above 38 digits becomes SL_STRING, its exact digits as text */
    int read_ahead;         /* 1: a thread of the reader fetches and converts the next batch while the
                             * caller works on this one (two batches, each with half batch_bytes_max);
                             * the connection is then the reader's until my_reader_free, or until
                             * on_end is called */
    /* read_ahead only, may be NULL: called on the reader's thread once it has read the whole
     * result (never after an error or a cancel), with the statement already closed: the
     * connection is free from then on, and on_end may start the next read on it while the
     * caller still converts the last batches (my_reader_free waits for it to return). */
    void (*on_end)(void *ud);
    void *on_end_ud;
} my_read_opts;

void my_read_opts_default(my_read_opts *o);

/* Prepares and executes sql on m (the connection stays busy until my_reader_free). */
my_reader *my_reader_open(MYSQL *m, const char *sql, const my_read_opts *opts, sl_err *err);
const sl_schema *my_reader_schema(const my_reader *r);
/* Next batch of rows; *out is NULL at the end of the result. The batch stays valid
 * until the next call (with read_ahead too: the thread fills the other one). A dropped connection is an error (SL_E_DB_LOST), never an end. */
sl_code my_reader_next(my_reader *r, sl_batch **out, sl_err *err);
/* Zero or partial dates turned into NULL, per column (index as in the schema). */
int64_t my_reader_zero_dates(const my_reader *r, int col);
int64_t my_reader_rows(const my_reader *r);
void my_reader_free(my_reader *r);

#endif
