/* run.c - `sluice run` (see run.h) in the task model of task.h.
 *
 * Plan: the sources checked, their row estimates, and the tasks: the inventory side
 * (products, warehouses, inventory: inventory_analytics and warehouse_utilization) and
 * the orders side in customer-id ranges, one task per range (its customers, their
 * orders, those orders' items: its rows of order_analytics). The shards exchange their
 * customers' totals, so each applies the VIP threshold of all customers; everything else
 * they pass on are sums, which the commit merges exactly into hourly_orders,
 * customer_segments and product_turnover before it writes the _SUCCESS of the date
 * (after the raw tables' partitions, with --raw). */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"
#include "../common/sl_log.h"
#include "../common/sl_stop.h"
#include "../common/sl_time.h"
#include "../mysql/my_catalog.h"
#include "../mysql/my_conn.h"
#include "../mysql/my_reader.h"
#include "../report/report.h"
#include "../sink/commit.h"
#include "../sink/store.h"
#include "dryrun.h"
#include "exec.h"
#include "metrics.h"
#include "pack.h"
#include "task_int.h"

void sl_run_opts_default(sl_run_opts *o)
{
    memset(o, 0, sizeof *o);
    tf_params_default(&o->tf);
    o->consistency = MY_SNAPSHOT;
    my_lock_opts_default(&o->lock);
    pq_options_default(&o->pq);
    o->pq.row_group_size = (size_t)64 << 20;
    o->batch_rows = 16384;
    o->shards = 1;
    o->wide_decimal_string = 1;
}

/* ---------------------------------------------------------------------------------- */
/* the plan */

static sl_code check_sources(MYSQL *m, sl_err *err)
{
    my_required_table req[TF__SOURCES];
    for (int s = 0; s < TF__SOURCES; s++) req[s] = (my_required_table){tf_source_name(s), tf_source_columns(s)};
    sl_buf missing;
    sl_buf_init(&missing, 0);
    sl_code rc = my_catalog_missing(m, req, TF__SOURCES, &missing, err);
    if (rc == SL_OK && missing.len)
        rc = sl_err_set(err, SL_E_SCHEMA, "the source database lacks what the pipeline reads: %s", (char *)missing.data);
    sl_buf_free(&missing);
    return rc;
}

/* SELECT of source s: its columns (every column with --raw), for the customer-id range r
 * of the orders side when r is given. order_items come through their order: with --raw
 * every item (in a range: those whose order is missing or has no customer in the range
 * without lower bound, which also takes NULL keys); otherwise only the items of the orders
 * inside the sales window, the only ones the analytics count (order_date in
 * (as_of - window, as_of], the bounds add_orders applies, which still checks each item's
 * order), read through the orders' date index and the items' order_id index instead of
 * every item: the read can then run beside the orders' (rn_items). */
static sl_code source_sql(tf_source s, int raw, const my_range *r, const tf_params *tf, sl_buf *sql, sl_err *err)
{
    char q[600];
    int items = s == TF_ORDER_ITEMS && (r || !raw);
    sql->len = 0;
    SL_TRY(sl_buf_append(sql, "SELECT ", 7, err));
    if (raw) {
        SL_TRY(sl_buf_printf(sql, err, "%s*", items ? "oi." : ""));
    } else {
        const char *const *cols = tf_source_columns(s);
        for (int i = 0; cols[i]; i++) {
            SL_TRY(my_quote_ident(cols[i], q, sizeof q, err));
            SL_TRY(sl_buf_printf(sql, err, "%s%s%s", i ? ", " : "", items ? "oi." : "", q));
        }
    }
    SL_TRY(my_quote_ident(tf_source_name(s), q, sizeof q, err));
    if (!(items && !raw)) SL_TRY(sl_buf_printf(sql, err, " FROM %s", q));
    const char *and = " WHERE ";
    if (items && !raw) {
        /* From the window's orders (an index range) to their items (by the items'
         * order_id index): left to itself the optimizer may walk every item and look its
         * order up, minutes at a few tens of millions of items. */
        SL_TRY(sl_buf_printf(sql, err, " FROM `orders` o STRAIGHT_JOIN %s oi ON oi.`order_id` = o.`order_id`", q));
    }
    if (r) {
        char cond[300];
        if (items && raw) {
            SL_TRY(sl_buf_printf(sql, err, " oi LEFT JOIN `orders` o ON o.`order_id` = oi.`order_id`"));
            my_range_where(r, "o.`customer_id`", cond, sizeof cond);
        } else if (items) {
            my_range_where(r, "o.`customer_id` + 0", cond, sizeof cond);
        } else {
            /* orders: "+ 0" keeps the optimizer off the customer_id index, whose range of a
             * shard (a half, a third of the table) it would read row by row through the
             * primary key, several times slower than the scan it then filters (measured at
             * scale 5 on two customer-id halves: 18 s against 8.6 s) */
            my_range_where(r, s == TF_CUSTOMERS ? "`customer_id`" : "`customer_id` + 0", cond, sizeof cond);
        }
        SL_TRY(sl_buf_printf(sql, err, "%s%s", and, cond));
        and = " AND ";
    }
    if (items && !raw) {
        /* DATETIME holds years 1000-9999: a bound outside them bounds nothing */
        int64_t from = tf->as_of_us - (int64_t)tf->window_days * SL_US_PER_DAY;
        char t[40];
        if (from >= sl_ts_make(1000, 1, 1, 0, 0, 0, 0)) {
            sl_ts_format(from, t, sizeof t);
            SL_TRY(sl_buf_printf(sql, err, "%so.`order_date` > '%s'", and, t));
            and = " AND ";
        }
        if (tf->as_of_us < sl_ts_make(10000, 1, 1, 0, 0, 0, 0)) {
            sl_ts_format(tf->as_of_us, t, sizeof t);
            SL_TRY(sl_buf_printf(sql, err, "%so.`order_date` <= '%s'", and, t));
        }
    }
    return sl_buf_cstr(sql, err);
}

static json_t *params_json(const tf_params *tf)
{
    json_t *ex = json_array();
    for (int i = 0; i < tf->nexclude; i++) json_array_append_new(ex, json_string(tf->exclude_status[i]));
    char asof[40];
    sl_ts_format(tf->as_of_us, asof, sizeof asof);
    return json_pack("{s:s, s:o, s:f, s:f, s:f, s:i, s:f}", "as_of", asof, "exclude_status", ex, "restock_below",
                     tf->restock_below, "overstock_above", tf->overstock_above, "optimal_utilization", tf->optimal,
                     "sales_window_days", tf->window_days, "vip_percentile", tf->vip_percentile);
}

static sl_code add_task(json_t *tasks, const char *label, const char *kind, int shard, int nshards,
                        const tf_source *srcs, int n, int raw, const my_range *r, const my_range *passes, int npasses,
                        const tf_params *tf, sl_buf *sql, sl_err *err)
{
    json_t *t = json_pack("{s:s, s:s, s:i, s:i, s:{}, s:[]}", "label", label, "kind", kind, "shard", shard, "shards",
                          nshards, "sql", "units");
    if (!t || json_array_append_new(tasks, t) != 0) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    if (r) {
        json_t *rng = json_object();
        if (r->has_lo) json_object_set_new(rng, "from", json_integer(r->lo));
        if (r->has_hi) json_object_set_new(rng, "to_before", json_integer(r->hi));
        json_object_set_new(t, "customer_range", rng);
    }
    for (int i = 0; i < n; i++) {
        SL_TRY(source_sql(srcs[i], raw, r, tf, sql, err));
        json_object_set_new(json_object_get(t, "sql"), tf_source_name(srcs[i]), json_string((const char *)sql->data));
        json_array_append_new(json_object_get(t, "units"), json_integer(srcs[i]));
    }
    if (npasses > 1) {
        /* The task in passes (see sl_run_plan): the lowest customer (orders) or product
         * (inventory) id of each pass but the first, which also takes the ids below and
         * NULL */
        json_t *pb = json_array();
        json_object_set_new(t, strcmp(kind, "inventory") == 0 ? "product_pass_bounds" : "pass_bounds", pb);
        for (int p = 1; p < npasses; p++) json_array_append_new(pb, json_integer(passes[p].lo));
    }
    return SL_OK;
}

/* How many passes the orders shards take so that their per-customer state stays inside
 * the memory limit. Peak RSS was measured (scales 1, 5 and 20 of `sluice seed`, from one
 * pass to 32) as about 32 MiB (the program, its libraries, the read batches: the overhead
 * the README states beyond the limit) + 120-175 bytes for each customer of a pass (names,
 * aggregate, their maps; SL_RUN_PASS_BYTES keeps a margin) + SL_RUN_ALL_BYTES for each
 * customer of the run, whatever the pass (what grows with the data, not with a pass: the
 * products, the window's orders, the VIP totals, the files being written). 9/10 of the
 * limit is shared out that way; at least 1/8 of it stays for a pass, so a limit too small
 * for the run's size takes many passes (at most SL_RUN_PASSES_MAX) rather than none. */
#define SL_RUN_PASS_BYTES 240
#define SL_RUN_ALL_BYTES 96
#define SL_RUN_PASSES_MAX 256 /* two spill files each, open at once */

/* The passes that hold `need` bytes within `budget` each, at least `asked` (--passes),
 * at most SL_RUN_PASSES_MAX. */
static int passes_within(unsigned long long need, unsigned long long budget, int asked)
{
    unsigned long long n = (need + budget - 1) / budget;
    if (n < (unsigned long long)asked) n = (unsigned long long)asked;
    return n < 1 ? 1 : n > SL_RUN_PASSES_MAX ? SL_RUN_PASSES_MAX : (int)n;
}

static int passes_for(long long customers, size_t limit, int asked)
{
    if (customers <= 0) return passes_within(0, 1, asked);
    unsigned long long all = (unsigned long long)customers * SL_RUN_ALL_BYTES, share = limit / 10 * 9;
    unsigned long long budget = share > all + limit / 8 ? share - all : limit / 8;
    return passes_within((unsigned long long)customers * SL_RUN_PASS_BYTES, budget, asked);
}

/* How many passes the inventory task takes over the products so that they stay inside
 * an eighth of the limit: each product's sku, name, category and units on hand, with
 * their maps, took about 140 bytes at scales 5 and 20 of `sluice seed` (heaptrack);
 * SL_RUN_PRODUCT_BYTES keeps a margin for longer names. The products of a later pass and
 * the inventory rows of their ids wait in spill files (about 60 bytes a product and 56 an
 * inventory row), and each pass is finished alone after the reads. */
#define SL_RUN_PRODUCT_BYTES 192
static int product_passes_for(long long products, size_t limit, int asked)
{
    return passes_within(products > 0 ? (unsigned long long)products * SL_RUN_PRODUCT_BYTES : 0, limit / 8, asked);
}

/* The products whose units sold an orders shard keeps in memory: a sixteenth of the
 * limit at 64 bytes a product (the map's slot, the int64 and its doubling, the record of
 * the sorted run it is written in); past them, sorted runs go to a spill file and are
 * merged in id order at the end (tf_spill_bounds). */
#define SL_RUN_SOLD_BYTES 64
static size_t sold_max_for(size_t limit) { return limit / 16 / SL_RUN_SOLD_BYTES; }

/* The plan's --memory-limit. */
static size_t plan_limit(const json_t *plan)
{
    size_t limit = (size_t)sl_plan_int(plan, "memory_limit", 0);
    return limit ? limit : SL_MEMORY_LIMIT_DEFAULT;
}

/* The order ids of the sales window an orders shard keeps in memory: a sixteenth of the
 * limit (1 bit an id when dense, up to about 70 bytes when each is alone in its 65,536);
 * past it they go to sorted runs, and the items of the window's id range too, joined at
 * the end (tf_spill_bounds). */
#define SL_RUN_WINDOW_SHARE 16

/* n ranges of table's integer key column of about equal estimated rows, from the chunk
 * planner (MIN/MAX and the server's estimates: no table scan); fewer for a small table. */
static sl_code id_ranges(MYSQL *ctl, const char *table, const char *column, int n, my_range **out, int *count,
                         sl_err *err)
{
    my_plan cp;
    my_plan_opts po;
    my_plan_opts_default(&po);
    po.connections = n;
    po.min_chunk_rows = 1; /* a few rows still make as many ranges as asked */
    SL_TRY(my_plan_chunks(ctl, table, column, &po, &cp, err));
    sl_code rc = my_plan_group(&cp, n, out, count, err);
    my_plan_free(&cp);
    return rc;
}

sl_code sl_run_plan(const sl_config *cfg, const sl_run_opts *o, json_t **out, sl_err *err)
{
    tf_params tf = o->tf;
    char run_id[64], date[16], prefix[80];
    my_params mp;
    MYSQL *ctl = NULL;
    my_range *ranges = NULL, *pranges = NULL;
    int nranges = 0, npranges = 0;
    json_t *p = NULL;
    sl_buf sql;
    sl_buf_init(&sql, 0);
    sl_code rc;
    *out = NULL;

    if (!o->as_of_given) tf.as_of_us = sl_now_us(); /* 0 is a valid as-of: 1970-01-01 */
    sl_date_format((int32_t)sl_day_floor(tf.as_of_us, NULL), date, sizeof date);
    if (o->run_id && o->run_id[0]) snprintf(run_id, sizeof run_id, "%s", o->run_id);
    else SL_TRY_GOTO(rc, sl_run_id(run_id, err), done);
    if (o->temp_dir) { /* checked before any work: a run in passes needs it at the end of its reads */
        struct stat sb;
        const char *why = stat(o->temp_dir, &sb) != 0             ? strerror(errno)
                          : !S_ISDIR(sb.st_mode)                  ? "not a folder"
                          : access(o->temp_dir, W_OK | X_OK) != 0 ? strerror(errno)
                                                                  : NULL;
        if (why) {
            rc = sl_err_set(err, SL_E_USAGE, "--temp-dir %s: %s", o->temp_dir, why);
            goto done;
        }
    }
    SL_TRY_GOTO(rc, my_params_from_config(cfg, &mp, 0, err), done);
    ctl = my_connect(&mp, 0, err);
    if (!ctl) {
        rc = err->code ? err->code : SL_E_DB_CONNECT;
        goto done;
    }
    SL_TRY_GOTO(rc, check_sources(ctl, err), done);
    /* The memory limit: half for the files being written at once (six datasets, an
     * order_analytics file per extra shard, six raw tables with --raw), a thirty-second
     * for each read batch's strings; the rest for the analytics' state and batches. */
    size_t limit = o->memory_limit ? o->memory_limit : SL_MEMORY_LIMIT_DEFAULT;
    SL_TRY_GOTO(rc, sl_exec_memory_check(limit, err), done);
    pq_options pq = o->pq;
    int writers = TF__DATASETS + (o->shards > 1 ? o->shards - 1 : 0) + (o->raw ? TF__SOURCES : 0);
    sl_exec_memory_pq(&pq, limit / 2 / (size_t)writers, 0, 0);
    p = sl_plan_envelope("run", run_id, date, o->output, o->consistency, o->consistency_explicit, mp.database, &pq);
    if (!p) {
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    sl_exec_plan_set_lock(p, &o->lock);
    json_t *units = json_array();
    json_object_set_new(p, "units", units);
    long long customers = -1, products = -1;
    for (int s = 0; s < TF__SOURCES; s++) {
        long long est = -1;
        SL_TRY_GOTO(rc, my_catalog_row_estimate(ctl, tf_source_name(s), &est, err), done);
        json_array_append_new(units, json_pack("{s:s, s:I}", "name", tf_source_name(s), "estimate", (json_int_t)est));
        if (s == TF_CUSTOMERS) customers = est;
        if (s == TF_PRODUCTS) products = est;
    }
    /* The inventory task holds the products while the inventory streams by: past an
     * eighth of the limit it takes them in passes of product-id ranges (from the chunk
     * planner, as the customers' below). --passes asks for at least as many. */
    int ppasses = product_passes_for(products, limit, o->passes);
    if (ppasses > 1) SL_TRY_GOTO(rc, id_ranges(ctl, "products", "product_id", ppasses, &pranges, &npranges, err), done);
    /* Each shard holds its customers' state at once (the shards of one process run
     * side by side), so a shard whose state would pass the limit's share reads its
     * customers in passes: ranges read one after the other on its connection, each
     * spilled to --temp-dir before the next. */
    int pps = passes_for(customers, limit, o->passes);
    if (o->shards > 1 || pps > 1) {
        /* customer-id ranges of about equal estimated customers: shards x passes of them */
        SL_TRY_GOTO(rc, id_ranges(ctl, "customers", "customer_id", o->shards * pps, &ranges, &nranges, err), done);
    }
    if (nranges < 1) nranges = 1;
    /* fewer ranges than asked (a small table): as many shards as asked, if there are enough */
    int nshards = o->shards < nranges ? o->shards : nranges;
    int per = nranges / nshards; /* passes of each shard but the last, which takes the rest */
    sl_layout_partition(o->layout, "business_insights", date, prefix, sizeof prefix - 1);
    strcat(prefix, "/");
    json_object_set_new(p, "prefix", json_string(prefix));
    json_t *rawp = json_object();
    json_object_set_new(p, "raw_prefixes", rawp);
    for (int s = 0; s < TF__SOURCES; s++) {
        char base[100], rp[200];
        snprintf(base, sizeof base, "raw/%s", tf_source_name(s));
        sl_layout_partition(o->layout, base, date, rp, sizeof rp - 1);
        strcat(rp, "/");
        json_object_set_new(rawp, tf_source_name(s), json_string(rp));
    }
    json_object_set_new(p, "as_of_us", json_integer(tf.as_of_us));
    json_object_set_new(p, "parameters", params_json(&tf));
    json_object_set_new(p, "raw", json_boolean(o->raw));
    json_object_set_new(p, "wide_decimal_string", json_boolean(o->wide_decimal_string));
    json_object_set_new(p, "batch_rows", json_integer((json_int_t)o->batch_rows));
    json_object_set_new(p, "batch_bytes_max",
                        json_integer((json_int_t)(limit / 32 < ((size_t)32 << 20) ? limit / 32 : (size_t)32 << 20)));
    json_object_set_new(p, "memory_limit", json_integer((json_int_t)limit));
    json_object_set_new(p, "shards", json_integer(nshards));
    if (o->temp_dir) json_object_set_new(p, "temp_dir", json_string(o->temp_dir));
    /* The shards meet to share their totals: every task needs a connection of its own;
     * each shard reads its window's items on one more beside its orders (rn_items). */
    json_object_set_new(p, "connections", json_integer(nshards + 1));
    json_object_set_new(p, "helper_connections", json_integer(o->raw ? 0 : nshards));
    json_object_set_new(p, "max_attempts", json_integer(1));
    json_t *tasks = json_object_get(p, "tasks");
    static const tf_source inv[] = {TF_PRODUCTS, TF_WAREHOUSES, TF_INVENTORY};
    static const tf_source ord[] = {TF_CUSTOMERS, TF_ORDERS, TF_ORDER_ITEMS};
    char ilabel[120] = "products, warehouses, inventory";
    if (npranges > 1) snprintf(ilabel, sizeof ilabel, "products, warehouses, inventory (in %d product passes)", npranges);
    SL_TRY_GOTO(rc, add_task(tasks, ilabel, "inventory", 0, 1, inv, 3, o->raw, NULL, pranges, npranges, &tf, &sql, err),
                done);
    for (int i = 0; i < nshards; i++) {
        char label[200];
        int first = i * per, n = i == nshards - 1 ? nranges - first : per;
        my_range whole = {0, 0, 0, 0}; /* the shard: from its first pass's lower bound to its last's upper one */
        if (ranges) {
            whole = ranges[first];
            whole.has_hi = ranges[first + n - 1].has_hi;
            whole.hi = ranges[first + n - 1].hi;
        }
        char inp[40] = "";
        if (n > 1) snprintf(inp, sizeof inp, "in %d passes", n);
        if (nshards > 1)
            snprintf(label, sizeof label, "customers, orders, order_items (customer shard %d of %d%s%s)", i + 1, nshards,
                     n > 1 ? ", " : "", inp);
        else if (n > 1) snprintf(label, sizeof label, "customers, orders, order_items (%s)", inp);
        else snprintf(label, sizeof label, "customers, orders, order_items");
        SL_TRY_GOTO(rc, add_task(tasks, label, "orders", i, nshards, ord, 3, o->raw, nshards > 1 ? &whole : NULL,
                                 ranges ? &ranges[first] : NULL, n, &tf, &sql, err), done);
    }
    rc = SL_OK;
done:
    if (ctl) my_close(ctl);
    sl_free(ranges);
    sl_free(pranges);
    sl_buf_free(&sql);
    if (rc == SL_OK) *out = p;
    else json_decref(p);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* the plan's analytics parameters */

typedef struct rn_params {
    tf_params tf;
    const char **excl;
} rn_params;

static sl_code params_from_plan(const json_t *plan, rn_params *rp, sl_err *err)
{
    const json_t *pa = json_object_get(plan, "parameters"), *ex = json_object_get(pa, "exclude_status");
    tf_params_default(&rp->tf);
    rp->excl = sl_calloc(json_array_size(ex) + 1, sizeof *rp->excl);
    if (!rp->excl) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(ex); i++) rp->excl[i] = json_string_value(json_array_get(ex, i));
    rp->tf.exclude_status = rp->excl;
    rp->tf.nexclude = (int)json_array_size(ex);
    rp->tf.as_of_us = sl_plan_int(plan, "as_of_us", 0);
    rp->tf.restock_below = json_number_value(json_object_get(pa, "restock_below"));
    rp->tf.overstock_above = json_number_value(json_object_get(pa, "overstock_above"));
    rp->tf.optimal = json_number_value(json_object_get(pa, "optimal_utilization"));
    rp->tf.window_days = (int)sl_plan_int(pa, "sales_window_days", 30);
    rp->tf.vip_percentile = json_number_value(json_object_get(pa, "vip_percentile"));
    rp->tf.run_id = sl_plan_str(plan, "run_id");
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* a task's output files */

typedef struct rn_wpipe rn_wpipe;

typedef struct rn_out {
    sl_sink *sink;
    pq_writer *w;
    rn_wpipe *pipe; /* set: the batches go to the writer's own thread (wpipe_start) */
    char name[512];
} rn_out;

typedef struct rn_task {
    const json_t *plan;
    sl_task_ctx *ctx;
    sl_task_files *files;
    rn_out out[TF__DATASETS];
    const char *prefix;
    rp_inventory inv; /* the report's inventory figures, tallied as inventory_analytics is written */
    rp_restock restock; /* and its restock list, as product_turnover is (by the commit) */
    /* The datasets' files are made once the task's first read is under way (open_datasets):
     * their new folders cost an fsync each, which would hold the connection idle. */
    int open_pending, open_orders;
} rn_task;

static void tally_inventory(rp_inventory *inv, const sl_batch *b)
{
    int sc = sl_schema_find(b->schema, "inventory_score"), ss = sl_schema_find(b->schema, "stock_status");
    for (size_t r = 0; sc >= 0 && ss >= 0 && r < b->nrows; r++) {
        const sl_column *cs = &b->cols[sc], *cst = &b->cols[ss];
        uint32_t n = 0;
        const uint8_t *status = sl_col_is_null(cst, r) ? NULL : sl_col_bytes(cst, r, &n);
        int has = !sl_col_is_null(cs, r);
        rp_inventory_add(inv, has, has ? SL_COL_VALUES(cs, double)[r] : 0, (const char *)status, n);
    }
}

/* The product_turnover rows that need restock into the report's list. */
static sl_code tally_restock(rp_restock *t, const sl_batch *b, sl_err *err)
{
    const sl_schema *s = b->schema;
    int id = sl_schema_find(s, "product_id"), sku = sl_schema_find(s, "sku"), name = sl_schema_find(s, "name"),
        cat = sl_schema_find(s, "category"), units = sl_schema_find(s, "units_sold"),
        hand = sl_schema_find(s, "on_hand"), days = sl_schema_find(s, "days_of_supply"),
        need = sl_schema_find(s, "needs_restock");
    if (id < 0 || sku < 0 || name < 0 || cat < 0 || units < 0 || hand < 0 || days < 0 || need < 0)
        return sl_err_set(err, SL_E_INTERNAL, "product_turnover lacks a column the report tallies");
    const sl_column *cn = &b->cols[need], *cd = &b->cols[days];
    for (size_t r = 0; r < b->nrows; r++) {
        if (sl_col_is_null(cn, r) || !SL_COL_VALUES(cn, uint8_t)[r]) continue;
        const char *txt[3] = {NULL, NULL, NULL};
        uint32_t len[3] = {0, 0, 0};
        const int tc[3] = {sku, name, cat};
        for (int k = 0; k < 3; k++)
            if (!sl_col_is_null(&b->cols[tc[k]], r)) txt[k] = (const char *)sl_col_bytes(&b->cols[tc[k]], r, &len[k]);
        int has_days = !sl_col_is_null(cd, r);
        SL_TRY(rp_restock_add(t, SL_COL_VALUES(&b->cols[id], int64_t)[r], SL_COL_VALUES(&b->cols[units], int64_t)[r],
                              SL_COL_VALUES(&b->cols[hand], int64_t)[r], has_days,
                              has_days ? SL_COL_VALUES(cd, double)[r] : 0, txt[0], len[0], txt[1], len[1], txt[2],
                              len[2], err));
    }
    return SL_OK;
}

/* A dataset encoded on a thread of its own: emit hands each full batch over in exchange
 * for the one written before it, so that the rows of one batch are built while the
 * batch before them is encoded and compressed (order_analytics in the orders' tail,
 * where the two cores are otherwise left with one thread). One batch waits at most. */
struct rn_wpipe {
    pq_writer *w;
    sl_batch *spare; /* full: waiting for or being written; else empty, to swap in */
    int full, quit;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sl_code rc; /* the writer's first failure; the pipe takes no batch after it */
    sl_err err;
};

static void *wpipe_main(void *arg)
{
    rn_wpipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->full && !p->quit) pthread_cond_wait(&p->cv, &p->mu);
        if (!p->full) break; /* quit, all written */
        pthread_mutex_unlock(&p->mu);
        sl_err e = {0};
        sl_code rc = pq_writer_write(p->w, p->spare, &e);
        sl_batch_reset(p->spare);
        pthread_mutex_lock(&p->mu);
        p->full = 0;
        if (rc != SL_OK) {
            p->rc = rc;
            p->err = e;
        }
        pthread_cond_broadcast(&p->cv);
        if (rc != SL_OK) break;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static sl_code wpipe_start(rn_out *o, tf_state *st, tf_dataset d, sl_err *err)
{
    rn_wpipe *p = sl_calloc(1, sizeof *p);
    if (!p) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    p->w = o->w;
    if (!(p->spare = tf_batch_like(st, d, err))) {
        sl_free(p);
        return err->code;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->th, NULL, wpipe_main, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        sl_batch_free(p->spare);
        sl_free(p);
        return SL_OK; /* no thread: emit writes on the caller's */
    }
    o->pipe = p;
    return SL_OK;
}

/* Waits until the writer is free (its failure, if any), then hands b's rows over. */
static sl_code wpipe_put(rn_wpipe *p, sl_batch *b, sl_err *err)
{
    pthread_mutex_lock(&p->mu);
    while (p->full && p->rc == SL_OK) pthread_cond_wait(&p->cv, &p->mu);
    sl_code rc = p->rc;
    if (rc == SL_OK) {
        sl_batch_swap(b, p->spare);
        p->full = 1;
        pthread_cond_broadcast(&p->cv);
    } else {
        *err = p->err;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* Lets the writer write what it holds, stops it, and returns the writer's outcome; the
 * dataset is written on the caller's thread again. */
static sl_code wpipe_stop(rn_out *o, sl_err *err)
{
    rn_wpipe *p = o->pipe;
    if (!p) return SL_OK;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    sl_code rc = p->rc;
    if (rc != SL_OK) *err = p->err;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    sl_batch_free(p->spare);
    sl_free(p);
    o->pipe = NULL;
    return rc;
}

static sl_code emit(void *ud, tf_dataset d, sl_batch *b, sl_err *err)
{
    rn_task *t = ud;
    if (!t->out[d].w) return sl_err_set(err, SL_E_INTERNAL, "dataset %s is not written here", tf_dataset_name(d));
    SL_TRY(sl_stop_check(err)); /* datasets are written batch by batch: a stop lands between them */
    if (d == TF_INVENTORY_ANALYTICS) tally_inventory(&t->inv, b);
    if (d == TF_PRODUCT_TURNOVER) SL_TRY(tally_restock(&t->restock, b, err));
    sl_code rc = t->out[d].pipe ? wpipe_put(t->out[d].pipe, b, err) : pq_writer_write(t->out[d].w, b, err);
    if (rc != SL_OK) sl_err_prefix(err, "dataset %s: ", tf_dataset_name(d));
    return rc;
}

static sl_code open_dataset(rn_task *t, tf_state *st, tf_dataset d, int shard, sl_err *err)
{
    char stem[128], source[200];
    snprintf(stem, sizeof stem, "%s/part-%05d", tf_dataset_name(d), shard);
    snprintf(source, sizeof source, "sluice run: %s", tf_dataset_name(d));
    return sl_task_files_open(t->files, t->prefix, stem, tf_schema(st, d), source, &t->out[d].sink, &t->out[d].w,
                              t->out[d].name, sizeof t->out[d].name, err);
}

static sl_code open_datasets(rn_task *t, tf_state *st, int shard, sl_err *err)
{
    t->open_pending = 0;
    if (t->open_orders) return open_dataset(t, st, TF_ORDER_ANALYTICS, shard, err);
    SL_TRY(open_dataset(t, st, TF_INVENTORY_ANALYTICS, 0, err));
    return open_dataset(t, st, TF_WAREHOUSE_UTILIZATION, 0, err);
}

static sl_code close_dataset(rn_task *t, tf_dataset d, json_t *files, sl_err *err)
{
    pq_file_info info;
    SL_TRY(pq_writer_close(t->out[d].w, &info, err));
    return sl_task_files_done(t->files, t->prefix, t->out[d].name, info.rows, files, err);
}

/* Reads source s into the state, or into add(add_ud, batch) when add is given (and, with
 * --raw, into its raw file). */
static sl_code read_source(rn_task *t, MYSQL *conn, tf_state *st, tf_source s, const char *sql, int shard,
                           json_t *files, json_t *rawinfo, json_t *rows, json_t *secs, json_t *zeros,
                           json_t *zero_totals, sl_code (*add)(void *ud, const sl_batch *b, sl_err *err),
                           void *add_ud, sl_err *err)
{
    double t0 = sl_mono_seconds();
    my_reader *rd = NULL;
    sl_sink *rsink = NULL;
    pq_writer *rw = NULL;
    char rname[512], rprefix[300];
    int raw = json_is_true(json_object_get(t->plan, "raw"));
    int64_t n = 0;
    sl_code rc;
    my_read_opts ro;
    my_read_opts_default(&ro);
    ro.batch_rows = (size_t)sl_plan_int(t->plan, "batch_rows", 16384);
    ro.batch_bytes_max = (size_t)sl_plan_int(t->plan, "batch_bytes_max", (long long)32 << 20);
    ro.table = tf_source_name(s);
    ro.wide_decimal_string = json_is_true(json_object_get(t->plan, "wide_decimal_string"));
    ro.read_ahead = 1; /* the connection keeps receiving while this thread computes */
    rd = my_reader_open(conn, sql, &ro, err);
    if (!rd) {
        rc = err->code ? err->code : SL_E_DB;
        goto done;
    }
    /* the task's first read streams while its datasets' files are made (st: the task's
     * own thread; the items read beside passes none) */
    if (st && t->open_pending) SL_TRY_GOTO(rc, open_datasets(t, st, shard, err), done);
    if (raw) {
        char stem[32], source[600];
        snprintf(rprefix, sizeof rprefix, "%s", sl_plan_str(json_object_get(t->plan, "raw_prefixes"), tf_source_name(s)));
        snprintf(stem, sizeof stem, "part-%05d", shard);
        snprintf(source, sizeof source, "mysql:%s/%s", sl_plan_str(t->plan, "database"), tf_source_name(s));
        SL_TRY_GOTO(rc, sl_task_files_open(t->files, rprefix, stem, my_reader_schema(rd), source, &rsink, &rw, rname,
                                           sizeof rname, err), done);
    }
    for (;;) {
        sl_batch *b;
        SL_TRY_GOTO(rc, sl_task_check_stop(t->ctx, err), done); /* a stop or another task's failure */
        SL_TRY_GOTO(rc, my_reader_next(rd, &b, err), done);
        if (!b) break;
        if (rw) SL_TRY_GOTO(rc, pq_writer_write(rw, b, err), done);
        SL_TRY_GOTO(rc, add ? add(add_ud, b, err) : tf_add(st, s, b, err), done);
        n += (int64_t)b->nrows;
        if (t->ctx->unit_rows) atomic_fetch_add(&t->ctx->unit_rows[s], (long long)b->nrows);
    }
    json_object_set_new(rows, tf_source_name(s), json_integer(n));
    json_object_set_new(secs, tf_source_name(s), json_real(sl_mono_seconds() - t0));
    /* zero/partial dates read as NULL, per column (the manifest's data_quality) */
    const sl_schema *sc = my_reader_schema(rd);
    int64_t zd = 0;
    for (int i = 0; i < sc->ncols; i++) {
        int64_t z = my_reader_zero_dates(rd, i);
        char col[300];
        zd += z;
        snprintf(col, sizeof col, "%s.%s", tf_source_name(s), sc->fields[i].name);
        if (z > 0) json_object_set_new(zeros, col, json_integer((json_int_t)z));
    }
    json_object_set_new(zero_totals, tf_source_name(s), json_integer((json_int_t)zd));
    if (rw) {
        pq_file_info info;
        SL_TRY_GOTO(rc, pq_writer_close(rw, &info, err), done);
        SL_TRY_GOTO(rc, sl_task_files_done(t->files, rprefix, rname, info.rows, files, err), done);
        json_object_set_new(rawinfo, tf_source_name(s),
                            json_pack("{s:o, s:I}", "schema", sl_exec_schema_json(sc), "zero_dates_total",
                                      (json_int_t)zd));
    }
    rc = SL_OK;
done:
    if (rc != SL_OK && rc != SL_E_INTERNAL) sl_err_prefix(err, "reading %s: ", tf_source_name(s));
    pq_writer_free(rw);
    sl_sink_release(rsink);
    my_reader_free(rd);
    return rc;
}

/* The products and units sold a task passes to the commit: packed records (little-endian)
 * in a compressed stream (pack.h), not a JSON value each: at 200,000 products the JSON
 * objects took over 100 MiB of the commit's memory, the stream about 5. */
static sl_code pack_put(void *ud, const void *p, size_t n, sl_err *err) { return sl_pack_put(ud, p, n, err); }

static sl_code product_pack(void *ud, int64_t id, const tf_text *strs, int has_hand, int64_t hand, sl_err *err)
{
    uint8_t h = has_hand ? 1 : 0;
    SL_TRY(pack_put(ud, &id, sizeof id, err));
    SL_TRY(pack_put(ud, &h, 1, err));
    SL_TRY(pack_put(ud, &hand, sizeof hand, err));
    for (int j = 0; j < 3; j++) {
        uint32_t len = strs[j].p ? (uint32_t)strs[j].n : UINT32_MAX;
        SL_TRY(pack_put(ud, &len, sizeof len, err));
        if (strs[j].p) SL_TRY(pack_put(ud, strs[j].p, strs[j].n, err));
    }
    return SL_OK;
}

static sl_code sold_pack(void *ud, int64_t id, int64_t units, sl_err *err)
{
    SL_TRY(pack_put(ud, &id, sizeof id, err));
    return pack_put(ud, &units, sizeof units, err);
}

/* A packed stream that passes a sixty-fourth of the limit leaves the result for an
 * object of the run's partition, "_spill/<what>-<shard>-<run id>.zst": the results wait
 * for the commit, all of them at once, in memory (at 5,000,000 products the products'
 * stream alone is 40 MB), and each shard gets every shard's totals (a sixty-fourth
 * between them); the commit's cleanup deletes the object with what the manifest does not
 * list. */
#define SL_RUN_PACK_INLINE_SHARE 64

typedef struct rn_spill {
    rn_task *t;
    const char *what;
    int shard;
    sl_sink *sink;
    char name[512];
} rn_spill;

static sl_sink *pack_spill_open(void *ud, sl_err *err)
{
    rn_spill *sp = ud;
    char stem[64];
    snprintf(stem, sizeof stem, "_spill/%s-%05d", sp->what, sp->shard);
    if (sl_task_files_open_raw(sp->t->files, sp->t->prefix, stem, "zst", &sp->sink, sp->name, sizeof sp->name, err) !=
        SL_OK)
        return NULL;
    return sp->sink;
}

/* A stream of the task that may spill; `held` of them are held at once (a shard's
 * totals: each of the N shards gets its own copy of every shard's, N x N of them). */
static sl_pack *pack_begin(rn_spill *sp, rn_task *t, const char *what, int shard, int held, sl_err *err)
{
    *sp = (rn_spill){t, what, shard, NULL, ""};
    return sl_pack_begin_spill(plan_limit(t->plan) / SL_RUN_PACK_INLINE_SHARE / (size_t)(held > 1 ? held : 1),
                               pack_spill_open, sp, err);
}

/* Ends the stream pk (rc: the result of filling it): *out is its strings, or where it
 * was spilled, also listed in the result's "spilled". Frees pk and the spill's sink. */
static sl_code end_packed(json_t *result, sl_pack *pk, rn_spill *sp, sl_code rc, json_t **out, sl_err *err)
{
    json_t *spilled = json_object_get(result, "spilled");
    *out = NULL;
    if (rc == SL_OK) rc = sl_pack_end(pk, out, err);
    else sl_pack_free(pk);
    sl_sink_release(sp->sink); /* aborts the object if its stream failed */
    SL_TRY(rc);
    if (*out) return SL_OK;
    /* spilled: the sink is finished */
    if (!spilled) {
        spilled = json_array();
        if (!spilled || json_object_set_new(result, "spilled", spilled) != 0)
            return sl_err_set(err, SL_E_NOMEM, "out of memory");
    }
    SL_TRY(sl_task_files_done(sp->t->files, sp->t->prefix, sp->name, 0, spilled, err));
    if (!(*out = json_deep_copy(json_array_get(spilled, json_array_size(spilled) - 1))))
        return sl_err_set(err, SL_E_NOMEM, "out of memory");
    return SL_OK;
}

/* part[key] = the stream pk, as end_packed ends it. */
static sl_code put_packed(json_t *result, json_t *part, const char *key, sl_pack *pk, rn_spill *sp, sl_code rc,
                          sl_err *err)
{
    json_t *a;
    SL_TRY(end_packed(result, pk, sp, rc, &a, err));
    if (json_object_set_new(part, key, a) != 0) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    return SL_OK;
}

static json_t *i64_array(const int64_t *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(v[i]));
    return a;
}

static void i64_from(const json_t *a, int64_t *v, int n)
{
    for (int i = 0; i < n; i++) v[i] = (int64_t)json_integer_value(json_array_get(a, (size_t)i));
}

/* ---------------------------------------------------------------------------------- */
/* an orders shard in passes (the plan's "passes": see sl_run_plan) */

/* A spill file under dir: unnamed (O_TMPFILE), so it vanishes with the process however
 * it ends; where the file system has no O_TMPFILE, named, then unlinked at once. */
static FILE *spill_open(const char *dir, sl_err *err)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/sluice-spill-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0) unlink(path);
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w+b") : NULL;
    if (!f) {
        sl_err_set(err, SL_E_IO, "--temp-dir %s: cannot make a spill file: %s", dir, strerror(errno));
        if (fd >= 0) close(fd);
    }
    return f;
}

static const char *spill_dir(const json_t *plan)
{
    const char *d = sl_plan_str(plan, "temp_dir");
    if (d && d[0]) return d;
    d = getenv("TMPDIR");
    return d && d[0] ? d : "/tmp";
}

/* tf_spill_bounds' spill files, under the plan's temp dir (ud: the plan). */
static FILE *runs_spill_open(void *ud, sl_err *err) { return spill_open(spill_dir(ud), err); }

/* The passes' spill files (two a pass but the first, which stays in memory), handed to
 * the state, and the bounds, from the task: customer passes of an orders shard, or
 * product passes of the inventory task. */
static sl_code begin_passes(tf_state *st, int products, const json_t *pb, const char *dir, sl_err *err)
{
    int n = (int)json_array_size(pb) + 1;
    int64_t *bounds = sl_malloc((size_t)n * sizeof *bounds);
    FILE **cf = sl_calloc((size_t)n, sizeof *cf), **of = sl_calloc((size_t)n, sizeof *of);
    sl_code rc = SL_OK;
    if (!bounds || !cf || !of) rc = sl_err_set(err, SL_E_NOMEM, "out of memory for %d passes", n);
    for (int i = 1; rc == SL_OK && i < n; i++) {
        bounds[i - 1] = (int64_t)json_integer_value(json_array_get(pb, (size_t)i - 1));
        if (!(cf[i] = spill_open(dir, err)) || !(of[i] = spill_open(dir, err))) rc = err->code;
    }
    if (rc == SL_OK) {
        /* the files are the state's now */
        rc = products ? tf_product_passes_begin(st, bounds, n, cf, of, err) : tf_passes_begin(st, bounds, n, cf, of, err);
    } else {
        for (int i = 1; cf && of && i < n; i++) {
            if (cf[i]) fclose(cf[i]);
            if (of[i]) fclose(of[i]);
        }
    }
    sl_free(bounds);
    sl_free(cf);
    sl_free(of);
    return rc;
}

/* The value at 1-based rank k of the n int64 in f, in four reads of f (16 bits of the
 * value each, most significant first) and a 512 KiB histogram: memory that does not grow
 * with n. */
static sl_code spill_select(FILE *f, size_t n, size_t k, int64_t *out, sl_err *err)
{
    size_t *hist = sl_malloc(65536 * sizeof *hist);
    int64_t *buf = sl_malloc(4096 * sizeof *buf);
    uint64_t prefix = 0, mask = 0;
    sl_code rc = SL_OK;
    if (!hist || !buf) rc = sl_err_set(err, SL_E_NOMEM, "out of memory for the VIP percentile");
    for (int shift = 48; rc == SL_OK && shift >= 0; shift -= 16) {
        size_t got, seen = 0;
        memset(hist, 0, 65536 * sizeof *hist);
        rewind(f);
        while ((got = fread(buf, sizeof *buf, 4096, f)) > 0) {
            seen += got;
            for (size_t i = 0; i < got; i++) {
                uint64_t u = (uint64_t)buf[i] ^ ((uint64_t)1 << 63); /* signed order as unsigned */
                if ((u & mask) == prefix) hist[(u >> shift) & 0xffff]++;
            }
        }
        if (ferror(f) || seen != n) {
            rc = sl_err_set(err, SL_E_IO, "reading the spilled totals: %s", ferror(f) ? strerror(errno) : "short");
            break;
        }
        size_t d = 0;
        while (d < 65535 && k > hist[d]) k -= hist[d++];
        prefix |= (uint64_t)d << shift;
        mask |= (uint64_t)0xffff << shift;
    }
    *out = (int64_t)(prefix ^ ((uint64_t)1 << 63));
    sl_free(hist);
    sl_free(buf);
    return rc;
}

/* Takes whole totals of the gathered stream into the spill file ud (sl_unpack_fn). */
static sl_code spill_totals(void *ud, const uint8_t *p, size_t n, size_t *used, sl_err *err)
{
    size_t k = n / sizeof(int64_t) * sizeof(int64_t);
    if (k && fwrite(p, 1, k, ud) != k)
        return sl_err_set(err, SL_E_IO, "writing the gathered totals to a spill file: %s", strerror(errno));
    *used = k;
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* the window's items, read beside the orders */

/* An orders task that gets a helper connection (sl_task_ctx; threads of one process)
 * reads order_items on it while its own connection reads the customers and the orders:
 * the query takes only the items of the sales window's orders (source_sql), which wait
 * as tf_item until the orders are in - in memory up to limit / SL_RUN_ITEMS_SHARE, past
 * that in a file under --temp-dir - and are then added as a read after the orders would
 * add them (tf_add_items checks each against the window's orders). */
#define SL_RUN_ITEMS_SHARE 16

typedef struct rn_items {
    rn_task *t;
    MYSQL *conn;
    const char *sql;
    int shard;
    tf_item *buf;
    size_t n, cap;   /* cap: the memory bound, in items */
    FILE *spill;     /* NULL until the bound is passed */
    int64_t spilled; /* items that went to the file */
    const char *dir;
    atomic_int quit; /* set when the task fails first */
    pthread_t th;
    int on, beside; /* on: the thread runs; beside: it was started */
    json_t *rows, *secs, *zeros, *zero_totals; /* read_source's, merged after the join */
    sl_code rc;
    sl_err err;
} rn_items;

static sl_code items_flush(rn_items *it, sl_err *err)
{
    if (!it->spill && !(it->spill = spill_open(it->dir, err))) return err->code;
    if (it->n && fwrite(it->buf, sizeof *it->buf, it->n, it->spill) != it->n)
        return sl_err_set(err, SL_E_IO, "--temp-dir %s: writing the window's items: %s", it->dir, strerror(errno));
    it->spilled += (int64_t)it->n;
    it->n = 0;
    return SL_OK;
}

static sl_code items_keep(void *ud, const sl_batch *b, sl_err *err)
{
    rn_items *it = ud;
    if (atomic_load(&it->quit)) return sl_err_set(err, SL_E_INTERNAL, "stopped: the task failed");
    for (size_t r = 0; r < b->nrows;) {
        if (it->n == it->cap) SL_TRY(items_flush(it, err));
        size_t room = it->cap - it->n, k;
        SL_TRY(tf_items_of(b, r, room, it->buf + it->n, &k, err));
        it->n += k;
        r += room;
    }
    return SL_OK;
}

static void *items_main(void *arg)
{
    rn_items *it = arg;
    mysql_thread_init();
    it->rc = read_source(it->t, it->conn, NULL, TF_ORDER_ITEMS, it->sql, it->shard, NULL, NULL, it->rows, it->secs,
                         it->zeros, it->zero_totals, items_keep, it, &it->err);
    mysql_thread_end();
    return NULL;
}

/* Starts the read when the task has a helper connection (it->on); otherwise the task
 * reads the items after the orders on its own. */
static sl_code items_start(rn_items *it, rn_task *t, const char *sql, int shard, sl_err *err)
{
    memset(it, 0, sizeof *it);
    it->t = t;
    if (!t->ctx->helper_take || !(it->conn = t->ctx->helper_take(t->ctx->helper_ud))) return SL_OK;
    it->sql = sql;
    it->shard = shard;
    it->dir = spill_dir(t->plan);
    size_t cap = plan_limit(t->plan) / SL_RUN_ITEMS_SHARE / sizeof *it->buf;
    it->cap = cap > 1024 ? cap : 1024;
    it->buf = sl_malloc(it->cap * sizeof *it->buf);
    it->rows = json_object();
    it->secs = json_object();
    it->zeros = json_object();
    it->zero_totals = json_object();
    if (!it->buf || !it->rows || !it->secs || !it->zeros || !it->zero_totals)
        return sl_err_set(err, SL_E_NOMEM, "out of memory for the window's items");
    if (pthread_create(&it->th, NULL, items_main, it) != 0)
        return sl_err_set(err, SL_E_INTERNAL, "cannot start a thread: %s", strerror(errno));
    it->on = it->beside = 1;
    return SL_OK;
}

/* Waits for the read (quit: the task failed, the read stops at its next batch) and
 * gives the connection back; its outcome. */
static sl_code items_join(rn_items *it, int quit, sl_err *err)
{
    if (!it->on) return SL_OK;
    if (quit) atomic_store(&it->quit, 1);
    pthread_join(it->th, NULL);
    it->on = 0;
    it->t->ctx->helper_give(it->t->ctx->helper_ud, it->conn, it->rc == SL_OK);
    it->conn = NULL;
    if (it->rc != SL_OK && !quit) *err = it->err;
    return quit ? SL_OK : it->rc;
}

/* The items kept, into the state, and the read's figures into the task's. */
static sl_code items_add(rn_items *it, tf_state *st, json_t *rows, json_t *secs, json_t *zeros, json_t *zero_totals,
                         sl_err *err)
{
    json_object_update(rows, it->rows);
    json_object_update(secs, it->secs);
    json_object_update(zeros, it->zeros);
    json_object_update(zero_totals, it->zero_totals);
    if (!it->spill) return tf_add_items(st, it->buf, it->n, err);
    SL_TRY(items_flush(it, err)); /* the file holds them all, in the order they came */
    if (fflush(it->spill) != 0 || fseek(it->spill, 0, SEEK_SET) != 0)
        return sl_err_set(err, SL_E_IO, "--temp-dir %s: the window's items: %s", it->dir, strerror(errno));
    for (size_t k; (k = fread(it->buf, sizeof *it->buf, it->cap, it->spill)) > 0;)
        SL_TRY(tf_add_items(st, it->buf, k, err));
    if (ferror(it->spill))
        return sl_err_set(err, SL_E_IO, "--temp-dir %s: reading the window's items back: %s", it->dir, strerror(errno));
    return SL_OK;
}

static void items_free(rn_items *it)
{
    if (it->conn) it->t->ctx->helper_give(it->t->ctx->helper_ud, it->conn, 0); /* taken, never read on */
    sl_free(it->buf);
    if (it->spill) fclose(it->spill);
    json_decref(it->rows);
    json_decref(it->secs);
    json_decref(it->zeros);
    json_decref(it->zero_totals);
    memset(it, 0, sizeof *it);
}

/* The VIP threshold over every shard's customers. This shard's n totals are in mine
 * (freed here), or else in the spill file `from`. One shard selects from its own; shards
 * exchange theirs as compressed streams (pack.h: a few bytes a customer, where a JSON
 * number each took about 60 and all of them sorted in memory 8 more; past their share
 * of the limit, as objects of the output the others read), and each selects
 * the threshold from all of them written to a spill file, a histogram at a time
 * (spill_select): the same value as sorting them all. */
static sl_code shared_threshold(rn_task *t, json_t *result, tf_state *st, int64_t *mine, FILE *from, size_t n,
                                int shard, int nshards, int64_t *threshold, sl_err *err)
{
    json_t *gathered = NULL, *msg = NULL, *packed = NULL;
    FILE *all = NULL;
    size_t total = 0;
    sl_code rc = SL_OK;
    *threshold = 0;
    if (nshards <= 1) { /* one shard in passes (in one pass, oa_tail_main selects its own) */
        if (n) rc = spill_select(from, n, tf_vip_rank(st, n), threshold, err);
        sl_free(mine);
        return rc;
    }
    if (!t->ctx->gather) {
        sl_free(mine);
        return sl_err_set(err, SL_E_USAGE, "task of shard %d needs the other %d shards' totals, and its runner "
                                           "passes none (run the tasks with sluice_spark.py or `sluice run`)",
                          shard, nshards - 1);
    }
    rn_spill sp;
    sl_pack *pk = pack_begin(&sp, t, "totals", shard, nshards * nshards, err);
    if (!pk) rc = err->code;
    if (rc == SL_OK && mine) {
        rc = sl_pack_put(pk, mine, n * sizeof *mine, err);
    } else if (rc == SL_OK) {
        int64_t buf[4096];
        size_t got;
        rewind(from);
        while (rc == SL_OK && (got = fread(buf, sizeof *buf, 4096, from)) > 0) rc = sl_pack_put(pk, buf, got * sizeof *buf, err);
        if (rc == SL_OK && ferror(from)) rc = sl_err_set(err, SL_E_IO, "reading the spilled totals: %s", strerror(errno));
    }
    sl_free(mine);
    if (pk) rc = end_packed(result, pk, &sp, rc, &packed, err);
    if (rc == SL_OK && !(msg = json_pack("{s:i, s:I, s:o}", "shard", shard, "count", (json_int_t)n, "spends", packed)))
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
    if (rc == SL_OK) rc = t->ctx->gather(t->ctx->gather_ud, shard, nshards, msg, &gathered, err);
    json_decref(msg);
    if (rc == SL_OK && !(all = spill_open(spill_dir(t->plan), err))) rc = err->code;
    for (int i = 0; rc == SL_OK && i < nshards; i++) {
        const json_t *m = json_array_get(gathered, (size_t)i);
        json_int_t c = json_integer_value(json_object_get(m, "count"));
        long before = ftell(all);
        char whose[48];
        snprintf(whose, sizeof whose, "the gathered message of shard %d", i);
        rc = sl_unpack(t->ctx->store, json_object_get(m, "spends"), whose, "totals", spill_totals, all, err);
        if (rc == SL_OK && (before < 0 || ftell(all) - before != (long)(c * (json_int_t)sizeof(int64_t)) || c < 0))
            rc = sl_err_set(err, SL_E_FORMAT, "the gathered totals of shard %d are not the %lld it counted", i, (long long)c);
        total += (size_t)c;
    }
    if (rc == SL_OK && fflush(all) != 0) rc = sl_err_set(err, SL_E_IO, "writing the gathered totals: %s", strerror(errno));
    if (rc == SL_OK && total) rc = spill_select(all, total, tf_vip_rank(st, total), threshold, err);
    json_decref(gathered);
    if (all) fclose(all);
    return rc;
}

/* order_analytics finished on a thread of its own while the task's thread reads
 * order_items: the customers' totals, the VIP threshold and the rows need the customers
 * and the orders only. Touched on that thread alone until the join: the customers, their
 * aggregates, the quality counts, order_analytics' batch and writer; the items touch the
 * window's orders and the units sold. */
typedef struct oa_tail {
    rn_task *t;
    tf_state *st;
    int64_t unknown;
    pq_file_info info; /* the closed file's; listed among the task's files after the join */
    sl_code rc;
    sl_err err;
} oa_tail;

static void *oa_tail_main(void *arg)
{
    oa_tail *a = arg;
    int64_t threshold = 0;
    tf_quality q;
    rn_out *o = &a->t->out[TF_ORDER_ANALYTICS];
    a->rc = tf_own_vip_threshold(a->st, &threshold, &a->err); /* one shard: its own totals */
    if (a->rc == SL_OK) a->rc = wpipe_start(o, a->st, TF_ORDER_ANALYTICS, &a->err);
    if (a->rc == SL_OK) a->rc = tf_finish_orders(a->st, threshold, &a->err);
    sl_err perr = {0};
    sl_code prc = wpipe_stop(o, &perr); /* the batches handed over are written, or failed */
    if (a->rc == SL_OK && prc != SL_OK) {
        a->rc = prc;
        a->err = perr;
        sl_err_prefix(&a->err, "dataset %s: ", tf_dataset_name(TF_ORDER_ANALYTICS));
    }
    if (a->rc == SL_OK) a->rc = pq_writer_close(o->w, &a->info, &a->err);
    tf_quality_get(a->st, &q);
    a->unknown = q.orders_unknown_customer;
    return NULL;
}

sl_code sl_run_task(const json_t *plan, int k, const json_t *task, MYSQL *conn, sl_task_ctx *ctx, json_t *result,
                    sl_err *err)
{
    rn_params rp = {0};
    rn_task t = {plan, ctx, NULL, {{0}}, sl_plan_str(plan, "prefix"), {0}, {0}, 0, 0};
    tf_state *st = NULL;
    json_t *rows = json_object(), *rawinfo = json_object(), *part = json_object();
    json_t *zeros = json_object(), *zero_totals = json_object(), *secs = json_object();
    int orders = strcmp(sl_plan_str(task, "kind"), "orders") == 0;
    int shard = (int)sl_plan_int(task, "shard", 0), nshards = (int)sl_plan_int(task, "shards", 1);
    double t0 = sl_mono_seconds(), tread = 0;
    FILE *spill_rows = NULL, *spill_spends = NULL;
    int64_t unknown = 0;
    oa_tail tail = {0};
    pthread_t tail_th;
    int tail_on = 0;
    rn_items items;
    sl_code rc;
    memset(&items, 0, sizeof items);
    if (!rows || !rawinfo || !part || !zeros || !zero_totals || !secs) {
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    SL_TRY_GOTO(rc, params_from_plan(plan, &rp, err), done);
    t.files = sl_task_files_create(ctx, plan, err);
    if (!t.files) {
        rc = err && err->code ? err->code : SL_E_NOMEM;
        goto done;
    }
    st = tf_create(&rp.tf, emit, &t, err);
    if (!st) {
        rc = err && err->code ? err->code : SL_E_NOMEM;
        goto done;
    }
    static const tf_source inv[] = {TF_PRODUCTS, TF_WAREHOUSES, TF_INVENTORY};
    static const tf_source ord[] = {TF_CUSTOMERS, TF_ORDERS, TF_ORDER_ITEMS};
    const tf_source *srcs = orders ? ord : inv;
    t.open_pending = 1; /* at the first read_source */
    t.open_orders = orders;
    if (orders)
        tf_spill_bounds(st, sold_max_for(plan_limit(plan)), plan_limit(plan) / SL_RUN_WINDOW_SHARE, runs_spill_open,
                        (void *)plan);
    json_t *files = json_object_get(result, "files");
    const json_t *bounds = json_object_get(task, orders ? "pass_bounds" : "product_pass_bounds");
    if (json_array_size(bounds) > 0) {
        const char *dir = spill_dir(plan);
        if (orders && (!(spill_rows = spill_open(dir, err)) || !(spill_spends = spill_open(dir, err)))) {
            rc = err->code;
            goto done;
        }
        SL_TRY_GOTO(rc, begin_passes(st, !orders, bounds, dir, err), done);
    }
    if (orders && !json_is_true(json_object_get(plan, "raw")))
        SL_TRY_GOTO(rc, items_start(&items, &t, sl_plan_str(json_object_get(task, "sql"), "order_items"), shard, err),
                    done);
    for (int i = 0; i < 3; i++) {
        const char *sql = sl_plan_str(json_object_get(task, "sql"), tf_source_name(srcs[i]));
        if (orders && i == 2 && !spill_rows && nshards == 1) {
            /* one shard in one pass: its order_analytics needs nothing of the items */
            tail.t = &t;
            tail.st = st;
            if (pthread_create(&tail_th, NULL, oa_tail_main, &tail) != 0) {
                rc = sl_err_set(err, SL_E_INTERNAL, "cannot start a thread: %s", strerror(errno));
                goto done;
            }
            tail_on = 1;
        }
        if (orders && i == 2 && items.on) {
            SL_TRY_GOTO(rc, items_join(&items, 0, err), done);
            SL_TRY_GOTO(rc, items_add(&items, st, rows, secs, zeros, zero_totals, err), done);
            continue;
        }
        SL_TRY_GOTO(rc, read_source(&t, conn, st, srcs[i], sql, shard, files, rawinfo, rows, secs, zeros,
                                    zero_totals, NULL, NULL, err), done);
    }
    if (spill_rows) SL_TRY_GOTO(rc, tf_passes_finish(st, spill_rows, spill_spends, err), done);
    tread = sl_mono_seconds() - t0;
    if (orders) {
        int64_t threshold = 0;
        tf_order_sums sums;
        if (tail_on) {
            pthread_join(tail_th, NULL);
            tail_on = 0;
            if (tail.rc != SL_OK) {
                *err = tail.err;
                rc = tail.rc;
                goto done;
            }
            unknown = tail.unknown;
        } else if (spill_rows) {
            tf_quality q;
            long bytes = ftell(spill_spends);
            if (bytes < 0) SL_TRY_GOTO(rc, sl_err_set(err, SL_E_IO, "the spilled totals: %s", strerror(errno)), done);
            SL_TRY_GOTO(rc, shared_threshold(&t, result, st, NULL, spill_spends, (size_t)bytes / sizeof(int64_t), shard, nshards,
                                             &threshold, err), done);
            rewind(spill_rows);
            SL_TRY_GOTO(rc, tf_orders_emit_spilled(st, spill_rows, threshold, err), done);
            tf_quality_get(st, &q);
            unknown = q.orders_unknown_customer;
        } else {
            int64_t *mine;
            size_t n;
            tf_quality q;
            SL_TRY_GOTO(rc, tf_spends(st, &mine, &n, err), done);
            SL_TRY_GOTO(rc, shared_threshold(&t, result, st, mine, NULL, n, shard, nshards, &threshold, err), done);
            SL_TRY_GOTO(rc, tf_finish_orders(st, threshold, err), done);
            tf_quality_get(st, &q);
            unknown = q.orders_unknown_customer;
        }
        if (tail.t) /* closed on the tail's thread */
            SL_TRY_GOTO(rc, sl_task_files_done(t.files, t.prefix, t.out[TF_ORDER_ANALYTICS].name, tail.info.rows,
                                               files, err), done);
        else
            SL_TRY_GOTO(rc, close_dataset(&t, TF_ORDER_ANALYTICS, files, err), done);
        tf_order_sums_get(st, &sums);
        rn_spill sp;
        sl_pack *pk = pack_begin(&sp, &t, "sold", shard, 1, err);
        if (!pk) SL_TRY_GOTO(rc, err->code, done);
        SL_TRY_GOTO(rc, put_packed(result, part, "sold_packed", pk, &sp, tf_each_sold(st, sold_pack, pk, err), err),
                    done);
        json_object_set_new(part, "sold_runs", json_integer((json_int_t)tf_sold_runs(st)));
        json_object_set_new(part, "window_runs", json_integer((json_int_t)tf_window_runs(st)));
        json_object_set_new(part, "window_items_spilled", json_integer((json_int_t)items.spilled));
        json_object_set_new(part, "items_beside", json_boolean(items.beside));
        json_object_set_new(part, "hour_count", i64_array(sums.hour_count, 24));
        json_object_set_new(part, "hour_revenue", i64_array(sums.hour_revenue, 24));
        json_object_set_new(part, "segment_customers", i64_array(sums.seg.customers, 4));
        json_object_set_new(part, "segment_vips", i64_array(sums.seg.vips, 4));
        json_object_set_new(part, "segment_orders", i64_array(sums.seg.orders, 4));
        json_object_set_new(part, "segment_spent", i64_array(sums.seg.spent, 4));
        json_object_set_new(part, "quality", json_pack("{s:I}", "orders_unknown_customer", (json_int_t)unknown));
        json_object_set_new(part, "passes", json_integer((json_int_t)json_array_size(bounds) + 1));
    } else {
        /* the products first: with product passes, the later passes' inventory rows are
         * replayed there, before the inventory datasets end */
        rn_spill sp;
        sl_pack *pk = pack_begin(&sp, &t, "products", 0, 1, err);
        if (!pk) SL_TRY_GOTO(rc, err->code, done);
        SL_TRY_GOTO(rc, put_packed(result, part, "products_packed", pk, &sp,
                                   tf_each_product(st, product_pack, pk, err), err), done);
        SL_TRY_GOTO(rc, tf_finish_inventory(st, err), done);
        SL_TRY_GOTO(rc, close_dataset(&t, TF_INVENTORY_ANALYTICS, files, err), done);
        SL_TRY_GOTO(rc, close_dataset(&t, TF_WAREHOUSE_UTILIZATION, files, err), done);
        json_object_set_new(part, "passes", json_integer((json_int_t)json_array_size(bounds) + 1));
        json_object_set_new(part, "report_inventory",
                            json_pack("{s:I, s:I, s:o, s:o}", "rows", (json_int_t)t.inv.rows, "score_null",
                                      (json_int_t)t.inv.score_null, "bins", i64_array(t.inv.bins, RP_SCORE_BINS),
                                      "status", i64_array(t.inv.status, 4)));
        tf_quality q;
        tf_quality_get(st, &q);
        json_object_set_new(part, "quality",
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "capacity_null", (json_int_t)q.capacity_null,
                                      "capacity_zero", (json_int_t)q.capacity_zero, "quantity_above_capacity",
                                      (json_int_t)q.quantity_above_capacity, "last_updated_in_future",
                                      (json_int_t)q.last_updated_future, "inventory_unknown_product",
                                      (json_int_t)q.inventory_unknown_product, "inventory_unknown_warehouse",
                                      (json_int_t)q.inventory_unknown_warehouse));
    }
    json_object_set_new(part, "kind", json_string(orders ? "orders" : "inventory"));
    json_object_set(part, "rows_read", rows);
    json_object_set(part, "read_seconds_by_source", secs);
    json_object_set(part, "raw", rawinfo);
    json_object_set(part, "zero_dates_by_column", zeros);
    json_object_set(part, "zero_dates", zero_totals);
    json_object_set_new(part, "read_seconds", json_real(tread));
    json_object_set_new(part, "finish_seconds", json_real(sl_mono_seconds() - t0 - tread));
    json_object_set(result, "run", part);
    rc = SL_OK;
done:
    items_join(&items, 1, NULL); /* a failed task: its items' read stops */
    items_free(&items);
    if (tail_on) pthread_join(tail_th, NULL); /* a failed read: the tail's outcome goes with it */
    for (int d = 0; d < TF__DATASETS; d++) {
        pq_writer_free(t.out[d].w);
        sl_sink_release(t.out[d].sink);
    }
    sl_task_files_free(t.files, rc == SL_OK);
    tf_free(st);
    if (spill_rows) fclose(spill_rows);
    if (spill_spends) fclose(spill_spends);
    sl_free(rp.excl);
    json_decref(rows);
    json_decref(rawinfo);
    json_decref(part);
    json_decref(zeros);
    json_decref(zero_totals);
    json_decref(secs);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* the commit */

/* The commit's merge: the products stream by in id order, and so does each orders
 * shard's stream of units sold; a product's units are the sum of the heads of its id. */
typedef struct sold_merge {
    tf_state *st;
    int n;
    struct sold_head {
        sl_unpacker *u;
        int more;       /* head holds the stream's next record */
        uint64_t id;
        int64_t units;
        const char *whose;
    } *s;
} sold_merge;

/* The next (id, units) record of stream h into its head; h->more = 0 at its end. */
static sl_code sold_advance(struct sold_head *h, sl_err *err)
{
    const uint8_t *p;
    uint64_t before = h->id;
    int had = h->more;
    SL_TRY(sl_unpacker_take(h->u, 16, &p, err));
    h->more = p != NULL;
    if (!p) return SL_OK;
    memcpy(&h->id, p, 8);
    memcpy(&h->units, p + 8, 8);
    if (had && h->id <= before)
        return sl_err_set(err, SL_E_FORMAT, "%s: its units sold do not come in ascending product id order", h->whose);
    return SL_OK;
}

/* The units sold of product id over every stream: the heads below id (products that are
 * not in products) are passed over. */
static sl_code sold_of(sold_merge *m, uint64_t id, int64_t *units, sl_err *err)
{
    *units = 0;
    for (int k = 0; k < m->n; k++) {
        struct sold_head *h = &m->s[k];
        while (h->more && h->id < id) SL_TRY(sold_advance(h, err));
        if (h->more && h->id == id) {
            if (__builtin_add_overflow(*units, h->units, units))
                return sl_err_set(err, SL_E_DATA, "units sold of product %lld overflow int64", (long long)id);
            SL_TRY(sold_advance(h, err));
        }
    }
    return SL_OK;
}

/* Whole product records of p[0, n), each a product_turnover row of the state with its
 * units sold (sl_unpack_fn; ud the sold_merge). */
static sl_code merge_products(void *ud, const uint8_t *p, size_t n, size_t *used, sl_err *err)
{
    sold_merge *m = ud;
    size_t at = 0;
    for (;;) {
        size_t r = at;
        int64_t id = 0, hand = 0;
        tf_text t[3];
        if (n - r < 17) break;
        memcpy(&id, p + r, 8);
        uint8_t has = p[r + 8];
        memcpy(&hand, p + r + 9, 8);
        r += 17;
        int j;
        for (j = 0; j < 3; j++) {
            uint32_t len = 0;
            if (n - r < 4) break;
            memcpy(&len, p + r, 4);
            r += 4;
            t[j].p = NULL;
            t[j].n = 0;
            if (len == UINT32_MAX) continue;
            if (n - r < len) break;
            t[j].p = (const char *)p + r;
            t[j].n = len;
            r += len;
        }
        if (j < 3) break; /* the rest comes with the next bytes */
        int64_t units;
        SL_TRY(sold_of(m, (uint64_t)id, &units, err));
        SL_TRY(tf_turnover_add(m->st, id, t, has != 0, hand, units, err));
        at = r;
    }
    *used = at;
    return SL_OK;
}

/* The tasks' results into the commit's state: the orders shards' sums first, then the
 * inventory task's products, each turned into its product_turnover row as it comes (in
 * id order) with its units sold read from the shards' streams beside it (in id order
 * too), so that neither the products nor the units sold are kept. */
static sl_code merge_results(sl_store *store, tf_state *st, json_t *const *chosen, int ntasks, sl_err *err)
{
    sl_code rc = SL_OK;
    sold_merge m = {st, 0, sl_calloc((size_t)(ntasks > 0 ? ntasks : 1), sizeof *m.s)};
    char(*whose)[48] = sl_calloc((size_t)(ntasks > 0 ? ntasks : 1), sizeof *whose); /* for messages */
    if (!m.s || !whose) rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (int k = 0; rc == SL_OK && k < ntasks; k++) snprintf(whose[k], sizeof whose[k], "the result of task %d", k);
    for (int k = 0; rc == SL_OK && k < ntasks; k++) {
        const json_t *part = json_object_get(chosen[k], "run");
        const char *kind = sl_plan_str(part, "kind");
        if (strcmp(kind, "orders") == 0) {
            tf_order_sums sums;
            i64_from(json_object_get(part, "hour_count"), sums.hour_count, 24);
            i64_from(json_object_get(part, "hour_revenue"), sums.hour_revenue, 24);
            i64_from(json_object_get(part, "segment_customers"), sums.seg.customers, 4);
            i64_from(json_object_get(part, "segment_vips"), sums.seg.vips, 4);
            i64_from(json_object_get(part, "segment_orders"), sums.seg.orders, 4);
            i64_from(json_object_get(part, "segment_spent"), sums.seg.spent, 4);
            rc = tf_merge_orders(st, &sums, err);
            struct sold_head *h = &m.s[m.n];
            h->whose = whose[k];
            if (rc == SL_OK && !(h->u = sl_unpacker_open(store, json_object_get(part, "sold_packed"), h->whose, "units sold",
                                                         err)))
                rc = err && err->code ? err->code : SL_E_FORMAT;
            if (rc == SL_OK) {
                m.n++;
                rc = sold_advance(h, err);
            }
        } else if (strcmp(kind, "inventory") != 0) {
            rc = sl_err_set(err, SL_E_FORMAT, "the result of task %d is not a result of `sluice run`", k);
        }
    }
    for (int k = 0; rc == SL_OK && k < ntasks; k++) {
        const json_t *part = json_object_get(chosen[k], "run");
        if (strcmp(sl_plan_str(part, "kind"), "inventory") == 0)
            rc = sl_unpack(store, json_object_get(part, "products_packed"), whose[k], "products", merge_products, &m,
                           err);
    }
    /* the rest of each stream (units of products not in products) is read too: a
     * damaged or cut stream fails here rather than pass unseen */
    for (int k = 0; rc == SL_OK && k < m.n; k++)
        while (rc == SL_OK && m.s[k].more) rc = sold_advance(&m.s[k], err);
    for (int k = 0; m.s && k < m.n; k++) sl_unpacker_free(m.s[k].u);
    sl_free(m.s);
    sl_free(whose);
    return rc;
}

/* The raw tables' commits, begun and filled with their files and manifests' extra
 * fields but not finished: sl_run_commit finishes them with the insights, as one. On
 * failure cs[] holds what was begun (the caller aborts and frees cs[] and extras[]). */
static sl_code commit_raw(const json_t *plan, json_t *const *chosen, int ntasks, sl_store *st,
                          const sl_commit_info *info, sl_commit **cs, json_t **extras, sl_err *err)
{
    for (int s = 0; s < TF__SOURCES; s++) {
        const char *name = tf_source_name(s);
        const char *prefix = sl_plan_str(json_object_get(plan, "raw_prefixes"), name);
        sl_commit *c = sl_commit_begin(st, prefix, sl_plan_str(plan, "run_id"), sl_plan_str(plan, "date"), err);
        if (!c) return err && err->code ? err->code : SL_E_STORAGE;
        cs[s] = c;
        json_t *schema = NULL;
        int64_t rows = 0, zd = 0;
        for (int k = 0; k < ntasks; k++) {
            const json_t *part = json_object_get(chosen[k], "run");
            const json_t *ri = json_object_get(json_object_get(part, "raw"), name);
            if (!ri) continue;
            if (!schema) schema = json_object_get(ri, "schema");
            zd += sl_plan_int(ri, "zero_dates_total", 0);
            rows += sl_plan_int(json_object_get(part, "rows_read"), name, 0);
            SL_TRY(sl_result_add_files(c, prefix, chosen[k], err));
        }
        json_t *extra = json_pack("{s:s, s:{s:s, s:s}, s:O, s:I, s:o, s:I, s:s}", "kind", "export", "source",
                                  "database", sl_plan_str(plan, "database"), "table", name, "schema",
                                  schema ? schema : json_null(), "rows_read", (json_int_t)rows, "snapshot",
                                  sl_plan_snapshot_json(plan), "zero_dates_total", (json_int_t)zd, "compression",
                                  sl_plan_str(json_object_get(plan, "writer"), "compression"));
        if (!extra) return sl_err_set(err, SL_E_NOMEM, "out of memory");
        if (info && info->engine) json_object_update(extra, (json_t *)info->engine);
        extras[s] = extra;
    }
    return SL_OK;
}

/* The manifest's "data_quality": zero dates from every task's readers, the inventory
 * counts of the inventory task, the orders of unknown customers summed over shards. */
static json_t *quality_json(json_t *const *chosen, int ntasks)
{
    static const char *const keys[] = {"capacity_null", "capacity_zero", "quantity_above_capacity",
                                       "last_updated_in_future", "inventory_unknown_product",
                                       "inventory_unknown_warehouse", "orders_unknown_customer"};
    int64_t sums[7] = {0}, zero = 0;
    json_t *by = json_object();
    for (int k = 0; k < ntasks; k++) {
        const json_t *part = json_object_get(chosen[k], "run");
        const char *key;
        json_t *v;
        for (int i = 0; i < 7; i++) sums[i] += sl_plan_int(json_object_get(part, "quality"), keys[i], 0);
        json_object_foreach((json_t *)json_object_get(part, "zero_dates"), key, v) zero += json_integer_value(v);
        json_object_foreach((json_t *)json_object_get(part, "zero_dates_by_column"), key, v)
            json_object_set_new(by, key, json_integer(sl_plan_int(by, key, 0) + json_integer_value(v)));
    }
    json_t *q = json_pack("{s:I, s:o}", "zero_dates_replaced", (json_int_t)zero, "zero_dates_by_column", by);
    for (int i = 0; i < 7; i++) json_object_set_new(q, keys[i], json_integer(sums[i]));
    return q;
}

/* A task's count part[key], when it has one: copied to its manifest entry tj, and
 * returned for the run's total (0 otherwise). */
static json_int_t task_count(json_t *tj, const json_t *part, const char *key)
{
    json_t *v = json_object_get(part, key);
    if (!json_is_integer(v)) return 0;
    json_object_set(tj, key, v);
    return json_integer_value(v);
}

/* For the metrics file: per source table the rows read, the zero dates, and (--raw) the
 * bytes of its files: summary "sources": {table: {"rows", "zero_dates", "bytes"?}}. */
static void summary_sources(const json_t *plan, json_t *const *chosen, int ntasks, json_t *summary)
{
    json_t *src = json_object();
    const json_t *rawp = json_object_get(plan, "raw_prefixes");
    int raw = json_is_true(json_object_get(plan, "raw"));
    for (int s = 0; s < TF__SOURCES; s++) {
        json_t *e = json_pack("{s:I, s:I}", "rows", (json_int_t)0, "zero_dates", (json_int_t)0);
        if (raw) json_object_set_new(e, "bytes", json_integer(0));
        json_object_set_new(src, tf_source_name(s), e);
    }
    for (int k = 0; k < ntasks; k++) {
        const json_t *part = json_object_get(chosen[k], "run");
        for (int s = 0; s < TF__SOURCES; s++) {
            const char *name = tf_source_name(s);
            json_t *e = json_object_get(src, name);
            json_object_set_new(e, "rows", json_integer(sl_plan_int(e, "rows", 0) +
                                                        sl_plan_int(json_object_get(part, "rows_read"), name, 0)));
            json_object_set_new(e, "zero_dates", json_integer(sl_plan_int(e, "zero_dates", 0) +
                                                              sl_plan_int(json_object_get(part, "zero_dates"), name, 0)));
            size_t i;
            json_t *f;
            json_array_foreach(json_object_get(chosen[k], "files"), i, f)
            if (raw && strcmp(sl_plan_str(f, "partition"), sl_plan_str(rawp, name)) == 0)
                json_object_set_new(e, "bytes", json_integer(sl_plan_int(e, "bytes", 0) + sl_plan_int(f, "bytes", 0)));
        }
    }
    json_object_set_new(summary, "sources", src);
}

sl_code sl_run_commit(const json_t *plan, json_t *const *chosen, sl_store *st, const sl_commit_info *info,
                      json_t *summary, sl_err *err)
{
    int ntasks = sl_plan_ntasks(plan), files = 0;
    rn_params rp = {0};
    rn_task cm = {plan, NULL, NULL, {{0}}, sl_plan_str(plan, "prefix"), {0}, {0}, 0, 0}; /* writes with emit, as a task */
    sl_commit *c = NULL;
    tf_state *tf = NULL;
    pq_options po;
    sl_plan_pq_options(plan, &po);
    const char *prefix = cm.prefix;
    double t0 = sl_mono_seconds();
    json_t *merged_files = json_array();
    sl_code rc;
    /* The raw tables (with --raw) and the insights commit as one (sink/commit.h,
     * sl_commit_finish_all): the insights' _SUCCESS last. */
    sl_commit *all[TF__SOURCES + 1] = {NULL};
    json_t *extras[TF__SOURCES + 1] = {NULL};
    int nraw = json_is_true(json_object_get(plan, "raw")) ? TF__SOURCES : 0;
    SL_TRY_GOTO(rc, params_from_plan(plan, &rp, err), done);
    if (nraw) SL_TRY_GOTO(rc, commit_raw(plan, chosen, ntasks, st, info, all, extras, err), done);
    c = sl_commit_begin(st, prefix, sl_plan_str(plan, "run_id"), sl_plan_str(plan, "date"), err);
    if (!c) {
        rc = err && err->code ? err->code : SL_E_STORAGE;
        goto done;
    }
    for (int k = 0; k < ntasks; k++) SL_TRY_GOTO(rc, sl_result_add_files(c, prefix, chosen[k], err), done);
    tf = tf_create(&rp.tf, emit, &cm, err);
    if (!tf) {
        rc = err && err->code ? err->code : SL_E_NOMEM;
        goto done;
    }
    static const tf_dataset merged[] = {TF_HOURLY_ORDERS, TF_PRODUCT_TURNOVER, TF_CUSTOMER_SEGMENTS};
    for (int i = 0; i < 3; i++) {
        tf_dataset d = merged[i];
        char source[200];
        snprintf(cm.out[d].name, sizeof cm.out[d].name, "%s/part-00000-%s.%s.parquet", tf_dataset_name(d),
                 sl_plan_str(plan, "run_id"), pq_codec_name(po.codec));
        snprintf(source, sizeof source, "sluice run: %s", tf_dataset_name(d));
        /* product_turnover (a row a product) in row groups of at most 16,384 rows: the
         * report reads it back a row group at a time, as text cells, which would
         * otherwise take some 100 bytes a product at once */
        pq_options pd = po;
        if (d == TF_PRODUCT_TURNOVER && (pd.row_group_rows == 0 || pd.row_group_rows > 16384)) pd.row_group_rows = 16384;
        SL_TRY_GOTO(rc, sl_exec_open_parquet(c, cm.out[d].name, tf_schema(tf, d), &pd, source,
                                             sl_plan_str(plan, "run_id"), sl_plan_str(plan, "date"),
                                             sl_plan_consistency(plan), &cm.out[d].sink, &cm.out[d].w, err), done);
    }
    SL_TRY_GOTO(rc, merge_results(st, tf, chosen, ntasks, err), done);
    SL_TRY_GOTO(rc, tf_finish_merged(tf, err), done);
    for (int i = 0; i < 3; i++) {
        tf_dataset d = merged[i];
        pq_file_info fi;
        SL_TRY_GOTO(rc, pq_writer_close(cm.out[d].w, &fi, err), done);
        SL_TRY_GOTO(rc, sl_commit_set_rows(c, cm.out[d].name, fi.rows, err), done);
        uint64_t bytes;
        char sum[SL_SHA256_TEXT_SIZE];
        SL_TRY_GOTO(rc, sl_commit_file_info(c, cm.out[d].name, &bytes, sum, err), done);
        /* listed with the tasks' files below, as the commit's own result */
        json_array_append_new(merged_files, json_pack("{s:s, s:s, s:I, s:I, s:s}", "partition", prefix, "name",
                                                      cm.out[d].name, "rows", (json_int_t)fi.rows, "bytes",
                                                      (json_int_t)bytes, "checksum", sum));
        pq_writer_free(cm.out[d].w);
        cm.out[d].w = NULL;
    }
    /* The merged state (every product, with its names) is done with: gone before the
     * report reads product_turnover back, or the two would add up at the run's end. */
    tf_free(tf);
    tf = NULL;
    double commit_compute = sl_mono_seconds() - t0;

    /* The manifest: datasets with their files, the sources read, the snapshot, timings. */
    json_t *datasets = json_object(), *reads = json_object(), *tasks = json_array();
    double read_s = 0, fin_s = 0;
    int passes = 0, product_passes = 1;
    json_int_t sold_runs = 0, window_runs = 0, spilled = 0, items_spilled = 0, beside = 0;
    for (int d = 0; d < TF__DATASETS; d++)
        json_object_set_new(datasets, tf_dataset_name(d), json_pack("{s:I, s:I, s:[]}", "rows", (json_int_t)0,
                                                                    "bytes", (json_int_t)0, "files"));
    for (int k = 0; k <= ntasks; k++) {
        const json_t *fl = k < ntasks ? json_object_get(chosen[k], "files") : merged_files;
        size_t i;
        json_t *f;
        json_array_foreach(fl, i, f)
        {
            files++;
            if (strcmp(sl_plan_str(f, "partition"), prefix) != 0) continue;
            const char *name = sl_plan_str(f, "name"), *slash = strchr(name, '/');
            char ds[64];
            snprintf(ds, sizeof ds, "%.*s", slash ? (int)(slash - name) : 0, name);
            json_t *e = json_object_get(datasets, ds);
            if (!e) continue;
            json_object_set_new(e, "rows", json_integer(sl_plan_int(e, "rows", 0) + sl_plan_int(f, "rows", 0)));
            json_object_set_new(e, "bytes", json_integer(sl_plan_int(e, "bytes", 0) + sl_plan_int(f, "bytes", 0)));
            json_array_append_new(json_object_get(e, "files"), json_string(name));
        }
        if (k == ntasks) break;
        const json_t *part = json_object_get(chosen[k], "run");
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)json_object_get(part, "rows_read"), key, v)
        {
            json_t *e = json_object_get(reads, key);
            if (!e) json_object_set_new(reads, key, e = json_pack("{s:I, s:f}", "rows", (json_int_t)0, "seconds", 0.0));
            json_object_set_new(e, "rows", json_integer(sl_plan_int(e, "rows", 0) + json_integer_value(v)));
            /* seconds: the longest of the tasks that read the table (shards read it at once) */
            double sec = json_number_value(json_object_get(json_object_get(part, "read_seconds_by_source"), key));
            if (sec > json_number_value(json_object_get(e, "seconds")))
                json_object_set_new(e, "seconds", json_real(sec));
        }
        double rs = json_real_value(json_object_get(part, "read_seconds"));
        double fs = json_real_value(json_object_get(part, "finish_seconds"));
        if (rs > read_s) read_s = rs;
        if (fs > fin_s) fin_s = fs;
        json_t *tj = sl_result_engine_json(chosen[k]);
        json_object_set_new(tj, "label", json_string(sl_plan_str(json_array_get(json_object_get(plan, "tasks"), (size_t)k), "label")));
        json_object_set_new(tj, "seconds", json_real(json_real_value(json_object_get(chosen[k], "seconds"))));
        if (json_is_integer(json_object_get(part, "passes"))) {
            json_object_set(tj, "passes", json_object_get(part, "passes"));
            if (strcmp(sl_plan_str(part, "kind"), "inventory") == 0)
                product_passes = (int)json_integer_value(json_object_get(part, "passes"));
            else passes += (int)json_integer_value(json_object_get(part, "passes"));
        }
        sold_runs += task_count(tj, part, "sold_runs");
        window_runs += task_count(tj, part, "window_runs");
        items_spilled += task_count(tj, part, "window_items_spilled");
        if (json_is_boolean(json_object_get(part, "items_beside"))) {
            json_object_set(tj, "items_beside", json_object_get(part, "items_beside"));
            beside += json_is_true(json_object_get(part, "items_beside"));
        }
        size_t nsp = json_array_size(json_object_get(chosen[k], "spilled"));
        json_object_set_new(tj, "spilled_results", json_integer((json_int_t)nsp));
        spilled += (json_int_t)nsp;
        json_array_append_new(tasks, tj);
    }
    const char *key;
    json_t *v;
    json_object_foreach(datasets, key, v)
    if (json_array_size(json_object_get(v, "files")) == 1)
        json_object_set(v, "file", json_array_get(json_object_get(v, "files"), 0));
    /* the snapshot's connections: the tasks', and those that read a window's items beside */
    json_t *snap = sl_plan_snapshot_json(plan);
    json_object_set_new(snap, "connections", json_integer(sl_plan_int(snap, "connections", 0) + beside));
    json_t *extra = json_pack("{s:s, s:O, s:o, s:o, s:o, s:{s:f, s:f}, s:O}", "kind", "business_insights",
                              "parameters", json_object_get(plan, "parameters"), "datasets", datasets, "sources", reads,
                              "snapshot", snap, "timings", "read_seconds", read_s,
                              "compute_and_write_seconds", fin_s + commit_compute, "tasks", tasks);
    if (info && info->engine) json_object_update(extra, (json_t *)info->engine);
    json_object_set_new(extra, "data_quality", quality_json(chosen, ntasks));
    /* the limit, the passes its orders shards took (one each: their state fitted) and
     * those of the inventory task over the products */
    json_object_set_new(extra, "memory",
                        json_pack("{s:I, s:i, s:i, s:I, s:I, s:I, s:I}", "limit",
                                  (json_int_t)sl_plan_int(plan, "memory_limit", 0), "passes", passes, "product_passes",
                                  product_passes, "sold_runs", sold_runs, "window_runs", window_runs,
                                  "window_items_spilled", items_spilled, "spilled_results", spilled));
    /* the inventory task's tallies of inventory_analytics, for the report */
    rp_inventory inv = {0}, *invp = NULL;
    for (int k = 0; k < ntasks; k++) {
        const json_t *ri = json_object_get(json_object_get(chosen[k], "run"), "report_inventory");
        if (!json_is_object(ri)) continue;
        invp = &inv;
        inv.rows += sl_plan_int(ri, "rows", 0);
        inv.score_null += sl_plan_int(ri, "score_null", 0);
        int64_t add[RP_SCORE_BINS];
        i64_from(json_object_get(ri, "bins"), add, RP_SCORE_BINS);
        for (int i = 0; i < RP_SCORE_BINS; i++) inv.bins[i] += add[i];
        i64_from(json_object_get(ri, "status"), add, 4);
        for (int i = 0; i < 4; i++) inv.status[i] += add[i];
    }
    rc = rp_commit_report(c, st, sl_plan_str(plan, "run_id"), sl_plan_str(plan, "date"), extra, invp, &cm.restock,
                          err);
    if (rc == SL_OK) {
        all[nraw] = c;
        extras[nraw] = extra;
        rc = sl_commit_finish_all(all, (const json_t *const *)extras, (size_t)nraw + 1, err);
        extras[nraw] = NULL;
    }
    json_object_set(summary, "datasets", datasets);
    json_decref(extra);
    json_decref(tasks);
    if (rc != SL_OK) goto done;
    json_object_set_new(summary, "files", json_integer(files));
    summary_sources(plan, chosen, ntasks, summary);
    json_object_set_new(summary, "read_seconds", json_real(read_s));
    json_object_set_new(summary, "finish_seconds", json_real(fin_s + commit_compute));
    json_object_set_new(summary, "commit_seconds", json_real(sl_mono_seconds() - t0 - commit_compute));
done:
    for (int d = 0; d < TF__DATASETS; d++) {
        pq_writer_free(cm.out[d].w);
        sl_sink_release(cm.out[d].sink);
    }
    if (c) {
        if (rc != SL_OK) sl_commit_abort(c);
        sl_commit_free(c);
    }
    for (int i = 0; i < nraw; i++) {
        if (rc != SL_OK) sl_commit_abort(all[i]);
        sl_commit_free(all[i]);
        json_decref(extras[i]);
    }
    tf_free(tf);
    rp_restock_free(&cm.restock);
    sl_free(rp.excl);
    json_decref(merged_files);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* the threaded run */

sl_code sl_run_pipeline(const sl_config *cfg, const sl_run_opts *o, sl_run_result *res, sl_err *err)
{
    double t0 = sl_mono_seconds();
    json_t *plan = NULL, *sum = NULL;
    memset(res, 0, sizeof *res);
    res->consistency = o->consistency == MY_SNAPSHOT ? "snapshot" : "none";
    sl_code rc = sl_run_plan(cfg, o, &plan, err);
    sl_metrics_stage(o->metrics, "plan", sl_mono_seconds() - t0);
    if (rc == SL_OK) {
        rc = sl_plan_here(cfg, plan, o->dry_run, o->progress, res->run_id, sizeof res->run_id, &res->consistency,
                          &res->lock, &sum, err);
        if (o->dry_run) {
            json_decref(plan);
            return rc;
        }
        snprintf(res->date, sizeof res->date, "%s", sl_plan_str(plan, "date"));
    }
    if (rc == SL_OK) {
        const json_t *ds = json_object_get(sum, "datasets");
        for (int d = 0; d < TF__DATASETS; d++) {
            res->rows[d] = sl_plan_int(json_object_get(ds, tf_dataset_name(d)), "rows", 0);
            res->bytes[d] = (uint64_t)sl_plan_int(json_object_get(ds, tf_dataset_name(d)), "bytes", 0);
        }
        res->files = (int)sl_plan_int(sum, "files", 0);
        res->read_seconds = json_real_value(json_object_get(sum, "read_seconds"));
        res->finish_seconds = json_real_value(json_object_get(sum, "finish_seconds"));
        res->commit_seconds = json_real_value(json_object_get(sum, "commit_seconds"));
    }
    sl_metrics_add_run(o->metrics, plan, rc == SL_OK ? sum : NULL);
    json_decref(sum);
    json_decref(plan);
    res->seconds = sl_mono_seconds() - t0;
    return sl_stop_override(rc, err); /* planning cut by a stop is the stop too */
}
