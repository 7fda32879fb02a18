/* wire_floor.c - the floor for `sluice export`'s read speed: the same rows over the
 * same number of connections, planned and read with the least work libmariadb allows,
 * so bench/export_bench.sh can say how much sluice adds on top of the wire.
 *
 * Usage: wire_floor [--partitions N] [--consistency snapshot|none] TABLE...
 * Settings as sluice's (MYSQL_* from the environment or ./.env). The plan is the
 * cheapest one there is: MIN and MAX of each table's integer primary key, cut into N
 * ranges of equal key width (on a dense key, equal rows). The N connections share one
 * snapshot, take the (table, range) tasks in the order given (put the biggest table
 * first, as sluice does) and run
 *   SELECT `c1`, `c2`, ... FROM `t` WHERE `key` BETWEEN lo AND hi
 * through a prepared statement (binary protocol) and a mysql_stmt_fetch loop with no
 * result binding, so Connector/C only steps over each value, and drops the rows (sluice
 * reads the same way and decodes the values where they lie). Prints one JSON line: rows per table, total
 * rows, planning seconds, seconds. */
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

/* The minimal read of one query: fetch, discard. Returns the row count or -1. */
static long long read_all(MYSQL *m, const char *sql)
{
    MYSQL_STMT *st = mysql_stmt_init(m);
    long long rows = -1;
    if (!st || mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql)) != 0) goto out;
    if (mysql_stmt_execute(st) != 0) goto out;
    rows = 0;
    for (;;) {
        int rc = mysql_stmt_fetch(st);
        if (rc == MYSQL_NO_DATA) break;
        if (rc != 0) {
            /* Connector/C keeps a failed row read's error on the connection. */
            fprintf(stderr, "wire_floor: fetch failed after %lld rows: %s (error %u)\n", rows,
                    mysql_stmt_errno(st) ? mysql_stmt_error(st) : mysql_error(m),
                    mysql_stmt_errno(st) ? mysql_stmt_errno(st) : mysql_errno(m));
            rows = -1;
            goto out;
        }
        rows++;
    }
out:
    if (rows < 0 && st && mysql_stmt_errno(st))
        fprintf(stderr, "wire_floor: %s: %s\n", sql, mysql_stmt_error(st));
    if (st) mysql_stmt_close(st);
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
    /* The plan, on a control connection: the columns, MIN/MAX of the key. */
    tasks = calloc((size_t)ntables * (size_t)nparts, sizeof *tasks);
    table_rows = calloc((size_t)ntables, sizeof *table_rows);
    for (int t = 0; t < ntables; t++) {
        char *key = NULL, qk[600], cond[2200];
        char *base = select_of(ctl, tables[t], &key, &err);
        if (!base) {
            fprintf(stderr, "wire_floor: %s\n", err.msg);
            return 1;
        }
        long long lo = 0, hi = -1;
        if (key) {
            char q[2000], qt[600];
            my_quote_ident(key, qk, sizeof qk, &err);
            my_quote_ident(tables[t], qt, sizeof qt, &err);
            snprintf(q, sizeof q, "SELECT MIN(%s), MAX(%s) FROM %s", qk, qk, qt);
            MYSQL_RES *res = NULL;
            MYSQL_ROW row;
            if (mysql_query(ctl, q) != 0 || !(res = mysql_store_result(ctl))) {
                fprintf(stderr, "wire_floor: %s: %s\n", q, mysql_error(ctl));
                return 1;
            }
            if ((row = mysql_fetch_row(res)) && row[0] && row[1]) {
                lo = atoll(row[0]);
                hi = atoll(row[1]);
            }
            mysql_free_result(res);
        }
        int nr = key && hi >= lo ? nparts : 1;
        for (int p = 0; p < nr; p++) {
            size_t cap = strlen(base) + 2300;
            char *sql = malloc(cap);
            if (key && hi >= lo) {
                /* range p of nr equal key widths; the last ends at MAX */
                __int128 w = (__int128)hi - lo + 1;
                long long a = (long long)(lo + w * p / nr), b = (long long)(lo + w * (p + 1) / nr - 1);
                snprintf(cond, sizeof cond, "%s BETWEEN %lld AND %lld", qk, a, b);
                snprintf(sql, cap, "%s WHERE %s", base, cond);
            } else {
                snprintf(sql, cap, "%s", base);
            }
            tasks[ntasks++] = (task){t, sql};
        }
        free(key);
        free(base);
    }
    double plan_secs = now() - t0;
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
    printf("}, \"rows\": %lld, \"plan_seconds\": %.4f, \"seconds\": %.3f}\n", total, plan_secs, secs);
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
