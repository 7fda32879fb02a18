/* analytics.h - the business analytics of `sluice run`, batch in, batch out: the six
 * datasets of the original PySpark job (README, "Analytics definitions"), computed by
 * streaming the source tables once and keeping state sized by customers, products,
 * warehouses and the orders of the sales window - never by all orders.
 *
 * Feeding: three independent sequences, which may run on three threads at once:
 *   customers                        (names for order_analytics)
 *   products, warehouses, inventory  (inventory rows are emitted as they stream)
 *   orders, order_items              (order_items needs the window's orders)
 * then tf_finish on one thread emits the remaining datasets. Input batches carry the
 * columns named in tf_source_columns (any integer type for ids and quantities,
 * DECIMAL with scale <= 2 for money, DATETIME as UTC timestamps). */
#ifndef SL_ANALYTICS_H
#define SL_ANALYTICS_H

#include <stdint.h>
#include <stdio.h>

#include "../batch/batch.h"
#include "../common/sl_error.h"

typedef enum tf_dataset {
    TF_INVENTORY_ANALYTICS,
    TF_ORDER_ANALYTICS,
    TF_HOURLY_ORDERS,
    TF_WAREHOUSE_UTILIZATION,
    TF_PRODUCT_TURNOVER,
    TF_CUSTOMER_SEGMENTS,
    TF__DATASETS
} tf_dataset;

typedef enum tf_source { TF_CUSTOMERS, TF_PRODUCTS, TF_WAREHOUSES, TF_INVENTORY, TF_ORDERS, TF_ORDER_ITEMS, TF__SOURCES } tf_source;

const char *tf_dataset_name(tf_dataset d);      /* "inventory_analytics", ... */
const char *tf_source_name(tf_source s);        /* "customers", ... */
/* The columns the analytics read from each source table, NULL-terminated. */
const char *const *tf_source_columns(tf_source s);

typedef struct tf_params {
    int64_t as_of_us;              /* UTC microseconds */
    const char *const *exclude_status; /* order statuses left out, default {"cancelled"} */
    int nexclude;
    double restock_below;          /* 0.2 */
    double overstock_above;        /* 0.8 */
    double optimal;                /* 0.5 */
    int window_days;               /* 30 */
    double vip_percentile;         /* 95 */
    const char *run_id;
} tf_params;

void tf_params_default(tf_params *p);

/* Receives every output batch (full ones while streaming, the last partial one at
 * finish) of dataset d; the batch is reset and reused after the call returns, unless the
 * callback kept its rows by exchanging them for an empty batch of tf_batch_like
 * (sl_batch_swap). Called from the thread that fed the rows (inventory_analytics: the
 * inventory sequence's thread). */
typedef sl_code (*tf_emit_fn)(void *ud, tf_dataset d, sl_batch *b, sl_err *err);

typedef struct tf_state tf_state;

tf_state *tf_create(const tf_params *p, tf_emit_fn emit, void *ud, sl_err *err);
/* The output schema of a dataset (owned by the state). */
const sl_schema *tf_schema(const tf_state *st, tf_dataset d);
/* An empty batch of the shape dataset d's rows are emitted in (sl_batch_free it). */
sl_batch *tf_batch_like(const tf_state *st, tf_dataset d, sl_err *err);

sl_code tf_add(tf_state *st, tf_source src, const sl_batch *b, sl_err *err);

/* order_items apart from the state, for a task that reads them on another thread while
 * the orders stream in: tf_items_of takes the rows [first, first + count) of an
 * order_items batch that have no NULL in the three columns, as items, into out (room for
 * count); *n receives how many. It touches no state (any thread). tf_add_items then adds
 * them, after the orders, as tf_add of their batch would have. */
typedef struct tf_item {
    uint64_t order_id;
    int64_t product_id, quantity;
} tf_item;
sl_code tf_items_of(const sl_batch *b, size_t first, size_t count, tf_item *out, size_t *n, sl_err *err);
sl_code tf_add_items(tf_state *st, const tf_item *it, size_t n, sl_err *err);
/* Call after each of the three sequences has fed its last batch. */
sl_code tf_finish(tf_state *st, sl_err *err);
/* ---- a run in tasks (exec/run.c) ----
 * The inventory side (products, warehouses, inventory) and the orders side (customers,
 * orders, order_items), the latter split by customer-id ranges, run as separate tasks on
 * states of their own; their partial sums merge exactly (integers) into one state that
 * writes what needs them all:
 *   inventory task   tf_add ..., tf_each_product (passed on: names, on hand; the
 *                    product passes replayed), tf_finish_inventory: inventory_analytics,
 *                    warehouse_utilization
 *   order shard      tf_add ..., tf_spends -> every shard's spends -> the threshold at
 *                    tf_vip_rank of them all (or tf_own_vip_threshold alone),
 *                    tf_finish_orders: its customers' order_analytics rows; passes on
 *                    tf_order_sums_get and tf_each_sold
 *   commit           tf_merge_orders, then tf_turnover_add (each product in id order,
 *                    its units sold summed from every shard's tf_each_sold stream, also
 *                    in id order: a product_turnover row at once, neither kept),
 *                    tf_finish_merged: hourly_orders, customer_segments
 * tf_finish is the three on one state. */

typedef struct tf_text {
    const char *p; /* NULL: SQL NULL */
    size_t n;
} tf_text;

typedef struct tf_segment_sums {
    int64_t customers[4], vips[4], orders[4], spent[4]; /* one-time, occasional, regular, frequent */
} tf_segment_sums;

typedef struct tf_order_sums {
    int64_t hour_count[24], hour_revenue[24]; /* revenue in cents */
    tf_segment_sums seg;
} tf_order_sums;

sl_code tf_finish_inventory(tf_state *st, sl_err *err);
/* The customers' totals (cents) in ascending order (*sorted: sl_free it). */
sl_code tf_spends(const tf_state *st, int64_t **sorted, size_t *n, sl_err *err);
/* The 1-based rank in the ascending totals of n customers that the threshold is (0: n = 0). */
size_t tf_vip_rank(const tf_state *st, size_t n);
/* The VIP threshold of this state's customers alone (one shard): selected, not sorted. */
sl_code tf_own_vip_threshold(const tf_state *st, int64_t *threshold, sl_err *err);
/* The k-th smallest (1-based, 1 <= k <= n) of v's n values, v reordered: the value at
 * rank k of v sorted ascending, in expected linear time. */
int64_t tf_select_i64(int64_t *v, size_t n, size_t k);
sl_code tf_finish_orders(tf_state *st, int64_t threshold, sl_err *err);
/* A run bounded by --memory-limit takes an orders shard in passes: customer-id ranges,
 * bounds[i] the lowest id of pass i + 1 (ascending). Its customers and orders still
 * stream through tf_add once: the rows of pass 0 build the state as usual, those of
 * passes 1.. go to their pass's spill files (cust_files[i], ord_files[i], i >= 1, opened
 * for update; owned by the state from the call on); what is not per customer (hours, the
 * window's orders, the items) is kept as always. Call before the first tf_add.
 * tf_passes_finish then finishes one pass after the other, each loaded alone from its
 * files: its customers' rows, VIP flag aside, in id order to `rows`, their totals (int64
 * cents) to `spends` (tf_orders_spill without passes: the one state's). Once the
 * threshold is known, tf_orders_emit_spilled reads `rows` back (from the start) and emits
 * them exactly as tf_finish_orders would have: the same rows and segment sums. */
sl_code tf_passes_begin(tf_state *st, const int64_t *bounds, int npasses, FILE **cust_files, FILE **ord_files,
                        sl_err *err);
sl_code tf_passes_finish(tf_state *st, FILE *rows, FILE *spends, sl_err *err);
sl_code tf_orders_spill(tf_state *st, FILE *rows, FILE *spends, sl_err *err);
sl_code tf_orders_emit_spilled(tf_state *st, FILE *rows, int64_t threshold, sl_err *err);
void tf_order_sums_get(const tf_state *st, tf_order_sums *p);
sl_code tf_merge_orders(tf_state *st, const tf_order_sums *p, sl_err *err);
/* The units sold per product, in ascending (unsigned) id order, each id once. */
sl_code tf_each_sold(tf_state *st, sl_code (*fn)(void *ud, int64_t product_id, int64_t units, sl_err *err),
                     void *ud, sl_err *err);
sl_code tf_add_sold(tf_state *st, int64_t product_id, int64_t units, sl_err *err);
/* The sorted runs a run bounded by --memory-limit spills, each kind to a spill file that
 * open(ud) makes at its first run; tf_each_sold merges them back. Call before the first
 * tf_add.
 *   units sold   at most max_products products in memory: at the next new product
 *                they go, sorted by id, as one run;
 *   window ids   past window_bytes (tf_idset_bytes) the sales window's order ids go
 *                as a run sorted by id; the order items of orders in the window's id
 *                range then go to runs sorted by order id, window_bytes at a time, and
 *                tf_each_sold first joins the two (a merge: the same units sold). */
void tf_spill_bounds(tf_state *st, size_t max_products, size_t window_bytes, FILE *(*open)(void *ud, sl_err *err),
                     void *ud);
/* The sorted runs of units sold written so far (0: all in memory). */
size_t tf_sold_runs(const tf_state *st);
/* How many runs the window's ids went to (0: they stayed in memory). */
size_t tf_window_runs(const tf_state *st);
/* Products in passes, for a run bounded by --memory-limit: product-id ranges, bounds[i]
 * the lowest id of pass i + 1 (ascending); negative ids go with the last pass, where the
 * unsigned id order of tf_each_product puts them. The products stream through tf_add
 * once: those of pass 0 build the state as usual, those of passes 1.. go to
 * prod_files[i], and the inventory rows of their ids to inv_files[i] (i >= 1, opened for
 * update; owned by the state from the call on), waiting for tf_each_product. Call before
 * the first tf_add. */
sl_code tf_product_passes_begin(tf_state *st, const int64_t *bounds, int npasses, FILE **prod_files,
                                FILE **inv_files, sl_err *err);
/* Each product, in ascending (unsigned) id order, with its sku, name, category (strs[3])
 * and, when known, its units on hand. With product passes it ends pass 0, then loads each
 * later pass alone and replays its inventory rows (their inventory_analytics rows, the
 * warehouse sums) before its products: call it once, before tf_finish_inventory. */
sl_code tf_each_product(tf_state *st,
                        sl_code (*fn)(void *ud, int64_t product_id, const tf_text *strs, int has_on_hand,
                                      int64_t on_hand, sl_err *err),
                        void *ud, sl_err *err);
/* The product_turnover row of one product (tf_each_product's arguments) with its units
 * sold (every shard's, summed); ids must come ascending (SL_E_FORMAT otherwise). */
sl_code tf_turnover_add(tf_state *st, int64_t product_id, const tf_text *strs, int has_on_hand, int64_t on_hand,
                        int64_t units_sold, sl_err *err);
/* hourly_orders and customer_segments from the merged sums; the last product_turnover
 * rows out. */
sl_code tf_finish_merged(tf_state *st, sl_err *err);

/* Rows emitted so far per dataset. */
int64_t tf_rows(const tf_state *st, tf_dataset d);

/* Data-quality counts of the source rows that streamed through (the run report and the
 * manifest's "data_quality"). Inventory counts are of all inventory rows; "unknown"
 * means no row of that id in products / warehouses / customers (a NULL id included, as
 * a LEFT JOIN finds nothing for it). Orders of unknown customers count every orders row,
 * counted or not. Valid after tf_finish (inventory counts after tf_finish_inventory, the
 * orders' after tf_finish_orders; a shard counts the orders of its own customer range). */
typedef struct tf_quality {
    int64_t capacity_null;           /* inventory.capacity IS NULL */
    int64_t capacity_zero;           /* inventory.capacity <= 0 (0, or negative in a signed column) */
    int64_t quantity_above_capacity; /* quantity > capacity, both present, capacity > 0 */
    int64_t last_updated_future;     /* last_updated > as_of */
    int64_t inventory_unknown_product, inventory_unknown_warehouse;
    int64_t orders_unknown_customer;
} tf_quality;
void tf_quality_get(const tf_state *st, tf_quality *q);
void tf_free(tf_state *st);

#endif
