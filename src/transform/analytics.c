/* analytics.c - the six datasets (see analytics.h; the definitions are in the README,
 * "Analytics definitions", and repeated at each formula below with its edge cases).
 *
 * State: dimension rows (customers, products, warehouses) in dense arrays behind id
 * maps, with their strings in one pool each; per-customer order aggregates; the set of
 * counted orders inside the sales window (for order_items); per-product units sold and
 * on hand; per-warehouse sums. Money is int64 cents, summed with overflow checks. */
#include "analytics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"
#include "../common/sl_prefetch.h"
#include "../common/sl_time.h"
#include "tf_idset.h"
#include "tf_map.h"

#define US_PER_DAY SL_US_PER_DAY
#define US_PER_HOUR 3600000000LL
#define MONEY_MAX 999999999999999999LL /* DECIMAL(18,2) holds 16 integer digits: 10^18 - 1 cents */
#define OUT_ROWS 8192

static const char *const dataset_names[TF__DATASETS] = {"inventory_analytics",  "order_analytics",
                                                         "hourly_orders",        "warehouse_utilization",
                                                         "product_turnover",     "customer_segments"};
static const char *const dataset_sources[TF__DATASETS] = {
    "inventory,products,warehouses", "orders,customers", "orders", "warehouses,inventory,products",
    "products,orders,order_items,inventory", "orders,customers"};
static const char *const source_names[TF__SOURCES] = {"customers", "products",  "warehouses",
                                                       "inventory", "orders",    "order_items"};

static const char *const cols_customers[] = {"customer_id", "first_name", "last_name", "email", "country", NULL};
static const char *const cols_products[] = {"product_id", "sku", "name", "category", NULL};
static const char *const cols_warehouses[] = {"warehouse_id", "name", "city", "region", "country", NULL};
/* A dimension keeps the strings after its id column, in this order. */
enum { CUST_FIRST_NAME, CUST_LAST_NAME, CUST_EMAIL, CUST_COUNTRY };
enum { PROD_SKU, PROD_NAME, PROD_CATEGORY };
enum { WH_NAME, WH_CITY, WH_REGION, WH_COUNTRY };
static const char *const cols_inventory[] = {"inventory_id", "product_id", "warehouse_id", "quantity",
                                             "capacity",     "last_updated", NULL};
static const char *const cols_orders[] = {"order_id", "customer_id", "order_date", "total_amount", "status", NULL};
static const char *const cols_order_items[] = {"order_id", "product_id", "quantity", NULL};
static const char *const *const source_cols[TF__SOURCES] = {cols_customers, cols_products, cols_warehouses,
                                                             cols_inventory, cols_orders,   cols_order_items};

const char *tf_dataset_name(tf_dataset d) { return d < TF__DATASETS ? dataset_names[d] : "?"; }
const char *tf_source_name(tf_source s) { return s < TF__SOURCES ? source_names[s] : "?"; }
const char *const *tf_source_columns(tf_source s) { return s < TF__SOURCES ? source_cols[s] : NULL; }

void tf_params_default(tf_params *p)
{
    static const char *const excl[] = {"cancelled"};
    memset(p, 0, sizeof *p);
    p->exclude_status = excl;
    p->nexclude = 1;
    p->restock_below = 0.2;
    p->overstock_above = 0.8;
    p->optimal = 0.5;
    p->window_days = 30;
    p->vip_percentile = 95;
    p->run_id = "";
}

/* ---------------------------------------------------------------------------------- */
/* state */

typedef struct str_ref {
    uint32_t off, len; /* len UINT32_MAX: NULL */
} str_ref;

/* A dimension: rows in id order of arrival, k string columns each. */
typedef struct dim {
    tf_map ids;
    uint64_t *id;
    str_ref *strs; /* n * k */
    size_t n, cap;
    int k;
    sl_buf pool;
} dim;

/* One cache line: the orders reach their customers' aggregates at random, one miss each. */
typedef struct cust_agg {
    uint64_t customer_id;
    int64_t spent; /* cents */
    int64_t first, last;
    uint32_t all_orders; /* every orders row of the id, counted or not (data quality) */
    uint32_t orders;     /* counted: 0 leaves the customer out of order_analytics */
    /* counted orders per hour of the day, modulo 256 (a byte, not 4: 72 bytes of the
     * aggregate); a count that wraps adds one to the customer's tf_state.wraps entry */
    uint8_t hours[24];
} cust_agg;
_Static_assert(sizeof(cust_agg) == 64, "a customer's aggregate is one cache line");

typedef struct wh_agg {
    int64_t qty, cap, items, restock, overstock, nscore;
    double score_sum;
} wh_agg;

/* Sorted runs of fixed-size records (the key: the uint64 they begin with) appended to
 * one spill file, each its offset and count; merged back by runs_merge. */
typedef struct tf_run {
    off_t at;
    size_t n;
} tf_run;

typedef struct tf_runs {
    FILE *f;
    size_t rec;       /* bytes a record */
    const char *what; /* for messages: "the units sold" */
    tf_run *v;
    size_t n, cap;
    off_t open_at; /* the run being written: where it starts, how many so far */
    size_t open_n;
} tf_runs;

struct tf_state {
    tf_params p;
    /* --optimal-utilization and --vip-percentile as the decimals they were given as,
     * m / pow10 (exact: 0), for the rounding and the rank they decide */
    int opt_exact, vip_exact;
    int64_t opt_m, opt_p, vip_m, vip_p;
    char **exclude;
    tf_emit_fn emit;
    void *ud;
    sl_schema *schemas[TF__DATASETS];
    sl_batch *out[TF__DATASETS];
    int64_t rows[TF__DATASETS];
    dim customers, products, warehouses;
    /* orders sequence */
    tf_map cust_ids; /* every customer id of the orders: its cust_agg */
    cust_agg *cust;  /* inside cust_mem, at a multiple of 64 bytes */
    char *cust_mem;
    /* Dense customer ids (the customers' map all direct): the aggregates of ids [crange_lo,
     * crange_lo + crange_len) are cust[id - crange_lo], found with no lookup; any other id
     * goes through cust_ids, its aggregate at crange_len + its index there. */
    uint64_t crange_lo;
    size_t crange_len;
    size_t ncust, cust_cap;
    tf_map wrap_ids;  /* customers with an hour of over 255 orders: their wraps[] */
    uint32_t (*wraps)[24];
    size_t wraps_cap;
    size_t ncounted;      /* customers with a counted order */
    int64_t hour_count[24], hour_revenue[24];
    sl_buf excl; /* add_orders: whether each text of a coded status column is excluded */
    tf_segment_sums seg; /* filled by tf_finish_orders, or merged */
    /* counted orders with as_of - window < order_date <= as_of: their ids, at most 4
     * bytes each (tf_idset), frozen once the items start */
    tf_idset window;
    /* passes (tf_passes_begin): customer ids from bounds[i] up belong to pass i + 1; the
     * customers and orders of passes 1.. wait in their spill files */
    int npasses;
    int64_t *bounds;
    FILE **pass_cust, **pass_ord;
    /* product passes (tf_product_passes_begin): product ids from pbounds[i] up belong to
     * pass i + 1, negative ones to the last; the products and the inventory rows of
     * passes 1.. wait in their spill files */
    int nppasses;
    int64_t *pbounds;
    FILE **pass_prod, **pass_inv;
    int64_t unknown_done; /* orders of unknown customers in the passes already finished */
    tf_map sold_ids;      /* product id -> units_sold slot */
    int64_t *sold;
    size_t sold_cap;
    /* tf_spill_bounds: past sold_max products in the map, the units sold go to a spill
     * file as a run sorted by id; spill_open makes each kind's file */
    size_t sold_max;
    FILE *(*spill_open)(void *ud, sl_err *err);
    void *spill_open_ud;
    tf_runs sold_runs;
    /* tf_spill_bounds: past window_max bytes the window's ids go to sorted runs, and the
     * items of orders in [window_lo, window_hi] (the ids' range, empty while there are
     * none) to runs sorted by order id, joined with them at the end (window_join) */
    size_t window_max, window_nruns;
    tf_runs window_runs, item_runs;
    uint64_t window_lo, window_hi;
    tf_item *items;
    size_t nitems, items_cap;
    uint64_t turnover_last; /* tf_turnover_add: the last product id, and how many came */
    size_t turnover_rows;
    /* inventory sequence */
    tf_map hand_ids; /* product id -> on_hand slot */
    int64_t *hand;
    size_t hand_cap;
    wh_agg *wh; /* parallel to warehouses */
    size_t wh_cap;
    /* data quality: the inventory sequence writes q's inventory fields; the orders
     * sequence counts orders per customer id (all rows, counted or not), which
     * tf_finish checks against the customers once every sequence has ended */
    tf_quality q;
    int64_t orders_null_customer;
};

static void runs_init(tf_runs *r, size_t rec, const char *what);
static void runs_free(tf_runs *r);
static sl_code window_spill_run(tf_state *st, sl_err *err);
static sl_code item_put(tf_state *st, uint64_t order_id, int64_t product_id, int64_t quantity, sl_err *err);
static sl_code window_join(tf_state *st, sl_err *err);

/* ---------------------------------------------------------------------------------- */
/* output schemas */

typedef struct out_col {
    const char *name;
    sl_type_id t;
    int nullable;
} out_col;

/* Each dataset's columns in one list: X(enum name, column name, type, nullable). The
 * list gives both the schema and the enum the writers address columns by, so a
 * column added or moved here cannot shift another column's values. Every dataset ends
 * with the three COMMON columns, which end_row fills. */
#define COMMON_COLS(P, X) X(P##_AS_OF, "as_of", SL_TIMESTAMP, 0) X(P##_RUN_ID, "run_id", SL_STRING, 0) \
    X(P##_SOURCE_TABLES, "source_tables", SL_STRING, 0)
#define INVENTORY_COLS(X) \
    X(IA_INVENTORY_ID, "inventory_id", SL_INT64, 1) X(IA_PRODUCT_ID, "product_id", SL_INT64, 1) \
    X(IA_WAREHOUSE_ID, "warehouse_id", SL_INT64, 1) X(IA_PRODUCT_NAME, "product_name", SL_STRING, 1) \
    X(IA_CATEGORY, "category", SL_STRING, 1) X(IA_WAREHOUSE_NAME, "warehouse_name", SL_STRING, 1) \
    X(IA_CITY, "city", SL_STRING, 1) X(IA_REGION, "region", SL_STRING, 1) X(IA_COUNTRY, "country", SL_STRING, 1) \
    X(IA_QUANTITY, "quantity", SL_INT64, 1) X(IA_CAPACITY, "capacity", SL_INT64, 1) \
    X(IA_LAST_UPDATED, "last_updated", SL_TIMESTAMP, 1) X(IA_UTILIZATION_RATIO, "utilization_ratio", SL_DOUBLE, 1) \
    X(IA_DAYS_SINCE_UPDATE, "days_since_update", SL_INT64, 1) X(IA_INVENTORY_SCORE, "inventory_score", SL_DOUBLE, 1) \
    X(IA_STOCK_STATUS, "stock_status", SL_STRING, 0) X(IA_OPTIMAL_QUANTITY, "optimal_quantity", SL_INT64, 1) \
    X(IA_REORDER_QUANTITY, "reorder_quantity", SL_INT64, 1) COMMON_COLS(IA, X)
#define ORDERS_COLS(X) \
    X(OA_CUSTOMER_ID, "customer_id", SL_INT64, 0) X(OA_FIRST_NAME, "first_name", SL_STRING, 1) \
    X(OA_LAST_NAME, "last_name", SL_STRING, 1) X(OA_EMAIL, "email", SL_STRING, 1) \
    X(OA_COUNTRY, "country", SL_STRING, 1) X(OA_TOTAL_ORDERS, "total_orders", SL_INT64, 0) \
    X(OA_TOTAL_SPENT, "total_spent", SL_DECIMAL, 0) X(OA_AVG_ORDER_VALUE, "avg_order_value", SL_DOUBLE, 0) \
    X(OA_FIRST_ORDER_DATE, "first_order_date", SL_TIMESTAMP, 0) \
    X(OA_LAST_ORDER_DATE, "last_order_date", SL_TIMESTAMP, 0) \
    X(OA_AVG_DAYS_BETWEEN, "avg_days_between_orders", SL_DOUBLE, 0) \
    X(OA_PEAK_ORDER_HOUR, "peak_order_hour", SL_INT32, 0) X(OA_FREQUENCY_SEGMENT, "frequency_segment", SL_STRING, 0) \
    X(OA_IS_VIP, "is_vip", SL_BOOL, 0) COMMON_COLS(OA, X)
#define HOURLY_COLS(X) \
    X(HO_HOUR, "hour", SL_INT32, 0) X(HO_ORDER_COUNT, "order_count", SL_INT64, 0) \
    X(HO_REVENUE, "revenue", SL_DECIMAL, 0) X(HO_SHARE_OF_ORDERS, "share_of_orders", SL_DOUBLE, 0) \
    COMMON_COLS(HO, X)
#define WAREHOUSE_COLS(X) \
    X(WU_WAREHOUSE_ID, "warehouse_id", SL_INT64, 0) X(WU_NAME, "name", SL_STRING, 1) X(WU_CITY, "city", SL_STRING, 1) \
    X(WU_REGION, "region", SL_STRING, 1) X(WU_COUNTRY, "country", SL_STRING, 1) \
    X(WU_TOTAL_QUANTITY, "total_quantity", SL_INT64, 0) X(WU_TOTAL_CAPACITY, "total_capacity", SL_INT64, 0) \
    X(WU_UTILIZATION_RATIO, "utilization_ratio", SL_DOUBLE, 1) X(WU_ITEM_COUNT, "item_count", SL_INT64, 0) \
    X(WU_RESTOCK_COUNT, "restock_count", SL_INT64, 0) X(WU_OVERSTOCK_COUNT, "overstock_count", SL_INT64, 0) \
    X(WU_AVG_INVENTORY_SCORE, "avg_inventory_score", SL_DOUBLE, 1) COMMON_COLS(WU, X)
#define TURNOVER_COLS(X) \
    X(PT_PRODUCT_ID, "product_id", SL_INT64, 0) X(PT_SKU, "sku", SL_STRING, 1) X(PT_NAME, "name", SL_STRING, 1) \
    X(PT_CATEGORY, "category", SL_STRING, 1) X(PT_UNITS_SOLD, "units_sold", SL_INT64, 0) \
    X(PT_ON_HAND, "on_hand", SL_INT64, 0) X(PT_TURNOVER_RATE, "turnover_rate", SL_DOUBLE, 1) \
    X(PT_DAYS_OF_SUPPLY, "days_of_supply", SL_DOUBLE, 1) X(PT_NEEDS_RESTOCK, "needs_restock", SL_BOOL, 0) \
    COMMON_COLS(PT, X)
#define SEGMENTS_COLS(X) \
    X(CS_FREQUENCY_SEGMENT, "frequency_segment", SL_STRING, 0) X(CS_CUSTOMER_COUNT, "customer_count", SL_INT64, 0) \
    X(CS_VIP_COUNT, "vip_count", SL_INT64, 0) X(CS_TOTAL_SPENT, "total_spent", SL_DECIMAL, 0) \
    X(CS_AVG_ORDER_VALUE, "avg_order_value", SL_DOUBLE, 0) COMMON_COLS(CS, X)

#define COL_ENUM(e, name, type, nullable) e,
#define COL_DEF(e, name, type, nullable) {name, type, nullable},
enum { INVENTORY_COLS(COL_ENUM) IA__N };
enum { ORDERS_COLS(COL_ENUM) OA__N };
enum { HOURLY_COLS(COL_ENUM) HO__N };
enum { WAREHOUSE_COLS(COL_ENUM) WU__N };
enum { TURNOVER_COLS(COL_ENUM) PT__N };
enum { SEGMENTS_COLS(COL_ENUM) CS__N };
static const out_col o_inventory[] = {INVENTORY_COLS(COL_DEF){NULL, 0, 0}};
static const out_col o_orders[] = {ORDERS_COLS(COL_DEF){NULL, 0, 0}};
static const out_col o_hourly[] = {HOURLY_COLS(COL_DEF){NULL, 0, 0}};
static const out_col o_warehouse[] = {WAREHOUSE_COLS(COL_DEF){NULL, 0, 0}};
static const out_col o_turnover[] = {TURNOVER_COLS(COL_DEF){NULL, 0, 0}};
static const out_col o_segments[] = {SEGMENTS_COLS(COL_DEF){NULL, 0, 0}};
static const out_col *const out_cols[TF__DATASETS] = {o_inventory, o_orders,   o_hourly,
                                                      o_warehouse, o_turnover, o_segments};
/* The first COMMON column of each dataset, where end_row starts. */
static const int common_at[TF__DATASETS] = {IA_AS_OF, OA_AS_OF, HO_AS_OF, WU_AS_OF, PT_AS_OF, CS_AS_OF};

static sl_schema *make_schema(const out_col *c, sl_err *err)
{
    int n = 0;
    while (c[n].name) n++;
    sl_schema *s = sl_schema_create(n, err);
    for (int i = 0; s && i < n; i++) {
        sl_type t = {c[i].t, 0, 0};
        if (t.id == SL_DECIMAL) t.precision = 18, t.scale = 2;
        if (sl_schema_set(s, i, c[i].name, t, c[i].nullable, NULL, err) != SL_OK) {
            sl_schema_free(s);
            return NULL;
        }
    }
    return s;
}

const sl_schema *tf_schema(const tf_state *st, tf_dataset d) { return st->schemas[d]; }

sl_batch *tf_batch_like(const tf_state *st, tf_dataset d, sl_err *err)
{
    return sl_batch_create(st->schemas[d], OUT_ROWS, (size_t)256 << 20, err);
}

/* The decimal v was written as: v == m / pow10 with the fewest decimals (at most 9). An
 * option typed as 0.7 is the double nearest 7/10, and 7 / 10.0 is that same double.
 * Returns 0 when there is no such decimal (the callers then work in doubles). */
static int dec_of(double v, int64_t *m, int64_t *pow10)
{
    double p = 1;
    for (int i = 0; i <= 9; i++, p *= 10) {
        double r = round(v * p);
        if (!(fabs(r) < 9e15)) return 0;
        if (r / p == v) {
            *m = (int64_t)r;
            *pow10 = (int64_t)p;
            return 1;
        }
    }
    return 0;
}
int64_t tf_rows(const tf_state *st, tf_dataset d) { return st->rows[d]; }

tf_state *tf_create(const tf_params *p, tf_emit_fn emit, void *ud, sl_err *err)
{
    tf_state *st = sl_calloc(1, sizeof *st);
    if (!st) {
        sl_err_set(err, SL_E_NOMEM, "out of memory for the analytics state");
        return NULL;
    }
    st->p = *p;
    st->opt_exact = dec_of(p->optimal, &st->opt_m, &st->opt_p);
    st->vip_exact = dec_of(p->vip_percentile, &st->vip_m, &st->vip_p);
    st->emit = emit;
    st->ud = ud;
    st->customers.k = 4;
    st->products.k = 3;
    st->warehouses.k = 4;
    dim *dims[] = {&st->customers, &st->products, &st->warehouses};
    for (int i = 0; i < 3; i++) {
        tf_map_init(&dims[i]->ids);
        sl_buf_init(&dims[i]->pool, 0);
    }
    tf_map_init(&st->cust_ids);
    tf_map_init(&st->wrap_ids);
    tf_map_init(&st->sold_ids);
    tf_map_init(&st->hand_ids);
    runs_init(&st->sold_runs, 2 * sizeof(uint64_t), "the units sold");
    runs_init(&st->window_runs, sizeof(uint64_t), "the window's order ids");
    runs_init(&st->item_runs, sizeof *st->items, "the items of the window's orders");
    st->window_lo = UINT64_MAX;
    st->exclude = sl_calloc((size_t)(p->nexclude > 0 ? p->nexclude : 1), sizeof *st->exclude);
    if (!st->exclude) goto nomem;
    for (int i = 0; i < p->nexclude; i++)
        if (!(st->exclude[i] = sl_strdup(p->exclude_status[i]))) goto nomem;
    st->p.exclude_status = (const char *const *)st->exclude;
    for (int d = 0; d < TF__DATASETS; d++) {
        st->schemas[d] = make_schema(out_cols[d], err);
        if (!st->schemas[d]) goto fail;
        st->out[d] = tf_batch_like(st, (tf_dataset)d, err);
        if (!st->out[d]) goto fail;
    }
    return st;
nomem:
    sl_err_set(err, SL_E_NOMEM, "out of memory for the analytics state");
fail:
    tf_free(st);
    return NULL;
}

static void dim_free(dim *d)
{
    tf_map_free(&d->ids);
    sl_free(d->id);
    sl_free(d->strs);
    sl_buf_free(&d->pool);
}

/* Closes pass i's two spill files (a[i], b[i]), if open; each is NULL after. */
static void pass_close(FILE **a, FILE **b, int i)
{
    if (a && a[i]) fclose(a[i]);
    if (b && b[i]) fclose(b[i]);
    if (a) a[i] = NULL;
    if (b) b[i] = NULL;
}

/* The n passes' bounds and spill files (passes_take's), closed and freed. */
static void passes_drop(int n, int64_t *bounds, FILE **a, FILE **b)
{
    for (int i = 0; i < n; i++) pass_close(a, b, i);
    sl_free(a);
    sl_free(b);
    sl_free(bounds);
}

void tf_free(tf_state *st)
{
    if (!st) return;
    for (int d = 0; d < TF__DATASETS; d++) {
        sl_batch_free(st->out[d]);
        sl_schema_free(st->schemas[d]);
    }
    for (int i = 0; st->exclude && i < st->p.nexclude; i++) sl_free(st->exclude[i]);
    sl_free(st->exclude);
    dim_free(&st->customers);
    dim_free(&st->products);
    dim_free(&st->warehouses);
    tf_map_free(&st->cust_ids);
    sl_free(st->cust_mem);
    tf_map_free(&st->wrap_ids);
    sl_free(st->wraps);
    sl_buf_free(&st->excl);
    tf_idset_free(&st->window);
    tf_map_free(&st->sold_ids);
    sl_free(st->sold);
    runs_free(&st->sold_runs);
    runs_free(&st->window_runs);
    runs_free(&st->item_runs);
    sl_free(st->items);
    tf_map_free(&st->hand_ids);
    sl_free(st->hand);
    sl_free(st->wh);
    passes_drop(st->npasses, st->bounds, st->pass_cust, st->pass_ord);
    passes_drop(st->nppasses, st->pbounds, st->pass_prod, st->pass_inv);
    sl_free(st);
}

/* ---------------------------------------------------------------------------------- */
/* reading input columns */

typedef struct in_cols {
    const sl_column *c[8];
} in_cols;

static int is_int(sl_type_id t) { return t >= SL_INT8 && t <= SL_UINT64; }
static int is_text(sl_type_id t) { return t == SL_STRING || t == SL_ENUM || t == SL_JSON || t == SL_BINARY; }

/* Finds the source's columns in the batch and checks their types once per batch. */
static sl_code bind(tf_source src, const sl_batch *b, in_cols *in, sl_err *err)
{
    const char *const *names = source_cols[src];
    for (int i = 0; names[i]; i++) {
        int k = sl_schema_find(b->schema, names[i]);
        if (k < 0)
            return sl_err_set(err, SL_E_SCHEMA, "source table %s has no column %s", source_names[src], names[i]);
        const sl_field *f = &b->schema->fields[k];
        int want_money = src == TF_ORDERS && strcmp(names[i], "total_amount") == 0;
        int want_ts = strcmp(names[i], "order_date") == 0 || strcmp(names[i], "last_updated") == 0;
        int want_int = strstr(names[i], "_id") != NULL || strcmp(names[i], "quantity") == 0 ||
                       strcmp(names[i], "capacity") == 0;
        int ok = want_money ? f->type.id == SL_DECIMAL && f->type.scale <= 2 && f->type.precision <= 18
                 : want_ts  ? f->type.id == SL_TIMESTAMP
                 : want_int ? is_int(f->type.id)
                            : is_text(f->type.id);
        if (!ok)
            return sl_err_set(err, SL_E_SCHEMA, "source column %s.%s is %s, which the analytics cannot use (%s)",
                              source_names[src], names[i], f->origin ? f->origin : sl_type_name(f->type.id),
                              want_money ? "a DECIMAL with at most 2 decimals and 18 digits"
                              : want_ts  ? "a DATETIME or TIMESTAMP"
                              : want_int ? "an integer"
                                         : "a string");
        in->c[i] = &b->cols[k];
    }
    return SL_OK;
}

static int is_null(const sl_column *c, size_t r) { return sl_col_is_null(c, r); }

/* An integer of any width; ids of BIGINT UNSIGNED above 2^63 are out of range. Inline in
 * the per-row loops (*v is set on every path, so that GCC sees it set after an error too). */
static inline __attribute__((always_inline)) sl_code get_int(const sl_column *c, size_t r, int64_t *v, tf_source src, sl_err *err)
{
    switch (c->field->type.id) {
    case SL_INT8: *v = SL_COL_VALUES(c, int8_t)[r]; return SL_OK;
    case SL_INT16: *v = SL_COL_VALUES(c, int16_t)[r]; return SL_OK;
    case SL_INT32: *v = SL_COL_VALUES(c, int32_t)[r]; return SL_OK;
    case SL_INT64: *v = SL_COL_VALUES(c, int64_t)[r]; return SL_OK;
    case SL_UINT8: *v = SL_COL_VALUES(c, uint8_t)[r]; return SL_OK;
    case SL_UINT16: *v = SL_COL_VALUES(c, uint16_t)[r]; return SL_OK;
    case SL_UINT32: *v = SL_COL_VALUES(c, uint32_t)[r]; return SL_OK;
    case SL_UINT64: {
        uint64_t u = SL_COL_VALUES(c, uint64_t)[r];
        *v = (int64_t)u;
        if (u > (uint64_t)INT64_MAX)
            return sl_err_set(err, SL_E_DATA, "%s.%s holds %llu, above the 2^63-1 the analytics handle",
                              source_names[src], c->field->name, (unsigned long long)u);
        return SL_OK;
    }
    default: *v = 0; return sl_err_set(err, SL_E_INTERNAL, "column %s is not an integer", c->field->name);
    }
}

static int64_t get_ts(const sl_column *c, size_t r) { return SL_COL_VALUES(c, int64_t)[r]; }

static int64_t get_cents(const sl_column *c, size_t r)
{
    int64_t v = SL_COL_VALUES(c, int64_t)[r];
    for (int s = c->field->type.scale; s < 2; s++) v *= 10; /* precision <= 18 and scale <= 2: fits */
    return v;
}

/* ---------------------------------------------------------------------------------- */
/* dimensions */

static sl_code dim_add_text(dim *d, uint64_t id, const tf_text *strs, const char *what, sl_err *err)
{
    uint32_t idx;
    int added;
    SL_TRY(tf_map_put(&d->ids, id, &idx, &added, err));
    if (!added) return sl_err_set(err, SL_E_DATA, "%s id %llu appears twice", what, (unsigned long long)id);
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 1024;
        uint64_t *ni = sl_realloc(d->id, nc * sizeof *ni);
        if (!ni) return sl_err_set(err, SL_E_NOMEM, "out of memory for %s", what);
        d->id = ni;
        str_ref *ns = sl_realloc(d->strs, nc * (size_t)d->k * sizeof *ns);
        if (!ns) return sl_err_set(err, SL_E_NOMEM, "out of memory for %s", what);
        d->strs = ns;
        d->cap = nc;
    }
    d->id[d->n] = id;
    for (int j = 0; j < d->k; j++) {
        str_ref *s = &d->strs[d->n * (size_t)d->k + (size_t)j];
        if (!strs[j].p) {
            s->off = 0;
            s->len = UINT32_MAX;
            continue;
        }
        if (d->pool.len + strs[j].n > UINT32_MAX || strs[j].n >= UINT32_MAX)
            return sl_err_set(err, SL_E_LIMIT, "%s: names over 4 GiB", what);
        s->off = (uint32_t)d->pool.len;
        s->len = (uint32_t)strs[j].n;
        SL_TRY(sl_buf_append(&d->pool, strs[j].p, strs[j].n, err));
    }
    d->n++;
    return SL_OK;
}

static sl_code dim_add(dim *d, uint64_t id, const sl_column *const *strs, size_t r, const char *what, sl_err *err)
{
    tf_text t[8];
    for (int j = 0; j < d->k; j++) {
        if (is_null(strs[j], r)) {
            t[j].p = NULL;
            t[j].n = 0;
            continue;
        }
        uint32_t len;
        t[j].p = (const char *)sl_col_bytes(strs[j], r, &len);
        t[j].n = len;
    }
    return dim_add_text(d, id, t, what, err);
}

/* The k strings of row `row` of d (NULL ones, and every one of row -1, with p NULL). */
static void dim_texts(const dim *d, int64_t row, tf_text *t)
{
    for (int j = 0; j < d->k; j++) {
        const str_ref *s = row < 0 ? NULL : &d->strs[(size_t)row * (size_t)d->k + (size_t)j];
        t[j].p = !s || s->len == UINT32_MAX ? NULL : (const char *)d->pool.data + s->off;
        t[j].n = t[j].p ? s->len : 0;
    }
}

/* ---------------------------------------------------------------------------------- */
/* passes (tf_passes_begin) */

/* The range of id among n ranges split at bounds[0..n-2] (ascending): the number of
 * bounds <= id. */
static int range_of(const int64_t *bounds, int n, int64_t id)
{
    int lo = 0, hi = n - 1;
    if (n <= 1 || id < bounds[0]) return 0;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (bounds[mid - 1] <= id) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* The pass of customer id: 0 without passes. */
static int pass_of(const tf_state *st, int64_t id) { return range_of(st->bounds, st->npasses, id); }

/* The pass of product id: 0 without product passes. Negative ids (and unsigned ones past
 * INT64_MAX) go to the last pass: products leave the task in unsigned id order
 * (tf_each_product), where they come after every other id. */
static int product_pass_of(const tf_state *st, int64_t id)
{
    if (st->nppasses <= 1) return 0;
    return id < 0 ? st->nppasses - 1 : range_of(st->pbounds, st->nppasses, id);
}

static sl_code spill_put(FILE *f, const void *p, size_t n, sl_err *err)
{
    if (n && fwrite_unlocked(p, 1, n, f) != n) return sl_err_set(err, SL_E_IO, "writing a spill file: %s", strerror(errno));
    return SL_OK;
}

static sl_code spill_get(FILE *f, void *p, size_t n, int *eof, sl_err *err)
{
    size_t got = n ? fread_unlocked(p, 1, n, f) : 0; /* the task's own file: no stdio lock */
    if (eof) *eof = got == 0 && n && feof(f);
    if (got == n || (eof && *eof)) return SL_OK;
    return sl_err_set(err, SL_E_IO, "reading a spill file: %s", ferror(f) ? strerror(errno) : "it ends inside a record");
}

/* A spill file written so far, to be read from its start. */
static sl_code spill_rewind(FILE *f, sl_err *err)
{
    if (fflush(f) != 0) return sl_err_set(err, SL_E_IO, "writing a spill file: %s", strerror(errno));
    rewind(f);
    return SL_OK;
}

/* A customer or product of a later pass: its id, the k names' lengths (UINT32_MAX:
 * NULL), their bytes. */
static sl_code spill_names(FILE *f, int64_t id, const sl_column *const *strs, int k, size_t r, sl_err *err)
{
    uint32_t lens[8];
    const uint8_t *bytes[8];
    for (int j = 0; j < k; j++) {
        bytes[j] = is_null(strs[j], r) ? NULL : sl_col_bytes(strs[j], r, &lens[j]);
        if (!bytes[j]) lens[j] = UINT32_MAX;
    }
    SL_TRY(spill_put(f, &id, sizeof id, err));
    SL_TRY(spill_put(f, lens, (size_t)k * sizeof *lens, err));
    for (int j = 0; j < k; j++)
        if (bytes[j]) SL_TRY(spill_put(f, bytes[j], lens[j], err));
    return SL_OK;
}

/* The k strings whose lengths are lens (UINT32_MAX: NULL), read from f into text
 * (reused from record to record) and pointed at by t. */
static sl_code spill_get_texts(FILE *f, const uint32_t *lens, int k, sl_buf *text, tf_text *t, sl_err *err)
{
    size_t n = 0, at = 0;
    for (int j = 0; j < k; j++) n += lens[j] == UINT32_MAX ? 0 : lens[j];
    text->len = 0;
    SL_TRY(sl_buf_reserve(text, n + 1, err));
    SL_TRY(spill_get(f, text->data, n, NULL, err));
    for (int j = 0; j < k; j++) {
        t[j].p = lens[j] == UINT32_MAX ? NULL : (const char *)text->data + at;
        t[j].n = t[j].p ? lens[j] : 0;
        at += t[j].n;
    }
    return SL_OK;
}

/* The names spill_names wrote to f, from its start, into the dimension d. */
static sl_code load_names(FILE *f, dim *d, const char *what, sl_err *err)
{
    sl_buf text;
    sl_code rc = SL_OK;
    SL_TRY(spill_rewind(f, err));
    sl_buf_init(&text, 0);
    for (;;) {
        int64_t id;
        uint32_t lens[8];
        int eof;
        tf_text t[8];
        SL_TRY_GOTO(rc, spill_get(f, &id, sizeof id, &eof, err), done);
        if (eof) break;
        SL_TRY_GOTO(rc, spill_get(f, lens, (size_t)d->k * sizeof *lens, NULL, err), done);
        SL_TRY_GOTO(rc, spill_get_texts(f, lens, d->k, &text, t, err), done);
        SL_TRY_GOTO(rc, dim_add_text(d, (uint64_t)id, t, what, err), done);
    }
done:
    sl_buf_free(&text);
    return rc;
}

/* An orders row of a later pass, as its customer's aggregate needs it. */
typedef struct ord_rec {
    int64_t customer_id, ts, cents;
    int64_t counted;
} ord_rec;

static sl_code add_dim(tf_state *st, tf_source src, dim *d, const sl_batch *b, sl_err *err)
{
    in_cols in;
    SL_TRY(bind(src, b, &in, err));
    for (size_t r = 0; r < b->nrows; r++) {
        int64_t id;
        if (is_null(in.c[0], r)) continue; /* a NULL id joins nothing */
        SL_TRY(get_int(in.c[0], r, &id, src, err));
        int p = src == TF_CUSTOMERS ? pass_of(st, id) : src == TF_PRODUCTS ? product_pass_of(st, id) : 0;
        if (p) SL_TRY(spill_names(src == TF_CUSTOMERS ? st->pass_cust[p] : st->pass_prod[p], id, in.c + 1, d->k, r, err));
        else SL_TRY(dim_add(d, (uint64_t)id, in.c + 1, r, source_names[src], err));
    }
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* output rows */

static sl_code flush_out(tf_state *st, tf_dataset d, sl_err *err)
{
    sl_batch *b = st->out[d];
    if (b->nrows == 0) return SL_OK;
    st->rows[d] += (int64_t)b->nrows; /* before: the callback may take the rows away */
    sl_code rc = st->emit(st->ud, d, b, err);
    sl_batch_reset(b);
    return rc;
}

static void put_i64(sl_batch *b, int c, int64_t v)
{
    sl_col_set_valid(&b->cols[c], b->nrows);
    SL_COL_VALUES(&b->cols[c], int64_t)[b->nrows] = v;
}
static void put_i32(sl_batch *b, int c, int32_t v)
{
    sl_col_set_valid(&b->cols[c], b->nrows);
    SL_COL_VALUES(&b->cols[c], int32_t)[b->nrows] = v;
}
static void put_f64(sl_batch *b, int c, double v)
{
    sl_col_set_valid(&b->cols[c], b->nrows);
    SL_COL_VALUES(&b->cols[c], double)[b->nrows] = v;
}
static void put_bool(sl_batch *b, int c, int v)
{
    sl_col_set_valid(&b->cols[c], b->nrows);
    SL_COL_VALUES(&b->cols[c], uint8_t)[b->nrows] = (uint8_t)(v != 0);
}
static void put_null(sl_batch *b, int c) { sl_col_set_null(&b->cols[c], b->nrows); }
static sl_code put_str(sl_batch *b, int c, const void *p, size_t n, sl_err *err)
{
    sl_col_set_valid(&b->cols[c], b->nrows);
    return sl_col_set_bytes(&b->cols[c], b->nrows, p, n, err);
}
static sl_code put_cstr(sl_batch *b, int c, const char *s, sl_err *err) { return put_str(b, c, s, strlen(s), err); }
/* A text the same in every row (the run id, the source tables): column c is coded, its
 * one entry added at the batch's first row, each row its code. */
static sl_code put_const(sl_batch *b, int c, const char *s, sl_err *err)
{
    sl_column *col = &b->cols[c];
    if (!col->codes) SL_TRY(sl_batch_code_column(b, c, err));
    if (col->ndict == 0) {
        uint32_t e;
        SL_TRY(sl_col_add_entry(col, s, strlen(s), &e, err));
    }
    col->codes[b->nrows] = 0;
    sl_col_set_valid(col, b->nrows);
    return SL_OK;
}
/* t[j] into column cols[j], j < k (NULL where t[j].p is). */
static sl_code put_texts(sl_batch *b, const int *cols, const tf_text *t, int k, sl_err *err)
{
    for (int j = 0; j < k; j++) {
        if (t[j].p) SL_TRY(put_str(b, cols[j], t[j].p, t[j].n, err));
        else put_null(b, cols[j]);
    }
    return SL_OK;
}
static sl_code put_ref(sl_batch *b, int c, const dim *d, int64_t row, int j, sl_err *err)
{
    if (row < 0) {
        put_null(b, c);
        return SL_OK;
    }
    const str_ref *s = &d->strs[(size_t)row * (size_t)d->k + (size_t)j];
    if (s->len == UINT32_MAX) {
        put_null(b, c);
        return SL_OK;
    }
    return put_str(b, c, d->pool.data + s->off, s->len, err);
}

/* as_of, run_id, source_tables, then the row is committed (and the batch emitted when full). */
static sl_code end_row(tf_state *st, tf_dataset d, sl_err *err)
{
    sl_batch *b = st->out[d];
    int c = common_at[d];
    put_i64(b, c, st->p.as_of_us);
    SL_TRY(put_const(b, c + 1, st->p.run_id, err));
    SL_TRY(put_const(b, c + 2, dataset_sources[d], err));
    sl_batch_commit_row(b);
    return sl_batch_full(b) ? flush_out(st, d, err) : SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* inventory */

/* utilization_ratio = quantity / capacity; NULL when either is NULL or capacity <= 0.
 * days_since_update = floor((as_of - last_updated) / 1 day), at least 0; NULL without
 * last_updated. inventory_score = clamp((1 - |ratio - optimal| * 2) * 100 - days * 2,
 * 0, 100); NULL when either input is NULL. */
typedef struct inv_row {
    int has_ratio, has_days;
    double ratio, score;
    int64_t days;
    const char *status;
} inv_row;

static void inv_compute(const tf_state *st, int qn, int64_t q, int cn, int64_t cap, int ln, int64_t lu, inv_row *o)
{
    o->has_ratio = !qn && !cn && cap > 0;
    o->ratio = o->has_ratio ? (double)q / (double)cap : 0;
    o->has_days = !ln;
    if (o->has_days) {
        int64_t diff = st->p.as_of_us - lu;
        int64_t days = sl_day_floor(diff, NULL);
        o->days = days < 0 ? 0 : days;
    }
    if (o->has_ratio && o->has_days) {
        double s = (1 - fabs(o->ratio - st->p.optimal) * 2) * 100 - (double)o->days * 2;
        o->score = s < 0 ? 0 : s > 100 ? 100 : s;
    }
    o->status = !o->has_ratio                          ? "unknown"
                : o->ratio < st->p.restock_below       ? "restock"
                : o->ratio > st->p.overstock_above     ? "overstock"
                                                       : "ok";
}

static sl_code grow_i64(int64_t **a, size_t *cap, size_t need, sl_err *err)
{
    if (need <= *cap) return SL_OK;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    int64_t *n = sl_realloc(*a, nc * sizeof *n);
    if (!n) return sl_err_set(err, SL_E_NOMEM, "out of memory for per-product sums");
    memset(n + *cap, 0, (nc - *cap) * sizeof *n);
    *a = n;
    *cap = nc;
    return SL_OK;
}

/* optimal_quantity = round(capacity * optimal), halves away from zero, computed on the
 * decimal the option was given as: in doubles 45 * 0.7 is 31.499999999999996, which
 * would round to 31 instead of 32. */
static int64_t optimal_quantity(const tf_state *st, int64_t cap)
{
    if (st->opt_exact) {
        __int128 n = (__int128)cap * st->opt_m, q = n / st->opt_p, r = n % st->opt_p;
        if (2 * (r < 0 ? -r : r) >= st->opt_p) q += n < 0 ? -1 : 1;
        if (q >= INT64_MIN && q <= INT64_MAX) return (int64_t)q;
    }
    return (int64_t)round((double)cap * st->p.optimal);
}

/* An inventory row as the analytics take it (and as a product pass spills it). */
typedef struct inv_rec {
    int64_t inv_id, pid, wid, q, cap, lu; /* 0 where NULL */
    uint8_t idn, pn, wn, qn, cn, ln;      /* NULL flags */
} inv_rec;

/* One inventory row: its inventory_analytics row, the warehouse sums, the product's units
 * on hand. The row's product, if known, is in st->products. */
static sl_code inventory_row(tf_state *st, const inv_rec *v, sl_err *err)
{
    sl_batch *o = st->out[TF_INVENTORY_ANALYTICS];
    int pn = v->pn, wn = v->wn, qn = v->qn, cn = v->cn, ln = v->ln;
    int64_t pid = v->pid, wid = v->wid, q = v->q, cap = v->cap, lu = v->lu;
    inv_row c = {0};
    inv_compute(st, qn, q, cn, cap, ln, lu, &c);
    int64_t prow = pn ? -1 : tf_map_get(&st->products.ids, (uint64_t)pid);
    int64_t wrow = wn ? -1 : tf_map_get(&st->warehouses.ids, (uint64_t)wid);
    st->q.capacity_null += cn;
    st->q.capacity_zero += !cn && cap <= 0;
    st->q.quantity_above_capacity += !qn && !cn && cap > 0 && q > cap;
    st->q.last_updated_future += !ln && lu > st->p.as_of_us;
    st->q.inventory_unknown_product += prow < 0;
    st->q.inventory_unknown_warehouse += wrow < 0;

    if (v->idn) put_null(o, IA_INVENTORY_ID); else put_i64(o, IA_INVENTORY_ID, v->inv_id);
    if (pn) put_null(o, IA_PRODUCT_ID); else put_i64(o, IA_PRODUCT_ID, pid);
    if (wn) put_null(o, IA_WAREHOUSE_ID); else put_i64(o, IA_WAREHOUSE_ID, wid);
    SL_TRY(put_ref(o, IA_PRODUCT_NAME, &st->products, prow, PROD_NAME, err));
    SL_TRY(put_ref(o, IA_CATEGORY, &st->products, prow, PROD_CATEGORY, err));
    SL_TRY(put_ref(o, IA_WAREHOUSE_NAME, &st->warehouses, wrow, WH_NAME, err));
    SL_TRY(put_ref(o, IA_CITY, &st->warehouses, wrow, WH_CITY, err));
    SL_TRY(put_ref(o, IA_REGION, &st->warehouses, wrow, WH_REGION, err));
    SL_TRY(put_ref(o, IA_COUNTRY, &st->warehouses, wrow, WH_COUNTRY, err));
    if (qn) put_null(o, IA_QUANTITY); else put_i64(o, IA_QUANTITY, q);
    if (cn) put_null(o, IA_CAPACITY); else put_i64(o, IA_CAPACITY, cap);
    if (ln) put_null(o, IA_LAST_UPDATED); else put_i64(o, IA_LAST_UPDATED, lu);
    if (c.has_ratio) put_f64(o, IA_UTILIZATION_RATIO, c.ratio); else put_null(o, IA_UTILIZATION_RATIO);
    if (c.has_days) put_i64(o, IA_DAYS_SINCE_UPDATE, c.days); else put_null(o, IA_DAYS_SINCE_UPDATE);
    if (c.has_ratio && c.has_days) put_f64(o, IA_INVENTORY_SCORE, c.score); else put_null(o, IA_INVENTORY_SCORE);
    SL_TRY(put_cstr(o, IA_STOCK_STATUS, c.status, err));
    if (c.has_ratio) {
        int64_t opt = optimal_quantity(st, cap);
        put_i64(o, IA_OPTIMAL_QUANTITY, opt);
        put_i64(o, IA_REORDER_QUANTITY, opt - q > 0 ? opt - q : 0);
    } else {
        put_null(o, IA_OPTIMAL_QUANTITY);
        put_null(o, IA_REORDER_QUANTITY);
    }
    SL_TRY(end_row(st, TF_INVENTORY_ANALYTICS, err));

    /* on_hand per product: non-NULL quantities over all warehouses */
    if (!pn && !qn) {
        uint32_t slot;
        SL_TRY(tf_map_put(&st->hand_ids, (uint64_t)pid, &slot, NULL, err));
        SL_TRY(grow_i64(&st->hand, &st->hand_cap, (size_t)slot + 1, err));
        st->hand[slot] += q;
    }
    /* warehouse sums: quantity and capacity where both are present and capacity > 0 */
    if (wrow >= 0) {
        wh_agg *a = &st->wh[wrow];
        a->items++;
        if (!qn && !cn && cap > 0) {
            a->qty += q;
            a->cap += cap;
        }
        a->restock += strcmp(c.status, "restock") == 0;
        a->overstock += strcmp(c.status, "overstock") == 0;
        if (c.has_ratio && c.has_days) {
            a->score_sum += c.score;
            a->nscore++;
        }
    }
    return SL_OK;
}

static sl_code add_inventory(tf_state *st, const sl_batch *b, sl_err *err)
{
    in_cols in;
    SL_TRY(bind(TF_INVENTORY, b, &in, err));
    if (st->wh_cap < st->warehouses.n) {
        wh_agg *n = sl_realloc(st->wh, st->warehouses.n * sizeof *n);
        if (!n) return sl_err_set(err, SL_E_NOMEM, "out of memory for warehouse sums");
        memset(n + st->wh_cap, 0, (st->warehouses.n - st->wh_cap) * sizeof *n);
        st->wh = n;
        st->wh_cap = st->warehouses.n;
    }
    for (size_t r = 0; r < b->nrows; r++) {
        inv_rec v;
        memset(&v, 0, sizeof v); /* padding too: a spilled record is written whole */
        v.idn = (uint8_t)is_null(in.c[0], r);
        v.pn = (uint8_t)is_null(in.c[1], r);
        v.wn = (uint8_t)is_null(in.c[2], r);
        v.qn = (uint8_t)is_null(in.c[3], r);
        v.cn = (uint8_t)is_null(in.c[4], r);
        v.ln = (uint8_t)is_null(in.c[5], r);
        if (!v.idn) SL_TRY(get_int(in.c[0], r, &v.inv_id, TF_INVENTORY, err));
        if (!v.pn) SL_TRY(get_int(in.c[1], r, &v.pid, TF_INVENTORY, err));
        if (!v.wn) SL_TRY(get_int(in.c[2], r, &v.wid, TF_INVENTORY, err));
        if (!v.qn) SL_TRY(get_int(in.c[3], r, &v.q, TF_INVENTORY, err));
        if (!v.cn) SL_TRY(get_int(in.c[4], r, &v.cap, TF_INVENTORY, err));
        if (!v.ln) v.lu = get_ts(in.c[5], r);
        int p = v.pn ? 0 : product_pass_of(st, v.pid); /* a NULL product joins nothing: now */
        if (p) SL_TRY(spill_put(st->pass_inv[p], &v, sizeof v, err));
        else SL_TRY(inventory_row(st, &v, err));
    }
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* orders */

static int excluded(const tf_state *st, const uint8_t *s, uint32_t n)
{
    for (int i = 0; i < st->p.nexclude; i++) {
        const char *e = st->p.exclude_status[i];
        if (n == 0 ? e[0] == '\0' : e[0] == (char)s[0] && strlen(e) == n && memcmp(e, s, n) == 0) return 1;
    }
    return 0;
}

static int64_t hour_of(int64_t ts)
{
    int64_t us_of_day;
    sl_day_floor(ts, &us_of_day);
    return us_of_day / US_PER_HOUR;
}

static sl_code money_add(int64_t *acc, int64_t v, const char *what, sl_err *err)
{
    int64_t s;
    if (__builtin_add_overflow(*acc, v, &s) || s > MONEY_MAX || s < -MONEY_MAX)
        return sl_err_set(err, SL_E_DATA, "%s overflows DECIMAL(18,2)", what);
    *acc = s;
    return SL_OK;
}

/* Room for nc aggregates, each on a cache line of its own (realloc keeps 16 bytes' alignment). */
static sl_code cust_resize(tf_state *st, size_t nc, sl_err *err)
{
    size_t off = st->cust ? (size_t)((char *)st->cust - st->cust_mem) : 0;
    char *m = sl_realloc(st->cust_mem, nc * sizeof(cust_agg) + 63);
    if (!m) return sl_err_set(err, SL_E_NOMEM, "out of memory for per-customer state");
    size_t at = (64 - ((uintptr_t)m & 63)) & 63;
    if (at != off && st->ncust) memmove(m + at, m + off, st->ncust * sizeof(cust_agg));
    st->cust_mem = m;
    st->cust = (cust_agg *)(m + at);
    st->cust_cap = nc;
    return SL_OK;
}

/* Room for the aggregates of the customers streamed in (empty state), n of them with some
 * slack: when their ids are dense, one for each id of their range, at id - lo (no larger
 * than n: a range at most half used stays with the map); else the map's room for n ids. */
static sl_code cust_reserve(tf_state *st, size_t n, sl_err *err)
{
    const tf_map *c = &st->customers.ids;
    if (c->dlen && !c->hn && c->dlen <= n) {
        SL_TRY(cust_resize(st, n, err));
        memset(st->cust, 0, c->dlen * sizeof *st->cust);
        for (size_t i = 0; i < c->dlen; i++) st->cust[i].customer_id = c->lo + i;
        st->ncust = st->crange_len = c->dlen;
        st->crange_lo = c->lo;
        return SL_OK;
    }
    if (c->dlen && !c->hn) SL_TRY(tf_map_reserve_range(&st->cust_ids, c->lo, c->dlen, err));
    else SL_TRY(tf_map_reserve(&st->cust_ids, n, err));
    return cust_resize(st, n, err);
}

/* Asks for customer id cid's aggregate (or its map probe) ahead of its use. */
static inline void cust_prefetch(const tf_state *st, int64_t cid)
{
    uint64_t k = (uint64_t)cid - st->crange_lo;
    if (k < st->crange_len) SL_PREFETCH(&st->cust[k]);
    else tf_map_prefetch(&st->cust_ids, (uint64_t)cid);
}

/* The aggregate of customer id cid, added (empty) when new. */
static sl_code cust_of(tf_state *st, int64_t cid, cust_agg **out, sl_err *err)
{
    uint32_t slot;
    int added;
    uint64_t k = (uint64_t)cid - st->crange_lo;
    if (k < st->crange_len) {
        *out = &st->cust[k];
        return SL_OK;
    }
    SL_TRY(tf_map_put(&st->cust_ids, (uint64_t)cid, &slot, &added, err));
    if (added) {
        if (st->ncust == st->cust_cap) SL_TRY(cust_resize(st, st->cust_cap ? st->cust_cap * 2 : 4096, err));
        cust_agg *a = &st->cust[st->ncust++];
        memset(a, 0, sizeof *a);
        a->customer_id = (uint64_t)cid;
    }
    *out = &st->cust[st->crange_len + slot];
    return SL_OK;
}

/* The hour h count of customer id wrapped past 255 once more. */
static sl_code hour_wrapped(tf_state *st, uint64_t id, int h, sl_err *err)
{
    uint32_t slot;
    int added;
    SL_TRY(tf_map_put(&st->wrap_ids, id, &slot, &added, err));
    if (slot >= st->wraps_cap) {
        size_t nc = st->wraps_cap ? st->wraps_cap * 2 : 16;
        uint32_t(*n)[24] = sl_realloc(st->wraps, nc * sizeof *n);
        if (!n) return sl_err_set(err, SL_E_NOMEM, "out of memory for per-customer hours");
        st->wraps = n;
        st->wraps_cap = nc;
    }
    if (added) memset(st->wraps[slot], 0, sizeof st->wraps[slot]);
    st->wraps[slot][h]++;
    return SL_OK;
}

/* Customer a's counted orders in hour h. */
static uint64_t hour_count(const tf_state *st, const cust_agg *a, int h)
{
    uint64_t n = a->hours[h];
    if (a->orders > UINT8_MAX) { /* only then can an hour have wrapped */
        int64_t slot = tf_map_get(&st->wrap_ids, a->customer_id);
        if (slot >= 0) n += (uint64_t)st->wraps[slot][h] << 8;
    }
    return n;
}

/* An orders row into its customer's aggregate (every row counts for the data quality). */
static sl_code cust_add_order(tf_state *st, cust_agg *a, int counted, int64_t ts, int64_t cents, sl_err *err)
{
    if (a->all_orders == UINT32_MAX)
        return sl_err_set(err, SL_E_DATA, "customer %llu has more than %u orders, past what the analytics count",
                          (unsigned long long)a->customer_id, UINT32_MAX);
    a->all_orders++;
    if (!counted) return SL_OK;
    if (a->orders++ == 0) {
        st->ncounted++;
        a->first = a->last = ts;
    }
    SL_TRY(money_add(&a->spent, cents, "a customer's total_spent", err));
    if (ts < a->first) a->first = ts;
    if (ts > a->last) a->last = ts;
    int h = (int)hour_of(ts);
    if (++a->hours[h] == 0) SL_TRY(hour_wrapped(st, a->customer_id, h, err));
    return SL_OK;
}

#define GROUP 32 /* rows whose map probes and aggregates are fetched ahead together */

static sl_code add_orders(tf_state *st, const sl_batch *b, sl_err *err)
{
    in_cols in;
    SL_TRY(bind(TF_ORDERS, b, &in, err));
    int64_t as_of = st->p.as_of_us, from = as_of - (int64_t)st->p.window_days * US_PER_DAY;
    if (!st->cust_cap && st->customers.n) {
        /* the customers came first (one sequence, or the task's first read): as many
         * ids in the map and aggregates, with no doubling on the way */
        SL_TRY(cust_reserve(st, st->customers.n + st->customers.n / 64 + 1, err));
    }
    const sl_column *cc = in.c[1], *sc = in.c[4];
    /* A coded status (an ENUM as the reader gives it): each text of the batch tested once. */
    const uint8_t *excl = NULL;
    if (sc->codes) {
        st->excl.len = 0;
        SL_TRY(sl_buf_reserve(&st->excl, (size_t)sc->ndict + 1, err));
        for (uint32_t e = 0; e < sc->ndict; e++) {
            uint32_t n;
            const uint8_t *s = sl_col_entry(sc, e, &n);
            st->excl.data[e] = (uint8_t)excluded(st, s, n);
        }
        excl = st->excl.data;
    }
    for (size_t g = 0; g < b->nrows; g += GROUP) {
        size_t end = g + GROUP < b->nrows ? g + GROUP : b->nrows;
        uint32_t slot[GROUP];
        /* The customers' aggregates sit at random places in memory: they (or their map
         * probes, then they) are prefetched for the group before any is used. */
        for (size_t r = g; r < end; r++) {
            int64_t cid;
            if (!is_null(cc, r) && get_int(cc, r, &cid, TF_ORDERS, NULL) == SL_OK) cust_prefetch(st, cid);
        }
        for (size_t r = g; r < end; r++) {
            int64_t cid;
            cust_agg *a = NULL;
            if (is_null(cc, r)) continue;
            SL_TRY(get_int(cc, r, &cid, TF_ORDERS, err));
            if (pass_of(st, cid)) {
                slot[r - g] = UINT32_MAX; /* a later pass's customer */
                continue;
            }
            SL_TRY(cust_of(st, cid, &a, err));
            slot[r - g] = (uint32_t)(a - st->cust);
            SL_PREFETCH(a); /* one line */
        }
        for (size_t r = g; r < end; r++) {
            /* Every orders row counts for the data quality (orders of unknown customers,
             * checked at finish, when the customers have streamed in). */
            if (is_null(cc, r)) {
                st->orders_null_customer++;
                continue;
            }
            /* Counted: order_date <= as_of and a status outside the excluded list. */
            int counted = !is_null(in.c[2], r) && !is_null(in.c[3], r);
            int64_t ts = counted ? get_ts(in.c[2], r) : 0, cents = 0;
            if (counted && ts > as_of) counted = 0;
            if (counted && !is_null(sc, r)) {
                if (excl) {
                    if (excl[sc->codes[r]]) counted = 0;
                } else {
                    uint32_t n;
                    const uint8_t *s = sl_col_bytes(sc, r, &n);
                    if (excluded(st, s, n)) counted = 0;
                }
            }
            if (counted) cents = get_cents(in.c[3], r);
            if (slot[r - g] == UINT32_MAX) {
                int64_t cid;
                SL_TRY(get_int(cc, r, &cid, TF_ORDERS, err));
                ord_rec rec = {cid, ts, cents, counted};
                SL_TRY(spill_put(st->pass_ord[pass_of(st, cid)], &rec, sizeof rec, err));
            } else {
                SL_TRY(cust_add_order(st, &st->cust[slot[r - g]], counted, ts, cents, err));
            }
            if (!counted) continue;
            int h = (int)hour_of(ts);
            st->hour_count[h]++;
            SL_TRY(money_add(&st->hour_revenue[h], cents, "an hour's revenue", err));
            if (ts > from) {
                int64_t oid;
                if (is_null(in.c[0], r)) continue;
                SL_TRY(get_int(in.c[0], r, &oid, TF_ORDERS, err));
                SL_TRY(tf_idset_add(&st->window, (uint64_t)oid, err));
                if ((uint64_t)oid < st->window_lo) st->window_lo = (uint64_t)oid;
                if ((uint64_t)oid > st->window_hi) st->window_hi = (uint64_t)oid;
                if (st->window_max && tf_idset_bytes(&st->window) > st->window_max)
                    SL_TRY(window_spill_run(st, err)); /* past its bound: a sorted run */
            }
        }
    }
    return SL_OK;
}

sl_code tf_items_of(const sl_batch *b, size_t first, size_t count, tf_item *out, size_t *n, sl_err *err)
{
    in_cols in;
    *n = 0;
    SL_TRY(bind(TF_ORDER_ITEMS, b, &in, err));
    size_t end = first + count < b->nrows ? first + count : b->nrows;
    for (size_t r = first; r < end; r++) {
        tf_item *it = &out[*n];
        int64_t oid;
        if (is_null(in.c[0], r) || is_null(in.c[1], r) || is_null(in.c[2], r)) continue;
        SL_TRY(get_int(in.c[0], r, &oid, TF_ORDER_ITEMS, err));
        SL_TRY(get_int(in.c[1], r, &it->product_id, TF_ORDER_ITEMS, err));
        SL_TRY(get_int(in.c[2], r, &it->quantity, TF_ORDER_ITEMS, err));
        it->order_id = (uint64_t)oid;
        (*n)++;
    }
    return SL_OK;
}

sl_code tf_add_items(tf_state *st, const tf_item *it, size_t n, sl_err *err)
{
    /* A window past its bound is in sorted runs (the ids still in memory join them): the
     * items of orders inside its id range go to runs sorted by order id, and window_join
     * matches the two at the end. */
    int spilled = st->window_runs.n > 0;
    if (spilled && st->window.nch) SL_TRY(window_spill_run(st, err));
    if (!spilled) tf_idset_freeze(&st->window);
    for (size_t i = 0; i < n; i++) {
        uint64_t oid = it[i].order_id;
        if (spilled ? oid < st->window_lo || oid > st->window_hi : !tf_idset_has(&st->window, oid)) continue;
        SL_TRY(spilled ? item_put(st, oid, it[i].product_id, it[i].quantity, err)
                       : tf_add_sold(st, it[i].product_id, it[i].quantity, err));
    }
    return SL_OK;
}

static sl_code add_order_items(tf_state *st, const sl_batch *b, sl_err *err)
{
    tf_item it[512];
    for (size_t r = 0; r < b->nrows; r += 512) {
        size_t n;
        SL_TRY(tf_items_of(b, r, 512, it, &n, err));
        SL_TRY(tf_add_items(st, it, n, err));
    }
    return SL_OK;
}

sl_code tf_add(tf_state *st, tf_source src, const sl_batch *b, sl_err *err)
{
    switch (src) {
    case TF_CUSTOMERS: return add_dim(st, src, &st->customers, b, err);
    case TF_PRODUCTS: return add_dim(st, src, &st->products, b, err);
    case TF_WAREHOUSES: return add_dim(st, src, &st->warehouses, b, err);
    case TF_INVENTORY: return add_inventory(st, b, err);
    case TF_ORDERS: return add_orders(st, b, err);
    case TF_ORDER_ITEMS: return add_order_items(st, b, err);
    default: return sl_err_set(err, SL_E_INTERNAL, "unknown source %d", (int)src);
    }
}

/* ---------------------------------------------------------------------------------- */
/* finish: the datasets computed from whole aggregates */

static const char *segment_of(int64_t n)
{
    return n == 1 ? "one-time" : n <= 4 ? "occasional" : n <= 9 ? "regular" : "frequent";
}
static int segment_index(int64_t n) { return n == 1 ? 0 : n <= 4 ? 1 : n <= 9 ? 2 : 3; }

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct ord_idx {
    uint64_t id;
    size_t row;
} ord_idx;
/* qsort's order of records that begin with a uint64_t id (ord_idx, sold_rec): by id,
 * unsigned. */
static int cmp_id_first(const void *a, const void *b)
{
    uint64_t x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    return x < y ? -1 : x > y;
}

/* The ids of map m with their rows (row0 + the map's index), in id order, into o (room
 * for every key); with `counted`, only the rows whose aggregate has a counted order. How
 * many. The walk of the map's direct part is in id order already: only keys in its hash
 * part need a sort. */
static size_t ids_in_order(const tf_map *m, const cust_agg *counted, size_t row0, ord_idx *o)
{
    size_t pos = 0, k = 0;
    uint64_t id;
    uint32_t row;
    while (tf_map_next(m, &pos, &id, &row))
        if (!counted || counted[row0 + row].orders) o[k++] = (ord_idx){id, row0 + row};
    if (m->hn) qsort(o, k, sizeof *o, cmp_id_first);
    return k;
}

/* Dimension rows in id order. */
static ord_idx *dim_order(const dim *d, sl_err *err)
{
    ord_idx *o = sl_malloc((d->n ? d->n : 1) * sizeof *o);
    if (!o) {
        sl_err_set(err, SL_E_NOMEM, "out of memory sorting ids");
        return NULL;
    }
    ids_in_order(&d->ids, NULL, 0, o);
    return o;
}

/* The customers' totals (cents) in the aggregates' order. */
static sl_code spends_of(const tf_state *st, int64_t **v, size_t *n, sl_err *err)
{
    *v = sl_malloc((st->ncounted ? st->ncounted : 1) * sizeof **v);
    if (!*v) return sl_err_set(err, SL_E_NOMEM, "out of memory for the VIP percentile");
    size_t k = 0;
    for (size_t i = 0; i < st->ncust; i++)
        if (st->cust[i].orders) (*v)[k++] = st->cust[i].spent;
    *n = k;
    return SL_OK;
}

sl_code tf_spends(const tf_state *st, int64_t **sorted, size_t *n, sl_err *err)
{
    SL_TRY(spends_of(st, sorted, n, err));
    qsort(*sorted, *n, sizeof **sorted, cmp_i64);
    return SL_OK;
}

size_t tf_vip_rank(const tf_state *st, size_t n)
{
    /* is_vip: total_spent >= the nearest-rank percentile, the value at rank
     * ceil(p / 100 * n) (1-based) of the ascending totals of all customers. */
    if (n == 0) return 0;
    if (st->vip_exact) {
        /* on the decimal P was given as: in doubles 1.1 * 3000 / 100 is 33.000000000000004 */
        __int128 den = (__int128)st->vip_p * 100, num = (__int128)st->vip_m * (__int128)n;
        __int128 rank = num > 0 ? (num + den - 1) / den : 0;
        return rank < 1 ? 1 : rank > (__int128)n ? n : (size_t)rank;
    }
    double rank = ceil(st->p.vip_percentile * (double)n / 100.0);
    return rank < 1 ? 1 : rank > (double)n ? n : (size_t)rank;
}

static void swap_i64(int64_t *a, int64_t *b)
{
    int64_t t = *a;
    *a = *b;
    *b = t;
}

int64_t tf_select_i64(int64_t *v, size_t n, size_t k)
{
    /* Quickselect with three-way partitions (runs of equal totals end in one step), the
     * pivot the median of three; a range that fails to shrink by a quarter too often is
     * sorted instead, so that no input costs more than a sort. */
    size_t lo = 0, hi = n, want = k - 1, bad = 0;
    while (hi - lo > 16) {
        size_t len = hi - lo;
        int64_t a = v[lo], b = v[lo + len / 2], c = v[hi - 1];
        int64_t p = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
        size_t lt = lo, i = lo, gt = hi; /* [lo,lt) < p, [lt,i) == p, [gt,hi) > p */
        while (i < gt) {
            if (v[i] < p) swap_i64(&v[lt++], &v[i++]);
            else if (v[i] > p) swap_i64(&v[i], &v[--gt]);
            else i++;
        }
        if (want < lt) hi = lt;
        else if (want >= gt) lo = gt;
        else return p;
        if (hi - lo > len / 4 * 3 && ++bad > 8) break;
    }
    qsort(v + lo, hi - lo, sizeof *v, cmp_i64);
    return v[want];
}

sl_code tf_own_vip_threshold(const tf_state *st, int64_t *threshold, sl_err *err)
{
    int64_t *v = NULL;
    size_t k = 0;
    SL_TRY(spends_of(st, &v, &k, err));
    *threshold = k ? tf_select_i64(v, k, tf_vip_rank(st, k)) : 0;
    sl_free(v);
    return SL_OK;
}

static void finish_quality(tf_state *st);

/* A customer's order_analytics row without its VIP flag: what a pass of a memory-bounded
 * run spills (tf_orders_spill) and the emission reads back. */
typedef struct cust_row {
    uint64_t customer_id;
    int64_t orders, spent, first, last;
    int32_t peak;
    uint32_t lens[4]; /* the names' lengths, UINT32_MAX: NULL; the bytes follow */
} cust_row;

static void cust_row_of(const tf_state *st, const cust_agg *a, cust_row *r)
{
    int peak = 0;
    uint64_t most = hour_count(st, a, 0);
    for (int h = 1; h < 24; h++) {
        uint64_t n = hour_count(st, a, h);
        if (n > most) { /* ties: the earliest hour */
            peak = h;
            most = n;
        }
    }
    memset(r, 0, sizeof *r);
    r->customer_id = a->customer_id;
    r->orders = a->orders;
    r->spent = a->spent;
    r->first = a->first;
    r->last = a->last;
    r->peak = peak;
}

/* The customer's four names (first, last, email, country) from the customers dim. */
static void names_of(const tf_state *st, uint64_t id, tf_text names[4])
{
    dim_texts(&st->customers, tf_map_get(&st->customers.ids, id), names);
}

static sl_code emit_customer(tf_state *st, const cust_row *c, const tf_text names[4], int64_t threshold, sl_err *err)
{
    static const int cols[4] = {OA_FIRST_NAME, OA_LAST_NAME, OA_EMAIL, OA_COUNTRY};
    tf_segment_sums *sg = &st->seg;
    sl_batch *o = st->out[TF_ORDER_ANALYTICS];
    put_i64(o, OA_CUSTOMER_ID, (int64_t)c->customer_id);
    SL_TRY(put_texts(o, cols, names, 4, err));
    put_i64(o, OA_TOTAL_ORDERS, c->orders);
    put_i64(o, OA_TOTAL_SPENT, c->spent);
    put_f64(o, OA_AVG_ORDER_VALUE, (double)c->spent / 100.0 / (double)c->orders);
    put_i64(o, OA_FIRST_ORDER_DATE, c->first);
    put_i64(o, OA_LAST_ORDER_DATE, c->last);
    /* (unix(last) - unix(first)) / (86400 * max(orders - 1, 1)) */
    put_f64(o, OA_AVG_DAYS_BETWEEN,
            ((double)(c->last - c->first) / 1e6) / (86400.0 * (double)(c->orders > 1 ? c->orders - 1 : 1)));
    put_i32(o, OA_PEAK_ORDER_HOUR, c->peak);
    SL_TRY(put_cstr(o, OA_FREQUENCY_SEGMENT, segment_of(c->orders), err));
    int vip = c->spent >= threshold;
    put_bool(o, OA_IS_VIP, vip);
    SL_TRY(end_row(st, TF_ORDER_ANALYTICS, err));
    int s = segment_index(c->orders);
    sg->customers[s]++;
    sg->vips[s] += vip;
    sg->orders[s] += c->orders;
    return money_add(&sg->spent[s], c->spent, "a segment's total_spent", err);
}

/* The customers with a counted order, in id order (an index: the aggregates stay put). */
static ord_idx *counted_in_order(tf_state *st, sl_err *err)
{
    finish_quality(st); /* the shard's customers are all here: its orders' are known or not */
    ord_idx *o = sl_malloc((st->ncounted ? st->ncounted : 1) * sizeof *o);
    if (!o) {
        sl_err_set(err, SL_E_NOMEM, "out of memory sorting %zu customers", st->ncounted);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < st->crange_len; i++) /* the dense range: in id order */
        if (st->cust[i].orders) o[k++] = (ord_idx){st->crange_lo + i, i};
    /* then the map's ids, after the range's rows: all of them without a range; beside one,
     * the ids outside it (orders of unknown customers), sorted in */
    size_t more = ids_in_order(&st->cust_ids, st->cust, st->crange_len, o + k);
    if (k && more) qsort(o, k + more, sizeof *o, cmp_id_first);
    return o;
}

/* fn on each customer with a counted order, in id order: its row and names. */
typedef sl_code (*counted_fn)(tf_state *st, cust_row *r, const tf_text names[4], void *ud, sl_err *err);

static sl_code each_counted(tf_state *st, counted_fn fn, void *ud, sl_err *err)
{
    ord_idx *o = counted_in_order(st, err);
    if (!o) return err ? err->code : SL_E_NOMEM;
    sl_code rc = SL_OK;
    for (size_t i = 0; rc == SL_OK && i < st->ncounted; i++) {
        cust_row r;
        tf_text names[4];
        if (i + 16 < st->ncounted) { /* the aggregates sit in the orders' order, not the ids' */
            const cust_agg *ahead = &st->cust[o[i + 16].row];
            SL_PREFETCH(ahead);
        }
        cust_row_of(st, &st->cust[o[i].row], &r);
        names_of(st, r.customer_id, names);
        rc = fn(st, &r, names, ud, err);
    }
    sl_free(o);
    return rc;
}

static sl_code emit_counted(tf_state *st, cust_row *r, const tf_text names[4], void *ud, sl_err *err)
{
    return emit_customer(st, r, names, *(const int64_t *)ud, err);
}

sl_code tf_finish_orders(tf_state *st, int64_t threshold, sl_err *err)
{
    SL_TRY(each_counted(st, emit_counted, &threshold, err));
    return flush_out(st, TF_ORDER_ANALYTICS, err);
}

typedef struct spill_to {
    FILE *rows, *spends;
} spill_to;

static sl_code spill_counted(tf_state *st, cust_row *r, const tf_text names[4], void *ud, sl_err *err)
{
    const spill_to *to = ud;
    (void)st;
    for (int j = 0; j < 4; j++) r->lens[j] = names[j].p ? (uint32_t)names[j].n : UINT32_MAX;
    SL_TRY(spill_put(to->rows, r, sizeof *r, err));
    for (int j = 0; j < 4; j++) SL_TRY(spill_put(to->rows, names[j].p, names[j].n, err));
    return spill_put(to->spends, &r->spent, sizeof r->spent, err);
}

sl_code tf_orders_spill(tf_state *st, FILE *rows, FILE *spends, sl_err *err)
{
    spill_to to = {rows, spends};
    return each_counted(st, spill_counted, &to, err);
}

sl_code tf_orders_emit_spilled(tf_state *st, FILE *rows, int64_t threshold, sl_err *err)
{
    sl_buf text;
    sl_buf_init(&text, 0);
    sl_code rc = SL_OK;
    for (;;) {
        cust_row r;
        int eof;
        tf_text names[4];
        SL_TRY_GOTO(rc, spill_get(rows, &r, sizeof r, &eof, err), done);
        if (eof) break;
        SL_TRY_GOTO(rc, spill_get_texts(rows, r.lens, 4, &text, names, err), done);
        SL_TRY_GOTO(rc, emit_customer(st, &r, names, threshold, err), done);
    }
    rc = flush_out(st, TF_ORDER_ANALYTICS, err);
done:
    sl_buf_free(&text);
    return rc;
}

/* The bounds and the two spill files of each pass but the first, into the state's
 * arrays (*to_bounds, *to_a, *to_b); the files are the state's from here on, even on
 * failure. */
static sl_code passes_take(int npasses, const int64_t *bounds, FILE **a, FILE **b, int64_t **to_bounds, FILE ***to_a,
                           FILE ***to_b, const char *what, sl_err *err)
{
    *to_bounds = sl_malloc((size_t)(npasses > 1 ? npasses - 1 : 1) * sizeof **to_bounds);
    *to_a = sl_calloc((size_t)npasses, sizeof **to_a);
    *to_b = sl_calloc((size_t)npasses, sizeof **to_b);
    if (!*to_bounds || !*to_a || !*to_b) {
        for (int i = 1; i < npasses; i++) {
            if (a[i]) fclose(a[i]);
            if (b[i]) fclose(b[i]);
        }
        return sl_err_set(err, SL_E_NOMEM, "out of memory for %d %s", npasses, what);
    }
    for (int i = 1; i < npasses; i++) {
        (*to_bounds)[i - 1] = bounds[i - 1];
        (*to_a)[i] = a[i];
        (*to_b)[i] = b[i];
    }
    return SL_OK;
}

sl_code tf_passes_begin(tf_state *st, const int64_t *bounds, int npasses, FILE **cust_files, FILE **ord_files,
                        sl_err *err)
{
    SL_TRY(passes_take(npasses, bounds, cust_files, ord_files, &st->bounds, &st->pass_cust, &st->pass_ord, "passes",
                       err));
    st->npasses = npasses;
    return SL_OK;
}

/* Empties a dimension for the rows of the next pass. */
static void dim_reset(dim *d)
{
    int k = d->k;
    dim_free(d);
    memset(d, 0, sizeof *d);
    d->k = k;
    tf_map_init(&d->ids);
    sl_buf_init(&d->pool, 0);
}

/* Empties the per-customer state of the pass just spilled. */
static void clear_customers(tf_state *st)
{
    dim_reset(&st->customers);
    tf_map_free(&st->cust_ids);
    sl_free(st->cust_mem);
    st->cust_mem = NULL;
    st->cust = NULL;
    st->ncust = st->cust_cap = st->ncounted = st->crange_len = 0;
    st->crange_lo = 0;
    tf_map_free(&st->wrap_ids);
    sl_free(st->wraps);
    st->wraps = NULL;
    st->wraps_cap = 0;
}

/* Pass p's customers and orders from their spill files into the (empty) state. */
static sl_code load_pass(tf_state *st, int p, sl_err *err)
{
    FILE *f;
    sl_code rc;
    SL_TRY_GOTO(rc, load_names(st->pass_cust[p], &st->customers, "customers", err), done);
    SL_TRY_GOTO(rc, cust_reserve(st, st->customers.n + st->customers.n / 64 + 1, err), done);
    f = st->pass_ord[p];
    SL_TRY_GOTO(rc, spill_rewind(f, err), done);
    for (;;) {
        ord_rec rec;
        int eof;
        cust_agg *a;
        SL_TRY_GOTO(rc, spill_get(f, &rec, sizeof rec, &eof, err), done);
        if (eof) break;
        SL_TRY_GOTO(rc, cust_of(st, rec.customer_id, &a, err), done);
        SL_TRY_GOTO(rc, cust_add_order(st, a, (int)rec.counted, rec.ts, rec.cents, err), done);
    }
done:
    pass_close(st->pass_cust, st->pass_ord, p);
    return rc;
}

sl_code tf_passes_finish(tf_state *st, FILE *rows, FILE *spends, sl_err *err)
{
    for (int p = 0; p < (st->npasses > 1 ? st->npasses : 1); p++) {
        if (p > 0) SL_TRY(load_pass(st, p, err));
        SL_TRY(tf_orders_spill(st, rows, spends, err));
        st->unknown_done = st->q.orders_unknown_customer - st->orders_null_customer;
        clear_customers(st);
    }
    if (fflush(rows) != 0 || fflush(spends) != 0)
        return sl_err_set(err, SL_E_IO, "writing a spill file: %s", strerror(errno));
    return SL_OK;
}

sl_code tf_merge_orders(tf_state *st, const tf_order_sums *p, sl_err *err)
{
    for (int h = 0; h < 24; h++) {
        if (__builtin_add_overflow(st->hour_count[h], p->hour_count[h], &st->hour_count[h]))
            return sl_err_set(err, SL_E_DATA, "an hour's order count overflows int64");
        SL_TRY(money_add(&st->hour_revenue[h], p->hour_revenue[h], "an hour's revenue", err));
    }
    for (int s = 0; s < 4; s++) {
        st->seg.customers[s] += p->seg.customers[s];
        st->seg.vips[s] += p->seg.vips[s];
        st->seg.orders[s] += p->seg.orders[s];
        SL_TRY(money_add(&st->seg.spent[s], p->seg.spent[s], "a segment's total_spent", err));
    }
    return SL_OK;
}

void tf_order_sums_get(const tf_state *st, tf_order_sums *p)
{
    memcpy(p->hour_count, st->hour_count, sizeof p->hour_count);
    memcpy(p->hour_revenue, st->hour_revenue, sizeof p->hour_revenue);
    p->seg = st->seg;
}

static sl_code finish_totals(tf_state *st, sl_err *err)
{
    static const char *const segs[4] = {"one-time", "occasional", "regular", "frequent"};
    const tf_segment_sums *sg = &st->seg;
    sl_batch *o = st->out[TF_CUSTOMER_SEGMENTS];
    for (int s = 0; s < 4; s++) {
        if (!sg->customers[s]) continue; /* one row per segment present */
        SL_TRY(put_cstr(o, CS_FREQUENCY_SEGMENT, segs[s], err));
        put_i64(o, CS_CUSTOMER_COUNT, sg->customers[s]);
        put_i64(o, CS_VIP_COUNT, sg->vips[s]);
        put_i64(o, CS_TOTAL_SPENT, sg->spent[s]);
        put_f64(o, CS_AVG_ORDER_VALUE, (double)sg->spent[s] / 100.0 / (double)sg->orders[s]);
        SL_TRY(end_row(st, TF_CUSTOMER_SEGMENTS, err));
    }
    SL_TRY(flush_out(st, TF_CUSTOMER_SEGMENTS, err));

    /* hourly_orders: all 24 hours; share_of_orders 0 when there are no orders. */
    int64_t total = 0;
    for (int h = 0; h < 24; h++) total += st->hour_count[h];
    o = st->out[TF_HOURLY_ORDERS];
    for (int h = 0; h < 24; h++) {
        put_i32(o, HO_HOUR, h);
        put_i64(o, HO_ORDER_COUNT, st->hour_count[h]);
        put_i64(o, HO_REVENUE, st->hour_revenue[h]);
        put_f64(o, HO_SHARE_OF_ORDERS, total ? (double)st->hour_count[h] / (double)total : 0.0);
        SL_TRY(end_row(st, TF_HOURLY_ORDERS, err));
    }
    return flush_out(st, TF_HOURLY_ORDERS, err);
}

static sl_code finish_warehouses(tf_state *st, sl_err *err)
{
    ord_idx *ord = dim_order(&st->warehouses, err);
    if (!ord) return err ? err->code : SL_E_NOMEM;
    sl_batch *o = st->out[TF_WAREHOUSE_UTILIZATION];
    sl_code rc = SL_OK;
    for (size_t i = 0; rc == SL_OK && i < st->warehouses.n; i++) {
        size_t w = ord[i].row;
        wh_agg a = {0};
        if (w < st->wh_cap) a = st->wh[w];
        static const int wcols[4] = {WU_NAME, WU_CITY, WU_REGION, WU_COUNTRY};
        static const int wsrc[4] = {WH_NAME, WH_CITY, WH_REGION, WH_COUNTRY};
        put_i64(o, WU_WAREHOUSE_ID, (int64_t)ord[i].id);
        for (int j = 0; j < 4 && rc == SL_OK; j++) rc = put_ref(o, wcols[j], &st->warehouses, (int64_t)w, wsrc[j], err);
        if (rc != SL_OK) break;
        put_i64(o, WU_TOTAL_QUANTITY, a.qty);
        put_i64(o, WU_TOTAL_CAPACITY, a.cap);
        if (a.cap) put_f64(o, WU_UTILIZATION_RATIO, (double)a.qty / (double)a.cap);
        else put_null(o, WU_UTILIZATION_RATIO);
        put_i64(o, WU_ITEM_COUNT, a.items);
        put_i64(o, WU_RESTOCK_COUNT, a.restock);
        put_i64(o, WU_OVERSTOCK_COUNT, a.overstock);
        if (a.nscore) put_f64(o, WU_AVG_INVENTORY_SCORE, a.score_sum / (double)a.nscore);
        else put_null(o, WU_AVG_INVENTORY_SCORE);
        rc = end_row(st, TF_WAREHOUSE_UTILIZATION, err);
    }
    sl_free(ord);
    SL_TRY(rc);
    return flush_out(st, TF_WAREHOUSE_UTILIZATION, err);
}

/* One product_turnover row: the product's names (strs: sku, name, category), units sold
 * and on hand. */
static sl_code turnover_row(tf_state *st, uint64_t pid, const tf_text *strs, int64_t hand, int64_t sold, sl_err *err)
{
    sl_batch *o = st->out[TF_PRODUCT_TURNOVER];
    double window = (double)st->p.window_days;
    static const int pcols[3] = {PT_SKU, PT_NAME, PT_CATEGORY};
    put_i64(o, PT_PRODUCT_ID, (int64_t)pid);
    SL_TRY(put_texts(o, pcols, strs, 3, err));
    put_i64(o, PT_UNITS_SOLD, sold);
    put_i64(o, PT_ON_HAND, hand);
    /* turnover_rate = units_sold / on_hand, NULL when on_hand <= 0;
     * days_of_supply = on_hand / (units_sold / window_days), NULL when units_sold = 0;
     * needs_restock = days_of_supply < 7 or (on_hand <= 0 and units_sold > 0).
     * The comparison with 7 is made on integers, on_hand * window < 7 * units_sold
     * (> for negative units): in doubles 9 / (9 / 7.0) is 6.999999999999999. */
    if (hand > 0) put_f64(o, PT_TURNOVER_RATE, (double)sold / (double)hand); else put_null(o, PT_TURNOVER_RATE);
    if (sold != 0) put_f64(o, PT_DAYS_OF_SUPPLY, (double)hand / ((double)sold / window));
    else put_null(o, PT_DAYS_OF_SUPPLY);
    __int128 hw = (__int128)hand * st->p.window_days, s7 = (__int128)sold * 7;
    int short_supply = sold > 0 ? hw < s7 : sold < 0 ? hw > s7 : 0;
    put_bool(o, PT_NEEDS_RESTOCK, short_supply || (hand <= 0 && sold > 0));
    return end_row(st, TF_PRODUCT_TURNOVER, err);
}

static sl_code turnover_of(void *ud, int64_t product_id, const tf_text *strs, int has_on_hand, int64_t on_hand,
                           sl_err *err)
{
    (void)has_on_hand;
    tf_state *st = ud;
    int64_t s = tf_map_get(&st->sold_ids, (uint64_t)product_id);
    return turnover_row(st, (uint64_t)product_id, strs, on_hand, s >= 0 ? st->sold[s] : 0, err);
}

static sl_code finish_products(tf_state *st, sl_err *err)
{
    SL_TRY(tf_each_product(st, turnover_of, st, err));
    return flush_out(st, TF_PRODUCT_TURNOVER, err);
}

void tf_quality_get(const tf_state *st, tf_quality *q) { *q = st->q; }

static void finish_quality(tf_state *st)
{
    int64_t n = st->orders_null_customer + st->unknown_done;
    for (size_t i = 0; i < st->ncust; i++)
        if (st->cust[i].all_orders && tf_map_get(&st->customers.ids, st->cust[i].customer_id) < 0)
            n += st->cust[i].all_orders;
    st->q.orders_unknown_customer = n;
}

sl_code tf_finish_inventory(tf_state *st, sl_err *err)
{
    SL_TRY(flush_out(st, TF_INVENTORY_ANALYTICS, err));
    return finish_warehouses(st, err);
}

sl_code tf_finish(tf_state *st, sl_err *err)
{
    int64_t threshold;
    SL_TRY(tf_own_vip_threshold(st, &threshold, err));
    SL_TRY(tf_finish_inventory(st, err));
    SL_TRY(tf_finish_orders(st, threshold, err));
    SL_TRY(finish_totals(st, err));
    return finish_products(st, err);
}

/* ---------------------------------------------------------------------------------- */
/* the parts of a run in tasks */

/* The units sold, as (id, units) records sorted by unsigned id (the order of the
 * products in product_turnover). */
typedef struct sold_rec {
    uint64_t id;
    int64_t units;
} sold_rec;

/* The map's units sold, sorted (*out: sl_free it); the map stays as it is. */
static sl_code sold_sorted(const tf_state *st, sold_rec **out, size_t *n, sl_err *err)
{
    sold_rec *v = sl_malloc((st->sold_ids.n ? st->sold_ids.n : 1) * sizeof *v);
    if (!v) return sl_err_set(err, SL_E_NOMEM, "out of memory sorting the units sold of %zu products", st->sold_ids.n);
    size_t pos = 0, k = 0;
    uint64_t id;
    uint32_t slot;
    while (tf_map_next(&st->sold_ids, &pos, &id, &slot)) v[k++] = (sold_rec){id, st->sold[slot]};
    qsort(v, k, sizeof *v, cmp_id_first);
    *out = v;
    *n = k;
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* sorted runs in spill files */

static void runs_init(tf_runs *r, size_t rec, const char *what)
{
    memset(r, 0, sizeof *r);
    r->rec = rec;
    r->what = what;
}

static void runs_free(tf_runs *r)
{
    if (r->f) fclose(r->f);
    sl_free(r->v);
    runs_init(r, r->rec, r->what);
}

/* Starts one more run at the end of the file (opened by st's spill_open at the first). */
static sl_code run_start(tf_state *st, tf_runs *r, sl_err *err)
{
    if (!r->f && !(r->f = st->spill_open(st->spill_open_ud, err))) return err->code;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        tf_run *v = sl_realloc(r->v, nc * sizeof *v);
        if (!v) return sl_err_set(err, SL_E_NOMEM, "out of memory for the runs of %s", r->what);
        r->v = v;
        r->cap = nc;
    }
    r->open_at = ftello(r->f); /* the end: the file is only appended to until the merge */
    r->open_n = 0;
    if (r->open_at < 0) return sl_err_set(err, SL_E_IO, "spilling %s: %s", r->what, strerror(errno));
    return SL_OK;
}

/* n records, in key order after those already in the run. */
static sl_code run_put(tf_runs *r, const void *recs, size_t n, sl_err *err)
{
    if (n && fwrite(recs, r->rec, n, r->f) != n) return sl_err_set(err, SL_E_IO, "spilling %s: %s", r->what, strerror(errno));
    r->open_n += n;
    return SL_OK;
}

static void run_end(tf_runs *r) { r->v[r->n++] = (tf_run){r->open_at, r->open_n}; }

/* A sorted array as one run. */
static sl_code run_write(tf_state *st, tf_runs *r, const void *recs, size_t n, sl_err *err)
{
    SL_TRY(run_start(st, r, err));
    SL_TRY(run_put(r, recs, n, err));
    run_end(r);
    return SL_OK;
}

/* The runs of r merged: a cursor a run (its records not yet read, a buffer of them) and a
 * binary heap of the cursors on their current key; merge_head is the smallest record. */
enum { CURSOR_BYTES = 4080 }; /* a multiple of 8, 16 and 24 */

typedef struct run_cursor {
    off_t at;
    size_t left, i, n;
    uint8_t buf[CURSOR_BYTES];
} run_cursor;

typedef struct runs_merge {
    tf_runs *r;
    run_cursor *cur;
    size_t *heap, h;
} runs_merge;

static uint64_t cursor_key(const runs_merge *m, size_t c)
{
    uint64_t k;
    memcpy(&k, m->cur[c].buf + m->cur[c].i * m->r->rec, sizeof k);
    return k;
}

/* The cursor's next record, reading on when the buffer is spent; *more = 0 at its end. */
static sl_code cursor_next(runs_merge *m, run_cursor *c, int *more, sl_err *err)
{
    *more = 1;
    if (++c->i < c->n) return SL_OK;
    *more = 0;
    if (c->left == 0) return SL_OK;
    size_t per = CURSOR_BYTES / m->r->rec, k = c->left < per ? c->left : per;
    ssize_t got = pread(fileno(m->r->f), c->buf, k * m->r->rec, c->at);
    if (got != (ssize_t)(k * m->r->rec))
        return sl_err_set(err, SL_E_IO, "reading %s back: %s", m->r->what, got < 0 ? strerror(errno) : "short read");
    c->at += (off_t)(k * m->r->rec);
    c->left -= k;
    c->i = 0;
    c->n = k;
    *more = 1;
    return SL_OK;
}

static void sift_down(runs_merge *m)
{
    for (size_t j = 0;;) {
        size_t l = 2 * j + 1, s = j;
        if (l < m->h && cursor_key(m, m->heap[l]) < cursor_key(m, m->heap[s])) s = l;
        if (l + 1 < m->h && cursor_key(m, m->heap[l + 1]) < cursor_key(m, m->heap[s])) s = l + 1;
        if (s == j) break;
        size_t t = m->heap[s];
        m->heap[s] = m->heap[j];
        m->heap[j] = t;
        j = s;
    }
}

static void merge_end(runs_merge *m)
{
    sl_free(m->cur);
    sl_free(m->heap);
    memset(m, 0, sizeof *m);
}

static sl_code merge_begin(runs_merge *m, tf_runs *r, sl_err *err)
{
    memset(m, 0, sizeof *m);
    m->r = r;
    if (!r->n) return SL_OK;
    if (fflush(r->f) != 0) return sl_err_set(err, SL_E_IO, "spilling %s: %s", r->what, strerror(errno));
    m->cur = sl_calloc(r->n, sizeof *m->cur);
    m->heap = sl_malloc(r->n * sizeof *m->heap);
    if (!m->cur || !m->heap) {
        merge_end(m);
        return sl_err_set(err, SL_E_NOMEM, "out of memory merging %zu runs of %s", r->n, r->what);
    }
    for (size_t k = 0; k < r->n; k++) {
        int more;
        m->cur[k] = (run_cursor){.at = r->v[k].at, .left = r->v[k].n, .i = (size_t)-1};
        sl_code rc = cursor_next(m, &m->cur[k], &more, err);
        if (rc != SL_OK) {
            merge_end(m);
            return rc;
        }
        if (!more) continue;
        size_t j = m->h++; /* sift up */
        m->heap[j] = k;
        while (j > 0 && cursor_key(m, m->heap[(j - 1) / 2]) > cursor_key(m, m->heap[j])) {
            size_t p = (j - 1) / 2, t = m->heap[p];
            m->heap[p] = m->heap[j];
            m->heap[j] = t;
            j = p;
        }
    }
    return SL_OK;
}

/* The smallest record not yet taken, or NULL at the end. */
static const void *merge_head(const runs_merge *m)
{
    if (!m->h) return NULL;
    const run_cursor *c = &m->cur[m->heap[0]];
    return c->buf + c->i * m->r->rec;
}

/* Takes the head. */
static sl_code merge_take(runs_merge *m, sl_err *err)
{
    int more;
    SL_TRY(cursor_next(m, &m->cur[m->heap[0]], &more, err));
    if (!more) m->heap[0] = m->heap[--m->h];
    sift_down(m);
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* the sales window past its bound */

static sl_code put_window_id(void *ud, uint64_t id, sl_err *err) { return run_put(ud, &id, 1, err); }

/* The window's ids in memory as one more sorted run; the set starts again empty. */
static sl_code window_spill_run(tf_state *st, sl_err *err)
{
    SL_TRY(run_start(st, &st->window_runs, err));
    SL_TRY(tf_idset_each(&st->window, put_window_id, &st->window_runs, err));
    run_end(&st->window_runs);
    st->window_nruns++;
    tf_idset_free(&st->window);
    return SL_OK;
}

/* The buffered items as one run sorted by order id. */
static sl_code items_spill_run(tf_state *st, sl_err *err)
{
    qsort(st->items, st->nitems, sizeof *st->items, cmp_id_first);
    SL_TRY(run_write(st, &st->item_runs, st->items, st->nitems, err));
    st->nitems = 0;
    return SL_OK;
}

static sl_code item_put(tf_state *st, uint64_t order_id, int64_t product_id, int64_t quantity, sl_err *err)
{
    if (!st->items) { /* as many as the window's bound holds */
        size_t n = st->window_max / sizeof *st->items;
        st->items_cap = n > 1024 ? n : 1024;
        if (!(st->items = sl_malloc(st->items_cap * sizeof *st->items)))
            return sl_err_set(err, SL_E_NOMEM, "out of memory for the items of the window's orders");
    }
    if (st->nitems == st->items_cap) SL_TRY(items_spill_run(st, err));
    st->items[st->nitems++] = (tf_item){order_id, product_id, quantity};
    return SL_OK;
}

/* The spilled window's items matched with its ids, both in order-id order: the units
 * of each item whose order is in the window are added to the units sold. Once. */
static sl_code window_join(tf_state *st, sl_err *err)
{
    if (!st->window_runs.n) return SL_OK;
    if (st->nitems) SL_TRY(items_spill_run(st, err));
    sl_free(st->items);
    st->items = NULL;
    runs_merge w, it;
    SL_TRY(merge_begin(&w, &st->window_runs, err));
    sl_code rc = merge_begin(&it, &st->item_runs, err);
    for (const void *p; rc == SL_OK && (p = merge_head(&it)) != NULL;) {
        tf_item x;
        memcpy(&x, p, sizeof x);
        const void *q;
        uint64_t id = 0;
        while (rc == SL_OK && (q = merge_head(&w)) != NULL && (memcpy(&id, q, sizeof id), id < x.order_id))
            rc = merge_take(&w, err);
        if (rc == SL_OK && q && id == x.order_id) rc = tf_add_sold(st, x.product_id, x.quantity, err);
        if (rc == SL_OK) rc = merge_take(&it, err);
    }
    merge_end(&it);
    merge_end(&w);
    runs_free(&st->window_runs); /* joined: the files go */
    runs_free(&st->item_runs);
    return rc;
}

size_t tf_window_runs(const tf_state *st) { return st->window_nruns; }

/* ---------------------------------------------------------------------------------- */
/* the units sold */

/* The map's units sold as one more sorted run at the end of the spill file; the map
 * starts again empty. */
static sl_code sold_spill_run(tf_state *st, sl_err *err)
{
    sold_rec *v;
    size_t n;
    SL_TRY(sold_sorted(st, &v, &n, err));
    sl_code rc = run_write(st, &st->sold_runs, v, n, err);
    sl_free(v);
    SL_TRY(rc);
    tf_map_free(&st->sold_ids);
    tf_map_init(&st->sold_ids);
    memset(st->sold, 0, st->sold_cap * sizeof *st->sold);
    return SL_OK;
}

size_t tf_sold_runs(const tf_state *st) { return st->sold_runs.n; }

void tf_spill_bounds(tf_state *st, size_t max_products, size_t window_bytes, FILE *(*open)(void *ud, sl_err *err),
                     void *ud)
{
    st->sold_max = max_products > 0 ? max_products : 1;
    st->window_max = window_bytes > 0 ? window_bytes : 1;
    st->spill_open = open;
    st->spill_open_ud = ud;
}

sl_code tf_add_sold(tf_state *st, int64_t product_id, int64_t units, sl_err *err)
{
    uint32_t slot;
    if (st->sold_max && st->sold_ids.n >= st->sold_max && tf_map_get(&st->sold_ids, (uint64_t)product_id) < 0)
        SL_TRY(sold_spill_run(st, err)); /* a new product past the bound */
    SL_TRY(tf_map_put(&st->sold_ids, (uint64_t)product_id, &slot, NULL, err));
    SL_TRY(grow_i64(&st->sold, &st->sold_cap, (size_t)slot + 1, err));
    if (__builtin_add_overflow(st->sold[slot], units, &st->sold[slot]))
        return sl_err_set(err, SL_E_DATA, "units sold of product %lld overflow int64", (long long)product_id);
    return SL_OK;
}

sl_code tf_each_sold(tf_state *st, sl_code (*fn)(void *ud, int64_t product_id, int64_t units, sl_err *err), void *ud,
                     sl_err *err)
{
    SL_TRY(window_join(st, err)); /* the units of a spilled window's items first */
    if (!st->sold_runs.n) { /* all in memory: sorted, then out */
        sold_rec *v;
        size_t n;
        SL_TRY(sold_sorted(st, &v, &n, err));
        sl_code rc = SL_OK;
        for (size_t i = 0; rc == SL_OK && i < n; i++) rc = fn(ud, (int64_t)v[i].id, v[i].units, err);
        sl_free(v);
        return rc;
    }
    /* the runs merged, the units of one id summed across runs */
    if (st->sold_ids.n) SL_TRY(sold_spill_run(st, err));
    runs_merge m;
    SL_TRY(merge_begin(&m, &st->sold_runs, err));
    sl_code rc = SL_OK;
    int have = 0;
    uint64_t id = 0;
    int64_t sum = 0;
    for (const void *p; rc == SL_OK && (p = merge_head(&m)) != NULL;) {
        sold_rec x;
        memcpy(&x, p, sizeof x);
        if (have && x.id == id) {
            if (__builtin_add_overflow(sum, x.units, &sum))
                rc = sl_err_set(err, SL_E_DATA, "units sold of product %lld overflow int64", (long long)id);
        } else {
            if (have) rc = fn(ud, (int64_t)id, sum, err);
            have = 1;
            id = x.id;
            sum = x.units;
        }
        if (rc == SL_OK) rc = merge_take(&m, err);
    }
    if (rc == SL_OK && have) rc = fn(ud, (int64_t)id, sum, err);
    merge_end(&m);
    return rc;
}

sl_code tf_product_passes_begin(tf_state *st, const int64_t *bounds, int npasses, FILE **prod_files,
                                FILE **inv_files, sl_err *err)
{
    SL_TRY(passes_take(npasses, bounds, prod_files, inv_files, &st->pbounds, &st->pass_prod, &st->pass_inv,
                       "product passes", err));
    st->nppasses = npasses;
    return SL_OK;
}

/* Empties the products and their units on hand of the pass just ended. */
static void clear_products(tf_state *st)
{
    dim_reset(&st->products);
    tf_map_free(&st->hand_ids);
    tf_map_init(&st->hand_ids);
    sl_free(st->hand);
    st->hand = NULL;
    st->hand_cap = 0;
}

/* Product pass p: its products from their spill file, then its inventory rows replayed
 * (inventory_analytics rows, warehouse sums, units on hand). */
static sl_code load_product_pass(tf_state *st, int p, sl_err *err)
{
    FILE *f = st->pass_inv[p];
    sl_code rc;
    SL_TRY_GOTO(rc, load_names(st->pass_prod[p], &st->products, "products", err), done);
    SL_TRY_GOTO(rc, spill_rewind(f, err), done);
    for (;;) {
        inv_rec v;
        int eof;
        SL_TRY_GOTO(rc, spill_get(f, &v, sizeof v, &eof, err), done);
        if (eof) break;
        SL_TRY_GOTO(rc, inventory_row(st, &v, err), done);
    }
done:
    pass_close(st->pass_prod, st->pass_inv, p);
    return rc;
}

/* The products in st->products, in ascending (unsigned) id order. */
static sl_code products_in_order(const tf_state *st,
                                 sl_code (*fn)(void *ud, int64_t product_id, const tf_text *strs, int has_on_hand,
                                               int64_t on_hand, sl_err *err),
                                 void *ud, sl_err *err)
{
    const dim *d = &st->products;
    ord_idx *ord = dim_order(d, err);
    if (!ord) return err ? err->code : SL_E_NOMEM;
    sl_code rc = SL_OK;
    for (size_t i = 0; rc == SL_OK && i < d->n; i++) {
        tf_text t[3];
        dim_texts(d, (int64_t)ord[i].row, t);
        int64_t h = tf_map_get(&st->hand_ids, ord[i].id);
        rc = fn(ud, (int64_t)ord[i].id, t, h >= 0, h >= 0 ? st->hand[h] : 0, err);
    }
    sl_free(ord);
    return rc;
}

sl_code tf_each_product(tf_state *st,
                        sl_code (*fn)(void *ud, int64_t product_id, const tf_text *strs, int has_on_hand,
                                      int64_t on_hand, sl_err *err),
                        void *ud, sl_err *err)
{
    for (int p = 0; p < (st->nppasses > 1 ? st->nppasses : 1); p++) {
        if (p > 0) {
            clear_products(st);
            SL_TRY(load_product_pass(st, p, err));
        }
        SL_TRY(products_in_order(st, fn, ud, err));
    }
    return SL_OK;
}

sl_code tf_turnover_add(tf_state *st, int64_t product_id, const tf_text *strs, int has_on_hand, int64_t on_hand,
                        int64_t units_sold, sl_err *err)
{
    (void)has_on_hand;
    if (st->turnover_rows && (uint64_t)product_id <= st->turnover_last)
        return sl_err_set(err, SL_E_FORMAT, "the products do not come in ascending id order (%lld after %llu)",
                          (long long)product_id, (unsigned long long)st->turnover_last);
    st->turnover_last = (uint64_t)product_id;
    st->turnover_rows++;
    return turnover_row(st, (uint64_t)product_id, strs, on_hand, units_sold, err);
}

sl_code tf_finish_merged(tf_state *st, sl_err *err)
{
    SL_TRY(finish_totals(st, err));
    return flush_out(st, TF_PRODUCT_TURNOVER, err);
}
