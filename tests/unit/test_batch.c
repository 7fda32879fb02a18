/* test_batch.c - schemas, batches, variable-width columns, caps. */
#include "../../src/batch/batch.h"
#include "test.h"

static void decimal_widths(void)
{
    /* Parquet's minimal FLBA length for precision p (parquet-format LogicalTypes.md). */
    static const int want[][2] = {{1, 1}, {2, 1}, {3, 2}, {4, 2}, {9, 4}, {10, 5}, {18, 8},
                                  {19, 9}, {38, 16}, {39, 17}, {65, 28}, {76, 32}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) CHECK_EQ_INT(sl_decimal_width(want[i][0]), want[i][1]);
}

static void fill_and_reset(void)
{
    sl_err e = {0};
    sl_schema *s = sl_schema_create(3, &e);
    sl_batch *b;
    uint32_t len;
    const uint8_t *p;
    CHECK(s);
    CHECK_EQ_INT(sl_schema_set(s, 0, "id", (sl_type){SL_UINT64, 0, 0}, 0, "bigint unsigned", &e), SL_OK);
    CHECK_EQ_INT(sl_schema_set(s, 1, "name", (sl_type){SL_STRING, 0, 0}, 1, NULL, &e), SL_OK);
    CHECK_EQ_INT(sl_schema_set(s, 2, "amount", (sl_type){SL_DECIMAL, 30, 2}, 1, NULL, &e), SL_OK);
    CHECK_EQ_INT(sl_schema_set(s, 2, "bad", (sl_type){SL_DECIMAL, 80, 2}, 1, NULL, &e), SL_E_UNSUPPORTED);
    CHECK_EQ_INT(sl_schema_find(s, "name"), 1);
    CHECK_EQ_INT(sl_schema_find(s, "nope"), -1);
    b = sl_batch_create(s, 4, 16, &e);
    CHECK(b);
    CHECK_EQ_INT(b->cols[2].elem_size, 13);
    CHECK(b->cols[0].valid == NULL);
    for (int r = 0; r < 3; r++) {
        SL_COL_VALUES(&b->cols[0], uint64_t)[r] = UINT64_MAX - (uint64_t)r;
        if (r == 1) sl_col_set_null(&b->cols[1], 1);
        else CHECK_EQ_INT(sl_col_set_bytes(&b->cols[1], (size_t)r, "héllo", 6, &e), SL_OK);
        sl_col_set_null(&b->cols[2], (size_t)r);
        sl_batch_commit_row(b);
    }
    CHECK_EQ_INT(b->nrows, 3);
    CHECK(sl_col_is_null(&b->cols[1], 1));
    p = sl_col_bytes(&b->cols[1], 2, &len);
    CHECK_EQ_INT(len, 6);
    CHECK(memcmp(p, "héllo", 6) == 0);
    p = sl_col_bytes(&b->cols[1], 1, &len);
    CHECK_EQ_INT(len, 0);
    CHECK_EQ_INT(b->cols[1].null_count, 1);
    /* The var arena is capped at 16 bytes: a third value does not fit. */
    CHECK_EQ_INT(sl_col_set_bytes(&b->cols[1], 3, "0123456789", 10, &e), SL_E_LIMIT);
    CHECK(strstr(e.msg, "column name") != NULL);
    sl_batch_reset(b);
    CHECK_EQ_INT(b->nrows, 0);
    CHECK_EQ_INT(b->cols[1].null_count, 0);
    CHECK_EQ_INT(b->cols[1].data.len, 0);
    sl_batch_free(b);
    sl_schema_free(s);
    sl_batch_free(NULL);
    sl_schema_free(NULL);
}

/* A coded column: rows hold entries of the batch's texts; NULL rows read as empty;
 * reset empties the texts; a fixed-width column cannot be coded. */
static void coded_column(void)
{
    sl_err e = {0};
    sl_schema *s = sl_schema_create(2, &e);
    uint32_t len, x, y;
    const uint8_t *p;
    CHECK(s);
    CHECK_EQ_INT(sl_schema_set(s, 0, "id", (sl_type){SL_INT32, 0, 0}, 0, NULL, &e), SL_OK);
    CHECK_EQ_INT(sl_schema_set(s, 1, "status", (sl_type){SL_ENUM, 0, 0}, 1, "enum", &e), SL_OK);
    sl_batch *b = sl_batch_create(s, 4, 0, &e);
    CHECK(b);
    CHECK_EQ_INT(sl_batch_code_column(b, 0, &e), SL_E_INTERNAL);
    CHECK_EQ_INT(sl_batch_code_column(b, 1, &e), SL_OK);
    sl_column *c = &b->cols[1];
    CHECK_EQ_INT(sl_col_add_entry(c, "paid", 4, &x, &e), SL_OK);
    CHECK_EQ_INT(sl_col_add_entry(c, "", 0, &y, &e), SL_OK);
    CHECK_EQ_INT(x, 0);
    CHECK_EQ_INT(y, 1);
    CHECK_EQ_INT(c->ndict, 2);
    c->codes[0] = y;
    c->valid[0] = 1;
    sl_col_set_null(c, 1);
    c->codes[2] = x;
    c->valid[2] = 1;
    b->nrows = 3;
    p = sl_col_bytes(c, 2, &len);
    CHECK(len == 4 && memcmp(p, "paid", 4) == 0);
    p = sl_col_bytes(c, 0, &len);
    CHECK_EQ_INT(len, 0);
    CHECK(sl_col_is_null(c, 1));
    CHECK_EQ_INT(c->codes[1], SL_NO_CODE);
    p = sl_col_bytes(c, 1, &len);
    CHECK_EQ_INT(len, 0);
    sl_batch_reset(b);
    CHECK_EQ_INT(c->ndict, 0);
    CHECK_EQ_INT(c->data.len, 0);
    CHECK_EQ_INT(sl_col_add_entry(c, "shipped", 7, &x, &e), SL_OK);
    CHECK_EQ_INT(x, 0);
    p = sl_col_entry(c, 0, &len);
    CHECK(len == 7 && memcmp(p, "shipped", 7) == 0);
    sl_batch_free(b);
    sl_schema_free(s);
}

T_SUITE(suite_batch) = {
    {"coded_column", coded_column},
    {"decimal_widths", decimal_widths},
    {"fill_and_reset", fill_and_reset},
    T_END,
};
