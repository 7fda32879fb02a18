/* my_catalog.c - the source schema contract and its check against
 * information_schema of the connected database. */
#include "my_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "my_conn.h"

static const char *const customers_cols[] = {"customer_id", "first_name", "last_name", "email", "country", "created_at", NULL};
static const char *const products_cols[] = {"product_id", "sku", "name", "category", "price", "created_at", NULL};
static const char *const orders_cols[] = {"order_id", "customer_id", "order_date", "total_amount", "status", NULL};
static const char *const order_items_cols[] = {"order_item_id", "order_id", "product_id", "quantity", "unit_price", NULL};
static const char *const warehouses_cols[] = {"warehouse_id", "name", "city", "region", "country", NULL};
static const char *const inventory_cols[] = {"inventory_id", "product_id", "warehouse_id", "quantity", "capacity", "last_updated", NULL};

const my_required_table my_source_schema[] = {
    {"customers", customers_cols}, {"products", products_cols},     {"orders", orders_cols},
    {"order_items", order_items_cols}, {"warehouses", warehouses_cols}, {"inventory", inventory_cols},
};
const int my_source_schema_count = (int)(sizeof my_source_schema / sizeof my_source_schema[0]);

static sl_code query_set(MYSQL *m, const char *sql, MYSQL_RES **out, sl_err *err)
{
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0) return my_error(m, err, "reading information_schema");
    *out = mysql_store_result(m);
    if (!*out) return my_error(m, err, "reading information_schema");
    return SL_OK;
}

static int has_row(MYSQL_RES *r, const char *table, const char *column)
{
    MYSQL_ROW row;
    mysql_data_seek(r, 0);
    while ((row = mysql_fetch_row(r)))
        if (strcmp(row[0], table) == 0 && (!column || (row[1] && strcmp(row[1], column) == 0))) return 1;
    return 0;
}

sl_code my_catalog_missing(MYSQL *m, const my_required_table *req, int nreq, sl_buf *missing, sl_err *err)
{
    MYSQL_RES *r = NULL;
    sl_code rc = SL_OK;
    /* Compare names exactly as MySQL stores them (lower case on most systems). */
    SL_TRY(query_set(m,
                     "SELECT table_name, column_name FROM information_schema.columns "
                     "WHERE table_schema = DATABASE()",
                     &r, err));
    for (int t = 0; t < nreq && rc == SL_OK; t++) {
        if (!has_row(r, req[t].table, NULL)) {
            rc = sl_buf_printf(missing, err, "%stable %s", missing->len ? ", " : "", req[t].table);
            continue;
        }
        for (const char *const *c = req[t].columns; *c && rc == SL_OK; c++)
            if (!has_row(r, req[t].table, *c))
                rc = sl_buf_printf(missing, err, "%scolumn %s.%s", missing->len ? ", " : "", req[t].table, *c);
    }
    mysql_free_result(r);
    if (rc == SL_OK) rc = sl_buf_cstr(missing, err);
    return rc;
}

sl_code my_catalog_row_estimate(MYSQL *m, const char *table, long long *rows, sl_err *err)
{
    char sql[512], esc[300];
    MYSQL_RES *r;
    MYSQL_ROW row;
    if (strlen(table) > 128) return sl_err_set(err, SL_E_USAGE, "table name too long");
    mysql_real_escape_string(m, esc, table, (unsigned long)strlen(table));
    snprintf(sql, sizeof sql,
             "SELECT table_rows FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '%s'",
             esc);
    SL_TRY(query_set(m, sql, &r, err));
    row = mysql_fetch_row(r);
    *rows = row && row[0] ? atoll(row[0]) : -1;
    mysql_free_result(r);
    return SL_OK;
}
