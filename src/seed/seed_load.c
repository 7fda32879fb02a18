/* seed_load.c - loads the generator's rows into MySQL/MariaDB: creates the source
 * schema if absent (init/ SQL files, compiled in), then streams each table through
 * LOAD DATA LOCAL INFILE with Connector/C's local-infile handler, so rows go from
 * the generator to the server without a temporary file. */
#include "seed_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../common/sl_log.h"
#include "../common/sl_time.h"
#include "../mysql/my_conn.h"

/* build/gen/schema_sql.h: init/01_schema.sql and init/02_additional_tables.sql as one
 * C string (see the Makefile), so the binary needs no file from the source tree. */
static const char schema_sql[] =
#include "schema_sql.h"
    ;

#define FILL_BUF (256 * 1024)

sl_code seed_create_schema(MYSQL *m, sl_err *err)
{
    const char *p = schema_sql;
    char *stmt = sl_malloc(sizeof schema_sql);
    sl_code rc = SL_OK;
    if (!stmt) return sl_err_set(err, SL_E_NOMEM, "out of memory reading the schema");
    while (*p && rc == SL_OK) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p), j = 0;
        int has_sql = 0;
        /* Drop "-- comment" lines; run what is left if anything. */
        for (const char *q = p; q < p + n;) {
            const char *nl = memchr(q, '\n', (size_t)(p + n - q));
            size_t len = nl ? (size_t)(nl - q) + 1 : (size_t)(p + n - q);
            const char *t = q;
            while (t < q + len && (*t == ' ' || *t == '\t')) t++;
            if (!(t + 1 < q + len && t[0] == '-' && t[1] == '-')) {
                memcpy(stmt + j, q, len);
                j += len;
                for (const char *c = q; c < q + len; c++) has_sql |= !(*c == ' ' || *c == '\n' || *c == '\t' || *c == '\r');
            }
            q += len;
        }
        stmt[j] = '\0';
        if (has_sql) rc = my_exec(m, stmt, err);
        p = end ? end + 1 : p + n;
    }
    sl_free(stmt);
    if (rc != SL_OK) sl_err_prefix(err, "creating the source schema: ");
    return rc;
}

/* ---- the local-infile handler: the generator is the "file" ----------- */

typedef struct feed {
    seed_cursor cur;
    char *buf;
    size_t len, pos;
    double last_report, started;
    int tty;
} feed;

static int feed_init(void **ptr, const char *filename, void *userdata)
{
    (void)filename;
    *ptr = userdata;
    return 0;
}

static void feed_progress(feed *f, int final)
{
    double now = sl_mono_seconds();
    const char *name = seed_table_name(f->cur.table);
    if (!final && now - f->last_report < 2.0) return;
    f->last_report = now;
    if (sl_log_get_level() < SL_LOG_INFO) return;
    if (final)
        sl_info("seed: %-11s %10llu rows in %.1f s", name, (unsigned long long)f->cur.rows, now - f->started);
    else
        sl_info("seed: %-11s %10llu rows, %3.0f%% ...", name, (unsigned long long)f->cur.rows,
                f->cur.units ? 100.0 * (double)(f->cur.unit - 1) / (double)f->cur.units : 100.0);
}

static int feed_read(void *ptr, char *out, unsigned int cap)
{
    feed *f = ptr;
    size_t n;
    if (f->pos == f->len) {
        f->len = seed_cursor_fill(&f->cur, f->buf, FILL_BUF);
        f->pos = 0;
        feed_progress(f, 0);
        if (f->len == 0) return 0;
    }
    n = f->len - f->pos;
    if (n > cap) n = cap;
    memcpy(out, f->buf + f->pos, n);
    f->pos += n;
    return (int)n;
}

static void feed_end(void *ptr) { (void)ptr; }

static int feed_error(void *ptr, char *msg, unsigned int len)
{
    (void)ptr;
    snprintf(msg, len, "sluice seed: generator error");
    return 1;
}

static sl_code table_row_count(MYSQL *m, const char *table, long long *rows, sl_err *err)
{
    char sql[256];
    MYSQL_RES *res;
    MYSQL_ROW row;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM (SELECT 1 FROM `%s` LIMIT 1) t", table);
    if (mysql_query(m, sql) != 0) return my_error(m, err, table);
    res = mysql_store_result(m);
    if (!res) return my_error(m, err, table);
    row = mysql_fetch_row(res);
    *rows = row && row[0] ? atoll(row[0]) : 0;
    mysql_free_result(res);
    return SL_OK;
}

static sl_code load_table(MYSQL *m, const seed_params *p, seed_table t, sl_err *err)
{
    char sql[512];
    feed f;
    my_ulonglong affected;
    memset(&f, 0, sizeof f);
    seed_cursor_init(&f.cur, p, t);
    f.buf = sl_malloc(FILL_BUF);
    if (!f.buf) return sl_err_set(err, SL_E_NOMEM, "out of memory for the seed buffer");
    f.started = f.last_report = sl_mono_seconds();
    mysql_set_local_infile_handler(m, feed_init, feed_read, feed_end, feed_error, &f);
    snprintf(sql, sizeof sql,
             "LOAD DATA LOCAL INFILE 'sluice-seed-%s' INTO TABLE `%s` CHARACTER SET utf8mb4 "
             "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (%s)",
             seed_table_name(t), seed_table_name(t), seed_table_columns(t));
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0) {
        sl_code rc = my_error(m, err, "LOAD DATA LOCAL INFILE");
        sl_err_prefix(err, "loading table %s (the server needs local_infile=ON): ", seed_table_name(t));
        mysql_set_local_infile_default(m);
        sl_free(f.buf);
        return rc;
    }
    affected = mysql_affected_rows(m);
    mysql_set_local_infile_default(m);
    sl_free(f.buf);
    if (mysql_warning_count(m) > 0) {
        /* A warning means a value was changed on the way in: the data is not what we made. */
        MYSQL_RES *res;
        MYSQL_ROW row;
        char first[400] = "";
        if (mysql_query(m, "SHOW WARNINGS LIMIT 1") == 0 && (res = mysql_store_result(m)) != NULL) {
            if ((row = mysql_fetch_row(res)) != NULL && row[2]) snprintf(first, sizeof first, "%s", row[2]);
            mysql_free_result(res);
        }
        return sl_err_set(err, SL_E_DB, "loading table %s: the server changed %u value(s): %s", seed_table_name(t),
                          mysql_warning_count(m), first);
    }
    if (affected != f.cur.rows)
        return sl_err_set(err, SL_E_DB, "loading table %s: sent %llu rows, the server stored %llu",
                          seed_table_name(t), (unsigned long long)f.cur.rows, (unsigned long long)affected);
    feed_progress(&f, 1);
    return SL_OK;
}

sl_code seed_load(MYSQL *m, const seed_params *p, int replace, sl_err *err)
{
    seed_counts c;
    char sql[256];
    SL_TRY(seed_create_schema(m, err));
    for (int t = 0; t < SEED__COUNT; t++) {
        long long rows = 0;
        SL_TRY(table_row_count(m, seed_table_name((seed_table)t), &rows, err));
        if (rows > 0 && !replace)
            return sl_err_set(err, SL_E_CONFIG,
                              "table %s already holds rows; seed an empty database or pass --replace "
                              "to empty the six source tables first",
                              seed_table_name((seed_table)t));
    }
    SL_TRY(my_exec(m, "SET SESSION foreign_key_checks = 0, SESSION unique_checks = 0, SESSION sql_mode = "
                      "'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'", err));
    if (replace) {
        for (int t = 0; t < SEED__COUNT; t++) {
            snprintf(sql, sizeof sql, "TRUNCATE TABLE `%s`", seed_table_name((seed_table)t));
            SL_TRY(my_exec(m, sql, err));
        }
    }
    seed_counts_compute(p, &c);
    sl_info("seed: scale %g, seed %llu: %llu customers, %llu products, %llu warehouses, %llu orders", p->scale,
            (unsigned long long)p->seed, (unsigned long long)c.customers, (unsigned long long)c.products,
            (unsigned long long)c.warehouses, (unsigned long long)c.orders);
    for (int t = 0; t < SEED__COUNT; t++) SL_TRY(load_table(m, p, (seed_table)t, err));
    return SL_OK;
}
