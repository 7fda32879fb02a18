/* wire_floor.c - the floor for `sluice export`'s read speed: the same queries over the
 * same number of connections, read with the least work libmariadb allows (prepared
 * statement, one bound buffer per column, mysql_stmt_fetch, rows discarded), so
 * bench/export_bench.sh can say how much sluice adds on top of the wire.
 *
 * Usage: wire_floor [--partitions N] [--consistency snapshot|none] TABLE...
 * Settings as sluice's (MYSQL_* from the environment or ./.env). Like sluice export, each
 * table is cut into N key ranges by my_plan_partitions on its integer primary key, the
 * N connections share one snapshot, take the (table, range) tasks in the order given
 * (put the biggest table first, as sluice does) and run
 *   SELECT `c1`, `c2`, ... FROM `t` WHERE (<range>)
 * Prints one JSON line: rows per table, total rows, seconds. */
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/common/sl_alloc.h"
#include "../src/common/sl_buf.h"
#include "../src/common/sl_config.h"
#include "../src/mysql/my_catalog.h"
#include "../src/mysql/my_conn.h"
#include "../src/mysql/my_plan.h"

#define SLOT 4096 /* per variable-width column; longer values are truncated (and dropped) */

typedef struct task {
    int table;
    char *sql;
} task;

static task *tasks;
static int ntasks, next_task;
static long long *table_rows;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int failed;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The minimal read of one query: bind, fetch, discard. Returns the row count or -1. */
static long long read_all(MYSQL *m, const char *sql)
{
    MYSQL_STMT *st = mysql_stmt_init(m);
    MYSQL_RES *meta = NULL;
    MYSQL_BIND *b = NULL;
    char *slots = NULL;
    unsigned long *len = NULL;
    my_bool *nul = NULL, *trunc = NULL;
    long long rows = -1;
    unsigned n = 0;
    if (!st || mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) goto out;
    if (!(meta = mysql_stmt_result_metadata(st))) goto out;
    n = mysql_num_fields(meta);
    MYSQL_FIELD *f = mysql_fetch_fields(meta);
    b = calloc(n, sizeof *b);
    slots = calloc(n, SLOT);
    len = calloc(n, sizeof *len);
    nul = calloc(n, sizeof *nul);
    trunc = calloc(n, sizeof *trunc);
    if (!b || !slots || !len || !nul || !trunc) goto out;
    for (unsigned i = 0; i < n; i++) {
        /* The same client-side conversions sluice asks for: integers as 8 bytes,
         * floats as themselves, temporals as MYSQL_TIME, the rest as bytes. */
        switch (f[i].type) {
        case MYSQL_TYPE_TINY: case MYSQL_TYPE_SHORT: case MYSQL_TYPE_INT24: case MYSQL_TYPE_LONG:
        case MYSQL_TYPE_LONGLONG: case MYSQL_TYPE_YEAR:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].is_unsigned = (f[i].flags & UNSIGNED_FLAG) != 0;
            break;
        case MYSQL_TYPE_FLOAT: b[i].buffer_type = MYSQL_TYPE_FLOAT; break;
        case MYSQL_TYPE_DOUBLE: b[i].buffer_type = MYSQL_TYPE_DOUBLE; break;
        case MYSQL_TYPE_DATE: case MYSQL_TYPE_NEWDATE: b[i].buffer_type = MYSQL_TYPE_DATE; break;
        case MYSQL_TYPE_TIME: b[i].buffer_type = MYSQL_TYPE_TIME; break;
        case MYSQL_TYPE_DATETIME: case MYSQL_TYPE_TIMESTAMP: b[i].buffer_type = MYSQL_TYPE_DATETIME; break;
        case MYSQL_TYPE_DECIMAL: case MYSQL_TYPE_NEWDECIMAL: b[i].buffer_type = MYSQL_TYPE_STRING; break;
        default: b[i].buffer_type = MYSQL_TYPE_BLOB; break;
        }
        b[i].buffer = slots + (size_t)i * SLOT;
        b[i].buffer_length = SLOT;
        b[i].length = &len[i];
        b[i].is_null = &nul[i];
        b[i].error = &trunc[i];
    }
    if (mysql_stmt_execute(st) != 0 || mysql_stmt_bind_result(st, b) != 0) goto out;
    rows = 0;
    for (;;) {
        int rc = mysql_stmt_fetch(st);
        if (rc == MYSQL_NO_DATA) break;
        if (rc == 1) {
            /* Connector/C keeps a failed row read's error on the connection. */
            fprintf(stderr, "wire_floor: fetch failed after %lld rows: %s (error %u)\n", rows,
                    mysql_stmt_errno(st) ? mysql_stmt_error(st) : mysql_error(m),
                    mysql_stmt_errno(st) ? mysql_stmt_errno(st) : mysql_errno(m));
            rows = -1;
            goto out;
        }
        rows++; /* rc 0 or MYSQL_DATA_TRUNCATED: the row is discarded either way */
    }
out:
    if (rows < 0 && st && mysql_stmt_errno(st))
        fprintf(stderr, "wire_floor: %s: %s\n", sql, mysql_stmt_error(st));
    if (meta) mysql_free_result(meta);
    if (st) mysql_stmt_close(st);
    free(b);
    free(slots);
    free(len);
    free(nul);
    free(trunc);
    return rows;
}

static void *worker(void *arg)
{
    MYSQL *m = arg;
    mysql_thread_init();
    for (;;) {
        pthread_mutex_lock(&mu);
        int k = !failed && next_task < ntasks ? next_task++ : -1;
        pthread_mutex_unlock(&mu);
        if (k < 0) break;
        long long r = read_all(m, tasks[k].sql);
        pthread_mutex_lock(&mu);
        if (r < 0) failed = 1;
        else table_rows[tasks[k].table] += r;
        pthread_mutex_unlock(&mu);
    }
    mysql_thread_end();
    return NULL;
}

/* "SELECT `a`, `b` FROM `t`" with the columns in ordinal order, as sluice builds it. */
static char *select_of(MYSQL *m, const char *table, char **key, sl_err *err)
{
    my_column_info *cols = NULL;
    int ncols = 0;
    char q[600];
    sl_buf sql;
    sl_buf_init(&sql, 0);
    if (my_catalog_columns(m, table, &cols, &ncols, err) != SL_OK) return NULL;
    sl_buf_append(&sql, "SELECT ", 7, err);
    for (int i = 0; i < ncols; i++) {
        my_quote_ident(cols[i].name, q, sizeof q, err);
        if (i) sl_buf_append(&sql, ", ", 2, err);
        sl_buf_append(&sql, q, strlen(q), err);
    }
    my_quote_ident(table, q, sizeof q, err);
    sl_buf_printf(&sql, err, " FROM %s", q);
    sl_buf_cstr(&sql, err);
    const char *k = my_catalog_partition_key(cols, ncols);
    *key = k ? strdup(k) : NULL;
    my_columns_free(cols, ncols);
    return (char *)sql.data;
}

int main(int argc, char **argv)
{
    int nparts = 2, ntables = 0;
    my_consistency mode = MY_SNAPSHOT;
    const char **tables = calloc((size_t)argc, sizeof *tables);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc) nparts = atoi(argv[++i]);
        else if (strcmp(argv[i], "--consistency") == 0 && i + 1 < argc)
            mode = strcmp(argv[++i], "none") == 0 ? MY_NONE : MY_SNAPSHOT;
        else tables[ntables++] = argv[i];
    }
    if (ntables == 0 || nparts < 1 || nparts > 256) {
        fprintf(stderr, "usage: wire_floor [--partitions N] [--consistency snapshot|none] TABLE...\n");
        return 2;
    }
    sl_err err = {0};
    sl_config *cfg = sl_config_create(&err);
    my_params mp;
    MYSQL *ctl;
    if (!cfg || my_params_from_config(cfg, &mp, 0, &err) != SL_OK || !(ctl = my_connect(&mp, 0, &err))) {
        fprintf(stderr, "wire_floor: %s\n", err.msg);
        return 1;
    }
    double t0 = now();
    /* The plan, on a control connection, as sluice makes it. */
    tasks = calloc((size_t)ntables * (size_t)nparts, sizeof *tasks);
    table_rows = calloc((size_t)ntables, sizeof *table_rows);
    for (int t = 0; t < ntables; t++) {
        char *key = NULL, qk[600], cond[2200];
        char *base = select_of(ctl, tables[t], &key, &err);
        my_range *r = NULL;
        int nr = 1;
        if (!base) {
            fprintf(stderr, "wire_floor: %s\n", err.msg);
            return 1;
        }
        if (key && nparts > 1 && my_plan_partitions(ctl, tables[t], key, nparts, &r, &nr, &err) != SL_OK) {
            fprintf(stderr, "wire_floor: %s\n", err.msg);
            return 1;
        }
        for (int p = 0; p < nr; p++) {
            size_t cap = strlen(base) + 2300;
            char *sql = malloc(cap);
            if (r && (r[p].has_lo || r[p].has_hi)) {
                my_quote_ident(key, qk, sizeof qk, &err);
                my_range_where(&r[p], qk, cond, sizeof cond);
                snprintf(sql, cap, "%s WHERE (%s)", base, cond);
            } else {
                snprintf(sql, cap, "%s", base);
            }
            tasks[ntasks++] = (task){t, sql};
        }
        sl_free(r);
        free(key);
        free(base);
    }
    my_close(ctl);
    int nconn = nparts < ntasks ? nparts : ntasks;
    MYSQL **conns = calloc((size_t)nconn, sizeof *conns);
    for (int i = 0; i < nconn; i++)
        if (!(conns[i] = my_connect(&mp, 0, &err))) {
            fprintf(stderr, "wire_floor: %s\n", err.msg);
            return 1;
        }
    if (my_snapshot_begin(conns, nconn, mode, &err) != SL_OK) {
        fprintf(stderr, "wire_floor: %s\n", err.msg);
        return 1;
    }
    pthread_t *th = calloc((size_t)nconn, sizeof *th);
    for (int i = 0; i < nconn; i++) pthread_create(&th[i], NULL, worker, conns[i]);
    for (int i = 0; i < nconn; i++) pthread_join(th[i], NULL);
    double secs = now() - t0;
    long long total = 0;
    printf("{\"connections\": %d, \"tasks\": %d, \"tables\": {", nconn, ntasks);
    for (int t = 0; t < ntables; t++) {
        printf("%s\"%s\": %lld", t ? ", " : "", tables[t], table_rows[t]);
        total += table_rows[t];
    }
    printf("}, \"rows\": %lld, \"seconds\": %.3f}\n", total, secs);
    for (int i = 0; i < nconn; i++) my_close(conns[i]);
    for (int i = 0; i < ntasks; i++) free(tasks[i].sql);
    free(tasks);
    free(table_rows);
    free(conns);
    free(th);
    free(tables);
    sl_config_free(cfg);
    return failed ? 1 : 0;
}
