/* run_floor.c - the wire floor of `sluice run`: the least a client must do to receive
 * what the pipeline reads. The same six SELECTs (the columns tf_source_columns names),
 * on connections in parallel grouped as sluice's tasks group them (products, warehouses,
 * inventory | customers, orders, order_items), with libmariadb's prepared statements
 * (binary protocol), rows fetched unbuffered with no result binding and discarded.
 * --connections 3 reads as sluice did before its task model (customers | products,
 * warehouses, inventory | orders, order_items).
 *
 * Usage: run_floor [--connections 2|3]   (settings from MYSQL_HOST, MYSQL_PORT,
 *                          MYSQL_SOCKET, MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD)
 * Prints one line per table (rows, seconds) and a total line. */
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/transform/analytics.h"


static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *env_or(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v && *v ? v : d;
}

typedef struct seq {
    tf_source src[3];
    int n;
    long long rows[3];
    double seconds[3];
    int failed;
} seq;

static MYSQL *connect_db(void)
{
    MYSQL *m = mysql_init(NULL);
    const char *host = env_or("MYSQL_HOST", "127.0.0.1");
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(m, host, env_or("MYSQL_USER", "root"), env_or("MYSQL_PASSWORD", ""),
                            env_or("MYSQL_DATABASE", "sluice"), (unsigned)atoi(env_or("MYSQL_PORT", "3306")),
                            getenv("MYSQL_SOCKET"), 0)) {
        fprintf(stderr, "run_floor: connect: %s\n", mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    /* as sluice's session: UTC, a slow consumer is not dropped */
    if (mysql_query(m, "SET SESSION time_zone = '+00:00', SESSION net_write_timeout = 3600")) {
        fprintf(stderr, "run_floor: %s\n", mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

/* Reads one table; returns its row count, or -1. */
static long long read_table(MYSQL *m, tf_source s)
{
    char sql[1024];
    size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    const char *const *cols = tf_source_columns(s);
    int ncols = 0;
    for (; cols[ncols]; ncols++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s`%s`", ncols ? ", " : "", cols[ncols]);
    snprintf(sql + len, sizeof sql - len, " FROM `%s`", tf_source_name(s));

    MYSQL_STMT *st = mysql_stmt_init(m);
    if (!st || mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql))) goto fail;
    MYSQL_RES *meta = mysql_stmt_result_metadata(st);
    if (!meta || (int)mysql_num_fields(meta) != ncols) goto fail;
    mysql_free_result(meta);
    /* No result binding: Connector/C only steps over each value (sluice reads the same
     * way, decoding the values where they lie; binding would convert every one). */
    if (mysql_stmt_execute(st)) goto fail;
    long long rows = 0;
    int rc;
    while ((rc = mysql_stmt_fetch(st)) == 0) rows++;
    if (rc != MYSQL_NO_DATA) goto fail; /* a lost connection is not the end of the table */
    mysql_stmt_close(st);
    return rows;
fail:
    fprintf(stderr, "run_floor: %s: %s\n", tf_source_name(s), st ? mysql_stmt_error(st) : mysql_error(m));
    if (st) mysql_stmt_close(st);
    return -1;
}

static void *seq_main(void *arg)
{
    seq *q = arg;
    mysql_thread_init();
    MYSQL *m = connect_db();
    if (!m) q->failed = 1;
    for (int i = 0; m && i < q->n; i++) {
        double t0 = now();
        q->rows[i] = read_table(m, q->src[i]);
        q->seconds[i] = now() - t0;
        if (q->rows[i] < 0) q->failed = 1;
    }
    if (m) mysql_close(m);
    mysql_thread_end();
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc == 3 && strcmp(argv[1], "--connections") == 0 ? atoi(argv[2]) : argc == 1 ? 2 : 0;
    if (n != 2 && n != 3) {
        fprintf(stderr, "usage: run_floor [--connections 2|3]\n");
        return 2;
    }
    if (mysql_library_init(0, NULL, NULL)) return 1;
    seq three[3] = {{{TF_CUSTOMERS}, 1, {0}, {0}, 0},
                    {{TF_PRODUCTS, TF_WAREHOUSES, TF_INVENTORY}, 3, {0}, {0}, 0},
                    {{TF_ORDERS, TF_ORDER_ITEMS}, 2, {0}, {0}, 0}};
    seq two[2] = {{{TF_PRODUCTS, TF_WAREHOUSES, TF_INVENTORY}, 3, {0}, {0}, 0},
                  {{TF_CUSTOMERS, TF_ORDERS, TF_ORDER_ITEMS}, 3, {0}, {0}, 0}};
    seq *seqs = n == 3 ? three : two;
    pthread_t th[3];
    double t0 = now();
    for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, seq_main, &seqs[i]);
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
    double total = now() - t0;
    long long all = 0;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        failed |= seqs[i].failed;
        for (int j = 0; j < seqs[i].n; j++) {
            printf("%-12s %10lld rows %8.3f s (connection %d)\n", tf_source_name(seqs[i].src[j]), seqs[i].rows[j],
                   seqs[i].seconds[j], i + 1);
            all += seqs[i].rows[j] > 0 ? seqs[i].rows[j] : 0;
        }
    }
    printf("total        %10lld rows %8.3f s\n", all, total);
    mysql_library_end();
    return failed;
}
