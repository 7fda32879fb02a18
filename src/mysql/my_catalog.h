/* my_catalog.h - what the source database holds: the tables and columns sluice's
 * pipeline reads (the source schema contract) and checks that they are there. */
#ifndef SL_MY_CATALOG_H
#define SL_MY_CATALOG_H

#include <mysql.h>

#include "../common/sl_buf.h"
#include "../common/sl_error.h"

typedef struct my_required_table {
    const char *table;
    const char *const *columns; /* NULL-terminated */
} my_required_table;

/* The source schema of the business pipeline (README, "Source schema"). */
extern const my_required_table my_source_schema[];
extern const int my_source_schema_count;

/* Appends "table.column" (or "table (missing table)") for every absent item, comma
 * separated, to missing. Returns SL_OK when the query ran, whatever was missing. */
sl_code my_catalog_missing(MYSQL *m, const my_required_table *req, int nreq, sl_buf *missing, sl_err *err);

/* information_schema's row estimate for a table (-1 when unknown). */
sl_code my_catalog_row_estimate(MYSQL *m, const char *table, long long *rows, sl_err *err);

#endif
