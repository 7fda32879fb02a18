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

/* The database's base tables (not views), sorted by name. Free with my_names_free. */
sl_code my_catalog_tables(MYSQL *m, char ***names, int *count, sl_err *err);
void my_names_free(char **names, int count);

/* Whether the connected user holds the global privilege `priv` (e.g. "RELOAD"). */
sl_code my_catalog_has_privilege(MYSQL *m, const char *priv, int *has, sl_err *err);

/* One column of a table, as information_schema describes it. */
typedef struct my_column_info {
    char *name;
    char *data_type;   /* "bigint", "varchar", ... */
    char *column_type; /* "bigint(20) unsigned", ... */
    int primary;       /* part of the primary key */
} my_column_info;

/* The columns of `table` in ordinal order; SL_E_SCHEMA naming the table when it does
 * not exist. Free with my_columns_free. */
sl_code my_catalog_columns(MYSQL *m, const char *table, my_column_info **cols, int *count, sl_err *err);
void my_columns_free(my_column_info *cols, int count);

/* The column to cut `table` into key ranges on: its primary key when that is a single
 * integer column, else NULL. Points into cols. */
const char *my_catalog_partition_key(const my_column_info *cols, int count);
/* Whether a column type can be a partition key: 1 for integers that always fit int64,
 * 2 for BIGINT UNSIGNED (usable while its values stay below 2^63: check with
 * my_catalog_key_fits), 0 otherwise. */
int my_catalog_int_key_type(const my_column_info *c);

/* Whether every value of `table`.`column` fits int64 (MAX(column) < 2^63). */
sl_code my_catalog_key_fits(MYSQL *m, const char *table, const char *column, int *fits, sl_err *err);

#endif
