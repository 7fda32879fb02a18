/* test_seed.c - the generator's rows: sizes, streaming in small buffers, and that a
 * different seed or anchor changes the rows while the same inputs repeat them. */
#include <stdlib.h>

#include "../../src/common/sl_time.h"
#include "../../src/seed/seed.h"
#include "test.h"

/* FNV-1a over a whole table, filled through a buffer of `cap` bytes. */
static uint64_t table_hash(const seed_params *p, seed_table t, size_t cap, uint64_t *rows, size_t *maxfill)
{
    seed_cursor cur;
    char *buf = malloc(cap);
    uint64_t h = 1469598103934665603ULL;
    size_t n;
    seed_cursor_init(&cur, p, t);
    *maxfill = 0;
    while ((n = seed_cursor_fill(&cur, buf, cap)) > 0) {
        if (n > *maxfill) *maxfill = n;
        for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)buf[i]) * 1099511628211ULL;
    }
    *rows = cur.rows;
    free(buf);
    return h;
}

static void counts(void)
{
    seed_params p = {0.001, 42, 0};
    seed_counts c;
    seed_counts_compute(&p, &c);
    CHECK_EQ_INT(c.customers, 100);
    CHECK_EQ_INT(c.products, 50);
    CHECK_EQ_INT(c.warehouses, 20);
    CHECK_EQ_INT(c.orders, 1000);
    p.scale = 2;
    seed_counts_compute(&p, &c);
    CHECK_EQ_INT(c.customers, 200000);
    CHECK_EQ_INT(c.products, 20000);
    CHECK_EQ_INT(c.warehouses, 100);
    CHECK_EQ_INT(c.orders, 2000000);
}

static void deterministic_and_buffer_independent(void)
{
    seed_params p = {0.002, 42, 0};
    p.anchor_us = sl_ts_make(2026, 6, 30, 0, 0, 0, 0);
    for (int t = 0; t < SEED__COUNT; t++) {
        uint64_t r1, r2, r3;
        size_t m1, m2, m3;
        uint64_t a = table_hash(&p, (seed_table)t, 1 << 20, &r1, &m1);
        uint64_t b = table_hash(&p, (seed_table)t, SEED_MAX_ROW, &r2, &m2);
        seed_params q = p;
        q.seed = 43;
        uint64_t c = table_hash(&q, (seed_table)t, 1 << 20, &r3, &m3);
        CHECK(a == b);
        CHECK_EQ_INT(r1, r2);
        CHECK(r1 > 0);
        CHECK(m1 <= (size_t)1 << 20);
        CHECK(m2 <= SEED_MAX_ROW);
        if (t != SEED_WAREHOUSES) CHECK(a != c); /* warehouses do not depend on the seed */
    }
}

static void rows_are_tab_separated_lines(void)
{
    seed_params p = {0.001, 1, 0};
    seed_cursor cur;
    char buf[SEED_MAX_ROW * 4];
    size_t n;
    int tabs = 0, lines = 0;
    p.anchor_us = sl_ts_make(2026, 1, 1, 0, 0, 0, 0);
    seed_cursor_init(&cur, &p, SEED_ORDERS);
    n = seed_cursor_fill(&cur, buf, sizeof buf);
    CHECK(n > 0 && buf[n - 1] == '\n');
    for (size_t i = 0; i < n; i++) {
        tabs += buf[i] == '\t';
        lines += buf[i] == '\n';
    }
    CHECK_EQ_INT(tabs, 4 * lines); /* five columns */
    CHECK_EQ_INT((uint64_t)lines, cur.rows);
}

T_SUITE(suite_seed) = {
    {"counts", counts},
    {"deterministic_and_buffer_independent", deterministic_and_buffer_independent},
    {"rows_are_tab_separated_lines", rows_are_tab_separated_lines},
    T_END,
};
