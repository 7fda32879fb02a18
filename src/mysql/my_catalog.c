/* my_catalog.c - the source schema contract and its check against
 * information_schema of the connected database. */
#include "my_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
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

sl_code my_catalog_has_privilege(MYSQL *m, const char *priv, int *has, sl_err *err)
{
    char sql[600], esc[80];
    MYSQL_RES *r;
    MYSQL_ROW row;
    if (strlen(priv) > 32) return sl_err_set(err, SL_E_USAGE, "privilege name too long");
    mysql_real_escape_string(m, esc, priv, (unsigned long)strlen(priv));
    /* USER_PRIVILEGES names grantees as 'user'@'host'; CURRENT_USER() is user@host. */
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = '%s' AND GRANTEE = "
             "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', "
             "-1), '''')",
             esc);
    SL_TRY(query_set(m, sql, &r, err));
    row = mysql_fetch_row(r);
    *has = row && row[0] && atoll(row[0]) > 0;
    mysql_free_result(r);
    return SL_OK;
}

void my_names_free(char **names, int count)
{
    for (int i = 0; names && i < count; i++) sl_free(names[i]);
    sl_free(names);
}

sl_code my_catalog_tables(MYSQL *m, char ***names, int *count, sl_err *err)
{
    MYSQL_RES *r;
    MYSQL_ROW row;
    *names = NULL;
    *count = 0;
    SL_TRY(query_set(m,
                     "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                     "AND table_type = 'BASE TABLE' ORDER BY table_name",
                     &r, err));
    unsigned long long n = mysql_num_rows(r);
    char **out = sl_calloc(n ? n : 1, sizeof *out);
    if (!out) {
        mysql_free_result(r);
        return sl_err_set(err, SL_E_NOMEM, "out of memory listing tables");
    }
    int k = 0;
    while ((row = mysql_fetch_row(r))) {
        if (!(out[k] = sl_strdup(row[0] ? row[0] : ""))) {
            mysql_free_result(r);
            my_names_free(out, k);
            return sl_err_set(err, SL_E_NOMEM, "out of memory listing tables");
        }
        k++;
    }
    mysql_free_result(r);
    *names = out;
    *count = k;
    return SL_OK;
}

void my_columns_free(my_column_info *cols, int count)
{
    for (int i = 0; cols && i < count; i++) {
        sl_free(cols[i].name);
        sl_free(cols[i].data_type);
        sl_free(cols[i].column_type);
    }
    sl_free(cols);
}

sl_code my_catalog_columns(MYSQL *m, const char *table, my_column_info **cols, int *count, sl_err *err)
{
    char sql[1024], esc[520];
    MYSQL_RES *r;
    MYSQL_ROW row;
    *cols = NULL;
    *count = 0;
    if (strlen(table) > 256) return sl_err_set(err, SL_E_USAGE, "table name too long: %.64s...", table);
    mysql_real_escape_string(m, esc, table, (unsigned long)strlen(table));
    snprintf(sql, sizeof sql,
             "SELECT column_name, data_type, column_type, column_key FROM information_schema.columns "
             "WHERE table_schema = DATABASE() AND table_name = '%s' ORDER BY ordinal_position",
             esc);
    SL_TRY(query_set(m, sql, &r, err));
    unsigned long long n = mysql_num_rows(r);
    if (n == 0) {
        mysql_free_result(r);
        return sl_err_set(err, SL_E_SCHEMA, "table %s does not exist in the database", table);
    }
    my_column_info *out = sl_calloc(n, sizeof *out);
    int k = 0;
    sl_code rc = out ? SL_OK : SL_E_NOMEM;
    while (rc == SL_OK && (row = mysql_fetch_row(r))) {
        out[k].name = sl_strdup(row[0] ? row[0] : "");
        out[k].data_type = sl_strdup(row[1] ? row[1] : "");
        out[k].column_type = sl_strdup(row[2] ? row[2] : "");
        out[k].primary = row[3] && strcmp(row[3], "PRI") == 0;
        k++;
        if (!out[k - 1].name || !out[k - 1].data_type || !out[k - 1].column_type) rc = SL_E_NOMEM;
    }
    mysql_free_result(r);
    if (rc != SL_OK) {
        my_columns_free(out, k);
        return sl_err_set(err, SL_E_NOMEM, "out of memory reading the columns of %s", table);
    }
    *cols = out;
    *count = k;
    return SL_OK;
}

int my_catalog_int_key_type(const my_column_info *c)
{
    static const char *const ints[] = {"tinyint", "smallint", "mediumint", "int", "bigint"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(c->data_type, ints[i]) == 0)
            return i == 4 && strstr(c->column_type, "unsigned") ? 2 : 1;
    return 0;
}

const char *my_catalog_partition_key(const my_column_info *cols, int count)
{
    const my_column_info *pk = NULL;
    for (int i = 0; i < count; i++) {
        if (!cols[i].primary) continue;
        if (pk) return NULL; /* composite key */
        pk = &cols[i];
    }
    return pk && my_catalog_int_key_type(pk) ? pk->name : NULL;
}

sl_code my_catalog_key_fits(MYSQL *m, const char *table, const char *column, int *fits, sl_err *err)
{
    char qt[600], qc[600], sql[1400];
    MYSQL_RES *r;
    MYSQL_ROW row;
    SL_TRY(my_quote_ident(table, qt, sizeof qt, err));
    SL_TRY(my_quote_ident(column, qc, sizeof qc, err));
    snprintf(sql, sizeof sql, "SELECT MAX(%s) <= 9223372036854775807 FROM %s", qc, qt);
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0 || !(r = mysql_store_result(m)))
        return my_error(m, err, "checking the key range of a table");
    row = mysql_fetch_row(r);
    *fits = !row || !row[0] || strcmp(row[0], "1") == 0; /* an empty table fits */
    mysql_free_result(r);
    return SL_OK;
}
