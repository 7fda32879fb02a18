/* run_floor.c - the wire floor of `sluice run`: the least a client must do to receive
 * what the pipeline reads. The same six SELECTs (the columns tf_source_columns names),
 * on connections in parallel grouped as sluice's tasks group them, with libmariadb's
 * prepared statements (binary protocol), rows fetched unbuffered with no result binding
 * and discarded. The layouts:
 *   run    (default) as `sluice run` reads: products, warehouses, inventory | customers,
 *          orders | the items of the sales window's orders (orders STRAIGHT_JOIN
 *          order_items on order_id, order_date in (as_of - window, as_of], the query of
 *          src/exec/run.c), the last beside the orders;
 *   two    as sluice read before the window's items came beside the orders: products,
 *          warehouses, inventory | customers, orders, every order_items row;
 *   three  as sluice read before its task model: customers | products, warehouses,
 *          inventory | orders, every order_items row.
 *
 * Usage: run_floor [--layout run|two|three] [--as-of 'YYYY-MM-DD HH:MM:SS']
 *                  [--window-days N]   (default as-of 2026-11-30 18:00:00, 30 days;
 *        settings from MYSQL_HOST, MYSQL_PORT, MYSQL_SOCKET, MYSQL_DATABASE, MYSQL_USER,
 *        MYSQL_PASSWORD)
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
    int window; /* its order_items are the window's (the layout "run") */
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

static char window_from[32], window_to[32]; /* the window's bounds, as SQL literals */

/* Reads one table (window: the window's items); returns its row count, or -1. */
static long long read_table(MYSQL *m, tf_source s, int window)
{
    char sql[1024];
    size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    const char *const *cols = tf_source_columns(s);
    int ncols = 0;
    for (; cols[ncols]; ncols++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s%s`%s`", ncols ? ", " : "", window ? "oi." : "",
                                cols[ncols]);
    if (window)
        snprintf(sql + len, sizeof sql - len,
                 " FROM `orders` o STRAIGHT_JOIN `order_items` oi ON oi.`order_id` = o.`order_id` WHERE "
                 "o.`order_date` > '%s' AND o.`order_date` <= '%s'", window_from, window_to);
    else snprintf(sql + len, sizeof sql - len, " FROM `%s`", tf_source_name(s));

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
        q->rows[i] = read_table(m, q->src[i], q->window && q->src[i] == TF_ORDER_ITEMS);
        q->seconds[i] = now() - t0;
        if (q->rows[i] < 0) q->failed = 1;
    }
    if (m) mysql_close(m);
    mysql_thread_end();
    return NULL;
}

int main(int argc, char **argv)
{
    const char *layout = "run", *as_of = "2026-11-30 18:00:00";
    int days = 30, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--layout") == 0) layout = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--as-of") == 0) as_of = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--window-days") == 0) days = atoi(argv[++i]);
        else bad = 1;
    }
    struct tm tm = {0};
    if (!bad && sscanf(as_of, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                       &tm.tm_sec) != 6)
        bad = 1;
    if (bad || days < 1 || (strcmp(layout, "run") && strcmp(layout, "two") && strcmp(layout, "three"))) {
        fprintf(stderr, "usage: run_floor [--layout run|two|three] [--as-of 'YYYY-MM-DD HH:MM:SS'] "
                        "[--window-days N]\n");
        return 2;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t to = timegm(&tm), from = to - (time_t)days * 86400;
    struct tm ft;
    gmtime_r(&from, &ft);
    strftime(window_from, sizeof window_from, "%Y-%m-%d %H:%M:%S", &ft);
    strftime(window_to, sizeof window_to, "%Y-%m-%d %H:%M:%S", &tm);
    if (mysql_library_init(0, NULL, NULL)) return 1;
    seq run[3] = {{{TF_PRODUCTS, TF_WAREHOUSES, TF_INVENTORY}, 3, 0, {0}, {0}, 0},
                  {{TF_CUSTOMERS, TF_ORDERS}, 2, 0, {0}, {0}, 0},
                  {{TF_ORDER_ITEMS}, 1, 1, {0}, {0}, 0}};
    seq three[3] = {{{TF_CUSTOMERS}, 1, 0, {0}, {0}, 0},
                    {{TF_PRODUCTS, TF_WAREHOUSES, TF_INVENTORY}, 3, 0, {0}, {0}, 0},
                    {{TF_ORDERS, TF_ORDER_ITEMS}, 2, 0, {0}, {0}, 0}};
    seq two[2] = {{{TF_PRODUCTS, TF_WAREHOUSES, TF_INVENTORY}, 3, 0, {0}, {0}, 0},
                  {{TF_CUSTOMERS, TF_ORDERS, TF_ORDER_ITEMS}, 3, 0, {0}, {0}, 0}};
    seq *seqs = layout[0] == 'r' ? run : strcmp(layout, "three") == 0 ? three : two;
    int n = seqs == two ? 2 : 3;
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
