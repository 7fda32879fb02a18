/* seed.h - the deterministic sample-data generator behind `sluice seed`. Rows are
 * pure functions of (seed, scale, anchor, table, row id): no state is carried across
 * rows except a cursor, so the same inputs give byte-identical tables, and any range
 * can be regenerated on its own. Rows come out as LOAD DATA text (tab-separated,
 * '\N' for NULL) ready to stream to the server. */
#ifndef SL_SEED_H
#define SL_SEED_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_error.h"

typedef struct seed_params {
    double scale;      /* > 0; 0.001 allowed */
    uint64_t seed;     /* default 42 */
    int64_t anchor_us; /* orders lie in the two years before it (UTC microseconds) */
} seed_params;

typedef enum seed_table {
    SEED_WAREHOUSES = 0,
    SEED_PRODUCTS,
    SEED_CUSTOMERS,
    SEED_INVENTORY,
    SEED_ORDERS,
    SEED_ORDER_ITEMS,
    SEED__COUNT
} seed_table;

typedef struct seed_counts {
    uint64_t warehouses; /* max(20, 50 S) */
    uint64_t products;   /* max(50, 10,000 S) */
    uint64_t customers;  /* max(1, 100,000 S) */
    uint64_t orders;     /* 1,000,000 S */
} seed_counts;

const char *seed_table_name(seed_table t);
/* The column list of the table's LOAD DATA, in the order rows are written. */
const char *seed_table_columns(seed_table t);

void seed_counts_compute(const seed_params *p, seed_counts *c);

/* Streams one table's rows. For order_items and inventory the number of rows is not
 * known in advance (1-5 items per order, 3-7 warehouses per product); `units` and
 * `units_done` count orders and products there, rows otherwise. */
typedef struct seed_cursor {
    seed_params p;
    seed_counts c;
    seed_table table;
    uint64_t unit;      /* next order / product / row id (1-based) */
    uint64_t units;     /* last unit */
    uint64_t next_id;   /* next order_item_id / inventory_id */
    uint64_t rows;      /* rows written so far */
} seed_cursor;

void seed_cursor_init(seed_cursor *cur, const seed_params *p, seed_table t);
/* Writes whole rows into buf (at most cap bytes, cap >= SEED_MAX_ROW); returns bytes
 * written, 0 when the table is complete. */
#define SEED_MAX_ROW 2048
size_t seed_cursor_fill(seed_cursor *cur, char *buf, size_t cap);

/* 'YYYY-MM-DD 00:00:00' of the current UTC day: the default anchor. */
int64_t seed_default_anchor(void);

#endif
